/* Shared between the SDP sources: character classes, bounded string
 * pieces, number and address syntax (sdp_syntax.c), the value grammars of
 * the attributes we model (sdp_attr.c), the raw-line rules and the
 * structural checks shared by parser and writer (sdp_model.c).
 *
 * Every value grammar comes as a pair: sdp_parse_X() reads the text after
 * "a=X:" into a struct, sdp_format_X() writes it back. The writer formats
 * each field and parses the result again, so a struct the parser would
 * not produce cannot be written.
 */
#ifndef PERC_SDP_INTERNAL_H
#define PERC_SDP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/sdp.h"

/* A bounded piece of text; not NUL-terminated. */
typedef struct sdp_str {
    const char *p;
    size_t n;
} sdp_str;

static inline sdp_str sdp_str_of(const char *p, size_t n)
{
    sdp_str s = {p, n};
    return s;
}

sdp_str sdp_cstr(const char *s);

/* ---- character classes (RFC 8866 §9, RFC 8839 §5.1, RFC 8842 §4) ---- */
bool sdp_is_digit(char c);
bool sdp_is_alpha(char c);
bool sdp_is_token_char(char c);    /* RFC 8866 token-char */
bool sdp_is_ice_char(char c);      /* ALPHA / DIGIT / "+" / "/" */
bool sdp_is_vchar(char c);         /* %x21-7E */
bool sdp_is_token(sdp_str s);      /* 1*token-char */
bool sdp_all_ice_chars(sdp_str s);

bool sdp_eq(sdp_str s, const char *lit);
bool sdp_ieq(sdp_str s, const char *lit);   /* ASCII case-insensitive */

/* Splits off the next space-separated field: `field` gets what precedes the
 * next SP (or the rest), `rest` moves past that SP. Returns false when rest
 * was already exhausted. A field of length 0 means two spaces in a row or a
 * leading/trailing space; callers reject it. */
bool sdp_next_field(sdp_str *rest, sdp_str *field);

/* Decimal digits only (1..20 of them), value <= max. */
bool sdp_uint(sdp_str s, uint64_t max, uint64_t *out);

/* Copies s into dst (cap bytes) with a NUL; false if it does not fit. */
bool sdp_copy(char *dst, size_t cap, sdp_str s);

/* Address syntax. */
bool sdp_is_ipv4(sdp_str s);
bool sdp_is_ipv6(sdp_str s);
bool sdp_is_hostname(sdp_str s);
/* 0 and *kind, or -1. */
int sdp_host_kind(sdp_str s, perc_sdp_host_kind *kind);

/* A whole line's bytes: no control characters, DEL or invalid UTF-8.
 * Returns NULL if fine, else a static reason. */
const char *sdp_check_chars(sdp_str line);

/* ---- output buffer with a sticky error ---- */
typedef struct sdp_buf {
    char *p;
    size_t cap;
    size_t len;
    int err;
} sdp_buf;

void sdp_buf_init(sdp_buf *b, char *p, size_t cap);
void sdp_put(sdp_buf *b, const char *s, size_t n);
void sdp_puts(sdp_buf *b, const char *s);
void sdp_putc(sdp_buf *b, char c);
void sdp_putu(sdp_buf *b, uint64_t v);

/* ---- value grammars: parse returns PERC_OK or a perc_err with *why ---- */

/* o= fields. */
typedef struct sdp_origin {
    char username[PERC_SDP_MAX_USERNAME + 1];
    uint64_t sess_id;
    uint64_t sess_version;
    perc_sdp_addrtype addrtype;
    char address[PERC_SDP_MAX_ADDRESS + 1];
} sdp_origin;

/* m= fields. */
typedef struct sdp_mline {
    perc_sdp_media_type type;
    uint16_t port;
    uint16_t port_count;
    perc_sdp_proto proto;
    uint8_t fmts[PERC_SDP_MAX_FMT];
    size_t fmt_count;
} sdp_mline;

/* a=group:BUNDLE mids. */
typedef struct sdp_bundle {
    char mids[PERC_SDP_MAX_MEDIA][PERC_SDP_MAX_MID + 1];
    size_t count;
} sdp_bundle;

int sdp_parse_origin(sdp_str v, sdp_origin *o, const char **why);
void sdp_format_origin(sdp_buf *b, const sdp_origin *o);

int sdp_parse_connection(sdp_str v, perc_sdp_connection *c, const char **why);
void sdp_format_connection(sdp_buf *b, const perc_sdp_connection *c);

int sdp_parse_time(sdp_str v, uint64_t *start, uint64_t *stop, const char **why);

int sdp_parse_mline(sdp_str v, sdp_mline *m, const char **why);
void sdp_format_mline(sdp_buf *b, const sdp_mline *m);

int sdp_parse_candidate(sdp_str v, perc_sdp_candidate *c, const char **why);
void sdp_format_candidate(sdp_buf *b, const perc_sdp_candidate *c);

