--! uses: _common _capacity
-- Sets a slot's capacity; refuses to go below what is held plus booked.
-- KEYS: 1 state, 2 expiry. ARGV: 1 base, 2 capacity
-- Returns {'OK', capacity, held, booked} | {'CONFLICT', capacity, held, booked}
local state_key, expiry_key = KEYS[1], KEYS[2]
local wanted = tonumber(ARGV[2])
purge_all_expired(ARGV[1], state_key, expiry_key, now_ms())
local capacity, held, booked = counters(state_key)
if wanted < held + booked then
  return {'CONFLICT', tostring(capacity or 0), tostring(held), tostring(booked)}
end
redis.call('HSET', state_key, 'capacity', wanted, 'held', held, 'booked', booked)
return {'OK', tostring(wanted), tostring(held), tostring(booked)}
