/* perc-tool double: one packet through the RFC 8723 double transform, as
 * an endpoint (protect, unprotect) or as a Media Distributor (relay). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "ekt_strip.h"
#include "perc/double.h"
#include "perc/double_endpoint.h"
#include "perc/secret.h"
#include "perc/srtp.h"

static const char USAGE[] =
    "usage: perc-tool double protect|unprotect --profile double128|double256\n"
    "                 --key HEX --salt HEX [--roc N] [--ekt] PACKET\n"
    "       perc-tool double relay --profile double128|double256\n"
    "                 --in-key HEX --in-salt HEX --out-key HEX --out-salt HEX\n"
    "                 [--roc N] [--out-roc N] [--pt N] [--seq N] [--marker 0|1]\n"
    "                 [--ekt] PACKET\n"
    "\n"
    "protect: double-encrypts a plain RTP packet (RFC 8723 §5.1).\n"
    "unprotect: outer-decrypts, applies the OHB and inner-decrypts (§5.3),\n"
    "  printing the plain packet with its original header.\n"
    "  --key, --salt  the full double master key (32 octets for double128, 64\n"
    "                 for double256) and 24-octet salt, inner half first;\n"
    "                 each half goes through the RFC 3711 KDF on its own\n"
    "  --roc N        ROC of both layers (default 0)\n"
    "  --ekt          protect appends a Short EKT field (0x00); unprotect\n"
    "                 strips whatever EKT field ends the packet\n"
    "relay: what a Media Distributor does (§5.2), with outer keys only:\n"
    "  --in-key/--in-salt    outer master key (16 or 32 octets) and salt (12)\n"
    "                        of the incoming hop\n"
    "  --out-key/--out-salt  those of the outgoing hop (must differ)\n"
    "  --roc N / --out-roc N ROC of the packet as received / as sent\n"
    "                        (--out-roc defaults to --roc)\n"
    "  --pt N, --seq N, --marker 0|1  header changes, recorded in the OHB\n"
    "  --ekt          strip the EKT field first and re-append it unchanged\n"
    "PACKET is hex, or - to read it from stdin.\n";

static const char *const PROFILES[] = {"double128", "double256"};
static const uint16_t PROFILE_IDS[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                       PERC_PROFILE_DOUBLE_AES_256_GCM};

/* Everything one invocation owns, so a single cleanup wipes it all. */
typedef struct double_job {
    cli_cmd cmd;
    uint16_t profile;
    uint8_t pkt[CLI_MAX_BYTES + 64];
    size_t len;
    uint8_t ekt_field[CLI_MAX_BYTES];
    size_t ekt_len;
    perc_double_master master;
    perc_srtp_session_keys keys[2];
    perc_srtp_session *sessions[2];
} double_job;

static int profile_opt(double_job *job)
{
    size_t i;
    int rc = cli_choice_opt(&job->cmd, "profile", PROFILES, 2, &i);
    if (rc == 0)
        job->profile = PROFILE_IDS[i];
    return rc;
}

/* Builds sessions[slot] from outer master key/salt options `key_opt` and
 * `salt_opt` (relay). */
static int outer_session(double_job *job, int slot, const char *key_opt, const char *salt_opt)
{
    const perc_profile_info *info = perc_profile_lookup(job->profile);
    uint8_t key[PERC_SRTP_MAX_KEY_LEN], salt[PERC_SRTP_SALT_LEN];
    size_t key_len = 0, salt_len = 0;
    int rc = cli_hex_opt(&job->cmd, key_opt, key, sizeof key, &key_len);
    if (rc == 0)
        rc = cli_hex_opt(&job->cmd, salt_opt, salt, sizeof salt, &salt_len);
    if (rc == 0 && (key_len != info->master_key_len / 2 || salt_len != PERC_SRTP_SALT_LEN))
        rc = cli_fail(&job->cmd, CLI_EXIT_USAGE,
                      "--%s/--%s: %s's outer key is %zu octets and its salt %d (got %zu and %zu)",
                      key_opt, salt_opt, info->name, info->master_key_len / 2, PERC_SRTP_SALT_LEN,
                      key_len, salt_len);
    int prc = PERC_OK;
    if (rc == 0) {
        prc = perc_srtp_kdf(info->cipher, key, key_len, salt, salt_len, &job->keys[slot]);
        if (prc == PERC_OK)
            prc = perc_srtp_session_new(&job->keys[slot], &job->sessions[slot]);
        if (prc != PERC_OK)
            rc = cli_perc_fail(&job->cmd, prc, key_opt);
    }
    perc_wipe(key, sizeof key);
    perc_wipe(salt, sizeof salt);
    return rc;
}

