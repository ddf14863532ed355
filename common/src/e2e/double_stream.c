/* Double-transform sender and receiver objects: the step functions of
 * double_endpoint.c plus per-SSRC ROC and replay state, kept separately
 * for the inner and the outer layer (RFC 8723 §3; RFC 8871 asks for replay
 * protection on both). Tables are small arrays searched linearly: an
 * endpoint sees a conference's worth of SSRCs, not thousands. */
#include "perc/double_endpoint.h"

#include <stdlib.h>

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

typedef struct rx_inner {
    uint32_t ssrc;
    perc_srtp_session *session;
    perc_srtp_rx_state st;
} rx_inner;

struct perc_double_rx {
    perc_srtp_session *outer;
    rx_outer *outs;
    size_t n_outs;
    rx_inner *ins;
    size_t n_ins;
    size_t max;
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
    for (size_t i = 0; i < rx->n_ins; i++)
        perc_srtp_session_free(rx->ins[i].session);
    free(rx->ins);
    free(rx->outs);
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
        e->ssrc = ssrc;
    } else {
        perc_srtp_session_free(e->session);
    }
    e->session = s;
    perc_srtp_rx_init(&e->st);
    perc_srtp_rx_set_roc(&e->st, roc);
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

int perc_double_rx_unprotect(perc_double_rx *rx, uint8_t *buf, size_t len, size_t *out_len,
                             perc_double_info *info)
{
    if (!rx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_rtp_header hdr;
    int rc = perc_rtp_parse_header(buf, len, &hdr);
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
    uint64_t oidx = perc_srtp_rx_estimate(ost, hdr.seq);
    if ((rc = perc_srtp_rx_check(ost, oidx)))
        return rc;
    size_t n;
    if ((rc = perc_srtp_open(rx->outer, buf, len, perc_srtp_index_roc(oidx), &n)))
        return rc;
    perc_srtp_rx_commit(ost, oidx);
    if (!oe) {
        oe = &rx->outs[rx->n_outs++];
        oe->ssrc = hdr.ssrc;
        oe->st = fresh;
    }

    /* Inner layer: index from the ORIGINAL SEQ, which the MD may have
     * renumbered on the wire (§5.3 step 5). */
    perc_double_info di;
    if ((rc = perc_double_inspect(buf, n, &di)))
        return rc;
    uint64_t iidx = perc_srtp_rx_estimate(&in->st, di.orig_seq);
    if ((rc = perc_srtp_rx_check(&in->st, iidx)))
        return rc;
    if ((rc = perc_double_inner_open(in->session, perc_srtp_index_roc(iidx), buf, n, out_len)))
        return rc;
    perc_srtp_rx_commit(&in->st, iidx);
    if (info)
        *info = di;
    return PERC_OK;
}
