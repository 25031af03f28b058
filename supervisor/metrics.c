/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The metrics the health endpoint serves at GET /metrics, in the text
 * format of Prometheus (version 0.0.4), and the counters behind them.
 * Everything is computed when asked, never on a timer: the counts the
 * master keeps anyway (in struct master, the reload and upgrade records
 * and the slots), the memory and CPU time of each worker read from
 * /proc/PID/stat and statm, and the accept queue of each listening
 * socket asked of the kernel: TCP_INFO for TCP (tcpi_unacked is the
 * queue's length on a listener, tcpi_sacked its limit), sock_diag(7)
 * for a unix socket (UNIX_DIAG_RQLEN), since no socket option tells
 * that of a listening unix socket.  The answer is written into a buffer
 * of its own, which the connection frees once it is sent, and which may
 * not grow beyond METRICS_MAX: past that the request fails rather than
 * the master growing without bound.  Its size is linear in the slots
 * times the listeners, both bounded (DROVER_MAX_WORKERS,
 * DROVER_MAX_LISTEN).  Each metric is described in drover(8).
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

/* The first size of the answer's buffer, and the most it may grow to. */
#define METRICS_FIRST	(16 * 1024)
#define METRICS_MAX	(32 * 1024 * 1024)

/* The answer being built. */
struct mbuf {
	char	*b_buf;
	size_t	 b_len;
	size_t	 b_size;
	int	 b_over;	/* it would have grown past METRICS_MAX */
};

/* The results of an operation (reload, upgrade). */
struct outcome {
	const char		*o_op;
	const char *const	*o_names;	/* counted ones first */
	size_t			 o_n;
	size_t			 o_counted;	/* how many are counted */
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void	 mb_printf(struct mbuf *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static void	 mb_label(struct mbuf *, const char *);
static void	 mb_family(struct mbuf *, const char *, const char *,
		    const char *);
static void	 metrics_master(struct mbuf *);
static void	 metrics_slots(struct mbuf *);
static void	 metrics_outcome(struct mbuf *, const struct outcome *,
		    const unsigned long *, const char *, double, double);
static void	 metrics_events(struct mbuf *);
static void	 metrics_notify(struct mbuf *);
static int	 metrics_read(pid_t, const char *, char *, size_t);
static void	 metrics_workers(struct mbuf *);
static int	 metrics_queue(const struct listener *, int, unsigned int *,
		    unsigned int *);
static int	 metrics_unix_queue(int, unsigned int *, unsigned int *);
static void	 metrics_queues(struct mbuf *);
static int	 metrics_index(const char *const *, size_t, const char *);

/*
 * Every result status.json may show of an operation: first those that
 * end it, counted (by their index in the counters), then those of one
 * under way.
 */
static const char *const metrics_reload_res[] = {
	"ok", "rolled-back", "invalid-config", "failed",
	"in-progress", "rolling-back"
};
static const char *const metrics_upgrade_res[] = {
	"ok", "refused", "failed", "cancelled",
	"in-progress"
};
static const struct outcome metrics_reload_oc = {
	"reload", metrics_reload_res, NELEM(metrics_reload_res),
	RELOAD_NRESULTS
};
static const struct outcome metrics_upgrade_oc = {
	"upgrade", metrics_upgrade_res, NELEM(metrics_upgrade_res),
	UPGRADE_NRESULTS
};
static const char *const metrics_start_why[START_NWHY] = {
	"new", "restart", "replace", "drain", "recycle"
};
/*
 * END_WATCHDOG, END_READY_TIMEOUT, END_MAX_MEMORY and END_MAX_AGE are
 * spelled as w_killreason is.
 */
static const char *const metrics_end_why[END_NWHY] = {
	"stopped", "exited", "signaled", "exec-failed", "watchdog",
	"ready-timeout", "max_memory", "max_age", "other"
};

/* Append to the answer, growing it (doubling) up to METRICS_MAX. */
static void
mb_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 size;
	char	*p;
	int	 n;

	if (b->b_over)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->b_buf + b->b_len, b->b_size - b->b_len, fmt,
		    ap);
		va_end(ap);
		if (n < 0) {
			b->b_over = 1;
			return;
		}
		if ((size_t)n < b->b_size - b->b_len)
			break;
		size = b->b_size * 2;
		while (size - b->b_len <= (size_t)n)
			size *= 2;
		if (size > METRICS_MAX || (p = realloc(b->b_buf, size)) ==
		    NULL) {
			b->b_over = 1;
			return;
		}
		b->b_buf = p;
		b->b_size = size;
	}
	b->b_len += (size_t)n;
}

