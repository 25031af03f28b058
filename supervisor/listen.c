/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Listen addresses and the sockets behind them: parsing an address,
 * opening its first socket (or taking one the service manager passed),
 * refusing an address another process listens on, sharing a listener
 * between the configurations that use it, and closing it when none does.
 * For a TCP address with reuseport (the default) the master opens one
 * socket per slot (group.c keeps that set and steers connections across
 * it); a unix socket, or reuseport = no, is one socket shared by every
 * worker.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/filter.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 listen_busy(const struct listener *);
static pid_t	 listen_holder(const struct listener *, char *, size_t);
static void	 listen_inuse(const struct listener *);
static int	 listen_inodes(const struct listener *, unsigned long *, int);
static int	 listen_split(const char *, int, char **, const char **,
		    const char **);

static char	 listen_errbuf[512];

/* Sockets passed to the master by systemd (LISTEN_FDS), not yet used. */
struct inherited {
	int			 i_fd;
	char			*i_name;
	struct sockaddr_storage	 i_ss;
	socklen_t		 i_sslen;
};
static struct inherited	*listen_inh;
static int		 listen_ninh;

static int	 listen_inherited(struct listener *);
static int	 listen_same(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);

/*
 * Split a listen entry into its name ("NAME=" before the address, or
 * listenINDEX by default; allocated in *name) and its address (*addr,
 * pointing into spec).  Returns -1 with a message in *errstr.
 */
