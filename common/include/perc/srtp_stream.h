/* Per-stream SRTP state on its own (RFC 3711 §3.3.1, §3.3.2, §3.4): ROC
 * tracking, receiver index estimation, replay windows. Plain structs the
 * caller owns, so the double transform can keep separate inner and outer
 * state (RFC 8723 §3) and a relay can keep one per hop and SSRC. */
#ifndef PERC_SRTP_STREAM_H
#define PERC_SRTP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "perc/error.h"

/* Sliding window over 48-bit SRTP indices or 31-bit SRTCP indices. RFC 3711
 * asks for at least 64; 128 tolerates more reordering. */
#define PERC_REPLAY_WINDOW_BITS 128

typedef struct perc_replay_window {
    bool started;
    uint64_t top;                   /* highest index accepted */
    uint64_t seen[PERC_REPLAY_WINDOW_BITS / 64]; /* bit i: index top - i seen */
} perc_replay_window;

void perc_replay_init(perc_replay_window *w);
/* PERC_OK if index may be accepted; PERC_ERR_REPLAY if seen already;
 * PERC_ERR_REPLAY_OLD if left of the window. Does not change the window. */
PERC_MUST_CHECK int perc_replay_check(const perc_replay_window *w, uint64_t index);
/* Marks index seen; call only after the packet authenticated. */
void perc_replay_commit(perc_replay_window *w, uint64_t index);

/* Receiver state of one SRTP stream. */
typedef struct perc_srtp_rx_state {
    bool started;           /* a packet has authenticated */
    uint32_t roc;
    uint16_t s_l;           /* highest authenticated SEQ */
    perc_replay_window replay;
} perc_srtp_rx_state;

void perc_srtp_rx_init(perc_srtp_rx_state *st);
/* Sets the ROC to assume before the first packet, or resynchronises it
 * (the ROC of a Full EKT field, RFC 8870 §4.3.2). Resets s_l and replay. */
void perc_srtp_rx_set_roc(perc_srtp_rx_state *st, uint32_t roc);
/* 48-bit index estimate for seq (RFC 3711 §3.3.1 / Appendix A). Before
 * the first packet: the set ROC with seq. A guess of ROC - 1 at ROC 0, or
 * ROC + 1 at ROC 2^32 - 1, keeps the current ROC instead. */
uint64_t perc_srtp_rx_estimate(const perc_srtp_rx_state *st, uint16_t seq);
PERC_MUST_CHECK int perc_srtp_rx_check(const perc_srtp_rx_state *st, uint64_t index);
/* After authentication: ROC, s_l and the window move. */
void perc_srtp_rx_commit(perc_srtp_rx_state *st, uint64_t index);

/* Sender state of one SRTP stream: ROC follows SEQ. */
typedef struct perc_srtp_tx_state {
    bool started;
    uint32_t roc;
    uint16_t last_seq;
} perc_srtp_tx_state;

void perc_srtp_tx_init(perc_srtp_tx_state *st, uint32_t roc);
/* The ROC to use for a packet with this SEQ; increments the ROC when SEQ
 * wrapped past 0xFFFF since the last call (a jump back of more than 2^15
 * counts as a wrap). A step back of 2^15 or less is a resend of an older
 * packet: it gets the ROC it had (one less if it was before the last wrap)
 * and the state does not move. */
uint32_t perc_srtp_tx_roc(perc_srtp_tx_state *st, uint16_t seq);

static inline uint64_t perc_srtp_index(uint32_t roc, uint16_t seq) { return ((uint64_t)roc << 16) | seq; }
static inline uint32_t perc_srtp_index_roc(uint64_t index) { return (uint32_t)(index >> 16); }

#endif
