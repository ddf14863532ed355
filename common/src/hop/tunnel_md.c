/* The Media Distributor's side of the RFC 9185 tunnel; see perc/tunnel_md.h. */
#include "perc/tunnel_md.h"

#include <stdlib.h>
#include <string.h>

#include "perc/secret.h"
#include "perc/tunnel_framer.h"
#include "tunnel_assoc.h"
#include "tunnel_outq.h"

/* Attempts at drawing a UUID that is not already in use before the random
 * source is declared broken (a collision of 122 random bits does not
 * happen; a source that repeats itself does). */
#define UUID_TRIES 4

struct perc_tunnel_md {
    uint8_t *profiles;          /* the SupportedProfiles list, 2 octets each, network order */
    size_t profiles_len;
    uint8_t version;
    perc_tunnel_md_random_fn random;
    void *random_user;
    perc_tunnel_md_event_fn on_event;
    void *event_user;
    size_t max_associations;

    perc_tunnel_md_state state;
    int failure;
    bool in_callback;
    perc_tunnel_framer *framer; /* only while a connection is up */
    tunnel_outq out;
    tunnel_assoc_table assocs;  /* indexed by id and by handle */
    perc_uuid *owed;            /* EndpointDisconnects not yet sent */
    size_t n_owed;
    size_t owed_cap;
};

int perc_tunnel_md_new(const perc_tunnel_md_config *cfg, perc_tunnel_md **out)
{
    if (!cfg || !out || !cfg->profiles || cfg->n_profiles == 0 || !cfg->random ||
        !cfg->on_event)
        return PERC_ERR_INVALID_ARG;
    /* version(1) + list length(2) + the list must fit a 16-bit body. */
    if (cfg->n_profiles > (PERC_TUNNEL_MAX_BODY - 3) / 2)
        return PERC_ERR_TOO_LARGE;
    for (size_t i = 0; i < cfg->n_profiles; i++) {
        /* We could not install keys for a profile we do not implement, so
         * we must not offer it (RFC 9185 §5.4: the KD picks from our list). */
        if (!perc_profile_lookup(cfg->profiles[i]))
            return PERC_ERR_UNSUPPORTED;
    }
    perc_tunnel_md *md = calloc(1, sizeof *md);
    if (!md)
        return PERC_ERR_NOMEM;
    md->profiles_len = 2 * cfg->n_profiles;
    md->profiles = malloc(md->profiles_len);
    if (!md->profiles) {
        free(md);
        return PERC_ERR_NOMEM;
    }
    for (size_t i = 0; i < cfg->n_profiles; i++)
        perc_store_u16(md->profiles + 2 * i, cfg->profiles[i]);
    md->version = cfg->version;
    md->random = cfg->random;
    md->random_user = cfg->random_user;
    md->on_event = cfg->on_event;
    md->event_user = cfg->event_user;
    md->max_associations = cfg->max_associations;
    md->state = PERC_TUNNEL_MD_DOWN;
    tunnel_outq_init(&md->out, cfg->max_queued);
    tunnel_assoc_init(&md->assocs, true);
    *out = md;
    return PERC_OK;
}

void perc_tunnel_md_free(perc_tunnel_md *md)
{
    if (!md)
        return;
    perc_tunnel_framer_free(md->framer);
    tunnel_outq_free(&md->out);
    tunnel_assoc_free(&md->assocs);
    free(md->owed);
    free(md->profiles);
    free(md);
}

static void emit(perc_tunnel_md *md, const perc_tunnel_md_event *ev)
{
    md->in_callback = true;
    md->on_event(md->event_user, ev);
    md->in_callback = false;
}

static void emit_dropped(perc_tunnel_md *md, uint8_t msg_type, int error, const perc_uuid *id)
{
    perc_tunnel_md_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_MD_DROPPED;
    ev.msg_type = msg_type;
    ev.error = error;
    if (id)
        ev.association_id = *id;
    emit(md, &ev);
}

