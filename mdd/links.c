/* Cascade links to other Media Distributors of a conference (RFC 8871
 * §4.5.1; docs/signaling.md §6.8). Signaling introduces the two ends with
 * `link` (our name for it, the peer, our DTLS role); we answer `link-info`
 * with our ICE transport and DTLS fingerprint, and learn the peer's from
 * `link-peer`. The link runs full ICE (the DTLS client's side controlling)
 * and then DTLS-SRTP with a plain AES-GCM profile (perc/dtls_link.h): the
 * KMF is not involved and neither end ever holds more than hop-by-hop keys.
 * Once keyed, the link is a slot in the forwarding core (perc_mdd_link_*):
 * local senders' media goes over it, the far side's comes back to local
 * endpoints. `unlink`, or losing signaling, ends it. */
#include <string.h>

#include "mddd.h"
#include "perc/demux.h"
#include "perc/dtls_link.h"
#include "perc/secret.h"
#include "perc/tls.h"
#include "perc_daemon/error.h"

struct mdd_link {
    mddd *d;
    uint64_t handle;
    char *conference, *name, *peer;
    bool client;
    char *info_re;              /* the `link` request to answer once gathered */
    perc_ice_stream *ice;
    perc_dtls_link *dtls;
    bool dtls_started, keyed;
    perc_deadline_timer *timer;
};

static uint8_t g_dg[PERC_DTLS_LINK_MAX_DATAGRAM];

static void link_free(gpointer p)
{
    mdd_link *l = p;
    perc_deadline_timer_free(l->timer);
    perc_ice_stream_free(l->ice);
    perc_dtls_link_free(l->dtls);
    g_free(l->conference);
    g_free(l->name);
    g_free(l->peer);
    g_free(l->info_re);
    g_free(l);
}

void mdd_links_init(mddd *d)
{
    d->links = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, link_free);
}

mdd_link *mdd_link_by_handle(mddd *d, uint64_t handle)
{
    return d->links ? g_hash_table_lookup(d->links, &handle) : NULL;
}

static mdd_link *find(mddd *d, const char *conference, const char *name)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, d->links);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        mdd_link *l = v;
        if (strcmp(l->conference, conference) == 0 && strcmp(l->name, name) == 0)
            return l;
    }
    return NULL;
}

void mdd_link_send(mddd *d, mdd_link *l, const uint8_t *data, size_t len)
{
    if (!perc_ice_stream_send(l->ice, data, len))
        d->n.drop_send++;
}

static bool ice_up(const mdd_link *l)
{
    perc_ice_state st = perc_ice_stream_state(l->ice);
    return st == PERC_ICE_CONNECTED || st == PERC_ICE_READY;
}

/* DTLS output and timer; keys into the core once the handshake is done.
 * The peer's ClientHello can reach us while our side of ICE is still
 * checking (the controlling side sees its check succeed first), and
 * libnice cannot send yet: the answer stays in the DTLS output buffer and
 * on_state sends it once ICE is up, rather than losing it and waiting a
 * whole retransmission timeout (1 s) for the ClientHello again. */
static void dtls_after(mdd_link *l)
{
    mddd *d = l->d;
    if (!l->dtls)
        return;
    size_t n;
    while (ice_up(l) && perc_dtls_link_pull(l->dtls, g_dg, sizeof g_dg, &n) == PERC_OK && n > 0)
        mdd_link_send(d, l, g_dg, n);
    perc_dtls_link_state st = perc_dtls_link_get_state(l->dtls);
    if (st == PERC_DTLS_LINK_CONNECTED && !l->keyed) {
        perc_dtls_link_keys k;
        int rc = perc_dtls_link_get_keys(l->dtls, &k);
        if (rc == PERC_OK)
            rc = perc_mdd_link_set_keys(d->core, l->handle, k.profile, k.remote.key,
                                        k.remote.key_len, k.remote.salt, PERC_SRTP_SALT_LEN,
                                        k.local.key, k.local.key_len, k.local.salt,
                                        PERC_SRTP_SALT_LEN);
        uint16_t profile = k.profile;
        perc_wipe(&k, sizeof k);
        if (rc == PERC_OK) {
            l->keyed = true;
            perc_log_info("%s: cascade link %s to %s keyed (profile 0x%04x): forwarding",
                          l->conference, l->name, l->peer, profile);
        } else {
            perc_log_warn("%s: cascade link %s: keys refused: %s", l->conference, l->name,
                          perc_strerror(rc));
        }
    } else if (st == PERC_DTLS_LINK_FAILED) {
        perc_log_warn("%s: cascade link %s to %s failed: %s", l->conference, l->name, l->peer,
                      perc_dtls_link_failure(l->dtls));
    }
    perc_deadline_timer_arm(l->timer, perc_dtls_link_next_timeout(l->dtls));
}

