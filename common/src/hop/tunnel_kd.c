/* The Key Distributor's side of one RFC 9185 tunnel connection; see
 * perc/tunnel_kd.h. */
#include "perc/tunnel_kd.h"

#include <stdlib.h>
#include <string.h>

#include "perc/tunnel_framer.h"
#include "tunnel_assoc.h"
#include "tunnel_outq.h"

struct perc_tunnel_kd {
    perc_tunnel_kd_event_fn on_event;
    void *event_user;
    size_t max_associations;
    perc_tunnel_kd_state state;
    int failure;
    bool in_callback;
    uint64_t last_activity;
    uint8_t *profiles;          /* the MD's list as received, 2 octets each */
    size_t profiles_len;
    perc_tunnel_framer *framer;
    tunnel_outq out;
    tunnel_assoc_table assocs;  /* by id only; handle unused */
};

int perc_tunnel_kd_new(const perc_tunnel_kd_config *cfg, uint64_t now, perc_tunnel_kd **out)
{
    if (!cfg || !out || !cfg->on_event)
        return PERC_ERR_INVALID_ARG;
    perc_tunnel_kd *kd = calloc(1, sizeof *kd);
    if (!kd)
        return PERC_ERR_NOMEM;
    int rc = perc_tunnel_framer_new(&kd->framer);
    if (rc) {
        free(kd);
        return rc;
    }
    kd->on_event = cfg->on_event;
    kd->event_user = cfg->event_user;
    kd->max_associations =
        cfg->max_associations ? cfg->max_associations : PERC_TUNNEL_KD_DEFAULT_MAX_ASSOCIATIONS;
    kd->state = PERC_TUNNEL_KD_AWAIT_PROFILES;
    kd->last_activity = now;
    tunnel_outq_init(&kd->out, cfg->max_queued);
    tunnel_assoc_init(&kd->assocs, false);
    *out = kd;
    return PERC_OK;
}

void perc_tunnel_kd_free(perc_tunnel_kd *kd)
{
    if (!kd)
        return;
    perc_tunnel_framer_free(kd->framer);
    tunnel_outq_free(&kd->out); /* wipes queued MediaKeys */
    tunnel_assoc_free(&kd->assocs);
    free(kd->profiles);
    free(kd);
}

static void emit(perc_tunnel_kd *kd, const perc_tunnel_kd_event *ev)
{
    kd->in_callback = true;
    kd->on_event(kd->event_user, ev);
    kd->in_callback = false;
}

static void emit_simple(perc_tunnel_kd *kd, perc_tunnel_kd_event_type type, const perc_uuid *id)
{
    perc_tunnel_kd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    if (id)
        ev.association_id = *id;
    emit(kd, &ev);
}

static void emit_dropped(perc_tunnel_kd *kd, uint8_t msg_type, int error, const perc_uuid *id)
{
    perc_tunnel_kd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_KD_DROPPED;
    ev.msg_type = msg_type;
    ev.error = error;
    if (id)
        ev.association_id = *id;
    emit(kd, &ev);
}

/* ---- from the Media Distributor ---------------------------------------- */

static int on_first(perc_tunnel_kd *kd, const perc_tunnel_msg *m, int decode_rc)
{
    if (m->type != PERC_TUNNEL_SUPPORTED_PROFILES)
        return PERC_ERR_UNSUPPORTED; /* RFC 9185 §5.3: it must come first */
    if (decode_rc == PERC_ERR_BAD_VERSION) {
        /* RFC 9185 §5.5: name the highest version we speak, then close. */
        perc_tunnel_msg uv;
        memset(&uv, 0, sizeof uv);
        uv.type = PERC_TUNNEL_UNSUPPORTED_VERSION;
        uv.unsupported_version.highest_version = PERC_TUNNEL_VERSION;
        int rc = tunnel_outq_push(&kd->out, &uv);
        return rc ? rc : PERC_ERR_BAD_VERSION;
    }
    if (decode_rc)
        return decode_rc;
    const perc_view *list = &m->supported_profiles.profiles;
    kd->profiles = malloc(list->len);
    if (!kd->profiles)
        return PERC_ERR_NOMEM;
    memcpy(kd->profiles, list->ptr, list->len);
    kd->profiles_len = list->len;
    kd->state = PERC_TUNNEL_KD_OPEN;
    emit_simple(kd, PERC_TUNNEL_KD_PROFILES, NULL);
    return PERC_OK;
}

