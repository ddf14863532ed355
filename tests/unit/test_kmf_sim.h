/* A whole key distribution in one process on a virtual clock, for the KMF
 * tests: the KMF core (perc/kmf.h), Media Distributors (perc/tunnel_md.h)
 * connected to it by in-memory byte streams, and endpoints (perc_dtls
 * clients) whose datagrams go through their Media Distributor. Every log
 * line and event of the KMF is kept; sim_free() checks that no secret any
 * side saw (EKTKeys, salts, MediaKeys, the endpoints' DTLS-SRTP keying)
 * appears in the log, raw or in hex. Include after <cmocka.h>. */
#ifndef PERC_TEST_KMF_SIM_H
#define PERC_TEST_KMF_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/dtls.h"
#include "perc/kmf.h"
#include "perc/profile.h"
#include "perc/secret.h"
#include "perc/tunnel.h"
#include "perc/tunnel_md.h"
#include "test_util.h"

#define SIM_MAX_EP 8
#define SIM_MAX_MD 3
#define SIM_MAX_EKT 16
#define SIM_MAX_EV 256
#define SIM_MAX_SECRETS 512
#define SIM_SECOND UINT64_C(1000000000)
#define SIM_MS UINT64_C(1000000)

typedef struct sim sim;

typedef struct sim_ep {
    sim *s;
    int idx;
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    perc_dtls *d;
    perc_dtls_config cfg;           /* adjusted by sim_ep_prepare, used by sim_ep_start */
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    char tls_id[40];
    char identity[32];
    int md;
    perc_kmf_answer ans;
    perc_uuid assoc;                /* the MD's id for it, once it sent something */
    bool has_assoc;
    int n_connected;
    uint16_t profile;
    uint8_t cipher;
    perc_double_keying keying;      /* what the endpoint holds once connected */
    int n_closed;
    perc_dtls_close_info closed;
    int n_ekt;
    perc_ekt_key_msg ekt[SIM_MAX_EKT];
    bool refuse_ekt;                /* answer the next EKTKey with an alert */
    bool detached;                  /* its MD heard EndpointDisconnect: no more relaying */
} sim_ep;

typedef struct sim_md {
    sim *s;
    int idx;
    perc_tunnel_md *md;
    tu_rng rng;
    const char *name;
    uint64_t conn;                  /* the KMF's id of the current connection */
    bool up;
    int last_kmf_rc;                /* of perc_kmf_tunnel_recv */
    int n_install[SIM_MAX_EP];
    perc_tunnel_md_keys keys[SIM_MAX_EP];
    int n_kd_disconnect[SIM_MAX_EP];
    int n_dropped;
} sim_md;

typedef struct sim_ev {
    perc_kmf_event_type type;
    char conference[64];
    char identity[64];
    bool has_id;
    perc_uuid id;
    uint64_t conn;
    uint16_t profile;
    uint16_t spi;
    size_t n;
    char reason[PERC_KMF_MAX_REASON];
    int error;
} sim_ev;

typedef struct sim_secret {
    size_t len;
    uint8_t b[64];
} sim_secret;

struct sim {
    perc_kmf *kmf;
    perc_kmf_config cfg;
    X509 *cert;
    EVP_PKEY *key;
    perc_dtls_ctx *ctx;
    uint64_t now;
    tu_rng rng;
    bool random_fails;
    sim_md md[SIM_MAX_MD];
    int n_md;
    sim_ep ep[SIM_MAX_EP];
    int n_ep;
    char *log;
    size_t log_len, log_cap;
    int n_log;
    sim_ev ev[SIM_MAX_EV];
    int n_ev;
    sim_secret secrets[SIM_MAX_SECRETS];
    int n_secrets;
    /* re-entrancy probe: from the event callback */
    bool probe_reentry;
    int reentry_rc;
};

/* ---- recording -------------------------------------------------------- */

static inline void sim_secret_add(sim *s, const uint8_t *b, size_t len)
{
    if (len == 0 || s->n_secrets >= SIM_MAX_SECRETS)
        return;
    assert_true(len <= sizeof s->secrets[0].b);
    sim_secret *x = &s->secrets[s->n_secrets++];
    x->len = len;
    memcpy(x->b, b, len);
}

