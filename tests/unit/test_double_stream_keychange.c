/* perc_double_rx across a sender's key change (RFC 8870 §4.3.1): packets
 * under the sender's old and new inner keys arrive interleaved and all
 * verify; replays under either key are still refused; the key before the
 * previous one is gone, unless the newest was never used while the
 * previous one was; failures say which layer refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/double.h"
#include "perc/double_endpoint.h"
#include "perc/rtp.h"
#include "perc/srtp.h"

#define SSRC 0x5EED0001u

typedef struct fx {
    perc_srtp_session_keys outer_keys;
    perc_srtp_session *outer;
    perc_srtp_session_keys inner_keys[3];
    perc_srtp_session *inner[3];
    perc_double_rx *rx;
} fx;

static void keys(uint8_t seed, perc_srtp_session_keys *out)
{
    uint8_t k[16], s[12];
    memset(k, seed, sizeof k);
    memset(s, (uint8_t)(seed ^ 0x5A), sizeof s);
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, k, sizeof k, s, sizeof s, out), PERC_OK);
}

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof f);
    keys(0x11, &f.outer_keys);
    assert_int_equal(perc_srtp_session_new(&f.outer_keys, &f.outer), PERC_OK);
    for (int i = 0; i < 3; i++) {
        keys((uint8_t)(0x21 + i), &f.inner_keys[i]);
        assert_int_equal(perc_srtp_session_new(&f.inner_keys[i], &f.inner[i]), PERC_OK);
    }
    assert_int_equal(perc_double_rx_new(&f.outer_keys, 0, &f.rx), PERC_OK);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    perc_double_rx_free(f->rx);
    perc_srtp_session_free(f->outer);
    for (int i = 0; i < 3; i++)
        perc_srtp_session_free(f->inner[i]);
    return 0;
}

/* Sender packet `seq` under inner key k (ROC 0 on both layers). */
static size_t make(fx *f, int k, uint16_t seq, uint8_t *buf, size_t cap)
{
    perc_rtp_header h = {.payload_type = 96, .seq = seq, .timestamp = 90u * seq, .ssrc = SSRC};
    uint8_t payload[32];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(seq * 3u + i);
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, sizeof payload, 0);
    size_t n;
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    assert_int_equal(perc_double_protect(f->inner[k], 0, f->outer, 0, buf, n, cap, &n), PERC_OK);
    return n;
}

/* make() at a given ROC on both layers (the sender's SEQ wrapped). */
static size_t make_roc(fx *f, int k, uint16_t seq, uint32_t roc, uint8_t *buf, size_t cap)
{
    perc_rtp_header h = {.payload_type = 96, .seq = seq, .timestamp = 90u * seq, .ssrc = SSRC};
    uint8_t payload[32];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(seq * 3u + i);
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, sizeof payload, 0);
    size_t n;
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    assert_int_equal(perc_double_protect(f->inner[k], roc, f->outer, roc, buf, n, cap, &n), PERC_OK);
    return n;
}

static int rx(fx *f, const uint8_t *pkt, size_t len, perc_double_rx_result *res)
{
    uint8_t buf[256];
    memcpy(buf, pkt, len);
    size_t n;
    perc_double_info info;
    int rc = perc_double_rx_unprotect_ex(f->rx, buf, len, &n, &info, res);
    if (rc == PERC_OK) {
        perc_rtp_packet p;
        assert_int_equal(perc_rtp_parse(buf, n, &p), PERC_OK);
        assert_int_equal(p.payload.len, 32);
        assert_int_equal(p.payload.ptr[0], (uint8_t)(p.hdr.seq * 3u));
    }
    return rc;
}

static void test_interleaved_old_and_new_key(void **state)
{
    fx *f = *state;
    uint8_t pkt[64][256];
    size_t len[64];
    /* Packets 0..9 under key 0, 10..19 under key 1: the sender switched
     * at 10. They arrive shuffled across the switch. */
    for (uint16_t i = 0; i < 20; i++)
        len[i] = make(f, i < 10 ? 0 : 1, (uint16_t)(1000 + i), pkt[i], sizeof pkt[i]);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    perc_double_rx_result res;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rx(f, pkt[i], len[i], &res), PERC_OK);
        assert_false(res.previous_key);
    }
    /* The new key arrives (a Full field) while old-key packets are still
     * coming. */
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[1], 0), PERC_OK);
    static const int order[] = {5, 10, 6, 11, 12, 7, 13, 8, 14, 9, 15, 16, 17, 18, 19};
    for (size_t j = 0; j < sizeof order / sizeof order[0]; j++) {
        int i = order[j];
        assert_int_equal(rx(f, pkt[i], len[i], &res), PERC_OK);
        assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_NONE);
        assert_int_equal(res.previous_key, i < 10);
    }
    /* Every packet again: each is a replay, under whichever key it was
     * sent, and the verdict comes from the inner layer once the outer one
     * is bypassed (here the outer window refuses it first). */
    for (int i = 0; i < 20; i++) {
        int rc = rx(f, pkt[i], len[i], &res);
        assert_true(rc == PERC_ERR_REPLAY || rc == PERC_ERR_REPLAY_OLD);
        assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_OUTER);
    }
}

