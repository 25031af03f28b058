/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Helpers for drover's integration tests: where the built tree is, private
 * temporary directories, starting the real daemon in one of them and
 * waiting on it, reading its status.json with a small JSON parser, and
 * talking HTTP to its workers over loopback.  Every wait has a deadline and
 * is driven by poll(2) on a pidfd, an inotify descriptor or a socket: no
 * helper sleeps.  Whatever a test leaves behind (daemons, their workers,
 * temporary directories, FIFO descriptors) is killed, removed or closed
 * when the test exits, also when it bails out.  Strings returned as
 * "const char *" belong to the library and live until exit; "char *" and
 * "struct tl_json *" results belong to the caller.
 *
 * The library is one file per concern, and this is its one header, in
 * sections in the same order: tl-path.c (paths, temporary directories,
 * what the library owns), tl-daemon.c (starting and stopping the daemon),
 * tl-status.c (status.json and waiting on it), tl-proc.c (processes and
 * /proc), tl-file.c (files, FIFOs, the log), tl-net.c (loopback and
 * HTTP), tl-sockdiag.c (which process serves a connection), tl-run.c
 * (running a command), tl-client.c (the continuous client) and
 * tl-check.c (checks several tests make, the only helpers that report
 * tests); the JSON reader is droverctl's, below.  A test includes this
 * header and tap.h, nothing else; what the files share privately is in
 * tl-private.h.  One header rather than one per concern: a test reads
 * the whole interface in one place, and needs no list of includes that
 * changes with what it uses.
 */

#ifndef DROVER_TESTLIB_H
#define DROVER_TESTLIB_H

#include <sys/types.h>
#include <sys/resource.h>

#include <stddef.h>

#include "../supervisor/json.h"

/*
 * JSON: the reader droverctl uses too (supervisor/json.c, declared in
 * supervisor/json.h, which says what each function does), under the
 * tl_ names the tests have always used for it.
 */
#define tl_json		json
#define tl_json_type	json_type
#define TL_JSON_NULL	JSON_NULL
#define TL_JSON_BOOL	JSON_BOOL
#define TL_JSON_NUMBER	JSON_NUMBER
#define TL_JSON_STRING	JSON_STRING
#define TL_JSON_ARRAY	JSON_ARRAY
#define TL_JSON_OBJECT	JSON_OBJECT
#define tl_json_parse	json_parse
#define tl_json_free	json_free
#define tl_json_get	json_get
#define tl_json_int	json_int
#define tl_json_num	json_num
#define tl_json_str	json_str
#define tl_json_is_null	json_is_null
#define tl_json_bool	json_bool
#define tl_json_len	json_len

#define TL_PRINTF(f, a)	__attribute__((format(printf, f, a)))

/*
 * Paths (tl-path.c).  The build and source trees come from
 * $abs_top_builddir and $abs_top_srcdir (exported by make check), else
 * from the location of the test binary, which lives in BUILDDIR/t.
 * tl_path() and tl_srcpath() join a relative path to them; tl_fmt()
 * formats any string.  All three return library-owned strings.
 */
const char	*tl_builddir(void);
const char	*tl_srcdir(void);
const char	*tl_path(const char *);
const char	*tl_srcpath(const char *);
const char	*tl_fmt(const char *, ...) TL_PRINTF(1, 2);

/*
 * A fresh directory under $TMPDIR (or /tmp), removed with its contents at
 * exit unless $TL_KEEP is set.  Bails out on failure.
 */
const char	*tl_tmpdir(void);

/*
 * A running daemon (tl-daemon.c).  tl_daemon_start() fills every field:
 * dir is a new temporary directory and the daemon's working directory,
 * state is dir/state (passed as "-s state", created by the daemon
 * itself), log is dir/drover.log and receives the daemon's stdout and
 * stderr; stdin is /dev/null.  conf is the configuration file
 * tl_start_conf() wrote, else NULL.  pidfd is -1 where pidfd_open(2) is
 * missing (under valgrind).  After tl_daemon_wait() has reaped it, exited
 * is 1, status holds what tl_daemon_wait() returned and pidfd is -1.  The
 * strings belong to the library.  The binary is $TL_DROVER if set, else
 * BUILDDIR/supervisor/drover; the words of $TL_DAEMON_WRAPPER (valgrind,
 * say) go before it.
 */
struct tl_daemon {
	pid_t		 pid;
	int		 pidfd;
	char		*dir;
	char		*state;
	char		*log;
	const char	*conf;
	int		 status;
	int		 exited;
};

