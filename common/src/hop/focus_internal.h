/* Shared between the focus sources:
 *   focus.c         lifetime, connections, hello, message dispatch,
 *                   outputs, timers, queries
 *   focus_join.c    the join state machine, the daemons' replies and
 *                   events, leaving, placement on Media Distributors,
 *                   cascade links
 *   focus_answer.c  the answer SDP
 *
 * Tables are plain arrays searched linearly: bounded by the configured
 * limits (thousands at most), and kept simple to audit. Participants and
 * links refer to connections by id, never by pointer, so a connection that
 * goes away cannot leave a dangling reference behind.
 */
#ifndef PERC_FOCUS_INTERNAL_H
#define PERC_FOCUS_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/focus.h"
#include "perc/sdp.h"
#include "perc/signaling.h"

#define FOCUS_NAME_CAP (PERC_SIG_MAX_NAME + 1)
#define FOCUS_FP_CAP 128                /* "sha-256 " + 95 characters, and a NUL */
#define FOCUS_TEXT_CAP 512              /* log lines and error reasons */

typedef struct focus_part focus_part;
typedef struct focus_conf focus_conf;

typedef struct focus_conn {
    uint64_t id;
    perc_sig_role role;                 /* NONE until the hello is accepted */
    uint64_t opened;
    uint64_t session;                   /* "c<session>" in welcome and logs */
    uint64_t seq;                       /* registration order (daemons) */
    char name[FOCUS_NAME_CAP];          /* daemons */
    char conference[FOCUS_NAME_CAP];    /* endpoints: the hello's conference */
    uint32_t capacity;                  /* MDD */
    bool cascade;                       /* MDD */
    size_t load;                        /* MDD: participants placed on it */
    char fingerprint[FOCUS_FP_CAP];     /* KMF */
    focus_part *part;                   /* endpoint: its participant, if any */
    uint64_t window_start;              /* rate limit window */
    uint32_t window_count;
} focus_conn;

/* An MD candidate trickled before the endpoint has its answer. */
typedef struct focus_cand {
    char mid[PERC_SDP_MAX_MID + 1];
    char *text;
} focus_cand;

struct focus_part {
    uint64_t num;                       /* "p<num>" */
    char id[FOCUS_NAME_CAP];
    char identity[PERC_SIG_MAX_IDENTITY + 1];
    focus_conf *conf;
    uint64_t endpoint;                  /* connection */
    perc_focus_part_state state;
    uint64_t since;
    uint64_t deadline;                  /* WAITING_*: answer due; ANSWERED: keyed due */
    char join_id[PERC_SIG_MAX_ID + 1];  /* the join's request id */

    bool kmf_told;                      /* the KMF holds it (told, not refused) */
    uint64_t kmf_conn;
    uint64_t kmf_req;                   /* outstanding participant request, 0 if none */
    bool placed;                        /* counted in its MD's load */
    bool mdd_told;                      /* the MD holds it */
    uint64_t mdd_conn;
    char mdd_name[FOCUS_NAME_CAP];
    uint64_t mdd_req;                   /* outstanding endpoint-offer request */

    perc_sdp *offer;                    /* until answered */
    char mids[PERC_SDP_MAX_MEDIA][PERC_SDP_MAX_MID + 1];
    size_t mid_count;
    perc_sig_ssrc ssrcs[PERC_SIG_MAX_SSRCS];
    char ssrc_mids[PERC_SIG_MAX_SSRCS][PERC_SDP_MAX_MID + 1];
    size_t ssrc_count;

    bool have_verdict;
    char kmf_fingerprint[FOCUS_FP_CAP];
    char kmf_tls_id[PERC_SDP_TLS_ID_MAX + 1];
    bool have_mdd;
    char ice_ufrag[PERC_SDP_ICE_UFRAG_MAX + 1];
    char ice_pwd[PERC_SDP_ICE_PWD_MAX + 1];
    char *mdd_cands[PERC_SIG_MAX_CANDIDATES];
    size_t mdd_cand_count;
    bool mdd_eoc;
    focus_cand early[PERC_SIG_MAX_CANDIDATES];
    size_t early_count;
};

struct focus_conf {
    char id[FOCUS_NAME_CAP];
    bool configured;
    bool open;
    char *tokens[PERC_FOCUS_MAX_JOIN_TOKENS];
    size_t token_count;
    char kmf_name[FOCUS_NAME_CAP];      /* "" = the default KMF */
    size_t max_participants;
    focus_part **parts;
    size_t part_count;
    size_t part_cap;
    uint64_t mdds[PERC_FOCUS_MAX_CONF_MDDS];
    size_t mdd_count;
    bool has_epoch;
    uint16_t spi;
    uint32_t members;
    uint64_t epochs;
};

