/* Reassembly of tunnel messages from a byte stream (perc/tunnel_framer.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/tunnel.h"
#include "perc/tunnel_framer.h"
#include "test_util.h"

/* A stream of one message of each type plus an unknown one:
 *   SupportedProfiles (10), TunneledDtls (22), MediaKeys (82),
 *   unknown type 0x42 (6), EndpointDisconnect (19), UnsupportedVersion (4) */
static const char *STREAM_HEX =
    "0100070000040009000a"
    "040013" "9f3c2b1a7d4e4c5b8a690e1f2d3c4b5a" "000116"
    "03004f9f3c2b1a7d4e4c5b8a690e1f2d3c4b5a00090010101112131415161718191a1b1c1d1e1f10303132"
    "333435363738393a3b3c3d3e3f0c4c4d4e4f50515253545556570c6465666768696a6b6c6d6e6f"
    "420003abcdef"
    "0500109f3c2b1a7d4e4c5b8a690e1f2d3c4b5a"
    "02000100";

static const uint8_t STREAM_TYPES[] = {1, 4, 3, 0x42, 5, 2};
static const size_t STREAM_LENS[] = {10, 22, 82, 6, 19, 4};
#define STREAM_MSGS 6

typedef struct pulled {
    uint8_t type;
    int rc;
    uint8_t bytes[PERC_TUNNEL_MAX_MSG];
    size_t len;
} pulled;

static perc_tunnel_framer *new_framer(void)
{
    perc_tunnel_framer *f = NULL;
    assert_int_equal(perc_tunnel_framer_new(&f), PERC_OK);
    assert_non_null(f);
    return f;
}

/* Pulls one whole message if there is one, recording type, result and the
 * message's bytes (header + body, rebuilt from msg.body, which points into
 * the framer). */
static bool pull_one(perc_tunnel_framer *f, pulled *out)
{
    perc_tunnel_msg m;
    bool have;
    int rc = perc_tunnel_framer_next(f, &m, &have);
    if (!have) {
        assert_int_equal(rc, PERC_OK);
        return false;
    }
    out->type = m.type;
    out->rc = rc;
    out->bytes[0] = m.type;
    perc_store_u16(out->bytes + 1, (uint16_t)m.body.len);
    memcpy(out->bytes + 3, m.body.ptr, m.body.len);
    out->len = 3 + m.body.len;
    return true;
}

/* Pulls every whole message. */
static size_t drain(perc_tunnel_framer *f, pulled *out, size_t max)
{
    size_t n = 0;
    pulled *one = calloc(1, sizeof *one);
    assert_non_null(one);
    while (pull_one(f, one)) {
        assert_true(n < max);
        out[n++] = *one;
    }
    free(one);
    return n;
}

/* Feeds everything, draining whenever the framer takes less. */
static size_t feed_all(perc_tunnel_framer *f, const uint8_t *p, size_t len, pulled *out, size_t max)
{
    size_t n = 0;
    while (len > 0) {
        size_t took;
        assert_int_equal(perc_tunnel_framer_feed(f, p, len, &took), PERC_OK);
        assert_true(took > 0);
        p += took;
        len -= took;
        n += drain(f, out + n, max - n);
    }
    return n;
}

static void check_stream(const pulled *got, size_t n, const uint8_t *stream)
{
    assert_int_equal(n, STREAM_MSGS);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].type, STREAM_TYPES[i]);
        assert_int_equal(got[i].rc, STREAM_TYPES[i] == 0x42 ? PERC_ERR_UNSUPPORTED : PERC_OK);
        assert_int_equal(got[i].len, STREAM_LENS[i]);
        assert_memory_equal(got[i].bytes, stream + off, got[i].len);
        off += got[i].len;
    }
}

static pulled *new_pulled(size_t n)
{
    pulled *p = calloc(n, sizeof *p);
    assert_non_null(p);
    return p;
}

