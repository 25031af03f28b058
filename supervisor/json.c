/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2025 The drover authors
 *
 * The JSON reader of droverctl(8) and of the tests, enough to read the
 * master's status.json: a recursive-descent reader of RFC 8259 text (objects,
 * arrays, strings with every escape including \u surrogate pairs, numbers,
 * true, false, null) that builds a tree of struct json, plus lookups by
 * dot path.  Anything the grammar does not allow, trailing garbage and
 * nesting deeper than JP_MAXDEPTH included, makes the parse fail.  Bytes of
 * strings are not checked for valid UTF-8.
 */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JP_MAXDEPTH	128

struct jp {
	const char	*jp_p;		/* next unread character */
	int		 jp_depth;
};

static struct json	*jp_new(enum json_type);
static void		 jp_ws(struct jp *);
static struct json	*jp_value(struct jp *);
static struct json	*jp_container(struct jp *, int);
static char		*jp_string(struct jp *, size_t *);
static struct json	*jp_number(struct jp *);
static int		 jp_hex4(const char *, unsigned int *);
static size_t		 jp_utf8(char *, unsigned int);
static int		 jp_push(struct json *, char *, struct json *);
static int		 jp_literal(struct jp *, const char *);

static struct json *
jp_new(enum json_type type)
{
	struct json	*j;

	if ((j = calloc(1, sizeof(*j))) != NULL)
		j->j_type = type;
	return j;
}

static void
jp_ws(struct jp *jp)
{
	while (*jp->jp_p == ' ' || *jp->jp_p == '\t' || *jp->jp_p == '\n' ||
	    *jp->jp_p == '\r')
		jp->jp_p++;
}

/* Consume the literal word if it is next; 1 if it was. */
static int
jp_literal(struct jp *jp, const char *word)
{
	size_t	 len = strlen(word);

	if (strncmp(jp->jp_p, word, len) != 0)
		return 0;
	jp->jp_p += len;
	return 1;
}

/*
 * Parse one value at the cursor, after optional white space, and leave the
 * cursor after it.  NULL on a syntax error or out of memory.
 */
static struct json *
jp_value(struct jp *jp)
{
	struct json	*j = NULL;

	jp_ws(jp);
	switch (*jp->jp_p) {
	case '{':
		return jp_container(jp, JSON_OBJECT);
	case '[':
		return jp_container(jp, JSON_ARRAY);
	case '"':
		if ((j = jp_new(JSON_STRING)) == NULL)
			return NULL;
		if ((j->j_str = jp_string(jp, &j->j_len)) == NULL) {
			free(j);
			return NULL;
		}
		return j;
	case 't':
	case 'f':
		if (jp_literal(jp, "true")) {
			if ((j = jp_new(JSON_BOOL)) != NULL)
				j->j_bool = 1;
		} else if (jp_literal(jp, "false"))
			j = jp_new(JSON_BOOL);
		return j;
	case 'n':
		if (jp_literal(jp, "null"))
			j = jp_new(JSON_NULL);
		return j;
	default:
		return jp_number(jp);
	}
}

/* Append a member (key may be NULL for arrays); 0 or -1. */
static int
jp_push(struct json *j, char *key, struct json *val)
{
	struct json	**vals;
	char		**keys;

	vals = reallocarray(j->j_vals, j->j_n + 1, sizeof(*vals));
	if (vals == NULL)
		return -1;
	j->j_vals = vals;
	if (j->j_type == JSON_OBJECT) {
		keys = reallocarray(j->j_keys, j->j_n + 1, sizeof(*keys));
		if (keys == NULL)
			return -1;
		j->j_keys = keys;
		keys[j->j_n] = key;
	}
	vals[j->j_n++] = val;
	return 0;
}

/*
 * Parse an object or an array (type); the cursor is on its '{' or '['.
 * The two differ only in the key before each member of an object.
 */
