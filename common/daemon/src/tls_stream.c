/* TLS 1.3 over TCP on the GLib main loop (see perc_daemon/tls_stream.h).
 *
 * One stream = one socket + one perc_tls + one deadline timer. The socket is
 * non-blocking and watched by an fdwatch whose condition is G_IO_IN, plus
 * G_IO_OUT while encrypted bytes wait for a socket that took less than we
 * offered. The timer carries every deadline of the stream (handshake, idle,
 * close linger) and is also how a stream closes: a failure found anywhere
 * (inside a user's write, in a read) only records the reason and arms the
 * timer for "now", and the timer's callback tears the stream down and
 * fires `closed`. So callbacks never nest inside calls the user made.
 *
 * Lifetime: streams are reference counted. The owner (server's table, or
 * the client's current-stream slot) holds one reference, and every dispatch
 * (socket, timer, connect completion) holds one while it runs, so a
 * callback can free the owner without pulling the stream out from under
 * the code that called it.
 */
#include "perc_daemon/tls_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fdwatch.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

#define READ_CHUNK 16384
#define READS_PER_WAKE 16
#define ACCEPTS_PER_WAKE 32

typedef enum stream_state {
    ST_CONNECTING = 0, /* client: TCP connect in progress */
    ST_HANDSHAKING,
    ST_OPEN,
    ST_CLOSING, /* close_notify queued, draining */
    ST_FAILED,  /* over; `closed` fires from the timer */
    ST_DONE,    /* `closed` fired (or dropped silently); resources released */
} stream_state;

struct perc_tls_stream {
    int refs;
    stream_state st;
    gboolean is_client;
    GMainContext *ctx;
    perc_tls_server *server; /* owner, NULL once detached */
    perc_tls_client *client; /* owner, NULL once detached */
    perc_tls_stream_callbacks cbs;
    void *user;
    void *data;
    perc_tls_stream_options opt;
    perc_tls_ctx *tls_ctx;

    perc_tls *tls;
    GSocketConnection *conn; /* client: keeps the socket GSocketClient made */
    GSocket *sock;
    fdwatch *watch;
    GCancellable *connect_cancel;
    perc_deadline_timer *timer;

    uint64_t started_ns;
    uint64_t last_rx_ns;
    uint64_t linger_deadline_ns;

    GByteArray *out; /* encrypted bytes taken from perc_tls, not yet written */
    size_t out_off;

    char peer[PERC_SOCKADDR_TEXT_MAX + PERC_HOST_MAX];
    char *reason;
    gboolean has_fp;
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN];
};

struct perc_tls_server {
    GMainContext *ctx;
    perc_tls_ctx *tls_ctx;
    perc_tls_stream_options opt;
    perc_tls_stream_callbacks cbs;
    void *user;
    GSocket *listener;
    fdwatch *watch;
    uint16_t port;
    GHashTable *streams; /* perc_tls_stream* set, holds one reference each */
};

struct perc_tls_client {
    GMainContext *ctx;
    perc_tls_ctx *tls_ctx;
    perc_tls_stream_options opt;
    perc_tls_stream_callbacks cbs;
    void *user;
    perc_hostport peer;
    char *peer_text;
    perc_tls_stream *cur; /* holds one reference */
    perc_deadline_timer *retry;
    uint32_t backoff_ms;
};

static void stream_fail(perc_tls_stream *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void client_connect(perc_tls_client *cli);

/* ---- options ---------------------------------------------------------------- */

void perc_tls_stream_options_init(perc_tls_stream_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->handshake_timeout_ms = PERC_TLS_STREAM_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    opts->max_send_buffer = PERC_TLS_STREAM_DEFAULT_MAX_SEND_BUFFER;
    opts->close_linger_ms = PERC_TLS_STREAM_DEFAULT_CLOSE_LINGER_MS;
    opts->backoff_initial_ms = PERC_TLS_STREAM_DEFAULT_BACKOFF_INITIAL_MS;
    opts->backoff_max_ms = PERC_TLS_STREAM_DEFAULT_BACKOFF_MAX_MS;
}

static gboolean options_take(perc_tls_stream_options *dst, const perc_tls_stream_options *src,
                             GError **error)
{
    if (!src) {
        perc_tls_stream_options_init(dst);
        return TRUE;
    }
    if (src->handshake_timeout_ms == 0 || src->max_send_buffer == 0 ||
        src->backoff_initial_ms == 0 || src->backoff_max_ms < src->backoff_initial_ms) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "tls stream options: zero handshake timeout, send buffer or backoff, or "
                    "backoff max below initial (use perc_tls_stream_options_init)");
        return FALSE;
    }
    *dst = *src;
    return TRUE;
}

