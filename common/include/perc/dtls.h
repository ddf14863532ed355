/* DTLS 1.2 for DTLS-SRTP with EKT, sans I/O: the association between an
 * endpoint (client) and the Key Distributor (server) that yields the double
 * SRTP keys (RFC 5764, RFC 8723 §10.1) and carries EKTKeys (RFC 8870 §5).
 *
 * OpenSSL 3.0 runs the handshake on memory BIOs. What it cannot do is added
 * around it (see ../shared/design/DTLS-EKT.md):
 *   - the double profiles 0x0009 and 0x000A are put into OpenSSL's own
 *     use_srtp list, which it encodes, matches and echoes generically;
 *   - supported_ekt_ciphers (39, RFC 8870 §5.2.1) and external_session_id
 *     (56, RFC 8844) are custom extensions;
 *   - the EKTKey handshake message (type 26, RFC 8870 §5.2.2) and the ACK
 *     that answers it (content type 26, RFC 9147 §7) are records we seal and
 *     open ourselves with the association's epoch-1 AES-GCM keys. Incoming
 *     datagrams pass an interceptor before OpenSSL sees them; outgoing ones
 *     take a record sequence number from OpenSSL ("seq steal"), so no
 *     AES-GCM nonce is used twice and the peer's replay window only moves
 *     forward.
 *
 * Only DTLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 is offered or accepted
 * (the record shim builds AES-128-GCM records with the SHA-256 PRF). Session
 * resumption, tickets and renegotiation are off: every association runs a
 * full handshake, so every peer presents a certificate.
 *
 * Certificates: both sides require one from the peer and do not verify
 * chains (DTLS-SRTP identities are self-signed and pinned by the SHA-256
 * fingerprint carried in SDP, RFC 8122). The peer's fingerprint is exposed;
 * an expected one can be configured (checked in constant time while the
 * handshake runs); a callback can authorize the peer from its fingerprint and
 * external_session_id before any key exists.
 *
 * Time is the caller's monotonic clock in nanoseconds. Two timers are behind
 * perc_dtls_next_timeout():
 *   - our EKTKey retransmission timer (RFC 6347 §4.2.4: 1 s, doubling, at
 *     most 60 s; configurable) runs purely on the caller's clock;
 *   - OpenSSL's handshake retransmission timer is the one exception to the
 *     sans-I/O rule: OpenSSL reads the wall clock itself. Its remaining time
 *     (DTLSv1_get_timeout) is turned into a deadline on the caller's clock
 *     each time the object is driven; when the caller's clock reaches it,
 *     perc_dtls_on_timeout() calls DTLSv1_handle_timeout(), which
 *     retransmits only if OpenSSL's own clock agrees that the time is up.
 *     On a virtual clock the handshake therefore does not retransmit before
 *     real time has passed.
 * Randomness: handshakes, key generation and certificate serials use
 * OpenSSL's internal RNG; libperc has no other source for them.
 *
 * Events are reported through callbacks (perc_dtls_callbacks). Every
 * callback except `authorize` runs at a point where no OpenSSL call is in
 * progress and may call any perc_dtls function on the object, except
 * perc_dtls_free(), perc_dtls_recv() and perc_dtls_on_timeout().
 *
 * Secrets (exported keying material, record keys, EKTKeys) are wiped when
 * no longer needed, on failure and on close, and never logged. The keylog
 * callback, opt-in, hands NSS key-log lines (secrets!) to the caller for
 * debugging with Wireshark.
 *
 * Not thread-safe: one association is used by one thread at a time. A
 * perc_dtls_ctx may be shared by the associations of one thread.
 */
#ifndef PERC_DTLS_H
#define PERC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "perc/double_endpoint.h"
#include "perc/ekt.h"
#include "perc/error.h"

/* ---- identities and fingerprints ---------------------------------------- */

#define PERC_DTLS_FINGERPRINT_LEN 32        /* SHA-256 of the DER certificate */
/* "AB:CD:...:EF": 32 pairs, 31 colons, and the NUL. */
#define PERC_DTLS_FINGERPRINT_TEXT_LEN (3 * PERC_DTLS_FINGERPRINT_LEN)

