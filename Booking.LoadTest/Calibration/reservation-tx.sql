-- pgbench script: one durable reservation + outbox insert, the write a booking cannot avoid.
-- Tables: reservation-schema.sql.
\set n random(1, 1000000000)
BEGIN;
INSERT INTO r(id, user_id, status, details) VALUES (gen_random_uuid(), 'vu-' || :n, 'PENDING', '{"seats":["A-1","A-2"]}');
INSERT INTO o(event_id, topic, key, payload) VALUES (gen_random_uuid(), 'booking.reservation.requested', :n::text, '{"reservationId":"x","seats":["A-1","A-2"]}');
COMMIT;
