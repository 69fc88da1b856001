--! uses: _common _seats
-- Compensation: gives back whatever a hold took, booked or still held. Idempotent.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId
-- Returns {'OK', previousState} | {'NOT_FOUND'}
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id = ARGV[2]

local state = redis.call('HGET', hk, 'state')
if not state then
  return {'NOT_FOUND'}
end
if state == 'BOOKED' then
  free_seats(seats_key, expiry_key, hk, hold_id, 'B:' .. hold_id, 'UNBOOKED')
elseif state == 'HELD' then
  free_seats(seats_key, expiry_key, hk, hold_id, 'H:' .. hold_id, 'RELEASED')
end
return {'OK', state}
