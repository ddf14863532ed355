/* The Media Distributor forwarding core (perc/mdd.h), with real
 * double-encrypted packets built by the endpoint library (test only: the
 * MDD itself is perc_hop). Three endpoints A, B, C (handles 1, 2, 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/double_endpoint.h"
#include "perc/ekt_field.h"
#include "perc/mdd.h"
#include "perc/rtcp.h"
#include "perc/rtp.h"
#include "perc/srtp.h"

#define NEP 3
#define SEC 1000000000ULL
#define PROFILE PERC_PROFILE_DOUBLE_AES_128_GCM
#define AL_ID 1

typedef struct ep {
    uint64_t handle;
    uint32_t ssrc;
    uint8_t ck[16], cs[12], sk[16], ss[12];
    perc_srtp_session *c_out;   /* endpoint's outer send (client_write) */
    perc_srtp_session *s_in;    /* endpoint's outer receive (server_write) */
    perc_srtp_session *inner;   /* its inner (end-to-end) sending key */
    uint32_t rtcp_index;
} ep;

static ep g_ep[NEP];
static const uint8_t g_ekt_ct[24] = {0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8,
                                     0xE9, 0xEA, 0xEB, 0xEC, 0xED, 0xEE, 0xEF, 0xF0,
                                     0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8};

static perc_srtp_session *kdf_session(const uint8_t *k, const uint8_t *s)
{
    perc_srtp_session_keys keys;
    perc_srtp_session *out = NULL;
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, k, 16, s, 12, &keys), PERC_OK);
    assert_int_equal(perc_srtp_session_new(&keys, &out), PERC_OK);
    perc_srtp_keys_wipe(&keys);
    return out;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NEP; i++) {
        ep *e = &g_ep[i];
        memset(e, 0, sizeof *e);
        e->handle = (uint64_t)i + 1;
        e->ssrc = 0x11110000u + (uint32_t)i;
        for (int j = 0; j < 16; j++) {
            e->ck[j] = (uint8_t)(i * 16 + j);
            e->sk[j] = (uint8_t)(0x80 + i * 16 + j);
        }
        for (int j = 0; j < 12; j++) {
            e->cs[j] = (uint8_t)(0x40 + i * 16 + j);
            e->ss[j] = (uint8_t)(0xC0 + i * 16 + j);
        }
        e->c_out = kdf_session(e->ck, e->cs);
        e->s_in = kdf_session(e->sk, e->ss);
        uint8_t ik[16], is[12];
        memset(ik, 0x30 + i, sizeof ik);
        memset(is, 0x50 + i, sizeof is);
        e->inner = kdf_session(ik, is);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NEP; i++) {
        perc_srtp_session_free(g_ep[i].c_out);
        perc_srtp_session_free(g_ep[i].s_in);
        perc_srtp_session_free(g_ep[i].inner);
    }
    return 0;
}

static perc_mdd *mdd_with(const perc_mdd_config *cfg, uint64_t now)
{
    perc_mdd *m = NULL;
    assert_int_equal(perc_mdd_new(cfg, &m), PERC_OK);
    for (int i = 0; i < NEP; i++) {
        ep *e = &g_ep[i];
        assert_int_equal(perc_mdd_endpoint_add(m, e->handle, now), PERC_OK);
        assert_int_equal(perc_mdd_endpoint_set_keys(m, e->handle, PROFILE, e->ck, 16, e->cs, 12,
                                                    e->sk, 16, e->ss, 12),
                         PERC_OK);
    }
    return m;
}

/* A's plain RTP packet (with an audio level if level >= 0). */
static size_t plain_rtp(const ep *e, uint16_t seq, int level, uint8_t *buf, size_t cap)
{
    uint8_t extbuf[16];
    perc_rtp_header h = {.payload_type = 111, .seq = seq, .timestamp = 960u * seq, .ssrc = e->ssrc};
    if (level >= 0) {
        perc_rtp_ext_builder b;
        uint8_t al = (uint8_t)(0x80 | level);
        perc_rtp_ext_builder_init(&b, extbuf, sizeof extbuf, false);
        perc_rtp_ext_add(&b, AL_ID, &al, 1);
        assert_int_equal(perc_rtp_ext_finish(&b, &h.ext_data, &h.ext_profile), PERC_OK);
        h.extension = true;
    }
    uint8_t payload[40];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(seq + i);
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, sizeof payload, 0);
    size_t n;
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    return n;
}

