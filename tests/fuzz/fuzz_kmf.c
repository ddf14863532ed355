/* Fuzz target for the Key Management Function core (perc/kmf.h): arbitrary
 * bytes from a Media Distributor's tunnel connection into a KMF that has
 * one announced participant.
 *
 * Input: byte 0 steers the run, the rest is the stream, fed to
 * perc_kmf_tunnel_recv() in pseudo-random chunks:
 *   bit 0  the clock advances between chunks and perc_kmf_on_timeout runs
 *          (retransmissions, handshake deadlines, expiry, grace periods)
 *   bit 1  the participant leaves halfway through
 *   bit 2  a roster that refuses the participant is set halfway through
 *   bit 3  the connection is removed halfway and the rest goes to a new
 *          connection from the same Media Distributor (adoption)
 *   bit 4  rekey_on_join
 * Seeds (tests/fuzz/corpus/kmf/) hold SupportedProfiles of several kinds,
 * TunneledDtls carrying a real ClientHello with the participant's tls-id
 * (written by a perc_dtls client), so the DTLS servers get past the hello,
 * EndpointDisconnects, unknown types, truncated messages and a MediaKeys
 * sent the wrong way. A full handshake cannot be a seed: the server's
 * randomness is OpenSSL's.
 *
 * Invariants (abort on violation):
 *   1. everything the KMF queues on a connection decodes, message by
 *      message (perc_tunnel_decode() == PERC_OK), and is a message a Key
 *      Distributor sends: UnsupportedVersion only as 02 00 01 00 and only
 *      before anything else; MediaKeys pass perc_tunnel_media_keys_check();
 *   2. a connection's failure is final: every later recv returns it;
 *   3. never more associations than configured; stats add up;
 *   4. log lines are single lines;
 *   5. no crash, no leak, no undefined behaviour (sanitizers).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "perc/dtls.h"
#include "perc/kmf.h"
#include "perc/secret.h"
#include "perc/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ASSOC 4
#define CONF "fuzz-conference"
#define TLS_ID "FuzzEndpointTlsId0123456789"
#define SECOND UINT64_C(1000000000)

static perc_dtls_ctx *g_ctx;
static uint8_t g_out[1 << 17];

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static int fuzz_random(void *user, uint8_t *buf, size_t len)
{
    uint64_t *s = user;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(next_rand(s) >> 56);
    return 0;
}

static void fuzz_log(void *user, perc_kmf_log_level level, const char *msg)
{
    (void)user;
    /* Any level may occur (garbage is expected to be logged at warning or
     * error); one outside the enum would be a bug in the core. */
    if (level > PERC_KMF_LOG_ERROR)
        abort();
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            abort();
}

static void init_identity(void)
{
    if (g_ctx)
        return;
    X509 *cert;
    EVP_PKEY *key;
    if (perc_dtls_identity_generate("fuzz-kmf", &cert, &key) != PERC_OK)
        abort();
    perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
    if (perc_dtls_ctx_new(&cc, &g_ctx) != PERC_OK)
        abort();
    X509_free(cert); /* the context holds its own references */
    EVP_PKEY_free(key);
}

typedef struct conn_check {
    bool sent_any;
} conn_check;

/* Invariant 1 over whatever the KMF queued on conn. */
static void drain(perc_kmf *k, uint64_t conn, conn_check *cc)
{
    size_t len;
    if (perc_kmf_tunnel_pending(k, conn, g_out, sizeof g_out, &len) != PERC_OK)
        abort();
    for (size_t off = 0; off < len;) {
        uint8_t type;
        size_t n;
        if (perc_tunnel_peek(g_out + off, len - off, &type, &n) != PERC_OK || n > len - off)
            abort();
        perc_tunnel_msg m;
        if (perc_tunnel_decode(g_out + off, n, &m) != PERC_OK)
            abort();
        switch (m.type) {
        case PERC_TUNNEL_UNSUPPORTED_VERSION:
            if (cc->sent_any || n != 4 || memcmp(g_out + off, "\x02\x00\x01\x00", 4) != 0)
                abort();
            break;
        case PERC_TUNNEL_MEDIA_KEYS:
            if (perc_tunnel_media_keys_check(&m.media_keys) != PERC_OK)
                abort();
            break;
        case PERC_TUNNEL_TUNNELED_DTLS:
        case PERC_TUNNEL_ENDPOINT_DISCONNECT:
            break;
        default:
            abort(); /* a Key Distributor never sends SupportedProfiles */
        }
        cc->sent_any = true;
        off += n;
    }
    perc_wipe(g_out, len);
}

