/* How many endpoint handshakes per second one KMF core completes through
 * the RFC 9185 tunnel, and how that compares with a bare OpenSSL DTLS 1.2
 * server measured in the same run.
 *
 * One process, one thread. Per run: a fresh KMF core (perc/kmf.h), one
 * Media Distributor object (perc/tunnel_md.h) connected to it by in-memory
 * byte streams, and N endpoints (perc_dtls clients) announced to an open
 * conference. Endpoints join one after the other: announce, DTLS handshake
 * through the MD to the KMF, MediaKeys to the MD, EKTKey to the endpoint,
 * ACK back; a join counts once the KMF reports the association connected
 * and the EKTKey acknowledged.
 *
 * Only the CPU time spent inside the KMF's tunnel calls is charged to the
 * KMF (perc_kmf_tunnel_recv, perc_kmf_tunnel_pending, perc_kmf_on_timeout,
 * each bracketed by clock_gettime(CLOCK_THREAD_CPUTIME_ID)); the clients'
 * DTLS work, the MD object and signaling (perc_kmf_announce) are not. The
 * baseline charges a plain OpenSSL DTLS 1.2 server the same way: its
 * SSL_new, the bytes written into and read out of its memory BIOs and its
 * SSL_do_handshake calls. Identities are generated before timing starts.
 *
 * Usage: bench_kmf_handshakes [--n N] [--runs R] [--out FILE]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "perc/dtls.h"
#include "perc/error.h"
#include "perc/kmf.h"
#include "perc/profile.h"
#include "perc/secret.h"
#include "perc/tunnel.h"
#include "perc/tunnel_md.h"

#ifndef PERC_BENCH_RESULTS_DIR
#define PERC_BENCH_RESULTS_DIR "bench/results"
#endif

#define CONF "bench-conference"
#define MAX_RUNS 101

static uint8_t g_buf[PERC_TUNNEL_MAX_MSG * 2];

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_kmf_handshakes: %s: %s\n", what, perc_err_name(rc));
    exit(1);
}

static uint64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* ---- identities (made before any timing) --------------------------------- */

typedef struct identity {
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    char tls_id[48];
} identity;

static void identity_make(identity *id, const char *cn, int idx)
{
    int rc = perc_dtls_identity_generate(cn, &id->cert, &id->key);
    if (rc)
        die("perc_dtls_identity_generate", rc);
    if ((rc = perc_dtls_cert_fingerprint(id->cert, id->fp)))
        die("perc_dtls_cert_fingerprint", rc);
    perc_dtls_ctx_config cc = {id->cert, id->key, NULL, NULL};
    if ((rc = perc_dtls_ctx_new(&cc, &id->ctx)))
        die("perc_dtls_ctx_new", rc);
    snprintf(id->tls_id, sizeof id->tls_id, "BenchEndpointTlsId%06d-abcdef", idx);
}

static void identity_free(identity *id)
{
    perc_dtls_ctx_free(id->ctx);
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
}

/* ---- the KMF run --------------------------------------------------------- */

typedef struct endpoint {
    perc_dtls *d;
    perc_uuid assoc;
    bool has_assoc;
    bool failed;
    int n_ekt;
} endpoint;

typedef struct kmf_run {
    perc_kmf *kmf;
    perc_tunnel_md *md;
    uint64_t conn;
    uint64_t now;               /* virtual clock */
    uint64_t kmf_cpu_ns;        /* inside KMF calls only */
    endpoint *ep;
    int n_ep;
    int admitted;
    int refused;
    int md_problems;
} kmf_run;