/* The double-protected packet with a Full EKT field, as e sends it. */
static size_t protect(const ep *e, const uint8_t *plain, size_t plen, uint8_t *buf, size_t cap)
{
    memcpy(buf, plain, plen);
    size_t n, f;
    assert_int_equal(perc_double_protect(e->inner, 0, e->c_out, 0, buf, plen, cap, &n), PERC_OK);
    assert_int_equal(perc_ekt_full_build(g_ekt_ct, sizeof g_ekt_ct, 0x1234, 7, buf + n, cap - n, &f),
                     PERC_OK);
    return n + f;
}

static size_t send_rtp(perc_mdd *m, const ep *e, uint16_t seq, int level, uint64_t now,
                       uint8_t *plain, size_t *plen)
{
    uint8_t pkt[600];
    *plen = plain_rtp(e, seq, level, plain, 300);
    size_t n = protect(e, plain, *plen, pkt, sizeof pkt);
    assert_int_equal(perc_mdd_rtp_in(m, e->handle, pkt, n, now), PERC_OK);
    return n;
}

static ep *ep_of(uint64_t handle)
{
    assert_true(handle >= 1 && handle <= NEP);
    return &g_ep[handle - 1];
}

/* Receiver r's steps on a forwarded packet: the EKT field is the sender's,
 * the outer layer opens with r's server_write key, the inner with the
 * sender's key at the original SEQ. Returns the outer SEQ. */
static uint16_t receive(const ep *r, const ep *sender, uint8_t *pkt, size_t len,
                        const uint8_t *plain, size_t plen)
{
    perc_ekt_field f;
    assert_int_equal(perc_ekt_field_find(pkt, len, &f), PERC_OK);
    assert_int_equal(f.type, PERC_EKT_TYPE_FULL);
    uint8_t expect[64];
    size_t el;
    assert_int_equal(perc_ekt_full_build(g_ekt_ct, sizeof g_ekt_ct, 0x1234, 7, expect, sizeof expect,
                                         &el),
                     PERC_OK);
    assert_int_equal(f.field.len, el);
    assert_memory_equal(f.field.ptr, expect, el);
    perc_rtp_header h;
    assert_int_equal(perc_rtp_parse_header(pkt, f.srtp_len, &h), PERC_OK);
    size_t n;
    assert_int_equal(perc_double_unprotect(r->s_in, 0, sender->inner, 0, pkt, f.srtp_len, &n),
                     PERC_OK);
    assert_int_equal(n, plen);
    assert_memory_equal(pkt, plain, plen);
    return h.seq;
}

static void test_forward_to_others(void **state)
{
    (void)state;
    perc_mdd *m = mdd_with(NULL, 0);
    uint8_t plain[300], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen;
    uint64_t h;
    for (uint16_t seq = 1000; seq < 1003; seq++) {
        send_rtp(m, &g_ep[0], seq, 20, seq, plain, &plen);
        int got[NEP + 1] = {0};
        while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
            assert_int_not_equal(h, g_ep[0].handle); /* A never gets its own */
            got[h]++;
            assert_int_equal(receive(ep_of(h), &g_ep[0], out, olen, plain, plen), seq);
        }
        assert_int_equal(got[2], 1);
        assert_int_equal(got[3], 1);
    }
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, 1, &st), PERC_OK);
    assert_int_equal(st.rtp_in, 3);
    assert_int_equal(st.forwarded, 6);
    assert_int_equal(perc_mdd_stats_get(m, 2, &st), PERC_OK);
    assert_int_equal(st.sent, 3);
    perc_mdd_free(m);
}

static void test_replay_and_auth(void **state)
{
    (void)state;
    perc_mdd *m = mdd_with(NULL, 0);
    uint8_t plain[300], pkt[600], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen = plain_rtp(&g_ep[0], 5, -1, plain, sizeof plain);
    size_t n = protect(&g_ep[0], plain, plen, pkt, sizeof pkt);
    uint8_t copy[600];
    memcpy(copy, pkt, n);
    assert_int_equal(perc_mdd_rtp_in(m, 1, pkt, n, 1), PERC_OK);
    assert_int_equal(perc_mdd_rtp_in(m, 1, copy, n, 2), PERC_ERR_REPLAY);
    /* A flipped bit in the payload: outer authentication fails. */
    plen = plain_rtp(&g_ep[0], 6, -1, plain, sizeof plain);
    n = protect(&g_ep[0], plain, plen, pkt, sizeof pkt);
    pkt[20] ^= 0x01;
    assert_int_equal(perc_mdd_rtp_in(m, 1, pkt, n, 3), PERC_ERR_AUTH);
    /* The genuine packet 6 still gets through: the failure moved nothing. */
    pkt[20] ^= 0x01;
    assert_int_equal(perc_mdd_rtp_in(m, 1, pkt, n, 4), PERC_OK);
    /* Garbage and a packet from an endpoint without keys. */
    assert_int_equal(perc_mdd_rtp_in(m, 1, pkt, 3, 5), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_mdd_endpoint_add(m, 9, 0), PERC_OK);
    assert_int_equal(perc_mdd_rtp_in(m, 9, copy, n, 5), PERC_ERR_NO_KEY);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, 1, &st), PERC_OK);
    assert_int_equal(st.drop_replay, 1);
    assert_int_equal(st.drop_auth, 1);
    assert_int_equal(st.drop_malformed, 1);
    assert_int_equal(st.forwarded, 4);
    assert_int_equal(perc_mdd_stats_get(m, 9, &st), PERC_OK);
    assert_int_equal(st.drop_no_keys, 1);
    uint64_t h;
    size_t olen;
    int count = 0;
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK)
        count++;
    assert_int_equal(count, 4);
    perc_mdd_free(m);
}

