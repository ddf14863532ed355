/* The conference focus of perc-signaling, sans-I/O (docs/signaling.md).
 *
 * perc-signaling's daemon owns the WebSocket server and the event loop;
 * this object owns every decision. The daemon tells it about connections
 * (opened, a text message, closed) and the time; it answers with a queue
 * of outputs: a JSON text to send on a connection, or a request to close
 * one. Log lines go to a callback. Nothing here touches a socket or a
 * clock: time comes in as monotonic nanoseconds, randomness (the answer
 * SDP's session id) through a callback.
 *
 * What it holds:
 *   - connections, by caller-chosen 64-bit ids, each with a role once its
 *     hello was accepted (endpoint, mdd, kmf);
 *   - conferences: configured ones (open, or with join tokens, optionally
 *     served by a named KMF) and, when auto_create is set, ones created by
 *     the first join; each with its participants, its Media Distributors
 *     and the last key epoch its KMF reported;
 *   - Media Distributors (name, capacity, load) and KMFs (name,
 *     fingerprint). The first KMF registered (and still connected) serves
 *     every conference that does not name one;
 *   - per endpoint, one participant while it joins or is joined.
 *
 * The join (docs/signaling.md §6.1): the participant asks the KMF
 * (participant) and the Media Distributor (endpoint-offer) in parallel;
 * the answer SDP is built when both replied, from the offer's sections,
 * the MD's ICE-lite credentials and candidates and the KMF's fingerprint
 * and tls-id, with the sdp.h writer. States:
 *
 *   WAITING_KMF  the KMF's verdict is outstanding (the MD's answer may be too)
 *   WAITING_MDD  the verdict is in, the MD's answer is outstanding
 *   ANSWERED     the answer was sent; waiting for the KMF's "keyed"
 *   JOINED       keyed: in the roster, announced to the others
 *   (left)       gone: the participant is freed
 *
 * with timeouts (join_timeout_ns to ANSWERED, key_timeout_ns from ANSWERED
 * to JOINED). Leaving, a dropped connection, a refusal, a failure or a
 * timeout tells the KMF and the MD whatever they were told about the
 * participant, and a "left" event goes to the others if it had joined.
 *
 * Protocol errors from peers never come back as return values: each gets
 * its error reply (and a log line) and nothing else changes. Return values
 * are for the caller's own mistakes and resource failures.
 *
 * Re-entrancy: the log callback runs inside perc_focus_* calls and must
 * not call back into the focus. Not thread-safe.
 */
#ifndef PERC_FOCUS_H
#define PERC_FOCUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/signaling.h"

#define PERC_FOCUS_SECOND UINT64_C(1000000000)
#define PERC_FOCUS_DEFAULT_HELLO_TIMEOUT_NS (10 * PERC_FOCUS_SECOND)
#define PERC_FOCUS_DEFAULT_JOIN_TIMEOUT_NS (30 * PERC_FOCUS_SECOND)
#define PERC_FOCUS_DEFAULT_KEY_TIMEOUT_NS (30 * PERC_FOCUS_SECOND)
#define PERC_FOCUS_DEFAULT_MAX_CONNECTIONS 4096u
#define PERC_FOCUS_DEFAULT_MAX_CONFERENCES 256u
#define PERC_FOCUS_DEFAULT_MAX_PARTICIPANTS 256u
#define PERC_FOCUS_DEFAULT_MAX_PENDING 64u
#define PERC_FOCUS_MAX_CONF_MDDS 4      /* Media Distributors one conference may span */
#define PERC_FOCUS_MAX_JOIN_TOKENS 16   /* per configured conference */

typedef struct perc_focus perc_focus;

/* ---- environment ---- */

typedef enum perc_focus_log_level {
    PERC_FOCUS_LOG_DEBUG = 0,
    PERC_FOCUS_LOG_INFO = 1,
    PERC_FOCUS_LOG_WARNING = 2,
    PERC_FOCUS_LOG_ERROR = 3,
} perc_focus_log_level;

/* One line of English without a newline; never a token or an ICE
 * password. */
typedef void (*perc_focus_log_fn)(void *user, perc_focus_log_level level, const char *line);

/* Fills buf with len random octets; 0 on success. */
typedef int (*perc_focus_random_fn)(void *user, uint8_t *buf, size_t len);

