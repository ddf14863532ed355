/* The Media Distributor's forwarding core (perc/mdd.h): one double-
 * encrypted packet from one sender forwarded to N receivers (N = 1, 10,
 * 50), against the crypto ceiling of that work: one AES-GCM open plus N
 * seals of the same sizes on contexts keyed once.
 *
 *   mdd_forward/ours/N<n>/<P>     perc_mdd_rtp_in (EKT field stripped and
 *                                 kept, outer open at the estimated ROC,
 *                                 replay window, OHB check, then per
 *                                 receiver: SEQ state, outer seal with its
 *                                 key, EKT field re-appended, queued) and
 *                                 the N perc_mdd_pop calls that drain the
 *                                 queue into the caller's buffer, as the
 *                                 daemon must.
 *   mdd_forward/ceiling/N<n>/<P>  one open in place, then N seals from that
 *                                 plaintext straight into N output buffers
 *                                 (out of place, so no copy is needed), each
 *                                 with its receiver's own context.
 *
 * P is the media payload (160 or 1200 octets) behind a 12-octet header;
 * what the MD opens and seals is P + 17 octets (inner tag and OHB). The
 * sender's packets carry a Short EKT field, and a Full one every fifth
 * packet as an audio sender's would (RFC 8870 §4.6: at least every 100 ms
 * at 20 ms per packet). They are made untimed before each chunk.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bench_util.h"
#include "perc/double_endpoint.h"
#include "perc/ekt_field.h"
#include "perc/mdd.h"
#include "perc/srtp.h"

#define SSRC 0xAB0D1234u
#define HDR 12
#define CAP 1600
#define MAX_N 50
#define SENDER 1u /* handle; receivers are 2 .. N + 1 */
#define PROFILE PERC_PROFILE_DOUBLE_AES_128_GCM

static uint8_t g_pkts[BENCH_CHUNK][CAP];
static size_t g_lens[BENCH_CHUNK];
static uint32_t g_rocs[BENCH_CHUNK];
static uint16_t g_seqs[BENCH_CHUNK];

typedef struct keys4 {
    uint8_t ck[16], cs[12], sk[16], ss[12];
} keys4;

typedef struct fwd {
    size_t n;                       /* receivers */
    size_t payload;
    uint8_t plain[HDR + 1200];
    /* the sender, with one SEQ stream per variant: the MD's replay window
     * and ROC estimate must see consecutive SEQs */
    perc_srtp_session *inner, *outer;
    struct stream {
        uint16_t seq;
        uint32_t roc;
        uint64_t count;
    } s_ours, s_ceil;
    /* ours */
    perc_mdd *mdd;
    uint64_t now;
    uint8_t out[PERC_MDD_MAX_PACKET + 64];
    /* the ceiling */
    perc_srtp_session_keys in_keys;     /* the sender's client_write session keys */
    perc_srtp_session_keys out_keys[MAX_N];
    EVP_CIPHER_CTX *open;
    EVP_CIPHER_CTX *seal[MAX_N];
    uint8_t work[CAP];
    uint8_t outs[MAX_N][CAP];
} fwd;

static void check(int rc, const char *what)
{
    if (rc)
        bench_die(what, rc);
}

static void keys_of(uint32_t handle, keys4 *k)
{
    bench_fill(k->ck, 16, 100 + 4 * handle);
    bench_fill(k->cs, 12, 101 + 4 * handle);
    bench_fill(k->sk, 16, 102 + 4 * handle);
    bench_fill(k->ss, 12, 103 + 4 * handle);
}

static perc_srtp_session *session_of(const uint8_t *key, const uint8_t *salt,
                                     perc_srtp_session_keys *keys_out)
{
    perc_srtp_session_keys k;
    perc_srtp_session *s = NULL;
    check(perc_srtp_kdf(PERC_AES128_GCM, key, 16, salt, 12, &k), "kdf");
    check(perc_srtp_session_new(&k, &s), "perc_srtp_session_new");
    if (keys_out)
        *keys_out = k;
    perc_srtp_keys_wipe(&k);
    return s;
}

/* The sender's next packet into g_pkts[k]: double-protected at its SEQ,
 * with or without (the ceiling's) an EKT field. */
