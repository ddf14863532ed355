/* The EKT sender's timing rules (perc_ekt_tx_* in common/include/perc/ekt.h),
 * RFC 8870 §4.3.1, §4.5, §4.6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc/ekt.h"
#include "test_util.h"

#define MS 1000000ull
#define S 1000000000ull
#define SSRC 0x11223344u

static void params(perc_ekt_params *p, uint16_t spi, uint8_t seed)
{
    uint8_t ek[16], salt[12];
    memset(ek, seed, sizeof ek);
    memset(salt, 0xa0, sizeof salt);
    assert_int_equal(perc_ekt_params_set(p, 1, ek, 16, salt, 12, spi, 3600, 0), PERC_OK);
}

static void key_of(uint8_t tag, uint8_t key[16]) { memset(key, tag, 16); }

typedef struct pkt {
    perc_ekt_tx_packet info;
    uint8_t field[PERC_EKT_FIELD_MAX_LEN];
} pkt;

static pkt next(perc_ekt_tx *tx, uint32_t roc, bool force, uint64_t now)
{
    pkt p;
    memset(&p, 0, sizeof p);
    assert_int_equal(perc_ekt_tx_next(tx, roc, force, now, p.field, sizeof p.field, &p.info),
                     PERC_OK);
    if (p.info.full) {
        assert_int_equal(p.info.field_len, 47);
    } else {
        assert_int_equal(p.info.field_len, 1);
        assert_int_equal(p.field[0], 0x00);
    }
    return p;
}

/* Opens a Full field and checks what it carries. */
static void check_full(const pkt *p, const perc_ekt_params *set, uint8_t tag, uint16_t epoch,
                       uint32_t roc)
{
    assert_true(p->info.full);
    perc_ekt_full full;
    assert_int_equal(perc_ekt_full_parse(p->field, p->info.field_len, &full), PERC_OK);
    assert_int_equal(full.spi, set->spi);
    assert_int_equal(full.epoch, epoch);
    perc_ekt_plaintext pt;
    assert_int_equal(perc_ekt_full_field_open(set, &full, &pt), PERC_OK);
    uint8_t key[16];
    key_of(tag, key);
    assert_int_equal(pt.master_key_len, 16);
    assert_memory_equal(pt.master_key, key, 16);
    assert_int_equal(pt.ssrc, SSRC);
    assert_int_equal(pt.roc, roc);
    perc_ekt_plaintext_wipe(&pt);
}

static void check_key(const pkt *p, uint8_t tag, bool old)
{
    uint8_t key[16];
    key_of(tag, key);
    assert_int_equal(p->info.use_old_key, old);
    assert_int_equal(p->info.key.len, 16);
    assert_memory_equal(p->info.key.ptr, key, 16);
}

/* §4.6: three Full fields first, then Short ones. */
static void test_three_full_then_short(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(NULL, SSRC, &tx), PERC_OK);
    uint8_t k[16];
    key_of(1, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 0), PERC_OK);
    for (int i = 0; i < 3; i++) {
        pkt p = next(tx, 0, false, (uint64_t)i * MS);
        check_full(&p, &set, 1, 0, 0);
        check_key(&p, 1, false);
        assert_int_equal(p.info.epoch, 0);
        assert_int_equal(p.info.spi, 1);
    }
    for (int i = 3; i < 20; i++) {
        pkt p = next(tx, 0, false, (uint64_t)i * MS);
        assert_false(p.info.full);
        check_key(&p, 1, false);
    }
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&set);
}

