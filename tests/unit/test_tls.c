/* Sans-I/O TLS 1.3 endpoint for the tunnel (perc/tls.h): handshakes in
 * memory in both roles with CA and pinned trust, every refusal with its
 * reason, application data, close_notify, garbage, file loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "perc/tls.h"
#include "test_util.h"

/* ---- certificates made in memory -------------------------------------- */

typedef struct ident {
    X509 *cert;
    EVP_PKEY *key;
} ident;

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for a fresh P-256 key. issuer NULL: self-signed. is_ca: a
 * CA certificate. dns: the subjectAltName DNS name of an end-entity
 * certificate. Validity: [now + from_s, now + to_s]. */
static ident make_ident_at(const char *cn, const ident *issuer, int is_ca, const char *dns,
                           long from_s, long to_s)
{
    static int64_t serial = 1;
    ident id;
    id.key = EVP_EC_gen("P-256");
    assert_non_null(id.key);
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set_int64(X509_get_serialNumber(x), serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from_s));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to_s));
    assert_int_equal(X509_set_pubkey(x, id.key), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) : name),
                     1);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer->cert : x, x, NULL, NULL, 0);
    add_ext(x, &v3, NID_subject_key_identifier, "hash");
    if (issuer)
        add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
    if (is_ca) {
        add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
        add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth");
        if (dns) {
            char san[128];
            snprintf(san, sizeof san, "DNS:%s", dns);
            add_ext(x, &v3, NID_subject_alt_name, san);
        }
    }
    assert_true(X509_sign(x, issuer ? issuer->key : id.key, EVP_sha256()) > 0);
    id.cert = x;
    return id;
}

static ident make_ca(const char *cn) { return make_ident_at(cn, NULL, 1, NULL, -3600, 86400); }

static ident make_leaf(const char *cn, const ident *issuer, const char *dns)
{
    return make_ident_at(cn, issuer, 0, dns, -3600, 86400);
}

static void ident_free(ident *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    id->cert = NULL;
    id->key = NULL;
}

static void fingerprint_of(const ident *id, uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    assert_int_equal(perc_tls_cert_fingerprint(id->cert, fp), PERC_OK);
}

/* ---- contexts and connections ------------------------------------------ */

typedef struct trust_opts {
    const ident *ca;                           /* NULL: no trust anchors */
    const uint8_t (*pins)[PERC_TLS_FINGERPRINT_LEN];
    size_t n_pins;
    const char *peer_name;
} trust_opts;

static perc_tls_ctx *new_ctx(perc_tls_role role, const ident *self, trust_opts t)
{
    X509 *anchors[1];
    perc_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    cfg.cert = self->cert;
    cfg.key = self->key;
    if (t.ca) {
        anchors[0] = t.ca->cert;
        cfg.ca_certs = anchors;
        cfg.n_ca_certs = 1;
    }
    cfg.trust.pins = t.pins;
    cfg.trust.n_pins = t.n_pins;
    cfg.trust.peer_name = t.peer_name;
    perc_tls_ctx *ctx = NULL;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_OK);
    assert_non_null(ctx);
    return ctx;
}

static perc_tls *new_conn(perc_tls_ctx *ctx)
{
    perc_tls *tls = NULL;
    assert_int_equal(perc_tls_new(ctx, &tls), PERC_OK);
    assert_non_null(tls);
    return tls;
}

/* Moves what `from` wants to send into `to`, in chunks of at most `chunk`
 * octets. Returns how many octets moved and stores the last recv result. */
static size_t move(perc_tls *from, perc_tls *to, size_t chunk, int *last_rc)
{
    uint8_t buf[4096];
    size_t moved = 0;
    for (;;) {
        size_t n;
        size_t cap = chunk < sizeof buf ? chunk : sizeof buf;
        assert_int_equal(perc_tls_pending_send(from, buf, cap, &n), PERC_OK);
        if (n == 0)
            return moved;
        moved += n;
        int rc = perc_tls_recv(to, buf, n);
        if (last_rc)
            *last_rc = rc;
    }
}

/* Shuttles bytes both ways until neither side has anything to send. */
static void pump_chunked(perc_tls *c, perc_tls *s, size_t chunk, int *c_rc, int *s_rc)
{
    for (int i = 0; i < 1000; i++) {
        size_t n = move(c, s, chunk, s_rc) + move(s, c, chunk, c_rc);
        if (n == 0)
            return;
    }
    fail_msg("connections never went quiet");
}

static void pump(perc_tls *c, perc_tls *s, int *c_rc, int *s_rc)
{
    pump_chunked(c, s, SIZE_MAX, c_rc, s_rc);
}

typedef struct pair {
    perc_tls_ctx *cctx, *sctx;
    perc_tls *c, *s;
    int c_rc, s_rc;
} pair;

