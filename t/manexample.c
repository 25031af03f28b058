/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The example program of libdrover(3), as the manual prints it: the first
 * literal block of its EXAMPLES section, with the roff escapes a reader
 * does not see undone, compiles with -Wall -Werror against the libdrover
 * just built, runs under drover --ready notify and answers an HTTP
 * request with "hello"; a stop ends it cleanly.  The compiler is the one
 * the tree was configured with ($CC and $CFLAGS, which make check
 * passes), so that a sanitizer build compiles the example the same way.
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

#define WAIT_MS		60000	/* a busy CI host can be slow */

static char	*example(const char *);

/*
 * The first ".Bd -literal" block after ".Sh EXAMPLES" of the page at
 * path, as mandoc shows it: "\e" is a backslash, "\&" nothing.  NULL if
 * there is none.
 */
static char *
example(const char *path)
{
	char		*page, *p, *end, *out, *o;

	if ((page = tl_slurp(path)) == NULL)
		return NULL;
	if ((p = strstr(page, "\n.Sh EXAMPLES\n")) == NULL ||
	    (p = strstr(p, "\n.Bd -literal")) == NULL ||
	    (p = strchr(p + 1, '\n')) == NULL ||
	    (end = strstr(p, "\n.Ed\n")) == NULL) {
		free(page);
		return NULL;
	}
	p++;
	if ((out = malloc((size_t)(end - p) + 2)) == NULL)
		sysbail("malloc");
	for (o = out; p < end; p++) {
		if (p[0] == '\\' && p[1] == 'e') {
			*o++ = '\\';
			p++;
		} else if (p[0] == '\\' && p[1] == '&')
			p++;
		else
			*o++ = *p;
	}
	*o++ = '\n';
	*o = '\0';
	free(page);
	return out;
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir = tl_tmpdir();
	const char		*src = tl_fmt("%s/hello.c", dir);
	const char		*bin = tl_fmt("%s/hello", dir);
	const char		*lib, *cc, *cflags, *ldflags, *ev, *cmd;
	const char		*argv[] = { "-w", "2", "-l", "127.0.0.1:0",
				    "--ready", "notify", "--", bin, NULL };
	char			*code, *out = NULL, body[64];
	int			 rv, status;

	plan_lazy();
	code = example(tl_srcpath("man/libdrover.3"));
	if (!ok(code != NULL, "libdrover(3) has an example program"))
		bail("no example in man/libdrover.3");
	ok(strstr(code, "int\nmain(void)") != NULL, "the example is a whole "
	    "program");
	if (tl_write_file(src, "%s", code) == -1)
		sysbail("%s", src);
	free(code);

	if ((cc = getenv("CC")) == NULL || *cc == '\0')
		cc = "cc";
	cflags = (cflags = getenv("CFLAGS")) != NULL ? cflags : "";
	ldflags = (ldflags = getenv("LDFLAGS")) != NULL ? ldflags : "";
	ev = (ev = getenv("LIBEV_LIBS")) != NULL && *ev != '\0' ? ev : "-lev";
	/* The static library if there is one, else the shared one. */
	lib = tl_path("worker-api/.libs/libdrover.a");
	if (access(lib, R_OK) == -1)
		lib = tl_fmt("-L%s -ldrover -Wl,-rpath,%s",
		    tl_path("worker-api/.libs"), tl_path("worker-api/.libs"));
	cmd = tl_fmt("%s -Wall -Werror %s -I%s -o %s %s %s %s %s", cc, cflags,
	    tl_srcpath("worker-api"), bin, src, lib, ev, ldflags);
	diag("%s", cmd);
	rv = tl_run((const char *const []){ "/bin/sh", "-c", cmd, NULL },
	    120000, &out);
	if (!is_int(0, rv, "it compiles with -Wall -Werror as printed") &&
	    out != NULL)
		diag("%s", out);
	free(out);
	if (rv != 0)
		return 0;

	if (tl_daemon_start(&d, argv) == -1)
		bail("cannot start drover");
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "under drover --ready notify, both workers say READY=1");
	if (j != NULL) {
		rv = tl_http_get(tl_port(j, 0), "/", &status, body,
		    sizeof(body));
		ok(rv == 0 && status == 200 && strcmp(body, "hello\n") == 0,
		    "it answers an HTTP request: 200 hello");
		rv = tl_http_get(tl_port(j, 0), "/again", &status, body,
		    sizeof(body));
		ok(rv == 0 && status == 200, "and the next one");
		tl_json_free(j);
	}
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	is_int(2, tl_log_count(&d, "exited 0"), "both workers exited 0 on "
	    "SIGTERM");
	return 0;
}
