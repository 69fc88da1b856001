--! uses: _common _capacity
-- Rebuilds a slot's counters from PostgreSQL's record: its capacity and the bookings it knows of.
-- Runs only when the state is absent, so it can never free a booked or held unit.
-- KEYS: 1 state. ARGV: 1 base, 2 capacity, 3 booked record retention (ms), then triples holdId, userId, quantity
-- Returns {'LOADED'} | {'ALREADY_LOADED'}
local state_key, base = KEYS[1], ARGV[1]
if redis.call('EXISTS', state_key) == 1 then
  return {'ALREADY_LOADED'}
end
local booked = 0
local i = 4
while i + 2 <= #ARGV do
  local quantity = tonumber(ARGV[i + 2])
  local hk = hold_key(base, ARGV[i])
  local given_back = redis.call('HGET', hk, 'state')
  -- A hold its saga already gave back (on a slot dropped while idle, unbook_capacity marks only the record) is not
  -- counted, though PostgreSQL read it before the saga's last commit.
  if given_back ~= 'UNBOOKED' and given_back ~= 'RELEASED' then
    redis.call('HSET', hk, 'state', 'BOOKED', 'user', ARGV[i + 1], 'quantity', quantity, 'expiresAt', 0)
    -- Kept as long as a confirmed one (confirm_capacity): past it, compensation works from PostgreSQL's copy.
    redis.call('PEXPIRE', hk, ARGV[3])
    booked = booked + quantity
  end
  i = i + 3
end
redis.call('HSET', state_key, 'capacity', tonumber(ARGV[2]), 'held', 0, 'booked', booked)
return {'LOADED'}
