/* The EKT receiver (RFC 8870 §4.3.2): parameter sets by SPI, and per
 * (SPI, SSRC) what each sender announced.
 *
 * Per stream two keys are remembered: the committed one (an SRTP packet
 * authenticated under it, so its epoch counts) and at most one candidate
 * (unwrapped correctly, not yet confirmed by SRTP). The split exists
 * because the epoch travels outside both the key wrap and SRTP's
 * authentication: a raised epoch on a replayed field must not become the
 * bar a genuine re-key then fails to clear (spec digest ekt.md §4.3). A
 * candidate never blocks anything; a later valid field replaces it.
 *
 * Tables are small arrays searched linearly: Short fields, the common case,
 * never touch them, and a conference has few senders. */
#include <stdlib.h>
#include <string.h>

#include "perc/ekt.h"
#include "perc/secret.h"

typedef struct rx_set {
    bool in_use;
    uint64_t order;             /* when added, for dropping the oldest */
    perc_ekt_params p;
} rx_set;

typedef struct rx_key {
    bool valid;
    uint16_t epoch;
    uint32_t roc;
    size_t ct_len;
    uint8_t ct[PERC_EKT_CIPHERTEXT_MAX];
    uint8_t key[PERC_EKT_RX_MAX_KEY_LEN];
} rx_key;

typedef struct rx_stream {
    bool in_use;
    uint16_t spi;
    uint32_t ssrc;
    uint64_t last_used_ns;      /* for dropping the least recently used */
    rx_key committed;
    rx_key candidate;
} rx_stream;

struct perc_ekt_rx {
    perc_ekt_rx_config cfg;
    uint64_t next_order;
    rx_set *sets;
    rx_stream *streams;
};

static void wipe_stream(rx_stream *st) { perc_wipe(st, sizeof *st); }

int perc_ekt_rx_new(const perc_ekt_rx_config *cfg, perc_ekt_rx **out)
{
    if (!cfg || !out)
        return PERC_ERR_INVALID_ARG;
    if (cfg->master_key_len == 0 || cfg->master_key_len > PERC_EKT_RX_MAX_KEY_LEN ||
        cfg->salt_len == 0 || cfg->salt_len > PERC_EKT_RX_MAX_SALT_LEN)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return PERC_ERR_NOMEM;
    rx->cfg = *cfg;
    if (rx->cfg.max_sets == 0)
        rx->cfg.max_sets = PERC_EKT_RX_DEFAULT_MAX_SETS;
    if (rx->cfg.max_streams == 0)
        rx->cfg.max_streams = PERC_EKT_RX_DEFAULT_MAX_STREAMS;
    rx->sets = calloc(rx->cfg.max_sets, sizeof *rx->sets);
    rx->streams = calloc(rx->cfg.max_streams, sizeof *rx->streams);
    if (!rx->sets || !rx->streams) {
        perc_ekt_rx_free(rx);
        return PERC_ERR_NOMEM;
    }
    *out = rx;
    return PERC_OK;
}

void perc_ekt_rx_free(perc_ekt_rx *rx)
{
    if (!rx)
        return;
    if (rx->sets)
        perc_wipe(rx->sets, rx->cfg.max_sets * sizeof *rx->sets);
    if (rx->streams)
        perc_wipe(rx->streams, rx->cfg.max_streams * sizeof *rx->streams);
    free(rx->sets);
    free(rx->streams);
    free(rx);
}

static rx_set *find_set(perc_ekt_rx *rx, uint16_t spi)
{
    for (size_t i = 0; i < rx->cfg.max_sets; i++) {
        if (rx->sets[i].in_use && rx->sets[i].p.spi == spi)
            return &rx->sets[i];
    }
    return NULL;
}

static void drop_set(perc_ekt_rx *rx, rx_set *s)
{
    for (size_t i = 0; i < rx->cfg.max_streams; i++) {
        if (rx->streams[i].in_use && rx->streams[i].spi == s->p.spi)
            wipe_stream(&rx->streams[i]);
    }
    perc_wipe(s, sizeof *s);
}

int perc_ekt_rx_add_params(perc_ekt_rx *rx, const perc_ekt_params *p)
{
    if (!rx || !p)
        return PERC_ERR_INVALID_ARG;
    size_t want = perc_ekt_cipher_key_len((uint8_t)p->cipher);
    if (want == 0)
        return PERC_ERR_INVALID_ARG;
    if (p->key_len != want || p->salt_len > PERC_EKT_MAX_SALT_LEN ||
        p->salt_len < rx->cfg.salt_len)
        return PERC_ERR_KEY_LENGTH;

    rx_set *s = find_set(rx, p->spi);
    if (s) {
        /* A retransmitted EKTKey is harmless; the TTL keeps running from
         * its first arrival. A different set under the same SPI breaks
         * §4.1's rule that distinct sets have distinct SPIs. */
        return perc_ekt_params_same(&s->p, p) ? PERC_OK : PERC_ERR_STATE;
    }
    rx_set *slot = NULL;
    for (size_t i = 0; i < rx->cfg.max_sets && !slot; i++) {
        if (!rx->sets[i].in_use)
            slot = &rx->sets[i];
    }
    if (!slot) {
        /* Full: the set added longest ago is the one senders have most
         * likely left behind. */
        slot = &rx->sets[0];
        for (size_t i = 1; i < rx->cfg.max_sets; i++) {
            if (rx->sets[i].order < slot->order)
                slot = &rx->sets[i];
        }
        drop_set(rx, slot);
    }
    slot->in_use = true;
    slot->order = rx->next_order++;
    slot->p = *p;
    return PERC_OK;
}

