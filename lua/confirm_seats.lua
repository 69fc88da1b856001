--! uses: _common _seats
-- Turns a live hold into booked seats. Idempotent: confirming a booked hold again is OK.
-- An expired hold is never confirmed; its seats go back to AVAILABLE here if nobody did it yet.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 reservationId, 4 booked record retention (ms)
-- Returns {'OK'} | {'ALREADY_CONFIRMED'} | {'EXPIRED'} | {'RELEASED'} | {'NOT_FOUND'}
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local base, hold_id, reservation_id = ARGV[1], ARGV[2], ARGV[3]

local hold = redis.call('HMGET', hk, 'state', 'expiresAt')
local refusal = confirm_precheck(hold[1])
if refusal then
  return refusal
end
if tonumber(hold[2]) <= now_ms() then
  expire_hold(base, seats_key, expiry_key, hold_id)
  return {'EXPIRED'}
end

local held, booked = 'H:' .. hold_id, 'B:' .. hold_id
for _, seat in ipairs(split_csv(redis.call('HGET', hk, 'seats'))) do
  if redis.call('HGET', seats_key, seat) ~= held then
    return redis.error_reply('seat ' .. seat .. ' of hold ' .. hold_id .. ' is not held by it')
  end
end
for _, seat in ipairs(split_csv(redis.call('HGET', hk, 'seats'))) do
  redis.call('HSET', seats_key, seat, booked)
end
redis.call('ZREM', expiry_key, hold_id)
redis.call('HSET', hk, 'state', 'BOOKED', 'reservation', reservation_id)
-- Kept for compensation for a bounded time; past it, compensation works from PostgreSQL's copy (unbook_*).
redis.call('PEXPIRE', hk, ARGV[4])
return {'OK'}
