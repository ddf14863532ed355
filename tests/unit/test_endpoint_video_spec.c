/* perc-endpoint's --video WxH@FPS:KBPS parser (endpoint/video_spec.c):
 * good values, bounds, every truncation, trailing bytes, junk. The parser
 * is a pure function of its text, compiled in here from the program's
 * source (the program itself is not a library). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../endpoint/video_spec.c"

static void test_good(void **state)
{
    (void)state;
    ep_video_spec v;
    char why[160];
    assert_true(ep_video_spec_parse("640x360@30:800", &v, why, sizeof why));
    assert_int_equal(v.width, 640);
    assert_int_equal(v.height, 360);
    assert_int_equal(v.fps, 30);
    assert_int_equal(v.kbps, 800);
    assert_int_equal(ep_video_frame_bytes(&v), 800000 / 8 / 30);
    assert_true(ep_video_spec_parse("1280X720@60:2500", &v, NULL, 0));
    assert_int_equal(v.width, 1280);
    assert_true(ep_video_spec_parse("16x16@1:8", &v, why, sizeof why));
    assert_int_equal(ep_video_frame_bytes(&v), 1000);
    assert_true(ep_video_spec_parse("7680x7680@120:4000", &v, why, sizeof why));
    /* Leading zeros are digits like any other. */
    assert_true(ep_video_spec_parse("0640x0360@030:0800", &v, why, sizeof why));
    assert_int_equal(v.kbps, 800);
}

static void expect_bad(const char *text, const char *needle)
{
    ep_video_spec v = {1, 2, 3, 4};
    char why[160] = "";
    if (ep_video_spec_parse(text, &v, why, sizeof why))
        fail_msg("'%s' was accepted", text);
    assert_int_equal(v.width, 0);
    assert_int_equal(v.height, 0);
    assert_int_equal(v.fps, 0);
    assert_int_equal(v.kbps, 0);
    if (needle && !strstr(why, needle))
        fail_msg("'%s': reason '%s' lacks '%s'", text, why, needle);
}

static void test_bounds(void **state)
{
    (void)state;
    expect_bad("15x360@30:800", "16..7680");
    expect_bad("640x7681@30:800", "16..7680");
    expect_bad("640x360@0:800", "1..120");
    expect_bad("640x360@121:800", "1..120");
    expect_bad("640x360@30:7", "8..100000");
    expect_bad("640x360@30:100001", "8..100000");
    /* 100 Mbit/s at 1 fps: 12.5 MB a frame, far beyond the packet budget. */
    expect_bad("640x360@1:100000", "too many bits per frame");
    /* More than 9 digits never overflows into a small number. */
    expect_bad("4294967936x360@30:800", "width");
    expect_bad("640x360@30:4294967304", "bit rate");
}

static void test_junk(void **state)
{
    (void)state;
    expect_bad("", "width");
    expect_bad(NULL, "no value");
    expect_bad("x", "width");
    expect_bad("640*360@30:800", "'x'");
    expect_bad("640x360/30:800", "'@FPS'");
    expect_bad("640x360@30/800", "':KBPS'");
    expect_bad("-640x360@30:800", "width");
    expect_bad("+640x360@30:800", "width");
    expect_bad(" 640x360@30:800", "width");
    expect_bad("640 x360@30:800", "'x'");
    expect_bad("640x360@30: 800", "bit rate");
    assert_false(ep_video_spec_parse("640x360@30:800", NULL, NULL, 0));
}

/* Every truncation of a spec whose last field is one digit fails; of one
 * with a longer KBPS, the prefixes inside KBPS parse as the smaller rate
 * they spell (or fail its lower bound), never as something else. */
static void test_truncations(void **state)
{
    (void)state;
    const char *full = "1280x720@30:9";
    char buf[32];
    for (size_t n = 0; n < strlen(full); n++) {
        memcpy(buf, full, n);
        buf[n] = '\0';
        expect_bad(buf, NULL);
    }
    const char *rate = "640x360@30:8000";
    size_t colon = strchr(rate, ':') - rate;
    for (size_t n = 0; n < strlen(rate); n++) {
        memcpy(buf, rate, n);
        buf[n] = '\0';
        ep_video_spec v;
        bool ok = ep_video_spec_parse(buf, &v, NULL, 0);
        if (n <= colon + 1) {
            assert_false(ok);
            continue;
        }
        unsigned want = 0;
        assert_int_equal(sscanf(buf + colon + 1, "%u", &want), 1);
        assert_int_equal(ok, want >= EP_VIDEO_MIN_KBPS);
        if (ok)
            assert_int_equal(v.kbps, want);
    }
}

static void test_trailing(void **state)
{
    (void)state;
    expect_bad("640x360@30:800x", "after KBPS");
    expect_bad("640x360@30:800 ", "after KBPS");
    expect_bad("640x360@30:800\n", "after KBPS");
    expect_bad("640x360@30:800:1", "after KBPS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_trailing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
