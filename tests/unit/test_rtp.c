/* RTP header views, serialization and RFC 8285 extensions
 * (common/include/perc/rtp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/rtp.h"
#include "test_util.h"
#include "vectors.h"

static size_t finish(perc_writer *w)
{
    size_t len = 0;
    assert_int_equal(perc_writer_finish(w, &len), PERC_OK);
    return len;
}

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
    uint8_t want[512];
    size_t n = tu_hex(hex, want, sizeof want);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
}

/* V=2, X=1, CC=2, M=1, PT=111, SEQ 0x1234, TS 0xdeadbeef, SSRC 0x01020304,
 * CSRCs 0xaaaaaaaa 0xbbbbbbbb, one-byte extension block of 2 words:
 * ID 1 len 1 (0x85: audio level, voice, 5), a padding octet, ID 2 len 3,
 * then a padding octet to end the word; payload "hi". */
static const char *full_hex = "92ef1234deadbeef01020304aaaaaaaabbbbbbbb"
                              "bede0002" "1085002201" "020300"
                              "6869";
#define FULL_HEADER_LEN 32

static void test_parse_fixed_header_rfc7714(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("rfc7714-gcm.txt", &f), 0);
    const tv_block *b = tv_find(&f, "rfc7714_srtp_aead_aes_128_gcm");
    assert_non_null(b);
    const tv_field *pkt = tv_get(b, "rtp_packet");
    assert_non_null(pkt);
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(pkt->data, pkt->len, &p), PERC_OK);
    assert_false(p.hdr.padding);
    assert_false(p.hdr.extension);
    assert_int_equal(p.hdr.csrc_count, 0);
    assert_false(p.hdr.marker);
    assert_int_equal(p.hdr.payload_type, 0x40);
    assert_int_equal(p.hdr.seq, 0xf17b);
    assert_int_equal(p.hdr.timestamp, 0x8041f8d3);
    assert_int_equal(p.hdr.ssrc, 0x5501a0b2);
    assert_int_equal(p.hdr.header_len, 12);
    assert_int_equal(p.payload.len, pkt->len - 12);
    assert_ptr_equal(p.payload.ptr, pkt->data + 12);
    assert_memory_equal(p.payload.ptr, "Galli", 5); /* "Gallia est omnis divisa ..." */
    assert_int_equal(p.padding_len, 0);

    /* and it writes back to the same bytes */
    uint8_t out[128];
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtp_write(&w, &p.hdr, p.payload.ptr, p.payload.len, 0);
    assert_int_equal(finish(&w), pkt->len);
    assert_memory_equal(out, pkt->data, pkt->len);
    tv_free(&f);
}

static void test_parse_csrc_and_extension(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = tu_hex(full_hex, buf, sizeof buf);
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    const perc_rtp_header *h = &p.hdr;
    assert_false(h->padding);
    assert_true(h->extension);
    assert_int_equal(h->csrc_count, 2);
    assert_true(h->marker);
    assert_int_equal(h->payload_type, 111);
    assert_int_equal(h->seq, 0x1234);
    assert_int_equal(h->timestamp, 0xdeadbeef);
    assert_int_equal(h->ssrc, 0x01020304);
    assert_int_equal(h->csrc[0], 0xaaaaaaaa);
    assert_int_equal(h->csrc[1], 0xbbbbbbbb);
    assert_int_equal(h->ext_profile, PERC_RTP_EXT_ONE_BYTE);
    assert_int_equal(h->ext_data.len, 8);
    assert_ptr_equal(h->ext_data.ptr, buf + 24);
    assert_int_equal(h->header_len, FULL_HEADER_LEN);
    assert_int_equal(p.payload.len, 2);
    assert_memory_equal(p.payload.ptr, "hi", 2);

    /* the one-byte elements, skipping the padding octets between them */
    perc_rtp_ext_iter it;
    perc_rtp_ext_elem e;
    assert_int_equal(perc_rtp_ext_iter_init(&it, h), PERC_OK);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(e.data.len, 1);
    assert_int_equal(e.data.ptr[0], 0x85);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 2);
    assert_int_equal(e.data.len, 3);
    assert_memory_equal(e.data.ptr, "\x01\x02\x03", 3);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);

    perc_view v;
    assert_int_equal(perc_rtp_ext_find(h, 2, &v), PERC_OK);
    assert_int_equal(v.len, 3);
    assert_int_equal(perc_rtp_ext_find(h, 3, &v), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtp_ext_find(h, 1, &v), PERC_OK);
    perc_audio_level al;
    assert_int_equal(perc_audio_level_parse(v, &al), PERC_OK);
    assert_true(al.voice);
    assert_int_equal(al.level, 5);

    /* the header parser alone reads only the header */
    perc_rtp_header hh;
    assert_int_equal(perc_rtp_parse_header(buf, FULL_HEADER_LEN, &hh), PERC_OK);
    assert_int_equal(hh.header_len, FULL_HEADER_LEN);
}

