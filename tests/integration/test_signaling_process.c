/* perc-signaling as a process: the real binary on a loopback port, driven
 * by scripted KMF, Media Distributor and endpoint clients (perc_daemon's
 * WebSocket client) speaking docs/signaling.md. Every message each side
 * receives is decoded and checked in order; after each step every other
 * client is checked to have received nothing. Covers setup (§6.1), a
 * second join (§6.2), a refusal (§6.3), a leave (§6.4), bad input (§5:
 * malformed JSON, an oversized message, an unknown conference, a duplicate
 * join, SDP without fingerprint or tls-id, a client that never says
 * hello), then /metrics and /status.json over HTTP and a clean SIGTERM.
 *
 * Usage: test_signaling_process PATH-TO-perc-signaling
 *        test_signaling_process --page-client PORT CONFERENCE IDENTITY
 *          (for the Chromium page test: joins one endpoint through a
 *          scripted KMF and MDD on an already running perc-signaling,
 *          prints READY, and stays until stdin closes or 60 s pass). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "daemon_test_util.h"
#include "perc/signaling.h"
#include "perc_daemon/log.h"
#include "perc_daemon/ws.h"
#include "test_sig_fixtures.h"

#define PROTO "perc-signaling.v1"
#define DAEMON_TOKEN "daemon-secret"
#define KMF_TLS_ID "kmf-tls_id+0123456789/AB"
#define MDD_PWD "ZWxlY3Ryb25pYy1zZWNyZXQtcHdk"
#define MDD_CAND "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"
#define OFFER_FP                                                                               \
    "sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:" \
    "AF:52:CE:E6:0F"
#define WAIT_MS 5000

static GMainContext *g_ctx;
static GMainLoop *g_loop;
static perc_ws_context *g_ws;
static GPid g_child;
static int g_failures;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            die();                                                                             \
        }                                                                                      \
    } while (0)

static void die(void)
{
    if (g_child > 0)
        kill(g_child, SIGKILL);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: global timeout\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    if (g_child > 0)
        kill(g_child, SIGKILL);
    _exit(1);
}

/* ---- scripted peers ---- */

typedef struct peer {
    const char *label;
    perc_ws_client *cli;
    GQueue in;          /* char *, received texts */
    int opened, closed, close_code;
    char close_reason[128];     /* of the last close: for the failure message */
} peer;

static void p_open(void *user, perc_ws_client *cli)
{
    (void)cli;
    ((peer *)user)->opened++;
}

static void p_message(void *user, perc_ws_client *cli, const char *text, size_t len)
{
    (void)cli;
    g_queue_push_tail(&((peer *)user)->in, g_strndup(text, len));
}

static void p_close(void *user, perc_ws_client *cli, int code, const char *reason)
{
    (void)cli;
    peer *p = user;
    p->closed++;
    p->close_code = code;
    g_strlcpy(p->close_reason, reason ? reason : "", sizeof p->close_reason);
}

static const perc_ws_client_callbacks pcbs = {p_open, p_message, p_close};

static uint16_t g_port;

static peer *peer_new(const char *label)
{
    peer *p = g_new0(peer, 1);
    p->label = label;
    g_queue_init(&p->in);
    perc_ws_client_options o;
    memset(&o, 0, sizeof o);
    char *url = g_strdup_printf("ws://127.0.0.1:%u/", (unsigned)g_port);
    o.url = url;
    o.subprotocol = PROTO;
    o.max_message = 1 << 20;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 200;
    GError *err = NULL;
    p->cli = perc_ws_client_new(g_ws, &o, &pcbs, p, &err);
    g_free(url);
    CHECK(p->cli, "%s: %s", label, err ? err->message : "?");
    CHECK(dt_wait_count(g_ctx, &p->opened, 1, WAIT_MS), "%s did not connect", label);
    return p;
}

static void peer_free(peer *p)
{
    if (!p)
        return;
    perc_ws_client_free(p->cli);
    g_queue_clear_full(&p->in, g_free);
    g_free(p);
}

