/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Helpers for the tests that run other people's servers under drover
 * (Express, Fastify, gunicorn, uvicorn): a client process that makes
 * requests until told to stop and counts what failed, a way to tell which
 * process served a connection without asking the server, and the wait for
 * a reload to be over.  A client gives up by itself after a bound, so no
 * test can leave one running; every wait has a deadline.
 */

#ifndef DROVER_LOAD_H
#define DROVER_LOAD_H

#include <sys/types.h>

struct tl_daemon;
struct tl_json;

/*
 * A client of 127.0.0.1:port, in a child process: GET path, one new
 * connection per request or, with LD_KEEPALIVE, requests on one
 * connection for as long as the server keeps it open (an answer with
 * "Connection: close" is no failure: the client reconnects, as clients
 * must).  A request fails when the connection cannot be made, is reset
 * or closed without an answer, or the answer is not 200 with exactly
 * body.  With LD_RETRY, a request on a reused connection that is closed
 * or reset without an answer is sent once more on a new connection, as
 * HTTP clients may do (RFC 9112, 9.3.1) and curl, browsers and urllib3
 * do; it fails only if that fails too, and is counted in t_retries.
 */
#define LD_KEEPALIVE	0x01
#define LD_RETRY	0x02

struct ld_client {
	pid_t		 c_pid;
	int		 c_ctl;		/* closing it stops the client */
	int		 c_res;		/* "S" once started, then the tally */
	const char	*c_what;
};

struct ld_tally {
	long		 t_requests;
	long		 t_failures;
	long		 t_connects;
	long		 t_retries;	/* LD_RETRY: requests sent again */
	long		 t_dropped;	/* closed or reset, no answer */
};

/* Start a client (bails out if it cannot). */
void	 ld_client_start(struct ld_client *, int, const char *, const char *,
	    int);
/* Stop it and collect its tally: 0, or -1 if it did not report. */
int	 ld_client_stop(struct ld_client *, struct ld_tally *);

/*
 * The pid among pids[0..n-1] that holds the server side of the connected
 * TCP socket fd (found through /proc/net/tcp and /proc/PID/fd), or -1.
 */
pid_t	 ld_served_by(int, const pid_t *, int);

/*
 * Wait until generation gen runs: state "running", reload.result "ok",
 * every one of nslots slots ready with a worker of that generation and no
 * old worker.  The status, or NULL at the deadline.
 */
struct tl_json	*ld_wait_generation(struct tl_daemon *, long long, int, int);

/* The pids of the nslots workers in a status (0 where none). */
void	 ld_pids(const struct tl_json *, pid_t *, int);

/* Whether an executable named name is in $PATH. */
int	 ld_in_path(const char *);

#endif /* DROVER_LOAD_H */
