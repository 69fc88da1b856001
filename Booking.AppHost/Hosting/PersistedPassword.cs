using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Publishing;

namespace Booking.AppHost.Hosting;

/// <summary>
/// The default of a generated secret parameter, kept in a file beside the data it protects: PostgreSQL is
/// initialised with its password once, so the password must outlive the AppHost process exactly as long as the
/// data directory does (deleting <c>.data/</c> forgets both). A value in configuration
/// (<c>Parameters:{name}</c>) still wins, as for any Aspire parameter.
/// </summary>
public sealed class PersistedPassword(string file) : ParameterDefault
{
    // Letters and digits only: the value goes into Redis and Npgsql connection strings unquoted.
    private static readonly GenerateParameterDefault Generator = new() { MinLength = 24, Special = false };
    private static readonly Lock Gate = new();

    public override string GetDefaultValue()
    {
        lock (Gate)
        {
            if (File.Exists(file))
            {
                return File.ReadAllText(file).Trim();
            }

            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var value = Generator.GetDefaultValue();
            File.WriteAllText(file, value);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            return value;
        }
    }

    public override void WriteToManifest(ManifestPublishingContext context) => Generator.WriteToManifest(context);
}
