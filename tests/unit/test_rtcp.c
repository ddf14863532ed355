/* RTCP views and serializers (common/include/perc/rtcp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/rtcp.h"
#include "test_util.h"
#include "vectors.h"

/* ---- helpers ----------------------------------------------------------- */

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

/* A sample SR with two report blocks (one with negative loss) and one word
 * of profile-specific extension. */
static const uint8_t sr_ext[4] = {0xca, 0xfe, 0xba, 0xbe};

static perc_rtcp_sr sample_sr(void)
{
    perc_rtcp_sr sr;
    memset(&sr, 0, sizeof sr);
    sr.ssrc = 0x11223344;
    sr.ntp_timestamp = 0xe1e2e3e4e5e6e7e8ull;
    sr.rtp_timestamp = 0x01020304;
    sr.packet_count = 1000;
    sr.octet_count = 160000;
    sr.report_count = 2;
    sr.reports[0] = (perc_rtcp_report_block){0xaabbccdd, 0x40, 12, 0x0001ffff, 77, 0x12345678, 0x10000};
    sr.reports[1] = (perc_rtcp_report_block){0x55667788, 0, -3, 0x00020005, 0, 0, 0};
    sr.ext = perc_view_of(sr_ext, sizeof sr_ext);
    return sr;
}

/* SR + SDES(CNAME) + BYE(reason), the usual goodbye compound. */
static size_t build_compound(uint8_t *buf, size_t cap)
{
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtcp_sr sr = sample_sr();
    perc_rtcp_write_sr(&w, &sr);
    perc_rtcp_sdes_writer s;
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 0x11223344);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"alice@perc", 10);
    perc_rtcp_sdes_end(&s);
    perc_rtcp_bye bye;
    memset(&bye, 0, sizeof bye);
    bye.count = 1;
    bye.ssrc[0] = 0x11223344;
    bye.has_reason = true;
    bye.reason = perc_view_of((const uint8_t *)"left", 4);
    perc_rtcp_write_bye(&w, &bye);
    return finish(&w);
}

/* Offsets of the packet ends in build_compound()'s output. */
static const size_t compound_ends[] = {
    4 + 4 + 20 + 2 * 24 + 4,     /* SR: 80 */
    80 + 4 + 4 + 2 + 10 + 4,     /* SDES: 24 octets, 104 */
    104 + 4 + 4 + 8,             /* BYE: 16 octets, 120 */
};

static void assert_report_equal(const perc_rtcp_report_block *a, const perc_rtcp_report_block *b)
{
    assert_int_equal(a->ssrc, b->ssrc);
    assert_int_equal(a->fraction_lost, b->fraction_lost);
    assert_int_equal(a->cumulative_lost, b->cumulative_lost);
    assert_int_equal(a->ext_highest_seq, b->ext_highest_seq);
    assert_int_equal(a->jitter, b->jitter);
    assert_int_equal(a->lsr, b->lsr);
    assert_int_equal(a->dlsr, b->dlsr);
}

/* ---- SR and RR --------------------------------------------------------- */

static void test_sr_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sr in = sample_sr();
    perc_rtcp_write_sr(&w, &in);
    size_t len = finish(&w);
    assert_int_equal(len, 80);
    /* header: V=2, RC=2, PT=200, length 19 words */
    assert_hex(buf, 8, "82c8001311223344");
    /* second block: cumulative loss -3 is 0xfffffd on the wire */
    assert_hex(buf + 52, 8, "5566778800fffffd");

    perc_rtcp_view v;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(v.pt, PERC_RTCP_SR);
    assert_int_equal(v.count, 2);
    assert_false(v.padding);
    assert_int_equal(v.packet.len, len);
    assert_int_equal(v.body.len, len - 4);
    perc_rtcp_sr out;
    assert_int_equal(perc_rtcp_parse_sr(&v, &out), PERC_OK);
    assert_int_equal(out.ssrc, in.ssrc);
    assert_true(out.ntp_timestamp == in.ntp_timestamp);
    assert_int_equal(out.rtp_timestamp, in.rtp_timestamp);
    assert_int_equal(out.packet_count, in.packet_count);
    assert_int_equal(out.octet_count, in.octet_count);
    assert_int_equal(out.report_count, 2);
    assert_report_equal(&out.reports[0], &in.reports[0]);
    assert_report_equal(&out.reports[1], &in.reports[1]);
    assert_int_equal(out.ext.len, 4);
    assert_memory_equal(out.ext.ptr, sr_ext, 4);

    uint8_t again[256];
    perc_writer_init(&w, again, sizeof again);
    perc_rtcp_write_sr(&w, &out);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(again, buf, len);

    /* an RR is not an SR */
    perc_rtcp_rr rr;
    assert_int_equal(perc_rtcp_parse_rr(&v, &rr), PERC_ERR_INVALID_ARG);
}

static void test_rr_round_trip(void **state)
{
    (void)state;
    uint8_t buf[1024];
    perc_writer w;
    perc_rtcp_rr in;
    memset(&in, 0, sizeof in);
    in.ssrc = 0xdeadbeef;

    /* empty RR: just the SSRC */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_rr(&w, &in);
    size_t len = finish(&w);
    assert_hex(buf, len, "80c90001deadbeef");

    /* the largest RR: 31 blocks */
    in.report_count = PERC_RTCP_MAX_COUNT;
    for (uint8_t i = 0; i < PERC_RTCP_MAX_COUNT; i++)
        in.reports[i] = (perc_rtcp_report_block){0x1000u + i, i, -(int32_t)i * 1000, 0x10000u * i,
                                                 i, 0xa0000000u | i, 0x20000u + i};
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_rr(&w, &in);
    len = finish(&w);
    assert_int_equal(len, 8 + 31 * 24);
    perc_rtcp_view v;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(v.count, 31);
    perc_rtcp_rr out;
    assert_int_equal(perc_rtcp_parse_rr(&v, &out), PERC_OK);
    assert_int_equal(out.ssrc, in.ssrc);
    assert_int_equal(out.report_count, 31);
    for (int i = 0; i < 31; i++)
        assert_report_equal(&out.reports[i], &in.reports[i]);
    assert_int_equal(out.ext.len, 0);

    /* 32 blocks do not fit the 5-bit count */
    in.report_count = 32;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_rr(&w, &in);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
}

