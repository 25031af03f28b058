# SPDX-License-Identifier: ISC
"""What drover's benchmark scripts share: /proc readers, event sources,
the HTTP probe, wrk's summary and the median [min-max] text of a series.

The scripts import it from their own directory (bench/): python puts a
script's directory first on sys.path.  They set sys.dont_write_bytecode
before, so that no __pycache__ appears in the source tree.  Python 3
standard library only.
"""

import ctypes, json, os, socket, statistics, struct, subprocess, time

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")

# ---- /proc readers -------------------------------------------------------------

def proc_mem(pid):
    """VmRSS, RssAnon, RssFile and Pss of pid, in KiB."""
    mem = {}
    for path, keys in ((f"/proc/{pid}/status", ("VmRSS", "RssAnon", "RssFile")),
                       (f"/proc/{pid}/smaps_rollup", ("Pss",))):
        with open(path) as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in keys:
                    mem[key] = int(rest.split()[0])
    return mem

def proc_cpu(pid):
    """(utime+stime ms, on-CPU ms from schedstat, context switches) of pid,
    all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    stat_ms = (int(fields[11]) + int(fields[12])) * TICK_MS   # fields 14, 15
    sched_ns = ctxsw = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            sched_ns += int(f.read().split()[0])
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            ctxsw += sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
    return stat_ms, sched_ns / 1e6, ctxsw

def proc_times(pid):
    """(utime+stime, cutime+cstime) of pid in ms, in whole ticks; the second
    is the CPU of the children it has reaped.  (0, 0) once pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    return ((int(fields[11]) + int(fields[12])) * TICK_MS,
            (int(fields[13]) + int(fields[14])) * TICK_MS)

def proc_start(pid):
    """The start time of pid (clock ticks since boot), None if it is gone or
    a zombie: with the pid, it names one process, whatever reuses the pid
    later."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])

def children(pid):
    """The pids of pid's children, made by any of its threads (a Node
    process forks from whichever thread libuv chose)."""
    kids = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return kids

def kthreads_ms():
    """{pid: utime+stime in ms} of every kernel thread (kthreadd and its
    children: the ksoftirqd and kworker threads that loopback traffic keeps
    busy)."""
    times = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if name == "2" or fields[1] == "2":
            times[name] = (int(fields[11]) + int(fields[12])) * TICK_MS
    return times

def machine_busy_ms():
    """CPU time of the whole machine that was not idle, in ms."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) * TICK_MS     # minus idle and iowait

class CpuWatch:
    """CPU used from start to stop(): by the master (the supervisor), by its
    workers (the ones alive at either end and the ones reaped meanwhile,
    through the master's cutime+cstime) and by the whole machine."""

    def __init__(self, pid):
        self.pid = pid
        self.kids0 = self.kids()
        self.master0, self.reaped0 = proc_times(pid)
        self.machine0, self.kthreads0 = machine_busy_ms(), kthreads_ms()
        self.self0 = sum(os.times()[:2]) * 1e3

    def kids(self):
        return {p: proc_times(p)[0] for p in children(self.pid)}

    def stop(self):
        """{"master", "workers", "kthreads", "machine", "self"}: ms since
        start."""
        kids = self.kids()
        master, reaped = proc_times(self.pid)
        return {"master": master - self.master0,
                "workers": reaped - self.reaped0 + sum(kids.values())
                           - sum(self.kids0.values()),
                "machine": machine_busy_ms() - self.machine0,
                "kthreads": sum(t - self.kthreads0.get(p, 0.0)
                                for p, t in kthreads_ms().items()),
                "self": sum(os.times()[:2]) * 1e3 - self.self0}

# ---- event sources ---------------------------------------------------------------

