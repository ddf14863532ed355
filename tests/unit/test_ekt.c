/* EKT parameter sets, EKTPlaintext, Full field crypto, the EKTKey message
 * and the supported_ekt_ciphers extension (common/include/perc/ekt.h). The
 * receiver and the sender have their own programs (test_ekt_rx.c,
 * test_ekt_tx.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/ekt.h"
#include "perc/keywrap.h"
#include "test_util.h"
#include "vectors.h"

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return false;
    }
    return true;
}

static const tv_field *need(const tv_block *b, const char *name)
{
    const tv_field *fl = tv_get(b, name);
    assert_non_null(fl);
    return fl;
}

static void test_cipher_values(void **state)
{
    (void)state;
    /* README item 5: the wire values are the TLS enum's, 1 and 2. */
    assert_int_equal(PERC_EKT_CIPHER_AESKW_128, 1);
    assert_int_equal(PERC_EKT_CIPHER_AESKW_256, 2);
    assert_int_equal(perc_ekt_cipher_key_len(1), 16);
    assert_int_equal(perc_ekt_cipher_key_len(2), 32);
    assert_int_equal(perc_ekt_cipher_key_len(0), 0);
    assert_int_equal(perc_ekt_cipher_key_len(3), 0);
    assert_int_equal(PERC_EKT_EXT_SUPPORTED_CIPHERS, 39);
    assert_int_equal(PERC_EKT_HS_EKT_KEY, 26);
}

