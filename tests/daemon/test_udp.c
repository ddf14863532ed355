/* perc_daemon/udp.h: datagrams both ways on IPv4 and IPv6 loopback with
 * their source addresses, echo from the callback, a taken port, freeing
 * from the callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/error.h"
#include "perc_daemon/udp.h"

typedef struct rx {
    int n;
    uint8_t last[2048];
    size_t last_len;
    char from[PERC_SOCKADDR_TEXT_MAX];
    gboolean echo;
    gboolean free_self;
    perc_udp **self;
} rx;

static void on_recv(void *user, perc_udp *udp, const uint8_t *data, size_t len,
                    GSocketAddress *from)
{
    rx *r = user;
    r->n++;
    memcpy(r->last, data, len < sizeof r->last ? len : sizeof r->last);
    r->last_len = len;
    perc_sockaddr_format(from, r->from, sizeof r->from);
    if (r->echo) {
        GError *err = NULL;
        assert_true(perc_udp_send(udp, from, data, len, &err));
    }
    if (r->free_self) {
        perc_udp_free(udp);
        *r->self = NULL;
    }
}

static perc_udp *bind_udp(GMainContext *ctx, const char *text, rx *r)
{
    perc_hostport hp;
    GError *err = NULL;
    assert_true(perc_hostport_parse(text, &hp, &err));
    perc_udp *u = perc_udp_new(ctx, &hp, on_recv, r, &err);
    if (!u)
        fail_msg("bind %s: %s", text, err->message);
    assert_true(perc_udp_local_port(u) != 0);
    return u;
}

static void exchange(const char *bind_text, const char *expect_prefix)
{
    GMainContext *ctx = g_main_context_new();
    rx ra = {0}, rb = {.echo = TRUE};
    perc_udp *a = bind_udp(ctx, bind_text, &ra);
    perc_udp *b = bind_udp(ctx, bind_text, &rb);
    GSocketAddress *to_b = perc_udp_local_address(b);
    GError *err = NULL;
    const uint8_t msg[] = "hello over udp";
    assert_true(perc_udp_send(a, to_b, msg, sizeof msg, &err));
    assert_true(dt_wait_count(ctx, &ra.n, 1, 3000));
    assert_int_equal(rb.n, 1);
    assert_int_equal(rb.last_len, sizeof msg);
    assert_memory_equal(rb.last, msg, sizeof msg);
    /* b saw a's address and port; a got the echo from b's. */
    char expect[PERC_SOCKADDR_TEXT_MAX];
    g_snprintf(expect, sizeof expect, "%s%u", expect_prefix, perc_udp_local_port(a));
    assert_string_equal(rb.from, expect);
    g_snprintf(expect, sizeof expect, "%s%u", expect_prefix, perc_udp_local_port(b));
    assert_string_equal(ra.from, expect);
    assert_memory_equal(ra.last, msg, sizeof msg);

    /* A small burst (well inside the socket buffers, so loopback drops
     * nothing): all arrive, echoed, in order. */
    for (int i = 0; i < 20; i++) {
        uint8_t d[1200];
        memset(d, i, sizeof d);
        assert_true(perc_udp_send(a, to_b, d, sizeof d, &err));
    }
    assert_true(dt_wait_count(ctx, &ra.n, 21, 3000));
    assert_int_equal(ra.last_len, 1200);
    assert_int_equal(ra.last[0], 19);

    /* Too big for a datagram: refused before the socket. */
    static uint8_t huge[PERC_UDP_MAX_DATAGRAM + 1];
    assert_false(perc_udp_send(a, to_b, huge, sizeof huge, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT));
    g_clear_error(&err);

    g_object_unref(to_b);
    perc_udp_free(a);
    perc_udp_free(b);
    g_main_context_unref(ctx);
}

static void test_ipv4(void **state)
{
    (void)state;
    exchange("127.0.0.1:0", "127.0.0.1:");
}

static void test_ipv6(void **state)
{
    (void)state;
    /* Some CI sandboxes have no IPv6 loopback: skip there. */
    GSocket *probe = g_socket_new(G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, NULL);
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV6);
    GSocketAddress *sa = g_inet_socket_address_new(lo, 0);
    gboolean ok = probe && g_socket_bind(probe, sa, FALSE, NULL);
    g_object_unref(sa);
    g_object_unref(lo);
    if (probe)
        g_object_unref(probe);
    if (!ok)
        skip();
    exchange("[::1]:0", "[::1]:");
}

static void test_port_in_use(void **state)
{
    (void)state;
    rx r = {0};
    perc_udp *a = bind_udp(NULL, "127.0.0.1:0", &r);
    char text[64];
    g_snprintf(text, sizeof text, "127.0.0.1:%u", perc_udp_local_port(a));
    perc_hostport hp;
    GError *err = NULL;
    assert_true(perc_hostport_parse(text, &hp, &err));
    assert_null(perc_udp_new(NULL, &hp, on_recv, &r, &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
    assert_non_null(strstr(err->message, text));
    g_clear_error(&err);
    perc_udp_free(a);
}

static void test_free_from_callback(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    rx ra = {0}, rb = {.free_self = TRUE};
    perc_udp *a = bind_udp(ctx, "127.0.0.1:0", &ra);
    perc_udp *b = bind_udp(ctx, "127.0.0.1:0", &rb);
    rb.self = &b;
    GSocketAddress *to_b = perc_udp_local_address(b);
    GError *err = NULL;
    for (int i = 0; i < 5; i++)
        assert_true(perc_udp_send(a, to_b, (const uint8_t *)"x", 1, &err));
    assert_true(dt_wait_count(ctx, &rb.n, 1, 3000));
    dt_spin(ctx, 20);
    assert_int_equal(rb.n, 1); /* nothing after the free */
    assert_null(b);
    g_object_unref(to_b);
    perc_udp_free(a);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_free_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
