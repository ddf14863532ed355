/* The DTLS association object: an OpenSSL SSL on two memory BIOs, driven
 * by the caller's datagrams and clock (perc/dtls.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>

#include "dtls_internal.h"
#include "perc/secret.h"

#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp" /* RFC 5764 §4.2 */
#define OSSL_RTX_MAX_US 60000000u            /* RFC 6347 §4.2.4.1 */
/* OpenSSL rounds a remaining time under 15 ms to zero (expired). */
#define HS_RTX_MIN_MS 20u
#define NS_PER_S UINT64_C(1000000000)

/* ---- shared context ----------------------------------------------------- */

static void keylog_cb(const SSL *s, const char *line)
{
    perc_dtls *d = SSL_get_app_data(s);
    if (d && d->keylog)
        d->keylog(d->keylog_user, line);
}

int perc_dtls_ctx_new(const perc_dtls_ctx_config *cfg, perc_dtls_ctx **out)
{
    if (!cfg || !out || !cfg->cert || !cfg->key)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    /* ECDHE-ECDSA needs an EC key; the record shim needs exactly that suite. */
    if (!EVP_PKEY_is_a(cfg->key, "EC"))
        return PERC_ERR_INVALID_ARG;
    perc_dtls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return PERC_ERR_NOMEM;
    int rc = PERC_ERR_CRYPTO;
    SSL_CTX *c = SSL_CTX_new(DTLS_method());
    if (!c)
        goto fail;
    if (SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1)
        goto fail;
    /* Full handshakes only: no tickets, no session cache (a resumed session
     * would skip the certificate and its fingerprint check), no
     * renegotiation (the shim knows epoch 1 only). The MTU is ours. */
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate(c, cfg->cert) != 1 || SSL_CTX_use_PrivateKey(c, cfg->key) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(c, perc_dtls_cert_verify_cb, NULL);
    if ((rc = perc_dtls_ext_setup_ctx(c)))
        goto fail;
    if (cfg->keylog)
        SSL_CTX_set_keylog_callback(c, keylog_cb);
    if ((rc = perc_dtls_cert_fingerprint(cfg->cert, ctx->fingerprint)))
        goto fail;
    ctx->ssl_ctx = c;
    ctx->keylog = cfg->keylog;
    ctx->keylog_user = cfg->keylog_user;
    *out = ctx;
    ERR_clear_error();
    return PERC_OK;
fail:
    ERR_clear_error();
    SSL_CTX_free(c);
    free(ctx);
    return rc;
}

void perc_dtls_ctx_free(perc_dtls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx); /* reference counted: live associations keep it */
    free(ctx);
}

void perc_dtls_ctx_fingerprint(const perc_dtls_ctx *ctx, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    memcpy(out, ctx->fingerprint, PERC_DTLS_FINGERPRINT_LEN);
}

/* ---- configuration ------------------------------------------------------ */

void perc_dtls_config_init(perc_dtls_config *cfg, perc_dtls_role role)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->role = role;
    cfg->srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_128_GCM;
    cfg->srtp_profiles[1] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    cfg->n_srtp_profiles = 2;
    cfg->ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_128;
    cfg->ekt_ciphers[1] = PERC_EKT_CIPHER_AESKW_256;
    cfg->n_ekt_ciphers = 2;
    cfg->mtu = PERC_DTLS_DEFAULT_MTU;
    cfg->ekt_rtx_initial_ns = PERC_DTLS_EKT_RTX_INITIAL_NS;
    cfg->ekt_rtx_max_ns = PERC_DTLS_EKT_RTX_MAX_NS;
}

static bool tls_id_len_ok(size_t len)
{
    return len >= PERC_DTLS_TLS_ID_MIN && len <= PERC_DTLS_TLS_ID_MAX;
}

int perc_dtls_config_set_tls_id(perc_dtls_config *cfg, const uint8_t *id, size_t len)
{
    if (!cfg || !id || !tls_id_len_ok(len))
        return PERC_ERR_INVALID_ARG;
    memcpy(cfg->tls_id, id, len);
    cfg->tls_id_len = len;
    return PERC_OK;
}

