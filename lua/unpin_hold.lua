--! uses: _common
-- Undoes pin_hold when the reservation could not be stored: the hold is the user's again, with its own expiry.
-- Does nothing unless the hold is still HELD for exactly this reservation. Seat and capacity holds alike.
-- KEYS: 1 state (unused), 2 expiry, 3 hold. ARGV: 1 holdId, 2 reservationId
-- Returns {'OK'} | {'NOT_PINNED'}
local expiry_key, hk = KEYS[2], KEYS[3]
local hold_id, reservation_id = ARGV[1], ARGV[2]

local hold = redis.call('HMGET', hk, 'state', 'reservation', 'heldUntil')
if hold[1] ~= 'HELD' or hold[2] ~= reservation_id then
  return {'NOT_PINNED'}
end
redis.call('HDEL', hk, 'reservation', 'heldUntil')
redis.call('HSET', hk, 'expiresAt', hold[3])
-- An expiry already past is fine: the next sweep or script on this resource expires the hold.
redis.call('ZADD', expiry_key, hold[3], hold_id)
return {'OK'}
