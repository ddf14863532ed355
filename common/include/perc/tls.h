/* A sans-I/O TLS 1.3 endpoint for the Media Distributor <-> Key Distributor
 * tunnel (RFC 9185 §5.2), on OpenSSL memory BIOs.
 *
 * The tunnel MUST be mutually authenticated (RFC 9185 §5.2, §5.4), and a Key
 * Distributor must not serve DTLS for a Media Distributor it has not
 * authenticated (RFC 8871 §4.5.1). So both roles here always present a
 * certificate and always verify the peer's; there is no way to configure an
 * unauthenticated peer. Trust is one or both of:
 *   - trust anchors (a CA file, or CA certificates in memory): the peer's
 *     chain must verify to one of them;
 *   - pinned SHA-256 fingerprints of the peer's end-entity certificate (DER),
 *     the way `openssl x509 -noout -fingerprint -sha256` prints them.
 * With both configured, the peer must pass both (a pin narrows which
 * CA-issued certificate is accepted). A server always requests a client
 * certificate and fails the handshake without one.
 *
 * Two objects:
 *   perc_tls_ctx  configuration shared by every connection of one role (the
 *                 OpenSSL SSL_CTX: our certificate, key and trust). Loading
 *                 PEM files happens here, once, and is the only file access
 *                 in this module.
 *   perc_tls      one connection. It does no I/O: the caller feeds what the
 *                 socket read (perc_tls_recv), writes out what
 *                 perc_tls_pending_send gives, queues application data with
 *                 perc_tls_write and takes decrypted data from perc_tls_read.
 *
 *     perc_tls_recv(tls, in, n);              // socket bytes in
 *     while (perc_tls_read(tls, buf, cap, &got) == PERC_OK && got > 0) use(buf, got);
 *     perc_tls_pending_send(tls, out, cap, &len);   // to the socket, after EVERY call
 *
 * After every call (recv, read, write, close) there may be bytes to send:
 * handshake messages, alerts, key updates, close_notify.
 *
 * Other rules:
 *   - TLS 1.3 only; no session tickets or resumption (each connection runs
 *     the full handshake, so the peer is verified against the current trust
 *     every time).
 *   - Randomness for the handshake comes from OpenSSL's own DRBG; it is the
 *     one place in libperc where randomness is not injected by the caller.
 *   - Objects are not thread-safe; use one connection from one thread.
 *   - A perc_tls keeps its own reference to the context's configuration, so
 *     the context may be freed while connections made from it live on.
 */
#ifndef PERC_TLS_H
#define PERC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "perc/error.h"

#define PERC_TLS_FINGERPRINT_LEN 32         /* SHA-256 */
/* "AB:CD:..." form: 32 two-digit groups and 31 colons, no NUL. */
#define PERC_TLS_FINGERPRINT_TEXT_LEN (3 * PERC_TLS_FINGERPRINT_LEN - 1)

typedef enum perc_tls_role {
    PERC_TLS_CLIENT = 0,
    PERC_TLS_SERVER = 1,
} perc_tls_role;

typedef enum perc_tls_state {
    PERC_TLS_HANDSHAKING = 0,   /* nothing to read or write yet */
    /* Peer authenticated; application data flows. A TLS 1.3 client gets
     * here before the server has checked the client's certificate (the
     * client's Finished is its last handshake message): a refusal arrives
     * later as an alert, and recv/read then fail with PERC_ERR_AUTH. Data
     * written meanwhile is never delivered to a server that refuses. */
    PERC_TLS_OPEN = 1,
    PERC_TLS_FAILED = 2,        /* fatal error; perc_tls_reason() says why */
    PERC_TLS_CLOSED = 3,        /* close_notify sent or received */
} perc_tls_state;

/* Debug only: receives each NSS key log line (no newline) so that a capture
 * can be decrypted. The lines are secrets: never enable in production. */
typedef void (*perc_tls_keylog_fn)(void *user, const char *line);