int perc_dtls_config_expect_peer_tls_id(perc_dtls_config *cfg, const uint8_t *id, size_t len)
{
    if (!cfg || !id || !tls_id_len_ok(len))
        return PERC_ERR_INVALID_ARG;
    memcpy(cfg->expected_peer_tls_id, id, len);
    cfg->expected_peer_tls_id_len = len;
    return PERC_OK;
}

void perc_dtls_config_expect_peer_fingerprint(perc_dtls_config *cfg,
                                              const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN])
{
    memcpy(cfg->expected_peer_fingerprint, fp, PERC_DTLS_FINGERPRINT_LEN);
    cfg->check_peer_fingerprint = true;
}

static bool config_ok(const perc_dtls_config *c)
{
    if (c->role != PERC_DTLS_CLIENT && c->role != PERC_DTLS_SERVER)
        return false;
    if (c->n_srtp_profiles == 0 || c->n_srtp_profiles > PERC_DTLS_MAX_PROFILES ||
        c->n_ekt_ciphers > PERC_DTLS_MAX_EKT_CIPHERS)
        return false;
    for (size_t i = 0; i < c->n_srtp_profiles; i++) {
        uint16_t p = c->srtp_profiles[i];
        if (p != PERC_PROFILE_DOUBLE_AES_128_GCM && p != PERC_PROFILE_DOUBLE_AES_256_GCM)
            return false;
        for (size_t j = 0; j < i; j++)
            if (c->srtp_profiles[j] == p)
                return false;
    }
    for (size_t i = 0; i < c->n_ekt_ciphers; i++) {
        if (c->ekt_ciphers[i] == 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if (c->ekt_ciphers[j] == c->ekt_ciphers[i])
                return false;
    }
    if ((c->choose_tls_id || c->required_profile || c->required_ekt_cipher) &&
        c->role != PERC_DTLS_SERVER)
        return false;
    if ((c->tls_id_len && !tls_id_len_ok(c->tls_id_len)) ||
        (c->expected_peer_tls_id_len && !tls_id_len_ok(c->expected_peer_tls_id_len)))
        return false;
    if (c->handshake_rtx_initial_ms && (c->handshake_rtx_initial_ms < HS_RTX_MIN_MS ||
                                        c->handshake_rtx_initial_ms > OSSL_RTX_MAX_US / 1000))
        return false;
    return c->mtu >= PERC_DTLS_MIN_MTU && c->mtu <= PERC_DTLS_MAX_DATAGRAM &&
           c->ekt_rtx_initial_ns > 0 && c->ekt_rtx_max_ns >= c->ekt_rtx_initial_ns;
}

/* ---- hooks OpenSSL calls ------------------------------------------------ */

static void info_cb(const SSL *s, int where, int ret)
{
    perc_dtls *d = SSL_get_app_data(s);
    /* ret = level << 8 | description. Only fatal alerts end an association
     * (close_notify is seen as a zero return); warnings are not reasons. */
    if (!d || !(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
        return;
    if (where & SSL_CB_READ)
        d->alert_received = ret & 0xFF;
    else
        d->alert_sent = ret & 0xFF;
}

/* Every handshake message OpenSSL sends passes here with its DTLS header,
 * so we learn message_seq without parsing records: the server's EKTKey
 * continues its counter after Finished (DTLS-EKT.md §3). */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *s,
                   void *arg)
{
    (void)version, (void)arg;
    perc_dtls *d = SSL_get_app_data(s);
    if (!d || !write_p || content_type != SSL3_RT_HANDSHAKE || len < DTLS_HS_HEADER_LEN)
        return;
    uint16_t seq = perc_load_u16((const uint8_t *)buf + 4);
    if (!d->hs_written || seq >= d->hs_write_next) {
        d->hs_write_next = (uint16_t)(seq + 1);
        d->hs_written = true;
    }
}

/* OpenSSL's handshake timer, when the caller shortened its start value. */
static unsigned int timer_cb(SSL *s, unsigned int timer_us)
{
    perc_dtls *d = SSL_get_app_data(s);
    unsigned int initial = d ? d->cfg.handshake_rtx_initial_ms * 1000u : 1000000u;
    if (timer_us == 0)
        return initial;
    return timer_us >= OSSL_RTX_MAX_US / 2 ? OSSL_RTX_MAX_US : 2 * timer_us;
}

/* ---- lifecycle ---------------------------------------------------------- */

int perc_dtls_new(perc_dtls_ctx *ctx, const perc_dtls_config *cfg, const perc_dtls_callbacks *cbs,
                  perc_dtls **out)
{
    if (!ctx || !cfg || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    if (!config_ok(cfg))
        return PERC_ERR_INVALID_ARG;
    perc_dtls *d = calloc(1, sizeof *d);
    if (!d)
        return PERC_ERR_NOMEM;
    d->cfg = *cfg;
    if (cbs)
        d->cbs = *cbs;
    d->keylog = ctx->keylog;
    d->keylog_user = ctx->keylog_user;
    d->state = PERC_DTLS_HANDSHAKING;
    d->alert_received = d->alert_sent = -1;
    d->ossl_deadline = d->ekt_deadline = UINT64_MAX;

    int rc = PERC_ERR_CRYPTO;
    BIO *rbio = NULL, *wbio = NULL;
    if (!(d->ssl = SSL_new(ctx->ssl_ctx)) || !(rbio = BIO_new(BIO_s_mem())) ||
        !(wbio = BIO_new(BIO_s_mem())))
        goto fail;
    /* An empty memory BIO means "try again", as a non-blocking socket. */
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(d->ssl, rbio, wbio); /* the SSL owns them from here */
    d->rbio = rbio;
    d->wbio = wbio;
    rbio = wbio = NULL;
    /* SSL_set_mtu returns the MTU it set, 0 when it is too small. */
    if (SSL_set_app_data(d->ssl, d) != 1 || SSL_set_mtu(d->ssl, (long)cfg->mtu) <= 0)
        goto fail;
    SSL_set_info_callback(d->ssl, info_cb);
    SSL_set_msg_callback(d->ssl, msg_cb);
    if (cfg->handshake_rtx_initial_ms)
        DTLS_set_timer_cb(d->ssl, timer_cb);
    if (cfg->role == PERC_DTLS_CLIENT)
        SSL_set_connect_state(d->ssl);
    else
        SSL_set_accept_state(d->ssl);
    if ((rc = perc_dtls_ext_setup_ssl(d)))
        goto fail;
    ERR_clear_error();
    *out = d;
    return PERC_OK;
fail:
    ERR_clear_error();
    BIO_free(rbio);
    BIO_free(wbio);
    perc_dtls_free(d);
    return rc;
}

static void out_clear(perc_dtls *d)
{
    while (d->out_head) {
        dtls_out_node *n = d->out_head;
        d->out_head = n->next;
        free(n);
    }
    d->out_tail = NULL;
    d->n_out = 0;
}

/* Every key the object holds. */
static void wipe_keys(perc_dtls *d)
{
    perc_double_keying_wipe(&d->keying);
    d->keying_valid = false;
    perc_dtls_rec_keys_wipe(&d->rec_keys);
    perc_dtls_ekt_clear(d);
}

void perc_dtls_free(perc_dtls *d)
{
    if (!d)
        return;
    if (d->ssl) {
        SSL_set_app_data(d->ssl, NULL);
        SSL_free(d->ssl); /* and its BIOs, and OpenSSL's copy of the secrets */
    }
    wipe_keys(d);
    out_clear(d);
    perc_wipe(d, sizeof *d);
    free(d);
}

/* ---- output ------------------------------------------------------------- */

int perc_dtls_out_push(perc_dtls *d, const uint8_t *p, size_t len)
{
    dtls_out_node *n = malloc(sizeof *n + len);
    if (!n)
        return PERC_ERR_NOMEM;
    n->next = NULL;
    n->len = len;
    memcpy(n->data, p, len);
    if (d->n_out >= DTLS_OUT_QUEUE_MAX) {
        /* The caller is not pulling: behave like a full socket buffer. */
        dtls_out_node *old = d->out_head;
        d->out_head = old->next;
        if (!d->out_head)
            d->out_tail = NULL;
        free(old);
        d->n_out--;
        d->stats.datagrams_dropped++;
    }
    if (d->out_tail)
        d->out_tail->next = n;
    else
        d->out_head = n;
    d->out_tail = n;
    d->n_out++;
    return PERC_OK;
}

int perc_dtls_flush_ssl(perc_dtls *d)
{
    size_t pending = BIO_ctrl_pending(d->wbio);
    if (pending == 0)
        return PERC_OK;
    uint8_t *buf = malloc(pending);
    if (!buf)
        return PERC_ERR_NOMEM;
    int rc = PERC_OK;
    int got = BIO_read(d->wbio, buf, (int)pending);
    if (got <= 0)
        goto out;
    /* The memory BIO is a byte stream: OpenSSL's datagram boundaries are
     * lost, but its records delimit themselves. Records are packed into
     * datagrams up to the MTU, as RFC 6347 §4.1.1 allows. */
    perc_reader r;
    perc_reader_init(&r, buf, (size_t)got);
    size_t start = 0;
    while (perc_reader_remaining(&r) > 0) {
        size_t at = r.pos;
        perc_dtls_rec rec;
        if (perc_dtls_rec_read(&r, &rec) != PERC_OK) {
            r.pos = r.len; /* cannot happen with OpenSSL's output: send as is */
            break;
        }
        if (r.pos - start > d->cfg.mtu && at > start) {
            if ((rc = perc_dtls_out_push(d, buf + start, at - start)))
                goto out;
            start = at;
        }
    }
    if (r.pos > start)
        rc = perc_dtls_out_push(d, buf + start, r.pos - start);
out:
    free(buf);
    return rc;
}

int perc_dtls_pull(perc_dtls *d, uint8_t *out, size_t cap, size_t *len)
{
    if (!d || !out || !len)
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    dtls_out_node *n = d->out_head;
    if (!n)
        return PERC_OK;
    if (n->len > cap)
        return PERC_ERR_NOSPACE;
    memcpy(out, n->data, n->len);
    *len = n->len;
    d->out_head = n->next;
    if (!d->out_head)
        d->out_tail = NULL;
    d->n_out--;
    d->stats.datagrams_out++;
    free(n);
    return PERC_OK;
}

/* ---- ending ------------------------------------------------------------- */

void perc_dtls_end(perc_dtls *d, perc_dtls_state state, perc_dtls_reason reason, int alert,
                   bool alert_from_peer, const char *detail)
{
    if (d->state == PERC_DTLS_FAILED || d->state == PERC_DTLS_CLOSED)
        return;
    d->state = state;
    d->close_info.state = state;
    d->close_info.reason = reason;
    d->close_info.alert = alert;
    d->close_info.alert_from_peer = alert_from_peer;
    d->close_info.detail = detail ? detail : perc_dtls_reason_name(reason);
    /* RFC 9185 §5.1: on failure every key of the association is invalid. */
    wipe_keys(d);
    d->ossl_deadline = UINT64_MAX;
    if (d->cbs.closed)
        d->cbs.closed(d->cbs.user, d, &d->close_info);
}

void perc_dtls_fail(perc_dtls *d, perc_dtls_reason reason, const char *detail)
{
    perc_dtls_end(d, PERC_DTLS_FAILED, reason, -1, false, detail);
}

/* OpenSSL reported a fatal error: say why as precisely as we can. */
static void fail_from_openssl(perc_dtls *d)
{
    unsigned long e = ERR_peek_last_error();
    d->close_info.openssl_error = e;
    const char *ossl_text = e ? ERR_reason_error_string(e) : NULL;
    /* Its alert, if any, is in the write BIO: keep it for pull. */
    if (perc_dtls_flush_ssl(d))
        d->pending_reason = PERC_DTLS_REASON_INTERNAL;
    if (d->pending_reason != PERC_DTLS_REASON_NONE)
        perc_dtls_end(d, PERC_DTLS_FAILED, d->pending_reason, d->alert_sent, false,
                      d->pending_detail);
    else if (d->alert_received >= 0)
        perc_dtls_end(d, PERC_DTLS_FAILED, PERC_DTLS_REASON_PEER_ALERT, d->alert_received, true,
                      ossl_text);
    else
        perc_dtls_end(d, PERC_DTLS_FAILED, PERC_DTLS_REASON_PROTOCOL, d->alert_sent, false,
                      ossl_text);
    ERR_clear_error();
}

/* ---- the pump ----------------------------------------------------------- */

static void handshake_done(perc_dtls *d)
{
    /* Record keys first, so a failure below can still alert the peer. */
    if (perc_dtls_derive_record_keys(d) || !d->rec_keys.ready) {
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "cannot derive the record keys");
        return;
    }
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(d->ssl);
    bool ours = false;
    for (size_t i = 0; p && i < d->cfg.n_srtp_profiles; i++)
        ours = ours || d->cfg.srtp_profiles[i] == p->id;
    if (!ours) {
        perc_dtls_fail_with_alert(d, SSL_AD_HANDSHAKE_FAILURE, PERC_DTLS_REASON_SRTP_PROFILE,
                                  "no double SRTP profile negotiated");
        return;
    }
    uint16_t profile = (uint16_t)p->id;
    /* Belt and braces: the certificate hook refuses a missing tls-id. */
    if (d->cfg.expected_peer_tls_id_len > 0 && !d->peer_tls_id_seen) {
        perc_dtls_fail_with_alert(d, SSL_AD_ACCESS_DENIED, PERC_DTLS_REASON_TLS_ID,
                                  "peer sent no external_session_id");
        return;
    }
    /* RFC 5764 §4.2: 2 * (key + salt) octets, no context. */
    uint8_t km[PERC_DOUBLE_MAX_EXPORTER_LEN];
    size_t n = perc_double_exporter_len(profile);
    int rc = PERC_ERR_CRYPTO;
    if (n > 0 && SSL_export_keying_material(d->ssl, km, n, EXPORTER_LABEL,
                                            sizeof EXPORTER_LABEL - 1, NULL, 0, 0) == 1)
        rc = perc_double_split_exporter(profile, km, n, &d->keying);
    perc_wipe(km, sizeof km);
    if (rc) {
        perc_dtls_fail_with_alert(d, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL,
                                  "cannot export the DTLS-SRTP keying material");
        return;
    }
    if (d->cfg.role == PERC_DTLS_SERVER && !d->hs_written) {
        perc_dtls_fail_with_alert(d, SSL_AD_INTERNAL_ERROR, PERC_DTLS_REASON_INTERNAL,
                                  "handshake message_seq unknown");
        return;
    }
    d->keying_valid = true;
    d->profile = profile;
    d->state = PERC_DTLS_CONNECTED;
    if (d->cbs.connected)
        d->cbs.connected(d->cbs.user, d, d->profile, d->ekt_cipher);
}

/* Reads whatever OpenSSL has after the handshake: alerts, close_notify,
 * retransmitted handshake flights. DTLS-SRTP carries no application data;
 * any that arrives is counted and discarded. */
static void read_records(perc_dtls *d)
{
    uint8_t buf[2048];
    while (d->state == PERC_DTLS_CONNECTED) {
        ERR_clear_error();
        int n = SSL_read(d->ssl, buf, sizeof buf);
        if (n > 0) {
            d->stats.app_data_octets += (uint64_t)n;
            continue;
        }
        int e = SSL_get_error(d->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            /* close_notify: answer it, then the association is over. */
            (void)SSL_shutdown(d->ssl);
            if (perc_dtls_flush_ssl(d))
                perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "out of memory");
            perc_dtls_end(d, PERC_DTLS_CLOSED, PERC_DTLS_REASON_PEER_CLOSE, SSL_AD_CLOSE_NOTIFY,
                          true, "peer sent close_notify");
            break;
        }
        fail_from_openssl(d);
    }
    perc_wipe(buf, sizeof buf);
    ERR_clear_error();
}

static void update_ossl_timer(perc_dtls *d, uint64_t now_ns)
{
    struct timeval tv;
    d->ossl_deadline = UINT64_MAX;
    if (d->state != PERC_DTLS_FAILED && d->state != PERC_DTLS_CLOSED &&
        DTLSv1_get_timeout(d->ssl, &tv) == 1) {
        uint64_t left = (uint64_t)tv.tv_sec * NS_PER_S + (uint64_t)tv.tv_usec * 1000u;
        d->ossl_deadline = now_ns + left;
    }
}

static void drive(perc_dtls *d, uint64_t now_ns)
{
    if (d->state == PERC_DTLS_HANDSHAKING) {
        ERR_clear_error();
        int r = SSL_do_handshake(d->ssl);
        if (r == 1) {
            handshake_done(d);
        } else {
            int e = SSL_get_error(d->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail_from_openssl(d);
        }
        ERR_clear_error();
    }
    if (d->state == PERC_DTLS_CONNECTED)
        read_records(d);
    if (perc_dtls_flush_ssl(d))
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "out of memory");
    update_ossl_timer(d, now_ns);
}

static bool ended(const perc_dtls *d)
{
    return d->state == PERC_DTLS_FAILED || d->state == PERC_DTLS_CLOSED;
}

int perc_dtls_start(perc_dtls *d, uint64_t now_ns)
{
    if (!d)
        return PERC_ERR_INVALID_ARG;
    if (ended(d))
        return PERC_ERR_STATE;
    drive(d, now_ns);
    return PERC_OK;
}

int perc_dtls_recv(perc_dtls *d, const uint8_t *data, size_t len, uint64_t now_ns)
{
    if (!d || !data || len == 0 || len > PERC_DTLS_MAX_DATAGRAM)
        return PERC_ERR_INVALID_ARG;
    if (ended(d))
        return PERC_ERR_STATE;
    d->stats.datagrams_in++;
    int rc = perc_dtls_intercept(d, data, len, now_ns);
    if (rc) {
        perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "cannot hand the datagram to OpenSSL");
        return rc;
    }
    if (!ended(d))
        drive(d, now_ns);
    return PERC_OK;
}

