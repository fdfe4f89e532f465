-- wrk script used by bench/checkins.py; not meant to be run by hand.
--
-- BENCH_REQUESTS=<prefix>: wrk thread i sends the pre-signed requests of <prefix>.<i>, in
--   order, each exactly once (one request a line: METHOD \t PATH \t BODY \t Name: value
--   \t ...). The files are disjoint, so no nonce is ever sent twice. A thread that runs
--   out stops and reports it as "exhausted" (the run is then too short to compare).
-- BENCH_REQUESTS unset: every request is GET <url path>, built with the same Host header.
--
-- Both modes do the same client-side work per response (this Lua response() callback),
-- so the ratio between the two runs is not skewed by the load generator. done() prints
-- one "BENCH_RESULT key=value ..." line that checkins.py parses.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

local function load_requests(path)
   local queue = {}
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      local fields = {}
      for field in string.gmatch(line, "[^\t]+") do
         fields[#fields + 1] = field
      end
      local headers = {}
      for k = 4, #fields do
         local name, value = string.match(fields[k], "^([^:]+): (.*)$")
         headers[name] = value
      end
      queue[#queue + 1] = wrk.format(fields[1], fields[2], headers, fields[3])
   end
   file:close()
   return queue
end

function init(args)
   ok, other, sent, exhausted, codes = 0, 0, 0, 0, {}
   local prefix = os.getenv("BENCH_REQUESTS")
   if prefix then
      queue = load_requests(prefix .. "." .. id)
      size = #queue
   else
      fixed = wrk.format("GET", wrk.path, { Host = os.getenv("BENCH_HOST") })
   end
end

function request()
   if fixed then
      sent = sent + 1
      return fixed
   end
   if sent >= size then
      -- Never reuse a nonce: stop this thread instead (nothing is written for "").
      exhausted = 1
      wrk.thread:stop()
      return ""
   end
   sent = sent + 1
   return queue[sent]
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   else
      other = other + 1
      codes[status] = (codes[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local ok_total, other_total, sent_total, exhausted_threads = 0, 0, 0, 0
   local code_totals = {}
   for _, thread in ipairs(threads) do
      ok_total = ok_total + thread:get("ok")
      other_total = other_total + thread:get("other")
      sent_total = sent_total + thread:get("sent")
      exhausted_threads = exhausted_threads + thread:get("exhausted")
      for status, count in pairs(thread:get("codes")) do
         code_totals[status] = (code_totals[status] or 0) + count
      end
   end
   local code_list = {}
   for status, count in pairs(code_totals) do
      code_list[#code_list + 1] = status .. ":" .. count
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d ok=%d other=%d sent=%d exhausted=%d"
         .. " connect=%d read=%d write=%d status=%d timeout=%d"
         .. " p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f codes=%s\n",
      summary.requests, summary.duration, ok_total, other_total, sent_total,
      exhausted_threads, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, table.concat(code_list, ",")
   ))
end
