/* EKTKey over DTLS 1.2 (RFC 8870 §5.2.2, §5.4; DTLS-EKT.md §3, §4):
 * delivery, ACK, retransmission on our timer, re-key, the interceptor's
 * handling of everything that is not ours, and the byte-exactness check
 * against a stock OpenSSL client that does not intercept. */
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

static void connected_pair(tp_pair *p)
{
    tp_init(p);
    tp_create(p);
    tp_handshake(p);
    assert_int_equal(perc_dtls_get_state(p->c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(perc_dtls_get_state(p->s.d), PERC_DTLS_CONNECTED);
}

static void test_ekt_delivered_and_acked(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(0x1234, 16, 0xA1);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 1);
    assert_true(perc_dtls_next_timeout(p.s.d) == p.now + TP_SECOND);

    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 1);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1); /* the ACK */
    assert_int_equal(p.s.n_acked, 1);
    assert_int_equal(p.s.acked[0], 0x1234);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 0);
    assert_true(perc_dtls_next_timeout(p.s.d) == UINT64_MAX);

    perc_dtls_stats ss, cs;
    perc_dtls_get_stats(p.s.d, &ss);
    perc_dtls_get_stats(p.c.d, &cs);
    assert_int_equal(ss.ekt_keys_sent, 1);
    assert_int_equal(ss.ekt_key_retransmits, 0);
    assert_int_equal(ss.acks_received, 1);
    assert_int_equal(cs.ekt_keys_received, 1);
    assert_int_equal(cs.acks_sent, 1);
    assert_int_equal(cs.ekt_key_duplicates, 0);
    /* nothing else moved */
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 0);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    tp_free(&p);
}

/* 0x000A with aeskw_256: a 32-octet EKTKey. */
static void test_ekt_256(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    p.c.cfg.n_srtp_profiles = 1;
    p.c.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_256;
    p.c.cfg.n_ekt_ciphers = 1;
    tp_create(&p);
    tp_handshake(&p);
    perc_ekt_key_msg m = tp_ekt_msg(7, 16, 0xA1);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_KEY_LENGTH);
    m = tp_ekt_msg(7, 32, 0xA1);
    m.salt_len = 256; /* the longest salt the message can carry */
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    assert_int_equal(p.s.n_acked, 1);
    tp_free(&p);
}

static void test_ekt_send_errors(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(1, 32, 0x11);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_KEY_LENGTH);
    m = tp_ekt_msg(1, 16, 0x11);
    m.ttl_s = 0x1000000;
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_TOO_LARGE);
    m.ttl_s = 1;
    m.salt_len = 0;
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, NULL, p.now), PERC_ERR_INVALID_ARG);
    m.salt_len = 12;
    for (uint16_t i = 0; i < PERC_DTLS_MAX_EKT_QUEUE; i++) {
        m.spi = i;
        assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    }
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_LIMIT);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), PERC_DTLS_MAX_EKT_QUEUE);
    /* all of them arrive, in order, one after the other's ACK */
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, PERC_DTLS_MAX_EKT_QUEUE);
    assert_int_equal(p.s.n_acked, PERC_DTLS_MAX_EKT_QUEUE);
    for (int i = 0; i < TP_MAX_EVENTS; i++) {
        assert_int_equal(p.c.ekt[i].spi, i);
        assert_int_equal(p.s.acked[i], i);
    }
    tp_free(&p);
}

/* The first transmission is lost; our timer (caller's clock) resends it. */
static void test_ekt_lost_once(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(0x0101, 16, 0xB2);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    int drop = 1;
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
    assert_int_equal(p.c.n_ekt, 0);

    /* not yet: an early call does nothing */
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now + TP_SECOND - 1), PERC_OK);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 0);

    p.now = perc_dtls_next_timeout(p.s.d);
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 1);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1);
    assert_int_equal(p.s.n_acked, 1);
    assert_true(perc_dtls_next_timeout(p.s.d) == UINT64_MAX);
    perc_dtls_stats ss;
    perc_dtls_get_stats(p.s.d, &ss);
    assert_int_equal(ss.ekt_key_retransmits, 1);
    tp_free(&p);
}

/* The ACK is lost: the EKTKey comes again, is ACKed again and reported
 * once. */
