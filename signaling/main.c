/* perc-signaling: the conference focus of the PERC stack (docs/signaling.md)
 * as a daemon. Options come from the command line or PERC_SIGNALING_*
 * environment variables (perc_daemon/config.h); SIGINT and SIGTERM stop it
 * cleanly (exit 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>

#include "perc/signaling.h"
#include "perc_daemon/config.h"
#include "perc_daemon/log.h"
#include "perc_daemon/rand.h"
#include "sigd.h"

static const perc_opt opts[] = {
    {.name = "listen", .type = PERC_OPT_HOSTPORT, .def = "127.0.0.1:8443",
     .help = "address and port of the WebSocket server, the status page and /metrics"},
    {.name = "tls-cert", .type = PERC_OPT_FILE, .metavar = "PEM",
     .help = "certificate chain for wss:// and https:// (with --tls-key)"},
    {.name = "tls-key", .type = PERC_OPT_FILE, .metavar = "PEM",
     .help = "private key for wss:// and https:// (with --tls-cert)"},
    {.name = "token", .type = PERC_OPT_STRING, .required = true, .metavar = "TOKEN",
     .help = "the shared token of KMFs and Media Distributors (prefer the environment)"},
    {.name = "conference", .type = PERC_OPT_STRING, .metavar = "ID[:TOKEN[:TOKEN...]]",
     .help = "a configured conference, open without tokens; repeatable, or a comma-separated "
             "list"},
    {.name = "open-conferences", .type = PERC_OPT_FLAG,
     .help = "create an open conference at the first join of an unknown one"},
    {.name = "cascade", .type = PERC_OPT_FLAG,
     .help = "let a conference spread onto another cascade-capable Media Distributor when full"},
    {.name = "max-message", .type = PERC_OPT_UINT, .def = "65536", .min = 1024,
     .max = PERC_SIG_MAX_MESSAGE, .metavar = "BYTES",
     .help = "largest message accepted; larger ones get too-large and the connection closes"},
    {.name = "hello-timeout", .type = PERC_OPT_UINT, .def = "10", .min = 1, .max = 3600,
     .metavar = "SECONDS", .help = "time a new connection has to say hello"},
    {.name = "join-timeout", .type = PERC_OPT_UINT, .def = "30", .min = 1, .max = 3600,
     .metavar = "SECONDS", .help = "time from join to answer (KMF verdict and MDD answer)"},
    {.name = "key-timeout", .type = PERC_OPT_UINT, .def = "30", .min = 1, .max = 3600,
     .metavar = "SECONDS", .help = "time from answer to keyed (ICE and DTLS done)"},
    {.name = "max-connections", .type = PERC_OPT_UINT, .def = "4096", .min = 1, .max = 1000000,
     .help = "open WebSocket connections"},
    {.name = "max-conferences", .type = PERC_OPT_UINT, .def = "256", .min = 1, .max = 1000000,
     .help = "conferences"},
    {.name = "max-participants", .type = PERC_OPT_UINT, .def = "256", .min = 1, .max = 1000000,
     .help = "participants per conference"},
    {.name = "max-rate", .type = PERC_OPT_UINT, .def = "0", .min = 0, .max = 1000000,
     .metavar = "MSGS", .help = "messages per second per endpoint connection (0: no limit)"},
};

static const perc_config_spec spec = {
    .program = "perc-signaling",
    .version = PERC_VERSION,
    .summary = "PERC conference focus: endpoints join through it; it tells the KMF and the "
               "Media Distributor (never trusted with keys)",
    .env_prefix = "PERC_SIGNALING",
    .opts = opts,
    .n_opts = G_N_ELEMENTS(opts),
};

static void focus_log(void *user, perc_focus_log_level level, const char *line)
{
    (void)user;
    perc_log_level l = level >= PERC_FOCUS_LOG_ERROR     ? PERC_LOG_ERROR
                       : level >= PERC_FOCUS_LOG_WARNING ? PERC_LOG_WARN
                       : level >= PERC_FOCUS_LOG_INFO    ? PERC_LOG_INFO
                                                         : PERC_LOG_DEBUG;
    perc_log(l, "%s", line);
}

static gboolean on_signal(gpointer user)
{
    sigd *d = user;
    perc_log_info("signal received: shutting down");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

/* --conference may be given several times; perc_config keeps the last, so
 * every occurrence is collected from argv here (the environment variable
 * is a comma-separated list). */
static GPtrArray *conference_specs(int argc, char **argv, const perc_config *cfg)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--conference") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--conference=", 13) == 0)
            v = argv[i] + 13;
        if (v) {
            char **parts = g_strsplit(v, ",", -1);
            for (char **p = parts; *p; p++)
                if (**p)
                    g_ptr_array_add(out, g_strdup(*p));
            g_strfreev(parts);
        }
    }
    if (out->len == 0 && perc_config_string(cfg, "conference")) {
        char **parts = g_strsplit(perc_config_string(cfg, "conference"), ",", -1);
        for (char **p = parts; *p; p++)
            if (**p)
                g_ptr_array_add(out, g_strdup(*p));
        g_strfreev(parts);
    }
    return out;
}

