/* RFC 9185 tunnel messages and association UUIDs (perc/tunnel.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/profile.h"
#include "perc/tunnel.h"
#include "test_util.h"
#include "vectors.h"

/* Fixed key material for generated messages. */
static const uint8_t KEY_A[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t KEY_B[16] = {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
                                  0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f};
static const uint8_t SALT_A[12] = {0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51,
                                   0x52, 0x53, 0x54, 0x55, 0x56, 0x57};
static const uint8_t SALT_B[12] = {0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
                                   0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
static const uint8_t PROFILES_RAW[4] = {0x00, 0x09, 0x00, 0x0a};
static const uint8_t DTLS_RECORD[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb};

static perc_uuid test_uuid(void)
{
    perc_uuid u;
    tu_hex("9f3c2b1a7d4e4c5b8a690e1f2d3c4b5a", u.b, sizeof u.b);
    return u;
}

/* One valid message of each type, built as a caller would. */
static perc_tunnel_msg sample(uint8_t type)
{
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    switch (type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES:
        m.supported_profiles.version = PERC_TUNNEL_VERSION;
        m.supported_profiles.profiles = perc_view_of(PROFILES_RAW, sizeof PROFILES_RAW);
        break;
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        m.unsupported_version.highest_version = 0x07;
        break;
    case PERC_TUNNEL_MEDIA_KEYS:
        m.media_keys.association_id = test_uuid();
        m.media_keys.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
        m.media_keys.client_key = perc_view_of(KEY_A, sizeof KEY_A);
        m.media_keys.server_key = perc_view_of(KEY_B, sizeof KEY_B);
        m.media_keys.client_salt = perc_view_of(SALT_A, sizeof SALT_A);
        m.media_keys.server_salt = perc_view_of(SALT_B, sizeof SALT_B);
        break;
    case PERC_TUNNEL_TUNNELED_DTLS:
        m.tunneled_dtls.association_id = test_uuid();
        m.tunneled_dtls.dtls = perc_view_of(DTLS_RECORD, sizeof DTLS_RECORD);
        break;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        m.endpoint_disconnect.association_id = test_uuid();
        break;
    default:
        fail();
    }
    return m;
}

static size_t encode(const perc_tunnel_msg *m, uint8_t *buf, size_t cap)
{
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    assert_int_equal(perc_tunnel_encode(&w, m), PERC_OK);
    size_t n;
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    return n;
}

static void assert_view_equal(perc_view a, perc_view b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.ptr, b.ptr, a.len);
}

/* Field-by-field equality of two messages of a known type. */
static void assert_msg_equal(const perc_tunnel_msg *a, const perc_tunnel_msg *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES:
        assert_int_equal(a->supported_profiles.version, b->supported_profiles.version);
        assert_view_equal(a->supported_profiles.profiles, b->supported_profiles.profiles);
        break;
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        assert_int_equal(a->unsupported_version.highest_version,
                         b->unsupported_version.highest_version);
        break;
    case PERC_TUNNEL_MEDIA_KEYS:
        assert_true(perc_uuid_equal(&a->media_keys.association_id, &b->media_keys.association_id));
        assert_int_equal(a->media_keys.profile, b->media_keys.profile);
        assert_view_equal(a->media_keys.mki, b->media_keys.mki);
        assert_view_equal(a->media_keys.client_key, b->media_keys.client_key);
        assert_view_equal(a->media_keys.server_key, b->media_keys.server_key);
        assert_view_equal(a->media_keys.client_salt, b->media_keys.client_salt);
        assert_view_equal(a->media_keys.server_salt, b->media_keys.server_salt);
        break;
    case PERC_TUNNEL_TUNNELED_DTLS:
        assert_true(
            perc_uuid_equal(&a->tunneled_dtls.association_id, &b->tunneled_dtls.association_id));
        assert_view_equal(a->tunneled_dtls.dtls, b->tunneled_dtls.dtls);
        break;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        assert_true(perc_uuid_equal(&a->endpoint_disconnect.association_id,
                                    &b->endpoint_disconnect.association_id));
        break;
    default:
        fail();
    }
}

