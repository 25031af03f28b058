/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Logging for the master.  Every line goes to stderr as "drover[PID]:
 * message".  When stderr is connected to the journal (JOURNAL_STREAM names
 * the device and inode of our stderr), each line carries the sd-daemon(3)
 * "<N>" priority prefix instead, since the journal adds its own name and
 * pid.  log_status() spells a wait status the way every exit line does.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "drover-master.h"

static void	 log_vlog(int, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));
static int	 log_is_journal(void);
static void	 log_verr(int, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));
static void	 log_line(int, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

static int	 log_journal;
static int	 log_debugging;
static char	 log_lastwarn[256];	/* the last warning's text */
static void	(*log_sink)(const char *, size_t);

/*
 * Decide once how lines are written.  The argument turns debug lines on.
 */
void
log_init(int debug)
{
	log_journal = log_is_journal();
	log_debugging = debug;
}

/*
 * Return whether stderr is the journal stream systemd set up for us:
 * JOURNAL_STREAM holds "DEVICE:INODE" of that stream.
 */
static int
log_is_journal(void)
{
	const char	*js;
	struct stat	 st;
	unsigned long long dev, ino;

	if ((js = getenv("JOURNAL_STREAM")) == NULL)
		return 0;
	if (sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * Write one line.  The whole line is formatted first and written with one
 * call, so lines from the master never interleave with each other.  The
 * message goes through text_log(): whatever text from outside it quotes
 * stays on its line and cannot pass for a line of ours.
 */
static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	char	 msg[1024], line[1024];
	int	 n, p;

	if (log_journal)
		p = snprintf(line, sizeof(line), "<%d>", pri);
	else
		p = snprintf(line, sizeof(line), "drover[%ld]: ",
		    (long)getpid());
	if (p < 0 || vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	n = p + (int)text_log(line + p, sizeof(line) - p - 1, msg,
	    strlen(msg));
	if (pri <= LOG_WARNING)
		strlcpy(log_lastwarn, line + p, sizeof(log_lastwarn));
	line[n++] = '\n';
	if (log_sink != NULL && pri != LOG_CRIT)
		log_sink(line, (size_t)n);
	else
		(void)write(STDERR_FILENO, line, n);
}

/*
 * Send log lines to sink instead of writing them to stderr ourselves:
 * with output = prefix, the master's lines and its workers' share one
 * non-blocking queue, so a full stderr blocks neither.  Fatal lines are
 * still written directly, since the process is about to exit.
 */
void
log_setsink(void (*sink)(const char *, size_t))
{
	log_sink = sink;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Log fmt followed by the text of errno, as it was on entry. */
static void
log_verr(int pri, const char *fmt, va_list ap)
{
	char	 msg[768];
	int	 saved = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_line(pri, "%s: %s", msg, strerror(saved));
	errno = saved;
}

static void
log_line(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/*
 * Log a fatal error with the errno string and exit with the given code.
 */
void
fatal(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(code);
}

/*
 * The text of the last warning logged, without prefix: what a failed
 * reload reports in status.json.
 */
const char *
log_last(void)
{
	return log_lastwarn;
}

/*
 * Spell a wait status: "exited 1", "killed by signal 11 (SIGSEGV), core
 * dumped".  A failed exec is spelled with its errno instead.
 */
const char *
log_status(int status, int execerr, char *buf, size_t len)
{
	const char	*name;

	if (execerr != 0) {
		(void)snprintf(buf, len, "exec failed: %s", strerror(execerr));
	} else if (WIFEXITED(status)) {
		(void)snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		name = sigabbrev_np(WTERMSIG(status));
		(void)snprintf(buf, len, "killed by signal %d (SIG%s)%s",
		    WTERMSIG(status), name != NULL ? name : "?",
		    WCOREDUMP(status) ? ", core dumped" : "");
	} else
		(void)snprintf(buf, len, "wait status %#x", status);
	return buf;
}
