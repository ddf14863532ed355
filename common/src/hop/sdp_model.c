/* The SDP model: raw-line rules, structural checks shared by the parser
 * and the writer, equality, building helpers and the queries signaling
 * uses (effective values per media section, PERC requirements). */
#include <string.h>

#include "sdp_internal.h"

/* ---- attribute names ---- */

static const struct {
    const char *name;
    sdp_attr_kind kind;
} KINDS[] = {
    {"candidate", SDP_ATTR_CANDIDATE},
    {"end-of-candidates", SDP_ATTR_END_OF_CANDIDATES},
    {"extmap", SDP_ATTR_EXTMAP},
    {"fingerprint", SDP_ATTR_FINGERPRINT},
    {"fmtp", SDP_ATTR_FMTP},
    {"group", SDP_ATTR_GROUP},
    {"ice-lite", SDP_ATTR_ICE_LITE},
    {"ice-options", SDP_ATTR_ICE_OPTIONS},
    {"ice-pwd", SDP_ATTR_ICE_PWD},
    {"ice-ufrag", SDP_ATTR_ICE_UFRAG},
    {"inactive", SDP_ATTR_DIRECTION},
    {"mid", SDP_ATTR_MID},
    {"recvonly", SDP_ATTR_DIRECTION},
    {"rtcp-fb", SDP_ATTR_RTCP_FB},
    {"rtcp-mux", SDP_ATTR_RTCP_MUX},
    {"rtpmap", SDP_ATTR_RTPMAP},
    {"sendonly", SDP_ATTR_DIRECTION},
    {"sendrecv", SDP_ATTR_DIRECTION},
    {"setup", SDP_ATTR_SETUP},
    {"ssrc", SDP_ATTR_SSRC},
    {"ssrc-group", SDP_ATTR_SSRC_GROUP},
    {"tls-id", SDP_ATTR_TLS_ID},
};

/* Attribute names compare with case (RFC 8866 §5.13 defines them as
 * tokens registered in one spelling; every stack sends them lower case). */
sdp_attr_kind sdp_attr_kind_of(sdp_str name)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        if (sdp_eq(name, KINDS[i].name))
            return KINDS[i].kind;
    }
    return SDP_ATTR_UNKNOWN;
}

bool sdp_media_has_fmt(const perc_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->fmt_count && i < PERC_SDP_MAX_FMT; i++) {
        if (m->fmts[i] == pt)
            return true;
    }
    return false;
}

/* ---- raw lines ---- */

/* Position of a raw line among the raw lines of its section, following
 * RFC 8866 §5 (session: i u e p [c] b [t] r z k a; media: i [c] b k a). */
static int raw_rank(char type, bool media)
{
    const char *order = media ? "ibka" : "iuepbrzka";
    const char *p = type ? strchr(order, type) : NULL;
    return p ? (int)(p - order) : -1;
}

/* "<pt> <rest>" or, for rtcp-fb, "* <rest>": the format must be on the
 * m= line (RFC 8866 §6.15, RFC 4585 §4.2). */
static int check_fmt_attr(sdp_str v, const perc_sdp_media *m, bool star, const char *why_fmt,
                          const char *why_missing_pt, const char *why_rest, const char **why)
{
    sdp_str rest = v, f;
    sdp_next_field(&rest, &f);
    uint64_t pt;
    if (!(star && sdp_eq(f, "*"))) {
        if (!sdp_uint(f, 127, &pt)) {
            *why = why_fmt;
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_media_has_fmt(m, (unsigned)pt)) {
            *why = why_missing_pt;
            return PERC_ERR_MALFORMED;
        }
    }
    if (!rest.p || rest.n == 0) {
        *why = why_rest;
        return PERC_ERR_MALFORMED;
    }
    return PERC_OK;
}

