/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A master running as root never writes, chmods or chowns a file outside
 * its state directory and pid file, whatever others left at the names it
 * uses.  Symbolic links at every name it creates in the state directory
 * (status.json, live, ready and their temporary names, notify) aiming
 * outside change nothing there through a start, requests, a reload, an
 * upgrade, a new slot and a stop; a state directory another user owns or
 * can write to, one reached through another user's symbolic link, a lock
 * or pid file that is a link or not ours, and a pid file directory
 * another user owns or can write to without the sticky bit are each
 * refused with exit 71 and a message naming them, before any worker
 * starts.  A directory above the state directory that the worker user
 * owns and swaps for a tree of its own does not get the notify socket
 * of the next worker.  The README's paths directly in /tmp still work,
 * twice over.
 * Runs only as root.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

/* How long a wait for something that must happen may take. */
#define WAIT_MS		10000
/* The names of state files test_links() plants links at. */
#define NNAMES		6

/* A file outside the state directory, as it was before the master. */
struct victim {
	const char	*path;
	struct stat	 st;
	char		 text[64];
};

static void		 victim_new(struct victim *, const char *,
			    const char *);
static int		 victim_same(const struct victim *);
static int		 count_entries(const char *, int);
static void		 check_sockets(const char *, const char *);
static void		 test_links(void);
static void		 refused(const char *, const char *const [],
			    const char *, const struct victim *);
static void		 test_hostile_state(void);
static void		 test_hostile_pidfile(void);
static void		 test_readme(void);
static void		 test_swapped_parent(void);

/* A 0755 directory of ours: hello-c for user nobody, the cases. */
static const char	*tdir;
static const char	*hello;
static uid_t		 nobody;
static gid_t		 nobody_gid;

/* Make dir/name, a root file of mode 0600, and remember it. */
static void
victim_new(struct victim *v, const char *dir, const char *name)
{
	v->path = tl_fmt("%s/%s", dir, name);
	(void)snprintf(v->text, sizeof(v->text), "precious %s\n", name);
	if (tl_write_file(v->path, "%s", v->text) == -1 ||
	    chmod(v->path, 0600) == -1 || lstat(v->path, &v->st) == -1)
		sysbail("victim %s", v->path);
}

/* Whether v has its content, type, mode, owner and size of before. */
static int
victim_same(const struct victim *v)
{
	struct stat	 st;
	char		*text;
	int		 same;

	if (lstat(v->path, &st) == -1) {
		diag("%s: %s", v->path, strerror(errno));
		return 0;
	}
	same = st.st_mode == v->st.st_mode && st.st_uid == v->st.st_uid &&
	    st.st_gid == v->st.st_gid && st.st_size == v->st.st_size &&
	    st.st_nlink == v->st.st_nlink;
	if (S_ISREG(st.st_mode)) {
		text = tl_slurp(v->path);
		same = same && text != NULL && strcmp(text, v->text) == 0;
		free(text);
	}
	if (!same)
		diag("%s changed: mode %o uid %u size %lld", v->path,
		    (unsigned)st.st_mode, (unsigned)st.st_uid,
		    (long long)st.st_size);
	return same;
}

/* Entries of dir (but . and ..); of type DT_LNK only if links. */
static int
count_entries(const char *dir, int links)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    (!links || de->d_type == DT_LNK))
			n++;
	closedir(d);
	return n;
}

/* Every notify socket in dir is the worker user's, mode 0600. */
static void
check_sockets(const char *dir, const char *what)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 n = 0, good = 0;

	if ((d = opendir(dir)) == NULL)
		sysbail("opendir %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISSOCK(st.st_mode))
			continue;
		n++;
		if (st.st_uid == nobody && st.st_gid == nobody_gid &&
		    (st.st_mode & 07777) == 0600)
			good++;
		else
			diag("%s/%s: uid %u gid %u mode %04o", dir, de->d_name,
			    (unsigned)st.st_uid, (unsigned)st.st_gid,
			    (unsigned)st.st_mode & 07777);
	}
	closedir(d);
	ok(n > 0 && good == n, "%s: the %d notify sockets are nobody's, "
	    "mode 0600", what, n);
}

