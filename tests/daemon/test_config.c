/* perc_daemon/config.h and addr.h: precedence (command line, environment,
 * default), every type, errors that name the option, --help and
 * --version, HOST:PORT forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_test_util.h"
#include "perc_daemon/config.h"
#include "perc_daemon/error.h"

static const perc_opt opts[] = {
    {.name = "listen", .type = PERC_OPT_HOSTPORT, .def = "0.0.0.0:4433",
     .help = "where Media Distributors connect"},
    {.name = "connect", .type = PERC_OPT_HOSTPORT, .help = "the Key Distributor"},
    {.name = "name", .type = PERC_OPT_STRING, .def = "kmf-1", .help = "instance name"},
    {.name = "max-conferences", .type = PERC_OPT_UINT, .def = "64", .min = 1, .max = 1000,
     .help = "conference limit"},
    {.name = "foreground", .type = PERC_OPT_FLAG, .help = "stay in the foreground"},
    {.name = "cert", .type = PERC_OPT_FILE, .metavar = "PEM", .help = "our certificate"},
};

static const perc_config_spec spec = {
    .program = "perc-kmf",
    .version = "9.9.9",
    .summary = "PERC Key Management Function",
    .env_prefix = "PERC_KMF",
    .opts = opts,
    .n_opts = G_N_ELEMENTS(opts),
};

/* argv from a NULL-terminated list of arguments (g_strfreev). */
static char **vargv(const char *prog, va_list ap, int *argc)
{
    GPtrArray *a = g_ptr_array_new();
    g_ptr_array_add(a, g_strdup(prog));
    const char *s;
    while ((s = va_arg(ap, const char *)))
        g_ptr_array_add(a, g_strdup(s));
    *argc = (int)a->len;
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

static const char *const no_env[] = {NULL};

/* perc_config_parse on a NULL-terminated argument list. */
static perc_config *parse_with(const perc_config_spec *sp, const char *const *env,
                               perc_config_action *act, GError **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int argc;
    char **argv = vargv(sp->program, ap, &argc);
    va_end(ap);
    perc_config *cfg = perc_config_parse(sp, argc, argv, env, act, err);
    g_strfreev(argv);
    return cfg;
}

static perc_config *parse_ok(const char *const *env, ...)
{
    va_list ap;
    va_start(ap, env);
    int argc;
    char **argv = vargv("perc-kmf", ap, &argc);
    va_end(ap);
    GError *err = NULL;
    perc_config_action act = PERC_CONFIG_HELP;
    perc_config *cfg = perc_config_parse(&spec, argc, argv, env, &act, &err);
    g_strfreev(argv);
    if (!cfg)
        fail_msg("unexpected error: %s", err ? err->message : "(none)");
    assert_int_equal(act, PERC_CONFIG_RUN);
    return cfg;
}

/* Returns the error message (g_free). */
static char *parse_err(const char *const *env, ...)
{
    va_list ap;
    va_start(ap, env);
    int argc;
    char **argv = vargv("perc-kmf", ap, &argc);
    va_end(ap);
    GError *err = NULL;
    perc_config_action act = PERC_CONFIG_RUN;
    perc_config *cfg = perc_config_parse(&spec, argc, argv, env, &act, &err);
    g_strfreev(argv);
    assert_null(cfg);
    assert_non_null(err);
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG));
    char *msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

static void assert_err_contains(char *msg, const char *part)
{
    if (!strstr(msg, part))
        fail_msg("error '%s' does not contain '%s'", msg, part);
    g_free(msg);
}

static void test_defaults(void **state)
{
    (void)state;
    perc_config *cfg = parse_ok(no_env, NULL);
    perc_hostport hp;
    assert_true(perc_config_hostport(cfg, "listen", &hp));
    assert_string_equal(hp.host, "0.0.0.0");
    assert_int_equal(hp.port, 4433);
    assert_int_equal(hp.kind, PERC_HOST_IPV4);
    assert_false(perc_config_hostport(cfg, "connect", &hp));
    assert_string_equal(perc_config_string(cfg, "name"), "kmf-1");
    uint64_t u = 0;
    assert_true(perc_config_uint(cfg, "max-conferences", &u));
    assert_int_equal(u, 64);
    assert_false(perc_config_flag(cfg, "foreground"));
    assert_null(perc_config_string(cfg, "cert"));
    assert_int_equal(perc_config_source_of(cfg, "listen"), PERC_CONFIG_DEFAULT);
    assert_int_equal(perc_config_source_of(cfg, "connect"), PERC_CONFIG_UNSET);
    assert_int_equal(perc_config_log_level(cfg), PERC_LOG_INFO);
    perc_config_free(cfg);
}