static void test_params(void **state)
{
    (void)state;
    uint8_t key[32], salt[16];
    memset(key, 0x11, sizeof key);
    memset(salt, 0x22, sizeof salt);
    perc_ekt_params p, q;
    assert_int_equal(perc_ekt_params_set(&p, 1, key, 16, salt, 12, 7, 10, 1000), PERC_OK);
    assert_int_equal(p.cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(p.spi, 7);
    assert_int_equal(p.key_len, 16);
    assert_int_equal(p.salt_len, 12);

    assert_int_equal(perc_ekt_params_set(&q, 1, key, 32, salt, 12, 7, 10, 0), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_ekt_params_set(&q, 2, key, 16, salt, 12, 7, 10, 0), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_ekt_params_set(&q, 1, key, 16, salt, 0, 7, 10, 0), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_ekt_params_set(&q, 0, key, 16, salt, 12, 7, 10, 0), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_params_set(&q, 3, key, 16, salt, 12, 7, 10, 0), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_params_set(&q, 1, key, 16, salt, 12, 7, 0x1000000, 0),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_ekt_params_set(&q, 2, key, 32, salt, 16, 7, 0xFFFFFF, 0), PERC_OK);

    /* TTL runs from arrival: 10 s after t=1000 ns */
    const uint64_t s = 1000000000ull;
    assert_false(perc_ekt_params_expired(&p, 1000));
    assert_false(perc_ekt_params_expired(&p, 1000 + 10 * s - 1));
    assert_true(perc_ekt_params_expired(&p, 1000 + 10 * s));
    assert_false(perc_ekt_params_expired(&p, 0)); /* clock before arrival */
    /* a TTL of 0 is no lifetime at all */
    assert_int_equal(perc_ekt_params_set(&q, 1, key, 16, salt, 12, 7, 0, 1000), PERC_OK);
    assert_true(perc_ekt_params_expired(&q, 1000));

    /* same: TTL and arrival time ignored, keys and salt compared */
    assert_int_equal(perc_ekt_params_set(&q, 1, key, 16, salt, 12, 7, 99, 5), PERC_OK);
    assert_true(perc_ekt_params_same(&p, &q));
    q.key[15] ^= 1;
    assert_false(perc_ekt_params_same(&p, &q));
    q.key[15] ^= 1;
    q.salt[11] ^= 1;
    assert_false(perc_ekt_params_same(&p, &q));
    q.salt[11] ^= 1;
    q.spi = 8;
    assert_false(perc_ekt_params_same(&p, &q));

    perc_ekt_params_wipe(&p);
    assert_true(all_zero(&p, sizeof p));
}

static void test_plaintext(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "ekt_full_field_aeskw128");
    assert_non_null(b);
    const tv_field *mk = need(b, "srtp_master_key"), *want = need(b, "ekt_plaintext");
    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(perc_ekt_plaintext_encode(mk->data, mk->len, 0x5501a0b2, 0, out, sizeof out, &n),
                     PERC_OK);
    assert_int_equal(n, want->len);
    assert_memory_equal(out, want->data, n);

    perc_ekt_plaintext pt;
    assert_int_equal(perc_ekt_plaintext_decode(want->data, want->len, &pt), PERC_OK);
    assert_int_equal(pt.master_key_len, 16);
    assert_memory_equal(pt.master_key, mk->data, 16);
    assert_int_equal(pt.ssrc, 0x5501a0b2);
    assert_int_equal(pt.roc, 0);

    /* every truncation */
    for (size_t len = 0; len < want->len; len++) {
        int rc = perc_ekt_plaintext_decode(want->data, len, &pt);
        assert_int_equal(rc, PERC_ERR_TRUNCATED);
        assert_true(all_zero(&pt, sizeof pt)); /* nothing half-decoded left */
    }
    /* trailing bytes */
    uint8_t longer[64];
    memcpy(longer, want->data, want->len);
    longer[want->len] = 0;
    assert_int_equal(perc_ekt_plaintext_decode(longer, want->len + 1, &pt), PERC_ERR_TRAILING);
    /* key length 0, 243 */
    const uint8_t zero_len[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(perc_ekt_plaintext_decode(zero_len, sizeof zero_len, &pt), PERC_ERR_MALFORMED);
    uint8_t big[1 + 243 + 8] = {243};
    assert_int_equal(perc_ekt_plaintext_decode(big, sizeof big, &pt), PERC_ERR_MALFORMED);
    big[0] = 242;
    assert_int_equal(perc_ekt_plaintext_decode(big, sizeof big - 1, &pt), PERC_OK);
    assert_int_equal(pt.master_key_len, 242);

    assert_int_equal(perc_ekt_plaintext_encode(mk->data, 0, 1, 2, out, sizeof out, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_plaintext_encode(mk->data, 16, 1, 2, out, 24, &n), PERC_ERR_NOSPACE);
    tv_free(&f);
}

/* The derived Full field vector, byte for byte (RFC 8870 §4.1, §4.3.1,
 * §4.4.1; computed, not from an RFC). */
static void test_full_field_vector(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "ekt_full_field_aeskw128");
    assert_non_null(b);
    const tv_field *ek = need(b, "ekt_key"), *mk = need(b, "srtp_master_key"),
                   *ct = need(b, "ekt_ciphertext"), *want = need(b, "full_ekt_field");
    const uint8_t salt[12] = {0};
    perc_ekt_params p;
    assert_int_equal(perc_ekt_params_set(&p, PERC_EKT_CIPHER_AESKW_128, ek->data, ek->len, salt,
                                         sizeof salt, 0x0001, 3600, 0),
                     PERC_OK);
    uint8_t out[80];
    size_t n = 0;
    assert_int_equal(perc_ekt_full_field_make(&p, mk->data, mk->len, 0x5501a0b2, 0, 0, out,
                                              sizeof out, &n),
                     PERC_OK);
    assert_int_equal(n, want->len);
    assert_memory_equal(out, want->data, n);

    perc_ekt_full full;
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_OK);
    assert_int_equal(full.ciphertext.len, ct->len);
    assert_memory_equal(full.ciphertext.ptr, ct->data, ct->len);

    perc_ekt_plaintext pt;
    assert_int_equal(perc_ekt_full_field_open(&p, &full, &pt), PERC_OK);
    assert_int_equal(pt.master_key_len, 16);
    assert_memory_equal(pt.master_key, mk->data, 16);
    assert_int_equal(pt.ssrc, 0x5501a0b2);
    assert_int_equal(pt.roc, 0);

    /* SPI of another set */
    perc_ekt_params other = p;
    other.spi = 2;
    assert_int_equal(perc_ekt_full_field_open(&other, &full, &pt), PERC_ERR_UNKNOWN_SPI);
    assert_true(all_zero(&pt, sizeof pt));
    /* wrong EKTKey */
    other = p;
    other.key[0] ^= 0x80;
    assert_int_equal(perc_ekt_full_field_open(&other, &full, &pt), PERC_ERR_AUTH);
    /* corrupted ciphertext, each octet */
    for (size_t i = 0; i < ct->len; i++) {
        out[i] ^= 0x01;
        assert_int_equal(perc_ekt_full_field_open(&p, &full, &pt), PERC_ERR_AUTH);
        out[i] ^= 0x01;
    }
    tv_free(&f);
}

