/* The conference focus (common/include/perc/focus.h), driven by scripted
 * endpoints, KMFs and Media Distributors written as plain code: every
 * message each side receives is decoded and checked, and a step that
 * should not reach someone is checked to reach no one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perc/focus.h"
#include "perc/sdp.h"
#include "perc/signaling.h"
#include "test_sig_fixtures.h"

#define SEC PERC_FOCUS_SECOND
#define DAEMON_TOKEN "daemon-secret"
#define MDD_PWD "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk"
#define KMF_TLS_ID "kmf-tls_id+0123456789/AB"
#define MAX_OUT 4096

/* The offer's fingerprint as signaling forwards it (upper-case hex). */
#define OFFER_FP                                                                               \
    "sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:" \
    "AF:52:CE:E6:0F"

/* Connection ids of the scripted peers. */
enum { KMF = 1, MDD = 2, MDD2 = 3, KMF2 = 4, E1 = 11, E2 = 12, E3 = 13, E4 = 14, X = 99 };

typedef struct out_item {
    uint64_t conn;
    bool close;
    char *text;
    bool used;
} out_item;

typedef struct world {
    perc_focus *f;
    uint64_t now;
    out_item out[MAX_OUT];
    size_t n;
    char logs[64 * 1024];
    size_t log_len;
    unsigned warnings;
    uint8_t rnd;
} world;

static void on_log(void *user, perc_focus_log_level level, const char *line)
{
    world *w = user;
    int n = snprintf(w->logs + w->log_len, sizeof w->logs - w->log_len, "%d %s\n", (int)level,
                     line);
    if (n > 0 && (size_t)n < sizeof w->logs - w->log_len)
        w->log_len += (size_t)n;
    w->warnings += level >= PERC_FOCUS_LOG_WARNING;
}

static int on_random(void *user, uint8_t *buf, size_t len)
{
    world *w = user;
    for (size_t i = 0; i < len; i++)
        buf[i] = ++w->rnd;
    return 0;
}

static world *w_new_cfg(perc_focus_config *cfg)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->now = 1000 * SEC;
    cfg->daemon_token = DAEMON_TOKEN;
    cfg->log = on_log;
    cfg->log_user = w;
    cfg->random = on_random;
    cfg->random_user = w;
    assert_int_equal(perc_focus_new(cfg, &w->f), PERC_OK);
    return w;
}

static world *w_new(bool auto_create)
{
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auto_create = auto_create;
    return w_new_cfg(&cfg);
}

static void w_drain(world *w)
{
    perc_focus_output o;
    while (perc_focus_pop(w->f, &o) == PERC_OK) {
        assert_true(w->n < MAX_OUT);
        out_item *it = &w->out[w->n++];
        it->conn = o.conn;
        it->close = o.kind == PERC_FOCUS_OUT_CLOSE;
        it->text = NULL;
        it->used = false;
        if (!it->close) {
            assert_int_equal(strlen(o.text), o.len);
            it->text = strdup(o.text);
        }
    }
    assert_int_equal(perc_focus_pending(w->f), 0);
}

/* Nothing unread for anyone; secrets never in the log. */
static void w_quiet(world *w)
{
    w_drain(w);
    for (size_t i = 0; i < w->n; i++) {
        if (!w->out[i].used)
            fail_msg("unexpected output for conn %llu: %s", (unsigned long long)w->out[i].conn,
                     w->out[i].close ? "CLOSE" : w->out[i].text);
    }
    w->logs[w->log_len] = '\0';
    assert_null(strstr(w->logs, DAEMON_TOKEN));
    assert_null(strstr(w->logs, "join-token-1"));
    assert_null(strstr(w->logs, MDD_PWD));
}

static void w_free(world *w)
{
    w_quiet(w);
    for (size_t i = 0; i < w->n; i++)
        free(w->out[i].text);
    perc_focus_free(w->f);
    free(w);
}

static void w_open(world *w, uint64_t conn)
{
    assert_int_equal(perc_focus_open(w->f, conn, w->now), PERC_OK);
}

static void w_recv(world *w, uint64_t conn, const char *text)
{
    int rc = perc_focus_recv(w->f, conn, text, strlen(text), w->now);
    if (rc != PERC_OK)
        fail_msg("recv on %llu: %d for %s", (unsigned long long)conn, rc, text);
    w_drain(w);
}

static void w_send(world *w, uint64_t conn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void w_send(world *w, uint64_t conn, const char *fmt, ...)
{
    char buf[PERC_SIG_MAX_MESSAGE + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    w_recv(w, conn, buf);
}

static void w_closed(world *w, uint64_t conn)
{
    assert_int_equal(perc_focus_closed(w->f, conn, w->now), PERC_OK);
    w_drain(w);
}

static void w_advance(world *w, uint64_t ns)
{
    w->now += ns;
    assert_int_equal(perc_focus_on_timeout(w->f, w->now), PERC_OK);
    w_drain(w);
}

/* The next unread message for conn: must be of `type`; decoded into m
 * (clear it). */
static void expect_msg(world *w, uint64_t conn, perc_sig_type type, perc_sig_msg *m)
{
    w_drain(w);
    for (size_t i = 0; i < w->n; i++) {
        out_item *it = &w->out[i];
        if (it->used || it->conn != conn)
            continue;
        it->used = true;
        if (it->close)
            fail_msg("conn %llu: want %s, got CLOSE", (unsigned long long)conn,
                     perc_sig_type_name(type));
        perc_sig_error e;
        if (perc_sig_decode(it->text, strlen(it->text), m, &e) != PERC_OK)
            fail_msg("conn %llu: output does not decode: %s", (unsigned long long)conn, it->text);
        if (m->type != type)
            fail_msg("conn %llu: want %s, got %s", (unsigned long long)conn,
                     perc_sig_type_name(type), it->text);
        return;
    }
    fail_msg("conn %llu: want %s, got nothing", (unsigned long long)conn,
             perc_sig_type_name(type));
}

static void expect_close(world *w, uint64_t conn)
{
    w_drain(w);
    for (size_t i = 0; i < w->n; i++) {
        out_item *it = &w->out[i];
        if (it->used || it->conn != conn)
            continue;
        it->used = true;
        if (!it->close)
            fail_msg("conn %llu: want CLOSE, got %s", (unsigned long long)conn, it->text);
        return;
    }
    fail_msg("conn %llu: want CLOSE, got nothing", (unsigned long long)conn);
}

/* The next message for conn is an error with this code and re ("" none). */
static void expect_error(world *w, uint64_t conn, perc_sig_code code, const char *re,
                         const char *reason_part)
{
    perc_sig_msg m;
    expect_msg(w, conn, PERC_SIG_ERROR, &m);
    if (m.code != code || strcmp(m.re ? m.re : "", re) != 0 ||
        (reason_part && !strstr(m.reason, reason_part)))
        fail_msg("conn %llu: want error %s re \"%s\" (%s), got %s re \"%s\": %s",
                 (unsigned long long)conn, perc_sig_code_name(code), re,
                 reason_part ? reason_part : "", perc_sig_code_name(m.code), m.re ? m.re : "",
                 m.reason);
    perc_sig_msg_clear(&m);
}

/* ---- scripted peers ---- */

static void kmf_hello(world *w, uint64_t conn, const char *name)
{
    w_open(w, conn);
    w_send(w, conn,
           "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"kmf\",\"name\":\"%s\",\"token\":"
           "\"" DAEMON_TOKEN "\",\"fingerprint\":\"" SIG_KMF_FP "\"}",
           name);
    perc_sig_msg m;
    expect_msg(w, conn, PERC_SIG_WELCOME, &m);
    assert_string_equal(m.re, "h");
    assert_true(perc_sig_valid_name(m.session));
    perc_sig_msg_clear(&m);
}

static void mdd_hello(world *w, uint64_t conn, const char *name, unsigned capacity,
                      bool cascade)
{
    w_open(w, conn);
    w_send(w, conn,
           "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"mdd\",\"name\":\"%s\",\"token\":"
           "\"" DAEMON_TOKEN "\",\"capacity\":%u%s}",
           name, capacity, cascade ? ",\"cascade\":true" : "");
    perc_sig_msg m;
    expect_msg(w, conn, PERC_SIG_WELCOME, &m);
    assert_string_equal(m.re, "h");
    perc_sig_msg_clear(&m);
}

static void ep_hello(world *w, uint64_t conn, const char *conf)
{
    w_open(w, conn);
    w_send(w, conn, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":\"%s\"}",
           conf);
    perc_sig_msg m;
    expect_msg(w, conn, PERC_SIG_WELCOME, &m);
    assert_string_equal(m.re, "1");
    perc_sig_msg_clear(&m);
}

static void ep_join(world *w, uint64_t conn, const char *conf, const char *identity,
                    const char *offer)
{
    char *js = sig_json_str(offer);
    w_send(w, conn,
           "{\"type\":\"join\",\"id\":\"j\",\"conference\":\"%s\",\"identity\":\"%s\",\"sdp\":%s}",
           conf, identity, js);
    free(js);
}

/* The KMF's participant request for the join on the way: checks it and
 * returns its request id in req (cap 16). */
static void kmf_expect_participant(world *w, uint64_t kmf, const char *conf, const char *pid,
                                   const char *identity, const char *tls_id, char *req)
{
    perc_sig_msg m;
    expect_msg(w, kmf, PERC_SIG_PARTICIPANT, &m);
    assert_string_equal(m.conference, conf);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.identity, identity);
    assert_string_equal(m.fingerprint, OFFER_FP);
    assert_string_equal(m.tls_id, tls_id);
    snprintf(req, 16, "%s", m.id);
    perc_sig_msg_clear(&m);
}

static void mdd_expect_offer(world *w, uint64_t mdd, const char *conf, const char *pid,
                             const char *offer, char *req)
{
    perc_sig_msg m;
    expect_msg(w, mdd, PERC_SIG_ENDPOINT_OFFER, &m);
    assert_string_equal(m.conference, conf);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.sdp, offer);
    snprintf(req, 16, "%s", m.id);
    perc_sig_msg_clear(&m);
}

