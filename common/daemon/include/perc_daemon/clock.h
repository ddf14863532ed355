/* Time for the daemons: the monotonic clock libperc's cores take as `now`,
 * and a deadline timer that turns the cores' "call me back at" into one
 * GLib source.
 *
 * The sans-I/O cores never read a clock; after every event a daemon asks a
 * core when it next needs attention (perc_x_next_timeout(), UINT64_MAX for
 * never) and re-arms its timer:
 *
 *     static void on_deadline(void *user, uint64_t now) {
 *         perc_dtls_on_timeout(d, now);
 *         pump(d);                                   // send what it produced
 *         perc_deadline_timer_arm(t, perc_dtls_next_timeout(d));
 *     }
 *
 * The timer is one GSource driven by g_source_set_ready_time(), so re-arming
 * it after every packet costs no allocation.
 */
#ifndef PERC_DAEMON_CLOCK_H
#define PERC_DAEMON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#define PERC_NSEC_PER_MSEC UINT64_C(1000000)
#define PERC_NSEC_PER_SEC UINT64_C(1000000000)
#define PERC_DEADLINE_NONE UINT64_MAX

/* CLOCK_MONOTONIC in nanoseconds: g_get_monotonic_time() * 1000 (so its
 * resolution is a microsecond). The `now` every libperc call takes. */
uint64_t perc_clock_now_ns(void);

typedef struct perc_deadline_timer perc_deadline_timer;

/* Called from the main loop once the armed deadline has passed; now_ns >=
 * the deadline. The timer is disarmed before the call, so the callback may
 * re-arm it, cancel it (no effect) or free it. */
typedef void (*perc_deadline_fn)(void *user, uint64_t now_ns);

/* A disarmed timer on `ctx` (NULL: the default main context). */
perc_deadline_timer *perc_deadline_timer_new(GMainContext *ctx, perc_deadline_fn fn, void *user);

/* Fires the callback once at deadline_ns (perc_clock_now_ns() time),
 * replacing any earlier arming. A deadline in the past fires on the next
 * main-loop iteration, never from inside this call. PERC_DEADLINE_NONE
 * (UINT64_MAX, what the cores return for "no timer") disarms. */
void perc_deadline_timer_arm(perc_deadline_timer *t, uint64_t deadline_ns);

/* Arms at now + delay_ms. */
void perc_deadline_timer_arm_in_ms(perc_deadline_timer *t, uint64_t delay_ms);

void perc_deadline_timer_cancel(perc_deadline_timer *t);

bool perc_deadline_timer_is_armed(const perc_deadline_timer *t);

/* The armed deadline, PERC_DEADLINE_NONE when disarmed. */
uint64_t perc_deadline_timer_deadline(const perc_deadline_timer *t);

/* Disarms and frees; safe from inside its own callback. NULL is fine. */
void perc_deadline_timer_free(perc_deadline_timer *t);

#endif
