/* Real audio for perc-endpoint: an Opus encoder over a PCM buffer (the
 * --audio-in WAV, looped), an Opus decoder per remote SSRC, and the RFC 6464
 * audio level of a frame. No I/O and no GLib: unit-tested on its own
 * (tests/unit/test_endpoint_audio_opus.c).
 *
 * RTP (RFC 7587): the RTP clock of Opus is 48 kHz whatever rate the encoder
 * runs at (§4.1), so a 20 ms frame always advances the timestamp by 960;
 * the SDP names it opus/48000/2 even for mono (§7), and a receiver may
 * always decode to mono. We encode mono (a stereo WAV is averaged) at the
 * WAV's own rate, which must be one Opus takes directly (8, 12, 16, 24 or
 * 48 kHz: no resampler here), and always decode at 48 kHz mono. */
#ifndef PERC_ENDPOINT_AUDIO_OPUS_H
#define PERC_ENDPOINT_AUDIO_OPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_OPUS_FRAME_MS 20u
#define EP_OPUS_RTP_TICKS 960u        /* 20 ms at the 48 kHz RTP clock (RFC 7587 §4.1) */
#define EP_OPUS_OUT_RATE 48000u       /* what the decoder produces */
#define EP_OPUS_FRAME_SAMPLES 960u    /* 20 ms at EP_OPUS_OUT_RATE */
#define EP_OPUS_MAX_DECODED 5760u     /* 120 ms at 48 kHz: the longest Opus packet */
#define EP_OPUS_MAX_PACKET 1275u      /* one Opus frame at most (RFC 6716 §3.2.1) */
#define EP_OPUS_BITRATE 32000         /* mono speech; VBR */
/* RFC 6464 levels at or below this (louder than -50 dBov) set the V flag:
 * a plain energy gate, since libopus 1.3 does not export its voice
 * activity decision. */
#define EP_AUDIO_VOICE_LEVEL 50u

#if defined(__GNUC__) || defined(__clang__)
#define EP_OPUS_MUST_CHECK __attribute__((warn_unused_result))
#else
#define EP_OPUS_MUST_CHECK
#endif

/* The RFC 6464 §3 level of n samples: their RMS in -dBov, rounded, where
 * 0 dBov is the loudest signal 16-bit PCM can carry (a full-scale square
 * wave, RMS 32768) and 127 stands for -127 dBov or quieter, silence
 * included. A full-scale sine is 3. */
uint8_t ep_audio_level(const int16_t *pcm, size_t n);

typedef struct ep_opus_tx ep_opus_tx;

/* An encoder over pcm (n mono samples at rate, which must be 8000, 12000,
 * 16000, 24000 or 48000). pcm is not copied: it must outlive the encoder.
 * NULL with the reason in why on failure. */
EP_OPUS_MUST_CHECK ep_opus_tx *ep_opus_tx_new(const int16_t *pcm, size_t n, uint32_t rate,
                                              char *why, size_t cap);
/* Encodes the next 20 ms (wrapping to the start at the end of pcm) into
 * out; *level gets the frame's RFC 6464 level. false on an encoder error
 * (the position still advances). */
EP_OPUS_MUST_CHECK bool ep_opus_tx_next(ep_opus_tx *t, uint8_t *out, size_t cap, size_t *len,
                                        uint8_t *level);
/* Skips frames 20 ms frames (the sender's clock jumped ahead). */
void ep_opus_tx_skip(ep_opus_tx *t, uint64_t frames);
uint64_t ep_opus_tx_frames(const ep_opus_tx *t);   /* frames encoded */
void ep_opus_tx_free(ep_opus_tx *t);

typedef struct ep_opus_rx ep_opus_rx;

EP_OPUS_MUST_CHECK ep_opus_rx *ep_opus_rx_new(char *why, size_t cap);
/* Decodes one RTP payload into pcm (48 kHz mono, cap samples, cap >=
 * EP_OPUS_MAX_DECODED). Returns the number of samples, or a negative
 * libopus error (ep_opus_error_name). An empty payload is an error here:
 * libopus would take it for a loss to conceal. */
EP_OPUS_MUST_CHECK int ep_opus_rx_decode(ep_opus_rx *r, const uint8_t *data, size_t len,
                                         int16_t *pcm, size_t cap);
/* Packet loss concealment: fills samples (a multiple of 120, at most
 * EP_OPUS_MAX_DECODED) from the decoder's state. Returns samples or a
 * negative libopus error. */
EP_OPUS_MUST_CHECK int ep_opus_rx_conceal(ep_opus_rx *r, int16_t *pcm, size_t samples);
void ep_opus_rx_free(ep_opus_rx *r);

const char *ep_opus_error_name(int err);

#endif
