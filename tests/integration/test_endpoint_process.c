/* perc-endpoint as a process in a real stack: perc-signaling, perc-kmf and
 * perc-mdd run as processes on 127.0.0.1 (argv[1..4] are the binaries of
 * signaling, KMF, MDD and endpoint), and perc-endpoint is run as a user
 * would, reading its exit code, its stderr and its --stats JSON.
 *
 *   - three participants in one process (--participants 3) for about 5 s:
 *     every one verifies at least 99 % of every other's packets, no packet
 *     is rejected, every synthetic payload checks out, exit 0;
 *   - a join the KMF's roster refuses: exit 3 and the KMF's reason;
 *   - --kmf-fingerprint pinning another certificate than the KMF's: the
 *     DTLS handshake fails with a clear message, exit 4, no key;
 *   - --identity DIR: a roster that names a certificate admits the endpoint
 *     holding it and refuses one with an ephemeral identity;
 *   - bad input, with the test playing a lying signaling server and a
 *     hostile Media Distributor: junk JSON and unsolicited replies are
 *     logged and the join times out (exit 4); `unavailable` is reported;
 *     a garbage datagram and RTP from an unknown SSRC are dropped with a
 *     log line, and a DTLS alert ends the attempt with a clear message;
 *   - the command line: --help, and bad options exit 2 naming the option.
 *
 * The KMF runs with a roster in which conf1 is open (as --open would be)
 * and conf2 admits only "somebody", so one stack serves every case. On a
 * failure the daemons' logs and the endpoint's stderr are printed. */
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
#include <math.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "daemon_test_proc.h"
#include "daemon_test_util.h"
#include "perc/dtls.h"
#include "perc/sdp.h"
#include "perc/signaling.h"
#include "perc_daemon/addr.h"
#include "perc_daemon/ice.h"
#include "perc_daemon/ws.h"

#define TOKEN "daemon-secret-789"
#define WAIT_MS 20000

static const char *g_bin[4]; /* signaling, kmf, mdd, endpoint */
/* signaling, kmf, mdd of the running test (dt_proc_kill_all reaps them) */
static pid_t g_pids[3] = {-1, -1, -1};

typedef struct world {
    char *dir, *roster;
    dt_stack_pki pki;
    char *ident_dir, *ident_cert, *ident_key;
    char ident_fp[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    char *log[3];
    char url[64];
    char mdd_fp[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    char kmf_fp[PERC_DTLS_FINGERPRINT_TEXT_LEN];
} world;

static world W;

static void dump_logs(void)
{
    static const char *names[3] = {"perc-signaling", "perc-kmf", "perc-mdd"};
    for (int i = 0; i < 3; i++) {
        char *text = NULL;
        gsize len = 0;
        if (!W.log[i] || !g_file_get_contents(W.log[i], &text, &len, NULL))
            continue;
        fprintf(stderr, "---- %s log (%zu bytes) ----\n", names[i], (size_t)len);
        fwrite(text, 1, len, stderr);
        fprintf(stderr, "---- end ----\n");
        g_free(text);
    }
}

static bool file_has(const char *path, const char *needle)
{
    char *text = dt_read_file(path);
    bool r = strstr(text, needle) != NULL;
    g_free(text);
    return r;
}

static void wait_log(int i, const char *needle)
{
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (file_has(W.log[i], needle))
            return;
        g_usleep(20000);
    }
    dump_logs();
    fail_msg("timed out waiting for '%s' in log %d", needle, i);
}

static void cert_fp(X509 *cert, char *out)
{
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_cert_fingerprint(cert, fp), PERC_OK);
    assert_int_equal(perc_dtls_fingerprint_format(fp, out, PERC_DTLS_FINGERPRINT_TEXT_LEN),
                     PERC_OK);
}

