/* The Original Header Block of the double transform (RFC 8723 §4): what a
 * Media Distributor changed in the RTP header (PT, SEQ, marker), so the
 * receiver can restore the original header before the inner check.
 *
 * On the wire: [PT(1)] [SEQ(2)] Config(1), Config last, read backwards from
 * the end of the outer plaintext. Config bits: 0x01 SEQ present, 0x02 PT
 * present, 0x04 marker recorded, 0x08 original marker value, 0xF0 reserved.
 */
#ifndef PERC_OHB_H
#define PERC_OHB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"
#include "perc/rtp.h"

#define PERC_OHB_SEQ 0x01
#define PERC_OHB_PT 0x02
#define PERC_OHB_M 0x04
#define PERC_OHB_B 0x08
#define PERC_OHB_RESERVED 0xF0
#define PERC_OHB_MAX_LEN 4

typedef struct perc_ohb {
    bool has_pt;
    uint8_t pt;             /* original 7-bit PT */
    bool has_seq;
    uint16_t seq;           /* original SEQ */
    bool has_marker;
    bool marker;            /* original M */
} perc_ohb;

/* 1..4 */
size_t perc_ohb_len(const perc_ohb *o);

/* Parses the OHB that ends buf[len-1]; octets before it (the inner tag)
 * are not looked at. *ohb_len gets its size. The top bit of the PT octet,
 * which the RFC leaves undefined, is ignored. Errors: PERC_ERR_TRUNCATED,
 * PERC_ERR_BAD_OHB (reserved bits set, or B set with M clear: the rule
 * RFC 8723 §4 means by its "0x80" typo), PERC_ERR_INVALID_ARG (NULL). */
PERC_MUST_CHECK int perc_ohb_parse(const uint8_t *buf, size_t len, perc_ohb *out, size_t *ohb_len);

/* Writes o (1..4 octets); the PT octet's top bit is written as 0, B only
 * when has_marker. Errors are the writer's (sticky). */
void perc_ohb_write(perc_writer *w, const perc_ohb *o);

/* RFC 8723 §5.2 step 3 for one header change: hdr holds the header as
 * received (before the change), new_* the values to send. A field changed
 * that is not yet recorded gets its current (original) value recorded; a
 * field set back to its recorded original is removed; a field already
 * recorded keeps its recorded value. */
void perc_ohb_record(perc_ohb *o, const perc_rtp_header *hdr, uint8_t new_pt, uint16_t new_seq,
                     bool new_marker);

/* Puts the recorded originals into hdr (for the receiver's synthetic
 * header, RFC 8723 §5.3 step 4). */
void perc_ohb_restore(const perc_ohb *o, perc_rtp_header *hdr);

#endif
