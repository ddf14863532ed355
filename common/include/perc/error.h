/* One error type for all of libperc.
 *
 * 0 is success; failures are negative and grouped in bands so a caller can
 * tell what kind of failure it has without listing every code:
 *   -1xx  wire format: the input bytes are not what the format allows
 *   -2xx  crypto: authentication failed, replay, a key of the wrong size
 *   -3xx  protocol or state: the bytes parse, but are not acceptable now
 *   -4xx  resources: an output buffer or table is too small
 *   -5xx  caller or environment: bad argument, backend failure
 */
#ifndef PERC_ERROR_H
#define PERC_ERROR_H

#if defined(__GNUC__) || defined(__clang__)
#define PERC_MUST_CHECK __attribute__((warn_unused_result))
#else
#define PERC_MUST_CHECK
#endif

typedef enum perc_err {
    PERC_OK = 0,

    /* wire format */
    PERC_ERR_TRUNCATED = -100,     /* input ends before the format says it does */
    PERC_ERR_TRAILING = -101,      /* bytes left over after a complete structure */
    PERC_ERR_MALFORMED = -102,     /* a field holds a value the format forbids */
    PERC_ERR_BAD_VERSION = -103,   /* RTP version not 2, tunnel version unknown */
    PERC_ERR_UNSUPPORTED = -104,   /* well-formed but not something we implement */
    PERC_ERR_HEX = -105,           /* hex text is not an even run of hex digits */

    /* crypto */
    PERC_ERR_AUTH = -200,          /* AEAD tag or key-wrap integrity check failed */
    PERC_ERR_REPLAY = -201,        /* index already seen (RFC 3711 §3.3.2) */
    PERC_ERR_REPLAY_OLD = -202,    /* index left of the replay window */
    PERC_ERR_KEY_LENGTH = -203,    /* key or salt of the wrong length */
    PERC_ERR_CRYPTO = -204,        /* the crypto backend failed */
    PERC_ERR_KEY_EXHAUSTED = -205, /* the key reached its use limit */

    /* protocol and state */
    PERC_ERR_STATE = -300,         /* call not valid in the object's state */
    PERC_ERR_UNKNOWN_SPI = -301,   /* EKT SPI names no parameter set we hold */
    PERC_ERR_SSRC_MISMATCH = -302, /* EKT plaintext SSRC differs from the packet's */
    PERC_ERR_STALE_EPOCH = -303,   /* EKT epoch not newer than one already used */
    PERC_ERR_NO_KEY = -304,        /* no key known for this SSRC or association */
    PERC_ERR_BAD_OHB = -305,       /* Original Header Block invalid (RFC 8723 §4) */
    PERC_ERR_NOT_FOUND = -306,     /* looked-up item is not present */
    PERC_ERR_EXPIRED = -307,       /* key past its TTL */
    PERC_ERR_SSRC_IN_USE = -308,   /* the SSRC belongs to another source */

    /* resources */
    PERC_ERR_NOSPACE = -400,       /* output buffer too small */
    PERC_ERR_NOMEM = -401,         /* allocation failed */
    PERC_ERR_TOO_LARGE = -402,     /* value does not fit its length field */
    PERC_ERR_LIMIT = -403,         /* a configured table or queue is full */

    /* caller and environment */
    PERC_ERR_INVALID_ARG = -500,   /* the caller passed something invalid */
    PERC_ERR_RANDOM = -501,        /* the injected randomness source failed */
} perc_err;

/* A short English description of `err` (never NULL; unknown codes get a
 * generic text that includes no secret). */
const char *perc_strerror(int err);

/* The symbolic name, e.g. "PERC_ERR_AUTH", for logs and JSON output. */
const char *perc_err_name(int err);

#endif
