/* Associations of the Key Management Function (perc/kmf.h): one DTLS
 * server (perc/dtls.h) per endpoint, authorized against what signaling
 * announced (RFC 9185 §5.4, RFC 8871 §5), MediaKeys to the Media
 * Distributor and EKTKey to the endpoint when the handshake completes, and
 * what an association owes when it ends. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmf_internal.h"
#include "perc/secret.h"

static const char *cipher_name(uint8_t c)
{
    return c == PERC_EKT_CIPHER_AESKW_128   ? "aeskw_128"
           : c == PERC_EKT_CIPHER_AESKW_256 ? "aeskw_256"
                                            : "none";
}

bool kmf_assoc_live(const kmf_assoc *a)
{
    if (a->ended || a->finished)
        return false;
    perc_dtls_state s = perc_dtls_get_state(a->dtls);
    return s != PERC_DTLS_FAILED && s != PERC_DTLS_CLOSED;
}

void kmf_assoc_end(kmf_assoc *a, bool quiet, const char *fmt, ...)
{
    if (a->ended || a->finished)
        return;
    kmf_assoc_touch(a);
    if (a->reason[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(a->reason, sizeof a->reason, fmt, ap);
        va_end(ap);
    }
    a->ended = true;
    a->quiet = a->quiet || quiet;
    /* close_notify when connected (the endpoint learns at once); nothing on
     * the wire during a handshake. Allowed from this object's callbacks. */
    perc_dtls_state s = perc_dtls_get_state(a->dtls);
    if (s != PERC_DTLS_FAILED && s != PERC_DTLS_CLOSED) {
        int rc = perc_dtls_close(a->dtls, a->k->now);
        if (rc) /* out of memory for the close_notify: it ends all the same */
            kmf_log(a->k, PERC_KMF_LOG_DEBUG, "association %s: no close_notify: %s", a->id_text,
                    perc_strerror(rc));
    }
}

int kmf_assoc_send_ekt(kmf_assoc *a)
{
    perc_ekt_key_msg m;
    kmf_assoc_touch(a);
    kmf_conf_ekt_msg(a->k, a->part->conf, &m);
    int rc = perc_dtls_send_ekt_key(a->dtls, &m, a->k->now);
    uint16_t spi = m.spi;
    perc_ekt_key_msg_wipe(&m);
    if (rc == PERC_OK) {
        a->spi_sent = spi;
        a->k->stats.ekt_keys_sent++;
    }
    return rc;
}

/* ---- DTLS callbacks ----------------------------------------------------- */

/* Inside OpenSSL, at the ClientHello: the client's external_session_id
 * names the announced participant; we answer with the tls-id we gave it. */
static int choose_tls_id(void *user, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    kmf_assoc *a = user;
    kmf_part *p = kmf_part_find_tls_id(a->k, peer, peer_len);
    if (!p) {
        kmf_set_reason(a->reason, "tls-id not announced");
        return -1;
    }
    if (p->leaving) {
        kmf_set_reason(a->reason, "participant '%s' is leaving conference '%s'", p->identity,
                       p->conf->id);
        return -1;
    }
    if ((p->assoc && p->assoc != a) || (a->part && a->part != p) || p->admitted) {
        kmf_set_reason(a->reason, "tls-id of '%s' already in use by another association",
                       p->identity);
        return -1;
    }
    size_t n = strlen(p->kmf_tls_id);
    if (n > cap)
        return -1;
    p->assoc = a;
    a->part = p;
    kmf_part_set_waiting(a->k, p, false);
    memcpy(out, p->kmf_tls_id, n);
    *out_len = n;
    return 0;
}

/* Inside OpenSSL, first thing on the ClientHello: the profile the
 * client's conference uses, if it has members already. */
static uint16_t required_profile(void *user, const uint8_t *peer, size_t peer_len)
{
    kmf_assoc *a = user;
    kmf_part *p = peer_len ? kmf_part_find_tls_id(a->k, peer, peer_len) : NULL;
    a->required_profile = p ? kmf_conf_profile(a->k, p->conf) : 0;
    a->hello_conf_cipher = a->required_profile ? p->conf->ekt_cipher : 0;
    return a->required_profile;
}

