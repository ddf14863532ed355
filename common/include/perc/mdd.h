/* The Media Distributor's forwarding core (RFC 8723 §5.2, RFC 8871 §3, §7),
 * sans-I/O: the caller feeds packets received from endpoints, with the time
 * as nanoseconds, and drains (endpoint, bytes) pairs to send, and events.
 *
 * Each endpoint is a caller handle with two outer (hop-by-hop) sessions
 * derived from its MediaKeys (RFC 9185): client_write (endpoint -> MD,
 * opened here) and server_write (MD -> endpoint, sealed here).
 *
 * SRTP from endpoint E: the EKT field is stripped and kept, the packet is
 * outer-opened ONCE with E's receive session at the ROC estimated per
 * (E, SSRC), replay-checked (state committed only after authentication),
 * its RFC 6464 audio level read (if configured), and then for every other
 * endpoint R with keys: SEQ rewritten to R's own contiguous outgoing
 * sequence for that SSRC (the OHB keeps the original, perc_double_rewrite),
 * outer-sealed with R's send session at R's ROC for that SSRC, the EKT
 * field re-appended unchanged, and queued for R. Nothing here touches
 * end-to-end keys.
 *
 * Last-N (optional): only the N loudest senders (by audio level) are
 * forwarded; a selected speaker is replaced only when another sender has
 * been louder than the quietest selected one for hold_ns. ALL streams of a
 * sender not selected are dropped; when forwarding resumes, the outgoing
 * SEQ continues contiguously per receiver.
 *
 * SRTCP from E: opened with E's receive session (replay per E and sender
 * SSRC), compound walked: SR, SDES and BYE go to every other endpoint, RR
 * is consumed (counted), RTPFB/PSFB feedback goes only to the endpoint(s)
 * sending the targeted media SSRCs, other packet types are dropped. A
 * generic NACK names sequence numbers in E's numbering of the stream; they
 * are translated back to the sender's original ones (RFC 4585 §6.2.1;
 * the BLP bits stay relative to the translated PID). Each
 * recipient gets one compound sealed with its send session at its own
 * SRTCP index.
 *
 * Liveness: a keyed endpoint with no authenticated RTP or RTCP for
 * timeout_ns (counted from its keys' arrival or its last packet) is removed
 * by perc_mdd_on_timeout, which queues PERC_MDD_EVENT_ENDPOINT_GONE.
 *
 * Not thread-safe. All perc_mdd_* functions returning int return PERC_OK
 * or a negative perc_err.
 */
#ifndef PERC_MDD_H
#define PERC_MDD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* Largest packet accepted in or produced out (EKT field included). */
#define PERC_MDD_MAX_PACKET 2048

#define PERC_MDD_DEFAULT_MAX_ENDPOINTS 64
#define PERC_MDD_DEFAULT_MAX_SSRCS 16
#define PERC_MDD_DEFAULT_QUEUE 1024
#define PERC_MDD_DEFAULT_TIMEOUT_NS 5000000000ULL
#define PERC_MDD_DEFAULT_HOLD_NS 2000000000ULL

typedef struct perc_mdd_config {
    size_t max_endpoints;       /* 0: PERC_MDD_DEFAULT_MAX_ENDPOINTS */
    size_t max_ssrcs;           /* SSRCs per endpoint, each direction; 0: default */
    size_t queue_len;           /* output queue, packets; 0: PERC_MDD_DEFAULT_QUEUE */
    uint64_t timeout_ns;        /* liveness; 0: PERC_MDD_DEFAULT_TIMEOUT_NS */
    uint8_t audio_level_id;     /* RFC 6464 extension id (1..255), 0: none */
    size_t last_n;              /* 0: forward every sender */
    uint64_t hold_ns;           /* last-N hysteresis; 0: PERC_MDD_DEFAULT_HOLD_NS */
    /* TEST ONLY, for the dishonest-Media-Distributor scenarios: called
     * with each receiver's own copy of an RTP outer plaintext (header,
     * inner ciphertext and tag, OHB) just before it is sealed for that
     * receiver; it may change bytes in place (not the length). What an MD
     * can do there is exactly what a malicious MD can do, so receivers must
     * catch it at the inner layer. NULL in every real deployment. */
    void (*tamper)(void *user, uint64_t receiver, uint8_t *plaintext, size_t len);
    void *tamper_user;
} perc_mdd_config;

