/* perc_daemon/log.h: levels, line format, the sink, sanitizing, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "perc_daemon/log.h"

typedef struct captured {
    int n;
    perc_log_level levels[16];
    char lines[16][PERC_LOG_LINE_MAX + 1];
} captured;

static void sink(void *user, perc_log_level level, const char *line)
{
    captured *c = user;
    if (c->n < 16) {
        c->levels[c->n] = level;
        g_strlcpy(c->lines[c->n], line, sizeof c->lines[c->n]);
    }
    c->n++;
}

static int setup(void **state)
{
    (void)state;
    perc_log_init("perc-test", PERC_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    perc_log_set_sink(NULL, NULL);
    return 0;
}

static void test_levels_filter(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    perc_log_set_level(PERC_LOG_WARN);
    perc_log_error("e %d", 1);
    perc_log_warn("w %d", 2);
    perc_log_info("i %d", 3);
    perc_log_debug("d %d", 4);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.levels[0], PERC_LOG_ERROR);
    assert_int_equal(c.levels[1], PERC_LOG_WARN);
    assert_non_null(strstr(c.lines[0], " error: e 1"));
    assert_non_null(strstr(c.lines[1], " warn: w 2"));
    assert_true(perc_log_enabled(PERC_LOG_WARN));
    assert_false(perc_log_enabled(PERC_LOG_INFO));

    perc_log_set_level(PERC_LOG_DEBUG);
    perc_log_debug("now %s", "visible");
    assert_int_equal(c.n, 3);
    assert_int_equal(c.levels[2], PERC_LOG_DEBUG);
    assert_int_equal(perc_log_get_level(), PERC_LOG_DEBUG);
}

static void test_line_format(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    perc_log_set_level(PERC_LOG_INFO);
    perc_log_init("/usr/bin/perc-kmf", PERC_LOG_INFO);
    perc_log_info("hello");
    assert_int_equal(c.n, 1);
    /* "<seconds>.<6 digits> perc-kmf[<pid>] info: hello" */
    const char *l = c.lines[0];
    const char *dot = strchr(l, '.');
    assert_non_null(dot);
    for (const char *p = l; p < dot; p++)
        assert_true(g_ascii_isdigit(*p));
    for (int i = 1; i <= 6; i++)
        assert_true(g_ascii_isdigit(dot[i]));
    assert_int_equal(dot[7], ' ');
    assert_non_null(strstr(l, " perc-kmf["));
    assert_non_null(strstr(l, "] info: hello"));
    assert_int_equal(l[strlen(l) - 1], 'o');
    perc_log_init("perc-test", PERC_LOG_INFO);
}

static void test_control_chars_and_truncation(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    perc_log_info("peer said: %s", "bye\n12345.0 perc-kmf[1] error: forged\x1b[2J");
    assert_int_equal(c.n, 1);
    assert_null(strchr(c.lines[0], '\n'));
    assert_null(strchr(c.lines[0], '\x1b'));
    assert_non_null(strstr(c.lines[0], "bye?12345.0"));

    char big[PERC_LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    perc_log_info("%s", big);
    assert_int_equal(c.n, 2);
    size_t n = strlen(c.lines[1]);
    assert_true(n <= PERC_LOG_LINE_MAX);
    assert_string_equal(c.lines[1] + n - 3, "...");
}

static void test_hex_public(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    const uint8_t spi[] = {0x00, 0x01, 0xab, 0xff};
    perc_log_hex_public(PERC_LOG_INFO, "spi", spi, sizeof spi);
    assert_non_null(strstr(c.lines[0], "spi (4 bytes): 0001abff"));
    uint8_t many[100];
    memset(many, 0x11, sizeof many);
    perc_log_hex_public(PERC_LOG_INFO, "hdr", many, sizeof many);
    assert_non_null(strstr(c.lines[1], "hdr (100 bytes): 1111"));
    assert_string_equal(c.lines[1] + strlen(c.lines[1]) - 3, "...");
    /* Below the level: nothing, not even formatting. */
    perc_log_hex_public(PERC_LOG_DEBUG, "hdr", many, sizeof many);
    assert_int_equal(c.n, 2);
}

static void test_level_parse(void **state)
{
    (void)state;
    perc_log_level l = PERC_LOG_INFO;
    assert_true(perc_log_level_parse("DEBUG", &l));
    assert_int_equal(l, PERC_LOG_DEBUG);
    assert_true(perc_log_level_parse("warning", &l));
    assert_int_equal(l, PERC_LOG_WARN);
    assert_true(perc_log_level_parse("error", &l));
    assert_int_equal(l, PERC_LOG_ERROR);
    assert_false(perc_log_level_parse("loud", &l));
    assert_false(perc_log_level_parse("", &l));
    assert_false(perc_log_level_parse(NULL, &l));
    assert_int_equal(l, PERC_LOG_ERROR);
    assert_string_equal(perc_log_level_name(PERC_LOG_INFO), "info");
    assert_string_equal(perc_log_level_name((perc_log_level)9), "?");
}

static void test_sink_removed_goes_to_stderr(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    perc_log_set_sink(NULL, NULL);
    perc_log_info("this line goes to stderr (expected in the test output)");
    assert_int_equal(c.n, 0);
}

static void test_limited(void **state)
{
    (void)state;
    captured c = {0};
    perc_log_set_sink(sink, &c);
    perc_log_limiter lim = {0};
    for (int i = 0; i < 50; i++)
        perc_log_limited(&lim, PERC_LOG_WARN, "garbage %d", i);
    assert_int_equal(c.n, PERC_LOG_LIMIT_BURST);
    assert_non_null(strstr(c.lines[PERC_LOG_LIMIT_BURST - 1], "garbage 4"));
    assert_int_equal(lim.suppressed, 50 - PERC_LOG_LIMIT_BURST);
    /* A new window: the next line says how many were suppressed. */
    lim.window_start_us -= (int64_t)PERC_LOG_LIMIT_WINDOW_S * G_USEC_PER_SEC;
    perc_log_limited(&lim, PERC_LOG_WARN, "garbage again");
    assert_int_equal(c.n, PERC_LOG_LIMIT_BURST + 1);
    assert_non_null(strstr(c.lines[PERC_LOG_LIMIT_BURST], "garbage again (45 similar lines suppressed)"));
    /* Below the level: neither logged nor counted. */
    perc_log_limiter quiet = {0};
    perc_log_limited(&quiet, PERC_LOG_DEBUG, "x");
    assert_int_equal(quiet.lines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_levels_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_chars_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_removed_goes_to_stderr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limited, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
