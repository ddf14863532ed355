/* The process tests' child helpers (daemon_test_proc.h): a spawned child's
 * output lands in its log and its exit code comes back; kill_all leaves
 * nothing running; dt_proc_run separates stdout, stderr and the exit code
 * and can clear the environment; dt_text_has_hex finds a secret in each
 * of its three spellings and nothing else. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "daemon_test_proc.h"
#include "daemon_test_util.h"

static void test_spawn_logs_and_exit_code(void **state)
{
    (void)state;
    char *dir = dt_tmpdir_new();
    char *log = g_build_filename(dir, "child.log", NULL);
    const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; echo \"$DT_X\"; exit 3",
                          NULL};
    pid_t pid = dt_proc_spawn(argv, log, "DT_X", "from-env");
    assert_true(pid > 0);
    assert_int_equal(dt_proc_wait(pid), 3);
    char *text = dt_read_file(log);
    assert_non_null(strstr(text, "out\n"));
    assert_non_null(strstr(text, "err\n"));
    assert_non_null(strstr(text, "from-env\n"));
    g_free(text);
    /* Not a child any more: an error, not a hang. */
    assert_int_equal(dt_proc_wait(pid), -1);

    /* A binary that does not exist: the child exits 127. */
    const char *none[] = {"/nonexistent/perc-binary", NULL};
    pid = dt_proc_spawn(none, log, NULL, NULL);
    assert_true(pid > 0);
    assert_int_equal(dt_proc_wait(pid), 127);
    /* A log that cannot be created: -1, nothing started. */
    assert_int_equal(dt_proc_spawn(argv, "/nonexistent/dir/x.log", NULL, NULL), -1);

    (void)g_remove(log);
    g_free(log);
    dt_tmpdir_free(dir);
}

static void test_kill_all_and_wait_for(void **state)
{
    (void)state;
    const char *sleeper[] = {"/bin/sleep", "30", NULL};
    pid_t a = dt_proc_spawn(sleeper, "/dev/null", NULL, NULL);
    pid_t b = dt_proc_spawn(sleeper, "/dev/null", NULL, NULL);
    assert_true(a > 0 && b > 0);
    assert_int_equal(dt_proc_wait_for(a, 50), -2); /* still running */
    assert_int_equal(kill(a, 0), 0);
    dt_proc_kill_all();
    /* Both reaped: no such child any more. */
    assert_int_equal(waitpid(a, NULL, WNOHANG), -1);
    assert_int_equal(waitpid(b, NULL, WNOHANG), -1);

    /* wait_for gives the code of one that ends in time. */
    const char *quick[] = {"/bin/sh", "-c", "exit 5", NULL};
    pid_t c = dt_proc_spawn(quick, "/dev/null", NULL, NULL);
    assert_int_equal(dt_proc_wait_for(c, 5000), 5);

    /* A full table refuses the next spawn instead of forgetting a child. */
    pid_t many[DT_PROC_MAX];
    for (int i = 0; i < DT_PROC_MAX; i++) {
        many[i] = dt_proc_spawn(sleeper, "/dev/null", NULL, NULL);
        assert_true(many[i] > 0);
    }
    assert_int_equal(dt_proc_spawn(sleeper, "/dev/null", NULL, NULL), -1);
    dt_proc_kill_all();
    for (int i = 0; i < DT_PROC_MAX; i++)
        assert_int_equal(waitpid(many[i], NULL, WNOHANG), -1);
}

static void test_run(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    setenv("PERC_DT_SECRET", "inherited", 1);
    const char *args[] = {"-c", "echo \"o:$PERC_DT_SECRET\"; echo e >&2; exit 2", NULL};
    assert_int_equal(dt_proc_run("/bin/sh", args, false, &out, &err), 2);
    assert_string_equal(out, "o:inherited\n");
    assert_string_equal(err, "e\n");
    g_free(out);
    g_free(err);
    /* A clean environment: the caller's variable is gone. */
    assert_int_equal(dt_proc_run("/bin/sh", args, true, &out, NULL), 2);
    assert_string_equal(out, "o:\n");
    g_free(out);
    unsetenv("PERC_DT_SECRET");
    assert_int_equal(dt_proc_run("/nonexistent/perc-binary", NULL, true, NULL, NULL), -1);
}

static void test_text_has_hex(void **state)
{
    (void)state;
    const uint8_t key[10] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    assert_true(dt_text_has_hex("key=deadbeef01234567", key, sizeof key));
    assert_true(dt_text_has_hex("KEY DEADBEEF01234567 x", key, sizeof key));
    assert_true(dt_text_has_hex("fp DE:AD:BE:EF:01:23:45:67", key, sizeof key));
    /* Seven octets are not enough for a ten-octet secret. */
    assert_false(dt_text_has_hex("deadbeef012345", key, sizeof key));
    assert_false(dt_text_has_hex("DE:AD:BE:EF:01:23:45", key, sizeof key));
    /* A short secret is looked for whole. */
    assert_true(dt_text_has_hex("..beef..", key + 2, 2));
    assert_false(dt_text_has_hex("anything", key, 0));
    assert_false(dt_text_has_hex(NULL, key, sizeof key));
}

int main(void)
{
    dt_proc_set_timeout(50, "daemon_test_child_procs");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_logs_and_exit_code),
        cmocka_unit_test(test_kill_all_and_wait_for),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_text_has_hex),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    dt_proc_kill_all();
    return rc;
}