static void kmf_admit(world *w, uint64_t kmf, const char *req)
{
    w_send(w, kmf,
           "{\"type\":\"admit\",\"re\":\"%s\",\"fingerprint\":\"" SIG_KMF_FP "\",\"tls-id\":"
           "\"" KMF_TLS_ID "\"}",
           req);
}

static void mdd_answer(world *w, uint64_t mdd, const char *req, const char *ufrag, bool eoc)
{
    w_send(w, mdd,
           "{\"type\":\"endpoint-answer\",\"re\":\"%s\",\"ice-ufrag\":\"%s\",\"ice-pwd\":"
           "\"" MDD_PWD "\",\"ice-lite\":true,\"candidates\":[\"candidate:1 1 udp 2130706431 "
           "192.0.2.1 40000 typ host\",\"candidate:2 1 UDP 2130706175 2001:db8::1 40000 typ "
           "host\"]%s}",
           req, ufrag, eoc ? ",\"end-of-candidates\":true" : "");
}

static void kmf_keyed(world *w, uint64_t kmf, const char *conf, const char *pid)
{
    w_send(w, kmf, "{\"type\":\"keyed\",\"conference\":\"%s\",\"participant\":\"%s\"}", conf,
           pid);
}

/* The answer SDP checked field by field (docs/signaling.md §6.1). */
static void check_answer_sdp(const char *text, const char *ufrag, bool eoc)
{
    perc_sdp *a = calloc(1, sizeof *a);
    perc_sdp_error e;
    if (perc_sdp_parse(text, strlen(text), a, &e) != PERC_OK)
        fail_msg("answer SDP does not parse: line %u %s\n%s", e.line, e.reason, text);
    assert_int_equal(perc_sdp_check_perc(a, &e), PERC_OK);
    assert_string_equal(a->origin_username, "perc-signaling");
    assert_int_equal(a->origin_addrtype, PERC_SDP_IP4);
    assert_string_equal(a->origin_address, "192.0.2.1");
    assert_true(a->origin_sess_id > 0);
    assert_true(a->ice_lite);
    assert_true(a->bundle);
    assert_int_equal(a->bundle_count, 2);
    assert_string_equal(a->bundle_mids[0], "0");
    assert_string_equal(a->bundle_mids[1], "1");
    assert_string_equal(a->attrs.ice_ufrag, ufrag);
    assert_string_equal(a->attrs.ice_pwd, MDD_PWD);
    assert_string_equal(a->attrs.ice_options, "trickle");
    assert_int_equal(a->attrs.setup, PERC_SDP_SETUP_PASSIVE);
    assert_int_equal(a->attrs.fingerprint_count, 1);
    perc_sdp_fingerprint kfp;
    assert_int_equal(perc_sig_fingerprint_parse(SIG_KMF_FP, &kfp), PERC_OK);
    assert_memory_equal(a->attrs.fingerprints[0].value, kfp.value, 32);
    assert_string_equal(a->attrs.fingerprints[0].hash, "sha-256");
    assert_int_equal(a->media_count, 2);

    const perc_sdp_media *au = &a->media[0];
    assert_int_equal(au->type, PERC_SDP_AUDIO);
    assert_string_equal(au->mid, "0");
    assert_int_equal(au->port, 40000);
    assert_int_equal(au->proto, PERC_SDP_UDP_TLS_RTP_SAVPF);
    assert_true(au->connection.present);
    assert_string_equal(au->connection.address, "192.0.2.1");
    assert_true(au->rtcp_mux);
    assert_string_equal(au->attrs.tls_id, KMF_TLS_ID);
    assert_int_equal(au->attrs.direction, PERC_SDP_SENDRECV);
    assert_int_equal(au->fmt_count, 2);
    assert_int_equal(au->fmts[0], 111);
    assert_int_equal(au->fmts[1], 0);
    assert_int_equal(au->rtpmap_count, 1);
    assert_string_equal(au->rtpmaps[0].name, "opus");
    assert_int_equal(au->rtpmaps[0].clock, 48000);
    assert_int_equal(au->rtpmaps[0].channels, 2);
    /* Audio level kept, the unknown extension not. */
    assert_int_equal(au->attrs.extmap_count, 1);
    assert_int_equal(au->attrs.extmaps[0].id, 1);
    assert_string_equal(au->attrs.extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    assert_int_equal(au->ssrc_count, 0);
    assert_int_equal(au->candidate_count, 2);
    assert_string_equal(au->candidates[0].address, "192.0.2.1");
    assert_int_equal(au->candidates[0].port, 40000);
    assert_int_equal(au->candidates[0].type, PERC_SDP_CAND_HOST);
    assert_string_equal(au->candidates[1].address, "2001:db8::1");
    assert_int_equal(au->attrs.end_of_candidates, eoc);
    assert_int_equal(au->attrs.setup, PERC_SDP_SETUP_NONE);

    const perc_sdp_media *vi = &a->media[1];
    assert_int_equal(vi->type, PERC_SDP_VIDEO);
    assert_string_equal(vi->mid, "1");
    assert_int_equal(vi->port, 40000);
    assert_string_equal(vi->attrs.tls_id, KMF_TLS_ID);
    /* The offer's sendonly video is answered recvonly; PT 97 had no
     * rtpmap and is dropped; the rtcp-fb of 96 is kept. */
    assert_int_equal(vi->attrs.direction, PERC_SDP_RECVONLY);
    assert_int_equal(vi->fmt_count, 1);
    assert_int_equal(vi->fmts[0], 96);
    assert_string_equal(vi->rtpmaps[0].name, "VP8");
    assert_int_equal(vi->candidate_count, 0);
    assert_true(vi->rtcp_mux);
    bool fmtp = false, fb = false;
    for (size_t i = 0; i < a->raw_count; i++) {
        const char *t = perc_sdp_raw_text(a, &a->raw[i]);
        fmtp |= a->raw[i].media == 0 && strcmp(t, "fmtp:111 minptime=10;useinbandfec=1") == 0;
        fb |= a->raw[i].media == 1 && strcmp(t, "rtcp-fb:96 nack pli") == 0;
    }
    assert_true(fmtp);
    assert_true(fb);
    const perc_sdp_fingerprint *fp;
    const char *tls;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(perc_sdp_effective_fingerprint(a, i, &fp), PERC_OK);
        assert_int_equal(perc_sdp_effective_tls_id(a, i, &tls), PERC_OK);
        assert_int_equal(perc_sdp_effective_setup(a, i), PERC_SDP_SETUP_PASSIVE);
    }
    free(a);
}

/* The endpoint's answer: checks it and returns the participant id (cap 16). */
static void ep_expect_answer(world *w, uint64_t ep, const char *ufrag, const char *mdd,
                             char *pid)
{
    perc_sig_msg m;
    expect_msg(w, ep, PERC_SIG_ANSWER, &m);
    assert_string_equal(m.re, "j");
    assert_string_equal(m.mdd, mdd);
    check_answer_sdp(m.sdp, ufrag, false);
    snprintf(pid, 16, "%s", m.participant);
    perc_sig_msg_clear(&m);
}

static void ep_expect_joined(world *w, uint64_t ep, const char *pid, const char *identity,
                             uint32_t audio, uint32_t video)
{
    perc_sig_msg m;
    expect_msg(w, ep, PERC_SIG_JOINED, &m);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.identity, identity);
    assert_int_equal(m.ssrc_count, 2);
    assert_int_equal(m.ssrcs[0].ssrc, audio);
    assert_int_equal(m.ssrcs[0].kind, PERC_SDP_AUDIO);
    assert_string_equal(m.ssrcs[0].mid, "0");
    assert_int_equal(m.ssrcs[1].ssrc, video);
    assert_int_equal(m.ssrcs[1].kind, PERC_SDP_VIDEO);
    assert_string_equal(m.ssrcs[1].mid, "1");
    perc_sig_msg_clear(&m);
}

static void ep_expect_left(world *w, uint64_t ep, const char *pid, const char *reason)
{
    perc_sig_msg m;
    expect_msg(w, ep, PERC_SIG_LEFT, &m);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.reason, reason);
    perc_sig_msg_clear(&m);
}

