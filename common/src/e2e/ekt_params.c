/* EKT parameter sets, EKTPlaintext and the Full field's ciphertext
 * (RFC 8870 §4.1, §4.3, §4.4.1). */
#include <string.h>

#include "perc/ekt.h"
#include "perc/keywrap.h"
#include "perc/secret.h"

#define NS_PER_S UINT64_C(1000000000)

size_t perc_ekt_cipher_key_len(uint8_t cipher)
{
    /* §4.4.1: AESKW128 takes a 16-octet EKTKey, AESKW256 a 32-octet one. */
    switch (cipher) {
    case PERC_EKT_CIPHER_AESKW_128:
        return 16;
    case PERC_EKT_CIPHER_AESKW_256:
        return 32;
    default:
        return 0;
    }
}

int perc_ekt_params_set(perc_ekt_params *p, uint8_t cipher, const uint8_t *key, size_t key_len,
                        const uint8_t *salt, size_t salt_len, uint16_t spi, uint32_t ttl_s,
                        uint64_t now_ns)
{
    if (!p || !key || !salt)
        return PERC_ERR_INVALID_ARG;
    size_t want = perc_ekt_cipher_key_len(cipher);
    if (want == 0)
        return PERC_ERR_INVALID_ARG;
    if (key_len != want || salt_len == 0 || salt_len > PERC_EKT_MAX_SALT_LEN)
        return PERC_ERR_KEY_LENGTH;
    if (ttl_s > PERC_EKT_MAX_TTL)
        return PERC_ERR_TOO_LARGE;
    perc_ekt_params_wipe(p);
    p->cipher = (perc_ekt_cipher)cipher;
    p->spi = spi;
    p->ttl_s = ttl_s;
    p->received_ns = now_ns;
    p->key_len = key_len;
    memcpy(p->key, key, key_len);
    p->salt_len = salt_len;
    memcpy(p->salt, salt, salt_len);
    return PERC_OK;
}

bool perc_ekt_params_expired(const perc_ekt_params *p, uint64_t now_ns)
{
    /* A clock reading from before the key arrived cannot be past its TTL. */
    if (now_ns < p->received_ns)
        return p->ttl_s == 0;
    return now_ns - p->received_ns >= (uint64_t)p->ttl_s * NS_PER_S;
}

bool perc_ekt_params_same(const perc_ekt_params *a, const perc_ekt_params *b)
{
    if (a->cipher != b->cipher || a->spi != b->spi || a->key_len != b->key_len ||
        a->salt_len != b->salt_len)
        return false;
    /* Both comparisons always run, so timing says nothing about which
     * secret differed. */
    bool k = perc_secret_equal(a->key, b->key, a->key_len);
    bool s = perc_secret_equal(a->salt, b->salt, a->salt_len);
    return k & s;
}

void perc_ekt_params_wipe(perc_ekt_params *p)
{
    if (p)
        perc_wipe(p, sizeof *p);
}

int perc_ekt_plaintext_encode(const uint8_t *master_key, size_t key_len, uint32_t ssrc,
                              uint32_t roc, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!master_key || key_len == 0 || key_len > PERC_EKT_MAX_MASTER_KEY_LEN)
        return PERC_ERR_INVALID_ARG;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u8(&w, (uint8_t)key_len);
    perc_write_bytes(&w, master_key, key_len);
    perc_write_u32(&w, ssrc);
    perc_write_u32(&w, roc);
    return perc_writer_finish(&w, out_len);
}

int perc_ekt_plaintext_decode(const uint8_t *in, size_t len, perc_ekt_plaintext *out)
{
    perc_reader r;
    perc_reader_init(&r, in, len);
    perc_ekt_plaintext_wipe(out);
    uint8_t key_len;
    int rc;
    if ((rc = perc_read_u8(&r, &key_len)))
        goto fail;
    /* §4.1: SRTPMasterKey is 1*242BYTE. */
    if (key_len == 0 || key_len > PERC_EKT_MAX_MASTER_KEY_LEN) {
        rc = PERC_ERR_MALFORMED;
        goto fail;
    }
    out->master_key_len = key_len;
    if ((rc = perc_read_copy(&r, out->master_key, key_len)) || (rc = perc_read_u32(&r, &out->ssrc)) ||
        (rc = perc_read_u32(&r, &out->roc)) || (rc = perc_reader_expect_end(&r)))
        goto fail;
    return PERC_OK;
fail:
    perc_ekt_plaintext_wipe(out);
    return rc;
}

void perc_ekt_plaintext_wipe(perc_ekt_plaintext *pt)
{
    if (pt)
        perc_wipe(pt, sizeof *pt);
}

int perc_ekt_full_field_make(const perc_ekt_params *p, const uint8_t *master_key, size_t key_len,
                             uint32_t ssrc, uint32_t roc, uint16_t epoch, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    if (!p || !master_key || key_len == 0 || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    if (key_len > PERC_EKT_MAX_MASTER_KEY_LEN ||
        perc_keywrap_wrapped_len(1 + key_len + 8) > PERC_EKT_CIPHERTEXT_MAX)
        return PERC_ERR_TOO_LARGE;

    uint8_t pt[1 + PERC_EKT_MAX_MASTER_KEY_LEN + 8];
    uint8_t ct[PERC_EKT_CIPHERTEXT_MAX];
    size_t pt_len = 0, ct_len = 0;
    int rc = perc_ekt_plaintext_encode(master_key, key_len, ssrc, roc, pt, sizeof pt, &pt_len);
    if (rc)
        goto out;
    /* §4.4.1: the default EKT cipher is AES key wrap with padding under
     * the EKTKey; the cipher choice only fixes the EKTKey's length. */
    if ((rc = perc_keywrap_wrap(p->key, p->key_len, pt, pt_len, ct, sizeof ct, &ct_len)))
        goto out;
    rc = perc_ekt_full_build(ct, ct_len, p->spi, epoch, out, cap, out_len);
out:
    perc_wipe(pt, sizeof pt);
    return rc;
}

int perc_ekt_full_field_open(const perc_ekt_params *p, const perc_ekt_full *f,
                             perc_ekt_plaintext *out)
{
    if (!p || !f || !out)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_plaintext_wipe(out);
    if (f->spi != p->spi)
        return PERC_ERR_UNKNOWN_SPI;

    uint8_t pt[PERC_EKT_CIPHERTEXT_MAX];
    size_t pt_len = 0;
    int rc = perc_keywrap_unwrap(p->key, p->key_len, f->ciphertext.ptr, f->ciphertext.len, pt,
                                 sizeof pt, &pt_len);
    if (rc == PERC_ERR_NOSPACE)
        rc = PERC_ERR_AUTH; /* cannot be: the ciphertext is at most 251 octets */
    if (rc)
        goto out;
    /* Only a holder of the EKTKey can produce a wrap that verifies, yet what
     * it holds may still not be an EKTPlaintext. */
    if (perc_ekt_plaintext_decode(pt, pt_len, out) != PERC_OK)
        rc = PERC_ERR_MALFORMED;
out:
    perc_wipe(pt, sizeof pt);
    return rc;
}
