/* Internals of the Key Management Function (perc/kmf.h), shared by kmf*.c:
 *
 *   kmf.c               the object, logging and events, the settle step that
 *                       ends every public call, timers, queries
 *   kmf_conference.c    conferences, EKT parameter sets, re-keys, policy
 *   kmf_participants.c  announcements, leaves, expiry, our tls-ids
 *   kmf_assoc.c         associations: a perc_dtls server per endpoint and
 *                       its callbacks, MediaKeys, EKTKeys, how they end
 *   kmf_tunnel.c        tunnel connections: perc_tunnel_kd sessions, their
 *                       events, orphans and adoption
 *   kmf_sched.c         which associations a call touched, their deadlines
 *                       in a heap, the index by association id
 *
 * Ownership: the perc_kmf owns four tables of pointers (conferences,
 * participants, associations, tunnels). Nothing is freed while a callback
 * of ours may still be on the stack: ending things only marks them, and
 * kmf_settle(), run at the end of every public call, finishes them (sends
 * what they owe, re-keys) and frees them.
 *
 * Cost: a call must not visit every association. Whatever may change an
 * association (a datagram, a timer, an EKTKey, closing it, a connection
 * coming or going) touches it first (kmf_assoc_touch); settle flushes,
 * finishes and reschedules only the touched ones. Deadlines live in a
 * heap, associations are found by id through an index.
 */
#ifndef PERC_KMF_INTERNAL_H
#define PERC_KMF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc/kmf.h"
#include "perc/tunnel.h"
#include "perc/tunnel_kd.h"
#include "../hop/tunnel_assoc.h"

#define KMF_TOMBSTONES 256
#define KMF_TOMBSTONE_NS (60 * PERC_KMF_SECOND)
#define KMF_REKEY_RETRY_NS PERC_KMF_SECOND
#define KMF_LOG_LINE 512

#if defined(__GNUC__) || defined(__clang__)
#define KMF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KMF_PRINTF(f, a)
#endif

/* A growable array of pointers, in insertion order. */
typedef struct kmf_vec {
    void **items;
    size_t n;
    size_t cap;
} kmf_vec;

PERC_MUST_CHECK int kmf_vec_push(kmf_vec *v, void *p);
void kmf_vec_remove(kmf_vec *v, const void *p);
void kmf_vec_free(kmf_vec *v);

typedef struct kmf_assoc kmf_assoc;
typedef struct kmf_tunnel kmf_tunnel;

/* Associations with a deadline, earliest first (kmf_sched.c). */
typedef struct kmf_heap {
    kmf_assoc **items;
    size_t n;
    size_t cap;
} kmf_heap;

/* One EKT parameter set (RFC 8870 §4.1, §5.2.2). Secret. */
typedef struct kmf_set {
    bool valid;
    uint16_t spi;
    uint32_t ttl_s;
    uint64_t created_ns;
    size_t key_len;
    uint8_t key[PERC_EKT_MAX_EKTKEY_LEN];
    uint8_t salt[PERC_KMF_SALT_LEN];
} kmf_set;

typedef struct kmf_roster_item {
    char *identity;                     /* NULL = any */
    bool has_fp;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
} kmf_roster_item;

typedef struct kmf_conf {
    char *id;
    bool explicit_conf;
    bool ending;                        /* perc_kmf_conference_remove: deleted at settle */
    bool open;
    kmf_roster_item *roster;
    size_t n_roster;
    kmf_set cur;
    kmf_set prev;
    uint64_t prev_wipe_at;
    uint16_t next_spi;
    bool spi_started;
    uint32_t spis_used;                 /* up to 65536: then no new set */
    uint64_t rekeys;
    bool rekey_wanted;
    char rekey_why[PERC_KMF_MAX_REASON];
    uint64_t rekey_retry_at;            /* 0 = none; after a failed re-key */
    size_t n_parts;                     /* participants referring to it */
    uint16_t profile;                   /* its members' SRTP profile: kmf_conf_profile */
    uint8_t ekt_cipher;                 /* and EKT cipher: kmf_conf_ekt_cipher */
} kmf_conf;