int sdp_parse_fingerprint(sdp_str v, perc_sdp_fingerprint *fp, const char **why);
void sdp_format_fingerprint(sdp_buf *b, const perc_sdp_fingerprint *fp);
bool sdp_fingerprint_equal(const perc_sdp_fingerprint *a, const perc_sdp_fingerprint *b);

int sdp_parse_extmap(sdp_str v, perc_sdp_extmap *e, const char **why);
void sdp_format_extmap(sdp_buf *b, const perc_sdp_extmap *e);
bool sdp_extmap_equal(const perc_sdp_extmap *a, const perc_sdp_extmap *b);

int sdp_parse_rtpmap(sdp_str v, perc_sdp_rtpmap *r, const char **why);
void sdp_format_rtpmap(sdp_buf *b, const perc_sdp_rtpmap *r);

int sdp_parse_ssrc(sdp_str v, perc_sdp_ssrc *s, const char **why);
void sdp_format_ssrc(sdp_buf *b, const perc_sdp_ssrc *s);
bool sdp_ssrc_equal(const perc_sdp_ssrc *a, const perc_sdp_ssrc *b);

int sdp_parse_ice_ufrag(sdp_str v, char *out, const char **why);   /* out: UFRAG_MAX+1 */
int sdp_parse_ice_pwd(sdp_str v, char *out, const char **why);     /* out: PWD_MAX+1 */
int sdp_parse_ice_options(sdp_str v, char *out, const char **why); /* out: MAX_ICE_OPTIONS+1 */
int sdp_parse_tls_id(sdp_str v, char *out, const char **why);      /* out: TLS_ID_MAX+1 */
int sdp_parse_mid(sdp_str v, char *out, const char **why);         /* out: MAX_MID+1 */
int sdp_parse_setup(sdp_str v, perc_sdp_setup *out, const char **why);
const char *sdp_setup_name(perc_sdp_setup s);           /* NULL for NONE/invalid */
const char *sdp_direction_name(perc_sdp_direction d);   /* NULL for NONE/invalid */
/* PERC_SDP_DIR_NONE if s is not a direction keyword. */
perc_sdp_direction sdp_direction_of(sdp_str s);

/* a=group: *is_bundle and the mids for BUNDLE; other semantics are only
 * checked (tokens) and stay raw text. */
int sdp_parse_group(sdp_str v, sdp_bundle *g, bool *is_bundle, const char **why);
/* "BUNDLE mid mid ..." */
void sdp_format_group(sdp_buf *b, const sdp_bundle *g);

/* ---- raw lines (sdp_model.c) ---- */

/* How the parser treats an attribute name. */
typedef enum sdp_attr_kind {
    SDP_ATTR_UNKNOWN = 0,   /* kept as raw text, both levels */
    SDP_ATTR_CANDIDATE,
    SDP_ATTR_END_OF_CANDIDATES,
    SDP_ATTR_EXTMAP,
    SDP_ATTR_FINGERPRINT,
    SDP_ATTR_FMTP,          /* raw, media level, format checked */
    SDP_ATTR_GROUP,         /* BUNDLE modelled, other semantics raw */
    SDP_ATTR_ICE_LITE,
    SDP_ATTR_ICE_OPTIONS,
    SDP_ATTR_ICE_PWD,
    SDP_ATTR_ICE_UFRAG,
    SDP_ATTR_DIRECTION,
    SDP_ATTR_MID,
    SDP_ATTR_RTCP_FB,       /* raw, media level, format checked */
    SDP_ATTR_RTCP_MUX,
    SDP_ATTR_RTPMAP,
    SDP_ATTR_SETUP,
    SDP_ATTR_SSRC,
    SDP_ATTR_SSRC_GROUP,    /* raw, media level, SSRCs checked */
    SDP_ATTR_TLS_ID,
} sdp_attr_kind;

sdp_attr_kind sdp_attr_kind_of(sdp_str name);

/* Checks a raw line as the parser would keep it: for 'a', text is
 * "name[:value]"; m is the section (NULL at session level). Returns
 * PERC_OK or a perc_err with *why. */
int sdp_check_raw(char type, sdp_str text, const perc_sdp_media *m, const char **why);

/* Appends a raw item (no checks beyond space). */
int sdp_store_raw(perc_sdp *sdp, int media, char type, sdp_str text, const char **why);

/* Whether a media-level payload type is on the m= line. */
bool sdp_media_has_fmt(const perc_sdp_media *m, unsigned pt);

/* Structural rules over a whole description that single lines cannot
 * show: counts, NUL-terminated buffers, distinct mids, rtpmap PTs on the
 * m= line and distinct, distinct extmap ids, BUNDLE mids that exist,
 * c= in every section or at session level, raw items in range. Returns
 * PERC_OK or a perc_err with *why, and *media the section concerned (-1
 * for session level). `writer` selects the writer's error codes
 * (INVALID_ARG instead of MALFORMED). */
int sdp_check_structure(const perc_sdp *sdp, bool writer, int *media, const char **why);

bool sdp_candidate_valid_type(perc_sdp_cand_type t);

#endif
