/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Loopback networking for the tests: connecting over TCP to 127.0.0.1 or
 * to a unix socket, and a small HTTP/1.1 client.  A response is read
 * byte-exact (peek, then consume no more than belongs to it), so that
 * pipelined responses stay in the socket for the next call; bodies may
 * have a Content-Length, be chunked or run to end of file.  Every read has
 * a deadline; a peer that closed is EPIPE on send, never SIGPIPE.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "testlib.h"
#include "tl-private.h"

#define TL_HDRMAX	16384	/* longest response head we accept */
#define TL_HTTP_MS	5000	/* tl_http_get() deadline */

static int	 tl_readable(int, long long);
static int	 tl_recv_until(int, long long, char *, size_t, const char *,
		    size_t *);
static int	 tl_recv_body(int, long long, long long, char *, size_t,
		    size_t *);
static int	 tl_chunked(int, long long, char *, size_t, size_t *);
static int	 tl_connect_sa(const struct sockaddr *, socklen_t);

/* A blocking stream connection to sa, or -1 with errno. */
static int
tl_connect_sa(const struct sockaddr *sa, socklen_t len)
{
	int	 fd, saved;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, sa, len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* A blocking TCP connection to 127.0.0.1:port, or -1 with errno. */
int
tl_connect(int port)
{
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return tl_connect_sa((struct sockaddr *)&sin, sizeof(sin));
}

/* A blocking connection to the unix stream socket at path, or -1. */
int
tl_connect_unix(const char *path)
{
	struct sockaddr_un	 sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return tl_connect_sa((struct sockaddr *)&sun, sizeof(sun));
}

/*
 * Send msg as one datagram to the unix socket at path, from a socket of
 * its own; what sendto(2) returns.
 */
ssize_t
tl_send_dgram(const char *path, const char *msg)
{
	struct sockaddr_un	 sun;
	ssize_t			 n;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || strlcpy(sun.sun_path, path, sizeof(sun.sun_path))
	    >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sun,
	    sizeof(sun));
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}

/*
 * Send a GET for path, with "Connection: close" unless keepalive.  Uses
 * MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE.
 */
int
tl_http_request(int fd, const char *path, int keepalive)
{
	char	*req;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 r, saved;

	r = asprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path,
	    keepalive ? "" : "Connection: close\r\n");
	if (r == -1)
		return -1;
	len = (size_t)r;
	while (off < len) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			free(req);
			errno = saved;
			return -1;
		}
		off += (size_t)n;
	}
	free(req);
	return 0;
}

/* Wait until fd is readable: 1, or 0 with ETIMEDOUT at the deadline. */
static int
tl_readable(int fd, long long deadline)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, tl_remaining(deadline))) == -1)
		if (errno != EINTR)
			return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return 0;
	}
	return 1;
}

/*
 * Read from a stream socket up to and including the terminator, never a
 * byte beyond it: peek, look for the terminator (which may straddle what
 * was read before), then consume exactly what belongs to us.  Whatever
 * follows (a pipelined response) stays in the socket.  Returns 0 with the
 * text NUL-terminated in buf, -2 on EOF before any byte, -1 with errno.
 */
static int
tl_recv_until(int fd, long long deadline, char *buf, size_t cap,
    const char *term, size_t *lenp)
{
	size_t	 len = 0, tlen = strlen(term), from, take;
	ssize_t	 n;
	char	*hit;
	int	 r;

	for (;;) {
		if ((r = tl_readable(fd, deadline)) <= 0)
			return -1;
		n = recv(fd, buf + len, cap - 1 - len, MSG_PEEK | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			if (len == 0)
				return -2;
			errno = EPROTO;
			return -1;
		}
		from = len >= tlen - 1 ? len - (tlen - 1) : 0;
		hit = memmem(buf + from, len + (size_t)n - from, term, tlen);
		take = hit != NULL ? (size_t)(hit - buf) + tlen - len :
		    (size_t)n;
		while (take > 0) {
			n = recv(fd, buf + len, take, MSG_DONTWAIT);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n == 0)
					errno = EPROTO;
				return -1;
			}
			len += (size_t)n;
			take -= (size_t)n;
		}
		buf[len] = '\0';
		if (hit != NULL) {
			*lenp = len;
			return 0;
		}
		if (len == cap - 1) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

/*
 * Read want bytes of body (want < 0: until EOF), keeping what fits in
 * body[0 .. bodysz - 1) from offset *got on.
 */
