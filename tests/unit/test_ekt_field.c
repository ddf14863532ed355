/* EKT field framing (common/include/perc/ekt_field.h), RFC 8870 §4.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/ekt_field.h"
#include "test_util.h"
#include "vectors.h"

/* The derived Full field (tests/vectors/digest-derived-perc.txt). */
static size_t load_full_field(uint8_t *out, size_t cap)
{
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "ekt_full_field_aeskw128");
    assert_non_null(b);
    const tv_field *fl = tv_get(b, "full_ekt_field");
    assert_non_null(fl);
    assert_true(fl->len <= cap);
    memcpy(out, fl->data, fl->len);
    size_t n = fl->len;
    tv_free(&f);
    return n;
}

/* A stand-in SRTP packet: its contents do not matter to framing. */
static const uint8_t SRTP[] = {0x80, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x55, 0x01,
                               0xa0, 0xb2, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x02, 0x00, 0x00};

static void test_full_field_vector(void **state)
{
    (void)state;
    uint8_t field[64], pkt[128];
    size_t flen = load_full_field(field, sizeof field);
    assert_int_equal(flen, 47);
    memcpy(pkt, SRTP, sizeof SRTP);
    memcpy(pkt + sizeof SRTP, field, flen);

    perc_ekt_field fld;
    assert_int_equal(perc_ekt_field_find(pkt, sizeof SRTP + flen, &fld), PERC_OK);
    assert_int_equal(fld.type, PERC_EKT_TYPE_FULL);
    assert_int_equal(fld.srtp_len, sizeof SRTP);
    assert_ptr_equal(fld.field.ptr, pkt + sizeof SRTP);
    assert_int_equal(fld.field.len, 47);

    perc_ekt_full full;
    assert_int_equal(perc_ekt_full_parse(fld.field.ptr, fld.field.len, &full), PERC_OK);
    assert_int_equal(full.spi, 0x0001);
    assert_int_equal(full.epoch, 0x0000);
    assert_int_equal(full.ciphertext.len, 40);
    assert_ptr_equal(full.ciphertext.ptr, fld.field.ptr);

    /* rebuild byte for byte */
    uint8_t again[64];
    size_t n = 0;
    assert_int_equal(perc_ekt_full_build(full.ciphertext.ptr, full.ciphertext.len, full.spi,
                                         full.epoch, again, sizeof again, &n),
                     PERC_OK);
    assert_int_equal(n, 47);
    assert_memory_equal(again, field, 47);
    assert_int_equal(perc_ekt_full_len(40), 47);
}

