/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The pieces of the configuration that droverctl(8) needs as well as the
 * master: the default state directory, so that both find the same one
 * from the same configuration file name and environment, and durations,
 * so that droverctl's --timeout reads like every duration of
 * drover.conf(5).  Nothing here allocates, logs or exits.
 */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared.h"

static void	 config_instance(const char *, char *, size_t);

/*
 * Parse a duration: a decimal number followed by "ms", "s", "m" or "h",
 * or no unit for seconds.  Returns 0 and the seconds in *d, or -1.
 */
int
config_duration(const char *s, double *d)
{
	char	*end;
	double	 v, mult = 1;

	/* Plain decimals only: strtod would take "nan", hex and exponents. */
	if (!isdigit((unsigned char)*s) || strspn(s, "0123456789.") == 0 ||
	    strchr(s, 'e') != NULL || strchr(s, 'x') != NULL ||
	    strchr(s, 'E') != NULL || strchr(s, 'X') != NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "ms") == 0)
		mult = 0.001;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else
		return -1;
	v *= mult;
	if (v > 86400 * 365)
		return -1;
	*d = v;
	return 0;
}

/*
 * The instance name of a configuration file, into name: its base name
 * without ".conf", or "" for none, for "drover.conf" or for a name that
 * is not [A-Za-z0-9_.-]+ (never a path) or does not fit.
 */
static void
config_instance(const char *file, char *name, size_t size)
{
	const char	*base;
	size_t		 len;

	*name = '\0';
	if (file == NULL)
		return;
	base = (base = strrchr(file, '/')) != NULL ? base + 1 : file;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		len -= 5;
	if (len >= size || *base == '.' || strspn(base,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") < len)
		return;
	memcpy(name, base, len);
	name[len] = '\0';
	if (strcmp(name, "drover") == 0)
		*name = '\0';
}

/*
 * The default state directory, for a configuration that sets none, into
 * dir: an instance of its own per configuration file, NAME.conf getting
 * .../drover/NAME (but drover.conf just .../drover), so that masters
 * started from different files never meet in one state directory.
 * Returns -1 when there is no place for it (or it does not fit).
 */
int
config_default_state_dir(const char *file, char *dir, size_t size)
{
	const char	*env;
	char		 inst[NAME_MAX + 1];
	const char	*sep;
	int		 n;

	config_instance(file, inst, sizeof(inst));
	sep = *inst != '\0' ? "/" : "";
	if ((env = getenv("RUNTIME_DIRECTORY")) != NULL && *env == '/' &&
	    strchr(env, ':') == NULL)
		n = snprintf(dir, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(dir, size, "/run/drover%s%s", sep, inst);
	else if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env == '/')
		n = snprintf(dir, size, "%s/drover%s%s", env, sep, inst);
	else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
