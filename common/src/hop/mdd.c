/* Media Distributor forwarding core: see perc/mdd.h. */
#include "perc/mdd.h"

#include <stdlib.h>
#include <string.h>

#include "perc/double.h"
#include "perc/ekt_field.h"
#include "perc/profile.h"
#include "perc/rtcp.h"
#include "perc/rtp.h"
#include "perc/secret.h"
#include "perc/srtp.h"
#include "perc/srtp_stream.h"
#include "srtp_session.h"

#define MDD_BOUND_MAX 65536u
/* Room for a packet plus the growth of one forward (outer tag, OHB). */
#define MDD_SLOT (PERC_MDD_MAX_PACKET + PERC_SRTP_TAG_LEN + 8)

typedef struct mdd_rx_stream {      /* per (sender E, SSRC) */
    bool used;
    uint32_t ssrc;
    perc_srtp_rx_state st;
} mdd_rx_stream;

typedef struct mdd_rtcp_rx {        /* SRTCP replay per (E, sender SSRC) */
    bool used;
    uint32_t ssrc;
    perc_replay_window w;
} mdd_rtcp_rx;

typedef struct mdd_tx_stream {      /* per (receiver R, SSRC) */
    bool used;
    bool paused;                    /* last packet of the SSRC was not forwarded to R */
    uint32_t ssrc;
    uint16_t offset;                /* out SEQ = in SEQ + offset */
    uint16_t prev_offset;           /* the offset before the last resume */
    uint16_t offset_from;           /* first out SEQ sent with `offset` */
    uint16_t last_out;
    perc_srtp_tx_state st;
} mdd_tx_stream;

typedef struct mdd_endpoint {
    bool used;
    bool link;                      /* a cascade link to another MD */
    uint32_t group;                 /* its conference: media stays inside one */
    bool keys_new;                  /* keys just installed: liveness starts now */
    uint64_t handle;
    uint64_t last_seen;
    perc_srtp_session *rx;          /* client_write: endpoint -> MD */
    perc_srtp_session *tx;          /* server_write: MD -> endpoint */
    uint32_t rtcp_index;            /* next SRTCP index sent to this endpoint */
    mdd_rx_stream *rxs;
    mdd_rtcp_rx *rtcp;
    mdd_tx_stream *txs;
    /* last-N */
    bool selected;
    uint8_t loudness;               /* 127 - RFC 6464 level; 0 when silent */
    bool louder_pending;
    uint64_t louder_since;
    perc_mdd_stats stats;
} mdd_endpoint;

typedef struct mdd_slot {
    uint64_t handle;
    size_t len;
    uint8_t data[MDD_SLOT];
} mdd_slot;

struct perc_mdd {
    perc_mdd_config cfg;
    mdd_endpoint *eps;
    mdd_slot *q;
    size_t q_head, q_count;
    perc_mdd_event *ev;
    size_t ev_head, ev_count;
    uint8_t work[MDD_SLOT];
    uint8_t ekt[PERC_EKT_FIELD_MAX_LEN];
};

/* ---- tables ------------------------------------------------------------- */

static mdd_endpoint *ep_find(const perc_mdd *m, uint64_t handle)
{
    for (size_t i = 0; i < m->cfg.max_endpoints; i++)
        if (m->eps[i].used && m->eps[i].handle == handle)
            return &m->eps[i];
    return NULL;
}

static void ep_clear(perc_mdd *m, mdd_endpoint *e)
{
    perc_srtp_session_free(e->rx);
    perc_srtp_session_free(e->tx);
    e->rx = e->tx = NULL;
    mdd_rx_stream *rxs = e->rxs;
    mdd_rtcp_rx *rtcp = e->rtcp;
    mdd_tx_stream *txs = e->txs;
    memset(rxs, 0, m->cfg.max_ssrcs * sizeof *rxs);
    memset(rtcp, 0, m->cfg.max_ssrcs * sizeof *rtcp);
    memset(txs, 0, m->cfg.max_ssrcs * sizeof *txs);
    memset(e, 0, sizeof *e);
    e->rxs = rxs;
    e->rtcp = rtcp;
    e->txs = txs;
}