/* ---- owed EndpointDisconnects ------------------------------------------- */

static int owe(perc_tunnel_md *md, const perc_uuid *id)
{
    if (md->n_owed == md->owed_cap) {
        size_t cap = md->owed_cap ? 2 * md->owed_cap : 8;
        perc_uuid *p = realloc(md->owed, cap * sizeof *p);
        if (!p)
            return PERC_ERR_NOMEM;
        md->owed = p;
        md->owed_cap = cap;
    }
    md->owed[md->n_owed++] = *id;
    return PERC_OK;
}

static void drop_owed_at(perc_tunnel_md *md, size_t i)
{
    memmove(&md->owed[i], &md->owed[i + 1], (md->n_owed - i - 1) * sizeof *md->owed);
    md->n_owed--;
}

static int queue_disconnect(perc_tunnel_md *md, const perc_uuid *id)
{
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_ENDPOINT_DISCONNECT;
    m.endpoint_disconnect.association_id = *id;
    return tunnel_outq_push(&md->out, &m);
}

/* Sends what is owed, oldest first, as far as the queue allows. */
static void flush_owed(perc_tunnel_md *md)
{
    while (md->n_owed > 0 && queue_disconnect(md, &md->owed[0]) == PERC_OK)
        drop_owed_at(md, 0);
}

/* ---- connections ------------------------------------------------------- */

int perc_tunnel_md_reset_connection(perc_tunnel_md *md)
{
    if (!md)
        return PERC_ERR_INVALID_ARG;
    if (md->in_callback)
        return PERC_ERR_STATE;
    perc_tunnel_framer_free(md->framer);
    md->framer = NULL;
    tunnel_outq_clear(&md->out);
    md->state = PERC_TUNNEL_MD_DOWN;
    md->failure = PERC_OK;
    int rc = perc_tunnel_framer_new(&md->framer);
    if (rc)
        return rc;
    /* RFC 9185 §5.3: SupportedProfiles first on every connection, with the
     * version an UnsupportedVersion taught us (§5.5). */
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_SUPPORTED_PROFILES;
    m.supported_profiles.version = md->version;
    m.supported_profiles.profiles = perc_view_of(md->profiles, md->profiles_len);
    if ((rc = tunnel_outq_push(&md->out, &m))) {
        perc_tunnel_framer_free(md->framer);
        md->framer = NULL;
        return rc;
    }
    md->state = PERC_TUNNEL_MD_OPEN;
    flush_owed(md);
    return PERC_OK;
}

int perc_tunnel_md_connection_down(perc_tunnel_md *md)
{
    if (!md)
        return PERC_ERR_INVALID_ARG;
    if (md->in_callback)
        return PERC_ERR_STATE;
    perc_tunnel_framer_free(md->framer);
    md->framer = NULL;
    tunnel_outq_clear(&md->out);
    md->state = PERC_TUNNEL_MD_DOWN;
    md->failure = PERC_OK;
    return PERC_OK;
}

/* ---- from the Key Distributor ------------------------------------------ */

static bool offered(const perc_tunnel_md *md, uint16_t profile)
{
    for (size_t i = 0; i < md->profiles_len; i += 2) {
        if (perc_load_u16(md->profiles + i) == profile)
            return true;
    }
    return false;
}