static void expect_part_left(world *w, uint64_t kmf, const char *pid, const char *reason)
{
    perc_sig_msg m;
    expect_msg(w, kmf, PERC_SIG_PARTICIPANT_LEFT, &m);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.reason, reason);
    perc_sig_msg_clear(&m);
}

static void expect_endpoint_leave(world *w, uint64_t mdd, const char *pid, const char *reason)
{
    perc_sig_msg m;
    expect_msg(w, mdd, PERC_SIG_ENDPOINT_LEAVE, &m);
    assert_string_equal(m.participant, pid);
    assert_string_equal(m.reason, reason);
    perc_sig_msg_clear(&m);
}

/* Endpoint `ep` joins `conf` all the way to keyed (KMF verdict first, then
 * the MD's answer), answering the roster it is sent: `others` joined
 * participants already there (their joined events are read by the
 * caller). Returns the participant id. */
static void join_fully(world *w, uint64_t ep, uint64_t kmf, uint64_t mdd, const char *mdd_name,
                       const char *conf, const char *identity, uint32_t audio, uint32_t video,
                       char *pid)
{
    char *offer = sig_offer("F7gI", SIG_TLS_ID_1, audio, video);
    char kreq[16], mreq[16];
    ep_hello(w, ep, conf);
    ep_join(w, ep, conf, identity, offer);
    perc_sig_msg m;
    expect_msg(w, kmf, PERC_SIG_PARTICIPANT, &m);
    snprintf(pid, 16, "%s", m.participant);
    snprintf(kreq, sizeof kreq, "%s", m.id);
    perc_sig_msg_clear(&m);
    mdd_expect_offer(w, mdd, conf, pid, offer, mreq);
    kmf_admit(w, kmf, kreq);
    mdd_answer(w, mdd, mreq, "mdd1", false);
    char got[16];
    ep_expect_answer(w, ep, "mdd1", mdd_name, got);
    assert_string_equal(got, pid);
    kmf_keyed(w, kmf, conf, pid);
    free(offer);
}

/* ---- tests ---- */

static void test_first_join(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    ep_hello(w, E1, "standup");
    w_quiet(w);
    char *offer = sig_offer("F7gI", SIG_TLS_ID_1, 3735928559u, 305419896u);
    ep_join(w, E1, "standup", "alice", offer);

    /* The KMF and the MD are asked at once, in parallel. */
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "standup", "p1", "alice", SIG_TLS_ID_1, kreq);
    mdd_expect_offer(w, MDD, "standup", "p1", offer, mreq);
    assert_string_not_equal(kreq, mreq);
    w_quiet(w); /* nothing for the endpoint yet */

    perc_focus_participant_info pi;
    size_t ci;
    assert_int_equal(perc_focus_conference_find(w->f, "standup", &ci), PERC_OK);
    assert_int_equal(perc_focus_participant_at(w->f, ci, 0, &pi), PERC_OK);
    assert_int_equal(pi.state, PERC_FOCUS_WAITING_KMF);
    assert_string_equal(pi.identity, "alice");
    assert_string_equal(pi.mdd, "mdd-1");
    assert_int_equal(pi.ssrc_count, 2);

    /* Trickle from the endpoint goes to the MD at once. */
    w_send(w, E1, "{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":\"candidate:4 1 UDP "
                  "2122260222 192.0.2.11 54402 typ host\"}");
    perc_sig_msg m;
    expect_msg(w, MDD, PERC_SIG_ENDPOINT_CANDIDATE, &m);
    assert_string_equal(m.conference, "standup");
    assert_string_equal(m.participant, "p1");
    assert_string_equal(m.mid, "0");
    assert_string_equal(m.candidate, "candidate:4 1 UDP 2122260222 192.0.2.11 54402 typ host");
    perc_sig_msg_clear(&m);
    /* The MD's trickle before the answer waits for the answer. */
    w_send(w, MDD, "{\"type\":\"endpoint-candidate\",\"conference\":\"standup\",\"participant\":"
                   "\"p1\",\"mid\":\"0\",\"candidate\":\"candidate:9 1 udp 100 192.0.2.9 4000 "
                   "typ host\"}");
    w_quiet(w);

    /* The MD answers first: still waiting for the KMF. */
    mdd_answer(w, MDD, mreq, "mdd1", false);
    w_quiet(w);
    assert_int_equal(perc_focus_participant_at(w->f, ci, 0, &pi), PERC_OK);
    assert_int_equal(pi.state, PERC_FOCUS_WAITING_KMF);

    kmf_admit(w, KMF, kreq);
    char pid[16];
    ep_expect_answer(w, E1, "mdd1", "mdd-1", pid);
    assert_string_equal(pid, "p1");
    expect_msg(w, E1, PERC_SIG_CANDIDATE, &m);
    assert_string_equal(m.mid, "0");
    assert_string_equal(m.candidate, "candidate:9 1 udp 100 192.0.2.9 4000 typ host");
    perc_sig_msg_clear(&m);
    w_quiet(w); /* alone: no roster */
    assert_int_equal(perc_focus_participant_at(w->f, ci, 0, &pi), PERC_OK);
    assert_int_equal(pi.state, PERC_FOCUS_ANSWERED);

    /* Later trickle from the MD goes straight through; end of candidates too. */
    w_send(w, MDD, "{\"type\":\"endpoint-candidate\",\"conference\":\"standup\",\"participant\":"
                   "\"p1\",\"mid\":\"0\",\"candidate\":\"\"}");
    expect_msg(w, E1, PERC_SIG_CANDIDATE, &m);
    assert_string_equal(m.candidate, "");
    perc_sig_msg_clear(&m);

    kmf_keyed(w, KMF, "standup", "p1");
    w_quiet(w);
    assert_int_equal(perc_focus_participant_at(w->f, ci, 0, &pi), PERC_OK);
    assert_int_equal(pi.state, PERC_FOCUS_JOINED);
    /* keyed twice is harmless. */
    kmf_keyed(w, KMF, "standup", "p1");
    w_quiet(w);

    /* Re-key epochs are recorded, never forwarded. */
    w_send(w, KMF, "{\"type\":\"epoch\",\"conference\":\"standup\",\"spi\":7,\"members\":1}");
    w_quiet(w);
    perc_focus_conference_info info;
    assert_int_equal(perc_focus_conference_at(w->f, ci, &info), PERC_OK);
    assert_string_equal(info.id, "standup");
    assert_false(info.configured);
    assert_true(info.open);
    assert_int_equal(info.participants, 1);
    assert_int_equal(info.joined, 1);
    assert_int_equal(info.mdd_count, 1);
    assert_string_equal(info.mdds[0], "mdd-1");
    assert_string_equal(info.kmf, "kmf-1");
    assert_true(info.has_epoch);
    assert_int_equal(info.spi, 7);
    assert_int_equal(info.members, 1);
    assert_int_equal(info.epochs, 1);
    w_send(w, KMF, "{\"type\":\"epoch\",\"conference\":\"nope\",\"spi\":8,\"members\":0}");
    w_quiet(w);

    assert_int_equal(perc_focus_daemon_count(w->f), 2);
    perc_focus_daemon_info di;
    assert_int_equal(perc_focus_daemon_at(w->f, 0, &di), PERC_OK);
    assert_int_equal(di.role, PERC_SIG_ROLE_KMF);
    assert_string_equal(di.name, "kmf-1");
    assert_string_equal(di.fingerprint, SIG_KMF_FP);
    assert_true(di.serving);
    assert_int_equal(perc_focus_daemon_at(w->f, 1, &di), PERC_OK);
    assert_int_equal(di.role, PERC_SIG_ROLE_MDD);
    assert_int_equal(di.capacity, 100);
    assert_int_equal(di.load, 1);
    assert_int_equal(perc_focus_daemon_at(w->f, 2, &di), PERC_ERR_NOT_FOUND);

    perc_focus_stats st;
    perc_focus_get_stats(w->f, &st);
    assert_int_equal(st.connections, 3);
    assert_int_equal(st.endpoints, 1);
    assert_int_equal(st.mdds, 1);
    assert_int_equal(st.kmfs, 1);
    assert_int_equal(st.conferences, 1);
    assert_int_equal(st.participants, 1);
    assert_int_equal(st.joined, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.joins, 1);
    assert_int_equal(st.answers, 1);
    assert_int_equal(st.keyed, 1);
    assert_int_equal(st.epochs, 1);
    assert_int_equal(st.errors_sent, 0);
    assert_int_equal(st.msgs_in[PERC_SIG_HELLO], 3);
    assert_int_equal(st.msgs_in[PERC_SIG_KEYED], 2);
    assert_int_equal(st.msgs_out[PERC_SIG_ANSWER], 1);
    assert_int_equal(st.msgs_out[PERC_SIG_WELCOME], 3);
    assert_int_equal(perc_focus_next_timeout(w->f), UINT64_MAX);
    free(offer);
    w_free(w);
}

/* A second endpoint joins while the first is in: only roster events reach
 * the first; nobody else renegotiates. Either reply order works. */
