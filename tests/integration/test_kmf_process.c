/* perc-kmf as a process (argv[1] is the binary), with everything around it
 * played by this test on one GLib main loop:
 *   - a scripted perc-signaling (perc_daemon ws server speaking
 *     docs/signaling.md): welcomes the kmf hello, announces alice, bob and
 *     carol, reads admit/refuse, later says participant-left for alice, and
 *     records every keyed and epoch;
 *   - a test Media Distributor: perc_tunnel_md over a real TLS 1.3
 *     connection (perc_tls client stream) to the KMF's tunnel server;
 *   - three DTLS clients (perc_dtls) whose datagrams go through that MD.
 * alice and bob are admitted (MediaKeys with their outer halves at the MD,
 * the same EKTKey for both); carol is not in the roster: refused at the
 * announcement, and her handshake (as a misbehaving signaling might let
 * her try) is refused with an alert and EndpointDisconnect, no MediaKeys.
 * alice leaves: EndpointDisconnect at the MD, bob gets a new EKTKey with a
 * new SPI, signaling gets epoch. No key bytes in signaling's messages or
 * the KMF's log. SIGTERM: exit 0.
 *
 * A second test runs the binary's --help and a few bad command lines. */
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

#include "daemon_test_proc.h"
#include "daemon_test_util.h"
#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc/secret.h"
#include "perc/signaling.h"
#include "perc/tls.h"
#include "perc/tunnel.h"
#include "perc/tunnel_md.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/log.h"
#include "perc_daemon/tls_stream.h"
#include "perc_daemon/ws.h"

#define TOKEN "daemon-secret-123"
#define CONF "conf1"
#define N_EP 3
#define WAIT_MS 15000

static const char *g_kmf_bin;
static pid_t g_child = -1; /* the perc-kmf of the running test (dt_proc_kill_all reaps it) */

/* ---- the world ---------------------------------------------------------- */

typedef struct ep {
    int idx;
    const char *identity;
    char participant[8];
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    perc_dtls *d;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    char tls_id[40];
    /* signaling's answer */
    int answered;
    bool admitted;
    char kmf_tls_id[64];
    char kmf_fp[128];
    int keyed;
    /* DTLS */
    int n_connected;
    perc_double_keying keying;
    int n_ekt;
    perc_ekt_key_msg ekt[8];
    int n_closed;
    perc_dtls_close_info closed;
    /* at the MD */
    int n_install;
    perc_tunnel_md_keys keys;
    int n_disconnect;
} ep;

typedef struct world {
    GMainContext *ctx;
    GMainLoop *loop;
    perc_ws_context *ws;
    perc_ws_server *sig;
    uint64_t kmf_conn;
    bool welcomed;
    int sig_closed;
    GString *sig_rx;            /* every message the KMF sent to signaling */
    int n_epoch;
    uint16_t epoch_spi[16];
    uint32_t epoch_members[16];
    int n_errors;
    /* MD */
    perc_tunnel_md *md;
    perc_tls_ctx *md_tls;
    perc_tls_client *md_cli;
    int md_opened;
    int md_dropped;
    ep ep[N_EP];
    guint pump_src;
    /* files */
    char *dir;
    dt_stack_pki pki;
    char *roster, *log;
    uint8_t kmf_fp[PERC_DTLS_FINGERPRINT_LEN];
} world;

static world W;

/* ---- scripted signaling --------------------------------------------------- */

static void sig_send(const perc_sig_msg *m)
{
    static char buf[PERC_SIG_MAX_MESSAGE + 1];
    size_t len;
    perc_sig_error err;
    assert_int_equal(perc_sig_encode(m, buf, sizeof buf, &len, &err), PERC_OK);
    GError *e = NULL;
    assert_true(perc_ws_server_send(W.sig, W.kmf_conn, buf, len, &e));
}

static ep *ep_by_re(const char *re)
{
    for (int i = 0; i < N_EP; i++)
        if (re && strcmp(re, W.ep[i].participant) == 0)
            return &W.ep[i];
    static ep none;
    fprintf(stderr, "signaling: a message about unknown participant %s\n", re ? re : "(none)");
    W.n_errors++;
    return &none;
}

static void s_open(void *user, perc_ws_server *srv, uint64_t conn, const char *peer)
{
    (void)user;
    (void)srv;
    (void)peer;
    W.kmf_conn = conn;
}

