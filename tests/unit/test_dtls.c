/* DTLS adapter (perc/dtls.h): handshakes between two associations in
 * memory, negotiation of the double profiles, supported_ekt_ciphers and
 * external_session_id, fingerprints, and the ways an association fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "perc/dtls.h"
#include "perc/secret.h"
#include "test_dtls_pair.h"

/* The keying material both sides hold must be the same, split as RFC 8723
 * §10.1 says, and not all zero. */
static void assert_same_keying(tp_pair *p, uint16_t profile)
{
    perc_double_keying kc, ks;
    assert_int_equal(perc_dtls_get_keying(p->c.d, &kc), PERC_OK);
    assert_int_equal(perc_dtls_get_keying(p->s.d, &ks), PERC_OK);
    assert_int_equal(kc.profile, profile);
    assert_int_equal(ks.profile, profile);
    size_t half = profile == PERC_PROFILE_DOUBLE_AES_128_GCM ? 16 : 32;
    const perc_double_master *mc[2] = {&kc.client_write, &kc.server_write};
    const perc_double_master *ms[2] = {&ks.client_write, &ks.server_write};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mc[i]->inner.key_len, half);
        assert_int_equal(mc[i]->outer.key_len, half);
        assert_true(perc_secret_equal(mc[i]->inner.key, ms[i]->inner.key, half));
        assert_true(perc_secret_equal(mc[i]->outer.key, ms[i]->outer.key, half));
        assert_true(perc_secret_equal(mc[i]->inner.salt, ms[i]->inner.salt, 12));
        assert_true(perc_secret_equal(mc[i]->outer.salt, ms[i]->outer.salt, 12));
        /* the halves are different keys */
        assert_false(perc_secret_equal(mc[i]->inner.key, mc[i]->outer.key, half));
    }
    assert_false(perc_secret_equal(kc.client_write.inner.key, kc.server_write.inner.key, half));
    perc_double_keying_wipe(&kc);
    perc_double_keying_wipe(&ks);
}

static void test_handshake_default(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_HANDSHAKING);
    assert_int_equal(perc_dtls_get_keying(p.c.d, &(perc_double_keying){0}), PERC_ERR_STATE);
    assert_int_equal(perc_dtls_srtp_profile(p.c.d), 0);
    tp_handshake(&p);

    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.c.n_connected, 1);
    assert_int_equal(p.s.n_connected, 1);
    assert_int_equal(p.c.n_closed + p.s.n_closed, 0);
    /* first profile of the client's default list */
    assert_int_equal(p.c.profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(p.s.profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(perc_dtls_srtp_profile(p.c.d), 0x0009);
    /* supported_ekt_ciphers: 02 01 02 offered, aeskw_128 chosen */
    assert_int_equal(p.c.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(p.s.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(perc_dtls_ekt_cipher(p.s.d), PERC_EKT_CIPHER_AESKW_128);
    assert_same_keying(&p, PERC_PROFILE_DOUBLE_AES_128_GCM);

    /* external_session_id both ways */
    uint8_t id[PERC_DTLS_TLS_ID_MAX];
    size_t n;
    assert_int_equal(perc_dtls_peer_tls_id(p.s.d, id, sizeof id, &n), PERC_OK);
    assert_int_equal(n, strlen(tp_client_tls_id));
    assert_memory_equal(id, tp_client_tls_id, n);
    assert_int_equal(perc_dtls_peer_tls_id(p.c.d, id, sizeof id, &n), PERC_OK);
    assert_int_equal(n, strlen(tp_server_tls_id));
    assert_memory_equal(id, tp_server_tls_id, n);
    assert_int_equal(perc_dtls_peer_tls_id(p.c.d, id, n - 1, &n), PERC_ERR_NOSPACE);

    /* each side sees the other's certificate */
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], want[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_peer_fingerprint(p.c.d, fp), PERC_OK);
    assert_int_equal(perc_dtls_cert_fingerprint(p.s.cert, want), PERC_OK);
    assert_memory_equal(fp, want, sizeof fp);
    perc_dtls_ctx_fingerprint(p.s.ctx, fp);
    assert_memory_equal(fp, want, sizeof fp);
    assert_int_equal(perc_dtls_peer_fingerprint(p.s.d, fp), PERC_OK);
    assert_int_equal(perc_dtls_cert_fingerprint(p.c.cert, want), PERC_OK);
    assert_memory_equal(fp, want, sizeof fp);

    /* nothing left to retransmit */
    assert_true(perc_dtls_next_timeout(p.c.d) == UINT64_MAX);
    assert_true(perc_dtls_next_timeout(p.s.d) == UINT64_MAX);
    assert_null(perc_dtls_get_close_info(p.c.d));
    tp_free(&p);
}

/* The server follows the client's preference among what it accepts. */
static void test_handshake_client_prefers_256(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    p.c.cfg.srtp_profiles[1] = PERC_PROFILE_DOUBLE_AES_128_GCM;
    /* the server lists 0x0009 first, as by default */
    p.c.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_256;
    p.c.cfg.n_ekt_ciphers = 1;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.c.profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(p.s.profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(p.s.ekt_cipher, PERC_EKT_CIPHER_AESKW_256);
    assert_int_equal(p.c.ekt_cipher, PERC_EKT_CIPHER_AESKW_256);
    assert_same_keying(&p, PERC_PROFILE_DOUBLE_AES_256_GCM);
    tp_free(&p);
}

/* The server picks the client's first EKT cipher it accepts. */
static void test_handshake_ekt_cipher_choice(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.s.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_256;
    p.s.cfg.n_ekt_ciphers = 1;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.c.ekt_cipher, PERC_EKT_CIPHER_AESKW_256);
    assert_int_equal(p.s.ekt_cipher, PERC_EKT_CIPHER_AESKW_256);
    tp_free(&p);
}

/* RFC 8870 §5.2.1: no supported_ekt_ciphers from the client, so none from
 * the server, so no EKTKey may be sent. */
static void test_no_ext39_no_ekt(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.n_ekt_ciphers = 0;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.s.ekt_cipher, 0);
    assert_int_equal(p.c.ekt_cipher, 0);
    perc_ekt_key_msg m = tp_ekt_msg(1, 16, 0x11);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_STATE);
    assert_int_equal(perc_dtls_ekt_pending(p.s.d), 0);
    tp_free(&p);
}

