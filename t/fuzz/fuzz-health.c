/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A request to the health endpoint (health_request()), arriving in the
 * pieces read(2) may return it in, into the connection's buffer of
 * HEALTH_MAXREQ bytes, as health.c reads it: each piece appended, the
 * request asked about after each, until it is whole or too large.  The
 * first byte of the input sets the size of the pieces.
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
	char		 req[HEALTH_MAXREQ + 1];
	size_t		 len = 0, off, piece, take;
	enum health_req	 what = HREQ_MORE;

	fuzz_quiet();
	if (size < 1)
		return 0;
	piece = 1 + data[0] * 16;
	for (off = 1; off < size && what == HREQ_MORE; off += take) {
		take = size - off < piece ? size - off : piece;
		if (take > HEALTH_MAXREQ - len)
			take = HEALTH_MAXREQ - len;
		memcpy(req + len, data + off, take);
		len += take;
		req[len] = '\0';
		what = health_request(req, len);
	}
	if (what == HREQ_MORE && len == HEALTH_MAXREQ)
		abort();	/* a full buffer must be answered */
	return 0;
}
