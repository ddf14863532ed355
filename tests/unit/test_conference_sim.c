/* The whole-conference simulation: the KMF core, the tunnel, the MD's
 * forwarding core and 3-4 participants in memory on a virtual clock
 * (test_participant_sim.h). Scenarios: setup with everyone verifying
 * everyone, a mid-call join, a leave with re-key and the departed
 * participant's keys opening nothing sent after the switch, 10% loss on
 * one link, and a dishonest MD whose every trick is refused with the right
 * reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "perc/double.h"
#include "perc/ekt_field.h"
#include "test_participant_sim.h"

static void setup_three(psim *s, uint64_t seed)
{
    psim_init(s, seed);
    psim_start(s);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        psim_add(s, name);
        psim_join(s, i);
    }
    psim_pump(s);
    psim_run(s, s->now + 50 * PS_MS);
    for (int i = 0; i < 3; i++) {
        assert_true(psim_ready(s, i));
        s->ep[i].sending = true;
    }
}

/* setup_three, then a fourth participant joins late, and all four have
 * been sending for a second. */
static void setup_four_talking(psim *s, uint64_t seed)
{
    setup_three(s, seed);
    int d = psim_add(s, "user3");
    psim_join(s, d);
    psim_pump(s);
    psim_run(s, s->now + 50 * PS_MS);
    s->ep[d].sending = true;
    psim_run(s, s->now + 1 * PS_SECOND);
}

static void assert_all_verified(psim *s, int n)
{
    for (int r = 0; r < n; r++) {
        for (int f = 0; f < n; f++) {
            if (r == f || s->ep[r].cut || s->ep[f].cut)
                continue;
            assert_true(s->ep[f].sent > 0);
            if (s->ep[r].got[f] != s->ep[f].sent)
                fail_msg("receiver %d verified %llu of %llu from %d", r,
                         (unsigned long long)s->ep[r].got[f], (unsigned long long)s->ep[f].sent, f);
        }
        assert_int_equal(s->ep[r].bad_payload, 0);
        assert_int_equal(s->ep[r].out_of_order, 0);
    }
}

static void test_setup_everyone_verifies_everyone(void **state)
{
    (void)state;
    static psim s;
    setup_three(&s, 1);
    psim_reset_counts(&s);
    psim_run(&s, s.now + 2 * PS_SECOND);
    psim_send_frames(&s); /* nothing in flight is lost in the count: pump settles it */
    psim_pump(&s);
    assert_all_verified(&s, 3);
    for (int r = 0; r < 3; r++) {
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[r].p, &st);
        for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
            assert_int_equal(st.rejected[k], 0);
        assert_true(st.rtcp_sent >= 2);
        for (int f = 0; f < 3; f++) {
            if (f == r)
                continue;
            perc_participant_remote_stats rs = psim_rstats(&s, r, f);
            assert_int_equal(rs.lost, 0);
            assert_int_equal(rs.late, 0);
            assert_int_equal(rs.keys_learned, 1);
            assert_true(rs.sr_received >= 1); /* the MD forwards SRs */
        }
        perc_participant_send_stats ss;
        assert_int_equal(perc_participant_send_stats_get(s.ep[r].p, s.ep[r].ssrc, &ss), PERC_OK);
        /* 3 initial Full fields, then one per 100 ms */
        assert_true(ss.full_fields >= 3 + 15 && ss.full_fields <= 3 + 25);
        assert_int_equal(ss.keys, 1);
    }
    psim_free(&s);
}

/* ---- a dishonest or colluding Media Distributor ----------------------- */

/* Outer-opens buf (without its EKT field) under sess, trying ROC 0 and 1. */
static bool open_outer(perc_srtp_session *sess, uint8_t *buf, size_t len, size_t *n, uint32_t *roc)
{
    uint8_t copy[PERC_PARTICIPANT_MAX_DATAGRAM];
    memcpy(copy, buf, len);
    for (uint32_t r = 0; r < 2; r++) {
        memcpy(buf, copy, len);
        if (perc_srtp_open(sess, buf, len, r, n) == PERC_OK) {
            *roc = r;
            return true;
        }
    }
    return false;
}

