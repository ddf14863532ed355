/* The EKT receiver (perc_ekt_rx_* in common/include/perc/ekt.h),
 * RFC 8870 §4.3.2 and the epoch notes of the spec digest (ekt.md §4.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/ekt.h"
#include "test_util.h"
#include "vectors.h"

#define MS 1000000ull
#define S 1000000000ull
#define SSRC_A 0x5501a0b2u
#define SSRC_B 0x0badcafeu

/* A stand-in SRTP packet; the receiver never looks inside it. */
static const uint8_t SRTP[24] = {0x80, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0x55, 0x01, 0xa0, 0xb2};

typedef struct fixture {
    perc_ekt_params set1;       /* SPI 1, AESKW128, 16-octet salt, TTL 60 s from t=0 */
    perc_ekt_params set2;       /* SPI 2, AESKW256 */
    perc_ekt_rx *rx;            /* 16-octet keys, 12-octet salts */
} fixture;

static int setup(void **state)
{
    static fixture fx;
    memset(&fx, 0, sizeof fx);
    uint8_t ek[32], salt[16];
    for (size_t i = 0; i < sizeof ek; i++)
        ek[i] = (uint8_t)(0xc0 + i);
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(0xa0 + i);
    if (perc_ekt_params_set(&fx.set1, 1, ek, 16, salt, 16, 1, 60, 0) ||
        perc_ekt_params_set(&fx.set2, 2, ek, 32, salt, 12, 2, 60, 0))
        return -1;
    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12};
    if (perc_ekt_rx_new(&cfg, &fx.rx) || perc_ekt_rx_add_params(fx.rx, &fx.set1) ||
        perc_ekt_rx_add_params(fx.rx, &fx.set2))
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    perc_ekt_rx_free(fx->rx);
    perc_ekt_params_wipe(&fx->set1);
    perc_ekt_params_wipe(&fx->set2);
    return 0;
}

static void key_of(uint8_t tag, uint8_t key[16])
{
    for (size_t i = 0; i < 16; i++)
        key[i] = (uint8_t)(tag * 16 + i);
}

/* SRTP || Full field for key `tag` under p. Returns the packet length. */
static size_t full_packet(const perc_ekt_params *p, uint8_t tag, size_t key_len, uint32_t ssrc,
                          uint32_t roc, uint16_t epoch, uint8_t *pkt, size_t cap)
{
    uint8_t key[32];
    key_of(tag, key);
    key_of((uint8_t)(tag + 1), key + 16);
    memcpy(pkt, SRTP, sizeof SRTP);
    size_t n = 0;
    assert_int_equal(perc_ekt_full_field_make(p, key, key_len, ssrc, roc, epoch, pkt + sizeof SRTP,
                                              cap - sizeof SRTP, &n),
                     PERC_OK);
    return sizeof SRTP + n;
}

static void expect_new_key(perc_ekt_rx *rx, const uint8_t *pkt, size_t len, uint32_t ssrc,
                           uint64_t now, uint8_t tag, uint16_t epoch, uint32_t roc)
{
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(rx, pkt, len, ssrc, now, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_NEW_KEY);
    assert_true(res.packet_usable);
    assert_int_equal(res.srtp_len, sizeof SRTP);
    assert_int_equal(res.epoch, epoch);
    assert_int_equal(res.roc, roc);
    assert_int_equal(res.ssrc, ssrc);
    uint8_t key[16];
    key_of(tag, key);
    assert_int_equal(res.master_key_len, 16);
    assert_memory_equal(res.master_key, key, 16);
    perc_ekt_rx_result_wipe(&res);
}

static int expect_rc(perc_ekt_rx *rx, const uint8_t *pkt, size_t len, uint32_t ssrc, uint64_t now,
                     int want, perc_ekt_rx_kind kind)
{
    perc_ekt_rx_result res;
    int rc = perc_ekt_rx_process(rx, pkt, len, ssrc, now, &res);
    assert_int_equal(rc, want);
    assert_int_equal(res.kind, kind);
    bool usable = res.packet_usable;
    if (usable)
        assert_int_equal(res.srtp_len, sizeof SRTP);
    if (rc != PERC_OK)
        assert_int_equal(res.master_key_len, 0); /* no key with an error */
    perc_ekt_rx_result_wipe(&res);
    return usable;
}

