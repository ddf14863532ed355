/* WebSocket server and client on libwebsockets 4.1 over the GLib loop (see
 * perc_daemon/ws.h).
 *
 * Shape:
 *   perc_ws_context  the lws_context (LWS_SERVER_OPTION_GLIB, the daemon's
 *                    GMainLoop as foreign loop, explicit vhosts)
 *   perc_ws_server   one vhost that listens; one ws_conn per WebSocket,
 *                    reached from lws through the per-session data
 *   perc_ws_client   one vhost that does not listen; one ws_conn per
 *                    connection attempt, reached from lws through the
 *                    wsi's opaque user data (cleared when the attempt ends,
 *                    so a late callback finds nothing)
 *
 * Lifetimes. lws destroys a vhost asynchronously: after lws_vhost_destroy()
 * it still closes the vhost's connections (calling our callback) and only
 * then frees it, calling the vhost's `finalize`. So servers and clients are
 * reference counted: one reference is the user's (dropped by *_free, which
 * also marks the object dead so no user callback fires again), one is the
 * vhost's (dropped in finalize), and every stretch of our code that calls a
 * user callback holds one. A ws_conn belongs to its server's table or its
 * client's slot and is freed when lws reports the connection closed.
 *
 * Sending. lws allows one lws_write per WRITEABLE callback and needs LWS_PRE
 * writable bytes before the payload for the frame header. A queued message
 * is stored as [LWS_PRE headroom][payload] and written as fragments of at
 * most `frag` bytes, one per WRITEABLE. Fragment k's header goes into the
 * LWS_PRE bytes just before it, which belong to fragment k-1: already
 * handed to lws (written, or copied into lws's own buffer), so overwriting
 * them is fine. lws also masks client payloads in place; the buffer is
 * never reused.
 */
#include "perc_daemon/ws.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "fdwatch.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

#define CLOSE_REASON_MAX 123 /* RFC 6455 §5.5: control frame payload <= 125 */
#define RX_KEEP_MAX (64 * 1024)

typedef struct ws_msg {
    size_t len;
    uint8_t buf[]; /* LWS_PRE + len */
} ws_msg;

typedef struct ws_conn {
    uint64_t id;
    struct lws *wsi;
    perc_ws_server *srv;
    perc_ws_client *cli;
    size_t max_message;
    size_t max_send_queue;
    size_t frag;
    GQueue sendq; /* ws_msg* */
    size_t queued;
    ws_msg *cur;
    size_t cur_off;
    GByteArray *rx;
    gboolean in_msg;
    gboolean open;
    gboolean closing; /* we close after the queue drains */
    int close_code;
    char close_reason[CLOSE_REASON_MAX + 1];
    gboolean peer_closed;
    int peer_code;
    char peer_reason[CLOSE_REASON_MAX + 1];
    gboolean ended;   /* client: lws is done with this attempt */
    char end_reason[256];
    gboolean dead;    /* owner freed: no user callbacks */
    char peer[64];
} ws_conn;

struct perc_ws_context {
    struct lws_context *lws;
    struct lws_context *alive; /* lws writes NULL here when destruction completes */
    GMainLoop *loop;
    GMainContext *gctx;
    void *foreign[1];
    GList *servers; /* not yet freed by the user */
    GList *clients;
    unsigned vhost_seq;
    int cb_depth; /* > 0 while lws is inside one of our callbacks */
};

struct perc_ws_server {
    int refs;
    gboolean dead;
    gboolean finalized;
    perc_ws_context *wctx;
    struct lws_vhost *vh;
    GSocket *listener; /* ours; accepted sockets are handed to lws */
    fdwatch *watch;
    uint16_t port;
    GHashTable *wsis; /* every struct lws adopted into our vhost, until destroyed */
    perc_deadline_timer *teardown;
    struct lws_protocols protocols[2];
    char *subprotocol;
    char *cert_file;
    char *key_file;
    char vhost_name[48];
    size_t max_message;
    size_t max_send_queue;
    size_t frag;
    perc_ws_server_callbacks cbs;
    void *user;
    GHashTable *conns; /* uint64_t* id -> ws_conn* */
    uint64_t next_id;
    ws_conn *opening; /* the connection whose `open` callback runs */
};

struct perc_ws_client {
    int refs;
    gboolean dead;
    gboolean finalized;
    perc_ws_context *wctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
    char *subprotocol;
    gboolean tls;
    perc_hostport target;
    char *path;
    char *host_header;
    char *header_name; /* lower case, with the trailing ':' lws wants */
    char *header_value;
    char *ca_file;
    char vhost_name[48];
    size_t max_message;
    size_t max_send_queue;
    size_t frag;
    uint32_t backoff_ms;
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
    perc_ws_client_callbacks cbs;
    void *user;
    ws_conn *conn;  /* the current attempt or connection */
    ws_conn *ended; /* an attempt whose end is yet to be reported */
    perc_deadline_timer *timer;
};

typedef struct http_resp {
    perc_ws_http_response r;
    size_t off;
} http_resp;

typedef struct server_pss {
    ws_conn *conn;
    http_resp *http;
} server_pss;

/* ---- lws logging ------------------------------------------------------------ */

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    perc_log((level & (LLL_ERR | LLL_WARN)) ? PERC_LOG_WARN : PERC_LOG_DEBUG, "lws: %.*s",
             (int)n, line);
}

