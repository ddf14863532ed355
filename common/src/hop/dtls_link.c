/* DTLS-SRTP for cascade links between Media Distributors: see
 * perc/dtls_link.h. One OpenSSL SSL on two memory BIOs. */
#include "perc/dtls_link.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>

#include "perc/secret.h"
#include "perc/tls.h"

#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp" /* RFC 5764 §4.2 */
#define LINK_MTU 1200
#define NS_PER_S UINT64_C(1000000000)
/* Plain AEAD profiles only (RFC 7714 §14.2): the link carries the outer
 * layer, which is an ordinary AES-GCM SRTP session. */
#define LINK_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AEAD_AES_256_GCM"

struct perc_dtls_link {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out;              /* owned by ssl */
    bool client;
    perc_dtls_link_state state;
    const char *failure;
    bool fp_mismatch;
    uint8_t peer_fp[PERC_DTLS_LINK_FP_LEN];
    uint8_t own_fp[PERC_DTLS_LINK_FP_LEN];
    uint64_t deadline;
    perc_dtls_link_keys keys;
    void (*keylog)(void *user, const char *line);
    void *keylog_user;
};

static void keylog_cb(const SSL *s, const char *line)
{
    perc_dtls_link *l = SSL_get_app_data(s);
    if (l && l->keylog)
        l->keylog(l->keylog_user, line);
}

/* The peer is pinned, not chained: accept its self-signed certificate only
 * when its fingerprint is the one signaling gave (RFC 8122 §5). */
static int verify_cb(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    perc_dtls_link *l = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    uint8_t fp[PERC_DTLS_LINK_FP_LEN];
    if (l && leaf && perc_tls_cert_fingerprint(leaf, fp) == PERC_OK &&
        perc_secret_equal(fp, l->peer_fp, sizeof fp))
        return 1;
    if (l)
        l->fp_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

int perc_dtls_link_new(const perc_dtls_link_config *cfg, perc_dtls_link **out)
{
    if (!cfg || !out || !cfg->cert || !cfg->key || !EVP_PKEY_is_a(cfg->key, "EC"))
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    perc_dtls_link *l = calloc(1, sizeof *l);
    if (!l)
        return PERC_ERR_NOMEM;
    int rc = PERC_ERR_CRYPTO;
    l->client = cfg->client;
    l->deadline = UINT64_MAX;
    l->keylog = cfg->keylog;
    l->keylog_user = cfg->keylog_user;
    memcpy(l->peer_fp, cfg->peer_fingerprint, sizeof l->peer_fp);
    SSL_CTX *c = l->ctx = SSL_CTX_new(DTLS_method());
    if (!c || SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
        SSL_CTX_set_tlsext_use_srtp(c, LINK_PROFILES) != 0)
        goto fail;
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate(c, cfg->cert) != 1 || SSL_CTX_use_PrivateKey(c, cfg->key) != 1 ||
        SSL_CTX_check_private_key(c) != 1) {
        rc = PERC_ERR_INVALID_ARG;
        goto fail;
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(c, verify_cb, NULL);
    if (cfg->keylog)
        SSL_CTX_set_keylog_callback(c, keylog_cb);
    if (perc_tls_cert_fingerprint(cfg->cert, l->own_fp) != PERC_OK)
        goto fail;
    if (!(l->ssl = SSL_new(c)) || !(l->in = BIO_new(BIO_s_mem())) ||
        !(l->out = BIO_new(BIO_s_mem()))) {
        BIO_free(l->in);
        BIO_free(l->out);
        l->in = l->out = NULL;
        goto fail;
    }
    BIO_set_mem_eof_return(l->in, -1);
    SSL_set_bio(l->ssl, l->in, l->out);
    SSL_set_app_data(l->ssl, l);
    SSL_set_mtu(l->ssl, LINK_MTU);
    if (l->client)
        SSL_set_connect_state(l->ssl);
    else
        SSL_set_accept_state(l->ssl);
    ERR_clear_error();
    *out = l;
    return PERC_OK;
fail:
    ERR_clear_error();
    perc_dtls_link_free(l);
    return rc;
}

void perc_dtls_link_free(perc_dtls_link *l)
{
    if (!l)
        return;
    SSL_free(l->ssl); /* frees the BIOs */
    SSL_CTX_free(l->ctx);
    perc_wipe(&l->keys, sizeof l->keys);
    free(l);
}

static void fail(perc_dtls_link *l, const char *why)
{
    if (l->state == PERC_DTLS_LINK_FAILED)
        return;
    l->state = PERC_DTLS_LINK_FAILED;
    l->failure = why;
    l->deadline = UINT64_MAX;
    perc_wipe(&l->keys, sizeof l->keys);
}

/* RFC 5764 §4.2: client key | server key | client salt | server salt. */
static int export_keys(perc_dtls_link *l)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(l->ssl);
    if (!p)
        return PERC_ERR_UNSUPPORTED;
    size_t klen = p->id == SRTP_AEAD_AES_256_GCM ? 32 : 16;
    if (p->id != SRTP_AEAD_AES_128_GCM && p->id != SRTP_AEAD_AES_256_GCM)
        return PERC_ERR_UNSUPPORTED;
    uint8_t m[2 * (32 + PERC_SRTP_SALT_LEN)];
    size_t total = 2 * (klen + PERC_SRTP_SALT_LEN);
    if (SSL_export_keying_material(l->ssl, m, total, EXPORTER_LABEL, strlen(EXPORTER_LABEL), NULL,
                                   0, 0) != 1)
        return PERC_ERR_CRYPTO;
    perc_dtls_link_master *cw = l->client ? &l->keys.local : &l->keys.remote;
    perc_dtls_link_master *sw = l->client ? &l->keys.remote : &l->keys.local;
    cw->key_len = sw->key_len = klen;
    memcpy(cw->key, m, klen);
    memcpy(sw->key, m + klen, klen);
    memcpy(cw->salt, m + 2 * klen, PERC_SRTP_SALT_LEN);
    memcpy(sw->salt, m + 2 * klen + PERC_SRTP_SALT_LEN, PERC_SRTP_SALT_LEN);
    l->keys.profile = (uint16_t)p->id;
    perc_wipe(m, sizeof m);
    return PERC_OK;
}

