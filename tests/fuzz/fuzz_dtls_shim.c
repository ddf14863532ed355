/* Fuzz target for the DTLS adapter's code that looks at incoming bytes
 * before (or inside) OpenSSL: the record walker and interceptor, the
 * post-decryption parsers, the hello-extension bodies, and a whole server
 * association fed one datagram (a ClientHello reaches our extension hooks).
 *
 * The first input octet selects what the rest is:
 *   0  a datagram, classified record by record with fixed keys, as client
 *      and as server;
 *   1  a plaintext, sealed under the fixed keys as the peer would and
 *      classified: the parsers behind the AEAD get arbitrary input;
 *   2  a datagram for a fresh server association (ClientHello path);
 *   3  the rest split at its first octet into bodies for the use_srtp,
 *      external_session_id, handshake-header and ACK decoders.
 * Invariants: records tile the datagram; nothing that does not
 * authenticate is ever ours; whatever decodes encodes back to the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/src/e2e/dtls_internal.h"
#include "perc/dtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static perc_dtls_rec_keys fixed_keys(void)
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

static void check_result(const perc_dtls_rec *rec, bool is_server, const perc_dtls_shim_result *res,
                         const uint8_t *pt, size_t cap)
{
    if (res->kind == PERC_DTLS_SHIM_PASS)
        return;
    /* only epoch-1 DTLS 1.2 records of the peer's type are ever ours */
    CHECK(rec->epoch == 1 && rec->version == DTLS_VERSION_1_2);
    CHECK(rec->type == (is_server ? DTLS_CT_ACK : DTLS_CT_HANDSHAKE));
    if (res->kind == PERC_DTLS_SHIM_EKT_KEY) {
        CHECK(!is_server && res->hs.msg_type == PERC_EKT_HS_EKT_KEY);
        CHECK(res->hs.body.ptr >= pt && res->hs.body.ptr + res->hs.body.len <= pt + cap);
        /* what dtls_ekt.c does next */
        perc_ekt_key_msg m;
        if (perc_ekt_key_msg_decode(res->hs.body.ptr, res->hs.body.len, &m) == PERC_OK)
            CHECK(m.key_len >= 1 && m.salt_len >= 1);
        perc_ekt_key_msg_wipe(&m);
    }
    if (res->kind == PERC_DTLS_SHIM_ACK)
        CHECK(is_server && res->n_acked >= 1 && res->n_acked <= DTLS_ACK_MAX_ENTRIES);
}

static void datagram(const uint8_t *data, size_t size)
{
    perc_dtls_rec_keys k = fixed_keys();
    static uint8_t pt[DTLS_SHIM_MAX_PLAINTEXT];
    perc_reader r;
    perc_reader_init(&r, data, size);
    size_t covered = 0;
    while (perc_reader_remaining(&r) > 0) {
        perc_dtls_rec rec;
        if (perc_dtls_rec_read(&r, &rec) != PERC_OK)
            break;
        CHECK(rec.whole.ptr == data + covered);
        CHECK(rec.whole.len == DTLS_RECORD_HEADER_LEN + rec.fragment.len);
        covered += rec.whole.len;
        for (int side = 0; side < 2; side++) {
            perc_dtls_shim_result res;
            perc_dtls_shim_classify(&k, side == 1, &rec, pt, sizeof pt, &res);
            /* random bytes do not forge an AES-GCM tag */
            check_result(&rec, side == 1, &res, pt, sizeof pt);
        }
    }
    CHECK(covered == r.pos);
}

static void sealed(const uint8_t *data, size_t size)
{
    if (size > DTLS_SHIM_MAX_PLAINTEXT)
        return;
    perc_dtls_rec_keys k = fixed_keys();
    static uint8_t rec_buf[DTLS_RECORD_HEADER_LEN + DTLS_GCM_OVERHEAD + DTLS_SHIM_MAX_PLAINTEXT];
    static uint8_t pt[DTLS_SHIM_MAX_PLAINTEXT];
    for (int side = 0; side < 2; side++) {
        bool is_server = side == 1;
        uint8_t type = is_server ? DTLS_CT_ACK : DTLS_CT_HANDSHAKE;
        size_t len;
        CHECK(perc_dtls_rec_seal(is_server ? k.client_key : k.server_key,
                                 is_server ? k.client_iv : k.server_iv, type, 1, 1234, data, size,
                                 rec_buf, sizeof rec_buf, &len) == PERC_OK);
        perc_reader r;
        perc_dtls_rec rec;
        perc_reader_init(&r, rec_buf, len);
        CHECK(perc_dtls_rec_read(&r, &rec) == PERC_OK && perc_reader_remaining(&r) == 0);
        perc_dtls_shim_result res;
        perc_dtls_shim_classify(&k, is_server, &rec, pt, sizeof pt, &res);
        check_result(&rec, is_server, &res, pt, sizeof pt);
        if (is_server) {
            /* an authentic ACK is ours, well formed or not */
            CHECK(res.kind == PERC_DTLS_SHIM_ACK || res.kind == PERC_DTLS_SHIM_BAD);
            if (res.kind == PERC_DTLS_SHIM_ACK) {
                uint8_t back[2 + DTLS_ACK_MAX_ENTRIES * DTLS_ACK_ENTRY_LEN];
                size_t n;
                CHECK(perc_dtls_ack_encode(res.acked, res.n_acked, back, sizeof back, &n) ==
                      PERC_OK);
                CHECK(n == size && memcmp(back, data, n) == 0);
            }
        } else {
            bool ekt = size > 0 && data[0] == PERC_EKT_HS_EKT_KEY;
            CHECK(ekt == (res.kind != PERC_DTLS_SHIM_PASS));
        }
    }
}

