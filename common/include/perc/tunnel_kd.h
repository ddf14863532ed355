/* The Key Distributor's side of one RFC 9185 tunnel connection, sans-I/O.
 *
 * One object per TLS connection from a Media Distributor. Like
 * perc/tunnel_md.h it works on the decrypted byte stream: feed it what
 * perc_tls_read() gave (perc_tunnel_kd_recv), write what
 * perc_tunnel_kd_pending_send() gives with perc_tls_write(). Create it only
 * once the TLS connection is OPEN, i.e. the Media Distributor is
 * authenticated (RFC 8871 §4.5.1).
 *
 * What it enforces (RFC 9185 §5.4, §5.5):
 *   - the first message must be SupportedProfiles. Another version: it
 *     queues UnsupportedVersion naming version 0, the highest we speak, and
 *     the connection must be closed once that is sent. Anything else first:
 *     the connection has failed;
 *   - the Media Distributor's profile list is recorded and exposed, for the
 *     profile choice (endpoint ∩ Key Distributor ∩ this Media Distributor);
 *     a later SupportedProfiles with another list fails the connection
 *     (§5.3: the list is fixed for the connection);
 *   - TunneledDtls gives an event per datagram, preceded by a "new
 *     association" event the first time an id appears on this connection;
 *   - MediaKeys sent by us are checked first (perc_tunnel_media_keys_check,
 *     and the profile must be one the Media Distributor offered);
 *   - at most max_associations per connection, so a misbehaving Media
 *     Distributor cannot make us hold unbounded state (§9): datagrams that
 *     would start one more are dropped and reported;
 *   - the time of the last bytes received is kept (time is passed in) so
 *     the daemon can drop a silent peer.
 *
 * "Known on this connection": an association is known once a TunneledDtls
 * for it arrived here, or the caller adopted it (perc_tunnel_kd_adopt).
 * We send DTLS, MediaKeys and EndpointDisconnect only for known
 * associations, so keys cannot reach a Media Distributor that does not relay
 * for that endpoint. RFC 9185 §5.2 lets an association move to another
 * tunnel (e.g. after the Media Distributor reconnected): the new
 * connection's object then reports it as new, and the daemon, which keeps
 * its DTLS servers by UUID across connections, finds it in its own table.
 *
 * Ids are taken as they come: RFC 9185 §5.3 makes them random v4 UUIDs,
 * but the KD needs them only as names and does not rely on their form.
 *
 * Events go to one callback, synchronously, from inside
 * perc_tunnel_kd_recv; views are valid only during the callback. From a
 * callback the caller may send (send_dtls, send_media_keys, disconnect,
 * adopt) and query, but not recv or free (PERC_ERR_STATE). Calling
 * perc_tunnel_kd_disconnect() from the NEW_ASSOCIATION event refuses the
 * association: its first datagram is then not reported.
 *
 * This module lives in perc_hop and never holds end-to-end keys: MediaKeys
 * carry the hop-by-hop halves only. The send queue does hold those, and is
 * wiped as it drains.
 */
#ifndef PERC_TUNNEL_KD_H
#define PERC_TUNNEL_KD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"
#include "perc/tunnel.h"

#define PERC_TUNNEL_KD_DEFAULT_MAX_ASSOCIATIONS 1024u

typedef enum perc_tunnel_kd_state {
    PERC_TUNNEL_KD_AWAIT_PROFILES = 0,  /* nothing but SupportedProfiles accepted */
    PERC_TUNNEL_KD_OPEN = 1,
    PERC_TUNNEL_KD_FAILED = 2,          /* must close; see perc_tunnel_kd_failure() */
} perc_tunnel_kd_state;

typedef enum perc_tunnel_kd_event_type {
    /* The Media Distributor's SupportedProfiles was accepted; read the list
     * with perc_tunnel_kd_profile_count/_at. */
    PERC_TUNNEL_KD_PROFILES = 1,
    /* First message for event.association_id on this connection; a
     * PERC_TUNNEL_KD_DTLS event for it follows (unless the callback called
     * perc_tunnel_kd_disconnect). */
    PERC_TUNNEL_KD_NEW_ASSOCIATION = 2,
    /* event.dtls (one or more DTLS records) from the endpoint of
     * event.association_id. */
    PERC_TUNNEL_KD_DTLS = 3,
    /* The Media Distributor says the endpoint of event.association_id is
     * gone (EndpointDisconnect). event.known says whether the association
     * was known on this connection (it is forgotten now). The claim is not
     * proof (RFC 9185 §9: a Media Distributor may send a false one). */
    PERC_TUNNEL_KD_MD_DISCONNECT = 4,
    /* A message was dropped: event.msg_type, event.error: PERC_ERR_UNSUPPORTED
     * (unknown message type, skipped by its length as RFC 9185 §9 allows),
     * PERC_ERR_LIMIT (a new association beyond max_associations). For
     * logging; the connection goes on. */
    PERC_TUNNEL_KD_DROPPED = 5,
} perc_tunnel_kd_event_type;

typedef struct perc_tunnel_kd_event {
    perc_tunnel_kd_event_type type;
    perc_uuid association_id;       /* zero for PROFILES and unknown types */
    perc_view dtls;                 /* DTLS */
    bool known;                     /* MD_DISCONNECT */
    uint8_t msg_type;               /* DROPPED */
    int error;                      /* DROPPED */
} perc_tunnel_kd_event;

typedef void (*perc_tunnel_kd_event_fn)(void *user, const perc_tunnel_kd_event *ev);

