using Booking.Core.Holds;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Booking.Core.Data;

namespace Booking.SagaWorker.Saga;

/// <summary><c>Booking.Saga</c> spans (one per saga run, one child per step and compensation) and the saga metrics.</summary>
public sealed class SagaTelemetry(IMeterFactory meterFactory)
{
    public static readonly ActivitySource Source = new(BookingTelemetry.SagaSourceName);

    private readonly Meter _meter = meterFactory.Create(BookingTelemetry.MeterName);

    public Counter<long> Steps => field ??= _meter.CreateCounter<long>("booking.saga.steps", description: "Saga steps and compensations run, by step and outcome.");

    public Histogram<double> StepDuration => field ??= _meter.CreateHistogram<double>("booking.saga.step.duration", unit: "ms", description: "Duration of one saga step.");

    public Counter<long> Reservations => field ??= _meter.CreateCounter<long>("booking.reservations", description: "Reservations that reached a final status, by status.");

    public Histogram<double> SagaDuration => field ??= _meter.CreateHistogram<double>("booking.saga.duration", unit: "ms", description: "Time from reservation to its final status.");

    /// <summary>A saga run joins the booking's trace: the parent is the request that created the reservation.</summary>
    public static Activity? StartSaga(Reservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        ActivityContext.TryParse(reservation.Saga?.TraceParent, null, out var parent);
        var activity = Source.StartActivity("saga", ActivityKind.Internal, parent);
        activity?.SetTag("reservation.id", reservation.Id.ToString("D"));
        activity?.SetTag("booking.domain", reservation.Domain.Code());
        return activity;
    }

    /// <summary>A step's span: a child of <paramref name="saga"/> when given, else of the current span.</summary>
    public static Activity? StartStep(string step, Guid reservationId, Activity? saga = null)
    {
        var activity = saga is null ? Source.StartActivity(step, ActivityKind.Internal) : Source.StartActivity(step, ActivityKind.Internal, saga.Context);
        activity?.SetTag("saga.step", step);
        activity?.SetTag("reservation.id", reservationId.ToString("D"));
        return activity;
    }
}
