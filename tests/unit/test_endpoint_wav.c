/* perc-endpoint's WAV reader and writer (endpoint/wav.c), compiled in here
 * from the program's source: a valid file of each accepted shape, every
 * truncation of a valid file, trailing octets, each field corrupted (with
 * the reason naming it), chunks the reader skips, and the writer read back
 * (sizes patched on close and on request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../endpoint/wav.c"

/* ---- building files ------------------------------------------------------------ */

typedef struct buf {
    uint8_t b[8192];
    size_t n;
} buf;

static void put(buf *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_u16(buf *w, uint16_t v)
{
    uint8_t b[2];
    put16(b, v);
    put(w, b, 2);
}

static void put_u32(buf *w, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    put(w, b, 4);
}

static void chunk(buf *w, const char *id, const void *body, uint32_t len, bool pad)
{
    put(w, id, 4);
    put_u32(w, len);
    put(w, body, len);
    if ((len & 1u) && pad)
        put(w, "", 1);
}

static void fmt_body(buf *f, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t bits)
{
    put_u16(f, tag);
    put_u16(f, ch);
    put_u32(f, rate);
    put_u32(f, rate * ch * (bits / 8u));
    put_u16(f, (uint16_t)(ch * (bits / 8u)));
    put_u16(f, bits);
}

/* Wraps chunks (already in body) into RIFF/WAVE with the right size. */
static void riff(buf *out, const buf *body)
{
    out->n = 0;
    put(out, "RIFF", 4);
    put_u32(out, (uint32_t)(4 + body->n));
    put(out, "WAVE", 4);
    put(out, body->b, body->n);
}

/* A plain valid file: fmt (PCM) + data with frames ramping samples. */
static void make_wav(buf *out, uint32_t rate, uint16_t ch, size_t frames)
{
    buf f = {.n = 0}, d = {.n = 0}, body = {.n = 0};
    fmt_body(&f, 1, ch, rate, 16);
    for (size_t i = 0; i < frames * ch; i++)
        put_u16(&d, (uint16_t)(int16_t)(i * 100 - 1000));
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", d.b, (uint32_t)d.n, true);
    riff(out, &body);
}

static void expect_ok(const buf *w, uint32_t rate, uint16_t ch, size_t frames)
{
    ep_wav v;
    char why[200] = "";
    bool ok = ep_wav_parse(w->b, w->n, &v, why, sizeof why);
    if (!ok)
        fail_msg("refused: %s", why);
    assert_int_equal(v.rate, rate);
    assert_int_equal(v.channels, ch);
    assert_int_equal(v.frames, frames);
    assert_non_null(v.samples);
}

static void expect_bad(const uint8_t *b, size_t n, const char *needle)
{
    ep_wav v;
    memset(&v, 0x5A, sizeof v);
    char why[200] = "";
    assert_false(ep_wav_parse(b, n, &v, why, sizeof why));
    assert_int_equal(v.frames, 0);
    assert_null(v.samples);
    assert_int_equal(v.rate, 0);
    if (!strstr(why, needle))
        fail_msg("reason '%s' lacks '%s'", why, needle);
}

/* ---- the reader ------------------------------------------------------------------- */

static void test_valid_shapes(void **state)
{
    (void)state;
    static const uint32_t rates[] = {8000, 12000, 16000, 24000, 48000};
    buf w;
    for (size_t i = 0; i < 5; i++)
        for (uint16_t ch = 1; ch <= 2; ch++) {
            make_wav(&w, rates[i], ch, 37);
            expect_ok(&w, rates[i], ch, 37);
        }
    /* The samples are where the data chunk is, little-endian. */
    make_wav(&w, 48000, 1, 3);
    ep_wav v;
    assert_true(ep_wav_parse(w.b, w.n, &v, NULL, 0));
    assert_ptr_equal(v.samples, w.b + 44);
    assert_int_equal(ep_wav_mono_sample(&v, 0), -1000);
    assert_int_equal(ep_wav_mono_sample(&v, 2), -800);
}

static void test_stereo_average(void **state)
{
    (void)state;
    buf f = {.n = 0}, d = {.n = 0}, body = {.n = 0}, w;
    fmt_body(&f, 1, 2, 48000, 16);
    int16_t s[] = {1000, 3000, -32768, -32768, 32767, 32767, 100, -100};
    for (size_t i = 0; i < 8; i++)
        put_u16(&d, (uint16_t)s[i]);
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", d.b, (uint32_t)d.n, true);
    riff(&w, &body);
    ep_wav v;
    assert_true(ep_wav_parse(w.b, w.n, &v, NULL, 0));
    assert_int_equal(v.frames, 4);
    assert_int_equal(ep_wav_mono_sample(&v, 0), 2000);
    assert_int_equal(ep_wav_mono_sample(&v, 1), -32768);
    assert_int_equal(ep_wav_mono_sample(&v, 2), 32767);
    assert_int_equal(ep_wav_mono_sample(&v, 3), 0);
}

static void test_every_truncation(void **state)
{
    (void)state;
    buf w;
    make_wav(&w, 16000, 2, 5);
    for (size_t n = 0; n < w.n; n++) {
        /* A fresh copy of exactly n octets, so ASan sees any over-read. */
        uint8_t *b = malloc(n ? n : 1);
        assert_non_null(b);
        memcpy(b, w.b, n);
        ep_wav v;
        char why[200] = "";
        if (ep_wav_parse(b, n, &v, why, sizeof why))
            fail_msg("a file truncated to %zu of %zu octets was accepted", n, w.n);
        assert_true(why[0] != '\0');
        free(b);
    }
    /* Including truncations whose RIFF size was fixed up to match: the
     * chunks themselves are then short. */
    for (size_t n = 12; n < w.n; n++) {
        uint8_t *b = malloc(n);
        assert_non_null(b);
        memcpy(b, w.b, n);
        put32(b + 4, (uint32_t)(n - 8));
        ep_wav v;
        char why[200] = "";
        if (ep_wav_parse(b, n, &v, why, sizeof why))
            fail_msg("a file cut at %zu with a matching RIFF size was accepted", n);
        free(b);
    }
}

static void test_trailing(void **state)
{
    (void)state;
    buf w;
    make_wav(&w, 48000, 1, 4);
    put(&w, "\0", 1);
    expect_bad(w.b, w.n, "1 octets after the RIFF chunk");
    put(&w, "x", 1);
    expect_bad(w.b, w.n, "2 octets after the RIFF chunk");
}

static void test_header_fields(void **state)
{
    (void)state;
    buf w;
    make_wav(&w, 48000, 1, 4);
    uint8_t b[sizeof w.b];
    memcpy(b, w.b, w.n);
    b[0] = 'X';
    expect_bad(b, w.n, "not a RIFF file");
    memcpy(b, w.b, w.n);
    memcpy(b + 8, "AVI ", 4);
    expect_bad(b, w.n, "not 'WAVE'");
    memcpy(b, w.b, w.n);
    put32(b + 4, 3);
    expect_bad(b, w.n, "too small");
    memcpy(b, w.b, w.n);
    put32(b + 4, (uint32_t)w.n); /* 8 more than there is */
    expect_bad(b, w.n, "truncated?");
    memcpy(b, w.b, w.n);
    put32(b + 4, 0xFFFFFFFFu);
    expect_bad(b, w.n, "RIFF header: size says 4294967295");
    memcpy(b, w.b, w.n);
    put32(b + 4, (uint32_t)(w.n - 8 - 2)); /* the file goes on after it */
    expect_bad(b, w.n, "after the RIFF chunk");
    expect_bad(NULL, 0, "no data");
}

/* Builds a file whose fmt chunk is body (len octets) and checks the
 * reason. */
static void expect_bad_fmt(const buf *f, const char *needle)
{
    buf body = {.n = 0}, w;
    chunk(&body, "fmt ", f->b, (uint32_t)f->n, true);
    chunk(&body, "data", "\0\0\0\0", 4, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, needle);
}

static void test_fmt_fields(void **state)
{
    (void)state;
    buf f = {.n = 0};
    fmt_body(&f, 1, 1, 48000, 24);
    expect_bad_fmt(&f, "fmt chunk: 24-bit PCM not supported");
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 8);
    expect_bad_fmt(&f, "8-bit PCM not supported");
    f.n = 0;
    fmt_body(&f, 3, 1, 48000, 32);
    expect_bad_fmt(&f, "IEEE float");
    f.n = 0;
    fmt_body(&f, 0x55, 1, 48000, 16); /* MP3 */
    expect_bad_fmt(&f, "format 0x0055 not supported");
    f.n = 0;
    fmt_body(&f, 1, 3, 48000, 16);
    expect_bad_fmt(&f, "3 channels not supported");
    f.n = 0;
    fmt_body(&f, 1, 0, 48000, 16);
    expect_bad_fmt(&f, "0 channels not supported");
    f.n = 0;
    fmt_body(&f, 1, 1, 44100, 16);
    expect_bad_fmt(&f, "sample rate 44100 Hz not supported");
    f.n = 0;
    fmt_body(&f, 1, 1, 0, 16);
    expect_bad_fmt(&f, "sample rate 0 Hz");
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 16);
    put16(f.b + 12, 4);
    expect_bad_fmt(&f, "block align 4, expected 2");
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 16);
    put32(f.b + 8, 48000);
    expect_bad_fmt(&f, "byte rate 48000, expected 96000");
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 16);
    f.n = 14;
    expect_bad_fmt(&f, "fmt chunk: 14 octets, at least 16 needed");
    /* PCM with cbSize: 0 is fine, anything else is not. */
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 16);
    put_u16(&f, 0);
    buf body = {.n = 0}, w;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\0\0", 2, true);
    riff(&w, &body);
    expect_ok(&w, 48000, 1, 1);
    put16(f.b + 16, 2);
    expect_bad_fmt(&f, "cbSize must be 0");
    f.n = 0;
    fmt_body(&f, 1, 1, 48000, 16);
    put_u32(&f, 0);
    expect_bad_fmt(&f, "20 octets for PCM");
}

