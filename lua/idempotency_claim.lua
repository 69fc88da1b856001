--! uses: _common _idempotency
-- Claims an Idempotency-Key for one request: the in-flight record is written only if the key is free, the key joins
-- its caller's index, and the caller's oldest records beyond the bound (and those past the retention) go.
-- KEYS: 1 record, 2 the caller's index, 3 the answers' sizes, 4 their total (see _idempotency).
-- ARGV: 1 claim, 2 leaseMs, 3 key name, 4 max records per caller, 5 retentionMs, 6 record key prefix
-- Returns 1 (claimed) | 0 (a record exists)
local record, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local claim, lease, name, max_records, retention, prefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]

if not redis.call('SET', record, claim, 'PX', lease, 'NX') then
  return 0
end
local now = now_ms()
for _, old in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now - retention)) do
  forget_record(index, sizes, total, prefix, old)
end
-- A key claimed again after its record expired: its old answer's size no longer counts.
forget_size(sizes, total, name)
redis.call('ZADD', index, now, name)
local excess = redis.call('ZCARD', index) - max_records
if excess > 0 then
  for _, oldest in ipairs(redis.call('ZRANGE', index, 0, excess - 1)) do
    forget_record(index, sizes, total, prefix, oldest)
  end
end
for _, key in ipairs({index, sizes, total}) do
  redis.call('PEXPIRE', key, retention)
end
return 1
