/* The DTLS adapter's wire pieces (common/src/e2e/dtls_internal.h): record
 * parsing, AES-GCM seal and open, record-key derivation checked against an
 * independent TLS 1.2 PRF, handshake header, ACK, use_srtp and
 * external_session_id bodies, and the interceptor's classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../common/src/e2e/dtls_internal.h"
#include "test_util.h"

static perc_dtls_rec_keys test_keys(void)
{
    perc_dtls_rec_keys k;
    memset(&k, 0, sizeof k);
    k.ready = true;
    for (int i = 0; i < DTLS_KEY_LEN; i++) {
        k.client_key[i] = (uint8_t)(0x10 + i);
        k.server_key[i] = (uint8_t)(0x80 + i);
    }
    for (int i = 0; i < DTLS_FIXED_IV_LEN; i++) {
        k.client_iv[i] = (uint8_t)(0xC0 + i);
        k.server_iv[i] = (uint8_t)(0xE0 + i);
    }
    return k;
}

static perc_dtls_rec read_one(const uint8_t *buf, size_t len)
{
    perc_reader r;
    perc_dtls_rec rec;
    perc_reader_init(&r, buf, len);
    assert_int_equal(perc_dtls_rec_read(&r, &rec), PERC_OK);
    assert_int_equal(perc_reader_remaining(&r), 0);
    return rec;
}

static void test_record_read(void **state)
{
    (void)state;
    const uint8_t two[] = {23,   0xfe, 0xfd, 0x00, 0x01, 0,  0,    0,    0,    0x01,
                           0x02, 0x00, 0x02, 0xaa, 0xbb, 21, 0xfe, 0xfd, 0x00, 0x00,
                           0,    0,    0,    0,    0,    7,  0x00, 0x00};
    perc_reader r;
    perc_dtls_rec rec;
    perc_reader_init(&r, two, sizeof two);
    assert_int_equal(perc_dtls_rec_read(&r, &rec), PERC_OK);
    assert_int_equal(rec.type, 23);
    assert_int_equal(rec.version, 0xfefd);
    assert_int_equal(rec.epoch, 1);
    assert_true(rec.seq == 0x0102);
    assert_int_equal(rec.fragment.len, 2);
    assert_int_equal(rec.fragment.ptr[0], 0xaa);
    assert_int_equal(rec.whole.len, 15);
    assert_ptr_equal(rec.whole.ptr, two);
    assert_int_equal(perc_dtls_rec_read(&r, &rec), PERC_OK);
    assert_int_equal(rec.type, 21);
    assert_int_equal(rec.epoch, 0);
    assert_true(rec.seq == 7);
    assert_int_equal(rec.fragment.len, 0);
    assert_int_equal(perc_reader_remaining(&r), 0);
    /* every truncation of the first record fails without moving */
    for (size_t n = 0; n < 15; n++) {
        perc_reader_init(&r, two, n);
        assert_int_equal(perc_dtls_rec_read(&r, &rec), PERC_ERR_TRUNCATED);
        assert_int_equal(r.pos, 0);
    }
}

