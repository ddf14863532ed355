/* perc_daemon/ice.h: a full controlling agent (the endpoint's role) and an
 * ICE-lite agent (the Media Distributor's) in one process on 127.0.0.1,
 * candidates exchanged as the "candidate:..." strings signaling carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/ice.h"
#include "perc_daemon/log.h"

typedef struct side {
    perc_ice_agent *agent;
    perc_ice_stream *s;
    int gathered;
    int ready;
    int failed;
    int received;
    size_t last_len;
    uint8_t last[64];
    bool free_on_recv;
} side;

static void on_gathered(void *user, perc_ice_stream *s)
{
    (void)s;
    ((side *)user)->gathered++;
}

static void on_state(void *user, perc_ice_stream *s, perc_ice_state st)
{
    (void)s;
    side *x = user;
    if (st == PERC_ICE_READY || st == PERC_ICE_CONNECTED)
        x->ready = 1;
    if (st == PERC_ICE_FAILED)
        x->failed++;
}

static void on_recv(void *user, perc_ice_stream *s, const uint8_t *data, size_t len)
{
    side *x = user;
    x->received++;
    x->last_len = len < sizeof x->last ? len : sizeof x->last;
    memcpy(x->last, data, x->last_len);
    if (x->free_on_recv) {
        perc_ice_stream_free(s); /* deferred inside the callback */
        x->s = NULL;
    }
}

static const perc_ice_callbacks cbs = {on_gathered, on_state, on_recv};
static const char *const loopback[] = {"127.0.0.1"};

static void make_side(side *x, bool lite, bool controlling)
{
    memset(x, 0, sizeof *x);
    perc_ice_agent_options o = {.lite = lite, .controlling = controlling,
                                .addresses = loopback, .n_addresses = 1};
    GError *e = NULL;
    x->agent = perc_ice_agent_new(NULL, &o, &e);
    assert_non_null(x->agent);
    x->s = perc_ice_stream_new(x->agent, &cbs, x, &e);
    assert_non_null(x->s);
    assert_true(dt_wait_count(NULL, &x->gathered, 1, 5000));
}

/* Gives `to` the credentials and candidates of `from`. */
static void tell(side *to, side *from)
{
    char *u = NULL, *p = NULL;
    assert_true(perc_ice_stream_local_credentials(from->s, &u, &p));
    assert_true(strlen(u) >= 4 && strlen(p) >= 22); /* RFC 8839 §5.4 */
    GError *e = NULL;
    assert_true(perc_ice_stream_set_remote_credentials(to->s, u, p, &e));
    g_free(u);
    g_free(p);
    char **cands = perc_ice_stream_local_candidates(from->s);
    assert_non_null(cands[0]);
    for (char **c = cands; *c; c++) {
        assert_true(g_str_has_prefix(*c, "candidate:"));
        assert_non_null(strstr(*c, "127.0.0.1"));
        assert_true(perc_ice_stream_add_remote_candidate(to->s, *c, &e));
    }
    g_strfreev(cands);
    perc_ice_stream_remote_gathering_done(to->s);
}

static void test_full_to_lite(void **state)
{
    (void)state;
    side ep, md;
    make_side(&ep, false, true);
    make_side(&md, true, false);
    assert_int_equal(perc_ice_stream_state(md.s), PERC_ICE_CHECKING);
    assert_true(perc_ice_stream_local_port(md.s) > 0);
    /* Nothing can be sent before a pair works. */
    assert_false(perc_ice_stream_send(ep.s, (const uint8_t *)"x", 1));

    tell(&md, &ep);
    tell(&ep, &md);
    assert_true(dt_wait_count(NULL, &ep.ready, 1, 10000));
    assert_true(dt_wait_count(NULL, &md.ready, 1, 10000));

    const uint8_t dtls_like[] = {22, 0xfe, 0xfd, 0, 1, 2, 3};
    assert_true(perc_ice_stream_send(ep.s, dtls_like, sizeof dtls_like));
    assert_true(dt_wait_count(NULL, &md.received, 1, 5000));
    assert_int_equal(md.last_len, sizeof dtls_like);
    assert_memory_equal(md.last, dtls_like, sizeof dtls_like);

    const uint8_t rtp_like[] = {0x80, 96, 0, 1};
    assert_true(perc_ice_stream_send(md.s, rtp_like, sizeof rtp_like));
    assert_true(dt_wait_count(NULL, &ep.received, 1, 5000));
    assert_memory_equal(ep.last, rtp_like, sizeof rtp_like);

    char addr[64];
    assert_true(perc_ice_stream_remote_address(md.s, addr, sizeof addr));
    assert_true(g_str_has_prefix(addr, "127.0.0.1:"));

    /* A stream freed from inside its own receive callback. */
    md.free_on_recv = true;
    assert_true(perc_ice_stream_send(ep.s, rtp_like, sizeof rtp_like));
    assert_true(dt_wait_count(NULL, &md.received, 2, 5000));
    assert_null(md.s);
    dt_spin(NULL, 50);

    perc_ice_stream_free(ep.s);
    perc_ice_agent_free(ep.agent);
    perc_ice_agent_free(md.agent);
}

static void test_bad_input(void **state)
{
    (void)state;
    side md;
    make_side(&md, true, false);
    GError *e = NULL;
    assert_false(perc_ice_stream_add_remote_candidate(md.s, "candidate:garbage", &e));
    assert_non_null(e);
    g_clear_error(&e);
    assert_false(perc_ice_stream_add_remote_candidate(
        md.s, "candidate:1 1 TCP 2128609279 127.0.0.1 9 typ host tcptype active", &e));
    assert_non_null(e);
    g_clear_error(&e);
    /* Component 2 is ignored: PERC uses rtcp-mux. */
    assert_true(perc_ice_stream_add_remote_candidate(
        md.s, "candidate:1 2 UDP 2128609279 127.0.0.1 40000 typ host", &e));
    perc_ice_agent_free(md.agent); /* frees the stream too */

    perc_ice_agent_options bad = {.lite = true, .addresses = (const char *const[]){"not-an-ip"},
                                  .n_addresses = 1};
    assert_null(perc_ice_agent_new(NULL, &bad, &e));
    assert_non_null(e);
    assert_non_null(strstr(e->message, "not-an-ip"));
    g_clear_error(&e);
    perc_ice_agent_options range = {.lite = true, .port_min = 5000, .port_max = 4000};
    assert_null(perc_ice_agent_new(NULL, &range, &e));
    g_clear_error(&e);
}

static void test_port_range(void **state)
{
    (void)state;
    uint16_t base = (uint16_t)(42000 + (g_random_int() % 2000));
    perc_ice_agent_options o = {.lite = true, .addresses = loopback, .n_addresses = 1,
                                .port_min = base, .port_max = (uint16_t)(base + 20)};
    GError *e = NULL;
    side x;
    memset(&x, 0, sizeof x);
    x.agent = perc_ice_agent_new(NULL, &o, &e);
    assert_non_null(x.agent);
    x.s = perc_ice_stream_new(x.agent, &cbs, &x, &e);
    assert_non_null(x.s);
    assert_true(dt_wait_count(NULL, &x.gathered, 1, 5000));
    uint16_t port = perc_ice_stream_local_port(x.s);
    assert_true(port >= base && port <= base + 20);
    perc_ice_agent_free(x.agent);
}

int main(void)
{
    perc_log_init("test_ice", PERC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_to_lite),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_port_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
