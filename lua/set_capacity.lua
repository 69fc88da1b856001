--! uses: _common _capacity
-- Sets a slot's capacity; refuses to go below what is held plus booked. Counters are made from nothing only for a
-- new slot (ARGV[3] = '1'): an existing one whose state is not in Redis (dropped while idle, lost) is loaded first,
-- or its bookings would be forgotten.
-- KEYS: 1 state, 2 expiry. ARGV: 1 base, 2 capacity, 3 new slot ('1' | '0')
-- Returns {'OK', capacity, held, booked} | {'CONFLICT', capacity, held, booked} | {'NOT_LOADED'}
local state_key, expiry_key = KEYS[1], KEYS[2]
local wanted = tonumber(ARGV[2])
if ARGV[3] ~= '1' and redis.call('EXISTS', state_key) == 0 then
  return {'NOT_LOADED'}
end
purge_all_expired(ARGV[1], state_key, expiry_key, now_ms())
local capacity, held, booked = counters(state_key)
if wanted < held + booked then
  return {'CONFLICT', tostring(capacity or 0), tostring(held), tostring(booked)}
end
redis.call('HSET', state_key, 'capacity', wanted, 'held', held, 'booked', booked)
return {'OK', tostring(wanted), tostring(held), tostring(booked)}