static mdd_rx_stream *rx_find(const perc_mdd *m, const mdd_endpoint *e, uint32_t ssrc)
{
    for (size_t i = 0; i < m->cfg.max_ssrcs; i++)
        if (e->rxs[i].used && e->rxs[i].ssrc == ssrc)
            return &e->rxs[i];
    return NULL;
}

static mdd_tx_stream *tx_find(const perc_mdd *m, const mdd_endpoint *e, uint32_t ssrc, bool create)
{
    mdd_tx_stream *free_slot = NULL;
    for (size_t i = 0; i < m->cfg.max_ssrcs; i++) {
        if (e->txs[i].used && e->txs[i].ssrc == ssrc)
            return &e->txs[i];
        if (!e->txs[i].used && !free_slot)
            free_slot = &e->txs[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    free_slot->ssrc = ssrc;
    perc_srtp_tx_init(&free_slot->st, 0);
    return free_slot;
}

/* The endpoint of conference `group` whose media SSRCs include ssrc (NULL
 * if none). SSRCs are unique within a conference only (RFC 3550 §8). */
static mdd_endpoint *ssrc_owner(const perc_mdd *m, uint32_t group, uint32_t ssrc)
{
    for (size_t i = 0; i < m->cfg.max_endpoints; i++)
        if (m->eps[i].used && m->eps[i].group == group && rx_find(m, &m->eps[i], ssrc))
            return &m->eps[i];
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------- */

int perc_mdd_new(const perc_mdd_config *cfg, perc_mdd **out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    *out = NULL;
    perc_mdd_config c = {0};
    if (cfg)
        c = *cfg;
    if (!c.max_endpoints)
        c.max_endpoints = PERC_MDD_DEFAULT_MAX_ENDPOINTS;
    if (!c.max_ssrcs)
        c.max_ssrcs = PERC_MDD_DEFAULT_MAX_SSRCS;
    if (!c.queue_len)
        c.queue_len = PERC_MDD_DEFAULT_QUEUE;
    if (!c.timeout_ns)
        c.timeout_ns = PERC_MDD_DEFAULT_TIMEOUT_NS;
    if (!c.hold_ns)
        c.hold_ns = PERC_MDD_DEFAULT_HOLD_NS;
    if (c.max_endpoints > MDD_BOUND_MAX || c.max_ssrcs > MDD_BOUND_MAX ||
        c.queue_len > MDD_BOUND_MAX || c.last_n > MDD_BOUND_MAX)
        return PERC_ERR_INVALID_ARG;
    perc_mdd *m = calloc(1, sizeof *m);
    if (!m)
        return PERC_ERR_NOMEM;
    m->cfg = c;
    m->eps = calloc(c.max_endpoints, sizeof *m->eps);
    m->q = calloc(c.queue_len, sizeof *m->q);
    m->ev = calloc(c.max_endpoints, sizeof *m->ev);
    if (!m->eps || !m->q || !m->ev)
        goto nomem;
    for (size_t i = 0; i < c.max_endpoints; i++) {
        m->eps[i].rxs = calloc(c.max_ssrcs, sizeof *m->eps[i].rxs);
        m->eps[i].rtcp = calloc(c.max_ssrcs, sizeof *m->eps[i].rtcp);
        m->eps[i].txs = calloc(c.max_ssrcs, sizeof *m->eps[i].txs);
        if (!m->eps[i].rxs || !m->eps[i].rtcp || !m->eps[i].txs)
            goto nomem;
    }
    *out = m;
    return PERC_OK;
nomem:
    perc_mdd_free(m);
    return PERC_ERR_NOMEM;
}

void perc_mdd_free(perc_mdd *m)
{
    if (!m)
        return;
    if (m->eps) {
        for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
            perc_srtp_session_free(m->eps[i].rx);
            perc_srtp_session_free(m->eps[i].tx);
            free(m->eps[i].rxs);
            free(m->eps[i].rtcp);
            free(m->eps[i].txs);
        }
        free(m->eps);
    }
    free(m->q);
    free(m->ev);
    perc_wipe(m->work, sizeof m->work);
    free(m);
}

int perc_mdd_endpoint_add(perc_mdd *m, uint64_t handle, uint64_t now)
{
    if (!m)
        return PERC_ERR_INVALID_ARG;
    if (ep_find(m, handle))
        return PERC_ERR_STATE;
    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        mdd_endpoint *e = &m->eps[i];
        if (!e->used) {
            ep_clear(m, e);
            e->used = true;
            e->handle = handle;
            e->last_seen = now;
            return PERC_OK;
        }
    }
    return PERC_ERR_LIMIT;
}

int perc_mdd_endpoint_set_group(perc_mdd *m, uint64_t handle, uint32_t group)
{
    if (!m)
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    bool has_streams = e->selected;
    for (size_t i = 0; i < m->cfg.max_ssrcs && !has_streams; i++)
        has_streams = e->rxs[i].used;
    if (e->group != group && has_streams)
        return PERC_ERR_STATE; /* its streams and selection belong to the old conference */
    e->group = group;
    return PERC_OK;
}

int perc_mdd_link_add(perc_mdd *m, uint64_t handle, uint64_t now)
{
    int rc = perc_mdd_endpoint_add(m, handle, now);
    mdd_endpoint *e = rc == PERC_OK ? ep_find(m, handle) : NULL;
    if (e)
        e->link = true;
    return rc;
}

/* Drops queued packets for handle, keeping the order of the others. */
static void queue_purge(perc_mdd *m, uint64_t handle)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->q_count; i++) {
        mdd_slot *s = &m->q[(m->q_head + i) % m->cfg.queue_len];
        if (s->handle == handle)
            continue;
        mdd_slot *d = &m->q[(m->q_head + kept) % m->cfg.queue_len];
        if (d != s)
            memcpy(d, s, sizeof *d);
        kept++;
    }
    m->q_count = kept;
}

