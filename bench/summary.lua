-- SPDX-License-Identifier: ISC
--
-- wrk script for drover's benchmarks: only a done() hook, so wrk spends no
-- Lua time per request.  When the run ends it prints the counters as one
-- JSON line (times in microseconds; "status" counts responses with a
-- status of 400 or more, which is what wrk calls a non-2xx/3xx error):
--
--   {"requests": N, "duration_us": N, "bytes": N,
--    "errors": {"connect": N, "read": N, "write": N, "status": N,
--               "timeout": N},
--    "latency_us": {"p50": N, "p99": N, "max": N}, "rps": N}
--
-- Usage: wrk -t1 -c64 -d20s -s bench/summary.lua http://127.0.0.1:PORT/

function done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6

	io.write(string.format(
	    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
	    '"errors": {"connect": %d, "read": %d, "write": %d, ' ..
	    '"status": %d, "timeout": %d}, ' ..
	    '"latency_us": {"p50": %d, "p99": %d, "max": %d}, ' ..
	    '"rps": %.1f}\n',
	    summary.requests, summary.duration, summary.bytes,
	    e.connect, e.read, e.write, e.status, e.timeout,
	    latency:percentile(50), latency:percentile(99), latency.max,
	    secs > 0 and summary.requests / secs or 0))
end
