/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The private header of the drover master: the listeners, the slot
 * table and the functions each part of the master offers the others (the
 * configuration's are in drover-config.h).  One master process, one
 * libev loop, no threads.
 */

#ifndef DROVER_MASTER_H
#define DROVER_MASTER_H

#include <sys/types.h>
#include <sys/socket.h>

#include <ev.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "shared.h"
#include "drover-config.h"

#define DROVER_MAX_WORKERS	1024
#define DROVER_MAX_LISTEN	64

/* Exit codes, from sysexits(3), as the manual documents them. */
#define EXIT_USAGE	64
#define EXIT_SOFTWARE	70
#define EXIT_OSERR	71
#define EXIT_TEMPFAIL	75
#define EXIT_CONFIG	78

/* The longest notify message (a datagram, or a line on the stream). */
#define NOTIFY_MAX	4096
/* How much of a STATUS= text status.json shows. */
#define NOTIFY_STATUS	256

/* One listen address and the sockets the master holds for it. */
enum listen_type {
	LISTEN_TCP,
	LISTEN_UNIX
};

struct listener {
	char			*l_name;	/* its name where opened */
	char			*l_addr;	/* as written, less the name */
	enum listen_type	 l_type;
	struct sockaddr_storage	 l_ss;
	socklen_t		 l_sslen;
	char			 l_host[64];	/* numeric host, for status */
	int			 l_port;	/* the bound port */
	char			*l_path;	/* unix socket path */
	int			 l_reuseport;	/* one socket per slot */
	int			*l_fds;		/* per slot (-1: closed), or [0]
						   shared */
	int			 l_nfds;
	int			*l_gidx;	/* per slot: index in its
						   reuseport group, or -1 */
	int			 l_gsize;	/* sockets in the group */
	int			 l_refs;	/* configurations using it */
	int			 l_backlog;
	int			 l_inherited;	/* passed by systemd */
	int			 l_mode;	/* of a unix socket's file, or
						   -1: as bind(2) made it */
	uid_t			 l_uid;		/* its owner, or -1: ours */
	gid_t			 l_gid;		/* its group, or -1: ours */
};

/* The states of a slot; slot_state_name() spells them for status.json. */
enum slot_state {
	SLOT_EMPTY,		/* no worker and none scheduled */
	SLOT_STARTING,		/* forked, not yet ready */
	SLOT_READY,		/* the worker serves */
	SLOT_STOPPING,		/* SIGTERM sent, waiting for the exit */
	SLOT_BACKOFF,		/* waiting out a restart delay */
	SLOT_FAILED,		/* restart budget spent, until the window */
	SLOT_HALTED,		/* the worker exited 78: not restarted */
	SLOT_RETIRING		/* scaled away: draining, then closed */
};

/* How the last worker of a slot ended. */
struct exitinfo {
	pid_t		 x_pid;		/* 0: nothing has ended yet */
	int		 x_status;	/* the wait status */
	int		 x_execerr;	/* errno of a failed start, else 0 */
	int		 x_execstep;	/* which step failed (spawn_step) */
	const char	*x_reason;	/* "watchdog", "ready-timeout", NULL */
};

/*
 * One of the two pipes of a worker's output with output = prefix
 * (output.c): its standard output, then its standard error.
 */
struct outpipe {
	struct worker	*op_w;
	int		 op_fd;		/* the read end, or -1 */
	ev_io		 op_io;
	char		*op_buf;	/* a partial line */
	size_t		 op_len;
	int		 op_pri;	/* the priority of a line being cut */
	int		 op_given;	/* the worker gave it (<N>) */
	int		 op_cut;	/* the next piece continues a line */
};

/*
 * A worker process.  Its watchers carry a pointer back to it in their
 * data field, so a callback finds its worker without a search.
 */
struct worker {
	struct slot	*w_slot;
	pid_t		 w_pid;		/* 0: no process */
	uint64_t	 w_gen;
	struct config	*w_conf;	/* the configuration it runs */
	int		 w_ready;	/* it has been ready */
	int		 w_proven;	/* it lived its reload grace */
	ev_timer	 w_stop;	/* SIGKILL after the stop timeout */
	ev_tstamp	 w_started;
	ev_child	 w_child;
	ev_io		 w_exec;	/* the CLOEXEC pipe that reports exec */
	int		 w_execfd;	/* its read end, or -1 */
	int		 w_execerr;	/* errno the child sent, or 0 */
	int		 w_execstep;	/* the step that failed */
	int		 w_termsent;	/* the master asked it to stop */
	const char	*w_killreason;	/* why the master killed it, or NULL */
	/* Recycling (recycle.c). */
	const char	*w_recycle;	/* "max_memory", "max_age": it is due */
	int		 w_memticks;	/* ticks in a row over max_memory */
	ev_tstamp	 w_deadline;	/* when max_age is up (0: not set) */
	/* The notify channels (notify.c). */
	int		 w_nfd;		/* datagram socket, or -1 */
	char		*w_npath;	/* its path */
	ev_io		 w_nio;
	int		 w_sfd;		/* the master's end of the stream */
	ev_io		 w_sio;
	char		*w_line;	/* a partial line from the stream,
					   allocated once, freed at exit */
	size_t		 w_linelen;
	int		 w_discard;	/* skipping an over-long line */
	ev_timer	 w_watchdog;
	int		 w_wdfired;	/* SIGABRT sent */
	int		 w_wdping;	/* a WATCHDOG=1 was read */
	int		 w_closing;	/* reading its last words */
	/*
	 * Its output with output = prefix (output.c): standard output and
	 * error, allocated the first time they are needed (most clusters
	 * never need them: no room for them in every slot).
	 */
	struct outpipe	*w_out;
};

/*
 * A slot: a stable worker identity (DROVER_WORKER_ID), the sockets of its
 * listeners, and the worker in it.  The slot's timer serves whichever wait
 * the state has: the restart delay, the ready timeout or the stop timeout.
 */
struct slot {
	int		 s_id;
	enum slot_state	 s_state;	/* of the current worker */
	struct worker	 s_wk[2];	/* current and, in a reload, old */
	int		 s_cur;		/* which of s_wk is current */
	unsigned int	 s_restarts;	/* respawns, ever */
	unsigned int	 s_failures;	/* consecutive quick failures */
	int		 s_forgiven;	/* a quick death was restarted at
					   once since the last long life */
	double		 s_delay;	/* the current restart delay, seconds */
	ev_timer	 s_timer;
	ev_tstamp	*s_hist;	/* ring of recent respawn times */
	unsigned int	 s_nhist;	/* its size: the restart budget */
	unsigned int	 s_hist_next;
	ev_tstamp	 s_drain;	/* when it began to retire */
	struct exitinfo	 s_last;
	char		 s_status[NOTIFY_STATUS];	/* last STATUS= */
	size_t		 s_statuslen;	/* its length: it may hold NULs */
	unsigned long	 s_nmsg;	/* notify messages accepted */
	unsigned long	 s_nbad;	/* malformed or oversized */
	unsigned long	 s_nrejected;	/* from a process not the worker's */
	ev_tstamp	 s_lastlog;	/* rate limit of complaints */
	unsigned long	 s_quiet;	/* complaints not logged since */
	const char	*s_recycle;	/* why a recycle replaces its worker */
	ev_tstamp	 s_recycle_next;	/* no recycle before this */
	unsigned int	 s_recycle_fails;	/* failed recycles in a row */
	/* What it adds to the master's counts (slot_count()). */
	int		 s_nold;	/* an old worker */
	int		 s_nserving;	/* it serves (slot_serving()) */
	int		 s_nempty;	/* empty, with no worker at all */
	int		 s_steered;	/* new connections are steered here
					   (group_steer) */
	ev_tstamp	 s_unsteered;	/* when it last stopped being so */
};

#define SLOT_CUR(s)	(&(s)->s_wk[(s)->s_cur])
#define SLOT_OLD(s)	(&(s)->s_wk[1 - (s)->s_cur])

/* What a slot_change() does besides entering a state. */
enum slot_op {
	SLOT_OP_NONE,
	SLOT_OP_STARTED,	/* the current worker was just started */
	SLOT_OP_NEWCUR,		/* a new worker becomes current, the current
				   one old (it serves on) */
	SLOT_OP_REVERT,		/* the old worker is current again; the
				   current one is asked to stop */
	SLOT_OP_TERM_CUR,	/* the current worker is asked to stop */
	SLOT_OP_TERM_OLD,	/* the old worker is asked to stop */
	SLOT_OP_CUR_GONE,	/* the current worker has exited */
	SLOT_OP_OLD_GONE	/* the old worker has exited */
};

/* How often a retiring slot's queue is looked at while it drains. */
#define SLOT_DRAIN_CHECK_TIME	0.05

/*
 * How long a retiring slot's sockets stay open after new connections
 * stopped being steered to them: a handshake begun just before (a SYN
 * answered, the client's ACK still on its way) ends in the queue then,
 * where a worker drains it, instead of being reset.  The client's round
 * trip, mostly, and the kernel's first SYN-ACK retransmission at most.
 */
#define SLOT_HANDSHAKE_TIME	1.

/* The results of a reload that are counted (metrics.c names them). */
#define RELOAD_NRESULTS	4

/* The outcome of the last reload, for status.json. */
struct reloadinfo {
	uint64_t	 r_gen;		/* the generation it tried */
	char		 r_result[32];	/* "": none yet */
	char		 r_error[256];
	double		 r_started;	/* wall clock */
	double		 r_finished;	/* 0 while in progress */
	unsigned int	 r_count;	/* reloads asked for, ever */
	unsigned int	 r_covers;	/* r_count when this one began */
	unsigned long	 r_results[RELOAD_NRESULTS];	/* ended so, here */
};

/* The results of an upgrade that are counted (metrics.c names them). */
#define UPGRADE_NRESULTS 4

/* The last upgrade (SIGUSR2), for status.json. */
struct upgradeinfo {
	char		 u_result[16];	/* "": none yet */
	char		 u_error[256];	/* why it was refused or failed */
	double		 u_started;	/* wall clock */
	double		 u_finished;	/* 0 while in progress */
	unsigned int	 u_requests;	/* USR2 received, ever */
	unsigned int	 u_done;	/* upgrades done, ever */
	unsigned int	 u_covers;	/* u_requests when its check began */
	unsigned long	 u_results[UPGRADE_NRESULTS];	/* ended so, here */
};

/*
 * Why a worker was started, and why one ended, counted for the metrics
 * (metrics.c names them).
 */
enum start_why {
	START_NEW,		/* a slot's first, or a reload's in an empty
				   slot */
	START_RESTART,		/* after the slot's last worker ended */
	START_REPLACE,		/* beside a serving one, to replace it */
	START_DRAIN,		/* for a retiring slot's queue */
	START_RECYCLE,		/* to replace one over max_memory or max_age */
	START_NWHY
};

enum end_why {
	END_STOPPED,		/* the master asked it to stop */
	END_EXITED,		/* it exited by itself */
	END_SIGNALED,		/* a signal the master did not send */
	END_EXEC,		/* its program could not be executed */
	END_WATCHDOG,		/* killed: watchdog */
	END_READY_TIMEOUT,	/* killed: not ready in time */
	END_MAX_MEMORY,		/* recycled: over max_memory */
	END_MAX_AGE,		/* recycled: past max_age */
	END_OTHER,		/* killed for another reason */
	END_NWHY
};

/* The descriptors an upgrade hands over besides the sockets. */
#define UPGRADE_PIDFILE		0
#define UPGRADE_STATEDIR	1
#define UPGRADE_STATELOCK	2
#define UPGRADE_HEALTH		3
#define UPGRADE_NFDS		4

/* The whole master. */
struct master {
	struct config	*m_conf;	/* the current generation's */
	struct config	*m_prev;	/* in a reload, the one replaced */
	struct listener	**m_lis;	/* every open listener */
	size_t		 m_nlis;
	struct slot	**m_slots;	/* the slot table */
	int		 m_nslots;	/* slots, retiring ones included */
	uint64_t	 m_gen;		/* the current generation */
	uint64_t	 m_lastgen;	/* the last one handed out */
	int		 m_reloading;	/* 0, RELOAD_FORWARD or _BACK */
	int		 m_reload_pending;	/* a HUP came meanwhile */
	int		 m_reload_fails;	/* failed starts in it */
	int		 m_reload_halt;	/* a new worker exited 78 */
	int		 m_reload_proven; /* a new worker lived its grace */
	char		 m_reload_why[192];	/* the last failed start */
	int		 m_due;		/* the engine has events to see */
	struct reloadinfo m_reload;
	struct upgradeinfo m_upgrade;
	int		 m_stopping;	/* 0, STOP_GRACEFUL or STOP_NOW */
	char		**m_environ;	/* ours, as we got it */
	int		 m_dirty;	/* status.json must be rewritten */
	int		 m_execlogged;	/* an exec failure was logged */
	char		*m_notifydir;	/* state_dir/notify */
	unsigned long	 m_serial;	/* names notify sockets */
	unsigned long	 m_starts[START_NWHY];	/* workers started, here */
	unsigned long	 m_ends[END_NWHY];	/* workers ended, here */
	/*
	 * Counts kept as things change, so that no event needs a look at
	 * every slot: worker processes, and slots with an old worker, that
	 * serve, and empty with no worker.
	 */
	int		 m_nworkers;
	int		 m_nold;
	int		 m_nserving;
	int		 m_nempty;
};

#define STOP_GRACEFUL	1
#define STOP_NOW	2

#define RELOAD_FORWARD	1
#define RELOAD_BACK	2

extern struct master	 master;

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));

