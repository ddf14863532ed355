/* A Media Distributor (perc/tunnel_md.h) and a Key Distributor session
 * (perc/tunnel_kd.h) back to back: over an in-memory byte stream split in
 * every way, and through two perc_tls endpoints (perc/tls.h) as the daemons
 * will run them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/profile.h"
#include "perc/tls.h"
#include "perc/tunnel.h"
#include "perc/tunnel_kd.h"
#include "perc/tunnel_md.h"
#include "test_util.h"

#define MAX_EVENTS 64
#define MAX_DTLS 2048

/* ---- the two sides, recording their events ----------------------------- */

typedef struct md_rec {
    perc_tunnel_md_event_type type;
    uint64_t handle;
    perc_uuid id;
    uint8_t dtls[MAX_DTLS];
    size_t dtls_len;
    perc_tunnel_md_keys keys;
    int error;
} md_rec;

typedef struct kd_rec {
    perc_tunnel_kd_event_type type;
    perc_uuid id;
    uint8_t dtls[MAX_DTLS];
    size_t dtls_len;
    bool known;
    int error;
} kd_rec;

typedef struct md_side {
    perc_tunnel_md *md;
    md_rec ev[MAX_EVENTS];
    size_t n;
    tu_rng rng;
} md_side;

typedef struct kd_side {
    perc_tunnel_kd *kd;
    kd_rec ev[MAX_EVENTS];
    size_t n;
} kd_side;

static int md_random(void *user, uint8_t *buf, size_t len)
{
    md_side *m = user;
    tu_rng_fill(&m->rng, buf, len);
    return 0;
}

static void md_event(void *user, const perc_tunnel_md_event *ev)
{
    md_side *m = user;
    assert_true(m->n < MAX_EVENTS);
    md_rec *e = &m->ev[m->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->handle = ev->handle;
    e->id = ev->association_id;
    e->error = ev->error;
    assert_true(ev->dtls.len <= MAX_DTLS);
    if (ev->dtls.len)
        memcpy(e->dtls, ev->dtls.ptr, ev->dtls.len);
    e->dtls_len = ev->dtls.len;
    if (ev->keys)
        e->keys = *ev->keys;
}

static void kd_event(void *user, const perc_tunnel_kd_event *ev)
{
    kd_side *k = user;
    assert_true(k->n < MAX_EVENTS);
    kd_rec *e = &k->ev[k->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->id = ev->association_id;
    e->known = ev->known;
    e->error = ev->error;
    assert_true(ev->dtls.len <= MAX_DTLS);
    if (ev->dtls.len)
        memcpy(e->dtls, ev->dtls.ptr, ev->dtls.len);
    e->dtls_len = ev->dtls.len;
}

static const uint16_t PROFILES[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                    PERC_PROFILE_DOUBLE_AES_256_GCM};

static md_side *md_new(uint8_t version, uint64_t seed)
{
    md_side *m = calloc(1, sizeof *m);
    assert_non_null(m);
    tu_rng_seed(&m->rng, seed);
    perc_tunnel_md_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profiles = PROFILES;
    cfg.n_profiles = 2;
    cfg.version = version;
    cfg.random = md_random;
    cfg.random_user = m;
    cfg.on_event = md_event;
    cfg.event_user = m;
    assert_int_equal(perc_tunnel_md_new(&cfg, &m->md), PERC_OK);
    return m;
}

static void md_free(md_side *m)
{
    perc_tunnel_md_free(m->md);
    free(m);
}

static kd_side *kd_new(void)
{
    kd_side *k = calloc(1, sizeof *k);
    assert_non_null(k);
    perc_tunnel_kd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_event = kd_event;
    cfg.event_user = k;
    assert_int_equal(perc_tunnel_kd_new(&cfg, 0, &k->kd), PERC_OK);
    return k;
}

static void kd_free(kd_side *k)
{
    perc_tunnel_kd_free(k->kd);
    free(k);
}

/* ---- the link between them --------------------------------------------- */

/* Either a plain byte stream or a TLS connection (MD = client, KD =
 * server), cut into chunks of at most `chunk` octets on the way. */
typedef struct link {
    perc_tls *c, *s;        /* NULL: plain stream */
    size_t chunk;
    int md_rc, kd_rc;       /* last recv results */
    uint64_t now;
} link;

static void feed_md(link *l, md_side *m, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        size_t k = n - off < l->chunk ? n - off : l->chunk;
        int rc = perc_tunnel_md_recv(m->md, p + off, k);
        if (rc != PERC_OK)
            l->md_rc = rc;
        off += k;
    }
}

static void feed_kd(link *l, kd_side *k, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        size_t c = n - off < l->chunk ? n - off : l->chunk;
        int rc = perc_tunnel_kd_recv(k->kd, p + off, c, ++l->now);
        if (rc != PERC_OK)
            l->kd_rc = rc;
        off += c;
    }
}