static void test_ekt_ack_lost(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(0x0202, 16, 0xC3);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 1);
    assert_int_equal(p.c.n_ekt, 1);
    int drop = 1;
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, &drop), 1);
    assert_int_equal(p.s.n_acked, 0);

    p.now = perc_dtls_next_timeout(p.s.d);
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 1);
    assert_int_equal(p.c.n_ekt, 1); /* reported once */
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1);
    assert_int_equal(p.s.n_acked, 1);
    assert_int_equal(p.s.acked[0], 0x0202);
    perc_dtls_stats cs;
    perc_dtls_get_stats(p.c.d, &cs);
    assert_int_equal(cs.ekt_keys_received, 1);
    assert_int_equal(cs.ekt_key_duplicates, 1);
    assert_int_equal(cs.acks_sent, 2);
    tp_free(&p);
}

/* A late ACK of the first copy stops the timer as well as the ACK of the
 * retransmission would. */
static void test_ekt_late_ack_of_first_copy(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(3, 16, 0xC4);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    uint8_t first[2048], ack[2048];
    size_t first_len = tp_take(&p.s, first, sizeof first);
    assert_true(first_len > 0);
    p.now = perc_dtls_next_timeout(p.s.d);
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
    int drop = 1; /* the retransmission is lost */
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
    assert_int_equal(perc_dtls_recv(p.c.d, first, first_len, p.now), PERC_OK);
    size_t ack_len = tp_take(&p.c, ack, sizeof ack);
    assert_true(ack_len > 0);
    assert_int_equal(perc_dtls_recv(p.s.d, ack, ack_len, p.now), PERC_OK);
    assert_int_equal(p.s.n_acked, 1);
    /* a duplicate ACK is harmless */
    assert_int_equal(perc_dtls_recv(p.s.d, ack, ack_len, p.now), PERC_OK);
    assert_int_equal(p.s.n_acked, 1);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    tp_free(&p);
}

/* RFC 6347 §4.2.4.1 values on the caller's clock: 1 s doubling to 60 s. */
static void test_ekt_backoff(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(4, 16, 0xD5);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    int drop = 100;
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
    const uint64_t expect[] = {1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        uint64_t next = perc_dtls_next_timeout(p.s.d);
        assert_true(next == p.now + expect[i] * TP_SECOND);
        p.now = next;
        assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
        assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
    }
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.c.n_ekt, 0);
    tp_free(&p);
}

/* Configurable timer and limit (for tests and impatient deployments). */
static void test_ekt_retransmit_limit(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.s.cfg.ekt_rtx_initial_ns = 100000000; /* 100 ms */
    p.s.cfg.ekt_rtx_max_ns = 250000000;
    p.s.cfg.ekt_max_retransmits = 3;
    tp_create(&p);
    tp_handshake(&p);
    perc_ekt_key_msg m = tp_ekt_msg(5, 16, 0xE6);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    int drop = 100;
    const uint64_t expect_ms[] = {100, 200, 250, 250};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
        uint64_t next = perc_dtls_next_timeout(p.s.d);
        assert_true(next == p.now + expect_ms[i] * 1000000u);
        p.now = next;
        assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
    }
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_FAILED);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_EKT_TIMEOUT);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 0);
    tp_free(&p);
}

/* Conference re-key: a second EKTKey with a new SPI on the same
 * association. */
static void test_ekt_rekey(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m1 = tp_ekt_msg(10, 16, 0x10), m2 = tp_ekt_msg(11, 16, 0x20);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m1, p.now), PERC_OK);
    tp_settle(&p);
    p.now += 30 * TP_SECOND;
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m2, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 2);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m1));
    assert_true(tp_ekt_equal(&p.c.ekt[1], &m2));
    assert_int_equal(p.s.n_acked, 2);
    assert_int_equal(p.s.acked[1], 11);
    tp_free(&p);
}

/* A re-key queued while the first EKTKey is unacknowledged waits for it. */
static void test_ekt_queue_behind_unacked(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m1 = tp_ekt_msg(20, 16, 0x30), m2 = tp_ekt_msg(21, 16, 0x40);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m1, p.now), PERC_OK);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m2, p.now), PERC_OK);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 2);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 1); /* only the first */
    assert_int_equal(p.c.n_ekt, 1);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1); /* its ACK sends the second */
    assert_int_equal(p.s.n_acked, 1);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 1);
    assert_true(perc_dtls_next_timeout(p.s.d) == p.now + TP_SECOND);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 2);
    assert_int_equal(p.c.ekt[1].spi, 21);
    assert_int_equal(p.s.acked[1], 21);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 0);
    tp_free(&p);
}

