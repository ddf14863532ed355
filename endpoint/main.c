/* perc-endpoint: a PERC conference participant (RFC 8871 §2) with a
 * synthetic media source, for demonstrations, interoperability and load.
 * Options, wiring, the media gate, shutdown and the exit code; see
 * endpoint.h for the parts and endpoint/README.md for how to run it. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "endpoint.h"
#include "wav.h"
#include "perc/profile.h"
#include "perc/signaling.h"
#include "perc_daemon/config.h"
#include "perc_daemon/error.h"

#ifndef PERC_ENDPOINT_VERSION
#define PERC_ENDPOINT_VERSION "0"
#endif

#define MAX_PARTICIPANTS 64
/* With several participants, media waits at most this long after the
 * first is keyed for the others. */
#define GATE_WAIT_S 10
/* After media stops: packets in flight arrive before we leave. */
#define DRAIN_MS 400
/* How long the leaves may take before we quit anyway. */
#define LEAVE_GRACE_MS 2000

static const perc_opt opts[] = {
    {.name = "signaling", .type = PERC_OPT_STRING, .required = true, .metavar = "URL",
     .help = "perc-signaling WebSocket URL (ws:// or wss://)"},
    {.name = "signaling-ca", .type = PERC_OPT_FILE, .metavar = "PEM",
     .help = "trust anchors for wss:// (default: the system store)"},
    {.name = "conference", .type = PERC_OPT_STRING, .required = true, .metavar = "ID",
     .help = "the conference to join"},
    {.name = "token", .type = PERC_OPT_STRING, .metavar = "TOKEN",
     .help = "the conference's join token (a secret; prefer the environment variable)"},
    {.name = "name", .type = PERC_OPT_STRING, .metavar = "NAME",
     .help = "display identity (default: hostname-pid; NAME-1..NAME-N with --participants)"},
    {.name = "identity", .type = PERC_OPT_STRING, .metavar = "DIR",
     .help = "DTLS identity DIR/cert.pem + DIR/key.pem, ECDSA P-256 (default: ephemeral; "
             "see 'perc-tool identity new')"},
    {.name = "kmf-fingerprint", .type = PERC_OPT_STRING, .metavar = "FP",
     .help = "pin the KMF's DTLS certificate (sha-256 AB:CD:...): no other KMF is accepted"},
    {.name = "duration", .type = PERC_OPT_UINT, .def = "0", .min = 0, .max = 4000000,
     .metavar = "SECONDS", .help = "seconds of media once keyed (0: until SIGINT/SIGTERM)"},
    {.name = "participants", .type = PERC_OPT_UINT, .def = "1", .min = 1, .max = MAX_PARTICIPANTS,
     .metavar = "N", .help = "independent participants in this process (own identity, ICE, "
                              "signaling, DTLS and keys each)"},
    {.name = "media-address", .type = PERC_OPT_STRING, .metavar = "IP[,IP...]",
     .help = "ICE host candidate addresses (default: every interface but loopback)"},
    {.name = "video", .type = PERC_OPT_STRING, .metavar = "WxH@FPS:KBPS",
     .help = "also send synthetic video, e.g. 640x360@30:800"},
    {.name = "audio-in", .type = PERC_OPT_FILE, .metavar = "FILE.wav",
     .help = "send this WAV (16-bit PCM, mono or stereo, 8/12/16/24/48 kHz) encoded with "
             "Opus, looping, instead of the synthetic audio"},
    {.name = "record", .type = PERC_OPT_STRING, .metavar = "DIR",
     .help = "write the decoded Opus audio of each remote participant to DIR/<identity>.wav"},
    {.name = "stats", .type = PERC_OPT_STRING, .metavar = "FILE.json",
     .help = "write machine-readable statistics here at exit"},
    {.name = "key-change-delay", .type = PERC_OPT_UINT, .min = 0, .max = 10000, .metavar = "MS",
     .help = "keep the old end-to-end key this long after a re-key (RFC 8870 §4.3.1; "
             "default 250)"},
    {.name = "connect-timeout", .type = PERC_OPT_UINT, .def = "30", .min = 1, .max = 3600,
     .metavar = "SECONDS", .help = "give up when not keyed this long after start (exit 4)"},
    {.name = "srtp-profiles", .type = PERC_OPT_STRING, .metavar = "P[,P]",
     .help = "the double SRTP profiles offered to the KMF, preferred first: 0x0009 "
             "(AES-128-GCM) and/or 0x000A (AES-256-GCM); default 0x0009,0x000A. A conference "
             "keeps the profile of its first member: one who does not offer it is refused"},
    {.name = "rejoin", .type = PERC_OPT_FLAG,
     .help = "when the MDD, the KMF association or signaling is lost, join again (with "
             "backoff) instead of exiting; --connect-timeout bounds each attempt"},
    {.name = "export-keys", .type = PERC_OPT_STRING, .metavar = "FILE",
     .help = "TESTING ONLY: append every EKTKey received (a secret!) to FILE, for tests that "
             "show a departed participant's keys open nothing sent after a re-key"},
};