/* A fresh ECDSA P-256 key and a self-signed certificate for it (SHA-256
 * signature, CN = common_name or "perc-dtls" when NULL, a random 128-bit
 * serial, valid from 2000-01-01 to 9999-12-31: nobody checks dates on a
 * pinned identity, and fixed dates keep the clock out). For tests and for
 * endpoints without a persistent identity. The caller owns both results
 * (X509_free, EVP_PKEY_free). Errors: PERC_ERR_INVALID_ARG (NULL outputs,
 * common name over 64 characters), PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_identity_generate(const char *common_name, X509 **cert,
                                                EVP_PKEY **key);

/* SHA-256 over the DER encoding (RFC 8122 §5). Errors:
 * PERC_ERR_INVALID_ARG, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_cert_fingerprint(const X509 *cert,
                                               uint8_t out[PERC_DTLS_FINGERPRINT_LEN]);

/* The SDP a=fingerprint form: uppercase hex pairs separated by colons, NUL
 * terminated (95 characters). Errors: PERC_ERR_INVALID_ARG (NULL),
 * PERC_ERR_NOSPACE (cap below PERC_DTLS_FINGERPRINT_TEXT_LEN). */
PERC_MUST_CHECK int perc_dtls_fingerprint_format(const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN],
                                                 char *out, size_t cap);

/* Parses exactly 32 colon-separated hex pairs, either case, nothing before
 * or after (the "sha-256 " hash name is the SDP parser's business).
 * Errors: PERC_ERR_INVALID_ARG (NULL), PERC_ERR_MALFORMED (anything else);
 * out is zeroed on failure. */
PERC_MUST_CHECK int perc_dtls_fingerprint_parse(const char *text,
                                                uint8_t out[PERC_DTLS_FINGERPRINT_LEN]);

/* ---- shared context: our identity --------------------------------------- */

typedef struct perc_dtls_ctx perc_dtls_ctx;

/* NSS key-log line (e.g. "CLIENT_RANDOM <hex> <hex>"), no newline. It
 * carries the master secret: debugging only. */
typedef void (*perc_dtls_keylog_fn)(void *user, const char *line);

typedef struct perc_dtls_ctx_config {
    X509 *cert;                 /* our certificate (a reference is taken) */
    EVP_PKEY *key;              /* its ECDSA private key (a reference is taken) */
    perc_dtls_keylog_fn keylog; /* optional; NULL = no key log at all */
    void *keylog_user;
} perc_dtls_ctx_config;

/* Errors: PERC_ERR_INVALID_ARG (NULL, key not EC, key does not match the
 * certificate), PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_ctx_new(const perc_dtls_ctx_config *cfg, perc_dtls_ctx **out);
/* Associations made from ctx keep what they need: it may be freed before
 * them. NULL is fine. */
void perc_dtls_ctx_free(perc_dtls_ctx *ctx);
/* Our certificate's fingerprint, for a=fingerprint. */
void perc_dtls_ctx_fingerprint(const perc_dtls_ctx *ctx, uint8_t out[PERC_DTLS_FINGERPRINT_LEN]);

/* ---- association configuration ------------------------------------------ */

typedef enum perc_dtls_role {
    PERC_DTLS_CLIENT = 0,       /* the endpoint */
    PERC_DTLS_SERVER = 1,       /* the Key Distributor */
} perc_dtls_role;

#define PERC_DTLS_MAX_PROFILES 4
#define PERC_DTLS_MAX_EKT_CIPHERS 8
/* RFC 8844 §4: ExternalSessionId carries opaque session_id<20..255>, one
 * length octet then the SDP tls-id value's ASCII characters. */
#define PERC_DTLS_TLS_ID_MIN 20
#define PERC_DTLS_TLS_ID_MAX 255
#define PERC_DTLS_EXT_EXTERNAL_SESSION_ID 56
#define PERC_DTLS_DEFAULT_MTU 1200
#define PERC_DTLS_MIN_MTU 256
#define PERC_DTLS_MAX_DATAGRAM 65535
#define PERC_DTLS_EKT_RTX_INITIAL_NS UINT64_C(1000000000)   /* RFC 6347 §4.2.4.1 */
#define PERC_DTLS_EKT_RTX_MAX_NS UINT64_C(60000000000)
#define PERC_DTLS_MAX_EKT_QUEUE 8

/* Server: chooses the tls-id to send back in external_session_id from the
 * client's (see perc_dtls_config.choose_tls_id). Writes 20..255 octets to
 * out (cap is PERC_DTLS_TLS_ID_MAX) and their number to *out_len, and
 * returns 0; anything else refuses the client. */
typedef int (*perc_dtls_choose_tls_id_fn)(void *user, const uint8_t *peer_tls_id, size_t peer_len,
                                          uint8_t *out, size_t cap, size_t *out_len);

