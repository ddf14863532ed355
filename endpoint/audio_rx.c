/* Received real audio: per remote SSRC, an Opus decoder and (with --record
 * DIR) a WAV recording of what it decodes.
 *
 * Which streams are Opus: every sender uses the offer's opus payload type
 * (EP_AUDIO_PT), whether it sends the synthetic payload or a WAV encoded
 * with Opus (--audio-in). A stream is taken for synthetic when its first
 * verified payload starts with the synthetic magic and version
 * (perc/synth_payload.h), and for Opus otherwise; the decision sticks, so a
 * damaged synthetic payload later in the stream is still counted bad by the
 * synthetic check, and an Opus packet that does not decode is a decode
 * error. Both layers of PERC authenticated every payload before it gets
 * here, so for Opus streams "verified" keeps its meaning; the decoded and
 * failed counts say whether the content was usable audio.
 *
 * Timing: the RTP timestamp (48 kHz for Opus, RFC 7587 §4.1) places each
 * packet. A gap of up to one second (lost packets) is filled by the
 * decoder's loss concealment, so the recording keeps its length; a longer
 * gap (a sender that stalled or restarted) is not filled. A packet older
 * than the last one decoded (reordered or duplicated) is skipped: feeding
 * it to the decoder would corrupt its state (counted as late).
 *
 * Recordings: DIR/<identity>.wav, 48 kHz mono 16-bit, identity from the
 * roster when the stream's first packet arrives (else ssrc-XXXXXXXX),
 * reduced to A-Z a-z 0-9 . _ - (the name comes from signaling: it must not
 * choose the path); a second stream with the same name gets -XXXXXXXX (its
 * SSRC) appended. With several local participants (--participants),
 * each records under DIR/<its name>/. The header sizes are patched every
 * second and when the session ends. Synthetic streams are not recorded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <glib/gstdio.h>

#include "endpoint.h"
#include "perc/synth_payload.h"
#include "wav.h"

#define MAX_CONCEAL_TICKS 48000u   /* 1 s at 48 kHz */
#define PATCH_EVERY_FRAMES 50u     /* 1 s of 20 ms frames */

struct ep_audio_rx {
    ep_opus_rx *dec;
    bool have_ts;
    uint32_t next_ts;            /* RTP timestamp the next packet should carry */
    ep_wav_writer wav;
    bool record_failed;          /* opening or writing failed: logged once */
    char *path;                  /* NULL: not recording */
    bool named_by_ssrc;          /* the roster did not know the sender yet */
    uint64_t since_patch;
};

static int16_t g_pcm[EP_OPUS_MAX_DECODED];

const char *ep_payload_kind_name(ep_payload_kind k)
{
    switch (k) {
    case EP_PAYLOAD_SYNTH: return "synthetic";
    case EP_PAYLOAD_OPUS: return "opus";
    case EP_PAYLOAD_UNKNOWN: break;
    }
    return "unknown";
}

static bool looks_synthetic(const uint8_t *p, size_t len)
{
    return len >= 6 && p[0] == 'P' && p[1] == 'S' && p[2] == 'Y' && p[3] == 'N' &&
           p[4] == PERC_SYNTH_VERSION && p[5] == 0;
}

/* A file name from untrusted text: never a path, never hidden. */
static void safe_name(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *c = in; *c && k + 1 < cap && k < 64; c++) {
        bool ok = g_ascii_isalnum(*c) || *c == '_' || *c == '-' || (*c == '.' && k > 0);
        out[k++] = ok ? *c : '_';
    }
    out[k] = '\0';
}

static bool path_in_use(const ep_session *s, const char *path)
{
    for (size_t i = 0; i < s->stats.n_tracks; i++) {
        const ep_audio_rx *a = s->stats.tracks[i].audio;
        if (a && a->path && strcmp(a->path, path) == 0)
            return true;
    }
    return false;
}