static void extensible(buf *f, const uint8_t *guid, uint16_t valid)
{
    f->n = 0;
    fmt_body(f, 0xFFFE, 2, 24000, 16);
    put_u16(f, 22);
    put_u16(f, valid);
    put_u32(f, 3); /* front left and right */
    put(f, guid, 16);
}

static void test_extensible(void **state)
{
    (void)state;
    buf f, body = {.n = 0}, w;
    extensible(&f, PCM_GUID, 16);
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0\2\0\3\0\4\0", 8, true);
    riff(&w, &body);
    expect_ok(&w, 24000, 2, 2);
    uint8_t other[16];
    memcpy(other, PCM_GUID, 16);
    other[0] = 3; /* IEEE float */
    extensible(&f, other, 16);
    expect_bad_fmt(&f, "subformat is not PCM");
    extensible(&f, PCM_GUID, 12);
    expect_bad_fmt(&f, "12 valid bits");
    extensible(&f, PCM_GUID, 16);
    put16(f.b + 16, 20);
    expect_bad_fmt(&f, "cbSize 22");
    extensible(&f, PCM_GUID, 16);
    f.n = 38;
    expect_bad_fmt(&f, "needs 40 octets");
}

static void test_chunk_structure(void **state)
{
    (void)state;
    buf f = {.n = 0}, body = {.n = 0}, w;
    fmt_body(&f, 1, 1, 8000, 16);
    /* Unknown chunks before and after data, one odd-sized with its pad. */
    chunk(&body, "LIST", "abc", 3, true);
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "fact", "\4\0\0\0", 4, true);
    chunk(&body, "data", "\1\0\2\0\3\0", 6, true);
    chunk(&body, "id3 ", "xyzzy", 5, false); /* last chunk: its pad may be missing */
    riff(&w, &body);
    expect_ok(&w, 8000, 1, 3);
    /* ... and with the pad there, the RIFF size even. */
    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0", 2, true);
    chunk(&body, "junk", "x", 1, true);
    riff(&w, &body);
    expect_ok(&w, 8000, 1, 1);

    body.n = 0;
    chunk(&body, "data", "\1\0", 2, true);
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "data chunk before the fmt chunk");

    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "no data chunk");

    body.n = 0;
    chunk(&body, "LIST", "abcd", 4, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "no fmt chunk");

    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0", 2, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "more than one fmt chunk");

    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0", 2, true);
    chunk(&body, "data", "\1\0", 2, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "more than one data chunk");

    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "", 0, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "data chunk: no samples");

    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0\2", 3, true);
    riff(&w, &body);
    expect_bad(w.b, w.n, "3 octets is not a whole number of 2-octet sample frames");

    /* A chunk size past the end, and a control character in an id: the
     * reason shows '?' instead. */
    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "da\nx", "\1\0", 2, true);
    riff(&w, &body);
    put32(w.b + w.n - 6, 100);
    expect_bad(w.b, w.n, "'da?x' chunk at offset 36: size 100 runs past the end");

    /* Eight octets left that are not a whole chunk header. */
    body.n = 0;
    chunk(&body, "fmt ", f.b, (uint32_t)f.n, true);
    chunk(&body, "data", "\1\0", 2, true);
    put(&body, "abc", 3);
    riff(&w, &body);
    expect_bad(w.b, w.n, "chunk header at offset 46: truncated");
}