/* Server accepting none of the client's EKT ciphers: connected, no EKT. */
static void test_no_common_ekt_cipher(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_128;
    p.c.cfg.n_ekt_ciphers = 1;
    p.s.cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_256;
    p.s.cfg.n_ekt_ciphers = 1;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(p.s.ekt_cipher, 0);
    assert_int_equal(p.c.ekt_cipher, 0);
    perc_ekt_key_msg m = tp_ekt_msg(1, 32, 0x11);
    assert_int_equal(perc_dtls_send_ekt_key(p.s.d, &m, p.now), PERC_ERR_STATE);
    tp_free(&p);
}

/* The client never sends an EKTKey, whatever was negotiated. */
static void test_client_cannot_send_ekt(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    tp_handshake(&p);
    perc_ekt_key_msg m = tp_ekt_msg(1, 16, 0x11);
    assert_int_equal(perc_dtls_send_ekt_key(p.c.d, &m, p.now), PERC_ERR_STATE);
    tp_free(&p);
}

/* Keys of a failed association must be gone, not just unreachable. */
static void assert_no_keys(const perc_dtls *d)
{
    perc_double_keying k;
    assert_int_equal(perc_dtls_get_keying(d, &k), PERC_ERR_STATE);
}

/* RFC 9185 §5.1: the server's external_session_id differs from the tls-id
 * of the answer: the client refuses before any key exists. */
static void test_tls_id_mismatch(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    const char other[] = "SomebodyElsesTlsId0123456789";
    assert_int_equal(
        perc_dtls_config_expect_peer_tls_id(&p.c.cfg, (const uint8_t *)other, strlen(other)),
        PERC_OK);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_FAILED);
    assert_int_equal(p.c.n_closed, 1);
    assert_int_equal(p.c.n_connected, 0);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_TLS_ID);
    assert_int_equal(p.c.closed.alert, 49); /* access_denied */
    assert_false(p.c.closed.alert_from_peer);
    assert_no_keys(p.c.d);
    /* the server learns through the alert */
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_FAILED);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.s.closed.alert, 49);
    assert_true(p.s.closed.alert_from_peer);
    assert_no_keys(p.s.d);
    const perc_dtls_close_info *ci = perc_dtls_get_close_info(p.c.d);
    assert_non_null(ci);
    assert_non_null(strstr(ci->detail, "external_session_id"));
    assert_int_equal(perc_dtls_recv(p.c.d, (const uint8_t *)"x", 1, p.now), PERC_ERR_STATE);
    tp_free(&p);
}