static void s_message(void *user, perc_ws_server *srv, uint64_t conn, const char *text, size_t len)
{
    (void)user;
    (void)srv;
    (void)conn;
    g_string_append_len(W.sig_rx, text, (gssize)len);
    g_string_append_c(W.sig_rx, '\n');
    perc_sig_msg m;
    perc_sig_error err;
    int rc = perc_sig_decode(text, len, &m, &err);
    if (rc != PERC_OK) {
        fprintf(stderr, "signaling got a bad message: %.*s\n", (int)len, text);
        W.n_errors++;
        return;
    }
    switch (m.type) {
    case PERC_SIG_HELLO: {
        assert_int_equal(m.role, PERC_SIG_ROLE_KMF);
        assert_string_equal(m.token, TOKEN);
        assert_string_equal(m.name, "kmf-test");
        perc_sdp_fingerprint fp;
        assert_int_equal(perc_sig_fingerprint_parse(m.fingerprint, &fp), PERC_OK);
        assert_int_equal(fp.len, PERC_DTLS_FINGERPRINT_LEN);
        assert_memory_equal(fp.value, W.kmf_fp, PERC_DTLS_FINGERPRINT_LEN);
        perc_sig_msg r;
        perc_sig_msg_init(&r);
        r.type = PERC_SIG_WELCOME;
        r.re = m.id;
        r.session = "k1";
        sig_send(&r);
        W.welcomed = true;
        break;
    }
    case PERC_SIG_ADMIT: {
        ep *e = ep_by_re(m.re);
        e->answered++;
        e->admitted = true;
        g_strlcpy(e->kmf_tls_id, m.tls_id, sizeof e->kmf_tls_id);
        g_strlcpy(e->kmf_fp, m.fingerprint, sizeof e->kmf_fp);
        break;
    }
    case PERC_SIG_REFUSE: {
        ep *e = ep_by_re(m.re);
        e->answered++;
        e->admitted = false;
        break;
    }
    case PERC_SIG_KEYED: {
        assert_string_equal(m.conference, CONF);
        ep *e = ep_by_re(m.participant);
        e->keyed++;
        break;
    }
    case PERC_SIG_EPOCH:
        assert_string_equal(m.conference, CONF);
        assert_true(W.n_epoch < 16);
        W.epoch_spi[W.n_epoch] = m.spi;
        W.epoch_members[W.n_epoch] = m.members;
        W.n_epoch++;
        break;
    default:
        fprintf(stderr, "signaling got an unexpected %s\n", perc_sig_type_name(m.type));
        W.n_errors++;
        break;
    }
    perc_sig_msg_clear(&m);
}

static void s_close(void *user, perc_ws_server *srv, uint64_t conn, int code, const char *reason)
{
    (void)user;
    (void)srv;
    (void)conn;
    (void)code;
    (void)reason;
    W.sig_closed++;
}

static const perc_ws_server_callbacks sig_cbs = {s_open, s_message, s_close, NULL};

static void announce(ep *e)
{
    char fp[PERC_DTLS_FINGERPRINT_TEXT_LEN], fps[16 + PERC_DTLS_FINGERPRINT_TEXT_LEN];
    assert_int_equal(perc_dtls_fingerprint_format(e->fp, fp, sizeof fp), PERC_OK);
    g_snprintf(fps, sizeof fps, "sha-256 %s", fp);
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_PARTICIPANT;
    m.id = e->participant;
    m.conference = CONF;
    m.participant = e->participant;
    m.identity = e->identity;
    m.fingerprint = fps;
    m.tls_id = e->tls_id;
    sig_send(&m);
}

/* ---- the test Media Distributor ------------------------------------------ */

static uint8_t g_buf[65536 + 64];

static void md_flush(void)
{
    perc_tls_stream *s = W.md_cli ? perc_tls_client_stream(W.md_cli) : NULL;
    for (;;) {
        size_t len = 0;
        assert_int_equal(perc_tunnel_md_pending_send(W.md, g_buf, sizeof g_buf, &len), PERC_OK);
        if (len == 0)
            return;
        if (!s || !perc_tls_stream_is_open(s))
            continue;
        GError *e = NULL;
        assert_true(perc_tls_stream_write(s, g_buf, len, &e));
    }
}

