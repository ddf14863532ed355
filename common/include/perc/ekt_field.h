/* EKT field framing (RFC 8870 §4.1), without any EKT crypto.
 *
 * Every SRTP packet of a session that uses EKT ends with an EKT field: a
 * one-octet Short field (0x00), a Full field (EKTCiphertext || SPI || Epoch
 * || Length || 0x02) or an extension field (data || Length || type
 * 0x03..0xFF). The field sits after the SRTP tag and outside SRTP
 * authentication, so it is parsed from the end of the packet backwards.
 *
 * This header is hop-by-hop material: a Media Distributor strips the field
 * before outer SRTP processing and re-appends it unchanged afterwards
 * (RFC 8870 §8 / RFC 8871), which needs only the framing here. Wrapping and
 * unwrapping the ciphertext is end-to-end material and lives in perc/ekt.h.
 */
#ifndef PERC_EKT_FIELD_H
#define PERC_EKT_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"

#define PERC_EKT_TYPE_SHORT 0x00
#define PERC_EKT_TYPE_LEGACY 0x01      /* not allocated (legacy use): rejected */
#define PERC_EKT_TYPE_FULL 0x02

#define PERC_EKT_SHORT_LEN 1
/* SPI(2) || Epoch(2) || Length(2) || Type(1) after the ciphertext. */
#define PERC_EKT_FULL_TRAILER_LEN 7
#define PERC_EKT_CIPHERTEXT_MAX 251     /* §4.1: EKTCiphertext = 1*251BYTE */
#define PERC_EKT_FULL_MIN_LEN (1 + PERC_EKT_FULL_TRAILER_LEN)
#define PERC_EKT_FULL_MAX_LEN (PERC_EKT_CIPHERTEXT_MAX + PERC_EKT_FULL_TRAILER_LEN)
/* Extension fields: ExtensionData (1..1024) || Length(2) || Type(1). */
#define PERC_EKT_EXT_DATA_MAX 1024
#define PERC_EKT_EXT_MIN_LEN (1 + 3)
#define PERC_EKT_EXT_MAX_LEN (PERC_EKT_EXT_DATA_MAX + 3)
/* The longest EKT field of any type. */
#define PERC_EKT_FIELD_MAX_LEN PERC_EKT_EXT_MAX_LEN

/* Where the EKT field of a packet is. */
typedef struct perc_ekt_field {
    uint8_t type;           /* PERC_EKT_TYPE_SHORT, _FULL or an extension type */
    perc_view field;        /* the whole field, pointing into the packet */
    size_t srtp_len;        /* the SRTP packet before the field */
} perc_ekt_field;

/* The trailer of a Full field. */
typedef struct perc_ekt_full {
    perc_view ciphertext;   /* EKTCiphertext, pointing into the field */
    uint16_t spi;
    uint16_t epoch;
} perc_ekt_full;

/* Locates the EKT field at the end of pkt (an SRTP packet as received).
 * Short fields are one octet; Full and extension fields are sized by their
 * Length, which counts the whole field. srtp_len may come out 0: whether
 * what precedes the field is a valid SRTP packet is for SRTP to say.
 * Errors: PERC_ERR_TRUNCATED (empty packet, or a Length larger than the
 * packet), PERC_ERR_MALFORMED (type 0x01, or a Length below the smallest or
 * above the largest field of its type). The caller drops the packet. */
PERC_MUST_CHECK int perc_ekt_field_find(const uint8_t *pkt, size_t len, perc_ekt_field *out);

/* Parses field (exactly one Full field, e.g. perc_ekt_field.field). Views
 * point into field. Errors: PERC_ERR_TRUNCATED (shorter than a Full field
 * or than its Length says), PERC_ERR_TRAILING (longer than its Length
 * says), PERC_ERR_MALFORMED (type is not 0x02, ciphertext over 251 octets). */
PERC_MUST_CHECK int perc_ekt_full_parse(const uint8_t *field, size_t len, perc_ekt_full *out);

/* Length of a Full field carrying ct_len octets of ciphertext. */
static inline size_t perc_ekt_full_len(size_t ct_len) { return ct_len + PERC_EKT_FULL_TRAILER_LEN; }

/* Writes ciphertext || SPI || Epoch || Length || 0x02 into out.
 * Errors: PERC_ERR_INVALID_ARG (ciphertext empty or over 251 octets),
 * PERC_ERR_NOSPACE (cap too small; nothing useful is written). */
PERC_MUST_CHECK int perc_ekt_full_build(const uint8_t *ct, size_t ct_len, uint16_t spi,
                                        uint16_t epoch, uint8_t *out, size_t cap,
                                        size_t *out_len);

/* Writes the one-octet Short field. Errors: PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_ekt_short_build(uint8_t *out, size_t cap, size_t *out_len);

/* Appends field (e.g. one saved from perc_ekt_field_find, copied away
 * first if the packet buffer is rewritten in between) to the packet in
 * buf[0..len). field may overlap buf. Errors: PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_ekt_field_append(uint8_t *buf, size_t len, size_t cap,
                                          const uint8_t *field, size_t field_len,
                                          size_t *out_len);

#endif
