--! uses: _common _capacity
-- Holds `quantity` units of a slot, all or nothing.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 userId, 4 ttlMs, 5 quantity
-- Returns {'OK', expiresAt} | {'NOT_LOADED'} | {'UNAVAILABLE', available} | {'EXISTS', state, expiresAt}
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local base, hold_id, user_id, ttl, quantity = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

local refusal = hold_precheck(state_key, hk)
if refusal then
  return refusal
end
local now = now_ms()
purge_all_expired(base, state_key, expiry_key, now)
local capacity, held, booked = counters(state_key)
local available = capacity - held - booked
if quantity > available then
  return {'UNAVAILABLE', tostring(available)}
end
local expires_at = now + ttl
redis.call('HINCRBY', state_key, 'held', quantity)
redis.call('HSET', hk, 'state', 'HELD', 'user', user_id, 'quantity', quantity, 'expiresAt', expires_at)
redis.call('ZADD', expiry_key, expires_at, hold_id)
return {'OK', tostring(expires_at)}
