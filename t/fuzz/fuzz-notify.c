/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The notify messages of a worker, on both channels (notify.c): a
 * datagram of KEY=VALUE lines (notify_message), or the stream channel's
 * bytes in the pieces read(2) may return them in, assembled into lines
 * (notify_stream_feed).  The first byte of the input chooses the channel,
 * the size of the pieces, the slot's state and the ready mode, so that
 * READY=1, STOPPING=1 and RELOADING=1 reach the slot's engine too.
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
	static const enum slot_state	 states[] = { SLOT_STARTING,
					    SLOT_READY, SLOT_STOPPING,
					    SLOT_RETIRING };
	static struct config	*conf;
	struct slot		 s, *slots[1] = { &s };
	struct worker		*w;
	char			*buf;
	size_t			 off, piece;
	unsigned int		 how;

	fuzz_quiet();
	if (size < 1 || size > 8 * NOTIFY_MAX)
		return 0;
	if (conf == NULL)
		conf = config_new();
	how = data[0];
	conf->c_ready = (how & 2) ? READY_NOTIFY : READY_EXEC;
	memset(&s, 0, sizeof(s));
	s.s_state = states[(how >> 2) & 3];
	master.m_slots = slots;		/* the engine walks them */
	master.m_nslots = 1;
	w = SLOT_CUR(&s);
	w->w_slot = &s;
	w->w_conf = conf;
	w->w_execfd = w->w_nfd = w->w_sfd = -1;
	w->w_closing = (how & 16) != 0;
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (how & 1) {
		if (size - 1 <= NOTIFY_MAX)
			notify_message(w, buf, size - 1);
	} else {
		piece = 1 + (how >> 5) * (NOTIFY_MAX / 8);
		for (off = 0; off < size - 1; off += piece)
			notify_stream_feed(w, buf + off, size - 1 - off <
			    piece ? size - 1 - off : piece);
	}
	free(w->w_line);
	free(buf);
	ev_timer_stop(EV_DEFAULT, &s.s_timer);
	master.m_slots = NULL;
	master.m_nslots = 0;
	return 0;
}
