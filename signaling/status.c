/* perc-signaling's HTTP pages on the WebSocket port:
 *   GET /             a small HTML page (no external resources) that polls
 *                     /status.json every second and renders it;
 *   GET /status.json  conferences, participants (identity, SSRCs, state,
 *                     Media Distributor), key epochs as the KMF reports
 *                     them, and the connected daemons. The focus holds no
 *                     secret, and tokens and ICE passwords are not shown;
 *   GET /metrics      Prometheus text exposition format 0.0.4. */
#include <string.h>

#include "perc/signaling.h"
#include "perc_daemon/log.h"
#include "sigd.h"

static const char page_html[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>perc-signaling</title>\n"
    "<style>\n"
    "body{font-family:sans-serif;margin:1em 2em;color:#222}\n"
    "table{border-collapse:collapse;margin:.3em 0 1em}\n"
    "td,th{border:1px solid #bbb;padding:.2em .6em;text-align:left;font-size:90%}\n"
    "th{background:#eee}.fp{font-family:monospace;font-size:80%}\n"
    "#err{color:#a00}\n"
    "</style></head><body>\n"
    "<h1>perc-signaling</h1>\n"
    "<p id=\"summary\">loading...</p><p id=\"err\"></p>\n"
    "<h2>Daemons</h2><div id=\"daemons\"></div>\n"
    "<h2>Conferences</h2><div id=\"conferences\"></div>\n"
    "<script>\n"
    "'use strict';\n"
    "function el(tag,text,cls){const e=document.createElement(tag);"
    "if(text!==undefined&&text!==null)e.textContent=String(text);if(cls)e.className=cls;return e;}\n"
    "function table(head,rows){const t=el('table');const h=el('tr');"
    "head.forEach(x=>h.appendChild(el('th',x)));t.appendChild(h);"
    "rows.forEach(r=>{const tr=el('tr');r.forEach(x=>tr.appendChild(el('td',x)));"
    "t.appendChild(tr);});return t;}\n"
    "function render(s){\n"
    " document.getElementById('summary').textContent='version '+s.version+', up '+s.uptime+' s, '"
    "+s.connections+' connections, '+s.conferences.length+' conferences, '+s.participants+"
    "' participants ('+s.joined+' joined)';\n"
    " const d=document.getElementById('daemons');d.replaceChildren();\n"
    " d.appendChild(table(['role','name','capacity / load','KMF fingerprint'],"
    "s.daemons.map(x=>[x.role,x.name,x.role==='mdd'?(x.load+' / '+x.capacity+(x.cascade?' (cascade)':'')):'',"
    "x.role==='kmf'?(x.fingerprint+(x.serving?' (default)':'')):''])));\n"
    " const c=document.getElementById('conferences');c.replaceChildren();\n"
    " s.conferences.forEach(k=>{const div=el('div');div.className='conference';div.id='conf-'+k.id;\n"
    "  div.appendChild(el('h3','Conference '+k.id));\n"
    "  div.appendChild(el('p',(k.configured?'configured':'created on first join')+', '+(k.open?'open':'join tokens')+"
    "', KMF '+(k.kmf||'none')+', MDDs: '+(k.mdds.join(', ')||'none')));\n"
    "  div.appendChild(el('p',k.epoch?('key epoch: SPI '+k.epoch.spi+', '+k.epoch.members+' members, '+"
    "k.epoch.count+' epochs reported'):'key epoch: none reported yet','epoch'));\n"
    "  div.appendChild(table(['participant','identity','state','MDD','SSRCs'],k.participants.map(p=>"
    "[p.id,p.identity,p.state,p.mdd||'-',p.ssrcs.map(x=>x.ssrc+' '+x.kind+' (mid '+x.mid+')').join(', ')])));\n"
    "  c.appendChild(div);});\n"
    "}\n"
    "async function poll(){try{const r=await fetch('/status.json',{cache:'no-store'});"
    "if(!r.ok)throw new Error('HTTP '+r.status);render(await r.json());"
    "document.getElementById('err').textContent='';}"
    "catch(e){document.getElementById('err').textContent='status unavailable: '+e.message;}}\n"
    "poll();setInterval(poll,1000);\n"
    "</script></body></html>\n";

/* A JSON string; also escapes < > & so the text is inert in any HTML. */
static void json_str(GString *o, const char *s)
{
    g_string_append_c(o, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(o, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '&')
            g_string_append_printf(o, "\\u%04x", *p);
        else
            g_string_append_c(o, (char)*p);
    }
    g_string_append_c(o, '"');
}

static const char *role_name(perc_sig_role r)
{
    const char *n = perc_sig_role_name(r);
    return n ? n : "?";
}

static char *status_json(sigd *d)
{
    perc_focus_stats st;
    perc_focus_get_stats(d->focus, &st);
    GString *o = g_string_new("{\"version\":");
    json_str(o, PERC_VERSION);
    g_string_append_printf(o,
                           ",\"uptime\":%" G_GUINT64_FORMAT ",\"connections\":%zu,"
                           "\"participants\":%zu,\"joined\":%zu,\"pending\":%zu,"
                           "\"joins\":%" G_GUINT64_FORMAT ",\"refusals\":%" G_GUINT64_FORMAT,
                           (perc_clock_now_ns() - d->started_ns) / PERC_NSEC_PER_SEC,
                           st.connections, st.participants, st.joined, st.pending, st.joins,
                           st.refusals);
    g_string_append(o, ",\"daemons\":[");
    size_t nd = perc_focus_daemon_count(d->focus);
    for (size_t i = 0; i < nd; i++) {
        perc_focus_daemon_info di;
        if (perc_focus_daemon_at(d->focus, i, &di) != PERC_OK)
            continue;
        g_string_append(o, i ? ",{\"role\":" : "{\"role\":");
        json_str(o, role_name(di.role));
        g_string_append(o, ",\"name\":");
        json_str(o, di.name);
        if (di.role == PERC_SIG_ROLE_MDD) {
            g_string_append_printf(o, ",\"capacity\":%u,\"load\":%zu,\"cascade\":%s",
                                   (unsigned)di.capacity, di.load, di.cascade ? "true" : "false");
        } else {
            g_string_append(o, ",\"fingerprint\":");
            json_str(o, di.fingerprint);
            g_string_append_printf(o, ",\"serving\":%s", di.serving ? "true" : "false");
        }
        g_string_append_c(o, '}');
    }
    g_string_append(o, "],\"conferences\":[");
    size_t nc = perc_focus_conference_count(d->focus);
    for (size_t i = 0; i < nc; i++) {
        perc_focus_conference_info ci;
        if (perc_focus_conference_at(d->focus, i, &ci) != PERC_OK)
            continue;
        g_string_append(o, i ? ",{\"id\":" : "{\"id\":");
        json_str(o, ci.id);
        g_string_append_printf(o, ",\"configured\":%s,\"open\":%s,\"links\":%zu,\"kmf\":",
                               ci.configured ? "true" : "false", ci.open ? "true" : "false",
                               ci.links);
        if (ci.kmf)
            json_str(o, ci.kmf);
        else
            g_string_append(o, "null");
        g_string_append(o, ",\"mdds\":[");
        for (size_t k = 0; k < ci.mdd_count; k++) {
            if (k)
                g_string_append_c(o, ',');
            json_str(o, ci.mdds[k]);
        }
        g_string_append(o, "],\"epoch\":");
        if (ci.has_epoch)
            g_string_append_printf(o, "{\"spi\":%u,\"members\":%u,\"count\":%" G_GUINT64_FORMAT "}",
                                   (unsigned)ci.spi, (unsigned)ci.members, ci.epochs);
        else
            g_string_append(o, "null");
        g_string_append(o, ",\"participants\":[");
        for (size_t k = 0; k < ci.participants; k++) {
            perc_focus_participant_info pi;
            if (perc_focus_participant_at(d->focus, i, k, &pi) != PERC_OK)
                continue;
            g_string_append(o, k ? ",{\"id\":" : "{\"id\":");
            json_str(o, pi.id);
            g_string_append(o, ",\"identity\":");
            json_str(o, pi.identity);
            g_string_append(o, ",\"state\":");
            json_str(o, perc_focus_part_state_name(pi.state));
            g_string_append(o, ",\"mdd\":");
            if (pi.mdd)
                json_str(o, pi.mdd);
            else
                g_string_append(o, "null");
            g_string_append(o, ",\"ssrcs\":[");
            for (size_t s = 0; s < pi.ssrc_count; s++) {
                g_string_append_printf(o, "%s{\"ssrc\":%lu,\"kind\":\"%s\",\"mid\":", s ? "," : "",
                                       (unsigned long)pi.ssrcs[s].ssrc,
                                       pi.ssrcs[s].kind == PERC_SDP_VIDEO ? "video" : "audio");
                json_str(o, pi.ssrcs[s].mid);
                g_string_append_c(o, '}');
            }
            g_string_append(o, "]}");
        }
        g_string_append(o, "]}");
    }
    g_string_append(o, "]}\n");
    return g_string_free(o, FALSE);
}

static void metric(GString *o, const char *name, const char *type, const char *help,
                   uint64_t value)
{
    g_string_append_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GUINT64_FORMAT "\n", name,
                           help, name, type, name, value);
}