/* ---- the stack -------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    W.dir = dt_tmpdir_new();
    dt_stack_pki_make(W.dir, &W.pki);
    /* The KMF's certificate is ECDSA: it is also its DTLS identity. */
    cert_fp(W.pki.kmf_cert, W.kmf_fp);
    cert_fp(W.pki.mdd_cert, W.mdd_fp);
    /* A persistent endpoint identity (what 'perc-tool identity new' makes)
     * that only conf3's roster admits, by fingerprint. */
    W.ident_dir = g_build_filename(W.dir, "ident", NULL);
    assert_int_equal(g_mkdir(W.ident_dir, 0700), 0);
    X509 *icert = NULL;
    EVP_PKEY *ikey = NULL;
    assert_int_equal(perc_dtls_identity_generate("carol", &icert, &ikey), PERC_OK);
    W.ident_cert = dt_write_pem(W.ident_dir, "cert.pem", icert, NULL);
    W.ident_key = dt_write_pem(W.ident_dir, "key.pem", NULL, ikey);
    cert_fp(icert, W.ident_fp);
    X509_free(icert);
    EVP_PKEY_free(ikey);
    W.roster = g_build_filename(W.dir, "roster.json", NULL);
    char *roster = g_strdup_printf(
        "{\"conferences\": {\"conf1\": {\"open\": true},"
        " \"conf2\": {\"open\": false, \"allow\": [{\"identity\": \"somebody\"}]},"
        " \"conf3\": {\"open\": false, \"allow\": [{\"fingerprint\": \"%s\"}]}}}",
        W.ident_fp);
    assert_true(g_file_set_contents(W.roster, roster, -1, NULL));
    g_free(roster);
    static const char *names[3] = {"signaling.log", "kmf.log", "mdd.log"};
    for (int i = 0; i < 3; i++)
        W.log[i] = g_build_filename(W.dir, names[i], NULL);

    uint16_t sig_port = dt_free_tcp_port(), kmf_port = dt_free_tcp_port();
    char sig_listen[32], kmf_listen[32];
    g_snprintf(sig_listen, sizeof sig_listen, "127.0.0.1:%u", sig_port);
    g_snprintf(kmf_listen, sizeof kmf_listen, "127.0.0.1:%u", kmf_port);
    g_snprintf(W.url, sizeof W.url, "ws://127.0.0.1:%u/", sig_port);
    const char *sig_args[] = {g_bin[0], "--listen", sig_listen, "--conference", "conf1,conf2,conf3",
                              "--log-level", "debug", NULL};
    g_pids[0] = dt_proc_spawn(sig_args, W.log[0], "PERC_SIGNALING_TOKEN", TOKEN);
    const char *kmf_args[] = {g_bin[1], "--listen", kmf_listen, "--cert", W.pki.kmf_pem, "--key",
                              W.pki.kmf_key, "--tunnel-ca", W.pki.ca_pem, "--signaling", W.url,
                              "--roster", W.roster, "--log-level", "debug", NULL};
    g_pids[1] = dt_proc_spawn(kmf_args, W.log[1], "PERC_KMF_SIGNALING_TOKEN", TOKEN);
    const char *mdd_args[] = {g_bin[2], "--signaling", W.url, "--kmf", kmf_listen, "--cert",
                              W.pki.mdd_pem, "--key", W.pki.mdd_key, "--kmf-ca", W.pki.ca_pem, "--kmf-name",
                              "kmf.test", "--media-address", "127.0.0.1", "--log-level", "debug",
                              NULL};
    g_pids[2] = dt_proc_spawn(mdd_args, W.log[2], "PERC_MDD_SIGNALING_TOKEN", TOKEN);
    for (int i = 0; i < 3; i++)
        assert_true(g_pids[i] > 0);
    wait_log(2, "tunnel: connected to the KMF");
    wait_log(2, "signaling: welcome");
    wait_log(1, "signaling: welcome");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dt_proc_kill_all();
    /* dt_tmpdir_free removes files, not subdirectories. */
    if (W.ident_dir) {
        (void)g_remove(W.ident_cert);
        (void)g_remove(W.ident_key);
        (void)g_rmdir(W.ident_dir);
    }
    dt_stack_pki_free(&W.pki);
    char **f[] = {&W.roster, &W.ident_dir, &W.ident_cert, &W.ident_key};
    for (size_t i = 0; i < G_N_ELEMENTS(f); i++)
        g_free(*f[i]);
    for (int i = 0; i < 3; i++)
        g_free(W.log[i]);
    dt_tmpdir_free(W.dir);
    return 0;
}

/* ---- running the endpoint ------------------------------------------------------ */

typedef struct run_result {
    int code;
    char *out, *err;
} run_result;

/* Runs perc-endpoint with args (NULL-terminated) and waits for it. */
static run_result run_endpoint(const char *const *args)
{
    run_result r = {-1, NULL, NULL};
    r.code = dt_proc_run(g_bin[3], args, false, &r.out, &r.err);
    return r;
}

static void run_free(run_result *r)
{
    g_free(r->out);
    g_free(r->err);
}

static void show(const run_result *r)
{
    fprintf(stderr, "---- perc-endpoint exit %d, stdout ----\n%s---- stderr ----\n%s---- end ----\n",
            r->code, r->out, r->err);
}

#define EXPECT(cond, r, ...)                                                                    \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            show(r);                                                                            \
            dump_logs();                                                                        \
            fail_msg(__VA_ARGS__);                                                              \
        }                                                                                       \
    } while (0)

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* ---- the tests -------------------------------------------------------------------- */

