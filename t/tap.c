/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * The TAP producer behind t/tap.h.  It keeps the plan, the number of tests
 * run and failed, and a short list of cleanup hooks.  All of it belongs to
 * the process that first planned or registered a hook: a forked child that
 * exits through exit(3) runs no hook and prints nothing, so a test can fork
 * helpers freely.  The exit handler cannot see the status passed to exit(),
 * so when the run failed it ends the process with _exit(1) after flushing
 * and cleaning up; a run that passed keeps the status main returned.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

#define TAP_MAXHOOKS	16

static void	tap_register(void);
static void	tap_finish(void);
static void	tap_vdiag(const char *, va_list) TAP_PRINTF(1, 0);
static int	tap_result(int, const char *, va_list) TAP_PRINTF(2, 0);

static pid_t	  tap_pid;		/* process owning the state, or 0 */
static int	  tap_planned = -1;	/* announced count, or -1 */
static int	  tap_lazy;		/* print the plan at exit */
static int	  tap_run;		/* tests run */
static int	  tap_nfailed;		/* tests failed */
static int	  tap_done;		/* bailed or skipped: exit as is */
static void	(*tap_hooks[TAP_MAXHOOKS])(void);
static int	  tap_nhooks;

/*
 * Install the exit handler once and remember which process owns the
 * test state.
 */
static void
tap_register(void)
{
	if (tap_pid != 0)
		return;
	tap_pid = getpid();
	if (atexit(tap_finish) != 0) {
		printf("Bail out! cannot register the exit handler\n");
		fflush(stdout);
		_exit(255);
	}
}

void
plan(int n)
{
	if (tap_planned >= 0 || tap_lazy)
		bail("plan() called twice");
	tap_register();
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void
plan_lazy(void)
{
	if (tap_planned >= 0 || tap_lazy)
		bail("plan() called twice");
	tap_register();
	tap_lazy = 1;
}

void
tap_atexit(void (*fn)(void))
{
	tap_register();
	if (tap_nhooks == TAP_MAXHOOKS)
		bail("too many exit hooks");
	tap_hooks[tap_nhooks++] = fn;
}

int
tap_count(void)
{
	return tap_run;
}

int
tap_failed(void)
{
	return tap_nfailed;
}

/*
 * The exit handler: in the owning process only, run the hooks, print the
 * lazy plan and the summary diagnostics, and turn a failed run into exit
 * status 1.
 */
static void
tap_finish(void)
{
	int	 fail = 0;

	if (getpid() != tap_pid)
		return;
	while (tap_nhooks > 0)
		tap_hooks[--tap_nhooks]();
	if (tap_done) {
		fflush(NULL);
		return;
	}
	if (tap_lazy) {
		printf("1..%d\n", tap_run);
		if (tap_run == 0) {
			diag("No tests run.");
			fail = 1;
		}
	} else if (tap_planned < 0) {
		if (tap_run > 0) {
			diag("Tests ran without a plan.");
			fail = 1;
		}
	} else if (tap_run != tap_planned) {
		diag("Looks like you planned %d test%s but ran %d.",
		    tap_planned, tap_planned == 1 ? "" : "s", tap_run);
		fail = 1;
	}
	if (tap_nfailed > 0) {
		diag("Looks like you failed %d test%s of %d.", tap_nfailed,
		    tap_nfailed == 1 ? "" : "s", tap_run);
		fail = 1;
	}
	fflush(NULL);
	if (fail)
		_exit(1);
}

/*
 * Print one result line.  Newlines in the description would break the
 * stream, so they become spaces.
 */
static int
tap_result(int cond, const char *fmt, va_list ap)
{
	char	*desc, *p;

	tap_register();
	tap_run++;
	if (!cond)
		tap_nfailed++;
	if (vasprintf(&desc, fmt, ap) == -1)
		sysbail("vasprintf");
	for (p = desc; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("%sok %d%s%s\n", cond ? "" : "not ", tap_run,
	    *desc != '\0' ? " - " : "", desc);
	fflush(stdout);
	free(desc);
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cond = tap_result(cond != 0, fmt, ap);
	va_end(ap);
	return cond;
}

int
is_int(long long want, long long got, const char *fmt, ...)
{
	va_list	 ap;
	int	 cond = want == got;

	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("    wanted: %lld\n      seen: %lld", want, got);
	return cond;
}

int
is_string(const char *want, const char *got, const char *fmt, ...)
{
	va_list	 ap;
	int	 cond;

	if (want == NULL || got == NULL)
		cond = want == got;
	else
		cond = strcmp(want, got) == 0;
	va_start(ap, fmt);
	tap_result(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("    wanted: %s%s%s\n      seen: %s%s%s",
		    want ? "\"" : "", want ? want : "(null)", want ? "\"" : "",
		    got ? "\"" : "", got ? got : "(null)", got ? "\"" : "");
	return cond;
}

void
skip(const char *fmt, ...)
{
	va_list	 ap;
	char	*why;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		sysbail("vasprintf");
	va_end(ap);
	tap_register();
	printf("ok %d # skip %s\n", ++tap_run, why);
	fflush(stdout);
	free(why);
}

/* Print text as "# " lines, one for each line of the formatted text. */
static void
tap_vdiag(const char *fmt, va_list ap)
{
	char	*text, *line, *nl;

	fflush(stdout);
	if (vasprintf(&text, fmt, ap) == -1) {
		printf("# (diag: out of memory)\n");
		fflush(stdout);
		return;
	}
	for (line = text; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (nl != NULL && *nl == '\0')
			nl = NULL;
		printf("# %s\n", line);
	}
	fflush(stdout);
	free(text);
}

void
diag(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

void
bail(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_done = 1;
	exit(255);
}

void
sysbail(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	fflush(stdout);
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": %s\n", strerror(saved));
	fflush(stdout);
	tap_done = 1;
	exit(255);
}

void
skip_all(const char *fmt, ...)
{
	va_list	 ap;

	if (tap_planned >= 0 || tap_run > 0)
		bail("skip_all() after the plan or a test");
	tap_register();
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_done = 1;
	exit(0);
}
