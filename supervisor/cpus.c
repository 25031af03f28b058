/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * How many CPUs drover may use, for workers = auto.  The online count
 * of the machine is not it: taskset(1), a cpuset or a container runtime
 * narrows the affinity mask, and a container's CPU limit is a quota of
 * its cgroup, which leaves every CPU visible.  So the answer is the
 * smallest of the CPUs in the affinity mask and the quota of drover's
 * own cgroup and of each of its ancestors (a limit anywhere on the path
 * caps everything below it), cgroup v2 cpu.max ("150000 100000") or v1
 * cpu.cfs_quota_us over cpu.cfs_period_us, rounded up (1.5 CPUs are 2
 * workers) and at least 1.  The cgroup files are found the way the
 * kernel names them: drover's cgroup from /proc/self/cgroup, where its
 * hierarchy is mounted from /proc/self/mountinfo.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"

/* The largest CPU set asked for, in CPUs: sched_getaffinity's EINVAL. */
#define CPUS_MAX_SET	(1 << 20)
/* How many cgroups up the path are looked at, at most. */
#define CPUS_MAX_DEPTH	64

static long	 cpus_affinity(void);
static long	 cpus_cgroup(int, char *, size_t);
static int	 cpus_where(int, char *, size_t);
static int	 cpus_mount(int, const char *, char *, size_t);
static void	 cpus_unescape(char *);
static long	 cpus_quota(int, const char *);
static int	 cpus_read(const char *, const char *, char *, size_t);

/*
 * The number of workers that workers = auto stands for, from 1 to
 * DROVER_MAX_WORKERS.  When it is less than the online CPUs, say why.
 */
int
cpus_usable(void)
{
	long	 online, aff, v1, v2, q, n;
	char	 d1[PATH_MAX] = "", d2[PATH_MAX] = "";
	char	 quota[PATH_MAX + 64] = "";

	online = sysconf(_SC_NPROCESSORS_ONLN);
	aff = cpus_affinity();
	v2 = cpus_cgroup(2, d2, sizeof(d2));
	v1 = cpus_cgroup(1, d1, sizeof(d1));
	/* The cpu controller is in one hierarchy only: one quota at most. */
	q = v2 > 0 ? v2 : v1;
	n = online;
	if (aff > 0 && (n < 1 || aff < n))
		n = aff;
	if (q > 0 && (n < 1 || q < n))
		n = q;
	if (n < 1)
		n = 1;
	if (n > DROVER_MAX_WORKERS)
		n = DROVER_MAX_WORKERS;
	if (q > 0)
		(void)snprintf(quota, sizeof(quota), ", %ld by the CPU "
		    "quota of %s", q, v2 > 0 ? d2 : d1);
	if (n < online)
		log_info("workers = auto: %ld (%ld CPUs online, %ld in the "
		    "affinity mask%s)", n, online, aff, quota);
	return (int)n;
}

