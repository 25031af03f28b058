/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Unchanged Node.js applications under drover with node/drover.js loaded
 * through NODE_OPTIONS: the hello-world apps of Express (the example in
 * the Readme of the express package, written out as it is) and of Fastify
 * (examples/simple.js of the fastify package, run where npm put it), both
 * listening on port 3000 as written while drover passes 127.0.0.1 on a
 * port of the kernel's choosing.  Each runs with --ready notify: every
 * worker says READY=1 and serves; ten reloads under two continuous clients
 * (one connection per request, and keep-alive) cost no request; a stop
 * answers the request in flight and the next one on a kept-alive
 * connection with "Connection: close", closes an idle connection cleanly
 * and ends without SIGKILL.  An app that takes its sockets and signals
 * itself (examples/node/server.js) is left alone.  A net and an https
 * server (t/apps/servers.js) take drover's two sockets in order.  An app
 * that passes the second inherited socket to listen({fd: 4}) itself is
 * ready once that server listens too.  node,
 * the npm packages and openssl must be there (build-aux/install-deps
 * installs them, the packages globally: the tests find them through `npm
 * root -g`): their absence fails the test rather than skipping it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		60000	/* node can be slow to start on a busy host */
#define NRELOADS	10
#define MIN_REQUESTS	100
#define NPROBES		200	/* connections to find every worker */
#define NSLOTS		2
#define STOP_MS		20000	/* --stop-timeout 20s */
/*
 * The clients wait this long for an answer: a request that waits in a
 * slot's queue for a worker still starting, on a loaded two-core
 * machine, is slow, not lost.  They run at nice CLIENT_NICE so as not to
 * starve that worker (Node.js needs half a second of CPU to start).
 */
#define REPLY_MS	30000
#define CLIENT_NICE	5

static const char	*npm_root(void);
static void		 pack(void);
static const char	*express_app(const char *);
static int		 pred_stopping(const struct tl_json *, void *);
static void		 test_app(const char *, const char *, const char *);
static void		 test_left_alone(void);
static void		 test_kinds(void);
static void		 test_own_fd(void);
static int		 read_all(int, char *, size_t);

/* Where `npm root -g` says global packages are, or NULL. */
static const char *
npm_root(void)
{
	const char	*argv[] = { "npm", "root", "-g", NULL };
	char		*out = NULL, *nl;
	const char	*root;

	if (tl_run(argv, 30000, &out) != 0 || out == NULL) {
		free(out);
		return NULL;
	}
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	root = tl_fmt("%s", out);
	free(out);
	return root;
}

/*
 * node/ is an npm package: npm pack (a dry run, which writes nothing in
 * the source tree) takes drover.js and package.json.
 */
static void
pack(void)
{
	const char	*argv[] = { "npm", "pack", "--dry-run", "--json",
			    tl_srcpath("node"), NULL };
	char		*out = NULL;
	int		 rv;

	rv = tl_run(argv, 60000, &out);
	ok(rv == 0 && out != NULL && strstr(out, "\"path\": \"drover.js\"") !=
	    NULL && strstr(out, "\"path\": \"package.json\"") != NULL &&
	    strstr(out, "\"name\": \"drover\"") != NULL, "npm pack node/ "
	    "makes the package drover of drover.js and package.json");
	if (rv != 0 && out != NULL)
		diag("%s", out);
	free(out);
}

/*
 * The hello-world app of the express package's Readme: its first ```js
 * block, written to a file of its own next to a node_modules that is the
 * global one, as a user would have it.  Its path, or NULL.
 */
static const char *
express_app(const char *root)
{
	const char	*dir = tl_fmt("%s/express-app", tl_tmpdir());
	const char	*app = tl_fmt("%s/app.mjs", dir);
	char		*readme, *start, *end;
	int		 rv;

	if ((readme = tl_slurp(tl_fmt("%s/express/Readme.md", root))) ==
	    NULL)
		return NULL;
	if ((start = strstr(readme, "```js\n")) == NULL ||
	    (end = strstr(start + 6, "\n```")) == NULL) {
		free(readme);
		return NULL;
	}
	start += 6;
	*end = '\0';
	if (mkdir(dir, 0755) == -1 ||
	    symlink(root, tl_fmt("%s/node_modules", dir)) == -1)
		sysbail("%s", dir);
	rv = tl_write_file(app, "%s\n", start);
	free(readme);
	return rv == 0 ? app : NULL;
}

/*
 * Every slot has counted a message more than arg's (long long [NSLOTS]):
 * its worker, which had said READY=1 and nothing since, has said
 * STOPPING=1, so it has taken the signal.
 */
