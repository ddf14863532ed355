/* perc_srtp_ctx: one session plus per-SSRC stream state (RFC 3711 §3.2.3:
 * the cryptographic context of a stream is keyed by its SSRC).
 *
 * Streams live in an open-addressing table with linear probing, kept at
 * most half full so a lookup is a multiply and a probe or two. The table
 * grows (by doubling) only when a new SSRC arrives, never per packet, and
 * never beyond what max_streams needs. A receiver adds a stream only once
 * a packet for it has authenticated, so forged packets with made-up SSRCs
 * cannot fill the table.
 */
#include <stdlib.h>
#include <string.h>

#include "perc/secret.h"
#include "perc/srtp_stream.h"
#include "srtp_session.h"

#define SRTCP_MAX_INDEX 0x7FFFFFFFu /* RFC 7714 §14.2: at most 2^31 SRTCP packets */
#define MIN_SLOTS 16

typedef struct stream {
    bool used;
    uint32_t ssrc;
    perc_srtp_tx_state tx;
    perc_srtp_rx_state rx;
    uint32_t srtcp_next;            /* next SRTCP index to send */
    bool srtcp_exhausted;           /* index 2^31 - 1 was sent */
    perc_replay_window srtcp_rx;
} stream;

struct perc_srtp_ctx {
    perc_srtp_session *session;
    size_t max_streams;
    size_t count;
    unsigned bits;                  /* table has 2^bits slots */
    stream *slots;
};

static size_t slot_of(const perc_srtp_ctx *ctx, uint32_t ssrc)
{
    /* Fibonacci hashing: the top bits of the product mix all SSRC bits. */
    return (size_t)((uint32_t)(ssrc * 0x9E3779B1u) >> (32 - ctx->bits));
}

static stream *find(perc_srtp_ctx *ctx, uint32_t ssrc)
{
    size_t mask = ((size_t)1 << ctx->bits) - 1;
    for (size_t i = slot_of(ctx, ssrc);; i = (i + 1) & mask) {
        stream *st = &ctx->slots[i];
        if (!st->used)
            return NULL;
        if (st->ssrc == ssrc)
            return st;
    }
}

/* Places a stream in a table that has a free slot for it. */
static stream *place(perc_srtp_ctx *ctx, uint32_t ssrc)
{
    size_t mask = ((size_t)1 << ctx->bits) - 1;
    size_t i = slot_of(ctx, ssrc);
    while (ctx->slots[i].used)
        i = (i + 1) & mask;
    return &ctx->slots[i];
}

static int grow(perc_srtp_ctx *ctx)
{
    unsigned bits = ctx->bits + 1;
    if (bits > 31)
        return PERC_ERR_LIMIT;
    stream *slots = calloc((size_t)1 << bits, sizeof *slots);
    if (!slots)
        return PERC_ERR_NOMEM;
    stream *old = ctx->slots;
    size_t old_n = (size_t)1 << ctx->bits;
    ctx->slots = slots;
    ctx->bits = bits;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].used)
            *place(ctx, old[i].ssrc) = old[i];
    }
    perc_wipe(old, old_n * sizeof *old);
    free(old);
    return PERC_OK;
}

/* A new stream for ssrc (not present yet). It invalidates stream pointers
 * taken before, since the table may move. */
static int insert(perc_srtp_ctx *ctx, uint32_t ssrc, stream **out)
{
    if (ctx->count >= ctx->max_streams)
        return PERC_ERR_LIMIT;
    if ((ctx->count + 1) * 2 > ((size_t)1 << ctx->bits)) {
        int rc = grow(ctx);
        if (rc)
            return rc;
    }
    stream *st = place(ctx, ssrc);
    memset(st, 0, sizeof *st);
    st->used = true;
    st->ssrc = ssrc;
    perc_srtp_tx_init(&st->tx, 0);
    perc_srtp_rx_init(&st->rx);
    perc_replay_init(&st->srtcp_rx);
    ctx->count++;
    *out = st;
    return PERC_OK;
}

