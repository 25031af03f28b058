/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * A small producer of the Test Anything Protocol for drover's test
 * programs.  A test calls plan() (or plan_lazy()) once, then one ok(),
 * is_int() or is_string() per assertion, each with a sentence saying what
 * it checks.  Output goes to standard output and is flushed after every
 * line, so a test may fork.  At exit the process that planned prints any
 * lazy plan, runs the registered cleanup hooks and exits 0 only if every
 * test passed and the count matches the plan, 1 otherwise.
 */

#ifndef DROVER_TAP_H
#define DROVER_TAP_H

#define TAP_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define TAP_NORETURN		__attribute__((noreturn))

/* Announce the number of tests; plan_lazy() prints "1..N" at exit. */
void	plan(int);
void	plan_lazy(void);

/* Assertions: each prints one "ok" or "not ok" line and returns cond. */
int	ok(int, const char *, ...) TAP_PRINTF(2, 3);
int	is_int(long long, long long, const char *, ...) TAP_PRINTF(3, 4);
int	is_string(const char *, const char *, const char *, ...)
	    TAP_PRINTF(3, 4);

/* One test that is counted as passed but was skipped for a reason. */
void	skip(const char *, ...) TAP_PRINTF(1, 2);

/* Diagnostics: "# " lines on standard output, one per line of text. */
void	diag(const char *, ...) TAP_PRINTF(1, 2);

/* Give up: "Bail out!" and exit 255; sysbail appends strerror(errno). */
void	bail(const char *, ...) TAP_PRINTF(1, 2) TAP_NORETURN;
void	sysbail(const char *, ...) TAP_PRINTF(1, 2) TAP_NORETURN;

/* Skip the whole program: "1..0 # SKIP reason" and exit 0. */
void	skip_all(const char *, ...) TAP_PRINTF(1, 2) TAP_NORETURN;

/*
 * Run fn at exit in the process that registered it (never in a forked
 * child), before the summary, latest registered first.  The test library
 * uses this to kill daemons and remove temporary directories.
 */
void	tap_atexit(void (*)(void));

/* Number of tests run so far, and of those that failed. */
int	tap_count(void);
int	tap_failed(void);

#endif /* DROVER_TAP_H */