static void test_short_field(void **state)
{
    (void)state;
    uint8_t pkt[sizeof SRTP + 1];
    memcpy(pkt, SRTP, sizeof SRTP);
    size_t n = 0;
    assert_int_equal(perc_ekt_short_build(pkt + sizeof SRTP, 1, &n), PERC_OK);
    assert_int_equal(n, 1);
    assert_int_equal(pkt[sizeof SRTP], 0x00);
    perc_ekt_field fld;
    assert_int_equal(perc_ekt_field_find(pkt, sizeof pkt, &fld), PERC_OK);
    assert_int_equal(fld.type, PERC_EKT_TYPE_SHORT);
    assert_int_equal(fld.srtp_len, sizeof SRTP);
    assert_int_equal(fld.field.len, 1);
    /* a Short field alone is well framed (what precedes is SRTP's business) */
    assert_int_equal(perc_ekt_field_find(pkt + sizeof SRTP, 1, &fld), PERC_OK);
    assert_int_equal(fld.srtp_len, 0);
    assert_int_equal(perc_ekt_short_build(pkt, 0, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_ekt_field_find(pkt, 0, &fld), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_ekt_field_find(NULL, 5, &fld), PERC_ERR_TRUNCATED);
}

/* Every truncation of a Full field. Parsed from the end, a truncation can
 * lose the front (the Length then exceeds what is left) or the back (the
 * trailer is then made of ciphertext octets); both must fail. */
static void test_full_field_truncations(void **state)
{
    (void)state;
    uint8_t field[64];
    size_t flen = load_full_field(field, sizeof field);
    perc_ekt_full full;
    perc_ekt_field fld;
    for (size_t drop = 1; drop <= flen; drop++) {
        /* front lost: the field alone is the whole packet */
        const uint8_t *rest = field + drop;
        size_t rest_len = flen - drop;
        int rc = perc_ekt_field_find(rest, rest_len, &fld);
        assert_int_equal(rc, PERC_ERR_TRUNCATED);
        rc = perc_ekt_full_parse(rest, rest_len, &full);
        assert_true(rc == PERC_ERR_TRUNCATED);

        /* back lost: a prefix is never a Full field */
        rc = perc_ekt_full_parse(field, flen - drop, &full);
        assert_true(rc < 0);
        /* and finding a field in it never reaches outside the prefix */
        if (perc_ekt_field_find(field, flen - drop, &fld) == PERC_OK) {
            assert_true(fld.srtp_len + fld.field.len == flen - drop);
            assert_ptr_equal(fld.field.ptr, field + fld.srtp_len);
        }
    }
}

static void test_full_field_trailing_bytes(void **state)
{
    (void)state;
    uint8_t field[64], buf[80];
    size_t flen = load_full_field(field, sizeof field);
    perc_ekt_full full;

    /* one octet more than the Length says, in front */
    buf[0] = 0xAA;
    memcpy(buf + 1, field, flen);
    assert_int_equal(perc_ekt_full_parse(buf, flen + 1, &full), PERC_ERR_TRAILING);

    /* octets after the type: the field no longer ends the buffer */
    memcpy(buf, field, flen);
    for (size_t extra = 1; extra <= 8; extra++) {
        memset(buf + flen, 0x02, extra); /* the worst case: looks like a type */
        assert_true(perc_ekt_full_parse(buf, flen + extra, &full) < 0);
    }
}

static void test_unknown_type_skipped(void **state)
{
    (void)state;
    /* SRTP || ExtensionData(3) || Length 0x0006 || type 0x05 */
    uint8_t pkt[sizeof SRTP + 6];
    memcpy(pkt, SRTP, sizeof SRTP);
    const uint8_t ext[] = {0x11, 0x22, 0x33, 0x00, 0x06, 0x05};
    memcpy(pkt + sizeof SRTP, ext, sizeof ext);
    perc_ekt_field fld;
    assert_int_equal(perc_ekt_field_find(pkt, sizeof pkt, &fld), PERC_OK);
    assert_int_equal(fld.type, 0x05);
    assert_int_equal(fld.srtp_len, sizeof SRTP);
    assert_int_equal(fld.field.len, 6);

    /* type 0xFF (reserved by IANA, still framed as an extension) */
    pkt[sizeof pkt - 1] = 0xFF;
    assert_int_equal(perc_ekt_field_find(pkt, sizeof pkt, &fld), PERC_OK);
    assert_int_equal(fld.srtp_len, sizeof SRTP);

    /* an extension is not a Full field, even when long enough for one */
    const uint8_t ext10[] = {1, 2, 3, 4, 5, 6, 7, 0x00, 0x0a, 0x04};
    perc_ekt_full full;
    assert_int_equal(perc_ekt_field_find(ext10, sizeof ext10, &fld), PERC_OK);
    assert_int_equal(fld.type, 0x04);
    assert_int_equal(perc_ekt_full_parse(fld.field.ptr, fld.field.len, &full), PERC_ERR_MALFORMED);
}

static void test_reserved_type_rejected(void **state)
{
    (void)state;
    uint8_t pkt[sizeof SRTP + 47];
    memcpy(pkt, SRTP, sizeof SRTP);
    load_full_field(pkt + sizeof SRTP, 47);
    pkt[sizeof pkt - 1] = PERC_EKT_TYPE_LEGACY;
    perc_ekt_field fld;
    assert_int_equal(perc_ekt_field_find(pkt, sizeof pkt, &fld), PERC_ERR_MALFORMED);
    const uint8_t one[] = {0x01};
    assert_int_equal(perc_ekt_field_find(one, 1, &fld), PERC_ERR_MALFORMED);
}

static void test_length_checks(void **state)
{
    (void)state;
    uint8_t pkt[1100];
    memset(pkt, 0x5A, sizeof pkt);
    perc_ekt_field fld;

    /* Length larger than the packet */
    pkt[47] = 0x00;
    pkt[48] = 0x40; /* 64 */
    pkt[49] = PERC_EKT_TYPE_FULL;
    assert_int_equal(perc_ekt_field_find(pkt, 50, &fld), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_ekt_field_find(pkt + 47, 3, &fld), PERC_ERR_TRUNCATED);
    /* exactly the packet: fine */
    pkt[48] = 50;
    assert_int_equal(perc_ekt_field_find(pkt, 50, &fld), PERC_OK);
    assert_int_equal(fld.srtp_len, 0);

    /* Full: Length below 8 (one ciphertext octet + trailer) */
    pkt[48] = 7;
    assert_int_equal(perc_ekt_field_find(pkt, 50, &fld), PERC_ERR_MALFORMED);
    pkt[48] = 8;
    assert_int_equal(perc_ekt_field_find(pkt, 50, &fld), PERC_OK);
    assert_int_equal(fld.srtp_len, 42);
    /* Full: Length above 251 + 7 */
    size_t n = 300;
    pkt[n - 3] = 0x01;
    pkt[n - 2] = 0x03; /* 259 */
    pkt[n - 1] = PERC_EKT_TYPE_FULL;
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_ERR_MALFORMED);
    pkt[n - 2] = 0x02; /* 258 */
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_OK);
    assert_int_equal(fld.field.len, 258);

    /* extension: Length below 4 and above 1024 + 3 */
    pkt[n - 1] = 0x04;
    pkt[n - 3] = 0x00;
    pkt[n - 2] = 3;
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_ERR_MALFORMED);
    pkt[n - 2] = 4;
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_OK);
    n = sizeof pkt;
    pkt[n - 1] = 0x04;
    pkt[n - 3] = 0x04;
    pkt[n - 2] = 0x04; /* 1028 */
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_ERR_MALFORMED);
    pkt[n - 2] = 0x03; /* 1027 */
    assert_int_equal(perc_ekt_field_find(pkt, n, &fld), PERC_OK);

    /* fewer than 3 octets with a non-Short type */
    const uint8_t two[] = {0x00, 0x02};
    assert_int_equal(perc_ekt_field_find(two, 2, &fld), PERC_ERR_TRUNCATED);
}