static void test_seal_layout_and_open(void **state)
{
    (void)state;
    perc_dtls_rec_keys k = test_keys();
    const uint8_t pt[] = "an EKTKey would be here";
    uint8_t out[256], back[256];
    size_t len, n;
    uint64_t seq = 0x0000A1B2C3D4ull;
    assert_int_equal(perc_dtls_rec_seal(k.server_key, k.server_iv, DTLS_CT_HANDSHAKE, 1, seq, pt,
                                        sizeof pt, out, sizeof out, &len),
                     PERC_OK);
    assert_int_equal(len, DTLS_RECORD_HEADER_LEN + DTLS_GCM_OVERHEAD + sizeof pt);
    /* header: type, fefd, epoch, seq48, length; explicit nonce = epoch || seq */
    const uint8_t hdr[] = {22,
                           0xfe,
                           0xfd,
                           0x00,
                           0x01,
                           0x00,
                           0x00,
                           0xa1,
                           0xb2,
                           0xc3,
                           0xd4,
                           0x00,
                           (uint8_t)(DTLS_GCM_OVERHEAD + sizeof pt)};
    assert_memory_equal(out, hdr, sizeof hdr);
    assert_memory_equal(out + 13, hdr + 3, 8);
    /* the ciphertext is not the plaintext */
    assert_memory_not_equal(out + 21, pt, sizeof pt);

    perc_dtls_rec rec = read_one(out, len);
    assert_int_equal(perc_dtls_rec_open(k.server_key, k.server_iv, &rec, back, sizeof back, &n),
                     PERC_OK);
    assert_int_equal(n, sizeof pt);
    assert_memory_equal(back, pt, n);

    /* the other direction's key or IV does not open it */
    assert_int_equal(perc_dtls_rec_open(k.client_key, k.server_iv, &rec, back, sizeof back, &n),
                     PERC_ERR_AUTH);
    assert_int_equal(perc_dtls_rec_open(k.server_key, k.client_iv, &rec, back, sizeof back, &n),
                     PERC_ERR_AUTH);
    assert_int_equal(perc_dtls_rec_open(k.server_key, k.server_iv, &rec, back, n - 1, &n),
                     PERC_ERR_NOSPACE);

    /* every flipped bit outside the length field breaks authentication:
     * type, version, epoch and sequence number are in the AAD */
    uint8_t bad[256];
    for (size_t i = 0; i < len; i++) {
        if (i == 11 || i == 12)
            continue;
        for (int b = 0; b < 8; b++) {
            memcpy(bad, out, len);
            bad[i] ^= (uint8_t)(1u << b);
            perc_dtls_rec br = read_one(bad, len);
            assert_int_equal(
                perc_dtls_rec_open(k.server_key, k.server_iv, &br, back, sizeof back, &n),
                PERC_ERR_AUTH);
        }
    }
    perc_dtls_rec_keys_wipe(&k);
    assert_false(k.ready);
}

static void test_seal_open_limits(void **state)
{
    (void)state;
    perc_dtls_rec_keys k = test_keys();
    static uint8_t big[DTLS_MAX_PLAINTEXT + 1];
    static uint8_t out[DTLS_MAX_PLAINTEXT + 64];
    size_t len, n;
    assert_int_equal(perc_dtls_rec_seal(k.client_key, k.client_iv, DTLS_CT_ACK, 1, DTLS_SEQ_MAX + 1,
                                        big, 1, out, sizeof out, &len),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_rec_seal(k.client_key, k.client_iv, DTLS_CT_ACK, 1, 1, big,
                                        sizeof big, out, sizeof out, &len),
                     PERC_ERR_TOO_LARGE);
    assert_int_equal(perc_dtls_rec_seal(k.client_key, k.client_iv, DTLS_CT_ACK, 1, 1, big, 10, out,
                                        DTLS_RECORD_HEADER_LEN + DTLS_GCM_OVERHEAD + 9, &len),
                     PERC_ERR_NOSPACE);
    /* the largest plaintext and an empty one both go round */
    assert_int_equal(perc_dtls_rec_seal(k.client_key, k.client_iv, DTLS_CT_ACK, 1, DTLS_SEQ_MAX,
                                        big, DTLS_MAX_PLAINTEXT, out, sizeof out, &len),
                     PERC_OK);
    perc_dtls_rec rec = read_one(out, len);
    assert_true(rec.seq == DTLS_SEQ_MAX);
    assert_int_equal(perc_dtls_rec_open(k.client_key, k.client_iv, &rec, big, sizeof big, &n),
                     PERC_OK);
    assert_int_equal(n, DTLS_MAX_PLAINTEXT);
    assert_int_equal(perc_dtls_rec_seal(k.client_key, k.client_iv, DTLS_CT_ACK, 1, 2, NULL, 0, out,
                                        sizeof out, &len),
                     PERC_OK);
    rec = read_one(out, len);
    assert_int_equal(perc_dtls_rec_open(k.client_key, k.client_iv, &rec, big, sizeof big, &n),
                     PERC_OK);
    assert_int_equal(n, 0);
    /* a fragment shorter than nonce and tag */
    const uint8_t shortrec[] = {22, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3};
    rec = read_one(shortrec, sizeof shortrec);
    assert_int_equal(perc_dtls_rec_open(k.client_key, k.client_iv, &rec, big, sizeof big, &n),
                     PERC_ERR_TRUNCATED);
}

