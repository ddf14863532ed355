/* A synthetic media payload for tests and measurements: it carries enough
 * to let a receiver check where a packet came from, where it belongs in its
 * stream, and that no byte changed on the way. The end-to-end layer of PERC
 * already authenticates the payload; this format checks the whole pipeline
 * around it (the right payload handed to the right stream, in the right
 * order, with the RTP timestamp the sender used).
 *
 * Layout (all integers big-endian, offsets in octets):
 *
 *    0  magic        4   "PSYN" (0x5053594E)
 *    4  version      1   1
 *    5  flags        1   0 (reserved; a receiver refuses anything else)
 *    6  length       2   length of the whole payload, checksum included
 *    8  sender_id    4   who sent it (e.g. a participant number)
 *   12  seq          4   the sender's stream sequence number: 32 bits, so
 *                        it does not wrap where RTP's 16-bit SEQ does
 *   16  rtp_ts       4   the RTP timestamp of the packet carrying it
 *   20  filler       n   n = length - 28 octets of a pattern derived from
 *                        (sender_id, seq): filler[i] = low octet of
 *                        (sender_id * 31 + seq * 7 + i * 13)
 *   20+n checksum    8   the first 8 octets of SHA-256 over octets
 *                        0 .. 20+n-1
 *
 * The smallest payload is 28 octets, the largest PERC_SYNTH_MAX_LEN. The
 * decoder accepts exactly one payload: what precedes or follows is not
 * part of it. Its filler pattern is checked too, so an encoder bug that the
 * checksum happens to cover is still found.
 */
#ifndef PERC_SYNTH_PAYLOAD_H
#define PERC_SYNTH_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

#define PERC_SYNTH_MAGIC 0x5053594Eu      /* "PSYN" */
#define PERC_SYNTH_VERSION 1
#define PERC_SYNTH_HEADER_LEN 20
#define PERC_SYNTH_CHECKSUM_LEN 8
#define PERC_SYNTH_MIN_LEN (PERC_SYNTH_HEADER_LEN + PERC_SYNTH_CHECKSUM_LEN)
#define PERC_SYNTH_MAX_LEN 1400

typedef struct perc_synth_payload {
    uint32_t sender_id;
    uint32_t seq;
    uint32_t rtp_ts;
    size_t len;                 /* whole payload, PERC_SYNTH_MIN_LEN..PERC_SYNTH_MAX_LEN */
} perc_synth_payload;

/* Why a decode failed, in more detail than the perc_err it returns. */
typedef enum perc_synth_status {
    PERC_SYNTH_OK = 0,
    PERC_SYNTH_SHORT,           /* fewer octets than the header and checksum, or than length says */
    PERC_SYNTH_LONG,            /* more octets than length says */
    PERC_SYNTH_BAD_MAGIC,
    PERC_SYNTH_BAD_VERSION,
    PERC_SYNTH_BAD_FLAGS,
    PERC_SYNTH_BAD_LENGTH,      /* the length field is below the minimum or above the maximum */
    PERC_SYNTH_BAD_FILLER,
    PERC_SYNTH_BAD_CHECKSUM,
} perc_synth_status;

/* Writes the payload p describes (p->len octets) into out. Errors:
 * PERC_ERR_INVALID_ARG (NULL, or p->len outside MIN..MAX),
 * PERC_ERR_NOSPACE (cap < p->len), PERC_ERR_CRYPTO (SHA-256 failed). */
PERC_MUST_CHECK int perc_synth_encode(const perc_synth_payload *p, uint8_t *out, size_t cap,
                                      size_t *out_len);

/* Parses and checks exactly one payload. why (may be NULL) gets the
 * detailed reason. Errors: PERC_ERR_TRUNCATED (SHORT), PERC_ERR_TRAILING
 * (LONG), PERC_ERR_MALFORMED (BAD_MAGIC, BAD_FLAGS, BAD_LENGTH,
 * BAD_FILLER, BAD_CHECKSUM), PERC_ERR_UNSUPPORTED (BAD_VERSION),
 * PERC_ERR_INVALID_ARG (NULL), PERC_ERR_CRYPTO. *out is zeroed on
 * failure. */
PERC_MUST_CHECK int perc_synth_decode(const uint8_t *in, size_t len, perc_synth_payload *out,
                                      perc_synth_status *why);

/* "ok", "short", "bad_checksum", ...: for logs. */
const char *perc_synth_status_name(perc_synth_status s);

#endif
