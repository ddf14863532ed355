/* perc-signaling codec (perc/signaling.h, docs/signaling.md): decoding
 * with cJSON after a byte-level pre-scan, validation shared by decoder and
 * encoder, and a small JSON writer.
 *
 * cJSON is lenient where the protocol must not be: it lets invalid UTF-8,
 * raw control characters and "\u0000" through inside strings (the last
 * one silently truncates the string), accepts any nesting up to 1000 and
 * keeps members given twice. The pre-scan and check_tree() close those
 * gaps before any member is looked at.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "perc/secret.h"
#include "sdp_internal.h"
#include "signaling_internal.h"

/* ---- small validators ---- */

static bool is_printable_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!sdp_is_vchar(s[i]))
            return false;
    }
    return true;
}

bool perc_sig_valid_name(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n == 0 || n > PERC_SIG_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(sdp_is_alpha(c) || sdp_is_digit(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool perc_sig_valid_text(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= max && sdp_check_chars(sdp_str_of(s, n)) == NULL;
}

int perc_sig_fingerprint_parse(const char *text, perc_sdp_fingerprint *out)
{
    if (!text || !out)
        return PERC_ERR_INVALID_ARG;
    const char *why = NULL;
    size_t n = strlen(text);
    if (n > PERC_SDP_MAX_LINE || sdp_check_chars(sdp_str_of(text, n)) != NULL)
        return PERC_ERR_MALFORMED;
    int rc = sdp_parse_fingerprint(sdp_str_of(text, n), out, &why);
    if (rc)
        return PERC_ERR_MALFORMED;
    if (!perc_sdp_fingerprint_is_sha256(out))
        return PERC_ERR_UNSUPPORTED;
    return PERC_OK;
}

/* ---- the SDP rules of docs/signaling.md §2.1 ---- */

static bool same_fingerprint(const perc_sdp_fingerprint *a, const perc_sdp_fingerprint *b)
{
    return strcmp(a->hash, b->hash) == 0 && a->len == b->len &&
           memcmp(a->value, b->value, a->len) == 0;
}

/* One BUNDLE transport: every section has the first one's ICE
 * credentials, fingerprint and tls-id in force. */
static const char *check_one_transport(const perc_sdp *s, unsigned *line)
{
    const char *u0, *p0, *t0;
    const perc_sdp_fingerprint *f0;
    if (perc_sdp_effective_ice(s, 0, &u0, &p0) != PERC_OK ||
        perc_sdp_effective_fingerprint(s, 0, &f0) != PERC_OK ||
        perc_sdp_effective_tls_id(s, 0, &t0) != PERC_OK)
        return "first m= section lacks ICE credentials, fingerprint or tls-id";
    for (size_t i = 1; i < s->media_count; i++) {
        const char *u, *p, *t;
        const perc_sdp_fingerprint *f;
        *line = s->media[i].line;
        if (perc_sdp_effective_ice(s, i, &u, &p) != PERC_OK || strcmp(u, u0) != 0 ||
            strcmp(p, p0) != 0)
            return "m= section: ICE credentials differ from the first section's (one BUNDLE "
                   "transport)";
        if (perc_sdp_effective_fingerprint(s, i, &f) != PERC_OK || !same_fingerprint(f, f0))
            return "m= section: fingerprint differs from the first section's (one BUNDLE "
                   "transport)";
        if (perc_sdp_effective_tls_id(s, i, &t) != PERC_OK || strcmp(t, t0) != 0)
            return "m= section: tls-id differs from the first section's (one BUNDLE transport)";
    }
    *line = 0;
    return NULL;
}

/* RFC 8843 §9.2: an SSRC belongs to one bundled section. */
static const char *check_ssrcs_unique(const perc_sdp *s, unsigned *line)
{
    for (size_t i = 0; i < s->media_count; i++) {
        for (size_t k = 0; k < s->media[i].ssrc_count; k++) {
            uint32_t v = s->media[i].ssrcs[k].ssrc;
            for (size_t j = i + 1; j < s->media_count; j++) {
                for (size_t l = 0; l < s->media[j].ssrc_count; l++) {
                    if (s->media[j].ssrcs[l].ssrc == v) {
                        *line = s->media[j].line;
                        return "a=ssrc: the same SSRC in two m= sections";
                    }
                }
            }
        }
    }
    return NULL;
}

/* Returns NULL or a static reason, with *line the SDP line (0 if none). */
static const char *check_sdp_roles(const perc_sdp *s, bool offer, unsigned *line)
{
    perc_sdp_error e = {0, NULL};
    *line = 0;
    if (perc_sdp_check_perc(s, &e) != PERC_OK) {
        *line = e.line;
        return e.reason ? e.reason : "not a PERC description";
    }
    if (offer && s->ice_lite)
        return "a=ice-lite in an offer: the endpoint must be a full ICE agent";
    if (!offer && !s->ice_lite)
        return "the answer lacks a=ice-lite (the Media Distributor is the lite side)";
    for (size_t i = 0; i < s->media_count; i++) {
        perc_sdp_setup st = perc_sdp_effective_setup(s, i);
        bool ok = offer ? (st == PERC_SDP_SETUP_ACTIVE || st == PERC_SDP_SETUP_ACTPASS)
                        : st == PERC_SDP_SETUP_PASSIVE;
        if (!ok) {
            *line = s->media[i].line;
            return offer ? "a=setup must be active or actpass (the endpoint is the DTLS client, "
                           "RFC 8871 §4.5.1)"
                         : "a=setup must be passive in the answer";
        }
    }
    const char *why = check_one_transport(s, line);
    if (!why)
        why = check_ssrcs_unique(s, line);
    return why;
}

/* ---- value checks shared by decoder and encoder ---- */

typedef struct sig_fail {
    perc_sig_code code;     /* BAD_MESSAGE or BAD_SDP */
    const char *why;
    unsigned line;
} sig_fail;

static int bad(sig_fail *f, const char *why)
{
    f->code = PERC_SIG_E_BAD_MESSAGE;
    f->why = why;
    f->line = 0;
    return PERC_ERR_MALFORMED;
}

/* Checks string `s` (n bytes, no NUL inside) as a value of `fd`. For an
 * SDP, *keep (when not NULL) receives the parsed model on success (heap).
 * Returns PERC_OK, PERC_ERR_MALFORMED with *f, or PERC_ERR_NOMEM. */
static int check_str(const sig_field *fd, const char *s, size_t n, sig_fail *f, perc_sdp **keep)
{
    char scratch[PERC_SDP_TLS_ID_MAX + PERC_SDP_ICE_PWD_MAX + 2];
    const char *why = NULL;
    switch (fd->kind) {
    case SIG_V_ID:
        if (n < 1 || n > PERC_SIG_MAX_ID || !is_printable_ascii(s, n))
            return bad(f, "not 1..64 printable ASCII characters");
        return PERC_OK;
    case SIG_V_NAME:
        if (n < 1 || n > PERC_SIG_MAX_NAME || !perc_sig_valid_name(s))
            return bad(f, "not 1..64 characters of A-Z a-z 0-9 . _ -");
        return PERC_OK;
    case SIG_V_TEXT:
        if (n < 1)
            return bad(f, "empty");
        if (n > fd->max)
            return bad(f, fd->max == PERC_SIG_MAX_IDENTITY ? "longer than 128 bytes"
                          : fd->max == PERC_SIG_MAX_FIELD  ? "longer than 64 bytes"
                                                           : "longer than 256 bytes");
        if ((why = sdp_check_chars(sdp_str_of(s, n))) != NULL)
            return bad(f, "control character or invalid UTF-8");
        return PERC_OK;
    case SIG_V_TOKEN:
        if (n < 1 || n > PERC_SIG_MAX_TOKEN || !is_printable_ascii(s, n))
            return bad(f, "not 1..256 printable ASCII characters");
        return PERC_OK;
    case SIG_V_FINGERPRINT: {
        perc_sdp_fingerprint fp;
        int rc = perc_sig_fingerprint_parse(s, &fp);
        if (rc == PERC_ERR_UNSUPPORTED)
            return bad(f, "not a sha-256 fingerprint (32 octets)");
        if (rc)
            return bad(f, "not \"sha-256\" and 32 hex pairs separated by colons");
        return PERC_OK;
    }
    case SIG_V_TLS_ID:
        if (n > PERC_SDP_TLS_ID_MAX || sdp_parse_tls_id(sdp_str_of(s, n), scratch, &why))
            return bad(f, "not 20..255 characters of A-Z a-z 0-9 + / - _ (RFC 8842)");
        return PERC_OK;
    case SIG_V_MID:
        if (n > PERC_SDP_MAX_MID || sdp_parse_mid(sdp_str_of(s, n), scratch, &why))
            return bad(f, "not 1..63 SDP token characters");
        return PERC_OK;
    case SIG_V_UFRAG:
        if (n > PERC_SDP_ICE_UFRAG_MAX || sdp_parse_ice_ufrag(sdp_str_of(s, n), scratch, &why))
            return bad(f, "not 4..256 ice-chars (letters, digits, + /)");
        return PERC_OK;
    case SIG_V_PWD:
        if (n > PERC_SDP_ICE_PWD_MAX || sdp_parse_ice_pwd(sdp_str_of(s, n), scratch, &why))
            return bad(f, "not 22..256 ice-chars (letters, digits, + /)");
        return PERC_OK;
    case SIG_V_CAND_OR_END: {
        if (n == 0)
            return PERC_OK;
        perc_sdp_candidate c;
        perc_sdp_error e = {0, NULL};
        if (perc_sdp_candidate_parse(s, n, &c, &e) != PERC_OK)
            return bad(f, e.reason ? e.reason : "not an ICE candidate");
        return PERC_OK;
    }
    case SIG_V_OFFER:
    case SIG_V_ANSWER: {
        if (n < 1)
            return bad(f, "empty");
        perc_sdp *sdp = malloc(sizeof *sdp);
        if (!sdp)
            return PERC_ERR_NOMEM;
        perc_sdp_error e = {0, NULL};
        const char *reason = NULL;
        unsigned line = 0;
        if (perc_sdp_parse(s, n, sdp, &e) != PERC_OK) {
            reason = e.reason ? e.reason : "does not parse";
            line = e.line;
        } else {
            reason = check_sdp_roles(sdp, fd->kind == SIG_V_OFFER, &line);
        }
        if (reason) {
            free(sdp);
            f->code = PERC_SIG_E_BAD_SDP;
            f->why = reason;
            f->line = line;
            return PERC_ERR_MALFORMED;
        }
        if (keep)
            *keep = sdp;
        else
            free(sdp);
        return PERC_OK;
    }
    default:
        break;
    }
    return bad(f, "internal: not a string kind");
}

static bool is_string_kind(sig_vkind k) { return k <= SIG_V_PWD; }

static const char *dtls_role_name(perc_sig_dtls_role r)
{
    return r == PERC_SIG_DTLS_CLIENT ? "client" : r == PERC_SIG_DTLS_SERVER ? "server" : NULL;
}

static const char *kind_name(perc_sdp_media_type t)
{
    return t == PERC_SDP_AUDIO ? "audio" : t == PERC_SDP_VIDEO ? "video" : NULL;
}

static const char **str_slot(perc_sig_msg *m, const sig_field *fd)
{
    return (const char **)(void *)((char *)m + fd->off);
}

static const char *str_value(const perc_sig_msg *m, const sig_field *fd)
{
    return *(const char *const *)(const void *)((const char *)m + fd->off);
}

static bool *bool_slot(perc_sig_msg *m, const sig_field *fd)
{
    return (bool *)(void *)((char *)m + fd->off);
}

static bool bool_value(const perc_sig_msg *m, const sig_field *fd)
{
    return *(const bool *)(const void *)((const char *)m + fd->off);
}

static uint32_t num_value(const perc_sig_msg *m, const sig_field *fd)
{
    if (fd->kind == SIG_V_U16)
        return *(const uint16_t *)(const void *)((const char *)m + fd->off);
    return *(const uint32_t *)(const void *)((const char *)m + fd->off);
}

static void set_num(perc_sig_msg *m, const sig_field *fd, uint32_t v)
{
    if (fd->kind == SIG_V_U16)
        *(uint16_t *)(void *)((char *)m + fd->off) = (uint16_t)v;
    else
        *(uint32_t *)(void *)((char *)m + fd->off) = v;
}

/* ---- errors ---- */

static void err_reset(perc_sig_error *e)
{
    memset(e, 0, sizeof *e);
}

static void err_field(perc_sig_error *e, const char *field, long index, const char *sub)
{
    if (index < 0)
        snprintf(e->field, sizeof e->field, "%s", field);
    else if (!sub)
        snprintf(e->field, sizeof e->field, "%s[%ld]", field, index);
    else
        snprintf(e->field, sizeof e->field, "%s[%ld].%s", field, index, sub);
}

static int err_set(perc_sig_error *e, perc_sig_code code, const char *reason)
{
    e->code = code;
    e->reason = reason;
    switch (code) {
    case PERC_SIG_E_TOO_LARGE:
        return PERC_ERR_TOO_LARGE;
    case PERC_SIG_E_UNKNOWN_TYPE:
        return PERC_ERR_UNSUPPORTED;
    default:
        return PERC_ERR_MALFORMED;
    }
}

static int err_fail(perc_sig_error *e, const sig_fail *f)
{
    e->sdp_line = f->line;
    return err_set(e, f->code, f->why);
}

size_t perc_sig_error_text(const perc_sig_error *err, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    int n;
    const char *reason = err && err->reason ? err->reason : "no error";
    if (err && err->code == PERC_SIG_E_BAD_SDP && err->sdp_line)
        n = snprintf(out, cap, "%s line %u: %s", err->field[0] ? err->field : "sdp",
                     err->sdp_line, reason);
    else if (err && err->field[0])
        n = snprintf(out, cap, "%s: %s", err->field, reason);
    else
        n = snprintf(out, cap, "%s", reason);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ---- message lifetime ---- */

void perc_sig_msg_init(perc_sig_msg *m)
{
    if (m)
        memset(m, 0, sizeof *m);
}

void perc_sig_msg_clear(perc_sig_msg *m)
{
    if (!m)
        return;
    cJSON *root = m->priv_;
    if (root) {
        cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "token");
        if (cJSON_IsString(tok) && tok->valuestring)
            perc_wipe(tok->valuestring, strlen(tok->valuestring));
        cJSON_Delete(root);
    }
    free(m->sdp_model);
    perc_sig_msg_init(m);
}

/* ---- decoding ---- */

/* RFC 3629 sequence starting at p[0] >= 0x80: its length, or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    }
    return len;
}

/* What cJSON would let through: invalid UTF-8 anywhere, NUL bytes, raw
 * control characters in strings, "\u0000" (which cJSON turns into an
 * early end of the string), nesting beyond PERC_SIG_MAX_DEPTH (cJSON
 * allows 1000). Returns NULL or a reason. */
static const char *prescan(const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    bool in_str = false;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c == 0)
            return "NUL byte";
        if (c >= 0x80) {
            size_t len = utf8_seq(p + i, n - i);
            if (!len)
                return "invalid UTF-8";
            i += len - 1;
            continue;
        }
        if (in_str) {
            if (c < 0x20)
                return "control character not escaped in a string";
            if (c == '"') {
                in_str = false;
            } else if (c == '\\' && i + 1 < n) {
                if (p[i + 1] == 'u' && n - i >= 6 && memcmp(p + i + 2, "0000", 4) == 0)
                    return "\\u0000 in a string";
                i++;
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > PERC_SIG_MAX_DEPTH)
                return "nested deeper than 16 levels";
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return NULL;
}

/* Every object in the tree: at most PERC_SIG_MAX_MEMBERS members, none
 * given twice. Depth is bounded by the pre-scan. */
static int check_tree(const cJSON *node, perc_sig_error *e)
{
    if (cJSON_IsObject(node)) {
        size_t count = 0;
        for (const cJSON *a = node->child; a; a = a->next) {
            if (++count > PERC_SIG_MAX_MEMBERS)
                return err_set(e, PERC_SIG_E_BAD_MESSAGE, "an object has more than 64 members");
            for (const cJSON *b = node->child; b != a; b = b->next) {
                if (strcmp(a->string, b->string) == 0) {
                    err_field(e, a->string, -1, NULL);
                    return err_set(e, PERC_SIG_E_BAD_MESSAGE, "member given twice");
                }
            }
        }
    }
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        for (const cJSON *c = node->child; c; c = c->next) {
            int rc = check_tree(c, e);
            if (rc)
                return rc;
        }
    }
    return PERC_OK;
}

static bool number_value(const cJSON *item, uint32_t min, uint32_t max, uint32_t *out)
{
    double d = item->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max)
        return false;
    *out = (uint32_t)d;
    return true;
}

static int decode_ssrcs(const cJSON *arr, perc_sig_msg *m, perc_sig_error *e)
{
    static const sig_field MID = {"mid", SIG_V_MID, 0, true, 0, 0};
    long i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (i >= PERC_SIG_MAX_SSRCS) {
            err_field(e, "ssrcs", -1, NULL);
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "more than 64 entries");
        }
        if (!cJSON_IsObject(it)) {
            err_field(e, "ssrcs", i, NULL);
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not an object");
        }
        perc_sig_ssrc *s = &m->ssrcs[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "ssrc");
        uint32_t num;
        if (!v) {
            err_field(e, "ssrcs", i, "ssrc");
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "missing");
        }
        if (!cJSON_IsNumber(v) || !number_value(v, 0, UINT32_MAX, &num)) {
            err_field(e, "ssrcs", i, "ssrc");
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not an integer in 0..4294967295");
        }
        s->ssrc = num;
        for (long j = 0; j < i; j++) {
            if (m->ssrcs[j].ssrc == num) {
                err_field(e, "ssrcs", i, "ssrc");
                return err_set(e, PERC_SIG_E_BAD_MESSAGE, "SSRC listed twice");
            }
        }
        v = cJSON_GetObjectItemCaseSensitive(it, "kind");
        if (!v) {
            err_field(e, "ssrcs", i, "kind");
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "missing");
        }
        if (!cJSON_IsString(v) ||
            (strcmp(v->valuestring, "audio") != 0 && strcmp(v->valuestring, "video") != 0)) {
            err_field(e, "ssrcs", i, "kind");
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not \"audio\" or \"video\"");
        }
        s->kind = strcmp(v->valuestring, "audio") == 0 ? PERC_SDP_AUDIO : PERC_SDP_VIDEO;
        v = cJSON_GetObjectItemCaseSensitive(it, "mid");
        sig_fail f;
        if (!v || !cJSON_IsString(v) ||
            check_str(&MID, v->valuestring, strlen(v->valuestring), &f, NULL) != PERC_OK) {
            err_field(e, "ssrcs", i, "mid");
            return err_set(e, PERC_SIG_E_BAD_MESSAGE,
                           !v ? "missing" : !cJSON_IsString(v) ? "not a string" : f.why);
        }
        s->mid = v->valuestring;
    }
    m->ssrc_count = (size_t)i;
    return PERC_OK;
}

