/* The SDP parser: splits lines, enforces the RFC 8866 §5 line order and
 * the single-instance rules, and hands values to the grammars of
 * sdp_attr.c. Errors carry the line number and a static reason. */
#include <string.h>

#include "sdp_internal.h"

typedef struct pstate {
    perc_sdp *sdp;
    unsigned line;          /* current line, 1-based */
    unsigned err_line;      /* when an error concerns another line */
    perc_sdp_media *m;      /* current media section; NULL at session level */
    int rank;               /* position of the last line in its section's order */
    uint32_t seen;          /* single-instance line types seen in this section */
    bool seen_t;
    unsigned bundle_line;
    const char *why;
} pstate;

/* RFC 8866 §5: session-level lines in this order, then media sections,
 * each "m" then i, c, b, k, a. Lines that may appear only once per
 * section are listed in *_SINGLE (we model one t= and one c= per section:
 * repeated time descriptions and layered multicast are not PERC's). */
static const char SESSION_ORDER[] = "vosiuepcbtrzka";
static const char SESSION_SINGLE[] = "vosiuctzk";
static const char MEDIA_ORDER[] = "micbka";
static const char MEDIA_SINGLE[] = "mick";

static int fail(pstate *st, int rc, const char *why)
{
    st->why = why;
    return rc;
}

static int fail_at(pstate *st, unsigned line, int rc, const char *why)
{
    st->err_line = line;
    return fail(st, rc, why);
}

static int find(const char *set, char t)
{
    const char *p = t ? strchr(set, t) : NULL;
    return p ? (int)(p - set) : -1;
}

static const char *repeated(char t, bool media)
{
    switch (t) {
    case 'v': return "v=: appears twice";
    case 'o': return "o=: appears twice";
    case 's': return "s=: appears twice";
    case 'i': return "i=: appears twice in one section";
    case 'u': return "u=: appears twice";
    case 'c': return media ? "c=: more than one c= line in a media section is not supported"
                           : "c=: appears twice at session level";
    case 'z': return "z=: appears twice";
    case 'k': return "k=: appears twice in one section";
    default: return "line appears twice";
    }
}

/* ---- attributes ---- */

static int store_raw(pstate *st, sdp_str v)
{
    const char *why;
    int rc = sdp_check_raw('a', v, st->m, &why);
    if (rc == PERC_OK)
        rc = sdp_store_raw(st->sdp, st->m ? (int)(st->m - st->sdp->media) : -1, 'a', v, &why);
    return rc ? fail(st, rc, why) : PERC_OK;
}

/* Checks that a flag attribute has no value, that a valued one has one,
 * and the level. Returns PERC_OK or fails st. */
static int shape(pstate *st, bool has_val, bool want_val, int levels, const char *why_value,
                 const char *why_level)
{
    /* levels: 1 session only, 2 media only, 3 both */
    if ((levels == 1 && st->m) || (levels == 2 && !st->m))
        return fail(st, PERC_ERR_MALFORMED, why_level);
    if (has_val != want_val)
        return fail(st, PERC_ERR_MALFORMED, why_value);
    return PERC_OK;
}

#define SHAPE(has, want, levels, why_value, why_level)                                        \
    do {                                                                                      \
        int shape_rc = shape(st, has, want, levels, why_value, why_level);                    \
        if (shape_rc)                                                                         \
            return shape_rc;                                                                  \
    } while (0)

#define TWICE(cond, why)                                                                      \
    do {                                                                                      \
        if (cond)                                                                             \
            return fail(st, PERC_ERR_MALFORMED, why);                                         \
    } while (0)

#define CHECK(call)                                                                           \
    do {                                                                                      \
        const char *check_why = NULL;                                                         \
        int check_rc = (call);                                                                \
        if (check_rc)                                                                         \
            return fail(st, check_rc, check_why);                                             \
    } while (0)

