/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Logging for the master.  Every line goes to stderr, its own lines as
 * "drover[PID]: message" and its workers' (output = prefix, output.c) as
 * "slot N pid P stdout: text"; with log_format = json each line is one
 * JSON object instead.  When stderr is connected to the journal
 * (JOURNAL_STREAM names the device and inode of our stderr), each line
 * starts with the sd-daemon(3) "<N>" priority prefix, which the journal
 * takes off and keeps as the priority, and the master's own lines leave
 * out "drover[PID]: ", since the journal adds its own name and pid.
 * log_status() spells a wait status the way every exit line does.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "drover-master.h"

/*
 * The longest text a line carries (a worker's line is cut at 4096 bytes,
 * output.c), and room for it escaped: at most 4 bytes for one by
 * text_log(), 6 by text_json(), plus the prefix or the other members.
 */
#define LOG_TEXT	4096
#define LOG_LINE	(6 * LOG_TEXT + 512)

static void	 log_vlog(int, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));
static int	 log_is_journal(void);
static void	 log_verr(int, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));
static void	 log_line(int, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));
static int	 log_json(void);
static size_t	 log_text(char *, size_t, int, const struct logsrc *,
		    const char *, size_t);
static size_t	 log_object(char *, size_t, int, const struct logsrc *,
		    const char *, size_t);
static void	 log_about(const char *, struct logsrc *);

static int	 log_journal;
static int	 log_debugging;
static int	 log_jsonstart;		/* json before the configuration */
static char	 log_lastwarn[256];	/* the last warning's text */
static void	(*log_sink)(const char *, size_t);
static char	 log_buf[LOG_LINE];	/* the line being written */
static char	 log_jbuf[LOG_LINE];	/* a JSON object, by log_fp */
static FILE	*log_fp;

/* The names of the priorities, as journalctl -p and syslog.conf(5). */
static const char *const log_levels[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
};

/*
 * Decide once how lines are written.  The first argument turns debug
 * lines on; the second asks for JSON lines (--log-format json) until a
 * configuration is in use, whose log_format counts from then on.
 */
void
log_init(int debug, int json)
{
	log_journal = log_is_journal();
	log_debugging = debug;
	log_jsonstart = json;
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
 * Whether lines are JSON: the current generation says, so a reload
 * changes the format with everything else, and a rollback changes it
 * back.
 */
static int
log_json(void)
{
	if (master.m_conf != NULL)
		return master.m_conf->c_log_format == LOG_JSON;
	return log_jsonstart;
}

/*
 * Write one line.  The whole line is formatted first and written with one
 * call, so lines from the master never interleave with each other.  The
 * message goes through text_log() or text_json(): whatever text from
 * outside it quotes stays on its line and cannot pass for a line of ours.
 */
static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	struct logsrc	 ls;
	const char	*line;
	char		 msg[2048];
	size_t		 n;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	if (pri <= LOG_WARNING)
		(void)text_log(log_lastwarn, sizeof(log_lastwarn), msg,
		    strlen(msg));
	memset(&ls, 0, sizeof(ls));
	ls.ls_slot = -1;
	ls.ls_pid = (long)getpid();
	ls.ls_gen = master.m_gen;
	if (log_json())
		log_about(msg, &ls);
	n = log_compose(pri, &ls, msg, strlen(msg), &line);
	if (log_sink != NULL && pri != LOG_CRIT)
		log_sink(line, n);
	else if (write(STDERR_FILENO, line, n) != (ssize_t)n)
		return;		/* stderr is gone: nowhere left to say so */
}

/*
 * The slot, worker and generation a line of the master's is about, for
 * the members of its JSON object: the engine's lines start "slot N:",
 * then "worker PID" and " (gen G)" when they are about one worker.
 */
static void
log_about(const char *msg, struct logsrc *ls)
{
	const struct slot	*s;
	char			*end;
	long			 id, pid;
	int			 k, i;

	if (strncmp(msg, "slot ", 5) != 0 || !isdigit((unsigned char)msg[5]))
		return;
	id = strtol(msg + 5, &end, 10);
	if (*end != ':' || id > DROVER_MAX_WORKERS)
		return;
	ls->ls_slot = (int)id;
	if (strncmp(end, ": worker ", 9) != 0 ||
	    !isdigit((unsigned char)end[9]))
		return;
	ls->ls_pid = pid = strtol(end + 9, &end, 10);
	if (strncmp(end, " (gen ", 6) == 0 && isdigit((unsigned char)end[6])) {
		ls->ls_gen = strtoull(end + 6, NULL, 10);
		return;
	}
	/* Else the worker's own generation, if it is still ours. */
	for (k = 0; k < master.m_nslots; k++) {
		if ((s = master.m_slots[k])->s_id != id)
			continue;
		for (i = 0; i < 2; i++)
			if (s->s_wk[i].w_pid == (pid_t)pid)
				ls->ls_gen = s->s_wk[i].w_gen;
	}
}