static void test_equal_keys_refused(void **state)
{
    (void)state;
    perc_mdd *m = NULL;
    assert_int_equal(perc_mdd_new(NULL, &m), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_add(m, 1, 0), PERC_OK);
    const ep *e = &g_ep[0];
    assert_int_equal(perc_mdd_endpoint_set_keys(m, 1, PROFILE, e->ck, 16, e->cs, 12, e->ck, 16,
                                                e->cs, 12),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_mdd_endpoint_set_keys(m, 1, PERC_PROFILE_AEAD_AES_128_GCM, e->ck, 16,
                                                e->cs, 12, e->sk, 16, e->ss, 12),
                     PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_mdd_endpoint_set_keys(m, 1, PROFILE, e->ck, 15, e->cs, 12, e->sk, 16,
                                                e->ss, 12),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_mdd_endpoint_set_keys(m, 2, PROFILE, e->ck, 16, e->cs, 12, e->sk, 16,
                                                e->ss, 12),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_mdd_endpoint_add(m, 1, 0), PERC_ERR_STATE);
    perc_mdd_free(m);
}

/* Drains the queue; for packets to B from A checks contiguity of the
 * outgoing SEQ and the inner layer. Returns how many A->B packets. */
static int drain_b(perc_mdd *m, const ep *sender, const uint8_t *plain, size_t plen,
                   uint16_t *last_b, bool *have_last)
{
    uint8_t out[PERC_MDD_MAX_PACKET + 64];
    size_t olen;
    uint64_t h;
    int n = 0;
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
        if (h != 2)
            continue;
        perc_rtp_header hdr;
        assert_int_equal(perc_rtp_parse_header(out, olen, &hdr), PERC_OK);
        if (hdr.ssrc != sender->ssrc)
            continue;
        uint16_t seq = receive(&g_ep[1], sender, out, olen, plain, plen);
        if (*have_last)
            assert_int_equal(seq, (uint16_t)(*last_b + 1));
        *last_b = seq;
        *have_last = true;
        n++;
    }
    return n;
}

static void test_last_n_contiguous(void **state)
{
    (void)state;
    perc_mdd_config cfg = {.last_n = 1, .audio_level_id = AL_ID, .hold_ns = SEC};
    perc_mdd *m = mdd_with(&cfg, 0);
    ep *a = &g_ep[0], *c = &g_ep[2];
    uint8_t plain[300];
    size_t plen;
    uint16_t last_b = 0;
    bool have = false;
    bool sel;
    /* A speaks first: selected. */
    for (uint16_t s = 100; s < 103; s++) {
        send_rtp(m, a, s, 10, 0, plain, &plen);
        assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 1);
    }
    assert_int_equal(last_b, 102);
    /* C is louder, but only for less than the hold time: no switch. */
    send_rtp(m, a, 103, 60, SEC / 10, plain, &plen);
    assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 1);
    send_rtp(m, c, 1, 5, SEC / 10, plain, &plen);
    assert_int_equal(perc_mdd_is_selected(m, 3, &sel), PERC_OK);
    assert_false(sel);
    send_rtp(m, c, 2, 5, SEC / 2, plain, &plen);
    assert_int_equal(perc_mdd_is_selected(m, 3, &sel), PERC_OK);
    assert_false(sel);
    /* After the hold time C replaces A. */
    send_rtp(m, c, 3, 5, SEC + SEC / 5, plain, &plen);
    assert_int_equal(perc_mdd_is_selected(m, 3, &sel), PERC_OK);
    assert_true(sel);
    assert_int_equal(perc_mdd_is_selected(m, 1, &sel), PERC_OK);
    assert_false(sel);
    uint16_t last_c = 0;
    assert_int_equal(drain_b(m, c, plain, plen, &last_c, &(bool){false}), 1);
    assert_int_equal(last_c, 3);
    /* A's packets 104..109 are not forwarded (A quieter, then louder for
     * less than the hold time). */
    for (uint16_t s = 104; s < 110; s++) {
        uint64_t t = 2 * SEC + (s - 104) * (SEC / 10);
        send_rtp(m, a, s, s < 107 ? 60 : 1, t, plain, &plen);
        assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 0);
        send_rtp(m, c, (uint16_t)(s - 100), 50, t, plain, &plen);
        assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 0);
    }
    /* A stays louder: switched back; B's SEQ for A continues at 104. */
    send_rtp(m, a, 110, 1, 4 * SEC, plain, &plen);
    assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 1);
    assert_int_equal(last_b, 104);
    send_rtp(m, a, 111, 1, 4 * SEC, plain, &plen);
    assert_int_equal(drain_b(m, a, plain, plen, &last_b, &have), 1);
    assert_int_equal(last_b, 105);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, 1, &st), PERC_OK);
    assert_int_equal(st.not_selected, 6);
    perc_mdd_free(m);
}