static void test_one_byte_id15_terminates(void **state)
{
    (void)state;
    /* ID 1 len 1, then ID 15 (its length nibble ignored), then what would be
     * ID 2 len 1: processing stops at 15 (RFC 8285 §4.2) */
    uint8_t buf[64];
    size_t len = tu_hex("900000010000000200000003" "bede0002" "10aaf3" "20bb0000" "00", buf,
                        sizeof buf);
    perc_rtp_header h;
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    perc_rtp_ext_iter it;
    perc_rtp_ext_elem e;
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
    perc_view v;
    assert_int_equal(perc_rtp_ext_find(&h, 2, &v), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtp_ext_find(&h, 15, &v), PERC_ERR_NOT_FOUND);
}

static void test_one_byte_malformed(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_rtp_header h;
    perc_view v;
    /* an element whose length runs past the block */
    size_t len = tu_hex("900000010000000200000003" "bede0001" "1f112233", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_find(&h, 1, &v), PERC_ERR_TRUNCATED);
    /* ID 0 with a non-zero length nibble is neither padding nor an element */
    len = tu_hex("900000010000000200000003" "bede0001" "00051122", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_find(&h, 0, &v), PERC_ERR_MALFORMED);
    assert_int_equal(perc_rtp_ext_find(&h, 1, &v), PERC_ERR_MALFORMED);
    /* a block of only padding has no elements */
    len = tu_hex("900000010000000200000003" "bede0001" "00000000", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    perc_rtp_ext_iter it;
    perc_rtp_ext_elem e;
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
    /* an empty block (0 words) is fine too */
    len = tu_hex("900000010000000200000003" "bede0000", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(h.ext_data.len, 0);
    assert_int_equal(perc_rtp_ext_find(&h, 1, &v), PERC_ERR_NOT_FOUND);
}

static void test_two_byte_form(void **state)
{
    (void)state;
    /* profile 0x1000: ID 1 len 0, padding octet, ID 200 len 3, ID 3 len 0,
     * padding to the word */
    uint8_t buf[64];
    size_t len = tu_hex("900000010000000200000003" "10000003" "010000c80361626303000000", buf,
                        sizeof buf);
    perc_rtp_header h;
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(h.ext_profile, 0x1000);
    perc_rtp_ext_iter it;
    perc_rtp_ext_elem e;
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_OK);
    assert_true(it.two_byte);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 1);
    assert_int_equal(e.data.len, 0);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 200);
    assert_int_equal(e.data.len, 3);
    assert_memory_equal(e.data.ptr, "abc", 3);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
    assert_int_equal(e.id, 3);
    assert_int_equal(e.data.len, 0);
    assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
    perc_view v;
    assert_int_equal(perc_rtp_ext_find(&h, 200, &v), PERC_OK);
    assert_int_equal(v.len, 3);
    /* a zero-length element is found, with an empty view */
    assert_int_equal(perc_rtp_ext_find(&h, 3, &v), PERC_OK);
    assert_int_equal(v.len, 0);
    /* the audio level needs its octet */
    perc_audio_level al;
    assert_int_equal(perc_audio_level_parse(v, &al), PERC_ERR_TRUNCATED);

    /* the low 4 "appbits" may be anything */
    buf[13] = 0x0f;
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(h.ext_profile, 0x100f);
    assert_int_equal(perc_rtp_ext_find(&h, 200, &v), PERC_OK);

    /* ID 15 has no special meaning in the two-byte form */
    len = tu_hex("900000010000000200000003" "10000001" "0f017a00", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_find(&h, 15, &v), PERC_OK);
    assert_int_equal(v.ptr[0], 'z');

    /* an ID without its length octet, and a length past the block */
    len = tu_hex("900000010000000200000003" "10000001" "00000005", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_find(&h, 5, &v), PERC_ERR_TRUNCATED);
    len = tu_hex("900000010000000200000003" "10000001" "05036162", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_find(&h, 5, &v), PERC_ERR_TRUNCATED);
}

