/* Identities for DTLS-SRTP: self-signed certificates pinned by their
 * SHA-256 fingerprint (RFC 8122 §5), not verified through a chain. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dtls_internal.h"
#include "perc/hex.h"
#include "perc/identity.h"
#include "perc/secret.h"

int perc_dtls_identity_generate(const char *common_name, X509 **cert, EVP_PKEY **key)
{
    /* The Media Distributor needs identities too: the code lives in
     * perc_hop (identity.c). */
    return perc_identity_generate(common_name, cert, key);
}

int perc_dtls_cert_fingerprint(const X509 *cert, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    if (!cert || !out)
        return PERC_ERR_INVALID_ARG;
    unsigned int n = 0;
    uint8_t md[EVP_MAX_MD_SIZE];
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != PERC_DTLS_FINGERPRINT_LEN)
        return PERC_ERR_CRYPTO;
    memcpy(out, md, PERC_DTLS_FINGERPRINT_LEN);
    return PERC_OK;
}

int perc_dtls_fingerprint_format(const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], char *out, size_t cap)
{
    static const char digits[] = "0123456789ABCDEF";
    if (!fp || !out)
        return PERC_ERR_INVALID_ARG;
    if (cap < PERC_DTLS_FINGERPRINT_TEXT_LEN)
        return PERC_ERR_NOSPACE;
    for (size_t i = 0; i < PERC_DTLS_FINGERPRINT_LEN; i++) {
        out[3 * i] = digits[fp[i] >> 4];
        out[3 * i + 1] = digits[fp[i] & 0x0F];
        out[3 * i + 2] = i + 1 < PERC_DTLS_FINGERPRINT_LEN ? ':' : '\0';
    }
    return PERC_OK;
}

int perc_dtls_fingerprint_parse(const char *text, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    if (!text || !out)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < PERC_DTLS_FINGERPRINT_LEN; i++) {
        const char *p = text + 3 * i;
        int hi = perc_hex_digit(p[0]);
        int lo = hi < 0 ? -1 : perc_hex_digit(p[1]);
        char sep = lo < 0 ? 'x' : p[2];
        bool last = i + 1 == PERC_DTLS_FINGERPRINT_LEN;
        if (lo < 0 || sep != (last ? '\0' : ':')) {
            memset(out, 0, PERC_DTLS_FINGERPRINT_LEN);
            return PERC_ERR_MALFORMED;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return PERC_OK;
}

/* Replaces OpenSSL's chain verification (SSL_CTX_set_cert_verify_callback):
 * the peer's certificate is pinned, not chained. The handshake itself
 * proves the peer holds the certificate's key. Runs once per handshake,
 * after the peer's hello extensions were parsed, so the tls-id is known. */
int perc_dtls_cert_verify_cb(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    perc_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    if (!d || !leaf || perc_dtls_cert_fingerprint(leaf, d->peer_fp) != PERC_OK) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    d->peer_fp_seen = true;

    perc_dtls_reason why = PERC_DTLS_REASON_NONE;
    const char *detail = NULL;
    int err = X509_V_ERR_APPLICATION_VERIFICATION; /* OpenSSL sends handshake_failure */
    if (d->cfg.check_peer_fingerprint &&
        !perc_secret_equal(d->peer_fp, d->cfg.expected_peer_fingerprint,
                           PERC_DTLS_FINGERPRINT_LEN)) {
        why = PERC_DTLS_REASON_FINGERPRINT;
        detail = "peer certificate fingerprint differs from the expected one";
        err = X509_V_ERR_CERT_REJECTED; /* bad_certificate */
    } else if (d->cfg.expected_peer_tls_id_len > 0 && !d->peer_tls_id_seen) {
        /* A mismatch was refused while parsing; here the peer sent none. */
        why = PERC_DTLS_REASON_TLS_ID;
        detail = "peer sent no external_session_id";
    } else if (d->cbs.authorize &&
               !d->cbs.authorize(d->cbs.user, d->peer_fp,
                                 d->peer_tls_id_seen ? d->peer_tls_id : NULL,
                                 d->peer_tls_id_seen ? d->peer_tls_id_len : 0)) {
        why = PERC_DTLS_REASON_UNAUTHORIZED;
        detail = "peer refused by the authorize callback";
    }
    if (why == PERC_DTLS_REASON_NONE)
        return 1;
    if (d->pending_reason == PERC_DTLS_REASON_NONE) {
        d->pending_reason = why;
        d->pending_detail = detail;
    }
    X509_STORE_CTX_set_error(store, err);
    return 0;
}
