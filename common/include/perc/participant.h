/* A PERC endpoint's protocol core ("participant"), sans-I/O: everything
 * perc-endpoint decides about keys and media, with no socket, no clock and
 * no randomness of its own. The program around it runs ICE and signaling,
 * feeds every datagram received on the media 5-tuple with the time, sends
 * every datagram this object queues, and calls the timer back.
 *
 *   perc_participant_recv(p, bytes, len, now)     a datagram arrived
 *   perc_participant_pop_datagram(p, buf, cap)    what to send (until *len 0)
 *   perc_participant_send_rtp(p, ...)             send one media packet
 *   perc_participant_pop_frame(p, &frame)         verified media received
 *   perc_participant_pop_event(p, &ev)            keys, PLI/FIR, BYE, close
 *   perc_participant_next_timeout / on_timeout    timers, inverted
 *
 * Demultiplexing is done here (RFC 7983, with RFC 5761 for RTP/RTCP on one
 * port): DTLS goes to the association, RTP and RTCP to the media paths.
 * STUN, ZRTP, TURN and anything else come back as PERC_ERR_UNSUPPORTED,
 * uncounted as media: ICE (libnice) consumes STUN before it reaches us.
 *
 * Keys (RFC 8871 §4.5.1, RFC 8723, RFC 8870):
 *   - DTLS 1.2 client to the Key Distributor through the Media Distributor
 *     (perc/dtls.h): the double profiles 0x0009/0x000A, supported_ekt_ciphers,
 *     our tls-id in external_session_id and the KMF's checked against its
 *     SDP tls-id; its certificate fingerprint checked when configured, and
 *     an optional authorize callback for anything more (e.g. a pin).
 *   - Handshake done: the hop-by-hop (outer) halves of the exported keys are
 *     installed, client_write for what we send and server_write for what
 *     we receive (RFC 8871 §4.5.1 step 5). The inner halves of the exporter
 *     are never used: in PERC inner keys come from EKT.
 *   - Every EKTKey, the first and every re-key: each of our SSRCs gets a
 *     fresh random end-to-end master key (RFC 8870 §4.5, §6; RFC 8871
 *     §4.5.2), whose inner salt is the EKTKey's salt (first 12 octets,
 *     RFC 8871 §6.3). It is announced in Full EKT fields under the new SPI
 *     from the next packet on: in ekt.initial_full consecutive packets, then
 *     every ekt.repeat_interval_ns, and on the first packet after a PLI/FIR
 *     for that SSRC (RFC 8870 §4.6). A Full field carries the ROC of the
 *     packet it rides on.
 *   - Key change timing (RFC 8870 §4.3.1): after a re-key the sender keeps
 *     ENCRYPTING with its previous end-to-end key for ekt.key_change_delay_ns
 *     (default 250 ms, the RFC's SHOULD) while its Full fields already
 *     ANNOUNCE the new key, so every receiver holds the new key before the
 *     first packet needs it. The first packet at or after the delay is
 *     under the new key. The cost: what is sent during the delay after a
 *     participant left is under a key the leaver knew (a Media Distributor
 *     that follows EndpointDisconnect no longer sends it anything); set the
 *     delay to 0 to switch at once, at the price of losing packets at
 *     receivers that did not yet see the new key.
 *   - Parameter sets from every EKTKey are kept by the EKT receiver (up to
 *     its limit, oldest first out), so Full fields under an older SPI from a
 *     sender that has not re-keyed yet still open (RFC 8870 §4.3, §5.2.2).
 *
 * Receiving media (RFC 8723 §5.3, RFC 8870 §4.3.2): the EKT field is
 * processed first (a new key from a Full field becomes that sender's
 * newest inner key; the previous one is kept, perc_double_rx), then the
 * outer layer comes off with the server_write key, the OHB is applied and
 * the inner layer verified with the original header. Only then is the
 * packet a frame. The EKT epoch is committed only once a packet
 * authenticated under the key that field announced (spec digest ekt.md
 * §4.3). Per remote SSRC: received, verified, lost and late by the
 * ORIGINAL sequence number, and rejections by reason.
 *
 * RTCP (RFC 8723 §6, RFC 8871 §7): hop by hop only, SRTCP with the outer
 * keys, no EKT field. Every rtcp_interval_ns (fixed, default 1 s: the
 * RFC 3550 §6.2 computed interval is not needed between one endpoint and
 * its Media Distributor) one compound goes out: an SR for each of our
 * SSRCs that sent since the start (the first with up to 31 report blocks
 * on remote SSRCs) or an RR from our first SSRC, then SDES CNAME. The SR's
 * NTP field carries the caller's monotonic clock (this core has no wall
 * clock) and its RTP timestamp the last one sent. Received SR, RR, SDES,
 * BYE, PLI, FIR and generic NACK are parsed; PLI/FIR for our SSRCs and
 * NACKs become events (and PLI/FIR force a Full EKT field), BYE an event
 * (keys are NOT dropped on a BYE: RTCP has no end-to-end protection, RFC
 * 8871 §8.2.5). When a video packet (cfg video PT) cannot be opened for
 * lack of its sender's key, a PLI for that SSRC goes out at most every
 * pli_min_interval_ns, so the sender's next intra frame carries the Full
 * field (RFC 8870 §4.6).
 *
 * Timers: the DTLS handshake and EKTKey ACK retransmission of the
 * association and the RTCP interval. Periodic Full EKT fields need no timer:
 * an EKT field only travels on a media packet, and the schedule is
 * checked on each one.
 *
 * Randomness only through cfg.random (end-to-end master keys, initial RTP
 * SEQs); the DTLS handshake uses OpenSSL's RNG (perc/dtls.h). Logging only
 * through cfg.log; no key or salt is ever in a line. Every secret is wiped
 * when replaced and on free. Not thread-safe.
 *
 * All int-returning functions return PERC_OK or a negative perc_err.
 */
