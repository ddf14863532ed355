/* The Key Management Function (perc/kmf.h) in whole key distribution
 * scenarios: the KMF core, a Media Distributor (perc/tunnel_md.h) joined to
 * it by in-memory byte streams, and endpoints (perc_dtls clients) talking
 * DTLS to the KMF through the Media Distributor, on a virtual clock.
 * Tunnel connection failures and reconnections are in test_kmf_tunnel.c.
 * Every test also checks, in sim_free(), that no secret reached a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "perc/kmf.h"
#include "test_kmf_sim.h"

#define CONF "conf-1"

static sim *sim_new(uint64_t seed)
{
    sim *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sim_init(s, seed);
    return s;
}

static void sim_delete(sim *s)
{
    sim_free(s);
    free(s);
}

/* One MD (both double profiles) connected, KMF started. */
static sim *sim_basic(uint64_t seed)
{
    sim *s = sim_new(seed);
    sim_start(s);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    sim_pump(s);
    return s;
}

/* The MD got exactly the outer halves of the endpoint's own keying. */
static void assert_media_keys(const sim *s, int md, int ep)
{
    const sim_md *m = &s->md[md];
    const sim_ep *e = &s->ep[ep];
    assert_int_equal(m->n_install[ep], 1);
    const perc_tunnel_md_keys *k = &m->keys[ep];
    assert_int_equal(k->profile, e->profile);
    size_t half = e->profile == PERC_PROFILE_DOUBLE_AES_128_GCM ? 16 : 32;
    assert_int_equal(k->key_len, half);
    assert_int_equal(k->salt_len, 12);
    assert_memory_equal(k->client_write_key, e->keying.client_write.outer.key, half);
    assert_memory_equal(k->server_write_key, e->keying.server_write.outer.key, half);
    assert_memory_equal(k->client_write_salt, e->keying.client_write.outer.salt, 12);
    assert_memory_equal(k->server_write_salt, e->keying.server_write.outer.salt, 12);
    /* and never an inner half */
    assert_memory_not_equal(k->client_write_key, e->keying.client_write.inner.key, half);
    assert_memory_not_equal(k->server_write_key, e->keying.server_write.inner.key, half);
    assert_memory_not_equal(k->client_write_salt, e->keying.client_write.inner.salt, 12);
}

static perc_kmf_association_info assoc_info(const sim *s, int ep)
{
    perc_kmf_association_info ai;
    assert_true(s->ep[ep].has_assoc);
    assert_int_equal(perc_kmf_association_info_get(s->kmf, &s->ep[ep].assoc, &ai), PERC_OK);
    return ai;
}

static bool assoc_gone(const sim *s, int ep)
{
    perc_kmf_association_info ai;
    return perc_kmf_association_info_get(s->kmf, &s->ep[ep].assoc, &ai) == PERC_ERR_NOT_FOUND;
}

/* Two endpoints admitted and holding the same EKTKey. */
static sim *sim_two_members(uint64_t seed)
{
    sim *s = sim_basic(seed);
    sim_add_ep(s, 0, "alice");
    sim_add_ep(s, 0, "bob");
    sim_join(s, 0, CONF);
    sim_join(s, 1, CONF);
    assert_int_equal(sim_ep_state(s, 0), PERC_DTLS_CONNECTED);
    assert_int_equal(sim_ep_state(s, 1), PERC_DTLS_CONNECTED);
    return s;
}

/* ---- (1) two endpoints admitted ------------------------------------------ */

static void test_two_endpoints_admitted(void **state)
{
    (void)state;
    sim *s = sim_basic(1);
    sim_add_ep(s, 0, "alice");
    sim_add_ep(s, 0, "bob");
    /* both announced, then both handshakes run at the same time */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sim_announce(s, i, CONF), PERC_OK);
        assert_true(s->ep[i].ans.allowed);
        assert_string_equal(s->ep[i].ans.reason, "");
        assert_int_equal(s->ep[i].ans.tls_id_len, PERC_KMF_TLS_ID_LEN);
        uint8_t fp[PERC_DTLS_FINGERPRINT_LEN];
        perc_dtls_ctx_fingerprint(s->ctx, fp);
        assert_memory_equal(s->ep[i].ans.fingerprint, fp, sizeof fp);
        for (size_t j = 0; j < s->ep[i].ans.tls_id_len; j++) {
            char c = s->ep[i].ans.tls_id[j];
            assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/');
        }
    }
    assert_string_not_equal(s->ep[0].ans.tls_id, s->ep[1].ans.tls_id);
    perc_kmf_conference_info ci = sim_conf(s, CONF);
    assert_int_equal(ci.announced, 2);
    assert_int_equal(ci.members, 0);
    assert_false(ci.has_current); /* no key before the first member */
    sim_ep_start(s, 0);
    sim_ep_start(s, 1);
    sim_pump(s);

    for (int i = 0; i < 2; i++) {
        sim_ep *e = &s->ep[i];
        assert_int_equal(sim_ep_state(s, i), PERC_DTLS_CONNECTED);
        assert_int_equal(e->profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
        assert_int_equal(e->cipher, PERC_EKT_CIPHER_AESKW_128);
        assert_media_keys(s, 0, i);
        assert_int_equal(e->n_ekt, 1);
        assert_int_equal(e->ekt[0].key_len, 16);
        assert_int_equal(e->ekt[0].salt_len, 12);
        assert_int_equal(e->ekt[0].ttl_s, PERC_KMF_DEFAULT_EKT_TTL_S);
        /* the ACK came back */
        perc_kmf_association_info ai = assoc_info(s, i);
        assert_int_equal(ai.state, PERC_KMF_ASSOC_CONNECTED);
        assert_true(ai.acked);
        assert_int_equal(ai.spi_acked, e->ekt[0].spi);
        assert_int_equal(ai.ekt_unacked, 0);
        assert_int_equal(ai.conn_id, s->md[0].conn);
        assert_string_equal(ai.conference, CONF);
        assert_string_equal(ai.identity, e->identity);
        perc_dtls_stats st;
        perc_dtls_get_stats(e->d, &st);
        assert_int_equal(st.acks_sent, 1);
    }
    /* the same conference EKTKey for both */
    assert_true(sim_ekt_same(&s->ep[0].ekt[0], &s->ep[1].ekt[0]));
    /* different hop keys for the two hops */
    assert_memory_not_equal(s->md[0].keys[0].client_write_key, s->md[0].keys[1].client_write_key,
                            16);
    ci = sim_conf(s, CONF);
    assert_int_equal(ci.members, 2);
    assert_int_equal(ci.announced, 0);
    assert_true(ci.has_current);
    assert_int_equal(ci.current_spi, s->ep[0].ekt[0].spi);
    assert_false(ci.has_previous);
    assert_int_equal(ci.rekeys, 0);
    assert_true(ci.open);
    assert_int_equal(sim_count_ev(s, PERC_KMF_EV_ADMITTED), 2);
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_ADMITTED);
    assert_string_equal(ev->conference, CONF);
    assert_true(ev->has_id);
    assert_int_equal(ev->spi, ci.current_spi);
    assert_int_equal(ev->profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(s->md[0].n_kd_disconnect[0] + s->md[0].n_kd_disconnect[1], 0);
    assert_true(sim_log_has(s, "participant 'alice' admitted to conference 'conf-1'"));
    assert_true(sim_log_has(s, "profile 0x0009, EKT cipher aeskw_128, SPI"));

    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.admitted, 2);
    assert_int_equal(st.media_keys_sent, 2);
    assert_int_equal(st.ekt_keys_sent, 2);
    assert_int_equal(st.associations, 2);
    assert_int_equal(st.conferences, 1);
    assert_int_equal(st.participants, 2);
    assert_int_equal(st.tunnels, 1);
    /* nothing left to do but wait for the TTL */
    assert_int_equal(perc_kmf_next_timeout(s->kmf), ci.rekey_at_ns);
    sim_delete(s);
}

