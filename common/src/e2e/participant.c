/* The participant core: configuration, lifecycle, RFC 7983 demultiplexing,
 * the three queues (datagrams out, frames in, events), timers and
 * statistics. Keys, sending, receiving and RTCP are in the sibling files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "participant_internal.h"
#include "perc/demux.h"
#include "perc/profile.h"
#include "perc/secret.h"

void perc_participant_config_init(perc_participant_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->profiles[0] = PERC_PROFILE_DOUBLE_AES_128_GCM;
    cfg->profiles[1] = PERC_PROFILE_DOUBLE_AES_256_GCM;
    cfg->n_profiles = 2;
    cfg->ekt_ciphers[0] = PERC_EKT_CIPHER_AESKW_128;
    cfg->ekt_ciphers[1] = PERC_EKT_CIPHER_AESKW_256;
    cfg->n_ekt_ciphers = 2;
    snprintf(cfg->cname, sizeof cfg->cname, "perc-participant");
    cfg->audio_level_id = 1;
    perc_ekt_tx_config_default(&cfg->ekt);
    cfg->rtcp_interval_ns = PERC_PARTICIPANT_DEFAULT_RTCP_INTERVAL_NS;
    cfg->pli_min_interval_ns = PERC_PARTICIPANT_DEFAULT_PLI_INTERVAL_NS;
    cfg->max_remote_ssrcs = PERC_PARTICIPANT_DEFAULT_MAX_REMOTE;
    cfg->tx_queue_len = PERC_PARTICIPANT_DEFAULT_QUEUE;
    cfg->rx_queue_len = PERC_PARTICIPANT_DEFAULT_QUEUE;
    cfg->event_queue_len = PERC_PARTICIPANT_DEFAULT_QUEUE;
    cfg->log_level = PERC_PARTICIPANT_LOG_INFO;
}

static bool tls_id_ok(size_t len)
{
    return len >= PERC_DTLS_TLS_ID_MIN && len <= PERC_DTLS_TLS_ID_MAX;
}

int perc_participant_config_set_tls_ids(perc_participant_config *cfg, const uint8_t *ours,
                                        size_t ours_len, const uint8_t *kmf, size_t kmf_len)
{
    if (!cfg || !ours || !kmf || !tls_id_ok(ours_len) || !tls_id_ok(kmf_len))
        return PERC_ERR_INVALID_ARG;
    memcpy(cfg->tls_id, ours, ours_len);
    cfg->tls_id_len = ours_len;
    memcpy(cfg->kmf_tls_id, kmf, kmf_len);
    cfg->kmf_tls_id_len = kmf_len;
    return PERC_OK;
}

int perc_participant_config_set_video_pt(perc_participant_config *cfg, uint8_t pt)
{
    if (!cfg || pt > 127)
        return PERC_ERR_INVALID_ARG;
    cfg->video_pt_mask[pt / 8] = (uint8_t)(cfg->video_pt_mask[pt / 8] | (1u << (pt % 8)));
    return PERC_OK;
}

static int check_config(const perc_participant_config *c)
{
    if (!c->dtls_ctx || !c->random || !tls_id_ok(c->tls_id_len) || !tls_id_ok(c->kmf_tls_id_len))
        return PERC_ERR_INVALID_ARG;
    if (c->n_ssrcs == 0 || c->n_ssrcs > PERC_PARTICIPANT_MAX_SSRCS)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < c->n_ssrcs; i++)
        for (size_t j = i + 1; j < c->n_ssrcs; j++)
            if (c->ssrcs[i] == c->ssrcs[j])
                return PERC_ERR_INVALID_ARG;
    if (c->audio_level_id < 1 || c->audio_level_id > 14)
        return PERC_ERR_INVALID_ARG;
    if (c->rtcp_interval_ns == 0 || c->max_remote_ssrcs == 0 || c->tx_queue_len == 0 ||
        c->rx_queue_len == 0 || c->event_queue_len == 0)
        return PERC_ERR_INVALID_ARG;
    if (memchr(c->cname, '\0', sizeof c->cname) == NULL)
        return PERC_ERR_INVALID_ARG;
    return PERC_OK;
}

int perc_participant_new(const perc_participant_config *cfg, perc_participant **out)
{
    if (!cfg || !out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    int rc = check_config(cfg);
    if (rc)
        return rc;
    rc = PERC_ERR_NOMEM;
    perc_participant *p = calloc(1, sizeof *p);
    if (!p)
        goto fail;
    p->cfg = *cfg;
    p->remotes = calloc(cfg->max_remote_ssrcs, sizeof *p->remotes);
    p->txq = calloc(cfg->tx_queue_len, sizeof *p->txq);
    p->rxq = calloc(cfg->rx_queue_len, sizeof *p->rxq);
    p->evq = calloc(cfg->event_queue_len, sizeof *p->evq);
    if (!p->remotes || !p->txq || !p->rxq || !p->evq)
        goto fail;
    for (size_t i = 0; i < cfg->n_ssrcs; i++) {
        pp_tx *t = &p->tx[p->n_tx++];
        t->ssrc = cfg->ssrcs[i];
        t->st_out.ssrc = t->ssrc;
        if ((rc = perc_ekt_tx_new(&cfg->ekt, t->ssrc, &t->ekt)))
            goto fail;
        /* RFC 3550 §5.1: the initial SEQ is random. */
        uint8_t r[2];
        if (cfg->random(cfg->random_user, r, sizeof r) != 0) {
            rc = PERC_ERR_RANDOM;
            goto fail;
        }
        t->next_seq = (uint16_t)((r[0] << 8) | r[1]);
    }
    if ((rc = pp_dtls_new(p)))
        goto fail;
    *out = p;
    return PERC_OK;