static void pair_start(pair *p, const ident *client, trust_opts ct, const ident *server,
                       trust_opts st)
{
    p->cctx = new_ctx(PERC_TLS_CLIENT, client, ct);
    p->sctx = new_ctx(PERC_TLS_SERVER, server, st);
    p->c = new_conn(p->cctx);
    p->s = new_conn(p->sctx);
    p->c_rc = p->s_rc = PERC_OK;
    assert_int_equal(perc_tls_get_state(p->c), PERC_TLS_HANDSHAKING);
    assert_int_equal(perc_tls_get_state(p->s), PERC_TLS_HANDSHAKING);
    assert_true(perc_tls_pending_len(p->c) > 0); /* ClientHello ready */
    assert_int_equal(perc_tls_pending_len(p->s), 0);
    pump(p->c, p->s, &p->c_rc, &p->s_rc);
}

static void pair_free(pair *p)
{
    perc_tls_free(p->c);
    perc_tls_free(p->s);
    perc_tls_ctx_free(p->cctx);
    perc_tls_ctx_free(p->sctx);
}

static void assert_open(const pair *p)
{
    assert_int_equal(p->c_rc, PERC_OK);
    assert_int_equal(p->s_rc, PERC_OK);
    assert_int_equal(perc_tls_get_state(p->c), PERC_TLS_OPEN);
    assert_int_equal(perc_tls_get_state(p->s), PERC_TLS_OPEN);
    assert_string_equal(perc_tls_reason(p->c), "");
    assert_string_equal(perc_tls_reason(p->s), "");
}

static void assert_peer_fp(const perc_tls *tls, const ident *peer)
{
    uint8_t want[PERC_TLS_FINGERPRINT_LEN], got[PERC_TLS_FINGERPRINT_LEN];
    fingerprint_of(peer, want);
    assert_int_equal(perc_tls_peer_fingerprint(tls, got), PERC_OK);
    assert_memory_equal(got, want, sizeof want);
}

static void assert_reason_has(const perc_tls *tls, const char *part)
{
    const char *r = perc_tls_reason(tls);
    if (!strstr(r, part))
        fail_msg("reason \"%s\" lacks \"%s\"", r, part);
}

/* Sends data one way and checks it arrives whole. */
static void transfer(perc_tls *from, perc_tls *to, const uint8_t *data, size_t len, size_t chunk)
{
    assert_int_equal(perc_tls_write(from, data, len), PERC_OK);
    uint8_t *got = malloc(len + 1);
    assert_non_null(got);
    size_t have = 0;
    uint8_t buf[4096];
    for (;;) {
        size_t n;
        size_t cap = chunk < sizeof buf ? chunk : sizeof buf;
        assert_int_equal(perc_tls_pending_send(from, buf, cap, &n), PERC_OK);
        if (n == 0)
            break;
        assert_int_equal(perc_tls_recv(to, buf, n), PERC_OK);
        for (;;) {
            size_t r;
            assert_int_equal(perc_tls_read(to, got + have, len + 1 - have, &r), PERC_OK);
            if (r == 0)
                break;
            have += r;
            assert_true(have <= len);
        }
    }
    assert_int_equal(have, len);
    assert_memory_equal(got, data, len);
    free(got);
}

/* ---- handshakes -------------------------------------------------------- */

static void test_handshake_with_ca(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    pair p;
    pair_start(&p, &md, t, &kd, t);
    assert_open(&p);
    assert_int_equal(perc_tls_get_role(p.c), PERC_TLS_CLIENT);
    assert_int_equal(perc_tls_get_role(p.s), PERC_TLS_SERVER);
    assert_peer_fp(p.c, &kd);
    assert_peer_fp(p.s, &md);
    /* TLS 1.3 only, no tickets: nothing left to send once both are open. */
    assert_int_equal(perc_tls_pending_len(p.c), 0);
    assert_int_equal(perc_tls_pending_len(p.s), 0);
    pair_free(&p);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

static void test_handshake_with_pins(void **state)
{
    (void)state;
    ident kd = make_leaf("kd", NULL, "kd.example");
    ident md = make_leaf("md", NULL, "md.example");
    uint8_t kd_pins[2][PERC_TLS_FINGERPRINT_LEN], md_pin[1][PERC_TLS_FINGERPRINT_LEN];
    memset(kd_pins[0], 0xAB, PERC_TLS_FINGERPRINT_LEN); /* a pin that matches nothing */
    fingerprint_of(&kd, kd_pins[1]);
    fingerprint_of(&md, md_pin[0]);
    trust_opts ct = {NULL, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])kd_pins, 2, NULL};
    trust_opts st = {NULL, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])md_pin, 1, NULL};
    pair p;
    pair_start(&p, &md, ct, &kd, st);
    assert_open(&p);
    assert_peer_fp(p.c, &kd);
    assert_peer_fp(p.s, &md);
    pair_free(&p);
    ident_free(&md);
    ident_free(&kd);
}

