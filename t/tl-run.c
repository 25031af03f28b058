/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Running commands: tl_run() runs one to completion with its output
 * captured, and the helpers here build the argument vector and the
 * child's prologue (descriptors, signals) that tl_daemon_start() uses as
 * well.  A child starts with an empty signal mask and default
 * dispositions, stdin from /dev/null and no descriptor but 0, 1 and 2.
 * tl_in_path() says beforehand whether there is a command to run.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

/*
 * A NULL-terminated vector of copies of the strings in a, b and c (each
 * NULL-terminated, any may be NULL): execv wants non-const strings.
 */
char **
tl_argv(const char *const a[], const char *const b[], const char *const c[])
{
	const char *const	*parts[3] = { a, b, c };
	char			**v;
	size_t			  n = 0, i, k;

	for (k = 0; k < 3; k++)
		for (i = 0; parts[k] != NULL && parts[k][i] != NULL; i++)
			n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		sysbail("calloc");
	n = 0;
	for (k = 0; k < 3; k++)
		for (i = 0; parts[k] != NULL && parts[k][i] != NULL; i++)
			v[n++] = tl_xstrdup(parts[k][i]);
	return v;
}

/* Free a vector tl_argv() made. */
void
tl_argv_free(char **v)
{
	size_t	 i;

	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* In a child: make fd available as target, without close-on-exec. */
void
tl_child_fd(int fd, int target)
{
	if (fd == target)
		fcntl(fd, F_SETFD, 0);
	else
		dup2(fd, target);
}

/* In a child: empty signal mask and default dispositions, as at boot. */
void
tl_child_signals(void)
{
	sigset_t	 none;
	int		 sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
}

/*
 * Run argv with its output in a pipe.  The pipe is read until the process
 * exits (its pidfd becomes readable), then drained without blocking, so a
 * grandchild that keeps the pipe open cannot hold us up.
 */
int
tl_run(const char *const argv[], int timeout_ms, char **output)
{
	struct pollfd	 pfd;
	long long	 deadline = tl_deadline(timeout_ms);
	char		**vec, *buf = NULL, *nbuf;
	size_t		 len = 0, size = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 p[2], nullfd, pidfd, st, r, gone, code = -1, piped = 1;

	if (pipe2(p, O_CLOEXEC) == -1)
		sysbail("pipe2");
	if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		sysbail("open /dev/null");
	vec = tl_argv(argv, NULL, NULL);
	fflush(NULL);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		tl_child_fd(nullfd, 0);
		tl_child_fd(p[1], 1);
		tl_child_fd(p[1], 2);
		tl_child_signals();
		closefrom(3);
		execvp(vec[0], vec);
		dprintf(2, "tl_run: exec %s: %s\n", vec[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	close(nullfd);
	tl_argv_free(vec);
	if ((pidfd = tl_pidfd_open(pid)) == -1 && errno != ENOSYS)
		sysbail("pidfd_open %d", (int)pid);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		sysbail("fcntl");
	for (;;) {
		pfd.fd = piped ? p[0] : -1;
		pfd.events = POLLIN;
		if ((r = tl_poll(&pfd, 1, deadline, pid, pidfd, &gone)) == 0) {
			kill(pid, SIGKILL);
			diag("tl_run: %s timed out, killed", argv[0]);
		}
		while (piped) {
			if (size - len < 2) {
				size = size ? size * 2 : 4096;
				if ((nbuf = realloc(buf, size)) == NULL)
					sysbail("realloc");
				buf = nbuf;
			}
			n = read(p[0], buf + len, size - len - 1);
			if (n > 0)
				len += (size_t)n;
			else if (n == 0)
				piped = 0;
			else if (errno != EINTR)
				break;
		}
		if (r == 0 || gone)
			break;
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			sysbail("waitpid %d", (int)pid);
	if (r != 0)
		code = tl_decode(st);
	if (pidfd != -1)
		close(pidfd);
	close(p[0]);
	if (output != NULL) {
		if (buf == NULL && (buf = malloc(1)) == NULL)
			sysbail("malloc");
		buf[len] = '\0';
		*output = buf;
	} else
		free(buf);
	return code;
}

/* Whether a directory of $PATH has an executable called name. */
int
tl_in_path(const char *name)
{
	const char	*path = getenv("PATH");
	char		*copy, *dir, *last;
	int		 found = 0;

	if (path == NULL || (copy = strdup(path)) == NULL)
		return 0;
	for (dir = strtok_r(copy, ":", &last); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &last))
		found = access(tl_fmt("%s/%s", dir, name), X_OK) == 0;
	free(copy);
	return found;
}