int sdp_check_raw(char type, sdp_str text, const perc_sdp_media *m, const char **why)
{
    if (text.n == 0) {
        *why = "empty value after '='";
        return PERC_ERR_MALFORMED;
    }
    if (text.p[0] == ' ') {
        *why = "space after '='";
        return PERC_ERR_MALFORMED;
    }
    if (text.n > PERC_SDP_MAX_LINE - 2) {
        *why = "line longer than 1024 bytes";
        return PERC_ERR_LIMIT;
    }
    const char *bad = sdp_check_chars(text);
    if (bad) {
        *why = bad;
        return PERC_ERR_MALFORMED;
    }
    if (type != 'a') {
        if (raw_rank(type, m != NULL) < 0) {
            *why = m ? "line type not allowed in a media section" : "line type not kept as text";
            return PERC_ERR_MALFORMED;
        }
        return PERC_OK;
    }
    const char *colon = memchr(text.p, ':', text.n);
    sdp_str name = text, value = {NULL, 0};
    if (colon) {
        name.n = (size_t)(colon - text.p);
        value = sdp_str_of(colon + 1, text.n - name.n - 1);
    }
    if (!sdp_is_token(name)) {
        *why = "a=: attribute name is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (colon && value.n == 0) {
        *why = "a=: empty attribute value after ':'";
        return PERC_ERR_MALFORMED;
    }
    switch (sdp_attr_kind_of(name)) {
    case SDP_ATTR_UNKNOWN:
        return PERC_OK;
    case SDP_ATTR_GROUP: {
        if (m) {
            *why = "a=group: only allowed at session level";
            return PERC_ERR_MALFORMED;
        }
        if (!colon) {
            *why = "a=group: missing value";
            return PERC_ERR_MALFORMED;
        }
        sdp_bundle g;
        bool is_bundle;
        int rc = sdp_parse_group(value, &g, &is_bundle, why);
        if (rc)
            return rc;
        if (is_bundle) {
            *why = "a=group:BUNDLE has fields of its own, not raw text";
            return PERC_ERR_MALFORMED;
        }
        return PERC_OK;
    }
    case SDP_ATTR_FMTP:
        if (!m) {
            *why = "a=fmtp: only allowed in a media section";
            return PERC_ERR_MALFORMED;
        }
        if (!colon) {
            *why = "a=fmtp: missing value";
            return PERC_ERR_MALFORMED;
        }
        return check_fmt_attr(value, m, false, "a=fmtp: format is not a payload type 0..127",
                              "a=fmtp: payload type not on the m= line",
                              "a=fmtp: missing parameters", why);
    case SDP_ATTR_RTCP_FB:
        if (!m) {
            *why = "a=rtcp-fb: only allowed in a media section";
            return PERC_ERR_MALFORMED;
        }
        if (!colon) {
            *why = "a=rtcp-fb: missing value";
            return PERC_ERR_MALFORMED;
        }
        return check_fmt_attr(value, m, true, "a=rtcp-fb: format is not * or a payload type 0..127",
                              "a=rtcp-fb: payload type not on the m= line",
                              "a=rtcp-fb: missing feedback type", why);
    case SDP_ATTR_SSRC_GROUP: {
        if (!m) {
            *why = "a=ssrc-group: only allowed in a media section";
            return PERC_ERR_MALFORMED;
        }
        if (!colon) {
            *why = "a=ssrc-group: missing value";
            return PERC_ERR_MALFORMED;
        }
        /* RFC 5576 §4.2: semantics *(SP ssrc-id) */
        sdp_str rest = value, f;
        sdp_next_field(&rest, &f);
        if (!sdp_is_token(f)) {
            *why = "a=ssrc-group: semantics is not a token";
            return PERC_ERR_MALFORMED;
        }
        uint64_t ssrc;
        while (sdp_next_field(&rest, &f)) {
            if (!sdp_uint(f, UINT32_MAX, &ssrc)) {
                *why = "a=ssrc-group: SSRC is not 0..2^32-1";
                return PERC_ERR_MALFORMED;
            }
        }
        return PERC_OK;
    }
    default:
        *why = "attribute has fields of its own, not raw text";
        return PERC_ERR_MALFORMED;
    }
}

