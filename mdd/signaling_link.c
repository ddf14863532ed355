/* The link to perc-signaling (docs/signaling.md §3, §4.4), role "mdd":
 *   endpoint-offer      -> an ICE-lite stream for the endpoint; once its host
 *                          candidates are gathered, endpoint-answer with our
 *                          ufrag, password, ice-lite and candidates (all of
 *                          them: a lite agent has only host candidates, so
 *                          end-of-candidates is true);
 *   endpoint-candidate  -> a trickled candidate of the endpoint ("" = end);
 *   endpoint-leave      -> the endpoint is removed (EndpointDisconnect to
 *                          the KMF, keys wiped);
 *   liveness            -> endpoint-gone (sent by endpoints.c).
 *   link, link-peer, unlink -> cascade links to other MDDs (links.c), when
 *                          started with --cascade (announced in the hello);
 *                          without it `link` is answered `unavailable`.
 *
 * When the connection to signaling is lost, signaling treats every
 * participant we served as gone (reason mdd-gone, §6.5) and they join
 * again: we drop them all too, so no stale ICE session or key remains. */
#include <string.h>

#include "mddd.h"
#include "perc/signaling.h"
#include "perc_daemon/error.h"
#include "perc_daemon/sigclient.h"

struct mdd_siglink {
    mddd *d;
    perc_sigclient *cli;
};

void mdd_siglink_answer(mdd_siglink *l, mdd_endpoint *ep)
{
    if (!l || !ep->offer_re)
        return;
    char *ufrag = NULL, *pwd = NULL;
    char **cands = perc_ice_stream_local_candidates(ep->ice);
    if (!perc_ice_stream_local_credentials(ep->ice, &ufrag, &pwd) || !cands[0]) {
        g_strfreev(cands);
        g_free(ufrag);
        g_free(pwd);
        mdd_siglink_fail(l, ep, "ICE: no local candidate (check --media-address)");
        return;
    }
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ENDPOINT_ANSWER;
    m.re = ep->offer_re;
    m.ice_ufrag = ufrag;
    m.ice_pwd = pwd;
    m.ice_lite = true;
    m.end_of_candidates = true;
    for (char **c = cands; *c && m.candidate_count < PERC_SIG_MAX_CANDIDATES; c++)
        m.candidates[m.candidate_count++] = *c;
    if (perc_sigclient_send(l->cli, &m))
        perc_log_info("%s/%s: endpoint-answer sent (%zu candidate(s))", ep->conference,
                      ep->participant, m.candidate_count);
    g_free(ep->offer_re);
    ep->offer_re = NULL;
    g_strfreev(cands);
    g_free(ufrag);
    g_free(pwd);
}

void mdd_siglink_fail(mdd_siglink *l, mdd_endpoint *ep, const char *reason)
{
    if (!l || !ep->offer_re)
        return;
    (void)perc_sigclient_send_error(l->cli, ep->offer_re, PERC_SIG_E_INTERNAL, reason, NULL);
    g_free(ep->offer_re);
    ep->offer_re = NULL;
}

void mdd_siglink_endpoint_gone(mdd_siglink *l, const char *conference, const char *participant,
                               const char *reason)
{
    if (!l)
        return;
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ENDPOINT_GONE;
    m.conference = conference;
    m.participant = participant;
    m.reason = reason;
    (void)perc_sigclient_send(l->cli, &m);
}

static void on_offer(mdd_siglink *l, const perc_sig_msg *m)
{
    mddd *d = l->d;
    GError *e = NULL;
    /* The decoder parsed and checked the offer (docs/signaling.md §2.1). */
    mdd_endpoint *ep = mdd_endpoint_create(d, m->conference, m->participant, m->sdp_model, m->id,
                                           &e);
    if (!ep) {
        bool full = g_error_matches(e, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT);
        perc_log_warn("%s/%s: endpoint-offer refused: %s", m->conference, m->participant,
                      e->message);
        (void)perc_sigclient_send_error(l->cli, m->id,
                                        full ? PERC_SIG_E_LIMIT : PERC_SIG_E_BAD_SDP, e->message,
                                        full ? NULL : "sdp");
        g_error_free(e);
        return;
    }
    /* endpoints.c answers when the stream's `gathered` callback comes. */
    (void)ep;
}

static void on_candidate(mdd_siglink *l, const perc_sig_msg *m)
{
    mdd_endpoint *ep = mdd_endpoint_find(l->d, m->conference, m->participant);
    if (!ep) {
        (void)perc_sigclient_send_error(l->cli, NULL, PERC_SIG_E_UNKNOWN_PARTICIPANT,
                                        "no such endpoint here", "participant");
        return;
    }
    if (m->candidate[0] == '\0') {
        perc_ice_stream_remote_gathering_done(ep->ice);
        return;
    }
    GError *e = NULL;
    if (!perc_ice_stream_add_remote_candidate(ep->ice, m->candidate, &e)) {
        perc_log_info("%s/%s: trickled candidate skipped: %s", ep->conference, ep->participant,
                      e->message);
        g_error_free(e);
    }
}