/* Ciphertext from one TLS endpoint to the other, in chunks. */
static size_t tls_move(link *l, perc_tls *from, perc_tls *to)
{
    uint8_t buf[4096];
    size_t moved = 0;
    for (;;) {
        size_t n;
        size_t cap = l->chunk < sizeof buf ? l->chunk : sizeof buf;
        assert_int_equal(perc_tls_pending_send(from, buf, cap, &n), PERC_OK);
        if (n == 0)
            return moved;
        assert_int_equal(perc_tls_recv(to, buf, n), PERC_OK);
        moved += n;
    }
}

static size_t tls_drain(link *l, perc_tls *t, void (*feed)(link *, void *, const uint8_t *, size_t),
                        void *side)
{
    uint8_t buf[4096];
    size_t total = 0;
    for (;;) {
        size_t n;
        assert_int_equal(perc_tls_read(t, buf, sizeof buf, &n), PERC_OK);
        if (n == 0)
            return total;
        feed(l, side, buf, n);
        total += n;
    }
}

static void feed_md_v(link *l, void *m, const uint8_t *p, size_t n) { feed_md(l, m, p, n); }
static void feed_kd_v(link *l, void *k, const uint8_t *p, size_t n) { feed_kd(l, k, p, n); }

/* Moves everything both ways until both sides are quiet. */
static void settle(link *l, md_side *m, kd_side *k)
{
    uint8_t *buf = malloc(PERC_TUNNEL_MAX_MSG);
    assert_non_null(buf);
    for (int round = 0; round < 100; round++) {
        size_t moved = 0, n;
        assert_int_equal(perc_tunnel_md_pending_send(m->md, buf, PERC_TUNNEL_MAX_MSG, &n),
                         PERC_OK);
        if (n) {
            moved += n;
            if (l->c)
                assert_int_equal(perc_tls_write(l->c, buf, n), PERC_OK);
            else
                feed_kd(l, k, buf, n);
        }
        assert_int_equal(perc_tunnel_kd_pending_send(k->kd, buf, PERC_TUNNEL_MAX_MSG, &n),
                         PERC_OK);
        if (n) {
            moved += n;
            if (l->s)
                assert_int_equal(perc_tls_write(l->s, buf, n), PERC_OK);
            else
                feed_md(l, m, buf, n);
        }
        if (l->c) {
            moved += tls_move(l, l->c, l->s);
            moved += tls_drain(l, l->s, feed_kd_v, k);
            moved += tls_move(l, l->s, l->c);
            moved += tls_drain(l, l->c, feed_md_v, m);
        }
        if (moved == 0) {
            free(buf);
            return;
        }
    }
    fail_msg("the link never went quiet");
}

/* ---- TLS set-up with pinned self-signed certificates ------------------- */

typedef struct tls_world {
    X509 *md_cert, *kd_cert;
    EVP_PKEY *md_key, *kd_key;
    perc_tls_ctx *cctx, *sctx;
} tls_world;

static void self_signed(const char *cn, X509 **cert, EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    assert_non_null(*key);
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, *key), 1);
    X509_NAME *name = X509_get_subject_name(x);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    *cert = x;
}