uint64_t perc_dtls_next_timeout(const perc_dtls *d)
{
    if (!d || ended(d))
        return UINT64_MAX;
    return d->ossl_deadline < d->ekt_deadline ? d->ossl_deadline : d->ekt_deadline;
}

int perc_dtls_on_timeout(perc_dtls *d, uint64_t now_ns)
{
    if (!d)
        return PERC_ERR_INVALID_ARG;
    if (ended(d))
        return PERC_ERR_STATE;
    if (now_ns >= d->ossl_deadline) {
        ERR_clear_error();
        /* Retransmits only if OpenSSL's own (wall) clock agrees. */
        if (DTLSv1_handle_timeout(d->ssl) < 0) {
            if (d->pending_reason == PERC_DTLS_REASON_NONE) {
                d->pending_reason = PERC_DTLS_REASON_TIMEOUT;
                d->pending_detail = "handshake retransmissions exhausted";
            }
            fail_from_openssl(d);
        }
        ERR_clear_error();
    }
    if (d->state == PERC_DTLS_CONNECTED)
        perc_dtls_ekt_timer(d, now_ns);
    if (!ended(d)) {
        if (perc_dtls_flush_ssl(d))
            perc_dtls_fail(d, PERC_DTLS_REASON_INTERNAL, "out of memory");
        update_ossl_timer(d, now_ns);
    }
    return PERC_OK;
}