#ifndef PERC_PARTICIPANT_H
#define PERC_PARTICIPANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc/error.h"
#include "perc/rtp.h"

#define PERC_PARTICIPANT_MAX_SSRCS 8
/* Largest datagram produced or accepted (EKT field included). */
#define PERC_PARTICIPANT_MAX_DATAGRAM 2048
/* Largest media payload send_rtp takes: leaves room for header, audio
 * level extension, both tags, OHB and the largest Full EKT field. */
#define PERC_PARTICIPANT_MAX_PAYLOAD 1800
#define PERC_PARTICIPANT_MAX_CNAME 64

#define PERC_PARTICIPANT_DEFAULT_RTCP_INTERVAL_NS UINT64_C(1000000000)
#define PERC_PARTICIPANT_DEFAULT_PLI_INTERVAL_NS UINT64_C(500000000)
#define PERC_PARTICIPANT_DEFAULT_MAX_REMOTE 64
#define PERC_PARTICIPANT_DEFAULT_QUEUE 256

typedef struct perc_participant perc_participant;

/* Fills buf with len random octets; 0 on success. */
typedef int (*perc_participant_random_fn)(void *user, uint8_t *buf, size_t len);

typedef enum perc_participant_log_level {
    PERC_PARTICIPANT_LOG_DEBUG = 0,
    PERC_PARTICIPANT_LOG_INFO = 1,
    PERC_PARTICIPANT_LOG_WARNING = 2,
    PERC_PARTICIPANT_LOG_ERROR = 3,
} perc_participant_log_level;

/* One line of English, no newline, never a secret. */
typedef void (*perc_participant_log_fn)(void *user, perc_participant_log_level level,
                                        const char *msg);

/* Optional extra check of the Key Distributor inside the handshake, after
 * the configured fingerprint and tls-id checks passed (see perc/dtls.h
 * authorize). Return false to refuse. Must not call perc_participant_*. */
typedef bool (*perc_participant_authorize_fn)(void *user,
                                              const uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN],
                                              const uint8_t *tls_id, size_t tls_id_len);

