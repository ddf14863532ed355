/* Byte reader and writer (common/include/perc/bytes.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/bytes.h"
#include "perc/hex.h"
#include "perc/secret.h"
#include "test_util.h"

static void test_read_integers(void **state)
{
    (void)state;
    const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                          0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
                          0x15, 0x16, 0x17, 0x18};
    perc_reader r;
    perc_reader_init(&r, in, sizeof in);
    uint8_t u8;
    uint16_t u16;
    uint32_t u24, u32;
    uint64_t u48, u64;
    assert_int_equal(perc_read_u8(&r, &u8), PERC_OK);
    assert_int_equal(u8, 0x01);
    assert_int_equal(perc_read_u16(&r, &u16), PERC_OK);
    assert_int_equal(u16, 0x0203);
    assert_int_equal(perc_read_u24(&r, &u24), PERC_OK);
    assert_int_equal(u24, 0x040506);
    assert_int_equal(perc_read_u32(&r, &u32), PERC_OK);
    assert_int_equal(u32, 0x0708090a);
    assert_int_equal(perc_read_u48(&r, &u48), PERC_OK);
    assert_true(u48 == 0x0b0c0d0e0f10ull);
    assert_int_equal(perc_read_u64(&r, &u64), PERC_OK);
    assert_true(u64 == 0x1112131415161718ull);
    assert_int_equal(perc_reader_expect_end(&r), PERC_OK);
    assert_int_equal(perc_read_u8(&r, &u8), PERC_ERR_TRUNCATED);
}

static void test_truncated_read_does_not_move(void **state)
{
    (void)state;
    const uint8_t in[] = {0xaa, 0xbb, 0xcc};
    perc_reader r;
    perc_reader_init(&r, in, sizeof in);
    uint32_t v = 0x12345678;
    assert_int_equal(perc_read_u32(&r, &v), PERC_ERR_TRUNCATED);
    assert_int_equal(v, 0x12345678);
    assert_int_equal(perc_reader_remaining(&r), 3);
    assert_int_equal(perc_reader_expect_end(&r), PERC_ERR_TRAILING);
}

static void test_blocks_confine_and_truncate(void **state)
{
    (void)state;
    /* 2-byte length 3, body aa bb cc, then dd */
    const uint8_t in[] = {0x00, 0x03, 0xaa, 0xbb, 0xcc, 0xdd};
    perc_reader r, sub;
    perc_reader_init(&r, in, sizeof in);
    assert_int_equal(perc_read_block(&r, 2, &sub), PERC_OK);
    assert_int_equal(perc_reader_remaining(&sub), 3);
    uint32_t v;
    assert_int_equal(perc_read_u32(&sub, &v), PERC_ERR_TRUNCATED); /* cannot read past block */
    assert_int_equal(perc_read_u24(&sub, &v), PERC_OK);
    assert_int_equal(v, 0xaabbcc);
    assert_int_equal(perc_reader_remaining(&r), 1);

    /* every truncation of a length-prefixed vector fails and leaves r unmoved */
    for (size_t n = 0; n < 5; n++) {
        perc_reader t;
        perc_view view;
        perc_reader_init(&t, in, n);
        assert_int_equal(perc_read_vector(&t, 2, &view), PERC_ERR_TRUNCATED);
        assert_int_equal(t.pos, 0);
    }
    perc_view view;
    perc_reader_init(&r, in, sizeof in);
    assert_int_equal(perc_read_vector(&r, 4, &view), PERC_ERR_INVALID_ARG);
}

static void test_writer_backpatch_and_overflow(void **state)
{
    (void)state;
    uint8_t buf[16];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    perc_write_u8(&w, 0x01);
    perc_block_mark m = perc_write_block_open(&w, 2);
    perc_write_u24(&w, 0x0a0b0c);
    perc_write_vector(&w, 1, (const uint8_t *)"\x11\x22", 2);
    perc_write_block_close(&w, m);
    size_t len;
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    const uint8_t want[] = {0x01, 0x00, 0x06, 0x0a, 0x0b, 0x0c, 0x02, 0x11, 0x22};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);

    /* overflow is sticky and reported once at the end */
    perc_writer_init(&w, buf, 3);
    perc_write_u16(&w, 1);
    perc_write_u16(&w, 2);
    perc_write_u8(&w, 3);
    assert_int_equal(perc_writer_finish(&w, &len), PERC_ERR_NOSPACE);
    assert_null(perc_write_reserve(&w, 1));

    /* a block too long for its 1-byte prefix */
    uint8_t big[300];
    perc_writer_init(&w, big, sizeof big);
    m = perc_write_block_open(&w, 1);
    perc_write_zeros(&w, 256);
    perc_write_block_close(&w, m);
    assert_int_equal(perc_writer_finish(&w, &len), PERC_ERR_TOO_LARGE);

    /* values too large for their width */
    perc_writer_init(&w, big, sizeof big);
    perc_write_u24(&w, 0x1000000u);
    assert_int_equal(perc_writer_error(&w), PERC_ERR_TOO_LARGE);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    assert_int_equal(perc_hex_decode("00aAfF 10\n", out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\x00\xaa\xff\x10", 4);
    assert_int_equal(perc_hex_decode("abc", out, sizeof out, &n), PERC_ERR_HEX);
    assert_int_equal(perc_hex_decode("zz", out, sizeof out, &n), PERC_ERR_HEX);
    assert_int_equal(perc_hex_decode("a b", out, sizeof out, &n), PERC_ERR_HEX);
    assert_int_equal(perc_hex_decode("000000000000000000", out, sizeof out, &n), PERC_ERR_NOSPACE);
    char text[9];
    memcpy(out, "\x00\xaa\xff\x10", 4);
    assert_int_equal(perc_hex_encode(out, 4, text, sizeof text), PERC_OK);
    assert_string_equal(text, "00aaff10");
    assert_int_equal(perc_hex_encode(out, 4, text, 8), PERC_ERR_NOSPACE);
}

static void test_secret_helpers(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(perc_secret_equal(a, b, sizeof a));
    b[15] ^= 1;
    assert_false(perc_secret_equal(a, b, sizeof a));
    perc_wipe(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        assert_int_equal(a[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_integers),
        cmocka_unit_test(test_truncated_read_does_not_move),
        cmocka_unit_test(test_blocks_confine_and_truncate),
        cmocka_unit_test(test_writer_backpatch_and_overflow),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_secret_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
