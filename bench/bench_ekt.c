/* EKT (RFC 8870) and AES key wrap with padding (RFC 5649): what a sender
 * and a receiver pay per packet for the EKT field, and what a wrap or an
 * unwrap costs, against OpenSSL's wrap-pad cipher on a context keyed once
 * (the bare ceiling: no context allocation, no key schedule per call).
 *
 * The EKT plaintext is a 16-octet inner master key (DOUBLE_AEAD_AES_128_GCM)
 * with SSRC and ROC: 25 octets, wrapped to 32 under a 16-octet EKTKey.
 *
 *   ekt_tx/full_cached     perc_ekt_tx_next forced to a Full field at an
 *                          unchanged ROC: the cached ciphertext is framed,
 *                          no wrap (what a sender pays per Full field)
 *   ekt_tx/short           perc_ekt_tx_next between Full fields
 *   ekt_full/make          perc_ekt_full_field_make: encode, wrap, frame
 *                          (the uncached build)
 *   ekt_full/parse_open    perc_ekt_full_parse + perc_ekt_full_field_open
 *                          (unwrap, plaintext decode)
 *   ekt_rx/full_repeat     perc_ekt_rx_process on a repeated Full field of
 *                          the committed key (a compare, no unwrap)
 *   ekt_rx/full_new        perc_ekt_rx_process on Full fields that each
 *                          need an unwrap (two keys, alternating)
 *   keywrap/wrap|unwrap/ours  perc_keywrap_wrap / _unwrap
 *   keywrap/wrap|unwrap/evp   EVP aes-128-wrap-pad, context keyed once
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bench_util.h"
#include "perc/ekt.h"
#include "perc/ekt_field.h"
#include "perc/keywrap.h"

#define SSRC 0xE4701234u
#define SRTP_LEN 40 /* stand-in SRTP bytes before the field: EKT does not read them */

typedef struct ekt_ctx {
    perc_ekt_params p;
    uint8_t master_key[16], other_key[16];
    uint8_t plain[25];
    size_t plain_len;
    uint8_t wrapped[40];
    size_t wrapped_len;
    uint8_t field[PERC_EKT_FULL_MAX_LEN];
    size_t field_len;
    perc_ekt_tx *tx_full, *tx_short;
    perc_ekt_rx *rx_repeat, *rx_new;
    uint8_t pkt_repeat[SRTP_LEN + PERC_EKT_FULL_MAX_LEN];
    size_t pkt_repeat_len;
    uint8_t pkt_new[2][SRTP_LEN + PERC_EKT_FULL_MAX_LEN];
    size_t pkt_new_len[2];
    EVP_CIPHER_CTX *wrap, *unwrap;
    uint64_t now;
    unsigned flip;                  /* which of the two rx_new packets is next */
} ekt_ctx;

static ekt_ctx g;

static void check(int rc, const char *what)
{
    if (rc)
        bench_die(what, rc);
}

static int tx_full_cached(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[PERC_EKT_FULL_MAX_LEN];
    perc_ekt_tx_packet pk;
    return perc_ekt_tx_next(e->tx_full, 7, true, e->now, out, sizeof out, &pk);
}

static int tx_short(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[PERC_EKT_FULL_MAX_LEN];
    perc_ekt_tx_packet pk;
    int rc = perc_ekt_tx_next(e->tx_short, 7, false, e->now, out, sizeof out, &pk);
    return rc == PERC_OK && pk.full ? PERC_ERR_STATE : rc;
}

static int full_make(void *ctx, size_t i)
{
    ekt_ctx *e = ctx;
    uint8_t out[PERC_EKT_FULL_MAX_LEN];
    size_t n;
    return perc_ekt_full_field_make(&e->p, e->master_key, 16, SSRC, (uint32_t)i, 0, out,
                                    sizeof out, &n);
}

static int full_parse_open(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    perc_ekt_full f;
    perc_ekt_plaintext pt;
    int rc = perc_ekt_full_parse(e->field, e->field_len, &f);
    if (rc == PERC_OK)
        rc = perc_ekt_full_field_open(&e->p, &f, &pt);
    perc_ekt_plaintext_wipe(&pt);
    return rc;
}

static int rx_repeat(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    perc_ekt_rx_result res;
    int rc = perc_ekt_rx_process(e->rx_repeat, e->pkt_repeat, e->pkt_repeat_len, SSRC, e->now,
                                 &res);
    if (rc == PERC_OK && res.kind != PERC_EKT_RX_FULL_REPEAT)
        rc = PERC_ERR_STATE;
    perc_ekt_rx_result_wipe(&res);
    return rc;
}

