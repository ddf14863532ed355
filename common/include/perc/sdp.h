/* The subset of SDP (RFC 8866) that PERC signaling carries, parsed into a
 * struct and written back as canonical text.
 *
 * An offer or answer here is one BUNDLE transport with rtcp-mux: ICE
 * credentials and candidates (RFC 8839), the DTLS certificate fingerprint
 * (RFC 8122), the DTLS role (RFC 4145 a=setup) and association identifier
 * (RFC 8842 a=tls-id), and per audio or video section its mid (RFC 5888),
 * payload formats (a=rtpmap), header extensions (RFC 8285 a=extmap) and
 * SSRCs (RFC 5576 a=ssrc). The Media Distributor answers with a=ice-lite;
 * the KMF's fingerprint and tls-id go into the same answer.
 *
 * Ownership. A perc_sdp owns every byte it refers to: strings are copied
 * into fixed buffers inside the struct, and the text of raw lines (fmtp,
 * rtcp-fb, ssrc-group, attributes we do not interpret, and the i= u= e= p=
 * b= r= z= k= lines) into an arena inside it, addressed by offsets, so the
 * struct may be copied with memcpy and outlives the input. It is large
 * (about 150 KiB, see the limits below): allocate it on the heap or as a
 * static, not on a small stack.
 *
 * Strings are NUL-terminated; an optional string attribute that is absent
 * is the empty string (every one of them has a minimum length of 1 or more
 * when present, so "" is never a value). Counted arrays hold `*_count`
 * valid entries.
 *
 * Parsing is strict where a mistake would matter to PERC (ICE, DTLS,
 * numbers, structure) and keeps what it does not interpret, so that
 * write(parse(x)) loses nothing we model and parse(write(parse(x))) equals
 * parse(x). Every parse error comes back with the 1-based line number and a
 * short static reason, e.g. "a=fingerprint: sha-256 needs 32 octets", for a
 * signaling error reply.
 *
 * The writer emits CRLF lines in RFC 8866 §5 order. It never emits text its
 * own parser would reject: each field is formatted and parsed back before it
 * is accepted, and structural rules (limits, references, duplicates) are
 * checked first, so a struct built by hand is validated by writing it.
 */
#ifndef PERC_SDP_H
#define PERC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* ---- Limits (documented bounds; exceeding one is PERC_ERR_LIMIT) ---- */

#define PERC_SDP_MAX_INPUT 65536        /* bytes of SDP text */
#define PERC_SDP_MAX_LINE 1024          /* bytes of one line, without its line end */
#define PERC_SDP_MAX_LINES 512         /* below what the other bounds allow (~670) */
#define PERC_SDP_MAX_MEDIA 4            /* m= sections */
#define PERC_SDP_MAX_FMT 32             /* payload types on one m= line */
#define PERC_SDP_MAX_RTPMAP 32          /* per media section */
#define PERC_SDP_MAX_EXTMAP 16          /* per level (session, each media section) */
#define PERC_SDP_MAX_SSRC 16            /* a=ssrc lines per media section */
#define PERC_SDP_MAX_CANDIDATES 16      /* per media section */
#define PERC_SDP_MAX_FINGERPRINTS 4     /* per level */
#define PERC_SDP_MAX_RAW 256            /* raw lines in the whole description */
#define PERC_SDP_TEXT_CAP 32768         /* bytes of raw-line text, NULs included */

/* Field lengths (characters, without the NUL). Those marked RFC are the
 * grammar's own bounds (violations are PERC_ERR_MALFORMED); the others are
 * ours (PERC_ERR_LIMIT). */
