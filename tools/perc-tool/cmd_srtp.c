/* perc-tool srtp: one SRTP or SRTCP packet through RFC 7714 AES-GCM. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "perc/profile.h"
#include "perc/secret.h"
#include "perc/srtp.h"

static const char USAGE[] =
    "usage: perc-tool srtp protect|unprotect --profile aes128gcm|aes256gcm\n"
    "                 --key HEX --salt HEX [--session] [--roc N]\n"
    "                 [--rtcp [--index N] [--auth-only]] PACKET\n"
    "\n"
    "Protects a plain RTP (or, with --rtcp, RTCP) packet, or verifies and\n"
    "decrypts a protected one, and prints the result as hex.\n"
    "  --key, --salt  master key (16 or 32 octets) and 12-octet master salt;\n"
    "                 session keys are derived per RFC 3711 §4.3 (kdr 0)\n"
    "  --session      use --key and --salt directly as session key and salt\n"
    "                 (the form the RFC 7714 vectors are written in)\n"
    "  --roc N        rollover counter of the RTP packet (default 0)\n"
    "  --rtcp         SRTCP (RFC 7714 §9); protect uses SRTCP index --index\n"
    "                 (default 0) with E=1, or E=0 with --auth-only\n"
    "PACKET is hex, or - to read it from stdin.\n";

static const char *const CIPHERS[] = {"aes128gcm", "aes256gcm"};

int cmd_srtp(int argc, char **argv)
{
    cli_opt opts[] = {
        {"profile", true, NULL, false}, {"key", true, NULL, false},
        {"salt", true, NULL, false},    {"session", false, NULL, false},
        {"roc", true, NULL, false},     {"rtcp", false, NULL, false},
        {"index", true, NULL, false},   {"auth-only", false, NULL, false},
    };
    cli_cmd cmd = {"perc-tool srtp", USAGE, opts, sizeof opts / sizeof opts[0], {0}, 0, 1};
    if (argc < 1 || (strcmp(argv[0], "protect") != 0 && strcmp(argv[0], "unprotect") != 0)) {
        if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
            fputs(USAGE, stdout);
            return CLI_EXIT_OK;
        }
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected 'protect' or 'unprotect' (see --help)");
    }
    bool protect = strcmp(argv[0], "protect") == 0;
    cmd.prog = protect ? "perc-tool srtp protect" : "perc-tool srtp unprotect";
    int rc = cli_parse(&cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;

    uint8_t key[PERC_SRTP_MAX_KEY_LEN], salt[PERC_SRTP_SALT_LEN];
    static uint8_t pkt[CLI_MAX_BYTES + 64];
    size_t key_len = 0, salt_len = 0, len = 0, cipher_index = 0;
    uint64_t roc = 0, index = 0;
    perc_srtp_session_keys keys;
    perc_srtp_session *session = NULL;
    memset(&keys, 0, sizeof keys);

    if ((rc = cli_choice_opt(&cmd, "profile", CIPHERS, 2, &cipher_index)) ||
        (rc = cli_hex_opt(&cmd, "key", key, sizeof key, &key_len)) ||
        (rc = cli_hex_opt(&cmd, "salt", salt, sizeof salt, &salt_len)) ||
        (rc = cli_uint_opt(&cmd, "roc", UINT32_MAX, 0, &roc)) ||
        (rc = cli_uint_opt(&cmd, "index", 0x7FFFFFFF, 0, &index)) ||
        (rc = cli_hex_positional(&cmd, "PACKET", pkt, CLI_MAX_BYTES, &len)))
        goto out;
    if ((cli_has(&cmd, "index") || cli_has(&cmd, "auth-only")) && !cli_has(&cmd, "rtcp")) {
        rc = cli_fail(&cmd, CLI_EXIT_USAGE, "--index and --auth-only go with --rtcp");
        goto out;
    }
    if (!protect && (cli_has(&cmd, "index") || cli_has(&cmd, "auth-only"))) {
        rc = cli_fail(&cmd, CLI_EXIT_USAGE,
                      "--index and --auth-only are for protect; unprotect reads them from the packet");
        goto out;
    }
    perc_srtp_cipher cipher = cipher_index == 0 ? PERC_AES128_GCM : PERC_AES256_GCM;
    if (key_len != perc_cipher_key_len(cipher) || salt_len != PERC_SRTP_SALT_LEN) {
        rc = cli_fail(&cmd, CLI_EXIT_USAGE, "--profile %s needs a %zu-octet key and a %d-octet salt"
                      " (got %zu and %zu)", CIPHERS[cipher_index], perc_cipher_key_len(cipher),
                      PERC_SRTP_SALT_LEN, key_len, salt_len);
        goto out;
    }
    int prc = cli_has(&cmd, "session")
                  ? perc_srtp_keys_direct(cipher, key, key_len, salt, salt_len, &keys)
                  : perc_srtp_kdf(cipher, key, key_len, salt, salt_len, &keys);
    if (prc == PERC_OK)
        prc = perc_srtp_session_new(&keys, &session);
    if (prc != PERC_OK) {
        rc = cli_perc_fail(&cmd, prc, "key setup");
        goto out;
    }

    size_t out_len = 0;
    if (cli_has(&cmd, "rtcp")) {
        uint32_t got_index = 0;
        bool encrypted = false;
        prc = protect ? perc_srtcp_seal(session, pkt, len, sizeof pkt, (uint32_t)index,
                                        !cli_has(&cmd, "auth-only"), &out_len)
                      : perc_srtcp_open(session, pkt, len, &got_index, &encrypted, &out_len);
    } else {
        prc = protect ? perc_srtp_seal(session, pkt, len, sizeof pkt, (uint32_t)roc, &out_len)
                      : perc_srtp_open(session, pkt, len, (uint32_t)roc, &out_len);
    }
    if (prc != PERC_OK) {
        rc = cli_perc_fail(&cmd, prc, "PACKET");
        goto out;
    }
    cli_print_hex(pkt, out_len);
    rc = CLI_EXIT_OK;
out:
    perc_srtp_session_free(session);
    perc_srtp_keys_wipe(&keys);
    perc_wipe(key, sizeof key);
    perc_wipe(salt, sizeof salt);
    perc_wipe(pkt, sizeof pkt);
    return rc;
}