static void md_event(void *user, const perc_tunnel_md_event *ev)
{
    (void)user;
    if (ev->type == PERC_TUNNEL_MD_DROPPED) {
        W.md_dropped++;
        return;
    }
    assert_true(ev->handle < N_EP);
    ep *e = &W.ep[ev->handle];
    switch (ev->type) {
    case PERC_TUNNEL_MD_DTLS_TO_ENDPOINT:
        if (e->d) {
            int rc = perc_dtls_recv(e->d, ev->dtls.ptr, ev->dtls.len, perc_clock_now_ns());
            (void)rc; /* a refused handshake fails here */
        }
        break;
    case PERC_TUNNEL_MD_INSTALL_KEYS:
        e->n_install++;
        e->keys = *ev->keys;
        break;
    case PERC_TUNNEL_MD_KD_DISCONNECT:
        e->n_disconnect++;
        break;
    default:
        fail_msg("unexpected MD event %d", (int)ev->type);
    }
}

static int md_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)g_random_int();
    return 0;
}

static void md_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    (void)user;
    (void)s;
    assert_memory_equal(fp, W.kmf_fp, PERC_TLS_FINGERPRINT_LEN); /* same cert for TLS and DTLS */
    W.md_opened++;
    assert_int_equal(perc_tunnel_md_reset_connection(W.md), PERC_OK);
    md_flush();
}

static void md_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    (void)user;
    (void)s;
    assert_int_equal(perc_tunnel_md_recv(W.md, data, len), PERC_OK);
    md_flush();
}

static void md_closed(void *user, perc_tls_stream *s, const char *reason)
{
    (void)user;
    (void)s;
    (void)reason;
    int rc = perc_tunnel_md_connection_down(W.md);
    (void)rc;
}

static const perc_tls_stream_callbacks md_cbs = {md_opened, md_data, md_closed};

/* A second, authenticated Media Distributor connection that sends garbage:
 * the KMF must drop it alone. */
static int g_bad_closed;

static void bad_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    (void)user;
    (void)fp;
    static const uint8_t junk[] = "\x07\x00\x00\x05garbage, not a TunnelMessage\xff\xff\xff";
    GError *e = NULL;
    assert_true(perc_tls_stream_write(s, junk, sizeof junk, &e));
}

static void bad_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    (void)user;
    (void)s;
    (void)data;
    (void)len;
}

static void bad_closed(void *user, perc_tls_stream *s, const char *reason)
{
    (void)user;
    (void)reason;
    if (!perc_tls_stream_is_client(s))
        return;
    g_bad_closed++;
}

static const perc_tls_stream_callbacks bad_cbs = {bad_opened, bad_data, bad_closed};

static gboolean p_bad_closed(void *d)
{
    (void)d;
    return g_bad_closed >= 1;
}

/* ---- endpoints ------------------------------------------------------------ */

static void ep_connected(void *u, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    (void)profile;
    (void)cipher;
    ep *e = u;
    e->n_connected++;
    assert_int_equal(perc_dtls_get_keying(d, &e->keying), PERC_OK);
}

static int ep_ekt(void *u, perc_dtls *d, const perc_ekt_key_msg *msg)
{
    (void)d;
    ep *e = u;
    assert_true(e->n_ekt < 8);
    e->ekt[e->n_ekt++] = *msg;
    return 0;
}

static void ep_closed(void *u, perc_dtls *d, const perc_dtls_close_info *ci)
{
    (void)d;
    ep *e = u;
    e->n_closed++;
    e->closed = *ci;
}

static void ep_start(ep *e)
{
    perc_dtls_config cfg;
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, (const uint8_t *)e->tls_id,
                                                 strlen(e->tls_id)),
                     PERC_OK);
    if (e->kmf_tls_id[0])
        assert_int_equal(perc_dtls_config_expect_peer_tls_id(&cfg, (const uint8_t *)e->kmf_tls_id,
                                                             strlen(e->kmf_tls_id)),
                         PERC_OK);
    perc_dtls_config_expect_peer_fingerprint(&cfg, W.kmf_fp);
    perc_dtls_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.user = e;
    cbs.connected = ep_connected;
    cbs.ekt_key = ep_ekt;
    cbs.closed = ep_closed;
    assert_int_equal(perc_dtls_new(e->ctx, &cfg, &cbs, &e->d), PERC_OK);
    assert_int_equal(perc_dtls_start(e->d, perc_clock_now_ns()), PERC_OK);
}