static void ep_remove(perc_mdd *m, mdd_endpoint *e)
{
    /* Forget the outgoing state others hold for the SSRCs it sent. */
    for (size_t s = 0; s < m->cfg.max_ssrcs; s++) {
        if (!e->rxs[s].used)
            continue;
        for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
            if (!m->eps[i].used || &m->eps[i] == e)
                continue;
            mdd_tx_stream *t = tx_find(m, &m->eps[i], e->rxs[s].ssrc, false);
            if (t)
                memset(t, 0, sizeof *t);
        }
    }
    queue_purge(m, e->handle);
    ep_clear(m, e);
}

int perc_mdd_endpoint_remove(perc_mdd *m, uint64_t handle)
{
    if (!m)
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    ep_remove(m, e);
    return PERC_OK;
}

static int session_from(perc_srtp_cipher cipher, const uint8_t *key, size_t key_len,
                        const uint8_t *salt, size_t salt_len, perc_srtp_session **out)
{
    if (key_len != perc_cipher_key_len(cipher) || salt_len != PERC_SRTP_SALT_LEN)
        return PERC_ERR_KEY_LENGTH;
    perc_srtp_session_keys keys;
    int rc = perc_srtp_kdf(cipher, key, key_len, salt, salt_len, &keys);
    if (rc == PERC_OK)
        rc = perc_srtp_session_new(&keys, out);
    perc_srtp_keys_wipe(&keys);
    return rc;
}

/* The receive and send sessions of a slot from their master keys; the old
 * ones stay on any error. Equal keys in both directions are refused: an
 * outgoing hop must never use the incoming hop's key (RFC 8723 §5.2). */
static int install_sessions(mdd_endpoint *e, perc_srtp_cipher cipher, const uint8_t *rx_key,
                            size_t rx_key_len, const uint8_t *rx_salt, size_t rx_salt_len,
                            const uint8_t *tx_key, size_t tx_key_len, const uint8_t *tx_salt,
                            size_t tx_salt_len)
{
    perc_srtp_session *rx = NULL, *tx = NULL;
    int rc = session_from(cipher, rx_key, rx_key_len, rx_salt, rx_salt_len, &rx);
    if (rc == PERC_OK)
        rc = session_from(cipher, tx_key, tx_key_len, tx_salt, tx_salt_len, &tx);
    if (rc == PERC_OK && perc_srtp_session_same_key(rx, tx))
        rc = PERC_ERR_INVALID_ARG;
    if (rc != PERC_OK) {
        perc_srtp_session_free(rx);
        perc_srtp_session_free(tx);
        return rc;
    }
    perc_srtp_session_free(e->rx);
    perc_srtp_session_free(e->tx);
    if (!e->rx)
        e->keys_new = true;
    e->rx = rx;
    e->tx = tx;
    return PERC_OK;
}