/* An independent TLS 1.2 PRF (RFC 5246 §5) with HMAC-SHA256. */
static void p_sha256(const uint8_t *secret, size_t slen, const uint8_t *seed, size_t seedlen,
                     uint8_t *out, size_t outlen)
{
    uint8_t a[32], buf[32 + 128], block[32];
    unsigned int l;
    assert_true(seedlen <= 128);
    assert_non_null(HMAC(EVP_sha256(), secret, (int)slen, seed, seedlen, a, &l));
    size_t done = 0;
    while (done < outlen) {
        memcpy(buf, a, 32);
        memcpy(buf + 32, seed, seedlen);
        assert_non_null(HMAC(EVP_sha256(), secret, (int)slen, buf, 32 + seedlen, block, &l));
        size_t take = outlen - done < 32 ? outlen - done : 32;
        memcpy(out + done, block, take);
        done += take;
        assert_non_null(HMAC(EVP_sha256(), secret, (int)slen, a, 32, a, &l));
    }
}

static void test_key_derivation(void **state)
{
    (void)state;
    uint8_t master[48], cr[32], sr[32];
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    tu_rng_fill(&rng, master, sizeof master);
    tu_rng_fill(&rng, cr, sizeof cr);
    tu_rng_fill(&rng, sr, sizeof sr);
    perc_dtls_rec_keys k;
    assert_int_equal(perc_dtls_rec_keys_derive(master, sizeof master, cr, sr, &k), PERC_OK);
    assert_true(k.ready);

    /* key_block = PRF(master, "key expansion", server_random + client_random) */
    uint8_t seed[13 + 64], block[40];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32);
    memcpy(seed + 45, cr, 32);
    p_sha256(master, sizeof master, seed, sizeof seed, block, sizeof block);
    assert_memory_equal(k.client_key, block, 16);
    assert_memory_equal(k.server_key, block + 16, 16);
    assert_memory_equal(k.client_iv, block + 32, 4);
    assert_memory_equal(k.server_iv, block + 36, 4);

    assert_int_equal(perc_dtls_rec_keys_derive(master, 47, cr, sr, &k), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_rec_keys_derive(NULL, 48, cr, sr, &k), PERC_ERR_INVALID_ARG);
}

