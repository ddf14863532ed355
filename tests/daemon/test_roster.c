/* perc-kmf's roster file parser (kmf/roster.c, compiled in here) against a
 * real KMF core: a good roster makes its conferences with their policies;
 * every truncation of it and every kind of mistake is refused with a
 * message naming the file and the mistake; a missing file is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../kmf/roster.c"

#include "daemon_test_util.h"
#include "perc/dtls.h"

#define PATH "roster.json"
#define FP "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F"

static perc_dtls_ctx *g_ctx;

static int fixed_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    memset(buf, 0x5A, len);
    return 0;
}

typedef struct roster_run {
    perc_kmf *kmf;
    GHashTable *confs;
    GError *err;
    gboolean ok;
} roster_run;

static roster_run run_text(const char *text, size_t len)
{
    perc_kmf_config cfg;
    perc_kmf_config_init(&cfg);
    cfg.dtls_ctx = g_ctx;
    cfg.random = fixed_random;
    roster_run r = {NULL, NULL, NULL, FALSE};
    assert_int_equal(perc_kmf_new(&cfg, &r.kmf), PERC_OK);
    r.confs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r.ok = kmf_roster_apply(r.kmf, r.confs, PATH, text, len, &r.err);
    assert_true(r.ok == (r.err == NULL));
    return r;
}

static void run_free(roster_run *r)
{
    if (r->err)
        g_error_free(r->err);
    g_hash_table_destroy(r->confs);
    perc_kmf_free(r->kmf);
}

/* text is refused with a message naming the file and containing why. */
static void expect_refused(const char *text, const char *why)
{
    roster_run r = run_text(text, strlen(text));
    if (r.ok)
        fail_msg("accepted: %s", text);
    if (!g_str_has_prefix(r.err->message, "--roster: " PATH ": ") || !strstr(r.err->message, why))
        fail_msg("for %s: message '%s' does not name '%s'", text, r.err->message, why);
    run_free(&r);
}

static const char GOOD[] =
    "{\"conferences\": {\"standup\": {\"open\": false, \"allow\": [{\"identity\": \"alice\"},"
    " {\"fingerprint\": \"" FP "\"}, {\"identity\": \"bob\", \"fingerprint\": \"sha-256 " FP
    "\"}]}, \"lobby\": {\"open\": true}}}\n";

static void test_good_roster(void **state)
{
    (void)state;
    roster_run r = run_text(GOOD, strlen(GOOD));
    assert_true(r.ok);
    assert_int_equal(g_hash_table_size(r.confs), 2);
    perc_kmf_conference_info ci;
    assert_int_equal(perc_kmf_conference_info_get(r.kmf, "standup", &ci), PERC_OK);
    assert_true(ci.explicit_conference);
    assert_false(ci.open);
    assert_int_equal(ci.n_roster, 3);
    assert_int_equal(perc_kmf_conference_info_get(r.kmf, "lobby", &ci), PERC_OK);
    assert_true(ci.open);
    assert_int_equal(perc_kmf_conference_info_get(r.kmf, "other", &ci), PERC_ERR_NOT_FOUND);
    run_free(&r);
}

/* No proper prefix of a roster is a roster; the text is handed over in a
 * buffer of exactly the prefix's length (no NUL), as the fuzz target does. */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t n = strlen(GOOD);
    for (size_t len = 0; len + 1 < n; len++) {
        char *copy = g_malloc(len ? len : 1);
        memcpy(copy, GOOD, len);
        roster_run r = run_text(copy, len);
        if (r.ok)
            fail_msg("a %zu-octet prefix was accepted", len);
        assert_true(g_str_has_prefix(r.err->message, "--roster: " PATH ": not JSON"));
        run_free(&r);
        g_free(copy);
    }
}