#define PERC_SDP_MAX_TOKEN 31           /* ours: encoding, hash, transport, ssrc attribute names */
#define PERC_SDP_MAX_MID 63             /* ours: RFC 5888 sets no bound */
#define PERC_SDP_MAX_USERNAME 63        /* ours: o= username */
#define PERC_SDP_MAX_SESSION_NAME 255   /* ours: s= */
#define PERC_SDP_MAX_ADDRESS 255        /* RFC 1035 name length; o=, c=, candidates */
#define PERC_SDP_ICE_UFRAG_MIN 4        /* RFC 8839 §5.4 */
#define PERC_SDP_ICE_UFRAG_MAX 256
#define PERC_SDP_ICE_PWD_MIN 22
#define PERC_SDP_ICE_PWD_MAX 256
#define PERC_SDP_MAX_ICE_OPTIONS 127    /* ours: the whole a=ice-options value */
#define PERC_SDP_TLS_ID_MIN 20          /* RFC 8842 §4 */
#define PERC_SDP_TLS_ID_MAX 255
#define PERC_SDP_MAX_FINGERPRINT 64     /* octets; ours: enough for sha-512 */
#define PERC_SDP_MAX_FOUNDATION 32      /* RFC 8839 §5.1 */
#define PERC_SDP_MAX_CAND_EXT 255       /* ours: candidate extension pairs, as text */
#define PERC_SDP_MAX_URI 255            /* ours: a=extmap URI */
#define PERC_SDP_MAX_EXT_ATTRS 127      /* ours: a=extmap extension attributes */
#define PERC_SDP_MAX_SSRC_VALUE 255     /* ours: a=ssrc attribute value */

#define PERC_SDP_SHA256_LEN 32

/* ---- Errors ---- */

/* Where and why parsing (or writing) failed. `line` is 1-based: the input
 * line for the parser (for something missing at the end, the line after
 * the last one; for a section without c=, its m= line), the output line
 * being produced for the writer (0 when the writer's structural check
 * fails before any line is produced). `reason` is a static string naming
 * the field and the problem, e.g. "a=ice-ufrag: appears twice in one
 * section"; NULL only on success. */
typedef struct perc_sdp_error {
    unsigned line;
    const char *reason;
} perc_sdp_error;

/* ---- Model ---- */

typedef enum perc_sdp_addrtype {
    PERC_SDP_IP4 = 1,
    PERC_SDP_IP6 = 2,
} perc_sdp_addrtype;

/* What a connection address is, told apart as RFC 8839 §5.1 suggests: a
 * colon means IPv6, digits and dots alone mean IPv4, anything else must be
 * a host name (an FQDN or an mDNS ".local" name). */
typedef enum perc_sdp_host_kind {
    PERC_SDP_HOST_IP4 = 1,
    PERC_SDP_HOST_IP6 = 2,
    PERC_SDP_HOST_NAME = 3,
} perc_sdp_host_kind;

typedef enum perc_sdp_media_type {
    PERC_SDP_AUDIO = 1,
    PERC_SDP_VIDEO = 2,
} perc_sdp_media_type;

typedef enum perc_sdp_proto {
    PERC_SDP_UDP_TLS_RTP_SAVPF = 1,     /* "UDP/TLS/RTP/SAVPF" (RFC 5764 §8) */
    PERC_SDP_RTP_SAVPF = 2,             /* "RTP/SAVPF" (RFC 5124), older peers */
} perc_sdp_proto;

/* Absent (0) at a level means "not said here". */
typedef enum perc_sdp_direction {
    PERC_SDP_DIR_NONE = 0,
    PERC_SDP_SENDRECV,
    PERC_SDP_SENDONLY,
    PERC_SDP_RECVONLY,
    PERC_SDP_INACTIVE,
} perc_sdp_direction;

/* RFC 4145 §4 a=setup. */
typedef enum perc_sdp_setup {
    PERC_SDP_SETUP_NONE = 0,
    PERC_SDP_SETUP_ACTIVE,
    PERC_SDP_SETUP_PASSIVE,
    PERC_SDP_SETUP_ACTPASS,
    PERC_SDP_SETUP_HOLDCONN,
} perc_sdp_setup;

typedef enum perc_sdp_cand_type {
    PERC_SDP_CAND_HOST = 1,
    PERC_SDP_CAND_SRFLX,
    PERC_SDP_CAND_PRFLX,
    PERC_SDP_CAND_RELAY,
} perc_sdp_cand_type;

/* c= (RFC 8866 §5.7); nettype is always IN. `address` may carry the
 * multicast suffixes "/ttl[/count]" as written. */
