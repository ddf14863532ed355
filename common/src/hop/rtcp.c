/* RTCP compound walk, generic packet writing, SR, RR, BYE and APP
 * (RFC 3550 §6.4, §6.6, §6.7). SDES is in rtcp_sdes.c, feedback in
 * rtcp_fb.c. */
#include "perc/rtcp.h"

#include <string.h>

static void set_err(perc_writer *w, int err)
{
    if (w->err == PERC_OK)
        w->err = err;
}

/* ---- walking a compound ------------------------------------------------ */

/* One packet at the reader's position: RFC 3550 §6.4.1 header, length in
 * words minus one. */
static int read_packet(perc_reader *r, perc_rtcp_view *out)
{
    size_t start = r->pos;
    uint8_t b0, b1;
    uint16_t words;
    if (perc_reader_remaining(r) < PERC_RTCP_HEADER_LEN)
        return PERC_ERR_TRUNCATED;
    if (perc_read_u8(r, &b0) || perc_read_u8(r, &b1) || perc_read_u16(r, &words))
        return PERC_ERR_TRUNCATED;
    if ((b0 >> 6) != 2) {
        r->pos = start;
        return PERC_ERR_BAD_VERSION;
    }
    perc_rtcp_view v;
    memset(&v, 0, sizeof v);
    v.padding = (b0 & 0x20) != 0;
    v.count = b0 & 0x1F;
    v.pt = b1;
    size_t body_len = (size_t)words * 4;
    int rc = perc_read_view(r, body_len, &v.body);
    if (rc) {
        r->pos = start;
        return rc;
    }
    v.packet = perc_view_of(r->buf + start, PERC_RTCP_HEADER_LEN + body_len);
    if (v.padding) {
        /* RFC 3550 §6.4.1: the last octet counts the padding, itself
         * included, and the padding lies inside the length. */
        if (v.body.len == 0) {
            r->pos = start;
            return PERC_ERR_MALFORMED;
        }
        v.padding_len = v.body.ptr[v.body.len - 1];
        if (v.padding_len == 0 || v.padding_len > v.body.len) {
            r->pos = start;
            return PERC_ERR_MALFORMED;
        }
        v.body.len -= v.padding_len;
    }
    *out = v;
    return PERC_OK;
}

void perc_rtcp_iter_init(perc_rtcp_iter *it, const uint8_t *buf, size_t len)
{
    perc_reader_init(&it->r, buf, len);
    it->err = PERC_OK;
}

int perc_rtcp_next(perc_rtcp_iter *it, perc_rtcp_view *out)
{
    if (it->err)
        return it->err;
    if (perc_reader_remaining(&it->r) == 0)
        return 0;
    perc_rtcp_view v;
    int rc = read_packet(&it->r, &v);
    /* RFC 3550 §6.4.1: in a compound only the last packet may be padded,
     * since padding is only there for encryption of the whole. */
    if (rc == PERC_OK && v.padding && perc_reader_remaining(&it->r) != 0)
        rc = PERC_ERR_MALFORMED;
    if (rc) {
        it->err = rc;
        return rc;
    }
    *out = v;
    return 1;
}

int perc_rtcp_parse_packet(const uint8_t *buf, size_t len, perc_rtcp_view *out)
{
    perc_reader r;
    perc_reader_init(&r, buf, len);
    perc_rtcp_view v;
    int rc = read_packet(&r, &v);
    if (rc)
        return rc;
    if ((rc = perc_reader_expect_end(&r)))
        return rc;
    *out = v;
    return PERC_OK;
}

int perc_rtcp_check_compound(const uint8_t *buf, size_t len, bool reduced_size, size_t *n_packets)
{
    if (len == 0)
        return PERC_ERR_TRUNCATED;
    perc_rtcp_iter it;
    perc_rtcp_iter_init(&it, buf, len);
    /* zeroed: gcc -O3 cannot see that perc_rtcp_next fills v whenever it
     * returns 1, and warns */
    perc_rtcp_view v;
    memset(&v, 0, sizeof v);
    size_t n = 0;
    int rc;
    while ((rc = perc_rtcp_next(&it, &v)) == 1) {
        /* RFC 3550 §6.1: a compound opens with a report; RFC 5506 §3 lifts
         * that for reduced-size RTCP. */
        if (n == 0 && !reduced_size && v.pt != PERC_RTCP_SR && v.pt != PERC_RTCP_RR)
            return PERC_ERR_MALFORMED;
        n++;
    }
    if (rc < 0)
        return rc;
    if (n_packets)
        *n_packets = n;
    return PERC_OK;
}

int perc_rtcp_sender_ssrc(const perc_rtcp_view *p, uint32_t *out)
{
    switch (p->pt) {
    case PERC_RTCP_SDES:
    case PERC_RTCP_BYE:
        /* the first chunk / first SSRC; an empty list names nobody */
        if (p->count == 0)
            return PERC_ERR_NOT_FOUND;
        break;
    case PERC_RTCP_SR:
    case PERC_RTCP_RR:
    case PERC_RTCP_APP:
    case PERC_RTCP_RTPFB:
    case PERC_RTCP_PSFB:
    case PERC_RTCP_XR:
        break;
    default:
        return PERC_ERR_UNSUPPORTED;
    }
    if (p->body.len < 4)
        return PERC_ERR_TRUNCATED;
    *out = perc_load_u32(p->body.ptr);
    return PERC_OK;
}

