/* TEST ONLY: perc-mdd-dishonest, a Media Distributor that attacks the media
 * it forwards, for the end-to-end scenario "a dishonest Media Distributor"
 * (tests/e2e). Built only with the tests, never installed; the real
 * perc-mdd does not contain this file.
 *
 * --misbehave MODE[,MODE...] picks what it does to every Nth forwarded RTP
 * copy (--misbehave-every N, default 10), cycling through the modes:
 *   payload    flips a bit of the inner ciphertext, then seals correctly
 *   timestamp  changes the RTP timestamp, then seals correctly
 *   ssrc       changes the SSRC to one nobody announced, then seals
 *   replay     sends a copy it already sent to that receiver again
 *   wrong-key  sends a receiver, instead of its copy, the latest copy of
 *              the same stream sealed for another receiver
 * The first three go through the forwarding core's test hook (the outer
 * seal is then valid: only the end-to-end layer can catch them); the last
 * two act on sealed packets. Every receiver must reject each one and count
 * the reason; nothing corrupt may reach a recording. */
#include <string.h>

#include "mddd.h"
#include "perc/demux.h"
#include "perc/rtp.h"

typedef enum mode {
    M_PAYLOAD,
    M_TIMESTAMP,
    M_SSRC,
    M_REPLAY,
    M_WRONG_KEY,
    M_COUNT,
} mode;

static const char *const k_names[M_COUNT] = {"payload", "timestamp", "ssrc", "replay",
                                              "wrong-key"};

static struct {
    bool on[M_COUNT];
    unsigned every;
    uint64_t seen[2];           /* copies seen: [0] before sealing, [1] sealed */
    unsigned next[2];           /* rotation among the enabled modes of each kind */
    uint64_t done[M_COUNT];
    GHashTable *last;           /* receiver handle -> GBytes: the last copy sent */
    GHashTable *by_stream;      /* copy_key -> GBytes: the last copy of a stream sent
                                 * to a receiver */
} g;

/* A receiver and a sender's SSRC: which copy a wrong-key attack swaps in.
 * Only a copy of a stream the receiver really gets is a pure hop-key
 * attack; another stream could be the receiver's own SSRC, which it
 * refuses for having no key before any hop check. */
typedef struct copy_key {
    uint64_t receiver;
    uint32_t ssrc;
} copy_key;

static guint copy_key_hash(gconstpointer p)
{
    const copy_key *k = p;
    return g_int64_hash(&k->receiver) ^ k->ssrc;
}

static gboolean copy_key_equal(gconstpointer a, gconstpointer b)
{
    const copy_key *x = a, *y = b;
    return x->receiver == y->receiver && x->ssrc == y->ssrc;
}

/* The mode due now among [first, end), or M_COUNT for none. */
static mode due(int kind, mode first, mode end)
{
    if (++g.seen[kind] % g.every != 0)
        return M_COUNT;
    unsigned n = (unsigned)(end - first);
    for (unsigned i = 0; i < n; i++) {
        unsigned m = first + (g.next[kind] + i) % n;
        if (g.on[m]) {
            g.next[kind] = m - first + 1;
            return (mode)m;
        }
    }
    return M_COUNT;
}

static void tamper(void *user, uint64_t receiver, uint8_t *pt, size_t len)
{
    (void)user;
    (void)receiver;
    mode m = due(0, M_PAYLOAD, M_REPLAY);
    perc_rtp_header h;
    if (m == M_COUNT || perc_rtp_parse_header(pt, len, &h) != PERC_OK)
        return;
    if (m == M_PAYLOAD && len > h.header_len + 1)
        pt[h.header_len] ^= 0x10;
    else if (m == M_TIMESTAMP)
        pt[7] ^= 0x01;
    else if (m == M_SSRC)
        pt[11] ^= 0x5A;
    g.done[m]++;
}

