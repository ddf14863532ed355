/* A whole PERC conference in one process on a virtual clock, for the
 * participant tests: the KMF core (perc/kmf.h) behind a tunnel
 * (perc/tunnel_md.h), the Media Distributor's forwarding core (perc/mdd.h)
 * and participants (perc/participant.h). The test moves every datagram:
 * participant -> MD (DTLS into the tunnel, SRTP/SRTCP into perc_mdd) and
 * MD -> participant, with optional random loss per participant link and a
 * hook that lets a test play a dishonest MD on what perc_mdd forwards.
 * Media is the synthetic payload (perc/synth_payload.h): sender id = the
 * participant's index, so every receiver checks origin, order and content.
 * Seeded: every run of one seed is the same, except where OpenSSL's
 * wall-clock handshake timer needs real time to pass (see perc/dtls.h).
 * Include after <cmocka.h>. */
#ifndef PERC_TEST_PARTICIPANT_SIM_H
#define PERC_TEST_PARTICIPANT_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/demux.h"
#include "perc/dtls.h"
#include "perc/kmf.h"
#include "perc/mdd.h"
#include "perc/participant.h"
#include "perc/profile.h"
#include "perc/srtp.h"
#include "perc/synth_payload.h"
#include "perc/tunnel_md.h"
#include "test_util.h"

#define PS_MAX 6
#define PS_MS UINT64_C(1000000)
#define PS_SECOND UINT64_C(1000000000)
#define PS_CONF "conf-1"
#define PS_PT 111
#define PS_FRAME_NS (20 * PS_MS)

typedef struct psim psim;

/* Returns true to deliver buf[0..*len) (possibly changed), false to drop. */
typedef bool (*psim_hook)(psim *s, int to, uint8_t *buf, size_t *len, size_t cap);

typedef struct psim_ep {
    int idx;
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    char tls_id[48];
    char identity[32];
    perc_kmf_answer ans;
    perc_participant *p;
    uint32_t ssrc;
    bool in_mdd;
    bool has_keys;
    perc_tunnel_md_keys keys;       /* its MediaKeys, as the MD got them */
    bool cut;                       /* nothing is delivered to it any more */
    bool sending;
    uint32_t loss_pct;              /* random loss on its link, both ways */
    uint32_t synth_seq;
    uint64_t sent;                  /* media packets sent */
    uint64_t got[PS_MAX];           /* frames verified per sender index */
    uint32_t last_seq[PS_MAX];
    bool any_from[PS_MAX];
    uint64_t out_of_order;
    uint64_t bad_payload;
    uint64_t events[8];
} psim_ep;

struct psim {
    tu_rng rng;
    uint64_t now;
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    perc_kmf_config kcfg;
    perc_kmf *kmf;
    perc_tunnel_md *md;
    tu_rng md_rng;
    uint64_t conn;
    perc_mdd *mdd;
    psim_ep ep[PS_MAX];
    int n_ep;
    uint64_t next_frame_ns;
    psim_hook hook;
    void *hook_user;
    unsigned handshake_rtx_ms;
    /* Lockstep: the virtual clock never runs ahead of the wall clock (see
     * psim_lockstep). */
    bool lockstep;
    uint64_t lock_virt_base, lock_wall_base;
};

static inline int psim_random(void *user, uint8_t *buf, size_t len)
{
    tu_rng_fill((tu_rng *)user, buf, len);
    return 0;
}

static inline void psim_md_event(void *user, const perc_tunnel_md_event *ev);

static inline void psim_init(psim *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    tu_rng_seed(&s->rng, seed);
    tu_rng_seed(&s->md_rng, seed ^ 0x5555);
    s->now = 1000 * PS_SECOND;
    s->next_frame_ns = s->now;
    assert_int_equal(perc_dtls_identity_generate("kmf", &s->cert, &s->key), PERC_OK);
    perc_dtls_ctx_config cc = {s->cert, s->key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &s->ctx), PERC_OK);
    perc_kmf_config_init(&s->kcfg);
    s->kcfg.dtls_ctx = s->ctx;
    s->kcfg.random = psim_random;
    s->kcfg.random_user = &s->rng;
    s->kcfg.ekt_rtx_initial_ns = 200 * PS_MS;
    s->kcfg.ekt_rtx_max_ns = 2 * PS_SECOND;
}

