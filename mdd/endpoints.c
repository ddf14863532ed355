/* Endpoints: one ICE-lite stream each (RFC 8445 §2.5; the MDD only answers
 * checks, the endpoint is the controlling agent), one bundled 5-tuple with
 * rtcp-mux. What arrives is told apart by its first octet (RFC 7983):
 * DTLS goes blind into the tunnel (RFC 9185 §5.2: the MD relays the
 * endpoint's handshake with the KMF and cannot read it), SRTP and SRTCP go
 * to the forwarding core, anything else is counted and dropped. STUN never
 * reaches us: libnice consumes it. */
#include <string.h>

#include "mddd.h"
#include "perc/demux.h"
#include "perc/sdp.h"
#include "perc_daemon/error.h"

static char *participant_key(const char *conference, const char *participant)
{
    return g_strdup_printf("%s\x1f%s", conference, participant);
}

mdd_endpoint *mdd_endpoint_find(mddd *d, const char *conference, const char *participant)
{
    char *k = participant_key(conference, participant);
    mdd_endpoint *ep = g_hash_table_lookup(d->by_participant, k);
    g_free(k);
    return ep;
}

mdd_endpoint *mdd_endpoint_by_handle(mddd *d, uint64_t handle)
{
    mdd_endpoint *ep = g_hash_table_lookup(d->endpoints, &handle);
    return ep ? ep : g_hash_table_lookup(d->leaving, &handle);
}

/* ---- what arrives ------------------------------------------------------------ */

static void on_datagram(void *user, perc_ice_stream *s, const uint8_t *data, size_t len)
{
    (void)s;
    mdd_endpoint *ep = user;
    mddd *d = ep->d;
    d->n.datagrams_in++;
    ep->bytes_in += len;
    uint64_t now = perc_clock_now_ns();
    int rc = PERC_OK;
    perc_demux_class c = perc_demux_classify(data, len);
    if (ep->leaving && c != PERC_DEMUX_DTLS) {
        d->n.drop_left++;
        return;
    }
    switch (c) {
    case PERC_DEMUX_DTLS:
        mdd_tunnel_dtls_in(d, ep, data, len);
        break;
    case PERC_DEMUX_RTP:
        rc = perc_mdd_rtp_in(d->core, ep->handle, data, len, now);
        break;
    case PERC_DEMUX_RTCP:
        rc = perc_mdd_rtcp_in(d->core, ep->handle, data, len, now);
        break;
    default:
        d->n.drop_not_media++;
        perc_log_limited(&d->lim_garbage, PERC_LOG_WARN,
                         "%s/%s: dropped a %zu-byte datagram that is neither DTLS nor RTP/RTCP "
                         "(first octet %u)",
                         ep->conference, ep->participant, len, len ? data[0] : 0);
        return;
    }
    if (rc != PERC_OK) {
        /* Counted by the core per reason; the log only samples. */
        perc_log_limited(&d->lim_core, PERC_LOG_WARN, "%s/%s: packet dropped: %s",
                         ep->conference, ep->participant, perc_strerror(rc));
    }
    mddd_after(d);
}

static void on_gathered(void *user, perc_ice_stream *s)
{
    (void)s;
    mdd_endpoint *ep = user;
    if (ep->offer_re)
        mdd_siglink_answer(ep->d->sig, ep);
}

static void on_state(void *user, perc_ice_stream *s, perc_ice_state st)
{
    mdd_endpoint *ep = user;
    if (st == PERC_ICE_READY || st == PERC_ICE_CONNECTED) {
        GBytes *b;
        while ((b = g_queue_pop_head(ep->held))) {
            mdd_endpoint_send(ep->d, ep, g_bytes_get_data(b, NULL), g_bytes_get_size(b));
            g_bytes_unref(b);
        }
        char addr[64] = "?";
        (void)perc_ice_stream_remote_address(s, addr, sizeof addr);
        perc_log_info("%s/%s: ICE %s with %s", ep->conference, ep->participant,
                      perc_ice_state_name(st), addr);
    } else {
        perc_log_debug("%s/%s: ICE %s", ep->conference, ep->participant,
                       perc_ice_state_name(st));
    }
}

static const perc_ice_callbacks ice_cbs = {on_gathered, on_state, on_datagram};

/* ---- lifetime ------------------------------------------------------------------ */

static void endpoint_free(gpointer p)
{
    mdd_endpoint *ep = p;
    if (ep->linger_src)
        g_source_remove(ep->linger_src);
    perc_ice_stream_free(ep->ice);
    g_queue_free_full(ep->held, (GDestroyNotify)g_bytes_unref);
    g_free(ep->conference);
    g_free(ep->participant);
    g_free(ep->offer_re);
    g_free(ep);
}

/* The offer's BUNDLE transport: with a=group:BUNDLE every section shares
 * the first section's ICE credentials and candidates (RFC 8843 §7.1). */