/* RFC 9185 §7 example, both directions. */
static void test_supported_profiles_example(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("tunnel-examples.txt", &f), 0);
    const tv_block *b = tv_find(&f, "supported_profiles_double128_double256");
    assert_non_null(b);
    const tv_field *wire = tv_get(b, "tunnel_message");
    assert_non_null(wire);

    perc_tunnel_msg m;
    assert_int_equal(perc_tunnel_decode(wire->data, wire->len, &m), PERC_OK);
    assert_int_equal(m.type, PERC_TUNNEL_SUPPORTED_PROFILES);
    assert_int_equal(m.supported_profiles.version, 0);
    assert_int_equal(perc_tunnel_profile_count(&m.supported_profiles), 2);
    assert_int_equal(perc_tunnel_profile_at(&m.supported_profiles, 0), 0x0009);
    assert_int_equal(perc_tunnel_profile_at(&m.supported_profiles, 1), 0x000A);
    assert_true(perc_tunnel_profiles_contain(&m.supported_profiles, 0x000A));
    assert_false(perc_tunnel_profiles_contain(&m.supported_profiles, 0x0007));
    assert_int_equal(m.body.len, 7);

    /* From the struct and from a plain list. */
    uint8_t out[32];
    perc_tunnel_msg s = sample(PERC_TUNNEL_SUPPORTED_PROFILES);
    size_t n = encode(&s, out, sizeof out);
    assert_int_equal(n, wire->len);
    assert_memory_equal(out, wire->data, n);

    const uint16_t ids[] = {PERC_PROFILE_DOUBLE_AES_128_GCM, PERC_PROFILE_DOUBLE_AES_256_GCM};
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, PERC_TUNNEL_VERSION, ids, 2), PERC_OK);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    assert_int_equal(n, wire->len);
    assert_memory_equal(out, wire->data, n);
    tv_free(&f);
}

/* The derived MediaKeys (outer halves of a DOUBLE 128 split) and
 * EndpointDisconnect messages, both directions. */
static void test_derived_media_keys_and_disconnect(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "double128_keying_material_split_and_media_keys");
    assert_non_null(b);
    const tv_field *mk_wire = tv_get(b, "media_keys_message");
    const tv_field *ed_wire = tv_get(b, "endpoint_disconnect_message");
    const tv_field *id = tv_get(b, "association_id");
    const tv_field *c_key = tv_get(b, "client_outer_key");
    const tv_field *c_salt = tv_get(b, "client_outer_salt");
    const tv_field *s_key = tv_get(b, "server_write_master_key");
    const tv_field *s_salt = tv_get(b, "server_write_master_salt");
    assert_true(mk_wire && ed_wire && id && c_key && c_salt && s_key && s_salt);
    assert_int_equal(id->len, PERC_UUID_LEN);
    assert_int_equal(s_key->len, 32);
    assert_int_equal(s_salt->len, 24);

    perc_tunnel_msg want;
    memset(&want, 0, sizeof want);
    want.type = PERC_TUNNEL_MEDIA_KEYS;
    memcpy(want.media_keys.association_id.b, id->data, PERC_UUID_LEN);
    want.media_keys.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
    want.media_keys.client_key = perc_view_of(c_key->data, c_key->len);
    want.media_keys.server_key = perc_view_of(s_key->data + 16, 16);   /* outer half */
    want.media_keys.client_salt = perc_view_of(c_salt->data, c_salt->len);
    want.media_keys.server_salt = perc_view_of(s_salt->data + 12, 12); /* outer half */

    perc_tunnel_msg got;
    assert_int_equal(perc_tunnel_decode(mk_wire->data, mk_wire->len, &got), PERC_OK);
    assert_msg_equal(&got, &want);
    assert_true(perc_uuid_is_v4(&got.media_keys.association_id));
    assert_int_equal(perc_tunnel_media_keys_check(&got.media_keys), PERC_OK);
    assert_true(perc_tunnel_msg_is_secret(got.type));
    /* RFC 9185 §6.4 body for DOUBLE 128 without MKI: 79 octets. */
    assert_int_equal(got.body.len, 79);

    uint8_t out[128];
    size_t n = encode(&want, out, sizeof out);
    assert_int_equal(n, mk_wire->len);
    assert_memory_equal(out, mk_wire->data, n);

    perc_tunnel_msg ed;
    memset(&ed, 0, sizeof ed);
    ed.type = PERC_TUNNEL_ENDPOINT_DISCONNECT;
    memcpy(ed.endpoint_disconnect.association_id.b, id->data, PERC_UUID_LEN);
    n = encode(&ed, out, sizeof out);
    assert_int_equal(n, ed_wire->len);
    assert_memory_equal(out, ed_wire->data, n);
    assert_int_equal(perc_tunnel_decode(ed_wire->data, ed_wire->len, &got), PERC_OK);
    assert_msg_equal(&got, &ed);
    assert_false(perc_tunnel_msg_is_secret(got.type));
    tv_free(&f);
}

