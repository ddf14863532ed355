/* The Key Distributor's side of one RFC 9185 tunnel connection
 * (perc/tunnel_kd.h). */
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
#include "perc/tunnel_kd.h"
#include "test_util.h"
#include "vectors.h"

#define MAX_EVENTS 64

typedef struct rec_event {
    perc_tunnel_kd_event_type type;
    perc_uuid id;
    uint8_t dtls[64];
    size_t dtls_len;
    bool known;
    uint8_t msg_type;
    int error;
} rec_event;

typedef struct rig {
    perc_tunnel_kd *kd;
    rec_event ev[MAX_EVENTS];
    size_t n;
    bool refuse_new;            /* disconnect every new association */
    bool probe;                 /* try re-entering from the DTLS event */
    int probe_recv_rc, probe_send_rc;
} rig;

static void on_event(void *user, const perc_tunnel_kd_event *ev)
{
    rig *r = user;
    assert_true(r->n < MAX_EVENTS);
    rec_event *e = &r->ev[r->n++];
    memset(e, 0, sizeof *e);
    e->type = ev->type;
    e->id = ev->association_id;
    e->known = ev->known;
    e->msg_type = ev->msg_type;
    e->error = ev->error;
    if (ev->type == PERC_TUNNEL_KD_DTLS) {
        assert_true(ev->dtls.len <= sizeof e->dtls);
        memcpy(e->dtls, ev->dtls.ptr, ev->dtls.len);
        e->dtls_len = ev->dtls.len;
        if (r->probe) {
            uint8_t b[1] = {0};
            r->probe_recv_rc = perc_tunnel_kd_recv(r->kd, b, 1, 0);
            r->probe_send_rc = perc_tunnel_kd_send_dtls(r->kd, &ev->association_id, b, 1);
        }
    } else {
        assert_int_equal(ev->dtls.len, 0);
    }
    if (ev->type == PERC_TUNNEL_KD_NEW_ASSOCIATION && r->refuse_new)
        assert_int_equal(perc_tunnel_kd_disconnect(r->kd, &ev->association_id), PERC_OK);
}

static rig *rig_new_max(size_t max_assoc)
{
    rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    perc_tunnel_kd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_event = on_event;
    cfg.event_user = r;
    cfg.max_associations = max_assoc;
    assert_int_equal(perc_tunnel_kd_new(&cfg, 1000, &r->kd), PERC_OK);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_AWAIT_PROFILES);
    return r;
}

static rig *rig_new(void) { return rig_new_max(0); }

static void rig_free(rig *r)
{
    perc_tunnel_kd_free(r->kd);
    free(r);
}

static int feed_hex_at(rig *r, const char *hex, uint64_t now)
{
    uint8_t buf[1024];
    size_t n = tu_hex(hex, buf, sizeof buf);
    return perc_tunnel_kd_recv(r->kd, buf, n, now);
}

static int feed_hex(rig *r, const char *hex) { return feed_hex_at(r, hex, 2000); }

static size_t pull_all(rig *r, uint8_t *buf, size_t cap)
{
    size_t total = 0;
    for (;;) {
        size_t n;
        assert_int_equal(perc_tunnel_kd_pending_send(r->kd, buf + total, cap - total, &n),
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
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), n);
    assert_int_equal(pull_all(r, got, sizeof got), n);
    assert_memory_equal(got, want, n);
}

static void uuid_hex(char out[33], const perc_uuid *u)
{
    static const char D[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = D[u->b[i] >> 4];
        out[2 * i + 1] = D[u->b[i] & 15];
    }
    out[32] = '\0';
}

static perc_uuid uuid_n(uint8_t n)
{
    perc_uuid u;
    uint8_t r[16];
    memset(r, n, sizeof r);
    perc_uuid_v4_from_random(&u, r);
    return u;
}

/* "TunneledDtls(u, 01 02 03)" as hex. */
static void dtls_msg(char *out, size_t cap, const perc_uuid *u)
{
    char uh[33];
    uuid_hex(uh, u);
    snprintf(out, cap, "040015%s0003010203", uh);
}

static void disconnect_msg(char *out, size_t cap, const perc_uuid *u)
{
    char uh[33];
    uuid_hex(uh, u);
    snprintf(out, cap, "050010%s", uh);
}

static const char *PROFILES_HEX = "0100070000040009000a";