int sdp_store_raw(perc_sdp *sdp, int media, char type, sdp_str text, const char **why)
{
    if (sdp->raw_count >= PERC_SDP_MAX_RAW) {
        *why = "more than 256 lines kept as text (fmtp, rtcp-fb, unknown attributes, ...)";
        return PERC_ERR_LIMIT;
    }
    if (sdp->text_len > PERC_SDP_TEXT_CAP || PERC_SDP_TEXT_CAP - sdp->text_len < text.n + 1) {
        *why = "lines kept as text exceed 32768 bytes";
        return PERC_ERR_LIMIT;
    }
    perc_sdp_raw *r = &sdp->raw[sdp->raw_count++];
    r->media = media;
    r->type = type;
    r->off = (uint16_t)sdp->text_len;
    r->len = (uint16_t)text.n;
    memcpy(sdp->text + sdp->text_len, text.p, text.n);
    sdp->text[sdp->text_len + text.n] = '\0';
    sdp->text_len += text.n + 1;
    return PERC_OK;
}

const char *perc_sdp_raw_text(const perc_sdp *sdp, const perc_sdp_raw *item)
{
    if (!sdp || !item || sdp->text_len > PERC_SDP_TEXT_CAP || item->off >= sdp->text_len ||
        sdp->text_len - item->off < (size_t)item->len + 1u || sdp->text[item->off + item->len] != '\0')
        return "";
    return sdp->text + item->off;
}

static bool raw_before(const perc_sdp_raw *a, int media, char type)
{
    if (a->media != media)
        return a->media < media;
    return raw_rank(a->type, media >= 0) <= raw_rank(type, media >= 0);
}

int perc_sdp_add_raw(perc_sdp *sdp, int media, char type, const char *text)
{
    if (!sdp || !text || media < -1 || (media >= 0 && (size_t)media >= sdp->media_count) ||
        sdp->raw_count > PERC_SDP_MAX_RAW)
        return PERC_ERR_INVALID_ARG;
    const char *why;
    sdp_str t = sdp_cstr(text);
    int rc = sdp_check_raw(type, t, media >= 0 ? &sdp->media[media] : NULL, &why);
    if (rc)
        return rc == PERC_ERR_LIMIT ? rc : PERC_ERR_INVALID_ARG;
    /* keep the table in the order the writer emits and the parser reads */
    size_t at = 0;
    while (at < sdp->raw_count && raw_before(&sdp->raw[at], media, type))
        at++;
    rc = sdp_store_raw(sdp, media, type, t, &why);
    if (rc)
        return rc;
    perc_sdp_raw item = sdp->raw[sdp->raw_count - 1];
    memmove(&sdp->raw[at + 1], &sdp->raw[at], (sdp->raw_count - 1 - at) * sizeof sdp->raw[0]);
    sdp->raw[at] = item;
    return PERC_OK;
}

/* ---- structure ---- */

#define TERMINATED(buf) (memchr((buf), '\0', sizeof(buf)) != NULL)

static bool valid_addrtype(perc_sdp_addrtype t) { return t == PERC_SDP_IP4 || t == PERC_SDP_IP6; }

static bool valid_direction(perc_sdp_direction d)
{
    return d >= PERC_SDP_DIR_NONE && d <= PERC_SDP_INACTIVE;
}

static int check_attrs(const perc_sdp_attrs *a, int bad, const char **why)
{
    if (!TERMINATED(a->ice_ufrag) || !TERMINATED(a->ice_pwd) || !TERMINATED(a->ice_options) ||
        !TERMINATED(a->tls_id)) {
        *why = "string field without its NUL";
        return bad;
    }
    if (a->fingerprint_count > PERC_SDP_MAX_FINGERPRINTS) {
        *why = "more than 4 a=fingerprint lines at one level";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < a->fingerprint_count; i++) {
        if (!TERMINATED(a->fingerprints[i].hash)) {
            *why = "a=fingerprint: hash name without its NUL";
            return bad;
        }
    }
    if (a->setup < PERC_SDP_SETUP_NONE || a->setup > PERC_SDP_SETUP_HOLDCONN ||
        !valid_direction(a->direction)) {
        *why = "a=setup or direction holds an unknown value";
        return bad;
    }
    if (a->extmap_count > PERC_SDP_MAX_EXTMAP) {
        *why = "more than 16 a=extmap lines at one level";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < a->extmap_count; i++) {
        const perc_sdp_extmap *e = &a->extmaps[i];
        if (!TERMINATED(e->uri) || !TERMINATED(e->attributes) || !valid_direction(e->direction)) {
            *why = "a=extmap: field without its NUL or unknown direction";
            return bad;
        }
        for (size_t j = 0; j < i; j++) {
            if (a->extmaps[j].id == e->id) {
                *why = "a=extmap: id used twice at one level";
                return bad;
            }
        }
    }
    return PERC_OK;
}