typedef struct focus_link {
    uint64_t num;                       /* "l<num>" */
    char id[FOCUS_NAME_CAP];
    focus_conf *conf;
    uint64_t a;                         /* MDD conn, DTLS client */
    uint64_t b;                         /* MDD conn, DTLS server */
    uint64_t req_a;                     /* outstanding link requests */
    uint64_t req_b;
} focus_link;

typedef struct focus_out {
    struct focus_out *next;
    perc_focus_out_kind kind;
    uint64_t conn;
    perc_sig_type type;
    size_t len;
    char text[];
} focus_out;

struct perc_focus {
    perc_focus_config cfg;
    char *daemon_token;

    focus_conn **conns;
    size_t conn_count, conn_cap;
    focus_conf **confs;
    size_t conf_count, conf_cap;
    focus_link **links;
    size_t link_count, link_cap;

    focus_out *head, *tail;
    size_t out_count;
    focus_out *popped;

    uint64_t req_seq, part_seq, link_seq, session_seq, reg_seq;
    char *enc;                          /* PERC_SIG_MAX_MESSAGE + 1 */
    perc_focus_stats stats;
};

/* ---- focus.c ---- */

void focus_log(perc_focus *f, perc_focus_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
focus_conn *focus_conn_find(const perc_focus *f, uint64_t id);
/* A registered daemon of `role` by name, or NULL. */
focus_conn *focus_daemon_find(const perc_focus *f, perc_sig_role role, const char *name);
focus_conf *focus_conf_find(const perc_focus *f, const char *id);
/* Encodes m and queues it for conn. Encoding failures are our own bugs:
 * logged, PERC_ERR_* returned. */
int focus_send(perc_focus *f, uint64_t conn, const perc_sig_msg *m);
/* Queues an error reply (re may be NULL or ""). */
int focus_send_error(perc_focus *f, uint64_t conn, const char *re, perc_sig_code code,
                     const char *field, const char *reason);
/* Queues CLOSE for conn and forgets it (as if it had closed). */
int focus_close(perc_focus *f, uint64_t conn, uint64_t now);
/* Copies at most max bytes of src into dst (max + 1 bytes), cut at a
 * UTF-8 character boundary. */
void focus_cut(char *dst, size_t max, const char *src);
/* "s<n>" etc. */
void focus_num_name(char *out, size_t cap, char prefix, uint64_t n);
/* Parses "<prefix><decimal>" (no leading zeros), 0 if it is not one. */
uint64_t focus_name_num(const char *s, char prefix);
int focus_conf_add(perc_focus *f, focus_conf *c);
void focus_conf_remove(perc_focus *f, focus_conf *c);

/* ---- focus_join.c ---- */

int focus_on_join(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now);
int focus_on_candidate(perc_focus *f, focus_conn *c, const perc_sig_msg *m);
int focus_on_leave(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now);
int focus_on_kmf(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now);
int focus_on_mdd(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now);
/* A daemon's `error` message (reply or not). */
int focus_on_daemon_error(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now);
/* The connection is going away: its participant, or what it served. */
int focus_conn_gone(perc_focus *f, focus_conn *c, uint64_t now);
/* A key distributor registered: participants keyed by one that is gone are
 * ended (they join again under the new one). */
int focus_kmf_registered(perc_focus *f, focus_conn *c);
/* Timers of participants due at now. */
int focus_part_timers(perc_focus *f, uint64_t now);
uint64_t focus_part_next_timeout(const perc_focus *f);
/* The KMF serving conference c now, or NULL. */
focus_conn *focus_kmf_for(const perc_focus *f, const focus_conf *c);
void focus_part_free(focus_part *p);
void focus_link_free(focus_link *l);

/* ---- focus_answer.c ---- */

typedef struct focus_answer_in {
    const char *ice_ufrag;
    const char *ice_pwd;
    const perc_sdp_candidate *cands;
    size_t cand_count;
    bool end_of_candidates;
    const perc_sdp_fingerprint *kmf_fingerprint;
    const char *kmf_tls_id;
    uint64_t sess_id;
} focus_answer_in;

/* Checks that every section of the offer has a payload format the answer
 * can keep. NULL or a reason; *line the section's m= line. */
const char *focus_offer_usable(const perc_sdp *offer, unsigned *line);

/* Builds the answer to `offer` (docs/signaling.md §6.1) as text into out
 * (cap bytes, NUL-terminated). PERC_OK, PERC_ERR_NOMEM, or another error
 * with *why (the MD's or KMF's values could not make a valid answer). */
int focus_build_answer(const perc_sdp *offer, const focus_answer_in *in, char *out, size_t cap,
                       size_t *len, const char **why);

#endif
