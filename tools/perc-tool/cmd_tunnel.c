/* perc-tool tunnel: RFC 9185 tunnel messages between JSON and hex.
 *
 * JSON form (decode prints exactly what encode accepts):
 *   {"type":"supported_profiles","version":0,"profiles":[9,10]}
 *   {"type":"unsupported_version","highest_version":1}
 *   {"type":"media_keys","association_id":"UUID","profile":9,"mki":"",
 *    "client_write_key":HEX,"server_write_key":HEX,
 *    "client_write_salt":HEX,"server_write_salt":HEX}
 *   {"type":"tunneled_dtls","association_id":"UUID","dtls":HEX}
 *   {"type":"endpoint_disconnect","association_id":"UUID"}
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "perc/hex.h"
#include "perc/secret.h"
#include "perc/tunnel.h"

static const char USAGE[] =
    "usage: perc-tool tunnel encode JSON\n"
    "       perc-tool tunnel decode HEX\n"
    "\n"
    "Converts one RFC 9185 tunnel message between JSON and its wire form\n"
    "(hex). JSON or HEX may be '-' to read stdin. The JSON forms:\n"
    "  {\"type\":\"supported_profiles\",\"version\":0,\"profiles\":[9,10]}\n"
    "  {\"type\":\"unsupported_version\",\"highest_version\":1}\n"
    "  {\"type\":\"media_keys\",\"association_id\":UUID,\"profile\":9,\"mki\":\"\",\n"
    "   \"client_write_key\":HEX,\"server_write_key\":HEX,\n"
    "   \"client_write_salt\":HEX,\"server_write_salt\":HEX}\n"
    "  {\"type\":\"tunneled_dtls\",\"association_id\":UUID,\"dtls\":HEX}\n"
    "  {\"type\":\"endpoint_disconnect\",\"association_id\":UUID}\n"
    "UUID is the 36-character text form; profiles are RFC 5764 values\n"
    "(7, 8: AES-GCM; 9, 10: the double profiles of RFC 8723).\n";

static const char *const TYPE_NAMES[] = {NULL, "supported_profiles", "unsupported_version",
                                         "media_keys", "tunneled_dtls", "endpoint_disconnect"};

#define MAX_PROFILES 64

/* Storage the decoded JSON's byte fields point into. */
typedef struct tunnel_job {
    cli_cmd cmd;
    uint8_t bytes[6][PERC_TUNNEL_MAX_DTLS];
    uint8_t profiles[2 * MAX_PROFILES];
    uint8_t wire[PERC_TUNNEL_MAX_MSG];
} tunnel_job;

static int json_fail(tunnel_job *job, const char *field, const char *what)
{
    return cli_fail(&job->cmd, CLI_EXIT_USAGE, "JSON \"%s\": %s", field, what);
}

static int json_uint(tunnel_job *job, const cJSON *obj, const char *name, double max, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return json_fail(job, name, "missing");
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (d < 0 || d > max || d != (double)(uint32_t)d) {
        char msg[64];
        snprintf(msg, sizeof msg, "must be an integer from 0 to %.0f", max);
        return json_fail(job, name, msg);
    }
    *out = (uint32_t)d;
    return 0;
}

static int json_hex(tunnel_job *job, const cJSON *obj, const char *name, int slot, size_t max,
                    perc_view *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v)
        return json_fail(job, name, "missing");
    if (!cJSON_IsString(v))
        return json_fail(job, name, "must be a hex string");
    size_t len;
    int prc = perc_hex_decode(v->valuestring, job->bytes[slot], max, &len);
    if (prc == PERC_ERR_NOSPACE)
        return json_fail(job, name, "too long");
    if (prc != PERC_OK)
        return json_fail(job, name, "not valid hex");
    *out = perc_view_of(job->bytes[slot], len);
    return 0;
}

static int json_uuid(tunnel_job *job, const cJSON *obj, perc_uuid *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "association_id");
    if (!v)
        return json_fail(job, "association_id", "missing");
    if (!cJSON_IsString(v) || perc_uuid_parse(v->valuestring, strlen(v->valuestring), out) != PERC_OK)
        return json_fail(job, "association_id", "must be a UUID in its 36-character text form");
    return 0;
}

/* Refuses members that the message type does not have, so a typo in a
 * field name is an error rather than a silently missing field. */
static int json_only(tunnel_job *job, const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(it->string, allowed[i]) == 0;
        if (!ok)
            return json_fail(job, it->string, "is not a field of this message type");
    }
    return 0;
}

