/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * SIGUSR2: re-execute the drover binary in place, to upgrade drover
 * itself.  The process stays the same (its pid, so systemd's MAINPID
 * stays true; its children, so the workers keep running and are still
 * ours to reap), and so do the listening sockets and the workers' notify
 * channels, which are kept open across execve(2).  What the new image
 * needs to know to adopt them is written as text lines to a memfd whose
 * descriptor it finds in DROVER_UPGRADE:
 *
 *	drover-upgrade 1
 *	gen GEN LASTGEN SERIAL RELOADS
 *	listener REUSEPORT PORT NFDS FD,FD,... ADDRESS
 *	slot ID STATE RESTARTS FAILURES PID GEN STARTED READY NFD SFD PATH
 *
 * If execve fails, the running image keeps running and says why.  An
 * upgrade is refused while something is in flight that a new image could
 * not take over (a reload, a retiring slot, a worker not yet exec'd).
 *
 * The new image reads its configuration again, as at start, but keeps
 * the number of slots it inherits; configuration changes reach workers
 * with the next SIGHUP.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define UPGRADE_ENV	"DROVER_UPGRADE"

static int	 upgrade_cloexec(int);
static int	 upgrade_write(FILE *);
static void	 upgrade_fds(int);

static char	**upgrade_argv;		/* our argv, copied at start */
static char	*upgrade_self;		/* the binary to execute */
static char	**upgrade_lines;	/* the slot lines, in a new image */
static int	 upgrade_nlines;

/*
 * Remember how we were started, before setproctitle(3) reuses the argv
 * area: the binary (resolved now, so that a binary replaced at the same
 * path is the one executed) and the arguments.
 */
void
upgrade_init(int argc, char **argv)
{
	int	 i;

	if ((upgrade_argv = calloc(argc + 1, sizeof(char *))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	for (i = 0; i < argc; i++)
		if ((upgrade_argv[i] = strdup(argv[i])) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
	if (strchr(argv[0], '/') != NULL)
		upgrade_self = realpath(argv[0], NULL);
	if (upgrade_self == NULL)
		upgrade_self = spawn_resolve(argv[0]);
}

/* Set or clear FD_CLOEXEC on fd; -1 on error. */
static int
upgrade_cloexec(int fd)
{
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * Make every descriptor the new image adopts survive execve (keep = 1),
 * or close-on-exec again (keep = 0, after a failed execve).
 */
static void
upgrade_fds(int keep)
{
	struct listener	*l;
	struct worker	*w;
	size_t		 i;
	int		 k;

	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		for (k = 0; k < l->l_nfds; k++)
			(void)fcntl(l->l_fds[k], F_SETFD, keep ? 0 :
			    FD_CLOEXEC);
	}
	for (k = 0; k < master.m_nslots; k++) {
		w = SLOT_CUR(master.m_slots[k]);
		if (w->w_nfd != -1)
			(void)fcntl(w->w_nfd, F_SETFD, keep ? 0 : FD_CLOEXEC);
		if (w->w_sfd != -1)
			(void)fcntl(w->w_sfd, F_SETFD, keep ? 0 : FD_CLOEXEC);
		if (w->w_ofd != -1)
			(void)fcntl(w->w_ofd, F_SETFD, keep ? 0 : FD_CLOEXEC);
	}
}

/* Write the state a new image adopts; -1 on error. */
static int
upgrade_write(FILE *fp)
{
	const struct listener	*l;
	const struct slot	*s;
	const struct worker	*w;
	size_t			 i;
	int			 k;

	fprintf(fp, "drover-upgrade 1\ngen %llu %llu %lu %u\n",
	    (unsigned long long)master.m_gen,
	    (unsigned long long)master.m_lastgen, master.m_serial,
	    master.m_reload.r_count);
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		fprintf(fp, "listener %d %d %d ", l->l_reuseport, l->l_port,
		    l->l_nfds);
		for (k = 0; k < l->l_nfds; k++)
			fprintf(fp, "%s%d", k > 0 ? "," : "", l->l_fds[k]);
		fprintf(fp, " %s\n", l->l_addr);
	}
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		w = SLOT_CUR(s);
		fprintf(fp, "slot %d %d %u %u %ld %llu %.6f %d %d %d %d %s\n",
		    s->s_id, (int)s->s_state, s->s_restarts, s->s_failures,
		    (long)w->w_pid, (unsigned long long)w->w_gen,
		    w->w_started, w->w_ready, w->w_nfd, w->w_sfd, w->w_ofd,
		    w->w_npath != NULL ? w->w_npath : "-");
	}
	return fflush(fp) == EOF || ferror(fp) ? -1 : 0;
}

/*
 * SIGUSR2: hand everything to a new image of the drover binary.  Returns
 * only if that could not be done, after saying why.
 */
void
upgrade_request(void)
{
	const struct slot	*s;
	char			**envp, var[64];
	FILE			*fp;
	size_t			 n;
	int			 fd, k;

	if (master.m_stopping)
		return;
	for (k = 0; k < master.m_nslots; k++) {
		s = master.m_slots[k];
		if (master.m_reloading || s->s_state == SLOT_RETIRING ||
		    SLOT_OLD(s)->w_pid != 0 || SLOT_CUR(s)->w_execfd != -1 ||
		    SLOT_CUR(s)->w_termsent) {
			log_warnx("SIGUSR2 ignored: a reload, a retirement "
			    "or a worker start is in progress; try again");
			return;
		}
	}
	if ((fd = memfd_create("drover-upgrade", 0)) == -1) {
		log_warn("SIGUSR2: memfd_create");
		return;
	}
	if ((fp = fdopen(dup(fd), "w")) == NULL || upgrade_write(fp) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		log_warn("SIGUSR2: cannot write the state");
		if (fp != NULL)
			fclose(fp);
		close(fd);
		return;
	}
	fclose(fp);
	for (n = 0; master.m_environ[n] != NULL; n++)
		;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	(void)snprintf(var, sizeof(var), "%s=%d", UPGRADE_ENV, fd);
	envp[0] = var;
	memcpy(envp + 1, master.m_environ, (n + 1) * sizeof(*envp));

	log_info("SIGUSR2: re-executing %s", upgrade_self);
	state_flush();
	upgrade_fds(1);
	execve(upgrade_self, upgrade_argv, envp);
	log_warn("SIGUSR2: cannot re-execute %s; this image keeps running",
	    upgrade_self);
	upgrade_fds(0);
	close(fd);
	free(envp);
}

/*
 * In a new image: whether we were started by an upgrade.  If so, read
 * the state and make the listeners now, so that the configuration shares
 * them instead of binding anew; the slot lines wait for upgrade_slots().
 * Returns 1 for an upgrade, 0 otherwise.  A state that cannot be read is
 * fatal (EXIT_SOFTWARE): the descriptors it names could not be trusted.
 */
int
upgrade_begin(void)
{
	struct listener	*l, **v;
	char		*line = NULL, addr[512], fds[8192], *p, *q;
	const char	*env, *e;
	size_t		 len = 0;
	unsigned long long gen, lastgen;
	unsigned long	 serial;
	unsigned int	 count;
	int		 fd, reuseport, port, nfds, k;
	FILE		*fp;

	if ((env = getenv(UPGRADE_ENV)) == NULL)
		return 0;
	fd = (int)strtonum(env, 3, 65535, &e);
	if (e != NULL || (fp = fdopen(fd, "r")) == NULL)
		fatalx(EXIT_SOFTWARE, "upgrade: bad %s", UPGRADE_ENV);
	if (getline(&line, &len, fp) == -1 ||
	    strcmp(line, "drover-upgrade 1\n") != 0 ||
	    getline(&line, &len, fp) == -1 ||
	    sscanf(line, "gen %llu %llu %lu %u", &gen, &lastgen, &serial,
	    &count) != 4)
		fatalx(EXIT_SOFTWARE, "upgrade: unreadable state");
	master.m_gen = gen;
	master.m_lastgen = lastgen;
	master.m_serial = serial;
	master.m_reload.r_count = count;
	while (getline(&line, &len, fp) != -1) {
		if (strncmp(line, "slot ", 5) == 0) {
			upgrade_lines = reallocarray(upgrade_lines,
			    upgrade_nlines + 1, sizeof(char *));
			if (upgrade_lines == NULL ||
			    (upgrade_lines[upgrade_nlines++] = strdup(line)) ==
			    NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			continue;
		}
		if (sscanf(line, "listener %d %d %d %8191s %511[^\n]",
		    &reuseport, &port, &nfds, fds, addr) != 5 || nfds < 1)
			fatalx(EXIT_SOFTWARE, "upgrade: bad line: %s", line);
		if ((l = calloc(1, sizeof(*l))) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		if (listen_parse(addr, 0, l, &e) == -1)
			fatalx(EXIT_SOFTWARE, "upgrade: listener %s: %s",
			    addr, e);
		l->l_reuseport = reuseport;
		l->l_port = port;
		l->l_backlog = 511;
		if ((l->l_fds = calloc(nfds, sizeof(int))) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		for (p = fds, k = 0; k < nfds; k++, p = q + 1) {
			l->l_fds[k] = (int)strtol(p, &q, 10);
			(void)upgrade_cloexec(l->l_fds[k]);
			if (*q != ',' && *q != '\0')
				fatalx(EXIT_SOFTWARE, "upgrade: bad fds");
			if (*q == '\0' && k + 1 < nfds)
				fatalx(EXIT_SOFTWARE, "upgrade: bad fds");
		}
		l->l_nfds = nfds;
		v = reallocarray(master.m_lis, master.m_nlis + 1, sizeof(*v));
		if (v == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		master.m_lis = v;
		master.m_lis[master.m_nlis++] = l;
	}
	free(line);
	fclose(fp);
	if (upgrade_nlines == 0)
		fatalx(EXIT_SOFTWARE, "upgrade: no slot in the state");
	return upgrade_nlines;
}

/*
 * In a new image, once the configuration is active: listeners it does not
 * use stay open for the workers that still do.
 */
void
upgrade_keep_listeners(void)
{
	size_t	 i;

	for (i = 0; i < master.m_nlis; i++) {
		if (master.m_lis[i]->l_refs == 0) {
			log_warnx("upgrade: listen %s is no longer configured;"
			    " it stays open for the running workers",
			    master.m_lis[i]->l_addr);
			master.m_lis[i]->l_refs = 1;
		}
	}
}

/*
 * In a new image: adopt the slots and their workers, which are our
 * children already.
 */
void
upgrade_slots(void)
{
	struct config	*c = master.m_conf;
	struct slot	*s;
	struct worker	*w;
	char		 path[512];
	unsigned long long gen;
	unsigned int	 restarts, failures;
	double		 started;
	long		 pid;
	int		 id, st, ready, nfd, sfd, ofd, n;

	for (n = 0; n < upgrade_nlines; n++) {
		if (sscanf(upgrade_lines[n], "slot %d %d %u %u %ld %llu %lf "
		    "%d %d %d %d %511s", &id, &st, &restarts, &failures, &pid,
		    &gen, &started, &ready, &nfd, &sfd, &ofd, path) != 12 ||
		    id != n || st < SLOT_EMPTY || st > SLOT_RETIRING)
			fatalx(EXIT_SOFTWARE, "upgrade: bad line: %s",
			    upgrade_lines[n]);
		free(upgrade_lines[n]);
		slot_add(1);
		s = master.m_slots[n];
		w = SLOT_CUR(s);
		s->s_restarts = restarts;
		s->s_failures = failures;
		if (pid > 0) {
			w->w_pid = (pid_t)pid;
			w->w_gen = gen;
			w->w_conf = c;
			c->c_refs++;
			w->w_started = started;
			w->w_ready = ready;
			w->w_nfd = nfd;
			w->w_sfd = sfd;
			if (nfd != -1)
				(void)upgrade_cloexec(nfd);
			if (sfd != -1)
				(void)upgrade_cloexec(sfd);
			if (ofd != -1) {
				/* It writes to a pipe: keep reading it. */
				output_init(1);
				(void)upgrade_cloexec(ofd);
				w->w_ofd = ofd;
			}
			if (strcmp(path, "-") != 0 &&
			    (w->w_npath = strdup(path)) == NULL)
				fatal(EXIT_OSERR, "%s", __func__);
			ev_child_set(&w->w_child, w->w_pid, 0);
			ev_child_start(EV_DEFAULT, &w->w_child);
			notify_start(w);
			output_start(w);
		}
		slot_adopt(s, (enum slot_state)st);
	}
	free(upgrade_lines);
	upgrade_lines = NULL;
	/* Children that ended while we were exec'ing: reap them now. */
	ev_feed_signal(SIGCHLD);
	log_info("upgrade: adopted %d slots, generation %llu", n,
	    (unsigned long long)master.m_gen);
}