static int
tl_recv_body(int fd, long long deadline, long long want, char *body,
    size_t bodysz, size_t *got)
{
	char	 buf[4096];
	size_t	 chunk, keep;
	ssize_t	 n;
	int	 r;

	while (want != 0) {
		chunk = sizeof(buf);
		if (want > 0 && (long long)chunk > want)
			chunk = (size_t)want;
		if ((r = tl_readable(fd, deadline)) <= 0)
			return -1;
		n = recv(fd, buf, chunk, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			if (want < 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		if (body != NULL && bodysz > 0 && *got < bodysz - 1) {
			keep = bodysz - 1 - *got;
			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(body + *got, buf, keep);
			*got += keep;
		}
		if (want > 0)
			want -= n;
	}
	return 0;
}

/* Read a chunked body and its trailer. */
static int
tl_chunked(int fd, long long deadline, char *body, size_t bodysz,
    size_t *got)
{
	char		 line[256], *end;
	size_t		 len;
	unsigned long	 size;

	for (;;) {
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0)
			goto bad;
		errno = 0;
		size = strtoul(line, &end, 16);
		if (end == line || errno != 0 || size > LLONG_MAX)
			goto bad;
		if (size == 0)
			break;
		if (tl_recv_body(fd, deadline, (long long)size, body, bodysz,
		    got) == -1)
			return -1;
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0 || len != 2)
			goto bad;
	}
	do {
		if (tl_recv_until(fd, deadline, line, sizeof(line), "\r\n",
		    &len) != 0)
			goto bad;
	} while (len != 2);
	return 0;
 bad:
	if (errno == 0 || errno == EAGAIN)
		errno = EPROTO;
	return -1;
}

/*
 * Read one response: its head byte-exact, then a Content-Length, chunked
 * or read-to-EOF body.  Responses to HEAD are not supported.
 */
int
tl_http_response(int fd, int timeout_ms, int *status, char *body,
    size_t bodysz, int *close_hdr)
{
	char		 head[TL_HDRMAX], *line, *next, *val;
	long long	 deadline = tl_deadline(timeout_ms), clen = -1;
	size_t		 len, got = 0;
	int		 code, r, chunked = 0, conn_close = 0;

	if (body != NULL && bodysz > 0)
		body[0] = '\0';
	if ((r = tl_recv_until(fd, deadline, head, sizeof(head), "\r\n\r\n",
	    &len)) != 0)
		return r;
	if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
	    sscanf(head + 9, "%3d", &code) != 1 || code < 100) {
		errno = EPROTO;
		return -1;
	}
	for (line = strstr(head, "\r\n") + 2; *line != '\r'; line = next) {
		next = strstr(line, "\r\n");
		*next = '\0';
		next += 2;
		if ((val = strchr(line, ':')) == NULL)
			continue;
		*val++ = '\0';
		val += strspn(val, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			char	*end;

			errno = 0;
			clen = strtoll(val, &end, 10);
			if (errno != 0 || end == val || clen < 0) {
				errno = EPROTO;
				return -1;
			}
		} else if (strcasecmp(line, "Transfer-Encoding") == 0 &&
		    strcasestr(val, "chunked") != NULL)
			chunked = 1;
		else if (strcasecmp(line, "Connection") == 0 &&
		    strcasestr(val, "close") != NULL)
			conn_close = 1;
	}
	if (status != NULL)
		*status = code;
	if (close_hdr != NULL)
		*close_hdr = conn_close;
	if (code < 200 || code == 204 || code == 304)
		r = 0;
	else if (chunked)
		r = tl_chunked(fd, deadline, body, bodysz, &got);
	else
		r = tl_recv_body(fd, deadline, clen, body, bodysz, &got);
	if (body != NULL && bodysz > 0)
		body[got] = '\0';
	return r;
}

/* One GET on a new connection, with a deadline of TL_HTTP_MS (slowed). */
int
tl_http_get(int port, const char *path, int *status, char *body,
    size_t bodysz)
{
	int	 fd, r, saved;

	if ((fd = tl_connect(port)) == -1)
		return -1;
	r = tl_http_request(fd, path, 0);
	if (r == 0)
		r = tl_http_response(fd, tl_slow_ms(TL_HTTP_MS), status, body,
		    bodysz, NULL);
	saved = errno;
	close(fd);
	errno = saved;
	return r == 0 ? 0 : -1;
}
