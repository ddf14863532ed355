/* perc-kmf: the daemon around the sans-I/O KMF core (perc/kmf.h).
 *
 *   main.c            options, identities, the GLib loop, signals, wiring
 *   roster.c          the roster JSON file -> perc_kmf_set_roster/set_open
 *   signaling_link.c  the WebSocket client to perc-signaling (role "kmf")
 *   tunnel_server.c   the TLS server Media Distributors connect to
 *
 * Everything runs on one GLib main loop; after every call into the core the
 * daemon flushes what the core produced to every tunnel connection and
 * re-arms the deadline timer (kmfd_after()). */
#ifndef PERC_KMFD_H
#define PERC_KMFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc/kmf.h"
#include "perc/tls.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/tls_stream.h"
#include "perc_daemon/ws.h"
#include "roster.h"

typedef struct kmf_siglink kmf_siglink;

typedef struct kmfd {
    GMainLoop *loop;
    perc_kmf *kmf;
    perc_deadline_timer *timer;
    /* tunnel server */
    perc_tls_ctx *tls_ctx;
    perc_tls_server *srv;
    GHashTable *tunnels;        /* conn_id (guint64*) -> kmf_tunnel* */
    /* signaling */
    perc_ws_context *ws;
    kmf_siglink *sig;
    /* roster: conferences the roster file names (NULL: --open) */
    GHashTable *roster_confs;   /* char* -> itself */
    uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN];
} kmfd;

/* After every call into the core: flush tunnel output, close failed
 * tunnels, re-arm the timer. */
void kmfd_after(kmfd *d);

/* ---- tunnel_server.c ---- */

gboolean kmf_tunnel_start(kmfd *d, const perc_hostport *listen, uint32_t idle_timeout_ms,
                          GError **error);
/* Drains what the core has for every connection; closes failed ones. */
void kmf_tunnel_flush(kmfd *d);
/* A core event about a tunnel connection. */
void kmf_tunnel_on_event(kmfd *d, const perc_kmf_event *ev);
/* Closes every connection (close_notify attempted) and stops listening. */
void kmf_tunnel_stop(kmfd *d);

/* ---- signaling_link.c ---- */

typedef struct kmf_siglink_options {
    const char *url;
    const char *token;          /* a secret: never logged */
    const char *name;           /* our name in signaling */
    const char *ca_file;        /* wss trust anchors; NULL: system store */
} kmf_siglink_options;

kmf_siglink *kmf_siglink_new(kmfd *d, const kmf_siglink_options *opts, GError **error);
/* A core event: keyed (ADMITTED), epoch (REKEYED), bookkeeping (LEFT). */
void kmf_siglink_on_event(kmf_siglink *l, const perc_kmf_event *ev);
void kmf_siglink_free(kmf_siglink *l);

#endif
