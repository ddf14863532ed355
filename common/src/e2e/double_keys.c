/* Splitting double-profile keying material into its inner and outer halves
 * (RFC 8723 §3, §10.1; exporter layout of RFC 5764 §4.2). */
#include "perc/double_endpoint.h"

#include <string.h>

#include "perc/secret.h"

/* The double profile's info, or NULL for anything else. */
static const perc_profile_info *double_profile(uint16_t profile)
{
    const perc_profile_info *pi = perc_profile_lookup(profile);
    if (!pi || !pi->is_double)
        return NULL;
    return pi;
}

size_t perc_double_exporter_len(uint16_t profile)
{
    const perc_profile_info *pi = double_profile(profile);
    return pi ? 2 * (pi->master_key_len + pi->master_salt_len) : 0;
}

static void fill_half(perc_double_half *h, perc_srtp_cipher cipher, const uint8_t *key,
                      size_t key_len, const uint8_t *salt)
{
    h->cipher = cipher;
    h->key_len = key_len;
    memcpy(h->key, key, key_len);
    memcpy(h->salt, salt, PERC_SRTP_SALT_LEN);
}

int perc_double_split_master(uint16_t profile, const uint8_t *key, size_t key_len,
                             const uint8_t *salt, size_t salt_len, perc_double_master *out)
{
    if (!key || !salt || !out)
        return PERC_ERR_INVALID_ARG;
    const perc_profile_info *pi = double_profile(profile);
    if (!pi)
        return PERC_ERR_UNSUPPORTED;
    size_t half = key_len / 2;
    if (key_len != pi->master_key_len || salt_len != pi->master_salt_len ||
        salt_len != PERC_DOUBLE_SALT_LEN || half != perc_cipher_key_len(pi->cipher))
        return PERC_ERR_KEY_LENGTH;
    memset(out, 0, sizeof *out);
    /* §10.1: first half of key and of salt is the inner (end-to-end)
     * algorithm's, second half the outer (hop-by-hop) one's. */
    fill_half(&out->inner, pi->cipher, key, half, salt);
    fill_half(&out->outer, pi->cipher, key + half, half, salt + PERC_SRTP_SALT_LEN);
    return PERC_OK;
}

int perc_double_split_exporter(uint16_t profile, const uint8_t *material, size_t len,
                               perc_double_keying *out)
{
    if (!material || !out)
        return PERC_ERR_INVALID_ARG;
    const perc_profile_info *pi = double_profile(profile);
    if (!pi)
        return PERC_ERR_UNSUPPORTED;
    if (len != perc_double_exporter_len(profile))
        return PERC_ERR_KEY_LENGTH;
    size_t k = pi->master_key_len, s = pi->master_salt_len;
    /* RFC 5764 §4.2: both keys first, then both salts, client before
     * server in each pair. */
    perc_reader r;
    perc_view ck, sk, cs, ss;
    perc_reader_init(&r, material, len);
    int rc;
    if ((rc = perc_read_view(&r, k, &ck)) || (rc = perc_read_view(&r, k, &sk)) ||
        (rc = perc_read_view(&r, s, &cs)) || (rc = perc_read_view(&r, s, &ss)) ||
        (rc = perc_reader_expect_end(&r)))
        return rc;
    perc_double_keying tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.profile = profile;
    if ((rc = perc_double_split_master(profile, ck.ptr, k, cs.ptr, s, &tmp.client_write)) ||
        (rc = perc_double_split_master(profile, sk.ptr, k, ss.ptr, s, &tmp.server_write)))
        goto out;
    *out = tmp;
out:
    perc_double_keying_wipe(&tmp);
    return rc;
}

void perc_double_master_wipe(perc_double_master *m)
{
    if (m)
        perc_wipe(m, sizeof *m);
}

void perc_double_keying_wipe(perc_double_keying *k)
{
    if (k)
        perc_wipe(k, sizeof *k);
}

int perc_double_half_kdf(const perc_double_half *h, perc_srtp_session_keys *out)
{
    if (!h || !out)
        return PERC_ERR_INVALID_ARG;
    /* §3.1 as resolved in the spec README (item 2): each half is keyed
     * with its own salt, as an independent RFC 7714 context. */
    return perc_srtp_kdf(h->cipher, h->key, h->key_len, h->salt, PERC_SRTP_SALT_LEN, out);
}
