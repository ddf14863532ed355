/* SRTP/SRTCP AEAD (perc/srtp.h, perc/srtp_stream.h, perc/profile.h):
 * RFC 7714 vectors, byte-for-byte agreement with libsrtp2, the RFC 3711 KDF,
 * replay windows, ROC estimation, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "perc/profile.h"
#include "perc/rtp.h"
#include "perc/srtp.h"
#include "perc/srtp_stream.h"
#include "test_util.h"
#include "vectors.h"

#define BUF_CAP 2048

/* ---- helpers ---------------------------------------------------------- */

static const tv_field *need(const tv_block *b, const char *name)
{
    const tv_field *f = tv_get(b, name);
    assert_non_null(f);
    return f;
}

static uint32_t field_u32(const tv_block *b, const char *name)
{
    const tv_field *f = need(b, name);
    uint32_t v = 0;
    for (size_t i = 0; i < f->len; i++)
        v = (v << 8) | f->data[i];
    return v;
}

static perc_srtp_session *session_direct(perc_srtp_cipher c, const uint8_t *key, size_t key_len,
                                         const uint8_t *salt)
{
    perc_srtp_session_keys k;
    assert_int_equal(perc_srtp_keys_direct(c, key, key_len, salt, PERC_SRTP_SALT_LEN, &k), PERC_OK);
    perc_srtp_session *s = NULL;
    assert_int_equal(perc_srtp_session_new(&k, &s), PERC_OK);
    perc_srtp_keys_wipe(&k);
    return s;
}

static const uint8_t TEST_KEY[32] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                     0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f,
                                     0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78,
                                     0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0};
static const uint8_t TEST_SALT[12] = {0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5,
                                      0x06, 0x17, 0x28, 0x39, 0x4a, 0x5b};

static perc_srtp_ctx *ctx_kdf(perc_srtp_cipher c, size_t max_streams)
{
    perc_srtp_session_keys k;
    assert_int_equal(perc_srtp_kdf(c, TEST_KEY, perc_cipher_key_len(c), TEST_SALT,
                                   sizeof TEST_SALT, &k),
                     PERC_OK);
    perc_srtp_ctx *ctx = NULL;
    assert_int_equal(perc_srtp_ctx_new(&k, max_streams, &ctx), PERC_OK);
    perc_srtp_keys_wipe(&k);
    return ctx;
}

/* A plain RTP packet: cc CSRCs, an RFC 8285 extension block when ext,
 * payload_len random octets, RTP padding of pad octets. */
static size_t make_rtp(tu_rng *rng, uint8_t *buf, size_t cap, uint32_t ssrc, uint16_t seq,
                       unsigned cc, bool ext, size_t payload_len, uint8_t pad)
{
    perc_rtp_header h;
    memset(&h, 0, sizeof h);
    h.csrc_count = (uint8_t)cc;
    h.marker = tu_rng_below(rng, 2) != 0;
    h.payload_type = (uint8_t)tu_rng_below(rng, 128);
    h.seq = seq;
    h.timestamp = (uint32_t)tu_rng_next(rng);
    h.ssrc = ssrc;
    for (unsigned i = 0; i < cc; i++)
        h.csrc[i] = (uint32_t)tu_rng_next(rng);
    uint8_t extbuf[128];
    if (ext) {
        bool two = tu_rng_below(rng, 2) != 0;
        perc_rtp_ext_builder b;
        perc_rtp_ext_builder_init(&b, extbuf, sizeof extbuf, two);
        unsigned n = 1 + tu_rng_below(rng, 4);
        for (unsigned i = 0; i < n; i++) {
            uint8_t data[16];
            size_t dl = 1 + tu_rng_below(rng, 16);
            tu_rng_fill(rng, data, dl);
            perc_rtp_ext_add(&b, (uint8_t)(1 + i), data, dl);
        }
        assert_int_equal(perc_rtp_ext_finish(&b, &h.ext_data, &h.ext_profile), PERC_OK);
        h.extension = true;
    }
    uint8_t payload[1500];
    assert_true(payload_len <= sizeof payload);
    tu_rng_fill(rng, payload, payload_len);
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, payload_len, pad);
    size_t len = 0;
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    return len;
}

/* A plain RTCP-shaped packet: header with a consistent length field,
 * sender SSRC, body_words random words. */
static size_t make_rtcp(tu_rng *rng, uint8_t *buf, uint32_t ssrc, size_t body_words)
{
    size_t len = 8 + 4 * body_words;
    buf[0] = (uint8_t)(0x80 | tu_rng_below(rng, 32));
    buf[1] = (uint8_t)(200 + tu_rng_below(rng, 5));
    perc_store_u16(buf + 2, (uint16_t)(len / 4 - 1));
    perc_store_u32(buf + 4, ssrc);
    tu_rng_fill(rng, buf + 8, len - 8);
    return len;
}

/* ---- profiles --------------------------------------------------------- */

static void test_profiles(void **state)
{
    (void)state;
    const perc_profile_info *p = perc_profile_lookup(0x0007);
    assert_non_null(p);
    assert_false(p->is_double);
    assert_int_equal(p->cipher, PERC_AES128_GCM);
    assert_int_equal(p->master_key_len, 16);
    assert_int_equal(p->master_salt_len, 12);
    p = perc_profile_lookup(0x0008);
    assert_non_null(p);
    assert_int_equal(p->cipher, PERC_AES256_GCM);
    assert_int_equal(p->master_key_len, 32);
    p = perc_profile_lookup(0x0009);
    assert_non_null(p);
    assert_true(p->is_double);
    assert_int_equal(p->cipher, PERC_AES128_GCM);
    assert_int_equal(p->master_key_len, 32);
    assert_int_equal(p->master_salt_len, 24);
    assert_string_equal(p->name, "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM");
    p = perc_profile_lookup(0x000A);
    assert_non_null(p);
    assert_true(p->is_double);
    assert_int_equal(p->master_key_len, 64);
    assert_int_equal(p->master_salt_len, 24);
    assert_null(perc_profile_lookup(0x0001));
    assert_null(perc_profile_lookup(0x0000));
    assert_int_equal(perc_cipher_key_len(PERC_AES128_GCM), 16);
    assert_int_equal(perc_cipher_key_len(PERC_AES256_GCM), 32);
    assert_int_equal(perc_cipher_key_len(PERC_CIPHER_NONE), 0);
    assert_int_equal(perc_cipher_key_len((perc_srtp_cipher)7), 0);
}

/* ---- RFC 7714 vectors ------------------------------------------------- */

static perc_srtp_cipher cipher_for(size_t key_len)
{
    return key_len == 16 ? PERC_AES128_GCM : PERC_AES256_GCM;
}