typedef struct perc_tunnel_kd_config {
    perc_tunnel_kd_event_fn on_event;
    void *event_user;
    size_t max_associations;        /* 0: PERC_TUNNEL_KD_DEFAULT_MAX_ASSOCIATIONS */
    size_t max_queued;              /* octets waiting to be sent; 0: 1 MiB */
} perc_tunnel_kd_config;

typedef struct perc_tunnel_kd perc_tunnel_kd;

/* A session for a connection that opened at `now` (monotonic ns; also the
 * first last-activity time). Errors: PERC_ERR_INVALID_ARG (no callback),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_kd_new(const perc_tunnel_kd_config *cfg, uint64_t now,
                                       perc_tunnel_kd **out);

/* Wipes and frees; NULL is fine. Not from an event callback. */
void perc_tunnel_kd_free(perc_tunnel_kd *kd);

/* Feeds stream bytes from the Media Distributor received at `now`; whole
 * messages are handled at once. Errors (all but the first two leave the
 * session FAILED, and every later recv returns the same error; close the
 * connection once perc_tunnel_kd_pending_send() is drained):
 *   PERC_ERR_STATE        called from a callback
 *   PERC_ERR_INVALID_ARG  NULL data with len > 0
 *   PERC_ERR_BAD_VERSION  the first SupportedProfiles has another version;
 *                         UnsupportedVersion(0) is queued (RFC 9185 §5.5)
 *   PERC_ERR_UNSUPPORTED  the first message is not SupportedProfiles, or a
 *                         later message only a Key Distributor sends
 *                         (UnsupportedVersion, MediaKeys), or a later
 *                         SupportedProfiles with a different list or version
 *   PERC_ERR_TRUNCATED, PERC_ERR_TRAILING, PERC_ERR_MALFORMED
 *                         a message of a known type that does not decode */
PERC_MUST_CHECK int perc_tunnel_kd_recv(perc_tunnel_kd *kd, const uint8_t *data, size_t len,
                                        uint64_t now);

/* Moves up to cap octets to send into buf (wiped from the queue); *len 0
 * when nothing waits. Works in every state. Errors: PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_tunnel_kd_pending_send(perc_tunnel_kd *kd, uint8_t *buf, size_t cap,
                                                size_t *len);
size_t perc_tunnel_kd_pending_len(const perc_tunnel_kd *kd);

/* Queues TunneledDtls with DTLS records for the endpoint of id. Errors:
 * PERC_ERR_STATE (not OPEN), PERC_ERR_NOT_FOUND (id not known on this
 * connection), PERC_ERR_INVALID_ARG (empty or NULL), PERC_ERR_TOO_LARGE
 * (over PERC_TUNNEL_MAX_DTLS), PERC_ERR_LIMIT (send queue full),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_kd_send_dtls(perc_tunnel_kd *kd, const perc_uuid *id,
                                             const uint8_t *data, size_t len);

/* Queues MediaKeys: the hop-by-hop (outer) keys and salts of
 * mk->association_id for mk->profile (RFC 9185 §6.4; for a double profile
 * the second halves of the DTLS-SRTP keys and salts, RFC 8871 §6.2), right
 * after that association's DTLS handshake (§5.4). Errors:
 *   PERC_ERR_STATE        not OPEN
 *   PERC_ERR_NOT_FOUND    association not known on this connection
 *   PERC_ERR_UNSUPPORTED  profile unknown, not offered by this Media
 *                         Distributor, or an MKI
 *   PERC_ERR_KEY_LENGTH   key or salt lengths do not fit the profile
 *   PERC_ERR_INVALID_ARG, PERC_ERR_LIMIT, PERC_ERR_NOMEM */
PERC_MUST_CHECK int perc_tunnel_kd_send_media_keys(perc_tunnel_kd *kd,
                                                   const perc_tunnel_media_keys *mk);

/* The association id ended (whoever ended it, RFC 9185 §5.4): queues
 * EndpointDisconnect and forgets id. Errors: PERC_ERR_STATE (not OPEN),
 * PERC_ERR_NOT_FOUND, PERC_ERR_LIMIT, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_kd_disconnect(perc_tunnel_kd *kd, const perc_uuid *id);

/* Makes id known on this connection without a datagram (an association
 * that moved here from another tunnel, RFC 9185 §5.2). Adopting a known id
 * is a no-op. Errors: PERC_ERR_STATE (not OPEN), PERC_ERR_LIMIT
 * (max_associations), PERC_ERR_INVALID_ARG, PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_kd_adopt(perc_tunnel_kd *kd, const perc_uuid *id);

perc_tunnel_kd_state perc_tunnel_kd_get_state(const perc_tunnel_kd *kd);
/* The error that made the session FAILED; PERC_OK otherwise. */
int perc_tunnel_kd_failure(const perc_tunnel_kd *kd);

/* The Media Distributor's profiles, in its order (0 before PROFILES). */
size_t perc_tunnel_kd_profile_count(const perc_tunnel_kd *kd);
uint16_t perc_tunnel_kd_profile_at(const perc_tunnel_kd *kd, size_t i);
bool perc_tunnel_kd_offers_profile(const perc_tunnel_kd *kd, uint16_t profile);

bool perc_tunnel_kd_knows(const perc_tunnel_kd *kd, const perc_uuid *id);
size_t perc_tunnel_kd_association_count(const perc_tunnel_kd *kd);

/* When bytes last arrived: the `now` of the last recv that took bytes (a
 * FAILED session takes none), or of creation. The daemon drops a peer
 * silent for longer than it allows (RFC 9185 defines no keepalive, so an
 * idle but healthy Media Distributor is silent too: choose generously, or
 * drop only sessions still in AWAIT_PROFILES). */
uint64_t perc_tunnel_kd_last_activity(const perc_tunnel_kd *kd);

#endif
