/* perc/dtls_link.h: DTLS-SRTP between two Media Distributors (cascade,
 * RFC 8871 §4.5.1), in memory: the handshake, the exported keys (RFC 5764
 * §4.2) agree and work as SRTP sessions, a wrong pinned fingerprint fails
 * before any key, a lost flight is retransmitted, bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "perc/dtls_link.h"
#include "perc/identity.h"
#include "perc/srtp.h"
#include "perc/tls.h"

typedef struct side {
    X509 *cert;
    EVP_PKEY *key;
    uint8_t fp[32];
    perc_dtls_link *l;
} side;

static void make_identity(side *s, const char *cn)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(perc_identity_generate(cn, &s->cert, &s->key), PERC_OK);
    assert_int_equal(perc_tls_cert_fingerprint(s->cert, s->fp), PERC_OK);
}

static void make_link(side *s, bool client, const uint8_t peer_fp[32])
{
    perc_dtls_link_config c = {.cert = s->cert, .key = s->key, .client = client};
    memcpy(c.peer_fingerprint, peer_fp, 32);
    assert_int_equal(perc_dtls_link_new(&c, &s->l), PERC_OK);
}

static void free_side(side *s)
{
    perc_dtls_link_free(s->l);
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
}

/* Moves every datagram from a to b; drops them all when lose is set.
 * Returns how many moved. */
static int relay(side *a, side *b, uint64_t now, bool lose)
{
    uint8_t buf[PERC_DTLS_LINK_MAX_DATAGRAM];
    size_t n;
    int moved = 0;
    for (;;) {
        assert_int_equal(perc_dtls_link_pull(a->l, buf, sizeof buf, &n), PERC_OK);
        if (n == 0)
            return moved;
        assert_true(n <= 1200 + 13 || moved == 0);
        moved++;
        if (!lose && perc_dtls_link_get_state(b->l) != PERC_DTLS_LINK_FAILED)
            assert_int_equal(perc_dtls_link_recv(b->l, buf, n, now), PERC_OK);
    }
}

static void handshake(side *c, side *s)
{
    assert_int_equal(perc_dtls_link_start(c->l, 0), PERC_OK);
    assert_int_equal(perc_dtls_link_start(s->l, 0), PERC_OK);
    for (int i = 0; i < 10; i++) {
        relay(c, s, 0, false);
        relay(s, c, 0, false);
    }
}

static void test_handshake_and_keys(void **state)
{
    (void)state;
    side c, s;
    make_identity(&c, "mdd-1");
    make_identity(&s, "mdd-2");
    make_link(&c, true, s.fp);
    make_link(&s, false, c.fp);
    uint8_t own[32];
    perc_dtls_link_fingerprint(c.l, own);
    assert_memory_equal(own, c.fp, 32);
    perc_dtls_link_keys early;
    assert_int_equal(perc_dtls_link_get_keys(c.l, &early), PERC_ERR_STATE);
    handshake(&c, &s);
    assert_int_equal(perc_dtls_link_get_state(c.l), PERC_DTLS_LINK_CONNECTED);
    assert_int_equal(perc_dtls_link_get_state(s.l), PERC_DTLS_LINK_CONNECTED);
    assert_int_equal(perc_dtls_link_next_timeout(c.l), UINT64_MAX);
    perc_dtls_link_keys kc, ks;
    assert_int_equal(perc_dtls_link_get_keys(c.l, &kc), PERC_OK);
    assert_int_equal(perc_dtls_link_get_keys(s.l, &ks), PERC_OK);
    assert_int_equal(kc.profile, PERC_PROFILE_AEAD_AES_128_GCM);
    assert_int_equal(kc.local.key_len, 16);
    /* Each side's sending key is the other's receiving key, and the two
     * directions differ. */
    assert_memory_equal(kc.local.key, ks.remote.key, 16);
    assert_memory_equal(kc.local.salt, ks.remote.salt, 12);
    assert_memory_equal(kc.remote.key, ks.local.key, 16);
    assert_memory_not_equal(kc.local.key, kc.remote.key, 16);

    /* The keys work as SRTP sessions: c seals, s opens. */
    perc_srtp_session_keys sk;
    perc_srtp_session *tx = NULL, *rx = NULL;
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, kc.local.key, 16, kc.local.salt, 12, &sk),
                     PERC_OK);
    assert_int_equal(perc_srtp_session_new(&sk, &tx), PERC_OK);
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, ks.remote.key, 16, ks.remote.salt, 12, &sk),
                     PERC_OK);
    assert_int_equal(perc_srtp_session_new(&sk, &rx), PERC_OK);
    perc_srtp_keys_wipe(&sk);
    uint8_t pkt[64] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0xAA, 0xBB, 0xCC, 0xDD, 'h', 'i'};
    size_t n;
    assert_int_equal(perc_srtp_seal(tx, pkt, 14, sizeof pkt, 0, &n), PERC_OK);
    assert_int_equal(perc_srtp_open(rx, pkt, n, 0, &n), PERC_OK);
    assert_int_equal(n, 14);
    assert_memory_equal(pkt + 12, "hi", 2);
    perc_srtp_session_free(tx);
    perc_srtp_session_free(rx);
    free_side(&c);
    free_side(&s);
}