/* Right after: the EKT cipher, its conference's or by the profile chosen. */
static uint8_t required_ekt_cipher(void *user, uint16_t profile)
{
    kmf_assoc *a = user;
    return a->hello_conf_cipher ? a->hello_conf_cipher : kmf_ekt_cipher_for_profile(a->k, profile);
}

/* Inside OpenSSL, once the client's certificate arrived: RFC 9185 §5.4
 * (fingerprint as signaled) and the conference policy. */
static bool authorize(void *user, const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN],
                      const uint8_t *tls_id, size_t tls_id_len)
{
    (void)tls_id, (void)tls_id_len; /* matched at the ClientHello */
    kmf_assoc *a = user;
    kmf_part *p = a->part;
    if (!p) {
        kmf_set_reason(a->reason, "endpoint sent no tls-id (external_session_id)");
        return false;
    }
    if (p->gone || p->leaving) {
        kmf_set_reason(a->reason, "participant '%s' left during the handshake", p->identity);
        return false;
    }
    if (!perc_secret_equal(fp, p->fp, PERC_DTLS_FINGERPRINT_LEN)) {
        char text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
        if (perc_dtls_fingerprint_format(fp, text, sizeof text))
            text[0] = '\0';
        kmf_set_reason(a->reason,
                       "certificate fingerprint does not match the one signaled for '%s' "
                       "(presented %.47s...)",
                       p->identity, text);
        return false;
    }
    char why[PERC_KMF_MAX_REASON];
    if (!kmf_conf_allows(p->conf, p->identity, fp, why, sizeof why)) {
        kmf_set_reason(a->reason, "%s", why);
        return false;
    }
    return true;
}

static void admitted_event(kmf_assoc *a)
{
    perc_kmf *k = a->k;
    kmf_part *p = a->part;
    k->stats.admitted++;
    kmf_log(k, PERC_KMF_LOG_INFO,
            "participant '%s' admitted to conference '%s' (association %s, connection %llu, "
            "profile 0x%04X, EKT cipher %s, SPI %u)",
            p->identity, p->conf->id, a->id_text,
            (unsigned long long)(a->tunnel ? a->tunnel->conn_id : 0), (unsigned)a->profile,
            cipher_name(p->conf->ekt_cipher), (unsigned)a->spi_sent);
    perc_kmf_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_KMF_EV_ADMITTED;
    ev.conference = p->conf->id;
    ev.identity = p->identity;
    ev.has_association = true;
    ev.association_id = a->id;
    ev.conn_id = a->tunnel ? a->tunnel->conn_id : 0;
    ev.profile = a->profile;
    ev.spi = a->spi_sent;
    kmf_emit(k, &ev);
}

/* MediaKeys with the hop-by-hop halves only (RFC 9185 §5.4, §6.4; RFC 8871
 * §6.2: the second halves of keys and salts). */
static int send_media_keys(kmf_assoc *a, perc_dtls *d, uint16_t profile)
{
    perc_double_keying kg;
    int rc = perc_dtls_get_keying(d, &kg);
    if (rc)
        return rc;
    perc_tunnel_media_keys mk;
    memset(&mk, 0, sizeof mk);
    mk.association_id = a->id;
    mk.profile = profile;
    mk.client_key = perc_view_of(kg.client_write.outer.key, kg.client_write.outer.key_len);
    mk.server_key = perc_view_of(kg.server_write.outer.key, kg.server_write.outer.key_len);
    mk.client_salt = perc_view_of(kg.client_write.outer.salt, PERC_SRTP_SALT_LEN);
    mk.server_salt = perc_view_of(kg.server_write.outer.salt, PERC_SRTP_SALT_LEN);
    rc = perc_tunnel_kd_send_media_keys(a->tunnel->kd, &mk);
    perc_double_keying_wipe(&kg);
    if (rc == PERC_OK)
        a->k->stats.media_keys_sent++;
    return rc;
}

