/* The participant's RTCP: hop by hop only (RFC 8723 §6, RFC 8871 §7), SRTCP
 * with the outer keys (RFC 7714 §9), no EKT field (RFC 8870 §4). */
#include <stdlib.h>
#include <string.h>

#include "participant_internal.h"
#include "perc/bytes.h"
#include "perc/rtcp.h"

#define SEQ_BIAS (UINT64_C(1) << 40)    /* as in participant_rx.c */
#define NS_PER_S UINT64_C(1000000000)
#define SRTCP_INDEX_LIMIT (UINT32_C(1) << 31)

/* The caller's monotonic clock in the 64-bit NTP format (this core has no
 * wall clock; a receiver only uses the middle bits as an opaque LSR). */
static uint64_t ntp_of(uint64_t ns)
{
    uint64_t sec = ns / NS_PER_S;
    uint64_t frac = ((ns % NS_PER_S) << 32) / NS_PER_S;
    return (sec << 32) | frac;
}

/* RFC 3550 §6.4.1 and Appendix A.3, from the original SEQs. Jitter is not
 * computed (0): the core does not know the payload clock rates. */
static void report_block(perc_participant *p, pp_remote *r, perc_rtcp_report_block *b)
{
    memset(b, 0, sizeof *b);
    b->ssrc = r->ssrc;
    uint64_t expected = r->st.highest_seq - r->base_seq + 1;
    uint64_t exp_int = expected - r->expected_prior;
    uint64_t rcv_int = r->st.verified - r->verified_prior;
    r->expected_prior = expected;
    r->verified_prior = r->st.verified;
    if (exp_int > rcv_int && exp_int > 0)
        b->fraction_lost = (uint8_t)(((exp_int - rcv_int) << 8) / exp_int);
    uint64_t lost = r->st.lost;
    b->cumulative_lost = lost > PERC_RTCP_LOST_MAX ? PERC_RTCP_LOST_MAX : (int32_t)lost;
    b->ext_highest_seq = (uint32_t)(r->st.highest_seq - SEQ_BIAS);
    if (r->has_sr) {
        b->lsr = r->lsr;
        b->dlsr = (uint32_t)(((p->now - r->sr_at_ns) << 16) / NS_PER_S);
    }
}

static uint8_t fill_blocks(perc_participant *p, perc_rtcp_report_block *blocks)
{
    uint8_t n = 0;
    for (size_t i = 0; i < p->n_remotes && n < PERC_RTCP_MAX_COUNT; i++) {
        pp_remote *r = &p->remotes[i];
        if (r->seq_started)
            report_block(p, r, &blocks[n++]);
    }
    return n;
}

static void write_reports(perc_participant *p, perc_writer *w)
{
    /* The first SSRC always leads, so the SRTCP index has one owner. */
    perc_rtcp_sr sr;
    perc_rtcp_rr rr;
    for (size_t i = 0; i < p->n_tx; i++) {
        pp_tx *t = &p->tx[i];
        if (i > 0 && !t->has_sent)
            continue;
        if (!t->has_sent) {
            memset(&rr, 0, sizeof rr);
            rr.ssrc = t->ssrc;
            rr.report_count = fill_blocks(p, rr.reports);
            perc_rtcp_write_rr(w, &rr);
            continue;
        }
        memset(&sr, 0, sizeof sr);
        sr.ssrc = t->ssrc;
        sr.ntp_timestamp = ntp_of(p->now);
        sr.rtp_timestamp = t->last_ts;
        sr.packet_count = (uint32_t)t->st_out.packets;
        sr.octet_count = (uint32_t)t->st_out.octets;
        if (i == 0)
            sr.report_count = fill_blocks(p, sr.reports);
        perc_rtcp_write_sr(w, &sr);
    }
}

