/* Tunnel connections of the Key Management Function (perc/kmf.h): one
 * perc_tunnel_kd session per Media Distributor TLS connection (RFC 9185),
 * its events, and what happens to associations when connections come and
 * go (RFC 9185 §5.2: an association's messages may use any tunnel). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmf_internal.h"

kmf_tunnel *kmf_tunnel_find(const perc_kmf *k, uint64_t conn_id)
{
    for (size_t i = 0; i < k->tunnels.n; i++) {
        kmf_tunnel *t = k->tunnels.items[i];
        if (t->conn_id == conn_id)
            return t;
    }
    return NULL;
}

kmf_tunnel *kmf_tunnel_find_open_named(const perc_kmf *k, const char *name)
{
    for (size_t i = 0; i < k->tunnels.n; i++) {
        kmf_tunnel *t = k->tunnels.items[i];
        if (t->md_name && strcmp(t->md_name, name) == 0 &&
            perc_tunnel_kd_get_state(t->kd) == PERC_TUNNEL_KD_OPEN)
            return t;
    }
    return NULL;
}

void kmf_tunnel_free(kmf_tunnel *t)
{
    if (!t)
        return;
    perc_tunnel_kd_free(t->kd);
    free(t->md_name);
    free(t);
}

static const char *md_of(const kmf_tunnel *t) { return t->md_name ? t->md_name : "(unnamed)"; }

/* a is carried by t from now on. */
static void carry(kmf_assoc *a, kmf_tunnel *t)
{
    if (a->tunnel == t)
        return;
    kmf_assoc_touch(a); /* no orphan deadline any more */
    perc_kmf *k = a->k;
    kmf_log(k, PERC_KMF_LOG_INFO, "association %s now carried by connection %llu (%s)", a->id_text,
            (unsigned long long)t->conn_id, md_of(t));
    a->tunnel = t;
    a->orphan_deadline = 0;
    if (t->md_name && (!a->md_name || strcmp(a->md_name, t->md_name) != 0)) {
        char *dup = kmf_strdup(t->md_name);
        if (dup) {
            free(a->md_name);
            a->md_name = dup;
        }
    }
}

/* A new connection from a Media Distributor we know by name takes over the
 * associations a closed connection of that Media Distributor left behind,
 * so what we send them (a re-key) has a way to go. */
static void adopt_orphans(perc_kmf *k, kmf_tunnel *t)
{
    if (!t->md_name)
        return;
    for (size_t i = 0; i < k->assocs.n; i++) {
        kmf_assoc *a = k->assocs.items[i];
        if (a->tunnel || !kmf_assoc_live(a) || !a->md_name || strcmp(a->md_name, t->md_name) != 0)
            continue;
        int rc = perc_tunnel_kd_adopt(t->kd, &a->id);
        if (rc) {
            kmf_log(k, PERC_KMF_LOG_WARNING, "association %s not adopted by connection %llu: %s",
                    a->id_text, (unsigned long long)t->conn_id, perc_strerror(rc));
            continue;
        }
        carry(a, t);
    }
}

void kmf_owed_free(kmf_owed *o)
{
    if (!o)
        return;
    free(o->md_name);
    free(o);
}

void kmf_tunnel_owe(perc_kmf *k, const perc_uuid *id, const char *md_name)
{
    char text[PERC_UUID_TEXT_LEN + 1];
    if (perc_uuid_format(id, text, sizeof text))
        text[0] = '\0';
    kmf_owed *o = calloc(1, sizeof *o);
    if (o && (o->md_name = kmf_strdup(md_name)) && kmf_vec_push(&k->owed, o) == PERC_OK) {
        o->id = *id;
        o->until = k->now + k->cfg.tunnel_grace_ns;
        kmf_log(k, PERC_KMF_LOG_INFO,
                "EndpointDisconnect for association %s owed to the next connection from %s", text,
                md_name);
        return;
    }
    kmf_owed_free(o);
    kmf_log(k, PERC_KMF_LOG_WARNING, "EndpointDisconnect for association %s could not be sent",
            text);
}

void kmf_owed_expire(perc_kmf *k, uint64_t now)
{
    for (size_t i = k->owed.n; i-- > 0;) {
        kmf_owed *o = k->owed.items[i];
        if (now < o->until)
            continue;
        char text[PERC_UUID_TEXT_LEN + 1];
        if (perc_uuid_format(&o->id, text, sizeof text))
            text[0] = '\0';
        kmf_log(k, PERC_KMF_LOG_WARNING,
                "EndpointDisconnect for association %s not sent: %s did not reconnect in time",
                text, o->md_name);
        kmf_vec_remove(&k->owed, o);
        kmf_owed_free(o);
    }
}

/* RFC 9185 §5.4: the EndpointDisconnects that found no connection go out
 * on the first one from that Media Distributor. */