static void on_media_keys(perc_tunnel_md *md, const perc_tunnel_media_keys *mk)
{
    const tunnel_assoc *a = tunnel_assoc_find_id(&md->assocs, &mk->association_id);
    if (!a) {
        emit_dropped(md, PERC_TUNNEL_MEDIA_KEYS, PERC_ERR_NOT_FOUND, &mk->association_id);
        return;
    }
    int rc = perc_tunnel_media_keys_check(mk);
    if (rc == PERC_OK && !offered(md, mk->profile))
        rc = PERC_ERR_UNSUPPORTED; /* the KD must pick from our list (§5.4) */
    if (rc == PERC_OK && (mk->client_key.len > PERC_SRTP_MAX_KEY_LEN ||
                          mk->client_salt.len > PERC_SRTP_SALT_LEN))
        rc = PERC_ERR_KEY_LENGTH; /* cannot happen for the profiles we know */
    if (rc) {
        emit_dropped(md, PERC_TUNNEL_MEDIA_KEYS, rc, &mk->association_id);
        return;
    }
    perc_tunnel_md_keys k;
    memset(&k, 0, sizeof k);
    k.profile = mk->profile;
    k.key_len = mk->client_key.len;
    k.salt_len = mk->client_salt.len;
    memcpy(k.client_write_key, mk->client_key.ptr, k.key_len);
    memcpy(k.server_write_key, mk->server_key.ptr, k.key_len);
    memcpy(k.client_write_salt, mk->client_salt.ptr, k.salt_len);
    memcpy(k.server_write_salt, mk->server_salt.ptr, k.salt_len);
    perc_tunnel_md_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_MD_INSTALL_KEYS;
    ev.handle = a->handle;
    ev.association_id = mk->association_id;
    ev.keys = &k;
    emit(md, &ev);
    perc_wipe(&k, sizeof k);
}

static void on_disconnect(perc_tunnel_md *md, const perc_uuid *id)
{
    tunnel_assoc *a = tunnel_assoc_find_id(&md->assocs, id);
    if (!a) {
        /* Our own EndpointDisconnect for it may still be owed: the KD has
         * ended the association, so nothing is owed any more. */
        for (size_t i = 0; i < md->n_owed; i++) {
            if (perc_uuid_equal(&md->owed[i], id)) {
                drop_owed_at(md, i);
                return;
            }
        }
        emit_dropped(md, PERC_TUNNEL_ENDPOINT_DISCONNECT, PERC_ERR_NOT_FOUND, id);
        return;
    }
    perc_tunnel_md_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_MD_KD_DISCONNECT;
    ev.handle = a->handle;
    ev.association_id = *id;
    tunnel_assoc_remove(&md->assocs, a);
    emit(md, &ev);
}

/* Handles one message from the framer; decode_rc is its decode result.
 * Returns PERC_OK to go on, or the error that fails the connection. */
static int handle(perc_tunnel_md *md, const perc_tunnel_msg *m, int decode_rc)
{
    if (decode_rc == PERC_ERR_UNSUPPORTED) {
        /* RFC 9185 §9: an unknown type is framed by its length; skip it. */
        emit_dropped(md, m->type, PERC_ERR_UNSUPPORTED, NULL);
        return PERC_OK;
    }
    if (decode_rc == PERC_ERR_BAD_VERSION) /* a SupportedProfiles, of any version */
        return PERC_ERR_UNSUPPORTED;
    if (decode_rc)
        return decode_rc;
    switch (m->type) {
    case PERC_TUNNEL_UNSUPPORTED_VERSION: {
        /* RFC 9185 §5.5: use the named version on the next connection and
         * close this one. Only a lower version is progress; otherwise there
         * is nothing to retry with. */
        uint8_t v = m->unsupported_version.highest_version;
        if (v < md->version)
            md->version = v;
        return PERC_ERR_BAD_VERSION;
    }
    case PERC_TUNNEL_TUNNELED_DTLS: {
        const perc_tunnel_tunneled_dtls *td = &m->tunneled_dtls;
        const tunnel_assoc *a = tunnel_assoc_find_id(&md->assocs, &td->association_id);
        if (!a) {
            emit_dropped(md, m->type, PERC_ERR_NOT_FOUND, &td->association_id);
            return PERC_OK;
        }
        perc_tunnel_md_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = PERC_TUNNEL_MD_DTLS_TO_ENDPOINT;
        ev.handle = a->handle;
        ev.association_id = td->association_id;
        ev.dtls = td->dtls;
        emit(md, &ev);
        return PERC_OK;
    }
    case PERC_TUNNEL_MEDIA_KEYS:
        on_media_keys(md, &m->media_keys);
        return PERC_OK;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        on_disconnect(md, &m->endpoint_disconnect.association_id);
        return PERC_OK;
    case PERC_TUNNEL_SUPPORTED_PROFILES:
    default:
        /* Only a Media Distributor sends SupportedProfiles. */
        return PERC_ERR_UNSUPPORTED;
    }
}