static void send_text(peer *p, const char *text)
{
    GError *err = NULL;
    CHECK(perc_ws_client_send(p->cli, text, strlen(text), &err), "%s send: %s", p->label,
          err ? err->message : "?");
}

static void sendf(peer *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void sendf(peer *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    send_text(p, s);
    g_free(s);
}

static gboolean has_msg(void *data)
{
    return !g_queue_is_empty(&((peer *)data)->in);
}

/* The next message to p must be of `type`: decoded into m (clear it).
 * Returns the text (g_free). */
static char *expect(peer *p, perc_sig_type type, perc_sig_msg *m)
{
    CHECK(dt_wait(g_ctx, has_msg, p, WAIT_MS), "%s: want %s, got nothing", p->label,
          perc_sig_type_name(type));
    char *text = g_queue_pop_head(&p->in);
    perc_sig_error e;
    int rc = perc_sig_decode(text, strlen(text), m, &e);
    CHECK(rc == PERC_OK, "%s: does not decode (%s): %s", p->label, e.reason, text);
    CHECK(m->type == type, "%s: want %s, got %s", p->label, perc_sig_type_name(type), text);
    return text;
}

/* An error with `code` to p (re checked when given). */
static void expect_error(peer *p, perc_sig_code code, const char *re)
{
    perc_sig_msg m;
    char *t = expect(p, PERC_SIG_ERROR, &m);
    CHECK(m.code == code, "%s: want error %s: %s", p->label, perc_sig_code_name(code), t);
    if (re)
        CHECK(m.re && strcmp(m.re, re) == 0, "%s: error re: %s", p->label, t);
    CHECK(m.reason && m.reason[0], "%s: error without reason", p->label);
    perc_sig_msg_clear(&m);
    g_free(t);
}

static void expect_simple(peer *p, perc_sig_type type)
{
    perc_sig_msg m;
    g_free(expect(p, type, &m));
    perc_sig_msg_clear(&m);
}

static peer *g_all[16];
static size_t g_nall;

static void track(peer *p)
{
    g_all[g_nall++] = p;
}

static void untrack(peer *p)
{
    for (size_t i = 0; i < g_nall; i++)
        if (g_all[i] == p) {
            g_all[i] = g_all[--g_nall];
            return;
        }
}

/* Nobody has an unread message (after letting the loop settle). */
static void quiet(void)
{
    dt_spin(g_ctx, 150);
    for (size_t i = 0; i < g_nall; i++) {
        peer *p = g_all[i];
        CHECK(g_queue_is_empty(&p->in), "%s: unexpected %s", p->label,
              (char *)g_queue_peek_head(&p->in));
        CHECK(p->closed == 0, "%s: closed (%d %s)", p->label, p->close_code, p->close_reason);
    }
}

static void streq(const char *got, const char *want, const char *what)
{
    CHECK(got && strcmp(got, want) == 0, "%s: got '%s', want '%s'", what, got ? got : "(null)",
          want);
}

/* ---- roles ---- */

static peer *kmf_connect(void)
{
    peer *k = peer_new("kmf");
    sendf(k, "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"kmf\",\"name\":\"kmf-1\",\"token\":\"%s\","
             "\"fingerprint\":\"%s\"}",
          DAEMON_TOKEN, SIG_KMF_FP);
    expect_simple(k, PERC_SIG_WELCOME);
    return k;
}

static peer *mdd_connect(void)
{
    peer *m = peer_new("mdd");
    sendf(m, "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"mdd\",\"name\":\"mdd-1\",\"token\":\"%s\","
             "\"capacity\":100}",
          DAEMON_TOKEN);
    expect_simple(m, PERC_SIG_WELCOME);
    return m;
}

static peer *endpoint_connect(const char *label, const char *conf)
{
    peer *e = peer_new(label);
    sendf(e, "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"endpoint\",\"conference\":\"%s\"}", conf);
    expect_simple(e, PERC_SIG_WELCOME);
    return e;
}

static void send_join(peer *e, const char *conf, const char *identity, const char *sdp)
{
    char *js = sig_json_str(sdp);
    sendf(e, "{\"type\":\"join\",\"id\":\"j-%s\",\"conference\":\"%s\",\"identity\":\"%s\","
             "\"sdp\":%s}",
          identity, conf, identity, js);
    free(js);
}

/* The KMF and the MDD are asked in parallel; returns the participant id
 * (g_free) and the two request ids. */
static char *expect_asked(peer *k, peer *m, const char *conf, const char *identity,
                          const char *tls_id, char **kmf_re, char **mdd_re)
{
    perc_sig_msg a;
    char *t = expect(k, PERC_SIG_PARTICIPANT, &a);
    streq(a.conference, conf, "participant.conference");
    streq(a.identity, identity, "participant.identity");
    streq(a.fingerprint, OFFER_FP, "participant.fingerprint");
    streq(a.tls_id, tls_id, "participant.tls-id");
    char *pid = g_strdup(a.participant);
    *kmf_re = g_strdup(a.id);
    perc_sig_msg_clear(&a);
    g_free(t);
    perc_sig_msg b;
    t = expect(m, PERC_SIG_ENDPOINT_OFFER, &b);
    streq(b.conference, conf, "endpoint-offer.conference");
    streq(b.participant, pid, "endpoint-offer.participant");
    CHECK(b.sdp && strstr(b.sdp, tls_id), "endpoint-offer: not the endpoint's sdp");
    *mdd_re = g_strdup(b.id);
    perc_sig_msg_clear(&b);
    g_free(t);
    return pid;
}

static void admit(peer *k, const char *re)
{
    sendf(k, "{\"type\":\"admit\",\"re\":\"%s\",\"fingerprint\":\"%s\",\"tls-id\":\"%s\"}", re,
          SIG_KMF_FP, KMF_TLS_ID);
}

static void mdd_answer(peer *m, const char *re)
{
    sendf(m, "{\"type\":\"endpoint-answer\",\"re\":\"%s\",\"ice-ufrag\":\"mdd1\",\"ice-pwd\":\"%s\","
             "\"ice-lite\":true,\"candidates\":[\"%s\"],\"end-of-candidates\":true}",
          re, MDD_PWD, MDD_CAND);
}

/* The merged answer to e: the KMF's fingerprint and tls-id, the MDD's ICE
 * credentials, candidate and ice-lite. */
static void expect_answer(peer *e, const char *pid)
{
    perc_sig_msg a;
    char *t = expect(e, PERC_SIG_ANSWER, &a);
    streq(a.participant, pid, "answer.participant");
    streq(a.mdd, "mdd-1", "answer.mdd");
    CHECK(a.sdp_model != NULL, "answer sdp not parsed");
    const char *s = a.sdp;
    CHECK(strstr(s, "a=fingerprint:" SIG_KMF_FP "\r\n"), "answer lacks the KMF fingerprint: %s", s);
    CHECK(strstr(s, "a=tls-id:" KMF_TLS_ID "\r\n"), "answer lacks the KMF tls-id: %s", s);
    CHECK(strstr(s, "a=ice-ufrag:mdd1\r\n"), "answer lacks the MDD ufrag: %s", s);
    CHECK(strstr(s, "a=ice-pwd:" MDD_PWD "\r\n"), "answer lacks the MDD pwd: %s", s);
    CHECK(strstr(s, "a=ice-lite\r\n"), "answer lacks ice-lite: %s", s);
    CHECK(strstr(s, "a=" MDD_CAND "\r\n"), "answer lacks the MDD candidate: %s", s);
    CHECK(strstr(s, "a=setup:passive\r\n"), "answer lacks setup:passive: %s", s);
    CHECK(strstr(s, "a=end-of-candidates\r\n"), "answer lacks end-of-candidates: %s", s);
    CHECK(!strstr(s, &OFFER_FP[8]), "answer carries the endpoint's fingerprint");
    perc_sig_msg_clear(&a);
    g_free(t);
}

static void expect_joined(peer *e, const char *pid, const char *identity, uint32_t audio,
                          uint32_t video)
{
    perc_sig_msg j;
    char *t = expect(e, PERC_SIG_JOINED, &j);
    streq(j.participant, pid, "joined.participant");
    streq(j.identity, identity, "joined.identity");
    CHECK(j.ssrc_count == 2, "joined: %s", t);
    CHECK(j.ssrcs[0].ssrc == audio && j.ssrcs[0].kind == PERC_SDP_AUDIO, "joined: %s", t);
    CHECK(j.ssrcs[1].ssrc == video && j.ssrcs[1].kind == PERC_SDP_VIDEO, "joined: %s", t);
    perc_sig_msg_clear(&j);
    g_free(t);
}

static void expect_about(peer *p, perc_sig_type type, const char *pid, const char *reason)
{
    perc_sig_msg m;
    char *t = expect(p, type, &m);
    streq(m.participant, pid, "participant");
    if (reason)
        streq(m.reason, reason, "reason");
    perc_sig_msg_clear(&m);
    g_free(t);
}

/* A full join of e with the given offer values; returns the participant id. */
static char *full_join(peer *k, peer *m, peer *e, const char *conf, const char *identity,
                       const char *ufrag, const char *tls_id, uint32_t audio, uint32_t video)
{
    char *offer = sig_offer(ufrag, tls_id, audio, video);
    send_join(e, conf, identity, offer);
    free(offer);
    char *kre, *mre;
    char *pid = expect_asked(k, m, conf, identity, tls_id, &kre, &mre);
    quiet();
    mdd_answer(m, mre); /* the MDD first this time: either order works */
    dt_spin(g_ctx, 50);
    quiet();
    admit(k, kre);
    expect_answer(e, pid);
    g_free(kre);
    g_free(mre);
    return pid;
}

/* ---- HTTP ---- */

static char *http_get(const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    char *req = g_strdup_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                path);
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req), "write");
    g_free(req);
    GString *r = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        g_string_append_len(r, buf, n);
    close(fd);
    CHECK(g_str_has_prefix(r->str, "HTTP/1.1 200"), "GET %s: %s", path, r->str);
    return g_string_free(r, FALSE);
}

