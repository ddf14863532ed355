/* Opus encoder and decoder wrappers and the RFC 6464 level (audio_opus.h). */
#include "audio_opus.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

struct ep_opus_tx {
    OpusEncoder *enc;
    const int16_t *pcm;
    size_t n, pos;
    uint32_t rate;
    size_t frame;            /* samples per 20 ms at rate */
    int16_t buf[960];        /* one frame, at most 20 ms at 48 kHz */
    uint64_t frames;
};

struct ep_opus_rx {
    OpusDecoder *dec;
};

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
}

uint8_t ep_audio_level(const int16_t *pcm, size_t n)
{
    if (!pcm || n == 0)
        return 127;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)pcm[i] * (double)pcm[i];
    double rms = sqrt(sum / (double)n);
    /* RFC 6464 §3: the level is relative to the overload point of the
     * system, here the largest 16-bit magnitude; -127 dBov and below (and
     * digital silence, whose logarithm does not exist) are all 127. */
    if (rms <= 0.0)
        return 127;
    double dbov = 20.0 * log10(rms / 32768.0);
    double level = floor(-dbov + 0.5);
    if (level < 0.0)
        level = 0.0;
    if (level > 127.0)
        level = 127.0;
    return (uint8_t)level;
}

const char *ep_opus_error_name(int err) { return opus_strerror(err); }

/* ---- encoder --------------------------------------------------------------- */

ep_opus_tx *ep_opus_tx_new(const int16_t *pcm, size_t n, uint32_t rate, char *why, size_t cap)
{
    if (!pcm || n == 0) {
        say(why, cap, "no samples");
        return NULL;
    }
    if (rate != 8000u && rate != 12000u && rate != 16000u && rate != 24000u && rate != 48000u) {
        say(why, cap, "%u Hz: Opus encodes 8000, 12000, 16000, 24000 or 48000 Hz", rate);
        return NULL;
    }
    ep_opus_tx *t = calloc(1, sizeof *t);
    if (!t) {
        say(why, cap, "out of memory");
        return NULL;
    }
    int err = OPUS_OK;
    /* VOIP: the encoder favours speech intelligibility (RFC 6716 §2.1). */
    t->enc = opus_encoder_create((opus_int32)rate, 1, OPUS_APPLICATION_VOIP, &err);
    if (!t->enc || err != OPUS_OK) {
        say(why, cap, "opus_encoder_create: %s", opus_strerror(err));
        free(t);
        return NULL;
    }
    /* A fixed bitrate for speech and a middling complexity: with many
     * participants in one process (--participants) every one encodes. */
    if (opus_encoder_ctl(t->enc, OPUS_SET_BITRATE(EP_OPUS_BITRATE)) != OPUS_OK ||
        opus_encoder_ctl(t->enc, OPUS_SET_COMPLEXITY(5)) != OPUS_OK ||
        opus_encoder_ctl(t->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK) {
        say(why, cap, "opus_encoder_ctl failed");
        opus_encoder_destroy(t->enc);
        free(t);
        return NULL;
    }
    t->pcm = pcm;
    t->n = n;
    t->rate = rate;
    t->frame = rate / (1000u / EP_OPUS_FRAME_MS);
    return t;
}

bool ep_opus_tx_next(ep_opus_tx *t, uint8_t *out, size_t cap, size_t *len, uint8_t *level)
{
    *len = 0;
    /* The file loops: a frame that crosses the end continues at the start,
     * as a receiver should hear it. */
    for (size_t i = 0; i < t->frame; i++) {
        t->buf[i] = t->pcm[t->pos];
        t->pos = t->pos + 1 == t->n ? 0 : t->pos + 1;
    }
    t->frames++;
    *level = ep_audio_level(t->buf, t->frame);
    if (cap > EP_OPUS_MAX_PACKET)
        cap = EP_OPUS_MAX_PACKET;
    opus_int32 n = opus_encode(t->enc, t->buf, (int)t->frame, out, (opus_int32)cap);
    if (n <= 0)
        return false;
    *len = (size_t)n;
    return true;
}

void ep_opus_tx_skip(ep_opus_tx *t, uint64_t frames)
{
    uint64_t k = (frames % t->n) * t->frame % t->n;
    t->pos = (size_t)(((uint64_t)t->pos + k) % t->n);
}

uint64_t ep_opus_tx_frames(const ep_opus_tx *t) { return t->frames; }

void ep_opus_tx_free(ep_opus_tx *t)
{
    if (!t)
        return;
    opus_encoder_destroy(t->enc);
    free(t);
}

/* ---- decoder ----------------------------------------------------------------- */

ep_opus_rx *ep_opus_rx_new(char *why, size_t cap)
{
    ep_opus_rx *r = calloc(1, sizeof *r);
    if (!r) {
        say(why, cap, "out of memory");
        return NULL;
    }
    int err = OPUS_OK;
    /* Mono at 48 kHz whatever the sender encoded (RFC 7587 §7). */
    r->dec = opus_decoder_create((opus_int32)EP_OPUS_OUT_RATE, 1, &err);
    if (!r->dec || err != OPUS_OK) {
        say(why, cap, "opus_decoder_create: %s", opus_strerror(err));
        free(r);
        return NULL;
    }
    return r;
}

int ep_opus_rx_decode(ep_opus_rx *r, const uint8_t *data, size_t len, int16_t *pcm, size_t cap)
{
    if (!data || len == 0 || len > 0x7FFFFFFF)
        return OPUS_INVALID_PACKET;
    if (cap < EP_OPUS_MAX_DECODED)
        return OPUS_BUFFER_TOO_SMALL;
    return opus_decode(r->dec, data, (opus_int32)len, pcm, (int)EP_OPUS_MAX_DECODED, 0);
}

int ep_opus_rx_conceal(ep_opus_rx *r, int16_t *pcm, size_t samples)
{
    if (samples == 0 || samples > EP_OPUS_MAX_DECODED || samples % 120u != 0)
        return OPUS_BAD_ARG;
    return opus_decode(r->dec, NULL, 0, pcm, (int)samples, 0);
}

void ep_opus_rx_free(ep_opus_rx *r)
{
    if (!r)
        return;
    opus_decoder_destroy(r->dec);
    free(r);
}
