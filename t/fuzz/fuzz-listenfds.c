/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Socket activation's variables (activate_parse()): LISTEN_FDS and
 * LISTEN_FDNAMES as a service manager, or anyone who starts drover, may
 * set them.  The input is the two values, separated by the first NUL.
 */

#include "config.h"

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "drover-master.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*e, *names = NULL;
	char		*s, **v;
	size_t		 len;
	int		 n, i;

	fuzz_quiet();
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((len = strlen(s)) < size)
		names = s + len + 1;
	if ((n = activate_parse(s, names, &v, &e)) != -1) {
		if (n < 1 || n > DROVER_MAX_LISTEN)
			abort();
		for (i = 0; i < n; i++)
			free(v[i]);
		free(v);
	}
	free(s);
	return 0;
}
