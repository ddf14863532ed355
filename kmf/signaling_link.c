/* The link to perc-signaling (docs/signaling.md §3, §4.3): a WebSocket
 * client that says hello as role "kmf" (name, shared daemon token, our DTLS
 * fingerprint), answers `participant` with `admit` or `refuse` from
 * perc_kmf_announce, turns `participant-left` into perc_kmf_leave, and
 * sends `keyed` (the core's ADMITTED event) and `epoch` (REKEYED:
 * conference, SPI, member count; never a key). It reconnects by itself;
 * the core keeps its state across reconnections.
 *
 * Signaling names participants by id, the core by (conference, identity,
 * tls-id): this file keeps the mapping. */
#include <stdio.h>
#include <string.h>

#include "kmfd.h"
#include "perc/dtls.h"
#include "perc/signaling.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

typedef struct sl_participant {
    char *conference;
    char *participant;
    char *identity;
    char *tls_id;               /* the endpoint's, from its SDP */
} sl_participant;

struct kmf_siglink {
    kmfd *d;
    perc_ws_client *cli;
    char *token;
    char *name;
    bool welcomed;
    unsigned hello_seq;
    GHashTable *by_participant; /* "conf\x1fparticipant" -> sl_participant* (owned) */
    GHashTable *by_identity;    /* "conf\x1fidentity" -> sl_participant* (borrowed) */
};

static char *key2(const char *a, const char *b) { return g_strdup_printf("%s\x1f%s", a, b); }

static void participant_free(gpointer p)
{
    sl_participant *x = p;
    g_free(x->conference);
    g_free(x->participant);
    g_free(x->identity);
    g_free(x->tls_id);
    g_free(x);
}

static void forget(kmf_siglink *l, sl_participant *p)
{
    char *ki = key2(p->conference, p->identity);
    if (g_hash_table_lookup(l->by_identity, ki) == p)
        g_hash_table_remove(l->by_identity, ki);
    g_free(ki);
    char *kp = key2(p->conference, p->participant);
    g_hash_table_remove(l->by_participant, kp); /* frees p */
    g_free(kp);
}

static void send_msg(kmf_siglink *l, const perc_sig_msg *m)
{
    static char buf[PERC_SIG_MAX_MESSAGE + 1];
    size_t len = 0;
    perc_sig_error err;
    int rc = perc_sig_encode(m, buf, sizeof buf, &len, &err);
    if (rc != PERC_OK) {
        char why[256];
        perc_sig_error_text(&err, why, sizeof why);
        perc_log_error("signaling: cannot encode %s: %s", perc_sig_type_name(m->type), why);
        return;
    }
    if (!perc_ws_client_is_open(l->cli)) {
        perc_log_warn("signaling: not connected; %s not sent", perc_sig_type_name(m->type));
        return;
    }
    GError *e = NULL;
    if (!perc_ws_client_send(l->cli, buf, len, &e)) {
        perc_log_warn("signaling: %s not sent: %s", perc_sig_type_name(m->type), e->message);
        g_error_free(e);
        return;
    }
    perc_log_debug("signaling: sent %s", perc_sig_type_name(m->type));
}

static void send_error(kmf_siglink *l, const char *re, perc_sig_code code, const char *reason,
                       const char *field)
{
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_ERROR;
    m.re = (re && re[0]) ? re : NULL;
    m.code = code;
    m.reason = reason;
    m.field = (field && field[0]) ? field : NULL;
    send_msg(l, &m);
}