static void test_cumulative_lost_sign(void **state)
{
    (void)state;
    const int32_t values[] = {0, 1, -1, 1000, -1000, PERC_RTCP_LOST_MAX, PERC_RTCP_LOST_MIN,
                              -5390609};
    const char *wire[] = {"000000", "000001", "ffffff", "0003e8", "fffc18", "7fffff", "800000",
                          "adbeef"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        perc_rtcp_rr rr;
        memset(&rr, 0, sizeof rr);
        rr.report_count = 1;
        rr.reports[0].cumulative_lost = values[i];
        uint8_t buf[64];
        perc_writer w;
        perc_writer_init(&w, buf, sizeof buf);
        perc_rtcp_write_rr(&w, &rr);
        size_t len = finish(&w);
        assert_hex(buf + 13, 3, wire[i]);
        perc_rtcp_view v;
        perc_rtcp_rr out;
        assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
        assert_int_equal(perc_rtcp_parse_rr(&v, &out), PERC_OK);
        assert_int_equal(out.reports[0].cumulative_lost, values[i]);
    }
    /* one past either end of the 24-bit range is refused */
    const int32_t bad[] = {PERC_RTCP_LOST_MAX + 1, PERC_RTCP_LOST_MIN - 1};
    for (size_t i = 0; i < 2; i++) {
        perc_rtcp_rr rr;
        memset(&rr, 0, sizeof rr);
        rr.report_count = 1;
        rr.reports[0].cumulative_lost = bad[i];
        uint8_t buf[64];
        perc_writer w;
        perc_writer_init(&w, buf, sizeof buf);
        perc_rtcp_write_rr(&w, &rr);
        assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    }
}

/* RFC 7714 §17: the plaintext RTCP packet of the SRTCP vectors. Its header
 * says SR, RC=1, length 13, i.e. 14 words = 56 octets, but the vector holds
 * 52 octets: exactly SSRC + sender info + one report block, which is a
 * length of 12. The length field is one too large, so a strict walk must
 * refuse it; with the length corrected it is a well-formed SR. */
static void test_rfc7714_vector(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("rfc7714-gcm.txt", &f), 0);
    const tv_block *b = tv_find(&f, "rfc7714_srtcp_aead_aes_128_gcm_encrypted");
    assert_non_null(b);
    const tv_field *pkt = tv_get(b, "rtcp_packet");
    assert_non_null(pkt);
    assert_int_equal(pkt->len, 52);
    assert_int_equal(pkt->data[0], 0x81);
    assert_int_equal(pkt->data[1], PERC_RTCP_SR);
    assert_int_equal(perc_load_u16(pkt->data + 2), 13);

    perc_rtcp_iter it;
    perc_rtcp_view v;
    perc_rtcp_iter_init(&it, pkt->data, pkt->len);
    assert_int_equal(perc_rtcp_next(&it, &v), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_rtcp_parse_packet(pkt->data, pkt->len, &v), PERC_ERR_TRUNCATED);

    uint8_t fixed[52];
    memcpy(fixed, pkt->data, sizeof fixed);
    fixed[3] = 12;
    assert_int_equal(perc_rtcp_parse_packet(fixed, sizeof fixed, &v), PERC_OK);
    perc_rtcp_sr sr;
    assert_int_equal(perc_rtcp_parse_sr(&v, &sr), PERC_OK);
    assert_int_equal(sr.ssrc, 0x4d617273);                     /* "Mars" */
    assert_true(sr.ntp_timestamp == 0x4e5450314e545032ull);    /* "NTP1NTP2" */
    assert_int_equal(sr.rtp_timestamp, 0x52545020);            /* "RTP " */
    assert_int_equal(sr.packet_count, 0x42a);
    assert_int_equal(sr.octet_count, 0xe930);
    assert_int_equal(sr.report_count, 1);
    assert_int_equal(sr.reports[0].ssrc, 0x4c756e61);          /* "Luna" */
    assert_int_equal(sr.reports[0].fraction_lost, 0xde);
    assert_int_equal(sr.reports[0].cumulative_lost, 0xadbeef - 0x1000000);
    assert_int_equal(sr.reports[0].ext_highest_seq, 0xdeadbeef);
    assert_int_equal(sr.reports[0].jitter, 0xdeadbeef);
    assert_int_equal(sr.reports[0].lsr, 0xdeadbeef);
    assert_int_equal(sr.reports[0].dlsr, 0xdeadbeef);
    assert_int_equal(sr.ext.len, 0);
    uint32_t ssrc;
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0x4d617273);

    /* our writer produces the corrected bytes */
    uint8_t out[64];
    perc_writer w;
    perc_writer_init(&w, out, sizeof out);
    perc_rtcp_write_sr(&w, &sr);
    assert_int_equal(finish(&w), sizeof fixed);
    assert_memory_equal(out, fixed, sizeof fixed);
    tv_free(&f);
}

/* ---- SDES -------------------------------------------------------------- */