static int decode_candidates(const cJSON *arr, perc_sig_msg *m, perc_sig_error *e)
{
    static const sig_field CAND = {"candidate", SIG_V_CAND_OR_END, 0, true, 0, 0};
    long i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (i >= PERC_SIG_MAX_CANDIDATES) {
            err_field(e, "candidates", -1, NULL);
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "more than 16 candidates");
        }
        err_field(e, "candidates", i, NULL);
        if (!cJSON_IsString(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a string");
        size_t n = strlen(it->valuestring);
        if (n == 0)
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "empty (end of candidates is not a "
                                                      "candidate here)");
        sig_fail f;
        int rc = check_str(&CAND, it->valuestring, n, &f, NULL);
        if (rc)
            return err_fail(e, &f);
        m->candidates[i] = it->valuestring;
    }
    if (i == 0) {
        err_field(e, "candidates", -1, NULL);
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "empty array (at least one candidate)");
    }
    e->field[0] = '\0';
    m->candidate_count = (size_t)i;
    return PERC_OK;
}

static int decode_field(const sig_field *fd, const cJSON *it, perc_sig_msg *m, perc_sig_error *e)
{
    err_field(e, fd->json, -1, NULL);
    if (is_string_kind(fd->kind) || fd->kind == SIG_V_ROLE || fd->kind == SIG_V_CODE ||
        fd->kind == SIG_V_DTLS_ROLE) {
        if (!cJSON_IsString(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a string");
    }
    const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
    switch (fd->kind) {
    case SIG_V_BOOL:
    case SIG_V_TRUE:
        if (!cJSON_IsBool(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a boolean");
        if (fd->kind == SIG_V_TRUE && !cJSON_IsTrue(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "must be true");
        *bool_slot(m, fd) = cJSON_IsTrue(it) != 0;
        break;
    case SIG_V_U32:
    case SIG_V_U16: {
        uint32_t v;
        if (!cJSON_IsNumber(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a number");
        if (!number_value(it, fd->min, fd->max, &v))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE,
                           fd->max == PERC_SIG_MAX_SPI      ? "not an integer in 0..65535"
                           : fd->min == 1                  ? "not an integer in 1..1000000"
                                                           : "not an integer in 0..1000000");
        set_num(m, fd, v);
        break;
    }
    case SIG_V_ROLE:
        m->role = strcmp(s, "endpoint") == 0 ? PERC_SIG_ROLE_ENDPOINT
                  : strcmp(s, "mdd") == 0    ? PERC_SIG_ROLE_MDD
                  : strcmp(s, "kmf") == 0    ? PERC_SIG_ROLE_KMF
                                             : PERC_SIG_ROLE_NONE;
        if (m->role == PERC_SIG_ROLE_NONE)
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not \"endpoint\", \"mdd\" or \"kmf\"");
        break;
    case SIG_V_CODE:
        m->code = perc_sig_code_from_name(s);
        if (m->code == PERC_SIG_E_NONE)
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not an error code of perc-signaling.v1");
        break;
    case SIG_V_DTLS_ROLE:
        m->dtls_role = strcmp(s, "client") == 0   ? PERC_SIG_DTLS_CLIENT
                       : strcmp(s, "server") == 0 ? PERC_SIG_DTLS_SERVER
                                                  : PERC_SIG_DTLS_NONE;
        if (m->dtls_role == PERC_SIG_DTLS_NONE)
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not \"client\" or \"server\"");
        break;
    case SIG_V_CANDIDATES:
        if (!cJSON_IsArray(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not an array");
        return decode_candidates(it, m, e);
    case SIG_V_SSRCS:
        if (!cJSON_IsArray(it))
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not an array");
        return decode_ssrcs(it, m, e);
    default: {
        sig_fail f;
        perc_sdp **keep = (fd->kind == SIG_V_OFFER || fd->kind == SIG_V_ANSWER) ? &m->sdp_model
                                                                                : NULL;
        int rc = check_str(fd, s, strlen(s), &f, keep);
        if (rc == PERC_ERR_NOMEM)
            return PERC_ERR_NOMEM;
        if (rc)
            return err_fail(e, &f);
        *str_slot(m, fd) = s;
        break;
    }
    }
    e->field[0] = '\0';
    return PERC_OK;
}

static bool row_has(const sig_type_row *row, const char *json)
{
    for (size_t i = 0; i < row->field_count; i++) {
        if (strcmp(row->fields[i].json, json) == 0)
            return true;
    }
    return false;
}

/* hello's role-dependent members (docs/signaling.md §3); present[i] says
 * whether row->fields[i] is there. */
static int check_hello(const sig_type_row *row, perc_sig_role role, const bool *present,
                       perc_sig_error *e)
{
    for (size_t i = 0; i < row->field_count; i++) {
        int rule = sig_hello_rule(role, row->fields[i].json);
        if (rule == 1 && !present[i]) {
            err_field(e, row->fields[i].json, -1, NULL);
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, role == PERC_SIG_ROLE_ENDPOINT
                                                          ? "missing (required for an endpoint)"
                                                      : role == PERC_SIG_ROLE_MDD
                                                          ? "missing (required for an mdd)"
                                                          : "missing (required for a kmf)");
        }
        if (rule == -1 && present[i]) {
            err_field(e, row->fields[i].json, -1, NULL);
            return err_set(e, PERC_SIG_E_BAD_MESSAGE, role == PERC_SIG_ROLE_ENDPOINT
                                                          ? "not allowed for an endpoint"
                                                      : role == PERC_SIG_ROLE_MDD
                                                          ? "not allowed for an mdd"
                                                          : "not allowed for a kmf");
        }
    }
    return PERC_OK;
}

static int decode_root(const cJSON *root, perc_sig_msg *m, perc_sig_error *e)
{
    if (!cJSON_IsObject(root))
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a JSON object");
    /* The id first, so that even a message with a bad type or a bad member
     * gets a reply that names its request (unless "id" itself is doubled:
     * then there is no telling which). */
    const cJSON *id = NULL;
    size_t ids = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (it->string && strcmp(it->string, "id") == 0) {
            id = it;
            ids++;
        }
    }
    if (ids == 1 && cJSON_IsString(id)) {
        size_t n = strlen(id->valuestring);
        if (n >= 1 && n <= PERC_SIG_MAX_ID && is_printable_ascii(id->valuestring, n))
            memcpy(e->id, id->valuestring, n + 1);
    }
    int rc = check_tree(root, e);
    if (rc)
        return rc;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    err_field(e, "type", -1, NULL);
    if (!type)
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "missing");
    if (!cJSON_IsString(type))
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not a string");
    perc_sig_type t = perc_sig_type_from_name(type->valuestring);
    if (t == PERC_SIG_NONE)
        return err_set(e, PERC_SIG_E_UNKNOWN_TYPE, "no such message type in perc-signaling.v1");
    e->field[0] = '\0';
    e->type = t;
    m->type = t;
    const sig_type_row *row = sig_type_row_of(t);
    if (id && !row_has(row, "id")) {
        err_field(e, "id", -1, NULL);
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not allowed: this type is not a request");
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "re") && !row_has(row, "re")) {
        err_field(e, "re", -1, NULL);
        return err_set(e, PERC_SIG_E_BAD_MESSAGE, "not allowed: this type is not a reply");
    }
    bool present[16] = {false};
    for (size_t i = 0; i < row->field_count; i++) {
        const sig_field *fd = &row->fields[i];
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, fd->json);
        if (!it) {
            if (fd->required) {
                err_field(e, fd->json, -1, NULL);
                return err_set(e, PERC_SIG_E_BAD_MESSAGE, "missing");
            }
            continue;
        }
        present[i] = true;
        rc = decode_field(fd, it, m, e);
        if (rc)
            return rc;
    }
    if (t == PERC_SIG_HELLO)
        return check_hello(row, m->role, present, e);
    return PERC_OK;
}

int perc_sig_decode(const char *text, size_t len, perc_sig_msg *m, perc_sig_error *err)
{
    perc_sig_error local;
    if (!err)
        err = &local;
    err_reset(err);
    if (!m || (!text && len))
        return PERC_ERR_INVALID_ARG;
    perc_sig_msg_init(m);
    if (len > PERC_SIG_MAX_MESSAGE)
        return err_set(err, PERC_SIG_E_TOO_LARGE, "message longer than 65536 bytes");
    if (len == 0)
        return err_set(err, PERC_SIG_E_BAD_JSON, "empty message");
    const char *why = prescan(text, len);
    if (why)
        return err_set(err, PERC_SIG_E_BAD_JSON, why);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root)
        return err_set(err, PERC_SIG_E_BAD_JSON, "not JSON text");
    int rc = PERC_OK;
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            rc = err_set(err, PERC_SIG_E_BAD_JSON, "bytes after the JSON value");
            break;
        }
    }
    if (!rc)
        rc = decode_root(root, m, err);
    if (rc) {
        m->priv_ = root;
        perc_sig_msg_clear(m);
        return rc;
    }
    m->priv_ = root;
    return PERC_OK;
}

