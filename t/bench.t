#!/bin/sh
# SPDX-License-Identifier: ISC
# The benchmark scripts keep working: bench/compare --smoke runs the
# drover targets of the comparison (hello-c, and bench/app.js under the
# Node helper) for a few seconds each, through every measurement the
# full run makes (start, idle, keep-alive and connection-per-request
# load, kill -9, reloads under load, stop), and bench/report turns its
# JSON into the results page.  What is checked is what a reader of
# doc/benchmarks.md relies on: every figure is there, requests were
# served, the killed worker was replaced and answered, all 5 reloads
# under each load finished with 2 workers serving after them, and no
# process the benchmark started outlives it.  Figures are not judged:
# the machine is shared.  Needs wrk (build-aux/install-deps installs it);
# without node the Node target is skipped, and says so.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}

if ! command -v wrk >/dev/null 2>&1; then
	echo "1..0 # SKIP wrk is not installed (build-aux/install-deps" \
	    "installs it)"
	exit 0
fi
echo "1..6"
for f in "$builddir/supervisor/drover" \
    "$builddir/examples/hello-c/hello-c"; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f is not built"
		exit 1
	fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/drover-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
# Every master records its slot transitions for t/transitions.
DROVER_DEBUG_TRANSITIONS=${DROVER_DEBUG_TRANSITIONS:-$builddir/t/transitions.txt}
export DROVER_DEBUG_TRANSITIONS

# compare's own scratch directories go under $tmp, so that the processes
# it started can be told by their command lines.
TMPDIR=$tmp timeout 300 python3 "$srcdir/bench/compare" --smoke \
    --build "$builddir" --json "$tmp/smoke.json" >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -s "$tmp/smoke.json" ]; then
	echo "ok 1 - bench/compare --smoke ran and wrote its JSON"
else
	echo "not ok 1 - bench/compare --smoke ran and wrote its JSON (exit $rc)"
	sed 's/^/# /' "$tmp/out"
	fail=1
fi

# Tests 2 and 3: each target's figures.
python3 - "$tmp/smoke.json" <<'EOF' || fail=1
import json, sys
try:
    data = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    data = {"runs": [], "skipped": {}}
    print(f"# no JSON: {e}")
fail, n = 0, 2
for target in ("drover-c", "drover-helper"):
    name = f"{target}: every figure, requests served, kill and reloads over"
    if target in data["skipped"]:
        print(f"ok {n} - {name} # SKIP {data['skipped'][target]}")
        n += 1
        continue
    runs = [r for r in data["runs"] if r["target"] == target]
    bad = []
    if len(runs) != 1:
        bad.append(f"{len(runs)} runs")
    for r in runs:
        if "error" in r:
            bad.append("error: " + r["error"])
            continue
        for k in ("start_ms", "stop_ms", "idle_ctxsw_per_s",
                  "mem_idle_rss_kib", "mem_idle_anon_kib", "mem_idle_pss_kib",
                  "mem_load_rss_kib", "ka_sup_cpu_s", "close_server_cpu_s",
                  "kill_exists_ms", "kill_answers_ms"):
            if r.get(k) is None:
                bad.append(f"{k} missing")
        for p in ("ka", "close", "reload_ka", "reload_close"):
            if not r.get(f"{p}_requests", 0) > 0:
                bad.append(f"{p}: no request served")
        for p in ("reload_ka", "reload_close"):
            if r.get(f"{p}_reloads_done") != 5 or \
                    len(r.get(f"{p}_gone_ms", [])) != 5:
                bad.append(f"{p}: {r.get(p + '_reloads_done')} of 5 "
                           "reloads over")
            if r.get(f"{p}_serving_after") is not True:
                bad.append(f"{p}: not 2 workers serving after the reloads")
    print(("ok" if not bad else "not ok") + f" {n} - {name}")
    for b in bad:
        print(f"# {b}")
    fail |= bool(bad)
    n += 1
sys.exit(fail)
EOF

# Test 4: nothing the benchmark started is left (their command lines
# hold $tmp: drover's -s, PM2_HOME, nginx's -p).
left=
for d in /proc/[0-9]*; do
	if cat "$d/cmdline" 2>/dev/null | tr '\0' ' ' | grep -qF "$tmp/"
	then
		left="$left ${d#/proc/}"
	fi
done
if [ -z "$left" ]; then
	echo "ok 4 - no process of the benchmark is left"
else
	echo "not ok 4 - no process of the benchmark is left:$left"
	fail=1
fi

# Tests 5 and 6: the page, and its plots where gnuplot is installed.
python3 "$srcdir/bench/report" --compare "$tmp/smoke.json" \
    --out "$tmp/doc" --no-plots >"$tmp/report.out" 2>&1
rc=$?
rows=$(grep -c '^| drover-\(c\|helper\) |' "$tmp/doc/benchmarks.md" 2>/dev/null)
if [ $rc -eq 0 ] && [ "${rows:-0}" -ge 16 ]; then
	echo "ok 5 - bench/report writes the page ($rows target rows)"
else
	echo "not ok 5 - bench/report writes the page (exit $rc," \
	    "${rows:-0} target rows)"
	sed 's/^/# /' "$tmp/report.out"
	fail=1
fi
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "ok 6 - bench/report draws the plots # SKIP gnuplot is not" \
	    "installed (apt-get install gnuplot-nox)"
elif python3 "$srcdir/bench/report" --compare "$tmp/smoke.json" \
    --out "$tmp/doc" >"$tmp/report.out" 2>&1 &&
    grep -q '<svg' "$tmp/doc/throughput.svg" &&
    grep -q '<svg' "$tmp/doc/reload-errors.svg"; then
	echo "ok 6 - bench/report draws the plots"
else
	echo "not ok 6 - bench/report draws the plots"
	sed 's/^/# /' "$tmp/report.out"
	fail=1
fi
exit $fail
