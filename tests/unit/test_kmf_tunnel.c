/* The Key Management Function (perc/kmf.h) and its tunnel connections:
 * a connection that fails leaves the others alone, reconnection and
 * adoption of associations (RFC 9185 §5.2), grace periods, owed
 * EndpointDisconnects, version mismatch, datagrams for ended associations,
 * associations moving between connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "perc/kmf.h"
#include "perc/tunnel.h"
#include "test_kmf_sim.h"

#define CONF "conf-1"

static sim *sim_new(uint64_t seed)
{
    sim *s = calloc(1, sizeof *s);
    assert_non_null(s);
    sim_init(s, seed);
    sim_start(s);
    return s;
}

static void sim_delete(sim *s)
{
    sim_free(s);
    free(s);
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

static perc_kmf_tunnel_info tunnel_info(const sim *s, uint64_t conn)
{
    perc_kmf_tunnel_info ti;
    assert_int_equal(perc_kmf_tunnel_info_get(s->kmf, conn, &ti), PERC_OK);
    return ti;
}

/* Writes one tunnel message straight into connection conn, as if its
 * Media Distributor had sent it. */
static int inject(sim *s, uint64_t conn, const perc_tunnel_msg *m)
{
    uint8_t buf[2048];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    assert_int_equal(perc_tunnel_encode(&w, m), PERC_OK);
    size_t len;
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    return perc_kmf_tunnel_recv(s->kmf, conn, buf, len, s->now);
}

/* Every message the KMF queued on conn, decoded (they must all decode). */
static int drain_types(sim *s, uint64_t conn, uint8_t *types, int cap)
{
    uint8_t buf[16384];
    size_t len;
    assert_int_equal(perc_kmf_tunnel_pending(s->kmf, conn, buf, sizeof buf, &len), PERC_OK);
    int n = 0;
    for (size_t off = 0; off < len;) {
        uint8_t type;
        size_t mlen;
        assert_int_equal(perc_tunnel_peek(buf + off, len - off, &type, &mlen), PERC_OK);
        perc_tunnel_msg m;
        assert_int_equal(perc_tunnel_decode(buf + off, mlen, &m), PERC_OK);
        if (n < cap)
            types[n] = type;
        n++;
        off += mlen;
    }
    return n;
}

/* ---- (9) garbage on one connection ----------------------------------------- */

static void test_garbage_fails_one_connection(void **state)
{
    (void)state;
    sim *s = sim_new(31);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-B");
    sim_md_connect(s, 0);
    sim_md_connect(s, 1);
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    int carol = sim_add_ep(s, 1, "carol");
    sim_join(s, alice, CONF);
    sim_join(s, bob, CONF);
    sim_join(s, carol, CONF);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sim_ep_state(s, i), PERC_DTLS_CONNECTED);
    assert_int_equal(tunnel_info(s, s->md[1].conn).associations, 1);

    /* a TunneledDtls whose inner length runs past its body */
    static const uint8_t garbage[] = {0x04, 0x00, 0x13, 1,  2,  3,  4,  5,  6,    7,    8,
                                      9,    10,   11,   12, 13, 14, 15, 16, 0xFF, 0xFF, 0x00};
    int rc = perc_kmf_tunnel_recv(s->kmf, s->md[1].conn, garbage, sizeof garbage, s->now);
    assert_int_equal(rc, PERC_ERR_TRUNCATED);
    perc_kmf_tunnel_info ti = tunnel_info(s, s->md[1].conn);
    assert_int_equal(ti.state, PERC_TUNNEL_KD_FAILED);
    assert_int_equal(ti.failure, PERC_ERR_TRUNCATED);
    assert_int_equal(ti.associations, 0);
    /* the same answer from now on */
    assert_int_equal(perc_kmf_tunnel_recv(s->kmf, s->md[1].conn, garbage, 1, s->now),
                     PERC_ERR_TRUNCATED);
    const sim_ev *ev = sim_last_ev(s, PERC_KMF_EV_TUNNEL_FAILED);
    assert_int_equal(ev->conn, s->md[1].conn);
    assert_int_equal(ev->error, PERC_ERR_TRUNCATED);
    assert_true(sim_log_has(s, "connection 2 (md-B) failed"));
    /* carol waits for another connection */
    perc_kmf_association_info ai = assoc_info(s, carol);
    assert_int_equal(ai.conn_id, 0);
    assert_int_equal(ai.orphan_deadline_ns, s->now + PERC_KMF_DEFAULT_TUNNEL_GRACE_NS);
    assert_int_equal(ai.state, PERC_KMF_ASSOC_CONNECTED);

    /* the other connection is untouched: a leave re-keys through it */
    ti = tunnel_info(s, s->md[0].conn);
    assert_int_equal(ti.state, PERC_TUNNEL_KD_OPEN);
    assert_int_equal(ti.associations, 2);
    s->md[1].up = false; /* the daemon closes it */
    assert_int_equal(perc_tunnel_md_connection_down(s->md[1].md), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_remove(s->kmf, s->md[1].conn, s->now), PERC_OK);
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(s->ep[alice].n_ekt, 2);
    assert_true(assoc_info(s, alice).acked);
    assert_int_equal(assoc_info(s, alice).spi_acked, s->ep[alice].ekt[1].spi);
    assert_int_equal(s->ep[carol].n_ekt, 1); /* nowhere to send hers */

    /* carol is not adopted within the grace period: she ends like a leave,
     * and her EndpointDisconnect is owed to md-B's next connection */
    sim_advance(s, s->now + PERC_KMF_DEFAULT_TUNNEL_GRACE_NS);
    assert_true(assoc_gone(s, carol));
    assert_int_equal(s->ep[alice].n_ekt, 3);
    assert_true(sim_log_has(s, "no tunnel connection carried it within 10000 ms"));
    assert_true(sim_log_has(s, "owed to the next connection from md-B"));
    sim_md_connect(s, 1);
    sim_pump(s);
    assert_int_equal(s->md[1].n_kd_disconnect[carol], 1);
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.tunnels_failed, 1);
    assert_int_equal(st.tunnels, 2);
    sim_delete(s);
}

