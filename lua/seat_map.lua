--! uses: _common _seats
-- Reads the seat map after expiring every hold whose time has passed, so what it shows is exact.
-- KEYS: 1 seats, 2 expiry. ARGV: 1 base
-- Returns {'NOT_LOADED'} | {'OK', seatId, value, seatId, value, ...}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'NOT_LOADED'}
end
local now = now_ms()
while purge_expired_upto(ARGV[1], KEYS[1], KEYS[2], now, PURGE_PAGE) == PURGE_PAGE do
end
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'OK')
return all
