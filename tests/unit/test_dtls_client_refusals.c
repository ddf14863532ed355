/* What our DTLS client does with a server that does not behave like ours
 * (conformance gap G21): each case needs a misbehaving server, built
 * either from a stock OpenSSL server with its own supported_ekt_ciphers
 * answer, or from our server's own record writer (white box).
 *   - a server that selects an EKT cipher we did not offer: illegal_parameter
 *     at the ServerHello, before any key (RFC 8870 §5.2.1, RFC 5246 §7.4.1.4);
 *   - an EKTKey on an association that negotiated no EKT cipher:
 *     unexpected_message (RFC 8870 §5.2.2);
 *   - an EKTKey numbered 0 instead of continuing the handshake's
 *     message_seq: accepted and acknowledged (deviations 14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <openssl/err.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>

#include "../../common/src/e2e/dtls_internal.h"
#include "perc/dtls.h"
#include "test_dtls_pair.h"

/* ---- a stock OpenSSL server that answers supported_ekt_ciphers itself -- */

static SRTP_PROTECTION_PROFILE stock_double_128 = {"DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
                                                   0x0009};

/* The cipher the stock server selects, whatever the client offered. */
static unsigned char stock_answer;
static int stock_offer_seen;

static int stock_ext_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                         size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s, (void)type, (void)context, (void)x, (void)chainidx, (void)al, (void)arg;
    *out = &stock_answer;
    *outlen = 1;
    return 1;
}

static int stock_ext_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in,
                           size_t inlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s, (void)type, (void)context, (void)in, (void)inlen, (void)x, (void)chainidx;
    (void)al, (void)arg;
    stock_offer_seen++;
    return 1;
}

static int accept_any_certificate(X509_STORE_CTX *store, void *arg)
{
    (void)store, (void)arg;
    return 1;
}

static SSL *stock_server(tp_peer *identity, SSL_CTX **ctx_out)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, identity->cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, identity->key), 1);
    /* Asks for the client's certificate, as a Key Distributor does, and
     * takes any: the client's identity is not what these tests are about. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, accept_any_certificate, NULL);
    assert_int_equal(SSL_CTX_add_custom_ext(ctx, 39,
                                            SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO,
                                            stock_ext_add, NULL, NULL, stock_ext_parse, NULL),
                     1);
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rb, -1);
    BIO_set_mem_eof_return(wb, -1);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_accept_state(ssl);
    assert_int_equal(SSL_set_tlsext_use_srtp(ssl, "SRTP_AEAD_AES_128_GCM"), 0);
    assert_true(
        sk_SRTP_PROTECTION_PROFILE_insert(SSL_get_srtp_profiles(ssl), &stock_double_128, 0) > 0);
    *ctx_out = ctx;
    return ssl;
}

/* One round: our client's datagrams to the stock server, a handshake step,
 * the server's output back. Returns SSL_do_handshake's result. */
static int stock_round(tp_pair *p, SSL *ssl)
{
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    size_t len;
    while ((len = tp_take(&p->c, buf, sizeof buf)) > 0)
        assert_int_equal(BIO_write(SSL_get_rbio(ssl), buf, (int)len), (int)len);
    int r = SSL_do_handshake(ssl);
    uint8_t out[8192];
    int n;
    while ((n = BIO_read(SSL_get_wbio(ssl), out, sizeof out)) > 0) {
        int rc = perc_dtls_recv(p->c.d, out, (size_t)n, p->now);
        assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
    }
    return r;
}

/* We offer aeskw_128 only; the server selects aeskw_256. */
static void test_server_selects_cipher_not_offered(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_128;
    p.c.cfg.n_ekt_ciphers = 1;
    p.c.cfg.expected_peer_tls_id_len = 0; /* the stock server sends none */
    tp_create_peer(&p.c, false);
    SSL_CTX *ctx;
    SSL *ssl = stock_server(&p.s, &ctx);
    stock_answer = PERC_EKT_CIPHER_AESKW_256;
    stock_offer_seen = 0;

    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    ERR_clear_error();
    int r = 0;
    for (int i = 0; i < 10 && p.c.n_closed == 0; i++)
        r = stock_round(&p, ssl);
    assert_int_equal(stock_offer_seen, 1);
    assert_int_equal(p.c.n_connected, 0);
    assert_int_equal(p.c.n_closed, 1);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_EKT);
    assert_int_equal(p.c.closed.alert, 47); /* illegal_parameter */
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_FAILED);
    /* The server got the alert: its handshake fails on it. */
    r = stock_round(&p, ssl);
    assert_true(r <= 0);
    assert_int_equal(SSL_get_error(ssl, r), SSL_ERROR_SSL);
    assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()),
                     SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    tp_free(&p);
}