static void start_recording(ep_session *s, ep_remote_track *t, ep_audio_rx *a)
{
    const ep_app *app = s->app;
    const char *dir = app->opt.record_dir;
    char *sub = NULL;
    if (app->n_sessions > 1) {
        char local[80];
        safe_name(s->name, local, sizeof local);
        sub = g_build_filename(dir, local, NULL);
        if (g_mkdir_with_parents(sub, 0755) != 0) {
            perc_log_error("%s: --record: cannot create %s: %s", s->name, sub, g_strerror(errno));
            a->record_failed = true;
            g_free(sub);
            return;
        }
        dir = sub;
    }
    const ep_roster_entry *r = ep_stats_roster_by_ssrc(&s->stats, t->ssrc);
    char base[80], file[100];
    if (r && r->identity[0])
        safe_name(r->identity, base, sizeof base);
    else
        base[0] = '\0';
    if (!base[0]) {
        g_snprintf(base, sizeof base, "ssrc-%08x", t->ssrc);
        a->named_by_ssrc = true;
    }
    g_snprintf(file, sizeof file, "%s.wav", base);
    a->path = g_build_filename(dir, file, NULL);
    if (path_in_use(s, a->path)) {
        g_free(a->path);
        g_snprintf(file, sizeof file, "%s-%08x.wav", base, t->ssrc);
        a->path = g_build_filename(dir, file, NULL);
    }
    g_free(sub);
    char why[160];
    if (!ep_wav_writer_open(&a->wav, a->path, EP_OPUS_OUT_RATE, 1, why, sizeof why)) {
        perc_log_error("%s: --record: %s: %s", s->name, a->path, why);
        a->record_failed = true;
        g_free(a->path);
        a->path = NULL;
        return;
    }
    perc_log_info("%s: recording SSRC %08x (%s) to %s", s->name, t->ssrc,
                  r ? r->identity : "not in the roster", a->path);
}

void ep_audio_rx_roster_update(ep_session *s, const ep_roster_entry *r)
{
    char base[80];
    safe_name(r->identity, base, sizeof base);
    if (!base[0])
        return;
    for (size_t k = 0; k < r->n_ssrcs; k++) {
        ep_remote_track *t = NULL;
        for (size_t i = 0; i < s->stats.n_tracks && !t; i++)
            if (s->stats.tracks[i].ssrc == r->ssrcs[k])
                t = &s->stats.tracks[i];
        ep_audio_rx *a = t ? t->audio : NULL;
        if (!a || !a->path || !a->named_by_ssrc)
            continue;
        char *dir = g_path_get_dirname(a->path);
        char file[100];
        g_snprintf(file, sizeof file, "%s.wav", base);
        char *to = g_build_filename(dir, file, NULL);
        g_free(dir);
        /* The open file keeps being written under its new name. */
        if (!path_in_use(s, to) && !g_file_test(to, G_FILE_TEST_EXISTS) &&
            rename(a->path, to) == 0) {
            perc_log_info("%s: recording of SSRC %08x renamed to %s (%s)", s->name, t->ssrc, to,
                          r->identity);
            g_free(a->path);
            a->path = to;
            a->named_by_ssrc = false;
        } else {
            g_free(to);
        }
    }
}

static void record(ep_session *s, ep_audio_rx *a, const int16_t *pcm, size_t n)
{
    if (!a->path || a->record_failed)
        return;
    bool ok = ep_wav_writer_write(&a->wav, pcm, n);
    if (ok && ++a->since_patch >= PATCH_EVERY_FRAMES) {
        a->since_patch = 0;
        ok = ep_wav_writer_patch(&a->wav);
    }
    if (!ok) {
        perc_log_error("%s: --record: %s: write failed (%s): recording stopped", s->name,
                       a->path, errno ? g_strerror(errno) : "size limit");
        a->record_failed = true;
    }
}

static ep_audio_rx *audio_new(ep_session *s, ep_remote_track *t)
{
    char why[160];
    ep_audio_rx *a = g_new0(ep_audio_rx, 1);
    a->dec = ep_opus_rx_new(why, sizeof why);
    if (!a->dec) {
        perc_log_error("%s: SSRC %08x: %s", s->name, t->ssrc, why);
        g_free(a);
        return NULL;
    }
    if (s->app->opt.record_dir)
        start_recording(s, t, a);
    return a;
}

/* Conceals the ticks a gap left (at most MAX_CONCEAL_TICKS). */
static void conceal(ep_session *s, ep_remote_track *t, ep_audio_rx *a, uint32_t ticks)
{
    ticks -= ticks % 120u; /* libopus conceals in 2.5 ms steps */
    while (ticks) {
        uint32_t k = ticks > EP_OPUS_MAX_DECODED ? EP_OPUS_MAX_DECODED : ticks;
        int n = ep_opus_rx_conceal(a->dec, g_pcm, k);
        if (n <= 0)
            return;
        t->opus_concealed_samples += (uint64_t)n;
        record(s, a, g_pcm, (size_t)n);
        ticks -= k;
    }
}