static void on_connected(void *user, perc_dtls *d, uint16_t profile, uint8_t cipher)
{
    kmf_assoc *a = user;
    perc_kmf *k = a->k;
    if (a->ended || a->finished)
        return;
    kmf_part *p = a->part;
    if (!p || p->gone || p->leaving) {
        kmf_assoc_end(a, false, "participant left during the handshake");
        return;
    }
    /* The roster may have changed since the certificate was checked. */
    char why[PERC_KMF_MAX_REASON];
    if (!kmf_conf_allows(p->conf, p->identity, p->fp, why, sizeof why)) {
        kmf_assoc_end(a, false, "%s", why);
        return;
    }
    /* Two first members can handshake at once, neither bound by the
     * other's profile at its ClientHello: the later one is refused. */
    uint16_t conf_profile = kmf_conf_profile(k, p->conf);
    if (conf_profile && profile != conf_profile) {
        kmf_assoc_end(a, false,
                      "negotiated SRTP profile 0x%04X, but conference '%s' uses 0x%04X (a "
                      "concurrent first join); the endpoint may join again",
                      (unsigned)profile, p->conf->id, (unsigned)conf_profile);
        return;
    }
    /* All members of a conference use one EKT cipher: an endpoint that did
     * not offer its conference's negotiated none, and could not take the
     * EKTKey. */
    uint8_t want_cipher = kmf_conf_ekt_cipher(k, p->conf, profile);
    if (cipher != want_cipher) {
        kmf_assoc_end(a, false, "endpoint does not support the EKT cipher %s",
                      cipher_name(want_cipher));
        return;
    }
    if (!a->tunnel || perc_tunnel_kd_get_state(a->tunnel->kd) != PERC_TUNNEL_KD_OPEN) {
        kmf_assoc_end(a, false, "no tunnel connection to send MediaKeys on");
        return;
    }
    int rc = send_media_keys(a, d, profile);
    if (rc) {
        kmf_assoc_end(a, false, "MediaKeys could not be sent: %s", perc_strerror(rc));
        return;
    }
    a->connected = true;
    a->profile = profile;
    p->admitted = true;
    kmf_conf *c = p->conf;
    c->profile = profile;
    c->ekt_cipher = cipher;
    if (k->cfg.rekey_on_join && c->cur.valid && kmf_conf_members(k, c) > 1) {
        /* A new set for everyone, the newcomer included: it cannot decrypt
         * what was sent before it came (RFC 8871 §4.5.2). */
        snprintf(why, sizeof why, "'%s' joined", p->identity);
        rc = kmf_conf_rekey(k, c, why);
        if (rc == PERC_OK) {
            if (!kmf_assoc_live(a))
                return; /* its EKTKey could not be queued: ended there */
        } else {
            kmf_log(k, PERC_KMF_LOG_WARNING,
                    "conference '%s': '%s' gets the current set (re-key on join failed)", c->id,
                    p->identity);
            rc = kmf_assoc_send_ekt(a);
        }
    } else {
        rc = kmf_conf_ensure_set(k, c);
        if (rc == PERC_OK)
            rc = kmf_assoc_send_ekt(a);
    }
    if (rc) {
        kmf_assoc_end(a, false, "no EKTKey could be sent: %s", perc_strerror(rc));
        return;
    }
    admitted_event(a);
}