/* The application refuses an EKTKey: illegal_parameter alert (RFC 8870
 * §5.2.2), both sides fail, and the server stops retransmitting. */
static void test_ekt_refused(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    p.c.ekt_verdict = 1;
    perc_ekt_key_msg m = tp_ekt_msg(30, 16, 0x50);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 1);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_EKT);
    assert_int_equal(p.c.closed.alert, 47);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.s.closed.alert, 47);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 0);
    assert_true(perc_dtls_next_timeout(p.s.d) == UINT64_MAX);
    tp_free(&p);
}

/* An authentic but malformed EKTKey: decode_error alert. Built with the
 * server's own record writer (white box). */
static void test_ekt_malformed(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    const uint8_t body[] = {0x00, 0x10, 0xAA}; /* announces 16 key octets, has 1 */
    uint8_t hs[64];
    size_t hs_len;
    assert_int_equal(perc_dtls_hs_encode(PERC_EKT_HS_EKT_KEY, p.s.d->hs_write_next, body,
                                         sizeof body, hs, sizeof hs, &hs_len),
                     PERC_OK);
    assert_int_equal(perc_dtls_send_own_record(p.s.d, DTLS_CT_HANDSHAKE, hs, hs_len, NULL),
                     PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 0);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_EKT);
    assert_int_equal(p.c.closed.alert, 50);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.s.closed.alert, 50);
    tp_free(&p);
}

/* An authentic but malformed ACK is dropped; the EKTKey stays in flight. */
static void test_ack_malformed(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(31, 16, 0x51);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    int drop = 1;
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, &drop), 1);
    const uint8_t junk[] = {0x00, 0x05, 1, 2, 3, 4, 5};
    assert_int_equal(perc_dtls_send_own_record(p.c.d, DTLS_CT_ACK, junk, sizeof junk, NULL),
                     PERC_OK);
    /* an ACK of a record that is not the EKTKey's does not stop it either */
    perc_dtls_recnum rn = {1, 999};
    uint8_t ack[18];
    size_t n;
    assert_int_equal(perc_dtls_ack_encode(&rn, 1, ack, sizeof ack, &n), PERC_OK);
    assert_int_equal(perc_dtls_send_own_record(p.c.d, DTLS_CT_ACK, ack, n, NULL), PERC_OK);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 2);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.s.n_acked, 0);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 1);
    perc_dtls_stats ss;
    perc_dtls_get_stats(p.s.d, &ss);
    assert_int_equal(ss.records_rejected, 1);
    tp_free(&p);
}

/* After the shim, OpenSSL still gets the rest: close_notify after an
 * EKTKey exchange, and our derived keys open what OpenSSL itself sealed. */
static void test_openssl_records_still_flow(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(40, 16, 0x60);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.s.n_acked, 1);

    /* keep a copy of the client's record keys before close wipes them */
    perc_dtls_rec_keys keys = p.s.d->rec_keys;
    assert_true(keys.ready);
    assert_int_equal(perc_dtls_close(p.s.d, p.now), PERC_OK);
    uint8_t dgram[2048];
    size_t len = tp_take(&p.s, dgram, sizeof dgram);
    assert_true(len > 0);
    /* the close_notify record, sealed by OpenSSL: our keys open it */
    perc_reader r;
    perc_dtls_rec rec;
    perc_reader_init(&r, dgram, len);
    assert_int_equal(perc_dtls_rec_read(&r, &rec), PERC_OK);
    assert_int_equal(rec.type, DTLS_CT_ALERT);
    assert_int_equal(rec.epoch, 1);
    uint8_t pt[64];
    size_t pt_len;
    assert_int_equal(
        perc_dtls_rec_open(keys.server_key, keys.server_iv, &rec, pt, sizeof pt, &pt_len), PERC_OK);
    assert_int_equal(pt_len, 2);
    assert_int_equal(pt[0], 1); /* warning */
    assert_int_equal(pt[1], 0); /* close_notify */
    perc_dtls_rec_keys_wipe(&keys);

    assert_int_equal(perc_dtls_recv(p.c.d, dgram, len, p.now), PERC_OK);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CLOSED);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_CLOSE);
    tp_free(&p);
}

