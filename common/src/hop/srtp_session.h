/* The inside of perc_srtp_session, shared by srtp.c, srtcp.c and
 * srtp_ctx.c (internal to libperc). */
#ifndef PERC_HOP_SRTP_SESSION_H
#define PERC_HOP_SRTP_SESSION_H

#include "aead.h"
#include "perc/rtp.h"
#include "perc/srtp.h"

struct perc_srtp_session {
    perc_srtp_cipher cipher;
    perc_aead rtp;                          /* keyed with the SRTP session key */
    perc_aead rtcp;                         /* keyed with the SRTCP session key */
    uint8_t srtp_salt[PERC_SRTP_SALT_LEN];
    uint8_t srtcp_salt[PERC_SRTP_SALT_LEN];
    /* A short digest of the SRTP session key and salt, so "are these two
     * sessions keyed alike" is one comparison on a per-packet path. */
    uint64_t key_id;
};

/* What the RTP transform needs of a header: where it ends, SSRC and SEQ.
 * perc_srtp_layout_of checks exactly what perc_rtp_parse_header checks,
 * with the same errors (PERC_ERR_TRUNCATED, PERC_ERR_BAD_VERSION), without
 * filling a whole perc_rtp_header: on the per-packet path that parse cost
 * about a tenth of an audio packet's seal. */
typedef struct perc_srtp_layout {
    size_t header_len;
    uint32_t ssrc;
    uint16_t seq;
} perc_srtp_layout;

PERC_MUST_CHECK int perc_srtp_layout_of(const uint8_t *buf, size_t len, perc_srtp_layout *out);

/* perc_srtp_open with the header already located in buf (the context
 * needs SSRC and SEQ before opening, and parsing twice is waste). */
PERC_MUST_CHECK int perc_srtp_open_hdr(perc_srtp_session *s, uint8_t *buf, size_t len,
                                       const perc_srtp_layout *h, uint32_t roc, size_t *out_len);
/* perc_srtp_seal likewise. */
PERC_MUST_CHECK int perc_srtp_seal_hdr(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                       const perc_srtp_layout *h, uint32_t roc, size_t *out_len);

/* perc_srtp_seal_hdr from in[0..len) into out (which must not overlap
 * in): the header is copied and the payload encrypted on its way across,
 * so a relay sealing one plaintext for many receivers reads it once per
 * receiver instead of copying it and then encrypting in place.
 * Errors: PERC_ERR_NOSPACE (cap < len + 16), PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_srtp_seal_copy(perc_srtp_session *s, const uint8_t *in, size_t len,
                                        const perc_srtp_layout *h, uint32_t roc, uint8_t *out,
                                        size_t cap, size_t *out_len);
/* perc_srtp_open_hdr from in[0..len) into out likewise (out gets the
 * header and the plaintext, zeroed payload on PERC_ERR_AUTH).
 * Errors: PERC_ERR_TRUNCATED, PERC_ERR_NOSPACE (cap < len - 16),
 * PERC_ERR_AUTH, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_srtp_open_copy(perc_srtp_session *s, const uint8_t *in, size_t len,
                                        const perc_srtp_layout *h, uint32_t roc, uint8_t *out,
                                        size_t cap, size_t *out_len);

/* The sender SSRC of a plain or SRTCP packet (octets 4..7), after checking
 * the RTP version. PERC_ERR_TRUNCATED, PERC_ERR_BAD_VERSION. */
PERC_MUST_CHECK int perc_srtcp_read_ssrc(const uint8_t *buf, size_t len, uint32_t *ssrc);
/* Sender SSRC and the 31-bit index from the trailer of an SRTCP packet,
 * before it is opened (the replay check comes first). PERC_ERR_TRUNCATED,
 * PERC_ERR_BAD_VERSION. */
PERC_MUST_CHECK int perc_srtcp_peek(const uint8_t *buf, size_t len, uint32_t *ssrc,
                                    uint32_t *index);

#endif
