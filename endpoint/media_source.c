/* The synthetic media source: every payload is a perc/synth_payload.h
 * payload whose sender id is the SSRC it travels on, so a receiver checks
 * origin (payload and SSRC agree), order (the 32-bit sequence) and
 * integrity (the truncated SHA-256) on top of PERC's own authentication.
 *
 * Audio: one packet per 20 ms (an Opus-like 160-octet frame, RTP clock
 * 48 kHz: 960 ticks a frame) with an RFC 6464 audio level that moves in
 * talk spurts, offset per participant so a Media Distributor doing last-N
 * has loudness to rank. Video (--video): one frame per 1/FPS, of
 * KBPS*1000/8/FPS octets, split into packets of at most 1200 octets, all
 * with the frame's RTP timestamp (90 kHz) and the marker bit on the last
 * packet of the frame (RFC 3550 §5.1, as video payload formats use it). A
 * PLI or FIR makes the next frame a "keyframe" four times as large, which is
 * what a real encoder's answer costs.
 *
 * With --audio-in the audio payload is instead the WAV encoded with Opus
 * (audio_opus.c), 20 ms a packet, looping at the end of the file, and the
 * audio level is the RFC 6464 level of the frame's PCM. Video stays
 * synthetic. */
#include <string.h>

#include "endpoint.h"
#include "perc/synth_payload.h"

#define AUDIO_FRAME_NS (20 * PERC_NSEC_PER_MSEC)
#define AUDIO_TS_STEP 960u
#define AUDIO_PAYLOAD 160u
#define VIDEO_CLOCK 90000u
/* Further behind than this and the source skips instead of catching up. */
#define MAX_LAG_NS (200 * PERC_NSEC_PER_MSEC)

void ep_media_init(ep_media_source *m, uint32_t audio_ssrc, uint32_t video_ssrc,
                   const ep_video_spec *video, unsigned level_offset)
{
    memset(m, 0, sizeof *m);
    m->audio_ssrc = audio_ssrc;
    m->video_ssrc = video ? video_ssrc : 0;
    if (video)
        m->video = *video;
    m->level_offset = level_offset;
}

bool ep_media_use_audio(ep_media_source *m, const int16_t *pcm, size_t n, uint32_t rate,
                        char *why, size_t cap)
{
    ep_opus_tx_free(m->opus);
    m->opus = ep_opus_tx_new(pcm, n, rate, why, cap);
    return m->opus != NULL;
}

void ep_media_free(ep_media_source *m)
{
    ep_opus_tx_free(m->opus);
    m->opus = NULL;
}

void ep_media_start(ep_media_source *m, uint64_t now)
{
    m->started = true;
    m->next_audio_ns = now;
    m->next_video_ns = now;
    m->keyframe_due = true; /* a stream starts with an intra frame */
}

uint64_t ep_media_next_due(const ep_media_source *m)
{
    if (!m->started)
        return UINT64_MAX;
    uint64_t t = m->next_audio_ns;
    if (m->video_ssrc && m->next_video_ns < t)
        t = m->next_video_ns;
    return t;
}

void ep_media_request_keyframe(ep_media_source *m) { m->keyframe_due = true; }

static uint64_t video_frame_ns(const ep_media_source *m)
{
    return PERC_NSEC_PER_SEC / m->video.fps;
}

/* RFC 6464: level is -dBov, 0 loudest, 127 silence. Two seconds of talk,
 * one of pause, with a slow wobble; the offset sets who is loudest. */
static perc_audio_level audio_level(const ep_media_source *m)
{
    uint64_t f = m->audio_frames;
    perc_audio_level l;
    bool talking = (f / 50u) % 3u != 2u;
    l.voice = talking;
    l.level = talking ? (uint8_t)(20u + (m->level_offset * 7u) % 40u + (unsigned)(f % 10u))
                      : (uint8_t)127u;
    return l;
}