/* ---- (2) the roster ------------------------------------------------------ */

/* Refusals at the ClientHello (tls-id) come with access_denied (49), those
 * at the certificate (fingerprint, policy) with handshake_failure (40):
 * OpenSSL's alert for a failed certificate verification callback. */
#define ALERT_AT_HELLO 49
#define ALERT_AT_CERT 40

static void assert_refused_by_kmf(const sim *s, int ep, int alert, const char *log_text)
{
    const sim_ep *e = &s->ep[ep];
    assert_int_equal(sim_ep_state(s, ep), PERC_DTLS_FAILED);
    assert_int_equal(e->n_connected, 0);
    assert_int_equal(e->closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(e->closed.alert, alert);
    assert_int_equal(s->md[e->md].n_install[ep], 0);
    assert_int_equal(s->md[e->md].n_kd_disconnect[ep], 1);
    assert_int_equal(e->n_ekt, 0);
    assert_true(sim_log_has(s, log_text));
    assert_true(assoc_gone(s, ep));
}

static void test_roster_refuses(void **state)
{
    (void)state;
    sim *s = sim_basic(2);
    int alice = sim_add_ep(s, 0, "alice");
    int mallory = sim_add_ep(s, 0, "mallory");
    int bob = sim_add_ep(s, 0, "bob");
    perc_kmf_roster_entry roster[2];
    memset(roster, 0, sizeof roster);
    roster[0].identity = "alice";
    roster[1].identity = "bob";
    assert_int_equal(perc_kmf_set_roster(s->kmf, CONF, roster, 2, s->now), PERC_OK);

    sim_join(s, alice, CONF);
    assert_int_equal(sim_ep_state(s, alice), PERC_DTLS_CONNECTED);

    /* signaling is told no */
    assert_int_equal(sim_announce(s, mallory, CONF), PERC_OK);
    assert_false(s->ep[mallory].ans.allowed);
    assert_string_equal(s->ep[mallory].ans.reason,
                        "identity 'mallory' is not on the roster of conference 'conf-1'");
    assert_int_equal(s->ep[mallory].ans.tls_id_len, 0);
    assert_true(sim_log_has(s, "is not on the roster of conference 'conf-1'"));
    /* and an endpoint trying anyway (with someone's tls-id of ours) is
     * refused at its ClientHello: nobody announced its tls-id */
    memcpy(&s->ep[mallory].ans, &s->ep[alice].ans, sizeof s->ep[mallory].ans);
    sim_ep_start(s, mallory);
    sim_pump(s);
    assert_refused_by_kmf(s, mallory, ALERT_AT_HELLO, "tls-id not announced");

    /* bob is announced while on the roster, then taken off it before his
     * handshake: refused inside the handshake (the endpoint sees the
     * alert), reason logged, MD told, no keys */
    assert_int_equal(sim_announce(s, bob, CONF), PERC_OK);
    assert_true(s->ep[bob].ans.allowed);
    roster[1].identity = "carol";
    assert_int_equal(perc_kmf_set_roster(s->kmf, CONF, roster, 2, s->now), PERC_OK);
    sim_ep_start(s, bob);
    sim_pump(s);
    assert_refused_by_kmf(s, bob, ALERT_AT_CERT,
                          "identity 'bob' is not on the roster of conference 'conf-1'");
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_REFUSED);
    assert_string_equal(ev->identity, "bob");
    assert_string_equal(ev->reason, "identity 'bob' is not on the roster of conference 'conf-1'");
    /* alice stays, and no re-key was needed: bob never held the key */
    assert_int_equal(sim_ep_state(s, alice), PERC_DTLS_CONNECTED);
    assert_int_equal(s->ep[alice].n_ekt, 1);
    assert_int_equal(sim_conf(s, CONF).members, 1);

    /* a roster entry by fingerprint only */
    int dave = sim_add_ep(s, 0, "dave");
    perc_kmf_roster_entry byfp[2];
    memset(byfp, 0, sizeof byfp);
    byfp[0].identity = "alice";
    byfp[1].has_fingerprint = true;
    memcpy(byfp[1].fingerprint, s->ep[dave].fp, PERC_DTLS_FINGERPRINT_LEN);
    assert_int_equal(perc_kmf_set_roster(s->kmf, CONF, byfp, 2, s->now), PERC_OK);
    sim_join(s, dave, CONF);
    assert_int_equal(sim_ep_state(s, dave), PERC_DTLS_CONNECTED);
    /* an identity entry with a fingerprint: both must match */
    byfp[1].identity = "dave";
    byfp[1].fingerprint[0] ^= 1;
    assert_int_equal(perc_kmf_set_roster(s->kmf, CONF, byfp, 2, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(sim_ep_state(s, dave), PERC_DTLS_CLOSED); /* removed: close_notify */
    assert_int_equal(s->ep[dave].closed.reason, PERC_DTLS_REASON_PEER_CLOSE);
    assert_true(sim_log_has(
        s, "identity 'dave' is on the roster of conference 'conf-1' with another certificate"));
    /* dave held the key: alice got a new one */
    assert_int_equal(s->ep[alice].n_ekt, 2);
    assert_int_not_equal(s->ep[alice].ekt[1].spi, s->ep[alice].ekt[0].spi);

    /* open again: anyone */
    assert_int_equal(perc_kmf_set_open(s->kmf, CONF, s->now), PERC_OK);
    assert_true(sim_conf(s, CONF).open);
    assert_true(sim_count_ev(s, PERC_KMF_EV_REFUSED) >= 1);
    sim_delete(s);
}

/* ---- (3) tls-id or fingerprint not as announced --------------------------- */

static void test_tls_id_or_fingerprint_mismatch(void **state)
{
    (void)state;
    sim *s = sim_basic(5);
    int a = sim_add_ep(s, 0, "alice");
    int imp = sim_add_ep(s, 0, "alice"); /* another certificate */
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);

    /* an endpoint sending a tls-id nobody announced */
    int other = sim_add_ep(s, 0, "alice");
    s->ep[other].ans = s->ep[a].ans;
    sim_ep_start(s, other);
    sim_pump(s);
    assert_refused_by_kmf(s, other, ALERT_AT_HELLO, "tls-id not announced");
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_REFUSED);
    assert_non_null(ev);
    assert_string_equal(ev->reason, "tls-id not announced");
    assert_string_equal(ev->conference, "");

    /* alice's tls-id with another certificate */
    memcpy(s->ep[imp].tls_id, s->ep[a].tls_id, sizeof s->ep[imp].tls_id);
    s->ep[imp].ans = s->ep[a].ans;
    sim_ep_start(s, imp);
    sim_pump(s);
    assert_refused_by_kmf(s, imp, ALERT_AT_CERT,
                          "certificate fingerprint does not match the one signaled for 'alice'");
    ev = sim_last_ev(s, PERC_KMF_EV_REFUSED);
    assert_string_equal(ev->conference, CONF);
    assert_string_equal(ev->identity, "alice");

    /* the announcement survived: the real alice still gets in */
    sim_ep_start(s, a);
    sim_pump(s);
    assert_int_equal(sim_ep_state(s, a), PERC_DTLS_CONNECTED);
    assert_media_keys(s, 0, a);
    assert_int_equal(s->ep[a].n_ekt, 1);

    /* the tls-id is now in use: announcing it again is refused */
    perc_kmf_answer ans;
    assert_int_equal(perc_kmf_announce(s->kmf, CONF, "x", s->ep[imp].fp,
                                       (const uint8_t *)s->ep[a].tls_id, strlen(s->ep[a].tls_id),
                                       s->now, &ans),
                     PERC_OK);
    assert_false(ans.allowed);
    assert_string_equal(ans.reason, "tls-id already in use by another participant");
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.admitted, 1);
    sim_delete(s);
}