/* The KMF side: a client whose tls-id is not the announced one. */
static void test_tls_id_mismatch_server(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    const char other[] = "SomebodyElsesTlsId0123456789";
    assert_int_equal(perc_dtls_config_set_tls_id(&p.c.cfg, (const uint8_t *)other, strlen(other)),
                     PERC_OK);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_TLS_ID);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.c.n_connected + p.s.n_connected, 0);
    tp_free(&p);
}

/* A peer that sends no external_session_id although one is expected. */
static void test_tls_id_missing(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.tls_id_len = 0; /* the client sends none; the server expects one */
    p.c.cfg.expected_peer_tls_id_len = 0;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_TLS_ID);
    assert_non_null(strstr(p.s.closed.detail, "no external_session_id"));
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    /* and since the client sent none, the server answered with none */
    uint8_t id[PERC_DTLS_TLS_ID_MAX];
    size_t n;
    assert_int_equal(perc_dtls_peer_tls_id(p.c.d, id, sizeof id, &n), PERC_ERR_NOT_FOUND);
    tp_free(&p);
}

/* Without any tls-id configured on either side the handshake works. */
static void test_tls_id_unused(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.tls_id_len = p.c.cfg.expected_peer_tls_id_len = 0;
    p.s.cfg.tls_id_len = p.s.cfg.expected_peer_tls_id_len = 0;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    uint8_t id[PERC_DTLS_TLS_ID_MAX];
    size_t n;
    assert_int_equal(perc_dtls_peer_tls_id(p.s.d, id, sizeof id, &n), PERC_ERR_NOT_FOUND);
    tp_free(&p);
}

static void test_wrong_fingerprint(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_cert_fingerprint(p.s.cert, fp), PERC_OK);
    fp[31] ^= 0x01;
    perc_dtls_config_expect_peer_fingerprint(&p.c.cfg, fp);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_FAILED);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_FINGERPRINT);
    assert_int_equal(p.c.closed.alert, 42); /* bad_certificate */
    assert_int_equal(p.c.n_connected, 0);
    assert_no_keys(p.c.d);
    /* the fingerprint it saw is still there for the log */
    uint8_t seen[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_peer_fingerprint(p.c.d, seen), PERC_OK);
    fp[31] ^= 0x01;
    assert_memory_equal(seen, fp, sizeof fp);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.s.closed.alert, 42);
    tp_free(&p);
}

/* The server pins the client's certificate too. */
static void test_wrong_fingerprint_server(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_cert_fingerprint(p.s.cert, fp), PERC_OK); /* not the client's */
    perc_dtls_config_expect_peer_fingerprint(&p.s.cfg, fp);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_FINGERPRINT);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    tp_free(&p);
}

/* The KMF authorizes from fingerprint and external_session_id. */
static void test_authorize(void **state)
{
    (void)state;
    for (int accept = 0; accept < 2; accept++) {
        tp_pair p;
        tp_init(&p);
        p.s.use_authorize = true;
        p.s.authorize_result = accept;
        p.s.cfg.expected_peer_tls_id_len = 0; /* the callback decides */
        tp_create(&p);
        tp_handshake(&p);
        assert_int_equal(p.s.n_authorize, 1);
        uint8_t want[PERC_DTLS_FINGERPRINT_LEN];
        assert_int_equal(perc_dtls_cert_fingerprint(p.c.cert, want), PERC_OK);
        assert_memory_equal(p.s.auth_fp, want, sizeof want);
        assert_int_equal(p.s.auth_tls_id_len, strlen(tp_client_tls_id));
        assert_memory_equal(p.s.auth_tls_id, tp_client_tls_id, p.s.auth_tls_id_len);
        if (accept) {
            assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
        } else {
            assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_UNAUTHORIZED);
            assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
            assert_int_equal(p.s.n_connected + p.c.n_connected, 0);
        }
        tp_free(&p);
    }
}

/* The server's tls-id chosen from the client's (the KMF announced one per
 * participant and learns which participant it is from the ClientHello). */
