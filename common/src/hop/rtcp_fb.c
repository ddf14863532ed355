/* RTCP feedback messages: the common layout of RFC 4585 §6.1 (PT 205
 * transport layer, PT 206 payload specific), generic NACK (§6.2.1), PLI
 * (§6.3.1) and FIR (RFC 5104 §4.3.1), and where a Media Distributor should
 * route each. */
#include "perc/rtcp.h"

#include <string.h>

#define FB_COMMON_LEN 8         /* sender SSRC, media source SSRC */
#define ENTRY_LEN 8             /* FIR, TSTR, TSTN, TMMBR, TMMBN FCI entry */

static void set_err(perc_writer *w, int err)
{
    if (w->err == PERC_OK)
        w->err = err;
}

static bool is_fb(uint8_t pt) { return pt == PERC_RTCP_RTPFB || pt == PERC_RTCP_PSFB; }

int perc_rtcp_parse_fb(const perc_rtcp_view *p, perc_rtcp_fb *out)
{
    if (!is_fb(p->pt))
        return PERC_ERR_INVALID_ARG;
    if (p->body.len % 4 != 0)
        return PERC_ERR_MALFORMED;
    perc_reader r;
    perc_reader_init(&r, p->body.ptr, p->body.len);
    perc_rtcp_fb fb;
    memset(&fb, 0, sizeof fb);
    fb.pt = p->pt;
    fb.fmt = p->count;
    int rc;
    if ((rc = perc_read_u32(&r, &fb.sender_ssrc)) || (rc = perc_read_u32(&r, &fb.media_ssrc)))
        return rc;
    fb.fci = perc_read_rest(&r);
    *out = fb;
    return PERC_OK;
}

void perc_rtcp_write_fb(perc_writer *w, const perc_rtcp_fb *fb)
{
    if (!is_fb(fb->pt) || fb->fmt > PERC_RTCP_MAX_COUNT || fb->fci.len % 4 != 0) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, fb->fmt, fb->pt);
    perc_write_u32(w, fb->sender_ssrc);
    perc_write_u32(w, fb->media_ssrc);
    perc_write_bytes(w, fb->fci.ptr, fb->fci.len);
    perc_rtcp_end(w, m, 0);
}

/* Feedback whose FCI is a list of 8-octet entries each naming its SSRC
 * first, with the header's media SSRC unused (RFC 5104 §4.2.1, §4.2.2,
 * §4.3.1, §4.3.2, §4.3.3). */
static bool addressed_by_entries(uint8_t pt, uint8_t fmt)
{
    if (pt == PERC_RTCP_RTPFB)
        return fmt == PERC_RTCP_FMT_TMMBR || fmt == PERC_RTCP_FMT_TMMBN;
    return fmt == PERC_RTCP_FMT_FIR || fmt == PERC_RTCP_FMT_TSTR || fmt == PERC_RTCP_FMT_TSTN;
}

int perc_rtcp_fb_targets(const perc_rtcp_view *p, uint32_t *out, size_t cap, size_t *n)
{
    perc_rtcp_fb fb;
    int rc = perc_rtcp_parse_fb(p, &fb);
    if (rc)
        return rc;
    if (!addressed_by_entries(fb.pt, fb.fmt)) {
        *n = 1;
        if (cap < 1)
            return PERC_ERR_NOSPACE;
        out[0] = fb.media_ssrc;
        return PERC_OK;
    }
    if (fb.fci.len % ENTRY_LEN != 0)
        return PERC_ERR_TRUNCATED;
    size_t count = fb.fci.len / ENTRY_LEN;
    *n = count;
    if (count > cap)
        return PERC_ERR_NOSPACE;
    for (size_t i = 0; i < count; i++)
        out[i] = perc_load_u32(fb.fci.ptr + i * ENTRY_LEN);
    return PERC_OK;
}

/* Parses p as feedback of the given PT and FMT. */
static int parse_typed(const perc_rtcp_view *p, uint8_t pt, uint8_t fmt, perc_rtcp_fb *fb)
{
    if (p->pt != pt || p->count != fmt)
        return PERC_ERR_INVALID_ARG;
    return perc_rtcp_parse_fb(p, fb);
}

/* ---- generic NACK ------------------------------------------------------ */

int perc_rtcp_parse_nack(const perc_rtcp_view *p, perc_rtcp_nack *out)
{
    perc_rtcp_fb fb;
    int rc = parse_typed(p, PERC_RTCP_RTPFB, PERC_RTCP_FMT_NACK, &fb);
    if (rc)
        return rc;
    /* RFC 4585 §6.2.1: at least one PID/BLP pair */
    if (fb.fci.len == 0)
        return PERC_ERR_MALFORMED;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->count = fb.fci.len / 4;
    out->fci = fb.fci;
    return PERC_OK;
}

