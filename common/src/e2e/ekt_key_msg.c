/* The EKTKey handshake message body (RFC 8870 §5.2.2) and the
 * supported_ekt_ciphers extension bodies (§5.2.1). The DTLS adapter frames
 * them; only their contents are here. */
#include <string.h>

#include "perc/ekt.h"
#include "perc/secret.h"

#define KEY_MSG_VECTOR_MAX 256  /* <1..256> for both ekt_key_value and srtp_master_salt */

int perc_ekt_key_msg_encode(const perc_ekt_key_msg *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!m || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    if (m->key_len == 0 || m->key_len > KEY_MSG_VECTOR_MAX || m->salt_len == 0 ||
        m->salt_len > KEY_MSG_VECTOR_MAX)
        return PERC_ERR_INVALID_ARG;
    if (m->ttl_s > PERC_EKT_MAX_TTL)
        return PERC_ERR_TOO_LARGE;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    /* <1..256> needs two length octets, though the vectors are short. */
    perc_write_vector(&w, 2, m->key, m->key_len);
    perc_write_vector(&w, 2, m->salt, m->salt_len);
    perc_write_u16(&w, m->spi);
    perc_write_u24(&w, m->ttl_s);
    return perc_writer_finish(&w, out_len);
}

/* Reads one opaque<1..256> vector into dst (256 octets of room). */
static int read_secret_vector(perc_reader *r, uint8_t *dst, size_t *dst_len)
{
    perc_view v;
    int rc = perc_read_vector(r, 2, &v);
    if (rc)
        return rc;
    if (v.len == 0 || v.len > KEY_MSG_VECTOR_MAX)
        return PERC_ERR_MALFORMED;
    memcpy(dst, v.ptr, v.len);
    *dst_len = v.len;
    return PERC_OK;
}

int perc_ekt_key_msg_decode(const uint8_t *in, size_t len, perc_ekt_key_msg *out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_key_msg_wipe(out);
    perc_reader r;
    perc_reader_init(&r, in, len);
    int rc;
    if ((rc = read_secret_vector(&r, out->key, &out->key_len)) ||
        (rc = read_secret_vector(&r, out->salt, &out->salt_len)) ||
        (rc = perc_read_u16(&r, &out->spi)) || (rc = perc_read_u24(&r, &out->ttl_s)) ||
        (rc = perc_reader_expect_end(&r))) {
        /* No half-decoded key material survives a failed parse. */
        perc_ekt_key_msg_wipe(out);
        return rc;
    }
    return PERC_OK;
}

void perc_ekt_key_msg_wipe(perc_ekt_key_msg *m)
{
    if (m)
        perc_wipe(m, sizeof *m);
}

int perc_ekt_params_from_msg(perc_ekt_params *p, uint8_t cipher, const perc_ekt_key_msg *m,
                             uint64_t now_ns)
{
    if (!m)
        return PERC_ERR_INVALID_ARG;
    return perc_ekt_params_set(p, cipher, m->key, m->key_len, m->salt, m->salt_len, m->spi,
                               m->ttl_s, now_ns);
}

int perc_ekt_ciphers_client_encode(const uint8_t *ciphers, size_t n, uint8_t *out, size_t cap,
                                   size_t *out_len)
{
    if (!ciphers || n == 0 || n > PERC_EKT_MAX_CIPHERS || !out_len)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (ciphers[i] == 0) /* reserved(0) in EKTCipherType */
            return PERC_ERR_INVALID_ARG;
    }
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_vector(&w, 1, ciphers, n);
    return perc_writer_finish(&w, out_len);
}

int perc_ekt_ciphers_client_decode(const uint8_t *in, size_t len, uint8_t *ciphers, size_t cap,
                                   size_t *n)
{
    if (!ciphers || !n)
        return PERC_ERR_INVALID_ARG;
    perc_reader r;
    perc_reader_init(&r, in, len);
    perc_view v;
    int rc;
    if ((rc = perc_read_vector(&r, 1, &v)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    /* supported_ciphers<1..255>: at least one. */
    if (v.len == 0)
        return PERC_ERR_MALFORMED;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == 0)
            return PERC_ERR_MALFORMED;
    }
    if (v.len > cap)
        return PERC_ERR_NOSPACE;
    memcpy(ciphers, v.ptr, v.len);
    *n = v.len;
    return PERC_OK;
}

int perc_ekt_cipher_server_encode(uint8_t cipher, uint8_t *out, size_t cap, size_t *out_len)
{
    if (cipher == 0 || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u8(&w, cipher);
    return perc_writer_finish(&w, out_len);
}

int perc_ekt_cipher_server_decode(const uint8_t *in, size_t len, uint8_t *cipher)
{
    if (!cipher)
        return PERC_ERR_INVALID_ARG;
    perc_reader r;
    perc_reader_init(&r, in, len);
    uint8_t c;
    int rc;
    if ((rc = perc_read_u8(&r, &c)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    if (c == 0)
        return PERC_ERR_MALFORMED;
    *cipher = c;
    return PERC_OK;
}

int perc_ekt_cipher_select(const uint8_t *offered, size_t n_offered, const uint8_t *ours,
                           size_t n_ours, uint8_t *chosen)
{
    if ((!offered && n_offered) || (!ours && n_ours) || !chosen)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_offered; i++) {
        for (size_t j = 0; j < n_ours; j++) {
            if (offered[i] != 0 && offered[i] == ours[j]) {
                *chosen = offered[i];
                return PERC_OK;
            }
        }
    }
    return PERC_ERR_NOT_FOUND;
}
