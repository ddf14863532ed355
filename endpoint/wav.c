/* WAV reader and writer (see wav.h for what is accepted). The reader
 * treats the file as untrusted: every length is checked against what is
 * left before it is used, integers are read octet by octet (little-endian,
 * as RIFF defines them), and nothing is cast onto the buffer. */
#include "wav.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WAVE_FORMAT_PCM 0x0001u
#define WAVE_FORMAT_IEEE_FLOAT 0x0003u
#define WAVE_FORMAT_EXTENSIBLE 0xFFFEu

/* KSDATAFORMAT_SUBTYPE_PCM as it appears in the file. */
static const uint8_t PCM_GUID[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                     0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

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

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A chunk id for messages: printable ASCII as is, anything else as '?',
 * so a hostile file cannot put control characters into our log. */
static void chunk_name(const uint8_t *id, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = id[i] >= 0x20 && id[i] < 0x7F ? (char)id[i] : '?';
    out[4] = '\0';
}

static bool rate_supported(uint32_t rate)
{
    return rate == 8000u || rate == 12000u || rate == 16000u || rate == 24000u || rate == 48000u;
}

static bool parse_fmt(const uint8_t *p, uint32_t size, ep_wav *w, char *why, size_t cap)
{
    if (size < 16) {
        say(why, cap, "fmt chunk: %u octets, at least 16 needed", size);
        return false;
    }
    uint16_t tag = le16(p);
    uint16_t channels = le16(p + 2);
    uint32_t rate = le32(p + 4);
    uint32_t byte_rate = le32(p + 8);
    uint16_t block_align = le16(p + 12);
    uint16_t bits = le16(p + 14);
    if (tag == WAVE_FORMAT_PCM) {
        if (size != 16 && size != 18) {
            say(why, cap, "fmt chunk: %u octets for PCM (16 or 18 expected)", size);
            return false;
        }
        if (size == 18 && le16(p + 16) != 0) {
            say(why, cap, "fmt chunk: PCM with %u extension octets (cbSize must be 0)",
                le16(p + 16));
            return false;
        }
    } else if (tag == WAVE_FORMAT_EXTENSIBLE) {
        if (size != 40 || le16(p + 16) != 22) {
            say(why, cap, "fmt chunk: WAVE_FORMAT_EXTENSIBLE needs 40 octets with cbSize 22 "
                          "(has %u, cbSize %u)",
                size, size >= 18 ? le16(p + 16) : 0u);
            return false;
        }
        if (memcmp(p + 24, PCM_GUID, sizeof PCM_GUID) != 0) {
            say(why, cap, "fmt chunk: extensible subformat is not PCM");
            return false;
        }
        if (le16(p + 18) != bits) {
            say(why, cap, "fmt chunk: %u valid bits in %u-bit samples not supported", le16(p + 18),
                bits);
            return false;
        }
    } else if (tag == WAVE_FORMAT_IEEE_FLOAT) {
        say(why, cap, "fmt chunk: format 3 (IEEE float) not supported, 16-bit PCM only");
        return false;
    } else {
        say(why, cap, "fmt chunk: format 0x%04x not supported, 16-bit PCM only", tag);
        return false;
    }
    if (bits != 16) {
        say(why, cap, "fmt chunk: %u-bit PCM not supported (16-bit only)", bits);
        return false;
    }
    if (channels != 1 && channels != 2) {
        say(why, cap, "fmt chunk: %u channels not supported (mono or stereo)", channels);
        return false;
    }
    if (!rate_supported(rate)) {
        say(why, cap,
            "fmt chunk: sample rate %u Hz not supported (8000, 12000, 16000, 24000 or 48000)",
            rate);
        return false;
    }
    if (block_align != channels * 2u) {
        say(why, cap, "fmt chunk: block align %u, expected %u for %u channel(s) of 16 bits",
            block_align, channels * 2u, channels);
        return false;
    }
    if (byte_rate != rate * block_align) {
        say(why, cap, "fmt chunk: byte rate %u, expected %u", byte_rate, rate * block_align);
        return false;
    }
    w->rate = rate;
    w->channels = channels;
    return true;
}

bool ep_wav_parse(const uint8_t *buf, size_t len, ep_wav *out, char *why, size_t cap)
{
    ep_wav w;
    memset(&w, 0, sizeof w);
    memset(out, 0, sizeof *out);
    if (!buf) {
        say(why, cap, "no data");
        return false;
    }
    if (len < 12) {
        say(why, cap, "RIFF header: truncated (%zu octets, a WAV file has at least %u)", len,
            EP_WAV_HEADER_LEN);
        return false;
    }
    if (memcmp(buf, "RIFF", 4) != 0) {
        say(why, cap, "not a RIFF file (no 'RIFF' at offset 0)");
        return false;
    }
    if (memcmp(buf + 8, "WAVE", 4) != 0) {
        say(why, cap, "RIFF form type is not 'WAVE'");
        return false;
    }
    if (len > EP_WAV_MAX_FILE) {
        say(why, cap, "file too large (%zu octets, at most %u)", len, EP_WAV_MAX_FILE);
        return false;
    }
    uint32_t riff = le32(buf + 4);
    if (riff < 4) {
        say(why, cap, "RIFF header: size %u is too small", riff);
        return false;
    }
    if ((size_t)riff > len - 8) {
        say(why, cap, "RIFF header: size says %u octets, the file has %zu (truncated?)", riff,
            len - 8);
        return false;
    }
    size_t end = 8 + (size_t)riff;
    /* RIFF pads an odd-sized chunk to an even length: one octet may follow. */
    if (len != end && !(len == end + 1 && (riff & 1u))) {
        say(why, cap, "%zu octets after the RIFF chunk", len - end);
        return false;
    }
    bool have_fmt = false, have_data = false;
    size_t data_len = 0;
    size_t off = 12;
    while (off < end) {
        if (end - off < 8) {
            say(why, cap, "chunk header at offset %zu: truncated (%zu octets left)", off,
                end - off);
            return false;
        }
        const uint8_t *id = buf + off;
        uint32_t size = le32(buf + off + 4);
        char name[5];
        chunk_name(id, name);
        size_t body = off + 8;
        if ((size_t)size > end - body) {
            say(why, cap, "'%s' chunk at offset %zu: size %u runs past the end of the file", name,
                off, size);
            return false;
        }
        size_t next = body + size;
        if (size & 1u) {
            /* The pad octet may be missing only after the last chunk. */
            if (next < end)
                next++;
        }
        if (memcmp(id, "fmt ", 4) == 0) {
            if (have_fmt) {
                say(why, cap, "more than one fmt chunk");
                return false;
            }
            if (!parse_fmt(buf + body, size, &w, why, cap))
                return false;
            have_fmt = true;
        } else if (memcmp(id, "data", 4) == 0) {
            if (!have_fmt) {
                say(why, cap, "data chunk before the fmt chunk");
                return false;
            }
            if (have_data) {
                say(why, cap, "more than one data chunk");
                return false;
            }
            w.samples = buf + body;
            data_len = size;
            have_data = true;
        }
        off = next;
    }
    if (!have_fmt) {
        say(why, cap, "no fmt chunk");
        return false;
    }
    if (!have_data) {
        say(why, cap, "no data chunk");
        return false;
    }
    size_t frame_len = (size_t)w.channels * 2u;
    if (data_len % frame_len != 0) {
        say(why, cap, "data chunk: %zu octets is not a whole number of %zu-octet sample frames",
            data_len, frame_len);
        return false;
    }
    if (data_len == 0) {
        say(why, cap, "data chunk: no samples");
        return false;
    }
    w.frames = data_len / frame_len;
    *out = w;
    return true;
}

int16_t ep_wav_mono_sample(const ep_wav *w, size_t i)
{
    const uint8_t *p = w->samples + i * (size_t)w->channels * 2u;
    int32_t a = (int16_t)le16(p);
    if (w->channels == 1)
        return (int16_t)a;
    int32_t b = (int16_t)le16(p + 2);
    return (int16_t)((a + b) / 2);
}

bool ep_wav_read_mono(const char *path, int16_t **pcm, size_t *n, uint32_t *rate,
                      uint16_t *channels, char *why, size_t cap)
{
    *pcm = NULL;
    *n = 0;
    *rate = 0;
    bool ok = false;
    uint8_t *buf = NULL;
    size_t len = 0, room = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        say(why, cap, "%s", strerror(errno));
        return false;
    }
    /* Read in pieces up to the limit: the size a stat reports is not
     * trusted (a FIFO, a file that grows). */
    for (;;) {
        if (len == room) {
            if (room > EP_WAV_MAX_FILE) {
                say(why, cap, "file too large (more than %u octets)", EP_WAV_MAX_FILE);
                goto out;
            }
            size_t grow = room ? room * 2u : 65536u;
            uint8_t *nb = realloc(buf, grow + 1u);
            if (!nb) {
                say(why, cap, "out of memory");
                goto out;
            }
            buf = nb;
            room = grow + 1u;
        }
        size_t got = fread(buf + len, 1, room - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                say(why, cap, "read error");
                goto out;
            }
            break;
        }
    }
    ep_wav w;
    if (!ep_wav_parse(buf, len, &w, why, cap))
        goto out;
    int16_t *mono = malloc(w.frames * sizeof *mono);
    if (!mono) {
        say(why, cap, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < w.frames; i++)
        mono[i] = ep_wav_mono_sample(&w, i);
    *pcm = mono;
    *n = w.frames;
    *rate = w.rate;
    if (channels)
        *channels = w.channels;
    ok = true;
out:
    free(buf);
    if (fclose(f) != 0 && ok) {
        free(*pcm);
        *pcm = NULL;
        *n = 0;
        say(why, cap, "%s", strerror(errno));
        ok = false;
    }
    return ok;
}