/* ---- connections ------------------------------------------------------------- */

static ws_conn *conn_new(size_t max_message, size_t max_send_queue, size_t frag)
{
    ws_conn *c = g_new0(ws_conn, 1);
    g_queue_init(&c->sendq);
    c->rx = g_byte_array_new();
    c->max_message = max_message;
    c->max_send_queue = max_send_queue;
    c->frag = frag;
    return c;
}

static void conn_free(ws_conn *c)
{
    if (!c)
        return;
    ws_msg *m;
    while ((m = g_queue_pop_head(&c->sendq)))
        g_free(m);
    g_free(c->cur);
    g_byte_array_unref(c->rx);
    g_free(c);
}

static gboolean conn_enqueue(ws_conn *c, const char *text, size_t len, GError **error)
{
    if (!c->open || c->closing || c->ended || !c->wsi) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "websocket: not open");
        return FALSE;
    }
    if (len > c->max_send_queue || c->queued > c->max_send_queue - len) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "websocket: send queue full (%zu bytes queued, %zu more refused)", c->queued,
                    len);
        return FALSE;
    }
    ws_msg *m = g_malloc(sizeof(ws_msg) + LWS_PRE + len);
    m->len = len;
    if (len)
        memcpy(m->buf + LWS_PRE, text, len);
    g_queue_push_tail(&c->sendq, m);
    c->queued += len;
    lws_callback_on_writable(c->wsi);
    return TRUE;
}

/* Closes with code and reason from inside an lws callback: the caller
 * returns -1 and lws sends the close frame. */
static int conn_close_now(ws_conn *c, int code, const char *reason)
{
    if (!c->closing || !c->close_code) {
        c->closing = TRUE;
        c->close_code = code;
        g_strlcpy(c->close_reason, reason, sizeof c->close_reason);
    }
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)c->close_reason,
                     strlen(c->close_reason));
    return -1;
}

/* One fragment per call (the lws rule). */
static int conn_writable(ws_conn *c)
{
    if (c->dead || c->ended)
        return -1;
    if (!c->cur) {
        c->cur = g_queue_pop_head(&c->sendq);
        c->cur_off = 0;
    }
    if (!c->cur) {
        if (c->closing)
            return conn_close_now(c, c->close_code, c->close_reason);
        return 0;
    }
    size_t left = c->cur->len - c->cur_off;
    size_t chunk = left < c->frag ? left : c->frag;
    int flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->cur_off == 0, chunk == left);
    int n = lws_write(c->wsi, c->cur->buf + LWS_PRE + c->cur_off, chunk,
                      (enum lws_write_protocol)flags);
    if (n < 0 || (size_t)n < chunk)
        return -1;
    c->cur_off += chunk;
    c->queued -= chunk;
    if (c->cur_off == c->cur->len) {
        g_free(c->cur);
        c->cur = NULL;
    }
    if (c->cur || !g_queue_is_empty(&c->sendq) || c->closing)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static void conn_peer_close(ws_conn *c, const void *in, size_t len)
{
    const uint8_t *p = in;
    c->peer_closed = TRUE;
    c->peer_code = PERC_WS_CLOSE_NO_STATUS;
    c->peer_reason[0] = '\0';
    if (p && len >= 2) {
        c->peer_code = (p[0] << 8) | p[1];
        size_t n = len - 2 < CLOSE_REASON_MAX ? len - 2 : CLOSE_REASON_MAX;
        memcpy(c->peer_reason, p + 2, n);
        c->peer_reason[n] = '\0';
    }
}

/* The close code and reason to report for an ended connection. */
static int conn_close_code(const ws_conn *c, const char **reason)
{
    if (c->closing && c->close_code) {
        *reason = c->close_reason;
        return c->close_code;
    }
    if (c->peer_closed) {
        *reason = c->peer_reason;
        return c->peer_code;
    }
    *reason = c->end_reason[0] ? c->end_reason : "connection lost";
    return PERC_WS_CLOSE_ABNORMAL;
}

static void server_ref(perc_ws_server *s);
static void server_unref(perc_ws_server *s);
static void client_ref(perc_ws_client *c);
static void client_unref(perc_ws_client *c);

static void conn_deliver(ws_conn *c, const char *text, size_t len)
{
    if (c->srv) {
        perc_ws_server *srv = c->srv;
        if (srv->dead || !srv->cbs.message)
            return;
        server_ref(srv);
        srv->cbs.message(srv->user, srv, c->id, text, len);
        server_unref(srv);
    } else if (c->cli) {
        perc_ws_client *cli = c->cli;
        if (cli->dead || !cli->cbs.message)
            return;
        client_ref(cli);
        cli->cbs.message(cli->user, cli, text, len);
        client_unref(cli);
    }
}