static perc_tls_ctx *pinned_ctx(perc_tls_role role, X509 *cert, EVP_PKEY *key, X509 *peer)
{
    uint8_t pin[1][PERC_TLS_FINGERPRINT_LEN];
    assert_int_equal(perc_tls_cert_fingerprint(peer, pin[0]), PERC_OK);
    perc_tls_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    cfg.cert = cert;
    cfg.key = key;
    cfg.trust.pins = (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pin;
    cfg.trust.n_pins = 1;
    perc_tls_ctx *ctx = NULL;
    assert_int_equal(perc_tls_ctx_new(&cfg, &ctx), PERC_OK);
    return ctx;
}

static tls_world *tls_world_new(void)
{
    tls_world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    self_signed("md", &w->md_cert, &w->md_key);
    self_signed("kd", &w->kd_cert, &w->kd_key);
    w->cctx = pinned_ctx(PERC_TLS_CLIENT, w->md_cert, w->md_key, w->kd_cert);
    w->sctx = pinned_ctx(PERC_TLS_SERVER, w->kd_cert, w->kd_key, w->md_cert);
    return w;
}

static void tls_world_free(tls_world *w)
{
    perc_tls_ctx_free(w->cctx);
    perc_tls_ctx_free(w->sctx);
    X509_free(w->md_cert);
    X509_free(w->kd_cert);
    EVP_PKEY_free(w->md_key);
    EVP_PKEY_free(w->kd_key);
    free(w);
}

/* Connects a TLS pair into l and runs the handshake to OPEN. */
static void tls_connect(link *l, tls_world *w)
{
    assert_int_equal(perc_tls_new(w->cctx, &l->c), PERC_OK);
    assert_int_equal(perc_tls_new(w->sctx, &l->s), PERC_OK);
    for (int i = 0; i < 20; i++) {
        if (tls_move(l, l->c, l->s) + tls_move(l, l->s, l->c) == 0)
            break;
    }
    assert_int_equal(perc_tls_get_state(l->c), PERC_TLS_OPEN);
    assert_int_equal(perc_tls_get_state(l->s), PERC_TLS_OPEN);
}

static void tls_disconnect(link *l)
{
    perc_tls_free(l->c);
    perc_tls_free(l->s);
    l->c = l->s = NULL;
}

/* ---- scenarios --------------------------------------------------------- */

static const uint8_t CLIENT_HELLO[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05};
static const uint8_t SERVER_FLIGHT[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb};

static void no_drops(const md_side *m, const kd_side *k)
{
    for (size_t i = 0; i < m->n; i++)
        assert_int_not_equal(m->ev[i].type, PERC_TUNNEL_MD_DROPPED);
    for (size_t i = 0; i < k->n; i++)
        assert_int_not_equal(k->ev[i].type, PERC_TUNNEL_KD_DROPPED);
}

/* The whole life of two associations (RFC 9185 §4 flow). */
static void run_full_flow(link *l)
{
    md_side *m = md_new(0, 99);
    kd_side *k = kd_new();
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    settle(l, m, k);
    assert_int_equal(k->n, 1);
    assert_int_equal(k->ev[0].type, PERC_TUNNEL_KD_PROFILES);
    assert_int_equal(perc_tunnel_kd_profile_count(k->kd), 2);
    assert_int_equal(perc_tunnel_kd_profile_at(k->kd, 1), PERC_PROFILE_DOUBLE_AES_256_GCM);

    /* Two endpoints start DTLS. */
    perc_uuid u7, u8;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 7, CLIENT_HELLO,
                                                       sizeof CLIENT_HELLO, &u7),
                     PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 8, CLIENT_HELLO, sizeof CLIENT_HELLO, &u8),
                     PERC_OK);
    settle(l, m, k);
    assert_int_equal(k->n, 5);
    assert_int_equal(k->ev[1].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_true(perc_uuid_equal(&k->ev[1].id, &u7));
    assert_int_equal(k->ev[2].type, PERC_TUNNEL_KD_DTLS);
    assert_int_equal(k->ev[2].dtls_len, sizeof CLIENT_HELLO);
    assert_memory_equal(k->ev[2].dtls, CLIENT_HELLO, sizeof CLIENT_HELLO);
    assert_int_equal(k->ev[3].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_true(perc_uuid_equal(&k->ev[3].id, &u8));
    assert_int_equal(k->ev[4].dtls_len, sizeof CLIENT_HELLO);

    /* The KD answers each: the bytes reach the right endpoint. */
    assert_int_equal(perc_tunnel_kd_send_dtls(k->kd, &u8, SERVER_FLIGHT, 4), PERC_OK);
    assert_int_equal(perc_tunnel_kd_send_dtls(k->kd, &u7, SERVER_FLIGHT, sizeof SERVER_FLIGHT),
                     PERC_OK);
    settle(l, m, k);
    assert_int_equal(m->n, 2);
    assert_int_equal(m->ev[0].type, PERC_TUNNEL_MD_DTLS_TO_ENDPOINT);
    assert_int_equal(m->ev[0].handle, 8);
    assert_int_equal(m->ev[0].dtls_len, 4);
    assert_int_equal(m->ev[1].handle, 7);
    assert_int_equal(m->ev[1].dtls_len, sizeof SERVER_FLIGHT);
    assert_memory_equal(m->ev[1].dtls, SERVER_FLIGHT, sizeof SERVER_FLIGHT);

    /* Handshake done for 7: MediaKeys (DOUBLE 256 outer halves). */
    uint8_t ck[32], sk[32], cs[12], ss[12];
    for (uint8_t i = 0; i < 32; i++) {
        ck[i] = i;
        sk[i] = (uint8_t)(0x80 + i);
    }
    memset(cs, 0xc5, sizeof cs);
    memset(ss, 0x55, sizeof ss);
    perc_tunnel_media_keys mk;
    memset(&mk, 0, sizeof mk);
    mk.association_id = u7;
    mk.profile = PERC_PROFILE_DOUBLE_AES_256_GCM;
    mk.client_key = perc_view_of(ck, 32);
    mk.server_key = perc_view_of(sk, 32);
    mk.client_salt = perc_view_of(cs, 12);
    mk.server_salt = perc_view_of(ss, 12);
    /* Lengths that do not fit the profile never leave the KD. */
    perc_tunnel_media_keys bad = mk;
    bad.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
    assert_int_equal(perc_tunnel_kd_send_media_keys(k->kd, &bad), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_tunnel_kd_send_media_keys(k->kd, &mk), PERC_OK);
    settle(l, m, k);
    assert_int_equal(m->n, 3);
    const md_rec *e = &m->ev[2];
    assert_int_equal(e->type, PERC_TUNNEL_MD_INSTALL_KEYS);
    assert_int_equal(e->handle, 7);
    assert_int_equal(e->keys.profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(e->keys.key_len, 32);
    assert_int_equal(e->keys.salt_len, 12);
    assert_memory_equal(e->keys.client_write_key, ck, 32);
    assert_memory_equal(e->keys.server_write_key, sk, 32);
    assert_memory_equal(e->keys.client_write_salt, cs, 12);
    assert_memory_equal(e->keys.server_write_salt, ss, 12);

    /* The KD ends 7; the MD notices 8 is gone. */
    assert_int_equal(perc_tunnel_kd_disconnect(k->kd, &u7), PERC_OK);
    assert_int_equal(perc_tunnel_md_endpoint_gone(m->md, 8), PERC_OK);
    settle(l, m, k);
    assert_int_equal(m->n, 4);
    assert_int_equal(m->ev[3].type, PERC_TUNNEL_MD_KD_DISCONNECT);
    assert_int_equal(m->ev[3].handle, 7);
    assert_int_equal(k->n, 6);
    assert_int_equal(k->ev[5].type, PERC_TUNNEL_KD_MD_DISCONNECT);
    assert_true(perc_uuid_equal(&k->ev[5].id, &u8));
    assert_true(k->ev[5].known);
    assert_int_equal(perc_tunnel_md_association_count(m->md), 0);
    assert_int_equal(perc_tunnel_kd_association_count(k->kd), 0);

    no_drops(m, k);
    assert_int_equal(l->md_rc, PERC_OK);
    assert_int_equal(l->kd_rc, PERC_OK);
    assert_int_equal(perc_tunnel_md_get_state(m->md), PERC_TUNNEL_MD_OPEN);
    assert_int_equal(perc_tunnel_kd_get_state(k->kd), PERC_TUNNEL_KD_OPEN);
    md_free(m);
    kd_free(k);
}

static void test_full_flow_plain(void **state)
{
    (void)state;
    size_t chunks[] = {SIZE_MAX, 1, 2, 7, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        link l;
        memset(&l, 0, sizeof l);
        l.chunk = chunks[i];
        run_full_flow(&l);
    }
}

static void test_full_flow_over_tls(void **state)
{
    (void)state;
    tls_world *w = tls_world_new();
    size_t chunks[] = {SIZE_MAX, 1, 100};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        link l;
        memset(&l, 0, sizeof l);
        l.chunk = chunks[i];
        tls_connect(&l, w);
        run_full_flow(&l);
        assert_int_equal(perc_tls_get_state(l.c), PERC_TLS_OPEN);
        assert_int_equal(perc_tls_get_state(l.s), PERC_TLS_OPEN);
        tls_disconnect(&l);
    }
    tls_world_free(w);
}

/* RFC 9185 §5.5: a newer MD meets an older KD, then reconnects with the
 * version the KD named. */
static void test_version_fallback(void **state)
{
    (void)state;
    md_side *m = md_new(1, 5);
    kd_side *k = kd_new();
    link l;
    memset(&l, 0, sizeof l);
    l.chunk = SIZE_MAX;
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(l.kd_rc, PERC_ERR_BAD_VERSION);
    assert_int_equal(l.md_rc, PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_kd_get_state(k->kd), PERC_TUNNEL_KD_FAILED);
    assert_int_equal(perc_tunnel_md_get_state(m->md), PERC_TUNNEL_MD_FAILED);
    assert_int_equal(perc_tunnel_md_version(m->md), 0);
    assert_int_equal(k->n, 0);
    kd_free(k);

    /* Both close; the MD reconnects and speaks version 0. */
    assert_int_equal(perc_tunnel_md_connection_down(m->md), PERC_OK);
    k = kd_new();
    memset(&l, 0, sizeof l);
    l.chunk = 3;
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(l.kd_rc, PERC_OK);
    assert_int_equal(l.md_rc, PERC_OK);
    assert_int_equal(perc_tunnel_kd_get_state(k->kd), PERC_TUNNEL_KD_OPEN);
    assert_int_equal(k->ev[0].type, PERC_TUNNEL_KD_PROFILES);
    perc_uuid u;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 1, CLIENT_HELLO, sizeof CLIENT_HELLO, &u), PERC_OK);
    settle(&l, m, k);
    assert_true(perc_tunnel_kd_knows(k->kd, &u));
    md_free(m);
    kd_free(k);
}

