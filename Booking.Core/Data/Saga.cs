namespace Booking.Core.Data;

public enum SagaState
{
    Started,
    Compensating,
    Completed,
    Failed,
    Cancelling,
    Cancelled,
}

public enum SagaStepStatus
{
    Running,
    Succeeded,
    Failed,
}

/// <summary>The orchestration state of one reservation's saga; the worker resumes from it after any crash.</summary>
public sealed class Saga
{
    public Guid ReservationId { get; set; }
    public SagaState State { get; set; }
    public bool CancelRequested { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>When the saga should be looked at again (retry backoff); null while nothing is scheduled.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>Past this point retries stop and the saga compensates.</summary>
    public DateTimeOffset DeadlineAt { get; set; }

    /// <summary>W3C traceparent of the request that started the saga, so its steps join the booking's trace.</summary>
    public string? TraceParent { get; set; }

    /// <summary>PostgreSQL's xmin, as on <see cref="Reservation"/>.</summary>
    public uint Version { get; set; }

    public List<SagaStep> Steps { get; set; } = [];
}

/// <summary>One recorded step or compensation of a saga.</summary>
public sealed class SagaStep
{
    /// <summary>Length of the <c>error</c> column.</summary>
    public const int MaxErrorLength = 2000;

    public long Id { get; set; }
    public Guid ReservationId { get; set; }
    public required string Name { get; set; }
    public SagaStepStatus Status { get; set; }
    public int Attempt { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }
}
