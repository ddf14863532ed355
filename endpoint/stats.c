/* perc-endpoint's statistics: the roster signaling gives (`joined`, `left`),
 * our own checks of every verified frame's synthetic payload, and the
 * core's per-SSRC counters (received, verified, lost, rejected by reason),
 * grouped per remote participant for the progress line, the summary table
 * and the --stats JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "endpoint.h"
#include "perc/synth_payload.h"

/* ---- bookkeeping ------------------------------------------------------------- */

ep_roster_entry *ep_stats_roster_find(ep_stats *st, const char *participant)
{
    if (!participant)
        return NULL;
    for (size_t i = 0; i < st->n_roster; i++)
        if (strcmp(st->roster[i].participant, participant) == 0)
            return &st->roster[i];
    return NULL;
}

ep_roster_entry *ep_stats_roster_by_ssrc(ep_stats *st, uint32_t ssrc)
{
    for (size_t i = 0; i < st->n_roster; i++)
        for (size_t j = 0; j < st->roster[i].n_ssrcs; j++)
            if (st->roster[i].ssrcs[j] == ssrc)
                return &st->roster[i];
    return NULL;
}

ep_roster_entry *ep_stats_roster_add(ep_stats *st, const perc_sig_msg *m, uint64_t now)
{
    ep_roster_entry *r = ep_stats_roster_find(st, m->participant);
    /* Someone who joined again (after an MDD restart, say) is the same
     * person with the same streams: identities are unique in a conference
     * (docs/signaling.md §4.2), so one entry, with the new participant id. */
    for (size_t i = 0; !r && i < st->n_roster; i++)
        if (strcmp(st->roster[i].identity, m->identity) == 0) {
            r = &st->roster[i];
            g_strlcpy(r->participant, m->participant, sizeof r->participant);
        }
    if (!r) {
        if (st->n_roster == EP_MAX_ROSTER)
            return NULL;
        r = &st->roster[st->n_roster++];
        memset(r, 0, sizeof *r);
        g_strlcpy(r->participant, m->participant, sizeof r->participant);
        r->joined_ns = now;
    }
    g_strlcpy(r->identity, m->identity, sizeof r->identity);
    r->left = false;
    r->n_ssrcs = 0;
    for (size_t i = 0; i < m->ssrc_count && i < PERC_SIG_MAX_SSRCS; i++) {
        r->ssrcs[r->n_ssrcs] = m->ssrcs[i].ssrc;
        r->ssrc_video[r->n_ssrcs] = m->ssrcs[i].kind == PERC_SDP_VIDEO;
        r->n_ssrcs++;
    }
    return r;
}

ep_remote_track *ep_stats_track(ep_stats *st, uint32_t ssrc)
{
    for (size_t i = 0; i < st->n_tracks; i++)
        if (st->tracks[i].ssrc == ssrc)
            return &st->tracks[i];
    if (st->n_tracks == EP_MAX_REMOTE_SSRCS)
        return NULL;
    ep_remote_track *t = &st->tracks[st->n_tracks++];
    memset(t, 0, sizeof *t);
    t->ssrc = ssrc;
    return t;
}

void ep_stats_add_spi(uint16_t *spis, size_t *n, uint16_t spi)
{
    for (size_t i = 0; i < *n; i++)
        if (spis[i] == spi)
            return;
    if (*n < EP_MAX_SPIS)
        spis[(*n)++] = spi;
}

static uint64_t sum_rejected(const perc_participant_remote_stats *rs)
{
    uint64_t n = 0;
    for (size_t i = 0; i < PERC_PARTICIPANT_REJECT_COUNT; i++)
        n += rs->rejected[i];
    return n;
}

/* ---- when each remote key was first used (for bench/macro_latency.sh) ---------- */

/* Per (local session, remote SSRC): for each SPI its keys came under, the
 * CLOCK_MONOTONIC time of the first verified frame while the newest key
 * of that sender had that SPI (first_seen: the key had arrived) and of the
 * first frame opened with that key (first_used: the sender had switched
 * to it after its key-change delay). With the KMF's log line of a leave
 * this gives the re-key latency. Kept here rather than in ep_remote_track
 * so only this file changes; a lookup per verified frame. */
#define KT_MAX_SPIS 64
typedef struct key_times {
    uint16_t spi[KT_MAX_SPIS];
    uint64_t first_seen_ns[KT_MAX_SPIS];
    uint64_t first_used_ns[KT_MAX_SPIS];
    size_t n;
} key_times;

