/* RFC 7983 demultiplexing and the RFC 5761 RTP/RTCP split (perc/demux.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/demux.h"
#include "test_util.h"

/* The RFC 7983 §7 table, written out as ranges independently of the code. */
static const struct {
    unsigned lo, hi;
    perc_demux_class c;
} RANGES[] = {
    {0, 3, PERC_DEMUX_STUN},
    {16, 19, PERC_DEMUX_ZRTP},
    {20, 63, PERC_DEMUX_DTLS},
    {64, 79, PERC_DEMUX_TURN_CHANNEL},
    {128, 191, PERC_DEMUX_RTP_OR_RTCP},
};

static perc_demux_class expected(unsigned b)
{
    for (size_t i = 0; i < sizeof RANGES / sizeof RANGES[0]; i++)
        if (b >= RANGES[i].lo && b <= RANGES[i].hi)
            return RANGES[i].c;
    return PERC_DEMUX_UNKNOWN;
}

/* A STUN Binding request with no attributes (RFC 5389 §6). */
static size_t stun_binding(uint8_t *buf, uint16_t attr_len)
{
    memset(buf, 0, 20 + attr_len);
    perc_store_u16(buf, 0x0001);
    perc_store_u16(buf + 2, attr_len);
    perc_store_u32(buf + 4, PERC_STUN_MAGIC_COOKIE);
    for (unsigned i = 0; i < 12; i++)
        buf[8 + i] = (uint8_t)(0xa0 + i);
    return 20u + attr_len;
}

static void test_every_first_octet(void **state)
{
    (void)state;
    size_t counts[8] = {0};
    for (unsigned b = 0; b < 256; b++) {
        perc_demux_class c = perc_demux_first_octet((uint8_t)b);
        assert_int_equal(c, expected(b));
        counts[c]++;
    }
    assert_int_equal(counts[PERC_DEMUX_STUN], 4);
    assert_int_equal(counts[PERC_DEMUX_ZRTP], 4);
    assert_int_equal(counts[PERC_DEMUX_DTLS], 44);
    assert_int_equal(counts[PERC_DEMUX_TURN_CHANNEL], 16);
    assert_int_equal(counts[PERC_DEMUX_RTP_OR_RTCP], 64);
    assert_int_equal(counts[PERC_DEMUX_UNKNOWN], 256 - 4 - 4 - 44 - 16 - 64);
}

/* classify() on a 20-octet datagram of each first octet, second octet 0
 * (RTP): it agrees with the table except where it is stricter (STUN needs a
 * real header). */
static void test_classify_every_first_octet(void **state)
{
    (void)state;
    for (unsigned b = 0; b < 256; b++) {
        uint8_t pkt[20] = {0};
        pkt[0] = (uint8_t)b;
        perc_demux_class want = expected(b);
        if (want == PERC_DEMUX_RTP_OR_RTCP)
            want = PERC_DEMUX_RTP;
        if (want == PERC_DEMUX_STUN)
            want = PERC_DEMUX_UNKNOWN; /* no magic cookie */
        assert_int_equal(perc_demux_classify(pkt, sizeof pkt), want);
    }
}

/* RFC 5761 §4: second octet 192..223 is RTCP, anything else RTP. */
static void test_rtp_rtcp_split(void **state)
{
    (void)state;
    for (unsigned first = 128; first <= 191; first++) {
        for (unsigned second = 0; second < 256; second++) {
            uint8_t pkt[12] = {0};
            pkt[0] = (uint8_t)first;
            pkt[1] = (uint8_t)second;
            perc_demux_class want =
                second >= 192 && second <= 223 ? PERC_DEMUX_RTCP : PERC_DEMUX_RTP;
            assert_int_equal(perc_demux_classify(pkt, sizeof pkt), want);
        }
    }
    /* A real SR header (PT 200), and RTP with the marker and PT 96 (224)
     * and PT 0 with the marker (128). */
    uint8_t sr[28];
    tu_hex("80c80006 11223344 0000000000000000 00000000 00000000 00000000", sr, sizeof sr);
    assert_int_equal(perc_demux_classify(sr, sizeof sr), PERC_DEMUX_RTCP);
    uint8_t rtp[12];
    tu_hex("80e00001 00000000 11223344", rtp, sizeof rtp);
    assert_int_equal(perc_demux_classify(rtp, sizeof rtp), PERC_DEMUX_RTP);
    rtp[1] = 0x80;
    assert_int_equal(perc_demux_classify(rtp, sizeof rtp), PERC_DEMUX_RTP);
    rtp[1] = 0x60; /* PT 96, no marker */
    assert_int_equal(perc_demux_classify(rtp, sizeof rtp), PERC_DEMUX_RTP);
}