/* Every 5 ms: endpoint timers, endpoint datagrams into the MD, MD output
 * to the KMF. */
static gboolean pump(gpointer user)
{
    (void)user;
    uint64_t now = perc_clock_now_ns();
    for (int i = 0; i < N_EP; i++) {
        ep *e = &W.ep[i];
        if (!e->d)
            continue;
        if (perc_dtls_next_timeout(e->d) <= now)
        {
            int rc = perc_dtls_on_timeout(e->d, now);
            (void)rc; /* a failed handshake is seen in the closed callback */
        }
        for (;;) {
            size_t len = 0;
            assert_int_equal(perc_dtls_pull(e->d, g_buf, sizeof g_buf, &len), PERC_OK);
            if (len == 0)
                break;
            if (e->n_disconnect || perc_tunnel_md_get_state(W.md) != PERC_TUNNEL_MD_OPEN)
                continue; /* a real MD stops relaying after EndpointDisconnect */
            perc_uuid id;
            int rc = perc_tunnel_md_dtls_from_endpoint(W.md, (uint64_t)i, g_buf, len, &id);
            /* NOT_FOUND: the KMF ended the association (its EndpointDisconnect
             * not yet counted) and this is no ClientHello: dropped, as
             * perc-mdd does */
            assert_true(rc == PERC_OK || rc == PERC_ERR_NOT_FOUND);
        }
    }
    md_flush();
    return G_SOURCE_CONTINUE;
}

/* ---- predicates ------------------------------------------------------------ */

static gboolean p_welcomed(void *d)
{
    (void)d;
    return W.welcomed;
}
static gboolean p_md_open(void *d)
{
    (void)d;
    return W.md_opened > 0 && perc_tunnel_md_get_state(W.md) == PERC_TUNNEL_MD_OPEN;
}
static gboolean p_answers(void *d)
{
    (void)d;
    for (int i = 0; i < N_EP; i++)
        if (!W.ep[i].answered)
            return FALSE;
    return TRUE;
}
static gboolean p_keyed(void *d)
{
    (void)d;
    return W.ep[0].n_ekt >= 1 && W.ep[1].n_ekt >= 1 && W.ep[0].n_install >= 1 &&
           W.ep[1].n_install >= 1 && W.ep[0].keyed >= 1 && W.ep[1].keyed >= 1 &&
           W.ep[2].n_closed >= 1 && W.ep[2].n_disconnect >= 1;
}
static gboolean p_rekeyed(void *d)
{
    (void)d;
    if (W.ep[0].n_disconnect < 1 || W.ep[1].n_ekt < 2)
        return FALSE;
    for (int i = 0; i < W.n_epoch; i++)
        if (W.epoch_spi[i] == W.ep[1].ekt[W.ep[1].n_ekt - 1].spi && W.epoch_members[i] == 1)
            return TRUE;
    return FALSE;
}

static char *read_log(void);

static gboolean p_bob_gone(void *d)
{
    (void)d;
    char *t = read_log();
    gboolean r = strstr(t, "participant 'bob' left conference 'conf1'") != NULL;
    g_free(t);
    return r;
}

/* ---- the KMF process --------------------------------------------------- */

static void spawn_kmf(uint16_t tunnel_port, uint16_t sig_port)
{
    char listen[32], url[64];
    g_snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)tunnel_port);
    g_snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)sig_port);
    const char *args[] = {g_kmf_bin, "--listen", listen, "--cert", W.pki.kmf_pem, "--key",
                          W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--signaling", url,
                          "--name", "kmf-test", "--roster", W.roster, "--log-level", "debug",
                          NULL};
    /* The token through the environment variable path. */
    g_child = dt_proc_spawn(args, W.log, "PERC_KMF_SIGNALING_TOKEN", TOKEN);
    assert_true(g_child > 0);
}

static char *read_log(void)
{
    return dt_read_file(W.log);
}

static void dump_log_on_failure(void)
{
    char *t = read_log();
    fprintf(stderr, "---- perc-kmf log ----\n%s---- end ----\n", t);
    g_free(t);
}