static int attribute(pstate *st, sdp_str v)
{
    perc_sdp *sdp = st->sdp;
    perc_sdp_media *m = st->m;
    perc_sdp_attrs *a = m ? &m->attrs : &sdp->attrs;
    const char *colon = memchr(v.p, ':', v.n);
    sdp_str name = v, val = {NULL, 0};
    bool has = colon != NULL;
    if (has) {
        name.n = (size_t)(colon - v.p);
        val = sdp_str_of(colon + 1, v.n - name.n - 1);
    }
    if (!sdp_is_token(name))
        return fail(st, PERC_ERR_MALFORMED, "a=: attribute name is not a token");
    if (has && val.n == 0)
        return fail(st, PERC_ERR_MALFORMED, "a=: empty attribute value after ':'");

    switch (sdp_attr_kind_of(name)) {
    case SDP_ATTR_UNKNOWN:
    case SDP_ATTR_FMTP:
    case SDP_ATTR_RTCP_FB:
    case SDP_ATTR_SSRC_GROUP:
        return store_raw(st, v);

    case SDP_ATTR_GROUP: {
        SHAPE(has, true, 1, "a=group: missing value", "a=group: only allowed at session level");
        sdp_bundle g;
        bool is_bundle;
        CHECK(sdp_parse_group(val, &g, &is_bundle, &check_why));
        if (!is_bundle)
            return store_raw(st, v);
        if (sdp->bundle)
            return fail(st, PERC_ERR_UNSUPPORTED,
                        "a=group:BUNDLE: only one BUNDLE group is supported");
        sdp->bundle = true;
        sdp->bundle_count = g.count;
        memcpy(sdp->bundle_mids, g.mids, sizeof g.mids);
        st->bundle_line = st->line;
        return PERC_OK;
    }

    case SDP_ATTR_ICE_LITE:
        SHAPE(has, false, 1, "a=ice-lite: takes no value",
              "a=ice-lite: only allowed at session level");
        TWICE(sdp->ice_lite, "a=ice-lite: appears twice");
        sdp->ice_lite = true;
        return PERC_OK;

    case SDP_ATTR_RTCP_MUX:
        SHAPE(has, false, 2, "a=rtcp-mux: takes no value",
              "a=rtcp-mux: only allowed in a media section");
        TWICE(m->rtcp_mux, "a=rtcp-mux: appears twice in one section");
        m->rtcp_mux = true;
        return PERC_OK;

    case SDP_ATTR_END_OF_CANDIDATES:
        SHAPE(has, false, 3, "a=end-of-candidates: takes no value", NULL);
        TWICE(a->end_of_candidates, "a=end-of-candidates: appears twice in one section");
        a->end_of_candidates = true;
        return PERC_OK;

    case SDP_ATTR_DIRECTION:
        SHAPE(has, false, 3, "a=sendrecv/sendonly/recvonly/inactive: takes no value", NULL);
        TWICE(a->direction, "more than one direction attribute in one section");
        a->direction = sdp_direction_of(name);
        return PERC_OK;

    case SDP_ATTR_ICE_UFRAG:
        SHAPE(has, true, 3, "a=ice-ufrag: missing value", NULL);
        TWICE(a->ice_ufrag[0], "a=ice-ufrag: appears twice in one section");
        CHECK(sdp_parse_ice_ufrag(val, a->ice_ufrag, &check_why));
        return PERC_OK;

    case SDP_ATTR_ICE_PWD:
        SHAPE(has, true, 3, "a=ice-pwd: missing value", NULL);
        TWICE(a->ice_pwd[0], "a=ice-pwd: appears twice in one section");
        CHECK(sdp_parse_ice_pwd(val, a->ice_pwd, &check_why));
        return PERC_OK;

    case SDP_ATTR_ICE_OPTIONS:
        SHAPE(has, true, 3, "a=ice-options: missing value", NULL);
        TWICE(a->ice_options[0], "a=ice-options: appears twice in one section");
        CHECK(sdp_parse_ice_options(val, a->ice_options, &check_why));
        return PERC_OK;

    case SDP_ATTR_TLS_ID:
        SHAPE(has, true, 3, "a=tls-id: missing value", NULL);
        TWICE(a->tls_id[0], "a=tls-id: appears twice in one section");
        CHECK(sdp_parse_tls_id(val, a->tls_id, &check_why));
        return PERC_OK;

    case SDP_ATTR_SETUP:
        SHAPE(has, true, 3, "a=setup: missing value", NULL);
        TWICE(a->setup, "a=setup: appears twice in one section");
        CHECK(sdp_parse_setup(val, &a->setup, &check_why));
        return PERC_OK;

    case SDP_ATTR_MID: {
        SHAPE(has, true, 2, "a=mid: missing value", "a=mid: only allowed in a media section");
        TWICE(m->mid[0], "a=mid: appears twice in one section");
        CHECK(sdp_parse_mid(val, m->mid, &check_why));
        size_t other;
        if (perc_sdp_find_media(sdp, m->mid, &other) == PERC_OK &&
            &sdp->media[other] != m)
            return fail(st, PERC_ERR_MALFORMED, "a=mid: already used by another media section");
        return PERC_OK;
    }

    case SDP_ATTR_FINGERPRINT:
        SHAPE(has, true, 3, "a=fingerprint: missing value", NULL);
        if (a->fingerprint_count == PERC_SDP_MAX_FINGERPRINTS)
            return fail(st, PERC_ERR_LIMIT, "a=fingerprint: more than 4 at one level");
        CHECK(sdp_parse_fingerprint(val, &a->fingerprints[a->fingerprint_count], &check_why));
        a->fingerprint_count++;
        return PERC_OK;

    case SDP_ATTR_EXTMAP: {
        SHAPE(has, true, 3, "a=extmap: missing value", NULL);
        if (a->extmap_count == PERC_SDP_MAX_EXTMAP)
            return fail(st, PERC_ERR_LIMIT, "a=extmap: more than 16 at one level");
        perc_sdp_extmap *e = &a->extmaps[a->extmap_count];
        CHECK(sdp_parse_extmap(val, e, &check_why));
        for (size_t i = 0; i < a->extmap_count; i++)
            TWICE(a->extmaps[i].id == e->id, "a=extmap: id used twice at one level");
        a->extmap_count++;
        return PERC_OK;
    }

    case SDP_ATTR_RTPMAP: {
        SHAPE(has, true, 2, "a=rtpmap: missing value",
              "a=rtpmap: only allowed in a media section");
        if (m->rtpmap_count == PERC_SDP_MAX_RTPMAP)
            return fail(st, PERC_ERR_LIMIT, "a=rtpmap: more than 32 in a media section");
        perc_sdp_rtpmap *r = &m->rtpmaps[m->rtpmap_count];
        CHECK(sdp_parse_rtpmap(val, r, &check_why));
        if (!sdp_media_has_fmt(m, r->pt))
            return fail(st, PERC_ERR_MALFORMED, "a=rtpmap: payload type not on the m= line");
        for (size_t i = 0; i < m->rtpmap_count; i++)
            TWICE(m->rtpmaps[i].pt == r->pt, "a=rtpmap: second rtpmap for one payload type");
        m->rtpmap_count++;
        return PERC_OK;
    }

    case SDP_ATTR_SSRC:
        SHAPE(has, true, 2, "a=ssrc: missing value", "a=ssrc: only allowed in a media section");
        if (m->ssrc_count == PERC_SDP_MAX_SSRC)
            return fail(st, PERC_ERR_LIMIT, "a=ssrc: more than 16 in a media section");
        CHECK(sdp_parse_ssrc(val, &m->ssrcs[m->ssrc_count], &check_why));
        m->ssrc_count++;
        return PERC_OK;

    case SDP_ATTR_CANDIDATE:
        SHAPE(has, true, 2, "a=candidate: missing value",
              "a=candidate: only allowed in a media section");
        if (m->candidate_count == PERC_SDP_MAX_CANDIDATES)
            return fail(st, PERC_ERR_LIMIT, "a=candidate: more than 16 in a media section");
        CHECK(sdp_parse_candidate(val, &m->candidates[m->candidate_count], &check_why));
        m->candidate_count++;
        return PERC_OK;
    }
    return fail(st, PERC_ERR_MALFORMED, "a=: unhandled attribute");
}