/* A label value, quoted, with \, " and newline escaped as the format asks. */
static void
mb_label(struct mbuf *b, const char *s)
{
	size_t	 n;

	mb_printf(b, "\"");
	while (*s != '\0') {
		n = strcspn(s, "\\\"\n");
		mb_printf(b, "%.*s", (int)n, s);
		s += n;
		if (*s == '\0')
			break;
		mb_printf(b, "\\%c", *s == '\n' ? 'n' : *s);
		s++;
	}
	mb_printf(b, "\"");
}

/* The head of a metric family: its help text and its type. */
static void
mb_family(struct mbuf *b, const char *name, const char *type,
    const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * Build the whole answer into a buffer of its own, for the caller to
 * free.  Returns -1 (having freed it) when memory is short or it would
 * grow past METRICS_MAX.
 */
int
metrics_build(char **body, size_t *len)
{
	struct mbuf	 b;

	b.b_len = 0;
	b.b_size = METRICS_FIRST;
	b.b_over = 0;
	if ((b.b_buf = malloc(b.b_size)) == NULL)
		return -1;
	b.b_buf[0] = '\0';
	metrics_master(&b);
	metrics_slots(&b);
	metrics_events(&b);
	metrics_notify(&b);
	metrics_workers(&b);
	metrics_queues(&b);
	if (b.b_over) {
		log_warnx("health: the metrics would take more than %d "
		    "bytes: not answered", METRICS_MAX);
		free(b.b_buf);
		return -1;
	}
	*body = b.b_buf;
	*len = b.b_len;
	return 0;
}

/* What the master is: its generation, its workers, its own resources. */
static void
metrics_master(struct mbuf *b)
{
	double	 v;

	mb_family(b, "drover_build_info", "gauge", "The version of drover, "
	    "in the label version; always 1.");
	mb_printf(b, "drover_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	mb_family(b, "drover_generation", "gauge", "The configuration "
	    "generation being served (the one rolled out during a reload).");
	mb_printf(b, "drover_generation %llu\n",
	    (unsigned long long)master.m_gen);
	mb_family(b, "drover_workers_wanted", "gauge", "The number of "
	    "workers configured (workers, after TTIN and TTOU).");
	mb_printf(b, "drover_workers_wanted %d\n", slot_target());
	mb_family(b, "drover_workers_ready", "gauge", "The wanted slots "
	    "with a worker serving, of either generation.");
	mb_printf(b, "drover_workers_ready %d\n", status_nready());
	mb_family(b, "drover_ready", "gauge", "1 while the cluster is ready "
	    "(the ready file exists), else 0.");
	mb_printf(b, "drover_ready %d\n", status_ready());
	if (metrics_proc(getpid(), 1, &v) == 0) {
		mb_family(b, "drover_master_cpu_seconds_total", "counter",
		    "CPU time the master has used, user and system.");
		mb_printf(b, "drover_master_cpu_seconds_total %.2f\n", v);
	}
	if (metrics_proc(getpid(), 0, &v) == 0) {
		mb_family(b, "drover_master_resident_memory_bytes", "gauge",
		    "The master's resident memory.");
		mb_printf(b, "drover_master_resident_memory_bytes %.0f\n", v);
	}
	mb_family(b, "drover_health_evicted_connections_total", "counter",
	    "Health endpoint connections closed unanswered to make room.");
	mb_printf(b, "drover_health_evicted_connections_total %lu\n",
	    health_nevicted());
	mb_family(b, "drover_output_dropped_lines_total", "counter",
	    "Lines of workers' output dropped because the master's output "
	    "was too slow (output = prefix).");
	mb_printf(b, "drover_output_dropped_lines_total %lu\n",
	    output_dropped());
}

/* The slots by state, every state named, and each slot's restarts. */
static void
metrics_slots(struct mbuf *b)
{
	int		 n[SLOT_RETIRING + 1], k;
	enum slot_state	 st;

	memset(n, 0, sizeof(n));
	for (k = 0; k < master.m_nslots; k++)
		n[master.m_slots[k]->s_state]++;
	mb_family(b, "drover_slots", "gauge", "Slots by state, retiring "
	    "ones included.");
	for (st = SLOT_EMPTY; st <= SLOT_RETIRING; st++)
		mb_printf(b, "drover_slots{state=\"%s\"} %d\n",
		    slot_state_name(st), n[st]);
	mb_family(b, "drover_slot_restarts_total", "counter", "Workers "
	    "started in a slot after its last one ended, by slot.");
	for (k = 0; k < master.m_nslots; k++)
		mb_printf(b, "drover_slot_restarts_total{slot=\"%d\"} %u\n",
		    master.m_slots[k]->s_id, master.m_slots[k]->s_restarts);
}

/*
 * The metrics of an operation (reload, upgrade) o: its counter of the
 * results that end one, and the gauges of the last one: which result
 * (each status.json may show, and result itself if it is none of them),
 * when it started and when it ended.
 */
static void
metrics_outcome(struct mbuf *b, const struct outcome *o,
    const unsigned long *counts, const char *result, double started,
    double finished)
{
	char	 name[64], help[160];
	size_t	 i;

	(void)snprintf(name, sizeof(name), "drover_%ss_total", o->o_op);
	(void)snprintf(help, sizeof(help), "Finished %ss, by result.",
	    o->o_op);
	mb_family(b, name, "counter", help);
	for (i = 0; i < o->o_counted; i++)
		mb_printf(b, "%s{result=\"%s\"} %lu\n", name, o->o_names[i],
		    counts[i]);
	(void)snprintf(name, sizeof(name), "drover_%s_last_result", o->o_op);
	(void)snprintf(help, sizeof(help), "1 for the result of the last "
	    "%s (or the one under way), 0 for the others.", o->o_op);
	mb_family(b, name, "gauge", help);
	for (i = 0; i < o->o_n; i++)
		mb_printf(b, "%s{result=\"%s\"} %d\n", name, o->o_names[i],
		    strcmp(result, o->o_names[i]) == 0);
	if (*result != '\0' && metrics_index(o->o_names, o->o_n, result) ==
	    -1) {
		mb_printf(b, "%s{result=", name);
		mb_label(b, result);
		mb_printf(b, "} 1\n");
	}
	(void)snprintf(name, sizeof(name),
	    "drover_%s_last_start_timestamp_seconds", o->o_op);
	(void)snprintf(help, sizeof(help), "When the last %s started, in "
	    "seconds since the epoch; 0 if none has.", o->o_op);
	mb_family(b, name, "gauge", help);
	mb_printf(b, "%s %.3f\n", name, started);
	(void)snprintf(name, sizeof(name),
	    "drover_%s_last_end_timestamp_seconds", o->o_op);
	(void)snprintf(help, sizeof(help), "When the last %s ended, in "
	    "seconds since the epoch; 0 if none has, or while it runs.",
	    o->o_op);
	mb_family(b, name, "gauge", help);
	mb_printf(b, "%s %.3f\n", name, finished);
}

/* Workers started and ended by why, reloads and upgrades. */
static void
metrics_events(struct mbuf *b)
{
	const struct reloadinfo		*r = &master.m_reload;
	const struct upgradeinfo	*u = &master.m_upgrade;
	unsigned long			 done[UPGRADE_NRESULTS];
	int				 i;

	mb_family(b, "drover_worker_starts_total", "counter", "Workers "
	    "started, by reason.");
	for (i = 0; i < START_NWHY; i++)
		mb_printf(b, "drover_worker_starts_total{reason=\"%s\"} %lu\n",
		    metrics_start_why[i], master.m_starts[i]);
	mb_family(b, "drover_worker_exits_total", "counter", "Workers "
	    "ended, by reason.");
	for (i = 0; i < END_NWHY; i++)
		mb_printf(b, "drover_worker_exits_total{reason=\"%s\"} %lu\n",
		    metrics_end_why[i], master.m_ends[i]);
	mb_family(b, "drover_reload_requests_total", "counter", "Reloads "
	    "asked for (SIGHUP).");
	mb_printf(b, "drover_reload_requests_total %u\n", r->r_count);
	mb_family(b, "drover_reload_in_progress", "gauge", "1 while a "
	    "reload rolls out or back, else 0.");
	mb_printf(b, "drover_reload_in_progress %d\n",
	    master.m_reloading != 0);
	metrics_outcome(b, &metrics_reload_oc, r->r_results, r->r_result,
	    r->r_started, r->r_finished);
	/* Upgrades done are counted since the first master: handed over. */
	memcpy(done, u->u_results, sizeof(done));
	done[0] = u->u_done;
	mb_family(b, "drover_upgrade_requests_total", "counter", "Upgrades "
	    "asked for (SIGUSR2).");
	mb_printf(b, "drover_upgrade_requests_total %u\n", u->u_requests);
	metrics_outcome(b, &metrics_upgrade_oc, done, u->u_result,
	    u->u_started, u->u_finished);
}

/* The notify messages of each slot: accepted, malformed, rejected. */
static void
metrics_notify(struct mbuf *b)
{
	const struct slot	*s;
	int			 k;

	mb_family(b, "drover_notify_messages_total", "counter", "Notify "
	    "messages by slot and result: accepted, malformed (or too "
	    "long), rejected (from a process not the worker).");
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		mb_printf(b, "drover_notify_messages_total{slot=\"%d\","
		    "result=\"accepted\"} %lu\n", s->s_id, s->s_nmsg);
		mb_printf(b, "drover_notify_messages_total{slot=\"%d\","
		    "result=\"malformed\"} %lu\n", s->s_id, s->s_nbad);
		mb_printf(b, "drover_notify_messages_total{slot=\"%d\","
		    "result=\"rejected\"} %lu\n", s->s_id, s->s_nrejected);
	}
}

