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
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 listen_busy(const struct listener *);
static int	 listen_keep_perms(struct listener *, const struct config *);
static int	 listen_is_sock(int);
static void	 listen_inuse(const struct listener *);
static int	 listen_split(const char *, int, char **, const char **,
		    const char **);
static int	 listen_hostport(const char *, char *, size_t, int *,
		    const char **);
static int	 listen_resolve(struct listener *, const char *, int,
		    const char **);

static char	 listen_errbuf[512];

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
		*name = xstrndup(spec, i);
		*addr = eq + 1;
	} else
		(void)xasprintf(name, "listen%d", index);
	return 0;
}

/*
 * Split "HOST:PORT", ":PORT" or "[V6]:PORT" into host (of size hostsz)
 * and the port number.  Returns -1 with a message in *errstr.
 */
static int
listen_hostport(const char *addr, char *host, size_t hostsz, int *port,
    const char **errstr)
{
	const char	*portstr, *e;
	size_t		 hlen;

	if (*addr == '[') {
		if ((portstr = strstr(addr, "]:")) == NULL) {
			*errstr = "expected [ADDRESS]:PORT";
			return -1;
		}
		if ((hlen = portstr - addr - 1) == 0) {
			*errstr = "empty IPv6 address (all of them is [::])";
			return -1;
		}
		portstr += 2;
		addr++;
	} else {
		if ((portstr = strrchr(addr, ':')) == NULL) {
			*errstr = "expected HOST:PORT, :PORT, [V6]:PORT or "
			    "unix:/PATH";
			return -1;
		}
		hlen = portstr++ - addr;
		if (memchr(addr, ':', hlen) != NULL)
			hlen = hostsz;	/* an IPv6 address needs [] */
	}
	if (hlen >= hostsz) {
		*errstr = "bad host";
		return -1;
	}
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	*port = (int)strtonum(portstr, 0, 65535, &e);
	if (e != NULL) {
		(void)snprintf(listen_errbuf, sizeof(listen_errbuf),
		    "port %s is %s", portstr, e);
		*errstr = listen_errbuf;
		return -1;
	}
	return 0;
}

/*
 * Set l's address to host (numeric, or a name resolved here, once; ""
 * for every IPv4 address) and port.  Returns -1 with a message in
 * *errstr.
 */
static int
listen_resolve(struct listener *l, const char *host, int port,
    const char **errstr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->l_ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->l_ss;
	struct addrinfo		 hints, *res;
	int			 gai;

	memset(&l->l_ss, 0, sizeof(l->l_ss));
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
			return -1;
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
	const char	*addr;
	char		 host[256];
	int		 port, r;

	if (listen_split(spec, index, &l->l_name, &addr, errstr) == -1)
		return -1;
	l->l_addr = xstrdup(addr);
	l->l_fds = NULL;
	l->l_nfds = 0;
	if (strncmp(addr, "unix:", 5) == 0)
		r = listen_parse_unix(addr, l, errstr);
	else {
		l->l_type = LISTEN_TCP;
		r = listen_hostport(addr, host, sizeof(host), &port, errstr);
		if (r == 0)
			r = listen_resolve(l, host, port, errstr);
	}
	if (r == -1)
		listen_close(l);
	return r;
}

/*
 * Open one socket for l, bound to its address (and, after the first, to
 * the port the first one got) and listening; a unix socket's file gets
 * l's mode and owner before it listens.  Returns the descriptor, or -1
 * after logging why.
 */
int
listen_socket(struct listener *l, int reuseport, int backlog)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd, one = 1, port0;

	fd = socket(l->l_ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", l->l_addr);
		return -1;
	}
	/*
	 * Port 0: the kernel may give a port that a reuseport group of ours
	 * already has (another listen entry's), and the socket would join
	 * it.  Bound first without SO_REUSEPORT it gets a port of its own;
	 * set before listen(), the option still makes it a group's first.
	 */
	port0 = l->l_type == LISTEN_TCP && l->l_port == 0;
	if (l->l_type == LISTEN_TCP && (setsockopt(fd, SOL_SOCKET,
	    SO_REUSEADDR, &one, sizeof(one)) == -1 || (reuseport && !port0 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ==
	    -1))) {
		log_warn("listen %s: setsockopt", l->l_addr);
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&l->l_ss, l->l_sslen) == -1) {
		log_warn("listen %s: bind", l->l_addr);
		close(fd);
		return -1;
	}
	if (reuseport && port0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
	    &one, sizeof(one)) == -1) {
		log_warn("listen %s: setsockopt", l->l_addr);
		goto fail;
	}
	if (l->l_type == LISTEN_UNIX && listen_unix_perms(l) == -1)
		goto fail;
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
			l->l_port =
			    ntohs(((struct sockaddr_in *)&ss)->sin_port);
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
	if (l->l_type == LISTEN_UNIX)
		(void)unlink(l->l_path);	/* the file bind(2) made */
	return -1;
}

