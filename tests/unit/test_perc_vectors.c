/* The project's published vectors (tests/vectors/perc-vectors.txt, printed
 * by `perc-tool vectors`) checked WITHOUT libperc's own transforms:
 *
 *   - both SRTP layers are opened by libsrtp2, the independent oracle: the
 *     outer layer as sent, the inner layer by handing libsrtp the synthetic
 *     packet (RFC 8723 §5.3 step 4) built here by hand;
 *   - session keys are recomputed with a ten-line AES-CM PRF on raw EVP;
 *   - EKT fields are unwrapped with OpenSSL's own AES key wrap with padding;
 *   - key splits, MediaKeys, EKTKey bodies and tunnel messages are
 *     assembled here octet by octet.
 *
 * So a vector passes only if an independent implementation agrees with it,
 * and the CLI test checks that perc-tool prints exactly this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "test_util.h"
#include "vectors.h"

static tv_file VEC;

static const tv_field *field(const char *id, const char *name)
{
    const tv_block *b = tv_find(&VEC, id);
    if (!b)
        fail_msg("vector %s missing", id);
    const tv_field *f = tv_get(b, name);
    if (!f)
        fail_msg("field %s missing in %s", name, id);
    return f;
}

static void expect(const char *id, const char *name, const uint8_t *want, size_t len)
{
    const tv_field *f = field(id, name);
    assert_int_equal(f->len, len);
    assert_memory_equal(f->data, want, len);
}

/* ---- independent primitives ------------------------------------------ */

/* RFC 3711 §4.3.1/§4.3.3 with kdr 0: x = salt(14 octets, a 12-octet salt
 * padded with two zeros) XOR (label at octet 7); keystream = AES-CTR under
 * the master key from IV x || 0000. */
static void prf(const uint8_t *key, size_t key_len, const uint8_t *salt12, uint8_t label, uint8_t *out,
                size_t out_len)
{
    uint8_t iv[16] = {0};
    memcpy(iv, salt12, 12);
    iv[7] ^= label;
    uint8_t zeros[32] = {0};
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    assert_int_equal(EVP_EncryptInit_ex(c, key_len == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr(), NULL,
                                        key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(c, out, &n, zeros, (int)out_len), 1);
    EVP_CIPHER_CTX_free(c);
}

static void check_session_keys(const char *id, const char *prefix, const uint8_t *mkey, size_t klen,
                               const uint8_t *msalt, uint8_t key_label)
{
    uint8_t k[32], s[12];
    char name[64];
    prf(mkey, klen, msalt, key_label, k, klen);
    prf(mkey, klen, msalt, (uint8_t)(key_label + 2), s, 12);
    snprintf(name, sizeof name, "%s_session_key", prefix);
    expect(id, name, k, klen);
    snprintf(name, sizeof name, "%s_session_salt", prefix);
    expect(id, name, s, 12);
}

typedef union {
    uint32_t align; /* libsrtp reads headers as 32-bit words */
    uint8_t b[2048];
} abuf;

/* libsrtp2 opens one SRTP (or SRTCP) packet in buf with master key||salt at
 * the given ROC. */
static srtp_err_status_t lib_open(const uint8_t *key, size_t key_len, const uint8_t *salt, uint32_t ssrc,
                                  uint32_t roc, bool rtcp, abuf *buf, size_t *len)
{
    uint8_t keysalt[32 + 12];
    memcpy(keysalt, key, key_len);
    memcpy(keysalt + key_len, salt, 12);
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (key_len == 16) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtcp);
    }
    p.key = keysalt;
    p.window_size = 128;
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = ssrc;
    srtp_t s = NULL;
    assert_int_equal(srtp_create(&s, &p), srtp_err_status_ok);
    if (roc)
        assert_int_equal(srtp_set_stream_roc(s, ssrc, roc), srtp_err_status_ok);
    int l = (int)*len;
    srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(s, buf->b, &l) : srtp_unprotect(s, buf->b, &l);
    *len = (size_t)l;
    srtp_dealloc(s);
    return st;
}