/*
 * Symbolic links at every name the master creates in its state
 * directory, aimed at files (and a directory) outside: nothing outside
 * changes, through everything a master does with its state files.
 */
static void
test_links(void)
{
	static const char *const names[NNAMES] = { "status.json",
				    ".status.json.tmp", "live", ".live.tmp",
				    "ready", ".ready.tmp" };
	struct victim		 v[NNAMES], vdir, vin;
	struct tl_daemon	 d;
	struct tl_json		*j;
	const char		*dir, *out, *st, *pf, *extra[5];
	char			 body[64], sbuf[PATH_MAX];
	size_t			 i;
	int			 port, status, same;

	dir = tl_fmt("%s/links", tdir);
	out = tl_fmt("%s/out", dir);
	st = tl_fmt("%s/state", dir);
	pf = tl_fmt("%s/drover.pid", dir);
	if (mkdir(dir, 0755) == -1 || mkdir(out, 0755) == -1 ||
	    mkdir(st, 0755) == -1 || mkdir(tl_fmt("%s/notify", out), 0755) ==
	    -1)
		sysbail("mkdir in %s", dir);
	for (i = 0; i < NNAMES; i++) {
		victim_new(&v[i], out, names[i] + (names[i][0] == '.'));
		if (symlink(v[i].path, tl_fmt("%s/%s", st, names[i])) == -1)
			sysbail("symlink %s", names[i]);
	}
	/* notify: a directory of someone else's, say, and a file in it. */
	victim_new(&vin, tl_fmt("%s/notify", out), "inside");
	vdir.path = tl_fmt("%s/notify", out);
	vdir.text[0] = '\0';
	if (lstat(vdir.path, &vdir.st) == -1 ||
	    symlink(vdir.path, tl_fmt("%s/notify", st)) == -1)
		sysbail("notify link");

	extra[0] = "-s";
	extra[1] = st;
	extra[2] = "-p";
	extra[3] = pf;
	extra[4] = NULL;
	tl_start_conf(&d, tl_fmt("workers = 2\nlisten = 127.0.0.1:0\n"
	    "ready = notify\nuser = nobody\ncommand = %s\n", hello), extra, 0);
	/* Where it writes, its -s being the last. */
	(void)snprintf(sbuf, sizeof(sbuf), "%s", st);
	d.state = sbuf;
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "links: the master starts and gets ready");
	port = tl_port(j, 0);
	tl_json_free(j);
	is_int(0, tl_http_get(port, "/", &status, body, sizeof(body)),
	    "links: a request is answered");
	is_int(200, status, "links: with 200");
	check_sockets(tl_fmt("%s/notify", st), "links");

	tl_daemon_kill(&d, SIGHUP);
	j = tl_wait_generation(&d, 2, 2, WAIT_MS);
	ok(j != NULL, "links: a reload goes through");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGUSR2);
	j = TL_WAIT(&d, WAIT_MS, TL_STR("upgrade.result", "ok"),
	    TL_EQ("ready", 1));
	ok(j != NULL, "links: an upgrade goes through");
	tl_json_free(j);
	tl_daemon_kill(&d, SIGTTIN);
	j = TL_WAIT(&d, WAIT_MS, TL_EQ("workers", 3), TL_EQ("ready", 1),
	    TL_STR("slots.2.state", "ready"));
	ok(j != NULL, "links: after it, a third slot gets ready");
	tl_json_free(j);
	check_sockets(tl_fmt("%s/notify", st), "links, upgraded");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "links: the master stops, "
	    "exit 0");

	for (same = 1, i = 0; i < NNAMES; i++)
		same = victim_same(&v[i]) && same;
	ok(same, "links: no file a link aimed at changed");
	ok(victim_same(&vdir) && victim_same(&vin) && count_entries(vdir.path,
	    0) == 1, "links: the directory notify aimed at is as it was");
	is_int(0, count_entries(st, 1), "links: no link is left in the "
	    "state directory");
	ok(access(pf, F_OK) == -1, "links: the pid file is removed");
}

