--! uses: _common _capacity
-- Reads a slot's counters after expiring every hold whose time has passed.
-- KEYS: 1 state, 2 expiry. ARGV: 1 base
-- Returns {'OK', capacity, held, booked} | {'NOT_LOADED'}
local state_key, expiry_key = KEYS[1], KEYS[2]
if redis.call('EXISTS', state_key) == 0 then
  return {'NOT_LOADED'}
end
purge_all_expired(ARGV[1], state_key, expiry_key, now_ms())
local capacity, held, booked = counters(state_key)
return {'OK', tostring(capacity), tostring(held), tostring(booked)}