static void test_full_field_sizes(void **state)
{
    (void)state;
    uint8_t ek[32], mk[240], salt[12] = {0}, out[300];
    memset(ek, 0x42, sizeof ek);
    memset(mk, 0x24, sizeof mk);
    perc_ekt_params p;
    assert_int_equal(perc_ekt_params_set(&p, 2, ek, 32, salt, 12, 9, 60, 0), PERC_OK);
    size_t n = 0;
    /* ekt.md §3.2: 63 octets for a 32-octet master key */
    assert_int_equal(perc_ekt_full_field_make(&p, mk, 32, 1, 2, 3, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 63);
    perc_ekt_full full;
    perc_ekt_plaintext pt;
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_OK);
    assert_int_equal(full.epoch, 3);
    assert_int_equal(perc_ekt_full_field_open(&p, &full, &pt), PERC_OK);
    assert_int_equal(pt.master_key_len, 32);
    assert_int_equal(pt.ssrc, 1);
    assert_int_equal(pt.roc, 2);

    /* the longest key whose wrap fits 251 octets, and one more */
    assert_int_equal(perc_ekt_full_field_make(&p, mk, 231, 1, 2, 3, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 248 + 7);
    assert_int_equal(perc_ekt_full_field_make(&p, mk, 232, 1, 2, 3, out, sizeof out, &n),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_ekt_full_field_make(&p, mk, 0, 1, 2, 3, out, sizeof out, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_full_field_make(&p, mk, 16, 1, 2, 3, out, 46, &n), PERC_ERR_NOSPACE);

    /* a wrap that verifies but holds no EKTPlaintext */
    uint8_t junk[20], wrapped[40], field[64];
    memset(junk, 0x09, sizeof junk);
    size_t wn = 0, fn = 0;
    assert_int_equal(perc_keywrap_wrap(p.key, p.key_len, junk, sizeof junk, wrapped, sizeof wrapped,
                                       &wn),
                     PERC_OK);
    assert_int_equal(perc_ekt_full_build(wrapped, wn, 9, 0, field, sizeof field, &fn), PERC_OK);
    assert_int_equal(perc_ekt_full_parse(field, fn, &full), PERC_OK);
    assert_int_equal(perc_ekt_full_field_open(&p, &full, &pt), PERC_ERR_MALFORMED);
    /* a ciphertext length no key wrap produces */
    assert_int_equal(perc_ekt_full_build(wrapped, 13, 9, 0, field, sizeof field, &fn), PERC_OK);
    assert_int_equal(perc_ekt_full_parse(field, fn, &full), PERC_OK);
    assert_int_equal(perc_ekt_full_field_open(&p, &full, &pt), PERC_ERR_AUTH);
}

/* EKTKey body: key c0..cf, salt a0..ab, SPI 1, TTL 3600 s. */
static const char *KEY_MSG_HEX = "0010c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                                 "000ca0a1a2a3a4a5a6a7a8a9aaab"
                                 "0001"
                                 "000e10";

static void test_key_msg(void **state)
{
    (void)state;
    uint8_t wire[64];
    size_t wlen = tu_hex(KEY_MSG_HEX, wire, sizeof wire);
    assert_int_equal(wlen, 37);

    perc_ekt_key_msg m;
    assert_int_equal(perc_ekt_key_msg_decode(wire, wlen, &m), PERC_OK);
    assert_int_equal(m.key_len, 16);
    assert_int_equal(m.key[0], 0xc0);
    assert_int_equal(m.key[15], 0xcf);
    assert_int_equal(m.salt_len, 12);
    assert_int_equal(m.salt[11], 0xab);
    assert_int_equal(m.spi, 1);
    assert_int_equal(m.ttl_s, 3600);

    uint8_t out[600];
    size_t n = 0;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, wlen);
    assert_memory_equal(out, wire, n);

    perc_ekt_params p;
    assert_int_equal(perc_ekt_params_from_msg(&p, PERC_EKT_CIPHER_AESKW_128, &m, 77), PERC_OK);
    assert_int_equal(p.spi, 1);
    assert_int_equal(p.ttl_s, 3600);
    assert_true(p.received_ns == 77);
    assert_memory_equal(p.key, m.key, 16);
    /* the negotiated cipher fixes the EKTKey length */
    assert_int_equal(perc_ekt_params_from_msg(&p, PERC_EKT_CIPHER_AESKW_256, &m, 77),
                     PERC_ERR_KEY_LENGTH);

    perc_ekt_key_msg_wipe(&m);
    assert_true(all_zero(&m, sizeof m));

    /* every truncation fails and leaves no key material behind */
    for (size_t len = 0; len < wlen; len++) {
        memset(&m, 0x5A, sizeof m);
        int rc = perc_ekt_key_msg_decode(wire, len, &m);
        assert_int_equal(rc, PERC_ERR_TRUNCATED);
        assert_true(all_zero(&m, sizeof m));
    }
    /* trailing bytes */
    wire[wlen] = 0;
    assert_int_equal(perc_ekt_key_msg_decode(wire, wlen + 1, &m), PERC_ERR_TRAILING);
    assert_true(all_zero(&m, sizeof m));
}

static void test_key_msg_vector_bounds(void **state)
{
    (void)state;
    perc_ekt_key_msg m;
    memset(&m, 0, sizeof m);
    uint8_t out[600];
    size_t n = 0;

    /* empty vectors are not allowed (<1..256>) */
    const uint8_t empty_key[] = {0x00, 0x00, 0x00, 0x01, 0xaa, 0x00, 0x01, 0x00, 0x00, 0x01};
    assert_int_equal(perc_ekt_key_msg_decode(empty_key, sizeof empty_key, &m), PERC_ERR_MALFORMED);
    const uint8_t empty_salt[] = {0x00, 0x01, 0xaa, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01};
    assert_int_equal(perc_ekt_key_msg_decode(empty_salt, sizeof empty_salt, &m),
                     PERC_ERR_MALFORMED);

    /* 256 octets each is the maximum; a 257-octet vector is refused */
    m.key_len = 256;
    memset(m.key, 0x01, 256);
    m.salt_len = 256;
    memset(m.salt, 0x02, 256);
    m.spi = 0xFFFF;
    m.ttl_s = 0xFFFFFF;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 2 + 256 + 2 + 256 + 2 + 3);
    assert_int_equal(out[0], 0x01);
    assert_int_equal(out[1], 0x00);
    perc_ekt_key_msg back;
    assert_int_equal(perc_ekt_key_msg_decode(out, n, &back), PERC_OK);
    assert_int_equal(back.key_len, 256);
    assert_int_equal(back.salt_len, 256);
    assert_int_equal(back.spi, 0xFFFF);
    assert_int_equal(back.ttl_s, 0xFFFFFF);

    static uint8_t big[2 + 257 + 2 + 1 + 5];
    big[0] = 0x01;
    big[1] = 0x01; /* 257 */
    big[259] = 0x00;
    big[260] = 0x01;
    assert_int_equal(perc_ekt_key_msg_decode(big, sizeof big, &back), PERC_ERR_MALFORMED);

    /* encoder refuses what the decoder would */
    m.ttl_s = 0x1000000;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_ERR_TOO_LARGE);
    m.ttl_s = 1;
    m.key_len = 257;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    m.key_len = 0;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    m.key_len = 16;
    m.salt_len = 0;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    m.salt_len = 12;
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, 36, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_ekt_key_msg_encode(&m, out, 37, &n), PERC_OK);
}