static void test_sdes_round_trip(void **state)
{
    (void)state;
    uint8_t buf[256];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_writer s;
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 0x11223344);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"ab", 2);
    perc_rtcp_sdes_add_chunk(&s, 0x55667788);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"c", 1);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_TOOL, (const uint8_t *)"perc", 4);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_NOTE, NULL, 0);
    perc_rtcp_sdes_add_chunk(&s, 0x99aabbcc); /* no items: four null octets */
    perc_rtcp_sdes_end(&s);
    size_t len = finish(&w);
    assert_hex(buf, len,
               "83ca0009"
               "11223344 01026162 00000000"          /* "ab": 4 octets, null + 3 pad */
               "55667788 010163 06047065726307 00 00" /* c, perc, empty NOTE, null, 1 pad */
               "99aabbcc 00000000");

    perc_rtcp_view v;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_OK);

    perc_rtcp_sdes_iter it;
    assert_int_equal(perc_rtcp_sdes_iter_init(&it, &v), PERC_OK);
    uint32_t ssrc;
    perc_rtcp_sdes_item item;
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), 1);
    assert_int_equal(ssrc, 0x11223344);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 1);
    assert_int_equal(item.type, PERC_RTCP_SDES_CNAME);
    assert_int_equal(item.value.len, 2);
    assert_memory_equal(item.value.ptr, "ab", 2);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 0);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 0); /* stays at end of chunk */
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), 1);
    assert_int_equal(ssrc, 0x55667788);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 1);
    assert_int_equal(item.type, PERC_RTCP_SDES_CNAME);
    /* skipping the rest of this chunk */
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), 1);
    assert_int_equal(ssrc, 0x99aabbcc);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 0);
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), 0);

    perc_view val;
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x55667788, PERC_RTCP_SDES_TOOL, &val), PERC_OK);
    assert_int_equal(val.len, 4);
    assert_memory_equal(val.ptr, "perc", 4);
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x55667788, PERC_RTCP_SDES_NOTE, &val), PERC_OK);
    assert_int_equal(val.len, 0);
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x55667788, PERC_RTCP_SDES_EMAIL, &val),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x99aabbcc, PERC_RTCP_SDES_CNAME, &val),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x12345678, PERC_RTCP_SDES_CNAME, &val),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0x11223344);

    /* re-serialize what was parsed: identical bytes */
    uint8_t again[256];
    perc_writer_init(&w, again, sizeof again);
    perc_rtcp_sdes_begin(&s, &w);
    assert_int_equal(perc_rtcp_sdes_iter_init(&it, &v), PERC_OK);
    int rc;
    while ((rc = perc_rtcp_sdes_next_chunk(&it, &ssrc)) == 1) {
        perc_rtcp_sdes_add_chunk(&s, ssrc);
        while ((rc = perc_rtcp_sdes_next_item(&it, &item)) == 1)
            perc_rtcp_sdes_add_item(&s, item.type, item.value.ptr, item.value.len);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rc, 0);
    perc_rtcp_sdes_end(&s);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(again, buf, len);
}

static void test_sdes_every_alignment(void **state)
{
    (void)state;
    /* CNAME lengths 0..8 cover every padding amount (1..4 null octets) */
    for (size_t n = 0; n <= 8; n++) {
        uint8_t buf[64];
        perc_writer w;
        perc_writer_init(&w, buf, sizeof buf);
        perc_rtcp_sdes_writer s;
        perc_rtcp_sdes_begin(&s, &w);
        perc_rtcp_sdes_add_chunk(&s, 7);
        perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"abcdefgh", n);
        perc_rtcp_sdes_end(&s);
        size_t len = finish(&w);
        /* header, SSRC, type, length, text, at least one null, word aligned */
        size_t want = 8 + ((2 + n + 1 + 3) / 4) * 4;
        assert_int_equal(len, want);
        perc_rtcp_view v;
        perc_view val;
        assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
        assert_int_equal(perc_rtcp_sdes_find(&v, 7, PERC_RTCP_SDES_CNAME, &val), PERC_OK);
        assert_int_equal(val.len, n);
        assert_int_equal(perc_rtcp_check_sdes(&v), PERC_OK);
    }
}

static void test_sdes_malformed(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_rtcp_view v;
    /* a non-null octet in the padding after the terminator */
    size_t len = tu_hex("81ca0003 11223344 01026162 00000100", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_MALFORMED);
    /* a word after the last chunk the count announces */
    len = tu_hex("81ca0003 11223344 00000000 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_TRAILING);
    /* count 2 but one chunk */
    len = tu_hex("82ca0002 11223344 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_TRUNCATED);
    /* an item running past the packet */
    len = tu_hex("81ca0002 11223344 01056162", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_TRUNCATED);
    /* no terminating null */
    len = tu_hex("81ca0002 11223344 01026162", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_TRUNCATED);
    /* the error is sticky */
    perc_rtcp_sdes_iter it;
    uint32_t ssrc;
    perc_rtcp_sdes_item item;
    assert_int_equal(perc_rtcp_sdes_iter_init(&it, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), 1);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), 1);
    assert_int_equal(perc_rtcp_sdes_next_item(&it, &item), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_rtcp_sdes_next_chunk(&it, &ssrc), PERC_ERR_TRUNCATED);
    /* count 0 and an empty body is a valid, useless SDES */
    len = tu_hex("80ca0000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_ERR_NOT_FOUND);
    /* not an SDES */
    len = tu_hex("80c90001deadbeef", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_ERR_INVALID_ARG);
}

static void test_sdes_writer_errors(void **state)
{
    (void)state;
    uint8_t buf[512];
    perc_writer w;
    perc_rtcp_sdes_writer s;
    uint8_t big[256] = {0};

    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"x", 1); /* no chunk */
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 1);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_END, (const uint8_t *)"x", 1);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 1);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_NOTE, big, 255);
    assert_int_equal(perc_writer_error(&w), PERC_OK);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_NOTE, big, 256);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_begin(&s, &w);
    for (uint32_t i = 0; i < PERC_RTCP_MAX_COUNT; i++)
        perc_rtcp_sdes_add_chunk(&s, i);
    assert_int_equal(perc_writer_error(&w), PERC_OK);
    perc_rtcp_sdes_add_chunk(&s, 99);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    /* 31 empty chunks parse back with count 31 */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_sdes_begin(&s, &w);
    for (uint32_t i = 0; i < PERC_RTCP_MAX_COUNT; i++)
        perc_rtcp_sdes_add_chunk(&s, i);
    perc_rtcp_sdes_end(&s);
    size_t len = finish(&w);
    assert_int_equal(len, 4 + 31 * 8);
    perc_rtcp_view v;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(v.count, 31);
    assert_int_equal(perc_rtcp_check_sdes(&v), PERC_OK);

    /* out of space */
    perc_writer_init(&w, buf, 10);
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 1);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"abc", 3);
    perc_rtcp_sdes_end(&s);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);
}

/* ---- BYE and APP ------------------------------------------------------- */