/* Reassembles fragments (lws hands them in chunks of at most rx_chunk). */
static int conn_receive(ws_conn *c, const void *in, size_t len)
{
    if (c->dead)
        return -1;
    if (c->closing)
        return 0; /* discard while our close is pending */
    if (!c->in_msg) {
        c->in_msg = TRUE;
        if (c->rx->len > RX_KEEP_MAX) {
            g_byte_array_unref(c->rx);
            c->rx = g_byte_array_new();
        }
        g_byte_array_set_size(c->rx, 0);
        if (lws_frame_is_binary(c->wsi))
            return conn_close_now(c, PERC_WS_CLOSE_UNSUPPORTED_DATA, "text messages only");
    }
    if (len > c->max_message - c->rx->len)
        return conn_close_now(c, PERC_WS_CLOSE_TOO_BIG, "message too big");
    if (len)
        g_byte_array_append(c->rx, in, (guint)len);
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi))
        return 0;
    c->in_msg = FALSE;
    size_t n = c->rx->len;
    g_byte_array_append(c->rx, (const guint8 *)"", 1);
    conn_deliver(c, (const char *)c->rx->data, n);
    return c->dead ? -1 : 0;
}

/* ---- context -------------------------------------------------------------------- */

perc_ws_context *perc_ws_context_new(GMainLoop *loop, GError **error)
{
    g_return_val_if_fail(loop != NULL, NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN | (perc_log_enabled(PERC_LOG_DEBUG) ? LLL_NOTICE : 0),
                      lws_log_emit);
    perc_ws_context *ctx = g_new0(perc_ws_context, 1);
    ctx->loop = g_main_loop_ref(loop);
    ctx->gctx = g_main_loop_get_context(loop);
    ctx->foreign[0] = loop;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = ctx->foreign;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.gid = -1;
    info.uid = -1;
    info.pcontext = &ctx->alive;
    info.user = ctx;
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_WS,
                    "libwebsockets: cannot create the context on the GLib loop "
                    "(is libwebsockets-evlib-glib installed?)");
        g_main_loop_unref(ctx->loop);
        g_free(ctx);
        return NULL;
    }
    ctx->alive = ctx->lws;
    return ctx;
}

static void server_mark_dead(perc_ws_server *srv);
static void client_mark_dead(perc_ws_client *cli);

void perc_ws_context_free(perc_ws_context *ctx)
{
    if (!ctx)
        return;
    /* Whatever the user did not free goes with the context: no more user
     * callbacks, and the user's reference is dropped here. */
    while (ctx->servers) {
        perc_ws_server *srv = ctx->servers->data;
        ctx->servers = g_list_delete_link(ctx->servers, ctx->servers);
        server_mark_dead(srv);
        server_unref(srv);
    }
    while (ctx->clients) {
        perc_ws_client *cli = ctx->clients->data;
        ctx->clients = g_list_delete_link(ctx->clients, ctx->clients);
        client_mark_dead(cli);
        client_unref(cli);
    }
    lws_context_destroy(ctx->lws);
    /* With a foreign loop lws may finish closing handles from the loop;
     * give it a bounded number of iterations. */
    for (int i = 0; ctx->alive && i < 1000; i++)
        g_main_context_iteration(ctx->gctx, FALSE);
    g_main_loop_unref(ctx->loop);
    g_free(ctx);
}

/* ---- server ------------------------------------------------------------------- */

static void server_ref(perc_ws_server *s)
{
    s->refs++;
}

static void server_unref(perc_ws_server *s)
{
    if (--s->refs > 0)
        return;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, s->conns);
    while (g_hash_table_iter_next(&it, NULL, &v))
        conn_free(v);
    g_hash_table_unref(s->conns);
    g_hash_table_unref(s->wsis);
    perc_deadline_timer_free(s->teardown);
    g_free(s->subprotocol);
    g_free(s->cert_file);
    g_free(s->key_file);
    g_free(s);
}

static void server_finalize(struct lws_vhost *vh, void *arg)
{
    (void)vh;
    perc_ws_server *srv = arg;
    perc_log_debug("websocket server %s released by lws", srv->vhost_name);
    srv->finalized = TRUE;
    srv->vh = NULL;
    if (srv->teardown)
        perc_deadline_timer_cancel(srv->teardown);
    if (srv->refs > 0)
        server_unref(srv); /* the vhost's reference */
}

static void http_free(server_pss *pss)
{
    if (!pss || !pss->http)
        return;
    g_free(pss->http->r.content_type);
    g_free(pss->http->r.body);
    g_free(pss->http);
    pss->http = NULL;
}

static int http_complete(struct lws *wsi)
{
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int server_http(perc_ws_server *srv, struct lws *wsi, server_pss *pss, const char *path)
{
    http_free(pss);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        if (lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL))
            return -1;
        return http_complete(wsi);
    }
    http_resp *h = g_new0(http_resp, 1);
    if (srv && !srv->dead && srv->cbs.http) {
        server_ref(srv);
        srv->cbs.http(srv->user, srv, path ? path : "/", &h->r);
        server_unref(srv);
    }
    if (h->r.status == 0) {
        g_free(h->r.content_type);
        g_free(h->r.body);
        g_free(h);
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
            return -1;
        return http_complete(wsi);
    }
    if (!h->r.body)
        h->r.body_len = 0;
    uint8_t buf[LWS_PRE + 1024];
    uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    const char *ctype = h->r.content_type ? h->r.content_type : "text/plain; charset=utf-8";
    if (lws_add_http_common_headers(wsi, h->r.status, ctype, (lws_filepos_t)h->r.body_len, &p,
                                    end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end)) {
        g_free(h->r.content_type);
        g_free(h->r.body);
        g_free(h);
        return -1;
    }
    if (h->r.body_len == 0) {
        g_free(h->r.content_type);
        g_free(h->r.body);
        g_free(h);
        return http_complete(wsi);
    }
    pss->http = h;
    lws_callback_on_writable(wsi);
    return 0;
}