/* The CPUs in drover's affinity mask, however many the machine has. */
static long
cpus_affinity(void)
{
	cpu_set_t	*set;
	size_t		 size;
	long		 n;

	for (n = 1024; n <= CPUS_MAX_SET; n *= 2) {
		if ((set = CPU_ALLOC(n)) == NULL)
			return -1;
		size = CPU_ALLOC_SIZE(n);
		if (sched_getaffinity(0, size, set) == 0) {
			n = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return n;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			return -1;
	}
	return -1;
}

/*
 * The CPUs the quota of drover's cgroup in hierarchy version v (1 or 2)
 * allows, the smallest quota along its path up to the hierarchy's root,
 * or -1 if none limits it.  The directory of the smallest goes to dir.
 */
static long
cpus_cgroup(int v, char *dir, size_t len)
{
	char	 path[PATH_MAX], *slash;
	size_t	 top;
	long	 q, n = -1;
	int	 depth;

	if ((top = cpus_where(v, path, sizeof(path))) == 0)
		return -1;
	for (depth = 0; depth < CPUS_MAX_DEPTH; depth++) {
		if ((q = cpus_quota(v, path)) > 0 && (n < 0 || q < n)) {
			n = q;
			strlcpy(dir, path, len);
		}
		if (strlen(path) <= top ||
		    (slash = strrchr(path, '/')) == NULL ||
		    (size_t)(slash - path) < top)
			break;
		*slash = '\0';
	}
	return n;
}

/*
 * The directory of drover's cgroup in hierarchy version v (for v1, the
 * one with the cpu controller), in path.  Returns the length of the
 * hierarchy's mount point at its start, where going up stops, or 0 if
 * there is no such hierarchy.
 */
static int
cpus_where(int v, char *path, size_t len)
{
	FILE	*fp;
	char	 line[PATH_MAX + 64], *ctl, *cg, *p;
	int	 top = 0;

	if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	while (top == 0 && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* hierarchy-ID:controller-list:cgroup-path */
		if ((ctl = strchr(line, ':')) == NULL ||
		    (cg = strchr(++ctl, ':')) == NULL)
			continue;
		*cg++ = '\0';
		if (v == 2 && (strncmp(line, "0:", 2) != 0 || *ctl != '\0'))
			continue;
		if (v == 1) {
			for (p = strtok(ctl, ","); p != NULL &&
			    strcmp(p, "cpu") != 0; p = strtok(NULL, ","))
				;
			if (p == NULL)
				continue;
		}
		top = cpus_mount(v, cg, path, len);
	}
	fclose(fp);
	return top;
}

/*
 * Where cgroup cg of hierarchy version v is: the mount point of that
 * hierarchy (cgroup2, or cgroup with the cpu option) joined to cg less
 * the mount's root (a container sees its own cgroup as a mount's root).
 * Returns the mount point's length, or 0.
 */
static int
cpus_mount(int v, const char *cg, char *path, size_t len)
{
	FILE	*fp;
	char	*line = NULL, root[PATH_MAX], mnt[PATH_MAX], *sep;
	char	 type[32], opts[256], *p;
	size_t	 sz = 0, rlen;
	int	 top = 0;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return 0;
	while (top == 0 && getline(&line, &sz, fp) != -1) {
		/* id parent dev root mountpoint opts [tags] - type src sopts */
		if ((sep = strstr(line, " - ")) == NULL ||
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(sep + 3, "%31s %*s %255s", type, opts) != 2)
			continue;
		if (strcmp(type, v == 2 ? "cgroup2" : "cgroup") != 0)
			continue;
		if (v == 1) {
			for (p = strtok(opts, ","); p != NULL &&
			    strcmp(p, "cpu") != 0; p = strtok(NULL, ","))
				;
			if (p == NULL)
				continue;
		}
		cpus_unescape(root);
		cpus_unescape(mnt);
		rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
		/* Not below the mount's root: only the root is ours to see. */
		if (strncmp(cg, root, rlen) != 0 ||
		    (cg[rlen] != '/' && cg[rlen] != '\0'))
			cg = "";
		else
			cg += rlen;
		if ((size_t)snprintf(path, len, "%s%s", mnt,
		    strcmp(cg, "/") == 0 ? "" : cg) < len)
			top = (int)strlen(mnt);
	}
	free(line);
	fclose(fp);
	return top;
}

/* Undo mountinfo's octal escapes (\040 for a blank), in place. */
static void
cpus_unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*d = *s;
	}
	*d = '\0';
}

/*
 * The CPUs the quota of cgroup directory dir allows, rounded up, or -1
 * for none: v2 cpu.max "QUOTA PERIOD" ("max PERIOD": no limit), v1
 * cpu.cfs_quota_us (-1: no limit) over cpu.cfs_period_us.
 */
static long
cpus_quota(int v, const char *dir)
{
	char		 buf[64], *end;
	long long	 quota, period;

	if (v == 2) {
		if (cpus_read(dir, "cpu.max", buf, sizeof(buf)) == -1 ||
		    strncmp(buf, "max", 3) == 0)
			return -1;
		quota = strtoll(buf, &end, 10);
		period = strtoll(end, &end, 10);
	} else {
		if (cpus_read(dir, "cpu.cfs_quota_us", buf, sizeof(buf)) == -1)
			return -1;
		quota = strtoll(buf, NULL, 10);
		if (cpus_read(dir, "cpu.cfs_period_us", buf, sizeof(buf)) == -1)
			return -1;
		period = strtoll(buf, NULL, 10);
	}
	if (quota <= 0 || period <= 0)
		return -1;
	quota = (quota + period - 1) / period;
	return quota > LONG_MAX ? LONG_MAX : (long)quota;
}

/* Read the first line of dir/name into buf; -1 if there is none. */
static int
cpus_read(const char *dir, const char *name, char *buf, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*fp;
	char	*p;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) || (fp = fopen(path, "re")) == NULL)
		return -1;
	p = fgets(buf, (int)len, fp);
	fclose(fp);
	return p == NULL ? -1 : 0;
}