static int make_packet(fwd *f, struct stream *s, size_t k, bool ekt)
{
    uint8_t *p = g_pkts[k];
    size_t n = HDR + f->payload;
    memcpy(p, f->plain, n);
    p[2] = (uint8_t)(s->seq >> 8);
    p[3] = (uint8_t)s->seq;
    g_seqs[k] = s->seq;
    g_rocs[k] = s->roc;
    int rc = perc_double_protect(f->inner, s->roc, f->outer, s->roc, p, n, CAP, &n);
    if (rc)
        return rc;
    if (ekt) {
        /* The MD never looks inside the field: fixed bytes stand in for
         * the wrapped key. */
        static const uint8_t ct[24] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                       13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
        size_t fl;
        if (s->count % 5 == 0)
            rc = perc_ekt_full_build(ct, sizeof ct, 0x4242, 0, p + n, CAP - n, &fl);
        else
            rc = perc_ekt_short_build(p + n, CAP - n, &fl);
        n += fl;
    }
    g_lens[k] = n;
    s->count++;
    s->seq++;
    if (s->seq == 0)
        s->roc++;
    return rc;
}

static int prep_ours(void *ctx, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        fwd *f = ctx;
        int rc = make_packet(f, &f->s_ours, k, true);
        if (rc)
            return rc;
    }
    return 0;
}

static int prep_ceiling(void *ctx, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        fwd *f = ctx;
        int rc = make_packet(f, &f->s_ceil, k, false);
        if (rc)
            return rc;
    }
    return 0;
}

static int forward_ours(void *ctx, size_t i)
{
    fwd *f = ctx;
    int rc = perc_mdd_rtp_in(f->mdd, SENDER, g_pkts[i], g_lens[i], f->now++);
    if (rc)
        return rc;
    size_t popped = 0, len;
    uint64_t h;
    while (perc_mdd_pop(f->mdd, &h, f->out, sizeof f->out, &len) == PERC_OK)
        popped++;
    /* a packet not forwarded to everyone would flatter the figure */
    return popped == f->n ? 0 : PERC_ERR_LIMIT;
}

static int forward_ceiling(void *ctx, size_t i)
{
    fwd *f = ctx;
    const uint8_t *p = g_pkts[i];
    size_t body = g_lens[i] - HDR - 16; /* P + 17 */
    uint8_t iv[12];
    bench_rtp_iv(f->in_keys.srtp_salt, SSRC, g_rocs[i], g_seqs[i], iv);
    memcpy(f->work, p, HDR);
    if (bench_gcm_open(f->open, iv, p, HDR, p + HDR, f->work + HDR, body, p + HDR + body))
        return PERC_ERR_AUTH;
    for (size_t r = 0; r < f->n; r++) {
        uint8_t *o = f->outs[r];
        memcpy(o, f->work, HDR);
        bench_rtp_iv(f->out_keys[r].srtp_salt, SSRC, g_rocs[i], g_seqs[i], iv);
        if (bench_gcm_seal(f->seal[r], iv, o, HDR, f->work + HDR, o + HDR, body, o + HDR + body))
            return PERC_ERR_CRYPTO;
    }
    return 0;
}

