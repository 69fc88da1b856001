--! uses: _common _capacity
-- Compensation: gives back whatever a capacity hold took, booked or still held. Idempotent.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId
-- Returns {'OK', previousState} | {'NOT_FOUND'}
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id = ARGV[2]

local state = redis.call('HGET', hk, 'state')
if not state then
  return {'NOT_FOUND'}
end
if state == 'BOOKED' then
  give_back(state_key, expiry_key, hk, hold_id, 'booked', 'UNBOOKED')
elseif state == 'HELD' then
  give_back(state_key, expiry_key, hk, hold_id, 'held', 'RELEASED')
end
return {'OK', state}