static void fingerprint_text(const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], char *out, size_t cap)
{
    char hex[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    if (perc_dtls_fingerprint_format(fp, hex, sizeof hex) != PERC_OK)
        hex[0] = '\0';
    g_snprintf(out, cap, "sha-256 %s", hex);
}

static void on_open(void *user, perc_ws_client *cli)
{
    (void)cli;
    kmf_siglink *l = user;
    perc_log_info("signaling: connected; saying hello as kmf %s", l->name);
    l->welcomed = false;
    char fp[16 + PERC_DTLS_FINGERPRINT_TEXT_LEN];
    fingerprint_text(l->d->fingerprint, fp, sizeof fp);
    char id[32];
    g_snprintf(id, sizeof id, "hello-%u", ++l->hello_seq);
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    m.type = PERC_SIG_HELLO;
    m.id = id;
    m.role = PERC_SIG_ROLE_KMF;
    m.name = l->name;
    m.token = l->token;
    m.fingerprint = fp;
    send_msg(l, &m);
}

static void on_participant(kmf_siglink *l, const perc_sig_msg *m)
{
    kmfd *d = l->d;
    perc_sdp_fingerprint sfp;
    perc_sig_msg r;
    perc_sig_msg_init(&r);
    r.re = m->id;
    if (perc_sig_fingerprint_parse(m->fingerprint, &sfp) != PERC_OK ||
        sfp.len != PERC_DTLS_FINGERPRINT_LEN) {
        send_error(l, m->id, PERC_SIG_E_BAD_MESSAGE, "not a sha-256 fingerprint", "fingerprint");
        return;
    }
    if (d->roster_confs && !g_hash_table_contains(d->roster_confs, m->conference)) {
        perc_log_warn("signaling: participant %s (%s) of conference %s refused: the conference "
                      "is not in the roster",
                      m->participant, m->identity, m->conference);
        r.type = PERC_SIG_REFUSE;
        r.reason = "conference not in the KMF's roster";
        send_msg(l, &r);
        return;
    }
    perc_kmf_answer ans;
    memset(&ans, 0, sizeof ans);
    int rc = perc_kmf_announce(d->kmf, m->conference, m->identity, sfp.value,
                               (const uint8_t *)m->tls_id, strlen(m->tls_id), perc_clock_now_ns(),
                               &ans);
    kmfd_after(d);
    if (rc != PERC_OK) {
        perc_log_warn("signaling: participant %s of conference %s: announce failed: %s",
                      m->participant, m->conference, perc_strerror(rc));
        send_error(l, m->id,
                   rc == PERC_ERR_INVALID_ARG ? PERC_SIG_E_BAD_MESSAGE : PERC_SIG_E_INTERNAL,
                   perc_strerror(rc), NULL);
        return;
    }
    if (!ans.allowed) {
        perc_log_info("signaling: participant %s (%s) of conference %s refused: %s",
                      m->participant, m->identity, m->conference, ans.reason);
        r.type = PERC_SIG_REFUSE;
        r.reason = ans.reason[0] ? ans.reason : "refused";
        send_msg(l, &r);
        return;
    }
    /* Remember who this is (replacing an earlier announcement of the same
     * participant id). */
    char *kp = key2(m->conference, m->participant);
    sl_participant *old = g_hash_table_lookup(l->by_participant, kp);
    if (old)
        forget(l, old);
    sl_participant *p = g_new0(sl_participant, 1);
    p->conference = g_strdup(m->conference);
    p->participant = g_strdup(m->participant);
    p->identity = g_strdup(m->identity);
    p->tls_id = g_strdup(m->tls_id);
    g_hash_table_insert(l->by_participant, kp, p);
    g_hash_table_insert(l->by_identity, key2(p->conference, p->identity), p);

    char fp[16 + PERC_DTLS_FINGERPRINT_TEXT_LEN];
    fingerprint_text(ans.fingerprint, fp, sizeof fp);
    char tls_id[PERC_KMF_TLS_ID_LEN + 1];
    g_strlcpy(tls_id, ans.tls_id, sizeof tls_id);
    r.type = PERC_SIG_ADMIT;
    r.fingerprint = fp;
    r.tls_id = tls_id;
    perc_log_info("signaling: participant %s (%s) of conference %s announced", m->participant,
                  m->identity, m->conference);
    send_msg(l, &r);
}

static void on_participant_left(kmf_siglink *l, const perc_sig_msg *m)
{
    kmfd *d = l->d;
    char *kp = key2(m->conference, m->participant);
    sl_participant *p = g_hash_table_lookup(l->by_participant, kp);
    g_free(kp);
    if (!p) {
        perc_log_info("signaling: participant-left for %s of conference %s, whom we do not know "
                      "(%s)",
                      m->participant, m->conference, m->reason);
        return;
    }
    perc_log_info("signaling: participant %s (%s) of conference %s left: %s", p->participant,
                  p->identity, p->conference, m->reason);
    /* The core's LEFT event (from inside perc_kmf_leave) must not find p. */
    char *conf = g_strdup(p->conference), *ident = g_strdup(p->identity);
    char *tls_id = g_strdup(p->tls_id), *pid = g_strdup(p->participant);
    forget(l, p);
    int rc = perc_kmf_leave(d->kmf, conf, ident, (const uint8_t *)tls_id, strlen(tls_id),
                            perc_clock_now_ns());
    if (rc != PERC_OK && rc != PERC_ERR_NOT_FOUND)
        perc_log_warn("signaling: leave of %s: %s", pid, perc_strerror(rc));
    g_free(conf);
    g_free(ident);
    g_free(tls_id);
    g_free(pid);
    kmfd_after(d);
}

static void on_message(void *user, perc_ws_client *cli, const char *text, size_t len)
{
    (void)cli;
    kmf_siglink *l = user;
    perc_sig_msg m;
    perc_sig_error err;
    memset(&err, 0, sizeof err);
    int rc = perc_sig_decode(text, len, &m, &err);
    if (rc != PERC_OK) {
        char why[256];
        perc_sig_error_text(&err, why, sizeof why);
        perc_log_warn("signaling: bad message (%zu bytes): %s", len, why);
        if (err.type != PERC_SIG_ERROR) /* never an error in reply to an error */
            send_error(l, err.id, err.code ? err.code : PERC_SIG_E_BAD_MESSAGE, why,
                       err.field);
        return;
    }
    if (!l->welcomed && m.type != PERC_SIG_WELCOME && m.type != PERC_SIG_ERROR) {
        perc_log_warn("signaling: %s before welcome ignored", perc_sig_type_name(m.type));
        perc_sig_msg_clear(&m);
        return;
    }
    switch (m.type) {
    case PERC_SIG_WELCOME:
        l->welcomed = true;
        perc_log_info("signaling: welcome (session %s)", m.session);
        break;
    case PERC_SIG_ERROR:
        perc_log_warn("signaling: error %s%s%s: %s", perc_sig_code_name(m.code),
                      m.re ? " in reply to " : "", m.re ? m.re : "", m.reason);
        if (m.code == PERC_SIG_E_AUTH_FAILED)
            perc_log_error("signaling refused our token (auth-failed): check "
                           "--signaling-token");
        break;
    case PERC_SIG_PARTICIPANT:
        on_participant(l, &m);
        break;
    case PERC_SIG_PARTICIPANT_LEFT:
        on_participant_left(l, &m);
        break;
    default:
        perc_log_warn("signaling: unexpected %s ignored", perc_sig_type_name(m.type));
        if (perc_sig_type_kind(m.type) == PERC_SIG_KIND_REQUEST)
            send_error(l, m.id, PERC_SIG_E_FORBIDDEN, "not a request a KMF answers", NULL);
        break;
    }
    perc_sig_msg_clear(&m);
}

static void on_close(void *user, perc_ws_client *cli, int code, const char *reason)
{
    (void)cli;
    kmf_siglink *l = user;
    l->welcomed = false;
    perc_log_warn("signaling: connection ended (%d %s); reconnecting", code, reason);
}

static const perc_ws_client_callbacks cbs = {on_open, on_message, on_close};

void kmf_siglink_on_event(kmf_siglink *l, const perc_kmf_event *ev)
{
    if (!l)
        return;
    perc_sig_msg m;
    perc_sig_msg_init(&m);
    switch (ev->type) {
    case PERC_KMF_EV_ADMITTED: {
        if (!ev->conference || !ev->identity)
            return;
        char *ki = key2(ev->conference, ev->identity);
        sl_participant *p = g_hash_table_lookup(l->by_identity, ki);
        g_free(ki);
        if (!p) {
            perc_log_warn("admitted %s in %s, whom signaling did not name: no keyed sent",
                          ev->identity, ev->conference);
            return;
        }
        m.type = PERC_SIG_KEYED;
        m.conference = p->conference;
        m.participant = p->participant;
        send_msg(l, &m);
        return;
    }
    case PERC_KMF_EV_REKEYED: {
        if (!ev->conference)
            return;
        m.type = PERC_SIG_EPOCH;
        m.conference = ev->conference;
        m.spi = ev->spi;
        m.members = (uint32_t)ev->n_endpoints;
        send_msg(l, &m);
        return;
    }
    case PERC_KMF_EV_LEFT: {
        /* The core forgot the participant (its association ended, the MD
         * reported it gone, the roster dropped it...). docs/signaling.md has
         * no KMF -> signaling message for this; forget our mapping so a
         * later participant-left is a no-op. */
        if (!ev->conference || !ev->identity)
            return;
        char *ki = key2(ev->conference, ev->identity);
        sl_participant *p = g_hash_table_lookup(l->by_identity, ki);
        g_free(ki);
        if (p) {
            perc_log_info("participant %s (%s) of conference %s gone: %s", p->participant,
                          p->identity, p->conference, ev->reason ? ev->reason : "");
            forget(l, p);
        }
        return;
    }
    default:
        return;
    }
}

kmf_siglink *kmf_siglink_new(kmfd *d, const kmf_siglink_options *opts, GError **error)
{
    kmf_siglink *l = g_new0(kmf_siglink, 1);
    l->d = d;
    l->token = g_strdup(opts->token);
    l->name = g_strdup(opts->name);
    l->by_participant = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, participant_free);
    l->by_identity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    perc_ws_client_options o;
    memset(&o, 0, sizeof o);
    o.url = opts->url;
    o.subprotocol = PERC_SIG_SUBPROTOCOL;
    o.ca_file = opts->ca_file;
    o.max_message = PERC_SIG_MAX_MESSAGE;
    o.backoff_initial_ms = 250;
    o.backoff_max_ms = 10000;
    l->cli = perc_ws_client_new(d->ws, &o, &cbs, l, error);
    if (!l->cli) {
        kmf_siglink_free(l);
        return NULL;
    }
    perc_log_info("signaling: connecting to %s as kmf %s", opts->url, l->name);
    return l;
}

void kmf_siglink_free(kmf_siglink *l)
{
    if (!l)
        return;
    perc_ws_client_free(l->cli);
    g_hash_table_destroy(l->by_identity);
    g_hash_table_destroy(l->by_participant);
    if (l->token)
        memset(l->token, 0, strlen(l->token));
    g_free(l->token);
    g_free(l->name);
    g_free(l);
}
