/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What the master and droverctl(8) share: small functions that depend on
 * nothing but libc, so that droverctl finds the state directory the
 * master would use, reads durations the way drover.conf(5) writes them
 * and writes JSON strings the way status.json does, without linking the
 * master.
 */

#ifndef DROVER_SHARED_H
#define DROVER_SHARED_H

#include <stddef.h>
#include <stdio.h>

/* config-share.c */
int	 config_duration(const char *, double *);
int	 config_default_state_dir(const char *, char *, size_t);

/* text.c */
size_t	 text_log(char *, size_t, const char *, size_t);
void	 text_json(FILE *, const char *, size_t);

#endif /* DROVER_SHARED_H */
