/*
 * split.c: requests, and cutting rows into requests whose body fits
 * push_max_payload_bytes before compression. The encoder knows each
 * event's exact size before any body is built, which is what cutting
 * needs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "push.h"

char *
push_host_json(void)
{
	char	 host[256], *s;
	json_t	*h;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	h = json_string(host);
	s = json_dumps(h, JSON_ENCODE_ANY);
	json_decref(h);
	return s;
}

struct req *
req_new(struct push_row *rows, int n)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
		free(r);
		return NULL;
	}
	memcpy(r->rows, rows, (size_t)n * sizeof(*rows));
	r->n = n;
	uuid_v4(r->batch_id);
	return r;
}

void
req_halve(struct req *r, struct req **a, struct req **b)
{
	int half = r->n / 2;

	*a = req_new(r->rows, half);
	*b = req_new(r->rows + half, r->n - half);
	free(r->body);
	free(r->ahead);
	free(r->ahead_sig);
	free(r->rows);
	free(r);
}

void
req_free(struct req *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		store_row_clear(&r->rows[i]);
	free(r->body);
	free(r->ahead);
	free(r->ahead_sig);
	free(r->rows);
	free(r);
}

/* Queue rows[start..end) as one request. Returns 0 or -1. */
static int
close_req(struct push_row *rows, int start, int end, struct reqq *q)
{
	struct req *r;

	if (end <= start)
		return 0;
	if ((r = req_new(rows + start, end - start)) == NULL)
		return -1;
	TAILQ_INSERT_TAIL(q, r, entry);
	return 0;
}

int
push_split(const struct push_encoder *enc, const struct agent_info *a,
    struct push_row *rows, int n, size_t max, struct reqq *q,
    struct push_row **toobig, int *ntoobig)
{
	size_t	over = enc->overhead(a), size = over, ev;
	int	i, start = 0, nbig = 0;

	*toobig = calloc((size_t)n + 1, sizeof(**toobig));
	if (*toobig == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		ev = enc->event_len(&rows[i]);
		if (over + ev > max) {
			(*toobig)[nbig++] = rows[i];
			/* close what came before it, then skip it */
			if (close_req(rows, start, i, q) == -1)
				return -1;
			start = i + 1;
			size = over;
			continue;
		}
		if (i > start && (size + ev > max || (enc->per_kind &&
		    rows[i].kind != rows[start].kind))) {
			if (close_req(rows, start, i, q) == -1)
				return -1;
			start = i;
			size = over;
		}
		size += ev;
	}
	if (close_req(rows, start, n, q) == -1)
		return -1;
	*ntoobig = nbig;
	free(rows);
	return 0;
}