static inline void sim_log_cb(void *user, perc_kmf_log_level level, const char *msg)
{
    sim *s = user;
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    assert_true(level <= PERC_KMF_LOG_ERROR);
    size_t n = strlen(msg);
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)msg[i] >= 0x20); /* one line, no control characters */
    size_t need = s->log_len + n + 16;
    if (need > s->log_cap) {
        s->log_cap = need * 2;
        s->log = realloc(s->log, s->log_cap);
        assert_non_null(s->log);
    }
    s->log_len += (size_t)sprintf(s->log + s->log_len, "%s %s\n", names[level], msg);
    s->n_log++;
    if (getenv("KMF_TEST_VERBOSE"))
        fprintf(stderr, "  kmf %s %s\n", names[level], msg);
}

static inline void sim_event_cb(void *user, const perc_kmf_event *ev)
{
    sim *s = user;
    assert_true(s->n_ev < SIM_MAX_EV);
    sim_ev *e = &s->ev[s->n_ev++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    if (ev->conference)
        snprintf(e->conference, sizeof e->conference, "%s", ev->conference);
    if (ev->identity)
        snprintf(e->identity, sizeof e->identity, "%s", ev->identity);
    e->has_id = ev->has_association;
    e->id = ev->association_id;
    e->conn = ev->conn_id;
    e->profile = ev->profile;
    e->spi = ev->spi;
    e->n = ev->n_endpoints;
    if (ev->reason)
        snprintf(e->reason, sizeof e->reason, "%s", ev->reason);
    e->error = ev->error;
    if (s->probe_reentry) {
        uint64_t id;
        s->reentry_rc = perc_kmf_tunnel_add(s->kmf, NULL, s->now, &id);
        perc_kmf_stats st;
        perc_kmf_get_stats(s->kmf, &st); /* queries are fine */
    }
}

static inline int sim_random(void *user, uint8_t *buf, size_t len)
{
    sim *s = user;
    if (s->random_fails)
        return -1;
    tu_rng_fill(&s->rng, buf, len);
    return 0;
}

static inline bool sim_log_has(const sim *s, const char *needle)
{
    return s->log && strstr(s->log, needle) != NULL;
}

static inline int sim_count_ev(const sim *s, perc_kmf_event_type type)
{
    int n = 0;
    for (int i = 0; i < s->n_ev; i++)
        n += s->ev[i].type == type;
    return n;
}

/* The latest event of that type; fails the test when there is none. */
static inline const sim_ev *sim_last_ev(const sim *s, perc_kmf_event_type type)
{
    static const sim_ev none;
    for (int i = s->n_ev; i-- > 0;)
        if (s->ev[i].type == type)
            return &s->ev[i];
    fail_msg("no %s event", perc_kmf_event_name(type));
    return &none;
}

/* ---- setup ------------------------------------------------------------- */

/* Defaults into s->cfg; change it, then sim_start(). */
static inline void sim_init(sim *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->now = 5000 * SIM_SECOND;
    tu_rng_seed(&s->rng, seed);
    assert_int_equal(perc_dtls_identity_generate("kmf", &s->cert, &s->key), PERC_OK);
    perc_dtls_ctx_config cc = {s->cert, s->key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &s->ctx), PERC_OK);
    perc_kmf_config_init(&s->cfg);
    s->cfg.dtls_ctx = s->ctx;
    s->cfg.random = sim_random;
    s->cfg.random_user = s;
    s->cfg.log = sim_log_cb;
    s->cfg.log_user = s;
    s->cfg.log_level = PERC_KMF_LOG_DEBUG;
    s->cfg.on_event = sim_event_cb;
    s->cfg.event_user = s;
}

static inline void sim_start(sim *s) { assert_int_equal(perc_kmf_new(&s->cfg, &s->kmf), PERC_OK); }

static inline void sim_md_event(void *user, const perc_tunnel_md_event *ev);

static inline int sim_md_random(void *user, uint8_t *buf, size_t len)
{
    sim_md *m = user;
    tu_rng_fill(&m->rng, buf, len);
    return 0;
}

/* A Media Distributor object offering these profiles; not connected. */
static inline int sim_add_md(sim *s, const uint16_t *profiles, size_t n, const char *name)
{
    assert_true(s->n_md < SIM_MAX_MD);
    sim_md *m = &s->md[s->n_md];
    memset(m, 0, sizeof *m);
    m->s = s;
    m->idx = s->n_md;
    m->name = name;
    tu_rng_seed(&m->rng, 1000u + (uint64_t)s->n_md);
    perc_tunnel_md_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profiles = profiles;
    cfg.n_profiles = n;
    cfg.random = sim_md_random;
    cfg.random_user = m;
    cfg.on_event = sim_md_event;
    cfg.event_user = m;
    assert_int_equal(perc_tunnel_md_new(&cfg, &m->md), PERC_OK);
    return s->n_md++;
}

