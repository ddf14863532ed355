/* The tunnel to the KMF (RFC 9185): the MD is the TLS client (§5.2); the
 * TLS connection is kept up by perc_tls_client (reconnect with backoff) and
 * the protocol is perc_tunnel_md, which outlives connections: it announces
 * the same SupportedProfiles first on every connection (§5.3) and keeps
 * associations across reconnects.
 *
 * Events from the tunnel core:
 *   DTLS_TO_ENDPOINT  the KMF's DTLS records, sent to the endpoint as is;
 *   INSTALL_KEYS      MediaKeys: the endpoint's hop-by-hop keys go into the
 *                     forwarding core (client_write opens what it sends,
 *                     server_write seals what it receives; RFC 9185 §6.4);
 *   KD_DISCONNECT     the KMF ended the association: the endpoint loses its
 *                     keys (it is re-added to the core keyless) until a new
 *                     handshake brings new ones;
 *   DROPPED           counted and logged (rate-limited). */
#include <string.h>

#include "mddd.h"
#include "perc/profile.h"
#include "perc_daemon/error.h"
#include "perc_daemon/rand.h"

/* Both double profiles, AES-128 first (RFC 8723 §4). */
static const uint16_t k_profiles[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                      PERC_PROFILE_DOUBLE_AES_256_GCM};

static uint8_t g_buf[65536];

void mdd_tunnel_flush(mddd *d)
{
    if (!d->tun)
        return;
    for (;;) {
        size_t len = 0;
        if (perc_tunnel_md_pending_send(d->tun, g_buf, sizeof g_buf, &len) != PERC_OK || len == 0)
            return;
        if (!d->tunnel)
            continue; /* no connection: the core drops it at connection_down anyway */
        GError *e = NULL;
        if (!perc_tls_stream_write(d->tunnel, g_buf, len, &e)) {
            perc_log_warn("tunnel: write failed: %s; reconnecting", e->message);
            g_error_free(e);
            perc_tls_stream_close(d->tunnel);
            return;
        }
    }
}

static void on_install_keys(mddd *d, mdd_endpoint *ep, const perc_tunnel_md_keys *k)
{
    int rc = perc_mdd_endpoint_set_keys(d->core, ep->handle, k->profile, k->client_write_key,
                                        k->key_len, k->client_write_salt, k->salt_len,
                                        k->server_write_key, k->key_len, k->server_write_salt,
                                        k->salt_len);
    if (rc != PERC_OK) {
        perc_log_warn("%s/%s: MediaKeys not installed: %s", ep->conference, ep->participant,
                      perc_strerror(rc));
        return;
    }
    d->n.keys_installed++;
    perc_log_info("%s/%s: hop-by-hop keys installed (profile 0x%04x)%s", ep->conference,
                  ep->participant, k->profile, ep->keyed ? " (replaced)" : "");
    ep->keyed = true;
}

static void on_event(void *user, const perc_tunnel_md_event *ev)
{
    mddd *d = user;
    mdd_endpoint *ep = ev->type == PERC_TUNNEL_MD_DROPPED ? NULL
                                                           : mdd_endpoint_by_handle(d, ev->handle);
    switch (ev->type) {
    case PERC_TUNNEL_MD_DTLS_TO_ENDPOINT:
        if (ep) {
            d->n.dtls_out++;
            mdd_endpoint_send_dtls(d, ep, ev->dtls.ptr, ev->dtls.len);
        }
        break;
    case PERC_TUNNEL_MD_INSTALL_KEYS:
        if (ep && !ep->leaving)
            on_install_keys(d, ep, ev->keys);
        break;
    case PERC_TUNNEL_MD_KD_DISCONNECT:
        if (ep && ep->leaving) {
            mdd_endpoint_leave_now(ep); /* nothing left to relay */
        } else if (ep) {
            perc_log_info("%s/%s: the KMF ended the DTLS association; hop keys dropped",
                          ep->conference, ep->participant);
            /* Re-adding wipes the keys and keeps the endpoint's slot. */
            mdd_core_forget(d, ep->handle);
            if (perc_mdd_endpoint_add(d->core, ep->handle, perc_clock_now_ns()) != PERC_OK)
                perc_log_warn("%s/%s: could not re-add to the core", ep->conference,
                              ep->participant);
            ep->keyed = false;
        }
        break;
    case PERC_TUNNEL_MD_DROPPED:
        d->n.tunnel_dropped++;
        /* An unknown association is the normal race of both sides ending
         * one at once (a leave seen by us and by the KMF); the rest is a
         * KMF that does something we do not expect. */
        perc_log_limited(&d->lim_tunnel,
                         ev->error == PERC_ERR_NOT_FOUND ? PERC_LOG_INFO : PERC_LOG_WARN,
                         "tunnel: dropped a message of type %u from the KMF: %s", ev->msg_type,
                         perc_strerror(ev->error));
        break;
    }
}