static int find_or_insert(perc_srtp_ctx *ctx, uint32_t ssrc, stream **out)
{
    stream *st = find(ctx, ssrc);
    if (st) {
        *out = st;
        return PERC_OK;
    }
    return insert(ctx, ssrc, out);
}

int perc_srtp_ctx_new(const perc_srtp_session_keys *keys, size_t max_streams, perc_srtp_ctx **out)
{
    if (!keys || !out)
        return PERC_ERR_INVALID_ARG;
    if (max_streams == 0)
        max_streams = PERC_SRTP_DEFAULT_MAX_STREAMS;
    if (max_streams > ((size_t)1 << 30))
        return PERC_ERR_INVALID_ARG;
    perc_srtp_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return PERC_ERR_NOMEM;
    int rc = perc_srtp_session_new(keys, &ctx->session);
    if (rc)
        goto fail;
    ctx->max_streams = max_streams;
    ctx->bits = 4;
    ctx->slots = calloc(MIN_SLOTS, sizeof *ctx->slots);
    if (!ctx->slots) {
        rc = PERC_ERR_NOMEM;
        goto fail;
    }
    *out = ctx;
    return PERC_OK;
fail:
    perc_srtp_ctx_free(ctx);
    return rc;
}

void perc_srtp_ctx_free(perc_srtp_ctx *ctx)
{
    if (!ctx)
        return;
    perc_srtp_session_free(ctx->session);
    if (ctx->slots) {
        perc_wipe(ctx->slots, ((size_t)1 << ctx->bits) * sizeof *ctx->slots);
        free(ctx->slots);
    }
    free(ctx);
}

perc_srtp_session *perc_srtp_ctx_session(perc_srtp_ctx *ctx)
{
    return ctx ? ctx->session : NULL;
}

int perc_srtp_ctx_set_roc(perc_srtp_ctx *ctx, uint32_t ssrc, uint32_t roc)
{
    if (!ctx)
        return PERC_ERR_INVALID_ARG;
    stream *st;
    int rc = find_or_insert(ctx, ssrc, &st);
    if (rc)
        return rc;
    perc_srtp_tx_init(&st->tx, roc);
    perc_srtp_rx_set_roc(&st->rx, roc);
    return PERC_OK;
}

int perc_srtp_ctx_set_srtcp_index(perc_srtp_ctx *ctx, uint32_t ssrc, uint32_t next_index)
{
    if (!ctx || next_index > SRTCP_MAX_INDEX)
        return PERC_ERR_INVALID_ARG;
    stream *st;
    int rc = find_or_insert(ctx, ssrc, &st);
    if (rc)
        return rc;
    st->srtcp_next = next_index;
    st->srtcp_exhausted = false;
    return PERC_OK;
}

