/* The participant core (perc/participant.h) against the real KMF core, the
 * tunnel and the MD forwarding core in memory (test_participant_sim.h):
 * configuration errors, states and events of the handshake, the send API's
 * errors, demultiplexing of junk, PLI/FIR round trips (explicit and for an
 * unkeyed video sender), an operator re-key, a wrong KMF fingerprint, and
 * close with BYE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_participant_sim.h"

static int fake_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    memset(buf, 7, len);
    return 0;
}

static void test_config_errors(void **state)
{
    (void)state;
    perc_participant_config c;
    perc_participant_config_init(&c);
    perc_participant *p = NULL;
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG); /* nothing set */
    assert_int_equal(perc_participant_new(NULL, &p), PERC_ERR_INVALID_ARG);
    const uint8_t id[] = "abcdefghijklmnopqrstuvwxyz";
    assert_int_equal(perc_participant_config_set_tls_ids(&c, id, 19, id, 20), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_participant_config_set_tls_ids(&c, id, 20, id, 26), PERC_OK);
    assert_int_equal(perc_participant_config_set_video_pt(&c, 128), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_participant_config_set_video_pt(&c, 96), PERC_OK);
    X509 *cert;
    EVP_PKEY *key;
    assert_int_equal(perc_dtls_identity_generate("t", &cert, &key), PERC_OK);
    perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
    perc_dtls_ctx *ctx;
    assert_int_equal(perc_dtls_ctx_new(&cc, &ctx), PERC_OK);
    c.dtls_ctx = ctx;
    c.random = fake_random;
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG); /* no SSRC */
    c.ssrcs[0] = 1;
    c.ssrcs[1] = 1;
    c.n_ssrcs = 2;
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG); /* repeated */
    c.n_ssrcs = 1;
    c.audio_level_id = 15;
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG);
    c.audio_level_id = 1;
    c.rtcp_interval_ns = 0;
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG);
    c.rtcp_interval_ns = PS_SECOND;
    c.profiles[0] = 0x0007; /* a single profile: the DTLS layer refuses */
    assert_int_equal(perc_participant_new(&c, &p), PERC_ERR_INVALID_ARG);
    c.profiles[0] = PERC_PROFILE_DOUBLE_AES_128_GCM;
    assert_int_equal(perc_participant_new(&c, &p), PERC_OK);
    assert_int_equal(perc_participant_get_state(p), PERC_PARTICIPANT_IDLE);
    uint8_t pl[4] = {0};
    assert_int_equal(perc_participant_send_rtp(p, 1, 96, 0, false, pl, 4, NULL, 0), PERC_ERR_STATE);
    assert_int_equal(perc_participant_close(p, 0), PERC_ERR_STATE);
    assert_int_equal(perc_participant_next_timeout(p), UINT64_MAX);
    /* DTLS before start, junk and STUN are refused; nothing to send. */
    uint8_t dtls[13] = {22, 0xFE, 0xFD};
    assert_int_equal(perc_participant_recv(p, dtls, sizeof dtls, 0), PERC_ERR_STATE);
    uint8_t stun[20] = {0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42};
    assert_int_equal(perc_participant_recv(p, stun, sizeof stun, 0), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_participant_recv(p, stun, 0, 0), PERC_ERR_INVALID_ARG);
    uint8_t rtp[20] = {0x80, 96};
    assert_int_equal(perc_participant_recv(p, rtp, sizeof rtp, 0), PERC_ERR_NO_KEY);
    perc_participant_stats st;
    perc_participant_get_stats(p, &st);
    assert_int_equal(st.other_in, 1);
    assert_int_equal(st.rejected[PERC_PARTICIPANT_REJECT_NO_KEY], 1);
    assert_int_equal(perc_participant_start(p, 0), PERC_OK);
    assert_int_equal(perc_participant_start(p, 0), PERC_ERR_STATE);
    size_t n;
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    assert_int_equal(perc_participant_pop_datagram(p, buf, sizeof buf, &n), PERC_OK);
    assert_true(n > 0); /* the ClientHello */
    assert_int_equal(buf[0], 22);
    assert_string_equal(perc_participant_reject_name(PERC_PARTICIPANT_REJECT_INNER_AUTH),
                        "inner_auth");
    perc_participant_free(p);
    perc_participant_free(NULL);
    perc_dtls_ctx_free(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void setup_two(psim *s, uint64_t seed, perc_participant_config *cfg1)
{
    psim_init(s, seed);
    psim_start(s);
    psim_add(s, "alice");
    psim_add(s, "bob");
    psim_join(s, 0);
    if (cfg1)
        psim_join_cfg(s, 1, cfg1);
    else
        psim_join(s, 1);
    psim_pump(s);
    psim_run(s, s->now + 50 * PS_MS);
}

static void test_handshake_states_and_errors(void **state)
{
    (void)state;
    static psim s;
    setup_two(&s, 11, NULL);
    for (int i = 0; i < 2; i++) {
        assert_true(psim_ready(&s, i));
        assert_int_equal(s.ep[i].events[PERC_PARTICIPANT_EV_CONNECTED], 1);
        assert_int_equal(s.ep[i].events[PERC_PARTICIPANT_EV_EKT_KEY], 1);
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[i].p, &st);
        assert_int_equal(st.profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
        assert_int_equal(st.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
        assert_true(st.has_ekt_key);
    }
    perc_participant *p = s.ep[0].p;
    uint8_t pl[PERC_PARTICIPANT_MAX_PAYLOAD + 1] = {0};
    assert_int_equal(perc_participant_send_rtp(p, 12345, 96, 0, false, pl, 10, NULL, s.now),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_participant_send_rtp(p, s.ep[0].ssrc, 96, 0, false, pl, sizeof pl, NULL,
                                               s.now),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_participant_send_rtp(p, s.ep[0].ssrc, 128, 0, false, pl, 1, NULL, s.now),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_participant_send_rtp(p, s.ep[0].ssrc, 96, 0, false, NULL, 1, NULL, s.now),
                     PERC_ERR_INVALID_ARG);
    perc_participant_send_stats ss;
    assert_int_equal(perc_participant_send_stats_get(p, 999, &ss), PERC_ERR_NOT_FOUND);
    perc_participant_remote_stats rs;
    assert_int_equal(perc_participant_remote_stats_get(p, 999, &rs), PERC_ERR_NOT_FOUND);
    /* A media packet with a marker and the largest payload goes through. */
    assert_int_equal(perc_participant_send_rtp(p, s.ep[0].ssrc, 96, 1234, true, pl,
                                               PERC_PARTICIPANT_MAX_PAYLOAD, NULL, s.now),
                     PERC_OK);
    psim_pump(&s);
    rs = psim_rstats(&s, 1, 0);
    assert_int_equal(rs.verified, 1);
    assert_true(rs.has_key);
    uint32_t ssrcs[4];
    assert_int_equal(perc_participant_remote_ssrcs(s.ep[1].p, ssrcs, 4), 1);
    assert_int_equal(ssrcs[0], s.ep[0].ssrc);
    /* Junk RTP after keys: malformed (no EKT field fits) or outer failure. */
    uint8_t junk[40] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78};
    junk[39] = 0x00; /* a Short field */
    assert_int_equal(perc_participant_recv(s.ep[1].p, junk, sizeof junk, s.now), PERC_ERR_NO_KEY);
    perc_store_u32(junk + 8, s.ep[0].ssrc);
    perc_store_u16(junk + 2, (uint16_t)(rs.highest_seq + 1)); /* ahead of the replay window */
    assert_int_equal(perc_participant_recv(s.ep[1].p, junk, sizeof junk, s.now), PERC_ERR_AUTH);
    junk[39] = 0x01; /* type 1 is not allocated */
    assert_int_equal(perc_participant_recv(s.ep[1].p, junk, sizeof junk, s.now), PERC_ERR_MALFORMED);
    rs = psim_rstats(&s, 1, 0);
    assert_int_equal(rs.rejected[PERC_PARTICIPANT_REJECT_OUTER_AUTH], 1);
    assert_int_equal(rs.rejected[PERC_PARTICIPANT_REJECT_MALFORMED], 1);
    /* Junk SRTCP. */
    uint8_t rtcp[40] = {0x80, 200, 0, 6};
    assert_int_equal(perc_participant_recv(s.ep[1].p, rtcp, sizeof rtcp, s.now), PERC_ERR_AUTH);
    psim_free(&s);
}

/* An explicit PLI reaches the media sender through the MD, which then
 * puts a Full EKT field on its next packet; an unkeyed video sender makes
 * the receiver send a PLI by itself. */
static void test_pli_and_unkeyed_video(void **state)
{
    (void)state;
    static psim s;
    perc_participant_config c1;
    perc_participant_config_init(&c1);
    assert_int_equal(perc_participant_config_set_video_pt(&c1, PS_PT), PERC_OK);
    c1.pli_min_interval_ns = 40 * PS_MS;
    setup_two(&s, 12, &c1);
    s.ep[0].sending = true;
    psim_run(&s, s.now + 400 * PS_MS); /* past the initial Full fields */
    perc_participant_send_stats before, after;
    assert_int_equal(perc_participant_send_stats_get(s.ep[0].p, s.ep[0].ssrc, &before), PERC_OK);
    assert_int_equal(perc_participant_send_pli(s.ep[1].p, s.ep[0].ssrc, s.now), PERC_OK);
    psim_pump(&s);
    assert_int_equal(s.ep[0].events[PERC_PARTICIPANT_EV_KEYFRAME_REQUEST], 1);
    psim_send_frames(&s);
    psim_pump(&s);
    assert_int_equal(perc_participant_send_stats_get(s.ep[0].p, s.ep[0].ssrc, &after), PERC_OK);
    assert_int_equal(after.keyframe_requests, before.keyframe_requests + 1);
    assert_int_equal(after.full_fields, before.full_fields + 1);

    /* A newcomer announced by signaling: the next packet carries a Full
     * field too, without waiting for the periodic one. */
    assert_int_equal(perc_participant_announce_keys(s.ep[0].p), PERC_OK);
    psim_send_frames(&s);
    psim_pump(&s);
    perc_participant_send_stats announced;
    assert_int_equal(perc_participant_send_stats_get(s.ep[0].p, s.ep[0].ssrc, &announced),
                     PERC_OK);
    assert_int_equal(announced.full_fields, after.full_fields + 1);
    assert_int_equal(perc_participant_announce_keys(NULL), PERC_ERR_INVALID_ARG);

    /* A third participant joins with video PTs configured; alice's Full
     * fields are 100 ms apart, so it first sees unkeyed packets. */
    int d = psim_add(&s, "carol");
    perc_participant_config c2;
    perc_participant_config_init(&c2);
    assert_int_equal(perc_participant_config_set_video_pt(&c2, PS_PT), PERC_OK);
    psim_join_cfg(&s, d, &c2);
    psim_pump(&s);
    psim_run(&s, s.now + 500 * PS_MS);
    perc_participant_remote_stats rs = psim_rstats(&s, d, 0);
    assert_true(rs.verified > 0);
    if (rs.rejected[PERC_PARTICIPANT_REJECT_NO_KEY] > 0) {
        assert_true(rs.pli_sent >= 1);
        assert_true(s.ep[0].events[PERC_PARTICIPANT_EV_KEYFRAME_REQUEST] >= 2);
    }
    psim_free(&s);
}

/* The operator re-keys: everyone gets the new EKTKey, makes a fresh key,
 * and the receivers follow without loss. */
static void test_operator_rekey(void **state)
{
    (void)state;
    static psim s;
    setup_two(&s, 13, NULL);
    s.ep[0].sending = s.ep[1].sending = true;
    psim_run(&s, s.now + 300 * PS_MS);
    psim_reset_counts(&s);
    assert_int_equal(perc_kmf_rekey(s.kmf, PS_CONF, s.now), PERC_OK);
    psim_pump(&s);
    psim_run(&s, s.now + 1 * PS_SECOND);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.ep[i].events[PERC_PARTICIPANT_EV_EKT_KEY], 2);
        assert_int_equal(s.ep[1 - i].got[i], s.ep[i].sent);
        perc_participant_remote_stats rs = psim_rstats(&s, 1 - i, i);
        assert_int_equal(rs.keys_learned, 2);
        assert_true(s.ep[1 - i].events[PERC_PARTICIPANT_EV_REMOTE_KEY] == 2);
    }
    psim_free(&s);
}