/* KMF, tunnel and MD up. */
static inline void psim_start(psim *s)
{
    s->kcfg.dtls_handshake_rtx_initial_ms = s->handshake_rtx_ms;
    assert_int_equal(perc_kmf_new(&s->kcfg, &s->kmf), PERC_OK);
    static const uint16_t profiles[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                        PERC_PROFILE_DOUBLE_AES_256_GCM};
    perc_tunnel_md_config mc;
    memset(&mc, 0, sizeof mc);
    mc.profiles = profiles;
    mc.n_profiles = 2;
    mc.random = psim_random;
    mc.random_user = &s->md_rng;
    mc.on_event = psim_md_event;
    mc.event_user = s;
    assert_int_equal(perc_tunnel_md_new(&mc, &s->md), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, "md-1", s->now, &s->conn), PERC_OK);
    assert_int_equal(perc_tunnel_md_reset_connection(s->md), PERC_OK);
    perc_mdd_config dc;
    memset(&dc, 0, sizeof dc);
    dc.audio_level_id = 1;
    dc.timeout_ns = 600 * PS_SECOND;
    assert_int_equal(perc_mdd_new(&dc, &s->mdd), PERC_OK);
}

static inline bool psim_lost(psim *s, const psim_ep *e)
{
    return e->loss_pct && tu_rng_below(&s->rng, 100) < e->loss_pct;
}

/* Adds a participant: identity, certificate, tls-id, SSRC; not joined yet. */
static inline int psim_add(psim *s, const char *identity)
{
    assert_true(s->n_ep < PS_MAX);
    psim_ep *e = &s->ep[s->n_ep];
    memset(e, 0, sizeof *e);
    e->idx = s->n_ep;
    snprintf(e->identity, sizeof e->identity, "%s", identity);
    assert_int_equal(perc_dtls_identity_generate(identity, &e->cert, &e->key), PERC_OK);
    assert_int_equal(perc_dtls_cert_fingerprint(e->cert, e->fp), PERC_OK);
    perc_dtls_ctx_config cc = {e->cert, e->key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &e->ctx), PERC_OK);
    snprintf(e->tls_id, sizeof e->tls_id, "ParticipantTlsId%02d-abcdefghijk", e->idx);
    e->ssrc = 0x10000000u + (uint32_t)e->idx * 0x01010101u;
    return s->n_ep++;
}

/* Announce, build the participant from the answer, add to the MD. */
static inline void psim_join_cfg(psim *s, int i, perc_participant_config *cfg)
{
    psim_ep *e = &s->ep[i];
    assert_int_equal(perc_kmf_announce(s->kmf, PS_CONF, e->identity, e->fp,
                                       (const uint8_t *)e->tls_id, strlen(e->tls_id), s->now,
                                       &e->ans),
                     PERC_OK);
    assert_true(e->ans.allowed);
    cfg->dtls_ctx = e->ctx;
    assert_int_equal(perc_participant_config_set_tls_ids(cfg, (const uint8_t *)e->tls_id,
                                                         strlen(e->tls_id),
                                                         (const uint8_t *)e->ans.tls_id,
                                                         e->ans.tls_id_len),
                     PERC_OK);
    cfg->check_kmf_fingerprint = true;
    memcpy(cfg->kmf_fingerprint, e->ans.fingerprint, sizeof cfg->kmf_fingerprint);
    cfg->ssrcs[0] = e->ssrc;
    cfg->n_ssrcs = 1;
    snprintf(cfg->cname, sizeof cfg->cname, "%s@sim", e->identity);
    cfg->random = psim_random;
    cfg->random_user = &s->rng;
    cfg->dtls_handshake_rtx_initial_ms = s->handshake_rtx_ms;
    assert_int_equal(perc_participant_new(cfg, &e->p), PERC_OK);
    assert_int_equal(perc_mdd_endpoint_add(s->mdd, (uint64_t)i, s->now), PERC_OK);
    e->in_mdd = true;
    assert_int_equal(perc_participant_start(e->p, s->now), PERC_OK);
}