/* The same stock server selecting a cipher we offered: the handshake
 * completes, so the refusal above is about the cipher and nothing else. */
static void test_stock_server_selecting_offered_cipher(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_128;
    p.c.cfg.n_ekt_ciphers = 1;
    p.c.cfg.expected_peer_tls_id_len = 0;
    tp_create_peer(&p.c, false);
    SSL_CTX *ctx;
    SSL *ssl = stock_server(&p.s, &ctx);
    stock_answer = PERC_EKT_CIPHER_AESKW_128;
    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    int r = 0;
    for (int i = 0; i < 10 && r != 1; i++)
        r = stock_round(&p, ssl);
    assert_int_equal(r, 1);
    stock_round(&p, ssl); /* the client's last flight, if any */
    assert_int_equal(p.c.n_connected, 1);
    assert_int_equal(p.c.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    tp_free(&p);
}

/* ---- misbehaviour through our server's own record writer ---------------- */

/* Sends an EKTKey record numbered message_seq, bypassing the checks of
 * perc_dtls_send_ekt_key (white box). */
static void send_raw_ekt_key(tp_peer *srv, const perc_ekt_key_msg *m, uint16_t message_seq)
{
    uint8_t body[320], hs[340];
    size_t body_len, hs_len;
    assert_int_equal(perc_ekt_key_msg_encode(m, body, sizeof body, &body_len), PERC_OK);
    assert_int_equal(perc_dtls_hs_encode(PERC_EKT_HS_EKT_KEY, message_seq, body, body_len, hs,
                                         sizeof hs, &hs_len),
                     PERC_OK);
    assert_int_equal(perc_dtls_send_own_record(srv->d, DTLS_CT_HANDSHAKE, hs, hs_len, NULL),
                     PERC_OK);
}

/* The client offered no EKT cipher, so none was negotiated; an EKTKey is
 * then a message it must not get. */
static void test_ekt_key_without_negotiated_cipher(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.n_ekt_ciphers = 0;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.c.ekt_cipher, 0);
    assert_int_equal(p.s.ekt_cipher, 0);
    perc_ekt_key_msg m = tp_ekt_msg(0x0102, 16, 0x61);
    /* Our server refuses to send it at all ... */
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_STATE);
    /* ... so a misbehaving one is made from its record writer. */
    send_raw_ekt_key(&p.s, &m, p.s.d->hs_write_next);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 0);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_EKT);
    assert_int_equal(p.c.closed.alert, 10); /* unexpected_message */
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.s.closed.alert, 10);
    perc_ekt_key_msg_wipe(&m);
    tp_free(&p);
}

/* A server that restarts message_seq at 0 after the handshake (what a
 * stock OpenSSL peer expects, deviations 14): the EKTKey is processed and
 * acknowledged, and the next one, numbered 1, too. */
static void test_ekt_key_numbered_from_zero(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    tp_handshake(&p);
    assert_true(p.s.d->hs_write_next > 0); /* the handshake's own count */
    perc_ekt_key_msg m0 = tp_ekt_msg(0x0201, 16, 0x62), m1 = tp_ekt_msg(0x0202, 16, 0x63);
    send_raw_ekt_key(&p.s, &m0, 0);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 1);
    assert_int_equal(p.c.ekt[0].spi, 0x0201);
    send_raw_ekt_key(&p.s, &m1, 1);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 2);
    assert_int_equal(p.c.ekt[1].spi, 0x0202);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    perc_dtls_stats cs;
    perc_dtls_get_stats(p.c.d, &cs);
    assert_int_equal(cs.acks_sent, 2);
    assert_int_equal(cs.ekt_key_duplicates, 0);
    perc_ekt_key_msg_wipe(&m0);
    perc_ekt_key_msg_wipe(&m1);
    tp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_selects_cipher_not_offered),
        cmocka_unit_test(test_stock_server_selecting_offered_cipher),
        cmocka_unit_test(test_ekt_key_without_negotiated_cipher),
        cmocka_unit_test(test_ekt_key_numbered_from_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