static bool text_leaks_keys(const char *text)
{
    for (int i = 0; i < 2; i++) {
        const ep *e = &W.ep[i];
        for (int k = 0; k < e->n_ekt; k++)
            if (dt_text_has_hex(text, e->ekt[k].key, e->ekt[k].key_len) ||
                dt_text_has_hex(text, e->ekt[k].salt, e->ekt[k].salt_len))
                return true;
        const perc_double_master *m[2] = {&e->keying.client_write, &e->keying.server_write};
        for (int k = 0; k < 2; k++)
            if (dt_text_has_hex(text, m[k]->outer.key, m[k]->outer.key_len) ||
                dt_text_has_hex(text, m[k]->inner.key, m[k]->inner.key_len) ||
                dt_text_has_hex(text, m[k]->outer.salt, PERC_SRTP_SALT_LEN) ||
                dt_text_has_hex(text, m[k]->inner.salt, PERC_SRTP_SALT_LEN))
                return true;
    }
    return false;
}

/* ---- setup ------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.ctx = g_main_context_new();
    W.loop = g_main_loop_new(W.ctx, FALSE);
    W.sig_rx = g_string_new(NULL);
    W.dir = dt_tmpdir_new();
    dt_stack_pki_make(W.dir, &W.pki);
    assert_int_equal(perc_dtls_cert_fingerprint(W.pki.kmf_cert, W.kmf_fp), PERC_OK);
    W.log = g_build_filename(W.dir, "kmf.log", NULL);

    static const char *names[N_EP] = {"alice", "bob", "carol"};
    for (int i = 0; i < N_EP; i++) {
        ep *e = &W.ep[i];
        e->idx = i;
        e->identity = names[i];
        g_snprintf(e->participant, sizeof e->participant, "p%d", i + 1);
        assert_int_equal(perc_dtls_identity_generate(names[i], &e->cert, &e->key), PERC_OK);
        assert_int_equal(perc_dtls_cert_fingerprint(e->cert, e->fp), PERC_OK);
        perc_dtls_ctx_config cc = {e->cert, e->key, NULL, NULL};
        assert_int_equal(perc_dtls_ctx_new(&cc, &e->ctx), PERC_OK);
        g_snprintf(e->tls_id, sizeof e->tls_id, "EndpointTlsId%d-abcdefghijklmno", i);
    }
    /* Roster: alice by identity, bob by identity and fingerprint; not carol. */
    char bob_fp[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    assert_int_equal(perc_dtls_fingerprint_format(W.ep[1].fp, bob_fp, sizeof bob_fp), PERC_OK);
    char *roster = g_strdup_printf(
        "{\"conferences\": {\"" CONF "\": {\"open\": false, \"allow\": ["
        "{\"identity\": \"alice\"}, {\"identity\": \"bob\", \"fingerprint\": \"%s\"}]}}}",
        bob_fp);
    W.roster = g_build_filename(W.dir, "roster.json", NULL);
    assert_true(g_file_set_contents(W.roster, roster, -1, NULL));
    g_free(roster);
    return 0;
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
    perc_tls_client_free(W.md_cli);
    perc_ws_server_free(W.sig);
    if (W.ws)
        dt_spin(W.ctx, 50);
    perc_ws_context_free(W.ws);
    perc_tunnel_md_free(W.md);
    perc_tls_ctx_free(W.md_tls);
    for (int i = 0; i < N_EP; i++) {
        ep *e = &W.ep[i];
        perc_dtls_free(e->d);
        perc_dtls_ctx_free(e->ctx);
        X509_free(e->cert);
        EVP_PKEY_free(e->key);
        perc_double_keying_wipe(&e->keying);
        perc_wipe(e->ekt, sizeof e->ekt);
        perc_wipe(&e->keys, sizeof e->keys);
    }
    g_main_loop_unref(W.loop);
    g_main_context_unref(W.ctx);
    g_string_free(W.sig_rx, TRUE);
    dt_stack_pki_free(&W.pki);
    g_free(W.roster);
    g_free(W.log);
    dt_tmpdir_free(W.dir);
    return 0;
}

#define WAIT(pred, what)                                                                        \
    do {                                                                                        \
        if (!dt_wait(W.ctx, pred, NULL, WAIT_MS)) {                                             \
            dump_log_on_failure();                                                              \
            fail_msg("timed out waiting for %s", what);                                         \
        }                                                                                       \
    } while (0)

