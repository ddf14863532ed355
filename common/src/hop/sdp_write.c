/* The SDP writer: canonical CRLF text in RFC 8866 §5 order.
 *
 * Each line is built in a line buffer first, checked, and only then
 * appended to the output, so validation does not depend on the output's
 * capacity: a struct the parser would not produce is reported as
 * PERC_ERR_INVALID_ARG even when the buffer is also too small. Every
 * modelled value is formatted and parsed back with the parser's own
 * grammar, and must read back equal.
 *
 * Order within a media section: m= i= c= b= k=, then a=mid, ICE, DTLS
 * (fingerprint, setup, tls-id), direction, rtcp-mux, extmap, rtpmap, ssrc,
 * the attributes kept as text (fmtp, rtcp-fb, unknown ones) in their
 * order, candidates, end-of-candidates.
 */
#include <string.h>

#include "sdp_internal.h"

typedef struct wstate {
    sdp_buf out;
    char line[PERC_SDP_MAX_LINE + 1];
    sdp_buf lb;
    size_t vstart;          /* where the value starts in line */
    unsigned lines;
    const char *why;
} wstate;

static int wfail(wstate *w, int rc, const char *why)
{
    w->why = why;
    return rc;
}

#define TRY(x)                                                                                \
    do {                                                                                      \
        int try_rc = (x);                                                                     \
        if (try_rc)                                                                           \
            return try_rc;                                                                    \
    } while (0)

static void begin(wstate *w, const char *prefix)
{
    w->lines++;
    sdp_buf_init(&w->lb, w->line, PERC_SDP_MAX_LINE);
    sdp_puts(&w->lb, prefix);
    w->vstart = w->lb.len;
}

static sdp_str value(const wstate *w)
{
    return sdp_str_of(w->line + w->vstart, w->lb.len - w->vstart);
}

/* The line-level rules the parser applies to every line. */
static int end_line(wstate *w)
{
    if (w->lb.err)
        return wfail(w, PERC_ERR_LIMIT, "line longer than 1024 bytes");
    sdp_str line = sdp_str_of(w->line, w->lb.len);
    const char *bad = sdp_check_chars(line);
    if (bad)
        return wfail(w, PERC_ERR_INVALID_ARG, bad);
    if (line.n < 3)
        return wfail(w, PERC_ERR_INVALID_ARG, "empty value after '='");
    if (line.p[2] == ' ' && !(line.p[0] == 's' && line.n == 3))   /* "s= " is allowed */
        return wfail(w, PERC_ERR_INVALID_ARG, "space after '='");
    if (w->lines > PERC_SDP_MAX_LINES)
        return wfail(w, PERC_ERR_LIMIT, "more than 512 lines");
    if (w->out.len + line.n + 2 > PERC_SDP_MAX_INPUT)
        return wfail(w, PERC_ERR_LIMIT, "description longer than 65536 bytes");
    sdp_put(&w->out, line.p, line.n);
    sdp_put(&w->out, "\r\n", 2);
    return PERC_OK;
}

/* A parse-back result: the parser's reason if it rejects the text, else
 * `why_diff` when the value reads back different from the struct. */
static int readback(wstate *w, int rc, const char *why, bool same, const char *why_diff)
{
    if (rc)
        return wfail(w, rc == PERC_ERR_LIMIT ? rc : PERC_ERR_INVALID_ARG, why);
    if (!same)
        return wfail(w, PERC_ERR_INVALID_ARG, why_diff);
    return end_line(w);
}

static int text_line(wstate *w, const char *prefix, const char *text)
{
    begin(w, prefix);
    sdp_puts(&w->lb, text);
    return end_line(w);
}

static int raw_lines(wstate *w, const perc_sdp *sdp, int media, char type)
{
    static const char PREFIX[][3] = {
        ['a' - 'a'] = "a=", ['b' - 'a'] = "b=", ['e' - 'a'] = "e=", ['i' - 'a'] = "i=",
        ['k' - 'a'] = "k=", ['p' - 'a'] = "p=", ['r' - 'a'] = "r=", ['u' - 'a'] = "u=",
        ['z' - 'a'] = "z=",
    };
    const perc_sdp_media *m = media >= 0 ? &sdp->media[media] : NULL;
    for (size_t i = 0; i < sdp->raw_count; i++) {
        const perc_sdp_raw *r = &sdp->raw[i];
        if (r->media != media || r->type != type)
            continue;
        const char *text = perc_sdp_raw_text(sdp, r);
        begin(w, PREFIX[type - 'a']);
        sdp_puts(&w->lb, text);
        const char *why = NULL;
        int rc = sdp_check_raw(type, sdp_cstr(text), m, &why);
        TRY(readback(w, rc, why, true, NULL));
    }
    return PERC_OK;
}