static void test_bye_round_trip(void **state)
{
    (void)state;
    const char *text = "session ended";
    for (int with_reason = 0; with_reason < 2; with_reason++) {
        for (size_t rlen = 0; rlen <= (with_reason ? 13u : 0u); rlen++) {
            for (uint8_t count = 0; count <= 3; count++) {
                perc_rtcp_bye in;
                memset(&in, 0, sizeof in);
                in.count = count;
                for (uint8_t i = 0; i < count; i++)
                    in.ssrc[i] = 0xabc00000u + i;
                in.has_reason = with_reason != 0;
                in.reason = perc_view_of((const uint8_t *)text, rlen);
                uint8_t buf[128];
                perc_writer w;
                perc_writer_init(&w, buf, sizeof buf);
                perc_rtcp_write_bye(&w, &in);
                size_t len = finish(&w);
                size_t want = 4 + 4u * count + (with_reason ? ((1 + rlen + 3) / 4) * 4 : 0);
                assert_int_equal(len, want);
                perc_rtcp_view v;
                perc_rtcp_bye out;
                assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
                assert_int_equal(perc_rtcp_parse_bye(&v, &out), PERC_OK);
                assert_int_equal(out.count, count);
                for (uint8_t i = 0; i < count; i++)
                    assert_int_equal(out.ssrc[i], in.ssrc[i]);
                assert_int_equal(out.has_reason, in.has_reason);
                if (with_reason) {
                    assert_int_equal(out.reason.len, rlen);
                    if (rlen)
                        assert_memory_equal(out.reason.ptr, text, rlen);
                }
                uint8_t again[128];
                perc_writer_init(&w, again, sizeof again);
                perc_rtcp_write_bye(&w, &out);
                assert_int_equal(finish(&w), len);
                assert_memory_equal(again, buf, len);
            }
        }
    }
    uint8_t buf[64];
    perc_rtcp_view v;
    perc_rtcp_bye out;
    size_t len = tu_hex("81cb0002 11223344 03627965", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_bye(&v, &out), PERC_OK);
    assert_true(out.has_reason);
    assert_memory_equal(out.reason.ptr, "bye", 3);
    /* non-null padding after the reason */
    len = tu_hex("81cb0002 11223344 01620001", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_bye(&v, &out), PERC_ERR_MALFORMED);
    /* a word after the padded reason */
    len = tu_hex("81cb0003 11223344 03627965 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_bye(&v, &out), PERC_ERR_TRAILING);
    /* reason longer than the packet */
    len = tu_hex("81cb0002 11223344 09627965", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_bye(&v, &out), PERC_ERR_TRUNCATED);
    /* sender SSRC of a BYE is its first SSRC */
    uint32_t ssrc;
    len = tu_hex("82cb0002 11223344 55667788", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0x11223344);

    /* writer limits */
    perc_rtcp_bye bad;
    memset(&bad, 0, sizeof bad);
    bad.count = 32;
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_bye(&w, &bad);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    uint8_t big[300] = {0};
    bad.count = 0;
    bad.has_reason = true;
    bad.reason = perc_view_of(big, 256);
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_bye(&w, &bad);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
}

static void test_app_round_trip(void **state)
{
    (void)state;
    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    perc_rtcp_app in = {.subtype = 17, .ssrc = 0x01020304, .name = {'P', 'E', 'R', 'C'},
                        .data = perc_view_of(data, sizeof data)};
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_app(&w, &in);
    size_t len = finish(&w);
    assert_hex(buf, len, "91cc0004 01020304 50455243 0102030405060708");
    perc_rtcp_view v;
    perc_rtcp_app out;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_app(&v, &out), PERC_OK);
    assert_int_equal(out.subtype, 17);
    assert_int_equal(out.ssrc, in.ssrc);
    assert_memory_equal(out.name, "PERC", 4);
    assert_int_equal(out.data.len, 8);
    assert_memory_equal(out.data.ptr, data, 8);
    uint32_t ssrc;
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0x01020304);

    /* no name: truncated */
    len = tu_hex("80cc0001 01020304", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_app(&v, &out), PERC_ERR_TRUNCATED);

    in.data = perc_view_of(data, 5); /* not whole words */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_app(&w, &in);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
}

/* ---- feedback ---------------------------------------------------------- */