/* With a CA and pins both configured, a CA-signed but unpinned peer is refused. */
static void test_ca_and_pins_both_required(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    ident other = make_leaf("other", &ca, "other.example");
    uint8_t pin_kd[1][PERC_TLS_FINGERPRINT_LEN], pin_other[1][PERC_TLS_FINGERPRINT_LEN];
    fingerprint_of(&kd, pin_kd[0]);
    fingerprint_of(&other, pin_other[0]);

    trust_opts ct = {&ca, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin_kd, 1, NULL};
    trust_opts st_ok = {&ca, NULL, 0, NULL};
    pair p;
    pair_start(&p, &md, ct, &kd, st_ok);
    assert_open(&p);
    pair_free(&p);

    trust_opts st_bad = {&ca, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin_other, 1, NULL};
    pair_start(&p, &md, ct, &kd, st_bad);
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(p.s), PERC_TLS_FAILED);
    assert_string_equal(perc_tls_reason(p.s), "peer certificate fingerprint not pinned");
    pair_free(&p);

    /* A pinned self-signed certificate with a CA also configured fails the
     * chain check. */
    ident self = make_leaf("self", NULL, "md.example");
    uint8_t pin_self[1][PERC_TLS_FINGERPRINT_LEN];
    fingerprint_of(&self, pin_self[0]);
    trust_opts st_self = {&ca, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin_self, 1, NULL};
    pair_start(&p, &self, ct, &kd, st_self);
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_reason_has(p.s, "peer certificate not trusted");
    pair_free(&p);

    ident_free(&self);
    ident_free(&other);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

/* RFC 8871 §4.5.1: a KD serves no unauthenticated MD. The client's
 * certificate comes from another CA: the server refuses with a reason and
 * the client learns it from the alert (in TLS 1.3 the client believes the
 * handshake complete before the server has checked its certificate). */
static void test_untrusted_client_refused(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident rogue_ca = make_ca("rogue CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &rogue_ca, "md.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    pair p;
    pair_start(&p, &md, t, &kd, t);
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(p.s), PERC_TLS_FAILED);
    assert_reason_has(p.s, "peer certificate not trusted");
    assert_reason_has(p.s, "unable to get local issuer certificate");
    /* The refused peer's fingerprint is known, for the log. */
    assert_peer_fp(p.s, &md);
    assert_int_equal(p.c_rc, PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(p.c), PERC_TLS_FAILED);
    assert_reason_has(p.c, "peer sent alert");

    /* Failed is final: every call repeats the error, nothing is read. */
    uint8_t buf[16];
    size_t n = 99;
    assert_int_equal(perc_tls_read(p.s, buf, sizeof buf, &n), PERC_ERR_AUTH);
    assert_int_equal(n, 0);
    assert_int_equal(perc_tls_write(p.s, buf, sizeof buf), PERC_ERR_AUTH);
    assert_int_equal(perc_tls_recv(p.s, buf, sizeof buf), PERC_ERR_AUTH);
    assert_int_equal(perc_tls_write(p.c, buf, sizeof buf), PERC_ERR_AUTH);
    pair_free(&p);

    /* A self-signed client certificate fails the same way. */
    ident self = make_leaf("md", NULL, "md.example");
    pair_start(&p, &self, t, &kd, t);
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_reason_has(p.s, "peer certificate not trusted");
    pair_free(&p);

    ident_free(&self);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&rogue_ca);
    ident_free(&ca);
}

static void test_unpinned_server_refused(void **state)
{
    (void)state;
    ident kd = make_leaf("kd", NULL, "kd.example");
    ident impostor = make_leaf("kd", NULL, "kd.example");
    ident md = make_leaf("md", NULL, "md.example");
    uint8_t pin_kd[1][PERC_TLS_FINGERPRINT_LEN], pin_md[1][PERC_TLS_FINGERPRINT_LEN];
    fingerprint_of(&kd, pin_kd[0]);
    fingerprint_of(&md, pin_md[0]);
    trust_opts ct = {NULL, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin_kd, 1, NULL};
    trust_opts st = {NULL, (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin_md, 1, NULL};
    pair p;
    pair_start(&p, &md, ct, &impostor, st);
    assert_int_equal(p.c_rc, PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(p.c), PERC_TLS_FAILED);
    assert_string_equal(perc_tls_reason(p.c), "peer certificate fingerprint not pinned");
    assert_peer_fp(p.c, &impostor);
    /* The server never saw a client certificate; it gets the alert. */
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(p.s), PERC_TLS_FAILED);
    assert_reason_has(p.s, "peer sent alert");
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN];
    assert_int_equal(perc_tls_peer_fingerprint(p.s, fp), PERC_ERR_NOT_FOUND);
    pair_free(&p);
    ident_free(&md);
    ident_free(&impostor);
    ident_free(&kd);
}

