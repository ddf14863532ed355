/* Sans-I/O TLS 1.3 for the RFC 9185 tunnel: OpenSSL on two memory BIOs.
 * Peer verification lives in tls_verify.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "perc/secret.h"
#include "tls_internal.h"

/* ---- contexts ---------------------------------------------------------- */

static void ctx_unref(perc_tls_ctx *ctx)
{
    if (!ctx || --ctx->refs > 0)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->pins);
    free(ctx->peer_name);
    free(ctx);
}

void perc_tls_ctx_free(perc_tls_ctx *ctx) { ctx_unref(ctx); }

static void keylog_cb(const SSL *ssl, const char *line)
{
    const perc_tls *tls = SSL_get_app_data(ssl);
    if (tls && tls->ctx->keylog)
        tls->ctx->keylog(tls->ctx->keylog_user, line);
}

/* OpenSSL's default would prompt on the terminal for an encrypted key; a
 * library must not, so encrypted keys simply fail to load. */
static int no_password_cb(char *buf, int size, int rwflag, void *user)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)user;
    return 0;
}

static bool is_ip_literal(const char *name)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
    if (!ip)
        return false;
    ASN1_OCTET_STRING_free(ip);
    return true;
}

/* The role- and trust-dependent part of both constructors: an SSL_CTX that
 * speaks TLS 1.3 only, without tickets, that requires and verifies the
 * peer's certificate with our callback. has_ca says the caller will load
 * trust anchors. */
static int ctx_begin(perc_tls_role role, const perc_tls_trust *trust, bool has_ca,
                     perc_tls_ctx **out)
{
    if (role != PERC_TLS_CLIENT && role != PERC_TLS_SERVER)
        return PERC_ERR_INVALID_ARG;
    if (trust->n_pins > 0 && !trust->pins)
        return PERC_ERR_INVALID_ARG;
    /* RFC 9185 §5.2: mutual authentication; no configuration may accept an
     * unauthenticated peer. */
    if (!has_ca && trust->n_pins == 0)
        return PERC_ERR_INVALID_ARG;
    if (trust->peer_name && trust->peer_name[0] == '\0')
        return PERC_ERR_INVALID_ARG;

    int rc = PERC_ERR_NOMEM;
    perc_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return PERC_ERR_NOMEM;
    ctx->refs = 1;
    ctx->role = role;
    ctx->has_ca = has_ca;
    ctx->keylog = trust->keylog;
    ctx->keylog_user = trust->keylog_user;
    if (trust->n_pins > 0) {
        ctx->pins = calloc(trust->n_pins, sizeof *ctx->pins);
        if (!ctx->pins)
            goto fail;
        memcpy(ctx->pins, trust->pins, trust->n_pins * sizeof *ctx->pins);
        ctx->n_pins = trust->n_pins;
    }
    if (trust->peer_name) {
        size_t n = strlen(trust->peer_name) + 1;
        ctx->peer_name = malloc(n);
        if (!ctx->peer_name)
            goto fail;
        memcpy(ctx->peer_name, trust->peer_name, n);
        ctx->peer_name_is_ip = is_ip_literal(ctx->peer_name);
    }

    ERR_clear_error();
    ctx->ssl_ctx = SSL_CTX_new(role == PERC_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (!ctx->ssl_ctx)
        goto fail;
    rc = PERC_ERR_CRYPTO;
    SSL_CTX *s = ctx->ssl_ctx;
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1)
        goto fail;
    /* No resumption: every connection verifies the peer against the
     * current trust, and no ticket keys need protecting. */
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_num_tickets(s, 0) != 1)
        goto fail;
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(s, no_password_cb);
    int mode = SSL_VERIFY_PEER;
    if (role == PERC_TLS_SERVER)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(s, mode, NULL);
    SSL_CTX_set_cert_verify_callback(s, perc_tls_verify_peer, ctx);
    if (ctx->keylog)
        SSL_CTX_set_keylog_callback(s, keylog_cb);
    *out = ctx;
    return PERC_OK;

fail:
    ERR_clear_error();
    ctx_unref(ctx);
    return rc;
}

