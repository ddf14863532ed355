/* The answer SDP signaling gives an endpoint (docs/signaling.md §6.1):
 * each section answers the offer's, with the Media Distributor's ICE-lite
 * transport and the KMF's DTLS identity. Built as a perc_sdp and written
 * with the sdp.h writer, which refuses anything its parser would reject.
 */
#include <stdlib.h>
#include <string.h>

#include "focus_internal.h"

/* The header extensions the answer keeps: the audio level (RFC 6464), which
 * the Media Distributor reads for speaker selection, and the BUNDLE mid
 * (RFC 8843 §15.2). Others are end-to-end business the MD does not
 * promise to carry. */
static const char *const KEPT_EXTMAPS[] = {
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:ietf:params:rtp-hdrext:sdes:mid",
};

static bool kept_extmap(const char *uri)
{
    for (size_t i = 0; i < sizeof KEPT_EXTMAPS / sizeof KEPT_EXTMAPS[0]; i++) {
        if (strcmp(uri, KEPT_EXTMAPS[i]) == 0)
            return true;
    }
    return false;
}

static const perc_sdp_rtpmap *rtpmap_of(const perc_sdp_media *m, uint8_t pt)
{
    for (size_t i = 0; i < m->rtpmap_count; i++) {
        if (m->rtpmaps[i].pt == pt)
            return &m->rtpmaps[i];
    }
    return NULL;
}

/* A payload type the answer can describe: one with an rtpmap, or a
 * static one (RFC 3551 assignments below 96). */
static bool usable_fmt(const perc_sdp_media *m, uint8_t pt)
{
    return pt < 96 || rtpmap_of(m, pt) != NULL;
}

const char *focus_offer_usable(const perc_sdp *offer, unsigned *line)
{
    for (size_t i = 0; i < offer->media_count; i++) {
        const perc_sdp_media *m = &offer->media[i];
        bool any = false;
        for (size_t k = 0; k < m->fmt_count && !any; k++)
            any = usable_fmt(m, m->fmts[k]);
        if (!any) {
            *line = m->line;
            return "m= section has no payload format with an a=rtpmap or a static type";
        }
    }
    *line = 0;
    return NULL;
}

static perc_sdp_direction mirror(perc_sdp_direction d)
{
    switch (d) {
    case PERC_SDP_SENDONLY:
        return PERC_SDP_RECVONLY;
    case PERC_SDP_RECVONLY:
        return PERC_SDP_SENDONLY;
    case PERC_SDP_INACTIVE:
        return PERC_SDP_INACTIVE;
    default:
        return PERC_SDP_SENDRECV;
    }
}

/* fmtp:<pt> ... and rtcp-fb:<pt|*> ... lines of a kept payload type. */
static bool kept_raw(const char *text, const perc_sdp_media *answer)
{
    const char *p;
    if (strncmp(text, "fmtp:", 5) == 0)
        p = text + 5;
    else if (strncmp(text, "rtcp-fb:", 8) == 0)
        p = text + 8;
    else
        return false;
    if (p[0] == '*' && p[1] == ' ')
        return text[0] == 'r';
    unsigned pt = 0;
    size_t digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9' && digits < 3)
        pt = pt * 10 + (unsigned)(p[digits++] - '0');
    if (digits == 0 || p[digits] != ' ' || pt > 127)
        return false;
    for (size_t k = 0; k < answer->fmt_count; k++) {
        if (answer->fmts[k] == pt)
            return true;
    }
    return false;
}

