/* Monotonic clock and deadline timer (see perc_daemon/clock.h). */
#include "perc_daemon/clock.h"

uint64_t perc_clock_now_ns(void)
{
    return (uint64_t)g_get_monotonic_time() * UINT64_C(1000);
}

typedef struct deadline_source {
    GSource base;
    perc_deadline_timer *timer;
} deadline_source;

struct perc_deadline_timer {
    deadline_source *src;
    perc_deadline_fn fn;
    void *user;
    uint64_t deadline; /* PERC_DEADLINE_NONE: disarmed */
};

static gboolean deadline_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb, (void)data;
    perc_deadline_timer *t = ((deadline_source *)source)->timer;
    if (!t)
        return G_SOURCE_REMOVE;
    /* One shot: disarm first, so the callback can re-arm, cancel or free.
     * Nothing here touches t after the call. */
    g_source_set_ready_time(source, -1);
    t->deadline = PERC_DEADLINE_NONE;
    perc_deadline_fn fn = t->fn;
    void *user = t->user;
    if (fn)
        fn(user, perc_clock_now_ns());
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadline_funcs = {
    .prepare = NULL,
    .check = NULL,
    .dispatch = deadline_dispatch,
    .finalize = NULL,
};

perc_deadline_timer *perc_deadline_timer_new(GMainContext *ctx, perc_deadline_fn fn, void *user)
{
    perc_deadline_timer *t = g_new0(perc_deadline_timer, 1);
    t->fn = fn;
    t->user = user;
    t->deadline = PERC_DEADLINE_NONE;
    t->src = (deadline_source *)g_source_new(&deadline_funcs, sizeof(deadline_source));
    t->src->timer = t;
    g_source_set_name(&t->src->base, "perc-deadline-timer");
    g_source_set_ready_time(&t->src->base, -1);
    g_source_attach(&t->src->base, ctx);
    return t;
}

void perc_deadline_timer_arm(perc_deadline_timer *t, uint64_t deadline_ns)
{
    g_return_if_fail(t != NULL);
    if (deadline_ns == PERC_DEADLINE_NONE) {
        perc_deadline_timer_cancel(t);
        return;
    }
    t->deadline = deadline_ns;
    /* Round up to the microsecond the source works in, so the callback's
     * now is never before the deadline. */
    uint64_t us = deadline_ns / 1000 + (deadline_ns % 1000 ? 1 : 0);
    if (us > (uint64_t)G_MAXINT64)
        us = (uint64_t)G_MAXINT64;
    g_source_set_ready_time(&t->src->base, (gint64)us);
}

void perc_deadline_timer_arm_in_ms(perc_deadline_timer *t, uint64_t delay_ms)
{
    uint64_t now = perc_clock_now_ns();
    uint64_t delta = delay_ms > (UINT64_MAX - 1 - now) / PERC_NSEC_PER_MSEC
                         ? UINT64_MAX - 1 - now
                         : delay_ms * PERC_NSEC_PER_MSEC;
    perc_deadline_timer_arm(t, now + delta);
}

void perc_deadline_timer_cancel(perc_deadline_timer *t)
{
    g_return_if_fail(t != NULL);
    t->deadline = PERC_DEADLINE_NONE;
    g_source_set_ready_time(&t->src->base, -1);
}

bool perc_deadline_timer_is_armed(const perc_deadline_timer *t)
{
    return t && t->deadline != PERC_DEADLINE_NONE;
}

uint64_t perc_deadline_timer_deadline(const perc_deadline_timer *t)
{
    return t ? t->deadline : PERC_DEADLINE_NONE;
}

void perc_deadline_timer_free(perc_deadline_timer *t)
{
    if (!t)
        return;
    /* Destroying a source from inside its own dispatch is fine in GLib: the
     * dispatcher holds a reference until dispatch returns. */
    t->src->timer = NULL;
    g_source_destroy(&t->src->base);
    g_source_unref(&t->src->base);
    g_free(t);
}
