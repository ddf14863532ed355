/* The Media Distributor's side of the RFC 9185 tunnel, sans-I/O.
 *
 * It speaks the tunnel protocol over a byte stream and knows nothing of TLS:
 * the daemon feeds it what perc_tls_read() gave (perc_tunnel_md_recv) and
 * writes what perc_tunnel_md_pending_send() gives with perc_tls_write(). It
 * does what RFC 9185 §5.3 asks of a Media Distributor:
 *
 *   - the first message of every tunnel connection is SupportedProfiles,
 *     with the same profile list for the object's whole life (§5.3);
 *   - each endpoint's DTLS association gets a random version-4 UUID (from
 *     the caller's random callback), constant while the association lives;
 *     the object maps it to the caller's endpoint handle;
 *   - every DTLS datagram from an endpoint goes out as TunneledDtls; every
 *     TunneledDtls from the Key Distributor becomes an event "send these
 *     bytes to endpoint H";
 *   - MediaKeys becomes an event "install these hop-by-hop keys for H";
 *   - EndpointDisconnect goes out when the caller says an endpoint is gone,
 *     and an incoming one becomes an event "the KD ended H's association";
 *   - UnsupportedVersion: the version it names is used from the next
 *     connection on, and the current one must be closed (§5.5).
 *
 * Connections. The object outlives tunnel connections. After a TLS
 * connection opens, call perc_tunnel_md_reset_connection(); when it ends,
 * perc_tunnel_md_connection_down(). Associations are KEPT across
 * connections: RFC 9185 §5.2 lets the messages of one association use any
 * tunnel, the DTLS association itself is between the endpoint and the Key
 * Distributor, so a live association simply continues over the new
 * connection (a DTLS message lost with the old connection is retransmitted
 * by DTLS). A caller that wants a clean slate calls
 * perc_tunnel_md_endpoint_gone() for each endpoint. An EndpointDisconnect
 * that could not be queued (no connection open, or the send queue full) is
 * owed: it goes out right after the SupportedProfiles of the next
 * connection, or with the next send once the queue has room.
 *
 * Errors from the Key Distributor's side (RFC 9185 only defines the version
 * mismatch; §9 leaves the rest to implementations):
 *   - a message of a type we do not know: skipped (its length frames it),
 *     reported as a PERC_TUNNEL_MD_DROPPED event;
 *   - TunneledDtls, MediaKeys or EndpointDisconnect naming an association
 *     we do not know: dropped, reported (PERC_ERR_NOT_FOUND); nothing else
 *     is disturbed;
 *   - MediaKeys with a profile we did not offer, an MKI, or key or salt
 *     lengths that do not fit the profile: dropped, reported, no keys
 *     installed;
 *   - a message of a known type that does not decode, or one only a Media
 *     Distributor may send (SupportedProfiles): the stream cannot be trusted
 *     any more, the connection is FAILED (perc_tunnel_md_recv returns the
 *     error) and must be closed; associations are kept for the next one.
 *
 * Events go to one callback, synchronously, from inside perc_tunnel_md_recv.
 * Views in an event point into the object and are valid only during the
 * callback; the keys of PERC_TUNNEL_MD_INSTALL_KEYS are wiped when it
 * returns. From a callback the caller may call dtls_from_endpoint,
 * endpoint_gone and the queries, but not recv, reset_connection or
 * connection_down (they return PERC_ERR_STATE there), nor free.
 *
 * The Media Distributor never sees end-to-end keys: MediaKeys carries only
 * the hop-by-hop halves (RFC 9185 §6.4, RFC 8871 §6.2), and this module
 * lives in perc_hop.
 */
#ifndef PERC_TUNNEL_MD_H
#define PERC_TUNNEL_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"
#include "perc/profile.h"
#include "perc/tunnel.h"

/* Fills buf with len random octets; returns 0 on success, anything else on
 * failure. Used for association UUIDs only. */
typedef int (*perc_tunnel_md_random_fn)(void *user, uint8_t *buf, size_t len);

typedef enum perc_tunnel_md_state {
    PERC_TUNNEL_MD_DOWN = 0,    /* no connection (at creation, after connection_down) */
    PERC_TUNNEL_MD_OPEN = 1,    /* SupportedProfiles queued; messages flow */
    PERC_TUNNEL_MD_FAILED = 2,  /* the connection must be closed; see perc_tunnel_md_failure() */
} perc_tunnel_md_state;

