-- Drops a resource's live state nobody has used for a while (a performance's seats, or a slot's counters), so Redis
-- does not keep every resource it ever loaded, nor the sweeper walk them all. Only with no hold live on it (a HELD or
-- pinned hold is in the expiry zset), and only once the state hash has gone untouched (no hold, release, confirm,
-- read or capacity change) for ARGV[1] seconds. Dropping it is safe: the next request loads it again from PostgreSQL,
-- as after a Redis that lost it. No seat script writes a seat it does not find marked by its own hold, and no capacity
-- script writes counters it does not find (unbook_capacity then only marks its record, which load_capacity heeds).
-- Booked holds' records stay (they expire by themselves).
-- KEYS: 1 state, 2 expiry. ARGV: 1 idle seconds
-- Returns 1 (dropped) | 0
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZCARD', KEYS[2]) > 0 then
  return 0
end
if redis.call('OBJECT', 'IDLETIME', KEYS[1]) < tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
