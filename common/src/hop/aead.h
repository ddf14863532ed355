/* AES-GCM on one OpenSSL EVP_CIPHER_CTX per key (internal to libperc).
 *
 * The key schedule is computed once when the context is set up; each packet
 * then only installs its 12-octet IV, feeds the AAD and the data, and takes
 * or checks the 16-octet tag. Nothing is allocated per packet. The AAD may
 * come in two pieces because SRTCP authenticates the packet (or its first
 * 8 octets) followed by the E||index word that sits after the tag
 * (RFC 7714 §9.1), and the two are not adjacent in memory.
 *
 * A perc_aead is not safe for concurrent use: the IV and the running GCM
 * state live in the one context.
 */
#ifndef PERC_HOP_AEAD_H
#define PERC_HOP_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "perc/error.h"
#include "perc/profile.h"

typedef struct perc_aead {
    EVP_CIPHER_CTX *ctx;
    int dir;                /* 1 sealing, 0 opening: what ctx was last initialised for */
} perc_aead;

/* Sets the key. Errors: PERC_ERR_KEY_LENGTH (key_len does not match the
 * cipher, or an unknown cipher), PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_aead_init(perc_aead *a, perc_srtp_cipher cipher, const uint8_t *key,
                                   size_t key_len);
/* Frees the context (OpenSSL wipes the key schedule); safe on a zeroed or
 * already cleaned-up perc_aead. */
void perc_aead_cleanup(perc_aead *a);

/* Encrypts data in place and writes the tag. aad2 may be NULL when
 * aad2_len is 0. Errors: PERC_ERR_TOO_LARGE (a length over INT_MAX),
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_aead_seal(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN],
                                   const uint8_t *aad1, size_t aad1_len,
                                   const uint8_t *aad2, size_t aad2_len,
                                   uint8_t *data, size_t data_len,
                                   uint8_t tag[PERC_SRTP_TAG_LEN]);

/* Decrypts data in place and checks the tag. PERC_ERR_AUTH if it does not
 * verify (data is then zeroed: the ciphertext is gone, so a caller that
 * wants to try another key must keep a copy); PERC_ERR_TOO_LARGE,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_aead_open(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN],
                                   const uint8_t *aad1, size_t aad1_len,
                                   const uint8_t *aad2, size_t aad2_len,
                                   uint8_t *data, size_t data_len,
                                   const uint8_t tag[PERC_SRTP_TAG_LEN]);

/* The same, out of place: in[0..data_len) is read, out[0..data_len)
 * written (they may be equal, not otherwise overlap). A relay sealing one
 * plaintext for many receivers writes each copy while encrypting it
 * instead of copying first and encrypting in place. open_to zeroes out on
 * PERC_ERR_AUTH. */
PERC_MUST_CHECK int perc_aead_seal_to(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN],
                                      const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                      uint8_t *out, size_t data_len,
                                      uint8_t tag[PERC_SRTP_TAG_LEN]);
PERC_MUST_CHECK int perc_aead_open_to(perc_aead *a, const uint8_t iv[PERC_SRTP_IV_LEN],
                                      const uint8_t *aad, size_t aad_len, const uint8_t *in,
                                      uint8_t *out, size_t data_len,
                                      const uint8_t tag[PERC_SRTP_TAG_LEN]);

#endif