/* Every type: encode, decode, compare, re-encode to the same bytes, and the
 * announced length is what was written. */
static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (uint8_t t = 1; t <= 5; t++) {
        perc_tunnel_msg m = sample(t);
        uint8_t a[256], b[256];
        size_t na = encode(&m, a, sizeof a);
        size_t expect;
        assert_int_equal(perc_tunnel_encoded_len(&m, &expect), PERC_OK);
        assert_int_equal(na, expect);
        assert_int_equal(perc_load_u16(a + 1), na - PERC_TUNNEL_HEADER_LEN);

        uint8_t type;
        size_t msg_len;
        assert_int_equal(perc_tunnel_peek(a, na, &type, &msg_len), PERC_OK);
        assert_int_equal(type, t);
        assert_int_equal(msg_len, na);

        perc_tunnel_msg d;
        assert_int_equal(perc_tunnel_decode(a, na, &d), PERC_OK);
        assert_msg_equal(&d, &m);
        assert_ptr_equal(d.body.ptr, a + PERC_TUNNEL_HEADER_LEN);
        size_t nb = encode(&d, b, sizeof b);
        assert_int_equal(nb, na);
        assert_memory_equal(a, b, na);
    }
}

/* RFC 9185 §6.3: the whole message is 02 00 01 vv. */
static void test_unsupported_version_is_four_octets(void **state)
{
    (void)state;
    perc_tunnel_msg m = sample(PERC_TUNNEL_UNSUPPORTED_VERSION);
    uint8_t out[8];
    size_t n = encode(&m, out, sizeof out);
    const uint8_t want[] = {0x02, 0x00, 0x01, 0x07};
    assert_int_equal(n, 4);
    assert_memory_equal(out, want, 4);
}

/* RFC 9185 §5.5: another version's SupportedProfiles is reported with its
 * version and not parsed further, so the answer can be UnsupportedVersion. */
static void test_supported_profiles_other_version(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t n = tu_hex("01 0001 01", buf, sizeof buf);
    perc_tunnel_msg d;
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_BAD_VERSION);
    assert_int_equal(d.type, PERC_TUNNEL_SUPPORTED_PROFILES);
    assert_int_equal(d.supported_profiles.version, 1);
    /* A body in some future format. */
    n = tu_hex("01 0004 07 ffff 00", buf, sizeof buf);
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_BAD_VERSION);
    assert_int_equal(d.supported_profiles.version, 7);
    /* Version 0 with the same tail is held to this version's format. */
    buf[3] = 0x00;
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_TRUNCATED);
    n = tu_hex("01 0000", buf, sizeof buf);
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_TRUNCATED);

    /* The encoder writes other versions, for playing a newer peer. */
    const uint16_t ids[] = {PERC_PROFILE_DOUBLE_AES_128_GCM};
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, 1, ids, 1), PERC_OK);
    assert_int_equal(perc_writer_finish(&w, &n), PERC_OK);
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_BAD_VERSION);
    assert_int_equal(d.supported_profiles.version, 1);
}