typedef struct chooser {
    int calls;
    int verdict;                    /* returned */
    size_t give_len;                /* length of the tls-id given back */
    size_t seen_len;
    uint8_t seen[PERC_DTLS_TLS_ID_MAX];
} chooser;

static const char chosen_tls_id[] = "ChosenForThisClient0123456789xyz";

static int choose_tls_id(void *user, const uint8_t *peer, size_t peer_len, uint8_t *out, size_t cap,
                         size_t *out_len)
{
    chooser *c = user;
    c->calls++;
    assert_true(peer_len <= sizeof c->seen);
    memcpy(c->seen, peer, peer_len);
    c->seen_len = peer_len;
    assert_int_equal(cap, PERC_DTLS_TLS_ID_MAX);
    /* write no more than cap even when claiming a longer tls-id (mode 3) */
    size_t w = c->give_len < cap ? c->give_len : cap;
    memset(out, 'z', w);
    memcpy(out, chosen_tls_id, w < strlen(chosen_tls_id) ? w : strlen(chosen_tls_id));
    *out_len = c->give_len;
    return c->verdict;
}

static void test_choose_tls_id(void **state)
{
    (void)state;
    /* 0: accepted; 1: refused; 2: a tls-id too short; 3: too long. */
    for (int mode = 0; mode < 4; mode++) {
        tp_pair p;
        tp_init(&p);
        chooser ch = {0, mode == 1 ? -1 : 0, strlen(chosen_tls_id), 0, {0}};
        if (mode == 2)
            ch.give_len = PERC_DTLS_TLS_ID_MIN - 1;
        if (mode == 3)
            ch.give_len = PERC_DTLS_TLS_ID_MAX + 1;
        p.s.cfg.tls_id_len = 0; /* nothing configured: the callback decides */
        p.s.cfg.expected_peer_tls_id_len = 0;
        p.s.cfg.choose_tls_id = choose_tls_id;
        p.s.cfg.choose_tls_id_user = &ch;
        assert_int_equal(perc_dtls_config_expect_peer_tls_id(
                             &p.c.cfg, (const uint8_t *)chosen_tls_id, strlen(chosen_tls_id)),
                         PERC_OK);
        p.s.use_authorize = true;
        tp_create(&p);
        tp_handshake(&p);
        assert_int_equal(ch.calls, 1);
        assert_int_equal(ch.seen_len, strlen(tp_client_tls_id));
        assert_memory_equal(ch.seen, tp_client_tls_id, ch.seen_len);
        if (mode == 0) {
            assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
            assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
            uint8_t id[PERC_DTLS_TLS_ID_MAX];
            size_t n;
            assert_int_equal(perc_dtls_peer_tls_id(p.c.d, id, sizeof id, &n), PERC_OK);
            assert_int_equal(n, strlen(chosen_tls_id));
            assert_memory_equal(id, chosen_tls_id, n);
            assert_int_equal(p.s.n_authorize, 1);
        } else {
            /* refused at the ClientHello: no certificate, no key, and the
             * authorize callback never ran */
            assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_UNAUTHORIZED);
            assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
            assert_int_equal(p.c.closed.alert, 49); /* access_denied */
            assert_int_equal(p.s.n_connected + p.c.n_connected, 0);
            assert_int_equal(p.s.n_authorize, 0);
            assert_no_keys(p.s.d);
            assert_no_keys(p.c.d);
        }
        tp_free(&p);
    }

    /* Without a client tls-id the callback is not called and none is
     * sent back. */
    tp_pair p;
    tp_init(&p);
    chooser ch = {0, 0, strlen(chosen_tls_id), 0, {0}};
    p.c.cfg.tls_id_len = p.c.cfg.expected_peer_tls_id_len = 0;
    p.s.cfg.tls_id_len = p.s.cfg.expected_peer_tls_id_len = 0;
    p.s.cfg.choose_tls_id = choose_tls_id;
    p.s.cfg.choose_tls_id_user = &ch;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(ch.calls, 0);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    uint8_t id[PERC_DTLS_TLS_ID_MAX];
    size_t n;
    assert_int_equal(perc_dtls_peer_tls_id(p.c.d, id, sizeof id, &n), PERC_ERR_NOT_FOUND);
    tp_free(&p);
}

