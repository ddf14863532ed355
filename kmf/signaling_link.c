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
#include "perc_daemon/sigclient.h"

typedef struct sl_participant {
    char *conference;
    char *participant;
    char *identity;
    char *tls_id;               /* the endpoint's, from its SDP */
} sl_participant;

struct kmf_siglink {
    kmfd *d;
    perc_sigclient *cli;
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

static void send_msg(kmf_siglink *l, const perc_sig_msg *m) { (void)perc_sigclient_send(l->cli, m); }

static void send_error(kmf_siglink *l, const char *re, perc_sig_code code, const char *reason,
                       const char *field)
{
    (void)perc_sigclient_send_error(l->cli, re, code, reason, field);
}

static void fingerprint_text(const uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], char *out, size_t cap)
{
    char hex[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    if (perc_dtls_fingerprint_format(fp, hex, sizeof hex) != PERC_OK)
        hex[0] = '\0';
    g_snprintf(out, cap, "sha-256 %s", hex);
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

static bool on_message(void *user, perc_sigclient *c, const perc_sig_msg *m)
{
    (void)c;
    kmf_siglink *l = user;
    switch (m->type) {
    case PERC_SIG_ERROR:
        return true; /* logged by the client; we send no requests */
    case PERC_SIG_PARTICIPANT:
        on_participant(l, m);
        return true;
    case PERC_SIG_PARTICIPANT_LEFT:
        on_participant_left(l, m);
        return true;
    default:
        return false;
    }
}

static const perc_sigclient_callbacks cbs = {NULL, on_message, NULL};

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
    l->by_participant = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, participant_free);
    l->by_identity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char fp[16 + PERC_DTLS_FINGERPRINT_TEXT_LEN];
    fingerprint_text(d->fingerprint, fp, sizeof fp);
    perc_sig_msg hello;
    perc_sig_msg_init(&hello);
    hello.type = PERC_SIG_HELLO;
    hello.role = PERC_SIG_ROLE_KMF;
    hello.name = opts->name;
    hello.token = opts->token;
    hello.fingerprint = fp;
    perc_sigclient_options o = {.url = opts->url, .ca_file = opts->ca_file, .hello = &hello};
    l->cli = perc_sigclient_new(d->ws, &o, &cbs, l, error);
    if (!l->cli) {
        kmf_siglink_free(l);
        return NULL;
    }
    return l;
}

void kmf_siglink_free(kmf_siglink *l)
{
    if (!l)
        return;
    perc_sigclient_free(l->cli);
    g_hash_table_destroy(l->by_identity);
    g_hash_table_destroy(l->by_participant);
    g_free(l);
}
