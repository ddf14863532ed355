/* perc-mdd: the Media Distributor daemon around libperc's sans-I/O MD cores
 * (perc/mdd.h forwarding, perc/tunnel_md.h the RFC 9185 tunnel).
 *
 *   main.c            options, identities, the GLib loop, signals, wiring
 *   endpoints.c       one ICE-lite stream per endpoint; RFC 7983 demux of
 *                     what arrives: DTLS to the tunnel, SRTP/SRTCP to the
 *                     forwarding core; the core's output to the streams
 *   tunnel_client.c   the TLS client to the KMF carrying the tunnel
 *   signaling_link.c  the WebSocket client to perc-signaling (role "mdd")
 *   metrics.c         counters: HTTP /metrics and /stats.json, SIGUSR1
 *
 * Everything runs on one GLib main loop; after every call into a core the
 * daemon drains what it produced (mddd_after()).
 *
 * This program links perc_hop and perc_daemon only, never perc_e2e: it
 * cannot contain code that handles EKTKeys or end-to-end keys
 * (tests/invariants/mdd_binary_has_no_e2e.sh checks the binary). */
#ifndef PERC_MDDD_H
#define PERC_MDDD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "perc/mdd.h"
#include "perc/sdp.h"
#include "perc/tls.h"
#include "perc/tunnel_md.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/ice.h"
#include "perc_daemon/log.h"
#include "perc_daemon/tls_stream.h"
#include "perc_daemon/ws.h"

typedef struct mdd_siglink mdd_siglink;
typedef struct mdd_link mdd_link;
typedef struct mddd mddd;

/* Counters of what happened outside the forwarding core (the core keeps
 * its own per endpoint: perc_mdd_stats). */
typedef struct mdd_counters {
    uint64_t datagrams_in;
    uint64_t dtls_in;           /* relayed into the tunnel */
    uint64_t dtls_out;          /* from the tunnel to endpoints */
    uint64_t drop_not_media;    /* neither DTLS nor RTP/RTCP (RFC 7983) */
    uint64_t drop_no_tunnel;    /* DTLS while the tunnel is down */
    uint64_t drop_send;         /* the ICE stream could not send */
    uint64_t tunnel_dropped;    /* tunnel messages dropped (unknown association, ...) */
    uint64_t tunnel_connects;   /* tunnel connections opened */
    uint64_t keys_installed;    /* MediaKeys applied */
    uint64_t endpoints_gone;    /* removed by liveness */
    uint64_t drop_left;         /* media from an endpoint that has left */
    uint64_t drop_dtls_ended;   /* DTLS, not a ClientHello, after its association ended */
} mdd_counters;

typedef struct mdd_endpoint {
    mddd *d;
    uint64_t handle;            /* the cores' name for it */
    char *conference;
    char *participant;
    char *offer_re;             /* endpoint-offer id still to answer; NULL once answered */
    perc_ice_stream *ice;
    /* DTLS from the KMF that arrived before ICE could send (the lite agent
     * learns the pair only from the endpoint's nominating check): sent as
     * soon as it can, so the endpoint's first flight is not lost. */
    GQueue *held;
    bool keyed;                 /* MediaKeys installed */
    /* Signaling said it left: out of the forwarding core and of
     * d->endpoints, in d->leaving until linger_src fires (see
     * mdd_endpoint_leave). */
    bool leaving;
    guint linger_src;
    uint64_t bytes_in, bytes_out;
    /* Bit rates over the last metrics tick (bits per second). */
    uint64_t rate_in_bps, rate_out_bps;
    uint64_t last_bytes_in, last_bytes_out;
} mdd_endpoint;

