/* Peer authentication for the tunnel's TLS (RFC 9185 §5.2: mutual
 * authentication; RFC 8871 §4.5.1: a Key Distributor serves no DTLS for an
 * unauthenticated Media Distributor), and certificate fingerprints. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "perc/hex.h"
#include "tls_internal.h"

void perc_tls_set_reason(perc_tls *tls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(tls->reason, sizeof tls->reason, fmt, ap);
    va_end(ap);
}

int perc_tls_cert_fingerprint(X509 *cert, uint8_t out[PERC_TLS_FINGERPRINT_LEN])
{
    if (!cert || !out)
        return PERC_ERR_INVALID_ARG;
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != PERC_TLS_FINGERPRINT_LEN)
        return PERC_ERR_CRYPTO;
    return PERC_OK;
}

static bool pinned(const perc_tls_ctx *ctx, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    bool found = false;
    /* Fingerprints are not secret, but CRYPTO_memcmp costs nothing here and
     * keeps the loop free of early exits. */
    for (size_t i = 0; i < ctx->n_pins; i++)
        found |= CRYPTO_memcmp(ctx->pins[i], fp, PERC_TLS_FINGERPRINT_LEN) == 0;
    return found;
}

static bool names_peer(const perc_tls_ctx *ctx, X509 *leaf)
{
    if (ctx->peer_name_is_ip)
        return X509_check_ip_asc(leaf, ctx->peer_name, 0) == 1;
    return X509_check_host(leaf, ctx->peer_name, strlen(ctx->peer_name), 0, NULL) == 1;
}

/* Called by OpenSSL once the peer's Certificate message is in (with a
 * non-empty list: an empty one from a client is refused earlier because the
 * server sets SSL_VERIFY_FAIL_IF_NO_PEER_CERT). Returns 1 to accept. On
 * refusal the X509 error chosen here decides the alert the peer gets. */
int perc_tls_verify_peer(X509_STORE_CTX *xs, void *arg)
{
    perc_tls_ctx *ctx = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    perc_tls *tls = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!tls || !ctx) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    tls->verify_refused = true; /* until every check passed */
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    if (!leaf) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        perc_tls_set_reason(tls, "peer sent no certificate");
        return 0;
    }
    if (perc_tls_cert_fingerprint(leaf, tls->peer_fp) != PERC_OK) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
        perc_tls_set_reason(tls, "cannot hash the peer certificate");
        return 0;
    }
    tls->have_peer_fp = true;

    if (ctx->has_ca) {
        /* xs was set up by OpenSSL with our trust store and the purpose for
         * the role (TLS client or server certificate). */
        if (X509_verify_cert(xs) != 1) {
            int e = X509_STORE_CTX_get_error(xs);
            if (e == X509_V_OK) {
                e = X509_V_ERR_UNSPECIFIED;
                X509_STORE_CTX_set_error(xs, e);
            }
            perc_tls_set_reason(tls, "peer certificate not trusted: %s",
                                X509_verify_cert_error_string(e));
            return 0;
        }
    }
    if (ctx->n_pins > 0 && !pinned(ctx, tls->peer_fp)) {
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
        perc_tls_set_reason(tls, "peer certificate fingerprint not pinned");
        return 0;
    }
    if (ctx->peer_name && !names_peer(ctx, leaf)) {
        X509_STORE_CTX_set_error(xs, ctx->peer_name_is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                          : X509_V_ERR_HOSTNAME_MISMATCH);
        perc_tls_set_reason(tls, "peer certificate does not name %s", ctx->peer_name);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    tls->verify_refused = false;
    tls->reason[0] = '\0';
    return 1;
}

int perc_tls_fingerprint_parse(const char *text, size_t len, uint8_t out[PERC_TLS_FINGERPRINT_LEN])
{
    if (!text || !out)
        return PERC_ERR_MALFORMED;
    bool colons;
    if (len == 2 * PERC_TLS_FINGERPRINT_LEN)
        colons = false;
    else if (len == PERC_TLS_FINGERPRINT_TEXT_LEN)
        colons = true;
    else
        return PERC_ERR_MALFORMED;
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN];
    size_t pos = 0;
    for (size_t i = 0; i < PERC_TLS_FINGERPRINT_LEN; i++) {
        if (colons && i > 0 && text[pos++] != ':')
            return PERC_ERR_MALFORMED;
        int hi = perc_hex_digit(text[pos]);
        int lo = perc_hex_digit(text[pos + 1]);
        if (hi < 0 || lo < 0)
            return PERC_ERR_MALFORMED;
        fp[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    memcpy(out, fp, sizeof fp);
    return PERC_OK;
}

int perc_tls_fingerprint_format(const uint8_t fp[PERC_TLS_FINGERPRINT_LEN], char *out, size_t cap)
{
    static const char DIGITS[] = "0123456789ABCDEF";
    if (!fp || !out || cap < PERC_TLS_FINGERPRINT_TEXT_LEN + 1)
        return PERC_ERR_NOSPACE;
    size_t o = 0;
    for (size_t i = 0; i < PERC_TLS_FINGERPRINT_LEN; i++) {
        if (i > 0)
            out[o++] = ':';
        out[o++] = DIGITS[fp[i] >> 4];
        out[o++] = DIGITS[fp[i] & 0x0F];
    }
    out[o] = '\0';
    return PERC_OK;
}
