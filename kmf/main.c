/* perc-kmf: the Key Management Function daemon (RFC 8871's Key
 * Distributor). Options and wiring; see kmfd.h for the parts and
 * kmf/README.md for how to run it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kmfd.h"
#include "perc/dtls.h"
#include "perc/ekt.h"
#include "perc_daemon/config.h"
#include "perc_daemon/error.h"
#include "perc_daemon/keylog.h"
#include "perc_daemon/log.h"
#include "perc_daemon/rand.h"

#ifndef PERC_KMF_VERSION
#define PERC_KMF_VERSION "0"
#endif

#define MAX_PINS 32

static const perc_opt opts[] = {
    {.name = "listen", .type = PERC_OPT_HOSTPORT, .def = "0.0.0.0:4433",
     .help = "where Media Distributors connect (TLS 1.3 tunnel, RFC 9185)"},
    {.name = "cert", .type = PERC_OPT_FILE, .required = true,
     .help = "our certificate (PEM): tunnel TLS server, and DTLS unless --dtls-cert"},
    {.name = "key", .type = PERC_OPT_FILE, .required = true,
     .help = "the private key of --cert (PEM, unencrypted)"},
    {.name = "dtls-cert", .type = PERC_OPT_FILE,
     .help = "separate DTLS certificate (ECDSA); default --cert if its key is EC, else ephemeral"},
    {.name = "dtls-key", .type = PERC_OPT_FILE, .help = "the private key of --dtls-cert"},
    {.name = "tunnel-ca", .type = PERC_OPT_FILE,
     .help = "CA certificates (PEM) that Media Distributor certificates must chain to"},
    {.name = "tunnel-peer-fingerprint", .type = PERC_OPT_STRING, .metavar = "FP[,FP...]",
     .help = "pinned SHA-256 fingerprints (AB:CD:...) of Media Distributor certificates"},
    {.name = "tunnel-idle-timeout", .type = PERC_OPT_UINT, .def = "0", .min = 0, .max = 86400,
     .metavar = "SECONDS", .help = "drop a tunnel silent this long (0: never; RFC 9185 has no keepalive)"},
    {.name = "signaling", .type = PERC_OPT_STRING, .metavar = "URL",
     .help = "perc-signaling WebSocket URL (ws:// or wss://); without it nobody can be announced"},
    {.name = "signaling-token", .type = PERC_OPT_STRING, .metavar = "TOKEN",
     .help = "the shared daemon token for the hello (a secret; prefer the environment variable)"},
    {.name = "signaling-ca", .type = PERC_OPT_FILE, .help = "trust anchors for wss:// (default: system)"},
    {.name = "name", .type = PERC_OPT_STRING, .def = "kmf-1", .help = "our name in signaling"},
    {.name = "roster", .type = PERC_OPT_FILE,
     .help = "roster JSON: who may join which conference (see kmf/README.md)"},
    {.name = "open", .type = PERC_OPT_FLAG,
     .help = "no roster: anyone signaling announces may join any conference"},
    {.name = "rekey-on-join", .type = PERC_OPT_FLAG,
     .help = "re-key a conference whenever someone is admitted"},
    {.name = "ekt-ttl", .type = PERC_OPT_UINT, .def = "86400", .min = 1, .max = 0xFFFFFF,
     .metavar = "SECONDS", .help = "lifetime of an EKTKey (re-keyed at 90 %)"},
    {.name = "ekt-cipher", .type = PERC_OPT_STRING, .def = "aeskw-128", .metavar = "CIPHER",
     .help = "EKT cipher of conferences on profile 0x0009: aeskw-128 or aeskw-256 (those on "
             "0x000A always get aeskw-256, RFC 8870 section 6)"},
    {.name = "keylog", .type = PERC_OPT_STRING, .metavar = "FILE",
     .help = "DEBUG ONLY: append DTLS and TLS key log lines (secrets!) to FILE"},
};

static const perc_config_spec spec = {
    .program = "perc-kmf",
    .version = PERC_KMF_VERSION,
    .summary = "PERC Key Management Function (RFC 8871 Key Distributor)",
    .env_prefix = "PERC_KMF",
    .opts = opts,
    .n_opts = G_N_ELEMENTS(opts),
};

#define usage_error(...) perc_config_usage_exit(&spec, 2, __VA_ARGS__)

/* ---- glue ----------------------------------------------------------------- */