static inline void psim_join(psim *s, int i)
{
    perc_participant_config cfg;
    perc_participant_config_init(&cfg);
    psim_join_cfg(s, i, &cfg);
}

static inline void psim_md_event(void *user, const perc_tunnel_md_event *ev)
{
    psim *s = user;
    if (ev->type == PERC_TUNNEL_MD_DROPPED)
        return;
    assert_true(ev->handle < (uint64_t)s->n_ep);
    psim_ep *e = &s->ep[ev->handle];
    switch (ev->type) {
    case PERC_TUNNEL_MD_DTLS_TO_ENDPOINT:
        if (e->p && !e->cut && !psim_lost(s, e)) {
            int rc = perc_participant_recv(e->p, ev->dtls.ptr, ev->dtls.len, s->now);
            assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
        }
        break;
    case PERC_TUNNEL_MD_INSTALL_KEYS: {
        const perc_tunnel_md_keys *k = ev->keys;
        e->keys = *k;
        e->has_keys = true;
        if (e->in_mdd)
            assert_int_equal(perc_mdd_endpoint_set_keys(s->mdd, ev->handle, k->profile,
                                                        k->client_write_key, k->key_len,
                                                        k->client_write_salt, k->salt_len,
                                                        k->server_write_key, k->key_len,
                                                        k->server_write_salt, k->salt_len),
                             PERC_OK);
        break;
    }
    case PERC_TUNNEL_MD_KD_DISCONNECT:
        if (e->in_mdd)
            assert_int_equal(perc_mdd_endpoint_remove(s->mdd, ev->handle), PERC_OK);
        e->in_mdd = false;
        break;
    default:
        fail_msg("unexpected MD event %d", (int)ev->type);
    }
}

/* Checks one received frame's synthetic payload against its sender. */
static inline void psim_check_frame(psim *s, psim_ep *r, const perc_participant_frame *f)
{
    perc_synth_payload sp;
    perc_synth_status why;
    int from = -1;
    for (int i = 0; i < s->n_ep; i++)
        if (s->ep[i].ssrc == f->ssrc)
            from = i;
    if (from < 0 || perc_synth_decode(f->payload, f->payload_len, &sp, &why) != PERC_OK ||
        sp.sender_id != (uint32_t)from || sp.rtp_ts != f->timestamp) {
        r->bad_payload++;
        return;
    }
    if (r->any_from[from] && sp.seq <= r->last_seq[from])
        r->out_of_order++;
    r->any_from[from] = true;
    r->last_seq[from] = sp.seq;
    r->got[from]++;
}

static inline void psim_drain_participant(psim *s, psim_ep *e)
{
    static perc_participant_frame f;
    while (perc_participant_pop_frame(e->p, &f) == PERC_OK)
        psim_check_frame(s, e, &f);
    perc_participant_event ev;
    while (perc_participant_pop_event(e->p, &ev) == PERC_OK)
        if ((unsigned)ev.type < 8)
            e->events[ev.type]++;
}