/* Server: the one SRTP profile this client must get, given the tls-id it
 * sent in external_session_id (NULL, 0 when it sent none), or 0 when any
 * of ours will do (see perc_dtls_config.required_profile). */
typedef uint16_t (*perc_dtls_required_profile_fn)(void *user, const uint8_t *peer_tls_id,
                                                   size_t peer_len);

/* Server: the one EKT cipher this client must get, now that its SRTP
 * profile is chosen, or 0 when any of ours will do (see
 * perc_dtls_config.required_ekt_cipher). */
typedef uint8_t (*perc_dtls_required_ekt_cipher_fn)(void *user, uint16_t profile);

/* Fill with perc_dtls_config_init() and change what differs. */
typedef struct perc_dtls_config {
    perc_dtls_role role;
    /* use_srtp profiles in preference order (double profiles only: 0x0009,
     * 0x000A). The client offers them with an empty MKI; the server picks
     * the client's most preferred one that is also in this list. Default
     * {0x0009, 0x000A}. At least one. */
    uint16_t srtp_profiles[PERC_DTLS_MAX_PROFILES];
    size_t n_srtp_profiles;
    /* supported_ekt_ciphers: what the client offers, in preference order,
     * or what the server accepts. Default {aeskw_128, aeskw_256}. 0 = the
     * client does not send the extension / the server never answers it,
     * and no EKTKey can be exchanged. */
    uint8_t ekt_ciphers[PERC_DTLS_MAX_EKT_CIPHERS];
    size_t n_ekt_ciphers;
    /* Our tls-id (SDP a=tls-id), sent in external_session_id; 0 = not
     * sent. 20..255 octets. A server answers only a client that sent one. */
    uint8_t tls_id[PERC_DTLS_TLS_ID_MAX];
    size_t tls_id_len;
    /* Server only, optional: our tls-id depends on who the client is. A Key
     * Distributor announces one tls-id per participant through signaling
     * before the association exists, and learns which participant it is
     * talking to only from the client's external_session_id. When set, it
     * is called while the ClientHello is processed, once the client's
     * external_session_id was parsed (and matched expected_peer_tls_id, if
     * that is set), before the ServerHello is written; what it returns is
     * sent instead of tls_id. A non-zero return, or a length outside
     * 20..255, fails the handshake with an access_denied alert
     * (PERC_DTLS_REASON_UNAUTHORIZED) before any key exists. A client that
     * sends no external_session_id gets none back and the callback is not
     * called (the authorize callback then sees no tls-id). Runs inside
     * OpenSSL: it must not call any perc_dtls function. NULL = tls_id. */
    perc_dtls_choose_tls_id_fn choose_tls_id;
    void *choose_tls_id_user;
    /* Server only, optional: a Key Distributor keeps every member of a
     * conference on one profile, since a receiver drops EKT fields whose
     * key length is not its own transform's (RFC 8870 §4.3.2), so
     * members on 0x0009 and 0x000A could not hear each other. Called first
     * thing on the ClientHello; a non-zero answer narrows srtp_profiles to
     * that profile for this client, which is refused (handshake_failure,
     * PERC_DTLS_REASON_SRTP_PROFILE) when it did not offer it. Runs inside
     * OpenSSL: it must not call any perc_dtls function. NULL = no
     * narrowing. */
    perc_dtls_required_profile_fn required_profile;
    void *required_profile_user;
    /* Server only, optional: members of a conference share one EKTKey,
     * so one EKT cipher, and RFC 8870 §6 wants it at least as strong as
     * the SRTP cipher, which the profile decides. Called on the ClientHello
     * once the profile is chosen (after required_profile); a non-zero
     * answer narrows ekt_ciphers to that cipher for this client. A client
     * that did not offer it negotiates no EKT cipher (the connected
     * callback sees cipher 0). Runs inside OpenSSL: it must not call any
     * perc_dtls function. NULL = no narrowing. */
    perc_dtls_required_ekt_cipher_fn required_ekt_cipher;
    void *required_ekt_cipher_user;
    /* The peer's tls-id from its SDP; 0 = not checked. When set, the peer
     * must send external_session_id with exactly this value, else the
     * handshake fails (RFC 9185 §5.1, §5.4) and no key is ever exported. */
    uint8_t expected_peer_tls_id[PERC_DTLS_TLS_ID_MAX];
    size_t expected_peer_tls_id_len;
    /* The peer's certificate fingerprint from its SDP, when known. */
    bool check_peer_fingerprint;
    uint8_t expected_peer_fingerprint[PERC_DTLS_FINGERPRINT_LEN];
    size_t mtu;                         /* default 1200 */
    uint64_t ekt_rtx_initial_ns;        /* default 1 s */
    uint64_t ekt_rtx_max_ns;            /* default 60 s */
    /* Retransmissions of one EKTKey before the association fails with
     * PERC_DTLS_REASON_EKT_TIMEOUT; 0 (default) = until the association
     * ends (RFC 8870 §5.4 sets no limit). */
    unsigned ekt_max_retransmits;
    /* OpenSSL's first handshake retransmission timeout in milliseconds;
     * it doubles up to 60 s. 0 = OpenSSL's default (1 s); otherwise 20 to
     * 60000 (OpenSSL treats under 15 ms left as expired). Tests shorten it;
     * perc-endpoint uses 400 ms so that a flight lost on a fresh ICE path
     * costs less than a second of the join. */
    unsigned handshake_rtx_initial_ms;
} perc_dtls_config;

