/* ICE on libnice: see perc_daemon/ice.h. */
#include "perc_daemon/ice.h"

#include <string.h>
#include <sys/socket.h>

#include <agent.h>

#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

/* PERC bundles everything on one component (rtcp-mux). */
#define COMPONENT 1

struct perc_ice_agent {
    NiceAgent *nice;
    GMainContext *ctx;
    GHashTable *streams;        /* stream id (GUINT_TO_POINTER) -> perc_ice_stream* */
    uint16_t port_min, port_max;
};

struct perc_ice_stream {
    perc_ice_agent *agent;
    guint id;
    perc_ice_callbacks cbs;
    void *user;
    perc_ice_state state;
    unsigned in_callback;       /* depth: a free from inside is deferred */
    bool dead;
    bool creating;              /* inside perc_ice_stream_new */
    GSource *gathered_idle;     /* delivers a gathering that finished during creation */
};

const char *perc_ice_state_name(perc_ice_state s)
{
    switch (s) {
    case PERC_ICE_GATHERING: return "gathering";
    case PERC_ICE_CHECKING: return "checking";
    case PERC_ICE_CONNECTED: return "connected";
    case PERC_ICE_READY: return "ready";
    case PERC_ICE_FAILED: return "failed";
    }
    return "?";
}

/* ---- stream lifetime ------------------------------------------------------ */

static void stream_destroy(perc_ice_stream *s)
{
    perc_ice_agent *a = s->agent;
    if (s->gathered_idle) {
        g_source_destroy(s->gathered_idle);
        g_source_unref(s->gathered_idle);
    }
    g_hash_table_remove(a->streams, GUINT_TO_POINTER(s->id));
    /* Detach first so no receive callback can reach freed memory. */
    nice_agent_attach_recv(a->nice, s->id, COMPONENT, a->ctx, NULL, NULL);
    nice_agent_remove_stream(a->nice, s->id);
    g_free(s);
}

void perc_ice_stream_free(perc_ice_stream *s)
{
    if (!s)
        return;
    if (s->in_callback) {
        s->dead = true;
        return;
    }
    stream_destroy(s);
}

/* Brackets a user callback: a perc_ice_stream_free from inside is carried
 * out when the outermost callback returns. */
static void enter(perc_ice_stream *s) { s->in_callback++; }

static void leave(perc_ice_stream *s)
{
    if (--s->in_callback == 0 && s->dead)
        stream_destroy(s);
}

static perc_ice_stream *lookup(perc_ice_agent *a, guint stream_id)
{
    perc_ice_stream *s = g_hash_table_lookup(a->streams, GUINT_TO_POINTER(stream_id));
    return (s && !s->dead) ? s : NULL;
}

/* ---- libnice signals -------------------------------------------------------- */

static gboolean deliver_gathered(gpointer user);

static void on_gathering_done(NiceAgent *nice, guint stream_id, gpointer user)
{
    (void)nice;
    perc_ice_stream *s = lookup(user, stream_id);
    if (!s)
        return;
    if (s->state == PERC_ICE_GATHERING)
        s->state = PERC_ICE_CHECKING;
    if (s->creating) {
        /* libnice finishes host-only gathering inside
         * nice_agent_gather_candidates: the caller does not have the stream
         * yet, so tell it from the loop (as the header promises). */
        s->gathered_idle = g_idle_source_new();
        g_source_set_callback(s->gathered_idle, deliver_gathered, s, NULL);
        g_source_attach(s->gathered_idle, s->agent->ctx);
        return;
    }
    if (s->cbs.gathered) {
        enter(s);
        s->cbs.gathered(s->user, s);
        leave(s);
    }
}

static gboolean deliver_gathered(gpointer user)
{
    perc_ice_stream *s = user;
    g_source_unref(s->gathered_idle);
    s->gathered_idle = NULL;
    if (!s->dead && s->cbs.gathered) {
        enter(s);
        s->cbs.gathered(s->user, s);
        leave(s);
    }
    return G_SOURCE_REMOVE;
}

static perc_ice_state map_state(guint nice_state, perc_ice_state old)
{
    switch (nice_state) {
    case NICE_COMPONENT_STATE_CONNECTED: return PERC_ICE_CONNECTED;
    case NICE_COMPONENT_STATE_READY: return PERC_ICE_READY;
    case NICE_COMPONENT_STATE_FAILED: return PERC_ICE_FAILED;
    case NICE_COMPONENT_STATE_CONNECTING: return PERC_ICE_CHECKING;
    default: return old == PERC_ICE_GATHERING ? PERC_ICE_GATHERING : PERC_ICE_CHECKING;
    }
}

/* Media arrives in bursts (a video frame is several packets, every sender's
 * at once), and the default UDP receive buffer (about 200 KiB) holds only
 * about 90 full-size datagrams: a process descheduled for a few
 * milliseconds on a busy machine loses packets in the kernel (measured by
 * bench/macro_mdd_load.sh). The socket media flows on gets larger buffers
 * once ICE has chosen it; the kernel caps them at net.core.rmem_max and
 * wmem_max. */
