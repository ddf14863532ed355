/* perc_daemon/tls_stream.h on loopback: a CA and certificates generated in
 * memory and written as PEM files, server and client exchanging data both
 * ways (including enough to hit partial socket writes), untrusted peers
 * refused with their reasons, reconnect with backoff across a server
 * restart, idle and handshake timeouts, close and free from callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"
#include "perc_daemon/tls_stream.h"

/* ---- fixture: two CAs, a server, a client, an intruder ------------------- */

typedef struct pki {
    char *dir;
    dt_ident ca, other_ca, kd, md, intruder;
    char *ca_pem, *other_ca_pem;
    char *kd_pem, *kd_key, *md_pem, *md_key, *intruder_pem, *intruder_key;
    uint8_t kd_fp[PERC_TLS_FINGERPRINT_LEN], md_fp[PERC_TLS_FINGERPRINT_LEN];
} pki;

static pki P;

static int pki_setup(void **state)
{
    (void)state;
    if (g_getenv("PERC_TEST_DEBUG"))
        perc_log_set_level(PERC_LOG_DEBUG);
    P.dir = dt_tmpdir_new();
    P.ca = dt_make_ca("perc test root");
    P.other_ca = dt_make_ca("someone else's root");
    P.kd = dt_make_leaf("kd", &P.ca, "kd.test");
    P.md = dt_make_leaf("md", &P.ca, "md.test");
    P.intruder = dt_make_leaf("intruder", &P.other_ca, "md.test");
    P.ca_pem = dt_write_pem(P.dir, "ca.pem", P.ca.cert, NULL);
    P.other_ca_pem = dt_write_pem(P.dir, "other_ca.pem", P.other_ca.cert, NULL);
    P.kd_pem = dt_write_pem(P.dir, "kd.pem", P.kd.cert, NULL);
    P.kd_key = dt_write_pem(P.dir, "kd.key", NULL, P.kd.key);
    P.md_pem = dt_write_pem(P.dir, "md.pem", P.md.cert, NULL);
    P.md_key = dt_write_pem(P.dir, "md.key", NULL, P.md.key);
    P.intruder_pem = dt_write_pem(P.dir, "intruder.pem", P.intruder.cert, NULL);
    P.intruder_key = dt_write_pem(P.dir, "intruder.key", NULL, P.intruder.key);
    assert_int_equal(perc_tls_cert_fingerprint(P.kd.cert, P.kd_fp), PERC_OK);
    assert_int_equal(perc_tls_cert_fingerprint(P.md.cert, P.md_fp), PERC_OK);
    return 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    dt_ident_free(&P.ca);
    dt_ident_free(&P.other_ca);
    dt_ident_free(&P.kd);
    dt_ident_free(&P.md);
    dt_ident_free(&P.intruder);
    g_free(P.ca_pem);
    g_free(P.other_ca_pem);
    g_free(P.kd_pem);
    g_free(P.kd_key);
    g_free(P.md_pem);
    g_free(P.md_key);
    g_free(P.intruder_pem);
    g_free(P.intruder_key);
    dt_tmpdir_free(P.dir);
    return 0;
}

static perc_tls_ctx *tls_ctx(perc_tls_role role, const char *cert, const char *key,
                             const char *ca)
{
    perc_tls_file_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.role = role;
    cfg.cert_file = cert;
    cfg.key_file = key;
    cfg.ca_file = ca;
    perc_tls_ctx *ctx = NULL;
    assert_int_equal(perc_tls_ctx_new_from_files(&cfg, &ctx), PERC_OK);
    return ctx;
}

/* ---- one side's record of events ------------------------------------------ */

typedef struct side {
    int opened, closed;
    uint8_t fp[PERC_TLS_FINGERPRINT_LEN];
    GByteArray *rx;
    char reason[256];
    perc_tls_stream *s;
    uint64_t closed_at[16];
    /* behaviours */
    gboolean echo;
    gboolean close_on_data;
    perc_tls_server **free_server_on_data;
    const char *greeting; /* written from `opened` */
} side;

static void on_opened(void *user, perc_tls_stream *s, const uint8_t fp[PERC_TLS_FINGERPRINT_LEN])
{
    side *d = user;
    d->opened++;
    d->s = s;
    memcpy(d->fp, fp, PERC_TLS_FINGERPRINT_LEN);
    assert_true(perc_tls_stream_is_open(s));
    uint8_t again[PERC_TLS_FINGERPRINT_LEN];
    assert_true(perc_tls_stream_fingerprint(s, again));
    assert_memory_equal(again, fp, PERC_TLS_FINGERPRINT_LEN);
    if (d->greeting) {
        GError *err = NULL;
        assert_true(perc_tls_stream_write(s, (const uint8_t *)d->greeting,
                                          strlen(d->greeting), &err));
    }
}