static size_t seal_rtcp(ep *e, uint8_t *buf, size_t len, size_t cap)
{
    size_t n;
    assert_int_equal(perc_srtcp_seal(e->c_out, buf, len, cap, e->rtcp_index++, true, &n), PERC_OK);
    return n;
}

static void test_rtcp_routing(void **state)
{
    (void)state;
    perc_mdd *m = mdd_with(NULL, 0);
    uint8_t plain[300], buf[600], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen, n;
    uint64_t h;
    ep *a = &g_ep[0], *b = &g_ep[1];
    for (int i = 0; i < NEP; i++)
        g_ep[i].rtcp_index = 0;
    send_rtp(m, a, 1, -1, 0, plain, &plen);
    send_rtp(m, b, 1, -1, 0, plain, &plen);
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
    }
    /* B: RR + PLI for A's SSRC. */
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_rr rr = {.ssrc = b->ssrc};
    perc_rtcp_write_rr(&w, &rr);
    perc_rtcp_write_pli(&w, b->ssrc, a->ssrc);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    uint8_t pli_only[12];
    memcpy(pli_only, buf + 8, 12);
    n = seal_rtcp(b, buf, n, sizeof buf);
    uint8_t replay[600];
    memcpy(replay, buf, n);
    assert_int_equal(perc_mdd_rtcp_in(m, 2, buf, n, 1), PERC_OK);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_OK);
    assert_int_equal(h, 1);
    uint32_t idx;
    bool enc;
    assert_int_equal(perc_srtcp_open(a->s_in, out, olen, &idx, &enc, &olen), PERC_OK);
    assert_int_equal(olen, 12);
    assert_memory_equal(out, pli_only, 12);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_mdd_rtcp_in(m, 2, replay, n, 2), PERC_ERR_REPLAY);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, 2, &st), PERC_OK);
    assert_int_equal(st.rr_consumed, 1);
    assert_int_equal(st.drop_replay, 1);

    /* A: SR + SDES go to B and C, re-sealed with each one's key. */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sr sr = {.ssrc = a->ssrc, .ntp_timestamp = 0x0102030405060708ULL, .packet_count = 3};
    perc_rtcp_write_sr(&w, &sr);
    perc_rtcp_sdes_writer sw;
    perc_rtcp_sdes_begin(&sw, &w);
    perc_rtcp_sdes_add_chunk(&sw, a->ssrc);
    perc_rtcp_sdes_add_item(&sw, PERC_RTCP_SDES_CNAME, (const uint8_t *)"alice", 5);
    perc_rtcp_sdes_end(&sw);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    uint8_t orig[300];
    size_t orig_len = n;
    memcpy(orig, buf, n);
    n = seal_rtcp(a, buf, n, sizeof buf);
    assert_int_equal(perc_mdd_rtcp_in(m, 1, buf, n, 3), PERC_OK);
    int got[NEP + 1] = {0};
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
        assert_int_not_equal(h, 1);
        got[h]++;
        assert_int_equal(perc_srtcp_open(ep_of(h)->s_in, out, olen, &idx, &enc, &olen), PERC_OK);
        assert_int_equal(olen, orig_len);
        assert_memory_equal(out, orig, orig_len);
    }
    assert_int_equal(got[2], 1);
    assert_int_equal(got[3], 1);
    /* A flipped bit fails outer authentication. */
    n = seal_rtcp(a, orig, orig_len, sizeof orig);
    orig[10] ^= 4;
    assert_int_equal(perc_mdd_rtcp_in(m, 1, orig, n, 4), PERC_ERR_AUTH);
    perc_mdd_free(m);
}