struct mddd {
    GMainLoop *loop;
    perc_mdd *core;
    perc_deadline_timer *timer;
    /* endpoints */
    perc_ice_agent *ice;
    GHashTable *endpoints;      /* handle (uint64_t*) -> mdd_endpoint* (owned) */
    GHashTable *by_participant; /* "conf\x1fparticipant" -> mdd_endpoint* */
    GHashTable *leaving;        /* handle -> mdd_endpoint* that left (owned) */
    uint64_t next_handle;
    GHashTable *conf_ids;       /* conference name -> the core's group number */
    uint32_t next_conf_id;
    size_t capacity;
    uint64_t liveness_ns;       /* the core's timeout, for log lines */
    /* tunnel */
    perc_tls_ctx *tls_ctx;
    perc_tls_client *tls_cli;
    perc_tls_stream *tunnel;    /* the open stream, else NULL */
    perc_tunnel_md *tun;
    /* cascade links (links.c) */
    bool cascade;               /* announced to signaling */
    GHashTable *links;          /* handle (uint64_t*) -> mdd_link* (owned) */
    perc_ice_agent *link_agent_controlling; /* we are the link's DTLS client */
    perc_ice_agent *link_agent_controlled;
    X509 *link_cert;            /* self-signed, pinned by the peer MD */
    EVP_PKEY *link_key;
    uint8_t link_fp[PERC_TLS_FINGERPRINT_LEN];
    /* signaling and metrics */
    perc_ws_context *ws;
    mdd_siglink *sig;
    perc_ws_server *metrics;
    guint metrics_tick;
    mdd_counters n;
    /* The forwarding core's counters of endpoints and links already
     * removed, so the /metrics totals never go down. */
    perc_mdd_stats retired;
    perc_log_limiter lim_garbage, lim_core, lim_tunnel, lim_send;
};

/* After every call into a core: send the forwarding core's output, handle
 * its events, flush the tunnel, re-arm the timer. */
void mddd_after(mddd *d);

/* ---- endpoints.c ---- */

/* Creates the endpoint tables. */
void mdd_endpoints_init(mddd *d);
/* The forwarding core's group for a conference (media never crosses
 * groups): a small number per conference name, made on first use. */
uint32_t mdd_conference_group(mddd *d, const char *conference);

/* Creates an endpoint for an endpoint-offer: an ICE-lite stream with the
 * offer's credentials and candidates (its BUNDLE transport, the first
 * section), and a slot in the forwarding core. `re` is the request id to
 * answer once gathering is done. An existing endpoint for the same
 * participant is removed first. Errors: a message for the error reply. */
mdd_endpoint *mdd_endpoint_create(mddd *d, const char *conference, const char *participant,
                                  const perc_sdp *offer, const char *re, GError **error);
mdd_endpoint *mdd_endpoint_find(mddd *d, const char *conference, const char *participant);
/* Leaving endpoints included (the tunnel still relays for them). */
mdd_endpoint *mdd_endpoint_by_handle(mddd *d, uint64_t handle);
/* Removes the endpoint: its association is ended towards the KMF
 * (EndpointDisconnect, RFC 9185 §5.3) and its keys are wiped. The caller
 * runs mddd_after() when done. */
void mdd_endpoint_remove(mddd *d, mdd_endpoint *ep, const char *reason);
/* Signaling says the endpoint left (RFC 9185 §5.3: conference control
 * removes it). Its media stops at once: it leaves the forwarding core, its
 * hop keys are wiped, and a new endpoint of the same participant may come.
 * Its DTLS is still relayed, both ways, for MDD_LEAVE_LINGER_MS: the MD
 * forwards all DTLS messages (§5.3), and the endpoint's close_notify, sent
 * just before its leave, may arrive after the leave did (so may the KMF's
 * close_notify to it). Then EndpointDisconnect, and it is freed; at once
 * if the KMF ends the association first. */
#define MDD_LEAVE_LINGER_MS 1000
void mdd_endpoint_leave(mddd *d, mdd_endpoint *ep, const char *reason);
/* A leaving endpoint whose association the KMF ended: freed from the main
 * loop (not from inside the tunnel core's callback). */
void mdd_endpoint_leave_now(mdd_endpoint *ep);
/* Removes every endpoint, leaving ones included (signaling lost,
 * shutdown). */
void mdd_endpoint_remove_all(mddd *d, const char *reason);
/* Removes the handle from the forwarding core, wiping its keys; a handle
 * the core already dropped (liveness) is fine. */
void mdd_core_forget(mddd *d, uint64_t handle);
/* Sends a datagram to the endpoint (from the tunnel or the core). */
void mdd_endpoint_send(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len);
/* DTLS for the endpoint: sent now, or held (up to MDD_HELD_DTLS
 * datagrams) until its ICE pair works. */
#define MDD_HELD_DTLS 16
void mdd_endpoint_send_dtls(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len);

