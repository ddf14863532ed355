/* Conferences of the Key Management Function (perc/kmf.h): EKT parameter
 * sets and re-keys (RFC 8870 §4.1, §5.2.2; RFC 8871 §4.5.2, §6.3) and the
 * admission policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmf_internal.h"
#include "perc/secret.h"

/* RFC 8870 §5.2.2 gives no lower bound on an SPI; 65536 values per
 * conference, each used once. */
#define SPI_SPACE UINT32_C(65536)

kmf_conf *kmf_conf_find(const perc_kmf *k, const char *id)
{
    for (size_t i = 0; i < k->confs.n; i++) {
        kmf_conf *c = k->confs.items[i];
        if (strcmp(c->id, id) == 0)
            return c;
    }
    return NULL;
}

int kmf_conf_create(perc_kmf *k, const char *id, kmf_conf **out)
{
    *out = NULL;
    if (k->confs.n >= k->cfg.max_conferences)
        return PERC_ERR_LIMIT;
    kmf_conf *c = calloc(1, sizeof *c);
    if (!c)
        return PERC_ERR_NOMEM;
    c->open = true;
    if (!(c->id = kmf_strdup(id)) || kmf_vec_push(&k->confs, c) != PERC_OK) {
        kmf_conf_free(c);
        return PERC_ERR_NOMEM;
    }
    kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s' created", id);
    k->confs_check = true; /* settle deletes it if nobody comes in after all */
    *out = c;
    return PERC_OK;
}

static void roster_free(kmf_roster_item *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].identity);
    free(r);
}

void kmf_conf_wipe_sets(kmf_conf *c)
{
    perc_wipe(&c->cur, sizeof c->cur);
    perc_wipe(&c->prev, sizeof c->prev);
}

void kmf_conf_free(kmf_conf *c)
{
    if (!c)
        return;
    roster_free(c->roster, c->n_roster);
    free(c->id);
    perc_wipe(c, sizeof *c); /* both parameter sets */
    free(c);
}

/* ---- policy ------------------------------------------------------------- */

bool kmf_conf_allows(const kmf_conf *c, const char *identity,
                     const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], char *why, size_t why_cap)
{
    if (c->open)
        return true;
    bool identity_listed = false;
    for (size_t i = 0; i < c->n_roster; i++) {
        const kmf_roster_item *e = &c->roster[i];
        bool id_ok = !e->identity || (identity[0] != '\0' && strcmp(e->identity, identity) == 0);
        bool fp_ok = !e->has_fp || perc_secret_equal(e->fp, fp, PERC_DTLS_FINGERPRINT_LEN);
        if (id_ok && fp_ok)
            return true;
        identity_listed = identity_listed || (e->identity && id_ok);
    }
    if (identity_listed)
        snprintf(why, why_cap,
                 "identity '%s' is on the roster of conference '%s' with another certificate "
                 "fingerprint",
                 identity, c->id);
    else if (identity[0] == '\0')
        snprintf(why, why_cap,
                 "a participant without identity is not on the roster of conference '%s'", c->id);
    else
        snprintf(why, why_cap, "identity '%s' is not on the roster of conference '%s'", identity,
                 c->id);
    return false;
}

/* Members the policy no longer allows go (and the conference is re-keyed).
 * Participants not admitted yet stay: their handshake is refused with the
 * reason (an alert the endpoint sees), or their announcement expires. */
void kmf_conf_apply_policy(perc_kmf *k, kmf_conf *c)
{
    char why[PERC_KMF_MAX_REASON];
    for (size_t i = 0; i < k->parts.n; i++) {
        kmf_part *p = k->parts.items[i];
        if (p->conf != c || p->gone || p->leaving || !p->admitted ||
            kmf_conf_allows(c, p->identity, p->fp, why, sizeof why))
            continue;
        kmf_log(k, PERC_KMF_LOG_INFO, "participant '%s' removed from conference '%s': %s",
                p->identity, c->id, why);
        kmf_part_leave(k, p, why);
    }
}