static int rand_cb(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* Formatted by the KMF like the daemon's, then dropped. */
static void log_cb(void *user, perc_kmf_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    (void)msg;
}

static void kmf_event_cb(void *user, const perc_kmf_event *ev)
{
    kmf_run *r = user;
    if (ev->type == PERC_KMF_EV_ADMITTED)
        r->admitted++;
    else if (ev->type == PERC_KMF_EV_REFUSED)
        r->refused++;
}

static void md_event_cb(void *user, const perc_tunnel_md_event *ev)
{
    kmf_run *r = user;
    if (ev->type == PERC_TUNNEL_MD_INSTALL_KEYS)
        return; /* a real MD installs them; nothing to measure here */
    if (ev->type != PERC_TUNNEL_MD_DTLS_TO_ENDPOINT || ev->handle >= (uint64_t)r->n_ep) {
        r->md_problems++;
        return;
    }
    endpoint *e = &r->ep[ev->handle];
    if (e->d && perc_dtls_recv(e->d, ev->dtls.ptr, ev->dtls.len, r->now) != PERC_OK)
        e->failed = true;
}

static int ep_on_ekt(void *user, perc_dtls *d, const perc_ekt_key_msg *msg)
{
    (void)d;
    (void)msg;
    endpoint *e = user;
    e->n_ekt++;
    return 0;
}

static void ep_on_closed(void *user, perc_dtls *d, const perc_dtls_close_info *ci)
{
    (void)d;
    endpoint *e = user;
    e->failed = true;
    fprintf(stderr, "endpoint closed: %s (%s)\n", perc_dtls_reason_name(ci->reason), ci->detail);
}

static int timed_recv(kmf_run *r, const uint8_t *data, size_t len)
{
    uint64_t t0 = cpu_now();
    int rc = perc_kmf_tunnel_recv(r->kmf, r->conn, data, len, r->now);
    r->kmf_cpu_ns += cpu_now() - t0;
    return rc;
}

static int timed_pending(kmf_run *r, uint8_t *buf, size_t cap, size_t *len)
{
    uint64_t t0 = cpu_now();
    int rc = perc_kmf_tunnel_pending(r->kmf, r->conn, buf, cap, len);
    r->kmf_cpu_ns += cpu_now() - t0;
    return rc;
}

static int timed_timeout(kmf_run *r)
{
    uint64_t t0 = cpu_now();
    int rc = perc_kmf_on_timeout(r->kmf, r->now);
    r->kmf_cpu_ns += cpu_now() - t0;
    return rc;
}

/* Moves bytes between endpoint i, the MD and the KMF until nobody has
 * anything to send. */
static void pump(kmf_run *r, int i)
{
    int rc;
    for (int iter = 0; iter < 1000; iter++) {
        size_t moved = 0;
        endpoint *e = &r->ep[i];
        for (;;) {
            size_t len;
            if ((rc = perc_dtls_pull(e->d, g_buf, sizeof g_buf, &len)))
                die("perc_dtls_pull", rc);
            if (len == 0)
                break;
            moved += len;
            perc_uuid id;
            rc = perc_tunnel_md_dtls_from_endpoint(r->md, (uint64_t)i, g_buf, len, &id);
            if (rc == PERC_ERR_NOT_FOUND)
                continue; /* after the KMF ended it, and no ClientHello: dropped */
            if (rc)
                die("perc_tunnel_md_dtls_from_endpoint", rc);
            e->assoc = id;
            e->has_assoc = true;
        }
        size_t len;
        if ((rc = perc_tunnel_md_pending_send(r->md, g_buf, sizeof g_buf, &len)))
            die("perc_tunnel_md_pending_send", rc);
        if (len) {
            moved += len;
            if ((rc = timed_recv(r, g_buf, len)))
                die("perc_kmf_tunnel_recv", rc);
        }
        if ((rc = timed_pending(r, g_buf, sizeof g_buf, &len)))
            die("perc_kmf_tunnel_pending", rc);
        if (len) {
            moved += len;
            if ((rc = perc_tunnel_md_recv(r->md, g_buf, len)))
                die("perc_tunnel_md_recv", rc);
        }
        if (moved == 0)
            return;
    }
    fprintf(stderr, "bench_kmf_handshakes: the exchange never went quiet\n");
    exit(1);
}

typedef struct kmf_result {
    double kmf_cpu_s;
    double wall_s;
    double rate;                /* handshakes per KMF CPU second */
} kmf_result;

static kmf_result run_kmf(const identity *kmf_id, const identity *eps, int n)
{
    kmf_run r;
    memset(&r, 0, sizeof r);
    r.now = UINT64_C(1000) * PERC_KMF_SECOND;
    r.n_ep = n;
    r.ep = calloc((size_t)n, sizeof *r.ep);
    if (!r.ep)
        die("calloc", PERC_ERR_NOMEM);
    int rc;
    uint64_t wall0 = wall_now();

    perc_kmf_config kc;
    perc_kmf_config_init(&kc);
    kc.dtls_ctx = kmf_id->ctx;
    kc.random = rand_cb;
    kc.log = log_cb;
    kc.log_level = PERC_KMF_LOG_INFO;
    kc.on_event = kmf_event_cb;
    kc.event_user = &r;
    kc.max_participants = (size_t)n + 1;
    kc.max_associations = (size_t)n + 1;
    if ((rc = perc_kmf_new(&kc, &r.kmf)))
        die("perc_kmf_new", rc);

    static const uint16_t profiles[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                        PERC_PROFILE_DOUBLE_AES_256_GCM};
    perc_tunnel_md_config mc;
    memset(&mc, 0, sizeof mc);
    mc.profiles = profiles;
    mc.n_profiles = 2;
    mc.random = rand_cb;
    mc.on_event = md_event_cb;
    mc.event_user = &r;
    mc.max_queued = (size_t)1 << 24;
    if ((rc = perc_tunnel_md_new(&mc, &r.md)))
        die("perc_tunnel_md_new", rc);
    if ((rc = perc_kmf_tunnel_add(r.kmf, "md-bench", r.now, &r.conn)))
        die("perc_kmf_tunnel_add", rc);
    if ((rc = perc_tunnel_md_reset_connection(r.md)))
        die("perc_tunnel_md_reset_connection", rc);
    if ((rc = perc_kmf_conference_create(r.kmf, CONF, r.now)))
        die("perc_kmf_conference_create", rc);

    for (int i = 0; i < n; i++) {
        const identity *id = &eps[i];
        endpoint *e = &r.ep[i];
        r.now += PERC_KMF_SECOND / 1000;
        /* signaling: not charged to the KMF */
        perc_kmf_answer ans;
        size_t tl = strlen(id->tls_id);
        if ((rc = perc_kmf_announce(r.kmf, CONF, NULL, id->fp, (const uint8_t *)id->tls_id, tl,
                                    r.now, &ans)))
            die("perc_kmf_announce", rc);
        if (!ans.allowed) {
            fprintf(stderr, "announcement refused: %s\n", ans.reason);
            exit(1);
        }
        perc_dtls_config dc;
        perc_dtls_config_init(&dc, PERC_DTLS_CLIENT);
        if ((rc = perc_dtls_config_set_tls_id(&dc, (const uint8_t *)id->tls_id, tl)) ||
            (rc = perc_dtls_config_expect_peer_tls_id(&dc, (const uint8_t *)ans.tls_id,
                                                       ans.tls_id_len)))
            die("perc_dtls_config", rc);
        perc_dtls_config_expect_peer_fingerprint(&dc, ans.fingerprint);
        perc_dtls_callbacks cbs;
        memset(&cbs, 0, sizeof cbs);
        cbs.user = e;
        cbs.ekt_key = ep_on_ekt;
        cbs.closed = ep_on_closed;
        if ((rc = perc_dtls_new(id->ctx, &dc, &cbs, &e->d)))
            die("perc_dtls_new", rc);
        if ((rc = perc_dtls_start(e->d, r.now)))
            die("perc_dtls_start", rc);
        pump(&r, i);
        if (perc_kmf_next_timeout(r.kmf) <= r.now) {
            if ((rc = timed_timeout(&r)))
                die("perc_kmf_on_timeout", rc);
            pump(&r, i);
        }
        perc_kmf_association_info ai;
        if (!e->has_assoc || e->failed || e->n_ekt != 1 ||
            perc_kmf_association_info_get(r.kmf, &e->assoc, &ai) != PERC_OK ||
            ai.state != PERC_KMF_ASSOC_CONNECTED || !ai.acked) {
            fprintf(stderr, "bench_kmf_handshakes: endpoint %d did not complete its join\n", i);
            exit(1);
        }
    }
    if (r.admitted != n || r.refused != 0 || r.md_problems != 0) {
        fprintf(stderr, "bench_kmf_handshakes: %d admitted, %d refused, %d MD problems\n",
                r.admitted, r.refused, r.md_problems);
        exit(1);
    }
    kmf_result res;
    res.wall_s = (double)(wall_now() - wall0) / 1e9;
    res.kmf_cpu_s = (double)r.kmf_cpu_ns / 1e9;
    res.rate = (double)n / res.kmf_cpu_s;

    perc_kmf_free(r.kmf);
    perc_tunnel_md_free(r.md);
    for (int i = 0; i < n; i++)
        perc_dtls_free(r.ep[i].d);
    free(r.ep);
    return res;
}

/* ---- the baseline: a bare OpenSSL DTLS 1.2 server ------------------------ */

static int accept_any(X509_STORE_CTX *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return 1; /* self-signed peers; the fingerprint is checked elsewhere */
}

static SSL_CTX *base_ctx(bool server, const identity *id)
{
    SSL_CTX *c = SSL_CTX_new(DTLS_method());
    if (!c || SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1) {
        fprintf(stderr, "bench_kmf_handshakes: SSL_CTX setup failed\n");
        exit(1);
    }
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(c, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                 : SSL_VERIFY_PEER,
                       NULL);
    SSL_CTX_set_cert_verify_callback(c, accept_any, NULL);
    if (id && (SSL_CTX_use_certificate(c, id->cert) != 1 ||
               SSL_CTX_use_PrivateKey(c, id->key) != 1)) {
        fprintf(stderr, "bench_kmf_handshakes: SSL_CTX identity failed\n");
        exit(1);
    }
    return c;
}

static SSL *base_ssl(SSL_CTX *c, BIO **in, BIO **out)
{
    SSL *s = SSL_new(c);
    *in = BIO_new(BIO_s_mem());
    *out = BIO_new(BIO_s_mem());
    if (!s || !*in || !*out) {
        fprintf(stderr, "bench_kmf_handshakes: SSL_new failed\n");
        exit(1);
    }
    BIO_set_mem_eof_return(*in, -1);
    BIO_set_mem_eof_return(*out, -1);
    SSL_set_bio(s, *in, *out);
    SSL_set_mtu(s, PERC_DTLS_DEFAULT_MTU);
    return s;
}

static void base_step(SSL *s)
{
    int ret = SSL_do_handshake(s);
    if (ret != 1) {
        int err = SSL_get_error(s, ret);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            fprintf(stderr, "bench_kmf_handshakes: baseline handshake failed (%d, %lu)\n", err,
                    ERR_get_error());
            exit(1);
        }
    }
}

