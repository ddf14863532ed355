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
 * Three more scenarios, each against a fresh perc-kmf:
 *   - test_kmf_untrusted_md: a Media Distributor whose certificate another
 *     CA issued is refused in the TLS handshake; none of its messages is
 *     taken, the KMF keeps running and serves a trusted MD afterwards;
 *   - test_kmf_fingerprint_mismatch: an impostor with alice's tls-id and
 *     another certificate is refused in the handshake, bob is keyed
 *     meanwhile, alice herself afterwards;
 *   - test_kmf_tls_id_mismatch: alice with a tls-id other than the one
 *     announced is refused at the ClientHello, then keyed with the right
 *     one.
 *
 * test_kmf_cli runs the binary's --help and a few bad command lines. */
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
#include <glib/gstdio.h>

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
    uint16_t tunnel_port;
    /* an untrusted Media Distributor (test_kmf_untrusted_md) */
    dt_stack_pki rogue_pki;
    perc_tls_ctx *rogue_tls;
    perc_tls_client *rogue_cli;
    perc_tunnel_md *rogue_md;
    uint8_t rogue_hello[2048];  /* a real ClientHello it tunnels, once open */
    size_t rogue_hello_len;
    int rogue_opened, rogue_closed, rogue_events;
    size_t rogue_rx;            /* application bytes the KMF sent it: must stay 0 */
    char rogue_reason[256];
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

/* A Media Distributor whose certificate the KMF does not trust (issued by
 * another CA). Under TLS 1.3 its handshake completes on the client's side
 * before the KMF has checked the client certificate, so `opened` fires and
 * it sends what a real MD would: SupportedProfiles, then an endpoint's
 * ClientHello in TunneledDtls (RFC 9185 §5.3). Whatever the KMF sends back
 * as application data is counted: an authorised tunnel would answer the
 * ClientHello. */
static void rogue_event(void *user, const perc_tunnel_md_event *ev)
{
    (void)user;
    (void)ev;
    W.rogue_events++;
}

static void rogue_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    (void)user;
    (void)fp;
    W.rogue_opened++;
    assert_int_equal(perc_tunnel_md_reset_connection(W.rogue_md), PERC_OK);
    perc_uuid id;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(W.rogue_md, 0, W.rogue_hello,
                                                       W.rogue_hello_len, &id),
                     PERC_OK);
    for (;;) {
        size_t len = 0;
        assert_int_equal(perc_tunnel_md_pending_send(W.rogue_md, g_buf, sizeof g_buf, &len),
                         PERC_OK);
        if (len == 0)
            break;
        GError *e = NULL;
        if (!perc_tls_stream_write(s, g_buf, len, &e))
            g_clear_error(&e); /* the refusal may already have closed it */
    }
}

static void rogue_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    (void)user;
    (void)s;
    (void)data;
    W.rogue_rx += len;
}

static void rogue_closed(void *user, perc_tls_stream *s, const char *reason)
{
    (void)user;
    (void)s;
    if (W.rogue_closed++ == 0)
        g_strlcpy(W.rogue_reason, reason, sizeof W.rogue_reason);
    int rc = perc_tunnel_md_connection_down(W.rogue_md);
    (void)rc;
}

static const perc_tls_stream_callbacks rogue_cbs = {rogue_opened, rogue_data, rogue_closed};

