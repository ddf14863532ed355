/* perc-endpoint's real audio (endpoint/audio_opus.c, compiled in here):
 * the RFC 6464 level of known signals, the Opus encoder over a looping
 * buffer and the decoder (frame count, 48 kHz output whatever the input
 * rate, energy roughly kept, loss concealment, undecodable payloads). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../endpoint/audio_opus.c"

#define TEST_PI 3.14159265358979323846

static void sine(int16_t *out, size_t n, uint32_t rate, double hz, double amp)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (int16_t)lrint(amp * sin(2.0 * TEST_PI * hz * (double)i / (double)rate));
}

static double rms(const int16_t *p, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)p[i] * p[i];
    return sqrt(s / (double)n);
}

/* RFC 6464 §3: -dBov, 0 the loudest, 127 silence. */
static void test_level(void **state)
{
    (void)state;
    int16_t b[960];
    memset(b, 0, sizeof b);
    assert_int_equal(ep_audio_level(b, 960), 127);
    assert_int_equal(ep_audio_level(NULL, 0), 127);
    assert_int_equal(ep_audio_level(b, 0), 127);
    /* Full-scale square wave: 0 dBov. */
    for (size_t i = 0; i < 960; i++)
        b[i] = (i / 24) % 2 ? 32767 : -32768;
    assert_int_equal(ep_audio_level(b, 960), 0);
    /* Full-scale sine: RMS 1/sqrt(2) of full scale, -3 dBov. 1 kHz at
     * 48 kHz: 20 whole periods in the frame. */
    sine(b, 960, 48000, 1000.0, 32767.0);
    assert_int_equal(ep_audio_level(b, 960), 3);
    /* 20 dB quieter: 23. */
    sine(b, 960, 48000, 1000.0, 3276.7);
    assert_int_equal(ep_audio_level(b, 960), 23);
    /* 40 dB quieter still: 63. */
    sine(b, 960, 48000, 1000.0, 32.767);
    assert_int_equal(ep_audio_level(b, 960), 63);
    /* One LSB everywhere: -90.3 dBov. */
    for (size_t i = 0; i < 960; i++)
        b[i] = 1;
    assert_int_equal(ep_audio_level(b, 960), 90);
    /* One LSB in one sample of 960: -120 dBov; quieter ones clamp at 127. */
    memset(b, 0, sizeof b);
    b[5] = 1;
    assert_int_equal(ep_audio_level(b, 960), 120);
    /* The V flag's threshold sits between speech and near silence. */
    assert_true(23 <= EP_AUDIO_VOICE_LEVEL && EP_AUDIO_VOICE_LEVEL < 90);
}

/* Encodes seconds of pcm (at rate) and decodes every packet: returns the
 * decoded samples (48 kHz). */
static int16_t *round_trip(const int16_t *pcm, size_t n, uint32_t rate, size_t frames,
                           uint8_t *levels)
{
    char why[160] = "";
    ep_opus_tx *tx = ep_opus_tx_new(pcm, n, rate, why, sizeof why);
    if (!tx)
        fail_msg("encoder: %s", why);
    ep_opus_rx *rx = ep_opus_rx_new(why, sizeof why);
    assert_non_null(rx);
    int16_t *out = calloc(frames * EP_OPUS_FRAME_SAMPLES, sizeof *out);
    assert_non_null(out);
    int16_t dec[EP_OPUS_MAX_DECODED];
    for (size_t f = 0; f < frames; f++) {
        uint8_t pkt[EP_OPUS_MAX_PACKET];
        size_t len = 0;
        assert_true(ep_opus_tx_next(tx, pkt, sizeof pkt, &len, &levels[f]));
        assert_true(len > 0 && len <= EP_OPUS_MAX_PACKET);
        int got = ep_opus_rx_decode(rx, pkt, len, dec, EP_OPUS_MAX_DECODED);
        /* 20 ms at 48 kHz, whatever the input rate (RFC 7587 §4.1). */
        assert_int_equal(got, (int)EP_OPUS_FRAME_SAMPLES);
        memcpy(out + f * EP_OPUS_FRAME_SAMPLES, dec, EP_OPUS_FRAME_SAMPLES * sizeof *dec);
    }
    assert_int_equal(ep_opus_tx_frames(tx), frames);
    ep_opus_tx_free(tx);
    ep_opus_rx_free(rx);
    return out;
}

static void test_round_trip_48k(void **state)
{
    (void)state;
    /* One second of 440 Hz at -12 dBFS peak. */
    int16_t *pcm = malloc(48000 * sizeof *pcm);
    assert_non_null(pcm);
    sine(pcm, 48000, 48000, 440.0, 8192.0);
    uint8_t levels[50];
    int16_t *out = round_trip(pcm, 48000, 48000, 50, levels);
    /* Past the codec's start-up, the energy is kept within 2 dB. */
    double in = rms(pcm + 9600, 38400), got = rms(out + 9600, 38400);
    double db = 20.0 * log10(got / in);
    if (fabs(db) > 2.0)
        fail_msg("decoded energy off by %.2f dB", db);
    /* The level sent is the input's: 8192/sqrt(2) is -15 dBov. */
    for (size_t f = 0; f < 50; f++)
        assert_int_equal(levels[f], 15);
    free(out);
    free(pcm);
}