typedef enum tmode {
    T_NONE = 0,
    T_FLIP_PAYLOAD,
    T_TIMESTAMP,
    T_SSRC_UNKNOWN,
    T_SPLICE,
    T_REPLAY_EXACT,
    T_REPLAY_INNER,
    T_WRONG_KEY_SENDER,
    T_WRONG_KEY_OTHER,
    T_FORWARD_TO_DEPARTED,
} tmode;

typedef struct tamper {
    tmode mode;
    int to, from, other;
    int stage;
    bool done;
    uint8_t saved[PERC_PARTICIPANT_MAX_DATAGRAM];
    size_t saved_len;
    uint8_t saved_field[PERC_EKT_FIELD_MAX_LEN];
    size_t saved_field_len;
    int departed;
    uint64_t forwarded;
} tamper;

static tamper g_t;

static bool is_rtp_from(const uint8_t *buf, size_t len, uint32_t ssrc)
{
    return perc_demux_classify(buf, len) == PERC_DEMUX_RTP && len >= 12 &&
           perc_load_u32(buf + 8) == ssrc;
}

/* Re-seals the outer plaintext buf[0..n) for the receiver and re-appends
 * the EKT field. */
static size_t seal_for(perc_srtp_session *sess, uint8_t *buf, size_t n, size_t cap, uint32_t roc,
                       const uint8_t *field, size_t field_len)
{
    size_t out;
    assert_int_equal(perc_srtp_seal(sess, buf, n, cap, roc, &out), PERC_OK);
    assert_int_equal(perc_ekt_field_append(buf, out, cap, field, field_len, &out), PERC_OK);
    return out;
}

