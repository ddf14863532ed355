/* Participants of the Key Management Function (perc/kmf.h): what
 * signaling announces (RFC 8871 §5.2, §5.3: fingerprint and tls-id from
 * the endpoint's SDP, bound to a conference), leaves, and the tls-ids we
 * answer with (RFC 9185 §5.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmf_internal.h"
#include "perc/secret.h"

/* RFC 8842 §5: tls-id-char = ALPHA / DIGIT / "+" / "/" / "-" / "_". */
static bool tls_id_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '-' || c == '_';
}

bool kmf_tls_id_ok(const uint8_t *id, size_t len)
{
    if (!id || len < PERC_DTLS_TLS_ID_MIN || len > PERC_DTLS_TLS_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!tls_id_char(id[i]))
            return false;
    return true;
}

kmf_part *kmf_part_find_tls_id(const perc_kmf *k, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < k->parts.n; i++) {
        kmf_part *p = k->parts.items[i];
        if (!p->gone && p->ep_tls_id_len == len && memcmp(p->ep_tls_id, id, len) == 0)
            return p;
    }
    return NULL;
}

static bool our_tls_id_used(const perc_kmf *k, const char *id)
{
    for (size_t i = 0; i < k->parts.n; i++) {
        const kmf_part *p = k->parts.items[i];
        if (!p->gone && strcmp(p->kmf_tls_id, id) == 0)
            return true;
    }
    return false;
}

/* 32 characters of A-Z a-z 0-9 + / from 32 random octets (6 bits each:
 * 192 bits), unique among the participants we hold. */
