--! uses: _common _capacity
-- Turns a live capacity hold into booked units. Idempotent; an expired hold is never confirmed.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 reservationId, 4 booked record retention (ms)
-- Returns {'OK'} | {'ALREADY_CONFIRMED'} | {'EXPIRED'} | {'RELEASED'} | {'NOT_FOUND'}
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, reservation_id = ARGV[2], ARGV[3]

local hold = redis.call('HMGET', hk, 'state', 'expiresAt', 'quantity')
local refusal = confirm_precheck(hold[1])
if refusal then
  return refusal
end
if tonumber(hold[2]) <= now_ms() then
  give_back(state_key, expiry_key, hk, hold_id, 'held', 'EXPIRED')
  return {'EXPIRED'}
end
local quantity = tonumber(hold[3])
add_to(state_key, 'held', -quantity)
add_to(state_key, 'booked', quantity)
redis.call('ZREM', expiry_key, hold_id)
redis.call('HSET', hk, 'state', 'BOOKED', 'reservation', reservation_id)
-- Kept for compensation for a bounded time; past it, compensation works from PostgreSQL's copy (unbook_*).
redis.call('PEXPIRE', hk, ARGV[4])
return {'OK'}