static void test_liveness(void **state)
{
    (void)state;
    perc_mdd *m = NULL;
    assert_int_equal(perc_mdd_new(NULL, &m), PERC_OK);
    uint8_t plain[300], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen;
    uint64_t h, dl;
    /* Without keys an endpoint is still doing DTLS: no liveness yet. */
    for (int i = 0; i < NEP; i++)
        assert_int_equal(perc_mdd_endpoint_add(m, g_ep[i].handle, 0), PERC_OK);
    assert_int_equal(perc_mdd_next_timeout(m, &dl), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_mdd_on_timeout(m, 60 * SEC), PERC_OK);
    perc_mdd_stats st0;
    assert_int_equal(perc_mdd_stats_get(m, 3, &st0), PERC_OK);
    /* Keys arrive: the clock starts at the next on_timeout (here 0, as if
     * the keys came at time 0). */
    for (int i = 0; i < NEP; i++) {
        ep *e = &g_ep[i];
        assert_int_equal(perc_mdd_endpoint_set_keys(m, e->handle, PROFILE, e->ck, 16, e->cs, 12,
                                                    e->sk, 16, e->ss, 12),
                         PERC_OK);
    }
    assert_int_equal(perc_mdd_next_timeout(m, &dl), PERC_OK);
    assert_int_equal(dl, 0);
    assert_int_equal(perc_mdd_on_timeout(m, 0), PERC_OK);
    send_rtp(m, &g_ep[0], 1, -1, 4 * SEC, plain, &plen);
    send_rtp(m, &g_ep[1], 1, -1, 4 * SEC, plain, &plen);
    assert_int_equal(perc_mdd_next_timeout(m, &dl), PERC_OK);
    assert_int_equal(dl, PERC_MDD_DEFAULT_TIMEOUT_NS);
    assert_int_equal(perc_mdd_on_timeout(m, dl - 1), PERC_OK);
    perc_mdd_event ev;
    assert_int_equal(perc_mdd_pop_event(m, &ev), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_mdd_on_timeout(m, dl), PERC_OK);
    assert_int_equal(perc_mdd_pop_event(m, &ev), PERC_OK);
    assert_int_equal(ev.type, PERC_MDD_EVENT_ENDPOINT_GONE);
    assert_int_equal(ev.handle, 3);
    assert_int_equal(perc_mdd_pop_event(m, &ev), PERC_ERR_NOT_FOUND);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, 3, &st), PERC_ERR_NOT_FOUND);
    /* Its queued packets went with it. */
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK)
        assert_int_not_equal(h, 3);
    assert_int_equal(perc_mdd_next_timeout(m, &dl), PERC_OK);
    assert_int_equal(dl, 4 * SEC + PERC_MDD_DEFAULT_TIMEOUT_NS);
    assert_int_equal(perc_mdd_on_timeout(m, 10 * SEC), PERC_OK);
    assert_int_equal(perc_mdd_pop_event(m, &ev), PERC_OK);
    assert_int_equal(perc_mdd_pop_event(m, &ev), PERC_OK);
    assert_int_equal(perc_mdd_next_timeout(m, &dl), PERC_ERR_NOT_FOUND);
    perc_mdd_free(m);
}

/* Two endpoints sending one SSRC: the first keeps it (RFC 3550 §8.2), the
 * second's packets are refused and counted, nothing of them is forwarded. */