bool mdd_dishonest_configure(perc_mdd_config *mc, const char *modes, unsigned every)
{
    if (!modes)
        return true;
    char **parts = g_strsplit(modes, ",", -1);
    bool ok = true;
    for (char **p = parts; *p; p++) {
        unsigned i = 0;
        while (i < M_COUNT && strcmp(*p, k_names[i]) != 0)
            i++;
        if (i == M_COUNT) {
            perc_log_error("--misbehave: '%s' is not payload, timestamp, ssrc, replay or "
                           "wrong-key",
                           *p);
            ok = false;
        } else {
            g.on[i] = true;
        }
    }
    g_strfreev(parts);
    g.every = every ? every : 10;
    g.last = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                   (GDestroyNotify)g_bytes_unref);
    g.by_stream = g_hash_table_new_full(copy_key_hash, copy_key_equal, g_free,
                                        (GDestroyNotify)g_bytes_unref);
    mc->tamper = tamper;
    perc_log_warn("THIS IS A DISHONEST MEDIA DISTRIBUTOR (test build): it tampers with every "
                  "%u-th forwarded packet (%s)",
                  g.every, modes);
    return ok;
}

/* The latest copy of stream `ssrc` sealed for a receiver other than
 * `receiver`, or NULL. */
static GBytes *other_receivers_copy(uint64_t receiver, uint32_t ssrc)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, g.by_stream);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const copy_key *ck = k;
        if (ck->ssrc == ssrc && ck->receiver != receiver)
            return v;
    }
    return NULL;
}

bool mdd_dishonest_send(mddd *d, mdd_endpoint *ep, const uint8_t *pkt, size_t len)
{
    perc_rtp_header h;
    if (!g.last || perc_demux_classify(pkt, len) != PERC_DEMUX_RTP ||
        perc_rtp_parse_header(pkt, len, &h) != PERC_OK)
        return false;
    mode m = due(1, M_REPLAY, M_COUNT);
    if (m == M_REPLAY) {
        /* What this receiver already got, again: the hop layer's replay
         * window at the receiver must catch it. */
        GBytes *old = g_hash_table_lookup(g.last, &ep->handle);
        if (old) {
            mdd_endpoint_send(d, ep, g_bytes_get_data(old, NULL), g_bytes_get_size(old));
            g.done[M_REPLAY]++;
        }
    } else if (m == M_WRONG_KEY) {
        /* The same stream sealed with another receiver's hop key instead.
         * The real copy is withheld, so it is not recorded as sent: a later
         * replay must repeat something this receiver really got. */
        GBytes *other = other_receivers_copy(ep->handle, h.ssrc);
        if (other) {
            mdd_endpoint_send(d, ep, g_bytes_get_data(other, NULL), g_bytes_get_size(other));
            g.done[M_WRONG_KEY]++;
            return true;
        }
    }
    g_hash_table_replace(g.last, g_memdup2(&ep->handle, sizeof ep->handle),
                         g_bytes_new(pkt, len));
    copy_key ck = {.receiver = ep->handle, .ssrc = h.ssrc};
    g_hash_table_replace(g.by_stream, g_memdup2(&ck, sizeof ck), g_bytes_new(pkt, len));
    return false;
}

void mdd_dishonest_report(void)
{
    if (!g.last)
        return;
    perc_log_info("dishonest: tampered payload %" G_GUINT64_FORMAT ", timestamp %" G_GUINT64_FORMAT
                  ", ssrc %" G_GUINT64_FORMAT ", replayed %" G_GUINT64_FORMAT
                  ", wrong key %" G_GUINT64_FORMAT,
                  g.done[M_PAYLOAD], g.done[M_TIMESTAMP], g.done[M_SSRC], g.done[M_REPLAY],
                  g.done[M_WRONG_KEY]);
}

void mdd_dishonest_free(void)
{
    if (g.last)
        g_hash_table_destroy(g.last);
    if (g.by_stream)
        g_hash_table_destroy(g.by_stream);
    g.last = NULL;
    g.by_stream = NULL;
}