/* ---- generic writing --------------------------------------------------- */

perc_rtcp_mark perc_rtcp_begin(perc_writer *w, uint8_t count, uint8_t pt)
{
    perc_rtcp_mark m = {w->pos};
    if (count > PERC_RTCP_MAX_COUNT) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return m;
    }
    perc_write_u8(w, (uint8_t)(0x80 | count));
    perc_write_u8(w, pt);
    perc_write_u16(w, 0); /* length, filled in by perc_rtcp_end() */
    return m;
}

void perc_rtcp_end(perc_writer *w, perc_rtcp_mark m, uint8_t padding_len)
{
    if (w->err != PERC_OK)
        return;
    size_t body = w->pos - m.at - PERC_RTCP_HEADER_LEN;
    if (body % 4 != 0 || padding_len % 4 != 0) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    if (padding_len > 0) {
        perc_write_zeros(w, (size_t)padding_len - 1);
        perc_write_u8(w, padding_len);
        if (w->err != PERC_OK)
            return;
        w->buf[m.at] |= 0x20;
    }
    size_t words = (w->pos - m.at) / 4 - 1;
    if (words > 0xFFFF) {
        set_err(w, PERC_ERR_TOO_LARGE);
        return;
    }
    perc_store_u16(w->buf + m.at + 2, (uint16_t)words);
}

/* Opens the body of a packet of type pt. Every type parsed here is built
 * of 32-bit words, so a body that is not (left over from an odd padding
 * count) is malformed. */
static int open_body(const perc_rtcp_view *p, uint8_t pt, perc_reader *r)
{
    if (p->pt != pt)
        return PERC_ERR_INVALID_ARG;
    if (p->body.len % 4 != 0)
        return PERC_ERR_MALFORMED;
    perc_reader_init(r, p->body.ptr, p->body.len);
    return PERC_OK;
}

/* ---- SR and RR --------------------------------------------------------- */

static int read_report_blocks(perc_reader *r, uint8_t n, perc_rtcp_report_block *out)
{
    for (uint8_t i = 0; i < n; i++) {
        perc_rtcp_report_block b;
        uint32_t lost;
        int rc;
        if ((rc = perc_read_u32(r, &b.ssrc)) || (rc = perc_read_u8(r, &b.fraction_lost)) ||
            (rc = perc_read_u24(r, &lost)) || (rc = perc_read_u32(r, &b.ext_highest_seq)) ||
            (rc = perc_read_u32(r, &b.jitter)) || (rc = perc_read_u32(r, &b.lsr)) ||
            (rc = perc_read_u32(r, &b.dlsr)))
            return rc;
        /* RFC 3550 §6.4.1: cumulative loss is a signed 24-bit count (it goes
         * negative when duplicates arrive); sign-extend it. */
        b.cumulative_lost = (int32_t)(lost ^ 0x800000u) - 0x800000;
        out[i] = b;
    }
    return PERC_OK;
}

static bool report_blocks_valid(uint8_t n, const perc_rtcp_report_block *b, perc_view ext)
{
    if (n > PERC_RTCP_MAX_COUNT || ext.len % 4 != 0)
        return false;
    for (uint8_t i = 0; i < n; i++) {
        if (b[i].cumulative_lost < PERC_RTCP_LOST_MIN || b[i].cumulative_lost > PERC_RTCP_LOST_MAX)
            return false;
    }
    return true;
}

static void write_report_blocks(perc_writer *w, uint8_t n, const perc_rtcp_report_block *b)
{
    for (uint8_t i = 0; i < n; i++) {
        perc_write_u32(w, b[i].ssrc);
        perc_write_u8(w, b[i].fraction_lost);
        perc_write_u24(w, (uint32_t)b[i].cumulative_lost & 0xFFFFFFu);
        perc_write_u32(w, b[i].ext_highest_seq);
        perc_write_u32(w, b[i].jitter);
        perc_write_u32(w, b[i].lsr);
        perc_write_u32(w, b[i].dlsr);
    }
}

int perc_rtcp_parse_sr(const perc_rtcp_view *p, perc_rtcp_sr *out)
{
    perc_reader r;
    int rc = open_body(p, PERC_RTCP_SR, &r);
    if (rc)
        return rc;
    perc_rtcp_sr sr;
    memset(&sr, 0, sizeof sr);
    sr.report_count = p->count;
    if ((rc = perc_read_u32(&r, &sr.ssrc)) || (rc = perc_read_u64(&r, &sr.ntp_timestamp)) ||
        (rc = perc_read_u32(&r, &sr.rtp_timestamp)) || (rc = perc_read_u32(&r, &sr.packet_count)) ||
        (rc = perc_read_u32(&r, &sr.octet_count)) ||
        (rc = read_report_blocks(&r, sr.report_count, sr.reports)))
        return rc;
    sr.ext = perc_read_rest(&r);
    *out = sr;
    return PERC_OK;
}