#define ICE_SOCKET_BUFFER (2 * 1024 * 1024)

static void grow_socket_buffers(NiceAgent *nice, guint stream_id)
{
    GSocket *gs = nice_agent_get_selected_socket(nice, stream_id, COMPONENT);
    if (!gs)
        return;
    GError *e = NULL;
    if (!g_socket_set_option(gs, SOL_SOCKET, SO_RCVBUF, ICE_SOCKET_BUFFER, &e) ||
        !g_socket_set_option(gs, SOL_SOCKET, SO_SNDBUF, ICE_SOCKET_BUFFER, &e)) {
        perc_log_debug("ICE: could not enlarge the socket buffers: %s", e->message);
        g_error_free(e);
    }
    g_object_unref(gs);
}

static void on_state_changed(NiceAgent *nice, guint stream_id, guint component_id, guint state,
                             gpointer user)
{
    perc_ice_stream *s = lookup(user, stream_id);
    if (!s || component_id != COMPONENT)
        return;
    perc_ice_state st = map_state(state, s->state);
    if (st == s->state)
        return;
    if ((st == PERC_ICE_CONNECTED || st == PERC_ICE_READY) && s->state != PERC_ICE_CONNECTED &&
        s->state != PERC_ICE_READY)
        grow_socket_buffers(nice, stream_id);
    s->state = st;
    if (s->cbs.state) {
        enter(s);
        s->cbs.state(s->user, s, st);
        leave(s);
    }
}

static void on_recv(NiceAgent *nice, guint stream_id, guint component_id, guint len, gchar *buf,
                    gpointer user)
{
    (void)nice;
    (void)stream_id;
    (void)component_id;
    perc_ice_stream *s = user;
    if (s->dead || !s->cbs.recv)
        return;
    enter(s);
    s->cbs.recv(s->user, s, (const uint8_t *)buf, len);
    leave(s);
}

/* ---- agent ---------------------------------------------------------------------- */

perc_ice_agent *perc_ice_agent_new(GMainContext *ctx, const perc_ice_agent_options *opts,
                                   GError **error)
{
    if (opts->port_min > opts->port_max) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "ICE port range %u-%u is empty", opts->port_min, opts->port_max);
        return NULL;
    }
    perc_ice_agent *a = g_new0(perc_ice_agent, 1);
    a->ctx = ctx ? ctx : g_main_context_default();
    a->port_min = opts->port_min;
    a->port_max = opts->port_max;
    a->streams = g_hash_table_new(g_direct_hash, g_direct_equal);
    a->nice = nice_agent_new_full(a->ctx, NICE_COMPATIBILITY_RFC5245,
                                  opts->lite ? NICE_AGENT_OPTION_LITE_MODE
                                             : NICE_AGENT_OPTION_NONE);
    if (!a->nice) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "libnice could not create an agent");
        perc_ice_agent_free(a);
        return NULL;
    }
    /* A lite agent is always controlled (RFC 8445 §6.1.1). No UPnP, no
     * ICE-TCP, no STUN/TURN servers: host candidates on the addresses
     * given, which is what a Media Distributor with a public address and
     * endpoints on one network need. */
    g_object_set(a->nice, "controlling-mode", opts->lite ? FALSE : (gboolean)opts->controlling,
                 "upnp", FALSE, "ice-tcp", FALSE, NULL);
    for (size_t i = 0; i < opts->n_addresses; i++) {
        NiceAddress addr;
        nice_address_init(&addr);
        if (!nice_address_set_from_string(&addr, opts->addresses[i])) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "ICE address '%s' is not an IPv4 or IPv6 address", opts->addresses[i]);
            perc_ice_agent_free(a);
            return NULL;
        }
        nice_agent_add_local_address(a->nice, &addr);
    }
    g_signal_connect(a->nice, "candidate-gathering-done", G_CALLBACK(on_gathering_done), a);
    g_signal_connect(a->nice, "component-state-changed", G_CALLBACK(on_state_changed), a);
    return a;
}

void perc_ice_agent_free(perc_ice_agent *a)
{
    if (!a)
        return;
    if (a->nice) {
        g_signal_handlers_disconnect_by_data(a->nice, a);
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, a->streams);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            perc_ice_stream *s = v;
            if (s->gathered_idle) {
                g_source_destroy(s->gathered_idle);
                g_source_unref(s->gathered_idle);
            }
            nice_agent_attach_recv(a->nice, s->id, COMPONENT, a->ctx, NULL, NULL);
            nice_agent_remove_stream(a->nice, s->id);
            g_hash_table_iter_remove(&it);
            g_free(s);
        }
        nice_agent_close_async(a->nice, NULL, NULL);
        g_object_unref(a->nice);
    }
    g_hash_table_destroy(a->streams);
    g_free(a);
}

/* ---- streams ---------------------------------------------------------------------- */

