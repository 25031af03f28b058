/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The handoff of an upgrade (SIGUSR2, upgrade.c): what the running image
 * writes for the new one, and how the new one reads and takes it over.
 * It is text lines in a memfd, each field escaped (handoff_esc) so that
 * any byte may appear in it:
 *
 *	drover-upgrade 2
 *	gen GEN LASTGEN SERIAL
 *	fds PIDFILE STATEDIR STATELOCK HEALTH
 *	upgrade REQUESTS DONE STARTED AGAIN
 *	reload GEN RESULT STARTED FINISHED REQUESTS ERROR
 *	conf KEY VALUE			(the configuration in use, key by key)
 *	listener REUSEPORT INHERITED BACKLOG NFDS FD:GIDX,... ADDRESS
 *	slot ID STATE RESTARTS FAILURES PID GEN STARTED READY NFD SFD
 *	    OFD,EFD PATH		(one line; OFD alone from an image
 *					 that had one output pipe)
 *	end
 *
 * A listener's sockets are listed per slot with their index in the
 * reuseport group (-1:-1 for a slot whose sockets are closed, group.c).
 * The configuration is the one the workers run, applied key by key
 * through config_set(), so the new image needs neither the file nor a
 * name lookup.  Every count is bounded, every descriptor checked with
 * fstat(2) and every worker checked to be our child before it is
 * adopted; drover -n reads the same state without taking anything over
 * (handoff_verify), so that a binary that could not read it is never
 * executed.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define HANDOFF_VERSION		"drover-upgrade 2"
/* The longest line of the state, and the most configuration lines. */
#define HANDOFF_LINE		65536
#define HANDOFF_MAXCONF		4096

static void	 handoff_esc(FILE *, const char *);
static void	 handoff_conf_line(void *, const char *, const char *);
static int	 handoff_split(char *, char **, int);
static int	 handoff_sock(int);
static void	 handoff_cloexec(int);
static int	 handoff_mychild(pid_t);
static void	 handoff_worker(struct worker *, pid_t, char **,
		    struct config *);
static struct config *
		 handoff_read(FILE *, int, int *);

static int	 handoff_fdsv[UPGRADE_NFDS];	/* handed over */
static int	 handoff_again;		/* another upgrade was asked for */
static char	**handoff_lines;	/* the slot lines, for later */
static int	 handoff_nlines;

/* Close-on-exec again for a descriptor taken over. */
static void
handoff_cloexec(int fd)
{
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * Write s as one field: bytes outside printable ASCII, blanks and '%'
 * as %XX; the empty string as "-" (and "-" itself escaped).
 */
static void
handoff_esc(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (*p == '\0') {
		fputc('-', fp);
		return;
	}
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%' || (*p == '-' &&
		    p == (const unsigned char *)s && p[1] == '\0'))
			fprintf(fp, "%%%02X", *p);
		else
			fputc(*p, fp);
	}
}

/* Undo handoff_esc in place; -1 if malformed. */
int
handoff_unesc(char *s)
{
	char	*d = s, hex[3];

	if (strcmp(s, "-") == 0) {
		*s = '\0';
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*d++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) ||
		    !isxdigit((unsigned char)s[2]))
			return -1;
		hex[0] = s[1];
		hex[1] = s[2];
		hex[2] = '\0';
		*d = (char)strtol(hex, NULL, 16);
		if (*d == '\0')
			return -1;
		d++;
		s += 2;
	}
	*d = '\0';
	return 0;
}

static void
handoff_conf_line(void *arg, const char *key, const char *value)
{
	FILE	*fp = arg;

	fputs("conf ", fp);
	handoff_esc(fp, key);
	fputc(' ', fp);
	handoff_esc(fp, value);
	fputc('\n', fp);
}

