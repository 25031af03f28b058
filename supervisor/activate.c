/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Socket activation of the master: the sockets systemd passed to it
 * (LISTEN_FDS descriptors from 3, for us if LISTEN_PID is our pid,
 * named by LISTEN_FDNAMES) are used by the listen entries they match, by
 * name or by address, instead of binding new ones; the variables never
 * reach workers.  A passed socket that matches no entry is closed, with
 * a warning.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static void	 activate_check(int);
static int	 activate_same(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);

/* Sockets passed to the master by systemd (LISTEN_FDS), not yet used. */
struct inherited {
	int			 i_fd;
	char			*i_name;
	struct sockaddr_storage	 i_ss;
	socklen_t		 i_sslen;
};
static struct inherited	*activate_inh;
static int		 activate_ninh;


/*
 * Check that the n descriptors LISTEN_FDS counts, from 3, are open
 * sockets, before the master opens anything of its own: a count larger
 * than what was passed would otherwise make it take its own descriptors
 * (the pid file, its sockets) for passed ones, and close them as unused.
 * An error is fatal (EXIT_OSERR), naming the descriptor.
 */
static void
activate_check(int n)
{
	struct stat	 st;
	int		 fd;

	for (fd = 3; fd < 3 + n; fd++) {
		if (fcntl(fd, F_GETFD) == -1 || fstat(fd, &st) == -1)
			fatal(EXIT_OSERR, "socket activation: LISTEN_FDS=%d, "
			    "but descriptor %d is not open", n, fd);
		if (!S_ISSOCK(st.st_mode))
			fatalx(EXIT_OSERR, "socket activation: LISTEN_FDS=%d, "
			    "but descriptor %d is not a socket", n, fd);
	}
}

/*
 * Take the sockets systemd passed to the master (socket activation):
 * LISTEN_FDS descriptors from 3, for us if LISTEN_PID is our pid, named
 * by LISTEN_FDNAMES.  They are used by the listen entries they match, by
 * name or by address (listen_get); the variables never reach workers.
 * Called before the master opens any descriptor, so that 3 and on are
 * still what was passed.
 */
void
activate_init(void)
{
	const char	*fds, *pid, *e;
	char		**names;
	int		 n, i;

	if ((fds = getenv("LISTEN_FDS")) == NULL ||
	    (pid = getenv("LISTEN_PID")) == NULL ||
	    strtonum(pid, 1, INT32_MAX, &e) != getpid())
		return;
	if ((n = activate_parse(fds, getenv("LISTEN_FDNAMES"), &names,
	    &e)) == -1) {
		log_warnx("LISTEN_FDS=%s is %s: ignored", fds, e);
		return;
	}
	activate_check(n);
	activate_inh = xcalloc(n, sizeof(*activate_inh));
	for (i = 0; i < n; i++) {
		activate_inh[i].i_fd = 3 + i;
		(void)fcntl(3 + i, F_SETFD, FD_CLOEXEC);
		activate_inh[i].i_sslen = sizeof(activate_inh[i].i_ss);
		if (getsockname(3 + i, (struct sockaddr *)&activate_inh[i].i_ss,
		    &activate_inh[i].i_sslen) == -1)
			log_warn("LISTEN_FDS: descriptor %d", 3 + i);
		activate_inh[i].i_name = names[i];
	}
	free(names);
	activate_ninh = n;
	log_info("socket activation: %d socket%s passed by the service "
	    "manager", n, n > 1 ? "s" : "");
}

/*
 * Read LISTEN_FDS (fds) and LISTEN_FDNAMES (names, NULL if unset): the
 * count of descriptors, at most DROVER_MAX_LISTEN, and in *namesp as
 * many names, NULL for those without.  Returns -1 with *errstr for a
 * count that does not read.  Apart from activate_init() so that t/fuzz/
 * can call it.
 */
int
activate_parse(const char *fds, const char *names, char ***namesp,
    const char **errstr)
{
	char	*copy = NULL, *name, *last = NULL, **v;
	int	 n, i;

	n = (int)strtonum(fds, 1, DROVER_MAX_LISTEN, errstr);
	if (*errstr != NULL)
		return -1;
	v = xcalloc(n, sizeof(*v));
	if (names != NULL)
		copy = xstrdup(names);
	name = copy != NULL ? strtok_r(copy, ":", &last) : NULL;
	for (i = 0; i < n && name != NULL; i++) {
		v[i] = xstrdup(name);
		name = strtok_r(NULL, ":", &last);
	}
	free(copy);
	*namesp = v;
	return n;
}

/* Close the passed sockets no listen entry used. */
void
activate_done(void)
{
	struct inherited	*in;
	int			 i;

	for (i = 0; i < activate_ninh; i++) {
		in = &activate_inh[i];
		if (in->i_fd == -1)
			continue;
		log_warnx("socket activation: descriptor %d%s%s matches no "
		    "listen address: closed", in->i_fd,
		    in->i_name != NULL ? " named " : "",
		    in->i_name != NULL ? in->i_name : "");
		close(in->i_fd);
		in->i_fd = -1;
	}
}

/* Whether two socket addresses are the same address and port or path. */
static int
activate_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a;
	const struct sockaddr_in	*b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a;
	const struct sockaddr_in6	*b6 = (const void *)b;
	const struct sockaddr_un	*au = (const void *)a;
	const struct sockaddr_un	*bu = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	switch (a->ss_family) {
	case AF_INET:
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	case AF_UNIX:
		return strcmp(au->sun_path, bu->sun_path) == 0;
	default:
		return 0;
	}
}

/*
 * Give l a socket passed by the service manager, if one matches it by
 * name or address: it becomes the slot 0 socket (or the shared one).
 * With reuseport, the other slots' sockets join it in its group, which
 * needs ReusePort=yes on the systemd socket; without that, the listener
 * falls back to one shared socket.  Returns 1 if adopted.
 */
int
activate_take(struct listener *l)
{
	struct inherited	*in;
	socklen_t		 len;
	int			 i, on = 0;

	for (i = 0; i < activate_ninh; i++) {
		in = &activate_inh[i];
		if (in->i_fd != -1 && ((in->i_name != NULL &&
		    strcmp(in->i_name, l->l_name) == 0) ||
		    activate_same(&in->i_ss, &l->l_ss)))
			break;
	}
	if (i == activate_ninh)
		return 0;
	in = &activate_inh[i];
	l->l_fds = xcalloc(1, sizeof(int));
	l->l_gidx = xcalloc(1, sizeof(int));
	l->l_fds[0] = in->i_fd;
	l->l_nfds = l->l_gsize = 1;
	l->l_inherited = 1;
	in->i_fd = -1;
	memcpy(&l->l_ss, &in->i_ss, sizeof(l->l_ss));
	l->l_sslen = in->i_sslen;
	if (l->l_ss.ss_family == AF_INET)
		l->l_port = ntohs(((struct sockaddr_in *)&l->l_ss)->sin_port);
	else if (l->l_ss.ss_family == AF_INET6)
		l->l_port =
		    ntohs(((struct sockaddr_in6 *)&l->l_ss)->sin6_port);
	len = sizeof(on);
	if (l->l_reuseport && (getsockopt(in->i_fd, SOL_SOCKET, SO_REUSEPORT,
	    &on, &len) == -1 || !on)) {
		log_warnx("listen %s: the socket passed by the service manager "
		    "has no SO_REUSEPORT (ReusePort=yes): all workers share it",
		    l->l_addr);
		l->l_reuseport = 0;
	}
	log_info("listen %s: using the socket passed by the service manager",
	    l->l_addr);
	return 1;
}
