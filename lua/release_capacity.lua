--! uses: _common _capacity
-- Releases a capacity hold. Idempotent: releasing twice, or an expired hold, is OK.
-- KEYS: 1 state, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 userId ('' = any owner)
-- Returns {'OK', previousState} | {'NOT_FOUND'} | {'BOOKED'} | {'RESERVED'} (a reservation was made from it)
local state_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local hold_id, user_id = ARGV[2], ARGV[3]

return release_hold(hk, user_id, function(hold)
  local expired = tonumber(hold[3]) <= now_ms()
  if hold[4] and not expired then
    return {'RESERVED'}
  end
  give_back(state_key, expiry_key, hk, hold_id, 'held', expired and 'EXPIRED' or 'RELEASED')
  return {'OK', expired and 'EXPIRED' or 'HELD'}
end)
