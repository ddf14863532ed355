/* What the MDD counts, for operators: Prometheus text at /metrics and JSON
 * at /stats.json on an optional HTTP port (--metrics-listen), and one log
 * line per endpoint on SIGUSR1. Per-endpoint bit rates are recomputed once
 * a second. Nothing here is secret: counters, names, rates. */
#include <string.h>

#include <cjson/cJSON.h>

#include "mddd.h"
#include "perc_daemon/error.h"

#define TICK_S 1

static gboolean on_tick(gpointer user)
{
    mddd *d = user;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->endpoints);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        mdd_endpoint *ep = v;
        ep->rate_in_bps = (ep->bytes_in - ep->last_bytes_in) * 8 / TICK_S;
        ep->rate_out_bps = (ep->bytes_out - ep->last_bytes_out) * 8 / TICK_S;
        ep->last_bytes_in = ep->bytes_in;
        ep->last_bytes_out = ep->bytes_out;
    }
    return G_SOURCE_CONTINUE;
}

static void add(perc_mdd_stats *sum, const perc_mdd_stats *s)
{
    sum->rtp_in += s->rtp_in;
    sum->rtcp_in += s->rtcp_in;
    sum->forwarded += s->forwarded;
    sum->sent += s->sent;
    sum->not_selected += s->not_selected;
    sum->rr_consumed += s->rr_consumed;
    sum->drop_auth += s->drop_auth;
    sum->drop_replay += s->drop_replay;
    sum->drop_no_keys += s->drop_no_keys;
    sum->drop_malformed += s->drop_malformed;
    sum->drop_limit += s->drop_limit;
    sum->drop_ssrc_in_use += s->drop_ssrc_in_use;
}

void mdd_metrics_retire(mddd *d, const perc_mdd_stats *s)
{
    add(&d->retired, s);
}

/* The core's counters: every endpoint present now, plus those removed. */
static void core_totals(mddd *d, perc_mdd_stats *sum)
{
    *sum = d->retired;
    GHashTable *tables[2] = {d->endpoints, d->links};
    for (int t = 0; t < 2; t++) {
        if (!tables[t])
            continue;
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, tables[t]);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            perc_mdd_stats s;
            if (perc_mdd_stats_get(d->core, *(const uint64_t *)k, &s) == PERC_OK)
                add(sum, &s);
        }
    }
}

/* Prometheus label values: backslash, quote and newline escaped. Our
 * names are signaling names (docs/signaling.md *name*), but be safe. */
static void label(GString *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_c(out, '\\');
        if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

char *mdd_metrics_prometheus(mddd *d)
{
    GString *o = g_string_new(NULL);
    perc_mdd_stats t;
    core_totals(d, &t);
    const mdd_counters *n = &d->n;
    g_string_append_printf(o, "# TYPE perc_mdd_endpoints gauge\nperc_mdd_endpoints %u\n",
                           g_hash_table_size(d->endpoints));
    g_string_append_printf(o, "# TYPE perc_mdd_tunnel_up gauge\nperc_mdd_tunnel_up %d\n",
                           d->tunnel ? 1 : 0);
    g_string_append_printf(o,
                           "# TYPE perc_mdd_datagrams_in_total counter\n"
                           "perc_mdd_datagrams_in_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_rtp_in_total counter\n"
                           "perc_mdd_rtp_in_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_rtcp_in_total counter\n"
                           "perc_mdd_rtcp_in_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_packets_out_total counter\n"
                           "perc_mdd_packets_out_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_dtls_relayed_total counter\n"
                           "perc_mdd_dtls_relayed_total{direction=\"to_kmf\"} %" G_GUINT64_FORMAT
                           "\nperc_mdd_dtls_relayed_total{direction=\"to_endpoint\"} %"
                           G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_keys_installed_total counter\n"
                           "perc_mdd_keys_installed_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_tunnel_connects_total counter\n"
                           "perc_mdd_tunnel_connects_total %" G_GUINT64_FORMAT "\n"
                           "# TYPE perc_mdd_endpoints_gone_total counter\n"
                           "perc_mdd_endpoints_gone_total %" G_GUINT64_FORMAT "\n",
                           n->datagrams_in, t.rtp_in, t.rtcp_in, t.sent, n->dtls_in, n->dtls_out,
                           n->keys_installed, n->tunnel_connects, n->endpoints_gone);
    const struct {
        const char *reason;
        uint64_t v;
    } drops[] = {
        {"auth", t.drop_auth},           {"replay", t.drop_replay},
        {"no_keys", t.drop_no_keys},     {"malformed", t.drop_malformed},
        {"limit", t.drop_limit},         {"not_selected", t.not_selected},
        {"ssrc_in_use", t.drop_ssrc_in_use},
        {"not_media", n->drop_not_media}, {"no_tunnel", n->drop_no_tunnel},
        {"send_failed", n->drop_send},   {"tunnel_message", n->tunnel_dropped},
        {"left", n->drop_left},          {"dtls_ended", n->drop_dtls_ended},
    };
    g_string_append(o, "# TYPE perc_mdd_drops_total counter\n");
    for (size_t i = 0; i < G_N_ELEMENTS(drops); i++)
        g_string_append_printf(o, "perc_mdd_drops_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
                               drops[i].reason, drops[i].v);
    g_string_append(o, "# TYPE perc_mdd_endpoint_bitrate_bps gauge\n");
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->endpoints);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        mdd_endpoint *ep = v;
        for (int dir = 0; dir < 2; dir++) {
            g_string_append(o, "perc_mdd_endpoint_bitrate_bps{conference=\"");
            label(o, ep->conference);
            g_string_append(o, "\",participant=\"");
            label(o, ep->participant);
            g_string_append_printf(o, "\",direction=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                   dir ? "out" : "in", dir ? ep->rate_out_bps : ep->rate_in_bps);
        }
    }
    return g_string_free(o, FALSE);
}