/* The endpoint checks our tls-id too (RFC 9185 §5.1): it expects the one
 * its answer carried. */
static void test_endpoint_checks_kmf_tls_id(void **state)
{
    (void)state;
    sim *s = sim_basic(6);
    int a = sim_add_ep(s, 0, "alice");
    int b = sim_add_ep(s, 0, "bob");
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);
    assert_int_equal(sim_announce(s, b, CONF), PERC_OK);
    /* alice was given bob's answer by a confused signaling server */
    s->ep[a].ans = s->ep[b].ans;
    sim_ep_start(s, a);
    sim_pump(s);
    assert_int_equal(sim_ep_state(s, a), PERC_DTLS_FAILED);
    assert_int_equal(s->ep[a].closed.reason, PERC_DTLS_REASON_TLS_ID);
    assert_int_equal(s->md[0].n_install[a], 0);
    assert_int_equal(s->md[0].n_kd_disconnect[a], 1);
    /* the KMF saw a failed handshake: bob's announcement is untouched */
    assert_true(sim_log_has(s, "DTLS peer_alert"));
    sim_ep_start(s, b);
    sim_pump(s);
    assert_int_equal(sim_ep_state(s, b), PERC_DTLS_CONNECTED);
    sim_delete(s);
}

/* ---- (4) (5) (6) a member goes: re-key ------------------------------------- */

static void assert_rekeyed_after(sim *s, int stays, const perc_ekt_key_msg *old, int gone)
{
    const perc_ekt_key_msg *now = sim_last_ekt(s, stays);
    assert_non_null(now);
    assert_int_not_equal(now->spi, old->spi);
    assert_memory_not_equal(now->key, old->key, old->key_len);
    assert_memory_not_equal(now->salt, old->salt, old->salt_len);
    perc_kmf_association_info ai = assoc_info(s, stays);
    assert_true(ai.acked);
    assert_int_equal(ai.spi_acked, now->spi);
    perc_kmf_conference_info ci = sim_conf(s, CONF);
    assert_int_equal(ci.members, 1);
    assert_int_equal(ci.current_spi, now->spi);
    assert_true(ci.has_previous);
    assert_int_equal(ci.previous_spi, old->spi);
    assert_int_equal(ci.rekeys, 1);
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_REKEYED);
    assert_non_null(ev);
    assert_int_equal(ev->spi, now->spi);
    assert_int_equal(ev->n, 1);
    assert_string_equal(ev->conference, CONF);
    /* the departed is forgotten */
    assert_true(assoc_gone(s, gone));
    assert_int_equal(s->ep[gone].n_ekt, 1); /* it never saw the new key */
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.participants, 1);
    assert_int_equal(st.associations, 1);
    const sim_ev *left = sim_last_ev(s, PERC_KMF_EV_LEFT);
    assert_non_null(left);
    assert_string_equal(left->identity, s->ep[gone].identity);
    assert_true(left->has_id);
    assert_true(perc_uuid_equal(&left->id, &s->ep[gone].assoc));
}

static void test_leave_rekeys(void **state)
{
    (void)state;
    sim *s = sim_two_members(7);
    perc_ekt_key_msg old = s->ep[0].ekt[0];
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    /* EndpointDisconnect to the MD, close_notify to bob */
    assert_int_equal(s->md[0].n_kd_disconnect[1], 1);
    assert_int_equal(s->md[0].n_kd_disconnect[0], 0);
    assert_int_equal(sim_ep_state(s, 1), PERC_DTLS_CLOSED);
    assert_int_equal(s->ep[1].closed.reason, PERC_DTLS_REASON_PEER_CLOSE);
    assert_rekeyed_after(s, 0, &old, 1);
    assert_true(sim_log_has(s, "participant 'bob' left conference 'conf-1'"));
    assert_true(sim_log_has(s, "re-keyed ('bob' left)"));
    /* leaving again: nobody left by that name */
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_kmf_leave(s->kmf, "nope", "bob", NULL, 0, s->now), PERC_ERR_NOT_FOUND);
    /* by tls-id */
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, NULL, (const uint8_t *)s->ep[0].tls_id,
                                    strlen(s->ep[0].tls_id), s->now),
                     PERC_OK);
    sim_pump(s);
    assert_int_equal(s->md[0].n_kd_disconnect[0], 1);
    /* the last member left: the conference, made by an announcement, is
     * gone with its keys */
    perc_kmf_conference_info ci;
    assert_int_equal(perc_kmf_conference_info_get(s->kmf, CONF, &ci), PERC_ERR_NOT_FOUND);
    assert_true(sim_log_has(s, "conference 'conf-1' has nobody left: its keys are wiped"));
    sim_delete(s);
}

