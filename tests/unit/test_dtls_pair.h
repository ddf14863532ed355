/* Two perc_dtls associations, a client and a server, exchanging datagrams
 * in memory on a virtual clock. Shared by test_dtls.c and test_dtls_ekt.c.
 * Include after <cmocka.h>. */
#ifndef PERC_TEST_DTLS_PAIR_H
#define PERC_TEST_DTLS_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/dtls.h"
#include "perc/secret.h"

#define TP_MAX_EVENTS 8
#define TP_SECOND UINT64_C(1000000000)

static const char tp_client_tls_id[] = "ClientTlsId0123456789abcdef";
static const char tp_server_tls_id[] = "ServerTlsId0123456789ABCDEF";

typedef struct tp_peer {
    perc_dtls_ctx *ctx;
    perc_dtls *d;
    perc_dtls_config cfg;
    X509 *cert;
    EVP_PKEY *key;
    /* events */
    int n_connected;
    uint16_t profile;
    uint8_t ekt_cipher;
    int n_closed;
    perc_dtls_close_info closed;
    int n_ekt;
    perc_ekt_key_msg ekt[TP_MAX_EVENTS];
    int ekt_verdict;                /* what the ekt_key callback returns */
    int n_acked;
    uint16_t acked[TP_MAX_EVENTS];
    bool use_authorize;
    bool authorize_result;
    int n_authorize;
    uint8_t auth_fp[PERC_DTLS_FINGERPRINT_LEN];
    size_t auth_tls_id_len;
    uint8_t auth_tls_id[PERC_DTLS_TLS_ID_MAX];
    /* server: EKTKey to send from inside the connected callback */
    const perc_ekt_key_msg *send_on_connect;
    uint64_t *clock;
    int n_keylog;
    char keylog_line[256];
} tp_peer;

typedef struct tp_pair {
    tp_peer c;
    tp_peer s;
    uint64_t now;
} tp_pair;

static inline void tp_on_connected(void *u, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    tp_peer *p = u;
    (void)d;
    p->n_connected++;
    p->profile = profile;
    p->ekt_cipher = cipher;
    if (p->send_on_connect)
        assert_int_equal(perc_dtls_send_ekt_key(p->d, p->send_on_connect, *p->clock), PERC_OK);
}

static inline int tp_on_ekt_key(void *u, perc_dtls *d, const perc_ekt_key_msg *m)
{
    tp_peer *p = u;
    (void)d;
    if (p->n_ekt < TP_MAX_EVENTS)
        p->ekt[p->n_ekt] = *m;
    p->n_ekt++;
    return p->ekt_verdict;
}

static inline void tp_on_acked(void *u, perc_dtls *d, uint16_t spi)
{
    tp_peer *p = u;
    (void)d;
    if (p->n_acked < TP_MAX_EVENTS)
        p->acked[p->n_acked] = spi;
    p->n_acked++;
}

static inline void tp_on_closed(void *u, perc_dtls *d, const perc_dtls_close_info *ci)
{
    tp_peer *p = u;
    (void)d;
    p->n_closed++;
    p->closed = *ci;
}

static inline bool tp_authorize(void *u, const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN],
                                const uint8_t *id, size_t id_len)
{
    tp_peer *p = u;
    p->n_authorize++;
    memcpy(p->auth_fp, fp, PERC_DTLS_FINGERPRINT_LEN);
    p->auth_tls_id_len = id_len;
    if (id_len)
        memcpy(p->auth_tls_id, id, id_len);
    return p->authorize_result;
}

static inline void tp_keylog(void *u, const char *line)
{
    tp_peer *p = u;
    p->n_keylog++;
    strncpy(p->keylog_line, line, sizeof p->keylog_line - 1);
}

/* Identities and default configurations: both sides send and expect
 * tls-ids, the client pins the server's fingerprint. */