static bool send_synth(ep_media_source *m, uint32_t ssrc, uint32_t *seq, uint8_t pt, uint32_t ts,
                       bool marker, size_t len, const perc_audio_level *level, ep_send_fn send,
                       void *user)
{
    uint8_t payload[PERC_SYNTH_MAX_LEN];
    if (len < PERC_SYNTH_MIN_LEN)
        len = PERC_SYNTH_MIN_LEN;
    if (len > sizeof payload)
        len = sizeof payload;
    perc_synth_payload sp = {.sender_id = ssrc, .seq = *seq, .rtp_ts = ts, .len = len};
    size_t n = 0;
    if (perc_synth_encode(&sp, payload, sizeof payload, &n) != PERC_OK) {
        m->send_failures++;
        return false;
    }
    /* The synthetic sequence advances even when a send fails: a receiver
     * then sees the gap, which is what happened. */
    (*seq)++;
    if (!send(user, ssrc, pt, ts, marker, payload, n, level)) {
        m->send_failures++;
        return false;
    }
    return true;
}

/* One 20 ms Opus frame (RFC 7587: one Opus packet per RTP packet) with
 * the level measured from the PCM it encodes. */
static void send_opus(ep_media_source *m, ep_send_fn send, void *user)
{
    uint8_t payload[EP_OPUS_MAX_PACKET];
    size_t n = 0;
    uint8_t lvl = 127;
    if (!ep_opus_tx_next(m->opus, payload, sizeof payload, &n, &lvl)) {
        m->opus_errors++;
        m->send_failures++;
        return;
    }
    perc_audio_level level = {.voice = lvl <= EP_AUDIO_VOICE_LEVEL, .level = lvl};
    if (!send(user, m->audio_ssrc, EP_AUDIO_PT, m->audio_ts, false, payload, n, &level))
        m->send_failures++;
}

static void send_video_frame(ep_media_source *m, ep_send_fn send, void *user)
{
    size_t bytes = ep_video_frame_bytes(&m->video);
    if (m->keyframe_due) {
        bytes *= 4u;
        m->keyframes++;
        m->keyframe_due = false;
    }
    size_t npkt = (bytes + EP_VIDEO_PACKET_BYTES - 1u) / EP_VIDEO_PACKET_BYTES;
    if (npkt == 0)
        npkt = 1;
    if (npkt > EP_VIDEO_MAX_PACKETS)
        npkt = EP_VIDEO_MAX_PACKETS;
    size_t left = bytes;
    for (size_t i = 0; i < npkt; i++) {
        size_t len = left > EP_VIDEO_PACKET_BYTES ? EP_VIDEO_PACKET_BYTES : left;
        left -= len;
        bool ok = send_synth(m, m->video_ssrc, &m->video_seq, EP_VIDEO_PT, m->video_ts,
                             i + 1 == npkt, len, NULL, send, user);
        (void)ok; /* counted in send_failures; the rest of the frame still goes */
    }
    m->video_frames++;
    m->video_ts += VIDEO_CLOCK / m->video.fps;
}

void ep_media_run(ep_media_source *m, uint64_t now, ep_send_fn send, void *user)
{
    if (!m->started)
        return;
    if (now > m->next_audio_ns + MAX_LAG_NS) {
        /* The RTP timestamp still advances by the time skipped, as a real
         * source's clock would (RFC 3550 §5.1). */
        uint64_t skipped = (now - m->next_audio_ns) / AUDIO_FRAME_NS;
        m->audio_ts += (uint32_t)(skipped * AUDIO_TS_STEP);
        m->next_audio_ns += skipped * AUDIO_FRAME_NS;
        if (m->opus)
            ep_opus_tx_skip(m->opus, skipped); /* the file plays on with the clock */
    }
    while (m->next_audio_ns <= now) {
        if (m->opus) {
            send_opus(m, send, user);
        } else {
            perc_audio_level level = audio_level(m);
            bool ok = send_synth(m, m->audio_ssrc, &m->audio_seq, EP_AUDIO_PT, m->audio_ts,
                                 false, AUDIO_PAYLOAD, &level, send, user);
            (void)ok; /* counted in send_failures */
        }
        m->audio_frames++;
        m->audio_ts += AUDIO_TS_STEP;
        m->next_audio_ns += AUDIO_FRAME_NS;
    }
    if (!m->video_ssrc)
        return;
    uint64_t step = video_frame_ns(m);
    if (now > m->next_video_ns + MAX_LAG_NS) {
        uint64_t skipped = (now - m->next_video_ns) / step;
        m->video_ts += (uint32_t)(skipped * (VIDEO_CLOCK / m->video.fps));
        m->next_video_ns += skipped * step;
    }
    while (m->next_video_ns <= now) {
        send_video_frame(m, send, user);
        m->next_video_ns += step;
    }
}