int pp_rtcp_send(perc_participant *p, bool pli, uint32_t media_ssrc, bool bye)
{
    if (!p->outer_tx)
        return PERC_ERR_STATE;
    if (p->srtcp_index >= SRTCP_INDEX_LIMIT)
        return PERC_ERR_KEY_EXHAUSTED;
    pp_dgram *slot = pp_txq_tail(p);
    if (!slot)
        return PERC_ERR_LIMIT;
    perc_writer w;
    perc_writer_init(&w, slot->data, sizeof slot->data - PERC_SRTP_TAG_LEN - 4);
    write_reports(p, &w);
    /* RFC 3550 §6.1: every compound carries a CNAME. */
    perc_rtcp_sdes_writer sw;
    perc_rtcp_sdes_begin(&sw, &w);
    for (size_t i = 0; i < p->n_tx; i++) {
        perc_rtcp_sdes_add_chunk(&sw, p->tx[i].ssrc);
        perc_rtcp_sdes_add_item(&sw, PERC_RTCP_SDES_CNAME, (const uint8_t *)p->cfg.cname,
                                strlen(p->cfg.cname));
    }
    perc_rtcp_sdes_end(&sw);
    if (pli)
        perc_rtcp_write_pli(&w, p->tx[0].ssrc, media_ssrc);
    if (bye) {
        perc_rtcp_bye b;
        memset(&b, 0, sizeof b);
        for (size_t i = 0; i < p->n_tx; i++)
            b.ssrc[b.count++] = p->tx[i].ssrc;
        perc_rtcp_write_bye(&w, &b);
    }
    size_t n;
    int rc = perc_writer_finish(&w, &n);
    if (rc == PERC_OK)
        rc = perc_srtcp_seal(p->outer_tx, slot->data, n, sizeof slot->data, p->srtcp_index, true, &n);
    if (rc)
        return rc;
    slot->len = n;
    pp_txq_commit(p);
    p->srtcp_index++;
    p->stats.rtcp_sent++;
    return PERC_OK;
}

int perc_participant_send_pli(perc_participant *p, uint32_t media_ssrc, uint64_t now)
{
    if (!p)
        return PERC_ERR_INVALID_ARG;
    p->now = now;
    int rc = pp_rtcp_send(p, true, media_ssrc, false);
    if (rc == PERC_OK)
        p->stats.pli_sent++;
    return rc;
}

/* RFC 3711 §3.4: an SRTCP replay window per sending SSRC, entered only
 * after the packet authenticated. */
static int replay_check_commit(perc_participant *p, uint32_t ssrc, uint32_t index)
{
    if (!p->rtcp_replay) {
        p->rtcp_replay = calloc(p->cfg.max_remote_ssrcs, sizeof *p->rtcp_replay);
        if (!p->rtcp_replay)
            return PERC_ERR_NOMEM;
    }
    pp_rtcp_replay *e = NULL;
    for (size_t i = 0; i < p->n_rtcp_replay; i++)
        if (p->rtcp_replay[i].ssrc == ssrc)
            e = &p->rtcp_replay[i];
    if (!e) {
        if (p->n_rtcp_replay == p->cfg.max_remote_ssrcs)
            return PERC_ERR_LIMIT;
        e = &p->rtcp_replay[p->n_rtcp_replay++];
        e->ssrc = ssrc;
        perc_replay_init(&e->w);
    }
    int rc = perc_replay_check(&e->w, index);
    if (rc == PERC_OK)
        perc_replay_commit(&e->w, index);
    return rc;
}

static void feedback_event(perc_participant *p, uint32_t media_ssrc, uint32_t from, bool fir)
{
    pp_tx *t = pp_tx_find(p, media_ssrc);
    if (!t)
        return;
    /* RFC 8870 §4.6: the intra frame that answers this should carry a Full
     * field, so a receiver without our key can start decoding with it. */
    t->force_full = true;
    t->st_out.keyframe_requests++;
    perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_KEYFRAME_REQUEST,
                                 .ssrc = media_ssrc,
                                 .sender_ssrc = from,
                                 .fir = fir};
    pp_event(p, &ev);
}

