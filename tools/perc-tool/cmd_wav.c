/* perc-tool wav: test audio for perc-endpoint's --audio-in, and a look at
 * what --record wrote.
 *
 *   wav speech OUT.wav [--seconds N]   a speech-like test signal
 *   wav info FILE.wav                  what the strict reader sees (JSON)
 *
 * The speech-like signal: 48 kHz mono 16-bit, deterministic (a fixed
 * pseudo-random sequence, no seed from the clock), so the project need not
 * ship a recording. It is made of syllables of 120..280 ms, each a voiced
 * sound: a harmonic series on a fundamental of about 100..200 Hz that
 * glides within the syllable and falls over a phrase, shaped by the three
 * formant resonances of one of five vowels and a spectral tilt, under a
 * smooth attack and release; some syllables start with a short burst of
 * noise (a consonant). Syllables come in words of 1..3 and phrases of
 * 2..4 words, with gaps of 30..80 ms between syllables, 100..200 ms
 * between words and 400..700 ms between phrases, so a level meter shows
 * talk spurts and pauses as real speech would. Peaks are about -6 dBFS.
 *
 * info uses the same reader as perc-endpoint --audio-in, so a file it
 * accepts is one the endpoint takes; it prints rate, channels, frames,
 * seconds, the RMS level in dBov (RFC 6464's scale: 0 loudest, 127
 * silence) and the peak, and exits 2 with the reader's reason otherwise. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../endpoint/wav.h"
#include "cli.h"
#include "commands.h"

static const char USAGE[] =
    "usage: perc-tool wav speech OUT.wav [--seconds N]\n"
    "       perc-tool wav info FILE.wav\n"
    "\n"
    "speech: writes N seconds (default 4, at most 600) of a deterministic\n"
    "speech-like test signal, 48 kHz mono 16-bit PCM: vowel-like harmonic\n"
    "syllables in words and phrases with pauses. For perc-endpoint --audio-in.\n"
    "info: checks FILE.wav with perc-endpoint's strict WAV reader and prints\n"
    "{\"rate\", \"channels\", \"frames\", \"seconds\", \"level_dbov\", \"peak\"}\n"
    "(level: RMS in -dBov, 127 for silence; peak: largest magnitude). Exit 2\n"
    "with the reason when the reader refuses the file.\n";

#define RATE 48000u
#define PI 3.14159265358979323846

/* A small deterministic generator (numerical recipes' LCG): the signal
 * must be the same on every run. */
typedef struct {
    uint32_t s;
} rng;

static double rnd(rng *r)
{
    r->s = r->s * 1664525u + 1013904223u;
    return (double)(r->s >> 8) / 16777216.0;
}

static double rnd_between(rng *r, double lo, double hi) { return lo + (hi - lo) * rnd(r); }

/* F1, F2, F3 (Hz) of five vowels, roughly a male voice. */
static const double FORMANTS[5][3] = {
    {730, 1090, 2440}, /* a */
    {530, 1840, 2480}, /* e */
    {270, 2290, 3010}, /* i */
    {570, 840, 2410},  /* o */
    {300, 870, 2240},  /* u */
};

/* Gain of the vocal tract at f: three resonances over a falling tilt. */
static double tract(const double *fm, double f)
{
    double g = 0.0;
    static const double bw[3] = {90.0, 110.0, 170.0};
    static const double w[3] = {1.0, 0.6, 0.3};
    for (int i = 0; i < 3; i++) {
        double x = (f - fm[i]) / bw[i];
        g += w[i] / (1.0 + x * x);
    }
    return g * 300.0 / (f + 300.0);
}

static void syllable(double *out, size_t len, rng *r, double f0_start, double f0_end, double amp)
{
    const double *fm = FORMANTS[(size_t)(rnd(r) * 5.0) % 5u];
    bool consonant = rnd(r) < 0.5;
    size_t burst = consonant ? (size_t)(RATE * rnd_between(r, 0.02, 0.05)) : 0;
    double phase = 0.0;
    size_t attack = RATE / 50u, release = RATE / 25u; /* 20 ms, 40 ms */
    for (size_t i = 0; i < len; i++) {
        double t = (double)i / (double)len;
        double f0 = f0_start + (f0_end - f0_start) * t;
        phase += 2.0 * PI * f0 / RATE;
        if (phase > 2.0 * PI)
            phase -= 2.0 * PI;
        double v = 0.0;
        int nh = (int)(4000.0 / f0);
        for (int k = 1; k <= nh; k++)
            v += tract(fm, f0 * k) * sin(phase * k);
        double env = 1.0;
        if (i < attack)
            env = 0.5 - 0.5 * cos(PI * (double)i / (double)attack);
        else if (len - i < release)
            env = 0.5 - 0.5 * cos(PI * (double)(len - i) / (double)release);
        double s = v * env * amp;
        if (i < burst) /* a consonant: noise fading into the vowel */
            s = s * (double)i / (double)burst + (rnd(r) - 0.5) * 0.6 * amp * (1.0 - (double)i / (double)burst);
        out[i] = s;
    }
}