static int server_http_writable(struct lws *wsi, server_pss *pss, size_t frag)
{
    if (!pss || !pss->http)
        return 0;
    http_resp *h = pss->http;
    size_t left = h->r.body_len - h->off;
    size_t chunk = left < frag ? left : frag;
    uint8_t *buf = g_malloc(LWS_PRE + chunk);
    memcpy(buf + LWS_PRE, h->r.body + h->off, chunk);
    int n = lws_write(wsi, buf + LWS_PRE, chunk,
                      chunk == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    g_free(buf);
    if (n < 0 || (size_t)n < chunk)
        return -1;
    h->off += chunk;
    if (h->off < h->r.body_len) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    http_free(pss);
    return http_complete(wsi);
}

static void server_conn_closed(perc_ws_server *srv, ws_conn *c)
{
    const char *reason = "";
    int code = conn_close_code(c, &reason);
    perc_log_debug("websocket %" G_GUINT64_FORMAT " from %s closed: %d %s", c->id, c->peer,
                   code, reason);
    g_hash_table_remove(srv->conns, &c->id);
    if (!c->dead && !srv->dead && srv->cbs.close) {
        server_ref(srv);
        srv->cbs.close(srv->user, srv, c->id, code, reason);
        server_unref(srv);
    }
    conn_free(c);
}

static int server_cb_inner(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    struct lws_vhost *vh = lws_get_vhost(wsi);
    perc_ws_server *srv = vh ? lws_get_vhost_user(vh) : NULL;
    server_pss *pss = user;
    ws_conn *c = pss ? pss->conn : NULL;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
        if (!srv || srv->dead || !pss)
            return -1;
        c = conn_new(srv->max_message, srv->max_send_queue, srv->frag);
        c->srv = srv;
        c->wsi = wsi;
        c->open = TRUE;
        c->id = ++srv->next_id;
        lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
        /* An IPv4 peer on a dual-stack listener shows as ::ffff:a.b.c.d. */
        if (g_str_has_prefix(c->peer, "::ffff:") && strchr(c->peer + 7, '.'))
            memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
        pss->conn = c;
        g_hash_table_insert(srv->conns, &c->id, c);
        perc_log_debug("websocket %" G_GUINT64_FORMAT " from %s open", c->id, c->peer);
        if (srv->cbs.open) {
            server_ref(srv);
            srv->opening = c;
            srv->cbs.open(srv->user, srv, c->id, c->peer);
            srv->opening = NULL;
            server_unref(srv);
        }
        return c->dead ? -1 : 0;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        /* A freed server's socket lingers until lws releases it: refuse
         * before the upgrade, so clients never see it open. */
        return !srv || srv->dead ? -1 : 0;
    case LWS_CALLBACK_RECEIVE:
        return c ? conn_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? conn_writable(c) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c)
            conn_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c && srv) {
            pss->conn = NULL;
            server_conn_closed(srv, c);
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        return server_http(srv, wsi, pss, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return server_http_writable(wsi, pss, srv ? srv->frag : PERC_WS_DEFAULT_RX_CHUNK);
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        http_free(pss);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (srv)
            g_hash_table_remove(srv->wsis, wsi);
        return 0;
    default:
        return 0;
    }
}

static int server_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    perc_ws_context *ctx = lws_context_user(lws_get_context(wsi));
    ctx->cb_depth++;
    int r = server_cb_inner(wsi, reason, user, in, len);
    ctx->cb_depth--;
    return r;
}

/* Accepts on our listener and hands each socket to lws, which then runs
 * HTTP, the WebSocket upgrade and TLS on it as if it had accepted it. */
static void server_on_accept(void *user, GIOCondition ready)
{
    (void)ready;
    perc_ws_server *srv = user;
    int lfd = g_socket_get_fd(srv->listener);
    for (int i = 0; i < 32 && !srv->dead; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                perc_log_warn("websocket server port %u: accept: %s", (unsigned)srv->port,
                              g_strerror(errno));
            return;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        /* On failure lws closes fd itself. */
        struct lws *wsi = lws_adopt_socket_vhost(srv->vh, fd);
        if (wsi)
            g_hash_table_add(srv->wsis, wsi);
        else
            perc_log_warn("websocket server port %u: libwebsockets refused a connection",
                          (unsigned)srv->port);
    }
}

/* Closes every connection of a freed server synchronously, then destroys
 * its vhost: with nothing bound to it any more, lws frees it at once (and
 * finalize drops the vhost's reference). Done at once rather than left to
 * lws, because lws 4.1 would close a destroyed vhost's connections only in
 * its once-a-second housekeeping, and a lingering server vhost can still be
 * picked for new connections (see perc_ws_server_new). Must run outside
 * any lws callback. */
