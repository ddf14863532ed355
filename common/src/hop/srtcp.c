/* SRTCP with AEAD AES-GCM (RFC 7714 §9), at an explicit SRTCP index.
 *
 * Packet layout (RFC 7714 §9.1, §17):
 *   E = 1:  first 8 octets || ciphertext of the rest || tag || E|index
 *   E = 0:  whole RTCP packet || tag || E|index
 * The AAD is the clear part followed by the E|index word, which on the
 * wire sits after the tag, so it is passed to GCM as a second piece.
 */
#include <string.h>

#include "perc/bytes.h"
#include "srtp_session.h"

#define RTCP_CLEAR_LEN 8            /* V/P/RC, PT, length, sender SSRC */
#define SRTCP_E_BIT 0x80000000u
#define SRTCP_MIN_LEN (RTCP_CLEAR_LEN + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN)

void perc_srtcp_make_iv(const uint8_t salt[PERC_SRTP_SALT_LEN], uint32_t ssrc, uint32_t index,
                        uint8_t iv[PERC_SRTP_IV_LEN])
{
    /* RFC 7714 §9.1: 00 00 || SSRC || 00 00 || 0 || 31-bit index. */
    iv[0] = 0;
    iv[1] = 0;
    perc_store_u32(iv + 2, ssrc);
    iv[6] = 0;
    iv[7] = 0;
    perc_store_u32(iv + 8, index & ~SRTCP_E_BIT);
    for (size_t i = 0; i < PERC_SRTP_IV_LEN; i++)
        iv[i] ^= salt[i];
}

/* Reads the clear RTCP header fields SRTCP needs: version and sender SSRC. */
int perc_srtcp_read_ssrc(const uint8_t *buf, size_t len, uint32_t *ssrc)
{
    perc_reader r;
    perc_reader_init(&r, buf, len);
    uint8_t b0;
    int rc;
    if ((rc = perc_read_u8(&r, &b0)) || (rc = perc_read_skip(&r, 3)) ||
        (rc = perc_read_u32(&r, ssrc)))
        return rc;
    if ((b0 >> 6) != 2)
        return PERC_ERR_BAD_VERSION;
    return PERC_OK;
}

int perc_srtcp_peek(const uint8_t *buf, size_t len, uint32_t *ssrc, uint32_t *index)
{
    int rc = perc_srtcp_read_ssrc(buf, len, ssrc);
    if (rc)
        return rc;
    if (len < SRTCP_MIN_LEN)
        return PERC_ERR_TRUNCATED;
    *index = perc_load_u32(buf + len - PERC_SRTCP_TRAILER_LEN) & ~SRTCP_E_BIT;
    return PERC_OK;
}

int perc_srtcp_seal(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap, uint32_t index,
                    bool encrypt, size_t *out_len)
{
    if (!s || !buf || !out_len || (index & SRTCP_E_BIT))
        return PERC_ERR_INVALID_ARG;
    uint32_t ssrc;
    int rc = perc_srtcp_read_ssrc(buf, len, &ssrc);
    if (rc)
        return rc;
    if (cap < len || cap - len < PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN)
        return PERC_ERR_NOSPACE;

    uint8_t *tag = buf + len;
    uint8_t *trailer = tag + PERC_SRTP_TAG_LEN;
    perc_store_u32(trailer, (encrypt ? SRTCP_E_BIT : 0) | index);
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtcp_make_iv(s->srtcp_salt, ssrc, index, iv);
    if (encrypt)
        rc = perc_aead_seal(&s->rtcp, iv, buf, RTCP_CLEAR_LEN, trailer, PERC_SRTCP_TRAILER_LEN,
                            buf + RTCP_CLEAR_LEN, len - RTCP_CLEAR_LEN, tag);
    else
        rc = perc_aead_seal(&s->rtcp, iv, buf, len, trailer, PERC_SRTCP_TRAILER_LEN, NULL, 0,
                            tag);
    if (rc)
        return rc;
    *out_len = len + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN;
    return PERC_OK;
}

int perc_srtcp_open(perc_srtp_session *s, uint8_t *buf, size_t len, uint32_t *index,
                    bool *encrypted, size_t *out_len)
{
    if (!s || !buf || !index || !encrypted || !out_len)
        return PERC_ERR_INVALID_ARG;
    uint32_t ssrc;
    int rc = perc_srtcp_read_ssrc(buf, len, &ssrc);
    if (rc)
        return rc;
    if (len < SRTCP_MIN_LEN)
        return PERC_ERR_TRUNCATED;

    size_t rtcp_len = len - PERC_SRTP_TAG_LEN - PERC_SRTCP_TRAILER_LEN;
    const uint8_t *tag = buf + rtcp_len;
    const uint8_t *trailer = tag + PERC_SRTP_TAG_LEN;
    uint32_t word = perc_load_u32(trailer);
    bool e = (word & SRTCP_E_BIT) != 0;
    uint32_t idx = word & ~SRTCP_E_BIT;
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtcp_make_iv(s->srtcp_salt, ssrc, idx, iv);
    if (e)
        rc = perc_aead_open(&s->rtcp, iv, buf, RTCP_CLEAR_LEN, trailer, PERC_SRTCP_TRAILER_LEN,
                            buf + RTCP_CLEAR_LEN, rtcp_len - RTCP_CLEAR_LEN, tag);
    else
        rc = perc_aead_open(&s->rtcp, iv, buf, rtcp_len, trailer, PERC_SRTCP_TRAILER_LEN, NULL,
                            0, tag);
    if (rc)
        return rc;
    *index = idx;
    *encrypted = e;
    *out_len = rtcp_len;
    return PERC_OK;
}