static void test_second_join(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16], p2[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1111, 2222, p1);
    w_quiet(w);

    char *offer = sig_offer("B0bb", SIG_TLS_ID_2, 3333, 4444);
    ep_hello(w, E2, "c");
    ep_join(w, E2, "c", "bob", offer);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", offer, mreq);
    w_quiet(w); /* alice gets nothing */
    mdd_answer(w, MDD, mreq, "mdd2", true);
    w_quiet(w);
    kmf_admit(w, KMF, kreq);
    perc_sig_msg m;
    expect_msg(w, E2, PERC_SIG_ANSWER, &m);
    assert_string_equal(m.participant, "p2");
    check_answer_sdp(m.sdp, "mdd2", true);
    perc_sig_msg_clear(&m);
    /* Bob learns who is there, with their SSRCs. */
    ep_expect_joined(w, E2, p1, "alice", 1111, 2222);
    w_quiet(w);
    /* Alice learns about bob once bob is keyed. */
    kmf_keyed(w, KMF, "c", "p2");
    ep_expect_joined(w, E1, "p2", "bob", 3333, 4444);
    w_quiet(w);

    /* A third: both existing members learn about it, it learns about both. */
    join_fully(w, E3, KMF, MDD, "mdd-1", "c", "carol", 5555, 6666, p2);
    ep_expect_joined(w, E3, p1, "alice", 1111, 2222);
    ep_expect_joined(w, E3, "p2", "bob", 3333, 4444);
    ep_expect_joined(w, E1, p2, "carol", 5555, 6666);
    ep_expect_joined(w, E2, p2, "carol", 5555, 6666);
    w_quiet(w);
    perc_focus_stats st;
    perc_focus_get_stats(w->f, &st);
    assert_int_equal(st.msgs_out[PERC_SIG_ANSWER], 3);
    assert_int_equal(st.msgs_out[PERC_SIG_ENDPOINT_OFFER], 3);
    assert_int_equal(st.msgs_out[PERC_SIG_JOINED], 6);
    free(offer);
    w_free(w);
}

static void test_refusal(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p1);
    char *offer = sig_offer("M4ll", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "c");
    ep_join(w, E2, "c", "mallory", offer);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "mallory", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", offer, mreq);
    w_send(w, KMF, "{\"type\":\"refuse\",\"re\":\"%s\",\"reason\":\"not on the list\"}", kreq);
    expect_error(w, E2, PERC_SIG_E_REFUSED, "j", "key distributor refused: not on the list");
    expect_endpoint_leave(w, MDD, "p2", "refused");
    w_quiet(w); /* the KMF is not told again, alice hears nothing */
    /* The MD's late answer is ignored, without an error. */
    mdd_answer(w, MDD, mreq, "mdd1", false);
    w_quiet(w);
    /* The load went back. */
    perc_focus_daemon_info di;
    assert_int_equal(perc_focus_daemon_at(w->f, 1, &di), PERC_OK);
    assert_int_equal(di.load, 1);
    /* The refused endpoint may try again on the same connection. */
    ep_join(w, E2, "c", "mallory", offer);
    kmf_expect_participant(w, KMF, "c", "p3", "mallory", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p3", offer, mreq);
    /* This time the KMF answers with an error: unavailable. */
    w_send(w, KMF, "{\"type\":\"error\",\"re\":\"%s\",\"code\":\"internal\",\"reason\":\"disk "
                   "full\"}",
           kreq);
    expect_error(w, E2, PERC_SIG_E_UNAVAILABLE, "j", "disk full");
    expect_endpoint_leave(w, MDD, "p3", "failed");
    w_quiet(w);
    /* And once more: the MD fails; the KMF is told. */
    ep_join(w, E2, "c", "mallory", offer);
    kmf_expect_participant(w, KMF, "c", "p4", "mallory", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p4", offer, mreq);
    w_send(w, MDD, "{\"type\":\"error\",\"re\":\"%s\",\"code\":\"limit\",\"reason\":\"full\"}",
           mreq);
    expect_error(w, E2, PERC_SIG_E_UNAVAILABLE, "j", "media distributor mdd-1 failed");
    expect_part_left(w, KMF, "p4", "failed");
    w_quiet(w);
    kmf_admit(w, KMF, kreq); /* late: ignored */
    w_quiet(w);
    perc_focus_stats st;
    perc_focus_get_stats(w->f, &st);
    assert_int_equal(st.refusals, 1);
    assert_int_equal(st.failures, 2);
    assert_int_equal(st.participants, 1);
    free(offer);
    w_free(w);
}

static void test_leave_and_drop(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16], p2[16], p3[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p1);
    join_fully(w, E2, KMF, MDD, "mdd-1", "c", "bob", 3, 4, p2);
    ep_expect_joined(w, E2, p1, "alice", 1, 2);
    ep_expect_joined(w, E1, p2, "bob", 3, 4);
    w_quiet(w);

    w_send(w, E2, "{\"type\":\"leave\",\"id\":\"bye\"}");
    expect_part_left(w, KMF, p2, "leave");
    expect_endpoint_leave(w, MDD, p2, "leave");
    ep_expect_left(w, E1, p2, "leave");
    perc_sig_msg m;
    expect_msg(w, E2, PERC_SIG_OK, &m);
    assert_string_equal(m.re, "bye");
    perc_sig_msg_clear(&m);
    w_quiet(w);
    /* After leaving, leave again is a state error; joining again works. */
    w_send(w, E2, "{\"type\":\"leave\",\"id\":\"bye2\"}");
    expect_error(w, E2, PERC_SIG_E_BAD_STATE, "bye2", NULL);

    /* A dropped connection is a leave with reason "disconnected". */
    join_fully(w, E3, KMF, MDD, "mdd-1", "c", "carol", 5, 6, p3);
    ep_expect_joined(w, E3, p1, "alice", 1, 2);
    ep_expect_joined(w, E1, p3, "carol", 5, 6);
    w_quiet(w);
    w_closed(w, E3);
    expect_part_left(w, KMF, p3, "disconnected");
    expect_endpoint_leave(w, MDD, p3, "disconnected");
    ep_expect_left(w, E1, p3, "disconnected");
    w_quiet(w);
    assert_int_equal(perc_focus_closed(w->f, E3, w->now), PERC_ERR_NOT_FOUND);

    /* Dropped while waiting: the KMF and the MD are told, nobody else. */
    char *offer = sig_offer("D4ve", SIG_TLS_ID_2, 7, 8);
    ep_hello(w, E4, "c");
    ep_join(w, E4, "c", "dave", offer);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p4", "dave", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p4", offer, mreq);
    w_closed(w, E4);
    expect_part_left(w, KMF, "p4", "disconnected");
    expect_endpoint_leave(w, MDD, "p4", "disconnected");
    w_quiet(w);
    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    w_quiet(w);

    /* Leave while the join waits: the join is answered, then the leave. */
    ep_hello(w, E4, "c");
    ep_join(w, E4, "c", "dave", offer);
    kmf_expect_participant(w, KMF, "c", "p5", "dave", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p5", offer, mreq);
    w_send(w, E4, "{\"type\":\"leave\",\"id\":\"x\"}");
    expect_error(w, E4, PERC_SIG_E_UNAVAILABLE, "j", "cancelled by leave");
    expect_part_left(w, KMF, "p5", "leave");
    expect_endpoint_leave(w, MDD, "p5", "leave");
    expect_msg(w, E4, PERC_SIG_OK, &m);
    perc_sig_msg_clear(&m);
    w_quiet(w);

    /* The last one leaves: an auto-created conference ends. */
    w_closed(w, E1);
    expect_part_left(w, KMF, p1, "disconnected");
    expect_endpoint_leave(w, MDD, p1, "disconnected");
    w_quiet(w);
    assert_int_equal(perc_focus_conference_count(w->f), 0);
    /* The MD's news about someone gone is ignored quietly. */
    w_send(w, MDD, "{\"type\":\"endpoint-gone\",\"conference\":\"c\",\"participant\":\"%s\","
                   "\"reason\":\"x\"}",
           p1);
    w_quiet(w);
    free(offer);
    w_free(w);
}

/* Bad input of every kind: a clear error to the sender, nothing to
 * anyone else, nothing changes. */