static int check_media(const perc_sdp *sdp, size_t k, int bad, const char **why)
{
    const perc_sdp_media *m = &sdp->media[k];
    if ((m->type != PERC_SDP_AUDIO && m->type != PERC_SDP_VIDEO) ||
        (m->proto != PERC_SDP_UDP_TLS_RTP_SAVPF && m->proto != PERC_SDP_RTP_SAVPF)) {
        *why = "m=: unknown media type or proto";
        return bad;
    }
    if (m->fmt_count == 0 || m->fmt_count > PERC_SDP_MAX_FMT) {
        *why = m->fmt_count ? "m=: more than 32 payload types" : "m=: no payload types";
        return m->fmt_count ? PERC_ERR_LIMIT : bad;
    }
    for (size_t i = 0; i < m->fmt_count; i++) {
        if (m->fmts[i] > 127) {
            *why = "m=: payload type is not 0..127";
            return bad;
        }
        for (size_t j = 0; j < i; j++) {
            if (m->fmts[j] == m->fmts[i]) {
                *why = "m=: payload type listed twice";
                return bad;
            }
        }
    }
    if (!TERMINATED(m->mid) || (m->connection.present && !TERMINATED(m->connection.address))) {
        *why = "string field without its NUL";
        return bad;
    }
    if (m->mid[0]) {
        for (size_t j = 0; j < k; j++) {
            if (strcmp(sdp->media[j].mid, m->mid) == 0) {
                *why = "a=mid: used by two media sections";
                return bad;
            }
        }
    }
    if (m->connection.present && !valid_addrtype(m->connection.addrtype)) {
        *why = "c=: addrtype is not IP4 or IP6";
        return bad;
    }
    if (!m->connection.present && !sdp->connection.present) {
        *why = "m= section has no c= line and there is no session-level c=";
        return bad;
    }
    if (m->rtpmap_count > PERC_SDP_MAX_RTPMAP) {
        *why = "more than 32 a=rtpmap lines in a media section";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < m->rtpmap_count; i++) {
        if (!TERMINATED(m->rtpmaps[i].name)) {
            *why = "a=rtpmap: name without its NUL";
            return bad;
        }
        if (!sdp_media_has_fmt(m, m->rtpmaps[i].pt)) {
            *why = "a=rtpmap: payload type not on the m= line";
            return bad;
        }
        for (size_t j = 0; j < i; j++) {
            if (m->rtpmaps[j].pt == m->rtpmaps[i].pt) {
                *why = "a=rtpmap: second rtpmap for one payload type";
                return bad;
            }
        }
    }
    if (m->ssrc_count > PERC_SDP_MAX_SSRC) {
        *why = "more than 16 a=ssrc lines in a media section";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < m->ssrc_count; i++) {
        if (!TERMINATED(m->ssrcs[i].attribute) || !TERMINATED(m->ssrcs[i].value)) {
            *why = "a=ssrc: field without its NUL";
            return bad;
        }
    }
    if (m->candidate_count > PERC_SDP_MAX_CANDIDATES) {
        *why = "more than 16 a=candidate lines in a media section";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < m->candidate_count; i++) {
        const perc_sdp_candidate *c = &m->candidates[i];
        if (!TERMINATED(c->foundation) || !TERMINATED(c->transport) || !TERMINATED(c->address) ||
            !TERMINATED(c->raddr) || !TERMINATED(c->extensions)) {
            *why = "a=candidate: field without its NUL";
            return bad;
        }
    }
    return check_attrs(&m->attrs, bad, why);
}

