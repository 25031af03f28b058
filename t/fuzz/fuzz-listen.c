/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A listen address (listen_parse(): an optional NAME=, then HOST:PORT,
 * :PORT, [V6]:PORT or unix:/PATH), as the configuration and -l give it.
 * Nothing is opened: a parsed listener has no sockets yet.
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
	struct listener	 l;
	const char	*e;
	char		*s;

	fuzz_quiet();
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&l, 0, sizeof(l));
	if (listen_parse(s, (int)(size % 64), &l, &e) == 0)
		listen_close(&l);
	free(s);
	return 0;
}