static size_t rtp_header_len(const uint8_t *p)
{
    size_t len = 12 + 4u * (p[0] & 0x0F);
    if (p[0] & 0x10)
        len += 4 + 4u * (size_t)((p[len + 2] << 8) | p[len + 3]);
    return len;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens the double packet pkt (no EKT field) as a receiver would, with
 * libsrtp for both layers, and checks the OHB and the recovered packet. */
static void lib_double_open(const uint8_t *outer_key, size_t klen, const uint8_t *outer_salt,
                            const uint8_t *inner_key, const uint8_t *inner_salt, uint32_t roc,
                            const uint8_t *pkt, size_t len, const uint8_t *want_ohb, size_t ohb_len,
                            const uint8_t *want_rtp, size_t want_len)
{
    abuf b;
    memcpy(b.b, pkt, len);
    size_t plain_len = len;
    uint32_t ssrc = load32(pkt + 8);
    assert_int_equal(lib_open(outer_key, klen, outer_salt, ssrc, roc, false, &b, &plain_len),
                     srtp_err_status_ok);
    /* outer plaintext = header || inner ct || inner tag || OHB */
    assert_memory_equal(b.b + plain_len - ohb_len, want_ohb, ohb_len);
    uint8_t config = want_ohb[ohb_len - 1];
    size_t hlen = rtp_header_len(b.b);
    /* synthetic packet: received header with the originals restored, X
     * cleared, truncated to 12 + 4*CC octets; then inner ct || tag */
    abuf syn;
    size_t slen = 12 + 4u * (b.b[0] & 0x0F);
    memcpy(syn.b, b.b, slen);
    syn.b[0] &= (uint8_t)~0x10;
    size_t at = 0;
    if (config & 0x02)
        syn.b[1] = (uint8_t)((syn.b[1] & 0x80) | (want_ohb[at++] & 0x7F));
    if (config & 0x01) {
        syn.b[2] = want_ohb[at];
        syn.b[3] = want_ohb[at + 1];
    }
    if (config & 0x04)
        syn.b[1] = (uint8_t)((syn.b[1] & 0x7F) | ((config & 0x08) ? 0x80 : 0));
    size_t inner_len = plain_len - ohb_len - hlen;
    memcpy(syn.b + slen, b.b + hlen, inner_len);
    size_t syn_len = slen + inner_len;
    assert_int_equal(lib_open(inner_key, klen, inner_salt, ssrc, roc, false, &syn, &syn_len),
                     srtp_err_status_ok);
    /* the recovered payload is the original's */
    size_t want_hlen = rtp_header_len(want_rtp);
    assert_int_equal(syn_len - slen, want_len - want_hlen);
    assert_memory_equal(syn.b + slen, want_rtp + want_hlen, want_len - want_hlen);
    /* and the restored synthetic header matches the original's */
    assert_int_equal(syn.b[0], want_rtp[0] & (uint8_t)~0x10);
    assert_memory_equal(syn.b + 1, want_rtp + 1, slen - 1);
}

/* Unwraps an EKTCiphertext with OpenSSL's AES-KWP and checks the
 * plaintext: len || key || SSRC || ROC (RFC 8870 §4.1). */
static void check_full_field(const uint8_t *f, size_t flen, const uint8_t *ekt_key, size_t ekt_len,
                             const uint8_t *master_key, size_t mk_len, uint32_t ssrc, uint32_t roc,
                             uint16_t spi, uint16_t epoch)
{
    assert_int_equal(f[flen - 1], 0x02);
    assert_int_equal((f[flen - 3] << 8) | f[flen - 2], flen);
    assert_int_equal((f[flen - 5] << 8) | f[flen - 4], epoch);
    assert_int_equal((f[flen - 7] << 8) | f[flen - 6], spi);
    size_t ct_len = flen - 7;
    assert_int_equal(ct_len, 8 * ((1 + mk_len + 8 + 7) / 8) + 8); /* RFC 5649 length */
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    assert_int_equal(EVP_DecryptInit_ex(c, ekt_len == 16 ? EVP_aes_128_wrap_pad() : EVP_aes_256_wrap_pad(),
                                        NULL, ekt_key, NULL), 1);
    uint8_t pt[300];
    int n = 0;
    assert_int_equal(EVP_DecryptUpdate(c, pt, &n, f, (int)ct_len), 1);
    EVP_CIPHER_CTX_free(c);
    assert_int_equal(n, 1 + mk_len + 8);
    assert_int_equal(pt[0], mk_len);
    assert_memory_equal(pt + 1, master_key, mk_len);
    assert_int_equal(load32(pt + 1 + mk_len), ssrc);
    assert_int_equal(load32(pt + 5 + mk_len), roc);
}

/* ---- the vectors ------------------------------------------------------ */

static void check_split(const char *id, const char *assoc_field)
{
    const tv_field *ex = field(id, "exporter_output");
    assert_int_equal(ex->len, 112);
    const uint8_t *m = ex->data;
    /* RFC 5764 §4.2: cw key | sw key | cw salt | sw salt; RFC 8723 §10.1:
     * first half inner */
    expect(id, "client_write_inner_master_key", m, 16);
    expect(id, "client_write_outer_master_key", m + 16, 16);
    expect(id, "server_write_inner_master_key", m + 32, 16);
    expect(id, "server_write_outer_master_key", m + 48, 16);
    expect(id, "client_write_inner_master_salt", m + 64, 12);
    expect(id, "client_write_outer_master_salt", m + 76, 12);
    expect(id, "server_write_inner_master_salt", m + 88, 12);
    expect(id, "server_write_outer_master_salt", m + 100, 12);
    const tv_field *uuid = field(id, assoc_field);
    assert_int_equal(uuid->len, 16);
    assert_int_equal(uuid->data[6] >> 4, 4);        /* version 4 */
    assert_int_equal(uuid->data[8] & 0xC0, 0x80);   /* RFC 4122 variant */
    /* RFC 9185 §6.4 MediaKeys, outer halves only */
    uint8_t mk[3 + 79];
    size_t n = 0;
    mk[n++] = 3;
    mk[n++] = 0;
    mk[n++] = 79;
    memcpy(mk + n, uuid->data, 16), n += 16;
    mk[n++] = 0x00, mk[n++] = 0x09; /* profile */
    mk[n++] = 0;                    /* no MKI */
    mk[n++] = 16, memcpy(mk + n, m + 16, 16), n += 16;
    mk[n++] = 16, memcpy(mk + n, m + 48, 16), n += 16;
    mk[n++] = 12, memcpy(mk + n, m + 76, 12), n += 12;
    mk[n++] = 12, memcpy(mk + n, m + 100, 12), n += 12;
    assert_int_equal(n, sizeof mk);
    expect(id, "media_keys_message", mk, n);
}

static void test_keying_splits(void **state)
{
    (void)state;
    check_split("perc_double128_keying_split_a", "association_id");
    check_split("perc_double128_keying_split_b", "association_id");
}

static void test_double128_sender(void **state)
{
    (void)state;
    const char *id = "perc_double128_sender";
    const tv_field *ik = field(id, "inner_master_key"), *is = field(id, "inner_master_salt");
    const tv_field *ok = field(id, "outer_master_key"), *os = field(id, "outer_master_salt");
    /* the outer half is A's client_write outer half */
    expect("perc_double128_keying_split_a", "client_write_outer_master_key", ok->data, ok->len);
    expect("perc_double128_keying_split_a", "client_write_outer_master_salt", os->data, os->len);
    /* the inner salt is the EKTKey salt (RFC 8871 §4.5.1) */
    expect("perc_ektkey_message", "srtp_master_salt", is->data, is->len);
    check_session_keys(id, "inner_srtp", ik->data, 16, is->data, 0x00);
    check_session_keys(id, "outer_srtp", ok->data, 16, os->data, 0x00);

    const tv_field *rtp = field(id, "rtp_packet"), *srtp = field(id, "srtp_packet");
    /* inner AAD = header with X cleared, extension dropped, CSRC kept */
    uint8_t aad[16];
    memcpy(aad, rtp->data, 16);
    aad[0] &= (uint8_t)~0x10;
    expect(id, "inner_aad", aad, 16);
    /* outer layer alone: libsrtp opens it to the outer plaintext */
    abuf b;
    memcpy(b.b, srtp->data, srtp->len);
    size_t len = srtp->len;
    assert_int_equal(lib_open(ok->data, 16, os->data, load32(rtp->data + 8), 0, false, &b, &len),
                     srtp_err_status_ok);
    expect(id, "outer_plaintext", b.b, len);
    /* both layers, the empty OHB */
    static const uint8_t EMPTY_OHB[] = {0x00};
    lib_double_open(ok->data, 16, os->data, ik->data, is->data, 0, srtp->data, srtp->len, EMPTY_OHB, 1,
                    rtp->data, rtp->len);
    /* the Full EKT field carries the inner key, SSRC and ROC */
    const tv_field *ekt = field(id, "ekt_key"), *full = field(id, "full_ekt_field");
    check_full_field(full->data, full->len, ekt->data, ekt->len, ik->data, 16, load32(rtp->data + 8), 0,
                     0x0101, 0);
    expect("perc_ektkey_message", "ekt_key", ekt->data, ekt->len);
    /* on the wire: SRTP packet then the field */
    const tv_field *wire = field(id, "wire_packet");
    assert_int_equal(wire->len, srtp->len + full->len);
    assert_memory_equal(wire->data, srtp->data, srtp->len);
    assert_memory_equal(wire->data + srtp->len, full->data, full->len);
}

static void test_md_relays(void **state)
{
    (void)state;
    const char *snd = "perc_double128_sender";
    const tv_field *ik = field(snd, "inner_master_key"), *is = field(snd, "inner_master_salt");
    const tv_field *rtp = field(snd, "rtp_packet"), *full = field(snd, "full_ekt_field");

    const char *id = "perc_double128_md_relay";
    const tv_field *ok = field(id, "out_outer_master_key"), *os = field(id, "out_outer_master_salt");
    expect("perc_double128_keying_split_b", "server_write_outer_master_key", ok->data, ok->len);
    check_session_keys(id, "out_outer_srtp", ok->data, 16, os->data, 0x00);
    /* PT 111, SEQ 0x1234, M 0 recorded; config 07 */
    static const uint8_t OHB1[] = {0x6f, 0x12, 0x34, 0x07};
    expect(id, "ohb", OHB1, sizeof OHB1);
    const tv_field *fwd = field(id, "forwarded_packet");
    /* the EKT field comes through unchanged */
    assert_memory_equal(fwd->data + fwd->len - full->len, full->data, full->len);
    size_t srtp_len = fwd->len - full->len;
    /* header as sent: M set, PT 96, SEQ 7 */
    assert_int_equal(fwd->data[1], 0x80 | 96);
    assert_int_equal((fwd->data[2] << 8) | fwd->data[3], 7);
    lib_double_open(ok->data, 16, os->data, ik->data, is->data, 0, fwd->data, srtp_len, OHB1,
                    sizeof OHB1, rtp->data, rtp->len);

    const char *id2 = "perc_double128_cascaded_relay";
    const tv_field *ok2 = field(id2, "out_outer_master_key"), *os2 = field(id2, "out_outer_master_salt");
    static const uint8_t OHB2[] = {0x6f, 0x12, 0x34, 0x03}; /* M back to original: dropped */
    expect(id2, "ohb", OHB2, sizeof OHB2);
    const tv_field *fwd2 = field(id2, "forwarded_packet");
    assert_memory_equal(fwd2->data + fwd2->len - full->len, full->data, full->len);
    assert_int_equal(fwd2->data[1], 96);
    assert_int_equal((fwd2->data[2] << 8) | fwd2->data[3], 0x0100);
    lib_double_open(ok2->data, 16, os2->data, ik->data, is->data, 0, fwd2->data, fwd2->len - full->len,
                    OHB2, sizeof OHB2, rtp->data, rtp->len);
    /* and a relay never re-used the incoming hop's key */
    assert_memory_not_equal(ok->data, field(snd, "outer_master_key")->data, 16);
    assert_memory_not_equal(ok2->data, ok->data, 16);
}

static void test_double256_sender(void **state)
{
    (void)state;
    const char *id = "perc_double256_sender";
    const tv_field *ex = field(id, "exporter_output");
    assert_int_equal(ex->len, 176);
    /* 64-octet keys split 32+32; salts 24 = 12+12 */
    expect(id, "outer_master_key", ex->data + 32, 32);
    expect(id, "outer_master_salt", ex->data + 128 + 12, 12);
    const tv_field *ik = field(id, "inner_master_key"), *is = field(id, "inner_master_salt");
    const tv_field *ok = field(id, "outer_master_key"), *os = field(id, "outer_master_salt");
    const tv_field *rtp = field(id, "rtp_packet"), *srtp = field(id, "srtp_packet");
    static const uint8_t EMPTY_OHB[] = {0x00};
    lib_double_open(ok->data, 32, os->data, ik->data, is->data, 5, srtp->data, srtp->len, EMPTY_OHB, 1,
                    rtp->data, rtp->len);
    const tv_field *ekt = field(id, "ekt_key"), *full = field(id, "full_ekt_field");
    assert_int_equal(full->len, 63);
    check_full_field(full->data, full->len, ekt->data, 32, ik->data, 32, load32(rtp->data + 8), 5, 0x0202,
                     2);
}

static void test_ektkey_message(void **state)
{
    (void)state;
    const char *id = "perc_ektkey_message";
    const tv_field *k = field(id, "ekt_key"), *s = field(id, "srtp_master_salt");
    uint8_t body[64];
    size_t n = 0;
    body[n++] = 0, body[n++] = (uint8_t)k->len, memcpy(body + n, k->data, k->len), n += k->len;
    body[n++] = 0, body[n++] = (uint8_t)s->len, memcpy(body + n, s->data, s->len), n += s->len;
    body[n++] = 0x01, body[n++] = 0x01;                   /* SPI */
    body[n++] = 0x01, body[n++] = 0x51, body[n++] = 0x80; /* TTL 86400 s */
    expect(id, "ektkey_body", body, n);
    static const uint8_t CLIENT[] = {0x02, 0x01, 0x02}, SERVER[] = {0x01};
    expect(id, "client_supported_ekt_ciphers", CLIENT, sizeof CLIENT);
    expect(id, "server_supported_ekt_ciphers", SERVER, sizeof SERVER);
}

static void test_tunnel_messages(void **state)
{
    (void)state;
    const char *id = "perc_tunnel_messages";
    /* RFC 9185 §7's example, as in tests/vectors/tunnel-examples.txt */
    static const uint8_t SP[] = {0x01, 0x00, 0x07, 0x00, 0x00, 0x04, 0x00, 0x09, 0x00, 0x0a};
    expect(id, "supported_profiles", SP, sizeof SP);
    static const uint8_t UV[] = {0x02, 0x00, 0x01, 0x00};
    expect(id, "unsupported_version", UV, sizeof UV);
    const tv_field *uuid = field("perc_double128_keying_split_a", "association_id");
    uint8_t ed[19] = {0x05, 0x00, 0x10};
    memcpy(ed + 3, uuid->data, 16);
    expect(id, "endpoint_disconnect", ed, sizeof ed);
    const tv_field *td = field(id, "tunneled_dtls");
    assert_int_equal(td->data[0], 4);
    assert_int_equal((td->data[1] << 8) | td->data[2], td->len - 3);
    assert_memory_equal(td->data + 3, uuid->data, 16);
    assert_int_equal((td->data[19] << 8) | td->data[20], td->len - 21);
    assert_int_equal(td->data[21], 22); /* a DTLS handshake record */
}

static void test_srtcp(void **state)
{
    (void)state;
    const char *id = "perc_double128_srtcp";
    const tv_field *ok = field(id, "outer_master_key"), *os = field(id, "outer_master_salt");
    expect("perc_double128_keying_split_a", "client_write_outer_master_key", ok->data, ok->len);
    /* SRTCP labels 0x03 (key) and 0x05 (salt) */
    check_session_keys(id, "outer_srtcp", ok->data, 16, os->data, 0x03);
    const tv_field *plain = field(id, "rtcp_packet"), *prot = field(id, "srtcp_packet");
    /* no EKT field on SRTCP: the packet is exactly RTCP + tag + E||index */
    assert_int_equal(prot->len, plain->len + 16 + 4);
    assert_memory_equal(prot->data + prot->len - 4, "\x80\x00\x00\x00", 4);
    abuf b;
    memcpy(b.b, prot->data, prot->len);
    size_t len = prot->len;
    assert_int_equal(lib_open(ok->data, 16, os->data, load32(plain->data + 4), 0, true, &b, &len),
                     srtp_err_status_ok);
    assert_int_equal(len, plain->len);
    assert_memory_equal(b.b, plain->data, len);
}

static void test_every_vector_is_checked(void **state)
{
    (void)state;
    /* a vector added to the generator must get a check here too */
    static const char *const KNOWN[] = {
        "perc_double128_keying_split_a", "perc_double128_keying_split_b", "perc_double128_sender",
        "perc_double128_md_relay",       "perc_double128_cascaded_relay", "perc_double256_sender",
        "perc_ektkey_message",           "perc_tunnel_messages",          "perc_double128_srtcp",
    };
    assert_int_equal(VEC.n_blocks, sizeof KNOWN / sizeof KNOWN[0]);
    for (size_t i = 0; i < VEC.n_blocks; i++) {
        bool found = false;
        for (size_t j = 0; j < sizeof KNOWN / sizeof KNOWN[0]; j++)
            found = found || strcmp(VEC.blocks[i].id, KNOWN[j]) == 0;
        if (!found)
            fail_msg("vector %s has no independent check", VEC.blocks[i].id);
    }
}

static int setup(void **state)
{
    (void)state;
    if (srtp_init() != srtp_err_status_ok)
        return -1;
    return tv_load("perc-vectors.txt", &VEC);
}

static int teardown(void **state)
{
    (void)state;
    tv_free(&VEC);
    srtp_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keying_splits),   cmocka_unit_test(test_double128_sender),
        cmocka_unit_test(test_md_relays),       cmocka_unit_test(test_double256_sender),
        cmocka_unit_test(test_ektkey_message),  cmocka_unit_test(test_tunnel_messages),
        cmocka_unit_test(test_srtcp),           cmocka_unit_test(test_every_vector_is_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