/* No common double profile: refused at the ClientHello. */
static void test_no_common_profile(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    p.c.cfg.srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    p.c.cfg.n_srtp_profiles = 1;
    p.s.cfg.n_srtp_profiles = 1; /* 0x0009 only */
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_SRTP_PROFILE);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(p.c.closed.alert, 40); /* handshake_failure */
    tp_free(&p);
}

typedef struct pinner {
    int calls;
    uint16_t answer;
    uint8_t seen[PERC_DTLS_TLS_ID_MAX];
    size_t seen_len;
} pinner;

static uint16_t required_profile(void *user, const uint8_t *peer, size_t peer_len)
{
    pinner *pn = user;
    pn->calls++;
    assert_true(peer_len <= sizeof pn->seen);
    assert_true(peer != NULL || peer_len == 0);
    if (peer_len)
        memcpy(pn->seen, peer, peer_len);
    pn->seen_len = peer_len;
    return pn->answer;
}

/* The server's required_profile callback (a Key Distributor keeping a
 * conference on one profile) overrides the client's preference, refuses a
 * client that did not offer the required profile, and sees the client's
 * tls-id, or none. */
static void test_required_profile(void **state)
{
    (void)state;
    /* 0: no requirement, the client's first choice (0x0009); 1: 0x000A
     * required of a client that prefers 0x0009 but offers both; 2: 0x000A
     * required of a client that offers only 0x0009; 3: 0x000A required,
     * but this server supports only 0x0009. */
    for (int mode = 0; mode < 4; mode++) {
        tp_pair p;
        tp_init(&p);
        pinner pn = {0, mode == 0 ? 0 : PERC_PROFILE_DOUBLE_AES_256_GCM, {0}, 0};
        if (mode == 2)
            p.c.cfg.n_srtp_profiles = 1;
        if (mode == 3)
            p.s.cfg.n_srtp_profiles = 1;
        p.s.cfg.required_profile = required_profile;
        p.s.cfg.required_profile_user = &pn;
        tp_create(&p);
        tp_handshake(&p);
        assert_int_equal(pn.calls, 1);
        assert_int_equal(pn.seen_len, strlen(tp_client_tls_id));
        assert_memory_equal(pn.seen, tp_client_tls_id, pn.seen_len);
        if (mode < 2) {
            uint16_t want = mode == 0 ? PERC_PROFILE_DOUBLE_AES_128_GCM
                                      : PERC_PROFILE_DOUBLE_AES_256_GCM;
            assert_int_equal(p.c.profile, want);
            assert_int_equal(p.s.profile, want);
            assert_same_keying(&p, want);
        } else {
            assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_SRTP_PROFILE);
            assert_non_null(strstr(p.s.closed.detail, "required"));
            assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_PEER_ALERT);
            assert_int_equal(p.c.closed.alert, 40); /* handshake_failure */
            assert_int_equal(p.s.n_connected + p.c.n_connected, 0);
            assert_no_keys(p.s.d);
            assert_no_keys(p.c.d);
        }
        tp_free(&p);
    }

    /* A client without a tls-id: the callback is asked with none. */
    tp_pair p;
    tp_init(&p);
    pinner pn = {0, PERC_PROFILE_DOUBLE_AES_256_GCM, {0}, 7};
    p.c.cfg.tls_id_len = p.c.cfg.expected_peer_tls_id_len = 0;
    p.s.cfg.tls_id_len = p.s.cfg.expected_peer_tls_id_len = 0;
    p.s.cfg.required_profile = required_profile;
    p.s.cfg.required_profile_user = &pn;
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(pn.calls, 1);
    assert_int_equal(pn.seen_len, 0);
    assert_int_equal(p.c.profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    tp_free(&p);
}

typedef struct cipher_pick {
    int calls;
    uint16_t seen_profile;
    uint8_t answer;
} cipher_pick;

static uint8_t required_ekt_cipher(void *user, uint16_t profile)
{
    cipher_pick *cp = user;
    cp->calls++;
    cp->seen_profile = profile;
    return cp->answer;
}

/* The server's required_ekt_cipher callback learns the profile chosen for
 * this client (after required_profile narrowed it) and narrows the EKT
 * cipher: over the client's preference, or to none when the client did not
 * offer it (the handshake completes without EKT; the caller refuses). */