/* ---- (10) reconnection ------------------------------------------------------- */

static void test_reconnect_adopts_by_name(void **state)
{
    (void)state;
    sim *s = sim_new(32);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    uint64_t first = s->md[0].conn;
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    sim_join(s, alice, CONF);
    sim_join(s, bob, CONF);
    perc_ekt_key_msg old = s->ep[alice].ekt[0];

    sim_md_disconnect(s, 0);
    assert_int_equal(assoc_info(s, alice).conn_id, 0);
    assert_true(sim_log_has(s, "2 associations of connection 1 wait 10000 ms"));
    sim_advance(s, s->now + 3 * SIM_SECOND);
    sim_md_connect(s, 0);
    sim_pump(s);
    assert_int_not_equal(s->md[0].conn, first);
    /* SupportedProfiles arrived: both adopted */
    assert_int_equal(assoc_info(s, alice).conn_id, s->md[0].conn);
    assert_int_equal(assoc_info(s, bob).conn_id, s->md[0].conn);
    assert_int_equal(tunnel_info(s, s->md[0].conn).associations, 2);
    assert_true(sim_log_has(s, "now carried by connection 2 (md-A)"));

    /* a re-key reaches alice through the new connection, and bob's
     * EndpointDisconnect goes there too */
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_int_equal(s->md[0].n_kd_disconnect[bob], 1);
    assert_int_equal(s->ep[alice].n_ekt, 2);
    assert_int_not_equal(s->ep[alice].ekt[1].spi, old.spi);
    assert_true(assoc_info(s, alice).acked);
    assert_int_equal(assoc_info(s, alice).spi_acked, s->ep[alice].ekt[1].spi);
    /* nothing expires later: the grace period is over for good */
    sim_advance(s, s->now + 60 * SIM_SECOND);
    assert_int_equal(assoc_info(s, alice).state, PERC_KMF_ASSOC_CONNECTED);
    sim_delete(s);
}

/* A re-key while the connection is down: the EKTKey is retransmitted over
 * the new connection once it adopts the association; the departed
 * endpoint's EndpointDisconnect is owed to it. */