/* ---- stream lifetime -------------------------------------------------------- */

static perc_tls_stream *stream_ref(perc_tls_stream *s)
{
    s->refs++;
    return s;
}

static void stream_release_io(perc_tls_stream *s)
{
    if (s->connect_cancel) {
        g_cancellable_cancel(s->connect_cancel);
        g_clear_object(&s->connect_cancel);
    }
    fdwatch_free(s->watch);
    s->watch = NULL;
    if (s->sock) {
        g_socket_close(s->sock, NULL);
        if (!s->conn)
            g_object_unref(s->sock);
        s->sock = NULL;
    }
    g_clear_object(&s->conn);
    perc_tls_free(s->tls); /* wipes its keys */
    s->tls = NULL;
    perc_deadline_timer_free(s->timer);
    s->timer = NULL;
    if (s->out) {
        /* Encrypted records only, but wipe anyway: cheap, and nothing of a
         * dead connection should linger in the heap. */
        OPENSSL_cleanse(s->out->data, s->out->len);
        g_byte_array_unref(s->out);
        s->out = NULL;
    }
}

static void stream_unref(perc_tls_stream *s)
{
    if (--s->refs > 0)
        return;
    stream_release_io(s);
    g_free(s->reason);
    g_free(s);
}

static void stream_on_timer(void *user, uint64_t now);

static perc_tls_stream *stream_new(GMainContext *ctx, perc_tls_ctx *tls_ctx,
                                   const perc_tls_stream_options *opt,
                                   const perc_tls_stream_callbacks *cbs, void *user)
{
    perc_tls_stream *s = g_new0(perc_tls_stream, 1);
    s->refs = 1;
    s->ctx = ctx;
    s->tls_ctx = tls_ctx;
    s->opt = *opt;
    if (cbs)
        s->cbs = *cbs;
    s->user = user;
    s->out = g_byte_array_new();
    s->timer = perc_deadline_timer_new(ctx, stream_on_timer, s);
    s->started_ns = s->last_rx_ns = perc_clock_now_ns();
    return s;
}

static uint64_t add_ms(uint64_t t, uint32_t ms)
{
    return t + (uint64_t)ms * PERC_NSEC_PER_MSEC;
}

/* The earliest deadline of the current state. */
static void stream_rearm(perc_tls_stream *s)
{
    if (!s->timer || s->st == ST_FAILED || s->st == ST_DONE)
        return;
    uint64_t d = PERC_DEADLINE_NONE;
    switch (s->st) {
    case ST_CONNECTING:
    case ST_HANDSHAKING:
        d = add_ms(s->started_ns, s->opt.handshake_timeout_ms);
        break;
    case ST_OPEN:
        break;
    case ST_CLOSING:
        d = s->linger_deadline_ns;
        break;
    default:
        return;
    }
    if (s->opt.idle_timeout_ms && s->st != ST_CLOSING) {
        uint64_t idle = add_ms(s->last_rx_ns, s->opt.idle_timeout_ms);
        if (idle < d)
            d = idle;
    }
    perc_deadline_timer_arm(s->timer, d);
}

/* Ends the stream: records why, gives the TLS layer's last words (an alert)
 * one non-blocking chance to leave, closes the socket, and lets the timer
 * fire `closed` on the next loop iteration. */