/* Three participants: everyone verifies everyone. */
static void test_three_participants(void **state)
{
    (void)state;
    char *stats = g_build_filename(W.dir, "stats.json", NULL);
    run_result r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf1",
                                                 "--name", "ep", "--participants", "3",
                                                 "--duration", "5", "--media-address",
                                                 "127.0.0.1", "--stats", stats, "--log-level",
                                                 "info", NULL});
    EXPECT(r.code == 0, &r, "perc-endpoint exited %d", r.code);
    EXPECT(strstr(r.out, "perc-endpoint summary") != NULL, &r, "no summary table");
    char *text = NULL;
    assert_true(g_file_get_contents(stats, &text, NULL, NULL));
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(root, "participants");
    assert_int_equal(cJSON_GetArraySize(parts), 3);
    const cJSON *p, *q;
    cJSON_ArrayForEach(p, parts)
    {
        const char *name = str(p, "name");
        EXPECT(strcmp(str(p, "state"), "done") == 0, &r, "%s ended in state %s", name,
               str(p, "state"));
        const cJSON *spis = cJSON_GetObjectItemCaseSensitive(p, "ekt_spis");
        EXPECT(cJSON_GetArraySize(spis) >= 1, &r, "%s saw no EKT SPI", name);
        EXPECT(num(p, "sent_packets") >= 200, &r, "%s sent only %.0f packets in 5 s", name,
               num(p, "sent_packets"));
        const cJSON *remotes = cJSON_GetObjectItemCaseSensitive(p, "remotes");
        EXPECT(cJSON_GetArraySize(remotes) == 2, &r, "%s knows %d remotes, not 2", name,
               cJSON_GetArraySize(remotes));
        cJSON_ArrayForEach(q, parts)
        {
            const char *other = str(q, "name");
            if (strcmp(other, name) == 0)
                continue;
            const cJSON *rem = NULL, *x;
            cJSON_ArrayForEach(x, remotes)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "identity");
                if (cJSON_IsString(id) && strcmp(id->valuestring, other) == 0)
                    rem = x;
            }
            EXPECT(rem != NULL, &r, "%s has no stats about %s", name, other);
            double sent = num(q, "sent_packets"), verified = num(rem, "verified");
            EXPECT(verified >= 0.99 * sent, &r, "%s verified %.0f of the %.0f packets of %s", name,
                   verified, sent, other);
            EXPECT(num(rem, "rejected_total") == 0, &r, "%s rejected %.0f packets of %s", name,
                   num(rem, "rejected_total"), other);
            EXPECT(num(rem, "payload_ok") == verified && num(rem, "payload_bad") == 0, &r,
                   "%s: synthetic payloads of %s did not all check out", name, other);
            const cJSON *first = cJSON_GetObjectItemCaseSensitive(rem, "join_to_first_verified_ms");
            EXPECT(cJSON_IsNumber(first), &r, "%s: no first-verified time for %s", name, other);
        }
    }
    cJSON_Delete(root);
    g_free(text);
    g_free(stats);
    run_free(&r);
    /* The KMF and the MDD are still up. */
    assert_true(g_pids[1] > 0 && kill(g_pids[1], 0) == 0);
    assert_true(g_pids[2] > 0 && kill(g_pids[2], 0) == 0);
}

/* The KMF's roster does not name this identity: exit 3 with its reason. */
static void test_refused(void **state)
{
    (void)state;
    run_result r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf2",
                                                 "--name", "mallory", "--duration", "2",
                                                 "--media-address", "127.0.0.1", NULL});
    EXPECT(r.code == 3, &r, "exit %d, not 3", r.code);
    EXPECT(strstr(r.err, "join refused by the KMF") != NULL, &r, "no clear refusal message");
    EXPECT(strstr(r.err, "'mallory' is not on the roster of conference 'conf2'") != NULL, &r,
           "the KMF's reason is not shown");
    run_free(&r);
}

/* A pin that is not the KMF's certificate: the handshake fails, no key. */
static void test_wrong_pin(void **state)
{
    (void)state;
    char pin[128];
    g_snprintf(pin, sizeof pin, "sha-256 %s", W.mdd_fp);
    run_result r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf1",
                                                 "--name", "pinned", "--duration", "2",
                                                 "--media-address", "127.0.0.1",
                                                 "--kmf-fingerprint", pin, NULL});
    EXPECT(r.code == 4, &r, "exit %d, not 4", r.code);
    EXPECT(strstr(r.err, "DTLS handshake with the KMF failed: its certificate is not the pinned") !=
               NULL,
           &r, "no clear fingerprint message");
    EXPECT(strstr(r.err, "keyed (EKT SPI") == NULL, &r, "keyed despite the wrong pin");
    run_free(&r);

    /* The right pin (lower case, without the hash name) works. */
    char lower[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    g_strlcpy(lower, W.kmf_fp, sizeof lower);
    for (char *c = lower; *c; c++)
        *c = g_ascii_tolower(*c);
    r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf1", "--name",
                                      "pinned-ok", "--duration", "1", "--media-address",
                                      "127.0.0.1", "--kmf-fingerprint", lower, NULL});
    EXPECT(r.code == 0, &r, "exit %d with the right pin", r.code);
    run_free(&r);
}