static void server_teardown(perc_ws_server *srv)
{
    server_ref(srv);
    GList *wsis = g_hash_table_get_keys(srv->wsis);
    for (GList *l = wsis; l; l = l->next)
        if (g_hash_table_contains(srv->wsis, l->data))
            lws_set_timeout(l->data, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
    g_list_free(wsis);
    if (srv->vh && !srv->finalized) {
        struct lws_vhost *vh = srv->vh;
        srv->vh = NULL;
        lws_vhost_destroy(vh);
    }
    server_unref(srv);
}

static void server_on_teardown(void *user, uint64_t now)
{
    (void)now;
    server_teardown(user);
}

static void server_mark_dead(perc_ws_server *srv)
{
    srv->dead = TRUE;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, srv->conns);
    while (g_hash_table_iter_next(&it, NULL, &v))
        ((ws_conn *)v)->dead = TRUE;
    /* Our listening socket goes now, so the port is free at once (lws
     * would release a listener of its own only lazily). */
    fdwatch_free(srv->watch);
    srv->watch = NULL;
    if (srv->listener) {
        g_socket_close(srv->listener, NULL);
        g_clear_object(&srv->listener);
    }
    if (srv->wctx->cb_depth == 0) {
        server_teardown(srv);
    } else {
        /* Inside an lws callback (maybe of one of these connections):
         * right after it, from the loop. */
        srv->teardown = perc_deadline_timer_new(srv->wctx->gctx, server_on_teardown, srv);
        perc_deadline_timer_arm(srv->teardown, 0);
    }
}

static size_t or_default(size_t v, size_t def)
{
    return v ? v : def;
}

perc_ws_server *perc_ws_server_new(perc_ws_context *ctx, const perc_ws_server_options *opts,
                                   const perc_ws_server_callbacks *cbs, void *user,
                                   GError **error)
{
    g_return_val_if_fail(ctx != NULL && opts != NULL, NULL);
    if (!opts->subprotocol || !*opts->subprotocol) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "websocket server: a subprotocol name is required");
        return NULL;
    }
    if (!opts->cert_file != !opts->key_file) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "websocket server: TLS needs both a certificate and a key file");
        return NULL;
    }
    /* All our server vhosts have lws's "no listener, adopted sockets" port,
     * and lws 4.1 moves an HTTP connection to the first vhost on its port
     * whose name does not match the Host header: with two servers, one
     * would get the other's connections. So: one at a time. */
    if (ctx->servers) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "websocket server: this context already has one (one server per "
                    "perc_ws_context)");
        return NULL;
    }
    GSocketAddress *addr = perc_hostport_resolve(&opts->listen, error);
    if (!addr)
        return NULL;
    GSocket *listener = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_TCP, error);
    if (!listener) {
        g_object_unref(addr);
        return NULL;
    }
    g_socket_set_blocking(listener, FALSE);
    if (!g_socket_bind(listener, addr, TRUE, error) || !g_socket_listen(listener, error)) {
        char *text = perc_hostport_to_string(&opts->listen);
        g_prefix_error(error, "websocket server: listen %s: ", text);
        g_free(text);
        g_object_unref(addr);
        g_object_unref(listener);
        return NULL;
    }
    g_object_unref(addr);

    perc_ws_server *srv = g_new0(perc_ws_server, 1);
    srv->refs = 2; /* the user's and the vhost's */
    srv->wctx = ctx;
    srv->listener = listener;
    GSocketAddress *local = g_socket_get_local_address(listener, NULL);
    srv->port = perc_sockaddr_port(local);
    if (local)
        g_object_unref(local);
    srv->subprotocol = g_strdup(opts->subprotocol);
    srv->cert_file = g_strdup(opts->cert_file);
    srv->key_file = g_strdup(opts->key_file);
    srv->max_message = or_default(opts->max_message, PERC_WS_DEFAULT_MAX_MESSAGE);
    srv->max_send_queue = or_default(opts->max_send_queue, PERC_WS_DEFAULT_MAX_SEND_QUEUE);
    srv->frag = or_default(opts->rx_chunk, PERC_WS_DEFAULT_RX_CHUNK);
    if (cbs)
        srv->cbs = *cbs;
    srv->user = user;
    srv->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    srv->wsis = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_snprintf(srv->vhost_name, sizeof srv->vhost_name, "perc-ws-server-%u", ++ctx->vhost_seq);

    /* The one protocol; HTTP requests reach protocols[0] as well. The zero
     * entry ends the array (lws rule). */
    srv->protocols[0].name = srv->subprotocol;
    srv->protocols[0].callback = server_cb;
    srv->protocols[0].per_session_data_size = sizeof(server_pss);
    srv->protocols[0].rx_buffer_size = srv->frag;

    /* A server vhost without a listener of its own: we accept, lws serves
     * what we adopt into it (TLS included). */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = srv->protocols;
    info.vhost_name = srv->vhost_name;
    /* lws reads the TLS init option from each vhost's own info too. */
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = srv->cert_file;
    info.ssl_private_key_filepath = srv->key_file;
    /* HTTP/1.1 only over TLS: no h2 (WebSocket over h2 closes differently
     * and buys nothing for a signaling channel). */
    info.alpn = "http/1.1";
    info.user = srv;
    info.finalize = server_finalize;
    info.finalize_arg = srv;
    srv->vh = lws_create_vhost(ctx->lws, &info);
    if (!srv->vh) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_WS,
                    "websocket server: libwebsockets cannot create the vhost%s",
                    srv->cert_file ? " (unreadable or mismatched TLS files?)" : "");
        g_socket_close(srv->listener, NULL);
        g_clear_object(&srv->listener);
        srv->dead = TRUE;
        if (!srv->finalized)
            server_unref(srv); /* no vhost reference to wait for */
        server_unref(srv);
        return NULL;
    }
    srv->watch = fdwatch_new(ctx->gctx, g_socket_get_fd(listener), G_IO_IN, server_on_accept,
                             srv);
    ctx->servers = g_list_prepend(ctx->servers, srv);
    perc_log_debug("websocket server listening on port %u", (unsigned)srv->port);
    return srv;
}

