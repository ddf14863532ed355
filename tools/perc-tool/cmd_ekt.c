/* perc-tool ekt: build and open EKT Full fields (RFC 8870 §4.1, §4.3). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "perc/ekt.h"
#include "perc/ekt_field.h"
#include "perc/hex.h"
#include "perc/secret.h"

static const char USAGE[] =
    "usage: perc-tool ekt wrap --cipher aeskw128|aeskw256 --ekt-key HEX --spi N\n"
    "                 --epoch N --ssrc N --roc N --srtp-key HEX\n"
    "       perc-tool ekt unwrap --ekt-key HEX FIELD\n"
    "\n"
    "wrap: prints the Full EKT field (hex) carrying --srtp-key for --ssrc at\n"
    "  --roc, wrapped under the EKTKey with AES key wrap with padding\n"
    "  (RFC 5649). For the double profiles --srtp-key is the inner half of\n"
    "  the master key only (16 octets for double128, 32 for double256).\n"
    "  --spi, --epoch (0..65535), --ssrc, --roc (0..2^32-1): decimal or 0x hex.\n"
    "unwrap: parses FIELD (one EKT field, or a whole SRTP packet ending in\n"
    "  one) and prints JSON: the type, and for a Full field its SPI, epoch,\n"
    "  and the unwrapped master key, SSRC and ROC. The cipher follows from\n"
    "  the EKTKey's length (16: aeskw128, 32: aeskw256).\n";

static const char *const CIPHERS[] = {"aeskw128", "aeskw256"};
static const uint8_t CIPHER_IDS[] = {PERC_EKT_CIPHER_AESKW_128, PERC_EKT_CIPHER_AESKW_256};

/* The master salt is part of an EKT parameter set but never of a Full
 * field (§4.1: it travels only in the EKTKey message), so wrap and unwrap
 * give the parameter set this placeholder. */
static const uint8_t UNUSED_SALT[12] = {0};

static int run_wrap(cli_cmd *cmd)
{
    uint8_t ekt_key[PERC_EKT_MAX_EKTKEY_LEN], srtp_key[PERC_EKT_MAX_MASTER_KEY_LEN];
    uint8_t field[PERC_EKT_FULL_MAX_LEN];
    size_t ekt_key_len = 0, srtp_key_len = 0, field_len = 0, cipher = 0;
    uint64_t spi, epoch, ssrc, roc;
    perc_ekt_params params;
    memset(&params, 0, sizeof params);
    int rc;
    if ((rc = cli_choice_opt(cmd, "cipher", CIPHERS, 2, &cipher)) ||
        (rc = cli_hex_opt(cmd, "ekt-key", ekt_key, sizeof ekt_key, &ekt_key_len)) ||
        (rc = cli_hex_opt(cmd, "srtp-key", srtp_key, sizeof srtp_key, &srtp_key_len)))
        goto out;
    static const char *const REQUIRED[] = {"spi", "epoch", "ssrc", "roc"};
    for (size_t i = 0; i < 4; i++)
        if (!cli_has(cmd, REQUIRED[i])) {
            rc = cli_fail(cmd, CLI_EXIT_USAGE, "missing --%s", REQUIRED[i]);
            goto out;
        }
    if ((rc = cli_uint_opt(cmd, "spi", 0xFFFF, 0, &spi)) ||
        (rc = cli_uint_opt(cmd, "epoch", 0xFFFF, 0, &epoch)) ||
        (rc = cli_uint_opt(cmd, "ssrc", UINT32_MAX, 0, &ssrc)) ||
        (rc = cli_uint_opt(cmd, "roc", UINT32_MAX, 0, &roc)))
        goto out;
    if (ekt_key_len != perc_ekt_cipher_key_len(CIPHER_IDS[cipher])) {
        rc = cli_fail(cmd, CLI_EXIT_USAGE, "--ekt-key: %s needs %zu octets (got %zu)", CIPHERS[cipher],
                      perc_ekt_cipher_key_len(CIPHER_IDS[cipher]), ekt_key_len);
        goto out;
    }
    int prc = perc_ekt_params_set(&params, CIPHER_IDS[cipher], ekt_key, ekt_key_len, UNUSED_SALT,
                                  sizeof UNUSED_SALT, (uint16_t)spi, PERC_EKT_MAX_TTL, 0);
    if (prc == PERC_OK)
        prc = perc_ekt_full_field_make(&params, srtp_key, srtp_key_len, (uint32_t)ssrc, (uint32_t)roc,
                                       (uint16_t)epoch, field, sizeof field, &field_len);
    if (prc != PERC_OK) {
        rc = cli_perc_fail(cmd, prc, prc == PERC_ERR_INVALID_ARG || prc == PERC_ERR_TOO_LARGE
                                         ? "--srtp-key" : "wrap");
        if (prc == PERC_ERR_INVALID_ARG || prc == PERC_ERR_TOO_LARGE)
            rc = CLI_EXIT_USAGE;
        goto out;
    }
    cli_print_hex(field, field_len);
    rc = CLI_EXIT_OK;
out:
    perc_ekt_params_wipe(&params);
    perc_wipe(ekt_key, sizeof ekt_key);
    perc_wipe(srtp_key, sizeof srtp_key);
    return rc;
}

static void json_hex(cJSON *obj, const char *name, const uint8_t *p, size_t len)
{
    char text[2 * PERC_EKT_FIELD_MAX_LEN + 1];
    if (perc_hex_encode(p, len, text, sizeof text) == PERC_OK)
        cJSON_AddStringToObject(obj, name, text);
    perc_wipe(text, sizeof text);
}

