--! uses: _common _capacity
-- Compensation: gives back whatever a capacity hold took, booked or still held. Idempotent.
-- A booked record outlives its retention only in PostgreSQL: when it is gone and the saga knows the hold was
-- confirmed (ARGV[4] = '1'), the quantity PostgreSQL records (ARGV[3]) leaves the booked counter.
-- A slot whose state is not in Redis (dropped while idle, see evict_idle) has no counter to change: the record alone
-- is marked, and load_capacity, which counts the slot from PostgreSQL, leaves a given-back record out.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 quantity (0 = unknown), 4 confirmed ('1' | '0')
-- Returns {'OK', previousState} | {'OK', 'MISSING'} | {'NOT_FOUND'}
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, known_quantity, confirmed = ARGV[2], tonumber(ARGV[3] or '0'), ARGV[4]

local state = redis.call('HGET', hk, 'state')
if not state then
  if confirmed ~= '1' or not known_quantity or known_quantity <= 0 or redis.call('EXISTS', state_key) == 0 then
    return {'NOT_FOUND'}
  end
  local booked = tonumber(redis.call('HGET', state_key, 'booked')) or 0
  redis.call('HINCRBY', state_key, 'booked', -math.min(known_quantity, booked))
  redis.call('ZREM', expiry_key, hold_id)
  -- A record again, UNBOOKED, so that the compensation run once more (a retried step) takes nothing off twice.
  redis.call('HSET', hk, 'quantity', known_quantity)
  finish_hold(hk, 'UNBOOKED')
  return {'OK', 'MISSING'}
end
if (state == 'BOOKED' or state == 'HELD') and redis.call('EXISTS', state_key) == 0 then
  redis.call('ZREM', expiry_key, hold_id)
  finish_hold(hk, state == 'BOOKED' and 'UNBOOKED' or 'RELEASED')
elseif state == 'BOOKED' then
  give_back(state_key, expiry_key, hk, hold_id, 'booked', 'UNBOOKED')
elseif state == 'HELD' then
  give_back(state_key, expiry_key, hk, hold_id, 'held', 'RELEASED')
end
return {'OK', state}