/* Too short to be what the first octet says. */
static void test_minimum_lengths(void **state)
{
    (void)state;
    uint8_t pkt[12] = {0x80, 0x60};
    for (size_t n = 0; n < 12; n++)
        assert_int_equal(perc_demux_classify(pkt, n), PERC_DEMUX_UNKNOWN);
    assert_int_equal(perc_demux_classify(pkt, 12), PERC_DEMUX_RTP);
    pkt[1] = 0xc9; /* RR */
    for (size_t n = 0; n < 8; n++)
        assert_int_equal(perc_demux_classify(pkt, n), PERC_DEMUX_UNKNOWN);
    assert_int_equal(perc_demux_classify(pkt, 8), PERC_DEMUX_RTCP);
    assert_int_equal(perc_demux_classify(NULL, 0), PERC_DEMUX_UNKNOWN);
    assert_int_equal(perc_demux_classify(NULL, 5), PERC_DEMUX_UNKNOWN);
    /* A one-octet DTLS, ZRTP or TURN datagram is classified by its first
     * octet; their own parsers reject it. */
    const uint8_t dtls = 22;
    assert_int_equal(perc_demux_classify(&dtls, 1), PERC_DEMUX_DTLS);
}

static void test_stun_recogniser(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = stun_binding(buf, 0);
    assert_true(perc_demux_is_stun(buf, n));
    assert_int_equal(perc_demux_classify(buf, n), PERC_DEMUX_STUN);
    n = stun_binding(buf, 8);
    assert_true(perc_demux_is_stun(buf, n));
    /* A success response (0x0101). */
    perc_store_u16(buf, 0x0101);
    assert_int_equal(perc_demux_classify(buf, n), PERC_DEMUX_STUN);

    /* Every truncation of a valid message. */
    n = stun_binding(buf, 8);
    for (size_t cut = 0; cut < n; cut++)
        assert_false(perc_demux_is_stun(buf, cut));
    /* Trailing octets: the length must account for the whole datagram. */
    assert_false(perc_demux_is_stun(buf, n + 4));

    /* Wrong cookie, one bit at a time. */
    for (unsigned bit = 0; bit < 32; bit++) {
        stun_binding(buf, 0);
        buf[4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_false(perc_demux_is_stun(buf, 20));
        assert_int_equal(perc_demux_classify(buf, 20), PERC_DEMUX_UNKNOWN);
    }
    /* Length not a multiple of 4 (and matching the datagram). */
    n = stun_binding(buf, 6);
    assert_false(perc_demux_is_stun(buf, n));
    /* Top bits of the type set: not STUN (classify already says so from the
     * first octet; the recogniser says so on its own). */
    stun_binding(buf, 0);
    buf[0] = 0x40;
    assert_false(perc_demux_is_stun(buf, 20));
    assert_false(perc_demux_is_stun(NULL, 20));
}

static void test_class_names(void **state)
{
    (void)state;
    const char *seen[8];
    for (int c = PERC_DEMUX_UNKNOWN; c <= PERC_DEMUX_RTCP; c++) {
        seen[c] = perc_demux_class_name((perc_demux_class)c);
        assert_non_null(seen[c]);
        for (int k = 0; k < c; k++)
            assert_string_not_equal(seen[k], seen[c]);
    }
    assert_string_equal(perc_demux_class_name(PERC_DEMUX_DTLS), "dtls");
    assert_string_equal(perc_demux_class_name((perc_demux_class)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_first_octet),
        cmocka_unit_test(test_classify_every_first_octet),
        cmocka_unit_test(test_rtp_rtcp_split),
        cmocka_unit_test(test_minimum_lengths),
        cmocka_unit_test(test_stun_recogniser),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