static void test_whole_stream_in_one_chunk(void **state)
{
    (void)state;
    uint8_t stream[256];
    size_t len = tu_hex(STREAM_HEX, stream, sizeof stream);
    pulled *got = new_pulled(8);
    perc_tunnel_framer *f = new_framer();
    size_t n = feed_all(f, stream, len, got, 8);
    check_stream(got, n, stream);
    assert_int_equal(perc_tunnel_framer_buffered(f), 0);
    perc_tunnel_framer_free(f);
    free(got);
}

static void test_one_byte_feeds(void **state)
{
    (void)state;
    uint8_t stream[256];
    size_t len = tu_hex(STREAM_HEX, stream, sizeof stream);
    pulled *got = new_pulled(8);
    perc_tunnel_framer *f = new_framer();
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += feed_all(f, stream + i, 1, got + n, 8 - n);
        /* Nothing may come out before its last octet is in. */
        size_t done = 0;
        for (size_t k = 0; k < n; k++)
            done += STREAM_LENS[k];
        assert_true(done <= i + 1);
        assert_int_equal(perc_tunnel_framer_buffered(f), i + 1 - done);
    }
    check_stream(got, n, stream);
    perc_tunnel_framer_free(f);
    free(got);
}

/* A two-message stream cut at every position, as two TLS reads. */
static void test_split_at_every_position(void **state)
{
    (void)state;
    uint8_t stream[256];
    size_t len = tu_hex(STREAM_HEX, stream, sizeof stream);
    size_t two = STREAM_LENS[0] + STREAM_LENS[1];
    pulled *got = new_pulled(4);
    for (size_t cut = 0; cut <= two; cut++) {
        perc_tunnel_framer *f = new_framer();
        size_t n = feed_all(f, stream, cut, got, 4);
        assert_int_equal(n, (cut >= STREAM_LENS[0]) + (cut >= two));
        n += feed_all(f, stream + cut, two - cut, got + n, 4 - n);
        assert_int_equal(n, 2);
        assert_int_equal(got[0].type, PERC_TUNNEL_SUPPORTED_PROFILES);
        assert_int_equal(got[1].type, PERC_TUNNEL_TUNNELED_DTLS);
        assert_int_equal(got[0].rc, PERC_OK);
        assert_int_equal(got[1].rc, PERC_OK);
        assert_memory_equal(got[0].bytes, stream, STREAM_LENS[0]);
        assert_memory_equal(got[1].bytes, stream + STREAM_LENS[0], STREAM_LENS[1]);
        assert_int_equal(perc_tunnel_framer_buffered(f), 0);
        perc_tunnel_framer_free(f);
    }
    (void)len;
    free(got);
}

static void test_three_messages_in_one_chunk(void **state)
{
    (void)state;
    uint8_t stream[256];
    tu_hex(STREAM_HEX, stream, sizeof stream);
    size_t three = STREAM_LENS[0] + STREAM_LENS[1] + STREAM_LENS[2];
    perc_tunnel_framer *f = new_framer();
    size_t took;
    assert_int_equal(perc_tunnel_framer_feed(f, stream, three, &took), PERC_OK);
    assert_int_equal(took, three);
    perc_tunnel_msg m;
    bool have;
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.type, PERC_TUNNEL_SUPPORTED_PROFILES);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.type, PERC_TUNNEL_TUNNELED_DTLS);
    assert_int_equal(m.tunneled_dtls.dtls.len, 1);
    assert_int_equal(m.tunneled_dtls.dtls.ptr[0], 0x16);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.type, PERC_TUNNEL_MEDIA_KEYS);
    assert_int_equal(m.media_keys.client_key.len, 16);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    assert_int_equal(perc_tunnel_framer_buffered(f), 0);
    perc_tunnel_framer_free(f);
}

