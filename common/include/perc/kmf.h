/* The Key Management Function (RFC 8871's Key Distributor), sans-I/O.
 *
 * Everything perc-kmf decides lives here; the daemon only moves bytes
 * between its TLS connections and this object, passes signaling's requests
 * in, and writes the log lines and events it is given. Whole key
 * distribution scenarios therefore run in one test process over in-memory
 * byte streams on a virtual clock.
 *
 * What it holds:
 *   - conferences, each with its current EKT parameter set (EKTKey, a
 *     12-octet master salt, an SPI never used before in that conference, a
 *     TTL), the previous set for a short key-change window, and a policy:
 *     open, or a roster of allowed participants;
 *   - participants announced by signaling (conference, identity, the
 *     SHA-256 fingerprint and tls-id from their SDP). Each announcement is
 *     answered with our fingerprint and a tls-id made for that participant
 *     (RFC 9185 §5.4: the Key Distributor's own unique identifier, which the
 *     endpoint then finds in our external_session_id);
 *   - tunnel connections from Media Distributors (one perc_tunnel_kd each);
 *   - associations: one DTLS server (perc_dtls) per endpoint, fed with the
 *     TunneledDtls of its association id.
 *
 * What it does (RFC 9185 §5.4, RFC 8871 §4.5, RFC 8870 §5.2):
 *   - an association's ClientHello names the participant by its tls-id
 *     (external_session_id); we answer with the tls-id announced for it.
 *     The certificate must have the announced fingerprint (constant time)
 *     and the conference policy must allow the participant. Anything else
 *     is refused inside the handshake (a DTLS alert, no key ever exists),
 *     followed by EndpointDisconnect to the Media Distributor and a log
 *     line naming the reason;
 *   - the SRTP profile is chosen among the double profiles that we, the
 *     endpoint AND the Media Distributor carrying the association support
 *     (its SupportedProfiles); none in common: refused;
 *   - right after the handshake: MediaKeys with only the hop-by-hop (outer)
 *     halves of the DTLS-SRTP keys and salts to the Media Distributor
 *     (RFC 9185 §5.4, RFC 8871 §6.2), then the conference's current EKTKey
 *     to the endpoint (retransmitted until ACKed);
 *   - when an admitted endpoint leaves (signaling says so, the Media
 *     Distributor reports EndpointDisconnect, the DTLS association closes
 *     or fails): EndpointDisconnect to the Media Distributor (unless it
 *     reported it), the participant is forgotten and its state wiped, and
 *     the conference is re-keyed: a new parameter set goes to every
 *     remaining member (RFC 8871 §4.5.2, §6.3). Also before the TTL runs
 *     out (at 90 % of it), on every join when rekey_on_join is set, and on
 *     request (perc_kmf_rekey).
 *
 * Decisions (see also docs/deviations.md):
 *   - One SRTP profile and one EKT cipher per conference: its members
 *     share the EKTKey, and a receiver takes only EKT keys of its own
 *     transform's length (RFC 8870 §4.3.2). The first member's handshake
 *     chooses the profile (its preference among ours and its Media
 *     Distributor's); the EKT cipher follows it: config.ekt_cipher for
 *     0x0009, aeskw_256 for 0x000A (RFC 8870 §6: at least as strong as the
 *     SRTP cipher). Later members get both, whatever they prefer: the DTLS
 *     server narrows its choices at the ClientHello, where the tls-id in
 *     external_session_id names the participant and so the conference
 *     (perc_dtls_config.required_profile, required_ekt_cipher). An endpoint
 *     that did not offer the profile is refused at the ClientHello; one
 *     that did not offer the cipher after the handshake (no MediaKeys, no
 *     EKTKey). A conference whose last member is gone chooses afresh.
 *   - An EKTKey's TTL is what is left of the parameter set's lifetime when
 *     it is sent, so a late joiner does not use a set longer than intended.
 *   - A refused or failed handshake does not consume the announcement:
 *     someone who knows a tls-id (it travels in SDP) but not the private
 *     key cannot lock the real participant out. It expires as usual.
 *   - Only admitted participants (those sent an EKTKey) trigger a re-key
 *     when they go. When the last member of a conference goes, the current
 *     set is retired instead (kept for the key-change window, then wiped);
 *     the next member gets a fresh set with a new SPI. A conference created
 *     by an announcement is deleted, keys wiped, once nobody is announced
 *     in it any more; one created with perc_kmf_conference_create stays
 *     until perc_kmf_conference_remove.
 *   - Associations of a removed (or failed) tunnel connection stay alive
 *     for tunnel_grace_ns. A connection that carries a TunneledDtls for one
 *     adopts it; a new connection from a Media Distributor of the same name
 *     (perc_kmf_tunnel_add's md_name, e.g. its certificate fingerprint)
 *     adopts all of that Media Distributor's orphans as soon as its
 *     SupportedProfiles arrive, so a re-key reaches endpoints that have
 *     nothing to send. An association not adopted in time ends like a
 *     leave (re-key). An EndpointDisconnect that finds no open connection
 *     from the association's Media Distributor is owed to the next one
 *     from it (by name) for tunnel_grace_ns, like perc/tunnel_md.h does on
 *     its side; for an unnamed Media Distributor it cannot be sent.
 *   - An association may move between live connections too: it is carried
 *     by the connection its latest datagram came on (RFC 9185 §5.2).
 *     EndpointDisconnect goes to every open connection that knows it.
 *   - Changing a roster removes the members it no longer allows (they are
 *     sent close_notify and the conference is re-keyed). Participants
 *     announced but not admitted yet are kept: their handshake is refused
 *     with the reason (the endpoint sees an access_denied alert), or their
 *     announcement expires. The policy is checked at the announcement, at
 *     the certificate, and again when the handshake completes.
 *   - A datagram for an association that ended is dropped with a log line
 *     and answered with EndpointDisconnect (ended ids are remembered for a
 *     minute).
 *   - Limits: conferences, participants per conference and associations.
 *     Signaling hitting one gets a refusal with a reason; a Media
 *     Distributor hitting one gets EndpointDisconnect.
 *
 * Randomness comes only from config.random: EKTKeys, salts, the first SPI
 * of each conference (later ones count up from it, so none repeats) and our
 * tls-ids. DTLS handshakes use OpenSSL's RNG (see perc/dtls.h). Logging
 * only through config.log; no key, salt or keying material is ever in a log
 * line or an event. Time is the caller's monotonic clock in nanoseconds.
 *
 * Re-entrancy: the event and log callbacks run from inside perc_kmf_*
 * calls; from there only the const queries and perc_kmf_tunnel_pending()
 * may be called (everything else returns PERC_ERR_STATE; perc_kmf_free()
 * must not be). Not thread-safe.
 */
