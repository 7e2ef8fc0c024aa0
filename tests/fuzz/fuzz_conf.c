/*
 * fuzz_conf.c: libFuzzer target for the config parser (common/conf.c).
 *
 * The input is config text, as octd sends it to a worker
 * (conf_load_text: the file syntax, without the environment). Beyond no
 * crash, leak or undefined behaviour, it checks the round trip octd
 * relies on: a config that loads is dumped (conf_dump) to text that
 * loads again to the same settings, or a worker would refuse, or run
 * with other settings than, what octd checked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

int	 LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* relative paths made absolute against a fixed directory */
	conf_set_base("/oct-fuzz");
	conf_check_urls(url_check);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 a, b;
	char		 err[512], *text, *dump;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = '\0';
	if (conf_load_text(&a, text, err, sizeof(err)) == -1) {
		/* refused: with a message, and nothing left to free */
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
			fprintf(stderr, "fuzz_conf: refused, no message\n");
			abort();
		}
		free(text);
		return 0;
	}
	if ((dump = conf_dump(&a)) == NULL)
		abort();
	if (conf_load_text(&b, dump, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_conf: the dump of a config it took is "
		    "refused: %s\n", err);
		abort();
	}
	if (conf_diff(&a, &b) != 0) {
		fprintf(stderr, "fuzz_conf: the dump loads to other settings "
		    "(processes %#x)\n", conf_diff(&a, &b));
		abort();
	}
	conf_free(&b);
	conf_free(&a);
	free(dump);
	free(text);
	return 0;
}
