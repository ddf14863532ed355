/* The micro benchmarks' shared machinery: see bench_util.h. */
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "perc/error.h"

/* Per case and run when no --seconds is given: long enough that a chunk's
 * two clock reads and the scheduler's tick are noise, short enough that a
 * whole benchmark takes seconds. */
#define DEFAULT_CASE_SECONDS 0.02
/* Calibration, prepare steps and printing on top of the timed work. */
#define BUDGET_OVERHEAD 1.5

_Noreturn void bench_die(const char *what, int rc)
{
    fprintf(stderr, "bench: %s failed (%d: %s)\n", what, rc, perc_strerror(rc));
    exit(1);
}

void bench_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    /* xorshift32: cheap, deterministic, not all-zero. */
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static uint64_t clock_ns(bool wall)
{
    struct timespec ts;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--runs R] [--iterations M | --seconds S] [--smoke] [--wall]\n"
            "          [--out FILE.json] [--list] [--callgrind CASE --iterations K]\n"
            "  --runs R        runs; each figure is the median over them (default 7)\n"
            "  --iterations M  operations per case and run (default: calibrated)\n"
            "  --seconds S     time budget for the whole benchmark (default: 20 ms\n"
            "                  per case and run)\n"
            "  --smoke         3 runs in about one second in total (CI)\n"
            "  --wall          CLOCK_MONOTONIC instead of the thread's CPU time\n"
            "  --out FILE      write the results as JSON\n"
            "  --list          print the case names --callgrind accepts\n"
            "  --callgrind C   run case C for exactly K operations, untimed, for\n"
            "                  valgrind --tool=callgrind (bench/callgrind.sh)\n",
            prog);
    exit(2);
}

void bench_init(bench *b, int argc, char **argv)
{
    memset(b, 0, sizeof *b);
    bench_opts *o = &b->o;
    o->prog = argv[0];
    o->runs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--runs") && v) {
            o->runs = atoi(v);
            i++;
        } else if (!strcmp(a, "--iterations") && v) {
            o->iterations = strtoull(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--seconds") && v) {
            o->seconds = atof(v);
            i++;
        } else if (!strcmp(a, "--out") && v) {
            o->out = v;
            i++;
        } else if (!strcmp(a, "--callgrind") && v) {
            o->callgrind_case = v;
            i++;
        } else if (!strcmp(a, "--smoke")) {
            o->smoke = true;
        } else if (!strcmp(a, "--wall")) {
            o->wall = true;
        } else if (!strcmp(a, "--list")) {
            o->list = true;
        } else {
            bench_usage(o->prog);
        }
    }
    if (o->runs == 0)
        o->runs = o->smoke ? 3 : 7;
    if (o->smoke && o->seconds <= 0)
        o->seconds = 1.0;
    if (o->runs < 1 || o->runs > BENCH_MAX_RUNS || o->seconds < 0 ||
        (o->callgrind_case && o->iterations == 0))
        bench_usage(o->prog);
}

bench_case *bench_add(bench *b, const bench_case *c)
{
    if (b->n_cases == BENCH_MAX_CASES) {
        fprintf(stderr, "bench: too many cases\n");
        exit(1);
    }
    bench_case *d = &b->cases[b->n_cases++];
    *d = *c;
    return d;
}

void bench_add_ratio(bench *b, const char *name, const bench_case *subject,
                     const bench_case *baseline, double target)
{
    if (b->n_ratios == BENCH_MAX_RATIOS) {
        fprintf(stderr, "bench: too many ratios\n");
        exit(1);
    }
    b->ratios[b->n_ratios++] =
        (bench_ratio){.name = name, .subject = subject, .baseline = baseline, .target = target};
}

/* ---- the bare OpenSSL ceiling ------------------------------------------- */

EVP_CIPHER_CTX *bench_gcm_new(const uint8_t *key, size_t key_len, bool enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *cipher = key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    if (!c || EVP_CipherInit_ex(c, cipher, NULL, key, NULL, enc ? 1 : 0) != 1)
        bench_die("EVP AES-GCM set-up", PERC_ERR_CRYPTO);
    return c;
}