int perc_mdd_endpoint_set_keys(perc_mdd *m, uint64_t handle, uint16_t profile,
                               const uint8_t *client_key, size_t client_key_len,
                               const uint8_t *client_salt, size_t client_salt_len,
                               const uint8_t *server_key, size_t server_key_len,
                               const uint8_t *server_salt, size_t server_salt_len)
{
    if (!m || !client_key || !client_salt || !server_key || !server_salt)
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    const perc_profile_info *info = perc_profile_lookup(profile);
    if (!info || !info->is_double)
        return PERC_ERR_UNSUPPORTED;
    return install_sessions(e, info->cipher, client_key, client_key_len, client_salt,
                            client_salt_len, server_key, server_key_len, server_salt,
                            server_salt_len);
}

int perc_mdd_link_set_keys(perc_mdd *m, uint64_t handle, uint16_t profile, const uint8_t *rx_key,
                           size_t rx_key_len, const uint8_t *rx_salt, size_t rx_salt_len,
                           const uint8_t *tx_key, size_t tx_key_len, const uint8_t *tx_salt,
                           size_t tx_salt_len)
{
    if (!m || !rx_key || !rx_salt || !tx_key || !tx_salt)
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    if (!e->link)
        return PERC_ERR_STATE;
    /* The link carries the outer layer only: a plain AEAD profile (RFC
     * 7714), never a double one (RFC 8871 §4.5.1 leaves the KMF out). */
    const perc_profile_info *info = perc_profile_lookup(profile);
    if (!info || info->is_double)
        return PERC_ERR_UNSUPPORTED;
    return install_sessions(e, info->cipher, rx_key, rx_key_len, rx_salt, rx_salt_len, tx_key,
                            tx_key_len, tx_salt, tx_salt_len);
}

/* ---- output ------------------------------------------------------------- */

/* A free slot at the tail, or NULL when the queue is full. */
static mdd_slot *queue_tail(perc_mdd *m)
{
    if (m->q_count == m->cfg.queue_len)
        return NULL;
    return &m->q[(m->q_head + m->q_count) % m->cfg.queue_len];
}

int perc_mdd_pop(perc_mdd *m, uint64_t *handle, uint8_t *buf, size_t cap, size_t *len)
{
    if (!m || !handle || !buf || !len)
        return PERC_ERR_INVALID_ARG;
    if (!m->q_count)
        return PERC_ERR_NOT_FOUND;
    mdd_slot *s = &m->q[m->q_head];
    *len = s->len;
    if (cap < s->len)
        return PERC_ERR_NOSPACE;
    memcpy(buf, s->data, s->len);
    *handle = s->handle;
    m->q_head = (m->q_head + 1) % m->cfg.queue_len;
    m->q_count--;
    return PERC_OK;
}

int perc_mdd_pop_event(perc_mdd *m, perc_mdd_event *ev)
{
    if (!m || !ev)
        return PERC_ERR_INVALID_ARG;
    if (!m->ev_count)
        return PERC_ERR_NOT_FOUND;
    *ev = m->ev[m->ev_head];
    m->ev_head = (m->ev_head + 1) % m->cfg.max_endpoints;
    m->ev_count--;
    return PERC_OK;
}

/* ---- liveness and stats --------------------------------------------------- */

int perc_mdd_next_timeout(const perc_mdd *m, uint64_t *deadline)
{
    if (!m || !deadline)
        return PERC_ERR_INVALID_ARG;
    bool any = false;
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        const mdd_endpoint *e = &m->eps[i];
        /* Links end with unlink, not by silence; an endpoint without keys
         * is still doing DTLS through us (slow under loss): signaling's
         * own join timeout covers one that never gets there. */
        if (!e->used || e->link || !e->rx)
            continue;
        /* Keys just arrived: the next on_timeout starts the clock. */
        uint64_t d = e->keys_new ? 0
                     : e->last_seen > UINT64_MAX - m->cfg.timeout_ns
                         ? UINT64_MAX
                         : e->last_seen + m->cfg.timeout_ns;
        if (d < best)
            best = d;
        any = true;
    }
    if (!any)
        return PERC_ERR_NOT_FOUND;
    *deadline = best;
    return PERC_OK;
}