/* RFC 7714 §16.1, §16.2 */
static void test_rfc7714_srtp_vectors(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("rfc7714-gcm.txt", &f), 0);
    const char *ids[] = {"rfc7714_srtp_aead_aes_128_gcm", "rfc7714_srtp_aead_aes_256_gcm"};
    for (size_t v = 0; v < 2; v++) {
        const tv_block *b = tv_find(&f, ids[v]);
        assert_non_null(b);
        const tv_field *key = need(b, "key"), *salt = need(b, "salt");
        const tv_field *plain = need(b, "rtp_packet"), *prot = need(b, "srtp_packet");
        const tv_field *iv = need(b, "iv"), *aad = need(b, "aad");
        uint32_t ssrc = field_u32(b, "ssrc"), roc = field_u32(b, "roc");
        uint16_t seq = (uint16_t)field_u32(b, "seq");
        assert_int_equal(salt->len, PERC_SRTP_SALT_LEN);
        perc_srtp_session *s = session_direct(cipher_for(key->len), key->data, key->len,
                                              salt->data);
        assert_int_equal(perc_srtp_session_cipher(s), cipher_for(key->len));

        /* IV per §8.1 */
        uint8_t myiv[PERC_SRTP_IV_LEN];
        perc_srtp_make_iv(salt->data, ssrc, roc, seq, myiv);
        assert_memory_equal(myiv, iv->data, PERC_SRTP_IV_LEN);

        /* seal */
        uint8_t buf[BUF_CAP];
        memcpy(buf, plain->data, plain->len);
        size_t n = 0;
        assert_int_equal(perc_srtp_seal(s, buf, plain->len, sizeof buf, roc, &n), PERC_OK);
        assert_int_equal(n, prot->len);
        assert_memory_equal(buf, prot->data, n);

        /* open */
        assert_int_equal(perc_srtp_open(s, buf, n, roc, &n), PERC_OK);
        assert_int_equal(n, plain->len);
        assert_memory_equal(buf, plain->data, n);

        /* seal_parts with the listed AAD gives the same ciphertext and tag */
        size_t dl = plain->len - aad->len;
        memcpy(buf, plain->data + aad->len, dl);
        uint8_t tag[PERC_SRTP_TAG_LEN];
        assert_int_equal(perc_srtp_seal_parts(s, aad->data, aad->len, ssrc, roc, seq, buf, dl, tag),
                         PERC_OK);
        assert_memory_equal(buf, prot->data + aad->len, dl);
        assert_memory_equal(tag, prot->data + aad->len + dl, PERC_SRTP_TAG_LEN);
        assert_int_equal(perc_srtp_open_parts(s, aad->data, aad->len, ssrc, roc, seq, buf, dl, tag),
                         PERC_OK);
        assert_memory_equal(buf, plain->data + aad->len, dl);
        /* a different ROC or SEQ is a different IV: the tag fails */
        memcpy(buf, prot->data, prot->len);
        assert_int_equal(perc_srtp_open(s, buf, prot->len, roc + 1, &n), PERC_ERR_AUTH);
        memcpy(buf, prot->data + aad->len, dl);
        assert_int_equal(perc_srtp_open_parts(s, aad->data, aad->len, ssrc, roc,
                                              (uint16_t)(seq + 1), buf, dl,
                                              prot->data + aad->len + dl),
                         PERC_ERR_AUTH);
        perc_srtp_session_free(s);
    }
    tv_free(&f);
}

/* RFC 7714 §17 */
static void test_rfc7714_srtcp_vectors(void **state)
{
    (void)state;
    tv_file f;
    assert_int_equal(tv_load("rfc7714-gcm.txt", &f), 0);
    const struct {
        const char *id;
        bool encrypt;
    } vs[] = {
        {"rfc7714_srtcp_aead_aes_128_gcm_encrypted", true},
        {"rfc7714_srtcp_aead_aes_256_gcm_encrypted", true},
        {"rfc7714_srtcp_aead_aes_128_gcm_auth_only", false},
        {"rfc7714_srtcp_aead_aes_256_gcm_auth_only", false},
    };
    for (size_t v = 0; v < 4; v++) {
        const tv_block *b = tv_find(&f, vs[v].id);
        assert_non_null(b);
        const tv_field *key = need(b, "key"), *salt = need(b, "salt");
        const tv_field *plain = need(b, "rtcp_packet"), *prot = need(b, "srtcp_packet");
        const tv_field *iv = need(b, "iv");
        uint32_t ssrc = field_u32(b, "ssrc"), index = field_u32(b, "srtcp_index");
        perc_srtp_session *s = session_direct(cipher_for(key->len), key->data, key->len,
                                              salt->data);

        uint8_t myiv[PERC_SRTP_IV_LEN];
        perc_srtcp_make_iv(salt->data, ssrc, index, myiv);
        assert_memory_equal(myiv, iv->data, PERC_SRTP_IV_LEN);
        /* the E bit never reaches the IV */
        perc_srtcp_make_iv(salt->data, ssrc, index | 0x80000000u, myiv);
        assert_memory_equal(myiv, iv->data, PERC_SRTP_IV_LEN);

        uint8_t buf[BUF_CAP];
        memcpy(buf, plain->data, plain->len);
        size_t n = 0;
        assert_int_equal(perc_srtcp_seal(s, buf, plain->len, sizeof buf, index, vs[v].encrypt, &n),
                         PERC_OK);
        assert_int_equal(n, prot->len);
        assert_memory_equal(buf, prot->data, n);
        const tv_field *tag = tv_get(b, "tag");
        if (tag)
            assert_memory_equal(buf + plain->len, tag->data, tag->len);

        uint32_t got_index = 0;
        bool enc = !vs[v].encrypt;
        assert_int_equal(perc_srtcp_open(s, buf, n, &got_index, &enc, &n), PERC_OK);
        assert_int_equal(n, plain->len);
        assert_memory_equal(buf, plain->data, n);
        assert_int_equal(got_index, index);
        assert_int_equal(enc, vs[v].encrypt);
        perc_srtp_session_free(s);
    }
    tv_free(&f);
}

/* ---- KDF -------------------------------------------------------------- */

/* RFC 3711 Appendix B.3 (AES-CM, 14-octet salt) and RFC 6188 §7.2
 * (AES-256-CM PRF). */
static void test_kdf_known_answers(void **state)
{
    (void)state;
    uint8_t mk[32], ms[14], want[32], out[32];
    size_t kl = tu_hex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof mk);
    size_t sl = tu_hex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof ms);
    size_t wl = tu_hex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x00, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);
    wl = tu_hex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x02, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);
    wl = tu_hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want, sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x01, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);

    kl = tu_hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6", mk,
                sizeof mk);
    sl = tu_hex("3b04803de51ee7c96423ab5b78d2", ms, sizeof ms);
    wl = tu_hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4", want,
                sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x00, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);
    wl = tu_hex("fa31791685ca444a9e07c6c64e93", want, sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x02, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);
    wl = tu_hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05", want, sizeof want);
    assert_int_equal(perc_srtp_prf(mk, kl, ms, sl, 0x01, out, wl), PERC_OK);
    assert_memory_equal(out, want, wl);
}

/* perc_srtp_kdf = the PRF at the four labels, with the 12-octet salt
 * padded by two zero octets. */
static void test_kdf_layout(void **state)
{
    (void)state;
    const perc_srtp_cipher ciphers[] = {PERC_AES128_GCM, PERC_AES256_GCM};
    for (size_t c = 0; c < 2; c++) {
        size_t kl = perc_cipher_key_len(ciphers[c]);
        perc_srtp_session_keys k;
        assert_int_equal(perc_srtp_kdf(ciphers[c], TEST_KEY, kl, TEST_SALT, 12, &k), PERC_OK);
        assert_int_equal(k.cipher, ciphers[c]);
        uint8_t salt14[14] = {0};
        memcpy(salt14, TEST_SALT, 12);
        uint8_t out[32];
        assert_int_equal(perc_srtp_prf(TEST_KEY, kl, salt14, 14, 0x00, out, kl), PERC_OK);
        assert_memory_equal(k.srtp_key, out, kl);
        assert_int_equal(perc_srtp_prf(TEST_KEY, kl, TEST_SALT, 12, 0x02, out, 12), PERC_OK);
        assert_memory_equal(k.srtp_salt, out, 12);
        assert_int_equal(perc_srtp_prf(TEST_KEY, kl, TEST_SALT, 12, 0x03, out, kl), PERC_OK);
        assert_memory_equal(k.srtcp_key, out, kl);
        assert_int_equal(perc_srtp_prf(TEST_KEY, kl, TEST_SALT, 12, 0x05, out, 12), PERC_OK);
        assert_memory_equal(k.srtcp_salt, out, 12);
        /* the labels give different keys */
        assert_memory_not_equal(k.srtp_key, k.srtcp_key, kl);
        perc_srtp_keys_wipe(&k);
        uint8_t zero[sizeof k] = {0};
        assert_memory_equal(&k, zero, sizeof k);
    }
}

