/* Hello extensions OpenSSL does not know (DTLS-EKT.md §1, §2):
 *   supported_ekt_ciphers (39, RFC 8870 §5.2.1) and external_session_id
 *   (56, RFC 8844 §4) as custom extensions;
 *   the double SRTP profiles (RFC 8723 §10.1) inside OpenSSL's own use_srtp
 *   (14) list, which cannot take a custom handler.
 * The callbacks find their association through SSL_get_app_data(). */
#include <string.h>

#include <openssl/srtp.h>
#include <openssl/ssl.h>

#include "dtls_internal.h"
#include "perc/profile.h"
#include "perc/secret.h"

/* OpenSSL knows only profiles 1, 2, 7 and 8, but SRTP_PROTECTION_PROFILE
 * is a public {name, id} pair, and it writes, matches and echoes ids without
 * looking at them. It frees the list with sk_free, never the entries, so
 * static entries are safe. Not const: the stack holds plain pointers. */
static SRTP_PROTECTION_PROFILE double_128 = {"DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
                                             PERC_PROFILE_DOUBLE_AES_128_GCM};
static SRTP_PROTECTION_PROFILE double_256 = {"DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM",
                                             PERC_PROFILE_DOUBLE_AES_256_GCM};

static SRTP_PROTECTION_PROFILE *profile_entry(uint16_t id)
{
    switch (id) {
    case PERC_PROFILE_DOUBLE_AES_128_GCM:
        return &double_128;
    case PERC_PROFILE_DOUBLE_AES_256_GCM:
        return &double_256;
    default:
        return NULL;
    }
}

/* Replaces ssl's live use_srtp list with ids, in that order. */
static int set_profiles(SSL *ssl, const uint16_t *ids, size_t n)
{
    STACK_OF(SRTP_PROTECTION_PROFILE) *sk = SSL_get_srtp_profiles(ssl);
    if (!sk)
        return PERC_ERR_CRYPTO;
    while (sk_SRTP_PROTECTION_PROFILE_num(sk) > 0)
        (void)sk_SRTP_PROTECTION_PROFILE_delete(sk, 0);
    for (size_t i = 0; i < n; i++) {
        SRTP_PROTECTION_PROFILE *p = profile_entry(ids[i]);
        if (!p)
            return PERC_ERR_INVALID_ARG;
        if (sk_SRTP_PROTECTION_PROFILE_push(sk, p) <= 0)
            return PERC_ERR_NOMEM;
    }
    return PERC_OK;
}

int perc_dtls_ext_setup_ssl(perc_dtls *d)
{
    /* Any profile OpenSSL knows creates the SSL's own list (returns 0 on
     * success); it is then replaced by ours. */
    if (SSL_set_tlsext_use_srtp(d->ssl, "SRTP_AEAD_AES_128_GCM") != 0)
        return PERC_ERR_CRYPTO;
    return set_profiles(d->ssl, d->cfg.srtp_profiles, d->cfg.n_srtp_profiles);
}

int perc_dtls_use_srtp_match(const uint8_t *in, size_t len, const uint16_t *ours, size_t n_ours,
                             uint16_t *order, size_t *n_order, size_t *mki_len)
{
    if ((!in && len) || (!ours && n_ours) || !order || !n_order || !mki_len)
        return PERC_ERR_INVALID_ARG;
    perc_reader r, list;
    perc_view mki;
    perc_reader_init(&r, in, len);
    int rc;
    if ((rc = perc_read_block(&r, 2, &list)) || (rc = perc_read_vector(&r, 1, &mki)) ||
        (rc = perc_reader_expect_end(&r)))
        return rc;
    size_t bytes = perc_reader_remaining(&list);
    if (bytes == 0 || bytes % 2 != 0)
        return PERC_ERR_MALFORMED;
    size_t k = 0;
    while (perc_reader_remaining(&list) > 0) {
        uint16_t id;
        if ((rc = perc_read_u16(&list, &id)))
            return rc;
        bool ok = false, dup = false;
        for (size_t i = 0; i < n_ours; i++)
            ok = ok || ours[i] == id;
        for (size_t i = 0; i < k; i++)
            dup = dup || order[i] == id;
        /* k < n_ours holds: only distinct ids of ours are taken. */
        if (ok && !dup)
            order[k++] = id;
    }
    *n_order = k;
    *mki_len = mki.len;
    return PERC_OK;
}