static void test_required_ekt_cipher(void **state)
{
    (void)state;
    /* 0: no narrowing (the client's first: aeskw_128); 1: aeskw_256 required
     * of a client preferring aeskw_128; 2: aeskw_256 required of a client
     * offering only aeskw_128; 3: required, but this server does not
     * support it. In 1..3 the profile was narrowed to 0x000A first. */
    for (int mode = 0; mode < 4; mode++) {
        tp_pair p;
        tp_init(&p);
        pinner pn = {0, mode ? PERC_PROFILE_DOUBLE_AES_256_GCM : 0, {0}, 0};
        cipher_pick cp = {0, 0, mode ? PERC_EKT_CIPHER_AESKW_256 : 0};
        p.s.cfg.required_profile = required_profile;
        p.s.cfg.required_profile_user = &pn;
        p.s.cfg.required_ekt_cipher = required_ekt_cipher;
        p.s.cfg.required_ekt_cipher_user = &cp;
        if (mode == 2)
            p.c.cfg.n_ekt_ciphers = 1;
        if (mode == 3)
            p.s.cfg.n_ekt_ciphers = 1;
        tp_create(&p);
        tp_handshake(&p);
        assert_int_equal(cp.calls, 1);
        assert_int_equal(cp.seen_profile, mode ? PERC_PROFILE_DOUBLE_AES_256_GCM
                                               : PERC_PROFILE_DOUBLE_AES_128_GCM);
        assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
        assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
        uint8_t want = mode == 0   ? PERC_EKT_CIPHER_AESKW_128
                       : mode == 1 ? PERC_EKT_CIPHER_AESKW_256
                                   : 0;
        assert_int_equal(p.s.ekt_cipher, want);
        assert_int_equal(p.c.ekt_cipher, want);
        tp_free(&p);
    }
}

/* Local close: close_notify reaches the peer, which answers it. */
static void test_close(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    tp_handshake(&p);
    assert_int_equal(perc_dtls_close(p.c.d, p.now), PERC_OK);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CLOSED);
    assert_int_equal(p.c.closed.reason, PERC_DTLS_REASON_LOCAL_CLOSE);
    assert_no_keys(p.c.d);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 1);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CLOSED);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_CLOSE);
    assert_int_equal(p.s.closed.alert, 0);
    assert_true(p.s.closed.alert_from_peer);
    assert_no_keys(p.s.d);
    assert_int_equal(perc_dtls_close(p.c.d, p.now), PERC_ERR_STATE);
    assert_int_equal(perc_dtls_on_timeout(p.s.d, p.now), PERC_ERR_STATE);
    assert_int_equal(p.c.n_closed, 1);
    assert_int_equal(p.s.n_closed, 1);
    tp_free(&p);
}

/* A lost flight is retransmitted on OpenSSL's timer (which reads the wall
 * clock: the test shortens it and sleeps). */
static void test_handshake_retransmission(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    /* 400 ms, not less: the "too early" step below must run before the
     * wall-clock timer fires, even on a slow sanitizer run */
    p.c.cfg.handshake_rtx_initial_ms = 400;
    tp_create(&p);
    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    uint64_t deadline = perc_dtls_next_timeout(p.c.d);
    assert_true(deadline > p.now && deadline <= p.now + 400 * 1000000u);
    int drop = 1; /* the ClientHello is lost */
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, &drop), 1);
    assert_int_equal(tp_deliver(&p.s, &p.c, p.now, NULL), 0);
    /* too early for OpenSSL's clock: nothing happens */
    assert_int_equal(perc_dtls_on_timeout(p.c.d, deadline), PERC_OK);
    assert_int_equal(tp_deliver(&p.c, &p.s, p.now, NULL), 0);
    tp_sleep_ms(450);
    p.now = perc_dtls_next_timeout(p.c.d);
    assert_int_equal(perc_dtls_on_timeout(p.c.d, p.now), PERC_OK);
    tp_settle(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    assert_int_equal(perc_dtls_get_state(p.s.d), PERC_DTLS_CONNECTED);
    assert_same_keying(&p, PERC_PROFILE_DOUBLE_AES_128_GCM);
    tp_free(&p);
}

