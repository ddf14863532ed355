/* The EKT sender's timing rules (RFC 8870 §4.3.1, §4.5, §4.6) for one
 * outbound SRTP stream: which packets carry a Full field, what epoch it
 * has, which master key encrypts each packet around a key change, and the
 * cached ciphertext. Sans-I/O: the caller passes the time with each packet.
 */
#include <stdlib.h>
#include <string.h>

#include "perc/ekt.h"
#include "perc/keywrap.h"
#include "perc/secret.h"

/* Longest master key whose wrap still fits the 251-octet ciphertext. */
#define TX_MAX_KEY_LEN 231

struct perc_ekt_tx {
    perc_ekt_tx_config cfg;
    uint32_t ssrc;

    bool has_key;
    perc_ekt_params p;          /* the current set */
    uint16_t epoch;             /* of the current key under p's SPI */
    size_t key_len;
    uint8_t key[TX_MAX_KEY_LEN];

    /* §4.3.1: after a key change the previous key keeps encrypting for a
     * while so that receivers hold the new one before they need it. */
    bool in_delay;
    uint64_t change_ns;
    size_t old_len;
    uint8_t old_key[TX_MAX_KEY_LEN];

    unsigned full_left;         /* Full fields still owed after a key change */
    bool sent_full;
    uint64_t last_full_ns;
    uint64_t wraps;             /* distinct plaintexts wrapped under p */

    bool cache_valid;
    uint32_t cache_roc;
    size_t cache_len;
    uint8_t cache[PERC_EKT_FULL_MAX_LEN];
};

void perc_ekt_tx_config_default(perc_ekt_tx_config *cfg)
{
    cfg->initial_full = 3;                            /* §4.6: three consecutive packets */
    cfg->repeat_interval_ns = UINT64_C(100000000);    /* §4.6: audio, every 100 ms */
    cfg->key_change_delay_ns = UINT64_C(250000000);   /* §4.3.1: 250 ms */
    cfg->cipher_limit = PERC_EKT_CIPHER_LIMIT;        /* §4.4.1: T = 2^48 */
}

int perc_ekt_tx_new(const perc_ekt_tx_config *cfg, uint32_t ssrc, perc_ekt_tx **out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_tx_config c;
    if (cfg)
        c = *cfg;
    else
        perc_ekt_tx_config_default(&c);
    if (c.initial_full == 0 || c.cipher_limit == 0)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        return PERC_ERR_NOMEM;
    tx->cfg = c;
    tx->ssrc = ssrc;
    *out = tx;
    return PERC_OK;
}

void perc_ekt_tx_free(perc_ekt_tx *tx)
{
    if (!tx)
        return;
    perc_wipe(tx, sizeof *tx);
    free(tx);
}

int perc_ekt_tx_set_key(perc_ekt_tx *tx, const perc_ekt_params *p, const uint8_t *master_key,
                        size_t key_len, uint64_t now_ns)
{
    if (!tx || !p || !master_key || key_len == 0)
        return PERC_ERR_INVALID_ARG;
    if (key_len > TX_MAX_KEY_LEN)
        return PERC_ERR_TOO_LARGE;
    if (perc_ekt_cipher_key_len((uint8_t)p->cipher) != p->key_len)
        return PERC_ERR_KEY_LENGTH;
    if (perc_ekt_params_expired(p, now_ns))
        return PERC_ERR_EXPIRED;

    bool same_spi = tx->has_key && p->spi == tx->p.spi;
    if (same_spi && !perc_ekt_params_same(&tx->p, p))
        return PERC_ERR_STATE; /* §4.1: one SPI, one parameter set */
    /* §6: master keys are never reused. */
    if (tx->has_key && key_len == tx->key_len && perc_secret_equal(master_key, tx->key, key_len))
        return PERC_ERR_INVALID_ARG;
    /* Epoch wrap-around is not defined (spec digest README item 6): past
     * 65535 keys under one EKTKey the sender needs a new EKTKey. */
    if (same_spi && tx->epoch == UINT16_MAX)
        return PERC_ERR_KEY_EXHAUSTED;

    if (tx->has_key && tx->cfg.key_change_delay_ns > 0) {
        /* A change in the middle of another one's delay: the key actually
         * encrypting is still the old one, and it stays so. */
        if (!tx->in_delay) {
            perc_wipe(tx->old_key, sizeof tx->old_key);
            memcpy(tx->old_key, tx->key, tx->key_len);
            tx->old_len = tx->key_len;
            tx->in_delay = true;
        }
        tx->change_ns = now_ns;
    } else if (tx->in_delay) {
        perc_wipe(tx->old_key, sizeof tx->old_key);
        tx->in_delay = false;
    }

    if (same_spi) {
        /* §4.1: one more master key under the same EKTKey. */
        tx->epoch = (uint16_t)(tx->epoch + 1);
    } else {
        /* §4.1: the epoch starts over with a new SPI, and so does the count
         * of wraps under the EKTKey. */
        perc_ekt_params_wipe(&tx->p);
        tx->p = *p;
        tx->epoch = 0;
        tx->wraps = 0;
    }
    perc_wipe(tx->key, sizeof tx->key);
    memcpy(tx->key, master_key, key_len);
    tx->key_len = key_len;
    tx->has_key = true;
    /* §4.6: announce a new key in several consecutive packets. */
    tx->full_left = tx->cfg.initial_full;
    tx->cache_valid = false;
    perc_wipe(tx->cache, sizeof tx->cache);
    return PERC_OK;
}

