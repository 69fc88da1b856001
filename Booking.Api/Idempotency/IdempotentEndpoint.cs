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

    private sealed class Marker;
}
