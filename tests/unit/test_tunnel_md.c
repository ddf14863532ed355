/* The Media Distributor's side of the RFC 9185 tunnel (perc/tunnel_md.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/profile.h"
#include "perc/tunnel.h"
#include "perc/tunnel_md.h"
#include "test_util.h"
#include "vectors.h"

/* ---- recording events -------------------------------------------------- */

#define MAX_EVENTS 64

typedef struct rec_event {
    perc_tunnel_md_event_type type;
    uint64_t handle;
    perc_uuid id;
    uint8_t *dtls;
    size_t dtls_len;
    perc_tunnel_md_keys keys;
    uint8_t msg_type;
    int error;
} rec_event;

typedef struct rig {
    perc_tunnel_md *md;
    rec_event ev[MAX_EVENTS];
    size_t n;
    /* random source: a queue of fixed values, then a seeded generator */
    const uint8_t (*fixed)[16];
    size_t n_fixed;
    tu_rng rng;
    bool random_fails;
    bool random_constant;
    /* re-entrancy probe, run from the DTLS event */
    bool probe;
    int probe_recv_rc, probe_reset_rc, probe_down_rc, probe_gone_rc;
} rig;

static int test_random(void *user, uint8_t *buf, size_t len)
{
    rig *r = user;
    if (r->random_fails)
        return -1;
    if (r->random_constant) {
        memset(buf, 0x5a, len);
        return 0;
    }
    if (r->n_fixed > 0) {
        assert_int_equal(len, 16);
        memcpy(buf, r->fixed[0], 16);
        r->fixed++;
        r->n_fixed--;
        return 0;
    }
    tu_rng_fill(&r->rng, buf, len);
    return 0;
}

static void on_event(void *user, const perc_tunnel_md_event *ev)
{
    rig *r = user;
    assert_true(r->n < MAX_EVENTS);
    rec_event *e = &r->ev[r->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->handle = ev->handle;
    e->id = ev->association_id;
    e->msg_type = ev->msg_type;
    e->error = ev->error;
    if (ev->type == PERC_TUNNEL_MD_DTLS_TO_ENDPOINT) {
        e->dtls = malloc(ev->dtls.len);
        assert_non_null(e->dtls);
        memcpy(e->dtls, ev->dtls.ptr, ev->dtls.len);
        e->dtls_len = ev->dtls.len;
        if (r->probe) {
            uint8_t b[3] = {5, 0, 0};
            r->probe_recv_rc = perc_tunnel_md_recv(r->md, b, sizeof b);
            r->probe_reset_rc = perc_tunnel_md_reset_connection(r->md);
            r->probe_down_rc = perc_tunnel_md_connection_down(r->md);
            r->probe_gone_rc = perc_tunnel_md_endpoint_gone(r->md, ev->handle);
        }
    }
    if (ev->type == PERC_TUNNEL_MD_INSTALL_KEYS) {
        assert_non_null(ev->keys);
        e->keys = *ev->keys;
    } else {
        assert_null(ev->keys);
    }
}

static void clear_events(rig *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i].dtls);
    r->n = 0;
}

static const uint16_t DOUBLE_BOTH[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                       PERC_PROFILE_DOUBLE_AES_256_GCM};

static perc_tunnel_md_config base_config(rig *r)
{
    perc_tunnel_md_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profiles = DOUBLE_BOTH;
    cfg.n_profiles = 2;
    cfg.random = test_random;
    cfg.random_user = r;
    cfg.on_event = on_event;
    cfg.event_user = r;
    return cfg;
}

static rig *rig_new_cfg(perc_tunnel_md_config *cfg_or_null)
{
    rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    tu_rng_seed(&r->rng, 1234);
    perc_tunnel_md_config cfg = cfg_or_null ? *cfg_or_null : base_config(r);
    cfg.random_user = r;
    cfg.event_user = r;
    assert_int_equal(perc_tunnel_md_new(&cfg, &r->md), PERC_OK);
    return r;
}

static rig *rig_new(void) { return rig_new_cfg(NULL); }

static void rig_free(rig *r)
{
    clear_events(r);
    perc_tunnel_md_free(r->md);
    free(r);
}

/* Pulls everything queued. */
static size_t pull_all(rig *r, uint8_t *buf, size_t cap)
{
    size_t total = 0;
    for (;;) {
        size_t n;
        assert_int_equal(perc_tunnel_md_pending_send(r->md, buf + total, cap - total, &n),
                         PERC_OK);
        if (n == 0)
            return total;
        total += n;
    }
}