static int print_json(cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
    if (text) {
        puts(text);
        perc_wipe(text, strlen(text)); /* may hold a master key */
        free(text);
    }
    cJSON_Delete(obj);
    return text ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static int run_unwrap(cli_cmd *cmd)
{
    uint8_t ekt_key[PERC_EKT_MAX_EKTKEY_LEN];
    static uint8_t input[CLI_MAX_BYTES];
    size_t ekt_key_len = 0, len = 0;
    perc_ekt_params params;
    perc_ekt_plaintext pt;
    memset(&params, 0, sizeof params);
    memset(&pt, 0, sizeof pt);
    int rc;
    if ((rc = cli_hex_opt(cmd, "ekt-key", ekt_key, sizeof ekt_key, &ekt_key_len)) ||
        (rc = cli_hex_positional(cmd, "FIELD", input, sizeof input, &len)))
        goto out;
    uint8_t cipher = ekt_key_len == 16   ? PERC_EKT_CIPHER_AESKW_128
                     : ekt_key_len == 32 ? PERC_EKT_CIPHER_AESKW_256
                                         : 0;
    if (!cipher) {
        rc = cli_fail(cmd, CLI_EXIT_USAGE, "--ekt-key: must be 16 (aeskw128) or 32 (aeskw256) octets,"
                      " got %zu", ekt_key_len);
        goto out;
    }
    perc_ekt_field where;
    perc_ekt_full full;
    int prc = perc_ekt_field_find(input, len, &where);
    if (prc != PERC_OK) {
        rc = cli_perc_fail(cmd, prc, "FIELD");
        goto out;
    }
    cJSON *obj = cJSON_CreateObject();
    if (where.type == PERC_EKT_TYPE_SHORT) {
        cJSON_AddStringToObject(obj, "type", "short");
    } else if (where.type != PERC_EKT_TYPE_FULL) {
        cJSON_AddStringToObject(obj, "type", "extension");
        cJSON_AddNumberToObject(obj, "type_value", where.type);
        cJSON_AddNumberToObject(obj, "length", (double)where.field.len);
    } else {
        prc = perc_ekt_full_parse(where.field.ptr, where.field.len, &full);
        if (prc == PERC_OK)
            prc = perc_ekt_params_set(&params, cipher, ekt_key, ekt_key_len, UNUSED_SALT,
                                      sizeof UNUSED_SALT, full.spi, PERC_EKT_MAX_TTL, 0);
        if (prc == PERC_OK)
            prc = perc_ekt_full_field_open(&params, &full, &pt);
        if (prc != PERC_OK) {
            cJSON_Delete(obj);
            rc = cli_perc_fail(cmd, prc, prc == PERC_ERR_AUTH ? "FIELD does not unwrap under --ekt-key"
                                                              : "FIELD");
            goto out;
        }
        cJSON_AddStringToObject(obj, "type", "full");
        cJSON_AddStringToObject(obj, "cipher", cipher == PERC_EKT_CIPHER_AESKW_128 ? "aeskw128" : "aeskw256");
        cJSON_AddNumberToObject(obj, "spi", full.spi);
        cJSON_AddNumberToObject(obj, "epoch", full.epoch);
        cJSON_AddNumberToObject(obj, "length", (double)where.field.len);
        json_hex(obj, "srtp_key", pt.master_key, pt.master_key_len);
        cJSON_AddNumberToObject(obj, "ssrc", pt.ssrc);
        cJSON_AddNumberToObject(obj, "roc", pt.roc);
    }
    if (where.srtp_len > 0)
        cJSON_AddNumberToObject(obj, "srtp_length", (double)where.srtp_len);
    rc = print_json(obj);
out:
    perc_ekt_plaintext_wipe(&pt);
    perc_ekt_params_wipe(&params);
    perc_wipe(ekt_key, sizeof ekt_key);
    perc_wipe(input, sizeof input);
    return rc;
}

int cmd_ekt(int argc, char **argv)
{
    cli_opt opts[] = {
        {"cipher", true, NULL, false}, {"ekt-key", true, NULL, false}, {"spi", true, NULL, false},
        {"epoch", true, NULL, false},  {"ssrc", true, NULL, false},    {"roc", true, NULL, false},
        {"srtp-key", true, NULL, false},
    };
    cli_cmd cmd = {"perc-tool ekt", USAGE, opts, sizeof opts / sizeof opts[0], {0}, 0, 0};
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    bool wrap = argc >= 1 && strcmp(argv[0], "wrap") == 0;
    bool unwrap = argc >= 1 && strcmp(argv[0], "unwrap") == 0;
    if (!wrap && !unwrap)
        return cli_fail(&cmd, CLI_EXIT_USAGE, "expected 'wrap' or 'unwrap' (see --help)");
    cmd.prog = wrap ? "perc-tool ekt wrap" : "perc-tool ekt unwrap";
    cmd.max_pos = wrap ? 0 : 1;
    int rc = cli_parse(&cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (unwrap) {
        static const char *const WRAP_ONLY[] = {"cipher", "spi", "epoch", "ssrc", "roc", "srtp-key"};
        for (size_t i = 0; i < 6; i++)
            if (cli_has(&cmd, WRAP_ONLY[i]))
                return cli_fail(&cmd, CLI_EXIT_USAGE, "--%s is a wrap option; unwrap reads it from FIELD",
                                WRAP_ONLY[i]);
    }
    return wrap ? run_wrap(&cmd) : run_unwrap(&cmd);
}
