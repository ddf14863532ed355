/* The Media Distributor's part of the double transform (RFC 8723 §5.2):
 * change PT, SEQ and the marker of an outer-decrypted packet while keeping
 * the OHB truthful, and the whole open-rewrite-seal step. Only outer
 * (hop-by-hop) sessions appear here; the inner layer is opaque bytes. */
#include "perc/double.h"

#include "perc/rtp.h"

int perc_double_rewrite(uint8_t *buf, size_t len, size_t cap, const perc_relay_change *chg,
                        size_t *out_len)
{
    if (!buf || !chg || !out_len || cap < len)
        return PERC_ERR_INVALID_ARG;
    if ((chg->set_pt && chg->pt > 0x7F))
        return PERC_ERR_INVALID_ARG;

    perc_rtp_header hdr;
    int rc = perc_rtp_parse_header(buf, len, &hdr);
    if (rc)
        return rc;
    /* What follows the header is inner ciphertext || inner tag || OHB; the
     * OHB is found from the end (§4) and must leave room for the tag. */
    const uint8_t *body = buf + hdr.header_len;
    size_t body_len = len - hdr.header_len;
    perc_ohb ohb;
    size_t old_ohb_len;
    if ((rc = perc_ohb_parse(body, body_len, &ohb, &old_ohb_len)))
        return rc;
    if (body_len < old_ohb_len + PERC_SRTP_TAG_LEN)
        return PERC_ERR_TRUNCATED;

    uint8_t new_pt = chg->set_pt ? chg->pt : hdr.payload_type;
    uint16_t new_seq = chg->set_seq ? chg->seq : hdr.seq;
    bool new_marker = chg->set_marker ? chg->marker : hdr.marker;
    perc_ohb_record(&ohb, &hdr, new_pt, new_seq, new_marker);

    size_t keep = len - old_ohb_len;
    size_t total = keep + perc_ohb_len(&ohb);
    /* Checked before anything is written, so a refused call leaves buf as
     * it was. */
    if (total > cap)
        return PERC_ERR_NOSPACE;

    /* Octet 1 (M|PT) and octets 2-3 (SEQ) of the fixed header; V, P, X, CC
     * in octet 0 and everything after SEQ stay as they are (§4: only PT,
     * SEQ and M may change). */
    perc_writer w;
    perc_writer_init(&w, buf + 1, 3);
    perc_write_u8(&w, (uint8_t)((new_marker ? 0x80 : 0) | new_pt));
    perc_write_u16(&w, new_seq);
    if ((rc = perc_writer_error(&w)))
        return rc;

    perc_writer_init(&w, buf + keep, cap - keep);
    perc_ohb_write(&w, &ohb);
    size_t written;
    if ((rc = perc_writer_finish(&w, &written)))
        return rc;
    *out_len = keep + written;
    return PERC_OK;
}

int perc_double_relay(perc_srtp_session *in, uint32_t in_roc, perc_srtp_session *out,
                      uint32_t out_roc, const perc_relay_change *chg, uint8_t *buf, size_t len,
                      size_t cap, size_t *out_len)
{
    if (!in || !out || !buf || !out_len || cap < len)
        return PERC_ERR_INVALID_ARG;
    /* §5.2, §9: re-sealing under the key the packet arrived with would
     * reuse (key, IV) pairs whenever SEQ is kept; the outgoing hop must
     * have its own key. */
    if (perc_srtp_session_same_key(in, out))
        return PERC_ERR_INVALID_ARG;

    size_t n;
    int rc = perc_srtp_open(in, buf, len, in_roc, &n);
    if (rc)
        return rc;
    if (chg && (rc = perc_double_rewrite(buf, n, cap, chg, &n)))
        return rc;
    /* §5.2 step 4: the outer IV is built from the SEQ as now in the header
     * and the outgoing hop's ROC for it. */
    return perc_srtp_seal(out, buf, n, cap, out_roc, out_len);
}
