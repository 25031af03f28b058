/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Who holds an address drover cannot take: the sockets listening there,
 * by inode, then the process with a descriptor on one of them, so that
 * the error names it (another master, its orphans, another server).
 *
 * For TCP the kernel is asked (sock_diag(7)) for the listeners on the
 * port alone: it walks its table of listeners, not of connections.
 * Reading /proc/net/tcp walks every bucket and connection of the
 * kernel's table instead, TIME_WAIT ones included: with the tens of
 * thousands a loaded test run leaves, coming and going, a second drover
 * spent 5 s of system time in that walk and had not named the holder
 * after 10 (t/exclusive).  Where netlink is not allowed
 * (RestrictAddressFamilies= in the systemd units), /proc/net/tcp is read
 * all the same.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

#define HOLDER_MAX	16	/* inodes looked for */

static int	 holder_diag(const struct listener *, unsigned long *, int);
static int	 holder_proc(const struct listener *, unsigned long *, int);

/*
 * The TCP sockets listening on l's port, of either family, by inode, as
 * sock_diag(7) gives them.  Returns how many (at most max), or -1 if the
 * kernel cannot be asked.
 */
static int
holder_diag(const struct listener *l, unsigned long *ino, int max)
{
	static const int	 families[] = { AF_INET, AF_INET6 };
	struct {
		struct nlmsghdr		 nlh;
		struct inet_diag_req_v2	 r;
	}			 req;
	union {
		struct nlmsghdr		 nlh;
		char			 buf[8192];
	}			 resp;
	struct nlmsghdr		*h;
	const struct inet_diag_msg *m;
	ssize_t			 len;
	size_t			 f;
	int			 nl, n = 0, done;

	if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return -1;
	for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		memset(&req, 0, sizeof(req));
		req.nlh.nlmsg_len = sizeof(req);
		req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		req.r.sdiag_family = (unsigned char)families[f];
		req.r.sdiag_protocol = IPPROTO_TCP;
		req.r.idiag_states = 1U << TCP_LISTEN;
		req.r.id.idiag_sport = htons((unsigned short)l->l_port);
		if (send(nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
			goto fail;
		for (done = 0; !done; ) {
			if ((len = recv(nl, &resp, sizeof(resp), 0)) <= 0)
				goto fail;
			for (h = &resp.nlh; NLMSG_OK(h, (size_t)len);
			    h = NLMSG_NEXT(h, len)) {
				if (h->nlmsg_type == NLMSG_DONE) {
					done = 1;
					break;
				}
				if (h->nlmsg_type == NLMSG_ERROR)
					goto fail;
				m = NLMSG_DATA(h);
				if (n < max && m->idiag_inode != 0)
					ino[n++] = m->idiag_inode;
			}
		}
	}
	close(nl);
	return n;
 fail:
	close(nl);
	return -1;
}

/*
 * The sockets listening on l's address (TCP: any address of either
 * family on its port; unix: its path), by inode, from the kernel's
 * tables in /proc/net.  Returns how many (at most max).
 */
static int
holder_proc(const struct listener *l, unsigned long *ino, int max)
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
		/*
		 * unix: Num RefCount Protocol Flags Type St Inode Path;
		 * tcp: sl local rem st tx:rx tr:when retr uid timeout inode.
		 */
		while (n < max && fgets(line, sizeof(line), fp) != NULL) {
			if (t == 2) {
				if (sscanf(line, "%*s %*s %*s %x %*s %*s %lu "
				    "%255s", &flags, &inode, path) == 3 &&
				    (flags & 0x10000) != 0 &&
				    strcmp(path, l->l_path) == 0)
					ino[n++] = inode;
				continue;
			}
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
pid_t
holder_find(const struct listener *l, char *comm, size_t commlen)
{
	unsigned long	 ino[HOLDER_MAX], inode;
	char		 path[600], link[64];
	struct dirent	*pe, *fe;
	DIR		*pd, *fd;
	FILE		*fp;
	ssize_t		 len;
	pid_t		 pid = 0;
	int		 n, i;

	if (l->l_type == LISTEN_UNIX ||
	    (n = holder_diag(l, ino, HOLDER_MAX)) == -1)
		n = holder_proc(l, ino, HOLDER_MAX);
	if (n == 0 || (pd = opendir("/proc")) == NULL)
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
			if (sscanf(link, "socket:[%lu]", &inode) != 1)
				continue;
			for (i = 0; i < n; i++)
				if (ino[i] == inode)
					pid = (pid_t)atol(pe->d_name);
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