/* Endpoint: sessions[0] inner, sessions[1] outer, from the full double key. */
static int endpoint_sessions(double_job *job)
{
    const perc_profile_info *info = perc_profile_lookup(job->profile);
    uint8_t key[PERC_DOUBLE_MAX_KEY_LEN], salt[PERC_DOUBLE_SALT_LEN];
    size_t key_len = 0, salt_len = 0;
    int rc = cli_hex_opt(&job->cmd, "key", key, sizeof key, &key_len);
    if (rc == 0)
        rc = cli_hex_opt(&job->cmd, "salt", salt, sizeof salt, &salt_len);
    if (rc == 0 && (key_len != info->master_key_len || salt_len != info->master_salt_len))
        rc = cli_fail(&job->cmd, CLI_EXIT_USAGE,
                      "--profile %s needs a %zu-octet key and a %zu-octet salt, inner half first"
                      " (got %zu and %zu)", info->name, info->master_key_len, info->master_salt_len,
                      key_len, salt_len);
    if (rc == 0) {
        int prc = perc_double_split_master(job->profile, key, key_len, salt, salt_len, &job->master);
        if (prc == PERC_OK)
            prc = perc_double_half_kdf(&job->master.inner, &job->keys[0]);
        if (prc == PERC_OK)
            prc = perc_double_half_kdf(&job->master.outer, &job->keys[1]);
        if (prc == PERC_OK)
            prc = perc_srtp_session_new(&job->keys[0], &job->sessions[0]);
        if (prc == PERC_OK)
            prc = perc_srtp_session_new(&job->keys[1], &job->sessions[1]);
        if (prc != PERC_OK)
            rc = cli_perc_fail(&job->cmd, prc, "key setup");
    }
    perc_wipe(key, sizeof key);
    perc_wipe(salt, sizeof salt);
    return rc;
}

static int run_endpoint(double_job *job, bool protect)
{
    uint64_t roc = 0;
    int rc = cli_uint_opt(&job->cmd, "roc", UINT32_MAX, 0, &roc);
    if (rc == 0)
        rc = endpoint_sessions(job);
    if (rc)
        return rc;
    bool ekt = cli_has(&job->cmd, "ekt");
    size_t out_len = 0;
    int prc;
    if (protect) {
        prc = perc_double_protect(job->sessions[0], (uint32_t)roc, job->sessions[1], (uint32_t)roc,
                                  job->pkt, job->len, sizeof job->pkt - 1, &out_len);
        if (prc == PERC_OK && ekt)
            job->pkt[out_len++] = 0x00; /* Short EKT field (RFC 8870 §4.1) */
    } else {
        if (ekt && (rc = tool_ekt_strip(&job->cmd, job->pkt, &job->len, NULL, NULL)))
            return rc;
        prc = perc_double_unprotect(job->sessions[1], (uint32_t)roc, job->sessions[0], (uint32_t)roc,
                                    job->pkt, job->len, &out_len);
    }
    if (prc != PERC_OK)
        return cli_perc_fail(&job->cmd, prc, "PACKET");
    cli_print_hex(job->pkt, out_len);
    return CLI_EXIT_OK;
}

