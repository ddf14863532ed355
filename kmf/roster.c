/* The roster file (kmf/README.md):
 *
 *   {"conferences": {"standup": {"open": false,
 *                                "allow": [{"identity": "alice"},
 *                                          {"fingerprint": "AB:CD:..."},
 *                                          {"identity": "bob", "fingerprint": "..."}]},
 *                    "lobby": {"open": true}}}
 *
 * Each conference named becomes an explicit conference of the core with
 * that policy. Conferences the file does not name are refused at the
 * announcement (signaling_link.c), so signaling cannot admit anyone on its
 * own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "roster.h"

#include "perc/dtls.h"
#include "perc/error.h"
#include "perc_daemon/clock.h"
#include "perc_daemon/error.h"
#include "perc_daemon/log.h"

static gboolean refuse(GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static gboolean refuse(GError **error, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, PERC_DAEMON_ERROR, PERC_DAEMON_ERROR_CONFIG, "--roster: %s: %s", path,
                msg);
    g_free(msg);
    return FALSE;
}

/* "AB:CD:..." or "sha-256 AB:CD:..." (any case). */
static bool parse_fp(const char *text, uint8_t out[PERC_DTLS_FINGERPRINT_LEN])
{
    if (g_ascii_strncasecmp(text, "sha-256 ", 8) == 0)
        text += 8;
    return perc_dtls_fingerprint_parse(text, out) == PERC_OK;
}

static gboolean apply_conference(perc_kmf *kmf, const char *path, const cJSON *conf,
                                 GError **error)
{
    const char *id = conf->string;
    if (!cJSON_IsObject(conf))
        return refuse(error, path, "conference \"%s\": not an object", id);
    const cJSON *open = cJSON_GetObjectItemCaseSensitive(conf, "open");
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(conf, "allow");
    for (const cJSON *m = conf->child; m; m = m->next)
        if (strcmp(m->string, "open") != 0 && strcmp(m->string, "allow") != 0)
            return refuse(error, path, "conference \"%s\": unknown member \"%s\"", id, m->string);
    if (open && !cJSON_IsBool(open))
        return refuse(error, path, "conference \"%s\": \"open\" must be true or false", id);
    uint64_t now = perc_clock_now_ns();
    if (open && cJSON_IsTrue(open)) {
        if (allow)
            return refuse(error, path, "conference \"%s\": \"allow\" makes no sense when open",
                        id);
        int rc = perc_kmf_conference_create(kmf, id, now);
        if (rc == PERC_OK)
            rc = perc_kmf_set_open(kmf, id, now);
        if (rc != PERC_OK)
            return refuse(error, path, "conference \"%s\": %s", id, perc_strerror(rc));
        perc_log_info("roster: conference %s is open (anyone signaling announces)", id);
        return TRUE;
    }
    if (!allow || !cJSON_IsArray(allow))
        return refuse(error, path, "conference \"%s\": needs an \"allow\" array (or \"open\": true)",
                    id);
    int n = cJSON_GetArraySize(allow);
    if (n > ROSTER_MAX_ENTRIES)
        return refuse(error, path, "conference \"%s\": more than %d entries", id,
                    ROSTER_MAX_ENTRIES);
    perc_kmf_roster_entry *entries = g_new0(perc_kmf_roster_entry, n > 0 ? (gsize)n : 1u);
    int i = 0;
    gboolean ok = TRUE;
    for (const cJSON *e = allow->child; e && ok; e = e->next, i++) {
        if (!cJSON_IsObject(e)) {
            ok = refuse(error, path, "conference \"%s\": allow[%d] is not an object", id, i);
            break;
        }
        for (const cJSON *m = e->child; m; m = m->next)
            if (strcmp(m->string, "identity") != 0 && strcmp(m->string, "fingerprint") != 0) {
                ok = refuse(error, path, "conference \"%s\": allow[%d]: unknown member \"%s\"", id,
                          i, m->string);
                break;
            }
        if (!ok)
            break;
        const cJSON *ident = cJSON_GetObjectItemCaseSensitive(e, "identity");
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(e, "fingerprint");
        if (!ident && !fp) {
            ok = refuse(error, path, "conference \"%s\": allow[%d] needs identity or fingerprint",
                      id, i);
            break;
        }
        if (ident) {
            if (!cJSON_IsString(ident) || ident->valuestring[0] == '\0') {
                ok = refuse(error, path, "conference \"%s\": allow[%d].identity: not a string", id,
                          i);
                break;
            }
            entries[i].identity = ident->valuestring;
        }
        if (fp) {
            if (!cJSON_IsString(fp) || !parse_fp(fp->valuestring, entries[i].fingerprint)) {
                ok = refuse(error, path,
                          "conference \"%s\": allow[%d].fingerprint: not a SHA-256 fingerprint "
                          "(AB:CD:... 32 pairs)",
                          id, i);
                break;
            }
            entries[i].has_fingerprint = true;
        }
    }
    if (ok) {
        int rc = perc_kmf_set_roster(kmf, id, entries, (size_t)n, now);
        if (rc != PERC_OK)
            ok = refuse(error, path, "conference \"%s\": %s", id, perc_strerror(rc));
        else
            perc_log_info("roster: conference %s allows %d entr%s", id, n, n == 1 ? "y" : "ies");
    }
    g_free(entries);
    return ok;
}

gboolean kmf_roster_apply(perc_kmf *kmf, GHashTable *confs, const char *path, const char *text,
                          size_t len, GError **error)
{
    if (len > ROSTER_MAX_FILE)
        return refuse(error, path, "larger than %u bytes", ROSTER_MAX_FILE);
    if (memchr(text, '\0', len))
        return refuse(error, path, "contains a NUL byte");
    /* text need not end in a NUL: parse exactly len octets, then allow
     * only white space after the value. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root)
        return refuse(error, path, "not JSON (near byte %ld)", end ? (long)(end - text) : -1L);
    while (end < text + len && g_ascii_isspace(*end))
        end++;
    if (end != text + len) {
        cJSON_Delete(root);
        return refuse(error, path, "not JSON (data after the value at byte %ld)",
                    (long)(end - text));
    }
    gboolean ok = TRUE;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "conferences");
    if (!cJSON_IsObject(root) || !list || !cJSON_IsObject(list)) {
        ok = refuse(error, path, "needs {\"conferences\": {...}}");
    } else {
        for (const cJSON *c = list->child; c && ok; c = c->next) {
            if (g_hash_table_contains(confs, c->string)) {
                ok = refuse(error, path, "conference \"%s\" given twice", c->string);
                break;
            }
            ok = apply_conference(kmf, path, c, error);
            if (ok)
                g_hash_table_add(confs, g_strdup(c->string));
        }
        if (ok && g_hash_table_size(confs) == 0)
            perc_log_warn("roster %s names no conference: nobody can join", path);
    }
    cJSON_Delete(root);
    return ok;
}

gboolean kmf_roster_load(perc_kmf *kmf, GHashTable *confs, const char *path, GError **error)
{
    char *text = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        gboolean r = refuse(error, path, "%s", gerr->message);
        g_error_free(gerr);
        return r;
    }
    gboolean ok = kmf_roster_apply(kmf, confs, path, text, len, error);
    g_free(text);
    return ok;
}