#ifndef PERC_KMF_H
#define PERC_KMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/dtls.h"
#include "perc/error.h"
#include "perc/tunnel.h"
#include "perc/tunnel_kd.h"

/* Conference ids, identities and Media Distributor names: 1..255 octets
 * (identities may also be empty: anonymous), NUL-terminated, no control
 * characters (they end up in log lines). */
#define PERC_KMF_MAX_NAME_LEN 255
/* The tls-ids we hand out: RFC 8842 tls-id-char (ALPHA / DIGIT / "+" /
 * "/"), 192 random bits. */
#define PERC_KMF_TLS_ID_LEN 32
#define PERC_KMF_SALT_LEN 12            /* EKTKey srtp_master_salt (spec README item 8) */
#define PERC_KMF_MAX_REASON 192         /* refusal and end reasons, with the NUL */

#define PERC_KMF_SECOND UINT64_C(1000000000)
#define PERC_KMF_DEFAULT_EKT_TTL_S 86400u
#define PERC_KMF_DEFAULT_KEY_CHANGE_WINDOW_NS (10 * PERC_KMF_SECOND)
#define PERC_KMF_DEFAULT_ANNOUNCE_LIFETIME_NS (60 * PERC_KMF_SECOND)
#define PERC_KMF_DEFAULT_TUNNEL_GRACE_NS (10 * PERC_KMF_SECOND)
#define PERC_KMF_DEFAULT_HANDSHAKE_TIMEOUT_NS (30 * PERC_KMF_SECOND)
#define PERC_KMF_DEFAULT_MAX_CONFERENCES 256u
#define PERC_KMF_DEFAULT_MAX_PARTICIPANTS 256u
#define PERC_KMF_DEFAULT_MAX_ASSOCIATIONS 1024u
#define PERC_KMF_DEFAULT_MAX_TUNNELS 64u

typedef struct perc_kmf perc_kmf;

/* ---- environment -------------------------------------------------------- */

