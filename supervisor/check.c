/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What -n checks beyond the syntax: that a worker could start, that is,
 * that the working directory can be entered and the command found and
 * executed.  The check does what the child does before exec (spawn.c),
 * in the same order and with the same credentials: it becomes the user
 * and group workers run as (for good: -n exits right after), changes to
 * the directory, then looks the command up in the PATH the workers get,
 * so the kernel itself answers every question (permissions on every
 * directory of the path, ACLs, a root-only home), not a guess from mode
 * bits.  A script whose #! line names a missing interpreter is caught
 * too: execve(2) would say only ENOENT.  Each problem is logged, with
 * the file and line of the key that set it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

static int	 check_user(const struct config *, char *, size_t);
static int	 check_command(const struct config *, const char *);

/*
 * Check that the workers of c could be started.  Returns the number of
 * problems found, each logged; 0 if there is none.  Credentials are
 * dropped for good to those of the workers: call it last, and only in a
 * process that exits afterwards.
 */
int
check_worker(const struct config *c)
{
	char		 as[128];
	const char	*cmd = c->c_argv[0];
	int		 bad = 0, dirbad = 0;

	if (check_user(c, as, sizeof(as)) == -1)
		return 1;
	if (c->c_directory != NULL && chdir(c->c_directory) == -1) {
		log_warnx("%sdirectory = %s: %s%s", config_where(c,
		    "directory"), c->c_directory, strerror(errno), as);
		bad++;
		dirbad = 1;
	}
	/* A relative path is relative to the directory that is missing. */
	if (!dirbad || *cmd == '/' || strchr(cmd, '/') == NULL)
		bad += check_command(c, as);
	return bad;
}

/*
 * Become the user and group of the workers, as spawn_child() does, and
 * describe them in as (" as user NAME", or "" when workers run as
 * drover).  Returns -1 after logging if that is not possible: the
 * workers could not start either.
 */
static int
check_user(const struct config *c, char *as, size_t len)
{
	*as = '\0';
	if (c->c_user != NULL)
		(void)snprintf(as, len, " (as user %s)", c->c_user);
	else if (c->c_group != NULL)
		(void)snprintf(as, len, " (as group %s)", c->c_group);
	if (c->c_gid != (gid_t)-1 && (setgroups(1, &c->c_gid) == -1 ||
	    setgid(c->c_gid) == -1)) {
		log_warn("%scannot set the group of workers%s",
		    config_where(c, c->c_group != NULL ? "group" : "user"),
		    as);
		return -1;
	}
	if (c->c_uid != (uid_t)-1 && setuid(c->c_uid) == -1) {
		log_warn("%scannot set the user of workers%s",
		    config_where(c, "user"), as);
		return -1;
	}
	return 0;
}

/*
 * Whether the command of c can be executed, with the credentials and in
 * the directory of a worker; as (for the message) says as whom.  Returns
 * 1 after logging if it cannot, else 0.
 */
static int
check_command(const struct config *c, const char *as)
{
	const char	*where = config_where(c, "command"), *path;
	char		**env, *cmd, interp[PATH_MAX];
	struct stat	 st;
	int		 rv = 1, e;

	env = spawn_environ(c, master.m_environ);
	path = spawn_path(env);
	cmd = spawn_lookup(c->c_argv[0], path);
	if (strchr(cmd, '/') == NULL)
		log_warnx("%scommand: %s not found in PATH (%s)%s", where,
		    cmd, path, as);
	else if (stat(cmd, &st) == -1)
		log_warnx("%scommand: %s: %s%s", where, cmd, strerror(errno),
		    as);
	else if (!S_ISREG(st.st_mode))
		log_warnx("%scommand: %s is not a regular file", where, cmd);
	else if (access(cmd, X_OK) == -1)
		log_warnx("%scommand: %s: %s%s", where, cmd, strerror(errno),
		    as);
	else if ((e = spawn_interpreter(cmd, interp, sizeof(interp))) != 0)
		log_warnx("%scommand: %s: interpreter %s%s%s%s", where, cmd,
		    interp, e == ENOENT ? " not found" : ": ",
		    e == ENOENT ? "" : strerror(e), as);
	else
		rv = 0;
	free(cmd);
	free(env);
	return rv;
}