static void core_log(void *user, perc_kmf_log_level level, const char *msg)
{
    (void)user;
    perc_log_level l = level >= PERC_KMF_LOG_ERROR     ? PERC_LOG_ERROR
                       : level == PERC_KMF_LOG_WARNING ? PERC_LOG_WARN
                       : level == PERC_KMF_LOG_INFO    ? PERC_LOG_INFO
                                                       : PERC_LOG_DEBUG;
    perc_log(l, "%s", msg);
}

static void core_event(void *user, const perc_kmf_event *ev)
{
    kmfd *d = user;
    switch (ev->type) {
    case PERC_KMF_EV_ADMITTED:
        perc_log_debug("admitted %s to %s (tunnel %" G_GUINT64_FORMAT ", profile 0x%04x, SPI %u)",
                      ev->identity ? ev->identity : "?", ev->conference ? ev->conference : "?",
                      ev->conn_id, ev->profile, ev->spi);
        break;
    case PERC_KMF_EV_REKEYED:
        perc_log_debug("conference %s re-keyed: SPI %u to %zu member(s) (%s)",
                      ev->conference ? ev->conference : "?", ev->spi, ev->n_endpoints,
                      ev->reason ? ev->reason : "");
        break;
    default:
        perc_log_debug("event %s: %s%s%s%s%s", perc_kmf_event_name(ev->type),
                      ev->conference ? ev->conference : "", ev->identity ? " " : "",
                      ev->identity ? ev->identity : "", ev->reason ? ": " : "",
                      ev->reason ? ev->reason : "");
        break;
    }
    kmf_siglink_on_event(d->sig, ev);
    kmf_tunnel_on_event(d, ev);
}

void kmfd_after(kmfd *d)
{
    kmf_tunnel_flush(d);
    if (d->timer)
        perc_deadline_timer_arm(d->timer, perc_kmf_next_timeout(d->kmf));
}

static void on_deadline(void *user, uint64_t now)
{
    kmfd *d = user;
    int rc = perc_kmf_on_timeout(d->kmf, now);
    if (rc != PERC_OK)
        perc_log_warn("timers: %s", perc_strerror(rc));
    kmfd_after(d);
}

static gboolean on_signal(gpointer user)
{
    kmfd *d = user;
    perc_log_info("signal received: shutting down");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}

/* ---- identities ------------------------------------------------------------ */

