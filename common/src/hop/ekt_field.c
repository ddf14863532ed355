/* EKT field framing (RFC 8870 §4.1): locating, parsing and writing the
 * field only. Nothing here knows an EKTKey, so a Media Distributor can
 * strip and re-append fields with this file alone. */
#include "perc/ekt_field.h"

#include <string.h>

int perc_ekt_field_find(const uint8_t *pkt, size_t len, perc_ekt_field *out)
{
    if (!pkt || len == 0)
        return PERC_ERR_TRUNCATED;

    /* RFC 8870 §4.3.2 step 1: the last octet says which field this is. */
    uint8_t type = pkt[len - 1];
    size_t field_len;
    if (type == PERC_EKT_TYPE_SHORT) {
        field_len = PERC_EKT_SHORT_LEN;
    } else if (type == PERC_EKT_TYPE_LEGACY) {
        /* §7.1 leaves 1 unallocated because older drafts used it with a
         * different layout; we cannot know its length, so it is an error
         * rather than an extension to skip. */
        return PERC_ERR_MALFORMED;
    } else {
        /* Full and every extension type keep the 16-bit Length, counting
         * the whole field, just before the type octet (§4.1), which is
         * what lets a receiver skip types it does not know. */
        if (len < 3)
            return PERC_ERR_TRUNCATED;
        perc_reader r;
        perc_reader_init(&r, pkt + len - 3, 3);
        uint16_t length;
        int rc = perc_read_u16(&r, &length);
        if (rc != PERC_OK)
            return rc;
        size_t min = type == PERC_EKT_TYPE_FULL ? PERC_EKT_FULL_MIN_LEN : PERC_EKT_EXT_MIN_LEN;
        size_t max = type == PERC_EKT_TYPE_FULL ? PERC_EKT_FULL_MAX_LEN : PERC_EKT_EXT_MAX_LEN;
        if (length < min || length > max)
            return PERC_ERR_MALFORMED;
        if (length > len)
            return PERC_ERR_TRUNCATED;
        field_len = length;
    }

    out->type = type;
    out->srtp_len = len - field_len;
    out->field = perc_view_of(pkt + out->srtp_len, field_len);
    return PERC_OK;
}

int perc_ekt_full_parse(const uint8_t *field, size_t len, perc_ekt_full *out)
{
    if (!field || len < PERC_EKT_FULL_MIN_LEN)
        return PERC_ERR_TRUNCATED;
    perc_reader r;
    perc_reader_init(&r, field, len);
    perc_ekt_full f;
    uint16_t length;
    uint8_t type;
    int rc;
    if ((rc = perc_read_view(&r, len - PERC_EKT_FULL_TRAILER_LEN, &f.ciphertext)) ||
        (rc = perc_read_u16(&r, &f.spi)) || (rc = perc_read_u16(&r, &f.epoch)) ||
        (rc = perc_read_u16(&r, &length)) || (rc = perc_read_u8(&r, &type)))
        return rc;
    if ((rc = perc_reader_expect_end(&r)))
        return rc;
    if (type != PERC_EKT_TYPE_FULL)
        return PERC_ERR_MALFORMED;
    /* The Length must describe exactly the bytes we were given. */
    if (length > len)
        return PERC_ERR_TRUNCATED;
    if (length < len)
        return PERC_ERR_TRAILING;
    if (f.ciphertext.len > PERC_EKT_CIPHERTEXT_MAX)
        return PERC_ERR_MALFORMED;
    *out = f;
    return PERC_OK;
}

int perc_ekt_full_build(const uint8_t *ct, size_t ct_len, uint16_t spi, uint16_t epoch,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    if (!ct || ct_len == 0 || ct_len > PERC_EKT_CIPHERTEXT_MAX)
        return PERC_ERR_INVALID_ARG;
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_bytes(&w, ct, ct_len);
    perc_write_u16(&w, spi);
    perc_write_u16(&w, epoch);
    /* ct_len <= 251, so the whole length fits 16 bits. */
    perc_write_u16(&w, (uint16_t)perc_ekt_full_len(ct_len));
    perc_write_u8(&w, PERC_EKT_TYPE_FULL);
    return perc_writer_finish(&w, out_len);
}

int perc_ekt_short_build(uint8_t *out, size_t cap, size_t *out_len)
{
    perc_writer w;
    perc_writer_init(&w, out, cap);
    perc_write_u8(&w, PERC_EKT_TYPE_SHORT);
    return perc_writer_finish(&w, out_len);
}

int perc_ekt_field_append(uint8_t *buf, size_t len, size_t cap, const uint8_t *field,
                          size_t field_len, size_t *out_len)
{
    if (!buf || !field || len > cap)
        return PERC_ERR_INVALID_ARG;
    if (cap - len < field_len)
        return PERC_ERR_NOSPACE;
    /* memmove: the saved field may still sit inside buf. */
    memmove(buf + len, field, field_len);
    *out_len = len + field_len;
    return PERC_OK;
}