/* ---- validation of a message built in C (encoder) ---- */

static bool present_in(const perc_sig_msg *m, const sig_field *fd)
{
    switch (fd->kind) {
    case SIG_V_BOOL:
        return bool_value(m, fd);
    case SIG_V_TRUE:
        return true;
    case SIG_V_U32:
    case SIG_V_U16:
        return fd->required || num_value(m, fd) != 0;
    case SIG_V_ROLE:
        return m->role != PERC_SIG_ROLE_NONE;
    case SIG_V_CODE:
        return m->code != PERC_SIG_E_NONE;
    case SIG_V_DTLS_ROLE:
        return m->dtls_role != PERC_SIG_DTLS_NONE;
    case SIG_V_CANDIDATES:
        return m->candidate_count > 0;
    case SIG_V_SSRCS:
        return true;
    default:
        return str_value(m, fd) != NULL;
    }
}

static int invalid(perc_sig_error *e, const char *field, const char *why)
{
    err_field(e, field, -1, NULL);
    e->code = PERC_SIG_E_BAD_MESSAGE;
    e->reason = why;
    return PERC_ERR_INVALID_ARG;
}

static int validate_field(const perc_sig_msg *m, const sig_field *fd, perc_sig_error *e)
{
    sig_fail f;
    int rc;
    switch (fd->kind) {
    case SIG_V_BOOL:
        return PERC_OK;
    case SIG_V_TRUE:
        return bool_value(m, fd) ? PERC_OK : invalid(e, fd->json, "must be true");
    case SIG_V_U32:
    case SIG_V_U16: {
        uint32_t v = num_value(m, fd);
        return v >= fd->min && v <= fd->max ? PERC_OK : invalid(e, fd->json, "out of range");
    }
    case SIG_V_ROLE:
        return perc_sig_role_name(m->role) ? PERC_OK : invalid(e, fd->json, "not a role");
    case SIG_V_CODE:
        return perc_sig_code_name(m->code) ? PERC_OK : invalid(e, fd->json, "not an error code");
    case SIG_V_DTLS_ROLE:
        return dtls_role_name(m->dtls_role) ? PERC_OK : invalid(e, fd->json, "not a DTLS role");
    case SIG_V_CANDIDATES: {
        static const sig_field CAND = {"candidate", SIG_V_CAND_OR_END, 0, true, 0, 0};
        if (m->candidate_count < 1 || m->candidate_count > PERC_SIG_MAX_CANDIDATES)
            return invalid(e, fd->json, "not 1..16 candidates");
        for (size_t i = 0; i < m->candidate_count; i++) {
            const char *c = m->candidates[i];
            if (!c || !*c || check_str(&CAND, c, strlen(c), &f, NULL) != PERC_OK) {
                err_field(e, "candidates", (long)i, NULL);
                e->code = PERC_SIG_E_BAD_MESSAGE;
                e->reason = !c || !*c ? "missing or empty" : f.why;
                return PERC_ERR_INVALID_ARG;
            }
        }
        return PERC_OK;
    }
    case SIG_V_SSRCS: {
        static const sig_field MID = {"mid", SIG_V_MID, 0, true, 0, 0};
        if (m->ssrc_count > PERC_SIG_MAX_SSRCS)
            return invalid(e, fd->json, "more than 64 entries");
        for (size_t i = 0; i < m->ssrc_count; i++) {
            const perc_sig_ssrc *s = &m->ssrcs[i];
            const char *sub = NULL, *why = NULL;
            if (!kind_name(s->kind)) {
                sub = "kind";
                why = "not audio or video";
            } else if (!s->mid || check_str(&MID, s->mid, strlen(s->mid), &f, NULL) != PERC_OK) {
                sub = "mid";
                why = s->mid ? f.why : "missing";
            }
            for (size_t j = 0; !sub && j < i; j++) {
                if (m->ssrcs[j].ssrc == s->ssrc) {
                    sub = "ssrc";
                    why = "SSRC listed twice";
                }
            }
            if (sub) {
                err_field(e, "ssrcs", (long)i, sub);
                e->code = PERC_SIG_E_BAD_MESSAGE;
                e->reason = why;
                return PERC_ERR_INVALID_ARG;
            }
        }
        return PERC_OK;
    }
    default: {
        const char *s = str_value(m, fd);
        size_t n = strlen(s);
        if (n > PERC_SIG_MAX_MESSAGE)
            return invalid(e, fd->json, "too long");
        rc = check_str(fd, s, n, &f, NULL);
        if (rc == PERC_ERR_NOMEM)
            return rc;
        if (rc) {
            err_field(e, fd->json, -1, NULL);
            e->code = f.code;
            e->reason = f.why;
            e->sdp_line = f.line;
            return PERC_ERR_INVALID_ARG;
        }
        return PERC_OK;
    }
    }
}