static GHashTable *g_key_times; /* "session-pointer/ssrc" -> key_times */

static key_times *key_times_get(const ep_session *s, uint32_t ssrc, bool create)
{
    char k[48];
    g_snprintf(k, sizeof k, "%p/%08x", (const void *)s, ssrc);
    if (!g_key_times) {
        if (!create)
            return NULL;
        g_key_times = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    key_times *kt = g_hash_table_lookup(g_key_times, k);
    if (!kt && create) {
        kt = g_new0(key_times, 1);
        g_hash_table_insert(g_key_times, g_strdup(k), kt);
    }
    return kt;
}

static void key_times_on_frame(ep_session *s, const perc_participant_frame *f, uint64_t at)
{
    perc_participant_remote_stats rs;
    if (!s->p || perc_participant_remote_stats_get(s->p, f->ssrc, &rs) != PERC_OK || !rs.has_key)
        return;
    key_times *kt = key_times_get(s, f->ssrc, true);
    size_t i = 0;
    while (i < kt->n && kt->spi[i] != rs.spi)
        i++;
    if (i == kt->n) {
        if (kt->n == KT_MAX_SPIS)
            return;
        kt->spi[kt->n++] = rs.spi;
        kt->first_seen_ns[i] = at;
    }
    /* Not opened with the previous key: opened with the newest (rs.spi).
     * Frames are popped right after the datagram that made them, so the
     * newest key is still the one that was used. */
    if (!f->previous_key && !kt->first_used_ns[i])
        kt->first_used_ns[i] = at;
}

void ep_stats_on_frame(ep_session *s, const perc_participant_frame *f)
{
    ep_remote_track *t = ep_stats_track(&s->stats, f->ssrc);
    if (!t)
        return;
    t->frames++;
    if (!t->first_verified_ns) {
        t->first_verified_ns = f->received_ns ? f->received_ns : perc_clock_now_ns();
        perc_participant_remote_stats rs;
        if (perc_participant_remote_stats_get(s->p, f->ssrc, &rs) == PERC_OK)
            t->rejected_while_joining = sum_rejected(&rs);
        ep_roster_entry *r = ep_stats_roster_by_ssrc(&s->stats, f->ssrc);
        perc_log_info("%s: first verified packet from SSRC %08x (%s) %.0f ms after our join",
                      s->name, f->ssrc, r ? r->identity : "not in the roster yet",
                      s->join_ns && t->first_verified_ns > s->join_ns
                          ? (double)(t->first_verified_ns - s->join_ns) / 1e6
                          : 0.0);
    }
    key_times_on_frame(s, f, f->received_ns ? f->received_ns : perc_clock_now_ns());
    /* Real audio (--audio-in at the sender) is Opus, not a synthetic
     * payload: audio_rx.c decodes and counts it. */
    if (ep_audio_rx_on_frame(s, t, f))
        return;
    perc_synth_payload sp;
    perc_synth_status why = PERC_SYNTH_OK;
    int rc = perc_synth_decode(f->payload, f->payload_len, &sp, &why);
    /* The sender puts its SSRC in the payload (media_source.c): a payload
     * on another SSRC's stream was misrouted or spliced. */
    if (rc != PERC_OK || sp.sender_id != f->ssrc || sp.rtp_ts != f->timestamp) {
        t->payload_bad++;
        perc_log_limited(&s->lim_payload, PERC_LOG_WARN,
                         "%s: SSRC %08x: a verified packet whose synthetic payload is wrong (%s)",
                         s->name, f->ssrc,
                         rc != PERC_OK              ? perc_synth_status_name(why)
                         : sp.sender_id != f->ssrc ? "sent for another SSRC"
                                                    : "RTP timestamp differs");
        return;
    }
    if (t->have_seq && sp.seq <= t->last_seq) {
        t->out_of_order++;
    } else {
        t->last_seq = sp.seq;
        t->have_seq = true;
    }
    t->payload_ok++;
}

/* ---- per remote participant ------------------------------------------------------ */

typedef struct agg {
    const ep_roster_entry *r;   /* NULL: an SSRC no roster entry names */
    uint32_t ssrc;              /* for r == NULL */
    uint64_t received, verified, lost, late;
    uint64_t rejected[PERC_PARTICIPANT_REJECT_COUNT];
    uint64_t rejected_total, rejected_while_joining;
    uint64_t payload_ok, payload_bad, out_of_order;
    uint64_t first_verified_ns; /* earliest over its SSRCs */
    uint16_t spis[EP_MAX_SPIS];
    size_t n_spis;
} agg;

static void agg_add_ssrc(const ep_session *s, agg *a, uint32_t ssrc)
{
    perc_participant_remote_stats rs;
    if (s->p && perc_participant_remote_stats_get(s->p, ssrc, &rs) == PERC_OK) {
        a->received += rs.received;
        a->verified += rs.verified;
        a->lost += rs.lost;
        a->late += rs.late;
        for (size_t i = 0; i < PERC_PARTICIPANT_REJECT_COUNT; i++) {
            a->rejected[i] += rs.rejected[i];
            a->rejected_total += rs.rejected[i];
        }
    }
    for (size_t i = 0; i < s->stats.n_tracks; i++) {
        const ep_remote_track *t = &s->stats.tracks[i];
        if (t->ssrc != ssrc)
            continue;
        a->payload_ok += t->payload_ok;
        a->payload_bad += t->payload_bad;
        a->out_of_order += t->out_of_order;
        a->rejected_while_joining += t->rejected_while_joining;
        if (t->first_verified_ns &&
            (!a->first_verified_ns || t->first_verified_ns < a->first_verified_ns))
            a->first_verified_ns = t->first_verified_ns;
        for (size_t k = 0; k < t->n_spis; k++)
            ep_stats_add_spi(a->spis, &a->n_spis, t->spis[k]);
    }
}

/* Fills up to cap groups: one per roster entry, then one per SSRC the core
 * saw that no entry names. Returns how many. */
static size_t aggregate(const ep_session *s, agg *out, size_t cap)
{
    size_t n = 0;
    const ep_stats *st = &s->stats;
    for (size_t i = 0; i < st->n_roster && n < cap; i++) {
        agg *a = &out[n++];
        memset(a, 0, sizeof *a);
        a->r = &st->roster[i];
        for (size_t j = 0; j < a->r->n_ssrcs; j++)
            agg_add_ssrc(s, a, a->r->ssrcs[j]);
    }
    if (!s->p)
        return n;
    uint32_t ssrcs[EP_MAX_REMOTE_SSRCS];
    size_t ns = perc_participant_remote_ssrcs(s->p, ssrcs, EP_MAX_REMOTE_SSRCS);
    if (ns > EP_MAX_REMOTE_SSRCS)
        ns = EP_MAX_REMOTE_SSRCS;
    for (size_t i = 0; i < ns && n < cap; i++) {
        bool named = false;
        for (size_t r = 0; r < st->n_roster && !named; r++)
            for (size_t j = 0; j < st->roster[r].n_ssrcs; j++)
                named |= st->roster[r].ssrcs[j] == ssrcs[i];
        if (named)
            continue;
        agg *a = &out[n++];
        memset(a, 0, sizeof *a);
        a->ssrc = ssrcs[i];
        agg_add_ssrc(s, a, ssrcs[i]);
    }
    return n;
}

static const char *agg_name(const agg *a, char *buf, size_t cap)
{
    if (a->r)
        return a->r->identity;
    g_snprintf(buf, cap, "SSRC %08x", a->ssrc);
    return buf;
}

static uint64_t packets_sent(const ep_session *s)
{
    uint64_t n = 0;
    perc_participant_send_stats ss;
    if (s->p && perc_participant_send_stats_get(s->p, s->audio_ssrc, &ss) == PERC_OK)
        n += ss.packets;
    if (s->p && s->video_ssrc &&
        perc_participant_send_stats_get(s->p, s->video_ssrc, &ss) == PERC_OK)
        n += ss.packets;
    return n;
}

#define MAX_AGG (EP_MAX_ROSTER + EP_MAX_REMOTE_SSRCS)

void ep_stats_progress_line(const ep_session *s, char *out, size_t cap)
{
    static agg a[MAX_AGG];
    size_t n = aggregate(s, a, MAX_AGG);
    size_t used = (size_t)g_snprintf(out, cap, "%s [%s] sent %" PRIu64, s->name,
                                     ep_session_state_name(s->state), packets_sent(s));
    for (size_t i = 0; i < n && used < cap; i++) {
        char nb[32];
        used += (size_t)g_snprintf(out + used, cap - used, " | %s %" PRIu64 "/%" PRIu64 "%s",
                                   agg_name(&a[i], nb, sizeof nb), a[i].verified, a[i].received,
                                   a[i].rejected_total ? " (rejections)" : "");
    }
}

size_t ep_stats_unverified(const ep_session *s)
{
    static agg a[MAX_AGG];
    size_t n = aggregate(s, a, MAX_AGG);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i].received == 0 || a[i].verified > 0)
            continue;
        char nb[32], reasons[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < PERC_PARTICIPANT_REJECT_COUNT && used < sizeof reasons; k++)
            if (a[i].rejected[k])
                used += (size_t)g_snprintf(reasons + used, sizeof reasons - used, " %s=%" PRIu64,
                                           perc_participant_reject_name((perc_participant_reject)k),
                                           a[i].rejected[k]);
        perc_log_error("%s: nothing verified from %s%s%s%s: %" PRIu64
                       " packet(s) received, rejected:%s",
                       s->name, agg_name(&a[i], nb, sizeof nb), a[i].r ? " (" : "",
                       a[i].r ? a[i].r->participant : "", a[i].r ? ")" : "", a[i].received,
                       used ? reasons : " none");
        bad++;
    }
    return bad;
}

