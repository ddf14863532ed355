/* SRTP with AEAD AES-GCM (RFC 7714 §8): session set-up and the RTP packet
 * transform at an explicit ROC. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "perc/bytes.h"
#include "perc/secret.h"
#include "srtp_session.h"

/* First 8 octets of SHA-256(key || salt): equal keys give equal ids, and
 * distinct keys collide with probability 2^-64, which is fine for a guard
 * against a caller passing the same key twice. Not secret-revealing: a
 * truncated hash of a 128-bit-or-more key. */
static int key_digest(const perc_srtp_session_keys *keys, size_t klen, uint64_t *id)
{
    uint8_t in[PERC_SRTP_MAX_KEY_LEN + PERC_SRTP_SALT_LEN], md[32];
    unsigned int md_len = 0;
    memcpy(in, keys->srtp_key, klen);
    memcpy(in + klen, keys->srtp_salt, PERC_SRTP_SALT_LEN);
    int ok = EVP_Digest(in, klen + PERC_SRTP_SALT_LEN, md, &md_len, EVP_sha256(), NULL);
    perc_wipe(in, sizeof in);
    if (ok != 1)
        return PERC_ERR_CRYPTO;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | md[i];
    perc_wipe(md, sizeof md);
    *id = v;
    return PERC_OK;
}

int perc_srtp_session_new(const perc_srtp_session_keys *keys, perc_srtp_session **out)
{
    if (!keys || !out)
        return PERC_ERR_INVALID_ARG;
    size_t klen = perc_cipher_key_len(keys->cipher);
    if (klen == 0)
        return PERC_ERR_KEY_LENGTH;
    perc_srtp_session *s = calloc(1, sizeof *s);
    if (!s)
        return PERC_ERR_NOMEM;
    s->cipher = keys->cipher;
    int rc;
    if ((rc = perc_aead_init(&s->rtp, keys->cipher, keys->srtp_key, klen)) ||
        (rc = perc_aead_init(&s->rtcp, keys->cipher, keys->srtcp_key, klen))) {
        perc_srtp_session_free(s);
        return rc;
    }
    memcpy(s->srtp_salt, keys->srtp_salt, PERC_SRTP_SALT_LEN);
    memcpy(s->srtcp_salt, keys->srtcp_salt, PERC_SRTP_SALT_LEN);
    if ((rc = key_digest(keys, klen, &s->key_id))) {
        perc_srtp_session_free(s);
        return rc;
    }
    *out = s;
    return PERC_OK;
}

void perc_srtp_session_free(perc_srtp_session *s)
{
    if (!s)
        return;
    perc_aead_cleanup(&s->rtp);
    perc_aead_cleanup(&s->rtcp);
    perc_wipe(s, sizeof *s);
    free(s);
}

perc_srtp_cipher perc_srtp_session_cipher(const perc_srtp_session *s)
{
    return s ? s->cipher : PERC_CIPHER_NONE;
}

bool perc_srtp_session_same_key(const perc_srtp_session *a, const perc_srtp_session *b)
{
    return a == b || (a && b && a->key_id == b->key_id);
}

void perc_srtp_make_iv(const uint8_t salt[PERC_SRTP_SALT_LEN], uint32_t ssrc, uint32_t roc,
                       uint16_t seq, uint8_t iv[PERC_SRTP_IV_LEN])
{
    /* RFC 7714 §8.1: two zero octets, SSRC, ROC, SEQ, XORed with the salt. */
    iv[0] = 0;
    iv[1] = 0;
    perc_store_u32(iv + 2, ssrc);
    perc_store_u32(iv + 6, roc);
    perc_store_u16(iv + 10, seq);
    for (size_t i = 0; i < PERC_SRTP_IV_LEN; i++)
        iv[i] ^= salt[i];
}

int perc_srtp_seal_parts(perc_srtp_session *s, const uint8_t *aad, size_t aad_len, uint32_t ssrc,
                         uint32_t roc, uint16_t seq, uint8_t *data, size_t data_len,
                         uint8_t tag[PERC_SRTP_TAG_LEN])
{
    if (!s || (!aad && aad_len) || (!data && data_len) || !tag)
        return PERC_ERR_INVALID_ARG;
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtp_make_iv(s->srtp_salt, ssrc, roc, seq, iv);
    return perc_aead_seal(&s->rtp, iv, aad, aad_len, NULL, 0, data, data_len, tag);
}

int perc_srtp_open_parts(perc_srtp_session *s, const uint8_t *aad, size_t aad_len, uint32_t ssrc,
                         uint32_t roc, uint16_t seq, uint8_t *data, size_t data_len,
                         const uint8_t tag[PERC_SRTP_TAG_LEN])
{
    if (!s || (!aad && aad_len) || (!data && data_len) || !tag)
        return PERC_ERR_INVALID_ARG;
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtp_make_iv(s->srtp_salt, ssrc, roc, seq, iv);
    return perc_aead_open(&s->rtp, iv, aad, aad_len, NULL, 0, data, data_len, tag);
}