static void pay_owed(perc_kmf *k, kmf_tunnel *t)
{
    if (!t->md_name)
        return;
    for (size_t i = k->owed.n; i-- > 0;) {
        kmf_owed *o = k->owed.items[i];
        if (strcmp(o->md_name, t->md_name) != 0)
            continue;
        if (perc_tunnel_kd_adopt(t->kd, &o->id) == PERC_OK &&
            perc_tunnel_kd_disconnect(t->kd, &o->id) == PERC_OK)
            k->stats.endpoint_disconnects_sent++;
        kmf_vec_remove(&k->owed, o);
        kmf_owed_free(o);
    }
}

static void log_profiles(perc_kmf *k, kmf_tunnel *t)
{
    char list[128];
    size_t off = 0;
    list[0] = '\0';
    size_t n = perc_tunnel_kd_profile_count(t->kd);
    for (size_t i = 0; i < n && off + 8 < sizeof list; i++) {
        int w = snprintf(list + off, sizeof list - off, "%s0x%04X", i ? " " : "",
                         (unsigned)perc_tunnel_kd_profile_at(t->kd, i));
        if (w < 0)
            break;
        off += (size_t)w;
    }
    kmf_log(k, PERC_KMF_LOG_INFO, "connection %llu (%s): Media Distributor offers profiles %s%s",
            (unsigned long long)t->conn_id, md_of(t), list, n * 7 > sizeof list ? " ..." : "");
}

static void on_kd_event(void *user, const perc_tunnel_kd_event *ev)
{
    kmf_tunnel *t = user;
    perc_kmf *k = t->k;
    char text[PERC_UUID_TEXT_LEN + 1];
    if (perc_uuid_format(&ev->association_id, text, sizeof text))
        text[0] = '\0';
    kmf_assoc *a;
    switch (ev->type) {
    case PERC_TUNNEL_KD_PROFILES:
        log_profiles(k, t);
        pay_owed(k, t);
        adopt_orphans(k, t);
        break;
    case PERC_TUNNEL_KD_NEW_ASSOCIATION:
        a = kmf_assoc_find(k, &ev->association_id);
        if (a && kmf_assoc_live(a)) {
            carry(a, t); /* it moved here (RFC 9185 §5.2) */
        } else if (a) {
            kmf_assoc_drop_closed(k, t, text);
            if (perc_tunnel_kd_disconnect(t->kd, &ev->association_id) == PERC_OK)
                k->stats.endpoint_disconnects_sent++;
        } else {
            kmf_assoc_new(k, t, &ev->association_id);
        }
        break;
    case PERC_TUNNEL_KD_DTLS: {
        a = kmf_assoc_find(k, &ev->association_id);
        if (!a || !kmf_assoc_live(a)) {
            kmf_assoc_drop_closed(k, t, text);
            break;
        }
        carry(a, t);
        kmf_assoc_touch(a);
        int rc = perc_dtls_recv(a->dtls, ev->dtls.ptr, ev->dtls.len, k->now);
        if (rc) {
            k->stats.dtls_dropped++;
            kmf_log(k, PERC_KMF_LOG_INFO, "association %s: DTLS datagram dropped: %s", text,
                    perc_strerror(rc));
        }
        break;
    }
    case PERC_TUNNEL_KD_MD_DISCONNECT:
        a = kmf_assoc_find(k, &ev->association_id);
        if (!a || !kmf_assoc_live(a)) {
            kmf_log(k, PERC_KMF_LOG_DEBUG,
                    "EndpointDisconnect for unknown or ended association %s (connection %llu)",
                    text, (unsigned long long)t->conn_id);
            break;
        }
        /* RFC 9185 §9: the claim is not proof, but a Media Distributor that
         * stops relaying cuts the endpoint off anyway. */
        kmf_assoc_end(a, true, "Media Distributor reported the endpoint gone (connection %llu)",
                      (unsigned long long)t->conn_id);
        break;
    case PERC_TUNNEL_KD_DROPPED:
        kmf_log(k, PERC_KMF_LOG_WARNING,
                "connection %llu (%s): tunnel message of type %u dropped: %s",
                (unsigned long long)t->conn_id, md_of(t), (unsigned)ev->msg_type,
                perc_strerror(ev->error));
        break;
    }
}

/* ---- public ------------------------------------------------------------- */