static void on_leave(mdd_siglink *l, const perc_sig_msg *m)
{
    mdd_endpoint *ep = mdd_endpoint_find(l->d, m->conference, m->participant);
    if (!ep) {
        /* A race with our own endpoint-gone: nothing to do (§4.4). */
        perc_log_info("%s/%s: endpoint-leave for an endpoint we do not have (%s)",
                      m->conference, m->participant, m->reason);
        return;
    }
    char reason[PERC_SIG_MAX_REASON + 16];
    g_snprintf(reason, sizeof reason, "signaling: %s", m->reason);
    mdd_endpoint_leave(l->d, ep, reason);
    mddd_after(l->d);
}

static void on_link(mdd_siglink *l, const perc_sig_msg *m)
{
    if (!l->d->cascade) {
        (void)perc_sigclient_send_error(l->cli, m->id, PERC_SIG_E_UNAVAILABLE,
                                        "this MDD does not cascade (no --cascade)", NULL);
        return;
    }
    GError *e = NULL;
    if (!mdd_link_create(l->d, m->conference, m->link, m->peer,
                         m->dtls_role == PERC_SIG_DTLS_CLIENT, m->id, &e)) {
        perc_log_warn("%s: link %s refused: %s", m->conference, m->link, e->message);
        (void)perc_sigclient_send_error(l->cli, m->id, PERC_SIG_E_UNAVAILABLE, e->message, NULL);
        g_error_free(e);
    }
}

static void on_link_peer(mdd_siglink *l, const perc_sig_msg *m)
{
    perc_sdp_fingerprint fp;
    GError *e = NULL;
    if (perc_sig_fingerprint_parse(m->fingerprint, &fp) != PERC_OK || !perc_sdp_fingerprint_is_sha256(&fp)) {
        perc_log_warn("%s: link-peer for %s without a sha-256 fingerprint", m->conference,
                      m->link);
        return;
    }
    if (!mdd_link_peer(l->d, m->conference, m->link, m->ice_ufrag, m->ice_pwd, fp.value,
                       m->candidates, m->candidate_count, &e)) {
        perc_log_warn("%s: link-peer for %s not applied: %s", m->conference, m->link,
                      e->message);
        g_error_free(e);
    }
}

void mdd_siglink_link_info(mdd_siglink *l, const char *re, const char *ufrag, const char *pwd,
                           const char *fingerprint, const char *const *candidates)
{
    if (!l)
        return;
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_LINK_INFO;
    m.re = re;
    m.ice_ufrag = ufrag;
    m.ice_pwd = pwd;
    m.fingerprint = fingerprint;
    for (const char *const *c = candidates; *c && m.candidate_count < PERC_SIG_MAX_CANDIDATES; c++)
        m.candidates[m.candidate_count++] = *c;
    (void)perc_sigclient_send(l->cli, &m);
}

void mdd_siglink_link_failed(mdd_siglink *l, const char *re, const char *reason)
{
    if (l)
        (void)perc_sigclient_send_error(l->cli, re, PERC_SIG_E_UNAVAILABLE, reason, NULL);
}

static bool on_message(void *user, perc_sigclient *c, const perc_sig_msg *m)
{
    (void)c;
    mdd_siglink *l = user;
    switch (m->type) {
    case PERC_SIG_ERROR:
        return true; /* logged by the client; we send no requests */
    case PERC_SIG_ENDPOINT_OFFER:
        on_offer(l, m);
        return true;
    case PERC_SIG_ENDPOINT_CANDIDATE:
        on_candidate(l, m);
        return true;
    case PERC_SIG_ENDPOINT_LEAVE:
        on_leave(l, m);
        return true;
    case PERC_SIG_LINK:
        on_link(l, m);
        return true;
    case PERC_SIG_LINK_PEER:
        on_link_peer(l, m);
        return true;
    case PERC_SIG_UNLINK:
        mdd_link_remove(l->d, m->conference, m->link, m->reason);
        mddd_after(l->d);
        return true;
    default:
        return false;
    }
}

static void on_closed(void *user, perc_sigclient *c, int code, const char *reason)
{
    (void)c;
    (void)code;
    (void)reason;
    mdd_siglink *l = user;
    mdd_link_remove_all(l->d, "lost the connection to signaling");
    if (g_hash_table_size(l->d->endpoints) > 0)
        mdd_endpoint_remove_all(l->d, "lost the connection to signaling");
    mddd_after(l->d);
}

static const perc_sigclient_callbacks cbs = {NULL, on_message, on_closed};

mdd_siglink *mdd_siglink_new(mddd *d, const mdd_siglink_options *opts, GError **error)
{
    mdd_siglink *l = g_new0(mdd_siglink, 1);
    l->d = d;
    perc_sig_msg hello;
    perc_sig_msg_init(&hello);
    hello.type = PERC_SIG_HELLO;
    hello.role = PERC_SIG_ROLE_MDD;
    hello.name = opts->name;
    hello.token = opts->token;
    hello.capacity = opts->capacity;
    hello.cascade = opts->cascade;
    perc_sigclient_options o = {.url = opts->url, .ca_file = opts->ca_file, .hello = &hello};
    l->cli = perc_sigclient_new(d->ws, &o, &cbs, l, error);
    if (!l->cli) {
        g_free(l);
        return NULL;
    }
    return l;
}

void mdd_siglink_free(mdd_siglink *l)
{
    if (!l)
        return;
    perc_sigclient_free(l->cli);
    g_free(l);
}