/* --identity DIR: the roster admits that certificate and nobody else. */
static void test_identity(void **state)
{
    (void)state;
    run_result r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf3",
                                                 "--name", "carol", "--duration", "1",
                                                 "--media-address", "127.0.0.1", "--identity",
                                                 W.ident_dir, NULL});
    EXPECT(r.code == 0, &r, "exit %d with the rostered identity", r.code);
    EXPECT(strstr(r.err, W.ident_fp) != NULL, &r, "the identity's fingerprint is not the one used");
    run_free(&r);
    /* The same conference with an ephemeral identity: refused. */
    r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf3", "--name",
                                      "carol-2", "--duration", "1", "--media-address",
                                      "127.0.0.1", NULL});
    EXPECT(r.code == 3, &r, "exit %d without the identity, not 3", r.code);
    run_free(&r);
    /* A directory without the files: a usage error naming the file. */
    char *empty = g_build_filename(W.dir, "empty-ident", NULL);
    assert_int_equal(g_mkdir(empty, 0700), 0);
    r = run_endpoint((const char *[]){"--signaling", W.url, "--conference", "conf3", "--identity",
                                      empty, NULL});
    EXPECT(r.code == 2 && strstr(r.err, "cert.pem"), &r, "an empty --identity DIR: exit %d",
           r.code);
    run_free(&r);
    g_rmdir(empty);
    g_free(empty);
}


/* ---- a lying signaling server and a hostile Media Distributor ------------------- */

/* The test plays signaling (a WebSocket server speaking perc-signaling)
 * and, when asked, the MDD (an ICE-lite agent on 127.0.0.1): it answers the
 * join as the scenario says and throws bad input at the endpoint. No KMF
 * exists, so the endpoint never gets a key. */
typedef enum fake_mode {
    FAKE_GARBAGE_THEN_SILENCE = 1, /* junk JSON, an answer without its join, then nothing */
    FAKE_UNAVAILABLE,              /* the join gets error unavailable */
    FAKE_HOSTILE_MDD,              /* a real answer, then junk datagrams and a DTLS alert */
} fake_mode;

typedef struct fake {
    fake_mode mode;
    GMainContext *ctx;
    GMainLoop *loop;
    perc_ws_context *ws;
    perc_ws_server *srv;
    perc_ice_agent *agent;
    perc_ice_stream *ice;
    int gathered, dtls_seen, sent_junk;
    uint64_t conn;
    bool child_done;
    int child_status;
} fake;

static fake F;

static void fake_send(const perc_sig_msg *m)
{
    static char buf[PERC_SIG_MAX_MESSAGE + 1];
    size_t len = 0;
    assert_int_equal(perc_sig_encode(m, buf, sizeof buf, &len, NULL), PERC_OK);
    GError *err = NULL;
    assert_true(perc_ws_server_send(F.srv, F.conn, buf, len, &err));
}

static void fake_send_raw(const char *text)
{
    GError *err = NULL;
    assert_true(perc_ws_server_send(F.srv, F.conn, text, strlen(text), &err));
}

/* The answer: our ICE-lite transport, and a KMF that does not exist. */
static void fake_answer(const perc_sig_msg *join)
{
    const perc_sdp *offer = join->sdp_model;
    assert_non_null(offer);
    const char *ufrag, *pwd;
    assert_int_equal(perc_sdp_effective_ice(offer, 0, &ufrag, &pwd), PERC_OK);
    GError *err = NULL;
    assert_true(perc_ice_stream_set_remote_credentials(F.ice, ufrag, pwd, &err));
    for (size_t i = 0; i < offer->media[0].candidate_count; i++) {
        char text[PERC_SDP_MAX_LINE];
        assert_int_equal(perc_sdp_candidate_format(&offer->media[0].candidates[i], text,
                                                   sizeof text, NULL),
                         PERC_OK);
        assert_true(perc_ice_stream_add_remote_candidate(F.ice, text, &err));
    }
    char *my_ufrag, *my_pwd;
    assert_true(perc_ice_stream_local_credentials(F.ice, &my_ufrag, &my_pwd));
    char **cands = perc_ice_stream_local_candidates(F.ice);
    GString *sdp = g_string_new(NULL);
    g_string_append_printf(sdp,
                           "v=0\r\no=perc-signaling 7 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                           "a=ice-lite\r\na=group:BUNDLE a0\r\n"
                           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n"
                           "a=mid:a0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
                           "a=fingerprint:sha-256 %s\r\na=setup:passive\r\n"
                           "a=tls-id:TheKmfThatIsNotThere0123456789\r\na=sendrecv\r\na=rtcp-mux\r\n"
                           "a=rtpmap:111 opus/48000/2\r\n",
                           my_ufrag, my_pwd, W.mdd_fp);
    for (char **c = cands; *c; c++)
        g_string_append_printf(sdp, "a=%s\r\n", *c);
    g_string_append(sdp, "a=end-of-candidates\r\n");
    g_strfreev(cands);
    g_free(my_ufrag);
    g_free(my_pwd);
    perc_sig_msg a;
    perc_sig_msg_init(&a);
    a.type = PERC_SIG_ANSWER;
    a.re = join->id;
    a.sdp = sdp->str;
    a.participant = "p1";
    a.mdd = "mdd-fake";
    fake_send(&a);
    g_string_free(sdp, TRUE);
}