int perc_mdd_on_timeout(perc_mdd *m, uint64_t now)
{
    if (!m)
        return PERC_ERR_INVALID_ARG;
    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        mdd_endpoint *e = &m->eps[i];
        if (e->used && e->keys_new) {
            e->keys_new = false;
            e->last_seen = now;
            continue;
        }
        if (!e->used || e->link || !e->rx || now < e->last_seen ||
            now - e->last_seen < m->cfg.timeout_ns)
            continue;
        if (m->ev_count == m->cfg.max_endpoints)
            break;
        m->ev[(m->ev_head + m->ev_count) % m->cfg.max_endpoints] =
            (perc_mdd_event){.type = PERC_MDD_EVENT_ENDPOINT_GONE, .handle = e->handle,
                             .stats = e->stats};
        m->ev_count++;
        ep_remove(m, e);
    }
    return PERC_OK;
}

int perc_mdd_stats_get(const perc_mdd *m, uint64_t handle, perc_mdd_stats *out)
{
    if (!m || !out)
        return PERC_ERR_INVALID_ARG;
    const mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    *out = e->stats;
    return PERC_OK;
}

int perc_mdd_is_selected(const perc_mdd *m, uint64_t handle, bool *selected)
{
    if (!m || !selected)
        return PERC_ERR_INVALID_ARG;
    const mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    *selected = m->cfg.last_n == 0 || e->selected;
    return PERC_OK;
}

/* ---- last-N ---------------------------------------------------------------- */

static void last_n_update(perc_mdd *m, mdd_endpoint *e, bool has_level, uint8_t loudness,
                          uint64_t now)
{
    if (!m->cfg.last_n)
        return;
    if (has_level)
        e->loudness = loudness;
    if (e->selected)
        return;
    size_t n_sel = 0;
    mdd_endpoint *quietest = NULL;
    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        mdd_endpoint *o = &m->eps[i];
        if (!o->used || !o->selected || o->group != e->group) /* last-N per conference */
            continue;
        n_sel++;
        if (!quietest || o->loudness < quietest->loudness)
            quietest = o;
    }
    if (n_sel < m->cfg.last_n) {
        e->selected = true;
        e->louder_pending = false;
        return;
    }
    if (!quietest || e->loudness <= quietest->loudness) {
        e->louder_pending = false;
        return;
    }
    if (!e->louder_pending) {
        e->louder_pending = true;
        e->louder_since = now;
    }
    if (now >= e->louder_since && now - e->louder_since >= m->cfg.hold_ns) {
        quietest->selected = false;
        e->selected = true;
        e->louder_pending = false;
    }
}

/* ---- SRTP ---------------------------------------------------------------- */

static int count_drop(mdd_endpoint *e, int rc)
{
    switch (rc) {
    case PERC_ERR_AUTH:
        e->stats.drop_auth++;
        break;
    case PERC_ERR_REPLAY:
    case PERC_ERR_REPLAY_OLD:
        e->stats.drop_replay++;
        break;
    case PERC_ERR_NO_KEY:
        e->stats.drop_no_keys++;
        break;
    case PERC_ERR_LIMIT:
    case PERC_ERR_NOSPACE:
        e->stats.drop_limit++;
        break;
    default:
        e->stats.drop_malformed++;
        break;
    }
    return rc;
}

/* Forwards the outer plaintext in m->work[0..len), whose header is lay,
 * to r. */
