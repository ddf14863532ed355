/* The record shim (DTLS-EKT.md §3): DTLS 1.2 AES-128-GCM records that we
 * seal and open ourselves, for the EKTKey handshake message and the ACK
 * that OpenSSL cannot carry, and the interceptor that takes them out of
 * incoming datagrams before OpenSSL sees them. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "dtls_internal.h"
#include "perc/secret.h"

/* ---- records -------------------------------------------------------------- */

int perc_dtls_rec_read(perc_reader *r, perc_dtls_rec *out)
{
    if (!r || !out)
        return PERC_ERR_INVALID_ARG;
    perc_reader t = *r;
    size_t start = t.pos;
    uint16_t frag_len;
    int rc;
    if ((rc = perc_read_u8(&t, &out->type)) || (rc = perc_read_u16(&t, &out->version)) ||
        (rc = perc_read_u16(&t, &out->epoch)) || (rc = perc_read_u48(&t, &out->seq)) ||
        (rc = perc_read_u16(&t, &frag_len)) || (rc = perc_read_view(&t, frag_len, &out->fragment)))
        return rc;
    out->whole = perc_view_of(t.buf + start, t.pos - start);
    *r = t;
    return PERC_OK;
}

int perc_dtls_rec_keys_derive(const uint8_t *master, size_t master_len,
                              const uint8_t client_random[DTLS_RANDOM_LEN],
                              const uint8_t server_random[DTLS_RANDOM_LEN], perc_dtls_rec_keys *out)
{
    static const char label[] = "key expansion";
    static char digest[] = "SHA256";
    if (!master || master_len != DTLS_MASTER_SECRET_LEN || !client_random || !server_random || !out)
        return PERC_ERR_INVALID_ARG;
    uint8_t secret[DTLS_MASTER_SECRET_LEN];
    memcpy(secret, master, sizeof secret);
    /* RFC 5246 §6.3: the key block's seed is server_random || client_random
     * (the master secret's seed has them the other way round). */
    uint8_t seed[sizeof label - 1 + 2 * DTLS_RANDOM_LEN];
    uint8_t block[2 * DTLS_KEY_LEN + 2 * DTLS_FIXED_IV_LEN];
    memcpy(seed, label, sizeof label - 1);
    memcpy(seed + sizeof label - 1, server_random, DTLS_RANDOM_LEN);
    memcpy(seed + sizeof label - 1 + DTLS_RANDOM_LEN, client_random, DTLS_RANDOM_LEN);

    int rc = PERC_ERR_CRYPTO;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (!kctx)
        goto out;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, secret, sizeof secret),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(kctx, block, sizeof block, params) != 1)
        goto out;
    /* AEAD suites have no MAC keys: client_write_key, server_write_key,
     * client_write_IV, server_write_IV (RFC 5288 §3: 4-octet salts). */
    memcpy(out->client_key, block, DTLS_KEY_LEN);
    memcpy(out->server_key, block + DTLS_KEY_LEN, DTLS_KEY_LEN);
    memcpy(out->client_iv, block + 2 * DTLS_KEY_LEN, DTLS_FIXED_IV_LEN);
    memcpy(out->server_iv, block + 2 * DTLS_KEY_LEN + DTLS_FIXED_IV_LEN, DTLS_FIXED_IV_LEN);
    out->ready = true;
    rc = PERC_OK;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    perc_wipe(block, sizeof block);
    perc_wipe(secret, sizeof secret);
    return rc;
}

void perc_dtls_rec_keys_wipe(perc_dtls_rec_keys *k)
{
    if (k)
        perc_wipe(k, sizeof *k);
}

/* epoch || seq48: the first half of the AAD, and OpenSSL's explicit nonce. */
static void put_epoch_seq(uint8_t out[8], uint16_t epoch, uint64_t seq)
{
    perc_store_u16(out, epoch);
    perc_store_u16(out + 2, (uint16_t)(seq >> 32));
    perc_store_u32(out + 4, (uint32_t)seq);
}

static void make_aad(uint8_t aad[13], uint16_t epoch, uint64_t seq, uint8_t type, uint16_t version,
                     size_t pt_len)
{
    put_epoch_seq(aad, epoch, seq);
    aad[8] = type;
    perc_store_u16(aad + 9, version);
    perc_store_u16(aad + 11, (uint16_t)pt_len);
}