static void fake_on_message(void *user, perc_ws_server *srv, uint64_t conn, const char *text,
                            size_t len)
{
    (void)user;
    (void)srv;
    F.conn = conn;
    perc_sig_msg m;
    perc_sig_error e;
    if (perc_sig_decode(text, len, &m, &e) != PERC_OK)
        return; /* e.g. the endpoint's error about our junk */
    perc_sig_msg r;
    perc_sig_msg_init(&r);
    if (m.type == PERC_SIG_HELLO) {
        r.type = PERC_SIG_WELCOME;
        r.re = m.id;
        r.session = "c1";
        fake_send(&r);
    } else if (m.type == PERC_SIG_JOIN) {
        switch (F.mode) {
        case FAKE_GARBAGE_THEN_SILENCE:
            fake_send_raw("this is not JSON");
            fake_send_raw("{\"type\":\"answer\",\"re\":\"nobody\",\"sdp\":\"v=0\"}");
            fake_send_raw("{\"type\":\"no-such-type\"}");
            /* An answer to a join it never made: ignored, the join still waits. */
            r.type = PERC_SIG_OK;
            r.re = "leave-99";
            fake_send(&r);
            break;
        case FAKE_UNAVAILABLE:
            r.type = PERC_SIG_ERROR;
            r.re = m.id;
            r.code = PERC_SIG_E_UNAVAILABLE;
            r.reason = "no Media Distributor is connected";
            fake_send(&r);
            break;
        case FAKE_HOSTILE_MDD:
            fake_answer(&m);
            break;
        }
    } else if (m.type == PERC_SIG_LEAVE) {
        r.type = PERC_SIG_OK;
        r.re = m.id;
        fake_send(&r);
    }
    perc_sig_msg_clear(&m);
}

static const perc_ws_server_callbacks fake_ws_cbs = {NULL, fake_on_message, NULL, NULL};

static gboolean fake_junk(gpointer user)
{
    (void)user;
    /* Not DTLS, RTP or RTCP (RFC 7983: first octet 255). */
    static const uint8_t garbage[] = {0xFF, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
    assert_true(perc_ice_stream_send(F.ice, garbage, sizeof garbage));
    /* RTP from an SSRC nobody announced, with no key anywhere. */
    uint8_t rtp[64] = {0x80, 111, 0x12, 0x34, 0, 0, 0x10, 0, 0xDE, 0xAD, 0xBE, 0xEF};
    for (size_t i = 12; i < sizeof rtp; i++)
        rtp[i] = (uint8_t)i;
    assert_true(perc_ice_stream_send(F.ice, rtp, sizeof rtp));
    /* A fatal handshake_failure alert in the clear (epoch 0), as a KMF
     * that refuses us would send (RFC 6347 §4.1, RFC 5246 §7.2). */
    static const uint8_t alert[] = {21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40};
    assert_true(perc_ice_stream_send(F.ice, alert, sizeof alert));
    F.sent_junk++;
    return G_SOURCE_REMOVE;
}

static void fake_ice_recv(void *user, perc_ice_stream *s, const uint8_t *data, size_t len)
{
    (void)user;
    (void)s;
    /* The endpoint's ClientHello: it started DTLS, now the junk. */
    if (len > 0 && data[0] == 22 && F.dtls_seen++ == 0) {
        GSource *src = g_timeout_source_new(100); /* on our context, not the default one */
        g_source_set_callback(src, fake_junk, NULL, NULL);
        g_source_attach(src, F.ctx);
        g_source_unref(src);
    }
}

static void fake_ice_gathered(void *user, perc_ice_stream *s)
{
    (void)user;
    (void)s;
    F.gathered++;
}

static const perc_ice_callbacks fake_ice_cbs = {fake_ice_gathered, NULL, fake_ice_recv};

static void fake_child_exit(GPid pid, gint status, gpointer user)
{
    (void)user;
    g_spawn_close_pid(pid);
    F.child_status = status;
    F.child_done = true;
}

static gboolean p_child_done(void *d)
{
    (void)d;
    return F.child_done;
}

/* Runs perc-endpoint against the fake; returns its exit code and stderr. */
static run_result run_fake(fake_mode mode)
{
    memset(&F, 0, sizeof F);
    F.mode = mode;
    F.ctx = g_main_context_new();
    g_main_context_push_thread_default(F.ctx);
    F.loop = g_main_loop_new(F.ctx, FALSE);
    GError *err = NULL;
    F.ws = perc_ws_context_new(F.loop, &err);
    assert_non_null(F.ws);
    perc_ws_server_options so;
    memset(&so, 0, sizeof so);
    assert_true(perc_hostport_parse("127.0.0.1:0", &so.listen, &err));
    so.subprotocol = PERC_SIG_SUBPROTOCOL;
    F.srv = perc_ws_server_new(F.ws, &so, &fake_ws_cbs, NULL, &err);
    assert_non_null(F.srv);
    static const char *const lo[] = {"127.0.0.1"};
    perc_ice_agent_options io = {.lite = true, .addresses = lo, .n_addresses = 1};
    F.agent = perc_ice_agent_new(F.ctx, &io, &err);
    assert_non_null(F.agent);
    F.ice = perc_ice_stream_new(F.agent, &fake_ice_cbs, NULL, &err);
    assert_non_null(F.ice);
    assert_true(dt_wait_count(F.ctx, &F.gathered, 1, WAIT_MS));

    char url[64], *errfile = g_build_filename(W.dir, "fake-endpoint.err", NULL);
    g_snprintf(url, sizeof url, "ws://127.0.0.1:%u/", perc_ws_server_port(F.srv));
    const char *args[] = {g_bin[3], "--signaling", url, "--conference", "conf1", "--name",
                          "victim", "--duration", "2", "--media-address", "127.0.0.1",
                          "--connect-timeout", "3", NULL};
    int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        dup2(open("/dev/null", O_WRONLY), 1);
        execv(args[0], (char *const *)(uintptr_t)args);
        _exit(127);
    }
    close(fd);
    GSource *watch = g_child_watch_source_new(pid);
    g_source_set_callback(watch, G_SOURCE_FUNC(fake_child_exit), NULL, NULL);
    g_source_attach(watch, F.ctx);
    g_source_unref(watch);
    bool done = dt_wait(F.ctx, p_child_done, NULL, WAIT_MS);
    if (!done)
        kill(pid, SIGKILL);
    run_result r = {-1, g_strdup(""), NULL};
    assert_true(g_file_get_contents(errfile, &r.err, NULL, NULL));
    r.code = done && WIFEXITED(F.child_status) ? WEXITSTATUS(F.child_status) : -1;
    dt_spin(F.ctx, 20);
    perc_ice_agent_free(F.agent);
    perc_ws_server_free(F.srv);
    perc_ws_context_free(F.ws);
    g_main_loop_unref(F.loop);
    g_main_context_pop_thread_default(F.ctx);
    g_main_context_unref(F.ctx);
    (void)g_remove(errfile);
    g_free(errfile);
    return r;
}

