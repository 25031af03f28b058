/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * Where things are, and what the test library owns: the build and source
 * trees, paths in them, formatted strings, private temporary directories,
 * and the exit hook that lets go of all of it.  Strings handed out as
 * "const char *" are recorded here and freed at exit; directories made by
 * tl_tmpdir() are removed at exit (unless $TL_KEEP is set).  The hook is
 * registered with tap_atexit() on first use and runs in a fixed order:
 * the daemons first (their logs, then killing what is left, tl-daemon.c),
 * then the FIFO descriptors (tl-file.c), then the directories, and the
 * strings last, since the daemons' log paths are among them.  It must not
 * bail: it runs inside exit().
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"
#include "tl-private.h"

static void	 tl_cleanup(void);
static int	 tl_rm(const char *, const struct stat *, int, struct FTW *);

static int		  tl_registered;
static char		**tl_tmpdirs;
static size_t		  tl_ntmpdirs;
static char		**tl_owned;
static size_t		  tl_nowned;

/* Register the exit hook once. */
void
tl_register(void)
{
	if (tl_registered)
		return;
	tl_registered = 1;
	tap_atexit(tl_cleanup);
}

/*
 * The exit hook: show the daemons' logs if something failed, stop the
 * daemons still running, close the FIFOs tl_fifo_release() held open,
 * remove the temporary directories, free what the library owns.  It must
 * not bail: it runs inside exit().
 */
static void
tl_cleanup(void)
{
	size_t	 i;

	tl_daemon_cleanup();
	tl_fifo_cleanup();
	for (i = 0; i < tl_ntmpdirs; i++) {
		if (getenv("TL_KEEP") != NULL)
			diag("keeping %s", tl_tmpdirs[i]);
		else if (nftw(tl_tmpdirs[i], tl_rm, 16,
		    FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == -1)
			diag("cannot remove %s: %s", tl_tmpdirs[i],
			    strerror(errno));
		free(tl_tmpdirs[i]);
	}
	for (i = 0; i < tl_nowned; i++)
		free(tl_owned[i]);
	free(tl_tmpdirs);
	free(tl_owned);
	tl_tmpdirs = tl_owned = NULL;
	tl_ntmpdirs = tl_nowned = 0;
}

/* An nftw(3) callback: remove one entry, saying why if it cannot. */
static int
tl_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT)
		diag("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

/* Take ownership of s: it is freed at exit.  Returns s. */
char *
tl_own(char *s)
{
	char	**v;

	tl_register();
	if ((v = reallocarray(tl_owned, tl_nowned + 1, sizeof(*v))) == NULL)
		sysbail("reallocarray");
	tl_owned = v;
	tl_owned[tl_nowned++] = s;
	return s;
}

/* strdup(3), bailing out when out of memory. */
char *
tl_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		sysbail("strdup");
	return p;
}

/* A malloc'd formatted string, bailing out when out of memory. */
char *
tl_vxasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) == -1)
		sysbail("vasprintf");
	return s;
}

char *
tl_xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = tl_vxasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/*
 * The build tree: $abs_top_builddir, else two levels above the test
 * binary (three if libtool put it in t/.libs).
 */
const char *
tl_builddir(void)
{
	static char	*dir;
	char		 exe[PATH_MAX], *slash;
	const char	*env;
	ssize_t		 n;
	int		 up;

	if (dir != NULL)
		return dir;
	if ((env = getenv("abs_top_builddir")) != NULL && *env != '\0')
		return dir = tl_own(tl_xstrdup(env));
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1)
		sysbail("readlink /proc/self/exe");
	exe[n] = '\0';
	for (up = 0; up < 2; up++) {
		if ((slash = strrchr(exe, '/')) == NULL || slash == exe)
			bail("cannot find the build tree from %s", exe);
		*slash = '\0';
		if (up == 1 && strcmp(slash + 1, ".libs") == 0)
			up--;
	}
	return dir = tl_own(tl_xstrdup(exe));
}

/* The source tree: $abs_top_srcdir, else the build tree. */
const char *
tl_srcdir(void)
{
	const char	*env;

	if ((env = getenv("abs_top_srcdir")) != NULL && *env != '\0')
		return env;
	return tl_builddir();
}

/* BUILDDIR/rel, owned by the library. */
const char *
tl_path(const char *rel)
{
	return tl_own(tl_xasprintf("%s/%s", tl_builddir(), rel));
}

/* SRCDIR/rel, owned by the library. */
const char *
tl_srcpath(const char *rel)
{
	return tl_own(tl_xasprintf("%s/%s", tl_srcdir(), rel));
}

/* A formatted string, owned by the library. */
const char *
tl_fmt(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = tl_vxasprintf(fmt, ap);
	va_end(ap);
	return tl_own(s);
}

/*
 * Make a private directory, with an absolute path even if $TMPDIR is
 * relative, since daemons run in it.
 */
const char *
tl_tmpdir(void)
{
	const char	*base;
	char		*tmpl, *dir, **v;

	tl_register();
	if ((base = getenv("TMPDIR")) == NULL || *base == '\0')
		base = "/tmp";
	tmpl = tl_xasprintf("%s/drover-test.XXXXXX", base);
	if (mkdtemp(tmpl) == NULL)
		sysbail("mkdtemp %s", tmpl);
	if ((dir = realpath(tmpl, NULL)) == NULL)
		sysbail("realpath %s", tmpl);
	free(tmpl);
	if ((v = reallocarray(tl_tmpdirs, tl_ntmpdirs + 1, sizeof(*v))) ==
	    NULL)
		sysbail("reallocarray");
	tl_tmpdirs = v;
	tl_tmpdirs[tl_ntmpdirs++] = dir;
	return dir;
}
