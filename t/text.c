/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What a worker sends is data.  Two workers send the same hostile bytes
 * (a clear-screen escape, a carriage return followed by a line that
 * looks like the master's, invalid UTF-8: a lone 0xff, an overlong
 * 0xc0 0xaf, a surrogate 0xed 0xa0 0x80, then a C1 control, a NUL and a
 * sequence cut short), slot 0 on its notify stream, slot 1 in datagrams
 * on its NOTIFY_SOCKET, each as a malformed notify line, as STATUS= text
 * and on its standard output (output = prefix), and a newline followed
 * by a fake master line.  The log shows each escaped, on the one line of
 * its slot, and holds no control character other than tab and newline,
 * no invalid UTF-8 and no line that passes for the master's;
 * status.json and the health endpoint's /status are valid UTF-8 JSON
 * that a strict parser reads, with the invalid bytes replaced by U+FFFD
 * and the controls escaped.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000

/* The hostile bytes, as Python and as the log must show them. */
#define BAD_PY		"b'\\x1b[2J\\rdrover[1]: master exiting" \
			"\\xff\\xc0\\xaf\\xed\\xa0\\x80\\xc2\\x9b\\xc3\\xa9" \
			"\\x00nul\\xe2\\x82'"
#define BAD_LOG		"\\x1b[2J\\x0ddrover[1]: master exiting" \
			"\\xff\\xc0\\xaf\\xed\\xa0\\x80\\xc2\\x9b\xc3\xa9" \
			"\\x00nul\\xe2\\x82"
#define FFFD		"\xef\xbf\xbd"

/*
 * Every worker: its slot's channel (slot 0 the stream, slot 1 datagrams)
 * gets a malformed line and a STATUS= line with the bad bytes, its
 * standard output a line with them (ended by CRLF) and a fake master
 * line after a newline; then READY=1.
 */
static const char helper_py[] =
"import os, socket, sys, time\n"
"bad = " BAD_PY "\n"
"if os.environ['DROVER_WORKER_ID'] == '0':\n"
"    def notify(msg):\n"
"        os.write(int(os.environ['DROVER_NOTIFY_FD']), msg + b'\\n')\n"
"else:\n"
"    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
"    s.connect(os.environ['NOTIFY_SOCKET'])\n"
"    def notify(msg):\n"
"        s.send(msg)\n"
"notify(b'bad' + bad)\n"
"notify(b'STATUS=s' + bad)\n"
"sys.stdout.buffer.write(b'out' + bad + b'\\ttab\\r\\n')\n"
"sys.stdout.buffer.write(b'x\\ndrover[1]: master exiting\\n')\n"
"sys.stdout.flush()\n"
"notify(b'READY=1')\n"
"time.sleep(600)\n";

static int	 strict_json(const char *);
static void	 check_status(const struct tl_json *, const char *);
static void	 check_log(const struct tl_daemon *);

/* Whether python3 reads the file at path as strict UTF-8 JSON. */
static int
strict_json(const char *path)
{
	const char *const	 argv[] = { "python3", "-c",
				    "import json, sys; "
				    "json.load(open(sys.argv[1], "
				    "encoding='utf-8', errors='strict'))",
				    path, NULL };
	char			*out = NULL;
	int			 r;

	r = tl_run(argv, WAIT_MS, &out);
	if (r != 0 && out != NULL)
		diag("%s", out);
	free(out);
	return r == 0;
}

/* The STATUS= texts of both slots, in a status document. */
static void
check_status(const struct tl_json *j, const char *what)
{
	static const char	 want[] = "s\x1b[2J\rdrover[1]: master exiting"
				    FFFD FFFD FFFD FFFD FFFD FFFD
				    "\xc2\x9b\xc3\xa9\0nul" FFFD FFFD;
	const struct tl_json	*s;
	int			 i;

	for (i = 0; i < 2; i++) {
		s = tl_json_get(j, tl_fmt("slots.%d.status", i));
		ok(s != NULL && s->j_type == TL_JSON_STRING &&
		    s->j_len == sizeof(want) - 1 &&
		    memcmp(s->j_str, want, sizeof(want) - 1) == 0,
		    "%s: slot %d's STATUS= text is there, controls and NUL "
		    "escaped, each invalid byte U+FFFD", what, i);
	}
}

