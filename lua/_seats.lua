-- Seat family. Keys of one performance share the hash tag in `base` (perf:{<id>}):
--   <base>:seats   hash seatId -> 'A' | 'H:<holdId>' | 'B:<holdId>'
--   <base>:expiry  zset holdId -> expiresAt (ms) of every hold still HELD
--   <base>:hold:<holdId> hash state, user, seats (csv), expiresAt, reservation
-- Hold keys are derived in the script; they carry the same hash tag, so they live in the same slot.

-- Frees the seats of one hold that are still marked with `mark` and closes the hold record.
local function free_seats(seats_key, expiry_key, hk, hold_id, mark, final_state)
  for _, seat in ipairs(split_csv(redis.call('HGET', hk, 'seats'))) do
    if redis.call('HGET', seats_key, seat) == mark then
      redis.call('HSET', seats_key, seat, 'A')
    end
  end
  redis.call('ZREM', expiry_key, hold_id)
  finish_hold(hk, final_state)
end

local function expire_hold(base, seats_key, expiry_key, hold_id)
  free_seats(seats_key, expiry_key, hold_key(base, hold_id), hold_id, 'H:' .. hold_id, 'EXPIRED')
end

-- Housekeeping: expires up to `limit` holds whose time has passed. Correctness does not depend on it,
-- because every seat check also looks at the expiry of the hold that marks the seat.
local function purge_expired_upto(base, seats_key, expiry_key, now, limit)
  local expired = redis.call('ZRANGE', expiry_key, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  for _, hold_id in ipairs(expired) do
    expire_hold(base, seats_key, expiry_key, hold_id)
  end
  return #expired
end

-- True when a seat whose value is `value` can be taken now; expires the marking hold if its time passed.
local function seat_is_free(base, seats_key, expiry_key, value, now)
  if value == 'A' then
    return true
  end
  if string.sub(value, 1, 2) ~= 'H:' then
    return false
  end
  local hold_id = string.sub(value, 3)
  local expires_at = tonumber(redis.call('HGET', hold_key(base, hold_id), 'expiresAt'))
  if expires_at == nil or expires_at <= now then
    expire_hold(base, seats_key, expiry_key, hold_id)
    return true
  end
  return false
end