static void test_key_length_errors(void **state)
{
    (void)state;
    perc_srtp_session_keys k;
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, TEST_KEY, 32, TEST_SALT, 12, &k),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_kdf(PERC_AES256_GCM, TEST_KEY, 16, TEST_SALT, 12, &k),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_kdf(PERC_AES128_GCM, TEST_KEY, 16, TEST_SALT, 14, &k),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_kdf(PERC_CIPHER_NONE, TEST_KEY, 16, TEST_SALT, 12, &k),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, TEST_KEY, 24, TEST_SALT, 12, &k),
                     PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_keys_direct(PERC_AES128_GCM, TEST_KEY, 16, TEST_SALT, 11, &k),
                     PERC_ERR_KEY_LENGTH);
    uint8_t out[16];
    assert_int_equal(perc_srtp_prf(TEST_KEY, 24, TEST_SALT, 12, 0, out, 16), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_prf(TEST_KEY, 16, TEST_SALT, 13, 0, out, 16), PERC_ERR_KEY_LENGTH);
    assert_int_equal(perc_srtp_prf(TEST_KEY, 16, TEST_SALT, 12, 0, out, 0), PERC_ERR_INVALID_ARG);

    memset(&k, 0, sizeof k);
    perc_srtp_session *s = NULL;
    assert_int_equal(perc_srtp_session_new(&k, &s), PERC_ERR_KEY_LENGTH);
    assert_null(s);
    perc_srtp_ctx *ctx = NULL;
    assert_int_equal(perc_srtp_ctx_new(&k, 0, &ctx), PERC_ERR_KEY_LENGTH);
    assert_null(ctx);
    perc_srtp_session_free(NULL);
    perc_srtp_ctx_free(NULL);
}

/* ---- libsrtp2 oracle -------------------------------------------------- */

static void libsrtp_pair(perc_srtp_cipher c, srtp_t *tx, srtp_t *rx)
{
    static uint8_t key[32 + 12]; /* libsrtp keeps a pointer until srtp_create returns */
    size_t kl = perc_cipher_key_len(c);
    memcpy(key, TEST_KEY, kl);
    memcpy(key + kl, TEST_SALT, 12);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (c == PERC_AES128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtcp);
    }
    p.key = key;
    p.window_size = 128;
    p.ssrc.type = ssrc_any_outbound;
    assert_int_equal(srtp_create(tx, &p), srtp_err_status_ok);
    p.ssrc.type = ssrc_any_inbound;
    assert_int_equal(srtp_create(rx, &p), srtp_err_status_ok);
}

typedef union {
    uint32_t align; /* libsrtp reads headers as 32-bit words */
    uint8_t b[BUF_CAP];
} abuf;

static void libsrtp_rtp_compare(perc_srtp_cipher c, uint64_t seed)
{
    tu_rng rng;
    tu_rng_seed(&rng, seed);
    srtp_t lib_tx, lib_rx;
    libsrtp_pair(c, &lib_tx, &lib_rx);
    perc_srtp_ctx *our_tx = ctx_kdf(c, 0), *our_rx = ctx_kdf(c, 0);
    uint32_t ssrc = (uint32_t)tu_rng_next(&rng);
    uint16_t seq = 0xFFF0;
    unsigned with_ext = 0, with_csrc = 0, with_pad = 0, wraps = 0;

    for (unsigned i = 0; i < 600; i++) {
        abuf plain, ours, theirs, tmp;
        unsigned cc = tu_rng_below(&rng, 4) == 0 ? tu_rng_below(&rng, 16) : 0;
        bool ext = tu_rng_below(&rng, 4) == 0;
        uint8_t pad = tu_rng_below(&rng, 8) == 0 ? (uint8_t)(1 + tu_rng_below(&rng, 16)) : 0;
        size_t plen = tu_rng_below(&rng, 1200);
        size_t len = make_rtp(&rng, plain.b, sizeof plain.b, ssrc, seq, cc, ext, plen, pad);
        with_ext += ext;
        with_csrc += cc > 0;
        with_pad += pad > 0;

        memcpy(ours.b, plain.b, len);
        memcpy(theirs.b, plain.b, len);
        size_t our_len = 0;
        assert_int_equal(perc_srtp_protect(our_tx, ours.b, len, sizeof ours.b, &our_len), PERC_OK);
        int their_len = (int)len;
        assert_int_equal(srtp_protect(lib_tx, theirs.b, &their_len), srtp_err_status_ok);
        assert_int_equal(our_len, (size_t)their_len);
        assert_memory_equal(ours.b, theirs.b, our_len);

        /* each side opens the other's packet */
        memcpy(tmp.b, theirs.b, our_len);
        size_t n = 0;
        assert_int_equal(perc_srtp_unprotect(our_rx, tmp.b, our_len, &n), PERC_OK);
        assert_int_equal(n, len);
        assert_memory_equal(tmp.b, plain.b, len);
        int m = (int)our_len;
        assert_int_equal(srtp_unprotect(lib_rx, ours.b, &m), srtp_err_status_ok);
        assert_int_equal((size_t)m, len);
        assert_memory_equal(ours.b, plain.b, len);

        uint16_t step = tu_rng_below(&rng, 10) == 0 ? 2 : 1;
        if ((uint16_t)(seq + step) < seq)
            wraps++;
        seq = (uint16_t)(seq + step);
    }
    /* the run covered what it claims to */
    assert_true(wraps == 1);
    assert_true(with_ext > 50 && with_csrc > 50 && with_pad > 20);

    perc_srtp_ctx_free(our_tx);
    perc_srtp_ctx_free(our_rx);
    srtp_dealloc(lib_tx);
    srtp_dealloc(lib_rx);
}

static void libsrtp_rtcp_compare(perc_srtp_cipher c, uint64_t seed)
{
    tu_rng rng;
    tu_rng_seed(&rng, seed);
    srtp_t lib_tx, lib_rx;
    libsrtp_pair(c, &lib_tx, &lib_rx);
    perc_srtp_ctx *our_tx = ctx_kdf(c, 0), *our_rx = ctx_kdf(c, 0);
    uint32_t ssrc = (uint32_t)tu_rng_next(&rng);

    for (uint32_t i = 0; i < 300; i++) {
        abuf plain, ours, theirs, tmp;
        size_t len = make_rtcp(&rng, plain.b, ssrc, tu_rng_below(&rng, 100));
        memcpy(ours.b, plain.b, len);
        memcpy(theirs.b, plain.b, len);

        /* ours, from the context: index i, E = 1 (RFC 3711 §3.4 starts at 0) */
        size_t our_len = 0;
        assert_int_equal(perc_srtcp_protect(our_tx, ours.b, len, sizeof ours.b, &our_len), PERC_OK);
        assert_int_equal(our_len, len + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN);
        assert_int_equal(perc_load_u32(ours.b + our_len - 4), 0x80000000u | i);

        /* libsrtp 2.5 increments before use, so its first index is 1 */
        int their_len = (int)len;
        assert_int_equal(srtp_protect_rtcp(lib_tx, theirs.b, &their_len), srtp_err_status_ok);
        assert_int_equal((size_t)their_len, our_len);
        uint32_t their_index = perc_load_u32(theirs.b + our_len - 4);
        assert_int_equal(their_index, 0x80000000u | (i + 1));

        /* byte-identical at the same index */
        memcpy(tmp.b, plain.b, len);
        size_t n = 0;
        assert_int_equal(perc_srtcp_seal(perc_srtp_ctx_session(our_tx), tmp.b, len, sizeof tmp.b,
                                         i + 1, true, &n),
                         PERC_OK);
        assert_int_equal(n, our_len);
        assert_memory_equal(tmp.b, theirs.b, n);

        /* each side opens the other's */
        memcpy(tmp.b, theirs.b, our_len);
        assert_int_equal(perc_srtcp_unprotect(our_rx, tmp.b, our_len, &n), PERC_OK);
        assert_int_equal(n, len);
        assert_memory_equal(tmp.b, plain.b, len);
        int m = (int)our_len;
        assert_int_equal(srtp_unprotect_rtcp(lib_rx, ours.b, &m), srtp_err_status_ok);
        assert_int_equal((size_t)m, len);
        assert_memory_equal(ours.b, plain.b, len);
    }
    perc_srtp_ctx_free(our_tx);
    perc_srtp_ctx_free(our_rx);
    srtp_dealloc(lib_tx);
    srtp_dealloc(lib_rx);
}