int perc_srtp_ctx_remove(perc_srtp_ctx *ctx, uint32_t ssrc)
{
    if (!ctx)
        return PERC_ERR_INVALID_ARG;
    stream *st = find(ctx, ssrc);
    if (!st)
        return PERC_ERR_NOT_FOUND;
    /* Backward-shift deletion keeps every later member of the probe run
     * reachable from its home slot, with no tombstones. */
    size_t mask = ((size_t)1 << ctx->bits) - 1;
    size_t hole = (size_t)(st - ctx->slots);
    for (size_t i = (hole + 1) & mask; ctx->slots[i].used; i = (i + 1) & mask) {
        size_t home = slot_of(ctx, ctx->slots[i].ssrc);
        /* Move i into the hole unless its home lies cyclically in (hole, i]. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            ctx->slots[hole] = ctx->slots[i];
            hole = i;
        }
    }
    perc_wipe(&ctx->slots[hole], sizeof ctx->slots[hole]);
    ctx->count--;
    return PERC_OK;
}

int perc_srtp_protect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t cap, size_t *out_len)
{
    if (!ctx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout h;
    int rc = perc_srtp_layout_of(buf, len, &h);
    if (rc)
        return rc;
    if (cap < len || cap - len < PERC_SRTP_TAG_LEN)
        return PERC_ERR_NOSPACE;
    stream *st;
    if ((rc = find_or_insert(ctx, h.ssrc, &st)))
        return rc;
    /* Work on a copy so a failed seal leaves the ROC where it was. */
    perc_srtp_tx_state tx = st->tx;
    uint32_t roc = perc_srtp_tx_roc(&tx, h.seq);
    if (tx.roc < st->tx.roc)
        return PERC_ERR_KEY_EXHAUSTED; /* the 48-bit index would wrap */
    if ((rc = perc_srtp_seal_hdr(ctx->session, buf, len, cap, &h, roc, out_len)))
        return rc;
    st->tx = tx;
    return PERC_OK;
}

int perc_srtp_unprotect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t *out_len)
{
    if (!ctx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout h;
    int rc = perc_srtp_layout_of(buf, len, &h);
    if (rc)
        return rc;
    stream *st = find(ctx, h.ssrc);
    perc_srtp_rx_state fresh;
    const perc_srtp_rx_state *rx = &fresh;
    if (st) {
        rx = &st->rx;
    } else {
        if (ctx->count >= ctx->max_streams)
            return PERC_ERR_LIMIT;
        perc_srtp_rx_init(&fresh);
    }
    /* RFC 3711 §3.3: estimate the index, refuse replays, and only then
     * spend a decryption; state moves only once the tag verified. */
    uint64_t index = perc_srtp_rx_estimate(rx, h.seq);
    if ((rc = perc_srtp_rx_check(rx, index)))
        return rc;
    size_t n;
    if ((rc = perc_srtp_open_hdr(ctx->session, buf, len, &h, perc_srtp_index_roc(index), &n)))
        return rc;
    if (!st) {
        if ((rc = insert(ctx, h.ssrc, &st)))
            return rc;
        st->rx = fresh;
    }
    perc_srtp_rx_commit(&st->rx, index);
    *out_len = n;
    return PERC_OK;
}

int perc_srtcp_protect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t cap, size_t *out_len)
{
    if (!ctx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    uint32_t ssrc;
    int rc = perc_srtcp_read_ssrc(buf, len, &ssrc);
    if (rc)
        return rc;
    if (cap < len || cap - len < PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN)
        return PERC_ERR_NOSPACE;
    stream *st;
    if ((rc = find_or_insert(ctx, ssrc, &st)))
        return rc;
    /* RFC 3711 §3.4: the index starts at 0 and must not repeat under one
     * key, so after 2^31 packets the key is used up. */
    if (st->srtcp_exhausted)
        return PERC_ERR_KEY_EXHAUSTED;
    uint32_t index = st->srtcp_next;
    if ((rc = perc_srtcp_seal(ctx->session, buf, len, cap, index, true, out_len)))
        return rc;
    if (index == SRTCP_MAX_INDEX)
        st->srtcp_exhausted = true;
    else
        st->srtcp_next = index + 1;
    return PERC_OK;
}

int perc_srtcp_unprotect(perc_srtp_ctx *ctx, uint8_t *buf, size_t len, size_t *out_len)
{
    if (!ctx || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    uint32_t ssrc, index;
    int rc = perc_srtcp_peek(buf, len, &ssrc, &index);
    if (rc)
        return rc;
    stream *st = find(ctx, ssrc);
    perc_replay_window fresh;
    const perc_replay_window *win = &fresh;
    if (st) {
        win = &st->srtcp_rx;
    } else {
        if (ctx->count >= ctx->max_streams)
            return PERC_ERR_LIMIT;
        perc_replay_init(&fresh);
    }
    if ((rc = perc_replay_check(win, index)))
        return rc;
    uint32_t got;
    bool encrypted;
    size_t n;
    if ((rc = perc_srtcp_open(ctx->session, buf, len, &got, &encrypted, &n)))
        return rc;
    if (!st) {
        if ((rc = insert(ctx, ssrc, &st)))
            return rc;
        st->srtcp_rx = fresh;
    }
    perc_replay_commit(&st->srtcp_rx, got);
    *out_len = n;
    return PERC_OK;
}