static void expect_output(rig *r, const char *hex)
{
    uint8_t want[512], got[512];
    size_t n = tu_hex(hex, want, sizeof want);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), n);
    assert_int_equal(pull_all(r, got, sizeof got), n);
    assert_memory_equal(got, want, n);
}

static void open_conn(rig *r)
{
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_OPEN);
    expect_output(r, "0100070000040009000a");
}

static void feed_hex(rig *r, const char *hex, int want_rc)
{
    uint8_t buf[1024];
    size_t n = tu_hex(hex, buf, sizeof buf);
    assert_int_equal(perc_tunnel_md_recv(r->md, buf, n), want_rc);
}

static void hexcat(char *out, size_t cap, const char *a, const perc_uuid *u, const char *b)
{
    char uh[33];
    for (size_t i = 0; i < 16; i++) {
        static const char D[] = "0123456789abcdef";
        uh[2 * i] = D[u->b[i] >> 4];
        uh[2 * i + 1] = D[u->b[i] & 15];
    }
    uh[32] = '\0';
    snprintf(out, cap, "%s%s%s", a, uh, b);
}

static const uint8_t DTLS_CH[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0x03};

/* Starts an association for handle and returns its id. */
static perc_uuid start_assoc(rig *r, uint64_t handle)
{
    perc_uuid id;
    assert_int_equal(
        perc_tunnel_md_dtls_from_endpoint(r->md, handle, DTLS_CH, sizeof DTLS_CH, &id), PERC_OK);
    uint8_t buf[256];
    (void)pull_all(r, buf, sizeof buf);
    return id;
}

/* ---- tests ------------------------------------------------------------- */

/* RFC 9185 §5.3 + §7: SupportedProfiles first, byte for byte the example. */
static void test_supported_profiles_first(void **state)
{
    (void)state;
    rig *r = rig_new();
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_DOWN);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, sizeof DTLS_CH, NULL),
                     PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_md_recv(r->md, DTLS_CH, 3), PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 0);

    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    tv_file f;
    assert_int_equal(tv_load("tunnel-examples.txt", &f), 0);
    const tv_block *b = tv_find(&f, "supported_profiles_double128_double256");
    assert_non_null(b);
    const tv_field *wire = tv_get(b, "tunnel_message");
    assert_non_null(wire);
    uint8_t out[64];
    assert_int_equal(pull_all(r, out, sizeof out), wire->len);
    assert_memory_equal(out, wire->data, wire->len);

    /* Again on every reconnection, and a small pull buffer gets it in pieces. */
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_version(r->md), 0);
    size_t n, total = 0;
    do {
        assert_int_equal(perc_tunnel_md_pending_send(r->md, out + total, 3, &n), PERC_OK);
        total += n;
    } while (n > 0);
    assert_int_equal(total, 10);
    assert_memory_equal(out, wire->data, 10);
    tv_free(&f);
    rig_free(r);
}

static void test_config_errors(void **state)
{
    (void)state;
    rig r0;
    memset(&r0, 0, sizeof r0);
    perc_tunnel_md_config cfg = base_config(&r0);
    perc_tunnel_md *md = NULL;
    cfg.n_profiles = 0;
    assert_int_equal(perc_tunnel_md_new(&cfg, &md), PERC_ERR_INVALID_ARG);
    cfg.n_profiles = 2;
    cfg.random = NULL;
    assert_int_equal(perc_tunnel_md_new(&cfg, &md), PERC_ERR_INVALID_ARG);
    cfg.random = test_random;
    cfg.on_event = NULL;
    assert_int_equal(perc_tunnel_md_new(&cfg, &md), PERC_ERR_INVALID_ARG);
    cfg.on_event = on_event;
    static const uint16_t BAD[] = {0x0009, 0x0001};
    cfg.profiles = BAD;
    assert_int_equal(perc_tunnel_md_new(&cfg, &md), PERC_ERR_UNSUPPORTED);
    cfg.profiles = DOUBLE_BOTH;
    cfg.n_profiles = 40000;
    assert_int_equal(perc_tunnel_md_new(&cfg, &md), PERC_ERR_TOO_LARGE);
    assert_null(md);
    perc_tunnel_md_free(NULL);
}