static void stream_fail_literal(perc_tls_stream *s, const char *reason)
{
    if (s->st >= ST_FAILED)
        return;
    if (!s->reason)
        s->reason = g_strdup(reason);
    s->st = ST_FAILED;
    if (s->sock && s->tls) {
        uint8_t buf[4096];
        size_t n = 0;
        if (s->out->len == s->out_off && perc_tls_pending_send(s->tls, buf, sizeof buf, &n) == 0 &&
            n > 0)
            (void)g_socket_send(s->sock, (const gchar *)buf, n, NULL, NULL);
        OPENSSL_cleanse(buf, sizeof buf);
    }
    fdwatch_free(s->watch);
    s->watch = NULL;
    if (s->connect_cancel)
        g_cancellable_cancel(s->connect_cancel);
    if (s->sock)
        g_socket_shutdown(s->sock, TRUE, TRUE, NULL);
    perc_deadline_timer_arm(s->timer, 0);
}

static void stream_fail(perc_tls_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    stream_fail_literal(s, reason);
    g_free(reason);
}

static void client_stream_done(perc_tls_client *cli, perc_tls_stream *s);

/* Fires `closed` and detaches the stream from its owner. Runs from the
 * stream's timer. */
static void stream_finish(perc_tls_stream *s)
{
    if (s->st == ST_DONE)
        return;
    s->st = ST_DONE;
    stream_ref(s);
    const char *reason = s->reason ? s->reason : "closed";
    perc_log_debug("tls %s %s: closed: %s", s->is_client ? "to" : "from", s->peer, reason);
    /* The timer is freed here, from inside its own callback: allowed. */
    stream_release_io(s);
    if (s->cbs.closed)
        s->cbs.closed(s->user, s, reason);
    if (s->server) {
        perc_tls_server *srv = s->server;
        s->server = NULL;
        g_hash_table_remove(srv->streams, s); /* drops the table's reference */
    } else if (s->client) {
        perc_tls_client *cli = s->client;
        s->client = NULL;
        client_stream_done(cli, s);
    }
    stream_unref(s);
}

/* Drops a stream without any callback (its owner is going away). */
static void stream_drop_silently(perc_tls_stream *s)
{
    s->server = NULL;
    s->client = NULL;
    if (s->st == ST_OPEN && s->tls && s->sock) {
        /* close_notify, once, without waiting. */
        if (perc_tls_close(s->tls) == 0) {
            uint8_t buf[4096];
            size_t n = 0;
            if (s->out->len == s->out_off &&
                perc_tls_pending_send(s->tls, buf, sizeof buf, &n) == 0 && n > 0)
                (void)g_socket_send(s->sock, (const gchar *)buf, n, NULL, NULL);
            OPENSSL_cleanse(buf, sizeof buf);
        }
    }
    s->st = ST_DONE;
    stream_release_io(s);
    stream_unref(s);
}

/* ---- socket I/O ------------------------------------------------------------- */

static void stream_update_watch(perc_tls_stream *s, gboolean want_out)
{
    if (!s->watch)
        return;
    GIOCondition c = (s->st == ST_CLOSING ? 0 : G_IO_IN) | (want_out ? G_IO_OUT : 0);
    fdwatch_set(s->watch, c);
}

/* Moves encrypted bytes from perc_tls to the socket until either runs dry.
 * A short write leaves the rest in s->out and waits for G_IO_OUT. */
