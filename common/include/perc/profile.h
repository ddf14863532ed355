/* SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2, RFC 8723 §10.1)
 * and their key and salt lengths. */
#ifndef PERC_PROFILE_H
#define PERC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum perc_srtp_cipher {
    PERC_CIPHER_NONE = 0,
    PERC_AES128_GCM = 1,
    PERC_AES256_GCM = 2,
} perc_srtp_cipher;

typedef enum perc_profile {
    PERC_PROFILE_AEAD_AES_128_GCM = 0x0007,
    PERC_PROFILE_AEAD_AES_256_GCM = 0x0008,
    PERC_PROFILE_DOUBLE_AES_128_GCM = 0x0009,
    PERC_PROFILE_DOUBLE_AES_256_GCM = 0x000A,
} perc_profile;

typedef struct perc_profile_info {
    uint16_t id;
    const char *name;           /* as in the IANA registry */
    bool is_double;
    perc_srtp_cipher cipher;    /* cipher of each layer */
    size_t master_key_len;      /* the profile's full master key (both halves for double) */
    size_t master_salt_len;     /* likewise */
} perc_profile_info;

/* NULL for a profile this code does not implement. */
const perc_profile_info *perc_profile_lookup(uint16_t id);

/* 16 or 32; 0 for PERC_CIPHER_NONE or an unknown value. */
size_t perc_cipher_key_len(perc_srtp_cipher c);

#define PERC_SRTP_SALT_LEN 12           /* RFC 7714 §11: 96-bit master and session salt */
#define PERC_SRTP_TAG_LEN 16            /* RFC 7714 §7: 16-octet GCM tag */
#define PERC_SRTP_MAX_KEY_LEN 32
#define PERC_SRTP_IV_LEN 12
#define PERC_SRTCP_TRAILER_LEN 4        /* E bit + 31-bit SRTCP index */

#endif