void perc_dtls_config_init(perc_dtls_config *cfg, perc_dtls_role role);
/* Copy a tls-id into cfg. Errors: PERC_ERR_INVALID_ARG (NULL, or length
 * outside 20..255). */
PERC_MUST_CHECK int perc_dtls_config_set_tls_id(perc_dtls_config *cfg, const uint8_t *id,
                                                size_t len);
PERC_MUST_CHECK int perc_dtls_config_expect_peer_tls_id(perc_dtls_config *cfg, const uint8_t *id,
                                                        size_t len);
void perc_dtls_config_expect_peer_fingerprint(perc_dtls_config *cfg,
                                              const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN]);

/* ---- events ------------------------------------------------------------- */

typedef enum perc_dtls_state {
    PERC_DTLS_HANDSHAKING = 0,
    PERC_DTLS_CONNECTED,        /* keys exported; EKTKeys may flow */
    PERC_DTLS_FAILED,           /* fatal error or alert; keys wiped */
    PERC_DTLS_CLOSED,           /* close_notify sent or received; keys wiped */
} perc_dtls_state;

typedef enum perc_dtls_reason {
    PERC_DTLS_REASON_NONE = 0,
    PERC_DTLS_REASON_LOCAL_CLOSE,   /* perc_dtls_close() */
    PERC_DTLS_REASON_PEER_CLOSE,    /* close_notify received */
    PERC_DTLS_REASON_PEER_ALERT,    /* fatal alert received (see alert) */
    PERC_DTLS_REASON_PROTOCOL,      /* OpenSSL failed the handshake or a record */
    PERC_DTLS_REASON_TIMEOUT,       /* handshake retransmissions exhausted */
    PERC_DTLS_REASON_FINGERPRINT,   /* peer certificate is not the expected one */
    PERC_DTLS_REASON_TLS_ID,        /* external_session_id missing, malformed or different */
    PERC_DTLS_REASON_UNAUTHORIZED,  /* the authorize callback refused the peer */
    PERC_DTLS_REASON_SRTP_PROFILE,  /* no common double profile */
    PERC_DTLS_REASON_EKT,           /* bad supported_ekt_ciphers, bad or refused EKTKey */
    PERC_DTLS_REASON_EKT_TIMEOUT,   /* EKTKey never acknowledged */
    PERC_DTLS_REASON_INTERNAL,      /* allocation or crypto backend failure */
} perc_dtls_reason;

/* Why the association ended. */
typedef struct perc_dtls_close_info {
    perc_dtls_state state;          /* FAILED or CLOSED */
    perc_dtls_reason reason;
    int alert;                      /* TLS AlertDescription sent or received; -1 = none */
    bool alert_from_peer;
    unsigned long openssl_error;    /* ERR_peek_last_error() at the failure; 0 = none */
    const char *detail;             /* static English text, never NULL */
} perc_dtls_close_info;

typedef struct perc_dtls perc_dtls;

