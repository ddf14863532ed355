/* RFC 9185 §6 tunnel messages: decode, encode, MediaKeys length check, and
 * the version-4 UUIDs used as association identifiers. */
#include "perc/tunnel.h"

#include <string.h>

#include "perc/hex.h"
#include "perc/profile.h"

/* Lower and upper bounds of the vectors, RFC 9185 §6.2-§6.5. */
#define PROFILES_MIN 2u
#define PROFILES_MAX 0xFFFFu
#define MKI_MAX 255u
#define KEY_MIN 1u
#define KEY_MAX 255u
#define DTLS_MIN 1u

int perc_tunnel_peek(const uint8_t *buf, size_t len, uint8_t *type, size_t *msg_len)
{
    perc_reader r;
    perc_reader_init(&r, buf, len);
    uint8_t t;
    uint16_t n;
    int rc;
    if ((rc = perc_read_u8(&r, &t)) || (rc = perc_read_u16(&r, &n)))
        return rc;
    *type = t;
    *msg_len = PERC_TUNNEL_HEADER_LEN + (size_t)n;
    return PERC_OK;
}

/* A vector with a `prefix`-octet length whose length must be in [min, max]
 * (the upper bound only matters where it is below what the prefix allows). */
static int read_bounded(perc_reader *r, unsigned prefix, size_t min, size_t max, perc_view *out)
{
    perc_view v;
    int rc = perc_read_vector(r, prefix, &v);
    if (rc)
        return rc;
    if (v.len < min || v.len > max)
        return PERC_ERR_MALFORMED;
    *out = v;
    return PERC_OK;
}

static int read_uuid(perc_reader *r, perc_uuid *u) { return perc_read_copy(r, u->b, PERC_UUID_LEN); }

static int decode_supported_profiles(perc_reader *r, perc_tunnel_supported_profiles *sp)
{
    int rc;
    if ((rc = perc_read_u8(r, &sp->version)))
        return rc;
    /* RFC 9185 §5.5: the version comes first so that a peer that knows
     * another version can still read it and answer UnsupportedVersion; the
     * rest of the body is in that version's format, so it is not parsed. */
    if (sp->version != PERC_TUNNEL_VERSION)
        return PERC_ERR_BAD_VERSION;
    if ((rc = read_bounded(r, 2, PROFILES_MIN, PROFILES_MAX, &sp->profiles)))
        return rc;
    /* Each SRTPProtectionProfile is two octets; an odd count cannot be a list. */
    if (sp->profiles.len % 2 != 0)
        return PERC_ERR_MALFORMED;
    return PERC_OK;
}

static int decode_media_keys(perc_reader *r, perc_tunnel_media_keys *mk)
{
    int rc;
    if ((rc = read_uuid(r, &mk->association_id)) || (rc = perc_read_u16(r, &mk->profile)) ||
        (rc = read_bounded(r, 1, 0, MKI_MAX, &mk->mki)) ||
        (rc = read_bounded(r, 1, KEY_MIN, KEY_MAX, &mk->client_key)) ||
        (rc = read_bounded(r, 1, KEY_MIN, KEY_MAX, &mk->server_key)) ||
        (rc = read_bounded(r, 1, KEY_MIN, KEY_MAX, &mk->client_salt)) ||
        (rc = read_bounded(r, 1, KEY_MIN, KEY_MAX, &mk->server_salt)))
        return rc;
    return PERC_OK;
}

static int decode_tunneled_dtls(perc_reader *r, perc_tunnel_tunneled_dtls *td)
{
    int rc;
    if ((rc = read_uuid(r, &td->association_id)) ||
        (rc = read_bounded(r, 2, DTLS_MIN, PERC_TUNNEL_MAX_DTLS, &td->dtls)))
        return rc;
    return PERC_OK;
}

int perc_tunnel_decode(const uint8_t *buf, size_t len, perc_tunnel_msg *out)
{
    perc_reader r, body;
    perc_reader_init(&r, buf, len);
    uint8_t type;
    int rc;
    if ((rc = perc_read_u8(&r, &type)) || (rc = perc_read_block(&r, 2, &body)))
        return rc;

    perc_tunnel_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.body = perc_view_of(body.buf, body.len);
    out->type = m.type;
    out->body = m.body;

    if ((rc = perc_reader_expect_end(&r)))
        return rc;

    switch (type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES:
        rc = decode_supported_profiles(&body, &m.supported_profiles);
        break;
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        rc = perc_read_u8(&body, &m.unsupported_version.highest_version);
        break;
    case PERC_TUNNEL_MEDIA_KEYS:
        rc = decode_media_keys(&body, &m.media_keys);
        break;
    case PERC_TUNNEL_TUNNELED_DTLS:
        rc = decode_tunneled_dtls(&body, &m.tunneled_dtls);
        break;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        rc = read_uuid(&body, &m.endpoint_disconnect.association_id);
        break;
    default:
        /* RFC 9185 §9: the explicit length lets a reader skip what it does
         * not know; deciding to skip or to close is the caller's. */
        return PERC_ERR_UNSUPPORTED;
    }
    if (rc == PERC_ERR_BAD_VERSION)
        out->supported_profiles.version = m.supported_profiles.version;
    if (rc == PERC_OK)
        rc = perc_reader_expect_end(&body);
    if (rc == PERC_OK)
        *out = m;
    return rc;
}

