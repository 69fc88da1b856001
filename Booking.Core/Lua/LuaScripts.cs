using System.Reflection;
using System.Text;

namespace Booking.Core.Lua;

/// <summary>
/// Every script of the repository's <c>lua/</c> folder, read from this assembly's embedded resources.
/// A script's first line may be <c>--! uses: _common _seats</c>: those library files are prepended, in order.
/// </summary>
public sealed class LuaScripts
{
    private const string ResourcePrefix = "lua.";
    private const string UsesMarker = "--! uses:";

    public LuaScripts()
    {
        var assembly = typeof(LuaScripts).Assembly;
        var sources = assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal) && name.EndsWith(".lua", StringComparison.Ordinal))
            .ToDictionary(name => name[ResourcePrefix.Length..^".lua".Length], name => Read(assembly, name), StringComparer.Ordinal);

        var scripts = sources
            .Where(source => !source.Key.StartsWith('_'))
            .Select(source => new LuaScript(source.Key, Compose(source.Key, source.Value, sources)))
            .ToDictionary(script => script.Name, StringComparer.Ordinal);

        All = scripts.Values.OrderBy(script => script.Name, StringComparer.Ordinal).ToArray();

        HoldSeats = scripts["hold_seats"];
        ReleaseSeats = scripts["release_seats"];
        ConfirmSeats = scripts["confirm_seats"];
        UnbookSeats = scripts["unbook_seats"];
        SweepSeats = scripts["sweep_seats"];
        SeatMap = scripts["seat_map"];
        LoadSeats = scripts["load_seats"];
        PinHold = scripts["pin_hold"];
        UnpinHold = scripts["unpin_hold"];
        RepairSeats = scripts["repair_seats"];
        EvictIdle = scripts["evict_idle"];
        IdempotencyClaim = scripts["idempotency_claim"];
        IdempotencyUpdate = scripts["idempotency_update"];

        SetCapacity = scripts["set_capacity"];
        CapacityState = scripts["capacity_state"];
        HoldCapacity = scripts["hold_capacity"];
        ReleaseCapacity = scripts["release_capacity"];
        ConfirmCapacity = scripts["confirm_capacity"];
        UnbookCapacity = scripts["unbook_capacity"];
        SweepCapacity = scripts["sweep_capacity"];
        LoadCapacity = scripts["load_capacity"];
        RepairCapacity = scripts["repair_capacity"];
    }

    public IReadOnlyList<LuaScript> All { get; }

    public LuaScript HoldSeats { get; }
    public LuaScript ReleaseSeats { get; }
    public LuaScript ConfirmSeats { get; }
    public LuaScript UnbookSeats { get; }
    public LuaScript SweepSeats { get; }
    public LuaScript SeatMap { get; }
    public LuaScript LoadSeats { get; }

    /// <summary>Seat and capacity holds alike: pins a hold to its reservation, and undoes that.</summary>
    public LuaScript PinHold { get; }
    public LuaScript UnpinHold { get; }

    /// <summary>The reconciler's repair of a seat hold after Redis lost writes.</summary>
    public LuaScript RepairSeats { get; }

    /// <summary>The sweeper's drop of a resource's state (seats or a slot's counters) that has gone unused.</summary>
    public LuaScript EvictIdle { get; }

    /// <summary>The API's Idempotency-Key records: claim (bounded per caller); renew, complete or free a claim still held.</summary>
    public LuaScript IdempotencyClaim { get; }
    public LuaScript IdempotencyUpdate { get; }

    public LuaScript SetCapacity { get; }
    public LuaScript CapacityState { get; }
    public LuaScript HoldCapacity { get; }
    public LuaScript ReleaseCapacity { get; }
    public LuaScript ConfirmCapacity { get; }
    public LuaScript UnbookCapacity { get; }
    public LuaScript SweepCapacity { get; }
    public LuaScript LoadCapacity { get; }

    /// <summary>The reconciler's repair of a lost capacity confirm.</summary>
    public LuaScript RepairCapacity { get; }

    private static string Compose(string name, string source, Dictionary<string, string> sources)
    {
        var firstLine = source.AsSpan(0, Math.Max(0, source.IndexOf('\n', StringComparison.Ordinal)));
        if (!firstLine.StartsWith(UsesMarker, StringComparison.Ordinal))
        {
            return source;
        }

        var body = new StringBuilder();
        foreach (var library in firstLine[UsesMarker.Length..].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!sources.TryGetValue(library, out var text))
            {
                throw new InvalidOperationException($"Lua script '{name}' uses '{library}', which is not in lua/.");
            }

            body.Append(text).Append('\n');
        }

        return body.Append(source).ToString();
    }

    private static string Read(Assembly assembly, string resourceName)
    {
        using var stream = assembly.GetManifestResourceStream(resourceName)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
