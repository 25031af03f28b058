/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * How a child of the master is made.  The master holds three descriptors
 * per slot and a few megabytes, and fork(2) copied both into every child:
 * the whole descriptor table, which the child then closed but for a few,
 * and the page tables, after which the master's every write to a page
 * the child had not yet left behind was a copy-on-write fault.  Starting
 * N workers cost O(N^2), and 70% of the master's time at 1024.
 *
 * So, as posix_spawn(3) does, the child shares the master's memory and
 * runs on a stack of its own while the master waits until it has
 * exec'd or exited (clone(2) with CLONE_VM and CLONE_VFORK); and it
 * shares the master's descriptor table too (CLONE_FILES), which it
 * leaves first with close_range(2)'s CLOSE_RANGE_UNSHARE above what it
 * takes, so that only what is below is copied.  For that, the master
 * puts what the child takes at 3, 4, ... of its own table, what it had
 * there waiting elsewhere meanwhile (spawn_place), and back after
 * (spawn_unplace).  The child may not return, and does nothing but
 * system calls and its own small functions (spawn.c).
 *
 * Built with a sanitizer, whose run-time does not expect a second
 * process on its memory, the child gets a copy of it (clone3(2) with
 * CLONE_FILES and CLONE_VFORK): the same steps, with the page tables
 * copied.  Under valgrind, which runs neither, without
 * CLOSE_RANGE_UNSHARE (before Linux 5.9, or refused by a seccomp
 * filter), or when the kernel refuses the clone, the master forks, and
 * the child closes the descriptors it does not take one by one.  The
 * debug log says which, once.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <linux/sched.h>

#include "drover-master.h"

/* The child's stack, and the guard page under it. */
#define SPAWN_STACK	(64 * 1024)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPAWN_SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SPAWN_SANITIZED	1
#endif
#endif

enum spawn_how {
	SPAWN_UNKNOWN,
	SPAWN_FORK,		/* fork(2) */
	SPAWN_COPY,		/* clone3(2): the table shared, memory copied */
	SPAWN_SHARE		/* clone(2): the table and memory shared */
};

static enum spawn_how	 spawn_how = SPAWN_UNKNOWN;
static char		*spawn_stack;	/* its top (SPAWN_SHARE) */

static void	 spawn_decide(void);

/*
 * Decide how children are made, the first time one is: by what the
 * build, the kernel and valgrind allow (valgrind is told by the library
 * it preloads in every program it runs).
 */
static void
spawn_decide(void)
{
	const char	*pre = getenv("LD_PRELOAD");

	spawn_how = SPAWN_FORK;
	if (pre != NULL && strstr(pre, "/vgpreload_") != NULL) {
		log_debug("workers are forked: valgrind");
		return;
	}
	if (syscall(SYS_close_range, (unsigned)INT_MAX, (unsigned)INT_MAX,
	    CLOSE_RANGE_UNSHARE) == -1) {
		log_debug("workers are forked: close_range: %s",
		    strerror(errno));
		return;
	}
#ifdef SPAWN_SANITIZED
	spawn_how = SPAWN_COPY;
	log_debug("workers are started with clone3, memory copied: "
	    "built with a sanitizer");
#else
	char	*p;

	p = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED || mprotect(p, getpagesize(), PROT_NONE) == -1) {
		log_warn("workers are forked: a stack for clone");
		if (p != MAP_FAILED)
			(void)munmap(p, SPAWN_STACK);
		return;
	}
	spawn_stack = p + SPAWN_STACK;
	spawn_how = SPAWN_SHARE;
	log_debug("workers are started with clone, memory shared");
#endif
}

/*
 * Make a child that runs fn(arg), which must not return, and return its
 * pid (-1 with errno) once it has exec'd or exited; forked, at once.
 * *shared (in arg, for the child to read) says, before the child is
 * made, whether it shares the master's descriptor table until it leaves
 * it.  A clone that the kernel or a filter refuses is no error: the
 * master forks from then on.
 */
pid_t
spawn_clone(int (*fn)(void *), void *arg, int *shared)
{
	struct clone_args	 ca;
	pid_t			 pid = -1;
	int			 save = errno;

	if (spawn_how == SPAWN_UNKNOWN)
		spawn_decide();
	*shared = 1;
	if (spawn_how == SPAWN_SHARE) {
		pid = clone(fn, spawn_stack, CLONE_VM | CLONE_VFORK |
		    CLONE_FILES | SIGCHLD, arg);
	} else if (spawn_how == SPAWN_COPY) {
		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_FILES | CLONE_VFORK;
		ca.exit_signal = SIGCHLD;
		if ((pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca))) == 0)
			_exit(fn(arg));
	}
	if (pid == -1 && spawn_how != SPAWN_FORK && (errno == EINVAL ||
	    errno == ENOSYS || errno == EPERM || errno == E2BIG)) {
		log_debug("workers are forked: clone: %s", strerror(errno));
		spawn_how = SPAWN_FORK;
	}
	if (spawn_how == SPAWN_FORK) {
		*shared = 0;
		if ((pid = fork()) == 0)
			_exit(fn(arg));
	}
	if (pid != -1)
		errno = save;	/* a child sharing memory may have set it */
	return pid;
}

/*
 * Put the n descriptors of take at 3, 4, ... of the master's table, the
 * first nkeep without close-on-exec (what the worker keeps), the others
 * with it; what the master had there waits elsewhere, in sv.  Returns
 * -1 with errno, having undone it.
 */
int
spawn_place(const int *take, int n, int nkeep, struct spawn_saved *sv)
{
	int	 i, fd, src, flags;

	for (sv->n = 0; sv->n < n; sv->n++) {
		i = sv->n;
		sv->fd[i] = -1;
		sv->cloexec[i] = 0;
		if ((flags = fcntl(3 + i, F_GETFD)) == -1)
			continue;		/* none there */
		if ((sv->fd[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 3 + n)) == -1)
			goto fail;
		sv->cloexec[i] = flags & FD_CLOEXEC;
	}
	for (i = 0; i < n; i++) {
		fd = take[i];
		src = fd >= 3 && fd < 3 + n ? sv->fd[fd - 3] : fd;
		if (dup3(src, 3 + i, i < nkeep ? 0 : O_CLOEXEC) == -1)
			goto fail;
	}
	return 0;
 fail:
	fd = errno;
	spawn_unplace(sv);
	errno = fd;
	return -1;
}

/* Give the master its descriptors at 3, 4, ... back. */
void
spawn_unplace(struct spawn_saved *sv)
{
	int	 i;

	for (i = 0; i < sv->n; i++) {
		if (sv->fd[i] == -1) {
			(void)close(3 + i);
			continue;
		}
		if (dup3(sv->fd[i], 3 + i, sv->cloexec[i] ? O_CLOEXEC : 0) ==
		    -1)
			fatal(EXIT_OSERR, "dup3 %d", 3 + i);
		close(sv->fd[i]);
	}
	sv->n = 0;
}