static void test_short_field(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[sizeof SRTP + 1];
    memcpy(pkt, SRTP, sizeof SRTP);
    pkt[sizeof SRTP] = 0x00;
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, sizeof pkt, SSRC_A, 0, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_SHORT);
    assert_true(res.packet_usable);
    assert_int_equal(res.srtp_len, sizeof SRTP);
}

/* The derived vector through the receiver: key, ROC and the salt cut to
 * its first 12 octets (§4.3.2 step 4). */
static void test_derived_vector(void **state)
{
    fixture *fx = *state;
    tv_file f;
    assert_int_equal(tv_load("digest-derived-perc.txt", &f), 0);
    const tv_block *b = tv_find(&f, "ekt_full_field_aeskw128");
    assert_non_null(b);
    const tv_field *field = tv_get(b, "full_ekt_field"), *mk = tv_get(b, "srtp_master_key");
    assert_non_null(field);
    assert_non_null(mk);
    uint8_t pkt[128];
    memcpy(pkt, SRTP, sizeof SRTP);
    memcpy(pkt + sizeof SRTP, field->data, field->len);
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, sizeof SRTP + field->len, SSRC_A, 0, &res),
                     PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_NEW_KEY);
    assert_int_equal(res.type, PERC_EKT_TYPE_FULL);
    assert_int_equal(res.spi, 1);
    assert_int_equal(res.epoch, 0);
    assert_int_equal(res.roc, 0);
    assert_memory_equal(res.master_key, mk->data, 16);
    assert_int_equal(res.salt_len, 12);
    assert_memory_equal(res.salt, fx->set1.salt, 12);
    perc_ekt_rx_result_wipe(&res);
    tv_free(&f);
}

/* New key, repeats before and after commit, commit rules. */
static void test_new_key_commit_and_repeat(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[128];
    size_t len = full_packet(&fx->set1, 3, 16, SSRC_A, 7, 0, pkt, sizeof pkt);

    expect_new_key(fx->rx, pkt, len, SSRC_A, 0, 3, 0, 7);
    /* not committed: the same field is still a new key (from the cache) */
    expect_new_key(fx->rx, pkt, len, SSRC_A, 1, 3, 0, 7);
    /* commit for a wrong epoch / SSRC / SPI is refused */
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 1), PERC_ERR_STATE);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_B, 0), PERC_ERR_STATE);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 2, SSRC_A, 0), PERC_ERR_STATE);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_OK);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_ERR_STATE); /* once */

    /* periodic repetition: a no-op */
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, len, SSRC_A, 2, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_REPEAT);
    assert_true(res.packet_usable);
    assert_int_equal(res.roc, 7);
    assert_int_equal(res.master_key_len, 0); /* nothing to install */
}

/* The stored epoch only moves on commit (ekt.md §4.3): an uncommitted
 * high epoch does not block a genuine lower one. */
static void test_epoch_not_advanced_without_commit(void **state)
{
    fixture *fx = *state;
    uint8_t p0[128], p5[128], p1[128];
    size_t l0 = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 0, p0, sizeof p0);
    size_t l5 = full_packet(&fx->set1, 5, 16, SSRC_A, 0, 5, p5, sizeof p5);
    size_t l1 = full_packet(&fx->set1, 2, 16, SSRC_A, 0, 1, p1, sizeof p1);

    expect_new_key(fx->rx, p0, l0, SSRC_A, 0, 1, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_OK);
    /* epoch 5 unwraps, but its packet never authenticates: no commit */
    expect_new_key(fx->rx, p5, l5, SSRC_A, 1, 5, 5, 0);
    /* epoch 1 is still acceptable */
    expect_new_key(fx->rx, p1, l1, SSRC_A, 2, 2, 1, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 5), PERC_ERR_STATE); /* replaced */
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 1), PERC_OK);
    /* now epoch 0 is a roll-back, epoch 1 a repeat */
    expect_rc(fx->rx, p0, l0, SSRC_A, 3, PERC_ERR_STALE_EPOCH, PERC_EKT_RX_NONE);
    expect_rc(fx->rx, p1, l1, SSRC_A, 4, PERC_OK, PERC_EKT_RX_FULL_REPEAT);
    /* and epoch 5 is still a candidate above it */
    expect_new_key(fx->rx, p5, l5, SSRC_A, 5, 5, 5, 0);
}