/* Fills buf with len random octets; 0 on success. */
typedef int (*perc_kmf_random_fn)(void *user, uint8_t *buf, size_t len);

typedef enum perc_kmf_log_level {
    PERC_KMF_LOG_DEBUG = 0,
    PERC_KMF_LOG_INFO = 1,
    PERC_KMF_LOG_WARNING = 2,
    PERC_KMF_LOG_ERROR = 3,
} perc_kmf_log_level;

/* One line of English, no newline, never a secret. */
typedef void (*perc_kmf_log_fn)(void *user, perc_kmf_log_level level, const char *msg);

typedef enum perc_kmf_event_type {
    /* An endpoint completed its handshake: MediaKeys went to its Media
     * Distributor and the EKTKey (spi) to it. conference, identity,
     * association_id, conn_id, profile, spi. */
    PERC_KMF_EV_ADMITTED = 1,
    /* An association was refused (reason); conference and identity when
     * the ClientHello named an announced participant, else NULL. */
    PERC_KMF_EV_REFUSED = 2,
    /* A participant is gone (reason): signaling's leave, its association
     * ended, removed from the roster, conference removed. has_association
     * says whether association_id is set. */
    PERC_KMF_EV_LEFT = 3,
    /* A new parameter set went to n_endpoints members (spi, reason). */
    PERC_KMF_EV_REKEYED = 4,
    /* An association ended (reason); conference/identity when known. */
    PERC_KMF_EV_ASSOCIATION_ENDED = 5,
    /* An announced participant's association never came. */
    PERC_KMF_EV_ANNOUNCEMENT_EXPIRED = 6,
    /* Tunnel connection conn_id failed (error): drain
     * perc_kmf_tunnel_pending(), close it, then perc_kmf_tunnel_remove(). */
    PERC_KMF_EV_TUNNEL_FAILED = 7,
} perc_kmf_event_type;

/* Strings are valid only during the callback. */
typedef struct perc_kmf_event {
    perc_kmf_event_type type;
    const char *conference;
    const char *identity;
    bool has_association;
    perc_uuid association_id;
    uint64_t conn_id;
    uint16_t profile;
    uint16_t spi;
    size_t n_endpoints;
    const char *reason;
    int error;
} perc_kmf_event;

typedef void (*perc_kmf_event_fn)(void *user, const perc_kmf_event *ev);

/* ---- configuration ------------------------------------------------------ */

/* Fill with perc_kmf_config_init() and change what differs. */
typedef struct perc_kmf_config {
    /* Our DTLS identity (certificate and key); borrowed: it must outlive
     * the KMF. Required. */
    perc_dtls_ctx *dtls_ctx;
    /* Double profiles we accept, in our order of preference (a profile
     * must also be offered by the endpoint and by the Media Distributor).
     * Default {0x0009, 0x000A}. */
    uint16_t profiles[PERC_DTLS_MAX_PROFILES];
    size_t n_profiles;
    /* The EKT cipher of conferences on 0x0009; those on 0x000A get
     * aeskw_256 (see the decisions above). Default
     * PERC_EKT_CIPHER_AESKW_128. */
    uint8_t ekt_cipher;
    /* Lifetime of a parameter set, seconds, 1..0xFFFFFF; re-keyed at 90 %
     * of it. Default 86400. */
    uint32_t ekt_ttl_s;
    /* How long a superseded parameter set is kept before it is wiped.
     * Default 10 s. */
    uint64_t key_change_window_ns;
    /* Re-key the conference whenever someone is admitted (the newcomer
     * then cannot decrypt what was sent before it joined). Default off. */
    bool rekey_on_join;
    /* An announcement whose association never completes is forgotten after
     * this long. Default 60 s. */
    uint64_t announce_lifetime_ns;
    /* Associations of a closed tunnel connection wait this long for
     * another connection to carry them. Default 10 s. */
    uint64_t tunnel_grace_ns;
    /* A DTLS handshake must complete within this. Default 30 s. */
    uint64_t handshake_timeout_ns;
    size_t max_conferences;             /* default 256 */
    size_t max_participants;            /* per conference, announced or admitted; default 256 */
    size_t max_associations;            /* all connections together; default 1024 */
    size_t max_tunnels;                 /* default 64 */
    /* DTLS tuning, passed to every association (perc_dtls_config): MTU
     * (default 1200), first handshake retransmission timeout (0 = 1 s),
     * EKTKey retransmission timer (default 1 s doubling up to 60 s). */
    size_t dtls_mtu;
    unsigned dtls_handshake_rtx_initial_ms;
    uint64_t ekt_rtx_initial_ns;
    uint64_t ekt_rtx_max_ns;
    perc_kmf_random_fn random;          /* required */
    void *random_user;
    perc_kmf_log_fn log;                /* optional */
    void *log_user;
    perc_kmf_log_level log_level;       /* lines below this are not formatted; default INFO */
    perc_kmf_event_fn on_event;         /* optional */
    void *event_user;
} perc_kmf_config;