/* b - a for monotonic times, 0 if the clock went backwards. */
static uint64_t elapsed(uint64_t a, uint64_t b) { return b > a ? b - a : 0; }

int perc_ekt_tx_next(perc_ekt_tx *tx, uint32_t roc, bool force_full, uint64_t now_ns,
                     uint8_t *field, size_t cap, perc_ekt_tx_packet *out)
{
    if (!tx || !field || !out)
        return PERC_ERR_INVALID_ARG;
    if (!tx->has_key)
        return PERC_ERR_STATE;
    /* §4.3.2 key lifetime: past the TTL the EKTKey encrypts nothing. */
    if (perc_ekt_params_expired(&tx->p, now_ns))
        return PERC_ERR_EXPIRED;

    bool retire = tx->in_delay && elapsed(tx->change_ns, now_ns) >= tx->cfg.key_change_delay_ns;
    bool due = !tx->sent_full || elapsed(tx->last_full_ns, now_ns) >= tx->cfg.repeat_interval_ns;
    bool full = tx->full_left > 0 || force_full || due;
    bool rebuild = full && !(tx->cache_valid && tx->cache_roc == roc);

    size_t need = full ? perc_ekt_full_len(perc_keywrap_wrapped_len(1 + tx->key_len + 8))
                       : PERC_EKT_SHORT_LEN;
    if (cap < need)
        return PERC_ERR_NOSPACE;
    if (rebuild && tx->wraps >= tx->cfg.cipher_limit)
        return PERC_ERR_KEY_EXHAUSTED; /* §4.4: at most T wraps per EKTKey */

    size_t field_len = 0;
    int rc;
    if (rebuild) {
        /* §4.3.1: the plaintext is fixed by key, SSRC and ROC, so the
         * ciphertext only changes when the ROC does. */
        uint8_t fresh[PERC_EKT_FULL_MAX_LEN];
        size_t fresh_len = 0;
        rc = perc_ekt_full_field_make(&tx->p, tx->key, tx->key_len, tx->ssrc, roc, tx->epoch,
                                      fresh, sizeof fresh, &fresh_len);
        if (rc)
            return rc;
        memcpy(tx->cache, fresh, fresh_len);
        tx->cache_len = fresh_len;
        tx->cache_roc = roc;
        tx->cache_valid = true;
        tx->wraps++;
    }
    if (full) {
        memcpy(field, tx->cache, tx->cache_len);
        field_len = tx->cache_len;
        if (tx->full_left > 0)
            tx->full_left--;
        tx->sent_full = true;
        tx->last_full_ns = now_ns;
    } else if ((rc = perc_ekt_short_build(field, cap, &field_len))) {
        return rc;
    }

    if (retire) {
        perc_wipe(tx->old_key, sizeof tx->old_key);
        tx->old_len = 0;
        tx->in_delay = false;
    }
    out->full = full;
    out->use_old_key = tx->in_delay;
    out->key = tx->in_delay ? perc_view_of(tx->old_key, tx->old_len)
                            : perc_view_of(tx->key, tx->key_len);
    out->spi = tx->p.spi;
    out->epoch = tx->epoch;
    out->field_len = field_len;
    return PERC_OK;
}
