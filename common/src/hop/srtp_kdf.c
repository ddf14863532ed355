/* SRTP session keys: the RFC 3711 §4.3 key derivation at key derivation
 * rate 0 (what DTLS-SRTP uses, RFC 5764 §4.2), or keys taken as given.
 *
 * The PRF is AES in counter mode keyed with the master key (RFC 3711
 * §4.3.3; for 256-bit master keys the AES_256_CM_PRF of RFC 6188 §7, the
 * same construction with AES-256). Its input block is the 112-bit salt
 * XORed with the 56-bit key_id = label || r, right-aligned, followed by a
 * 16-bit block counter; with kdr = 0, r is 0, so only the label octet (at
 * salt octet 7) changes the salt. RFC 7714 §11 keeps this KDF but gives GCM
 * a 96-bit master salt; like libsrtp we place it in the first 12 of the 14
 * salt octets and leave the last two zero. */
#include <string.h>

#include <openssl/evp.h>

#include "perc/secret.h"
#include "perc/srtp.h"

#define KDF_SALT_LEN 14             /* RFC 3711 §4.3: 112-bit master salt */
#define KDF_MAX_OUT 64              /* far below the 2^16 blocks of one counter run */

/* RFC 3711 §4.3.1 labels (the auth-key labels 0x01/0x04 are unused by GCM). */
enum {
    LABEL_SRTP_KEY = 0x00,
    LABEL_SRTP_SALT = 0x02,
    LABEL_SRTCP_KEY = 0x03,
    LABEL_SRTCP_SALT = 0x05,
};

/* One PRF run on a context that already holds the master key. */
static int prf_run(EVP_CIPHER_CTX *ctx, const uint8_t salt[KDF_SALT_LEN], uint8_t label,
                   uint8_t *out, size_t out_len)
{
    static const uint8_t zeros[KDF_MAX_OUT];
    uint8_t block[16];
    int rc = PERC_ERR_CRYPTO;
    int outl = 0;

    /* x = key_id XOR salt, key_id = label || 48 zero bits at the right
     * end of the 112 bits; the block is x * 2^16 (counter starts at 0). */
    memcpy(block, salt, KDF_SALT_LEN);
    block[7] ^= label;
    block[14] = 0;
    block[15] = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, block) != 1)
        goto out;
    /* The keystream is the output: encrypt zeros. */
    if (EVP_EncryptUpdate(ctx, out, &outl, zeros, (int)out_len) != 1 || (size_t)outl != out_len)
        goto out;
    rc = PERC_OK;
out:
    perc_wipe(block, sizeof block);
    return rc;
}

static const EVP_CIPHER *prf_cipher(size_t key_len)
{
    switch (key_len) {
    case 16:
        return EVP_aes_128_ctr();
    case 32:
        return EVP_aes_256_ctr();
    default:
        return NULL;
    }
}

/* A context keyed with the master key, or NULL. */
static int prf_ctx_new(const uint8_t *master_key, size_t key_len, EVP_CIPHER_CTX **out)
{
    const EVP_CIPHER *c = prf_cipher(key_len);
    if (!c || !master_key)
        return PERC_ERR_KEY_LENGTH;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return PERC_ERR_NOMEM;
    if (EVP_EncryptInit_ex(ctx, c, NULL, master_key, NULL) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return PERC_ERR_CRYPTO;
    }
    *out = ctx;
    return PERC_OK;
}

/* The 12-octet master salt of RFC 7714 goes in front of two zero octets;
 * a full 14-octet salt (RFC 3711's own length) is used as it is. */
static int pad_salt(const uint8_t *master_salt, size_t salt_len, uint8_t salt[KDF_SALT_LEN])
{
    if (!master_salt || (salt_len != PERC_SRTP_SALT_LEN && salt_len != KDF_SALT_LEN))
        return PERC_ERR_KEY_LENGTH;
    memset(salt, 0, KDF_SALT_LEN);
    memcpy(salt, master_salt, salt_len);
    return PERC_OK;
}

int perc_srtp_prf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
                  size_t salt_len, uint8_t label, uint8_t *out, size_t out_len)
{
    if (!out || out_len == 0 || out_len > KDF_MAX_OUT)
        return PERC_ERR_INVALID_ARG;
    uint8_t salt[KDF_SALT_LEN];
    EVP_CIPHER_CTX *ctx = NULL;
    int rc = pad_salt(master_salt, salt_len, salt);
    if (rc)
        goto out;
    if ((rc = prf_ctx_new(master_key, key_len, &ctx)))
        goto out;
    rc = prf_run(ctx, salt, label, out, out_len);
out:
    if (rc && out && out_len <= KDF_MAX_OUT)
        perc_wipe(out, out_len);
    EVP_CIPHER_CTX_free(ctx);
    perc_wipe(salt, sizeof salt);
    return rc;
}

int perc_srtp_kdf(perc_srtp_cipher cipher, const uint8_t *master_key, size_t key_len,
                  const uint8_t *master_salt, size_t salt_len, perc_srtp_session_keys *out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    size_t klen = perc_cipher_key_len(cipher);
    if (klen == 0 || key_len != klen || salt_len != PERC_SRTP_SALT_LEN)
        return PERC_ERR_KEY_LENGTH;

    uint8_t salt[KDF_SALT_LEN];
    EVP_CIPHER_CTX *ctx = NULL;
    perc_srtp_session_keys k;
    memset(&k, 0, sizeof k);
    k.cipher = cipher;
    int rc = pad_salt(master_salt, salt_len, salt);
    if (rc)
        goto out;
    if ((rc = prf_ctx_new(master_key, key_len, &ctx)))
        goto out;
    /* RFC 7714 §11: the session salt is the first 96 bits of the salt
     * label's output, the key as long as the cipher's. */
    if ((rc = prf_run(ctx, salt, LABEL_SRTP_KEY, k.srtp_key, klen)) ||
        (rc = prf_run(ctx, salt, LABEL_SRTP_SALT, k.srtp_salt, PERC_SRTP_SALT_LEN)) ||
        (rc = prf_run(ctx, salt, LABEL_SRTCP_KEY, k.srtcp_key, klen)) ||
        (rc = prf_run(ctx, salt, LABEL_SRTCP_SALT, k.srtcp_salt, PERC_SRTP_SALT_LEN)))
        goto out;
    *out = k;
out:
    perc_wipe(&k, sizeof k);
    perc_wipe(salt, sizeof salt);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int perc_srtp_keys_direct(perc_srtp_cipher cipher, const uint8_t *key, size_t key_len,
                          const uint8_t *salt, size_t salt_len, perc_srtp_session_keys *out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    size_t klen = perc_cipher_key_len(cipher);
    if (klen == 0 || !key || !salt || key_len != klen || salt_len != PERC_SRTP_SALT_LEN)
        return PERC_ERR_KEY_LENGTH;
    perc_srtp_keys_wipe(out);
    out->cipher = cipher;
    memcpy(out->srtp_key, key, klen);
    memcpy(out->srtp_salt, salt, PERC_SRTP_SALT_LEN);
    memcpy(out->srtcp_key, key, klen);
    memcpy(out->srtcp_salt, salt, PERC_SRTP_SALT_LEN);
    return PERC_OK;
}

void perc_srtp_keys_wipe(perc_srtp_session_keys *keys)
{
    if (keys)
        perc_wipe(keys, sizeof *keys);
}