/* ---- parameter sets ----------------------------------------------------- */

/* A fresh set: random EKTKey and salt, the conference's next unused SPI. */
static int new_set(perc_kmf *k, kmf_conf *c, kmf_set *s)
{
    memset(s, 0, sizeof *s);
    if (c->spis_used >= SPI_SPACE)
        return PERC_ERR_KEY_EXHAUSTED;
    int rc;
    s->key_len = perc_ekt_cipher_key_len(c->ekt_cipher ? c->ekt_cipher : k->cfg.ekt_cipher);
    if ((rc = kmf_random(k, s->key, s->key_len)) || (rc = kmf_random(k, s->salt, sizeof s->salt)))
        goto fail;
    if (!c->spi_started) {
        /* A random first SPI, then counting up: none repeats in the
         * conference (RFC 8870 §4.1: a distinct SPI per parameter set). */
        uint8_t r[2];
        if ((rc = kmf_random(k, r, sizeof r)))
            goto fail;
        c->next_spi = (uint16_t)(r[0] << 8 | r[1]);
        c->spi_started = true;
    }
    s->spi = c->next_spi++;
    c->spis_used++;
    s->ttl_s = k->cfg.ekt_ttl_s;
    s->created_ns = k->now;
    s->valid = true;
    return PERC_OK;
fail:
    perc_wipe(s, sizeof *s);
    return rc;
}

int kmf_conf_ensure_set(perc_kmf *k, kmf_conf *c)
{
    if (c->cur.valid)
        return PERC_OK;
    kmf_set s;
    int rc = new_set(k, c, &s);
    if (rc) {
        kmf_log(k, PERC_KMF_LOG_ERROR, "conference '%s': no EKT parameter set: %s", c->id,
                perc_strerror(rc));
        return rc;
    }
    c->cur = s;
    perc_wipe(&s, sizeof s);
    kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s': first EKT parameter set, SPI %u", c->id,
            (unsigned)c->cur.spi);
    return PERC_OK;
}

/* The current set becomes the previous one, kept for the key-change
 * window; the previous one is wiped. */
static void supersede(perc_kmf *k, kmf_conf *c)
{
    perc_wipe(&c->prev, sizeof c->prev);
    if (c->cur.valid) {
        c->prev = c->cur;
        c->prev_wipe_at = k->now + k->cfg.key_change_window_ns;
    }
    perc_wipe(&c->cur, sizeof c->cur);
}

size_t kmf_conf_members(const perc_kmf *k, const kmf_conf *c)
{
    size_t n = 0;
    for (size_t i = 0; i < k->assocs.n; i++) {
        const kmf_assoc *a = k->assocs.items[i];
        if (a->connected && kmf_assoc_live(a) && a->part && a->part->conf == c)
            n++;
    }
    return n;
}

/* One profile per conference: a receiver takes only EKT keys of its own
 * transform's length (RFC 8870 §4.3.2), so a member on 0x000A and one on
 * 0x0009 could not hear each other. The current parameter set was made
 * for the members on c->profile and c->ekt_cipher, and lives exactly as
 * long as there are members (made for the first, retired when the last
 * is gone), so it tells in O(1) whether they bind a newcomer; once it is
 * retired the next member chooses afresh. */
uint16_t kmf_conf_profile(const perc_kmf *k, const kmf_conf *c)
{
    (void)k;
    return c->cur.valid ? c->profile : 0;
}

uint8_t kmf_ekt_cipher_for_profile(const perc_kmf *k, uint16_t profile)
{
    return profile == PERC_PROFILE_DOUBLE_AES_256_GCM ? PERC_EKT_CIPHER_AESKW_256
                                                      : k->cfg.ekt_cipher;
}

uint8_t kmf_conf_ekt_cipher(const perc_kmf *k, const kmf_conf *c, uint16_t profile)
{
    return c->cur.valid ? c->ekt_cipher : kmf_ekt_cipher_for_profile(k, profile);
}

