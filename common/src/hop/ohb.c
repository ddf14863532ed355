/* Original Header Block (RFC 8723 §4): parse, write, and the Media
 * Distributor's bookkeeping rules of §5.2 step 3. */
#include "perc/ohb.h"

#include <string.h>

size_t perc_ohb_len(const perc_ohb *o)
{
    return 1u + (o->has_pt ? 1u : 0u) + (o->has_seq ? 2u : 0u);
}

static size_t len_of_config(uint8_t c)
{
    return 1u + ((c & PERC_OHB_PT) ? 1u : 0u) + ((c & PERC_OHB_SEQ) ? 2u : 0u);
}

int perc_ohb_parse(const uint8_t *buf, size_t len, perc_ohb *out, size_t *ohb_len)
{
    if (!buf || !out || !ohb_len)
        return PERC_ERR_INVALID_ARG;
    /* RFC 8723 §4: the Config octet comes last, so the block is read from
     * the end of the outer plaintext backwards. */
    if (len == 0)
        return PERC_ERR_TRUNCATED;
    uint8_t c = buf[len - 1];
    /* Reserved bits must be sent as zero; a set one means the sender speaks
     * a version of the format we do not know, so the block is refused. */
    if (c & PERC_OHB_RESERVED)
        return PERC_ERR_BAD_OHB;
    /* §4: B carries the original marker only when M says one was recorded;
     * B without M is invalid (the RFC's "0x80" constant is a typo for this). */
    if ((c & (PERC_OHB_M | PERC_OHB_B)) == PERC_OHB_B)
        return PERC_ERR_BAD_OHB;
    size_t n = len_of_config(c);
    if (len < n)
        return PERC_ERR_TRUNCATED;

    perc_reader r;
    perc_reader_init(&r, buf + (len - n), n);
    perc_ohb o;
    memset(&o, 0, sizeof o);
    int rc = PERC_OK;
    if (c & PERC_OHB_PT) {
        uint8_t pt;
        if ((rc = perc_read_u8(&r, &pt)))
            return rc;
        /* The RFC leaves the PT octet's top bit undefined: we write 0 and
         * ignore it here, since the marker has its own bits. */
        o.has_pt = true;
        o.pt = pt & 0x7F;
    }
    if (c & PERC_OHB_SEQ) {
        if ((rc = perc_read_u16(&r, &o.seq)))
            return rc;
        o.has_seq = true;
    }
    if ((rc = perc_read_skip(&r, 1)) || (rc = perc_reader_expect_end(&r)))
        return rc;
    if (c & PERC_OHB_M) {
        o.has_marker = true;
        o.marker = (c & PERC_OHB_B) != 0;
    }
    *out = o;
    *ohb_len = n;
    return PERC_OK;
}

void perc_ohb_write(perc_writer *w, const perc_ohb *o)
{
    uint8_t c = 0;
    if (o->has_pt) {
        c |= PERC_OHB_PT;
        perc_write_u8(w, (uint8_t)(o->pt & 0x7F));
    }
    if (o->has_seq) {
        c |= PERC_OHB_SEQ;
        perc_write_u16(w, o->seq);
    }
    if (o->has_marker)
        c = (uint8_t)(c | PERC_OHB_M | (o->marker ? PERC_OHB_B : 0));
    perc_write_u8(w, c);
}

/* §5.2 step 3 for one field: `*has`/`*orig` is what the OHB records, `cur`
 * the value in the header as received, `next` the value to be sent.
 * Returned through the pointers so the three fields share one rule. */
static void record_u16(bool *has, uint16_t *orig, uint16_t cur, uint16_t next)
{
    if (*has) {
        /* Already recorded (by us earlier or by an upstream MD): the
         * recorded value is the original and is never overwritten; once
         * the header carries it again the entry is no longer needed. */
        if (next == *orig) {
            *has = false;
            *orig = 0;
        }
        return;
    }
    if (next != cur) {
        *has = true;
        *orig = cur;
    }
}

void perc_ohb_record(perc_ohb *o, const perc_rtp_header *hdr, uint8_t new_pt, uint16_t new_seq,
                     bool new_marker)
{
    uint16_t pt = o->pt;
    record_u16(&o->has_pt, &pt, hdr->payload_type, (uint16_t)(new_pt & 0x7F));
    o->pt = (uint8_t)(pt & 0x7F);

    record_u16(&o->has_seq, &o->seq, hdr->seq, new_seq);

    uint16_t m = o->marker ? 1u : 0u;
    record_u16(&o->has_marker, &m, hdr->marker ? 1u : 0u, new_marker ? 1u : 0u);
    o->marker = o->has_marker && m != 0;
}

void perc_ohb_restore(const perc_ohb *o, perc_rtp_header *hdr)
{
    if (o->has_pt)
        hdr->payload_type = o->pt;
    if (o->has_seq)
        hdr->seq = o->seq;
    if (o->has_marker)
        hdr->marker = o->marker;
}