/* Trust and options common to both constructors. */
typedef struct perc_tls_trust {
    /* SHA-256 fingerprints of acceptable peer end-entity certificates. */
    const uint8_t (*pins)[PERC_TLS_FINGERPRINT_LEN];
    size_t n_pins;
    /* Optional: a DNS name the peer's certificate must carry (subjectAltName,
     * or the CN when there is none), checked in either trust mode. A client
     * also sends it as SNI. NULL: not checked. */
    const char *peer_name;
    perc_tls_keylog_fn keylog;          /* NULL: off */
    void *keylog_user;
} perc_tls_trust;

/* Identity and trust as OpenSSL objects. The context takes its own
 * references; the caller keeps ownership of what it passed. */
typedef struct perc_tls_config {
    perc_tls_role role;
    X509 *cert;                         /* our end-entity certificate */
    X509 *const *chain;                 /* intermediates to send after it (not the root) */
    size_t n_chain;
    EVP_PKEY *key;                      /* the private key of cert */
    X509 *const *ca_certs;              /* trust anchors for the peer's chain */
    size_t n_ca_certs;
    perc_tls_trust trust;
} perc_tls_config;

/* Identity and trust as PEM files, as the daemons configure them. */
typedef struct perc_tls_file_config {
    perc_tls_role role;
    const char *cert_file;              /* our certificate first, then intermediates */
    const char *key_file;               /* unencrypted private key */
    const char *ca_file;                /* trust anchors; NULL: pins only */
    perc_tls_trust trust;
} perc_tls_file_config;

typedef struct perc_tls_ctx perc_tls_ctx;
typedef struct perc_tls perc_tls;

/* Builds a context from objects. Errors:
 *   PERC_ERR_INVALID_ARG  no cert or key, a key that does not match the
 *                         certificate, an unknown role, or no trust at all
 *                         (neither CA certificates nor pins: RFC 9185 §5.2
 *                         admits no unauthenticated peer)
 *   PERC_ERR_NOMEM, PERC_ERR_CRYPTO  OpenSSL failed */
PERC_MUST_CHECK int perc_tls_ctx_new(const perc_tls_config *cfg, perc_tls_ctx **out);

/* Builds a context from PEM files. Errors as perc_tls_ctx_new, and
 *   PERC_ERR_NOT_FOUND    a file could not be opened
 *   PERC_ERR_MALFORMED    a file holds no usable PEM certificate or key */
PERC_MUST_CHECK int perc_tls_ctx_new_from_files(const perc_tls_file_config *cfg,
                                                perc_tls_ctx **out);

/* NULL is fine. Connections made from ctx stay usable. */
void perc_tls_ctx_free(perc_tls_ctx *ctx);

/* A new connection in the context's role, in PERC_TLS_HANDSHAKING. A
 * client has its ClientHello ready in perc_tls_pending_send() at once.
 * Errors: PERC_ERR_INVALID_ARG, PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_tls_new(perc_tls_ctx *ctx, perc_tls **out);

/* Wipes and frees (no close_notify: call perc_tls_close first for a clean
 * close). NULL is fine. */
void perc_tls_free(perc_tls *tls);

/* Feeds bytes read from the socket and advances the handshake. Returns
 * PERC_OK when they were taken (check perc_tls_get_state(): the handshake
 * may have completed). Application data is not returned here: call
 * perc_tls_read() until it yields nothing.
 * In PERC_TLS_CLOSED the bytes are discarded and PERC_OK returned.
 * Errors (the connection is then PERC_TLS_FAILED, with a reason, and an
 * alert may be waiting in perc_tls_pending_send(); every later recv, read
 * and write returns the same error):
 *   PERC_ERR_AUTH         authentication failed: the peer's certificate is
 *                         missing, not trusted, not pinned or does not carry
 *                         peer_name, or the peer rejected ours with an alert
 *   PERC_ERR_UNSUPPORTED  no TLS 1.3 in common
 *   PERC_ERR_MALFORMED    anything else the TLS layer refused: bytes that are
 *                         not TLS, a protocol violation, another fatal alert
 *   PERC_ERR_NOMEM, PERC_ERR_CRYPTO  OpenSSL failed
 *   PERC_ERR_INVALID_ARG  NULL data with len > 0 (state unchanged) */