typedef struct base_result {
    double server_cpu_s;
    double rate;
    char group[32];
} base_result;

static base_result run_base(const identity *srv_id, const identity *eps, int n)
{
    base_result res;
    memset(&res, 0, sizeof res);
    SSL_CTX *sc = base_ctx(true, srv_id);
    SSL_CTX *cc = base_ctx(false, NULL);
    uint64_t srv_ns = 0;
    for (int i = 0; i < n; i++) {
        BIO *cin, *cout, *sin = NULL, *sout = NULL;
        SSL *cl = base_ssl(cc, &cin, &cout);
        if (SSL_use_certificate(cl, eps[i].cert) != 1 || SSL_use_PrivateKey(cl, eps[i].key) != 1) {
            fprintf(stderr, "bench_kmf_handshakes: client identity failed\n");
            exit(1);
        }
        SSL_set_connect_state(cl);
        uint64_t t0 = cpu_now();
        SSL *sv = base_ssl(sc, &sin, &sout);
        SSL_set_accept_state(sv);
        srv_ns += cpu_now() - t0;
        for (int iter = 0; iter < 100; iter++) {
            if (SSL_is_init_finished(cl) && SSL_is_init_finished(sv))
                break;
            base_step(cl);
            int len = BIO_read(cout, g_buf, (int)sizeof g_buf);
            if (len > 0) {
                t0 = cpu_now();
                BIO_write(sin, g_buf, len);
                base_step(sv);
                len = BIO_read(sout, g_buf, (int)sizeof g_buf);
                srv_ns += cpu_now() - t0;
                if (len > 0)
                    BIO_write(cin, g_buf, len);
            }
        }
        if (!SSL_is_init_finished(cl) || !SSL_is_init_finished(sv)) {
            fprintf(stderr, "bench_kmf_handshakes: baseline handshake did not finish\n");
            exit(1);
        }
        if (i == 0) {
            int nid = (int)SSL_get_negotiated_group(sv);
            const char *g = OBJ_nid2sn(nid & ~TLSEXT_nid_unknown);
            snprintf(res.group, sizeof res.group, "%s", g ? g : "?");
        }
        SSL_free(sv);
        SSL_free(cl);
    }
    SSL_CTX_free(sc);
    SSL_CTX_free(cc);
    res.server_cpu_s = (double)srv_ns / 1e9;
    res.rate = (double)n / res.server_cpu_s;
    return res;
}

