/* perc_daemon/clock.h and rand.h: the monotonic clock, the deadline timer
 * (order, re-arming, cancel, past deadlines, freeing from its callback),
 * and the randomness callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/rand.h"

typedef struct fired {
    int order[16];
    uint64_t now[16];
    int n;
} fired;

typedef struct tctx {
    fired *log;
    int id;
    uint64_t deadline;
    int rearm_left;
    uint64_t rearm_step_ns;
    perc_deadline_timer *t;
    gboolean free_self;
} tctx;

static void on_fire(void *user, uint64_t now)
{
    tctx *c = user;
    assert_true(now >= c->deadline);
    assert_false(perc_deadline_timer_is_armed(c->t));
    if (c->log->n < 16) {
        c->log->order[c->log->n] = c->id;
        c->log->now[c->log->n] = now;
    }
    c->log->n++;
    if (c->rearm_left > 0) {
        c->rearm_left--;
        c->deadline = now + c->rearm_step_ns;
        perc_deadline_timer_arm(c->t, c->deadline);
    }
    if (c->free_self) {
        perc_deadline_timer_free(c->t);
        c->t = NULL;
    }
}

static void test_clock_monotonic(void **state)
{
    (void)state;
    uint64_t a = perc_clock_now_ns();
    g_usleep(2000);
    uint64_t b = perc_clock_now_ns();
    assert_true(b > a);
    assert_true(b - a >= 2 * PERC_NSEC_PER_MSEC);
    assert_int_equal(a % 1000, 0); /* microsecond resolution, scaled */
}

static void test_fires_in_order(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    fired log = {0};
    tctx c[3];
    const uint64_t delays_ms[3] = {30, 10, 20};
    uint64_t now = perc_clock_now_ns();
    for (int i = 0; i < 3; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].log = &log;
        c[i].id = i;
        c[i].t = perc_deadline_timer_new(ctx, on_fire, &c[i]);
        c[i].deadline = now + delays_ms[i] * PERC_NSEC_PER_MSEC;
        perc_deadline_timer_arm(c[i].t, c[i].deadline);
        assert_true(perc_deadline_timer_is_armed(c[i].t));
        assert_int_equal(perc_deadline_timer_deadline(c[i].t), c[i].deadline);
    }
    assert_true(dt_wait_count(ctx, &log.n, 3, 3000));
    assert_int_equal(log.order[0], 1);
    assert_int_equal(log.order[1], 2);
    assert_int_equal(log.order[2], 0);
    assert_true(log.now[0] <= log.now[1] && log.now[1] <= log.now[2]);
    dt_spin(ctx, 30);
    assert_int_equal(log.n, 3); /* one shot each */
    for (int i = 0; i < 3; i++)
        perc_deadline_timer_free(c[i].t);
    g_main_context_unref(ctx);
}

static void test_rearm_from_callback_and_replace(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    fired log = {0};
    tctx c = {.log = &log, .id = 7, .rearm_left = 3, .rearm_step_ns = 5 * PERC_NSEC_PER_MSEC};
    c.t = perc_deadline_timer_new(ctx, on_fire, &c);
    /* Arm far away, then replace with a nearer deadline: only that counts. */
    perc_deadline_timer_arm(c.t, perc_clock_now_ns() + 60 * PERC_NSEC_PER_SEC);
    c.deadline = perc_clock_now_ns() + 5 * PERC_NSEC_PER_MSEC;
    perc_deadline_timer_arm(c.t, c.deadline);
    assert_true(dt_wait_count(ctx, &log.n, 4, 3000));
    for (int i = 1; i < 4; i++)
        assert_true(log.now[i] - log.now[i - 1] >= 5 * PERC_NSEC_PER_MSEC);
    assert_false(perc_deadline_timer_is_armed(c.t));
    assert_int_equal(perc_deadline_timer_deadline(c.t), PERC_DEADLINE_NONE);
    dt_spin(ctx, 20);
    assert_int_equal(log.n, 4);

    /* Re-armable after having fired; arm_in_ms works too. */
    c.deadline = perc_clock_now_ns();
    perc_deadline_timer_arm_in_ms(c.t, 3);
    assert_true(dt_wait_count(ctx, &log.n, 5, 3000));
    perc_deadline_timer_free(c.t);
    g_main_context_unref(ctx);
}

static void test_cancel_none_and_past(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    fired log = {0};
    tctx c = {.log = &log};
    c.t = perc_deadline_timer_new(ctx, on_fire, &c);
    perc_deadline_timer_arm(c.t, perc_clock_now_ns() + 5 * PERC_NSEC_PER_MSEC);
    perc_deadline_timer_cancel(c.t);
    assert_false(perc_deadline_timer_is_armed(c.t));
    perc_deadline_timer_arm(c.t, perc_clock_now_ns() + 5 * PERC_NSEC_PER_MSEC);
    perc_deadline_timer_arm(c.t, PERC_DEADLINE_NONE); /* "no timer" from a core */
    assert_false(perc_deadline_timer_is_armed(c.t));
    dt_spin(ctx, 30);
    assert_int_equal(log.n, 0);

    /* A deadline in the past fires on the next iteration, not inside arm. */
    c.deadline = 0;
    perc_deadline_timer_arm(c.t, 1);
    assert_int_equal(log.n, 0);
    assert_true(dt_wait_count(ctx, &log.n, 1, 1000));

    /* Freed from inside its own callback. */
    c.free_self = TRUE;
    perc_deadline_timer_arm(c.t, 0);
    assert_true(dt_wait_count(ctx, &log.n, 2, 1000));
    assert_null(c.t);
    dt_spin(ctx, 10);
    perc_deadline_timer_free(NULL);
    g_main_context_unref(ctx);
}

static void test_random(void **state)
{
    (void)state;
    uint8_t a[64] = {0}, b[64] = {0}, zero[64] = {0};
    assert_int_equal(perc_daemon_random(NULL, a, sizeof a), PERC_OK);
    assert_int_equal(perc_daemon_random(NULL, b, sizeof b), PERC_OK);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(perc_daemon_random(NULL, NULL, 0), PERC_OK);
    assert_int_equal(perc_daemon_random(NULL, NULL, 4), PERC_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_monotonic),
        cmocka_unit_test(test_fires_in_order),
        cmocka_unit_test(test_rearm_from_callback_and_replace),
        cmocka_unit_test(test_cancel_none_and_past),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