static void test_partial_message_kept(void **state)
{
    (void)state;
    const uint8_t disc[] = {0x05, 0x00, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    perc_tunnel_framer *f = new_framer();
    perc_tunnel_msg m;
    bool have = true;
    size_t took;

    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    /* Only part of the header. */
    assert_int_equal(perc_tunnel_framer_feed(f, disc, 2, &took), PERC_OK);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    /* Header and part of the body, across two more feeds. */
    assert_int_equal(perc_tunnel_framer_feed(f, disc + 2, 5, &took), PERC_OK);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    assert_int_equal(perc_tunnel_framer_buffered(f), 7);
    assert_int_equal(perc_tunnel_framer_feed(f, disc + 7, 0, &took), PERC_OK);
    assert_int_equal(took, 0);
    assert_int_equal(perc_tunnel_framer_feed(f, disc + 7, sizeof disc - 7, &took), PERC_OK);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.type, PERC_TUNNEL_ENDPOINT_DISCONNECT);
    assert_memory_equal(m.endpoint_disconnect.association_id.b, disc + 3, 16);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    perc_tunnel_framer_free(f);
}

/* RFC 9185 §9: an unknown or malformed message is reported and passed
 * over; the messages after it still come out. */
static void test_bad_messages_do_not_desync(void **state)
{
    (void)state;
    uint8_t stream[64];
    size_t len = tu_hex("ee0002abcd"            /* unknown type */
                        "01000300 0000"         /* SupportedProfiles, empty list */
                        "020002 0707"           /* UnsupportedVersion with a trailing octet */
                        "02000109",
                        stream, sizeof stream);
    perc_tunnel_framer *f = new_framer();
    pulled *got = new_pulled(8);
    size_t n = feed_all(f, stream, len, got, 8);
    assert_int_equal(n, 4);
    assert_int_equal(got[0].type, 0xee);
    assert_int_equal(got[0].rc, PERC_ERR_UNSUPPORTED);
    assert_int_equal(got[0].len, 5);
    assert_int_equal(got[1].rc, PERC_ERR_MALFORMED);
    assert_int_equal(got[1].type, PERC_TUNNEL_SUPPORTED_PROFILES);
    assert_int_equal(got[2].rc, PERC_ERR_TRAILING);
    assert_int_equal(got[3].rc, PERC_OK);
    assert_int_equal(got[3].type, PERC_TUNNEL_UNSUPPORTED_VERSION);
    perc_tunnel_framer_free(f);
    free(got);
}

/* The buffer holds exactly one largest message; more must wait until the
 * waiting message is pulled. */
static void test_buffer_bound(void **state)
{
    (void)state;
    size_t big = PERC_TUNNEL_MAX_MSG;
    size_t len = 2 * big + 4;
    uint8_t *stream = malloc(len);
    assert_non_null(stream);
    /* Two largest TunneledDtls messages and an UnsupportedVersion. */
    for (size_t k = 0; k < 2; k++) {
        uint8_t *p = stream + k * big;
        memset(p, (int)(0xa0 + k), big);
        p[0] = PERC_TUNNEL_TUNNELED_DTLS;
        perc_store_u16(p + 1, 0xFFFF);
        perc_store_u16(p + 3 + PERC_UUID_LEN, PERC_TUNNEL_MAX_DTLS);
    }
    memcpy(stream + 2 * big, "\x02\x00\x01\x05", 4);

    perc_tunnel_framer *f = new_framer();
    size_t took;
    assert_int_equal(perc_tunnel_framer_feed(f, stream, len, &took), PERC_OK);
    assert_int_equal(took, big);
    /* Full of a whole message: nothing more fits until it is pulled. */
    assert_int_equal(perc_tunnel_framer_feed(f, stream + took, len - took, &took), PERC_ERR_LIMIT);
    assert_int_equal(took, 0);

    perc_tunnel_msg m;
    bool have;
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.tunneled_dtls.dtls.len, PERC_TUNNEL_MAX_DTLS);
    assert_int_equal(m.tunneled_dtls.dtls.ptr[0], 0xa0);

    assert_int_equal(perc_tunnel_framer_feed(f, stream + big, len - big, &took), PERC_OK);
    assert_int_equal(took, big);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.tunneled_dtls.dtls.ptr[PERC_TUNNEL_MAX_DTLS - 1], 0xa1);
    assert_int_equal(perc_tunnel_framer_feed(f, stream + 2 * big, 4, &took), PERC_OK);
    assert_int_equal(took, 4);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.unsupported_version.highest_version, 5);

    /* A largest message behind a small one, fed in one go: the framer takes
     * what fits, and after the small one is pulled, the rest. */
    perc_tunnel_framer *g = new_framer();
    memmove(stream + 4, stream, big);
    memcpy(stream, "\x02\x00\x01\x06", 4);
    pulled *got = new_pulled(2);
    size_t n = feed_all(g, stream, 4 + big, got, 2);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].rc, PERC_OK);
    assert_int_equal(got[1].rc, PERC_OK);
    assert_int_equal(got[1].len, big);
    assert_memory_equal(got[1].bytes, stream + 4, big);
    free(got);
    perc_tunnel_framer_free(g);
    perc_tunnel_framer_free(f);
    free(stream);
}