/* Junk from signaling is answered and logged; the join then times out. */
static void test_lying_signaling(void **state)
{
    (void)state;
    run_result r = run_fake(FAKE_GARBAGE_THEN_SILENCE);
    EXPECT(r.code == 4, &r, "exit %d, not 4", r.code);
    EXPECT(strstr(r.err, "signaling: bad message") != NULL, &r, "junk JSON not reported");
    EXPECT(strstr(r.err, "no answer to the join within 3 s") != NULL, &r, "no clear timeout");
    run_free(&r);
    r = run_fake(FAKE_UNAVAILABLE);
    EXPECT(r.code == 4, &r, "exit %d, not 4", r.code);
    EXPECT(strstr(r.err, "join failed: unavailable: no Media Distributor is connected") != NULL, &r,
           "no clear message for unavailable");
    run_free(&r);
}

/* Garbage, RTP from an unknown SSRC and a DTLS alert over the media path:
 * the first two are dropped with a log line, the alert ends the attempt. */
static void test_hostile_mdd(void **state)
{
    (void)state;
    run_result r = run_fake(FAKE_HOSTILE_MDD);
    EXPECT(F.sent_junk == 1, &r, "the endpoint never started DTLS");
    EXPECT(r.code == 4, &r, "exit %d, not 4", r.code);
    EXPECT(strstr(r.err, "not DTLS, RTP or RTCP") != NULL, &r, "garbage not reported");
    EXPECT(strstr(r.err, "dropped RTP from SSRC deadbeef (an unknown sender") != NULL, &r,
           "unknown SSRC not reported");
    EXPECT(strstr(r.err, "the DTLS association with the KMF ended") != NULL, &r,
           "the alert did not end the association clearly");
    run_free(&r);
}

static void expect_usage(const char *const *args, const char *needle)
{
    run_result r = run_endpoint(args);
    EXPECT(r.code == 2, &r, "exit %d, not 2", r.code);
    EXPECT(strstr(r.err, needle) != NULL, &r, "stderr lacks '%s'", needle);
    run_free(&r);
}

static void test_cli(void **state)
{
    (void)state;
    run_result r = run_endpoint((const char *[]){"--help", NULL});
    EXPECT(r.code == 0 && strstr(r.out, "--kmf-fingerprint") && strstr(r.out, "--participants"),
           &r, "--help");
    run_free(&r);
    r = run_endpoint((const char *[]){"--version", NULL});
    EXPECT(r.code == 0 && strstr(r.out, "perc-endpoint"), &r, "--version");
    run_free(&r);
    expect_usage((const char *[]){"--signaling", W.url, NULL}, "--conference");
    expect_usage((const char *[]){"--signaling", "http://x/", "--conference", "c", NULL},
                 "--signaling");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "bad conf", NULL},
                 "--conference");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--video",
                                  "640x360@30", NULL},
                 "--video");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c",
                                  "--kmf-fingerprint", "12:34", NULL},
                 "--kmf-fingerprint");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--participants",
                                  "0", NULL},
                 "--participants");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--identity",
                                  "/nonexistent-dir", NULL},
                 "--identity");
    /* not a double profile; twice; none */
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--srtp-profiles",
                                  "0x0007", NULL},
                 "'0x0007' is not 0x0009 or 0x000A");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--srtp-profiles",
                                  "0x000a,0x000A", NULL},
                 "each profile at most once");
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--srtp-profiles",
                                  ",", NULL},
                 "--srtp-profiles");
}