/*
 * The state directory's parent belongs to nobody, who renames it and
 * puts a tree of its own (state/notify) at its name while the master
 * runs: the next worker's notify socket is still made in the directory
 * the master checked, and nothing of the master's lands in nobody's
 * tree.
 */
static void
test_swapped_parent(void)
{
	struct tl_daemon	 d;
	struct tl_json		*j;
	struct tl_slot_pid	 sp;
	const char		*app = tl_fmt("%s/app", tdir);
	const char		*moved = tl_fmt("%s/app-moved", tdir);
	const char		*st = tl_fmt("%s/state", app);
	const char		*extra[3];
	static char		 sbuf[PATH_MAX];

	/* The state directory made first: the status wait watches it. */
	if (mkdir(app, 0755) == -1 || chown(app, nobody, nobody_gid) == -1 ||
	    mkdir(st, 0755) == -1)
		sysbail("%s", app);
	extra[0] = "-s";
	extra[1] = st;
	extra[2] = NULL;
	tl_start_conf(&d, tl_fmt("workers = 1\nlisten = 127.0.0.1:0\n"
	    "user = nobody\ncommand = %s\n", hello), extra, 0);
	(void)snprintf(sbuf, sizeof(sbuf), "%s", st);
	d.state = sbuf;
	j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
	ok(j != NULL, "swapped parent: the master gets ready");
	(void)snprintf(sbuf, sizeof(sbuf), "%s/state", moved);
	sp.slot = 0;
	sp.oldpid = tl_json_int(j, "slots.0.pid", 0);
	tl_json_free(j);
	if (rename(app, moved) == -1 || mkdir(app, 0755) == -1 ||
	    mkdir(st, 0755) == -1 || mkdir(tl_fmt("%s/notify", st), 0777) ==
	    -1)
		sysbail("swap %s", app);
	d.state = sbuf;
	if (kill((pid_t)sp.oldpid, SIGKILL) == -1)
		sysbail("kill");
	j = tl_status_wait(&d, tl_pred_slot_pid_changed, &sp, WAIT_MS);
	ok(j != NULL, "swapped parent: a new worker replaces the killed one");
	tl_json_free(j);
	is_int(0, count_entries(tl_fmt("%s/notify", st), 0), "swapped "
	    "parent: nothing lands in the tree put at the old name");
	ok(count_entries(tl_fmt("%s/notify", sbuf), 0) >= 1, "swapped "
	    "parent: the new worker's notify socket is in the directory "
	    "checked");
	is_int(0, tl_daemon_stop(&d, WAIT_MS), "swapped parent: the master "
	    "stops, exit 0");
}

/*
 * Run drover with argv (a state directory of its own in it, and the
 * command touching a marker) and check it refuses to start: exit 71, a
 * message holding msg, no worker, and v (if not NULL) as it was.
 */
static void
refused(const char *what, const char *const argv[], const char *msg,
    const struct victim *v)
{
	struct tl_daemon	 d;
	const char		*mark = tl_fmt("%s/%s.started", tdir, what);
	const char		*args[16];
	char			*log;
	int			 n;

	for (n = 0; argv[n] != NULL; n++)
		args[n] = argv[n];
	args[n++] = "-w";
	args[n++] = "1";
	args[n++] = "--";
	args[n++] = "/usr/bin/touch";
	args[n++] = mark;
	args[n] = NULL;
	tl_daemon_start(&d, args);
	is_int(71, tl_daemon_wait(&d, WAIT_MS), "%s: exit 71", what);
	log = tl_slurp(d.log);
	ok(log != NULL && strstr(log, msg) != NULL, "%s: the message says "
	    "\"%s\"", what, msg);
	if (log != NULL && strstr(log, msg) == NULL)
		diag("the log:\n%s", log);
	free(log);
	ok(access(mark, F_OK) == -1, "%s: no worker started", what);
	if (v != NULL)
		ok(victim_same(v), "%s: %s is as it was", what, v->path);
}

