using System.Text.Json;
using Booking.Core.Holds;

namespace Booking.Core.Data;

public enum ReservationStatus
{
    Pending,
    Confirmed,
    Failed,
    Cancelling,
    Cancelled,
}

public sealed class Reservation
{
    /// <summary>The statuses in which a reservation still has its seats or capacity: what a rebuilt Redis state must count.</summary>
    public static readonly IReadOnlyList<ReservationStatus> HoldingStatuses = [ReservationStatus.Pending, ReservationStatus.Confirmed, ReservationStatus.Cancelling];

    /// <summary>Length of the <c>failure_reason</c> column.</summary>
    public const int MaxFailureReasonLength = 1000;

    /// <summary>Length of the <c>failure_code</c> column.</summary>
    public const int MaxFailureCodeLength = 40;

    public Guid Id { get; set; }
    public required string UserId { get; set; }
    public BookingDomain Domain { get; set; }
    public required string ResourceId { get; set; }
    public string? Slot { get; set; }
    public List<string> SeatIds { get; set; } = [];
    public int Quantity { get; set; }

    /// <summary>The hold this reservation was made from; unique, so a hold turns into at most one reservation.</summary>
    public Guid HoldId { get; set; }

    public ReservationStatus Status { get; set; }

    /// <summary>Why a FAILED reservation failed, as a code (API.md: <c>HOLD_EXPIRED</c>, <c>SECTION_SOLD_OUT</c>, ...).</summary>
    public string? FailureCode { get; set; }

    /// <summary>The same, as text for people: the code, then what happened.</summary>
    public string? FailureReason { get; set; }
    public ContactInfo? Contact { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ConfirmedAt { get; set; }

    /// <summary>PostgreSQL's xmin: the API's cancel and the saga never overwrite each other's change.</summary>
    public uint Version { get; set; }

    public List<ReservationDetail> Details { get; set; } = [];
    public Saga? Saga { get; set; }

    public ResourceRef Resource => new(Domain, ResourceId, Slot);

    /// <summary>
    /// The caller asks to undo a PENDING or CONFIRMED reservation: it turns CANCELLING and its saga, loaded with it,
    /// is due at once to compensate.
    /// </summary>
    public void RequestCancel(DateTimeOffset now)
    {
        if (Status is not (ReservationStatus.Pending or ReservationStatus.Confirmed) || Saga is null)
        {
            throw new InvalidOperationException($"A {Status} reservation, or one without its saga loaded, cannot be cancelled.");
        }

        Status = ReservationStatus.Cancelling;
        UpdatedAt = now;
        Saga.CancelRequested = true;
        Saga.NextAttemptAt = now;
        Saga.UpdatedAt = now;
    }

    /// <summary>
    /// A PENDING reservation of <paramref name="hold"/>'s units with its details and a started saga, as the API
    /// accepts it: the saga's deadline and the moment the sweep steps in if the requested event is lost are set
    /// from <paramref name="options"/>, and the saga joins the trace of <paramref name="traceParent"/>.
    /// </summary>
    public static Reservation FromHold(HoldRecord hold, ContactInfo? contact, IEnumerable<(string Type, JsonElement Data)> details,
        DateTimeOffset now, BookingOptions options, string? traceParent)
    {
        ArgumentNullException.ThrowIfNull(hold);
        ArgumentNullException.ThrowIfNull(details);
        ArgumentNullException.ThrowIfNull(options);
        var id = Guid.CreateVersion7(now);
        return new Reservation
        {
            Id = id,
            UserId = hold.UserId,
            Domain = hold.Resource.Domain,
            ResourceId = hold.Resource.ResourceId,
            Slot = hold.Resource.Slot,
            SeatIds = [.. hold.SeatIds],
            Quantity = hold.Quantity,
            HoldId = hold.HoldId,
            Status = ReservationStatus.Pending,
            Contact = contact,
            CreatedAt = now,
            UpdatedAt = now,
            Details = [.. details.Select(d => ReservationDetail.Create(id, d.Type, d.Data, now))],
            Saga = new Saga
            {
                State = SagaState.Started,
                CreatedAt = now,
                UpdatedAt = now,
                NextAttemptAt = now + options.SagaResumeAfter,
                DeadlineAt = now + options.SagaTimeout,
                TraceParent = traceParent,
            },
        };
    }
}

public sealed class ContactInfo
{
    public const int MaxNameLength = 200;
    public const int MaxPhoneLength = 32;

    /// <summary>The longest address SMTP carries (RFC 5321).</summary>
    public const int MaxEmailLength = 254;

    public string? Name { get; set; }
    public string? Phone { get; set; }
    public string? Email { get; set; }
}