/* A caller-built view is usable if it has bytes behind its length. */
static int check_view(perc_view v, size_t min, size_t max)
{
    if (v.len > 0 && !v.ptr)
        return PERC_ERR_INVALID_ARG;
    if (v.len < min)
        return PERC_ERR_INVALID_ARG;
    if (v.len > max)
        return PERC_ERR_TOO_LARGE;
    return PERC_OK;
}

/* Validates m and computes its body length. */
static int body_len(const perc_tunnel_msg *m, size_t *out)
{
    int rc = PERC_OK;
    size_t n = 0;
    switch (m->type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES: {
        const perc_tunnel_supported_profiles *sp = &m->supported_profiles;
        if ((rc = check_view(sp->profiles, PROFILES_MIN, PROFILES_MAX)))
            return rc;
        if (sp->profiles.len % 2 != 0)
            return PERC_ERR_INVALID_ARG;
        n = 1 + 2 + sp->profiles.len;
        break;
    }
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        n = 1;
        break;
    case PERC_TUNNEL_MEDIA_KEYS: {
        const perc_tunnel_media_keys *mk = &m->media_keys;
        if ((rc = check_view(mk->mki, 0, MKI_MAX)) ||
            (rc = check_view(mk->client_key, KEY_MIN, KEY_MAX)) ||
            (rc = check_view(mk->server_key, KEY_MIN, KEY_MAX)) ||
            (rc = check_view(mk->client_salt, KEY_MIN, KEY_MAX)) ||
            (rc = check_view(mk->server_salt, KEY_MIN, KEY_MAX)))
            return rc;
        n = PERC_UUID_LEN + 2 + 5 + mk->mki.len + mk->client_key.len + mk->server_key.len +
            mk->client_salt.len + mk->server_salt.len;
        break;
    }
    case PERC_TUNNEL_TUNNELED_DTLS:
        if ((rc = check_view(m->tunneled_dtls.dtls, DTLS_MIN, PERC_TUNNEL_MAX_DTLS)))
            return rc;
        n = PERC_UUID_LEN + 2 + m->tunneled_dtls.dtls.len;
        break;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        n = PERC_UUID_LEN;
        break;
    default:
        return PERC_ERR_UNSUPPORTED;
    }
    if (n > PERC_TUNNEL_MAX_BODY)
        return PERC_ERR_TOO_LARGE;
    *out = n;
    return PERC_OK;
}

int perc_tunnel_encoded_len(const perc_tunnel_msg *m, size_t *len)
{
    size_t n;
    int rc = body_len(m, &n);
    if (rc == PERC_OK)
        *len = PERC_TUNNEL_HEADER_LEN + n;
    return rc;
}

static void write_view(perc_writer *w, unsigned prefix, perc_view v)
{
    perc_write_vector(w, prefix, v.ptr, v.len);
}

int perc_tunnel_encode(perc_writer *w, const perc_tunnel_msg *m)
{
    size_t n;
    int rc = body_len(m, &n);
    if (rc)
        return rc;
    if ((rc = perc_writer_error(w)))
        return rc;

    perc_write_u8(w, m->type);
    perc_block_mark body = perc_write_block_open(w, 2);
    switch (m->type) {
    case PERC_TUNNEL_SUPPORTED_PROFILES:
        perc_write_u8(w, m->supported_profiles.version);
        write_view(w, 2, m->supported_profiles.profiles);
        break;
    case PERC_TUNNEL_UNSUPPORTED_VERSION:
        perc_write_u8(w, m->unsupported_version.highest_version);
        break;
    case PERC_TUNNEL_MEDIA_KEYS: {
        const perc_tunnel_media_keys *mk = &m->media_keys;
        perc_write_bytes(w, mk->association_id.b, PERC_UUID_LEN);
        perc_write_u16(w, mk->profile);
        write_view(w, 1, mk->mki);
        write_view(w, 1, mk->client_key);
        write_view(w, 1, mk->server_key);
        write_view(w, 1, mk->client_salt);
        write_view(w, 1, mk->server_salt);
        break;
    }
    case PERC_TUNNEL_TUNNELED_DTLS:
        perc_write_bytes(w, m->tunneled_dtls.association_id.b, PERC_UUID_LEN);
        write_view(w, 2, m->tunneled_dtls.dtls);
        break;
    case PERC_TUNNEL_ENDPOINT_DISCONNECT:
        perc_write_bytes(w, m->endpoint_disconnect.association_id.b, PERC_UUID_LEN);
        break;
    default: /* unreachable: body_len() admits only the five types */
        break;
    }
    perc_write_block_close(w, body);
    return perc_writer_error(w);
}