static const perc_config_spec spec = {
    .program = "perc-endpoint",
    .version = PERC_ENDPOINT_VERSION,
    .summary = "PERC endpoint (RFC 8871): joins a conference and sends and verifies synthetic "
               "double-encrypted media",
    .env_prefix = "PERC_ENDPOINT",
    .opts = opts,
    .n_opts = G_N_ELEMENTS(opts),
};

#define usage_error(...) perc_config_usage_exit(&spec, EP_EXIT_USAGE, __VA_ARGS__)

/* ---- the media gate and the end ------------------------------------------------ */

static void quit(ep_app *app)
{
    if (!app->stop_ns)
        app->stop_ns = perc_clock_now_ns();
    g_main_loop_quit(app->loop);
}

static gboolean on_duration(gpointer user);

static void open_gate(ep_app *app)
{
    if (app->gate_src) {
        g_source_remove(app->gate_src);
        app->gate_src = 0;
    }
    app->media_gate_open = true;
    app->start_ns = perc_clock_now_ns();
    size_t keyed = 0;
    for (size_t i = 0; i < app->n_sessions; i++)
        keyed += app->sessions[i].state == EP_SESS_MEDIA;
    if (app->n_sessions > 1)
        perc_log_info("%zu of %zu participants keyed: media starts", keyed, app->n_sessions);
    if (app->opt.duration_s)
        app->duration_src = g_timeout_add((guint)(app->opt.duration_s * 1000u), on_duration, app);
}

static gboolean on_gate_timeout(gpointer user)
{
    ep_app *app = user;
    app->gate_src = 0;
    perc_log_warn("not every participant keyed within %d s: media starts anyway", GATE_WAIT_S);
    open_gate(app);
    ep_app_session_changed(app);
    return G_SOURCE_REMOVE;
}

void ep_app_session_changed(ep_app *app)
{
    size_t media = 0, pending = 0;
    for (size_t i = 0; i < app->n_sessions; i++) {
        const ep_session *s = &app->sessions[i];
        if (s->state == EP_SESS_MEDIA)
            media++;
        else if (!ep_session_finished(s))
            pending++;
    }
    if (media == 0 && pending == 0) {
        quit(app);
        return;
    }
    if (app->stopping)
        return;
    /* With several participants in one process, media starts when all are
     * keyed, so every receiver holds its EKTKey before the first packet of
     * any local sender and every sender's packets are measured over the
     * same interval. A lone participant starts at once. */
    if (!app->media_gate_open) {
        if (media && !pending)
            open_gate(app);
        else if (media && !app->gate_src) {
            app->gate_src = g_timeout_add_seconds(GATE_WAIT_S, on_gate_timeout, app);
        }
    }
    if (app->media_gate_open)
        for (size_t i = 0; i < app->n_sessions; i++)
            ep_session_start_media(&app->sessions[i]);
}