static void fwd_init(fwd *f, size_t n, size_t payload)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->payload = payload;
    f->s_ours.seq = f->s_ceil.seq = 1;
    uint8_t *h = f->plain;
    h[0] = 0x80;
    h[1] = 111;
    h[8] = (uint8_t)(SSRC >> 24);
    h[9] = (uint8_t)(SSRC >> 16);
    h[10] = (uint8_t)(SSRC >> 8);
    h[11] = (uint8_t)SSRC;
    bench_fill(h + HDR, payload, (uint32_t)(payload + n));

    keys4 sk;
    keys_of(SENDER, &sk);
    uint8_t ik[16], is[12];
    bench_fill(ik, 16, 9);
    bench_fill(is, 12, 10);
    f->inner = session_of(ik, is, NULL);
    f->outer = session_of(sk.ck, sk.cs, &f->in_keys);

    perc_mdd_config cfg = {.max_endpoints = MAX_N + 1};
    check(perc_mdd_new(&cfg, &f->mdd), "perc_mdd_new");
    for (uint32_t e = SENDER; e <= SENDER + n; e++) {
        keys4 k;
        keys_of(e, &k);
        check(perc_mdd_endpoint_add(f->mdd, e, 0), "perc_mdd_endpoint_add");
        check(perc_mdd_endpoint_set_keys(f->mdd, e, PROFILE, k.ck, 16, k.cs, 12, k.sk, 16, k.ss,
                                         12),
              "perc_mdd_endpoint_set_keys");
        if (e != SENDER) {
            /* the ceiling seals with the same server_write session keys */
            size_t r = e - SENDER - 1;
            perc_srtp_session *s = session_of(k.sk, k.ss, &f->out_keys[r]);
            perc_srtp_session_free(s);
            f->seal[r] = bench_gcm_new(f->out_keys[r].srtp_key, 16, true);
        }
    }
    f->open = bench_gcm_new(f->in_keys.srtp_key, 16, false);

    /* Warm-up: the output queue is a ring of large slots, first touched
     * (page faults) only as it wraps; go round it once before any timing,
     * or the first run pays for it. */
    size_t warm = PERC_MDD_DEFAULT_QUEUE / n + 16;
    while (warm > 0) {
        size_t c = warm < BENCH_CHUNK ? warm : BENCH_CHUNK;
        check(prep_ours(f, c), "warm-up");
        for (size_t i = 0; i < c; i++)
            check(forward_ours(f, i), "warm-up");
        warm -= c;
    }
}

static void fwd_free(fwd *f)
{
    perc_srtp_session_free(f->inner);
    perc_srtp_session_free(f->outer);
    perc_mdd_free(f->mdd);
    EVP_CIPHER_CTX_free(f->open);
    for (size_t r = 0; r < f->n; r++)
        EVP_CIPHER_CTX_free(f->seal[r]);
    perc_srtp_keys_wipe(&f->in_keys);
    for (size_t r = 0; r < MAX_N; r++)
        perc_srtp_keys_wipe(&f->out_keys[r]);
}

static void extra(bench_json *j, void *user)
{
    (void)user;
    bj_str(j, "profile", "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM (0x0009)");
    bj_int(j, "rtp_header_octets", HDR);
    bj_str(j, "bytes_definition", "payload octets times receivers, per forwarded packet");
}

#define NN 3
#define NP 2
static const size_t NS[NN] = {1, 10, 50};
static const size_t PS[NP] = {160, 1200};

int main(int argc, char **argv)
{
    static bench b;
    static fwd f[NN][NP];
    static char names[NN][NP][3][64];
    bench_init(&b, argc, argv);
    for (size_t ni = 0; ni < NN; ni++) {
        for (size_t pi = 0; pi < NP; pi++) {
            fwd *x = &f[ni][pi];
            fwd_init(x, NS[ni], PS[pi]);
            /* callgrind.sh counts the 160-octet cases */
            bool cg = PS[pi] == 160;
            snprintf(names[ni][pi][0], 64, "mdd_forward/ours/N%zu/%zu", NS[ni], PS[pi]);
            snprintf(names[ni][pi][1], 64, "mdd_forward/ceiling/N%zu/%zu", NS[ni], PS[pi]);
            snprintf(names[ni][pi][2], 64, "mdd_forward ours/ceiling/N%zu/%zu", NS[ni], PS[pi]);
            bench_case *o = bench_add(&b, &(bench_case){.name = names[ni][pi][0],
                                                        .prepare = prep_ours,
                                                        .op = forward_ours,
                                                        .ctx = x,
                                                        .bytes = PS[pi] * NS[ni],
                                                        .callgrind = cg});
            bench_case *c = bench_add(&b, &(bench_case){.name = names[ni][pi][1],
                                                        .prepare = prep_ceiling,
                                                        .op = forward_ceiling,
                                                        .ctx = x,
                                                        .bytes = PS[pi] * NS[ni],
                                                        .callgrind = cg});
            bench_add_ratio(&b, names[ni][pi][2], o, c, 0.8);
        }
    }
    int rc = bench_main(&b, "mdd_forward", extra, NULL);
    for (size_t ni = 0; ni < NN; ni++)
        for (size_t pi = 0; pi < NP; pi++)
            fwd_free(&f[ni][pi]);
    return rc;
}