static void test_libsrtp_rtp_128(void **state)
{
    (void)state;
    libsrtp_rtp_compare(PERC_AES128_GCM, 0x128);
}

static void test_libsrtp_rtp_256(void **state)
{
    (void)state;
    libsrtp_rtp_compare(PERC_AES256_GCM, 0x256);
}

static void test_libsrtp_rtcp_128(void **state)
{
    (void)state;
    libsrtp_rtcp_compare(PERC_AES128_GCM, 0x1280);
}

static void test_libsrtp_rtcp_256(void **state)
{
    (void)state;
    libsrtp_rtcp_compare(PERC_AES256_GCM, 0x2560);
}

/* libsrtp receiving from our sender after a ROC was set on both sides. */
static void test_libsrtp_set_roc(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 77);
    srtp_t lib_tx, lib_rx;
    libsrtp_pair(PERC_AES128_GCM, &lib_tx, &lib_rx);
    perc_srtp_ctx *our_tx = ctx_kdf(PERC_AES128_GCM, 0);
    uint32_t ssrc = 0x11223344;
    assert_int_equal(perc_srtp_ctx_set_roc(our_tx, ssrc, 7), PERC_OK);
    /* libsrtp creates the stream from the template on the first packet,
     * so send one at ROC 0 there first, then move it to ROC 7 */
    abuf plain, ours, theirs;
    size_t len = make_rtp(&rng, plain.b, sizeof plain.b, ssrc, 100, 0, false, 40, 0);
    memcpy(theirs.b, plain.b, len);
    int tl = (int)len;
    assert_int_equal(srtp_protect(lib_tx, theirs.b, &tl), srtp_err_status_ok);
    assert_int_equal(srtp_set_stream_roc(lib_tx, ssrc, 7), srtp_err_status_ok);
    len = make_rtp(&rng, plain.b, sizeof plain.b, ssrc, 101, 0, false, 40, 0);
    memcpy(ours.b, plain.b, len);
    memcpy(theirs.b, plain.b, len);
    size_t ol = 0;
    assert_int_equal(perc_srtp_protect(our_tx, ours.b, len, sizeof ours.b, &ol), PERC_OK);
    tl = (int)len;
    assert_int_equal(srtp_protect(lib_tx, theirs.b, &tl), srtp_err_status_ok);
    assert_int_equal(ol, (size_t)tl);
    assert_memory_equal(ours.b, theirs.b, ol);
    perc_srtp_ctx_free(our_tx);
    srtp_dealloc(lib_tx);
    srtp_dealloc(lib_rx);
}

/* ---- replay window and ROC -------------------------------------------- */

static void test_replay_window(void **state)
{
    (void)state;
    perc_replay_window w;
    perc_replay_init(&w);
    assert_int_equal(perc_replay_check(&w, 1000), PERC_OK);
    perc_replay_commit(&w, 1000);
    assert_int_equal(perc_replay_check(&w, 1000), PERC_ERR_REPLAY);
    assert_int_equal(perc_replay_check(&w, 999), PERC_OK);
    assert_int_equal(perc_replay_check(&w, 1000 - 127), PERC_OK);
    assert_int_equal(perc_replay_check(&w, 1000 - 128), PERC_ERR_REPLAY_OLD);
    assert_int_equal(perc_replay_check(&w, 5000), PERC_OK);

    /* marks survive shifts across the word boundary */
    perc_replay_commit(&w, 1000 - 100);
    perc_replay_commit(&w, 1000 + 60);     /* shift by 60: 900 now at bit 160 -> gone */
    assert_int_equal(perc_replay_check(&w, 900), PERC_ERR_REPLAY_OLD);
    assert_int_equal(perc_replay_check(&w, 1000), PERC_ERR_REPLAY); /* bit 60 */
    perc_replay_commit(&w, 1000 + 60 + 5); /* 1000 at bit 65, 1060 at bit 5 */
    assert_int_equal(perc_replay_check(&w, 1000), PERC_ERR_REPLAY);
    assert_int_equal(perc_replay_check(&w, 1060), PERC_ERR_REPLAY);
    assert_int_equal(perc_replay_check(&w, 1001), PERC_OK);
    assert_int_equal(perc_replay_check(&w, 1065 - 127), PERC_OK);
    perc_replay_commit(&w, 1065 - 127);
    assert_int_equal(perc_replay_check(&w, 1065 - 127), PERC_ERR_REPLAY);
    perc_replay_commit(&w, 1066); /* 938 falls out */
    assert_int_equal(perc_replay_check(&w, 1065 - 127), PERC_ERR_REPLAY_OLD);
    assert_int_equal(perc_replay_check(&w, 1000), PERC_ERR_REPLAY);
    /* a jump of exactly the window size forgets everything but the top */
    perc_replay_commit(&w, 1066 + 128);
    assert_int_equal(perc_replay_check(&w, 1066), PERC_ERR_REPLAY_OLD);
    assert_int_equal(perc_replay_check(&w, 1066 + 1), PERC_OK);
    assert_int_equal(perc_replay_check(&w, 1066 + 128), PERC_ERR_REPLAY);
    /* an index inside the window but below top can be committed later */
    perc_replay_commit(&w, 1066 + 100);
    assert_int_equal(perc_replay_check(&w, 1066 + 100), PERC_ERR_REPLAY);
    assert_int_equal(perc_replay_check(&w, 1066 + 99), PERC_OK);

    /* a dense run: each of 300 indices accepted once */
    perc_replay_init(&w);
    for (uint64_t i = 0; i < 300; i++) {
        assert_int_equal(perc_replay_check(&w, i), PERC_OK);
        perc_replay_commit(&w, i);
        for (uint64_t j = i > 127 ? i - 127 : 0; j <= i; j++)
            assert_int_equal(perc_replay_check(&w, j), PERC_ERR_REPLAY);
        if (i >= 128)
            assert_int_equal(perc_replay_check(&w, i - 128), PERC_ERR_REPLAY_OLD);
    }
}

typedef struct {
    uint32_t roc;
    uint16_t s_l;
    uint16_t seq;
    uint32_t want_roc;
} est_case;