/* RFC 9185 §5.3: one random v4 UUID per association, stable for its life. */
static void test_association_ids(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1, a2, again;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, sizeof DTLS_CH, &a1),
                     PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 2, DTLS_CH, sizeof DTLS_CH, &a2), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH + 1, 2, &again),
                     PERC_OK);
    /* Without an association only a ClientHello opens one: an alert, a
     * record of a later epoch, a handshake message of another type and a
     * cut record header are what is left of an ended association. */
    static const uint8_t ALERT[] = {0x15, 0xfe, 0xfd, 0x00, 0x01, 0x00, 0x00, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00};
    uint8_t later_epoch[sizeof DTLS_CH], not_ch[sizeof DTLS_CH];
    memcpy(later_epoch, DTLS_CH, sizeof DTLS_CH);
    later_epoch[4] = 1;
    memcpy(not_ch, DTLS_CH, sizeof DTLS_CH);
    not_ch[13] = 2; /* ServerHello */
    size_t before = perc_tunnel_md_pending_len(r->md);
    const struct {
        const uint8_t *d;
        size_t n;
    } stray[] = {{ALERT, sizeof ALERT}, {later_epoch, sizeof later_epoch},
                 {not_ch, sizeof not_ch}, {DTLS_CH, 13}};
    for (size_t i = 0; i < sizeof stray / sizeof stray[0]; i++)
        assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 9, stray[i].d, stray[i].n, NULL),
                         PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), before);
    /* (an association takes any record: `again` above is none) */
    assert_true(perc_uuid_is_v4(&a1));
    assert_true(perc_uuid_is_v4(&a2));
    assert_false(perc_uuid_equal(&a1, &a2));
    assert_true(perc_uuid_equal(&a1, &again));
    assert_int_equal(perc_tunnel_md_association_count(r->md), 2);

    /* The three TunneledDtls messages, byte for byte. */
    char hex[256];
    uint8_t want[256], got[256];
    size_t n = 0;
    hexcat(hex, sizeof hex, "040022", &a1, "0010" "16fefd00000000000000000003010203");
    n += tu_hex(hex, want + n, sizeof want - n);
    hexcat(hex, sizeof hex, "040022", &a2, "0010" "16fefd00000000000000000003010203");
    n += tu_hex(hex, want + n, sizeof want - n);
    hexcat(hex, sizeof hex, "040014", &a1, "0002fefd");
    n += tu_hex(hex, want + n, sizeof want - n);
    assert_int_equal(pull_all(r, got, sizeof got), n);
    assert_memory_equal(got, want, n);

    perc_uuid look;
    uint64_t h;
    assert_int_equal(perc_tunnel_md_association_of(r->md, 2, &look), PERC_OK);
    assert_true(perc_uuid_equal(&look, &a2));
    assert_int_equal(perc_tunnel_md_handle_of(r->md, &a1, &h), PERC_OK);
    assert_int_equal(h, 1);
    assert_int_equal(perc_tunnel_md_association_of(r->md, 3, &look), PERC_ERR_NOT_FOUND);

    /* Many associations: all distinct, all found again. */
    perc_uuid ids[300];
    for (uint64_t i = 0; i < 300; i++) {
        ids[i] = start_assoc(r, 1000 + i * 7919);
        assert_true(perc_uuid_is_v4(&ids[i]));
    }
    for (uint64_t i = 0; i < 300; i++) {
        assert_int_equal(perc_tunnel_md_handle_of(r->md, &ids[i], &h), PERC_OK);
        assert_int_equal(h, 1000 + i * 7919);
        for (uint64_t k = 0; k < i; k++)
            assert_false(perc_uuid_equal(&ids[i], &ids[k]));
    }
    /* Remove every other one; the rest stay findable both ways. */
    for (uint64_t i = 0; i < 300; i += 2)
        assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 1000 + i * 7919), PERC_OK);
    for (uint64_t i = 0; i < 300; i++) {
        int want_rc = i % 2 ? PERC_OK : PERC_ERR_NOT_FOUND;
        assert_int_equal(perc_tunnel_md_handle_of(r->md, &ids[i], &h), want_rc);
        assert_int_equal(perc_tunnel_md_association_of(r->md, 1000 + i * 7919, &look), want_rc);
        if (want_rc == PERC_OK)
            assert_true(perc_uuid_equal(&look, &ids[i]));
    }
    assert_int_equal(perc_tunnel_md_association_count(r->md), 2 + 150);
    rig_free(r);
}

