-- Counted-capacity family. Keys of one slot share the hash tag in `base` (cap:{<DOMAIN>:<resource>:<slot>}):
--   <base>:state   hash capacity, held, booked
--   <base>:expiry  zset holdId -> expiresAt (ms) of every hold still HELD
--   <base>:hold:<holdId> hash state, user, quantity, expiresAt, reservation

-- Counters change only on a loaded slot: HINCRBY on a state that is gone would make a hash of counters alone, without
-- a capacity, which no read could use and no load would replace.
local function add_to(state_key, counter, quantity)
  if redis.call('EXISTS', state_key) == 1 then
    redis.call('HINCRBY', state_key, counter, quantity)
  end
end

local function give_back(state_key, expiry_key, hk, hold_id, counter, final_state)
  local quantity = tonumber(redis.call('HGET', hk, 'quantity'))
  add_to(state_key, counter, -quantity)
  redis.call('ZREM', expiry_key, hold_id)
  finish_hold(hk, final_state)
end

-- Expires every hold whose time has passed. `held` is one counter, so unlike seats an expired hold cannot
-- be recognised lazily: the scripts purge all of them before they read the counters.
local function purge_all_expired(base, state_key, expiry_key, now)
  local total = 0
  repeat
    local expired = redis.call('ZRANGE', expiry_key, '-inf', now, 'BYSCORE', 'LIMIT', 0, PURGE_PAGE)
    for _, hold_id in ipairs(expired) do
      give_back(state_key, expiry_key, hold_key(base, hold_id), hold_id, 'held', 'EXPIRED')
    end
    total = total + #expired
  until #expired < PURGE_PAGE
  return total
end

local function counters(state_key)
  local v = redis.call('HMGET', state_key, 'capacity', 'held', 'booked')
  return tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
end