static void test_bad_inputs(void **state)
{
    (void)state;
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    world *w = w_new_cfg(&cfg);
    static const char *const TOKENS[] = {"join-token-1", "join-token-2"};
    perc_focus_conference_config cc = {.id = "c", .open = true};
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_OK);
    cc = (perc_focus_conference_config){.id = "closed", .tokens = TOKENS, .token_count = 2};
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_OK);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p1);
    w_quiet(w);

    w_open(w, X);
    /* Before hello. */
    w_recv(w, X, "{\"type\":\"leave\",\"id\":\"7\"}");
    expect_error(w, X, PERC_SIG_E_NOT_AUTHENTICATED, "7", NULL);
    w_recv(w, X, "not json");
    expect_error(w, X, PERC_SIG_E_BAD_JSON, "", "not JSON");
    w_recv(w, X, "{\"type\":\"wat\",\"id\":\"8\"}");
    expect_error(w, X, PERC_SIG_E_UNKNOWN_TYPE, "8", "type: ");
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"9\",\"role\":\"endpoint\"}");
    expect_error(w, X, PERC_SIG_E_BAD_MESSAGE, "9", "conference: missing");
    perc_sig_msg m;
    /* The error names the member. */
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"9\",\"role\":\"endpoint\",\"conference\":7}");
    expect_msg(w, X, PERC_SIG_ERROR, &m);
    assert_string_equal(m.field, "conference");
    perc_sig_msg_clear(&m);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"10\",\"role\":\"endpoint\",\"conference\":"
                 "\"unknown\"}");
    expect_error(w, X, PERC_SIG_E_UNKNOWN_CONFERENCE, "10", NULL);
    w_quiet(w);
    /* Hello, then the wrong things. */
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"11\",\"role\":\"endpoint\",\"conference\":\"c\"}");
    expect_msg(w, X, PERC_SIG_WELCOME, &m);
    perc_sig_msg_clear(&m);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"12\",\"role\":\"endpoint\",\"conference\":\"c\"}");
    expect_error(w, X, PERC_SIG_E_BAD_STATE, "12", NULL);
    w_send(w, X, "{\"type\":\"admit\",\"re\":\"s1\",\"fingerprint\":\"" SIG_KMF_FP "\","
                 "\"tls-id\":\"" KMF_TLS_ID "\"}");
    expect_error(w, X, PERC_SIG_E_FORBIDDEN, "", "endpoint may not send admit");
    w_recv(w, X, "{\"type\":\"ok\",\"re\":\"1\"}");
    expect_error(w, X, PERC_SIG_E_FORBIDDEN, "", NULL);
    w_recv(w, X, "{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":\"\"}");
    expect_error(w, X, PERC_SIG_E_BAD_STATE, "", "no join");
    w_recv(w, X, "{\"type\":\"leave\",\"id\":\"13\"}");
    expect_error(w, X, PERC_SIG_E_BAD_STATE, "13", NULL);
    /* An endpoint's own error report is logged, not answered. */
    w_recv(w, X, "{\"type\":\"error\",\"code\":\"internal\",\"reason\":\"oops\"}");
    w_quiet(w);

    char *good = sig_offer("X0x0", SIG_TLS_ID_2, 50, 60);
    char *bad;
    /* Join: another conference than the hello's. */
    ep_join(w, X, "closed", "xavier", good);
    expect_error(w, X, PERC_SIG_E_FORBIDDEN, "j", NULL);
    /* SDP without a fingerprint, without a tls-id. */
    bad = sig_offer("X0x0", SIG_TLS_ID_2, 50, 60);
    char *fp = strstr(bad, "a=fingerprint:");
    memmove(fp, strstr(fp, "\r\n") + 2, strlen(strstr(fp, "\r\n") + 2) + 1);
    ep_join(w, X, "c", "xavier", bad);
    expect_msg(w, X, PERC_SIG_ERROR, &m);
    assert_int_equal(m.code, PERC_SIG_E_BAD_SDP);
    assert_string_equal(m.field, "sdp");
    assert_non_null(strstr(m.reason, "sdp line 7: "));
    assert_non_null(strstr(m.reason, "fingerprint"));
    perc_sig_msg_clear(&m);
    free(bad);
    bad = sig_offer("X0x0", SIG_TLS_ID_2, 50, 60);
    char *tls;
    while ((tls = strstr(bad, "a=tls-id:")) != NULL)
        memmove(tls, strstr(tls, "\r\n") + 2, strlen(strstr(tls, "\r\n") + 2) + 1);
    ep_join(w, X, "c", "xavier", bad);
    expect_error(w, X, PERC_SIG_E_BAD_SDP, "j", "tls-id");
    free(bad);
    /* A section with no usable payload format. */
    bad = sig_offer("X0x0", SIG_TLS_ID_2, 50, 60);
    char *vp8 = strstr(bad, "a=rtpmap:96 VP8/90000\r\n");
    memmove(vp8, vp8 + strlen("a=rtpmap:96 VP8/90000\r\n"),
            strlen(vp8 + strlen("a=rtpmap:96 VP8/90000\r\n")) + 1);
    char *fb = strstr(bad, "a=rtcp-fb:96 nack pli\r\n");
    *fb = '\0';
    ep_join(w, X, "c", "xavier", bad);
    expect_error(w, X, PERC_SIG_E_BAD_SDP, "j", "no payload format");
    free(bad);
    /* Duplicate identity; an SSRC already in use. */
    ep_join(w, X, "c", "alice", good);
    expect_error(w, X, PERC_SIG_E_DUPLICATE, "j", "identity");
    bad = sig_offer("X0x0", SIG_TLS_ID_2, 50, 2);
    ep_join(w, X, "c", "xavier", bad);
    expect_error(w, X, PERC_SIG_E_DUPLICATE, "j", "SSRC 2 is already used");
    free(bad);
    w_quiet(w); /* nobody else heard anything */

    /* Now a good join, then the same connection joins twice; an unknown mid. */
    ep_join(w, X, "c", "xavier", good);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "xavier", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", good, mreq);
    ep_join(w, X, "c", "xavier2", good);
    expect_error(w, X, PERC_SIG_E_BAD_STATE, "j", "already joined");
    w_recv(w, X, "{\"type\":\"candidate\",\"mid\":\"7\",\"candidate\":\"\"}");
    expect_error(w, X, PERC_SIG_E_BAD_MESSAGE, "", "mid");
    w_quiet(w);

    /* Daemons: unknown requests, unknown participants, wrong daemon. */
    w_send(w, KMF, "{\"type\":\"admit\",\"re\":\"s999\",\"fingerprint\":\"" SIG_KMF_FP "\","
                   "\"tls-id\":\"" KMF_TLS_ID "\"}");
    expect_error(w, KMF, PERC_SIG_E_UNKNOWN_REQUEST, "", NULL);
    w_send(w, KMF, "{\"type\":\"refuse\",\"re\":\"zzz\",\"reason\":\"x\"}");
    expect_error(w, KMF, PERC_SIG_E_UNKNOWN_REQUEST, "", NULL);
    /* The MD's request id sent by the KMF. */
    kmf_admit(w, KMF, mreq);
    expect_error(w, KMF, PERC_SIG_E_UNKNOWN_REQUEST, "", NULL);
    kmf_keyed(w, KMF, "c", "p77");
    expect_error(w, KMF, PERC_SIG_E_UNKNOWN_PARTICIPANT, "", NULL);
    kmf_keyed(w, KMF, "other", "p1");
    expect_error(w, KMF, PERC_SIG_E_UNKNOWN_PARTICIPANT, "", NULL);
    /* keyed before the answer. */
    kmf_keyed(w, KMF, "c", "p2");
    expect_error(w, KMF, PERC_SIG_E_BAD_STATE, "", "not been answered");
    w_send(w, MDD, "{\"type\":\"endpoint-gone\",\"conference\":\"c\",\"participant\":\"bob\","
                   "\"reason\":\"x\"}");
    expect_error(w, MDD, PERC_SIG_E_UNKNOWN_PARTICIPANT, "", NULL);
    w_send(w, MDD, "{\"type\":\"endpoint-candidate\",\"conference\":\"c\",\"participant\":\"p2\","
                   "\"mid\":\"9\",\"candidate\":\"\"}");
    expect_error(w, MDD, PERC_SIG_E_BAD_MESSAGE, "", "mid");
    w_send(w, MDD, "{\"type\":\"join\",\"id\":\"q\",\"conference\":\"c\",\"identity\":\"m\","
                   "\"sdp\":%s}",
           "\"v=0\"");
    expect_error(w, MDD, PERC_SIG_E_BAD_SDP, "q", NULL);
    w_send(w, MDD, "{\"type\":\"leave\",\"id\":\"q\"}");
    expect_error(w, MDD, PERC_SIG_E_FORBIDDEN, "q", "mdd may not send leave");
    /* A daemon's error about nothing: logged only (never an error to an error). */
    w_send(w, MDD, "{\"type\":\"error\",\"code\":\"internal\",\"reason\":\"x\"}");
    w_send(w, MDD, "{\"type\":\"error\",\"re\":\"s12345\",\"code\":\"internal\",\"reason\":\"x\"}");
    w_quiet(w);
    /* The join in progress is untouched by all that. */
    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    char pid[16];
    ep_expect_answer(w, X, "mdd1", "mdd-1", pid);
    assert_string_equal(pid, "p2");
    ep_expect_joined(w, X, p1, "alice", 1, 2);

    /* Oversized: an error, then the connection is closed. */
    char *huge = malloc(PERC_SIG_MAX_MESSAGE + 2);
    memset(huge, ' ', PERC_SIG_MAX_MESSAGE + 1);
    huge[PERC_SIG_MAX_MESSAGE + 1] = '\0';
    w_recv(w, X, huge);
    expect_error(w, X, PERC_SIG_E_TOO_LARGE, "", NULL);
    expect_close(w, X);
    expect_part_left(w, KMF, "p2", "disconnected");
    expect_endpoint_leave(w, MDD, "p2", "disconnected");
    w_quiet(w);
    assert_int_equal(perc_focus_recv(w->f, X, "{}", 2, w->now), PERC_ERR_NOT_FOUND);
    free(huge);

    /* Authentication: a closed conference without, and with a wrong, token. */
    w_open(w, X);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":"
                 "\"closed\"}");
    expect_error(w, X, PERC_SIG_E_AUTH_FAILED, "1", "needs a join token");
    expect_close(w, X);
    w_open(w, X);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":"
                 "\"closed\",\"token\":\"join-token-3\"}");
    expect_error(w, X, PERC_SIG_E_AUTH_FAILED, "1", "wrong join token");
    expect_close(w, X);
    w_open(w, X);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"endpoint\",\"conference\":"
                 "\"closed\",\"token\":\"join-token-2\"}");
    expect_msg(w, X, PERC_SIG_WELCOME, &m);
    perc_sig_msg_clear(&m);
    w_closed(w, X);
    /* Daemons: wrong token, duplicate name. */
    w_open(w, X);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"kmf\",\"name\":\"k\",\"token\":"
                 "\"daemon-secreT\",\"fingerprint\":\"" SIG_KMF_FP "\"}");
    expect_error(w, X, PERC_SIG_E_AUTH_FAILED, "1", NULL);
    expect_close(w, X);
    w_open(w, X);
    w_recv(w, X, "{\"type\":\"hello\",\"id\":\"1\",\"role\":\"mdd\",\"name\":\"mdd-1\",\"token\":"
                 "\"" DAEMON_TOKEN "\",\"capacity\":3}");
    expect_error(w, X, PERC_SIG_E_DUPLICATE, "1", NULL);
    w_closed(w, X);
    w_quiet(w);

    perc_focus_stats st;
    perc_focus_get_stats(w->f, &st);
    assert_true(st.errors_sent >= 30);
    assert_true(st.msgs_in_invalid >= 5);
    assert_int_equal(st.participants, 1);
    assert_int_equal(st.joined, 1);
    assert_int_equal(perc_focus_open(w->f, E1, w->now), PERC_ERR_STATE);
    free(good);
    w_free(w);
}