static void test_dtls_to_endpoint(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 11);
    perc_uuid a2 = start_assoc(r, 22);
    char hex[256];
    hexcat(hex, sizeof hex, "040015", &a2, "0003aabbcc");
    feed_hex(r, hex, PERC_OK);
    hexcat(hex, sizeof hex, "040013", &a1, "000199");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_MD_DTLS_TO_ENDPOINT);
    assert_int_equal(r->ev[0].handle, 22);
    assert_true(perc_uuid_equal(&r->ev[0].id, &a2));
    assert_int_equal(r->ev[0].dtls_len, 3);
    assert_memory_equal(r->ev[0].dtls, "\xaa\xbb\xcc", 3);
    assert_int_equal(r->ev[1].handle, 11);
    assert_int_equal(r->ev[1].dtls_len, 1);
    assert_int_equal(r->ev[1].dtls[0], 0x99);
    /* Relaying produces nothing on the tunnel. */
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);

    /* The largest datagram both ways. */
    uint8_t *big = malloc(PERC_TUNNEL_MAX_MSG);
    assert_non_null(big);
    for (size_t i = 0; i < PERC_TUNNEL_MAX_DTLS; i++)
        big[PERC_TUNNEL_HEADER_LEN + 18 + i] = (uint8_t)i;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 11, big + 21, PERC_TUNNEL_MAX_DTLS,
                                                       NULL),
                     PERC_OK);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), PERC_TUNNEL_MAX_MSG);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 11, big, PERC_TUNNEL_MAX_DTLS + 1,
                                                       NULL),
                     PERC_ERR_TOO_LARGE);
    uint8_t *out = malloc(PERC_TUNNEL_MAX_MSG);
    assert_non_null(out);
    assert_int_equal(pull_all(r, out, PERC_TUNNEL_MAX_MSG), PERC_TUNNEL_MAX_MSG);
    assert_memory_equal(out, "\x04\xff\xff", 3);
    assert_memory_equal(out + 3, a1.b, 16);
    assert_memory_equal(out + 19, "\xff\xed", 2);
    assert_memory_equal(out + 21, big + 21, PERC_TUNNEL_MAX_DTLS);
    /* Feed it back as if from the KD. */
    clear_events(r);
    assert_int_equal(perc_tunnel_md_recv(r->md, out, PERC_TUNNEL_MAX_MSG), PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].dtls_len, PERC_TUNNEL_MAX_DTLS);
    assert_memory_equal(r->ev[0].dtls, big + 21, PERC_TUNNEL_MAX_DTLS);
    free(out);
    free(big);

    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 11, DTLS_CH, 0, NULL),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 11, NULL, 3, NULL),
                     PERC_ERR_INVALID_ARG);
    rig_free(r);
}

/* Unknown association ids are reported and dropped; nothing else changes. */
static void test_unknown_association(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 5);
    perc_uuid stranger;
    tu_hex("0123456789ab4def8123456789abcdef", stranger.b, 16);
    char hex[512];
    hexcat(hex, sizeof hex, "040013", &stranger, "000116");
    feed_hex(r, hex, PERC_OK);
    hexcat(hex, sizeof hex, "03004f", &stranger,
           "00090010101112131415161718191a1b1c1d1e1f10303132333435363738393a3b3c3d3e3f0c4c4d4e4f"
           "50515253545556570c6465666768696a6b6c6d6e6f");
    feed_hex(r, hex, PERC_OK);
    hexcat(hex, sizeof hex, "050010", &stranger, "");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 3);
    static const uint8_t TYPES[] = {4, 3, 5};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r->ev[i].type, PERC_TUNNEL_MD_DROPPED);
        assert_int_equal(r->ev[i].msg_type, TYPES[i]);
        assert_int_equal(r->ev[i].error, PERC_ERR_NOT_FOUND);
        assert_true(perc_uuid_equal(&r->ev[i].id, &stranger));
    }
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_OPEN);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 1);
    /* The known association still works. */
    hexcat(hex, sizeof hex, "040013", &a1, "000117");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 4);
    assert_int_equal(r->ev[3].type, PERC_TUNNEL_MD_DTLS_TO_ENDPOINT);
    assert_int_equal(r->ev[3].handle, 5);

    /* An unknown message type is skipped by its length. */
    feed_hex(r, "420003abcdef", PERC_OK);
    assert_int_equal(r->n, 5);
    assert_int_equal(r->ev[4].type, PERC_TUNNEL_MD_DROPPED);
    assert_int_equal(r->ev[4].msg_type, 0x42);
    assert_int_equal(r->ev[4].error, PERC_ERR_UNSUPPORTED);
    rig_free(r);
}

