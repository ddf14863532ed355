/* RTCP source description, SDES (RFC 3550 §6.5): a list of chunks, each an
 * SSRC/CSRC followed by items (type, length, text) and ended by one or
 * more null octets that bring the chunk to a 32-bit boundary. */
#include "perc/rtcp.h"

#include <string.h>

static void set_err(perc_writer *w, int err)
{
    if (w->err == PERC_OK)
        w->err = err;
}

static int fail(perc_rtcp_sdes_iter *it, int rc)
{
    it->err = rc;
    return rc;
}

int perc_rtcp_sdes_iter_init(perc_rtcp_sdes_iter *it, const perc_rtcp_view *p)
{
    if (p->pt != PERC_RTCP_SDES)
        return PERC_ERR_INVALID_ARG;
    /* chunks are word aligned, so the body is whole words */
    if (p->body.len % 4 != 0)
        return PERC_ERR_MALFORMED;
    perc_reader_init(&it->r, p->body.ptr, p->body.len);
    it->chunks_left = p->count;
    it->in_chunk = false;
    it->err = PERC_OK;
    return PERC_OK;
}

int perc_rtcp_sdes_next_item(perc_rtcp_sdes_iter *it, perc_rtcp_sdes_item *out)
{
    if (it->err)
        return it->err;
    if (!it->in_chunk)
        return 0;
    uint8_t type;
    int rc = perc_read_u8(&it->r, &type);
    if (rc)
        return fail(it, rc);
    if (type == PERC_RTCP_SDES_END) {
        /* The null item ends the list; further nulls pad to the next word.
         * The body starts word aligned in the packet, so the reader's
         * position tells the alignment. */
        while (it->r.pos % 4 != 0) {
            uint8_t pad;
            if ((rc = perc_read_u8(&it->r, &pad)))
                return fail(it, rc);
            if (pad != 0)
                return fail(it, PERC_ERR_MALFORMED);
        }
        it->in_chunk = false;
        return 0;
    }
    perc_view value;
    if ((rc = perc_read_vector(&it->r, 1, &value)))
        return fail(it, rc);
    out->type = type;
    out->value = value;
    return 1;
}

int perc_rtcp_sdes_next_chunk(perc_rtcp_sdes_iter *it, uint32_t *ssrc)
{
    if (it->err)
        return it->err;
    perc_rtcp_sdes_item skip;
    int rc;
    while ((rc = perc_rtcp_sdes_next_item(it, &skip)) == 1)
        ;
    if (rc < 0)
        return rc;
    if (it->chunks_left == 0) {
        /* the count in the header says how many chunks there are */
        rc = perc_reader_expect_end(&it->r);
        return rc ? fail(it, rc) : 0;
    }
    if ((rc = perc_read_u32(&it->r, ssrc)))
        return fail(it, rc);
    it->chunks_left--;
    it->in_chunk = true;
    return 1;
}

int perc_rtcp_check_sdes(const perc_rtcp_view *p)
{
    perc_rtcp_sdes_iter it;
    int rc = perc_rtcp_sdes_iter_init(&it, p);
    if (rc)
        return rc;
    uint32_t ssrc;
    while ((rc = perc_rtcp_sdes_next_chunk(&it, &ssrc)) == 1)
        ;
    return rc;
}

int perc_rtcp_sdes_find(const perc_rtcp_view *p, uint32_t ssrc, uint8_t type, perc_view *value)
{
    perc_rtcp_sdes_iter it;
    int rc = perc_rtcp_sdes_iter_init(&it, p);
    if (rc)
        return rc;
    uint32_t chunk_ssrc;
    while ((rc = perc_rtcp_sdes_next_chunk(&it, &chunk_ssrc)) == 1) {
        if (chunk_ssrc != ssrc)
            continue;
        perc_rtcp_sdes_item item;
        memset(&item, 0, sizeof item); /* see perc_rtcp_check_compound */
        while ((rc = perc_rtcp_sdes_next_item(&it, &item)) == 1) {
            if (item.type == type) {
                *value = item.value;
                return PERC_OK;
            }
        }
        if (rc < 0)
            return rc;
    }
    return rc < 0 ? rc : PERC_ERR_NOT_FOUND;
}

/* Ends the open chunk's item list: one null octet, then nulls to the next
 * word boundary (relative to the packet start, which is word aligned). */
static void close_chunk(perc_rtcp_sdes_writer *s)
{
    if (!s->in_chunk)
        return;
    perc_write_u8(s->w, PERC_RTCP_SDES_END);
    perc_write_zeros(s->w, (4 - (s->w->pos - s->mark.at) % 4) % 4);
    s->in_chunk = false;
}

void perc_rtcp_sdes_begin(perc_rtcp_sdes_writer *s, perc_writer *w)
{
    s->w = w;
    s->chunks = 0;
    s->in_chunk = false;
    s->mark = perc_rtcp_begin(w, 0, PERC_RTCP_SDES); /* count patched at the end */
}

void perc_rtcp_sdes_add_chunk(perc_rtcp_sdes_writer *s, uint32_t ssrc)
{
    if (s->chunks == PERC_RTCP_MAX_COUNT) {
        set_err(s->w, PERC_ERR_INVALID_ARG);
        return;
    }
    close_chunk(s);
    perc_write_u32(s->w, ssrc);
    s->chunks++;
    s->in_chunk = true;
}

void perc_rtcp_sdes_add_item(perc_rtcp_sdes_writer *s, uint8_t type, const uint8_t *value, size_t len)
{
    if (!s->in_chunk || type == PERC_RTCP_SDES_END || len > 255) {
        set_err(s->w, PERC_ERR_INVALID_ARG);
        return;
    }
    perc_write_u8(s->w, type);
    perc_write_vector(s->w, 1, value, len);
}

void perc_rtcp_sdes_end(perc_rtcp_sdes_writer *s)
{
    close_chunk(s);
    if (s->w->err != PERC_OK)
        return;
    s->w->buf[s->mark.at] = (uint8_t)((s->w->buf[s->mark.at] & 0xE0) | s->chunks);
    perc_rtcp_end(s->w, s->mark, 0);
}
