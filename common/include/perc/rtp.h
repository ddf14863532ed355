/* RTP packets (RFC 3550 §5.1) as views into the caller's bytes, and their
 * serialization; header extensions in the RFC 8285 one- and two-byte forms.
 *
 * The header parser works on SRTP packets too: it reads only the clear
 * header (fixed part, CSRCs, extension block), which is what the SRTP AAD
 * and the double transform's synthetic header are built from.
 */
#ifndef PERC_RTP_H
#define PERC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"

#define PERC_RTP_FIXED_HEADER_LEN 12
#define PERC_RTP_MAX_CSRC 15

/* RFC 8285 "defined by profile" values of the extension block. */
#define PERC_RTP_EXT_ONE_BYTE 0xBEDE
#define PERC_RTP_EXT_TWO_BYTE 0x1000      /* 0x100 in the top 12 bits; low 4 bits app bits */
#define PERC_RTP_EXT_TWO_BYTE_MASK 0xFFF0

typedef struct perc_rtp_header {
    bool padding;           /* P */
    bool extension;         /* X */
    uint8_t csrc_count;     /* CC */
    bool marker;            /* M */
    uint8_t payload_type;   /* PT, 7 bits */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[PERC_RTP_MAX_CSRC];
    uint16_t ext_profile;   /* "defined by profile" word when X is set */
    perc_view ext_data;     /* extension words after the 4-byte extension header */
    size_t header_len;      /* 12 + 4*CC + (X ? 4 + ext_data.len : 0) */
} perc_rtp_header;

typedef struct perc_rtp_packet {
    perc_rtp_header hdr;
    perc_view payload;      /* without padding */
    uint8_t padding_len;    /* 0 when P is clear, else the last octet */
} perc_rtp_packet;

/* Parses the clear header at the start of buf. The rest of buf (payload,
 * tags, trailers) is not looked at. Errors: PERC_ERR_TRUNCATED,
 * PERC_ERR_BAD_VERSION. */
PERC_MUST_CHECK int perc_rtp_parse_header(const uint8_t *buf, size_t len, perc_rtp_header *out);

/* Parses a whole plaintext RTP packet, payload and padding included.
 * Padding is checked per RFC 3550 §5.1: the last octet counts itself and
 * must fit in what follows the header (else PERC_ERR_MALFORMED). */
PERC_MUST_CHECK int perc_rtp_parse(const uint8_t *buf, size_t len, perc_rtp_packet *out);

/* Writes the header described by h (its header_len is ignored: CSRCs and
 * ext_data decide the length; ext_data.len must be a multiple of 4). */
void perc_rtp_write_header(perc_writer *w, const perc_rtp_header *h);

/* Writes a whole packet: header, payload, then padding_len octets of
 * padding (the last holding the count) when padding_len > 0, which also
 * sets P. */
void perc_rtp_write(perc_writer *w, const perc_rtp_header *h, const uint8_t *payload,
                    size_t payload_len, uint8_t padding_len);

/* RFC 8285 header extension elements. */
typedef struct perc_rtp_ext_elem {
    uint8_t id;             /* 1..14 one-byte form, 1..255 two-byte form */
    perc_view data;
} perc_rtp_ext_elem;

typedef struct perc_rtp_ext_iter {
    perc_reader r;
    bool two_byte;
} perc_rtp_ext_iter;

/* Starts iterating the elements of h's extension block. PERC_ERR_UNSUPPORTED
 * if the block is not in an RFC 8285 form, PERC_ERR_NOT_FOUND if X is clear. */
PERC_MUST_CHECK int perc_rtp_ext_iter_init(perc_rtp_ext_iter *it, const perc_rtp_header *h);

/* 1 and an element, 0 at the end (padding octets are skipped), or a
 * negative error for a malformed block. In the one-byte form ID 15 ends the
 * block (RFC 8285 §4.2). */
PERC_MUST_CHECK int perc_rtp_ext_next(perc_rtp_ext_iter *it, perc_rtp_ext_elem *out);

/* Finds element `id`; PERC_ERR_NOT_FOUND if absent. */
PERC_MUST_CHECK int perc_rtp_ext_find(const perc_rtp_header *h, uint8_t id, perc_view *out);

/* Builds an extension block into a caller buffer (the block's words, i.e.
 * what goes in perc_rtp_header.ext_data) and its profile word. */
typedef struct perc_rtp_ext_builder {
    perc_writer w;
    bool two_byte;
} perc_rtp_ext_builder;

void perc_rtp_ext_builder_init(perc_rtp_ext_builder *b, uint8_t *buf, size_t cap, bool two_byte);
/* One-byte form: id 1..14, 1..16 octets. Two-byte form: id 1..255, 0..255
 * octets. Out-of-range values set PERC_ERR_INVALID_ARG. */
void perc_rtp_ext_add(perc_rtp_ext_builder *b, uint8_t id, const uint8_t *data, size_t len);
/* Pads to a 4-octet boundary; yields the data view and profile word. */
PERC_MUST_CHECK int perc_rtp_ext_finish(perc_rtp_ext_builder *b, perc_view *data, uint16_t *profile);

/* RFC 6464 client-to-mixer audio level: one octet, V flag in the top bit,
 * level 0..127 in -dBov. */
typedef struct perc_audio_level {
    bool voice;
    uint8_t level;
} perc_audio_level;

PERC_MUST_CHECK int perc_audio_level_parse(perc_view data, perc_audio_level *out);

#endif