typedef struct perc_sdp_connection {
    bool present;
    perc_sdp_addrtype addrtype;
    char address[PERC_SDP_MAX_ADDRESS + 1];
} perc_sdp_connection;

/* a=fingerprint (RFC 8122 §5). `hash` is the hash function name in lower
 * case ("sha-256"); other hash functions are kept (perc_sdp_fingerprint_is_
 * sha256() tells them apart). Known functions must have their digest
 * length; unknown ones 1..PERC_SDP_MAX_FINGERPRINT octets. */
typedef struct perc_sdp_fingerprint {
    char hash[PERC_SDP_MAX_TOKEN + 1];
    uint8_t value[PERC_SDP_MAX_FINGERPRINT];
    size_t len;
} perc_sdp_fingerprint;

/* a=extmap (RFC 8285 §8): id 1..255, optional direction, URI, optional
 * extension attributes kept as text. */
typedef struct perc_sdp_extmap {
    uint16_t id;
    perc_sdp_direction direction;       /* NONE when not given */
    char uri[PERC_SDP_MAX_URI + 1];
    char attributes[PERC_SDP_MAX_EXT_ATTRS + 1];
} perc_sdp_extmap;

/* a=rtpmap (RFC 8866 §6.6): <pt> <name>/<clock>[/<channels>]. */
typedef struct perc_sdp_rtpmap {
    uint8_t pt;                         /* 0..127, listed on the m= line */
    char name[PERC_SDP_MAX_TOKEN + 1];  /* "opus", "VP8", as written */
    uint32_t clock;                     /* > 0 */
    uint16_t channels;                  /* 0 when not given */
} perc_sdp_rtpmap;

/* a=ssrc (RFC 5576 §4.1): <ssrc> <attribute>[:<value>]. */
typedef struct perc_sdp_ssrc {
    uint32_t ssrc;
    char attribute[PERC_SDP_MAX_TOKEN + 1];     /* "cname", "msid", ... */
    bool has_value;
    char value[PERC_SDP_MAX_SSRC_VALUE + 1];
} perc_sdp_ssrc;

/* a=candidate (RFC 8839 §5.1). */
typedef struct perc_sdp_candidate {
    char foundation[PERC_SDP_MAX_FOUNDATION + 1];   /* 1..32 ice-chars */
    uint16_t component;                 /* 1..256 */
    char transport[PERC_SDP_MAX_TOKEN + 1];  /* as written; "UDP" in any case is UDP */
    uint32_t priority;                  /* 1..2^31-1 */
    char address[PERC_SDP_MAX_ADDRESS + 1];  /* IPv4, IPv6 or host name */
    uint16_t port;
    perc_sdp_cand_type type;
    bool has_raddr;
    char raddr[PERC_SDP_MAX_ADDRESS + 1];
    bool has_rport;
    uint16_t rport;
    /* The extension pairs after typ/raddr/rport, "name value name value",
     * single spaces; "" when none (RFC 8839 §5.1 says to ignore the ones
     * we do not understand, so they are kept, not interpreted). */
    char extensions[PERC_SDP_MAX_CAND_EXT + 1];
} perc_sdp_candidate;

/* Attributes that may appear at session level or in a media section; the
 * media-level value overrides the session-level one (RFC 8839 §5.4, RFC
 * 8122 §5, RFC 4145 §4). Use the perc_sdp_effective_*() helpers. */
typedef struct perc_sdp_attrs {
    char ice_ufrag[PERC_SDP_ICE_UFRAG_MAX + 1];
    char ice_pwd[PERC_SDP_ICE_PWD_MAX + 1];
    char ice_options[PERC_SDP_MAX_ICE_OPTIONS + 1];  /* "trickle ice2", as written */
    perc_sdp_fingerprint fingerprints[PERC_SDP_MAX_FINGERPRINTS];
    size_t fingerprint_count;
    perc_sdp_setup setup;
    /* RFC 8842 §4 defines tls-id at media level; a session-level one is
     * accepted as a default (see perc_sdp_effective_tls_id). */
    char tls_id[PERC_SDP_TLS_ID_MAX + 1];
    perc_sdp_direction direction;
    bool end_of_candidates;             /* RFC 8840 §8.2 */
    perc_sdp_extmap extmaps[PERC_SDP_MAX_EXTMAP];
    size_t extmap_count;
} perc_sdp_attrs;