fail:
    perc_participant_free(p);
    return rc;
}

void perc_participant_free(perc_participant *p)
{
    if (!p)
        return;
    perc_dtls_free(p->dtls);
    pp_keys_wipe(p);
    if (p->remotes)
        perc_wipe(p->remotes, p->cfg.max_remote_ssrcs * sizeof *p->remotes);
    free(p->remotes);
    free(p->rtcp_replay);
    /* Frames hold decrypted media: wiped like keys. */
    if (p->rxq)
        perc_wipe(p->rxq, p->cfg.rx_queue_len * sizeof *p->rxq);
    free(p->rxq);
    free(p->txq);
    free(p->evq);
    perc_wipe(p->work, sizeof p->work);
    free(p);
}

int perc_participant_start(perc_participant *p, uint64_t now)
{
    if (!p)
        return PERC_ERR_INVALID_ARG;
    if (p->state != PERC_PARTICIPANT_IDLE)
        return PERC_ERR_STATE;
    p->now = now;
    int rc = perc_dtls_start(p->dtls, now);
    if (rc)
        return rc;
    p->state = PERC_PARTICIPANT_HANDSHAKING;
    return PERC_OK;
}

perc_participant_state perc_participant_get_state(const perc_participant *p)
{
    return p ? p->state : PERC_PARTICIPANT_FAILED;
}

/* ---- helpers shared by the other files ---------------------------------- */

void pp_log(perc_participant *p, perc_participant_log_level level, const char *fmt, ...)
{
    if (!p->cfg.log || level < p->cfg.log_level)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->cfg.log(p->cfg.log_user, level, line);
}

void pp_event(perc_participant *p, const perc_participant_event *ev)
{
    if (p->evq_count == p->cfg.event_queue_len) {
        p->stats.events_dropped++;
        return;
    }
    p->evq[(p->evq_head + p->evq_count) % p->cfg.event_queue_len] = *ev;
    p->evq_count++;
}

pp_dgram *pp_txq_tail(perc_participant *p)
{
    if (p->txq_count == p->cfg.tx_queue_len)
        return NULL;
    return &p->txq[(p->txq_head + p->txq_count) % p->cfg.tx_queue_len];
}

void pp_txq_commit(perc_participant *p) { p->txq_count++; }

perc_participant_frame *pp_rxq_tail(perc_participant *p)
{
    if (p->rxq_count == p->cfg.rx_queue_len)
        return NULL;
    return &p->rxq[(p->rxq_head + p->rxq_count) % p->cfg.rx_queue_len];
}

void pp_rxq_commit(perc_participant *p) { p->rxq_count++; }

pp_tx *pp_tx_find(perc_participant *p, uint32_t ssrc)
{
    for (size_t i = 0; i < p->n_tx; i++)
        if (p->tx[i].ssrc == ssrc)
            return &p->tx[i];
    return NULL;
}

pp_remote *pp_remote_find(perc_participant *p, uint32_t ssrc)
{
    for (size_t i = 0; i < p->n_remotes; i++)
        if (p->remotes[i].ssrc == ssrc)
            return &p->remotes[i];
    return NULL;
}

pp_remote *pp_remote_get(perc_participant *p, uint32_t ssrc)
{
    pp_remote *r = pp_remote_find(p, ssrc);
    if (r)
        return r;
    if (p->n_remotes == p->cfg.max_remote_ssrcs) {
        p->stats.remotes_untracked++;
        return NULL;
    }
    r = &p->remotes[p->n_remotes++];
    memset(r, 0, sizeof *r);
    r->ssrc = ssrc;
    r->st.ssrc = ssrc;
    return r;
}