/* RFC 3711 Appendix A around 0, 0x8000 and 0xFFFF. */
static void test_roc_estimation(void **state)
{
    (void)state;
    const est_case cases[] = {
        {1, 0x0000, 0x0000, 1},
        {1, 0x0000, 0x0001, 1},
        {1, 0x0000, 0x8000, 1},   /* exactly 2^15 ahead: same ROC */
        {1, 0x0000, 0x8001, 0},   /* more than 2^15 ahead: previous ROC */
        {1, 0x0000, 0xFFFF, 0},
        {1, 0x7FFF, 0xFFFF, 1},
        {1, 0x7FFF, 0x0000, 1},
        {1, 0x7FFF, 0x8000, 1},
        {1, 0x8000, 0x0000, 1},   /* s_l - 2^15 = 0, not above 0 */
        {1, 0x8000, 0xFFFF, 1},
        {1, 0x8001, 0x0000, 2},
        {1, 0x8001, 0x0001, 1},
        {1, 0xFFFF, 0x0000, 2},
        {1, 0xFFFF, 0x7FFE, 2},
        {1, 0xFFFF, 0x7FFF, 1},
        {1, 0xFFFF, 0xFFF0, 1},
        {1, 0xFFFF, 0xFFFF, 1},
        {0, 0x0000, 0x9000, 0},   /* no ROC -1: kept at 0 */
        {0, 0x0010, 0xFFFF, 0},
        {UINT32_MAX, 0xFFFF, 0x0000, UINT32_MAX}, /* no ROC 2^32 */
        {UINT32_MAX, 0x0000, 0xFFFF, UINT32_MAX - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        perc_srtp_rx_state st;
        perc_srtp_rx_set_roc(&st, cases[i].roc);
        perc_srtp_rx_commit(&st, perc_srtp_index(cases[i].roc, cases[i].s_l));
        assert_int_equal(st.roc, cases[i].roc);
        assert_int_equal(st.s_l, cases[i].s_l);
        uint64_t idx = perc_srtp_rx_estimate(&st, cases[i].seq);
        if (idx != perc_srtp_index(cases[i].want_roc, cases[i].seq))
            fail_msg("case %zu: roc %u s_l %04x seq %04x: got roc %u", i, cases[i].roc,
                     cases[i].s_l, cases[i].seq, perc_srtp_index_roc(idx));
    }

    /* before any packet: the set ROC, whatever the SEQ */
    perc_srtp_rx_state st;
    perc_srtp_rx_init(&st);
    assert_true(perc_srtp_rx_estimate(&st, 0xFFFF) == perc_srtp_index(0, 0xFFFF));
    perc_srtp_rx_set_roc(&st, 5);
    assert_true(perc_srtp_rx_estimate(&st, 0x0000) == perc_srtp_index(5, 0));
    assert_true(perc_srtp_rx_estimate(&st, 0xFFFF) == perc_srtp_index(5, 0xFFFF));
    assert_int_equal(perc_srtp_rx_check(&st, perc_srtp_index(5, 3)), PERC_OK);

    /* commit: ROC moves forward with s_l; older packets move neither */
    perc_srtp_rx_commit(&st, perc_srtp_index(5, 0xFFF0));
    perc_srtp_rx_commit(&st, perc_srtp_index(6, 0x0002));
    assert_int_equal(st.roc, 6);
    assert_int_equal(st.s_l, 2);
    perc_srtp_rx_commit(&st, perc_srtp_index(5, 0xFFF5));
    assert_int_equal(st.roc, 6);
    assert_int_equal(st.s_l, 2);
    perc_srtp_rx_commit(&st, perc_srtp_index(6, 0x0001));
    assert_int_equal(st.s_l, 2);
    assert_true(perc_srtp_rx_estimate(&st, 0xFFF5) == perc_srtp_index(5, 0xFFF5));
    assert_int_equal(perc_srtp_rx_check(&st, perc_srtp_index(5, 0xFFF5)), PERC_ERR_REPLAY);
    assert_int_equal(perc_srtp_rx_check(&st, perc_srtp_index(5, 0xFFF6)), PERC_OK);
    assert_int_equal(perc_srtp_rx_check(&st, perc_srtp_index(6, 0x0002)), PERC_ERR_REPLAY);
}

static void test_tx_roc(void **state)
{
    (void)state;
    perc_srtp_tx_state tx;
    perc_srtp_tx_init(&tx, 0);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0xFFFE), 0);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0xFFFF), 0);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0000), 1); /* wrap */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0xFFFF), 0); /* resend from before the wrap */
    assert_int_equal(tx.roc, 1);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0002), 1); /* gap */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0002), 1); /* same again */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0001), 1); /* resend */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x8001), 1); /* forward by 0x7FFF */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0001), 1); /* back by exactly 2^15: old */
    assert_int_equal(tx.last_seq, 0x8001);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x0000), 2); /* back by more than 2^15: wrap */
    perc_srtp_tx_init(&tx, 41);
    assert_int_equal(perc_srtp_tx_roc(&tx, 0x1234), 41); /* first packet: the set ROC */
    assert_int_equal(perc_srtp_tx_roc(&tx, 0xFFFF), 40); /* far "ahead" = before the start */
    assert_int_equal(tx.roc, 41);
}

/* ---- context: replay, forged packets, limits -------------------------- */

/* Protects seq with tx and returns the packet in out. */
static size_t sealed(perc_srtp_ctx *tx, tu_rng *rng, uint32_t ssrc, uint16_t seq, uint8_t *out)
{
    size_t len = make_rtp(rng, out, BUF_CAP, ssrc, seq, 2, true, 50, 0);
    size_t n = 0;
    assert_int_equal(perc_srtp_protect(tx, out, len, BUF_CAP, &n), PERC_OK);
    return n;
}

static int rx_copy(perc_srtp_ctx *rx, const uint8_t *pkt, size_t len)
{
    uint8_t tmp[BUF_CAP];
    memcpy(tmp, pkt, len);
    size_t n;
    return perc_srtp_unprotect(rx, tmp, len, &n);
}

static void test_ctx_replay(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 5);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0), *rx = ctx_kdf(PERC_AES128_GCM, 0);
    const uint32_t ssrc = 0xCAFE0001;
    static uint8_t pkts[400][BUF_CAP];
    size_t lens[400];
    for (unsigned i = 0; i < 400; i++)
        lens[i] = sealed(tx, &rng, ssrc, (uint16_t)(0xFF00 + i), pkts[i]); /* wraps at 256 */

    assert_int_equal(rx_copy(rx, pkts[10], lens[10]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[10], lens[10]), PERC_ERR_REPLAY);
    assert_int_equal(rx_copy(rx, pkts[12], lens[12]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[11], lens[11]), PERC_OK); /* reordered */
    assert_int_equal(rx_copy(rx, pkts[11], lens[11]), PERC_ERR_REPLAY);

    /* a forged packet far in the future: SEQ changed, so the tag fails,
     * and the window must not move */
    uint8_t forged[BUF_CAP];
    memcpy(forged, pkts[12], lens[12]);
    perc_store_u16(forged + 2, (uint16_t)(0xFF00 + 12 + 30000));
    assert_int_equal(rx_copy(rx, forged, lens[12]), PERC_ERR_AUTH);
    /* also one with a valid-looking ROC-crossing SEQ */
    memcpy(forged, pkts[300], lens[300]);
    forged[lens[300] - 1] ^= 1;
    assert_int_equal(rx_copy(rx, forged, lens[300]), PERC_ERR_AUTH);
    assert_int_equal(rx_copy(rx, pkts[5], lens[5]), PERC_OK);   /* still within window */
    assert_int_equal(rx_copy(rx, pkts[13], lens[13]), PERC_OK); /* s_l did not move */

    /* across the ROC wrap: 250..270 in order, then some reordering */
    for (unsigned i = 250; i < 270; i++)
        assert_int_equal(rx_copy(rx, pkts[i], lens[i]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[255], lens[255]), PERC_ERR_REPLAY);
    assert_int_equal(rx_copy(rx, pkts[258], lens[258]), PERC_ERR_REPLAY);
    assert_int_equal(rx_copy(rx, pkts[200], lens[200]), PERC_OK); /* 69 back, before wrap */
    assert_int_equal(rx_copy(rx, pkts[13], lens[13]), PERC_ERR_REPLAY_OLD);
    assert_int_equal(rx_copy(rx, pkts[141], lens[141]), PERC_ERR_REPLAY_OLD); /* 128 behind */
    assert_int_equal(rx_copy(rx, pkts[142], lens[142]), PERC_OK);             /* 127 behind */
    assert_int_equal(rx_copy(rx, pkts[399], lens[399]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[272], lens[272]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[271], lens[271]), PERC_ERR_REPLAY_OLD);
    assert_int_equal(rx_copy(rx, pkts[300], lens[300]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkts[300], lens[300]), PERC_ERR_REPLAY);

    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