int bench_gcm_seal(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, uint8_t *out, size_t len, uint8_t tag[16])
{
    int outl = 0;
    if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, aad, (int)aad_len) != 1 ||
        EVP_EncryptUpdate(c, out, &outl, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(c, out + outl, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        return -2;
    return 0;
}

int bench_gcm_open(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                   const uint8_t *in, uint8_t *out, size_t len, const uint8_t tag[16])
{
    int outl = 0;
    uint8_t t[16];
    memcpy(t, tag, sizeof t);
    if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
        EVP_DecryptUpdate(c, NULL, &outl, aad, (int)aad_len) != 1 ||
        EVP_DecryptUpdate(c, out, &outl, in, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, t) != 1)
        return -2;
    return EVP_DecryptFinal_ex(c, out + outl, &outl) == 1 ? 0 : -1;
}

void bench_rtp_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t roc, uint16_t seq,
                  uint8_t iv[12])
{
    uint8_t b[12] = {0,
                     0,
                     (uint8_t)(ssrc >> 24),
                     (uint8_t)(ssrc >> 16),
                     (uint8_t)(ssrc >> 8),
                     (uint8_t)ssrc,
                     (uint8_t)(roc >> 24),
                     (uint8_t)(roc >> 16),
                     (uint8_t)(roc >> 8),
                     (uint8_t)roc,
                     (uint8_t)(seq >> 8),
                     (uint8_t)seq};
    for (size_t i = 0; i < 12; i++)
        iv[i] = b[i] ^ salt[i];
}

/* ---- timing ---------------------------------------------------------------- */

/* Runs `iters` operations of c in chunks; returns the timed nanoseconds
 * (op calls only) and adds the wall time of everything, prepare included,
 * to *spent_ns (for the time budget). */
static double measure(const bench_case *c, uint64_t iters, bool wall, uint64_t *spent_ns)
{
    uint64_t start = clock_ns(true);
    uint64_t timed = 0, done = 0;
    while (done < iters) {
        size_t n = iters - done < BENCH_CHUNK ? (size_t)(iters - done) : BENCH_CHUNK;
        int rc;
        if (c->prepare && (rc = c->prepare(c->ctx, n)))
            bench_die(c->name, rc);
        uint64_t t0 = clock_ns(wall);
        for (size_t i = 0; i < n; i++) {
            if ((rc = c->op(c->ctx, i)))
                bench_die(c->name, rc);
        }
        timed += clock_ns(wall) - t0;
        done += n;
    }
    if (spent_ns)
        *spent_ns += clock_ns(true) - start;
    return (double)timed;
}

/* Operations for one run of c within target_s of wall time (prepare
 * included); the doubling also warms caches and OpenSSL's lazy set-up. */
static uint64_t calibrate(const bench_case *c, double target_s, bool wall)
{
    uint64_t n = 8;
    for (;;) {
        uint64_t spent = 0;
        (void)measure(c, n, wall, &spent);
        if (spent >= 2000000u || n >= (UINT64_C(1) << 32)) {
            double per_op = (double)spent / (double)n;
            double want = target_s * 1e9 / per_op;
            return want < 16 ? 16 : (uint64_t)want;
        }
        n *= 2;
    }
}

/* The one function callgrind.sh collects (--toggle-collect): a chunk of
 * operations and nothing else, so set-up, prepare and warm-up are not
 * counted. External and not inlined so that its symbol exists. */
void bench_callgrind_chunk(const bench_case *c, size_t n);
__attribute__((noinline)) void bench_callgrind_chunk(const bench_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = c->op(c->ctx, i);
        if (rc)
            bench_die(c->name, rc);
    }
}