int perc_rtcp_parse_rr(const perc_rtcp_view *p, perc_rtcp_rr *out)
{
    perc_reader r;
    int rc = open_body(p, PERC_RTCP_RR, &r);
    if (rc)
        return rc;
    perc_rtcp_rr rr;
    memset(&rr, 0, sizeof rr);
    rr.report_count = p->count;
    if ((rc = perc_read_u32(&r, &rr.ssrc)) ||
        (rc = read_report_blocks(&r, rr.report_count, rr.reports)))
        return rc;
    rr.ext = perc_read_rest(&r);
    *out = rr;
    return PERC_OK;
}

void perc_rtcp_write_sr(perc_writer *w, const perc_rtcp_sr *sr)
{
    if (!report_blocks_valid(sr->report_count, sr->reports, sr->ext)) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, sr->report_count, PERC_RTCP_SR);
    perc_write_u32(w, sr->ssrc);
    perc_write_u64(w, sr->ntp_timestamp);
    perc_write_u32(w, sr->rtp_timestamp);
    perc_write_u32(w, sr->packet_count);
    perc_write_u32(w, sr->octet_count);
    write_report_blocks(w, sr->report_count, sr->reports);
    perc_write_bytes(w, sr->ext.ptr, sr->ext.len);
    perc_rtcp_end(w, m, 0);
}

void perc_rtcp_write_rr(perc_writer *w, const perc_rtcp_rr *rr)
{
    if (!report_blocks_valid(rr->report_count, rr->reports, rr->ext)) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, rr->report_count, PERC_RTCP_RR);
    perc_write_u32(w, rr->ssrc);
    write_report_blocks(w, rr->report_count, rr->reports);
    perc_write_bytes(w, rr->ext.ptr, rr->ext.len);
    perc_rtcp_end(w, m, 0);
}

/* ---- BYE --------------------------------------------------------------- */

int perc_rtcp_parse_bye(const perc_rtcp_view *p, perc_rtcp_bye *out)
{
    perc_reader r;
    int rc = open_body(p, PERC_RTCP_BYE, &r);
    if (rc)
        return rc;
    perc_rtcp_bye bye;
    memset(&bye, 0, sizeof bye);
    bye.count = p->count;
    for (uint8_t i = 0; i < bye.count; i++) {
        if ((rc = perc_read_u32(&r, &bye.ssrc[i])))
            return rc;
    }
    if (perc_reader_remaining(&r) > 0) {
        /* RFC 3550 §6.6: optional reason, a length octet and text, then
         * null octets up to the next word boundary. */
        bye.has_reason = true;
        if ((rc = perc_read_vector(&r, 1, &bye.reason)))
            return rc;
        while (r.pos % 4 != 0) {
            uint8_t pad;
            if ((rc = perc_read_u8(&r, &pad)))
                return rc;
            if (pad != 0)
                return PERC_ERR_MALFORMED;
        }
        if ((rc = perc_reader_expect_end(&r)))
            return rc;
    }
    *out = bye;
    return PERC_OK;
}

void perc_rtcp_write_bye(perc_writer *w, const perc_rtcp_bye *bye)
{
    if (bye->count > PERC_RTCP_MAX_COUNT || (bye->has_reason && bye->reason.len > 255)) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, bye->count, PERC_RTCP_BYE);
    for (uint8_t i = 0; i < bye->count; i++)
        perc_write_u32(w, bye->ssrc[i]);
    if (bye->has_reason) {
        perc_write_vector(w, 1, bye->reason.ptr, bye->reason.len);
        perc_write_zeros(w, (4 - (1 + bye->reason.len) % 4) % 4);
    }
    perc_rtcp_end(w, m, 0);
}

/* ---- APP --------------------------------------------------------------- */

int perc_rtcp_parse_app(const perc_rtcp_view *p, perc_rtcp_app *out)
{
    perc_reader r;
    int rc = open_body(p, PERC_RTCP_APP, &r);
    if (rc)
        return rc;
    perc_rtcp_app app;
    memset(&app, 0, sizeof app);
    app.subtype = p->count;
    if ((rc = perc_read_u32(&r, &app.ssrc)) || (rc = perc_read_copy(&r, app.name, sizeof app.name)))
        return rc;
    app.data = perc_read_rest(&r);
    *out = app;
    return PERC_OK;
}

void perc_rtcp_write_app(perc_writer *w, const perc_rtcp_app *app)
{
    if (app->subtype > PERC_RTCP_MAX_COUNT || app->data.len % 4 != 0) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, app->subtype, PERC_RTCP_APP);
    perc_write_u32(w, app->ssrc);
    perc_write_bytes(w, app->name, sizeof app->name);
    perc_write_bytes(w, app->data.ptr, app->data.len);
    perc_rtcp_end(w, m, 0);
}
