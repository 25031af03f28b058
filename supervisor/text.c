/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * Text that comes from outside the master (what a worker writes on its
 * notify channels or its output pipe, a configuration value) is data,
 * and has two ways out, each with one function here.  text_log() makes
 * it fit for one line of the master's log: a worker must not be able to
 * move the cursor, clear the screen, overwrite the line's prefix with a
 * carriage return or start a line of its own that looks like the
 * master's.  text_json() makes it a JSON string that a strict reader
 * accepts: status.json and the health endpoint's /status are always
 * valid UTF-8.  Both keep valid UTF-8 as it is, except controls.
 */

#include "config.h"

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "shared.h"

static size_t	 text_utf8(const unsigned char *, size_t);

/*
 * The length of the well-formed UTF-8 sequence (RFC 3629) at p, of at
 * most len bytes, or 0 if there is none: a stray continuation byte, an
 * overlong form, a surrogate, a code point above U+10FFFF or a sequence
 * cut short.
 */
static size_t
text_utf8(const unsigned char *p, size_t len)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (p[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;		/* above U+10FFFF */
	if (len < n)
		return 0;
	/* The bounds above are for the second byte only. */
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (p[i] < lo || p[i] > hi)
			return 0;
	return n;
}

/*
 * Write len bytes of src (NULs included) into dst, of size dstsz > 0,
 * fit for a log line, and NUL-terminate it; return the length written.
 * Control characters other than tab (C0, DEL, and C1 as U+0080 to
 * U+009F) and bytes that are not well-formed UTF-8 are written as \xNN,
 * one per byte; the rest, backslashes included (as syslogd's VIS_NOSLASH
 * does, so that a worker's JSON log lines stay as they were), as it is.
 * What does not fit is left out, never half an escape or a sequence.
 */
size_t
text_log(char *dst, size_t dstsz, const char *src, size_t len)
{
	const unsigned char	*p = (const unsigned char *)src;
	size_t			 o = 0, n, i, need;

	while (len > 0) {
		n = text_utf8(p, len);
		if (n == 1 && (*p >= 0x20 || *p == '\t') && *p != 0x7f)
			need = 1;
		else if (n > 1 && !(n == 2 && p[0] == 0xc2 && p[1] < 0xa0))
			need = n;
		else {
			n = n == 0 ? 1 : n;
			need = 4 * n;
		}
		if (o + need >= dstsz)
			break;
		if (need == n)
			memcpy(dst + o, p, n);
		else
			for (i = 0; i < n; i++)
				(void)snprintf(dst + o + 4 * i, 5, "\\x%02x",
				    p[i]);
		o += need;
		p += n;
		len -= n;
	}
	dst[o] = '\0';
	return o;
}

/*
 * Write len bytes of s as a JSON string: quotes and backslashes escaped,
 * control characters (C0, DEL and C1) as \u00XX, every byte that is not
 * well-formed UTF-8 as U+FFFD, the replacement character.
 */
void
text_json(FILE *fp, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	fputc('"', fp);
	for (; len > 0; p += n, len -= n) {
		if ((n = text_utf8(p, len)) == 0) {
			fputs("\xef\xbf\xbd", fp);
			n = 1;
		} else if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			fprintf(fp, "\\u%04x", p[1]);
		else
			fwrite(p, 1, n, fp);
	}
	fputc('"', fp);
}
