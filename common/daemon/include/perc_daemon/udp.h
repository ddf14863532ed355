/* A UDP socket on the GLib main loop: bound to HOST:PORT (IPv4 or IPv6),
 * non-blocking, every datagram delivered with its source address. For
 * tests, and for plain-UDP links (e.g. a cascade link between Media
 * Distributors); endpoint <-> Media Distributor traffic goes through
 * libnice instead.
 */
#ifndef PERC_DAEMON_UDP_H
#define PERC_DAEMON_UDP_H

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "perc_daemon/addr.h"

#define PERC_UDP_MAX_DATAGRAM 65535

typedef struct perc_udp perc_udp;

/* One datagram. `from` is valid during the call only (g_object_ref to keep
 * it). The callback may send, and may free the socket. */
typedef void (*perc_udp_recv_fn)(void *user, perc_udp *udp, const uint8_t *data, size_t len,
                                 GSocketAddress *from);

/* Binds to `bind_addr` (port 0: any free port; a name is resolved
 * synchronously) and starts receiving on `ctx` (NULL: the default
 * context). An IPv6 wildcard ("[::]:P") also receives IPv4 where the
 * system allows dual-stack sockets. Errors: G_IO_ERROR (e.g.
 * G_IO_ERROR_ADDRESS_IN_USE) prefixed with "bind <addr>: ", or
 * G_RESOLVER_ERROR. */
G_GNUC_WARN_UNUSED_RESULT perc_udp *perc_udp_new(GMainContext *ctx,
                                                 const perc_hostport *bind_addr,
                                                 perc_udp_recv_fn fn, void *user,
                                                 GError **error);

/* The bound port (the actual one when 0 was asked for). */
uint16_t perc_udp_local_port(const perc_udp *udp);

/* The bound address (g_object_unref). */
GSocketAddress *perc_udp_local_address(const perc_udp *udp);

/* Sends one datagram now. UDP semantics: when the socket buffer is full the
 * datagram is dropped and G_IO_ERROR_WOULD_BLOCK returned; nothing is
 * queued. Other errors: G_IO_ERROR (e.g. network unreachable), and
 * PERC_DAEMON_ERROR_LIMIT for len > PERC_UDP_MAX_DATAGRAM. */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_udp_send(perc_udp *udp, GSocketAddress *to,
                                                 const uint8_t *data, size_t len,
                                                 GError **error);

/* Closes the socket. Safe from inside the receive callback. NULL is fine. */
void perc_udp_free(perc_udp *udp);

#endif
