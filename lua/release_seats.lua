--! uses: _common _seats
-- Releases a hold (the user gave it up). Idempotent: releasing twice, or an expired hold, is OK.
-- KEYS: 1 seats, 2 expiry, 3 hold. ARGV: 1 base, 2 holdId, 3 userId ('' = any owner)
-- Returns {'OK', previousState} | {'NOT_FOUND'} | {'BOOKED'} | {'RESERVED'} (a reservation was made from it)
local seats_key, expiry_key, hk = KEYS[1], KEYS[2], KEYS[3]
local base, hold_id, user_id = ARGV[1], ARGV[2], ARGV[3]

return release_hold(hk, user_id, function(hold)
  if tonumber(hold[3]) <= now_ms() then
    expire_hold(base, seats_key, expiry_key, hold_id)
    return {'OK', 'EXPIRED'}
  end
  if hold[4] then
    return {'RESERVED'}
  end
  free_seats(seats_key, expiry_key, hk, hold_id, 'H:' .. hold_id, 'RELEASED')
  return {'OK', 'HELD'}
end)