/* Start drover with "-s STATE" followed by argv (NULL-terminated). */
int		 tl_daemon_start(struct tl_daemon *, const char *const []);
/* Send a signal (pidfd_send_signal); -1 with ESRCH once reaped. */
int		 tl_daemon_kill(struct tl_daemon *, int);
/*
 * Wait for the daemon to exit and reap it.  Returns its exit code, 128 +
 * the signal that killed it, or -1 on timeout.  A negative timeout waits
 * forever.
 */
int		 tl_daemon_wait(struct tl_daemon *, int);
/* SIGTERM, then tl_daemon_wait(). */
int		 tl_daemon_stop(struct tl_daemon *, int);

/*
 * Starting a master the way most tests do.  tl_start() starts drover
 * with argv, like tl_daemon_start(); tl_start_conf() first writes conftext
 * to a new configuration file (tl_conf_file(), kept in d->conf), then
 * starts drover with "-c FILE" followed by extra (NULL-terminated, or
 * NULL for none).  Both bail out if drover cannot be started.  With
 * wait_ready, both then wait up to TL_READY_MS (tl_slow_ms()) for a
 * status.json in which every slot is ready (tl_pred_all_ready()) and
 * return it, for the caller to free; if none comes, they show the end of
 * the daemon's log and bail out, saying whether it exited or timed out.
 * Without, they return NULL at once.
 */
#define TL_READY_MS	15000
struct tl_json	*tl_start(struct tl_daemon *, const char *const [], int);
struct tl_json	*tl_start_conf(struct tl_daemon *, const char *,
		    const char *const [], int);

/*
 * For a test that checks that a master gets ready and goes on to its next
 * case if not: tl_start_wait() starts drover with argv (bailing out if it
 * cannot) and waits up to timeout_ms for every slot to be ready.  It
 * returns that status, for the caller to free, or NULL once the daemon,
 * which did not get ready, has been killed (SIGKILL) and reaped.
 */
struct tl_json	*tl_start_wait(struct tl_daemon *, const char *const [], int);

/*
 * Configuration files.  tl_conf_file() writes the formatted text to
 * drover.conf in a fresh temporary directory and returns its path.
 * tl_conf_rewrite() replaces the text of the file tl_start_conf() wrote
 * for d, atomically, for a reload or an upgrade to read.  Both bail out
 * if they cannot write.
 */
const char	*tl_conf_file(const char *, ...) TL_PRINTF(1, 2);
void		 tl_conf_rewrite(const struct tl_daemon *, const char *, ...)
		    TL_PRINTF(2, 3);

/*
 * status.json (tl-status.c).  tl_status() reads it once (NULL if absent
 * or unparsable).  tl_status_wait() waits on inotify until a version
 * satisfies pred and returns it; NULL on timeout or when the daemon exits
 * first, after a diag() of the last version seen.  The state directory
 * need not exist yet.
 */
struct tl_json	*tl_status(const struct tl_daemon *);
struct tl_json	*tl_status_wait(struct tl_daemon *,
		    int (*)(const struct tl_json *, void *), void *, int);

/* "ready" is true and every slot is "ready" with a pid; arg unused. */
int		 tl_pred_all_ready(const struct tl_json *, void *);

/* Slot arg->slot is "ready" with a pid other than arg->oldpid. */
struct tl_slot_pid {
	int		 slot;
	long long	 oldpid;
};
int		 tl_pred_slot_pid_changed(const struct tl_json *, void *);

/*
 * The value at path equals str (if str is not NULL) or num (a number, or
 * a boolean as 0/1).
 */
struct tl_match {
	const char	*path;
	const char	*str;
	long long	 num;
};
int		 tl_pred_match(const struct tl_json *, void *);

/* listeners.N.port, or -1. */
int		 tl_port(const struct tl_json *, int);

/*
 * The pids of slots 0 to n - 1 of a status (0 where there is none);
 * tl_pid_of() that of slot k.
 */
void		 tl_pids(const struct tl_json *, pid_t *, int);
pid_t		 tl_pid_of(const struct tl_json *, int);

/*
 * Whether generation gen runs alone on nslots slots: state "running",
 * ready, no reload pending, and exactly nslots slots, each ready with a
 * worker of that generation and no old worker.
 */
int		 tl_runs_alone(const struct tl_json *, long long, int);