static void stream_flush(perc_tls_stream *s)
{
    if (!s->sock || !s->tls || s->st >= ST_FAILED)
        return;
    for (;;) {
        if (s->out_off == s->out->len) {
            g_byte_array_set_size(s->out, 0);
            s->out_off = 0;
            size_t pending = perc_tls_pending_len(s->tls);
            if (pending == 0)
                break;
            g_byte_array_set_size(s->out, (guint)MIN(pending, (size_t)1 << 20));
            size_t got = 0;
            if (perc_tls_pending_send(s->tls, s->out->data, s->out->len, &got) != 0) {
                stream_fail(s, "internal: cannot take TLS output");
                return;
            }
            g_byte_array_set_size(s->out, (guint)got);
            if (got == 0)
                break;
        }
        GError *err = NULL;
        gssize n = g_socket_send(s->sock, (const gchar *)s->out->data + s->out_off,
                                 s->out->len - s->out_off, NULL, &err);
        if (n < 0) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                g_error_free(err);
                stream_update_watch(s, TRUE);
                return;
            }
            stream_fail(s, "send: %s", err->message);
            g_error_free(err);
            return;
        }
        s->out_off += (size_t)n;
    }
    stream_update_watch(s, FALSE);
    if (s->st == ST_CLOSING)
        stream_fail_literal(s, "closed locally"); /* drained: done */
}

/* After bytes went into perc_tls: report the handshake, hand out
 * application data, notice a close or failure, send what it produced.
 * Returns FALSE when the stream must not be touched further by the caller's
 * loop (it failed, closed, or a callback closed it). */
static gboolean stream_process(perc_tls_stream *s, int rc)
{
    if (rc != 0) {
        stream_fail(s, "%s", perc_tls_reason(s->tls)[0] ? perc_tls_reason(s->tls)
                                                        : perc_strerror(rc));
        return FALSE;
    }
    if (s->st == ST_HANDSHAKING && perc_tls_get_state(s->tls) == PERC_TLS_OPEN) {
        s->st = ST_OPEN;
        s->has_fp = perc_tls_peer_fingerprint(s->tls, s->fp) == 0;
        if (s->client)
            s->client->backoff_ms = s->opt.backoff_initial_ms; /* success resets */
        stream_rearm(s);
        if (perc_log_enabled(PERC_LOG_DEBUG)) {
            char fp_text[PERC_TLS_FINGERPRINT_TEXT_LEN + 1] = "?";
            if (s->has_fp && perc_tls_fingerprint_format(s->fp, fp_text, sizeof fp_text) != 0)
                g_strlcpy(fp_text, "?", sizeof fp_text);
            perc_log_debug("tls %s %s: open, peer certificate %s", s->is_client ? "to" : "from",
                           s->peer, fp_text);
        }
        stream_flush(s);
        if (s->st != ST_OPEN)
            return FALSE;
        if (s->cbs.opened)
            s->cbs.opened(s->user, s, s->fp);
        if (s->st != ST_OPEN)
            return FALSE;
    }
    uint8_t buf[READ_CHUNK];
    while (s->st == ST_OPEN) {
        size_t got = 0;
        rc = perc_tls_read(s->tls, buf, sizeof buf, &got);
        if (rc != 0) {
            OPENSSL_cleanse(buf, sizeof buf);
            stream_fail(s, "%s", perc_tls_reason(s->tls)[0] ? perc_tls_reason(s->tls)
                                                            : perc_strerror(rc));
            return FALSE;
        }
        if (got == 0)
            break;
        if (s->cbs.data)
            s->cbs.data(s->user, s, buf, got);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (s->st >= ST_FAILED)
        return FALSE;
    perc_tls_state ts = perc_tls_get_state(s->tls);
    if (ts == PERC_TLS_CLOSED && s->st != ST_CLOSING) {
        /* The peer's close_notify: ours is queued; send it and finish. */
        stream_flush(s);
        stream_fail_literal(s, perc_tls_reason(s->tls)[0] ? perc_tls_reason(s->tls)
                                                          : "peer closed the connection");
        return FALSE;
    }
    stream_flush(s);
    return s->st < ST_FAILED;
}

static void stream_on_readable(perc_tls_stream *s)
{
    uint8_t buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_WAKE && s->st < ST_CLOSING; i++) {
        GError *err = NULL;
        gssize n = g_socket_receive(s->sock, (gchar *)buf, sizeof buf, NULL, &err);
        if (n < 0) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                g_error_free(err);
                break;
            }
            stream_fail(s, "receive: %s", err->message);
            g_error_free(err);
            break;
        }
        if (n == 0) {
            if (perc_tls_recv_eof(s->tls) != 0)
                stream_fail_literal(s, perc_tls_reason(s->tls));
            else
                stream_fail_literal(s, "peer closed the connection");
            break;
        }
        s->last_rx_ns = perc_clock_now_ns();
        int rc = perc_tls_recv(s->tls, buf, (size_t)n);
        if (!stream_process(s, rc))
            break;
        stream_rearm(s);
    }
}

