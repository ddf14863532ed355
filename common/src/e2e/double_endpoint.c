/* Sender and receiver steps of the double transform (RFC 8723 §5.1, §5.3)
 * at explicit ROCs, on caller-owned inner and outer sessions. */
#include "perc/double_endpoint.h"

#include <string.h>

#include "hop/srtp_session.h"
#include "perc/bytes.h"

int perc_double_synthetic_header(const perc_rtp_header *hdr,
                                 uint8_t out[PERC_DOUBLE_MAX_SYNTHETIC_LEN], size_t *out_len)
{
    if (!hdr || !out || !out_len)
        return PERC_ERR_INVALID_ARG;
    /* §5.1 step 3: header extensions get no end-to-end protection (an MD
     * may add, change or drop them), so the inner AAD leaves the block out
     * and clears X; CSRCs, P and everything else stay covered. */
    perc_rtp_header syn = *hdr;
    syn.extension = false;
    syn.ext_profile = 0;
    syn.ext_data = perc_view_of(NULL, 0);
    perc_writer w;
    perc_writer_init(&w, out, PERC_DOUBLE_MAX_SYNTHETIC_LEN);
    perc_rtp_write_header(&w, &syn);
    return perc_writer_finish(&w, out_len);
}

/* perc_double_inner_seal with the header located once (lay), for the
 * sender's per-packet path: the synthetic header is the fixed header and
 * CSRCs with X cleared, so it is copied rather than parsed and rebuilt. */
static int inner_seal_at(perc_srtp_session *inner, uint32_t inner_roc, uint8_t *buf, size_t len,
                         size_t cap, perc_srtp_layout *lay, size_t *out_len)
{
    int rc = perc_srtp_layout_of(buf, len, lay);
    if (rc)
        return rc;
    size_t fixed = PERC_RTP_FIXED_HEADER_LEN + 4u * (size_t)(buf[0] & 0x0F);
    bool ext = (buf[0] & 0x10) != 0;
    /* §5.1 step 1: header extensions must be in RFC 8285 form, which is
     * what lets a Media Distributor change them without touching the inner
     * layer. */
    if (ext) {
        uint16_t profile = perc_load_u16(buf + fixed);
        if (profile != PERC_RTP_EXT_ONE_BYTE &&
            (profile & PERC_RTP_EXT_TWO_BYTE_MASK) != PERC_RTP_EXT_TWO_BYTE)
            return PERC_ERR_UNSUPPORTED;
    }
    /* Inner tag and the one-octet OHB after the payload. */
    if (cap - len < PERC_SRTP_TAG_LEN + 1)
        return PERC_ERR_NOSPACE;
    /* §5.1 step 3: the inner AAD leaves the extension block out and clears
     * X (an MD may add, change or drop extensions); CSRCs, P and the rest
     * stay covered. Without extensions that is the header as it is. */
    uint8_t syn[PERC_DOUBLE_MAX_SYNTHETIC_LEN];
    const uint8_t *aad = buf;
    if (ext) {
        memcpy(syn, buf, fixed);
        syn[0] &= (uint8_t)~0x10u;
        aad = syn;
    }
    /* §5.1 step 4: the synthetic packet's payload is the original payload
     * with its padding; it is sealed in place right after the original
     * header, which thereby is already "put back" (step 5). */
    size_t hl = lay->header_len;
    if ((rc = perc_srtp_seal_parts(inner, aad, fixed, lay->ssrc, inner_roc, lay->seq, buf + hl,
                                   len - hl, buf + len)))
        return rc;
    /* §5.1 step 5: a sender changes nothing, so its OHB is the single
     * octet Config 0x00 (§4). */
    buf[len + PERC_SRTP_TAG_LEN] = 0x00;
    *out_len = len + PERC_SRTP_TAG_LEN + 1;
    return PERC_OK;
}

int perc_double_inner_seal(perc_srtp_session *inner, uint32_t inner_roc, uint8_t *buf, size_t len,
                           size_t cap, size_t *out_len)
{
    if (!inner || !buf || !out_len || cap < len)
        return PERC_ERR_INVALID_ARG;
    perc_srtp_layout lay;
    return inner_seal_at(inner, inner_roc, buf, len, cap, &lay, out_len);
}

int perc_double_protect(perc_srtp_session *inner, uint32_t inner_roc, perc_srtp_session *outer,
                        uint32_t outer_roc, uint8_t *buf, size_t len, size_t cap, size_t *out_len)
{
    if (!inner || !outer || !buf || !out_len || cap < len)
        return PERC_ERR_INVALID_ARG;
    /* The two layers must never share a key (§3: independent halves). */
    if (perc_srtp_session_same_key(inner, outer))
        return PERC_ERR_INVALID_ARG;
    if (cap - len < PERC_DOUBLE_MIN_OVERHEAD)
        return PERC_ERR_NOSPACE;
    size_t n;
    perc_srtp_layout lay;
    int rc = inner_seal_at(inner, inner_roc, buf, len, cap, &lay, &n);
    if (rc)
        return rc;
    /* §5.1 step 6: an ordinary RFC 7714 seal whose AAD is the full header
     * as sent (extensions included) and whose plaintext is inner
     * ciphertext || inner tag || OHB; the header has not moved. */
    return perc_srtp_seal_hdr(outer, buf, n, cap, &lay, outer_roc, out_len);
}