static gboolean apply_offer(mdd_endpoint *ep, const perc_sdp *offer, GError **error)
{
    const char *ufrag = NULL, *pwd = NULL;
    if (offer->media_count == 0 || perc_sdp_effective_ice(offer, 0, &ufrag, &pwd) != PERC_OK) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "offer has no ICE credentials");
        return FALSE;
    }
    if (!perc_ice_stream_set_remote_credentials(ep->ice, ufrag, pwd, error))
        return FALSE;
    const perc_sdp_media *m = &offer->media[0];
    for (size_t i = 0; i < m->candidate_count; i++) {
        char text[PERC_SDP_MAX_LINE];
        if (perc_sdp_candidate_format(&m->candidates[i], text, sizeof text, NULL) != PERC_OK)
            continue;
        GError *e = NULL;
        /* A candidate libnice cannot use (TCP, an unresolvable name) is
         * skipped: the endpoint's other candidates may still work. */
        if (!perc_ice_stream_add_remote_candidate(ep->ice, text, &e)) {
            perc_log_info("%s/%s: offer candidate %zu skipped: %s", ep->conference,
                          ep->participant, i, e->message);
            g_error_free(e);
        }
    }
    return TRUE;
}

mdd_endpoint *mdd_endpoint_create(mddd *d, const char *conference, const char *participant,
                                  const perc_sdp *offer, const char *re, GError **error)
{
    mdd_endpoint *old = mdd_endpoint_find(d, conference, participant);
    if (old)
        mdd_endpoint_remove(d, old, "offered again");
    if (g_hash_table_size(d->endpoints) >= d->capacity) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "at capacity (%zu endpoints)", d->capacity);
        return NULL;
    }
    mdd_endpoint *ep = g_new0(mdd_endpoint, 1);
    ep->d = d;
    ep->handle = ++d->next_handle;
    ep->conference = g_strdup(conference);
    ep->participant = g_strdup(participant);
    ep->offer_re = g_strdup(re);
    ep->held = g_queue_new();
    int rc = perc_mdd_endpoint_add(d->core, ep->handle, perc_clock_now_ns());
    if (rc == PERC_OK)
        rc = perc_mdd_endpoint_set_group(d->core, ep->handle, mdd_conference_group(d, conference));
    if (rc != PERC_OK) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "forwarding core refused the endpoint: %s", perc_strerror(rc));
        mdd_core_forget(d, ep->handle);
        endpoint_free(ep);
        return NULL;
    }
    ep->ice = perc_ice_stream_new(d->ice, &ice_cbs, ep, error);
    if (!ep->ice || !apply_offer(ep, offer, error)) {
        mdd_core_forget(d, ep->handle);
        endpoint_free(ep);
        return NULL;
    }
    g_hash_table_insert(d->endpoints, g_memdup2(&ep->handle, sizeof ep->handle), ep);
    g_hash_table_insert(d->by_participant, participant_key(conference, participant), ep);
    perc_log_info("%s/%s: endpoint added (handle %" G_GUINT64_FORMAT ", ICE port %u)", conference,
                  participant, ep->handle, perc_ice_stream_local_port(ep->ice));
    mddd_after(d);
    return ep;
}

void mdd_core_forget(mddd *d, uint64_t handle)
{
    perc_mdd_stats st;
    if (perc_mdd_stats_get(d->core, handle, &st) == PERC_OK)
        mdd_metrics_retire(d, &st);
    int rc = perc_mdd_endpoint_remove(d->core, handle);
    if (rc != PERC_OK && rc != PERC_ERR_NOT_FOUND) /* NOT_FOUND: liveness removed it */
        perc_log_warn("forwarding core: remove %" G_GUINT64_FORMAT ": %s", handle,
                      perc_strerror(rc));
}

/* Drops ep from the tables (freeing it) without telling anyone. */
static void forget(mddd *d, mdd_endpoint *ep)
{
    char *k = participant_key(ep->conference, ep->participant);
    g_hash_table_remove(d->by_participant, k);
    g_free(k);
    uint64_t h = ep->handle;
    g_hash_table_remove(d->endpoints, &h); /* frees ep */
}

void mdd_endpoint_remove(mddd *d, mdd_endpoint *ep, const char *reason)
{
    if (ep->leaving) {
        /* It left already: its linger ends now. */
        mdd_tunnel_endpoint_gone(d, ep);
        uint64_t h = ep->handle;
        g_hash_table_remove(d->leaving, &h); /* frees ep */
        return;
    }
    perc_log_info("%s/%s: endpoint removed: %s", ep->conference, ep->participant, reason);
    mdd_tunnel_endpoint_gone(d, ep);
    mdd_core_forget(d, ep->handle);
    forget(d, ep);
}

void mdd_endpoint_remove_all(mddd *d, const char *reason)
{
    GList *all = g_hash_table_get_values(d->endpoints);
    for (GList *l = all; l; l = l->next)
        mdd_endpoint_remove(d, l->data, reason);
    g_list_free(all);
    all = g_hash_table_get_values(d->leaving);
    for (GList *l = all; l; l = l->next)
        mdd_endpoint_remove(d, l->data, reason);
    g_list_free(all);
}

/* ---- leaving --------------------------------------------------------------- */

