using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Booking.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class OutboxBackoff : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "next_attempt_at",
                table: "outbox_messages",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_outbox_messages_backing_off",
                table: "outbox_messages",
                column: "message_key",
                filter: "sent_at IS NULL AND quarantined_at IS NULL AND next_attempt_at IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_outbox_messages_backing_off",
                table: "outbox_messages");

            migrationBuilder.DropColumn(
                name: "next_attempt_at",
                table: "outbox_messages");
        }
    }
}