typedef struct kmf_part {
    kmf_conf *conf;
    char *identity;                     /* "" when anonymous */
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    uint8_t ep_tls_id[PERC_DTLS_TLS_ID_MAX];
    size_t ep_tls_id_len;
    char kmf_tls_id[PERC_KMF_TLS_ID_LEN + 1];
    uint64_t expires_at;                /* while not admitted */
    kmf_assoc *assoc;                   /* bound by the ClientHello */
    bool admitted;
    bool leaving;                       /* goes when its association is finished */
    bool gone;                          /* freed at settle */
    bool waiting;                       /* in k->waiting */
} kmf_part;

struct kmf_tunnel {
    perc_kmf *k;
    uint64_t conn_id;
    char *md_name;                      /* may be NULL */
    perc_tunnel_kd *kd;
    bool failed;                        /* reported and orphaned */
};

struct kmf_assoc {
    perc_kmf *k;
    perc_uuid id;
    char id_text[PERC_UUID_TEXT_LEN + 1];
    perc_dtls *dtls;
    kmf_tunnel *tunnel;                 /* NULL = orphaned */
    char *md_name;                      /* of the last connection that carried it */
    uint64_t orphan_deadline;
    uint64_t handshake_deadline;
    kmf_part *part;
    bool connected;                     /* admitted at some point */
    bool ended;                         /* to be finished at settle */
    bool finished;                      /* finished: freed at settle */
    bool quiet;                         /* ended because the MD said so: nothing to flush */
    char reason[PERC_KMF_MAX_REASON];
    uint16_t profile;
    uint16_t required_profile;          /* asked of the client at its ClientHello; 0 = none */
    uint8_t hello_conf_cipher;          /* its conference's EKT cipher then; 0 = by profile */
    uint16_t spi_sent;
    bool acked;
    uint16_t spi_acked;
    bool touched;                       /* in k->touched until settle */
    size_t heap_pos;                    /* index in k->due + 1; 0 = no deadline */
    uint64_t due_at;                    /* its key in k->due */
};

/* An EndpointDisconnect that found no open connection to its Media
 * Distributor: sent when a connection from it (by name) opens, within
 * tunnel_grace_ns. */
typedef struct kmf_owed {
    perc_uuid id;
    char *md_name;
    uint64_t until;
} kmf_owed;

struct perc_kmf {
    perc_kmf_config cfg;
    uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN];
    bool busy;                          /* inside a public call: callbacks may not re-enter */
    uint64_t now;
    uint64_t next_conn_id;
    kmf_vec confs;
    kmf_vec parts;
    kmf_vec assocs;
    kmf_vec tunnels;
    kmf_vec owed;                       /* kmf_owed */
    kmf_vec touched;                    /* kmf_assoc the current call touched */
    kmf_heap due;                       /* kmf_assoc by next deadline */
    tunnel_assoc_table assoc_ids;       /* association id -> kmf_assoc */
    kmf_vec waiting;                    /* kmf_part announced, no association yet */
    bool parts_gone;                    /* a participant was dropped: free at settle */
    bool confs_check;                   /* a conference may have become empty */
    perc_uuid tomb_id[KMF_TOMBSTONES];
    uint64_t tomb_at[KMF_TOMBSTONES];
    size_t tomb_next;
    size_t tomb_n;
    perc_kmf_stats stats;
    uint8_t scratch[PERC_DTLS_MAX_DATAGRAM];
};

/* ---- kmf.c -------------------------------------------------------------- */

