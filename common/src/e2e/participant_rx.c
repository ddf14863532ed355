/* The participant's media receiver: EKT field (RFC 8870 §4.3.2), outer
 * layer, OHB, inner layer (RFC 8723 §5.3), then counters and the frame. */
#include <string.h>

#include "participant_internal.h"
#include "perc/ekt_field.h"
#include "perc/secret.h"

/* Extended original SEQs are kept with this bias so that packets older
 * than the first one seen stay positive. */
#define SEQ_BIAS (UINT64_C(1) << 40)

static void update_seq(pp_remote *r, uint16_t seq)
{
    if (!r->seq_started) {
        r->seq_started = true;
        r->base_seq = SEQ_BIAS + seq;
        r->st.highest_seq = SEQ_BIAS + seq;
    } else {
        /* The nearest extension of seq to the highest one seen (RFC 3550
         * Appendix A.1 in spirit). */
        int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)r->st.highest_seq);
        uint64_t ext = (uint64_t)((int64_t)r->st.highest_seq + delta);
        if (ext > r->st.highest_seq)
            r->st.highest_seq = ext;
        else
            r->st.late++;
        if (ext < r->base_seq)
            r->base_seq = ext;
    }
    r->st.verified++;
    uint64_t expected = r->st.highest_seq - r->base_seq + 1;
    r->st.lost = expected > r->st.verified ? expected - r->st.verified : 0;
}

static bool is_video(const perc_participant *p, uint8_t pt)
{
    return pt < 128 && ((unsigned)p->cfg.video_pt_mask[pt / 8] >> (pt % 8u)) & 1u;
}

/* A new key announced in a Full field becomes the sender's newest inner
 * key (the previous one stays in perc_double_rx for its late packets).
 * The same key announced again (the candidate is only committed once a
 * packet authenticated under it) changes nothing: re-installing would
 * reset its replay window. */
static int install_key(perc_participant *p, pp_remote *r, const perc_ekt_rx_result *er)
{
    if (r->has_key && r->key_len == er->master_key_len &&
        perc_secret_equal(r->key, er->master_key, er->master_key_len)) {
        /* Still a candidate for the EKT receiver: commit it with the next
         * packet that authenticates under it. Announced again at another
         * ROC: the sender's SEQ wrapped before it started using the key
         * (it announces for the key-change delay first), so the key's
         * starting ROC moves with it; once packets opened under it, its
         * own state tracks the ROC and this changes nothing. */
        int rr = perc_double_rx_refresh_inner_roc(p->rx, r->ssrc, er->roc);
        (void)rr; /* PERC_ERR_STATE: already in use, nothing to move */
        r->pending_commit = true;
        r->pending_spi = er->spi;
        r->pending_epoch = er->epoch;
        return PERC_OK;
    }
    perc_srtp_session_keys sk;
    int rc = perc_srtp_kdf(p->cipher, er->master_key, er->master_key_len, er->salt, er->salt_len,
                           &sk);
    if (rc == PERC_OK)
        rc = perc_double_rx_set_inner(p->rx, r->ssrc, &sk, er->roc);
    perc_srtp_keys_wipe(&sk);
    if (rc)
        return rc;
    perc_wipe(r->key, sizeof r->key);
    memcpy(r->key, er->master_key, er->master_key_len);
    r->key_len = er->master_key_len;
    r->has_key = true;
    r->pending_commit = true;
    r->pending_spi = er->spi;
    r->pending_epoch = er->epoch;
    r->st.has_key = true;
    r->st.keys_learned++;
    return PERC_OK;
}

static perc_participant_reject reason_of(int rc, perc_double_layer layer)
{
    switch (rc) {
    case PERC_ERR_NO_KEY:
        return PERC_PARTICIPANT_REJECT_NO_KEY;
    case PERC_ERR_AUTH:
        return layer == PERC_DOUBLE_LAYER_INNER ? PERC_PARTICIPANT_REJECT_INNER_AUTH
                                                : PERC_PARTICIPANT_REJECT_OUTER_AUTH;
    case PERC_ERR_REPLAY:
    case PERC_ERR_REPLAY_OLD:
        return PERC_PARTICIPANT_REJECT_REPLAY;
    case PERC_ERR_TRUNCATED:
    case PERC_ERR_TRAILING:
    case PERC_ERR_MALFORMED:
    case PERC_ERR_BAD_VERSION:
    case PERC_ERR_BAD_OHB:
        return PERC_PARTICIPANT_REJECT_MALFORMED;
    default:
        return PERC_PARTICIPANT_REJECT_OTHER;
    }
}

/* No key for a video sender: ask for an intra frame, whose packets carry
 * a Full field (RFC 8870 §4.6), at most every pli_min_interval_ns. */
static void maybe_pli(perc_participant *p, pp_remote *r, uint8_t pt)
{
    if (!is_video(p, pt) || !p->outer_tx)
        return;
    if (r->pli_ever && p->now - r->last_pli_ns < p->cfg.pli_min_interval_ns)
        return;
    if (pp_rtcp_send(p, true, r->ssrc, false) != PERC_OK) {
        p->stats.tx_dropped++;
        return;
    }
    r->pli_ever = true;
    r->last_pli_ns = p->now;
    r->st.pli_sent++;
    p->stats.pli_sent++;
}