static void update_timer(perc_dtls_link *l, uint64_t now_ns)
{
    struct timeval tv;
    l->deadline = UINT64_MAX;
    if (l->state == PERC_DTLS_LINK_HANDSHAKING && DTLSv1_get_timeout(l->ssl, &tv) == 1)
        l->deadline = now_ns + (uint64_t)tv.tv_sec * NS_PER_S + (uint64_t)tv.tv_usec * 1000u;
}

static void drive(perc_dtls_link *l, uint64_t now_ns)
{
    ERR_clear_error();
    if (l->state == PERC_DTLS_LINK_HANDSHAKING) {
        int r = SSL_do_handshake(l->ssl);
        if (r == 1) {
            if (export_keys(l) == PERC_OK)
                l->state = PERC_DTLS_LINK_CONNECTED;
            else
                fail(l, "no AES-GCM SRTP profile negotiated, or the exporter failed");
        } else {
            int e = SSL_get_error(l->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail(l, l->fp_mismatch ? "peer certificate fingerprint differs from link-peer's"
                                       : "DTLS handshake failed");
        }
    } else if (l->state == PERC_DTLS_LINK_CONNECTED) {
        /* Nothing but alerts or close_notify is expected after the
         * handshake: media goes over SRTP, not DTLS application data. */
        uint8_t sink[256];
        int r = SSL_read(l->ssl, sink, sizeof sink);
        if (r <= 0) {
            int e = SSL_get_error(l->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail(l, e == SSL_ERROR_ZERO_RETURN ? "peer closed the link"
                                                   : "DTLS alert after the handshake");
        }
    }
    ERR_clear_error();
    update_timer(l, now_ns);
}

int perc_dtls_link_start(perc_dtls_link *l, uint64_t now_ns)
{
    if (!l)
        return PERC_ERR_INVALID_ARG;
    if (l->state == PERC_DTLS_LINK_FAILED)
        return PERC_ERR_STATE;
    if (l->client)
        drive(l, now_ns);
    return PERC_OK;
}

int perc_dtls_link_recv(perc_dtls_link *l, const uint8_t *data, size_t len, uint64_t now_ns)
{
    if (!l || !data || len == 0 || len > PERC_DTLS_LINK_MAX_DATAGRAM)
        return PERC_ERR_INVALID_ARG;
    if (l->state == PERC_DTLS_LINK_FAILED)
        return PERC_ERR_STATE;
    if (BIO_write(l->in, data, (int)len) != (int)len) {
        fail(l, "out of memory");
        return PERC_ERR_NOMEM;
    }
    drive(l, now_ns);
    return PERC_OK;
}

int perc_dtls_link_pull(perc_dtls_link *l, uint8_t *out, size_t cap, size_t *len)
{
    if (!l || !out || !len)
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    /* A memory BIO is a byte stream: what OpenSSL meant as separate
     * datagrams arrives concatenated. Cut it back at DTLS record
     * boundaries (13-octet header, RFC 6347 §4.1), packing whole records
     * into one datagram up to the MTU, never splitting one. */
    char *p = NULL;
    long avail = BIO_get_mem_data(l->out, &p);
    if (avail <= 0 || !p)
        return PERC_OK;
    const uint8_t *b = (const uint8_t *)p;
    size_t have = (size_t)avail, take = 0;
    while (take + 13 <= have) {
        size_t rec = 13 + ((size_t)b[take + 11] << 8 | b[take + 12]);
        if (take + rec > have || (take > 0 && take + rec > LINK_MTU))
            break;
        take += rec;
    }
    if (take == 0)
        take = have; /* not a record we can frame: pass it on whole */
    if (take > cap)
        return PERC_ERR_NOSPACE;
    int n = BIO_read(l->out, out, (int)take);
    *len = n > 0 ? (size_t)n : 0;
    return PERC_OK;
}

uint64_t perc_dtls_link_next_timeout(const perc_dtls_link *l)
{
    return l ? l->deadline : UINT64_MAX;
}

int perc_dtls_link_on_timeout(perc_dtls_link *l, uint64_t now_ns)
{
    if (!l)
        return PERC_ERR_INVALID_ARG;
    if (l->state == PERC_DTLS_LINK_FAILED)
        return PERC_ERR_STATE;
    if (now_ns >= l->deadline) {
        ERR_clear_error();
        /* OpenSSL retransmits only if its own (wall) clock agrees. */
        if (DTLSv1_handle_timeout(l->ssl) < 0)
            fail(l, "handshake retransmissions exhausted");
        ERR_clear_error();
        update_timer(l, now_ns);
    }
    return PERC_OK;
}

perc_dtls_link_state perc_dtls_link_get_state(const perc_dtls_link *l)
{
    return l->state;
}

const char *perc_dtls_link_failure(const perc_dtls_link *l)
{
    return l->failure ? l->failure : "";
}

void perc_dtls_link_fingerprint(const perc_dtls_link *l, uint8_t out[PERC_DTLS_LINK_FP_LEN])
{
    memcpy(out, l->own_fp, PERC_DTLS_LINK_FP_LEN);
}

int perc_dtls_link_get_keys(const perc_dtls_link *l, perc_dtls_link_keys *out)
{
    if (!l || !out)
        return PERC_ERR_INVALID_ARG;
    if (l->state != PERC_DTLS_LINK_CONNECTED)
        return PERC_ERR_STATE;
    *out = l->keys;
    return PERC_OK;
}