int perc_ekt_rx_remove_params(perc_ekt_rx *rx, uint16_t spi)
{
    if (!rx)
        return PERC_ERR_INVALID_ARG;
    rx_set *s = find_set(rx, spi);
    if (!s)
        return PERC_ERR_NOT_FOUND;
    drop_set(rx, s);
    return PERC_OK;
}

void perc_ekt_rx_forget_ssrc(perc_ekt_rx *rx, uint32_t ssrc)
{
    if (!rx)
        return;
    for (size_t i = 0; i < rx->cfg.max_streams; i++) {
        if (rx->streams[i].in_use && rx->streams[i].ssrc == ssrc)
            wipe_stream(&rx->streams[i]);
    }
}

static rx_stream *find_stream(perc_ekt_rx *rx, uint16_t spi, uint32_t ssrc)
{
    for (size_t i = 0; i < rx->cfg.max_streams; i++) {
        rx_stream *st = &rx->streams[i];
        if (st->in_use && st->spi == spi && st->ssrc == ssrc)
            return st;
    }
    return NULL;
}

/* A free entry, or the least recently used one wiped. */
static rx_stream *new_stream(perc_ekt_rx *rx, uint16_t spi, uint32_t ssrc, uint64_t now_ns)
{
    rx_stream *st = NULL;
    for (size_t i = 0; i < rx->cfg.max_streams && !st; i++) {
        if (!rx->streams[i].in_use)
            st = &rx->streams[i];
    }
    if (!st) {
        st = &rx->streams[0];
        for (size_t i = 1; i < rx->cfg.max_streams; i++) {
            if (rx->streams[i].last_used_ns < st->last_used_ns)
                st = &rx->streams[i];
        }
    }
    wipe_stream(st);
    st->in_use = true;
    st->spi = spi;
    st->ssrc = ssrc;
    st->last_used_ns = now_ns;
    return st;
}

static bool same_ct(const rx_key *k, perc_view ct)
{
    /* Ciphertexts are public; a plain comparison will do. */
    return k->valid && k->ct_len == ct.len && memcmp(k->ct, ct.ptr, ct.len) == 0;
}

static void store_key(rx_key *k, uint16_t epoch, const perc_ekt_plaintext *pt, perc_view ct)
{
    perc_wipe(k, sizeof *k);
    k->valid = true;
    k->epoch = epoch;
    k->roc = pt->roc;
    k->ct_len = ct.len;
    memcpy(k->ct, ct.ptr, ct.len);
    memcpy(k->key, pt->master_key, pt->master_key_len);
}

/* Fills the NEW_KEY part of res from a candidate. */
static void report_new_key(const perc_ekt_rx *rx, const rx_set *s, const rx_key *k,
                           perc_ekt_rx_result *res)
{
    res->kind = PERC_EKT_RX_FULL_NEW_KEY;
    res->epoch = k->epoch;
    res->roc = k->roc;
    res->master_key_len = rx->cfg.master_key_len;
    memcpy(res->master_key, k->key, rx->cfg.master_key_len);
    /* §4.3.2 step 4: a salt longer than the transform needs is cut to its
     * first octets. */
    res->salt_len = rx->cfg.salt_len;
    memcpy(res->salt, s->p.salt, rx->cfg.salt_len);
}

