/* perc_daemon/ws.h on loopback, on a GLib main loop shared with lws:
 * echo of small and multi-fragment messages, an extra request header, an
 * oversized message closed with 1009, a binary message with 1003, closes
 * with codes both ways, the HTTP hook fetched with a raw TCP GET, client
 * reconnect across a server restart, wss with generated certificates, URL
 * parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"
#include "perc_daemon/ws.h"

#define PROTO "perc-test-v1"

typedef struct srv_side {
    int opened, closed, messages, http_calls;
    uint64_t last_conn;
    int close_code;
    char close_reason[128];
    char auth[128];
    char peer[64];
    GByteArray *last;
    gboolean echo;
    uint64_t close_conn_on_message; /* nonzero: close with 4000 after a message */
} srv_side;

typedef struct cli_side {
    int opened, closed, messages;
    int close_code;
    char close_reason[256];
    GByteArray *last;
} cli_side;

static void s_open(void *user, perc_ws_server *srv, uint64_t conn, const char *peer)
{
    srv_side *s = user;
    s->opened++;
    s->last_conn = conn;
    g_strlcpy(s->peer, peer, sizeof s->peer);
    s->auth[0] = '\0';
    (void)perc_ws_server_header(srv, conn, "Authorization", s->auth, sizeof s->auth);
}

static void s_message(void *user, perc_ws_server *srv, uint64_t conn, const char *text,
                      size_t len)
{
    srv_side *s = user;
    s->messages++;
    assert_int_equal(text[len], '\0');
    g_byte_array_set_size(s->last, 0);
    g_byte_array_append(s->last, (const guint8 *)text, (guint)len);
    GError *err = NULL;
    if (s->echo)
        assert_true(perc_ws_server_send(srv, conn, text, len, &err));
    if (s->close_conn_on_message)
        assert_true(perc_ws_server_close(srv, conn, 4000, "done with you"));
}

static void s_close(void *user, perc_ws_server *srv, uint64_t conn, int code, const char *reason)
{
    (void)srv;
    srv_side *s = user;
    s->closed++;
    s->last_conn = conn;
    s->close_code = code;
    g_strlcpy(s->close_reason, reason, sizeof s->close_reason);
}

static void s_http(void *user, perc_ws_server *srv, const char *path, perc_ws_http_response *r)
{
    (void)srv;
    srv_side *s = user;
    s->http_calls++;
    if (strcmp(path, "/status") == 0) {
        r->status = 200;
        r->content_type = g_strdup("text/html; charset=utf-8");
        r->body = g_strdup("<h1>perc-signaling</h1>");
        r->body_len = strlen(r->body);
    } else if (strcmp(path, "/metrics") == 0) {
        /* Larger than one write. */
        GString *m = g_string_new(NULL);
        for (int i = 0; i < 3000; i++)
            g_string_append_printf(m, "perc_metric_%d %d\n", i, i);
        r->status = 200;
        r->content_type = g_strdup("text/plain; version=0.0.4");
        r->body_len = m->len;
        r->body = g_string_free(m, FALSE);
    } else if (strcmp(path, "/empty") == 0) {
        r->status = 204;
    }
    /* anything else: status stays 0 -> 404 */
}

static const perc_ws_server_callbacks scbs = {s_open, s_message, s_close, s_http};

static void c_open(void *user, perc_ws_client *cli)
{
    (void)cli;
    ((cli_side *)user)->opened++;
}

static void c_message(void *user, perc_ws_client *cli, const char *text, size_t len)
{
    (void)cli;
    cli_side *c = user;
    c->messages++;
    assert_int_equal(text[len], '\0');
    g_byte_array_set_size(c->last, 0);
    g_byte_array_append(c->last, (const guint8 *)text, (guint)len);
}

static void c_close(void *user, perc_ws_client *cli, int code, const char *reason)
{
    (void)cli;
    cli_side *c = user;
    c->closed++;
    c->close_code = code;
    g_strlcpy(c->close_reason, reason, sizeof c->close_reason);
}

static const perc_ws_client_callbacks ccbs = {c_open, c_message, c_close};

typedef struct world {
    GMainLoop *loop;
    GMainContext *ctx;
    perc_ws_context *ws;
    perc_ws_server *srv;
    perc_ws_client *cli;
    srv_side s;
    cli_side c;
} world;