static bool load_pem(const char *cert_file, const char *key_file, X509 **cert, EVP_PKEY **key)
{
    *cert = NULL;
    *key = NULL;
    FILE *f = fopen(cert_file, "r");
    if (f) {
        *cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    f = fopen(key_file, "r");
    if (f) {
        *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (*cert && *key)
        return true;
    X509_free(*cert);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *key = NULL;
    return false;
}

/* Parses "FP,FP,..." into pins; exits on error. */
static size_t parse_pins(const char *text, uint8_t (*pins)[PERC_TLS_FINGERPRINT_LEN])
{
    const char *why = NULL;
    char bad[48];
    size_t n = perc_config_fingerprints(text, pins, MAX_PINS, &why, bad, sizeof bad);
    if (n == 0)
        usage_error("--tunnel-peer-fingerprint: %s%s%s%s", bad[0] ? "'" : "", bad,
                    bad[0] ? "' " : "", why);
    return n;
}

int main(int argc, char **argv)
{
    perc_config *cfg = perc_config_parse_or_exit(&spec, argc, argv);

    /* Checks the parser cannot express. */
    const char *tunnel_ca = perc_config_string(cfg, "tunnel-ca");
    const char *pin_text = perc_config_string(cfg, "tunnel-peer-fingerprint");
    if (!tunnel_ca && !pin_text)
        usage_error("--tunnel-ca or --tunnel-peer-fingerprint is required (or PERC_KMF_TUNNEL_CA "
                    "/ PERC_KMF_TUNNEL_PEER_FINGERPRINT): no unauthenticated Media Distributor");
    static uint8_t pins[MAX_PINS][PERC_TLS_FINGERPRINT_LEN];
    size_t n_pins = pin_text ? parse_pins(pin_text, pins) : 0;
    const char *roster = perc_config_string(cfg, "roster");
    bool open_policy = perc_config_flag(cfg, "open");
    if (roster && open_policy)
        usage_error("--roster and --open exclude each other");
    if (!roster && !open_policy)
        usage_error("--roster FILE or --open is required (or PERC_KMF_ROSTER / PERC_KMF_OPEN)");
    const char *dtls_cert = perc_config_string(cfg, "dtls-cert");
    const char *dtls_key = perc_config_string(cfg, "dtls-key");
    if (!dtls_cert != !dtls_key)
        usage_error("--dtls-cert and --dtls-key go together");
    const char *sig_url = perc_config_string(cfg, "signaling");
    const char *sig_token = perc_config_string(cfg, "signaling-token");
    if (sig_url && !sig_token)
        usage_error("--signaling-token is required with --signaling (or PERC_KMF_SIGNALING_TOKEN)");
    if (sig_url) {
        gboolean tls;
        perc_hostport hp;
        char *path = NULL;
        GError *e = NULL;
        if (!perc_ws_url_parse(sig_url, &tls, &hp, &path, &e)) {
            fprintf(stderr, "perc-kmf: --signaling: %s\nTry 'perc-kmf --help'.\n", e->message);
            exit(2);
        }
        g_free(path);
    }
    uint64_t ekt_ttl = PERC_KMF_DEFAULT_EKT_TTL_S, idle_s = 0;
    (void)perc_config_uint(cfg, "ekt-ttl", &ekt_ttl);
    (void)perc_config_uint(cfg, "tunnel-idle-timeout", &idle_s);
    const char *cipher_text = perc_config_string(cfg, "ekt-cipher");
    uint8_t ekt_cipher = PERC_EKT_CIPHER_AESKW_128;
    if (cipher_text && g_ascii_strcasecmp(cipher_text, "aeskw-256") == 0)
        ekt_cipher = PERC_EKT_CIPHER_AESKW_256;
    else if (cipher_text && g_ascii_strcasecmp(cipher_text, "aeskw-128") != 0)
        usage_error("--ekt-cipher: '%.32s' is not aeskw-128 or aeskw-256", cipher_text);
    perc_hostport listen;
    if (!perc_config_hostport(cfg, "listen", &listen))
        usage_error("--listen is required");

    int exit_code = 1;
    kmfd d;
    memset(&d, 0, sizeof d);
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    perc_dtls_ctx *dctx = NULL;
    GError *err = NULL;

    const char *keylog = perc_config_string(cfg, "keylog");
    if (keylog && !perc_keylog_open(keylog, &err)) {
        perc_log_error("--keylog: %s", err->message);
        goto out;
    }

    /* DTLS identity. */
    if (dtls_cert) {
        if (!load_pem(dtls_cert, dtls_key, &cert, &key)) {
            perc_log_error("--dtls-cert/--dtls-key: cannot read a PEM certificate and key");
            goto out;
        }
    } else if (load_pem(perc_config_string(cfg, "cert"), perc_config_string(cfg, "key"), &cert,
                        &key) &&
               EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        /* --cert is the DTLS identity too. */
    } else {
        X509_free(cert);
        EVP_PKEY_free(key);
        if (perc_dtls_identity_generate("perc-kmf", &cert, &key) != PERC_OK) {
            perc_log_error("cannot generate an ephemeral DTLS identity");
            goto out;
        }
        perc_log_warn("--cert's key is not ECDSA and no --dtls-cert: using an ephemeral DTLS "
                      "identity");
    }
    perc_dtls_ctx_config dcc = {cert, key, perc_keylog_enabled() ? perc_keylog_line : NULL,
                                NULL};
    int rc = perc_dtls_ctx_new(&dcc, &dctx);
    if (rc != PERC_OK) {
        perc_log_error("DTLS identity: %s (an ECDSA key is needed)", perc_strerror(rc));
        goto out;
    }
    perc_dtls_ctx_fingerprint(dctx, d.fingerprint);
    char fp_text[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    if (perc_dtls_fingerprint_format(d.fingerprint, fp_text, sizeof fp_text) == PERC_OK)
        perc_log_info("DTLS fingerprint sha-256 %s", fp_text);

    /* Tunnel TLS context. */
    perc_tls_file_config tfc;
    memset(&tfc, 0, sizeof tfc);
    tfc.role = PERC_TLS_SERVER;
    tfc.cert_file = perc_config_string(cfg, "cert");
    tfc.key_file = perc_config_string(cfg, "key");
    tfc.ca_file = tunnel_ca;
    tfc.trust.pins = n_pins ? (const uint8_t(*)[PERC_TLS_FINGERPRINT_LEN])pins : NULL;
    tfc.trust.n_pins = n_pins;
    tfc.trust.keylog = perc_keylog_enabled() ? perc_keylog_line : NULL;
    rc = perc_tls_ctx_new_from_files(&tfc, &d.tls_ctx);
    if (rc != PERC_OK) {
        perc_log_error("tunnel TLS (--cert, --key, --tunnel-ca): %s", perc_strerror(rc));
        goto out;
    }

    /* The core. */
    perc_kmf_config kc;
    perc_kmf_config_init(&kc);
    kc.dtls_ctx = dctx;
    kc.ekt_ttl_s = (uint32_t)ekt_ttl;
    kc.ekt_cipher = ekt_cipher;
    kc.rekey_on_join = perc_config_flag(cfg, "rekey-on-join");
    kc.random = perc_daemon_random;
    kc.log = core_log;
    kc.log_level = perc_log_enabled(PERC_LOG_DEBUG) ? PERC_KMF_LOG_DEBUG : PERC_KMF_LOG_INFO;
    kc.on_event = core_event;
    kc.event_user = &d;
    rc = perc_kmf_new(&kc, &d.kmf);
    if (rc != PERC_OK) {
        perc_log_error("KMF core: %s", perc_strerror(rc));
        goto out;
    }

    if (roster) {
        d.roster_confs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (!kmf_roster_load(d.kmf, d.roster_confs, roster, &err)) {
            perc_log_error("%s", err->message);
            goto out;
        }
    } else {
        perc_log_warn("--open: any participant signaling announces may join any conference");
    }

    d.loop = g_main_loop_new(NULL, FALSE);
    d.timer = perc_deadline_timer_new(NULL, on_deadline, &d);
    if (!kmf_tunnel_start(&d, &listen, (uint32_t)(idle_s * 1000u), &err)) {
        perc_log_error("%s", err->message);
        goto out;
    }
    if (sig_url) {
        d.ws = perc_ws_context_new(d.loop, &err);
        if (!d.ws) {
            perc_log_error("websocket: %s", err->message);
            goto out;
        }
        kmf_siglink_options so = {sig_url, sig_token, perc_config_string(cfg, "name"),
                                  perc_config_string(cfg, "signaling-ca")};
        d.sig = kmf_siglink_new(&d, &so, &err);
        if (!d.sig) {
            perc_log_error("--signaling: %s", err->message);
            goto out;
        }
    } else {
        perc_log_warn("no --signaling: no participant can be announced, so nobody can join");
    }

    guint s1 = g_unix_signal_add(SIGINT, on_signal, &d);
    guint s2 = g_unix_signal_add(SIGTERM, on_signal, &d);
    signal(SIGPIPE, SIG_IGN);
    perc_log_info("perc-kmf %s running", PERC_KMF_VERSION);
    kmfd_after(&d);
    g_main_loop_run(d.loop);
    g_source_remove(s1);
    g_source_remove(s2);
    exit_code = 0;

out:
    if (err)
        g_error_free(err);
    kmf_siglink_free(d.sig);
    if (d.kmf)
        kmf_tunnel_stop(&d);
    else
        perc_tls_server_free(d.srv);
    perc_ws_context_free(d.ws);
    perc_deadline_timer_free(d.timer);
    perc_kmf_free(d.kmf); /* wipes every key */
    perc_dtls_ctx_free(dctx);
    perc_tls_ctx_free(d.tls_ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (d.roster_confs)
        g_hash_table_destroy(d.roster_confs);
    if (d.loop)
        g_main_loop_unref(d.loop);
    perc_keylog_close();
    perc_config_free(cfg);
    if (exit_code == 0)
        perc_log_info("stopped");
    return exit_code;
}