static int connection_line(wstate *w, const perc_sdp_connection *c)
{
    if (!c->present)
        return PERC_OK;
    begin(w, "c=");
    sdp_format_connection(&w->lb, c);
    perc_sdp_connection back;
    const char *why = NULL;
    int rc = sdp_parse_connection(value(w), &back, &why);
    bool same = rc == PERC_OK && back.addrtype == c->addrtype &&
                strcmp(back.address, c->address) == 0;
    return readback(w, rc, why, same, "c=: does not read back the same");
}

static int string_attr(wstate *w, const char *prefix, const char *s,
                       int (*parse)(sdp_str, char *, const char **), char *tmp)
{
    if (!s[0])
        return PERC_OK;
    begin(w, prefix);
    sdp_puts(&w->lb, s);
    const char *why = NULL;
    int rc = parse(value(w), tmp, &why);
    return readback(w, rc, why, rc == PERC_OK && strcmp(tmp, s) == 0,
                    "attribute does not read back the same");
}

/* ICE, DTLS and direction attributes, at either level. */
static int attrs_head(wstate *w, const perc_sdp_attrs *a)
{
    char tmp[PERC_SDP_ICE_PWD_MAX + 1];
    TRY(string_attr(w, "a=ice-ufrag:", a->ice_ufrag, sdp_parse_ice_ufrag, tmp));
    TRY(string_attr(w, "a=ice-pwd:", a->ice_pwd, sdp_parse_ice_pwd, tmp));
    TRY(string_attr(w, "a=ice-options:", a->ice_options, sdp_parse_ice_options, tmp));
    for (size_t i = 0; i < a->fingerprint_count; i++) {
        const perc_sdp_fingerprint *fp = &a->fingerprints[i];
        begin(w, "a=fingerprint:");
        sdp_format_fingerprint(&w->lb, fp);
        perc_sdp_fingerprint back;
        const char *why = NULL;
        int rc = sdp_parse_fingerprint(value(w), &back, &why);
        TRY(readback(w, rc, why, rc == PERC_OK && sdp_fingerprint_equal(&back, fp),
                     "a=fingerprint: does not read back the same (hash name not lower case?)"));
    }
    if (a->setup) {
        const char *name = sdp_setup_name(a->setup);
        if (!name)
            return wfail(w, PERC_ERR_INVALID_ARG, "a=setup: unknown value");
        TRY(text_line(w, "a=setup:", name));
    }
    TRY(string_attr(w, "a=tls-id:", a->tls_id, sdp_parse_tls_id, tmp));
    if (a->direction) {
        const char *name = sdp_direction_name(a->direction);
        if (!name)
            return wfail(w, PERC_ERR_INVALID_ARG, "direction attribute: unknown value");
        TRY(text_line(w, "a=", name));
    }
    return PERC_OK;
}

static int extmaps(wstate *w, const perc_sdp_attrs *a)
{
    for (size_t i = 0; i < a->extmap_count; i++) {
        const perc_sdp_extmap *e = &a->extmaps[i];
        begin(w, "a=extmap:");
        sdp_format_extmap(&w->lb, e);
        perc_sdp_extmap back;
        const char *why = NULL;
        int rc = sdp_parse_extmap(value(w), &back, &why);
        TRY(readback(w, rc, why, rc == PERC_OK && sdp_extmap_equal(&back, e),
                     "a=extmap: does not read back the same"));
    }
    return PERC_OK;
}