static void open_session(rig *r)
{
    assert_int_equal(feed_hex(r, PROFILES_HEX), PERC_OK);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_PROFILES);
    r->n = 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_profiles_first(void **state)
{
    (void)state;
    rig *r = rig_new();
    assert_int_equal(perc_tunnel_kd_profile_count(r->kd), 0);
    assert_false(perc_tunnel_kd_offers_profile(r->kd, 0x0009));
    perc_uuid u = uuid_n(1);
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &u, (const uint8_t *)"x", 1),
                     PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_kd_adopt(r->kd, &u), PERC_ERR_STATE);

    tv_file f;
    assert_int_equal(tv_load("tunnel-examples.txt", &f), 0);
    const tv_field *wire =
        tv_get(tv_find(&f, "supported_profiles_double128_double256"), "tunnel_message");
    assert_non_null(wire);
    assert_int_equal(perc_tunnel_kd_recv(r->kd, wire->data, wire->len, 5000), PERC_OK);
    tv_free(&f);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_PROFILES);
    assert_int_equal(perc_tunnel_kd_profile_count(r->kd), 2);
    assert_int_equal(perc_tunnel_kd_profile_at(r->kd, 0), PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(perc_tunnel_kd_profile_at(r->kd, 1), PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(perc_tunnel_kd_profile_at(r->kd, 2), 0);
    assert_true(perc_tunnel_kd_offers_profile(r->kd, 0x000A));
    assert_false(perc_tunnel_kd_offers_profile(r->kd, 0x0007));
    /* The KD answers nothing to SupportedProfiles. */
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
    assert_int_equal(perc_tunnel_kd_last_activity(r->kd), 5000);

    /* The same list again is harmless; another list is not (§5.3). */
    assert_int_equal(feed_hex(r, PROFILES_HEX), PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(feed_hex(r, "01000500000200 09"), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_FAILED);
    rig_free(r);
}

/* Anything but SupportedProfiles first fails the connection. */
static void test_other_first_message(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
    } CASES[] = {
        {"040015000102030405460708890a0b0c0d0e0f0003010203", PERC_ERR_UNSUPPORTED},
        {"050010000102030405460708890a0b0c0d0e0f", PERC_ERR_UNSUPPORTED},
        {"02000100", PERC_ERR_UNSUPPORTED},
        {"420000", PERC_ERR_UNSUPPORTED},     /* even an unknown type */
        {"010000", PERC_ERR_TRUNCATED},       /* SupportedProfiles without a body */
        {"01000400000200", PERC_ERR_TRUNCATED},
        {"010007000002000900ff", PERC_ERR_TRAILING},
        {"010003000000", PERC_ERR_MALFORMED}, /* empty list */
        {"01000400000100", PERC_ERR_MALFORMED},  /* list shorter than one profile */
        {"0100050000030009", PERC_ERR_TRUNCATED},
        {"010006000003000900", PERC_ERR_MALFORMED}, /* odd list length */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        rig *r = rig_new();
        assert_int_equal(feed_hex(r, CASES[i].hex), CASES[i].rc);
        assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_FAILED);
        assert_int_equal(perc_tunnel_kd_failure(r->kd), CASES[i].rc);
        assert_int_equal(r->n, 0);
        assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
        /* Sticky: later bytes change nothing. */
        assert_int_equal(feed_hex(r, PROFILES_HEX), CASES[i].rc);
        assert_int_equal(r->n, 0);
        rig_free(r);
    }
}

/* Every truncation of a valid first message waits for more; nothing fails. */
static void test_truncations_wait(void **state)
{
    (void)state;
    uint8_t msg[16];
    size_t len = tu_hex(PROFILES_HEX, msg, sizeof msg);
    for (size_t cut = 0; cut < len; cut++) {
        rig *r = rig_new();
        assert_int_equal(perc_tunnel_kd_recv(r->kd, msg, cut, 1), PERC_OK);
        assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_AWAIT_PROFILES);
        assert_int_equal(perc_tunnel_kd_recv(r->kd, msg + cut, len - cut, 2), PERC_OK);
        assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);
        rig_free(r);
    }
}