/* An MD that replays an end-to-end packet under a fresh outer SEQ gets
 * past the outer window; the inner window of the key the packet was sent
 * under still refuses it, old key or new. */
static void test_inner_replay_under_both_keys(void **state)
{
    fx *f = *state;
    uint8_t a[256], b[256];
    size_t la = make(f, 0, 500, a, sizeof a);
    size_t lb = make(f, 1, 501, b, sizeof b);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[1], 0), PERC_OK);
    perc_double_rx_result res;
    assert_int_equal(rx(f, a, la, &res), PERC_OK);
    assert_true(res.previous_key);
    assert_int_equal(rx(f, b, lb, &res), PERC_OK);
    assert_false(res.previous_key);

    const uint8_t *pk[2] = {a, b};
    size_t pl[2] = {la, lb};
    for (int t = 0; t < 2; t++) {
        /* Outer open, new wire SEQ recorded in the OHB, outer re-seal. */
        uint8_t buf[256];
        memcpy(buf, pk[t], pl[t]);
        perc_relay_change chg = {.set_seq = true, .seq = (uint16_t)(600 + t)};
        size_t n;
        assert_int_equal(perc_double_relay(f->outer, 0, f->outer, 0, &chg, buf, pl[t], sizeof buf, &n),
                         PERC_ERR_INVALID_ARG); /* the relay refuses one key for both hops */
        perc_srtp_session *out2;
        assert_int_equal(perc_srtp_session_new(&f->outer_keys, &out2), PERC_OK);
        memcpy(buf, pk[t], pl[t]);
        assert_int_equal(perc_srtp_open(f->outer, buf, pl[t], 0, &n), PERC_OK);
        assert_int_equal(perc_double_rewrite(buf, n, sizeof buf, &chg, &n), PERC_OK);
        assert_int_equal(perc_srtp_seal(out2, buf, n, sizeof buf, 0, &n), PERC_OK);
        perc_srtp_session_free(out2);
        assert_int_equal(rx(f, buf, n, &res), PERC_ERR_REPLAY);
        assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_INNER);
    }
}

/* Only two keys are kept: after a second change the first no longer
 * opens anything; a tampered packet is an inner failure; a wrong hop key
 * an outer one. */
static void test_oldest_key_dropped_and_layers(void **state)
{
    fx *f = *state;
    uint8_t p0[256], p1[256], p2[256];
    size_t l0 = make(f, 0, 10, p0, sizeof p0);
    size_t l1 = make(f, 1, 11, p1, sizeof p1);
    size_t l2 = make(f, 2, 12, p2, sizeof p2);
    for (int k = 0; k < 3; k++)
        assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[k], 0), PERC_OK);
    perc_double_rx_result res;
    assert_int_equal(rx(f, p0, l0, &res), PERC_ERR_AUTH);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_INNER);
    assert_int_equal(rx(f, p2, l2, &res), PERC_OK);
    assert_false(res.previous_key);
    assert_int_equal(rx(f, p1, l1, &res), PERC_OK);
    assert_true(res.previous_key);

    /* A timestamp changed under a valid outer layer: inner failure. */
    uint8_t buf[256];
    size_t l3 = make(f, 2, 13, buf, sizeof buf);
    size_t n;
    assert_int_equal(perc_srtp_open(f->outer, buf, l3, 0, &n), PERC_OK);
    buf[7] ^= 1;
    perc_srtp_session *out2;
    assert_int_equal(perc_srtp_session_new(&f->outer_keys, &out2), PERC_OK);
    assert_int_equal(perc_srtp_seal(out2, buf, n, sizeof buf, 0, &n), PERC_OK);
    perc_srtp_session_free(out2);
    assert_int_equal(rx(f, buf, n, &res), PERC_ERR_AUTH);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_INNER);

    /* A bit flipped on the wire: outer failure. */
    l3 = make(f, 2, 14, buf, sizeof buf);
    buf[l3 - 1] ^= 0x80;
    assert_int_equal(rx(f, buf, l3, &res), PERC_ERR_AUTH);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_OUTER);

    /* No key for another SSRC: refused before either layer. */
    l3 = make(f, 2, 15, buf, sizeof buf);
    buf[11] ^= 1;
    assert_int_equal(rx(f, buf, l3, &res), PERC_ERR_NO_KEY);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_NONE);
    assert_int_equal(perc_double_rx_unprotect_ex(NULL, buf, l3, &n, NULL, &res),
                     PERC_ERR_INVALID_ARG);
}