static inline void tp_init(tp_pair *p)
{
    memset(p, 0, sizeof *p);
    p->now = 1000 * TP_SECOND;
    assert_int_equal(perc_dtls_identity_generate("client", &p->c.cert, &p->c.key), PERC_OK);
    assert_int_equal(perc_dtls_identity_generate("server", &p->s.cert, &p->s.key), PERC_OK);
    perc_dtls_config_init(&p->c.cfg, PERC_DTLS_CLIENT);
    perc_dtls_config_init(&p->s.cfg, PERC_DTLS_SERVER);
    assert_int_equal(perc_dtls_config_set_tls_id(&p->c.cfg, (const uint8_t *)tp_client_tls_id,
                                                 strlen(tp_client_tls_id)),
                     PERC_OK);
    assert_int_equal(perc_dtls_config_set_tls_id(&p->s.cfg, (const uint8_t *)tp_server_tls_id,
                                                 strlen(tp_server_tls_id)),
                     PERC_OK);
    assert_int_equal(perc_dtls_config_expect_peer_tls_id(
                         &p->c.cfg, (const uint8_t *)tp_server_tls_id, strlen(tp_server_tls_id)),
                     PERC_OK);
    assert_int_equal(perc_dtls_config_expect_peer_tls_id(
                         &p->s.cfg, (const uint8_t *)tp_client_tls_id, strlen(tp_client_tls_id)),
                     PERC_OK);
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_cert_fingerprint(p->s.cert, fp), PERC_OK);
    perc_dtls_config_expect_peer_fingerprint(&p->c.cfg, fp);
    p->c.authorize_result = p->s.authorize_result = true;
    p->c.clock = p->s.clock = &p->now;
}

static inline void tp_create_peer(tp_peer *p, bool keylog)
{
    perc_dtls_ctx_config cc = {p->cert, p->key, keylog ? tp_keylog : NULL, p};
    assert_int_equal(perc_dtls_ctx_new(&cc, &p->ctx), PERC_OK);
    perc_dtls_callbacks cbs = {p, tp_on_connected, tp_on_ekt_key, tp_on_acked, tp_on_closed,
                               p->use_authorize ? tp_authorize : NULL};
    assert_int_equal(perc_dtls_new(p->ctx, &p->cfg, &cbs, &p->d), PERC_OK);
}

static inline void tp_create(tp_pair *p)
{
    tp_create_peer(&p->c, false);
    tp_create_peer(&p->s, false);
}

/* Moves every queued datagram from one side to the other; the first *drop
 * of them are lost (and *drop counts down). Returns how many were taken. */
static inline int tp_deliver(tp_peer *from, tp_peer *to, uint64_t now, int *drop)
{
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    size_t len;
    int n = 0;
    for (;;) {
        assert_int_equal(perc_dtls_pull(from->d, buf, sizeof buf, &len), PERC_OK);
        if (len == 0)
            break;
        n++;
        if (drop && *drop > 0) {
            (*drop)--;
            continue;
        }
        int rc = perc_dtls_recv(to->d, buf, len, now);
        assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
    }
    return n;
}

/* Exchanges datagrams until neither side has anything to send. */
static inline void tp_settle(tp_pair *p)
{
    for (int i = 0; i < 64; i++) {
        int n = tp_deliver(&p->c, &p->s, p->now, NULL) + tp_deliver(&p->s, &p->c, p->now, NULL);
        if (n == 0)
            return;
    }
    fail_msg("the pair never went quiet");
}

static inline void tp_handshake(tp_pair *p)
{
    assert_int_equal(perc_dtls_start(p->s.d, p->now), PERC_OK);
    assert_int_equal(perc_dtls_start(p->c.d, p->now), PERC_OK);
    tp_settle(p);
}

/* Takes the next queued datagram of one side (0 when none). */
static inline size_t tp_take(tp_peer *from, uint8_t *buf, size_t cap)
{
    size_t len;
    assert_int_equal(perc_dtls_pull(from->d, buf, cap, &len), PERC_OK);
    return len;
}

static inline void tp_free(tp_pair *p)
{
    tp_peer *peers[2] = {&p->c, &p->s};
    for (int i = 0; i < 2; i++) {
        perc_dtls_free(peers[i]->d);
        perc_dtls_ctx_free(peers[i]->ctx);
        X509_free(peers[i]->cert);
        EVP_PKEY_free(peers[i]->key);
        perc_wipe(peers[i]->ekt, sizeof peers[i]->ekt);
    }
}

/* A test EKTKey of the cipher's length. */
static inline perc_ekt_key_msg tp_ekt_msg(uint16_t spi, size_t key_len, uint8_t fill)
{
    perc_ekt_key_msg m;
    memset(&m, 0, sizeof m);
    m.key_len = key_len;
    memset(m.key, fill, key_len);
    m.salt_len = 12;
    memset(m.salt, (uint8_t)(fill ^ 0x5A), 12);
    m.spi = spi;
    m.ttl_s = 3600;
    return m;
}

static inline bool tp_ekt_equal(const perc_ekt_key_msg *a, const perc_ekt_key_msg *b)
{
    return a->key_len == b->key_len && a->salt_len == b->salt_len && a->spi == b->spi &&
           a->ttl_s == b->ttl_s && memcmp(a->key, b->key, a->key_len) == 0 &&
           memcmp(a->salt, b->salt, a->salt_len) == 0;
}

static inline void tp_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#endif