/* ---- real audio: --audio-in and --record ------------------------------------------ */

/* A speech-like test signal (3 s, 48 kHz mono 16-bit): a harmonic series
 * on 140 Hz under a 4 Hz syllable envelope, then half a second of pause. */
static void write_speech_wav(const char *path)
{
    enum { RATE = 48000, N = 3 * 48000 };
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t h[44] = "RIFF....WAVEfmt ";
    uint32_t v32[] = {36u + 2u * N, 16u};
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(v32[0] >> (8 * i));
        h[16 + i] = (uint8_t)(v32[1] >> (8 * i));
    }
    const uint8_t fmt[] = {1, 0, 1, 0, 0x80, 0xBB, 0, 0, 0x00, 0x77, 0x01, 0, 2, 0, 16, 0};
    memcpy(h + 20, fmt, sizeof fmt);
    memcpy(h + 36, "data", 4);
    for (int i = 0; i < 4; i++)
        h[40 + i] = (uint8_t)((2u * N) >> (8 * i));
    assert_int_equal(fwrite(h, 1, sizeof h, f), sizeof h);
    for (int i = 0; i < N; i++) {
        double t = (double)i / RATE, s = 0.0;
        for (int k = 1; k <= 10; k++)
            s += sin(2.0 * 3.14159265358979 * 140.0 * k * t) / k;
        double env = t < 2.5 ? 0.5 - 0.5 * cos(2.0 * 3.14159265358979 * 4.0 * t) : 0.0;
        int16_t x = (int16_t)(s * env * 5000.0);
        uint8_t b[2] = {(uint8_t)((uint16_t)x & 0xFF), (uint8_t)((uint16_t)x >> 8)};
        assert_int_equal(fwrite(b, 1, 2, f), 2);
    }
    assert_int_equal(fclose(f), 0);
}

/* What perc-endpoint --record wrote: a finalised 48 kHz mono 16-bit WAV
 * (RIFF and data sizes match the file); its seconds and RMS. */
static void read_recording(const char *path, double *seconds, double *rms)
{
    char *text = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(path, &text, &len, NULL));
    const uint8_t *b = (const uint8_t *)text;
    assert_true(len >= 44);
    assert_memory_equal(b, "RIFF", 4);
    assert_memory_equal(b + 8, "WAVEfmt ", 8);
    uint32_t riff = b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24;
    uint32_t data = b[40] | b[41] << 8 | b[42] << 16 | (uint32_t)b[43] << 24;
    assert_int_equal(riff, len - 8);                       /* finalised */
    assert_int_equal(data, len - 44);
    assert_int_equal(b[22] | b[23] << 8, 1);               /* mono */
    assert_int_equal(b[24] | b[25] << 8 | b[26] << 16, 48000);
    assert_int_equal(b[34], 16);
    size_t n = data / 2;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        int16_t x = (int16_t)(b[44 + 2 * i] | b[45 + 2 * i] << 8);
        sum += (double)x * x;
    }
    *seconds = (double)n / 48000.0;
    *rms = n ? sqrt(sum / (double)n) : 0.0;
    g_free(text);
}

static const cJSON *remote_named(const cJSON *participant, const char *identity)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(participant, "remotes"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "identity");
        if (cJSON_IsString(id) && strcmp(id->valuestring, identity) == 0)
            return x;
    }
    return NULL;
}

/* One sender with --audio-in (Opus) and two receivers with --record, as
 * three processes: each receiver decodes the talker's audio with no
 * error and writes talker.wav of about the time it was sent, not silent;
 * the other receiver's synthetic audio is checked as before and not
 * recorded. The receivers are in media before the talker starts, so every
 * Opus packet can verify. */