/*
 * Wait until generation gen runs alone after a reload: state "running",
 * ready, reload.result "ok" and none pending, and every one of nslots
 * slots ready with a worker of that generation and no old worker.  The
 * status, or NULL as tl_status_wait().
 */
struct tl_json	*tl_wait_generation(struct tl_daemon *, long long, int, int);

/*
 * n reloads, one after the other, from the generation status.json shows:
 * each a SIGHUP and then tl_wait_generation() of the next generation on
 * nslots slots.  It returns how many were over, n if all, and stops at
 * the first that is not.
 */
int		 tl_reloads(struct tl_daemon *, int, int, int);

/*
 * Conditions on status.json, for a wait that says in place what it waits
 * for: TL_WAIT(d, ms, TL_STR("slots.0.state", "ready"), TL_EQ("ready", 1))
 * waits until every condition holds and returns that status, or NULL
 * after ms or once the daemon has exited (as tl_status_wait()).  The
 * value at path must be: TL_STR, the string s; TL_EQ, the integer (or the
 * boolean, as 0 or 1) n; TL_MIN, one at least n; TL_NE, one other than n.
 * A path that is absent fails every condition.  tl_pred_conds() is the
 * predicate, on an array of struct tl_cond that ends with TL_END.
 */
enum tl_cond_op {
	TL_C_END,
	TL_C_STR,
	TL_C_HAS,
	TL_C_EQ,
	TL_C_MIN,
	TL_C_NE
};

struct tl_cond {
	enum tl_cond_op	 c_op;
	const char	*c_path;
	const char	*c_str;
	long long	 c_num;
};

#define TL_STR(p, s)	{ TL_C_STR, (p), (s), 0 }
#define TL_HAS(p, s)	{ TL_C_HAS, (p), (s), 0 }
#define TL_EQ(p, n)	{ TL_C_EQ, (p), NULL, (n) }
#define TL_MIN(p, n)	{ TL_C_MIN, (p), NULL, (n) }
#define TL_NE(p, n)	{ TL_C_NE, (p), NULL, (n) }
#define TL_END		{ TL_C_END, NULL, NULL, 0 }
#define TL_WAIT(d, ms, ...)						\
	tl_status_wait((d), tl_pred_conds,				\
	    (struct tl_cond[]){ __VA_ARGS__, TL_END }, (ms))

int		 tl_pred_conds(const struct tl_json *, void *);

/*
 * Processes (tl-proc.c).  tl_wait_pid_gone() waits for any process (not
 * only a child) to exit: 0 when gone, -1 on timeout.  tl_children() lists
 * the pids whose parent is ppid (from /proc), sorted; it returns how many
 * it stored or -1.  tl_become(), in a child the test forked, makes it
 * that user and group with no supplementary groups: 0, or -1 with errno.
 */
int		 tl_wait_pid_gone(pid_t, int);
int		 tl_children(pid_t, pid_t *, int);
int		 tl_become(uid_t, gid_t);

/*
 * What /proc says of a process.  tl_env_of() returns the value of a
 * variable in the environment it started with (the first, if several
 * entries define it), or NULL; tl_env_count() says how many entries define
 * the variable (0 if none or no such process).  tl_proc_status() returns
 * the value of a field of /proc/PID/status ("SigBlk") without the blanks
 * before it, or NULL; tl_proc_status_kb() that of a size field ("VmRSS")
 * in kB, or -1.  Strings belong to the library.
 */
const char	*tl_env_of(pid_t, const char *);
int		 tl_env_count(pid_t, const char *);
const char	*tl_proc_status(pid_t, const char *);
long		 tl_proc_status_kb(pid_t, const char *);

/*
 * Descriptors of a process, from /proc/PID/fd, sorted by number.
 * tl_fd_inodes() lists the sockets (inode and fd number), tl_fd_list()
 * every fd.  Both return how many they stored (at most max) or -1.
 * tl_fd_socket() returns the inode of the socket on fd of pid, or 0.
 */
int		 tl_fd_inodes(pid_t, unsigned long *, int *, int);
unsigned long	 tl_fd_socket(pid_t, int);
int		 tl_fd_list(pid_t, int *, int);

/*
 * tl_fd_starve() lowers the descriptor limit (RLIMIT_NOFILE) of pid so
 * that exactly extra descriptor numbers below it are free (holes count),
 * so that it can open at most extra new ones, and saves the limit it had
 * in *old for tl_fd_restore().
 * Both bail out on failure.
 */