/* Associations outlive the tunnel connection (RFC 9185 §5.2). */
static void test_reconnect_keeps_associations(void **state)
{
    (void)state;
    tls_world *w = tls_world_new();
    md_side *m = md_new(0, 17);
    kd_side *k = kd_new();
    link l;
    memset(&l, 0, sizeof l);
    l.chunk = SIZE_MAX;
    tls_connect(&l, w);
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    perc_uuid u1, u2;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 1, CLIENT_HELLO, sizeof CLIENT_HELLO, &u1), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 2, CLIENT_HELLO, sizeof CLIENT_HELLO, &u2), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(perc_tunnel_kd_association_count(k->kd), 2);

    /* The connection drops; meanwhile endpoint 2 goes away. */
    tls_disconnect(&l);
    kd_free(k);
    assert_int_equal(perc_tunnel_md_connection_down(m->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 1, CLIENT_HELLO, sizeof CLIENT_HELLO, NULL),
                     PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_md_endpoint_gone(m->md, 2), PERC_OK);

    /* New connection, new KD session. */
    k = kd_new();
    tls_connect(&l, w);
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    settle(&l, m, k);
    /* PROFILES, then the owed disconnect of 2 (unknown to this session). */
    assert_int_equal(k->n, 2);
    assert_int_equal(k->ev[0].type, PERC_TUNNEL_KD_PROFILES);
    assert_int_equal(k->ev[1].type, PERC_TUNNEL_KD_MD_DISCONNECT);
    assert_true(perc_uuid_equal(&k->ev[1].id, &u2));
    assert_false(k->ev[1].known);

    /* The KD adopts the association on the new connection (its DTLS
     * handshake finished before the drop) and can send MediaKeys at once. */
    uint8_t key[16] = {1}, salt[12] = {2};
    perc_tunnel_media_keys mk;
    memset(&mk, 0, sizeof mk);
    mk.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
    mk.client_key = mk.server_key = perc_view_of(key, 16);
    mk.client_salt = mk.server_salt = perc_view_of(salt, 12);
    mk.association_id = u1;
    assert_int_equal(perc_tunnel_kd_send_media_keys(k->kd, &mk), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_tunnel_kd_adopt(k->kd, &u1), PERC_OK);
    assert_int_equal(perc_tunnel_kd_send_media_keys(k->kd, &mk), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(m->n, 1);
    assert_int_equal(m->ev[0].type, PERC_TUNNEL_MD_INSTALL_KEYS);
    assert_int_equal(m->ev[0].handle, 1);

    /* Endpoint 1's next datagram carries the same id, known already. */
    perc_uuid again;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 1, CLIENT_HELLO, sizeof CLIENT_HELLO, &again),
                     PERC_OK);
    assert_true(perc_uuid_equal(&again, &u1));
    settle(&l, m, k);
    assert_int_equal(k->n, 3);
    assert_int_equal(k->ev[2].type, PERC_TUNNEL_KD_DTLS);
    assert_true(perc_uuid_equal(&k->ev[2].id, &u1));
    assert_int_equal(perc_tunnel_kd_send_dtls(k->kd, &u1, SERVER_FLIGHT, 3), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(m->n, 2);
    assert_int_equal(m->ev[1].type, PERC_TUNNEL_MD_DTLS_TO_ENDPOINT);
    assert_int_equal(m->ev[1].handle, 1);

    /* A session that has not adopted it learns it from the datagram. */
    kd_side *k2 = kd_new();
    link l2;
    memset(&l2, 0, sizeof l2);
    l2.chunk = 5;
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 1, CLIENT_HELLO, sizeof CLIENT_HELLO, NULL), PERC_OK);
    settle(&l2, m, k2);
    assert_int_equal(k2->n, 3);
    assert_int_equal(k2->ev[1].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_true(perc_uuid_equal(&k2->ev[1].id, &u1));
    kd_free(k2);

    tls_disconnect(&l);
    md_free(m);
    kd_free(k);
    tls_world_free(w);
}