static void test_nack_round_trip(void **state)
{
    (void)state;
    const perc_rtcp_nack_item items[] = {{0x1234, 0x0000}, {0xfffe, 0x8003}};
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_nack(&w, 0xa1a2a3a4, 0xb1b2b3b4, items, 2);
    size_t len = finish(&w);
    assert_hex(buf, len, "81cd0004 a1a2a3a4 b1b2b3b4 12340000 fffe8003");
    perc_rtcp_view v;
    perc_rtcp_nack nack;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_nack(&v, &nack), PERC_OK);
    assert_int_equal(nack.sender_ssrc, 0xa1a2a3a4);
    assert_int_equal(nack.media_ssrc, 0xb1b2b3b4);
    assert_int_equal(nack.count, 2);
    for (size_t i = 0; i < 2; i++) {
        perc_rtcp_nack_item it = perc_rtcp_nack_get(&nack, i);
        assert_int_equal(it.pid, items[i].pid);
        assert_int_equal(it.blp, items[i].blp);
    }
    perc_rtcp_nack_item none = perc_rtcp_nack_get(&nack, 2);
    assert_int_equal(none.pid, 0);
    assert_int_equal(none.blp, 0);

    uint16_t seqs[17];
    assert_int_equal(perc_rtcp_nack_expand(items[0], seqs), 1);
    assert_int_equal(seqs[0], 0x1234);
    /* 0xfffe, bits 0, 1 and 15: 0xffff, 0x0000 (wraps), 0x000e */
    assert_int_equal(perc_rtcp_nack_expand(items[1], seqs), 4);
    assert_int_equal(seqs[0], 0xfffe);
    assert_int_equal(seqs[1], 0xffff);
    assert_int_equal(seqs[2], 0x0000);
    assert_int_equal(seqs[3], 0x000e);
    perc_rtcp_nack_item all = {100, 0xffff};
    assert_int_equal(perc_rtcp_nack_expand(all, seqs), 17);
    assert_int_equal(seqs[16], 116);

    uint32_t targets[4];
    size_t n;
    assert_int_equal(perc_rtcp_fb_targets(&v, targets, 4, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(targets[0], 0xb1b2b3b4);
    uint32_t ssrc;
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0xa1a2a3a4);

    uint8_t again[64];
    perc_writer_init(&w, again, sizeof again);
    perc_rtcp_write_nack(&w, nack.sender_ssrc, nack.media_ssrc, items, nack.count);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(again, buf, len);

    /* no PID/BLP pair */
    len = tu_hex("81cd0002 a1a2a3a4 b1b2b3b4", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_nack(&v, &nack), PERC_ERR_MALFORMED);
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_nack(&w, 1, 2, items, 0);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    /* an RTPFB with another FMT is not a NACK */
    len = tu_hex("83cd0003 a1a2a3a4 b1b2b3b4 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_nack(&v, &nack), PERC_ERR_INVALID_ARG);
}

static void test_pli_round_trip(void **state)
{
    (void)state;
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_pli(&w, 0x01010101, 0x02020202);
    size_t len = finish(&w);
    assert_hex(buf, len, "81ce0002 01010101 02020202");
    perc_rtcp_view v;
    perc_rtcp_pli pli;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_OK);
    assert_int_equal(pli.sender_ssrc, 0x01010101);
    assert_int_equal(pli.media_ssrc, 0x02020202);
    uint32_t t;
    size_t n;
    assert_int_equal(perc_rtcp_fb_targets(&v, &t, 1, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(t, 0x02020202);
    assert_int_equal(perc_rtcp_fb_targets(&v, &t, 0, &n), PERC_ERR_NOSPACE);
    assert_int_equal(n, 1);

    /* generic feedback view of the same packet */
    perc_rtcp_fb fb;
    assert_int_equal(perc_rtcp_parse_fb(&v, &fb), PERC_OK);
    assert_int_equal(fb.pt, PERC_RTCP_PSFB);
    assert_int_equal(fb.fmt, PERC_RTCP_FMT_PLI);
    assert_int_equal(fb.fci.len, 0);

    /* PLI has no FCI */
    len = tu_hex("81ce0003 01010101 02020202 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_ERR_TRAILING);
    /* too short for the two SSRCs */
    len = tu_hex("81ce0001 01010101", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_rtcp_fb_targets(&v, &t, 1, &n), PERC_ERR_TRUNCATED);
    /* not feedback */
    len = tu_hex("80c90001 deadbeef", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fb(&v, &fb), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_rtcp_fb_targets(&v, &t, 1, &n), PERC_ERR_INVALID_ARG);
}

static void test_fir_round_trip(void **state)
{
    (void)state;
    const perc_rtcp_fir_entry entries[] = {{0xc0c0c0c0, 7}, {0xd0d0d0d0, 255}};
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fir(&w, 0x0a0b0c0d, entries, 2);
    size_t len = finish(&w);
    assert_hex(buf, len, "84ce0006 0a0b0c0d 00000000 c0c0c0c0 07000000 d0d0d0d0 ff000000");
    perc_rtcp_view v;
    perc_rtcp_fir fir;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fir(&v, &fir), PERC_OK);
    assert_int_equal(fir.sender_ssrc, 0x0a0b0c0d);
    assert_int_equal(fir.media_ssrc, 0);
    assert_int_equal(fir.count, 2);
    for (size_t i = 0; i < 2; i++) {
        perc_rtcp_fir_entry e = perc_rtcp_fir_get(&fir, i);
        assert_int_equal(e.ssrc, entries[i].ssrc);
        assert_int_equal(e.seq, entries[i].seq);
    }
    assert_int_equal(perc_rtcp_fir_get(&fir, 2).ssrc, 0);

    /* FIR is routed to the SSRCs of its entries, not the header's 0 */
    uint32_t t[2];
    size_t n;
    assert_int_equal(perc_rtcp_fb_targets(&v, t, 2, &n), PERC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[0], 0xc0c0c0c0);
    assert_int_equal(t[1], 0xd0d0d0d0);
    assert_int_equal(perc_rtcp_fb_targets(&v, t, 1, &n), PERC_ERR_NOSPACE);
    assert_int_equal(n, 2);

    uint8_t again[64];
    perc_writer_init(&w, again, sizeof again);
    perc_rtcp_write_fir(&w, fir.sender_ssrc, entries, fir.count);
    assert_int_equal(finish(&w), len);
    assert_memory_equal(again, buf, len);

    /* reserved bits are ignored on receipt */
    len = tu_hex("84ce0004 0a0b0c0d 00000000 c0c0c0c0 07abcdef", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fir(&v, &fir), PERC_OK);
    assert_int_equal(perc_rtcp_fir_get(&fir, 0).seq, 7);
    /* half an entry */
    len = tu_hex("84ce0003 0a0b0c0d 00000000 c0c0c0c0", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fir(&v, &fir), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_rtcp_fb_targets(&v, t, 2, &n), PERC_ERR_TRUNCATED);
    /* no entry */
    len = tu_hex("84ce0002 0a0b0c0d 00000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fir(&v, &fir), PERC_ERR_MALFORMED);
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fir(&w, 1, entries, 0);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    /* a PLI is not a FIR */
    len = tu_hex("81ce0002 01010101 02020202", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fir(&v, &fir), PERC_ERR_INVALID_ARG);

    /* TMMBR (RTPFB FMT 3) is routed by its entries too */
    len = tu_hex("83cd0004 0a0b0c0d 00000000 e0e0e0e0 04000000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_fb_targets(&v, t, 2, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 0xe0e0e0e0);
}

static void test_fb_generic_round_trip(void **state)
{
    (void)state;
    const uint8_t fci[8] = {'R', 'E', 'M', 'B', 1, 2, 3, 4};
    perc_rtcp_fb in = {PERC_RTCP_PSFB, 15, 0x11111111, 0, perc_view_of(fci, sizeof fci)};
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fb(&w, &in);
    size_t len = finish(&w);
    assert_hex(buf, len, "8fce0004 11111111 00000000 52454d42 01020304");
    perc_rtcp_view v;
    perc_rtcp_fb out;
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_fb(&v, &out), PERC_OK);
    assert_int_equal(out.pt, in.pt);
    assert_int_equal(out.fmt, 15);
    assert_int_equal(out.sender_ssrc, in.sender_ssrc);
    assert_int_equal(out.media_ssrc, 0);
    assert_int_equal(out.fci.len, 8);
    assert_memory_equal(out.fci.ptr, fci, 8);

    in.pt = PERC_RTCP_RR;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fb(&w, &in);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    in.pt = PERC_RTCP_RTPFB;
    in.fmt = 32;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fb(&w, &in);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    in.fmt = 1;
    in.fci.len = 3;
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_write_fb(&w, &in);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
}

/* ---- compound ---------------------------------------------------------- */

static void test_compound_walk(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = build_compound(buf, sizeof buf);
    assert_int_equal(len, compound_ends[2]);
    size_t n = 0;
    assert_int_equal(perc_rtcp_check_compound(buf, len, false, &n), PERC_OK);
    assert_int_equal(n, 3);

    const uint8_t types[] = {PERC_RTCP_SR, PERC_RTCP_SDES, PERC_RTCP_BYE};
    perc_rtcp_iter it;
    perc_rtcp_view v;
    perc_rtcp_iter_init(&it, buf, len);
    size_t at = 0;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(perc_rtcp_next(&it, &v), 1);
        assert_int_equal(v.pt, types[i]);
        assert_ptr_equal(v.packet.ptr, buf + at);
        assert_int_equal(v.packet.len, compound_ends[i] - at);
        at = compound_ends[i];
        uint32_t ssrc;
        assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
        assert_int_equal(ssrc, 0x11223344);
    }
    assert_int_equal(perc_rtcp_next(&it, &v), 0);
    assert_int_equal(perc_rtcp_next(&it, &v), 0);

    /* typed parses of each */
    perc_rtcp_iter_init(&it, buf, len);
    perc_rtcp_sr sr;
    perc_rtcp_bye bye;
    perc_view cname;
    assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_int_equal(perc_rtcp_parse_sr(&v, &sr), PERC_OK);
    assert_int_equal(sr.report_count, 2);
    assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_int_equal(perc_rtcp_sdes_find(&v, 0x11223344, PERC_RTCP_SDES_CNAME, &cname), PERC_OK);
    assert_int_equal(cname.len, 10);
    assert_memory_equal(cname.ptr, "alice@perc", 10);
    assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_int_equal(perc_rtcp_parse_bye(&v, &bye), PERC_OK);
    assert_memory_equal(bye.reason.ptr, "left", 4);

    /* an empty buffer walks to nothing but is not a compound */
    perc_rtcp_iter_init(&it, buf, 0);
    assert_int_equal(perc_rtcp_next(&it, &v), 0);
    assert_int_equal(perc_rtcp_check_compound(buf, 0, false, &n), PERC_ERR_TRUNCATED);
}

static void test_compound_first_must_be_report(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = build_compound(buf, sizeof buf);
    /* starting at the SDES: not a valid RFC 3550 compound ... */
    const uint8_t *rest = buf + compound_ends[0];
    size_t rest_len = len - compound_ends[0];
    size_t n = 0;
    assert_int_equal(perc_rtcp_check_compound(rest, rest_len, false, &n), PERC_ERR_MALFORMED);
    /* ... but fine as reduced-size RTCP (RFC 5506) */
    assert_int_equal(perc_rtcp_check_compound(rest, rest_len, true, &n), PERC_OK);
    assert_int_equal(n, 2);
    /* an RR may open a compound, n may be NULL */
    uint8_t rr[8];
    size_t rr_len = tu_hex("80c90001deadbeef", rr, sizeof rr);
    assert_int_equal(perc_rtcp_check_compound(rr, rr_len, false, NULL), PERC_OK);
}

/* Every prefix of a compound: at a packet boundary it is a shorter valid
 * compound, anywhere else the walk must fail with TRUNCATED. */
static void test_compound_every_truncation(void **state)
{
    (void)state;
    uint8_t full[256];
    size_t len = build_compound(full, sizeof full);
    for (size_t cut = 1; cut < len; cut++) {
        uint8_t buf[256];
        memcpy(buf, full, cut); /* a copy so ASan sees reads past the cut */
        size_t n = 0;
        int rc = perc_rtcp_check_compound(buf, cut, false, &n);
        size_t boundary = 0;
        for (size_t i = 0; i < 3; i++) {
            if (compound_ends[i] == cut)
                boundary = i + 1;
        }
        if (boundary) {
            assert_int_equal(rc, PERC_OK);
            assert_int_equal(n, boundary);
        } else {
            assert_int_equal(rc, PERC_ERR_TRUNCATED);
        }
        /* and each single packet over every truncation of itself */
        perc_rtcp_view v;
        if (cut < compound_ends[0])
            assert_int_equal(perc_rtcp_parse_packet(buf, cut, &v), PERC_ERR_TRUNCATED);
    }
    perc_rtcp_view v;
    assert_int_equal(perc_rtcp_parse_packet(full, compound_ends[0], &v), PERC_OK);
    assert_int_equal(perc_rtcp_parse_packet(full, len, &v), PERC_ERR_TRAILING);
}

/* The typed parsers over bodies cut short a word at a time (the length
 * field rewritten to match, so only the typed parser can notice). */
static void test_typed_every_word_truncation(void **state)
{
    (void)state;
    uint8_t pkts[6][128];
    size_t lens[6];
    perc_writer w;

    perc_rtcp_sr sr = sample_sr();
    sr.ext = perc_view_of(NULL, 0);
    perc_writer_init(&w, pkts[0], sizeof pkts[0]);
    perc_rtcp_write_sr(&w, &sr);
    lens[0] = finish(&w);

    perc_rtcp_rr rr;
    memset(&rr, 0, sizeof rr);
    rr.report_count = 2;
    perc_writer_init(&w, pkts[1], sizeof pkts[1]);
    perc_rtcp_write_rr(&w, &rr);
    lens[1] = finish(&w);

    perc_rtcp_sdes_writer s;
    perc_writer_init(&w, pkts[2], sizeof pkts[2]);
    perc_rtcp_sdes_begin(&s, &w);
    perc_rtcp_sdes_add_chunk(&s, 1);
    perc_rtcp_sdes_add_item(&s, PERC_RTCP_SDES_CNAME, (const uint8_t *)"someone@example", 15);
    perc_rtcp_sdes_add_chunk(&s, 2);
    perc_rtcp_sdes_end(&s);
    lens[2] = finish(&w);

    perc_rtcp_bye bye;
    memset(&bye, 0, sizeof bye);
    bye.count = 2;
    bye.has_reason = true;
    bye.reason = perc_view_of((const uint8_t *)"a long goodbye", 14);
    perc_writer_init(&w, pkts[3], sizeof pkts[3]);
    perc_rtcp_write_bye(&w, &bye);
    lens[3] = finish(&w);

    const perc_rtcp_fir_entry fe = {5, 6};
    perc_writer_init(&w, pkts[4], sizeof pkts[4]);
    perc_rtcp_write_fir(&w, 4, &fe, 1);
    lens[4] = finish(&w);

    perc_writer_init(&w, pkts[5], sizeof pkts[5]);
    perc_rtcp_write_pli(&w, 4, 5);
    lens[5] = finish(&w);

    for (size_t k = 0; k < 6; k++) {
        for (size_t words = 0; words + 1 < lens[k] / 4; words++) {
            uint8_t buf[128];
            memcpy(buf, pkts[k], words * 4 + 4);
            perc_store_u16(buf + 2, (uint16_t)words);
            perc_rtcp_view v;
            assert_int_equal(perc_rtcp_parse_packet(buf, words * 4 + 4, &v), PERC_OK);
            int rc;
            switch (k) {
            case 0: {
                perc_rtcp_sr o;
                rc = perc_rtcp_parse_sr(&v, &o);
                break;
            }
            case 1: {
                perc_rtcp_rr o;
                rc = perc_rtcp_parse_rr(&v, &o);
                break;
            }
            case 2:
                rc = perc_rtcp_check_sdes(&v);
                break;
            case 3: {
                perc_rtcp_bye o;
                rc = perc_rtcp_parse_bye(&v, &o);
                break;
            }
            case 4: {
                perc_rtcp_fir o;
                rc = perc_rtcp_parse_fir(&v, &o);
                break;
            }
            default: {
                perc_rtcp_pli o;
                rc = perc_rtcp_parse_pli(&v, &o);
                break;
            }
            }
            if (k == 3 && words == 2) /* just the two SSRCs: a BYE without reason */
                assert_int_equal(rc, PERC_OK);
            else
                assert_true(rc == PERC_ERR_TRUNCATED || rc == PERC_ERR_MALFORMED);
        }
    }
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    uint8_t buf[300];
    size_t len = build_compound(buf, sizeof buf);
    /* 1..3 octets: not even a header */
    for (size_t extra = 1; extra <= 3; extra++) {
        memset(buf + len, 0x80, extra);
        assert_int_equal(perc_rtcp_check_compound(buf, len + extra, false, NULL),
                         PERC_ERR_TRUNCATED);
    }
    /* a zero word: version 0 */
    memset(buf + len, 0, 4);
    assert_int_equal(perc_rtcp_check_compound(buf, len + 4, false, NULL), PERC_ERR_BAD_VERSION);
    /* a header whose length runs past the end */
    const uint8_t hdr[4] = {0x80, 0xc9, 0x00, 0x01};
    memcpy(buf + len, hdr, 4);
    assert_int_equal(perc_rtcp_check_compound(buf, len + 4, false, NULL), PERC_ERR_TRUNCATED);
    /* the walk reports the packets before the garbage, then the error, sticky */
    perc_rtcp_iter it;
    perc_rtcp_view v;
    perc_rtcp_iter_init(&it, buf, len + 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_int_equal(perc_rtcp_next(&it, &v), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_rtcp_next(&it, &v), PERC_ERR_TRUNCATED);
}

static void test_bad_version(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = build_compound(buf, sizeof buf);
    const uint8_t versions[] = {0x00, 0x40, 0xc0};
    for (size_t i = 0; i < 3; i++) {
        uint8_t copy[256];
        /* in the first packet */
        memcpy(copy, buf, len);
        copy[0] = (uint8_t)((copy[0] & 0x3f) | versions[i]);
        assert_int_equal(perc_rtcp_check_compound(copy, len, false, NULL), PERC_ERR_BAD_VERSION);
        perc_rtcp_view v;
        assert_int_equal(perc_rtcp_parse_packet(copy, compound_ends[0], &v), PERC_ERR_BAD_VERSION);
        /* in the middle one */
        memcpy(copy, buf, len);
        copy[compound_ends[0]] = (uint8_t)((copy[compound_ends[0]] & 0x3f) | versions[i]);
        assert_int_equal(perc_rtcp_check_compound(copy, len, false, NULL), PERC_ERR_BAD_VERSION);
    }
}

static void test_length_overrun(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = build_compound(buf, sizeof buf);
    /* the last packet claims one word more than there is */
    size_t at = compound_ends[1];
    perc_store_u16(buf + at + 2, (uint16_t)(perc_load_u16(buf + at + 2) + 1));
    assert_int_equal(perc_rtcp_check_compound(buf, len, false, NULL), PERC_ERR_TRUNCATED);
    /* the first one claims the maximum */
    len = build_compound(buf, sizeof buf);
    perc_store_u16(buf + 2, 0xffff);
    assert_int_equal(perc_rtcp_check_compound(buf, len, false, NULL), PERC_ERR_TRUNCATED);
    /* a packet claiming less makes the rest misaligned: the next "header"
     * is the SR's last word, 0xcafebabe, whose version is 3 */
    len = build_compound(buf, sizeof buf);
    perc_store_u16(buf + 2, (uint16_t)(perc_load_u16(buf + 2) - 1));
    assert_int_equal(perc_rtcp_check_compound(buf, len, false, NULL), PERC_ERR_BAD_VERSION);
}

static void test_padding(void **state)
{
    (void)state;
    uint8_t buf[256];
    perc_writer w;
    /* RR then a PLI padded with 8 octets */
    perc_writer_init(&w, buf, sizeof buf);
    perc_rtcp_rr rr;
    memset(&rr, 0, sizeof rr);
    rr.ssrc = 9;
    perc_rtcp_write_rr(&w, &rr);
    perc_rtcp_mark m = perc_rtcp_begin(&w, PERC_RTCP_FMT_PLI, PERC_RTCP_PSFB);
    perc_write_u32(&w, 9);
    perc_write_u32(&w, 10);
    perc_rtcp_end(&w, m, 8);
    size_t len = finish(&w);
    assert_hex(buf + 8, len - 8, "a1ce0004 00000009 0000000a 00000000 00000008");

    perc_rtcp_iter it;
    perc_rtcp_view v;
    perc_rtcp_iter_init(&it, buf, len);
    assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_int_equal(perc_rtcp_next(&it, &v), 1);
    assert_true(v.padding);
    assert_int_equal(v.padding_len, 8);
    assert_int_equal(v.body.len, 8);
    assert_int_equal(v.packet.len, 20);
    perc_rtcp_pli pli;
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_OK);
    assert_int_equal(pli.media_ssrc, 10);
    assert_int_equal(perc_rtcp_next(&it, &v), 0);

    /* the padded packet first: padding on a packet that is not the last */
    uint8_t swapped[256];
    memcpy(swapped, buf + 8, 20);
    memcpy(swapped + 20, buf, 8);
    assert_int_equal(perc_rtcp_check_compound(swapped, 28, true, NULL), PERC_ERR_MALFORMED);
    /* alone it is fine */
    assert_int_equal(perc_rtcp_check_compound(swapped, 20, true, NULL), PERC_OK);

    /* padding count 0, or more than the body */
    swapped[19] = 0;
    assert_int_equal(perc_rtcp_parse_packet(swapped, 20, &v), PERC_ERR_MALFORMED);
    swapped[19] = 17;
    assert_int_equal(perc_rtcp_parse_packet(swapped, 20, &v), PERC_ERR_MALFORMED);
    swapped[19] = 16; /* the whole body is padding: legal framing, no PLI */
    assert_int_equal(perc_rtcp_parse_packet(swapped, 20, &v), PERC_OK);
    assert_int_equal(v.body.len, 0);
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_ERR_TRUNCATED);
    /* P set on an empty body */
    uint8_t empty[4] = {0xa0, 0xc9, 0x00, 0x00};
    assert_int_equal(perc_rtcp_parse_packet(empty, 4, &v), PERC_ERR_MALFORMED);
    /* a padding count that leaves a body of partial words */
    swapped[19] = 3;
    assert_int_equal(perc_rtcp_parse_packet(swapped, 20, &v), PERC_OK);
    assert_int_equal(v.body.len, 13);
    assert_int_equal(perc_rtcp_parse_pli(&v, &pli), PERC_ERR_MALFORMED);

    /* writer: padding must keep whole words */
    perc_writer_init(&w, buf, sizeof buf);
    m = perc_rtcp_begin(&w, 0, PERC_RTCP_RR);
    perc_write_u32(&w, 1);
    perc_rtcp_end(&w, m, 3);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
    /* and a body of whole words */
    perc_writer_init(&w, buf, sizeof buf);
    m = perc_rtcp_begin(&w, 0, PERC_RTCP_APP);
    perc_write_u8(&w, 1);
    perc_rtcp_end(&w, m, 0);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);
}