/* The server's last flight (CCS, Finished) is lost; its EKTKey, sent from
 * the connected callback, reaches the client before the Finished does. The
 * client must not hand it to OpenSSL (which would fail on it) and must not
 * ACK it; the retransmitted Finished must reach OpenSSL through the shim;
 * the EKTKey's retransmission is then delivered. */
static void test_ekt_overtakes_finished(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    /* OpenSSL's handshake timer reads the wall clock: 400 ms keeps a slow
     * (sanitizer, loaded machine) run from firing it before the test means
     * to; 50 ms did, now and then. */
    p.c.cfg.handshake_rtx_initial_ms = 400;
    perc_ekt_key_msg m = tp_ekt_msg(50, 16, 0x70);
    p.s.send_on_connect = &m;
    tp_create(&p);
    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1); /* ClientHello */
    assert_true(tp_deliver(&p.s, &p.c, p.now, NULL) >= 1);    /* server flight */
    assert_true(tp_deliver(&p.c, &p.s, p.now, NULL) >= 1);    /* client flight, Finished */
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 1);
    /* the server's queue: [CCS + Finished] then [EKTKey] */
    uint8_t fin[2048], ekt[2048];
    size_t fin_len = tp_take(&p.s, fin, sizeof fin);
    size_t ekt_len = tp_take(&p.s, ekt, sizeof ekt);
    assert_true(fin_len > 0 && ekt_len > 0);
    assert_int_equal(tp_take(&p.s, fin + fin_len, sizeof fin - fin_len), 0);
    assert_int_equal(fin[0], DTLS_CT_CHANGE_CIPHER_SPEC);
    assert_int_equal(ekt[0], DTLS_CT_HANDSHAKE);

    /* the EKTKey alone: dropped unanswered, the client still handshaking */
    assert_int_equal(perc_dtls_recv(p.c.d, ekt, ekt_len, p.now), PERC_OK);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_HANDSHAKING);
    assert_int_equal(p.c.n_ekt, 0);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 0);

    /* the client's handshake timer (OpenSSL, wall clock) resends its
     * flight; the server answers with its last flight again */
    tp_sleep_ms(450);
    p.now += 450 * 1000000u;
    assert_int_equal(perc_dtls_on_timeout(p.c.d, p.now), PERC_OK);
    assert_true(tp_deliver(&p.c, &p.s, p.now, NULL) >= 1);
    assert_true(tp_deliver(&p.s, &p.c, p.now, NULL) >= 1);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.c.n_ekt, 0);

    /* the EKTKey comes again on the server's timer */
    p.now = perc_dtls_next_timeout(p.s.d);
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    assert_int_equal(p.s.n_acked, 1);
    tp_free(&p);
}

/* A single flipped bit anywhere in the EKTKey record: never consumed as an
 * EKTKey, never ACKed, and the association survives (OpenSSL drops what
 * does not authenticate). Then the intact record is accepted. */
static void test_flipped_bit_not_consumed(void **state)
{
    (void)state;
    tp_pair p;
    connected_pair(&p);
    perc_ekt_key_msg m = tp_ekt_msg(60, 16, 0x80);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    uint8_t rec[2048], bad[2048];
    size_t len = tp_take(&p.s, rec, sizeof rec);
    assert_true(len > DTLS_RECORD_HEADER_LEN);
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 8; b++) {
            memcpy(bad, rec, len);
            bad[i] ^= (uint8_t)(1u << b);
            assert_int_equal(perc_dtls_recv(p.c.d, bad, len, p.now), PERC_OK);
            assert_int_equal(p.c.n_ekt, 0);
            assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
            assert_int_equal(tp_take(&p.c, bad, sizeof bad), 0); /* no ACK */
        }
    }
    assert_int_equal(perc_dtls_recv(p.c.d, rec, len, p.now), PERC_OK);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    tp_free(&p);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void assert_keys_wiped(const perc_dtls *d)
{
    assert_false(d->keying_valid);
    assert_true(all_zero(&d->keying, sizeof d->keying));
    assert_true(all_zero(&d->rec_keys, sizeof d->rec_keys));
    assert_true(all_zero(d->ekt, sizeof d->ekt));
}

