/* The join (docs/signaling.md §6): participants, the KMF's and the Media
 * Distributor's replies and events, leaving, timers, placement on Media
 * Distributors and cascade links. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "focus_internal.h"

/* ---- lookups ---- */

focus_conn *focus_kmf_for(const perc_focus *f, const focus_conf *c)
{
    if (c && c->kmf_name[0])
        return focus_daemon_find(f, PERC_SIG_ROLE_KMF, c->kmf_name);
    focus_conn *best = NULL;
    for (size_t i = 0; i < f->conn_count; i++) {
        focus_conn *k = f->conns[i];
        if (k->role == PERC_SIG_ROLE_KMF && (!best || k->seq < best->seq))
            best = k;
    }
    return best;
}

static focus_part *part_find_id(const perc_focus *f, const char *id)
{
    for (size_t i = 0; i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        for (size_t k = 0; k < c->part_count; k++) {
            if (strcmp(c->parts[k]->id, id) == 0)
                return c->parts[k];
        }
    }
    return NULL;
}

/* The participant whose outstanding KMF (kmf true) or MD request is
 * number req. */
static focus_part *part_find_req(const perc_focus *f, uint64_t req, bool kmf)
{
    for (size_t i = 0; req && i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        for (size_t k = 0; k < c->part_count; k++) {
            focus_part *p = c->parts[k];
            if ((kmf ? p->kmf_req : p->mdd_req) == req)
                return p;
        }
    }
    return NULL;
}

static focus_link *link_find_req(const perc_focus *f, uint64_t req)
{
    for (size_t i = 0; req && i < f->link_count; i++) {
        if (f->links[i]->req_a == req || f->links[i]->req_b == req)
            return f->links[i];
    }
    return NULL;
}

static size_t pending_count(const perc_focus *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        for (size_t k = 0; k < c->part_count; k++)
            n += c->parts[k]->state == PERC_FOCUS_WAITING_KMF ||
                 c->parts[k]->state == PERC_FOCUS_WAITING_MDD;
    }
    return n;
}

/* ---- freeing ---- */

static void free_mdd_answer(focus_part *p)
{
    for (size_t i = 0; i < p->mdd_cand_count; i++)
        free(p->mdd_cands[i]);
    p->mdd_cand_count = 0;
    for (size_t i = 0; i < p->early_count; i++)
        free(p->early[i].text);
    p->early_count = 0;
}

void focus_part_free(focus_part *p)
{
    if (!p)
        return;
    free_mdd_answer(p);
    free(p->offer);
    free(p);
}

void focus_link_free(focus_link *l) { free(l); }

/* ---- messages to the daemons and the roster ---- */

static void msg_about(perc_sig_msg *m, perc_sig_type type, const focus_part *p)
{
    perc_sig_msg_init(m);
    m->type = type;
    m->conference = p->conf->id;
    m->participant = p->id;
}

static int send_joined(perc_focus *f, const focus_part *about, uint64_t to)
{
    perc_sig_msg m;
    msg_about(&m, PERC_SIG_JOINED, about);
    m.identity = about->identity;
    m.ssrc_count = about->ssrc_count;
    memcpy(m.ssrcs, about->ssrcs, sizeof m.ssrcs);
    return focus_send(f, to, &m);
}

static bool in_roster_audience(const focus_part *q)
{
    return q->state == PERC_FOCUS_ANSWERED || q->state == PERC_FOCUS_JOINED;
}

/* Tells every other answered or joined participant about p. */
static int broadcast(perc_focus *f, const focus_part *p, perc_sig_type type, const char *reason)
{
    int rc = PERC_OK;
    const focus_conf *c = p->conf;
    for (size_t k = 0; k < c->part_count; k++) {
        const focus_part *q = c->parts[k];
        if (q == p || !in_roster_audience(q))
            continue;
        int r;
        if (type == PERC_SIG_JOINED) {
            r = send_joined(f, p, q->endpoint);
        } else {
            perc_sig_msg m;
            msg_about(&m, PERC_SIG_LEFT, p);
            m.reason = reason;
            r = focus_send(f, q->endpoint, &m);
        }
        rc = rc ? rc : r;
    }
    return rc;
}

static int send_ended(perc_focus *f, const focus_part *p, const char *reason)
{
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ENDED;
    m.conference = p->conf->id;
    m.reason = reason;
    return focus_send(f, p->endpoint, &m);
}

static int send_unlink(perc_focus *f, const focus_link *l, uint64_t to, const char *reason)
{
    if (!focus_conn_find(f, to))
        return PERC_OK;
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_UNLINK;
    m.conference = l->conf->id;
    m.link = l->id;
    m.reason = reason;
    return focus_send(f, to, &m);
}

static void link_remove(perc_focus *f, focus_link *l)
{
    for (size_t i = 0; i < f->link_count; i++) {
        if (f->links[i] == l) {
            memmove(&f->links[i], &f->links[i + 1], (f->link_count - i - 1) * sizeof *f->links);
            f->link_count--;
            break;
        }
    }
    focus_link_free(l);
}

/* The last participant left: links end, placement is forgotten, and a
 * conference created by a join goes away. */
static int conf_emptied(perc_focus *f, focus_conf *c)
{
    int rc = PERC_OK;
    for (size_t i = 0; i < f->link_count;) {
        focus_link *l = f->links[i];
        if (l->conf != c) {
            i++;
            continue;
        }
        int r = send_unlink(f, l, l->a, "conference ended");
        int r2 = send_unlink(f, l, l->b, "conference ended");
        rc = rc ? rc : r ? r : r2;
        link_remove(f, l);
    }
    c->mdd_count = 0;
    if (!c->configured) {
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: ended", c->id);
        focus_conf_remove(f, c);
    }
    return rc;
}