static void test_ctx_srtcp_replay(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 6);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES256_GCM, 0), *rx = ctx_kdf(PERC_AES256_GCM, 0);
    static uint8_t pkts[200][BUF_CAP];
    size_t lens[200];
    for (unsigned i = 0; i < 200; i++) {
        size_t len = make_rtcp(&rng, pkts[i], 0x5eed, 3);
        assert_int_equal(perc_srtcp_protect(tx, pkts[i], len, BUF_CAP, &lens[i]), PERC_OK);
    }
    uint8_t tmp[BUF_CAP];
    size_t n;
#define RX(i) (memcpy(tmp, pkts[i], lens[i]), perc_srtcp_unprotect(rx, tmp, lens[i], &n))
    assert_int_equal(RX(0), PERC_OK);
    assert_int_equal(RX(0), PERC_ERR_REPLAY);
    assert_int_equal(RX(150), PERC_OK);
    assert_int_equal(RX(22), PERC_ERR_REPLAY_OLD); /* 128 behind */
    assert_int_equal(RX(23), PERC_OK);             /* 127 behind, reordered */
    assert_int_equal(RX(23), PERC_ERR_REPLAY);
    /* a forged packet with a far-future index does not move the window */
    memcpy(tmp, pkts[199], lens[199]);
    perc_store_u32(tmp + lens[199] - 4, 0x80000000u | 100000);
    assert_int_equal(perc_srtcp_unprotect(rx, tmp, lens[199], &n), PERC_ERR_AUTH);
    assert_int_equal(RX(24), PERC_OK);
    assert_int_equal(RX(199), PERC_OK);
    assert_int_equal(RX(71), PERC_ERR_REPLAY_OLD);
#undef RX
    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

static void test_ctx_set_roc(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0);
    const uint32_t ssrc = 0x0BADF00D;
    assert_int_equal(perc_srtp_ctx_set_roc(tx, ssrc, 5), PERC_OK);
    uint8_t pkt[BUF_CAP];
    size_t len = sealed(tx, &rng, ssrc, 10, pkt);

    /* the session opens it at ROC 5 only */
    uint8_t tmp[BUF_CAP];
    size_t n;
    memcpy(tmp, pkt, len);
    assert_int_equal(perc_srtp_open(perc_srtp_ctx_session(tx), tmp, len, 0, &n), PERC_ERR_AUTH);
    memcpy(tmp, pkt, len);
    assert_int_equal(perc_srtp_open(perc_srtp_ctx_session(tx), tmp, len, 5, &n), PERC_OK);

    /* a receiver that does not know the ROC fails, one told it succeeds */
    perc_srtp_ctx *rx = ctx_kdf(PERC_AES128_GCM, 0);
    assert_int_equal(rx_copy(rx, pkt, len), PERC_ERR_AUTH);
    assert_int_equal(perc_srtp_ctx_set_roc(rx, ssrc, 5), PERC_OK);
    assert_int_equal(rx_copy(rx, pkt, len), PERC_OK);
    perc_srtp_ctx_free(rx);
    perc_srtp_ctx_free(tx);
}

static void test_ctx_limits(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 8);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0), *rx = ctx_kdf(PERC_AES128_GCM, 3);
    uint8_t pkt[5][BUF_CAP];
    size_t lens[5];
    for (uint32_t i = 0; i < 5; i++)
        lens[i] = sealed(tx, &rng, 100 + i, 1, pkt[i]);

    /* a forged packet for an unknown SSRC does not take a slot */
    uint8_t forged[BUF_CAP];
    memcpy(forged, pkt[4], lens[4]);
    forged[20] ^= 0x40;
    for (int k = 0; k < 5; k++)
        assert_int_equal(rx_copy(rx, forged, lens[4]), PERC_ERR_AUTH);

    for (int i = 0; i < 3; i++)
        assert_int_equal(rx_copy(rx, pkt[i], lens[i]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkt[3], lens[3]), PERC_ERR_LIMIT);
    assert_int_equal(perc_srtp_ctx_set_roc(rx, 999, 1), PERC_ERR_LIMIT);
    assert_int_equal(perc_srtp_ctx_set_roc(rx, 101, 0), PERC_OK); /* existing */
    uint8_t rtcp[BUF_CAP];
    size_t rl = make_rtcp(&rng, rtcp, 999, 2), n;
    assert_int_equal(perc_srtcp_protect(rx, rtcp, rl, sizeof rtcp, &n), PERC_ERR_LIMIT);
    uint8_t plain[BUF_CAP];
    size_t pl = make_rtp(&rng, plain, sizeof plain, 999, 1, 0, false, 10, 0);
    assert_int_equal(perc_srtp_protect(rx, plain, pl, sizeof plain, &n), PERC_ERR_LIMIT);

    assert_int_equal(perc_srtp_ctx_remove(rx, 999), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_srtp_ctx_remove(rx, 100), PERC_OK);
    assert_int_equal(perc_srtp_ctx_remove(rx, 100), PERC_ERR_NOT_FOUND);
    assert_int_equal(rx_copy(rx, pkt[3], lens[3]), PERC_OK);
    assert_int_equal(rx_copy(rx, pkt[4], lens[4]), PERC_ERR_LIMIT);
    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

/* Many SSRCs in and out of the table: every present one stays findable
 * (set_roc on a present SSRC must not need a new slot). */
static void test_ctx_table_churn(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 9);
    enum { MAX = 1000 };
    perc_srtp_ctx *ctx = ctx_kdf(PERC_AES128_GCM, MAX);
    static uint32_t ssrcs[MAX];
    static bool present[MAX];
    for (unsigned i = 0; i < MAX; i++) {
        /* small values collide in the low bits; add structure on purpose */
        ssrcs[i] = (i % 2) ? (uint32_t)tu_rng_next(&rng) : (uint32_t)i << 20;
        for (unsigned j = 0; j < i; j++)
            if (ssrcs[j] == ssrcs[i])
                ssrcs[i] ^= 0x5a5a5a5a;
        assert_int_equal(perc_srtp_ctx_set_roc(ctx, ssrcs[i], i), PERC_OK);
        present[i] = true;
    }
    assert_int_equal(perc_srtp_ctx_set_roc(ctx, 0xFFFFFFFF, 0), PERC_ERR_LIMIT);
    for (unsigned round = 0; round < 5000; round++) {
        unsigned i = tu_rng_below(&rng, MAX);
        if (present[i]) {
            assert_int_equal(perc_srtp_ctx_remove(ctx, ssrcs[i]), PERC_OK);
            present[i] = false;
        } else {
            assert_int_equal(perc_srtp_ctx_remove(ctx, ssrcs[i]), PERC_ERR_NOT_FOUND);
            assert_int_equal(perc_srtp_ctx_set_roc(ctx, ssrcs[i], 0), PERC_OK);
            present[i] = true;
        }
    }
    /* fill up again: the number of free slots matches what was removed */
    unsigned removed = 0;
    for (unsigned i = 0; i < MAX; i++)
        removed += !present[i];
    for (unsigned i = 0; i < MAX; i++)
        if (present[i])
            assert_int_equal(perc_srtp_ctx_set_roc(ctx, ssrcs[i], 1), PERC_OK);
    for (unsigned k = 0; k < removed; k++)
        assert_int_equal(perc_srtp_ctx_set_roc(ctx, 0xF0000000u + k, 0), PERC_OK);
    assert_int_equal(perc_srtp_ctx_set_roc(ctx, 0xFFFFFFFF, 0), PERC_ERR_LIMIT);
    perc_srtp_ctx_free(ctx);
}

