/* perc-mdd as a process, in a real stack: perc-signaling, perc-kmf and
 * perc-mdd run as processes on 127.0.0.1 (argv[1..3] are the binaries);
 * this test plays two endpoints, alice and bob, on one GLib loop, with the
 * project's own pieces: the signaling client (perc_daemon/sigclient.h),
 * full ICE (perc_daemon/ice.h, controlling, to the MDD's ICE-lite), the DTLS
 * adapter (perc/dtls.h) through the MDD's tunnel to the KMF, and the double
 * transform (perc/double_endpoint.h).
 *
 * What it checks of the MDD:
 *   - endpoint-offer is answered with ICE-lite credentials and candidates
 *     (they reach the endpoint inside signaling's answer), ICE completes;
 *   - the endpoint's DTLS reaches the KMF through the tunnel and back: the
 *     endpoint gets an EKTKey, the MDD gets MediaKeys (stats.json: keyed);
 *   - alice's double-encrypted packets reach bob re-encrypted with bob's
 *     hop key and an SEQ of the MDD's own, and open end to end;
 *   - garbage, a tampered packet, a truncated one and a replay are dropped
 *     and counted by reason (/metrics), and never reach bob;
 *   - an SSRC conflict: bob's validly keyed packets with alice's SSRC are
 *     dropped as ssrc_in_use and never reach alice; alice keeps her SSRC,
 *     bob's own SSRC is still forwarded;
 *   - RTCP: alice's SR + SDES reaches bob intact under bob's hop key; bob's
 *     RRs are consumed (a lone RR reaches nobody), his SDES and NACK reach
 *     alice, the NACK naming her own SEQ;
 *   - leave: endpoint-leave removes bob; nothing more is sent to him;
 *   - liveness: alice falls silent, the MDD reports her gone, signaling
 *     ends her participation (`ended`, "gone: no media ...");
 *   - no key material in the MDD's log; SIGTERM exits 0.
 * test_mdd_last_n_nack runs the MDD with --last-n 1: a stream paused and
 * resumed for bob is renumbered, and bob's NACK reaches alice translated
 * back to her SEQ. test_mdd_cascade runs two MDDs linked by a cascade.
 * test_mdd_cli runs the binary's --help and bad command lines. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <gio/gio.h>
#include <openssl/rand.h>

#include "daemon_test_proc.h"
#include "daemon_test_util.h"
#include "perc/demux.h"
#include "perc/double_endpoint.h"
#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc/rtcp.h"
#include "perc/rtp.h"
#include "perc/secret.h"
#include "perc/srtp.h"
#include "perc/signaling.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/ice.h"
#include "perc_daemon/log.h"
#include "perc_daemon/sigclient.h"
#include "perc_daemon/ws.h"

#define TOKEN "daemon-secret-456"
#define CONF "conf1"
#define WAIT_MS 20000
#define N_SEND 50

static const char *g_sig_bin, *g_kmf_bin, *g_mdd_bin;
/* signaling, kmf, mdd-1, mdd-2 of the running test (dt_proc_kill_all reaps them) */
static pid_t g_pids[4] = {-1, -1, -1, -1};

/* ---- an endpoint ------------------------------------------------------------ */

typedef struct ep {
    const char *name;
    uint32_t ssrc;
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *dctx;
    perc_dtls *dtls;
    char tls_id[40];
    perc_ice_agent *agent;
    perc_ice_stream *ice;
    int gathered, ice_ready;
    perc_sigclient *sig;
    int welcomed, answered, ended, errors;
    char ended_reason[300];
    char participant[80];
    /* DTLS results */
    int connected, n_ekt, dtls_closed;
    perc_double_keying keying;
    /* media */
    uint8_t inner_key[16], inner_salt[12]; /* its end-to-end key (EKT would announce it) */
    perc_double_tx *tx;
    perc_double_rx *rx;
    int rx_ok, rx_bad, rx_other;
    uint16_t last_seq;     /* the sender's SEQ (from the OHB) */
    uint16_t last_out_seq; /* the SEQ of the MDD's outer header */
    uint8_t last_payload[64];
    size_t last_payload_len;
    /* The first packet whose outer SEQ was not the sender's, and the outer
     * SEQ of the packet before it (on one socket, so in the MDD's order). */
    int renumbered;
    uint16_t renum_out, renum_orig, renum_prev_out;
    /* SRTCP: hop by hop only, so under the outer halves alone */
    perc_srtp_ctx *rtcp_tx, *rtcp_rx;
    int rtcp_ok, rtcp_bad;
    uint8_t last_rtcp[512]; /* the last compound opened, plain */
    size_t last_rtcp_len;
} ep;

typedef struct world {
    GMainContext *ctx;
    GMainLoop *loop;
    perc_ws_context *ws;
    uint16_t sig_port, kmf_port, metrics_port;
    char *dir;
    dt_stack_pki pki;
    char *log[4];               /* signaling, kmf, mdd-1, mdd-2 */
    ep alice, bob;
    guint pump_src;
} world;

static world W;
static uint8_t g_buf[4096];

static char *read_log(int i)
{
    return dt_read_file(W.log[i]);
}

static void dump_logs(void)
{
    static const char *names[4] = {"perc-signaling", "perc-kmf", "perc-mdd", "perc-mdd-2"};
    for (int i = 0; i < 4; i++) {
        char *text = NULL;
        gsize len = 0;
        if (!g_file_get_contents(W.log[i], &text, &len, NULL))
            continue;
        fprintf(stderr, "---- %s log (%zu bytes) ----\n", names[i], (size_t)len);
        fwrite(text, 1, len, stderr);
        fprintf(stderr, "---- end ----\n");
        g_free(text);
    }
}

#define WAIT(pred, what)                                                                        \
    do {                                                                                        \
        if (!dt_wait(W.ctx, pred, NULL, WAIT_MS)) {                                             \
            dump_logs();                                                                        \
            fail_msg("timed out waiting for %s", what);                                         \
        }                                                                                       \
    } while (0)

/* DTLS output of an endpoint goes out on its ICE stream. */
static void ep_flush_dtls(ep *e)
{
    if (!e->dtls)
        return;
    for (;;) {
        size_t len = 0;
        if (perc_dtls_pull(e->dtls, g_buf, sizeof g_buf, &len) != PERC_OK || len == 0)
            return;
        (void)perc_ice_stream_send(e->ice, g_buf, len); /* lost before ICE: DTLS retransmits */
    }
}

static void dtls_connected(void *u, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    (void)profile;
    (void)cipher;
    ep *e = u;
    assert_int_equal(perc_dtls_get_keying(d, &e->keying), PERC_OK);
    e->connected++;
}

static int dtls_ekt(void *u, perc_dtls *d, const perc_ekt_key_msg *msg)
{
    (void)d;
    (void)msg;
    ((ep *)u)->n_ekt++;
    return 0;
}

static void dtls_closed(void *u, perc_dtls *d, const perc_dtls_close_info *ci)
{
    (void)d;
    (void)ci;
    ((ep *)u)->dtls_closed++;
}

/* SRTCP from the MDD: it must open with our outer (hop) key; the plain
 * compound is kept for the checks. */