/* Removes p: tells the KMF and the MD whatever they hold (kmf_told,
 * mdd_told), the others if it had joined, and frees it. The endpoint
 * itself is told by the caller. */
static int part_remove(perc_focus *f, focus_part *p, const char *reason)
{
    int rc = PERC_OK, r;
    focus_conf *c = p->conf;
    perc_sig_msg m;
    if (p->kmf_told && focus_conn_find(f, p->kmf_conn)) {
        msg_about(&m, PERC_SIG_PARTICIPANT_LEFT, p);
        m.reason = reason;
        r = focus_send(f, p->kmf_conn, &m);
        rc = rc ? rc : r;
    }
    if (p->mdd_told && focus_conn_find(f, p->mdd_conn)) {
        msg_about(&m, PERC_SIG_ENDPOINT_LEAVE, p);
        m.reason = reason;
        r = focus_send(f, p->mdd_conn, &m);
        rc = rc ? rc : r;
    }
    if (p->placed) {
        focus_conn *md = focus_conn_find(f, p->mdd_conn);
        if (md && md->load > 0)
            md->load--;
    }
    if (p->state == PERC_FOCUS_JOINED) {
        r = broadcast(f, p, PERC_SIG_LEFT, reason);
        rc = rc ? rc : r;
    }
    focus_conn *ep = focus_conn_find(f, p->endpoint);
    if (ep && ep->part == p)
        ep->part = NULL;
    focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: %s (%s) left in state %s: %s", c->id,
              p->id, p->identity, perc_focus_part_state_name(p->state), reason);
    for (size_t i = 0; i < c->part_count; i++) {
        if (c->parts[i] == p) {
            memmove(&c->parts[i], &c->parts[i + 1], (c->part_count - i - 1) * sizeof *c->parts);
            c->part_count--;
            break;
        }
    }
    focus_part_free(p);
    f->stats.leaves++;
    if (c->part_count == 0) {
        r = conf_emptied(f, c);
        rc = rc ? rc : r;
    }
    return rc;
}

/* A join that ends before its answer: the join request gets `code`. */
static int fail_join(perc_focus *f, focus_part *p, perc_sig_code code, const char *why,
                     const char *reason)
{
    int rc = focus_send_error(f, p->endpoint, p->join_id, code, NULL, why);
    int rc2 = part_remove(f, p, reason);
    return rc ? rc : rc2;
}

/* ---- placement (docs/signaling.md §6.7, §6.8) ---- */

static bool has_room(const focus_conn *m) { return m->load < m->capacity; }

/* a is less loaded than b (load / capacity), ties to the older one. */
static bool less_loaded(const focus_conn *a, const focus_conn *b)
{
    uint64_t la = (uint64_t)a->load * b->capacity, lb = (uint64_t)b->load * a->capacity;
    return la < lb || (la == lb && a->seq < b->seq);
}

static bool conf_has_mdd(const focus_conf *c, uint64_t id)
{
    for (size_t k = 0; c && k < c->mdd_count; k++) {
        if (c->mdds[k] == id)
            return true;
    }
    return false;
}

typedef struct placement {
    focus_conn *mdd;
    bool is_new;            /* not yet serving the conference */
    perc_sig_code code;
    const char *why;
} placement;

static void place(const perc_focus *f, const focus_conf *conf, placement *pl)
{
    memset(pl, 0, sizeof *pl);
    size_t n = conf ? conf->mdd_count : 0;
    bool cascade_in_conf = false;
    focus_conn *best = NULL;
    for (size_t k = 0; k < n; k++) {
        focus_conn *m = focus_conn_find(f, conf->mdds[k]);
        if (!m)
            continue;
        cascade_in_conf |= m->cascade;
        if (has_room(m) && (!best || less_loaded(m, best)))
            best = m;
    }
    if (best) {
        pl->mdd = best;
        return;
    }
    bool any = false;
    for (size_t i = 0; i < f->conn_count; i++) {
        focus_conn *m = f->conns[i];
        if (m->role != PERC_SIG_ROLE_MDD)
            continue;
        any = true;
        if (conf_has_mdd(conf, m->id) || !has_room(m))
            continue;
        if (n > 0 && (!f->cfg.cascade || !m->cascade || !cascade_in_conf ||
                      n >= PERC_FOCUS_MAX_CONF_MDDS))
            continue;
        if (!best || less_loaded(m, best))
            best = m;
    }
    if (best) {
        pl->mdd = best;
        pl->is_new = true;
        return;
    }
    pl->code = any ? PERC_SIG_E_LIMIT : PERC_SIG_E_UNAVAILABLE;
    pl->why = !any ? "no media distributor is connected"
              : n  ? "the conference's media distributors are full"
                   : "every media distributor is full";
}

/* The conference now spans `md` too: link it with every cascading MD
 * already serving it. */