/* ---- lines ---- */

/* RFC 8866 §5.7: every media section needs a c= line unless the session
 * has one. Checked when the section ends. */
static int end_media(pstate *st)
{
    if (st->m && !st->m->connection.present && !st->sdp->connection.present)
        return fail_at(st, st->m->line, PERC_ERR_MALFORMED,
                       "m= section has no c= line and there is no session-level c=");
    return PERC_OK;
}

static int begin_media(pstate *st, sdp_str v)
{
    perc_sdp *sdp = st->sdp;
    if (!st->seen_t)
        return fail(st, PERC_ERR_MALFORMED, "m= before the t= line");
    int rc = end_media(st);
    if (rc)
        return rc;
    if (sdp->media_count == PERC_SDP_MAX_MEDIA)
        return fail(st, PERC_ERR_LIMIT, "m=: more than 4 media sections");
    sdp_mline ml;
    CHECK(sdp_parse_mline(v, &ml, &check_why));
    perc_sdp_media *m = &sdp->media[sdp->media_count++];
    m->type = ml.type;
    m->port = ml.port;
    m->port_count = ml.port_count;
    m->proto = ml.proto;
    memcpy(m->fmts, ml.fmts, sizeof m->fmts);
    m->fmt_count = ml.fmt_count;
    m->line = st->line;
    st->m = m;
    st->rank = 0;
    st->seen = 0;
    return PERC_OK;
}