int kmf_conf_rekey(perc_kmf *k, kmf_conf *c, const char *why)
{
    char reason[PERC_KMF_MAX_REASON];
    snprintf(reason, sizeof reason, "%s", why && why[0] ? why : "re-key");
    c->rekey_wanted = false;
    c->rekey_why[0] = '\0';
    c->rekey_retry_at = 0;
    if (kmf_conf_members(k, c) == 0) {
        /* Nobody to give a new set to: retire the current one; whoever
         * comes next gets a fresh set. */
        if (c->cur.valid) {
            kmf_log(k, PERC_KMF_LOG_INFO,
                    "conference '%s' (%s): no member left, parameter set SPI %u retired", c->id,
                    reason, (unsigned)c->cur.spi);
            supersede(k, c);
        }
        return PERC_OK;
    }
    kmf_set s;
    int rc = new_set(k, c, &s);
    if (rc) {
        kmf_log(k, PERC_KMF_LOG_ERROR, "conference '%s': re-key (%s) failed: %s", c->id, reason,
                perc_strerror(rc));
        if (rc != PERC_ERR_KEY_EXHAUSTED) {
            c->rekey_wanted = true;
            snprintf(c->rekey_why, sizeof c->rekey_why, "%s", reason);
            c->rekey_retry_at = k->now + KMF_REKEY_RETRY_NS;
        }
        return rc;
    }
    supersede(k, c);
    c->cur = s;
    perc_wipe(&s, sizeof s);
    c->rekeys++;
    k->stats.rekeys++;
    /* RFC 8871 §4.5.2: every participant gets the new EKTKey (new SPI). */
    size_t n = 0;
    for (size_t i = 0; i < k->assocs.n; i++) {
        kmf_assoc *a = k->assocs.items[i];
        if (!a->connected || !kmf_assoc_live(a) || !a->part || a->part->conf != c)
            continue;
        int src = kmf_assoc_send_ekt(a);
        if (src == PERC_OK)
            n++;
        else
            kmf_assoc_end(a, false, "the new EKTKey could not be queued: %s", perc_strerror(src));
    }
    kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s' re-keyed (%s): SPI %u, %zu endpoints", c->id,
            reason, (unsigned)c->cur.spi, n);
    perc_kmf_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_KMF_EV_REKEYED;
    ev.conference = c->id;
    ev.spi = c->cur.spi;
    ev.n_endpoints = n;
    ev.reason = reason;
    kmf_emit(k, &ev);
    return PERC_OK;
}

void kmf_conf_ekt_msg(const perc_kmf *k, const kmf_conf *c, perc_ekt_key_msg *m)
{
    memset(m, 0, sizeof *m);
    m->key_len = c->cur.key_len;
    memcpy(m->key, c->cur.key, c->cur.key_len);
    m->salt_len = PERC_KMF_SALT_LEN;
    memcpy(m->salt, c->cur.salt, PERC_KMF_SALT_LEN);
    m->spi = c->cur.spi;
    /* What is left of the set's lifetime (RFC 8870 §5.2.2: the TTL bounds
     * its use), at least a second. */
    uint64_t elapsed = (k->now - c->cur.created_ns) / PERC_KMF_SECOND;
    m->ttl_s = elapsed < c->cur.ttl_s ? (uint32_t)(c->cur.ttl_s - elapsed) : 1;
}

uint64_t kmf_conf_rekey_at(const perc_kmf *k, const kmf_conf *c)
{
    (void)k;
    return c->cur.created_ns + (uint64_t)c->cur.ttl_s * (PERC_KMF_SECOND / 10) * 9;
}