/* ---- writer ------------------------------------------------------------------ */

/* The largest data chunk whose RIFF size (36 + data) still fits 32 bits. */
#define MAX_DATA_BYTES (UINT32_MAX - 36u)

bool ep_wav_writer_open(ep_wav_writer *w, const char *path, uint32_t rate, uint16_t channels,
                        char *why, size_t cap)
{
    memset(w, 0, sizeof *w);
    if (rate == 0 || (channels != 1 && channels != 2)) {
        say(why, cap, "unsupported format (%u Hz, %u channels)", rate, channels);
        return false;
    }
    w->f = fopen(path, "wb");
    if (!w->f) {
        say(why, cap, "%s", strerror(errno));
        return false;
    }
    w->rate = rate;
    w->channels = channels;
    uint8_t h[EP_WAV_HEADER_LEN];
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36u);
    memcpy(h + 8, "WAVE", 4);
    memcpy(h + 12, "fmt ", 4);
    put32(h + 16, 16u);
    put16(h + 20, WAVE_FORMAT_PCM);
    put16(h + 22, channels);
    put32(h + 24, rate);
    put32(h + 28, rate * channels * 2u);
    put16(h + 32, (uint16_t)(channels * 2u));
    put16(h + 34, 16u);
    memcpy(h + 36, "data", 4);
    put32(h + 40, 0u);
    if (fwrite(h, 1, sizeof h, w->f) != sizeof h) {
        say(why, cap, "%s", strerror(errno));
        (void)fclose(w->f); /* the write error is what we report */
        w->f = NULL;
        return false;
    }
    return true;
}