int perc_srtp_layout_of(const uint8_t *buf, size_t len, perc_srtp_layout *out)
{
    /* The checks of perc_rtp_parse_header, in its order, so that every
     * input gets the error it got before. */
    if (len < 2)
        return PERC_ERR_TRUNCATED;
    if ((buf[0] >> 6) != 2)
        return len < PERC_RTP_FIXED_HEADER_LEN ? PERC_ERR_TRUNCATED : PERC_ERR_BAD_VERSION;
    size_t n = PERC_RTP_FIXED_HEADER_LEN + 4u * (size_t)(buf[0] & 0x0F);
    if (len < n)
        return PERC_ERR_TRUNCATED;
    if (buf[0] & 0x10) {
        if (len - n < 4)
            return PERC_ERR_TRUNCATED;
        size_t words = (size_t)perc_load_u16(buf + n + 2);
        n += 4;
        if (len - n < 4 * words)
            return PERC_ERR_TRUNCATED;
        n += 4 * words;
    }
    out->header_len = n;
    out->seq = perc_load_u16(buf + 2);
    out->ssrc = perc_load_u32(buf + 8);
    return PERC_OK;
}

int perc_srtp_seal_hdr(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                       const perc_srtp_layout *h, uint32_t roc, size_t *out_len)
{
    /* RFC 7714 §8.2: header (fixed part, CSRCs, extension) is the AAD,
     * everything after it (padding included) the plaintext, then the tag. */
    if (cap < len || cap - len < PERC_SRTP_TAG_LEN)
        return PERC_ERR_NOSPACE;
    size_t hl = h->header_len;
    int rc = perc_srtp_seal_parts(s, buf, hl, h->ssrc, roc, h->seq, buf + hl, len - hl,
                                  buf + len);
    if (rc)
        return rc;
    *out_len = len + PERC_SRTP_TAG_LEN;
    return PERC_OK;
}

int perc_srtp_open_hdr(perc_srtp_session *s, uint8_t *buf, size_t len, const perc_srtp_layout *h,
                       uint32_t roc, size_t *out_len)
{
    size_t hl = h->header_len;
    if (len - hl < PERC_SRTP_TAG_LEN)
        return PERC_ERR_TRUNCATED;
    size_t data_len = len - hl - PERC_SRTP_TAG_LEN;
    int rc = perc_srtp_open_parts(s, buf, hl, h->ssrc, roc, h->seq, buf + hl, data_len,
                                  buf + hl + data_len);
    if (rc)
        return rc;
    *out_len = hl + data_len;
    return PERC_OK;
}

int perc_srtp_seal_copy(perc_srtp_session *s, const uint8_t *in, size_t len,
                        const perc_srtp_layout *h, uint32_t roc, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    if (cap < len || cap - len < PERC_SRTP_TAG_LEN)
        return PERC_ERR_NOSPACE;
    size_t hl = h->header_len;
    memcpy(out, in, hl);
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtp_make_iv(s->srtp_salt, h->ssrc, roc, h->seq, iv);
    int rc = perc_aead_seal_to(&s->rtp, iv, out, hl, in + hl, out + hl, len - hl, out + len);
    if (rc)
        return rc;
    *out_len = len + PERC_SRTP_TAG_LEN;
    return PERC_OK;
}

int perc_srtp_open_copy(perc_srtp_session *s, const uint8_t *in, size_t len,
                        const perc_srtp_layout *h, uint32_t roc, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    size_t hl = h->header_len;
    if (len - hl < PERC_SRTP_TAG_LEN)
        return PERC_ERR_TRUNCATED;
    size_t data_len = len - hl - PERC_SRTP_TAG_LEN;
    if (cap < hl + data_len)
        return PERC_ERR_NOSPACE;
    memcpy(out, in, hl);
    uint8_t iv[PERC_SRTP_IV_LEN];
    perc_srtp_make_iv(s->srtp_salt, h->ssrc, roc, h->seq, iv);
    int rc = perc_aead_open_to(&s->rtp, iv, out, hl, in + hl, out + hl, data_len,
                               in + hl + data_len);
    if (rc)
        return rc;
    *out_len = hl + data_len;
    return PERC_OK;
}

int perc_srtp_seal(perc_srtp_session *s, uint8_t *buf, size_t len, size_t cap, uint32_t roc,
                   size_t *out_len)
{
    if (!s || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout h;
    int rc = perc_srtp_layout_of(buf, len, &h);
    if (rc)
        return rc;
    return perc_srtp_seal_hdr(s, buf, len, cap, &h, roc, out_len);
}

int perc_srtp_open(perc_srtp_session *s, uint8_t *buf, size_t len, uint32_t roc, size_t *out_len)
{
    if (!s || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout h;
    int rc = perc_srtp_layout_of(buf, len, &h);
    if (rc)
        return rc;
    return perc_srtp_open_hdr(s, buf, len, &h, roc, out_len);
}
