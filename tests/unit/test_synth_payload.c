/* The synthetic test payload (perc/synth_payload.h): round trips over the
 * whole size range, every truncation and every trailing octet refused, and
 * every single-bit corruption detected with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "perc/synth_payload.h"

static size_t make(uint32_t sender, uint32_t seq, uint32_t ts, size_t len, uint8_t *buf, size_t cap)
{
    perc_synth_payload p = {.sender_id = sender, .seq = seq, .rtp_ts = ts, .len = len};
    size_t n = 0;
    assert_int_equal(perc_synth_encode(&p, buf, cap, &n), PERC_OK);
    assert_int_equal(n, len);
    return n;
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t buf[PERC_SYNTH_MAX_LEN];
    const size_t sizes[] = {PERC_SYNTH_MIN_LEN, PERC_SYNTH_MIN_LEN + 1, 100, 160, 999,
                            PERC_SYNTH_MAX_LEN};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = make(0xA1B2C3D4u, 0xFFFFFFF0u + (uint32_t)i, 48000u * (uint32_t)i, sizes[i],
                        buf, sizeof buf);
        perc_synth_payload out;
        perc_synth_status why = PERC_SYNTH_BAD_MAGIC;
        assert_int_equal(perc_synth_decode(buf, n, &out, &why), PERC_OK);
        assert_int_equal(why, PERC_SYNTH_OK);
        assert_int_equal(out.sender_id, 0xA1B2C3D4u);
        assert_int_equal(out.seq, 0xFFFFFFF0u + (uint32_t)i);
        assert_int_equal(out.rtp_ts, 48000u * (uint32_t)i);
        assert_int_equal(out.len, sizes[i]);
    }
    /* The documented layout, field by field. */
    size_t n = make(0x01020304u, 0x05060708u, 0x090A0B0Cu, 30, buf, sizeof buf);
    static const uint8_t head[] = {'P', 'S', 'Y', 'N', 1, 0, 0, 30, 1, 2, 3, 4,
                                   5, 6, 7, 8, 9, 10, 11, 12};
    assert_memory_equal(buf, head, sizeof head);
    assert_int_equal(buf[20], (uint8_t)(0x01020304u * 31u + 0x05060708u * 7u));
    assert_int_equal(buf[21], (uint8_t)(0x01020304u * 31u + 0x05060708u * 7u + 13u));
    assert_int_equal(n, 30);
}

static void test_encode_errors(void **state)
{
    (void)state;
    uint8_t buf[PERC_SYNTH_MAX_LEN + 1];
    size_t n;
    perc_synth_payload p = {.sender_id = 1, .seq = 2, .rtp_ts = 3, .len = PERC_SYNTH_MIN_LEN - 1};
    assert_int_equal(perc_synth_encode(&p, buf, sizeof buf, &n), PERC_ERR_INVALID_ARG);
    p.len = PERC_SYNTH_MAX_LEN + 1;
    assert_int_equal(perc_synth_encode(&p, buf, sizeof buf, &n), PERC_ERR_INVALID_ARG);
    p.len = 64;
    assert_int_equal(perc_synth_encode(&p, buf, 63, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_synth_encode(NULL, buf, sizeof buf, &n), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_synth_encode(&p, NULL, sizeof buf, &n), PERC_ERR_INVALID_ARG);
    perc_synth_payload out;
    assert_int_equal(perc_synth_decode(buf, 10, NULL, NULL), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_synth_decode(NULL, 10, &out, NULL), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_synth_decode(NULL, 0, &out, NULL), PERC_ERR_TRUNCATED);
}

static void test_every_truncation_and_trailing(void **state)
{
    (void)state;
    uint8_t buf[PERC_SYNTH_MAX_LEN + 8];
    size_t n = make(7, 9, 11, 90, buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++) {
        perc_synth_payload out;
        perc_synth_status why;
        assert_int_equal(perc_synth_decode(buf, cut, &out, &why), PERC_ERR_TRUNCATED);
        assert_int_equal(why, PERC_SYNTH_SHORT);
        assert_int_equal(out.len, 0);
    }
    for (size_t extra = 1; extra <= 8; extra++) {
        buf[n + extra - 1] = 0;
        perc_synth_payload out;
        perc_synth_status why;
        assert_int_equal(perc_synth_decode(buf, n + extra, &out, &why), PERC_ERR_TRAILING);
        assert_int_equal(why, PERC_SYNTH_LONG);
    }
}

/* Every single-bit flip anywhere is refused, with a reason that fits the
 * field it hit. */
static void test_every_bit_flip_detected(void **state)
{
    (void)state;
    uint8_t good[64], buf[64];
    size_t n = make(0x11223344u, 77, 160, sizeof good, good, sizeof good);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, good, n);
            buf[i] ^= (uint8_t)(1u << bit);
            perc_synth_payload out;
            perc_synth_status why = PERC_SYNTH_OK;
            int rc = perc_synth_decode(buf, n, &out, &why);
            assert_true(rc < 0);
            assert_int_not_equal(why, PERC_SYNTH_OK);
            if (i < 4)
                assert_int_equal(why, PERC_SYNTH_BAD_MAGIC);
            else if (i == 4)
                assert_int_equal(why, PERC_SYNTH_BAD_VERSION);
            else if (i == 5)
                assert_int_equal(why, PERC_SYNTH_BAD_FLAGS);
            else if (i == 6 || i == 7)
                assert_true(why == PERC_SYNTH_SHORT || why == PERC_SYNTH_LONG ||
                            why == PERC_SYNTH_BAD_LENGTH);
            else
                assert_int_equal(why, PERC_SYNTH_BAD_CHECKSUM);
        }
    }
}