static int on_dtls(perc_tunnel_kd *kd, const perc_tunnel_tunneled_dtls *td)
{
    const perc_uuid *id = &td->association_id;
    if (!tunnel_assoc_find_id(&kd->assocs, id)) {
        if (kd->assocs.count >= kd->max_associations) {
            emit_dropped(kd, PERC_TUNNEL_TUNNELED_DTLS, PERC_ERR_LIMIT, id);
            return PERC_OK;
        }
        int rc = tunnel_assoc_add(&kd->assocs, id, 0);
        if (rc)
            return rc;
        emit_simple(kd, PERC_TUNNEL_KD_NEW_ASSOCIATION, id);
        /* The callback may have refused it with perc_tunnel_kd_disconnect. */
        if (!tunnel_assoc_find_id(&kd->assocs, id))
            return PERC_OK;
    }
    perc_tunnel_kd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_KD_DTLS;
    ev.association_id = *id;
    ev.dtls = td->dtls;
    emit(kd, &ev);
    return PERC_OK;
}

static void on_disconnect(perc_tunnel_kd *kd, const perc_uuid *id)
{
    tunnel_assoc *a = tunnel_assoc_find_id(&kd->assocs, id);
    perc_tunnel_kd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PERC_TUNNEL_KD_MD_DISCONNECT;
    ev.association_id = *id;
    ev.known = a != NULL;
    if (a)
        tunnel_assoc_remove(&kd->assocs, a);
    emit(kd, &ev);
}

static bool same_profiles(const perc_tunnel_kd *kd, const perc_tunnel_supported_profiles *sp)
{
    return sp->profiles.len == kd->profiles_len &&
           memcmp(sp->profiles.ptr, kd->profiles, kd->profiles_len) == 0;
}

/* One message after the first. Returns PERC_OK to go on or the error that
 * fails the connection. */
static int on_message(perc_tunnel_kd *kd, const perc_tunnel_msg *m, int decode_rc)
{
    if (decode_rc == PERC_ERR_UNSUPPORTED) {
        /* RFC 9185 §9: an unknown type is framed by its length; skip it. */
        emit_dropped(kd, m->type, PERC_ERR_UNSUPPORTED, NULL);
        return PERC_OK;
    }
    if (decode_rc == PERC_ERR_BAD_VERSION) /* a SupportedProfiles switching version */
        return PERC_ERR_UNSUPPORTED;
    if (decode_rc)
        return decode_rc;
    switch (m->type) {
    case PERC_TUNNEL_TUNNELED_DTLS:
        return on_dtls(kd, &m->tunneled_dtls);
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        on_disconnect(kd, &m->endpoint_disconnect.association_id);
        return PERC_OK;
    case PERC_TUNNEL_SUPPORTED_PROFILES:
        /* RFC 9185 §5.3: the list may not change during the connection; a
         * repetition of the same one is harmless. */
        return same_profiles(kd, &m->supported_profiles) ? PERC_OK : PERC_ERR_UNSUPPORTED;
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
    case PERC_TUNNEL_MEDIA_KEYS:
    default:
        /* Only a Key Distributor sends these. */
        return PERC_ERR_UNSUPPORTED;
    }
}

static int fail(perc_tunnel_kd *kd, int err)
{
    kd->state = PERC_TUNNEL_KD_FAILED;
    kd->failure = err;
    return err;
}

