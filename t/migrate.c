/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The worked examples of drover-migrate(7), run as the guides say.  From
 * PM2: examples/migrate/shop.conf, the drover.conf(5) that says what
 * shop/ecosystem.config.js says to PM2, runs the unchanged PM2 app
 * shop/server.js (process.send('ready'), a SIGINT handler), with only its
 * paths pointed at this tree and its address at a free port: ready, its
 * environment, served, stopped gracefully.  The same file is what the
 * systemd guide installs as /etc/drover/shop.conf for drover@shop: drover
 * -n shows the state directory systemd's RUNTIME_DIRECTORY gives it.
 * From the cluster module: examples/migrate/cluster.js, one line changed,
 * serves under drover and forks no cluster of its own.  (The gunicorn
 * guide's command is the one t/python.t runs.)
 */

#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		60000	/* interpreters start slowly on a busy host */

static char	*replace(const char *, const char *, const char *);
static const char *shop_conf(void);
static int	 start_app(struct tl_daemon *, const char *const [],
		    const char *, const char *, const char *, pid_t *);
static void	 stop_app(struct tl_daemon *, const char *);
static void	 test_pm2(const char *);
static void	 test_systemd(const char *);
static void	 test_cluster(void);

/* s with every occurrence of from replaced by to (malloc'd). */
static char *
replace(const char *s, const char *from, const char *to)
{
	char		*out, *o;
	const char	*p;
	size_t		 n = tl_count(s, from), fl = strlen(from), tlen;

	tlen = strlen(to);
	if ((out = malloc(strlen(s) + n * tlen + 1)) == NULL)
		sysbail("malloc");
	for (o = out; (p = strstr(s, from)) != NULL; s = p + fl) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, to, tlen);
		o += tlen;
	}
	strcpy(o, s);
	return out;
}

/*
 * examples/migrate/shop.conf with /srv/shop and the installed drover.js
 * pointed at this tree.
 */
static const char *
shop_conf(void)
{
	const char	*path = tl_fmt("%s/shop.conf", tl_tmpdir());
	char		*text, *a, *b;

	if ((text = tl_slurp(tl_srcpath("examples/migrate/shop.conf"))) ==
	    NULL)
		sysbail("examples/migrate/shop.conf");
	a = replace(text, "/srv/shop", tl_srcpath("examples/migrate/shop"));
	b = replace(a, "/usr/share/drover/node/drover.js",
	    tl_srcpath("node/drover.js"));
	if (tl_write_file(path, "%s", b) == -1)
		sysbail("%s", path);
	free(text);
	free(a);
	free(b);
	return path;
}

/*
 * Start drover with argv and check that both workers say READY=1 and
 * that app (a noun for the sentence) answers GET / with 200 and want;
 * the two workers' pids go to pids.  0, or -1 (drover killed) if the
 * workers did not get ready.
 */
static int
start_app(struct tl_daemon *d, const char *const argv[], const char *what,
    const char *app, const char *want, pid_t *pids)
{
	struct tl_json	*j;
	int		 status;
	char		 body[64];

	j = tl_start_wait(d, argv, WAIT_MS);
	if (!ok(j != NULL, "%s: both workers say READY=1", what))
		return -1;
	tl_pids(j, pids, 2);
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) ==
	    0 && status == 200 && strcmp(body, want) == 0, "%s: %s serves",
	    what, app);
	tl_json_free(j);
	return 0;
}

/* Stop drover: it exits 0, and no worker needed SIGKILL. */
static void
stop_app(struct tl_daemon *d, const char *what)
{
	is_int(0, tl_daemon_stop(d, WAIT_MS), "%s: drover stops with status "
	    "0", what);
	is_int(0, tl_log_count(d, "SIGKILL"), "%s: no worker needed SIGKILL",
	    what);
}

static void
test_pm2(const char *conf)
{
	struct tl_daemon	 d;
	const char		*argv[] = { "-c", conf, "-w", "2", "-l",
				    "http=127.0.0.1:0", NULL };
	const char		*v;
	pid_t			 pids[2];
	int			 k;

	if (start_app(&d, argv, "pm2", "the unchanged PM2 app of shop.conf",
	    "hello from the shop\n", pids) == -1)
		return;
	for (k = 0; k < 2; k++) {
		v = tl_env_of(pids[k], "NODE_ENV");
		is_string("production", v != NULL ? v : "(unset)", "pm2: "
		    "worker %d has env NODE_ENV=production", k);
	}
	is_int(0, tl_log_count(&d, "process.send"), "pm2: its "
	    "process.send('ready') did not throw");
	stop_app(&d, "pm2");
	is_int(2, tl_log_count(&d, "exited 0"), "pm2: both workers exited 0 "
	    "(drover.js's graceful stop on SIGTERM)");
}

/* What drover@shop.service would run: drover -c /etc/drover/shop.conf. */
static void
test_systemd(const char *conf)
{
	const char	*rundir = tl_fmt("%s/run-drover-shop", tl_tmpdir());
	const char	*argv[] = { tl_path("supervisor/drover"), "-n", "-c",
			    conf, NULL };
	char		*out = NULL;
	int		 rv;

	if (setenv("RUNTIME_DIRECTORY", rundir, 1) == -1)
		sysbail("setenv");
	rv = tl_run(argv, WAIT_MS, &out);
	(void)unsetenv("RUNTIME_DIRECTORY");
	is_int(0, rv, "systemd: drover -n accepts shop.conf");
	ok(out != NULL && strstr(out, tl_fmt("\nstate_dir = %s\n", rundir)) !=
	    NULL, "systemd: RuntimeDirectory= (RUNTIME_DIRECTORY) is its "
	    "state directory");
	free(out);
}

static void
test_cluster(void)
{
	struct tl_daemon	 d;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", "/usr/bin/env",
				    "node",
				    tl_srcpath("examples/migrate/cluster.js"),
				    NULL };
	pid_t			 pids[2], kids[4];
	int			 k, rv;

	if (setenv("NODE_OPTIONS", tl_fmt("--require=%s",
	    tl_srcpath("node/drover.js")), 1) == -1)
		sysbail("setenv");
	rv = start_app(&d, argv, "cluster", "it", "hello from the cluster\n",
	    pids);
	(void)unsetenv("NODE_OPTIONS");
	if (rv == -1)
		return;
	for (k = 0; k < 2; k++)
		is_int(0, tl_children(pids[k], kids, 4), "cluster: worker %d "
		    "forked no cluster of its own", k);
	stop_app(&d, "cluster");
}

int
main(void)
{
	const char	*conf;

	plan_lazy();
	if (!ok(tl_in_path("node"), "node is in PATH"))
		bail("node is needed; build-aux/install-deps installs it");
	(void)unsetenv("NODE_OPTIONS");
	conf = shop_conf();
	test_pm2(conf);
	test_systemd(conf);
	test_cluster();
	return 0;
}
