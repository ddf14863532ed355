/* WebSocket server and client on libwebsockets, running on the daemon's
 * GLib main loop: perc-signaling's server, and the signaling clients in
 * perc-endpoint, perc-kmf and perc-mdd.
 *
 * One perc_ws_context per process owns the lws_context, created with
 * LWS_SERVER_OPTION_GLIB and the daemon's GMainLoop as its foreign loop,
 * so lws, libnice and our own sources share one loop. Each server and each
 * client is its own lws vhost inside it (TLS files, protocol name). A
 * server's listening socket is our own (GLib): lws 4.1 would release one
 * of its own only lazily after the vhost is destroyed, which keeps the port
 * busy and accepting; each accepted socket is adopted into the vhost
 * (lws_adopt_socket_vhost), where lws runs HTTP, the upgrade and TLS.
 *
 * Messages are text (JSON): sent and received whole. Outgoing messages wait
 * in a per-connection queue and are written only when lws says the socket
 * is writable, in fragments of at most rx_chunk bytes with LWS_PRE headroom
 * (the lws rules). Incoming fragments are reassembled; a message beyond
 * max_message closes the connection with 1009 (message too big), a binary
 * message with 1003, invalid UTF-8 with 1007 (lws validates).
 *
 * A server also answers plain HTTP GET requests on the same port through
 * an optional hook (status page, /metrics); without a hook, 404.
 *
 * Callbacks come from the main loop only, never from inside a call you
 * made. The user pointer given at creation comes back in each. They may
 * send, close, and free the server or client (which ends its callbacks).
 * Nothing here logs message contents.
 */
#ifndef PERC_DAEMON_WS_H
#define PERC_DAEMON_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc_daemon/addr.h"

/* WebSocket close codes (RFC 6455 §7.4.1) the callbacks report. */
#define PERC_WS_CLOSE_NORMAL 1000
#define PERC_WS_CLOSE_GOING_AWAY 1001
#define PERC_WS_CLOSE_PROTOCOL_ERROR 1002
#define PERC_WS_CLOSE_UNSUPPORTED_DATA 1003
#define PERC_WS_CLOSE_NO_STATUS 1005
#define PERC_WS_CLOSE_ABNORMAL 1006 /* no close frame: connection lost or refused */
#define PERC_WS_CLOSE_INVALID_PAYLOAD 1007
#define PERC_WS_CLOSE_POLICY 1008
#define PERC_WS_CLOSE_TOO_BIG 1009

#define PERC_WS_DEFAULT_MAX_MESSAGE ((size_t)1 << 20)
#define PERC_WS_DEFAULT_MAX_SEND_QUEUE ((size_t)16 << 20)
#define PERC_WS_DEFAULT_RX_CHUNK ((size_t)16384)

typedef struct perc_ws_context perc_ws_context;
typedef struct perc_ws_server perc_ws_server;
typedef struct perc_ws_client perc_ws_client;

/* ---- context --------------------------------------------------------------- */

/* The process's lws context on `loop` (which must outlive it). Also routes
 * lws's own log lines into perc_log (errors and warnings as warn, notices
 * as debug). Errors: PERC_DAEMON_ERROR_WS. */
G_GNUC_WARN_UNUSED_RESULT perc_ws_context *perc_ws_context_new(GMainLoop *loop, GError **error);

/* Destroys the lws context; servers and clients not yet freed are freed
 * with it (silently) and their pointers become invalid. NULL is fine. */
void perc_ws_context_free(perc_ws_context *ctx);

/* ---- server ---------------------------------------------------------------- */

typedef struct perc_ws_http_response {
    unsigned status;          /* the hook sets it; 0 (left alone) answers 404 */
    char *content_type;       /* g_malloc'd, taken; NULL: text/plain; charset=utf-8 */
    char *body;               /* g_malloc'd, taken; may be NULL for no body */
    size_t body_len;
} perc_ws_http_response;

typedef struct perc_ws_server_callbacks {
    /* A WebSocket connection was accepted; `conn` identifies it (never 0,
     * never reused by this server); `peer` is the client's IP. */
    void (*open)(void *user, perc_ws_server *srv, uint64_t conn, const char *peer);
    /* One complete text message (NUL-terminated for convenience; len
     * excludes the NUL). */
    void (*message)(void *user, perc_ws_server *srv, uint64_t conn, const char *text,
                    size_t len);
    /* The connection is gone: `code` is the close code the peer sent, or
     * the one we sent if we closed, or 1006 when none was exchanged. */
    void (*close)(void *user, perc_ws_server *srv, uint64_t conn, int code, const char *reason);
    /* Optional: plain HTTP GET of `path` (without the query string). Fill
     * resp; perc_ws frees what it holds. NULL: every GET answers 404. */
    void (*http)(void *user, perc_ws_server *srv, const char *path, perc_ws_http_response *resp);
} perc_ws_server_callbacks;