bool ep_audio_rx_on_frame(ep_session *s, ep_remote_track *t, const perc_participant_frame *f)
{
    if (f->orig_pt != EP_AUDIO_PT)
        return false;
    if (t->payload_kind == EP_PAYLOAD_UNKNOWN)
        t->payload_kind =
            looks_synthetic(f->payload, f->payload_len) ? EP_PAYLOAD_SYNTH : EP_PAYLOAD_OPUS;
    if (t->payload_kind != EP_PAYLOAD_OPUS)
        return false;
    if (!t->audio && !t->audio_failed) {
        t->audio = audio_new(s, t);
        t->audio_failed = t->audio == NULL;
    }
    ep_audio_rx *a = t->audio;
    if (!a) {
        t->opus_decode_errors++;
        return true;
    }
    if (a->have_ts) {
        int32_t ahead = (int32_t)(f->timestamp - a->next_ts);
        if (ahead < 0) {
            t->opus_late++;
            return true;
        }
        if (ahead > 0 && (uint32_t)ahead <= MAX_CONCEAL_TICKS)
            conceal(s, t, a, (uint32_t)ahead);
    }
    int n = ep_opus_rx_decode(a->dec, f->payload, f->payload_len, g_pcm, EP_OPUS_MAX_DECODED);
    if (n < 0) {
        t->opus_decode_errors++;
        perc_log_limited(&s->lim_payload, PERC_LOG_WARN,
                         "%s: SSRC %08x: a verified Opus payload of %zu octets does not decode: %s",
                         s->name, f->ssrc, f->payload_len, ep_opus_error_name(n));
        return true;
    }
    t->opus_decoded++;
    t->opus_samples += (uint64_t)n;
    a->have_ts = true;
    a->next_ts = f->timestamp + (uint32_t)n; /* decoded at 48 kHz = RTP ticks */
    record(s, a, g_pcm, (size_t)n);
    return true;
}

void ep_audio_rx_close_all(ep_session *s)
{
    for (size_t i = 0; i < s->stats.n_tracks; i++) {
        ep_remote_track *t = &s->stats.tracks[i];
        ep_audio_rx *a = t->audio;
        if (!a)
            continue;
        if (a->path) {
            char why[160];
            double secs = ep_wav_writer_seconds(&a->wav);
            if (ep_wav_writer_close(&a->wav, why, sizeof why))
                perc_log_info("%s: recorded %.1f s from SSRC %08x in %s", s->name, secs, t->ssrc,
                              a->path);
            else
                perc_log_error("%s: --record: %s: %s", s->name, a->path, why);
            g_free(a->path);
        }
        ep_opus_rx_free(a->dec);
        g_free(a);
        t->audio = NULL;
    }
}

void ep_audio_rx_json(const ep_session *s, const uint32_t *ssrcs, size_t n, cJSON *remote)
{
    uint64_t decoded = 0, errors = 0, late = 0, concealed = 0, samples = 0;
    bool opus = false, synth = false;
    double recorded = 0.0;
    const char *path = NULL;
    cJSON *arr = cJSON_CreateArray();
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < s->stats.n_tracks; i++) {
            const ep_remote_track *t = &s->stats.tracks[i];
            if (t->ssrc != ssrcs[k])
                continue;
            synth |= t->payload_kind == EP_PAYLOAD_SYNTH;
            if (t->payload_kind != EP_PAYLOAD_OPUS)
                continue;
            opus = true;
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(t->ssrc));
            decoded += t->opus_decoded;
            errors += t->opus_decode_errors;
            late += t->opus_late;
            concealed += t->opus_concealed_samples;
            samples += t->opus_samples;
            if (t->audio && t->audio->path && !path) {
                path = t->audio->path;
                recorded = ep_wav_writer_seconds(&t->audio->wav);
            }
        }
    cJSON_AddStringToObject(remote, "audio_payload", opus    ? "opus"
                                                     : synth ? "synthetic"
                                                             : "none");
    cJSON_AddItemToObject(remote, "opus_ssrcs", arr);
    cJSON_AddNumberToObject(remote, "opus_frames_decoded", (double)decoded);
    cJSON_AddNumberToObject(remote, "opus_decode_errors", (double)errors);
    cJSON_AddNumberToObject(remote, "opus_late", (double)late);
    cJSON_AddNumberToObject(remote, "opus_decoded_s", (double)samples / EP_OPUS_OUT_RATE);
    cJSON_AddNumberToObject(remote, "opus_concealed_s", (double)concealed / EP_OPUS_OUT_RATE);
    if (path) {
        cJSON_AddStringToObject(remote, "recording", path);
        cJSON_AddNumberToObject(remote, "recorded_s", recorded);
    } else {
        cJSON_AddNullToObject(remote, "recording");
    }
}
