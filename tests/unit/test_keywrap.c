/* AES Key Wrap with Padding (common/include/perc/keywrap.h), RFC 5649. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "perc/keywrap.h"
#include "test_util.h"
#include "vectors.h"

static const tv_block *need_block(const tv_file *f, const char *id)
{
    const tv_block *b = tv_find(f, id);
    assert_non_null(b);
    return b;
}

static const tv_field *need(const tv_block *b, const char *name)
{
    const tv_field *fl = tv_get(b, name);
    assert_non_null(fl);
    return fl;
}

/* RFC 5649 §6: both vectors, wrap byte-exact and unwrap back. */
static void check_vector(const char *id)
{
    tv_file f;
    assert_int_equal(tv_load("rfc5649-keywrap.txt", &f), 0);
    const tv_block *b = need_block(&f, id);
    const tv_field *kek = need(b, "kek"), *pt = need(b, "key_data"), *ct = need(b, "wrapped");

    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(perc_keywrap_wrapped_len(pt->len), ct->len);
    assert_int_equal(perc_keywrap_wrap(kek->data, kek->len, pt->data, pt->len, out, sizeof out, &n),
                     PERC_OK);
    assert_int_equal(n, ct->len);
    assert_memory_equal(out, ct->data, n);

    memset(out, 0, sizeof out);
    assert_int_equal(
        perc_keywrap_unwrap(kek->data, kek->len, ct->data, ct->len, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, pt->len);
    assert_memory_equal(out, pt->data, n);
    tv_free(&f);
}

static void test_rfc5649_20_octets(void **state)
{
    (void)state;
    check_vector("rfc5649_wrap_20_octets_kek192");
}

static void test_rfc5649_7_octets(void **state)
{
    (void)state;
    check_vector("rfc5649_wrap_7_octets_kek192");
}

/* Round trips for every plaintext length EKT can use, both EKT KEK sizes;
 * the output length follows 8*ceil(M/8)+8 (spec README item 4). */
static void test_round_trip_lengths(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 5649);
    const size_t kek_lens[] = {16, 24, 32};
    for (size_t k = 0; k < 3; k++) {
        uint8_t kek[32];
        tu_rng_fill(&rng, kek, sizeof kek);
        for (size_t m = 1; m <= 260; m++) {
            uint8_t pt[260], ct[280], back[280];
            size_t n = 0, nb = 0;
            tu_rng_fill(&rng, pt, m);
            assert_int_equal(perc_keywrap_wrap(kek, kek_lens[k], pt, m, ct, sizeof ct, &n), PERC_OK);
            assert_int_equal(n, 8 * ((m + 7) / 8) + 8);
            assert_int_equal(perc_keywrap_unwrap(kek, kek_lens[k], ct, n, back, sizeof back, &nb),
                             PERC_OK);
            assert_int_equal(nb, m);
            assert_memory_equal(back, pt, m);
        }
    }
    assert_int_equal(perc_keywrap_wrapped_len(0), 0);
    assert_int_equal(perc_keywrap_wrapped_len(25), 40); /* EKT, 16-octet master key */
    assert_int_equal(perc_keywrap_wrapped_len(41), 56); /* EKT, 32-octet master key */
}

static void test_unwrap_rejects(void **state)
{
    (void)state;
    uint8_t kek[16], kek2[16], pt[25], ct[40], out[64];
    size_t n = 0;
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    tu_rng_fill(&rng, kek, sizeof kek);
    memcpy(kek2, kek, sizeof kek);
    kek2[15] ^= 1;
    tu_rng_fill(&rng, pt, sizeof pt);
    assert_int_equal(perc_keywrap_wrap(kek, 16, pt, sizeof pt, ct, sizeof ct, &n), PERC_OK);
    assert_int_equal(n, 40);

    /* wrong key */
    memset(out, 0xEE, sizeof out);
    assert_int_equal(perc_keywrap_unwrap(kek2, 16, ct, 40, out, sizeof out, &n), PERC_ERR_AUTH);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xEE); /* nothing released on failure */

    /* every single-bit corruption */
    for (size_t i = 0; i < 40 * 8; i++) {
        uint8_t bad[40];
        memcpy(bad, ct, sizeof bad);
        bad[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(perc_keywrap_unwrap(kek, 16, bad, 40, out, sizeof out, &n), PERC_ERR_AUTH);
    }

    /* lengths no wrap produces: short, not whole blocks, truncated */
    for (size_t len = 0; len < 40; len++)
        assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, len, out, sizeof out, &n), PERC_ERR_AUTH);
    /* trailing block appended */
    uint8_t longer[48];
    memcpy(longer, ct, 40);
    memset(longer + 40, 0, 8);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, longer, 48, out, sizeof out, &n), PERC_ERR_AUTH);

    /* output buffer too small for the plaintext */
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 40, out, 24, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 40, out, 25, &n), PERC_OK);
    assert_int_equal(n, 25);
}