static bool tamper_hook(psim *s, int to, uint8_t *buf, size_t *len, size_t cap)
{
    tamper *t = &g_t;
    if (t->done || to != t->to)
        return true;
    bool from_main = is_rtp_from(buf, *len, s->ep[t->from].ssrc);
    bool from_other = t->other >= 0 && is_rtp_from(buf, *len, s->ep[t->other].ssrc);
    if (!from_main && !(t->mode == T_SPLICE && t->stage == 1 && from_other))
        return true;
    perc_ekt_field ef;
    assert_int_equal(perc_ekt_field_find(buf, *len, &ef), PERC_OK);
    uint8_t field[PERC_EKT_FIELD_MAX_LEN];
    size_t field_len = ef.field.len;
    memcpy(field, ef.field.ptr, field_len);
    size_t srtp_len = ef.srtp_len;
    perc_srtp_session *rk = psim_session(&s->ep[to], true);
    size_t n;
    uint32_t roc = 0; /* set on every path that seals; gcc -O3 cannot tell */
    bool deliver = true;
    if (t->mode == T_REPLAY_EXACT) {
        if (t->stage == 0) {
            memcpy(t->saved, buf, *len);
            t->saved_len = *len;
            t->stage = 1;
        } else {
            /* the old datagram again, byte for byte, then the current one */
            assert_int_not_equal(perc_participant_recv(s->ep[to].p, t->saved, t->saved_len, s->now),
                                 PERC_OK);
            t->done = true;
        }
        perc_srtp_session_free(rk);
        return true;
    }
    if (t->mode == T_FORWARD_TO_DEPARTED) {
        /* A colluding MD keeps feeding the departed participant: the copy
         * for `to`, outer-opened and re-sealed under the departed one's
         * hop key. */
        uint8_t copy[PERC_PARTICIPANT_MAX_DATAGRAM];
        memcpy(copy, buf, srtp_len);
        assert_true(open_outer(rk, copy, srtp_len, &n, &roc));
        perc_srtp_session *dk = psim_session(&s->ep[t->departed], true);
        n = seal_for(dk, copy, n, sizeof copy, roc, field, field_len);
        perc_srtp_session_free(dk);
        if (perc_participant_recv(s->ep[t->departed].p, copy, n, s->now) != PERC_OK) {
        }
        t->forwarded++;
        perc_srtp_session_free(rk);
        return true;
    }
    assert_true(open_outer(rk, buf, srtp_len, &n, &roc));
    switch (t->mode) {
    case T_FLIP_PAYLOAD:
        buf[n - 20] ^= 0x04; /* inside the inner ciphertext */
        *len = seal_for(rk, buf, n, cap, roc, field, field_len);
        t->done = true;
        break;
    case T_TIMESTAMP:
        buf[7] ^= 0x01;
        *len = seal_for(rk, buf, n, cap, roc, field, field_len);
        t->done = true;
        break;
    case T_SSRC_UNKNOWN:
        perc_store_u32(buf + 8, 0xDEADBEEFu);
        *len = seal_for(rk, buf, n, cap, roc, field, field_len);
        t->done = true;
        break;
    case T_WRONG_KEY_SENDER: {
        /* re-sealed with the incoming hop's key (RFC 8723 §5.2 forbids) */
        perc_srtp_session *sk = psim_session(&s->ep[t->from], false);
        *len = seal_for(sk, buf, n, cap, roc, field, field_len);
        perc_srtp_session_free(sk);
        t->done = true;
        break;
    }
    case T_WRONG_KEY_OTHER: {
        perc_srtp_session *ok = psim_session(&s->ep[t->other], true);
        *len = seal_for(ok, buf, n, cap, roc, field, field_len);
        perc_srtp_session_free(ok);
        t->done = true;
        break;
    }
    case T_REPLAY_INNER:
    case T_SPLICE:
        if (t->stage == 0) {
            /* keep the outer plaintext; the replay delivers it first */
            memcpy(t->saved, buf, n);
            t->saved_len = n;
            memcpy(t->saved_field, field, field_len);
            t->saved_field_len = field_len;
            t->stage = 1;
            if (t->mode == T_REPLAY_INNER) {
                *len = seal_for(rk, buf, n, cap, roc, field, field_len);
            } else {
                deliver = false; /* spliced later into another stream */
            }
            break;
        }
        {
            /* The saved content under this packet's outer SEQ (and, for a
             * splice, under this packet's SSRC); the original SEQ goes
             * into the OHB as an MD must record it. */
            uint16_t seq = perc_load_u16(buf + 2);
            uint32_t ssrc = perc_load_u32(buf + 8);
            memcpy(buf, t->saved, t->saved_len);
            n = t->saved_len;
            if (t->mode == T_SPLICE) {
                /* passed off as the other stream's packet: its SSRC and
                 * SEQ, no OHB entry (RFC 8871 §8.2.4 splicing) */
                perc_store_u32(buf + 8, ssrc);
                perc_store_u16(buf + 2, seq);
            } else {
                perc_relay_change chg = {.set_seq = true, .seq = seq};
                assert_int_equal(perc_double_rewrite(buf, t->saved_len, cap, &chg, &n), PERC_OK);
            }
            *len = seal_for(rk, buf, n, cap, roc, t->saved_field, t->saved_field_len);
            t->done = true;
        }
        break;
    default:
        break;
    }
    perc_srtp_session_free(rk);
    return deliver;
}

static void arm(tmode m, int to, int from, int other)
{
    memset(&g_t, 0, sizeof g_t);
    g_t.mode = m;
    g_t.to = to;
    g_t.from = from;
    g_t.other = other;
}

/* Each trick once; the receiver counts exactly one refusal, for the
 * expected reason, against the expected SSRC, and delivers nothing
 * forged. */