static void test_stale_epoch(void **state)
{
    fixture *fx = *state;
    uint8_t a[128], b[128], c[128];
    size_t la = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 4, a, sizeof a);
    size_t lb = full_packet(&fx->set1, 2, 16, SSRC_A, 0, 4, b, sizeof b); /* other key, same epoch */
    size_t lc = full_packet(&fx->set1, 3, 16, SSRC_A, 0, 3, c, sizeof c); /* lower epoch */
    expect_new_key(fx->rx, a, la, SSRC_A, 0, 1, 4, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 4), PERC_OK);

    /* equal epoch, different ciphertext and key: refused, packet may go on */
    assert_true(expect_rc(fx->rx, b, lb, SSRC_A, 1, PERC_ERR_STALE_EPOCH, PERC_EKT_RX_NONE));
    /* lower epoch: refused */
    assert_true(expect_rc(fx->rx, c, lc, SSRC_A, 2, PERC_ERR_STALE_EPOCH, PERC_EKT_RX_NONE));
    /* the committed key is untouched */
    expect_rc(fx->rx, a, la, SSRC_A, 3, PERC_OK, PERC_EKT_RX_FULL_REPEAT);

    /* the same key rewrapped with a new ROC, same epoch (the sender's ROC
     * moved on): a repeat reporting the new ROC, not stale */
    uint8_t d[128];
    size_t ld = full_packet(&fx->set1, 1, 16, SSRC_A, 1, 4, d, sizeof d);
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, d, ld, SSRC_A, 4, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_REPEAT);
    assert_int_equal(res.roc, 1);
    /* ... and becomes the cached ciphertext, still at epoch 4 */
    assert_int_equal(perc_ekt_rx_process(fx->rx, d, ld, SSRC_A, 5, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_REPEAT);
    assert_true(expect_rc(fx->rx, b, lb, SSRC_A, 6, PERC_ERR_STALE_EPOCH, PERC_EKT_RX_NONE));

    /* the committed key with a raised epoch (tampered): no re-key */
    uint8_t e[128];
    size_t le = full_packet(&fx->set1, 1, 16, SSRC_A, 1, 9, e, sizeof e);
    assert_int_equal(perc_ekt_rx_process(fx->rx, e, le, SSRC_A, 7, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_REPEAT);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 9), PERC_ERR_STATE);
}

/* A new SPI starts its own epochs at 0 (§4.1). */
static void test_new_spi_resets_epoch(void **state)
{
    fixture *fx = *state;
    uint8_t a[128], b[128];
    size_t la = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 3, a, sizeof a);
    expect_new_key(fx->rx, a, la, SSRC_A, 0, 1, 3, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 3), PERC_OK);
    size_t lb = full_packet(&fx->set2, 2, 16, SSRC_A, 0, 0, b, sizeof b);
    expect_new_key(fx->rx, b, lb, SSRC_A, 1, 2, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 2, SSRC_A, 0), PERC_OK);
}

static void test_ssrc_mismatch(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[128];
    size_t len = full_packet(&fx->set1, 1, 16, SSRC_B, 0, 0, pkt, sizeof pkt);
    perc_ekt_rx_result res;
    /* §4.3.2 step 5: field discarded, SRTP packet may still be processed */
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, len, SSRC_A, 0, &res),
                     PERC_ERR_SSRC_MISMATCH);
    assert_true(res.packet_usable);
    assert_int_equal(res.srtp_len, sizeof SRTP);
    assert_int_equal(res.kind, PERC_EKT_RX_NONE);
    assert_int_equal(res.master_key_len, 0);
    /* nothing was learned for either SSRC */
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_ERR_STATE);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_B, 0), PERC_ERR_STATE);
    expect_new_key(fx->rx, pkt, len, SSRC_B, 1, 1, 0, 0);
}