static bool add_conferences(perc_focus *f, GPtrArray *specs)
{
    for (guint i = 0; i < specs->len; i++) {
        char **parts = g_strsplit(g_ptr_array_index(specs, i), ":", -1);
        perc_focus_conference_config c;
        memset(&c, 0, sizeof c);
        c.id = parts[0];
        c.tokens = (const char *const *)(parts + 1);
        c.token_count = g_strv_length(parts) - 1;
        c.open = c.token_count == 0;
        int rc = perc_focus_add_conference(f, &c);
        if (rc != PERC_OK) {
            fprintf(stderr,
                    "perc-signaling: --conference '%s': %s\n", parts[0],
                    rc == PERC_ERR_STATE   ? "given twice"
                    : rc == PERC_ERR_LIMIT ? "more conferences than --max-conferences"
                                           : "not ID[:TOKEN...] (ID: 1..64 of A-Z a-z 0-9 . _ -; "
                                             "tokens: printable ASCII, at most 16)");
            g_strfreev(parts);
            return false;
        }
        perc_log_info("conference %s configured (%s)", parts[0],
                      c.open ? "open" : "join tokens");
        g_strfreev(parts);
    }
    return true;
}

static uint64_t opt_uint(const perc_config *cfg, const char *name)
{
    uint64_t v = 0;
    (void)perc_config_uint(cfg, name, &v);
    return v;
}

int main(int argc, char **argv)
{
    perc_config *cfg = perc_config_parse_or_exit(&spec, argc, argv);
    const char *cert = perc_config_string(cfg, "tls-cert");
    const char *key = perc_config_string(cfg, "tls-key");
    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, "perc-signaling: --tls-cert and --tls-key go together\n"
                        "Try 'perc-signaling --help'.\n");
        perc_config_free(cfg);
        return 2;
    }
    const char *token = perc_config_string(cfg, "token");

    sigd d;
    memset(&d, 0, sizeof d);
    d.started_ns = perc_clock_now_ns();
    d.max_message = (size_t)opt_uint(cfg, "max-message");

    perc_focus_config fc;
    memset(&fc, 0, sizeof fc);
    fc.daemon_token = token;
    fc.auto_create = perc_config_flag(cfg, "open-conferences");
    fc.cascade = perc_config_flag(cfg, "cascade");
    fc.hello_timeout_ns = opt_uint(cfg, "hello-timeout") * PERC_NSEC_PER_SEC;
    fc.join_timeout_ns = opt_uint(cfg, "join-timeout") * PERC_NSEC_PER_SEC;
    fc.key_timeout_ns = opt_uint(cfg, "key-timeout") * PERC_NSEC_PER_SEC;
    fc.max_connections = (size_t)opt_uint(cfg, "max-connections");
    fc.max_conferences = (size_t)opt_uint(cfg, "max-conferences");
    fc.max_participants = (size_t)opt_uint(cfg, "max-participants");
    fc.max_msgs_per_sec = (uint32_t)opt_uint(cfg, "max-rate");
    fc.log = focus_log;
    fc.random = perc_daemon_random;
    int rc = perc_focus_new(&fc, &d.focus);
    if (rc != PERC_OK) {
        if (rc == PERC_ERR_INVALID_ARG)
            fprintf(stderr, "perc-signaling: --token: not 1..256 printable ASCII characters\n");
        else
            fprintf(stderr, "perc-signaling: cannot create the focus (%d)\n", rc);
        perc_config_free(cfg);
        return rc == PERC_ERR_INVALID_ARG ? 2 : 1;
    }
    GPtrArray *specs = conference_specs(argc, argv, cfg);
    bool confs_ok = add_conferences(d.focus, specs);
    g_ptr_array_unref(specs);
    if (!confs_ok) {
        perc_focus_free(d.focus);
        perc_config_free(cfg);
        return 2;
    }

    d.loop = g_main_loop_new(NULL, FALSE);
    GError *err = NULL;
    d.ws = perc_ws_context_new(d.loop, &err);
    int status = 0;
    if (!d.ws) {
        perc_log_error("%s", err->message);
        g_clear_error(&err);
        status = 1;
        goto out;
    }
    perc_ws_server_options wo;
    memset(&wo, 0, sizeof wo);
    (void)perc_config_hostport(cfg, "listen", &wo.listen);
    wo.subprotocol = SIGD_SUBPROTOCOL;
    /* Messages a little over our limit still arrive whole and get a
     * too-large error before the close; far larger ones are cut off by
     * the WebSocket layer (close 1009). */
    wo.max_message = d.max_message + PERC_SIG_MAX_MESSAGE;
    wo.cert_file = cert;
    wo.key_file = key;
    if (!sigd_server_start(&d, &wo, &err)) {
        perc_log_error("%s", err->message);
        g_clear_error(&err);
        status = 1;
        goto out;
    }
    guint s1 = g_unix_signal_add(SIGINT, on_signal, &d);
    guint s2 = g_unix_signal_add(SIGTERM, on_signal, &d);
    perc_log_info("listening on %s://%s:%u (subprotocol %s; status page, /status.json and "
                  "/metrics on the same port)%s",
                  cert ? "wss" : "ws", wo.listen.host, (unsigned)perc_ws_server_port(d.srv),
                  SIGD_SUBPROTOCOL, fc.auto_create ? "; conferences created on first join" : "");
    g_main_loop_run(d.loop);
    g_source_remove(s1);
    g_source_remove(s2);
    perc_log_info("stopped");

out:
    sigd_server_stop(&d);
    perc_ws_context_free(d.ws);
    if (d.loop)
        g_main_loop_unref(d.loop);
    perc_focus_free(d.focus);
    perc_config_free(cfg);
    return status;
}