static void test_peer_name(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    trust_opts st = {&ca, NULL, 0, "md.example"};
    trust_opts ct_ok = {&ca, NULL, 0, "kd.example"};
    pair p;
    pair_start(&p, &md, ct_ok, &kd, st);
    assert_open(&p);
    pair_free(&p);

    trust_opts ct_bad = {&ca, NULL, 0, "other.example"};
    pair_start(&p, &md, ct_bad, &kd, st);
    assert_int_equal(p.c_rc, PERC_ERR_AUTH);
    assert_string_equal(perc_tls_reason(p.c), "peer certificate does not name other.example");
    pair_free(&p);

    /* An IP literal is matched against IP addresses, which kd lacks. */
    trust_opts ct_ip = {&ca, NULL, 0, "192.0.2.1"};
    pair_start(&p, &md, ct_ip, &kd, st);
    assert_int_equal(p.c_rc, PERC_ERR_AUTH);
    assert_reason_has(p.c, "does not name 192.0.2.1");
    pair_free(&p);

    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

static void test_expired_cert_refused(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident old = make_ident_at("md", &ca, 0, "md.example", -7200, -3600);
    trust_opts t = {&ca, NULL, 0, NULL};
    pair p;
    pair_start(&p, &old, t, &kd, t);
    assert_int_equal(p.s_rc, PERC_ERR_AUTH);
    assert_reason_has(p.s, "certificate has expired");
    assert_int_equal(p.c_rc, PERC_ERR_AUTH);
    pair_free(&p);
    ident_free(&old);
    ident_free(&kd);
    ident_free(&ca);
}

/* ---- a plain OpenSSL client, for what our API cannot produce ----------- */

typedef struct raw_client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
} raw_client;

static void raw_start(raw_client *rc, int max_version)
{
    rc->ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(rc->ctx);
    assert_int_equal(SSL_CTX_set_max_proto_version(rc->ctx, max_version), 1);
    SSL_CTX_set_verify(rc->ctx, SSL_VERIFY_NONE, NULL);
    rc->ssl = SSL_new(rc->ctx);
    rc->rbio = BIO_new(BIO_s_mem());
    rc->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rc->rbio, -1);
    SSL_set_bio(rc->ssl, rc->rbio, rc->wbio);
    SSL_set_connect_state(rc->ssl);
}

/* Runs the raw client against our server until quiet; returns the last
 * recv result of the server. */
static int raw_pump(raw_client *rc, perc_tls *s)
{
    int s_rc = PERC_OK;
    uint8_t buf[4096];
    for (int i = 0; i < 100; i++) {
        (void)SSL_do_handshake(rc->ssl);
        size_t moved = 0;
        size_t n;
        while (BIO_read_ex(rc->wbio, buf, sizeof buf, &n) == 1 && n > 0) {
            s_rc = perc_tls_recv(s, buf, n);
            moved += n;
        }
        for (;;) {
            assert_int_equal(perc_tls_pending_send(s, buf, sizeof buf, &n), PERC_OK);
            if (n == 0)
                break;
            size_t w;
            assert_int_equal(BIO_write_ex(rc->rbio, buf, n, &w), 1);
            moved += n;
        }
        if (moved == 0)
            break;
    }
    ERR_clear_error();
    return s_rc;
}

static void raw_free(raw_client *rc)
{
    SSL_free(rc->ssl);
    SSL_CTX_free(rc->ctx);
}

static void test_no_client_cert_refused(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    perc_tls_ctx *sctx = new_ctx(PERC_TLS_SERVER, &kd, t);
    perc_tls *s = new_conn(sctx);
    raw_client rc;
    raw_start(&rc, TLS1_3_VERSION);
    assert_int_equal(raw_pump(&rc, s), PERC_ERR_AUTH);
    assert_int_equal(perc_tls_get_state(s), PERC_TLS_FAILED);
    assert_string_equal(perc_tls_reason(s), "peer sent no certificate");
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN];
    assert_int_equal(perc_tls_peer_fingerprint(s, fp), PERC_ERR_NOT_FOUND);
    raw_free(&rc);
    perc_tls_free(s);
    perc_tls_ctx_free(sctx);
    ident_free(&kd);
    ident_free(&ca);
}

static void test_tls12_client_refused(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    perc_tls_ctx *sctx = new_ctx(PERC_TLS_SERVER, &kd, t);
    perc_tls *s = new_conn(sctx);
    raw_client rc;
    raw_start(&rc, TLS1_2_VERSION);
    assert_int_equal(raw_pump(&rc, s), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_tls_get_state(s), PERC_TLS_FAILED);
    assert_reason_has(s, "no TLS 1.3 in common");
    raw_free(&rc);
    perc_tls_free(s);
    perc_tls_ctx_free(sctx);
    ident_free(&kd);
    ident_free(&ca);
}

/* ---- application data, close, garbage ---------------------------------- */

typedef struct world {
    ident ca, kd, md;
    pair p;
} world;

static world *open_world(void)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->ca = make_ca("test CA");
    w->kd = make_leaf("kd", &w->ca, "kd.example");
    w->md = make_leaf("md", &w->ca, "md.example");
    trust_opts t = {&w->ca, NULL, 0, NULL};
    pair_start(&w->p, &w->md, t, &w->kd, t);
    assert_open(&w->p);
    return w;
}

static void close_world(world *w)
{
    pair_free(&w->p);
    ident_free(&w->md);
    ident_free(&w->kd);
    ident_free(&w->ca);
    free(w);
}