perc_ice_stream *perc_ice_stream_new(perc_ice_agent *a, const perc_ice_callbacks *cbs, void *user,
                                     GError **error)
{
    guint id = nice_agent_add_stream(a->nice, 1);
    if (id == 0) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "libnice could not add a stream");
        return NULL;
    }
    perc_ice_stream *s = g_new0(perc_ice_stream, 1);
    s->agent = a;
    s->id = id;
    s->cbs = *cbs;
    s->user = user;
    s->state = PERC_ICE_GATHERING;
    g_hash_table_insert(a->streams, GUINT_TO_POINTER(id), s);
    if (a->port_min || a->port_max)
        nice_agent_set_port_range(a->nice, id, COMPONENT, a->port_min, a->port_max);
    nice_agent_attach_recv(a->nice, id, COMPONENT, a->ctx, on_recv, s);
    s->creating = true;
    gboolean gathering = nice_agent_gather_candidates(a->nice, id);
    s->creating = false;
    if (!gathering) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "ICE: no host candidate could be gathered (address not local, or no free "
                    "port in the range)");
        stream_destroy(s);
        return NULL;
    }
    return s;
}

perc_ice_state perc_ice_stream_state(const perc_ice_stream *s) { return s->state; }

gboolean perc_ice_stream_local_credentials(perc_ice_stream *s, char **ufrag, char **pwd)
{
    gchar *u = NULL, *p = NULL;
    if (!nice_agent_get_local_credentials(s->agent->nice, s->id, &u, &p))
        return FALSE;
    *ufrag = u;
    *pwd = p;
    return TRUE;
}

char **perc_ice_stream_local_candidates(perc_ice_stream *s)
{
    GSList *cands = nice_agent_get_local_candidates(s->agent->nice, s->id, COMPONENT);
    GPtrArray *out = g_ptr_array_new();
    for (GSList *c = cands; c; c = c->next) {
        gchar *line = nice_agent_generate_local_candidate_sdp(s->agent->nice, c->data);
        if (line) {
            /* libnice writes "a=candidate:..."; signaling carries it without "a=". */
            const char *text = g_str_has_prefix(line, "a=") ? line + 2 : line;
            g_ptr_array_add(out, g_strdup(text));
            g_free(line);
        }
    }
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

gboolean perc_ice_stream_set_remote_credentials(perc_ice_stream *s, const char *ufrag,
                                                const char *pwd, GError **error)
{
    if (!ufrag || !pwd || !nice_agent_set_remote_credentials(s->agent->nice, s->id, ufrag, pwd)) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "libnice refused the remote ICE credentials");
        return FALSE;
    }
    return TRUE;
}

gboolean perc_ice_stream_add_remote_candidate(perc_ice_stream *s, const char *candidate,
                                              GError **error)
{
    gchar *line = g_str_has_prefix(candidate, "a=") ? g_strdup(candidate)
                                                    : g_strconcat("a=", candidate, NULL);
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(s->agent->nice, s->id, line);
    g_free(line);
    if (!c) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "ICE candidate not understood by libnice");
        return FALSE;
    }
    gboolean ok = TRUE;
    if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                    "ICE candidate is not UDP (PERC media runs over UDP only)");
        ok = FALSE;
    } else if (c->component_id == COMPONENT) {
        GSList one = {c, NULL};
        if (nice_agent_set_remote_candidates(s->agent->nice, s->id, COMPONENT, &one) < 0) {
            g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID,
                        "libnice refused the ICE candidate");
            ok = FALSE;
        }
    }
    nice_candidate_free(c);
    return ok;
}

void perc_ice_stream_remote_gathering_done(perc_ice_stream *s)
{
    nice_agent_peer_candidate_gathering_done(s->agent->nice, s->id);
}

gboolean perc_ice_stream_send(perc_ice_stream *s, const uint8_t *data, size_t len)
{
    if (s->dead || (s->state != PERC_ICE_CONNECTED && s->state != PERC_ICE_READY) ||
        len > G_MAXUINT)
        return FALSE;
    gint n = nice_agent_send(s->agent->nice, s->id, COMPONENT, (guint)len, (const gchar *)data);
    return n >= 0 && (size_t)n == len;
}

gboolean perc_ice_stream_remote_address(perc_ice_stream *s, char *buf, size_t cap)
{
    NiceCandidate *local = NULL, *remote = NULL;
    if (!nice_agent_get_selected_pair(s->agent->nice, s->id, COMPONENT, &local, &remote) ||
        !remote)
        return FALSE;
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&remote->addr, ip);
    guint port = nice_address_get_port(&remote->addr);
    if (strchr(ip, ':'))
        g_snprintf(buf, cap, "[%s]:%u", ip, port);
    else
        g_snprintf(buf, cap, "%s:%u", ip, port);
    return TRUE;
}

uint16_t perc_ice_stream_local_port(perc_ice_stream *s)
{
    GSList *cands = nice_agent_get_local_candidates(s->agent->nice, s->id, COMPONENT);
    uint16_t port = 0;
    if (cands)
        port = (uint16_t)nice_address_get_port(&((NiceCandidate *)cands->data)->addr);
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    return port;
}