/* Opens a tunnel connection: the KMF gets a session, the MD starts over. */
static inline void sim_md_connect(sim *s, int i)
{
    sim_md *m = &s->md[i];
    assert_false(m->up);
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, m->name, s->now, &m->conn), PERC_OK);
    assert_int_equal(perc_tunnel_md_reset_connection(m->md), PERC_OK);
    m->up = true;
    m->last_kmf_rc = PERC_OK;
}

/* The connection closes. */
static inline void sim_md_disconnect(sim *s, int i)
{
    sim_md *m = &s->md[i];
    assert_true(m->up);
    assert_int_equal(perc_tunnel_md_connection_down(m->md), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_remove(s->kmf, m->conn, s->now), PERC_OK);
    m->up = false;
}

static inline void sim_ep_on_connected(void *u, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    sim_ep *e = u;
    e->n_connected++;
    e->profile = profile;
    e->cipher = cipher;
    assert_int_equal(perc_dtls_get_keying(d, &e->keying), PERC_OK);
    const perc_double_master *m[2] = {&e->keying.client_write, &e->keying.server_write};
    for (int i = 0; i < 2; i++) {
        sim_secret_add(e->s, m[i]->inner.key, m[i]->inner.key_len);
        sim_secret_add(e->s, m[i]->outer.key, m[i]->outer.key_len);
        sim_secret_add(e->s, m[i]->inner.salt, PERC_SRTP_SALT_LEN);
        sim_secret_add(e->s, m[i]->outer.salt, PERC_SRTP_SALT_LEN);
    }
}

static inline int sim_ep_on_ekt(void *u, perc_dtls *d, const perc_ekt_key_msg *msg)
{
    (void)d;
    sim_ep *e = u;
    sim_secret_add(e->s, msg->key, msg->key_len);
    sim_secret_add(e->s, msg->salt, msg->salt_len);
    if (e->refuse_ekt)
        return -1;
    assert_true(e->n_ekt < SIM_MAX_EKT);
    e->ekt[e->n_ekt++] = *msg;
    return 0;
}

static inline void sim_ep_on_closed(void *u, perc_dtls *d, const perc_dtls_close_info *ci)
{
    (void)d;
    sim_ep *e = u;
    e->n_closed++;
    e->closed = *ci;
}

/* An endpoint behind MD md_idx with a fresh certificate and tls-id. */
static inline int sim_add_ep(sim *s, int md_idx, const char *identity)
{
    assert_true(s->n_ep < SIM_MAX_EP);
    sim_ep *e = &s->ep[s->n_ep];
    memset(e, 0, sizeof *e);
    e->s = s;
    e->idx = s->n_ep;
    e->md = md_idx;
    snprintf(e->identity, sizeof e->identity, "%s", identity ? identity : "");
    assert_int_equal(perc_dtls_identity_generate(identity, &e->cert, &e->key), PERC_OK);
    assert_int_equal(perc_dtls_cert_fingerprint(e->cert, e->fp), PERC_OK);
    perc_dtls_ctx_config cc = {e->cert, e->key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &e->ctx), PERC_OK);
    snprintf(e->tls_id, sizeof e->tls_id, "EndpointTlsId%02d-abcdefghijklm", e->idx);
    perc_dtls_config_init(&e->cfg, PERC_DTLS_CLIENT);
    return s->n_ep++;
}

static inline int sim_announce(sim *s, int i, const char *conf)
{
    sim_ep *e = &s->ep[i];
    return perc_kmf_announce(s->kmf, conf, e->identity[0] ? e->identity : NULL, e->fp,
                             (const uint8_t *)e->tls_id, strlen(e->tls_id), s->now, &e->ans);
}

/* The endpoint's DTLS client, configured from its answer (the tls-id and
 * fingerprint it learnt through signaling), with cfg adjustments already
 * made in e->cfg. */
static inline void sim_ep_start(sim *s, int i)
{
    sim_ep *e = &s->ep[i];
    assert_null(e->d);
    perc_dtls_config cfg = e->cfg;
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, (const uint8_t *)e->tls_id,
                                                 strlen(e->tls_id)),
                     PERC_OK);
    if (e->ans.tls_id_len)
        assert_int_equal(perc_dtls_config_expect_peer_tls_id(
                             &cfg, (const uint8_t *)e->ans.tls_id, e->ans.tls_id_len),
                         PERC_OK);
    perc_dtls_config_expect_peer_fingerprint(&cfg, e->ans.fingerprint);
    perc_dtls_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.user = e;
    cbs.connected = sim_ep_on_connected;
    cbs.ekt_key = sim_ep_on_ekt;
    cbs.closed = sim_ep_on_closed;
    assert_int_equal(perc_dtls_new(e->ctx, &cfg, &cbs, &e->d), PERC_OK);
    assert_int_equal(perc_dtls_start(e->d, s->now), PERC_OK);
}