static void test_kmf_process(void **state)
{
    (void)state;
    GError *err = NULL;
    W.ws = perc_ws_context_new(W.loop, &err);
    assert_non_null(W.ws);
    perc_ws_server_options so;
    memset(&so, 0, sizeof so);
    assert_true(perc_hostport_parse("127.0.0.1:0", &so.listen, &err));
    so.subprotocol = PERC_SIG_SUBPROTOCOL;
    W.sig = perc_ws_server_new(W.ws, &so, &sig_cbs, NULL, &err);
    if (!W.sig)
        fail_msg("signaling server: %s", err->message);
    uint16_t tunnel_port = dt_free_tcp_port();
    spawn_kmf(tunnel_port, perc_ws_server_port(W.sig));

    /* 1. hello -> welcome */
    WAIT(p_welcomed, "the kmf hello");

    /* 2. the test MD connects over TLS */
    static const uint16_t profiles[] = {0x0009, 0x000A};
    perc_tunnel_md_config mc;
    memset(&mc, 0, sizeof mc);
    mc.profiles = profiles;
    mc.n_profiles = 2;
    mc.random = md_random;
    mc.on_event = md_event;
    assert_int_equal(perc_tunnel_md_new(&mc, &W.md), PERC_OK);
    perc_tls_file_config tc;
    memset(&tc, 0, sizeof tc);
    tc.role = PERC_TLS_CLIENT;
    tc.cert_file = W.pki.mdd_pem;
    tc.key_file = W.pki.mdd_key;
    tc.ca_file = W.pki.ca_pem;
    assert_int_equal(perc_tls_ctx_new_from_files(&tc, &W.md_tls), PERC_OK);
    perc_hostport to;
    char tp[32];
    g_snprintf(tp, sizeof tp, "127.0.0.1:%u", (unsigned)tunnel_port);
    assert_true(perc_hostport_parse(tp, &to, &err));
    perc_tls_stream_options to_opts;
    perc_tls_stream_options_init(&to_opts);
    to_opts.backoff_initial_ms = 100;
    to_opts.backoff_max_ms = 500;
    W.md_cli = perc_tls_client_new(W.ctx, W.md_tls, &to, &to_opts, &md_cbs, NULL, &err);
    assert_non_null(W.md_cli);
    WAIT(p_md_open, "the tunnel");
    GSource *src = g_timeout_source_new(5);
    g_source_set_callback(src, pump, NULL, NULL);
    W.pump_src = g_source_attach(src, W.ctx);
    g_source_unref(src);
    dt_spin(W.ctx, 200); /* SupportedProfiles reaches the KMF */

    /* 3. signaling announces alice, bob, carol */
    for (int i = 0; i < N_EP; i++)
        announce(&W.ep[i]);
    WAIT(p_answers, "admit/refuse");
    assert_true(W.ep[0].admitted);
    assert_true(W.ep[1].admitted);
    assert_false(W.ep[2].admitted); /* not in the roster */
    for (int i = 0; i < 2; i++) {
        perc_sdp_fingerprint fp;
        assert_int_equal(perc_sig_fingerprint_parse(W.ep[i].kmf_fp, &fp), PERC_OK);
        assert_memory_equal(fp.value, W.kmf_fp, PERC_DTLS_FINGERPRINT_LEN);
        assert_true(strlen(W.ep[i].kmf_tls_id) >= 20);
    }

    /* 4. DTLS through the MD; carol tries anyway */
    for (int i = 0; i < N_EP; i++)
        ep_start(&W.ep[i]);
    WAIT(p_keyed, "alice and bob keyed, carol refused");
    for (int i = 0; i < 2; i++) {
        ep *e = &W.ep[i];
        assert_int_equal(e->n_connected, 1);
        assert_int_equal(e->n_closed, 0);
        assert_int_equal(e->n_install, 1);
        assert_int_equal(e->n_disconnect, 0);
        /* MediaKeys: the outer halves, exactly what the endpoint holds */
        assert_int_equal(e->keys.key_len, e->keying.client_write.outer.key_len);
        assert_memory_equal(e->keys.client_write_key, e->keying.client_write.outer.key,
                            e->keys.key_len);
        assert_memory_equal(e->keys.server_write_key, e->keying.server_write.outer.key,
                            e->keys.key_len);
        assert_memory_equal(e->keys.client_write_salt, e->keying.client_write.outer.salt,
                            e->keys.salt_len);
        assert_memory_equal(e->keys.server_write_salt, e->keying.server_write.outer.salt,
                            e->keys.salt_len);
        /* and never the inner halves */
        assert_true(memcmp(e->keys.client_write_key, e->keying.client_write.inner.key,
                           e->keys.key_len) != 0);
    }
    const perc_ekt_key_msg *ka = &W.ep[0].ekt[W.ep[0].n_ekt - 1];
    const perc_ekt_key_msg *kb = &W.ep[1].ekt[W.ep[1].n_ekt - 1];
    assert_int_equal(ka->spi, kb->spi);
    assert_int_equal(ka->key_len, kb->key_len);
    assert_memory_equal(ka->key, kb->key, ka->key_len);
    assert_memory_equal(ka->salt, kb->salt, ka->salt_len);
    uint16_t spi1 = kb->spi;
    int bob_ekts = W.ep[1].n_ekt;
    /* carol: refused inside the handshake, no keys anywhere */
    ep *c = &W.ep[2];
    assert_int_equal(c->n_connected, 0);
    assert_int_equal(c->n_install, 0);
    assert_int_equal(c->n_ekt, 0);
    assert_int_equal(c->keyed, 0);
    assert_true(c->closed.alert >= 0); /* an alert, not a timeout */

    /* 4b. garbage on the tunnel port: a plain TCP peer that is not TLS, and
     * an authenticated MD connection that sends no TunnelMessage. Each is
     * dropped alone. */
    {
        GSocketClient *sc = g_socket_client_new();
        g_socket_client_set_enable_proxy(sc, FALSE); /* no libproxy thread */
        GSocketConnection *conn =
            g_socket_client_connect_to_host(sc, "127.0.0.1", tunnel_port, NULL, &err);
        assert_non_null(conn);
        GOutputStream *os = g_io_stream_get_output_stream(G_IO_STREAM(conn));
        static const char junk[] = "GET / HTTP/1.0\r\n\r\n\x16\x03\x01\xff\xff";
        assert_true(g_output_stream_write_all(os, junk, sizeof junk, NULL, NULL, &err));
        dt_spin(W.ctx, 100);
        g_object_unref(conn);
        g_object_unref(sc);
        g_bad_closed = 0;
        perc_tls_client *bad =
            perc_tls_client_new(W.ctx, W.md_tls, &to, &to_opts, &bad_cbs, NULL, &err);
        assert_non_null(bad);
        if (!dt_wait(W.ctx, p_bad_closed, NULL, WAIT_MS)) {
            perc_tls_client_free(bad);
            dump_log_on_failure();
            fail_msg("the garbage tunnel was not dropped");
        }
        perc_tls_client_free(bad);
        assert_true(W.md_opened == 1); /* the real MD's connection is untouched */
    }

    /* 5. alice leaves */
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_PARTICIPANT_LEFT;
    m.conference = CONF;
    m.participant = "p1";
    m.reason = "leave";
    sig_send(&m);
    WAIT(p_rekeyed, "EndpointDisconnect for alice and bob re-keyed");
    assert_true(W.ep[1].n_ekt > bob_ekts);
    assert_int_not_equal(W.ep[1].ekt[W.ep[1].n_ekt - 1].spi, spi1);
    assert_int_equal(W.ep[1].n_disconnect, 0);
    assert_int_equal(W.ep[1].n_closed, 0);
    assert_int_equal(W.n_errors, 0);

    /* 5b. the MD reports bob gone (EndpointDisconnect to the KMF) */
    assert_int_equal(perc_tunnel_md_endpoint_gone(W.md, 1), PERC_OK);
    md_flush();
    WAIT(p_bob_gone, "the KMF to forget bob after the MD's EndpointDisconnect");

    /* 6. no key in what signaling got, nor in the KMF's log */
    dt_spin(W.ctx, 200);
    assert_false(text_leaks_keys(W.sig_rx->str));
    assert_null(strstr(W.sig_rx->str, "\"key\""));
    char *log = read_log();
    bool leaked = text_leaks_keys(log);
    bool has_token = strstr(log, TOKEN) != NULL;
    bool mentions_carol = strstr(log, "carol") != NULL;
    bool mentions_drop = strstr(log, "dropped") != NULL;
    if (leaked || has_token || !mentions_carol || !mentions_drop || g_getenv("KMF_TEST_SHOW_LOG"))
        fprintf(stderr, "---- perc-kmf log ----\n%s---- end ----\n", log);
    g_free(log);
    assert_false(leaked);
    assert_false(has_token);
    assert_true(mentions_carol);
    assert_true(mentions_drop);

    /* 7. SIGTERM: clean exit */
    assert_int_equal(kill(g_child, SIGTERM), 0);
    int code = -2; /* still running; the loop serves the KMF's signaling meanwhile */
    for (int i = 0; i < 1000 && code == -2; i++) {
        dt_spin(W.ctx, 10);
        code = dt_proc_wait_for(g_child, 0);
    }
    if (code != 0)
        dump_log_on_failure();
    assert_int_equal(code, 0);
}

