/*
 * encoders.c: the push formats, one row each (SPEC section 2's
 * push_format). A new format is its encoder file and a row here; the
 * cycle, split, sign, send and retry know no format.
 */
#include "config.h"

#include <string.h>

#include "conf.h"
#include "push.h"

static const struct push_encoder *const encoders[] = {
	&enc_oct,
	&enc_otlp,
};

const struct push_encoder *
push_encoder(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++)
		if (strcmp(encoders[i]->name, name) == 0)
			return encoders[i];
	return NULL;
}

const struct push_encoder *
push_conf_encoder(const struct conf *c)
{
	return push_encoder(c->push_format == CONF_PUSH_OTLP ? "otlp" : "oct");
}
