--! uses: _common _capacity
-- Expires every hold of one slot whose time has passed.
-- KEYS: 1 state, 2 expiry. ARGV: 1 base. Returns the number expired.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return purge_all_expired(ARGV[1], KEYS[1], KEYS[2], now_ms())
