/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What the libFuzzer harnesses of t/fuzz/ share: the entry point
 * libFuzzer calls, and stubs.c's helpers.
 */

#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
void	 fuzz_quiet(void);
int	 fuzz_memfd(const uint8_t *, size_t);

#endif