static void stream_on_io(void *user, GIOCondition ready)
{
    perc_tls_stream *s = stream_ref(user);
    if (s->st == ST_HANDSHAKING || s->st == ST_OPEN) {
        if (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR))
            stream_on_readable(s);
    } else if (s->st == ST_CLOSING && (ready & (G_IO_HUP | G_IO_ERR))) {
        stream_fail_literal(s, "closed locally");
    }
    if (s->st < ST_FAILED && (ready & G_IO_OUT))
        stream_flush(s);
    stream_unref(s);
}

static void stream_on_timer(void *user, uint64_t now)
{
    perc_tls_stream *s = stream_ref(user);
    switch (s->st) {
    case ST_FAILED:
        stream_finish(s);
        break;
    case ST_CONNECTING:
    case ST_HANDSHAKING:
        if (now >= add_ms(s->started_ns, s->opt.handshake_timeout_ms)) {
            stream_fail(s, "%s timeout after %u ms",
                        s->st == ST_CONNECTING ? "connect" : "TLS handshake",
                        (unsigned)s->opt.handshake_timeout_ms);
            break;
        }
        /* The idle deadline may be the one that expired. */
        G_GNUC_FALLTHROUGH;
    case ST_OPEN:
        if (s->opt.idle_timeout_ms && now >= add_ms(s->last_rx_ns, s->opt.idle_timeout_ms)) {
            stream_fail(s, "idle timeout: nothing received for %u ms",
                        (unsigned)s->opt.idle_timeout_ms);
            break;
        }
        stream_rearm(s);
        break;
    case ST_CLOSING:
        if (now >= s->linger_deadline_ns)
            stream_fail_literal(s, "closed locally (peer did not drain in time)");
        else
            stream_rearm(s);
        break;
    case ST_DONE:
        break;
    }
    stream_unref(s);
}

static void stream_set_socket(perc_tls_stream *s, GSocket *sock)
{
    s->sock = sock;
    g_socket_set_blocking(sock, FALSE);
    /* Tunnel messages are small and latency matters more than packing. */
    if (g_socket_get_family(sock) != G_SOCKET_FAMILY_UNIX)
        (void)g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    GSocketAddress *remote = g_socket_get_remote_address(sock, NULL);
    if (remote) {
        perc_sockaddr_format(remote, s->peer, sizeof s->peer);
        g_object_unref(remote);
    }
    s->watch = fdwatch_new(s->ctx, g_socket_get_fd(sock), G_IO_IN, stream_on_io, s);
}

/* Creates the perc_tls and sends what it starts with (a client's
 * ClientHello). */
static gboolean stream_start_tls(perc_tls_stream *s)
{
    int rc = perc_tls_new(s->tls_ctx, &s->tls);
    if (rc != 0) {
        stream_fail(s, "cannot create the TLS connection: %s", perc_strerror(rc));
        return FALSE;
    }
    s->st = ST_HANDSHAKING;
    s->started_ns = s->last_rx_ns = perc_clock_now_ns();
    stream_rearm(s);
    stream_flush(s);
    return s->st < ST_FAILED;
}

/* ---- public stream calls ------------------------------------------------------ */