static void on_data(void *user, perc_tls_stream *s, const uint8_t *data, size_t len)
{
    side *d = user;
    g_byte_array_append(d->rx, data, (guint)len);
    if (d->echo) {
        GError *err = NULL;
        assert_true(perc_tls_stream_write(s, data, len, &err));
    }
    if (d->close_on_data)
        perc_tls_stream_close(s);
    if (d->free_server_on_data && *d->free_server_on_data) {
        perc_tls_server_free(*d->free_server_on_data);
        *d->free_server_on_data = NULL;
    }
}

static void on_closed(void *user, perc_tls_stream *s, const char *reason)
{
    side *d = user;
    (void)s;
    if (d->closed < 16)
        d->closed_at[d->closed] = perc_clock_now_ns();
    d->closed++;
    g_strlcpy(d->reason, reason, sizeof d->reason);
    if (d->s == s)
        d->s = NULL;
    assert_false(perc_tls_stream_is_open(s));
}

static const perc_tls_stream_callbacks cbs = {on_opened, on_data, on_closed};

static void side_init(side *d)
{
    memset(d, 0, sizeof *d);
    d->rx = g_byte_array_new();
}

static void side_clear(side *d)
{
    g_byte_array_unref(d->rx);
}

static perc_hostport loopback(uint16_t port)
{
    perc_hostport hp;
    char text[32];
    g_snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)port);
    GError *err = NULL;
    assert_true(perc_hostport_parse(text, &hp, &err));
    return hp;
}

static perc_tls_stream_options fast_opts(void)
{
    perc_tls_stream_options o;
    perc_tls_stream_options_init(&o);
    o.backoff_initial_ms = 40;
    o.backoff_max_ms = 160;
    o.handshake_timeout_ms = 3000;
    return o;
}

typedef struct world {
    GMainContext *ctx;
    perc_tls_ctx *srv_tls, *cli_tls;
    perc_tls_server *srv;
    perc_tls_client *cli;
    side s, c;
} world;

static void world_start(world *w, perc_tls_ctx *srv_tls, perc_tls_ctx *cli_tls,
                        const perc_tls_stream_options *so, const perc_tls_stream_options *co)
{
    w->ctx = g_main_context_new();
    w->srv_tls = srv_tls;
    w->cli_tls = cli_tls;
    side_init(&w->s);
    side_init(&w->c);
    GError *err = NULL;
    perc_hostport any = loopback(0);
    w->srv = perc_tls_server_new(w->ctx, srv_tls, &any, so, &cbs, &w->s, &err);
    if (!w->srv)
        fail_msg("server: %s", err->message);
    assert_true(perc_tls_server_port(w->srv) != 0);
    perc_hostport to = loopback(perc_tls_server_port(w->srv));
    w->cli = perc_tls_client_new(w->ctx, cli_tls, &to, co, &cbs, &w->c, &err);
    if (!w->cli)
        fail_msg("client: %s", err->message);
}

static void world_stop(world *w)
{
    perc_tls_client_free(w->cli);
    perc_tls_server_free(w->srv);
    /* Let cancelled operations (a pending connect) report back and let go. */
    dt_spin(w->ctx, 20);
    perc_tls_ctx_free(w->srv_tls);
    perc_tls_ctx_free(w->cli_tls);
    side_clear(&w->s);
    side_clear(&w->c);
    g_main_context_unref(w->ctx);
}

static gboolean rx_has(void *data)
{
    void **p = data;
    side *d = p[0];
    size_t want = *(size_t *)p[1];
    return d->rx->len >= want;
}