/* A payload whose checksum was recomputed over a wrong filler (an encoder
 * bug, or a forger who knows the format) still fails on the pattern; a
 * wrong filler without a fixed checksum fails on the checksum. */
static void test_filler_checked(void **state)
{
    (void)state;
    uint8_t buf[48], other[48];
    size_t n = make(5, 6, 7, sizeof buf, buf, sizeof buf);
    (void)make(8, 6, 7, sizeof other, other, sizeof other);
    memcpy(buf + PERC_SYNTH_HEADER_LEN, other + PERC_SYNTH_HEADER_LEN, n - PERC_SYNTH_MIN_LEN);
    perc_synth_payload out;
    perc_synth_status why;
    assert_int_equal(perc_synth_decode(buf, n, &out, &why), PERC_ERR_MALFORMED);
    assert_int_equal(why, PERC_SYNTH_BAD_CHECKSUM);

    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    assert_int_equal(EVP_Digest(buf, n - PERC_SYNTH_CHECKSUM_LEN, md, &md_len, EVP_sha256(), NULL),
                     1);
    memcpy(buf + n - PERC_SYNTH_CHECKSUM_LEN, md, PERC_SYNTH_CHECKSUM_LEN);
    assert_int_equal(perc_synth_decode(buf, n, &out, &why), PERC_ERR_MALFORMED);
    assert_int_equal(why, PERC_SYNTH_BAD_FILLER);
    assert_int_equal(perc_synth_decode(other, n, &out, &why), PERC_OK);
    assert_int_equal(out.sender_id, 8);
}

static void test_bad_length_field(void **state)
{
    (void)state;
    uint8_t buf[PERC_SYNTH_MAX_LEN + 2];
    size_t n = make(1, 1, 1, 40, buf, sizeof buf);
    perc_synth_payload out;
    perc_synth_status why;
    buf[6] = 0;
    buf[7] = PERC_SYNTH_MIN_LEN - 1;
    assert_int_equal(perc_synth_decode(buf, n, &out, &why), PERC_ERR_MALFORMED);
    assert_int_equal(why, PERC_SYNTH_BAD_LENGTH);
    buf[6] = (uint8_t)((PERC_SYNTH_MAX_LEN + 1) >> 8);
    buf[7] = (uint8_t)(PERC_SYNTH_MAX_LEN + 1);
    assert_int_equal(perc_synth_decode(buf, sizeof buf, &out, &why), PERC_ERR_MALFORMED);
    assert_int_equal(why, PERC_SYNTH_BAD_LENGTH);
    assert_string_equal(perc_synth_status_name(PERC_SYNTH_BAD_LENGTH), "bad_length");
    assert_string_equal(perc_synth_status_name((perc_synth_status)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_every_truncation_and_trailing),
        cmocka_unit_test(test_every_bit_flip_detected),
        cmocka_unit_test(test_filler_checked),
        cmocka_unit_test(test_bad_length_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