/* MediaKeys: the outer halves, checked against the profile and our list. */
static void test_media_keys(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "double128_keying_material_split_and_media_keys");
    assert_non_null(b);
    const tv_field *wire = tv_get(b, "media_keys_message");
    const tv_field *aid = tv_get(b, "association_id");
    const tv_field *cw_key = tv_get(b, "client_write_master_key");
    const tv_field *sw_key = tv_get(b, "server_write_master_key");
    const tv_field *cw_salt = tv_get(b, "client_write_master_salt");
    const tv_field *sw_salt = tv_get(b, "server_write_master_salt");
    assert_non_null(wire);
    assert_non_null(aid);

    /* The random source hands out the vector's association id. */
    rig *r = rig_new();
    uint8_t fixed[1][16];
    memcpy(fixed[0], aid->data, 16);
    r->fixed = (const uint8_t(*)[16])fixed;
    r->n_fixed = 1;
    open_conn(r);
    perc_uuid id = start_assoc(r, 77);
    assert_memory_equal(id.b, aid->data, 16);

    assert_int_equal(perc_tunnel_md_recv(r->md, wire->data, wire->len), PERC_OK);
    assert_int_equal(r->n, 1);
    const rec_event *e = &r->ev[0];
    assert_int_equal(e->type, PERC_TUNNEL_MD_INSTALL_KEYS);
    assert_int_equal(e->handle, 77);
    assert_int_equal(e->keys.profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(e->keys.key_len, 16);
    assert_int_equal(e->keys.salt_len, 12);
    /* Second halves of the DTLS-SRTP keys and salts (RFC 8871 §6.2). */
    assert_memory_equal(e->keys.client_write_key, cw_key->data + 16, 16);
    assert_memory_equal(e->keys.server_write_key, sw_key->data + 16, 16);
    assert_memory_equal(e->keys.client_write_salt, cw_salt->data + 12, 12);
    assert_memory_equal(e->keys.server_write_salt, sw_salt->data + 12, 12);
    tv_free(&f);

    /* DOUBLE 256: 32-octet halves. */
    char hex[600];
    char body[400];
    snprintf(body, sizeof body, "000a00" "20%s" "20%s" "0c%s" "0c%s",
             "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
             "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
             "e0e1e2e3e4e5e6e7e8e9eaeb", "f0f1f2f3f4f5f6f7f8f9fafb");
    hexcat(hex, sizeof hex, "03006f", &id, body);
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[1].type, PERC_TUNNEL_MD_INSTALL_KEYS);
    assert_int_equal(r->ev[1].keys.profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(r->ev[1].keys.key_len, 32);
    assert_int_equal(r->ev[1].keys.client_write_key[31], 0xbf);
    assert_int_equal(r->ev[1].keys.server_write_salt[11], 0xfb);

    /* Wrong lengths: full (not halved) keys and salts for DOUBLE 128. */
    snprintf(body, sizeof body, "000900" "20%s" "20%s" "18%s" "18%s",
             "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
             "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
             "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7",
             "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0001020304050607");
    hexcat(hex, sizeof hex, "030087", &id, body);
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->ev[2].type, PERC_TUNNEL_MD_DROPPED);
    assert_int_equal(r->ev[2].error, PERC_ERR_KEY_LENGTH);
    assert_int_equal(r->ev[2].msg_type, PERC_TUNNEL_MEDIA_KEYS);

    /* A profile we did not offer (plain AES-128-GCM, right lengths). */
    hexcat(hex, sizeof hex, "03004f", &id,
           "00070010101112131415161718191a1b1c1d1e1f10303132333435363738393a3b3c3d3e3f0c4c4d4e4f"
           "50515253545556570c6465666768696a6b6c6d6e6f");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->ev[3].type, PERC_TUNNEL_MD_DROPPED);
    assert_int_equal(r->ev[3].error, PERC_ERR_UNSUPPORTED);

    /* An MKI. */
    hexcat(hex, sizeof hex, "030050", &id,
           "000901ee10101112131415161718191a1b1c1d1e1f10303132333435363738393a3b3c3d3e3f0c4c4d4e4f"
           "50515253545556570c6465666768696a6b6c6d6e6f");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->ev[4].type, PERC_TUNNEL_MD_DROPPED);
    assert_int_equal(r->ev[4].error, PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_OPEN);
    rig_free(r);
}

