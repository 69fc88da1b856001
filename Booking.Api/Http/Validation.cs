namespace Booking.Api.Http;

/// <summary>Collects field errors in the <c>errors: {field: [messages]}</c> shape of a validation problem.</summary>
public sealed class Validation
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsValid => _errors.Count == 0;

    public Validation Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages))
        {
            _errors[field] = messages = [];
        }

        messages.Add(message);
        return this;
    }

    public Validation Check(bool condition, string field, string message) => condition ? this : Add(field, message);

    public IDictionary<string, string[]> Errors =>
        _errors.ToDictionary(entry => entry.Key, entry => entry.Value.ToArray(), StringComparer.Ordinal);
}
