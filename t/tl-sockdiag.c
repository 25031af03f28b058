/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Which process serves a connection, asked of the kernel rather than of
 * the server: for a connection the test made, sock_diag(7) gives the
 * inode of the server's end by the connection's four addresses, and the
 * process among the candidates that holds a socket of that inode
 * (/proc/PID/fd, through tl_fd_inodes()) is the one that serves it.  The
 * tests of other people's servers use it, since those servers cannot be
 * made to say their pid in an answer.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <string.h>
#include <unistd.h>

#include "testlib.h"

static unsigned long tl_peer_inode(int);

/*
 * The inode of the server's end of connected socket fd, asked of the
 * kernel by its four addresses (sock_diag(7), one exact lookup; reading
 * /proc/net/tcp would cost a walk of every connection, quadratic while
 * they come and go).  0 if not found.
 */
static unsigned long
tl_peer_inode(int fd)
{
	struct sockaddr_in	 me, peer;
	struct {
		struct nlmsghdr		 nlh;
		struct inet_diag_req_v2	 r;
	}			 req;
	union {
		struct nlmsghdr		 nlh;
		char			 buf[8192];
	}			 resp;
	const struct inet_diag_msg *m;
	socklen_t		 len;
	ssize_t			 n;
	unsigned long		 ino = 0;
	int			 nl;

	len = sizeof(me);
	if (getsockname(fd, (struct sockaddr *)&me, &len) == -1)
		return 0;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == -1)
		return 0;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_INET;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	/* The server's end: its local address is our peer. */
	req.r.id.idiag_sport = peer.sin_port;
	req.r.id.idiag_dport = me.sin_port;
	req.r.id.idiag_src[0] = peer.sin_addr.s_addr;
	req.r.id.idiag_dst[0] = me.sin_addr.s_addr;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] =
	    INET_DIAG_NOCOOKIE;
	if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) == -1)
		return 0;
	if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req) &&
	    (n = recv(nl, &resp, sizeof(resp), 0)) > 0 &&
	    NLMSG_OK(&resp.nlh, (size_t)n) &&
	    resp.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
	    resp.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(*m))) {
		m = NLMSG_DATA(&resp.nlh);
		ino = m->idiag_inode;
	}
	close(nl);
	return ino;
}

/*
 * The pid among pids[0..n-1] (those not above 0 are passed over) that
 * holds the server's end of the connected TCP socket fd, or -1.
 */
pid_t
tl_served_by(int fd, const pid_t *pids, int n)
{
	unsigned long	 want, ino[256];
	int		 fdn[256], i, k, m;

	if ((want = tl_peer_inode(fd)) == 0)
		return -1;
	for (k = 0; k < n; k++) {
		if (pids[k] <= 0 ||
		    (m = tl_fd_inodes(pids[k], ino, fdn, 256)) == -1)
			continue;
		for (i = 0; i < m; i++)
			if (ino[i] == want)
				return pids[k];
	}
	return -1;
}