/* ---- summary table ------------------------------------------------------------------ */

static double ms_since(uint64_t from, uint64_t to)
{
    return from && to > from ? (double)(to - from) / 1e6 : -1.0;
}

void ep_stats_print_summary(ep_app *app)
{
    static agg a[MAX_AGG];
    double secs = (double)(app->stop_ns - app->start_ns) / 1e9;
    printf("\nperc-endpoint summary: conference %s, %.1f s\n", app->opt.conference, secs);
    printf("%-20s %-24s %9s %9s %7s %8s %9s  %s\n", "participant", "remote", "received",
           "verified", "lost", "rejected", "first ms", "rejected by reason");
    for (size_t i = 0; i < app->n_sessions; i++) {
        const ep_session *s = &app->sessions[i];
        size_t n = aggregate(s, a, MAX_AGG);
        char local[64];
        g_snprintf(local, sizeof local, "%s", s->name);
        if (s->state == EP_SESS_FAILED) {
            printf("%-20s failed: %s\n", local, s->error);
            continue;
        }
        if (n == 0)
            printf("%-20s %-24s (sent %" PRIu64 ")\n", local, "nobody else", packets_sent(s));
        for (size_t k = 0; k < n; k++) {
            char nb[32], remote[80], reasons[256] = "";
            g_snprintf(remote, sizeof remote, "%s%s", agg_name(&a[k], nb, sizeof nb),
                       a[k].r && a[k].r->left ? " (left)" : "");
            size_t used = 0;
            for (size_t r = 0; r < PERC_PARTICIPANT_REJECT_COUNT && used < sizeof reasons; r++)
                if (a[k].rejected[r])
                    used += (size_t)g_snprintf(reasons + used, sizeof reasons - used, "%s=%" PRIu64 " ",
                                               perc_participant_reject_name((perc_participant_reject)r),
                                               a[k].rejected[r]);
            printf("%-20s %-24s %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %8" PRIu64 " %9.0f  %s\n",
                   k == 0 ? local : "", remote, a[k].received, a[k].verified, a[k].lost,
                   a[k].rejected_total, ms_since(s->join_ns, a[k].first_verified_ns),
                   used ? reasons : "-");
        }
    }
    fflush(stdout);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static cJSON *spi_array(const uint16_t *spis, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(spis[i]));
    return arr;
}