/*
 * Format one line of priority pri from ls: text (len bytes, not
 * NUL-terminated, cut at LOG_TEXT) with the prefix of the format in use,
 * led by "<pri>" for the journal, and ended with a newline.  *linep is
 * set to the line, good until the next call; its length is returned.
 */
size_t
log_compose(int pri, const struct logsrc *ls, const char *text, size_t len,
    const char **linep)
{
	size_t	 n = 0;

	if (len > LOG_TEXT)
		len = LOG_TEXT;
	if (log_journal)
		n = (size_t)snprintf(log_buf, sizeof(log_buf), "<%d>", pri);
	if (log_json())
		n += log_object(log_buf + n, sizeof(log_buf) - n - 1, pri, ls,
		    text, len);
	else
		n += log_text(log_buf + n, sizeof(log_buf) - n - 1, pri, ls,
		    text, len);
	log_buf[n++] = '\n';
	*linep = log_buf;
	return n;
}

/*
 * A text line: the master's "drover[PID]: message" (the journal knows
 * who we are: the message alone), a worker's "slot N pid P stdout: text",
 * with the priority the worker gave as " [err]" after its stream where no
 * journal takes it from the "<N>" in front.
 */
static size_t
log_text(char *buf, size_t size, int pri, const struct logsrc *ls,
    const char *text, size_t len)
{
	int	 p = 0, lvl;

	lvl = ls->ls_given && !log_journal;
	if (ls->ls_stream != NULL)
		p = snprintf(buf, size, "slot %d pid %ld %s%s%s%s: ",
		    ls->ls_slot, ls->ls_pid, ls->ls_stream, lvl ? " [" : "",
		    lvl ? log_levels[pri] : "", lvl ? "]" : "");
	else if (!log_journal)
		p = snprintf(buf, size, "drover[%ld]: ", ls->ls_pid);
	if (p < 0 || (size_t)p >= size)
		p = 0;
	return (size_t)p + text_log(buf + p, size - (size_t)p, text, len);
}

/*
 * A JSON object: time (UTC, to the millisecond), level, priority, slot
 * (null for none), pid, generation (null before the first), the stream
 * of a worker's line, and the message, by text_json(): always valid
 * UTF-8.  The sizes keep it whole (LOG_LINE); if the stream cannot be
 * made, the line is text.
 */
static size_t
log_object(char *buf, size_t size, int pri, const struct logsrc *ls,
    const char *text, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];
	long		 n;

	if (log_fp == NULL && (log_fp = fmemopen(log_jbuf, sizeof(log_jbuf),
	    "w")) == NULL)
		return log_text(buf, size, pri, ls, text, len);
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	rewind(log_fp);
	fprintf(log_fp, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\","
	    "\"priority\":%d,\"slot\":", when, ts.tv_nsec / 1000000,
	    log_levels[pri], pri);
	if (ls->ls_slot >= 0)
		fprintf(log_fp, "%d", ls->ls_slot);
	else
		fputs("null", log_fp);
	fprintf(log_fp, ",\"pid\":%ld,\"generation\":", ls->ls_pid);
	if (ls->ls_gen > 0)
		fprintf(log_fp, "%llu", (unsigned long long)ls->ls_gen);
	else
		fputs("null", log_fp);
	if (ls->ls_stream != NULL)
		fprintf(log_fp, ",\"stream\":\"%s\"", ls->ls_stream);
	fputs(",\"message\":", log_fp);
	text_json(log_fp, text, len);
	fputc('}', log_fp);
	(void)fflush(log_fp);
	if ((n = ftell(log_fp)) < 0 || (size_t)n >= size)
		return log_text(buf, size, pri, ls, text, len);
	memcpy(buf, log_jbuf, (size_t)n);
	return (size_t)n;
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