typedef struct perc_sdp_media {
    perc_sdp_media_type type;
    uint16_t port;
    uint16_t port_count;                /* the "/<n>" of the m= line; 0 if absent */
    perc_sdp_proto proto;
    uint8_t fmts[PERC_SDP_MAX_FMT];     /* payload types 0..127, distinct, >= 1 */
    size_t fmt_count;
    perc_sdp_connection connection;
    char mid[PERC_SDP_MAX_MID + 1];     /* a=mid, "" if absent */
    bool rtcp_mux;                      /* RFC 5761 §5.1.1 */
    perc_sdp_attrs attrs;
    perc_sdp_rtpmap rtpmaps[PERC_SDP_MAX_RTPMAP];
    size_t rtpmap_count;
    perc_sdp_ssrc ssrcs[PERC_SDP_MAX_SSRC];
    size_t ssrc_count;
    perc_sdp_candidate candidates[PERC_SDP_MAX_CANDIDATES];
    size_t candidate_count;
    /* The m= line's number in the parsed text (0 when built by hand), for
     * error messages about the section; ignored by perc_sdp_equal(). */
    unsigned line;
} perc_sdp_media;

/* A line kept as text, in input order. `type` is the line's letter: 'a'
 * for an attribute (text "name" or "name:value", e.g. "fmtp:111
 * minptime=10"), or one of i u e p b r z k (text is the value after "x=").
 * `media` is -1 for the session level, else the section's index. */
typedef struct perc_sdp_raw {
    int media;
    char type;
    uint16_t off;                       /* into perc_sdp.text; read with perc_sdp_raw_text() */
    uint16_t len;
} perc_sdp_raw;

typedef struct perc_sdp {
    /* o= (RFC 8866 §5.2); nettype is always IN. */
    char origin_username[PERC_SDP_MAX_USERNAME + 1];   /* "-" if none */
    uint64_t origin_sess_id;
    uint64_t origin_sess_version;
    perc_sdp_addrtype origin_addrtype;
    char origin_address[PERC_SDP_MAX_ADDRESS + 1];
    char session_name[PERC_SDP_MAX_SESSION_NAME + 1];   /* s=, "-" if none */
    perc_sdp_connection connection;     /* session-level c= */
    uint64_t time_start;                /* the one t= line */
    uint64_t time_stop;
    bool bundle;                        /* a=group:BUNDLE present (RFC 8843) */
    char bundle_mids[PERC_SDP_MAX_MEDIA][PERC_SDP_MAX_MID + 1];
    size_t bundle_count;
    bool ice_lite;                      /* RFC 8839 §5.3, session level only */
    perc_sdp_attrs attrs;               /* session-level defaults */
    perc_sdp_media media[PERC_SDP_MAX_MEDIA];
    size_t media_count;
    perc_sdp_raw raw[PERC_SDP_MAX_RAW];
    size_t raw_count;
    char text[PERC_SDP_TEXT_CAP];
    size_t text_len;
    /* Set by the parser when at least one line ended in a bare LF instead
     * of CRLF (accepted, but not what RFC 8866 §5 asks for). The writer
     * always uses CRLF; perc_sdp_equal() ignores this flag. */
    bool bare_lf;
} perc_sdp;

/* ---- Parsing and writing ---- */

