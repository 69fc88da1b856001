--! uses: _common _seats
-- Compensation: gives back whatever a hold took, booked or still held. Idempotent.
-- A booked record outlives its retention only in PostgreSQL: when it is gone, the seats PostgreSQL lists (ARGV[3])
-- that are still marked by this hold are freed.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 seats (csv, may be empty)
-- Returns {'OK', previousState} | {'OK', 'MISSING'} | {'NOT_FOUND'}
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, known_seats = ARGV[2], ARGV[3]

local state = redis.call('HGET', hk, 'state')
if not state then
  if not known_seats or known_seats == '' then
    return {'NOT_FOUND'}
  end
  for _, seat in ipairs(split_csv(known_seats)) do
    local value = redis.call('HGET', seats_key, seat)
    if value == 'B:' .. hold_id or value == 'H:' .. hold_id then
      redis.call('HSET', seats_key, seat, 'A')
    end
  end
  redis.call('ZREM', expiry_key, hold_id)
  return {'OK', 'MISSING'}
end
if state == 'BOOKED' then
  free_seats(seats_key, expiry_key, hk, hold_id, 'B:' .. hold_id, 'UNBOOKED')
elseif state == 'HELD' then
  free_seats(seats_key, expiry_key, hk, hold_id, 'H:' .. hold_id, 'RELEASED')
end
return {'OK', state}