static int link_mdds(perc_focus *f, focus_conf *conf, focus_conn *md)
{
    int rc = PERC_OK;
    for (size_t k = 0; k < conf->mdd_count; k++) {
        focus_conn *a = focus_conn_find(f, conf->mdds[k]);
        if (!a || a == md || !a->cascade)
            continue;
        int r = PERC_OK;
        if (f->link_count == f->link_cap) {
            size_t ncap = f->link_cap ? f->link_cap * 2 : 8;
            focus_link **n = realloc(f->links, ncap * sizeof *n);
            if (!n)
                return PERC_ERR_NOMEM;
            f->links = n;
            f->link_cap = ncap;
        }
        focus_link *l = calloc(1, sizeof *l);
        if (!l)
            return PERC_ERR_NOMEM;
        l->num = ++f->link_seq;
        focus_num_name(l->id, sizeof l->id, 'l', l->num);
        l->conf = conf;
        l->a = a->id;
        l->b = md->id;
        l->req_a = ++f->req_seq;
        l->req_b = ++f->req_seq;
        f->links[f->link_count++] = l;
        char id_a[FOCUS_NAME_CAP], id_b[FOCUS_NAME_CAP];
        focus_num_name(id_a, sizeof id_a, 's', l->req_a);
        focus_num_name(id_b, sizeof id_b, 's', l->req_b);
        perc_sig_msg m;
        perc_sig_msg_init(&m);
        m.type = PERC_SIG_LINK;
        m.conference = conf->id;
        m.link = l->id;
        m.id = id_a;
        m.peer = md->name;
        m.dtls_role = PERC_SIG_DTLS_CLIENT;
        r = focus_send(f, a->id, &m);
        rc = rc ? rc : r;
        m.id = id_b;
        m.peer = a->name;
        m.dtls_role = PERC_SIG_DTLS_SERVER;
        r = focus_send(f, md->id, &m);
        rc = rc ? rc : r;
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: cascade link %s between %s and %s",
                  conf->id, l->id, a->name, md->name);
    }
    return rc;
}

/* ---- join ---- */

static const char *collect_ssrcs(focus_part *p, const perc_sdp *offer)
{
    for (size_t i = 0; i < offer->media_count; i++) {
        const perc_sdp_media *md = &offer->media[i];
        for (size_t k = 0; k < md->ssrc_count; k++) {
            uint32_t v = md->ssrcs[k].ssrc;
            bool seen = false;
            for (size_t j = 0; j < p->ssrc_count; j++)
                seen = seen || p->ssrcs[j].ssrc == v;
            if (seen)
                continue;
            if (p->ssrc_count == PERC_SIG_MAX_SSRCS)
                return "more than 64 SSRCs";
            size_t j = p->ssrc_count++;
            snprintf(p->ssrc_mids[j], sizeof p->ssrc_mids[j], "%s", md->mid);
            p->ssrcs[j].ssrc = v;
            p->ssrcs[j].kind = md->type;
            p->ssrcs[j].mid = p->ssrc_mids[j];
        }
    }
    return NULL;
}

static const focus_part *ssrc_owner(const focus_conf *c, const focus_part *p, uint32_t *which)
{
    for (size_t k = 0; c && k < c->part_count; k++) {
        const focus_part *q = c->parts[k];
        for (size_t a = 0; a < q->ssrc_count; a++) {
            for (size_t b = 0; b < p->ssrc_count; b++) {
                if (q->ssrcs[a].ssrc == p->ssrcs[b].ssrc) {
                    *which = p->ssrcs[b].ssrc;
                    return q;
                }
            }
        }
    }
    return NULL;
}

static int send_requests(perc_focus *f, focus_part *p, focus_conn *kmf, focus_conn *md,
                         const perc_sig_msg *join)
{
    char req[FOCUS_NAME_CAP];
    const perc_sdp_fingerprint *fp = NULL;
    const char *tls_id = NULL;
    char fptext[FOCUS_FP_CAP];
    /* The offer passed perc_sig_decode: a sha-256 fingerprint and a tls-id
     * are in force in section 0 and the same in every section. */
    if (perc_sdp_effective_fingerprint(p->offer, 0, &fp) != PERC_OK ||
        perc_sdp_effective_tls_id(p->offer, 0, &tls_id) != PERC_OK)
        return PERC_ERR_STATE;
    int n = snprintf(fptext, sizeof fptext, "sha-256 ");
    for (size_t i = 0; i < fp->len && n > 0 && (size_t)n + 3 < sizeof fptext; i++)
        n += snprintf(fptext + n, sizeof fptext - (size_t)n, "%s%02X", i ? ":" : "",
                      fp->value[i]);

    perc_sig_msg m;
    msg_about(&m, PERC_SIG_PARTICIPANT, p);
    p->kmf_req = ++f->req_seq;
    focus_num_name(req, sizeof req, 's', p->kmf_req);
    m.id = req;
    m.identity = p->identity;
    m.fingerprint = fptext;
    m.tls_id = tls_id;
    p->kmf_told = true;
    p->kmf_conn = kmf->id;
    int rc = focus_send(f, kmf->id, &m);

    msg_about(&m, PERC_SIG_ENDPOINT_OFFER, p);
    p->mdd_req = ++f->req_seq;
    focus_num_name(req, sizeof req, 's', p->mdd_req);
    m.id = req;
    m.sdp = join->sdp;
    p->mdd_told = true;
    int rc2 = focus_send(f, md->id, &m);
    return rc ? rc : rc2;
}