static gboolean p_rogue_closed(void *d)
{
    (void)d;
    return W.rogue_closed >= 1;
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
    perc_tls_client_free(W.rogue_cli);
    perc_ws_server_free(W.sig);
    if (W.ws)
        dt_spin(W.ctx, 50);
    perc_ws_context_free(W.ws);
    perc_tunnel_md_free(W.md);
    perc_tls_ctx_free(W.md_tls);
    perc_tunnel_md_free(W.rogue_md);
    perc_tls_ctx_free(W.rogue_tls);
    dt_stack_pki_free(&W.rogue_pki);
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

#define WAIT_FOR(pred, data, what)                                                              \
    do {                                                                                        \
        if (!dt_wait(W.ctx, pred, data, WAIT_MS)) {                                             \
            dump_log_on_failure();                                                              \
            fail_msg("timed out waiting for %s", what);                                         \
        }                                                                                       \
    } while (0)
#define WAIT(pred, what) WAIT_FOR(pred, NULL, what)

/* Per-endpoint and log predicates (data: the ep, or the text looked for). */
static gboolean p_ep_answered(void *d)
{
    return ((const ep *)d)->answered >= 1;
}
/* Keyed as far as all three parties can tell: the endpoint holds an
 * EKTKey, the MD its MediaKeys, signaling got `keyed`. */
static gboolean p_ep_keyed(void *d)
{
    const ep *e = d;
    return e->n_ekt >= 1 && e->n_install >= 1 && e->keyed >= 1;
}
/* Refused inside the handshake: the endpoint's DTLS ended and the MD was
 * told to forget the association (RFC 9185 §5.4: the KD ends an
 * association it will not serve with EndpointDisconnect). */
static gboolean p_ep_refused(void *d)
{
    const ep *e = d;
    return e->n_closed >= 1 && e->n_disconnect >= 1;
}
static const char *g_log_needle;
static gboolean p_log_has(void *d)
{
    (void)d;
    char *t = read_log();
    gboolean r = strstr(t, g_log_needle) != NULL;
    g_free(t);
    return r;
}

static gboolean tick(gpointer user)
{
    (void)user;
    return G_SOURCE_CONTINUE;
}

/* Waits for the KMF to log this text. The log file changes outside our
 * main loop, so a 20 ms tick wakes the loop to look again (without it the
 * wait would sleep until some other source fired, or its timeout). */
static void wait_log(const char *needle, const char *what)
{
    g_log_needle = needle;
    GSource *src = g_timeout_source_new(20);
    g_source_set_callback(src, tick, NULL, NULL);
    g_source_attach(src, W.ctx);
    gboolean ok = dt_wait(W.ctx, p_log_has, NULL, WAIT_MS);
    g_source_destroy(src);
    g_source_unref(src);
    if (!ok) {
        dump_log_on_failure();
        fail_msg("timed out waiting for %s", what);
    }
}

/* ---- building the world ------------------------------------------------------ */

/* The scripted signaling server, then perc-kmf pointed at it; returns once
 * the KMF said hello and was welcomed. */
static void kmf_start(void)
{
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
    W.tunnel_port = dt_free_tcp_port();
    spawn_kmf(W.tunnel_port, perc_ws_server_port(W.sig));
    WAIT(p_welcomed, "the kmf hello");
}

/* Where a Media Distributor connects, and how (fast reconnects: a test
 * must not sit out the default 0.5 s doubling backoff). */
static void tunnel_target(perc_hostport *to, perc_tls_stream_options *opts)
{
    GError *err = NULL;
    char tp[32];
    g_snprintf(tp, sizeof tp, "127.0.0.1:%u", (unsigned)W.tunnel_port);
    assert_true(perc_hostport_parse(tp, to, &err));
    perc_tls_stream_options_init(opts);
    opts->backoff_initial_ms = 100;
    opts->backoff_max_ms = 500;
}

static const uint16_t g_md_profiles[] = {0x0009, 0x000A};

static perc_tunnel_md *tunnel_md_new(void (*on_event)(void *, const perc_tunnel_md_event *))
{
    perc_tunnel_md_config mc;
    memset(&mc, 0, sizeof mc);
    mc.profiles = g_md_profiles;
    mc.n_profiles = G_N_ELEMENTS(g_md_profiles);
    mc.random = md_random;
    mc.on_event = on_event;
    perc_tunnel_md *md = NULL;
    assert_int_equal(perc_tunnel_md_new(&mc, &md), PERC_OK);
    return md;
}

/* A TLS client context for a Media Distributor with this identity. It
 * trusts the KMF's CA, so a refusal can only come from the KMF's side. */
static perc_tls_ctx *md_tls_new(const char *cert_pem, const char *key_pem)
{
    perc_tls_file_config tc;
    memset(&tc, 0, sizeof tc);
    tc.role = PERC_TLS_CLIENT;
    tc.cert_file = cert_pem;
    tc.key_file = key_pem;
    tc.ca_file = W.pki.ca_pem;
    perc_tls_ctx *ctx = NULL;
    assert_int_equal(perc_tls_ctx_new_from_files(&tc, &ctx), PERC_OK);
    return ctx;
}

/* The test MD (its certificate issued by the CA the KMF trusts) connects;
 * once the tunnel is open the pump starts relaying the endpoints. */
static void md_start(void)
{
    W.md = tunnel_md_new(md_event);
    W.md_tls = md_tls_new(W.pki.mdd_pem, W.pki.mdd_key);
    perc_hostport to;
    perc_tls_stream_options to_opts;
    tunnel_target(&to, &to_opts);
    GError *err = NULL;
    W.md_cli = perc_tls_client_new(W.ctx, W.md_tls, &to, &to_opts, &md_cbs, NULL, &err);
    assert_non_null(W.md_cli);
    WAIT(p_md_open, "the tunnel");
    GSource *src = g_timeout_source_new(5);
    g_source_set_callback(src, pump, NULL, NULL);
    W.pump_src = g_source_attach(src, W.ctx);
    g_source_unref(src);
    dt_spin(W.ctx, 200); /* SupportedProfiles reaches the KMF */
}

/* Signaling announces these endpoints; returns once the KMF answered each
 * (admit or refuse: see ep.admitted). */
static void announce_and_wait(ep *const *eps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        announce(eps[i]);
    for (size_t i = 0; i < n; i++)
        WAIT_FOR(p_ep_answered, eps[i], "the KMF's answer to an announcement");
}

/* Starts the endpoint's handshake again from scratch, as an endpoint does
 * after a refusal (a new ClientHello: the MD opens a new association). */
static void ep_restart(ep *e)
{
    perc_dtls_free(e->d);
    e->d = NULL;
    e->n_closed = 0;
    memset(&e->closed, 0, sizeof e->closed);
    e->n_disconnect = 0;
    ep_start(e);
}

/* What a keyed endpoint and the MD hold: one handshake, one MediaKeys with
 * exactly the endpoint's outer (hop-by-hop) halves and never its inner
 * (end-to-end) ones (RFC 8871 §6.2; RFC 9185 §5.4, §6.4). */
static void check_keyed(const ep *e)
{
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

/* Both endpoints hold the conference's one current EKTKey (RFC 8871
 * §4.5.1, §6.3: every member gets the same key and salt). */
static void check_same_ekt(const ep *a, const ep *b)
{
    const perc_ekt_key_msg *ka = &a->ekt[a->n_ekt - 1];
    const perc_ekt_key_msg *kb = &b->ekt[b->n_ekt - 1];
    assert_int_equal(ka->spi, kb->spi);
    assert_int_equal(ka->key_len, kb->key_len);
    assert_memory_equal(ka->key, kb->key, ka->key_len);
    assert_memory_equal(ka->salt, kb->salt, ka->salt_len);
}

/* Refused inside the handshake with this fatal alert from the KMF, and no
 * key anywhere: no handshake completed, no EKTKey, no MediaKeys at the MD,
 * no `keyed` at signaling; one EndpointDisconnect at the MD. */
static void check_refused(const ep *e, int alert)
{
    assert_int_equal(e->n_connected, 0);
    assert_int_equal(e->n_install, 0);
    assert_int_equal(e->n_ekt, 0);
    assert_int_equal(e->keyed, 0);
    assert_int_equal(e->n_closed, 1);
    assert_int_equal(e->n_disconnect, 1);
    if (e->closed.alert != alert || !e->closed.alert_from_peer)
        fail_msg("%s: expected alert %d from the KMF, got %d (%s; %s)", e->identity, alert,
                 e->closed.alert, e->closed.alert_from_peer ? "received" : "sent",
                 e->closed.detail);
}

/* KMF_TEST_SHOW_LOG=1: the KMF's log on stderr even when the test passes. */
static void show_log_if_asked(void)
{
    if (g_getenv("KMF_TEST_SHOW_LOG"))
        dump_log_on_failure();
}

static bool kmf_running(void)
{
    return dt_proc_wait_for(g_child, 0) == -2;
}

/* SIGTERM: the KMF exits 0 (the loop keeps serving its signaling
 * connection meanwhile). */
static void kmf_terminate(void)
{
    assert_int_equal(kill(g_child, SIGTERM), 0);
    int code = -2; /* still running */
    for (int i = 0; i < 1000 && code == -2; i++) {
        dt_spin(W.ctx, 10);
        code = dt_proc_wait_for(g_child, 0);
    }
    if (code != 0)
        dump_log_on_failure();
    assert_int_equal(code, 0);
}

static void test_kmf_process(void **state)
{
    (void)state;
    GError *err = NULL;

    /* 1. hello -> welcome */
    kmf_start();

    /* 2. the test MD connects over TLS */
    md_start();
    perc_hostport to;
    perc_tls_stream_options to_opts;
    tunnel_target(&to, &to_opts); /* for 4b */
    uint16_t tunnel_port = W.tunnel_port;

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
    check_keyed(&W.ep[0]);
    check_keyed(&W.ep[1]);
    check_same_ekt(&W.ep[0], &W.ep[1]);
    const perc_ekt_key_msg *kb = &W.ep[1].ekt[W.ep[1].n_ekt - 1];
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
    kmf_terminate();
}

/* RFC 9185 §5.2 and RFC 8871 §3.2.2, §4.5.1: the Key Distributor serves
 * endpoints only through a Media Distributor it has authenticated; an MD
 * whose certificate does not chain to the CA given with --tunnel-ca gets no
 * tunnel at all. The rogue MD here differs from the trusted one only in its
 * issuer (same kind of identity, same name, and it trusts the KMF), and it
 * behaves like a real MD: SupportedProfiles, then alice's real ClientHello.
 * The KMF must refuse it in the TLS handshake, log why, accept none of its
 * messages (no tunnel session, no association, no reply), keep running,
 * and still serve a trusted MD afterwards: alice, whose ClientHello the
 * rogue carried, is then keyed through the trusted MD as if nothing had
 * happened (had the rogue's association been created, her tls-id would be
 * taken by it). */
static void test_kmf_untrusted_md(void **state)
{
    (void)state;
    ep *alice = &W.ep[0];
    kmf_start();
    ep *const eps[] = {alice};
    announce_and_wait(eps, 1);
    assert_true(alice->admitted);

    /* alice's first flight, held for the rogue to tunnel (no MD relays
     * yet: the pump starts with the trusted MD) */
    ep_start(alice);
    assert_int_equal(perc_dtls_pull(alice->d, W.rogue_hello, sizeof W.rogue_hello,
                                    &W.rogue_hello_len),
                     PERC_OK);
    assert_true(W.rogue_hello_len > 0);
    perc_dtls_free(alice->d);
    alice->d = NULL;

    /* the rogue: a complete second PKI of its own, only its MD identity used */
    char *rogue_dir = g_build_filename(W.dir, "rogue", NULL);
    assert_int_equal(g_mkdir(rogue_dir, 0700), 0);
    dt_stack_pki_make(rogue_dir, &W.rogue_pki);
    g_free(rogue_dir);
    W.rogue_md = tunnel_md_new(rogue_event);
    W.rogue_tls = md_tls_new(W.rogue_pki.mdd_pem, W.rogue_pki.mdd_key);
    perc_hostport to;
    perc_tls_stream_options to_opts;
    tunnel_target(&to, &to_opts);
    GError *err = NULL;
    W.rogue_cli = perc_tls_client_new(W.ctx, W.rogue_tls, &to, &to_opts, &rogue_cbs, NULL, &err);
    assert_non_null(W.rogue_cli);
    WAIT(p_rogue_closed, "the untrusted MD's connection to be closed");
    perc_tls_client_free(W.rogue_cli); /* no reconnection attempts */
    W.rogue_cli = NULL;
    /* The TLS handshake got as far as the client's Finished (the KMF's own
     * certificate was fine), and the KMF's refusal came as an alert. */
    assert_int_equal(W.rogue_opened, 1);
    if (!strstr(W.rogue_reason, "alert"))
        fail_msg("the untrusted MD's connection ended without an alert: %s", W.rogue_reason);
    /* Nothing it sent was taken: no byte back, no TunnelMessage for it. */
    assert_int_equal(W.rogue_rx, 0);
    assert_int_equal(W.rogue_events, 0);
    if (g_getenv("KMF_TEST_SHOW_LOG"))
        fprintf(stderr, "the untrusted MD's connection ended: %s\n", W.rogue_reason);

    /* The KMF logs the refusal, with the reason, as a connection that never
     * opened; no tunnel session and no association were created. */
    wait_log("ended before it opened", "the KMF to log the untrusted MD's refusal");
    char *log = read_log();
    bool says_why = strstr(log, "not trusted") != NULL;
    bool tunnel_opened = strstr(log, "opened (Media Distributor") != NULL;
    bool profiles_taken = strstr(log, "Media Distributor offers profiles") != NULL;
    bool assoc_made = strstr(log, "new on connection") != NULL;
    if (!says_why || tunnel_opened || profiles_taken || assoc_made)
        fprintf(stderr, "---- perc-kmf log ----\n%s---- end ----\n", log);
    g_free(log);
    assert_true(says_why);
    assert_false(tunnel_opened);
    assert_false(profiles_taken); /* its SupportedProfiles */
    assert_false(assoc_made);     /* its TunneledDtls */
    assert_true(kmf_running());

    /* A trusted MD is served afterwards: tunnel open, alice keyed. */
    md_start();
    assert_int_equal(W.md_opened, 1);
    ep_start(alice);
    WAIT_FOR(p_ep_keyed, alice, "alice keyed through the trusted MD");
    check_keyed(alice);
    assert_int_equal(W.n_errors, 0);
    log = read_log();
    bool leaked = text_leaks_keys(log);
    g_free(log);
    assert_false(leaked);
    show_log_if_asked();
    kmf_terminate();
}

/* RFC 9185 §5.4 (and RFC 8871 §3.2.2): the KD accepts an endpoint's DTLS
 * association only when the certificate it presents has the fingerprint
 * that signaling announced for the participant its tls-id names. An
 * impostor that copied alice's tls-id (and expects the KMF's tls-id from
 * her answer) but holds another certificate is refused inside the
 * handshake: a fatal alert at the impostor (handshake_failure, not
 * access_denied: the refusal is decided in OpenSSL's certificate callback,
 * conformance gap G19), EndpointDisconnect at the MD, no MediaKeys, no
 * EKTKey, no `keyed`. Bob, handshaking at the same time, is keyed as usual.
 * A refusal keeps alice's announcement: alice herself is keyed afterwards
 * (an impostor cannot lock her out), gets bob's EKTKey, and bob is never
 * re-keyed since the impostor never held the key. */
static void test_kmf_fingerprint_mismatch(void **state)
{
    (void)state;
    ep *alice = &W.ep[0], *bob = &W.ep[1], *imp = &W.ep[2];
    kmf_start();
    md_start();
    ep *const eps[] = {alice, bob};
    announce_and_wait(eps, 2);
    assert_true(alice->admitted);
    assert_true(bob->admitted);

    /* carol's certificate and slot (carol is never announced) */
    imp->identity = "impostor";
    g_strlcpy(imp->tls_id, alice->tls_id, sizeof imp->tls_id);
    g_strlcpy(imp->kmf_tls_id, alice->kmf_tls_id, sizeof imp->kmf_tls_id);
    assert_true(memcmp(imp->fp, alice->fp, sizeof imp->fp) != 0);
    ep_start(imp);
    ep_start(bob);
    WAIT_FOR(p_ep_refused, imp, "the impostor refused");
    WAIT_FOR(p_ep_keyed, bob, "bob keyed");
    check_refused(imp, 40 /* handshake_failure */);
    check_keyed(bob);
    wait_log("certificate fingerprint does not match the one signaled for 'alice'",
             "the KMF to log the fingerprint mismatch");

    ep_start(alice);
    WAIT_FOR(p_ep_keyed, alice, "alice keyed after the impostor's refusal");
    check_keyed(alice);
    check_same_ekt(alice, bob);
    assert_int_equal(bob->n_ekt, 1);
    check_keyed(bob);
    assert_int_equal(imp->n_ekt, 0);
    assert_int_equal(imp->n_install, 0);
    assert_int_equal(alice->keyed, 1);
    assert_int_equal(W.n_errors, 0);
    char *log = read_log();
    bool leaked = text_leaks_keys(log);
    g_free(log);
    assert_false(leaked);
    show_log_if_asked();
    kmf_terminate();
}

/* RFC 9185 §5.4 (and RFC 8871 §3.2.2): the endpoint's external_session_id
 * must be the tls-id signaling announced. Alice, with her announced
 * certificate but another tls-id in her ClientHello, names no announced
 * participant and is refused at the ClientHello with access_denied
 * (conformance row T25; contrast handshake_failure for the fingerprint,
 * G19), EndpointDisconnect at the MD and no keys. Bob is undisturbed. Her
 * announcement stays: retrying with the announced tls-id, she is keyed. */
static void test_kmf_tls_id_mismatch(void **state)
{
    (void)state;
    ep *alice = &W.ep[0], *bob = &W.ep[1];
    kmf_start();
    md_start();
    ep *const eps[] = {alice, bob};
    announce_and_wait(eps, 2);
    assert_true(alice->admitted);
    assert_true(bob->admitted);

    char announced[sizeof alice->tls_id];
    g_strlcpy(announced, alice->tls_id, sizeof announced);
    g_strlcpy(alice->tls_id, "NotTheAnnouncedTlsId-0123456789", sizeof alice->tls_id);
    ep_start(alice);
    ep_start(bob);
    WAIT_FOR(p_ep_refused, alice, "alice refused for her tls-id");
    WAIT_FOR(p_ep_keyed, bob, "bob keyed");
    check_refused(alice, 49 /* access_denied */);
    check_keyed(bob);
    wait_log("tls-id not announced", "the KMF to log the unknown tls-id");

    g_strlcpy(alice->tls_id, announced, sizeof alice->tls_id);
    ep_restart(alice);
    WAIT_FOR(p_ep_keyed, alice, "alice keyed with her announced tls-id");
    check_keyed(alice);
    check_same_ekt(alice, bob);
    assert_int_equal(bob->n_ekt, 1);
    check_keyed(bob);
    assert_int_equal(alice->keyed, 1);
    assert_int_equal(W.n_errors, 0);
    show_log_if_asked();
    kmf_terminate();
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
        cmocka_unit_test_setup_teardown(test_kmf_untrusted_md, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kmf_fingerprint_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kmf_tls_id_mismatch, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dt_proc_kill_all();
    return rc;
}