int perc_kmf_tunnel_add(perc_kmf *k, const char *md_name, uint64_t now, uint64_t *conn_id)
{
    if (!k || !conn_id || (md_name && !kmf_name_ok(md_name, false)))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    if (k->tunnels.n >= k->cfg.max_tunnels)
        return PERC_ERR_LIMIT;
    kmf_tunnel *t = calloc(1, sizeof *t);
    if (!t)
        return PERC_ERR_NOMEM;
    t->k = k;
    int rc = PERC_ERR_NOMEM;
    if (md_name && !(t->md_name = kmf_strdup(md_name)))
        goto fail;
    perc_tunnel_kd_config kc;
    memset(&kc, 0, sizeof kc);
    kc.on_event = on_kd_event;
    kc.event_user = t;
    kc.max_associations = k->cfg.max_associations;
    if ((rc = perc_tunnel_kd_new(&kc, now, &t->kd)) || (rc = kmf_vec_push(&k->tunnels, t)))
        goto fail;
    t->conn_id = k->next_conn_id++;
    *conn_id = t->conn_id;
    k->now = now;
    kmf_log(k, PERC_KMF_LOG_INFO, "connection %llu from Media Distributor %s opened",
            (unsigned long long)t->conn_id, md_of(t));
    return PERC_OK;
fail:
    kmf_tunnel_free(t);
    return rc;
}

static void orphan_all(perc_kmf *k, kmf_tunnel *t)
{
    size_t n = 0;
    for (size_t i = 0; i < k->assocs.n; i++) {
        kmf_assoc *a = k->assocs.items[i];
        if (a->tunnel == t) {
            kmf_assoc_orphan(a);
            n++;
        }
    }
    if (n)
        kmf_log(k, PERC_KMF_LOG_INFO,
                "%zu associations of connection %llu wait %llu ms for another connection", n,
                (unsigned long long)t->conn_id,
                (unsigned long long)(k->cfg.tunnel_grace_ns / 1000000u));
}

int perc_kmf_tunnel_recv(perc_kmf *k, uint64_t conn_id, const uint8_t *data, size_t len,
                         uint64_t now)
{
    if (!k || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_tunnel *t = kmf_tunnel_find(k, conn_id);
    if (!t)
        return PERC_ERR_NOT_FOUND;
    k->busy = true;
    k->now = now;
    int rc = perc_tunnel_kd_recv(t->kd, data, len, now);
    if (rc != PERC_OK && !t->failed) {
        t->failed = true;
        k->stats.tunnels_failed++;
        kmf_log(k, PERC_KMF_LOG_WARNING, "connection %llu (%s) failed: %s (%s); close it",
                (unsigned long long)t->conn_id, md_of(t), perc_strerror(rc), perc_err_name(rc));
        orphan_all(k, t);
        perc_kmf_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = PERC_KMF_EV_TUNNEL_FAILED;
        ev.conn_id = t->conn_id;
        ev.error = rc;
        ev.reason = perc_strerror(rc);
        kmf_emit(k, &ev);
    }
    kmf_settle(k);
    k->busy = false;
    return rc;
}

int perc_kmf_tunnel_pending(perc_kmf *k, uint64_t conn_id, uint8_t *buf, size_t cap, size_t *len)
{
    if (!k || !len || (cap > 0 && !buf))
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    kmf_tunnel *t = kmf_tunnel_find(k, conn_id);
    if (!t)
        return PERC_ERR_NOT_FOUND;
    return perc_tunnel_kd_pending_send(t->kd, buf, cap, len);
}

int perc_kmf_tunnel_remove(perc_kmf *k, uint64_t conn_id, uint64_t now)
{
    if (!k)
        return PERC_ERR_INVALID_ARG;
    if (k->busy)
        return PERC_ERR_STATE;
    kmf_tunnel *t = kmf_tunnel_find(k, conn_id);
    if (!t)
        return PERC_ERR_NOT_FOUND;
    k->busy = true;
    k->now = now;
    kmf_log(k, PERC_KMF_LOG_INFO, "connection %llu (%s) closed", (unsigned long long)t->conn_id,
            md_of(t));
    orphan_all(k, t);
    kmf_vec_remove(&k->tunnels, t);
    kmf_tunnel_free(t);
    kmf_settle(k);
    k->busy = false;
    return PERC_OK;
}

int perc_kmf_tunnel_info_get(const perc_kmf *k, uint64_t conn_id, perc_kmf_tunnel_info *out)
{
    if (!k || !out)
        return PERC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const kmf_tunnel *t = kmf_tunnel_find(k, conn_id);
    if (!t)
        return PERC_ERR_NOT_FOUND;
    out->state = perc_tunnel_kd_get_state(t->kd);
    out->failure = perc_tunnel_kd_failure(t->kd);
    for (size_t i = 0; i < k->assocs.n; i++) {
        const kmf_assoc *a = k->assocs.items[i];
        if (a->tunnel == t && kmf_assoc_live(a))
            out->associations++;
    }
    out->pending_octets = perc_tunnel_kd_pending_len(t->kd);
    out->last_activity_ns = perc_tunnel_kd_last_activity(t->kd);
    return PERC_OK;
}