static int session_part(wstate *w, const perc_sdp *sdp)
{
    const char *why = NULL;
    int rc;
    TRY(text_line(w, "v=", "0"));

    begin(w, "o=");
    sdp_origin o, back;
    memset(&o, 0, sizeof o);
    memcpy(o.username, sdp->origin_username, sizeof o.username);
    o.sess_id = sdp->origin_sess_id;
    o.sess_version = sdp->origin_sess_version;
    o.addrtype = sdp->origin_addrtype;
    memcpy(o.address, sdp->origin_address, sizeof o.address);
    sdp_format_origin(&w->lb, &o);
    rc = sdp_parse_origin(value(w), &back, &why);
    TRY(readback(w, rc, why,
                 rc == PERC_OK && strcmp(back.username, o.username) == 0 &&
                     back.sess_id == o.sess_id && back.sess_version == o.sess_version &&
                     back.addrtype == o.addrtype && strcmp(back.address, o.address) == 0,
                 "o=: does not read back the same (space in the username?)"));

    TRY(text_line(w, "s=", sdp->session_name));
    TRY(raw_lines(w, sdp, -1, 'i'));
    TRY(raw_lines(w, sdp, -1, 'u'));
    TRY(raw_lines(w, sdp, -1, 'e'));
    TRY(raw_lines(w, sdp, -1, 'p'));
    TRY(connection_line(w, &sdp->connection));
    TRY(raw_lines(w, sdp, -1, 'b'));

    begin(w, "t=");
    sdp_putu(&w->lb, sdp->time_start);
    sdp_putc(&w->lb, ' ');
    sdp_putu(&w->lb, sdp->time_stop);
    TRY(end_line(w));
    TRY(raw_lines(w, sdp, -1, 'r'));
    TRY(raw_lines(w, sdp, -1, 'z'));
    TRY(raw_lines(w, sdp, -1, 'k'));

    if (sdp->bundle) {
        begin(w, "a=group:");
        sdp_bundle g, gback;
        memset(&g, 0, sizeof g);
        g.count = sdp->bundle_count;
        memcpy(g.mids, sdp->bundle_mids, sizeof g.mids);
        sdp_format_group(&w->lb, &g);
        bool is_bundle = false;
        rc = sdp_parse_group(value(w), &gback, &is_bundle, &why);
        bool same = rc == PERC_OK && is_bundle && gback.count == g.count;
        for (size_t i = 0; same && i < g.count; i++)
            same = strcmp(gback.mids[i], g.mids[i]) == 0;
        TRY(readback(w, rc, why, same, "a=group:BUNDLE: does not read back the same"));
    }
    if (sdp->ice_lite)
        TRY(text_line(w, "a=", "ice-lite"));
    TRY(attrs_head(w, &sdp->attrs));
    TRY(extmaps(w, &sdp->attrs));
    TRY(raw_lines(w, sdp, -1, 'a'));
    if (sdp->attrs.end_of_candidates)
        TRY(text_line(w, "a=", "end-of-candidates"));
    return PERC_OK;
}

static int media_part(wstate *w, const perc_sdp *sdp, size_t k)
{
    const perc_sdp_media *m = &sdp->media[k];
    const char *why = NULL;
    int rc;

    begin(w, "m=");
    sdp_mline ml, back;
    memset(&ml, 0, sizeof ml);
    ml.type = m->type;
    ml.port = m->port;
    ml.port_count = m->port_count;
    ml.proto = m->proto;
    memcpy(ml.fmts, m->fmts, sizeof ml.fmts);
    ml.fmt_count = m->fmt_count;
    sdp_format_mline(&w->lb, &ml);
    rc = sdp_parse_mline(value(w), &back, &why);
    TRY(readback(w, rc, why,
                 rc == PERC_OK && back.type == ml.type && back.port == ml.port &&
                     back.port_count == ml.port_count && back.proto == ml.proto &&
                     back.fmt_count == ml.fmt_count &&
                     memcmp(back.fmts, ml.fmts, ml.fmt_count) == 0,
                 "m=: does not read back the same"));

    int idx = (int)k;
    TRY(raw_lines(w, sdp, idx, 'i'));
    TRY(connection_line(w, &m->connection));
    TRY(raw_lines(w, sdp, idx, 'b'));
    TRY(raw_lines(w, sdp, idx, 'k'));

    char tmp[PERC_SDP_MAX_MID + 1];
    TRY(string_attr(w, "a=mid:", m->mid, sdp_parse_mid, tmp));
    TRY(attrs_head(w, &m->attrs));
    if (m->rtcp_mux)
        TRY(text_line(w, "a=", "rtcp-mux"));
    TRY(extmaps(w, &m->attrs));
    for (size_t i = 0; i < m->rtpmap_count; i++) {
        const perc_sdp_rtpmap *r = &m->rtpmaps[i];
        begin(w, "a=rtpmap:");
        sdp_format_rtpmap(&w->lb, r);
        perc_sdp_rtpmap rb;
        rc = sdp_parse_rtpmap(value(w), &rb, &why);
        TRY(readback(w, rc, why,
                     rc == PERC_OK && rb.pt == r->pt && strcmp(rb.name, r->name) == 0 &&
                         rb.clock == r->clock && rb.channels == r->channels,
                     "a=rtpmap: does not read back the same"));
    }
    for (size_t i = 0; i < m->ssrc_count; i++) {
        const perc_sdp_ssrc *s = &m->ssrcs[i];
        begin(w, "a=ssrc:");
        sdp_format_ssrc(&w->lb, s);
        perc_sdp_ssrc sb;
        rc = sdp_parse_ssrc(value(w), &sb, &why);
        TRY(readback(w, rc, why, rc == PERC_OK && sdp_ssrc_equal(&sb, s),
                     "a=ssrc: does not read back the same"));
    }
    TRY(raw_lines(w, sdp, idx, 'a'));
    for (size_t i = 0; i < m->candidate_count; i++) {
        const perc_sdp_candidate *c = &m->candidates[i];
        begin(w, "a=candidate:");
        sdp_format_candidate(&w->lb, c);
        perc_sdp_candidate cb;
        rc = sdp_parse_candidate(value(w), &cb, &why);
        TRY(readback(w, rc, why, rc == PERC_OK && perc_sdp_candidate_equal(&cb, c),
                     "a=candidate: does not read back the same"));
    }
    if (m->attrs.end_of_candidates)
        TRY(text_line(w, "a=", "end-of-candidates"));
    return PERC_OK;
}