static void test_cli_beats_env_beats_default(void **state)
{
    (void)state;
    const char *const env[] = {"PERC_KMF_LISTEN=10.0.0.1:5000", "PERC_KMF_NAME=from-env",
                               "PERC_KMF_MAX_CONFERENCES=7", "PERC_KMF_FOREGROUND=yes",
                               "PERC_KMF_LOG_LEVEL=debug", "OTHER=1", NULL};
    /* Environment over defaults. */
    perc_config *cfg = parse_ok(env, NULL);
    perc_hostport hp;
    assert_true(perc_config_hostport(cfg, "listen", &hp));
    assert_string_equal(hp.host, "10.0.0.1");
    assert_int_equal(hp.port, 5000);
    assert_string_equal(perc_config_string(cfg, "name"), "from-env");
    uint64_t u = 0;
    assert_true(perc_config_uint(cfg, "max-conferences", &u));
    assert_int_equal(u, 7);
    assert_true(perc_config_flag(cfg, "foreground"));
    assert_int_equal(perc_config_log_level(cfg), PERC_LOG_DEBUG);
    assert_int_equal(perc_config_source_of(cfg, "listen"), PERC_CONFIG_ENV);
    perc_config_free(cfg);

    /* Command line over environment; both forms; --no-flag; last wins. */
    cfg = parse_ok(env, "--listen", "[::1]:6000", "--name=cli", "--max-conferences", "9",
                        "--no-foreground", "--log-level=warn", "--name", "cli2", NULL);
    assert_true(perc_config_hostport(cfg, "listen", &hp));
    assert_string_equal(hp.host, "::1");
    assert_int_equal(hp.kind, PERC_HOST_IPV6);
    assert_int_equal(hp.port, 6000);
    assert_string_equal(perc_config_string(cfg, "name"), "cli2");
    assert_true(perc_config_uint(cfg, "max-conferences", &u));
    assert_int_equal(u, 9);
    assert_false(perc_config_flag(cfg, "foreground"));
    assert_int_equal(perc_config_log_level(cfg), PERC_LOG_WARN);
    assert_int_equal(perc_config_source_of(cfg, "listen"), PERC_CONFIG_CLI);
    assert_int_equal(perc_config_source_of(cfg, "name"), PERC_CONFIG_CLI);
    perc_config_free(cfg);

    /* An empty variable is unset: the default applies. */
    const char *const empty[] = {"PERC_KMF_NAME=", NULL};
    cfg = parse_ok(empty, NULL);
    assert_string_equal(perc_config_string(cfg, "name"), "kmf-1");
    perc_config_free(cfg);
}

static void test_process_environment(void **state)
{
    (void)state;
    g_setenv("PERC_KMF_NAME", "from-process-env", TRUE);
    perc_config *cfg = parse_ok(NULL, NULL);
    assert_string_equal(perc_config_string(cfg, "name"), "from-process-env");
    perc_config_free(cfg);
    g_unsetenv("PERC_KMF_NAME");
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    assert_err_contains(parse_err(no_env, "--lisen", "1.2.3.4:5", NULL),
                        "unknown option --lisen");
    assert_err_contains(parse_err(no_env, "-x", NULL), "unknown option -x");
    assert_err_contains(parse_err(no_env, "stray", NULL),
                        "unexpected argument 'stray'");
    assert_err_contains(parse_err(no_env, "--", "--name", NULL),
                        "unexpected argument '--name'");
    assert_err_contains(parse_err(no_env, "--listen", NULL),
                        "--listen needs a value");
    assert_err_contains(parse_err(no_env, "--listen", "1.2.3.4", NULL),
                        "--listen: '1.2.3.4' is not HOST:PORT (no ':PORT'");
    assert_err_contains(parse_err(no_env, "--listen=::1:80", NULL),
                        "needs brackets");
    assert_err_contains(parse_err(no_env, "--listen=h:70000", NULL),
                        "0..65535");
    assert_err_contains(parse_err(no_env, "--max-conferences=0", NULL),
                        "--max-conferences: 0 is out of range 1..1000");
    assert_err_contains(parse_err(no_env, "--max-conferences=-3", NULL),
                        "--max-conferences: '-3' is not a non-negative decimal integer");
    assert_err_contains(parse_err(no_env, "--max-conferences=99999999999999999999999", NULL),
                        "not a non-negative decimal integer");
    assert_err_contains(parse_err(no_env, "--foreground=maybe", NULL),
                        "--foreground: 'maybe' is not a boolean");
    assert_err_contains(parse_err(no_env, "--no-foreground=1", NULL),
                        "--no-foreground takes no value");
    assert_err_contains(parse_err(no_env, "--name=", NULL),
                        "--name: empty value");
    assert_err_contains(parse_err(no_env, "--log-level=loud", NULL),
                        "--log-level: 'loud' is not a log level");
    assert_err_contains(parse_err(no_env, "--cert=/nonexistent/x.pem", NULL),
                        "--cert: /nonexistent/x.pem: No such file or directory");
    assert_err_contains(parse_err(no_env, "--cert=/tmp", NULL),
                        "--cert: /tmp: not a regular file");

    /* From the environment, the variable is named. */
    const char *const env[] = {"PERC_KMF_MAX_CONFERENCES=5000", NULL};
    assert_err_contains(parse_err(env, NULL),
                        "PERC_KMF_MAX_CONFERENCES: 5000 is out of range 1..1000");
    /* ...unless the command line overrides it. */
    perc_config *cfg = parse_ok(env, "--max-conferences=5", NULL);
    perc_config_free(cfg);
}