/*
 * Read /proc/PID/file, NUL-terminated, into buf (of size bytes).
 * Returns -1 if it cannot (the process is gone, or no descriptor is
 * left).
 */
static int
metrics_read(pid_t pid, const char *file, char *buf, size_t size)
{
	char	 path[64];
	ssize_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * What /proc says of process pid: with cpu, the CPU time it used, user
 * and system, in seconds (from stat); else its resident memory in bytes
 * (from statm).  Returns -1 if it cannot be read.
 */
int
metrics_proc(pid_t pid, int cpu, double *v)
{
	static long		 tick, page;
	char			 buf[1024], *p;
	unsigned long long	 ut, st, res;

	if (tick <= 0 || page <= 0) {
		tick = sysconf(_SC_CLK_TCK);
		page = sysconf(_SC_PAGESIZE);
		if (tick <= 0 || page <= 0)
			return -1;
	}
	if (!cpu) {
		if (metrics_read(pid, "statm", buf, sizeof(buf)) == -1 ||
		    sscanf(buf, "%*u %llu", &res) != 1)
			return -1;
		*v = (double)res * page;
		return 0;
	}
	/* After "pid (comm) ", whose comm may hold anything: utime is 14. */
	if (metrics_read(pid, "stat", buf, sizeof(buf)) == -1 ||
	    (p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %*d %*d "
	    "%*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	*v = (double)(ut + st) / tick;
	return 0;
}

/*
 * Each worker (both of a slot in a reload): its resident memory, CPU
 * time and start time, labelled with its slot, pid and generation.  Each
 * file of /proc is read once per worker and scrape.
 */
static void
metrics_workers(struct mbuf *b)
{
	static const char *const names[3] = {
		"drover_worker_resident_memory_bytes",
		"drover_worker_cpu_seconds_total",
		"drover_worker_start_time_seconds"
	};
	static const char *const helps[3] = {
		"A worker's resident memory.",
		"The CPU time a worker has used, user and system.",
		"When a worker was started, in seconds since the epoch."
	};
	const struct worker	*w;
	double			 v;
	int			 k, i, f;

	for (f = 0; f < 3; f++) {
		mb_family(b, names[f], f == 1 ? "counter" : "gauge",
		    helps[f]);
		for (k = 0; k < master.m_nslots; k++)
			for (i = 0; i < 2; i++) {
				w = &master.m_slots[k]->s_wk[i];
				v = w->w_started;
				if (w->w_pid == 0 || (f < 2 &&
				    metrics_proc(w->w_pid, f, &v) == -1))
					continue;
				mb_printf(b, "%s{slot=\"%d\",pid=\"%ld\","
				    "generation=\"%llu\"} %.*f\n", names[f],
				    master.m_slots[k]->s_id, (long)w->w_pid,
				    (unsigned long long)w->w_gen,
				    f == 0 ? 0 : f == 1 ? 2 : 3, v);
			}
	}
}

/*
 * The accept queue of socket fd of listener l: how many connections wait
 * in it, and how many it may hold.  Returns -1 if the kernel does not
 * say.
 */
static int
metrics_queue(const struct listener *l, int fd, unsigned int *queued,
    unsigned int *max)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	if (l->l_type == LISTEN_UNIX)
		return metrics_unix_queue(fd, queued, max);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	*queued = ti.tcpi_unacked;
	*max = ti.tcpi_sacked;
	return 0;
}

/*
 * The accept queue of the listening unix socket fd, asked of the kernel
 * by the socket's inode (sock_diag(7), one exact lookup): on a listener,
 * UNIX_DIAG_RQLEN gives the queue's length and its limit.  Returns -1
 * if the kernel does not answer (no unix_diag), without waiting.
 */
static int
metrics_unix_queue(int fd, unsigned int *queued, unsigned int *max)
{
	struct {
		struct nlmsghdr		 nlh;
		struct unix_diag_req	 r;
	}			 req;
	union {
		struct nlmsghdr		 nlh;
		char			 buf[1024];
	}			 resp;
	const struct unix_diag_msg	*m;
	const struct unix_diag_rqlen	*q;
	struct rtattr		*a;
	struct stat		 st;
	ssize_t			 n;
	int			 nl, alen, r = -1;

	if (fstat(fd, &st) == -1)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0U;
	req.r.udiag_ino = (unsigned int)st.st_ino;
	req.r.udiag_show = UDIAG_SHOW_RQLEN;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0U;
	if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -1;
	/* The kernel answers within send(): the answer is there at once. */
	if (send(nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req) ||
	    (n = recv(nl, &resp, sizeof(resp), MSG_DONTWAIT)) <= 0 ||
	    !NLMSG_OK(&resp.nlh, (size_t)n) ||
	    resp.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY) {
		close(nl);
		return -1;
	}
	m = NLMSG_DATA(&resp.nlh);
	alen = (int)resp.nlh.nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	for (a = (struct rtattr *)(uintptr_t)(m + 1); alen > 0 &&
	    RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		if (a->rta_type != UNIX_DIAG_RQLEN ||
		    RTA_PAYLOAD(a) < sizeof(*q))
			continue;
		q = RTA_DATA(a);
		*queued = q->udiag_rqueue;
		*max = q->udiag_wqueue;
		r = 0;
	}
	close(nl);
	return r;
}

/*
 * The accept queue of every listening socket of the current
 * configuration: per slot for a reuseport listener (one socket each),
 * once for a socket all workers share.  And which address each
 * listener's name stands for.
 */
static void
metrics_queues(struct mbuf *b)
{
	static const char *const names[2] = {
		"drover_listen_queued_connections",
		"drover_listen_backlog_connections"
	};
	const struct config	*c = master.m_conf;
	const struct listener	*l;
	unsigned int		 v[2];
	size_t			 i;
	int			 f, k;

	mb_family(b, "drover_listener_info", "gauge", "A listen address by "
	    "its name, in the labels listener, address and type; always 1.");
	for (i = 0; i < c->c_nlisten; i++) {
		mb_printf(b, "drover_listener_info{listener=");
		mb_label(b, c->c_lnames[i]);
		mb_printf(b, ",address=");
		mb_label(b, c->c_lis[i]->l_addr);
		mb_printf(b, ",type=\"%s\"} 1\n", c->c_lis[i]->l_type ==
		    LISTEN_TCP ? "tcp" : "unix");
	}
	for (f = 0; f < 2; f++) {
		mb_family(b, names[f], "gauge", f == 0 ? "Connections "
		    "waiting in a listening socket's accept queue, by "
		    "listener and slot (none for a shared socket)." :
		    "How many connections the accept queue may hold.");
		for (i = 0; i < c->c_nlisten; i++) {
			l = c->c_lis[i];
			for (k = 0; k < l->l_nfds; k++) {
				if (l->l_fds[k] == -1 || metrics_queue(l,
				    l->l_fds[k], &v[0], &v[1]) == -1)
					continue;
				mb_printf(b, "%s{listener=", names[f]);
				mb_label(b, c->c_lnames[i]);
				if (l->l_reuseport)
					mb_printf(b, ",slot=\"%d\"", k);
				mb_printf(b, "} %u\n", v[f]);
			}
		}
	}
}

/* The index of s in names (n of them), or -1. */
static int
metrics_index(const char *const *names, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/*
 * Count how worker w ended (wait status status; expected: the master
 * had asked it to stop, or is stopping).
 */
void
metrics_ended(const struct worker *w, int status, int expected)
{
	int	 why;

	if (w->w_execerr != 0)
		why = END_EXEC;
	else if (w->w_killreason != NULL) {
		why = metrics_index(metrics_end_why, END_NWHY,
		    w->w_killreason);
		if (why == -1)
			why = END_OTHER;
	} else if (expected)
		why = END_STOPPED;
	else if (WIFSIGNALED(status))
		why = END_SIGNALED;
	else
		why = END_EXITED;
	master.m_ends[why]++;
}

/* Count a reload that ended with result. */
void
metrics_reloaded(const char *result)
{
	int	 i;

	if ((i = metrics_index(metrics_reload_res, RELOAD_NRESULTS,
	    result)) != -1)
		master.m_reload.r_results[i]++;
}

/* Count an upgrade that ended with result, in this master. */
void
metrics_upgraded(const char *result)
{
	int	 i;

	if ((i = metrics_index(metrics_upgrade_res, UPGRADE_NRESULTS,
	    result)) != -1)
		master.m_upgrade.u_results[i]++;
}
