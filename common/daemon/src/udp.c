/* UDP on the GLib main loop (see perc_daemon/udp.h). */
#include "perc_daemon/udp.h"

#include "fdwatch.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

/* Datagrams read per wake-up before other sources get their turn. */
#define UDP_BATCH 64

struct perc_udp {
    GSocket *sock;
    fdwatch *watch;
    perc_udp_recv_fn fn;
    void *user;
    uint16_t port;
    int busy;       /* inside the receive loop */
    gboolean freed; /* perc_udp_free was called while busy */
    uint8_t buf[PERC_UDP_MAX_DATAGRAM + 1];
};

static void udp_destroy(perc_udp *u)
{
    fdwatch_free(u->watch);
    g_socket_close(u->sock, NULL);
    g_object_unref(u->sock);
    g_free(u);
}

static void on_readable(void *user, GIOCondition ready)
{
    (void)ready;
    perc_udp *u = user;
    u->busy++;
    for (int i = 0; i < UDP_BATCH && !u->freed; i++) {
        GSocketAddress *from = NULL;
        GError *err = NULL;
        gssize n = g_socket_receive_from(u->sock, &from, (gchar *)u->buf, sizeof u->buf, NULL,
                                         &err);
        if (n < 0) {
            /* Anything but "no more" (an ICMP error surfacing) is not fatal
             * for an unconnected socket: note it and keep receiving. */
            if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                perc_log_debug("udp port %u: receive: %s", (unsigned)u->port, err->message);
            g_error_free(err);
            break;
        }
        if (u->fn)
            u->fn(u->user, u, u->buf, (size_t)n, from);
        if (from)
            g_object_unref(from);
    }
    if (--u->busy == 0 && u->freed)
        udp_destroy(u);
}

perc_udp *perc_udp_new(GMainContext *ctx, const perc_hostport *bind_addr, perc_udp_recv_fn fn,
                       void *user, GError **error)
{
    g_return_val_if_fail(bind_addr != NULL, NULL);
    GSocketAddress *addr = perc_hostport_resolve(bind_addr, error);
    if (!addr)
        return NULL;
    GSocket *sock = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_DATAGRAM,
                                 G_SOCKET_PROTOCOL_UDP, error);
    if (!sock) {
        g_object_unref(addr);
        return NULL;
    }
    g_socket_set_blocking(sock, FALSE);
    /* No address reuse: for UDP it would let two sockets share a port
     * silently (GLib sets SO_REUSEPORT too); a taken port must fail. */
    if (!g_socket_bind(sock, addr, FALSE, error)) {
        char *text = perc_hostport_to_string(bind_addr);
        g_prefix_error(error, "bind %s: ", text);
        g_free(text);
        g_object_unref(addr);
        g_object_unref(sock);
        return NULL;
    }
    g_object_unref(addr);
    perc_udp *u = g_new0(perc_udp, 1);
    u->sock = sock;
    u->fn = fn;
    u->user = user;
    GSocketAddress *local = g_socket_get_local_address(sock, NULL);
    u->port = perc_sockaddr_port(local);
    if (local)
        g_object_unref(local);
    u->watch = fdwatch_new(ctx, g_socket_get_fd(sock), G_IO_IN, on_readable, u);
    return u;
}

uint16_t perc_udp_local_port(const perc_udp *udp)
{
    return udp ? udp->port : 0;
}

GSocketAddress *perc_udp_local_address(const perc_udp *udp)
{
    g_return_val_if_fail(udp != NULL, NULL);
    return g_socket_get_local_address(udp->sock, NULL);
}

gboolean perc_udp_send(perc_udp *udp, GSocketAddress *to, const uint8_t *data, size_t len,
                       GError **error)
{
    g_return_val_if_fail(udp != NULL && to != NULL && (data != NULL || len == 0), FALSE);
    if (len > PERC_UDP_MAX_DATAGRAM) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "datagram of %zu bytes is larger than %u", len,
                    (unsigned)PERC_UDP_MAX_DATAGRAM);
        return FALSE;
    }
    gssize n = g_socket_send_to(udp->sock, to, (const gchar *)data, len, NULL, error);
    if (n < 0)
        return FALSE;
    return TRUE;
}

void perc_udp_free(perc_udp *udp)
{
    if (!udp)
        return;
    if (udp->busy) {
        udp->freed = TRUE;
        return;
    }
    udp_destroy(udp);
}