static void add_stats(cJSON *obj, const perc_mdd_stats *s)
{
    cJSON_AddNumberToObject(obj, "rtp_in", (double)s->rtp_in);
    cJSON_AddNumberToObject(obj, "rtcp_in", (double)s->rtcp_in);
    cJSON_AddNumberToObject(obj, "forwarded", (double)s->forwarded);
    cJSON_AddNumberToObject(obj, "sent", (double)s->sent);
    cJSON_AddNumberToObject(obj, "not_selected", (double)s->not_selected);
    cJSON_AddNumberToObject(obj, "rr_consumed", (double)s->rr_consumed);
    cJSON_AddNumberToObject(obj, "drop_auth", (double)s->drop_auth);
    cJSON_AddNumberToObject(obj, "drop_replay", (double)s->drop_replay);
    cJSON_AddNumberToObject(obj, "drop_no_keys", (double)s->drop_no_keys);
    cJSON_AddNumberToObject(obj, "drop_malformed", (double)s->drop_malformed);
    cJSON_AddNumberToObject(obj, "drop_limit", (double)s->drop_limit);
    cJSON_AddNumberToObject(obj, "drop_ssrc_in_use", (double)s->drop_ssrc_in_use);
}

char *mdd_metrics_json(mddd *d)
{
    cJSON *root = cJSON_CreateObject();
    const mdd_counters *n = &d->n;
    cJSON_AddBoolToObject(root, "tunnel_up", d->tunnel != NULL);
    cJSON_AddNumberToObject(root, "datagrams_in", (double)n->datagrams_in);
    cJSON_AddNumberToObject(root, "dtls_to_kmf", (double)n->dtls_in);
    cJSON_AddNumberToObject(root, "dtls_to_endpoints", (double)n->dtls_out);
    cJSON_AddNumberToObject(root, "drop_not_media", (double)n->drop_not_media);
    cJSON_AddNumberToObject(root, "drop_no_tunnel", (double)n->drop_no_tunnel);
    cJSON_AddNumberToObject(root, "drop_send", (double)n->drop_send);
    cJSON_AddNumberToObject(root, "tunnel_dropped", (double)n->tunnel_dropped);
    cJSON_AddNumberToObject(root, "tunnel_connects", (double)n->tunnel_connects);
    cJSON_AddNumberToObject(root, "keys_installed", (double)n->keys_installed);
    cJSON_AddNumberToObject(root, "endpoints_gone", (double)n->endpoints_gone);
    cJSON *arr = cJSON_AddArrayToObject(root, "endpoints");
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->endpoints);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        mdd_endpoint *ep = v;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "conference", ep->conference);
        cJSON_AddStringToObject(e, "participant", ep->participant);
        cJSON_AddStringToObject(e, "ice", perc_ice_state_name(perc_ice_stream_state(ep->ice)));
        cJSON_AddBoolToObject(e, "keyed", ep->keyed);
        bool sel = false;
        if (perc_mdd_is_selected(d->core, ep->handle, &sel) != PERC_OK)
            sel = false;
        cJSON_AddBoolToObject(e, "selected", sel);
        cJSON_AddNumberToObject(e, "bitrate_in_bps", (double)ep->rate_in_bps);
        cJSON_AddNumberToObject(e, "bitrate_out_bps", (double)ep->rate_out_bps);
        perc_mdd_stats s;
        if (perc_mdd_stats_get(d->core, ep->handle, &s) == PERC_OK)
            add_stats(e, &s);
        cJSON_AddItemToArray(arr, e);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *out = g_strdup(text ? text : "{}");
    cJSON_free(text);
    return out;
}

