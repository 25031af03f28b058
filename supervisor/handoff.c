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
 *	slot ID STATE RESTARTS FAILURES PID GEN STARTED READY NFD SFD OFD PATH
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
static int	 handoff_unesc(char *);
static void	 handoff_conf_line(void *, const char *, const char *);
static int	 handoff_split(char *, char **, int);
static int	 handoff_sock(int);
static void	 handoff_cloexec(int);
static int	 handoff_mychild(pid_t);
static struct listener *
		 handoff_listener(char **, int);
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
		if (*p <= ' ' || *p >= 0x7f || *p == '%' ||
		    (*p == '-' && p == (const unsigned char *)s && p[1] == '\0'))
			fprintf(fp, "%%%02X", *p);
		else
			fputc(*p, fp);
	}
}

/* Undo handoff_esc in place; -1 if malformed. */
static int
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
		fprintf(fp, "slot %d %s %u %u %ld %llu %.6f %d %d %d %d ",
		    s->s_id, slot_state_name(s->s_state), s->s_restarts,
		    s->s_failures, (long)w->w_pid,
		    (unsigned long long)w->w_gen, w->w_started, w->w_ready,
		    w->w_nfd, w->w_sfd, w->w_ofd);
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
	char	 path[64], buf[512], *p;
	FILE	*fp;
	long	 ppid;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return 0;
	return ppid == (long)getpid();
}

/*
 * A listener line (fields after "listener"): its sockets are taken as
 * they are; the address is what the kernel says they are bound to, so
 * nothing is resolved again.  NULL if the line is bad.
 */
static struct listener *
handoff_listener(char **f, int dry)
{
	struct listener		*l;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	const char		*e;
	char			*p, *q;
	int			 nfds, k, fd0;

	nfds = (int)strtonum(f[3], 1, DROVER_MAX_WORKERS, &e);
	if (e != NULL || handoff_unesc(f[5]) == -1)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->l_fds = xcalloc(nfds, sizeof(int));
	l->l_gidx = xcalloc(nfds, sizeof(int));
	l->l_addr = xstrdup(f[5]);
	l->l_reuseport = f[0][0] == '1';
	l->l_inherited = f[1][0] == '1';
	l->l_backlog = (int)strtonum(f[2], 1, 65535, &e);
	if (e != NULL)
		goto bad;
	for (p = f[4], k = 0; k < nfds; k++, p = q + 1) {
		l->l_fds[k] = (int)strtol(p, &q, 10);
		if (q == p || *q != ':')
			goto bad;
		p = q + 1;
		l->l_gidx[k] = (int)strtol(p, &q, 10);
		if (q == p || (*q != ',' && *q != '\0') ||
		    (*q == '\0' && k + 1 < nfds) || (*q == ',' && k + 1 ==
		    nfds) || l->l_gidx[k] < -1 || l->l_gidx[k] >= nfds ||
		    (l->l_fds[k] == -1) != (l->l_gidx[k] == -1) ||
		    (!dry && l->l_fds[k] != -1 && !handoff_sock(l->l_fds[k])))
			goto bad;
		l->l_gsize += l->l_fds[k] != -1;
		l->l_nfds = k + 1;
	}
	for (k = 0, fd0 = -1; k < nfds && fd0 == -1; k++)
		fd0 = l->l_fds[k];
	if (fd0 == -1)
		goto bad;
	if (dry)
		return l;
	for (k = 0; k < nfds; k++)
		if (l->l_fds[k] != -1)
			(void)fcntl(l->l_fds[k], F_SETFD, FD_CLOEXEC);
	l->l_sslen = sizeof(l->l_ss);
	if (getsockname(fd0, (struct sockaddr *)&l->l_ss,
	    &l->l_sslen) == -1)
		goto bad;
	sin = (struct sockaddr_in *)&l->l_ss;
	sin6 = (struct sockaddr_in6 *)&l->l_ss;
	switch (l->l_ss.ss_family) {
	case AF_INET:
		l->l_type = LISTEN_TCP;
		l->l_port = ntohs(sin->sin_port);
		inet_ntop(AF_INET, &sin->sin_addr, l->l_host,
		    sizeof(l->l_host));
		break;
	case AF_INET6:
		l->l_type = LISTEN_TCP;
		l->l_port = ntohs(sin6->sin6_port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, l->l_host,
		    sizeof(l->l_host));
		break;
	case AF_UNIX:
		l->l_type = LISTEN_UNIX;
		if (strncmp(l->l_addr, "unix:", 5) != 0 ||
		    (l->l_path = strdup(l->l_addr + 5)) == NULL)
			goto bad;
		break;
	default:
		goto bad;
	}
	return l;
 bad:
	l->l_nfds = 0;		/* not ours to close */
	listen_close(l);
	free(l);
	return NULL;
}