void perc_kmf_config_init(perc_kmf_config *cfg);

/* Errors: PERC_ERR_INVALID_ARG (NULL, no dtls_ctx or random, a profile
 * that is not double or repeated, an unknown cipher, TTL 0 or over 24
 * bits, a zero limit or duration), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_kmf_new(const perc_kmf_config *cfg, perc_kmf **out);

/* Wipes every key and frees everything, associations and tunnel sessions
 * included; sends nothing. NULL is fine. Not from a callback. */
void perc_kmf_free(perc_kmf *kmf);

/* Our certificate's fingerprint (for a=fingerprint). */
void perc_kmf_fingerprint(const perc_kmf *kmf, uint8_t out[PERC_DTLS_FINGERPRINT_LEN]);

/* ---- conferences and policy --------------------------------------------- */

/* Creates a conference that lives until perc_kmf_conference_remove (one
 * created implicitly by an announcement becomes explicit). Open policy
 * until a roster is set. Errors: PERC_ERR_INVALID_ARG (bad id),
 * PERC_ERR_LIMIT (max_conferences), PERC_ERR_STATE (from a callback),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_kmf_conference_create(perc_kmf *kmf, const char *conference_id,
                                               uint64_t now);

/* Ends every association of the conference (close_notify, EndpointDisconnect),
 * forgets its participants, wipes its keys. Errors: PERC_ERR_NOT_FOUND,
 * PERC_ERR_INVALID_ARG, PERC_ERR_STATE. */
PERC_MUST_CHECK int perc_kmf_conference_remove(perc_kmf *kmf, const char *conference_id,
                                               uint64_t now);

/* A roster entry: a participant is allowed iff some entry matches every
 * field it specifies. identity NULL = any identity; has_fingerprint false
 * = any certificate. An entry must specify at least one. */
typedef struct perc_kmf_roster_entry {
    const char *identity;
    bool has_fingerprint;
    uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN];
} perc_kmf_roster_entry;

/* Sets the conference's policy to this roster (copied; n = 0 allows
 * nobody), creating the conference (explicit) if needed. Members it no
 * longer allows are removed: their associations end and the conference is
 * re-keyed; announced participants it no longer allows are refused at
 * their handshake. The daemon parses the roster file; this only takes
 * entries.
 * Errors: PERC_ERR_INVALID_ARG (bad id, an entry without identity and
 * fingerprint, a bad identity), PERC_ERR_LIMIT, PERC_ERR_STATE,
 * PERC_ERR_NOMEM (the old policy is kept). */
PERC_MUST_CHECK int perc_kmf_set_roster(perc_kmf *kmf, const char *conference_id,
                                        const perc_kmf_roster_entry *entries, size_t n,
                                        uint64_t now);

/* Back to the open policy: anyone signaling announces may join. Errors:
 * PERC_ERR_NOT_FOUND, PERC_ERR_INVALID_ARG, PERC_ERR_STATE. */
PERC_MUST_CHECK int perc_kmf_set_open(perc_kmf *kmf, const char *conference_id, uint64_t now);

/* Re-keys the conference now (e.g. an operator's request). A conference
 * without members just retires its set. Errors: PERC_ERR_NOT_FOUND,
 * PERC_ERR_INVALID_ARG, PERC_ERR_STATE, PERC_ERR_RANDOM (the old set stays
 * and the re-key is retried a second later), PERC_ERR_KEY_EXHAUSTED (all
 * 65536 SPIs of the conference used). */
PERC_MUST_CHECK int perc_kmf_rekey(perc_kmf *kmf, const char *conference_id, uint64_t now);

/* ---- signaling ---------------------------------------------------------- */