static void ep_recv_rtcp(ep *e, const uint8_t *data, size_t len)
{
    uint8_t buf[sizeof e->last_rtcp + 64];
    size_t out = 0;
    if (len > sizeof buf) {
        e->rtcp_bad++;
        return;
    }
    memcpy(buf, data, len);
    if (perc_srtcp_unprotect(e->rtcp_rx, buf, len, &out) != PERC_OK || out > sizeof e->last_rtcp) {
        e->rtcp_bad++;
        return;
    }
    memcpy(e->last_rtcp, buf, out);
    e->last_rtcp_len = out;
    e->rtcp_ok++;
}

/* What the MDD forwards to an endpoint: DTLS from the KMF, SRTP or SRTCP. */
static void ice_recv(void *user, perc_ice_stream *s, const uint8_t *data, size_t len)
{
    (void)s;
    ep *e = user;
    perc_demux_class c = perc_demux_classify(data, len);
    if (c == PERC_DEMUX_DTLS) {
        if (e->dtls) {
            int rc = perc_dtls_recv(e->dtls, data, len, perc_clock_now_ns());
            (void)rc; /* a failure shows in the closed callback */
        }
        ep_flush_dtls(e);
        return;
    }
    if (c == PERC_DEMUX_RTCP && e->rtcp_rx) {
        ep_recv_rtcp(e, data, len);
        return;
    }
    if (c != PERC_DEMUX_RTP || !e->rx) {
        e->rx_other++;
        return;
    }
    /* Strip the EKT field (a Short one, 0x00, from our sender) and open
     * both layers. */
    if (len < 2 || len > sizeof g_buf || data[len - 1] != 0x00) {
        e->rx_bad++;
        return;
    }
    memcpy(g_buf, data, len - 1);
    size_t out = 0;
    perc_double_info info;
    int rc = perc_double_rx_unprotect(e->rx, g_buf, len - 1, &out, &info);
    if (rc != PERC_OK) {
        e->rx_bad++;
        return;
    }
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(g_buf, out, &p), PERC_OK);
    e->rx_ok++;
    if (info.hdr.seq != info.orig_seq && !e->renumbered) {
        e->renumbered = 1;
        e->renum_out = info.hdr.seq;
        e->renum_orig = info.orig_seq;
        e->renum_prev_out = e->last_out_seq;
    }
    e->last_seq = info.orig_seq;
    e->last_out_seq = info.hdr.seq;
    e->last_payload_len = p.payload.len < sizeof e->last_payload - 1 ? p.payload.len
                                                                     : sizeof e->last_payload - 1;
    memcpy(e->last_payload, p.payload.ptr, e->last_payload_len);
    e->last_payload[e->last_payload_len] = 0;
}

static void ice_gathered(void *user, perc_ice_stream *s)
{
    (void)s;
    ((ep *)user)->gathered++;
}

static void ice_state(void *user, perc_ice_stream *s, perc_ice_state st)
{
    (void)s;
    if (st == PERC_ICE_READY || st == PERC_ICE_CONNECTED)
        ((ep *)user)->ice_ready = 1;
}

static const perc_ice_callbacks ice_cbs = {ice_gathered, ice_state, ice_recv};

/* The answer: the MDD's ICE transport, the KMF's fingerprint and tls-id. */
static void on_answer(ep *e, const perc_sig_msg *m)
{
    const perc_sdp *a = m->sdp_model;
    assert_non_null(a);
    g_strlcpy(e->participant, m->participant, sizeof e->participant);
    const char *ufrag, *pwd;
    assert_int_equal(perc_sdp_effective_ice(a, 0, &ufrag, &pwd), PERC_OK);
    GError *err = NULL;
    assert_true(perc_ice_stream_set_remote_credentials(e->ice, ufrag, pwd, &err));
    assert_true(a->media[0].candidate_count >= 1);
    for (size_t i = 0; i < a->media[0].candidate_count; i++) {
        char text[PERC_SDP_MAX_LINE];
        assert_int_equal(perc_sdp_candidate_format(&a->media[0].candidates[i], text, sizeof text,
                                                   NULL),
                         PERC_OK);
        assert_true(perc_ice_stream_add_remote_candidate(e->ice, text, &err));
    }
    perc_ice_stream_remote_gathering_done(e->ice);

    const perc_sdp_fingerprint *fp;
    const char *kmf_tls_id;
    assert_int_equal(perc_sdp_effective_fingerprint(a, 0, &fp), PERC_OK);
    assert_int_equal(perc_sdp_effective_tls_id(a, 0, &kmf_tls_id), PERC_OK);
    perc_dtls_config cfg;
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, (const uint8_t *)e->tls_id,
                                                 strlen(e->tls_id)),
                     PERC_OK);
    assert_int_equal(perc_dtls_config_expect_peer_tls_id(&cfg, (const uint8_t *)kmf_tls_id,
                                                         strlen(kmf_tls_id)),
                     PERC_OK);
    perc_dtls_config_expect_peer_fingerprint(&cfg, fp->value);
    perc_dtls_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.user = e;
    cbs.connected = dtls_connected;
    cbs.ekt_key = dtls_ekt;
    cbs.closed = dtls_closed;
    assert_int_equal(perc_dtls_new(e->dctx, &cfg, &cbs, &e->dtls), PERC_OK);
    assert_int_equal(perc_dtls_start(e->dtls, perc_clock_now_ns()), PERC_OK);
    e->answered++;
}

static bool sig_message(void *user, perc_sigclient *c, const perc_sig_msg *m)
{
    (void)c;
    ep *e = user;
    switch (m->type) {
    case PERC_SIG_ANSWER:
        on_answer(e, m);
        return true;
    case PERC_SIG_ENDED:
        e->ended++;
        g_strlcpy(e->ended_reason, m->reason, sizeof e->ended_reason);
        return true;
    case PERC_SIG_ERROR:
        e->errors++;
        return true;
    case PERC_SIG_JOINED:
    case PERC_SIG_LEFT:
    case PERC_SIG_OK:
    case PERC_SIG_CANDIDATE:
        return true;
    default:
        return false;
    }
}

static void sig_welcome(void *user, perc_sigclient *c, const char *session)
{
    (void)c;
    (void)session;
    ((ep *)user)->welcomed++;
}

static const perc_sigclient_callbacks sig_cbs = {sig_welcome, sig_message, NULL};

static void ep_init(ep *e, const char *name, uint32_t ssrc)
{
    e->name = name;
    e->ssrc = ssrc;
    assert_int_equal(perc_dtls_identity_generate(name, &e->cert, &e->key), PERC_OK);
    perc_dtls_ctx_config cc = {e->cert, e->key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &e->dctx), PERC_OK);
    g_snprintf(e->tls_id, sizeof e->tls_id, "TlsIdOf%s-0123456789abcdef", name);
    static const char *const lo[] = {"127.0.0.1"};
    perc_ice_agent_options o = {.controlling = true, .addresses = lo, .n_addresses = 1};
    GError *err = NULL;
    e->agent = perc_ice_agent_new(W.ctx, &o, &err);
    assert_non_null(e->agent);
    e->ice = perc_ice_stream_new(e->agent, &ice_cbs, e, &err);
    assert_non_null(e->ice);
}