int perc_dtls_close(perc_dtls *d, uint64_t now_ns)
{
    (void)now_ns;
    if (!d)
        return PERC_ERR_INVALID_ARG;
    if (ended(d))
        return PERC_ERR_STATE;
    ERR_clear_error();
    /* During the handshake OpenSSL sends nothing; afterwards close_notify. */
    int alert = -1;
    if (d->state == PERC_DTLS_CONNECTED && SSL_shutdown(d->ssl) >= 0)
        alert = SSL_AD_CLOSE_NOTIFY;
    ERR_clear_error();
    int rc = perc_dtls_flush_ssl(d);
    perc_dtls_end(d, PERC_DTLS_CLOSED, PERC_DTLS_REASON_LOCAL_CLOSE, alert, false,
                  "closed locally");
    return rc;
}

/* ---- getters ------------------------------------------------------------ */

perc_dtls_state perc_dtls_get_state(const perc_dtls *d) { return d->state; }

perc_dtls_role perc_dtls_get_role(const perc_dtls *d) { return d->cfg.role; }

uint16_t perc_dtls_srtp_profile(const perc_dtls *d) { return d->profile; }

uint8_t perc_dtls_ekt_cipher(const perc_dtls *d) { return d->profile ? d->ekt_cipher : 0; }

const perc_dtls_close_info *perc_dtls_get_close_info(const perc_dtls *d)
{
    return ended(d) ? &d->close_info : NULL;
}