typedef struct perc_kmf_answer {
    bool allowed;
    char reason[PERC_KMF_MAX_REASON];   /* why not (empty when allowed) */
    uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN];    /* ours, for a=fingerprint */
    char tls_id[PERC_KMF_TLS_ID_LEN + 1];              /* ours for this participant, for a=tls-id */
    size_t tls_id_len;
} perc_kmf_answer;

/* Signaling says that `identity` (may be NULL or "": anonymous) wants to
 * join conference_id with the certificate `fingerprint` and the SDP tls-id
 * `tls_id` (20..255 characters of RFC 8842's tls-id-char). The conference
 * is created if needed. The answer says allowed or refused (policy, a
 * tls-id already in use, a full conference, too many conferences) and
 * carries our fingerprint and, when allowed, the tls-id we made for this
 * participant. The participant is remembered until its association
 * arrives or announce_lifetime_ns passes. Announcing the same tls-id again
 * in the same conference before its association exists refreshes the
 * announcement (new identity and fingerprint, new lifetime, same tls-id of
 * ours). Refusals are PERC_OK with answer->allowed false. Errors:
 * PERC_ERR_INVALID_ARG (bad conference id, identity or tls-id, NULL
 * fingerprint or answer), PERC_ERR_STATE, PERC_ERR_RANDOM, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_kmf_announce(perc_kmf *kmf, const char *conference_id,
                                      const char *identity,
                                      const uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN],
                                      const uint8_t *tls_id, size_t tls_id_len, uint64_t now,
                                      perc_kmf_answer *answer);

/* Signaling says a participant left (bye, or its WebSocket dropped). Every
 * participant of the conference that matches identity (when not NULL) and
 * tls_id (when not NULL) goes: its association ends (close_notify to the
 * endpoint, EndpointDisconnect to the Media Distributor) and, if it was
 * admitted, the conference is re-keyed once. Errors: PERC_ERR_INVALID_ARG
 * (both NULL, bad strings), PERC_ERR_NOT_FOUND (no such conference or
 * nobody matched), PERC_ERR_STATE. */
PERC_MUST_CHECK int perc_kmf_leave(perc_kmf *kmf, const char *conference_id, const char *identity,
                                   const uint8_t *tls_id, size_t tls_id_len, uint64_t now);

/* ---- tunnel connections ------------------------------------------------- */

/* A Media Distributor's TLS connection is OPEN (authenticated): creates its
 * tunnel session and returns its id (never 0, never reused). md_name
 * (optional, copied) names that Media Distributor in logs and lets a
 * later connection with the same name adopt the associations this one
 * leaves behind. Errors: PERC_ERR_INVALID_ARG, PERC_ERR_LIMIT
 * (max_tunnels), PERC_ERR_STATE, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_kmf_tunnel_add(perc_kmf *kmf, const char *md_name, uint64_t now,
                                        uint64_t *conn_id);

/* Bytes read from connection conn_id's TLS. Errors: PERC_ERR_NOT_FOUND,
 * PERC_ERR_INVALID_ARG, PERC_ERR_STATE (from a callback), or the error
 * that failed the connection (see perc_tunnel_kd_recv: BAD_VERSION,
 * UNSUPPORTED, TRUNCATED, TRAILING, MALFORMED, NOMEM), the same on every
 * later call: drain perc_kmf_tunnel_pending(), close the connection and
 * call perc_kmf_tunnel_remove(). Its associations are orphaned at once
 * (tunnel_grace_ns to be adopted elsewhere). */
PERC_MUST_CHECK int perc_kmf_tunnel_recv(perc_kmf *kmf, uint64_t conn_id, const uint8_t *data,
                                         size_t len, uint64_t now);

/* Moves up to cap octets to write to conn_id's TLS into buf; *len 0 when
 * nothing waits. Call after every perc_kmf_* call that may have produced
 * output (any of them may). Errors: PERC_ERR_NOT_FOUND,
 * PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_kmf_tunnel_pending(perc_kmf *kmf, uint64_t conn_id, uint8_t *buf,
                                            size_t cap, size_t *len);

/* The connection closed (or was closed after a failure): its session is
 * freed and its associations wait tunnel_grace_ns to be adopted. Errors:
 * PERC_ERR_NOT_FOUND, PERC_ERR_STATE. */
PERC_MUST_CHECK int perc_kmf_tunnel_remove(perc_kmf *kmf, uint64_t conn_id, uint64_t now);