void kmf_log(perc_kmf *k, perc_kmf_log_level level, const char *fmt, ...) KMF_PRINTF(3, 4);
void kmf_emit(perc_kmf *k, const perc_kmf_event *ev);
/* Copies text into a reason buffer unless one is already there. */
void kmf_set_reason(char *dst, const char *fmt, ...) KMF_PRINTF(2, 3);
PERC_MUST_CHECK int kmf_random(perc_kmf *k, uint8_t *buf, size_t len);
/* 1..255 octets (or 0..255 when empty_ok), NUL-terminated, no control
 * characters. */
bool kmf_name_ok(const char *s, bool empty_ok);
char *kmf_strdup(const char *s);
/* Finishes what the call started and frees what ended (see the top). */
void kmf_settle(perc_kmf *k);
bool kmf_tombstoned(const perc_kmf *k, const perc_uuid *id);

/* ---- kmf_conference.c --------------------------------------------------- */

kmf_conf *kmf_conf_find(const perc_kmf *k, const char *id);
/* Creates it (implicit). Errors: PERC_ERR_LIMIT, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int kmf_conf_create(perc_kmf *k, const char *id, kmf_conf **out);
void kmf_conf_free(kmf_conf *c);
/* Whether the policy admits this participant; *why gets the reason when
 * not. */
bool kmf_conf_allows(const kmf_conf *c, const char *identity,
                     const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], char *why, size_t why_cap);
/* Makes sure a current set exists (the first member's). */
PERC_MUST_CHECK int kmf_conf_ensure_set(perc_kmf *k, kmf_conf *c);
/* Replaces the current set and sends it to every admitted member (or
 * retires it when there is none). */
PERC_MUST_CHECK int kmf_conf_rekey(perc_kmf *k, kmf_conf *c, const char *why);
/* The EKTKey message of the current set, TTL counted down to now. */
void kmf_conf_ekt_msg(const perc_kmf *k, const kmf_conf *c, perc_ekt_key_msg *m);
void kmf_conf_wipe_sets(kmf_conf *c);
size_t kmf_conf_members(const perc_kmf *k, const kmf_conf *c);
/* The SRTP profile every new member of c must use: its members' one, 0
 * while it has none (then the endpoint's preference decides). */
uint16_t kmf_conf_profile(const perc_kmf *k, const kmf_conf *c);
/* The EKT cipher a conference on this profile gets: the configured one,
 * but aeskw_256 for 0x000A (RFC 8870 §6: at least as strong as SRTP). */
uint8_t kmf_ekt_cipher_for_profile(const perc_kmf *k, uint16_t profile);
/* The EKT cipher a new member of c on this profile must use: its members'
 * one (they share the EKTKey), else by profile. */
uint8_t kmf_conf_ekt_cipher(const perc_kmf *k, const kmf_conf *c, uint16_t profile);
uint64_t kmf_conf_rekey_at(const perc_kmf *k, const kmf_conf *c);
/* Timers of one conference: old set wiping, TTL re-key, re-key retry. */
void kmf_conf_timers(perc_kmf *k, kmf_conf *c, uint64_t now);
uint64_t kmf_conf_next_timeout(const perc_kmf *k, const kmf_conf *c);
/* Removes the participants the policy no longer allows. */
void kmf_conf_apply_policy(perc_kmf *k, kmf_conf *c);

/* ---- kmf_participants.c ------------------------------------------------- */

kmf_part *kmf_part_find_tls_id(const perc_kmf *k, const uint8_t *id, size_t len);
/* The participant goes now (or when its association is finished). */
void kmf_part_leave(perc_kmf *k, kmf_part *p, const char *why);
/* Marks p gone, to be freed at settle; emits LEFT (with a's id when a is
 * not NULL) when emit_left. */
void kmf_part_drop(perc_kmf *k, kmf_part *p, const char *why, bool emit_left, const kmf_assoc *a);
void kmf_part_free(kmf_part *p);
/* Whether p waits for its association (in k->waiting, whose expiry the
 * timers watch): announced, not bound, not admitted, not gone. Room for
 * every participant is reserved when it is announced. */