/* A handed-out message's bytes are wiped at the next call (the framer's
 * buffer is still alive, so reading through the old view is allowed). */
static void test_consumed_bytes_are_wiped(void **state)
{
    (void)state;
    uint8_t stream[256];
    tu_hex(STREAM_HEX, stream, sizeof stream);
    const uint8_t *mk = stream + STREAM_LENS[0] + STREAM_LENS[1];
    perc_tunnel_framer *f = new_framer();
    size_t took;
    assert_int_equal(perc_tunnel_framer_feed(f, mk, STREAM_LENS[2], &took), PERC_OK);
    perc_tunnel_msg m;
    bool have;
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    assert_int_equal(m.type, PERC_TUNNEL_MEDIA_KEYS);
    const uint8_t *key = m.media_keys.client_key.ptr;
    const uint8_t *body = m.body.ptr;
    assert_int_equal(key[0], 0x10);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    static const uint8_t zeros[PERC_TUNNEL_MAX_MSG];
    assert_memory_equal(body - PERC_TUNNEL_HEADER_LEN, zeros, STREAM_LENS[2]);

    /* Moving a partial message to the front leaves no copy behind. */
    size_t big = 60000;
    uint8_t *s2 = malloc(big + 10);
    assert_non_null(s2);
    memset(s2, 0x77, big);
    s2[0] = PERC_TUNNEL_TUNNELED_DTLS;
    perc_store_u16(s2 + 1, (uint16_t)(big - 3));
    perc_store_u16(s2 + 3 + PERC_UUID_LEN, (uint16_t)(big - 3 - PERC_UUID_LEN - 2));
    memcpy(s2 + big, mk, 10); /* the start of a MediaKeys */
    assert_int_equal(perc_tunnel_framer_feed(f, s2, big + 10, &took), PERC_OK);
    assert_int_equal(took, big + 10);
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_true(have);
    const uint8_t *base = m.body.ptr - PERC_TUNNEL_HEADER_LEN;
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    assert_int_equal(perc_tunnel_framer_buffered(f), 10);
    assert_memory_equal(base, zeros, big); /* the pulled message is gone */
    assert_memory_equal(base + big, mk, 10);
    /* One octet more than the tail holds forces the move. */
    size_t more = PERC_TUNNEL_MAX_MSG - (big + 10) + 1;
    uint8_t *fill = malloc(more);
    assert_non_null(fill);
    memset(fill, 0xee, more);
    assert_int_equal(perc_tunnel_framer_feed(f, fill, more, &took), PERC_OK);
    assert_int_equal(took, more);
    assert_int_equal(perc_tunnel_framer_buffered(f), 10 + more);
    assert_memory_equal(base, mk, 10);
    assert_memory_equal(base + 10, fill, more);
    assert_memory_equal(base + 10 + more, zeros, PERC_TUNNEL_MAX_MSG - 10 - more);
    free(fill);
    free(s2);
    perc_tunnel_framer_free(f);
}

