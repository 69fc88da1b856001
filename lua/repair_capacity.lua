--! uses: _common _capacity
-- The reconciler's repair of a lost capacity confirm: PostgreSQL says the reservation is CONFIRMED, but Redis lost
-- the writes of its last second (a crash between two fsyncs of the append-only file), so the hold's record is gone
-- (the hold itself was lost: its units were never counted) or EXPIRED (only the confirm was lost, and the sweeper then
-- gave the held units back). The units are booked again and the record made BOOKED. A record a saga has since given
-- back (UNBOOKED, RELEASED) or already BOOKED or HELD (confirm_capacity's case) is left alone; so is a slot whose state
-- is gone, which its next load counts from PostgreSQL.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 reservationId, 4 userId, 5 quantity,
--       6 booked record retention (ms)
-- Returns {'REPAIRED', unitsOverCapacity} (units booked or held past the capacity: sold while Redis did not know)
--       | {'SKIPPED', state} | {'NOT_LOADED'}
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, reservation_id, user_id, quantity = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])

if redis.call('EXISTS', state_key) == 0 then
  return {'NOT_LOADED'}
end
local state = redis.call('HGET', hk, 'state')
if state and state ~= 'EXPIRED' then
  return {'SKIPPED', state}
end
redis.call('HINCRBY', state_key, 'booked', quantity)
redis.call('ZREM', expiry_key, hold_id)
redis.call('DEL', hk)
redis.call('HSET', hk, 'state', 'BOOKED', 'user', user_id, 'quantity', quantity, 'expiresAt', 0, 'reservation', reservation_id)
redis.call('PEXPIRE', hk, ARGV[6])
local capacity, held, booked = counters(state_key)
return {'REPAIRED', math.max(0, held + booked - capacity)}
