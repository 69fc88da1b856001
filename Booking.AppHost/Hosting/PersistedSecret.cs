using System.Security.Cryptography;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Publishing;

namespace Booking.AppHost.Hosting;

/// <summary>
/// The default of a generated secret parameter, kept in a file beside the data it protects: PostgreSQL is
/// initialised with its password once, so the password must outlive the AppHost process exactly as long as the
/// data directory does (deleting <c>.data/</c> forgets both). A value in configuration
/// (<c>Parameters:{name}</c>) still wins, as for any Aspire parameter.
/// </summary>
public sealed class PersistedSecret : ParameterDefault
{
    /// <summary>The folder of the data directory that holds the generated secrets.</summary>
    public const string FolderName = "secrets";

    // Letters and digits only: the value goes into Redis and Npgsql connection strings unquoted.
    private static readonly GenerateParameterDefault PasswordGenerator = new() { MinLength = 24, Special = false };
    private static readonly Lock Gate = new();
    private readonly string _file;
    private readonly Func<string> _generate;

    private PersistedSecret(string file, Func<string> generate)
    {
        _file = file;
        _generate = generate;
    }

    /// <summary>A generated password, kept as <c>secrets/{name}</c> under <paramref name="dataDirectory"/>.</summary>
    public static PersistedSecret Password(string dataDirectory, string name) => new(Path.Combine(dataDirectory, FolderName, name), PasswordGenerator.GetDefaultValue);

    /// <summary>256 random bits, base64: the key the services sign and check their JWTs with, kept as <c>secrets/{name}</c>.</summary>
    public static PersistedSecret SigningKey(string dataDirectory, string name) =>
        new(Path.Combine(dataDirectory, FolderName, name), () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    public override string GetDefaultValue()
    {
        lock (Gate)
        {
            if (File.Exists(_file))
            {
                return File.ReadAllText(_file).Trim();
            }

            Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
            var value = _generate();
            PrivateFile.WriteAllText(_file, value);

            return value;
        }
    }

    public override void WriteToManifest(ManifestPublishingContext context) => PasswordGenerator.WriteToManifest(context);
}