/* The key log is opt-in and gives NSS lines. */
static void test_keylog(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create_peer(&p.c, true);
    tp_create_peer(&p.s, false);
    tp_handshake(&p);
    assert_true(p.c.n_keylog >= 1);
    assert_int_equal(p.s.n_keylog, 0);
    /* "CLIENT_RANDOM <64 hex> <96 hex>" */
    assert_int_equal(strncmp(p.c.keylog_line, "CLIENT_RANDOM ", 14), 0);
    assert_int_equal(strlen(p.c.keylog_line), 14 + 64 + 1 + 96);
    tp_free(&p);
}

static void test_fingerprint_text(void **state)
{
    (void)state;
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN], back[PERC_DTLS_FINGERPRINT_LEN];
    for (size_t i = 0; i < sizeof fp; i++)
        fp[i] = (uint8_t)(i * 37 + 0xA5);
    char text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    assert_int_equal(perc_dtls_fingerprint_format(fp, text, sizeof text), PERC_OK);
    assert_int_equal(strlen(text), 95);
    assert_int_equal(strncmp(text, "A5:CA:EF:14:", 12), 0);
    assert_int_equal(perc_dtls_fingerprint_format(fp, text, sizeof text - 1), PERC_ERR_NOSPACE);
    assert_int_equal(perc_dtls_fingerprint_parse(text, back), PERC_OK);
    assert_memory_equal(fp, back, sizeof fp);
    /* lower case is accepted */
    char lower[sizeof text];
    for (size_t i = 0; i < sizeof text; i++)
        lower[i] = (char)((text[i] >= 'A' && text[i] <= 'F') ? text[i] + 32 : text[i]);
    assert_int_equal(perc_dtls_fingerprint_parse(lower, back), PERC_OK);
    assert_memory_equal(fp, back, sizeof fp);

    /* every truncation, a trailing character, a bad digit, a bad separator */
    char bad[sizeof text + 1];
    for (size_t n = 0; n < strlen(text); n++) {
        memcpy(bad, text, n);
        bad[n] = '\0';
        assert_int_equal(perc_dtls_fingerprint_parse(bad, back), PERC_ERR_MALFORMED);
    }
    memcpy(bad, text, sizeof text);
    strcat(bad, ":");
    assert_int_equal(perc_dtls_fingerprint_parse(bad, back), PERC_ERR_MALFORMED);
    memcpy(bad, text, sizeof text);
    bad[10] = 'G';
    assert_int_equal(perc_dtls_fingerprint_parse(bad, back), PERC_ERR_MALFORMED);
    memcpy(bad, text, sizeof text);
    bad[2] = '-';
    assert_int_equal(perc_dtls_fingerprint_parse(bad, back), PERC_ERR_MALFORMED);
    for (size_t i = 0; i < sizeof back; i++)
        assert_int_equal(back[i], 0); /* zeroed on failure */
    assert_int_equal(perc_dtls_fingerprint_parse(NULL, back), PERC_ERR_INVALID_ARG);
}

static void test_identity(void **state)
{
    (void)state;
    X509 *a, *b;
    EVP_PKEY *ka, *kb;
    assert_int_equal(perc_dtls_identity_generate(NULL, &a, &ka), PERC_OK);
    assert_int_equal(perc_dtls_identity_generate("x", &b, &kb), PERC_OK);
    assert_true(EVP_PKEY_is_a(ka, "EC"));
    assert_int_equal(X509_check_private_key(a, ka), 1);
    assert_int_equal(X509_check_private_key(a, kb), 0);
    uint8_t fa[PERC_DTLS_FINGERPRINT_LEN], fb[PERC_DTLS_FINGERPRINT_LEN];
    assert_int_equal(perc_dtls_cert_fingerprint(a, fa), PERC_OK);
    assert_int_equal(perc_dtls_cert_fingerprint(b, fb), PERC_OK);
    assert_memory_not_equal(fa, fb, sizeof fa);
    /* a certificate and a key that do not belong together */
    perc_dtls_ctx *ctx;
    perc_dtls_ctx_config cc = {a, kb, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &ctx), PERC_ERR_INVALID_ARG);
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    X509 *c = NULL;
    EVP_PKEY *kc = NULL;
    assert_int_equal(perc_dtls_identity_generate(longname, &c, &kc), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_identity_generate(NULL, NULL, &kc), PERC_ERR_INVALID_ARG);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}