/* Write the state a new image adopts; -1 on error. */
int
handoff_write(FILE *fp, int again)
{
	const struct reloadinfo		*r = &master.m_reload;
	const struct upgradeinfo	*u = &master.m_upgrade;
	const struct listener		*l;
	const struct slot		*s;
	const struct worker		*w;
	size_t				 i;
	int				 k, dirfd, lockfd;

	status_fds(&dirfd, &lockfd);
	fprintf(fp, "%s\ngen %llu %llu %lu\n", HANDOFF_VERSION,
	    (unsigned long long)master.m_gen,
	    (unsigned long long)master.m_lastgen, master.m_serial);
	fprintf(fp, "fds %d %d %d %d\n", master_pidfile(), dirfd, lockfd,
	    health_fd());
	fprintf(fp, "upgrade %u %u %.6f %d\n", u->u_requests, u->u_done,
	    u->u_started, again);
	fprintf(fp, "reload %llu ", (unsigned long long)r->r_gen);
	handoff_esc(fp, r->r_result);
	fprintf(fp, " %.6f %.6f %u ", r->r_started, r->r_finished,
	    r->r_count);
	handoff_esc(fp, r->r_error);
	fputc('\n', fp);
	config_each(master.m_conf, handoff_conf_line, fp);
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		fprintf(fp, "listener %d %d %d %d ", l->l_reuseport,
		    l->l_inherited, l->l_backlog, l->l_nfds);
		for (k = 0; k < l->l_nfds; k++)
			fprintf(fp, "%s%d:%d", k > 0 ? "," : "", l->l_fds[k],
			    l->l_gidx != NULL ? l->l_gidx[k] : 0);
		fputc(' ', fp);
		handoff_esc(fp, l->l_addr);
		fputc('\n', fp);
	}
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		w = SLOT_CUR(s);
		fprintf(fp, "slot %d %s %u %u %ld %llu %.6f %d %d %d %d,%d ",
		    s->s_id, slot_state_name(s->s_state), s->s_restarts,
		    s->s_failures, (long)w->w_pid,
		    (unsigned long long)w->w_gen, w->w_started, w->w_ready,
		    w->w_nfd, w->w_sfd, output_fd(w, 0), output_fd(w, 1));
		handoff_esc(fp, w->w_npath != NULL ? w->w_npath : "");
		fputc('\n', fp);
	}
	fputs("end\n", fp);
	return fflush(fp) == EOF || ferror(fp) ? -1 : 0;
}

/*
 * Split line into at most max fields separated by single blanks; returns
 * how many, or -1 if there are more.
 */
static int
handoff_split(char *line, char **f, int max)
{
	char	*p;
	int	 n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (p = line; p != NULL && *p != '\0'; n++) {
		if (n == max)
			return -1;
		f[n] = p;
		if ((p = strchr(p, ' ')) != NULL)
			*p++ = '\0';
	}
	return n;
}

