/* Per-stream SRTP state: replay window (RFC 3711 §3.3.2), receiver index
 * estimation (RFC 3711 §3.3.1 and Appendix A), sender ROC. */
#include "perc/srtp_stream.h"

#include <string.h>

#define WORDS (PERC_REPLAY_WINDOW_BITS / 64)

void perc_replay_init(perc_replay_window *w)
{
    memset(w, 0, sizeof *w);
}

int perc_replay_check(const perc_replay_window *w, uint64_t index)
{
    if (!w->started || index > w->top)
        return PERC_OK;
    uint64_t delta = w->top - index;
    if (delta >= PERC_REPLAY_WINDOW_BITS)
        return PERC_ERR_REPLAY_OLD;
    if (w->seen[delta / 64] & ((uint64_t)1 << (delta % 64)))
        return PERC_ERR_REPLAY;
    return PERC_OK;
}

/* Moves the window n places: bit i becomes bit i + n, bits shifted past
 * the end are forgotten. */
static void window_shift(perc_replay_window *w, uint64_t n)
{
    if (n >= PERC_REPLAY_WINDOW_BITS) {
        memset(w->seen, 0, sizeof w->seen);
        return;
    }
    unsigned words = (unsigned)(n / 64);
    unsigned bits = (unsigned)(n % 64);
    for (unsigned i = WORDS; i-- > 0;) {
        uint64_t v = 0;
        if (i >= words) {
            v = w->seen[i - words] << bits;
            if (bits && i > words)
                v |= w->seen[i - words - 1] >> (64 - bits);
        }
        w->seen[i] = v;
    }
}

void perc_replay_commit(perc_replay_window *w, uint64_t index)
{
    if (!w->started) {
        memset(w->seen, 0, sizeof w->seen);
        w->started = true;
        w->top = index;
    } else if (index > w->top) {
        window_shift(w, index - w->top);
        w->top = index;
    }
    uint64_t delta = w->top - index;
    if (delta < PERC_REPLAY_WINDOW_BITS)
        w->seen[delta / 64] |= (uint64_t)1 << (delta % 64);
}

void perc_srtp_rx_init(perc_srtp_rx_state *st)
{
    memset(st, 0, sizeof *st);
    perc_replay_init(&st->replay);
}

void perc_srtp_rx_set_roc(perc_srtp_rx_state *st, uint32_t roc)
{
    perc_srtp_rx_init(st);
    st->roc = roc;
}

uint64_t perc_srtp_rx_estimate(const perc_srtp_rx_state *st, uint16_t seq)
{
    uint32_t v = st->roc;
    if (st->started) {
        /* RFC 3711 Appendix A: pick the ROC that puts seq nearest s_l. A
         * guess of ROC - 1 at ROC 0 or of ROC + 1 at the last ROC would
         * be an index outside the 48-bit space that no sender can have
         * used, so the current ROC is kept there instead. */
        if (st->s_l < 32768) {
            if ((int)seq - (int)st->s_l > 32768 && v > 0)
                v--;
        } else {
            if ((int)st->s_l - 32768 > (int)seq && v < UINT32_MAX)
                v++;
        }
    }
    return perc_srtp_index(v, seq);
}

int perc_srtp_rx_check(const perc_srtp_rx_state *st, uint64_t index)
{
    if (!st->started)
        return PERC_OK;
    return perc_replay_check(&st->replay, index);
}

void perc_srtp_rx_commit(perc_srtp_rx_state *st, uint64_t index)
{
    uint32_t v = perc_srtp_index_roc(index);
    uint16_t seq = (uint16_t)index;
    if (!st->started) {
        st->started = true;
        st->roc = v;
        st->s_l = seq;
    } else if (v > st->roc) {
        /* RFC 3711 §3.3.1: ROC and s_l follow only forward movement. */
        st->roc = v;
        st->s_l = seq;
    } else if (v == st->roc && seq > st->s_l) {
        st->s_l = seq;
    }
    perc_replay_commit(&st->replay, index);
}

void perc_srtp_tx_init(perc_srtp_tx_state *st, uint32_t roc)
{
    memset(st, 0, sizeof *st);
    st->roc = roc;
}

uint32_t perc_srtp_tx_roc(perc_srtp_tx_state *st, uint16_t seq)
{
    if (!st->started) {
        st->started = true;
        st->last_seq = seq;
        return st->roc;
    }
    uint16_t ahead = (uint16_t)(seq - st->last_seq);
    if (ahead < 0x8000) {
        /* Forward (or the same SEQ again): a smaller number means SEQ
         * wrapped past 0xFFFF (RFC 3711 §3.3.1). */
        if (seq < st->last_seq)
            st->roc++;
        st->last_seq = seq;
        return st->roc;
    }
    /* A step back of 2^15 or less: a resend of an older packet, which
     * keeps the ROC it was first sent with, one lower if that was before
     * the last wrap. The state does not move. */
    if (seq > st->last_seq && st->roc > 0)
        return st->roc - 1;
    return st->roc;
}