int perc_tls_ctx_new(const perc_tls_config *cfg, perc_tls_ctx **out)
{
    if (!cfg || !out || !cfg->cert || !cfg->key)
        return PERC_ERR_INVALID_ARG;
    if ((cfg->n_chain > 0 && !cfg->chain) || (cfg->n_ca_certs > 0 && !cfg->ca_certs))
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    perc_tls_ctx *ctx;
    int rc = ctx_begin(cfg->role, &cfg->trust, cfg->n_ca_certs > 0, &ctx);
    if (rc)
        return rc;
    SSL_CTX *s = ctx->ssl_ctx;
    X509_STORE *store = SSL_CTX_get_cert_store(s);
    ERR_clear_error();
    rc = PERC_ERR_CRYPTO;
    for (size_t i = 0; i < cfg->n_ca_certs; i++) {
        if (!cfg->ca_certs[i] || X509_STORE_add_cert(store, cfg->ca_certs[i]) != 1) {
            rc = PERC_ERR_INVALID_ARG;
            goto fail;
        }
    }
    if (SSL_CTX_use_certificate(s, cfg->cert) != 1) {
        rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_chain; i++) {
        if (!cfg->chain[i] || SSL_CTX_add1_chain_cert(s, cfg->chain[i]) != 1) {
            rc = PERC_ERR_INVALID_ARG;
            goto fail;
        }
    }
    if (SSL_CTX_use_PrivateKey(s, cfg->key) != 1 || SSL_CTX_check_private_key(s) != 1) {
        rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    ERR_clear_error();
    *out = ctx;
    return PERC_OK;

fail:
    ERR_clear_error();
    ctx_unref(ctx);
    return rc;
}

/* PERC_ERR_NOT_FOUND if path cannot be opened for reading. Checked before
 * OpenSSL reads it so that a missing file and a bad file are told apart. */
static int readable(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return PERC_ERR_NOT_FOUND;
    fclose(f);
    return PERC_OK;
}

static bool key_mismatch(unsigned long e)
{
    return ERR_GET_LIB(e) == ERR_LIB_X509 &&
           (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
            ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

int perc_tls_ctx_new_from_files(const perc_tls_file_config *cfg, perc_tls_ctx **out)
{
    if (!cfg || !out || !cfg->cert_file || !cfg->key_file)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    int rc;
    if ((rc = readable(cfg->cert_file)) || (rc = readable(cfg->key_file)) ||
        (cfg->ca_file && (rc = readable(cfg->ca_file))))
        return rc;
    perc_tls_ctx *ctx;
    if ((rc = ctx_begin(cfg->role, &cfg->trust, cfg->ca_file != NULL, &ctx)))
        return rc;
    SSL_CTX *s = ctx->ssl_ctx;
    ERR_clear_error();
    rc = PERC_ERR_MALFORMED;
    if (cfg->ca_file && SSL_CTX_load_verify_file(s, cfg->ca_file) != 1)
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(s, cfg->cert_file) != 1)
        goto fail;
    if (SSL_CTX_use_PrivateKey_file(s, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        /* A readable key that belongs to another certificate is a
         * configuration mistake, not a bad file. */
        if (key_mismatch(ERR_peek_last_error()))
            rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    if (SSL_CTX_check_private_key(s) != 1) {
        rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    ERR_clear_error();
    *out = ctx;
    return PERC_OK;

fail:
    ERR_clear_error();
    ctx_unref(ctx);
    return rc;
}

/* ---- connections ------------------------------------------------------- */

int perc_tls_new(perc_tls_ctx *ctx, perc_tls **out)
{
    if (!ctx || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    perc_tls *tls = calloc(1, sizeof *tls);
    if (!tls)
        return PERC_ERR_NOMEM;
    int rc = PERC_ERR_NOMEM;
    ERR_clear_error();
    tls->ssl = SSL_new(ctx->ssl_ctx);
    tls->rbio = BIO_new(BIO_s_mem());
    tls->wbio = BIO_new(BIO_s_mem());
    if (!tls->ssl || !tls->rbio || !tls->wbio) {
        BIO_free(tls->rbio);
        BIO_free(tls->wbio);
        SSL_free(tls->ssl);
        free(tls);
        ERR_clear_error();
        return rc;
    }
    /* An empty read BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(tls->rbio, -1);
    SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
    SSL_set_app_data(tls->ssl, tls);
    tls->ctx = ctx;
    ctx->refs++;
    tls->state = PERC_TLS_HANDSHAKING;

    rc = PERC_ERR_CRYPTO;
    if (ctx->role == PERC_TLS_SERVER) {
        SSL_set_accept_state(tls->ssl);
    } else {
        SSL_set_connect_state(tls->ssl);
        if (ctx->peer_name && !ctx->peer_name_is_ip &&
            SSL_set_tlsext_host_name(tls->ssl, ctx->peer_name) != 1)
            goto fail;
        /* Produce the ClientHello now, so the caller can send it at once. */
        int r = SSL_do_handshake(tls->ssl);
        if (r != -1 || SSL_get_error(tls->ssl, r) != SSL_ERROR_WANT_READ)
            goto fail;
    }
    ERR_clear_error();
    *out = tls;
    return PERC_OK;

fail:
    ERR_clear_error();
    perc_tls_free(tls);
    return rc;
}

void perc_tls_free(perc_tls *tls)
{
    if (!tls)
        return;
    SSL_free(tls->ssl); /* frees both BIOs; OpenSSL cleanses its key schedule */
    ctx_unref(tls->ctx);
    perc_wipe(tls, sizeof *tls);
    free(tls);
}

static int set_failed(perc_tls *tls, int err)
{
    tls->state = PERC_TLS_FAILED;
    tls->fail_err = err;
    return err;
}

/* Authentication alerts: the peer refused our certificate (or its absence). */
static bool is_auth_alert(int alert)
{
    switch (alert) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case SSL_AD_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

static bool is_version_reason(int reason)
{
    return reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_PROTOCOLS_AVAILABLE ||
           reason == SSL_R_VERSION_TOO_LOW || reason == SSL_R_VERSION_TOO_HIGH ||
           reason == SSL_AD_REASON_OFFSET + SSL_AD_PROTOCOL_VERSION;
}

/* Turns an OpenSSL failure (ssl_err from SSL_get_error) into FAILED with
 * an error code and a reason, and empties OpenSSL's error queue. */
static int fail_from_openssl(perc_tls *tls, int ssl_err)
{
    unsigned long e = ERR_peek_error();
    int rc = PERC_ERR_MALFORMED;
    if (tls->verify_refused) {
        /* The reason was set by perc_tls_verify_peer(). */
        rc = PERC_ERR_AUTH;
    } else if (e == 0) {
        perc_tls_set_reason(tls, "TLS failure (SSL_get_error %d)", ssl_err);
    } else {
        int reason = ERR_GET_REASON(e);
        const char *text = ERR_reason_error_string(e);
        if (!text)
            text = "unknown OpenSSL error";
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
            rc = PERC_ERR_AUTH;
            perc_tls_set_reason(tls, "peer sent no certificate");
        } else if (ERR_GET_LIB(e) == ERR_LIB_SSL && is_version_reason(reason)) {
            rc = PERC_ERR_UNSUPPORTED;
            perc_tls_set_reason(tls, "no TLS 1.3 in common: %s", text);
        } else if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason > SSL_AD_REASON_OFFSET &&
                   reason < SSL_AD_REASON_OFFSET + 256) {
            int alert = reason - SSL_AD_REASON_OFFSET;
            rc = is_auth_alert(alert) ? PERC_ERR_AUTH : PERC_ERR_MALFORMED;
            perc_tls_set_reason(tls, "peer sent alert: %s", text);
        } else if (reason == ERR_R_MALLOC_FAILURE) {
            rc = PERC_ERR_NOMEM;
            perc_tls_set_reason(tls, "out of memory");
        } else if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
            rc = PERC_ERR_CRYPTO;
            perc_tls_set_reason(tls, "TLS backend failure: %s", text);
        } else {
            perc_tls_set_reason(tls, "TLS failure: %s", text);
        }
    }
    ERR_clear_error();
    return set_failed(tls, rc);
}

/* The peer's close_notify: answer with ours (queued) and close. */
static void peer_closed(perc_tls *tls)
{
    (void)SSL_shutdown(tls->ssl);
    ERR_clear_error();
    tls->state = PERC_TLS_CLOSED;
    perc_tls_set_reason(tls, "peer closed the connection");
}

/* What to make of SSL_get_error() after a read, peek or handshake step. */
static int after_io(perc_tls *tls, int ssl_err)
{
    switch (ssl_err) {
    case SSL_ERROR_NONE:
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* cannot happen on a memory BIO; harmless */
        ERR_clear_error();
        return PERC_OK;
    case SSL_ERROR_ZERO_RETURN:
        peer_closed(tls);
        return PERC_OK;
    default:
        return fail_from_openssl(tls, ssl_err);
    }
}

/* Runs the handshake as far as the fed bytes allow, then lets OpenSSL
 * process records up to the first application data (post-handshake
 * messages, alerts, close_notify), so the state is current after recv. */
static int advance(perc_tls *tls)
{
    if (tls->state == PERC_TLS_HANDSHAKING) {
        ERR_clear_error();
        int r = SSL_do_handshake(tls->ssl);
        if (r != 1)
            return after_io(tls, SSL_get_error(tls->ssl, r));
        tls->state = PERC_TLS_OPEN;
    }
    if (tls->state == PERC_TLS_OPEN) {
        uint8_t b;
        size_t n;
        ERR_clear_error();
        if (SSL_peek_ex(tls->ssl, &b, 1, &n) == 1)
            return PERC_OK; /* application data is waiting for perc_tls_read */
        return after_io(tls, SSL_get_error(tls->ssl, 0));
    }
    return PERC_OK;
}

int perc_tls_recv(perc_tls *tls, const uint8_t *data, size_t len)
{
    if (!tls || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    if (tls->state == PERC_TLS_FAILED)
        return tls->fail_err;
    if (tls->state == PERC_TLS_CLOSED)
        return PERC_OK;
    if (len > 0) {
        size_t written = 0;
        ERR_clear_error();
        if (BIO_write_ex(tls->rbio, data, len, &written) != 1 || written != len) {
            ERR_clear_error();
            perc_tls_set_reason(tls, "out of memory");
            return set_failed(tls, PERC_ERR_NOMEM);
        }
    }
    return advance(tls);
}

int perc_tls_pending_send(perc_tls *tls, uint8_t *buf, size_t cap, size_t *len)
{
    if (!tls || !len || (cap > 0 && !buf))
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    if (cap == 0 || BIO_ctrl_pending(tls->wbio) == 0)
        return PERC_OK;
    size_t n = 0;
    if (BIO_read_ex(tls->wbio, buf, cap, &n) != 1)
        n = 0;
    ERR_clear_error();
    *len = n;
    return PERC_OK;
}

size_t perc_tls_pending_len(const perc_tls *tls)
{
    return tls ? BIO_ctrl_pending(tls->wbio) : 0;
}

int perc_tls_write(perc_tls *tls, const uint8_t *data, size_t len)
{
    if (!tls || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    if (tls->state == PERC_TLS_FAILED)
        return tls->fail_err;
    if (tls->state != PERC_TLS_OPEN)
        return PERC_ERR_STATE;
    if (len == 0)
        return PERC_OK;
    size_t written = 0;
    ERR_clear_error();
    int r = SSL_write_ex(tls->ssl, data, len, &written);
    if (r == 1 && written == len) {
        ERR_clear_error();
        return PERC_OK;
    }
    /* Without SSL_MODE_ENABLE_PARTIAL_WRITE and with a memory BIO that
     * grows, a write is whole or an error. */
    int rc = fail_from_openssl(tls, SSL_get_error(tls->ssl, r));
    return rc;
}

int perc_tls_read(perc_tls *tls, uint8_t *buf, size_t cap, size_t *len)
{
    if (!tls || !len || (cap > 0 && !buf))
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    if (tls->state == PERC_TLS_FAILED)
        return tls->fail_err;
    if (tls->state != PERC_TLS_OPEN)
        return PERC_OK;
    size_t total = 0;
    while (total < cap && tls->state == PERC_TLS_OPEN) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(tls->ssl, buf + total, cap - total, &n) == 1) {
            total += n;
            continue;
        }
        int rc = after_io(tls, SSL_get_error(tls->ssl, 0));
        /* Bytes decrypted before a failure are still the peer's: hand
         * them out; the failure is returned from the next call. */
        if (rc != PERC_OK && total == 0)
            return rc;
        break;
    }
    *len = total;
    return PERC_OK;
}

int perc_tls_close(perc_tls *tls)
{
    if (!tls)
        return PERC_ERR_INVALID_ARG;
    if (tls->state == PERC_TLS_OPEN) {
        ERR_clear_error();
        (void)SSL_shutdown(tls->ssl); /* queues close_notify */
        ERR_clear_error();
        tls->state = PERC_TLS_CLOSED;
        perc_tls_set_reason(tls, "closed locally");
    } else if (tls->state == PERC_TLS_HANDSHAKING) {
        tls->state = PERC_TLS_CLOSED;
        perc_tls_set_reason(tls, "closed locally during the handshake");
    }
    return PERC_OK;
}

int perc_tls_recv_eof(perc_tls *tls)
{
    if (!tls)
        return PERC_ERR_INVALID_ARG;
    if (tls->state == PERC_TLS_FAILED)
        return tls->fail_err;
    if (tls->state == PERC_TLS_CLOSED)
        return PERC_OK;
    /* RFC 8446 §6.1: without close_notify the data may have been cut. */
    perc_tls_set_reason(tls, "transport ended without close_notify");
    return set_failed(tls, PERC_ERR_TRUNCATED);
}

perc_tls_state perc_tls_get_state(const perc_tls *tls)
{
    return tls ? tls->state : PERC_TLS_FAILED;
}

perc_tls_role perc_tls_get_role(const perc_tls *tls)
{
    return tls ? tls->ctx->role : PERC_TLS_CLIENT;
}

const char *perc_tls_reason(const perc_tls *tls)
{
    if (!tls)
        return "no connection";
    if (tls->state == PERC_TLS_HANDSHAKING || tls->state == PERC_TLS_OPEN)
        return "";
    return tls->reason;
}

int perc_tls_peer_fingerprint(const perc_tls *tls, uint8_t out[PERC_TLS_FINGERPRINT_LEN])
{
    if (!tls || !out)
        return PERC_ERR_INVALID_ARG;
    if (!tls->have_peer_fp)
        return PERC_ERR_NOT_FOUND;
    memcpy(out, tls->peer_fp, PERC_TLS_FINGERPRINT_LEN);
    return PERC_OK;
}