static int session_line(pstate *st, char t, sdp_str v)
{
    perc_sdp *sdp = st->sdp;
    int rank = find(SESSION_ORDER, t);
    if (rank < 0)
        return fail(st, PERC_ERR_MALFORMED,
                    "unknown line type (RFC 8866 §5: such a description is rejected)");
    if (t == 't' && st->seen_t)
        return fail(st, PERC_ERR_UNSUPPORTED, "t=: only one time description is supported");
    if ((t == 'r' || t == 'z') && !st->seen_t)
        return fail(st, PERC_ERR_MALFORMED, "r= or z= before the t= line");
    uint32_t bit = 1u << (t - 'a');
    if (find(SESSION_SINGLE, t) >= 0 && (st->seen & bit))
        return fail(st, PERC_ERR_MALFORMED, repeated(t, false));
    if (rank < st->rank)
        return fail(st, PERC_ERR_MALFORMED, "line out of the RFC 8866 §5 order");
    st->seen |= bit;
    st->rank = rank;
    switch (t) {
    case 'v':
        if (!sdp_eq(v, "0"))
            return fail(st, PERC_ERR_BAD_VERSION, "v=: version is not 0");
        return PERC_OK;
    case 'o': {
        sdp_origin o;
        CHECK(sdp_parse_origin(v, &o, &check_why));
        memcpy(sdp->origin_username, o.username, sizeof o.username);
        sdp->origin_sess_id = o.sess_id;
        sdp->origin_sess_version = o.sess_version;
        sdp->origin_addrtype = o.addrtype;
        memcpy(sdp->origin_address, o.address, sizeof o.address);
        return PERC_OK;
    }
    case 's':
        if (!sdp_copy(sdp->session_name, sizeof sdp->session_name, v))
            return fail(st, PERC_ERR_LIMIT, "s=: longer than 255 bytes");
        return PERC_OK;
    case 'c':
        CHECK(sdp_parse_connection(v, &sdp->connection, &check_why));
        return PERC_OK;
    case 't':
        CHECK(sdp_parse_time(v, &sdp->time_start, &sdp->time_stop, &check_why));
        st->seen_t = true;
        return PERC_OK;
    case 'a':
        return attribute(st, v);
    default:    /* i u e p b r z k: kept as text */
        CHECK(sdp_store_raw(sdp, -1, t, v, &check_why));
        return PERC_OK;
    }
}