static void test_writer_limits(void **state)
{
    (void)state;
    uint8_t buf[128];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    (void)perc_rtcp_begin(&w, 32, PERC_RTCP_RR);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_INVALID_ARG);

    /* every typed writer reports a buffer that is too small */
    perc_rtcp_sr sr = sample_sr();
    for (size_t cap = 0; cap < 80; cap++) {
        perc_writer_init(&w, buf, cap);
        perc_rtcp_write_sr(&w, &sr);
        assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);
    }
    perc_writer_init(&w, buf, 11);
    perc_rtcp_write_pli(&w, 1, 2);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_NOSPACE);

    /* a packet longer than 65536 words does not fit the length field */
    static uint8_t huge[4 * 65538];
    perc_writer_init(&w, huge, sizeof huge);
    perc_rtcp_mark m = perc_rtcp_begin(&w, 0, PERC_RTCP_APP);
    perc_write_zeros(&w, 4 * 65535);
    perc_rtcp_end(&w, m, 0);
    assert_int_equal(perc_writer_error(&w), PERC_OK);
    assert_int_equal(perc_load_u16(huge + 2), 0xffff);
    perc_writer_init(&w, huge, sizeof huge);
    m = perc_rtcp_begin(&w, 0, PERC_RTCP_APP);
    perc_write_zeros(&w, 4 * 65536);
    perc_rtcp_end(&w, m, 0);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_TOO_LARGE);
}