static void test_kd_disconnect(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 8);
    perc_uuid a2 = start_assoc(r, 9);
    char hex[128];
    hexcat(hex, sizeof hex, "050010", &a1, "");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_MD_KD_DISCONNECT);
    assert_int_equal(r->ev[0].handle, 8);
    assert_true(perc_uuid_equal(&r->ev[0].id, &a1));
    perc_uuid look;
    assert_int_equal(perc_tunnel_md_association_of(r->md, 8, &look), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_tunnel_md_association_of(r->md, 9, &look), PERC_OK);
    assert_true(perc_uuid_equal(&look, &a2));
    /* The MD answers nothing. */
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);
    /* A second one for the same id is now unknown. */
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->ev[1].type, PERC_TUNNEL_MD_DROPPED);
    /* The endpoint's next datagram starts a new association. */
    perc_uuid a1b = start_assoc(r, 8);
    assert_false(perc_uuid_equal(&a1, &a1b));
    rig_free(r);
}

/* RFC 9185 §5.3: EndpointDisconnect when an endpoint goes; owed while down. */
static void test_endpoint_gone(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 1);
    perc_uuid a2 = start_assoc(r, 2);
    perc_uuid a3 = start_assoc(r, 3);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 1), PERC_OK);
    char hex[256], tail[128];
    hexcat(hex, sizeof hex, "050010", &a1, "");
    expect_output(r, hex);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 1), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 2);

    /* Connection lost: the disconnects are owed and go out right after the
     * next SupportedProfiles, oldest first. */
    assert_int_equal(perc_tunnel_md_connection_down(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_DOWN);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 2), PERC_OK);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 3), PERC_OK);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 0);
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    hexcat(tail, sizeof tail, "050010", &a3, "");
    hexcat(hex, sizeof hex, "0100070000040009000a050010", &a2, tail);
    expect_output(r, hex);
    /* Sent once only. */
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    expect_output(r, "0100070000040009000a");
    rig_free(r);
}

/* With the send queue full, a disconnect is owed while open, and goes out
 * once there is room; if the KD ends the association first, it is dropped. */
static void test_owed_while_queue_full(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 1);
    perc_uuid a2 = start_assoc(r, 2);
    uint8_t *big = calloc(1, PERC_TUNNEL_MAX_DTLS);
    assert_non_null(big);
    /* The default limit is 1 MiB: 16 largest messages fill it. */
    size_t queued = 0;
    while (perc_tunnel_md_dtls_from_endpoint(r->md, 1, big, PERC_TUNNEL_MAX_DTLS, NULL) ==
           PERC_OK)
        queued++;
    assert_int_equal(queued, (1024 * 1024) / PERC_TUNNEL_MAX_MSG);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, big, PERC_TUNNEL_MAX_DTLS, NULL),
                     PERC_ERR_LIMIT);
    /* A new endpoint is not given an association it could not use. */
    size_t room = 1024 * 1024 - perc_tunnel_md_pending_len(r->md);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 3, big, room, NULL), PERC_ERR_LIMIT);
    perc_uuid look;
    assert_int_equal(perc_tunnel_md_association_of(r->md, 3, &look), PERC_ERR_NOT_FOUND);

    /* Fill the last octets so not even a disconnect fits. */
    assert_true(room > 21 + 19);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, big, room - 21, NULL), PERC_OK);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 1024 * 1024);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 1), PERC_OK);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 2), PERC_OK);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 1024 * 1024);

    /* The KD ends a2 itself: no longer owed, and not reported. */
    char hex[128];
    hexcat(hex, sizeof hex, "050010", &a2, "");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->n, 0);

    /* Drain, then the next send flushes what is owed first. */
    uint8_t *sink = malloc(1024 * 1024);
    assert_non_null(sink);
    assert_int_equal(pull_all(r, sink, 1024 * 1024), 1024 * 1024);
    perc_uuid a4;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 4, DTLS_CH, 14, &a4), PERC_OK);
    char want[256], tail[128];
    hexcat(tail, sizeof tail, "040020", &a4, "000e16fefd0000000000000000000301");
    hexcat(want, sizeof want, "050010", &a1, tail);
    expect_output(r, want);
    free(sink);
    free(big);
    rig_free(r);
}