int perc_dtls_tls_id_encode(const uint8_t *id, size_t len, uint8_t *out, size_t cap,
                            size_t *out_len)
{
    if (!id || !out || !out_len || len < PERC_DTLS_TLS_ID_MIN || len > PERC_DTLS_TLS_ID_MAX)
        return PERC_ERR_INVALID_ARG;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_vector(&w, 1, id, len);
    return perc_writer_finish(&w, out_len);
}

int perc_dtls_tls_id_decode(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    if ((!in && len) || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_reader r;
    perc_view v;
    perc_reader_init(&r, in, len);
    int rc;
    if ((rc = perc_read_vector(&r, 1, &v)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    if (v.len < PERC_DTLS_TLS_ID_MIN) /* the one-octet prefix caps it at 255 */
        return PERC_ERR_MALFORMED;
    memcpy(out, v.ptr, v.len);
    *out_len = v.len;
    return PERC_OK;
}

/* Records why the handshake is being failed; OpenSSL sends the alert.
 * Returns ret, the failure value the calling hook must give OpenSSL. */
static int refuse(perc_dtls *d, int *al, int alert, perc_dtls_reason reason, const char *detail,
                  int ret)
{
    *al = alert;
    if (d->pending_reason == PERC_DTLS_REASON_NONE) {
        d->pending_reason = reason;
        d->pending_detail = detail;
    }
    return ret;
}

/* ---- supported_ekt_ciphers (39) ------------------------------------------ */

static int ekt_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                   size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)type, (void)x, (void)chainidx, (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d)
        return 0;
    size_t n;
    if (context & SSL_EXT_CLIENT_HELLO) {
        if (d->cfg.n_ekt_ciphers == 0)
            return 0; /* EKT not wanted: no extension */
        if (perc_ekt_ciphers_client_encode(d->cfg.ekt_ciphers, d->cfg.n_ekt_ciphers, d->ext39_out,
                                           sizeof d->ext39_out, &n))
            return refuse(d, al, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL,
                          "cannot encode supported_ekt_ciphers", -1);
    } else {
        /* Server: OpenSSL calls this only when the client sent the
         * extension. No common cipher: no extension, and no EKTKey. */
        if (d->ekt_cipher == 0)
            return 0;
        if (perc_ekt_cipher_server_encode(d->ekt_cipher, d->ext39_out, sizeof d->ext39_out, &n))
            return refuse(d, al, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL,
                          "cannot encode supported_ekt_ciphers", -1);
    }
    *out = d->ext39_out;
    *outlen = n;
    return 1;
}

static int ekt_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in,
                     size_t inlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)type, (void)x, (void)chainidx, (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d)
        return 0;
    if (context & SSL_EXT_CLIENT_HELLO) {
        uint8_t offered[PERC_EKT_MAX_CIPHERS], chosen;
        size_t n;
        if (perc_ekt_ciphers_client_decode(in, inlen, offered, sizeof offered, &n))
            return refuse(d, al, SSL_AD_DECODE_ERROR, PERC_DTLS_REASON_EKT,
                          "malformed supported_ekt_ciphers from the client", 0);
        d->ekt_cipher = 0;
        if (d->cfg.n_ekt_ciphers > 0 &&
            perc_ekt_cipher_select(offered, n, d->cfg.ekt_ciphers, d->cfg.n_ekt_ciphers, &chosen) ==
                PERC_OK)
            d->ekt_cipher = chosen;
        return 1;
    }
    /* Client: OpenSSL already refuses an extension we did not send. */
    uint8_t chosen;
    if (perc_ekt_cipher_server_decode(in, inlen, &chosen))
        return refuse(d, al, SSL_AD_DECODE_ERROR, PERC_DTLS_REASON_EKT,
                      "malformed supported_ekt_ciphers from the server", 0);
    bool offered = false;
    for (size_t i = 0; i < d->cfg.n_ekt_ciphers; i++)
        offered = offered || d->cfg.ekt_ciphers[i] == chosen;
    if (!offered)
        return refuse(d, al, SSL_AD_ILLEGAL_PARAMETER, PERC_DTLS_REASON_EKT,
                      "server selected an EKT cipher we did not offer", 0);
    d->ekt_cipher = chosen;
    return 1;
}