typedef struct perc_dtls_callbacks {
    void *user;
    /* Handshake done and keys exported (perc_dtls_get_keying). ekt_cipher
     * is the negotiated supported_ekt_ciphers value, 0 when none. */
    void (*connected)(void *user, perc_dtls *d, uint16_t srtp_profile, uint8_t ekt_cipher);
    /* Client: a new EKTKey (retransmissions are reported once). The body
     * is secret and only valid during the call. Return 0 to accept it (an
     * ACK is sent); anything else refuses it: a fatal illegal_parameter
     * alert is sent and the association fails (RFC 8870 §5.2.2). NULL =
     * accept. */
    int (*ekt_key)(void *user, perc_dtls *d, const perc_ekt_key_msg *msg);
    /* Server: the client acknowledged the EKTKey with this SPI. */
    void (*ekt_key_acked)(void *user, perc_dtls *d, uint16_t spi);
    /* The association failed or was closed; called once. */
    void (*closed)(void *user, perc_dtls *d, const perc_dtls_close_info *info);
    /* Optional, both roles: called inside the handshake once the peer's
     * certificate arrived, after the configured fingerprint and tls-id
     * checks passed, with the peer's fingerprint and external_session_id
     * (NULL, 0 when it sent none). Return true to continue; false fails the
     * handshake (PERC_DTLS_REASON_UNAUTHORIZED) before any key is exported.
     * The peer receives the fatal alert OpenSSL sends for a refused
     * certificate, handshake_failure (40), not access_denied: OpenSSL gives
     * a certificate callback no way to choose the alert. Runs inside OpenSSL: it must not call any
     * perc_dtls function. */
    bool (*authorize)(void *user, const uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN],
                      const uint8_t *peer_tls_id, size_t peer_tls_id_len);
} perc_dtls_callbacks;

/* ---- the association ---------------------------------------------------- */

/* cbs may be NULL (no events) and is copied. Errors: PERC_ERR_INVALID_ARG
 * (NULL ctx/cfg/out, a profile that is not double, a duplicate or 0 EKT
 * cipher, bad tls-id lengths, mtu below PERC_DTLS_MIN_MTU, zero timers,
 * choose_tls_id on a client),
 * PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_new(perc_dtls_ctx *ctx, const perc_dtls_config *cfg,
                                  const perc_dtls_callbacks *cbs, perc_dtls **out);
/* Wipes every secret and frees. NULL is fine. Sends nothing: call
 * perc_dtls_close() and pull first for a close_notify. */
void perc_dtls_free(perc_dtls *d);

/* Client: queues the ClientHello. Server: nothing to do yet (harmless).
 * Errors: PERC_ERR_STATE (already failed or closed). */
PERC_MUST_CHECK int perc_dtls_start(perc_dtls *d, uint64_t now_ns);

/* Feeds one received datagram. EKTKey and ACK records are taken out and
 * handled here; everything else goes to OpenSSL unchanged. Events fire
 * from inside the call. Errors: PERC_ERR_INVALID_ARG (NULL, empty, over
 * PERC_DTLS_MAX_DATAGRAM), PERC_ERR_STATE (already failed or closed: the
 * datagram is ignored). A datagram that makes the association fail still
 * returns PERC_OK: watch the state or the closed event, and pull, since
 * there may be an alert to send. PERC_ERR_NOMEM / PERC_ERR_CRYPTO when the
 * datagram could not be handed to OpenSSL (the association fails). */
PERC_MUST_CHECK int perc_dtls_recv(perc_dtls *d, const uint8_t *data, size_t len,
                                   uint64_t now_ns);

/* Takes the next datagram to send, in order. *len = 0 when there is none:
 * call until then after every recv, start, on_timeout, send_ekt_key and
 * close. Errors: PERC_ERR_INVALID_ARG, PERC_ERR_NOSPACE (cap too small:
 * PERC_DTLS_MAX_DATAGRAM always suffices; the datagram stays queued). */
PERC_MUST_CHECK int perc_dtls_pull(perc_dtls *d, uint8_t *out, size_t cap, size_t *len);

/* The earliest deadline (caller's clock) at which perc_dtls_on_timeout()
 * wants to run, UINT64_MAX for none. */
uint64_t perc_dtls_next_timeout(const perc_dtls *d);

/* Runs the timers that are due at now_ns: OpenSSL's handshake
 * retransmission and our EKTKey retransmission. Calling it early is
 * harmless. Errors: PERC_ERR_STATE (failed or closed). A timeout that makes
 * the association fail returns PERC_OK; see perc_dtls_recv(). */
PERC_MUST_CHECK int perc_dtls_on_timeout(perc_dtls *d, uint64_t now_ns);