uint16_t perc_ws_server_port(const perc_ws_server *srv)
{
    return srv ? srv->port : 0;
}

gboolean perc_ws_server_header(perc_ws_server *srv, uint64_t conn, const char *name, char *buf,
                               size_t cap)
{
    g_return_val_if_fail(srv != NULL && name != NULL && buf != NULL, FALSE);
    ws_conn *c = srv->opening;
    if (!c || c->id != conn || !c->wsi || cap == 0 || cap > INT_MAX)
        return FALSE;
    buf[0] = '\0';
    /* lws files the headers it knows under tokens; the rest are "custom". */
    static const struct {
        const char *name;
        enum lws_token_indexes tok;
    } known[] = {
        {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
        {"origin", WSI_TOKEN_ORIGIN},
        {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
        {"host", WSI_TOKEN_HOST},
        {"x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++) {
        if (g_ascii_strcasecmp(name, known[i].name) == 0) {
            int total = lws_hdr_total_length(c->wsi, known[i].tok);
            if (total <= 0 || (size_t)total >= cap)
                return FALSE;
            return lws_hdr_copy(c->wsi, buf, (int)cap, known[i].tok) >= 0;
        }
    }
    char *key = g_strdup_printf("%s:", name);
    for (char *q = key; *q; q++)
        *q = g_ascii_tolower(*q);
    int n = lws_hdr_custom_copy(c->wsi, buf, (int)cap, key, (int)strlen(key));
    g_free(key);
    return n >= 0;
}

size_t perc_ws_server_conn_count(const perc_ws_server *srv)
{
    return srv ? g_hash_table_size(srv->conns) : 0;
}

gboolean perc_ws_server_send(perc_ws_server *srv, uint64_t conn, const char *text, size_t len,
                             GError **error)
{
    g_return_val_if_fail(srv != NULL && (text != NULL || len == 0), FALSE);
    ws_conn *c = g_hash_table_lookup(srv->conns, &conn);
    if (!c || c->dead) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "websocket %" G_GUINT64_FORMAT ": no such connection", conn);
        return FALSE;
    }
    return conn_enqueue(c, text, len, error);
}

gboolean perc_ws_server_close(perc_ws_server *srv, uint64_t conn, int code, const char *reason)
{
    g_return_val_if_fail(srv != NULL, FALSE);
    ws_conn *c = g_hash_table_lookup(srv->conns, &conn);
    if (!c || c->dead)
        return FALSE;
    if (!c->closing) {
        c->closing = TRUE;
        c->close_code = code;
        g_strlcpy(c->close_reason, reason ? reason : "", sizeof c->close_reason);
        lws_callback_on_writable(c->wsi);
    }
    return TRUE;
}

void perc_ws_server_free(perc_ws_server *srv)
{
    if (!srv)
        return;
    srv->wctx->servers = g_list_remove(srv->wctx->servers, srv);
    server_mark_dead(srv);
    server_unref(srv); /* the user's reference */
}

/* ---- client ------------------------------------------------------------------- */

static void client_ref(perc_ws_client *c)
{
    c->refs++;
}

static void client_unref(perc_ws_client *c)
{
    if (--c->refs > 0)
        return;
    conn_free(c->ended);
    perc_deadline_timer_free(c->timer);
    g_free(c->subprotocol);
    g_free(c->path);
    g_free(c->host_header);
    g_free(c->header_name);
    if (c->header_value) {
        /* Possibly a bearer token. */
        memset(c->header_value, 0, strlen(c->header_value));
        g_free(c->header_value);
    }
    g_free(c->ca_file);
    g_free(c);
}

static void client_finalize(struct lws_vhost *vh, void *arg)
{
    (void)vh;
    perc_ws_client *cli = arg;
    cli->finalized = TRUE;
    cli->vh = NULL;
    if (cli->refs > 0)
        client_unref(cli);
}

static void client_connect(perc_ws_client *cli);

/* lws is done with an attempt: report it from the timer, not from here
 * (this may run inside lws_client_connect_via_info, i.e. inside a call the
 * user made). */
static void client_attempt_ended(ws_conn *c, const char *why)
{
    if (c->ended)
        return;
    c->ended = TRUE;
    if (c->wsi)
        lws_set_opaque_user_data(c->wsi, NULL);
    c->wsi = NULL;
    if (why)
        g_strlcpy(c->end_reason, why, sizeof c->end_reason);
    perc_ws_client *cli = c->cli;
    if (c->dead || !cli) {
        conn_free(c);
        return;
    }
    if (cli->conn == c)
        cli->conn = NULL;
    conn_free(cli->ended);
    cli->ended = c;
    perc_deadline_timer_arm(cli->timer, 0);
}

static void client_on_timer(void *user, uint64_t now)
{
    (void)now;
    perc_ws_client *cli = user;
    if (cli->dead)
        return;
    if (!cli->ended) {
        client_connect(cli);
        return;
    }
    ws_conn *c = cli->ended;
    cli->ended = NULL;
    const char *reason = "";
    int code = conn_close_code(c, &reason);
    perc_log_debug("websocket to %s:%u closed: %d %s; reconnecting in %u ms", cli->target.host,
                   (unsigned)cli->target.port, code, reason, (unsigned)cli->backoff_ms);
    perc_deadline_timer_arm_in_ms(cli->timer, cli->backoff_ms);
    uint64_t next = (uint64_t)cli->backoff_ms * 2;
    cli->backoff_ms = next > cli->backoff_max_ms ? cli->backoff_max_ms : (uint32_t)next;
    if (cli->cbs.close) {
        client_ref(cli);
        cli->cbs.close(cli->user, cli, code, reason);
        client_unref(cli);
    }
    conn_free(c);
}

static int client_cb_inner(struct lws *wsi, enum lws_callback_reasons reason, void *in,
                           size_t len)
{
    ws_conn *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return reason == LWS_CALLBACK_CLIENT_RECEIVE ? -1 : 0;
    if (!c->wsi)
        c->wsi = wsi; /* a callback from inside lws_client_connect_via_info */
    perc_ws_client *cli = c->cli;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (c->dead || !cli || !cli->header_name)
            return 0;
        unsigned char **p = in, *end = *p + len;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)cli->header_name,
                                        (const unsigned char *)cli->header_value,
                                        (int)strlen(cli->header_value), p, end))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c->dead || !cli || cli->dead)
            return -1;
        c->open = TRUE;
        cli->backoff_ms = cli->backoff_initial_ms;
        perc_log_debug("websocket to %s:%u open", cli->target.host, (unsigned)cli->target.port);
        if (cli->cbs.open) {
            client_ref(cli);
            cli->cbs.open(cli->user, cli);
            client_unref(cli);
        }
        return c->dead ? -1 : 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return conn_receive(c, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return conn_writable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        conn_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[256];
        g_snprintf(why, sizeof why, "connect to %s:%u: %.*s", cli ? cli->target.host : "?",
                   cli ? (unsigned)cli->target.port : 0u, in ? (int)strnlen(in, 200) : 6,
                   in ? (const char *)in : "failed");
        client_attempt_ended(c, why);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        client_attempt_ended(c, NULL);
        return 0;
    default:
        return 0;
    }
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    perc_ws_context *ctx = lws_context_user(lws_get_context(wsi));
    ctx->cb_depth++;
    int r = client_cb_inner(wsi, reason, in, len);
    ctx->cb_depth--;
    return r;
}