/* ---- moving bytes ------------------------------------------------------- */

static inline void sim_md_event(void *user, const perc_tunnel_md_event *ev)
{
    sim_md *m = user;
    sim *s = m->s;
    if (ev->type == PERC_TUNNEL_MD_DROPPED) {
        m->n_dropped++;
        return;
    }
    assert_true(ev->handle < (uint64_t)s->n_ep);
    sim_ep *e = &s->ep[ev->handle];
    switch (ev->type) {
    case PERC_TUNNEL_MD_DTLS_TO_ENDPOINT:
        if (e->d) {
            int rc = perc_dtls_recv(e->d, ev->dtls.ptr, ev->dtls.len, s->now);
            assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
        }
        break;
    case PERC_TUNNEL_MD_INSTALL_KEYS:
        m->n_install[ev->handle]++;
        m->keys[ev->handle] = *ev->keys;
        sim_secret_add(s, ev->keys->client_write_key, ev->keys->key_len);
        sim_secret_add(s, ev->keys->server_write_key, ev->keys->key_len);
        sim_secret_add(s, ev->keys->client_write_salt, ev->keys->salt_len);
        sim_secret_add(s, ev->keys->server_write_salt, ev->keys->salt_len);
        break;
    case PERC_TUNNEL_MD_KD_DISCONNECT:
        m->n_kd_disconnect[ev->handle]++;
        e->detached = true; /* a real MD would stop relaying for it */
        break;
    default:
        fail_msg("unexpected MD event %d", (int)ev->type);
    }
}

/* Moves everything until nobody has anything to send. */
static inline void sim_pump(sim *s)
{
    static uint8_t buf[PERC_TUNNEL_MAX_MSG * 2];
    for (int iter = 0; iter < 500; iter++) {
        size_t moved = 0;
        for (int i = 0; i < s->n_ep; i++) {
            sim_ep *e = &s->ep[i];
            if (!e->d)
                continue;
            for (;;) {
                size_t len;
                assert_int_equal(perc_dtls_pull(e->d, buf, sizeof buf, &len), PERC_OK);
                if (len == 0)
                    break;
                moved++;
                sim_md *m = &s->md[e->md];
                if (!m->up || perc_tunnel_md_get_state(m->md) != PERC_TUNNEL_MD_OPEN ||
                    e->detached)
                    continue; /* lost, as on a dead tunnel */
                perc_uuid id;
                int rc = perc_tunnel_md_dtls_from_endpoint(m->md, (uint64_t)i, buf, len, &id);
                assert_int_equal(rc, PERC_OK);
                if (!e->has_assoc)
                    e->assoc = id;
                e->has_assoc = true;
            }
        }
        for (int i = 0; i < s->n_md; i++) {
            sim_md *m = &s->md[i];
            if (!m->up)
                continue;
            size_t len;
            assert_int_equal(perc_tunnel_md_pending_send(m->md, buf, sizeof buf, &len), PERC_OK);
            if (len) {
                moved += len;
                m->last_kmf_rc = perc_kmf_tunnel_recv(s->kmf, m->conn, buf, len, s->now);
            }
            assert_int_equal(perc_kmf_tunnel_pending(s->kmf, m->conn, buf, sizeof buf, &len),
                             PERC_OK);
            if (len) {
                moved += len;
                int rc = perc_tunnel_md_recv(m->md, buf, len);
                assert_int_equal(rc, PERC_OK);
            }
        }
        if (moved == 0)
            return;
    }
    fail_msg("the simulation never went quiet");
}

static inline uint64_t sim_next(const sim *s)
{
    uint64_t t = perc_kmf_next_timeout(s->kmf);
    for (int i = 0; i < s->n_ep; i++) {
        if (!s->ep[i].d)
            continue;
        uint64_t e = perc_dtls_next_timeout(s->ep[i].d);
        t = e < t ? e : t;
    }
    return t;
}