static void test_required_and_files(void **state)
{
    (void)state;
    static const perc_opt req_opts[] = {
        {.name = "key", .type = PERC_OPT_FILE, .required = true, .help = "private key"},
    };
    static const perc_config_spec req = {.program = "perc-mdd", .env_prefix = "PERC_MDD",
                                         .opts = req_opts, .n_opts = 1};
    GError *err = NULL;
    perc_config_action act;
    assert_null(parse_with(&req, no_env, &act, &err, NULL));
    assert_non_null(err);
    assert_string_equal(err->message, "--key is required (or PERC_MDD_KEY)");
    g_clear_error(&err);

    char *dir = dt_tmpdir_new();
    char *path = g_build_filename(dir, "key.pem", NULL);
    assert_true(g_file_set_contents(path, "x", 1, NULL));
    char *envvar = g_strdup_printf("PERC_MDD_KEY=%s", path);
    const char *const env[] = {envvar, NULL};
    perc_config *cfg = parse_with(&req, env, &act, &err, NULL);
    assert_non_null(cfg);
    assert_string_equal(perc_config_string(cfg, "key"), path);
    perc_config_free(cfg);
    g_free(envvar);
    g_free(path);
    dt_tmpdir_free(dir);
}

static void test_help_and_version(void **state)
{
    (void)state;
    GError *err = NULL;
    perc_config_action act = PERC_CONFIG_RUN;
    /* --help works even with a broken environment, and stops parsing. */
    const char *const bad_env[] = {"PERC_KMF_LISTEN=garbage", NULL};
    assert_null(parse_with(&spec, bad_env, &act, &err, "--help", "--bogus", NULL));
    assert_null(err);
    assert_int_equal(act, PERC_CONFIG_HELP);
    assert_null(parse_with(&spec, no_env, &act, &err, "-h", NULL));
    assert_int_equal(act, PERC_CONFIG_HELP);
    assert_null(parse_with(&spec, no_env, &act, &err, "--version", NULL));
    assert_null(err);
    assert_int_equal(act, PERC_CONFIG_VERSION);
    /* An error before --help wins. */
    assert_null(parse_with(&spec, no_env, &act, &err, "--bogus", "--help", NULL));
    assert_non_null(err);
    g_clear_error(&err);

    char *help = perc_config_help(&spec);
    assert_non_null(strstr(help, "Usage: perc-kmf [OPTION]..."));
    assert_non_null(strstr(help, "PERC Key Management Function"));
    assert_non_null(strstr(help, "--listen HOST:PORT"));
    assert_non_null(strstr(help, "[default: 0.0.0.0:4433]"));
    assert_non_null(strstr(help, "env PERC_KMF_LISTEN"));
    assert_non_null(strstr(help, "--max-conferences N"));
    assert_non_null(strstr(help, "(1..1000)"));
    assert_non_null(strstr(help, "--foreground, --no-foreground"));
    assert_non_null(strstr(help, "env PERC_KMF_FOREGROUND"));
    assert_non_null(strstr(help, "--cert PEM"));
    assert_non_null(strstr(help, "--log-level LEVEL"));
    assert_non_null(strstr(help, "env PERC_KMF_LOG_LEVEL"));
    assert_non_null(strstr(help, "--help"));
    assert_non_null(strstr(help, "--version"));
    g_free(help);
}