static void test_ssrc_in_use(void **state)
{
    (void)state;
    perc_mdd *m = mdd_with(NULL, 0);
    uint8_t plain[300], pkt[600], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen;
    uint64_t h;
    ep *a = &g_ep[0], *c = &g_ep[2];
    send_rtp(m, a, 1, -1, 0, plain, &plen);
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
    }
    /* C sends with A's SSRC, under C's own (valid) hop key. */
    ep fake = *c;
    fake.ssrc = a->ssrc;
    plen = plain_rtp(&fake, 7, -1, plain, sizeof plain);
    size_t n = protect(&fake, plain, plen, pkt, sizeof pkt);
    assert_int_equal(perc_mdd_rtp_in(m, c->handle, pkt, n, 1), PERC_ERR_SSRC_IN_USE);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m, c->handle, &st), PERC_OK);
    assert_int_equal(st.drop_ssrc_in_use, 1);
    /* A keeps sending and is forwarded; C's own SSRC still works. */
    send_rtp(m, a, 2, -1, 2, plain, &plen);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_OK);
    send_rtp(m, c, 1, -1, 3, plain, &plen);
    /* Once A is gone its SSRC is free again. */
    assert_int_equal(perc_mdd_endpoint_remove(m, a->handle), PERC_OK);
    plen = plain_rtp(&fake, 8, -1, plain, sizeof plain);
    n = protect(&fake, plain, plen, pkt, sizeof pkt);
    assert_int_equal(perc_mdd_rtp_in(m, c->handle, pkt, n, 4), PERC_OK);
    perc_mdd_free(m);
}

/* B's NACK names SEQs in B's numbering of A's stream, which after a last-N
 * pause differs from A's; A gets its own numbers back. */
static void test_nack_translated(void **state)
{
    (void)state;
    perc_mdd_config cfg = {.last_n = 1, .audio_level_id = AL_ID, .hold_ns = SEC};
    perc_mdd *m = mdd_with(&cfg, 0);
    ep *a = &g_ep[0], *b = &g_ep[1], *c = &g_ep[2];
    for (int i = 0; i < NEP; i++)
        g_ep[i].rtcp_index = 0;
    uint8_t plain[300], buf[600], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen, n;
    uint64_t h;
    /* A selected: B gets 100..102 unchanged. */
    for (uint16_t s = 100; s < 103; s++)
        send_rtp(m, a, s, 10, 0, plain, &plen);
    /* C takes over for a while; A's 103..109 are not forwarded. */
    send_rtp(m, c, 1, 5, 0, plain, &plen);
    send_rtp(m, c, 2, 5, 2 * SEC, plain, &plen);
    for (uint16_t s = 103; s < 110; s++)
        send_rtp(m, a, s, 90, 2 * SEC, plain, &plen);
    /* A louder again (from 3.5 s): after the hold time, 111 goes to B as
     * 103. */
    send_rtp(m, a, 110, 1, 3 * SEC + SEC / 2, plain, &plen);
    send_rtp(m, a, 111, 1, 5 * SEC, plain, &plen);
    uint16_t last_b = 0;
    bool have = false;
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
        perc_rtp_header hdr;
        if (h != 2 || perc_rtp_parse_header(out, olen, &hdr) != PERC_OK || hdr.ssrc != a->ssrc)
            continue;
        last_b = hdr.seq;
        have = true;
    }
    assert_true(have);
    assert_int_equal(last_b, 103); /* 111 as B numbers it */
    /* B NACKs 101 (before the pause: unchanged) and 103 (A's 111). */
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_rr rr = {.ssrc = b->ssrc};
    perc_rtcp_write_rr(&w, &rr);
    perc_rtcp_nack_item items[2] = {{.pid = 101, .blp = 0}, {.pid = 103, .blp = 0}};
    perc_rtcp_write_nack(&w, b->ssrc, a->ssrc, items, 2);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    n = seal_rtcp(b, buf, n, sizeof buf);
    assert_int_equal(perc_mdd_rtcp_in(m, 2, buf, n, 5 * SEC), PERC_OK);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_OK);
    assert_int_equal(h, 1);
    uint32_t idx;
    bool enc;
    assert_int_equal(perc_srtcp_open(a->s_in, out, olen, &idx, &enc, &olen), PERC_OK);
    perc_rtcp_iter it;
    perc_rtcp_view p;
    perc_rtcp_iter_init(&it, out, olen);
    assert_int_equal(perc_rtcp_next(&it, &p), 1);
    perc_rtcp_nack nk;
    assert_int_equal(perc_rtcp_parse_nack(&p, &nk), PERC_OK);
    assert_int_equal(perc_rtcp_nack_get(&nk, 0).pid, 101);
    assert_int_equal(perc_rtcp_nack_get(&nk, 1).pid, 111);
    perc_mdd_free(m);
}

/* Two MDs joined by a cascade link (RFC 8871 §4.5.1): A on the first, C on
 * the second. A's packet crosses the link under the link's plain AES-GCM
 * keys, the second MD re-seals it for C, who verifies both layers. The link
 * is not subject to liveness, and nothing is sent back over the link it
 * came from. */
