namespace Booking.Tests.Infrastructure;

/// <summary>Where this solution's projects are, and their builds in the configuration the tests were built in.</summary>
public static class BuiltProjects
{
    /// <summary>The solution's directory.</summary>
    public static string Root { get; } = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));

    /// <summary>The built assembly of <paramref name="project"/> (run it with <c>dotnet &lt;path&gt;</c>).</summary>
    public static string Assembly(string project)
    {
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        return Path.Combine(Root, project, "bin", configuration, "net10.0", $"{project}.dll");
    }
}
