/* perc-mdd: the Media Distributor (RFC 8871 §3): forwards media it cannot
 * read. Options and wiring; see mddd.h for the parts and mdd/README.md for
 * how to run it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mddd.h"
#include "perc/identity.h"
#include "perc_daemon/config.h"
#include "perc_daemon/error.h"
#include "perc_daemon/keylog.h"
#include "perc_daemon/log.h"

#ifndef PERC_MDD_VERSION
#define PERC_MDD_VERSION "0"
#endif

#define MAX_PINS 32
#define MAX_ADDRESSES 8

static const perc_opt opts[] = {
    {.name = "signaling", .type = PERC_OPT_STRING, .required = true, .metavar = "URL",
     .help = "perc-signaling WebSocket URL (ws:// or wss://)"},
    {.name = "signaling-token", .type = PERC_OPT_STRING, .required = true, .metavar = "TOKEN",
     .help = "the shared daemon token for the hello (a secret; prefer the environment variable)"},
    {.name = "signaling-ca", .type = PERC_OPT_FILE, .help = "trust anchors for wss:// (default: system)"},
    {.name = "name", .type = PERC_OPT_STRING, .def = "mdd-1", .help = "our name in signaling"},
    {.name = "capacity", .type = PERC_OPT_UINT, .def = "500", .min = 1, .max = 65535,
     .help = "how many endpoints we serve (announced to signaling)"},
    {.name = "kmf", .type = PERC_OPT_HOSTPORT, .required = true,
     .help = "the KMF's tunnel address (TLS 1.3, RFC 9185); we connect and keep reconnecting"},
    {.name = "cert", .type = PERC_OPT_FILE, .required = true,
     .help = "our certificate (PEM) for the tunnel TLS"},
    {.name = "key", .type = PERC_OPT_FILE, .required = true, .help = "the private key of --cert"},
    {.name = "kmf-ca", .type = PERC_OPT_FILE,
     .help = "CA certificates (PEM) the KMF's tunnel certificate must chain to"},
    {.name = "kmf-fingerprint", .type = PERC_OPT_STRING, .metavar = "FP[,FP...]",
     .help = "pinned SHA-256 fingerprints (AB:CD:...) of the KMF's tunnel certificate"},
    {.name = "kmf-name", .type = PERC_OPT_STRING, .metavar = "DNS",
     .help = "a DNS name the KMF's certificate must carry (also sent as SNI)"},
    {.name = "media-address", .type = PERC_OPT_STRING, .metavar = "IP[,IP...]",
     .help = "addresses for ICE host candidates (default: every interface but loopback)"},
    {.name = "media-ports", .type = PERC_OPT_STRING, .metavar = "MIN-MAX",
     .help = "UDP port range for media (default: any)"},
    {.name = "max-streams", .type = PERC_OPT_UINT, .def = "64", .min = 4, .max = 1024,
     .help = "SSRCs one endpoint may send, and receive from the others (about 124 bytes each "
             "per endpoint)"},
    {.name = "last-n", .type = PERC_OPT_UINT, .def = "0", .min = 0, .max = 65535,
     .help = "forward only the N loudest senders by RFC 6464 audio level (0: everyone)"},
    {.name = "audio-level-id", .type = PERC_OPT_UINT, .def = "1", .min = 1, .max = 14,
     .help = "RTP header extension id of the RFC 6464 audio level (as the endpoints offer it)"},
    {.name = "liveness-timeout", .type = PERC_OPT_UINT, .def = "5", .min = 1, .max = 3600,
     .metavar = "SECONDS", .help = "remove an endpoint silent this long (RFC 9185 §5.3)"},
    {.name = "metrics-listen", .type = PERC_OPT_HOSTPORT, .metavar = "HOST:PORT",
     .help = "serve /metrics (Prometheus) and /stats.json over HTTP here"},
    {.name = "cascade", .type = PERC_OPT_FLAG,
     .help = "accept cascade links to other MDDs of a conference (RFC 8871 §4.5.1)"},
#ifdef PERC_MDD_DISHONEST
    {.name = "misbehave", .type = PERC_OPT_STRING, .metavar = "MODE[,MODE...]",
     .help = "TEST BUILD: tamper with forwarded media: payload, timestamp, ssrc, replay, wrong-key"},
    {.name = "misbehave-every", .type = PERC_OPT_UINT, .def = "10", .min = 1, .max = 1000000,
     .help = "TEST BUILD: tamper with every N-th forwarded copy"},
#endif
    {.name = "keylog", .type = PERC_OPT_STRING, .metavar = "FILE",
     .help = "DEBUG ONLY: append the tunnel's TLS key log lines (secrets!) to FILE"},
};

static const perc_config_spec spec = {
    .program = "perc-mdd",
    .version = PERC_MDD_VERSION,
    .summary = "PERC Media Distributor (RFC 8871): forwards media it cannot decrypt",
    .env_prefix = "PERC_MDD",
    .opts = opts,
    .n_opts = G_N_ELEMENTS(opts),
};

#define usage_error(...) perc_config_usage_exit(&spec, 2, __VA_ARGS__)

static gboolean on_signal(gpointer user)
{
    mddd *d = user;
    perc_log_info("signal received: shutting down");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_usr1(gpointer user)
{
    mdd_metrics_log(user);
    return G_SOURCE_CONTINUE;
}

static void on_deadline(void *user, uint64_t now)
{
    mddd *d = user;
    int rc = perc_mdd_on_timeout(d->core, now);
    if (rc != PERC_OK)
        perc_log_warn("liveness: %s", perc_strerror(rc));
    mddd_after(d);
}

/* "FP,FP" -> pins; exits on error. */
static size_t parse_pins(const char *text, uint8_t (*pins)[PERC_TLS_FINGERPRINT_LEN])
{
    const char *why = NULL;
    char bad[48];
    size_t n = perc_config_fingerprints(text, pins, MAX_PINS, &why, bad, sizeof bad);
    if (n == 0)
        usage_error("--kmf-fingerprint: %s%s%s%s", bad[0] ? "'" : "", bad, bad[0] ? "' " : "",
                    why);
    return n;
}

