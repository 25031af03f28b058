/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The states of a slot, their names as status.json spells them, and the
 * table of the transitions between them that slot_change() (slot.c)
 * allows.  It stands alone, so that the test of the table (t/transitions)
 * links it as it is.
 */

#include "config.h"

#include <sys/types.h>

#include "drover-master.h"

static const char *const slot_names[] = {
	[SLOT_EMPTY] = "empty",
	[SLOT_STARTING] = "starting",
	[SLOT_READY] = "ready",
	[SLOT_STOPPING] = "stopping",
	[SLOT_BACKOFF] = "backoff",
	[SLOT_FAILED] = "failed",
	[SLOT_HALTED] = "halted",
	[SLOT_RETIRING] = "retiring"
};

#define T(s)	(1u << (s))
/*
 * The transition table: slot_trans[from] has the bit of every state the
 * slot may go to from there.  Staying in a state is always allowed (a
 * worker swapped, asked to stop or gone).
 */
static const unsigned int slot_trans[] = {
	[SLOT_EMPTY] = T(SLOT_STARTING) | T(SLOT_BACKOFF) | T(SLOT_FAILED) |
	    T(SLOT_READY) | T(SLOT_RETIRING),
	[SLOT_STARTING] = T(SLOT_READY) | T(SLOT_STOPPING) | T(SLOT_BACKOFF) |
	    T(SLOT_FAILED) | T(SLOT_HALTED) | T(SLOT_EMPTY) | T(SLOT_RETIRING),
	[SLOT_READY] = T(SLOT_STARTING) | T(SLOT_STOPPING) | T(SLOT_BACKOFF) |
	    T(SLOT_FAILED) | T(SLOT_HALTED) | T(SLOT_EMPTY) | T(SLOT_RETIRING),
	[SLOT_STOPPING] = T(SLOT_EMPTY) | T(SLOT_STARTING) | T(SLOT_BACKOFF) |
	    T(SLOT_FAILED) | T(SLOT_HALTED) | T(SLOT_READY) |
	    T(SLOT_RETIRING),
	[SLOT_BACKOFF] = T(SLOT_STARTING) | T(SLOT_FAILED) | T(SLOT_EMPTY) |
	    T(SLOT_READY) | T(SLOT_RETIRING),
	[SLOT_FAILED] = T(SLOT_STARTING) | T(SLOT_BACKOFF) | T(SLOT_EMPTY) |
	    T(SLOT_READY) | T(SLOT_RETIRING),
	[SLOT_HALTED] = T(SLOT_STARTING) | T(SLOT_BACKOFF) | T(SLOT_EMPTY) |
	    T(SLOT_READY) | T(SLOT_RETIRING),
	[SLOT_RETIRING] = T(SLOT_EMPTY) | T(SLOT_STARTING) | T(SLOT_READY) |
	    T(SLOT_STOPPING)
};
#undef T

const char *
slot_state_name(enum slot_state st)
{
	return slot_names[st];
}

/* Whether the table allows a slot to go from one state to another. */
int
slot_legal(enum slot_state from, enum slot_state to)
{
	return from == to || (slot_trans[from] & (1u << to)) != 0;
}