/* RFC 9185 §5.5: another version => UnsupportedVersion(0), then close. */
static void test_version_mismatch(void **state)
{
    (void)state;
    static const char *const NEWER[] = {
        "0100070100040009000a", /* version 1, same layout */
        "010001ff",             /* version 255, a body we cannot read */
        "0100030200ab",         /* version 2, whatever follows */
    };
    for (size_t i = 0; i < 3; i++) {
        rig *r = rig_new();
        assert_int_equal(feed_hex(r, NEWER[i]), PERC_ERR_BAD_VERSION);
        assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_FAILED);
        expect_output(r, "02000100");
        assert_int_equal(r->n, 0);
        /* Nothing more is said, whatever comes. */
        assert_int_equal(feed_hex(r, NEWER[i]), PERC_ERR_BAD_VERSION);
        assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
        rig_free(r);
    }
    /* A version change later in an open session is a violation, not a
     * negotiation. */
    rig *r = rig_new();
    open_session(r);
    assert_int_equal(feed_hex(r, "0100070100040009000a"), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
    rig_free(r);
}

static void test_dtls_in(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_session(r);
    perc_uuid a = uuid_n(1), b = uuid_n(2);
    char m[128], both[256];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_true(perc_uuid_equal(&r->ev[0].id, &a));
    assert_int_equal(r->ev[1].type, PERC_TUNNEL_KD_DTLS);
    assert_true(perc_uuid_equal(&r->ev[1].id, &a));
    assert_int_equal(r->ev[1].dtls_len, 3);
    assert_memory_equal(r->ev[1].dtls, "\x01\x02\x03", 3);
    assert_true(perc_tunnel_kd_knows(r->kd, &a));
    /* Known now: no second "new" event. Another id in the same read. */
    char mb[128];
    dtls_msg(mb, sizeof mb, &b);
    snprintf(both, sizeof both, "%s%s", m, mb);
    assert_int_equal(feed_hex(r, both), PERC_OK);
    assert_int_equal(r->n, 5);
    assert_int_equal(r->ev[2].type, PERC_TUNNEL_KD_DTLS);
    assert_int_equal(r->ev[3].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_true(perc_uuid_equal(&r->ev[3].id, &b));
    assert_int_equal(r->ev[4].type, PERC_TUNNEL_KD_DTLS);
    assert_int_equal(perc_tunnel_kd_association_count(r->kd), 2);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);

    /* Ids are names: a non-v4 id is taken as it comes. */
    perc_uuid odd;
    memset(odd.b, 0xee, 16);
    dtls_msg(m, sizeof m, &odd);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_true(perc_tunnel_kd_knows(r->kd, &odd));
    rig_free(r);
}

static void test_send_dtls(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_session(r);
    perc_uuid a = uuid_n(1), stranger = uuid_n(9);
    char m[128];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    static const uint8_t HELLO[] = {0x16, 0xfe, 0xfd, 0x00, 0x01};
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, HELLO, sizeof HELLO), PERC_OK);
    char uh[33], want[128];
    uuid_hex(uh, &a);
    snprintf(want, sizeof want, "040017%s000516fefd0001", uh);
    expect_output(r, want);
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &stranger, HELLO, sizeof HELLO),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, HELLO, 0), PERC_ERR_INVALID_ARG);
    uint8_t *big = calloc(1, PERC_TUNNEL_MAX_DTLS + 1);
    assert_non_null(big);
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, big, PERC_TUNNEL_MAX_DTLS + 1),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, big, PERC_TUNNEL_MAX_DTLS), PERC_OK);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), PERC_TUNNEL_MAX_MSG);
    /* The queue is bounded (1 MiB by default). */
    int rc;
    size_t sent = 1;
    while ((rc = perc_tunnel_kd_send_dtls(r->kd, &a, big, PERC_TUNNEL_MAX_DTLS)) == PERC_OK)
        sent++;
    assert_int_equal(rc, PERC_ERR_LIMIT);
    assert_int_equal(sent, (1024 * 1024) / PERC_TUNNEL_MAX_MSG);
    free(big);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), sent * PERC_TUNNEL_MAX_MSG);

    /* Adopting makes an id usable without a datagram. */
    assert_int_equal(perc_tunnel_kd_adopt(r->kd, &stranger), PERC_OK);
    assert_int_equal(perc_tunnel_kd_adopt(r->kd, &stranger), PERC_OK);
    assert_true(perc_tunnel_kd_knows(r->kd, &stranger));
    assert_int_equal(perc_tunnel_kd_association_count(r->kd), 2);
    rig_free(r);
}

