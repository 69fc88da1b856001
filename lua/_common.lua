-- Shared by every script (prepended by the loader). Time is the Redis server's, so that every API
-- instance agrees on when a hold expires. Redis 7 replicates script effects, so TIME is allowed.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A released or expired hold record is kept this long so that retries and look-ups still find it.
local TERMINAL_RETENTION_MS = 86400000

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
