using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Booking.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class ReservationSeats : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "reservation_seats",
                columns: table => new
                {
                    resource_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    seat_id = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    reservation_id = table.Column<Guid>(type: "uuid", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_reservation_seats", x => new { x.resource_id, x.seat_id });
                });

            migrationBuilder.CreateIndex(
                name: "ix_reservation_seats_reservation_id",
                table: "reservation_seats",
                column: "reservation_id");
            // The table follows the reservations' own rows, so no code path can forget it: seats go in with a live
            // reservation (a seat already live elsewhere violates the key and the whole insert fails) and leave
            // when it ends FAILED or CANCELLED.
            migrationBuilder.Sql("""
                CREATE FUNCTION reservation_seats_follow() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'INSERT' THEN
                        IF NEW.status IN ('PENDING', 'CONFIRMED', 'CANCELLING') THEN
                            INSERT INTO reservation_seats (resource_id, seat_id, reservation_id)
                            SELECT NEW.resource_id, seat, NEW.id FROM unnest(NEW.seat_ids) AS seat;
                        END IF;
                    ELSIF NEW.status IN ('FAILED', 'CANCELLED') AND OLD.status NOT IN ('FAILED', 'CANCELLED') THEN
                        DELETE FROM reservation_seats WHERE reservation_id = NEW.id;
                    END IF;
                    RETURN NULL;
                END
                $$;
                CREATE TRIGGER reservation_seats_follow AFTER INSERT OR UPDATE OF status ON reservations
                    FOR EACH ROW EXECUTE FUNCTION reservation_seats_follow();
                INSERT INTO reservation_seats (resource_id, seat_id, reservation_id)
                SELECT resource_id, unnest(seat_ids), id FROM reservations WHERE status IN ('PENDING', 'CONFIRMED', 'CANCELLING')
                ON CONFLICT DO NOTHING;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER reservation_seats_follow ON reservations;
                DROP FUNCTION reservation_seats_follow();
                """);
            migrationBuilder.DropTable(
                name: "reservation_seats");
        }
    }
}