void pp_reject(perc_participant *p, pp_remote *r, perc_participant_reject why)
{
    p->stats.rejected[why]++;
    if (r)
        r->st.rejected[why]++;
}

/* ---- datagrams ---------------------------------------------------------- */

int perc_participant_recv(perc_participant *p, const uint8_t *data, size_t len, uint64_t now)
{
    if (!p || !data || len == 0 || len > PERC_PARTICIPANT_MAX_DATAGRAM)
        return PERC_ERR_INVALID_ARG;
    p->now = now;
    p->stats.datagrams_in++;
    /* RFC 7983 §7: the first octet tells DTLS from RTP/RTCP; RFC 5761 §4
     * tells RTCP from RTP by the second. */
    perc_demux_class kind = perc_demux_classify(data, len);
    switch (kind) {
    case PERC_DEMUX_DTLS:
        p->stats.dtls_in++;
        if (p->state == PERC_PARTICIPANT_IDLE || p->state == PERC_PARTICIPANT_FAILED ||
            p->state == PERC_PARTICIPANT_CLOSED)
            return PERC_ERR_STATE;
        return perc_dtls_recv(p->dtls, data, len, now);
    case PERC_DEMUX_RTP:
        p->stats.rtp_in++;
        break;
    case PERC_DEMUX_RTCP:
        p->stats.rtcp_in++;
        break;
    default:
        p->stats.other_in++;
        return PERC_ERR_UNSUPPORTED;
    }
    /* Media still in flight when our association ended (we closed or the
     * KMF did) meets wiped keys. It says nothing about its sender, so it
     * is not counted as that sender's rejection. */
    if (p->state == PERC_PARTICIPANT_CLOSED || p->state == PERC_PARTICIPANT_FAILED) {
        p->stats.after_close++;
        return PERC_ERR_STATE;
    }
    return kind == PERC_DEMUX_RTCP ? pp_rtcp_in(p, data, len) : pp_rtp_in(p, data, len);
}

int perc_participant_pop_datagram(perc_participant *p, uint8_t *buf, size_t cap, size_t *len)
{
    if (!p || !buf || !len)
        return PERC_ERR_INVALID_ARG;
    *len = 0;
    int rc = perc_dtls_pull(p->dtls, buf, cap, len);
    if (rc)
        return rc;
    if (*len == 0 && p->txq_count > 0) {
        pp_dgram *d = &p->txq[p->txq_head];
        if (cap < d->len)
            return PERC_ERR_NOSPACE;
        memcpy(buf, d->data, d->len);
        *len = d->len;
        p->txq_head = (p->txq_head + 1) % p->cfg.tx_queue_len;
        p->txq_count--;
    }
    if (*len)
        p->stats.datagrams_out++;
    return PERC_OK;
}

/* ---- timers ------------------------------------------------------------- */

uint64_t perc_participant_next_timeout(const perc_participant *p)
{
    if (!p)
        return UINT64_MAX;
    uint64_t t = UINT64_MAX;
    if (p->state == PERC_PARTICIPANT_HANDSHAKING || p->state == PERC_PARTICIPANT_WAITING_EKT ||
        p->state == PERC_PARTICIPANT_READY)
        t = perc_dtls_next_timeout(p->dtls);
    if ((p->state == PERC_PARTICIPANT_WAITING_EKT || p->state == PERC_PARTICIPANT_READY) &&
        p->rtcp_next_ns < t)
        t = p->rtcp_next_ns;
    return t;
}

int perc_participant_on_timeout(perc_participant *p, uint64_t now)
{
    if (!p)
        return PERC_ERR_INVALID_ARG;
    p->now = now;
    bool live = p->state == PERC_PARTICIPANT_HANDSHAKING ||
                p->state == PERC_PARTICIPANT_WAITING_EKT || p->state == PERC_PARTICIPANT_READY;
    if (live && perc_dtls_next_timeout(p->dtls) <= now) {
        int rc = perc_dtls_on_timeout(p->dtls, now);
        if (rc && rc != PERC_ERR_STATE)
            return rc;
    }
    if ((p->state == PERC_PARTICIPANT_WAITING_EKT || p->state == PERC_PARTICIPANT_READY) &&
        p->rtcp_next_ns <= now) {
        /* A fixed interval from the last deadline, not from now, so a late
         * caller does not drift; after a long sleep it starts over. */
        p->rtcp_next_ns += p->cfg.rtcp_interval_ns;
        if (p->rtcp_next_ns <= now)
            p->rtcp_next_ns = now + p->cfg.rtcp_interval_ns;
        if (pp_rtcp_send(p, false, 0, false) != PERC_OK)
            p->stats.tx_dropped++;
    }
    return PERC_OK;
}