/* Parses `len` bytes of SDP text (not necessarily NUL-terminated). On
 * success `out` is filled completely; on failure its contents are
 * unspecified and `err` (may be NULL) says where and why.
 *
 * Accepted: CRLF or bare-LF line ends (the latter sets out->bare_lf); every
 * line must end with one. Rejected, each with the line and a reason:
 *   PERC_ERR_TRUNCATED   the text is empty or ends inside a line (no line end)
 *   PERC_ERR_BAD_VERSION v= other than 0
 *   PERC_ERR_MALFORMED   anything the grammar forbids: a line that is not
 *                        <letter>=<value>, an unknown line type (RFC 8866
 *                        §5 says to reject such a description), lines out
 *                        of the §5 order (v, o, s first; t before m),
 *                        control characters or invalid UTF-8, doubled or
 *                        stray spaces, a repeated single-instance line or
 *                        attribute, an attribute at the wrong level, bad
 *                        numbers (port > 65535, PT > 127, component 0,
 *                        extmap id 0 or > 255, SSRC > 2^32-1, ...), bad
 *                        ICE/fingerprint/tls-id syntax, an rtpmap/fmtp for a
 *                        PT not on the m= line, a BUNDLE mid with no
 *                        section, a section with no c= and no session c=
 *   PERC_ERR_UNSUPPORTED well-formed but outside the subset: nettype not
 *                        IN, addrtype not IP4/IP6, media not audio/video,
 *                        proto not UDP/TLS/RTP/SAVPF or RTP/SAVPF, a second
 *                        t= line, a second c= in a section, a candidate type
 *                        other than host/srflx/prflx/relay
 *   PERC_ERR_LIMIT       one of the limits above exceeded
 *   PERC_ERR_INVALID_ARG text or out NULL */
PERC_MUST_CHECK int perc_sdp_parse(const char *text, size_t len, perc_sdp *out,
                                   perc_sdp_error *err);

/* Writes `sdp` as CRLF text into out (cap bytes), NUL-terminated; *out_len
 * (may be NULL) gets the length without the NUL. The output is at most
 * PERC_SDP_MAX_INPUT bytes, so a buffer of PERC_SDP_MAX_INPUT + 1 always
 * suffices. Errors (err may be NULL):
 *   PERC_ERR_NOSPACE     cap too small
 *   PERC_ERR_INVALID_ARG a field the parser would reject, or a structural
 *                        rule broken (err->reason says which)
 *   PERC_ERR_LIMIT       a count above its limit, or the text would exceed
 *                        PERC_SDP_MAX_INPUT bytes or PERC_SDP_MAX_LINES lines */
PERC_MUST_CHECK int perc_sdp_write(const perc_sdp *sdp, char *out, size_t cap, size_t *out_len,
                                   perc_sdp_error *err);

/* Equality of two descriptions as models: every field, raw lines by type,
 * level and text (not arena offsets); bare_lf and media line numbers are
 * ignored. */
bool perc_sdp_equal(const perc_sdp *a, const perc_sdp *b);

/* ---- Building ---- */

/* A minimal valid description: o=- 0 0 IN IP4 127.0.0.1, s=-, t=0 0, no
 * media. The caller sets the origin's session id (random) and the rest. */
void perc_sdp_init(perc_sdp *sdp);

/* Appends a media section of `type` with port 9, UDP/TLS/RTP/SAVPF, c=IN
 * IP4 0.0.0.0 and nothing else (add at least one format before writing).
 * PERC_ERR_LIMIT when PERC_SDP_MAX_MEDIA sections exist;
 * PERC_ERR_INVALID_ARG for a bad type. */
PERC_MUST_CHECK int perc_sdp_add_media(perc_sdp *sdp, perc_sdp_media_type type, size_t *index);

/* Appends a raw line at session level (media = -1) or to media section
 * `media`: type 'a' with text "name[:value]" for an attribute the model
 * keeps as text (fmtp, rtcp-fb, ssrc-group, a=group other than BUNDLE, or
 * any attribute it does not know), or one of i u e p b r z k with the
 * line's value. PERC_ERR_INVALID_ARG when the parser would not keep that
 * line as raw text at that level (e.g. "ice-ufrag:..." has a field of its
 * own) or the text is malformed; PERC_ERR_LIMIT when the table or arena is
 * full. */
PERC_MUST_CHECK int perc_sdp_add_raw(perc_sdp *sdp, int media, char type, const char *text);

/* The NUL-terminated text of a raw line ("" for an item not in the
 * arena). */
const char *perc_sdp_raw_text(const perc_sdp *sdp, const perc_sdp_raw *item);

/* ---- Queries for signaling ---- */

/* The index of the media section whose a=mid is `mid`.
 * PERC_ERR_NOT_FOUND if none; PERC_ERR_INVALID_ARG for NULL arguments. */