static gboolean wait_rx(GMainContext *ctx, side *d, size_t want, guint ms)
{
    void *p[2] = {d, &want};
    return dt_wait(ctx, rx_has, p, ms);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_exchange_both_ways(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem), &o, &o);
    w.s.echo = TRUE;
    w.c.greeting = "SupportedProfiles";
    assert_true(dt_wait_count(w.ctx, &w.s.opened, 1, 5000));
    assert_true(dt_wait_count(w.ctx, &w.c.opened, 1, 5000));
    /* Each side saw the other's certificate. */
    assert_memory_equal(w.s.fp, P.md_fp, PERC_TLS_FINGERPRINT_LEN);
    assert_memory_equal(w.c.fp, P.kd_fp, PERC_TLS_FINGERPRINT_LEN);
    assert_true(perc_tls_stream_is_client(w.c.s));
    assert_false(perc_tls_stream_is_client(w.s.s));
    assert_ptr_equal(perc_tls_client_stream(w.cli), w.c.s);
    assert_int_equal(perc_tls_server_stream_count(w.srv), 1);
    assert_non_null(strstr(perc_tls_stream_peer(w.s.s), "127.0.0.1:"));
    int marker = 5;
    perc_tls_stream_set_data(w.s.s, &marker);
    assert_ptr_equal(perc_tls_stream_get_data(w.s.s), &marker);

    /* The greeting went client -> server and came back. */
    assert_true(wait_rx(w.ctx, &w.s, 17, 3000));
    assert_memory_equal(w.s.rx->data, "SupportedProfiles", 17);
    assert_true(wait_rx(w.ctx, &w.c, 17, 3000));
    assert_memory_equal(w.c.rx->data, "SupportedProfiles", 17);

    /* 4 MiB at once: far more than the socket buffers take in one go, so
     * the writers meet EAGAIN and continue on G_IO_OUT. Echoed back whole
     * and in order. */
    size_t big = (size_t)4 << 20;
    uint8_t *buf = g_malloc(big);
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(i * 7 + (i >> 13));
    GError *err = NULL;
    assert_true(perc_tls_stream_write(w.c.s, buf, big, &err));
    assert_true(perc_tls_stream_queued(w.c.s) > 0);
    assert_true(wait_rx(w.ctx, &w.c, 17 + big, 15000));
    assert_memory_equal(w.s.rx->data + 17, buf, big);
    assert_memory_equal(w.c.rx->data + 17, buf, big);
    g_free(buf);

    /* Server -> client directly. */
    assert_true(perc_tls_stream_write(w.s.s, (const uint8_t *)"MediaKeys", 9, &err));
    assert_true(wait_rx(w.ctx, &w.c, 17 + big + 9, 3000));
    assert_int_equal(w.s.closed + w.c.closed, 0);
    world_stop(&w);
}

static void test_send_limits_and_state(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    o.max_send_buffer = 64 * 1024;
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem), &o, &o);
    assert_null(perc_tls_client_stream(w.cli)); /* not open yet */
    assert_true(dt_wait_count(w.ctx, &w.c.opened, 1, 5000));
    GError *err = NULL;
    static uint8_t chunk[100 * 1024];
    assert_false(perc_tls_stream_write(w.c.s, chunk, sizeof chunk, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_LIMIT));
    g_clear_error(&err);
    assert_true(perc_tls_stream_write(w.c.s, chunk, 1000, &err));
    assert_true(perc_tls_stream_write(w.c.s, NULL, 0, &err));

    /* Closing: no more writes, `closed` follows from the loop. */
    perc_tls_stream *cs = w.c.s;
    perc_tls_stream_close(cs);
    perc_tls_stream_close(cs); /* idempotent */
    assert_false(perc_tls_stream_write(cs, chunk, 1, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE));
    g_clear_error(&err);
    assert_int_equal(w.c.closed, 0);
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 1, 3000));
    assert_string_equal(w.c.reason, "closed locally");
    assert_true(dt_wait_count(w.ctx, &w.s.closed, 1, 3000));
    assert_string_equal(w.s.reason, "peer closed the connection");
    assert_int_equal(w.s.rx->len, 1000); /* what was queued before close arrived */
    world_stop(&w);
}

static void test_untrusted_client_refused(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    /* The client's certificate comes from a CA the server does not trust. */
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.intruder_pem, P.intruder_key, P.ca_pem), &o, &o);
    w.c.greeting = "secret-free hello that must never be delivered";
    assert_true(dt_wait_count(w.ctx, &w.s.closed, 1, 5000));
    assert_int_equal(w.s.opened, 0);
    assert_non_null(strstr(w.s.reason, "peer certificate not trusted"));
    assert_int_equal(w.s.rx->len, 0);
    /* The client learns it from the server's alert (TLS 1.3: it may have
     * seen `opened` first). */
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 1, 5000));
    assert_non_null(strstr(w.c.reason, "alert"));
    assert_int_equal(perc_tls_server_stream_count(w.srv), 0);
    world_stop(&w);
}

static void test_untrusted_server_refused(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    /* The client trusts only the other CA: the server's chain fails. */
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.other_ca_pem), &o, &o);
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 1, 5000));
    assert_int_equal(w.c.opened, 0);
    assert_non_null(strstr(w.c.reason, "peer certificate not trusted"));
    assert_true(dt_wait_count(w.ctx, &w.s.closed, 1, 5000));
    assert_int_equal(w.s.opened, 0);
    assert_non_null(strstr(w.s.reason, "alert"));
    world_stop(&w);
}