static void test_app_data(void **state)
{
    (void)state;
    world *w = open_world();
    static const uint8_t HELLO[] = {0x01, 0x00, 0x07, 0x00, 0x00, 0x04, 0x00, 0x09, 0x00, 0x0a};
    transfer(w->p.c, w->p.s, HELLO, sizeof HELLO, SIZE_MAX);
    transfer(w->p.s, w->p.c, HELLO, sizeof HELLO, SIZE_MAX);

    /* 100 000 octets: several 16 KiB records, both ways. */
    size_t big_len = 100000;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    tu_rng_fill(&rng, big, big_len);
    assert_int_equal(perc_tls_write(w->p.c, big, big_len), PERC_OK);
    assert_true(perc_tls_pending_len(w->p.c) > big_len + 6 * 16); /* >= 7 record overheads */
    uint8_t drain[4096];
    size_t n;
    do {
        assert_int_equal(perc_tls_pending_send(w->p.c, drain, sizeof drain, &n), PERC_OK);
    } while (n > 0);
    /* That data was dropped on the floor: use a fresh connection pair to
     * check delivery instead of a desynchronised one. */
    close_world(w);

    w = open_world();
    transfer(w->p.c, w->p.s, big, big_len, SIZE_MAX);
    transfer(w->p.s, w->p.c, big, big_len, 1000);
    /* Byte by byte: every record split into single octets. */
    transfer(w->p.c, w->p.s, big, 20000, 1);
    transfer(w->p.s, w->p.c, HELLO, sizeof HELLO, 1);
    free(big);

    /* A small read buffer gets the data in pieces. */
    assert_int_equal(perc_tls_write(w->p.c, HELLO, sizeof HELLO), PERC_OK);
    move(w->p.c, w->p.s, SIZE_MAX, NULL);
    uint8_t three[3];
    size_t got = 0;
    uint8_t all[sizeof HELLO];
    for (;;) {
        assert_int_equal(perc_tls_read(w->p.s, three, sizeof three, &n), PERC_OK);
        if (n == 0)
            break;
        assert_true(n <= 3);
        memcpy(all + got, three, n);
        got += n;
    }
    assert_int_equal(got, sizeof HELLO);
    assert_memory_equal(all, HELLO, sizeof HELLO);
    assert_int_equal(perc_tls_write(w->p.c, HELLO, 0), PERC_OK);
    close_world(w);
}