/* ---- external_session_id (56) -------------------------------------------- */

static int tls_id_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                      size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)type, (void)context, (void)x, (void)chainidx, (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d)
        return 0;
    /* A server with a chooser answers with what it chose for this client
     * (tls_id_parse ran first: OpenSSL parses the whole ClientHello before
     * it writes the ServerHello). */
    const uint8_t *id = d->own_tls_id_chosen ? d->own_tls_id : d->cfg.tls_id;
    size_t id_len = d->own_tls_id_chosen ? d->own_tls_id_len : d->cfg.tls_id_len;
    if (id_len == 0)
        return 0;
    size_t n;
    if (perc_dtls_tls_id_encode(id, id_len, d->ext56_out, sizeof d->ext56_out, &n))
        return refuse(d, al, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL,
                      "cannot encode external_session_id", -1);
    *out = d->ext56_out;
    *outlen = n;
    return 1;
}

static int tls_id_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in,
                        size_t inlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)type, (void)context, (void)x, (void)chainidx, (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d)
        return 0;
    if (perc_dtls_tls_id_decode(in, inlen, d->peer_tls_id, &d->peer_tls_id_len))
        return refuse(d, al, SSL_AD_DECODE_ERROR, PERC_DTLS_REASON_TLS_ID,
                      "malformed external_session_id", 0);
    d->peer_tls_id_seen = true;
    /* RFC 9185 §5.1 (endpoint) and §5.4 (Key Distributor): the value must
     * be the tls-id from the peer's SDP, else the association is refused
     * before any key exists. */
    size_t want = d->cfg.expected_peer_tls_id_len;
    if (want > 0 && (d->peer_tls_id_len != want ||
                     !perc_secret_equal(d->peer_tls_id, d->cfg.expected_peer_tls_id, want)))
        return refuse(d, al, SSL_AD_ACCESS_DENIED, PERC_DTLS_REASON_TLS_ID,
                      "external_session_id differs from the peer's tls-id", 0);
    /* Server: our own tls-id may depend on who the client says it is. */
    if ((context & SSL_EXT_CLIENT_HELLO) && d->cfg.choose_tls_id) {
        size_t n = 0;
        int rc = d->cfg.choose_tls_id(d->cfg.choose_tls_id_user, d->peer_tls_id, d->peer_tls_id_len,
                                      d->own_tls_id, sizeof d->own_tls_id, &n);
        if (rc != 0)
            return refuse(d, al, SSL_AD_ACCESS_DENIED, PERC_DTLS_REASON_UNAUTHORIZED,
                          "external_session_id refused by the choose_tls_id callback", 0);
        if (n < PERC_DTLS_TLS_ID_MIN || n > PERC_DTLS_TLS_ID_MAX)
            return refuse(d, al, SSL_AD_ACCESS_DENIED, PERC_DTLS_REASON_UNAUTHORIZED,
                          "choose_tls_id callback gave a tls-id of a bad length", 0);
        d->own_tls_id_len = n;
        d->own_tls_id_chosen = true;
    }
    return 1;
}

/* ---- ClientHello hook (server): the profile choice ------------------------ */

/* The required_profile callback's answer for this client: 0 = any of ours.
 * The tls-id is read raw from the ClientHello (the custom extension parser
 * runs later); a malformed one is left for that parser to refuse. A
 * required profile we do not support narrows to nothing: refused. */
static uint16_t required_profile(SSL *s, perc_dtls *d)
{
    if (!d->cfg.required_profile)
        return 0;
    const unsigned char *ext;
    size_t len;
    uint8_t id[PERC_DTLS_TLS_ID_MAX];
    size_t id_len = 0;
    if (SSL_client_hello_get0_ext(s, PERC_DTLS_EXT_EXTERNAL_SESSION_ID, &ext, &len) &&
        perc_dtls_tls_id_decode(ext, len, id, &id_len) != PERC_OK)
        id_len = 0;
    return d->cfg.required_profile(d->cfg.required_profile_user, id_len ? id : NULL, id_len);
}