/* Every proper prefix of every message is truncated, never anything else. */
static void test_every_truncation(void **state)
{
    (void)state;
    for (uint8_t t = 1; t <= 5; t++) {
        perc_tunnel_msg m = sample(t);
        uint8_t buf[256];
        size_t n = encode(&m, buf, sizeof buf);
        for (size_t cut = 0; cut < n; cut++) {
            /* A copy of exactly `cut` octets, so ASan sees any overread. */
            uint8_t *p = malloc(cut ? cut : 1);
            assert_non_null(p);
            memcpy(p, buf, cut);
            perc_tunnel_msg d;
            assert_int_equal(perc_tunnel_decode(p, cut, &d), PERC_ERR_TRUNCATED);
            free(p);
        }
    }
}

/* The body cut short with the length field fixed up to match: the fields
 * inside must notice. */
static void test_every_body_truncation(void **state)
{
    (void)state;
    for (uint8_t t = 1; t <= 5; t++) {
        perc_tunnel_msg m = sample(t);
        uint8_t buf[256];
        size_t n = encode(&m, buf, sizeof buf);
        for (size_t body = 0; body < n - PERC_TUNNEL_HEADER_LEN; body++) {
            size_t len = PERC_TUNNEL_HEADER_LEN + body;
            uint8_t *p = malloc(len);
            assert_non_null(p);
            memcpy(p, buf, len);
            perc_store_u16(p + 1, (uint16_t)body);
            perc_tunnel_msg d;
            assert_int_equal(perc_tunnel_decode(p, len, &d), PERC_ERR_TRUNCATED);
            /* The frame itself was whole, so type and body are reported. */
            assert_int_equal(d.type, t);
            assert_int_equal(d.body.len, body);
            free(p);
        }
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    for (uint8_t t = 1; t <= 5; t++) {
        perc_tunnel_msg m = sample(t);
        uint8_t buf[256];
        size_t n = encode(&m, buf, sizeof buf);
        perc_tunnel_msg d;

        /* After the message. */
        buf[n] = 0x00;
        assert_int_equal(perc_tunnel_decode(buf, n + 1, &d), PERC_ERR_TRAILING);

        /* Inside the body, after its last field. */
        buf[n] = 0x5a;
        perc_store_u16(buf + 1, (uint16_t)(n + 1 - PERC_TUNNEL_HEADER_LEN));
        assert_int_equal(perc_tunnel_decode(buf, n + 1, &d), PERC_ERR_TRAILING);
    }
}

/* Decodes hex and expects rc. */
static void expect_decode(const char *hex, int rc)
{
    uint8_t buf[128];
    size_t n = tu_hex(hex, buf, sizeof buf);
    perc_tunnel_msg d;
    assert_int_equal(perc_tunnel_decode(buf, n, &d), rc);
}

#define UUID_HEX "9f3c2b1a7d4e4c5b8a690e1f2d3c4b5a"

/* RFC 9185 §6: lower bounds of 1 (keys, salts, dtls_message) and 2 (the
 * profile list), and whole 2-octet profiles only. */
static void test_vector_lower_bounds(void **state)
{
    (void)state;
    /* SupportedProfiles: empty list, odd lists. */
    expect_decode("01 0003 00 0000", PERC_ERR_MALFORMED);
    expect_decode("01 0004 00 0001 09", PERC_ERR_MALFORMED);
    expect_decode("01 0006 00 0003 0009 0a", PERC_ERR_MALFORMED);
    expect_decode("01 0005 00 0002 0009", PERC_OK);
    /* MediaKeys: each key and salt empty in turn; an empty MKI is fine. */
    expect_decode("03 001b" UUID_HEX "0009 00 01aa 01bb 01cc 01dd", PERC_OK);
    expect_decode("03 001a" UUID_HEX "0009 00 00 01bb 01cc 01dd", PERC_ERR_MALFORMED);
    expect_decode("03 001a" UUID_HEX "0009 00 01aa 00 01cc 01dd", PERC_ERR_MALFORMED);
    expect_decode("03 001a" UUID_HEX "0009 00 01aa 01bb 00 01dd", PERC_ERR_MALFORMED);
    expect_decode("03 001a" UUID_HEX "0009 00 01aa 01bb 01cc 00", PERC_ERR_MALFORMED);
    /* TunneledDtls: empty dtls_message. */
    expect_decode("04 0012" UUID_HEX "0000", PERC_ERR_MALFORMED);
    expect_decode("04 0013" UUID_HEX "0001 16", PERC_OK);

    /* The encoder refuses the same. */
    uint8_t buf[64];
    perc_writer w;
    perc_tunnel_msg m = sample(PERC_TUNNEL_SUPPORTED_PROFILES);
    m.supported_profiles.profiles.len = 0;
    perc_writer_init(&w, buf, sizeof buf);
    assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_INVALID_ARG);
    assert_int_equal(w.pos, 0);
    assert_int_equal(perc_writer_error(&w), PERC_OK);
    m.supported_profiles.profiles.len = 3;
    assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, 0, NULL, 0), PERC_ERR_INVALID_ARG);

    perc_view *fields[4];
    perc_tunnel_msg k = sample(PERC_TUNNEL_MEDIA_KEYS);
    fields[0] = &k.media_keys.client_key;
    fields[1] = &k.media_keys.server_key;
    fields[2] = &k.media_keys.client_salt;
    fields[3] = &k.media_keys.server_salt;
    for (size_t i = 0; i < 4; i++) {
        k = sample(PERC_TUNNEL_MEDIA_KEYS);
        fields[i]->len = 0;
        assert_int_equal(perc_tunnel_encode(&w, &k), PERC_ERR_INVALID_ARG);
        k = sample(PERC_TUNNEL_MEDIA_KEYS);
        fields[i]->len = 256;
        assert_int_equal(perc_tunnel_encode(&w, &k), PERC_ERR_TOO_LARGE);
        k = sample(PERC_TUNNEL_MEDIA_KEYS);
        fields[i]->ptr = NULL;
        assert_int_equal(perc_tunnel_encode(&w, &k), PERC_ERR_INVALID_ARG);
    }
    k = sample(PERC_TUNNEL_MEDIA_KEYS);
    uint8_t mki[256] = {0};
    k.media_keys.mki = perc_view_of(mki, 256);
    assert_int_equal(perc_tunnel_encode(&w, &k), PERC_ERR_TOO_LARGE);

    perc_tunnel_msg d = sample(PERC_TUNNEL_TUNNELED_DTLS);
    d.tunneled_dtls.dtls.len = 0;
    assert_int_equal(perc_tunnel_encode(&w, &d), PERC_ERR_INVALID_ARG);
    assert_int_equal(w.pos, 0);
}