typedef struct perc_mdd_stats {
    uint64_t rtp_in;            /* SRTP packets received (any outcome) */
    uint64_t rtcp_in;           /* SRTCP packets received (any outcome) */
    uint64_t forwarded;         /* copies of this endpoint's packets queued for others */
    uint64_t sent;              /* packets queued for this endpoint */
    uint64_t not_selected;      /* RTP not forwarded: sender not in last-N */
    uint64_t rr_consumed;       /* RR packets consumed */
    uint64_t drop_auth;         /* outer tag did not verify */
    uint64_t drop_replay;       /* replayed or too old */
    uint64_t drop_no_keys;      /* this endpoint has no keys yet */
    uint64_t drop_malformed;    /* not SRTP/SRTCP, bad EKT field, bad OHB, bad compound */
    uint64_t drop_limit;        /* SSRC table or output queue full */
    uint64_t drop_ssrc_in_use;  /* an SSRC another endpoint already sends */
} perc_mdd_stats;

typedef enum perc_mdd_event_type {
    PERC_MDD_EVENT_ENDPOINT_GONE = 1,   /* no traffic for timeout_ns; removed */
} perc_mdd_event_type;

typedef struct perc_mdd_event {
    perc_mdd_event_type type;
    uint64_t handle;
    perc_mdd_stats stats;       /* ENDPOINT_GONE: its counters at removal */
} perc_mdd_event;

typedef struct perc_mdd perc_mdd;

/* cfg may be NULL (all defaults). Errors: PERC_ERR_INVALID_ARG (out NULL,
 * a bound above 2^16), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_mdd_new(const perc_mdd_config *cfg, perc_mdd **out);
/* Wipes all keys and frees; NULL is fine. */
void perc_mdd_free(perc_mdd *mdd);

/* Adds an endpoint (no keys yet: its packets are dropped and it receives
 * nothing). Its liveness clock starts at the first perc_mdd_on_timeout
 * after its keys are installed (next_timeout then says "now"): before
 * that it is still doing DTLS, which can take long under loss, and the
 * caller's own join timeout covers an endpoint that never gets keys. Errors: PERC_ERR_INVALID_ARG,
 * PERC_ERR_STATE (handle already present), PERC_ERR_LIMIT (table full). */
PERC_MUST_CHECK int perc_mdd_endpoint_add(perc_mdd *mdd, uint64_t handle, uint64_t now);
/* Puts the endpoint (or link) in conference `group` (every slot starts in
 * group 0): media, RTCP, SSRC ownership and last-N stay inside a group, so
 * one MD can serve several conferences without one hearing another.
 * Call it before the slot's first packet. Errors: PERC_ERR_NOT_FOUND,
 * PERC_ERR_STATE (it already sent media in another group). */
PERC_MUST_CHECK int perc_mdd_endpoint_set_group(perc_mdd *mdd, uint64_t handle, uint32_t group);
/* Removes an endpoint, wiping its keys and dropping its queued output.
 * Errors: PERC_ERR_NOT_FOUND. */
PERC_MUST_CHECK int perc_mdd_endpoint_remove(perc_mdd *mdd, uint64_t handle);
/* Installs (or replaces) the outer keys from MediaKeys: the outer master
 * key and salt of each direction of double profile `profile` (0x0009:
 * 16-octet keys, 0x000A: 32; salts 12). Session keys come from
 * perc_srtp_kdf. Errors: PERC_ERR_NOT_FOUND (no such handle),
 * PERC_ERR_UNSUPPORTED (not a double profile), PERC_ERR_KEY_LENGTH,
 * PERC_ERR_INVALID_ARG (NULL, or the two directions have equal keys),
 * PERC_ERR_NOMEM, PERC_ERR_CRYPTO. On error the old keys stay. */
PERC_MUST_CHECK int perc_mdd_endpoint_set_keys(perc_mdd *mdd, uint64_t handle, uint16_t profile,
                                               const uint8_t *client_key, size_t client_key_len,
                                               const uint8_t *client_salt, size_t client_salt_len,
                                               const uint8_t *server_key, size_t server_key_len,
                                               const uint8_t *server_salt, size_t server_salt_len);

/* Cascade (RFC 8871 §4.5.1): a link to another Media Distributor of the
 * conference is a slot like an endpoint's, whose hop keys come from the
 * link's own DTLS-SRTP (perc/dtls_link.h) with a plain AES-GCM profile
 * (0x0007/0x0008), not from the KMF. What local endpoints send goes to the
 * link as to any receiver (subject to last-N); what the link brings goes
 * to every local endpoint, never to another link (no loops), and is not
 * subject to last-N (the far MD selected it). Links are not subject to
 * liveness: they end when the caller removes them
 * (perc_mdd_endpoint_remove). Errors of perc_mdd_link_add: as
 * perc_mdd_endpoint_add. */
