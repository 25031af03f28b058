/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * droverctl status: the master's status.json as a table a person reads,
 * or as JSON for scripts, each worker with what /proc says of it (how
 * long it has run, its resident memory and the CPU time it used), which
 * status.json does not carry: the master would have to read /proc for
 * every worker on every change, and droverctl reads it once, when asked.
 * Text that comes from workers or files (a reload's error, a STATUS=
 * line) goes through text_log(), so it cannot move the cursor or forge a
 * line.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* What /proc says of one process; ok is 0 if it could not be read. */
struct procinfo {
	int		 p_ok;
	double		 p_uptime;	/* seconds */
	long long	 p_rss;		/* bytes */
	double		 p_cpu;		/* seconds, user and system */
};

static void	 proc_info(long, struct procinfo *);
static const char *fmt_time(char *, size_t, double, int);
static const char *fmt_bytes(char *, size_t, long long);
static void	 status_head(const struct json *);
static void	 status_outcome(const struct json *, const char *);
static void	 status_row(const struct json *, const struct json *,
		    int);
static void	 json_write(FILE *, const struct json *);
static void	 json_row(const struct json *, const struct json *);
static void	 json_proc(long);

/* Read /proc/PID/stat (fields 14, 15, 22 and 24 of proc(5)). */
static void
proc_info(long pid, struct procinfo *pi)
{
	char		 path[64], buf[1024], *p, *last;
	unsigned long long v[25];
	double		 boot, hz = (double)sysconf(_SC_CLK_TCK);
	FILE		*fp;
	size_t		 n;
	int		 f;

	memset(pi, 0, sizeof(*pi));
	if (pid <= 0 || hz <= 0 || (fp = fopen("/proc/uptime", "re")) == NULL)
		return;
	f = fscanf(fp, "%lf", &boot);
	fclose(fp);
	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (f != 1 || (fp = fopen(path, "re")) == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The name in parentheses may hold anything: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return;
	for (f = 3, p = strtok_r(p + 1, " ", &last); p != NULL && f < 25;
	    p = strtok_r(NULL, " ", &last))
		v[f++] = strtoull(p, NULL, 10);
	if (f < 25)
		return;
	pi->p_ok = 1;
	pi->p_cpu = (v[14] + v[15]) / hz;
	pi->p_uptime = boot - v[22] / hz;
	if (pi->p_uptime < 0)
		pi->p_uptime = 0;
	pi->p_rss = (long long)v[24] * sysconf(_SC_PAGESIZE);
}

/*
 * A duration for a person: 12s, 4m05s, 3h12m, 2d04h; with frac, under a
 * minute with hundredths (CPU time: 0.52s).
 */
static const char *
fmt_time(char *buf, size_t size, double t, int frac)
{
	long long	 s = (long long)t;

	if (frac && t < 60)
		(void)snprintf(buf, size, "%.2fs", t);
	else if (s < 60)
		(void)snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		(void)snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		(void)snprintf(buf, size, "%lldh%02lldm", s / 3600,
		    s / 60 % 60);
	else
		(void)snprintf(buf, size, "%lldd%02lldh", s / 86400,
		    s / 3600 % 24);
	return buf;
}

/* A size for a person, in binary units: 812K, 12.3M, 1.25G. */
static const char *
fmt_bytes(char *buf, size_t size, long long b)
{
	if (b < 1024 * 1024)
		(void)snprintf(buf, size, "%lldK", b / 1024);
	else if (b < 1024LL * 1024 * 1024)
		(void)snprintf(buf, size, "%.1fM", b / 1048576.0);
	else
		(void)snprintf(buf, size, "%.2fG", b / 1073741824.0);
	return buf;
}

/* How the last reload or upgrade (what) went, if there was one. */
static void
status_outcome(const struct json *j, const char *what)
{
	char		 path[32], ago[32], err[512];
	const char	*result, *e;
	double		 t;

	(void)snprintf(path, sizeof(path), "%s.result", what);
	if ((result = json_str(j, path)) == NULL)
		return;
	(void)snprintf(path, sizeof(path), "%s.finished", what);
	t = json_num(j, path, 0);
	printf("last %s: %s", what, result);
	if (strcmp(what, "reload") == 0)
		printf(" (generation %.0f)", json_num(j,
		    "reload.generation", 0));
	if (t > 0)
		printf(", %s ago", fmt_time(ago, sizeof(ago),
		    (double)time(NULL) - t, 0));
	(void)snprintf(path, sizeof(path), "%s.error", what);
	if ((e = json_str(j, path)) != NULL) {
		(void)text_log(err, sizeof(err), e, strlen(e));
		printf(": %s", err);
	}
	putchar('\n');
}

/* The lines above the table: the master, its listeners, the outcomes. */
static void
status_head(const struct json *j)
{
	const struct json	*ls = json_get(j, "listeners");
	const char		*s;
	char			 buf[256];
	size_t			 i;

	printf("drover pid %.0f, generation %.0f: %s, %s, %.0f of %.0f "
	    "workers ready\n", json_num(j, "pid", 0),
	    json_num(j, "generation", 0), (s = json_str(j,
	    "state")) != NULL ? s : "?", json_bool(j, "ready") == 1 ?
	    "ready" : "not ready", json_num(j, "workers_ready", 0),
	    json_num(j, "workers", 0));
	for (i = 0; ls != NULL && ls->j_type == JSON_ARRAY && i < ls->j_n;
	    i++) {
		s = json_str(ls->j_vals[i], "address");
		(void)text_log(buf, sizeof(buf), s != NULL ? s : "?",
		    s != NULL ? strlen(s) : 1);
		printf("%s%s", i == 0 ? "listening on " : ", ", buf);
		if ((s = json_str(ls->j_vals[i], "type")) != NULL &&
		    strcmp(s, "tcp") == 0)
			printf(" (port %.0f)", json_num(ls->j_vals[i],
			    "port", 0));
	}
	if (i > 0)
		putchar('\n');
	status_outcome(j, "reload");
	status_outcome(j, "upgrade");
	putchar('\n');
}

/*
 * One row of the table: slot k's worker w (its current one, or with old
 * its outgoing one, in a reload).
 */
static void
status_row(const struct json *slot, const struct json *w, int old)
{
	struct procinfo	 pi;
	const char	*st, *ex;
	char		 state[32], up[32], rss[32], cpu[32], rst[32];
	char		 exit[128], pid[32];
	double		 p = json_num(w, "pid", 0);

	proc_info((long)p, &pi);
	st = json_str(w, "state");
	(void)snprintf(state, sizeof(state), "%s%s", old ? "old-" : "",
	    st != NULL ? st : "?");
	ex = old ? NULL : json_str(slot, "last_exit.status");
	(void)text_log(exit, sizeof(exit), ex != NULL ? ex : "-",
	    ex != NULL ? strlen(ex) : 1);
	(void)snprintf(pid, sizeof(pid), p > 0 ? "%.0f" : "-", p);
	rst[0] = '\0';
	if (!old)
		(void)snprintf(rst, sizeof(rst), "%.0f",
		    json_num(slot, "restarts", 0));
	printf("%-4.0f %-7s %-4.0f %-12s %-8s %-8s %-7s %-7s %s\n",
	    json_num(slot, "id", 0), pid,
	    json_num(w, "generation", 0), state,
	    pi.p_ok ? fmt_time(up, sizeof(up), pi.p_uptime, 0) : "-", rst,
	    pi.p_ok ? fmt_bytes(rss, sizeof(rss), pi.p_rss) : "-",
	    pi.p_ok ? fmt_time(cpu, sizeof(cpu), pi.p_cpu, 1) : "-", exit);
}

/* A value as JSON again. */
static void
json_write(FILE *fp, const struct json *j)
{
	size_t	 i;

	if (j == NULL) {
		fputs("null", fp);
		return;
	}
	switch (j->j_type) {
	case JSON_NULL:
		fputs("null", fp);
		break;
	case JSON_BOOL:
		fputs(j->j_bool ? "true" : "false", fp);
		break;
	case JSON_NUMBER:
		if (j->j_num == (double)j->j_int)
			fprintf(fp, "%lld", j->j_int);
		else
			fprintf(fp, "%.3f", j->j_num);
		break;
	case JSON_STRING:
		text_json(fp, j->j_str, j->j_len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		fputc(j->j_type == JSON_ARRAY ? '[' : '{', fp);
		for (i = 0; i < j->j_n; i++) {
			if (i > 0)
				fputs(", ", fp);
			if (j->j_type == JSON_OBJECT) {
				text_json(fp, j->j_keys[i],
				    strlen(j->j_keys[i]));
				fputs(": ", fp);
			}
			json_write(fp, j->j_vals[i]);
		}
		fputc(j->j_type == JSON_ARRAY ? ']' : '}', fp);
		break;
	}
}

/* The members /proc gives a worker, or null for each. */
static void
json_proc(long pid)
{
	struct procinfo	 pi;

	proc_info(pid, &pi);
	if (pi.p_ok)
		printf(", \"uptime\": %.3f, \"rss\": %lld, \"cpu\": %.3f",
		    pi.p_uptime, pi.p_rss, pi.p_cpu);
	else
		fputs(", \"uptime\": null, \"rss\": null, \"cpu\": null",
		    stdout);
}

/* One slot of --json: as in the table, old worker included. */
static void
json_row(const struct json *slot, const struct json *old)
{
	const struct json	*v;
	static const char *const keys[] = { "pid", "generation", "state" };
	size_t			 i;

	printf("{\"slot\": %.0f", json_num(slot, "id", 0));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_get(slot, keys[i])) != NULL) {
			printf(", \"%s\": ", keys[i]);
			json_write(stdout, v);
		}
	json_proc((long)json_num(slot, "pid", 0));
	printf(", \"restarts\": %.0f, \"last_exit\": ",
	    json_num(slot, "restarts", 0));
	json_write(stdout, json_get(slot, "last_exit.status"));
	fputs(", \"old\": ", stdout);
	if (old != NULL && old->j_type == JSON_OBJECT) {
		printf("{\"pid\": %.0f, \"generation\": %.0f, \"state\": ",
		    json_num(old, "pid", 0),
		    json_num(old, "generation", 0));
		json_write(stdout, json_get(old, "state"));
		json_proc((long)json_num(old, "pid", 0));
		fputc('}', stdout);
	} else
		fputs("null", stdout);
	fputc('}', stdout);
}