static void client_connect(perc_ws_client *cli)
{
    ws_conn *c = conn_new(cli->max_message, cli->max_send_queue, cli->frag);
    c->cli = cli;
    g_strlcpy(c->peer, cli->target.host, sizeof c->peer);
    cli->conn = c;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = cli->wctx->lws;
    ci.vhost = cli->vh;
    ci.address = cli->target.host;
    ci.port = cli->target.port;
    ci.path = cli->path;
    ci.host = cli->host_header;
    ci.origin = cli->host_header;
    ci.protocol = cli->subprotocol;
    ci.local_protocol_name = cli->subprotocol;
    ci.ssl_connection = cli->tls ? LCCSCF_USE_SSL : 0;
    /* The wsi reaches us through its opaque user data only (no pwsi: lws
     * could write through that pointer after we freed the attempt). */
    ci.opaque_user_data = c;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    if (wsi && !c->ended)
        c->wsi = wsi;
    else if (!wsi && !c->ended)
        /* Failed before lws took it over; no callback will come. */
        client_attempt_ended(c, "connect: libwebsockets refused to start the connection");
}

gboolean perc_ws_url_parse(const char *url, gboolean *tls, perc_hostport *host, char **path,
                           GError **error)
{
    g_return_val_if_fail(url != NULL && tls != NULL && host != NULL && path != NULL, FALSE);
    const char *rest;
    uint16_t def_port;
    if (g_ascii_strncasecmp(url, "ws://", 5) == 0) {
        *tls = FALSE;
        rest = url + 5;
        def_port = 80;
    } else if (g_ascii_strncasecmp(url, "wss://", 6) == 0) {
        *tls = TRUE;
        rest = url + 6;
        def_port = 443;
    } else {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "'%s' is not a ws:// or wss:// URL", url);
        return FALSE;
    }
    const char *slash = strchr(rest, '/');
    size_t auth_len = slash ? (size_t)(slash - rest) : strlen(rest);
    char *auth = g_strndup(rest, auth_len);
    /* Add the default port when none is given, then reuse HOST:PORT rules. */
    gboolean has_port = auth[0] == '['
                            ? (strstr(auth, "]:") != NULL)
                            : (strchr(auth, ':') != NULL);
    char *hp = has_port ? g_strdup(auth) : g_strdup_printf("%s:%u", auth, (unsigned)def_port);
    GError *inner = NULL;
    gboolean ok = perc_hostport_parse(hp, host, &inner);
    g_free(hp);
    g_free(auth);
    if (!ok) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID, "URL '%s': %s", url,
                    inner->message);
        g_error_free(inner);
        return FALSE;
    }
    if (host->port == 0) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID, "URL '%s': port 0",
                    url);
        return FALSE;
    }
    const char *p = slash ? slash : "/";
    for (const char *q = p; *q; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '#') {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "URL '%s': invalid character in the path", url);
            return FALSE;
        }
    }
    *path = g_strdup(p);
    return TRUE;
}

