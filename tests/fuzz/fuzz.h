/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz/ and the program that
 * writes their seeds (seeds.c) agree on. See tests/fuzz/run.
 */
#ifndef OCT_FUZZ_H
#define OCT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"		/* UUID_STR_LEN */

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* check.c, for fuzz_event and fuzz_otlp (they include ingestd.h). */
struct event_error;
struct fmt_ops;
/* Say what broke and abort(): libFuzzer keeps the input. */
void	 fuzz_fail(const char *what, const char *detail)
	    __attribute__((noreturn));
/*
 * Event i of the format's handle h, through ops->item() and
 * event_encode() as ingestd does (ids[i] gets its trace_id); a frame
 * encoded must decode back to its kind and trace_id. 0, or -1 with err.
 */
int	 fuzz_encode(const struct fmt_ops *ops, void *h, size_t i,
	    char (*ids)[UUID_STR_LEN], const unsigned char *idkey, size_t max_text,
	    struct event_error *err);

/*
 * fuzz_receiver's input: one flags byte, then four lines (webhook-id,
 * webhook-timestamp, webhook-signature, Content-Encoding; each ends at
 * '\n', a missing one is ""), then the body. A header is sent only when
 * its flag is set. With FR_SIGN the target signs the body (after
 * inflating it when the encoding says gzip) with the fuzz key and adds
 * that signature after the one given, so the fuzzer reaches the
 * envelope's checks; without it, the signature checks meet forgeries.
 */
#define FR_POST		0x01
#define FR_ID		0x02
#define FR_TS		0x04
#define FR_SIG		0x08
#define FR_ENC		0x10
#define FR_SIGN		0x20
/* The receiver's clock and window in the target; seeds use FUZZ_NOW. */
#define FUZZ_NOW	1700000000LL
#define FUZZ_SKEW	300L
/* The fuzz key pair: crypto_sign_seed_keypair() of 32 bytes of this. */
#define FUZZ_KEY_SEED	0x5a

#endif
