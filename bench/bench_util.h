/* What the micro benchmarks share: a common command line, the timing loop,
 * medians over runs, ratios measured in the same run, a table on stdout, a
 * small JSON writer, and the --callgrind mode.
 *
 * Why ratios: the project machines are shared and noisy, so an absolute
 * figure drifts from one minute to the next. Every case of a benchmark is
 * measured once per run, in an order rotated from run to run, and each
 * comparison (ours against libsrtp2, ours against the bare OpenSSL ceiling)
 * is the quotient of two times taken in that same run; the medians over
 * the runs are what is reported.
 *
 * Clock: the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) by
 * default, so time spent descheduled while another engineer's build runs
 * is not charged to the code under test. It does not remove everything
 * (caches and the other hyperthread are shared), which is what the
 * ratios and the callgrind counts are for. --wall switches to
 * CLOCK_MONOTONIC. The clock is read once per chunk of iterations, never
 * per operation, so its own cost (a system call for the CPU clock) is
 * spread over hundreds of operations.
 */
#ifndef PERC_BENCH_UTIL_H
#define PERC_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#define BENCH_MAX_RUNS 31
#define BENCH_MAX_CASES 64
#define BENCH_MAX_RATIOS 64
/* Operations run between two clock reads. Cases that consume prepared
 * packets (unprotect, forward) get them made for one chunk at a time,
 * outside the timed region, so the chunk also bounds their memory. */
#define BENCH_CHUNK 256

/* One benchmark case. prepare (may be NULL) runs untimed before each
 * chunk of n operations (n <= BENCH_CHUNK); op runs one operation, the
 * i-th of its chunk. Both return 0 or a negative perc_err, which aborts
 * the benchmark: a benchmark of code that fails measures nothing. */
typedef struct bench_case {
    const char *name;               /* "srtp_protect/ours/160": group/variant/size */
    int (*prepare)(void *ctx, size_t n);
    int (*op)(void *ctx, size_t i);
    void *ctx;
    size_t bytes;                   /* payload octets per operation, for MB/s; 0 = none */
    bool callgrind;                 /* in the list bench/callgrind.sh runs */
    /* filled in by bench_run */
    uint64_t iters;                 /* per run, after calibration */
    double ns[BENCH_MAX_RUNS];      /* ns per operation, per run */
} bench_case;

/* subject compared with baseline: baseline ns / subject ns per run, i.e.
 * the subject's speed as a fraction of the baseline's (1.0 = as fast;
 * above 1 = faster). target > 0 is reported (met or not), never asserted. */
typedef struct bench_ratio {
    const char *name;
    const bench_case *subject;
    const bench_case *baseline;
    double target;
    double v[BENCH_MAX_RUNS];
} bench_ratio;

typedef struct bench_opts {
    const char *prog;
    int runs;
    uint64_t iterations;            /* fixed count per run; 0 = calibrate */
    double seconds;                 /* time budget of the whole benchmark */
    bool smoke;
    bool wall;                      /* CLOCK_MONOTONIC instead of thread CPU time */
    const char *out;                /* JSON file; NULL = none */
    const char *callgrind_case;     /* --callgrind NAME */
    bool list;                      /* --list: the --callgrind case names */
} bench_opts;

typedef struct bench {
    bench_opts o;
    size_t n_cases;
    bench_case cases[BENCH_MAX_CASES];
    size_t n_ratios;
    bench_ratio ratios[BENCH_MAX_RATIOS];
} bench;

/* Parses the common options (see bench_usage); exits 2 on a bad one.
 * Defaults: 7 runs, a budget of 20 ms per case and run; --smoke: 3 runs
 * within about one second in total. */
void bench_init(bench *b, int argc, char **argv);
void bench_usage(const char *prog);

/* Adds a case (copied) and returns it, for bench_add_ratio. */
bench_case *bench_add(bench *b, const bench_case *c);
void bench_add_ratio(bench *b, const char *name, const bench_case *subject,
                     const bench_case *baseline, double target);

/* Runs the benchmark as the options say: --list prints the callgrind
 * cases; --callgrind runs one case for exactly --iterations operations (in
 * bench_callgrind_loop, the function callgrind.sh collects); otherwise it
 * calibrates, measures all runs, prints the table and writes the JSON with
 * `extra` (may be NULL) adding fields at the top level. Returns the exit
 * status for main. */
typedef struct bench_json bench_json;
int bench_main(bench *b, const char *benchmark, void (*extra)(bench_json *j, void *user),
               void *user);

/* Deterministic filler for keys and payloads (not random: the same bytes
 * every run, so runs are comparable). */
void bench_fill(uint8_t *buf, size_t len, uint32_t seed);
/* Prints "bench: what failed (perc error)" and exits 1. */
_Noreturn void bench_die(const char *what, int rc);

/* ---- the bare OpenSSL ceiling ------------------------------------------- */

/* What a minimal AES-GCM user of OpenSSL does per packet, on a context
 * keyed once (so the key schedule is not counted): install the 12-octet
 * IV, feed the AAD, run the data through, take or check the 16-octet tag
 * with the classic ctrl calls. The ceilings compare libperc with this.
 * in and out may be equal (in place). open returns -1 if the tag does not
 * verify, -2 if OpenSSL failed. */
EVP_CIPHER_CTX *bench_gcm_new(const uint8_t *key, size_t key_len, bool enc);
int bench_gcm_seal(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[16]);
int bench_gcm_open(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, uint8_t *out, size_t len, const uint8_t tag[16]);
/* RFC 7714 §8.1's IV: salt XOR (00 00 || SSRC || ROC || SEQ). */
void bench_rtp_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t roc, uint16_t seq,
                  uint8_t iv[12]);

/* ---- JSON ------------------------------------------------------------------ */

/* Just what the results need: nested objects and arrays, with commas and
 * indentation tracked; keys are ignored inside arrays. Strings are escaped
 * for quotes, backslashes and control characters. */
struct bench_json {
    FILE *f;
    int depth;
    bool first[16];
    bool in_array[16];
};

void bj_open(bench_json *j, FILE *f);
void bj_close(bench_json *j);
void bj_obj(bench_json *j, const char *key);
void bj_arr(bench_json *j, const char *key);
void bj_end(bench_json *j);
void bj_str(bench_json *j, const char *key, const char *v);
void bj_num(bench_json *j, const char *key, double v);
void bj_int(bench_json *j, const char *key, uint64_t v);
void bj_bool(bench_json *j, const char *key, bool v);
void bj_null(bench_json *j, const char *key);

#endif