typedef enum perc_tunnel_md_event_type {
    /* Send event.dtls to the endpoint event.handle. */
    PERC_TUNNEL_MD_DTLS_TO_ENDPOINT = 1,
    /* Install event.keys as the hop-by-hop SRTP keys for event.handle:
     * decrypt what the endpoint sends with client_write, encrypt towards it
     * with server_write (RFC 9185 §6.4). May come again for the same
     * association after a DTLS renegotiation (RFC 8871 §4.5.2): replace. */
    PERC_TUNNEL_MD_INSTALL_KEYS = 2,
    /* The Key Distributor ended event.handle's association; the mapping is
     * already gone. */
    PERC_TUNNEL_MD_KD_DISCONNECT = 3,
    /* A message was dropped: event.msg_type, event.error says why
     * (PERC_ERR_UNSUPPORTED unknown message type, a profile we did not
     * offer, or an MKI; PERC_ERR_NOT_FOUND unknown association;
     * PERC_ERR_KEY_LENGTH key or salt lengths wrong for the profile).
     * For logging; the connection goes on. */
    PERC_TUNNEL_MD_DROPPED = 4,
} perc_tunnel_md_event_type;

/* Hop-by-hop keys of one association: the outer halves for a double
 * profile. Owned by the object and wiped after the callback. */
typedef struct perc_tunnel_md_keys {
    uint16_t profile;
    size_t key_len;                 /* 16 or 32 */
    size_t salt_len;                /* 12 */
    uint8_t client_write_key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t server_write_key[PERC_SRTP_MAX_KEY_LEN];
    uint8_t client_write_salt[PERC_SRTP_SALT_LEN];
    uint8_t server_write_salt[PERC_SRTP_SALT_LEN];
} perc_tunnel_md_keys;

typedef struct perc_tunnel_md_event {
    perc_tunnel_md_event_type type;
    uint64_t handle;                /* all but DROPPED */
    perc_uuid association_id;       /* zero for a DROPPED message that carries none */
    perc_view dtls;                 /* DTLS_TO_ENDPOINT: one or more DTLS records */
    const perc_tunnel_md_keys *keys; /* INSTALL_KEYS */
    uint8_t msg_type;               /* DROPPED */
    int error;                      /* DROPPED */
} perc_tunnel_md_event;

typedef void (*perc_tunnel_md_event_fn)(void *user, const perc_tunnel_md_event *ev);

typedef struct perc_tunnel_md_config {
    /* The SRTP protection profiles to announce, in order of preference;
     * copied. Every one must be known to perc_profile_lookup(). */
    const uint16_t *profiles;
    size_t n_profiles;
    /* Version the first connection announces. 0 (PERC_TUNNEL_VERSION) is
     * the only one this code speaks; a higher value is for tests that play
     * a newer Media Distributor. */
    uint8_t version;
    perc_tunnel_md_random_fn random;
    void *random_user;
    perc_tunnel_md_event_fn on_event;
    void *event_user;
    size_t max_associations;        /* 0: no limit */
    size_t max_queued;              /* octets waiting to be sent; 0: 1 MiB */
} perc_tunnel_md_config;

typedef struct perc_tunnel_md perc_tunnel_md;

/* Errors: PERC_ERR_INVALID_ARG (no profiles, no random or event callback),
 * PERC_ERR_UNSUPPORTED (a profile perc_profile_lookup() does not know),
 * PERC_ERR_TOO_LARGE (more profiles than a message holds), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_md_new(const perc_tunnel_md_config *cfg, perc_tunnel_md **out);

/* Wipes and frees; NULL is fine. Not from an event callback. */
void perc_tunnel_md_free(perc_tunnel_md *md);

/* A new tunnel connection is open: drops whatever was buffered for or from
 * the previous one, queues SupportedProfiles (with the version learnt from
 * an UnsupportedVersion, if any) and then the owed EndpointDisconnects, and
 * moves to OPEN. Associations are kept. Call it on every (re)connection.
 * Errors: PERC_ERR_STATE (from an event callback), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_md_reset_connection(perc_tunnel_md *md);

/* The tunnel connection ended (closed, failed, lost): drops the buffers and
 * moves to DOWN. Associations are kept. Errors: PERC_ERR_STATE (from an
 * event callback). */