perc_rtcp_nack_item perc_rtcp_nack_get(const perc_rtcp_nack *n, size_t i)
{
    perc_rtcp_nack_item item = {0, 0};
    if (i < n->count && (i + 1) * 4 <= n->fci.len) {
        item.pid = perc_load_u16(n->fci.ptr + i * 4);
        item.blp = perc_load_u16(n->fci.ptr + i * 4 + 2);
    }
    return item;
}

size_t perc_rtcp_nack_expand(perc_rtcp_nack_item item, uint16_t out[17])
{
    size_t n = 0;
    out[n++] = item.pid;
    for (unsigned bit = 0; bit < 16; bit++) {
        if (item.blp & (1u << bit))
            out[n++] = (uint16_t)(item.pid + bit + 1); /* SEQ arithmetic wraps mod 2^16 */
    }
    return n;
}

void perc_rtcp_write_nack(perc_writer *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                          const perc_rtcp_nack_item *items, size_t n)
{
    if (n == 0) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, PERC_RTCP_FMT_NACK, PERC_RTCP_RTPFB);
    perc_write_u32(w, sender_ssrc);
    perc_write_u32(w, media_ssrc);
    for (size_t i = 0; i < n; i++) {
        perc_write_u16(w, items[i].pid);
        perc_write_u16(w, items[i].blp);
    }
    perc_rtcp_end(w, m, 0);
}

/* ---- PLI --------------------------------------------------------------- */

int perc_rtcp_parse_pli(const perc_rtcp_view *p, perc_rtcp_pli *out)
{
    perc_rtcp_fb fb;
    int rc = parse_typed(p, PERC_RTCP_PSFB, PERC_RTCP_FMT_PLI, &fb);
    if (rc)
        return rc;
    /* RFC 4585 §6.3.1: PLI carries no FCI */
    if (fb.fci.len != 0)
        return PERC_ERR_TRAILING;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    return PERC_OK;
}

void perc_rtcp_write_pli(perc_writer *w, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    perc_rtcp_mark m = perc_rtcp_begin(w, PERC_RTCP_FMT_PLI, PERC_RTCP_PSFB);
    perc_write_u32(w, sender_ssrc);
    perc_write_u32(w, media_ssrc);
    perc_rtcp_end(w, m, 0);
}

/* ---- FIR --------------------------------------------------------------- */

int perc_rtcp_parse_fir(const perc_rtcp_view *p, perc_rtcp_fir *out)
{
    perc_rtcp_fb fb;
    int rc = parse_typed(p, PERC_RTCP_PSFB, PERC_RTCP_FMT_FIR, &fb);
    if (rc)
        return rc;
    /* RFC 5104 §4.3.1.2: one or more entries of SSRC, seq nr, 24 reserved bits */
    if (fb.fci.len == 0)
        return PERC_ERR_MALFORMED;
    if (fb.fci.len % ENTRY_LEN != 0)
        return PERC_ERR_TRUNCATED;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->count = fb.fci.len / ENTRY_LEN;
    out->fci = fb.fci;
    return PERC_OK;
}

perc_rtcp_fir_entry perc_rtcp_fir_get(const perc_rtcp_fir *f, size_t i)
{
    perc_rtcp_fir_entry e = {0, 0};
    if (i < f->count && (i + 1) * ENTRY_LEN <= f->fci.len) {
        e.ssrc = perc_load_u32(f->fci.ptr + i * ENTRY_LEN);
        e.seq = f->fci.ptr[i * ENTRY_LEN + 4];
    }
    return e;
}

void perc_rtcp_write_fir(perc_writer *w, uint32_t sender_ssrc, const perc_rtcp_fir_entry *entries,
                         size_t n)
{
    if (n == 0) {
        set_err(w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_rtcp_mark m = perc_rtcp_begin(w, PERC_RTCP_FMT_FIR, PERC_RTCP_PSFB);
    perc_write_u32(w, sender_ssrc);
    perc_write_u32(w, 0); /* RFC 5104 §4.3.1.2: media source SSRC unused, 0 */
    for (size_t i = 0; i < n; i++) {
        perc_write_u32(w, entries[i].ssrc);
        perc_write_u8(w, entries[i].seq);
        perc_write_u24(w, 0); /* reserved, sent as zero */
    }
    perc_rtcp_end(w, m, 0);
}