/* Moves everything until nobody has anything to send. */
static inline void psim_pump(psim *s)
{
    static uint8_t buf[PERC_TUNNEL_MAX_MSG * 2];
    for (int iter = 0; iter < 1000; iter++) {
        size_t moved = 0;
        for (int i = 0; i < s->n_ep; i++) {
            psim_ep *e = &s->ep[i];
            if (!e->p)
                continue;
            for (;;) {
                size_t len;
                assert_int_equal(perc_participant_pop_datagram(e->p, buf, sizeof buf, &len), PERC_OK);
                if (len == 0)
                    break;
                moved++;
                if (e->cut || psim_lost(s, e))
                    continue;
                switch (perc_demux_classify(buf, len)) {
                case PERC_DEMUX_DTLS:
                    if (perc_tunnel_md_dtls_from_endpoint(s->md, (uint64_t)i, buf, len, NULL) != PERC_OK)
                        fail_msg("tunnel refused a DTLS datagram");
                    break;
                case PERC_DEMUX_RTP:
                    if (e->in_mdd && perc_mdd_rtp_in(s->mdd, (uint64_t)i, buf, len, s->now) != PERC_OK) {
                        /* counted by the MDD (e.g. no keys yet) */
                    }
                    break;
                case PERC_DEMUX_RTCP:
                    if (e->in_mdd && perc_mdd_rtcp_in(s->mdd, (uint64_t)i, buf, len, s->now) != PERC_OK) {
                    }
                    break;
                default:
                    fail_msg("participant sent an unknown datagram");
                }
            }
        }
        size_t len;
        assert_int_equal(perc_tunnel_md_pending_send(s->md, buf, sizeof buf, &len), PERC_OK);
        if (len) {
            moved += len;
            assert_int_equal(perc_kmf_tunnel_recv(s->kmf, s->conn, buf, len, s->now), PERC_OK);
        }
        assert_int_equal(perc_kmf_tunnel_pending(s->kmf, s->conn, buf, sizeof buf, &len), PERC_OK);
        if (len) {
            moved += len;
            assert_int_equal(perc_tunnel_md_recv(s->md, buf, len), PERC_OK);
        }
        uint64_t h;
        while (perc_mdd_pop(s->mdd, &h, buf, sizeof buf, &len) == PERC_OK) {
            moved++;
            psim_ep *e = &s->ep[h];
            if (!e->p || e->cut || psim_lost(s, e))
                continue;
            if (s->hook && !s->hook(s, (int)h, buf, &len, sizeof buf))
                continue;
            if (perc_participant_recv(e->p, buf, len, s->now) != PERC_OK) {
                /* counted by the participant, by reason */
            }
        }
        for (int i = 0; i < s->n_ep; i++)
            if (s->ep[i].p)
                psim_drain_participant(s, &s->ep[i]);
        if (moved == 0)
            return;
    }
    fail_msg("the simulation never went quiet");
}

/* One frame from every sending, READY participant. */
static inline void psim_send_frames(psim *s)
{
    uint8_t payload[160];
    for (int i = 0; i < s->n_ep; i++) {
        psim_ep *e = &s->ep[i];
        if (!e->p || !e->sending || e->cut ||
            perc_participant_get_state(e->p) != PERC_PARTICIPANT_READY)
            continue;
        perc_synth_payload sp = {.sender_id = (uint32_t)i,
                                 .seq = e->synth_seq,
                                 .rtp_ts = 960u * e->synth_seq,
                                 .len = sizeof payload};
        size_t n;
        assert_int_equal(perc_synth_encode(&sp, payload, sizeof payload, &n), PERC_OK);
        perc_audio_level al = {.voice = true, .level = (uint8_t)(30 + i)};
        assert_int_equal(perc_participant_send_rtp(e->p, e->ssrc, PS_PT, sp.rtp_ts, false, payload,
                                                   n, &al, s->now),
                         PERC_OK);
        e->synth_seq++;
        e->sent++;
    }
}

static inline uint64_t psim_next(const psim *s)
{
    uint64_t t = perc_kmf_next_timeout(s->kmf);
    for (int i = 0; i < s->n_ep; i++) {
        if (!s->ep[i].p || s->ep[i].cut)
            continue;
        uint64_t e = perc_participant_next_timeout(s->ep[i].p);
        t = e < t ? e : t;
    }
    bool any_sender = false;
    for (int i = 0; i < s->n_ep; i++)
        any_sender |= s->ep[i].sending;
    if (any_sender && s->next_frame_ns < t)
        t = s->next_frame_ns;
    return t;
}

static inline uint64_t psim_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * PS_SECOND + (uint64_t)ts.tv_nsec;
}

/* OpenSSL's DTLS handshake retransmission reads the wall clock
 * (conformance G18), while perc_dtls only turns what OpenSSL has left into
 * a deadline on our clock. Left alone, the virtual clock would race past
 * that deadline again and again while hardly any real time passes, so a
 * lost handshake flight would not be resent before the KMF's handshake
 * timeout (virtual) gave up on it; how often depends on how busy the
 * machine is. A test whose handshakes lose packets runs them in lockstep:
 * the virtual clock waits for the wall clock. */