PERC_MUST_CHECK int perc_tls_recv(perc_tls *tls, const uint8_t *data, size_t len);

/* Copies up to cap bytes the socket should carry and removes them from the
 * queue; *len is 0 when there is nothing. Works in every state (an alert
 * or close_notify may be waiting after a failure or close).
 * Errors: PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_tls_pending_send(perc_tls *tls, uint8_t *buf, size_t cap, size_t *len);

/* Octets waiting for perc_tls_pending_send(). */
size_t perc_tls_pending_len(const perc_tls *tls);

/* Encrypts application data; the records appear in perc_tls_pending_send().
 * Any length is taken whole (large writes become several records).
 * Errors: PERC_ERR_STATE (not PERC_TLS_OPEN), the stored error when FAILED,
 * PERC_ERR_INVALID_ARG, PERC_ERR_NOMEM, PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_tls_write(perc_tls *tls, const uint8_t *data, size_t len);

/* Copies up to cap decrypted application bytes into buf; *len is 0 when
 * none are waiting (also in HANDSHAKING and CLOSED). Reading may process a
 * close_notify (state becomes CLOSED, our close_notify is queued) or a
 * fatal alert (errors as perc_tls_recv). */
PERC_MUST_CHECK int perc_tls_read(perc_tls *tls, uint8_t *buf, size_t cap, size_t *len);

/* Sends close_notify (queued in perc_tls_pending_send) and moves to
 * PERC_TLS_CLOSED. During the handshake it just closes; in FAILED or CLOSED
 * it does nothing. Always PERC_OK for a valid object. */
PERC_MUST_CHECK int perc_tls_close(perc_tls *tls);

/* Tells the connection that the transport ended (the socket read EOF). Open
 * or handshaking without a close_notify from the peer becomes FAILED with
 * PERC_ERR_TRUNCATED (returned) and a reason; otherwise PERC_OK. */
PERC_MUST_CHECK int perc_tls_recv_eof(perc_tls *tls);

perc_tls_state perc_tls_get_state(const perc_tls *tls);
perc_tls_role perc_tls_get_role(const perc_tls *tls);

/* Why the connection failed or closed, e.g. "peer certificate fingerprint not
 * pinned"; "" while handshaking or open. Never NULL; no secrets. Valid until
 * the next call on tls. */
const char *perc_tls_reason(const perc_tls *tls);

/* The SHA-256 fingerprint of the peer's end-entity certificate, known once
 * the peer sent it (even if it was then refused, so it can be logged). It
 * identifies an authenticated peer only in PERC_TLS_OPEN.
 * Errors: PERC_ERR_NOT_FOUND (no certificate received yet). */
PERC_MUST_CHECK int perc_tls_peer_fingerprint(const perc_tls *tls,
                                              uint8_t out[PERC_TLS_FINGERPRINT_LEN]);

/* SHA-256 over the DER encoding of cert. Errors: PERC_ERR_INVALID_ARG,
 * PERC_ERR_CRYPTO. */
PERC_MUST_CHECK int perc_tls_cert_fingerprint(X509 *cert, uint8_t out[PERC_TLS_FINGERPRINT_LEN]);

/* Parses a fingerprint as 64 hex digits, optionally with a colon between
 * each pair (the openssl form); either case. Errors: PERC_ERR_MALFORMED. */
PERC_MUST_CHECK int perc_tls_fingerprint_parse(const char *text, size_t len,
                                               uint8_t out[PERC_TLS_FINGERPRINT_LEN]);

/* Writes the uppercase colon form and a NUL. Errors: PERC_ERR_NOSPACE
 * (cap < PERC_TLS_FINGERPRINT_TEXT_LEN + 1). */
PERC_MUST_CHECK int perc_tls_fingerprint_format(const uint8_t fp[PERC_TLS_FINGERPRINT_LEN],
                                                char *out, size_t cap);

#endif