static void test_write_before_open(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    perc_tls_ctx *cctx = new_ctx(PERC_TLS_CLIENT, &md, t);
    perc_tls *c = new_conn(cctx);
    uint8_t b[4] = {1, 2, 3, 4};
    size_t n = 9;
    assert_int_equal(perc_tls_write(c, b, sizeof b), PERC_ERR_STATE);
    assert_int_equal(perc_tls_read(c, b, sizeof b, &n), PERC_OK);
    assert_int_equal(n, 0);
    assert_string_equal(perc_tls_reason(c), "");
    assert_int_equal(perc_tls_recv(c, NULL, 1), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_tls_recv(c, NULL, 0), PERC_OK);
    /* The context may go first; the connection keeps what it needs. */
    perc_tls_ctx_free(cctx);
    assert_int_equal(perc_tls_close(c), PERC_OK);
    assert_int_equal(perc_tls_get_state(c), PERC_TLS_CLOSED);
    perc_tls_free(c);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

static void test_close_notify(void **state)
{
    (void)state;
    world *w = open_world();
    static const uint8_t LAST[] = "last words";
    assert_int_equal(perc_tls_write(w->p.c, LAST, sizeof LAST), PERC_OK);
    assert_int_equal(perc_tls_close(w->p.c), PERC_OK);
    assert_int_equal(perc_tls_get_state(w->p.c), PERC_TLS_CLOSED);
    assert_string_equal(perc_tls_reason(w->p.c), "closed locally");
    assert_int_equal(perc_tls_write(w->p.c, LAST, sizeof LAST), PERC_ERR_STATE);
    move(w->p.c, w->p.s, SIZE_MAX, &w->p.s_rc);
    assert_int_equal(w->p.s_rc, PERC_OK);
    /* Data before the close_notify is still delivered, then CLOSED. */
    assert_int_equal(perc_tls_get_state(w->p.s), PERC_TLS_OPEN);
    uint8_t buf[64];
    size_t n;
    assert_int_equal(perc_tls_read(w->p.s, buf, sizeof buf, &n), PERC_OK);
    assert_int_equal(n, sizeof LAST);
    assert_memory_equal(buf, LAST, sizeof LAST);
    assert_int_equal(perc_tls_read(w->p.s, buf, sizeof buf, &n), PERC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(perc_tls_get_state(w->p.s), PERC_TLS_CLOSED);
    assert_string_equal(perc_tls_reason(w->p.s), "peer closed the connection");
    /* The server answered with its own close_notify; the closed client
     * swallows it. */
    assert_true(perc_tls_pending_len(w->p.s) > 0);
    move(w->p.s, w->p.c, SIZE_MAX, &w->p.c_rc);
    assert_int_equal(w->p.c_rc, PERC_OK);
    assert_int_equal(perc_tls_recv_eof(w->p.s), PERC_OK);
    assert_int_equal(perc_tls_close(w->p.s), PERC_OK);
    close_world(w);

    /* close_notify processed by recv when no data precedes it. */
    w = open_world();
    assert_int_equal(perc_tls_close(w->p.s), PERC_OK);
    move(w->p.s, w->p.c, SIZE_MAX, &w->p.c_rc);
    assert_int_equal(w->p.c_rc, PERC_OK);
    assert_int_equal(perc_tls_get_state(w->p.c), PERC_TLS_CLOSED);
    close_world(w);
}

static void test_eof_without_close_notify(void **state)
{
    (void)state;
    world *w = open_world();
    assert_int_equal(perc_tls_recv_eof(w->p.s), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_tls_get_state(w->p.s), PERC_TLS_FAILED);
    assert_string_equal(perc_tls_reason(w->p.s), "transport ended without close_notify");
    close_world(w);
}

static void test_garbage(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    trust_opts t = {&ca, NULL, 0, NULL};
    perc_tls_ctx *sctx = new_ctx(PERC_TLS_SERVER, &kd, t);

    /* Garbage instead of a ClientHello, several shapes. */
    static const char *const GARBAGE[] = {
        "474554202f20485454502f312e310d0a0d0a", /* "GET / HTTP/1.1" */
        "16030100050000000000",                 /* handshake record, bogus body */
        "170303000401020304",                   /* application data before handshake */
        "ffffffffffffffffffffffffffffffffffff",
    };
    for (size_t i = 0; i < sizeof GARBAGE / sizeof GARBAGE[0]; i++) {
        perc_tls *s = new_conn(sctx);
        uint8_t g[64];
        size_t len = tu_hex(GARBAGE[i], g, sizeof g);
        int rc = perc_tls_recv(s, g, len);
        assert_int_equal(rc, PERC_ERR_MALFORMED);
        assert_int_equal(perc_tls_get_state(s), PERC_TLS_FAILED);
        assert_true(strlen(perc_tls_reason(s)) > 0);
        assert_int_equal(perc_tls_recv(s, g, len), PERC_ERR_MALFORMED);
        perc_tls_free(s);
    }

    /* Random bytes in random chunk sizes never crash either role. */
    tu_rng rng;
    tu_rng_seed(&rng, 42);
    for (int round = 0; round < 50; round++) {
        perc_tls *s = new_conn(sctx);
        uint8_t g[300];
        tu_rng_fill(&rng, g, sizeof g);
        if (round % 2)
            g[0] = 0x16, g[1] = 0x03, g[2] = 0x01; /* looks like a handshake */
        size_t off = 0;
        int rc = PERC_OK;
        while (off < sizeof g && rc == PERC_OK) {
            size_t n = 1 + tu_rng_below(&rng, 40);
            if (n > sizeof g - off)
                n = sizeof g - off;
            rc = perc_tls_recv(s, g + off, n);
            off += n;
        }
        assert_int_not_equal(perc_tls_get_state(s), PERC_TLS_OPEN);
        perc_tls_free(s);
    }
    perc_tls_ctx_free(sctx);

    /* Garbage after the handshake: the open connection fails, no crash. */
    world *w = open_world();
    uint8_t junk[40];
    memset(junk, 0x17, sizeof junk);
    assert_int_equal(perc_tls_recv(w->p.c, junk, sizeof junk), PERC_ERR_MALFORMED);
    assert_int_equal(perc_tls_get_state(w->p.c), PERC_TLS_FAILED);
    assert_true(strlen(perc_tls_reason(w->p.c)) > 0);
    /* An alert for the peer may be waiting; it makes the peer fail too. */
    move(w->p.c, w->p.s, SIZE_MAX, &w->p.s_rc);
    close_world(w);

    ident_free(&kd);
    ident_free(&ca);
}

/* ---- configuration ----------------------------------------------------- */

static void test_config_errors(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    X509 *anchors[1] = {ca.cert};
    perc_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = PERC_TLS_SERVER;
    cfg.cert = kd.cert;
    cfg.key = kd.key;
    perc_tls_ctx *ctx = (perc_tls_ctx *)&cfg; /* any non-NULL value */

    /* No trust at all: refused, no unauthenticated peers. */
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    assert_null(ctx);
    cfg.ca_certs = anchors;
    cfg.n_ca_certs = 1;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_OK);
    perc_tls_ctx_free(ctx);

    /* Key of another certificate. */
    cfg.key = md.key;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    cfg.key = NULL;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    cfg.key = kd.key;
    cfg.role = (perc_tls_role)7;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    cfg.role = PERC_TLS_CLIENT;
    cfg.trust.n_pins = 1; /* pins == NULL */
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    cfg.trust.n_pins = 0;
    cfg.trust.peer_name = "";
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_ERR_INVALID_ARG);
    cfg.trust.peer_name = NULL;
    /* An intermediate can be sent along. */
    X509 *chain[1] = {ca.cert};
    cfg.chain = chain;
    cfg.n_chain = 1;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_OK);
    perc_tls_ctx_free(ctx);
    perc_tls_ctx_free(NULL);
    perc_tls_free(NULL);
    assert_int_equal(perc_tls_new(NULL, NULL), PERC_ERR_INVALID_ARG);

    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