/* MediaKeys: byte-exact against the derived vector; checked before sending. */
static void test_send_media_keys(void **state)
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

    rig *r = rig_new();
    open_session(r);
    perc_tunnel_media_keys mk;
    memset(&mk, 0, sizeof mk);
    memcpy(mk.association_id.b, aid->data, 16);
    mk.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
    /* The outer (second) halves only. */
    mk.client_key = perc_view_of(cw_key->data + 16, 16);
    mk.server_key = perc_view_of(sw_key->data + 16, 16);
    mk.client_salt = perc_view_of(cw_salt->data + 12, 12);
    mk.server_salt = perc_view_of(sw_salt->data + 12, 12);

    /* Not known on this connection yet. */
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &mk), PERC_ERR_NOT_FOUND);
    char m[128];
    dtls_msg(m, sizeof m, &mk.association_id);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &mk), PERC_OK);
    uint8_t got[256];
    assert_int_equal(pull_all(r, got, sizeof got), wire->len);
    assert_memory_equal(got, wire->data, wire->len);

    /* Whole (not halved) keys or salts: refused, nothing queued. */
    perc_tunnel_media_keys bad = mk;
    bad.client_key = perc_view_of(cw_key->data, 32);
    bad.server_key = perc_view_of(sw_key->data, 32);
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_KEY_LENGTH);
    bad = mk;
    bad.client_salt = perc_view_of(cw_salt->data, 24);
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_KEY_LENGTH);
    bad = mk;
    bad.profile = PERC_PROFILE_DOUBLE_AES_256_GCM; /* 16-octet keys are wrong for it */
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_KEY_LENGTH);
    /* A profile the MD did not offer, with lengths right for it. */
    bad = mk;
    bad.profile = PERC_PROFILE_AEAD_AES_128_GCM;
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_UNSUPPORTED);
    bad = mk;
    bad.profile = 0x0001;
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_UNSUPPORTED);
    static const uint8_t MKI[1] = {0xee};
    bad = mk;
    bad.mki = perc_view_of(MKI, 1);
    assert_int_equal(perc_tunnel_kd_send_media_keys(r->kd, &bad), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
    tv_free(&f);
    rig_free(r);
}

/* EndpointDisconnect both ways. */
static void test_disconnect(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_session(r);
    perc_uuid a = uuid_n(1), b = uuid_n(2), stranger = uuid_n(3);
    char m[128];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    dtls_msg(m, sizeof m, &b);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    r->n = 0;

    /* We end a: EndpointDisconnect, and a is forgotten. */
    assert_int_equal(perc_tunnel_kd_disconnect(r->kd, &a), PERC_OK);
    disconnect_msg(m, sizeof m, &a);
    expect_output(r, m);
    assert_false(perc_tunnel_kd_knows(r->kd, &a));
    assert_int_equal(perc_tunnel_kd_disconnect(r->kd, &a), PERC_ERR_NOT_FOUND);
    static const uint8_t X[1] = {1};
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, X, 1), PERC_ERR_NOT_FOUND);

    /* The MD says b is gone. */
    disconnect_msg(m, sizeof m, &b);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_MD_DISCONNECT);
    assert_true(perc_uuid_equal(&r->ev[0].id, &b));
    assert_true(r->ev[0].known);
    assert_false(perc_tunnel_kd_knows(r->kd, &b));
    /* ... and about one this connection never saw (e.g. owed from an older
     * connection): still reported, marked unknown. */
    disconnect_msg(m, sizeof m, &stranger);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[1].type, PERC_TUNNEL_KD_MD_DISCONNECT);
    assert_false(r->ev[1].known);
    assert_int_equal(perc_tunnel_kd_association_count(r->kd), 0);
    assert_int_equal(perc_tunnel_kd_pending_len(r->kd), 0);
    rig_free(r);
}

