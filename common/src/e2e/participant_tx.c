/* The participant's media sender: RTP packet, double protection (RFC 8723
 * §5.1) and the EKT field of the RFC 8870 §4.3.1 schedule. */
#include <string.h>

#include "participant_internal.h"
#include "perc/bytes.h"
#include "perc/double.h"
#include "perc/ekt_field.h"

void pp_tx_free(pp_tx *t)
{
    perc_srtp_session_free(t->inner_cur);
    perc_srtp_session_free(t->inner_old);
    t->inner_cur = NULL;
    t->inner_old = NULL;
    t->old_active = false;
    t->has_key = false;
}

/* Writes the plain RTP packet into buf. */
static int build_rtp(const perc_participant *p, const pp_tx *t, uint8_t pt, uint32_t timestamp,
                     bool marker, const uint8_t *payload, size_t len,
                     const perc_audio_level *level, uint8_t *buf, size_t cap, size_t *out_len)
{
    perc_rtp_header h;
    memset(&h, 0, sizeof h);
    h.payload_type = pt;
    h.marker = marker;
    h.seq = t->next_seq;
    h.timestamp = timestamp;
    h.ssrc = t->ssrc;
    uint8_t ext[8];
    if (level) {
        /* RFC 6464 §3 in the RFC 8285 one-byte form: V in the top bit,
         * the level in -dBov below it. RFC 8723 §5.1 step 1 wants RFC 8285
         * extensions; they are outside the inner layer (hop-by-hop only). */
        perc_rtp_ext_builder b;
        uint8_t v = (uint8_t)((level->voice ? 0x80 : 0) | level->level);
        perc_rtp_ext_builder_init(&b, ext, sizeof ext, false);
        perc_rtp_ext_add(&b, p->cfg.audio_level_id, &v, 1);
        int rc = perc_rtp_ext_finish(&b, &h.ext_data, &h.ext_profile);
        if (rc)
            return rc;
        h.extension = true;
    }
    perc_writer w;
    perc_writer_init(&w, buf, cap);
    perc_rtp_write(&w, &h, payload, len, 0);
    return perc_writer_finish(&w, out_len);
}

int perc_participant_send_rtp(perc_participant *p, uint32_t ssrc, uint8_t pt, uint32_t timestamp,
                              bool marker, const uint8_t *payload, size_t len,
                              const perc_audio_level *level, uint64_t now)
{
    if (!p || (!payload && len) || pt > 127 || (level && level->level > 127))
        return PERC_ERR_INVALID_ARG;
    if (len > PERC_PARTICIPANT_MAX_PAYLOAD)
        return PERC_ERR_TOO_LARGE;
    if (p->state != PERC_PARTICIPANT_READY || !p->outer_tx)
        return PERC_ERR_STATE;
    pp_tx *t = pp_tx_find(p, ssrc);
    if (!t)
        return PERC_ERR_NOT_FOUND;
    p->now = now;
    int rc;
    if (t->key_owed && (rc = pp_tx_make_key(p, t)))
        return rc;
    if (!t->has_key)
        return PERC_ERR_STATE;
    pp_dgram *slot = pp_txq_tail(p);
    if (!slot)
        return PERC_ERR_LIMIT;

    size_t n;
    if ((rc = build_rtp(p, t, pt, timestamp, marker, payload, len, level, slot->data,
                        sizeof slot->data, &n)))
        return rc;
    /* Both layers' ROC follow the same SEQ at the origin (RFC 8723 §3);
     * work on a copy so a failure leaves the stream where it was. */
    perc_srtp_tx_state next = t->st;
    uint32_t roc = perc_srtp_tx_roc(&next, t->next_seq);
    if (next.roc < t->st.roc)
        return PERC_ERR_KEY_EXHAUSTED; /* the 48-bit index would wrap */

    uint8_t field[PERC_EKT_FULL_MAX_LEN];
    perc_ekt_tx_packet pk;
    if ((rc = perc_ekt_tx_next(t->ekt, roc, t->force_full, now, field, sizeof field, &pk)))
        return rc;
    /* RFC 8870 §4.3.1: during the key-change delay the previous key still
     * encrypts while the Full fields already carry the new one. */
    perc_srtp_session *inner = pk.use_old_key ? t->inner_old : t->inner_cur;
    if (!pk.use_old_key && t->old_active) {
        perc_srtp_session_free(t->inner_old);
        t->inner_old = NULL;
        t->old_active = false;
    }
    if (!inner)
        return PERC_ERR_STATE;
    if ((rc = perc_double_protect(inner, roc, p->outer_tx, roc, slot->data, n, sizeof slot->data,
                                  &n)) ||
        (rc = perc_ekt_field_append(slot->data, n, sizeof slot->data, field, pk.field_len, &n)))
        return rc;

    slot->len = n;
    pp_txq_commit(p);
    t->st = next;
    t->next_seq++;
    t->force_full = false;
    t->has_sent = true;
    t->last_ts = timestamp;
    t->last_sent_ns = now;
    t->st_out.packets++;
    t->st_out.octets += len;
    t->st_out.full_fields += pk.full;
    t->st_out.old_key_packets += pk.use_old_key;
    t->st_out.spi = pk.spi;
    t->st_out.epoch = pk.epoch;
    p->stats.rtp_sent++;
    return PERC_OK;
}

int perc_participant_announce_keys(perc_participant *p)
{
    if (!p)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < p->n_tx; i++)
        p->tx[i].force_full = true;
    return PERC_OK;
}