/* The Full field part of perc_ekt_rx_process(). */
static int process_full(perc_ekt_rx *rx, const perc_ekt_field *fld, uint32_t packet_ssrc,
                        uint64_t now_ns, perc_ekt_rx_result *res)
{
    perc_ekt_full f;
    int rc = perc_ekt_full_parse(fld->field.ptr, fld->field.len, &f);
    if (rc)
        return rc;
    res->spi = f.spi;
    res->epoch = f.epoch;
    res->ssrc = packet_ssrc;

    /* From here on a failure discards the field; whether the packet goes
     * on is decided per error below. */
    res->packet_usable = true;
    rx_set *s = find_set(rx, f.spi);
    if (!s)
        return PERC_ERR_UNKNOWN_SPI; /* §4.3.2 step 2 */
    if (perc_ekt_params_expired(&s->p, now_ns))
        return PERC_ERR_EXPIRED;   /* §4.3.2: no decryption past the TTL */

    rx_stream *st = find_stream(rx, f.spi, packet_ssrc);
    if (st) {
        st->last_used_ns = now_ns;
        /* §4.3.2: a receiver may compare with a cached ciphertext instead of
         * unwrapping; periodic repeats are the common Full field. */
        if (same_ct(&st->committed, f.ciphertext)) {
            res->kind = PERC_EKT_RX_FULL_REPEAT;
            res->roc = st->committed.roc;
            return PERC_OK;
        }
        if (same_ct(&st->candidate, f.ciphertext)) {
            report_new_key(rx, s, &st->candidate, res);
            return PERC_OK;
        }
        /* §4.1: an epoch below one in use is a roll-back; refuse it before
         * spending an unwrap on it. */
        if (st->committed.valid && f.epoch < st->committed.epoch)
            return PERC_ERR_STALE_EPOCH;
    }

    perc_ekt_plaintext pt;
    rc = perc_ekt_full_field_open(&s->p, &f, &pt); /* §4.3.2 steps 3-4 */
    if (rc) {
        res->packet_usable = false; /* step 3: SHOULD drop the packet */
        goto out;
    }
    if (pt.ssrc != packet_ssrc) {
        rc = PERC_ERR_SSRC_MISMATCH; /* step 5: field discarded, packet may go on */
        goto out;
    }
    if (pt.master_key_len != rx->cfg.master_key_len) {
        rc = PERC_ERR_KEY_LENGTH; /* step 6: abort, SHOULD drop the packet */
        res->packet_usable = false;
        goto out;
    }
    if (st && st->committed.valid &&
        perc_secret_equal(pt.master_key, st->committed.key, pt.master_key_len)) {
        /* The key in use, in a new wrap: the sender's ROC moved on (§4.3.1
         * re-wraps then) or someone altered the epoch. No re-key either way;
         * the new ciphertext becomes the cached one. */
        uint16_t epoch = st->committed.epoch;
        store_key(&st->committed, epoch, &pt, f.ciphertext);
        res->kind = PERC_EKT_RX_FULL_REPEAT;
        res->roc = pt.roc;
        goto out;
    }
    if (st && st->committed.valid && f.epoch == st->committed.epoch) {
        rc = PERC_ERR_STALE_EPOCH; /* §4.1: an equal epoch must not re-key */
        goto out;
    }
    if (!st)
        st = new_stream(rx, f.spi, packet_ssrc, now_ns);
    store_key(&st->candidate, f.epoch, &pt, f.ciphertext);
    report_new_key(rx, s, &st->candidate, res);
out:
    perc_ekt_plaintext_wipe(&pt);
    return rc;
}

int perc_ekt_rx_process(perc_ekt_rx *rx, const uint8_t *pkt, size_t len, uint32_t packet_ssrc,
                        uint64_t now_ns, perc_ekt_rx_result *res)
{
    if (!res)
        return PERC_ERR_INVALID_ARG;
    perc_ekt_rx_result_wipe(res);
    if (!rx || !pkt)
        return PERC_ERR_INVALID_ARG;

    perc_ekt_field fld;
    int rc = perc_ekt_field_find(pkt, len, &fld);
    if (rc)
        return rc; /* the packet cannot even be split: drop it */
    res->type = fld.type;
    res->srtp_len = fld.srtp_len;

    if (fld.type == PERC_EKT_TYPE_SHORT) {
        res->kind = PERC_EKT_RX_SHORT;
        res->packet_usable = true;
        return PERC_OK;
    }
    if (fld.type != PERC_EKT_TYPE_FULL) {
        /* §4.3.2 step 1: a type we do not know is skipped by its Length. */
        res->kind = PERC_EKT_RX_EXTENSION;
        res->packet_usable = true;
        return PERC_OK;
    }
    rc = process_full(rx, &fld, packet_ssrc, now_ns, res);
    if (rc != PERC_OK) {
        /* Keep srtp_len and the field's header values for the caller's
         * logs, but nothing secret and no kind. */
        bool usable = res->packet_usable;
        size_t srtp_len = res->srtp_len;
        uint8_t type = res->type;
        uint16_t spi = res->spi, epoch = res->epoch;
        perc_ekt_rx_result_wipe(res);
        res->packet_usable = usable;
        res->srtp_len = srtp_len;
        res->type = type;
        res->spi = spi;
        res->epoch = epoch;
        res->ssrc = packet_ssrc;
    }
    return rc;
}

int perc_ekt_rx_commit(perc_ekt_rx *rx, uint16_t spi, uint32_t ssrc, uint16_t epoch)
{
    if (!rx)
        return PERC_ERR_INVALID_ARG;
    rx_stream *st = find_stream(rx, spi, ssrc);
    if (!st || !st->candidate.valid || st->candidate.epoch != epoch)
        return PERC_ERR_STATE;
    st->committed = st->candidate;
    perc_wipe(&st->candidate, sizeof st->candidate);
    return PERC_OK;
}

void perc_ekt_rx_result_wipe(perc_ekt_rx_result *res)
{
    if (res)
        perc_wipe(res, sizeof *res);
}