static void forward_to(perc_mdd *m, mdd_endpoint *src, mdd_endpoint *r,
                       const perc_srtp_layout *lay, size_t len, size_t ekt_len)
{
    uint32_t ssrc = lay->ssrc;
    uint16_t in_seq = lay->seq;
    mdd_slot *slot = queue_tail(m);
    mdd_tx_stream *t = tx_find(m, r, ssrc, true);
    if (!slot || !t || perc_srtp_session_same_key(src->rx, r->tx)) {
        src->stats.drop_limit++;
        return;
    }
    uint16_t out_seq;
    /* A new stream keeps the original SEQ (offset 0); after a pause the
     * SEQ continues where this receiver's sequence stopped. */
    if (t->paused) {
        t->prev_offset = t->offset;
        t->offset = (uint16_t)(t->last_out + 1u - in_seq);
        t->offset_from = (uint16_t)(t->last_out + 1u);
    }
    t->paused = false;
    out_seq = (uint16_t)(in_seq + t->offset);
    size_t n = len;
    /* The usual case (a stream never paused keeps its SEQ) encrypts
     * straight from the shared plaintext into the slot, one pass over the
     * payload; a renumbered copy is rewritten first, then sealed in place. */
    bool direct = out_seq == in_seq && !m->cfg.tamper;
    if (!direct) {
        memcpy(slot->data, m->work, len);
        perc_relay_change chg = {.set_seq = true, .seq = out_seq};
        if (out_seq != in_seq &&
            perc_double_rewrite(slot->data, len, sizeof slot->data, &chg, &n) != PERC_OK) {
            src->stats.drop_malformed++;
            return;
        }
        if (m->cfg.tamper)
            m->cfg.tamper(m->cfg.tamper_user, r->handle, slot->data, n);
    }
    /* Only a SEQ ahead of the last one moves last_out (reordering). */
    if (!t->st.started || (int16_t)(out_seq - t->last_out) > 0)
        t->last_out = out_seq;
    uint32_t roc = perc_srtp_tx_roc(&t->st, out_seq);
    int rc = direct ? perc_srtp_seal_copy(r->tx, m->work, len, lay, roc, slot->data,
                                          sizeof slot->data, &n)
                    : perc_srtp_seal(r->tx, slot->data, n, sizeof slot->data, roc, &n);
    if (rc != PERC_OK ||
        perc_ekt_field_append(slot->data, n, sizeof slot->data, m->ekt, ekt_len, &n) != PERC_OK) {
        src->stats.drop_limit++;
        return;
    }
    slot->len = n;
    slot->handle = r->handle;
    m->q_count++;
    src->stats.forwarded++;
    r->stats.sent++;
}

