/* The Key Management Function object (perc/kmf.h): configuration,
 * logging and events, the settle step that ends every public call, timers
 * and queries. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmf_internal.h"
#include "perc/secret.h"

/* ---- small helpers ------------------------------------------------------ */

int kmf_vec_push(kmf_vec *v, void *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        void **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return PERC_ERR_NOMEM;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = p;
    return PERC_OK;
}

void kmf_vec_remove(kmf_vec *v, const void *p)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i] == p) {
            memmove(&v->items[i], &v->items[i + 1], (v->n - i - 1) * sizeof *v->items);
            v->n--;
            return;
        }
    }
}

void kmf_vec_free(kmf_vec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

void kmf_log(perc_kmf *k, perc_kmf_log_level level, const char *fmt, ...)
{
    if (!k->cfg.log || level < k->cfg.log_level)
        return;
    char line[KMF_LOG_LINE];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    k->cfg.log(k->cfg.log_user, level, line);
}

void kmf_emit(perc_kmf *k, const perc_kmf_event *ev)
{
    if (k->cfg.on_event)
        k->cfg.on_event(k->cfg.event_user, ev);
}

void kmf_set_reason(char *dst, const char *fmt, ...)
{
    if (dst[0] != '\0')
        return; /* the first reason is the real one */
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(dst, PERC_KMF_MAX_REASON, fmt, ap);
    va_end(ap);
}

int kmf_random(perc_kmf *k, uint8_t *buf, size_t len)
{
    if (k->cfg.random(k->cfg.random_user, buf, len) != 0) {
        perc_wipe(buf, len);
        kmf_log(k, PERC_KMF_LOG_ERROR, "the random source failed");
        return PERC_ERR_RANDOM;
    }
    return PERC_OK;
}

bool kmf_name_ok(const char *s, bool empty_ok)
{
    if (!s)
        return false;
    size_t n = strnlen(s, PERC_KMF_MAX_NAME_LEN + 1);
    if (n > PERC_KMF_MAX_NAME_LEN || (n == 0 && !empty_ok))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

char *kmf_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- configuration and lifecycle ---------------------------------------- */

void perc_kmf_config_init(perc_kmf_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->profiles[0] = PERC_PROFILE_DOUBLE_AES_128_GCM;
    cfg->profiles[1] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    cfg->n_profiles = 2;
    cfg->ekt_cipher = PERC_EKT_CIPHER_AESKW_128;
    cfg->ekt_ttl_s = PERC_KMF_DEFAULT_EKT_TTL_S;
    cfg->key_change_window_ns = PERC_KMF_DEFAULT_KEY_CHANGE_WINDOW_NS;
    cfg->announce_lifetime_ns = PERC_KMF_DEFAULT_ANNOUNCE_LIFETIME_NS;
    cfg->tunnel_grace_ns = PERC_KMF_DEFAULT_TUNNEL_GRACE_NS;
    cfg->handshake_timeout_ns = PERC_KMF_DEFAULT_HANDSHAKE_TIMEOUT_NS;
    cfg->max_conferences = PERC_KMF_DEFAULT_MAX_CONFERENCES;
    cfg->max_participants = PERC_KMF_DEFAULT_MAX_PARTICIPANTS;
    cfg->max_associations = PERC_KMF_DEFAULT_MAX_ASSOCIATIONS;
    cfg->max_tunnels = PERC_KMF_DEFAULT_MAX_TUNNELS;
    cfg->dtls_mtu = PERC_DTLS_DEFAULT_MTU;
    cfg->ekt_rtx_initial_ns = PERC_DTLS_EKT_RTX_INITIAL_NS;
    cfg->ekt_rtx_max_ns = PERC_DTLS_EKT_RTX_MAX_NS;
    cfg->log_level = PERC_KMF_LOG_INFO;
}

static bool config_ok(const perc_kmf_config *c)
{
    if (!c->dtls_ctx || !c->random)
        return false;
    if (c->n_profiles == 0 || c->n_profiles > PERC_DTLS_MAX_PROFILES)
        return false;
    for (size_t i = 0; i < c->n_profiles; i++) {
        uint16_t p = c->profiles[i];
        if (p != PERC_PROFILE_DOUBLE_AES_128_GCM && p != PERC_PROFILE_DOUBLE_AES_256_GCM)
            return false;
        for (size_t j = 0; j < i; j++)
            if (c->profiles[j] == p)
                return false;
    }
    if (perc_ekt_cipher_key_len(c->ekt_cipher) == 0)
        return false;
    if (c->ekt_ttl_s == 0 || c->ekt_ttl_s > PERC_EKT_MAX_TTL)
        return false;
    if (!c->key_change_window_ns || !c->announce_lifetime_ns || !c->tunnel_grace_ns ||
        !c->handshake_timeout_ns)
        return false;
    if (!c->max_conferences || !c->max_participants || !c->max_associations || !c->max_tunnels)
        return false;
    return c->log_level <= PERC_KMF_LOG_ERROR;
}

int perc_kmf_new(const perc_kmf_config *cfg, perc_kmf **out)
{
    if (!cfg || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    if (!config_ok(cfg))
        return PERC_ERR_INVALID_ARG;
    perc_kmf *k = calloc(1, sizeof *k);
    if (!k)
        return PERC_ERR_NOMEM;
    k->cfg = *cfg;
    k->next_conn_id = 1;
    tunnel_assoc_init(&k->assoc_ids, false);
    perc_dtls_ctx_fingerprint(cfg->dtls_ctx, k->fingerprint);
    *out = k;
    return PERC_OK;
}

void perc_kmf_free(perc_kmf *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->assocs.n; i++)
        kmf_assoc_free(k->assocs.items[i]);
    for (size_t i = 0; i < k->tunnels.n; i++)
        kmf_tunnel_free(k->tunnels.items[i]);
    for (size_t i = 0; i < k->parts.n; i++)
        kmf_part_free(k->parts.items[i]);
    for (size_t i = 0; i < k->confs.n; i++)
        kmf_conf_free(k->confs.items[i]);
    for (size_t i = 0; i < k->owed.n; i++)
        kmf_owed_free(k->owed.items[i]);
    kmf_vec_free(&k->owed);
    kmf_sched_free(k);
    kmf_vec_free(&k->waiting);
    kmf_vec_free(&k->assocs);
    kmf_vec_free(&k->tunnels);
    kmf_vec_free(&k->parts);
    kmf_vec_free(&k->confs);
    perc_wipe(k, sizeof *k);
    free(k);
}

void perc_kmf_fingerprint(const perc_kmf *k, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    memcpy(out, k->fingerprint, PERC_DTLS_FINGERPRINT_LEN);
}

/* ---- settle ------------------------------------------------------------- */

static void tombstone(perc_kmf *k, const perc_uuid *id)
{
    k->tomb_id[k->tomb_next] = *id;
    k->tomb_at[k->tomb_next] = k->now;
    k->tomb_next = (k->tomb_next + 1) % KMF_TOMBSTONES;
    if (k->tomb_n < KMF_TOMBSTONES)
        k->tomb_n++;
}

bool kmf_tombstoned(const perc_kmf *k, const perc_uuid *id)
{
    for (size_t i = 0; i < k->tomb_n; i++)
        if (perc_uuid_equal(&k->tomb_id[i], id) && k->now - k->tomb_at[i] < KMF_TOMBSTONE_NS)
            return true;
    return false;
}

static bool dtls_ended(const kmf_assoc *a)
{
    perc_dtls_state s = perc_dtls_get_state(a->dtls);
    return s == PERC_DTLS_FAILED || s == PERC_DTLS_CLOSED;
}

static bool rekey_due(const perc_kmf *k, const kmf_conf *c)
{
    return c->rekey_wanted && !c->ending && (c->rekey_retry_at == 0 || k->now >= c->rekey_retry_at);
}

void kmf_settle(perc_kmf *k)
{
    /* Only what this call touched can have output, have ended or have a
     * new deadline. Each round either finishes an association, or re-keys
     * (which touches every member and can end those whose EKTKey queue is
     * full); both are finite. A re-key touches more associations: the
     * loops read touched.n afresh. */
    kmf_vec *t = &k->touched;
    for (size_t round = 0; round < 4 + 2 * k->assocs.n; round++) {
        bool changed = false;
        for (size_t i = 0; i < t->n; i++) {
            kmf_assoc *a = t->items[i];
            if (!a->finished)
                kmf_assoc_flush(a);
        }
        for (size_t i = 0; i < t->n; i++) {
            kmf_assoc *a = t->items[i];
            if (!a->finished && (a->ended || dtls_ended(a))) {
                kmf_assoc_finish(a);
                changed = true;
            }
        }
        for (size_t i = 0; i < k->confs.n; i++) {
            kmf_conf *c = k->confs.items[i];
            if (rekey_due(k, c)) {
                /* a failure is logged there and retried a second later */
                int rc = kmf_conf_rekey(k, c, c->rekey_why);
                (void)rc;
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    for (size_t i = 0; i < t->n; i++) {
        kmf_assoc *a = t->items[i];
        if (!a->finished)
            kmf_assoc_flush(a);
    }

    /* New deadlines; free what ended: associations (they point at
     * participants), then participants (they point at conferences), then
     * conferences. */
    for (size_t i = t->n; i-- > 0;) {
        kmf_assoc *a = t->items[i];
        a->touched = false;
        if (!a->finished) {
            kmf_sched_update(k, a);
            continue;
        }
        tombstone(k, &a->id);
        kmf_sched_remove(k, a);
        kmf_assoc_index_remove(k, a);
        kmf_vec_remove(&k->assocs, a);
        kmf_assoc_free(a);
    }
    t->n = 0;
    if (k->parts_gone) {
        k->parts_gone = false;
        for (size_t i = k->parts.n; i-- > 0;) {
            kmf_part *p = k->parts.items[i];
            if (!p->gone)
                continue;
            kmf_vec_remove(&k->parts, p);
            p->conf->n_parts--;
            kmf_part_free(p);
            k->confs_check = true;
        }
    }
    if (k->confs_check) {
        k->confs_check = false;
        for (size_t i = k->confs.n; i-- > 0;) {
            kmf_conf *c = k->confs.items[i];
            if (c->n_parts > 0 || (!c->ending && c->explicit_conf))
                continue;
            kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s' %s: its keys are wiped", c->id,
                    c->ending ? "removed" : "has nobody left");
            kmf_vec_remove(&k->confs, c);
            kmf_conf_free(c);
        }
    }
}

/* ---- timers ------------------------------------------------------------- */

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t perc_kmf_next_timeout(const perc_kmf *k)
{
    if (!k)
        return UINT64_MAX;
    uint64_t t = kmf_sched_next(k);
    for (size_t i = 0; i < k->waiting.n; i++)
        t = min64(t, ((const kmf_part *)k->waiting.items[i])->expires_at);
    for (size_t i = 0; i < k->confs.n; i++)
        t = min64(t, kmf_conf_next_timeout(k, k->confs.items[i]));
    for (size_t i = 0; i < k->owed.n; i++)
        t = min64(t, ((const kmf_owed *)k->owed.items[i])->until);
    return t;
}

/* The announcements whose association did not come in time go. */
static void expire_announcements(perc_kmf *k, uint64_t now)
{
    for (size_t i = k->waiting.n; i-- > 0;) {
        kmf_part *p = k->waiting.items[i];
        if (now < p->expires_at)
            continue;
        kmf_log(k, PERC_KMF_LOG_INFO,
                "announcement of '%s' for conference '%s' expired: no DTLS association came",
                p->identity, p->conf->id);
        perc_kmf_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = PERC_KMF_EV_ANNOUNCEMENT_EXPIRED;
        ev.conference = p->conf->id;
        ev.identity = p->identity;
        ev.reason = "announcement expired";
        kmf_emit(k, &ev);
        k->stats.announcements_expired++;
        kmf_part_drop(k, p, "announcement expired", false, NULL);
    }
}

int perc_kmf_on_timeout(perc_kmf *k, uint64_t now)
{
    if (!k)
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    k->busy = true;
    k->now = now;
    for (kmf_assoc *a; (a = kmf_sched_pop_due(k, now)) != NULL;) {
        kmf_assoc_touch(a);
        kmf_assoc_timers(a, now);
    }
    expire_announcements(k, now);
    for (size_t i = 0; i < k->confs.n; i++)
        kmf_conf_timers(k, k->confs.items[i], now);
    kmf_owed_expire(k, now);
    kmf_settle(k);
    k->busy = false;
    return PERC_OK;
}

/* ---- queries ------------------------------------------------------------ */

int perc_kmf_conference_info_get(const perc_kmf *k, const char *conference_id,
                                 perc_kmf_conference_info *out)
{
    if (!k || !out || !kmf_name_ok(conference_id, false))
        return PERC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const kmf_conf *c = kmf_conf_find(k, conference_id);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    out->explicit_conference = c->explicit_conf;
    out->open = c->open;
    out->n_roster = c->n_roster;
    out->members = kmf_conf_members(k, c);
    for (size_t i = 0; i < k->parts.n; i++) {
        const kmf_part *p = k->parts.items[i];
        if (p->conf == c && !p->gone && !p->admitted)
            out->announced++;
    }
    out->has_current = c->cur.valid;
    out->current_spi = c->cur.valid ? c->cur.spi : 0;
    out->current_created_ns = c->cur.created_ns;
    out->rekey_at_ns = c->cur.valid ? kmf_conf_rekey_at(k, c) : UINT64_MAX;
    out->has_previous = c->prev.valid;
    out->previous_spi = c->prev.valid ? c->prev.spi : 0;
    out->previous_wipe_at_ns = c->prev.valid ? c->prev_wipe_at : 0;
    out->rekeys = c->rekeys;
    out->ekt_cipher = c->cur.valid ? c->ekt_cipher : 0;
    return PERC_OK;
}

int perc_kmf_association_info_get(const perc_kmf *k, const perc_uuid *id,
                                  perc_kmf_association_info *out)
{
    if (!k || !id || !out)
        return PERC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const kmf_assoc *a = kmf_assoc_find(k, id);
    if (!a)
        return PERC_ERR_NOT_FOUND;
    out->state = !kmf_assoc_live(a) ? PERC_KMF_ASSOC_ENDING
                 : a->connected     ? PERC_KMF_ASSOC_CONNECTED
                                    : PERC_KMF_ASSOC_HANDSHAKING;
    out->conn_id = a->tunnel ? a->tunnel->conn_id : 0;
    out->orphan_deadline_ns = a->tunnel ? 0 : a->orphan_deadline;
    out->profile = a->profile;
    if (a->part) {
        out->conference = a->part->conf->id;
        out->identity = a->part->identity;
    }
    out->spi_sent = a->spi_sent;
    out->acked = a->acked;
    out->spi_acked = a->spi_acked;
    out->ekt_unacked = kmf_assoc_live(a) ? perc_dtls_ekt_pending(a->dtls) : 0;
    return PERC_OK;
}

void perc_kmf_get_stats(const perc_kmf *k, perc_kmf_stats *out)
{
    *out = k->stats;
    out->conferences = k->confs.n;
    out->participants = k->parts.n;
    out->associations = k->assocs.n;
    out->tunnels = k->tunnels.n;
}

const char *perc_kmf_event_name(perc_kmf_event_type type)
{
    switch (type) {
    case PERC_KMF_EV_ADMITTED:
        return "admitted";
    case PERC_KMF_EV_REFUSED:
        return "refused";
    case PERC_KMF_EV_LEFT:
        return "left";
    case PERC_KMF_EV_REKEYED:
        return "rekeyed";
    case PERC_KMF_EV_ASSOCIATION_ENDED:
        return "association_ended";
    case PERC_KMF_EV_ANNOUNCEMENT_EXPIRED:
        return "announcement_expired";
    case PERC_KMF_EV_TUNNEL_FAILED:
        return "tunnel_failed";
    }
    return "unknown";
}
