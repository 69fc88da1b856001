-- Extends an in-flight Idempotency-Key claim while its request still runs, only if the claim is still this request's.
-- KEYS: 1 record. ARGV: 1 claim, 2 leaseMs. Returns 1 | 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