static void test_sender_ssrc_types(void **state)
{
    (void)state;
    uint8_t buf[32];
    perc_rtcp_view v;
    uint32_t ssrc;
    /* XR: first word */
    size_t len = tu_hex("80cf0001 12345678", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_OK);
    assert_int_equal(ssrc, 0x12345678);
    /* an unknown type (RFC 5450 IJ has no SSRC) */
    len = tu_hex("81c30001 12345678", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_ERR_UNSUPPORTED);
    /* an RR too short for its SSRC */
    len = tu_hex("80c90000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_ERR_TRUNCATED);
    perc_rtcp_rr rr;
    assert_int_equal(perc_rtcp_parse_rr(&v, &rr), PERC_ERR_TRUNCATED);
    /* BYE with count 0 */
    len = tu_hex("80cb0000", buf, sizeof buf);
    assert_int_equal(perc_rtcp_parse_packet(buf, len, &v), PERC_OK);
    assert_int_equal(perc_rtcp_sender_ssrc(&v, &ssrc), PERC_ERR_NOT_FOUND);
    perc_rtcp_bye bye;
    assert_int_equal(perc_rtcp_parse_bye(&v, &bye), PERC_OK);
    assert_int_equal(bye.count, 0);
    assert_false(bye.has_reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sr_round_trip),
        cmocka_unit_test(test_rr_round_trip),
        cmocka_unit_test(test_cumulative_lost_sign),
        cmocka_unit_test(test_rfc7714_vector),
        cmocka_unit_test(test_sdes_round_trip),
        cmocka_unit_test(test_sdes_every_alignment),
        cmocka_unit_test(test_sdes_malformed),
        cmocka_unit_test(test_sdes_writer_errors),
        cmocka_unit_test(test_bye_round_trip),
        cmocka_unit_test(test_app_round_trip),
        cmocka_unit_test(test_nack_round_trip),
        cmocka_unit_test(test_pli_round_trip),
        cmocka_unit_test(test_fir_round_trip),
        cmocka_unit_test(test_fb_generic_round_trip),
        cmocka_unit_test(test_compound_walk),
        cmocka_unit_test(test_compound_first_must_be_report),
        cmocka_unit_test(test_compound_every_truncation),
        cmocka_unit_test(test_typed_every_word_truncation),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_length_overrun),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_sender_ssrc_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