/* A KMF with another certificate than the answer said: the handshake
 * fails, no key ever exists. */
static void test_wrong_kmf_fingerprint(void **state)
{
    (void)state;
    static psim s;
    psim_init(&s, 14);
    psim_start(&s);
    psim_add(&s, "mallory");
    perc_participant_config c;
    perc_participant_config_init(&c);
    psim_ep *e = &s.ep[0];
    assert_int_equal(perc_kmf_announce(s.kmf, PS_CONF, e->identity, e->fp,
                                       (const uint8_t *)e->tls_id, strlen(e->tls_id), s.now, &e->ans),
                     PERC_OK);
    /* The answer's fingerprint, altered: the participant expects another
     * certificate than the KMF presents. */
    e->ans.fingerprint[0] ^= 1;
    c.dtls_ctx = e->ctx;
    assert_int_equal(perc_participant_config_set_tls_ids(&c, (const uint8_t *)e->tls_id,
                                                         strlen(e->tls_id),
                                                         (const uint8_t *)e->ans.tls_id,
                                                         e->ans.tls_id_len),
                     PERC_OK);
    c.check_kmf_fingerprint = true;
    memcpy(c.kmf_fingerprint, e->ans.fingerprint, sizeof c.kmf_fingerprint);
    c.ssrcs[0] = e->ssrc;
    c.n_ssrcs = 1;
    c.random = psim_random;
    c.random_user = &s.rng;
    assert_int_equal(perc_participant_new(&c, &e->p), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_add(s.mdd, 0, s.now), PERC_OK);
    e->in_mdd = true;
    assert_int_equal(perc_participant_start(e->p, s.now), PERC_OK);
    psim_pump(&s);
    assert_int_equal(perc_participant_get_state(e->p), PERC_PARTICIPANT_FAILED);
    assert_int_equal(e->events[PERC_PARTICIPANT_EV_CLOSED], 1);
    assert_int_equal(e->events[PERC_PARTICIPANT_EV_CONNECTED], 0);
    assert_false(e->has_keys);
    psim_free(&s);
}