int focus_on_join(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    if (c->part)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_BAD_STATE, NULL,
                                "already joined on this connection; leave first");
    if (strcmp(m->conference, c->conference) != 0)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_FORBIDDEN, "conference",
                                "this connection said hello for another conference");
    focus_conf *conf = focus_conf_find(f, m->conference);
    if (!conf && !f->cfg.auto_create)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_UNKNOWN_CONFERENCE, "conference",
                                "no such conference");
    if (!conf && f->conf_count >= f->cfg.max_conferences)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_LIMIT, NULL,
                                "too many conferences");
    size_t maxp = conf && conf->max_participants ? conf->max_participants
                                                 : f->cfg.max_participants;
    if (conf && conf->part_count >= maxp)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_LIMIT, NULL,
                                "the conference is full");
    if (pending_count(f) >= f->cfg.max_pending)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_LIMIT, NULL,
                                "too many joins in progress; try again later");
    for (size_t k = 0; conf && k < conf->part_count; k++) {
        if (strcmp(conf->parts[k]->identity, m->identity) == 0)
            return focus_send_error(f, c->id, m->id, PERC_SIG_E_DUPLICATE, "identity",
                                    "this identity is already in the conference");
    }
    unsigned line = 0;
    char why[FOCUS_TEXT_CAP];
    const char *bad = focus_offer_usable(m->sdp_model, &line);
    if (bad) {
        snprintf(why, sizeof why, "sdp line %u: %s", line, bad);
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_BAD_SDP, "sdp", why);
    }

    focus_part *p = calloc(1, sizeof *p);
    if (!p)
        return PERC_ERR_NOMEM;
    bad = collect_ssrcs(p, m->sdp_model);
    uint32_t ssrc = 0;
    const focus_part *owner = bad ? NULL : ssrc_owner(conf, p, &ssrc);
    focus_conn *kmf = focus_kmf_for(f, conf);
    placement pl;
    place(f, conf, &pl);
    int rc = PERC_OK;
    if (bad) {
        rc = focus_send_error(f, c->id, m->id, PERC_SIG_E_BAD_SDP, "sdp", bad);
    } else if (owner) {
        snprintf(why, sizeof why, "SSRC %lu is already used in this conference by %s",
                 (unsigned long)ssrc, owner->id);
        rc = focus_send_error(f, c->id, m->id, PERC_SIG_E_DUPLICATE, "sdp", why);
    } else if (!kmf) {
        f->stats.failures++;
        rc = focus_send_error(f, c->id, m->id, PERC_SIG_E_UNAVAILABLE, NULL,
                              "no key distributor is connected");
    } else if (!pl.mdd) {
        f->stats.failures += pl.code == PERC_SIG_E_UNAVAILABLE;
        rc = focus_send_error(f, c->id, m->id, pl.code, NULL, pl.why);
    } else {
        goto commit;
    }
    free(p);
    return rc;

commit:
    p->offer = malloc(sizeof *p->offer);
    if (!p->offer) {
        free(p);
        return PERC_ERR_NOMEM;
    }
    memcpy(p->offer, m->sdp_model, sizeof *p->offer);
    if (!conf) {
        conf = calloc(1, sizeof *conf);
        if (!conf || focus_conf_add(f, conf) != PERC_OK) {
            free(conf);
            focus_part_free(p);
            return PERC_ERR_NOMEM;
        }
        snprintf(conf->id, sizeof conf->id, "%s", m->conference);
        conf->open = true;
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: created by a join", conf->id);
    }
    if (conf->part_count == conf->part_cap) {
        size_t ncap = conf->part_cap ? conf->part_cap * 2 : 8;
        focus_part **n = realloc(conf->parts, ncap * sizeof *n);
        if (!n) {
            focus_part_free(p);
            if (conf->part_count == 0 && !conf->configured)
                focus_conf_remove(f, conf);
            return PERC_ERR_NOMEM;
        }
        conf->parts = n;
        conf->part_cap = ncap;
    }
    conf->parts[conf->part_count++] = p;
    p->num = ++f->part_seq;
    focus_num_name(p->id, sizeof p->id, 'p', p->num);
    snprintf(p->identity, sizeof p->identity, "%s", m->identity);
    snprintf(p->join_id, sizeof p->join_id, "%s", m->id);
    p->conf = conf;
    p->endpoint = c->id;
    p->state = PERC_FOCUS_WAITING_KMF;
    p->since = now;
    p->deadline = now + f->cfg.join_timeout_ns;
    for (size_t i = 0; i < p->offer->media_count; i++)
        snprintf(p->mids[p->mid_count++], sizeof p->mids[0], "%s", p->offer->media[i].mid);
    c->part = p;
    f->stats.joins++;

    p->placed = true;
    p->mdd_conn = pl.mdd->id;
    snprintf(p->mdd_name, sizeof p->mdd_name, "%s", pl.mdd->name);
    pl.mdd->load++;
    rc = PERC_OK;
    if (pl.is_new) {
        conf->mdds[conf->mdd_count++] = pl.mdd->id;
        rc = link_mdds(f, conf, pl.mdd);
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: placed on media distributor %s",
                  conf->id, pl.mdd->name);
    }
    focus_log(f, PERC_FOCUS_LOG_INFO,
              "conference %s: %s (%s) joining on conn %llu via %s and %s", conf->id, p->id,
              p->identity, (unsigned long long)c->id, kmf->name, pl.mdd->name);
    int rc2 = send_requests(f, p, kmf, pl.mdd, m);
    return rc ? rc : rc2;
}

int focus_on_candidate(perc_focus *f, focus_conn *c, const perc_sig_msg *m)
{
    focus_part *p = c->part;
    if (!p)
        return focus_send_error(f, c->id, NULL, PERC_SIG_E_BAD_STATE, NULL,
                                "no join on this connection");
    bool known = false;
    for (size_t i = 0; i < p->mid_count; i++)
        known = known || strcmp(p->mids[i], m->mid) == 0;
    if (!known)
        return focus_send_error(f, c->id, NULL, PERC_SIG_E_BAD_MESSAGE, "mid",
                                "no m= section with this mid in your offer");
    if (!p->mdd_told)
        return PERC_OK;
    perc_sig_msg out;
    msg_about(&out, PERC_SIG_ENDPOINT_CANDIDATE, p);
    out.mid = m->mid;
    out.candidate = m->candidate;
    return focus_send(f, p->mdd_conn, &out);
}

int focus_on_leave(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    (void)now;
    focus_part *p = c->part;
    if (!p)
        return focus_send_error(f, c->id, m->id, PERC_SIG_E_BAD_STATE, NULL,
                                "not joined on this connection");
    int rc = PERC_OK;
    if (p->state == PERC_FOCUS_WAITING_KMF || p->state == PERC_FOCUS_WAITING_MDD)
        rc = focus_send_error(f, c->id, p->join_id, PERC_SIG_E_UNAVAILABLE, NULL,
                              "join cancelled by leave");
    int rc2 = part_remove(f, p, "leave");
    perc_sig_msg ok;
    perc_sig_msg_init(&ok);
    ok.type = PERC_SIG_OK;
    ok.re = m->id;
    int rc3 = focus_send(f, c->id, &ok);
    return rc ? rc : rc2 ? rc2 : rc3;
}