static int validate(const perc_sig_msg *m, const sig_type_row *row, perc_sig_error *e)
{
    if (m->id && !row_has(row, "id"))
        return invalid(e, "id", "not allowed: this type is not a request");
    if (m->re && !row_has(row, "re"))
        return invalid(e, "re", "not allowed: this type is not a reply");
    bool present[16] = {false};
    for (size_t i = 0; i < row->field_count; i++) {
        const sig_field *fd = &row->fields[i];
        present[i] = present_in(m, fd);
        if (!present[i]) {
            if (fd->required)
                return invalid(e, fd->json, "missing");
            continue;
        }
        int rc = validate_field(m, fd, e);
        if (rc)
            return rc;
    }
    if (m->type == PERC_SIG_HELLO) {
        int rc = check_hello(row, m->role, present, e);
        if (rc) {
            e->code = PERC_SIG_E_BAD_MESSAGE;
            return PERC_ERR_INVALID_ARG;
        }
    }
    return PERC_OK;
}

/* ---- encoding ---- */

static void put_string(sdp_buf *b, const char *s)
{
    static const char HEX[] = "0123456789abcdef";
    sdp_putc(b, '"');
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != 0 && c != '"' && c != '\\' && c >= 0x20)
            continue;
        sdp_put(b, run, (size_t)(p - run));
        if (c == 0)
            break;
        run = p + 1;
        sdp_putc(b, '\\');
        switch (c) {
        case '"':
            sdp_putc(b, '"');
            break;
        case '\\':
            sdp_putc(b, '\\');
            break;
        case '\n':
            sdp_putc(b, 'n');
            break;
        case '\r':
            sdp_putc(b, 'r');
            break;
        case '\t':
            sdp_putc(b, 't');
            break;
        default: {
            char u[5] = {'u', '0', '0', HEX[c >> 4], HEX[c & 15]};
            sdp_put(b, u, sizeof u);
            break;
        }
        }
    }
    sdp_putc(b, '"');
}