/* ---- hostile and short input ------------------------------------------ */

static void test_srtp_truncation_and_bits(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 10);
    perc_srtp_session *s = session_direct(PERC_AES128_GCM, TEST_KEY, 16, TEST_SALT);
    uint8_t plain[BUF_CAP], pkt[BUF_CAP], tmp[BUF_CAP];
    size_t pl = make_rtp(&rng, plain, sizeof plain, 0x1234, 77, 3, true, 33, 0);
    memcpy(pkt, plain, pl);
    size_t len = 0, n;
    assert_int_equal(perc_srtp_seal(s, pkt, pl, sizeof pkt, 9, &len), PERC_OK);

    /* every truncation fails, with no crash (ASan checks reads) */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        assert_non_null(exact);
        memcpy(exact, pkt, cut);
        int rc = perc_srtp_open(s, exact, cut, 9, &n);
        assert_int_not_equal(rc, PERC_OK);
        if (cut < pl - 33 + PERC_SRTP_TAG_LEN)
            assert_int_equal(rc, PERC_ERR_TRUNCATED);
        else
            assert_int_equal(rc, PERC_ERR_AUTH);
        free(exact);
    }
    /* trailing bytes: the tag is read from the wrong place */
    memcpy(tmp, pkt, len);
    tmp[len] = 0;
    assert_int_equal(perc_srtp_open(s, tmp, len + 1, 9, &n), PERC_ERR_AUTH);

    /* every single flipped bit is caught */
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(tmp, pkt, len);
        tmp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = perc_srtp_open(s, tmp, len, 9, &n);
        size_t byte = bit / 8;
        /* V, P, X, CC and the extension length (after 3 CSRCs) change how
         * the header parses: any error will do there */
        if (byte == 0 || byte == 12 + 12 + 2 || byte == 12 + 12 + 3)
            assert_int_not_equal(rc, PERC_OK);
        else
            assert_int_equal(rc, PERC_ERR_AUTH);
    }
    /* a failed open leaves no unauthenticated plaintext behind */
    memcpy(tmp, pkt, len);
    tmp[len - 1] ^= 0x80;
    assert_int_equal(perc_srtp_open(s, tmp, len, 9, &n), PERC_ERR_AUTH);
    uint8_t zeros[64] = {0};
    assert_memory_equal(tmp + pl - 33, zeros, 33);
    assert_memory_equal(tmp, pkt, pl - 33); /* header untouched */

    memcpy(tmp, pkt, len);
    assert_int_equal(perc_srtp_open(s, tmp, len, 9, &n), PERC_OK);
    assert_int_equal(n, pl);
    assert_memory_equal(tmp, plain, pl);

    /* no room for the tag */
    memcpy(tmp, plain, pl);
    assert_int_equal(perc_srtp_seal(s, tmp, pl, pl + PERC_SRTP_TAG_LEN - 1, 0, &n),
                     PERC_ERR_NOSPACE);
    assert_int_equal(perc_srtp_seal(s, tmp, pl, pl + PERC_SRTP_TAG_LEN, 0, &n), PERC_OK);
    perc_srtp_ctx *ctx = ctx_kdf(PERC_AES128_GCM, 0);
    memcpy(tmp, plain, pl);
    assert_int_equal(perc_srtp_protect(ctx, tmp, pl, pl + 15, &n), PERC_ERR_NOSPACE);
    memcpy(tmp, plain, pl);
    assert_int_equal(perc_srtcp_protect(ctx, tmp, 20, 20 + 19, &n), PERC_ERR_NOSPACE);
    assert_int_equal(perc_srtcp_seal(s, tmp, 20, 20 + 19, 0, true, &n), PERC_ERR_NOSPACE);
    /* the failures left the context usable */
    assert_int_equal(perc_srtp_protect(ctx, tmp, pl, sizeof tmp, &n), PERC_OK);

    /* plaintext that is not RTP */
    tmp[0] = 0x40;
    assert_int_equal(perc_srtp_seal(s, tmp, pl, sizeof tmp, 0, &n), PERC_ERR_BAD_VERSION);
    assert_int_equal(perc_srtp_seal(s, tmp, 5, sizeof tmp, 0, &n), PERC_ERR_TRUNCATED);
    assert_int_equal(perc_srtcp_seal(s, tmp, 20, sizeof tmp, 0x80000000u, true, &n),
                     PERC_ERR_INVALID_ARG);

    /* an empty payload seals and opens: tag only */
    pl = make_rtp(&rng, tmp, sizeof tmp, 0x1234, 78, 0, false, 0, 0);
    assert_int_equal(perc_srtp_seal(s, tmp, pl, sizeof tmp, 0, &len), PERC_OK);
    assert_int_equal(len, 12 + PERC_SRTP_TAG_LEN);
    assert_int_equal(perc_srtp_open(s, tmp, len, 0, &n), PERC_OK);
    assert_int_equal(n, 12);

    perc_srtp_ctx_free(ctx);
    perc_srtp_session_free(s);
}

static void test_srtcp_truncation_and_bits(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 11);
    perc_srtp_session *s = session_direct(PERC_AES256_GCM, TEST_KEY, 32, TEST_SALT);
    for (int e = 0; e < 2; e++) {
        uint8_t plain[BUF_CAP], pkt[BUF_CAP], tmp[BUF_CAP];
        size_t pl = make_rtcp(&rng, plain, 0xabcdef01, 6);
        memcpy(pkt, plain, pl);
        size_t len = 0, n;
        uint32_t idx;
        bool enc;
        assert_int_equal(perc_srtcp_seal(s, pkt, pl, sizeof pkt, 12345, e != 0, &len), PERC_OK);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *exact = malloc(cut ? cut : 1);
            assert_non_null(exact);
            memcpy(exact, pkt, cut);
            int rc = perc_srtcp_open(s, exact, cut, &idx, &enc, &n);
            assert_int_not_equal(rc, PERC_OK);
            if (cut < 8 + PERC_SRTP_TAG_LEN + PERC_SRTCP_TRAILER_LEN)
                assert_int_equal(rc, PERC_ERR_TRUNCATED);
            free(exact);
        }
        memcpy(tmp, pkt, len);
        tmp[len] = 0;
        assert_int_equal(perc_srtcp_open(s, tmp, len + 1, &idx, &enc, &n), PERC_ERR_AUTH);
        for (size_t bit = 0; bit < len * 8; bit++) {
            memcpy(tmp, pkt, len);
            tmp[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            int rc = perc_srtcp_open(s, tmp, len, &idx, &enc, &n);
            if (bit / 8 == 0 && bit % 8 >= 6)
                assert_int_equal(rc, PERC_ERR_BAD_VERSION);
            else
                assert_int_equal(rc, PERC_ERR_AUTH);
        }
        memcpy(tmp, pkt, len);
        assert_int_equal(perc_srtcp_open(s, tmp, len, &idx, &enc, &n), PERC_OK);
        assert_int_equal(n, pl);
        assert_memory_equal(tmp, plain, pl);
        assert_int_equal(idx, 12345);
        assert_int_equal(enc, e != 0);

        /* the context accepts both forms */
        perc_srtp_ctx *rx = ctx_kdf(PERC_AES256_GCM, 0);
        perc_srtp_session_keys k;
        assert_int_equal(perc_srtp_kdf(PERC_AES256_GCM, TEST_KEY, 32, TEST_SALT, 12, &k), PERC_OK);
        perc_srtp_session *ks = NULL;
        assert_int_equal(perc_srtp_session_new(&k, &ks), PERC_OK);
        perc_srtp_keys_wipe(&k);
        uint8_t good[BUF_CAP];
        memcpy(good, plain, pl);
        assert_int_equal(perc_srtcp_seal(ks, good, pl, sizeof good, 7, e != 0, &len), PERC_OK);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *exact = malloc(cut ? cut : 1);
            assert_non_null(exact);
            memcpy(exact, good, cut);
            assert_int_not_equal(perc_srtcp_unprotect(rx, exact, cut, &n), PERC_OK);
            free(exact);
        }
        assert_int_equal(perc_srtcp_unprotect(rx, good, len, &n), PERC_OK);
        assert_int_equal(n, pl);
        assert_memory_equal(good, plain, pl);
        perc_srtp_session_free(ks);
        perc_srtp_ctx_free(rx);
    }
    perc_srtp_session_free(s);
}