static void test_md_disconnect_rekeys(void **state)
{
    (void)state;
    sim *s = sim_two_members(8);
    perc_ekt_key_msg old = s->ep[0].ekt[0];
    assert_int_equal(perc_tunnel_md_endpoint_gone(s->md[0].md, 1), PERC_OK);
    sim_pump(s);
    /* the MD reported it: no EndpointDisconnect back */
    assert_int_equal(s->md[0].n_kd_disconnect[1], 0);
    assert_rekeyed_after(s, 0, &old, 1);
    assert_true(sim_log_has(s, "Media Distributor reported the endpoint gone"));
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_ASSOCIATION_ENDED);
    assert_non_null(ev);
    assert_string_equal(ev->identity, "bob");
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.endpoint_disconnects_sent, 0);
    sim_delete(s);
}

static void test_dtls_close_rekeys(void **state)
{
    (void)state;
    sim *s = sim_two_members(9);
    perc_ekt_key_msg old = s->ep[0].ekt[0];
    assert_int_equal(perc_dtls_close(s->ep[1].d, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(s->md[0].n_kd_disconnect[1], 1);
    assert_rekeyed_after(s, 0, &old, 1);
    assert_true(sim_log_has(s, "peer sent close_notify"));
    sim_delete(s);
}

/* A fatal alert from the endpoint (it refuses an EKTKey) ends it too. */
static void test_dtls_failure_rekeys(void **state)
{
    (void)state;
    sim *s = sim_two_members(10);
    s->ep[1].refuse_ekt = true;
    assert_int_equal(perc_kmf_rekey(s->kmf, CONF, s->now), PERC_OK);
    sim_pump(s);
    /* bob answered the requested re-key with an alert: his association
     * failed, the MD was told, and alice got yet another set */
    assert_int_equal(sim_ep_state(s, 1), PERC_DTLS_FAILED);
    assert_int_equal(s->ep[1].closed.reason, PERC_DTLS_REASON_EKT);
    assert_int_equal(s->md[0].n_kd_disconnect[1], 1);
    assert_true(assoc_gone(s, 1));
    assert_int_equal(s->ep[0].n_ekt, 3);
    assert_int_not_equal(s->ep[0].ekt[2].spi, s->ep[0].ekt[1].spi);
    assert_int_equal(sim_conf(s, CONF).members, 1);
    assert_int_equal(sim_conf(s, CONF).rekeys, 2);
    assert_true(sim_log_has(s, "DTLS peer_alert"));
    assert_true(sim_log_has(s, "re-keyed ('bob' left)"));
    sim_delete(s);
}

/* ---- (7) TTL, rekey_on_join, old set wiped ------------------------------- */

static void test_ttl_rekey_and_window(void **state)
{
    (void)state;
    sim *s = sim_new(11);
    s->cfg.ekt_ttl_s = 100;
    s->cfg.key_change_window_ns = 5 * SIM_SECOND;
    sim_start(s);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    sim_add_ep(s, 0, "alice");
    sim_add_ep(s, 0, "bob");
    sim_join(s, 0, CONF);
    uint64_t t0 = s->now;
    assert_int_equal(s->ep[0].ekt[0].ttl_s, 100);
    /* bob joins 30 s later: the TTL he is given is what is left */
    sim_advance(s, t0 + 30 * SIM_SECOND);
    sim_join(s, 1, CONF);
    assert_int_equal(s->ep[1].ekt[0].ttl_s, 70);
    assert_true(sim_ekt_same(&s->ep[0].ekt[0], &s->ep[1].ekt[0]));
    perc_kmf_conference_info ci = sim_conf(s, CONF);
    assert_int_equal(ci.rekey_at_ns, t0 + 90 * SIM_SECOND);
    /* nothing before 90 % of the TTL */
    sim_advance(s, t0 + 89 * SIM_SECOND);
    assert_int_equal(s->ep[0].n_ekt, 1);
    sim_advance(s, t0 + 90 * SIM_SECOND);
    assert_int_equal(s->ep[0].n_ekt, 2);
    assert_int_equal(s->ep[1].n_ekt, 2);
    assert_true(sim_ekt_same(&s->ep[0].ekt[1], &s->ep[1].ekt[1]));
    assert_int_not_equal(s->ep[0].ekt[1].spi, s->ep[0].ekt[0].spi);
    assert_int_equal(s->ep[0].ekt[1].ttl_s, 100);
    assert_true(sim_log_has(s, "re-keyed (EKTKey TTL nearly over)"));
    ci = sim_conf(s, CONF);
    assert_true(ci.has_previous);
    assert_int_equal(ci.previous_spi, s->ep[0].ekt[0].spi);
    assert_int_equal(ci.previous_wipe_at_ns, t0 + 95 * SIM_SECOND);
    /* the superseded set is wiped when the window ends */
    sim_advance(s, t0 + 95 * SIM_SECOND - 1);
    assert_true(sim_conf(s, CONF).has_previous);
    sim_advance(s, t0 + 95 * SIM_SECOND);
    ci = sim_conf(s, CONF);
    assert_false(ci.has_previous);
    assert_int_equal(ci.previous_spi, 0);
    assert_true(sim_log_has(s, "superseded parameter set SPI"));
    /* and again at the next 90 % */
    sim_advance(s, t0 + 180 * SIM_SECOND);
    assert_int_equal(s->ep[0].n_ekt, 3);
    assert_int_equal(sim_conf(s, CONF).rekeys, 2);
    /* SPIs count up, never repeat */
    assert_int_equal((uint16_t)(s->ep[0].ekt[1].spi - s->ep[0].ekt[0].spi), 1);
    assert_int_equal((uint16_t)(s->ep[0].ekt[2].spi - s->ep[0].ekt[1].spi), 1);
    sim_delete(s);
}

static void test_rekey_on_join(void **state)
{
    (void)state;
    sim *s = sim_new(12);
    s->cfg.rekey_on_join = true;
    sim_start(s);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    sim_add_ep(s, 0, "alice");
    sim_add_ep(s, 0, "bob");
    sim_add_ep(s, 0, "carol");
    sim_join(s, 0, CONF);
    assert_int_equal(s->ep[0].n_ekt, 1); /* first member: no re-key */
    assert_int_equal(sim_conf(s, CONF).rekeys, 0);
    sim_join(s, 1, CONF);
    /* bob gets only the new set; alice gets it too */
    assert_int_equal(s->ep[1].n_ekt, 1);
    assert_int_equal(s->ep[0].n_ekt, 2);
    assert_true(sim_ekt_same(&s->ep[0].ekt[1], &s->ep[1].ekt[0]));
    assert_int_not_equal(s->ep[1].ekt[0].spi, s->ep[0].ekt[0].spi);
    assert_memory_not_equal(s->ep[1].ekt[0].key, s->ep[0].ekt[0].key, 16);
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_REKEYED);
    assert_non_null(ev);
    assert_int_equal(ev->n, 2);
    assert_string_equal(ev->reason, "'bob' joined");
    sim_join(s, 2, CONF);
    assert_int_equal(s->ep[2].n_ekt, 1);
    assert_int_equal(s->ep[0].n_ekt, 3);
    assert_int_equal(s->ep[1].n_ekt, 2);
    assert_true(sim_ekt_same(&s->ep[0].ekt[2], &s->ep[2].ekt[0]));
    assert_int_equal(sim_conf(s, CONF).rekeys, 2);
    for (int i = 0; i < 3; i++)
        assert_true(assoc_info(s, i).acked);
    sim_delete(s);
}

/* The last member goes: the set is retired (kept for the window) in an
 * explicit conference; the next member gets a fresh one. */
static void test_last_member_retires_set(void **state)
{
    (void)state;
    sim *s = sim_basic(13);
    assert_int_equal(perc_kmf_conference_create(s->kmf, CONF, s->now), PERC_OK);
    sim_add_ep(s, 0, "alice");
    sim_add_ep(s, 0, "bob");
    sim_join(s, 0, CONF);
    uint16_t spi0 = s->ep[0].ekt[0].spi;
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "alice", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    perc_kmf_conference_info ci = sim_conf(s, CONF);
    assert_true(ci.explicit_conference);
    assert_int_equal(ci.members, 0);
    assert_false(ci.has_current);
    assert_true(ci.has_previous);
    assert_int_equal(ci.previous_spi, spi0);
    assert_true(sim_log_has(s, "no member left, parameter set SPI"));
    sim_advance(s, s->now + PERC_KMF_DEFAULT_KEY_CHANGE_WINDOW_NS);
    assert_false(sim_conf(s, CONF).has_previous);
    sim_join(s, 1, CONF);
    assert_int_equal(s->ep[1].n_ekt, 1);
    assert_int_not_equal(s->ep[1].ekt[0].spi, spi0);
    assert_memory_not_equal(s->ep[1].ekt[0].key, s->ep[0].ekt[0].key, 16);
    /* an explicit re-key request */
    assert_int_equal(perc_kmf_rekey(s->kmf, CONF, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(s->ep[1].n_ekt, 2);
    assert_true(sim_log_has(s, "re-keyed (requested)"));
    /* removing the conference ends its members */
    assert_int_equal(perc_kmf_conference_remove(s->kmf, CONF, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(sim_ep_state(s, 1), PERC_DTLS_CLOSED);
    assert_int_equal(s->md[0].n_kd_disconnect[1], 1);
    assert_int_equal(perc_kmf_conference_info_get(s->kmf, CONF, &ci), PERC_ERR_NOT_FOUND);
    assert_true(sim_log_has(s, "conference 'conf-1' removed: its keys are wiped"));
    assert_int_equal(perc_kmf_rekey(s->kmf, CONF, s->now), PERC_ERR_NOT_FOUND);
    sim_delete(s);
}

/* ---- (8) profiles ---------------------------------------------------------- */

static void test_profile_intersection(void **state)
{
    (void)state;
    static const uint16_t only_256[] = {PERC_PROFILE_DOUBLE_AES_256_GCM};
    static const uint16_t single[] = {PERC_PROFILE_AEAD_AES_128_GCM};
    sim *s = sim_new(14);
    s->cfg.ekt_cipher = PERC_EKT_CIPHER_AESKW_256;
    sim_start(s);
    sim_add_md(s, only_256, 1, "md-256");
    sim_add_md(s, single, 1, "md-single");
    sim_md_connect(s, 0);
    sim_md_connect(s, 1);
    sim_pump(s);
    assert_true(sim_log_has(s, "Media Distributor offers profiles 0x000A"));
    int a = sim_add_ep(s, 0, "alice"); /* offers 0x0009 first, then 0x000A */
    sim_join(s, a, CONF);
    assert_int_equal(sim_ep_state(s, a), PERC_DTLS_CONNECTED);
    assert_int_equal(s->ep[a].profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_media_keys(s, 0, a);
    assert_int_equal(s->md[0].keys[a].key_len, 32);
    assert_int_equal(s->ep[a].ekt[0].key_len, 32);
    assert_int_equal(assoc_info(s, a).profile, PERC_PROFILE_DOUBLE_AES_256_GCM);

    /* nothing in common with the other MD: refused, MD told, no keys */
    int b = sim_add_ep(s, 1, "bob");
    sim_join(s, b, CONF);
    assert_int_equal(sim_ep_state(s, b), PERC_DTLS_HANDSHAKING); /* never answered */
    assert_int_equal(s->md[1].n_kd_disconnect[b], 1);
    assert_int_equal(s->md[1].n_install[b], 0);
    assert_true(sim_log_has(s, "offers no SRTP profile in common with ours"));
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_REFUSED);
    assert_non_null(ev);
    assert_int_equal(ev->conn, s->md[1].conn);

    /* an endpoint offering 0x0009 only, through the 0x000A-only MD (in a
     * conference of its own: alice's would require 0x000A anyway) */
    int c = sim_add_ep(s, 0, "carol");
    s->ep[c].cfg.n_srtp_profiles = 1;
    sim_join(s, c, "conf-3");
    assert_int_equal(sim_ep_state(s, c), PERC_DTLS_FAILED);
    assert_int_equal(s->ep[c].closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(s->md[0].n_install[c], 0);
    assert_int_equal(s->md[0].n_kd_disconnect[c], 1);
    assert_true(sim_log_has(s, "no common double SRTP profile"));
    sim_delete(s);
}

static void prefer_256(sim *s, int i)
{
    s->ep[i].cfg.srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    s->ep[i].cfg.srtp_profiles[1] = PERC_PROFILE_DOUBLE_AES_128_GCM;
}

/* Every member of a conference gets the profile its first member chose
 * (a receiver takes only EKT keys of its own length, RFC 8870 §4.3.2);
 * one who did not offer it is refused before any key; other conferences
 * and a conference whose members all left choose afresh. */
static void test_conference_keeps_one_profile(void **state)
{
    (void)state;
    sim *s = sim_basic(21);
    assert_int_equal(perc_kmf_conference_create(s->kmf, CONF, s->now), PERC_OK);
    int a = sim_add_ep(s, 0, "alice");
    prefer_256(s, a);
    sim_join(s, a, CONF);
    assert_int_equal(s->ep[a].profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    /* the EKT cipher follows the profile (RFC 8870 §6), though the KMF's
     * configured one is aeskw_128 and alice prefers that */
    assert_int_equal(s->cfg.ekt_cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(s->ep[a].cipher, PERC_EKT_CIPHER_AESKW_256);
    assert_int_equal(s->ep[a].ekt[0].key_len, 32);
    assert_int_equal(sim_conf(s, CONF).ekt_cipher, PERC_EKT_CIPHER_AESKW_256);

    int b = sim_add_ep(s, 0, "bob"); /* prefers 0x0009, offers both */
    sim_join(s, b, CONF);
    assert_int_equal(sim_ep_state(s, b), PERC_DTLS_CONNECTED);
    assert_int_equal(s->ep[b].profile, PERC_PROFILE_DOUBLE_AES_256_GCM);
    assert_int_equal(s->ep[b].cipher, PERC_EKT_CIPHER_AESKW_256);
    assert_true(sim_ekt_same(&s->ep[b].ekt[0], &s->ep[a].ekt[s->ep[a].n_ekt - 1]));
    assert_media_keys(s, 0, b);
    assert_int_equal(s->md[0].keys[b].key_len, 32);
    assert_true(sim_log_has(s, "participant 'bob' admitted to conference 'conf-1' "));
    assert_true(sim_log_has(s, "profile 0x000A, EKT cipher aeskw_256, SPI"));

    /* offers the profile but not the conference's EKT cipher: refused
     * after the handshake, before any key */
    int f = sim_add_ep(s, 0, "frank");
    s->ep[f].cfg.n_ekt_ciphers = 1; /* aeskw_128 only */
    sim_join(s, f, CONF);
    assert_int_equal(s->ep[f].cipher, 0);
    assert_int_equal(s->md[0].n_install[f], 0);
    assert_int_equal(s->ep[f].n_ekt, 0);
    assert_true(sim_log_has(s, "endpoint does not support the EKT cipher aeskw_256"));

    int c = sim_add_ep(s, 0, "carol"); /* 0x0009 only */
    s->ep[c].cfg.n_srtp_profiles = 1;
    sim_join(s, c, CONF);
    assert_int_equal(sim_ep_state(s, c), PERC_DTLS_FAILED);
    assert_int_equal(s->ep[c].closed.reason, PERC_DTLS_REASON_PEER_ALERT);
    assert_int_equal(s->ep[c].closed.alert, 40); /* handshake_failure */
    assert_int_equal(s->md[0].n_install[c], 0);
    assert_int_equal(s->md[0].n_kd_disconnect[c], 1);
    assert_true(sim_log_has(s, "the endpoint did not offer SRTP profile 0x000A, which the "
                               "members of its conference use"));
    assert_int_equal(sim_conf(s, CONF).members, 2);

    /* another conference is not bound by this one */
    int d = sim_add_ep(s, 0, "dave");
    sim_join(s, d, "conf-2");
    assert_int_equal(s->ep[d].profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(s->ep[d].cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(s->ep[d].ekt[0].key_len, 16);

    /* everyone gone: the next member chooses again */
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "alice", NULL, 0, s->now), PERC_OK);
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(sim_conf(s, CONF).members, 0);
    int e = sim_add_ep(s, 0, "erin");
    sim_join(s, e, CONF);
    assert_int_equal(sim_ep_state(s, e), PERC_DTLS_CONNECTED);
    assert_int_equal(s->ep[e].profile, PERC_PROFILE_DOUBLE_AES_128_GCM);
    assert_int_equal(s->ep[e].cipher, PERC_EKT_CIPHER_AESKW_128);
    assert_int_equal(s->ep[e].ekt[0].key_len, 16);
    sim_check_no_secrets(s);
    sim_delete(s);
}

/* Two first members handshaking at once both choose freely at their
 * ClientHellos; whichever finishes second with the other profile is
 * refused (and may join again), so the conference still has one. */
static void test_concurrent_first_members(void **state)
{
    (void)state;
    sim *s = sim_basic(22);
    int a = sim_add_ep(s, 0, "alice");
    int b = sim_add_ep(s, 0, "bob");
    prefer_256(s, a);
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);
    assert_int_equal(sim_announce(s, b, CONF), PERC_OK);
    sim_ep_start(s, a);
    sim_ep_start(s, b);
    sim_pump(s);
    int first = s->md[0].n_install[a] ? a : b, second = first == a ? b : a;
    assert_int_equal(s->md[0].n_install[first], 1);
    assert_int_equal(s->md[0].n_install[second], 0);
    assert_int_equal(s->md[0].n_kd_disconnect[second], 1);
    assert_true(sim_log_has(s, "(a concurrent first join); the endpoint may join again"));
    assert_int_equal(sim_conf(s, CONF).members, 1);
    /* joining again (new DTLS, same preferences), it gets the
     * conference's profile */
    int again = sim_add_ep(s, 0, s->ep[second].identity);
    s->ep[again].cfg = s->ep[second].cfg;
    sim_join(s, again, CONF);
    assert_int_equal(sim_ep_state(s, again), PERC_DTLS_CONNECTED);
    assert_int_equal(s->ep[again].profile, s->ep[first].profile);
    assert_int_equal(sim_conf(s, CONF).members, 2);
    sim_delete(s);
}

/* An endpoint that does not offer the conference's EKT cipher. */
static void test_ekt_cipher_mismatch(void **state)
{
    (void)state;
    sim *s = sim_basic(15);
    int a = sim_add_ep(s, 0, "alice");
    s->ep[a].cfg.ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_256;
    s->ep[a].cfg.n_ekt_ciphers = 1;
    sim_join(s, a, CONF);
    assert_int_equal(s->ep[a].n_connected, 1);
    assert_int_equal(s->ep[a].cipher, 0);
    assert_int_equal(sim_ep_state(s, a), PERC_DTLS_CLOSED); /* closed by the KMF */
    assert_int_equal(s->md[0].n_install[a], 0);             /* before any MediaKeys */
    assert_int_equal(s->md[0].n_kd_disconnect[a], 1);
    assert_true(sim_log_has(s, "endpoint does not support the EKT cipher aeskw_128"));
    sim_delete(s);
}

/* ---- (11) announcements expire ------------------------------------------- */

static void test_announcement_expiry(void **state)
{
    (void)state;
    sim *s = sim_basic(16);
    int a = sim_add_ep(s, 0, "alice");
    int b = sim_add_ep(s, 0, "bob");
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);
    uint64_t t0 = s->now;
    assert_int_equal(perc_kmf_next_timeout(s->kmf), t0 + PERC_KMF_DEFAULT_ANNOUNCE_LIFETIME_NS);
    sim_advance(s, t0 + 30 * SIM_SECOND);
    assert_int_equal(sim_announce(s, b, CONF), PERC_OK);
    /* a refresh renews the lifetime */
    sim_advance(s, t0 + 59 * SIM_SECOND);
    char first[PERC_KMF_TLS_ID_LEN + 1];
    memcpy(first, s->ep[a].ans.tls_id, sizeof first);
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);
    assert_string_equal(s->ep[a].ans.tls_id, first); /* same tls-id of ours */
    sim_advance(s, t0 + 90 * SIM_SECOND);
    assert_int_equal(sim_count_ev(s, PERC_KMF_EV_ANNOUNCEMENT_EXPIRED), 1); /* bob */
    assert_string_equal(sim_last_ev(s, PERC_KMF_EV_ANNOUNCEMENT_EXPIRED)->identity, "bob");
    assert_true(sim_log_has(s, "announcement of 'bob' for conference 'conf-1' expired"));
    assert_int_equal(sim_conf(s, CONF).announced, 1);
    /* bob's handshake now is refused */
    sim_ep_start(s, b);
    sim_pump(s);
    assert_refused_by_kmf(s, b, ALERT_AT_HELLO, "tls-id not announced");
    sim_advance(s, t0 + 119 * SIM_SECOND);
    assert_int_equal(sim_count_ev(s, PERC_KMF_EV_ANNOUNCEMENT_EXPIRED), 2);
    /* nobody left: the conference went with the announcements */
    perc_kmf_conference_info ci;
    assert_int_equal(perc_kmf_conference_info_get(s->kmf, CONF, &ci), PERC_ERR_NOT_FOUND);
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.announcements_expired, 2);
    assert_int_equal(st.participants, 0);
    assert_int_equal(perc_kmf_next_timeout(s->kmf), UINT64_MAX);
    sim_delete(s);
}

/* A handshake that never completes is ended at the handshake timeout; the
 * announcement is kept (expiring on its own). */
static void test_handshake_timeout(void **state)
{
    (void)state;
    sim *s = sim_new(17);
    s->cfg.handshake_timeout_ns = 5 * SIM_SECOND;
    sim_start(s);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    int a = sim_add_ep(s, 0, "alice");
    assert_int_equal(sim_announce(s, a, CONF), PERC_OK);
    sim_ep_start(s, a);
    /* only the ClientHello gets through */
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    size_t len;
    assert_int_equal(perc_dtls_pull(s->ep[a].d, buf, sizeof buf, &len), PERC_OK);
    assert_int_equal(perc_tunnel_md_dtls_from_endpoint(s->md[0].md, 0, buf, len, &s->ep[a].assoc),
                     PERC_OK);
    s->ep[a].has_assoc = true;
    uint8_t tbuf[8192];
    assert_int_equal(perc_tunnel_md_pending_send(s->md[0].md, tbuf, sizeof tbuf, &len), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_recv(s->kmf, s->md[0].conn, tbuf, len, s->now), PERC_OK);
    assert_int_equal(assoc_info(s, a).state, PERC_KMF_ASSOC_HANDSHAKING);
    perc_dtls_free(s->ep[a].d); /* the endpoint vanishes */
    s->ep[a].d = NULL;
    sim_pump(s);
    sim_advance(s, s->now + 5 * SIM_SECOND);
    assert_true(assoc_gone(s, a));
    assert_int_equal(s->md[0].n_kd_disconnect[a], 1);
    assert_true(sim_log_has(s, "DTLS handshake not completed within 5000 ms"));
    assert_int_equal(sim_conf(s, CONF).announced, 1);
    sim_delete(s);
}

/* ---- (12) no secret in any log line --------------------------------------- */

static void test_no_secret_in_logs(void **state)
{
    (void)state;
    /* Everything at DEBUG level: joins, refusals, re-keys of every kind,
     * leaves; then the log is searched for every key, salt and keying
     * octet string any side saw (sim_free does the search). */
    sim *s = sim_new(18);
    s->cfg.rekey_on_join = true;
    s->cfg.ekt_ttl_s = 50;
    sim_start(s);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        sim_add_ep(s, 0, name);
    }
    /* user3 on 0x000A, in a conference of its own (one profile each) */
    s->ep[3].cfg.srtp_profiles[0] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    s->ep[3].cfg.n_srtp_profiles = 1;
    for (int i = 0; i < 4; i++)
        sim_join(s, i, i == 3 ? "conf-2" : CONF);
    assert_int_equal(sim_ep_state(s, 3), PERC_DTLS_CONNECTED);
    sim_advance(s, s->now + 60 * SIM_SECOND);
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "user1", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(perc_tunnel_md_endpoint_gone(s->md[0].md, 2), PERC_OK);
    sim_pump(s);
    assert_int_equal(perc_dtls_close(s->ep[3].d, s->now), PERC_OK);
    sim_pump(s);
    sim_advance(s, s->now + 30 * SIM_SECOND);
    assert_true(s->n_secrets > 40);
    assert_true(s->n_log > 30);
    assert_false(sim_log_leaks(s));
    /* the detector works: a line with a salt in hex is caught */
    const sim_secret *x = &s->secrets[s->n_secrets - 1];
    char line[3 * 64];
    for (size_t i = 0; i < x->len; i++)
        sprintf(line + 2 * i, "%02x", x->b[i]);
    size_t keep = s->log_len;
    sim_log_cb(s, PERC_KMF_LOG_INFO, line);
    assert_true(sim_log_leaks(s));
    s->log_len = keep;
    s->log[keep] = '\0';
    sim_delete(s);
}

/* ---- API edges --------------------------------------------------------------- */

static void test_api_arguments(void **state)
{
    (void)state;
    sim *s = sim_new(19);
    perc_kmf *k = NULL;
    perc_kmf_config bad = s->cfg;
    bad.dtls_ctx = NULL;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.random = NULL;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.profiles[0] = PERC_PROFILE_AEAD_AES_128_GCM;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.profiles[1] = bad.profiles[0];
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.ekt_cipher = 3;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.ekt_ttl_s = 0x1000000;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    bad = s->cfg;
    bad.max_associations = 0;
    assert_int_equal(perc_kmf_new(&bad, &k), PERC_ERR_INVALID_ARG);
    assert_null(k);
    sim_start(s);
    /* the default (aeskw_128 with 0x000A offered) is no weakness any more:
     * conferences on 0x000A get aeskw_256 */
    assert_false(sim_log_has(s, "weaker"));

    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN] = {0};
    perc_kmf_answer ans;
    const uint8_t *tid = (const uint8_t *)"abcdefghijklmnopqrstuvwxyz";
    assert_int_equal(perc_kmf_announce(s->kmf, "", "a", fp, tid, 26, s->now, &ans),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_announce(s->kmf, "c\n", "a", fp, tid, 26, s->now, &ans),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_announce(s->kmf, "c", "a\x01", fp, tid, 26, s->now, &ans),
                     PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_announce(s->kmf, "c", "a", fp, tid, 19, s->now, &ans),
                     PERC_ERR_INVALID_ARG); /* too short */
    assert_int_equal(perc_kmf_announce(s->kmf, "c", "a", fp,
                                       (const uint8_t *)"abcdefghij=lmnopqrstuvwxyz", 26, s->now,
                                       &ans),
                     PERC_ERR_INVALID_ARG); /* '=' is not a tls-id-char */
    assert_int_equal(perc_kmf_announce(s->kmf, "c", "a", NULL, tid, 26, s->now, &ans),
                     PERC_ERR_INVALID_ARG);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(perc_kmf_announce(s->kmf, longname, "a", fp, tid, 26, s->now, &ans),
                     PERC_ERR_INVALID_ARG);
    /* anonymous is fine */
    assert_int_equal(perc_kmf_announce(s->kmf, "c", NULL, fp, tid, 26, s->now, &ans), PERC_OK);
    assert_true(ans.allowed);
    assert_int_equal(perc_kmf_leave(s->kmf, "c", NULL, NULL, 0, s->now), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_leave(s->kmf, "c", "", NULL, 0, s->now), PERC_OK);

    perc_kmf_roster_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(perc_kmf_set_roster(s->kmf, "c", &e, 1, s->now), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_set_roster(s->kmf, "c", NULL, 1, s->now), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_set_open(s->kmf, "nope", s->now), PERC_ERR_NOT_FOUND);
    /* an empty roster lets nobody in */
    assert_int_equal(perc_kmf_set_roster(s->kmf, "c", NULL, 0, s->now), PERC_OK);
    assert_int_equal(perc_kmf_announce(s->kmf, "c", NULL, fp, tid, 26, s->now, &ans), PERC_OK);
    assert_false(ans.allowed);
    assert_string_equal(ans.reason,
                        "a participant without identity is not on the roster of conference 'c'");

    uint64_t conn;
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, "bad\tname", s->now, &conn), PERC_ERR_INVALID_ARG);
    assert_int_equal(perc_kmf_tunnel_recv(s->kmf, 77, (const uint8_t *)"x", 1, s->now),
                     PERC_ERR_NOT_FOUND);
    size_t len;
    uint8_t buf[8];
    assert_int_equal(perc_kmf_tunnel_pending(s->kmf, 77, buf, sizeof buf, &len),
                     PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_kmf_tunnel_remove(s->kmf, 77, s->now), PERC_ERR_NOT_FOUND);
    perc_kmf_tunnel_info ti;
    assert_int_equal(perc_kmf_tunnel_info_get(s->kmf, 77, &ti), PERC_ERR_NOT_FOUND);
    perc_uuid u;
    memset(&u, 0, sizeof u);
    perc_kmf_association_info ai;
    assert_int_equal(perc_kmf_association_info_get(s->kmf, &u, &ai), PERC_ERR_NOT_FOUND);
    assert_int_equal(perc_kmf_conference_remove(s->kmf, "nope", s->now), PERC_ERR_NOT_FOUND);
    assert_string_equal(perc_kmf_event_name(PERC_KMF_EV_REKEYED), "rekeyed");
    uint8_t mine[PERC_DTLS_FINGERPRINT_LEN], want[PERC_DTLS_FINGERPRINT_LEN];
    perc_kmf_fingerprint(s->kmf, mine);
    perc_dtls_ctx_fingerprint(s->ctx, want);
    assert_memory_equal(mine, want, sizeof want);
    perc_kmf_free(NULL);
    sim_delete(s);
}

