using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Booking.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class ReservationsUpdatedAtIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_reservations_updated_at",
                table: "reservations",
                column: "updated_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reservations_updated_at",
                table: "reservations");
        }
    }
}
