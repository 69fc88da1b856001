--! uses: _common _seats
-- Holds every seat in ARGV[5..] for one hold, all or nothing.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 userId, 4 ttlMs, 5.. seatIds
-- Returns {'OK', expiresAt} | {'NOT_LOADED'} | {'UNKNOWN', seatId...} | {'UNAVAILABLE', seatId...}
--       | {'EXISTS', state, expiresAt} when the same hold id was already used (a retried call).
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local base, hold_id, user_id, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local refusal = hold_precheck(seats_key, hk)
if refusal then
  return refusal
end

-- Each hold expires a few stale holds on the side (housekeeping; the sweeper does the rest).
local PURGED_PER_HOLD = 8

local now = now_ms()
purge_expired_upto(base, seats_key, expiry_key, now, PURGED_PER_HOLD)

local unknown, unavailable = {}, {}
for i = 5, #ARGV do
  local value = redis.call('HGET', seats_key, ARGV[i])
  if not value then
    unknown[#unknown + 1] = ARGV[i]
  elseif not seat_is_free(base, seats_key, expiry_key, value, now) then
    unavailable[#unavailable + 1] = ARGV[i]
  end
end
if #unknown > 0 then
  table.insert(unknown, 1, 'UNKNOWN')
  return unknown
end
if #unavailable > 0 then
  table.insert(unavailable, 1, 'UNAVAILABLE')
  return unavailable
end

local mark = 'H:' .. hold_id
local seat_ids = {}
for i = 5, #ARGV do
  redis.call('HSET', seats_key, ARGV[i], mark)
  seat_ids[#seat_ids + 1] = ARGV[i]
end
local expires_at = now + ttl
redis.call('HSET', hk, 'state', 'HELD', 'user', user_id, 'seats', table.concat(seat_ids, ','), 'expiresAt', expires_at)
redis.call('ZADD', expiry_key, expires_at, hold_id)
return {'OK', tostring(expires_at)}
