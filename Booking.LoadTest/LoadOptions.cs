using System.Globalization;

namespace Booking.LoadTest;

/// <summary>The command line of one run. Defaults are the reference scenario's (BENCHMARK.md).</summary>
public sealed record LoadOptions
{
    /// <summary>The modes in the order they run: the machine's ceiling, the "before" design, the product.</summary>
    public static readonly IReadOnlyList<string> AllModes = ["ceiling", "naive", "lua"];

    public int Users { get; init; } = 500;
    public TimeSpan RampUp { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Length of each measured phase (holds, then bookings) of each mode.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// Unmeasured load before each mode's measured phases, each of the mode's workloads for this long (holds, then
    /// bookings but for the ceiling), so the JIT has tiered up the hot paths of every service first; the warm-up is
    /// audited like the measured phases.
    /// </summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(20);

    public int Seats { get; init; } = 100_000;
    public int MinSeatsPerBooking { get; init; } = 1;
    public int MaxSeatsPerBooking { get; init; } = 4;
    public IReadOnlyList<string> Modes { get; init; } = ["ceiling", "naive", "lua"];
    public string Output { get; init; } = "artifacts/loadtest";

    /// <summary>Starts the system without the Aspire dashboard, so no service exports telemetry (its cost out of the numbers).</summary>
    public bool NoDashboard { get; init; }

    /// <summary>
    /// The services' <c>DOTNET_ENVIRONMENT</c>: Production, as deployed, by default. Development (F5) adds what a
    /// developer wants and production does not pay for, such as DI scope validation on every resolution.
    /// </summary>
    public string Environment { get; init; } = "Production";

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--users" => options with { Users = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--ramp-up" => options with { RampUp = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--warm-up" => options with { WarmUp = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)) },
                "--seats" => options with { Seats = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seats-per-booking" => ParseRange(options, Next()),
                "--modes" => options with { Modes = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--out" => options with { Output = Next() },
                "--no-dashboard" => options with { NoDashboard = true },
                "--environment" => options with { Environment = Next() },
                // A short smoke run: the whole pipeline and the audit, in well under a minute.
                "--quick" => options with { Users = 50, RampUp = TimeSpan.FromSeconds(2), Duration = TimeSpan.FromSeconds(8), WarmUp = TimeSpan.FromSeconds(3), Seats = 5_000 },
                "--help" or "-h" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"Unknown option {args[i]}.\n{Usage}"),
            };
        }

        if (options.Users < 1 || options.Seats < 100 || options.Seats % 100 != 0 || options.MinSeatsPerBooking < 1 || options.MaxSeatsPerBooking < options.MinSeatsPerBooking || options.MaxSeatsPerBooking > 8)
        {
            throw new ArgumentException("users >= 1, seats a multiple of 100 (whole rows of 100), and 1 <= seats per booking <= 8.");
        }

        if (options.Modes.Except(AllModes).Any())
        {
            throw new ArgumentException("--modes takes ceiling, naive and lua.");
        }

        return options;
    }

    public const string Usage = """
        Booking.LoadTest [options]
          --users N               virtual users (500)
          --ramp-up SECONDS       time to start them all (10)
          --warm-up SECONDS       unmeasured load of each workload before a mode's phases, 0 for none (20)
          --duration SECONDS      length of each phase: holds, then bookings (180)
          --seats N               seats per performance, in rows of 100 (100000)
          --seats-per-booking A-B seats each user picks (1-4)
          --modes LIST            ceiling,naive,lua (all)
          --out DIR               where result.json and result.md go (artifacts/loadtest)
          --no-dashboard          start the system without the dashboard (services export no telemetry)
          --environment NAME      the services' DOTNET_ENVIRONMENT (Production)
          --quick                 50 users, 3 s warm-up, 8 s phases, 5000 seats: a smoke run
        Ctrl-C (or SIGTERM) stops a run: no result is written, the system is stopped and its data deleted (exit 130,
        143); a second one exits at once.
        Booking.LoadTest profile TRACE.nettrace
          a service's CPU by component, from `dotnet-trace collect-linux -p PID --profile cpu-sampling`
        """;

    private static LoadOptions ParseRange(LoadOptions options, string value)
    {
        var parts = value.Split('-');
        var min = int.Parse(parts[0], CultureInfo.InvariantCulture);
        return options with { MinSeatsPerBooking = min, MaxSeatsPerBooking = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : min };
    }
}