/* Fill with perc_participant_config_init() and change what differs. */
typedef struct perc_participant_config {
    perc_dtls_ctx *dtls_ctx;            /* our identity; borrowed, must outlive us. Required */
    uint8_t tls_id[PERC_DTLS_TLS_ID_MAX];       /* ours (SDP a=tls-id), 20..255. Required */
    size_t tls_id_len;
    uint8_t kmf_tls_id[PERC_DTLS_TLS_ID_MAX];   /* the KMF's, from the answer. Required */
    size_t kmf_tls_id_len;
    bool check_kmf_fingerprint;         /* the answer's a=fingerprint */
    uint8_t kmf_fingerprint[PERC_DTLS_FINGERPRINT_LEN];
    perc_participant_authorize_fn authorize_kmf;        /* optional */
    void *authorize_user;
    uint16_t profiles[PERC_DTLS_MAX_PROFILES];          /* default {0x0009, 0x000A} */
    size_t n_profiles;
    uint8_t ekt_ciphers[PERC_DTLS_MAX_EKT_CIPHERS];     /* default {aeskw_128, aeskw_256} */
    size_t n_ekt_ciphers;
    size_t dtls_mtu;                    /* 0: PERC_DTLS_DEFAULT_MTU */
    unsigned dtls_handshake_rtx_initial_ms;     /* 0: OpenSSL's 1 s (see perc/dtls.h) */
    /* Our sending SSRCs, distinct; the first also sends our RTCP. 1..8. */
    uint32_t ssrcs[PERC_PARTICIPANT_MAX_SSRCS];
    size_t n_ssrcs;
    char cname[PERC_PARTICIPANT_MAX_CNAME];     /* SDES CNAME; default "perc-participant" */
    uint8_t audio_level_id;             /* RFC 6464 one-byte extension id 1..14; default 1 */
    perc_ekt_tx_config ekt;             /* perc_ekt_tx_config_default() */
    uint64_t rtcp_interval_ns;          /* default 1 s */
    uint64_t pli_min_interval_ns;       /* default 500 ms */
    /* Payload types that carry video (bit pt of the 128-bit mask): a packet
     * of one that has no key yet triggers a PLI. See _set_video_pt(). */
    uint8_t video_pt_mask[16];
    size_t max_remote_ssrcs;            /* default 64 */
    size_t tx_queue_len;                /* datagrams; default 256 */
    size_t rx_queue_len;                /* frames; default 256 */
    size_t event_queue_len;             /* default 256 */
    perc_participant_random_fn random;  /* required */
    void *random_user;
    perc_participant_log_fn log;        /* optional */
    void *log_user;
    perc_participant_log_level log_level;       /* default INFO */
} perc_participant_config;

void perc_participant_config_init(perc_participant_config *cfg);
/* Errors: PERC_ERR_INVALID_ARG (NULL, length outside 20..255). */
PERC_MUST_CHECK int perc_participant_config_set_tls_ids(perc_participant_config *cfg,
                                                        const uint8_t *ours, size_t ours_len,
                                                        const uint8_t *kmf, size_t kmf_len);
/* Errors: PERC_ERR_INVALID_ARG (pt above 127). */
PERC_MUST_CHECK int perc_participant_config_set_video_pt(perc_participant_config *cfg, uint8_t pt);

/* Errors: PERC_ERR_INVALID_ARG (NULL, no dtls_ctx or random, tls-ids
 * missing, no SSRC or a repeated one, audio_level_id outside 1..14, zero
 * intervals, a CNAME not NUL-terminated, EKT config refused by
 * perc_ekt_tx_new, DTLS config refused by perc_dtls_new), PERC_ERR_NOMEM,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_participant_new(const perc_participant_config *cfg,
                                         perc_participant **out);
/* Wipes every key and frees; sends nothing. NULL is fine. */
void perc_participant_free(perc_participant *p);

/* Queues the ClientHello. Errors: PERC_ERR_STATE (already started). */
PERC_MUST_CHECK int perc_participant_start(perc_participant *p, uint64_t now);

typedef enum perc_participant_state {
    PERC_PARTICIPANT_IDLE = 0,          /* not started */
    PERC_PARTICIPANT_HANDSHAKING,
    PERC_PARTICIPANT_WAITING_EKT,       /* hop keys installed; no EKTKey yet: cannot send */
    PERC_PARTICIPANT_READY,             /* EKTKey held: sending and receiving */
    PERC_PARTICIPANT_FAILED,            /* the association failed (see the CLOSED event) */
    PERC_PARTICIPANT_CLOSED,
} perc_participant_state;

