/* Fuzz target for the two ends of the RFC 9185 tunnel: a Key Distributor
 * session (perc/tunnel_kd.h) and a Media Distributor (perc/tunnel_md.h) fed
 * arbitrary stream bytes in pseudo-random chunks.
 *
 * Input: byte 0 steers the callbacks (answer DTLS, send MediaKeys, refuse
 * or end associations), the rest is the stream. The KD gets the whole
 * stream; the MD gets it from the end of the first message when that is a
 * SupportedProfiles (so one corpus drives both). The MD's random source
 * makes the UUID of its n-th association 16 octets of n (v4-masked), so
 * inputs can name them.
 *
 * Invariants (abort on violation):
 *   1. Every octet either side emits decodes, message by message, with
 *      perc_tunnel_decode() == PERC_OK; emitted MediaKeys pass
 *      perc_tunnel_media_keys_check() with a profile the MD offered.
 *   2. KD: nothing but UnsupportedVersion(0), exactly 02 00 01 00, is
 *      emitted unless SupportedProfiles was accepted; FAILED is final and
 *      the same error comes back; never more associations than the limit;
 *      DTLS events only for known associations.
 *   3. MD: the first message of a connection is SupportedProfiles with our
 *      list; DTLS and key events name a handle that maps back to the same
 *      id; installed keys have the lengths of the profile's outer half.
 *   4. No crash, no leak, no undefined behaviour (sanitizers).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/profile.h"
#include "perc/tunnel.h"
#include "perc/tunnel_framer.h"
#include "perc/tunnel_kd.h"
#include "perc/tunnel_md.h"

/* The start of a ClientHello (record header, epoch 0; handshake type 1):
 * only that opens an association at the MD. */