static void test_mistakes_are_named(void **state)
{
    (void)state;
    expect_refused("", "not JSON");
    expect_refused("{\"conferences\": {}} {}", "data after the value");
    expect_refused("[1]", "needs {\"conferences\"");
    expect_refused("{\"conferences\": []}", "needs {\"conferences\"");
    expect_refused("{\"conferences\": {\"c\": {\"open\": true}, \"c\": {\"open\": true}}}",
                   "conference \"c\" given twice");
    expect_refused("{\"conferences\": {\"c\": 1}}", "conference \"c\": not an object");
    expect_refused("{\"conferences\": {\"c\": {\"open\": true, \"mode\": 1}}}",
                   "unknown member \"mode\"");
    expect_refused("{\"conferences\": {\"c\": {\"open\": \"yes\"}}}",
                   "\"open\" must be true or false");
    expect_refused("{\"conferences\": {\"c\": {\"open\": true, \"allow\": []}}}",
                   "\"allow\" makes no sense when open");
    expect_refused("{\"conferences\": {\"c\": {}}}", "needs an \"allow\" array");
    expect_refused("{\"conferences\": {\"c\": {\"allow\": [7]}}}", "allow[0] is not an object");
    expect_refused("{\"conferences\": {\"c\": {\"allow\": [{\"identity\": \"a\"}, {}]}}}",
                   "allow[1] needs identity or fingerprint");
    expect_refused("{\"conferences\": {\"c\": {\"allow\": [{\"identity\": \"\"}]}}}",
                   "allow[0].identity: not a string");
    expect_refused("{\"conferences\": {\"c\": {\"allow\": [{\"fingerprint\": \"AB:CD\"}]}}}",
                   "allow[0].fingerprint: not a SHA-256 fingerprint");
    expect_refused("{\"conferences\": {\"c\": {\"allow\": [{\"identity\": \"a\", \"role\": 1}]}}}",
                   "allow[0]: unknown member \"role\"");
    /* A name the core refuses (a control character) is reported by the core. */
    expect_refused("{\"conferences\": {\"a\\nb\": {\"open\": true}}}", "conference \"a\nb\"");

    /* A NUL inside the text. */
    static const char with_nul[] = "{\"conferences\": {}}\0 ";
    roster_run r = run_text(with_nul, sizeof with_nul - 1);
    assert_false(r.ok);
    assert_non_null(strstr(r.err->message, "contains a NUL byte"));
    run_free(&r);

    /* Size limits: the file, and the entries of one conference. */
    char *big = g_malloc(ROSTER_MAX_FILE + 1);
    memset(big, ' ', ROSTER_MAX_FILE + 1);
    r = run_text(big, ROSTER_MAX_FILE + 1);
    assert_false(r.ok);
    assert_non_null(strstr(r.err->message, "larger than"));
    run_free(&r);
    g_free(big);
    GString *many = g_string_new("{\"conferences\": {\"c\": {\"allow\": [");
    for (int i = 0; i <= ROSTER_MAX_ENTRIES; i++)
        g_string_append_printf(many, "%s{\"identity\": \"u%d\"}", i ? ", " : "", i);
    g_string_append(many, "]}}}");
    expect_refused(many->str, "more than 4096 entries");
    g_string_free(many, TRUE);
}

static void test_load_names_a_missing_file(void **state)
{
    (void)state;
    perc_kmf_config cfg;
    perc_kmf_config_init(&cfg);
    cfg.dtls_ctx = g_ctx;
    cfg.random = fixed_random;
    perc_kmf *kmf;
    assert_int_equal(perc_kmf_new(&cfg, &kmf), PERC_OK);
    GHashTable *confs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GError *err = NULL;
    assert_false(kmf_roster_load(kmf, confs, "/nonexistent/roster.json", &err));
    assert_non_null(err);
    assert_true(g_str_has_prefix(err->message, "--roster: /nonexistent/roster.json: "));
    g_error_free(err);

    /* And a file that is there is read whole. */
    char *dir = dt_tmpdir_new();
    char *path = g_build_filename(dir, "roster.json", NULL);
    assert_true(g_file_set_contents(path, GOOD, -1, NULL));
    assert_true(kmf_roster_load(kmf, confs, path, &err));
    assert_int_equal(g_hash_table_size(confs), 2);
    (void)remove(path);
    g_free(path);
    dt_tmpdir_free(dir);
    g_hash_table_destroy(confs);
    perc_kmf_free(kmf);
}

static int setup(void **state)
{
    (void)state;
    perc_log_init("daemon_test_roster", PERC_LOG_ERROR);
    X509 *cert;
    EVP_PKEY *key;
    assert_int_equal(perc_dtls_identity_generate("roster-test", &cert, &key), PERC_OK);
    perc_dtls_ctx_config cc = {cert, key, NULL, NULL};
    assert_int_equal(perc_dtls_ctx_new(&cc, &g_ctx), PERC_OK);
    X509_free(cert);
    EVP_PKEY_free(key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    perc_dtls_ctx_free(g_ctx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_roster),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_mistakes_are_named),
        cmocka_unit_test(test_load_names_a_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