static int
pred_stopping(const struct tl_json *j, void *arg)
{
	const long long	*before = arg;
	char		 path[64];
	int		 k;

	for (k = 0; k < NSLOTS; k++) {
		(void)snprintf(path, sizeof(path), "slots.%d.notify.messages",
		    k);
		if (tl_json_int(j, path, 0) <= before[k])
			return 0;
	}
	return 1;
}

/*
 * One app: started, served by every worker, reloaded under clients,
 * stopped with a request in flight.
 */
static void
test_app(const char *what, const char *script, const char *want)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_client	 c[2];
	struct tl_client_opt	 o = { .path = "/", .body = want,
				    .reply_ms = REPLY_MS, .nice = CLIENT_NICE };
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--stop-timeout",
				    "20s", "--", "/usr/bin/env", "node", script,
				    NULL };
	pid_t			 pids[NSLOTS], who;
	long long		 t0, nmsg[NSLOTS];
	int			 seen[NSLOTS] = { 0, 0 }, i, k, n, port, fd;
	int			 status, closehdr, rv, a, b, idle;
	char			 body[256];

	j = tl_start_wait(&d, argv, WAIT_MS);
	if (!ok(j != NULL, "%s: both workers say READY=1 (through "
	    "drover.js)", what))
		return;
	port = tl_port(j, 0);
	tl_pids(j, pids, NSLOTS);
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "serving drover's 127.0.0.1:", 1000),
	    "%s: drover.js says it serves drover's socket, not port 3000",
	    what);

	/* Who answers: the kernel's view of the server end. */
	for (i = 0, n = 0; i < NPROBES && n < NSLOTS; i++) {
		if ((fd = tl_connect(port)) == -1)
			sysbail("connect");
		rv = tl_http_request(fd, "/", 1) == 0 ? tl_http_response(fd,
		    5000, &status, body, sizeof(body), NULL) : -1;
		who = rv == 0 && status == 200 && strcmp(body, want) == 0 ?
		    tl_served_by(fd, pids, NSLOTS) : -1;
		for (k = 0; k < NSLOTS; k++)
			if (who == pids[k] && !seen[k]) {
				seen[k] = 1;
				n++;
			}
		close(fd);
		if (who == -1)
			break;
	}
	ok(n == NSLOTS, "%s: both workers answer GET / with \"%s\" (%d "
	    "connections)", what, want, i);

	/* Ten reloads under two clients. */
	tl_client_start_opt(&c[0], port, &o);
	o.keepalive = 1;
	tl_client_start_opt(&c[1], port, &o);
	is_int(NRELOADS, tl_reloads(&d, NRELOADS, NSLOTS, WAIT_MS), "%s: %d "
	    "reloads, each to the next generation", what, NRELOADS);
	for (k = 0; k < 2; k++)
		tl_check_client(&c[k], NULL, what, MIN_REQUESTS, 0);

	/*
	 * The stop: a request half sent (in flight), a kept-alive
	 * connection that asks again once the workers stop, one that stays
	 * idle.
	 */
	j = tl_status(&d);
	tl_pids(j, pids, NSLOTS);
	for (k = 0; k < NSLOTS; k++)
		nmsg[k] = tl_json_int(j, tl_fmt("slots.%d.notify.messages", k),
		    -1);
	tl_json_free(j);
	if ((a = tl_connect(port)) == -1 || (b = tl_connect(port)) == -1 ||
	    (idle = tl_connect(port)) == -1)
		sysbail("connect");
	for (k = 0, rv = 0; k < 2; k++) {
		fd = k == 0 ? b : idle;
		if (tl_http_request(fd, "/", 1) == -1 ||
		    tl_http_response(fd, 5000, &status, body, sizeof(body),
		    &closehdr) != 0 || status != 200 || closehdr)
			rv = -1;
	}
	ok(rv == 0, "%s: two kept-alive connections, one answer each",
	    what);
	if (send(a, "GET / HTTP/1.1\r\nHost: x\r\n", 25, MSG_NOSIGNAL) != 25)
		sysbail("send");
	t0 = tl_now_ms();
	if (tl_daemon_kill(&d, SIGTERM) == -1)
		sysbail("SIGTERM");
	j = tl_status_wait(&d, pred_stopping, nmsg, WAIT_MS);
	ok(j != NULL, "%s: both workers say STOPPING=1", what);
	tl_json_free(j);
	if (send(a, "\r\n", 2, MSG_NOSIGNAL) != 2)
		sysbail("send");
	rv = tl_http_response(a, 5000, &status, body, sizeof(body),
	    &closehdr);
	ok(rv == 0 && status == 200 && strcmp(body, want) == 0,
	    "%s: the request in flight is answered", what);
	ok(rv == 0 && closehdr, "%s: with Connection: close", what);
	is_int(-2, tl_http_response(a, 5000, NULL, NULL, 0, NULL),
	    "%s: then its connection is closed cleanly", what);
	rv = tl_http_request(b, "/", 1) == 0 ? tl_http_response(b, 5000,
	    &status, body, sizeof(body), &closehdr) : -1;
	ok(rv == 0 && status == 200 && closehdr, "%s: a kept-alive "
	    "connection's next request is answered, with Connection: close",
	    what);
	is_int(-2, tl_http_response(b, 5000, NULL, NULL, 0, NULL),
	    "%s: then that connection is closed cleanly", what);
	is_int(-2, tl_http_response(idle, 5000, NULL, NULL, 0, NULL),
	    "%s: the idle kept-alive connection is closed cleanly", what);
	close(a);
	close(b);
	close(idle);
	tl_check_stopped(&d, what, t0, STOP_MS, pids, NSLOTS, WAIT_MS);
	is_int(0, tl_log_count(&d, "stop timeout"), "%s: none reached its own "
	    "stop timeout", what);
}

