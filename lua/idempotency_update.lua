--! uses: _idempotency
-- Changes an Idempotency-Key record only while it still holds this request's claim: renews the claim (ARGV[2] is
-- the claim itself), stores the answer (ARGV[2] is the answer), or frees the key (ARGV[2] empty). A claim the
-- caller's bound already dropped stays dropped, so no record outlives the bound. An answer stored counts towards
-- the caller's bytes; past ARGV[5], the caller's oldest records go until the rest fit (never the one just stored).
-- KEYS: 1 record, 2 the caller's index, 3 the answers' sizes, 4 their total (see _idempotency).
-- ARGV: 1 claim, 2 new value ('' = delete), 3 ttlMs, 4 key name, 5 max bytes per caller, 6 record key prefix
-- Returns 1 | 0
local record, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local claim, value, ttl, name, max_bytes, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]

if redis.call('GET', record) ~= claim then
  return 0
end
if value == '' then
  -- Freed (a server error, a 429, an oversized answer): nothing of it stays, its index entry included, so freed claims
  -- never count towards the caller's bound and push out answers kept for replay.
  forget_record(index, sizes, total, prefix, name)
  return 1
end
redis.call('SET', record, value, 'PX', ttl)
if value ~= claim then
  redis.call('HSET', sizes, name, #value)
  local kept = redis.call('INCRBY', total, #value)
  while kept > max_bytes do
    local oldest = redis.call('ZRANGE', index, 0, 0)[1]
    if not oldest or oldest == name then
      break
    end
    forget_record(index, sizes, total, prefix, oldest)
    kept = tonumber(redis.call('GET', total))
  end
  for _, key in ipairs({sizes, total}) do
    redis.call('PEXPIRE', key, ttl)
  end
end
return 1