static void speech(double *out, size_t n)
{
    rng r = {0x5045u}; /* fixed: the same signal every time */
    memset(out, 0, n * sizeof *out);
    size_t pos = RATE / 5u; /* 200 ms of silence first */
    while (pos < n) {
        int words = 2 + (int)(rnd(&r) * 3.0);
        double f0_phrase = rnd_between(&r, 120.0, 170.0);
        for (int w = 0; w < words && pos < n; w++) {
            int syls = 1 + (int)(rnd(&r) * 3.0);
            for (int k = 0; k < syls && pos < n; k++) {
                size_t len = (size_t)(RATE * rnd_between(&r, 0.12, 0.28));
                if (len > n - pos)
                    len = n - pos;
                /* Declination: the pitch falls through the phrase. */
                double f0 = f0_phrase * (1.0 - 0.04 * (double)w) * rnd_between(&r, 0.92, 1.08);
                syllable(out + pos, len, &r, f0, f0 * rnd_between(&r, 0.85, 1.12),
                         rnd_between(&r, 0.5, 1.0));
                pos += len + (size_t)(RATE * rnd_between(&r, 0.03, 0.08));
            }
            pos += (size_t)(RATE * rnd_between(&r, 0.10, 0.20));
        }
        pos += (size_t)(RATE * rnd_between(&r, 0.40, 0.70));
    }
}

static int run_speech(cli_cmd *cmd, const char *path)
{
    uint64_t secs = 4;
    int rc = cli_uint_opt(cmd, "seconds", 600, 4, &secs);
    if (rc)
        return rc;
    if (secs == 0)
        return cli_fail(cmd, CLI_EXIT_USAGE, "--seconds: 1..600");
    size_t n = (size_t)secs * RATE;
    double *f = malloc(n * sizeof *f);
    int16_t *pcm = malloc(n * sizeof *pcm);
    if (!f || !pcm) {
        free(f);
        free(pcm);
        return cli_fail(cmd, CLI_EXIT_FAILED, "out of memory");
    }
    speech(f, n);
    double peak = 0.0;
    for (size_t i = 0; i < n; i++)
        peak = fabs(f[i]) > peak ? fabs(f[i]) : peak;
    double scale = peak > 0.0 ? 16384.0 / peak : 0.0; /* peaks at -6 dBFS */
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)lrint(f[i] * scale);
    free(f);
    ep_wav_writer w;
    char why[200];
    int code = CLI_EXIT_OK;
    if (!ep_wav_writer_open(&w, path, RATE, 1, why, sizeof why))
        code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: %s", path, why);
    else if (!ep_wav_writer_write(&w, pcm, n)) {
        char ignored[8];
        if (!ep_wav_writer_close(&w, ignored, sizeof ignored))
            ignored[0] = '\0'; /* the write error is the one reported */
        code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: write failed", path);
    } else if (!ep_wav_writer_close(&w, why, sizeof why))
        code = cli_fail(cmd, CLI_EXIT_FAILED, "%s: %s", path, why);
    free(pcm);
    return code;
}

static int run_info(cli_cmd *cmd, const char *path)
{
    int16_t *pcm = NULL;
    size_t n = 0;
    uint32_t rate = 0;
    char why[200];
    uint16_t channels = 0;
    /* Stereo frames are averaged as the endpoint does, so the level is
     * what it would send. */
    if (!ep_wav_read_mono(path, &pcm, &n, &rate, &channels, why, sizeof why))
        return cli_fail(cmd, CLI_EXIT_USAGE, "%s: %s", path, why);
    double sum = 0.0;
    int peak = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)pcm[i] * pcm[i];
        int a = pcm[i] < 0 ? -pcm[i] : pcm[i];
        peak = a > peak ? a : peak;
    }
    double rms = sqrt(sum / (double)n);
    int level = rms > 0.0 ? (int)lrint(-20.0 * log10(rms / 32768.0)) : 127;
    if (level > 127)
        level = 127;
    if (level < 0)
        level = 0;
    printf("{\"rate\": %u, \"channels\": %u, \"frames\": %zu, \"seconds\": %.3f, "
           "\"level_dbov\": %d, \"peak\": %d}\n",
           rate, channels, n, (double)n / rate, level, peak);
    free(pcm);
    return CLI_EXIT_OK;
}

int cmd_wav(int argc, char **argv)
{
    static cli_opt opts[] = {{"seconds", true, NULL, false}};
    cli_cmd cmd = {"perc-tool wav", USAGE, opts, 1, {0}, 0, 1};
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    bool is_speech = argc >= 1 && strcmp(argv[0], "speech") == 0;
    bool is_info = argc >= 1 && strcmp(argv[0], "info") == 0;
    if (!is_speech && !is_info)
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected 'speech' or 'info' (see --help)");
    cmd.prog = is_speech ? "perc-tool wav speech" : "perc-tool wav info";
    if (is_info)
        cmd.n_opts = 0;
    int rc = cli_parse(&cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (cmd.n_pos != 1)
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected one FILE.wav (see --help)");
    return is_speech ? run_speech(&cmd, cmd.pos[0]) : run_info(&cmd, cmd.pos[0]);
}
