/* perc-signaling messages (docs/signaling.md): a typed model and a
 * length-bounded JSON codec.
 *
 * One flat struct, tagged by `type`, holds any message; which members a
 * type uses is the table of docs/signaling.md §4 (repeated at the
 * perc_sig_type values below). String members are NULL when absent.
 *
 * Decoding checks everything the document says about a message: JSON and
 * UTF-8 validity, the envelope (`id` only on requests, `re` only on
 * replies), every member's presence, JSON type and bounds, members given
 * twice, the per-role rules of `hello`, the SDP of `join`,
 * `endpoint-offer` (an offer) and `answer` (an answer) with perc_sdp_parse
 * and perc_sdp_check_perc plus the PERC role rules (docs/signaling.md
 * §2.1), and each candidate with perc_sdp_candidate_parse. A failure says
 * which member and what was wrong (perc_sig_error), with the error code the
 * reply should carry, and the message's `id` when it had a usable one so
 * the reply can carry `re`.
 *
 * Encoding validates the same way (a message the decoder would reject is
 * never written) and writes compact JSON with the members in a fixed order:
 * `type`, `id`/`re`, then the members in the order of the document.
 * decode(encode(m)) equals m.
 *
 * Decoded strings point into storage owned by the message (the parsed JSON
 * tree): release it with perc_sig_msg_clear(), which also wipes the
 * `token`. For encoding, the caller points the members at its own strings.
 *
 * This module is in perc_hop: the Media Distributor links it.
 */
#ifndef PERC_SIGNALING_H
#define PERC_SIGNALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/sdp.h"

#define PERC_SIG_SUBPROTOCOL "perc-signaling.v1"

/* ---- Bounds (docs/signaling.md §1, §2) ---- */

#define PERC_SIG_MAX_MESSAGE 65536      /* bytes of one JSON message */
#define PERC_SIG_MAX_DEPTH 16           /* JSON nesting */
#define PERC_SIG_MAX_MEMBERS 64         /* members of one object */
#define PERC_SIG_MAX_ID 64              /* request ids: printable ASCII */
#define PERC_SIG_MAX_NAME 64            /* conference, participant, daemon, link, session names */
#define PERC_SIG_MAX_IDENTITY 128       /* bytes of UTF-8 */
#define PERC_SIG_MAX_TOKEN 256          /* printable ASCII */
#define PERC_SIG_MAX_REASON 256         /* bytes of UTF-8 */
#define PERC_SIG_MAX_FIELD 64           /* error "field" */
#define PERC_SIG_MAX_CANDIDATE (PERC_SDP_MAX_LINE - 2)  /* bytes, without "a=" */
#define PERC_SIG_MAX_CANDIDATES 16
#define PERC_SIG_MAX_SSRCS 64
#define PERC_SIG_MAX_CAPACITY 1000000u
#define PERC_SIG_MAX_MEMBERS_COUNT 1000000u
#define PERC_SIG_MAX_SPI 65535u         /* RFC 8870 §4.1: the SPI is 16 bits */

/* ---- Enumerations ---- */

/* Message types; `[members]` as in docs/signaling.md §4. */
typedef enum perc_sig_type {
    PERC_SIG_NONE = 0,
    PERC_SIG_HELLO,             /* request  [role token conference name capacity cascade
                                 *           fingerprint] */
    PERC_SIG_WELCOME,           /* reply    [session] */
    PERC_SIG_ERROR,             /* reply/event [re? code reason field?] */
    PERC_SIG_OK,                /* reply    [] */
    PERC_SIG_JOIN,              /* request  [conference identity sdp] */
    PERC_SIG_ANSWER,            /* reply    [sdp participant mdd] */
    PERC_SIG_CANDIDATE,         /* event    [mid candidate] */
    PERC_SIG_LEAVE,             /* request  [] */
    PERC_SIG_JOINED,            /* event    [conference participant identity ssrcs] */
    PERC_SIG_LEFT,              /* event    [conference participant reason] */
    PERC_SIG_ENDED,             /* event    [conference reason] */
    PERC_SIG_PARTICIPANT,       /* request  [conference participant identity fingerprint tls_id] */
    PERC_SIG_ADMIT,             /* reply    [fingerprint tls_id] */
    PERC_SIG_REFUSE,            /* reply    [reason] */
    PERC_SIG_KEYED,             /* event    [conference participant] */
    PERC_SIG_PARTICIPANT_LEFT,  /* event    [conference participant reason] */
    PERC_SIG_EPOCH,             /* event    [conference spi members] */
    PERC_SIG_ENDPOINT_OFFER,    /* request  [conference participant sdp] */
    PERC_SIG_ENDPOINT_ANSWER,   /* reply    [ice_ufrag ice_pwd ice_lite candidates
                                 *           end_of_candidates?] */
    PERC_SIG_ENDPOINT_CANDIDATE, /* event   [conference participant mid candidate] */
    PERC_SIG_ENDPOINT_LEAVE,    /* event    [conference participant reason] */
    PERC_SIG_ENDPOINT_GONE,     /* event    [conference participant reason] */
    PERC_SIG_LINK,              /* request  [conference link peer dtls_role] */
    PERC_SIG_LINK_INFO,         /* reply    [ice_ufrag ice_pwd fingerprint candidates] */
    PERC_SIG_LINK_PEER,         /* event    [conference link peer ice_ufrag ice_pwd fingerprint
                                 *           candidates] */
    PERC_SIG_UNLINK,            /* event    [conference link reason] */
    PERC_SIG_TYPE_COUNT
} perc_sig_type;