int perc_mdd_rtp_in(perc_mdd *m, uint64_t handle, const uint8_t *pkt, size_t len, uint64_t now)
{
    if (!m || (!pkt && len))
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    e->stats.rtp_in++;
    if (!e->rx)
        return count_drop(e, PERC_ERR_NO_KEY);
    if (len > PERC_MDD_MAX_PACKET) {
        e->stats.drop_malformed++;
        return PERC_ERR_TOO_LARGE;
    }
    perc_ekt_field f;
    int rc = perc_ekt_field_find(pkt, len, &f);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    size_t ekt_len = f.field.len;
    memcpy(m->ekt, f.field.ptr, ekt_len);
    size_t n = f.srtp_len;

    /* The clear header is read from the input (views point there); the
     * open below writes the outer plaintext to m->work as it decrypts. */
    perc_rtp_header h;
    rc = perc_rtp_parse_header(pkt, n, &h);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    mdd_rx_stream *rs = rx_find(m, e, h.ssrc);
    perc_srtp_rx_state fresh;
    perc_srtp_rx_state *st = rs ? &rs->st : &fresh;
    if (!rs)
        perc_srtp_rx_init(&fresh);
    uint64_t index = perc_srtp_rx_estimate(st, h.seq);
    rc = perc_srtp_rx_check(st, index);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    perc_srtp_layout lay = {.header_len = h.header_len, .ssrc = h.ssrc, .seq = h.seq};
    rc = perc_srtp_open_copy(e->rx, pkt, n, &lay, perc_srtp_index_roc(index), m->work,
                             sizeof m->work, &n);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    /* A valid double packet (header, inner tag, OHB) before any state moves. */
    perc_relay_change none = {0};
    size_t chk;
    rc = perc_double_rewrite(m->work, n, sizeof m->work, &none, &chk);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    n = chk;
    if (!rs) {
        /* One sender per SSRC in the conference (RFC 3550 §8.2): each
         * receiver's outgoing numbering is per SSRC, and the MD may not
         * rename an SSRC (the inner layer authenticates it). The first
         * endpoint keeps it. */
        mdd_endpoint *owner = ssrc_owner(m, e->group, h.ssrc);
        if (owner && owner != e) {
            e->stats.drop_ssrc_in_use++;
            return PERC_ERR_SSRC_IN_USE;
        }
        for (size_t i = 0; i < m->cfg.max_ssrcs && !rs; i++)
            if (!e->rxs[i].used)
                rs = &e->rxs[i];
        if (!rs)
            return count_drop(e, PERC_ERR_LIMIT);
        rs->used = true;
        rs->ssrc = h.ssrc;
        rs->st = fresh;
    }
    perc_srtp_rx_commit(&rs->st, index);
    e->last_seen = now;

    bool has_level = false;
    uint8_t loud = 0;
    if (m->cfg.audio_level_id && h.extension) {
        perc_view v;
        perc_audio_level al;
        if (perc_rtp_ext_find(&h, m->cfg.audio_level_id, &v) == PERC_OK &&
            perc_audio_level_parse(v, &al) == PERC_OK) {
            has_level = true;
            loud = (uint8_t)(127u - (al.level & 0x7Fu));
        }
    }
    /* Last-N chooses among local senders; what a link brings was chosen by
     * the MD at its other end. */
    if (!e->link)
        last_n_update(m, e, has_level, loud, now);
    bool forward = !m->cfg.last_n || e->selected || e->link;

    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        mdd_endpoint *r = &m->eps[i];
        /* Only inside the sender's conference; never from one link to
         * another: with more than two MDs a loop would otherwise forward
         * packets forever. */
        if (!r->used || r == e || !r->tx || r->group != e->group || (e->link && r->link))
            continue;
        if (!forward) {
            mdd_tx_stream *t = tx_find(m, r, h.ssrc, false);
            if (t)
                t->paused = true;
            continue;
        }
        forward_to(m, e, r, &lay, n, ekt_len);
    }
    if (!forward)
        e->stats.not_selected++;
    return PERC_OK;
}

/* ---- SRTCP ------------------------------------------------------------- */

/* The sender's SEQ for what `reporter` knows as out_seq of ssrc. */
static uint16_t original_seq(const mdd_tx_stream *t, uint16_t out_seq)
{
    /* Before the last resume the previous offset applied. */
    bool before = (int16_t)(out_seq - t->offset_from) < 0;
    return (uint16_t)(out_seq - (before ? t->prev_offset : t->offset));
}

/* Rewrites the PIDs of a generic NACK (RFC 4585 §6.2.1) copied to pkt
 * (header, sender SSRC, media SSRC, then PID/BLP words) from the
 * reporter's numbering to the media sender's. */
static void nack_translate(const perc_mdd *m, const mdd_endpoint *reporter, uint8_t *pkt,
                           size_t len)
{
    if (len < 16)
        return;
    uint32_t media = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 |
                     pkt[11];
    const mdd_tx_stream *t = tx_find(m, reporter, media, false);
    if (!t)
        return;
    for (size_t off = 12; off + 4 <= len; off += 4) {
        uint16_t pid = (uint16_t)(pkt[off] << 8 | pkt[off + 1]);
        uint16_t orig = original_seq(t, pid);
        pkt[off] = (uint8_t)(orig >> 8);
        pkt[off + 1] = (uint8_t)orig;
    }
}