static void put_key(sdp_buf *b, const char *json)
{
    sdp_putc(b, ',');
    put_string(b, json);
    sdp_putc(b, ':');
}

static void put_field(sdp_buf *b, const perc_sig_msg *m, const sig_field *fd)
{
    put_key(b, fd->json);
    switch (fd->kind) {
    case SIG_V_BOOL:
    case SIG_V_TRUE:
        sdp_puts(b, bool_value(m, fd) ? "true" : "false");
        break;
    case SIG_V_U32:
    case SIG_V_U16:
        sdp_putu(b, num_value(m, fd));
        break;
    case SIG_V_ROLE:
        put_string(b, perc_sig_role_name(m->role));
        break;
    case SIG_V_CODE:
        put_string(b, perc_sig_code_name(m->code));
        break;
    case SIG_V_DTLS_ROLE:
        put_string(b, dtls_role_name(m->dtls_role));
        break;
    case SIG_V_CANDIDATES:
        sdp_putc(b, '[');
        for (size_t i = 0; i < m->candidate_count; i++) {
            if (i)
                sdp_putc(b, ',');
            put_string(b, m->candidates[i]);
        }
        sdp_putc(b, ']');
        break;
    case SIG_V_SSRCS:
        sdp_putc(b, '[');
        for (size_t i = 0; i < m->ssrc_count; i++) {
            if (i)
                sdp_putc(b, ',');
            sdp_puts(b, "{\"ssrc\":");
            sdp_putu(b, m->ssrcs[i].ssrc);
            sdp_puts(b, ",\"kind\":");
            put_string(b, kind_name(m->ssrcs[i].kind));
            sdp_puts(b, ",\"mid\":");
            put_string(b, m->ssrcs[i].mid);
            sdp_putc(b, '}');
        }
        sdp_putc(b, ']');
        break;
    default:
        put_string(b, str_value(m, fd));
        break;
    }
}