void		 tl_fd_starve(pid_t, int, struct rlimit *);
void		 tl_fd_restore(pid_t, const struct rlimit *);

/* Milliseconds on the monotonic clock, for measuring how long things take. */
long long	 tl_now_ms(void);

/*
 * Wait ms milliseconds: only for spacing stimuli a test sends on purpose
 * (signals 2 ms apart, say), never to wait for something to happen.
 */
void		 tl_pause_ms(int);

/*
 * The timeout for something the master must get done, for a master that
 * may run slower than the test assumes: under make check-valgrind
 * ($DROVER_TEST_VALGRIND), where memcheck makes the master some 10 to 50
 * times slower, ms times TL_VALGRIND_SLOWER; else ms.  Only for a wait
 * that ends as soon as what it waits for happens, never for a time
 * within which the master must not act.
 */
#define TL_VALGRIND_SLOWER	4
int		 tl_slow_ms(int);

/*
 * Files (tl-file.c).  tl_wait_log() waits until the daemon's log contains
 * needle (0) or the deadline passes or the daemon exits without writing
 * it (-1); tl_wait_log_count() until it contains needle n times.
 * tl_slurp() returns a whole file, NUL-terminated, or NULL with errno.
 * tl_count() counts non-overlapping occurrences, tl_log_count() those in
 * the daemon's log (-1 if it cannot be read).  tl_write_file() creates
 * or replaces a file with formatted text; 0 or -1.
 */
int		 tl_wait_log(struct tl_daemon *, const char *, int);
int		 tl_wait_log_count(struct tl_daemon *, const char *, int, int);
char		*tl_slurp(const char *);
int		 tl_count(const char *, const char *);
int		 tl_log_count(const struct tl_daemon *, const char *);
int		 tl_write_file(const char *, const char *, ...) TL_PRINTF(2, 3);

/*
 * Watching a state directory: tl_state_watch() starts an inotify watch
 * on dir and returns its descriptor; tl_state_events() reads what it saw
 * since, without waiting, and closes it: how often `ready` left (removed
 * or renamed away) and how often status.json was renamed into place.  It
 * returns -1 if the event queue overflowed, so that nothing can be told.
 * Both bail out on failure.
 */
int		 tl_state_watch(const char *);
int		 tl_state_events(int, int *, int *);

/*
 * FIFOs that gate workers: a worker blocks reading a line from one until
 * the test lets it go on.  tl_fifo_new() makes dir/name (bailing out if it
 * cannot) and returns its path.  tl_fifo_release() writes one line to it
 * through a descriptor opened read-write, which never blocks, and held
 * open until exit: the line waits there for a worker that has not opened
 * the FIFO yet, and a worker that opens it later blocks instead of reading
 * end of file.  Call it once per line to let several readers go on.
 */
const char	*tl_fifo_new(const char *, const char *);
void		 tl_fifo_release(const char *);

/*
 * Loopback networking (tl-net.c).  tl_connect() and tl_connect_unix()
 * return a blocking socket or -1.  tl_http_request() sends a GET.
 * tl_http_response() reads exactly one response (so pipelined responses
 * stay in the socket for the next call): 0 on success, -2 on a clean EOF
 * before the first byte, -1 with errno otherwise (ETIMEDOUT, ECONNRESET,
 * EPROTO for a truncated or malformed response).  The body is
 * NUL-terminated and truncated to bodysz - 1 bytes; status, body and
 * close_hdr may be NULL.  tl_http_get() does one request on a new
 * connection with a 5 s deadline; 0 on success.  tl_send_dgram() sends
 * one datagram to a unix socket path and returns what sendto(2) does.
 */
int		 tl_connect(int);
int		 tl_connect_unix(const char *);
ssize_t		 tl_send_dgram(const char *, const char *);
int		 tl_http_request(int, const char *, int);
int		 tl_http_response(int, int, int *, char *, size_t, int *);
int		 tl_http_get(int, const char *, int *, char *, size_t);

/*
 * Which process serves a connection (tl-sockdiag.c): tl_served_by()
 * returns the pid among pids[0..n-1] that holds the server's end of the
 * connected TCP socket fd, as the kernel says (sock_diag(7) and
 * /proc/PID/fd), or -1.
 */
pid_t		 tl_served_by(int, const pid_t *, int);