void kmf_part_set_waiting(perc_kmf *k, kmf_part *p, bool waiting);
bool kmf_tls_id_ok(const uint8_t *id, size_t len);

/* ---- kmf_assoc.c -------------------------------------------------------- */

kmf_assoc *kmf_assoc_find(const perc_kmf *k, const perc_uuid *id);
/* A new association seen on t (NEW_ASSOCIATION). Refuses it on t when it
 * cannot be served. */
void kmf_assoc_new(perc_kmf *k, kmf_tunnel *t, const perc_uuid *id);
/* Counts and logs a datagram that arrived on t for an association that
 * has ended (id_text: its UUID as text). */
void kmf_assoc_drop_closed(perc_kmf *k, const kmf_tunnel *t, const char *id_text);
/* Marks a ended with reason, closing its DTLS (close_notify when it was
 * connected). quiet: the Media Distributor already knows (it told us). */
void kmf_assoc_end(kmf_assoc *a, bool quiet, const char *fmt, ...) KMF_PRINTF(3, 4);
/* Moves queued DTLS datagrams into TunneledDtls on the carrying connection. */
void kmf_assoc_flush(kmf_assoc *a);
/* Sends what an ended association owes and updates its participant. */
void kmf_assoc_finish(kmf_assoc *a);
void kmf_assoc_free(kmf_assoc *a);
/* Queues the conference's current EKTKey for a. Errors from
 * perc_dtls_send_ekt_key. */
PERC_MUST_CHECK int kmf_assoc_send_ekt(kmf_assoc *a);
void kmf_assoc_timers(kmf_assoc *a, uint64_t now);
uint64_t kmf_assoc_next_timeout(const kmf_assoc *a);
/* A connection no longer carries a: it waits tunnel_grace_ns. */
void kmf_assoc_orphan(kmf_assoc *a);
bool kmf_assoc_live(const kmf_assoc *a);

/* ---- kmf_sched.c -------------------------------------------------------- */

/* Room in the heap and the touched set for n associations. Errors:
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int kmf_sched_reserve(perc_kmf *k, size_t n);
void kmf_sched_free(perc_kmf *k);
/* a changed or may change in this call: settle looks at it. */
void kmf_assoc_touch(kmf_assoc *a);
/* Puts a in the heap at kmf_assoc_next_timeout(a) (out of it when none). */
void kmf_sched_update(perc_kmf *k, kmf_assoc *a);
/* Puts a in the heap at `at` (UINT64_MAX: out of it). */
void kmf_sched_set(perc_kmf *k, kmf_assoc *a, uint64_t at);
void kmf_sched_remove(perc_kmf *k, kmf_assoc *a);
/* The earliest association deadline, UINT64_MAX when none. */
uint64_t kmf_sched_next(const perc_kmf *k);
/* Takes the earliest association out of the heap if it is due at now. */
kmf_assoc *kmf_sched_pop_due(perc_kmf *k, uint64_t now);
PERC_MUST_CHECK int kmf_assoc_index_add(perc_kmf *k, kmf_assoc *a);
void kmf_assoc_index_remove(perc_kmf *k, const kmf_assoc *a);

/* ---- kmf_tunnel.c ------------------------------------------------------- */

kmf_tunnel *kmf_tunnel_find(const perc_kmf *k, uint64_t conn_id);
void kmf_tunnel_free(kmf_tunnel *t);
/* An open connection from the Media Distributor `name`, or NULL. */
kmf_tunnel *kmf_tunnel_find_open_named(const perc_kmf *k, const char *name);
/* Remembers an EndpointDisconnect for the next connection from md_name. */
void kmf_tunnel_owe(perc_kmf *k, const perc_uuid *id, const char *md_name);
void kmf_owed_free(kmf_owed *o);
/* Forgets owed EndpointDisconnects whose time is up. */
void kmf_owed_expire(perc_kmf *k, uint64_t now);

#endif
