/* The DTLS adapter over real UDP sockets on loopback, on the real
 * monotonic clock: handshake, EKTKey, ACK and close_notify, the way a
 * daemon would drive it (poll, pull until empty, next_timeout).
 *
 * tests/dtls_tshark.sh runs this program under a capture with
 *   PERC_DTLS_UDP_PORT  the server's port (default: any free one)
 *   PERC_DTLS_KEYLOG    a file for NSS key-log lines
 * and checks with tshark that the EKTKey record decrypts on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "perc/dtls.h"
#include "test_dtls_pair.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * TP_SECOND + (uint64_t)ts.tv_nsec;
}

static int udp_socket(uint16_t port, struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons(port);
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    return fd;
}

static void keylog_to_file(void *user, const char *line)
{
    FILE *f = user;
    fprintf(f, "%s\n", line);
    fflush(f);
}

/* Sends what d has queued, reads what arrived, runs due timers. */
static void service(tp_peer *p, int fd, uint64_t now)
{
    uint8_t buf[PERC_DTLS_MAX_DATAGRAM];
    size_t len;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        int rc = perc_dtls_recv(p->d, buf, (size_t)n, now);
        assert_true(rc == PERC_OK || rc == PERC_ERR_STATE);
    }
    if (perc_dtls_next_timeout(p->d) <= now)
        assert_true(perc_dtls_on_timeout(p->d, now) == PERC_OK ||
                    perc_dtls_get_state(p->d) >= PERC_DTLS_FAILED);
    for (;;) {
        assert_int_equal(perc_dtls_pull(p->d, buf, sizeof buf, &len), PERC_OK);
        if (len == 0)
            break;
        assert_int_equal(send(fd, buf, len, 0), (ssize_t)len);
    }
}

static void test_dtls_over_udp(void **state)
{
    (void)state;
    const char *port_env = getenv("PERC_DTLS_UDP_PORT");
    const char *keylog_path = getenv("PERC_DTLS_KEYLOG");
    FILE *keylog = keylog_path ? fopen(keylog_path, "w") : NULL;
    assert_true(!keylog_path || keylog);

    struct sockaddr_in sa, ca;
    int sfd = udp_socket(port_env ? (uint16_t)atoi(port_env) : 0, &sa);
    int cfd = udp_socket(0, &ca);
    assert_int_equal(connect(sfd, (struct sockaddr *)&ca, sizeof ca), 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof sa), 0);

    tp_pair p;
    tp_init(&p);
    perc_ekt_key_msg m = tp_ekt_msg(0x0606, 16, 0x5C);
    p.s.send_on_connect = &m;
    p.now = mono_ns();
    perc_dtls_ctx_config cc = {p.c.cert, p.c.key, keylog ? keylog_to_file : NULL, keylog};
    assert_int_equal(perc_dtls_ctx_new(&cc, &p.c.ctx), PERC_OK);
    perc_dtls_callbacks cbs = {&p.c,        tp_on_connected, tp_on_ekt_key,
                               tp_on_acked, tp_on_closed,    NULL};
    assert_int_equal(perc_dtls_new(p.c.ctx, &p.c.cfg, &cbs, &p.c.d), PERC_OK);
    tp_create_peer(&p.s, false);

    assert_int_equal(perc_dtls_start(p.c.d, p.now), PERC_OK);
    bool closing = false;
    uint64_t give_up = p.now + 10 * TP_SECOND;
    while (p.s.n_closed == 0 && p.now < give_up) {
        service(&p.c, cfd, p.now);
        service(&p.s, sfd, p.now);
        if (!closing && p.s.n_acked == 1) {
            /* done: the client says goodbye, over the same path */
            assert_int_equal(perc_dtls_close(p.c.d, p.now), PERC_OK);
            service(&p.c, cfd, p.now);
            closing = true;
        }
        uint64_t next = perc_dtls_next_timeout(p.c.d);
        uint64_t next_s = perc_dtls_next_timeout(p.s.d);
        next = next < next_s ? next : next_s;
        int wait_ms = 20;
        if (next != UINT64_MAX && next > p.now && (next - p.now) / 1000000u < 20)
            wait_ms = (int)((next - p.now) / 1000000u) + 1;
        struct pollfd pf[2] = {{sfd, POLLIN, 0}, {cfd, POLLIN, 0}};
        (void)poll(pf, 2, wait_ms);
        p.now = mono_ns();
    }
    assert_int_equal(p.c.n_connected, 1);
    assert_int_equal(p.s.n_connected, 1);
    assert_int_equal(p.c.n_ekt, 1);
    assert_true(tp_ekt_equal(&p.c.ekt[0], &m));
    assert_int_equal(p.s.n_acked, 1);
    assert_int_equal(p.s.acked[0], 0x0606);
    assert_int_equal(p.s.n_closed, 1);
    assert_int_equal(p.s.closed.reason, PERC_DTLS_REASON_PEER_CLOSE);

    tp_free(&p);
    close(sfd);
    close(cfd);
    if (keylog)
        fclose(keylog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtls_over_udp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
