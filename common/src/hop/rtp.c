/* RTP fixed header, CSRC list and extension block (RFC 3550 §5.1, §5.3.1). */
#include "perc/rtp.h"

#include <string.h>

int perc_rtp_parse_header(const uint8_t *buf, size_t len, perc_rtp_header *out)
{
    perc_reader r;
    perc_reader_init(&r, buf, len);
    uint8_t b0, b1;
    int rc;
    if ((rc = perc_read_u8(&r, &b0)) || (rc = perc_read_u8(&r, &b1)))
        return rc;
    perc_rtp_header h;
    memset(&h, 0, sizeof h);
    if ((b0 >> 6) != 2)
        return len < PERC_RTP_FIXED_HEADER_LEN ? PERC_ERR_TRUNCATED : PERC_ERR_BAD_VERSION;
    h.padding = (b0 & 0x20) != 0;
    h.extension = (b0 & 0x10) != 0;
    h.csrc_count = b0 & 0x0F;
    h.marker = (b1 & 0x80) != 0;
    h.payload_type = b1 & 0x7F;
    if ((rc = perc_read_u16(&r, &h.seq)) || (rc = perc_read_u32(&r, &h.timestamp)) ||
        (rc = perc_read_u32(&r, &h.ssrc)))
        return rc;
    for (unsigned i = 0; i < h.csrc_count; i++) {
        if ((rc = perc_read_u32(&r, &h.csrc[i])))
            return rc;
    }
    if (h.extension) {
        uint16_t words;
        if ((rc = perc_read_u16(&r, &h.ext_profile)) || (rc = perc_read_u16(&r, &words)) ||
            (rc = perc_read_view(&r, (size_t)words * 4, &h.ext_data)))
            return rc;
    }
    h.header_len = r.pos;
    *out = h;
    return PERC_OK;
}

int perc_rtp_parse(const uint8_t *buf, size_t len, perc_rtp_packet *out)
{
    perc_rtp_packet p;
    memset(&p, 0, sizeof p);
    int rc = perc_rtp_parse_header(buf, len, &p.hdr);
    if (rc)
        return rc;
    size_t body = len - p.hdr.header_len;
    if (p.hdr.padding) {
        if (body == 0)
            return PERC_ERR_TRUNCATED;
        p.padding_len = buf[len - 1];
        if (p.padding_len == 0 || p.padding_len > body)
            return PERC_ERR_MALFORMED;
    }
    p.payload = perc_view_of(buf + p.hdr.header_len, body - p.padding_len);
    *out = p;
    return PERC_OK;
}

void perc_rtp_write_header(perc_writer *w, const perc_rtp_header *h)
{
    if (h->csrc_count > PERC_RTP_MAX_CSRC || h->payload_type > 0x7F ||
        (h->extension && (h->ext_data.len % 4 != 0 || h->ext_data.len / 4 > 0xFFFF))) {
        if (w->err == PERC_OK)
            w->err = PERC_ERR_INVALID_ARG;
        return;
    }
    perc_write_u8(w, (uint8_t)(0x80 | (h->padding ? 0x20 : 0) | (h->extension ? 0x10 : 0) |
                               h->csrc_count));
    perc_write_u8(w, (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type));
    perc_write_u16(w, h->seq);
    perc_write_u32(w, h->timestamp);
    perc_write_u32(w, h->ssrc);
    for (unsigned i = 0; i < h->csrc_count; i++)
        perc_write_u32(w, h->csrc[i]);
    if (h->extension) {
        perc_write_u16(w, h->ext_profile);
        perc_write_u16(w, (uint16_t)(h->ext_data.len / 4));
        perc_write_bytes(w, h->ext_data.ptr, h->ext_data.len);
    }
}

void perc_rtp_write(perc_writer *w, const perc_rtp_header *h, const uint8_t *payload,
                    size_t payload_len, uint8_t padding_len)
{
    perc_rtp_header copy = *h;
    copy.padding = padding_len > 0;
    perc_rtp_write_header(w, &copy);
    perc_write_bytes(w, payload, payload_len);
    if (padding_len > 0) {
        perc_write_zeros(w, (size_t)padding_len - 1);
        perc_write_u8(w, padding_len);
    }
}