int perc_participant_close(perc_participant *p, uint64_t now)
{
    if (!p)
        return PERC_ERR_INVALID_ARG;
    if (p->state == PERC_PARTICIPANT_IDLE || p->state == PERC_PARTICIPANT_FAILED ||
        p->state == PERC_PARTICIPANT_CLOSED)
        return PERC_ERR_STATE;
    p->now = now;
    /* RFC 3550 §6.6: a BYE for our SSRCs while the hop key still exists. */
    if (p->outer_tx && pp_rtcp_send(p, false, 0, true) != PERC_OK)
        p->stats.tx_dropped++;
    int rc = perc_dtls_close(p->dtls, now);
    p->state = PERC_PARTICIPANT_CLOSED;
    pp_keys_wipe(p);
    return rc == PERC_ERR_STATE ? PERC_OK : rc;
}

/* ---- output to the caller ----------------------------------------------- */

int perc_participant_pop_frame(perc_participant *p, perc_participant_frame *out)
{
    if (!p || !out)
        return PERC_ERR_INVALID_ARG;
    if (p->rxq_count == 0)
        return PERC_ERR_NOT_FOUND;
    perc_participant_frame *f = &p->rxq[p->rxq_head];
    memcpy(out, f, offsetof(perc_participant_frame, payload) + f->payload_len);
    perc_wipe(f->payload, f->payload_len);
    p->rxq_head = (p->rxq_head + 1) % p->cfg.rx_queue_len;
    p->rxq_count--;
    return PERC_OK;
}

int perc_participant_pop_event(perc_participant *p, perc_participant_event *out)
{
    if (!p || !out)
        return PERC_ERR_INVALID_ARG;
    if (p->evq_count == 0)
        return PERC_ERR_NOT_FOUND;
    *out = p->evq[p->evq_head];
    p->evq_head = (p->evq_head + 1) % p->cfg.event_queue_len;
    p->evq_count--;
    return PERC_OK;
}

/* ---- statistics --------------------------------------------------------- */

const char *perc_participant_reject_name(perc_participant_reject r)
{
    switch (r) {
    case PERC_PARTICIPANT_REJECT_OUTER_AUTH: return "outer_auth";
    case PERC_PARTICIPANT_REJECT_INNER_AUTH: return "inner_auth";
    case PERC_PARTICIPANT_REJECT_NO_KEY: return "no_key";
    case PERC_PARTICIPANT_REJECT_REPLAY: return "replay";
    case PERC_PARTICIPANT_REJECT_EKT: return "ekt";
    case PERC_PARTICIPANT_REJECT_MALFORMED: return "malformed";
    case PERC_PARTICIPANT_REJECT_OTHER: return "other";
    case PERC_PARTICIPANT_REJECT_COUNT: break;
    }
    return "unknown";
}

void perc_participant_get_stats(const perc_participant *p, perc_participant_stats *out)
{
    if (!p || !out)
        return;
    *out = p->stats;
    out->state = p->state;
    out->profile = p->profile;
    out->ekt_cipher = p->ekt_cipher;
    out->has_ekt_key = p->has_params;
    out->spi = p->has_params ? p->params.spi : 0;
}

int perc_participant_remote_stats_get(const perc_participant *p, uint32_t ssrc,
                                      perc_participant_remote_stats *out)
{
    if (!p || !out)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < p->n_remotes; i++) {
        if (p->remotes[i].ssrc == ssrc) {
            *out = p->remotes[i].st;
            return PERC_OK;
        }
    }
    return PERC_ERR_NOT_FOUND;
}

int perc_participant_send_stats_get(const perc_participant *p, uint32_t ssrc,
                                    perc_participant_send_stats *out)
{
    if (!p || !out)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < p->n_tx; i++) {
        if (p->tx[i].ssrc == ssrc) {
            *out = p->tx[i].st_out;
            return PERC_OK;
        }
    }
    return PERC_ERR_NOT_FOUND;
}

size_t perc_participant_remote_ssrcs(const perc_participant *p, uint32_t *out, size_t cap)
{
    if (!p)
        return 0;
    for (size_t i = 0; i < p->n_remotes && i < cap && out; i++)
        out[i] = p->remotes[i].ssrc;
    return p->n_remotes;
}