/* The single-block case of RFC 5649 §4.1 is one AES-ECB block of
 * AIV || padded P, so hand-made blocks with a bad MLI, bad padding or the
 * wrong IV constant can be produced directly and must all be refused. */
static void ecb_encrypt(const uint8_t kek[16], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, kek, NULL), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_EncryptUpdate(ctx, out, &l1, in, 16), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, out + l1, &l2), 1);
    assert_int_equal(l1 + l2, 16);
    EVP_CIPHER_CTX_free(ctx);
}

static void test_unwrap_rejects_bad_mli_and_padding(void **state)
{
    (void)state;
    const uint8_t kek[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t block[16], ct[16], out[16];
    size_t n = 0;

    /* A good single-block wrap of 3 octets: AIV A659 59A6 || MLI 3 || P || 0 pad. */
    const uint8_t good[16] = {0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0};
    ecb_encrypt(kek, good, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "abc", 3);

    /* non-zero padding octet */
    memcpy(block, good, 16);
    block[15] = 0x01;
    ecb_encrypt(kek, block, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_ERR_AUTH);

    /* MLI 0 and MLI larger than the 8 octets present */
    memcpy(block, good, 16);
    block[7] = 0;
    ecb_encrypt(kek, block, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_ERR_AUTH);
    block[7] = 9;
    ecb_encrypt(kek, block, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_ERR_AUTH);
    block[7] = 3;
    block[4] = 0x80; /* huge MLI */
    ecb_encrypt(kek, block, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_ERR_AUTH);

    /* wrong AIV constant (the RFC 3394 IV A6A6A6A6 instead) */
    memcpy(block, good, 16);
    block[1] = 0xA6;
    block[2] = 0xA6;
    ecb_encrypt(kek, block, ct);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, ct, 16, out, sizeof out, &n), PERC_ERR_AUTH);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t kek[32] = {0}, pt[8] = {0}, out[64];
    size_t n = 0;
    assert_int_equal(perc_keywrap_wrap(kek, 20, pt, 8, out, sizeof out, &n), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_keywrap_unwrap(kek, 0, out, 16, pt, 8, &n), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_keywrap_wrap(kek, 16, pt, 0, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_keywrap_wrap(kek, 16, pt, 8, out, 15, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_keywrap_wrap(kek, 16, pt, 8, out, 16, &n), PERC_OK);
    assert_int_equal(n, 16);
    static uint8_t big[PERC_KEYWRAP_MAX_PLAIN + 1];
    static uint8_t bigout[PERC_KEYWRAP_MAX_WRAPPED + 16];
    assert_int_equal(perc_keywrap_wrap(kek, 16, big, sizeof big, bigout, sizeof bigout, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_keywrap_wrap(kek, 16, big, PERC_KEYWRAP_MAX_PLAIN, bigout, sizeof bigout, &n),
                     PERC_OK);
    assert_int_equal(n, PERC_KEYWRAP_MAX_WRAPPED);
    assert_int_equal(perc_keywrap_unwrap(kek, 16, bigout, n, big, sizeof big, &n), PERC_OK);
    assert_int_equal(n, PERC_KEYWRAP_MAX_PLAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5649_20_octets),
        cmocka_unit_test(test_rfc5649_7_octets),
        cmocka_unit_test(test_round_trip_lengths),
        cmocka_unit_test(test_unwrap_rejects),
        cmocka_unit_test(test_unwrap_rejects_bad_mli_and_padding),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