static int rx_new(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    perc_ekt_rx_result res;
    /* alternating, so each differs from the candidate the last one left */
    e->flip ^= 1u;
    int rc = perc_ekt_rx_process(e->rx_new, e->pkt_new[e->flip], e->pkt_new_len[e->flip], SSRC,
                                 e->now, &res);
    if (rc == PERC_OK && res.kind != PERC_EKT_RX_FULL_NEW_KEY)
        rc = PERC_ERR_STATE;
    perc_ekt_rx_result_wipe(&res);
    return rc;
}

static int wrap_ours(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[64];
    size_t n;
    return perc_keywrap_wrap(e->p.key, 16, e->plain, e->plain_len, out, sizeof out, &n);
}

static int unwrap_ours(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[64];
    size_t n;
    return perc_keywrap_unwrap(e->p.key, 16, e->wrapped, e->wrapped_len, out, sizeof out, &n);
}

/* The bare ceiling: re-initialising with no key keeps the schedule and
 * restores the default alternative IV. */
static int evp_run(EVP_CIPHER_CTX *c, int enc, const uint8_t *in, size_t len, uint8_t *out)
{
    int outl = 0, fin = 0;
    if (EVP_CipherInit_ex(c, NULL, NULL, NULL, NULL, enc) != 1 ||
        EVP_CipherUpdate(c, out, &outl, in, (int)len) != 1 ||
        EVP_CipherFinal_ex(c, out + outl, &fin) != 1)
        return enc ? PERC_ERR_CRYPTO : PERC_ERR_AUTH;
    return 0;
}

static int wrap_evp(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[64];
    return evp_run(e->wrap, 1, e->plain, e->plain_len, out);
}

static int unwrap_evp(void *ctx, size_t i)
{
    (void)i;
    ekt_ctx *e = ctx;
    uint8_t out[64];
    return evp_run(e->unwrap, 0, e->wrapped, e->wrapped_len, out);
}

static EVP_CIPHER_CTX *kwp_new(const uint8_t *kek, int enc)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        bench_die("EVP_CIPHER_CTX_new", PERC_ERR_NOMEM);
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(c, EVP_aes_128_wrap_pad(), NULL, kek, NULL, enc) != 1)
        bench_die("EVP aes-128-wrap-pad set-up", PERC_ERR_CRYPTO);
    return c;
}

/* A stand-in SRTP packet followed by a Full field for key. */
static size_t packet_with_field(const uint8_t key[16], uint32_t roc, uint8_t *out, size_t cap)
{
    bench_fill(out, SRTP_LEN, 3);
    size_t n;
    check(perc_ekt_full_field_make(&g.p, key, 16, SSRC, roc, 0, out + SRTP_LEN, cap - SRTP_LEN,
                                   &n),
          "perc_ekt_full_field_make");
    return SRTP_LEN + n;
}

