/* perc-signaling's internals: the daemon state shared by main.c (options),
 * server.c (WebSocket server driving the focus) and status.c (status page,
 * status.json and /metrics). */
#ifndef PERC_SIGD_H
#define PERC_SIGD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc/focus.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/ws.h"

#define SIGD_SUBPROTOCOL "perc-signaling.v1"

typedef struct sigd {
    GMainLoop *loop;
    perc_ws_context *ws;
    perc_ws_server *srv;
    perc_focus *focus;
    perc_deadline_timer *timer;
    size_t max_message;          /* our limit (<= PERC_SIG_MAX_MESSAGE) */
    uint64_t started_ns;
    uint64_t too_large;          /* messages refused by our own size limit */
    uint64_t ws_refused;         /* connections refused (connection limit) */
} sigd;

/* server.c */
gboolean sigd_server_start(sigd *d, const perc_ws_server_options *opts, GError **error);
void sigd_server_stop(sigd *d);

/* status.c: the HTTP hook of the WebSocket server. */
void sigd_http(void *user, perc_ws_server *srv, const char *path, perc_ws_http_response *resp);

#endif