/* Garbage on the KD->MD stream fails only that connection. */
static void test_garbage_then_recover(void **state)
{
    (void)state;
    md_side *m = md_new(0, 23);
    kd_side *k = kd_new();
    link l;
    memset(&l, 0, sizeof l);
    l.chunk = SIZE_MAX;
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    perc_uuid u;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 4, CLIENT_HELLO, sizeof CLIENT_HELLO, &u), PERC_OK);
    settle(&l, m, k);
    static const uint8_t JUNK[] = {0x03, 0x00, 0x02, 0xde, 0xad};
    assert_int_equal(perc_tunnel_md_recv(m->md, JUNK, sizeof JUNK), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_tunnel_md_get_state(m->md), PERC_TUNNEL_MD_FAILED);
    kd_free(k);

    assert_int_equal(perc_tunnel_md_connection_down(m->md), PERC_OK);
    k = kd_new();
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(m->md, 4, CLIENT_HELLO, sizeof CLIENT_HELLO, NULL), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(perc_tunnel_kd_send_dtls(k->kd, &u, SERVER_FLIGHT, 2), PERC_OK);
    settle(&l, m, k);
    assert_int_equal(m->n, 1);
    assert_int_equal(m->ev[0].handle, 4);
    assert_int_equal(l.md_rc, PERC_OK);
    md_free(m);
    kd_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_flow_plain),
        cmocka_unit_test(test_full_flow_over_tls),
        cmocka_unit_test(test_version_fallback),
        cmocka_unit_test(test_reconnect_keeps_associations),
        cmocka_unit_test(test_garbage_then_recover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