/* A second change inside the sender's key-change delay: key 0 is in use,
 * key 1 is announced and never used, key 2 is announced. The receiver
 * keeps key 0 (it opens packets) and lets key 1 go; once key 2 opened a
 * packet, the next change drops key 0 as usual. */
static void test_unused_key_gives_way(void **state)
{
    fx *f = *state;
    uint8_t a[256], b[256], c[256], d[256], e[256];
    perc_double_rx_result res;
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    size_t la = make(f, 0, 100, a, sizeof a);
    assert_int_equal(rx(f, a, la, &res), PERC_OK);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[1], 0), PERC_OK);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[2], 0), PERC_OK);
    size_t lb = make(f, 0, 101, b, sizeof b); /* still under key 0 */
    assert_int_equal(rx(f, b, lb, &res), PERC_OK);
    assert_true(res.previous_key);
    size_t lc = make(f, 1, 102, c, sizeof c); /* key 1 was never kept */
    assert_int_equal(rx(f, c, lc, &res), PERC_ERR_AUTH);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_INNER);
    size_t ld = make(f, 2, 103, d, sizeof d);
    assert_int_equal(rx(f, d, ld, &res), PERC_OK);
    assert_false(res.previous_key);
    /* Key 2 is in use now: a new key rotates it to previous, key 0 goes. */
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[1], 0), PERC_OK);
    size_t le = make(f, 0, 104, e, sizeof e);
    assert_int_equal(rx(f, e, le, &res), PERC_ERR_AUTH);
    le = make(f, 2, 105, e, sizeof e);
    assert_int_equal(rx(f, e, le, &res), PERC_OK);
    assert_true(res.previous_key);
}

/* A key installed again (the same sender re-announcing after a ROC
 * resynchronisation) keeps working, and the old unprotect entry point
 * still behaves as before. */
static void test_plain_unprotect_still_works(void **state)
{
    fx *f = *state;
    uint8_t buf[256];
    size_t l = make(f, 0, 77, buf, sizeof buf);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    size_t n;
    assert_int_equal(perc_double_rx_unprotect(f->rx, buf, l, &n, NULL), PERC_OK);
    l = make(f, 0, 78, buf, sizeof buf);
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    assert_int_equal(perc_double_rx_unprotect(f->rx, buf, l, &n, NULL), PERC_OK);
}

/* The sender announces its new key at ROC 0, its SEQ wraps during the
 * key-change delay, and its first packets under the new key are at ROC 1.
 * The receiver holds the new key at the announced ROC 0 until a later Full
 * field says 1: refreshing the ROC of the not yet used key makes them
 * open (found by e2e_join: every packet under the new key failed). */
static void test_wrap_during_key_change(void **state)
{
    fx *f = *state;
    uint8_t pkt[256];
    size_t len;
    perc_double_rx_result res;
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[0], 0), PERC_OK);
    for (uint16_t seq = 65530; seq != 0; seq++) {
        len = make_roc(f, 0, seq, 0, pkt, sizeof pkt);
        assert_int_equal(rx(f, pkt, len, &res), PERC_OK);
    }
    /* New key announced at ROC 0; the old one still encrypts, across the
     * wrap. */
    assert_int_equal(perc_double_rx_set_inner(f->rx, SSRC, &f->inner_keys[1], 0), PERC_OK);
    for (uint16_t seq = 0; seq < 4; seq++) {
        len = make_roc(f, 0, seq, 1, pkt, sizeof pkt);
        assert_int_equal(rx(f, pkt, len, &res), PERC_OK);
        assert_true(res.previous_key);
    }
    /* The switch: under the new key at ROC 1, with the key held at 0. */
    len = make_roc(f, 1, 4, 1, pkt, sizeof pkt);
    assert_int_equal(rx(f, pkt, len, &res), PERC_ERR_AUTH);
    assert_int_equal(res.failed_layer, PERC_DOUBLE_LAYER_INNER);
    /* A Full field at ROC 1 announces the same key again. */
    assert_int_equal(perc_double_rx_refresh_inner_roc(f->rx, SSRC, 1), PERC_OK);
    for (uint16_t seq = 5; seq < 9; seq++) {
        len = make_roc(f, 1, seq, 1, pkt, sizeof pkt);
        assert_int_equal(rx(f, pkt, len, &res), PERC_OK);
        assert_false(res.previous_key);
    }
    /* In use now: its own state tracks the ROC. */
    assert_int_equal(perc_double_rx_refresh_inner_roc(f->rx, SSRC, 7), PERC_ERR_STATE);
    assert_int_equal(perc_double_rx_refresh_inner_roc(f->rx, 0x1234u, 1), PERC_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interleaved_old_and_new_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inner_replay_under_both_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldest_key_dropped_and_layers, setup, teardown),
cmocka_unit_test_setup_teardown(test_unused_key_gives_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_unprotect_still_works, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_during_key_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