int perc_sig_encode(const perc_sig_msg *m, char *out, size_t cap, size_t *out_len,
                    perc_sig_error *err)
{
    perc_sig_error local;
    if (!err)
        err = &local;
    err_reset(err);
    if (!m || !out || cap == 0)
        return PERC_ERR_INVALID_ARG;
    out[0] = '\0';
    const sig_type_row *row = sig_type_row_of(m->type);
    if (!row)
        return invalid(err, "type", "not a message type");
    err->type = m->type;
    int rc = validate(m, row, err);
    if (rc)
        return rc;
    size_t limit = cap - 1 < PERC_SIG_MAX_MESSAGE ? cap - 1 : PERC_SIG_MAX_MESSAGE;
    sdp_buf b;
    sdp_buf_init(&b, out, limit);
    sdp_puts(&b, "{\"type\":");
    put_string(&b, row->name);
    for (size_t i = 0; i < row->field_count; i++) {
        if (present_in(m, &row->fields[i]))
            put_field(&b, m, &row->fields[i]);
    }
    sdp_putc(&b, '}');
    if (b.err) {
        out[0] = '\0';
        return limit == PERC_SIG_MAX_MESSAGE ? PERC_ERR_TOO_LARGE : PERC_ERR_NOSPACE;
    }
    out[b.len] = '\0';
    if (out_len)
        *out_len = b.len;
    return PERC_OK;
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool perc_sig_msg_equal(const perc_sig_msg *a, const perc_sig_msg *b)
{
    if (!a || !b || a->type != b->type)
        return false;
    const sig_type_row *row = sig_type_row_of(a->type);
    if (!row)
        return true;
    for (size_t i = 0; i < row->field_count; i++) {
        const sig_field *fd = &row->fields[i];
        switch (fd->kind) {
        case SIG_V_BOOL:
        case SIG_V_TRUE:
            if (bool_value(a, fd) != bool_value(b, fd))
                return false;
            break;
        case SIG_V_U32:
        case SIG_V_U16:
            if (num_value(a, fd) != num_value(b, fd))
                return false;
            break;
        case SIG_V_ROLE:
            if (a->role != b->role)
                return false;
            break;
        case SIG_V_CODE:
            if (a->code != b->code)
                return false;
            break;
        case SIG_V_DTLS_ROLE:
            if (a->dtls_role != b->dtls_role)
                return false;
            break;
        case SIG_V_CANDIDATES:
            if (a->candidate_count != b->candidate_count)
                return false;
            for (size_t k = 0; k < a->candidate_count && k < PERC_SIG_MAX_CANDIDATES; k++) {
                if (!str_eq(a->candidates[k], b->candidates[k]))
                    return false;
            }
            break;
        case SIG_V_SSRCS:
            if (a->ssrc_count != b->ssrc_count)
                return false;
            for (size_t k = 0; k < a->ssrc_count && k < PERC_SIG_MAX_SSRCS; k++) {
                if (a->ssrcs[k].ssrc != b->ssrcs[k].ssrc || a->ssrcs[k].kind != b->ssrcs[k].kind ||
                    !str_eq(a->ssrcs[k].mid, b->ssrcs[k].mid))
                    return false;
            }
            break;
        default:
            if (!str_eq(str_value(a, fd), str_value(b, fd)))
                return false;
            break;
        }
    }
    return true;
}