static void add_ms(cJSON *o, const char *name, uint64_t from, uint64_t to)
{
    if (from && to >= from)
        cJSON_AddNumberToObject(o, name, (double)(to - from) / 1e6);
    else
        cJSON_AddNullToObject(o, name);
}

static cJSON *sent_json(const ep_session *s, uint32_t ssrc, const char *kind)
{
    perc_participant_send_stats ss;
    memset(&ss, 0, sizeof ss);
    if (s->p && perc_participant_send_stats_get(s->p, ssrc, &ss) != PERC_OK)
        memset(&ss, 0, sizeof ss);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "ssrc", ssrc);
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddNumberToObject(o, "packets", (double)ss.packets);
    cJSON_AddNumberToObject(o, "octets", (double)ss.octets);
    cJSON_AddNumberToObject(o, "full_ekt_fields", (double)ss.full_fields);
    cJSON_AddNumberToObject(o, "keys", (double)ss.keys);
    cJSON_AddNumberToObject(o, "old_key_packets", (double)ss.old_key_packets);
    cJSON_AddNumberToObject(o, "keyframe_requests", (double)ss.keyframe_requests);
    return o;
}

/* "keys": per SSRC of the remote and per SPI, when its key was first seen
 * and first used (CLOCK_MONOTONIC ns, the clock of the daemons' logs). */
