/* SRTP AES-128-GCM (RFC 7714) and the double transform (RFC 8723) per
 * packet: libperc against libsrtp2 on the same packets, and both against
 * the bare OpenSSL ceiling (one or two AES-GCM seals or opens of the same
 * bytes on contexts keyed once). Payloads of 60, 160 and 1200 octets
 * behind a 12-octet RTP header.
 *
 * Cases, per payload size P (names are group/variant/P):
 *   srtp_protect     ours: perc_srtp_protect (per-SSRC ROC state);
 *                    libsrtp: srtp_protect; evp: one seal.
 *   srtp_unprotect   ours: perc_srtp_unprotect (ROC estimate, replay
 *                    window); libsrtp: srtp_unprotect; evp: one open.
 *   double_protect   ours: the EKT sender's decision and field
 *                    (perc_ekt_tx_next on a 20 ms packet clock, so a Full
 *                    field every fifth packet, its ciphertext cached),
 *                    perc_double_tx_protect, the field appended;
 *                    ceiling: two seals (inner over the payload, outer
 *                    over payload || inner tag || OHB).
 *   double_unprotect ours: perc_ekt_rx_process on the field (Short or a
 *                    repeated Full), perc_double_rx_unprotect (outer and
 *                    inner replay windows); ceiling: two opens.
 * Every protect case starts from the same plain packet, copied into the
 * work buffer with the next SEQ (the copy is in every variant). Unprotect
 * cases open packets made untimed before each chunk, each variant its own
 * increasing SEQs (replay windows).
 *
 * Our protect output is checked against libsrtp2's byte for byte once at
 * start, so the two really do the same work.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include "bench_util.h"
#include "perc/double_endpoint.h"
#include "perc/ekt.h"
#include "perc/ekt_field.h"
#include "perc/srtp.h"

#define SSRC 0x5EED1234u
#define HDR 12
#define CAP 1600
#define PACKET_NS 20000000u /* one packet per 20 ms: audio */

/* libsrtp reads headers as 32-bit words: keep buffers aligned. */
typedef union abuf {
    uint32_t align;
    uint8_t b[CAP];
} abuf;

static abuf g_pkts[BENCH_CHUNK];
static size_t g_lens[BENCH_CHUNK];

static const uint8_t MASTER_KEY[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                       0x98, 0xA9, 0xBA, 0xCB, 0xDC, 0xED, 0xFE, 0x0F};
static const uint8_t MASTER_SALT[12] = {0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5,
                                        0x06, 0x17, 0x28, 0x39, 0x4A, 0x5B};

typedef struct sender {             /* SEQ and ROC of one variant's packet stream */
    uint16_t seq;
    uint32_t roc;
} sender;

static void sender_next(sender *s)
{
    s->seq++;
    if (s->seq == 0)
        s->roc++;
}

typedef struct dbl {                /* one double-transform sender and its receiver */
    perc_ekt_tx *etx;
    perc_double_tx *tx;
    perc_ekt_rx *erx;
    perc_double_rx *rx;
    uint64_t now;                   /* the sender's virtual clock */
} dbl;

typedef struct size_ctx {
    size_t payload;
    size_t plain_len;
    abuf plain;
    abuf buf;
    /* ours */
    perc_srtp_ctx *tx, *rx, *rx_src, *lib_src;
    /* libsrtp2 */
    srtp_t lib_tx, lib_rx;
    /* the ceiling: session key and salt as the KDF derives them */
    perc_srtp_session_keys keys;
    EVP_CIPHER_CTX *seal, *open, *inner_seal, *inner_open;
    /* double transform */
    dbl d_protect, d_unprotect;
    sender s_ours, s_lib, s_evp, s_rx_ours, s_rx_lib, s_rx_evp, s_dbl, s_dbl_rx, s_dbl_evp,
        s_dbl_evp_rx;
} size_ctx;

static void check(int rc, const char *what)
{
    if (rc)
        bench_die(what, rc);
}

static void lib_check(srtp_err_status_t st, const char *what)
{
    if (st != srtp_err_status_ok) {
        fprintf(stderr, "bench_srtp: %s: libsrtp2 error %d\n", what, (int)st);
        exit(1);
    }
}

