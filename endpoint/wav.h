/* WAV files for perc-endpoint's real audio: a strict reader for --audio-in
 * and a writer for --record.
 *
 * What the reader accepts (anything else is refused with a one-line reason
 * that names the chunk and the field):
 *   - a RIFF file of form type WAVE whose RIFF size matches the file (one
 *     pad octet after an odd-sized RIFF chunk is allowed, nothing else);
 *   - exactly one "fmt " chunk before exactly one "data" chunk; other
 *     chunks (LIST, fact, cue, ...) are skipped, before or after data;
 *     every chunk must lie inside the RIFF chunk (an odd-sized chunk's pad
 *     octet may be missing only at the very end);
 *   - format 1 (PCM) with a 16- or 18-octet fmt chunk (cbSize 0), or
 *     WAVE_FORMAT_EXTENSIBLE (0xFFFE, 40 octets, cbSize 22, 16 valid bits,
 *     the PCM subformat GUID);
 *   - 16-bit samples, 1 or 2 channels, 8000, 12000, 16000, 24000 or 48000
 *     Hz (the rates an Opus encoder takes without resampling, RFC 6716
 *     §2), block align = channels * 2 and byte rate = rate * block align;
 *   - a data chunk of at least one whole sample frame;
 *   - at most EP_WAV_MAX_FILE octets in all.
 *
 * The parser works on a buffer and keeps no state (fuzzed by
 * tests/fuzz/fuzz_wav.c, every truncation tested in
 * tests/unit/test_endpoint_wav.c). The writer writes 16-bit PCM with a
 * 44-octet header whose sizes it patches when closed (and on request, so a
 * recording cut short is still readable up to the last patch). */
#ifndef PERC_ENDPOINT_WAV_H
#define PERC_ENDPOINT_WAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EP_WAV_MAX_FILE (64u * 1024u * 1024u)
#define EP_WAV_HEADER_LEN 44u

#if defined(__GNUC__) || defined(__clang__)
#define EP_WAV_MUST_CHECK __attribute__((warn_unused_result))
#else
#define EP_WAV_MUST_CHECK
#endif

/* A parsed WAV: samples points into the parsed buffer (little-endian
 * int16, channels interleaved). */
typedef struct ep_wav {
    uint32_t rate;
    uint16_t channels;
    size_t frames;           /* sample frames: one sample per channel */
    const uint8_t *samples;
} ep_wav;

/* Parses a whole WAV file held in buf. On failure returns false, zeroes
 * *out and writes a one-line reason into why (if cap > 0). */
EP_WAV_MUST_CHECK bool ep_wav_parse(const uint8_t *buf, size_t len, ep_wav *out, char *why,
                                    size_t cap);

/* Frame i as one mono sample: the channel, or the two averaged. */
int16_t ep_wav_mono_sample(const ep_wav *w, size_t i);

/* Reads path (at most EP_WAV_MAX_FILE octets), parses it and returns a
 * mono copy of its samples (stereo averaged) in *pcm (free() it), the
 * sample count in *n, the rate in *rate and the file's channel count in
 * *channels (may be NULL). On failure returns false with the reason in
 * why, which does not name the file: the caller does. */
EP_WAV_MUST_CHECK bool ep_wav_read_mono(const char *path, int16_t **pcm, size_t *n,
                                        uint32_t *rate, uint16_t *channels, char *why,
                                        size_t cap);

typedef struct ep_wav_writer {
    FILE *f;
    uint32_t rate;
    uint16_t channels;
    uint64_t data_bytes;
    bool failed;             /* a write failed: later writes are refused */
} ep_wav_writer;

/* Creates (or truncates) path and writes a header with empty sizes. */
EP_WAV_MUST_CHECK bool ep_wav_writer_open(ep_wav_writer *w, const char *path, uint32_t rate,
                                          uint16_t channels, char *why, size_t cap);
/* Appends n samples (n a multiple of channels; interleaved). Refused
 * (false) past the 4 GiB a RIFF size can describe, or after an I/O
 * error. */
EP_WAV_MUST_CHECK bool ep_wav_writer_write(ep_wav_writer *w, const int16_t *samples, size_t n);
/* Writes the current sizes into the header (the file stays open). */
EP_WAV_MUST_CHECK bool ep_wav_writer_patch(ep_wav_writer *w);
/* Patches the sizes and closes; false (reason in why) if anything failed
 * along the way. Safe on a writer that was never opened. */
EP_WAV_MUST_CHECK bool ep_wav_writer_close(ep_wav_writer *w, char *why, size_t cap);
/* Seconds of audio written so far. */
double ep_wav_writer_seconds(const ep_wav_writer *w);

#endif