/* Connects to signaling and joins with an offer of our ICE transport. */
static void ep_join(ep *e)
{
    assert_true(dt_wait_count(W.ctx, &e->gathered, 1, 5000));
    char url[64];
    g_snprintf(url, sizeof url, "ws://127.0.0.1:%u/", W.sig_port);
    perc_sig_msg hello;
    perc_sig_msg_init(&hello);
    hello.type = PERC_SIG_HELLO;
    hello.role = PERC_SIG_ROLE_ENDPOINT;
    hello.conference = CONF;
    perc_sigclient_options so = {.url = url, .hello = &hello};
    GError *err = NULL;
    e->sig = perc_sigclient_new(W.ws, &so, &sig_cbs, e, &err);
    assert_non_null(e->sig);
    assert_true(dt_wait_count(W.ctx, &e->welcomed, 1, WAIT_MS));

    char *ufrag, *pwd;
    assert_true(perc_ice_stream_local_credentials(e->ice, &ufrag, &pwd));
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    perc_dtls_ctx_fingerprint(e->dctx, fp);
    char fp_text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    assert_int_equal(perc_dtls_fingerprint_format(fp, fp_text, sizeof fp_text), PERC_OK);
    GString *sdp = g_string_new(NULL);
    g_string_append_printf(sdp,
                           "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                           "a=group:BUNDLE a0\r\n"
                           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
                           "a=mid:a0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
                           "a=fingerprint:sha-256 %s\r\na=setup:active\r\na=tls-id:%s\r\n"
                           "a=sendrecv\r\na=rtcp-mux\r\n"
                           "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                           "a=rtpmap:111 opus/48000/2\r\na=ssrc:%u cname:%s\r\n",
                           ufrag, pwd, fp_text, e->tls_id, e->ssrc, e->name);
    char **cands = perc_ice_stream_local_candidates(e->ice);
    for (char **c = cands; *c; c++)
        g_string_append_printf(sdp, "a=%s\r\n", *c);
    g_strfreev(cands);
    g_free(ufrag);
    g_free(pwd);
    perc_sig_msg j;
    perc_sig_msg_init(&j);
    char id[32];
    j.type = PERC_SIG_JOIN;
    j.id = perc_sigclient_next_id(e->sig, "join", id, sizeof id);
    j.conference = CONF;
    j.identity = e->name;
    j.sdp = sdp->str;
    assert_true(perc_sigclient_send(e->sig, &j));
    g_string_free(sdp, TRUE);
}