class Inotify:
    """inotify(7) through ctypes: names of the files changed in one directory."""
    IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO = 0x2, 0x8, 0x80

    def __init__(self, directory):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        mask = self.IN_MODIFY | self.IN_CLOSE_WRITE | self.IN_MOVED_TO
        if self.fd < 0 or libc.inotify_add_watch(
                self.fd, os.fsencode(directory), mask) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def fileno(self):
        return self.fd

    def names(self):
        """Drain the queue; return the set of file names with events."""
        data, names = os.read(self.fd, 65536), set()
        while data:
            _, _, _, size = struct.unpack_from("iIII", data)
            names.add(data[16:16 + size].rstrip(b"\0").decode())
            data = data[16 + size:]
        return names

    def close(self):
        os.close(self.fd)

# ---- the network -------------------------------------------------------------------

def free_port():
    """A free loopback TCP port (nginx cannot listen on port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def http_get(port, path="/", timeout=2.0):
    """GET path from 127.0.0.1:port on a new connection: (status, body), or
    None when there is no answer (refused, reset, timed out)."""
    try:
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(None, 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    return int(parts[1]), body.decode(errors="replace")

# ---- wrk ---------------------------------------------------------------------------

def wrk_argv(wrk, lua, port, secs, close, conns=64):
    """wrk's command line: one thread, conns connections, secs seconds,
    bench/summary.lua's JSON at the end, one connection per request when
    close is set."""
    argv = [wrk, "-t1", f"-c{conns}", f"-d{secs}s", "-s", lua]
    if close:
        argv += ["-H", "Connection: close"]
    return argv + [f"http://127.0.0.1:{port}/"]

def wrk_summary(text):
    """The JSON line bench/summary.lua printed, as a dict; None without it."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None

# ---- report ------------------------------------------------------------------------

def summary(values, decimals):
    """(median, text): the median of values as text, with [min-max] when
    they differ.  (None, "-") without values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, "-"
    med = statistics.median(values)
    rng = (f" [{min(values):.{decimals}f}-{max(values):.{decimals}f}]"
           if len(values) > 1 and min(values) != max(values) else "")
    return med, f"{med:.{decimals}f}{rng}"

def print_table(table):
    """Print rows of cells: the first column left-aligned, the others
    right-aligned, a rule under the header."""
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    for j, row in enumerate(table):
        print("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                        for c, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))

def version(argv):
    """The first line a program prints about its version, "?" if none."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"

def wait_until(pred, limit=10.0, step=0.01):
    """Call pred() every step seconds until it returns something true
    (returned) or limit seconds pass (None)."""
    end = time.monotonic() + limit
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(step)

# ---- bench/compare's tables: it prints them, bench/report writes them ----------

def _values(runs, key):
    """The values of key over runs: a key whose values are lists (one per
    reload) is pooled; a callable key is called with each run."""
    out = []
    for r in runs:
        v = key(r) if callable(key) else r.get(key)
        out.extend(v if isinstance(v, list) else [v])
    return [v for v in out if v is not None]

def _errors_other(prefix):
    return lambda r: (None if r.get(f"{prefix}_errors") is None else
                      r[f"{prefix}_errors"] - r[f"{prefix}_err_read"])

def _load_cols(p):
    return [("req/s", f"{p}_rps", 0), ("p99 ms", f"{p}_p99_ms", 1),
            ("max ms", f"{p}_max_ms", 0),
            ("server CPU-s", f"{p}_server_cpu_s", 2),
            ("supervisor CPU-s", f"{p}_sup_cpu_s", 2),
            ("wrk CPU-s", f"{p}_wrk_cpu_s", 2),
            ("req per server CPU-s", f"{p}_req_per_cpu_s", 0)]

def _reload_cols(p):
    return [("errors", f"{p}_errors", 0), ("of which read", f"{p}_err_read", 0),
            ("other errors", _errors_other(p), 0),
            ("max ms", f"{p}_max_ms", 0), ("p99 ms", f"{p}_p99_ms", 1),
            ("req/s", f"{p}_rps", 0),
            ("reloads over", f"{p}_reloads_done", 0),
            ("each reload ms [1]", f"{p}_gone_ms", 0)]