static int add_extmaps(perc_sdp_media *am, const perc_sdp_attrs *from)
{
    for (size_t e = 0; e < from->extmap_count; e++) {
        const perc_sdp_extmap *x = &from->extmaps[e];
        if (!kept_extmap(x->uri))
            continue;
        bool dup = false;
        for (size_t k = 0; k < am->attrs.extmap_count; k++)
            dup = dup || am->attrs.extmaps[k].id == x->id ||
                  strcmp(am->attrs.extmaps[k].uri, x->uri) == 0;
        if (dup)
            continue;
        if (am->attrs.extmap_count == PERC_SDP_MAX_EXTMAP)
            return PERC_ERR_LIMIT;
        perc_sdp_extmap *y = &am->attrs.extmaps[am->attrs.extmap_count++];
        *y = *x;
        y->direction = PERC_SDP_DIR_NONE;
    }
    return PERC_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int fill_section(perc_sdp *a, const perc_sdp *offer, size_t i, const focus_answer_in *in,
                        const perc_sdp_candidate *def, const char **why)
{
    const perc_sdp_media *om = &offer->media[i];
    size_t idx;
    int rc = perc_sdp_add_media(a, om->type, &idx);
    if (rc) {
        *why = "too many m= sections";
        return rc;
    }
    perc_sdp_media *am = &a->media[idx];
    am->proto = om->proto;
    perc_sdp_host_kind kind = PERC_SDP_HOST_NAME;
    if (def && perc_sdp_address_kind(def->address, &kind) == PERC_OK &&
        kind != PERC_SDP_HOST_NAME) {
        am->port = def->port;
        am->connection.addrtype = kind == PERC_SDP_HOST_IP6 ? PERC_SDP_IP6 : PERC_SDP_IP4;
        copy_str(am->connection.address, sizeof am->connection.address, def->address);
    }
    copy_str(am->mid, sizeof am->mid, om->mid);
    am->rtcp_mux = true;
    copy_str(am->attrs.tls_id, sizeof am->attrs.tls_id, in->kmf_tls_id);
    am->attrs.direction = mirror(perc_sdp_effective_direction(offer, i));
    for (size_t k = 0; k < om->fmt_count; k++) {
        uint8_t pt = om->fmts[k];
        if (!usable_fmt(om, pt))
            continue;
        am->fmts[am->fmt_count++] = pt;
        const perc_sdp_rtpmap *r = rtpmap_of(om, pt);
        if (r)
            am->rtpmaps[am->rtpmap_count++] = *r;
    }
    if ((rc = add_extmaps(am, &om->attrs)) != PERC_OK ||
        (rc = add_extmaps(am, &offer->attrs)) != PERC_OK) {
        *why = "too many a=extmap";
        return rc;
    }
    for (size_t r = 0; r < offer->raw_count; r++) {
        const perc_sdp_raw *raw = &offer->raw[r];
        if (raw->media != (int)i || raw->type != 'a')
            continue;
        const char *text = perc_sdp_raw_text(offer, raw);
        if (kept_raw(text, am) && (rc = perc_sdp_add_raw(a, (int)idx, 'a', text)) != PERC_OK) {
            *why = "could not copy an a=fmtp or a=rtcp-fb line";
            return rc;
        }
    }
    /* RFC 8843 §7.3.1: the transport's candidates go in the BUNDLE-tag
     * section, the first mid of the group. */
    if (offer->bundle_count > 0 && strcmp(om->mid, offer->bundle_mids[0]) == 0) {
        for (size_t k = 0; k < in->cand_count; k++)
            am->candidates[am->candidate_count++] = in->cands[k];
        am->attrs.end_of_candidates = in->end_of_candidates;
    }
    return PERC_OK;
}

int focus_build_answer(const perc_sdp *offer, const focus_answer_in *in, char *out, size_t cap,
                       size_t *len, const char **why)
{
    *why = NULL;
    perc_sdp *a = calloc(1, sizeof *a);
    if (!a) {
        *why = "out of memory";
        return PERC_ERR_NOMEM;
    }
    perc_sdp_init(a);
    copy_str(a->origin_username, sizeof a->origin_username, "perc-signaling");
    a->origin_sess_id = in->sess_id & INT64_MAX;
    a->origin_sess_version = 1;

    /* The default candidate (RFC 8839 §4.2.1.2 style): the first RTP one. */
    const perc_sdp_candidate *def = NULL;
    for (size_t k = 0; k < in->cand_count && !def; k++) {
        if (in->cands[k].component == 1)
            def = &in->cands[k];
    }
    perc_sdp_host_kind kind;
    if (def && perc_sdp_address_kind(def->address, &kind) == PERC_OK &&
        kind != PERC_SDP_HOST_NAME) {
        a->origin_addrtype = kind == PERC_SDP_HOST_IP6 ? PERC_SDP_IP6 : PERC_SDP_IP4;
        copy_str(a->origin_address, sizeof a->origin_address, def->address);
    }

    a->bundle = true;
    a->bundle_count = offer->bundle_count;
    memcpy(a->bundle_mids, offer->bundle_mids, sizeof a->bundle_mids);
    a->ice_lite = true;
    copy_str(a->attrs.ice_ufrag, sizeof a->attrs.ice_ufrag, in->ice_ufrag);
    copy_str(a->attrs.ice_pwd, sizeof a->attrs.ice_pwd, in->ice_pwd);
    if (perc_sdp_has_ice_option(offer, 0, "trickle"))
        copy_str(a->attrs.ice_options, sizeof a->attrs.ice_options, "trickle");
    a->attrs.fingerprints[0] = *in->kmf_fingerprint;
    a->attrs.fingerprint_count = 1;
    a->attrs.setup = PERC_SDP_SETUP_PASSIVE;

    int rc = PERC_OK;
    for (size_t i = 0; i < offer->media_count && rc == PERC_OK; i++)
        rc = fill_section(a, offer, i, in, def, why);
    if (rc == PERC_OK) {
        perc_sdp_error e = {0, NULL};
        rc = perc_sdp_write(a, out, cap, len, &e);
        if (rc)
            *why = e.reason ? e.reason : "the answer could not be written";
    }
    free(a);
    return rc;
}