int perc_mdd_rtcp_in(perc_mdd *m, uint64_t handle, const uint8_t *pkt, size_t len, uint64_t now)
{
    if (!m || (!pkt && len))
        return PERC_ERR_INVALID_ARG;
    mdd_endpoint *e = ep_find(m, handle);
    if (!e)
        return PERC_ERR_NOT_FOUND;
    e->stats.rtcp_in++;
    if (!e->rx)
        return count_drop(e, PERC_ERR_NO_KEY);
    if (len > PERC_MDD_MAX_PACKET) {
        e->stats.drop_malformed++;
        return PERC_ERR_TOO_LARGE;
    }
    if (len < 8)
        return count_drop(e, PERC_ERR_TRUNCATED);
    memcpy(m->work, pkt, len);
    uint32_t ssrc = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    mdd_rtcp_rx *w = NULL, *free_w = NULL;
    for (size_t i = 0; i < m->cfg.max_ssrcs; i++) {
        if (e->rtcp[i].used && e->rtcp[i].ssrc == ssrc)
            w = &e->rtcp[i];
        else if (!e->rtcp[i].used && !free_w)
            free_w = &e->rtcp[i];
    }
    uint32_t index;
    bool encrypted;
    size_t n;
    int rc = perc_srtcp_open(e->rx, m->work, len, &index, &encrypted, &n);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    if (w) {
        rc = perc_replay_check(&w->w, index);
        if (rc != PERC_OK)
            return count_drop(e, rc);
    }
    rc = perc_rtcp_check_compound(m->work, n, true, NULL);
    if (rc != PERC_OK)
        return count_drop(e, rc);
    if (!w) {
        if (!free_w)
            return count_drop(e, PERC_ERR_LIMIT);
        w = free_w;
        w->used = true;
        w->ssrc = ssrc;
        perc_replay_init(&w->w);
    }
    perc_replay_commit(&w->w, index);
    e->last_seen = now;

    /* Per recipient: the broadcast packets, then the feedback for it. */
    for (size_t i = 0; i < m->cfg.max_endpoints; i++) {
        mdd_endpoint *r = &m->eps[i];
        if (!r->used || r == e || !r->tx || r->group != e->group || (e->link && r->link))
            continue;
        mdd_slot *slot = queue_tail(m);
        if (!slot) {
            e->stats.drop_limit++;
            continue;
        }
        size_t out = 0;
        perc_rtcp_iter it;
        perc_rtcp_view p;
        perc_rtcp_iter_init(&it, m->work, n);
        while (perc_rtcp_next(&it, &p) == 1) {
            bool take = false;
            if (p.pt == PERC_RTCP_SR || p.pt == PERC_RTCP_SDES || p.pt == PERC_RTCP_BYE) {
                take = true;
            } else if (p.pt == PERC_RTCP_RTPFB || p.pt == PERC_RTCP_PSFB) {
                uint32_t tg[32];
                size_t nt = 0;
                if (perc_rtcp_fb_targets(&p, tg, 32, &nt) == PERC_OK)
                    for (size_t k = 0; k < nt && !take; k++)
                        take = ssrc_owner(m, e->group, tg[k]) == r;
            }
            if (!take)
                continue;
            /* A padded packet may only end a compound: drop its padding. */
            size_t plen = p.packet.len;
            if (p.padding) {
                plen = PERC_RTCP_HEADER_LEN + p.body.len;
                if (plen % 4)
                    continue;
            }
            memcpy(slot->data + out, p.packet.ptr, plen);
            if (p.pt == PERC_RTCP_RTPFB && p.count == PERC_RTCP_FMT_NACK)
                nack_translate(m, e, slot->data + out, plen);
            if (p.padding) {
                slot->data[out] &= (uint8_t)~0x20u;
                uint16_t words = (uint16_t)(plen / 4 - 1);
                slot->data[out + 2] = (uint8_t)(words >> 8);
                slot->data[out + 3] = (uint8_t)words;
            }
            out += plen;
        }
        if (!out)
            continue;
        if (r->rtcp_index >= 0x80000000u ||
            perc_srtcp_seal(r->tx, slot->data, out, sizeof slot->data, r->rtcp_index, true, &out) !=
                PERC_OK) {
            e->stats.drop_limit++;
            continue;
        }
        r->rtcp_index++;
        slot->len = out;
        slot->handle = r->handle;
        m->q_count++;
        e->stats.forwarded++;
        r->stats.sent++;
    }
    /* RRs are consumed. */
    perc_rtcp_iter it;
    perc_rtcp_view p;
    perc_rtcp_iter_init(&it, m->work, n);
    while (perc_rtcp_next(&it, &p) == 1)
        if (p.pt == PERC_RTCP_RR)
            e->stats.rr_consumed++;
    return PERC_OK;
}