static int world_setup(void **state)
{
    if (g_getenv("PERC_TEST_DEBUG"))
        perc_log_set_level(PERC_LOG_DEBUG);
    world *w = g_new0(world, 1);
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    GError *err = NULL;
    w->ws = perc_ws_context_new(w->loop, &err);
    if (!w->ws)
        fail_msg("context: %s", err->message);
    w->s.last = g_byte_array_new();
    w->c.last = g_byte_array_new();
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    perc_ws_client_free(w->cli);
    perc_ws_server_free(w->srv);
    dt_spin(w->ctx, 50);
    perc_ws_context_free(w->ws);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->ctx);
    g_byte_array_unref(w->s.last);
    g_byte_array_unref(w->c.last);
    g_free(w);
    return 0;
}

static perc_ws_server *start_server(world *w, uint16_t port, size_t max_message,
                                    const char *cert, const char *key)
{
    perc_ws_server_options o;
    memset(&o, 0, sizeof o);
    char text[32];
    g_snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)port);
    GError *err = NULL;
    assert_true(perc_hostport_parse(text, &o.listen, &err));
    o.subprotocol = PROTO;
    o.max_message = max_message;
    o.rx_chunk = 4096; /* small, so large messages come in many pieces */
    o.cert_file = cert;
    o.key_file = key;
    perc_ws_server *srv = perc_ws_server_new(w->ws, &o, &scbs, &w->s, &err);
    if (!srv)
        fail_msg("server: %s", err->message);
    assert_true(perc_ws_server_port(srv) != 0);
    return srv;
}

static perc_ws_client *start_client(world *w, const char *scheme, const char *host,
                                    uint16_t port, const char *ca)
{
    perc_ws_client_options o;
    memset(&o, 0, sizeof o);
    char *url = g_strdup_printf("%s://%s:%u/signal", scheme, host, (unsigned)port);
    o.url = url;
    o.subprotocol = PROTO;
    o.header_name = "Authorization";
    o.header_value = "Bearer t0k3n";
    o.ca_file = ca;
    o.rx_chunk = 4096;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 200;
    GError *err = NULL;
    perc_ws_client *cli = perc_ws_client_new(w->ws, &o, &ccbs, &w->c, &err);
    g_free(url);
    if (!cli)
        fail_msg("client: %s", err->message);
    return cli;
}

static gboolean client_has(void *data)
{
    void **p = data;
    cli_side *c = p[0];
    return c->messages >= *(int *)p[1];
}

static void wait_client_messages(world *w, int n)
{
    void *p[2] = {&w->c, &n};
    if (!dt_wait(w->ctx, client_has, p, 5000))
        fail_msg("client got %d messages, wanted %d (closed %d: %d %s)", w->c.messages, n,
                 w->c.closed, w->c.close_code, w->c.close_reason);
}

static char *big_json(size_t n)
{
    GString *s = g_string_new("{\"type\":\"offer\",\"sdp\":\"");
    while (s->len + 2 < n)
        g_string_append_c(s, (char)('a' + s->len % 26));
    g_string_append(s, "\"}");
    return g_string_free(s, FALSE);
}

static void test_echo_and_header(void **state)
{
    world *w = *state;
    w->s.echo = TRUE;
    w->srv = start_server(w, 0, 0, NULL, NULL);
    w->cli = start_client(w, "ws", "127.0.0.1", perc_ws_server_port(w->srv), NULL);
    assert_false(perc_ws_client_is_open(w->cli));
    GError *err = NULL;
    assert_false(perc_ws_client_send(w->cli, "x", 1, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE));
    g_clear_error(&err);
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 1, 5000));
    assert_true(dt_wait_count(w->ctx, &w->s.opened, 1, 5000));
    assert_true(perc_ws_client_is_open(w->cli));
    assert_string_equal(w->s.auth, "Bearer t0k3n");
    assert_string_equal(w->s.peer, "127.0.0.1");
    assert_int_equal(perc_ws_server_conn_count(w->srv), 1);
    /* Outside `open`, headers are not available. */
    char buf[64];
    assert_false(perc_ws_server_header(w->srv, w->s.last_conn, "authorization", buf, sizeof buf));

    const char *hello = "{\"type\":\"join\",\"conference\":\"c1\"}";
    assert_true(perc_ws_client_send(w->cli, hello, strlen(hello), &err));
    wait_client_messages(w, 1);
    assert_int_equal(w->c.last->len, strlen(hello));
    assert_memory_equal(w->c.last->data, hello, strlen(hello));

    /* 300 KB: many 4 KiB fragments each way, reassembled whole. */
    char *big = big_json(300 * 1000);
    size_t big_len = strlen(big);
    assert_true(perc_ws_client_send(w->cli, big, big_len, &err));
    /* An empty message and a small one right behind it keep their order. */
    assert_true(perc_ws_client_send(w->cli, "", 0, &err));
    assert_true(perc_ws_client_send(w->cli, "{}", 2, &err));
    wait_client_messages(w, 4);
    assert_int_equal(w->s.messages, 4);
    assert_int_equal(w->c.last->len, 2);
    g_byte_array_set_size(w->s.last, 0);
    /* Server -> client directly, large. */
    assert_true(perc_ws_server_send(w->srv, w->s.last_conn, big, big_len, &err));
    wait_client_messages(w, 5);
    assert_int_equal(w->c.last->len, big_len);
    assert_memory_equal(w->c.last->data, big, big_len);
    g_free(big);

    /* Unknown connection ids are refused. */
    assert_false(perc_ws_server_send(w->srv, 999, "x", 1, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE));
    g_clear_error(&err);
    assert_false(perc_ws_server_close(w->srv, 999, 1000, ""));
    assert_int_equal(w->c.closed + w->s.closed, 0);
}

