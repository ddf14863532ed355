/* The tunnel server: Media Distributors connect over mutually authenticated
 * TLS 1.3 (RFC 9185 §5.2; perc_daemon/tls_stream.h). Each OPEN connection
 * is a tunnel session of the core, named by the Media Distributor's
 * certificate fingerprint (so a reconnecting MD adopts its associations);
 * bytes go to perc_kmf_tunnel_recv, and what the core queues goes back.
 * A connection whose session failed (garbage, a malformed TunnelMessage) is
 * drained, closed and removed; the others are not affected. */
#include <string.h>

#include "kmfd.h"
#include "perc/dtls.h"
#include "perc_daemon/log.h"

typedef struct kmf_tunnel {
    kmfd *d;
    perc_tls_stream *s;
    uint64_t conn_id;           /* the core's; 0 until added */
    bool closing;
    char name[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    char peer[64];
} kmf_tunnel;

static uint8_t g_buf[65536 + 64];

/* Moves what the core has for t to its stream; closes t if its session
 * failed. */
static void flush_one(kmfd *d, kmf_tunnel *t)
{
    if (t->conn_id == 0)
        return;
    for (;;) {
        size_t len = 0;
        int rc = perc_kmf_tunnel_pending(d->kmf, t->conn_id, g_buf, sizeof g_buf, &len);
        if (rc != PERC_OK || len == 0)
            break;
        if (t->closing || !perc_tls_stream_is_open(t->s))
            continue; /* drained and dropped */
        GError *err = NULL;
        if (!perc_tls_stream_write(t->s, g_buf, len, &err)) {
            perc_log_warn("tunnel %s (%s): write failed: %s; closing it", t->peer, t->name,
                          err->message);
            g_error_free(err);
            t->closing = true;
            perc_tls_stream_close(t->s);
        }
    }
    perc_kmf_tunnel_info info;
    if (!t->closing && perc_kmf_tunnel_info_get(d->kmf, t->conn_id, &info) == PERC_OK &&
        info.state == PERC_TUNNEL_KD_FAILED) {
        perc_log_warn("tunnel %s (%s): dropped: %s", t->peer, t->name,
                      perc_strerror(info.failure));
        t->closing = true;
        perc_tls_stream_close(t->s);
    }
}

void kmf_tunnel_flush(kmfd *d)
{
    if (!d->tunnels)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->tunnels);
    while (g_hash_table_iter_next(&it, &k, &v))
        flush_one(d, v);
}

void kmf_tunnel_on_event(kmfd *d, const perc_kmf_event *ev)
{
    (void)d;
    (void)ev;
    /* PERC_KMF_EV_TUNNEL_FAILED: handled in flush_one(), after the call
     * returns (the stream may not be touched from inside the core). */
}

static void on_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    kmfd *d = user;
    kmf_tunnel *t = g_new0(kmf_tunnel, 1);
    t->d = d;
    t->s = s;
    g_strlcpy(t->peer, perc_tls_stream_peer(s), sizeof t->peer);
    if (perc_dtls_fingerprint_format(fp, t->name, sizeof t->name) != PERC_OK)
        g_strlcpy(t->name, "?", sizeof t->name);
    perc_tls_stream_set_data(s, t);
    int rc = perc_kmf_tunnel_add(d->kmf, t->name, perc_clock_now_ns(), &t->conn_id);
    if (rc != PERC_OK) {
        perc_log_warn("tunnel from %s (%s) refused: %s", t->peer, t->name, perc_strerror(rc));
        t->conn_id = 0;
        t->closing = true;
        perc_tls_stream_close(s);
        return;
    }
    g_hash_table_insert(d->tunnels, g_memdup2(&t->conn_id, sizeof t->conn_id), t);
    perc_log_info("tunnel %" G_GUINT64_FORMAT " from %s opened (Media Distributor %s)",
                  t->conn_id, t->peer, t->name);
    kmfd_after(d);
}

static void on_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    kmfd *d = user;
    kmf_tunnel *t = perc_tls_stream_get_data(s);
    if (!t || t->conn_id == 0 || t->closing)
        return;
    int rc = perc_kmf_tunnel_recv(d->kmf, t->conn_id, data, len, perc_clock_now_ns());
    if (rc != PERC_OK)
        perc_log_debug("tunnel %" G_GUINT64_FORMAT ": recv: %s", t->conn_id, perc_strerror(rc));
    /* A failure is seen (and the connection closed) by flush_one. */
    kmfd_after(d);
}

static void on_closed(void *user, perc_tls_stream *s, const char *reason)
{
    kmfd *d = user;
    kmf_tunnel *t = perc_tls_stream_get_data(s);
    if (!t) {
        perc_log_info("tunnel connection from %s ended before it opened: %s",
                      perc_tls_stream_peer(s), reason);
        return;
    }
    perc_log_info("tunnel %" G_GUINT64_FORMAT " from %s closed: %s", t->conn_id, t->peer, reason);
    if (t->conn_id) {
        g_hash_table_remove(d->tunnels, &t->conn_id);
        int rc = perc_kmf_tunnel_remove(d->kmf, t->conn_id, perc_clock_now_ns());
        if (rc != PERC_OK)
            perc_log_warn("tunnel %" G_GUINT64_FORMAT ": remove: %s", t->conn_id,
                          perc_strerror(rc));
    }
    g_free(t);
    kmfd_after(d);
}

static const perc_tls_stream_callbacks cbs = {on_opened, on_data, on_closed};

gboolean kmf_tunnel_start(kmfd *d, const perc_hostport *listen, uint32_t idle_timeout_ms,
                          GError **error)
{
    d->tunnels = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    perc_tls_stream_options o;
    perc_tls_stream_options_init(&o);
    o.idle_timeout_ms = idle_timeout_ms;
    d->srv = perc_tls_server_new(g_main_loop_get_context(d->loop), d->tls_ctx, listen, &o, &cbs,
                                 d, error);
    if (!d->srv)
        return FALSE;
    perc_log_info("tunnel server listening on port %u", (unsigned)perc_tls_server_port(d->srv));
    return TRUE;
}

void kmf_tunnel_stop(kmfd *d)
{
    if (d->tunnels) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, d->tunnels);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            kmf_tunnel *t = v;
            int rc = perc_kmf_tunnel_remove(d->kmf, t->conn_id, perc_clock_now_ns());
            (void)rc;
            g_free(t);
        }
        g_hash_table_destroy(d->tunnels);
        d->tunnels = NULL;
    }
    /* Drops every stream (close_notify attempted), no callbacks. */
    perc_tls_server_free(d->srv);
    d->srv = NULL;
}