perc_participant_state perc_participant_get_state(const perc_participant *p);

/* ---- datagrams and timers ------------------------------------------------ */

/* One datagram from the Media Distributor. Returns PERC_OK when it was
 * used: a DTLS record handled, a media packet verified (a frame queued),
 * an SRTCP compound opened. Media refused for a reason (see
 * perc_participant_reject) returns that reason's error (PERC_ERR_AUTH,
 * PERC_ERR_NO_KEY, PERC_ERR_REPLAY, ...) after counting it: the caller
 * just goes on. PERC_ERR_UNSUPPORTED: not DTLS, RTP or RTCP (not
 * counted as media). PERC_ERR_INVALID_ARG: NULL, empty or over
 * PERC_PARTICIPANT_MAX_DATAGRAM. PERC_ERR_STATE: anything once the
 * association is over (media is then counted in stats.after_close, not as
 * a rejection of its sender: our keys are gone, not its). */
PERC_MUST_CHECK int perc_participant_recv(perc_participant *p, const uint8_t *data, size_t len,
                                          uint64_t now);

/* Takes the next datagram to send (DTLS first, then media and RTCP in
 * order). *len = 0 when nothing waits; call until then after every other
 * call. Errors: PERC_ERR_INVALID_ARG, PERC_ERR_NOSPACE (cap below the
 * datagram; PERC_DTLS_MAX_DATAGRAM always suffices; it stays queued). */
PERC_MUST_CHECK int perc_participant_pop_datagram(perc_participant *p, uint8_t *buf, size_t cap,
                                                  size_t *len);

/* The earliest time on_timeout wants to run; UINT64_MAX for none. */
uint64_t perc_participant_next_timeout(const perc_participant *p);
/* Runs what is due at now (early calls are harmless). Errors: none beyond
 * PERC_ERR_INVALID_ARG today; an RTCP report that cannot be built is
 * counted and retried at the next interval. */
PERC_MUST_CHECK int perc_participant_on_timeout(perc_participant *p, uint64_t now);

/* Sends close_notify and an RTCP BYE for our SSRCs (queued), wipes the
 * keys; state CLOSED. Errors: PERC_ERR_STATE (not started or over). */
PERC_MUST_CHECK int perc_participant_close(perc_participant *p, uint64_t now);

/* ---- sending media ----------------------------------------------------- */

/* Builds one RTP packet for our SSRC `ssrc` (SEQ per SSRC from a random
 * start, RFC 3550 §5.1), with the RFC 6464 audio level in an RFC 8285
 * one-byte header extension (id cfg.audio_level_id) when level is not
 * NULL, double-protects it (RFC 8723 §5.1) and appends the EKT field the
 * schedule asks for (RFC 8870 §4.3.1), then queues it. Errors:
 * PERC_ERR_STATE (not READY), PERC_ERR_NOT_FOUND (not one of our SSRCs),
 * PERC_ERR_INVALID_ARG (NULL payload with len > 0, pt above 127, level
 * above 127), PERC_ERR_TOO_LARGE (len over PERC_PARTICIPANT_MAX_PAYLOAD),
 * PERC_ERR_RANDOM (a fresh key was owed and the random source failed),
 * PERC_ERR_EXPIRED (the EKTKey is past its TTL: wait for a re-key),
 * PERC_ERR_KEY_EXHAUSTED, PERC_ERR_LIMIT (send queue full: pop first),
 * PERC_ERR_CRYPTO. On error nothing is queued and the SEQ is not used. */
PERC_MUST_CHECK int perc_participant_send_rtp(perc_participant *p, uint32_t ssrc, uint8_t pt,
                                              uint32_t timestamp, bool marker,
                                              const uint8_t *payload, size_t len,
                                              const perc_audio_level *level, uint64_t now);