static void on_acked(void *user, perc_dtls *d, uint16_t spi)
{
    (void)d;
    kmf_assoc *a = user;
    a->acked = true;
    a->spi_acked = spi;
    kmf_log(a->k, PERC_KMF_LOG_DEBUG, "association %s acknowledged the EKTKey with SPI %u",
            a->id_text, (unsigned)spi);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void refuse_on(perc_kmf *k, kmf_tunnel *t, const perc_uuid *id)
{
    if (perc_tunnel_kd_disconnect(t->kd, id) == PERC_OK)
        k->stats.endpoint_disconnects_sent++;
}

static void refused_event(perc_kmf *k, const kmf_assoc *a, const perc_uuid *id, uint64_t conn,
                          const char *why)
{
    perc_kmf_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_KMF_EV_REFUSED;
    if (a && a->part) {
        ev.conference = a->part->conf->id;
        ev.identity = a->part->identity;
    }
    ev.has_association = true;
    ev.association_id = *id;
    ev.conn_id = conn;
    ev.reason = why;
    k->stats.refused++;
    kmf_emit(k, &ev);
}

void kmf_assoc_drop_closed(perc_kmf *k, const kmf_tunnel *t, const char *id_text)
{
    k->stats.dtls_dropped++;
    kmf_log(k, PERC_KMF_LOG_INFO, "DTLS datagram for closed association %s dropped (connection %llu)",
            id_text, (unsigned long long)t->conn_id);
}

void kmf_assoc_new(perc_kmf *k, kmf_tunnel *t, const perc_uuid *id)
{
    char text[PERC_UUID_TEXT_LEN + 1];
    if (perc_uuid_format(id, text, sizeof text))
        text[0] = '\0';
    const char *md = t->md_name ? t->md_name : "(unnamed)";
    unsigned long long conn = (unsigned long long)t->conn_id;
    char why[PERC_KMF_MAX_REASON];

    if (kmf_tombstoned(k, id)) {
        kmf_assoc_drop_closed(k, t, text);
        refuse_on(k, t, id);
        return;
    }
    if (k->assocs.n >= k->cfg.max_associations) {
        snprintf(why, sizeof why, "limit of %zu associations reached", k->cfg.max_associations);
        goto refuse;
    }
    /* RFC 9185 §5.4: a profile we, the endpoint and this Media
     * Distributor support. The endpoint's part is OpenSSL's. */
    uint16_t profiles[PERC_DTLS_MAX_PROFILES];
    size_t n = 0;
    for (size_t i = 0; i < k->cfg.n_profiles; i++)
        if (perc_tunnel_kd_offers_profile(t->kd, k->cfg.profiles[i]))
            profiles[n++] = k->cfg.profiles[i];
    if (n == 0) {
        snprintf(
            why, sizeof why,
            "Media Distributor %s (connection %llu) offers no SRTP profile in common with ours", md,
            conn);
        goto refuse;
    }

    kmf_assoc *a = NULL;
    if (kmf_sched_reserve(k, k->assocs.n + 1) != PERC_OK || !(a = calloc(1, sizeof *a))) {
        snprintf(why, sizeof why, "out of memory");
        goto refuse;
    }
    a->k = k;
    a->id = *id;
    memcpy(a->id_text, text, sizeof a->id_text);
    perc_dtls_config cfg;
    perc_dtls_config_init(&cfg, PERC_DTLS_SERVER);
    memcpy(cfg.srtp_profiles, profiles, n * sizeof profiles[0]);
    cfg.n_srtp_profiles = n;
    /* Narrowed to the one the conference needs at the ClientHello
     * (required_ekt_cipher; see kmf.h). */
    cfg.ekt_ciphers[0] = k->cfg.ekt_cipher;
    cfg.n_ekt_ciphers = 1;
    if (k->cfg.ekt_cipher != PERC_EKT_CIPHER_AESKW_256)
        cfg.ekt_ciphers[cfg.n_ekt_ciphers++] = PERC_EKT_CIPHER_AESKW_256;
    cfg.choose_tls_id = choose_tls_id;
    cfg.choose_tls_id_user = a;
    cfg.required_profile = required_profile;
    cfg.required_profile_user = a;
    cfg.required_ekt_cipher = required_ekt_cipher;
    cfg.required_ekt_cipher_user = a;
    cfg.mtu = k->cfg.dtls_mtu;
    cfg.handshake_rtx_initial_ms = k->cfg.dtls_handshake_rtx_initial_ms;
    cfg.ekt_rtx_initial_ns = k->cfg.ekt_rtx_initial_ns;
    cfg.ekt_rtx_max_ns = k->cfg.ekt_rtx_max_ns;
    perc_dtls_callbacks cbs;
    memset(&cbs, 0, sizeof cbs);
    cbs.user = a;
    cbs.connected = on_connected;
    cbs.ekt_key_acked = on_acked;
    cbs.authorize = authorize;
    int rc = perc_dtls_new(k->cfg.dtls_ctx, &cfg, &cbs, &a->dtls);
    if (rc == PERC_OK && t->md_name && !(a->md_name = kmf_strdup(t->md_name)))
        rc = PERC_ERR_NOMEM;
    if (rc == PERC_OK && (rc = kmf_assoc_index_add(k, a)) == PERC_OK &&
        (rc = kmf_vec_push(&k->assocs, a)) != PERC_OK)
        kmf_assoc_index_remove(k, a);
    if (rc) {
        kmf_assoc_free(a);
        snprintf(why, sizeof why, "no DTLS server: %s", perc_strerror(rc));
        goto refuse;
    }
    a->tunnel = t;
    a->handshake_deadline = k->now + k->cfg.handshake_timeout_ns;
    kmf_assoc_touch(a);
    kmf_log(k, PERC_KMF_LOG_DEBUG, "association %s: new on connection %llu (%s)", text, conn, md);
    return;
refuse:
    kmf_log(k, PERC_KMF_LOG_WARNING, "association %s refused: %s", text, why);
    refused_event(k, NULL, id, t->conn_id, why);
    refuse_on(k, t, id);
}

void kmf_assoc_flush(kmf_assoc *a)
{
    perc_kmf *k = a->k;
    for (;;) {
        size_t len = 0;
        if (perc_dtls_pull(a->dtls, k->scratch, sizeof k->scratch, &len) != PERC_OK || len == 0)
            return;
        if (a->quiet)
            continue; /* the Media Distributor said the endpoint is gone */
        kmf_tunnel *t = a->tunnel;
        if (!t) {
            /* DTLS retransmits it (handshake flights, EKTKeys) once a
             * connection adopts the association */
            k->stats.dtls_dropped++;
            kmf_log(k, PERC_KMF_LOG_DEBUG,
                    "association %s: DTLS datagram dropped: no connection carries it", a->id_text);
            continue;
        }
        int rc = perc_tunnel_kd_send_dtls(t->kd, &a->id, k->scratch, len);
        if (rc) {
            k->stats.dtls_dropped++;
            kmf_log(k, PERC_KMF_LOG_DEBUG,
                    "association %s: DTLS datagram dropped: connection %llu refused it: %s",
                    a->id_text, (unsigned long long)t->conn_id, perc_strerror(rc));
        }
    }
}

static bool disconnect_on(kmf_assoc *a, kmf_tunnel *t)
{
    if (perc_tunnel_kd_get_state(t->kd) != PERC_TUNNEL_KD_OPEN ||
        !perc_tunnel_kd_knows(t->kd, &a->id))
        return false;
    if (perc_tunnel_kd_disconnect(t->kd, &a->id) != PERC_OK)
        return false;
    a->k->stats.endpoint_disconnects_sent++;
    return true;
}

void kmf_assoc_finish(kmf_assoc *a)
{
    perc_kmf *k = a->k;
    a->ended = true;
    kmf_assoc_flush(a); /* its last words first: an alert, close_notify */
    if (a->reason[0] == '\0') {
        const perc_dtls_close_info *ci = perc_dtls_get_close_info(a->dtls);
        if (ci && ci->reason == PERC_DTLS_REASON_SRTP_PROFILE && a->required_profile)
            kmf_set_reason(a->reason,
                           "the endpoint did not offer SRTP profile 0x%04X, which the members "
                           "of its conference use",
                           (unsigned)a->required_profile);
        else if (ci)
            kmf_set_reason(a->reason, "DTLS %s: %s", perc_dtls_reason_name(ci->reason), ci->detail);
        else
            kmf_set_reason(a->reason, "ended");
    }

    /* RFC 9185 §5.4: whoever ended it, the Media Distributor hears of it,
     * on every open connection that knows the association. */
    bool sent = false;
    for (size_t i = 0; i < k->tunnels.n; i++)
        sent = disconnect_on(a, k->tunnels.items[i]) || sent;
    if (!sent && !a->quiet && !a->tunnel && a->md_name) {
        kmf_tunnel *t = kmf_tunnel_find_open_named(k, a->md_name);
        if (t && perc_tunnel_kd_adopt(t->kd, &a->id) == PERC_OK)
            sent = disconnect_on(a, t);
        if (!sent) {
            kmf_tunnel_owe(k, &a->id, a->md_name);
            sent = true;
        }
    }
    if (!sent && !a->quiet)
        kmf_log(k, PERC_KMF_LOG_WARNING,
                "EndpointDisconnect for association %s could not be sent: no open connection "
                "knows it",
                a->id_text);

    kmf_part *p = a->part;
    if (!a->connected) {
        kmf_log(k, PERC_KMF_LOG_WARNING, "association %s refused%s%s%s%s%s: %s", a->id_text,
                p ? " ('" : "", p ? p->identity : "", p ? "' in conference '" : "",
                p ? p->conf->id : "", p ? "')" : "", a->reason);
        if (p)
            kmf_log(k, PERC_KMF_LOG_DEBUG, "('%s' keeps its announcement)", p->identity);
        refused_event(k, a, &a->id, a->tunnel ? a->tunnel->conn_id : 0, a->reason);
    } else {
        kmf_log(k, PERC_KMF_LOG_INFO, "association %s of '%s' in conference '%s' ended: %s",
                a->id_text, p ? p->identity : "?", p ? p->conf->id : "?", a->reason);
        perc_kmf_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = PERC_KMF_EV_ASSOCIATION_ENDED;
        if (p) {
            ev.conference = p->conf->id;
            ev.identity = p->identity;
        }
        ev.has_association = true;
        ev.association_id = a->id;
        ev.conn_id = a->tunnel ? a->tunnel->conn_id : 0;
        ev.profile = a->profile;
        ev.reason = a->reason;
        kmf_emit(k, &ev);
    }

    if (p) {
        p->assoc = NULL;
        /* a refused handshake leaves the announcement waiting again */
        kmf_part_set_waiting(k, p, !p->admitted && !p->gone);
        if (a->connected || p->leaving) {
            /* It held the EKTKey: RFC 8871 §4.5.2, re-key the others. */
            kmf_conf *c = p->conf;
            if (a->connected && !c->ending && !c->rekey_wanted) {
                c->rekey_wanted = true;
                snprintf(c->rekey_why, sizeof c->rekey_why, "'%s' left", p->identity);
            }
            kmf_part_drop(k, p, a->reason, true, a);
        }
        /* else: a refused or failed handshake keeps the announcement */
    }
    a->part = NULL;
    a->finished = true;
}

void kmf_assoc_free(kmf_assoc *a)
{
    if (!a)
        return;
    if (a->part && a->part->assoc == a) {
        a->part->assoc = NULL;
        kmf_part_set_waiting(a->k, a->part, !a->part->admitted && !a->part->gone);
    }
    perc_dtls_free(a->dtls);
    free(a->md_name);
    perc_wipe(a, sizeof *a);
    free(a);
}

void kmf_assoc_orphan(kmf_assoc *a)
{
    perc_kmf *k = a->k;
    kmf_assoc_touch(a);
    a->tunnel = NULL;
    a->orphan_deadline = k->now + k->cfg.tunnel_grace_ns;
}

/* ---- timers ------------------------------------------------------------- */

void kmf_assoc_timers(kmf_assoc *a, uint64_t now)
{
    perc_kmf *k = a->k;
    if (!kmf_assoc_live(a))
        return;
    if (now >= perc_dtls_next_timeout(a->dtls)) {
        int rc = perc_dtls_on_timeout(a->dtls, now); /* a failure shows in its state */
        (void)rc;
    }
    if (!a->tunnel && now >= a->orphan_deadline)
        kmf_assoc_end(a, false,
                      "no tunnel connection carried it within %llu ms after its own closed",
                      (unsigned long long)(k->cfg.tunnel_grace_ns / 1000000u));
    else if (!a->connected && now >= a->handshake_deadline)
        kmf_assoc_end(a, false, "DTLS handshake not completed within %llu ms",
                      (unsigned long long)(k->cfg.handshake_timeout_ns / 1000000u));
}

uint64_t kmf_assoc_next_timeout(const kmf_assoc *a)
{
    if (!kmf_assoc_live(a))
        return UINT64_MAX;
    uint64_t t = perc_dtls_next_timeout(a->dtls);
    if (!a->tunnel && a->orphan_deadline < t)
        t = a->orphan_deadline;
    if (!a->connected && a->handshake_deadline < t)
        t = a->handshake_deadline;
    return t;
}