static void test_wrong_key_length(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[128];
    /* a 32-octet key where the transform takes 16 (§4.3.2 step 6) */
    size_t len = full_packet(&fx->set1, 1, 32, SSRC_A, 0, 0, pkt, sizeof pkt);
    assert_false(expect_rc(fx->rx, pkt, len, SSRC_A, 0, PERC_ERR_KEY_LENGTH, PERC_EKT_RX_NONE));
    len = full_packet(&fx->set1, 1, 15, SSRC_A, 0, 0, pkt, sizeof pkt);
    assert_false(expect_rc(fx->rx, pkt, len, SSRC_A, 0, PERC_ERR_KEY_LENGTH, PERC_EKT_RX_NONE));
}

static void test_unknown_spi_and_auth(void **state)
{
    fixture *fx = *state;
    uint8_t ek[16] = {9}, salt[12] = {0}, pkt[128];
    perc_ekt_params stranger;
    assert_int_equal(perc_ekt_params_set(&stranger, 1, ek, 16, salt, 12, 77, 60, 0), PERC_OK);
    size_t len = full_packet(&stranger, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, len, SSRC_A, 0, &res), PERC_ERR_UNKNOWN_SPI);
    assert_int_equal(res.spi, 77);
    assert_true(res.packet_usable);

    /* SPI 1 but wrapped under another EKTKey: unwrap fails, drop (step 3) */
    stranger.spi = 1;
    len = full_packet(&stranger, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    assert_false(expect_rc(fx->rx, pkt, len, SSRC_A, 0, PERC_ERR_AUTH, PERC_EKT_RX_NONE));
    /* a corrupted ciphertext octet */
    len = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    pkt[sizeof SRTP + 5] ^= 0x10;
    assert_false(expect_rc(fx->rx, pkt, len, SSRC_A, 0, PERC_ERR_AUTH, PERC_EKT_RX_NONE));
    perc_ekt_params_wipe(&stranger);
}

static void test_ttl_expiry(void **state)
{
    fixture *fx = *state;
    uint8_t ek[16] = {3}, salt[12] = {4}, pkt[128];
    perc_ekt_params p;
    /* TTL 1 s, received at t = 10 s */
    assert_int_equal(perc_ekt_params_set(&p, 1, ek, 16, salt, 12, 5, 1, 10 * S), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(fx->rx, &p), PERC_OK);
    size_t len = full_packet(&p, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    expect_new_key(fx->rx, pkt, len, SSRC_A, 10 * S + 999 * MS, 1, 0, 0);
    assert_true(expect_rc(fx->rx, pkt, len, SSRC_A, 11 * S, PERC_ERR_EXPIRED, PERC_EKT_RX_NONE));
    perc_ekt_params_wipe(&p);
}

static void test_extension_and_framing(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[64];
    memcpy(pkt, SRTP, sizeof SRTP);
    const uint8_t ext[] = {0xde, 0xad, 0x00, 0x05, 0x10};
    memcpy(pkt + sizeof SRTP, ext, sizeof ext);
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, sizeof SRTP + 5, SSRC_A, 0, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_EXTENSION);
    assert_int_equal(res.type, 0x10);
    assert_true(res.packet_usable);
    assert_int_equal(res.srtp_len, sizeof SRTP);

    /* reserved type 1: malformed, drop */
    pkt[sizeof SRTP + 4] = 0x01;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, sizeof SRTP + 5, SSRC_A, 0, &res),
                     PERC_ERR_MALFORMED);
    assert_false(res.packet_usable);
    /* Length larger than the packet */
    pkt[sizeof SRTP + 2] = 0x00;
    pkt[sizeof SRTP + 3] = 0x40; /* 64 > 29 */
    pkt[sizeof SRTP + 4] = 0x02;
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, sizeof SRTP + 5, SSRC_A, 0, &res),
                     PERC_ERR_TRUNCATED);
    assert_false(res.packet_usable);
    assert_int_equal(perc_ekt_rx_process(fx->rx, pkt, 0, SSRC_A, 0, &res), PERC_ERR_TRUNCATED);
}