/* Limits, the random source failing, and re-entry from a callback. */
static void test_limits_and_failures(void **state)
{
    (void)state;
    sim *s = sim_new(20);
    s->cfg.max_conferences = 1;
    s->cfg.max_participants = 2;
    s->cfg.max_tunnels = 1;
    sim_start(s);
    uint8_t fp[PERC_DTLS_FINGERPRINT_LEN] = {0};
    perc_kmf_answer ans;
    const char *ids[] = {"aaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaaaaaaa3"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            perc_kmf_announce(s->kmf, "c", "a", fp, (const uint8_t *)ids[i], 21, s->now, &ans),
            PERC_OK);
        assert_int_equal(ans.allowed, i < 2);
    }
    assert_string_equal(ans.reason, "conference 'c' is full");
    assert_int_equal(
        perc_kmf_announce(s->kmf, "d", "a", fp, (const uint8_t *)ids[2], 21, s->now, &ans),
        PERC_OK);
    assert_false(ans.allowed);
    assert_string_equal(ans.reason, "too many conferences");
    assert_int_equal(perc_kmf_conference_create(s->kmf, "d", s->now), PERC_ERR_LIMIT);

    /* the random source fails: the announcement fails with it */
    assert_int_equal(perc_kmf_leave(s->kmf, "c", "a", (const uint8_t *)ids[1], 21, s->now),
                     PERC_OK);
    s->random_fails = true;
    assert_int_equal(
        perc_kmf_announce(s->kmf, "c", "a", fp, (const uint8_t *)ids[2], 21, s->now, &ans),
        PERC_ERR_RANDOM);
    assert_false(ans.allowed);
    assert_true(sim_log_has(s, "the random source failed"));
    s->random_fails = false;

    uint64_t c1, c2;
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, NULL, s->now, &c1), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, NULL, s->now, &c2), PERC_ERR_LIMIT);

    /* from inside a callback only queries work */
    s->probe_reentry = true;
    assert_int_equal(perc_kmf_leave(s->kmf, "c", "a", NULL, 0, s->now), PERC_OK);
    assert_int_equal(s->reentry_rc, PERC_ERR_STATE);
    s->probe_reentry = false;
    sim_delete(s);
}