static int handle_packet(perc_participant *p, const perc_rtcp_view *v)
{
    int rc = PERC_OK;
    switch (v->pt) {
    case PERC_RTCP_SR: {
        perc_rtcp_sr sr;
        if ((rc = perc_rtcp_parse_sr(v, &sr)))
            break;
        pp_remote *r = pp_remote_find(p, sr.ssrc);
        if (r) {
            r->has_sr = true;
            r->lsr = (uint32_t)(sr.ntp_timestamp >> 16);
            r->sr_at_ns = p->now;
            r->st.sr_received++;
        }
        break;
    }
    case PERC_RTCP_RR: {
        perc_rtcp_rr rr;
        rc = perc_rtcp_parse_rr(v, &rr);
        break;
    }
    case PERC_RTCP_SDES:
        rc = perc_rtcp_check_sdes(v);
        break;
    case PERC_RTCP_BYE: {
        perc_rtcp_bye b;
        if ((rc = perc_rtcp_parse_bye(v, &b)))
            break;
        for (uint8_t i = 0; i < b.count; i++) {
            pp_remote *r = pp_remote_find(p, b.ssrc[i]);
            if (r)
                r->st.bye_received++;
            perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_BYE, .ssrc = b.ssrc[i]};
            pp_event(p, &ev);
        }
        break;
    }
    case PERC_RTCP_RTPFB: {
        if (v->count != PERC_RTCP_FMT_NACK)
            break;
        perc_rtcp_nack nk;
        if ((rc = perc_rtcp_parse_nack(v, &nk)))
            break;
        pp_tx *t = pp_tx_find(p, nk.media_ssrc);
        if (!t)
            break;
        for (size_t i = 0; i < nk.count; i++) {
            perc_rtcp_nack_item it = perc_rtcp_nack_get(&nk, i);
            t->st_out.nacks++;
            perc_participant_event ev = {.type = PERC_PARTICIPANT_EV_NACK,
                                         .ssrc = nk.media_ssrc,
                                         .sender_ssrc = nk.sender_ssrc,
                                         .nack_pid = it.pid,
                                         .nack_blp = it.blp};
            pp_event(p, &ev);
        }
        break;
    }
    case PERC_RTCP_PSFB:
        if (v->count == PERC_RTCP_FMT_PLI) {
            perc_rtcp_pli pli;
            if ((rc = perc_rtcp_parse_pli(v, &pli)) == PERC_OK)
                feedback_event(p, pli.media_ssrc, pli.sender_ssrc, false);
        } else if (v->count == PERC_RTCP_FMT_FIR) {
            perc_rtcp_fir fir;
            if ((rc = perc_rtcp_parse_fir(v, &fir)) == PERC_OK)
                for (size_t i = 0; i < fir.count; i++)
                    feedback_event(p, perc_rtcp_fir_get(&fir, i).ssrc, fir.sender_ssrc, true);
        }
        break;
    default:
        break; /* APP, XR, other feedback: not ours to act on */
    }
    return rc;
}

int pp_rtcp_in(perc_participant *p, const uint8_t *data, size_t len)
{
    if (!p->rtcp_rx) {
        p->stats.rtcp_rejected++;
        return PERC_ERR_NO_KEY;
    }
    memcpy(p->work, data, len);
    uint32_t index;
    bool encrypted;
    size_t n;
    int rc = perc_srtcp_open(p->rtcp_rx, p->work, len, &index, &encrypted, &n);
    if (rc == PERC_OK)
        rc = replay_check_commit(p, perc_load_u32(p->work + 4), index);
    if (rc) {
        p->stats.rtcp_rejected++;
        return rc;
    }
    /* Reduced-size compounds (RFC 5506) are accepted: a Media Distributor
     * may forward a lone feedback packet. */
    perc_rtcp_iter it;
    perc_rtcp_iter_init(&it, p->work, n);
    perc_rtcp_view v;
    while ((rc = perc_rtcp_next(&it, &v)) == 1) {
        if ((rc = handle_packet(p, &v)))
            break;
    }
    if (rc < 0) {
        p->stats.rtcp_rejected++;
        return rc;
    }
    return PERC_OK;
}