typedef struct perc_focus_config {
    /* The shared token of MDDs and KMFs (docs/signaling.md §3). Required,
     * a valid *token*; copied and wiped on free. */
    const char *daemon_token;
    /* A hello naming an unknown conference creates it (open) at its first
     * join. Off: only configured conferences exist. */
    bool auto_create;
    /* A conference whose Media Distributors are full may spread onto
     * another one that supports cascading (docs/signaling.md §6.8). */
    bool cascade;
    uint64_t hello_timeout_ns;          /* 0: PERC_FOCUS_DEFAULT_HELLO_TIMEOUT_NS */
    uint64_t join_timeout_ns;           /* 0: ..._JOIN_TIMEOUT_NS (join -> answer) */
    uint64_t key_timeout_ns;            /* 0: ..._KEY_TIMEOUT_NS (answer -> keyed) */
    size_t max_connections;             /* 0: ..._MAX_CONNECTIONS */
    size_t max_conferences;             /* 0: ..._MAX_CONFERENCES */
    size_t max_participants;            /* per conference, 0: ..._MAX_PARTICIPANTS */
    size_t max_pending;                 /* joins not yet answered, in all, 0: ..._MAX_PENDING */
    /* Messages per second accepted from one endpoint connection (a
     * one-second window); more get rate-limited errors. 0: no limit. */
    uint32_t max_msgs_per_sec;
    perc_focus_log_fn log;              /* may be NULL */
    void *log_user;
    perc_focus_random_fn random;        /* required */
    void *random_user;
} perc_focus_config;

/* A conference known before anyone joins. */
typedef struct perc_focus_conference_config {
    const char *id;                     /* a *name* */
    /* Open: any endpoint may join without a token. Otherwise one of
     * tokens[] is needed (copied and wiped on free). */
    bool open;
    const char *const *tokens;
    size_t token_count;                 /* 0..PERC_FOCUS_MAX_JOIN_TOKENS */
    const char *kmf;                    /* the KMF serving it by name; NULL: the default */
    size_t max_participants;            /* 0: the focus-wide limit */
} perc_focus_conference_config;

/* ---- outputs ---- */

typedef enum perc_focus_out_kind {
    PERC_FOCUS_OUT_SEND = 1,            /* send `text` (len bytes) as one text message */
    PERC_FOCUS_OUT_CLOSE = 2,           /* close the connection (after what was queued before) */
} perc_focus_out_kind;

typedef struct perc_focus_output {
    perc_focus_out_kind kind;
    uint64_t conn;
    const char *text;                   /* SEND: NUL-terminated; valid until the next pop or free */
    size_t len;
    perc_sig_type type;                 /* SEND: the message type (for logs and metrics) */
} perc_focus_output;

/* ---- lifetime ---- */

/* Errors: PERC_ERR_INVALID_ARG (no random callback, a daemon_token that is
 * not a valid *token*), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_focus_new(const perc_focus_config *cfg, perc_focus **out);

/* Frees everything (tokens wiped). NULL is fine. */
void perc_focus_free(perc_focus *f);

/* Adds a configured conference. Errors: PERC_ERR_INVALID_ARG (bad id,
 * token or kmf name, more than PERC_FOCUS_MAX_JOIN_TOKENS tokens, neither
 * open nor tokens), PERC_ERR_STATE (the id exists), PERC_ERR_LIMIT
 * (max_conferences), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_focus_add_conference(perc_focus *f,
                                              const perc_focus_conference_config *c);

/* ---- driving ---- */

/* A WebSocket connection `conn` was accepted at `now`; it must say hello
 * within the hello timeout. Errors: PERC_ERR_STATE (conn is in use),
 * PERC_ERR_LIMIT (max_connections: refuse the connection),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_focus_open(perc_focus *f, uint64_t conn, uint64_t now);

/* One complete text message from `conn` (len bytes, any content).
 * Everything the message causes is queued as outputs. PERC_OK also when
 * the message was refused (its error reply is queued). Errors:
 * PERC_ERR_NOT_FOUND (conn is not open, e.g. the focus closed it),
 * PERC_ERR_INVALID_ARG (NULL text with len > 0), PERC_ERR_NOMEM (the
 * message could not be handled completely: outputs queued before the
 * failure stay queued; the daemon should log it and may close conn). */
PERC_MUST_CHECK int perc_focus_recv(perc_focus *f, uint64_t conn, const char *text, size_t len,
                                    uint64_t now);

/* The connection is gone (closed by the peer or the network). Like a
 * leave for an endpoint (reason "disconnected"); for an MDD or a KMF see
 * docs/signaling.md §6.5. PERC_ERR_NOT_FOUND if conn is not open (the
 * focus forgets a connection as soon as it queues its CLOSE). */
PERC_MUST_CHECK int perc_focus_closed(perc_focus *f, uint64_t conn, uint64_t now);