static int
listen_split(const char *spec, int index, char **name, const char **addr,
    const char **errstr)
{
	const char	*eq;
	size_t		 i;

	*addr = spec;
	if ((eq = strchr(spec, '=')) != NULL) {
		for (i = 0; spec + i < eq; i++)
			if (!isalnum((unsigned char)spec[i]) &&
			    strchr("_.-", spec[i]) == NULL)
				break;
		if (spec + i != eq || i == 0) {
			*errstr = "a name may hold letters, digits, _ . -";
			return -1;
		}
		if ((*name = strndup(spec, i)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		*addr = eq + 1;
	} else if (asprintf(name, "listen%d", index) == -1)
		fatal(EXIT_OSERR, "%s", __func__);
	return 0;
}

/*
 * Parse ADDR ("NAME=" optional, then "HOST:PORT", ":PORT", "[V6]:PORT"
 * or "unix:/PATH") into l, which the caller zeroed.  Index is the
 * position in the listen list, for the default name.  Host names are
 * resolved here, once.  Returns -1 with a message in *errstr.
 */
int
listen_parse(const char *spec, int index, struct listener *l,
    const char **errstr)
{
	struct sockaddr_un	*sun;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct addrinfo		 hints, *res;
	const char		*addr, *portstr, *e;
	char			 host[256];
	size_t			 hlen;
	int			 port, gai;

	if (listen_split(spec, index, &l->l_name, &addr, errstr) == -1)
		return -1;
	if ((l->l_addr = strdup(addr)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	l->l_fds = NULL;
	l->l_nfds = 0;

	if (strncmp(addr, "unix:", 5) == 0) {
		l->l_type = LISTEN_UNIX;
		sun = (struct sockaddr_un *)&l->l_ss;
		if (addr[5] != '/') {
			*errstr = "a unix socket path must be absolute";
			goto fail;
		}
		if (strlen(addr + 5) >= sizeof(sun->sun_path)) {
			*errstr = "unix socket path too long";
			goto fail;
		}
		sun->sun_family = AF_UNIX;
		strlcpy(sun->sun_path, addr + 5, sizeof(sun->sun_path));
		l->l_sslen = sizeof(*sun);
		if ((l->l_path = strdup(addr + 5)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		return 0;
	}

	l->l_type = LISTEN_TCP;
	if (*addr == '[') {
		if ((portstr = strstr(addr, "]:")) == NULL) {
			*errstr = "expected [ADDRESS]:PORT";
			goto fail;
		}
		hlen = portstr - addr - 1;
		if (hlen >= sizeof(host))
			goto badhost;
		memcpy(host, addr + 1, hlen);
		host[hlen] = '\0';
		portstr += 2;
	} else {
		if ((portstr = strrchr(addr, ':')) == NULL) {
			*errstr = "expected HOST:PORT, :PORT, [V6]:PORT or "
			    "unix:/PATH";
			goto fail;
		}
		hlen = portstr - addr;
		if (hlen >= sizeof(host) || memchr(addr, ':', hlen) != NULL)
			goto badhost;
		memcpy(host, addr, hlen);
		host[hlen] = '\0';
		portstr++;
	}
	port = (int)strtonum(portstr, 0, 65535, &e);
	if (e != NULL) {
		(void)snprintf(listen_errbuf, sizeof(listen_errbuf),
		    "port %s is %s", portstr, e);
		*errstr = listen_errbuf;
		goto fail;
	}
	memset(&l->l_ss, 0, sizeof(l->l_ss));
	sin = (struct sockaddr_in *)&l->l_ss;
	sin6 = (struct sockaddr_in6 *)&l->l_ss;
	if (*host == '\0') {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		l->l_sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		l->l_sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		l->l_sslen = sizeof(*sin6);
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_ADDRCONFIG;
		if ((gai = getaddrinfo(host, NULL, &hints, &res)) != 0) {
			(void)snprintf(listen_errbuf, sizeof(listen_errbuf),
			    "cannot resolve %s: %s", host, gai_strerror(gai));
			*errstr = listen_errbuf;
			goto fail;
		}
		memcpy(&l->l_ss, res->ai_addr, res->ai_addrlen);
		l->l_sslen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (l->l_ss.ss_family == AF_INET) {
		sin->sin_port = htons(port);
		inet_ntop(AF_INET, &sin->sin_addr, l->l_host,
		    sizeof(l->l_host));
	} else {
		sin6->sin6_port = htons(port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, l->l_host,
		    sizeof(l->l_host));
	}
	l->l_port = port;
	return 0;
 badhost:
	*errstr = "bad host";
 fail:
	listen_close(l);
	return -1;
}

/*
 * Open one socket for l, bound to its address (and, after the first, to
 * the port the first one got) and listening.  Returns the descriptor, or
 * -1 after logging why.
 */
int
listen_socket(struct listener *l, int reuseport, int backlog)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd, one = 1;

	fd = socket(l->l_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", l->l_addr);
		return -1;
	}
	if (l->l_type == LISTEN_TCP) {
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
		    &one, sizeof(one)) == -1)) {
			log_warn("listen %s: setsockopt", l->l_addr);
			goto fail;
		}
	}
	if (bind(fd, (struct sockaddr *)&l->l_ss, l->l_sslen) == -1) {
		log_warn("listen %s: bind", l->l_addr);
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		log_warn("listen %s: listen", l->l_addr);
		goto fail;
	}
	if (l->l_type == LISTEN_TCP && l->l_port == 0) {
		/* Later sockets of the group bind to the port this got. */
		sslen = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
			log_warn("listen %s: getsockname", l->l_addr);
			goto fail;
		}
		if (ss.ss_family == AF_INET) {
			l->l_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			((struct sockaddr_in *)&l->l_ss)->sin_port =
			    htons(l->l_port);
		} else {
			l->l_port =
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
			((struct sockaddr_in6 *)&l->l_ss)->sin6_port =
			    htons(l->l_port);
		}
	}
	return fd;
 fail:
	close(fd);
	return -1;
}

/*
 * Make way for a unix socket at l's path: a socket file left by a master
 * that is gone is removed; one that still accepts connections belongs to
 * a live process and is an error (EADDRINUSE), as is anything that is
 * not a socket (EEXIST).
 */
int
listen_unix_free(const struct listener *l)
{
	struct stat	 st;
	int		 fd, rv;

	if (lstat(l->l_path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rv = connect(fd, (const struct sockaddr *)&l->l_ss, l->l_sslen);
	close(fd);
	if (rv == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(l->l_path);
}

/*
 * Take the sockets systemd passed to the master (socket activation):
 * LISTEN_FDS descriptors from 3, for us if LISTEN_PID is our pid, named
 * by LISTEN_FDNAMES.  They are used by the listen entries they match, by
 * name or by address (listen_get); the variables never reach workers.
 */
void
listen_inherit_init(void)
{
	const char	*fds, *pid, *names, *e;
	char		*copy = NULL, *name, *last = NULL;
	int		 n, i;

	if ((fds = getenv("LISTEN_FDS")) == NULL ||
	    (pid = getenv("LISTEN_PID")) == NULL ||
	    strtonum(pid, 1, INT32_MAX, &e) != getpid())
		return;
	n = (int)strtonum(fds, 1, DROVER_MAX_LISTEN, &e);
	if (e != NULL) {
		log_warnx("LISTEN_FDS=%s is %s: ignored", fds, e);
		return;
	}
	if ((listen_inh = calloc(n, sizeof(*listen_inh))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	if ((names = getenv("LISTEN_FDNAMES")) != NULL &&
	    (copy = strdup(names)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	name = copy != NULL ? strtok_r(copy, ":", &last) : NULL;
	for (i = 0; i < n; i++) {
		listen_inh[i].i_fd = 3 + i;
		(void)fcntl(3 + i, F_SETFD, FD_CLOEXEC);
		listen_inh[i].i_sslen = sizeof(listen_inh[i].i_ss);
		if (getsockname(3 + i, (struct sockaddr *)&listen_inh[i].i_ss,
		    &listen_inh[i].i_sslen) == -1)
			log_warn("LISTEN_FDS: descriptor %d", 3 + i);
		if (name != NULL &&
		    (listen_inh[i].i_name = strdup(name)) == NULL)
			fatal(EXIT_OSERR, "%s", __func__);
		if (name != NULL)
			name = strtok_r(NULL, ":", &last);
	}
	listen_ninh = n;
	free(copy);
	log_info("socket activation: %d socket%s passed by the service "
	    "manager", n, n > 1 ? "s" : "");
}

/* Close the passed sockets no listen entry used. */
void
listen_inherit_done(void)
{
	int	 i;

	for (i = 0; i < listen_ninh; i++) {
		if (listen_inh[i].i_fd == -1)
			continue;
		log_warnx("socket activation: descriptor %d%s%s matches no "
		    "listen address: closed", listen_inh[i].i_fd,
		    listen_inh[i].i_name != NULL ? " named " : "",
		    listen_inh[i].i_name != NULL ? listen_inh[i].i_name : "");
		close(listen_inh[i].i_fd);
		listen_inh[i].i_fd = -1;
	}
}

/* Whether two socket addresses are the same address and port or path. */
static int
listen_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_un	*au = (const void *)a, *bu = (const void *)b;

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
static int
listen_inherited(struct listener *l)
{
	struct inherited	*in;
	socklen_t		 len;
	int			 i, on = 0;

	for (i = 0; i < listen_ninh; i++) {
		in = &listen_inh[i];
		if (in->i_fd != -1 && ((in->i_name != NULL &&
		    strcmp(in->i_name, l->l_name) == 0) ||
		    listen_same(&in->i_ss, &l->l_ss)))
			break;
	}
	if (i == listen_ninh)
		return 0;
	in = &listen_inh[i];
	if ((l->l_fds = calloc(1, sizeof(int))) == NULL ||
	    (l->l_gidx = calloc(1, sizeof(int))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
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

/*
 * The sockets listening on l's address (TCP: any address of its family
 * on its port that overlaps it; unix: its path), by inode, from the
 * kernel's tables in /proc/net.  Returns how many (at most max).
 */
static int
listen_inodes(const struct listener *l, unsigned long *ino, int max)
{
	static const char *const tables[] = { "/proc/net/tcp",
	    "/proc/net/tcp6", "/proc/net/unix" };
	char		 line[512], path[256];
	unsigned long	 inode;
	unsigned int	 port, st, flags;
	FILE		*fp;
	size_t		 t;
	int		 n = 0;

	for (t = 0; t < 3; t++) {
		if ((t == 2) != (l->l_type == LISTEN_UNIX) ||
		    (fp = fopen(tables[t], "re")) == NULL)
			continue;
		while (n < max && fgets(line, sizeof(line), fp) != NULL) {
			if (t == 2) {
				/* Num RefCount Protocol Flags Type St Inode Path */
				if (sscanf(line, "%*s %*s %*s %x %*s %*s %lu "
				    "%255s", &flags, &inode, path) == 3 &&
				    (flags & 0x10000) != 0 &&
				    strcmp(path, l->l_path) == 0)
					ino[n++] = inode;
				continue;
			}
			/* sl local rem st tx:rx tr:when retr uid timeout inode */
			if (sscanf(line, "%*s %*[0-9A-Fa-f]:%x %*s %x %*s %*s "
			    "%*s %*s %*s %lu", &port, &st, &inode) == 3 &&
			    st == 0x0a && (int)port == l->l_port)
				ino[n++] = inode;
		}
		fclose(fp);
	}
	return n;
}

/*
 * A process holding one of the sockets listening on l's address: its
 * pid, and its name in comm; 0 if none is found (another user's process,
 * in another pid namespace, or gone).
 */
static pid_t
listen_holder(const struct listener *l, char *comm, size_t commlen)
{
	unsigned long	 ino[16];
	char		 path[600], link[64], want[40];
	struct dirent	*pe, *fe;
	DIR		*pd, *fd;
	FILE		*fp;
	ssize_t		 len;
	pid_t		 pid = 0;
	int		 n, i;

	if ((n = listen_inodes(l, ino, 16)) == 0 ||
	    (pd = opendir("/proc")) == NULL)
		return 0;
	while (pid == 0 && (pe = readdir(pd)) != NULL) {
		if (!isdigit((unsigned char)pe->d_name[0]) ||
		    atol(pe->d_name) == (long)getpid())
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		if ((fd = opendir(path)) == NULL)
			continue;
		while (pid == 0 && (fe = readdir(fd)) != NULL) {
			(void)snprintf(path, sizeof(path), "/proc/%s/fd/%s",
			    pe->d_name, fe->d_name);
			if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[len] = '\0';
			for (i = 0; i < n; i++) {
				(void)snprintf(want, sizeof(want),
				    "socket:[%lu]", ino[i]);
				if (strcmp(link, want) == 0)
					pid = (pid_t)atol(pe->d_name);
			}
		}
		closedir(fd);
	}
	closedir(pd);
	comm[0] = '\0';
	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if (pid != 0 && (fp = fopen(path, "re")) != NULL) {
		if (fgets(comm, (int)commlen, fp) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(fp);
	}
	return pid;
}

/* Say that l's address is in use, and by whom if that can be found. */
static void
listen_inuse(const struct listener *l)
{
	char	 comm[32];
	pid_t	 pid;

	if ((pid = listen_holder(l, comm, sizeof(comm))) != 0)
		log_warnx("listen %s: %s: another process listens there "
		    "(pid %ld, %s); drover does not join it", l->l_addr,
		    strerror(EADDRINUSE), (long)pid, comm);
	else
		log_warnx("listen %s: %s: another process listens there; "
		    "drover does not join it", l->l_addr, strerror(EADDRINUSE));
}

/*
 * Whether some other socket already listens on l's TCP address, which a
 * socket with SO_REUSEPORT would silently join (sharing the connections
 * with whoever holds it, another master or its orphans).  The kernel
 * says: a probe with only SO_REUSEADDR cannot bind where a socket
 * listens.  Port 0 is never busy.  Returns 1 after logging the holder.
 */
static int
listen_busy(const struct listener *l)
{
	int	 fd, one = 1, busy;

	if (l->l_type != LISTEN_TCP || l->l_port == 0)
		return 0;
	if ((fd = socket(l->l_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		return 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	busy = bind(fd, (const struct sockaddr *)&l->l_ss, l->l_sslen) ==
	    -1 && errno == EADDRINUSE;
	close(fd);
	if (!busy)
		return 0;
	listen_inuse(l);
	return 1;
}

/*
 * The listener of the listen address spec (entry index of configuration
 * c): the one already open for the same address and socket kind, shared,
 * or a new one with the sockets of its first slot.  An open one is found
 * by the address as written, before anything is resolved, so that an
 * upgraded image takes over its sockets without a name lookup.  A new
 * address must not be in use by another process, unless the service
 * manager passed its socket.  Its name for c goes to *name (allocated).
 * Returns NULL after logging.
 */
struct listener *
listen_get(const char *spec, int index, const struct config *c, char **name)
{
	struct listener	*l, **v;
	const char	*e, *addr;
	size_t		 i;
	int		 reuseport;

	if (listen_split(spec, index, name, &addr, &e) == -1) {
		log_warnx("listen %s: %s", spec, e);
		return NULL;
	}
	reuseport = c->c_reuseport && strncmp(addr, "unix:", 5) != 0;
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (strcmp(addr, l->l_addr) == 0 &&
		    l->l_reuseport == reuseport) {
			l->l_refs++;
			return l;
		}
	}
	free(*name);
	*name = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	if (listen_parse(spec, index, l, &e) == -1) {
		log_warnx("listen %s: %s", spec, e);
		free(l);
		return NULL;
	}
	if ((*name = strdup(l->l_name)) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	l->l_reuseport = reuseport;
	l->l_backlog = c->c_backlog;
	if (listen_inherited(l))
		goto add;
	if (listen_busy(l))
		goto fail;
	if (l->l_type == LISTEN_UNIX && listen_unix_free(l) == -1) {
		if (errno == EADDRINUSE)
			listen_inuse(l);
		else
			log_warn("listen %s", l->l_addr);
		goto fail;
	}
	if ((l->l_fds = calloc(1, sizeof(int))) == NULL ||
	    (l->l_gidx = calloc(1, sizeof(int))) == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	if ((l->l_fds[0] = listen_socket(l, reuseport, l->l_backlog)) == -1)
		goto fail;
	l->l_nfds = l->l_gsize = 1;
 add:
	v = reallocarray(master.m_lis, master.m_nlis + 1, sizeof(*v));
	if (v == NULL)
		fatal(EXIT_OSERR, "%s", __func__);
	master.m_lis = v;
	master.m_lis[master.m_nlis++] = l;
	l->l_refs = 1;
	return l;
 fail:
	listen_close(l);
	free(l);
	free(*name);
	*name = NULL;
	return NULL;
}

/*
 * A configuration no longer uses l: close it when none does.
 */
void
listen_put(struct listener *l)
{
	size_t	 i;

	if (--l->l_refs > 0)
		return;
	for (i = 0; i < master.m_nlis; i++) {
		if (master.m_lis[i] == l) {
			master.m_lis[i] = master.m_lis[--master.m_nlis];
			break;
		}
	}
	log_info("listen %s: closed", l->l_addr);
	listen_close(l);
	free(l);
}

/* Close the sockets of l, remove its unix socket file, free its parts. */
void
listen_close(struct listener *l)
{
	int	 i;

	for (i = 0; i < l->l_nfds; i++)
		if (l->l_fds[i] != -1)
			close(l->l_fds[i]);
	if (l->l_type == LISTEN_UNIX && l->l_nfds > 0)
		(void)unlink(l->l_path);
	free(l->l_fds);
	free(l->l_gidx);
	l->l_gidx = NULL;
	free(l->l_name);
	free(l->l_addr);
	free(l->l_path);
	l->l_fds = NULL;
	l->l_nfds = 0;
	l->l_name = l->l_addr = l->l_path = NULL;
}

/* At exit: close every listener. */
void
listen_close_all(void)
{
	size_t	 i;

	for (i = 0; i < master.m_nlis; i++) {
		listen_close(master.m_lis[i]);
		free(master.m_lis[i]);
	}
	master.m_nlis = 0;
}