/* ---- the answer ---- */

static int send_answer(perc_focus *f, focus_part *p, uint64_t now)
{
    perc_sdp_fingerprint fp;
    perc_sdp_candidate cands[PERC_SIG_MAX_CANDIDATES];
    uint8_t rnd[8];
    const char *why = NULL;
    if (perc_sig_fingerprint_parse(p->kmf_fingerprint, &fp) != PERC_OK)
        why = "the key distributor's fingerprint is not usable";
    for (size_t i = 0; !why && i < p->mdd_cand_count; i++) {
        if (perc_sdp_candidate_parse(p->mdd_cands[i], strlen(p->mdd_cands[i]), &cands[i],
                                     NULL) != PERC_OK)
            why = "a media distributor candidate is not usable";
    }
    if (!why && f->cfg.random(f->cfg.random_user, rnd, sizeof rnd) != 0)
        why = "no randomness for the answer's session id";
    char *sdp = why ? NULL : malloc(PERC_SDP_MAX_INPUT + 1);
    size_t len = 0;
    int rc = PERC_OK;
    if (!why && !sdp)
        return PERC_ERR_NOMEM;
    if (!why) {
        focus_answer_in in = {
            .ice_ufrag = p->ice_ufrag,
            .ice_pwd = p->ice_pwd,
            .cands = cands,
            .cand_count = p->mdd_cand_count,
            .end_of_candidates = p->mdd_eoc,
            .kmf_fingerprint = &fp,
            .kmf_tls_id = p->kmf_tls_id,
            .sess_id = 0,
        };
        for (size_t i = 0; i < sizeof rnd; i++)
            in.sess_id = in.sess_id << 8 | rnd[i];
        rc = focus_build_answer(p->offer, &in, sdp, PERC_SDP_MAX_INPUT + 1, &len, &why);
        if (rc == PERC_ERR_NOMEM) {
            free(sdp);
            return rc;
        }
    }
    if (!why) {
        perc_sig_msg m;
        perc_sig_msg_init(&m);
        m.type = PERC_SIG_ANSWER;
        m.re = p->join_id;
        m.sdp = sdp;
        m.participant = p->id;
        m.mdd = p->mdd_name;
        rc = focus_send(f, p->endpoint, &m);
        if (rc == PERC_ERR_NOMEM) {
            free(sdp);
            return rc;
        }
        if (rc)
            why = "the answer does not fit in a message";
    }
    free(sdp);
    if (why) {
        focus_log(f, PERC_FOCUS_LOG_ERROR, "conference %s: %s: cannot answer: %s", p->conf->id,
                  p->id, why);
        f->stats.failures++;
        char reason[FOCUS_TEXT_CAP];
        snprintf(reason, sizeof reason, "cannot build the answer: %s", why);
        return fail_join(f, p, PERC_SIG_E_UNAVAILABLE, reason, "failed");
    }
    f->stats.answers++;
    p->state = PERC_FOCUS_ANSWERED;
    p->deadline = now + f->cfg.key_timeout_ns;
    free(p->offer);
    p->offer = NULL;
    focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: %s answered", p->conf->id, p->id);
    /* The MD's candidates that came before the answer, then the roster. */
    rc = PERC_OK;
    for (size_t i = 0; i < p->early_count; i++) {
        perc_sig_msg m;
        perc_sig_msg_init(&m);
        m.type = PERC_SIG_CANDIDATE;
        m.mid = p->early[i].mid;
        m.candidate = p->early[i].text;
        int r = focus_send(f, p->endpoint, &m);
        rc = rc ? rc : r;
    }
    free_mdd_answer(p);
    const focus_conf *c = p->conf;
    for (size_t k = 0; k < c->part_count; k++) {
        if (c->parts[k] != p && c->parts[k]->state == PERC_FOCUS_JOINED) {
            int r = send_joined(f, c->parts[k], p->endpoint);
            rc = rc ? rc : r;
        }
    }
    return rc;
}

/* ---- replies and events from the daemons ---- */

/* A reply's request: *p (participant) or *l (link), or neither after the
 * miss was handled (stale: logged; unknown: error reply). */
static int find_request(perc_focus *f, focus_conn *c, const perc_sig_msg *m, focus_part **p,
                        focus_link **l)
{
    *p = NULL;
    *l = NULL;
    uint64_t n = focus_name_num(m->re, 's');
    bool kmf = c->role == PERC_SIG_ROLE_KMF;
    focus_part *q = part_find_req(f, n, kmf);
    if (q && (kmf ? q->kmf_conn : q->mdd_conn) == c->id) {
        *p = q;
        return PERC_OK;
    }
    focus_link *k = link_find_req(f, n);
    if (!kmf && k && ((k->req_a == n && k->a == c->id) || (k->req_b == n && k->b == c->id))) {
        *l = k;
        return PERC_OK;
    }
    /* Ours but no longer waited for (cancelled, answered): a race, not an
     * error. Still waited for, but from someone else: an error. */
    bool pending = q || k || part_find_req(f, n, !kmf);
    if (!pending && n && n <= f->req_seq) {
        focus_log(f, PERC_FOCUS_LOG_DEBUG, "conn %llu: %s for %s, which was cancelled; ignored",
                  (unsigned long long)c->id, perc_sig_type_name(m->type), m->re);
        return PERC_OK;
    }
    if (m->type == PERC_SIG_ERROR) {
        focus_log(f, PERC_FOCUS_LOG_WARNING, "conn %llu: error %s for unknown request %s: %s",
                  (unsigned long long)c->id, perc_sig_code_name(m->code), m->re, m->reason);
        return PERC_OK;
    }
    return focus_send_error(f, c->id, NULL, PERC_SIG_E_UNKNOWN_REQUEST, "re",
                            "no request of ours with this id is waiting on this connection");
}