/* Runs every timer up to `until` in order, pumping after each. */
static inline void sim_advance(sim *s, uint64_t until)
{
    for (int iter = 0; iter < 100000; iter++) {
        uint64_t t = sim_next(s);
        if (t > until)
            break;
        if (t > s->now)
            s->now = t;
        assert_int_equal(perc_kmf_on_timeout(s->kmf, s->now), PERC_OK);
        for (int i = 0; i < s->n_ep; i++) {
            sim_ep *e = &s->ep[i];
            if (e->d && perc_dtls_next_timeout(e->d) <= s->now) {
                int rc = perc_dtls_on_timeout(e->d, s->now);
                assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
            }
        }
        sim_pump(s);
        if (sim_next(s) <= s->now)
            s->now += SIM_MS; /* OpenSSL's wall-clock timer has not run out yet */
    }
    if (until > s->now)
        s->now = until;
}

/* Announce, start DTLS, run until quiet. */
static inline void sim_join(sim *s, int i, const char *conf)
{
    assert_int_equal(sim_announce(s, i, conf), PERC_OK);
    assert_true(s->ep[i].ans.allowed);
    sim_ep_start(s, i);
    sim_pump(s);
}

static inline perc_dtls_state sim_ep_state(const sim *s, int i)
{
    return perc_dtls_get_state(s->ep[i].d);
}

static inline const perc_ekt_key_msg *sim_last_ekt(const sim *s, int i)
{
    static const perc_ekt_key_msg none;
    const sim_ep *e = &s->ep[i];
    if (e->n_ekt == 0)
        fail_msg("endpoint %d has no EKTKey", i);
    return e->n_ekt ? &e->ekt[e->n_ekt - 1] : &none;
}

static inline bool sim_ekt_same(const perc_ekt_key_msg *a, const perc_ekt_key_msg *b)
{
    return a->key_len == b->key_len && a->salt_len == b->salt_len && a->spi == b->spi &&
           memcmp(a->key, b->key, a->key_len) == 0 && memcmp(a->salt, b->salt, a->salt_len) == 0;
}

static inline perc_kmf_conference_info sim_conf(const sim *s, const char *conf)
{
    perc_kmf_conference_info ci;
    assert_int_equal(perc_kmf_conference_info_get(s->kmf, conf, &ci), PERC_OK);
    return ci;
}

/* ---- the secrets check ---------------------------------------------------- */

static inline bool sim_contains(const char *hay, size_t hay_len, const uint8_t *needle, size_t n)
{
    if (n == 0 || n > hay_len)
        return false;
    for (size_t i = 0; i + n <= hay_len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* Whether a secret appears in the log raw, in lowercase or uppercase hex,
 * or in colon-separated hex (the fingerprint style); 8-octet prefixes
 * count. */
static inline bool sim_log_leaks(const sim *s)
{
    if (!s->log)
        return false;
    for (int i = 0; i < s->n_secrets; i++) {
        const sim_secret *x = &s->secrets[i];
        size_t n = x->len < 8 ? x->len : 8;
        char lo[3 * 64 + 1], up[3 * 64 + 1], colon[3 * 64 + 1];
        for (size_t j = 0; j < n; j++) {
            sprintf(lo + 2 * j, "%02x", x->b[j]);
            sprintf(up + 2 * j, "%02X", x->b[j]);
            sprintf(colon + 3 * j, "%02X:", x->b[j]);
        }
        colon[3 * n - 1] = '\0';
        if (sim_contains(s->log, s->log_len, x->b, n) || strstr(s->log, lo) ||
            strstr(s->log, up) || strstr(s->log, colon))
            return true;
    }
    return false;
}

static inline void sim_check_no_secrets(const sim *s) { assert_false(sim_log_leaks(s)); }

static inline void sim_free(sim *s)
{
    sim_check_no_secrets(s);
    perc_kmf_free(s->kmf);
    for (int i = 0; i < s->n_md; i++)
        perc_tunnel_md_free(s->md[i].md);
    for (int i = 0; i < s->n_ep; i++) {
        sim_ep *e = &s->ep[i];
        perc_dtls_free(e->d);
        perc_dtls_ctx_free(e->ctx);
        X509_free(e->cert);
        EVP_PKEY_free(e->key);
        perc_double_keying_wipe(&e->keying);
        perc_wipe(e->ekt, sizeof e->ekt);
    }
    perc_dtls_ctx_free(s->ctx);
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    free(s->log);
    perc_wipe(s->secrets, sizeof s->secrets);
}

static const uint16_t SIM_DOUBLE_BOTH[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                           PERC_PROFILE_DOUBLE_AES_256_GCM};

#endif