static void add_key_times(cJSON *arr, const ep_session *s, uint32_t ssrc)
{
    const key_times *kt = key_times_get(s, ssrc, false);
    for (size_t i = 0; kt && i < kt->n; i++) {
        cJSON *k = cJSON_CreateObject();
        cJSON_AddNumberToObject(k, "ssrc", ssrc);
        cJSON_AddNumberToObject(k, "spi", kt->spi[i]);
        cJSON_AddNumberToObject(k, "first_seen_monotonic_ns", (double)kt->first_seen_ns[i]);
        if (kt->first_used_ns[i])
            cJSON_AddNumberToObject(k, "first_used_monotonic_ns", (double)kt->first_used_ns[i]);
        else
            cJSON_AddNullToObject(k, "first_used_monotonic_ns");
        cJSON_AddItemToArray(arr, k);
    }
}

static cJSON *session_json(const ep_session *s)
{
    static agg a[MAX_AGG];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "participant", s->participant);
    cJSON_AddStringToObject(o, "mdd", s->mdd);
    cJSON_AddStringToObject(o, "state", ep_session_state_name(s->state));
    cJSON_AddNumberToObject(o, "exit_code", s->state == EP_SESS_FAILED ? s->exit_code : 0);
    if (s->error[0])
        cJSON_AddStringToObject(o, "error", s->error);
    cJSON_AddStringToObject(o, "fingerprint", s->fingerprint_text);
    cJSON_AddStringToObject(o, "kmf_fingerprint", s->kmf_fingerprint_text);
    cJSON_AddNumberToObject(o, "profile", s->profile);
    add_ms(o, "join_to_answer_ms", s->join_ns, s->answer_ns);
    add_ms(o, "join_to_ice_ms", s->join_ns, s->ice_ns);
    add_ms(o, "join_to_dtls_ms", s->join_ns, s->connected_ns);
    add_ms(o, "join_to_keyed_ms", s->join_ns, s->ready_ns);
    /* Absolute CLOCK_MONOTONIC times, comparable across processes (0: not reached). */
    cJSON_AddNumberToObject(o, "start_monotonic_ns", (double)s->start_ns);
    cJSON_AddNumberToObject(o, "join_monotonic_ns", (double)s->join_ns);
    cJSON_AddNumberToObject(o, "keyed_monotonic_ns", (double)s->ready_ns);
    cJSON_AddItemToObject(o, "ekt_spis", spi_array(s->stats.ekt_spis, s->stats.n_ekt_spis));
    cJSON_AddNumberToObject(o, "ekt_keys", (double)s->stats.ekt_keys);
    cJSON_AddNumberToObject(o, "sent_packets", (double)packets_sent(s));
    cJSON *sent = cJSON_AddArrayToObject(o, "sent");
    cJSON *sent_audio = sent_json(s, s->audio_ssrc, "audio");
    cJSON_AddStringToObject(sent_audio, "payload", s->media.opus ? "opus" : "synthetic");
    cJSON_AddItemToArray(sent, sent_audio);
    if (s->video_ssrc)
        cJSON_AddItemToArray(sent, sent_json(s, s->video_ssrc, "video"));
    cJSON_AddNumberToObject(o, "send_errors", (double)s->stats.send_errors);
    cJSON_AddNumberToObject(o, "rejoins", (double)s->stats.rejoins);

    size_t n = aggregate(s, a, MAX_AGG);
    cJSON *remotes = cJSON_AddArrayToObject(o, "remotes");
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        if (a[i].r) {
            cJSON_AddStringToObject(r, "participant", a[i].r->participant);
            cJSON_AddStringToObject(r, "identity", a[i].r->identity);
            cJSON_AddBoolToObject(r, "left", a[i].r->left);
            cJSON *ss = cJSON_AddArrayToObject(r, "ssrcs");
            for (size_t k = 0; k < a[i].r->n_ssrcs; k++)
                cJSON_AddItemToArray(ss, cJSON_CreateNumber(a[i].r->ssrcs[k]));
        } else {
            cJSON_AddNullToObject(r, "participant");
            cJSON_AddNullToObject(r, "identity");
            cJSON *ss = cJSON_AddArrayToObject(r, "ssrcs");
            cJSON_AddItemToArray(ss, cJSON_CreateNumber(a[i].ssrc));
        }
        cJSON_AddNumberToObject(r, "received", (double)a[i].received);
        cJSON_AddNumberToObject(r, "verified", (double)a[i].verified);
        cJSON_AddNumberToObject(r, "payload_ok", (double)a[i].payload_ok);
        cJSON_AddNumberToObject(r, "payload_bad", (double)a[i].payload_bad);
        cJSON_AddNumberToObject(r, "out_of_order", (double)a[i].out_of_order);
        cJSON_AddNumberToObject(r, "lost", (double)a[i].lost);
        cJSON_AddNumberToObject(r, "late", (double)a[i].late);
        cJSON_AddNumberToObject(r, "rejected_total", (double)a[i].rejected_total);
        cJSON_AddNumberToObject(r, "rejected_while_joining", (double)a[i].rejected_while_joining);
        cJSON *rej = cJSON_AddObjectToObject(r, "rejected");
        for (size_t k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
            cJSON_AddNumberToObject(rej, perc_participant_reject_name((perc_participant_reject)k),
                                    (double)a[i].rejected[k]);
        cJSON_AddItemToObject(r, "spis", spi_array(a[i].spis, a[i].n_spis));
        add_ms(r, "join_to_first_verified_ms", s->join_ns, a[i].first_verified_ns);
        ep_audio_rx_json(s, a[i].r ? a[i].r->ssrcs : &a[i].ssrc, a[i].r ? a[i].r->n_ssrcs : 1, r);
        cJSON_AddNumberToObject(r, "first_verified_monotonic_ns", (double)a[i].first_verified_ns);
        cJSON *keys = cJSON_AddArrayToObject(r, "keys");
        if (a[i].r)
            for (size_t k = 0; k < a[i].r->n_ssrcs; k++)
                add_key_times(keys, s, a[i].r->ssrcs[k]);
        else
            add_key_times(keys, s, a[i].ssrc);
        cJSON_AddItemToArray(remotes, r);
    }

    perc_participant_stats ps;
    memset(&ps, 0, sizeof ps);
    if (s->p)
        perc_participant_get_stats(s->p, &ps);
    cJSON *t = cJSON_AddObjectToObject(o, "totals");
    cJSON_AddNumberToObject(t, "datagrams_in", (double)ps.datagrams_in);
    cJSON_AddNumberToObject(t, "datagrams_out", (double)ps.datagrams_out);
    cJSON_AddNumberToObject(t, "rtp_in", (double)ps.rtp_in);
    cJSON_AddNumberToObject(t, "rtcp_in", (double)ps.rtcp_in);
    cJSON_AddNumberToObject(t, "dtls_in", (double)ps.dtls_in);
    cJSON_AddNumberToObject(t, "other_in", (double)(ps.other_in + s->stats.garbage_in));
    cJSON_AddNumberToObject(t, "verified", (double)ps.verified);
    cJSON_AddNumberToObject(t, "rtp_sent", (double)ps.rtp_sent);
    cJSON_AddNumberToObject(t, "rtcp_sent", (double)ps.rtcp_sent);
    cJSON_AddNumberToObject(t, "rtcp_rejected", (double)ps.rtcp_rejected);
    cJSON_AddNumberToObject(t, "frames_dropped", (double)ps.frames_dropped);
    cJSON_AddNumberToObject(t, "after_close", (double)ps.after_close);
    cJSON_AddNumberToObject(t, "ice_send_failures", (double)s->stats.ice_send_failures);
    cJSON *rej = cJSON_AddObjectToObject(t, "rejected");
    for (size_t k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
        cJSON_AddNumberToObject(rej, perc_participant_reject_name((perc_participant_reject)k),
                                (double)ps.rejected[k]);
    return o;
}

bool ep_stats_write_json(ep_app *app, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "program", "perc-endpoint");
    cJSON_AddStringToObject(root, "conference", app->opt.conference);
    cJSON_AddNumberToObject(root, "duration_s", (double)(app->stop_ns - app->start_ns) / 1e9);
    cJSON_AddNumberToObject(root, "media_start_monotonic_ns", (double)app->start_ns);
    cJSON_AddNumberToObject(root, "stop_monotonic_ns", (double)app->stop_ns);
    cJSON *arr = cJSON_AddArrayToObject(root, "participants");
    for (size_t i = 0; i < app->n_sessions; i++)
        cJSON_AddItemToArray(arr, session_json(&app->sessions[i]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        perc_log_error("--stats: out of memory");
        return false;
    }
    GError *err = NULL;
    bool ok = g_file_set_contents(path, text, -1, &err);
    cJSON_free(text);
    if (!ok) {
        perc_log_error("--stats: %s", err->message);
        g_error_free(err);
    }
    return ok;
}