static void test_rekey_while_orphaned(void **state)
{
    (void)state;
    sim *s = sim_new(33);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    sim_join(s, alice, CONF);
    sim_join(s, bob, CONF);
    sim_md_disconnect(s, 0);
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "bob", NULL, 0, s->now), PERC_OK);
    assert_true(sim_log_has(s, "owed to the next connection from md-A"));
    assert_int_equal(assoc_info(s, alice).ekt_unacked, 1);
    assert_int_equal(s->ep[alice].n_ekt, 1);
    sim_md_connect(s, 0);
    sim_pump(s);
    assert_int_equal(s->md[0].n_kd_disconnect[bob], 1); /* paid on the new connection */
    /* the EKTKey retransmission timer (1 s) brings it to alice */
    sim_advance(s, s->now + 2 * SIM_SECOND);
    assert_int_equal(s->ep[alice].n_ekt, 2);
    assert_true(assoc_info(s, alice).acked);
    assert_int_equal(assoc_info(s, alice).spi_acked, s->ep[alice].ekt[1].spi);
    assert_int_equal(assoc_info(s, alice).ekt_unacked, 0);
    sim_delete(s);
}

/* Without a name, a new connection adopts only what it carries traffic for;
 * the rest ends after the grace period. */
static void test_adoption_by_traffic(void **state)
{
    (void)state;
    sim *s = sim_new(34);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, NULL);
    sim_md_connect(s, 0);
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    sim_join(s, alice, CONF);
    sim_join(s, bob, CONF);
    sim_md_disconnect(s, 0);
    sim_md_connect(s, 0);
    sim_pump(s);
    assert_int_equal(assoc_info(s, bob).conn_id, 0);
    /* bob closes: his close_notify comes over the new connection, which
     * thereby adopts him; the KMF ends him and tells that connection */
    assert_int_equal(perc_dtls_close(s->ep[bob].d, s->now), PERC_OK);
    sim_pump(s);
    assert_true(assoc_gone(s, bob));
    assert_int_equal(s->md[0].n_kd_disconnect[bob], 1);
    assert_true(sim_log_has(s, "now carried by connection 2 ((unnamed))"));
    /* alice, silent, is not adopted and ends after the grace period */
    assert_int_equal(assoc_info(s, alice).conn_id, 0);
    sim_advance(s, s->now + PERC_KMF_DEFAULT_TUNNEL_GRACE_NS);
    assert_true(assoc_gone(s, alice));
    assert_true(sim_log_has(s, "EndpointDisconnect for association"));
    assert_true(sim_log_has(s, "could not be sent: no open connection knows it"));
    sim_delete(s);
}

/* ---- version, stray datagrams, moving associations ------------------------- */

static void test_version_mismatch(void **state)
{
    (void)state;
    sim *s = sim_new(35);
    uint64_t conn;
    assert_int_equal(perc_kmf_tunnel_add(s->kmf, "md-new", s->now, &conn), PERC_OK);
    uint8_t buf[64];
    perc_writer w;
    perc_writer_init(&w, buf, sizeof buf);
    assert_int_equal(perc_tunnel_write_supported_profiles(&w, 1, SIM_DOUBLE_BOTH, 2), PERC_OK);
    size_t len;
    assert_int_equal(perc_writer_finish(&w, &len), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_recv(s->kmf, conn, buf, len, s->now), PERC_ERR_BAD_VERSION);
    assert_int_equal(tunnel_info(s, conn).state, PERC_TUNNEL_KD_FAILED);
    assert_int_equal(perc_kmf_tunnel_pending(s->kmf, conn, buf, sizeof buf, &len), PERC_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "\x02\x00\x01\x00", 4); /* UnsupportedVersion(0) */
    assert_int_equal(perc_kmf_tunnel_remove(s->kmf, conn, s->now), PERC_OK);
    assert_int_equal(perc_kmf_tunnel_info_get(s->kmf, conn, &(perc_kmf_tunnel_info){0}),
                     PERC_ERR_NOT_FOUND);
    sim_delete(s);
}