static void test_opus_audio(void **state)
{
    (void)state;
    char *wav = g_build_filename(W.dir, "speech.wav", NULL);
    write_speech_wav(wav);
    char *rec[2], *st[3], *log[3];
    static const char *names[3] = {"listener1", "listener2", "talker"};
    for (int i = 0; i < 3; i++) {
        char f[32];
        g_snprintf(f, sizeof f, "opus-%s.json", names[i]);
        st[i] = g_build_filename(W.dir, f, NULL);
        g_snprintf(f, sizeof f, "opus-%s.log", names[i]);
        log[i] = g_build_filename(W.dir, f, NULL);
        if (i < 2) {
            g_snprintf(f, sizeof f, "rec-%s", names[i]);
            rec[i] = g_build_filename(W.dir, f, NULL);
        }
    }
    pid_t pids[3];
    for (int i = 0; i < 2; i++) {
        const char *args[] = {g_bin[3], "--signaling", W.url, "--conference", "conf1", "--name",
                              names[i], "--duration", "8", "--media-address", "127.0.0.1",
                              "--record", rec[i], "--stats", st[i], "--log-level", "info", NULL};
        pids[i] = dt_proc_spawn(args, log[i], NULL, NULL);
        assert_true(pids[i] > 0);
    }
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        if (file_has(log[0], "sending audio") && file_has(log[1], "sending audio"))
            break;
        g_usleep(20000);
    }
    const char *targs[] = {g_bin[3], "--signaling", W.url, "--conference", "conf1", "--name",
                           "talker", "--duration", "4", "--media-address", "127.0.0.1",
                           "--audio-in", wav, "--stats", st[2], "--log-level", "info", NULL};
    pids[2] = dt_proc_spawn(targs, log[2], NULL, NULL);
    assert_true(pids[2] > 0);
    int codes[3];
    for (int i = 2; i >= 0; i--)
        codes[i] = dt_proc_wait(pids[i]);
    bool ok = true;
    for (int i = 0; i < 3; i++)
        ok &= codes[i] == 0;
    if (!ok) {
        for (int i = 0; i < 3; i++) {
            char *t = NULL;
            if (g_file_get_contents(log[i], &t, NULL, NULL))
                fprintf(stderr, "---- %s (exit %d) ----\n%s", names[i], codes[i], t);
            g_free(t);
        }
        dump_logs();
        fail_msg("an endpoint failed: exits %d %d %d", codes[0], codes[1], codes[2]);
    }

    char *text = NULL;
    assert_true(g_file_get_contents(st[2], &text, NULL, NULL));
    cJSON *troot = cJSON_Parse(text);
    g_free(text);
    assert_non_null(troot);
    const cJSON *talker = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(troot, "participants"), 0);
    const cJSON *sent0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(talker, "sent"), 0);
    assert_string_equal(str(sent0, "payload"), "opus");
    double sent = num(sent0, "packets");
    assert_true(sent >= 190 && sent <= 210); /* 4 s of 20 ms frames */

    for (int i = 0; i < 2; i++) {
        assert_true(g_file_get_contents(st[i], &text, NULL, NULL));
        cJSON *root = cJSON_Parse(text);
        g_free(text);
        assert_non_null(root);
        const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "participants"), 0);
        const cJSON *sent_mine = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "sent"), 0);
        assert_string_equal(str(sent_mine, "payload"), "synthetic");
        const cJSON *t = remote_named(p, "talker");
        if (!t)
            fail_msg("%s has no stats about the talker", names[i]);
        assert_string_equal(str(t, "audio_payload"), "opus");
        double verified = num(t, "verified"), decoded = num(t, "opus_frames_decoded");
        if (verified < 0.99 * sent || decoded != verified || num(t, "opus_decode_errors") != 0 ||
            num(t, "rejected_total") != 0 || num(t, "payload_bad") != 0)
            fail_msg("%s: talker sent %.0f, verified %.0f, decoded %.0f, errors %.0f, "
                     "rejected %.0f, payload_bad %.0f",
                     names[i], sent, verified, decoded, num(t, "opus_decode_errors"),
                     num(t, "rejected_total"), num(t, "payload_bad"));
        char *expect = g_build_filename(rec[i], "talker.wav", NULL);
        assert_string_equal(str(t, "recording"), expect);
        double secs = 0, rms = 0;
        read_recording(expect, &secs, &rms);
        if (secs < 0.98 * sent * 0.02 || secs > sent * 0.02 + 0.1 || rms < 300.0)
            fail_msg("%s: talker.wav has %.2f s (sent %.2f s), RMS %.0f", names[i], secs,
                     sent * 0.02, rms);
        g_free(expect);
        /* The other listener sends synthetic audio: checked, not recorded. */
        const cJSON *o = remote_named(p, names[1 - i]);
        assert_non_null(o);
        assert_string_equal(str(o, "audio_payload"), "synthetic");
        assert_true(num(o, "verified") > 0 && num(o, "payload_ok") == num(o, "verified"));
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "recording")));
        GDir *d = g_dir_open(rec[i], 0, NULL);
        assert_non_null(d);
        int files = 0;
        while (g_dir_read_name(d))
            files++;
        g_dir_close(d);
        assert_int_equal(files, 1);
        cJSON_Delete(root);
    }
    cJSON_Delete(troot);
    /* A WAV the strict reader refuses is a usage error naming the reason. */
    assert_true(g_file_set_contents(wav, "RIFF\4\0\0\0WAVE", 12, NULL));
    expect_usage((const char *[]){"--signaling", W.url, "--conference", "c", "--audio-in", wav,
                                  NULL},
                 "no fmt chunk");
    for (int i = 0; i < 3; i++) {
        (void)g_remove(st[i]);
        (void)g_remove(log[i]);
        g_free(st[i]);
        g_free(log[i]);
    }
    for (int i = 0; i < 2; i++) {
        char *f = g_build_filename(rec[i], "talker.wav", NULL);
        (void)g_remove(f);
        g_free(f);
        (void)g_rmdir(rec[i]);
        g_free(rec[i]);
    }
    (void)g_remove(wav);
    g_free(wav);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s perc-signaling perc-kmf perc-mdd perc-endpoint\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < 4; i++)
        g_bin[i] = argv[i + 1];
    dt_proc_set_timeout(110, "test_endpoint_process");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_participants),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_wrong_pin),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_lying_signaling),
        cmocka_unit_test(test_hostile_mdd),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_opus_audio),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