static int parse_json(tunnel_job *job, const cJSON *obj, perc_tunnel_msg *m)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(type))
        return json_fail(job, "type", "missing or not a string");
    m->type = 0;
    for (uint8_t t = 1; t <= 5; t++)
        if (strcmp(type->valuestring, TYPE_NAMES[t]) == 0)
            m->type = t;
    uint32_t v = 0;
    int rc = 0;
    switch (m->type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES: {
        static const char *const F[] = {"type", "version", "profiles", NULL};
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, "profiles");
        if ((rc = json_only(job, obj, F)) || (rc = json_uint(job, obj, "version", 255, &v)))
            return rc;
        m->supported_profiles.version = (uint8_t)v;
        if (!cJSON_IsArray(list))
            return json_fail(job, "profiles", "missing or not an array");
        size_t n = 0;
        for (const cJSON *it = list->child; it; it = it->next, n++) {
            if (n >= MAX_PROFILES)
                return json_fail(job, "profiles", "too many");
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 0xFFFF ||
                it->valuedouble != (double)(uint16_t)it->valuedouble)
                return json_fail(job, "profiles", "entries must be integers from 0 to 65535");
            perc_store_u16(job->profiles + 2 * n, (uint16_t)it->valuedouble);
        }
        m->supported_profiles.profiles = perc_view_of(job->profiles, 2 * n);
        return 0;
    }
    case PERC_TUNNEL_UNSUPPORTED_VERSION: {
        static const char *const F[] = {"type", "highest_version", NULL};
        if ((rc = json_only(job, obj, F)) || (rc = json_uint(job, obj, "highest_version", 255, &v)))
            return rc;
        m->unsupported_version.highest_version = (uint8_t)v;
        return 0;
    }
    case PERC_TUNNEL_MEDIA_KEYS: {
        static const char *const F[] = {"type", "association_id", "profile", "mki",
                                        "client_write_key", "server_write_key",
                                        "client_write_salt", "server_write_salt", NULL};
        perc_tunnel_media_keys *k = &m->media_keys;
        if ((rc = json_only(job, obj, F)) || (rc = json_uuid(job, obj, &k->association_id)) ||
            (rc = json_uint(job, obj, "profile", 0xFFFF, &v)))
            return rc;
        k->profile = (uint16_t)v;
        const cJSON *mki = cJSON_GetObjectItemCaseSensitive(obj, "mki");
        k->mki = perc_view_of(job->bytes[0], 0);
        if (mki && (rc = json_hex(job, obj, "mki", 0, 256, &k->mki)))
            return rc;
        if ((rc = json_hex(job, obj, "client_write_key", 1, 256, &k->client_key)) ||
            (rc = json_hex(job, obj, "server_write_key", 2, 256, &k->server_key)) ||
            (rc = json_hex(job, obj, "client_write_salt", 3, 256, &k->client_salt)) ||
            (rc = json_hex(job, obj, "server_write_salt", 4, 256, &k->server_salt)))
            return rc;
        return 0;
    }
    case PERC_TUNNEL_TUNNELED_DTLS: {
        static const char *const F[] = {"type", "association_id", "dtls", NULL};
        if ((rc = json_only(job, obj, F)) || (rc = json_uuid(job, obj, &m->tunneled_dtls.association_id)))
            return rc;
        return json_hex(job, obj, "dtls", 5, PERC_TUNNEL_MAX_DTLS, &m->tunneled_dtls.dtls);
    }
    case PERC_TUNNEL_ENDPOINT_DISCONNECT: {
        static const char *const F[] = {"type", "association_id", NULL};
        if ((rc = json_only(job, obj, F)))
            return rc;
        return json_uuid(job, obj, &m->endpoint_disconnect.association_id);
    }
    default:
        return json_fail(job, "type", "unknown message type (see --help)");
    }
}

static int run_encode(tunnel_job *job)
{
    if (job->cmd.n_pos != 1)
        return cli_fail(&job->cmd, CLI_EXIT_USAGE, "expected one JSON argument (or - for stdin)");
    char *owned = strcmp(job->cmd.pos[0], "-") == 0 ? cli_read_stdin() : NULL;
    if (strcmp(job->cmd.pos[0], "-") == 0 && !owned)
        return cli_fail(&job->cmd, CLI_EXIT_USAGE, "JSON: cannot read stdin");
    const char *text = owned ? owned : job->cmd.pos[0];
    cJSON *obj = cJSON_Parse(text);
    int rc;
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    if (!cJSON_IsObject(obj)) {
        rc = cli_fail(&job->cmd, CLI_EXIT_USAGE, "JSON: not a JSON object");
    } else if ((rc = parse_json(job, obj, &m)) == 0) {
        perc_writer w;
        perc_writer_init(&w, job->wire, sizeof job->wire);
        size_t len = 0;
        int prc = perc_tunnel_encode(&w, &m);
        if (prc == PERC_OK)
            prc = perc_writer_finish(&w, &len);
        if (prc != PERC_OK)
            rc = cli_fail(&job->cmd, CLI_EXIT_USAGE, "%s: %s (%s)", TYPE_NAMES[m.type],
                          perc_strerror(prc), perc_err_name(prc));
        else
            cli_print_hex(job->wire, len);
    }
    cJSON_Delete(obj);
    if (owned) {
        perc_wipe(owned, strlen(owned)); /* MediaKeys JSON holds keys */
        free(owned);
    }
    return rc;
}