void kmf_conf_timers(perc_kmf *k, kmf_conf *c, uint64_t now)
{
    if (c->prev.valid && now >= c->prev_wipe_at) {
        kmf_log(k, PERC_KMF_LOG_DEBUG, "conference '%s': superseded parameter set SPI %u wiped",
                c->id, (unsigned)c->prev.spi);
        perc_wipe(&c->prev, sizeof c->prev);
    }
    if (c->cur.valid && !c->rekey_wanted && now >= kmf_conf_rekey_at(k, c)) {
        c->rekey_wanted = true;
        snprintf(c->rekey_why, sizeof c->rekey_why, "EKTKey TTL nearly over");
    }
}

uint64_t kmf_conf_next_timeout(const perc_kmf *k, const kmf_conf *c)
{
    uint64_t t = UINT64_MAX;
    if (c->prev.valid)
        t = c->prev_wipe_at;
    if (c->cur.valid && !c->rekey_wanted) {
        uint64_t r = kmf_conf_rekey_at(k, c);
        t = r < t ? r : t;
    }
    if (c->rekey_wanted && c->rekey_retry_at && c->rekey_retry_at < t)
        t = c->rekey_retry_at;
    return t;
}

/* ---- public ------------------------------------------------------------- */

int perc_kmf_conference_create(perc_kmf *k, const char *conference_id, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    k->busy = true;
    k->now = now;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    int rc = PERC_OK;
    if (!c)
        rc = kmf_conf_create(k, conference_id, &c);
    if (c)
        c->explicit_conf = true;
    kmf_settle(k);
    k->busy = false;
    return rc;
}

int perc_kmf_conference_remove(perc_kmf *k, const char *conference_id, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    k->busy = true;
    k->now = now;
    c->ending = true;
    k->confs_check = true;
    c->rekey_wanted = false;
    for (size_t i = 0; i < k->parts.n; i++) {
        kmf_part *p = k->parts.items[i];
        if (p->conf == c && !p->gone && !p->leaving)
            kmf_part_leave(k, p, "the conference was removed");
    }
    kmf_settle(k);
    k->busy = false;
    return PERC_OK;
}

int perc_kmf_set_roster(perc_kmf *k, const char *conference_id,
                        const perc_kmf_roster_entry *entries, size_t n, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false) || (n > 0 && !entries))
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!entries[i].identity && !entries[i].has_fingerprint)
            return PERC_ERR_INVALID_ARG;
        if (entries[i].identity && !kmf_name_ok(entries[i].identity, false))
            return PERC_ERR_INVALID_ARG;
    }
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_roster_item *r = NULL;
    if (n > 0 && !(r = calloc(n, sizeof *r)))
        return PERC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].identity && !(r[i].identity = kmf_strdup(entries[i].identity))) {
            roster_free(r, n);
            return PERC_ERR_NOMEM;
        }
        r[i].has_fp = entries[i].has_fingerprint;
        if (r[i].has_fp)
            memcpy(r[i].fp, entries[i].fingerprint, PERC_DTLS_FINGERPRINT_LEN);
    }
    k->busy = true;
    k->now = now;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    int rc = PERC_OK;
    if (!c && (rc = kmf_conf_create(k, conference_id, &c)) != PERC_OK) {
        roster_free(r, n);
        goto out;
    }
    roster_free(c->roster, c->n_roster);
    c->roster = r;
    c->n_roster = n;
    c->open = false;
    c->explicit_conf = true;
    kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s': roster of %zu entries", c->id, n);
    kmf_conf_apply_policy(k, c);
out:
    kmf_settle(k);
    k->busy = false;
    return rc;
}

int perc_kmf_set_open(perc_kmf *k, const char *conference_id, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    k->now = now;
    roster_free(c->roster, c->n_roster);
    c->roster = NULL;
    c->n_roster = 0;
    c->open = true;
    kmf_log(k, PERC_KMF_LOG_INFO, "conference '%s': open to anyone signaling announces", c->id);
    return PERC_OK;
}

int perc_kmf_rekey(perc_kmf *k, const char *conference_id, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    k->busy = true;
    k->now = now;
    int rc = kmf_conf_rekey(k, c, "requested");
    kmf_settle(k);
    k->busy = false;
    return rc;
}