/* AES-128-GCM over in[0..len) into out with a 12-octet nonce; enc = 1 to
 * seal (tag written), 0 to open (tag checked). */
static int gcm(int enc, const uint8_t key[DTLS_KEY_LEN], const uint8_t nonce[12],
               const uint8_t aad[13], const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    int rc = PERC_ERR_CRYPTO, n = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        goto out;
    if (EVP_CipherInit_ex2(c, EVP_aes_128_gcm(), key, nonce, enc, NULL) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, 13) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, DTLS_GCM_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
        rc = enc ? PERC_ERR_CRYPTO : PERC_ERR_AUTH;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, DTLS_GCM_TAG_LEN, tag) != 1)
        goto out;
    rc = PERC_OK;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int perc_dtls_rec_seal(const uint8_t key[DTLS_KEY_LEN], const uint8_t iv[DTLS_FIXED_IV_LEN],
                       uint8_t type, uint16_t epoch, uint64_t seq, const uint8_t *pt, size_t pt_len,
                       uint8_t *out, size_t cap, size_t *out_len)
{
    if (!key || !iv || (!pt && pt_len) || !out || !out_len || seq > DTLS_SEQ_MAX)
        return PERC_ERR_INVALID_ARG;
    if (pt_len > DTLS_MAX_PLAINTEXT)
        return PERC_ERR_TOO_LARGE;
    uint8_t explicit_nonce[DTLS_GCM_EXPLICIT_LEN], nonce[12], aad[13];
    put_epoch_seq(explicit_nonce, epoch, seq);
    memcpy(nonce, iv, DTLS_FIXED_IV_LEN);
    memcpy(nonce + DTLS_FIXED_IV_LEN, explicit_nonce, DTLS_GCM_EXPLICIT_LEN);
    make_aad(aad, epoch, seq, type, DTLS_VERSION_1_2, pt_len);

    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u8(&w, type);
    perc_write_u16(&w, DTLS_VERSION_1_2);
    perc_write_u16(&w, epoch);
    perc_write_u48(&w, seq);
    perc_write_u16(&w, (uint16_t)(DTLS_GCM_EXPLICIT_LEN + pt_len + DTLS_GCM_TAG_LEN));
    perc_write_bytes(&w, explicit_nonce, sizeof explicit_nonce);
    uint8_t *ct = perc_write_reserve(&w, pt_len);
    uint8_t *tag = perc_write_reserve(&w, DTLS_GCM_TAG_LEN);
    int rc = perc_writer_error(&w);
    if (rc)
        return rc;
    if ((rc = gcm(1, key, nonce, aad, pt, pt_len, ct, tag)))
        return rc;
    return perc_writer_finish(&w, out_len);
}

int perc_dtls_rec_open(const uint8_t key[DTLS_KEY_LEN], const uint8_t iv[DTLS_FIXED_IV_LEN],
                       const perc_dtls_rec *rec, uint8_t *pt, size_t cap, size_t *pt_len)
{
    if (!key || !iv || !rec || !pt || !pt_len)
        return PERC_ERR_INVALID_ARG;
    if (rec->fragment.len < DTLS_GCM_OVERHEAD)
        return PERC_ERR_TRUNCATED;
    size_t n = rec->fragment.len - DTLS_GCM_OVERHEAD;
    if (n > cap)
        return PERC_ERR_NOSPACE;
    const uint8_t *f = rec->fragment.ptr;
    uint8_t nonce[12], aad[13], tag[DTLS_GCM_TAG_LEN];
    memcpy(nonce, iv, DTLS_FIXED_IV_LEN);
    memcpy(nonce + DTLS_FIXED_IV_LEN, f, DTLS_GCM_EXPLICIT_LEN);
    make_aad(aad, rec->epoch, rec->seq, rec->type, rec->version, n);
    memcpy(tag, f + DTLS_GCM_EXPLICIT_LEN + n, DTLS_GCM_TAG_LEN);
    int rc = gcm(0, key, nonce, aad, f + DTLS_GCM_EXPLICIT_LEN, n, pt, tag);
    if (rc) {
        perc_wipe(pt, n);
        return rc;
    }
    *pt_len = n;
    return PERC_OK;
}

/* ---- handshake header and ACK ----------------------------------------------- */