static void test_cascade_link(void **state)
{
    (void)state;
    perc_mdd *m1 = NULL, *m2 = NULL;
    assert_int_equal(perc_mdd_new(NULL, &m1), PERC_OK);
    assert_int_equal(perc_mdd_new(NULL, &m2), PERC_OK);
    ep *a = &g_ep[0], *c = &g_ep[2];
    assert_int_equal(perc_mdd_endpoint_add(m1, a->handle, 0), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_set_keys(m1, a->handle, PROFILE, a->ck, 16, a->cs, 12,
                                                a->sk, 16, a->ss, 12),
                     PERC_OK);
    assert_int_equal(perc_mdd_endpoint_add(m2, c->handle, 0), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_set_keys(m2, c->handle, PROFILE, c->ck, 16, c->cs, 12,
                                                c->sk, 16, c->ss, 12),
                     PERC_OK);
    const uint64_t LINK = 100;
    uint8_t k12[16], s12[12], k21[16], s21[12];
    memset(k12, 0x12, 16);
    memset(s12, 0x13, 12);
    memset(k21, 0x21, 16);
    memset(s21, 0x22, 12);
    assert_int_equal(perc_mdd_link_add(m1, LINK, 0), PERC_OK);
    assert_int_equal(perc_mdd_link_add(m2, LINK, 0), PERC_OK);
    /* A double profile is not a link profile; an endpoint is not a link. */
    assert_int_equal(perc_mdd_link_set_keys(m1, LINK, PROFILE, k21, 16, s21, 12, k12, 16, s12, 12),
                     PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_mdd_link_set_keys(m1, a->handle, PERC_PROFILE_AEAD_AES_128_GCM, k21, 16,
                                            s21, 12, k12, 16, s12, 12),
                     PERC_ERR_STATE);
    assert_int_equal(perc_mdd_link_set_keys(m1, LINK, PERC_PROFILE_AEAD_AES_128_GCM, k21, 16, s21,
                                            12, k12, 16, s12, 12),
                     PERC_OK);
    assert_int_equal(perc_mdd_link_set_keys(m2, LINK, PERC_PROFILE_AEAD_AES_128_GCM, k12, 16, s12,
                                            12, k21, 16, s21, 12),
                     PERC_OK);
    uint8_t plain[300], out[PERC_MDD_MAX_PACKET + 64], hop[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen, hlen;
    uint64_t h;
    send_rtp(m1, a, 500, -1, 1, plain, &plen);
    assert_int_equal(perc_mdd_pop(m1, &h, hop, sizeof hop, &hlen), PERC_OK);
    assert_int_equal(h, LINK);
    assert_int_equal(perc_mdd_pop(m1, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    /* Across the link to m2, then to C. */
    assert_int_equal(perc_mdd_rtp_in(m2, LINK, hop, hlen, 2), PERC_OK);
    assert_int_equal(perc_mdd_pop(m2, &h, out, sizeof out, &olen), PERC_OK);
    assert_int_equal(h, c->handle);
    assert_int_equal(receive(c, a, out, olen, plain, plen), 500);
    assert_int_equal(perc_mdd_pop(m2, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    /* A replayed copy on the link is refused, a tampered one fails its
     * authentication at m2. */
    assert_int_equal(perc_mdd_rtp_in(m2, LINK, hop, hlen, 3), PERC_ERR_REPLAY);
    send_rtp(m1, a, 501, -1, 3, plain, &plen);
    assert_int_equal(perc_mdd_pop(m1, &h, hop, sizeof hop, &hlen), PERC_OK);
    hop[20] ^= 1;
    assert_int_equal(perc_mdd_rtp_in(m2, LINK, hop, hlen, 3), PERC_ERR_AUTH);
    /* C answers: back over the link to A. */
    send_rtp(m2, c, 9, -1, 4, plain, &plen);
    assert_int_equal(perc_mdd_pop(m2, &h, hop, sizeof hop, &hlen), PERC_OK);
    assert_int_equal(h, LINK);
    assert_int_equal(perc_mdd_rtp_in(m1, LINK, hop, hlen, 5), PERC_OK);
    assert_int_equal(perc_mdd_pop(m1, &h, out, sizeof out, &olen), PERC_OK);
    assert_int_equal(h, a->handle);
    assert_int_equal(receive(a, c, out, olen, plain, plen), 9);
    /* Liveness removes silent endpoints, never the link. */
    assert_int_equal(perc_mdd_on_timeout(m1, 6), PERC_OK); /* starts the clocks */
    assert_int_equal(perc_mdd_on_timeout(m1, 100 * SEC), PERC_OK);
    perc_mdd_stats st;
    assert_int_equal(perc_mdd_stats_get(m1, a->handle, &st), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_mdd_stats_get(m1, LINK, &st), PERC_OK);
    uint64_t dl;
    assert_int_equal(perc_mdd_next_timeout(m1, &dl), PERC_ERR_NOT_FOUND);
    perc_mdd_free(m1);
    perc_mdd_free(m2);
}

static int g_tampered;
static void flip_payload(void *user, uint64_t receiver, uint8_t *pt, size_t len)
{
    (void)user;
    (void)receiver;
    perc_rtp_header h;
    assert_int_equal(perc_rtp_parse_header(pt, len, &h), PERC_OK);
    pt[h.header_len + 1] ^= 0x40; /* a bit of the inner ciphertext */
    g_tampered++;
}

/* The test-only tamper hook: what a dishonest MD changes under a correct
 * outer seal passes the hop check at the receiver and fails the inner one
 * (RFC 8723 §5.3: the end-to-end layer is what protects media from the MD). */
static void test_tamper_hook(void **state)
{
    (void)state;
    perc_mdd_config cfg = {.tamper = flip_payload};
    perc_mdd *m = mdd_with(&cfg, 0);
    uint8_t plain[300], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen;
    uint64_t h;
    g_tampered = 0;
    send_rtp(m, &g_ep[0], 77, -1, 1, plain, &plen);
    assert_int_equal(g_tampered, 2); /* one copy per receiver */
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK) {
        ep *r = ep_of(h);
        perc_ekt_field f;
        assert_int_equal(perc_ekt_field_find(out, olen, &f), PERC_OK);
        uint8_t copy[PERC_MDD_MAX_PACKET + 64];
        memcpy(copy, out, f.srtp_len);
        size_t n;
        /* The hop layer verifies: the MD sealed what it tampered with. */
        assert_int_equal(perc_srtp_open(r->s_in, copy, f.srtp_len, 0, &n), PERC_OK);
        /* The end-to-end layer does not. */
        assert_int_equal(perc_double_unprotect(r->s_in, 0, g_ep[0].inner, 0, out, f.srtp_len, &n),
                         PERC_ERR_AUTH);
    }
    perc_mdd_free(m);
}

/* Two conferences on one MD: A and B in one, C in another with B's SSRC.
 * Nothing crosses between them, and an SSRC may repeat across them. */
static void test_conferences_isolated(void **state)
{
    (void)state;
    perc_mdd *m = mdd_with(NULL, 0);
    ep *a = &g_ep[0], *b = &g_ep[1], *c = &g_ep[2];
    assert_int_equal(perc_mdd_endpoint_set_group(m, a->handle, 1), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_set_group(m, b->handle, 1), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_set_group(m, c->handle, 2), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_set_group(m, 99, 2), PERC_ERR_NOT_FOUND);
    uint8_t plain[300], pkt[600], out[PERC_MDD_MAX_PACKET + 64];
    size_t plen, olen;
    uint64_t h;
    send_rtp(m, a, 1, -1, 1, plain, &plen);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_OK);
    assert_int_equal(h, b->handle);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    /* C uses B's SSRC in its own conference: allowed, and goes nowhere
     * (C is alone there). */
    ep fake = *c;
    fake.ssrc = b->ssrc;
    send_rtp(m, b, 1, -1, 2, plain, &plen);
    while (perc_mdd_pop(m, &h, out, sizeof out, &olen) == PERC_OK)
        assert_int_equal(h, a->handle);
    plen = plain_rtp(&fake, 5, -1, plain, sizeof plain);
    size_t n = protect(&fake, plain, plen, pkt, sizeof pkt);
    assert_int_equal(perc_mdd_rtp_in(m, c->handle, pkt, n, 3), PERC_OK);
    assert_int_equal(perc_mdd_pop(m, &h, out, sizeof out, &olen), PERC_ERR_NOT_FOUND);
    /* Moving C after it sent media is refused. */
    assert_int_equal(perc_mdd_endpoint_set_group(m, c->handle, 1), PERC_ERR_STATE);
    perc_mdd_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_to_others),
        cmocka_unit_test(test_replay_and_auth),
        cmocka_unit_test(test_equal_keys_refused),
        cmocka_unit_test(test_last_n_contiguous),
        cmocka_unit_test(test_rtcp_routing),
        cmocka_unit_test(test_liveness),
        cmocka_unit_test(test_ssrc_in_use),
        cmocka_unit_test(test_nack_translated),
        cmocka_unit_test(test_cascade_link),
        cmocka_unit_test(test_tamper_hook),
        cmocka_unit_test(test_conferences_isolated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
