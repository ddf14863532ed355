/* TCP connections carrying libperc's sans-I/O TLS 1.3 endpoint (perc/tls.h)
 * on the GLib main loop: the Media Distributor <-> Key Distributor tunnel
 * transport (RFC 9185 §5.2: mutually authenticated TLS).
 *
 * A server listens on HOST:PORT and runs one perc_tls per accepted
 * connection; a client connects to HOST:PORT and reconnects whenever the
 * connection ends, with exponential backoff (0.5 s doubling to 30 s by
 * default, back to 0.5 s once a handshake succeeds). Both report through
 * the same callbacks, per connection ("stream"):
 *
 *     opened  the handshake completed: the peer's certificate passed the
 *             context's trust (CA and/or pins), `fp` is its SHA-256
 *     data    decrypted application bytes, in order, in arbitrary chunks
 *     closed  the stream is over; `reason` says why ("peer certificate not
 *             trusted: ...", "peer closed the connection", "idle timeout:
 *             nothing received for 30000 ms", "connect to kd:4433: ...")
 *
 * Rules:
 *   - `closed` fires exactly once per stream, `opened` at most once before
 *     it, both from the main loop (never from inside a call you made, such
 *     as perc_tls_stream_write or perc_tls_stream_close). After `closed`
 *     returns the stream is gone: drop every pointer to it.
 *   - A client stream exists from the start of each connection attempt, so
 *     a refused TCP connect is also a stream that closes with a reason.
 *   - TLS 1.3: a client sees `opened` before the server has checked the
 *     client's certificate; if the server refuses it, the client's stream
 *     then closes with the server's alert as reason ("peer sent alert:
 *     ..."). Nothing written meanwhile reaches a refusing server.
 *   - Callbacks may write, close, and free the stream's server or client.
 *     Freeing a server or client closes its streams WITHOUT callbacks.
 *   - Writes are queued whole (TLS records in memory, then the socket as it
 *     drains: a partial write waits for the socket to become writable). The
 *     queue is bounded by max_send_buffer.
 *   - Nothing here logs application data, key material or key log lines.
 *   - The perc_tls_ctx must outlive the server or client using it.
 */
#ifndef PERC_DAEMON_TLS_STREAM_H
#define PERC_DAEMON_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "perc/tls.h"
#include "perc_daemon/addr.h"

typedef struct perc_tls_stream perc_tls_stream;
typedef struct perc_tls_server perc_tls_server;
typedef struct perc_tls_client perc_tls_client;

typedef struct perc_tls_stream_callbacks {
    void (*opened)(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN]);
    void (*data)(void *user, perc_tls_stream *s, const uint8_t *data, size_t len);
    void (*closed)(void *user, perc_tls_stream *s, const char *reason);
} perc_tls_stream_callbacks;

typedef struct perc_tls_stream_options {
    /* Drop a peer from which nothing arrived for this long (any bytes count,
     * including TLS records with no application data). 0: never. */
    uint32_t idle_timeout_ms;
    /* TCP connect plus TLS handshake must finish within this. */
    uint32_t handshake_timeout_ms;
    /* Bytes queued for the socket (encrypted and not yet written) beyond
     * which perc_tls_stream_write refuses. */
    size_t max_send_buffer;
    /* After perc_tls_stream_close, how long to wait for close_notify and
     * queued data to drain before dropping the socket. */
    uint32_t close_linger_ms;
    /* Client reconnect delays: first retry after backoff_initial_ms, doubling
     * up to backoff_max_ms; reset by a completed handshake. */
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
} perc_tls_stream_options;

#define PERC_TLS_STREAM_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define PERC_TLS_STREAM_DEFAULT_MAX_SEND_BUFFER ((size_t)16 << 20)
#define PERC_TLS_STREAM_DEFAULT_CLOSE_LINGER_MS 2000u
#define PERC_TLS_STREAM_DEFAULT_BACKOFF_INITIAL_MS 500u
#define PERC_TLS_STREAM_DEFAULT_BACKOFF_MAX_MS 30000u

/* The defaults above, no idle timeout. */
void perc_tls_stream_options_init(perc_tls_stream_options *opts);

