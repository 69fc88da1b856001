-- wrk script: each request holds one random seat of a performance loaded with SEATS seats
-- (seat ids as Booking.LoadTest makes them: S<section>-<row>-<seat>, 100 rows x 100 seats per section).
-- HOLD_PATH=/hold/p1 (ceiling-server) or /api/performances/<id>/holds (booking-api); SEATS defaults to 100000.
local path = os.getenv("HOLD_PATH") or "/hold/p1"
local seats = tonumber(os.getenv("SEATS") or "100000")
local threads = 0

-- Each wrk thread has its own Lua state: seed each differently, or they all ask for the same seats.
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

request = function()
  local i = math.random(0, seats - 1)
  local seat = string.format("S%d-%d-%d", math.floor(i / 10000), math.floor((i % 10000) / 100) + 1, i % 100 + 1)
  local headers = { ["Content-Type"] = "application/json", ["X-User-Id"] = "wrk-" .. (i % 500) }
  return wrk.format("POST", path, headers, '{"seatIds":["' .. seat .. '"]}')
end