static void test_round_trip_16k_and_loop(void **state)
{
    (void)state;
    /* 0.25 s at 16 kHz, played for 1 s: the encoder loops over it, and a
     * 16 kHz input still comes out as 48 kHz. */
    size_t n = 4000;
    int16_t *pcm = malloc(n * sizeof *pcm);
    assert_non_null(pcm);
    sine(pcm, n, 16000, 500.0, 6000.0);
    uint8_t levels[50];
    int16_t *out = round_trip(pcm, n, 16000, 50, levels);
    double in = rms(pcm, n), got = rms(out + 9600, 38400);
    double db = 20.0 * log10(got / in);
    if (fabs(db) > 2.0)
        fail_msg("decoded energy off by %.2f dB", db);
    free(out);
    free(pcm);
}

/* Speech-like on/off: silent frames are sent with level 127 and decode to
 * (near) silence; loud ones do not. */
static void test_silence_and_talk(void **state)
{
    (void)state;
    int16_t *pcm = calloc(48000, sizeof *pcm);
    assert_non_null(pcm);
    sine(pcm + 24000, 24000, 48000, 200.0, 10000.0);
    uint8_t levels[50];
    int16_t *out = round_trip(pcm, 48000, 48000, 50, levels);
    for (size_t f = 0; f < 25; f++)
        assert_int_equal(levels[f], 127);
    for (size_t f = 25; f < 50; f++)
        assert_true(levels[f] < 20);
    assert_true(rms(out + 4800, 14400) < 50.0);
    assert_true(rms(out + 33600, 14400) > 3000.0);
    free(out);
    free(pcm);
}

static void test_skip(void **state)
{
    (void)state;
    /* A buffer of exactly 3 frames of distinct levels: skipping 4 frames
     * from frame 0 lands on frame 1 (4 mod 3). */
    int16_t pcm[2880];
    memset(pcm, 0, sizeof pcm);
    sine(pcm + 960, 960, 48000, 1000.0, 32767.0);
    sine(pcm + 1920, 960, 48000, 1000.0, 3276.7);
    char why[160];
    ep_opus_tx *tx = ep_opus_tx_new(pcm, 2880, 48000, why, sizeof why);
    assert_non_null(tx);
    uint8_t pkt[EP_OPUS_MAX_PACKET], level = 0;
    size_t len = 0;
    ep_opus_tx_skip(tx, 4);
    assert_true(ep_opus_tx_next(tx, pkt, sizeof pkt, &len, &level));
    assert_int_equal(level, 3);
    assert_true(ep_opus_tx_next(tx, pkt, sizeof pkt, &len, &level));
    assert_int_equal(level, 23);
    assert_true(ep_opus_tx_next(tx, pkt, sizeof pkt, &len, &level));
    assert_int_equal(level, 127); /* wrapped */
    ep_opus_tx_skip(tx, 0);
    ep_opus_tx_skip(tx, 3000000000u); /* a multiple of 3 */
    assert_true(ep_opus_tx_next(tx, pkt, sizeof pkt, &len, &level));
    assert_int_equal(level, 3);
    ep_opus_tx_free(tx);
    ep_opus_tx_free(NULL);
}

static void test_bad_input(void **state)
{
    (void)state;
    int16_t pcm[960] = {0};
    char why[160] = "";
    assert_null(ep_opus_tx_new(pcm, 960, 44100, why, sizeof why));
    assert_non_null(strstr(why, "44100 Hz"));
    assert_null(ep_opus_tx_new(pcm, 0, 48000, why, sizeof why));
    assert_non_null(strstr(why, "no samples"));
    assert_null(ep_opus_tx_new(NULL, 10, 48000, why, sizeof why));

    ep_opus_rx *rx = ep_opus_rx_new(why, sizeof why);
    assert_non_null(rx);
    if (!rx) /* gcc -O3 -Wnull-dereference does not know cmocka's assert ends the test */
        return;
    int16_t out[EP_OPUS_MAX_DECODED];
    /* Empty: an error, not a loss to conceal. */
    assert_true(ep_opus_rx_decode(rx, (const uint8_t *)"", 0, out, EP_OPUS_MAX_DECODED) < 0);
    assert_true(ep_opus_rx_decode(rx, NULL, 5, out, EP_OPUS_MAX_DECODED) < 0);
    /* TOC code 3 (arbitrary frame count) with a count of 0: invalid
     * (RFC 6716 §3.2.5). */
    static const uint8_t bad[] = {0x03, 0x00};
    int rc = ep_opus_rx_decode(rx, bad, sizeof bad, out, EP_OPUS_MAX_DECODED);
    assert_true(rc < 0);
    assert_non_null(ep_opus_error_name(rc));
    /* Too small an output buffer. */
    static const uint8_t ok_pkt[] = {0xF8, 0xFF, 0xFE}; /* CELT FB 20 ms, DTX-like */
    assert_true(ep_opus_rx_decode(rx, ok_pkt, sizeof ok_pkt, out, 960) < 0);
    /* Concealment: multiples of 2.5 ms only. */
    assert_int_equal(ep_opus_rx_conceal(rx, out, 960), 960);
    assert_true(ep_opus_rx_conceal(rx, out, 100) < 0);
    assert_true(ep_opus_rx_conceal(rx, out, 0) < 0);
    assert_true(ep_opus_rx_conceal(rx, out, EP_OPUS_MAX_DECODED + 120) < 0);
    ep_opus_rx_free(rx);
    ep_opus_rx_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level),
        cmocka_unit_test(test_round_trip_48k),
        cmocka_unit_test(test_round_trip_16k_and_loop),
        cmocka_unit_test(test_silence_and_talk),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