/* The participant a daemon's event names, which must be in the named
 * conference and held by this daemon. NULL after the miss was handled. */
static focus_part *event_part(perc_focus *f, focus_conn *c, const perc_sig_msg *m, int *rc)
{
    *rc = PERC_OK;
    focus_part *p = part_find_id(f, m->participant);
    bool kmf = c->role == PERC_SIG_ROLE_KMF;
    if (p && strcmp(p->conf->id, m->conference) == 0 &&
        (kmf ? p->kmf_told && p->kmf_conn == c->id : p->mdd_told && p->mdd_conn == c->id))
        return p;
    uint64_t n = focus_name_num(m->participant, 'p');
    if (!p && n && n <= f->part_seq) {
        focus_log(f, PERC_FOCUS_LOG_DEBUG, "conn %llu: %s about %s, who is gone; ignored",
                  (unsigned long long)c->id, perc_sig_type_name(m->type), m->participant);
        return NULL;
    }
    *rc = focus_send_error(f, c->id, NULL, PERC_SIG_E_UNKNOWN_PARTICIPANT, "participant",
                           "no such participant in this conference on this connection");
    return NULL;
}

int focus_on_kmf(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    focus_part *p;
    focus_link *l;
    int rc;
    switch (m->type) {
    case PERC_SIG_ADMIT:
    case PERC_SIG_REFUSE:
        rc = find_request(f, c, m, &p, &l);
        if (!p)
            return rc;
        p->kmf_req = 0;
        if (m->type == PERC_SIG_REFUSE) {
            char why[FOCUS_TEXT_CAP];
            snprintf(why, sizeof why, "key distributor refused: %s", m->reason);
            f->stats.refusals++;
            p->kmf_told = false;
            return fail_join(f, p, PERC_SIG_E_REFUSED, why, "refused");
        }
        snprintf(p->kmf_fingerprint, sizeof p->kmf_fingerprint, "%s", m->fingerprint);
        snprintf(p->kmf_tls_id, sizeof p->kmf_tls_id, "%s", m->tls_id);
        p->have_verdict = true;
        if (p->have_mdd)
            return send_answer(f, p, now);
        p->state = PERC_FOCUS_WAITING_MDD;
        return PERC_OK;
    case PERC_SIG_KEYED:
        p = event_part(f, c, m, &rc);
        if (!p)
            return rc;
        if (p->state == PERC_FOCUS_JOINED) {
            focus_log(f, PERC_FOCUS_LOG_DEBUG, "conference %s: %s keyed again", p->conf->id,
                      p->id);
            return PERC_OK;
        }
        if (p->state != PERC_FOCUS_ANSWERED)
            return focus_send_error(f, c->id, NULL, PERC_SIG_E_BAD_STATE, "participant",
                                    "this participant has not been answered yet");
        p->state = PERC_FOCUS_JOINED;
        f->stats.keyed++;
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: %s (%s) keyed, joined", p->conf->id,
                  p->id, p->identity);
        return broadcast(f, p, PERC_SIG_JOINED, NULL);
    default: { /* PERC_SIG_EPOCH */
        focus_conf *conf = focus_conf_find(f, m->conference);
        if (!conf) {
            focus_log(f, PERC_FOCUS_LOG_DEBUG, "conn %llu: epoch for unknown conference %s",
                      (unsigned long long)c->id, m->conference);
            return PERC_OK;
        }
        conf->has_epoch = true;
        conf->spi = m->spi;
        conf->members = m->members;
        conf->epochs++;
        f->stats.epochs++;
        focus_log(f, PERC_FOCUS_LOG_INFO, "conference %s: key epoch spi %u, %lu members",
                  conf->id, (unsigned)m->spi, (unsigned long)m->members);
        return PERC_OK;
    }
    }
}

static bool part_has_mid(const focus_part *p, const char *mid)
{
    for (size_t i = 0; i < p->mid_count; i++) {
        if (strcmp(p->mids[i], mid) == 0)
            return true;
    }
    return false;
}

static int on_endpoint_answer(perc_focus *f, focus_part *p, const perc_sig_msg *m, uint64_t now)
{
    p->mdd_req = 0;
    snprintf(p->ice_ufrag, sizeof p->ice_ufrag, "%s", m->ice_ufrag);
    snprintf(p->ice_pwd, sizeof p->ice_pwd, "%s", m->ice_pwd);
    for (size_t i = 0; i < m->candidate_count; i++) {
        size_t n = strlen(m->candidates[i]) + 1;
        char *t = malloc(n);
        if (!t)
            return PERC_ERR_NOMEM;
        memcpy(t, m->candidates[i], n);
        p->mdd_cands[p->mdd_cand_count++] = t;
    }
    p->mdd_eoc = m->end_of_candidates;
    p->have_mdd = true;
    if (p->have_verdict)
        return send_answer(f, p, now);
    return PERC_OK;
}