/* A re-key with the random source down is retried a second later. */
static void test_rekey_retry(void **state)
{
    (void)state;
    sim *s = sim_two_members(21);
    s->random_fails = true;
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(s->ep[0].n_ekt, 1);
    assert_true(sim_log_has(s, "re-key ('bob' left) failed"));
    uint64_t t = perc_kmf_next_timeout(s->kmf);
    assert_int_equal(t, s->now + SIM_SECOND);
    s->random_fails = false;
    sim_advance(s, t);
    assert_int_equal(s->ep[0].n_ekt, 2);
    assert_true(sim_log_has(s, "re-keyed ('bob' left)"));
    sim_delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_endpoints_admitted),
        cmocka_unit_test(test_roster_refuses),
        cmocka_unit_test(test_tls_id_or_fingerprint_mismatch),
        cmocka_unit_test(test_endpoint_checks_kmf_tls_id),
        cmocka_unit_test(test_leave_rekeys),
        cmocka_unit_test(test_md_disconnect_rekeys),
        cmocka_unit_test(test_dtls_close_rekeys),
        cmocka_unit_test(test_dtls_failure_rekeys),
        cmocka_unit_test(test_ttl_rekey_and_window),
        cmocka_unit_test(test_rekey_on_join),
        cmocka_unit_test(test_last_member_retires_set),
        cmocka_unit_test(test_profile_intersection),
        cmocka_unit_test(test_conference_keeps_one_profile),
        cmocka_unit_test(test_concurrent_first_members),
        cmocka_unit_test(test_ekt_cipher_mismatch),
        cmocka_unit_test(test_announcement_expiry),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_no_secret_in_logs),
        cmocka_unit_test(test_api_arguments),
        cmocka_unit_test(test_limits_and_failures),
        cmocka_unit_test(test_rekey_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
