/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A small JSON reader for droverctl(8), enough for status.json as the
 * master writes it (status.c): objects, arrays, strings with their
 * escapes, numbers, true, false and null, into a tree, and lookups by
 * dot path ("reload.covers", "slots.0.pid").  A \u escape outside ASCII
 * (or of NUL) becomes "?": droverctl shows such strings (a worker's
 * text, an error), it compares none.  Anything
 * else that is not JSON, and nesting deeper than CJ_MAXDEPTH, makes the
 * parse fail.
 */

#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CJ_MAXDEPTH	32

struct cjp {
	const char	*p_s;		/* next unread character */
	int		 p_depth;
};

static struct ctl_json	*cj_value(struct cjp *);
static int		 cj_members(struct cjp *, struct ctl_json *, int);
static char		*cj_string(struct cjp *);
static void		 cj_ws(struct cjp *);

static void
cj_ws(struct cjp *p)
{
	while (*p->p_s == ' ' || *p->p_s == '\t' || *p->p_s == '\n' ||
	    *p->p_s == '\r')
		p->p_s++;
}

/* A string, after its opening quote; NULL if malformed or no memory. */
static char *
cj_string(struct cjp *p)
{
	const char	*s = p->p_s;
	char		*out, *o, *end;
	char		 hex[5];
	unsigned long	 u;

	if ((out = o = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (; *s != '"'; s++) {
		if ((unsigned char)*s < 0x20)
			goto bad;	/* also the end of the text */
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case '"': case '\\': case '/':
			*o++ = *s;
			break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (strlen(s + 1) < 4)
				goto bad;
			memcpy(hex, s + 1, 4);
			hex[4] = '\0';
			u = strtoul(hex, &end, 16);
			if (*end != '\0' || !isxdigit((unsigned char)*hex))
				goto bad;
			*o++ = u > 0 && u < 0x80 ? (char)u : '?';
			s += 4;
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	p->p_s = s + 1;
	return out;
 bad:
	free(out);
	return NULL;
}

/*
 * The members of an object (obj) or the elements of an array, after the
 * opening bracket, up to and with the closing one.  0, or -1.
 */
static int
cj_members(struct cjp *p, struct ctl_json *j, int obj)
{
	struct ctl_json	**vals;
	char		**keys, *key = NULL;
	struct ctl_json	*v;

	cj_ws(p);
	if (*p->p_s == (obj ? '}' : ']')) {
		p->p_s++;
		return 0;
	}
	for (;;) {
		cj_ws(p);
		if (obj) {
			if (*p->p_s++ != '"' || (key = cj_string(p)) == NULL)
				return -1;
			cj_ws(p);
			if (*p->p_s++ != ':') {
				free(key);
				return -1;
			}
		}
		vals = reallocarray(j->j_vals, j->j_n + 1, sizeof(*vals));
		if (vals != NULL)
			j->j_vals = vals;
		keys = obj && vals != NULL ? reallocarray(j->j_keys,
		    j->j_n + 1, sizeof(*keys)) : NULL;
		if (keys != NULL)
			j->j_keys = keys;
		if (vals == NULL || (obj && keys == NULL) ||
		    (v = cj_value(p)) == NULL) {
			free(key);
			return -1;
		}
		if (obj)
			j->j_keys[j->j_n] = key;
		j->j_vals[j->j_n++] = v;
		cj_ws(p);
		if (*p->p_s == ',') {
			p->p_s++;
			continue;
		}
		return *p->p_s++ == (obj ? '}' : ']') ? 0 : -1;
	}
}

/* One value; NULL if malformed. */
static struct ctl_json *
cj_value(struct cjp *p)
{
	struct ctl_json	*j;
	char		*end;
	int		 ok = 0;

	cj_ws(p);
	if (p->p_depth >= CJ_MAXDEPTH || (j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	p->p_depth++;
	if (*p->p_s == '{' || *p->p_s == '[') {
		j->j_type = *p->p_s == '{' ? CJ_OBJ : CJ_ARR;
		p->p_s++;
		ok = cj_members(p, j, j->j_type == CJ_OBJ) == 0;
	} else if (*p->p_s == '"') {
		j->j_type = CJ_STR;
		p->p_s++;
		ok = (j->j_str = cj_string(p)) != NULL;
	} else if (strncmp(p->p_s, "true", 4) == 0 ||
	    strncmp(p->p_s, "null", 4) == 0) {
		j->j_type = *p->p_s == 't' ? CJ_BOOL : CJ_NULL;
		j->j_num = *p->p_s == 't';
		p->p_s += 4;
		ok = 1;
	} else if (strncmp(p->p_s, "false", 5) == 0) {
		j->j_type = CJ_BOOL;
		p->p_s += 5;
		ok = 1;
	} else if (*p->p_s == '-' || (*p->p_s >= '0' && *p->p_s <= '9')) {
		j->j_type = CJ_NUM;
		j->j_num = strtod(p->p_s, &end);
		ok = end != p->p_s;
		p->p_s = end;
	}
	p->p_depth--;
	if (!ok) {
		ctl_json_free(j);
		return NULL;
	}
	return j;
}

/* The tree of the JSON text s, or NULL if it is not one value. */
struct ctl_json *
ctl_json_parse(const char *s)
{
	struct cjp	 p;
	struct ctl_json	*j;

	p.p_s = s;
	p.p_depth = 0;
	if ((j = cj_value(&p)) == NULL)
		return NULL;
	cj_ws(&p);
	if (*p.p_s != '\0') {
		ctl_json_free(j);
		return NULL;
	}
	return j;
}

void
ctl_json_free(struct ctl_json *j)
{
	size_t	 i;

	if (j == NULL)
		return;
	for (i = 0; i < j->j_n; i++) {
		if (j->j_keys != NULL)
			free(j->j_keys[i]);
		ctl_json_free(j->j_vals[i]);
	}
	free(j->j_keys);
	free(j->j_vals);
	free(j->j_str);
	free(j);
}

/*
 * The value at a dot path: member names of objects, indices of arrays;
 * "" is j itself.  NULL if there is none.
 */
const struct ctl_json *
ctl_json_get(const struct ctl_json *j, const char *path)
{
	const char	*dot;
	char		*end;
	size_t		 len, i;
	unsigned long	 k;

	while (j != NULL && *path != '\0') {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (j->j_type == CJ_ARR) {
			k = strtoul(path, &end, 10);
			j = end == path + len && k < j->j_n ? j->j_vals[k] :
			    NULL;
		} else if (j->j_type == CJ_OBJ) {
			for (i = 0; i < j->j_n; i++)
				if (strlen(j->j_keys[i]) == len &&
				    strncmp(j->j_keys[i], path, len) == 0)
					break;
			j = i < j->j_n ? j->j_vals[i] : NULL;
		} else
			j = NULL;
		path += len + (dot != NULL);
	}
	return j;
}

/* The number (or boolean as 0 or 1) at path, or dflt. */
double
ctl_json_num(const struct ctl_json *j, const char *path, double dflt)
{
	const struct ctl_json	*v = ctl_json_get(j, path);

	return v != NULL && (v->j_type == CJ_NUM || v->j_type == CJ_BOOL) ?
	    v->j_num : dflt;
}

/* The string at path, or NULL. */
const char *
ctl_json_str(const struct ctl_json *j, const char *path)
{
	const struct ctl_json	*v = ctl_json_get(j, path);

	return v != NULL && v->j_type == CJ_STR ? v->j_str : NULL;
}