static srtp_t lib_new(void)
{
    uint8_t keysalt[28];
    memcpy(keysalt, MASTER_KEY, 16);
    memcpy(keysalt + 16, MASTER_SALT, 12);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    p.key = keysalt;
    p.window_size = 128;
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = SSRC;
    srtp_t s = NULL;
    lib_check(srtp_create(&s, &p), "srtp_create");
    return s;
}

static perc_srtp_ctx *ours_new(const perc_srtp_session_keys *keys)
{
    perc_srtp_ctx *c = NULL;
    check(perc_srtp_ctx_new(keys, 0, &c), "perc_srtp_ctx_new");
    return c;
}

/* The plain packet with s's SEQ, into out; returns its length. */
static size_t plain_at(const size_ctx *z, const sender *s, uint8_t *out)
{
    memcpy(out, z->plain.b, z->plain_len);
    out[2] = (uint8_t)(s->seq >> 8);
    out[3] = (uint8_t)s->seq;
    return z->plain_len;
}

/* ---- single SRTP --------------------------------------------------------- */

static int protect_ours(void *ctx, size_t i)
{
    (void)i;
    size_ctx *z = ctx;
    size_t n = plain_at(z, &z->s_ours, z->buf.b);
    sender_next(&z->s_ours);
    return perc_srtp_protect(z->tx, z->buf.b, n, CAP, &n);
}

static int protect_lib(void *ctx, size_t i)
{
    (void)i;
    size_ctx *z = ctx;
    int n = (int)plain_at(z, &z->s_lib, z->buf.b);
    sender_next(&z->s_lib);
    return srtp_protect(z->lib_tx, z->buf.b, &n) == srtp_err_status_ok ? 0 : PERC_ERR_CRYPTO;
}

/* One seal in place: AAD the header, plaintext the payload, tag after. */
static int evp_seal_packet(size_ctx *z, EVP_CIPHER_CTX *c, const sender *s, uint8_t *p, size_t n)
{
    uint8_t iv[12];
    bench_rtp_iv(z->keys.srtp_salt, SSRC, s->roc, s->seq, iv);
    return bench_gcm_seal(c, iv, p, HDR, p + HDR, p + HDR, n - HDR, p + n) ? PERC_ERR_CRYPTO : 0;
}

static int evp_open_packet(size_ctx *z, EVP_CIPHER_CTX *c, const sender *s, uint8_t *p, size_t n)
{
    uint8_t iv[12];
    bench_rtp_iv(z->keys.srtp_salt, SSRC, s->roc, s->seq, iv);
    return bench_gcm_open(c, iv, p, HDR, p + HDR, p + HDR, n - HDR - 16, p + n - 16)
               ? PERC_ERR_AUTH
               : 0;
}

static int protect_evp(void *ctx, size_t i)
{
    (void)i;
    size_ctx *z = ctx;
    size_t n = plain_at(z, &z->s_evp, z->buf.b);
    int rc = evp_seal_packet(z, z->seal, &z->s_evp, z->buf.b, n);
    sender_next(&z->s_evp);
    return rc;
}

/* Packets for an unprotect variant, sealed by our sender (byte-identical to
 * libsrtp2's, checked at start). */
static int prep_ours_stream(perc_srtp_ctx *src, size_ctx *z, sender *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t len = plain_at(z, s, g_pkts[k].b);
        sender_next(s);
        int rc = perc_srtp_protect(src, g_pkts[k].b, len, CAP, &g_lens[k]);
        if (rc)
            return rc;
    }
    return 0;
}

static int prep_unprotect_ours(void *ctx, size_t n)
{
    size_ctx *z = ctx;
    return prep_ours_stream(z->rx_src, z, &z->s_rx_ours, n);
}

static int prep_unprotect_lib(void *ctx, size_t n)
{
    size_ctx *z = ctx;
    return prep_ours_stream(z->lib_src, z, &z->s_rx_lib, n);
}

static int unprotect_ours(void *ctx, size_t i)
{
    size_ctx *z = ctx;
    size_t n;
    return perc_srtp_unprotect(z->rx, g_pkts[i].b, g_lens[i], &n);
}

static int unprotect_lib(void *ctx, size_t i)
{
    size_ctx *z = ctx;
    int n = (int)g_lens[i];
    return srtp_unprotect(z->lib_rx, g_pkts[i].b, &n) == srtp_err_status_ok ? 0 : PERC_ERR_AUTH;
}