static void deliver(perc_participant *p, pp_remote *r, const perc_double_info *info, size_t n,
                    bool previous_key)
{
    perc_rtp_packet pkt;
    if (perc_rtp_parse(p->work, n, &pkt) != PERC_OK) {
        pp_reject(p, r, PERC_PARTICIPANT_REJECT_MALFORMED);
        return;
    }
    update_seq(r, info->orig_seq);
    r->st.previous_key_opens += previous_key;
    p->stats.verified++;
    perc_participant_frame *f = pp_rxq_tail(p);
    if (!f) {
        p->stats.frames_dropped++;
        return;
    }
    f->ssrc = r->ssrc;
    f->pt = info->hdr.payload_type;
    f->seq = info->hdr.seq;
    f->orig_pt = info->orig_pt;
    f->orig_seq = info->orig_seq;
    f->marker = info->orig_marker;
    f->timestamp = pkt.hdr.timestamp;
    f->previous_key = previous_key;
    f->received_ns = p->now;
    perc_view al;
    f->has_audio_level = perc_rtp_ext_find(&pkt.hdr, p->cfg.audio_level_id, &al) == PERC_OK &&
                         perc_audio_level_parse(al, &f->audio_level) == PERC_OK;
    f->payload_len = pkt.payload.len;
    memcpy(f->payload, pkt.payload.ptr, pkt.payload.len);
    pp_rxq_commit(p);
}

int pp_rtp_in(perc_participant *p, const uint8_t *data, size_t len)
{
    perc_rtp_header h;
    int rc = perc_rtp_parse_header(data, len, &h);
    if (rc) {
        pp_reject(p, NULL, PERC_PARTICIPANT_REJECT_MALFORMED);
        return rc;
    }
    pp_remote *r = pp_remote_get(p, h.ssrc);
    if (!r) {
        pp_reject(p, NULL, PERC_PARTICIPANT_REJECT_OTHER);
        return PERC_ERR_LIMIT;
    }
    r->st.received++;
    if (!p->rx || !p->ekt_rx) {
        pp_reject(p, r, PERC_PARTICIPANT_REJECT_NO_KEY);
        return PERC_ERR_NO_KEY;
    }
    /* Framing first, so that a broken field counts as malformed and only
     * the EKT receiver's own refusals count as EKT errors. */
    perc_ekt_field ef;
    if ((rc = perc_ekt_field_find(data, len, &ef))) {
        pp_reject(p, r, PERC_PARTICIPANT_REJECT_MALFORMED);
        return rc;
    }
    perc_ekt_rx_result er;
    rc = perc_ekt_rx_process(p->ekt_rx, data, len, h.ssrc, p->now, &er);
    if (rc && !er.packet_usable) {
        /* RFC 8870 §4.3.2 steps 3 and 6: the packet is dropped. */
        perc_ekt_rx_result_wipe(&er);
        pp_reject(p, r, PERC_PARTICIPANT_REJECT_EKT);
        return rc;
    }
    if (rc)
        pp_log(p, PERC_PARTICIPANT_LOG_DEBUG, "EKT field of SSRC 0x%08x ignored: %s", h.ssrc,
               perc_err_name(rc));
    else if (er.kind == PERC_EKT_RX_FULL_NEW_KEY && (rc = install_key(p, r, &er))) {
        perc_ekt_rx_result_wipe(&er);
        pp_reject(p, r, PERC_PARTICIPANT_REJECT_OTHER);
        return rc;
    }
    size_t srtp_len = er.srtp_len;
    perc_ekt_rx_result_wipe(&er);

    memcpy(p->work, data, srtp_len);
    size_t n = 0;
    perc_double_info info;
    perc_double_rx_result res;
    rc = perc_double_rx_unprotect_ex(p->rx, p->work, srtp_len, &n, &info, &res);
    if (rc) {
        perc_participant_reject why = reason_of(rc, res.failed_layer);
        pp_reject(p, r, why);
        if (why == PERC_PARTICIPANT_REJECT_NO_KEY)
            maybe_pli(p, r, h.payload_type);
        return rc;
    }
    /* The candidate's epoch is stored only now that a packet authenticated
     * under the key it announced (spec digest ekt.md §4.3). */
    if (r->pending_commit && !res.previous_key) {
        r->pending_commit = false;
        if (perc_ekt_rx_commit(p->ekt_rx, r->pending_spi, r->ssrc, r->pending_epoch) == PERC_OK) {
            r->st.spi = r->pending_spi;
            perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_REMOTE_KEY,
                                         .ssrc = r->ssrc,
                                         .spi = r->pending_spi,
                                         .epoch = r->pending_epoch};
            pp_event(p, &ev);
        }
    }
    deliver(p, r, &info, n, res.previous_key);
    perc_wipe(p->work, n);
    return PERC_OK;
}
