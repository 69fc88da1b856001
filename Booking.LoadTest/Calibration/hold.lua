-- wrk script: each request holds one random seat of a performance loaded with SEATS seats
-- (seat ids as Booking.LoadTest makes them: S<section>-<row>-<seat>, 100 rows x 100 seats per section).
-- HOLD_PATH=/hold/p1 (ceiling-server) or /api/performances/<id>/holds (booking-api); SEATS defaults to 100000.
local path = os.getenv("HOLD_PATH") or "/hold/p1"
local seats = tonumber(os.getenv("SEATS") or "100000")
math.randomseed(os.time())

request = function()
  local i = math.random(0, seats - 1)
  local seat = string.format("S%d-%d-%d", math.floor(i / 10000), math.floor((i % 10000) / 100) + 1, i % 100 + 1)
  local headers = { ["Content-Type"] = "application/json", ["X-User-Id"] = "wrk-" .. (i % 500) }
  return wrk.format("POST", path, headers, '{"seatIds":["' .. seat .. '"]}')
end