static void test_config_validation(void **state)
{
    (void)state;
    X509 *cert;
    EVP_PKEY *key;
    assert_int_equal(perc_dtls_identity_generate(NULL, &cert, &key), PERC_OK);
    perc_dtls_ctx *ctx;
    perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &ctx), PERC_OK);
    perc_dtls *d = NULL;
    perc_dtls_config cfg;

    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_OK);
    perc_dtls_free(d);

    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.srtp_profiles[0] = PERC_PROFILE_AEAD_AES_128_GCM; /* not double */
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.n_srtp_profiles = 0;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.srtp_profiles[1] = cfg.srtp_profiles[0]; /* duplicate */
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.ekt_ciphers[1] = 0;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.tls_id_len = PERC_DTLS_TLS_ID_MIN - 1;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.choose_tls_id = choose_tls_id; /* a server's business */
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.required_profile = required_profile; /* also */
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.required_ekt_cipher = required_ekt_cipher;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.mtu = PERC_DTLS_MIN_MTU - 1;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    perc_dtls_config_init(&cfg, PERC_DTLS_CLIENT);
    cfg.ekt_rtx_max_ns = cfg.ekt_rtx_initial_ns - 1;
    assert_int_equal(perc_dtls_new(ctx, &cfg, NULL, &d), PERC_ERR_INVALID_ARG);
    assert_null(d);

    uint8_t id[PERC_DTLS_TLS_ID_MAX + 1] = {0};
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, id, 19), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, id, 20), PERC_OK);
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, id, 255), PERC_OK);
    assert_int_equal(perc_dtls_config_set_tls_id(&cfg, id, 256), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_config_expect_peer_tls_id(&cfg, id, 256), PERC_ERR_INVALID_ARG);

    /* an RSA identity cannot do ECDHE-ECDSA */
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_non_null(rsa);
    perc_dtls_ctx *ctx2;
    cc.key = rsa;
    assert_int_equal(perc_dtls_ctx_new(&cc, &ctx2), PERC_ERR_INVALID_ARG);
    EVP_PKEY_free(rsa);

    perc_dtls_ctx_free(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* The context may go before its associations. */
static void test_ctx_freed_first(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    perc_dtls_ctx_free(p.c.ctx);
    perc_dtls_ctx_free(p.s.ctx);
    p.c.ctx = p.s.ctx = NULL;
    tp_handshake(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    tp_free(&p);
}

/* Garbage at a server in handshake does not crash it, and an output
 * buffer that is too small keeps the datagram. */
static void test_garbage_and_small_buffer(void **state)
{
    (void)state;
    tp_pair p;
    tp_init(&p);
    tp_create(&p);
    const uint8_t junk[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 1, 2, 3};
    assert_int_equal(perc_dtls_recv(p.s.d, junk, sizeof junk, p.now), PERC_OK);
    assert_int_equal(perc_dtls_recv(p.s.d, junk, 0, p.now), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    uint8_t small[16];
    size_t n;
    assert_int_equal(perc_dtls_pull(p.c.d, small, sizeof small, &n), PERC_ERR_NOSPACE);
    tp_settle(&p);
    assert_int_equal(perc_dtls_get_state(p.c.d), PERC_DTLS_CONNECTED);
    tp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_default),
        cmocka_unit_test(test_handshake_client_prefers_256),
        cmocka_unit_test(test_handshake_ekt_cipher_choice),
        cmocka_unit_test(test_no_ext39_no_ekt),
        cmocka_unit_test(test_no_common_ekt_cipher),
        cmocka_unit_test(test_client_cannot_send_ekt),
        cmocka_unit_test(test_tls_id_mismatch),
        cmocka_unit_test(test_tls_id_mismatch_server),
        cmocka_unit_test(test_tls_id_missing),
        cmocka_unit_test(test_tls_id_unused),
        cmocka_unit_test(test_wrong_fingerprint),
        cmocka_unit_test(test_wrong_fingerprint_server),
        cmocka_unit_test(test_authorize),
        cmocka_unit_test(test_choose_tls_id),
        cmocka_unit_test(test_no_common_profile),
        cmocka_unit_test(test_required_profile),
        cmocka_unit_test(test_required_ekt_cipher),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_handshake_retransmission),
        cmocka_unit_test(test_keylog),
        cmocka_unit_test(test_fingerprint_text),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_ctx_freed_first),
        cmocka_unit_test(test_garbage_and_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
