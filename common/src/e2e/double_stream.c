/* Double-transform sender and receiver objects: the step functions of
 * double_endpoint.c plus per-SSRC ROC and replay state, kept separately
 * for the inner and the outer layer (RFC 8723 §3; RFC 8871 asks for replay
 * protection on both). Tables are small arrays searched linearly: an
 * endpoint sees a conference's worth of SSRCs, not thousands. */
#include "perc/double_endpoint.h"

#include <stdlib.h>
#include <string.h>

#include "hop/srtp_session.h"

#include "perc/secret.h"

/* ---- sender ------------------------------------------------------------- */

typedef struct tx_stream {
    uint32_t ssrc;
    perc_srtp_tx_state st;
} tx_stream;

struct perc_double_tx {
    perc_srtp_session *inner;
    perc_srtp_session *outer;
    tx_stream *streams;
    size_t n, max;
};

int perc_double_tx_new(const perc_srtp_session_keys *inner, const perc_srtp_session_keys *outer,
                       size_t max_streams, perc_double_tx **out)
{
    if (!inner || !outer || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    if (max_streams == 0)
        max_streams = PERC_DOUBLE_DEFAULT_MAX_STREAMS;
    int rc = PERC_ERR_NOMEM;
    perc_double_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        goto fail;
    tx->max = max_streams;
    tx->streams = calloc(max_streams, sizeof *tx->streams);
    if (!tx->streams)
        goto fail;
    if ((rc = perc_srtp_session_new(inner, &tx->inner)) ||
        (rc = perc_srtp_session_new(outer, &tx->outer)))
        goto fail;
    *out = tx;
    return PERC_OK;
fail:
    perc_double_tx_free(tx);
    return rc;
}

void perc_double_tx_free(perc_double_tx *tx)
{
    if (!tx)
        return;
    perc_srtp_session_free(tx->inner);
    perc_srtp_session_free(tx->outer);
    free(tx->streams);
    free(tx);
}

static tx_stream *tx_find(const perc_double_tx *tx, uint32_t ssrc)
{
    for (size_t i = 0; i < tx->n; i++) {
        if (tx->streams[i].ssrc == ssrc)
            return &tx->streams[i];
    }
    return NULL;
}

static int tx_get(perc_double_tx *tx, uint32_t ssrc, tx_stream **out)
{
    tx_stream *s = tx_find(tx, ssrc);
    if (!s) {
        if (tx->n == tx->max)
            return PERC_ERR_LIMIT;
        s = &tx->streams[tx->n++];
        s->ssrc = ssrc;
        perc_srtp_tx_init(&s->st, 0);
    }
    *out = s;
    return PERC_OK;
}

int perc_double_tx_set_roc(perc_double_tx *tx, uint32_t ssrc, uint32_t roc)
{
    if (!tx)
        return PERC_ERR_INVALID_ARG;
    tx_stream *s;
    int rc = tx_get(tx, ssrc, &s);
    if (rc)
        return rc;
    perc_srtp_tx_init(&s->st, roc);
    return PERC_OK;
}

int perc_double_tx_roc(const perc_double_tx *tx, uint32_t ssrc, uint32_t *roc)
{
    if (!tx || !roc)
        return PERC_ERR_INVALID_ARG;
    const tx_stream *s = tx_find(tx, ssrc);
    if (!s)
        return PERC_ERR_NOT_FOUND;
    *roc = s->st.roc;
    return PERC_OK;
}

int perc_double_tx_protect(perc_double_tx *tx, uint8_t *buf, size_t len, size_t cap,
                           size_t *out_len)
{
    if (!tx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_rtp_header hdr;
    int rc = perc_rtp_parse_header(buf, len, &hdr);
    if (rc)
        return rc;
    tx_stream *s;
    if ((rc = tx_get(tx, hdr.ssrc, &s)))
        return rc;
    /* At the origin the inner and outer SEQ are the same, so one ROC
     * serves both layers; only a relay makes them diverge. Work on a copy
     * so a failed protect leaves the ROC where it was, as perc_srtp_protect
     * does. */
    perc_srtp_tx_state next = s->st;
    uint32_t roc = perc_srtp_tx_roc(&next, hdr.seq);
    if (next.roc < s->st.roc)
        return PERC_ERR_KEY_EXHAUSTED; /* the 48-bit index would wrap: nonce reuse */
    if ((rc = perc_double_protect(tx->inner, roc, tx->outer, roc, buf, len, cap, out_len)))
        return rc;
    s->st = next;
    return PERC_OK;
}

/* ---- receiver ----------------------------------------------------------- */

typedef struct rx_outer {
    uint32_t ssrc;
    perc_srtp_rx_state st;
} rx_outer;

/* One inner key of a sender, with its own ROC and replay state: RFC 3711
 * ties both to the crypto context, and a packet authenticates under exactly
 * one key, so a replay cannot pass by switching key. */
typedef struct rx_key {
    perc_srtp_session *session;     /* NULL: slot empty */
    perc_srtp_rx_state st;
} rx_key;

/* A sender's inner keys: the newest one installed and the one before it.
 * RFC 8870 §4.3.1 has a sender announce its new key in Full fields while it
 * keeps encrypting with the old one for a while, and packets sent on either
 * side of its switch may arrive interleaved; both keys must open, which is
 * what the RFC allows receivers to do (try both, keep what authenticates). */
typedef struct rx_inner {
    uint32_t ssrc;
    rx_key key[2];                  /* [cur_idx] newest, [!cur_idx] previous */
    unsigned cur_idx;
    unsigned last_ok;               /* slot that opened the latest packet: tried first */
} rx_inner;

struct perc_double_rx {
    perc_srtp_session *outer;
    rx_outer *outs;
    size_t n_outs;
    rx_inner *ins;
    size_t n_ins;
    size_t max;
    /* A copy of the inner ciphertext and tag: a failed open zeroes the
     * data, and the other key needs the original bytes. */
    uint8_t *scratch;
    size_t scratch_cap;
};

int perc_double_rx_new(const perc_srtp_session_keys *outer, size_t max_streams,
                       perc_double_rx **out)
{
    if (!outer || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    if (max_streams == 0)
        max_streams = PERC_DOUBLE_DEFAULT_MAX_STREAMS;
    int rc = PERC_ERR_NOMEM;
    perc_double_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        goto fail;
    rx->max = max_streams;
    rx->outs = calloc(max_streams, sizeof *rx->outs);
    rx->ins = calloc(max_streams, sizeof *rx->ins);
    if (!rx->outs || !rx->ins)
        goto fail;
    if ((rc = perc_srtp_session_new(outer, &rx->outer)))
        goto fail;
    *out = rx;
    return PERC_OK;
fail:
    perc_double_rx_free(rx);
    return rc;
}

void perc_double_rx_free(perc_double_rx *rx)
{
    if (!rx)
        return;
    perc_srtp_session_free(rx->outer);
    for (size_t i = 0; i < rx->n_ins; i++) {
        perc_srtp_session_free(rx->ins[i].key[0].session);
        perc_srtp_session_free(rx->ins[i].key[1].session);
    }
    free(rx->ins);
    free(rx->outs);
    if (rx->scratch)
        perc_wipe(rx->scratch, rx->scratch_cap);
    free(rx->scratch);
    free(rx);
}

static rx_outer *rx_find_outer(perc_double_rx *rx, uint32_t ssrc)
{
    for (size_t i = 0; i < rx->n_outs; i++) {
        if (rx->outs[i].ssrc == ssrc)
            return &rx->outs[i];
    }
    return NULL;
}

static rx_inner *rx_find_inner(perc_double_rx *rx, uint32_t ssrc)
{
    for (size_t i = 0; i < rx->n_ins; i++) {
        if (rx->ins[i].ssrc == ssrc)
            return &rx->ins[i];
    }
    return NULL;
}

int perc_double_rx_set_inner(perc_double_rx *rx, uint32_t ssrc, const perc_srtp_session_keys *inner,
                             uint32_t roc)
{
    if (!rx || !inner)
        return PERC_ERR_INVALID_ARG;
    rx_inner *e = rx_find_inner(rx, ssrc);
    if (!e && rx->n_ins == rx->max)
        return PERC_ERR_LIMIT;
    perc_srtp_session *s;
    int rc = perc_srtp_session_new(inner, &s);
    if (rc)
        return rc;
    if (!e) {
        e = &rx->ins[rx->n_ins++];
        memset(e, 0, sizeof *e);
        e->ssrc = ssrc;
    } else {
        rx_key *cur = &e->key[e->cur_idx], *prev = &e->key[e->cur_idx ^ 1u];
        if (!cur->st.started && prev->session && prev->st.started) {
            /* The newest key never opened a packet, the previous one did:
             * the sender is still encrypting with the previous key while it
             * announces newer ones (a second change inside its key-change
             * delay, RFC 8870 §4.3.1; deviations item 19). Keep the key in
             * use; the unused one gives way to its successor. */
            perc_srtp_session_free(cur->session);
        } else {
            /* The newest key becomes the previous one, with its replay
             * state; the one before it is dropped. */
            e->cur_idx ^= 1u;
            perc_srtp_session_free(e->key[e->cur_idx].session);
        }
    }
    rx_key *k = &e->key[e->cur_idx];
    k->session = s;
    perc_srtp_rx_init(&k->st);
    perc_srtp_rx_set_roc(&k->st, roc);
    return PERC_OK;
}

int perc_double_rx_refresh_inner_roc(perc_double_rx *rx, uint32_t ssrc, uint32_t roc)
{
    if (!rx)
        return PERC_ERR_INVALID_ARG;
    rx_inner *e = rx_find_inner(rx, ssrc);
    if (!e || !e->key[e->cur_idx].session)
        return PERC_ERR_NOT_FOUND;
    rx_key *k = &e->key[e->cur_idx];
    if (k->st.started)
        return PERC_ERR_STATE;
    perc_srtp_rx_set_roc(&k->st, roc);
    return PERC_OK;
}

int perc_double_rx_set_outer_roc(perc_double_rx *rx, uint32_t ssrc, uint32_t roc)
{
    if (!rx)
        return PERC_ERR_INVALID_ARG;
    rx_outer *e = rx_find_outer(rx, ssrc);
    if (!e) {
        if (rx->n_outs == rx->max)
            return PERC_ERR_LIMIT;
        e = &rx->outs[rx->n_outs++];
        e->ssrc = ssrc;
        perc_srtp_rx_init(&e->st);
    }
    perc_srtp_rx_set_roc(&e->st, roc);
    return PERC_OK;
}

static int ensure_scratch(perc_double_rx *rx, size_t n)
{
    if (rx->scratch_cap >= n)
        return PERC_OK;
    uint8_t *p = malloc(n);
    if (!p)
        return PERC_ERR_NOMEM;
    if (rx->scratch)
        perc_wipe(rx->scratch, rx->scratch_cap);
    free(rx->scratch);
    rx->scratch = p;
    rx->scratch_cap = n;
    return PERC_OK;
}

/* The inner layer (§5.3 steps 3-5) of the outer plaintext buf[0..n): index
 * from the ORIGINAL SEQ, which the MD may have renumbered on the wire. Each
 * held key is tried, the one that opened the latest packet first; each has
 * its own replay window. When no key opens it, a replay verdict of any key
 * wins over PERC_ERR_AUTH: RFC 3711 §3.3.2 checks replay before the tag. */
static int open_inner(perc_double_rx *rx, rx_inner *in, uint16_t orig_seq, uint8_t *buf,
                      size_t n, size_t *out_len, perc_double_rx_result *res)
{
    unsigned order[2] = {in->last_ok, in->last_ok ^ 1u};
    bool two = in->key[0].session && in->key[1].session;
    size_t body = 0;
    perc_srtp_layout hdr;
    int rc = perc_srtp_layout_of(buf, n, &hdr);
    if (rc)
        return rc;
    body = n - hdr.header_len;
    if (two) {
        if ((rc = ensure_scratch(rx, body)))
            return rc;
        memcpy(rx->scratch, buf + hdr.header_len, body);
    }
    int verdict = PERC_ERR_AUTH;
    for (unsigned t = 0; t < 2; t++) {
        unsigned slot = order[t];
        rx_key *k = &in->key[slot];
        if (!k->session)
            continue;
        uint64_t idx = perc_srtp_rx_estimate(&k->st, orig_seq);
        rc = perc_srtp_rx_check(&k->st, idx);
        if (rc) {
            verdict = rc;
            continue;
        }
        if (t > 0 && two)
            memcpy(buf + hdr.header_len, rx->scratch, body);
        rc = perc_double_inner_open(k->session, perc_srtp_index_roc(idx), buf, n, out_len);
        if (rc == PERC_OK) {
            perc_srtp_rx_commit(&k->st, idx);
            in->last_ok = slot;
            if (res)
                res->previous_key = slot != in->cur_idx;
            return PERC_OK;
        }
        if (rc != PERC_ERR_AUTH)
            return rc;
    }
    return verdict;
}

int perc_double_rx_unprotect_ex(perc_double_rx *rx, uint8_t *buf, size_t len, size_t *out_len,
                                perc_double_info *info, perc_double_rx_result *res)
{
    if (res) {
        res->failed_layer = PERC_DOUBLE_LAYER_NONE;
        res->previous_key = false;
    }
    if (!rx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout hdr;
    int rc = perc_srtp_layout_of(buf, len, &hdr);
    if (rc)
        return rc;
    /* Without the sender's inner keys the packet cannot be used; refuse it
     * before any state moves, so it can be taken again once EKT delivered
     * the key. */
    rx_inner *in = rx_find_inner(rx, hdr.ssrc);
    if (!in)
        return PERC_ERR_NO_KEY;

    /* Outer layer: index from the SEQ on the wire. A new SSRC's state is
     * only entered into the table once a packet authenticated, so forged
     * packets cannot fill it. */
    rx_outer *oe = rx_find_outer(rx, hdr.ssrc);
    perc_srtp_rx_state fresh;
    perc_srtp_rx_init(&fresh);
    perc_srtp_rx_state *ost = oe ? &oe->st : &fresh;
    if (!oe && rx->n_outs == rx->max)
        return PERC_ERR_LIMIT;
    if (res)
        res->failed_layer = PERC_DOUBLE_LAYER_OUTER;
    uint64_t oidx = perc_srtp_rx_estimate(ost, hdr.seq);
    if ((rc = perc_srtp_rx_check(ost, oidx)))
        return rc;
    size_t n;
    if ((rc = perc_srtp_open_hdr(rx->outer, buf, len, &hdr, perc_srtp_index_roc(oidx), &n)))
        return rc;
    perc_srtp_rx_commit(ost, oidx);
    if (!oe) {
        oe = &rx->outs[rx->n_outs++];
        oe->ssrc = hdr.ssrc;
        oe->st = fresh;
    }

    if (res)
        res->failed_layer = PERC_DOUBLE_LAYER_INNER;
    /* The original SEQ (the inner index's) is the wire one unless the OHB
     * records another: with the empty OHB (Config 0x00, the last octet)
     * nothing needs parsing. */
    perc_double_info di;
    uint16_t orig_seq = hdr.seq;
    if (info || n < 1 || buf[n - 1] != 0x00) {
        if ((rc = perc_double_inspect(buf, n, &di)))
            return rc;
        orig_seq = di.orig_seq;
    }
    if ((rc = open_inner(rx, in, orig_seq, buf, n, out_len, res)))
        return rc;
    if (res)
        res->failed_layer = PERC_DOUBLE_LAYER_NONE;
    if (info)
        *info = di;
    return PERC_OK;
}

int perc_double_rx_unprotect(perc_double_rx *rx, uint8_t *buf, size_t len, size_t *out_len,
                             perc_double_info *info)
{
    return perc_double_rx_unprotect_ex(rx, buf, len, out_len, info, NULL);
}
