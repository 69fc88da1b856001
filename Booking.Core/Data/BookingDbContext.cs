using Booking.Core.Holds;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Booking.Core.Data;

/// <summary>The booking service's database (<c>bookingdb</c>): the durable record of reservations, sagas and the outbox.</summary>
public sealed class BookingDbContext(DbContextOptions<BookingDbContext> options) : DbContext(options)
{
    public DbSet<Reservation> Reservations => Set<Reservation>();
    public DbSet<ReservationDetail> ReservationDetails => Set<ReservationDetail>();
    public DbSet<Saga> Sagas => Set<Saga>();
    public DbSet<SagaStep> SagaSteps => Set<SagaStep>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<CapacitySlot> CapacitySlots => Set<CapacitySlot>();
    public DbSet<ReservationSeat> ReservationSeats => Set<ReservationSeat>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Enums are stored as the same UPPER words the API shows, so SQL reads like the contract.
        configurationBuilder.Properties<BookingDomain>().HaveConversion<UpperEnumConverter<BookingDomain>>();
        configurationBuilder.Properties<ReservationStatus>().HaveConversion<UpperEnumConverter<ReservationStatus>>();
        configurationBuilder.Properties<SagaState>().HaveConversion<UpperEnumConverter<SagaState>>();
        configurationBuilder.Properties<SagaStepStatus>().HaveConversion<UpperEnumConverter<SagaStepStatus>>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Reservation>(ConfigureReservation);
        modelBuilder.Entity<ReservationSeat>(ConfigureReservationSeat);
        modelBuilder.Entity<ReservationDetail>(ConfigureReservationDetail);
        modelBuilder.Entity<Saga>(ConfigureSaga);
        modelBuilder.Entity<SagaStep>(ConfigureSagaStep);
        modelBuilder.Entity<OutboxMessage>(ConfigureOutboxMessage);
        modelBuilder.Entity<CapacitySlot>(ConfigureCapacitySlot);
    }

    /// <summary>A caller's id; the API refuses longer ones.</summary>
    public const int UserIdLength = 128;

    /// <summary>A resource id: 1-64 letters, digits, '.', '_' or '-', the first a letter or digit (the API's path rule).</summary>
    private const int ResourceIdLength = 64;

    /// <summary>A slot (<c>2026-12-01</c> or <c>2026-12-01T19:00</c>), a seat id or a detail type, with room to spare.</summary>
    private const int ShortCodeLength = 32;

    /// <summary>A W3C traceparent: 55 characters.</summary>
    private const int TraceParentLength = 64;

    /// <summary>A saga step's name, or an outbox message's key (a reservation id).</summary>
    private const int NameLength = 64;

    private static void ConfigureReservation(EntityTypeBuilder<Reservation> reservation)
    {
        reservation.ToTable("reservations");
        reservation.HasKey(r => r.Id);
        reservation.Property(r => r.UserId).HasMaxLength(UserIdLength);
        reservation.Property(r => r.ResourceId).HasMaxLength(ResourceIdLength);
        reservation.Property(r => r.Slot).HasMaxLength(ShortCodeLength);
        reservation.Property(r => r.FailureCode).HasMaxLength(Reservation.MaxFailureCodeLength);
        reservation.Property(r => r.FailureReason).HasMaxLength(Reservation.MaxFailureReasonLength);
        reservation.Property(r => r.Version).IsRowVersion();
        reservation.HasIndex(r => r.HoldId).IsUnique();
        // Keyset pagination of a user's reservations, newest first.
        reservation.HasIndex(r => new { r.UserId, r.CreatedAt, r.Id }).IsDescending(false, true, true);
        // Rebuilding a resource's Redis state from its live bookings.
        reservation.HasIndex(r => new { r.Domain, r.ResourceId, r.Slot });
        // The reconciler reads the reservations that changed since its last run.
        reservation.HasIndex(r => r.UpdatedAt);
        reservation.OwnsOne(r => r.Contact, contact => contact.ToJson());
        reservation.Ignore(r => r.Resource);
        reservation.HasMany(r => r.Details).WithOne().HasForeignKey(d => d.ReservationId).OnDelete(DeleteBehavior.Cascade);
        reservation.HasOne(r => r.Saga).WithOne().HasForeignKey<Saga>(s => s.ReservationId).OnDelete(DeleteBehavior.Cascade);
    }

    private static void ConfigureReservationSeat(EntityTypeBuilder<ReservationSeat> seat)
    {
        seat.ToTable("reservation_seats");
        seat.HasKey(s => new { s.ResourceId, s.SeatId }).HasName(ReservationSeat.KeyName);
        seat.Property(s => s.ResourceId).HasMaxLength(ResourceIdLength);
        seat.Property(s => s.SeatId).HasMaxLength(ShortCodeLength);
        seat.HasIndex(s => s.ReservationId);
    }

    private static void ConfigureReservationDetail(EntityTypeBuilder<ReservationDetail> detail)
    {
        detail.ToTable("reservation_details");
        detail.HasKey(d => d.Id);
        detail.Property(d => d.Type).HasMaxLength(ShortCodeLength);
        detail.Property(d => d.Data).HasColumnType("jsonb");
        detail.HasIndex(d => d.ReservationId);
    }

    private static void ConfigureSaga(EntityTypeBuilder<Saga> saga)
    {
        saga.ToTable("sagas");
        saga.HasKey(s => s.ReservationId);
        saga.Property(s => s.TraceParent).HasMaxLength(TraceParentLength);
        saga.Property(s => s.Version).IsRowVersion();
        saga.HasMany(s => s.Steps).WithOne().HasForeignKey(step => step.ReservationId).OnDelete(DeleteBehavior.Cascade);
        // The worker's sweep looks for unfinished sagas that are due.
        saga.HasIndex(s => new { s.State, s.NextAttemptAt });
    }

    private static void ConfigureSagaStep(EntityTypeBuilder<SagaStep> step)
    {
        step.ToTable("saga_steps");
        step.HasKey(s => s.Id);
        step.Property(s => s.Name).HasMaxLength(NameLength);
        step.Property(s => s.Error).HasMaxLength(SagaStep.MaxErrorLength);
        step.HasIndex(s => s.ReservationId);
    }

    private static void ConfigureOutboxMessage(EntityTypeBuilder<OutboxMessage> message)
    {
        message.ToTable("outbox_messages");
        message.HasKey(m => m.Id);
        message.HasIndex(m => m.EventId).IsUnique();
        message.Property(m => m.Topic).HasMaxLength(128);
        message.Property(m => m.MessageKey).HasMaxLength(NameLength);
        message.Property(m => m.Payload).HasColumnType("jsonb");
        message.Property(m => m.TraceParent).HasMaxLength(TraceParentLength);
        message.Property(m => m.TraceState).HasMaxLength(OutboxMessage.MaxTraceStateLength);
        message.Property(m => m.LastError).HasMaxLength(OutboxMessage.MaxErrorLength);
        // The relay reads only what is still unsent and not quarantined, in insertion order.
        message.HasIndex(m => m.Id).HasFilter("sent_at IS NULL AND quarantined_at IS NULL").HasDatabaseName("ix_outbox_messages_unsent");
        // The quarantined gauge counts the few rows Kafka refused, every few seconds, without reading the rest.
        // The relay leaves out each key with a row waiting out a backoff; the few such rows are found by key.
        message.HasIndex(m => m.MessageKey, "ix_outbox_messages_backing_off")
            .HasFilter("sent_at IS NULL AND quarantined_at IS NULL AND next_attempt_at IS NOT NULL").HasDatabaseName("ix_outbox_messages_backing_off");
        message.HasIndex(m => m.Id, "ix_outbox_messages_quarantined").HasFilter("quarantined_at IS NOT NULL").HasDatabaseName("ix_outbox_messages_quarantined");
    }

    private static void ConfigureCapacitySlot(EntityTypeBuilder<CapacitySlot> slot)
    {
        slot.ToTable("capacity_slots");
        slot.HasKey(s => new { s.Domain, s.ResourceId, s.Slot });
        slot.Property(s => s.ResourceId).HasMaxLength(ResourceIdLength);
        slot.Property(s => s.Slot).HasMaxLength(ShortCodeLength);
    }

    /// <summary>How an enum value is stored: the UPPER word the API shows (statements written by hand use it too).</summary>
    public static string Stored<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToUpperInvariant();

    private sealed class UpperEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
        value => Stored(value),
        value => Enum.Parse<TEnum>(value, true))
        where TEnum : struct, Enum;
}
