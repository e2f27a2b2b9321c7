-- Load script for wrk, shared by the HTTP measurements of bench/run.py.
--
--   wrk ... -s bench/wrk.lua URL -- get [COOKIE]
--   wrk ... -s bench/wrk.lua URL -- share LOCATION
--   wrk ... -s bench/wrk.lua URL -- checkout PHASE VARIANT_ID STORE_ID
--
-- "get" sends COOKIE (a Cookie header's value: a share-link visitor's or a member's) when
-- given. "share" GETs the URL (a share link) and expects a 302 to exactly LOCATION. "checkout" POSTs
-- a buy-now, pick-up, pay-at-store order; every request carries its own idempotency key and
-- phone number (PHASE, a digit 3-9, keeps warm-up and measured run apart), and expects a 303
-- to an order page. wrk keeps no cookies, so every request comes from a new visitor.
-- Every response status is counted, and the expected redirects; done() prints one JSON line
-- that run.py parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  statuses = {}
  redirects_ok = 0
  if mode == "get" and args[2] then
    wrk.headers["Cookie"] = args[2]
  elseif mode == "share" then
    location = args[2]
  elseif mode == "checkout" then
    phase, variant_id, store_id = args[2], args[3], args[4]
    counter = 0
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  end
end

function request()
  if mode ~= "checkout" then
    return wrk.request()
  end
  counter = counter + 1
  local n = string.format("%d%07d", tid, counter)
  local body = "variant=" .. variant_id .. "&qty=1&fulfilment=pickup&payment_method=store"
    .. "&pickup_store=" .. store_id .. "&name=Bench+Buyer"
    .. "&phone=1" .. phase .. string.format("%09d", tonumber(n))
    .. "&idempotency_key=bench-" .. phase .. "-" .. n
  return wrk.format("POST", "/checkout", headers, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local to = headers["Location"] or headers["location"] or ""
  if mode == "share" and status == 302 and to == location then
    redirects_ok = redirects_ok + 1
  elseif mode == "checkout" and status == 303 and string.find(to, "/o/", 1, true) then
    redirects_ok = redirects_ok + 1
  end
end

function done(summary, latency, requests)
  local merged, ok = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
    ok = ok + thread:get("redirects_ok")
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "statuses": {%s}, "redirects_ok": %d, '
      .. '"socket_errors": %d, "timeouts": %d, "latency_p50_us": %d, "latency_p99_us": %d}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), ok,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