/* RFC 9185 §5.5: UnsupportedVersion => remember it, close, reconnect with it. */
static void test_unsupported_version(void **state)
{
    (void)state;
    rig r0;
    memset(&r0, 0, sizeof r0);
    perc_tunnel_md_config cfg = base_config(&r0);
    cfg.version = 1; /* playing a newer Media Distributor */
    rig *r = rig_new_cfg(&cfg);
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    expect_output(r, "0100070100040009000a");
    perc_uuid a1 = start_assoc(r, 1);
    feed_hex(r, "02000100", PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_FAILED);
    assert_int_equal(perc_tunnel_md_failure(r->md), PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_md_version(r->md), 0);
    /* Failed is sticky until the caller reconnects. */
    feed_hex(r, "420000", PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, sizeof DTLS_CH, NULL),
                     PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_md_connection_down(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_failure(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    expect_output(r, "0100070000040009000a");
    /* The association survived. */
    perc_uuid look;
    assert_int_equal(perc_tunnel_md_association_of(r->md, 1, &look), PERC_OK);
    assert_true(perc_uuid_equal(&look, &a1));
    /* Version 0 refused too: nothing lower to try; version stays 0. */
    feed_hex(r, "02000100", PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_md_version(r->md), 0);
    /* A higher "highest" is no reason to go up either. */
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    feed_hex(r, "02000107", PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_tunnel_md_version(r->md), 0);
    rig_free(r);
}

/* A malformed stream fails the connection; associations are kept and work
 * again after the reconnection. */
static void test_garbage_fails_connection(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
    } CASES[] = {
        {"0400050102030405", PERC_ERR_TRUNCATED},         /* uuid runs past the body */
        {"0500110102030405060708090a0b0c0d0e0f1011", PERC_ERR_TRAILING},
        {"04001200112233445566778899aabbccddeeff0000", PERC_ERR_MALFORMED}, /* empty DTLS */
        {"0100070000040009000a", PERC_ERR_UNSUPPORTED},   /* SupportedProfiles from the KD */
        {"01000101", PERC_ERR_UNSUPPORTED},               /* ... of another version */
        {"020000", PERC_ERR_TRUNCATED},                   /* UnsupportedVersion without body */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        rig *r = rig_new();
        open_conn(r);
        perc_uuid a1 = start_assoc(r, 31);
        char hex[128];
        hexcat(hex, sizeof hex, "040013", &a1, "000101");
        char stream[512];
        /* A good message, the bad one, another good one. */
        snprintf(stream, sizeof stream, "%s%s%s", hex, CASES[i].hex, hex);
        feed_hex(r, stream, CASES[i].rc);
        assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_FAILED);
        assert_int_equal(perc_tunnel_md_failure(r->md), CASES[i].rc);
        assert_int_equal(r->n, 1); /* the message before it was handled */
        assert_int_equal(perc_tunnel_md_association_count(r->md), 1);
        /* Reconnect: the association continues. */
        assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
        expect_output(r, "0100070000040009000a");
        feed_hex(r, hex, PERC_OK);
        assert_int_equal(r->n, 2);
        assert_int_equal(r->ev[1].handle, 31);
        perc_uuid again;
        assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 31, DTLS_CH, sizeof DTLS_CH, &again),
                         PERC_OK);
        assert_true(perc_uuid_equal(&a1, &again));
        rig_free(r);
    }
}

/* Messages split anywhere across reads give the same events. */
static void test_split_reads(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 1);
    perc_uuid a2 = start_assoc(r, 2);
    char m1[128], m2[256], m3[128], stream_hex[600];
    hexcat(m1, sizeof m1, "040015", &a1, "0003010203");
    hexcat(m2, sizeof m2, "03004f", &a2,
           "00090010101112131415161718191a1b1c1d1e1f10303132333435363738393a3b3c3d3e3f0c4c4d4e4f"
           "50515253545556570c6465666768696a6b6c6d6e6f");
    hexcat(m3, sizeof m3, "050010", &a1, "");
    snprintf(stream_hex, sizeof stream_hex, "%s420000%s%s", m1, m2, m3);
    uint8_t stream[300];
    size_t len = tu_hex(stream_hex, stream, sizeof stream);

    for (size_t cut = 0; cut <= len; cut++) {
        /* Each round on a fresh object with the same ids. */
        rig *s = rig_new();
        uint8_t fixed[2][16];
        memcpy(fixed[0], a1.b, 16);
        memcpy(fixed[1], a2.b, 16);
        s->fixed = (const uint8_t(*)[16])fixed;
        s->n_fixed = 2;
        open_conn(s);
        (void)start_assoc(s, 1);
        (void)start_assoc(s, 2);
        if (cut < len) {
            assert_int_equal(perc_tunnel_md_recv(s->md, stream, cut), PERC_OK);
            assert_int_equal(perc_tunnel_md_recv(s->md, stream + cut, len - cut), PERC_OK);
        } else {
            for (size_t i = 0; i < len; i++)
                assert_int_equal(perc_tunnel_md_recv(s->md, stream + i, 1), PERC_OK);
        }
        assert_int_equal(s->n, 4);
        assert_int_equal(s->ev[0].type, PERC_TUNNEL_MD_DTLS_TO_ENDPOINT);
        assert_int_equal(s->ev[0].dtls_len, 3);
        assert_int_equal(s->ev[1].type, PERC_TUNNEL_MD_DROPPED);
        assert_int_equal(s->ev[2].type, PERC_TUNNEL_MD_INSTALL_KEYS);
        assert_int_equal(s->ev[2].handle, 2);
        assert_int_equal(s->ev[2].keys.client_write_key[0], 0x10);
        assert_int_equal(s->ev[3].type, PERC_TUNNEL_MD_KD_DISCONNECT);
        assert_int_equal(s->ev[3].handle, 1);
        rig_free(s);
    }
    rig_free(r);
}