int sdp_check_structure(const perc_sdp *sdp, bool writer, int *media, const char **why)
{
    int bad = writer ? PERC_ERR_INVALID_ARG : PERC_ERR_MALFORMED;
    *media = -1;
    if (!TERMINATED(sdp->origin_username) || !TERMINATED(sdp->origin_address) ||
        !TERMINATED(sdp->session_name) ||
        (sdp->connection.present && !TERMINATED(sdp->connection.address))) {
        *why = "string field without its NUL";
        return bad;
    }
    if (!valid_addrtype(sdp->origin_addrtype) ||
        (sdp->connection.present && !valid_addrtype(sdp->connection.addrtype))) {
        *why = "o= or c=: addrtype is not IP4 or IP6";
        return bad;
    }
    int rc = check_attrs(&sdp->attrs, bad, why);
    if (rc)
        return rc;
    if (sdp->media_count > PERC_SDP_MAX_MEDIA) {
        *why = "more than 4 media sections";
        return PERC_ERR_LIMIT;
    }
    for (size_t k = 0; k < sdp->media_count; k++) {
        *media = (int)k;
        rc = check_media(sdp, k, bad, why);
        if (rc)
            return rc;
    }
    *media = -1;
    if (sdp->bundle_count > PERC_SDP_MAX_MEDIA || (!sdp->bundle && sdp->bundle_count)) {
        *why = "a=group:BUNDLE: bad mid count";
        return bad;
    }
    for (size_t i = 0; i < sdp->bundle_count; i++) {
        if (!TERMINATED(sdp->bundle_mids[i])) {
            *why = "a=group:BUNDLE: mid without its NUL";
            return bad;
        }
        size_t index;
        if (perc_sdp_find_media(sdp, sdp->bundle_mids[i], &index) != PERC_OK ||
            sdp->bundle_mids[i][0] == '\0') {
            *why = "a=group:BUNDLE: a mid names no media section";
            return bad;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(sdp->bundle_mids[i], sdp->bundle_mids[j]) == 0) {
                *why = "a=group:BUNDLE: mid listed twice";
                return bad;
            }
        }
    }
    if (sdp->raw_count > PERC_SDP_MAX_RAW || sdp->text_len > PERC_SDP_TEXT_CAP) {
        *why = "raw line table or text over its limit";
        return PERC_ERR_LIMIT;
    }
    for (size_t i = 0; i < sdp->raw_count; i++) {
        const perc_sdp_raw *r = &sdp->raw[i];
        if (r->media < -1 || (r->media >= 0 && (size_t)r->media >= sdp->media_count) ||
            raw_rank(r->type, r->media >= 0) < 0) {
            *why = "raw line with a bad section or type";
            return bad;
        }
        if (r->off >= sdp->text_len || sdp->text_len - r->off < (size_t)r->len + 1u ||
            sdp->text[r->off + r->len] != '\0' || strlen(sdp->text + r->off) != r->len) {
            *why = "raw line outside the text arena";
            return bad;
        }
        if (i > 0 && !raw_before(&sdp->raw[i - 1], r->media, r->type)) {
            *why = "raw lines out of order (use perc_sdp_add_raw)";
            return bad;
        }
    }
    return PERC_OK;
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b, size_t cap) { return strncmp(a, b, cap) == 0; }

static bool connection_equal(const perc_sdp_connection *a, const perc_sdp_connection *b)
{
    return a->present == b->present &&
           (!a->present || (a->addrtype == b->addrtype &&
                            str_eq(a->address, b->address, sizeof a->address)));
}

bool perc_sdp_candidate_equal(const perc_sdp_candidate *a, const perc_sdp_candidate *b)
{
    return str_eq(a->foundation, b->foundation, sizeof a->foundation) &&
           a->component == b->component &&
           str_eq(a->transport, b->transport, sizeof a->transport) && a->priority == b->priority &&
           str_eq(a->address, b->address, sizeof a->address) && a->port == b->port &&
           a->type == b->type && a->has_raddr == b->has_raddr &&
           (!a->has_raddr || str_eq(a->raddr, b->raddr, sizeof a->raddr)) &&
           a->has_rport == b->has_rport && (!a->has_rport || a->rport == b->rport) &&
           str_eq(a->extensions, b->extensions, sizeof a->extensions);
}

static bool rtpmap_equal(const perc_sdp_rtpmap *a, const perc_sdp_rtpmap *b)
{
    return a->pt == b->pt && str_eq(a->name, b->name, sizeof a->name) && a->clock == b->clock &&
           a->channels == b->channels;
}