typedef struct perc_ws_server_options {
    perc_hostport listen;       /* address (a name is resolved at start) and port; 0: any */
    const char *subprotocol;    /* e.g. "perc-signaling-v1"; required */
    size_t max_message;         /* 0: PERC_WS_DEFAULT_MAX_MESSAGE */
    size_t max_send_queue;      /* bytes per connection; 0: PERC_WS_DEFAULT_MAX_SEND_QUEUE */
    size_t rx_chunk;            /* lws rx buffer and our tx fragment; 0: default */
    const char *cert_file;      /* both set: wss:// and https:// (PEM files) */
    const char *key_file;
} perc_ws_server_options;

/* Starts listening. Errors: PERC_DAEMON_ERROR_INVALID (no subprotocol,
 * only one of cert/key), G_RESOLVER_ERROR, G_IO_ERROR (e.g.
 * G_IO_ERROR_ADDRESS_IN_USE) prefixed with "websocket server: listen
 * <addr>: ", PERC_DAEMON_ERROR_WS (lws could not create the vhost, e.g.
 * unreadable or mismatched TLS files). */
G_GNUC_WARN_UNUSED_RESULT perc_ws_server *perc_ws_server_new(
    perc_ws_context *ctx, const perc_ws_server_options *opts,
    const perc_ws_server_callbacks *cbs, void *user, GError **error);

/* The port listened on. */
uint16_t perc_ws_server_port(const perc_ws_server *srv);

/* Copies the value of request header `name` (case-insensitive, without
 * ':') of the connection being opened into buf (NUL-terminated). Only
 * valid inside the `open` callback, for that connection: lws keeps request
 * headers only until the upgrade completes. FALSE when absent, too long
 * for cap, or called elsewhere. Never log what it returns for
 * credentials. */
gboolean perc_ws_server_header(perc_ws_server *srv, uint64_t conn, const char *name, char *buf,
                               size_t cap);

/* Open connections. */
size_t perc_ws_server_conn_count(const perc_ws_server *srv);

/* Queues one text message for `conn`. Errors: PERC_DAEMON_ERROR_STATE (no
 * such connection, or it is closing), PERC_DAEMON_ERROR_LIMIT (the queue
 * would exceed max_send_queue; nothing was queued). */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_ws_server_send(perc_ws_server *srv, uint64_t conn,
                                                       const char *text, size_t len,
                                                       GError **error);

/* Sends what is queued, then a close frame with code and reason (at most
 * 123 bytes are sent); `close` follows. FALSE if there is no such
 * connection. */
gboolean perc_ws_server_close(perc_ws_server *srv, uint64_t conn, int code, const char *reason);

/* Stops listening (the port is free when this returns) and drops every
 * connection, firing no callbacks. NULL is fine. */
void perc_ws_server_free(perc_ws_server *srv);

/* ---- client ---------------------------------------------------------------- */

typedef struct perc_ws_client_callbacks {
    void (*open)(void *user, perc_ws_client *cli);
    void (*message)(void *user, perc_ws_client *cli, const char *text, size_t len);
    /* The connection (or the attempt) ended; a reconnect follows after the
     * backoff delay. */
    void (*close)(void *user, perc_ws_client *cli, int code, const char *reason);
} perc_ws_client_callbacks;

typedef struct perc_ws_client_options {
    const char *url;            /* ws://host[:port][/path] or wss://...; [v6] hosts */
    const char *subprotocol;    /* required */
    /* Optional extra request header, e.g. "Authorization" and "Bearer ...".
     * Sent as given, never logged. */
    const char *header_name;
    const char *header_value;
    const char *ca_file;        /* wss: trust anchors (PEM); NULL: the system store */
    size_t max_message;         /* 0: default */
    size_t max_send_queue;      /* 0: default */
    size_t rx_chunk;            /* 0: default */
    uint32_t backoff_initial_ms; /* 0: 500 */
    uint32_t backoff_max_ms;     /* 0: 30000 */
} perc_ws_client_options;

/* Starts connecting and keeps reconnecting until freed (backoff doubling
 * from backoff_initial_ms to backoff_max_ms, reset when a connection
 * opens). Errors: PERC_DAEMON_ERROR_INVALID (bad URL or options),
 * PERC_DAEMON_ERROR_WS. */
G_GNUC_WARN_UNUSED_RESULT perc_ws_client *perc_ws_client_new(
    perc_ws_context *ctx, const perc_ws_client_options *opts,
    const perc_ws_client_callbacks *cbs, void *user, GError **error);

gboolean perc_ws_client_is_open(const perc_ws_client *cli);

/* Queues one text message. Errors: PERC_DAEMON_ERROR_STATE (not open),
 * PERC_DAEMON_ERROR_LIMIT. */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_ws_client_send(perc_ws_client *cli, const char *text,
                                                       size_t len, GError **error);

/* Stops reconnecting and drops the connection, firing no callbacks. NULL
 * is fine. */
void perc_ws_client_free(perc_ws_client *cli);

/* Splits a ws:// or wss:// URL (exposed for tests). Host without brackets;
 * path defaults to "/". Errors: PERC_DAEMON_ERROR_INVALID. */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_ws_url_parse(const char *url, gboolean *tls,
                                                     perc_hostport *host, char **path,
                                                     GError **error);

#endif