/* Every truncation of a packet whose field is a Full one: no crash, no
 * key, and a NEW_KEY only from the complete packet. */
static void test_truncations(void **state)
{
    fixture *fx = *state;
    uint8_t pkt[128];
    size_t len = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    for (size_t n = 0; n < len; n++) {
        perc_ekt_rx_result res;
        int rc = perc_ekt_rx_process(fx->rx, pkt, n, SSRC_A, 0, &res);
        assert_true(rc != PERC_OK || res.kind == PERC_EKT_RX_SHORT ||
                    res.kind == PERC_EKT_RX_EXTENSION);
        assert_int_equal(res.master_key_len, 0);
        /* from the front: the Length no longer fits */
        rc = perc_ekt_rx_process(fx->rx, pkt + (len - n), n, SSRC_A, 0, &res);
        assert_true(rc == PERC_ERR_TRUNCATED || (rc == PERC_OK && n >= 47));
    }
}

static void test_param_table(void **state)
{
    fixture *fx = *state;
    /* a retransmitted EKTKey is fine; another set under a held SPI is not */
    perc_ekt_params again = fx->set1;
    again.received_ns = 5 * S;
    assert_int_equal(perc_ekt_rx_add_params(fx->rx, &again), PERC_OK);
    again.key[0] ^= 1;
    assert_int_equal(perc_ekt_rx_add_params(fx->rx, &again), PERC_ERR_STATE);
    /* salt shorter than the transform needs */
    uint8_t ek[16] = {1}, salt[12] = {2};
    perc_ekt_params p;
    assert_int_equal(perc_ekt_params_set(&p, 1, ek, 16, salt, 11, 9, 60, 0), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(fx->rx, &p), PERC_ERR_KEY_LENGTH);

    /* removal forgets the set and what was learned under it */
    uint8_t pkt[128];
    size_t len = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    expect_new_key(fx->rx, pkt, len, SSRC_A, 0, 1, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_OK);
    assert_int_equal(perc_ekt_rx_remove_params(fx->rx, 1), PERC_OK);
    assert_int_equal(perc_ekt_rx_remove_params(fx->rx, 1), PERC_ERR_NOT_FOUND);
    expect_rc(fx->rx, pkt, len, SSRC_A, 1, PERC_ERR_UNKNOWN_SPI, PERC_EKT_RX_NONE);
    assert_int_equal(perc_ekt_rx_add_params(fx->rx, &fx->set1), PERC_OK);
    expect_new_key(fx->rx, pkt, len, SSRC_A, 2, 1, 0, 0); /* learned afresh */

    /* bounded: with 2 sets, a third drops the oldest */
    perc_ekt_rx *rx;
    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12, .max_sets = 2};
    assert_int_equal(perc_ekt_rx_new(&cfg, &rx), PERC_OK);
    perc_ekt_params s3 = fx->set1;
    s3.spi = 3;
    assert_int_equal(perc_ekt_rx_add_params(rx, &fx->set1), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(rx, &fx->set2), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(rx, &s3), PERC_OK);
    expect_rc(rx, pkt, len, SSRC_A, 0, PERC_ERR_UNKNOWN_SPI, PERC_EKT_RX_NONE);
    size_t l3 = full_packet(&s3, 1, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    expect_new_key(rx, pkt, l3, SSRC_A, 0, 1, 0, 0);
    perc_ekt_rx_free(rx);

    perc_ekt_rx_config bad = {.master_key_len = 33, .salt_len = 12};
    assert_int_equal(perc_ekt_rx_new(&bad, &rx), PERC_ERR_INVALID_ARG);
    bad.master_key_len = 16;
    bad.salt_len = 0;
    assert_int_equal(perc_ekt_rx_new(&bad, &rx), PERC_ERR_INVALID_ARG);
    perc_ekt_params_wipe(&again);
    perc_ekt_params_wipe(&s3);
}

