namespace Booking.Api.Idempotency;

/// <summary>
/// Which endpoints honour <c>Idempotency-Key</c>: the creating POSTs of API.md (holds, reservations, cancel,
/// details), each marked where it is mapped. Other POSTs, the read-only batch-gets, ignore the header: their answers
/// are not worth keeping, and could be large.
/// </summary>
public static class IdempotentEndpoint
{
    /// <summary>The endpoint metadata that marks one.</summary>
    public static readonly object Metadata = new Marker();

    public static TBuilder AcceptsIdempotencyKey<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(Metadata);

    public static bool AcceptsIdempotencyKey(this Endpoint? endpoint) => endpoint?.Metadata.GetMetadata<Marker>() is not null;

    public static bool AcceptsIdempotencyKey(this IList<object> endpointMetadata) => endpointMetadata.OfType<Marker>().Any();

    /// <summary>
    /// Marks this request's answer as one a retry with the same key runs again instead of replaying: a refusal that
    /// tells the caller to retry (the reservation kept changing while it was being cancelled).
    /// </summary>
    public static void RunAgainOnRetry(this HttpContext context) => context.Items[RunAgainItem] = true;

    public static bool RunsAgainOnRetry(this HttpContext context) => context.Items.ContainsKey(RunAgainItem);

    private static readonly object RunAgainItem = new();

    private sealed class Marker;
}
