/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * workers = auto counts the CPUs drover may use, not the machine's: the
 * affinity mask (taskset), and the CPU quota of its cgroup and of the
 * cgroups above it (v2 cpu.max, v1 cpu.cfs_quota_us), rounded up.  Each
 * case runs drover the way a user would, under taskset(1) or moved into
 * a real cgroup by a wrapper before exec, and reads the number of
 * workers from -n and from a running master's status.json.  Creating
 * cgroups needs root and a writable cgroup file system; where the
 * machine does not allow it, the case says why it is skipped.  Where
 * the cgroup v2 cpu controller cannot be enabled, drover's reading of a
 * cpu.max file is still tested on a copy bind-mounted over its cgroup
 * directory in a private mount namespace.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testlib.h"

#define RUN_MS	10000

static const char	*drover_bin(void);
static int		 auto_workers(const char *const [], const char *);
static int		 put(const char *, const char *);
static void		 cleanup(void);
static int		 make_cgroup(const char *);
static const char	*v2_dir(void);
static void		 test_taskset(void);
static void		 test_v1(void);
static void		 test_v2(void);
static void		 test_v2_file(void);

static const char	*dir;		/* the test's temporary directory */
static const char	*incg;		/* the wrapper: incg.sh CGROUP CMD... */
static char		*made[4];	/* cgroups to remove, deepest first */
static int		 nmade;
static long		 ncpu;		/* CPUs the test itself may use */

static const char *
drover_bin(void)
{
	const char	*bin;

	if ((bin = getenv("TL_DROVER")) != NULL && *bin != '\0')
		return bin;
	return tl_path("supervisor/drover");
}

/*
 * Run wrap (NULL-terminated words, may be empty) followed by drover -n
 * -w auto, and return the number of workers it prints, or -1.  When
 * logline is not NULL, the output must also contain it (-2 if not).
 */
static int
auto_workers(const char *const wrap[], const char *logline)
{
	const char	*argv[24];
	char		*out = NULL, *p;
	int		 n = 0, rc, w = -1;

	for (; *wrap != NULL; wrap++) {
		if (n == 24 - 10)
			bail("auto_workers: too many words");
		argv[n++] = *wrap;
	}
	argv[n++] = drover_bin();
	argv[n++] = "-n";
	argv[n++] = "-s";
	argv[n++] = tl_fmt("%s/state", dir);
	argv[n++] = "-w";
	argv[n++] = "auto";
	argv[n++] = "--";
	argv[n++] = "/bin/true";
	argv[n] = NULL;
	rc = tl_run(argv, RUN_MS, &out);
	for (p = out; rc == 0 && p != NULL; p = strchr(p + 1, '\n'))
		if (strncmp(p + (*p == '\n'), "workers = ", 10) == 0) {
			w = atoi(p + (*p == '\n') + 10);
			break;
		}
	if (w != -1 && logline != NULL && strstr(out, logline) == NULL) {
		diag("no \"%s\" in the output", logline);
		w = -2;
	}
	if (w < 0)
		diag("drover -n exited %d:\n%s", rc, out != NULL ? out : "");
	free(out);
	return w;
}

/* Write text to file; 0, or -1 with errno. */
static int
put(const char *file, const char *text)
{
	FILE	*fp;
	int	 rv;

	if ((fp = fopen(file, "we")) == NULL)
		return -1;
	rv = fputs(text, fp) == EOF ? -1 : 0;
	if (fclose(fp) == EOF)
		rv = -1;
	return rv;
}

/* Remove the cgroups the test made, deepest first. */
static void
cleanup(void)
{
	while (nmade > 0) {
		nmade--;
		if (rmdir(made[nmade]) == -1)
			diag("cannot remove %s: %s", made[nmade],
			    strerror(errno));
		free(made[nmade]);
	}
}

/* Make cgroup directory path, to be removed at exit; 0 or -1. */
static int
make_cgroup(const char *path)
{
	if (mkdir(path, 0755) == -1)
		return -1;
	made[nmade++] = strdup(path);
	return 0;
}

/*
 * taskset -c 0: one CPU in the affinity mask, so one worker, with -n
 * and in a running master.
 */