/* State directories others own or can write to, or reach by a link. */
static void
test_hostile_state(void)
{
	const char	*dir = tl_fmt("%s/state", tdir), *s, *real;
	struct victim	 v;
	static const struct { const char *name; mode_t mode; } modes[] = {
		{ "0775", 0775 }, { "0777", 0777 }, { "1777", 01777 } };
	size_t		 i;

	if (mkdir(dir, 0755) == -1)
		sysbail("mkdir %s", dir);
	s = tl_fmt("%s/nobodys", dir);
	if (mkdir(s, 0755) == -1 || chown(s, nobody, nobody_gid) == -1)
		sysbail("%s", s);
	refused("state owned by nobody", (const char *const[]){ "-s", s,
	    NULL }, tl_fmt("state directory %s is owned by uid %u", s,
	    (unsigned)nobody), NULL);
	is_int(0, count_entries(s, 0), "state owned by nobody: nothing is "
	    "created in it");

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		s = tl_fmt("%s/mode%s", dir, modes[i].name);
		if (mkdir(s, 0755) == -1 || chmod(s, modes[i].mode) == -1)
			sysbail("%s", s);
		refused(tl_fmt("state of mode %s", modes[i].name),
		    (const char *const[]){ "-s", s, NULL }, tl_fmt("state "
		    "directory %s is writable by its group or others", s),
		    NULL);
	}

	/* A link of nobody's on the way: not followed, nothing created. */
	real = tl_fmt("%s/real", dir);
	s = tl_fmt("%s/link", dir);
	if (mkdir(real, 0755) == -1 || symlink(real, s) == -1 ||
	    lchown(s, nobody, nobody_gid) == -1)
		sysbail("%s", s);
	refused("state through nobody's link", (const char *const[]){ "-s",
	    tl_fmt("%s/sub/state", s), NULL }, "link is a symbolic link "
	    "owned by uid", NULL);
	is_int(0, count_entries(real, 0), "state through nobody's link: "
	    "nothing is created where it points");

	/* The lock a link: left alone. */
	s = tl_fmt("%s/lock", dir);
	if (mkdir(s, 0755) == -1)
		sysbail("mkdir %s", s);
	victim_new(&v, dir, "lockvictim");
	if (symlink(v.path, tl_fmt("%s/lock", s)) == -1)
		sysbail("symlink");
	refused("lock a link", (const char *const[]){ "-s", s, NULL },
	    tl_fmt("state directory lock %s/lock is a symbolic link", s), &v);
}

/* Pid files, and their directories, others could have made. */
static void
test_hostile_pidfile(void)
{
	const char	*dir = tl_fmt("%s/pid", tdir), *p, *sticky;
	struct victim	 v;

	if (mkdir(dir, 0755) == -1)
		sysbail("mkdir %s", dir);
	p = tl_fmt("%s/nobodys", dir);
	if (mkdir(p, 0755) == -1 || chown(p, nobody, nobody_gid) == -1)
		sysbail("%s", p);
	refused("pid directory owned by nobody", (const char *const[]){ "-s",
	    tl_fmt("%s/s1", dir), "-p", tl_fmt("%s/drover.pid", p), NULL },
	    tl_fmt("pid file directory %s is owned by uid %u", p,
	    (unsigned)nobody), NULL);
	is_int(0, count_entries(p, 0), "pid directory owned by nobody: no "
	    "pid file is created");

	p = tl_fmt("%s/open", dir);
	if (mkdir(p, 0755) == -1 || chmod(p, 0777) == -1)
		sysbail("%s", p);
	refused("pid directory 0777", (const char *const[]){ "-s",
	    tl_fmt("%s/s2", dir), "-p", tl_fmt("%s/drover.pid", p), NULL },
	    tl_fmt("pid file directory %s is writable by its group or others "
	    "(mode 0777) and not sticky", p), NULL);

	/* In a sticky directory like /tmp, what others may have put there. */
	sticky = tl_fmt("%s/sticky", dir);
	if (mkdir(sticky, 0755) == -1 || chmod(sticky, 01777) == -1)
		sysbail("%s", sticky);
	victim_new(&v, dir, "victim");
	p = tl_fmt("%s/link.pid", sticky);
	if (symlink(v.path, p) == -1)
		sysbail("symlink %s", p);
	refused("pid file a link", (const char *const[]){ "-s",
	    tl_fmt("%s/s3", dir), "-p", p, NULL }, tl_fmt("pid file %s is a "
	    "symbolic link", p), &v);
	p = tl_fmt("%s/hard.pid", sticky);
	if (link(v.path, p) == -1 || lstat(v.path, &v.st) == -1)
		sysbail("link %s", p);
	refused("pid file a hard link", (const char *const[]){ "-s",
	    tl_fmt("%s/s4", dir), "-p", p, NULL }, tl_fmt("pid file %s has "
	    "other names", p), &v);
	victim_new(&v, sticky, "nobodys.pid");
	if (chown(v.path, nobody, nobody_gid) == -1 ||
	    lstat(v.path, &v.st) == -1)
		sysbail("chown %s", v.path);
	refused("pid file of nobody's", (const char *const[]){ "-s",
	    tl_fmt("%s/s5", dir), "-p", v.path, NULL }, tl_fmt("pid file %s "
	    "is owned by uid %u", v.path, (unsigned)nobody), &v);
}