static int fail(perc_tunnel_md *md, int err)
{
    md->state = PERC_TUNNEL_MD_FAILED;
    md->failure = err;
    return err;
}

int perc_tunnel_md_recv(perc_tunnel_md *md, const uint8_t *data, size_t len)
{
    if (!md || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    if (md->in_callback)
        return PERC_ERR_STATE;
    if (md->state == PERC_TUNNEL_MD_FAILED)
        return md->failure;
    if (md->state != PERC_TUNNEL_MD_OPEN)
        return PERC_ERR_STATE;
    while (len > 0) {
        size_t took = 0;
        int rc = perc_tunnel_framer_feed(md->framer, data, len, &took);
        if (rc) /* cannot happen: whole messages are pulled after every feed */
            return fail(md, rc);
        data += took;
        len -= took;
        for (;;) {
            perc_tunnel_msg m;
            bool have = false;
            rc = perc_tunnel_framer_next(md->framer, &m, &have);
            if (!have)
                break;
            if ((rc = handle(md, &m, rc)))
                return fail(md, rc);
        }
    }
    return PERC_OK;
}

int perc_tunnel_md_pending_send(perc_tunnel_md *md, uint8_t *buf, size_t cap, size_t *len)
{
    if (!md || !len || (cap > 0 && !buf))
        return PERC_ERR_INVALID_ARG;
    tunnel_outq_pull(&md->out, buf, cap, len);
    return PERC_OK;
}

size_t perc_tunnel_md_pending_len(const perc_tunnel_md *md)
{
    return md ? tunnel_outq_len(&md->out) : 0;
}

/* ---- from endpoints ---------------------------------------------------- */

static int new_uuid(perc_tunnel_md *md, perc_uuid *out)
{
    for (int i = 0; i < UUID_TRIES; i++) {
        uint8_t r[PERC_UUID_LEN];
        if (md->random(md->random_user, r, sizeof r) != 0)
            return PERC_ERR_RANDOM;
        /* RFC 9185 §5.3: a random (version 4) UUID per association. */
        perc_uuid_v4_from_random(out, r);
        if (!tunnel_assoc_find_id(&md->assocs, out)) {
            bool is_owed = false;
            for (size_t k = 0; k < md->n_owed; k++)
                is_owed |= perc_uuid_equal(&md->owed[k], out);
            if (!is_owed)
                return PERC_OK;
        }
    }
    return PERC_ERR_RANDOM;
}

/* The datagram's first record is an epoch-0 handshake record holding a
 * ClientHello (RFC 6347 §4.1 record header: type, version, epoch,
 * sequence, length; then the handshake message type). */
static bool starts_with_client_hello(const uint8_t *d, size_t len)
{
    return len > 13 && d[0] == 22 && d[1] == 0xFE && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

int perc_tunnel_md_dtls_from_endpoint(perc_tunnel_md *md, uint64_t handle, const uint8_t *data,
                                      size_t len, perc_uuid *association_id)
{
    if (!md || !data || len == 0)
        return PERC_ERR_INVALID_ARG;
    if (len > PERC_TUNNEL_MAX_DTLS)
        return PERC_ERR_TOO_LARGE;
    if (md->state != PERC_TUNNEL_MD_OPEN)
        return PERC_ERR_STATE;
    flush_owed(md);
    size_t need = PERC_TUNNEL_HEADER_LEN + PERC_UUID_LEN + 2 + len;
    if (need > md->out.limit - tunnel_outq_len(&md->out))
        return PERC_ERR_LIMIT;

    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_TUNNELED_DTLS;
    m.tunneled_dtls.dtls = perc_view_of(data, len);
    bool created = false;
    const tunnel_assoc *a = tunnel_assoc_find_handle(&md->assocs, handle);
    int rc;
    if (a) {
        m.tunneled_dtls.association_id = a->id;
    } else {
        /* Only a ClientHello starts an association (the endpoint is the
         * DTLS client, RFC 9185 §5.1). Anything else is what is left of an
         * association that ended, typically the endpoint's close_notify
         * crossing the KD's EndpointDisconnect: under a fresh UUID it
         * would look to the KD like a new association it must refuse. */
        if (!starts_with_client_hello(data, len))
            return PERC_ERR_NOT_FOUND;
        if (md->max_associations && md->assocs.count >= md->max_associations)
            return PERC_ERR_LIMIT;
        if ((rc = new_uuid(md, &m.tunneled_dtls.association_id)) ||
            (rc = tunnel_assoc_add(&md->assocs, &m.tunneled_dtls.association_id, handle)))
            return rc;
        created = true;
    }
    if ((rc = tunnel_outq_push(&md->out, &m))) {
        if (created) {
            tunnel_assoc *fresh = tunnel_assoc_find_handle(&md->assocs, handle);
            if (fresh)
                tunnel_assoc_remove(&md->assocs, fresh);
        }
        return rc;
    }
    if (association_id)
        *association_id = m.tunneled_dtls.association_id;
    return PERC_OK;
}

int perc_tunnel_md_endpoint_gone(perc_tunnel_md *md, uint64_t handle)
{
    if (!md)
        return PERC_ERR_INVALID_ARG;
    tunnel_assoc *a = tunnel_assoc_find_handle(&md->assocs, handle);
    if (!a)
        return PERC_ERR_NOT_FOUND;
    perc_uuid id = a->id;
    if (md->state == PERC_TUNNEL_MD_OPEN) {
        flush_owed(md);
        if (md->n_owed == 0 && queue_disconnect(md, &id) == PERC_OK) {
            tunnel_assoc_remove(&md->assocs, a);
            return PERC_OK;
        }
    }
    /* No connection (or a full queue): the KD still must hear of it
     * (RFC 9185 §5.3), on the next connection. */
    int rc = owe(md, &id);
    if (rc)
        return rc;
    tunnel_assoc_remove(&md->assocs, a);
    return PERC_OK;
}

/* ---- queries ----------------------------------------------------------- */

perc_tunnel_md_state perc_tunnel_md_get_state(const perc_tunnel_md *md)
{
    return md ? md->state : PERC_TUNNEL_MD_DOWN;
}

int perc_tunnel_md_failure(const perc_tunnel_md *md) { return md ? md->failure : PERC_OK; }

uint8_t perc_tunnel_md_version(const perc_tunnel_md *md) { return md ? md->version : 0; }

int perc_tunnel_md_association_of(const perc_tunnel_md *md, uint64_t handle, perc_uuid *out)
{
    if (!md || !out)
        return PERC_ERR_INVALID_ARG;
    const tunnel_assoc *a = tunnel_assoc_find_handle(&md->assocs, handle);
    if (!a)
        return PERC_ERR_NOT_FOUND;
    *out = a->id;
    return PERC_OK;
}

int perc_tunnel_md_handle_of(const perc_tunnel_md *md, const perc_uuid *id, uint64_t *out)
{
    if (!md || !id || !out)
        return PERC_ERR_INVALID_ARG;
    const tunnel_assoc *a = tunnel_assoc_find_id(&md->assocs, id);
    if (!a)
        return PERC_ERR_NOT_FOUND;
    *out = a->handle;
    return PERC_OK;
}

size_t perc_tunnel_md_association_count(const perc_tunnel_md *md)
{
    return md ? md->assocs.count : 0;
}