int perc_dtls_get_keying(const perc_dtls *d, perc_double_keying *out)
{
    if (!d || !out)
        return PERC_ERR_INVALID_ARG;
    if (d->state != PERC_DTLS_CONNECTED || !d->keying_valid)
        return PERC_ERR_STATE;
    *out = d->keying;
    return PERC_OK;
}

int perc_dtls_peer_fingerprint(const perc_dtls *d, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    if (!d || !out)
        return PERC_ERR_INVALID_ARG;
    if (!d->peer_fp_seen)
        return PERC_ERR_NOT_FOUND;
    memcpy(out, d->peer_fp, PERC_DTLS_FINGERPRINT_LEN);
    return PERC_OK;
}

int perc_dtls_peer_tls_id(const perc_dtls *d, uint8_t *out, size_t cap, size_t *len)
{
    if (!d || !out || !len)
        return PERC_ERR_INVALID_ARG;
    if (!d->peer_tls_id_seen)
        return PERC_ERR_NOT_FOUND;
    if (cap < d->peer_tls_id_len)
        return PERC_ERR_NOSPACE;
    memcpy(out, d->peer_tls_id, d->peer_tls_id_len);
    *len = d->peer_tls_id_len;
    return PERC_OK;
}

void perc_dtls_get_stats(const perc_dtls *d, perc_dtls_stats *out) { *out = d->stats; }

const char *perc_dtls_reason_name(perc_dtls_reason reason)
{
    switch (reason) {
    case PERC_DTLS_REASON_NONE:
        return "none";
    case PERC_DTLS_REASON_LOCAL_CLOSE:
        return "local_close";
    case PERC_DTLS_REASON_PEER_CLOSE:
        return "peer_close";
    case PERC_DTLS_REASON_PEER_ALERT:
        return "peer_alert";
    case PERC_DTLS_REASON_PROTOCOL:
        return "protocol";
    case PERC_DTLS_REASON_TIMEOUT:
        return "timeout";
    case PERC_DTLS_REASON_FINGERPRINT:
        return "fingerprint";
    case PERC_DTLS_REASON_TLS_ID:
        return "tls_id";
    case PERC_DTLS_REASON_UNAUTHORIZED:
        return "unauthorized";
    case PERC_DTLS_REASON_SRTP_PROFILE:
        return "srtp_profile";
    case PERC_DTLS_REASON_EKT:
        return "ekt";
    case PERC_DTLS_REASON_EKT_TIMEOUT:
        return "ekt_timeout";
    case PERC_DTLS_REASON_INTERNAL:
        return "internal";
    }
    return "unknown";
}