static void test_ciphers_extension(void **state)
{
    (void)state;
    uint8_t out[300], list[255];
    size_t n = 0, count = 0;

    /* ekt.md §7.1 examples */
    const uint8_t one[] = {1};
    assert_int_equal(perc_ekt_ciphers_client_encode(one, 1, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0x01);
    assert_int_equal(out[1], 0x01);
    const uint8_t two[] = {1, 2};
    assert_int_equal(perc_ekt_ciphers_client_encode(two, 2, out, sizeof out, &n), PERC_OK);
    const uint8_t want2[] = {0x02, 0x01, 0x02};
    assert_int_equal(n, 3);
    assert_memory_equal(out, want2, 3);
    assert_int_equal(perc_ekt_ciphers_client_decode(out, n, list, sizeof list, &count), PERC_OK);
    assert_int_equal(count, 2);
    assert_memory_equal(list, two, 2);

    /* every truncation, trailing bytes */
    for (size_t len = 0; len < 3; len++)
        assert_int_equal(perc_ekt_ciphers_client_decode(want2, len, list, sizeof list, &count),
                         PERC_ERR_TRUNCATED);
    const uint8_t trailing[] = {0x02, 0x01, 0x02, 0x00};
    assert_int_equal(perc_ekt_ciphers_client_decode(trailing, 4, list, sizeof list, &count),
                     PERC_ERR_TRAILING);
    /* empty list, reserved 0, too many for the caller's array */
    const uint8_t empty[] = {0x00};
    assert_int_equal(perc_ekt_ciphers_client_decode(empty, 1, list, sizeof list, &count),
                     PERC_ERR_MALFORMED);
    const uint8_t zero[] = {0x02, 0x01, 0x00};
    assert_int_equal(perc_ekt_ciphers_client_decode(zero, 3, list, sizeof list, &count),
                     PERC_ERR_MALFORMED);
    assert_int_equal(perc_ekt_ciphers_client_decode(want2, 3, list, 1, &count), PERC_ERR_NOSPACE);
    /* unknown values are carried */
    const uint8_t odd[] = {0x02, 0x07, 0x01};
    assert_int_equal(perc_ekt_ciphers_client_decode(odd, 3, list, sizeof list, &count), PERC_OK);
    assert_int_equal(list[0], 7);

    /* 255 ciphers is the most the one-octet length allows */
    uint8_t many[256];
    memset(many, 1, sizeof many);
    assert_int_equal(perc_ekt_ciphers_client_encode(many, 255, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 256);
    assert_int_equal(perc_ekt_ciphers_client_encode(many, 256, out, sizeof out, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_ciphers_client_encode(many, 0, out, sizeof out, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_ciphers_client_encode(zero + 1, 2, out, sizeof out, &n),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_ciphers_client_encode(two, 2, out, 2, &n), PERC_ERR_NOSPACE);

    /* server: one octet */
    uint8_t c = 0;
    assert_int_equal(perc_ekt_cipher_server_encode(2, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(perc_ekt_cipher_server_decode(out, 1, &c), PERC_OK);
    assert_int_equal(c, 2);
    assert_int_equal(perc_ekt_cipher_server_decode(out, 0, &c), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_ekt_cipher_server_decode(want2, 2, &c), PERC_ERR_TRAILING);
    assert_int_equal(perc_ekt_cipher_server_decode(empty, 1, &c), PERC_ERR_MALFORMED);
    assert_int_equal(perc_ekt_cipher_server_encode(0, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_cipher_server_encode(1, out, 0, &n), PERC_ERR_NOSPACE);

    /* selection follows the client's order */
    const uint8_t offered[] = {2, 1}, ours[] = {1, 2}, only256[] = {2}, other[] = {5};
    assert_int_equal(perc_ekt_cipher_select(offered, 2, ours, 2, &c), PERC_OK);
    assert_int_equal(c, 2);
    assert_int_equal(perc_ekt_cipher_select(one, 1, ours, 2, &c), PERC_OK);
    assert_int_equal(c, 1);
    assert_int_equal(perc_ekt_cipher_select(one, 1, only256, 1, &c), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_ekt_cipher_select(offered, 2, other, 1, &c), PERC_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cipher_values),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_plaintext),
        cmocka_unit_test(test_full_field_vector),
        cmocka_unit_test(test_full_field_sizes),
        cmocka_unit_test(test_key_msg),
        cmocka_unit_test(test_key_msg_vector_bounds),
        cmocka_unit_test(test_ciphers_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