static void test_datagram_for_ended_association(void **state)
{
    (void)state;
    sim *s = sim_new(36);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    int alice = sim_add_ep(s, 0, "alice");
    sim_join(s, alice, CONF);
    assert_int_equal(perc_kmf_leave(s->kmf, CONF, "alice", NULL, 0, s->now), PERC_OK);
    sim_pump(s);
    assert_true(assoc_gone(s, alice));
    /* a late datagram for the ended association: dropped, logged, and
     * answered with EndpointDisconnect */
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_TUNNELED_DTLS;
    m.tunneled_dtls.association_id = s->ep[alice].assoc;
    static const uint8_t junk[] = {0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0};
    m.tunneled_dtls.dtls = perc_view_of(junk, sizeof junk);
    assert_int_equal(inject(s, s->md[0].conn, &m), PERC_OK);
    assert_true(sim_log_has(s, "DTLS datagram for closed association"));
    uint8_t types[8];
    assert_int_equal(drain_types(s, s->md[0].conn, types, 8), 1);
    assert_int_equal(types[0], PERC_TUNNEL_ENDPOINT_DISCONNECT);
    /* no association was created for it */
    perc_kmf_stats st;
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.associations, 0);
    assert_true(st.dtls_dropped >= 1);
    /* a minute later the id is forgotten: a datagram makes a fresh (and
     * useless) association that times out */
    sim_advance(s, s->now + 61 * SIM_SECOND);
    assert_int_equal(inject(s, s->md[0].conn, &m), PERC_OK);
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.associations, 1);
    int dropped = s->md[0].n_dropped;
    sim_advance(s, s->now + PERC_KMF_DEFAULT_HANDSHAKE_TIMEOUT_NS);
    perc_kmf_get_stats(s->kmf, &st);
    assert_int_equal(st.associations, 0);
    /* its EndpointDisconnect reached the MD, which no longer knew the id */
    assert_int_equal(s->md[0].n_dropped, dropped + 1);
    sim_delete(s);
}

/* RFC 9185 §5.2: an association's datagrams may come over another
 * connection; what we send follows the latest, and an EndpointDisconnect
 * from any connection ends it. */
static void test_association_moves(void **state)
{
    (void)state;
    sim *s = sim_new(37);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A2");
    sim_md_connect(s, 0);
    sim_md_connect(s, 1);
    sim_pump(s);
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    sim_join(s, alice, CONF);
    sim_join(s, bob, CONF);
    uint64_t c1 = s->md[0].conn, c2 = s->md[1].conn;

    /* a (stale) record of alice's over the second connection */
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_TUNNELED_DTLS;
    m.tunneled_dtls.association_id = s->ep[alice].assoc;
    static const uint8_t junk[] = {0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0};
    m.tunneled_dtls.dtls = perc_view_of(junk, sizeof junk);
    assert_int_equal(inject(s, c2, &m), PERC_OK);
    assert_int_equal(assoc_info(s, alice).conn_id, c2);
    assert_int_equal(assoc_info(s, alice).state, PERC_KMF_ASSOC_CONNECTED);
    /* bob's EndpointDisconnect arrives on the second connection, which
     * never carried him: he ends, and the first (which knows him) hears */
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_ENDPOINT_DISCONNECT;
    m.endpoint_disconnect.association_id = s->ep[bob].assoc;
    assert_int_equal(inject(s, c2, &m), PERC_OK);
    assert_true(assoc_gone(s, bob));
    uint8_t types[8];
    /* the re-key's EKTKey for alice goes out on the second connection */
    int n = drain_types(s, c2, types, 8);
    assert_true(n >= 1);
    assert_int_equal(types[0], PERC_TUNNEL_TUNNELED_DTLS);
    n = drain_types(s, c1, types, 8);
    assert_int_equal(n, 1);
    assert_int_equal(types[0], PERC_TUNNEL_ENDPOINT_DISCONNECT);
    sim_delete(s);
}

/* The KMF holds nothing of a tunnel after the connection is gone, and
 * freeing everything with live associations leaks nothing (ASan). */
static void test_free_with_everything_alive(void **state)
{
    (void)state;
    sim *s = sim_new(38);
    sim_add_md(s, SIM_DOUBLE_BOTH, 2, "md-A");
    sim_md_connect(s, 0);
    int alice = sim_add_ep(s, 0, "alice");
    int bob = sim_add_ep(s, 0, "bob");
    sim_join(s, alice, CONF);
    assert_int_equal(sim_announce(s, bob, CONF), PERC_OK);
    sim_ep_start(s, bob); /* mid-handshake at the end */
    sim_md_disconnect(s, 0);
    sim_delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_fails_one_connection),
        cmocka_unit_test(test_reconnect_adopts_by_name),
        cmocka_unit_test(test_rekey_while_orphaned),
        cmocka_unit_test(test_adoption_by_traffic),
        cmocka_unit_test(test_version_mismatch),
        cmocka_unit_test(test_datagram_for_ended_association),
        cmocka_unit_test(test_association_moves),
        cmocka_unit_test(test_free_with_everything_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