gboolean perc_tls_stream_write(perc_tls_stream *s, const uint8_t *data, size_t len,
                               GError **error)
{
    g_return_val_if_fail(s != NULL && (data != NULL || len == 0), FALSE);
    if (s->st != ST_OPEN) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "tls %s: not open (%s)", s->peer,
                    s->st < ST_OPEN ? "handshaking" : "closing or closed");
        return FALSE;
    }
    if (len == 0)
        return TRUE;
    size_t queued = perc_tls_stream_queued(s);
    /* TLS adds about 22 bytes per record of at most 16 KiB; count them so
     * the bound holds for what actually waits. */
    size_t overhead = (len / 16384 + 1) * 32;
    if (len > s->opt.max_send_buffer || queued + len + overhead > s->opt.max_send_buffer) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "tls %s: send queue full (%zu bytes queued, %zu more refused)", s->peer,
                    queued, len);
        return FALSE;
    }
    int rc = perc_tls_write(s->tls, data, len);
    if (rc != 0) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_TLS, "tls %s: write: %s",
                    s->peer, perc_strerror(rc));
        stream_fail(s, "%s", perc_tls_reason(s->tls)[0] ? perc_tls_reason(s->tls)
                                                        : perc_strerror(rc));
        return FALSE;
    }
    stream_flush(s);
    return TRUE;
}

void perc_tls_stream_close(perc_tls_stream *s)
{
    g_return_if_fail(s != NULL);
    if (s->st >= ST_CLOSING)
        return;
    if (s->st != ST_OPEN) {
        stream_fail_literal(s, "closed locally");
        return;
    }
    if (perc_tls_close(s->tls) != 0) {
        stream_fail_literal(s, "closed locally");
        return;
    }
    s->reason = g_strdup("closed locally");
    s->st = ST_CLOSING;
    s->linger_deadline_ns = add_ms(perc_clock_now_ns(), s->opt.close_linger_ms);
    stream_rearm(s);
    stream_flush(s);
}

gboolean perc_tls_stream_is_open(const perc_tls_stream *s)
{
    return s && s->st == ST_OPEN;
}

size_t perc_tls_stream_queued(const perc_tls_stream *s)
{
    if (!s || !s->tls)
        return 0;
    return (s->out->len - s->out_off) + perc_tls_pending_len(s->tls);
}

const char *perc_tls_stream_peer(const perc_tls_stream *s)
{
    return s ? s->peer : "";
}

gboolean perc_tls_stream_fingerprint(const perc_tls_stream *s,
                                     uint8_t out[PERC_TLS_FINGERPRINT_LEN])
{
    if (!s || !s->has_fp)
        return FALSE;
    memcpy(out, s->fp, PERC_TLS_FINGERPRINT_LEN);
    return TRUE;
}

gboolean perc_tls_stream_is_client(const perc_tls_stream *s)
{
    return s && s->is_client;
}

void perc_tls_stream_set_data(perc_tls_stream *s, void *data)
{
    g_return_if_fail(s != NULL);
    s->data = data;
}

void *perc_tls_stream_get_data(const perc_tls_stream *s)
{
    return s ? s->data : NULL;
}

/* ---- server ------------------------------------------------------------------- */

static gboolean ctx_has_role(perc_tls_ctx *tls_ctx, perc_tls_role role, GError **error)
{
    perc_tls *probe = NULL;
    int rc = perc_tls_new(tls_ctx, &probe);
    if (rc != 0) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_TLS,
                    "cannot create a TLS connection: %s", perc_strerror(rc));
        return FALSE;
    }
    gboolean ok = perc_tls_get_role(probe) == role;
    perc_tls_free(probe);
    if (!ok)
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "the TLS context is not a %s context",
                    role == PERC_TLS_SERVER ? "server" : "client");
    return ok;
}

static void server_on_accept(void *user, GIOCondition ready)
{
    (void)ready;
    perc_tls_server *srv = user;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        GError *err = NULL;
        GSocket *sock = g_socket_accept(srv->listener, NULL, &err);
        if (!sock) {
            if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                perc_log_warn("tls server port %u: accept: %s", (unsigned)srv->port,
                              err->message);
            g_error_free(err);
            return;
        }
        perc_tls_stream *s = stream_new(srv->ctx, srv->tls_ctx, &srv->opt, &srv->cbs, srv->user);
        s->server = srv;
        stream_set_socket(s, sock);
        g_hash_table_add(srv->streams, s); /* takes the initial reference */
        perc_log_debug("tls server port %u: connection from %s", (unsigned)srv->port, s->peer);
        (void)stream_start_tls(s);
    }
}