/* ---- server -------------------------------------------------------------- */

/* Listens on `listen` (port 0: any free port) and accepts on `ctx` (NULL:
 * default context). tls_ctx must be a PERC_TLS_SERVER context. opts NULL:
 * defaults; cbs is copied. Errors: PERC_DAEMON_ERROR_INVALID (client
 * context, zero timeouts), G_IO_ERROR prefixed with "listen <addr>: ",
 * G_RESOLVER_ERROR. */
G_GNUC_WARN_UNUSED_RESULT perc_tls_server *perc_tls_server_new(
    GMainContext *ctx, perc_tls_ctx *tls_ctx, const perc_hostport *listen,
    const perc_tls_stream_options *opts, const perc_tls_stream_callbacks *cbs, void *user,
    GError **error);

/* The port listened on (the actual one when 0 was asked for). */
uint16_t perc_tls_server_port(const perc_tls_server *srv);

/* Streams accepted and not yet closed. */
size_t perc_tls_server_stream_count(const perc_tls_server *srv);

/* Stops listening and drops every stream (close_notify is attempted once,
 * without waiting), firing no callbacks. NULL is fine. */
void perc_tls_server_free(perc_tls_server *srv);

/* ---- client -------------------------------------------------------------- */

/* Starts connecting to `peer` (a name is resolved asynchronously, every
 * address tried) and keeps a connection up until freed. tls_ctx must be a
 * PERC_TLS_CLIENT context. Errors: PERC_DAEMON_ERROR_INVALID. */
G_GNUC_WARN_UNUSED_RESULT perc_tls_client *perc_tls_client_new(
    GMainContext *ctx, perc_tls_ctx *tls_ctx, const perc_hostport *peer,
    const perc_tls_stream_options *opts, const perc_tls_stream_callbacks *cbs, void *user,
    GError **error);

/* The current stream once opened (handshake done), else NULL. */
perc_tls_stream *perc_tls_client_stream(perc_tls_client *cli);

/* The delay before the next reconnect attempt (for logs and tests). */
uint32_t perc_tls_client_backoff_ms(const perc_tls_client *cli);

/* Stops reconnecting and drops the current stream without callbacks. NULL
 * is fine. */
void perc_tls_client_free(perc_tls_client *cli);

/* ---- streams ------------------------------------------------------------- */

/* Encrypts and queues application data; it goes out as the socket allows.
 * Errors: PERC_DAEMON_ERROR_STATE (not open: handshaking, closing or
 * closed), PERC_DAEMON_ERROR_LIMIT (the queue would exceed max_send_buffer;
 * nothing was queued), PERC_DAEMON_ERROR_TLS (the TLS layer failed: the
 * stream closes). A socket error found while sending closes the stream
 * later, through `closed`. */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_tls_stream_write(perc_tls_stream *s, const uint8_t *data,
                                                         size_t len, GError **error);

/* Sends close_notify after what is queued and closes; `closed` follows
 * with reason "closed locally". No more `data` callbacks. Idempotent. On a
 * client's stream the client then reconnects as after any other end (free
 * the client to stop it). */
void perc_tls_stream_close(perc_tls_stream *s);

gboolean perc_tls_stream_is_open(const perc_tls_stream *s);

/* Encrypted bytes waiting for the socket. */
size_t perc_tls_stream_queued(const perc_tls_stream *s);

/* The peer's address "ip:port" ("[ip]:port" for IPv6); the target given to
 * the client while still connecting. */
const char *perc_tls_stream_peer(const perc_tls_stream *s);

/* The peer certificate fingerprint; FALSE before `opened`. */
gboolean perc_tls_stream_fingerprint(const perc_tls_stream *s,
                                     uint8_t out[PERC_TLS_FINGERPRINT_LEN]);

/* Which role this stream has. */
gboolean perc_tls_stream_is_client(const perc_tls_stream *s);

/* A pointer the application attaches to a stream (its session state). */
void perc_tls_stream_set_data(perc_tls_stream *s, void *data);
void *perc_tls_stream_get_data(const perc_tls_stream *s);

#endif
