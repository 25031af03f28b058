/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Allocation that cannot fail: the master's memory is a few kilobytes
 * per slot, allocated when slots, workers and configurations come and
 * go, never per connection; running out of it is not something the
 * master can serve through, so it logs and exits (EXIT_OSERR), and
 * callers need no check of their own.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size)) == NULL)
		fatal(EXIT_OSERR, "malloc");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL)
		fatal(EXIT_OSERR, "calloc");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if ((p = reallocarray(p, n, size)) == NULL)
		fatal(EXIT_OSERR, "reallocarray");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		fatal(EXIT_OSERR, "strdup");
	return d;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*d;

	if ((d = strndup(s, n)) == NULL)
		fatal(EXIT_OSERR, "strndup");
	return d;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal(EXIT_OSERR, "asprintf");
	return n;
}