bool ep_wav_writer_write(ep_wav_writer *w, const int16_t *samples, size_t n)
{
    if (!w->f || w->failed || n % w->channels != 0)
        return false;
    if ((uint64_t)n * 2u > MAX_DATA_BYTES - w->data_bytes) {
        w->failed = true;
        return false;
    }
    uint8_t chunk[1024];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done;
        if (k > sizeof chunk / 2u)
            k = sizeof chunk / 2u;
        for (size_t i = 0; i < k; i++)
            put16(chunk + 2u * i, (uint16_t)samples[done + i]);
        if (fwrite(chunk, 2, k, w->f) != k) {
            w->failed = true;
            return false;
        }
        done += k;
    }
    w->data_bytes += (uint64_t)n * 2u;
    return true;
}

bool ep_wav_writer_patch(ep_wav_writer *w)
{
    if (!w->f || w->failed)
        return false;
    uint8_t v[4];
    long here = ftell(w->f);
    bool ok = here >= 0;
    put32(v, (uint32_t)(36u + w->data_bytes));
    ok = ok && fseek(w->f, 4, SEEK_SET) == 0 && fwrite(v, 1, 4, w->f) == 4;
    put32(v, (uint32_t)w->data_bytes);
    ok = ok && fseek(w->f, 40, SEEK_SET) == 0 && fwrite(v, 1, 4, w->f) == 4;
    ok = ok && fseek(w->f, here, SEEK_SET) == 0 && fflush(w->f) == 0;
    if (!ok)
        w->failed = true;
    return ok;
}

bool ep_wav_writer_close(ep_wav_writer *w, char *why, size_t cap)
{
    if (!w->f)
        return true;
    bool ok = !w->failed;
    if (ok && !ep_wav_writer_patch(w))
        ok = false;
    if (!ok)
        say(why, cap, "write failed (%s)", errno ? strerror(errno) : "size limit");
    if (fclose(w->f) != 0 && ok) {
        say(why, cap, "%s", strerror(errno));
        ok = false;
    }
    w->f = NULL;
    return ok;
}

double ep_wav_writer_seconds(const ep_wav_writer *w)
{
    if (!w->rate || !w->channels)
        return 0.0;
    return (double)w->data_bytes / 2.0 / (double)w->channels / (double)w->rate;
}