/* OpenSSL's server walks the client's list and keeps the match that comes
 * first in the SERVER's list. RFC 5764 §4.1.1 lets the server choose; we
 * follow the client's preference among the profiles we accept (RFC 5764
 * lists them in the client's order of preference), so the SSL's list is
 * rewritten to the client's order before OpenSSL parses the extension. A
 * client without a double profile is refused here, before any key. */
static int client_hello_cb(SSL *s, int *al, void *arg)
{
    (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d)
        return SSL_CLIENT_HELLO_ERROR;
    const unsigned char *ext;
    size_t len, n, mki_len;
    uint16_t order[PERC_DTLS_MAX_PROFILES];
    uint16_t required = required_profile(s, d);
    const uint16_t *ours = d->cfg.srtp_profiles;
    size_t n_ours = d->cfg.n_srtp_profiles;
    if (required) {
        bool supported = false;
        for (size_t i = 0; i < n_ours; i++)
            supported = supported || ours[i] == required;
        ours = &required;
        n_ours = supported ? 1 : 0;
    }
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_use_srtp, &ext, &len))
        return refuse(d, al, SSL_AD_HANDSHAKE_FAILURE, PERC_DTLS_REASON_SRTP_PROFILE,
                      "client did not offer use_srtp", SSL_CLIENT_HELLO_ERROR);
    if (perc_dtls_use_srtp_match(ext, len, ours, n_ours, order, &n, &mki_len))
        return refuse(d, al, SSL_AD_DECODE_ERROR, PERC_DTLS_REASON_SRTP_PROFILE,
                      "malformed use_srtp from the client", SSL_CLIENT_HELLO_ERROR);
    if (n == 0 && required)
        return refuse(d, al, SSL_AD_HANDSHAKE_FAILURE, PERC_DTLS_REASON_SRTP_PROFILE,
                      "client did not offer the SRTP profile required of it",
                      SSL_CLIENT_HELLO_ERROR);
    if (n == 0)
        return refuse(d, al, SSL_AD_HANDSHAKE_FAILURE, PERC_DTLS_REASON_SRTP_PROFILE,
                      "no common double SRTP profile", SSL_CLIENT_HELLO_ERROR);
    /* An MKI is ignored: OpenSSL answers with an empty one, which tells the
     * client not to use it (RFC 5764 §4.1.1; RFC 8870 §4: no MKI with EKT). */
    if (set_profiles(s, order, n))
        return refuse(d, al, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL, "use_srtp list",
                      SSL_CLIENT_HELLO_ERROR);
    /* OpenSSL takes order[0]: the EKT cipher may depend on it. Narrowing
     * this connection's copy of the config before ekt_parse runs. */
    uint8_t cipher = d->cfg.required_ekt_cipher
                         ? d->cfg.required_ekt_cipher(d->cfg.required_ekt_cipher_user, order[0])
                         : 0;
    if (cipher) {
        bool supported = false;
        for (size_t i = 0; i < d->cfg.n_ekt_ciphers; i++)
            supported = supported || d->cfg.ekt_ciphers[i] == cipher;
        d->cfg.ekt_ciphers[0] = cipher;
        d->cfg.n_ekt_ciphers = supported ? 1 : 0;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

int perc_dtls_ext_setup_ctx(SSL_CTX *ctx)
{
    const unsigned int context =
        SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS;
    if (SSL_CTX_add_custom_ext(ctx, PERC_EKT_EXT_SUPPORTED_CIPHERS, context, ekt_add, NULL, NULL,
                               ekt_parse, NULL) != 1 ||
        SSL_CTX_add_custom_ext(ctx, PERC_DTLS_EXT_EXTERNAL_SESSION_ID, context, tls_id_add, NULL,
                               NULL, tls_id_parse, NULL) != 1)
        return PERC_ERR_CRYPTO;
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
    return PERC_OK;
}