/* ---- statistics and output ----------------------------------------------- */

/* ---- context: what OpenSSL charges to parse the endpoint's certificate -- */

/* CPU microseconds per d2i_X509 of one endpoint certificate (P-256,
 * self-signed, as perc_dtls_identity_generate makes them). A DTLS server
 * that asks for the client's certificate parses it once per handshake;
 * OpenSSL 3.0 sets up its decoders for the public key on every parse,
 * which is most of this figure. */
static double cert_parse_us(const identity *id, int count)
{
    uint8_t *der = NULL;
    int len = i2d_X509(id->cert, &der);
    if (len <= 0)
        die("i2d_X509", PERC_ERR_CRYPTO);
    uint64_t t0 = cpu_now();
    for (int i = 0; i < count; i++) {
        const uint8_t *p = der;
        X509 *x = d2i_X509(NULL, &p, len);
        if (!x)
            die("d2i_X509", PERC_ERR_CRYPTO);
        X509_free(x);
    }
    double us = (double)(cpu_now() - t0) / 1e3 / count;
    OPENSSL_free(der);
    return us;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct summary {
    double median, min, max;
} summary;

static summary summarize(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    summary r;
    r.min = s[0];
    r.max = s[n - 1];
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    return r;
}

static void json_array(FILE *f, const char *name, const double *v, int n, bool comma)
{
    fprintf(f, "    \"%s\": [", name);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.6g", i ? ", " : "", v[i]);
    fprintf(f, "]%s\n", comma ? "," : "");
}

static void json_summary(FILE *f, const char *name, summary s, bool comma)
{
    fprintf(f, "    \"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}%s\n", name, s.median,
            s.min, s.max, comma ? "," : "");
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_kmf_handshakes [--n N] [--runs R] [--out FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int n = 200, runs = 5;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else
            usage();
    }
    if (n < 1 || n > 5000 || runs < 1 || runs > MAX_RUNS)
        usage();

    /* identities first: nothing here is timed */
    identity kmf_id;
    identity *eps = calloc((size_t)n, sizeof *eps);
    if (!eps)
        die("calloc", PERC_ERR_NOMEM);
    identity_make(&kmf_id, "kmf", 0);
    for (int i = 0; i < n; i++)
        identity_make(&eps[i], "endpoint", i);

    /* warm-up: one short run of each, not reported */
    (void)run_kmf(&kmf_id, eps, n < 10 ? n : 10);
    (void)run_base(&kmf_id, eps, n < 10 ? n : 10);

    double kmf_rate[MAX_RUNS], kmf_cpu[MAX_RUNS], wall[MAX_RUNS], base_rate[MAX_RUNS],
        ratio[MAX_RUNS], parse_us[MAX_RUNS];
    char group[32] = "";
    printf("bench_kmf_handshakes: N=%d handshakes per run, R=%d runs, %s\n", n, runs,
           OpenSSL_version(OPENSSL_VERSION));
    printf("%-4s %14s %12s %12s %16s %8s\n", "run", "KMF hs/s(cpu)", "KMF cpu s", "wall s",
           "bare DTLS hs/s", "ratio");
    for (int r = 0; r < runs; r++) {
        kmf_result k = run_kmf(&kmf_id, eps, n);
        base_result b = run_base(&kmf_id, eps, n);
        kmf_rate[r] = k.rate;
        kmf_cpu[r] = k.kmf_cpu_s;
        wall[r] = k.wall_s;
        base_rate[r] = b.rate;
        ratio[r] = k.rate / b.rate;
        parse_us[r] = cert_parse_us(&eps[0], 200);
        snprintf(group, sizeof group, "%s", b.group);
        printf("%-4d %14.1f %12.4f %12.4f %16.1f %7.1f%%\n", r + 1, k.rate, k.kmf_cpu_s,
               k.wall_s, b.rate, 100.0 * ratio[r]);
    }
    summary sk = summarize(kmf_rate, runs), sb = summarize(base_rate, runs),
            sr = summarize(ratio, runs), sw = summarize(wall, runs),
            sc = summarize(kmf_cpu, runs), sp = summarize(parse_us, runs);
    printf("\nKMF handshakes per second of KMF CPU: median %.1f (min %.1f, max %.1f)\n",
           sk.median, sk.min, sk.max);
    printf("bare OpenSSL DTLS 1.2 server (%s): median %.1f hs/s (min %.1f, max %.1f)\n",
           group, sb.median, sb.min, sb.max);
    printf("ratio KMF / bare server (per run): median %.1f%% (min %.1f%%, max %.1f%%)\n",
           100.0 * sr.median, 100.0 * sr.min, 100.0 * sr.max);
    printf("wall time of a whole run (clients included): median %.3f s\n", sw.median);
    printf("context: OpenSSL d2i_X509 of one endpoint certificate: median %.1f us CPU "
           "(%.1f%% of the KMF's median time per handshake)\n",
           sp.median, 100.0 * sp.median * 1e-6 * sk.median);
    printf("target 500 handshakes/s per KMF core: %s\n", sk.median >= 500.0 ? "met" : "NOT met");

    char path[1024];
    if (!out) {
        if (mkdir(PERC_BENCH_RESULTS_DIR, 0777) != 0 && errno != EEXIST)
            fprintf(stderr, "cannot create %s\n", PERC_BENCH_RESULTS_DIR);
        snprintf(path, sizeof path, "%s/kmf_handshakes.json", PERC_BENCH_RESULTS_DIR);
        out = path;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "bench_kmf_handshakes: cannot write %s\n", out);
        return 1;
    }
    fprintf(f, "{\n  \"benchmark\": \"kmf_handshakes\",\n");
    fprintf(f, "  \"openssl\": \"%s\",\n", OpenSSL_version(OPENSSL_VERSION));
    fprintf(f, "  \"handshakes_per_run\": %d,\n  \"runs\": %d,\n", n, runs);
    fprintf(f, "  \"baseline_group\": \"%s\",\n", group);
    fprintf(f, "  \"target_hs_per_s\": 500,\n  \"target_met\": %s,\n",
            sk.median >= 500.0 ? "true" : "false");
    fprintf(f, "  \"results\": {\n");
    json_array(f, "kmf_hs_per_cpu_s", kmf_rate, runs, true);
    json_array(f, "kmf_cpu_s", kmf_cpu, runs, true);
    json_array(f, "wall_s", wall, runs, true);
    json_array(f, "bare_dtls_server_hs_per_cpu_s", base_rate, runs, true);
    json_array(f, "ratio_kmf_to_bare", ratio, runs, true);
    json_array(f, "openssl_cert_parse_us", parse_us, runs, false);
    fprintf(f, "  },\n  \"summary\": {\n");
    json_summary(f, "kmf_hs_per_cpu_s", sk, true);
    json_summary(f, "kmf_cpu_s", sc, true);
    json_summary(f, "wall_s", sw, true);
    json_summary(f, "bare_dtls_server_hs_per_cpu_s", sb, true);
    json_summary(f, "ratio_kmf_to_bare", sr, true);
    json_summary(f, "openssl_cert_parse_us", sp, false);
    fprintf(f, "  }\n}\n");
    fclose(f);
    printf("results: %s\n", out);

    for (int i = 0; i < n; i++)
        identity_free(&eps[i]);
    free(eps);
    identity_free(&kmf_id);
    return 0;
}