static void test_dishonest_md(void **state)
{
    (void)state;
    static psim s;
    setup_three(&s, 5);
    s.hook = tamper_hook;
    psim_run(&s, s.now + 300 * PS_MS);
    static const struct {
        tmode m;
        int other;
        int blamed; /* whose SSRC carries the refusal; -1: the forged SSRC */
        perc_participant_reject why;
    } cases[] = {
        {T_FLIP_PAYLOAD, -1, 1, PERC_PARTICIPANT_REJECT_INNER_AUTH},
        {T_TIMESTAMP, -1, 1, PERC_PARTICIPANT_REJECT_INNER_AUTH},
        {T_SSRC_UNKNOWN, -1, -1, PERC_PARTICIPANT_REJECT_NO_KEY},
        {T_SPLICE, 2, 2, PERC_PARTICIPANT_REJECT_INNER_AUTH},
        {T_REPLAY_EXACT, -1, 1, PERC_PARTICIPANT_REJECT_REPLAY},
        {T_REPLAY_INNER, -1, 1, PERC_PARTICIPANT_REJECT_REPLAY},
        {T_WRONG_KEY_SENDER, -1, 1, PERC_PARTICIPANT_REJECT_OUTER_AUTH},
        {T_WRONG_KEY_OTHER, 2, 1, PERC_PARTICIPANT_REJECT_OUTER_AUTH},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        perc_participant_stats before, after;
        perc_participant_get_stats(s.ep[0].p, &before);
        perc_participant_remote_stats rb = {0};
        if (cases[c].blamed >= 0)
            rb = psim_rstats(&s, 0, cases[c].blamed);
        arm(cases[c].m, 0, 1, cases[c].other);
        psim_run(&s, s.now + 200 * PS_MS);
        assert_true(g_t.done);
        perc_participant_get_stats(s.ep[0].p, &after);
        for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++) {
            uint64_t want = before.rejected[k] + (k == (int)cases[c].why);
            if (after.rejected[k] != want)
                fail_msg("case %zu: reason %s counted %llu, want %llu", c,
                         perc_participant_reject_name((perc_participant_reject)k),
                         (unsigned long long)after.rejected[k], (unsigned long long)want);
        }
        if (cases[c].blamed >= 0) {
            perc_participant_remote_stats ra = psim_rstats(&s, 0, cases[c].blamed);
            assert_int_equal(ra.rejected[cases[c].why], rb.rejected[cases[c].why] + 1);
        } else {
            perc_participant_remote_stats ra;
            assert_int_equal(perc_participant_remote_stats_get(s.ep[0].p, 0xDEADBEEFu, &ra), PERC_OK);
            assert_int_equal(ra.rejected[cases[c].why], 1);
            assert_int_equal(ra.verified, 0);
        }
        assert_int_equal(s.ep[0].bad_payload, 0);
        assert_int_equal(s.ep[0].out_of_order, 0);
    }
    memset(&g_t, 0, sizeof g_t);
    psim_free(&s);
}

/* A newcomer decrypts everyone from the next periodic Full field on, and
 * nobody renegotiates or re-keys for it. */
static void test_join_mid_call(void **state)
{
    (void)state;
    static psim s;
    setup_three(&s, 2);
    psim_run(&s, s.now + 1 * PS_SECOND);
    int d = psim_add(&s, "late");
    psim_join(&s, d);
    psim_pump(&s);
    psim_run(&s, s.now + 50 * PS_MS);
    assert_true(psim_ready(&s, d));
    s.ep[d].sending = true;
    psim_reset_counts(&s);
    psim_run(&s, s.now + 2 * PS_SECOND);
    for (int f = 0; f < 3; f++) {
        /* At most the packets before the sender's next Full field (every
         * 100 ms, 5 packets) go unopened. */
        assert_true(s.ep[d].got[f] + 6 >= s.ep[f].sent);
        assert_true(s.ep[d].got[f] > 0);
        assert_int_equal(s.ep[f].got[d], s.ep[d].sent);
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[f].p, &st);
        assert_int_equal(st.ekt_keys, 1);
        perc_participant_send_stats ss;
        assert_int_equal(perc_participant_send_stats_get(s.ep[f].p, s.ep[f].ssrc, &ss), PERC_OK);
        assert_int_equal(ss.keys, 1);
    }
    perc_participant_stats st;
    perc_participant_get_stats(s.ep[d].p, &st);
    for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
        if (k != PERC_PARTICIPANT_REJECT_NO_KEY)
            assert_int_equal(st.rejected[k], 0);
    assert_int_equal(s.ep[d].bad_payload, 0);
    psim_free(&s);
}