/* Close: BYE for our SSRC reaches the other side, close_notify reaches the
 * KMF, which ends the association. */
static void test_close_sends_bye(void **state)
{
    (void)state;
    static psim s;
    setup_two(&s, 15, NULL);
    s.ep[0].sending = true;
    psim_run(&s, s.now + 200 * PS_MS);
    s.ep[0].sending = false;
    assert_int_equal(perc_participant_close(s.ep[0].p, s.now), PERC_OK);
    assert_int_equal(perc_participant_get_state(s.ep[0].p), PERC_PARTICIPANT_CLOSED);
    psim_pump(&s);
    assert_int_equal(s.ep[1].events[PERC_PARTICIPANT_EV_BYE], 1);
    perc_participant_remote_stats rs = psim_rstats(&s, 1, 0);
    assert_int_equal(rs.bye_received, 1);
    perc_kmf_stats ks;
    perc_kmf_get_stats(s.kmf, &ks);
    assert_int_equal(ks.left, 1);
    assert_int_equal(perc_participant_close(s.ep[0].p, s.now), PERC_ERR_STATE);
    uint8_t pl[4] = {0};
    assert_int_equal(perc_participant_send_rtp(s.ep[0].p, s.ep[0].ssrc, 96, 0, false, pl, 4, NULL,
                                               s.now),
                     PERC_ERR_STATE);
    psim_free(&s);
}