static bool attrs_equal(const perc_sdp_attrs *a, const perc_sdp_attrs *b)
{
    if (!str_eq(a->ice_ufrag, b->ice_ufrag, sizeof a->ice_ufrag) ||
        !str_eq(a->ice_pwd, b->ice_pwd, sizeof a->ice_pwd) ||
        !str_eq(a->ice_options, b->ice_options, sizeof a->ice_options) ||
        !str_eq(a->tls_id, b->tls_id, sizeof a->tls_id) || a->setup != b->setup ||
        a->direction != b->direction || a->end_of_candidates != b->end_of_candidates ||
        a->fingerprint_count != b->fingerprint_count || a->extmap_count != b->extmap_count ||
        a->fingerprint_count > PERC_SDP_MAX_FINGERPRINTS || a->extmap_count > PERC_SDP_MAX_EXTMAP)
        return false;
    for (size_t i = 0; i < a->fingerprint_count; i++) {
        if (!sdp_fingerprint_equal(&a->fingerprints[i], &b->fingerprints[i]))
            return false;
    }
    for (size_t i = 0; i < a->extmap_count; i++) {
        if (!sdp_extmap_equal(&a->extmaps[i], &b->extmaps[i]))
            return false;
    }
    return true;
}

static bool media_equal(const perc_sdp_media *a, const perc_sdp_media *b)
{
    if (a->type != b->type || a->port != b->port || a->port_count != b->port_count ||
        a->proto != b->proto || a->fmt_count != b->fmt_count || a->fmt_count > PERC_SDP_MAX_FMT ||
        memcmp(a->fmts, b->fmts, a->fmt_count) != 0 ||
        !connection_equal(&a->connection, &b->connection) ||
        !str_eq(a->mid, b->mid, sizeof a->mid) || a->rtcp_mux != b->rtcp_mux ||
        !attrs_equal(&a->attrs, &b->attrs) || a->rtpmap_count != b->rtpmap_count ||
        a->ssrc_count != b->ssrc_count || a->candidate_count != b->candidate_count ||
        a->rtpmap_count > PERC_SDP_MAX_RTPMAP || a->ssrc_count > PERC_SDP_MAX_SSRC ||
        a->candidate_count > PERC_SDP_MAX_CANDIDATES)
        return false;
    for (size_t i = 0; i < a->rtpmap_count; i++) {
        if (!rtpmap_equal(&a->rtpmaps[i], &b->rtpmaps[i]))
            return false;
    }
    for (size_t i = 0; i < a->ssrc_count; i++) {
        if (!sdp_ssrc_equal(&a->ssrcs[i], &b->ssrcs[i]))
            return false;
    }
    for (size_t i = 0; i < a->candidate_count; i++) {
        if (!perc_sdp_candidate_equal(&a->candidates[i], &b->candidates[i]))
            return false;
    }
    return true;
}

bool perc_sdp_equal(const perc_sdp *a, const perc_sdp *b)
{
    if (!a || !b)
        return false;
    if (!str_eq(a->origin_username, b->origin_username, sizeof a->origin_username) ||
        a->origin_sess_id != b->origin_sess_id ||
        a->origin_sess_version != b->origin_sess_version ||
        a->origin_addrtype != b->origin_addrtype ||
        !str_eq(a->origin_address, b->origin_address, sizeof a->origin_address) ||
        !str_eq(a->session_name, b->session_name, sizeof a->session_name) ||
        !connection_equal(&a->connection, &b->connection) || a->time_start != b->time_start ||
        a->time_stop != b->time_stop || a->bundle != b->bundle ||
        a->bundle_count != b->bundle_count || a->bundle_count > PERC_SDP_MAX_MEDIA ||
        a->ice_lite != b->ice_lite || !attrs_equal(&a->attrs, &b->attrs) ||
        a->media_count != b->media_count || a->media_count > PERC_SDP_MAX_MEDIA ||
        a->raw_count != b->raw_count || a->raw_count > PERC_SDP_MAX_RAW)
        return false;
    for (size_t i = 0; i < a->bundle_count; i++) {
        if (!str_eq(a->bundle_mids[i], b->bundle_mids[i], sizeof a->bundle_mids[i]))
            return false;
    }
    for (size_t i = 0; i < a->media_count; i++) {
        if (!media_equal(&a->media[i], &b->media[i]))
            return false;
    }
    for (size_t i = 0; i < a->raw_count; i++) {
        const perc_sdp_raw *x = &a->raw[i], *y = &b->raw[i];
        if (x->media != y->media || x->type != y->type || x->len != y->len ||
            strcmp(perc_sdp_raw_text(a, x), perc_sdp_raw_text(b, y)) != 0)
            return false;
    }
    return true;
}

