/* Messages of the Media Distributor <-> Key Distributor tunnel (RFC 9185 §6)
 * and the association identifiers they carry.
 *
 * Every message is `msg_type(1) | length(2) | body(length)` on the TLS byte
 * stream. perc_tunnel_decode() takes exactly one whole message; reassembly
 * from TLS reads is perc/tunnel_framer.h's job.
 *
 * Decoding copies nothing: the variable fields of a perc_tunnel_msg are views
 * into the caller's buffer. MediaKeys holds hop-by-hop SRTP master keys and
 * salts, so a caller that decoded one from its own buffer must perc_wipe()
 * that buffer once the keys are installed (perc_tunnel_msg_is_secret() tells
 * which messages need it). The framer wipes its own buffer itself.
 */
#ifndef PERC_TUNNEL_H
#define PERC_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/bytes.h"
#include "perc/error.h"

/* RFC 9185 §6.1 MsgType registry values (0 is reserved). */
typedef enum perc_tunnel_type {
    PERC_TUNNEL_SUPPORTED_PROFILES = 1,
    PERC_TUNNEL_UNSUPPORTED_VERSION = 2,
    PERC_TUNNEL_MEDIA_KEYS = 3,
    PERC_TUNNEL_TUNNELED_DTLS = 4,
    PERC_TUNNEL_ENDPOINT_DISCONNECT = 5,
} perc_tunnel_type;

#define PERC_TUNNEL_VERSION 0x00           /* RFC 9185 §6.2: this protocol's version */
#define PERC_TUNNEL_HEADER_LEN 3           /* msg_type + uint16 length */
#define PERC_TUNNEL_MAX_BODY 0xFFFFu
#define PERC_TUNNEL_MAX_MSG (PERC_TUNNEL_HEADER_LEN + PERC_TUNNEL_MAX_BODY)
/* A TunneledDtls body is uuid(16) + uint16 length + message, and the whole
 * body must fit the 16-bit outer length: 65535 - 18. */
#define PERC_TUNNEL_MAX_DTLS 65517u

#define PERC_UUID_LEN 16
#define PERC_UUID_TEXT_LEN 36              /* 8-4-4-4-12 hex digits, no NUL */

/* An association identifier (RFC 9185 §5.3: a version-4 UUID). */
typedef struct perc_uuid {
    uint8_t b[PERC_UUID_LEN];
} perc_uuid;

typedef struct perc_tunnel_supported_profiles {
    uint8_t version;
    /* The raw protection_profiles vector: 2 octets per profile, network
     * order, non-empty. Read it with perc_tunnel_profile_count/_at. */
    perc_view profiles;
} perc_tunnel_supported_profiles;

typedef struct perc_tunnel_unsupported_version {
    uint8_t highest_version;
} perc_tunnel_unsupported_version;

/* client_write_*: the endpoint's sending direction, which the MD decrypts;
 * server_write_*: the MD's direction towards the endpoint. For the double
 * profiles these are only the hop-by-hop halves. */
typedef struct perc_tunnel_media_keys {
    perc_uuid association_id;
    uint16_t profile;
    perc_view mki;                  /* 0..255 octets; empty means no MKI */
    perc_view client_key;           /* 1..255 octets each */
    perc_view server_key;
    perc_view client_salt;
    perc_view server_salt;
} perc_tunnel_media_keys;

typedef struct perc_tunnel_tunneled_dtls {
    perc_uuid association_id;
    perc_view dtls;                 /* 1..PERC_TUNNEL_MAX_DTLS octets of DTLS records */
} perc_tunnel_tunneled_dtls;

typedef struct perc_tunnel_endpoint_disconnect {
    perc_uuid association_id;
} perc_tunnel_endpoint_disconnect;

typedef struct perc_tunnel_msg {
    uint8_t type;                   /* a perc_tunnel_type, or an unknown value when decoded */
    perc_view body;                 /* decode: the whole body; ignored by encode */
    union {
        perc_tunnel_supported_profiles supported_profiles;
        perc_tunnel_unsupported_version unsupported_version;
        perc_tunnel_media_keys media_keys;
        perc_tunnel_tunneled_dtls tunneled_dtls;
        perc_tunnel_endpoint_disconnect endpoint_disconnect;
    };
} perc_tunnel_msg;

/* Reads the 3-octet header at the start of buf: *type and *msg_len (header
 * plus body, 3..PERC_TUNNEL_MAX_MSG). Needs only the header, not the body.
 * Errors: PERC_ERR_TRUNCATED (fewer than 3 octets). */
PERC_MUST_CHECK int perc_tunnel_peek(const uint8_t *buf, size_t len, uint8_t *type, size_t *msg_len);