static const uint8_t CLIENT_HELLO_START[] = {0x16, 0xfe, 0xfd, 0x00, 0x00, 0x00, 0x00,
                                             0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KD_MAX_ASSOC 8

static uint8_t g_out[PERC_TUNNEL_MAX_MSG];

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* Checks that bytes[0..len) is a sequence of whole, valid messages (the
 * queues only ever hold whole messages). Calls visit for each. */
static void check_stream(const uint8_t *bytes, size_t len,
                         void (*visit)(void *, const perc_tunnel_msg *), void *user)
{
    size_t off = 0;
    while (off < len) {
        uint8_t type;
        size_t n;
        if (perc_tunnel_peek(bytes + off, len - off, &type, &n) != PERC_OK || n > len - off)
            abort();
        perc_tunnel_msg m;
        if (perc_tunnel_decode(bytes + off, n, &m) != PERC_OK)
            abort();
        if (visit)
            visit(user, &m);
        off += n;
    }
}

/* ---- Key Distributor --------------------------------------------------- */

typedef struct kd_ctx {
    perc_tunnel_kd *kd;
    uint8_t flags;
    uint64_t rng;
    bool opened;
} kd_ctx;

static void kd_event(void *user, const perc_tunnel_kd_event *ev)
{
    kd_ctx *c = user;
    uint64_t r = next_rand(&c->rng);
    switch (ev->type) {
    case PERC_TUNNEL_KD_PROFILES:
        if (perc_tunnel_kd_profile_count(c->kd) == 0)
            abort();
        c->opened = true;
        break;
    case PERC_TUNNEL_KD_NEW_ASSOCIATION:
        if (!perc_tunnel_kd_knows(c->kd, &ev->association_id))
            abort();
        if ((c->flags & 1) && (r & 3) == 0)
            (void)perc_tunnel_kd_disconnect(c->kd, &ev->association_id);
        break;
    case PERC_TUNNEL_KD_DTLS: {
        if (!perc_tunnel_kd_knows(c->kd, &ev->association_id) || ev->dtls.len == 0)
            abort();
        if (c->flags & 2)
            (void)perc_tunnel_kd_send_dtls(c->kd, &ev->association_id, ev->dtls.ptr, ev->dtls.len);
        if (c->flags & 4) {
            /* MediaKeys for the first offered profile we know, with the
             * outer-half lengths; a wrong length every so often. */
            uint8_t key[32], salt[12];
            memset(key, 0x11, sizeof key);
            memset(salt, 0x22, sizeof salt);
            for (size_t i = 0; i < perc_tunnel_kd_profile_count(c->kd); i++) {
                const perc_profile_info *p = perc_profile_lookup(perc_tunnel_kd_profile_at(c->kd, i));
                if (!p)
                    continue;
                size_t kl = p->is_double ? p->master_key_len / 2 : p->master_key_len;
                size_t sl = p->is_double ? p->master_salt_len / 2 : p->master_salt_len;
                if ((r & 7) == 1)
                    kl = kl == 16 ? 32 : 16;
                perc_tunnel_media_keys mk;
                memset(&mk, 0, sizeof mk);
                mk.association_id = ev->association_id;
                mk.profile = p->id;
                mk.client_key = mk.server_key = perc_view_of(key, kl);
                mk.client_salt = mk.server_salt = perc_view_of(salt, sl);
                int rc = perc_tunnel_kd_send_media_keys(c->kd, &mk);
                if ((r & 7) == 1 && rc != PERC_ERR_KEY_LENGTH)
                    abort();
                break;
            }
        }
        if ((c->flags & 8) && (r & 3) == 1)
            (void)perc_tunnel_kd_disconnect(c->kd, &ev->association_id);
        break;
    }
    case PERC_TUNNEL_KD_MD_DISCONNECT:
        if (perc_tunnel_kd_knows(c->kd, &ev->association_id))
            abort();
        break;
    case PERC_TUNNEL_KD_DROPPED:
        if (ev->error != PERC_ERR_UNSUPPORTED && ev->error != PERC_ERR_LIMIT)
            abort();
        break;
    default:
        abort();
    }
    if (perc_tunnel_kd_association_count(c->kd) > KD_MAX_ASSOC)
        abort();
}

static void kd_visit(void *user, const perc_tunnel_msg *m)
{
    kd_ctx *c = user;
    if (m->type == PERC_TUNNEL_UNSUPPORTED_VERSION) {
        if (c->opened || m->unsupported_version.highest_version != PERC_TUNNEL_VERSION)
            abort();
        return;
    }
    if (!c->opened)
        abort();
    switch (m->type) {
    case PERC_TUNNEL_TUNNELED_DTLS:
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        break;
    case PERC_TUNNEL_MEDIA_KEYS:
        if (perc_tunnel_media_keys_check(&m->media_keys) != PERC_OK ||
            !perc_tunnel_kd_offers_profile(c->kd, m->media_keys.profile))
            abort();
        break;
    default:
        abort(); /* a KD never sends SupportedProfiles */
    }
}

static void drain_kd(kd_ctx *c)
{
    size_t n;
    if (perc_tunnel_kd_pending_send(c->kd, g_out, sizeof g_out, &n) != PERC_OK)
        abort();
    if (perc_tunnel_kd_pending_len(c->kd) != 0)
        abort();
    check_stream(g_out, n, kd_visit, c);
}

static void run_kd(const uint8_t *data, size_t size, uint8_t flags, uint64_t seed)
{
    kd_ctx c;
    memset(&c, 0, sizeof c);
    c.flags = flags;
    c.rng = seed;
    perc_tunnel_kd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.on_event = kd_event;
    cfg.event_user = &c;
    cfg.max_associations = KD_MAX_ASSOC;
    if (perc_tunnel_kd_new(&cfg, 0, &c.kd) != PERC_OK)
        return;
    int failed_with = PERC_OK;
    uint64_t now = 0;
    for (size_t fed = 0; fed < size;) {
        uint64_t r = next_rand(&c.rng);
        size_t chunk = (r & 7) == 0 ? size - fed : 1 + (size_t)(r >> 8) % 32;
        if (chunk > size - fed)
            chunk = size - fed;
        int rc = perc_tunnel_kd_recv(c.kd, data + fed, chunk, ++now);
        if (failed_with != PERC_OK && rc != failed_with)
            abort(); /* FAILED is final */
        if (rc != PERC_OK) {
            if (perc_tunnel_kd_get_state(c.kd) != PERC_TUNNEL_KD_FAILED ||
                perc_tunnel_kd_failure(c.kd) != rc)
                abort();
            failed_with = rc;
        }
        if (failed_with == PERC_OK && rc == PERC_OK && perc_tunnel_kd_last_activity(c.kd) != now)
            abort();
        drain_kd(&c);
        fed += chunk;
    }
    if (c.opened != (perc_tunnel_kd_profile_count(c.kd) > 0))
        abort();
    perc_tunnel_kd_free(c.kd);
}

/* ---- Media Distributor ------------------------------------------------- */

static const uint16_t MD_PROFILES[] = {PERC_PROFILE_DOUBLE_AES_128_GCM,
                                       PERC_PROFILE_DOUBLE_AES_256_GCM,
                                       PERC_PROFILE_AEAD_AES_128_GCM};

typedef struct md_ctx {
    perc_tunnel_md *md;
    uint8_t flags;
    uint64_t rng;
    uint8_t next_uuid;
    bool expect_profiles;
} md_ctx;

static int md_random(void *user, uint8_t *buf, size_t len)
{
    md_ctx *c = user;
    memset(buf, c->next_uuid++, len);
    return 0;
}

static void check_mapping(const md_ctx *c, uint64_t handle, const perc_uuid *id)
{
    perc_uuid back;
    uint64_t h;
    if (perc_tunnel_md_association_of(c->md, handle, &back) != PERC_OK ||
        !perc_uuid_equal(&back, id) || perc_tunnel_md_handle_of(c->md, id, &h) != PERC_OK ||
        h != handle)
        abort();
}

static void md_event(void *user, const perc_tunnel_md_event *ev)
{
    md_ctx *c = user;
    uint64_t r = next_rand(&c->rng);
    switch (ev->type) {
    case PERC_TUNNEL_MD_DTLS_TO_ENDPOINT:
        check_mapping(c, ev->handle, &ev->association_id);
        if (ev->dtls.len == 0 || ev->dtls.len > PERC_TUNNEL_MAX_DTLS)
            abort();
        if ((c->flags & 16) && (r & 3) == 0)
            (void)perc_tunnel_md_endpoint_gone(c->md, ev->handle);
        else if (c->flags & 32)
            (void)perc_tunnel_md_dtls_from_endpoint(c->md, ev->handle, ev->dtls.ptr, ev->dtls.len,
                                                    NULL);
        break;
    case PERC_TUNNEL_MD_INSTALL_KEYS: {
        check_mapping(c, ev->handle, &ev->association_id);
        const perc_profile_info *p = ev->keys ? perc_profile_lookup(ev->keys->profile) : NULL;
        if (!p)
            abort();
        size_t kl = p->is_double ? p->master_key_len / 2 : p->master_key_len;
        size_t sl = p->is_double ? p->master_salt_len / 2 : p->master_salt_len;
        if (ev->keys->key_len != kl || ev->keys->salt_len != sl)
            abort();
        bool offered = false;
        for (size_t i = 0; i < sizeof MD_PROFILES / sizeof MD_PROFILES[0]; i++)
            offered |= MD_PROFILES[i] == ev->keys->profile;
        if (!offered)
            abort();
        break;
    }
    case PERC_TUNNEL_MD_KD_DISCONNECT: {
        perc_uuid gone;
        if (perc_tunnel_md_association_of(c->md, ev->handle, &gone) != PERC_ERR_NOT_FOUND)
            abort();
        if ((c->flags & 64) && (r & 1))
            (void)perc_tunnel_md_dtls_from_endpoint(c->md, ev->handle, CLIENT_HELLO_START,
                                                    sizeof CLIENT_HELLO_START, NULL);
        break;
    }
    case PERC_TUNNEL_MD_DROPPED:
        if (ev->error != PERC_ERR_UNSUPPORTED && ev->error != PERC_ERR_NOT_FOUND &&
            ev->error != PERC_ERR_KEY_LENGTH)
            abort();
        break;
    default:
        abort();
    }
}

static void md_visit(void *user, const perc_tunnel_msg *m)
{
    md_ctx *c = user;
    if (c->expect_profiles) {
        if (m->type != PERC_TUNNEL_SUPPORTED_PROFILES ||
            perc_tunnel_profile_count(&m->supported_profiles) != 3 ||
            perc_tunnel_profile_at(&m->supported_profiles, 2) != PERC_PROFILE_AEAD_AES_128_GCM)
            abort();
        c->expect_profiles = false;
        return;
    }
    if (m->type != PERC_TUNNEL_TUNNELED_DTLS && m->type != PERC_TUNNEL_ENDPOINT_DISCONNECT)
        abort();
    if (m->type == PERC_TUNNEL_TUNNELED_DTLS && !perc_uuid_is_v4(&m->tunneled_dtls.association_id))
        abort();
}

static void drain_md(md_ctx *c)
{
    size_t n;
    if (perc_tunnel_md_pending_send(c->md, g_out, sizeof g_out, &n) != PERC_OK ||
        perc_tunnel_md_pending_len(c->md) != 0)
        abort();
    check_stream(g_out, n, md_visit, c);
}

static void run_md(const uint8_t *data, size_t size, uint8_t flags, uint64_t seed)
{
    md_ctx c;
    memset(&c, 0, sizeof c);
    c.flags = flags;
    c.rng = seed;
    perc_tunnel_md_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profiles = MD_PROFILES;
    cfg.n_profiles = sizeof MD_PROFILES / sizeof MD_PROFILES[0];
    cfg.random = md_random;
    cfg.random_user = &c;
    cfg.on_event = md_event;
    cfg.event_user = &c;
    cfg.max_associations = 16;
    if (perc_tunnel_md_new(&cfg, &c.md) != PERC_OK)
        return;
    if (perc_tunnel_md_reset_connection(c.md) != PERC_OK)
        abort();
    c.expect_profiles = true;
    /* Associations 0..3 with UUIDs of 16 octets 0, 1, 2, 3 (v4-masked). */
    for (uint64_t h = 0; h < 4; h++) {
        if (perc_tunnel_md_dtls_from_endpoint(c.md, h, CLIENT_HELLO_START,
                                              sizeof CLIENT_HELLO_START, NULL) != PERC_OK)
            abort();
    }
    drain_md(&c);

    int failed_with = PERC_OK;
    for (size_t fed = 0; fed < size;) {
        uint64_t r = next_rand(&c.rng);
        size_t chunk = (r & 7) == 0 ? size - fed : 1 + (size_t)(r >> 8) % 32;
        if (chunk > size - fed)
            chunk = size - fed;
        int rc = perc_tunnel_md_recv(c.md, data + fed, chunk);
        if (failed_with != PERC_OK && rc != failed_with)
            abort();
        if (rc != PERC_OK) {
            if (perc_tunnel_md_get_state(c.md) != PERC_TUNNEL_MD_FAILED)
                abort();
            failed_with = rc;
        }
        drain_md(&c);
        fed += chunk;
    }
    /* A reconnection starts clean with SupportedProfiles; the surviving
     * associations still map both ways. */
    size_t before = perc_tunnel_md_association_count(c.md);
    if (perc_tunnel_md_connection_down(c.md) != PERC_OK ||
        perc_tunnel_md_reset_connection(c.md) != PERC_OK)
        abort();
    c.expect_profiles = true;
    drain_md(&c);
    if (perc_tunnel_md_association_count(c.md) != before)
        abort();
    for (uint64_t h = 0; h < 64; h++) {
        perc_uuid id;
        if (perc_tunnel_md_association_of(c.md, h, &id) == PERC_OK)
            check_mapping(&c, h, &id);
    }
    perc_tunnel_md_free(c.md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    uint64_t seed = 0xcbf29ce484222325ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 0x100000001b3ull;
    if (seed == 0)
        seed = 1;

    run_kd(data, size, flags, seed);

    /* The MD side: skip a leading SupportedProfiles meant for the KD. */
    uint8_t type;
    size_t first;
    if (perc_tunnel_peek(data, size, &type, &first) == PERC_OK &&
        type == PERC_TUNNEL_SUPPORTED_PROFILES && first <= size) {
        data += first;
        size -= first;
    }
    run_md(data, size, flags, seed);
    return 0;
}