/*
 * The log: each slot's malformed line and output line, escaped, on one
 * line; the fake master line after a newline only as a worker's line;
 * and nothing anywhere a terminal or a strict reader would take for
 * more than text.
 */
static void
check_log(const struct tl_daemon *d)
{
	const char *const	 argv[] = { "python3", "-c", "import sys; "
				    "open(sys.argv[1], encoding='utf-8', "
				    "errors='strict').read()", d->log, NULL };
	char			*log, *p, *nl;
	size_t			 len, i, bad = 0, fake = 0;
	unsigned char		 c;
	int			 s;

	if ((log = tl_slurp(d->log)) == NULL)
		sysbail("%s", d->log);
	for (s = 0; s < 2; s++)
		ok(strstr(log, tl_fmt("slot %d: malformed notify message "
		    "\"bad" BAD_LOG "\": ignored\n", s)) != NULL, "slot %d's "
		    "malformed notify line is logged escaped, on one line", s);
	is_int(2, tl_count(log, ": out" BAD_LOG "\ttab\n"), "both slots' "
	    "output lines are logged escaped, with the tab and without the "
	    "CR of their CRLF");
	is_int(2, tl_count(log, ": drover[1]: master exiting\n"), "the fake "
	    "line after a newline shows as each worker's own line");
	len = strlen(log);
	for (i = 0; i < len; i++) {
		c = (unsigned char)log[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			bad++;
	}
	is_int(0, (int)bad, "the log holds no control character but tab and "
	    "newline");
	/* A terminal starts a line again after a CR too. */
	for (p = log; *p != '\0'; p = nl + 1) {
		if (strncmp(p, "drover[1]:", 10) == 0)
			fake++;
		if ((nl = strpbrk(p, "\r\n")) == NULL)
			break;
	}
	is_int(0, (int)fake, "no line of the log passes for the master's, "
	    "on a terminal either");
	free(log);
	is_int(0, tl_run(argv, WAIT_MS, NULL), "the log is valid UTF-8");
}

int
main(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir, *helper, *file;
	char			 body[65536];
	int			 hport, status;

	plan_lazy();
	if (!tl_in_path("python3"))
		skip_all("no python3");
	dir = tl_tmpdir();
	helper = tl_fmt("%s/helper.py", dir);
	if (tl_write_file(helper, "%s", helper_py) == -1)
		sysbail("%s", helper);
	{
		const char *const argv[] = { "-w", "2", "-l", "127.0.0.1:0",
		    "--", "/bin/sh", "-c", tl_fmt("exec python3 '%s'", helper),
		    NULL };

		tl_start_conf(&d, "ready = notify\noutput = prefix\n"
		    "health = 127.0.0.1:0\n", argv, 0);
	}
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("ready", 1),
	    TL_EQ("slots.0.notify.malformed", 1),
	    TL_EQ("slots.1.notify.malformed", 1));
	if (j == NULL)
		bail("the workers never became ready");
	check_status(j, "status.json");
	hport = (int)tl_json_int(j, "health.port", -1);
	tl_json_free(j);
	ok(strict_json(tl_fmt("%s/status.json", d.state)), "status.json is "
	    "strict UTF-8 JSON");

	status = -1;
	if (tl_http_get(hport, "/status", &status, body, sizeof(body)) == -1)
		status = -1;
	is_int(200, status, "/status answers 200");
	file = tl_fmt("%s/status-endpoint.json", dir);
	if (tl_write_file(file, "%s", body) == -1)
		sysbail("%s", file);
	ok(strict_json(file), "/status is strict UTF-8 JSON");
	j = tl_json_parse(body);
	check_status(j, "/status");
	tl_json_free(j);

	(void)tl_wait_log_count(&d, ": drover[1]: master exiting\n", 2,
	    WAIT_MS);
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with status 0");
	check_log(&d);
	return 0;
}
