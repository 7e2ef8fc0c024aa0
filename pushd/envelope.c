/*
 * envelope.c: request bodies (SPEC section 6) and cutting rows into
 * requests that fit push_max_payload_bytes before compression.
 *
 * Each row's data object comes ready-made from SQLite (store_fetch_due),
 * so a body is plain concatenation; its exact size is known before it is
 * built, which is what splitting needs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "pushd.h"

#define EVENT_FMT	"{\"type\":\"%s\",\"trace_id\":\"%s\",\"received_at\":%lld," \
			"\"data\":"
#define PREFIX_FMT	"{\"agent\":{\"id\":\"%s\",\"host\":%s,\"version\":\"%s\"}," \
			"\"batch_id\":\"%s\",\"sent_at\":%lld,\"events\":["

size_t
envelope_event_len(const struct push_row *r)
{
	int n = snprintf(NULL, 0, EVENT_FMT, event_defs[r->kind].type,
	    r->trace_id, (long long)r->received_at);

	return (size_t)n + r->data_len + 2;	/* "}" and "," */
}

size_t
envelope_overhead(const struct agent_info *a)
{
	int n = snprintf(NULL, 0, PREFIX_FMT, a->id, a->host, a->version,
	    "00000000-0000-0000-0000-000000000000", 99999999999999LL);

	return (size_t)n + 2;			/* "]}" */
}

char *
envelope_body(const struct agent_info *a, const struct req *r,
    int64_t sent_at, size_t *len)
{
	size_t	 cap = envelope_overhead(a) + 16, off;
	char	*b;
	int	 i;

	for (i = 0; i < r->n; i++)
		cap += envelope_event_len(&r->rows[i]);
	if ((b = malloc(cap)) == NULL)
		return NULL;
	off = (size_t)snprintf(b, cap, PREFIX_FMT, a->id, a->host, a->version,
	    r->batch_id, (long long)sent_at);
	for (i = 0; i < r->n; i++) {
		const struct push_row *row = &r->rows[i];

		if (i > 0)
			b[off++] = ',';
		off += (size_t)snprintf(b + off, cap - off, EVENT_FMT,
		    event_defs[row->kind].type, row->trace_id,
		    (long long)row->received_at);
		memcpy(b + off, row->data, row->data_len);
		off += row->data_len;
		b[off++] = '}';
	}
	memcpy(b + off, "]}", 3);
	*len = off + 2;
	return b;
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
		free(r->rows[i].data);
	free(r->body);
	free(r->rows);
	free(r);
}

int
envelope_split(const struct agent_info *a, struct push_row *rows, int n,
    size_t max, struct reqq *q, struct push_row **toobig, int *ntoobig)
{
	size_t		 over = envelope_overhead(a), size = over, ev;
	struct req	*r;
	int		 i, start = 0, nbig = 0;

	*toobig = calloc((size_t)n + 1, sizeof(**toobig));
	if (*toobig == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		ev = envelope_event_len(&rows[i]);
		if (over + ev > max) {
			(*toobig)[nbig++] = rows[i];
			/* close what came before it, then skip it */
			if (i > start) {
				if ((r = req_new(rows + start, i - start)) == NULL)
					return -1;
				TAILQ_INSERT_TAIL(q, r, entry);
			}
			start = i + 1;
			size = over;
			continue;
		}
		if (size + ev > max && i > start) {
			if ((r = req_new(rows + start, i - start)) == NULL)
				return -1;
			TAILQ_INSERT_TAIL(q, r, entry);
			start = i;
			size = over;
		}
		size += ev;
	}
	if (n > start) {
		if ((r = req_new(rows + start, n - start)) == NULL)
			return -1;
		TAILQ_INSERT_TAIL(q, r, entry);
	}
	*ntoobig = nbig;
	free(rows);
	return 0;
}