static int make_tls_id(perc_kmf *k, char out[PERC_KMF_TLS_ID_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t r[PERC_KMF_TLS_ID_LEN];
    for (int attempt = 0; attempt < 4; attempt++) {
        int rc = kmf_random(k, r, sizeof r);
        if (rc)
            return rc;
        for (size_t i = 0; i < PERC_KMF_TLS_ID_LEN; i++)
            out[i] = alphabet[r[i] & 63];
        out[PERC_KMF_TLS_ID_LEN] = '\0';
        if (!our_tls_id_used(k, out))
            return PERC_OK;
    }
    return PERC_ERR_RANDOM; /* four collisions: the source is not random */
}

void kmf_part_free(kmf_part *p)
{
    if (!p)
        return;
    free(p->identity);
    perc_wipe(p, sizeof *p);
    free(p);
}

/* waiting is a subset of parts: with room for every participant, adding
 * to it cannot fail. */
static int kmf_reserve_waiting(perc_kmf *k)
{
    if (k->waiting.cap >= k->parts.n)
        return PERC_OK;
    size_t cap = k->waiting.cap ? k->waiting.cap : 8;
    while (cap < k->parts.n)
        cap *= 2;
    void **items = realloc(k->waiting.items, cap * sizeof *items);
    if (!items)
        return PERC_ERR_NOMEM;
    k->waiting.items = items;
    k->waiting.cap = cap;
    return PERC_OK;
}

void kmf_part_set_waiting(perc_kmf *k, kmf_part *p, bool waiting)
{
    if (p->waiting == waiting)
        return;
    p->waiting = waiting;
    if (waiting)
        k->waiting.items[k->waiting.n++] = p;
    else
        kmf_vec_remove(&k->waiting, p);
}

void kmf_part_drop(perc_kmf *k, kmf_part *p, const char *why, bool emit_left, const kmf_assoc *a)
{
    if (p->gone)
        return;
    p->gone = true;
    k->parts_gone = true;
    kmf_part_set_waiting(k, p, false);
    if (p->assoc) {
        p->assoc->part = NULL;
        p->assoc = NULL;
    }
    if (!emit_left)
        return;
    k->stats.left++;
    kmf_log(k, PERC_KMF_LOG_INFO, "participant '%s' left conference '%s': %s", p->identity,
            p->conf->id, why);
    perc_kmf_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_KMF_EV_LEFT;
    ev.conference = p->conf->id;
    ev.identity = p->identity;
    ev.reason = why;
    if (a) {
        ev.has_association = true;
        ev.association_id = a->id;
    }
    kmf_emit(k, &ev);
}

void kmf_part_leave(perc_kmf *k, kmf_part *p, const char *why)
{
    if (p->gone || p->leaving)
        return;
    if (p->assoc && kmf_assoc_live(p->assoc)) {
        /* It goes when its association is finished (settle), which sends
         * EndpointDisconnect and re-keys if it was admitted. */
        p->leaving = true;
        kmf_assoc_end(p->assoc, false, "%s", why);
        return;
    }
    kmf_part_drop(k, p, why, true, NULL);
}

/* ---- announce ----------------------------------------------------------- */

static size_t conf_participants(const perc_kmf *k, const kmf_conf *c)
{
    size_t n = 0;
    for (size_t i = 0; i < k->parts.n; i++) {
        const kmf_part *p = k->parts.items[i];
        if (p->conf == c && !p->gone)
            n++;
    }
    return n;
}

static void refuse(perc_kmf *k, perc_kmf_answer *ans, const char *conf, const char *identity,
                   const char *why)
{
    ans->allowed = false;
    snprintf(ans->reason, sizeof ans->reason, "%s", why);
    ans->tls_id[0] = '\0';
    ans->tls_id_len = 0;
    k->stats.announcements_refused++;
    kmf_log(k, PERC_KMF_LOG_INFO, "announcement of '%s' for conference '%s' refused: %s", identity,
            conf, why);
}

static void allow(perc_kmf_answer *ans, const kmf_part *p)
{
    ans->allowed = true;
    ans->reason[0] = '\0';
    memcpy(ans->tls_id, p->kmf_tls_id, sizeof ans->tls_id);
    ans->tls_id_len = strlen(p->kmf_tls_id);
}

static int announce(perc_kmf *k, const char *conf_id, const char *identity,
                    const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], const uint8_t *tls_id,
                    size_t tls_id_len, perc_kmf_answer *ans)
{
    char why[PERC_KMF_MAX_REASON];
    kmf_conf *c = kmf_conf_find(k, conf_id);

    kmf_part *old = kmf_part_find_tls_id(k, tls_id, tls_id_len);
    if (old) {
        if (old->conf != c || old->assoc || old->admitted || old->leaving) {
            refuse(k, ans, conf_id, identity, "tls-id already in use by another participant");
            return PERC_OK;
        }
        /* The same endpoint announced again before its association came:
         * signaling's latest word counts, our tls-id stays. */
        if (!kmf_conf_allows(c, identity, fp, why, sizeof why)) {
            kmf_part_drop(k, old, why, false, NULL);
            refuse(k, ans, conf_id, identity, why);
            return PERC_OK;
        }
        char *dup = kmf_strdup(identity);
        if (!dup)
            return PERC_ERR_NOMEM;
        free(old->identity);
        old->identity = dup;
        memcpy(old->fp, fp, PERC_DTLS_FINGERPRINT_LEN);
        old->expires_at = k->now + k->cfg.announce_lifetime_ns;
        allow(ans, old);
        kmf_log(k, PERC_KMF_LOG_INFO, "announcement of '%s' for conference '%s' refreshed",
                identity, conf_id);
        return PERC_OK;
    }

    if (c && !kmf_conf_allows(c, identity, fp, why, sizeof why)) {
        refuse(k, ans, conf_id, identity, why);
        return PERC_OK;
    }
    if (!c && k->confs.n >= k->cfg.max_conferences) {
        refuse(k, ans, conf_id, identity, "too many conferences");
        return PERC_OK;
    }
    if (c && conf_participants(k, c) >= k->cfg.max_participants) {
        snprintf(why, sizeof why, "conference '%s' is full", conf_id);
        refuse(k, ans, conf_id, identity, why);
        return PERC_OK;
    }

    kmf_part *p = calloc(1, sizeof *p);
    if (!p)
        return PERC_ERR_NOMEM;
    int rc = make_tls_id(k, p->kmf_tls_id);
    if (rc)
        goto fail;
    rc = PERC_ERR_NOMEM;
    if (!(p->identity = kmf_strdup(identity)))
        goto fail;
    if (!c && (rc = kmf_conf_create(k, conf_id, &c)) != PERC_OK)
        goto fail; /* LIMIT cannot happen: checked above */
    if ((rc = kmf_vec_push(&k->parts, p)) != PERC_OK)
        goto fail;
    if ((rc = kmf_reserve_waiting(k)) != PERC_OK) {
        kmf_vec_remove(&k->parts, p);
        goto fail;
    }
    p->conf = c;
    c->n_parts++;
    memcpy(p->fp, fp, PERC_DTLS_FINGERPRINT_LEN);
    memcpy(p->ep_tls_id, tls_id, tls_id_len);
    p->ep_tls_id_len = tls_id_len;
    p->expires_at = k->now + k->cfg.announce_lifetime_ns;
    kmf_part_set_waiting(k, p, true);
    allow(ans, p);
    kmf_log(k, PERC_KMF_LOG_INFO, "participant '%s' announced for conference '%s'", identity,
            conf_id);
    return PERC_OK;
fail:
    /* a conference created here is deleted at settle: nobody is in it */
    kmf_part_free(p);
    return rc;
}