static int on_link_info(perc_focus *f, focus_conn *c, focus_link *l, const perc_sig_msg *m)
{
    uint64_t to;
    if (l->a == c->id) {
        l->req_a = 0;
        to = l->b;
    } else {
        l->req_b = 0;
        to = l->a;
    }
    if (!focus_conn_find(f, to))
        return PERC_OK;
    perc_sig_msg out;
    perc_sig_msg_init(&out);
    out.type = PERC_SIG_LINK_PEER;
    out.conference = l->conf->id;
    out.link = l->id;
    out.peer = c->name;
    out.ice_ufrag = m->ice_ufrag;
    out.ice_pwd = m->ice_pwd;
    out.fingerprint = m->fingerprint;
    out.candidate_count = m->candidate_count;
    memcpy(out.candidates, m->candidates, sizeof out.candidates);
    return focus_send(f, to, &out);
}

int focus_on_mdd(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    focus_part *p;
    focus_link *l;
    int rc;
    switch (m->type) {
    case PERC_SIG_ENDPOINT_ANSWER:
    case PERC_SIG_LINK_INFO:
        rc = find_request(f, c, m, &p, &l);
        if (p && m->type == PERC_SIG_ENDPOINT_ANSWER)
            return on_endpoint_answer(f, p, m, now);
        if (l && m->type == PERC_SIG_LINK_INFO)
            return on_link_info(f, c, l, m);
        if (p || l)
            return focus_send_error(f, c->id, NULL, PERC_SIG_E_UNKNOWN_REQUEST, "re",
                                    "this reply does not fit the request it names");
        return rc;
    case PERC_SIG_ENDPOINT_CANDIDATE:
        p = event_part(f, c, m, &rc);
        if (!p)
            return rc;
        if (!part_has_mid(p, m->mid))
            return focus_send_error(f, c->id, NULL, PERC_SIG_E_BAD_MESSAGE, "mid",
                                    "no m= section with this mid in the participant's offer");
        if (p->state == PERC_FOCUS_WAITING_KMF || p->state == PERC_FOCUS_WAITING_MDD) {
            if (p->early_count == PERC_SIG_MAX_CANDIDATES)
                return focus_send_error(f, c->id, NULL, PERC_SIG_E_LIMIT, "candidate",
                                        "more than 16 candidates before the answer");
            size_t n = strlen(m->candidate) + 1;
            char *t = malloc(n);
            if (!t)
                return PERC_ERR_NOMEM;
            memcpy(t, m->candidate, n);
            focus_cand *e = &p->early[p->early_count++];
            snprintf(e->mid, sizeof e->mid, "%s", m->mid);
            e->text = t;
            return PERC_OK;
        }
        perc_sig_msg out;
        perc_sig_msg_init(&out);
        out.type = PERC_SIG_CANDIDATE;
        out.mid = m->mid;
        out.candidate = m->candidate;
        return focus_send(f, p->endpoint, &out);
    default: { /* PERC_SIG_ENDPOINT_GONE */
        p = event_part(f, c, m, &rc);
        if (!p)
            return rc;
        char full[FOCUS_TEXT_CAP], reason[PERC_SIG_MAX_REASON + 1];
        snprintf(full, sizeof full, "gone: %s", m->reason);
        focus_cut(reason, PERC_SIG_MAX_REASON, full);
        p->mdd_told = false;
        if (p->state == PERC_FOCUS_WAITING_KMF || p->state == PERC_FOCUS_WAITING_MDD) {
            f->stats.failures++;
            return fail_join(f, p, PERC_SIG_E_UNAVAILABLE, reason, reason);
        }
        int r = send_ended(f, p, reason);
        int r2 = part_remove(f, p, reason);
        return r ? r : r2;
    }
    }
}

int focus_on_daemon_error(perc_focus *f, focus_conn *c, const perc_sig_msg *m, uint64_t now)
{
    (void)now;
    if (!m->re) {
        focus_log(f, PERC_FOCUS_LOG_WARNING, "conn %llu (%s %s): error %s: %s",
                  (unsigned long long)c->id, perc_sig_role_name(c->role), c->name,
                  perc_sig_code_name(m->code), m->reason);
        return PERC_OK;
    }
    focus_part *p;
    focus_link *l;
    int rc = find_request(f, c, m, &p, &l);
    char why[FOCUS_TEXT_CAP];
    snprintf(why, sizeof why, "%s %s failed: %s: %s",
             c->role == PERC_SIG_ROLE_KMF ? "key distributor" : "media distributor", c->name,
             perc_sig_code_name(m->code), m->reason);
    if (p) {
        focus_log(f, PERC_FOCUS_LOG_WARNING, "conference %s: %s: %s", p->conf->id, p->id, why);
        f->stats.failures++;
        if (c->role == PERC_SIG_ROLE_KMF) {
            p->kmf_req = 0;
            p->kmf_told = false;
        } else {
            p->mdd_req = 0;
            p->mdd_told = false;
        }
        return fail_join(f, p, PERC_SIG_E_UNAVAILABLE, why, "failed");
    }
    if (l) {
        focus_log(f, PERC_FOCUS_LOG_WARNING, "conference %s: link %s: %s", l->conf->id, l->id,
                  why);
        int r = send_unlink(f, l, l->a, "link failed");
        int r2 = send_unlink(f, l, l->b, "link failed");
        link_remove(f, l);
        return r ? r : r2;
    }
    return rc;
}

/* ---- connections going away (docs/signaling.md §6.4, §6.5) ---- */

static focus_part *first_part(const perc_focus *f, bool (*match)(const focus_part *, uint64_t),
                              uint64_t conn)
{
    for (size_t i = 0; i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        for (size_t k = 0; k < c->part_count; k++) {
            if (match(c->parts[k], conn))
                return c->parts[k];
        }
    }
    return NULL;
}

static bool on_mdd(const focus_part *p, uint64_t conn) { return p->placed && p->mdd_conn == conn; }

static bool waiting_on_kmf(const focus_part *p, uint64_t conn)
{
    return p->kmf_told && p->kmf_conn == conn && p->kmf_req != 0;
}