/* Say that l's address is in use, and by whom if that can be found. */
static void
listen_inuse(const struct listener *l)
{
	char	 comm[32];
	pid_t	 pid;

	if ((pid = holder_find(l, comm, sizeof(comm))) != 0)
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
 * A configuration c keeps unix listener l open (a reload, an upgrade):
 * give its file the mode and owner c asks for, if another configuration
 * gave it others (one taken over in an upgrade holds zeros: what its
 * configuration, the one handed over, gave it is set again).  A socket
 * the service manager passed keeps what the manager set.  Returns -1
 * after logging.
 */
static int
listen_keep_perms(struct listener *l, const struct config *c)
{
	if (l->l_type != LISTEN_UNIX || l->l_inherited ||
	    (l->l_mode == c->c_sockmode && l->l_uid == c->c_sockuid &&
	    l->l_gid == c->c_sockgid))
		return 0;
	l->l_mode = c->c_sockmode;
	l->l_uid = c->c_sockuid;
	l->l_gid = c->c_sockgid;
	return listen_unix_perms(l);
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
	int		 reuseport, k;

	if (listen_split(spec, index, name, &addr, &e) == -1) {
		log_warnx("listen %s: %s", spec, e);
		return NULL;
	}
	reuseport = c->c_reuseport && strncmp(addr, "unix:", 5) != 0;
	for (i = 0; i < master.m_nlis; i++) {
		l = master.m_lis[i];
		if (strcmp(addr, l->l_addr) != 0 ||
		    l->l_reuseport != reuseport)
			continue;
		/*
		 * Written twice ("127.0.0.1:0" for two ports of their own),
		 * an address is two listeners: the entries before this one
		 * have taken theirs.
		 */
		for (k = 0; k < index && c->c_lis[k] != l; k++)
			;
		if (k < index)
			continue;
		if (listen_keep_perms(l, c) == -1)
			return NULL;
		l->l_refs++;
		return l;
	}
	free(*name);
	*name = NULL;
	l = xcalloc(1, sizeof(*l));
	if (listen_parse(spec, index, l, &e) == -1) {
		log_warnx("listen %s: %s", spec, e);
		free(l);
		return NULL;
	}
	*name = xstrdup(l->l_name);
	l->l_reuseport = reuseport;
	l->l_backlog = c->c_backlog;
	l->l_mode = c->c_sockmode;
	l->l_uid = c->c_sockuid;
	l->l_gid = c->c_sockgid;
	if (activate_take(l))
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
	l->l_fds = xcalloc(1, sizeof(int));
	l->l_gidx = xcalloc(1, sizeof(int));
	if ((l->l_fds[0] = listen_socket(l, reuseport, l->l_backlog)) == -1)
		goto fail;
	l->l_nfds = l->l_gsize = 1;
 add:
	v = xreallocarray(master.m_lis, master.m_nlis + 1, sizeof(*v));
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

/* Whether fd is an open socket. */
static int
listen_is_sock(int fd)
{
	struct stat	 st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * A listener line (fields after "listener"): its sockets are taken as
 * they are; the address is what the kernel says they are bound to, so
 * nothing is resolved again.  NULL if the line is bad.
 */
struct listener *
listen_adopt(char **f, int dry)
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
		    (!dry && l->l_fds[k] != -1 && !listen_is_sock(l->l_fds[k])))
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
		if (strncmp(l->l_addr, "unix:", 5) != 0)
			goto bad;
		l->l_path = xstrdup(l->l_addr + 5);
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