static void test_ext_not_rfc8285(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_rtp_header h;
    perc_rtp_ext_iter it;
    perc_view v;
    size_t len = tu_hex("900000010000000200000003" "abcd0001" "11223344", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(h.ext_profile, 0xabcd);
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_rtp_ext_find(&h, 1, &v), PERC_ERR_UNSUPPORTED);
    /* 0x1010 is not in the 0x100X range */
    buf[13] = 0x10;
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_ERR_UNSUPPORTED);
    /* X clear */
    len = tu_hex("800000010000000200000003", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_OK);
    assert_int_equal(perc_rtp_ext_iter_init(&it, &h), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtp_ext_find(&h, 1, &v), PERC_ERR_NOT_FOUND);
}

static void test_builder_round_trips(void **state)
{
    (void)state;
    const uint8_t d[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    for (int two = 0; two < 2; two++) {
        uint8_t ext[128];
        perc_rtp_ext_builder b;
        perc_rtp_ext_builder_init(&b, ext, sizeof ext, two != 0);
        perc_rtp_ext_add(&b, 1, d, 1);
        perc_rtp_ext_add(&b, 14, d, 16);
        perc_rtp_ext_add(&b, 7, d, 3);
        if (two) {
            perc_rtp_ext_add(&b, 255, d, 20);
            perc_rtp_ext_add(&b, 100, NULL, 0);
        }
        perc_view data;
        uint16_t profile;
        assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_OK);
        assert_int_equal(data.len % 4, 0);
        assert_int_equal(profile, two ? PERC_RTP_EXT_TWO_BYTE : PERC_RTP_EXT_ONE_BYTE);
        size_t raw = two ? (2 + 1) + (2 + 16) + (2 + 3) + (2 + 20) + 2 : 2 + 17 + 4;
        assert_int_equal(data.len, (raw + 3) / 4 * 4);

        perc_rtp_header h;
        memset(&h, 0, sizeof h);
        h.extension = true;
        h.payload_type = 96;
        h.ssrc = 42;
        h.ext_profile = profile;
        h.ext_data = data;
        uint8_t pkt[256];
        perc_writer w;
        perc_writer_init(&w, pkt, sizeof pkt);
        perc_rtp_write(&w, &h, (const uint8_t *)"xyz", 3, 0);
        size_t len = finish(&w);

        perc_rtp_packet p;
        assert_int_equal(perc_rtp_parse(pkt, len, &p), PERC_OK);
        perc_rtp_ext_iter it;
        perc_rtp_ext_elem e;
        assert_int_equal(perc_rtp_ext_iter_init(&it, &p.hdr), PERC_OK);
        const uint8_t ids[] = {1, 14, 7, 255, 100};
        const size_t lens[] = {1, 16, 3, 20, 0};
        size_t n = two ? 5 : 3;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(perc_rtp_ext_next(&it, &e), 1);
            assert_int_equal(e.id, ids[i]);
            assert_int_equal(e.data.len, lens[i]);
            if (lens[i])
                assert_memory_equal(e.data.ptr, d, lens[i]);
        }
        assert_int_equal(perc_rtp_ext_next(&it, &e), 0);
        assert_memory_equal(p.payload.ptr, "xyz", 3);
    }

    /* known bytes of a one-byte block: ID 3 len 2 then padding */
    uint8_t ext[8];
    perc_rtp_ext_builder b;
    perc_rtp_ext_builder_init(&b, ext, sizeof ext, false);
    perc_rtp_ext_add(&b, 3, (const uint8_t *)"\xab\xcd", 2);
    perc_view data;
    uint16_t profile;
    assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_OK);
    assert_hex(data.ptr, data.len, "31abcd00");
    /* an empty builder gives an empty block */
    perc_rtp_ext_builder_init(&b, ext, sizeof ext, true);
    assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_OK);
    assert_int_equal(data.len, 0);
    assert_int_equal(profile, PERC_RTP_EXT_TWO_BYTE);
}