static void client_mark_dead(perc_ws_client *cli)
{
    cli->dead = TRUE;
    perc_deadline_timer_cancel(cli->timer);
    if (cli->conn) {
        ws_conn *c = cli->conn;
        cli->conn = NULL;
        c->dead = TRUE; /* freed when lws reports its end */
        /* Outside lws callbacks close it now, so the vhost can go at once;
         * inside one (maybe this connection's), let lws do it. */
        if (c->wsi)
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                            cli->wctx->cb_depth ? LWS_TO_KILL_ASYNC : LWS_TO_KILL_SYNC);
    }
    if (cli->vh && !cli->finalized)
        lws_vhost_destroy(cli->vh); /* finalize follows, now or later */
}

perc_ws_client *perc_ws_client_new(perc_ws_context *ctx, const perc_ws_client_options *opts,
                                   const perc_ws_client_callbacks *cbs, void *user,
                                   GError **error)
{
    g_return_val_if_fail(ctx != NULL && opts != NULL, NULL);
    if (!opts->url || !opts->subprotocol || !*opts->subprotocol) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "websocket client: a URL and a subprotocol name are required");
        return NULL;
    }
    if (!opts->header_name != !opts->header_value ||
        (opts->header_name && (!*opts->header_name || strpbrk(opts->header_name, ": \r\n") ||
                               strpbrk(opts->header_value, "\r\n")))) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "websocket client: the extra header needs a name (no ':', spaces or line "
                    "breaks) and a value on one line");
        return NULL;
    }
    gboolean tls = FALSE;
    perc_hostport target;
    char *path = NULL;
    if (!perc_ws_url_parse(opts->url, &tls, &target, &path, error))
        return NULL;
    uint32_t b0 = opts->backoff_initial_ms ? opts->backoff_initial_ms : 500;
    uint32_t bmax = opts->backoff_max_ms ? opts->backoff_max_ms : 30000;
    if (bmax < b0) {
        g_free(path);
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "websocket client: backoff max below initial");
        return NULL;
    }

    perc_ws_client *cli = g_new0(perc_ws_client, 1);
    cli->refs = 2; /* the user's and the vhost's */
    cli->wctx = ctx;
    cli->tls = tls;
    cli->target = target;
    cli->path = path;
    cli->host_header = target.kind == PERC_HOST_IPV6 ? g_strdup_printf("[%s]", target.host)
                                                     : g_strdup(target.host);
    cli->subprotocol = g_strdup(opts->subprotocol);
    if (opts->header_name) {
        cli->header_name = g_strdup_printf("%s:", opts->header_name);
        for (char *q = cli->header_name; *q; q++)
            *q = g_ascii_tolower(*q);
        cli->header_value = g_strdup(opts->header_value);
    }
    cli->ca_file = g_strdup(opts->ca_file);
    cli->max_message = or_default(opts->max_message, PERC_WS_DEFAULT_MAX_MESSAGE);
    cli->max_send_queue = or_default(opts->max_send_queue, PERC_WS_DEFAULT_MAX_SEND_QUEUE);
    cli->frag = or_default(opts->rx_chunk, PERC_WS_DEFAULT_RX_CHUNK);
    cli->backoff_initial_ms = cli->backoff_ms = b0;
    cli->backoff_max_ms = bmax;
    if (cbs)
        cli->cbs = *cbs;
    cli->user = user;
    cli->timer = perc_deadline_timer_new(ctx->gctx, client_on_timer, cli);
    g_snprintf(cli->vhost_name, sizeof cli->vhost_name, "perc-ws-client-%u", ++ctx->vhost_seq);

    cli->protocols[0].name = cli->subprotocol;
    cli->protocols[0].callback = client_cb;
    cli->protocols[0].rx_buffer_size = cli->frag;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = cli->protocols;
    info.vhost_name = cli->vhost_name;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = cli->ca_file;
    info.user = cli;
    info.finalize = client_finalize;
    info.finalize_arg = cli;
    cli->vh = lws_create_vhost(ctx->lws, &info);
    if (!cli->vh) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_WS,
                    "websocket client: libwebsockets cannot create the vhost%s",
                    cli->ca_file ? " (unreadable CA file?)" : "");
        cli->dead = TRUE;
        if (!cli->finalized)
            client_unref(cli);
        client_unref(cli);
        return NULL;
    }
    ctx->clients = g_list_prepend(ctx->clients, cli);
    /* The first attempt starts from the loop, like every later one. */
    perc_deadline_timer_arm(cli->timer, 0);
    return cli;
}

gboolean perc_ws_client_is_open(const perc_ws_client *cli)
{
    return cli && cli->conn && cli->conn->open && !cli->conn->ended && !cli->conn->closing;
}

gboolean perc_ws_client_send(perc_ws_client *cli, const char *text, size_t len, GError **error)
{
    g_return_val_if_fail(cli != NULL && (text != NULL || len == 0), FALSE);
    if (!cli->conn) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "websocket: not connected");
        return FALSE;
    }
    return conn_enqueue(cli->conn, text, len, error);
}

void perc_ws_client_free(perc_ws_client *cli)
{
    if (!cli)
        return;
    cli->wctx->clients = g_list_remove(cli->wctx->clients, cli);
    client_mark_dead(cli);
    client_unref(cli); /* the user's reference */
}