/*
 * Running a command (tl-run.c).  tl_run() runs argv (argv[0] is looked
 * up in $PATH) with stdin from /dev/null and stdout and stderr captured
 * together into *output (malloc'd, may be NULL to discard).  Returns the
 * exit code, 128 + signal, or -1 on timeout after killing it.
 * tl_in_path() says whether an executable of that name is in $PATH.
 */
int		 tl_run(const char *const [], int, char **);
int		 tl_in_path(const char *);

/*
 * A continuous client (tl-client.c): a process of its own that makes
 * requests to 127.0.0.1:port until tl_client_stop(), GET path answered
 * 200 with exactly body, one new connection per request or, with
 * keepalive, as many requests per connection as the server allows (an
 * answer with "Connection: close" is no failure: the client reconnects,
 * as clients must).  A request fails when the connection cannot be made,
 * is reset or closed without an answer (it is then dropped, too), is not
 * answered within reply_ms, or the answer is not 200 with body; the
 * first few failures are described with diag().  With retry, a request
 * on a reused connection that is closed or reset without an answer is
 * sent once more on a new connection, as HTTP clients may do (RFC 9112,
 * 9.3.1) and curl, browsers and urllib3 do; it fails only if that fails
 * too, and is counted in retries.  A nice other than 0 is the client's
 * nice value (setpriority(2)), so that a client in a tight loop does not
 * starve a server that is starting.  The zero options are GET / answered
 * "hello\n", a new connection per request, 10 s for an answer, no retry,
 * nice 0; tl_client_start() sets only keepalive.
 *
 * tl_client_start_opt() returns once the first request was made (bailing
 * out otherwise); tl_client_stop() fills the tally: 0, or -1 (and a zero
 * tally) if the client did not report.  Each waits up to reply_ms and
 * 5 s more.
 */
struct tl_client_opt {
	const char	*path;		/* NULL: "/" */
	const char	*body;		/* NULL: "hello\n" */
	int		 keepalive;
	int		 retry;		/* once more on a new connection */
	int		 reply_ms;	/* 0: 10 s */
	int		 nice;		/* 0: as the test */
};

struct tl_client {
	pid_t		 pid;
	int		 ctl;		/* a byte or EOF tells it to stop */
	int		 res;		/* "S" once started, then the tally */
	int		 wait_ms;	/* for "S", then for the tally */
	const char	*what;
};

struct tl_tally {
	long		 requests;
	long		 failures;
	long		 connects;
	long		 retries;	/* requests sent again (retry) */
	long		 dropped;	/* failed: closed or reset, no answer */
};

void		 tl_client_start(struct tl_client *, int, int);
void		 tl_client_start_opt(struct tl_client *, int,
		    const struct tl_client_opt *);
int		 tl_client_stop(struct tl_client *, struct tl_tally *);

/*
 * Checks several tests make alike (tl-check.c), the only functions of
 * the library that report tests, in sentences that begin with what.
 *
 * tl_check_client() stops a client and checks its tally (into the
 * tally given, if not NULL): that it reported (if not, that is one
 * failed test and all), that none of its requests failed or, if
 * maxdropped is above 0, that all that failed were dropped by the server
 * and at most maxdropped, and that it made at least min requests.  Two
 * tests, or one.
 *
 * tl_check_stopped() checks a master that was sent SIGTERM at t0
 * (tl_now_ms()): that it exits 0 (waiting up to timeout_ms) less than
 * stop_ms after t0, that each of its n workers pids is gone, and that its
 * log says no worker needed SIGKILL.  3 + n tests.
 */
void		 tl_check_client(struct tl_client *, struct tl_tally *,
		    const char *, long, long);
void		 tl_check_stopped(struct tl_daemon *, const char *, long long,
		    int, const pid_t *, int, int);

/*
 * tl_check_true() checks that status j of master d, one read while
 * nothing changes, is true of the processes and files it describes: its
 * pid is d's; the slots above "workers" and only they are retiring; a
 * ready, starting or stopping slot has a worker and an empty, backoff,
 * failed or halted one none; every worker it names, old ones included,
 * is a distinct running child of the master, and the master has no
 * other child (unless others: a subreaper's orphans are its children
 * too); "workers_ready" counts the wanted slots serving; the ready file
 * exists exactly when "ready" is true.  One test; what first disagrees
 * is shown with diag().  Returns whether all holds.
 */
int		 tl_check_true(struct tl_daemon *, const struct tl_json *,
		    const char *, int);

#endif /* DROVER_TESTLIB_H */