static bool held_by_kmf(const focus_part *p, uint64_t conn)
{
    return p->kmf_told && p->kmf_conn == conn;
}

static int mdd_gone(perc_focus *f, focus_conn *c)
{
    int rc = PERC_OK, r;
    /* Links and placement first, so that conferences emptied below do not
     * address the MD that is going. */
    for (size_t i = 0; i < f->link_count;) {
        focus_link *l = f->links[i];
        if (l->a != c->id && l->b != c->id) {
            i++;
            continue;
        }
        r = send_unlink(f, l, l->a == c->id ? l->b : l->a, "peer media distributor gone");
        rc = rc ? rc : r;
        link_remove(f, l);
    }
    for (size_t i = 0; i < f->conf_count; i++) {
        focus_conf *conf = f->confs[i];
        for (size_t k = 0; k < conf->mdd_count;) {
            if (conf->mdds[k] == c->id) {
                memmove(&conf->mdds[k], &conf->mdds[k + 1],
                        (conf->mdd_count - k - 1) * sizeof conf->mdds[0]);
                conf->mdd_count--;
            } else {
                k++;
            }
        }
    }
    focus_part *p;
    while ((p = first_part(f, on_mdd, c->id)) != NULL) {
        p->placed = false;
        p->mdd_told = false;
        if (p->state == PERC_FOCUS_WAITING_KMF || p->state == PERC_FOCUS_WAITING_MDD) {
            f->stats.failures++;
            r = fail_join(f, p, PERC_SIG_E_UNAVAILABLE, "media distributor disconnected",
                          "mdd-gone");
        } else {
            r = send_ended(f, p, "mdd-gone");
            int r2 = part_remove(f, p, "mdd-gone");
            r = r ? r : r2;
        }
        rc = rc ? rc : r;
    }
    focus_log(f, PERC_FOCUS_LOG_WARNING, "media distributor %s disconnected", c->name);
    return rc;
}

static int kmf_gone(perc_focus *f, focus_conn *c)
{
    int rc = PERC_OK;
    focus_part *p;
    while ((p = first_part(f, waiting_on_kmf, c->id)) != NULL) {
        p->kmf_told = false;
        p->kmf_req = 0;
        f->stats.failures++;
        int r = fail_join(f, p, PERC_SIG_E_UNAVAILABLE, "key distributor disconnected",
                          "kmf-gone");
        rc = rc ? rc : r;
    }
    /* Verdicts already given stand: those endpoints' keys are with them
     * and the MD. The KMF can no longer be told when they leave. */
    while ((p = first_part(f, held_by_kmf, c->id)) != NULL)
        p->kmf_told = false;
    focus_log(f, PERC_FOCUS_LOG_WARNING, "key distributor %s disconnected", c->name);
    return rc;
}

/* Keyed (answered or joined) and the KMF that keyed it is gone. */
static bool orphaned(const focus_part *p, uint64_t conn)
{
    (void)conn;
    return !p->kmf_told && (p->state == PERC_FOCUS_ANSWERED || p->state == PERC_FOCUS_JOINED);
}

int focus_kmf_registered(perc_focus *f, focus_conn *c)
{
    /* A KMF that registers knows nothing of the participants its departed
     * predecessor keyed: it holds neither their DTLS associations nor the
     * conference's EKTKey, so whoever it keys next could not decrypt them
     * nor they the newcomer (RFC 8871 §4.5.2: one EKTKey per conference).
     * They are ended; endpoints join again and are keyed by this one. */
    int rc = PERC_OK;
    focus_part *p;
    while ((p = first_part(f, orphaned, c->id)) != NULL) {
        int r = send_ended(f, p, "kmf-gone: the key distributor restarted; join again");
        int r2 = part_remove(f, p, "kmf-gone");
        rc = rc ? rc : (r ? r : r2);
    }
    return rc;
}

int focus_conn_gone(perc_focus *f, focus_conn *c, uint64_t now)
{
    (void)now;
    switch (c->role) {
    case PERC_SIG_ROLE_ENDPOINT:
        return c->part ? part_remove(f, c->part, "disconnected") : PERC_OK;
    case PERC_SIG_ROLE_MDD:
        return mdd_gone(f, c);
    case PERC_SIG_ROLE_KMF:
        return kmf_gone(f, c);
    default:
        return PERC_OK;
    }
}

/* ---- timers ---- */

static bool timed_out(const focus_part *p, uint64_t now)
{
    return p->state != PERC_FOCUS_JOINED && p->deadline <= now;
}

int focus_part_timers(perc_focus *f, uint64_t now)
{
    int rc = PERC_OK;
    focus_part *p;
    while ((p = first_part(f, timed_out, now)) != NULL) {
        int r;
        f->stats.timeouts++;
        if (p->state == PERC_FOCUS_ANSWERED) {
            r = send_ended(f, p, "timeout: ICE and DTLS did not complete in time");
            int r2 = part_remove(f, p, "timeout");
            r = r ? r : r2;
        } else {
            r = fail_join(f, p, PERC_SIG_E_TIMEOUT,
                          p->kmf_req && p->mdd_req ? "no answer from the key distributor and "
                                                     "the media distributor in time"
                          : p->kmf_req ? "no answer from the key distributor in time"
                                       : "no answer from the media distributor in time",
                          "timeout");
        }
        rc = rc ? rc : r;
    }
    return rc;
}

uint64_t focus_part_next_timeout(const perc_focus *f)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < f->conf_count; i++) {
        const focus_conf *c = f->confs[i];
        for (size_t k = 0; k < c->part_count; k++) {
            const focus_part *p = c->parts[k];
            if (p->state != PERC_FOCUS_JOINED && p->deadline < t)
                t = p->deadline;
        }
    }
    return t;
}