static void test_too_large(void **state)
{
    (void)state;
    /* Only the length is looked at before refusing: no need for the memory. */
    buf w;
    make_wav(&w, 48000, 1, 2);
    expect_bad(w.b, (size_t)EP_WAV_MAX_FILE + 1u, "file too large");
}

/* ---- files: the writer, read back ------------------------------------------------------ */

static char g_dir[64];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/perc_wav_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/rt.wav", g_dir);
    ep_wav_writer w;
    char why[200] = "";
    assert_true(ep_wav_writer_open(&w, path, 48000, 1, why, sizeof why));
    int16_t s[1000];
    for (size_t i = 0; i < 1000; i++)
        s[i] = (int16_t)((int)(i * 65) - 32768);
    assert_true(ep_wav_writer_write(&w, s, 1000));
    /* Patched on request: readable before the close. */
    assert_true(ep_wav_writer_patch(&w));
    int16_t *pcm = NULL;
    size_t n = 0;
    uint32_t rate = 0;
    uint16_t ch = 0;
    assert_true(ep_wav_read_mono(path, &pcm, &n, &rate, &ch, why, sizeof why));
    assert_int_equal(n, 1000);
    free(pcm);
    assert_true(ep_wav_writer_write(&w, s, 500));
    assert_true(ep_wav_writer_seconds(&w) > 0.031 && ep_wav_writer_seconds(&w) < 0.032);
    assert_true(ep_wav_writer_close(&w, why, sizeof why));
    assert_null(w.f);
    assert_true(ep_wav_writer_close(&w, why, sizeof why)); /* again: nothing to do */
    assert_true(ep_wav_read_mono(path, &pcm, &n, &rate, &ch, why, sizeof why));
    assert_int_equal(n, 1500);
    assert_int_equal(rate, 48000);
    assert_int_equal(ch, 1);
    assert_memory_equal(pcm, s, sizeof s);
    assert_memory_equal(pcm + 1000, s, 500 * sizeof *s);
    free(pcm);

    /* Stereo, at 16 kHz: read back averaged. */
    assert_true(ep_wav_writer_open(&w, path, 16000, 2, why, sizeof why));
    int16_t st[6] = {100, 300, -5, -7, 32767, 32767};
    assert_false(ep_wav_writer_write(&w, st, 5)); /* not whole frames */
    assert_true(ep_wav_writer_write(&w, st, 6));
    assert_true(ep_wav_writer_close(&w, why, sizeof why));
    assert_true(ep_wav_read_mono(path, &pcm, &n, &rate, &ch, why, sizeof why));
    assert_int_equal(n, 3);
    assert_int_equal(rate, 16000);
    assert_int_equal(ch, 2);
    assert_int_equal(pcm[0], 200);
    assert_int_equal(pcm[1], -6);
    assert_int_equal(pcm[2], 32767);
    free(pcm);
}

