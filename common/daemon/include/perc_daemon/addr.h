/* "host:port" text, as the daemons' --listen and --connect options take it,
 * and socket addresses.
 *
 * Accepted forms:
 *     127.0.0.1:4433      an IPv4 literal
 *     [::1]:4433          an IPv6 literal, always in brackets
 *     kmf.example:4433    a DNS name (letters, digits, '-', '.'; labels of at
 *                         most 63 and names of at most 253 octets)
 * The port is decimal, 0..65535 (0 = any free port, for a listener).
 * "::1:4433" is refused: without brackets the port cannot be told apart.
 */
#ifndef PERC_DAEMON_ADDR_H
#define PERC_DAEMON_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#define PERC_HOST_MAX 253

typedef enum perc_host_kind {
    PERC_HOST_IPV4 = 4,
    PERC_HOST_IPV6 = 6,
    PERC_HOST_NAME = 1,
} perc_host_kind;

typedef struct perc_hostport {
    char host[PERC_HOST_MAX + 1]; /* without brackets, NUL-terminated */
    uint16_t port;
    perc_host_kind kind;
} perc_hostport;

/* Parses text into *out. On failure returns FALSE with a
 * PERC_DAEMON_ERROR_INVALID error saying what is wrong (no "--option"
 * prefix: the caller adds its own context). */
G_GNUC_WARN_UNUSED_RESULT gboolean perc_hostport_parse(const char *text, perc_hostport *out,
                                                      GError **error);

/* "127.0.0.1:4433", "[::1]:4433", "kmf.example:4433". Returns a new string
 * (g_free). */
char *perc_hostport_to_string(const perc_hostport *hp);

/* A socket address for hp. A literal is converted directly; a name is
 * resolved with the system resolver, synchronously (the first address
 * returned wins): use it at startup, not on a busy loop. Errors:
 * G_RESOLVER_ERROR from the resolver. Unref the result. */
G_GNUC_WARN_UNUSED_RESULT GSocketAddress *perc_hostport_resolve(const perc_hostport *hp,
                                                                GError **error);

/* "127.0.0.1:5000" or "[::1]:5000" for an inet socket address, "?" for
 * anything else. Writes at most cap bytes including the NUL; 64 is always
 * enough. Returns out. */
#define PERC_SOCKADDR_TEXT_MAX 64
char *perc_sockaddr_format(GSocketAddress *addr, char *out, size_t cap);

/* The port of an inet socket address, 0 otherwise. */
uint16_t perc_sockaddr_port(GSocketAddress *addr);

#endif