static void write_pem(const char *path, X509 *cert, X509 *cert2, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (cert)
        assert_int_equal(PEM_write_X509(f, cert), 1);
    if (cert2)
        assert_int_equal(PEM_write_X509(f, cert2), 1);
    if (key)
        assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/perc_tls_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ca_pem[128], kd_pem[128], kd_key[128], md_pem[128], md_key[128], junk[128], nope[128];
    snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", dir);
    snprintf(kd_pem, sizeof kd_pem, "%s/kd.pem", dir);
    snprintf(kd_key, sizeof kd_key, "%s/kd.key", dir);
    snprintf(md_pem, sizeof md_pem, "%s/md.pem", dir);
    snprintf(md_key, sizeof md_key, "%s/md.key", dir);
    snprintf(junk, sizeof junk, "%s/junk.pem", dir);
    snprintf(nope, sizeof nope, "%s/missing.pem", dir);

    /* kd's chain goes through an intermediate CA that only kd's file holds. */
    ident root = make_ca("root");
    ident inter = make_ident_at("intermediate", &root, 1, NULL, -3600, 86400);
    ident kd = make_leaf("kd", &inter, "kd.example");
    ident md = make_leaf("md", &root, "md.example");
    write_pem(ca_pem, root.cert, NULL, NULL);
    write_pem(kd_pem, kd.cert, inter.cert, NULL);
    write_pem(kd_key, NULL, NULL, kd.key);
    write_pem(md_pem, md.cert, NULL, NULL);
    write_pem(md_key, NULL, NULL, md.key);
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("not a PEM file\n", f);
    fclose(f);

    perc_tls_file_config sc;
    memset(&sc, 0, sizeof sc);
    sc.role = PERC_TLS_SERVER;
    sc.cert_file = kd_pem;
    sc.key_file = kd_key;
    sc.ca_file = ca_pem;
    perc_tls_file_config cc = sc;
    cc.role = PERC_TLS_CLIENT;
    cc.cert_file = md_pem;
    cc.key_file = md_key;
    cc.trust.peer_name = "kd.example";

    pair p;
    assert_int_equal(perc_tls_ctx_new_from_files(&sc, &p.sctx), PERC_OK);
    assert_int_equal(perc_tls_ctx_new_from_files(&cc, &p.cctx), PERC_OK);
    p.c = new_conn(p.cctx);
    p.s = new_conn(p.sctx);
    p.c_rc = p.s_rc = PERC_OK;
    pump(p.c, p.s, &p.c_rc, &p.s_rc);
    assert_open(&p);
    assert_peer_fp(p.c, &kd);
    pair_free(&p);

    perc_tls_ctx *ctx = NULL;
    perc_tls_file_config bad = sc;
    bad.cert_file = nope;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_NOT_FOUND);
    bad = sc;
    bad.ca_file = nope;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_NOT_FOUND);
    bad = sc;
    bad.key_file = junk;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_MALFORMED);
    bad = sc;
    bad.cert_file = junk;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_MALFORMED);
    bad = sc;
    bad.ca_file = junk;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_MALFORMED);
    bad = sc;
    bad.key_file = md_key;
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_INVALID_ARG);
    bad = sc;
    bad.ca_file = NULL; /* and no pins */
    assert_int_equal(perc_tls_ctx_new_from_files(&bad, &ctx), PERC_ERR_INVALID_ARG);
    assert_null(ctx);

    unlink(ca_pem);
    unlink(kd_pem);
    unlink(kd_key);
    unlink(md_pem);
    unlink(md_key);
    unlink(junk);
    rmdir(dir);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&inter);
    ident_free(&root);
}

typedef struct keylog_rec {
    int lines;
    int client_hs;
} keylog_rec;