/* ---- links.c ---- */

/* Links one MDD keeps at most (the forwarding core has room for them on
 * top of --capacity endpoints). */
#define MDD_MAX_LINKS 64

void mdd_links_init(mddd *d);
/* `link`: creates the link; link-info is sent once gathering is done. */
gboolean mdd_link_create(mddd *d, const char *conference, const char *name, const char *peer,
                         bool client, const char *re, GError **error);
/* `link-peer`: the far end's ICE transport and DTLS fingerprint. */
gboolean mdd_link_peer(mddd *d, const char *conference, const char *name, const char *ufrag,
                       const char *pwd, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN],
                       const char *const *candidates, size_t n_candidates, GError **error);
void mdd_link_remove(mddd *d, const char *conference, const char *name, const char *reason);
void mdd_link_remove_all(mddd *d, const char *reason);
mdd_link *mdd_link_by_handle(mddd *d, uint64_t handle);
void mdd_link_send(mddd *d, mdd_link *l, const uint8_t *data, size_t len);
size_t mdd_link_count(mddd *d);

/* ---- tunnel_client.c ---- */

typedef struct mdd_tunnel_options {
    perc_hostport kmf;
} mdd_tunnel_options;

gboolean mdd_tunnel_start(mddd *d, const mdd_tunnel_options *opts, GError **error);
/* Writes what the tunnel core has queued to the open connection. */
void mdd_tunnel_flush(mddd *d);
/* A DTLS datagram from an endpoint into the tunnel. */
void mdd_tunnel_dtls_in(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len);
/* The endpoint is gone: EndpointDisconnect (queued or owed). */
void mdd_tunnel_endpoint_gone(mddd *d, mdd_endpoint *ep);
void mdd_tunnel_stop(mddd *d);

/* ---- signaling_link.c ---- */

typedef struct mdd_siglink_options {
    const char *url;
    const char *token;          /* a secret: never logged */
    const char *name;
    const char *ca_file;
    uint32_t capacity;
    bool cascade;
} mdd_siglink_options;

mdd_siglink *mdd_siglink_new(mddd *d, const mdd_siglink_options *opts, GError **error);
/* Answers the endpoint's pending endpoint-offer with our ICE transport. */
void mdd_siglink_answer(mdd_siglink *l, mdd_endpoint *ep);
/* Fails the endpoint's pending endpoint-offer. */
void mdd_siglink_fail(mdd_siglink *l, mdd_endpoint *ep, const char *reason);
/* link-info in reply to `re`, or an error reply when the link cannot be
 * made. */
void mdd_siglink_link_info(mdd_siglink *l, const char *re, const char *ufrag, const char *pwd,
                           const char *fingerprint, const char *const *candidates);
void mdd_siglink_link_failed(mdd_siglink *l, const char *re, const char *reason);
/* endpoint-gone: liveness (docs/signaling.md §6.5). */
void mdd_siglink_endpoint_gone(mdd_siglink *l, const char *conference, const char *participant,
                               const char *reason);
void mdd_siglink_free(mdd_siglink *l);

/* ---- dishonest.c (TEST ONLY: built into perc-mdd-dishonest) ---- */

#ifdef PERC_MDD_DISHONEST
/* Parses --misbehave and installs the forwarding core's tamper hook. */
bool mdd_dishonest_configure(perc_mdd_config *mc, const char *modes, unsigned every);
/* Called for each packet about to go to ep; true when it replaced it. */
bool mdd_dishonest_send(mddd *d, mdd_endpoint *ep, const uint8_t *pkt, size_t len);
void mdd_dishonest_report(void);
void mdd_dishonest_free(void);
#endif

/* ---- metrics.c ---- */

/* Adds s to the retired totals (an endpoint or link leaving the core). */
void mdd_metrics_retire(mddd *d, const perc_mdd_stats *s);

gboolean mdd_metrics_start(mddd *d, const perc_hostport *listen, GError **error);
/* The counters as Prometheus text / JSON (g_free). */
char *mdd_metrics_prometheus(mddd *d);
char *mdd_metrics_json(mddd *d);
/* One summary line per endpoint at info level (SIGUSR1). */
void mdd_metrics_log(mddd *d);
void mdd_metrics_stop(mddd *d);

#endif