/* White box: every key the object held is zeroed when it fails or closes
 * (RFC 9185 §5.1: on a tls-id mismatch all keying material is invalid). */
static void test_keys_wiped(void **state)
{
    (void)state;
    /* tls-id mismatch: refused at ServerHello, before any key */
    tp_pair p;
    tp_init(&p);
    const char other[] = "SomebodyElsesTlsId0123456789";
    assert_int_equal(perc_dtls_config_expect_peer_tls_id(&p.c.cfg, (const uint8_t *)other,
                                                         strlen(other)),
                     PERC_OK);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_TLS_ID);
    assert_keys_wiped(p.c.d);
    assert_keys_wiped(p.s.d);
    tp_free(&p);

    /* failure after the handshake, with an EKTKey in flight */
    connected_pair(&p);
    assert_true(p.c.d->keying_valid && p.c.d->rec_keys.ready);
    perc_ekt_key_msg m = tp_ekt_msg(70, 16, 0x77);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    p.c.ekt_verdict = 1;
    tp_settle(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_FAILED);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_FAILED);
    assert_keys_wiped(p.c.d);
    assert_keys_wiped(p.s.d);
    tp_free(&p);

    /* close */
    connected_pair(&p);
    assert_int_equal(perc_dtls_close(p.c.d, p.now), PERC_OK);
    tp_settle(&p);
    assert_keys_wiped(p.c.d);
    assert_keys_wiped(p.s.d);
    tp_free(&p);
}

/* ---- a stock OpenSSL client that does not intercept --------------------- */

static SRTP_PROTECTION_PROFILE stock_double_128 = {"DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
                                                   0x0009};

static int stock_ext_add(SSL *s, unsigned int type, unsigned int context, const unsigned char **out,
                         size_t *outlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    static const unsigned char offer[] = {2, 1, 2}; /* aeskw_128, aeskw_256 */
    (void)s, (void)type, (void)context, (void)x, (void)chainidx, (void)al, (void)arg;
    *out = offer;
    *outlen = sizeof offer;
    return 1;
}

static int stock_ext_parse(SSL *s, unsigned int type, unsigned int context, const unsigned char *in,
                           size_t inlen, X509 *x, size_t chainidx, int *al, void *arg)
{
    (void)s, (void)type, (void)context, (void)in, (void)inlen, (void)x, (void)chainidx;
    (void)al, (void)arg;
    return 1;
}

/* Moves a stock SSL's output (one stream of records) to our server. */
static void stock_to_server(SSL *ssl, tp_peer *srv, uint64_t now)
{
    uint8_t buf[8192];
    int n;
    while ((n = BIO_read(SSL_get_wbio(ssl), buf, sizeof buf)) > 0)
        assert_int_equal(perc_dtls_recv(srv->d, buf, (size_t)n, now), PERC_OK);
}

static void server_to_stock(tp_peer *srv, SSL *ssl)
{
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    size_t len;
    while ((len = tp_take(srv, buf, sizeof buf)) > 0)
        assert_int_equal(BIO_write(SSL_get_rbio(ssl), buf, (int)len), (int)len);
}

/* DTLS-EKT.md §4: a stock OpenSSL client, handed an EKTKey record of our
 * writer, authenticates it (a copy with one flipped bit is silently
 * dropped, as DTLS does with records that fail authentication) and then
 * fails with "unexpected message": proof that the record is byte-exact
 * DTLS 1.2 under the association's keys. */