static inline void psim_lockstep(psim *s, bool on)
{
    s->lockstep = on;
    s->lock_virt_base = s->now;
    s->lock_wall_base = psim_wall_ns();
}

static inline void psim_wait_for_wall(const psim *s, uint64_t t)
{
    uint64_t due = s->lock_wall_base + (t - s->lock_virt_base);
    for (uint64_t w = psim_wall_ns(); w < due; w = psim_wall_ns()) {
        uint64_t left = due - w;
        struct timespec ts = {(time_t)(left / PS_SECOND), (long)(left % PS_SECOND)};
        nanosleep(&ts, NULL);
    }
}

/* Runs timers and media up to `until`. When a DTLS deadline is due and
 * nothing else is, real time is let pass (1 ms at a time) so that
 * OpenSSL's wall-clock timer can fire (see psim_lockstep). */
static inline void psim_run(psim *s, uint64_t until)
{
    for (int iter = 0; iter < 200000; iter++) {
        uint64_t t = psim_next(s);
        if (t > until)
            break;
        if (t > s->now) {
            if (s->lockstep)
                psim_wait_for_wall(s, t);
            s->now = t;
        }
        assert_int_equal(perc_kmf_on_timeout(s->kmf, s->now), PERC_OK);
        for (int i = 0; i < s->n_ep; i++) {
            psim_ep *e = &s->ep[i];
            if (e->p && !e->cut && perc_participant_next_timeout(e->p) <= s->now)
                assert_int_equal(perc_participant_on_timeout(e->p, s->now), PERC_OK);
        }
        if (s->next_frame_ns <= s->now) {
            psim_send_frames(s);
            s->next_frame_ns += PS_FRAME_NS;
        }
        psim_pump(s);
        if (psim_next(s) <= s->now) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            s->now += PS_MS;
        }
    }
    if (until > s->now)
        s->now = until;
    if (s->next_frame_ns < s->now)
        s->next_frame_ns = s->now;
}

static inline bool psim_ready(const psim *s, int i)
{
    return perc_participant_get_state(s->ep[i].p) == PERC_PARTICIPANT_READY;
}

static inline perc_participant_remote_stats psim_rstats(const psim *s, int at, int from)
{
    perc_participant_remote_stats st;
    assert_int_equal(perc_participant_remote_stats_get(s->ep[at].p, s->ep[from].ssrc, &st), PERC_OK);
    return st;
}

static inline void psim_reset_counts(psim *s)
{
    for (int i = 0; i < s->n_ep; i++) {
        s->ep[i].sent = 0;
        memset(s->ep[i].got, 0, sizeof s->ep[i].got);
    }
}

/* An outer (hop-by-hop) session from MediaKeys halves. */
static inline perc_srtp_session *psim_session(const psim_ep *e, bool server_write)
{
    perc_srtp_session_keys k;
    perc_srtp_session *out = NULL;
    perc_srtp_cipher c = e->keys.key_len == 16 ? PERC_AES128_GCM : PERC_AES256_GCM;
    assert_int_equal(perc_srtp_kdf(c, server_write ? e->keys.server_write_key : e->keys.client_write_key,
                                   e->keys.key_len,
                                   server_write ? e->keys.server_write_salt : e->keys.client_write_salt,
                                   e->keys.salt_len, &k),
                     PERC_OK);
    assert_int_equal(perc_srtp_session_new(&k, &out), PERC_OK);
    perc_srtp_keys_wipe(&k);
    return out;
}

static inline void psim_free(psim *s)
{
    for (int i = 0; i < s->n_ep; i++) {
        psim_ep *e = &s->ep[i];
        perc_participant_free(e->p);
        perc_dtls_ctx_free(e->ctx);
        X509_free(e->cert);
        EVP_PKEY_free(e->key);
    }
    perc_mdd_free(s->mdd);
    perc_tunnel_md_free(s->md);
    perc_kmf_free(s->kmf);
    perc_dtls_ctx_free(s->ctx);
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
}

#endif