static void test_oversized_rejected(void **state)
{
    world *w = *state;
    w->srv = start_server(w, 0, 64 * 1024, NULL, NULL);
    w->cli = start_client(w, "ws", "127.0.0.1", perc_ws_server_port(w->srv), NULL);
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 1, 5000));
    GError *err = NULL;
    /* Just under the limit passes. */
    char *ok = big_json(64 * 1024);
    assert_true(perc_ws_client_send(w->cli, ok, strlen(ok), &err));
    assert_true(dt_wait_count(w->ctx, &w->s.messages, 1, 5000));
    g_free(ok);
    char *big = big_json(100 * 1024);
    assert_true(perc_ws_client_send(w->cli, big, strlen(big), &err));
    g_free(big);
    assert_true(dt_wait_count(w->ctx, &w->s.closed, 1, 5000));
    assert_int_equal(w->s.close_code, PERC_WS_CLOSE_TOO_BIG);
    assert_int_equal(w->s.messages, 1);
    assert_true(dt_wait_count(w->ctx, &w->c.closed, 1, 5000));
    assert_int_equal(w->c.close_code, PERC_WS_CLOSE_TOO_BIG);
    assert_string_equal(w->c.close_reason, "message too big");
}

static void test_server_closes_with_code(void **state)
{
    world *w = *state;
    w->s.close_conn_on_message = 1;
    w->srv = start_server(w, 0, 0, NULL, NULL);
    w->cli = start_client(w, "ws", "127.0.0.1", perc_ws_server_port(w->srv), NULL);
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 1, 5000));
    GError *err = NULL;
    assert_true(perc_ws_client_send(w->cli, "{\"type\":\"leave\"}", 16, &err));
    assert_true(dt_wait_count(w->ctx, &w->c.closed, 1, 5000));
    assert_int_equal(w->c.close_code, 4000);
    assert_string_equal(w->c.close_reason, "done with you");
    assert_true(dt_wait_count(w->ctx, &w->s.closed, 1, 5000));
    assert_int_equal(w->s.close_code, 4000);
    assert_int_equal(perc_ws_server_conn_count(w->srv), 0);
    /* The client reconnects by itself. */
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 2, 5000));
}

static void test_reconnect_after_server_restart(void **state)
{
    world *w = *state;
    w->srv = start_server(w, 0, 0, NULL, NULL);
    uint16_t port = perc_ws_server_port(w->srv);
    w->cli = start_client(w, "ws", "127.0.0.1", port, NULL);
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 1, 5000));
    assert_true(dt_wait_count(w->ctx, &w->s.opened, 1, 5000));
    perc_ws_server_free(w->srv);
    w->srv = NULL;
    assert_true(dt_wait_count(w->ctx, &w->c.closed, 2, 5000)); /* the drop, then a refusal */
    assert_int_equal(w->c.close_code, PERC_WS_CLOSE_ABNORMAL);
    assert_int_equal(w->s.closed, 0); /* no callbacks after free */
    /* Same port again, at once: the listener is ours and closed on free.
     * (The loop only guards against a slow kernel.) */
    for (int i = 0; i < 20 && !w->srv; i++) {
        perc_ws_server_options o;
        memset(&o, 0, sizeof o);
        char text[32];
        g_snprintf(text, sizeof text, "127.0.0.1:%u", (unsigned)port);
        GError *err = NULL;
        assert_true(perc_hostport_parse(text, &o.listen, &err));
        o.subprotocol = PROTO;
        w->srv = perc_ws_server_new(w->ws, &o, &scbs, &w->s, &err);
        if (!w->srv) {
            g_clear_error(&err);
            dt_spin(w->ctx, 50);
        }
    }
    assert_non_null(w->srv);
    assert_true(dt_wait_count(w->ctx, &w->c.opened, 2, 5000));
    assert_true(dt_wait_count(w->ctx, &w->s.opened, 2, 5000));
}