/*
 * examples/node/server.js takes fd 3 itself (listen({fd})), says READY=1
 * itself and handles SIGTERM itself: with drover.js loaded, it still
 * sends exactly its own two messages, exits 0 on SIGTERM by its own
 * handler, and drover.js says nothing.
 */
static void
test_left_alone(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", "/usr/bin/env",
				    "node",
				    tl_srcpath("examples/node/server.js"),
				    NULL };
	struct tl_match		 m = { "slots.0.status", "serving 1 socket",
				    0 };
	int			 status, port;
	char			 body[64];

	if (tl_daemon_start(&d, argv) == -1)
		bail("cannot start drover");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "left alone: examples/node/server.js is ready");
	port = tl_port(j, 0);
	tl_json_free(j);
	/* Its STATUS= follows its READY=1. */
	j = tl_status_wait(&d, tl_pred_match, &m, WAIT_MS);
	ok(j != NULL, "left alone: its STATUS= arrived");
	tl_json_free(j);
	ok(tl_http_get(port, "/", &status, body, sizeof(body)) == 0 &&
	    status == 200 && strcmp(body, "hello from node\n") == 0,
	    "left alone: it serves");
	j = tl_status(&d);
	is_int(2, tl_json_int(j, "slots.0.notify.messages", -1), "left alone: "
	    "its own READY=1 and STATUS= and nothing from drover.js");
	tl_json_free(j);
	if (tl_daemon_kill(&d, SIGTERM) == -1)
		sysbail("SIGTERM");
	/* drover.js would have let the signal kill it: no server of its own. */
	is_int(0, tl_wait_log(&d, "(gen 1) exited 0", WAIT_MS), "left alone: "
	    "its own SIGTERM handler ends it with exit 0");
	is_int(0, tl_daemon_wait(&d, WAIT_MS), "left alone: drover exits 0");
	is_int(0, tl_log_count(&d, "drover.js"), "left alone: drover.js said "
	    "nothing");
}

/* Read until EOF (5 s at most) into buf, NUL-terminated: 0, or -1. */
static int
read_all(int fd, char *buf, size_t size)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_now_ms() + 5000;
	size_t		 len = 0;
	ssize_t		 n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - tl_now_ms())) != 1)
			return -1;
		if ((n = read(fd, buf + len, size - 1 - len)) == -1)
			return -1;
		if (n == 0 || (len += (size_t)n) == size - 1)
			break;
	}
	buf[len] = '\0';
	return 0;
}

/*
 * t/apps/servers.js: a net server on port 4000 and an https server on
 * 127.0.0.1:4443, in that order, get drover's two sockets in their order
 * (neither port is drover's); READY=1 once both listen.  The two
 * addresses differ in host: two "127.0.0.1:0" can be given the same port
 * by the kernel, which then puts their SO_REUSEPORT sockets in one group.
 */