/* Someone leaves: re-key with a new SPI, every remaining sender moves to a
 * fresh key after the key-change delay, receivers verify across the switch
 * without loss, and the departed participant (its state kept: the copy of
 * its keys) opens nothing sent after the switch even when a colluding MD
 * keeps feeding it. */
static void test_leave_rekey(void **state)
{
    (void)state;
    static psim s;
    setup_four_talking(&s, 3);
    uint16_t old_spi;
    {
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[0].p, &st);
        old_spi = st.spi;
    }
    const int gone = 2;
    s.ep[gone].cut = true;
    s.ep[gone].sending = false;
    s.hook = tamper_hook;
    arm(T_FORWARD_TO_DEPARTED, 0, 1, -1);
    g_t.departed = gone;
    psim_reset_counts(&s);
    assert_int_equal(perc_kmf_leave(s.kmf, PS_CONF, s.ep[gone].identity, NULL, 0, s.now), PERC_OK);
    psim_pump(&s);
    psim_run(&s, s.now + 1 * PS_SECOND);
    psim_send_frames(&s);
    psim_pump(&s);
    int remaining[3] = {0, 1, 3};
    for (int a = 0; a < 3; a++) {
        int r = remaining[a];
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[r].p, &st);
        assert_int_equal(st.ekt_keys, 2);
        assert_int_not_equal(st.spi, old_spi);
        perc_participant_send_stats ss;
        assert_int_equal(perc_participant_send_stats_get(s.ep[r].p, s.ep[r].ssrc, &ss), PERC_OK);
        assert_int_equal(ss.keys, 2);
        assert_int_equal(ss.spi, st.spi);
        /* 250 ms of 20 ms frames under the old key */
        assert_true(ss.old_key_packets >= 11 && ss.old_key_packets <= 14);
        for (int b = 0; b < 3; b++) {
            int f = remaining[b];
            if (f == r)
                continue;
            assert_int_equal(s.ep[r].got[f], s.ep[f].sent); /* no loss across the switch */
            perc_participant_remote_stats rs = psim_rstats(&s, r, f);
            assert_int_equal(rs.keys_learned, 2);
            assert_true(rs.previous_key_opens > 0);
            assert_int_equal(rs.lost, 0);
            assert_int_equal(rs.spi, st.spi);
        }
        for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
            assert_int_equal(st.rejected[k], 0);
    }
    /* The departed participant got every packet of sender 1 re-sealed for
     * it: it opens exactly those sent in the key-change delay (under the
     * key it knew, RFC 8870 §4.3.1's trade-off) and none after. */
    perc_participant_send_stats ss1;
    assert_int_equal(perc_participant_send_stats_get(s.ep[1].p, s.ep[1].ssrc, &ss1), PERC_OK);
    assert_int_equal(g_t.forwarded, s.ep[1].sent);
    assert_int_equal(s.ep[gone].got[1], ss1.old_key_packets);
    perc_participant_remote_stats gs = psim_rstats(&s, gone, 1);
    assert_int_equal(gs.rejected[PERC_PARTICIPANT_REJECT_INNER_AUTH],
                     s.ep[1].sent - ss1.old_key_packets);
    memset(&g_t, 0, sizeof g_t);
    psim_free(&s);
}

/* Two leaves 100 ms apart: each remaining sender gets a second EKTKey
 * inside the key-change delay of the first, keeps encrypting with the key
 * it had (deviations item 19), and announces two new keys in turn. Its
 * receivers must keep the key in use rather than the one announced in
 * between, which never encrypts anything: nothing may be lost or refused
 * (found by e2e_cascade, where two endpoints left 250 ms apart). */