static void test_limits_and_rate(void **state)
{
    (void)state;
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auto_create = true;
    cfg.max_participants = 3;
    cfg.max_pending = 1;
    cfg.max_conferences = 1;
    cfg.max_connections = 8;
    cfg.max_msgs_per_sec = 5;
    world *w = w_new_cfg(&cfg);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p[16], p3[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p);
    /* One pending join at a time. */
    char *o2 = sig_offer("B0bb", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "c");
    ep_join(w, E2, "c", "bob", o2);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", o2, mreq);
    char *o3 = sig_offer("C4rl", SIG_TLS_ID_2, 5, 6);
    ep_hello(w, E3, "c");
    ep_join(w, E3, "c", "carol", o3);
    expect_error(w, E3, PERC_SIG_E_LIMIT, "j", "too many joins in progress");
    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    char pid[16];
    ep_expect_answer(w, E2, "mdd1", "mdd-1", pid);
    ep_expect_joined(w, E2, p, "alice", 1, 2);
    /* Three participants per conference: carol fits, dave does not. */
    w_closed(w, E3);
    join_fully(w, E3, KMF, MDD, "mdd-1", "c", "carol", 5, 6, p3);
    ep_expect_joined(w, E3, p, "alice", 1, 2);
    ep_expect_joined(w, E1, p3, "carol", 5, 6);
    ep_expect_joined(w, E2, p3, "carol", 5, 6); /* bob, answered, not keyed */
    ep_hello(w, E4, "c");
    ep_join(w, E4, "c", "dave", o3);
    expect_error(w, E4, PERC_SIG_E_LIMIT, "j", "the conference is full");
    w_closed(w, E4);
    /* One conference. */
    ep_hello(w, E4, "d");
    ep_join(w, E4, "d", "dave", o3);
    expect_error(w, E4, PERC_SIG_E_LIMIT, "j", "too many conferences");
    w_quiet(w);
    /* Rate: the sixth message within a second is refused. */
    w_advance(w, SEC);
    for (int i = 0; i < 5; i++) {
        w_recv(w, E4, "{\"type\":\"leave\",\"id\":\"l\"}");
        expect_error(w, E4, PERC_SIG_E_BAD_STATE, "l", NULL);
    }
    w_recv(w, E4, "{\"type\":\"leave\",\"id\":\"l\"}");
    expect_error(w, E4, PERC_SIG_E_RATE_LIMITED, "", NULL);
    w->now += SEC;
    w_recv(w, E4, "{\"type\":\"leave\",\"id\":\"l\"}");
    expect_error(w, E4, PERC_SIG_E_BAD_STATE, "l", NULL);
    /* Daemons are not rate limited. */
    for (int i = 0; i < 10; i++)
        w_send(w, KMF, "{\"type\":\"epoch\",\"conference\":\"c\",\"spi\":%d,\"members\":2}", i);
    w_quiet(w);
    /* Connections. */
    assert_int_equal(perc_focus_open(w->f, 20, w->now), PERC_OK);
    assert_int_equal(perc_focus_open(w->f, 21, w->now), PERC_OK);
    assert_int_equal(perc_focus_open(w->f, 22, w->now), PERC_ERR_LIMIT);
    w_closed(w, 20);
    w_closed(w, 21);
    free(o2);
    free(o3);
    w_free(w);
}