/* log.c */
/* Who a log line is from or about, for log_compose(). */
struct logsrc {
	int		 ls_slot;	/* -1: no slot */
	long		 ls_pid;
	uint64_t	 ls_gen;	/* 0: none yet */
	const char	*ls_stream;	/* "stdout" or "stderr" of a worker's
					   line, NULL for the master's */
	int		 ls_given;	/* the worker gave the priority */
};

void	 log_init(int, int);
void	 log_warn(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
__attribute__((__noreturn__)) void
	 fatal(int, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
__attribute__((__noreturn__)) void
	 fatalx(int, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
const char *
	 log_status(int, int, char *, size_t);
const char *
	 log_last(void);
void	 log_setsink(void (*)(const char *, size_t));
size_t	 log_compose(int, const struct logsrc *, const char *, size_t,
	    const char **);

/* text.c and config-share.c: in shared.h */

/* listen.c */
int	 listen_parse(const char *, int, struct listener *, const char **);
struct listener *
	 listen_get(const char *, int, const struct config *, char **);
int	 listen_socket(struct listener *, int, int);
void	 listen_put(struct listener *);
void	 listen_close(struct listener *);
void	 listen_close_all(void);
struct listener *
	 listen_adopt(char **, int);

/* holder.c */
pid_t	 holder_find(const struct listener *, char *, size_t);

/* listen-unix.c */
int	 listen_parse_unix(const char *, struct listener *, const char **);
int	 listen_unix_free(const struct listener *);
int	 listen_unix_perms(const struct listener *);

/* activate.c */
void	 activate_init(void);
int	 activate_parse(const char *, const char *, char ***,
	    const char **);
void	 activate_done(void);
int	 activate_take(struct listener *);

/* group.c */
int	 group_grow(struct listener *, int);
int	 group_resize(int);
int	 group_slot_close(int);
int	 group_slot_open(int);
int	 group_slot_fds(const struct config *, int, int *, int);
int	 group_open_fds(const struct listener *);
int	 group_queued(int);
void	 group_steer(void);
void	 group_resteer(const struct slot *);
int	 group_joining(void);

/* slot.c */
int	 slot_add(int);
void	 slot_free_retired(void);
int	 slot_target(void);
int	 slot_serving(int);
int	 slot_accepting(int);
int	 slot_legal(enum slot_state, enum slot_state);
void	 slot_change(struct slot *, enum slot_state, enum slot_op);
int	 slot_start(struct slot *, struct worker *, struct config *);
int	 slot_replace(struct slot *, enum start_why);
void	 slot_revert(struct slot *);
void	 slot_stop_current(struct slot *);
void	 slot_term_old(struct slot *);
void	 slot_retire(struct slot *);
int	 slot_drain(struct slot *);
void	 slot_unretire(struct slot *);
void	 slot_stop_all(int);
int	 slot_nworkers(void);
int	 slot_nserving(void);
void	 slot_adopt(struct slot *, enum slot_state);
const char *
	 slot_state_name(enum slot_state);

/* restart.c */
void	 slot_spawn(struct slot *, int);
double	 slot_delay(struct slot *);
void	 slot_schedule(struct slot *, double);
void	 slot_grace(struct slot *, double);
void	 slot_exited(struct worker *, int);
void	 slot_exec_ok(struct worker *);
void	 slot_notify_ready(struct worker *);
void	 slot_notify_stopping(struct worker *);
void	 slot_notify_reloading(struct worker *);
void	 slot_timer_cb(struct ev_loop *, ev_timer *, int);

/* worker.c */
void	 worker_init(struct worker *, struct slot *);
void	 worker_attach(struct worker *, pid_t, int);
int	 worker_start(struct worker *, struct config *, uint64_t);
int	 worker_exec_read(struct worker *);
void	 worker_kill(struct worker *, int);
void	 worker_term(struct worker *);

/* reload.c */
void	 reload_engine_init(void);
void	 reload_due(void);
void	 reload_request(void);
void	 reload_failed_start(struct worker *, int);
int	 reload_proven(const struct worker *);
int	 reload_batch(const struct config *, int);
void	 reload_scale(int);

/* recycle.c */
void	 recycle_tick(void);
void	 recycle_engine(int);
int	 recycle_failed(struct slot *);

/* pace.c */
/*
 * Work done at once after a quiet spell, else at the end of a gap after
 * the last time; static initializer { .p_fn = ..., .p_max = ... }.
 */
struct pace {
	void		(*p_fn)(void);	/* the work, when the gap ends */
	ev_tstamp	 p_max;		/* the longest gap */
	ev_tstamp	 p_last;	/* when it was last done */
	ev_tstamp	 p_gap;		/* the least time after that */
	ev_timer	 p_timer;	/* the end of the gap, if due */
};
int	 pace_due(struct pace *);
void	 pace_done(struct pace *, ev_tstamp);
void	 pace_stop(struct pace *);
int	 pace_pending(struct pace *);

/* spawn-clone.c */
/* What a child takes: the sockets, the report pipe, two output pipes. */
#define SPAWN_NTAKE	(DROVER_MAX_LISTEN + 4)
/* The master's own descriptors at 3, 4, ... while a child takes them. */
struct spawn_saved {
	int	 fd[SPAWN_NTAKE];	/* where they wait, or -1: none */
	int	 cloexec[SPAWN_NTAKE];
	int	 n;
};
pid_t	 spawn_clone(int (*)(void *), void *, int *);
int	 spawn_place(const int *, int, int, struct spawn_saved *);
void	 spawn_unplace(struct spawn_saved *);

/* spawn.c */
pid_t	 spawn_worker(struct slot *, struct worker *, int *);
char	**spawn_environ(const struct config *, char **);
char	*spawn_resolve(const char *);
char	*spawn_lookup(const char *, const char *);
char	**spawn_candidates(const char *, const char *);
const char *
	 spawn_path(char **);
int	 spawn_interpreter(const char *, char *, size_t);
void	 spawn_report(const struct worker *);
int	 spawn_reserved(const char *);
void	 spawn_reset_signals(void);
pid_t	 spawn_ppid(pid_t);
int	 spawn_procstat(pid_t, pid_t *, unsigned long long *);
const char *
	 spawn_step(int);

/* main.c */
void	 master_check_done(void);
void	 master_check_halted(void);
int	 master_pidfile(void);

/* lock.c */
int	 lock_take(int, const char *, const char *, pid_t *);
void	 lock_release(int, const char *, int);
int	 lock_adopt(int);

/* path.c */
#define PATH_CREATE	0x1	/* create it and its parents */
#define PATH_SHARED	0x2	/* root's, or sticky, will do */
int	 path_opendir(const char *, int, const char *);
int	 path_openparent(const char *, const char **, const char *);

/* notify.c */
int	 notify_init(int);
int	 notify_open(struct worker *, int *);
void	 notify_start(struct worker *);
void	 notify_close(struct worker *);
void	 notify_watchdog_arm(struct worker *);
void	 notify_message(struct worker *, char *, size_t);
void	 notify_stream_feed(struct worker *, char *, size_t);
const char *
	 notify_socket_path(const struct worker *);

/* notify-trust.c */
/* Room for what comes with a datagram, passed descriptors included. */
#define TRUST_CMSG_SPACE						\
	(CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) +	\
	CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(int) * 8))

enum trust {
	TRUST_OK,		/* the worker or a live descendant */
	TRUST_FOREIGN,		/* another process */
	TRUST_GONE,		/* gone before it was read */
	TRUST_UNKNOWN		/* no credentials, or truncated */
};

void	 trust_setup(int);
enum trust
	 trust_sender(const struct worker *, struct msghdr *, pid_t *);
void	 trust_release(struct msghdr *);

/* health.c */
#define HEALTH_MAXREQ	2048	/* the longest request head */
/* What a request head asks for (health_request()). */
enum health_req {
	HREQ_MORE,		/* not all there yet */
	HREQ_LARGE,		/* over HEALTH_MAXREQ: 431 */
	HREQ_METHOD,		/* not GET: 405 */
	HREQ_LIVENESS,
	HREQ_READINESS,
	HREQ_STATUS,
	HREQ_METRICS,
	HREQ_NOTFOUND		/* 404 */
};
enum health_req
	 health_request(char *, size_t);
int	 health_init(const char *, int);
int	 health_fd(void);
void	 health_status(FILE *);
unsigned long
	 health_nevicted(void);
void	 health_close_all(void);

/* metrics.c */
#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"
int	 metrics_build(char **, size_t *);
void	 metrics_ended(const struct worker *, int, int);
void	 metrics_reloaded(const char *);
void	 metrics_upgraded(const char *);
int	 metrics_proc(pid_t, int, double *);

/* sdnotify.c */
void	 sdnotify_init(void);
void	 sdnotify_state(int, int, int);
void	 sdnotify_reloading(void);
void	 sdnotify_reloaded(const char *);
void	 sdnotify_stopping(void);

/* output.c */
int	 output_init(int);
int	 output_open(struct worker *, int [2]);
int	 output_adopt(struct worker *, const char *);
void	 output_start(struct worker *);
void	 output_close(struct worker *);
int	 output_fd(const struct worker *, int);
void	 output_finish(void);
void	 output_drain(void);
unsigned long
	 output_dropped(void);

/* upgrade.c */
void	 upgrade_init(int, char **, char **);
int	 upgrade_handed(void);
int	 upgrade_verify(void);
void	 upgrade_request(void);
struct config *
	 upgrade_begin(int *);
void	 upgrade_adopted(void);
void	 upgrade_status(FILE *);
int	 upgrade_busy(void);

/* handoff.c */
int	 handoff_write(FILE *, int);
int	 handoff_unesc(char *);
int	 handoff_verify(int);
struct config *
	 handoff_take(int, int *, int *);
void	 handoff_keep_listeners(void);
void	 handoff_slots(void);

/* status.c */
int	 status_open(const char *, pid_t *);
int	 status_adopt(int, int);
int	 status_start(int);
void	 status_fds(int *, int *);
void	 status_changed(void);
void	 status_counted(void);
void	 status_flush(void);
void	 status_live(void);
void	 status_cleanup(void);
int	 status_ready(void);
int	 status_nready(void);
void	 status_json(FILE *);
void	 status_str(FILE *, const char *);
void	 status_outcome(FILE *, const char *, const char *, double, double);

#endif /* DROVER_MASTER_H */