static int media_line(pstate *st, char t, sdp_str v)
{
    int rank = find(MEDIA_ORDER, t);
    if (rank < 0)
        return fail(st, PERC_ERR_MALFORMED,
                    find(SESSION_ORDER, t) >= 0
                        ? "line type not allowed in a media section"
                        : "unknown line type (RFC 8866 §5: such a description is rejected)");
    uint32_t bit = 1u << (t - 'a');
    if (find(MEDIA_SINGLE, t) >= 0 && (st->seen & bit))
        return fail(st, t == 'c' ? PERC_ERR_UNSUPPORTED : PERC_ERR_MALFORMED, repeated(t, true));
    if (rank < st->rank)
        return fail(st, PERC_ERR_MALFORMED, "line out of the RFC 8866 §5 order");
    st->seen |= bit;
    st->rank = rank;
    switch (t) {
    case 'c':
        CHECK(sdp_parse_connection(v, &st->m->connection, &check_why));
        return PERC_OK;
    case 'a':
        return attribute(st, v);
    default:    /* i b k */
        CHECK(sdp_store_raw(st->sdp, (int)(st->m - st->sdp->media), t, v, &check_why));
        return PERC_OK;
    }
}

static int handle_line(pstate *st, sdp_str line)
{
    static const char *const FIRST[] = {"first line is not v=", "second line is not o=",
                                        "third line is not s="};
    if (line.n == 0)
        return fail(st, PERC_ERR_MALFORMED, "empty line");
    const char *bad = sdp_check_chars(line);
    if (bad)
        return fail(st, PERC_ERR_MALFORMED, bad);
    if (line.n < 2 || line.p[1] != '=')
        return fail(st, PERC_ERR_MALFORMED, "line is not <type>=<value>");
    char t = line.p[0];
    if (t < 'a' || t > 'z')
        return fail(st, PERC_ERR_MALFORMED, "line type is not a lower-case letter");
    sdp_str v = sdp_str_of(line.p + 2, line.n - 2);
    if (v.n == 0)
        return fail(st, PERC_ERR_MALFORMED, "empty value after '='");
    /* RFC 8866 §5: no whitespace around '='; but §5.3 recommends "s= "
     * (one space) for a session without a name. */
    if (v.p[0] == ' ' && !(t == 's' && v.n == 1))
        return fail(st, PERC_ERR_MALFORMED, "space after '='");
    if (st->line <= 3 && t != "vos"[st->line - 1])
        return fail(st, PERC_ERR_MALFORMED, FIRST[st->line - 1]);
    if (t == 'm')
        return begin_media(st, v);
    return st->m ? media_line(st, t, v) : session_line(st, t, v);
}

static int finish(pstate *st)
{
    perc_sdp *sdp = st->sdp;
    unsigned after = st->line + 1;
    if (st->line < 2)
        return fail_at(st, after, PERC_ERR_MALFORMED, "missing o= line");
    if (st->line < 3)
        return fail_at(st, after, PERC_ERR_MALFORMED, "missing s= line");
    if (!st->seen_t && !st->m)
        return fail_at(st, after, PERC_ERR_MALFORMED, "missing t= line");
    int rc = end_media(st);
    if (rc)
        return rc;
    for (size_t i = 0; i < sdp->bundle_count; i++) {
        size_t index;
        if (perc_sdp_find_media(sdp, sdp->bundle_mids[i], &index) != PERC_OK)
            return fail_at(st, st->bundle_line, PERC_ERR_MALFORMED,
                           "a=group:BUNDLE: a mid names no media section");
    }
    /* What the writer checks, once more: it should never find anything
     * the line checks let through. */
    int media;
    const char *why;
    rc = sdp_check_structure(sdp, false, &media, &why);
    if (rc)
        return fail_at(st, media >= 0 ? sdp->media[media].line : after, rc, why);
    return PERC_OK;
}