static void setup(void)
{
    uint8_t ekt_key[16], salt[12];
    bench_fill(ekt_key, 16, 1);
    bench_fill(salt, 12, 2);
    bench_fill(g.master_key, 16, 3);
    bench_fill(g.other_key, 16, 4);
    check(perc_ekt_params_set(&g.p, PERC_EKT_CIPHER_AESKW_128, ekt_key, 16, salt, 12, 0x4242,
                              PERC_EKT_MAX_TTL, 0),
          "perc_ekt_params_set");
    check(perc_ekt_plaintext_encode(g.master_key, 16, SSRC, 7, g.plain, sizeof g.plain,
                                    &g.plain_len),
          "perc_ekt_plaintext_encode");
    check(perc_keywrap_wrap(ekt_key, 16, g.plain, g.plain_len, g.wrapped, sizeof g.wrapped,
                            &g.wrapped_len),
          "perc_keywrap_wrap");
    check(perc_ekt_full_field_make(&g.p, g.master_key, 16, SSRC, 7, 0, g.field, sizeof g.field,
                                   &g.field_len),
          "perc_ekt_full_field_make");

    check(perc_ekt_tx_new(NULL, SSRC, &g.tx_full), "perc_ekt_tx_new");
    check(perc_ekt_tx_set_key(g.tx_full, &g.p, g.master_key, 16, 0), "perc_ekt_tx_set_key");
    check(perc_ekt_tx_new(NULL, SSRC, &g.tx_short), "perc_ekt_tx_new");
    check(perc_ekt_tx_set_key(g.tx_short, &g.p, g.master_key, 16, 0), "perc_ekt_tx_set_key");
    /* past the initial Full fields; the clock stands still, so no
     * periodic one comes due */
    for (int k = 0; k < 3; k++) {
        uint8_t out[PERC_EKT_FULL_MAX_LEN];
        perc_ekt_tx_packet pk;
        check(perc_ekt_tx_next(g.tx_short, 7, false, 0, out, sizeof out, &pk), "perc_ekt_tx_next");
    }

    perc_ekt_rx_config cfg = {.master_key_len = 16, .salt_len = 12};
    check(perc_ekt_rx_new(&cfg, &g.rx_repeat), "perc_ekt_rx_new");
    check(perc_ekt_rx_add_params(g.rx_repeat, &g.p), "perc_ekt_rx_add_params");
    g.pkt_repeat_len = packet_with_field(g.master_key, 7, g.pkt_repeat, sizeof g.pkt_repeat);
    perc_ekt_rx_result res;
    check(perc_ekt_rx_process(g.rx_repeat, g.pkt_repeat, g.pkt_repeat_len, SSRC, 0, &res),
          "perc_ekt_rx_process");
    perc_ekt_rx_result_wipe(&res);
    check(perc_ekt_rx_commit(g.rx_repeat, 0x4242, SSRC, 0), "perc_ekt_rx_commit");

    check(perc_ekt_rx_new(&cfg, &g.rx_new), "perc_ekt_rx_new");
    check(perc_ekt_rx_add_params(g.rx_new, &g.p), "perc_ekt_rx_add_params");
    g.pkt_new_len[0] = packet_with_field(g.master_key, 7, g.pkt_new[0], sizeof g.pkt_new[0]);
    g.pkt_new_len[1] = packet_with_field(g.other_key, 7, g.pkt_new[1], sizeof g.pkt_new[1]);

    g.wrap = kwp_new(ekt_key, 1);
    g.unwrap = kwp_new(ekt_key, 0);
    /* the ceiling computes what ours does */
    uint8_t a[64], b[64];
    size_t an;
    check(perc_keywrap_wrap(ekt_key, 16, g.plain, g.plain_len, a, sizeof a, &an), "wrap");
    check(evp_run(g.wrap, 1, g.plain, g.plain_len, b), "evp wrap");
    if (an != g.wrapped_len || memcmp(a, b, an) != 0) {
        fprintf(stderr, "bench_ekt: perc_keywrap_wrap and EVP disagree\n");
        exit(1);
    }
}

static void teardown(void)
{
    perc_ekt_tx_free(g.tx_full);
    perc_ekt_tx_free(g.tx_short);
    perc_ekt_rx_free(g.rx_repeat);
    perc_ekt_rx_free(g.rx_new);
    EVP_CIPHER_CTX_free(g.wrap);
    EVP_CIPHER_CTX_free(g.unwrap);
    perc_ekt_params_wipe(&g.p);
}

static void extra(bench_json *j, void *user)
{
    (void)user;
    bj_str(j, "ekt_cipher", "AESKW_128 (RFC 5649 AES-128 key wrap with padding)");
    bj_int(j, "plaintext_octets", g.plain_len);
    bj_int(j, "ciphertext_octets", g.wrapped_len);
}

int main(int argc, char **argv)
{
    static bench b;
    bench_init(&b, argc, argv);
    setup();
#define CASE(nm, fn) bench_add(&b, &(bench_case){.name = nm, .op = fn, .ctx = &g, .callgrind = true})
    bench_case *txf = CASE("ekt_tx/full_cached", tx_full_cached);
    (void)CASE("ekt_tx/short", tx_short);
    bench_case *mk = CASE("ekt_full/make", full_make);
    bench_case *po = CASE("ekt_full/parse_open", full_parse_open);
    bench_case *rr = CASE("ekt_rx/full_repeat", rx_repeat);
    bench_case *rn = CASE("ekt_rx/full_new", rx_new);
    bench_case *wo = CASE("keywrap/wrap/ours", wrap_ours);
    bench_case *we = CASE("keywrap/wrap/evp", wrap_evp);
    bench_case *uo = CASE("keywrap/unwrap/ours", unwrap_ours);
    bench_case *ue = CASE("keywrap/unwrap/evp", unwrap_evp);
#undef CASE
    bench_add_ratio(&b, "keywrap wrap ours/evp", wo, we, 0);
    bench_add_ratio(&b, "keywrap unwrap ours/evp", uo, ue, 0);
    bench_add_ratio(&b, "ekt_full make/evp_wrap", mk, we, 0);
    bench_add_ratio(&b, "ekt_full parse_open/evp_unwrap", po, ue, 0);
    bench_add_ratio(&b, "ekt_tx full_cached/evp_wrap", txf, we, 0);
    bench_add_ratio(&b, "ekt_rx full_repeat/evp_unwrap", rr, ue, 0);
    bench_add_ratio(&b, "ekt_rx full_new/evp_unwrap", rn, ue, 0);
    int rc = bench_main(&b, "ekt", extra, NULL);
    teardown();
    return rc;
}
