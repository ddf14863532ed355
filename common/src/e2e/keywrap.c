/* AES Key Wrap with Padding (RFC 5649) on OpenSSL's EVP wrap-pad ciphers.
 *
 * OpenSSL implements the whole of RFC 5649 §4 (alternative IV, MLI and
 * padding checks, the single-block case of §4.1); wrap-mode ciphers must be
 * allowed explicitly on the context. We run them into a stack buffer so
 * that OpenSSL's own idea of the output size never meets the caller's, and
 * so that nothing reaches the caller's buffer unless it verified. */
#include "perc/keywrap.h"

#include <string.h>

#include <openssl/evp.h>

#include "perc/secret.h"

static const EVP_CIPHER *wrap_cipher(size_t kek_len)
{
    switch (kek_len) {
    case 16:
        return EVP_aes_128_wrap_pad();
    case 24:
        return EVP_aes_192_wrap_pad();
    case 32:
        return EVP_aes_256_wrap_pad();
    default:
        return NULL;
    }
}

size_t perc_keywrap_wrapped_len(size_t m)
{
    if (m == 0)
        return 0;
    /* RFC 5649 §4.1: pad to whole 64-bit blocks, plus the 64-bit AIV. */
    return 8 * ((m + 7) / 8) + 8;
}

/* One pass of the wrap cipher over in, into work (which holds at least
 * in_len + 16 octets). Returns the output length through *n. */
static int run(const EVP_CIPHER *cipher, int enc, const uint8_t *kek, const uint8_t *in,
               size_t in_len, uint8_t *work, size_t *n)
{
    int rc = PERC_ERR_CRYPTO;
    int outl = 0, finl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        goto out;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    /* A NULL IV selects RFC 5649's default alternative IV A6 59 59 A6. */
    if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc) != 1)
        goto out;
    if (EVP_CipherUpdate(ctx, work, &outl, in, (int)in_len) != 1 ||
        EVP_CipherFinal_ex(ctx, work + outl, &finl) != 1) {
        /* On unwrap this is the integrity check failing (RFC 5649 §4.2);
         * on wrap the inputs were already validated, so it is OpenSSL. */
        rc = enc ? PERC_ERR_CRYPTO : PERC_ERR_AUTH;
        goto out;
    }
    if (outl < 0 || finl < 0)
        goto out;
    *n = (size_t)outl + (size_t)finl;
    rc = PERC_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int perc_keywrap_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                      uint8_t *out, size_t cap, size_t *out_len)
{
    const EVP_CIPHER *cipher = wrap_cipher(kek_len);
    if (!kek || !cipher)
        return PERC_ERR_KEY_LENGTH;
    if (!in || in_len == 0 || in_len > PERC_KEYWRAP_MAX_PLAIN || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    size_t want = perc_keywrap_wrapped_len(in_len);
    if (cap < want)
        return PERC_ERR_NOSPACE;

    uint8_t work[PERC_KEYWRAP_MAX_WRAPPED + 16];
    size_t n = 0;
    int rc = run(cipher, 1, kek, in, in_len, work, &n);
    if (rc == PERC_OK && n != want)
        rc = PERC_ERR_CRYPTO;
    if (rc == PERC_OK) {
        memcpy(out, work, n);
        *out_len = n;
    }
    /* The work buffer held the wrapped key only, but OpenSSL may have left
     * intermediate state there; it costs nothing to clear. */
    perc_wipe(work, sizeof work);
    return rc;
}

int perc_keywrap_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    const EVP_CIPHER *cipher = wrap_cipher(kek_len);
    if (!kek || !cipher)
        return PERC_ERR_KEY_LENGTH;
    if (!in || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    /* RFC 5649 §4.2: a wrap is whole 64-bit blocks, at least two. Anything
     * else cannot have come from a wrap, which to the caller is the same
     * as failing the integrity check. */
    if (in_len < 16 || in_len % 8 != 0 || in_len > PERC_KEYWRAP_MAX_WRAPPED)
        return PERC_ERR_AUTH;

    uint8_t work[PERC_KEYWRAP_MAX_WRAPPED + 16];
    size_t n = 0;
    int rc = run(cipher, 0, kek, in, in_len, work, &n);
    if (rc == PERC_OK && (n == 0 || n > in_len - 8))
        rc = PERC_ERR_AUTH; /* cannot happen after OpenSSL's MLI check; belt and braces */
    if (rc == PERC_OK && cap < n)
        rc = PERC_ERR_NOSPACE;
    if (rc == PERC_OK) {
        memcpy(out, work, n);
        *out_len = n;
    }
    perc_wipe(work, sizeof work);
    return rc;
}