/* A connection that ends inside a message leaves nothing behind. */
static void test_connection_down_drops_partial(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 1);
    char hex[128];
    hexcat(hex, sizeof hex, "040015", &a1, "0003010203");
    uint8_t msg[64];
    size_t n = tu_hex(hex, msg, sizeof msg);
    assert_int_equal(perc_tunnel_md_recv(r->md, msg, 10), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, 4, NULL), PERC_OK);
    assert_int_equal(perc_tunnel_md_connection_down(r->md), PERC_OK);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);
    assert_int_equal(perc_tunnel_md_reset_connection(r->md), PERC_OK);
    expect_output(r, "0100070000040009000a");
    assert_int_equal(perc_tunnel_md_recv(r->md, msg, n), PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].dtls_len, 3);
    rig_free(r);
}

static void test_limits_and_random(void **state)
{
    (void)state;
    rig r0;
    memset(&r0, 0, sizeof r0);
    perc_tunnel_md_config cfg = base_config(&r0);
    cfg.max_associations = 2;
    rig *r = rig_new_cfg(&cfg);
    open_conn(r);
    (void)start_assoc(r, 1);
    (void)start_assoc(r, 2);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 3, DTLS_CH, sizeof DTLS_CH, NULL),
                     PERC_ERR_LIMIT);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 2, DTLS_CH, sizeof DTLS_CH, NULL), PERC_OK);
    assert_int_equal(perc_tunnel_md_endpoint_gone(r->md, 1), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 3, DTLS_CH, sizeof DTLS_CH, NULL), PERC_OK);
    rig_free(r);

    r = rig_new();
    open_conn(r);
    r->random_fails = true;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, sizeof DTLS_CH, NULL),
                     PERC_ERR_RANDOM);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 0);
    assert_int_equal(perc_tunnel_md_pending_len(r->md), 0);
    /* A source that repeats itself cannot give a second distinct id. */
    r->random_fails = false;
    r->random_constant = true;
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 1, DTLS_CH, sizeof DTLS_CH, NULL), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(r->md, 2, DTLS_CH, sizeof DTLS_CH, NULL),
                     PERC_ERR_RANDOM);
    assert_int_equal(perc_tunnel_md_association_count(r->md), 1);
    rig_free(r);
}

/* Callbacks may send but not re-enter recv or reset the connection. */
static void test_callback_reentry(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_conn(r);
    perc_uuid a1 = start_assoc(r, 1);
    r->probe = true;
    char hex[128];
    hexcat(hex, sizeof hex, "040013", &a1, "000101");
    feed_hex(r, hex, PERC_OK);
    assert_int_equal(r->probe_recv_rc, PERC_ERR_STATE);
    assert_int_equal(r->probe_reset_rc, PERC_ERR_STATE);
    assert_int_equal(r->probe_down_rc, PERC_ERR_STATE);
    assert_int_equal(r->probe_gone_rc, PERC_OK);
    assert_int_equal(perc_tunnel_md_get_state(r->md), PERC_TUNNEL_MD_OPEN);
    hexcat(hex, sizeof hex, "050010", &a1, "");
    expect_output(r, hex);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported_profiles_first),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_association_ids),
        cmocka_unit_test(test_dtls_to_endpoint),
        cmocka_unit_test(test_unknown_association),
        cmocka_unit_test(test_media_keys),
        cmocka_unit_test(test_kd_disconnect),
        cmocka_unit_test(test_endpoint_gone),
        cmocka_unit_test(test_owed_while_queue_full),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_garbage_fails_connection),
        cmocka_unit_test(test_split_reads),
        cmocka_unit_test(test_connection_down_drops_partial),
        cmocka_unit_test(test_limits_and_random),
        cmocka_unit_test(test_callback_reentry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