static void metric_is(const char *body, const char *line)
{
    char *want = g_strdup_printf("\n%s\n", line);
    CHECK(strstr(body, want), "metrics lack '%s':\n%s", line, body);
    g_free(want);
}

/* ---- the scenario ---- */

static void scenario(void)
{
    peer *k = kmf_connect();
    track(k);
    peer *m = mdd_connect();
    track(m);

    /* 6.1 setup: alice. */
    peer *a = endpoint_connect("alice", "conf1");
    track(a);
    char *offer = sig_offer("aliceUfrag", SIG_TLS_ID_1, 1111, 2222);
    send_join(a, "conf1", "alice", offer);
    free(offer);
    char *kre, *mre;
    char *p1 = expect_asked(k, m, "conf1", "alice", SIG_TLS_ID_1, &kre, &mre);
    /* A trickled candidate goes to the MDD at once. */
    send_text(a, "{\"type\":\"candidate\",\"mid\":\"0\",\"candidate\":\"candidate:9 1 UDP "
                 "2122260223 192.0.2.10 54401 typ host\"}");
    perc_sig_msg c;
    char *t = expect(m, PERC_SIG_ENDPOINT_CANDIDATE, &c);
    streq(c.participant, p1, "endpoint-candidate.participant");
    streq(c.mid, "0", "endpoint-candidate.mid");
    perc_sig_msg_clear(&c);
    g_free(t);
    quiet();
    admit(k, kre);
    dt_spin(g_ctx, 50);
    quiet(); /* nothing until both replied */
    mdd_answer(m, mre);
    expect_answer(a, p1);
    quiet();
    g_free(kre);
    g_free(mre);
    sendf(k, "{\"type\":\"keyed\",\"conference\":\"conf1\",\"participant\":\"%s\"}", p1);
    sendf(k, "{\"type\":\"epoch\",\"conference\":\"conf1\",\"spi\":1,\"members\":1}");
    quiet(); /* alice gets no joined about herself; epochs are not forwarded */

    /* 6.2 second join: bob. Alice only gets a roster event. */
    peer *b = endpoint_connect("bob", "conf1");
    track(b);
    char *p2 = full_join(k, m, b, "conf1", "bob", "bobUfrag", SIG_TLS_ID_2, 3333, 4444);
    expect_joined(b, p1, "alice", 1111, 2222);
    quiet();
    sendf(k, "{\"type\":\"keyed\",\"conference\":\"conf1\",\"participant\":\"%s\"}", p2);
    expect_joined(a, p2, "bob", 3333, 4444);
    sendf(k, "{\"type\":\"epoch\",\"conference\":\"conf1\",\"spi\":2,\"members\":2}");
    quiet();

    /* 6.3 refusal: carol. */
    peer *cr = endpoint_connect("carol", "conf1");
    track(cr);
    offer = sig_offer("carolUfrag", "dGxzLWlkLWVuZHBvaW50LTM", 5555, 6666);
    send_join(cr, "conf1", "carol", offer);
    free(offer);
    char *p3 = expect_asked(k, m, "conf1", "carol", "dGxzLWlkLWVuZHBvaW50LTM", &kre, &mre);
    sendf(k, "{\"type\":\"refuse\",\"re\":\"%s\",\"reason\":\"not on the list\"}", kre);
    expect_about(m, PERC_SIG_ENDPOINT_LEAVE, p3, "refused");
    {
        perc_sig_msg e;
        t = expect(cr, PERC_SIG_ERROR, &e);
        CHECK(e.code == PERC_SIG_E_REFUSED, "carol: %s", t);
        streq(e.re, "j-carol", "refused.re");
        CHECK(strstr(e.reason, "not on the list"), "carol: %s", t);
        perc_sig_msg_clear(&e);
        g_free(t);
    }
    mdd_answer(m, mre); /* late: ignored */
    quiet();
    g_free(kre);
    g_free(mre);

    /* 6.4 leave: bob. */
    send_text(b, "{\"type\":\"leave\",\"id\":\"l1\"}");
    expect_about(k, PERC_SIG_PARTICIPANT_LEFT, p2, "leave");
    expect_about(m, PERC_SIG_ENDPOINT_LEAVE, p2, "leave");
    expect_simple(b, PERC_SIG_OK);
    expect_about(a, PERC_SIG_LEFT, p2, "leave");
    sendf(k, "{\"type\":\"epoch\",\"conference\":\"conf1\",\"spi\":3,\"members\":1}");
    quiet();

    /* Bad input: each gets its error, nobody else hears of it. */
    send_text(cr, "{\"type\":\"join\",\"id\":");
    expect_error(cr, PERC_SIG_E_BAD_JSON, NULL);
    quiet();
    send_text(cr, "{\"type\":\"no-such-type\",\"id\":\"u\"}");
    expect_error(cr, PERC_SIG_E_UNKNOWN_TYPE, NULL);
    quiet();
    /* A duplicate join: alice again on her joined connection, and carol
     * with alice's identity. */
    offer = sig_offer("aliceUfrag", SIG_TLS_ID_1, 7777, 8888);
    send_join(a, "conf1", "alice", offer);
    expect_error(a, PERC_SIG_E_BAD_STATE, "j-alice");
    quiet();
    send_join(cr, "conf1", "alice", offer);
    expect_error(cr, PERC_SIG_E_DUPLICATE, "j-alice");
    quiet();
    /* SDP without a fingerprint, and without a tls-id. */
    char *nofp = g_strdup(offer);
    char *fp = strstr(nofp, "a=fingerprint:");
    memmove(fp, strstr(fp, "\r\n") + 2, strlen(strstr(fp, "\r\n") + 2) + 1);
    send_join(cr, "conf1", "carol", nofp);
    expect_error(cr, PERC_SIG_E_BAD_SDP, "j-carol");
    quiet();
    g_free(nofp);
    char *notls = g_strdup(offer);
    char *tl;
    while ((tl = strstr(notls, "a=tls-id:")) != NULL)
        memmove(tl, strstr(tl, "\r\n") + 2, strlen(strstr(tl, "\r\n") + 2) + 1);
    send_join(cr, "conf1", "carol", notls);
    expect_error(cr, PERC_SIG_E_BAD_SDP, "j-carol");
    quiet();
    g_free(notls);
    free(offer);
    /* An unknown conference (no --open-conferences): the connection stays. */
    peer *u = peer_new("unknown");
    track(u);
    send_text(u, "{\"type\":\"hello\",\"id\":\"h\",\"role\":\"endpoint\",\"conference\":\"nope\"}");
    expect_error(u, PERC_SIG_E_UNKNOWN_CONFERENCE, "h");
    quiet();
    untrack(u); /* it never got a welcome: the hello timeout closes it later */
    peer_free(u);
    /* A message over the limit: too-large, then the connection is closed. */
    peer *x = peer_new("oversized");
    GString *big = g_string_new("{\"type\":\"hello\",\"id\":\"h\",\"role\":\"endpoint\",\"pad\":\"");
    while (big->len < 70000)
        g_string_append(big, "xxxxxxxxxxxxxxxx");
    g_string_append(big, "\"}");
    send_text(x, big->str);
    g_string_free(big, TRUE);
    expect_error(x, PERC_SIG_E_TOO_LARGE, NULL);
    CHECK(dt_wait_count(g_ctx, &x->closed, 1, WAIT_MS), "oversized: not closed");
    peer_free(x);
    quiet();
    /* A client that never says hello: timeout error and closed. */
    peer *s = peer_new("silent");
    expect_error(s, PERC_SIG_E_TIMEOUT, NULL);
    CHECK(dt_wait_count(g_ctx, &s->closed, 1, WAIT_MS), "silent: not closed");
    peer_free(s);
    quiet();

    /* Alice is unaffected: the status page shows her and the last epoch. */
    char *st = http_get("/status.json");
    CHECK(strstr(st, "\"id\":\"conf1\""), "%s", st);
    CHECK(strstr(st, "\"identity\":\"alice\""), "%s", st);
    CHECK(strstr(st, "\"state\":\"joined\""), "%s", st);
    CHECK(strstr(st, "\"mdd\":\"mdd-1\""), "%s", st);
    CHECK(strstr(st, "\"ssrc\":1111"), "%s", st);
    CHECK(strstr(st, "\"epoch\":{\"spi\":3,\"members\":1,\"count\":3}"), "%s", st);
    CHECK(strstr(st, "\"name\":\"kmf-1\""), "%s", st);
    CHECK(!strstr(st, DAEMON_TOKEN) && !strstr(st, MDD_PWD), "status leaks a secret");
    CHECK(!strstr(st, "bob") && !strstr(st, "carol"), "%s", st);
    g_free(st);

    char *mt = http_get("/metrics");
    CHECK(strstr(mt, "# TYPE perc_signaling_participants gauge"), "%s", mt);
    CHECK(strstr(mt, "# TYPE perc_signaling_joins_total counter"), "%s", mt);
    CHECK(strstr(mt, "# HELP perc_signaling_messages_total "), "%s", mt);
    metric_is(mt, "perc_signaling_participants 1");
    metric_is(mt, "perc_signaling_participants_joined 1");
    metric_is(mt, "perc_signaling_joins_total 3");
    metric_is(mt, "perc_signaling_refusals_total 1");
    metric_is(mt, "perc_signaling_keyed_total 2");
    metric_is(mt, "perc_signaling_epochs_total 3");
    metric_is(mt, "perc_signaling_messages_total{type=\"hello\",direction=\"in\"} 6");
    metric_is(mt, "perc_signaling_messages_total{type=\"join\",direction=\"in\"} 5");
    metric_is(mt, "perc_signaling_messages_total{type=\"answer\",direction=\"out\"} 2");
    metric_is(mt, "perc_signaling_messages_total{type=\"joined\",direction=\"out\"} 2");
    metric_is(mt, "perc_signaling_messages_total{type=\"left\",direction=\"out\"} 1");
    metric_is(mt, "perc_signaling_messages_total{type=\"refuse\",direction=\"in\"} 1");
    g_free(mt);

    /* Alice leaves too; then everyone disconnects. */
    send_text(a, "{\"type\":\"leave\",\"id\":\"l2\"}");
    expect_about(k, PERC_SIG_PARTICIPANT_LEFT, p1, "leave");
    expect_about(m, PERC_SIG_ENDPOINT_LEAVE, p1, "leave");
    expect_simple(a, PERC_SIG_OK);
    quiet();
    mt = http_get("/metrics");
    metric_is(mt, "perc_signaling_participants 0");
    g_free(mt);

    g_free(p1);
    g_free(p2);
    g_free(p3);
    while (g_nall) {
        peer *p = g_all[0];
        untrack(p);
        peer_free(p);
    }
}

