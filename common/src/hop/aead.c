/* AES-GCM through EVP with the key schedule kept across packets. */
#include "aead.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>

static const char *gcm_name(perc_srtp_cipher cipher)
{
    switch (cipher) {
    case PERC_AES128_GCM:
        return "AES-128-GCM";
    case PERC_AES256_GCM:
        return "AES-256-GCM";
    case PERC_CIPHER_NONE:
        break;
    }
    return NULL;
}

int perc_aead_init(perc_aead *a, perc_srtp_cipher cipher, const uint8_t *key, size_t key_len)
{
    a->ctx = NULL;
    a->dir = 1;
    const char *name = gcm_name(cipher);
    if (!name || key == NULL || key_len != perc_cipher_key_len(cipher))
        return PERC_ERR_KEY_LENGTH;

    int rc = PERC_ERR_CRYPTO;
    EVP_CIPHER *evp = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) {
        rc = PERC_ERR_NOMEM;
        goto out;
    }
    if (!evp)
        goto out;
    /* RFC 7714 §8.1/§9.1: the IV is 12 octets, GCM's default; the IV
     * itself comes with each packet. */
    if (EVP_EncryptInit_ex(ctx, evp, NULL, key, NULL) != 1)
        goto out;
    a->ctx = ctx;
    ctx = NULL;
    rc = PERC_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(evp);
    return rc;
}

void perc_aead_cleanup(perc_aead *a)
{
    if (a && a->ctx) {
        EVP_CIPHER_CTX_free(a->ctx);
        a->ctx = NULL;
    }
}

/* Installs the next packet's IV. EVP_CipherInit_ex2 is needed only when
 * the direction changes: on OpenSSL 3.0 it also queries the IV length
 * from the provider on every call, a parameter lookup by name that cost
 * more than the AES-GCM work on an audio-sized packet (bench/,
 * docs/performance.md). GCM's "set the whole fixed IV" control (length
 * -1, from the TLS record code) installs the 12 octets without it; should
 * a provider refuse it, the full re-init is used instead. */
static int set_iv(perc_aead *a, int enc, const uint8_t iv[PERC_SRTP_IV_LEN])
{
    if (a->dir == enc) {
        uint8_t copy[PERC_SRTP_IV_LEN]; /* the control takes a non-const pointer */
        memcpy(copy, iv, sizeof copy);
        if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_IV_FIXED, -1, copy) == 1)
            return PERC_OK;
    }
    if (EVP_CipherInit_ex2(a->ctx, NULL, NULL, iv, enc, NULL) != 1)
        return PERC_ERR_CRYPTO;
    a->dir = enc;
    return PERC_OK;
}

/* Feeds both AAD pieces and (en|de)crypts in into out (possibly in place):
 * one IV install and at most three EVP updates, so the per-packet cost is
 * GCM itself. */
static int run(perc_aead *a, int enc, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad1,
               size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
               uint8_t *out, size_t data_len)
{
    if (aad1_len > INT_MAX || aad2_len > INT_MAX || data_len > INT_MAX)
        return PERC_ERR_TOO_LARGE;
    if (!a->ctx)
        return PERC_ERR_STATE;
    int outl = 0;
    int rc = set_iv(a, enc, iv);
    if (rc)
        return rc;
    if (aad1_len > 0 && EVP_CipherUpdate(a->ctx, NULL, &outl, aad1, (int)aad1_len) != 1)
        return PERC_ERR_CRYPTO;
    if (aad2_len > 0 && EVP_CipherUpdate(a->ctx, NULL, &outl, aad2, (int)aad2_len) != 1)
        return PERC_ERR_CRYPTO;
    if (data_len > 0) {
        if (EVP_CipherUpdate(a->ctx, out, &outl, in, (int)data_len) != 1 ||
            (size_t)outl != data_len)
            return PERC_ERR_CRYPTO;
    }
    return PERC_OK;
}

static int seal(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad1,
                size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
                uint8_t *out, size_t data_len, uint8_t tag[PERC_SRTP_TAG_LEN])
{
    int rc = run(a, 1, iv, aad1, aad1_len, aad2, aad2_len, in, out, data_len);
    if (rc)
        return rc;
    int outl = 0;
    uint8_t last[16];
    /* GCM is a stream mode: Final produces no bytes, only the tag. */
    if (EVP_EncryptFinal_ex(a->ctx, last, &outl) != 1 || outl != 0)
        return PERC_ERR_CRYPTO;
    /* The tag through OSSL_PARAM directly: the same as the GCM_GET_TAG
     * ctrl, minus its translation layer, on the hot path. */
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
                                                  PERC_SRTP_TAG_LEN);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_CIPHER_CTX_get_params(a->ctx, params) != 1)
        return PERC_ERR_CRYPTO;
    return PERC_OK;
}

static int open_(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad1,
                 size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *in,
                 uint8_t *out, size_t data_len, const uint8_t tag[PERC_SRTP_TAG_LEN])
{
    int rc = run(a, 0, iv, aad1, aad1_len, aad2, aad2_len, in, out, data_len);
    if (rc)
        return rc;
    /* OSSL_PARAM takes a non-const pointer; hand it a copy. */
    uint8_t expected[PERC_SRTP_TAG_LEN];
    memcpy(expected, tag, sizeof expected);
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, expected,
                                                  PERC_SRTP_TAG_LEN);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_CIPHER_CTX_set_params(a->ctx, params) != 1)
        return PERC_ERR_CRYPTO;
    int outl = 0;
    uint8_t last[16];
    /* OpenSSL compares the tag in constant time; a mismatch is the only
     * way DecryptFinal fails once the tag was accepted above. */
    if (EVP_DecryptFinal_ex(a->ctx, last, &outl) != 1) {
        /* Unauthenticated plaintext must not reach anyone (RFC 5116 §2.2);
         * zero it so a caller that forgets to drop the packet gets nothing. */
        if (data_len > 0)
            memset(out, 0, data_len);
        return PERC_ERR_AUTH;
    }
    return PERC_OK;
}

int perc_aead_seal(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad1,
                   size_t aad1_len, const uint8_t *aad2, size_t aad2_len, uint8_t *data,
                   size_t data_len, uint8_t tag[PERC_SRTP_TAG_LEN])
{
    return seal(a, iv, aad1, aad1_len, aad2, aad2_len, data, data, data_len, tag);
}

int perc_aead_open(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad1,
                   size_t aad1_len, const uint8_t *aad2, size_t aad2_len, uint8_t *data,
                   size_t data_len, const uint8_t tag[PERC_SRTP_TAG_LEN])
{
    return open_(a, iv, aad1, aad1_len, aad2, aad2_len, data, data, data_len, tag);
}

int perc_aead_seal_to(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad,
                      size_t aad_len, const uint8_t *in, uint8_t *out, size_t data_len,
                      uint8_t tag[PERC_SRTP_TAG_LEN])
{
    return seal(a, iv, aad, aad_len, NULL, 0, in, out, data_len, tag);
}

int perc_aead_open_to(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN], const uint8_t *aad,
                      size_t aad_len, const uint8_t *in, uint8_t *out, size_t data_len,
                      const uint8_t tag[PERC_SRTP_TAG_LEN])
{
    return open_(a, iv, aad, aad_len, NULL, 0, in, out, data_len, tag);
}