static void test_reconnect_after_server_restart(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem), &o, &o);
    assert_true(dt_wait_count(w.ctx, &w.c.opened, 1, 5000));
    assert_true(dt_wait_count(w.ctx, &w.s.opened, 1, 5000));
    assert_int_equal(perc_tls_client_backoff_ms(w.cli), 40);
    uint16_t port = perc_tls_server_port(w.srv);

    /* The server goes away: the client's stream closes, then attempts are
     * refused with growing delays (40, 80, 160, 160 ms). */
    perc_tls_server_free(w.srv);
    w.srv = NULL;
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 5, 5000));
    assert_non_null(strstr(w.c.reason, "connect to 127.0.0.1:"));
    const uint64_t min_gap_ms[] = {40, 80, 160, 160};
    for (int i = 1; i < 5; i++) {
        uint64_t gap = w.c.closed_at[i] - w.c.closed_at[i - 1];
        if (gap < min_gap_ms[i - 1] * PERC_NSEC_PER_MSEC)
            fail_msg("attempt %d after %" G_GUINT64_FORMAT " ns, backoff %" G_GUINT64_FORMAT
                     " ms",
                     i, gap, min_gap_ms[i - 1]);
    }
    assert_int_equal(perc_tls_client_backoff_ms(w.cli), 160);

    /* Back on the same port: the client reconnects by itself, and the
     * backoff resets. */
    GError *err = NULL;
    perc_hostport hp = loopback(port);
    w.srv = perc_tls_server_new(w.ctx, w.srv_tls, &hp, &o, &cbs, &w.s, &err);
    if (!w.srv)
        fail_msg("restart: %s", err->message);
    assert_true(dt_wait_count(w.ctx, &w.c.opened, 2, 5000));
    if (!dt_wait_count(w.ctx, &w.s.opened, 2, 5000))
        fail_msg("server opened %d closed %d (%s); client opened %d closed %d (%s)", w.s.opened,
                 w.s.closed, w.s.reason, w.c.opened, w.c.closed, w.c.reason);
    assert_int_equal(perc_tls_client_backoff_ms(w.cli), 40);
    assert_true(perc_tls_stream_write(w.c.s, (const uint8_t *)"again", 5, &err));
    assert_true(wait_rx(w.ctx, &w.s, 5, 3000));
    world_stop(&w);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options so = fast_opts(), co = fast_opts();
    so.idle_timeout_ms = 150;
    co.backoff_initial_ms = co.backoff_max_ms = 5000; /* no reconnect during the test */
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem), &so, &co);
    assert_true(dt_wait_count(w.ctx, &w.s.opened, 1, 5000));
    /* Traffic keeps it alive... */
    GError *err = NULL;
    for (int i = 0; i < 4; i++) {
        dt_spin(w.ctx, 60);
        assert_true(perc_tls_stream_write(w.c.s, (const uint8_t *)"k", 1, &err));
    }
    assert_int_equal(w.s.closed, 0);
    /* ...silence does not. */
    uint64_t t0 = perc_clock_now_ns();
    assert_true(dt_wait_count(w.ctx, &w.s.closed, 1, 3000));
    assert_true(perc_clock_now_ns() - t0 >= 100 * PERC_NSEC_PER_MSEC);
    assert_string_equal(w.s.reason, "idle timeout: nothing received for 150 ms");
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 1, 3000));
    world_stop(&w);
}

static void test_handshake_timeout(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    side s;
    side_init(&s);
    perc_tls_stream_options o = fast_opts();
    o.handshake_timeout_ms = 200;
    perc_tls_ctx *st = tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem);
    GError *err = NULL;
    perc_hostport any = loopback(0);
    perc_tls_server *srv = perc_tls_server_new(ctx, st, &any, &o, &cbs, &s, &err);
    assert_non_null(srv);
    /* A TCP peer that never speaks TLS. */
    GSocketClient *gc = g_socket_client_new();
    /* No proxy lookup: GLib's libproxy module is C++ and its exceptions trip
     * ASan in this C program; the peer is on loopback anyway. */
    g_socket_client_set_enable_proxy(gc, FALSE);
    char addr[32];
    g_snprintf(addr, sizeof addr, "127.0.0.1:%u", perc_tls_server_port(srv));
    GSocketConnection *conn = g_socket_client_connect_to_host(gc, addr, 0, NULL, &err);
    assert_non_null(conn);
    assert_true(dt_wait_count(ctx, &s.closed, 1, 3000));
    assert_string_equal(s.reason, "TLS handshake timeout after 200 ms");

    /* And one that speaks garbage is refused at once. */
    GSocketConnection *conn2 = g_socket_client_connect_to_host(gc, addr, 0, NULL, &err);
    assert_non_null(conn2);
    GSocket *raw = g_socket_connection_get_socket(conn2);
    const char junk[] = "GET / HTTP/1.1\r\n\r\n";
    assert_true(g_socket_send(raw, junk, sizeof junk - 1, NULL, &err) > 0);
    assert_true(dt_wait_count(ctx, &s.closed, 2, 3000));
    assert_true(strlen(s.reason) > 0);
    assert_int_equal(s.opened, 0);

    g_object_unref(conn);
    g_object_unref(conn2);
    g_object_unref(gc);
    perc_tls_server_free(srv);
    perc_tls_ctx_free(st);
    side_clear(&s);
    dt_spin(ctx, 10);
    g_main_context_unref(ctx);
}

