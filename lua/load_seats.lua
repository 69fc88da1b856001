--! uses: _common _seats
-- Builds a performance's seat state from its seat map plus the bookings PostgreSQL knows of.
-- Runs only when the state is absent, so it can never free a booked or held seat.
-- KEYS: 1 seats. ARGV: 1 base, 2 booked record retention (ms), 3 n (seat count), 4..n+3 seatIds, then triples
--       holdId, userId, seatsCsv
-- Returns {'LOADED'} | {'ALREADY_LOADED'}
local seats_key, base, retention = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', seats_key) == 1 then
  return {'ALREADY_LOADED'}
end
-- Seats go in HSETs of this many fields and values, so no call is given an unbounded argument list.
local HSET_BATCH = 1000

local n = tonumber(ARGV[3])
local batch = {}
for i = 4, n + 3 do
  batch[#batch + 1] = ARGV[i]
  batch[#batch + 1] = 'A'
  if #batch >= HSET_BATCH then
    redis.call('HSET', seats_key, unpack(batch))
    batch = {}
  end
end
if #batch > 0 then
  redis.call('HSET', seats_key, unpack(batch))
end
local i = n + 4
while i + 2 <= #ARGV do
  local hold_id, user_id, csv = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local hk = hold_key(base, hold_id)
  local given_back = redis.call('HGET', hk, 'state')
  -- A hold its saga already gave back (on a performance dropped while idle, unbook_seats marks only the record) is
  -- left out, though PostgreSQL read it before the saga's last commit.
  if given_back ~= 'UNBOOKED' and given_back ~= 'RELEASED' then
    for _, seat in ipairs(split_csv(csv)) do
      redis.call('HSET', seats_key, seat, 'B:' .. hold_id)
    end
    redis.call('HSET', hk, 'state', 'BOOKED', 'user', user_id, 'seats', csv, 'expiresAt', 0)
    -- Kept as long as a confirmed one (confirm_seats): past it, compensation works from PostgreSQL's copy.
    redis.call('PEXPIRE', hk, retention)
  end
  i = i + 3
end
return {'LOADED'}