int perc_sdp_write(const perc_sdp *sdp, char *out, size_t cap, size_t *out_len,
                   perc_sdp_error *err)
{
    if (err) {
        err->line = 0;
        err->reason = NULL;
    }
    if (!sdp || (!out && cap))
        return PERC_ERR_INVALID_ARG;
    wstate ws;
    wstate *w = &ws;
    memset(w, 0, sizeof *w);
    char dummy[1];
    sdp_buf_init(&w->out, out ? out : dummy, out ? cap : 0);

    int media = -1;
    const char *why = NULL;
    int rc = sdp_check_structure(sdp, true, &media, &why);
    if (rc) {
        if (err) {
            err->line = 0;
            err->reason = why;
        }
        return rc;
    }
    rc = session_part(w, sdp);
    for (size_t k = 0; rc == PERC_OK && k < sdp->media_count; k++)
        rc = media_part(w, sdp, k);
    if (rc) {
        if (err) {
            err->line = w->lines;
            err->reason = w->why;
        }
        return rc;
    }
    /* room for the NUL */
    if (w->out.err || w->out.len >= cap)
        return PERC_ERR_NOSPACE;
    out[w->out.len] = '\0';
    if (out_len)
        *out_len = w->out.len;
    return PERC_OK;
}

int perc_sdp_candidate_format(const perc_sdp_candidate *c, char *out, size_t cap, size_t *out_len)
{
    if (!c || (!out && cap))
        return PERC_ERR_INVALID_ARG;
    if (!memchr(c->foundation, 0, sizeof c->foundation) ||
        !memchr(c->transport, 0, sizeof c->transport) ||
        !memchr(c->address, 0, sizeof c->address) || !memchr(c->raddr, 0, sizeof c->raddr) ||
        !memchr(c->extensions, 0, sizeof c->extensions))
        return PERC_ERR_INVALID_ARG;
    wstate ws;
    wstate *w = &ws;
    memset(w, 0, sizeof *w);
    begin(w, "candidate:");
    sdp_format_candidate(&w->lb, c);
    if (w->lb.err)
        return PERC_ERR_INVALID_ARG;
    perc_sdp_candidate back;
    const char *why;
    if (sdp_check_chars(sdp_str_of(w->line, w->lb.len)) ||
        sdp_parse_candidate(value(w), &back, &why) != PERC_OK ||
        !perc_sdp_candidate_equal(&back, c))
        return PERC_ERR_INVALID_ARG;
    if (w->lb.len >= cap)
        return PERC_ERR_NOSPACE;
    memcpy(out, w->line, w->lb.len);
    out[w->lb.len] = '\0';
    if (out_len)
        *out_len = w->lb.len;
    return PERC_OK;
}