static void on_timer(void *user, uint64_t now)
{
    mdd_link *l = user;
    if (l->dtls && perc_dtls_link_on_timeout(l->dtls, now) == PERC_OK)
        dtls_after(l);
}

static void maybe_start_dtls(mdd_link *l)
{
    if (!l->client || l->dtls_started || !l->dtls || !ice_up(l))
        return;
    l->dtls_started = true;
    if (perc_dtls_link_start(l->dtls, perc_clock_now_ns()) != PERC_OK)
        perc_log_warn("%s: cascade link %s: DTLS did not start", l->conference, l->name);
    dtls_after(l);
}

static void on_datagram(void *user, perc_ice_stream *s, const uint8_t *data, size_t len)
{
    (void)s;
    mdd_link *l = user;
    mddd *d = l->d;
    uint64_t now = perc_clock_now_ns();
    int rc = PERC_OK;
    switch (perc_demux_classify(data, len)) {
    case PERC_DEMUX_DTLS:
        if (l->dtls && perc_dtls_link_get_state(l->dtls) != PERC_DTLS_LINK_FAILED) {
            rc = perc_dtls_link_recv(l->dtls, data, len, now);
            dtls_after(l);
        }
        return;
    case PERC_DEMUX_RTP:
        rc = perc_mdd_rtp_in(d->core, l->handle, data, len, now);
        break;
    case PERC_DEMUX_RTCP:
        rc = perc_mdd_rtcp_in(d->core, l->handle, data, len, now);
        break;
    default:
        d->n.drop_not_media++;
        return;
    }
    if (rc != PERC_OK)
        perc_log_limited(&d->lim_core, PERC_LOG_WARN, "%s: cascade link %s: packet dropped: %s",
                         l->conference, l->name, perc_strerror(rc));
    mddd_after(d);
}

static void on_gathered(void *user, perc_ice_stream *s)
{
    (void)s;
    mdd_link *l = user;
    if (!l->info_re)
        return;
    char *ufrag = NULL, *pwd = NULL;
    char **cands = perc_ice_stream_local_candidates(l->ice);
    if (perc_ice_stream_local_credentials(l->ice, &ufrag, &pwd) && cands[0]) {
        char hex[PERC_TLS_FINGERPRINT_TEXT_LEN + 1];
        char fp_text[16 + sizeof hex];
        if (perc_tls_fingerprint_format(l->d->link_fp, hex, sizeof hex) != PERC_OK)
            hex[0] = '\0';
        g_snprintf(fp_text, sizeof fp_text, "sha-256 %s", hex);
        mdd_siglink_link_info(l->d->sig, l->info_re, ufrag, pwd, fp_text,
                              (const char *const *)cands);
    } else {
        mdd_siglink_link_failed(l->d->sig, l->info_re, "ICE: no local candidate");
    }
    g_strfreev(cands);
    g_free(ufrag);
    g_free(pwd);
    g_free(l->info_re);
    l->info_re = NULL;
}

static void on_state(void *user, perc_ice_stream *s, perc_ice_state st)
{
    (void)s;
    mdd_link *l = user;
    perc_log_info("%s: cascade link %s to %s: ICE %s", l->conference, l->name, l->peer,
                  perc_ice_state_name(st));
    maybe_start_dtls(l);
    if (!l->client && ice_up(l))
        dtls_after(l); /* an answer held back while ICE was checking */
}

static const perc_ice_callbacks link_ice_cbs = {on_gathered, on_state, on_datagram};