PERC_MUST_CHECK int perc_mdd_link_add(perc_mdd *mdd, uint64_t handle, uint64_t now);
/* rx_*: what the far MD sends (its DTLS-SRTP write key), tx_*: ours.
 * Errors: PERC_ERR_NOT_FOUND, PERC_ERR_STATE (not a link),
 * PERC_ERR_UNSUPPORTED (unknown or double profile), PERC_ERR_KEY_LENGTH,
 * PERC_ERR_INVALID_ARG (NULL, equal keys), PERC_ERR_NOMEM,
 * PERC_ERR_CRYPTO. On error the old keys stay. */
PERC_MUST_CHECK int perc_mdd_link_set_keys(perc_mdd *mdd, uint64_t handle, uint16_t profile,
                                           const uint8_t *rx_key, size_t rx_key_len,
                                           const uint8_t *rx_salt, size_t rx_salt_len,
                                           const uint8_t *tx_key, size_t tx_key_len,
                                           const uint8_t *tx_salt, size_t tx_salt_len);

/* One SRTP packet (with its EKT field) received from `handle`. Forwarded
 * copies go to the output queue. Errors (the packet is dropped and counted):
 * PERC_ERR_NOT_FOUND (unknown handle, not counted), PERC_ERR_NO_KEY,
 * PERC_ERR_TOO_LARGE (over PERC_MDD_MAX_PACKET, counted malformed),
 * PERC_ERR_MALFORMED / PERC_ERR_TRUNCATED / PERC_ERR_BAD_VERSION /
 * PERC_ERR_BAD_OHB, PERC_ERR_AUTH, PERC_ERR_REPLAY, PERC_ERR_REPLAY_OLD,
 * PERC_ERR_LIMIT (SSRC table full), PERC_ERR_SSRC_IN_USE (another endpoint
 * already sends this SSRC: the first one keeps it, since the MD cannot
 * rename an SSRC the inner layer authenticates). A full output queue drops copies
 * (counted drop_limit) without failing the call. */
PERC_MUST_CHECK int perc_mdd_rtp_in(perc_mdd *mdd, uint64_t handle, const uint8_t *pkt, size_t len,
                                    uint64_t now);
/* One SRTCP packet (compound) from `handle`. Errors: as perc_mdd_rtp_in
 * (no EKT field, no OHB) and those of the compound walk. */
PERC_MUST_CHECK int perc_mdd_rtcp_in(perc_mdd *mdd, uint64_t handle, const uint8_t *pkt, size_t len,
                                     uint64_t now);

/* Takes the oldest queued output packet. Errors: PERC_ERR_NOT_FOUND (queue
 * empty), PERC_ERR_NOSPACE (cap too small: the packet stays queued, *len
 * gets its size). */
PERC_MUST_CHECK int perc_mdd_pop(perc_mdd *mdd, uint64_t *handle, uint8_t *buf, size_t cap,
                                 size_t *len);
/* Takes the oldest event. PERC_ERR_NOT_FOUND when there is none. */
PERC_MUST_CHECK int perc_mdd_pop_event(perc_mdd *mdd, perc_mdd_event *ev);

/* When perc_mdd_on_timeout next has work: the earliest liveness deadline.
 * PERC_ERR_NOT_FOUND when there are no endpoints. */
PERC_MUST_CHECK int perc_mdd_next_timeout(const perc_mdd *mdd, uint64_t *deadline);
/* Removes every endpoint silent since now - timeout_ns and queues an
 * ENDPOINT_GONE event for each (an endpoint whose event does not fit the
 * event queue stays until the next call). */
PERC_MUST_CHECK int perc_mdd_on_timeout(perc_mdd *mdd, uint64_t now);

/* Copies the endpoint's counters. Errors: PERC_ERR_NOT_FOUND. */
PERC_MUST_CHECK int perc_mdd_stats_get(const perc_mdd *mdd, uint64_t handle, perc_mdd_stats *out);
/* Whether the endpoint is currently among the last-N forwarded senders
 * (always true with last_n 0). Errors: PERC_ERR_NOT_FOUND. */
PERC_MUST_CHECK int perc_mdd_is_selected(const perc_mdd *mdd, uint64_t handle, bool *selected);

#endif