/* Whether fd is an open socket. */
static int
handoff_sock(int fd)
{
	struct stat	 st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Whether pid is a child of this process (running or a zombie). */
static int
handoff_mychild(pid_t pid)
{
	return spawn_ppid(pid) == getpid();
}


/* What reading the state keeps from one line to the next. */
struct hread {
	struct config	*h_conf;	/* the configuration handed over */
	int		 h_dry;		/* check only, take nothing */
	int		 h_nconf;
	int		 h_nlis;
	int		 h_nslot;
	int		 h_seen;	/* of the lines that must be there */
	char		*h_raw;		/* a slot line as it was */
};

static int	 handoff_r_gen(struct hread *, char **);
static int	 handoff_r_fds(struct hread *, char **);
static int	 handoff_r_upgrade(struct hread *, char **);
static int	 handoff_r_reload(struct hread *, char **);
static int	 handoff_r_conf(struct hread *, char **);
static int	 handoff_r_listener(struct hread *, char **);
static int	 handoff_r_slot(struct hread *, char **);

/*
 * The kinds of lines: the first word, how many fields the line has, and
 * what reads the rest.  A reader returns 0, -1 for a line that does not
 * read (the state is unreadable), or -2 after logging (the configuration
 * handed over is refused).
 */
static const struct {
	const char	*k_word;
	int		 k_nf;
	int		(*k_read)(struct hread *, char **);
} handoff_kinds[] = {
	{ "gen",	4,	handoff_r_gen },
	{ "fds",	5,	handoff_r_fds },
	{ "upgrade",	5,	handoff_r_upgrade },
	{ "reload",	7,	handoff_r_reload },
	{ "conf",	3,	handoff_r_conf },
	{ "listener",	7,	handoff_r_listener },
	{ "slot",	13,	handoff_r_slot }
};

static int
handoff_r_gen(struct hread *h, char **f)
{
	unsigned long long	 gen, lastgen = 0;
	const char		*e;

	(void)h;
	gen = strtonum(f[1], 1, INT64_MAX, &e);
	if (e == NULL)
		lastgen = strtonum(f[2], 1, INT64_MAX, &e);
	if (e == NULL)
		master.m_serial = strtonum(f[3], 0, INT64_MAX, &e);
	if (e != NULL || lastgen < gen)
		return -1;
	master.m_gen = gen;
	master.m_lastgen = lastgen;
	h->h_seen |= 2;
	return 0;
}

static int
handoff_r_fds(struct hread *h, char **f)
{
	const char	*e;
	int		 fdsv[UPGRADE_NFDS], i;

	for (i = 0; i < UPGRADE_NFDS; i++) {
		fdsv[i] = (int)strtonum(f[i + 1], -1, INT32_MAX, &e);
		if (e != NULL)
			return -1;
	}
	if (!h->h_dry)
		memcpy(handoff_fdsv, fdsv, sizeof(fdsv));
	h->h_seen |= 4;
	return 0;
}

static int
handoff_r_upgrade(struct hread *h, char **f)
{
	struct upgradeinfo	*u = &master.m_upgrade;
	const char		*e;

	(void)h;
	u->u_requests = (unsigned int)strtonum(f[1], 0, UINT32_MAX, &e);
	if (e == NULL)
		u->u_done = (unsigned int)strtonum(f[2], 0, UINT32_MAX, &e);
	if (e != NULL)
		return -1;
	u->u_started = strtod(f[3], NULL);
	handoff_again = f[4][0] == '1';
	return 0;
}

static int
handoff_r_reload(struct hread *h, char **f)
{
	struct reloadinfo	*r = &master.m_reload;
	const char		*e;

	(void)h;
	if (handoff_unesc(f[2]) == -1 || handoff_unesc(f[6]) == -1)
		return -1;
	r->r_gen = strtonum(f[1], 0, INT64_MAX, &e);
	if (e == NULL)
		r->r_count = (unsigned int)strtonum(f[5], 0, UINT32_MAX, &e);
	if (e != NULL)
		return -1;
	strlcpy(r->r_result, f[2], sizeof(r->r_result));
	r->r_started = strtod(f[3], NULL);
	r->r_finished = strtod(f[4], NULL);
	strlcpy(r->r_error, f[6], sizeof(r->r_error));
	return 0;
}

static int
handoff_r_conf(struct hread *h, char **f)
{
	const char	*e;

	if (++h->h_nconf > HANDOFF_MAXCONF || handoff_unesc(f[1]) == -1 ||
	    handoff_unesc(f[2]) == -1)
		return -1;
	if (config_set(h->h_conf, f[1], f[2], &e) == -1) {
		log_warnx("upgrade: the configuration handed over: %s", e);
		return -2;
	}
	return 0;
}

static int
handoff_r_listener(struct hread *h, char **f)
{
	struct listener	*l;

	if (++h->h_nlis > DROVER_MAX_LISTEN ||
	    (l = listen_adopt(f + 1, h->h_dry)) == NULL)
		return -1;
	if (h->h_dry) {
		l->l_nfds = 0;	/* not ours to close */
		listen_close(l);
		free(l);
		return 0;
	}
	master.m_lis = xreallocarray(master.m_lis, master.m_nlis + 1,
	    sizeof(*master.m_lis));
	master.m_lis[master.m_nlis++] = l;
	return 0;
}

static int
handoff_r_slot(struct hread *h, char **f)
{
	(void)f;
	if (++h->h_nslot > DROVER_MAX_WORKERS)
		return -1;
	if (h->h_dry)
		return 0;
	handoff_lines = xreallocarray(handoff_lines, handoff_nlines + 1,
	    sizeof(char *));
	handoff_lines[handoff_nlines++] = h->h_raw;
	h->h_raw = NULL;
	return 0;
}

/*
 * Read the state from fp.  With dry set (drover -n checking it for a
 * master about to upgrade), only check it; else take over its listeners
 * and descriptors.  Returns the configuration handed over, or NULL after
 * logging, with the line in *lineno.
 */
static struct config *
handoff_read(FILE *fp, int dry, int *lineno)
{
	struct hread	 h;
	char		*line, *f[16];
	const char	*e;
	size_t		 k;
	int		 n, r = -1;

	memset(&h, 0, sizeof(h));
	h.h_conf = config_new();
	h.h_dry = dry;
	/*
	 * A line over HANDOFF_LINE (its newline included) is refused, never
	 * read whole: the state bounds what reading it allocates.
	 */
	line = xmalloc(HANDOFF_LINE + 1);
	for (*lineno = 1; fgets(line, HANDOFF_LINE + 1, fp) != NULL &&
	    (strchr(line, '\n') != NULL || feof(fp)); ++*lineno) {
		if (*lineno == 1) {
			if (strcmp(line, HANDOFF_VERSION "\n") != 0)
				break;
			continue;
		}
		if (strncmp(line, "slot ", 5) == 0 && !dry)
			h.h_raw = xstrdup(line);
		if ((n = handoff_split(line, f, 16)) == 1 &&
		    strcmp(f[0], "end") == 0) {
			h.h_seen |= 1;
			break;
		}
		for (k = 0; k < sizeof(handoff_kinds) /
		    sizeof(handoff_kinds[0]); k++)
			if (n > 0 && strcmp(f[0], handoff_kinds[k].k_word) == 0)
				break;
		r = k == sizeof(handoff_kinds) / sizeof(handoff_kinds[0]) ||
		    n != handoff_kinds[k].k_nf ? -1 :
		    handoff_kinds[k].k_read(&h, f);
		free(h.h_raw);
		h.h_raw = NULL;
		if (r != 0)
			break;
	}
	free(line);
	if (r != -2 && (h.h_seen != 7 || h.h_nslot == 0 || ferror(fp)))
		log_warnx("upgrade: the state is unreadable at line %d",
		    *lineno);
	else if (r != -2 && config_finish(h.h_conf, &e) == -1)
		log_warnx("upgrade: the configuration handed over: %s", e);
	else if (r != -2)
		return h.h_conf;
	config_free(h.h_conf);
	return NULL;
}

/*
 * drover -n, run by a master about to upgrade to this binary: check that
 * the state it would hand over can be read.  Returns 0 when there is
 * none or it is good (and says so), -1 after logging otherwise.
 */
int
handoff_verify(int fd)
{
	struct config	*c;
	FILE		*fp;
	int		 line;

	if ((fp = fdopen(fd, "r")) == NULL) {
		log_warn("upgrade: the state");
		return -1;
	}
	c = handoff_read(fp, 1, &line);
	fclose(fp);
	if (c == NULL)
		return -1;
	config_free(c);
	printf("upgrade state ok\n");
	return 0;
}

/*
 * In a new image: read the state, take over its listeners (so that the
 * configuration finds them open instead of binding anew) and return the
 * configuration handed over, with the descriptors of the pid file, the
 * state directory and its lock and the health listener in fds.  The slot
 * lines wait for handoff_slots().  A state that cannot be read is fatal
 * (EXIT_SOFTWARE): the descriptors it names could not be trusted.
 */
struct config *
handoff_take(int fd, int *fds, int *again)
{
	struct upgradeinfo	*u = &master.m_upgrade;
	struct config		*c;
	FILE			*fp;
	int			 line, i;

	if ((fp = fdopen(fd, "r")) == NULL)
		fatal(EXIT_SOFTWARE, "upgrade: the state");
	c = handoff_read(fp, 0, &line);
	fclose(fp);
	if (c == NULL)
		fatalx(EXIT_SOFTWARE, "upgrade: cannot take over");
	for (i = 0; i < UPGRADE_NFDS; i++)
		fds[i] = handoff_fdsv[i];
	if ((fds[UPGRADE_PIDFILE] != -1 &&
	    lock_adopt(fds[UPGRADE_PIDFILE]) == -1) ||
	    (fds[UPGRADE_PIDFILE] == -1) != (c->c_pidfile == NULL) ||
	    lock_adopt(fds[UPGRADE_STATELOCK]) == -1 ||
	    (fds[UPGRADE_HEALTH] != -1 && !handoff_sock(fds[UPGRADE_HEALTH])) ||
	    (fds[UPGRADE_HEALTH] == -1) != (c->c_health == NULL))
		fatalx(EXIT_SOFTWARE, "upgrade: a descriptor handed over is "
		    "not what it should be");
	strlcpy(u->u_result, "ok", sizeof(u->u_result));
	u->u_error[0] = '\0';
	u->u_finished = ev_time();
	u->u_done++;
	/*
	 * What the upgrade and the last reload covered (droverctl(8)) needs
	 * no line of the state: an upgrade runs only when no reload does, so
	 * the last one covered every SIGHUP; and this upgrade every SIGUSR2
	 * unless one came during its check, which another upgrade follows
	 * (0: it is not known which).
	 */
	master.m_reload.r_covers = master.m_reload.r_count;
	u->u_covers = handoff_again ? 0 : u->u_requests;
	*again = handoff_again;
	return c;
}

/*
 * In a new image, once the configuration is active: a listener it does
 * not use (there should be none) is closed.
 */
void
handoff_keep_listeners(void)
{
	size_t	 i;

	for (i = 0; i < master.m_nlis; i++) {
		if (master.m_lis[i]->l_refs > 0)
			continue;
		log_warnx("upgrade: listen %s is not configured: closed",
		    master.m_lis[i]->l_addr);
		master.m_lis[i]->l_refs = 1;
		listen_put(master.m_lis[i--]);
	}
}

/*
 * The worker of a slot line (fields f), running as pid: take over its
 * channels and watch it, as after a start.
 */
static void
handoff_worker(struct worker *w, pid_t pid, char **f, struct config *c)
{
	w->w_gen = strtonum(f[6], 1, INT64_MAX, NULL);
	w->w_conf = c;
	c->c_refs++;
	w->w_started = strtod(f[7], NULL);
	w->w_ready = w->w_proven = f[8][0] == '1';
	w->w_nfd = (int)strtonum(f[9], -1, INT32_MAX, NULL);
	w->w_sfd = (int)strtonum(f[10], -1, INT32_MAX, NULL);
	if (!handoff_sock(w->w_nfd))
		w->w_nfd = -1;
	if (!handoff_sock(w->w_sfd))
		w->w_sfd = -1;
	handoff_cloexec(w->w_nfd);
	handoff_cloexec(w->w_sfd);
	if (output_adopt(w, f[11]) == 0) {
		handoff_cloexec(output_fd(w, 0));
		handoff_cloexec(output_fd(w, 1));
	}
	if (*f[12] != '\0' && w->w_nfd != -1)
		w->w_npath = xstrdup(f[12]);
	worker_attach(w, pid, -1);
}

/*
 * In a new image: adopt the slots and their workers, which are our
 * children already, then read the configuration file once, to say
 * whether the next SIGHUP would take it.
 */
void
handoff_slots(void)
{
	struct upgradeinfo	*u = &master.m_upgrade;
	struct config		*c = master.m_conf, *fc;
	struct slot		*s;
	struct worker		*w;
	char			*f[16];
	const char		*e;
	long			 pid;
	int			 n, st, nf, code;

	/* All at once: the listeners have a socket for each already. */
	if (slot_add(handoff_nlines) == -1)
		fatalx(EXIT_SOFTWARE, "upgrade: cannot add %d slots",
		    handoff_nlines);
	for (n = 0; n < handoff_nlines; n++) {
		nf = handoff_split(handoff_lines[n], f, 16);
		for (st = SLOT_EMPTY; st <= SLOT_RETIRING; st++)
			if (strcmp(f[2], slot_state_name(st)) == 0)
				break;
		pid = strtonum(f[5], 0, INT32_MAX, &e);
		if (nf != 13 || strtonum(f[1], 0, DROVER_MAX_WORKERS, NULL) !=
		    n || st > SLOT_RETIRING || e != NULL ||
		    handoff_unesc(f[12]) == -1)
			fatalx(EXIT_SOFTWARE, "upgrade: bad slot %d", n);
		s = master.m_slots[n];
		w = SLOT_CUR(s);
		s->s_restarts = (unsigned int)strtonum(f[3], 0, UINT32_MAX,
		    NULL);
		s->s_failures = (unsigned int)strtonum(f[4], 0, UINT32_MAX,
		    NULL);
		if (pid > 0 && !handoff_mychild((pid_t)pid)) {
			log_warnx("upgrade: slot %d: pid %ld is not a child "
			    "of this master: not adopted", n, pid);
			pid = 0;
		}
		if (pid > 0)
			handoff_worker(w, (pid_t)pid, f, c);
		slot_adopt(s, (enum slot_state)st);
		free(handoff_lines[n]);
	}
	free(handoff_lines);
	handoff_lines = NULL;
	/*
	 * Children that ended while we were exec'ing: their SIGCHLD is still
	 * pending, but one may have come before the old image's last reap.
	 * One more makes the loop reap whatever is there.
	 */
	(void)raise(SIGCHLD);
	log_info("upgrade: adopted %d slots, generation %llu", n,
	    (unsigned long long)master.m_gen);
	status_changed();

	if ((fc = config_read(&code)) == NULL) {
		(void)snprintf(u->u_error, sizeof(u->u_error), "the "
		    "configuration file does not parse (%s); the "
		    "configuration in use carries on", log_last());
		log_warnx("upgrade: %s", u->u_error);
	} else
		config_free(fc);
}