static gboolean on_leave_grace(gpointer user)
{
    ep_app *app = user;
    app->grace_src = 0;
    perc_log_warn("signaling did not confirm every leave in time: quitting anyway");
    g_main_loop_quit(app->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_drained(gpointer user)
{
    ep_app *app = user;
    app->drain_src = 0;
    for (size_t i = 0; i < app->n_sessions; i++)
        ep_session_leave(&app->sessions[i]);
    app->grace_src = g_timeout_add(LEAVE_GRACE_MS, on_leave_grace, app);
    ep_app_session_changed(app);
    return G_SOURCE_REMOVE;
}

/* Stops media everywhere, lets what is in flight arrive, then leaves. */
static void app_stop(ep_app *app, const char *why)
{
    if (app->stopping) {
        perc_log_warn("%s again: quitting at once", why);
        g_main_loop_quit(app->loop);
        return;
    }
    perc_log_info("%s: stopping", why);
    app->stopping = true;
    app->stop_ns = perc_clock_now_ns();
    if (app->gate_src) {
        g_source_remove(app->gate_src);
        app->gate_src = 0;
    }
    for (size_t i = 0; i < app->n_sessions; i++)
        ep_session_stop_media(&app->sessions[i]);
    app->drain_src = g_timeout_add(DRAIN_MS, on_drained, app);
}

static gboolean on_duration(gpointer user)
{
    ep_app *app = user;
    app->duration_src = 0;
    app_stop(app, "duration reached");
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer user)
{
    app_stop(user, "signal received");
    return G_SOURCE_CONTINUE;
}

static gboolean on_progress(gpointer user)
{
    ep_app *app = user;
    char line[1024];
    for (size_t i = 0; i < app->n_sessions; i++) {
        ep_stats_progress_line(&app->sessions[i], line, sizeof line);
        printf("%s\n", line);
    }
    fflush(stdout);
    return G_SOURCE_CONTINUE;
}

/* ---- options ------------------------------------------------------------------------ */

static char *default_name(void)
{
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        g_strlcpy(host, "endpoint", sizeof host);
    /* Keep it a signaling *name* too (A-Z a-z 0-9 . _ -): it becomes the
     * CNAME and shows up in logs. */
    for (char *c = host; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '.' && *c != '_' && *c != '-')
            *c = '-';
    return g_strdup_printf("%.40s-%ld", host, (long)getpid());
}

/* "0x000A,0x0009": the double profiles (RFC 8723 §5), each at most once. */
static bool parse_profiles(const char *text, uint16_t out[2], size_t *n, char *why, size_t cap)
{
    char **parts = g_strsplit(text, ",", -1);
    bool ok = true;
    *n = 0;
    for (char **p = parts; ok && *p; p++) {
        const char *t = g_strstrip(*p);
        uint16_t id = 0;
        if (g_ascii_strcasecmp(t, "0x0009") == 0)
            id = PERC_PROFILE_DOUBLE_AES_128_GCM;
        else if (g_ascii_strcasecmp(t, "0x000A") == 0)
            id = PERC_PROFILE_DOUBLE_AES_256_GCM;
        if (!id) {
            snprintf(why, cap, "'%.12s' is not 0x0009 or 0x000A", t);
            ok = false;
        } else if (*n == 2 || (*n == 1 && out[0] == id)) {
            snprintf(why, cap, "each profile at most once");
            ok = false;
        } else {
            out[(*n)++] = id;
        }
    }
    if (ok && *n == 0) {
        snprintf(why, cap, "no profile");
        ok = false;
    }
    g_strfreev(parts);
    return ok;
}

static void parse_options(perc_config *cfg, ep_options *o, char **name_out, char ***addrs_out)
{
    memset(o, 0, sizeof *o);
    o->signaling_url = perc_config_string(cfg, "signaling");
    {
        gboolean tls;
        perc_hostport hp;
        char *path = NULL;
        GError *e = NULL;
        if (!perc_ws_url_parse(o->signaling_url, &tls, &hp, &path, &e))
            usage_error("--signaling: %s", e->message);
        g_free(path);
    }
    o->signaling_ca = perc_config_string(cfg, "signaling-ca");
    o->conference = perc_config_string(cfg, "conference");
    if (!perc_sig_valid_name(o->conference))
        usage_error("--conference: '%.64s' is not 1..64 characters of A-Z a-z 0-9 . _ -",
                    o->conference);
    o->token = perc_config_string(cfg, "token");
    const char *name = perc_config_string(cfg, "name");
    *name_out = name ? g_strdup(name) : default_name();
    o->name = *name_out;
    uint64_t n = 1;
    if (perc_config_uint(cfg, "participants", &n))
        o->participants = (unsigned)n;
    /* Room for "-N" and within the signaling identity limit (§4.2). */
    if (!perc_sig_valid_text(o->name, PERC_SIG_MAX_IDENTITY - 4) || o->name[0] == ' ')
        usage_error("--name: 1..%d characters of UTF-8 without control characters",
                    PERC_SIG_MAX_IDENTITY - 4);
    if (strlen(o->name) >= PERC_PARTICIPANT_MAX_CNAME - 4)
        usage_error("--name: at most %d bytes (it is also the RTCP CNAME)",
                    PERC_PARTICIPANT_MAX_CNAME - 5);
    o->identity_dir = perc_config_string(cfg, "identity");
    if (o->identity_dir && !g_file_test(o->identity_dir, G_FILE_TEST_IS_DIR))
        usage_error("--identity: %s is not a directory (make one with 'perc-tool identity new "
                    "DIR')",
                    o->identity_dir);
    const char *fp = perc_config_string(cfg, "kmf-fingerprint");
    if (fp) {
        const char *hex = fp;
        if (g_ascii_strncasecmp(hex, "sha-256", 7) == 0) {
            hex += 7;
            while (*hex == ' ' || *hex == '\t')
                hex++;
        }
        if (perc_dtls_fingerprint_parse(hex, o->kmf_fingerprint) != PERC_OK)
            usage_error("--kmf-fingerprint: '%.100s' is not a SHA-256 fingerprint (32 hex pairs "
                        "separated by ':', optionally after 'sha-256 ')",
                        fp);
        o->pin_kmf = true;
    }
    (void)perc_config_uint(cfg, "duration", &o->duration_s);
    o->connect_timeout_s = 30;
    (void)perc_config_uint(cfg, "connect-timeout", &o->connect_timeout_s);
    o->rejoin = perc_config_flag(cfg, "rejoin");
    o->export_keys = perc_config_string(cfg, "export-keys");
    if (o->export_keys)
        perc_log_warn("--export-keys: EKTKeys (secrets) are written to %s: TESTING ONLY",
                      o->export_keys);
    if (perc_config_uint(cfg, "key-change-delay", &o->key_change_delay_ms))
        o->have_key_change_delay = true;
    const char *profiles = perc_config_string(cfg, "srtp-profiles");
    if (profiles) {
        char why[120];
        if (!parse_profiles(profiles, o->srtp_profiles, &o->n_srtp_profiles, why, sizeof why))
            usage_error("--srtp-profiles: '%.40s': %s", profiles, why);
    }
    const char *addr_text = perc_config_string(cfg, "media-address");
    if (addr_text) {
        char **a = g_strsplit_set(addr_text, ", ", -1);
        size_t k = 0;
        for (char **p = a; *p; p++) {
            if (**p)
                a[k++] = *p;
            else
                g_free(*p);
        }
        a[k] = NULL;
        if (k == 0 || k > EP_MAX_ADDRESSES)
            usage_error("--media-address: between 1 and %d addresses", EP_MAX_ADDRESSES);
        o->addresses = (const char *const *)a;
        o->n_addresses = k;
        *addrs_out = a;
    }
    const char *video = perc_config_string(cfg, "video");
    if (video) {
        char why[160];
        if (!ep_video_spec_parse(video, &o->video_spec, why, sizeof why))
            usage_error("--video: '%.40s': %s", video, why);
        o->video = true;
    }
    o->audio_in = perc_config_string(cfg, "audio-in");
    if (o->audio_in) {
        char why[200];
        if (!ep_wav_read_mono(o->audio_in, &o->audio_pcm, &o->audio_samples, &o->audio_rate, NULL,
                              why, sizeof why))
            usage_error("--audio-in: %s: %s", o->audio_in, why);
    }
    o->record_dir = perc_config_string(cfg, "record");
    if (o->record_dir && g_mkdir_with_parents(o->record_dir, 0755) != 0)
        usage_error("--record: cannot create the directory %s: %s", o->record_dir,
                    g_strerror(errno));
    o->stats_file = perc_config_string(cfg, "stats");
}

/* ---- main ------------------------------------------------------------------------------ */

static int exit_code(ep_app *app)
{
    int code = EP_EXIT_OK;
    bool refused = false, failed = false;
    size_t unverified = 0;
    for (size_t i = 0; i < app->n_sessions; i++) {
        ep_session *s = &app->sessions[i];
        if (s->state == EP_SESS_FAILED) {
            refused |= s->exit_code == EP_EXIT_REFUSED;
            failed |= s->exit_code != EP_EXIT_REFUSED;
            continue;
        }
        if (!s->ready_ns) {
            perc_log_error("%s: stopped before it was keyed", s->name);
            failed = true;
            continue;
        }
        unverified += ep_stats_unverified(s);
    }
    if (refused)
        code = EP_EXIT_REFUSED;
    else if (failed)
        code = EP_EXIT_CONNECT;
    else if (unverified)
        code = EP_EXIT_UNVERIFIED;
    return code;
}

int main(int argc, char **argv)
{
    perc_config *cfg = perc_config_parse_or_exit(&spec, argc, argv);
    ep_app app;
    memset(&app, 0, sizeof app);
    char *name = NULL;
    char **addresses = NULL;
    parse_options(cfg, &app.opt, &name, &addresses);
    signal(SIGPIPE, SIG_IGN);

    int code = EP_EXIT_CONNECT;
    guint sigs[2] = {0, 0};
    guint progress = 0;
    GError *err = NULL;
    app.loop = g_main_loop_new(NULL, FALSE);
    app.ws = perc_ws_context_new(app.loop, &err);
    if (!app.ws) {
        perc_log_error("websocket: %s", err->message);
        goto out;
    }
    app.n_sessions = app.opt.participants;
    app.sessions = g_new0(ep_session, app.n_sessions);
    for (size_t i = 0; i < app.n_sessions; i++) {
        if (!ep_session_start(&app.sessions[i], &app, (unsigned)(i + 1), &err)) {
            bool config = err->domain == PERC_DAEMON_ERROR && err->code == PERC_DAEMON_ERROR_CONFIG;
            fprintf(stderr, "perc-endpoint: %s\n", err->message);
            code = config ? EP_EXIT_USAGE : EP_EXIT_CONNECT;
            goto out;
        }
    }
    sigs[0] = g_unix_signal_add(SIGINT, on_signal, &app);
    sigs[1] = g_unix_signal_add(SIGTERM, on_signal, &app);
    progress = g_timeout_add_seconds(1, on_progress, &app);
    app.start_ns = perc_clock_now_ns();
    perc_log_info("perc-endpoint %s: %u participant(s) joining %s at %s", PERC_ENDPOINT_VERSION,
                  app.opt.participants, app.opt.conference, app.opt.signaling_url);
    g_main_loop_run(app.loop);
    if (!app.stop_ns)
        app.stop_ns = perc_clock_now_ns();

    code = exit_code(&app);
    ep_stats_print_summary(&app);
    if (app.opt.stats_file && !ep_stats_write_json(&app, app.opt.stats_file) &&
        code == EP_EXIT_OK)
        code = EP_EXIT_CONNECT;
    for (size_t i = 0; i < app.n_sessions; i++)
        if (app.sessions[i].state == EP_SESS_FAILED)
            fprintf(stderr, "perc-endpoint: %s: %s\n", app.sessions[i].name,
                    app.sessions[i].error);

out:
    if (progress)
        g_source_remove(progress);
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
        if (sigs[i])
            g_source_remove(sigs[i]);
    guint timers[4] = {app.gate_src, app.duration_src, app.drain_src, app.grace_src};
    for (size_t i = 0; i < G_N_ELEMENTS(timers); i++)
        if (timers[i])
            g_source_remove(timers[i]);
    if (err)
        g_error_free(err);
    for (size_t i = 0; app.sessions && i < app.n_sessions; i++)
        ep_session_free(&app.sessions[i]);
    g_free(app.sessions);
    perc_ws_context_free(app.ws);
    if (app.loop)
        g_main_loop_unref(app.loop);
    g_strfreev(addresses);
    free(app.opt.audio_pcm);
    g_free(name);
    perc_config_free(cfg);
    return code;
}