/* Every 5 ms: DTLS timers. */
static gboolean pump(gpointer user)
{
    (void)user;
    uint64_t now = perc_clock_now_ns();
    ep *eps[2] = {&W.alice, &W.bob};
    for (int i = 0; i < 2; i++) {
        ep *e = eps[i];
        if (e->dtls && perc_dtls_next_timeout(e->dtls) <= now) {
            int rc = perc_dtls_on_timeout(e->dtls, now);
            (void)rc; /* a failure shows in the closed callback */
        }
        ep_flush_dtls(e);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- media ---------------------------------------------------------------------- */

static void half_keys(const perc_double_half *h, perc_srtp_session_keys *out)
{
    assert_int_equal(perc_double_half_kdf(h, out), PERC_OK);
}

/* e's inner (end-to-end) session keys. */
static void inner_keys(const ep *e, perc_srtp_session_keys *out)
{
    perc_double_half inner = {.cipher = e->keying.client_write.inner.cipher, .key_len = 16};
    memcpy(inner.key, e->inner_key, 16);
    memcpy(inner.salt, e->inner_salt, 12);
    half_keys(&inner, out);
    perc_wipe(&inner, sizeof inner);
}

/* An endpoint sends with its outer client_write half and an inner key of
 * its own, and opens what the MDD sends it with its outer server_write
 * half. SRTCP has no inner layer (RFC 8723 §6): it uses the outer halves
 * alone. */
static void ep_media(ep *e)
{
    assert_int_equal(RAND_bytes(e->inner_key, sizeof e->inner_key), 1);
    assert_int_equal(RAND_bytes(e->inner_salt, sizeof e->inner_salt), 1);
    perc_srtp_session_keys ik, ok, sk;
    inner_keys(e, &ik);
    half_keys(&e->keying.client_write.outer, &ok);
    half_keys(&e->keying.server_write.outer, &sk);
    assert_int_equal(perc_double_tx_new(&ik, &ok, 0, &e->tx), PERC_OK);
    assert_int_equal(perc_double_rx_new(&sk, 0, &e->rx), PERC_OK);
    assert_int_equal(perc_srtp_ctx_new(&ok, 0, &e->rtcp_tx), PERC_OK);
    assert_int_equal(perc_srtp_ctx_new(&sk, 0, &e->rtcp_rx), PERC_OK);
    perc_wipe(&ik, sizeof ik);
    perc_wipe(&ok, sizeof ok);
    perc_wipe(&sk, sizeof sk);
}

/* r can open the inner layer of s's own SSRC (in a real endpoint the key
 * comes from s's EKT field). */
static void ep_trust(ep *r, const ep *s)
{
    perc_srtp_session_keys ik;
    inner_keys(s, &ik);
    assert_int_equal(perc_double_rx_set_inner(r->rx, s->ssrc, &ik, 0), PERC_OK);
    perc_wipe(&ik, sizeof ik);
}

static void media_setup(void)
{
    ep_media(&W.alice);
    ep_media(&W.bob);
    ep_trust(&W.bob, &W.alice);
    ep_trust(&W.alice, &W.bob);
}

/* One double-protected packet from e with a Short EKT field, carrying
 * `ssrc` (e's own, or another's to provoke a conflict) and, with level >=
 * 0, an RFC 6464 audio level (extension id 1, as offered and as the MDD's
 * --audio-level-id default). The wire bytes go to out (for replays). */
static size_t media_packet(ep *e, uint32_t ssrc, uint16_t seq, int level, uint8_t *out,
                           size_t cap)
{
    uint8_t extbuf[16], payload[64], pkt[256];
    perc_rtp_header h = {.payload_type = 111, .seq = seq, .timestamp = 960u * seq, .ssrc = ssrc};
    if (level >= 0) {
        perc_rtp_ext_builder b;
        uint8_t al = (uint8_t)(0x80 | level); /* V set: voice */
        perc_rtp_ext_builder_init(&b, extbuf, sizeof extbuf, false);
        perc_rtp_ext_add(&b, 1, &al, 1);
        assert_int_equal(perc_rtp_ext_finish(&b, &h.ext_data, &h.ext_profile), PERC_OK);
        h.extension = true;
    }
    size_t plen = (size_t)g_snprintf((char *)payload, sizeof payload, "%s says %u", e->name, seq);
    perc_writer w;
    perc_writer_init(&w, pkt, sizeof pkt);
    perc_rtp_write(&w, &h, payload, plen, 0);
    size_t len = 0, out_len = 0;
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    assert_int_equal(perc_double_tx_protect(e->tx, pkt, len, sizeof pkt, &out_len), PERC_OK);
    assert_true(out_len < sizeof pkt);
    pkt[out_len++] = 0x00; /* Short EKT field (RFC 8870 §4.1) */
    assert_true(out_len <= cap);
    memcpy(out, pkt, out_len);
    return out_len;
}

static size_t alice_packet(uint16_t seq, uint8_t *out, size_t cap)
{
    return media_packet(&W.alice, W.alice.ssrc, seq, -1, out, cap);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static char *http_get(const char *path)
{
    GSocketClient *c = g_socket_client_new();
    GError *err = NULL;
    GSocketConnection *conn = g_socket_client_connect_to_host(c, "127.0.0.1", W.metrics_port,
                                                              NULL, &err);
    assert_non_null(conn);
    char *req = g_strdup_printf("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    GOutputStream *os = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    assert_true(g_output_stream_write_all(os, req, strlen(req), NULL, NULL, &err));
    g_free(req);
    GInputStream *is = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    GString *resp = g_string_new(NULL);
    char buf[4096];
    gssize n;
    while ((n = g_input_stream_read(is, buf, sizeof buf, NULL, NULL)) > 0)
        g_string_append_len(resp, buf, n);
    g_object_unref(conn);
    g_object_unref(c);
    return g_string_free(resp, FALSE);
}

/* The value of a Prometheus sample line "name{labels} value". */
static long long metric(const char *text, const char *sample)
{
    /* At the start of a line, so "# TYPE name counter" does not match. */
    char *needle = g_strconcat("\n", sample, NULL);
    const char *p = strstr(text, needle);
    g_free(needle);
    if (!p)
        return -1;
    return strtoll(p + 1 + strlen(sample), NULL, 10);
}

/* ---- processes --------------------------------------------------------------------- */

static gboolean p_log_has(void *needle_and_idx)
{
    const char *const *x = needle_and_idx;
    char *t = read_log(x[1][0] - '0');
    gboolean r = strstr(t, x[0]) != NULL;
    g_free(t);
    return r;
}

static gboolean p_kmf_saw_bob_close(void *d)
{
    (void)d;
    char *log = read_log(1);
    gboolean seen = strstr(log, "peer sent close_notify") != NULL ||
                    strstr(log, "DTLS datagram for closed association") != NULL;
    g_free(log);
    return seen;
}

/* The KMF ended alice's association because the MDD found her gone:
 * told so over the tunnel, or by signaling first (which the MDD told). */
static gboolean p_kmf_ended_alice(void *d)
{
    (void)d;
    char *log = read_log(1);
    gboolean seen =
        strstr(log, "'alice' in conference 'conf1' ended: Media Distributor reported the "
                    "endpoint gone") != NULL ||
        (strstr(log, "'alice' in conference 'conf1' ended: left the conference (signaling)") &&
         strstr(log, "participant p1 (alice) of conference conf1 left: gone: no media"));
    g_free(log);
    return seen;
}

static void wait_log(int idx, const char *needle)
{
    char i[2] = {(char)('0' + idx), 0};
    const char *x[2] = {needle, i};
    if (!dt_wait(W.ctx, p_log_has, x, WAIT_MS)) {
        dump_logs();
        fail_msg("timed out waiting for '%s' in log %d", needle, idx);
    }
}

/* The stack. STACK_CASCADE: signaling cascades and two MDDs of capacity 1
 * say they can link, so alice lands on mdd-1 and bob on mdd-2.
 * STACK_LAST_N: one MDD forwarding only the loudest sender (--last-n 1),
 * with a liveness timeout long enough never to interfere. */
typedef enum { STACK_PLAIN, STACK_CASCADE, STACK_LAST_N } stack_kind;

static void start_stack(stack_kind kind)
{
    bool cascade = kind == STACK_CASCADE;
    W.sig_port = dt_free_tcp_port();
    W.kmf_port = dt_free_tcp_port();
    W.metrics_port = dt_free_tcp_port();
    char sig_listen[32], kmf_listen[32], url[64], metrics[32];
    g_snprintf(sig_listen, sizeof sig_listen, "127.0.0.1:%u", W.sig_port);
    g_snprintf(kmf_listen, sizeof kmf_listen, "127.0.0.1:%u", W.kmf_port);
    g_snprintf(url, sizeof url, "ws://127.0.0.1:%u/", W.sig_port);
    g_snprintf(metrics, sizeof metrics, "127.0.0.1:%u", W.metrics_port);
    const char *sig_args[] = {g_sig_bin, "--listen", sig_listen, "--conference", CONF,
                              "--log-level", "debug", cascade ? "--cascade" : NULL, NULL};
    g_pids[0] = dt_proc_spawn(sig_args, W.log[0], "PERC_SIGNALING_TOKEN", TOKEN);
    assert_true(g_pids[0] > 0);
    const char *kmf_args[] = {g_kmf_bin, "--listen", kmf_listen, "--cert", W.pki.kmf_pem, "--key",
                              W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--signaling", url, "--open",
                              "--log-level", "debug", NULL};
    g_pids[1] = dt_proc_spawn(kmf_args, W.log[1], "PERC_KMF_SIGNALING_TOKEN", TOKEN);
    assert_true(g_pids[1] > 0);
    for (int i = 0; i < (cascade ? 2 : 1); i++) {
        const char *args[32] = {g_mdd_bin, "--signaling", url, "--kmf", kmf_listen, "--cert",
                                W.pki.mdd_pem, "--key", W.pki.mdd_key, "--kmf-ca", W.pki.ca_pem,
                                "--kmf-name", "kmf.test", "--media-address", "127.0.0.1",
                                "--liveness-timeout", kind == STACK_LAST_N ? "30" : "3",
                                "--log-level", "debug",
                                "--name", i ? "mdd-2" : "mdd-1"};
        size_t n = 21;
        if (i == 0) { /* one metrics port: mdd-1's */
            args[n++] = "--metrics-listen";
            args[n++] = metrics;
        }
        if (cascade) {
            args[n++] = "--capacity";
            args[n++] = "1";
            args[n++] = "--cascade";
        }
        if (kind == STACK_LAST_N) {
            args[n++] = "--last-n";
            args[n++] = "1";
        }
        args[n] = NULL;
        g_pids[2 + i] = dt_proc_spawn(args, W.log[2 + i], "PERC_MDD_SIGNALING_TOKEN", TOKEN);
        assert_true(g_pids[2 + i] > 0);
        wait_log(2 + i, "tunnel: connected to the KMF");
        wait_log(2 + i, "signaling: welcome");
    }
    wait_log(1, "signaling: welcome");
}

/* ---- predicates ----------------------------------------------------------------- */

static gboolean p_keyed(void *d)
{
    (void)d;
    return W.alice.n_ekt >= 1 && W.bob.n_ekt >= 1 && W.alice.ice_ready && W.bob.ice_ready;
}

static gboolean p_bob_got_all(void *d)
{
    (void)d;
    return W.bob.rx_ok >= N_SEND;
}

static gboolean p_alice_ended(void *d)
{
    (void)d;
    return W.alice.ended >= 1;
}

/* Whether the first 8 octets of a secret appear in text as hex. */
static bool log_leaks(const char *text, const ep *e)
{
    const perc_double_master *m[2] = {&e->keying.client_write, &e->keying.server_write};
    for (int k = 0; k < 2; k++)
        if (dt_text_has_hex(text, m[k]->outer.key, m[k]->outer.key_len) ||
            dt_text_has_hex(text, m[k]->outer.salt, PERC_SRTP_SALT_LEN) ||
            dt_text_has_hex(text, m[k]->inner.key, m[k]->inner.key_len))
            return true;
    return false;
}

/* ---- setup ---------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.ctx = g_main_context_new();
    g_main_context_push_thread_default(W.ctx);
    W.loop = g_main_loop_new(W.ctx, FALSE);
    W.dir = dt_tmpdir_new();
    dt_stack_pki_make(W.dir, &W.pki);
    static const char *names[4] = {"signaling.log", "kmf.log", "mdd.log", "mdd2.log"};
    for (int i = 0; i < 4; i++)
        W.log[i] = g_build_filename(W.dir, names[i], NULL);
    return 0;
}

static void ep_free(ep *e)
{
    perc_sigclient_free(e->sig);
    perc_ice_agent_free(e->agent);
    perc_dtls_free(e->dtls);
    perc_dtls_ctx_free(e->dctx);
    X509_free(e->cert);
    EVP_PKEY_free(e->key);
    perc_double_keying_wipe(&e->keying);
    perc_double_tx_free(e->tx);
    perc_double_rx_free(e->rx);
    perc_srtp_ctx_free(e->rtcp_tx);
    perc_srtp_ctx_free(e->rtcp_rx);
    perc_wipe(e->inner_key, sizeof e->inner_key);
    perc_wipe(e->inner_salt, sizeof e->inner_salt);
}

static int teardown(void **state)
{
    (void)state;
    dt_proc_kill_all();
    if (W.pump_src) {
        GSource *s = g_main_context_find_source_by_id(W.ctx, W.pump_src);
        if (s)
            g_source_destroy(s);
    }
    ep_free(&W.alice);
    ep_free(&W.bob);
    if (W.ws)
        dt_spin(W.ctx, 50);
    perc_ws_context_free(W.ws);
    g_main_loop_unref(W.loop);
    g_main_context_pop_thread_default(W.ctx);
    g_main_context_unref(W.ctx);
    dt_stack_pki_free(&W.pki);
    for (int i = 0; i < 4; i++)
        g_free(W.log[i]);
    dt_tmpdir_free(W.dir);
    return 0;
}

/* ---- the test -------------------------------------------------------------------------- */

static void send_raw(ep *e, const uint8_t *data, size_t len)
{
    assert_true(perc_ice_stream_send(e->ice, data, len));
}

/* The loop's WebSocket context, the pump (it also wakes the loop, so log
 * predicates are re-checked) and the daemons. */
static void begin(stack_kind kind)
{
    GError *err = NULL;
    W.ws = perc_ws_context_new(W.loop, &err);
    assert_non_null(W.ws);
    GSource *src = g_timeout_source_new(5);
    g_source_set_callback(src, pump, NULL, NULL);
    W.pump_src = g_source_attach(src, W.ctx);
    g_source_unref(src);
    start_stack(kind);
}

/* ---- shared checks ---------------------------------------------------------------- */

static int rx_total(const ep *e)
{
    return e->rx_ok + e->rx_bad + e->rx_other;
}

/* A Prometheus sample of /metrics, read now. */
static long long metric_now(const char *sample)
{
    char *m = http_get("/metrics");
    long long v = metric(m, sample);
    g_free(m);
    return v;
}

/* A counter of one endpoint's entry in /stats.json, read now (-1 if
 * absent): the first `key` after its participant name. */
static long long stats_value(const char *participant, const char *key)
{
    char *json = http_get("/stats.json");
    char *who = g_strdup_printf("\"participant\":\"%s\"", participant);
    char *what = g_strdup_printf("\"%s\":", key);
    const char *p = strstr(json, who);
    p = p ? strstr(p, what) : NULL;
    long long v = p ? strtoll(p + strlen(what), NULL, 10) : -1;
    g_free(what);
    g_free(who);
    g_free(json);
    return v;
}

static size_t rtcp_finish(perc_writer *w)
{
    size_t n = 0;
    assert_int_equal(perc_writer_finish(w, &n), PERC_OK);
    return n;
}

/* An SDES packet with one chunk: ssrc's CNAME. */
static void write_cname(perc_writer *w, uint32_t ssrc, const char *cname)
{
    perc_rtcp_sdes_writer sw;
    perc_rtcp_sdes_begin(&sw, w);
    perc_rtcp_sdes_add_chunk(&sw, ssrc);
    perc_rtcp_sdes_add_item(&sw, PERC_RTCP_SDES_CNAME, (const uint8_t *)cname, strlen(cname));
    perc_rtcp_sdes_end(&sw);
}

/* An RR from `from` with one report block on `about`'s stream. */
static void write_rr(perc_writer *w, const ep *from, const ep *about)
{
    perc_rtcp_rr rr = {.ssrc = from->ssrc, .report_count = 1};
    rr.reports[0].ssrc = about->ssrc;
    rr.reports[0].ext_highest_seq = from->last_out_seq;
    rr.reports[0].jitter = 7;
    perc_rtcp_write_rr(w, &rr);
}

/* Seals a plain compound with e's outer client_write half (SRTCP index
 * per SSRC from 0) and sends it to the MDD. */
static void send_rtcp(ep *e, const uint8_t *plain, size_t len)
{
    uint8_t wire[600];
    assert_true(len + 64 <= sizeof wire);
    memcpy(wire, plain, len);
    size_t out = 0;
    assert_int_equal(perc_srtcp_protect(e->rtcp_tx, wire, len, sizeof wire, &out), PERC_OK);
    send_raw(e, wire, out);
}

/* M3 (RFC 3550 §8.2, RFC 8723 §4): bob sends, under his own valid hop
 * key, packets with the SSRC alice already sends. The MDD may not rename
 * an SSRC (both layers authenticate it), so the first sender keeps it:
 * bob's packets are dropped and counted as ssrc_in_use (a reason of its
 * own, decided after the hop tag verified: not "auth"), none reaches
 * alice, alice's stream is still forwarded and bob's own SSRC still is. */
static void check_ssrc_conflict(uint16_t alice_seq)
{
    enum { N_CONFLICT = 5 };
    long long auth_before = metric_now("perc_mdd_drops_total{reason=\"auth\"} ");
    assert_int_equal(metric_now("perc_mdd_drops_total{reason=\"ssrc_in_use\"} "), 0);
    int alice_before = rx_total(&W.alice);
    uint8_t wire[256];
    size_t n;
    for (uint16_t i = 0; i < N_CONFLICT; i++) {
        n = media_packet(&W.bob, W.alice.ssrc, (uint16_t)(7000 + i), -1, wire, sizeof wire);
        send_raw(&W.bob, wire, n);
    }
    /* Then one on bob's own SSRC. The MDD handles one socket's datagrams in
     * order and forwards at once, so when this one reaches alice the
     * conflicting ones have been decided, and any copy of them would have
     * arrived first (alice cannot open them: rx_bad). */
    n = media_packet(&W.bob, W.bob.ssrc, 1, -1, wire, sizeof wire);
    send_raw(&W.bob, wire, n);
    assert_true(dt_wait_count(W.ctx, &W.alice.rx_ok, 1, WAIT_MS));
    assert_int_equal(rx_total(&W.alice), alice_before + 1);
    assert_string_equal((const char *)W.alice.last_payload, "bob says 1");
    assert_int_equal(metric_now("perc_mdd_drops_total{reason=\"ssrc_in_use\"} "), N_CONFLICT);
    assert_int_equal(metric_now("perc_mdd_drops_total{reason=\"auth\"} "), auth_before);
    assert_int_equal(stats_value("p2", "drop_ssrc_in_use"), N_CONFLICT);
    assert_int_equal(stats_value("p1", "drop_ssrc_in_use"), 0);

    /* The owner keeps her SSRC. */
    int bob_ok = W.bob.rx_ok;
    n = alice_packet(alice_seq, wire, sizeof wire);
    send_raw(&W.alice, wire, n);
    assert_true(dt_wait_count(W.ctx, &W.bob.rx_ok, bob_ok + 1, WAIT_MS));
    char expect[32];
    g_snprintf(expect, sizeof expect, "alice says %u", alice_seq);
    assert_string_equal((const char *)W.bob.last_payload, expect);
}

/* M1 (RFC 8871 §4.1, RFC 8723 §6, RFC 3550 §6): RTCP has no end-to-end
 * layer, so the MD opens each compound with the sender's hop key and may
 * forward, trim or terminate it. This one passes SR and SDES on to the
 * others, each copy re-sealed with the receiver's hop key, and terminates
 * receiver reports (they describe the hop the MD sent on, not the
 * sender's). Feedback goes only to the sender of the media SSRC it names
 * (RFC 4585 §6.1), and a generic NACK's PID is the SEQ its reporter saw
 * (§6.2.1): without last-N this MDD never renumbers (the outer SEQ is the
 * sender's), so the NACK must reach alice unchanged; the renumbered case
 * is test_mdd_last_n_nack. */
static void check_rtcp(void)
{
    long long rtcp_in = metric_now("perc_mdd_rtcp_in_total ");
    uint8_t plain[256];
    perc_writer w;

    /* alice: SR + SDES. bob opens it with his own outer key, so the MDD
     * re-sealed it (alice's hop key is not bob's), and finds it intact. */
    perc_writer_init(&w, plain, sizeof plain);
    perc_rtcp_sr sr = {.ssrc = W.alice.ssrc,
                       .ntp_timestamp = 0xE5A1B2C3D4E5F607ull,
                       .rtp_timestamp = 960u * 2003u,
                       .packet_count = N_SEND + 2,
                       .octet_count = 1500};
    perc_rtcp_write_sr(&w, &sr);
    write_cname(&w, W.alice.ssrc, "alice@perc.test");
    size_t len = rtcp_finish(&w);
    send_rtcp(&W.alice, plain, len);
    assert_true(dt_wait_count(W.ctx, &W.bob.rtcp_ok, 1, WAIT_MS));
    assert_int_equal(W.bob.rtcp_bad, 0);
    assert_int_equal(W.bob.last_rtcp_len, len);
    assert_memory_equal(W.bob.last_rtcp, plain, len);

    /* bob: first a lone RR (nothing of it to forward), then RR + SDES +
     * NACK for the last SEQ he saw of alice's. alice must get exactly one
     * compound: SDES and NACK, the RR taken out. */
    assert_int_equal(W.bob.last_out_seq, W.bob.last_seq); /* not renumbered */
    perc_writer_init(&w, plain, sizeof plain);
    write_rr(&w, &W.bob, &W.alice);
    send_rtcp(&W.bob, plain, rtcp_finish(&w));
    uint8_t expect[128];
    perc_writer ew;
    perc_writer_init(&ew, expect, sizeof expect);
    write_cname(&ew, W.bob.ssrc, "bob@perc.test");
    perc_rtcp_nack_item item = {.pid = W.bob.last_out_seq, .blp = 0x0003};
    perc_rtcp_write_nack(&ew, W.bob.ssrc, W.alice.ssrc, &item, 1);
    size_t expect_len = rtcp_finish(&ew);
    perc_writer_init(&w, plain, sizeof plain);
    write_rr(&w, &W.bob, &W.alice);
    perc_write_bytes(&w, expect, expect_len);
    send_rtcp(&W.bob, plain, rtcp_finish(&w));
    assert_true(dt_wait_count(W.ctx, &W.alice.rtcp_ok, 1, WAIT_MS));
    dt_spin(W.ctx, 200); /* room for a wrongly forwarded extra compound */
    assert_int_equal(W.alice.rtcp_ok, 1);
    assert_int_equal(W.alice.rtcp_bad, 0);
    assert_int_equal(W.alice.last_rtcp_len, expect_len);
    assert_memory_equal(W.alice.last_rtcp, expect, expect_len);
    /* Nobody gets their own RTCP back. */
    assert_int_equal(W.bob.rtcp_ok, 1);
    assert_int_equal(W.bob.rtcp_bad, 0);
    assert_int_equal(metric_now("perc_mdd_rtcp_in_total "), rtcp_in + 3);
    assert_int_equal(stats_value("p2", "rr_consumed"), 2);
}

static void test_mdd_process(void **state)
{
    (void)state;
    begin(STACK_PLAIN);

    ep_init(&W.alice, "alice", 0x11111111u);
    ep_init(&W.bob, "bob", 0x22222222u);
    ep_join(&W.alice);
    ep_join(&W.bob);
    WAIT(p_keyed, "ICE, DTLS through the MDD's tunnel and an EKTKey at both endpoints");
    wait_log(2, "conf1/p1: hop-by-hop keys installed");
    wait_log(2, "conf1/p2: hop-by-hop keys installed");
    char *json = http_get("/stats.json");
    assert_non_null(strstr(json, "\"tunnel_up\":true"));
    assert_non_null(strstr(json, "\"participant\":\"p1\""));
    assert_null(strstr(json, "\"keyed\":false"));
    g_free(json);

    /* Media: alice -> MDD -> bob, both layers verified at bob. */
    media_setup();
    uint8_t first[256];
    size_t first_len = 0;
    for (uint16_t i = 0; i < N_SEND; i++) {
        uint8_t wire[256];
        size_t n = alice_packet((uint16_t)(1000 + i), wire, sizeof wire);
        if (i == 0) {
            memcpy(first, wire, n);
            first_len = n;
        }
        send_raw(&W.alice, wire, n);
        dt_spin(W.ctx, 2);
    }
    WAIT(p_bob_got_all, "bob to verify every packet alice sent");
    assert_int_equal(W.bob.rx_bad, 0);
    assert_int_equal(W.bob.last_seq, 1000 + N_SEND - 1); /* the original SEQ, from the OHB */
    assert_string_equal((const char *)W.bob.last_payload, "alice says 1049");

    /* Bad input at the MDD: each dropped, counted, nothing reaches bob. */
    int ok_before = W.bob.rx_ok;
    const uint8_t garbage[] = "hello, this is not media";
    send_raw(&W.alice, garbage, sizeof garbage);
    uint8_t tampered[256];
    size_t tn = alice_packet(2000, tampered, sizeof tampered);
    tampered[tn / 2] ^= 0x01;
    send_raw(&W.alice, tampered, tn);
    send_raw(&W.alice, first, first_len); /* a replay of packet 1000 */
    uint8_t trunc[256];
    size_t cut = alice_packet(2001, trunc, sizeof trunc);
    send_raw(&W.alice, trunc, 14);
    (void)cut;
    dt_spin(W.ctx, 300);
    assert_int_equal(W.bob.rx_ok, ok_before);
    char *m = http_get("/metrics");
    assert_int_equal(metric(m, "perc_mdd_drops_total{reason=\"not_media\"} "), 1);
    assert_int_equal(metric(m, "perc_mdd_drops_total{reason=\"auth\"} "), 1);
    assert_int_equal(metric(m, "perc_mdd_drops_total{reason=\"replay\"} "), 1);
    assert_true(metric(m, "perc_mdd_drops_total{reason=\"malformed\"} ") >= 1);
    assert_int_equal(metric(m, "perc_mdd_rtp_in_total "), N_SEND + 3);
    assert_int_equal(metric(m, "perc_mdd_packets_out_total "), N_SEND);
    assert_int_equal(metric(m, "perc_mdd_endpoints "), 2);
    g_free(m);
    char *notfound = http_get("/nothing");
    assert_non_null(strstr(notfound, "404"));
    g_free(notfound);

    /* Still forwarding after the bad input. */
    uint8_t wire[256];
    size_t n = alice_packet(2002, wire, sizeof wire);
    send_raw(&W.alice, wire, n);
    assert_true(dt_wait_count(W.ctx, &W.bob.rx_ok, ok_before + 1, WAIT_MS));

    check_ssrc_conflict(2003);
    check_rtcp();

    /* bob leaves: the MDD drops him and sends him nothing more. */
    perc_sig_msg leave;
    perc_sig_msg_init(&leave);
    char id[32];
    leave.type = PERC_SIG_LEAVE;
    leave.id = perc_sigclient_next_id(W.bob.sig, "leave", id, sizeof id);
    /* RFC 9185 §5.3: the MD forwards all DTLS, also what comes just after
     * a leave. The KMF is stopped meanwhile, so that it cannot end the
     * association first (it hears of the leave from signaling too): bob's
     * close_notify, sent after his leave reached the MDD, still goes into
     * the tunnel; his media does not go anywhere. */
    char *before = http_get("/metrics");
    long long to_kmf = metric(before, "perc_mdd_dtls_relayed_total{direction=\"to_kmf\"} ");
    g_free(before);
    assert_int_equal(kill(g_pids[1], SIGSTOP), 0);
    assert_true(perc_sigclient_send(W.bob.sig, &leave));
    wait_log(2, "conf1/p2: endpoint removed: signaling: leave");
    uint8_t bob_rtp[64] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0x22, 0x22, 0x22, 0x22};
    send_raw(&W.bob, bob_rtp, sizeof bob_rtp);
    assert_int_equal(perc_dtls_close(W.bob.dtls, perc_clock_now_ns()), PERC_OK);
    ep_flush_dtls(&W.bob);
    dt_spin(W.ctx, 300);
    char *lingering = http_get("/metrics");
    assert_int_equal(metric(lingering, "perc_mdd_dtls_relayed_total{direction=\"to_kmf\"} "),
                     to_kmf + 1);
    assert_int_equal(metric(lingering, "perc_mdd_drops_total{reason=\"left\"} "), 1);
    g_free(lingering);
    /* Then EndpointDisconnect, and bob is gone for good. */
    wait_log(2, "conf1/p2: no more DTLS relayed: it left");
    assert_int_equal(kill(g_pids[1], SIGCONT), 0);
    /* The KMF gets bob's close_notify: it ends the association with it, or,
     * if signaling's leave came first, drops it as for a closed one. */
    if (!dt_wait(W.ctx, p_kmf_saw_bob_close, NULL, WAIT_MS)) {
        dump_logs();
        fail_msg("timed out waiting for bob's close_notify at the KMF");
    }
    /* Counters are totals: bob's packets still count after he is gone. */
    char *after = http_get("/metrics");
    assert_true(metric(after, "perc_mdd_packets_out_total ") >= N_SEND + 1);
    assert_int_equal(metric(after, "perc_mdd_endpoints "), 1);
    g_free(after);
    int bob_total = W.bob.rx_ok + W.bob.rx_bad + W.bob.rx_other;
    n = alice_packet(2004, wire, sizeof wire);
    send_raw(&W.alice, wire, n);
    dt_spin(W.ctx, 300);
    assert_int_equal(W.bob.rx_ok + W.bob.rx_bad + W.bob.rx_other, bob_total);

    /* alice falls silent: liveness (3 s) -> endpoint-gone -> ended. */
    WAIT(p_alice_ended, "signaling to end alice's participation after the MDD's liveness timeout");
    assert_non_null(strstr(W.alice.ended_reason, "gone: no media for 3.0 s"));
    /* The KMF ends her association too. It hears of her twice, from the
     * MDD over the tunnel and from signaling, in either order. */
    if (!dt_wait(W.ctx, p_kmf_ended_alice, NULL, WAIT_MS)) {
        dump_logs();
        fail_msg("timed out waiting for the KMF to end alice's association");
    }

    /* No key material in the MDD's log. */
    char *log = read_log(2);
    assert_false(log_leaks(log, &W.alice));
    assert_false(log_leaks(log, &W.bob));
    assert_null(strstr(log, TOKEN));
    g_free(log);

    /* SIGTERM: a clean exit. */
    assert_int_equal(kill(g_pids[2], SIGTERM), 0);
    assert_int_equal(dt_proc_wait(g_pids[2]), 0);
}

/* M2 (RFC 4585 §6.2.1, RFC 8723 §5.2): with last-N the MDD renumbers a
 * stream it resumes for a receiver, so that receiver's SEQ runs on without
 * a gap; the SEQ a NACK names is then the receiver's, and the MDD must
 * turn it back into the sender's before forwarding it. With --last-n 1:
 * alice is selected, bob outshouts her (she is paused for him), alice
 * outshouts bob (she resumes, renumbered), and bob NACKs. */
static gboolean p_alice_heard_bob(void *d)
{
    (void)d;
    return W.alice.rx_ok >= 1;
}

static gboolean p_bob_got_renumbered(void *d)
{
    (void)d;
    return W.bob.renumbered;
}

/* Both talk, one packet each per 20 ms at the given RFC 6464 levels
 * (-dBov: lower is louder), until pred holds; the MDD's last-N hold time
 * (2 s) passes meanwhile. */
static void talk_until(dt_pred pred, int alice_level, int bob_level, uint16_t *a_seq,
                       uint16_t *b_seq, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    uint8_t wire[256];
    while (!pred(NULL)) {
        if (g_get_monotonic_time() > deadline) {
            dump_logs();
            fail_msg("timed out waiting for %s", what);
        }
        size_t n = media_packet(&W.bob, W.bob.ssrc, (*b_seq)++, bob_level, wire, sizeof wire);
        send_raw(&W.bob, wire, n);
        n = media_packet(&W.alice, W.alice.ssrc, (*a_seq)++, alice_level, wire, sizeof wire);
        send_raw(&W.alice, wire, n);
        dt_spin(W.ctx, 20);
    }
}

static void test_mdd_last_n_nack(void **state)
{
    (void)state;
    begin(STACK_LAST_N);
    ep_init(&W.alice, "alice", 0x11111111u);
    ep_init(&W.bob, "bob", 0x22222222u);
    ep_join(&W.alice);
    ep_join(&W.bob);
    WAIT(p_keyed, "ICE, DTLS through the MDD's tunnel and an EKTKey at both endpoints");
    wait_log(2, "conf1/p1: hop-by-hop keys installed");
    wait_log(2, "conf1/p2: hop-by-hop keys installed");
    media_setup();

    /* alice talks first: the one place is hers, bob gets her SEQ as is. */
    uint16_t a_seq = 100, b_seq = 1;
    uint8_t wire[256];
    for (int i = 0; i < 10; i++) {
        size_t n = media_packet(&W.alice, W.alice.ssrc, a_seq++, 40, wire, sizeof wire);
        send_raw(&W.alice, wire, n);
    }
    assert_true(dt_wait_count(W.ctx, &W.bob.rx_ok, 10, WAIT_MS));
    assert_int_equal(W.bob.last_out_seq, 109);

    /* bob louder (20 < 40): once the MDD forwards him to alice, she is no
     * longer selected and her packets stop reaching him. */
    talk_until(p_alice_heard_bob, 40, 20, &a_seq, &b_seq, "bob to be selected");
    /* alice louder than bob: selected again after the hold time. */
    talk_until(p_bob_got_renumbered, 0, 20, &a_seq, &b_seq, "alice's stream to resume for bob");
    assert_int_equal(W.bob.rx_bad, 0);
    assert_true(metric_now("perc_mdd_drops_total{reason=\"not_selected\"} ") > 0);
    /* Renumbered to follow on from what bob saw last: no gap for him,
     * although alice's own SEQ jumped over her packets he did not get. */
    assert_int_equal(W.bob.renum_out, (uint16_t)(W.bob.renum_prev_out + 1));
    assert_true((uint16_t)(W.bob.renum_orig - W.bob.renum_prev_out) > 1);

    /* bob NACKs the last packet from before the pause (numbered alike for
     * both) and the first after it, with two more lost after that. */
    uint8_t plain[128];
    perc_writer w;
    perc_writer_init(&w, plain, sizeof plain);
    write_rr(&w, &W.bob, &W.alice);
    perc_rtcp_nack_item items[2] = {{.pid = W.bob.renum_prev_out, .blp = 0},
                                    {.pid = W.bob.renum_out, .blp = 0x0003}};
    perc_rtcp_write_nack(&w, W.bob.ssrc, W.alice.ssrc, items, 2);
    send_rtcp(&W.bob, plain, rtcp_finish(&w));
    assert_true(dt_wait_count(W.ctx, &W.alice.rtcp_ok, 1, WAIT_MS));
    assert_int_equal(W.alice.rtcp_bad, 0);
    perc_rtcp_view p;
    perc_rtcp_nack nack;
    assert_int_equal(perc_rtcp_parse_packet(W.alice.last_rtcp, W.alice.last_rtcp_len, &p),
                     PERC_OK); /* one packet: the RR was consumed */
    assert_int_equal(perc_rtcp_parse_nack(&p, &nack), PERC_OK);
    assert_int_equal(nack.sender_ssrc, W.bob.ssrc);
    assert_int_equal(nack.media_ssrc, W.alice.ssrc);
    assert_int_equal(nack.count, 2);
    assert_int_equal(perc_rtcp_nack_get(&nack, 0).pid, W.bob.renum_prev_out);
    assert_int_equal(perc_rtcp_nack_get(&nack, 0).blp, 0);
    /* alice's own SEQ; the lost-bitmap stays relative to it */
    assert_int_equal(perc_rtcp_nack_get(&nack, 1).pid, W.bob.renum_orig);
    assert_int_equal(perc_rtcp_nack_get(&nack, 1).blp, 0x0003);
}

/* Cascade (RFC 8871 §4.5.1, docs/signaling.md §6.8): two MDDs of capacity
 * 1, so alice is placed on mdd-1 and bob on mdd-2; signaling links them,
 * they run ICE and DTLS-SRTP between themselves (no KMF), and alice's media
 * crosses the link to bob, verified end to end. */
static void test_mdd_cascade(void **state)
{
    (void)state;
    begin(STACK_CASCADE);

    ep_init(&W.alice, "alice", 0x11111111u);
    ep_init(&W.bob, "bob", 0x22222222u);
    ep_join(&W.alice);
    wait_log(2, "conf1/p1: hop-by-hop keys installed");
    ep_join(&W.bob);
    WAIT(p_keyed, "both endpoints keyed, each through its own MDD");
    wait_log(3, "conf1/p2: hop-by-hop keys installed");
    wait_log(2, "cascade link");
    wait_log(2, "keyed (profile 0x0007): forwarding");
    wait_log(3, "keyed (profile 0x0007): forwarding");

    media_setup();
    for (uint16_t i = 0; i < N_SEND; i++) {
        uint8_t wire[256];
        size_t n = alice_packet((uint16_t)(3000 + i), wire, sizeof wire);
        send_raw(&W.alice, wire, n);
        dt_spin(W.ctx, 2);
    }
    WAIT(p_bob_got_all, "bob (on mdd-2) to verify every packet alice sent to mdd-1");
    assert_int_equal(W.bob.rx_bad, 0);
    assert_string_equal((const char *)W.bob.last_payload, "alice says 3049");

    /* Neither MDD logged a key. */
    for (int i = 2; i < 4; i++) {
        char *log = read_log(i);
        assert_false(log_leaks(log, &W.alice));
        assert_false(log_leaks(log, &W.bob));
        g_free(log);
    }
}

/* ---- the command line ----------------------------------------------------------------- */

static int run_mdd(const char *const *args, char **errout)
{
    return dt_proc_run(g_mdd_bin, args, false, NULL, errout);
}

static void test_mdd_cli(void **state)
{
    (void)state;
    char *errout = NULL;
    assert_int_equal(run_mdd((const char *[]){"--help", NULL}, &errout), 0);
    g_free(errout);
    /* No way to authenticate the KMF: refused. */
    assert_int_equal(run_mdd((const char *[]){"--signaling", "ws://127.0.0.1:1/", "--kmf",
                                              "127.0.0.1:2", "--cert", W.pki.mdd_pem, "--key",
                                              W.pki.mdd_key, "--signaling-token", "t", NULL},
                             &errout),
                     2);
    assert_non_null(strstr(errout, "--kmf-ca or --kmf-fingerprint is required"));
    g_free(errout);
    assert_int_equal(run_mdd((const char *[]){"--signaling", "ws://127.0.0.1:1/", "--kmf",
                                              "127.0.0.1:2", "--cert", W.pki.mdd_pem, "--key",
                                              W.pki.mdd_key, "--signaling-token", "t",
                                              "--kmf-fingerprint", "12:34", NULL},
                             &errout),
                     2);
    assert_non_null(strstr(errout, "not a SHA-256 fingerprint"));
    g_free(errout);
    assert_int_equal(run_mdd((const char *[]){"--signaling", "ws://127.0.0.1:1/", "--kmf",
                                              "127.0.0.1:2", "--cert", W.pki.mdd_pem, "--key",
                                              W.pki.mdd_key, "--signaling-token", "t", "--kmf-ca",
                                              W.pki.ca_pem, "--media-ports", "9000-10", NULL},
                             &errout),
                     2);
    assert_non_null(strstr(errout, "--media-ports"));
    g_free(errout);
    assert_int_equal(run_mdd((const char *[]){"--signaling", "http://x/", "--kmf", "127.0.0.1:2",
                                              "--cert", W.pki.mdd_pem, "--key", W.pki.mdd_key,
                                              "--signaling-token", "t", "--kmf-ca", W.pki.ca_pem,
                                              NULL},
                             &errout),
                     2);
    assert_non_null(strstr(errout, "--signaling"));
    g_free(errout);
    /* A media address that is not an IP: a clear error at start, exit 1. */
    assert_int_equal(run_mdd((const char *[]){"--signaling", "ws://127.0.0.1:1/", "--kmf",
                                              "127.0.0.1:2", "--cert", W.pki.mdd_pem, "--key",
                                              W.pki.mdd_key, "--signaling-token", "t", "--kmf-ca",
                                              W.pki.ca_pem, "--media-address", "nowhere", NULL},
                             &errout),
                     1);
    assert_non_null(strstr(errout, "'nowhere' is not an IPv4 or IPv6 address"));
    g_free(errout);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s perc-signaling perc-kmf perc-mdd\n", argv[0]);
        return 2;
    }
    g_sig_bin = argv[1];
    g_kmf_bin = argv[2];
    g_mdd_bin = argv[3];
    dt_proc_set_timeout(200, "test_mdd_process");
    perc_log_init("test_mdd_process", PERC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mdd_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdd_last_n_nack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdd_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdd_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
