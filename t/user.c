/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Who workers are.  With `user =`, workers get that user's HOME, USER,
 * LOGNAME and SHELL from the password file, not the master's, an env
 * entry still replacing any of them; without it, they get the master's
 * unchanged.  The test runs as root, like a master that changes ids.
 */

#include "config.h"

#include <sys/types.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		10000

static const char	*env_conf(const char *);
static void		 check_env(pid_t, const char *, const char *,
			    const char *, const char *, const char *);
static void		 test_user_env(void);

static const char	*hello;
static uid_t		 nobody_uid;
static char		*nobody_home, *nobody_shell;

/* Worker pid has HOME, USER, LOGNAME and SHELL, each exactly once. */
static void
check_env(pid_t pid, const char *what, const char *home, const char *user,
    const char *shell, const char *extra)
{
	is_string(home, tl_env_of(pid, "HOME"), "%s: HOME is %s", what,
	    home);
	is_string(user, tl_env_of(pid, "USER"), "%s: USER is %s", what,
	    user);
	is_string(user, tl_env_of(pid, "LOGNAME"), "%s: LOGNAME is %s", what,
	    user);
	is_string(shell, tl_env_of(pid, "SHELL"), "%s: SHELL is %s", what,
	    shell);
	ok(tl_env_count(pid, "HOME") == 1 && tl_env_count(pid, "USER") == 1 &&
	    tl_env_count(pid, "LOGNAME") == 1 &&
	    tl_env_count(pid, "SHELL") == 1, "%s: each of them once", what);
	if (extra != NULL)
		is_string("kept", tl_env_of(pid, extra), "%s: %s of the master "
		    "is still there", what, extra);
}

/* One worker on a TCP port, with the lines extra. */
static const char *
env_conf(const char *extra)
{
	return tl_fmt("workers = 1\nlisten = 127.0.0.1:0\n%scommand = %s\n",
	    extra, hello);
}

/*
 * user = nobody: the workers get nobody's variables, not the master's;
 * env entries replace them (after a reload); without user =, after
 * another reload, they get the master's.
 */
static void
test_user_env(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	pid_t			 pid;

	if (setenv("HOME", "/home/the-master", 1) == -1 ||
	    setenv("USER", "the-master", 1) == -1 ||
	    setenv("LOGNAME", "the-master", 1) == -1 ||
	    setenv("SHELL", "/bin/the-master-shell", 1) == -1 ||
	    setenv("APP_SETTING", "kept", 1) == -1)
		sysbail("setenv");
	j = tl_start_conf(&d, env_conf("user = nobody\n"), NULL, 1);
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	ok(tl_proc_status(pid, "Uid") != NULL &&
	    atol(tl_proc_status(pid, "Uid")) == (long)nobody_uid,
	    "user = nobody: the worker runs as nobody");
	check_env(pid, "user = nobody", nobody_home, "nobody", nobody_shell,
	    "APP_SETTING");

	tl_conf_rewrite(&d, "%s", env_conf("user = nobody\n"
	    "env = HOME=/srv/app\nenv = SHELL=/bin/sh\n"));
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	j = tl_wait_generation(&d, 2, 1, WAIT_MS);
	ok(j != NULL, "env entries: the reload is done");
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	check_env(pid, "env = HOME=, SHELL= with user = nobody", "/srv/app",
	    "nobody", "/bin/sh", NULL);

	tl_conf_rewrite(&d, "%s", env_conf(""));
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	j = tl_wait_generation(&d, 3, 1, WAIT_MS);
	ok(j != NULL, "no user =: the reload is done");
	pid = (pid_t)tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	check_env(pid, "no user =", "/home/the-master", "the-master",
	    "/bin/the-master-shell", "APP_SETTING");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with 0");
}

int
main(void)
{
	struct passwd	*pw;

	plan_lazy();
	if (geteuid() != 0)
		skip_all("user = needs the test to run as root");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_all("no user nobody");
	nobody_uid = pw->pw_uid;
	nobody_home = strdup(pw->pw_dir);
	nobody_shell = strdup(*pw->pw_shell != '\0' ? pw->pw_shell :
	    "/bin/sh");
	if (nobody_home == NULL || nobody_shell == NULL)
		sysbail("strdup");
	hello = tl_path("examples/hello-c/hello-c");
	test_user_env();
	free(nobody_home);
	free(nobody_shell);
	return 0;
}