PERC_MUST_CHECK int perc_tunnel_md_connection_down(perc_tunnel_md *md);

/* Feeds stream bytes from the Key Distributor; whole messages are handled
 * at once and reported through the callback. Errors (all but the first two
 * leave the object FAILED; the caller closes the connection):
 *   PERC_ERR_STATE        DOWN, or called from a callback
 *   PERC_ERR_INVALID_ARG  NULL data with len > 0
 *   PERC_ERR_BAD_VERSION  UnsupportedVersion received (RFC 9185 §5.5).
 *                         perc_tunnel_md_version() tells what the next
 *                         connection will announce; if it did not go down,
 *                         there is no common version with that KD
 *   PERC_ERR_TRUNCATED, PERC_ERR_TRAILING, PERC_ERR_MALFORMED
 *                         a message of a known type that does not decode
 *   PERC_ERR_UNSUPPORTED  a SupportedProfiles: only a Media Distributor
 *                         sends it, so the peer is not a Key Distributor
 *                         speaking this protocol
 * Once FAILED, every later recv returns the error that failed it, until
 * reset_connection or connection_down. Messages before the bad one have
 * been handled. */
PERC_MUST_CHECK int perc_tunnel_md_recv(perc_tunnel_md *md, const uint8_t *data, size_t len);

/* Moves up to cap octets to send into buf; *len 0 when nothing waits.
 * Errors: PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_tunnel_md_pending_send(perc_tunnel_md *md, uint8_t *buf, size_t cap,
                                                size_t *len);
size_t perc_tunnel_md_pending_len(const perc_tunnel_md *md);

/* A DTLS datagram (the UDP payload) from the endpoint `handle`: queues
 * TunneledDtls. A ClientHello from an endpoint without an association
 * starts one with a fresh UUID (stored in *association_id when that is not
 * NULL).
 * Errors (nothing is queued or created):
 *   PERC_ERR_STATE        not OPEN: no tunnel to put it in (RFC 9185 §5.2);
 *                         drop the datagram, DTLS retransmits
 *   PERC_ERR_NOT_FOUND    the endpoint has no association and the datagram
 *                         does not begin with a ClientHello: a leftover of
 *                         an association that ended (its close_notify
 *                         after the KD's EndpointDisconnect); drop it
 *   PERC_ERR_INVALID_ARG  empty datagram or NULL data
 *   PERC_ERR_TOO_LARGE    over PERC_TUNNEL_MAX_DTLS octets
 *   PERC_ERR_LIMIT        max_associations reached, or the send queue full
 *   PERC_ERR_RANDOM       the random callback failed
 *   PERC_ERR_NOMEM */
PERC_MUST_CHECK int perc_tunnel_md_dtls_from_endpoint(perc_tunnel_md *md, uint64_t handle,
                                                      const uint8_t *data, size_t len,
                                                      perc_uuid *association_id);

/* The endpoint `handle` is gone (media timeout, conference control): the
 * mapping is removed and EndpointDisconnect queued (RFC 9185 §5.3), or owed
 * to the next connection when none is open. Errors: PERC_ERR_NOT_FOUND (no
 * association for handle), PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_md_endpoint_gone(perc_tunnel_md *md, uint64_t handle);

perc_tunnel_md_state perc_tunnel_md_get_state(const perc_tunnel_md *md);
/* The error that made the connection FAILED; PERC_OK otherwise. */
int perc_tunnel_md_failure(const perc_tunnel_md *md);
/* The version the current connection announced, or the next one will
 * after an UnsupportedVersion. */
uint8_t perc_tunnel_md_version(const perc_tunnel_md *md);

/* Lookups. Errors: PERC_ERR_NOT_FOUND. */
PERC_MUST_CHECK int perc_tunnel_md_association_of(const perc_tunnel_md *md, uint64_t handle,
                                                  perc_uuid *out);
PERC_MUST_CHECK int perc_tunnel_md_handle_of(const perc_tunnel_md *md, const perc_uuid *id,
                                             uint64_t *out);
size_t perc_tunnel_md_association_count(const perc_tunnel_md *md);

#endif