perc_tls_server *perc_tls_server_new(GMainContext *ctx, perc_tls_ctx *tls_ctx,
                                     const perc_hostport *listen,
                                     const perc_tls_stream_options *opts,
                                     const perc_tls_stream_callbacks *cbs, void *user,
                                     GError **error)
{
    g_return_val_if_fail(tls_ctx != NULL && listen != NULL, NULL);
    perc_tls_stream_options opt;
    if (!options_take(&opt, opts, error) || !ctx_has_role(tls_ctx, PERC_TLS_SERVER, error))
        return NULL;
    GSocketAddress *addr = perc_hostport_resolve(listen, error);
    if (!addr)
        return NULL;
    char *text = perc_hostport_to_string(listen);
    GSocket *sock = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, error);
    if (!sock)
        goto fail;
    g_socket_set_blocking(sock, FALSE);
    if (!g_socket_bind(sock, addr, TRUE, error) || !g_socket_listen(sock, error)) {
        g_prefix_error(error, "listen %s: ", text);
        g_object_unref(sock);
        goto fail;
    }
    perc_tls_server *srv = g_new0(perc_tls_server, 1);
    srv->ctx = ctx;
    srv->tls_ctx = tls_ctx;
    srv->opt = opt;
    if (cbs)
        srv->cbs = *cbs;
    srv->user = user;
    srv->listener = sock;
    GSocketAddress *local = g_socket_get_local_address(sock, NULL);
    srv->port = perc_sockaddr_port(local);
    if (local)
        g_object_unref(local);
    srv->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal,
                                         (GDestroyNotify)stream_unref, NULL);
    srv->watch = fdwatch_new(ctx, g_socket_get_fd(sock), G_IO_IN, server_on_accept, srv);
    perc_log_debug("tls server listening on %s (port %u)", text, (unsigned)srv->port);
    g_object_unref(addr);
    g_free(text);
    return srv;
fail:
    g_object_unref(addr);
    g_free(text);
    return NULL;
}

uint16_t perc_tls_server_port(const perc_tls_server *srv)
{
    return srv ? srv->port : 0;
}

size_t perc_tls_server_stream_count(const perc_tls_server *srv)
{
    return srv ? g_hash_table_size(srv->streams) : 0;
}

void perc_tls_server_free(perc_tls_server *srv)
{
    if (!srv)
        return;
    fdwatch_free(srv->watch);
    g_socket_close(srv->listener, NULL);
    g_object_unref(srv->listener);
    /* Take the streams out first, then drop each (its reference was the
     * table's); a stream whose callback is running right now stays alive
     * until that dispatch returns, detached. */
    GList *keys = g_hash_table_get_keys(srv->streams);
    g_hash_table_steal_all(srv->streams);
    for (GList *l = keys; l; l = l->next)
        stream_drop_silently(l->data);
    g_list_free(keys);
    g_hash_table_unref(srv->streams);
    g_free(srv);
}

/* ---- client ------------------------------------------------------------------- */

static void client_on_retry(void *user, uint64_t now)
{
    (void)now;
    client_connect(user);
}

/* The current stream ended: schedule the next attempt. */
static void client_stream_done(perc_tls_client *cli, perc_tls_stream *s)
{
    if (cli->cur == s) {
        cli->cur = NULL;
        stream_unref(s);
    }
    uint32_t delay = cli->backoff_ms;
    perc_log_debug("tls to %s: reconnecting in %u ms", cli->peer_text, (unsigned)delay);
    perc_deadline_timer_arm_in_ms(cli->retry, delay);
    uint64_t next = (uint64_t)delay * 2;
    cli->backoff_ms = next > cli->opt.backoff_max_ms ? cli->opt.backoff_max_ms : (uint32_t)next;
}