static int run_callgrind(bench *b)
{
    const bench_case *c = NULL;
    for (size_t i = 0; i < b->n_cases; i++)
        if (!strcmp(b->cases[i].name, b->o.callgrind_case))
            c = &b->cases[i];
    if (!c) {
        fprintf(stderr, "%s: no case %s (see --list)\n", b->o.prog, b->o.callgrind_case);
        return 2;
    }
    /* Warm-up outside the collected function: first-use paths (OpenSSL's
     * lazy provider set-up, first table inserts) are not the hot path. */
    (void)measure(c, 16, false, NULL);
    uint64_t done = 0;
    while (done < b->o.iterations) {
        uint64_t left = b->o.iterations - done;
        size_t n = left < BENCH_CHUNK ? (size_t)left : BENCH_CHUNK;
        int rc;
        if (c->prepare && (rc = c->prepare(c->ctx, n)))
            bench_die(c->name, rc);
        bench_callgrind_chunk(c, n);
        done += n;
    }
    printf("%s: %llu operations of %s\n", b->o.prog, (unsigned long long)b->o.iterations,
           c->name);
    return 0;
}

/* ---- statistics ---------------------------------------------------------- */

typedef struct stat3 {
    double median, min, max;
} stat3;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static stat3 stats(const double *v, int n)
{
    double s[BENCH_MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    stat3 r = {.min = s[0], .max = s[n - 1]};
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    return r;
}

/* ---- JSON ------------------------------------------------------------------ */

void bj_open(bench_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    fputc('{', f);
    j->first[0] = true;
}

void bj_close(bench_json *j)
{
    fputs("\n}\n", j->f);
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* Comma, newline and indentation before a member, and its key. */
static void member(bench_json *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
    fprintf(j->f, "\n%*s", 2 * (j->depth + 1), "");
    if (!j->in_array[j->depth] && key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void nest(bench_json *j, const char *key, char open, bool array)
{
    member(j, key);
    fputc(open, j->f);
    j->depth++;
    j->first[j->depth] = true;
    j->in_array[j->depth] = array;
}

void bj_obj(bench_json *j, const char *key)
{
    nest(j, key, '{', false);
}

void bj_arr(bench_json *j, const char *key)
{
    nest(j, key, '[', true);
}

void bj_end(bench_json *j)
{
    bool array = j->in_array[j->depth];
    bool empty = j->first[j->depth];
    j->depth--;
    if (!empty)
        fprintf(j->f, "\n%*s", 2 * (j->depth + 1), "");
    fputc(array ? ']' : '}', j->f);
}

void bj_str(bench_json *j, const char *key, const char *v)
{
    member(j, key);
    put_string(j->f, v);
}

void bj_num(bench_json *j, const char *key, double v)
{
    member(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.6g", v);
    else
        fputs("null", j->f); /* JSON has no inf or NaN */
}

void bj_int(bench_json *j, const char *key, uint64_t v)
{
    member(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void bj_bool(bench_json *j, const char *key, bool v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void bj_null(bench_json *j, const char *key)
{
    member(j, key);
    fputs("null", j->f);
}

static void bj_stat(bench_json *j, const char *key, stat3 s)
{
    bj_obj(j, key);
    bj_num(j, "median", s.median);
    bj_num(j, "min", s.min);
    bj_num(j, "max", s.max);
    bj_end(j);
}

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *p = strchr(line, ':');
        if (!p)
            break;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        snprintf(out, cap, "%s", p);
        out[strcspn(out, "\n")] = '\0';
        break;
    }
    fclose(f);
}

/* ---- the whole benchmark ----------------------------------------------- */

static void print_tables(const bench *b, const char *benchmark)
{
    printf("\n%s: %d runs, %s clock, medians (min..max) over the runs\n\n", benchmark, b->o.runs,
           b->o.wall ? "CLOCK_MONOTONIC" : "thread CPU");
    printf("%-38s %10s %10s %20s %11s %9s\n", "case", "iters/run", "ns/op", "(min..max)",
           "ops/s", "MB/s");
    for (size_t i = 0; i < b->n_cases; i++) {
        const bench_case *c = &b->cases[i];
        stat3 s = stats(c->ns, b->o.runs);
        char range[32], mbs[16] = "";
        snprintf(range, sizeof range, "(%.0f..%.0f)", s.min, s.max);
        if (c->bytes)
            snprintf(mbs, sizeof mbs, "%.0f", (double)c->bytes * 1e3 / s.median);
        printf("%-38s %10llu %10.1f %20s %11.0f %9s\n", c->name, (unsigned long long)c->iters,
               s.median, range, 1e9 / s.median, mbs);
    }
    if (!b->n_ratios)
        return;
    printf("\nratio = baseline ns / subject ns in the same run (1.0 = as fast; above 1 = faster)\n");
    printf("%-44s %8s %17s %8s %s\n", "ratio", "median", "(min..max)", "target", "");
    for (size_t i = 0; i < b->n_ratios; i++) {
        const bench_ratio *r = &b->ratios[i];
        stat3 s = stats(r->v, b->o.runs);
        char range[32], tgt[16] = "-";
        const char *met = "";
        snprintf(range, sizeof range, "(%.3f..%.3f)", s.min, s.max);
        if (r->target > 0) {
            snprintf(tgt, sizeof tgt, ">=%.2f", r->target);
            met = s.median >= r->target ? "met" : "NOT met";
        }
        printf("%-44s %8.3f %17s %8s %s\n", r->name, s.median, range, tgt, met);
    }
}

/* Beside FILE.json: FILE.cases.tsv and FILE.ratios.tsv, one line per case
 * or ratio with the medians, for gnuplot and for bench/run.sh's summary
 * table (so neither needs a JSON parser). */
static FILE *open_beside(const char *json, const char *suffix)
{
    char path[1024];
    size_t n = strlen(json);
    if (n >= 5 && !strcmp(json + n - 5, ".json"))
        n -= 5;
    if (n + strlen(suffix) + 1 > sizeof path)
        return NULL;
    memcpy(path, json, n);
    strcpy(path + n, suffix);
    return fopen(path, "w");
}

static int write_tsv(const bench *b, const char *benchmark)
{
    FILE *c = open_beside(b->o.out, ".cases.tsv");
    FILE *r = open_beside(b->o.out, ".ratios.tsv");
    if (!c || !r) {
        fprintf(stderr, "%s: cannot write the .tsv files beside %s\n", b->o.prog, b->o.out);
        if (c)
            fclose(c);
        if (r)
            fclose(r);
        return 1;
    }
    fprintf(c, "# benchmark\tcase\tns_median\tns_min\tns_max\tbytes\n");
    for (size_t i = 0; i < b->n_cases; i++) {
        stat3 s = stats(b->cases[i].ns, b->o.runs);
        fprintf(c, "%s\t%s\t%.3f\t%.3f\t%.3f\t%zu\n", benchmark, b->cases[i].name, s.median,
                s.min, s.max, b->cases[i].bytes);
    }
    fprintf(r, "# benchmark\tratio\tmedian\tmin\tmax\ttarget\tmet\n");
    for (size_t i = 0; i < b->n_ratios; i++) {
        const bench_ratio *q = &b->ratios[i];
        stat3 s = stats(q->v, b->o.runs);
        fprintf(r, "%s\t%s\t%.4f\t%.4f\t%.4f\t%.2f\t%s\n", benchmark, q->name, s.median,
                s.min, s.max, q->target,
                q->target > 0 ? (s.median >= q->target ? "met" : "NOT_met") : "-");
    }
    int bad = ferror(c) || ferror(r);
    bad |= fclose(c) != 0;
    bad |= fclose(r) != 0;
    return bad ? 1 : 0;
}

static int write_json(const bench *b, const char *benchmark,
                      void (*extra)(bench_json *j, void *user), void *user)
{
    FILE *f = fopen(b->o.out, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s\n", b->o.prog, b->o.out);
        return 1;
    }
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    bench_json j;
    bj_open(&j, f);
    bj_str(&j, "benchmark", benchmark);
    bj_obj(&j, "machine");
    bj_str(&j, "cpu", cpu);
    bj_int(&j, "nproc", (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
    bj_str(&j, "openssl", OpenSSL_version(OPENSSL_VERSION));
    bj_end(&j);
    bj_str(&j, "clock", b->o.wall ? "monotonic" : "thread_cputime");
    bj_int(&j, "runs", (uint64_t)b->o.runs);
    bj_bool(&j, "smoke", b->o.smoke);
    bj_str(&j, "ratio_definition", "baseline ns/op divided by subject ns/op, per run");
    if (extra)
        extra(&j, user);
    bj_arr(&j, "cases");
    for (size_t i = 0; i < b->n_cases; i++) {
        const bench_case *c = &b->cases[i];
        stat3 s = stats(c->ns, b->o.runs);
        bj_obj(&j, NULL);
        bj_str(&j, "name", c->name);
        bj_int(&j, "bytes", c->bytes);
        bj_int(&j, "iterations_per_run", c->iters);
        bj_stat(&j, "ns_per_op", s);
        bj_num(&j, "ops_per_s", 1e9 / s.median);
        if (c->bytes)
            bj_num(&j, "mb_per_s", (double)c->bytes * 1e3 / s.median);
        bj_arr(&j, "runs_ns_per_op");
        for (int r = 0; r < b->o.runs; r++)
            bj_num(&j, NULL, c->ns[r]);
        bj_end(&j);
        bj_end(&j);
    }
    bj_end(&j);
    bj_arr(&j, "ratios");
    for (size_t i = 0; i < b->n_ratios; i++) {
        const bench_ratio *r = &b->ratios[i];
        stat3 s = stats(r->v, b->o.runs);
        bj_obj(&j, NULL);
        bj_str(&j, "name", r->name);
        bj_str(&j, "subject", r->subject->name);
        bj_str(&j, "baseline", r->baseline->name);
        bj_stat(&j, "ratio", s);
        if (r->target > 0) {
            bj_num(&j, "target", r->target);
            bj_bool(&j, "met", s.median >= r->target);
        } else {
            bj_null(&j, "target");
            bj_null(&j, "met");
        }
        bj_arr(&j, "runs");
        for (int k = 0; k < b->o.runs; k++)
            bj_num(&j, NULL, r->v[k]);
        bj_end(&j);
        bj_end(&j);
    }
    bj_end(&j);
    bj_close(&j);
    if (fclose(f) != 0) {
        fprintf(stderr, "%s: error writing %s\n", b->o.prog, b->o.out);
        return 1;
    }
    printf("\nresults: %s\n", b->o.out);
    return write_tsv(b, benchmark);
}

int bench_main(bench *b, const char *benchmark, void (*extra)(bench_json *j, void *user),
               void *user)
{
    if (b->o.list) {
        for (size_t i = 0; i < b->n_cases; i++)
            if (b->cases[i].callgrind)
                printf("%s\n", b->cases[i].name);
        return 0;
    }
    if (b->o.callgrind_case)
        return run_callgrind(b);

    double per_case = DEFAULT_CASE_SECONDS;
    if (b->o.seconds > 0)
        per_case = b->o.seconds / (BUDGET_OVERHEAD * (double)b->o.runs * (double)b->n_cases);
    for (size_t i = 0; i < b->n_cases; i++) {
        bench_case *c = &b->cases[i];
        c->iters = b->o.iterations ? b->o.iterations : calibrate(c, per_case, b->o.wall);
    }
    /* Every case once per run; the starting case rotates so that no case
     * is always first (colder) or always last. */
    for (int r = 0; r < b->o.runs; r++) {
        for (size_t k = 0; k < b->n_cases; k++) {
            bench_case *c = &b->cases[(k + (size_t)r) % b->n_cases];
            c->ns[r] = measure(c, c->iters, b->o.wall, NULL) / (double)c->iters;
        }
    }
    for (size_t i = 0; i < b->n_ratios; i++) {
        bench_ratio *q = &b->ratios[i];
        for (int r = 0; r < b->o.runs; r++)
            q->v[r] = q->baseline->ns[r] / q->subject->ns[r];
    }
    print_tables(b, benchmark);
    return b->o.out ? write_json(b, benchmark, extra, user) : 0;
}