static void test_stream_table(void **state)
{
    fixture *fx = *state;
    uint8_t pa[128];
    size_t la = full_packet(&fx->set1, 1, 16, SSRC_A, 0, 0, pa, sizeof pa);
    expect_new_key(fx->rx, pa, la, SSRC_A, 0, 1, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(fx->rx, 1, SSRC_A, 0), PERC_OK);
    expect_rc(fx->rx, pa, la, SSRC_A, 1, PERC_OK, PERC_EKT_RX_FULL_REPEAT);
    /* the source left: its state is gone, the field is new again */
    perc_ekt_rx_forget_ssrc(fx->rx, SSRC_A);
    expect_new_key(fx->rx, pa, la, SSRC_A, 2, 1, 0, 0);

    /* bounded: two streams, a third evicts the least recently used */
    perc_ekt_rx *rx;
    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12, .max_streams = 2};
    assert_int_equal(perc_ekt_rx_new(&cfg, &rx), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(rx, &fx->set1), PERC_OK);
    uint8_t pb[128], pc[128];
    size_t lb = full_packet(&fx->set1, 2, 16, SSRC_B, 0, 0, pb, sizeof pb);
    size_t lc = full_packet(&fx->set1, 3, 16, 42, 0, 0, pc, sizeof pc);
    expect_new_key(rx, pa, la, SSRC_A, 10, 1, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(rx, 1, SSRC_A, 0), PERC_OK);
    expect_new_key(rx, pb, lb, SSRC_B, 20, 2, 0, 0);
    assert_int_equal(perc_ekt_rx_commit(rx, 1, SSRC_B, 0), PERC_OK);
    expect_rc(rx, pa, la, SSRC_A, 30, PERC_OK, PERC_EKT_RX_FULL_REPEAT); /* A used last */
    expect_new_key(rx, pc, lc, 42, 40, 3, 0, 0);                         /* evicts B */
    expect_rc(rx, pa, la, SSRC_A, 50, PERC_OK, PERC_EKT_RX_FULL_REPEAT);
    expect_new_key(rx, pb, lb, SSRC_B, 60, 2, 0, 0);
    perc_ekt_rx_free(rx);
}

/* A 32-octet EKT key for DOUBLE_AEAD_AES_256_GCM's inner half. */
static void test_256_transform(void **state)
{
    fixture *fx = *state;
    perc_ekt_rx *rx;
    perc_ekt_rx_config cfg = {.master_key_len = 32, .salt_len = 12};
    assert_int_equal(perc_ekt_rx_new(&cfg, &rx), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(rx, &fx->set2), PERC_OK);
    uint8_t pkt[128];
    size_t len = full_packet(&fx->set2, 4, 32, SSRC_A, 0, 0, pkt, sizeof pkt);
    assert_int_equal(len, sizeof SRTP + 63);
    perc_ekt_rx_result res;
    assert_int_equal(perc_ekt_rx_process(rx, pkt, len, SSRC_A, 0, &res), PERC_OK);
    assert_int_equal(res.kind, PERC_EKT_RX_FULL_NEW_KEY);
    assert_int_equal(res.master_key_len, 32);
    uint8_t key[32];
    key_of(4, key);
    key_of(5, key + 16);
    assert_memory_equal(res.master_key, key, 32);
    perc_ekt_rx_result_wipe(&res);
    len = full_packet(&fx->set2, 4, 16, SSRC_A, 0, 0, pkt, sizeof pkt);
    expect_rc(rx, pkt, len, SSRC_A, 0, PERC_ERR_KEY_LENGTH, PERC_EKT_RX_NONE);
    perc_ekt_rx_free(rx);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_short_field),
        T(test_derived_vector),
        T(test_new_key_commit_and_repeat),
        T(test_epoch_not_advanced_without_commit),
        T(test_stale_epoch),
        T(test_new_spi_resets_epoch),
        T(test_ssrc_mismatch),
        T(test_wrong_key_length),
        T(test_unknown_spi_and_auth),
        T(test_ttl_expiry),
        T(test_extension_and_framing),
        T(test_truncations),
        T(test_param_table),
        T(test_stream_table),
        T(test_256_transform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