PERC_MUST_CHECK int perc_sdp_find_media(const perc_sdp *sdp, const char *mid, size_t *index);

/* The ICE credentials in force for media section `media`: each of ufrag
 * and pwd from the section if present there, else from the session level
 * (RFC 8839 §5.4). PERC_ERR_NOT_FOUND if either is missing at both levels;
 * PERC_ERR_INVALID_ARG for a bad index. */
PERC_MUST_CHECK int perc_sdp_effective_ice(const perc_sdp *sdp, size_t media, const char **ufrag,
                                           const char **pwd);

/* The sha-256 fingerprint in force for media section `media`: the
 * section's fingerprints if it has any, else the session's (RFC 8122 §5).
 * PERC_ERR_NOT_FOUND if neither level has one; PERC_ERR_UNSUPPORTED if the
 * level in force has fingerprints but none with sha-256;
 * PERC_ERR_INVALID_ARG for a bad index. */
PERC_MUST_CHECK int perc_sdp_effective_fingerprint(const perc_sdp *sdp, size_t media,
                                                   const perc_sdp_fingerprint **out);

/* The tls-id in force for media section `media` (the section's, else a
 * session-level one). PERC_ERR_NOT_FOUND, PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_sdp_effective_tls_id(const perc_sdp *sdp, size_t media, const char **out);

/* a=setup in force (NONE if absent at both levels or bad index). */
perc_sdp_setup perc_sdp_effective_setup(const perc_sdp *sdp, size_t media);

/* Direction in force; sendrecv when absent at both levels (RFC 8866
 * §6.7), NONE for a bad index. */
perc_sdp_direction perc_sdp_effective_direction(const perc_sdp *sdp, size_t media);

/* Whether the ice-options in force (section's, else session's) include
 * `option`, e.g. "trickle". */
bool perc_sdp_has_ice_option(const perc_sdp *sdp, size_t media, const char *option);

/* Checks what PERC signaling requires of an offer or answer, beyond
 * syntax: at least one media section; each with a mid, rtcp-mux, ICE
 * credentials, a sha-256 fingerprint, a=setup and a=tls-id in force; a
 * BUNDLE group naming every mid. Roles (active vs passive) are the
 * caller's to judge. PERC_ERR_MALFORMED with err->line the section's m=
 * line (1 for session-level problems or hand-built sections) and a reason
 * such as "m= section has no a=tls-id"; PERC_ERR_INVALID_ARG for NULL. */
PERC_MUST_CHECK int perc_sdp_check_perc(const perc_sdp *sdp, perc_sdp_error *err);

/* sha-256 with a 32-octet value. */
bool perc_sdp_fingerprint_is_sha256(const perc_sdp_fingerprint *fp);

/* ---- Candidates on their own (trickle ICE) ---- */

/* Parses one "candidate:<value>" string, exactly as it appears after "a="
 * in SDP and without a line end, as trickle messages carry it. Errors as
 * for perc_sdp_parse (err->line is 1). */
PERC_MUST_CHECK int perc_sdp_candidate_parse(const char *text, size_t len, perc_sdp_candidate *out,
                                             perc_sdp_error *err);

/* Writes "candidate:<value>" NUL-terminated into out; *out_len (may be
 * NULL) gets the length without the NUL. PERC_ERR_NOSPACE,
 * PERC_ERR_INVALID_ARG when c holds a value the parser would reject. */
PERC_MUST_CHECK int perc_sdp_candidate_format(const perc_sdp_candidate *c, char *out, size_t cap,
                                              size_t *out_len);

bool perc_sdp_candidate_equal(const perc_sdp_candidate *a, const perc_sdp_candidate *b);

/* True when the candidate's transport is UDP (compared without case). */
bool perc_sdp_candidate_is_udp(const perc_sdp_candidate *c);

/* Classifies a connection address (NUL-terminated): PERC_OK and *kind, or
 * PERC_ERR_MALFORMED if it is not a valid IPv4 address, IPv6 address or
 * host name (labels of letters, digits and inner hyphens, at most 63
 * octets each and 253 in all). */
PERC_MUST_CHECK int perc_sdp_address_kind(const char *address, perc_sdp_host_kind *kind);

#endif
