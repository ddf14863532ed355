/* Internals of the participant core (perc/participant.h), shared by
 * participant.c (lifecycle, demux, queues, timers, stats),
 * participant_keys.c (DTLS events, hop keys, EKTKeys, our end-to-end keys),
 * participant_tx.c, participant_rx.c and participant_rtcp.c. */
#ifndef PERC_PARTICIPANT_INTERNAL_H
#define PERC_PARTICIPANT_INTERNAL_H

#include <stdarg.h>

#include "perc/double_endpoint.h"
#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc/participant.h"
#include "perc/srtp.h"
#include "perc/srtp_stream.h"

/* One of our sending SSRCs. */
typedef struct pp_tx {
    uint32_t ssrc;
    uint16_t next_seq;
    perc_srtp_tx_state st;          /* one ROC for both layers at the origin (RFC 8723 §3) */
    perc_ekt_tx *ekt;
    /* The newest end-to-end key, and the one still encrypting during a
     * key-change delay (RFC 8870 §4.3.1). */
    perc_srtp_session *inner_cur;
    perc_srtp_session *inner_old;
    bool old_active;                /* the scheduler may still ask for inner_old */
    bool has_key;
    bool key_owed;                  /* an EKTKey arrived and our fresh key is not made yet */
    bool force_full;                /* PLI/FIR: next packet carries a Full field */
    bool has_sent;
    uint32_t last_ts;
    uint64_t last_sent_ns;
    perc_participant_send_stats st_out;
} pp_tx;

/* A remote SSRC we heard of. */
typedef struct pp_remote {
    uint32_t ssrc;
    perc_participant_remote_stats st;
    /* The newest inner master key installed for it (secret), to tell a
     * repeated announcement from a new key. */
    bool has_key;
    size_t key_len;
    uint8_t key[PERC_EKT_RX_MAX_KEY_LEN];
    /* The EKT candidate waiting for a packet that authenticates under it. */
    bool pending_commit;
    uint16_t pending_spi;
    uint16_t pending_epoch;
    /* Original SEQ tracking for loss and lateness. */
    bool seq_started;
    uint64_t base_seq;              /* extended */
    /* RTCP report block state (RFC 3550 §6.4.1, A.3). */
    uint64_t expected_prior;
    uint64_t verified_prior;
    bool has_sr;
    uint32_t lsr;
    uint64_t sr_at_ns;
    bool pli_ever;
    uint64_t last_pli_ns;
} pp_remote;

typedef struct pp_dgram {
    size_t len;
    uint8_t data[PERC_PARTICIPANT_MAX_DATAGRAM];
} pp_dgram;

typedef struct pp_rtcp_replay {
    uint32_t ssrc;
    perc_replay_window w;
} pp_rtcp_replay;

struct perc_participant {
    perc_participant_config cfg;
    perc_participant_state state;
    uint64_t now;                   /* of the call in progress, for DTLS callbacks */
    perc_dtls *dtls;
    uint16_t profile;
    uint8_t ekt_cipher;
    perc_srtp_cipher cipher;
    size_t inner_key_len;           /* 16 (0x0009) or 32 (0x000A) */

    /* Hop-by-hop: client_write for what we send, server_write for what we
     * receive (RFC 8871 §4.5.1 step 5). */
    perc_srtp_session *outer_tx;
    perc_srtp_session *rtcp_rx;     /* server_write, for SRTCP */
    perc_double_rx *rx;
    perc_ekt_rx *ekt_rx;
    bool has_params;
    perc_ekt_params params;         /* the newest EKT parameter set (secret) */

    pp_tx tx[PERC_PARTICIPANT_MAX_SSRCS];
    size_t n_tx;
    pp_remote *remotes;
    size_t n_remotes;

    uint32_t srtcp_index;
    uint64_t rtcp_next_ns;
    pp_rtcp_replay *rtcp_replay;
    size_t n_rtcp_replay;

    pp_dgram *txq;
    size_t txq_head, txq_count;
    perc_participant_frame *rxq;
    size_t rxq_head, rxq_count;
    perc_participant_event *evq;
    size_t evq_head, evq_count;

    perc_participant_stats stats;
    uint8_t work[PERC_PARTICIPANT_MAX_DATAGRAM + 64];
};

/* participant.c */
void pp_log(perc_participant *p, perc_participant_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pp_event(perc_participant *p, const perc_participant_event *ev);
/* A slot at the tail of the send queue, or NULL when full. */
pp_dgram *pp_txq_tail(perc_participant *p);
void pp_txq_commit(perc_participant *p);
perc_participant_frame *pp_rxq_tail(perc_participant *p);
void pp_rxq_commit(perc_participant *p);
pp_tx *pp_tx_find(perc_participant *p, uint32_t ssrc);
pp_remote *pp_remote_find(perc_participant *p, uint32_t ssrc);
/* Finds or adds; NULL when the table is full. */
pp_remote *pp_remote_get(perc_participant *p, uint32_t ssrc);
void pp_reject(perc_participant *p, pp_remote *r, perc_participant_reject why);

/* participant_keys.c */
PERC_MUST_CHECK int pp_dtls_new(perc_participant *p);
/* Makes the fresh end-to-end keys owed to our SSRCs (after an EKTKey). */
PERC_MUST_CHECK int pp_tx_make_key(perc_participant *p, pp_tx *t);
void pp_keys_wipe(perc_participant *p);

/* participant_tx.c */
void pp_tx_free(pp_tx *t);

/* participant_rx.c */
PERC_MUST_CHECK int pp_rtp_in(perc_participant *p, const uint8_t *data, size_t len);

/* participant_rtcp.c */
PERC_MUST_CHECK int pp_rtcp_in(perc_participant *p, const uint8_t *data, size_t len);
/* Our periodic report (and optionally a PLI for media_ssrc, or a BYE). */
PERC_MUST_CHECK int pp_rtcp_send(perc_participant *p, bool pli, uint32_t media_ssrc, bool bye);

#endif