/* ---- the command line ------------------------------------------------------ */

/* A clean environment: no PERC_KMF_* from the caller. */
static int run_kmf(const char *const *args, char **out, char **errout)
{
    return dt_proc_run(g_kmf_bin, args, true, out, errout);
}

static void test_kmf_cli(void **state)
{
    (void)state;
    char *out = NULL, *errout = NULL;
    const char *help[] = {"--help", NULL};
    assert_int_equal(run_kmf(help, &out, &errout), 0);
    static const char *const names[] = {
        "--listen", "--cert", "--key", "--dtls-cert", "--dtls-key", "--tunnel-ca",
        "--tunnel-peer-fingerprint", "--tunnel-idle-timeout", "--signaling",
        "--signaling-token", "--signaling-ca", "--name", "--roster", "--open",
        "--rekey-on-join", "--ekt-ttl", "--ekt-cipher", "--keylog", "--log-level", "--help", "--version",
        "PERC_KMF_LISTEN", "PERC_KMF_ROSTER", "PERC_KMF_SIGNALING_TOKEN"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (!strstr(out, names[i]))
            fail_msg("--help does not list %s", names[i]);
    g_free(out);
    g_free(errout);

    const char *version[] = {"--version", NULL};
    assert_int_equal(run_kmf(version, &out, &errout), 0);
    assert_non_null(strstr(out, "perc-kmf"));
    g_free(out);
    g_free(errout);

    struct {
        const char *args[16];
        const char *needle;
    } bad[] = {
        {{"--bogus", NULL}, "--bogus"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--roster", W.roster, NULL}, "--tunnel-ca"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, NULL}, "--roster"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          "--roster", W.roster, NULL},
         "--open"},
        {{"--cert", "/nonexistent.pem", "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          NULL},
         "--cert"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-peer-fingerprint", "zz", "--open",
          NULL},
         "--tunnel-peer-fingerprint"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          "--listen", "nope", NULL},
         "--listen"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          "--signaling", "ws://127.0.0.1:1/", NULL},
         "--signaling-token"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          "--ekt-ttl", "0", NULL},
         "--ekt-ttl"},
        {{"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--open",
          "--ekt-cipher", "rot13", NULL},
         "--ekt-cipher"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int rc = run_kmf(bad[i].args, &out, &errout);
        if (rc == 0 || !strstr(errout, bad[i].needle))
            fail_msg("case %zu: exit %d, stderr: %s", i, rc, errout);
        g_free(out);
        g_free(errout);
    }

    /* A bad roster file: exit non-zero, naming --roster. */
    char *badroster = g_build_filename(W.dir, "bad.json", NULL);
    assert_true(g_file_set_contents(
        badroster, "{\"conferences\": {\"c\": {\"allow\": [{\"fingerprint\": \"xx\"}]}}}", -1,
        NULL));
    const char *br[] = {"--cert", W.pki.kmf_pem, "--key", W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem,
                        "--roster", badroster, "--listen", "127.0.0.1:0", NULL};
    int rc = run_kmf(br, &out, &errout);
    if (rc == 0 || !strstr(errout, "--roster"))
        fail_msg("bad roster: exit %d, stderr: %s", rc, errout);
    g_free(out);
    g_free(errout);
    g_free(badroster);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-perc-kmf\n", argv[0]);
        return 2;
    }
    g_kmf_bin = argv[1];
    dt_proc_set_timeout(100, "test_kmf_process");
    if (g_getenv("PERC_TEST_DEBUG"))
        perc_log_set_level(PERC_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kmf_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kmf_process, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dt_proc_kill_all();
    return rc;
}