static void keylog(void *user, const char *line)
{
    keylog_rec *r = user;
    r->lines++;
    if (strncmp(line, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ", 32) == 0)
        r->client_hs++;
}

static void test_keylog(void **state)
{
    (void)state;
    ident ca = make_ca("test CA");
    ident kd = make_leaf("kd", &ca, "kd.example");
    ident md = make_leaf("md", &ca, "md.example");
    X509 *anchors[1] = {ca.cert};
    keylog_rec rec = {0, 0};
    perc_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = PERC_TLS_CLIENT;
    cfg.cert = md.cert;
    cfg.key = md.key;
    cfg.ca_certs = anchors;
    cfg.n_ca_certs = 1;
    cfg.trust.keylog = keylog;
    cfg.trust.keylog_user = &rec;
    pair p;
    assert_int_equal(perc_tls_ctx_new(&cfg, &p.cctx), PERC_OK);
    trust_opts t = {&ca, NULL, 0, NULL};
    p.sctx = new_ctx(PERC_TLS_SERVER, &kd, t);
    p.c = new_conn(p.cctx);
    p.s = new_conn(p.sctx);
    p.c_rc = p.s_rc = PERC_OK;
    pump(p.c, p.s, &p.c_rc, &p.s_rc);
    assert_open(&p);
    assert_int_equal(rec.client_hs, 1);
    assert_true(rec.lines >= 5); /* both handshake, both traffic, exporter */
    pair_free(&p);
    ident_free(&md);
    ident_free(&kd);
    ident_free(&ca);
}

/* ---- fingerprint text -------------------------------------------------- */

static void test_fingerprint_text(void **state)
{
    (void)state;
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN], back[PERC_TLS_FINGERPRINT_LEN];
    for (size_t i = 0; i < sizeof fp; i++)
        fp[i] = (uint8_t)(i * 37 + 5);
    char text[PERC_TLS_FINGERPRINT_TEXT_LEN + 1];
    assert_int_equal(perc_tls_fingerprint_format(fp, text, sizeof text), PERC_OK);
    assert_int_equal(strlen(text), PERC_TLS_FINGERPRINT_TEXT_LEN);
    assert_memory_equal(text, "05:2A:4F:74", 11);
    assert_int_equal(perc_tls_fingerprint_format(fp, text, sizeof text - 1), PERC_ERR_NOSPACE);
    assert_int_equal(perc_tls_fingerprint_parse(text, strlen(text), back), PERC_OK);
    assert_memory_equal(back, fp, sizeof fp);

    /* Plain hex, lowercase. */
    char plain[2 * PERC_TLS_FINGERPRINT_LEN + 1];
    for (size_t i = 0; i < sizeof fp; i++)
        snprintf(plain + 2 * i, 3, "%02x", fp[i]);
    memset(back, 0, sizeof back);
    assert_int_equal(perc_tls_fingerprint_parse(plain, strlen(plain), back), PERC_OK);
    assert_memory_equal(back, fp, sizeof fp);

    /* Every truncation of either form is refused, as is a longer text. */
    for (size_t n = 0; n < strlen(text); n++)
        assert_int_equal(perc_tls_fingerprint_parse(text, n, back), PERC_ERR_MALFORMED);
    for (size_t n = 0; n < strlen(plain); n++)
        if (n != PERC_TLS_FINGERPRINT_TEXT_LEN) /* 95 plain digits cannot be the colon form */
            assert_int_equal(perc_tls_fingerprint_parse(plain, n, back), PERC_ERR_MALFORMED);
    char longer[PERC_TLS_FINGERPRINT_TEXT_LEN + 2];
    memcpy(longer, text, PERC_TLS_FINGERPRINT_TEXT_LEN);
    longer[PERC_TLS_FINGERPRINT_TEXT_LEN] = '0';
    assert_int_equal(perc_tls_fingerprint_parse(longer, PERC_TLS_FINGERPRINT_TEXT_LEN + 1, back),
                     PERC_ERR_MALFORMED);
    /* A wrong separator or digit. */
    text[2] = '-';
    assert_int_equal(perc_tls_fingerprint_parse(text, strlen(text), back), PERC_ERR_MALFORMED);
    text[2] = ':';
    text[4] = 'g';
    assert_int_equal(perc_tls_fingerprint_parse(text, strlen(text), back), PERC_ERR_MALFORMED);
    plain[10] = ':';
    assert_int_equal(perc_tls_fingerprint_parse(plain, strlen(plain), back), PERC_ERR_MALFORMED);
    assert_int_equal(perc_tls_fingerprint_parse(NULL, 64, back), PERC_ERR_MALFORMED);

    /* The fingerprint is SHA-256 over the DER certificate. */
    ident id = make_leaf("x", NULL, "x.example");
    unsigned char *der = NULL;
    int der_len = i2d_X509(id.cert, &der);
    assert_true(der_len > 0);
    uint8_t want[32];
    assert_int_equal(EVP_Digest(der, (size_t)der_len, want, NULL, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
    fingerprint_of(&id, fp);
    assert_memory_equal(fp, want, sizeof want);
    assert_int_equal(perc_tls_cert_fingerprint(NULL, fp), PERC_ERR_INVALID_ARG);
    ident_free(&id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_with_ca),
        cmocka_unit_test(test_handshake_with_pins),
        cmocka_unit_test(test_ca_and_pins_both_required),
        cmocka_unit_test(test_untrusted_client_refused),
        cmocka_unit_test(test_unpinned_server_refused),
        cmocka_unit_test(test_peer_name),
        cmocka_unit_test(test_expired_cert_refused),
        cmocka_unit_test(test_no_client_cert_refused),
        cmocka_unit_test(test_tls12_client_refused),
        cmocka_unit_test(test_app_data),
        cmocka_unit_test(test_write_before_open),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_eof_without_close_notify),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_keylog),
        cmocka_unit_test(test_fingerprint_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