static struct json *
jp_container(struct jp *jp, int type)
{
	struct json	*j, *val;
	char		*key = NULL, close = type == JSON_OBJECT ? '}' : ']';
	size_t		 len;

	if (++jp->jp_depth > JP_MAXDEPTH)
		return NULL;
	if ((j = jp_new(type)) == NULL)
		return NULL;
	jp->jp_p++;
	jp_ws(jp);
	if (*jp->jp_p == close) {
		jp->jp_p++;
		jp->jp_depth--;
		return j;
	}
	for (;;) {
		jp_ws(jp);
		if (type == JSON_OBJECT) {
			if (*jp->jp_p != '"' ||
			    (key = jp_string(jp, &len)) == NULL)
				goto fail;
			jp_ws(jp);
			if (*jp->jp_p++ != ':')
				goto fail;
		}
		if ((val = jp_value(jp)) == NULL)
			goto fail;
		if (jp_push(j, key, val) == -1) {
			json_free(val);
			goto fail;
		}
		key = NULL;
		jp_ws(jp);
		if (*jp->jp_p == close)
			break;
		if (*jp->jp_p++ != ',')
			goto fail;
	}
	jp->jp_p++;
	jp->jp_depth--;
	return j;
 fail:
	free(key);
	json_free(j);
	return NULL;
}