/* Random chunk sizes over a long random stream give what whole-message
 * decoding gives. */
static void test_random_chunks(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 2024);
    size_t cap = 1 << 20;
    uint8_t *stream = malloc(cap);
    size_t *ends = calloc(4096, sizeof *ends);
    assert_true(stream && ends);
    size_t len = 0, count = 0;
    while (count < 4096) {
        /* Mostly small messages, sometimes large ones. */
        size_t body = tu_rng_below(&rng, 8) == 0 ? tu_rng_below(&rng, 70000) % 65536
                                                 : tu_rng_below(&rng, 40);
        if (len + 3 + body > cap)
            break;
        stream[len] = (uint8_t)(1 + tu_rng_below(&rng, 7));
        perc_store_u16(stream + len + 1, (uint16_t)body);
        tu_rng_fill(&rng, stream + len + 3, body);
        len += 3 + body;
        ends[count++] = len;
    }

    perc_tunnel_framer *f = new_framer();
    pulled *got = new_pulled(1);
    size_t off = 0, seen = 0;
    while (off < len) {
        size_t chunk = 1 + tu_rng_below(&rng, tu_rng_below(&rng, 4) ? 64 : 100000);
        if (chunk > len - off)
            chunk = len - off;
        size_t took;
        assert_int_equal(perc_tunnel_framer_feed(f, stream + off, chunk, &took), PERC_OK);
        off += took;
        while (pull_one(f, got)) {
            size_t start = seen ? ends[seen - 1] : 0;
            assert_int_equal(got[0].len, ends[seen] - start);
            assert_memory_equal(got[0].bytes, stream + start, got[0].len);
            perc_tunnel_msg whole;
            assert_int_equal(perc_tunnel_decode(stream + start, got[0].len, &whole), got[0].rc);
            seen++;
        }
    }
    assert_int_equal(seen, count);
    assert_int_equal(perc_tunnel_framer_buffered(f), 0);
    perc_tunnel_framer_free(f);
    free(got);
    free(ends);
    free(stream);
}

static void test_stream_ending_inside_a_message(void **state)
{
    (void)state;
    const uint8_t part[] = {0x04, 0x00, 0x20, 0x01};
    perc_tunnel_framer *f = new_framer();
    size_t took;
    assert_int_equal(perc_tunnel_framer_feed(f, part, sizeof part, &took), PERC_OK);
    perc_tunnel_msg m;
    bool have;
    assert_int_equal(perc_tunnel_framer_next(f, &m, &have), PERC_OK);
    assert_false(have);
    assert_int_equal(perc_tunnel_framer_buffered(f), 4);
    perc_tunnel_framer_free(f);
    perc_tunnel_framer_free(NULL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(perc_tunnel_framer_new(NULL), PERC_ERR_INVALID_ARG);
    perc_tunnel_framer *f = new_framer();
    size_t took;
    assert_int_equal(perc_tunnel_framer_feed(f, NULL, 1, &took), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_tunnel_framer_feed(f, (const uint8_t *)"x", 1, NULL),
                     PERC_ERR_INVALID_ARG);
    bool have;
    assert_int_equal(perc_tunnel_framer_next(f, NULL, &have), PERC_ERR_INVALID_ARG);
    perc_tunnel_framer_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_stream_in_one_chunk),
        cmocka_unit_test(test_one_byte_feeds),
        cmocka_unit_test(test_split_at_every_position),
        cmocka_unit_test(test_three_messages_in_one_chunk),
        cmocka_unit_test(test_partial_message_kept),
        cmocka_unit_test(test_bad_messages_do_not_desync),
        cmocka_unit_test(test_buffer_bound),
        cmocka_unit_test(test_consumed_bytes_are_wiped),
        cmocka_unit_test(test_random_chunks),
        cmocka_unit_test(test_stream_ending_inside_a_message),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
