/* SPDX-License-Identifier: ISC */
/*
 * Copyright (c) 2026 The drover authors.
 *
 * The configuration file, read as at start (config_read(): inih, our
 * line reader, every key's value parser, config_finish()).  A file that
 * reads must also read back: what drover -n prints for it (config_print)
 * is read again and must print the same, or drover -n would show a
 * configuration that is not the one in use.  Its command, written as
 * one given after -- is, must read back as the same words.
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover-master.h"
#include "fuzz.h"

/* Read the file in fd as drover would; NULL if it does not read. */
static struct config *
fuzz_read(int fd)
{
	char	 path[64];
	int	 code;

	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_init_sources(path, NULL, 0, NULL);
	return config_read(&code);
}

/* What drover -n prints for c. */
static char *
fuzz_print(const struct config *c, size_t *len)
{
	char	*buf = NULL;
	FILE	*fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		abort();
	config_print(c, fp);
	if (fclose(fp) == EOF)
		abort();
	return buf;
}

/*
 * The command of c as if given after -- (config_command_text(), quoted
 * word by word): it must read back as the same words, with no ';' after
 * a blank, which a file would take for a comment.
 */
static void
fuzz_argv(const struct config *c)
{
	struct config	*c2 = config_new();
	const char	*e;
	char		*text, *p;
	size_t		 i;

	text = config_command_text("command", c->c_argv);
	for (p = text; *p != '\0'; p++)
		if (isspace((unsigned char)*p) && p[1] == ';') {
			fprintf(stderr, "a comment in: %s\n", text);
			abort();
		}
	if (config_set(c2, "command", text, &e) == -1) {
		fprintf(stderr, "%s: %s\n", text, e);
		abort();
	}
	for (i = 0; c->c_argv[i] != NULL; i++)
		if (c2->c_argv[i] == NULL ||
		    strcmp(c->c_argv[i], c2->c_argv[i]) != 0) {
			fprintf(stderr, "word %zu of %s reads back wrong\n",
			    i, text);
			abort();
		}
	if (c2->c_argv[i] != NULL)
		abort();
	free(text);
	config_free(c2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c, *c2;
	char		*out, *out2;
	size_t		 len, len2;
	int		 fd;

	fuzz_quiet();
	fd = fuzz_memfd(data, size);
	c = fuzz_read(fd);
	close(fd);
	if (c == NULL)
		return 0;
	out = fuzz_print(c, &len);
	fuzz_argv(c);
	/*
	 * A relative state_dir is printed absolute, the working directory
	 * before it (t/errors.t checks that): a path that then needs a
	 * line longer than any, with no blank to break it at, is more than
	 * any file can hold.
	 */
	if (!config_fits("state_dir", c->c_state_dir)) {
		config_free(c);
		free(out);
		return 0;
	}
	config_free(c);
	fd = fuzz_memfd((const uint8_t *)out, len);
	c2 = fuzz_read(fd);
	close(fd);
	if (c2 == NULL) {
		fprintf(stderr, "drover -n printed what does not read "
		    "back:\n%s", out);
		abort();
	}
	out2 = fuzz_print(c2, &len2);
	config_free(c2);
	if (len != len2 || memcmp(out, out2, len) != 0) {
		fprintf(stderr, "drover -n printed:\n%s\nwhich reads back "
		    "as:\n%s", out, out2);
		abort();
	}
	free(out);
	free(out2);
	return 0;
}