/* Four hex digits to a code unit; 0 or -1. */
static int
jp_hex4(const char *s, unsigned int *out)
{
	unsigned int	 v = 0;
	int		 i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= (unsigned int)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= (unsigned int)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= (unsigned int)(s[i] - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Encode a code point as UTF-8 into buf; returns the byte count. */
static size_t
jp_utf8(char *buf, unsigned int cp)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Parse a string; the cursor is on its opening quote.  Returns the decoded
 * text (malloc'd, NUL-terminated, its byte length in *lenp) or NULL.  The
 * decoded form is never longer than the quoted one, which sizes the buffer.
 */
static char *
jp_string(struct jp *jp, size_t *lenp)
{
	const char	*s = jp->jp_p + 1, *q;
	char		*out, *o;
	unsigned int	 cp, lo;

	for (q = s; *q != '"'; q++) {
		if (*q == '\0')
			return NULL;
		if (*q == '\\' && *++q == '\0')
			return NULL;
	}
	if ((out = malloc((size_t)(q - s) + 1)) == NULL)
		return NULL;
	for (o = out; s < q; ) {
		if ((unsigned char)*s < 0x20)
			goto fail;
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s++) {
		case '"':	*o++ = '"';	break;
		case '\\':	*o++ = '\\';	break;
		case '/':	*o++ = '/';	break;
		case 'b':	*o++ = '\b';	break;
		case 'f':	*o++ = '\f';	break;
		case 'n':	*o++ = '\n';	break;
		case 'r':	*o++ = '\r';	break;
		case 't':	*o++ = '\t';	break;
		case 'u':
			if (q - s < 4 || jp_hex4(s, &cp) == -1)
				goto fail;
			s += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto fail;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - s < 6 || s[0] != '\\' || s[1] != 'u' ||
				    jp_hex4(s + 2, &lo) == -1 ||
				    lo < 0xdc00 || lo > 0xdfff)
					goto fail;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			o += jp_utf8(o, cp);
			break;
		default:
			goto fail;
		}
	}
	*o = '\0';
	*lenp = (size_t)(o - out);
	jp->jp_p = q + 1;
	return out;
 fail:
	free(out);
	return NULL;
}

/*
 * Parse a number in the strict JSON grammar.  An integer that fits in a
 * long long is kept exactly as well.
 */
static struct json *
jp_number(struct jp *jp)
{
	const char	*p = jp->jp_p;
	struct json	*j;
	char		*text;
	int		 isint = 1;
	long long	 v;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		isint = 0;
		if (*++p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		isint = 0;
		if (*++p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((text = strndup(jp->jp_p, (size_t)(p - jp->jp_p))) == NULL)
		return NULL;
	if ((j = jp_new(JSON_NUMBER)) == NULL) {
		free(text);
		return NULL;
	}
	j->j_num = strtod(text, NULL);
	if (isint) {
		errno = 0;
		v = strtoll(text, NULL, 10);
		if (errno == ERANGE)
			isint = 0;
		else
			j->j_int = v;
	}
	if (!isint) {
		if (j->j_num >= -9.2e18 && j->j_num <= 9.2e18)
			j->j_int = (long long)j->j_num;
		else
			j->j_int = j->j_num < 0 ? LLONG_MIN : LLONG_MAX;
	}
	j->j_isint = isint;
	free(text);
	jp->jp_p = p;
	return j;
}

struct json *
json_parse(const char *text)
{
	struct jp	 jp;
	struct json	*j;

	if (text == NULL) {
		errno = EINVAL;
		return NULL;
	}
	jp.jp_p = text;
	jp.jp_depth = 0;
	if ((j = jp_value(&jp)) == NULL) {
		errno = EINVAL;
		return NULL;
	}
	jp_ws(&jp);
	if (*jp.jp_p != '\0') {
		json_free(j);
		errno = EINVAL;
		return NULL;
	}
	return j;
}

void
json_free(struct json *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	for (i = 0; i < j->j_n; i++) {
		if (j->j_keys != NULL)
			free(j->j_keys[i]);
		json_free(j->j_vals[i]);
	}
	free(j->j_keys);
	free(j->j_vals);
	free(j->j_str);
	free(j);
}

/*
 * Follow a dot path: in an object a component is a member name (the first
 * member of that name), in an array a decimal index.
 */
const struct json *
json_get(const struct json *j, const char *path)
{
	const char	*c, *end;
	size_t		 len, i, idx;

	if (path == NULL)
		return j;
	for (c = path; j != NULL && *c != '\0'; c = *end ? end + 1 : end) {
		if ((end = strchr(c, '.')) == NULL)
			end = c + strlen(c);
		len = (size_t)(end - c);
		if (j->j_type == JSON_OBJECT) {
			for (i = 0; i < j->j_n; i++)
				if (strncmp(j->j_keys[i], c, len) == 0 &&
				    j->j_keys[i][len] == '\0')
					break;
		} else if (j->j_type == JSON_ARRAY) {
			if (len == 0 || len > 9)
				return NULL;
			for (idx = 0, i = 0; i < len; i++) {
				if (c[i] < '0' || c[i] > '9')
					return NULL;
				idx = idx * 10 + (size_t)(c[i] - '0');
			}
			i = idx;
		} else
			return NULL;
		j = i < j->j_n ? j->j_vals[i] : NULL;
		if (*end == '.' && end[1] == '\0')
			return NULL;
	}
	return j;
}

long long
json_int(const struct json *j, const char *path, long long dflt)
{
	j = json_get(j, path);
	if (j == NULL || j->j_type != JSON_NUMBER)
		return dflt;
	return j->j_int;
}

double
json_num(const struct json *j, const char *path, double dflt)
{
	j = json_get(j, path);
	if (j == NULL || j->j_type != JSON_NUMBER)
		return dflt;
	return j->j_num;
}

const char *
json_str(const struct json *j, const char *path)
{
	j = json_get(j, path);
	if (j == NULL || j->j_type != JSON_STRING)
		return NULL;
	return j->j_str;
}

int
json_is_null(const struct json *j, const char *path)
{
	j = json_get(j, path);
	return j != NULL && j->j_type == JSON_NULL;
}

int
json_bool(const struct json *j, const char *path)
{
	j = json_get(j, path);
	if (j == NULL || j->j_type != JSON_BOOL)
		return -1;
	return j->j_bool;
}

size_t
json_len(const struct json *j, const char *path)
{
	j = json_get(j, path);
	if (j == NULL ||
	    (j->j_type != JSON_ARRAY && j->j_type != JSON_OBJECT))
		return 0;
	return j->j_n;
}