/* A new receiver joined (signaling's `joined`): the next packet of each
 * of our SSRCs carries a Full EKT field, so it learns our end-to-end keys
 * at once instead of at the next periodic Full field (RFC 8870 §4.6 leaves
 * the repetition schedule to the sender; a newcomer is why it repeats).
 * Errors: PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_participant_announce_keys(perc_participant *p);

/* TEST AND INTEROP ONLY: a copy of the newest EKT parameter set (the
 * EKTKey itself: secret; wipe with perc_ekt_params_wipe). For tests that
 * hand a departed participant's keys to perc-tool and show they open
 * nothing sent after a re-key (RFC 8871 §4.5.2). Errors:
 * PERC_ERR_INVALID_ARG, PERC_ERR_NO_KEY (no EKTKey yet). */
PERC_MUST_CHECK int perc_participant_export_ekt_params(const perc_participant *p,
                                                       perc_ekt_params *out);

/* Asks the sender of remote SSRC media_ssrc for an intra frame: queues an
 * RR + SDES + PLI compound now. Errors: PERC_ERR_STATE (no hop keys),
 * PERC_ERR_LIMIT (queue full), PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_participant_send_pli(perc_participant *p, uint32_t media_ssrc,
                                              uint64_t now);

/* ---- receiving --------------------------------------------------------- */

/* A verified media packet: the plain payload with the header as the sender
 * built it (original PT/SEQ/marker restored from the OHB, RFC 8723 §5.3),
 * the PT and SEQ as received (for codec choice and ordering), and the
 * received audio level (hop-by-hop only: no end-to-end protection). */
typedef struct perc_participant_frame {
    uint32_t ssrc;
    uint8_t pt;                 /* as received */
    uint16_t seq;               /* as received */
    uint8_t orig_pt;
    uint16_t orig_seq;
    bool marker;                /* original */
    uint32_t timestamp;
    bool has_audio_level;
    perc_audio_level audio_level;
    bool previous_key;          /* opened with the sender's previous key */
    uint64_t received_ns;
    size_t payload_len;
    uint8_t payload[PERC_PARTICIPANT_MAX_DATAGRAM];
} perc_participant_frame;

/* Takes the oldest frame. PERC_ERR_NOT_FOUND when there is none. A full
 * frame queue drops the newest frame (counted frames_dropped). */
PERC_MUST_CHECK int perc_participant_pop_frame(perc_participant *p, perc_participant_frame *out);

typedef enum perc_participant_event_type {
    PERC_PARTICIPANT_EV_CONNECTED = 1,  /* handshake done, hop keys in (profile) */
    PERC_PARTICIPANT_EV_EKT_KEY,        /* an EKTKey (spi); our SSRCs got fresh keys */
    PERC_PARTICIPANT_EV_REMOTE_KEY,     /* a sender's new key authenticated (ssrc, spi, epoch) */
    PERC_PARTICIPANT_EV_KEYFRAME_REQUEST, /* PLI or FIR (fir) for our ssrc from sender_ssrc */
    PERC_PARTICIPANT_EV_NACK,           /* generic NACK for our ssrc (nack_pid, nack_blp) */
    PERC_PARTICIPANT_EV_BYE,            /* remote ssrc said BYE */
    PERC_PARTICIPANT_EV_CLOSED,         /* the association ended (reason) */
} perc_participant_event_type;

typedef struct perc_participant_event {
    perc_participant_event_type type;
    uint32_t ssrc;
    uint32_t sender_ssrc;
    uint16_t profile;
    uint16_t spi;
    uint16_t epoch;
    bool fir;
    uint16_t nack_pid;
    uint16_t nack_blp;
    perc_dtls_reason reason;
} perc_participant_event;

/* Takes the oldest event. PERC_ERR_NOT_FOUND when there is none. */
PERC_MUST_CHECK int perc_participant_pop_event(perc_participant *p, perc_participant_event *out);

/* ---- statistics -------------------------------------------------------- */