/*
 * The README's -s /tmp/drover-state -p /tmp/drover.pid, with names of
 * this test's own: the state directory is created 0755, the pid file
 * written; both work again for a second master; one that another user
 * made first is refused.
 */
static void
test_readme(void)
{
	const char	*st = tl_fmt("/tmp/drover-statedir.%ld",
			    (long)getpid());
	const char	*pf = tl_fmt("%s.pid", st), *other;
	const char	*argv[] = { "-s", st, "-p", pf, "-w", "1", "-l",
			    "127.0.0.1:0", "--", hello, NULL };
	struct tl_daemon d;
	struct tl_json	*j;
	struct stat	 sb;
	char		*text, sbuf[PATH_MAX];
	int		 round;

	for (round = 1; round <= 2; round++) {
		tl_daemon_start(&d, argv);
		(void)snprintf(sbuf, sizeof(sbuf), "%s", st);
		d.state = sbuf;
		/* Outside d.dir, it is not watched for until it exists. */
		(void)tl_wait_log(&d, "started:", WAIT_MS);
		j = tl_status_wait(&d, tl_pred_all_ready, NULL, WAIT_MS);
		ok(j != NULL, "/tmp, start %d: ready", round);
		tl_json_free(j);
		ok(stat(st, &sb) == 0 && sb.st_uid == 0 &&
		    (sb.st_mode & 07777) == 0755, "/tmp, start %d: the state "
		    "directory is root's, mode 0755", round);
		text = tl_slurp(pf);
		ok(text != NULL && atol(text) == (long)d.pid, "/tmp, start %d: "
		    "the pid file holds the master's pid", round);
		free(text);
		is_int(0, tl_daemon_stop(&d, WAIT_MS), "/tmp, start %d: "
		    "stops, exit 0", round);
		ok(access(pf, F_OK) == -1, "/tmp, start %d: the pid file is "
		    "removed", round);
	}
	if (rmdir(st) == -1)
		diag("rmdir %s: %s", st, strerror(errno));

	other = tl_fmt("%s.b", st);
	if (mkdir(other, 0755) == -1 || chown(other, nobody, nobody_gid) ==
	    -1)
		sysbail("%s", other);
	refused("/tmp, made by nobody", (const char *const[]){ "-s", other,
	    NULL }, tl_fmt("state directory %s is owned by uid", other),
	    NULL);
	if (rmdir(other) == -1)
		diag("rmdir %s: %s", other, strerror(errno));
}

int
main(void)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		skip_all("the master's checks matter as root; not root");
	if ((pw = getpwnam("nobody")) == NULL)
		skip_all("no user nobody");
	nobody = pw->pw_uid;
	nobody_gid = pw->pw_gid;
	plan_lazy();
	tdir = tl_tmpdir();
	if (chmod(tdir, 0755) == -1)
		sysbail("chmod %s", tdir);
	hello = tl_fmt("%s/hello-c", tdir);
	if (tl_run((const char *const[]){ "cp", tl_path(
	    "examples/hello-c/hello-c"), hello, NULL }, WAIT_MS, NULL) != 0)
		bail("cannot copy hello-c");
	test_links();
	test_hostile_state();
	test_hostile_pidfile();
	test_readme();
	test_swapped_parent();
	return 0;
}