typedef struct perc_kmf_tunnel_info {
    perc_tunnel_kd_state state;     /* FAILED: close it */
    int failure;                    /* the error that failed it; PERC_OK otherwise */
    size_t associations;            /* carried by this connection now */
    size_t pending_octets;          /* waiting for perc_kmf_tunnel_pending */
    uint64_t last_activity_ns;
} perc_kmf_tunnel_info;

/* Errors: PERC_ERR_NOT_FOUND, PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_kmf_tunnel_info_get(const perc_kmf *kmf, uint64_t conn_id,
                                             perc_kmf_tunnel_info *out);

/* ---- timers ------------------------------------------------------------- */

/* The earliest time perc_kmf_on_timeout() wants to run (DTLS
 * retransmissions, EKTKey retransmissions, announcement expiry, grace
 * periods, handshake deadlines, wiping superseded sets, TTL re-keys);
 * UINT64_MAX for none. */
uint64_t perc_kmf_next_timeout(const perc_kmf *kmf);

/* Runs whatever is due at now; early calls are harmless. Errors:
 * PERC_ERR_STATE (from a callback). */
PERC_MUST_CHECK int perc_kmf_on_timeout(perc_kmf *kmf, uint64_t now);

/* ---- queries ------------------------------------------------------------ */

typedef struct perc_kmf_conference_info {
    bool explicit_conference;       /* created by perc_kmf_conference_create/set_roster */
    bool open;                      /* policy: open, or a roster of n_roster entries */
    size_t n_roster;
    size_t members;                 /* admitted (sent an EKTKey) */
    size_t announced;               /* announced, not admitted (pending or handshaking) */
    bool has_current;
    uint16_t current_spi;
    uint64_t current_created_ns;
    uint64_t rekey_at_ns;           /* TTL re-key */
    bool has_previous;              /* a superseded set still held */
    uint16_t previous_spi;
    uint64_t previous_wipe_at_ns;
    uint64_t rekeys;
    uint8_t ekt_cipher;             /* its members' (0 while it has none) */
} perc_kmf_conference_info;

/* Errors: PERC_ERR_NOT_FOUND, PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_kmf_conference_info_get(const perc_kmf *kmf, const char *conference_id,
                                                 perc_kmf_conference_info *out);

typedef enum perc_kmf_assoc_state {
    PERC_KMF_ASSOC_HANDSHAKING = 0,
    PERC_KMF_ASSOC_CONNECTED = 1,   /* admitted: MediaKeys and EKTKey sent */
    PERC_KMF_ASSOC_ENDING = 2,      /* ended; forgotten at the end of the current call */
} perc_kmf_assoc_state;

typedef struct perc_kmf_association_info {
    perc_kmf_assoc_state state;
    uint64_t conn_id;               /* the connection carrying it; 0 when orphaned */
    uint64_t orphan_deadline_ns;    /* when orphaned */
    uint16_t profile;               /* once connected */
    /* Once the ClientHello named an announced participant, else NULL;
     * valid until the next non-const call. */
    const char *conference;
    const char *identity;
    uint16_t spi_sent;              /* the last EKTKey queued for it (connected) */
    bool acked;                     /* the endpoint ACKed spi_acked */
    uint16_t spi_acked;
    size_t ekt_unacked;             /* EKTKeys queued or in flight */
} perc_kmf_association_info;

/* Errors: PERC_ERR_NOT_FOUND (never existed or forgotten),
 * PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_kmf_association_info_get(const perc_kmf *kmf, const perc_uuid *id,
                                                  perc_kmf_association_info *out);

typedef struct perc_kmf_stats {
    size_t conferences;
    size_t participants;            /* announced or admitted */
    size_t associations;
    size_t tunnels;
    uint64_t announcements;
    uint64_t announcements_refused;
    uint64_t announcements_expired;
    uint64_t admitted;
    uint64_t refused;               /* associations refused */
    uint64_t left;
    uint64_t rekeys;
    uint64_t ekt_keys_sent;         /* EKTKey messages queued (first transmissions) */
    uint64_t media_keys_sent;
    uint64_t endpoint_disconnects_sent;
    uint64_t dtls_dropped;          /* datagrams with nowhere to go, or for ended associations */
    uint64_t tunnels_failed;
} perc_kmf_stats;

void perc_kmf_get_stats(const perc_kmf *kmf, perc_kmf_stats *out);

/* "admitted", "refused", ...: for logs. */
const char *perc_kmf_event_name(perc_kmf_event_type type);

#endif