/* The evp variant's packets carry their SEQ and ROC in a side table: the
 * ceiling does not estimate indices. */
static sender g_evp_at[BENCH_CHUNK];

static int prep_unprotect_evp(void *ctx, size_t n)
{
    size_ctx *z = ctx;
    for (size_t k = 0; k < n; k++) {
        g_evp_at[k] = z->s_rx_evp;
        size_t len = plain_at(z, &z->s_rx_evp, g_pkts[k].b);
        sender_next(&z->s_rx_evp);
        if (evp_seal_packet(z, z->seal, &g_evp_at[k], g_pkts[k].b, len))
            return PERC_ERR_CRYPTO;
        g_lens[k] = len + 16;
    }
    return 0;
}

static int unprotect_evp(void *ctx, size_t i)
{
    size_ctx *z = ctx;
    return evp_open_packet(z, z->open, &g_evp_at[i], g_pkts[i].b, g_lens[i]);
}

/* ---- double transform ---------------------------------------------------- */

static int dbl_send(dbl *d, size_ctx *z, sender *s, uint8_t *out, size_t *out_len)
{
    size_t n = plain_at(z, s, out);
    sender_next(s);
    uint32_t roc = 0;
    uint8_t field[PERC_EKT_FULL_MAX_LEN];
    perc_ekt_tx_packet pk;
    int rc = perc_double_tx_roc(d->tx, SSRC, &roc);
    if (rc == PERC_OK)
        rc = perc_ekt_tx_next(d->etx, roc, false, d->now, field, sizeof field, &pk);
    d->now += PACKET_NS;
    if (rc == PERC_OK)
        rc = perc_double_tx_protect(d->tx, out, n, CAP, &n);
    if (rc == PERC_OK)
        rc = perc_ekt_field_append(out, n, CAP, field, pk.field_len, out_len);
    return rc;
}

static int double_protect_ours(void *ctx, size_t i)
{
    (void)i;
    size_ctx *z = ctx;
    size_t n;
    return dbl_send(&z->d_protect, z, &z->s_dbl, z->buf.b, &n);
}

/* Two seals in place: inner over the payload (AAD: the header, which is
 * what the synthetic header is for a packet without extensions), then the
 * outer over payload || inner tag || OHB (00). */
static int evp_double_seal(size_ctx *z, const sender *s, uint8_t *p, size_t n)
{
    uint8_t iv[12];
    bench_rtp_iv(z->keys.srtp_salt, SSRC, s->roc, s->seq, iv);
    if (bench_gcm_seal(z->inner_seal, iv, p, HDR, p + HDR, p + HDR, n - HDR, p + n))
        return PERC_ERR_CRYPTO;
    p[n + 16] = 0;
    n += 17;
    return bench_gcm_seal(z->seal, iv, p, HDR, p + HDR, p + HDR, n - HDR, p + n) ? PERC_ERR_CRYPTO
                                                                                  : 0;
}

static int double_protect_evp(void *ctx, size_t i)
{
    (void)i;
    size_ctx *z = ctx;
    size_t n = plain_at(z, &z->s_dbl_evp, z->buf.b);
    int rc = evp_double_seal(z, &z->s_dbl_evp, z->buf.b, n);
    sender_next(&z->s_dbl_evp);
    return rc;
}

static int prep_double_unprotect_ours(void *ctx, size_t n)
{
    size_ctx *z = ctx;
    for (size_t k = 0; k < n; k++) {
        int rc = dbl_send(&z->d_unprotect, z, &z->s_dbl_rx, g_pkts[k].b, &g_lens[k]);
        if (rc)
            return rc;
    }
    return 0;
}

/* What an endpoint does with each packet received: the EKT field first
 * (a new key is installed, then committed once a packet authenticated
 * under it), then both layers. */
