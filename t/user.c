/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Who workers are, and who may connect to them.  With `user =`, workers
 * get that user's HOME, USER, LOGNAME and SHELL from the password file,
 * not the master's, an env entry still replacing any of them; without
 * it, they get the master's unchanged.  A unix: listen socket gets the
 * mode, owner and group of socket_mode, socket_owner and socket_group
 * before it listens, as stat(2) shows and a client running as nobody
 * finds when it connects (served, or refused), also after a reload that
 * changes them, and after an upgrade.  The test runs as root, like a
 * master that changes ids.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define WAIT_MS		10000

static int		 get_as(uid_t, gid_t, const char *);
static const char	*env_conf(const char *);
static const char	*sock_conf(const char *, const char *);
static void		 check_env(pid_t, const char *, const char *,
			    const char *, const char *, const char *);
static void		 test_user_env(void);
static void		 test_socket(void);

static const char	*hello;
static uid_t		 nobody_uid;
static gid_t		 nobody_gid;
static char		*nobody_home, *nobody_shell, *nobody_group;

/*
 * A GET of / over the unix socket at path, from a process running as
 * uid and gid (no other group): 0 if it was answered 200, else the errno
 * of the connect (EACCES), or -1 for a connection that was not served.
 */
static int
get_as(uid_t uid, gid_t gid, const char *path)
{
	pid_t	 pid;
	int	 fd, st, status = 0;

	fflush(NULL);
	if ((pid = fork()) == -1)
		sysbail("fork");
	if (pid == 0) {
		if (tl_become(uid, gid) == -1)
			_exit(255);
		if ((fd = tl_connect_unix(path)) == -1)
			_exit(errno > 0 && errno < 255 ? errno : 254);
		if (tl_http_request(fd, "/", 0) == -1 ||
		    tl_http_response(fd, WAIT_MS, &status, NULL, 0,
		    NULL) == -1)
			_exit(253);
		_exit(status == 200 ? 0 : 252);
	}
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		sysbail("waitpid");
	if (WEXITSTATUS(st) == 255)
		bail("cannot become uid %ld", (long)uid);
	return WEXITSTATUS(st) >= 252 ? -1 : WEXITSTATUS(st);
}

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

/* Two workers as nobody on unix:path, with the socket_* lines extra. */
static const char *
sock_conf(const char *path, const char *extra)
{
	return tl_fmt("workers = 2\nuser = nobody\nlisten = unix:%s\n%s"
	    "command = %s\n", path, extra, hello);
}

/*
 * A unix socket with socket_mode = 0660 and socket_group = nobody's: a
 * client as nobody is served; after a reload to 0600 and no group, the
 * same socket refuses it; socket_owner = nobody lets it in again.
 */
static void
test_socket(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct stat		 st;
	const char		*dir, *path;
	ino_t			 ino;

	dir = tl_tmpdir();
	/* Only the socket's own mode may keep nobody out. */
	if (chmod(dir, 0711) == -1)
		sysbail("chmod %s", dir);
	path = tl_fmt("%s/app.sock", dir);
	j = tl_start_conf(&d, sock_conf(path, tl_fmt("socket_mode = 0660\n"
	    "socket_group = %s\n", nobody_group)), NULL, 1);
	tl_json_free(j);
	if (lstat(path, &st) == -1)
		sysbail("lstat %s", path);
	ino = st.st_ino;
	ok(S_ISSOCK(st.st_mode), "%s is a socket", path);
	is_int(0660, st.st_mode & 07777, "its mode is 0660");
	is_int(0, st.st_uid, "its owner is the master's, root");
	is_int(nobody_gid, st.st_gid, "its group is %s", nobody_group);
	is_int(0, get_as(nobody_uid, nobody_gid, path),
	    "a client as nobody:%s is served over it", nobody_group);
	is_int(EACCES, get_as(nobody_uid, nobody_gid + 1, path),
	    "a client as nobody of another group is refused (EACCES)");

	tl_conf_rewrite(&d, "%s", sock_conf(path, "socket_mode = 0600\n"));
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	tl_json_free(tl_wait_generation(&d, 2, 2, WAIT_MS));
	if (lstat(path, &st) == -1)
		sysbail("lstat %s", path);
	ok(st.st_ino == ino, "after a reload to socket_mode = 0600 it is "
	    "the same socket file");
	is_int(0600, st.st_mode & 07777, "its mode is 0600");
	is_int(EACCES, get_as(nobody_uid, nobody_gid, path),
	    "a client as nobody:%s is refused (EACCES)", nobody_group);
	ok(get_as(0, 0, path) == 0, "root is served");

	tl_conf_rewrite(&d, "%s", sock_conf(path, "socket_mode = 0600\n"
	    "socket_owner = nobody\n"));
	if (tl_daemon_kill(&d, SIGHUP) == -1)
		sysbail("SIGHUP");
	tl_json_free(tl_wait_generation(&d, 3, 2, WAIT_MS));
	if (lstat(path, &st) == -1)
		sysbail("lstat %s", path);
	ok(st.st_uid == nobody_uid && (st.st_mode & 07777) == 0600,
	    "socket_owner = nobody: the socket is nobody's, mode 0600");
	is_int(0, get_as(nobody_uid, nobody_gid, path),
	    "a client as nobody is served again");

	if (tl_daemon_kill(&d, SIGUSR2) == -1)
		sysbail("SIGUSR2");
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("upgrade.upgrades", 1),
	    TL_STR("upgrade.result", "ok"), TL_EQ("ready", 1));
	ok(j != NULL, "an upgrade (SIGUSR2) is done");
	tl_json_free(j);
	if (lstat(path, &st) == -1)
		sysbail("lstat %s", path);
	ok(st.st_ino == ino && st.st_uid == nobody_uid &&
	    (st.st_mode & 07777) == 0600, "after it, the same socket file, "
	    "nobody's, mode 0600");
	is_int(0, get_as(nobody_uid, nobody_gid, path),
	    "a client as nobody is served after the upgrade");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "drover stops with 0");
	ok(access(path, F_OK) == -1, "the socket file is removed");
}

int
main(void)
{
	struct passwd	*pw;
	struct group	*gr;

	plan_lazy();
	if (geteuid() != 0)
		skip_all("user = needs the test to run as root");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_all("no user nobody");
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	nobody_home = strdup(pw->pw_dir);
	nobody_shell = strdup(*pw->pw_shell != '\0' ? pw->pw_shell :
	    "/bin/sh");
	if ((gr = getgrgid(nobody_gid)) == NULL)
		skip_all("nobody's group has no name");
	nobody_group = strdup(gr->gr_name);
	if (nobody_home == NULL || nobody_shell == NULL ||
	    nobody_group == NULL)
		sysbail("strdup");
	hello = tl_path("examples/hello-c/hello-c");
	test_user_env();
	test_socket();
	free(nobody_home);
	free(nobody_shell);
	free(nobody_group);
	return 0;
}