static void
test_kinds(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir();
	const char		*key = tl_fmt("%s/key.pem", dir);
	const char		*cert = tl_fmt("%s/cert.pem", dir);
	const char		*gen[] = { "openssl", "req", "-x509",
				    "-newkey", "rsa:2048", "-nodes", "-keyout",
				    key, "-out", cert, "-days", "1", "-subj",
				    "/CN=localhost", NULL };
	const char		*argv[] = { "-w", "2", "-l",
				    "net=127.0.0.1:0", "-l", "tls=127.0.0.2:0",
				    "--ready", "notify", "--", "/usr/bin/env",
				    "node",
				    tl_srcpath("t/apps/servers.js"), NULL };
	char			*out = NULL, buf[64];
	int			 fd, rv;

	if (tl_run(gen, 60000, NULL) != 0)
		bail("openssl cannot make a certificate; "
		    "build-aux/install-deps installs openssl");
	if (setenv("TLS_KEY", key, 1) == -1 ||
	    setenv("TLS_CERT", cert, 1) == -1)
		sysbail("setenv");
	j = tl_start_wait(&d, argv, WAIT_MS);
	if (!ok(j != NULL, "net and https: both workers say READY=1, once "
	    "both servers listen"))
		return;
	if ((fd = tl_connect(tl_port(j, 0))) == -1)
		sysbail("connect");
	rv = write(fd, "ping\n", 5) == 5 ? read_all(fd, buf, sizeof(buf)) :
	    -1;
	ok(rv == 0 && strcmp(buf, "pong\n") == 0, "net: the net server "
	    "answers on drover's first socket");
	close(fd);
	rv = tl_run((const char *const []){ "curl", "-sSk", "--max-time", "10",
	    tl_fmt("https://127.0.0.2:%d/", tl_port(j, 1)), NULL }, 20000,
	    &out);
	ok(rv == 0 && out != NULL && strcmp(out, "hello over tls\n") == 0,
	    "https: the https server answers on drover's second socket");
	if (rv != 0 && out != NULL)
		diag("curl: %s", out);
	free(out);
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "net and https: drover exits 0");
	is_int(0, tl_log_count(&d, "SIGKILL"), "net and https: no worker "
	    "needed SIGKILL");
}

/*
 * An app that listens on port 3000 through drover.js and passes the
 * second inherited socket (fd 4, a unix socket here) to listen({fd: 4})
 * itself: READY=1 once both listen, and both serve.
 */
static void
test_own_fd(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir();
	const char		*app = tl_fmt("%s/own-fd.js", dir);
	const char		*sock = tl_fmt("%s/admin.sock", dir);
	const char		*argv[] = { "-w", "1", "-l", "127.0.0.1:0",
				    "-l", tl_fmt("unix:%s", sock), "--ready",
				    "notify", "--", "/usr/bin/env", "node", app,
				    NULL };
	int			 status, fd, rv;
	char			 body[64];

	if (tl_write_file(app, "%s",
	    "'use strict';\n"
	    "const http = require('http');\n"
	    "http.createServer((req, res) => res.end('app\\n'))"
	    ".listen(3000);\n"
	    "http.createServer((req, res) => res.end('admin\\n'))"
	    ".listen({ fd: 4 });\n") == -1)
		sysbail("%s", app);
	j = tl_start_wait(&d, argv, WAIT_MS);
	if (!ok(j != NULL, "own fd: READY=1 once port 3000 (through "
	    "drover.js) and fd 4 (passed by the app itself) both listen"))
		return;
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) == 0 &&
	    status == 200 && strcmp(body, "app\n") == 0, "own fd: the app's "
	    "server answers on drover's first socket");
	tl_json_free(j);
	if ((fd = tl_connect_unix(sock)) == -1)
		sysbail("connect %s", sock);
	rv = tl_http_request(fd, "/", 0) == 0 ? tl_http_response(fd, 5000,
	    &status, body, sizeof(body), NULL) : -1;
	ok(rv == 0 && status == 200 && strcmp(body, "admin\n") == 0,
	    "own fd: the server on fd 4 answers on drover's second socket");
	close(fd);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "own fd: drover exits 0");
}

int
main(void)
{
	const char	*root, *express, *fastify;
	int		 have;

	plan_lazy();
	signal(SIGPIPE, SIG_IGN);
	if (!ok(tl_in_path("node") && tl_in_path("npm"), "node and npm are "
	    "in PATH"))
		bail("node and npm are needed; build-aux/install-deps "
		    "installs them");
	if (!ok((root = npm_root()) != NULL, "npm root -g answers"))
		bail("npm root -g fails");
	express = express_app(root);
	fastify = tl_fmt("%s/fastify/examples/simple.js", root);
	have = ok(express != NULL, "the express package's Readme has its "
	    "hello-world app (%s/express)", root);
	have &= ok(access(fastify, R_OK) == 0, "the fastify package has "
	    "examples/simple.js");
	if (!have)
		bail("express and fastify are needed in %s; "
		    "build-aux/install-deps installs them", root);
	pack();
	if (setenv("NODE_OPTIONS", tl_fmt("--require=%s",
	    tl_srcpath("node/drover.js")), 1) == -1)
		sysbail("setenv");
	test_app("express", express, "Hello World");
	test_app("fastify", fastify, "{\"hello\":\"world\"}");
	test_left_alone();
	test_kinds();
	test_own_fd();
	return 0;
}