/* §4.6: a Full field again once the interval has passed since the last. */
static void test_periodic_and_forced(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_tx_config cfg;
    perc_ekt_tx_config_default(&cfg);
    assert_true(cfg.repeat_interval_ns == 100 * MS);
    assert_true(cfg.key_change_delay_ns == 250 * MS);
    assert_int_equal(cfg.initial_full, 3);
    assert_true(cfg.cipher_limit == (1ull << 48));
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(&cfg, SSRC, &tx), PERC_OK);
    uint8_t k[16];
    key_of(1, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 0), PERC_OK);
    uint64_t t = 1000 * MS;
    for (int i = 0; i < 3; i++)
        assert_true(next(tx, 0, false, t).info.full); /* last Full at t */
    assert_false(next(tx, 0, false, t + 20 * MS).info.full);
    assert_false(next(tx, 0, false, t + 100 * MS - 1).info.full);
    pkt p = next(tx, 0, false, t + 100 * MS);
    check_full(&p, &set, 1, 0, 0);
    assert_false(next(tx, 0, false, t + 120 * MS).info.full);
    /* forced (a video intra frame) restarts the interval */
    assert_true(next(tx, 0, true, t + 150 * MS).info.full);
    assert_false(next(tx, 0, false, t + 200 * MS).info.full);
    assert_false(next(tx, 0, false, t + 250 * MS - 1).info.full);
    assert_true(next(tx, 0, false, t + 250 * MS).info.full);
    /* a clock that steps back does not trigger anything */
    assert_false(next(tx, 0, false, t).info.full);
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&set);
}

/* §4.3.1 + §4.6: a new key under the same SPI is announced in three Full
 * fields with epoch + 1 while the old key keeps encrypting for 250 ms. */
static void test_key_change(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(NULL, SSRC, &tx), PERC_OK);
    uint8_t k1[16], k2[16], k3[16];
    key_of(1, k1);
    key_of(2, k2);
    key_of(3, k3);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k1, 16, 0), PERC_OK);
    for (int i = 0; i < 5; i++)
        (void)next(tx, 0, false, 0);

    uint64_t t = 10 * S;
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k2, 16, t), PERC_OK);
    for (int i = 0; i < 3; i++) {
        pkt p = next(tx, 0, false, t + (uint64_t)i * MS);
        check_full(&p, &set, 2, 1, 0); /* announces the new key */
        check_key(&p, 1, true);        /* but encrypts with the old one */
        assert_int_equal(p.info.epoch, 1);
    }
    pkt p = next(tx, 0, false, t + 50 * MS);
    assert_false(p.info.full);
    check_key(&p, 1, true);
    p = next(tx, 0, false, t + 249 * MS); /* a periodic Full, still the old key */
    check_full(&p, &set, 2, 1, 0);
    check_key(&p, 1, true);
    p = next(tx, 0, false, t + 250 * MS);
    check_key(&p, 2, false);
    p = next(tx, 0, false, t + 260 * MS);
    check_key(&p, 2, false);

    /* a change within another change's delay: the key encrypting stays
     * the one in use (k2) until the newest delay ends */
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k3, 16, t + S), PERC_OK);
    p = next(tx, 0, false, t + S);
    check_full(&p, &set, 3, 2, 0);
    check_key(&p, 2, true);
    uint8_t k4[16];
    key_of(4, k4);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k4, 16, t + S + 100 * MS), PERC_OK);
    p = next(tx, 0, false, t + S + 300 * MS);
    check_full(&p, &set, 4, 3, 0);
    check_key(&p, 2, true);
    p = next(tx, 0, false, t + S + 350 * MS);
    check_key(&p, 4, false);

    /* reusing the current key is refused (§6) */
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k4, 16, t + 2 * S), PERC_ERR_INVALID_ARG);
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&set);
}

/* §4.1: a new SPI starts the epoch at 0; the same SPI must mean the same set. */
static void test_new_spi_resets_epoch(void **state)
{
    (void)state;
    perc_ekt_params s1, s2, s1_other;
    params(&s1, 1, 0x31);
    params(&s2, 2, 0x32);
    params(&s1_other, 1, 0x33);
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(NULL, SSRC, &tx), PERC_OK);
    uint8_t k[16];
    for (uint8_t i = 1; i <= 3; i++) {
        key_of(i, k);
        assert_int_equal(perc_ekt_tx_set_key(tx, &s1, k, 16, 0), PERC_OK);
    }
    pkt p = next(tx, 0, false, 0);
    check_full(&p, &s1, 3, 2, 0);
    key_of(9, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &s1_other, k, 16, 0), PERC_ERR_STATE);
    assert_int_equal(perc_ekt_tx_set_key(tx, &s2, k, 16, 0), PERC_OK);
    p = next(tx, 0, false, 0);
    check_full(&p, &s2, 9, 0, 0);
    assert_int_equal(p.info.spi, 2);
    key_of(10, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &s2, k, 16, 0), PERC_OK);
    p = next(tx, 0, false, 0);
    check_full(&p, &s2, 10, 1, 0);
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&s1);
    perc_ekt_params_wipe(&s2);
    perc_ekt_params_wipe(&s1_other);
}