/* Sends close_notify (queued for pull), wipes the keys, state CLOSED,
 * closed event with PERC_DTLS_REASON_LOCAL_CLOSE. Errors: PERC_ERR_STATE
 * (already failed or closed). */
PERC_MUST_CHECK int perc_dtls_close(perc_dtls *d, uint64_t now_ns);

perc_dtls_state perc_dtls_get_state(const perc_dtls *d);
perc_dtls_role perc_dtls_get_role(const perc_dtls *d);
/* The negotiated profile (0x0009 / 0x000A) and EKT cipher, 0 before the
 * handshake is done or when none. */
uint16_t perc_dtls_srtp_profile(const perc_dtls *d);
uint8_t perc_dtls_ekt_cipher(const perc_dtls *d);
/* NULL while the association is alive. */
const perc_dtls_close_info *perc_dtls_get_close_info(const perc_dtls *d);

/* Copies the exported DTLS-SRTP keying material (RFC 5764 §4.2,
 * "EXTRACTOR-dtls_srtp", 112 or 176 octets) split into inner and outer
 * halves (perc_double_split_exporter). Secret: the caller wipes it with
 * perc_double_keying_wipe(). Errors: PERC_ERR_INVALID_ARG, PERC_ERR_STATE
 * (not connected: before the handshake, and after failure or close, when
 * the keys have been wiped). */
PERC_MUST_CHECK int perc_dtls_get_keying(const perc_dtls *d, perc_double_keying *out);

/* The peer certificate's fingerprint, known from the moment it arrived.
 * Errors: PERC_ERR_INVALID_ARG, PERC_ERR_NOT_FOUND (no certificate yet). */
PERC_MUST_CHECK int perc_dtls_peer_fingerprint(const perc_dtls *d,
                                               uint8_t out[PERC_DTLS_FINGERPRINT_LEN]);

/* The peer's external_session_id (the server reads the client's here for
 * its authorization check). Errors: PERC_ERR_INVALID_ARG,
 * PERC_ERR_NOT_FOUND (none received), PERC_ERR_NOSPACE (cap too small;
 * PERC_DTLS_TLS_ID_MAX always suffices). */
PERC_MUST_CHECK int perc_dtls_peer_tls_id(const perc_dtls *d, uint8_t *out, size_t cap,
                                          size_t *len);

/* ---- EKTKey (server) ---------------------------------------------------- */

/* Queues an EKTKey for the client (RFC 8870 §5.2.2) and sends it when no
 * earlier one is waiting for its ACK; it is retransmitted on our timer
 * until acknowledged (ekt_key_acked event). Later calls on the same
 * association (a re-key, with a new SPI) queue behind it. msg is copied.
 * Errors: PERC_ERR_INVALID_ARG (NULL, empty salt), PERC_ERR_STATE (not a server, not
 * connected, or no EKT cipher was negotiated: RFC 8870 §5.2.1 then forbids
 * EKTKey messages), PERC_ERR_KEY_LENGTH (key length not the negotiated
 * cipher's), PERC_ERR_TOO_LARGE (ttl over 24 bits, salt over 256 octets),
 * PERC_ERR_LIMIT (PERC_DTLS_MAX_EKT_QUEUE unacknowledged), PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_dtls_send_ekt_key(perc_dtls *d, const perc_ekt_key_msg *msg,
                                           uint64_t now_ns);

/* EKTKeys queued or in flight without an ACK yet (server). */
size_t perc_dtls_ekt_pending(const perc_dtls *d);

typedef struct perc_dtls_stats {
    uint64_t datagrams_in;
    uint64_t datagrams_out;
    uint64_t datagrams_dropped;     /* output queue overflow (caller did not pull) */
    uint64_t ekt_keys_sent;         /* server: first transmissions */
    uint64_t ekt_key_retransmits;   /* server */
    uint64_t acks_received;         /* server: ACKs that matched an EKTKey */
    uint64_t ekt_keys_received;     /* client: new EKTKeys reported */
    uint64_t ekt_key_duplicates;    /* client: retransmissions ACKed again */
    uint64_t acks_sent;             /* client */
    uint64_t records_rejected;      /* authentic EKTKey or ACK records that were malformed */
    uint64_t app_data_octets;       /* application data received (DTLS-SRTP has none): discarded */
} perc_dtls_stats;

void perc_dtls_get_stats(const perc_dtls *d, perc_dtls_stats *out);

/* "local_close", "fingerprint", ...: for logs. */
const char *perc_dtls_reason_name(perc_dtls_reason reason);

#endif