/* Decodes exactly one whole message from buf[0..len).
 *
 * Once the header and the whole body are present, out->type and out->body
 * are set whatever the outcome, so a caller can log or skip the message;
 * the type-specific fields are valid only on PERC_OK (and the version on
 * PERC_ERR_BAD_VERSION). Views point into buf.
 *
 * Errors:
 *   PERC_ERR_TRUNCATED    buf ends before the header or the body does, or a
 *                         field runs past the end of the body
 *   PERC_ERR_TRAILING     octets after the message, or left over inside the
 *                         body after its last field
 *   PERC_ERR_MALFORMED    a vector below its lower bound (empty key, salt or
 *                         dtls_message, profile list empty or of odd length)
 *   PERC_ERR_UNSUPPORTED  msg_type is not one of the five (RFC 9185 §9: the
 *                         message can be skipped; the length is trusted)
 *   PERC_ERR_BAD_VERSION  a SupportedProfiles whose version is not
 *                         PERC_TUNNEL_VERSION; out->supported_profiles.version
 *                         holds it (the rest of the body, in that version's
 *                         format, is not parsed). A Key Distributor answers
 *                         with UnsupportedVersion (RFC 9185 §5.5).
 */
PERC_MUST_CHECK int perc_tunnel_decode(const uint8_t *buf, size_t len, perc_tunnel_msg *out);

/* Size perc_tunnel_encode() would write for m. Errors as perc_tunnel_encode
 * except PERC_ERR_NOSPACE. */
PERC_MUST_CHECK int perc_tunnel_encoded_len(const perc_tunnel_msg *m, size_t *len);

/* Appends m (m->body is ignored) to w, with the length back-patched. m is
 * checked in full before anything is written, so on an argument error w is
 * untouched. A SupportedProfiles of any version is written in this
 * version's format (tests use that to play a newer peer). Errors:
 *   PERC_ERR_UNSUPPORTED  m->type is not one of the five
 *   PERC_ERR_INVALID_ARG  a vector below its lower bound (see decode), or a
 *                         NULL view with a non-zero length
 *   PERC_ERR_TOO_LARGE    a vector above its upper bound, dtls longer than
 *                         PERC_TUNNEL_MAX_DTLS, or a body over 65535 octets
 *   PERC_ERR_NOSPACE      (or an earlier sticky error of w) w is full
 */
PERC_MUST_CHECK int perc_tunnel_encode(perc_writer *w, const perc_tunnel_msg *m);

/* Appends a SupportedProfiles message listing ids[0..n) in that order.
 * Errors as perc_tunnel_encode (n == 0 is PERC_ERR_INVALID_ARG). */
PERC_MUST_CHECK int perc_tunnel_write_supported_profiles(perc_writer *w, uint8_t version,
                                                         const uint16_t *ids, size_t n);

/* Number of profiles in a decoded SupportedProfiles list. */
size_t perc_tunnel_profile_count(const perc_tunnel_supported_profiles *sp);
/* Profile i (i < count). */
uint16_t perc_tunnel_profile_at(const perc_tunnel_supported_profiles *sp, size_t i);
bool perc_tunnel_profiles_contain(const perc_tunnel_supported_profiles *sp, uint16_t id);

/* True for the message types whose bytes hold secrets (MediaKeys). */
bool perc_tunnel_msg_is_secret(uint8_t type);

/* Checks a MediaKeys message against what this code can install:
 *   - the profile is one perc_profile_lookup() knows;
 *   - for a double profile (RFC 8723 §3, RFC 9185 §6.4) each key is half the
 *     profile's master key and each salt is 12 octets: the hop-by-hop halves.
 *     RFC 9185 only says the key is halved; we follow RFC 8871 §6.2, which
 *     halves the salt too (spec README item 9);
 *   - for a single-layer profile, the profile's key and salt lengths;
 *   - no MKI (RFC 8870: MKI is not used together with EKT).
 * Errors: PERC_ERR_UNSUPPORTED (unknown profile, or an MKI),
 * PERC_ERR_KEY_LENGTH (a key or salt of the wrong length). */
PERC_MUST_CHECK int perc_tunnel_media_keys_check(const perc_tunnel_media_keys *mk);

/* Association identifiers. */

/* Makes a version-4 UUID (RFC 4122 §4.4) from 16 caller-supplied random
 * octets: the version nibble becomes 4 and the variant bits 10; the other
 * 122 bits are the caller's. */
void perc_uuid_v4_from_random(perc_uuid *out, const uint8_t random[PERC_UUID_LEN]);

/* True if the version nibble is 4 and the variant is RFC 4122's. */
bool perc_uuid_is_v4(const perc_uuid *u);

bool perc_uuid_equal(const perc_uuid *a, const perc_uuid *b);

/* Writes the canonical lowercase 8-4-4-4-12 form and a NUL (37 octets).
 * Errors: PERC_ERR_NOSPACE (cap < PERC_UUID_TEXT_LEN + 1). */
PERC_MUST_CHECK int perc_uuid_format(const perc_uuid *u, char *out, size_t cap);

/* Parses exactly PERC_UUID_TEXT_LEN characters of 8-4-4-4-12 text (hex in
 * either case; no braces, no "urn:uuid:"). Errors: PERC_ERR_MALFORMED. */
PERC_MUST_CHECK int perc_uuid_parse(const char *text, size_t len, perc_uuid *out);

#endif
