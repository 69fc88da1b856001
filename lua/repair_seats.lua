--! uses: _common _seats
-- The reconciler's repair of one seat hold after Redis lost writes, to what PostgreSQL says it must be.
-- ARGV[6] = 'BOOKED' (its reservation is CONFIRMED: a lost confirm) marks every seat B:<holdId> and the record
-- BOOKED, unless the record says a saga already gave the hold back after PostgreSQL was read (UNBOOKED, RELEASED);
-- a seat booked by another hold is left alone and reported. ARGV[6] = 'FREE' (FAILED or CANCELLED: a lost unbook, or
-- a rebuild that read the reservation while it was still live) frees every seat still marked by this hold.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 reservationId, 4 userId, 5 seats (csv), 6 want,
--       7 booked record retention (ms)
-- Returns {'REPAIRED', changedSeats, conflictingSeats} | {'SKIPPED', state} | {'NOT_LOADED'}
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, reservation_id, user_id, csv, want = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

if redis.call('EXISTS', seats_key) == 0 then
  -- Nothing to repair: the next request loads the whole state from PostgreSQL.
  return {'NOT_LOADED'}
end
local booked, held = 'B:' .. hold_id, 'H:' .. hold_id
local state = redis.call('HGET', hk, 'state')
local changed, conflicts = 0, 0
if want == 'BOOKED' then
  if state == 'UNBOOKED' or state == 'RELEASED' then
    return {'SKIPPED', state}
  end
  for _, seat in ipairs(split_csv(csv)) do
    local value = redis.call('HGET', seats_key, seat)
    if value ~= booked then
      if value and string.sub(value, 1, 2) == 'B:' then
        conflicts = conflicts + 1
      else
        redis.call('HSET', seats_key, seat, booked)
        changed = changed + 1
      end
    end
  end
  redis.call('ZREM', expiry_key, hold_id)
  redis.call('HSET', hk, 'state', 'BOOKED', 'user', user_id, 'seats', csv, 'reservation', reservation_id, 'expiresAt', 0)
  redis.call('PEXPIRE', hk, ARGV[7])
else
  for _, seat in ipairs(split_csv(csv)) do
    local value = redis.call('HGET', seats_key, seat)
    if value == booked or value == held then
      redis.call('HSET', seats_key, seat, 'A')
      changed = changed + 1
    end
  end
  redis.call('ZREM', expiry_key, hold_id)
  if state then
    finish_hold(hk, 'UNBOOKED')
  end
end
return {'REPAIRED', changed, conflicts}