/* ---- building ---- */

void perc_sdp_init(perc_sdp *sdp)
{
    if (!sdp)
        return;
    memset(sdp, 0, sizeof *sdp);
    strcpy(sdp->origin_username, "-");
    sdp->origin_addrtype = PERC_SDP_IP4;
    strcpy(sdp->origin_address, "127.0.0.1");
    strcpy(sdp->session_name, "-");
}

int perc_sdp_add_media(perc_sdp *sdp, perc_sdp_media_type type, size_t *index)
{
    if (!sdp || (type != PERC_SDP_AUDIO && type != PERC_SDP_VIDEO))
        return PERC_ERR_INVALID_ARG;
    if (sdp->media_count >= PERC_SDP_MAX_MEDIA)
        return PERC_ERR_LIMIT;
    perc_sdp_media *m = &sdp->media[sdp->media_count];
    memset(m, 0, sizeof *m);
    m->type = type;
    m->port = 9;        /* the discard port, as RFC 8840 §4.1.1 suggests with trickle ICE */
    m->proto = PERC_SDP_UDP_TLS_RTP_SAVPF;
    m->connection.present = true;
    m->connection.addrtype = PERC_SDP_IP4;
    strcpy(m->connection.address, "0.0.0.0");
    if (index)
        *index = sdp->media_count;
    sdp->media_count++;
    return PERC_OK;
}

/* ---- queries ---- */

int perc_sdp_find_media(const perc_sdp *sdp, const char *mid, size_t *index)
{
    if (!sdp || !mid || !index)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < sdp->media_count && i < PERC_SDP_MAX_MEDIA; i++) {
        if (sdp->media[i].mid[0] && strncmp(sdp->media[i].mid, mid, sizeof sdp->media[i].mid) == 0) {
            *index = i;
            return PERC_OK;
        }
    }
    return PERC_ERR_NOT_FOUND;
}

static const perc_sdp_media *media_at(const perc_sdp *sdp, size_t media)
{
    if (!sdp || media >= sdp->media_count || media >= PERC_SDP_MAX_MEDIA)
        return NULL;
    return &sdp->media[media];
}

int perc_sdp_effective_ice(const perc_sdp *sdp, size_t media, const char **ufrag, const char **pwd)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m || !ufrag || !pwd)
        return PERC_ERR_INVALID_ARG;
    const char *u = m->attrs.ice_ufrag[0] ? m->attrs.ice_ufrag : sdp->attrs.ice_ufrag;
    const char *p = m->attrs.ice_pwd[0] ? m->attrs.ice_pwd : sdp->attrs.ice_pwd;
    if (!u[0] || !p[0])
        return PERC_ERR_NOT_FOUND;
    *ufrag = u;
    *pwd = p;
    return PERC_OK;
}

int perc_sdp_effective_fingerprint(const perc_sdp *sdp, size_t media,
                                   const perc_sdp_fingerprint **out)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m || !out)
        return PERC_ERR_INVALID_ARG;
    /* RFC 8122 §5: fingerprints at media level replace the session's */
    const perc_sdp_attrs *a = m->attrs.fingerprint_count ? &m->attrs : &sdp->attrs;
    if (a->fingerprint_count == 0)
        return PERC_ERR_NOT_FOUND;
    for (size_t i = 0; i < a->fingerprint_count && i < PERC_SDP_MAX_FINGERPRINTS; i++) {
        if (perc_sdp_fingerprint_is_sha256(&a->fingerprints[i])) {
            *out = &a->fingerprints[i];
            return PERC_OK;
        }
    }
    return PERC_ERR_UNSUPPORTED;
}