static void
test_taskset(void)
{
	const char *const	 wrap[] = { "taskset", "-c", "0", NULL };
	const char		*argv[] = { "-w", "auto", "-l", "127.0.0.1:0",
				    "--", NULL, NULL };
	const char		*old = getenv("TL_DAEMON_WRAPPER");
	struct tl_daemon	 d;
	struct tl_json		*j;

	if (!tl_in_path("taskset")) {
		skip("taskset(1) is not installed (util-linux)");
		return;
	}
	is_int(1, auto_workers(wrap, "1 in the affinity mask"),
	    "taskset -c 0 drover -n -w auto: workers = 1, and the log "
	    "says why");
	/* The wrapper runs the master, which its workers' counts follow. */
	if (setenv("TL_DAEMON_WRAPPER", tl_fmt("taskset -c 0 %s",
	    old != NULL ? old : ""), 1) == -1)
		sysbail("setenv");
	argv[5] = tl_path("examples/hello-c/hello-c");
	j = tl_start(&d, argv, 1);
	is_int(1, (long long)tl_json_len(j, "slots"),
	    "taskset -c 0 drover -w auto: one slot in status.json");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, RUN_MS), "it stops with 0");
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");
}

/*
 * A real cgroup v1 cpu hierarchy: a parent with a quota of half a CPU
 * and, below it, the cgroup drover runs in, with none of its own: the
 * quota above counts, rounded up to 1.  Then 1.5 CPUs: 2 workers.
 */
static void
test_v1(void)
{
	const char	*mnt = NULL, *top, *inner, *old;
	const char	*cands[] = { "/sys/fs/cgroup/cpu",
			    "/sys/fs/cgroup/cpu,cpuacct", NULL };
	const char	*wrap[] = { incg, NULL, NULL };
	struct tl_daemon d;
	struct tl_json	*j;
	const char	*argv[] = { "-w", "auto", "--", "/bin/sleep", "600",
			    NULL };
	int		 i;

	for (i = 0; cands[i] != NULL && mnt == NULL; i++)
		if (access(tl_fmt("%s/cpu.cfs_quota_us", cands[i]), F_OK) ==
		    0)
			mnt = cands[i];
	if (mnt == NULL) {
		skip("no cgroup v1 cpu hierarchy mounted");
		return;
	}
	top = tl_fmt("%s/drover-test-%ld", mnt, (long)getpid());
	inner = tl_fmt("%s/inner", top);
	if (make_cgroup(top) == -1 || make_cgroup(inner) == -1 ||
	    put(tl_fmt("%s/cpu.cfs_period_us", top), "100000\n") == -1 ||
	    put(tl_fmt("%s/cpu.cfs_quota_us", top), "50000\n") == -1) {
		skip("cannot make a cgroup v1 with a CPU quota under %s: %s",
		    mnt, strerror(errno));
		return;
	}
	wrap[1] = inner;
	is_int(1, auto_workers(wrap, tl_fmt("by the CPU quota of %s", top)),
	    "cgroup v1, 0.5 CPU quota on the parent cgroup: workers = 1, "
	    "and the log names the cgroup");

	/*
	 * A running master, moved there the same way; a wrapper the caller
	 * set (valgrind, say) runs it inside ours.
	 */
	if ((old = getenv("TL_DAEMON_WRAPPER")) != NULL)
		old = tl_fmt("%s", old);
	if (setenv("TL_DAEMON_WRAPPER", tl_fmt("%s %s %s", incg, inner,
	    old != NULL ? old : ""), 1) == -1)
		sysbail("setenv");
	j = tl_start(&d, argv, 1);
	is_int(1, (long long)tl_json_len(j, "slots"),
	    "drover -w auto in it: one slot in status.json");
	tl_json_free(j);
	is_int(0, tl_daemon_stop(&d, RUN_MS), "it stops with 0");
	if (old != NULL)
		(void)setenv("TL_DAEMON_WRAPPER", old, 1);
	else
		(void)unsetenv("TL_DAEMON_WRAPPER");

	if (put(tl_fmt("%s/cpu.cfs_quota_us", top), "150000\n") == -1)
		sysbail("write the quota of %s", top);
	is_int(2, auto_workers(wrap, NULL),
	    "a quota of 1.5 CPUs rounds up: workers = 2");
	if (put(tl_fmt("%s/cpu.cfs_quota_us", inner), "50000\n") == -1)
		sysbail("write the quota of %s", inner);
	is_int(1, auto_workers(wrap, tl_fmt("by the CPU quota of %s",
	    inner)), "the smaller quota of the two cgroups counts: 1");
	cleanup();
}

/*
 * The cgroup v2 hierarchy's directory, where the test makes its cgroup:
 * the unified mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
 * hybrid system), or NULL.
 */