static int double_unprotect_ours(void *ctx, size_t i)
{
    size_ctx *z = ctx;
    dbl *d = &z->d_unprotect;
    perc_ekt_rx_result res;
    int rc = perc_ekt_rx_process(d->erx, g_pkts[i].b, g_lens[i], SSRC, d->now, &res);
    if (rc)
        return rc;
    if (res.kind == PERC_EKT_RX_FULL_NEW_KEY) {
        perc_srtp_session_keys k;
        rc = perc_srtp_kdf(PERC_AES128_GCM, res.master_key, res.master_key_len, res.salt,
                           res.salt_len, &k);
        if (rc == PERC_OK)
            rc = perc_double_rx_set_inner(d->rx, SSRC, &k, res.roc);
        perc_srtp_keys_wipe(&k);
        if (rc)
            return rc;
    }
    size_t n;
    rc = perc_double_rx_unprotect(d->rx, g_pkts[i].b, res.srtp_len, &n, NULL);
    if (rc == PERC_OK && res.kind == PERC_EKT_RX_FULL_NEW_KEY)
        rc = perc_ekt_rx_commit(d->erx, res.spi, SSRC, res.epoch);
    perc_ekt_rx_result_wipe(&res);
    return rc;
}

static int prep_double_unprotect_evp(void *ctx, size_t n)
{
    size_ctx *z = ctx;
    for (size_t k = 0; k < n; k++) {
        g_evp_at[k] = z->s_dbl_evp_rx;
        size_t len = plain_at(z, &z->s_dbl_evp_rx, g_pkts[k].b);
        sender_next(&z->s_dbl_evp_rx);
        if (evp_double_seal(z, &g_evp_at[k], g_pkts[k].b, len))
            return PERC_ERR_CRYPTO;
        g_lens[k] = len + 33;
    }
    return 0;
}

static int double_unprotect_evp(void *ctx, size_t i)
{
    size_ctx *z = ctx;
    uint8_t *p = g_pkts[i].b;
    size_t n = g_lens[i];
    uint8_t iv[12];
    bench_rtp_iv(z->keys.srtp_salt, SSRC, g_evp_at[i].roc, g_evp_at[i].seq, iv);
    if (bench_gcm_open(z->open, iv, p, HDR, p + HDR, p + HDR, n - HDR - 16, p + n - 16))
        return PERC_ERR_AUTH;
    n -= 33; /* outer tag, OHB, inner tag */
    return bench_gcm_open(z->inner_open, iv, p, HDR, p + HDR, p + HDR, n - HDR, p + n)
               ? PERC_ERR_AUTH
               : 0;
}

/* ---- set-up ------------------------------------------------------------- */

static void dbl_init(dbl *d)
{
    /* The inner master key travels in the EKT field; the outer one is the
     * hop's. Distinct bytes for each, as RFC 8723 §3 requires. */
    uint8_t inner_key[16], outer_key[16], outer_salt[12], ekt_key[16], ekt_salt[12];
    bench_fill(inner_key, sizeof inner_key, 1);
    bench_fill(outer_key, sizeof outer_key, 2);
    bench_fill(outer_salt, sizeof outer_salt, 3);
    bench_fill(ekt_key, sizeof ekt_key, 4);
    bench_fill(ekt_salt, sizeof ekt_salt, 5);
    perc_srtp_session_keys ik, ok;
    check(perc_srtp_kdf(PERC_AES128_GCM, inner_key, 16, ekt_salt, 12, &ik), "kdf");
    check(perc_srtp_kdf(PERC_AES128_GCM, outer_key, 16, outer_salt, 12, &ok), "kdf");
    memset(d, 0, sizeof *d);
    check(perc_double_tx_new(&ik, &ok, 0, &d->tx), "perc_double_tx_new");
    check(perc_double_tx_set_roc(d->tx, SSRC, 0), "perc_double_tx_set_roc");
    check(perc_double_rx_new(&ok, 0, &d->rx), "perc_double_rx_new");
    perc_ekt_params p;
    /* The longest TTL: the virtual clock runs 20 ms per packet. */
    check(perc_ekt_params_set(&p, PERC_EKT_CIPHER_AESKW_128, ekt_key, 16, ekt_salt, 12, 0x4242,
                              PERC_EKT_MAX_TTL, 0),
          "perc_ekt_params_set");
    check(perc_ekt_tx_new(NULL, SSRC, &d->etx), "perc_ekt_tx_new");
    check(perc_ekt_tx_set_key(d->etx, &p, inner_key, 16, 0), "perc_ekt_tx_set_key");
    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12};
    check(perc_ekt_rx_new(&cfg, &d->erx), "perc_ekt_rx_new");
    check(perc_ekt_rx_add_params(d->erx, &p), "perc_ekt_rx_add_params");
    perc_ekt_params_wipe(&p);
    perc_srtp_keys_wipe(&ik);
    perc_srtp_keys_wipe(&ok);
}