typedef enum perc_sig_kind {
    PERC_SIG_KIND_REQUEST = 1,  /* carries "id", gets one reply */
    PERC_SIG_KIND_REPLY = 2,    /* carries "re" (optional for error) */
    PERC_SIG_KIND_EVENT = 3,
} perc_sig_kind;

typedef enum perc_sig_role {
    PERC_SIG_ROLE_NONE = 0,
    PERC_SIG_ROLE_ENDPOINT = 1,
    PERC_SIG_ROLE_MDD = 2,
    PERC_SIG_ROLE_KMF = 3,
} perc_sig_role;

/* Who may send a type (bits of perc_sig_senders()). */
#define PERC_SIG_FROM_ENDPOINT 1u
#define PERC_SIG_FROM_MDD 2u
#define PERC_SIG_FROM_KMF 4u
#define PERC_SIG_FROM_SIGNALING 8u

/* Error codes (docs/signaling.md §5). */
typedef enum perc_sig_code {
    PERC_SIG_E_NONE = 0,
    PERC_SIG_E_BAD_JSON,
    PERC_SIG_E_BAD_MESSAGE,
    PERC_SIG_E_UNKNOWN_TYPE,
    PERC_SIG_E_TOO_LARGE,
    PERC_SIG_E_BAD_SDP,
    PERC_SIG_E_NOT_AUTHENTICATED,
    PERC_SIG_E_AUTH_FAILED,
    PERC_SIG_E_FORBIDDEN,
    PERC_SIG_E_BAD_STATE,
    PERC_SIG_E_UNKNOWN_CONFERENCE,
    PERC_SIG_E_UNKNOWN_PARTICIPANT,
    PERC_SIG_E_UNKNOWN_REQUEST,
    PERC_SIG_E_DUPLICATE,
    PERC_SIG_E_REFUSED,
    PERC_SIG_E_UNAVAILABLE,
    PERC_SIG_E_LIMIT,
    PERC_SIG_E_RATE_LIMITED,
    PERC_SIG_E_TIMEOUT,
    PERC_SIG_E_INTERNAL,
    PERC_SIG_E_COUNT
} perc_sig_code;

typedef enum perc_sig_dtls_role {
    PERC_SIG_DTLS_NONE = 0,
    PERC_SIG_DTLS_CLIENT = 1,
    PERC_SIG_DTLS_SERVER = 2,
} perc_sig_dtls_role;

/* ---- Model ---- */

/* One entry of joined.ssrcs. */
typedef struct perc_sig_ssrc {
    uint32_t ssrc;
    perc_sdp_media_type kind;       /* PERC_SDP_AUDIO or PERC_SDP_VIDEO */
    const char *mid;
} perc_sig_ssrc;

typedef struct perc_sig_msg {
    perc_sig_type type;
    const char *id;                 /* requests */
    const char *re;                 /* replies */

    perc_sig_role role;             /* hello */
    const char *token;              /* hello; a secret */
    const char *conference;
    const char *name;               /* hello (mdd, kmf) */
    uint32_t capacity;              /* hello (mdd); 0 = absent */
    bool cascade;                   /* hello (mdd) */
    const char *fingerprint;        /* "sha-256 AB:CD:..." */
    const char *identity;
    const char *participant;
    const char *sdp;
    const char *session;            /* welcome */
    const char *mdd;                /* answer */
    const char *tls_id;             /* JSON "tls-id" */
    const char *reason;
    perc_sig_code code;             /* error */
    const char *field;              /* error, optional */
    const char *mid;
    const char *candidate;          /* "" = end of candidates */
    const char *ice_ufrag;          /* JSON "ice-ufrag" */
    const char *ice_pwd;            /* JSON "ice-pwd" */
    bool ice_lite;                  /* JSON "ice-lite" */
    bool end_of_candidates;         /* JSON "end-of-candidates" */
    const char *candidates[PERC_SIG_MAX_CANDIDATES];
    size_t candidate_count;
    uint16_t spi;
    uint32_t members;
    perc_sig_ssrc ssrcs[PERC_SIG_MAX_SSRCS];
    size_t ssrc_count;
    const char *link;
    const char *peer;
    perc_sig_dtls_role dtls_role;   /* JSON "dtls-role" */

    /* Set by perc_sig_decode for join, endpoint-offer and answer: the SDP
     * parsed (heap, owned by the message). Ignored by encode and equal. */
    perc_sdp *sdp_model;
    /* Decoder-owned storage; do not touch. */
    void *priv_;
} perc_sig_msg;