static const char *
v2_dir(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup";
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

/*
 * A real cgroup v2 with cpu.max "50000 100000" at the top of the
 * hierarchy, its cpu controller enabled there.
 */
static void
test_v2(void)
{
	const char	*mnt = v2_dir(), *cg, *ctl;
	const char	*wrap[] = { incg, NULL, NULL };

	if (mnt == NULL) {
		skip("no cgroup v2 hierarchy mounted");
		return;
	}
	ctl = tl_fmt("%s/cgroup.subtree_control", mnt);
	if (put(ctl, "+cpu\n") == -1) {
		skip("cannot enable the cgroup v2 cpu controller (writing +cpu "
		    "to %s: %s)", ctl, strerror(errno));
		return;
	}
	cg = tl_fmt("%s/drover-test-%ld", mnt, (long)getpid());
	if (make_cgroup(cg) == -1 ||
	    put(tl_fmt("%s/cpu.max", cg), "50000 100000\n") == -1) {
		skip("cannot make a cgroup v2 with cpu.max under %s: %s", mnt,
		    strerror(errno));
		cleanup();
		return;
	}
	wrap[1] = cg;
	is_int(1, auto_workers(wrap, tl_fmt("by the CPU quota of %s", cg)),
	    "cgroup v2, cpu.max 50000 100000: workers = 1");
	if (put(tl_fmt("%s/cpu.max", cg), "150000 100000\n") == -1)
		sysbail("write %s/cpu.max", cg);
	is_int(2, auto_workers(wrap, NULL),
	    "cpu.max 150000 100000 rounds up: workers = 2");
	cleanup();
}

/*
 * drover's reading of a cgroup v2 cpu.max, where no real one can be
 * made: in a private mount namespace (unshare(1)), a directory holding
 * a cpu.max is bind-mounted over drover's own cgroup v2 directory, which
 * drover finds as always, from /proc/self/cgroup and mountinfo.
 */
static void
test_v2_file(void)
{
	const char	*mnt = v2_dir(), *fake, *wrap[] = { "unshare",
			    "--mount", "--propagation", "private", "/bin/sh",
			    "-c", NULL, "sh", NULL };
	char		*self, *p;

	if (mnt == NULL || !tl_in_path("unshare")) {
		skip("no cgroup v2 hierarchy or no unshare(1)");
		return;
	}
	/* The test's own cgroup v2 path: the line "0::/PATH". */
	if ((self = tl_slurp("/proc/self/cgroup")) == NULL)
		sysbail("/proc/self/cgroup");
	if ((p = strstr(self, "0::")) == NULL || (p != self && p[-1] !=
	    '\n')) {
		skip("the test is in no cgroup v2");
		free(self);
		return;
	}
	p[3 + strcspn(p + 3, "\n")] = '\0';
	fake = tl_fmt("%s/fake-cgroup", dir);
	if (mkdir(fake, 0755) == -1 && errno != EEXIST)
		sysbail("mkdir %s", fake);
	wrap[6] = tl_fmt("mount --bind '%s' '%s%s' && exec \"$@\"", fake,
	    mnt, strcmp(p + 3, "/") == 0 ? "" : p + 3);
	free(self);

	if (tl_write_file(tl_fmt("%s/cpu.max", fake), "50000 100000\n") ==
	    -1)
		sysbail("write cpu.max");
	is_int(1, auto_workers(wrap, "by the CPU quota of"),
	    "a cgroup v2 cpu.max of 50000 100000 (bind-mounted): workers "
	    "= 1");
	if (tl_write_file(tl_fmt("%s/cpu.max", fake), "max 100000\n") == -1)
		sysbail("write cpu.max");
	is_int(ncpu > 1024 ? 1024 : ncpu, auto_workers(wrap, NULL),
	    "cpu.max \"max 100000\" sets no limit: workers = %ld", ncpu);
}

int
main(void)
{
	cpu_set_t	 set;

	plan_lazy();
	dir = tl_tmpdir();
	incg = tl_fmt("%s/incg.sh", dir);
	if (tl_write_file(incg, "#!/bin/sh\n# incg.sh CGROUP COMMAND...: "
	    "run COMMAND in CGROUP\necho $$ > \"$1/cgroup.procs\" || exit 111\n"
	    "shift\nexec \"$@\"\n") == -1 || chmod(incg, 0755) == -1)
		sysbail("write %s", incg);
	tap_atexit(cleanup);
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		sysbail("sched_getaffinity");
	ncpu = CPU_COUNT(&set);
	if (ncpu < 2)
		skip_all("the test runs on %ld CPU: a limit of 1 shows nothing",
		    ncpu);
	if (!CPU_ISSET(0, &set))
		skip_all("CPU 0 is not in the test's affinity mask");
	test_taskset();
	if (geteuid() != 0) {
		skip("cgroups: the test needs root to make them");
		return 0;
	}
	test_v1();
	test_v2();
	test_v2_file();
	return 0;
}
