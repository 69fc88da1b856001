-- Shared by every script (prepended by the loader). Time is the Redis server's, so that every API
-- instance agrees on when a hold expires. Redis 7 replicates script effects, so TIME is allowed.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A released or expired hold record is kept this long so that retries and look-ups still find it.
local TERMINAL_RETENTION_MS = 86400000

-- Expired holds are purged a page of this many at a time, so each Redis call stays short.
local PURGE_PAGE = 500

local function hold_key(base, hold_id)
  return base .. ':hold:' .. hold_id
end

local function split_csv(csv)
  local items = {}
  for item in string.gmatch(csv or '', '[^,]+') do
    items[#items + 1] = item
  end
  return items
end

local function finish_hold(hk, state)
  redis.call('HSET', hk, 'state', state)
  redis.call('PEXPIRE', hk, TERMINAL_RETENTION_MS)
end

-- Before holding: the answer when the resource's state is not loaded, or when this hold id was used already (a
-- retried call answers what the first one did). nil when the hold may be tried.
local function hold_precheck(state_key, hk)
  if redis.call('EXISTS', state_key) == 0 then
    return {'NOT_LOADED'}
  end
  local existing = redis.call('HMGET', hk, 'state', 'expiresAt')
  if existing[1] then
    return {'EXISTS', existing[1], existing[2]}
  end
  return nil
end

-- Before confirming: the answer for a hold in `state` that is not HELD (missing, booked already, expired or
-- released). nil for a HELD hold, whose expiry the script checks itself.
local function confirm_precheck(state)
  if not state then
    return {'NOT_FOUND'}
  end
  if state == 'BOOKED' then
    return {'ALREADY_CONFIRMED'}
  end
  if state ~= 'HELD' then
    return {state == 'EXPIRED' and 'EXPIRED' or 'RELEASED'}
  end
  return nil
end

-- The part of a release that both kinds share: only the owner ('' = any) may release, and
-- a booked hold stays booked. on_held(hold) releases a HELD hold and returns the reply;
-- any other state is already released and answers {'OK', state}.
local function release_hold(hk, user_id, on_held)
  local hold = redis.call('HMGET', hk, 'state', 'user', 'expiresAt', 'reservation')
  if not hold[1] or (user_id ~= '' and hold[2] ~= user_id) then
    return {'NOT_FOUND'}
  end
  if hold[1] == 'BOOKED' then
    return {'BOOKED'}
  end
  if hold[1] == 'HELD' then
    return on_held(hold)
  end
  return {'OK', hold[1]}
end
