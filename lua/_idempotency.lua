-- Shared by the Idempotency-Key scripts. A caller's keys, all under the caller's hash tag: the records
-- (prefix .. name), the index (zset name -> claimed at), the sizes of the answers kept (hash name -> bytes) and
-- their total (a string).

-- Stops counting the size of a key's answer, if one is counted.
local function forget_size(sizes, total, name)
  local size = redis.call('HGET', sizes, name)
  if size then
    redis.call('HDEL', sizes, name)
    redis.call('DECRBY', total, size)
  end
end

-- Drops one record with its index entry and its size.
local function forget_record(index, sizes, total, prefix, name)
  redis.call('DEL', prefix .. name)
  redis.call('ZREM', index, name)
  forget_size(sizes, total, name)
end