static int run_relay(double_job *job)
{
    uint64_t roc = 0, out_roc = 0, pt = 0, seq = 0, marker = 0;
    int rc;
    if ((rc = cli_uint_opt(&job->cmd, "roc", UINT32_MAX, 0, &roc)) ||
        (rc = cli_uint_opt(&job->cmd, "out-roc", UINT32_MAX, roc, &out_roc)) ||
        (rc = cli_uint_opt(&job->cmd, "pt", 127, 0, &pt)) ||
        (rc = cli_uint_opt(&job->cmd, "seq", 0xFFFF, 0, &seq)) ||
        (rc = cli_uint_opt(&job->cmd, "marker", 1, 0, &marker)) ||
        (rc = outer_session(job, 0, "in-key", "in-salt")) ||
        (rc = outer_session(job, 1, "out-key", "out-salt")))
        return rc;
    if (perc_secret_equal(job->keys[0].srtp_key, job->keys[1].srtp_key, PERC_SRTP_MAX_KEY_LEN))
        return cli_fail(&job->cmd, CLI_EXIT_USAGE,
                        "--out-key equals --in-key: RFC 8723 §5.2 forbids re-encrypting with the "
                        "incoming hop's key");
    perc_relay_change chg = {
        cli_has(&job->cmd, "pt"), (uint8_t)pt,   cli_has(&job->cmd, "seq"), (uint16_t)seq,
        cli_has(&job->cmd, "marker"), marker == 1,
    };
    bool ekt = cli_has(&job->cmd, "ekt");
    if (ekt && (rc = tool_ekt_strip(&job->cmd, job->pkt, &job->len, job->ekt_field, &job->ekt_len)))
        return rc;
    size_t out_len = 0;
    int prc = perc_double_relay(job->sessions[0], (uint32_t)roc, job->sessions[1], (uint32_t)out_roc,
                                &chg, job->pkt, job->len, sizeof job->pkt - job->ekt_len, &out_len);
    if (prc != PERC_OK)
        return cli_perc_fail(&job->cmd, prc, "PACKET");
    if (ekt) { /* RFC 8723 §5.2 / RFC 8870: re-appended unchanged */
        memcpy(job->pkt + out_len, job->ekt_field, job->ekt_len);
        out_len += job->ekt_len;
    }
    cli_print_hex(job->pkt, out_len);
    return CLI_EXIT_OK;
}

int cmd_double(int argc, char **argv)
{
    static double_job job; /* large buffers: not on the stack */
    memset(&job, 0, sizeof job);
    cli_opt opts[] = {
        {"profile", true, NULL, false}, {"key", true, NULL, false},      {"salt", true, NULL, false},
        {"roc", true, NULL, false},     {"ekt", false, NULL, false},     {"in-key", true, NULL, false},
        {"in-salt", true, NULL, false}, {"out-key", true, NULL, false},  {"out-salt", true, NULL, false},
        {"out-roc", true, NULL, false}, {"pt", true, NULL, false},       {"seq", true, NULL, false},
        {"marker", true, NULL, false},
    };
    cli_cmd base = {"perc-tool double", USAGE, opts, sizeof opts / sizeof opts[0], {0}, 0, 1};
    job.cmd = base;
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    int mode = argc < 1 ? -1
               : strcmp(argv[0], "protect") == 0   ? 0
               : strcmp(argv[0], "unprotect") == 0 ? 1
               : strcmp(argv[0], "relay") == 0     ? 2
                                                   : -1;
    if (mode < 0)
        return cli_fail(&job.cmd, CLI_EXIT_USAGE, "expected 'protect', 'unprotect' or 'relay' (see --help)");
    static const char *const PROGS[] = {"perc-tool double protect", "perc-tool double unprotect",
                                        "perc-tool double relay"};
    job.cmd.prog = PROGS[mode];
    int rc = cli_parse(&job.cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;

    static const char *const ENDPOINT_ONLY[] = {"key", "salt"};
    static const char *const RELAY_ONLY[] = {"in-key", "in-salt", "out-key", "out-salt",
                                             "out-roc", "pt", "seq", "marker"};
    for (size_t i = 0; i < 2 && rc == 0; i++)
        if (mode == 2 && cli_has(&job.cmd, ENDPOINT_ONLY[i]))
            rc = cli_fail(&job.cmd, CLI_EXIT_USAGE, "--%s is not a relay option; use --in-%s/--out-%s",
                          ENDPOINT_ONLY[i], ENDPOINT_ONLY[i], ENDPOINT_ONLY[i]);
    for (size_t i = 0; i < 8 && rc == 0; i++)
        if (mode != 2 && cli_has(&job.cmd, RELAY_ONLY[i]))
            rc = cli_fail(&job.cmd, CLI_EXIT_USAGE, "--%s is a relay option", RELAY_ONLY[i]);
    if (rc == 0)
        rc = profile_opt(&job);
    if (rc == 0)
        rc = cli_hex_positional(&job.cmd, "PACKET", job.pkt, CLI_MAX_BYTES, &job.len);
    if (rc == 0)
        rc = mode == 2 ? run_relay(&job) : run_endpoint(&job, mode == 0);

    for (int i = 0; i < 2; i++) {
        perc_srtp_session_free(job.sessions[i]);
        perc_srtp_keys_wipe(&job.keys[i]);
    }
    perc_double_master_wipe(&job.master);
    perc_wipe(&job, sizeof job);
    return rc;
}