static char *metrics_text(sigd *d)
{
    perc_focus_stats st;
    perc_focus_get_stats(d->focus, &st);
    GString *o = g_string_new(NULL);
    metric(o, "perc_signaling_participants", "gauge",
           "Participants in any state (joining, answered, joined).", st.participants);
    metric(o, "perc_signaling_participants_joined", "gauge",
           "Participants keyed by the KMF and in the roster.", st.joined);
    metric(o, "perc_signaling_joins_pending", "gauge",
           "Joins waiting for the KMF's verdict or the Media Distributor's answer.", st.pending);
    metric(o, "perc_signaling_connections", "gauge", "Open WebSocket connections.",
           st.connections);
    metric(o, "perc_signaling_endpoints", "gauge", "Connections authenticated as endpoints.",
           st.endpoints);
    metric(o, "perc_signaling_mdds", "gauge", "Connected Media Distributors.", st.mdds);
    metric(o, "perc_signaling_kmfs", "gauge", "Connected Key Management Functions.", st.kmfs);
    metric(o, "perc_signaling_conferences", "gauge", "Conferences known.", st.conferences);
    metric(o, "perc_signaling_joins_total", "counter", "Join requests accepted for processing.",
           st.joins);
    metric(o, "perc_signaling_answers_total", "counter", "Answers sent to endpoints.",
           st.answers);
    metric(o, "perc_signaling_keyed_total", "counter", "Participants the KMF reported keyed.",
           st.keyed);
    metric(o, "perc_signaling_refusals_total", "counter", "Joins the KMF refused.",
           st.refusals);
    metric(o, "perc_signaling_failures_total", "counter",
           "Joins failed as unavailable (a daemon missing, failing or gone).", st.failures);
    metric(o, "perc_signaling_timeouts_total", "counter", "Hello, join and key timeouts.",
           st.timeouts);
    metric(o, "perc_signaling_leaves_total", "counter", "Participants gone, for any reason.",
           st.leaves);
    metric(o, "perc_signaling_errors_sent_total", "counter", "Error messages sent.",
           st.errors_sent);
    metric(o, "perc_signaling_epochs_total", "counter", "Key epochs reported by KMFs.",
           st.epochs);
    metric(o, "perc_signaling_messages_invalid_total", "counter",
           "Messages received that did not decode (or were rate-limited or too large).",
           st.msgs_in_invalid + d->too_large);
    metric(o, "perc_signaling_connections_refused_total", "counter",
           "Connections refused by the connection limit.", d->ws_refused);
    g_string_append(o, "# HELP perc_signaling_messages_total Valid messages by type and "
                       "direction (in: received, out: sent).\n"
                       "# TYPE perc_signaling_messages_total counter\n");
    for (int t = 1; t < PERC_SIG_TYPE_COUNT; t++) {
        const char *n = perc_sig_type_name((perc_sig_type)t);
        g_string_append_printf(o,
                               "perc_signaling_messages_total{type=\"%s\",direction=\"in\"} "
                               "%" G_GUINT64_FORMAT "\n"
                               "perc_signaling_messages_total{type=\"%s\",direction=\"out\"} "
                               "%" G_GUINT64_FORMAT "\n",
                               n, st.msgs_in[t], n, st.msgs_out[t]);
    }
    return g_string_free(o, FALSE);
}

void sigd_http(void *user, perc_ws_server *srv, const char *path, perc_ws_http_response *resp)
{
    (void)srv;
    sigd *d = user;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        resp->status = 200;
        resp->content_type = g_strdup("text/html; charset=utf-8");
        resp->body = g_strdup(page_html);
        resp->body_len = sizeof page_html - 1;
    } else if (strcmp(path, "/status.json") == 0) {
        resp->status = 200;
        resp->content_type = g_strdup("application/json");
        resp->body = status_json(d);
        resp->body_len = strlen(resp->body);
    } else if (strcmp(path, "/metrics") == 0) {
        resp->status = 200;
        resp->content_type = g_strdup("text/plain; version=0.0.4; charset=utf-8");
        resp->body = metrics_text(d);
        resp->body_len = strlen(resp->body);
    } else {
        perc_log_debug("http GET %s: 404", path);
    }
}
