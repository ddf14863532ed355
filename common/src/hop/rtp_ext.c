/* RFC 8285 header extension elements, and the RFC 6464 audio level. */
#include "perc/rtp.h"

int perc_rtp_ext_iter_init(perc_rtp_ext_iter *it, const perc_rtp_header *h)
{
    if (!h->extension)
        return PERC_ERR_NOT_FOUND;
    if (h->ext_profile == PERC_RTP_EXT_ONE_BYTE)
        it->two_byte = false;
    else if ((h->ext_profile & PERC_RTP_EXT_TWO_BYTE_MASK) == PERC_RTP_EXT_TWO_BYTE)
        it->two_byte = true;
    else
        return PERC_ERR_UNSUPPORTED;
    perc_reader_init(&it->r, h->ext_data.ptr, h->ext_data.len);
    return PERC_OK;
}

int perc_rtp_ext_next(perc_rtp_ext_iter *it, perc_rtp_ext_elem *out)
{
    for (;;) {
        uint8_t b;
        if (perc_read_u8(&it->r, &b) != PERC_OK)
            return 0;
        if (b == 0)
            continue; /* padding between elements (RFC 8285 §4.2, §4.3) */
        size_t len;
        uint8_t id;
        if (it->two_byte) {
            uint8_t l;
            if (perc_read_u8(&it->r, &l) != PERC_OK)
                return PERC_ERR_TRUNCATED;
            id = b;
            len = l;
        } else {
            id = b >> 4;
            if (id == 15) { /* reserved ID: stop processing the block (§4.2) */
                (void)perc_read_rest(&it->r);
                return 0;
            }
            /* ID 0 is reserved for padding, and padding is the whole octet
             * 0 (RFC 8285 §4.2, §4.1.2): 0x01..0x0F is neither. */
            if (id == 0)
                return PERC_ERR_MALFORMED;
            len = (size_t)(b & 0x0F) + 1;
        }
        int rc = perc_read_view(&it->r, len, &out->data);
        if (rc)
            return rc;
        out->id = id;
        return 1;
    }
}

int perc_rtp_ext_find(const perc_rtp_header *h, uint8_t id, perc_view *out)
{
    perc_rtp_ext_iter it;
    int rc = perc_rtp_ext_iter_init(&it, h);
    if (rc)
        return rc;
    perc_rtp_ext_elem e;
    while ((rc = perc_rtp_ext_next(&it, &e)) == 1) {
        if (e.id == id) {
            *out = e.data;
            return PERC_OK;
        }
    }
    return rc < 0 ? rc : PERC_ERR_NOT_FOUND;
}

void perc_rtp_ext_builder_init(perc_rtp_ext_builder *b, uint8_t *buf, size_t cap, bool two_byte)
{
    perc_writer_init(&b->w, buf, cap);
    b->two_byte = two_byte;
}

void perc_rtp_ext_add(perc_rtp_ext_builder *b, uint8_t id, const uint8_t *data, size_t len)
{
    bool ok = b->two_byte ? (id >= 1 && len <= 255) : (id >= 1 && id <= 14 && len >= 1 && len <= 16);
    if (!ok) {
        if (b->w.err == PERC_OK)
            b->w.err = PERC_ERR_INVALID_ARG;
        return;
    }
    if (b->two_byte) {
        perc_write_u8(&b->w, id);
        perc_write_u8(&b->w, (uint8_t)len);
    } else {
        perc_write_u8(&b->w, (uint8_t)((unsigned)id << 4 | (unsigned)(len - 1)));
    }
    perc_write_bytes(&b->w, data, len);
}

int perc_rtp_ext_finish(perc_rtp_ext_builder *b, perc_view *data, uint16_t *profile)
{
    while (b->w.err == PERC_OK && b->w.pos % 4 != 0)
        perc_write_u8(&b->w, 0);
    size_t len;
    int rc = perc_writer_finish(&b->w, &len);
    if (rc)
        return rc;
    *data = perc_view_of(b->w.buf, len);
    *profile = b->two_byte ? PERC_RTP_EXT_TWO_BYTE : PERC_RTP_EXT_ONE_BYTE;
    return PERC_OK;
}

int perc_audio_level_parse(perc_view data, perc_audio_level *out)
{
    if (data.len < 1)
        return PERC_ERR_TRUNCATED;
    /* the one-byte form may carry padding octets in the element (RFC 6464 §3) */
    out->voice = (data.ptr[0] & 0x80) != 0;
    out->level = data.ptr[0] & 0x7F;
    return PERC_OK;
}
