/* The use_srtp extension (RFC 5764 §4.1.1) as it goes on the wire, read
 * out of the plaintext ClientHello and ServerHello our DTLS adapter
 * exchanges (conformance E2, gap G20): EKT forbids an MKI (RFC 8870 §4),
 * so the client offers the double profiles with an empty MKI, and the
 * server answers with an empty one even to a client that offered an MKI.
 *
 * The hellos are parsed here by hand, from RFC 6347 §4.1 (record header),
 * §4.2.2 (handshake header) and §4.2.1 / RFC 5246 §7.4.1 (hello bodies),
 * so that the check does not go through the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "perc/dtls.h"
#include "test_dtls_pair.h"

#define EXT_USE_SRTP 14
#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2
#define RECORD_HEADER 13
#define HS_HEADER 12

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned get24(const uint8_t *p)
{
    return (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put24(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

/* Where a hello's pieces are in a datagram whose first record holds it
 * whole (the hellos here fit one unfragmented record). */
typedef struct hello_at {
    size_t record;      /* record header */
    size_t hs;          /* handshake header */
    size_t exts;        /* extensions length field */
    size_t ext;         /* the use_srtp extension's type field; 0 = absent */
} hello_at;

static hello_at find_hello(const uint8_t *d, size_t len, uint8_t hs_type)
{
    hello_at at = {0};
    assert_true(len >= RECORD_HEADER + HS_HEADER);
    assert_int_equal(d[0], 22); /* handshake */
    assert_int_equal(get16(d + 3), 0); /* epoch 0: plaintext */
    size_t rec_len = get16(d + 11);
    assert_true(RECORD_HEADER + rec_len <= len);
    at.hs = RECORD_HEADER;
    const uint8_t *h = d + at.hs;
    assert_int_equal(h[0], hs_type);
    size_t body_len = get24(h + 1);
    assert_int_equal(get24(h + 6), 0);        /* fragment_offset */
    assert_int_equal(get24(h + 9), body_len); /* unfragmented */
    assert_true(HS_HEADER + body_len <= rec_len);
    size_t p = at.hs + HS_HEADER;
    size_t end = p + body_len;
    p += 2 + 32;     /* client_version / server_version, random */
    p += 1 + d[p];   /* session_id */
    if (hs_type == HS_CLIENT_HELLO) {
        p += 1 + d[p];          /* cookie */
        p += 2 + get16(d + p);  /* cipher_suites */
        p += 1 + d[p];          /* compression_methods */
    } else {
        p += 2 + 1;             /* cipher_suite, compression_method */
    }
    assert_true(p + 2 <= end);
    at.exts = p;
    assert_int_equal(p + 2 + get16(d + p), end);
    for (p += 2; p + 4 <= end; p += 4 + get16(d + p + 2))
        if (get16(d + p) == EXT_USE_SRTP)
            at.ext = p;
    assert_int_equal(p, end);
    return at;
}

/* The client's first flight. */
static size_t client_hello(tp_pair *p, uint8_t *buf, size_t cap)
{
    assert_int_equal(perc_dtls_start(p->s.d, p->now), PERC_OK);
    assert_int_equal(perc_dtls_start(p->c.d, p->now), PERC_OK);
    size_t len = tp_take(&p->c, buf, cap);
    assert_true(len > 0);
    return len;
}

/* The server's answer to a ClientHello: its first datagram. */
static size_t server_hello(tp_pair *p, const uint8_t *ch, size_t ch_len, uint8_t *buf, size_t cap)
{
    assert_int_equal(perc_dtls_recv(p->s.d, ch, ch_len, p->now), PERC_OK);
    size_t len = tp_take(&p->s, buf, cap);
    assert_true(len > 0);
    return len;
}

/* Our client offers both double profiles, in its order, and no MKI. */
static void test_client_offers_no_mki(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    uint8_t ch[PERC_DTLS_MAX_DATAGRAM];
    size_t len = client_hello(&p, ch, sizeof ch);
    hello_at at = find_hello(ch, len, HS_CLIENT_HELLO);
    assert_true(at.ext != 0);
    const uint8_t want[] = {0x00, 0x04, 0x00, 0x09, 0x00, 0x0a, 0x00};
    assert_int_equal(get16(ch + at.ext + 2), sizeof want);
    assert_memory_equal(ch + at.ext + 4, want, sizeof want);
    tp_free(&p);
}

/* Our server answers with the one profile it chose and no MKI. */
static void test_server_answers_no_mki(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    uint8_t ch[PERC_DTLS_MAX_DATAGRAM], sh[PERC_DTLS_MAX_DATAGRAM];
    size_t ch_len = client_hello(&p, ch, sizeof ch);
    size_t sh_len = server_hello(&p, ch, ch_len, sh, sizeof sh);
    hello_at at = find_hello(sh, sh_len, HS_SERVER_HELLO);
    assert_true(at.ext != 0);
    const uint8_t want[] = {0x00, 0x02, 0x00, 0x09, 0x00};
    assert_int_equal(get16(sh + at.ext + 2), sizeof want);
    assert_memory_equal(sh + at.ext + 4, want, sizeof want);
    tp_free(&p);
}

/* A client that offers an MKI (two octets here, written into our client's
 * ClientHello with every enclosing length fixed): the server still
 * answers with an empty one. The handshake cannot finish after the rewrite
 * (the transcripts differ); only the ServerHello is of interest. */
static void test_server_ignores_offered_mki(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    uint8_t ch[PERC_DTLS_MAX_DATAGRAM + 2], sh[PERC_DTLS_MAX_DATAGRAM];
    size_t len = client_hello(&p, ch, PERC_DTLS_MAX_DATAGRAM);
    hello_at at = find_hello(ch, len, HS_CLIENT_HELLO);
    assert_true(at.ext != 0);
    size_t ext_len = get16(ch + at.ext + 2);
    size_t mki_at = at.ext + 4 + ext_len - 1;
    assert_int_equal(ch[mki_at], 0);
    memmove(ch + mki_at + 3, ch + mki_at + 1, len - mki_at - 1);
    ch[mki_at] = 2;
    ch[mki_at + 1] = 0xAB;
    ch[mki_at + 2] = 0xCD;
    len += 2;
    put16(ch + at.ext + 2, (unsigned)ext_len + 2);
    put16(ch + at.exts, get16(ch + at.exts) + 2);
    put24(ch + at.hs + 1, get24(ch + at.hs + 1) + 2);
    put24(ch + at.hs + 9, get24(ch + at.hs + 9) + 2);
    put16(ch + at.record + 11, get16(ch + at.record + 11) + 2);
    /* the rewrite is a well-formed ClientHello with the MKI in place */
    hello_at again = find_hello(ch, len, HS_CLIENT_HELLO);
    const uint8_t offered[] = {0x00, 0x04, 0x00, 0x09, 0x00, 0x0a, 0x02, 0xAB, 0xCD};
    assert_memory_equal(ch + again.ext + 4, offered, sizeof offered);

    size_t sh_len = server_hello(&p, ch, len, sh, sizeof sh);
    hello_at at_sh = find_hello(sh, sh_len, HS_SERVER_HELLO);
    assert_true(at_sh.ext != 0);
    const uint8_t want[] = {0x00, 0x02, 0x00, 0x09, 0x00};
    assert_int_equal(get16(sh + at_sh.ext + 2), sizeof want);
    assert_memory_equal(sh + at_sh.ext + 4, want, sizeof want);
    tp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_offers_no_mki),
        cmocka_unit_test(test_server_answers_no_mki),
        cmocka_unit_test(test_server_ignores_offered_mki),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