static void test_builder_invalid(void **state)
{
    (void)state;
    const uint8_t d[256] = {0};
    struct {
        bool two;
        uint8_t id;
        size_t len;
    } bad[] = {
        {false, 0, 1}, {false, 15, 1}, {false, 1, 0}, {false, 1, 17},
        {true, 0, 1},  {true, 1, 256},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t ext[300];
        perc_rtp_ext_builder b;
        perc_rtp_ext_builder_init(&b, ext, sizeof ext, bad[i].two);
        perc_rtp_ext_add(&b, bad[i].id, d, bad[i].len);
        perc_view data;
        uint16_t profile;
        assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_ERR_INVALID_ARG);
    }
    /* the two-byte limits themselves are fine */
    uint8_t ext[300];
    perc_rtp_ext_builder b;
    perc_rtp_ext_builder_init(&b, ext, sizeof ext, true);
    perc_rtp_ext_add(&b, 255, d, 255);
    perc_view data;
    uint16_t profile;
    assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_OK);
    assert_int_equal(data.len, 260);
    /* out of space, including while padding */
    perc_rtp_ext_builder_init(&b, ext, 4, false);
    perc_rtp_ext_add(&b, 1, d, 4);
    assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_ERR_NOSPACE);
    perc_rtp_ext_builder_init(&b, ext, 3, false);
    perc_rtp_ext_add(&b, 1, d, 2);
    assert_int_equal(perc_rtp_ext_finish(&b, &data, &profile), PERC_ERR_NOSPACE);
}

static void test_padding_rules(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_rtp_packet p;
    /* P set, payload "ab", 3 octets of padding */
    size_t len = tu_hex("a00000010000000200000003" "6162" "000003", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    assert_true(p.hdr.padding);
    assert_int_equal(p.padding_len, 3);
    assert_int_equal(p.payload.len, 2);
    /* padding count 0 */
    buf[len - 1] = 0;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_ERR_MALFORMED);
    /* padding count equal to the whole body: empty payload */
    buf[len - 1] = 5;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    assert_int_equal(p.payload.len, 0);
    /* larger than the body */
    buf[len - 1] = 6;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_ERR_MALFORMED);
    buf[len - 1] = 0xff;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_ERR_MALFORMED);
    /* P set but nothing after the header */
    assert_int_equal(perc_rtp_parse(buf, 12, &p), PERC_ERR_TRUNCATED);
    /* the padding never covers the header's extension or CSRCs */
    len = tu_hex("b10000010000000200000003" "aaaaaaaa" "bede0001" "10ff0000" "01", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    assert_int_equal(p.payload.len, 0);
    buf[len - 1] = 2;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_ERR_MALFORMED);
    /* P clear: the last octet is payload, whatever it holds */
    len = tu_hex("800000010000000200000003" "00", buf, sizeof buf);
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    assert_int_equal(p.payload.len, 1);
    assert_int_equal(p.padding_len, 0);
}

static void test_bad_version(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = tu_hex(full_hex, buf, sizeof buf);
    const uint8_t v[] = {0x00, 0x40, 0xc0};
    for (size_t i = 0; i < 3; i++) {
        buf[0] = (uint8_t)((buf[0] & 0x3f) | v[i]);
        perc_rtp_header h;
        perc_rtp_packet p;
        assert_int_equal(perc_rtp_parse_header(buf, len, &h), PERC_ERR_BAD_VERSION);
        assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_ERR_BAD_VERSION);
        assert_int_equal(perc_rtp_parse_header(buf, 12, &h), PERC_ERR_BAD_VERSION);
        /* too short to be any RTP header: truncated first */
        assert_int_equal(perc_rtp_parse_header(buf, 11, &h), PERC_ERR_TRUNCATED);
    }
}

static void test_every_truncation(void **state)
{
    (void)state;
    uint8_t full[64];
    size_t len = tu_hex(full_hex, full, sizeof full);
    for (size_t cut = 0; cut < FULL_HEADER_LEN; cut++) {
        uint8_t buf[64];
        memcpy(buf, full, cut); /* a copy so ASan would see reads past the cut */
        perc_rtp_header h;
        perc_rtp_packet p;
        memset(&h, 0x5a, sizeof h);
        assert_int_equal(perc_rtp_parse_header(buf, cut, &h), PERC_ERR_TRUNCATED);
        assert_int_equal(h.ssrc, 0x5a5a5a5a); /* output untouched on failure */
        assert_int_equal(perc_rtp_parse(buf, cut, &p), PERC_ERR_TRUNCATED);
    }
    /* from the header on, shorter packets are shorter payloads */
    for (size_t cut = FULL_HEADER_LEN; cut <= len; cut++) {
        perc_rtp_packet p;
        assert_int_equal(perc_rtp_parse(full, cut, &p), PERC_OK);
        assert_int_equal(p.payload.len, cut - FULL_HEADER_LEN);
    }
    /* with P set, the header alone is truncated */
    full[0] |= 0x20;
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(full, FULL_HEADER_LEN, &p), PERC_ERR_TRUNCATED);
    /* NULL buffer of length 0 */
    assert_int_equal(perc_rtp_parse(NULL, 0, &p), PERC_ERR_TRUNCATED);
}

