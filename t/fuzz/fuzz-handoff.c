/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The state an upgrade hands over (handoff.c), as drover -n reads it
 * from the memfd DROVER_UPGRADE names before the running master
 * executes this binary (handoff_verify): every line kind, every count,
 * and the configuration handed over key by key.  Nothing is taken over.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_quiet();
	/* handoff_verify() closes the memfd; its "ok" on stdout is noise. */
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	(void)handoff_verify(fuzz_memfd(data, size));
	memset(&master, 0, sizeof(master));
	return 0;
}