/* §4.3.1: the cached ciphertext is reused for the same ROC and rebuilt
 * when the ROC changes; §4.4: only distinct wraps count against T. */
static void test_roc_change_and_cipher_limit(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_tx_config cfg;
    perc_ekt_tx_config_default(&cfg);
    cfg.cipher_limit = 2;
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(&cfg, SSRC, &tx), PERC_OK);
    uint8_t k[16];
    key_of(1, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 0), PERC_OK);
    pkt a = next(tx, 0, false, 0);
    pkt b = next(tx, 0, false, 1);
    assert_memory_equal(a.field, b.field, 47); /* cached: one wrap */
    pkt c = next(tx, 1, false, 2);              /* ROC moved: rebuilt */
    check_full(&c, &set, 1, 0, 1);
    assert_memory_not_equal(a.field, c.field, 40);
    /* a third distinct wrap exceeds the limit; Short fields still go out */
    pkt d;
    assert_int_equal(perc_ekt_tx_next(tx, 2, true, 3, d.field, sizeof d.field, &d.info),
                     PERC_ERR_KEY_EXHAUSTED);
    assert_false(next(tx, 1, false, 4).info.full);
    /* ROC 1 is still cached: a Full field for it needs no new wrap */
    pkt e = next(tx, 1, true, 5);
    assert_memory_equal(e.field, c.field, 47);
    /* a new EKTKey (new SPI) restarts the count */
    perc_ekt_params s2;
    params(&s2, 2, 0x32);
    key_of(2, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &s2, k, 16, 6), PERC_OK);
    pkt f = next(tx, 2, false, 7);
    check_full(&f, &s2, 2, 0, 2);
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&set);
    perc_ekt_params_wipe(&s2);
}

static void test_errors(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_tx *tx;
    perc_ekt_tx_config cfg;
    perc_ekt_tx_config_default(&cfg);
    cfg.initial_full = 0;
    assert_int_equal(perc_ekt_tx_new(&cfg, SSRC, &tx), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_ekt_tx_new(NULL, SSRC, &tx), PERC_OK);
    pkt p;
    /* no key yet */
    assert_int_equal(perc_ekt_tx_next(tx, 0, false, 0, p.field, sizeof p.field, &p.info),
                     PERC_ERR_STATE);
    uint8_t k[16];
    key_of(1, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 0, 0), PERC_ERR_INVALID_ARG);
    uint8_t huge[232] = {1};
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, huge, sizeof huge, 0), PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 0), PERC_OK);

    /* too little room: nothing advances, the first Full is still owed */
    assert_int_equal(perc_ekt_tx_next(tx, 0, false, 0, p.field, 46, &p.info), PERC_ERR_NOSPACE);
    for (int i = 0; i < 3; i++)
        assert_true(next(tx, 0, false, 0).info.full);
    assert_false(next(tx, 0, false, 0).info.full);

    /* TTL: 3600 s from t=0, no encryption after */
    assert_int_equal(perc_ekt_tx_next(tx, 0, false, 3600 * S, p.field, sizeof p.field, &p.info),
                     PERC_ERR_EXPIRED);
    key_of(2, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 3600 * S), PERC_ERR_EXPIRED);

    /* epoch wrap-around under one SPI is refused */
    for (uint32_t i = 1; i <= 65535; i++) {
        uint8_t kk[16] = {0};
        memcpy(kk, &i, sizeof i);
        kk[15] = 0xEE;
        assert_int_equal(perc_ekt_tx_set_key(tx, &set, kk, 16, 0), PERC_OK);
    }
    assert_int_equal(next(tx, 0, false, 0).info.epoch, 65535);
    key_of(7, k);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k, 16, 0), PERC_ERR_KEY_EXHAUSTED);
    perc_ekt_tx_free(tx);
    perc_ekt_params_wipe(&set);
}