static void test_bad_specs(void **state)
{
    (void)state;
    GError *err = NULL;
    perc_config_action act;
    static const perc_opt dup[] = {{.name = "a"}, {.name = "a"}};
    perc_config_spec s = {.program = "x", .env_prefix = "X", .opts = dup, .n_opts = 2};
    assert_null(parse_with(&s, no_env, &act, &err, NULL));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID));
    g_clear_error(&err);
    static const perc_opt reserved[] = {{.name = "help"}};
    s.opts = reserved;
    s.n_opts = 1;
    assert_null(parse_with(&s, no_env, &act, &err, NULL));
    g_clear_error(&err);
    static const perc_opt badname[] = {{.name = "Bad_Name"}};
    s.opts = badname;
    assert_null(parse_with(&s, no_env, &act, &err, NULL));
    g_clear_error(&err);
    static const perc_opt baddef[] = {
        {.name = "n", .type = PERC_OPT_UINT, .def = "5", .min = 10, .max = 20}};
    s.opts = baddef;
    assert_null(parse_with(&s, no_env, &act, &err, NULL));
    assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID));
    assert_non_null(strstr(err->message, "default of --n"));
    g_clear_error(&err);
}

static void test_hostport_forms(void **state)
{
    (void)state;
    perc_hostport hp;
    GError *err = NULL;
    assert_true(perc_hostport_parse("127.0.0.1:0", &hp, &err));
    assert_int_equal(hp.kind, PERC_HOST_IPV4);
    assert_int_equal(hp.port, 0);
    assert_true(perc_hostport_parse("[::]:65535", &hp, &err));
    assert_int_equal(hp.kind, PERC_HOST_IPV6);
    assert_string_equal(hp.host, "::");
    assert_int_equal(hp.port, 65535);
    assert_true(perc_hostport_parse("kmf.example.org:4433", &hp, &err));
    assert_int_equal(hp.kind, PERC_HOST_NAME);
    char *s = perc_hostport_to_string(&hp);
    assert_string_equal(s, "kmf.example.org:4433");
    g_free(s);
    assert_true(perc_hostport_parse("[2001:db8::1]:80", &hp, &err));
    s = perc_hostport_to_string(&hp);
    assert_string_equal(s, "[2001:db8::1]:80");
    g_free(s);

    const char *bad[] = {"",          ":80",         "host",       "host:",
                         "host:8x",   "host:123456", "[::1]",      "[::1]80",
                         "[::1:80",   "::1:80",      "[1.2.3.4]:80", "1.2.3.256:80",
                         "-bad:80",   "bad-:80",     "a..b:80",    "sp ace:80",
                         "[nothex]:1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        if (perc_hostport_parse(bad[i], &hp, &err))
            fail_msg("'%s' accepted", bad[i]);
        assert_true(g_error_matches(err, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_INVALID));
        g_clear_error(&err);
    }

    /* Resolution: literals directly, names through the resolver. */
    assert_true(perc_hostport_parse("[::1]:5", &hp, &err));
    GSocketAddress *a = perc_hostport_resolve(&hp, &err);
    assert_non_null(a);
    char text[PERC_SOCKADDR_TEXT_MAX];
    assert_string_equal(perc_sockaddr_format(a, text, sizeof text), "[::1]:5");
    assert_int_equal(perc_sockaddr_port(a), 5);
    g_object_unref(a);
    assert_true(perc_hostport_parse("localhost:7", &hp, &err));
    a = perc_hostport_resolve(&hp, &err);
    assert_non_null(a);
    assert_int_equal(perc_sockaddr_port(a), 7);
    g_object_unref(a);
    assert_true(perc_hostport_parse("no-such-host.invalid:7", &hp, &err));
    assert_null(perc_hostport_resolve(&hp, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "no-such-host.invalid"));
    g_clear_error(&err);
}

static void test_fingerprint_list(void **state)
{
    (void)state;
    uint8_t fps[2][32];
    const char *why = NULL;
    char bad[48];
    const char *a = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
                    "CD:EF:01:23:45:67:89";
    char *two = g_strdup_printf("sha-256 %s, %s", a,
                                "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    assert_int_equal(perc_config_fingerprints(two, fps, 2, &why, bad, sizeof bad), 2);
    assert_null(why);
    assert_int_equal(fps[0][0], 0xAB);
    assert_int_equal(fps[1][31], 0x89);
    assert_int_equal(perc_config_fingerprints(two, fps, 1, &why, bad, sizeof bad), 0);
    assert_string_equal(why, "too many fingerprints");
    g_free(two);
    assert_int_equal(perc_config_fingerprints("12:34", fps, 2, &why, bad, sizeof bad), 0);
    assert_non_null(strstr(why, "not a SHA-256 fingerprint"));
    assert_string_equal(bad, "12:34");
    assert_int_equal(perc_config_fingerprints(" , ", fps, 2, &why, bad, sizeof bad), 0);
    assert_string_equal(why, "no fingerprint given");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_cli_beats_env_beats_default),
        cmocka_unit_test(test_process_environment),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_required_and_files),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_hostport_forms),
        cmocka_unit_test(test_fingerprint_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