/* Every truncation through the context, which parses before it opens. */
static void test_ctx_truncation(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 12);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0), *rx = ctx_kdf(PERC_AES128_GCM, 0);
    uint8_t pkt[BUF_CAP];
    size_t len = sealed(tx, &rng, 42, 1000, pkt);
    size_t n;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        assert_non_null(exact);
        memcpy(exact, pkt, cut);
        assert_int_not_equal(perc_srtp_unprotect(rx, exact, cut, &n), PERC_OK);
        free(exact);
    }
    /* none of that moved anything: the real packet is still fresh */
    assert_int_equal(rx_copy(rx, pkt, len), PERC_OK);
    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

static int setup_libsrtp(void **state)
{
    (void)state;
    return srtp_init() == srtp_err_status_ok ? 0 : -1;
}

static int teardown_libsrtp(void **state)
{
    (void)state;
    srtp_shutdown();
    return 0;
}

/* RFC 3711 §3.3.1: the 48-bit index must not wrap under one key; the
 * sender refuses the packet that would wrap it, and the refused packet does
 * not move the state. */
static void test_ctx_index_exhaustion(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 77);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0);
    uint32_t ssrc = 0x0a0b0c0d;
    uint8_t buf[256];
    size_t len, n;
    assert_int_equal(perc_srtp_ctx_set_roc(tx, ssrc, UINT32_MAX), PERC_OK);
    len = make_rtp(&rng, buf, sizeof buf, ssrc, 0xFFFE, 0, false, 20, 0);
    assert_int_equal(perc_srtp_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    len = make_rtp(&rng, buf, sizeof buf, ssrc, 0xFFFF, 0, false, 20, 0);
    assert_int_equal(perc_srtp_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    len = make_rtp(&rng, buf, sizeof buf, ssrc, 0x0000, 0, false, 20, 0);
    assert_int_equal(perc_srtp_protect(tx, buf, len, sizeof buf, &n), PERC_ERR_KEY_EXHAUSTED);
    assert_int_equal(perc_srtp_protect(tx, buf, len, sizeof buf, &n), PERC_ERR_KEY_EXHAUSTED);
    perc_srtp_ctx_free(tx);
}

/* RFC 3711 §3.4 / RFC 7714 §14.2: 2^31 SRTCP packets per key; the last
 * index is still sent and opened, then the sender refuses. */
static void test_ctx_srtcp_index_exhaustion(void **state)
{
    (void)state;
    tu_rng rng;
    tu_rng_seed(&rng, 78);
    perc_srtp_ctx *tx = ctx_kdf(PERC_AES128_GCM, 0), *rx = ctx_kdf(PERC_AES128_GCM, 0);
    uint32_t ssrc = 0x0a0b0c0e;
    uint8_t buf[BUF_CAP];
    size_t len, n, opened;
    assert_int_equal(perc_srtp_ctx_set_srtcp_index(tx, ssrc, 0x80000000u), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_srtp_ctx_set_srtcp_index(NULL, ssrc, 0), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_srtp_ctx_set_srtcp_index(tx, ssrc, 0x7FFFFFFEu), PERC_OK);
    for (uint32_t index = 0x7FFFFFFEu; index <= 0x7FFFFFFFu; index++) {
        len = make_rtcp(&rng, buf, ssrc, 2);
        assert_int_equal(perc_srtcp_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
        assert_int_equal(perc_load_u32(buf + n - 4), 0x80000000u | index); /* E = 1 */
        assert_int_equal(perc_srtcp_unprotect(rx, buf, n, &opened), PERC_OK);
        assert_int_equal(opened, len);
    }
    len = make_rtcp(&rng, buf, ssrc, 2);
    assert_int_equal(perc_srtcp_protect(tx, buf, len, sizeof buf, &n), PERC_ERR_KEY_EXHAUSTED);
    assert_int_equal(perc_srtcp_protect(tx, buf, len, sizeof buf, &n), PERC_ERR_KEY_EXHAUSTED);
    /* Other SSRCs under the same key keep their own index. */
    len = make_rtcp(&rng, buf, ssrc + 1, 2);
    assert_int_equal(perc_srtcp_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_load_u32(buf + n - 4), 0x80000000u);
    /* Restoring an index lifts the refusal (the caller vouches it is new). */
    assert_int_equal(perc_srtp_ctx_set_srtcp_index(tx, ssrc, 5), PERC_OK);
    len = make_rtcp(&rng, buf, ssrc, 2);
    assert_int_equal(perc_srtcp_protect(tx, buf, len, sizeof buf, &n), PERC_OK);
    assert_int_equal(perc_load_u32(buf + n - 4), 0x80000005u);
    perc_srtp_ctx_free(tx);
    perc_srtp_ctx_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_rfc7714_srtp_vectors),
        cmocka_unit_test(test_rfc7714_srtcp_vectors),
        cmocka_unit_test(test_kdf_known_answers),
        cmocka_unit_test(test_kdf_layout),
        cmocka_unit_test(test_key_length_errors),
        cmocka_unit_test(test_libsrtp_rtp_128),
        cmocka_unit_test(test_libsrtp_rtp_256),
        cmocka_unit_test(test_libsrtp_rtcp_128),
        cmocka_unit_test(test_libsrtp_rtcp_256),
        cmocka_unit_test(test_libsrtp_set_roc),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_roc_estimation),
        cmocka_unit_test(test_tx_roc),
        cmocka_unit_test(test_ctx_replay),
        cmocka_unit_test(test_ctx_srtcp_replay),
        cmocka_unit_test(test_ctx_set_roc),
        cmocka_unit_test(test_ctx_limits),
        cmocka_unit_test(test_ctx_table_churn),
        cmocka_unit_test(test_srtp_truncation_and_bits),
        cmocka_unit_test(test_srtcp_truncation_and_bits),
        cmocka_unit_test(test_ctx_truncation),
        cmocka_unit_test(test_ctx_index_exhaustion),
        cmocka_unit_test(test_ctx_srtcp_index_exhaustion),
    };
    return cmocka_run_group_tests(tests, setup_libsrtp, teardown_libsrtp);
}