static void dbl_free(dbl *d)
{
    perc_ekt_tx_free(d->etx);
    perc_double_tx_free(d->tx);
    perc_ekt_rx_free(d->erx);
    perc_double_rx_free(d->rx);
}

static void size_init(size_ctx *z, size_t payload)
{
    memset(z, 0, sizeof *z);
    z->payload = payload;
    z->plain_len = HDR + payload;
    /* V=2, PT 96, SEQ set per packet, TS, SSRC; then the payload. */
    uint8_t *h = z->plain.b;
    h[0] = 0x80;
    h[1] = 96;
    h[4] = 0x00;
    h[5] = 0x01;
    h[6] = 0xE2;
    h[7] = 0x40;
    h[8] = (uint8_t)(SSRC >> 24);
    h[9] = (uint8_t)(SSRC >> 16);
    h[10] = (uint8_t)(SSRC >> 8);
    h[11] = (uint8_t)SSRC;
    bench_fill(h + HDR, payload, (uint32_t)payload);

    check(perc_srtp_kdf(PERC_AES128_GCM, MASTER_KEY, 16, MASTER_SALT, 12, &z->keys), "kdf");
    z->tx = ours_new(&z->keys);
    z->rx = ours_new(&z->keys);
    z->rx_src = ours_new(&z->keys);
    z->lib_src = ours_new(&z->keys);
    z->lib_tx = lib_new();
    z->lib_rx = lib_new();
    z->seal = bench_gcm_new(z->keys.srtp_key, 16, true);
    z->open = bench_gcm_new(z->keys.srtp_key, 16, false);
    /* the ceiling's inner layer: any other key */
    uint8_t ik[16];
    bench_fill(ik, sizeof ik, 77);
    z->inner_seal = bench_gcm_new(ik, 16, true);
    z->inner_open = bench_gcm_new(ik, 16, false);
    dbl_init(&z->d_protect);
    dbl_init(&z->d_unprotect);

    /* Same packets: our protect output and libsrtp2's agree byte for byte,
     * and our evp ceiling agrees with both. */
    perc_srtp_ctx *a = ours_new(&z->keys);
    srtp_t b = lib_new();
    sender s0 = {.seq = 7};
    abuf x, y, w;
    size_t xn = plain_at(z, &s0, x.b);
    int yn = (int)plain_at(z, &s0, y.b);
    size_t wn = plain_at(z, &s0, w.b);
    check(perc_srtp_protect(a, x.b, xn, CAP, &xn), "perc_srtp_protect");
    lib_check(srtp_protect(b, y.b, &yn), "srtp_protect");
    check(evp_seal_packet(z, z->seal, &s0, w.b, wn), "evp seal");
    if (xn != (size_t)yn || memcmp(x.b, y.b, xn) != 0 || memcmp(x.b, w.b, xn) != 0) {
        fprintf(stderr, "bench_srtp: ours, libsrtp2 and EVP disagree at %zu octets\n", payload);
        exit(1);
    }
    perc_srtp_ctx_free(a);
    srtp_dealloc(b);
}

static void size_free(size_ctx *z)
{
    perc_srtp_ctx_free(z->tx);
    perc_srtp_ctx_free(z->rx);
    perc_srtp_ctx_free(z->rx_src);
    perc_srtp_ctx_free(z->lib_src);
    srtp_dealloc(z->lib_tx);
    srtp_dealloc(z->lib_rx);
    EVP_CIPHER_CTX_free(z->seal);
    EVP_CIPHER_CTX_free(z->open);
    EVP_CIPHER_CTX_free(z->inner_seal);
    EVP_CIPHER_CTX_free(z->inner_open);
    dbl_free(&z->d_protect);
    dbl_free(&z->d_unprotect);
    perc_srtp_keys_wipe(&z->keys);
}

static void extra(bench_json *j, void *user)
{
    (void)user;
    bj_str(j, "libsrtp2", srtp_get_version_string());
    bj_str(j, "cipher", "AES-128-GCM, 16-octet tag (RFC 7714)");
    bj_int(j, "rtp_header_octets", HDR);
}

