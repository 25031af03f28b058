/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * A strict JSON reader (json.c), shared by droverctl(8) and the test
 * library (t/testlib.h), both of which read the master's status.json.
 * It depends on nothing else of either.  Numbers keep their double value
 * and, if written as an integer that fits, the exact long long
 * (j_isint).  Strings are NUL-terminated UTF-8; j_len counts bytes (a
 * \u0000 escape yields an embedded NUL).  Objects keep their members in
 * order.  Every "struct json *" a function returns belongs to the caller.
 */

#ifndef DROVER_JSON_H
#define DROVER_JSON_H

#include <stddef.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json {
	enum json_type	  j_type;
	int		  j_bool;
	double		  j_num;
	long long	  j_int;	/* integral part of j_num */
	int		  j_isint;	/* j_int is exact */
	char		 *j_str;
	size_t		  j_len;
	size_t		  j_n;		/* array or object size */
	char		**j_keys;	/* object member names */
	struct json	**j_vals;	/* members or elements */
};

/* Parse a whole document; NULL on any syntax error (errno EINVAL). */
struct json	*json_parse(const char *);
void		 json_free(struct json *);

/*
 * Look up a dot path: object member names and decimal array indices,
 * "slots.0.pid".  NULL or "" is the value itself.  NULL if absent.  All
 * the accessors accept a NULL document (and then find nothing).
 */
const struct json *json_get(const struct json *, const char *);
/* The integer at path, or dflt if absent or not a number. */
long long	 json_int(const struct json *, const char *, long long);
/* The number at path, or dflt. */
double		 json_num(const struct json *, const char *, double);
/* The string at path, or NULL if absent or not a string. */
const char	*json_str(const struct json *, const char *);
/* 1 if the value at path exists and is null, else 0. */
int		 json_is_null(const struct json *, const char *);
/* 1 for true, 0 for false, -1 if absent or not a boolean. */
int		 json_bool(const struct json *, const char *);
/* Elements of the array (or members of the object) at path, else 0. */
size_t		 json_len(const struct json *, const char *);

#endif /* DROVER_JSON_H */
