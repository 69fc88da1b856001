--! uses: _common
-- Claims an Idempotency-Key for one request: the in-flight record is written only if the key is free, the key joins
-- its caller's index, and the caller's oldest records beyond the bound (and index entries past the retention) go.
-- Both keys carry the caller's hash tag; the records dropped share it (same slot).
-- KEYS: 1 record, 2 the caller's index (zset key name -> claimed at). ARGV: 1 claim, 2 leaseMs, 3 key name,
--       4 max records per caller, 5 retentionMs, 6 record key prefix
-- Returns 1 (claimed) | 0 (a record exists)
local record, index = KEYS[1], KEYS[2]
local claim, lease, name, max_records, retention, prefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]

if not redis.call('SET', record, claim, 'PX', lease, 'NX') then
  return 0
end
local now = now_ms()
redis.call('ZADD', index, now, name)
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - retention)
local excess = redis.call('ZCARD', index) - max_records
if excess > 0 then
  for _, oldest in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
    redis.call('DEL', prefix .. oldest)
  end
  redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
end
redis.call('PEXPIRE', index, retention)
return 1
