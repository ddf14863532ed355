/* A perc-signaling client (docs/signaling.md) for the daemons and the
 * endpoint: a WebSocket client (perc_daemon/ws.h) that says `hello` on every
 * (re)connection, waits for `welcome`, decodes every message with libperc's
 * codec (perc/signaling.h), answers undecodable ones with the `error` the
 * document asks for (never an error to an error), and encodes what the
 * application sends.
 *
 * The application sees:
 *   welcome  the hello was accepted (after every reconnection);
 *   message  every decoded message after the welcome, `error` included
 *            (already logged); return false for a type the role does not
 *            handle: a request then gets `forbidden`;
 *   closed   the connection ended; a reconnect follows with backoff (the
 *            application decides what the loss means for its state).
 *
 * Secrets: the hello's token is copied, never logged, and wiped on free.
 * Message contents are logged only as their type. */
#ifndef PERC_DAEMON_SIGCLIENT_H
#define PERC_DAEMON_SIGCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc/signaling.h"
#include "perc_daemon/ws.h"

typedef struct perc_sigclient perc_sigclient;

typedef struct perc_sigclient_callbacks {
    void (*welcome)(void *user, perc_sigclient *c, const char *session);
    bool (*message)(void *user, perc_sigclient *c, const perc_sig_msg *m);
    void (*closed)(void *user, perc_sigclient *c, int code, const char *reason);
} perc_sigclient_callbacks;

typedef struct perc_sigclient_options {
    const char *url;            /* ws:// or wss:// */
    const char *ca_file;        /* wss trust anchors; NULL: the system store */
    /* The hello: role and the members that role needs (docs/signaling.md
     * §3): token, name, capacity, cascade, fingerprint, conference. Copied;
     * `id` is chosen by the client. */
    const perc_sig_msg *hello;
    uint32_t backoff_initial_ms; /* 0: 250 */
    uint32_t backoff_max_ms;     /* 0: 10000 */
} perc_sigclient_options;

/* Starts connecting. Errors: PERC_DAEMON_ERROR_INVALID (no hello, bad URL),
 * PERC_DAEMON_ERROR_WS. */
G_GNUC_WARN_UNUSED_RESULT perc_sigclient *perc_sigclient_new(perc_ws_context *ctx,
                                                            const perc_sigclient_options *opts,
                                                            const perc_sigclient_callbacks *cbs,
                                                            void *user, GError **error);
/* Stops (no callbacks) and wipes the token. NULL is fine. */
void perc_sigclient_free(perc_sigclient *c);

bool perc_sigclient_is_welcomed(const perc_sigclient *c);

/* Encodes and sends. FALSE (logged at warn with the type and the reason)
 * when it does not encode, when not connected, or the queue is full. */
bool perc_sigclient_send(perc_sigclient *c, const perc_sig_msg *m);

/* Sends `error` (re and field may be NULL or ""). */
bool perc_sigclient_send_error(perc_sigclient *c, const char *re, perc_sig_code code,
                               const char *reason, const char *field);

/* A fresh request id ("<prefix>-<n>") into buf. */
const char *perc_sigclient_next_id(perc_sigclient *c, const char *prefix, char *buf, size_t cap);

#endif