static void server_datagram(const uint8_t *data, size_t size)
{
    static perc_dtls_ctx *ctx;
    if (!ctx) {
        X509 *cert;
        EVP_PKEY *key;
        CHECK(perc_dtls_identity_generate("fuzz", &cert, &key) == PERC_OK);
        perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
        CHECK(perc_dtls_ctx_new(&cc, &ctx) == PERC_OK);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    if (size == 0 || size > PERC_DTLS_MAX_DATAGRAM)
        return;
    perc_dtls_config cfg;
    perc_dtls_config_init(&cfg, PERC_DTLS_SERVER);
    static const char id[] = "fuzz-server-tls-id-0123";
    CHECK(perc_dtls_config_set_tls_id(&cfg, (const uint8_t *)id, sizeof id - 1) == PERC_OK);
    perc_dtls *d;
    CHECK(perc_dtls_new(ctx, &cfg, NULL, &d) == PERC_OK);
    int rc = perc_dtls_recv(d, data, size, 0);
    CHECK(rc == PERC_OK);
    /* no ClientHello alone completes a handshake */
    CHECK(perc_dtls_get_state(d) != PERC_DTLS_CONNECTED);
    perc_double_keying kk;
    CHECK(perc_dtls_get_keying(d, &kk) == PERC_ERR_STATE);
    static uint8_t out[PERC_DTLS_MAX_DATAGRAM];
    size_t n;
    for (int i = 0; i < 64; i++) {
        CHECK(perc_dtls_pull(d, out, sizeof out, &n) == PERC_OK);
        if (n == 0)
            break;
    }
    perc_dtls_free(d);
}

static void bodies(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    size_t cut = data[0] < size ? data[0] : size - 1;
    const uint8_t *a = data + 1, *b = data + 1 + cut;
    size_t alen = cut, blen = size - 1 - cut;

    const uint16_t ours[] = {0x0009, 0x000A};
    uint16_t order[2];
    size_t n, mki;
    if (perc_dtls_use_srtp_match(a, alen, ours, 2, order, &n, &mki) == PERC_OK) {
        CHECK(n <= 2 && mki <= 255);
        for (size_t i = 0; i < n; i++)
            CHECK(order[i] == 0x0009 || order[i] == 0x000A);
        CHECK(n < 2 || order[0] != order[1]);
    }

    uint8_t id[PERC_DTLS_TLS_ID_MAX], back[1 + PERC_DTLS_TLS_ID_MAX];
    size_t id_len;
    if (perc_dtls_tls_id_decode(b, blen, id, &id_len) == PERC_OK) {
        CHECK(id_len >= PERC_DTLS_TLS_ID_MIN && id_len <= PERC_DTLS_TLS_ID_MAX);
        CHECK(perc_dtls_tls_id_encode(id, id_len, back, sizeof back, &n) == PERC_OK);
        CHECK(n == blen && memcmp(back, b, n) == 0);
    }

    perc_dtls_hs hs;
    static uint8_t hsback[DTLS_HS_HEADER_LEN + 65536];
    if (perc_dtls_hs_decode(a, alen, &hs) == PERC_OK) {
        CHECK(perc_dtls_hs_encode(hs.msg_type, hs.message_seq, hs.body.ptr, hs.body.len, hsback,
                                  sizeof hsback, &n) == PERC_OK);
        CHECK(n == alen && memcmp(hsback, a, n) == 0);
    }

    perc_dtls_recnum nums[DTLS_ACK_MAX_ENTRIES];
    uint8_t ackback[2 + DTLS_ACK_MAX_ENTRIES * DTLS_ACK_ENTRY_LEN];
    if (perc_dtls_ack_decode(b, blen, nums, DTLS_ACK_MAX_ENTRIES, &n) == PERC_OK) {
        size_t m;
        CHECK(perc_dtls_ack_encode(nums, n, ackback, sizeof ackback, &m) == PERC_OK);
        CHECK(m == blen && memcmp(ackback, b, m) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        datagram(data + 1, size - 1);
        break;
    case 1:
        sealed(data + 1, size - 1);
        break;
    case 2:
        server_datagram(data + 1, size - 1);
        break;
    default:
        bodies(data + 1, size - 1);
        break;
    }
    return 0;
}
