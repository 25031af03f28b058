/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The slot transition table covers every transition the test suite
 * makes.  Every master the tests start appends each slot state change it
 * makes to t/transitions.txt (DROVER_DEBUG_TRANSITIONS, set by the test
 * library); this test runs after all the others (Makefile.am says so)
 * and checks that each of them is one the table allows, which is also
 * what slot_change() enforces by exiting 70.  It lists the allowed
 * transitions the suite never made, and checks a few that must never be
 * allowed.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover-master.h"
#include "tap.h"
#include "testlib.h"

static int	 state_of(const char *);

/* The state named name, or -1. */
static int
state_of(const char *name)
{
	int	 st;

	for (st = SLOT_EMPTY; st <= SLOT_RETIRING; st++)
		if (strcmp(name, slot_state_name(st)) == 0)
			return st;
	return -1;
}

int
main(void)
{
	static const int	 never[][2] = {
		{ SLOT_EMPTY, SLOT_HALTED }, { SLOT_EMPTY, SLOT_STOPPING },
		{ SLOT_BACKOFF, SLOT_HALTED }, { SLOT_FAILED, SLOT_HALTED },
		{ SLOT_HALTED, SLOT_STOPPING }, { SLOT_RETIRING, SLOT_HALTED },
		{ SLOT_RETIRING, SLOT_BACKOFF }, { SLOT_RETIRING, SLOT_FAILED }
	};
	char		*text, *line, *last, from[32], to[32];
	int		 seen[8][8], n = 0, bad = 0, f, t, unseen = 0;
	size_t		 i;

	plan_lazy();
	memset(seen, 0, sizeof(seen));
	if ((text = tl_slurp(tl_path("t/transitions.txt"))) == NULL)
		bail("no t/transitions.txt: run the whole suite (make check)");
	for (line = strtok_r(text, "\n", &last); line != NULL;
	    line = strtok_r(NULL, "\n", &last)) {
		if (sscanf(line, "%31s %31s", from, to) != 2 ||
		    (f = state_of(from)) == -1 || (t = state_of(to)) == -1) {
			diag("unreadable line: %s", line);
			bad++;
			continue;
		}
		n++;
		if (!seen[f][t] && !slot_legal(f, t)) {
			diag("made but not in the table: %s -> %s", from, to);
			bad++;
		}
		seen[f][t]++;
	}
	free(text);
	ok(n > 100, "the suite made %d slot transitions", n);
	is_int(0, bad, "every transition the suite made is in the table");
	for (f = SLOT_EMPTY; f <= SLOT_RETIRING; f++)
		for (t = SLOT_EMPTY; t <= SLOT_RETIRING; t++)
			if (f != t && slot_legal(f, t) && !seen[f][t]) {
				diag("allowed, never made by the suite: "
				    "%s -> %s", slot_state_name(f),
				    slot_state_name(t));
				unseen++;
			}
	diag("%d allowed transitions the suite never made", unseen);
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		ok(!slot_legal(never[i][0], never[i][1]), "never %s -> %s",
		    slot_state_name(never[i][0]), slot_state_name(never[i][1]));
	return 0;
}