static void test_close_and_free_from_callbacks(void **state)
{
    (void)state;
    world w;
    perc_tls_stream_options o = fast_opts();
    o.backoff_initial_ms = o.backoff_max_ms = 5000;
    world_start(&w, tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem),
                tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem), &o, &o);
    /* The server closes as soon as anything arrives. */
    w.s.close_on_data = TRUE;
    w.c.greeting = "hello";
    assert_true(dt_wait_count(w.ctx, &w.s.closed, 1, 5000));
    assert_string_equal(w.s.reason, "closed locally");
    assert_true(dt_wait_count(w.ctx, &w.c.closed, 1, 5000));
    assert_string_equal(w.c.reason, "peer closed the connection");

    /* Next: the server frees itself (and so every stream) from a data
     * callback. No callback fires for the dropped streams. */
    perc_tls_client_free(w.cli);
    w.s.close_on_data = FALSE;
    w.s.free_server_on_data = &w.srv;
    GError *err = NULL;
    perc_hostport to = loopback(perc_tls_server_port(w.srv));
    side c2;
    side_init(&c2);
    c2.greeting = "bye";
    w.cli = perc_tls_client_new(w.ctx, w.cli_tls, &to, &o, &cbs, &c2, &err);
    assert_non_null(w.cli);
    int closed_before = w.s.closed;
    assert_true(wait_rx(w.ctx, &w.s, 8, 5000));
    assert_null(w.srv);
    assert_true(dt_wait_count(w.ctx, &c2.closed, 1, 5000));
    assert_int_equal(w.s.closed, closed_before);
    side_clear(&c2);
    /* c2 is gone: stop the client before world_stop frees the sides. */
    perc_tls_client_free(w.cli);
    w.cli = NULL;
    world_stop(&w);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    perc_tls_ctx *ct = tls_ctx(PERC_TLS_CLIENT, P.md_pem, P.md_key, P.ca_pem);
    perc_tls_ctx *st = tls_ctx(PERC_TLS_SERVER, P.kd_pem, P.kd_key, P.ca_pem);
    GError *err = NULL;
    perc_hostport any = loopback(0);
    assert_null(perc_tls_server_new(NULL, ct, &any, NULL, &cbs, NULL, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID));
    g_clear_error(&err);
    assert_null(perc_tls_client_new(NULL, st, &any, NULL, &cbs, NULL, &err));
    g_clear_error(&err);
    perc_hostport p1 = loopback(1);
    assert_null(perc_tls_client_new(NULL, ct, &any, NULL, &cbs, NULL, &err)); /* port 0 */
    g_clear_error(&err);
    perc_tls_stream_options o;
    perc_tls_stream_options_init(&o);
    o.backoff_max_ms = 1;
    assert_null(perc_tls_client_new(NULL, ct, &p1, &o, &cbs, NULL, &err));
    g_clear_error(&err);
    /* A port in use. */
    perc_tls_server *a = perc_tls_server_new(NULL, st, &any, NULL, &cbs, NULL, &err);
    assert_non_null(a);
    perc_hostport same = loopback(perc_tls_server_port(a));
    assert_null(perc_tls_server_new(NULL, st, &same, NULL, &cbs, NULL, &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
    assert_non_null(strstr(err->message, "listen 127.0.0.1:"));
    g_clear_error(&err);
    perc_tls_server_free(a);
    perc_tls_server_free(NULL);
    perc_tls_client_free(NULL);
    perc_tls_ctx_free(ct);
    perc_tls_ctx_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_both_ways),
        cmocka_unit_test(test_send_limits_and_state),
        cmocka_unit_test(test_untrusted_client_refused),
        cmocka_unit_test(test_untrusted_server_refused),
        cmocka_unit_test(test_reconnect_after_server_restart),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_close_and_free_from_callbacks),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