/* A raw HTTP/1.1 GET over TCP; returns the whole response (g_free). */
static char *http_get(GMainContext *ctx, uint16_t port, const char *path)
{
    GSocketClient *gc = g_socket_client_new();
    /* No proxy lookup: GLib's libproxy module is C++ and its exceptions trip
     * ASan in this C program; the peer is on loopback anyway. */
    g_socket_client_set_enable_proxy(gc, FALSE);
    char addr[32];
    g_snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    GError *err = NULL;
    GSocketConnection *conn = g_socket_client_connect_to_host(gc, addr, 0, NULL, &err);
    assert_non_null(conn);
    GSocket *sock = g_socket_connection_get_socket(conn);
    g_socket_set_blocking(sock, FALSE);
    char *req = g_strdup_printf("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                                path);
    assert_int_equal(g_socket_send(sock, req, strlen(req), NULL, &err), (gssize)strlen(req));
    g_free(req);
    GString *resp = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    for (;;) {
        char buf[4096];
        gssize n = g_socket_receive(sock, buf, sizeof buf, NULL, &err);
        if (n > 0) {
            g_string_append_len(resp, buf, n);
            continue;
        }
        if (n == 0)
            break;
        assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK));
        g_clear_error(&err);
        /* The server runs on the same loop: let it work. */
        if (g_get_monotonic_time() > deadline)
            fail_msg("HTTP GET %s: no complete response", path);
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    g_object_unref(conn);
    g_object_unref(gc);
    return g_string_free(resp, FALSE);
}

static void test_http_hook(void **state)
{
    world *w = *state;
    w->srv = start_server(w, 0, 0, NULL, NULL);
    uint16_t port = perc_ws_server_port(w->srv);
    char *r = http_get(w->ctx, port, "/status");
    assert_non_null(strstr(r, "HTTP/1.1 200"));
    char *lower = g_ascii_strdown(r, -1);
    assert_non_null(strstr(lower, "content-type: text/html; charset=utf-8"));
    assert_non_null(strstr(lower, "cache-control: no-store"));
    g_free(lower);
    assert_non_null(strstr(r, "\r\n\r\n<h1>perc-signaling</h1>"));
    g_free(r);
    r = http_get(w->ctx, port, "/metrics");
    assert_non_null(strstr(r, "HTTP/1.1 200"));
    assert_non_null(strstr(r, "perc_metric_0 0\n"));
    assert_non_null(strstr(r, "perc_metric_2999 2999\n"));
    g_free(r);
    r = http_get(w->ctx, port, "/nope");
    assert_non_null(strstr(r, "HTTP/1.1 404"));
    g_free(r);
    r = http_get(w->ctx, port, "/empty");
    assert_non_null(strstr(r, "HTTP/1.1 204"));
    g_free(r);
    assert_int_equal(w->s.http_calls, 4);
    /* A WebSocket on the same port still works. */
    w->cli = start_client(w, "ws", "127.0.0.1", port, NULL);
    assert_true(dt_wait_count(w->ctx, &w->s.opened, 1, 5000));
}

static void test_wss(void **state)
{
    world *w = *state;
    char *dir = dt_tmpdir_new();
    dt_ident ca = dt_make_ca("ws test root");
    dt_ident leaf = dt_make_leaf("signaling", &ca, "localhost");
    char *ca_pem = dt_write_pem(dir, "ca.pem", ca.cert, NULL);
    char *cert = dt_write_pem(dir, "cert.pem", leaf.cert, NULL);
    char *key = dt_write_pem(dir, "key.pem", NULL, leaf.key);
    w->s.echo = TRUE;
    w->srv = start_server(w, 0, 0, cert, key);
    w->cli = start_client(w, "wss", "localhost", perc_ws_server_port(w->srv), ca_pem);
    if (!dt_wait_count(w->ctx, &w->c.opened, 1, 5000))
        fail_msg("wss did not open: %d %s", w->c.close_code, w->c.close_reason);
    GError *err = NULL;
    assert_true(perc_ws_client_send(w->cli, "{\"secure\":true}", 15, &err));
    wait_client_messages(w, 1);
    perc_ws_client_free(w->cli);
    w->cli = NULL;

    /* A client that does not trust the server's CA never opens. */
    memset(&w->c, 0, sizeof w->c - sizeof w->c.last);
    w->c.opened = w->c.closed = 0;
    dt_ident other = dt_make_ca("other root");
    char *other_pem = dt_write_pem(dir, "other.pem", other.cert, NULL);
    w->cli = start_client(w, "wss", "localhost", perc_ws_server_port(w->srv), other_pem);
    assert_true(dt_wait_count(w->ctx, &w->c.closed, 1, 5000));
    assert_int_equal(w->c.opened, 0);
    perc_ws_client_free(w->cli);
    w->cli = NULL;
    dt_spin(w->ctx, 20);

    dt_ident_free(&other);
    dt_ident_free(&ca);
    dt_ident_free(&leaf);
    g_free(other_pem);
    g_free(ca_pem);
    g_free(cert);
    g_free(key);
    dt_tmpdir_free(dir);
}