static void set_err(perc_sdp_error *err, const pstate *st)
{
    if (err) {
        err->line = st->err_line ? st->err_line : (st->line ? st->line : 1);
        err->reason = st->why ? st->why : "invalid SDP";
    }
}

int perc_sdp_parse(const char *text, size_t len, perc_sdp *out, perc_sdp_error *err)
{
    if (err) {
        err->line = 0;
        err->reason = NULL;
    }
    if (!out || (!text && len))
        return PERC_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    pstate st = {.sdp = out, .rank = -1};
    int rc = PERC_OK;
    size_t pos = 0;
    if (len == 0) {
        st.line = 1;
        rc = fail(&st, PERC_ERR_TRUNCATED, "empty description");
    }
    while (rc == PERC_OK && pos < len) {
        st.line++;
        if (st.line > PERC_SDP_MAX_LINES) {
            rc = fail(&st, PERC_ERR_LIMIT, "more than 512 lines");
            break;
        }
        /* a line is at most MAX_LINE bytes, CR, LF */
        size_t remaining = len - pos;
        size_t scan = remaining < PERC_SDP_MAX_LINE + 2 ? remaining : PERC_SDP_MAX_LINE + 2;
        const char *nl = memchr(text + pos, '\n', scan);
        if (!nl) {
            rc = scan == remaining ? fail(&st, PERC_ERR_TRUNCATED, "line does not end with CRLF")
                                   : fail(&st, PERC_ERR_LIMIT, "line longer than 1024 bytes");
            break;
        }
        size_t end = (size_t)(nl - text), next = end + 1;
        if (end > pos && text[end - 1] == '\r')
            end--;
        else
            out->bare_lf = true;
        if (end - pos > PERC_SDP_MAX_LINE) {
            rc = fail(&st, PERC_ERR_LIMIT, "line longer than 1024 bytes");
            break;
        }
        if (next > PERC_SDP_MAX_INPUT) {
            rc = fail(&st, PERC_ERR_LIMIT, "description longer than 65536 bytes");
            break;
        }
        rc = handle_line(&st, sdp_str_of(text + pos, end - pos));
        pos = next;
    }
    if (rc == PERC_OK)
        rc = finish(&st);
    if (rc != PERC_OK)
        set_err(err, &st);
    return rc;
}

int perc_sdp_candidate_parse(const char *text, size_t len, perc_sdp_candidate *out,
                             perc_sdp_error *err)
{
    static const char PREFIX[] = "candidate:";
    const size_t plen = sizeof PREFIX - 1;
    if (err) {
        err->line = 0;
        err->reason = NULL;
    }
    if (!out || (!text && len))
        return PERC_ERR_INVALID_ARG;
    const char *why = NULL;
    int rc = PERC_OK;
    sdp_str line = sdp_str_of(text, len);
    if (len > PERC_SDP_MAX_LINE - 2) {
        rc = PERC_ERR_LIMIT;
        why = "line longer than 1024 bytes";
    } else if ((why = sdp_check_chars(line)) != NULL) {
        rc = PERC_ERR_MALFORMED;
    } else if (len < plen || memcmp(text, PREFIX, plen) != 0) {
        rc = PERC_ERR_MALFORMED;
        why = "expected \"candidate:\"";
    } else {
        rc = sdp_parse_candidate(sdp_str_of(text + plen, len - plen), out, &why);
    }
    if (rc && err) {
        err->line = 1;
        err->reason = why;
    }
    return rc;
}