static void test_write_parse_round_trip(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = tu_hex(full_hex, buf, sizeof buf);
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(buf, len, &p), PERC_OK);
    uint8_t out[64];
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtp_write(&w, &p.hdr, p.payload.ptr, p.payload.len, 0);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(out, buf, len);

    /* with padding: P set and the count last */
    perc_writer_init(&w, out, sizeof out);
    perc_rtp_write(&w, &p.hdr, p.payload.ptr, p.payload.len, 4);
    size_t plen = finish(&w);
    assert_int_equal(plen, len + 4);
    assert_int_equal(out[0] & 0x20, 0x20);
    assert_hex(out + len, 4, "00000004");
    perc_rtp_packet q;
    assert_int_equal(perc_rtp_parse(out, plen, &q), PERC_OK);
    assert_int_equal(q.padding_len, 4);
    assert_int_equal(q.payload.len, 2);
    /* and back without: P cleared although q.hdr.padding is set */
    uint8_t again[64];
    perc_writer_init(&w, again, sizeof again);
    perc_rtp_write(&w, &q.hdr, q.payload.ptr, q.payload.len, 0);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(again, buf, len);

    /* random headers */
    tu_rng rng;
    tu_rng_seed(&rng, 0x52545021);
    for (int round = 0; round < 500; round++) {
        perc_rtp_header h;
        memset(&h, 0, sizeof h);
        h.extension = tu_rng_below(&rng, 2) != 0;
        h.csrc_count = (uint8_t)tu_rng_below(&rng, 16);
        h.marker = tu_rng_below(&rng, 2) != 0;
        h.payload_type = (uint8_t)tu_rng_below(&rng, 128);
        h.seq = (uint16_t)tu_rng_next(&rng);
        h.timestamp = (uint32_t)tu_rng_next(&rng);
        h.ssrc = (uint32_t)tu_rng_next(&rng);
        for (unsigned i = 0; i < h.csrc_count; i++)
            h.csrc[i] = (uint32_t)tu_rng_next(&rng);
        uint8_t ext[64];
        tu_rng_fill(&rng, ext, sizeof ext);
        h.ext_profile = (uint16_t)tu_rng_next(&rng);
        h.ext_data = perc_view_of(ext, 4 * tu_rng_below(&rng, 17));
        uint8_t payload[40];
        size_t pl = tu_rng_below(&rng, sizeof payload + 1);
        tu_rng_fill(&rng, payload, pl);
        uint8_t pad = (uint8_t)tu_rng_below(&rng, 5);
        uint8_t pkt[256];
        perc_writer_init(&w, pkt, sizeof pkt);
        perc_rtp_write(&w, &h, payload, pl, pad);
        size_t n = finish(&w);
        assert_int_equal(n, 12 + 4u * h.csrc_count + (h.extension ? 4 + h.ext_data.len : 0) +
                                pl + pad);
        perc_rtp_packet r;
        assert_int_equal(perc_rtp_parse(pkt, n, &r), PERC_OK);
        assert_int_equal(r.hdr.padding, pad > 0);
        assert_int_equal(r.hdr.extension, h.extension);
        assert_int_equal(r.hdr.csrc_count, h.csrc_count);
        assert_int_equal(r.hdr.marker, h.marker);
        assert_int_equal(r.hdr.payload_type, h.payload_type);
        assert_int_equal(r.hdr.seq, h.seq);
        assert_int_equal(r.hdr.timestamp, h.timestamp);
        assert_int_equal(r.hdr.ssrc, h.ssrc);
        for (unsigned i = 0; i < h.csrc_count; i++)
            assert_int_equal(r.hdr.csrc[i], h.csrc[i]);
        if (h.extension) {
            assert_int_equal(r.hdr.ext_profile, h.ext_profile);
            assert_int_equal(r.hdr.ext_data.len, h.ext_data.len);
            if (h.ext_data.len)
                assert_memory_equal(r.hdr.ext_data.ptr, ext, h.ext_data.len);
        }
        assert_int_equal(r.padding_len, pad);
        assert_int_equal(r.payload.len, pl);
        if (pl)
            assert_memory_equal(r.payload.ptr, payload, pl);
        /* the extension iterator never fails with anything but an error code
         * on random blocks, and never reads outside them */
        perc_rtp_ext_iter it;
        if (h.extension && perc_rtp_ext_iter_init(&it, &r.hdr) == PERC_OK) {
            perc_rtp_ext_elem e;
            int rc;
            while ((rc = perc_rtp_ext_next(&it, &e)) == 1) {
                assert_true(e.data.ptr >= r.hdr.ext_data.ptr);
                assert_true(e.data.ptr + e.data.len <= r.hdr.ext_data.ptr + r.hdr.ext_data.len);
            }
            assert_true(rc == 0 || rc == PERC_ERR_TRUNCATED || rc == PERC_ERR_MALFORMED);
        }
    }
}