/* A MediaKeys with an MKI goes through the codec; the install check
 * refuses it. */
static void test_media_keys_with_mki(void **state)
{
    (void)state;
    perc_tunnel_msg m = sample(PERC_TUNNEL_MEDIA_KEYS);
    const uint8_t mki[] = {0x01, 0x02, 0x03};
    m.media_keys.mki = perc_view_of(mki, sizeof mki);
    uint8_t buf[128];
    size_t n = encode(&m, buf, sizeof buf);
    perc_tunnel_msg d;
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_OK);
    assert_msg_equal(&d, &m);
    assert_int_equal(perc_tunnel_media_keys_check(&d.media_keys), PERC_ERR_UNSUPPORTED);
}

/* RFC 9185 §6.5: dtls_message can be at most 65517 octets. */
static void test_dtls_message_size_limit(void **state)
{
    (void)state;
    uint8_t *dtls = calloc(1, 65536);
    uint8_t *buf = malloc(PERC_TUNNEL_MAX_MSG + 1);
    assert_true(dtls && buf);
    perc_tunnel_msg m = sample(PERC_TUNNEL_TUNNELED_DTLS);
    m.tunneled_dtls.dtls = perc_view_of(dtls, PERC_TUNNEL_MAX_DTLS);
    size_t n = encode(&m, buf, PERC_TUNNEL_MAX_MSG);
    assert_int_equal(n, PERC_TUNNEL_MAX_MSG);
    assert_int_equal(perc_load_u16(buf + 1), 0xFFFF);
    perc_tunnel_msg d;
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_OK);
    assert_int_equal(d.tunneled_dtls.dtls.len, PERC_TUNNEL_MAX_DTLS);

    /* One more octet is refused before anything is written. */
    m.tunneled_dtls.dtls.len = PERC_TUNNEL_MAX_DTLS + 1;
    perc_writer w;
    perc_writer_init(&w, buf, PERC_TUNNEL_MAX_MSG + 1);
    assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_TOO_LARGE);
    assert_int_equal(w.pos, 0);
    size_t len;
    assert_int_equal(perc_tunnel_encoded_len(&m, &len), PERC_ERR_TOO_LARGE);

    /* On the wire a longer dtls_message cannot fit the 16-bit body: a
     * claimed 65518 runs past the body's end. */
    perc_store_u16(buf + PERC_TUNNEL_HEADER_LEN + PERC_UUID_LEN, PERC_TUNNEL_MAX_DTLS + 1);
    assert_int_equal(perc_tunnel_decode(buf, n, &d), PERC_ERR_TRUNCATED);

    /* A profile list too long for the body is refused too. */
    perc_tunnel_msg sp = sample(PERC_TUNNEL_SUPPORTED_PROFILES);
    sp.supported_profiles.profiles = perc_view_of(dtls, 65534);
    assert_int_equal(perc_tunnel_encoded_len(&sp, &len), PERC_ERR_TOO_LARGE);
    sp.supported_profiles.profiles.len = 65532;
    assert_int_equal(perc_tunnel_encoded_len(&sp, &len), PERC_OK);
    assert_int_equal(len, PERC_TUNNEL_MAX_MSG);
    uint16_t *ids = calloc(32767, sizeof *ids);
    assert_non_null(ids);
    perc_writer_init(&w, buf, PERC_TUNNEL_MAX_MSG + 1);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, 0, ids, 32767), PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, 0, ids, 32766), PERC_OK);
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    assert_int_equal(len, PERC_TUNNEL_MAX_MSG);
    free(ids);
    free(dtls);
    free(buf);
}

