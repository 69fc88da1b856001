using System.Text.Json;
using Booking.Core.Data;
using Booking.Core.Holds;

namespace Booking.Core.Reservations;

/// <summary>A reservation as API.md shows it; also the <c>data</c> snapshot of its Kafka events.</summary>
public sealed record ReservationDto(
    Guid Id,
    string UserId,
    BookingDomain Domain,
    string ResourceId,
    string? Slot,
    IReadOnlyList<string> SeatIds,
    int Quantity,
    ReservationStatus Status,
    string? FailureCode,
    string? FailureReason,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ConfirmedAt,
    ContactDto? Contact,
    IReadOnlyList<DetailDto> Details,
    SagaDto? Saga)
{
    public static ReservationDto From(Reservation reservation) => new(
        reservation.Id,
        reservation.UserId,
        reservation.Domain,
        reservation.ResourceId,
        reservation.Slot,
        reservation.SeatIds,
        reservation.Quantity,
        reservation.Status,
        reservation.FailureCode,
        reservation.FailureReason,
        reservation.CreatedAt,
        reservation.UpdatedAt,
        reservation.ConfirmedAt,
        reservation.Contact is { } contact ? new ContactDto(contact.Name, contact.Phone, contact.Email) : null,
        reservation.Details.OrderBy(d => d.CreatedAt).ThenBy(d => d.Id).Select(DetailDto.From).ToList(),
        reservation.Saga is { } saga ? SagaDto.From(saga) : null);
}

public sealed record ContactDto(string? Name, string? Phone, string? Email);

public sealed record DetailDto(Guid Id, Guid ReservationId, string Type, JsonElement Data, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static DetailDto From(ReservationDetail detail) =>
        new(detail.Id, detail.ReservationId, detail.Type, detail.Data.RootElement.Clone(), detail.CreatedAt, detail.UpdatedAt);
}

public sealed record SagaDto(SagaState State, IReadOnlyList<SagaStepDto> Steps)
{
    public static SagaDto From(Saga saga) => new(
        saga.State,
        // Steps not saved yet (id 0, as in the snapshot a finishing saga puts in its event) come after the saved ones, in the order they were added.
        saga.Steps.OrderBy(s => s.Id == 0).ThenBy(s => s.Id).Select(s => new SagaStepDto(s.Name, s.Status, s.StartedAt, s.FinishedAt, s.Error)).ToList());
}

public sealed record SagaStepDto(string Name, SagaStepStatus Status, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Error);