static void test_two_leaves_inside_one_delay(void **state)
{
    (void)state;
    static psim s;
    setup_four_talking(&s, 5);
    psim_reset_counts(&s);
    const int gone[2] = {2, 3};
    for (int g = 0; g < 2; g++) {
        s.ep[gone[g]].cut = true;
        s.ep[gone[g]].sending = false;
        assert_int_equal(perc_kmf_leave(s.kmf, PS_CONF, s.ep[gone[g]].identity, NULL, 0, s.now),
                         PERC_OK);
        psim_pump(&s);
        psim_run(&s, s.now + 100 * PS_MS);
    }
    psim_run(&s, s.now + 1 * PS_SECOND);
    psim_send_frames(&s);
    psim_pump(&s);
    for (int r = 0; r < 2; r++) {
        int f = 1 - r;
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[r].p, &st);
        assert_int_equal(st.ekt_keys, 3);
        perc_participant_send_stats ss;
        assert_int_equal(perc_participant_send_stats_get(s.ep[f].p, s.ep[f].ssrc, &ss), PERC_OK);
        assert_int_equal(ss.keys, 3);
        /* The first key kept encrypting until 250 ms after the second
         * change: 350 ms of 20 ms frames. */
        assert_true(ss.old_key_packets >= 16 && ss.old_key_packets <= 19);
        assert_int_equal(s.ep[r].got[f], s.ep[f].sent);
        perc_participant_remote_stats rs = psim_rstats(&s, r, f);
        assert_int_equal(rs.lost, 0);
        assert_true(rs.previous_key_opens >= ss.old_key_packets);
        for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
            assert_int_equal(st.rejected[k], 0);
    }
    psim_free(&s);
}

/* 10% loss both ways on one participant's link: DTLS and the EKTKey get
 * through by retransmission, and media verifies at 85% or better. */
static void test_lossy_link(void **state)
{
    (void)state;
    static psim s;
    psim_init(&s, 4);
    s.handshake_rtx_ms = 40;
    psim_start(&s);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        psim_add(&s, name);
    }
    s.ep[2].loss_pct = 10;
    /* Lost handshake flights are resent on OpenSSL's wall clock. */
    psim_lockstep(&s, true);
    for (int i = 0; i < 3; i++)
        psim_join(&s, i);
    psim_pump(&s);
    for (int step = 0; step < 300; step++) {
        if (psim_ready(&s, 0) && psim_ready(&s, 1) && psim_ready(&s, 2))
            break;
        psim_run(&s, s.now + 100 * PS_MS);
    }
    psim_lockstep(&s, false);
    for (int i = 0; i < 3; i++) {
        assert_true(psim_ready(&s, i));
        s.ep[i].sending = true;
    }
    psim_reset_counts(&s);
    psim_run(&s, s.now + 3 * PS_SECOND);
    for (int r = 0; r < 3; r++) {
        for (int f = 0; f < 3; f++) {
            if (r == f)
                continue;
            uint64_t sent = s.ep[f].sent;
            assert_true(sent > 100);
            if (s.ep[r].got[f] * 100 < sent * 85)
                fail_msg("receiver %d verified %llu of %llu from %d", r,
                         (unsigned long long)s.ep[r].got[f], (unsigned long long)sent, f);
            if (r != 2 && f != 2)
                assert_int_equal(s.ep[r].got[f], sent);
        }
        assert_int_equal(s.ep[r].bad_payload, 0);
    }
    perc_participant_remote_stats rs = psim_rstats(&s, 2, 0);
    assert_true(rs.lost > 0);
    psim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_everyone_verifies_everyone),
        cmocka_unit_test(test_join_mid_call),
        cmocka_unit_test(test_leave_rekey),
        cmocka_unit_test(test_two_leaves_inside_one_delay),
        cmocka_unit_test(test_lossy_link),
        cmocka_unit_test(test_dishonest_md),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