/*
 * Read the state from fp.  With dry set (drover -n checking it for a
 * master about to upgrade), only check it; else take over its listeners
 * and descriptors (fds[]).  Returns the configuration handed over, or
 * NULL after logging, with the line in *lineno.
 */
static struct config *
handoff_read(FILE *fp, int dry, int *lineno)
{
	struct config	*c = config_new();
	struct listener	*l, **v;
	char		*line = NULL, *raw = NULL, *f[16];
	const char	*e;
	size_t		 sz = 0;
	ssize_t		 len;
	unsigned long long gen, lastgen;
	int		 n, nconf = 0, nslot = 0, seen = 0, fdsv[UPGRADE_NFDS];

	*lineno = 0;
	while ((len = getline(&line, &sz, fp)) != -1) {
		++*lineno;
		if (len > HANDOFF_LINE)
			goto bad;
		if (*lineno == 1) {
			if (strcmp(line, HANDOFF_VERSION "\n") != 0)
				goto bad;
			continue;
		}
		if (strncmp(line, "slot ", 5) == 0 && !dry &&
		    (raw = strdup(line)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		n = handoff_split(line, f, 16);
		if (n < 1)
			goto bad;
		if (strcmp(f[0], "end") == 0 && n == 1) {
			seen |= 1;
			break;
		} else if (strcmp(f[0], "gen") == 0 && n == 4) {
			gen = strtonum(f[1], 1, INT64_MAX, &e);
			if (e == NULL)
				lastgen = strtonum(f[2], 1, INT64_MAX, &e);
			if (e == NULL)
				master.m_serial = strtonum(f[3], 0, INT64_MAX,
				    &e);
			if (e != NULL || lastgen < gen)
				goto bad;
			master.m_gen = gen;
			master.m_lastgen = lastgen;
			seen |= 2;
		} else if (strcmp(f[0], "fds") == 0 && n == 5) {
			for (n = 0; n < UPGRADE_NFDS; n++) {
				fdsv[n] = (int)strtonum(f[n + 1], -1,
				    INT32_MAX, &e);
				if (e != NULL)
					goto bad;
			}
			if (!dry)
				memcpy(handoff_fdsv, fdsv, sizeof(fdsv));
			seen |= 4;
		} else if (strcmp(f[0], "upgrade") == 0 && n == 5) {
			master.m_upgrade.u_requests = (unsigned int)strtonum(
			    f[1], 0, UINT32_MAX, &e);
			if (e == NULL)
				master.m_upgrade.u_done = (unsigned int)
				    strtonum(f[2], 0, UINT32_MAX, &e);
			if (e != NULL)
				goto bad;
			master.m_upgrade.u_started = strtod(f[3], NULL);
			handoff_again = f[4][0] == '1';
		} else if (strcmp(f[0], "reload") == 0 && n == 7) {
			if (handoff_unesc(f[2]) == -1 ||
			    handoff_unesc(f[6]) == -1)
				goto bad;
			master.m_reload.r_gen = strtonum(f[1], 0, INT64_MAX,
			    &e);
			if (e == NULL)
				master.m_reload.r_count = (unsigned int)
				    strtonum(f[5], 0, UINT32_MAX, &e);
			if (e != NULL)
				goto bad;
			strlcpy(master.m_reload.r_result, f[2],
			    sizeof(master.m_reload.r_result));
			master.m_reload.r_started = strtod(f[3], NULL);
			master.m_reload.r_finished = strtod(f[4], NULL);
			strlcpy(master.m_reload.r_error, f[6],
			    sizeof(master.m_reload.r_error));
		} else if (strcmp(f[0], "conf") == 0 && n == 3) {
			if (++nconf > HANDOFF_MAXCONF ||
			    handoff_unesc(f[1]) == -1 ||
			    handoff_unesc(f[2]) == -1)
				goto bad;
			if (config_set(c, f[1], f[2], &e) == -1) {
				log_warnx("upgrade: the configuration handed "
				    "over: %s", e);
				goto fail;
			}
		} else if (strcmp(f[0], "listener") == 0 && n == 7) {
			if (master.m_nlis >= DROVER_MAX_LISTEN ||
			    (l = handoff_listener(f + 1, dry)) == NULL)
				goto bad;
			if (dry) {
				l->l_nfds = 0;	/* not ours to close */
				listen_close(l);
				free(l);
				continue;
			}
			v = reallocarray(master.m_lis, master.m_nlis + 1,
			    sizeof(*v));
			if (v == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			master.m_lis = v;
			master.m_lis[master.m_nlis++] = l;
		} else if (strcmp(f[0], "slot") == 0 && n == 13) {
			if (++nslot > DROVER_MAX_WORKERS)
				goto bad;
			if (dry)
				continue;
			handoff_lines = reallocarray(handoff_lines,
			    handoff_nlines + 1, sizeof(char *));
			if (handoff_lines == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			handoff_lines[handoff_nlines++] = raw;
			raw = NULL;
		} else
			goto bad;
		free(raw);
		raw = NULL;
	}
	free(line);
	line = NULL;
	if (seen != 7 || nslot == 0 || ferror(fp))
		goto bad;
	if (config_finish(c, &e) == -1) {
		log_warnx("upgrade: the configuration handed over: %s", e);
		goto fail;
	}
	return c;
 bad:
	log_warnx("upgrade: the state is unreadable at line %d", *lineno);
 fail:
	free(raw);
	free(line);
	config_free(c);
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
		if (pid > 0) {
			w->w_gen = strtonum(f[6], 1, INT64_MAX, NULL);
			w->w_conf = c;
			c->c_refs++;
			w->w_started = strtod(f[7], NULL);
			w->w_ready = w->w_proven = f[8][0] == '1';
			w->w_nfd = (int)strtonum(f[9], -1, INT32_MAX, NULL);
			w->w_sfd = (int)strtonum(f[10], -1, INT32_MAX, NULL);
			w->w_ofd = (int)strtonum(f[11], -1, INT32_MAX, NULL);
			if (!handoff_sock(w->w_nfd))
				w->w_nfd = -1;
			if (!handoff_sock(w->w_sfd))
				w->w_sfd = -1;
			handoff_cloexec(w->w_nfd);
			handoff_cloexec(w->w_sfd);
			if (w->w_ofd != -1) {
				/* It writes to a pipe: keep reading it. */
				output_init(1);
				handoff_cloexec(w->w_ofd);
			}
			if (*f[12] != '\0' && w->w_nfd != -1)
				w->w_npath = xstrdup(f[12]);
			worker_attach(w, (pid_t)pid, -1);
		}
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

	if ((fc = reload_read(&code)) == NULL) {
		(void)snprintf(u->u_error, sizeof(u->u_error), "the "
		    "configuration file does not parse (%s); the "
		    "configuration in use carries on", log_last());
		log_warnx("upgrade: %s", u->u_error);
	} else
		config_free(fc);
}
