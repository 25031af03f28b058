/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * What the harnesses need of main.c, which they do not link (it has
 * main(), and libFuzzer has its own): the master's state, empty, and its
 * few functions, doing nothing.  Plus two helpers of the harnesses, and
 * a getaddrinfo(3) that knows only "localhost": host names in listen
 * addresses are resolved, and fuzzed ones must not go to the network.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"
#include "fuzz.h"

struct master	 master;

int
master_pidfile(void)
{
	return -1;
}

void
master_check_done(void)
{
}

void
master_check_halted(void)
{
}

static void
fuzz_drop(const char *line, size_t len)
{
	(void)line;
	(void)len;
}

/*
 * Log lines go nowhere: a parser's complaints about bad input are what
 * the fuzzer feeds it all day.
 */
void
fuzz_quiet(void)
{
	log_setsink(fuzz_drop);
}

/* A memfd holding the input, at offset 0, for the readers of files. */
int
fuzz_memfd(const uint8_t *data, size_t size)
{
	int	 fd;

	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		err(1, "memfd_create");
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		err(1, "write");
	if (lseek(fd, 0, SEEK_SET) == -1)
		err(1, "lseek");
	return fd;
}

int
getaddrinfo(const char *host, const char *serv, const struct addrinfo *hints,
    struct addrinfo **res)
{
	struct addrinfo		*ai;
	struct sockaddr_in	*sin;

	(void)serv;
	(void)hints;
	if (host == NULL || strcmp(host, "localhost") != 0)
		return EAI_NONAME;
	if ((ai = calloc(1, sizeof(*ai) + sizeof(*sin))) == NULL)
		return EAI_MEMORY;
	sin = (struct sockaddr_in *)(ai + 1);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ai->ai_family = AF_INET;
	ai->ai_socktype = SOCK_STREAM;
	ai->ai_addr = (struct sockaddr *)sin;
	ai->ai_addrlen = sizeof(*sin);
	*res = ai;
	return 0;
}

void
freeaddrinfo(struct addrinfo *ai)
{
	free(ai);
}