static gboolean linger_over(gpointer user)
{
    mdd_endpoint *ep = user;
    mddd *d = ep->d;
    ep->linger_src = 0;
    perc_log_debug("%s/%s: no more DTLS relayed: it left", ep->conference, ep->participant);
    mdd_endpoint_remove(d, ep, "left");
    mddd_after(d);
    return G_SOURCE_REMOVE;
}

void mdd_endpoint_leave(mddd *d, mdd_endpoint *ep, const char *reason)
{
    perc_log_info("%s/%s: endpoint removed: %s (its DTLS is relayed %u ms more)", ep->conference,
                  ep->participant, reason, (unsigned)MDD_LEAVE_LINGER_MS);
    mdd_core_forget(d, ep->handle); /* no media from now on; keys wiped */
    ep->keyed = false;
    g_free(ep->offer_re); /* nothing to answer for an endpoint that left */
    ep->offer_re = NULL;
    g_queue_free_full(ep->held, (GDestroyNotify)g_bytes_unref);
    ep->held = g_queue_new();
    char *k = participant_key(ep->conference, ep->participant);
    g_hash_table_remove(d->by_participant, k);
    g_free(k);
    gpointer key = NULL;
    uint64_t h = ep->handle;
    if (g_hash_table_steal_extended(d->endpoints, &h, &key, NULL))
        g_free(key);
    g_hash_table_insert(d->leaving, g_memdup2(&h, sizeof h), ep);
    ep->leaving = true;
    ep->linger_src = g_timeout_add(MDD_LEAVE_LINGER_MS, linger_over, ep);
}

void mdd_endpoint_leave_now(mdd_endpoint *ep)
{
    if (!ep->leaving)
        return;
    if (ep->linger_src)
        g_source_remove(ep->linger_src);
    ep->linger_src = g_idle_add(linger_over, ep);
}

void mdd_endpoint_send(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len)
{
    if (!perc_ice_stream_send(ep->ice, data, len)) {
        d->n.drop_send++;
        perc_log_limited(&d->lim_send, PERC_LOG_WARN,
                         "%s/%s: could not send %zu bytes (ICE %s)", ep->conference,
                         ep->participant, len, perc_ice_state_name(perc_ice_stream_state(ep->ice)));
        return;
    }
    ep->bytes_out += len;
}

void mdd_endpoint_send_dtls(mddd *d, mdd_endpoint *ep, const uint8_t *data, size_t len)
{
    perc_ice_state st = perc_ice_stream_state(ep->ice);
    if (st == PERC_ICE_CONNECTED || st == PERC_ICE_READY) {
        mdd_endpoint_send(d, ep, data, len);
        return;
    }
    if (g_queue_get_length(ep->held) >= MDD_HELD_DTLS) {
        d->n.drop_send++; /* DTLS retransmits */
        return;
    }
    g_queue_push_tail(ep->held, g_bytes_new(data, len));
}

/* ---- the core's output -------------------------------------------------------- */

static uint8_t g_out[PERC_MDD_MAX_PACKET];

static void drain_core(mddd *d)
{
    uint64_t handle;
    size_t len;
    while (perc_mdd_pop(d->core, &handle, g_out, sizeof g_out, &len) == PERC_OK) {
        mdd_endpoint *ep = mdd_endpoint_by_handle(d, handle);
        if (ep) {
#ifdef PERC_MDD_DISHONEST
            if (mdd_dishonest_send(d, ep, g_out, len))
                continue;
#endif
            mdd_endpoint_send(d, ep, g_out, len);
            continue;
        }
        mdd_link *l = mdd_link_by_handle(d, handle);
        if (l)
            mdd_link_send(d, l, g_out, len);
    }
    perc_mdd_event ev;
    while (perc_mdd_pop_event(d->core, &ev) == PERC_OK) {
        if (ev.type != PERC_MDD_EVENT_ENDPOINT_GONE)
            continue;
        mdd_metrics_retire(d, &ev.stats);
        mdd_endpoint *ep = mdd_endpoint_by_handle(d, ev.handle);
        if (!ep)
            continue;
        d->n.endpoints_gone++;
        char reason[96];
        g_snprintf(reason, sizeof reason, "no media for %.1f s", (double)d->liveness_ns / 1e9);
        mdd_siglink_endpoint_gone(d->sig, ep->conference, ep->participant, reason);
        mdd_endpoint_remove(d, ep, reason);
    }
}

void mddd_after(mddd *d)
{
    drain_core(d);
    mdd_tunnel_flush(d);
    uint64_t deadline;
    if (perc_mdd_next_timeout(d->core, &deadline) == PERC_OK)
        perc_deadline_timer_arm(d->timer, deadline);
    else
        perc_deadline_timer_cancel(d->timer);
}

uint32_t mdd_conference_group(mddd *d, const char *conference)
{
    gpointer v = g_hash_table_lookup(d->conf_ids, conference);
    if (v)
        return GPOINTER_TO_UINT(v);
    uint32_t id = ++d->next_conf_id;
    g_hash_table_insert(d->conf_ids, g_strdup(conference), GUINT_TO_POINTER(id));
    return id;
}

void mdd_endpoints_init(mddd *d)
{
    d->conf_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->endpoints = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, endpoint_free);
    d->by_participant = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->leaving = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, endpoint_free);
}
