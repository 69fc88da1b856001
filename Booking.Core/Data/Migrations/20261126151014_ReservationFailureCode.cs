using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Booking.Core.Data.Migrations
{
    /// <summary>
    /// A failed reservation's code gets a column of its own; rows failed before it get theirs from the first word of
    /// their failure reason, which always started with it.
    /// </summary>
    public partial class ReservationFailureCode : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "failure_code",
                table: "reservations",
                type: "character varying(40)",
                maxLength: 40,
                nullable: true);
            migrationBuilder.Sql("""
                UPDATE reservations SET failure_code = left(split_part(failure_reason, ':', 1), 40)
                WHERE failure_reason IS NOT NULL AND failure_code IS NULL
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "failure_code",
                table: "reservations");
        }
    }
}