/* A misbehaving MD cannot make the KD hold more than max_associations. */
static void test_association_limit(void **state)
{
    (void)state;
    rig *r = rig_new_max(3);
    open_session(r);
    char m[128];
    for (uint8_t i = 1; i <= 3; i++) {
        perc_uuid u = uuid_n(i);
        dtls_msg(m, sizeof m, &u);
        assert_int_equal(feed_hex(r, m), PERC_OK);
    }
    assert_int_equal(r->n, 6);
    perc_uuid fourth = uuid_n(4);
    dtls_msg(m, sizeof m, &fourth);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->n, 7);
    assert_int_equal(r->ev[6].type, PERC_TUNNEL_KD_DROPPED);
    assert_int_equal(r->ev[6].error, PERC_ERR_LIMIT);
    assert_int_equal(r->ev[6].msg_type, PERC_TUNNEL_TUNNELED_DTLS);
    assert_true(perc_uuid_equal(&r->ev[6].id, &fourth));
    assert_false(perc_tunnel_kd_knows(r->kd, &fourth));
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);
    assert_int_equal(perc_tunnel_kd_adopt(r->kd, &fourth), PERC_ERR_LIMIT);
    /* Known ones still flow. */
    perc_uuid one = uuid_n(1);
    dtls_msg(m, sizeof m, &one);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->ev[7].type, PERC_TUNNEL_KD_DTLS);
    /* Room again after one ends. */
    disconnect_msg(m, sizeof m, &one);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    dtls_msg(m, sizeof m, &fourth);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->ev[9].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_int_equal(perc_tunnel_kd_association_count(r->kd), 3);
    rig_free(r);

    /* The default bound. */
    r = rig_new();
    open_session(r);
    for (unsigned i = 0; i < PERC_TUNNEL_KD_DEFAULT_MAX_ASSOCIATIONS + 5; i++) {
        perc_uuid u;
        memset(u.b, 0, 16);
        perc_store_u32(u.b, i);
        dtls_msg(m, sizeof m, &u);
        assert_int_equal(feed_hex(r, m), PERC_OK);
        r->n = 0;
    }
    assert_int_equal(perc_tunnel_kd_association_count(r->kd),
                     PERC_TUNNEL_KD_DEFAULT_MAX_ASSOCIATIONS);
    rig_free(r);
}

/* Refusing an association from its NEW_ASSOCIATION event. */
static void test_refuse_new(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_session(r);
    r->refuse_new = true;
    perc_uuid a = uuid_n(1);
    char m[128];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->n, 1);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_NEW_ASSOCIATION);
    assert_false(perc_tunnel_kd_knows(r->kd, &a));
    disconnect_msg(m, sizeof m, &a);
    expect_output(r, m);
    rig_free(r);
}

/* Messages only a KD sends are violations when they come from the MD;
 * unknown types are skipped. */
static void test_violations_and_unknown(void **state)
{
    (void)state;
    static const char *const BAD[] = {
        "02000100",
        "03004f9f3c2b1a7d4e4c5b8a690e1f2d3c4b5a00090010101112131415161718191a1b1c1d1e1f1030313233"
        "3435363738393a3b3c3d3e3f0c4c4d4e4f50515253545556570c6465666768696a6b6c6d6e6f",
    };
    for (size_t i = 0; i < 2; i++) {
        rig *r = rig_new();
        open_session(r);
        assert_int_equal(feed_hex(r, BAD[i]), PERC_ERR_UNSUPPORTED);
        assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_FAILED);
        perc_uuid u = uuid_n(1);
        assert_int_equal(perc_tunnel_kd_adopt(r->kd, &u), PERC_ERR_STATE);
        rig_free(r);
    }
    rig *r = rig_new();
    open_session(r);
    assert_int_equal(feed_hex(r, "ff0002abcd" "00000100"), PERC_OK);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->ev[0].type, PERC_TUNNEL_KD_DROPPED);
    assert_int_equal(r->ev[0].msg_type, 0xff);
    assert_int_equal(r->ev[0].error, PERC_ERR_UNSUPPORTED);
    assert_int_equal(r->ev[1].msg_type, 0x00); /* reserved type 0 too */
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);

    /* Malformed known types fail; what was queued can still be pulled. */
    perc_uuid a = uuid_n(1);
    char m[128];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(perc_tunnel_kd_disconnect(r->kd, &a), PERC_OK);
    assert_int_equal(feed_hex(r, "0400020000"), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_FAILED);
    disconnect_msg(m, sizeof m, &a);
    expect_output(r, m);
    static const uint8_t X[1] = {1};
    assert_int_equal(perc_tunnel_kd_send_dtls(r->kd, &a, X, 1), PERC_ERR_STATE);
    assert_int_equal(perc_tunnel_kd_disconnect(r->kd, &a), PERC_ERR_STATE);
    rig_free(r);
}