int perc_dtls_hs_decode(const uint8_t *in, size_t len, perc_dtls_hs *out)
{
    if (!out || (!in && len))
        return PERC_ERR_INVALID_ARG;
    perc_reader r;
    perc_reader_init(&r, in, len);
    uint32_t length, offset, frag_len;
    int rc;
    if ((rc = perc_read_u8(&r, &out->msg_type)) || (rc = perc_read_u24(&r, &length)) ||
        (rc = perc_read_u16(&r, &out->message_seq)) || (rc = perc_read_u24(&r, &offset)) ||
        (rc = perc_read_u24(&r, &frag_len)))
        return rc;
    /* RFC 6347 §4.2.3: an unfragmented message has offset 0 and a fragment
     * as long as the message. We never fragment an EKTKey (it is far below
     * any MTU), so anything else is not one of ours. */
    if (offset != 0 || frag_len != length)
        return PERC_ERR_UNSUPPORTED;
    if ((rc = perc_read_view(&r, length, &out->body)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    return PERC_OK;
}

int perc_dtls_hs_encode(uint8_t msg_type, uint16_t message_seq, const uint8_t *body,
                        size_t body_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if ((!body && body_len) || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    if (body_len > 0xFFFFFFu)
        return PERC_ERR_TOO_LARGE;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u8(&w, msg_type);
    perc_write_u24(&w, (uint32_t)body_len);
    perc_write_u16(&w, message_seq);
    perc_write_u24(&w, 0);
    perc_write_u24(&w, (uint32_t)body_len);
    perc_write_bytes(&w, body, body_len);
    return perc_writer_finish(&w, out_len);
}

int perc_dtls_ack_encode(const perc_dtls_recnum *nums, size_t n, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    if (!nums || n == 0 || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_block_mark m = perc_write_block_open(&w, 2);
    for (size_t i = 0; i < n; i++) {
        perc_write_u64(&w, nums[i].epoch);
        perc_write_u64(&w, nums[i].seq);
    }
    perc_write_block_close(&w, m);
    return perc_writer_finish(&w, out_len);
}

int perc_dtls_ack_decode(const uint8_t *in, size_t len, perc_dtls_recnum *nums, size_t cap,
                         size_t *n)
{
    if (!nums || !n || (!in && len))
        return PERC_ERR_INVALID_ARG;
    perc_reader r, list;
    perc_reader_init(&r, in, len);
    int rc;
    if ((rc = perc_read_block(&r, 2, &list)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    /* record_numbers<2..2^16-1>: not empty, whole RecordNumbers only. */
    size_t bytes = perc_reader_remaining(&list);
    if (bytes == 0 || bytes % DTLS_ACK_ENTRY_LEN != 0)
        return PERC_ERR_MALFORMED;
    if (bytes / DTLS_ACK_ENTRY_LEN > cap)
        return PERC_ERR_NOSPACE;
    size_t k = 0;
    while (perc_reader_remaining(&list) > 0) {
        if ((rc = perc_read_u64(&list, &nums[k].epoch)) ||
            (rc = perc_read_u64(&list, &nums[k].seq)))
            return rc;
        k++;
    }
    *n = k;
    return PERC_OK;
}

/* ---- the interceptor --------------------------------------------------------- */

void perc_dtls_shim_classify(const perc_dtls_rec_keys *keys, bool is_server,
                             const perc_dtls_rec *rec, uint8_t *pt, size_t cap,
                             perc_dtls_shim_result *res)
{
    res->kind = PERC_DTLS_SHIM_PASS;
    res->n_acked = 0;
    if (!keys || !keys->ready || rec->epoch != 1 || rec->version != DTLS_VERSION_1_2)
        return;
    /* The client gets EKTKeys in handshake records; the server gets ACKs.
     * Everything else (including a client sending type 26, which no peer
     * may) is left to OpenSSL. */
    uint8_t want = is_server ? DTLS_CT_ACK : DTLS_CT_HANDSHAKE;
    if (rec->type != want || rec->fragment.len < DTLS_GCM_OVERHEAD ||
        rec->fragment.len - DTLS_GCM_OVERHEAD > cap)
        return;
    const uint8_t *key = is_server ? keys->client_key : keys->server_key;
    const uint8_t *iv = is_server ? keys->client_iv : keys->server_iv;
    size_t n;
    if (perc_dtls_rec_open(key, iv, rec, pt, cap, &n) != PERC_OK)
        return; /* not authentic under the peer's key: OpenSSL drops it */

    if (is_server) {
        res->kind = perc_dtls_ack_decode(pt, n, res->acked, DTLS_ACK_MAX_ENTRIES, &res->n_acked)
                        ? PERC_DTLS_SHIM_BAD
                        : PERC_DTLS_SHIM_ACK;
        perc_wipe(pt, n);
        return;
    }
    if (n == 0 || pt[0] != PERC_EKT_HS_EKT_KEY) {
        /* A retransmitted Finished (or anything else the server's OpenSSL
         * sent): it must reach OpenSSL unchanged. */
        perc_wipe(pt, n);
        return;
    }
    res->kind = perc_dtls_hs_decode(pt, n, &res->hs) ? PERC_DTLS_SHIM_BAD : PERC_DTLS_SHIM_EKT_KEY;
}

int perc_dtls_derive_record_keys(perc_dtls *d)
{
    if (d->rec_keys.ready)
        return PERC_OK;
    SSL_SESSION *sess = SSL_get_session(d->ssl);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(d->ssl);
    if (!sess || !cipher)
        return PERC_OK; /* too early */
    /* The shim's records are built for this one suite (DTLS-EKT.md §3). */
    if (SSL_CIPHER_get_id(cipher) != TLS1_CK_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        return PERC_ERR_CRYPTO;
    uint8_t master[DTLS_MASTER_SECRET_LEN], cr[DTLS_RANDOM_LEN], sr[DTLS_RANDOM_LEN];
    size_t ml = SSL_SESSION_get_master_key(sess, master, sizeof master);
    int rc = PERC_OK;
    if (ml != DTLS_MASTER_SECRET_LEN)
        goto out; /* not computed yet */
    if (SSL_get_client_random(d->ssl, cr, sizeof cr) != sizeof cr ||
        SSL_get_server_random(d->ssl, sr, sizeof sr) != sizeof sr) {
        rc = PERC_ERR_CRYPTO;
        goto out;
    }
    rc = perc_dtls_rec_keys_derive(master, ml, cr, sr, &d->rec_keys);
out:
    perc_wipe(master, sizeof master);
    return rc;
}

/* ---- our own records on the wire --------------------------------------------- */

int perc_dtls_send_own_record(perc_dtls *d, uint8_t type, const uint8_t *pt, size_t pt_len,
                              uint64_t *seq_out)
{
    if (!d->rec_keys.ready)
        return PERC_ERR_STATE;
    /* Whatever OpenSSL already wrote goes out first, so that the stolen
     * record is the only thing in the BIO afterwards. */
    int rc = perc_dtls_flush_ssl(d);
    if (rc)
        return rc;
    uint8_t stolen[DTLS_RECORD_HEADER_LEN + DTLS_GCM_OVERHEAD + 1];
    size_t want = sizeof stolen;
    ERR_clear_error();
    if (SSL_write(d->ssl, "x", 1) != 1) {
        ERR_clear_error();
        return PERC_ERR_STATE;
    }
    /* The stolen record: 13 header + 8 nonce + 1 + 16 tag, type 23, epoch 1.
     * It is never sent; OpenSSL's counter has moved past it, so reusing its
     * number neither repeats a nonce nor goes backwards at the peer. */
    size_t pending = BIO_ctrl_pending(d->wbio);
    int got = pending == want ? BIO_read(d->wbio, stolen, (int)want) : -1;
    if (got != (int)want) {
        /* Not what OpenSSL writes for one octet: give up rather than guess.
         * Drain the BIO so the odd record is not sent either. */
        uint8_t sink[256];
        while (BIO_read(d->wbio, sink, sizeof sink) > 0)
            ;
        perc_wipe(sink, sizeof sink);
        return PERC_ERR_CRYPTO;
    }
    perc_reader r;
    perc_dtls_rec rec;
    perc_reader_init(&r, stolen, want);
    rc = perc_dtls_rec_read(&r, &rec);
    uint16_t epoch = rec.epoch;
    uint64_t seq = rec.seq;
    perc_wipe(stolen, sizeof stolen);
    if (rc || rec.type != DTLS_CT_APPLICATION_DATA || epoch != 1)
        return PERC_ERR_CRYPTO;

    bool server = d->cfg.role == PERC_DTLS_SERVER;
    uint8_t out[DTLS_RECORD_HEADER_LEN + DTLS_GCM_OVERHEAD + DTLS_SHIM_MAX_PLAINTEXT];
    size_t out_len;
    rc = perc_dtls_rec_seal(server ? d->rec_keys.server_key : d->rec_keys.client_key,
                            server ? d->rec_keys.server_iv : d->rec_keys.client_iv, type, epoch,
                            seq, pt, pt_len, out, sizeof out, &out_len);
    if (!rc)
        rc = perc_dtls_out_push(d, out, out_len);
    if (!rc && seq_out)
        *seq_out = seq;
    return rc;
}

void perc_dtls_fail_with_alert(perc_dtls *d, uint8_t alert, perc_dtls_reason reason,
                               const char *detail)
{
    /* OpenSSL has no API to send an arbitrary alert after the handshake, so
     * the alert goes in a record of ours; the peer's OpenSSL processes it
     * like its own (fatal, level 2). */
    const uint8_t body[2] = {2, alert};
    if (perc_dtls_send_own_record(d, DTLS_CT_ALERT, body, sizeof body, NULL) == PERC_OK)
        perc_dtls_end(d, PERC_DTLS_FAILED, reason, alert, false, detail);
    else
        perc_dtls_end(d, PERC_DTLS_FAILED, reason, -1, false, detail);
}

int perc_dtls_intercept(perc_dtls *d, const uint8_t *data, size_t len, uint64_t now_ns)
{
    perc_reader r;
    perc_reader_init(&r, data, len);
    uint8_t pt[DTLS_SHIM_MAX_PLAINTEXT];
    int rc = PERC_OK;
    while (perc_reader_remaining(&r) > 0 && d->state != PERC_DTLS_FAILED &&
           d->state != PERC_DTLS_CLOSED) {
        perc_dtls_rec rec;
        if (perc_dtls_rec_read(&r, &rec) != PERC_OK) {
            /* Not a whole record: OpenSSL gets the rest and discards it. */
            perc_view rest = perc_read_rest(&r);
            if (BIO_write(d->rbio, rest.ptr, (int)rest.len) != (int)rest.len)
                rc = PERC_ERR_CRYPTO;
            break;
        }
        /* The client has the master secret before the handshake completes:
         * an EKTKey that overtook the server's Finished must not reach
         * OpenSSL, which would treat it as an unexpected message. */
        bool server = d->cfg.role == PERC_DTLS_SERVER;
        if (!d->rec_keys.ready && rec.epoch == 1 &&
            rec.type == (server ? DTLS_CT_ACK : DTLS_CT_HANDSHAKE) &&
            (rc = perc_dtls_derive_record_keys(d)))
            break;
        perc_dtls_shim_result res;
        perc_dtls_shim_classify(&d->rec_keys, server, &rec, pt, sizeof pt, &res);
        switch (res.kind) {
        case PERC_DTLS_SHIM_PASS:
            if (BIO_write(d->rbio, rec.whole.ptr, (int)rec.whole.len) != (int)rec.whole.len)
                rc = PERC_ERR_CRYPTO;
            break;
        case PERC_DTLS_SHIM_EKT_KEY:
            perc_dtls_ekt_received(d, rec.seq, &res.hs, now_ns);
            break;
        case PERC_DTLS_SHIM_ACK:
            perc_dtls_ekt_ack_received(d, res.acked, res.n_acked, now_ns);
            break;
        case PERC_DTLS_SHIM_BAD:
            /* Authentic, so from the peer, but broken: RFC 8870 §5.2.2 asks
             * for an alert on an EKTKey that cannot be processed. A bad ACK
             * is dropped; the EKTKey will be retransmitted. */
            d->stats.records_rejected++;
            if (d->cfg.role == PERC_DTLS_CLIENT)
                perc_dtls_fail_with_alert(d, DTLS_ALERT_DECODE_ERROR, PERC_DTLS_REASON_EKT,
                                          "malformed EKTKey handshake message");
            break;
        }
        perc_wipe(pt, sizeof pt);
        if (rc)
            break;
    }
    return rc;
}