static void ws_up(void)
{
    g_ctx = g_main_context_default();
    GMainLoop *loop = g_main_loop_new(g_ctx, FALSE);
    GError *err = NULL;
    g_ws = perc_ws_context_new(loop, &err);
    CHECK(g_ws, "ws context: %s", err ? err->message : "?");
    g_loop = loop; /* must outlive the ws context */
}

/* --page-client PORT CONFERENCE IDENTITY */
static int page_client(const char *port, const char *conf, const char *identity)
{
    g_port = (uint16_t)atoi(port);
    ws_up();
    peer *k = kmf_connect();
    peer *m = mdd_connect();
    peer *e = endpoint_connect("endpoint", conf);
    char *pid = full_join(k, m, e, conf, identity, "pageUfrag", SIG_TLS_ID_1, 1234, 5678);
    sendf(k, "{\"type\":\"keyed\",\"conference\":\"%s\",\"participant\":\"%s\"}", conf, pid);
    sendf(k, "{\"type\":\"epoch\",\"conference\":\"%s\",\"spi\":7,\"members\":1}", conf);
    dt_spin(g_ctx, 200);
    printf("READY %s\n", pid);
    fflush(stdout);
    g_free(pid);
    /* Stay until the script closes our stdin (the page must show live
     * participants). */
    alarm(60);
    char buf[64];
    for (;;) {
        dt_spin(g_ctx, 100);
        GPollFD pfd = {0, G_IO_IN | G_IO_HUP, 0};
        if (g_poll(&pfd, 1, 0) > 0) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r <= 0)
                break;
        }
    }
    peer_free(e);
    peer_free(m);
    peer_free(k);
    perc_ws_context_free(g_ws);
    g_main_loop_unref(g_loop);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    if (g_getenv("PERC_TEST_DEBUG"))
        perc_log_set_level(PERC_LOG_DEBUG);
    else
        perc_log_set_level(PERC_LOG_WARN);
    if (argc == 5 && strcmp(argv[1], "--page-client") == 0)
        return page_client(argv[2], argv[3], argv[4]);
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-perc-signaling\n", argv[0]);
        return 2;
    }
    alarm(90);
    g_port = dt_free_tcp_port();
    char listen[32];
    g_snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)g_port);
    char *args[] = {argv[1], g_strdup("--listen"), g_strdup(listen), g_strdup("--token"),
                    g_strdup(DAEMON_TOKEN), g_strdup("--conference"), g_strdup("conf1"),
                    g_strdup("--hello-timeout"), g_strdup("2"), g_strdup("--log-level"),
                    g_strdup("debug"), NULL};
    GError *err = NULL;
    CHECK(g_spawn_async(NULL, args, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &g_child, &err),
          "spawn: %s", err ? err->message : "?");
    for (size_t i = 1; args[i]; i++)
        g_free(args[i]);
    ws_up();
    scenario();

    /* SIGTERM: clean exit 0. */
    kill(g_child, SIGTERM);
    int status = 0;
    CHECK(waitpid(g_child, &status, 0) == g_child, "waitpid");
    g_child = 0;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "perc-signaling exit status %d", status);
    perc_ws_context_free(g_ws);
    g_main_loop_unref(g_loop);
    printf("PASS %s\n", g_failures ? "with failures" : "");
    return 0;
}