int perc_sdp_effective_tls_id(const perc_sdp *sdp, size_t media, const char **out)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m || !out)
        return PERC_ERR_INVALID_ARG;
    const char *t = m->attrs.tls_id[0] ? m->attrs.tls_id : sdp->attrs.tls_id;
    if (!t[0])
        return PERC_ERR_NOT_FOUND;
    *out = t;
    return PERC_OK;
}

perc_sdp_setup perc_sdp_effective_setup(const perc_sdp *sdp, size_t media)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m)
        return PERC_SDP_SETUP_NONE;
    return m->attrs.setup ? m->attrs.setup : sdp->attrs.setup;
}

perc_sdp_direction perc_sdp_effective_direction(const perc_sdp *sdp, size_t media)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m)
        return PERC_SDP_DIR_NONE;
    if (m->attrs.direction)
        return m->attrs.direction;
    return sdp->attrs.direction ? sdp->attrs.direction : PERC_SDP_SENDRECV;
}

bool perc_sdp_has_ice_option(const perc_sdp *sdp, size_t media, const char *option)
{
    const perc_sdp_media *m = media_at(sdp, media);
    if (!m || !option)
        return false;
    const char *opts = m->attrs.ice_options[0] ? m->attrs.ice_options : sdp->attrs.ice_options;
    sdp_str rest = sdp_cstr(opts), tag;
    if (!opts[0])
        return false;
    while (sdp_next_field(&rest, &tag)) {
        if (sdp_eq(tag, option))
            return true;
    }
    return false;
}

static int perc_fail(perc_sdp_error *err, unsigned line, const char *why)
{
    if (err) {
        err->line = line ? line : 1;
        err->reason = why;
    }
    return PERC_ERR_MALFORMED;
}

int perc_sdp_check_perc(const perc_sdp *sdp, perc_sdp_error *err)
{
    if (!sdp)
        return PERC_ERR_INVALID_ARG;
    if (sdp->media_count == 0)
        return perc_fail(err, 1, "no media section");
    if (!sdp->bundle)
        return perc_fail(err, 1, "no a=group:BUNDLE");
    for (size_t i = 0; i < sdp->media_count && i < PERC_SDP_MAX_MEDIA; i++) {
        const perc_sdp_media *m = &sdp->media[i];
        const char *u, *p, *t;
        const perc_sdp_fingerprint *fp;
        if (!m->mid[0])
            return perc_fail(err, m->line, "m= section has no a=mid");
        bool bundled = false;
        for (size_t j = 0; j < sdp->bundle_count && j < PERC_SDP_MAX_MEDIA; j++)
            bundled = bundled || strcmp(sdp->bundle_mids[j], m->mid) == 0;
        if (!bundled)
            return perc_fail(err, m->line, "m= section is not in the BUNDLE group");
        if (!m->rtcp_mux)
            return perc_fail(err, m->line, "m= section has no a=rtcp-mux");
        if (perc_sdp_effective_ice(sdp, i, &u, &p) != PERC_OK)
            return perc_fail(err, m->line, "m= section has no a=ice-ufrag and a=ice-pwd");
        int rc = perc_sdp_effective_fingerprint(sdp, i, &fp);
        if (rc == PERC_ERR_UNSUPPORTED)
            return perc_fail(err, m->line, "m= section has no sha-256 a=fingerprint");
        if (rc != PERC_OK)
            return perc_fail(err, m->line, "m= section has no a=fingerprint");
        if (perc_sdp_effective_setup(sdp, i) == PERC_SDP_SETUP_NONE)
            return perc_fail(err, m->line, "m= section has no a=setup");
        if (perc_sdp_effective_tls_id(sdp, i, &t) != PERC_OK)
            return perc_fail(err, m->line, "m= section has no a=tls-id");
    }
    if (err) {
        err->line = 0;
        err->reason = NULL;
    }
    return PERC_OK;
}

bool perc_sdp_candidate_is_udp(const perc_sdp_candidate *c)
{
    return c && sdp_ieq(sdp_cstr(c->transport), "UDP");
}
