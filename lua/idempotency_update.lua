-- Changes an Idempotency-Key record only while it still holds this request's claim: renews the claim (ARGV[2] is
-- the claim itself), stores the response (ARGV[2] is the response), or frees the key (ARGV[2] empty). A claim the
-- caller's bound already dropped stays dropped, so no record outlives the bound.
-- KEYS: 1 record. ARGV: 1 claim, 2 new value ('' = delete), 3 ttlMs. Returns 1 | 0
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  return redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