static void check_stats(const perc_kmf *k)
{
    perc_kmf_stats st;
    perc_kmf_get_stats(k, &st);
    if (st.associations > MAX_ASSOC || st.participants > 1 || st.conferences > 1 ||
        st.admitted > st.media_keys_sent || st.tunnels > 2)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    init_identity();
    uint8_t flags = data[0];
    data++;
    size--;
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        rng = (rng ^ data[i]) * 0x100000001b3ull;
    if (rng == 0)
        rng = 1;
    uint64_t krng = rng ^ 0x5555;

    perc_kmf_config cfg;
    perc_kmf_config_init(&cfg);
    cfg.dtls_ctx = g_ctx;
    cfg.random = fuzz_random;
    cfg.random_user = &krng;
    cfg.log = fuzz_log;
    cfg.log_level = PERC_KMF_LOG_DEBUG;
    cfg.max_associations = MAX_ASSOC;
    cfg.rekey_on_join = (flags & 16) != 0;
    perc_kmf *k;
    if (perc_kmf_new(&cfg, &k) != PERC_OK)
        abort();
    uint64_t now = 1000 * SECOND;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    memset(fp, 0x42, sizeof fp);
    perc_kmf_answer ans;
    if (perc_kmf_announce(k, CONF, "fuzzer", fp, (const uint8_t *)TLS_ID, strlen(TLS_ID), now,
                          &ans) != PERC_OK ||
        !ans.allowed)
        abort();
    uint64_t conn;
    if (perc_kmf_tunnel_add(k, "md-fuzz", now, &conn) != PERC_OK)
        abort();
    conn_check cc = {false};

    int failed_with = PERC_OK;
    bool half_done = false;
    for (size_t fed = 0; fed < size;) {
        uint64_t r = next_rand(&rng);
        size_t chunk = (r & 7) == 0 ? size - fed : 1 + (size_t)(r >> 8) % 64;
        if (chunk > size - fed)
            chunk = size - fed;
        int rc = perc_kmf_tunnel_recv(k, conn, data + fed, chunk, now);
        if (failed_with != PERC_OK && rc != failed_with)
            abort(); /* invariant 2 */
        if (rc != PERC_OK) {
            perc_kmf_tunnel_info ti;
            if (perc_kmf_tunnel_info_get(k, conn, &ti) != PERC_OK ||
                ti.state != PERC_TUNNEL_KD_FAILED || ti.failure != rc || ti.associations != 0)
                abort();
            failed_with = rc;
        }
        drain(k, conn, &cc);
        check_stats(k);
        fed += chunk;
        if (flags & 1) {
            now += (r >> 20) % (3 * SECOND);
            if (perc_kmf_on_timeout(k, now) != PERC_OK)
                abort();
            drain(k, conn, &cc);
        }
        if (!half_done && fed >= size / 2) {
            half_done = true;
            if (flags & 2) {
                int lrc = perc_kmf_leave(k, CONF, "fuzzer", NULL, 0, now);
                if (lrc != PERC_OK && lrc != PERC_ERR_NOT_FOUND)
                    abort();
            }
            if (flags & 4) {
                perc_kmf_roster_entry e;
                memset(&e, 0, sizeof e);
                e.identity = "somebody-else";
                int src = perc_kmf_set_roster(k, CONF, &e, 1, now);
                if (src != PERC_OK && src != PERC_ERR_NOT_FOUND)
                    abort();
            }
            if (flags & 8) {
                if (perc_kmf_tunnel_remove(k, conn, now) != PERC_OK ||
                    perc_kmf_tunnel_add(k, "md-fuzz", now, &conn) != PERC_OK)
                    abort();
                cc.sent_any = false;
                failed_with = PERC_OK;
            }
            drain(k, conn, &cc);
            check_stats(k);
        }
    }
    /* run out every timer: grace periods, handshake deadlines, expiry */
    if (perc_kmf_tunnel_remove(k, conn, now) != PERC_OK)
        abort();
    for (int i = 0; i < 64; i++) {
        uint64_t t = perc_kmf_next_timeout(k);
        if (t == UINT64_MAX)
            break;
        now = t > now ? t : now + SECOND;
        if (perc_kmf_on_timeout(k, now) != PERC_OK)
            abort();
    }
    check_stats(k);
    perc_kmf_free(k);
    return 0;
}