void mdd_metrics_log(mddd *d)
{
    perc_log_info("stats: %u endpoint(s), tunnel %s, %" G_GUINT64_FORMAT " datagrams in, %"
                  G_GUINT64_FORMAT " not media, %" G_GUINT64_FORMAT " send failures",
                  g_hash_table_size(d->endpoints), d->tunnel ? "up" : "down", d->n.datagrams_in,
                  d->n.drop_not_media, d->n.drop_send);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->endpoints);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        mdd_endpoint *ep = v;
        perc_mdd_stats s;
        if (perc_mdd_stats_get(d->core, ep->handle, &s) != PERC_OK)
            continue;
        perc_log_info("stats: %s/%s: rtp %" G_GUINT64_FORMAT " rtcp %" G_GUINT64_FORMAT
                      " forwarded %" G_GUINT64_FORMAT " sent %" G_GUINT64_FORMAT
                      " drops auth %" G_GUINT64_FORMAT " replay %" G_GUINT64_FORMAT
                      " no-keys %" G_GUINT64_FORMAT " malformed %" G_GUINT64_FORMAT
                      " limit %" G_GUINT64_FORMAT ", in %" G_GUINT64_FORMAT
                      " bit/s, out %" G_GUINT64_FORMAT " bit/s",
                      ep->conference, ep->participant, s.rtp_in, s.rtcp_in, s.forwarded, s.sent,
                      s.drop_auth, s.drop_replay, s.drop_no_keys, s.drop_malformed, s.drop_limit,
                      ep->rate_in_bps, ep->rate_out_bps);
    }
}

static void on_http(void *user, perc_ws_server *srv, const char *path, perc_ws_http_response *r)
{
    (void)srv;
    mddd *d = user;
    if (strcmp(path, "/metrics") == 0) {
        r->status = 200;
        r->content_type = g_strdup("text/plain; version=0.0.4; charset=utf-8");
        r->body = mdd_metrics_prometheus(d);
    } else if (strcmp(path, "/stats.json") == 0) {
        r->status = 200;
        r->content_type = g_strdup("application/json");
        r->body = mdd_metrics_json(d);
    } else {
        return; /* 404 */
    }
    r->body_len = strlen(r->body);
}

static const perc_ws_server_callbacks http_cbs = {NULL, NULL, NULL, on_http};

gboolean mdd_metrics_start(mddd *d, const perc_hostport *listen, GError **error)
{
    d->metrics_tick = g_timeout_add_seconds(TICK_S, on_tick, d);
    if (!listen)
        return TRUE;
    perc_ws_server_options o;
    memset(&o, 0, sizeof o);
    o.listen = *listen;
    /* A WebSocket server that nobody upgrades on: we only use its HTTP hook. */
    o.subprotocol = "perc-mdd-metrics";
    d->metrics = perc_ws_server_new(d->ws, &o, &http_cbs, d, error);
    if (!d->metrics)
        return FALSE;
    perc_log_info("metrics: http://%s:%u/metrics and /stats.json", listen->host,
                  perc_ws_server_port(d->metrics));
    return TRUE;
}

void mdd_metrics_stop(mddd *d)
{
    if (d->metrics_tick)
        g_source_remove(d->metrics_tick);
    d->metrics_tick = 0;
    perc_ws_server_free(d->metrics);
    d->metrics = NULL;
}