/* The last media datagram the MD core forwarded to endpoint 0. */
static uint8_t g_held[PERC_PARTICIPANT_MAX_DATAGRAM];
static size_t g_held_len;
static bool hold_rtp_to_0(psim *s, int to, uint8_t *buf, size_t *len, size_t cap)
{
    (void)s;
    (void)cap;
    if (to == 0 && perc_demux_classify(buf, *len) == PERC_DEMUX_RTP && *len <= sizeof g_held) {
        memcpy(g_held, buf, *len);
        g_held_len = *len;
    }
    return true;
}

/* Media still in flight when our association ended meets wiped keys: it is
 * refused (PERC_ERR_STATE) and counted as after_close, never as a rejection
 * of its sender, who did nothing wrong. */
static void test_media_after_close_is_not_the_senders_fault(void **state)
{
    (void)state;
    static psim s;
    setup_two(&s, 16, NULL);
    s.hook = hold_rtp_to_0;
    g_held_len = 0;
    s.ep[1].sending = true;
    psim_run(&s, s.now + 200 * PS_MS);
    assert_true(g_held_len > 0);
    perc_participant_remote_stats before = psim_rstats(&s, 0, 1);
    assert_true(before.verified > 0);

    /* The held packet is a replay while keyed: counted against bob. */
    assert_int_equal(perc_participant_recv(s.ep[0].p, g_held, g_held_len, s.now), PERC_ERR_REPLAY);
    perc_participant_remote_stats rs = psim_rstats(&s, 0, 1);
    assert_int_equal(rs.rejected[PERC_PARTICIPANT_REJECT_REPLAY],
                     before.rejected[PERC_PARTICIPANT_REJECT_REPLAY] + 1);

    assert_int_equal(perc_participant_close(s.ep[0].p, s.now), PERC_OK);
    perc_participant_stats st;
    perc_participant_get_stats(s.ep[0].p, &st);
    uint64_t rtp_in = st.rtp_in;
    assert_int_equal(st.after_close, 0);
    assert_int_equal(perc_participant_recv(s.ep[0].p, g_held, g_held_len, s.now), PERC_ERR_STATE);
    perc_participant_get_stats(s.ep[0].p, &st);
    assert_int_equal(st.after_close, 1);
    assert_int_equal(st.rtp_in, rtp_in + 1);
    assert_int_equal(st.rejected[PERC_PARTICIPANT_REJECT_NO_KEY], 0);
    perc_participant_remote_stats after = psim_rstats(&s, 0, 1);
    assert_int_equal(after.received, rs.received);
    assert_memory_equal(after.rejected, rs.rejected, sizeof rs.rejected);
    s.hook = NULL;
    psim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_handshake_states_and_errors),
        cmocka_unit_test(test_pli_and_unkeyed_video),
        cmocka_unit_test(test_operator_rekey),
        cmocka_unit_test(test_wrong_kmf_fingerprint),
        cmocka_unit_test(test_close_sends_bye),
        cmocka_unit_test(test_media_after_close_is_not_the_senders_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
