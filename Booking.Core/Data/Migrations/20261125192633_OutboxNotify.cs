using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Booking.Core.Data.Migrations
{
    /// <summary>
    /// Every transaction that adds outbox rows notifies <see cref="OutboxMessage.NotifyChannel"/> when it commits
    /// (one notification per transaction: PostgreSQL folds repeats), so the relay wakes at once instead of polling.
    /// </summary>
    public partial class OutboxNotify : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql($"""
                CREATE FUNCTION outbox_messages_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('{OutboxMessage.NotifyChannel}', '');
                    RETURN NULL;
                END $$;
                CREATE TRIGGER outbox_messages_notify AFTER INSERT ON outbox_messages
                    FOR EACH STATEMENT EXECUTE FUNCTION outbox_messages_notify();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER outbox_messages_notify ON outbox_messages;
                DROP FUNCTION outbox_messages_notify();
                """);
        }
    }
}