/* The earliest time perc_focus_on_timeout should be called, or UINT64_MAX
 * when no timer runs. */
uint64_t perc_focus_next_timeout(const perc_focus *f);

/* Runs every timer due at `now`. Errors: PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_focus_on_timeout(perc_focus *f, uint64_t now);

/* Takes the oldest output. PERC_ERR_NOT_FOUND when none is queued. The
 * previous output's text is freed by this call. */
PERC_MUST_CHECK int perc_focus_pop(perc_focus *f, perc_focus_output *out);

/* Outputs waiting. */
size_t perc_focus_pending(const perc_focus *f);

/* ---- queries for the status page and /metrics ---- */

typedef enum perc_focus_part_state {
    PERC_FOCUS_WAITING_KMF = 1,
    PERC_FOCUS_WAITING_MDD = 2,
    PERC_FOCUS_ANSWERED = 3,
    PERC_FOCUS_JOINED = 4,
} perc_focus_part_state;

const char *perc_focus_part_state_name(perc_focus_part_state s);

/* Strings in the info structs stay valid until the next non-const call. */
typedef struct perc_focus_conference_info {
    const char *id;
    bool configured;
    bool open;
    size_t participants;                /* in any state */
    size_t joined;                      /* JOINED */
    const char *mdds[PERC_FOCUS_MAX_CONF_MDDS];
    size_t mdd_count;
    const char *kmf;                    /* the KMF that serves it now; NULL if none */
    bool has_epoch;                     /* the KMF reported one */
    uint16_t spi;
    uint32_t members;
    uint64_t epochs;                    /* epoch reports so far */
    size_t links;
} perc_focus_conference_info;

typedef struct perc_focus_participant_info {
    const char *id;
    const char *identity;
    perc_focus_part_state state;
    const char *mdd;                    /* NULL once its MD is gone */
    uint64_t conn;
    uint64_t since;                     /* when it asked to join */
    size_t ssrc_count;
    perc_sig_ssrc ssrcs[PERC_SIG_MAX_SSRCS];
} perc_focus_participant_info;

typedef struct perc_focus_daemon_info {
    perc_sig_role role;                 /* MDD or KMF */
    const char *name;
    uint64_t conn;
    uint32_t capacity;                  /* MDD */
    size_t load;                        /* MDD: participants placed on it */
    bool cascade;                       /* MDD */
    const char *fingerprint;            /* KMF */
    bool serving;                       /* KMF: the default one */
} perc_focus_daemon_info;

typedef struct perc_focus_stats {
    /* gauges */
    size_t connections;
    size_t endpoints;                   /* connections that said hello as endpoints */
    size_t mdds;
    size_t kmfs;
    size_t conferences;
    size_t participants;                /* any state */
    size_t joined;
    size_t pending;                     /* WAITING_KMF or WAITING_MDD */
    /* counters */
    uint64_t joins;                     /* join requests accepted for processing */
    uint64_t answers;                   /* answers sent */
    uint64_t keyed;
    uint64_t refusals;                  /* the KMF refused */
    uint64_t failures;                  /* unavailable: a daemon failed or was missing */
    uint64_t timeouts;                  /* hello, join and key timeouts */
    uint64_t leaves;                    /* participants gone, any reason */
    uint64_t errors_sent;
    uint64_t epochs;
    uint64_t msgs_in[PERC_SIG_TYPE_COUNT];
    uint64_t msgs_in_invalid;           /* did not decode */
    uint64_t msgs_out[PERC_SIG_TYPE_COUNT];
} perc_focus_stats;

void perc_focus_get_stats(const perc_focus *f, perc_focus_stats *out);

size_t perc_focus_conference_count(const perc_focus *f);
/* PERC_ERR_NOT_FOUND for an index out of range. */
PERC_MUST_CHECK int perc_focus_conference_at(const perc_focus *f, size_t index,
                                             perc_focus_conference_info *out);
/* The index of conference `id`, PERC_ERR_NOT_FOUND. */
PERC_MUST_CHECK int perc_focus_conference_find(const perc_focus *f, const char *id,
                                               size_t *index);
/* Participant `index` of conference `conf`, in join order. */
PERC_MUST_CHECK int perc_focus_participant_at(const perc_focus *f, size_t conf, size_t index,
                                              perc_focus_participant_info *out);

size_t perc_focus_daemon_count(const perc_focus *f);
PERC_MUST_CHECK int perc_focus_daemon_at(const perc_focus *f, size_t index,
                                         perc_focus_daemon_info *out);

#endif