/* Messages split anywhere across reads. */
static void test_split_reads(void **state)
{
    (void)state;
    perc_uuid a = uuid_n(1);
    char m1[128], m2[128], all[512];
    dtls_msg(m1, sizeof m1, &a);
    disconnect_msg(m2, sizeof m2, &a);
    snprintf(all, sizeof all, "%s%s420001ff%s%s", PROFILES_HEX, m1, m1, m2);
    uint8_t stream[256];
    size_t len = tu_hex(all, stream, sizeof stream);
    for (size_t cut = 0; cut <= len; cut++) {
        rig *r = rig_new();
        if (cut < len) {
            assert_int_equal(perc_tunnel_kd_recv(r->kd, stream, cut, 1), PERC_OK);
            assert_int_equal(perc_tunnel_kd_recv(r->kd, stream + cut, len - cut, 2), PERC_OK);
        } else {
            for (size_t i = 0; i < len; i++)
                assert_int_equal(perc_tunnel_kd_recv(r->kd, stream + i, 1, i), PERC_OK);
        }
        static const perc_tunnel_kd_event_type WANT[] = {
            PERC_TUNNEL_KD_PROFILES, PERC_TUNNEL_KD_NEW_ASSOCIATION, PERC_TUNNEL_KD_DTLS,
            PERC_TUNNEL_KD_DROPPED,  PERC_TUNNEL_KD_DTLS,            PERC_TUNNEL_KD_MD_DISCONNECT,
        };
        assert_int_equal(r->n, 6);
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(r->ev[i].type, WANT[i]);
        assert_memory_equal(r->ev[4].dtls, "\x01\x02\x03", 3);
        rig_free(r);
    }
}

static void test_last_activity(void **state)
{
    (void)state;
    rig *r = rig_new();
    assert_int_equal(perc_tunnel_kd_last_activity(r->kd), 1000);
    assert_int_equal(perc_tunnel_kd_recv(r->kd, NULL, 0, 5000), PERC_OK);
    assert_int_equal(perc_tunnel_kd_last_activity(r->kd), 1000);
    uint8_t half[2] = {0x01, 0x00};
    assert_int_equal(perc_tunnel_kd_recv(r->kd, half, 2, 7000), PERC_OK);
    assert_int_equal(perc_tunnel_kd_last_activity(r->kd), 7000);
    assert_int_equal(feed_hex_at(r, "070000040009000a", 9000), PERC_OK);
    assert_int_equal(perc_tunnel_kd_last_activity(r->kd), 9000);
    assert_int_equal(perc_tunnel_kd_get_state(r->kd), PERC_TUNNEL_KD_OPEN);
    rig_free(r);
}

static void test_reentry_and_args(void **state)
{
    (void)state;
    rig *r = rig_new();
    open_session(r);
    r->probe = true;
    perc_uuid a = uuid_n(1);
    char m[128];
    dtls_msg(m, sizeof m, &a);
    assert_int_equal(feed_hex(r, m), PERC_OK);
    assert_int_equal(r->probe_recv_rc, PERC_ERR_STATE);
    assert_int_equal(r->probe_send_rc, PERC_OK);
    char uh[33], want[128];
    uuid_hex(uh, &a);
    snprintf(want, sizeof want, "040013%s000100", uh);
    expect_output(r, want);
    assert_int_equal(perc_tunnel_kd_recv(r->kd, NULL, 1, 0), PERC_ERR_INVALID_ARG);
    rig_free(r);

    perc_tunnel_kd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    perc_tunnel_kd *kd = NULL;
    assert_int_equal(perc_tunnel_kd_new(&cfg, 0, &kd), PERC_ERR_INVALID_ARG);
    assert_null(kd);
    perc_tunnel_kd_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles_first),
        cmocka_unit_test(test_other_first_message),
        cmocka_unit_test(test_truncations_wait),
        cmocka_unit_test(test_version_mismatch),
        cmocka_unit_test(test_dtls_in),
        cmocka_unit_test(test_send_dtls),
        cmocka_unit_test(test_send_media_keys),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_association_limit),
        cmocka_unit_test(test_refuse_new),
        cmocka_unit_test(test_violations_and_unknown),
        cmocka_unit_test(test_split_reads),
        cmocka_unit_test(test_last_activity),
        cmocka_unit_test(test_reentry_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