static void test_write_invalid_args(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_writer w;
    perc_rtp_header h;
    const uint8_t ext[8] = {0};

    memset(&h, 0, sizeof h);
    h.csrc_count = 16;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtp_write_header(&w, &h);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    assert_int_equal(w.pos, 0);

    memset(&h, 0, sizeof h);
    h.payload_type = 128;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtp_write(&w, &h, NULL, 0, 0);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    memset(&h, 0, sizeof h);
    h.extension = true;
    h.ext_data = perc_view_of(ext, 6); /* not whole words */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtp_write_header(&w, &h);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    /* more words than the 16-bit length can say (never read: rejected first) */
    h.ext_data = perc_view_of(ext, 4 * 65536);
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtp_write_header(&w, &h);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    /* ext_data is ignored when X is clear */
    h.extension = false;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtp_write_header(&w, &h);
    assert_int_equal(finish(&w), 12);

    /* an earlier error is kept */
    memset(&h, 0, sizeof h);
    perc_writer_init(&w, buf, 4);
    perc_rtp_write_header(&w, &h);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);
    h.csrc_count = 16;
    perc_rtp_write_header(&w, &h);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);

    /* out of space at every length */
    uint8_t full[64];
    size_t len = tu_hex(full_hex, full, sizeof full);
    perc_rtp_packet p;
    assert_int_equal(perc_rtp_parse(full, len, &p), PERC_OK);
    for (size_t cap = 0; cap < len; cap++) {
        perc_writer_init(&w, buf, cap);
        perc_rtp_write(&w, &p.hdr, p.payload.ptr, p.payload.len, 0);
        assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);
    }
}

static void test_audio_level(void **state)
{
    (void)state;
    const uint8_t octets[] = {0x00, 0x7f, 0x80, 0xff, 0x2a};
    const bool voice[] = {false, false, true, true, false};
    const uint8_t level[] = {0, 127, 0, 127, 42};
    for (size_t i = 0; i < sizeof octets; i++) {
        perc_audio_level al;
        assert_int_equal(perc_audio_level_parse(perc_view_of(&octets[i], 1), &al), PERC_OK);
        assert_int_equal(al.voice, voice[i]);
        assert_int_equal(al.level, level[i]);
    }
    /* extra octets in the element (padding of the one-byte form) are allowed */
    const uint8_t two[2] = {0x85, 0x00};
    perc_audio_level al;
    assert_int_equal(perc_audio_level_parse(perc_view_of(two, 2), &al), PERC_OK);
    assert_int_equal(al.level, 5);
    assert_int_equal(perc_audio_level_parse(perc_view_of(two, 0), &al), PERC_ERR_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fixed_header_rfc7714),
        cmocka_unit_test(test_parse_csrc_and_extension),
        cmocka_unit_test(test_one_byte_id15_terminates),
        cmocka_unit_test(test_one_byte_malformed),
        cmocka_unit_test(test_two_byte_form),
        cmocka_unit_test(test_ext_not_rfc8285),
        cmocka_unit_test(test_builder_round_trips),
        cmocka_unit_test(test_builder_invalid),
        cmocka_unit_test(test_padding_rules),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_write_parse_round_trip),
        cmocka_unit_test(test_write_invalid_args),
        cmocka_unit_test(test_audio_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