int perc_tunnel_kd_recv(perc_tunnel_kd *kd, const uint8_t *data, size_t len, uint64_t now)
{
    if (!kd || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    if (kd->in_callback)
        return PERC_ERR_STATE;
    if (kd->state == PERC_TUNNEL_KD_FAILED)
        return kd->failure;
    if (len > 0)
        kd->last_activity = now;
    while (len > 0) {
        size_t took = 0;
        int rc = perc_tunnel_framer_feed(kd->framer, data, len, &took);
        if (rc) /* cannot happen: whole messages are pulled after every feed */
            return fail(kd, rc);
        data += took;
        len -= took;
        for (;;) {
            perc_tunnel_msg m;
            bool have = false;
            rc = perc_tunnel_framer_next(kd->framer, &m, &have);
            if (!have)
                break;
            if (kd->state == PERC_TUNNEL_KD_AWAIT_PROFILES)
                rc = on_first(kd, &m, rc);
            else
                rc = on_message(kd, &m, rc);
            if (rc)
                return fail(kd, rc);
        }
    }
    return PERC_OK;
}

int perc_tunnel_kd_pending_send(perc_tunnel_kd *kd, uint8_t *buf, size_t cap, size_t *len)
{
    if (!kd || !len || (cap > 0 && !buf))
        return PERC_ERR_INVALID_ARG;
    tunnel_outq_pull(&kd->out, buf, cap, len);
    return PERC_OK;
}

size_t perc_tunnel_kd_pending_len(const perc_tunnel_kd *kd)
{
    return kd ? tunnel_outq_len(&kd->out) : 0;
}

/* ---- to the Media Distributor ------------------------------------------ */

/* Common checks of the send functions. */
static int can_send(const perc_tunnel_kd *kd, const perc_uuid *id)
{
    if (kd->state != PERC_TUNNEL_KD_OPEN)
        return PERC_ERR_STATE;
    if (!tunnel_assoc_find_id(&kd->assocs, id))
        return PERC_ERR_NOT_FOUND;
    return PERC_OK;
}

int perc_tunnel_kd_send_dtls(perc_tunnel_kd *kd, const perc_uuid *id, const uint8_t *data,
                             size_t len)
{
    if (!kd || !id || !data || len == 0)
        return PERC_ERR_INVALID_ARG;
    if (len > PERC_TUNNEL_MAX_DTLS)
        return PERC_ERR_TOO_LARGE;
    int rc = can_send(kd, id);
    if (rc)
        return rc;
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_TUNNELED_DTLS;
    m.tunneled_dtls.association_id = *id;
    m.tunneled_dtls.dtls = perc_view_of(data, len);
    return tunnel_outq_push(&kd->out, &m);
}

bool perc_tunnel_kd_offers_profile(const perc_tunnel_kd *kd, uint16_t profile)
{
    if (!kd)
        return false;
    for (size_t i = 0; i < kd->profiles_len; i += 2) {
        if (perc_load_u16(kd->profiles + i) == profile)
            return true;
    }
    return false;
}

int perc_tunnel_kd_send_media_keys(perc_tunnel_kd *kd, const perc_tunnel_media_keys *mk)
{
    if (!kd || !mk)
        return PERC_ERR_INVALID_ARG;
    int rc = can_send(kd, &mk->association_id);
    if (rc)
        return rc;
    if ((rc = perc_tunnel_media_keys_check(mk)))
        return rc;
    /* RFC 9185 §5.4: the profile must be one this MD supports. */
    if (!perc_tunnel_kd_offers_profile(kd, mk->profile))
        return PERC_ERR_UNSUPPORTED;
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_MEDIA_KEYS;
    m.media_keys = *mk;
    return tunnel_outq_push(&kd->out, &m);
}

int perc_tunnel_kd_disconnect(perc_tunnel_kd *kd, const perc_uuid *id)
{
    if (!kd || !id)
        return PERC_ERR_INVALID_ARG;
    int rc = can_send(kd, id);
    if (rc)
        return rc;
    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = PERC_TUNNEL_ENDPOINT_DISCONNECT;
    m.endpoint_disconnect.association_id = *id;
    if ((rc = tunnel_outq_push(&kd->out, &m)))
        return rc;
    tunnel_assoc *a = tunnel_assoc_find_id(&kd->assocs, id);
    if (a)
        tunnel_assoc_remove(&kd->assocs, a);
    return PERC_OK;
}

int perc_tunnel_kd_adopt(perc_tunnel_kd *kd, const perc_uuid *id)
{
    if (!kd || !id)
        return PERC_ERR_INVALID_ARG;
    if (kd->state != PERC_TUNNEL_KD_OPEN)
        return PERC_ERR_STATE;
    if (tunnel_assoc_find_id(&kd->assocs, id))
        return PERC_OK;
    if (kd->assocs.count >= kd->max_associations)
        return PERC_ERR_LIMIT;
    return tunnel_assoc_add(&kd->assocs, id, 0);
}

/* ---- queries ----------------------------------------------------------- */

perc_tunnel_kd_state perc_tunnel_kd_get_state(const perc_tunnel_kd *kd)
{
    return kd ? kd->state : PERC_TUNNEL_KD_FAILED;
}

int perc_tunnel_kd_failure(const perc_tunnel_kd *kd) { return kd ? kd->failure : PERC_OK; }

size_t perc_tunnel_kd_profile_count(const perc_tunnel_kd *kd)
{
    return kd ? kd->profiles_len / 2 : 0;
}

uint16_t perc_tunnel_kd_profile_at(const perc_tunnel_kd *kd, size_t i)
{
    if (!kd || i >= kd->profiles_len / 2)
        return 0;
    return perc_load_u16(kd->profiles + 2 * i);
}

bool perc_tunnel_kd_knows(const perc_tunnel_kd *kd, const perc_uuid *id)
{
    return kd && id && tunnel_assoc_find_id(&kd->assocs, id) != NULL;
}

size_t perc_tunnel_kd_association_count(const perc_tunnel_kd *kd)
{
    return kd ? kd->assocs.count : 0;
}

uint64_t perc_tunnel_kd_last_activity(const perc_tunnel_kd *kd)
{
    return kd ? kd->last_activity : 0;
}