#define NSIZES 3
static const size_t SIZES[NSIZES] = {60, 160, 1200};
static size_ctx g_z[NSIZES];
static char g_names[NSIZES][16][64];

static bench_case *add(bench *b, size_t zi, int k, const char *name,
                       int (*prep)(void *, size_t), int (*op)(void *, size_t), bool cg)
{
    snprintf(g_names[zi][k], sizeof g_names[zi][k], "%s/%zu", name, SIZES[zi]);
    /* callgrind.sh counts the 160-octet cases: the audio size. */
    return bench_add(b, &(bench_case){.name = g_names[zi][k],
                                      .prepare = prep,
                                      .op = op,
                                      .ctx = &g_z[zi],
                                      .bytes = SIZES[zi],
                                      .callgrind = cg && SIZES[zi] == 160});
}

int main(int argc, char **argv)
{
    static bench b;
    bench_init(&b, argc, argv);
    if (srtp_init() != srtp_err_status_ok) {
        fprintf(stderr, "bench_srtp: srtp_init failed\n");
        return 1;
    }
    static char rnames[NSIZES][16][64];
    for (size_t zi = 0; zi < NSIZES; zi++) {
        size_init(&g_z[zi], SIZES[zi]);
        bool big = SIZES[zi] >= 160; /* the targets are set at 160 and 1200 */
        bench_case *po = add(&b, zi, 0, "srtp_protect/ours", NULL, protect_ours, true);
        bench_case *pl = add(&b, zi, 1, "srtp_protect/libsrtp", NULL, protect_lib, true);
        bench_case *pe = add(&b, zi, 2, "srtp_protect/evp", NULL, protect_evp, true);
        bench_case *uo = add(&b, zi, 3, "srtp_unprotect/ours", prep_unprotect_ours,
                             unprotect_ours, true);
        bench_case *ul = add(&b, zi, 4, "srtp_unprotect/libsrtp", prep_unprotect_lib,
                             unprotect_lib, true);
        bench_case *ue = add(&b, zi, 5, "srtp_unprotect/evp", prep_unprotect_evp, unprotect_evp,
                             true);
        bench_case *dpo = add(&b, zi, 6, "double_protect/ours", NULL, double_protect_ours, true);
        bench_case *dpe = add(&b, zi, 7, "double_protect/ceiling", NULL, double_protect_evp, true);
        bench_case *duo = add(&b, zi, 8, "double_unprotect/ours", prep_double_unprotect_ours,
                              double_unprotect_ours, true);
        bench_case *due = add(&b, zi, 9, "double_unprotect/ceiling", prep_double_unprotect_evp,
                              double_unprotect_evp, true);
        struct {
            const char *name;
            bench_case *s, *base;
            double target;
        } r[] = {
            {"srtp_protect ours/libsrtp", po, pl, 0},
            {"srtp_protect ours/evp", po, pe, 0},
            {"srtp_protect libsrtp/evp", pl, pe, 0},
            {"srtp_unprotect ours/libsrtp", uo, ul, 0},
            {"srtp_unprotect ours/evp", uo, ue, 0},
            {"double_protect ours/libsrtp_single", dpo, pl, big ? 1.0 : 0},
            {"double_protect ours/ceiling", dpo, dpe, big ? 0.8 : 0},
            /* Issue 6 sets the same targets for unprotect; it is measured
             * against libsrtp2's single unprotect (the like-for-like
             * operation) and the two-open ceiling. */
            {"double_unprotect ours/libsrtp_single", duo, ul, big ? 1.0 : 0},
            {"double_unprotect ours/ceiling", duo, due, big ? 0.8 : 0},
        };
        for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
            snprintf(rnames[zi][k], sizeof rnames[zi][k], "%s/%zu", r[k].name, SIZES[zi]);
            bench_add_ratio(&b, rnames[zi][k], r[k].s, r[k].base, r[k].target);
        }
    }
    int rc = bench_main(&b, "srtp", extra, NULL);
    for (size_t zi = 0; zi < NSIZES; zi++)
        size_free(&g_z[zi]);
    srtp_shutdown();
    return rc;
}
