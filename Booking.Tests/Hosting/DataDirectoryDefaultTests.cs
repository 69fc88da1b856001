using System.Runtime.Versioning;
using Booking.AppHost.Hosting;
using Microsoft.Extensions.Configuration;

namespace Booking.Tests.Hosting;

/// <summary>
/// Where the AppHost keeps its data unless told: <c>.data/</c> in the checkout, unless it runs as root from a checkout
/// the <c>postgres</c> user cannot enter, where PostgreSQL could not start.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class DataDirectoryDefaultTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly TestDirectory _directory = new("data-default");

    [Fact]
    public void A_checkout_everyone_may_enter_keeps_its_data_in_dot_data_as_root_or_not()
    {
        var appHost = Checkout(OwnerOnly | UnixFileMode.OtherExecute);

        Assert.Equal(Path.Combine(_directory.Path, "checkout", ".data"), AppHostSettings.DefaultDataDirectory(appHost, asRoot: true));
        Assert.Equal(Path.Combine(_directory.Path, "checkout", ".data"), AppHostSettings.DefaultDataDirectory(appHost, asRoot: false));
    }

    [Fact]
    public void As_root_a_checkout_only_its_owner_may_enter_keeps_its_data_under_var_lib_one_directory_per_checkout()
    {
        var appHost = Checkout(OwnerOnly);

        var data = AppHostSettings.DefaultDataDirectory(appHost, asRoot: true);

        Assert.Matches("^/var/lib/booking/[0-9a-f]{12}$", data);
        Assert.Equal(data, AppHostSettings.DefaultDataDirectory(Path.Combine(appHost, "..", "Booking.AppHost"), asRoot: true));
        Assert.NotEqual(data, AppHostSettings.DefaultDataDirectory(Checkout(OwnerOnly, "other"), asRoot: true));
        // Not as root, PostgreSQL runs as the one who may enter it.
        Assert.Equal(Path.Combine(_directory.Path, "checkout", ".data"), AppHostSettings.DefaultDataDirectory(appHost, asRoot: false));
    }

    [Fact]
    public void As_root_a_dot_data_that_already_holds_secrets_stays_in_use()
    {
        var appHost = Checkout(OwnerOnly);
        Directory.CreateDirectory(Path.Combine(_directory.Path, "checkout", ".data", PersistedSecret.FolderName));

        Assert.Equal(Path.Combine(_directory.Path, "checkout", ".data"), AppHostSettings.DefaultDataDirectory(appHost, asRoot: true));
    }

    [Fact]
    public void A_directory_set_in_configuration_is_used_as_given()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("AppHost:DataDirectory", Path.Combine(_directory.Path, "mine"))]).Build();

        Assert.Equal(Path.Combine(_directory.Path, "mine"), AppHostSettings.From(configuration, Checkout(OwnerOnly)).DataDirectory);
    }

    public void Dispose() => _directory.Dispose();

    /// <summary>A checkout's AppHost directory, the checkout's own directory made with <paramref name="mode"/>.</summary>
    private string Checkout(UnixFileMode mode, string name = "checkout")
    {
        var checkout = Path.Combine(_directory.Path, name);
        Directory.CreateDirectory(Path.Combine(checkout, "Booking.AppHost"));
        // The test's own directory as any user may enter, whatever the umask: only the checkout's mode is under test.
        File.SetUnixFileMode(_directory.Path, OwnerOnly | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(checkout, mode);
        return Path.Combine(checkout, "Booking.AppHost");
    }
}