gboolean mdd_link_create(mddd *d, const char *conference, const char *name, const char *peer,
                         bool client, const char *re, GError **error)
{
    if (find(d, conference, name) || g_hash_table_size(d->links) >= MDD_MAX_LINKS) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "link %s exists already, or %d links are open", name, MDD_MAX_LINKS);
        return FALSE;
    }
    perc_ice_agent *agent = client ? d->link_agent_controlling : d->link_agent_controlled;
    mdd_link *l = g_new0(mdd_link, 1);
    l->d = d;
    l->handle = ++d->next_handle;
    l->conference = g_strdup(conference);
    l->name = g_strdup(name);
    l->peer = g_strdup(peer);
    l->client = client;
    l->info_re = g_strdup(re);
    l->timer = perc_deadline_timer_new(NULL, on_timer, l);
    int rc = perc_mdd_link_add(d->core, l->handle, perc_clock_now_ns());
    if (rc == PERC_OK)
        rc = perc_mdd_endpoint_set_group(d->core, l->handle, mdd_conference_group(d, conference));
    if (rc != PERC_OK) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT,
                    "forwarding core refused the link: %s", perc_strerror(rc));
        link_free(l);
        return FALSE;
    }
    l->ice = perc_ice_stream_new(agent, &link_ice_cbs, l, error);
    if (!l->ice) {
        mdd_core_forget(d, l->handle);
        link_free(l);
        return FALSE;
    }
    g_hash_table_insert(d->links, g_memdup2(&l->handle, sizeof l->handle), l);
    perc_log_info("%s: cascade link %s to %s created (we are the DTLS %s)", conference, name,
                  peer, client ? "client" : "server");
    return TRUE;
}

gboolean mdd_link_peer(mddd *d, const char *conference, const char *name, const char *ufrag,
                       const char *pwd, const uint8_t fp[PERC_DTLS_LINK_FP_LEN],
                       const char *const *candidates, size_t n_candidates, GError **error)
{
    mdd_link *l = find(d, conference, name);
    if (!l) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE, "no link %s here", name);
        return FALSE;
    }
    if (l->dtls) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE,
                    "link %s already has its peer", name);
        return FALSE;
    }
    if (!perc_ice_stream_set_remote_credentials(l->ice, ufrag, pwd, error))
        return FALSE;
    for (size_t i = 0; i < n_candidates; i++) {
        GError *e = NULL;
        if (!perc_ice_stream_add_remote_candidate(l->ice, candidates[i], &e)) {
            perc_log_info("%s: cascade link %s: candidate skipped: %s", conference, name,
                          e->message);
            g_error_free(e);
        }
    }
    perc_ice_stream_remote_gathering_done(l->ice);
    perc_dtls_link_config c = {.cert = d->link_cert, .key = d->link_key, .client = l->client};
    memcpy(c.peer_fingerprint, fp, PERC_DTLS_LINK_FP_LEN);
    int rc = perc_dtls_link_new(&c, &l->dtls);
    if (rc != PERC_OK) {
        g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE, "DTLS: %s",
                    perc_strerror(rc));
        return FALSE;
    }
    maybe_start_dtls(l);
    return TRUE;
}

void mdd_link_remove(mddd *d, const char *conference, const char *name, const char *reason)
{
    mdd_link *l = find(d, conference, name);
    if (!l)
        return;
    perc_log_info("%s: cascade link %s to %s removed: %s", conference, name, l->peer, reason);
    mdd_core_forget(d, l->handle);
    uint64_t h = l->handle;
    g_hash_table_remove(d->links, &h);
}

void mdd_link_remove_all(mddd *d, const char *reason)
{
    GList *all = g_hash_table_get_values(d->links);
    for (GList *i = all; i; i = i->next) {
        mdd_link *l = i->data;
        char *conf = g_strdup(l->conference), *name = g_strdup(l->name);
        mdd_link_remove(d, conf, name, reason);
        g_free(conf);
        g_free(name);
    }
    g_list_free(all);
}

size_t mdd_link_count(mddd *d)
{
    return d->links ? g_hash_table_size(d->links) : 0;
}