/* Why a received media packet was refused. */
typedef enum perc_participant_reject {
    PERC_PARTICIPANT_REJECT_OUTER_AUTH = 0, /* hop-by-hop tag: not from our MD's hop key */
    PERC_PARTICIPANT_REJECT_INNER_AUTH,     /* end-to-end tag: changed on the way, or wrong key */
    PERC_PARTICIPANT_REJECT_NO_KEY,         /* no key for that sender yet (or no hop keys yet) */
    PERC_PARTICIPANT_REJECT_REPLAY,         /* replayed or too old, on either layer */
    PERC_PARTICIPANT_REJECT_EKT,            /* a Full EKT field that forces a drop (RFC 8870 §4.3.2) */
    PERC_PARTICIPANT_REJECT_MALFORMED,      /* not RTP, bad EKT framing, bad OHB, too short */
    PERC_PARTICIPANT_REJECT_OTHER,          /* a table full, the crypto backend failed */
    PERC_PARTICIPANT_REJECT_COUNT
} perc_participant_reject;

/* "outer_auth", "inner_auth", "no_key", ...: for logs. */
const char *perc_participant_reject_name(perc_participant_reject r);

typedef struct perc_participant_remote_stats {
    uint32_t ssrc;
    uint64_t received;          /* RTP datagrams with this SSRC */
    uint64_t verified;          /* frames delivered */
    uint64_t lost;              /* expected (by original SEQ) minus verified, never below 0 */
    uint64_t late;              /* verified below the highest original SEQ already verified */
    uint64_t rejected[PERC_PARTICIPANT_REJECT_COUNT];
    uint64_t keys_learned;      /* distinct inner keys installed from Full fields */
    uint64_t previous_key_opens;/* verified under the sender's previous key */
    uint64_t highest_seq;       /* extended highest original SEQ verified */
    bool has_key;
    uint16_t spi;               /* of its newest key */
    uint64_t pli_sent;
    uint64_t sr_received;
    uint64_t bye_received;
} perc_participant_remote_stats;

typedef struct perc_participant_send_stats {
    uint32_t ssrc;
    uint64_t packets;
    uint64_t octets;            /* payload octets */
    uint64_t full_fields;       /* packets that carried a Full EKT field */
    uint64_t keys;              /* end-to-end keys generated */
    uint64_t old_key_packets;   /* sent in a key-change delay, under the previous key */
    uint16_t spi;
    uint16_t epoch;
    uint64_t keyframe_requests; /* PLI/FIR received */
    uint64_t nacks;
} perc_participant_send_stats;

typedef struct perc_participant_stats {
    perc_participant_state state;
    uint16_t profile;
    uint8_t ekt_cipher;
    bool has_ekt_key;
    uint16_t spi;               /* of the newest EKTKey */
    uint64_t ekt_keys;          /* EKTKeys received */
    uint64_t datagrams_in;
    uint64_t datagrams_out;
    uint64_t dtls_in;
    uint64_t rtp_in;
    uint64_t rtcp_in;
    uint64_t other_in;          /* STUN and the rest: refused */
    uint64_t verified;
    uint64_t rejected[PERC_PARTICIPANT_REJECT_COUNT];
    uint64_t rtp_sent;
    uint64_t rtcp_sent;
    uint64_t rtcp_rejected;     /* SRTCP that did not open, replayed or did not parse */
    uint64_t pli_sent;
    uint64_t frames_dropped;    /* frame queue full */
    uint64_t events_dropped;    /* event queue full */
    uint64_t tx_dropped;        /* RTCP not queued: send queue full */
    uint64_t remotes_untracked; /* packets of SSRCs beyond max_remote_ssrcs */
    uint64_t after_close;       /* RTP/RTCP that arrived after the association ended (keys gone):
                                 * not held against its sender */
} perc_participant_stats;

void perc_participant_get_stats(const perc_participant *p, perc_participant_stats *out);
/* Errors: PERC_ERR_NOT_FOUND (never seen that SSRC), PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_participant_remote_stats_get(const perc_participant *p, uint32_t ssrc,
                                                      perc_participant_remote_stats *out);
/* Errors: PERC_ERR_NOT_FOUND (not one of ours), PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_participant_send_stats_get(const perc_participant *p, uint32_t ssrc,
                                                    perc_participant_send_stats *out);
/* The remote SSRCs seen, up to cap; returns how many there are. */
size_t perc_participant_remote_ssrcs(const perc_participant *p, uint32_t *out, size_t cap);

#endif