/* Every output size short of the message fails with NOSPACE. */
static void test_encode_nospace(void **state)
{
    (void)state;
    for (uint8_t t = 1; t <= 5; t++) {
        perc_tunnel_msg m = sample(t);
        size_t need;
        assert_int_equal(perc_tunnel_encoded_len(&m, &need), PERC_OK);
        uint8_t buf[256];
        for (size_t cap = 0; cap < need; cap++) {
            perc_writer w;
            perc_writer_init(&w, buf, cap);
            assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_NOSPACE);
        }
    }
}

/* RFC 9185 §9: unknown types are reported, with their body, so they can be
 * skipped; type 0 is reserved and just as unknown. The codec does not
 * produce them. */
static void test_unknown_types(void **state)
{
    (void)state;
    uint8_t buf[8] = {0x06, 0x00, 0x02, 0xab, 0xcd};
    perc_tunnel_msg d;
    memset(&d, 0, sizeof d);
    assert_int_equal(perc_tunnel_decode(buf, 5, &d), PERC_ERR_UNSUPPORTED);
    assert_int_equal(d.type, 6);
    assert_ptr_equal(d.body.ptr, buf + 3);
    assert_int_equal(d.body.len, 2);
    /* Truncation still comes first. */
    assert_int_equal(perc_tunnel_decode(buf, 4, &d), PERC_ERR_TRUNCATED);
    buf[0] = 0x00;
    assert_int_equal(perc_tunnel_decode(buf, 5, &d), PERC_ERR_UNSUPPORTED);
    buf[0] = 0xff;
    assert_int_equal(perc_tunnel_decode(buf, 5, &d), PERC_ERR_UNSUPPORTED);

    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = 6;
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_UNSUPPORTED);
    m.type = 0;
    assert_int_equal(perc_tunnel_encode(&w, &m), PERC_ERR_UNSUPPORTED);
    assert_int_equal(w.pos, 0);
}