/* Why decoding (or encoding) failed. */
typedef struct perc_sig_error {
    perc_sig_code code;             /* for the error reply: BAD_JSON, BAD_MESSAGE,
                                     * UNKNOWN_TYPE, TOO_LARGE or BAD_SDP */
    const char *reason;             /* static text; NULL only on success */
    char field[PERC_SIG_MAX_FIELD + 1];  /* "sdp", "candidates[2]", "ssrcs[0].mid"; "" if none */
    unsigned sdp_line;              /* BAD_SDP: the SDP line (1-based), 0 if not about a line */
    char id[PERC_SIG_MAX_ID + 1];   /* the message's "id" if it had a valid one, else "" */
    perc_sig_type type;             /* the message's type if it was recognized, else NONE */
} perc_sig_error;

/* ---- Functions ---- */

/* A message with every member absent (type NONE). */
void perc_sig_msg_init(perc_sig_msg *m);

/* Frees what decode attached (wiping the token) and re-initializes. Safe on
 * an initialized or decoded message, and twice. */
void perc_sig_msg_clear(perc_sig_msg *m);

/* Decodes one message of `len` bytes (need not be NUL-terminated). `m` need
 * not be initialized; its previous content is not freed. On success call
 * perc_sig_msg_clear(m) when done; on failure m is left initialized (nothing
 * to free) and err (may be NULL) says what was wrong. Errors:
 *   PERC_ERR_TOO_LARGE    len > PERC_SIG_MAX_MESSAGE (err->code TOO_LARGE)
 *   PERC_ERR_MALFORMED    not JSON, not UTF-8, trailing bytes, too deep,
 *                         not an object (BAD_JSON), a member missing, of the
 *                         wrong type, out of bounds, duplicated, not allowed
 *                         (BAD_MESSAGE), an SDP that fails (BAD_SDP)
 *   PERC_ERR_UNSUPPORTED  "type" names no message of this version (UNKNOWN_TYPE)
 *   PERC_ERR_NOMEM        allocation failed for the SDP model (cJSON's own
 *                         allocation failures cannot be told from bad JSON)
 *   PERC_ERR_INVALID_ARG  text NULL with len > 0, or m NULL */
PERC_MUST_CHECK int perc_sig_decode(const char *text, size_t len, perc_sig_msg *m,
                                    perc_sig_error *err);

/* Writes `m` as compact JSON into out (cap bytes), NUL-terminated; *out_len
 * (may be NULL) gets the length without the NUL. Output never exceeds
 * PERC_SIG_MAX_MESSAGE bytes. Errors (err may be NULL; err->field names the
 * member):
 *   PERC_ERR_INVALID_ARG  a member the decoder would reject (missing,
 *                         malformed, not allowed for the type or role),
 *                         an unknown type, NULL m or out
 *   PERC_ERR_TOO_LARGE    the text would exceed PERC_SIG_MAX_MESSAGE
 *   PERC_ERR_NOSPACE      cap too small
 *   PERC_ERR_NOMEM        allocation failed (SDP validation) */
PERC_MUST_CHECK int perc_sig_encode(const perc_sig_msg *m, char *out, size_t cap,
                                    size_t *out_len, perc_sig_error *err);

/* Whether two messages have the same type and members (strings by value;
 * sdp_model and priv_ ignored). */
bool perc_sig_msg_equal(const perc_sig_msg *a, const perc_sig_msg *b);

/* Formats err as one line for an error reply's "reason" or a log:
 * "sdp line 12: a=ice-pwd: ...", "candidates[1]: ...", "not JSON". Always
 * NUL-terminates (truncating) when cap > 0; returns the length written. */
size_t perc_sig_error_text(const perc_sig_error *err, char *out, size_t cap);

/* Names and properties of the enumerations. The name functions return NULL
 * for values out of range; the from-name functions return NONE (0) for
 * unknown names. */
const char *perc_sig_type_name(perc_sig_type t);
perc_sig_type perc_sig_type_from_name(const char *name);
perc_sig_kind perc_sig_type_kind(perc_sig_type t);   /* 0 for out-of-range */
unsigned perc_sig_senders(perc_sig_type t);           /* PERC_SIG_FROM_* bits; 0 out of range */
const char *perc_sig_code_name(perc_sig_code c);
perc_sig_code perc_sig_code_from_name(const char *name);
const char *perc_sig_role_name(perc_sig_role r);

/* Validators shared with the focus (the rules of docs/signaling.md §2). */
bool perc_sig_valid_name(const char *s);
bool perc_sig_valid_text(const char *s, size_t max);

/* Parses a *fingerprint* string ("sha-256 AB:..") into an SDP fingerprint.
 * PERC_ERR_MALFORMED, PERC_ERR_UNSUPPORTED (another hash function),
 * PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_sig_fingerprint_parse(const char *text, perc_sdp_fingerprint *out);

#endif