/* The sender's fields through a receiver: the first learns the key, the
 * periodic ones are repeats, a re-key is a new key at epoch + 1. */
static void test_sender_to_receiver(void **state)
{
    (void)state;
    perc_ekt_params set;
    params(&set, 1, 0x31);
    perc_ekt_rx *rx;
    perc_ekt_rx_config rcfg = {.master_key_len = 16, .salt_len = 12};
    assert_int_equal(perc_ekt_rx_new(&rcfg, &rx), PERC_OK);
    assert_int_equal(perc_ekt_rx_add_params(rx, &set), PERC_OK);
    perc_ekt_tx *tx;
    assert_int_equal(perc_ekt_tx_new(NULL, SSRC, &tx), PERC_OK);
    uint8_t k1[16], k2[16];
    key_of(1, k1);
    key_of(2, k2);
    assert_int_equal(perc_ekt_tx_set_key(tx, &set, k1, 16, 0), PERC_OK);

    /* The receiver keeps the announced key as a candidate and commits it
     * when an SRTP packet authenticates under it, which here means: the
     * sender encrypted that packet with it. */
    int new_keys = 0, repeats = 0, shorts = 0, commits = 0;
    bool has_cand = false;
    uint8_t cand[16];
    uint16_t cand_epoch = 0;
    for (uint64_t t = 0; t < 1000 * MS; t += 20 * MS) {
        if (t == 500 * MS)
            assert_int_equal(perc_ekt_tx_set_key(tx, &set, k2, 16, t), PERC_OK);
        pkt p = next(tx, 0, false, t);
        perc_ekt_rx_result res;
        assert_int_equal(perc_ekt_rx_process(rx, p.field, p.info.field_len, SSRC, t, &res),
                         PERC_OK);
        if (res.kind == PERC_EKT_RX_FULL_NEW_KEY) {
            new_keys++;
            has_cand = true;
            memcpy(cand, res.master_key, 16);
            cand_epoch = res.epoch;
        } else if (res.kind == PERC_EKT_RX_FULL_REPEAT) {
            repeats++;
        } else {
            assert_int_equal(res.kind, PERC_EKT_RX_SHORT);
            shorts++;
        }
        perc_ekt_rx_result_wipe(&res);
        if (has_cand && memcmp(p.info.key.ptr, cand, 16) == 0) {
            assert_int_equal(perc_ekt_rx_commit(rx, 1, SSRC, cand_epoch), PERC_OK);
            has_cand = false;
            commits++;
        }
    }
    /* k1: new at 0 ms (committed at once), repeats at 20, 40 and every
     * 100 ms up to 440. k2 (epoch 1) announced at 500, 520, 540 and again
     * at 640 and 740 while the old key still encrypts, so each is a new
     * key (a candidate); the sender switches at 750 ms, the packet at
     * 760 ms commits it, and the periodic fields at 840 and 940 are
     * repeats. */
    assert_int_equal(new_keys, 6);
    assert_int_equal(commits, 2);
    assert_int_equal(repeats, 8);
    assert_int_equal(shorts, 50 - 14);
    perc_ekt_tx_free(tx);
    perc_ekt_rx_free(rx);
    perc_ekt_params_wipe(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_full_then_short),
        cmocka_unit_test(test_periodic_and_forced),
        cmocka_unit_test(test_key_change),
        cmocka_unit_test(test_new_spi_resets_epoch),
        cmocka_unit_test(test_roc_change_and_cipher_limit),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sender_to_receiver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