int perc_kmf_announce(perc_kmf *k, const char *conference_id, const char *identity,
                      const uint8_t fingerprint[PERC_DTLS_FINGERPRINT_LEN], const uint8_t *tls_id,
                      size_t tls_id_len, uint64_t now, perc_kmf_answer *answer)
{
    if (!identity)
        identity = "";
    if (!k || !answer || !fingerprint || !kmf_name_ok(conference_id, false) ||
        !kmf_name_ok(identity, true) || !kmf_tls_id_ok(tls_id, tls_id_len))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    memset(answer, 0, sizeof *answer);
    memcpy(answer->fingerprint, k->fingerprint, PERC_DTLS_FINGERPRINT_LEN);
    k->busy = true;
    k->now = now;
    k->stats.announcements++;
    int rc = announce(k, conference_id, identity, fingerprint, tls_id, tls_id_len, answer);
    if (rc) {
        answer->allowed = false;
        snprintf(answer->reason, sizeof answer->reason, "internal error: %s", perc_strerror(rc));
        kmf_log(k, PERC_KMF_LOG_ERROR, "announcement of '%s' for conference '%s' failed: %s",
                identity, conference_id, perc_strerror(rc));
    }
    kmf_settle(k);
    k->busy = false;
    return rc;
}

/* ---- leave -------------------------------------------------------------- */

int perc_kmf_leave(perc_kmf *k, const char *conference_id, const char *identity,
                   const uint8_t *tls_id, size_t tls_id_len, uint64_t now)
{
    if (!k || !kmf_name_ok(conference_id, false) || (!identity && !tls_id) ||
        (identity && !kmf_name_ok(identity, true)) ||
        (tls_id && !kmf_tls_id_ok(tls_id, tls_id_len)))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_conf *c = kmf_conf_find(k, conference_id);
    if (!c)
        return PERC_ERR_NOT_FOUND;
    k->busy = true;
    k->now = now;
    size_t n = 0;
    for (size_t i = 0; i < k->parts.n; i++) {
        kmf_part *p = k->parts.items[i];
        if (p->conf != c || p->gone || p->leaving)
            continue;
        if (identity && strcmp(p->identity, identity) != 0)
            continue;
        if (tls_id && (p->ep_tls_id_len != tls_id_len || memcmp(p->ep_tls_id, tls_id, tls_id_len)))
            continue;
        kmf_part_leave(k, p, "left the conference (signaling)");
        n++;
    }
    kmf_settle(k);
    k->busy = false;
    return n ? PERC_OK : PERC_ERR_NOT_FOUND;
}