static void parse_ports(const char *text, uint16_t *min, uint16_t *max)
{
    unsigned a = 0, b = 0;
    char tail;
    if (!text) {
        *min = *max = 0;
        return;
    }
    if (sscanf(text, "%u-%u%c", &a, &b, &tail) != 2 || a == 0 || a > b || b > 65535)
        usage_error("--media-ports: '%.32s' is not MIN-MAX with 1 <= MIN <= MAX <= 65535", text);
    *min = (uint16_t)a;
    *max = (uint16_t)b;
}

int main(int argc, char **argv)
{
    perc_config *cfg = perc_config_parse_or_exit(&spec, argc, argv);

    const char *kmf_ca = perc_config_string(cfg, "kmf-ca");
    const char *pin_text = perc_config_string(cfg, "kmf-fingerprint");
    if (!kmf_ca && !pin_text)
        usage_error("--kmf-ca or --kmf-fingerprint is required (or PERC_MDD_KMF_CA / "
                    "PERC_MDD_KMF_FINGERPRINT): the KMF must be authenticated (RFC 9185 §5.2)");
    static uint8_t pins[MAX_PINS][PERC_TLS_FINGERPRINT_LEN];
    size_t n_pins = pin_text ? parse_pins(pin_text, pins) : 0;
    const char *sig_url = perc_config_string(cfg, "signaling");
    {
        gboolean tls;
        perc_hostport hp;
        char *path = NULL;
        GError *e = NULL;
        if (!perc_ws_url_parse(sig_url, &tls, &hp, &path, &e))
            usage_error("--signaling: %s", e->message);
        g_free(path);
    }
    perc_hostport kmf;
    if (!perc_config_hostport(cfg, "kmf", &kmf))
        usage_error("--kmf is required");
    perc_hostport metrics_listen;
    bool have_metrics = perc_config_hostport(cfg, "metrics-listen", &metrics_listen);
    uint16_t port_min, port_max;
    parse_ports(perc_config_string(cfg, "media-ports"), &port_min, &port_max);
    char **addresses = NULL;
    const char *addr_text = perc_config_string(cfg, "media-address");
    if (addr_text) {
        addresses = g_strsplit_set(addr_text, ", ", -1);
        size_t n = 0;
        for (char **a = addresses; *a; a++)
            if (**a)
                addresses[n++] = *a;
            else
                g_free(*a);
        addresses[n] = NULL;
        if (n == 0 || n > MAX_ADDRESSES)
            usage_error("--media-address: between 1 and %d addresses", MAX_ADDRESSES);
    }
    uint64_t capacity = 500, last_n = 0, level_id = 1, liveness_s = 5, max_streams = 64;
    (void)perc_config_uint(cfg, "max-streams", &max_streams);
    (void)perc_config_uint(cfg, "capacity", &capacity);
    (void)perc_config_uint(cfg, "last-n", &last_n);
    (void)perc_config_uint(cfg, "audio-level-id", &level_id);
    (void)perc_config_uint(cfg, "liveness-timeout", &liveness_s);

    int exit_code = 1;
    mddd d;
    memset(&d, 0, sizeof d);
    d.capacity = (size_t)capacity;
    d.liveness_ns = liveness_s * 1000000000ULL;
    mdd_endpoints_init(&d);
    mdd_links_init(&d);
    d.cascade = perc_config_flag(cfg, "cascade");
    GError *err = NULL;
    guint sigs[3] = {0, 0, 0};

    const char *keylog = perc_config_string(cfg, "keylog");
    if (keylog && !perc_keylog_open(keylog, &err)) {
        perc_log_error("--keylog: %s", err->message);
        goto out;
    }

    /* The tunnel's TLS identity and trust. */
    perc_tls_file_config tfc;
    memset(&tfc, 0, sizeof tfc);
    tfc.role = PERC_TLS_CLIENT;
    tfc.cert_file = perc_config_string(cfg, "cert");
    tfc.key_file = perc_config_string(cfg, "key");
    tfc.ca_file = kmf_ca;
    tfc.trust.pins = n_pins ? (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pins : NULL;
    tfc.trust.n_pins = n_pins;
    tfc.trust.peer_name = perc_config_string(cfg, "kmf-name");
    tfc.trust.keylog = perc_keylog_enabled() ? perc_keylog_line : NULL;
    int rc = perc_tls_ctx_new_from_files(&tfc, &d.tls_ctx);
    if (rc != PERC_OK) {
        perc_log_error("tunnel TLS (--cert, --key, --kmf-ca): %s", perc_strerror(rc));
        goto out;
    }

    /* The forwarding core: hop keys only (RFC 8871 §3). */
    perc_mdd_config mc;
    memset(&mc, 0, sizeof mc);
    /* Endpoints plus room for cascade links (signaling spans a conference
     * over at most a few MDDs, docs/signaling.md §7). */
    mc.max_endpoints = d.capacity + (d.cascade ? MDD_MAX_LINKS : 0);
    mc.timeout_ns = d.liveness_ns;
    /* A receiver needs one outgoing stream per SSRC forwarded to it: two
     * per participant with video (the core's default, 16, is for tests). */
    mc.max_ssrcs = (size_t)max_streams;
    mc.audio_level_id = (uint8_t)level_id;
    mc.last_n = (size_t)last_n;
#ifdef PERC_MDD_DISHONEST
    uint64_t every = 10;
    (void)perc_config_uint(cfg, "misbehave-every", &every);
    if (!mdd_dishonest_configure(&mc, perc_config_string(cfg, "misbehave"), (unsigned)every))
        goto out;
#endif
    rc = perc_mdd_new(&mc, &d.core);
    if (rc != PERC_OK) {
        perc_log_error("forwarding core: %s", perc_strerror(rc));
        goto out;
    }

    d.loop = g_main_loop_new(NULL, FALSE);
    d.timer = perc_deadline_timer_new(NULL, on_deadline, &d);
    perc_ice_agent_options io = {.lite = true,
                                 .addresses = (const char *const *)addresses,
                                 .n_addresses = addresses ? g_strv_length(addresses) : 0,
                                 .port_min = port_min,
                                 .port_max = port_max};
    d.ice = perc_ice_agent_new(NULL, &io, &err);
    if (!d.ice) {
        perc_log_error("--media-address: %s", err->message);
        goto out;
    }
    if (d.cascade) {
        /* Links run full ICE: the DTLS client's end controls (docs/signaling.md
         * §6.8), so one agent per role. Their DTLS identity is ephemeral and
         * pinned by fingerprint through signaling. */
        perc_ice_agent_options lo = io;
        lo.lite = false;
        lo.controlling = true;
        d.link_agent_controlling = perc_ice_agent_new(NULL, &lo, &err);
        lo.controlling = false;
        if (d.link_agent_controlling)
            d.link_agent_controlled = perc_ice_agent_new(NULL, &lo, &err);
        if (!d.link_agent_controlled) {
            perc_log_error("cascade ICE: %s", err->message);
            goto out;
        }
        if (perc_identity_generate("perc-mdd-link", &d.link_cert, &d.link_key) != PERC_OK ||
            perc_tls_cert_fingerprint(d.link_cert, d.link_fp) != PERC_OK) {
            perc_log_error("cascade: cannot make a DTLS identity");
            goto out;
        }
    }
    mdd_tunnel_options to = {.kmf = kmf};
    if (!mdd_tunnel_start(&d, &to, &err)) {
        perc_log_error("--kmf: %s", err->message);
        goto out;
    }
    d.ws = perc_ws_context_new(d.loop, &err);
    if (!d.ws) {
        perc_log_error("websocket: %s", err->message);
        goto out;
    }
    if (!mdd_metrics_start(&d, have_metrics ? &metrics_listen : NULL, &err)) {
        perc_log_error("--metrics-listen: %s", err->message);
        goto out;
    }
    mdd_siglink_options so = {sig_url, perc_config_string(cfg, "signaling-token"),
                              perc_config_string(cfg, "name"),
                              perc_config_string(cfg, "signaling-ca"), (uint32_t)capacity,
                              d.cascade};
    d.sig = mdd_siglink_new(&d, &so, &err);
    if (!d.sig) {
        perc_log_error("--signaling: %s", err->message);
        goto out;
    }

    sigs[0] = g_unix_signal_add(SIGINT, on_signal, &d);
    sigs[1] = g_unix_signal_add(SIGTERM, on_signal, &d);
    sigs[2] = g_unix_signal_add(SIGUSR1, on_usr1, &d);
    signal(SIGPIPE, SIG_IGN);
    perc_log_info("perc-mdd %s running (capacity %zu, last-n %" G_GUINT64_FORMAT
                  ", liveness %" G_GUINT64_FORMAT " s%s)",
                  PERC_MDD_VERSION, d.capacity, last_n, liveness_s,
                  d.cascade ? ", cascade links accepted" : "");
    g_main_loop_run(d.loop);
    exit_code = 0;

out:
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
        if (sigs[i])
            g_source_remove(sigs[i]);
    if (err)
        g_error_free(err);
    /* Endpoints first: each owes the KMF an EndpointDisconnect, which the
     * tunnel core drops with everything else when it is freed. */
    if (d.core) {
        mdd_link_remove_all(&d, "shutting down");
        mdd_endpoint_remove_all(&d, "shutting down");
    }
    mdd_siglink_free(d.sig);
    mdd_metrics_stop(&d);
    perc_ws_context_free(d.ws);
    mdd_tunnel_stop(&d);
    perc_ice_agent_free(d.ice);
    perc_ice_agent_free(d.link_agent_controlling);
    perc_ice_agent_free(d.link_agent_controlled);
    X509_free(d.link_cert);
    EVP_PKEY_free(d.link_key);
    perc_deadline_timer_free(d.timer);
    perc_mdd_free(d.core); /* wipes every hop key */
#ifdef PERC_MDD_DISHONEST
    mdd_dishonest_report();
    mdd_dishonest_free();
#endif
    perc_tls_ctx_free(d.tls_ctx);
    g_hash_table_destroy(d.links);
    g_hash_table_destroy(d.conf_ids);
    g_hash_table_destroy(d.by_participant);
    g_hash_table_destroy(d.endpoints);
    g_hash_table_destroy(d.leaving);
    g_strfreev(addresses);
    if (d.loop)
        g_main_loop_unref(d.loop);
    perc_keylog_close();
    perc_config_free(cfg);
    if (exit_code == 0)
        perc_log_info("stopped");
    return exit_code;
}