static void test_bad_options_and_urls(void **state)
{
    world *w = *state;
    GError *err = NULL;
    gboolean tls;
    perc_hostport hp;
    char *path = NULL;
    assert_true(perc_ws_url_parse("ws://127.0.0.1:8080/signal?x=1", &tls, &hp, &path, &err));
    assert_false(tls);
    assert_string_equal(hp.host, "127.0.0.1");
    assert_int_equal(hp.port, 8080);
    assert_string_equal(path, "/signal?x=1");
    g_free(path);
    assert_true(perc_ws_url_parse("wss://signal.example", &tls, &hp, &path, &err));
    assert_true(tls);
    assert_int_equal(hp.port, 443);
    assert_string_equal(path, "/");
    g_free(path);
    assert_true(perc_ws_url_parse("ws://[::1]/x", &tls, &hp, &path, &err));
    assert_string_equal(hp.host, "::1");
    assert_int_equal(hp.port, 80);
    g_free(path);
    const char *bad[] = {"http://x/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:99999/",
                         "ws://[::1/", "ws://h/a b"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (perc_ws_url_parse(bad[i], &tls, &hp, &path, &err))
            fail_msg("'%s' accepted", bad[i]);
        assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID));
        g_clear_error(&err);
    }

    perc_ws_server_options so;
    memset(&so, 0, sizeof so);
    assert_true(perc_hostport_parse("127.0.0.1:0", &so.listen, &err));
    assert_null(perc_ws_server_new(w->ws, &so, &scbs, NULL, &err)); /* no subprotocol */
    g_clear_error(&err);
    so.subprotocol = PROTO;
    so.cert_file = "/nonexistent.pem";
    assert_null(perc_ws_server_new(w->ws, &so, &scbs, NULL, &err)); /* cert without key */
    g_clear_error(&err);
    so.cert_file = NULL;
    /* A port in use by someone else. */
    GSocket *squat = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &err);
    GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
    GSocketAddress *sa = g_inet_socket_address_new(lo, 0);
    assert_true(g_socket_bind(squat, sa, FALSE, &err));
    assert_true(g_socket_listen(squat, &err));
    GSocketAddress *bound = g_socket_get_local_address(squat, &err);
    so.listen.port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    assert_null(perc_ws_server_new(w->ws, &so, &scbs, NULL, &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
    assert_non_null(strstr(err->message, "websocket server: listen 127.0.0.1:"));
    g_clear_error(&err);
    g_object_unref(bound);
    g_object_unref(sa);
    g_object_unref(lo);
    g_object_unref(squat);
    /* One server per context. */
    w->srv = start_server(w, 0, 0, NULL, NULL);
    so.listen.port = 0;
    assert_null(perc_ws_server_new(w->ws, &so, &scbs, NULL, &err));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_STATE));
    g_clear_error(&err);

    perc_ws_client_options co;
    memset(&co, 0, sizeof co);
    co.url = "ws://127.0.0.1:1/";
    assert_null(perc_ws_client_new(w->ws, &co, &ccbs, NULL, &err)); /* no subprotocol */
    g_clear_error(&err);
    co.subprotocol = PROTO;
    co.header_name = "Bad: name";
    co.header_value = "v";
    assert_null(perc_ws_client_new(w->ws, &co, &ccbs, NULL, &err));
    g_clear_error(&err);
    co.header_name = "X-Token";
    co.header_value = "line\r\nbreak";
    assert_null(perc_ws_client_new(w->ws, &co, &ccbs, NULL, &err));
    g_clear_error(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_and_header, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_oversized_rejected, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_with_code, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_server_restart, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_http_hook, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_wss, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_bad_options_and_urls, world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