/* The server expects another certificate: the handshake fails and no key
 * is ever available. */
static void test_wrong_fingerprint(void **state)
{
    (void)state;
    side c, s, other;
    make_identity(&c, "mdd-1");
    make_identity(&s, "mdd-2");
    make_identity(&other, "someone-else");
    make_link(&c, true, s.fp);
    make_link(&s, false, other.fp);
    handshake(&c, &s);
    assert_int_equal(perc_dtls_link_get_state(s.l), PERC_DTLS_LINK_FAILED);
    assert_non_null(strstr(perc_dtls_link_failure(s.l), "fingerprint"));
    perc_dtls_link_keys k;
    assert_int_equal(perc_dtls_link_get_keys(s.l, &k), PERC_ERR_STATE);
    assert_int_not_equal(perc_dtls_link_get_state(c.l), PERC_DTLS_LINK_CONNECTED);
    assert_int_equal(perc_dtls_link_recv(s.l, (const uint8_t *)"x", 1, 0), PERC_ERR_STATE);
    free_side(&c);
    free_side(&s);
    free_side(&other);
}

/* The client's first flight is lost: after the timer, it is sent again and
 * the handshake completes. (OpenSSL's timer runs on the wall clock: the
 * test waits the initial second for real.) */
static void test_lost_flight_retransmitted(void **state)
{
    (void)state;
    side c, s;
    make_identity(&c, "mdd-1");
    make_identity(&s, "mdd-2");
    make_link(&c, true, s.fp);
    make_link(&s, false, c.fp);
    assert_int_equal(perc_dtls_link_start(c.l, 0), PERC_OK);
    assert_true(relay(&c, &s, 0, true) >= 1);
    uint64_t dl = perc_dtls_link_next_timeout(c.l);
    assert_true(dl > 0 && dl < UINT64_MAX);
    assert_int_equal(perc_dtls_link_on_timeout(c.l, dl - 1), PERC_OK);
    assert_int_equal(relay(&c, &s, 0, false), 0); /* too early: nothing */
    struct timespec ts = {1, 100000000};
    nanosleep(&ts, NULL);
    assert_int_equal(perc_dtls_link_on_timeout(c.l, dl), PERC_OK);
    assert_true(relay(&c, &s, dl, false) >= 1);
    for (int i = 0; i < 10; i++) {
        relay(&s, &c, dl, false);
        relay(&c, &s, dl, false);
    }
    assert_int_equal(perc_dtls_link_get_state(c.l), PERC_DTLS_LINK_CONNECTED);
    assert_int_equal(perc_dtls_link_get_state(s.l), PERC_DTLS_LINK_CONNECTED);
    free_side(&c);
    free_side(&s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    side c;
    make_identity(&c, "mdd-1");
    perc_dtls_link *l = NULL;
    perc_dtls_link_config cfg = {.cert = c.cert, .key = NULL};
    assert_int_equal(perc_dtls_link_new(&cfg, &l), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_link_new(NULL, &l), PERC_ERR_INVALID_ARG);
    make_link(&c, false, c.fp);
    uint8_t big[PERC_DTLS_LINK_MAX_DATAGRAM + 1] = {0};
    assert_int_equal(perc_dtls_link_recv(c.l, big, sizeof big, 0), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_link_recv(c.l, big, 0, 0), PERC_ERR_INVALID_ARG);
    /* Garbage is not a handshake: the server stays waiting or fails, and
     * never connects. */
    memset(big, 0x16, 40);
    int rc = perc_dtls_link_recv(c.l, big, 40, 0);
    assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
    assert_int_not_equal(perc_dtls_link_get_state(c.l), PERC_DTLS_LINK_CONNECTED);
    perc_dtls_link_free(NULL);
    free_side(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_keys),
        cmocka_unit_test(test_wrong_fingerprint),
        cmocka_unit_test(test_lost_flight_retransmitted),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
