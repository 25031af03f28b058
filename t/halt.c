/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A worker that exits 78 (EX_CONFIG) declares its configuration broken
 * and is not restarted: its slot is "halted", the other slots serve on.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "testlib.h"

static int	 slot0_moves(const struct tl_json *, void *);

/* Slot 0 leaves the halted state or gets a process. */
static int
slot0_moves(const struct tl_json *j, void *arg)
{
	const char	*st = tl_json_str(j, "slots.0.state");

	(void)arg;
	return st == NULL || strcmp(st, "halted") != 0 ||
	    tl_json_int(j, "slots.0.pid", 0) != 0;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_match		 m;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--", "/bin/sh", "-c", NULL, NULL };
	int			 status;
	char			 body[64];

	plan_lazy();
	/* Slot 0 declares its configuration broken; slot 1 serves. */
	argv[7] = tl_fmt("if [ \"$DROVER_WORKER_ID\" = 0 ]; then exit 78; fi; "
	    "exec '%s'", tl_path("examples/hello-c/hello-c"));
	tl_start(&d, argv, 0);
	m.path = "slots.0.state";
	m.str = "halted";
	j = tl_status_wait(&d, tl_pred_match, &m, 10000);
	ok(j != NULL, "slot 0 is halted");
	if (j == NULL)
		bail("slot 0 never halted");
	is_int(0, tl_json_int(j, "slots.0.pid", -1), "slot 0 has no worker");
	is_int(78, tl_json_int(j, "slots.0.last_exit.code", -1),
	    "last_exit.code 78");
	is_int(0, tl_json_int(j, "slots.0.restarts", -1),
	    "slot 0 was not restarted");
	tl_json_free(j);
	is_int(0, tl_wait_log(&d, "slot 0: worker exited 78 (its "
	    "configuration is broken): not restarting it", 5000),
	    "the log says why");

	m.path = "slots.1.state";
	m.str = "ready";
	j = tl_status_wait(&d, tl_pred_match, &m, 10000);
	ok(j != NULL, "slot 1 serves");
	ok(tl_http_get(tl_port(j, 0), "/", &status, body, sizeof(body)) == 0 &&
	    status == 200, "the port answers");
	ok(tl_json_bool(j, "ready") == 0, "not ready with a halted slot");
	tl_json_free(j);

	j = tl_status_wait(&d, slot0_moves, NULL, 1500);
	ok(j == NULL, "slot 0 stays halted");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, 10000), "drover stops with status 0");
	return 0;
}
