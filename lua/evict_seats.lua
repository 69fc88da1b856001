-- Drops a performance's seat state nobody has used for a while, so Redis does not keep every performance it ever
-- loaded. Only with no hold live on it (a HELD or pinned hold is in the expiry zset), and only once the seats hash
-- has gone untouched (no hold, release, confirm or seat map read) for ARGV[1] seconds. Dropping it is safe: the next
-- request loads it again from the seat map and PostgreSQL's live reservations, as after a Redis that lost it, and no
-- script writes a seat it does not find marked by its own hold. Booked holds' records stay (they expire by themselves).
-- KEYS: 1 seats, 2 expiry. ARGV: 1 idle seconds
-- Returns 1 (dropped) | 0
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZCARD', KEYS[2]) > 0 then
  return 0
end
if redis.call('OBJECT', 'IDLETIME', KEYS[1]) < tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