static void test_stock_client_authenticates_record(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.s.cfg.expected_peer_tls_id_len = 0; /* the stock client sends none */
    tp_create_peer(&p.s, false);

    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION), 1);
    assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, p.c.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, p.c.key), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
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
    SSL_set_connect_state(ssl);
    assert_int_equal(SSL_set_tlsext_use_srtp(ssl, "SRTP_AEAD_AES_128_GCM"), 0);
    assert_true(
        sk_SRTP_PROTECTION_PROFILE_insert(SSL_get_srtp_profiles(ssl), &stock_double_128, 0) > 0);

    assert_int_equal(perc_dtls_start(p.s.d, p.now), PERC_OK);
    int done = 0;
    for (int i = 0; i < 20 && !done; i++) {
        int r = SSL_do_handshake(ssl);
        done = r == 1;
        assert_true(done || SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ);
        stock_to_server(ssl, &p.s, p.now);
        server_to_stock(&p.s, ssl);
    }
    assert_true(done);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.s.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(SSL_get_selected_srtp_profile(ssl)->id, 0x0009);

    perc_ekt_key_msg m = tp_ekt_msg(0x0A0B, 16, 0x90);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_OK);
    uint8_t rec[2048], bad[2048], buf[256];
    size_t len = tp_take(&p.s, rec, sizeof rec);
    assert_true(len > 0);

    /* 1. The EKTKey as sent: its message_seq continues the server's count
     * (6 here), but OpenSSL restarts its expected number at 0 after each
     * handshake, so it holds the message as a future one: no error. */
    assert_int_equal(BIO_write(rb, rec, (int)len), (int)len);
    ERR_clear_error();
    int r = SSL_read(ssl, buf, sizeof buf);
    assert_true(r <= 0);
    assert_int_equal(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ);
    assert_int_equal(ERR_peek_error(), 0);

    /* 2. The same EKTKey from the same record writer (seal, seq steal),
     * numbered 0 so that OpenSSL processes it at once. */
    uint8_t body[64], hs[80];
    size_t body_len, hs_len;
    assert_int_equal(perc_ekt_key_msg_encode(&m, body, sizeof body, &body_len), PERC_OK);
    assert_int_equal(
        perc_dtls_hs_encode(PERC_EKT_HS_EKT_KEY, 0, body, body_len, hs, sizeof hs, &hs_len),
        PERC_OK);
    assert_int_equal(perc_dtls_send_own_record(p.s.d, DTLS_CT_HANDSHAKE, hs, hs_len, NULL),
                     PERC_OK);
    len = tp_take(&p.s, rec, sizeof rec);
    assert_true(len > 0);

    /* one flipped bit in the ciphertext: dropped, as DTLS does with a
     * record that fails authentication */
    memcpy(bad, rec, len);
    bad[len - 20] ^= 0x04;
    assert_int_equal(BIO_write(rb, bad, (int)len), (int)len);
    r = SSL_read(ssl, buf, sizeof buf);
    assert_true(r <= 0);
    assert_int_equal(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ);
    assert_int_equal(ERR_peek_error(), 0);

    /* intact: authenticated, decrypted, parsed as a handshake message of a
     * type OpenSSL does not expect */
    assert_int_equal(BIO_write(rb, rec, (int)len), (int)len);
    r = SSL_read(ssl, buf, sizeof buf);
    assert_true(r <= 0);
    assert_int_equal(SSL_get_error(ssl, r), SSL_ERROR_SSL);
    unsigned long e = ERR_peek_last_error();
    assert_int_equal(ERR_GET_LIB(e), ERR_LIB_SSL);
    assert_int_equal(ERR_GET_REASON(e), SSL_R_UNEXPECTED_MESSAGE);
    ERR_clear_error();

    SSL_free(ssl);
    SSL_CTX_free(ctx);
    tp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ekt_delivered_and_acked),
        cmocka_unit_test(test_ekt_256),
        cmocka_unit_test(test_ekt_send_errors),
        cmocka_unit_test(test_ekt_lost_once),
        cmocka_unit_test(test_ekt_ack_lost),
        cmocka_unit_test(test_ekt_late_ack_of_first_copy),
        cmocka_unit_test(test_ekt_backoff),
        cmocka_unit_test(test_ekt_retransmit_limit),
        cmocka_unit_test(test_ekt_rekey),
        cmocka_unit_test(test_ekt_queue_behind_unacked),
        cmocka_unit_test(test_ekt_refused),
        cmocka_unit_test(test_ekt_malformed),
        cmocka_unit_test(test_ack_malformed),
        cmocka_unit_test(test_openssl_records_still_flow),
        cmocka_unit_test(test_ekt_overtakes_finished),
        cmocka_unit_test(test_flipped_bit_not_consumed),
        cmocka_unit_test(test_keys_wiped),
        cmocka_unit_test(test_stock_client_authenticates_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