int perc_tunnel_write_supported_profiles(perc_writer *w, uint8_t version, const uint16_t *ids,
                                         size_t n)
{
    if (n == 0 || !ids)
        return PERC_ERR_INVALID_ARG;
    /* The list plus version and vector length must fit the body. */
    if (n > (PERC_TUNNEL_MAX_BODY - 3) / 2)
        return PERC_ERR_TOO_LARGE;
    int rc = perc_writer_error(w);
    if (rc)
        return rc;
    perc_write_u8(w, PERC_TUNNEL_SUPPORTED_PROFILES);
    perc_block_mark body = perc_write_block_open(w, 2);
    perc_write_u8(w, version);
    perc_block_mark list = perc_write_block_open(w, 2);
    for (size_t i = 0; i < n; i++)
        perc_write_u16(w, ids[i]);
    perc_write_block_close(w, list);
    perc_write_block_close(w, body);
    return perc_writer_error(w);
}

size_t perc_tunnel_profile_count(const perc_tunnel_supported_profiles *sp)
{
    return sp->profiles.len / 2;
}

uint16_t perc_tunnel_profile_at(const perc_tunnel_supported_profiles *sp, size_t i)
{
    return perc_load_u16(sp->profiles.ptr + 2 * i);
}

bool perc_tunnel_profiles_contain(const perc_tunnel_supported_profiles *sp, uint16_t id)
{
    size_t n = perc_tunnel_profile_count(sp);
    for (size_t i = 0; i < n; i++) {
        if (perc_tunnel_profile_at(sp, i) == id)
            return true;
    }
    return false;
}

bool perc_tunnel_msg_is_secret(uint8_t type) { return type == PERC_TUNNEL_MEDIA_KEYS; }

int perc_tunnel_media_keys_check(const perc_tunnel_media_keys *mk)
{
    const perc_profile_info *p = perc_profile_lookup(mk->profile);
    if (!p)
        return PERC_ERR_UNSUPPORTED;
    if (mk->mki.len != 0)
        return PERC_ERR_UNSUPPORTED;
    size_t key_len = p->master_key_len;
    size_t salt_len = p->master_salt_len;
    if (p->is_double) {
        /* RFC 9185 §6.4 / RFC 8871 §6.2: only the outer (hop-by-hop) half
         * of the key and of the salt reaches the Media Distributor. */
        key_len /= 2;
        salt_len /= 2;
    }
    if (mk->client_key.len != key_len || mk->server_key.len != key_len ||
        mk->client_salt.len != salt_len || mk->server_salt.len != salt_len)
        return PERC_ERR_KEY_LENGTH;
    return PERC_OK;
}

void perc_uuid_v4_from_random(perc_uuid *out, const uint8_t random[PERC_UUID_LEN])
{
    memcpy(out->b, random, PERC_UUID_LEN);
    /* RFC 4122 §4.4: version 4 in the high nibble of octet 6, variant 10 in
     * the top two bits of octet 8. */
    out->b[6] = (uint8_t)((out->b[6] & 0x0F) | 0x40);
    out->b[8] = (uint8_t)((out->b[8] & 0x3F) | 0x80);
}

bool perc_uuid_is_v4(const perc_uuid *u)
{
    return (u->b[6] & 0xF0) == 0x40 && (u->b[8] & 0xC0) == 0x80;
}

bool perc_uuid_equal(const perc_uuid *a, const perc_uuid *b)
{
    return memcmp(a->b, b->b, PERC_UUID_LEN) == 0;
}

/* Text positions of the four hyphens in 8-4-4-4-12. */
static bool is_hyphen_pos(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int perc_uuid_format(const perc_uuid *u, char *out, size_t cap)
{
    static const char DIGITS[] = "0123456789abcdef";
    if (!out || cap < PERC_UUID_TEXT_LEN + 1)
        return PERC_ERR_NOSPACE;
    size_t o = 0;
    for (size_t i = 0; i < PERC_UUID_LEN; i++) {
        if (is_hyphen_pos(o))
            out[o++] = '-';
        out[o++] = DIGITS[u->b[i] >> 4];
        out[o++] = DIGITS[u->b[i] & 0x0F];
    }
    out[o] = '\0';
    return PERC_OK;
}

int perc_uuid_parse(const char *text, size_t len, perc_uuid *out)
{
    if (!text || len != PERC_UUID_TEXT_LEN)
        return PERC_ERR_MALFORMED;
    perc_uuid u;
    size_t n = 0;
    for (size_t i = 0; i < PERC_UUID_TEXT_LEN;) {
        if (is_hyphen_pos(i)) {
            if (text[i] != '-')
                return PERC_ERR_MALFORMED;
            i++;
            continue;
        }
        int hi = perc_hex_digit(text[i]);
        int lo = perc_hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0)
            return PERC_ERR_MALFORMED;
        u.b[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *out = u;
    return PERC_OK;
}