static void test_full_parse_rules(void **state)
{
    (void)state;
    uint8_t ct[252];
    memset(ct, 0xC3, sizeof ct);
    uint8_t out[300];
    size_t n = 0;
    perc_ekt_full full;

    /* smallest and largest ciphertexts */
    assert_int_equal(perc_ekt_full_build(ct, 1, 0xBEEF, 0x1234, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 8);
    const uint8_t want[] = {0xC3, 0xBE, 0xEF, 0x12, 0x34, 0x00, 0x08, 0x02};
    assert_memory_equal(out, want, 8);
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_OK);
    assert_int_equal(full.spi, 0xBEEF);
    assert_int_equal(full.epoch, 0x1234);
    assert_int_equal(full.ciphertext.len, 1);
    assert_int_equal(perc_ekt_full_build(ct, 251, 1, 2, out, sizeof out, &n), PERC_OK);
    assert_int_equal(n, 258);
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_OK);
    assert_int_equal(full.ciphertext.len, 251);

    /* builder refuses what the parser would */
    assert_int_equal(perc_ekt_full_build(ct, 0, 1, 2, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_full_build(ct, 252, 1, 2, out, sizeof out, &n), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_full_build(ct, 40, 1, 2, out, 46, &n), PERC_ERR_NOSPACE);

    /* a hand-made 259-octet "Full field" is refused by the parser */
    uint8_t big[259];
    memset(big, 0xC3, sizeof big);
    big[256] = 0x01;
    big[257] = 0x03;
    big[258] = PERC_EKT_TYPE_FULL;
    assert_int_equal(perc_ekt_full_parse(big, sizeof big, &full), PERC_ERR_MALFORMED);

    /* Length field too small for the bytes given */
    assert_int_equal(perc_ekt_full_build(ct, 10, 1, 2, out, sizeof out, &n), PERC_OK);
    out[n - 2] = 16;
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_ERR_TRAILING);
    out[n - 2] = 18;
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_ERR_TRUNCATED);
    out[n - 2] = 17;
    out[n - 1] = 0x03;
    assert_int_equal(perc_ekt_full_parse(out, n, &full), PERC_ERR_MALFORMED);
}

/* What a Media Distributor does: strip the field, process the SRTP part
 * (which may change length), put the saved field back unchanged. */
static void test_strip_and_reappend(void **state)
{
    (void)state;
    uint8_t field[64], pkt[128], saved[64];
    size_t flen = load_full_field(field, sizeof field);
    memcpy(pkt, SRTP, sizeof SRTP);
    memcpy(pkt + sizeof SRTP, field, flen);
    size_t len = sizeof SRTP + flen;

    perc_ekt_field fld;
    assert_int_equal(perc_ekt_field_find(pkt, len, &fld), PERC_OK);
    memcpy(saved, fld.field.ptr, fld.field.len);
    size_t srtp_len = fld.srtp_len;
    /* the relay grew the SRTP part by 3 octets (a bigger OHB, say) */
    memset(pkt + srtp_len, 0x77, 3);
    size_t out_len = 0;
    assert_int_equal(perc_ekt_field_append(pkt, srtp_len + 3, sizeof pkt, saved, fld.field.len,
                                           &out_len),
                     PERC_OK);
    assert_int_equal(out_len, len + 3);
    assert_memory_equal(pkt + srtp_len + 3, field, flen);
    assert_int_equal(perc_ekt_field_find(pkt, out_len, &fld), PERC_OK);
    assert_int_equal(fld.srtp_len, srtp_len + 3);

    /* in-place: the field moves down over a shrunk SRTP part (overlap) */
    memcpy(pkt, SRTP, sizeof SRTP);
    memcpy(pkt + sizeof SRTP, field, flen);
    assert_int_equal(perc_ekt_field_append(pkt, sizeof SRTP - 2, sizeof pkt, pkt + sizeof SRTP,
                                           flen, &out_len),
                     PERC_OK);
    assert_int_equal(out_len, len - 2);
    assert_memory_equal(pkt + sizeof SRTP - 2, field, flen);

    assert_int_equal(perc_ekt_field_append(pkt, 100, 120, saved, 47, &out_len), PERC_ERR_NOSPACE);
    assert_int_equal(perc_ekt_field_append(pkt, 121, 120, saved, 1, &out_len),
                     PERC_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_field_vector),
        cmocka_unit_test(test_short_field),
        cmocka_unit_test(test_full_field_truncations),
        cmocka_unit_test(test_full_field_trailing_bytes),
        cmocka_unit_test(test_unknown_type_skipped),
        cmocka_unit_test(test_reserved_type_rejected),
        cmocka_unit_test(test_length_checks),
        cmocka_unit_test(test_full_parse_rules),
        cmocka_unit_test(test_strip_and_reappend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