static void test_timeouts(void **state)
{
    (void)state;
    world *w = w_new(true);
    assert_int_equal(perc_focus_next_timeout(w->f), UINT64_MAX);
    uint64_t t0 = w->now;
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    /* A connection that never says hello. */
    w_open(w, X);
    assert_int_equal(perc_focus_next_timeout(w->f), t0 + 10 * SEC);
    w_advance(w, 10 * SEC - 1);
    w_quiet(w);
    w_advance(w, 1);
    expect_error(w, X, PERC_SIG_E_TIMEOUT, "", "no hello");
    expect_close(w, X);
    w_quiet(w);

    /* A join the KMF never answers. */
    char *offer = sig_offer("F7gI", SIG_TLS_ID_1, 1, 2);
    ep_hello(w, E1, "c");
    ep_join(w, E1, "c", "alice", offer);
    uint64_t joined_at = w->now;
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p1", "alice", SIG_TLS_ID_1, kreq);
    mdd_expect_offer(w, MDD, "c", "p1", offer, mreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    assert_int_equal(perc_focus_next_timeout(w->f), joined_at + 30 * SEC);
    w_advance(w, 30 * SEC);
    expect_error(w, E1, PERC_SIG_E_TIMEOUT, "j", "no answer from the key distributor in time");
    expect_part_left(w, KMF, "p1", "timeout");
    expect_endpoint_leave(w, MDD, "p1", "timeout");
    w_quiet(w);
    kmf_admit(w, KMF, kreq); /* too late: ignored */
    w_quiet(w);

    /* Answered, but ICE/DTLS never completes: no keyed within 30 s. */
    char p2[16];
    ep_join(w, E1, "c", "alice", offer);
    kmf_expect_participant(w, KMF, "c", "p2", "alice", SIG_TLS_ID_1, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", offer, mreq);
    kmf_admit(w, KMF, kreq);
    w_advance(w, 10 * SEC);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    ep_expect_answer(w, E1, "mdd1", "mdd-1", p2);
    assert_int_equal(perc_focus_next_timeout(w->f), w->now + 30 * SEC);
    w_advance(w, 30 * SEC);
    perc_sig_msg m;
    expect_msg(w, E1, PERC_SIG_ENDED, &m);
    assert_string_equal(m.conference, "c");
    assert_non_null(strstr(m.reason, "timeout"));
    perc_sig_msg_clear(&m);
    expect_part_left(w, KMF, p2, "timeout");
    expect_endpoint_leave(w, MDD, p2, "timeout");
    w_quiet(w);
    assert_int_equal(perc_focus_next_timeout(w->f), UINT64_MAX);
    perc_focus_stats st;
    perc_focus_get_stats(w->f, &st);
    assert_int_equal(st.timeouts, 3);
    free(offer);
    w_free(w);
}

static void test_mdd_gone(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16], p2[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p1);
    /* p2 answered, not keyed; p3 waiting for the MD. */
    char *o2 = sig_offer("B0bb", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "c");
    ep_join(w, E2, "c", "bob", o2);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", o2, mreq);
    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    ep_expect_answer(w, E2, "mdd1", "mdd-1", p2);
    ep_expect_joined(w, E2, p1, "alice", 1, 2);
    char *o3 = sig_offer("C4rl", SIG_TLS_ID_2, 5, 6);
    ep_hello(w, E3, "c");
    ep_join(w, E3, "c", "carol", o3);
    kmf_expect_participant(w, KMF, "c", "p3", "carol", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p3", o3, mreq);
    kmf_admit(w, KMF, kreq);
    w_quiet(w);

    /* The MD reports p2's media gone (liveness). */
    w_send(w, MDD, "{\"type\":\"endpoint-gone\",\"conference\":\"c\",\"participant\":\"%s\","
                   "\"reason\":\"no media for 30 s\"}",
           p2);
    perc_sig_msg m;
    expect_msg(w, E2, PERC_SIG_ENDED, &m);
    assert_string_equal(m.reason, "gone: no media for 30 s");
    perc_sig_msg_clear(&m);
    expect_part_left(w, KMF, p2, "gone: no media for 30 s");
    w_quiet(w); /* p2 was not keyed: no left event; the MD is not told back */

    /* The MD disconnects. */
    w_closed(w, MDD);
    expect_msg(w, E1, PERC_SIG_ENDED, &m);
    assert_string_equal(m.reason, "mdd-gone");
    perc_sig_msg_clear(&m);
    expect_part_left(w, KMF, p1, "mdd-gone");
    expect_error(w, E3, PERC_SIG_E_UNAVAILABLE, "j", "media distributor disconnected");
    expect_part_left(w, KMF, "p3", "mdd-gone");
    w_quiet(w);
    assert_int_equal(perc_focus_conference_count(w->f), 0);

    /* No MD: a join fails at once and nobody is asked. */
    ep_join(w, E1, "c", "alice", o2);
    expect_error(w, E1, PERC_SIG_E_UNAVAILABLE, "j", "no media distributor");
    w_quiet(w);
    /* A new MD: the conference is placed on it. */
    mdd_hello(w, MDD2, "mdd-2", 100, false);
    char *o1 = sig_offer("F7gI", SIG_TLS_ID_1, 1, 2);
    ep_join(w, E1, "c", "alice", o1);
    kmf_expect_participant(w, KMF, "c", "p4", "alice", SIG_TLS_ID_1, kreq);
    mdd_expect_offer(w, MDD2, "c", "p4", o1, mreq);
    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD2, mreq, "mdd1", false);
    char pid[16];
    ep_expect_answer(w, E1, "mdd1", "mdd-2", pid);
    w_quiet(w);
    free(o1);
    free(o2);
    free(o3);
    w_free(w);
}

static void test_kmf_gone(void **state)
{
    (void)state;
    world *w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-1", 100, false);
    char p1[16];
    join_fully(w, E1, KMF, MDD, "mdd-1", "c", "alice", 1, 2, p1);
    char *o2 = sig_offer("B0bb", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "c");
    ep_join(w, E2, "c", "bob", o2);
    char kreq[16], mreq[16];
    kmf_expect_participant(w, KMF, "c", "p2", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p2", o2, mreq);
    w_quiet(w);
    w_closed(w, KMF);
    expect_error(w, E2, PERC_SIG_E_UNAVAILABLE, "j", "key distributor disconnected");
    expect_endpoint_leave(w, MDD, "p2", "kmf-gone");
    w_quiet(w); /* alice, joined, is not touched */
    mdd_answer(w, MDD, mreq, "mdd1", false);
    w_quiet(w);
    /* New joins fail cleanly until a KMF registers. */
    ep_join(w, E2, "c", "bob", o2);
    expect_error(w, E2, PERC_SIG_E_UNAVAILABLE, "j", "no key distributor");
    w_quiet(w);
    size_t ci;
    assert_int_equal(perc_focus_conference_find(w->f, "c", &ci), PERC_OK);
    perc_focus_conference_info info;
    assert_int_equal(perc_focus_conference_at(w->f, ci, &info), PERC_OK);
    assert_null(info.kmf);
    assert_int_equal(info.joined, 1);
    /* A new KMF holds neither alice's association nor the conference's
     * EKTKey: alice is ended so she joins again under it (otherwise the
     * members it keys and she could not decrypt each other). */
    kmf_hello(w, KMF2, "kmf-2");
    perc_sig_msg m;
    expect_msg(w, E1, PERC_SIG_ENDED, &m);
    assert_non_null(strstr(m.reason, "kmf-gone"));
    perc_sig_msg_clear(&m);
    expect_endpoint_leave(w, MDD, p1, "kmf-gone");
    w_quiet(w);
    ep_join(w, E2, "c", "bob", o2);
    kmf_expect_participant(w, KMF2, "c", "p3", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD, "c", "p3", o2, mreq);
    kmf_admit(w, KMF2, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    char pid[16];
    ep_expect_answer(w, E2, "mdd1", "mdd-1", pid);
    kmf_keyed(w, KMF2, "c", "p3");
    w_quiet(w); /* no roster event about alice: she is gone */
    /* alice joins again on the same connection, keyed by the new KMF. */
    char *o1 = sig_offer("F7gI", SIG_TLS_ID_1, 1, 2);
    ep_join(w, E1, "c", "alice", o1);
    kmf_expect_participant(w, KMF2, "c", "p4", "alice", SIG_TLS_ID_1, kreq);
    mdd_expect_offer(w, MDD, "c", "p4", o1, mreq);
    kmf_admit(w, KMF2, kreq);
    mdd_answer(w, MDD, mreq, "mdd1", false);
    ep_expect_answer(w, E1, "mdd1", "mdd-1", pid);
    ep_expect_joined(w, E1, "p3", "bob", 3, 4);
    kmf_keyed(w, KMF2, "c", "p4");
    ep_expect_joined(w, E2, "p4", "alice", 1, 2);
    w_quiet(w);
    free(o1);
    free(o2);
    w_free(w);
}

/* Placement: least loaded, sticky per conference; a conference KMF by name. */
static void test_two_mdds(void **state)
{
    (void)state;
    world *w = w_new(true);
    perc_focus_conference_config cc = {.id = "special", .open = true, .kmf = "kmf-2"};
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_OK);
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_ERR_STATE);
    kmf_hello(w, KMF, "kmf-1");
    kmf_hello(w, KMF2, "kmf-2");
    mdd_hello(w, MDD, "mdd-a", 10, false);
    mdd_hello(w, MDD2, "mdd-b", 10, false);
    char p[16];
    join_fully(w, E1, KMF, MDD, "mdd-a", "one", "alice", 1, 2, p);       /* tie: the older */
    join_fully(w, E2, KMF, MDD2, "mdd-b", "two", "bob", 3, 4, p);        /* least loaded */
    join_fully(w, E3, KMF, MDD, "mdd-a", "one", "carol", 5, 6, p);       /* sticky */
    ep_expect_joined(w, E3, "p1", "alice", 1, 2);
    ep_expect_joined(w, E1, "p3", "carol", 5, 6);
    join_fully(w, E4, KMF2, MDD2, "mdd-b", "special", "dave", 7, 8, p);  /* its own KMF */
    w_quiet(w);
    size_t ci;
    perc_focus_conference_info info;
    assert_int_equal(perc_focus_conference_find(w->f, "special", &ci), PERC_OK);
    assert_int_equal(perc_focus_conference_at(w->f, ci, &info), PERC_OK);
    assert_true(info.configured);
    assert_string_equal(info.kmf, "kmf-2");
    assert_string_equal(info.mdds[0], "mdd-b");
    perc_focus_daemon_info di;
    for (size_t i = 0; i < perc_focus_daemon_count(w->f); i++) {
        assert_int_equal(perc_focus_daemon_at(w->f, i, &di), PERC_OK);
        if (di.role == PERC_SIG_ROLE_MDD)
            assert_int_equal(di.load, 2);
        if (di.role == PERC_SIG_ROLE_KMF)
            assert_int_equal(di.serving, strcmp(di.name, "kmf-1") == 0);
    }
    /* Without cascading, a full MD refuses the conference's next join. */
    w_closed(w, E4);
    expect_part_left(w, KMF2, "p4", "disconnected");
    expect_endpoint_leave(w, MDD2, "p4", "disconnected");
    w_quiet(w);
    /* A configured conference stays when empty. */
    assert_int_equal(perc_focus_conference_find(w->f, "special", &ci), PERC_OK);
    w_free(w);

    w = w_new(true);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-a", 1, true);
    mdd_hello(w, MDD2, "mdd-b", 5, true);
    join_fully(w, E1, KMF, MDD, "mdd-a", "one", "alice", 1, 2, p);
    char *o2 = sig_offer("B0bb", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "one");
    ep_join(w, E2, "one", "bob", o2);
    expect_error(w, E2, PERC_SIG_E_LIMIT, "j", "media distributors are full");
    w_quiet(w);
    free(o2);
    w_free(w);
}

static void expect_link(world *w, uint64_t mdd, const char *peer, perc_sig_dtls_role role,
                        char *req, char *link)
{
    perc_sig_msg m;
    expect_msg(w, mdd, PERC_SIG_LINK, &m);
    assert_string_equal(m.conference, "one");
    assert_string_equal(m.peer, peer);
    assert_int_equal(m.dtls_role, role);
    snprintf(req, 16, "%s", m.id);
    snprintf(link, 16, "%s", m.link);
    perc_sig_msg_clear(&m);
}

static void test_cascade(void **state)
{
    (void)state;
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.auto_create = true;
    cfg.cascade = true;
    world *w = w_new_cfg(&cfg);
    kmf_hello(w, KMF, "kmf-1");
    mdd_hello(w, MDD, "mdd-a", 1, true);
    mdd_hello(w, MDD2, "mdd-b", 5, true);
    char p1[16];
    join_fully(w, E1, KMF, MDD, "mdd-a", "one", "alice", 1, 2, p1);
    w_quiet(w);
    /* mdd-a is full: bob goes to mdd-b, and the two are linked. */
    char *o2 = sig_offer("B0bb", SIG_TLS_ID_2, 3, 4);
    ep_hello(w, E2, "one");
    ep_join(w, E2, "one", "bob", o2);
    char ra[16], rb[16], la[16], lb[16], kreq[16], mreq[16];
    expect_link(w, MDD, "mdd-b", PERC_SIG_DTLS_CLIENT, ra, la);
    expect_link(w, MDD2, "mdd-a", PERC_SIG_DTLS_SERVER, rb, lb);
    assert_string_equal(la, lb);
    kmf_expect_participant(w, KMF, "one", "p2", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD2, "one", "p2", o2, mreq);
    w_quiet(w);
    /* Each side's link-info reaches the other as link-peer. */
    w_send(w, MDD, "{\"type\":\"link-info\",\"re\":\"%s\",\"ice-ufrag\":\"lnkA\",\"ice-pwd\":"
                   "\"" MDD_PWD "\",\"fingerprint\":\"" SIG_KMF_FP "\",\"candidates\":[\""
                   "candidate:1 1 udp 2130706431 192.0.2.1 41000 typ host\"]}",
           ra);
    perc_sig_msg m;
    expect_msg(w, MDD2, PERC_SIG_LINK_PEER, &m);
    assert_string_equal(m.link, la);
    assert_string_equal(m.peer, "mdd-a");
    assert_string_equal(m.ice_ufrag, "lnkA");
    assert_int_equal(m.candidate_count, 1);
    assert_string_equal(m.candidates[0], "candidate:1 1 udp 2130706431 192.0.2.1 41000 typ host");
    perc_sig_msg_clear(&m);
    w_send(w, MDD2, "{\"type\":\"link-info\",\"re\":\"%s\",\"ice-ufrag\":\"lnkB\",\"ice-pwd\":"
                    "\"" MDD_PWD "\",\"fingerprint\":\"" SIG_KMF_FP "\",\"candidates\":[\""
                    "candidate:1 1 udp 2130706431 192.0.2.2 42000 typ host\"]}",
           rb);
    expect_msg(w, MDD, PERC_SIG_LINK_PEER, &m);
    assert_string_equal(m.peer, "mdd-b");
    assert_string_equal(m.ice_ufrag, "lnkB");
    perc_sig_msg_clear(&m);
    w_quiet(w);
    /* A link-info twice: the request is answered already. */
    w_send(w, MDD2, "{\"type\":\"link-info\",\"re\":\"%s\",\"ice-ufrag\":\"lnkB\",\"ice-pwd\":"
                    "\"" MDD_PWD "\",\"fingerprint\":\"" SIG_KMF_FP "\",\"candidates\":[\""
                    "candidate:1 1 udp 2130706431 192.0.2.2 42000 typ host\"]}",
           rb);
    w_quiet(w);

    kmf_admit(w, KMF, kreq);
    mdd_answer(w, MDD2, mreq, "mdd1", false);
    char pid[16];
    ep_expect_answer(w, E2, "mdd1", "mdd-b", pid); /* bob is told his MD */
    ep_expect_joined(w, E2, p1, "alice", 1, 2);
    w_quiet(w);
    size_t ci;
    perc_focus_conference_info info;
    assert_int_equal(perc_focus_conference_find(w->f, "one", &ci), PERC_OK);
    assert_int_equal(perc_focus_conference_at(w->f, ci, &info), PERC_OK);
    assert_int_equal(info.mdd_count, 2);
    assert_int_equal(info.links, 1);
    perc_focus_participant_info pi;
    assert_int_equal(perc_focus_participant_at(w->f, ci, 1, &pi), PERC_OK);
    assert_string_equal(pi.mdd, "mdd-b");

    /* mdd-b goes: bob ends, mdd-a is told to drop the link. */
    w_closed(w, MDD2);
    expect_msg(w, E2, PERC_SIG_ENDED, &m);
    perc_sig_msg_clear(&m);
    expect_part_left(w, KMF, "p2", "mdd-gone");
    expect_msg(w, MDD, PERC_SIG_UNLINK, &m);
    assert_string_equal(m.link, la);
    perc_sig_msg_clear(&m);
    w_quiet(w);
    assert_int_equal(perc_focus_conference_at(w->f, ci, &info), PERC_OK);
    assert_int_equal(info.links, 0);
    assert_int_equal(info.mdd_count, 1);

    /* Again with both up, then everyone leaves: the link is dropped. */
    mdd_hello(w, MDD2, "mdd-b", 5, true);
    ep_join(w, E2, "one", "bob", o2);
    expect_link(w, MDD, "mdd-b", PERC_SIG_DTLS_CLIENT, ra, la);
    expect_link(w, MDD2, "mdd-a", PERC_SIG_DTLS_SERVER, rb, lb);
    kmf_expect_participant(w, KMF, "one", "p3", "bob", SIG_TLS_ID_2, kreq);
    mdd_expect_offer(w, MDD2, "one", "p3", o2, mreq);
    /* mdd-a cannot link: the link is dropped on both sides. */
    w_send(w, MDD, "{\"type\":\"error\",\"re\":\"%s\",\"code\":\"unavailable\",\"reason\":\"no "
                   "cascade today\"}",
           ra);
    expect_msg(w, MDD, PERC_SIG_UNLINK, &m);
    assert_string_equal(m.reason, "link failed");
    perc_sig_msg_clear(&m);
    expect_msg(w, MDD2, PERC_SIG_UNLINK, &m);
    perc_sig_msg_clear(&m);
    w_quiet(w);
    w_closed(w, E2);
    expect_part_left(w, KMF, "p3", "disconnected");
    expect_endpoint_leave(w, MDD2, "p3", "disconnected");
    w_closed(w, E1);
    expect_part_left(w, KMF, p1, "disconnected");
    expect_endpoint_leave(w, MDD, p1, "disconnected");
    w_quiet(w);
    assert_int_equal(perc_focus_conference_count(w->f), 0);
    free(o2);
    w_free(w);
}

static void test_api_misuse(void **state)
{
    (void)state;
    perc_focus *f = NULL;
    perc_focus_config cfg;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(perc_focus_new(&cfg, &f), PERC_ERR_INVALID_ARG);
    cfg.random = on_random;
    assert_int_equal(perc_focus_new(&cfg, &f), PERC_ERR_INVALID_ARG);
    cfg.daemon_token = "has space";
    assert_int_equal(perc_focus_new(&cfg, &f), PERC_ERR_INVALID_ARG);
    cfg.daemon_token = "";
    assert_int_equal(perc_focus_new(&cfg, &f), PERC_ERR_INVALID_ARG);
    world *w = w_new(false);
    perc_focus_conference_config cc = {.id = "bad id"};
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_ERR_INVALID_ARG);
    cc.id = "c";
    /* Neither open nor with a token. */
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_ERR_INVALID_ARG);
    static const char *const T[] = {"bad token"};
    cc.tokens = T;
    cc.token_count = 1;
    assert_int_equal(perc_focus_add_conference(w->f, &cc), PERC_ERR_INVALID_ARG);
    perc_focus_output o;
    assert_int_equal(perc_focus_pop(w->f, &o), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_focus_recv(w->f, 5, "{}", 2, 0), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_focus_closed(w->f, 5, 0), PERC_ERR_NOT_FOUND);
    w_open(w, 5);
    assert_int_equal(perc_focus_recv(w->f, 5, NULL, 2, 0), PERC_ERR_INVALID_ARG);
    perc_focus_conference_info ci;
    assert_int_equal(perc_focus_conference_at(w->f, 0, &ci), PERC_ERR_NOT_FOUND);
    perc_focus_participant_info pi;
    assert_int_equal(perc_focus_participant_at(w->f, 0, 0, &pi), PERC_ERR_NOT_FOUND);
    size_t idx;
    assert_int_equal(perc_focus_conference_find(w->f, "x", &idx), PERC_ERR_NOT_FOUND);
    assert_string_equal(perc_focus_part_state_name(PERC_FOCUS_WAITING_MDD), "waiting-mdd");
    w_closed(w, 5);
    perc_focus_free(NULL);
    w_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_join),      cmocka_unit_test(test_second_join),
        cmocka_unit_test(test_refusal),         cmocka_unit_test(test_leave_and_drop),
        cmocka_unit_test(test_bad_inputs),      cmocka_unit_test(test_limits_and_rate),
        cmocka_unit_test(test_timeouts),        cmocka_unit_test(test_mdd_gone),
        cmocka_unit_test(test_kmf_gone),        cmocka_unit_test(test_two_mdds),
        cmocka_unit_test(test_cascade),         cmocka_unit_test(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