int perc_double_inspect(const uint8_t *buf, size_t len, perc_double_info *out)
{
    if (!buf || !out)
        return PERC_ERR_INVALID_ARG;
    perc_double_info info;
    memset(&info, 0, sizeof info);
    int rc = perc_rtp_parse_header(buf, len, &info.hdr);
    if (rc)
        return rc;
    /* §5.3 step 3: the OHB is taken off the end first, then the inner tag
     * before it; what is left is the inner ciphertext. */
    size_t body = len - info.hdr.header_len;
    if ((rc = perc_ohb_parse(buf + info.hdr.header_len, body, &info.ohb, &info.ohb_len)))
        return rc;
    if (body < info.ohb_len + PERC_SRTP_TAG_LEN)
        return PERC_ERR_TRUNCATED;
    info.inner_ct_len = body - info.ohb_len - PERC_SRTP_TAG_LEN;

    perc_rtp_header orig = info.hdr;
    perc_ohb_restore(&info.ohb, &orig);
    info.orig_pt = orig.payload_type;
    info.orig_seq = orig.seq;
    info.orig_marker = orig.marker;
    *out = info;
    return PERC_OK;
}

/* The common case on the receiver's per-packet path: the OHB is the
 * single octet Config 0x00 (§4), so every original field is the received
 * one and the synthetic header is the header without its extension block,
 * X cleared. 1: handled (rc in *rc); 0: take the general path. */
static int inner_open_plain(perc_srtp_session *inner, uint32_t inner_roc, uint8_t *buf,
                            size_t len, size_t *out_len, int *rc)
{
    perc_srtp_layout lay;
    if (perc_srtp_layout_of(buf, len, &lay) != PERC_OK || len - lay.header_len < 1 + PERC_SRTP_TAG_LEN ||
        buf[len - 1] != 0x00)
        return 0;
    size_t fixed = PERC_RTP_FIXED_HEADER_LEN + 4u * (size_t)(buf[0] & 0x0F);
    uint8_t syn[PERC_DOUBLE_MAX_SYNTHETIC_LEN];
    const uint8_t *aad = buf;
    if (buf[0] & 0x10) {
        memcpy(syn, buf, fixed);
        syn[0] &= (uint8_t)~0x10u;
        aad = syn;
    }
    uint8_t *ct = buf + lay.header_len;
    size_t ct_len = len - lay.header_len - 1 - PERC_SRTP_TAG_LEN;
    *rc = perc_srtp_open_parts(inner, aad, fixed, lay.ssrc, inner_roc, lay.seq, ct, ct_len,
                               ct + ct_len);
    if (*rc == PERC_OK)
        *out_len = lay.header_len + ct_len;
    return 1;
}

int perc_double_inner_open(perc_srtp_session *inner, uint32_t inner_roc, uint8_t *buf, size_t len,
                           size_t *out_len)
{
    if (!inner || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    int rc;
    if (inner_open_plain(inner, inner_roc, buf, len, out_len, &rc))
        return rc;
    perc_double_info info;
    rc = perc_double_inspect(buf, len, &info);
    if (rc)
        return rc;

    /* §5.3 step 4: the synthetic header is the received one with the
     * OHB's originals put back, X cleared, extensions dropped. */
    perc_rtp_header orig = info.hdr;
    perc_ohb_restore(&info.ohb, &orig);
    uint8_t syn[PERC_DOUBLE_MAX_SYNTHETIC_LEN];
    size_t syn_len;
    if ((rc = perc_double_synthetic_header(&orig, syn, &syn_len)))
        return rc;

    /* §5.3 step 5: the inner IV uses the original SEQ with the inner ROC;
     * an MD that lied in the OHB or changed any other covered field makes
     * this fail. */
    uint8_t *ct = buf + info.hdr.header_len;
    if ((rc = perc_srtp_open_parts(inner, syn, syn_len, orig.ssrc, inner_roc, orig.seq, ct,
                                   info.inner_ct_len, ct + info.inner_ct_len)))
        return rc;

    /* The packet handed up carries the header as the sender built it
     * (octet 1 = M|PT, octets 2-3 = SEQ); the received extension block
     * stays, without end-to-end protection. */
    perc_writer w;
    perc_writer_init(&w, buf + 1, 3);
    perc_write_u8(&w, (uint8_t)((orig.marker ? 0x80 : 0) | orig.payload_type));
    perc_write_u16(&w, orig.seq);
    if ((rc = perc_writer_error(&w)))
        return rc;
    *out_len = info.hdr.header_len + info.inner_ct_len;
    return PERC_OK;
}

int perc_double_unprotect(perc_srtp_session *outer, uint32_t outer_roc, perc_srtp_session *inner,
                          uint32_t inner_roc, uint8_t *buf, size_t len, size_t *out_len)
{
    if (!outer || !inner || !buf || !out_len)
        return PERC_ERR_INVALID_ARG;
    size_t n;
    int rc = perc_srtp_open(outer, buf, len, outer_roc, &n);
    if (rc)
        return rc;
    return perc_double_inner_open(inner, inner_roc, buf, n, out_len);
}