static void add_hex(cJSON *obj, const char *name, perc_view v)
{
    static char text[2 * PERC_TUNNEL_MAX_DTLS + 1];
    if (perc_hex_encode(v.ptr, v.len, text, sizeof text) == PERC_OK)
        cJSON_AddStringToObject(obj, name, text);
    perc_wipe(text, 2 * v.len + 1);
}

static void add_uuid(cJSON *obj, const perc_uuid *u)
{
    char text[PERC_UUID_TEXT_LEN + 1];
    if (perc_uuid_format(u, text, sizeof text) == PERC_OK)
        cJSON_AddStringToObject(obj, "association_id", text);
}

static int run_decode(tunnel_job *job)
{
    size_t len = 0;
    int rc = cli_hex_positional(&job->cmd, "HEX", job->wire, sizeof job->wire, &len);
    if (rc)
        return rc;
    perc_tunnel_msg m;
    int prc = perc_tunnel_decode(job->wire, len, &m);
    if (prc == PERC_ERR_UNSUPPORTED)
        return cli_fail(&job->cmd, CLI_EXIT_USAGE, "HEX: message type %u is not one RFC 9185 defines",
                        (unsigned)job->wire[0]);
    if (prc == PERC_ERR_BAD_VERSION)
        return cli_fail(&job->cmd, CLI_EXIT_USAGE,
                        "HEX: SupportedProfiles of tunnel version %u; this is version %u",
                        (unsigned)m.supported_profiles.version, PERC_TUNNEL_VERSION);
    if (prc != PERC_OK)
        return cli_perc_fail(&job->cmd, prc, "HEX");
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "type", TYPE_NAMES[m.type]);
    switch (m.type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES: {
        cJSON_AddNumberToObject(obj, "version", m.supported_profiles.version);
        cJSON *list = cJSON_AddArrayToObject(obj, "profiles");
        for (size_t i = 0; i < perc_tunnel_profile_count(&m.supported_profiles); i++)
            cJSON_AddItemToArray(list, cJSON_CreateNumber(perc_tunnel_profile_at(&m.supported_profiles, i)));
        break;
    }
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        cJSON_AddNumberToObject(obj, "highest_version", m.unsupported_version.highest_version);
        break;
    case PERC_TUNNEL_MEDIA_KEYS:
        add_uuid(obj, &m.media_keys.association_id);
        cJSON_AddNumberToObject(obj, "profile", m.media_keys.profile);
        add_hex(obj, "mki", m.media_keys.mki);
        add_hex(obj, "client_write_key", m.media_keys.client_key);
        add_hex(obj, "server_write_key", m.media_keys.server_key);
        add_hex(obj, "client_write_salt", m.media_keys.client_salt);
        add_hex(obj, "server_write_salt", m.media_keys.server_salt);
        break;
    case PERC_TUNNEL_TUNNELED_DTLS:
        add_uuid(obj, &m.tunneled_dtls.association_id);
        add_hex(obj, "dtls", m.tunneled_dtls.dtls);
        break;
    default: /* PERC_TUNNEL_ENDPOINT_DISCONNECT: decode accepts no other type */
        add_uuid(obj, &m.endpoint_disconnect.association_id);
        break;
    }
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!text)
        return cli_fail(&job->cmd, CLI_EXIT_FAILED, "out of memory");
    puts(text);
    perc_wipe(text, strlen(text));
    free(text);
    return CLI_EXIT_OK;
}

int cmd_tunnel(int argc, char **argv)
{
    static tunnel_job job;
    cli_cmd base = {"perc-tool tunnel", USAGE, NULL, 0, {0}, 0, 1};
    job.cmd = base;
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    bool encode = argc >= 1 && strcmp(argv[0], "encode") == 0;
    bool decode = argc >= 1 && strcmp(argv[0], "decode") == 0;
    if (!encode && !decode)
        return cli_fail(&job.cmd, CLI_EXIT_USAGE, "expected 'encode' or 'decode' (see --help)");
    job.cmd.prog = encode ? "perc-tool tunnel encode" : "perc-tool tunnel decode";
    int rc = cli_parse(&job.cmd, argc - 1, argv + 1);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = encode ? run_encode(&job) : run_decode(&job);
    perc_wipe(&job, sizeof job);
    return rc;
}