static void test_handshake_header(void **state)
{
    (void)state;
    const uint8_t body[] = {1, 2, 3, 4, 5};
    uint8_t msg[64];
    size_t len;
    assert_int_equal(perc_dtls_hs_encode(26, 6, body, sizeof body, msg, sizeof msg, &len), PERC_OK);
    const uint8_t want[] = {26, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(msg, want, len);
    perc_dtls_hs hs;
    assert_int_equal(perc_dtls_hs_decode(msg, len, &hs), PERC_OK);
    assert_int_equal(hs.msg_type, 26);
    assert_int_equal(hs.message_seq, 6);
    assert_int_equal(hs.body.len, 5);
    assert_memory_equal(hs.body.ptr, body, 5);
    for (size_t n = 0; n < len; n++)
        assert_int_equal(perc_dtls_hs_decode(msg, n, &hs), PERC_ERR_TRUNCATED);
    uint8_t more[64];
    memcpy(more, msg, len);
    more[len] = 0;
    assert_int_equal(perc_dtls_hs_decode(more, len + 1, &hs), PERC_ERR_TRAILING);
    /* a fragment (offset 1, or a shorter fragment length) is not ours */
    memcpy(more, msg, len);
    more[8] = 1;
    assert_int_equal(perc_dtls_hs_decode(more, len, &hs), PERC_ERR_UNSUPPORTED);
    memcpy(more, msg, len);
    more[11] = 4;
    assert_int_equal(perc_dtls_hs_decode(more, len - 1, &hs), PERC_ERR_UNSUPPORTED);
    assert_int_equal(perc_dtls_hs_encode(26, 0, body, sizeof body, msg, 16, &len),
                     PERC_ERR_NOSPACE);
}

static void test_ack_codec(void **state)
{
    (void)state;
    perc_dtls_recnum in[3] = {{1, 5}, {1, 0xFFFFFFFFFFFFull}, {2, 0}}, out[3];
    uint8_t buf[64];
    size_t len, n;
    assert_int_equal(perc_dtls_ack_encode(in, 1, buf, sizeof buf, &len), PERC_OK);
    const uint8_t one[] = {0, 16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(len, sizeof one);
    assert_memory_equal(buf, one, len);
    assert_int_equal(perc_dtls_ack_encode(in, 3, buf, sizeof buf, &len), PERC_OK);
    assert_int_equal(len, 2 + 48);
    assert_int_equal(perc_dtls_ack_decode(buf, len, out, 3, &n), PERC_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(out[i].epoch == in[i].epoch);
        assert_true(out[i].seq == in[i].seq);
    }
    assert_int_equal(perc_dtls_ack_decode(buf, len, out, 2, &n), PERC_ERR_NOSPACE);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(perc_dtls_ack_decode(buf, k, out, 3, &n), PERC_ERR_TRUNCATED);
    buf[len] = 0;
    assert_int_equal(perc_dtls_ack_decode(buf, len + 1, out, 3, &n), PERC_ERR_TRAILING);
    const uint8_t empty[] = {0, 0};
    assert_int_equal(perc_dtls_ack_decode(empty, 2, out, 3, &n), PERC_ERR_MALFORMED);
    const uint8_t partial[] = {0, 15, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(perc_dtls_ack_decode(partial, sizeof partial, out, 3, &n), PERC_ERR_MALFORMED);
    assert_int_equal(perc_dtls_ack_encode(in, 0, buf, sizeof buf, &len), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_ack_encode(in, 1, buf, 17, &len), PERC_ERR_NOSPACE);
}

static void test_use_srtp_match(void **state)
{
    (void)state;
    const uint16_t ours[] = {0x0009, 0x000A};
    uint16_t order[2];
    size_t n, mki;
    /* the spec digest's example: DOUBLE 128 then DOUBLE 256, no MKI */
    const uint8_t ex[] = {0x00, 0x04, 0x00, 0x09, 0x00, 0x0a, 0x00};
    assert_int_equal(perc_dtls_use_srtp_match(ex, sizeof ex, ours, 2, order, &n, &mki), PERC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(order[0], 0x0009);
    assert_int_equal(order[1], 0x000A);
    assert_int_equal(mki, 0);
    /* the client's order wins; unknown and repeated ids are skipped */
    const uint8_t rev[] = {0x00, 0x0a, 0x00, 0x07, 0x00, 0x0a, 0x00, 0x0a,
                           0x00, 0x01, 0x00, 0x09, 0x02, 0xaa, 0xbb};
    assert_int_equal(perc_dtls_use_srtp_match(rev, sizeof rev, ours, 2, order, &n, &mki), PERC_OK);
    assert_int_equal(n, 2);
    assert_int_equal(order[0], 0x000A);
    assert_int_equal(order[1], 0x0009);
    assert_int_equal(mki, 2);
    /* nothing in common */
    const uint8_t none[] = {0x00, 0x02, 0x00, 0x07, 0x00};
    assert_int_equal(perc_dtls_use_srtp_match(none, sizeof none, ours, 2, order, &n, &mki),
                     PERC_OK);
    assert_int_equal(n, 0);
    for (size_t k = 0; k < sizeof ex; k++)
        assert_int_equal(perc_dtls_use_srtp_match(ex, k, ours, 2, order, &n, &mki),
                         PERC_ERR_TRUNCATED);
    const uint8_t trailing[] = {0x00, 0x02, 0x00, 0x09, 0x00, 0x00};
    assert_int_equal(perc_dtls_use_srtp_match(trailing, sizeof trailing, ours, 2, order, &n, &mki),
                     PERC_ERR_TRAILING);
    const uint8_t odd[] = {0x00, 0x03, 0x00, 0x09, 0x00, 0x00};
    assert_int_equal(perc_dtls_use_srtp_match(odd, sizeof odd, ours, 2, order, &n, &mki),
                     PERC_ERR_MALFORMED);
    const uint8_t empty[] = {0x00, 0x00, 0x00};
    assert_int_equal(perc_dtls_use_srtp_match(empty, sizeof empty, ours, 2, order, &n, &mki),
                     PERC_ERR_MALFORMED);
}

static void test_tls_id_codec(void **state)
{
    (void)state;
    uint8_t id[255], buf[260], back[PERC_DTLS_TLS_ID_MAX];
    size_t len, n;
    memset(id, 'A', sizeof id);
    assert_int_equal(perc_dtls_tls_id_encode(id, 19, buf, sizeof buf, &len), PERC_ERR_INVALID_ARG);
    for (size_t l = 20; l <= 255; l += 235) {
        assert_int_equal(perc_dtls_tls_id_encode(id, l, buf, sizeof buf, &len), PERC_OK);
        assert_int_equal(len, l + 1);
        assert_int_equal(buf[0], l);
        assert_int_equal(perc_dtls_tls_id_decode(buf, len, back, &n), PERC_OK);
        assert_int_equal(n, l);
        assert_memory_equal(back, id, l);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(perc_dtls_tls_id_decode(buf, k, back, &n), PERC_ERR_TRUNCATED);
        buf[len] = 0;
        assert_int_equal(perc_dtls_tls_id_decode(buf, len + 1, back, &n), PERC_ERR_TRAILING);
    }
    buf[0] = 19;
    assert_int_equal(perc_dtls_tls_id_decode(buf, 20, back, &n), PERC_ERR_MALFORMED);
    buf[0] = 0;
    assert_int_equal(perc_dtls_tls_id_decode(buf, 1, back, &n), PERC_ERR_MALFORMED);
}

/* Seals pt with one side's write key and classifies it at the other side
 * (or, reflected, at the sender itself). */
static perc_dtls_shim_kind classify_as(const perc_dtls_rec_keys *k, bool sealed_by_server,
                                       bool is_server, uint8_t type, uint16_t epoch,
                                       const uint8_t *pt, size_t pt_len, perc_dtls_shim_result *res)
{
    uint8_t rec[2048], buf[DTLS_SHIM_MAX_PLAINTEXT];
    size_t len;
    const uint8_t *key = sealed_by_server ? k->server_key : k->client_key;
    const uint8_t *iv = sealed_by_server ? k->server_iv : k->client_iv;
    assert_int_equal(
        perc_dtls_rec_seal(key, iv, type, epoch, 42, pt, pt_len, rec, sizeof rec, &len), PERC_OK);
    perc_dtls_rec r = read_one(rec, len);
    perc_dtls_shim_classify(k, is_server, &r, buf, sizeof buf, res);
    return res->kind;
}

static perc_dtls_shim_kind classify(const perc_dtls_rec_keys *k, bool is_server, uint8_t type,
                                    uint16_t epoch, const uint8_t *pt, size_t pt_len,
                                    perc_dtls_shim_result *res)
{
    return classify_as(k, !is_server, is_server, type, epoch, pt, pt_len, res);
}

static void test_classify(void **state)
{
    (void)state;
    perc_dtls_rec_keys k = test_keys();
    perc_dtls_shim_result res;
    uint8_t hs[64];
    size_t hs_len;
    const uint8_t body[] = {0, 1, 0xAA, 0, 1, 0xBB, 0, 7, 0, 0, 60};
    assert_int_equal(perc_dtls_hs_encode(26, 9, body, sizeof body, hs, sizeof hs, &hs_len),
                     PERC_OK);

    /* client: an EKTKey from the server */
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 1, hs, hs_len, &res),
                     PERC_DTLS_SHIM_EKT_KEY);
    assert_int_equal(res.hs.message_seq, 9);
    assert_int_equal(res.hs.body.len, sizeof body);
    /* a Finished (type 20) is OpenSSL's */
    uint8_t fin[24] = {20, 0, 0, 12, 0, 5, 0, 0, 0, 0, 0, 12};
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 1, fin, sizeof fin, &res),
                     PERC_DTLS_SHIM_PASS);
    /* a fragmented EKTKey: authentic, ours, broken */
    hs[8] = 1;
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 1, hs, hs_len, &res),
                     PERC_DTLS_SHIM_BAD);
    hs[8] = 0;
    /* other epochs, content types and an empty plaintext are not ours */
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 0, hs, hs_len, &res),
                     PERC_DTLS_SHIM_PASS);
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 2, hs, hs_len, &res),
                     PERC_DTLS_SHIM_PASS);
    assert_int_equal(classify(&k, false, DTLS_CT_APPLICATION_DATA, 1, hs, hs_len, &res),
                     PERC_DTLS_SHIM_PASS);
    assert_int_equal(classify(&k, false, DTLS_CT_ACK, 1, hs, hs_len, &res), PERC_DTLS_SHIM_PASS);
    assert_int_equal(classify(&k, false, DTLS_CT_HANDSHAKE, 1, NULL, 0, &res), PERC_DTLS_SHIM_PASS);
    /* sealed with the client's own key (a reflected record): not authentic */
    assert_int_equal(classify_as(&k, false, false, DTLS_CT_HANDSHAKE, 1, hs, hs_len, &res),
                     PERC_DTLS_SHIM_PASS);

    /* server: an ACK from the client */
    perc_dtls_recnum rn[2] = {{1, 77}, {1, 78}};
    uint8_t ack[64];
    size_t ack_len;
    assert_int_equal(perc_dtls_ack_encode(rn, 2, ack, sizeof ack, &ack_len), PERC_OK);
    assert_int_equal(classify(&k, true, DTLS_CT_ACK, 1, ack, ack_len, &res), PERC_DTLS_SHIM_ACK);
    assert_int_equal(res.n_acked, 2);
    assert_true(res.acked[1].seq == 78);
    assert_int_equal(classify(&k, true, DTLS_CT_ACK, 1, ack, ack_len - 1, &res),
                     PERC_DTLS_SHIM_BAD);
    assert_int_equal(classify_as(&k, true, true, DTLS_CT_ACK, 1, ack, ack_len, &res),
                     PERC_DTLS_SHIM_PASS); /* reflected */
    /* a client handshake record (its Finished, or an EKTKey a client must
     * not send) goes to OpenSSL */
    assert_int_equal(classify(&k, true, DTLS_CT_HANDSHAKE, 1, hs, hs_len, &res),
                     PERC_DTLS_SHIM_PASS);

    /* keys not ready: everything passes */
    perc_dtls_rec_keys none;
    memset(&none, 0, sizeof none);
    uint8_t rec[256], buf[DTLS_SHIM_MAX_PLAINTEXT];
    size_t len;
    assert_int_equal(perc_dtls_rec_seal(k.server_key, k.server_iv, DTLS_CT_HANDSHAKE, 1, 1, hs,
                                        hs_len, rec, sizeof rec, &len),
                     PERC_OK);
    perc_dtls_rec r = read_one(rec, len);
    perc_dtls_shim_classify(&none, false, &r, buf, sizeof buf, &res);
    assert_int_equal(res.kind, PERC_DTLS_SHIM_PASS);
    /* a plaintext longer than the shim's buffer is never opened */
    perc_dtls_shim_classify(&k, false, &r, buf, hs_len - 1, &res);
    assert_int_equal(res.kind, PERC_DTLS_SHIM_PASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_read),      cmocka_unit_test(test_seal_layout_and_open),
        cmocka_unit_test(test_seal_open_limits), cmocka_unit_test(test_key_derivation),
        cmocka_unit_test(test_handshake_header), cmocka_unit_test(test_ack_codec),
        cmocka_unit_test(test_use_srtp_match),   cmocka_unit_test(test_tls_id_codec),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
