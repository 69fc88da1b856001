--! uses: _common _seats
-- Expires up to ARGV[2] holds of one performance whose time has passed.
-- KEYS: 1 seats, 2 expiry. ARGV: 1 base, 2 limit. Returns the number expired.
return purge_expired_upto(ARGV[1], KEYS[1], KEYS[2], now_ms(), tonumber(ARGV[2]))