static void test_file_errors(void **state)
{
    (void)state;
    char path[128], why[200] = "";
    int16_t *pcm = (int16_t *)1;
    size_t n = 7;
    uint32_t rate = 7;
    snprintf(path, sizeof path, "%s/missing.wav", g_dir);
    assert_false(ep_wav_read_mono(path, &pcm, &n, &rate, NULL, why, sizeof why));
    assert_null(pcm);
    assert_int_equal(n, 0);
    assert_non_null(strstr(why, "No such file"));
    /* A file the parser refuses: its reason comes through. */
    snprintf(path, sizeof path, "%s/bad.wav", g_dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("RIFF\4\0\0\0WAVE", 1, 12, f), 12);
    assert_int_equal(fclose(f), 0);
    assert_false(ep_wav_read_mono(path, &pcm, &n, &rate, NULL, why, sizeof why));
    assert_non_null(strstr(why, "no fmt chunk"));
    /* A directory is not a file. */
    assert_false(ep_wav_read_mono(g_dir, &pcm, &n, &rate, NULL, why, sizeof why));
    ep_wav_writer w;
    snprintf(path, sizeof path, "%s/no/such/dir.wav", g_dir);
    assert_false(ep_wav_writer_open(&w, path, 48000, 1, why, sizeof why));
    assert_non_null(strstr(why, "No such file"));
    assert_null(w.f);
    assert_false(ep_wav_writer_write(&w, NULL, 0)); /* never opened */
    assert_false(ep_wav_writer_open(&w, path, 48000, 3, why, sizeof why));
    assert_non_null(strstr(why, "unsupported format"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_shapes),
        cmocka_unit_test(test_stereo_average),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_fmt_fields),
        cmocka_unit_test(test_extensible),
        cmocka_unit_test(test_chunk_structure),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