void mdd_tunnel_dtls_in(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len)
{
    int rc = perc_tunnel_md_dtls_from_endpoint(d->tun, ep->handle, data, len, NULL);
    if (rc == PERC_ERR_STATE) {
        /* RFC 9185 §5.2: no tunnel, nowhere to put it; DTLS retransmits. */
        d->n.drop_no_tunnel++;
        perc_log_limited(&d->lim_tunnel, PERC_LOG_WARN,
                         "%s/%s: DTLS dropped: the tunnel to the KMF is down", ep->conference,
                         ep->participant);
        return;
    }
    if (rc == PERC_ERR_NOT_FOUND) {
        /* Its association ended (typically the KMF's EndpointDisconnect
         * crossed the endpoint's close_notify) and this is no ClientHello
         * that would start another: nowhere to relay it. */
        d->n.drop_dtls_ended++;
        perc_log_debug("%s/%s: DTLS of an ended association dropped (%zu bytes)", ep->conference,
                       ep->participant, len);
        return;
    }
    if (rc != PERC_OK) {
        perc_log_limited(&d->lim_tunnel, PERC_LOG_WARN, "%s/%s: DTLS not relayed: %s",
                         ep->conference, ep->participant, perc_strerror(rc));
        return;
    }
    d->n.dtls_in++;
}

void mdd_tunnel_endpoint_gone(mddd *d, mdd_endpoint *ep)
{
    int rc = perc_tunnel_md_endpoint_gone(d->tun, ep->handle);
    /* NOT_FOUND: the endpoint never sent DTLS, or the KMF ended it first. */
    if (rc != PERC_OK && rc != PERC_ERR_NOT_FOUND)
        perc_log_warn("%s/%s: EndpointDisconnect not queued: %s", ep->conference,
                      ep->participant, perc_strerror(rc));
}

/* ---- the TLS connection ---------------------------------------------------------- */

static void on_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    (void)fp;
    mddd *d = user;
    d->tunnel = s;
    d->n.tunnel_connects++;
    int rc = perc_tunnel_md_reset_connection(d->tun);
    if (rc != PERC_OK) {
        perc_log_error("tunnel: cannot start: %s", perc_strerror(rc));
        perc_tls_stream_close(s);
        return;
    }
    perc_log_info("tunnel: connected to the KMF at %s (%zu association(s) carried over)",
                  perc_tls_stream_peer(s), perc_tunnel_md_association_count(d->tun));
    mddd_after(d);
}

static void on_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    mddd *d = user;
    int rc = perc_tunnel_md_recv(d->tun, data, len);
    if (rc == PERC_ERR_BAD_VERSION) {
        perc_log_warn("tunnel: the KMF does not speak tunnel version %u; reconnecting with "
                      "version %u",
                      PERC_TUNNEL_VERSION, perc_tunnel_md_version(d->tun));
        perc_tls_stream_close(s);
    } else if (rc != PERC_OK) {
        perc_log_warn("tunnel: the KMF sent a message that does not decode (%s); reconnecting",
                      perc_strerror(rc));
        perc_tls_stream_close(s);
    }
    mddd_after(d);
}

static void on_closed(void *user, perc_tls_stream *s, const char *reason)
{
    mddd *d = user;
    if (d->tunnel == s) {
        d->tunnel = NULL;
        if (perc_tunnel_md_connection_down(d->tun) != PERC_OK)
            perc_log_warn("tunnel: connection_down refused (called from a callback?)");
        perc_log_warn("tunnel: connection to the KMF ended: %s; retrying in %u ms", reason,
                      perc_tls_client_backoff_ms(d->tls_cli));
    } else {
        perc_log_warn("tunnel: cannot reach the KMF: %s; retrying in %u ms", reason,
                      perc_tls_client_backoff_ms(d->tls_cli));
    }
}

static const perc_tls_stream_callbacks tls_cbs = {on_opened, on_data, on_closed};

gboolean mdd_tunnel_start(mddd *d, const mdd_tunnel_options *opts, GError **error)
{
    perc_tunnel_md_config tc;
    memset(&tc, 0, sizeof tc);
    tc.profiles = k_profiles;
    tc.n_profiles = G_N_ELEMENTS(k_profiles);
    tc.version = PERC_TUNNEL_VERSION;
    tc.random = perc_daemon_random;
    tc.on_event = on_event;
    tc.event_user = d;
    tc.max_associations = d->capacity;
    int rc = perc_tunnel_md_new(&tc, &d->tun);
    if (rc != PERC_OK) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID, "tunnel core: %s",
                    perc_strerror(rc));
        return FALSE;
    }
    perc_tls_stream_options o;
    perc_tls_stream_options_init(&o);
    d->tls_cli = perc_tls_client_new(NULL, d->tls_ctx, &opts->kmf, &o, &tls_cbs, d, error);
    if (!d->tls_cli)
        return FALSE;
    perc_log_info("tunnel: connecting to the KMF at %s:%u", opts->kmf.host, opts->kmf.port);
    return TRUE;
}

void mdd_tunnel_stop(mddd *d)
{
    perc_tls_client_free(d->tls_cli);
    d->tls_cli = NULL;
    d->tunnel = NULL;
    perc_tunnel_md_free(d->tun); /* wipes any keys it held */
    d->tun = NULL;
}