static void client_on_connected(GObject *source, GAsyncResult *res, gpointer data)
{
    perc_tls_stream *s = data; /* the reference taken for this operation */
    GError *err = NULL;
    GSocketConnection *conn =
        g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &err);
    if (s->st != ST_CONNECTING) {
        /* Timed out, or dropped with its client: the connection (if any)
         * arrived too late. */
        if (conn)
            g_object_unref(conn);
        if (err)
            g_error_free(err);
        stream_unref(s);
        return;
    }
    g_clear_object(&s->connect_cancel);
    if (!conn) {
        stream_fail(s, "connect to %s: %s", s->peer, err->message);
        g_error_free(err);
        stream_unref(s);
        return;
    }
    s->conn = conn;
    stream_set_socket(s, g_socket_connection_get_socket(conn));
    (void)stream_start_tls(s);
    stream_unref(s);
}

static void client_connect(perc_tls_client *cli)
{
    perc_tls_stream *s = stream_new(cli->ctx, cli->tls_ctx, &cli->opt, &cli->cbs, cli->user);
    s->is_client = TRUE;
    s->client = cli;
    s->st = ST_CONNECTING;
    g_strlcpy(s->peer, cli->peer_text, sizeof s->peer);
    cli->cur = s; /* the initial reference */
    stream_rearm(s);

    GSocketClient *gc = g_socket_client_new();
    /* A daemon connects where it is told: no proxy from the environment. */
    g_socket_client_set_enable_proxy(gc, FALSE);
    guint secs = (cli->opt.handshake_timeout_ms + 999) / 1000;
    g_socket_client_set_timeout(gc, secs);
    GSocketConnectable *addr = g_network_address_new(cli->peer.host, cli->peer.port);
    s->connect_cancel = g_cancellable_new();
    /* The completion is delivered on the thread-default context at the time
     * of the call: make that ours. */
    GMainContext *ctx = cli->ctx ? cli->ctx : g_main_context_default();
    g_main_context_push_thread_default(ctx);
    g_socket_client_connect_async(gc, addr, s->connect_cancel, client_on_connected,
                                  stream_ref(s));
    g_main_context_pop_thread_default(ctx);
    g_object_unref(addr);
    g_object_unref(gc);
}

perc_tls_client *perc_tls_client_new(GMainContext *ctx, perc_tls_ctx *tls_ctx,
                                     const perc_hostport *peer,
                                     const perc_tls_stream_options *opts,
                                     const perc_tls_stream_callbacks *cbs, void *user,
                                     GError **error)
{
    g_return_val_if_fail(tls_ctx != NULL && peer != NULL, NULL);
    perc_tls_stream_options opt;
    if (!options_take(&opt, opts, error) || !ctx_has_role(tls_ctx, PERC_TLS_CLIENT, error))
        return NULL;
    if (peer->port == 0) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "cannot connect to port 0");
        return NULL;
    }
    perc_tls_client *cli = g_new0(perc_tls_client, 1);
    cli->ctx = ctx;
    cli->tls_ctx = tls_ctx;
    cli->opt = opt;
    if (cbs)
        cli->cbs = *cbs;
    cli->user = user;
    cli->peer = *peer;
    cli->peer_text = perc_hostport_to_string(peer);
    cli->backoff_ms = opt.backoff_initial_ms;
    cli->retry = perc_deadline_timer_new(ctx, client_on_retry, cli);
    client_connect(cli);
    return cli;
}

perc_tls_stream *perc_tls_client_stream(perc_tls_client *cli)
{
    return cli && cli->cur && cli->cur->st == ST_OPEN ? cli->cur : NULL;
}

uint32_t perc_tls_client_backoff_ms(const perc_tls_client *cli)
{
    return cli ? cli->backoff_ms : 0;
}

void perc_tls_client_free(perc_tls_client *cli)
{
    if (!cli)
        return;
    perc_deadline_timer_free(cli->retry);
    if (cli->cur) {
        perc_tls_stream *s = cli->cur;
        cli->cur = NULL;
        stream_drop_silently(s);
    }
    g_free(cli->peer_text);
    g_free(cli);
}