/*
 * Show status j: a table, or with json one JSON object (documented in
 * droverctl(8)).
 */
void
ctl_status(const struct json *j, int json)
{
	static const char *const top[] = { "pid", "generation", "state",
	    "ready", "workers", "workers_ready", "reload", "upgrade",
	    "listeners" };
	const struct json	*slots = json_get(j, "slots"), *s, *v;
	size_t			 i, n;

	n = slots != NULL && slots->j_type == JSON_ARRAY ? slots->j_n : 0;
	if (json) {
		fputc('{', stdout);
		for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
			if ((v = json_get(j, top[i])) != NULL) {
				printf("\"%s\": ", top[i]);
				json_write(stdout, v);
				fputs(", ", stdout);
			}
		fputs("\"slots\": [", stdout);
		for (i = 0; i < n; i++) {
			fputs(i > 0 ? ",\n  " : "\n  ", stdout);
			json_row(slots->j_vals[i],
			    json_get(slots->j_vals[i], "old"));
		}
		fputs(n > 0 ? "\n]}\n" : "]}\n", stdout);
		return;
	}
	status_head(j);
	printf("%-4s %-7s %-4s %-12s %-8s %-8s %-7s %-7s %s\n", "SLOT", "PID",
	    "GEN", "STATE", "UPTIME", "RESTARTS", "RSS", "CPU", "LAST EXIT");
	for (i = 0; i < n; i++) {
		s = slots->j_vals[i];
		status_row(s, s, 0);
		if ((v = json_get(s, "old")) != NULL &&
		    v->j_type == JSON_OBJECT)
			status_row(s, v, 1);
	}
}