static void test_peek(void **state)
{
    (void)state;
    const uint8_t hdr[] = {0x04, 0xff, 0xff};
    uint8_t type;
    size_t len;
    assert_int_equal(perc_tunnel_peek(hdr, 3, &type, &len), PERC_OK);
    assert_int_equal(type, 4);
    assert_int_equal(len, PERC_TUNNEL_MAX_MSG);
    for (size_t cut = 0; cut < 3; cut++)
        assert_int_equal(perc_tunnel_peek(hdr, cut, &type, &len), PERC_ERR_TRUNCATED);
}

/* Lengths RFC 8723 §3 / RFC 8871 §6.2 give the hop-by-hop halves. */
static void test_media_keys_check(void **state)
{
    (void)state;
    static const uint8_t k[64] = {0};
    perc_tunnel_media_keys mk;
    memset(&mk, 0, sizeof mk);
    struct {
        uint16_t profile;
        size_t key, salt;
        int rc;
    } cases[] = {
        {PERC_PROFILE_DOUBLE_AES_128_GCM, 16, 12, PERC_OK},
        {PERC_PROFILE_DOUBLE_AES_128_GCM, 32, 12, PERC_ERR_KEY_LENGTH}, /* both halves */
        {PERC_PROFILE_DOUBLE_AES_128_GCM, 16, 24, PERC_ERR_KEY_LENGTH},
        {PERC_PROFILE_DOUBLE_AES_256_GCM, 32, 12, PERC_OK},
        {PERC_PROFILE_DOUBLE_AES_256_GCM, 64, 24, PERC_ERR_KEY_LENGTH},
        {PERC_PROFILE_DOUBLE_AES_256_GCM, 16, 12, PERC_ERR_KEY_LENGTH},
        {PERC_PROFILE_AEAD_AES_128_GCM, 16, 12, PERC_OK},
        {PERC_PROFILE_AEAD_AES_256_GCM, 32, 12, PERC_OK},
        {PERC_PROFILE_AEAD_AES_256_GCM, 16, 12, PERC_ERR_KEY_LENGTH},
        {0x0001, 16, 14, PERC_ERR_UNSUPPORTED}, /* AES_CM_128_HMAC_SHA1_80: not ours */
        {0x0000, 16, 12, PERC_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mk.profile = cases[i].profile;
        mk.client_key = mk.server_key = perc_view_of(k, cases[i].key);
        mk.client_salt = mk.server_salt = perc_view_of(k, cases[i].salt);
        assert_int_equal(perc_tunnel_media_keys_check(&mk), cases[i].rc);
    }
    /* The two directions are checked each. */
    mk.profile = PERC_PROFILE_DOUBLE_AES_128_GCM;
    mk.client_key = mk.server_key = perc_view_of(k, 16);
    mk.client_salt = mk.server_salt = perc_view_of(k, 12);
    mk.server_key.len = 17;
    assert_int_equal(perc_tunnel_media_keys_check(&mk), PERC_ERR_KEY_LENGTH);
    mk.server_key.len = 16;
    mk.server_salt.len = 11;
    assert_int_equal(perc_tunnel_media_keys_check(&mk), PERC_ERR_KEY_LENGTH);
}

/* RFC 4122 §4.4 version and variant bits; the other 122 bits are kept. */
static void test_uuid_v4_bits(void **state)
{
    (void)state;
    uint8_t ones[16], zeros[16];
    memset(ones, 0xff, sizeof ones);
    memset(zeros, 0x00, sizeof zeros);
    perc_uuid u;
    perc_uuid_v4_from_random(&u, ones);
    assert_int_equal(u.b[6], 0x4f);
    assert_int_equal(u.b[8], 0xbf);
    assert_true(perc_uuid_is_v4(&u));
    for (size_t i = 0; i < 16; i++)
        if (i != 6 && i != 8)
            assert_int_equal(u.b[i], 0xff);
    perc_uuid_v4_from_random(&u, zeros);
    assert_int_equal(u.b[6], 0x40);
    assert_int_equal(u.b[8], 0x80);
    assert_true(perc_uuid_is_v4(&u));

    perc_uuid raw;
    memcpy(raw.b, zeros, 16);
    assert_false(perc_uuid_is_v4(&raw));
    raw.b[6] = 0x40;
    assert_false(perc_uuid_is_v4(&raw)); /* variant still 00 */
    raw.b[8] = 0xc0;
    assert_false(perc_uuid_is_v4(&raw)); /* variant 11 (reserved) */

    tu_rng rng;
    tu_rng_seed(&rng, 42);
    for (int i = 0; i < 1000; i++) {
        uint8_t r[16];
        tu_rng_fill(&rng, r, sizeof r);
        perc_uuid_v4_from_random(&u, r);
        assert_true(perc_uuid_is_v4(&u));
        assert_int_equal(u.b[6] & 0x0f, r[6] & 0x0f);
        assert_int_equal(u.b[8] & 0x3f, r[8] & 0x3f);
    }
}

static void test_uuid_text(void **state)
{
    (void)state;
    perc_uuid u = test_uuid();
    char text[PERC_UUID_TEXT_LEN + 1];
    assert_int_equal(perc_uuid_format(&u, text, sizeof text), PERC_OK);
    assert_string_equal(text, "9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a");
    assert_int_equal(perc_uuid_format(&u, text, sizeof text - 1), PERC_ERR_NOSPACE);

    perc_uuid back;
    assert_int_equal(perc_uuid_parse("9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a", 36, &back), PERC_OK);
    assert_true(perc_uuid_equal(&u, &back));
    assert_int_equal(perc_uuid_parse("9F3C2B1A-7D4E-4C5B-8A69-0E1F2D3C4B5A", 36, &back), PERC_OK);
    assert_true(perc_uuid_equal(&u, &back));

    /* Round trip over random ones. */
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    for (int i = 0; i < 200; i++) {
        uint8_t r[16];
        tu_rng_fill(&rng, r, sizeof r);
        perc_uuid_v4_from_random(&u, r);
        assert_int_equal(perc_uuid_format(&u, text, sizeof text), PERC_OK);
        assert_int_equal(strlen(text), PERC_UUID_TEXT_LEN);
        assert_int_equal(text[14], '4');
        assert_int_equal(perc_uuid_parse(text, strlen(text), &back), PERC_OK);
        assert_true(perc_uuid_equal(&u, &back));
    }

    const char *bad[] = {
        "9f3c2b1a7d4e-4c5b-8a69-0e1f2d3c4b5a-",  /* hyphen moved */
        "9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5g",  /* not hex */
        "9f3c2b1a-7d4e-4c5b-8a69_0e1f2d3c4b5a",  /* wrong separator */
        "{f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5a",
        "9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5",   /* 35 */
        "9f3c2b1a-7d4e-4c5b-8a69-0e1f2d3c4b5aa", /* 37 */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(perc_uuid_parse(bad[i], strlen(bad[i]), &back), PERC_ERR_MALFORMED);
    assert_int_equal(perc_uuid_parse(NULL, 36, &back), PERC_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported_profiles_example),
        cmocka_unit_test(test_derived_media_keys_and_disconnect),
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_unsupported_version_is_four_octets),
        cmocka_unit_test(test_supported_profiles_other_version),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_body_truncation),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_vector_lower_bounds),
        cmocka_unit_test(test_media_keys_with_mki),
        cmocka_unit_test(test_dtls_message_size_limit),
        cmocka_unit_test(test_encode_nospace),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_media_keys_check),
        cmocka_unit_test(test_uuid_v4_bits),
        cmocka_unit_test(test_uuid_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