def compare_spec(s):
    """(title, note, columns) of each table, columns as (header, key,
    decimals); s is the "settings" of bench/compare's JSON."""
    d, rd, idle = s["duration"], s["reload_duration"], s["idle"]
    c = s["connections"]
    at = ", ".join(f"{a * rd:g}" for a in s["reload_at"])
    load = (f"`wrk -t1 -c{c} -d{d}s` after a {s['warmup']} s warm-up; "
            "CPU-seconds used during the run; server = supervisor + workers")
    rel = (f"`wrk -t1 -c{c} -d{rd}s`, {len(s['reload_at'])} reloads at t = "
           f"{at} s.  Other errors: connect, write, non-2xx and timeout (a "
           "request that took over wrk's 2 s).  [1] From the ask until no "
           f"worker of before is left and {s['workers']} run, pooled over "
           "the rounds")
    return [
        ("Requests/s, keep-alive", load, _load_cols("ka")),
        ("Requests/s, a new connection per request",
         load.replace("` after", " -H 'Connection: close'` after"), _load_cols("close")),
        ("Supervisor memory (KiB)",
         f"VmRSS and RssAnon from /proc/PID/status, Pss from smaps_rollup; "
         f"idle: {s['settle']:g} + {idle:g} s after start; after load: after "
         "the two measured runs",
         [("RSS idle", "mem_idle_rss_kib", 0),
          ("RssAnon idle", "mem_idle_anon_kib", 0),
          ("Pss idle", "mem_idle_pss_kib", 0),
          ("RSS after load", "mem_load_rss_kib", 0),
          ("RssAnon after load", "mem_load_anon_kib", 0),
          ("Pss after load", "mem_load_pss_kib", 0)]),
        ("Restart after kill -9 of a worker (ms)",
         "The oldest worker, idle; the new worker answers: GET /pid on a new "
         "connection every ms until its pid comes back",
         [("victim age s", "kill_victim_age_s", 0),
          ("new worker exists", "kill_exists_ms", 1),
          ("new worker answers", "kill_answers_ms", 1)]),
        ("Reloads under keep-alive load", rel, _reload_cols("reload_ka")),
        ("Reloads under connection-per-request load", rel,
         _reload_cols("reload_close")),
        ("Supervisor at idle",
         f"Over {idle:g} s, {s['settle']:g} s after start: context switches "
         "of all its threads, utime+stime and on-CPU time (schedstat)",
         [("wake-ups/s", "idle_ctxsw_per_s", 2),
          ("CPU ms/s", "idle_cpu_ms_per_s", 2),
          ("on-CPU ms/s", "idle_oncpu_ms_per_s", 3)]),
        ("Start and stop (ms)",
         "Launch until GET / is answered (one try a ms); stop: SIGTERM "
         "(PM2: pm2 kill) until every process is gone",
         [("port answers", "start_ms", 0), ("stop", "stop_ms", 0)]),
        ("Other processes' CPU-s during the measured runs",
         "Machine busy time (/proc/stat) minus the server, wrk, kernel "
         "threads and the script: others' work on the shared machine",
         [("keep-alive", "ka_other_cpu_s", 2),
          ("connection per request", "close_other_cpu_s", 2),
          ("reloads, keep-alive", "reload_ka_other_cpu_s", 2),
          ("reloads, per request", "reload_close_other_cpu_s", 2)]),
    ]

def compare_tables(data):
    """[(title, note, table)] of bench/compare's JSON data; table is a list
    of rows of strings, the header first: median [min-max] over rounds."""
    out = []
    for title, note, cols in compare_spec(data["settings"]):
        table = [["target"] + [h for h, _, _ in cols]]
        for t in data["targets"]:
            runs = [r for r in data["runs"] if r["target"] == t
                    and "error" not in r]
            table.append([t] + [summary(_values(runs, k), dec)[1]
                                for _, k, dec in cols])
        out.append((title, note, table))
    failed = [r for r in data["runs"] if "error" in r]
    if failed:
        out.append(("Failed runs", None, [["target", "round", "error"]] + [
            [r["target"], str(r["round"]),
             r["error"].splitlines()[0]] for r in failed]))
    return out
