/* The WebSocket side of perc-signaling: every connection event goes into
 * the focus, everything the focus queues comes out (SEND -> a text message
 * on that connection, CLOSE -> a close frame), and the one deadline timer
 * is re-armed from perc_focus_next_timeout() after every event. */
#include <string.h>

#include "perc/signaling.h"
#include "perc_daemon/log.h"
#include "sigd.h"

static void rearm(sigd *d)
{
    perc_deadline_timer_arm(d->timer, perc_focus_next_timeout(d->focus));
}

/* Sends what the focus queued. */
static void pump(sigd *d)
{
    perc_focus_output o;
    while (perc_focus_pop(d->focus, &o) == PERC_OK) {
        if (o.kind == PERC_FOCUS_OUT_SEND) {
            GError *err = NULL;
            if (!perc_ws_server_send(d->srv, o.conn, o.text, o.len, &err)) {
                perc_log_warn("conn %" G_GUINT64_FORMAT ": cannot send %s: %s; closing it",
                              o.conn, perc_sig_type_name(o.type), err->message);
                g_clear_error(&err);
                (void)perc_ws_server_close(d->srv, o.conn, PERC_WS_CLOSE_POLICY,
                                           "send queue full");
            }
        } else {
            perc_log_debug("conn %" G_GUINT64_FORMAT ": closed by the focus", o.conn);
            (void)perc_ws_server_close(d->srv, o.conn, PERC_WS_CLOSE_POLICY,
                                       "closed by perc-signaling (see the error message)");
        }
    }
    rearm(d);
}

static void on_open(void *user, perc_ws_server *srv, uint64_t conn, const char *peer)
{
    sigd *d = user;
    int rc = perc_focus_open(d->focus, conn, perc_clock_now_ns());
    if (rc == PERC_ERR_LIMIT) {
        d->ws_refused++;
        perc_log_warn("conn %" G_GUINT64_FORMAT " from %s refused: too many connections", conn,
                      peer);
        (void)perc_ws_server_close(srv, conn, 1013, "too many connections");
        return;
    }
    if (rc != PERC_OK) {
        perc_log_error("conn %" G_GUINT64_FORMAT " from %s: focus refused it (%d)", conn, peer,
                       rc);
        (void)perc_ws_server_close(srv, conn, 1011, "internal error");
        return;
    }
    perc_log_info("conn %" G_GUINT64_FORMAT " from %s opened", conn, peer);
    pump(d);
}

/* Our own size limit (below the protocol's 65536 when configured so): the
 * focus only knows the protocol's. */
static void refuse_too_large(sigd *d, uint64_t conn, size_t len)
{
    d->too_large++;
    perc_log_warn("conn %" G_GUINT64_FORMAT ": message of %zu bytes over the limit of %zu; "
                  "closing",
                  conn, len, d->max_message);
    char reason[128];
    g_snprintf(reason, sizeof reason, "message of %zu bytes is over the limit of %zu bytes", len,
               d->max_message);
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ERROR;
    m.code = PERC_SIG_E_TOO_LARGE;
    m.reason = reason;
    char out[512];
    size_t n = 0;
    if (perc_sig_encode(&m, out, sizeof out, &n, NULL) == PERC_OK &&
        !perc_ws_server_send(d->srv, conn, out, n, NULL))
        perc_log_debug("conn %" G_GUINT64_FORMAT ": too-large error not sent", conn);
    (void)perc_ws_server_close(d->srv, conn, PERC_WS_CLOSE_TOO_BIG, "message too big");
    if (perc_focus_closed(d->focus, conn, perc_clock_now_ns()) == PERC_OK)
        pump(d);
}

static void on_message(void *user, perc_ws_server *srv, uint64_t conn, const char *text,
                       size_t len)
{
    (void)srv;
    sigd *d = user;
    if (len > d->max_message) {
        refuse_too_large(d, conn, len);
        return;
    }
    int rc = perc_focus_recv(d->focus, conn, text, len, perc_clock_now_ns());
    if (rc == PERC_ERR_NOMEM) {
        perc_log_error("conn %" G_GUINT64_FORMAT ": out of memory handling a message; closing",
                       conn);
        (void)perc_ws_server_close(d->srv, conn, 1011, "internal error");
    } else if (rc != PERC_OK && rc != PERC_ERR_NOT_FOUND) {
        perc_log_warn("conn %" G_GUINT64_FORMAT ": focus: %d", conn, rc);
    }
    pump(d);
}

static void on_close(void *user, perc_ws_server *srv, uint64_t conn, int code, const char *reason)
{
    (void)srv;
    sigd *d = user;
    perc_log_info("conn %" G_GUINT64_FORMAT " closed (%d%s%s)", conn, code, reason[0] ? " " : "",
                  reason);
    int rc = perc_focus_closed(d->focus, conn, perc_clock_now_ns());
    if (rc != PERC_OK && rc != PERC_ERR_NOT_FOUND)
        perc_log_warn("conn %" G_GUINT64_FORMAT ": focus: %d", conn, rc);
    pump(d);
}

static void on_deadline(void *user, uint64_t now)
{
    sigd *d = user;
    if (perc_focus_on_timeout(d->focus, now) != PERC_OK)
        perc_log_error("focus timers: out of memory");
    pump(d);
}

static const perc_ws_server_callbacks callbacks = {on_open, on_message, on_close, sigd_http};

gboolean sigd_server_start(sigd *d, const perc_ws_server_options *opts, GError **error)
{
    d->timer = perc_deadline_timer_new(g_main_loop_get_context(d->loop), on_deadline, d);
    d->srv = perc_ws_server_new(d->ws, opts, &callbacks, d, error);
    if (!d->srv) {
        perc_deadline_timer_free(d->timer);
        d->timer = NULL;
        return FALSE;
    }
    rearm(d);
    return TRUE;
}

void sigd_server_stop(sigd *d)
{
    perc_ws_server_free(d->srv);
    d->srv = NULL;
    perc_deadline_timer_free(d->timer);
    d->timer = NULL;
}
