--! uses: _common
-- Pins a live hold to the reservation made from it: from here on only the saga decides its fate. The user can no
-- longer release it, and it expires only after `leaseMs` (so relay lag or a slow saga never expires a hold whose
-- reservation was accepted; a reservation that never got stored lets it go after the lease). Expiry is judged by
-- Redis's clock, like every other hold decision. Works for seat and capacity holds alike (same record and index).
-- KEYS: 1 state (unused), 2 expiry, 3 hold. ARGV: 1 holdId, 2 userId, 3 reservationId, 4 leaseMs
-- Returns {'OK', pinnedUntil} | {'EXPIRED'} | {'RESERVED', reservationId} | {'USED'} | {state} (BOOKED, RELEASED)
--       | {'NOT_FOUND'}
local expiry_key, hk = KEYS[2], KEYS[3]
local hold_id, user_id, reservation_id, lease = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local hold = redis.call('HMGET', hk, 'state', 'user', 'expiresAt', 'reservation')
local state = hold[1]
if not state or hold[2] ~= user_id then
  return {'NOT_FOUND'}
end
if state ~= 'HELD' then
  -- Given back by a saga (UNBOOKED after its confirm, RELEASED before it), the hold did become a reservation.
  if hold[4] and state ~= 'EXPIRED' then
    return {'USED'}
  end
  return {state}
end
if hold[4] then
  if hold[4] == reservation_id then
    return {'OK', hold[3]}
  end
  return {'RESERVED', hold[4]}
end
local now = now_ms()
local expires_at = tonumber(hold[3])
if expires_at <= now then
  -- Left for the sweeper or the next script on this resource to expire; its units are freed there.
  return {'EXPIRED'}
end
local pinned_until = math.max(expires_at, now + lease)
redis.call('HSET', hk, 'reservation', reservation_id, 'heldUntil', expires_at, 'expiresAt', pinned_until)
redis.call('ZADD', expiry_key, pinned_until, hold_id)
return {'OK', tostring(pinned_until)}
