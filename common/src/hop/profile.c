/* The SRTP protection profiles libperc implements: the two RFC 7714 AEAD
 * profiles (RFC 7714 §14.2) and the two double profiles built on them
 * (RFC 8723 §10.1), whose key and salt are the two halves put together. */
#include "perc/profile.h"

static const perc_profile_info PROFILES[] = {
    {PERC_PROFILE_AEAD_AES_128_GCM, "SRTP_AEAD_AES_128_GCM", false, PERC_AES128_GCM, 16, 12},
    {PERC_PROFILE_AEAD_AES_256_GCM, "SRTP_AEAD_AES_256_GCM", false, PERC_AES256_GCM, 32, 12},
    {PERC_PROFILE_DOUBLE_AES_128_GCM, "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM", true,
     PERC_AES128_GCM, 32, 24},
    {PERC_PROFILE_DOUBLE_AES_256_GCM, "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM", true,
     PERC_AES256_GCM, 64, 24},
};

const perc_profile_info *perc_profile_lookup(uint16_t id)
{
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++) {
        if (PROFILES[i].id == id)
            return &PROFILES[i];
    }
    return NULL;
}

size_t perc_cipher_key_len(perc_srtp_cipher c)
{
    switch (c) {
    case PERC_AES128_GCM:
        return 16;
    case PERC_AES256_GCM:
        return 32;
    case PERC_CIPHER_NONE:
        break;
    }
    return 0;
}
