/* Value grammars of the SDP lines and attributes we model, each with its
 * formatter: o=, c=, t=, m=, and a=candidate, fingerprint, extmap, rtpmap,
 * ssrc, ice-ufrag, ice-pwd, ice-options, tls-id, mid, setup, group.
 *
 * Fields are separated by exactly one SP (RFC 8866 §9 uses SP, not runs of
 * whitespace); an empty field means a doubled, leading or trailing space
 * and is rejected. Reasons are static strings naming the attribute.
 */
#include <string.h>

#include "perc/hex.h"
#include "sdp_internal.h"

/* ---- o= and c= ---- */

static int parse_addr(sdp_str nettype, sdp_str addrtype, sdp_str addr, bool conn,
                      perc_sdp_addrtype *type, char *out, size_t cap, const char **why)
{
    if (!sdp_eq(nettype, "IN")) {
        *why = conn ? "c=: nettype is not IN" : "o=: nettype is not IN";
        return PERC_ERR_UNSUPPORTED;
    }
    perc_sdp_addrtype t;
    if (sdp_eq(addrtype, "IP4")) {
        t = PERC_SDP_IP4;
    } else if (sdp_eq(addrtype, "IP6")) {
        t = PERC_SDP_IP6;
    } else {
        *why = conn ? "c=: addrtype is not IP4 or IP6" : "o=: addrtype is not IP4 or IP6";
        return PERC_ERR_UNSUPPORTED;
    }
    /* c= may carry multicast suffixes (RFC 8866 §5.7): IP4 "/ttl[/n]",
     * IP6 "/n". We keep them as written and only check they are numbers. */
    sdp_str base = addr;
    const char *slash = conn ? memchr(addr.p, '/', addr.n) : NULL;
    if (slash) {
        base.n = (size_t)(slash - addr.p);
        sdp_str rest = sdp_str_of(slash + 1, addr.n - base.n - 1);
        const char *slash2 = memchr(rest.p, '/', rest.n);
        sdp_str first = rest, second = {NULL, 0};
        if (slash2) {
            first.n = (size_t)(slash2 - rest.p);
            second = sdp_str_of(slash2 + 1, rest.n - first.n - 1);
        }
        uint64_t v;
        bool ok = sdp_uint(first, t == PERC_SDP_IP4 ? 255 : 65535, &v);
        if (slash2)
            ok = ok && t == PERC_SDP_IP4 && sdp_uint(second, 65535, &v) && v > 0;
        if (!ok) {
            *why = "c=: bad multicast suffix after the address";
            return PERC_ERR_MALFORMED;
        }
    }
    perc_sdp_host_kind kind;
    if (sdp_host_kind(base, &kind) != 0 || (t == PERC_SDP_IP4 && kind == PERC_SDP_HOST_IP6) ||
        (t == PERC_SDP_IP6 && kind == PERC_SDP_HOST_IP4)) {
        *why = conn ? "c=: address is not a valid address of its addrtype"
                    : "o=: address is not a valid address of its addrtype";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(out, cap, addr)) {
        *why = conn ? "c=: address longer than 255 bytes" : "o=: address longer than 255 bytes";
        return PERC_ERR_LIMIT;
    }
    *type = t;
    return PERC_OK;
}

/* Splits v into exactly `want` single-space-separated non-empty fields. */
static int split(sdp_str v, sdp_str *f, size_t want, const char *why_count, const char *why_empty,
                 const char **why)
{
    sdp_str rest = v;
    for (size_t i = 0; i < want; i++) {
        if (!sdp_next_field(&rest, &f[i])) {
            *why = why_count;
            return PERC_ERR_MALFORMED;
        }
        if (f[i].n == 0) {
            *why = why_empty;
            return PERC_ERR_MALFORMED;
        }
    }
    if (rest.p) {
        *why = rest.n == 0 ? why_empty : why_count;
        return PERC_ERR_MALFORMED;
    }
    return PERC_OK;
}

int sdp_parse_origin(sdp_str v, sdp_origin *o, const char **why)
{
    sdp_str f[6];
    int rc = split(v, f, 6, "o=: expected 6 fields", "o=: empty field (doubled space?)", why);
    if (rc)
        return rc;
    /* username = non-ws-string: no SP by construction, no controls (line check) */
    if (!sdp_copy(o->username, sizeof o->username, f[0])) {
        *why = "o=: username longer than 63 bytes";
        return PERC_ERR_LIMIT;
    }
    if (!sdp_uint(f[1], UINT64_MAX, &o->sess_id)) {
        *why = "o=: sess-id is not a decimal number below 2^64";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_uint(f[2], UINT64_MAX, &o->sess_version)) {
        *why = "o=: sess-version is not a decimal number below 2^64";
        return PERC_ERR_MALFORMED;
    }
    return parse_addr(f[3], f[4], f[5], false, &o->addrtype, o->address, sizeof o->address, why);
}

static const char *addrtype_name(perc_sdp_addrtype t)
{
    return t == PERC_SDP_IP4 ? "IP4" : t == PERC_SDP_IP6 ? "IP6" : "?";
}

void sdp_format_origin(sdp_buf *b, const sdp_origin *o)
{
    sdp_puts(b, o->username);
    sdp_putc(b, ' ');
    sdp_putu(b, o->sess_id);
    sdp_putc(b, ' ');
    sdp_putu(b, o->sess_version);
    sdp_puts(b, " IN ");
    sdp_puts(b, addrtype_name(o->addrtype));
    sdp_putc(b, ' ');
    sdp_puts(b, o->address);
}

int sdp_parse_connection(sdp_str v, perc_sdp_connection *c, const char **why)
{
    sdp_str f[3];
    int rc = split(v, f, 3, "c=: expected 3 fields", "c=: empty field (doubled space?)", why);
    if (rc)
        return rc;
    rc = parse_addr(f[0], f[1], f[2], true, &c->addrtype, c->address, sizeof c->address, why);
    if (rc)
        return rc;
    c->present = true;
    return PERC_OK;
}

void sdp_format_connection(sdp_buf *b, const perc_sdp_connection *c)
{
    sdp_puts(b, "IN ");
    sdp_puts(b, addrtype_name(c->addrtype));
    sdp_putc(b, ' ');
    sdp_puts(b, c->address);
}

/* ---- t= ---- */

int sdp_parse_time(sdp_str v, uint64_t *start, uint64_t *stop, const char **why)
{
    sdp_str f[2];
    int rc = split(v, f, 2, "t=: expected start and stop times",
                   "t=: empty field (doubled space?)", why);
    if (rc)
        return rc;
    if (!sdp_uint(f[0], UINT64_MAX, start) || !sdp_uint(f[1], UINT64_MAX, stop)) {
        *why = "t=: start or stop is not a decimal number below 2^64";
        return PERC_ERR_MALFORMED;
    }
    return PERC_OK;
}

/* ---- m= ---- */

int sdp_parse_mline(sdp_str v, sdp_mline *m, const char **why)
{
    sdp_str rest = v, f;
    memset(m, 0, sizeof *m);
    if (!sdp_next_field(&rest, &f) || f.n == 0 || !rest.p) {
        *why = "m=: expected media, port, proto and payload types";
        return PERC_ERR_MALFORMED;
    }
    if (sdp_eq(f, "audio")) {
        m->type = PERC_SDP_AUDIO;
    } else if (sdp_eq(f, "video")) {
        m->type = PERC_SDP_VIDEO;
    } else if (sdp_is_token(f)) {
        *why = "m=: media is not audio or video";
        return PERC_ERR_UNSUPPORTED;
    } else {
        *why = "m=: media is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_next_field(&rest, &f) || f.n == 0 || !rest.p) {
        *why = "m=: expected media, port, proto and payload types";
        return PERC_ERR_MALFORMED;
    }
    const char *slash = memchr(f.p, '/', f.n);
    sdp_str port = f;
    uint64_t v64;
    if (slash) {
        port.n = (size_t)(slash - f.p);
        sdp_str count = sdp_str_of(slash + 1, f.n - port.n - 1);
        if (!sdp_uint(count, 65535, &v64) || v64 == 0) {
            *why = "m=: port count is not 1..65535";
            return PERC_ERR_MALFORMED;
        }
        m->port_count = (uint16_t)v64;
    }
    if (!sdp_uint(port, 65535, &v64)) {
        *why = "m=: port is not 0..65535";
        return PERC_ERR_MALFORMED;
    }
    m->port = (uint16_t)v64;
    if (!sdp_next_field(&rest, &f) || f.n == 0 || !rest.p) {
        *why = "m=: expected media, port, proto and payload types";
        return PERC_ERR_MALFORMED;
    }
    if (sdp_eq(f, "UDP/TLS/RTP/SAVPF")) {
        m->proto = PERC_SDP_UDP_TLS_RTP_SAVPF;
    } else if (sdp_eq(f, "RTP/SAVPF")) {
        m->proto = PERC_SDP_RTP_SAVPF;
    } else {
        *why = "m=: proto is not UDP/TLS/RTP/SAVPF or RTP/SAVPF";
        return PERC_ERR_UNSUPPORTED;
    }
    while (sdp_next_field(&rest, &f)) {
        if (f.n == 0) {
            *why = "m=: empty field (doubled or trailing space?)";
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_uint(f, 127, &v64)) {
            *why = "m=: payload type is not 0..127";
            return PERC_ERR_MALFORMED;
        }
        for (size_t i = 0; i < m->fmt_count; i++) {
            if (m->fmts[i] == v64) {
                *why = "m=: payload type listed twice";
                return PERC_ERR_MALFORMED;
            }
        }
        if (m->fmt_count == PERC_SDP_MAX_FMT) {
            *why = "m=: more than 32 payload types";
            return PERC_ERR_LIMIT;
        }
        m->fmts[m->fmt_count++] = (uint8_t)v64;
    }
    return PERC_OK;
}

void sdp_format_mline(sdp_buf *b, const sdp_mline *m)
{
    sdp_puts(b, m->type == PERC_SDP_AUDIO ? "audio " : m->type == PERC_SDP_VIDEO ? "video " : "? ");
    sdp_putu(b, m->port);
    if (m->port_count) {
        sdp_putc(b, '/');
        sdp_putu(b, m->port_count);
    }
    sdp_puts(b, m->proto == PERC_SDP_UDP_TLS_RTP_SAVPF ? " UDP/TLS/RTP/SAVPF"
                : m->proto == PERC_SDP_RTP_SAVPF     ? " RTP/SAVPF"
                                                     : " ?");
    for (size_t i = 0; i < m->fmt_count && i < PERC_SDP_MAX_FMT; i++) {
        sdp_putc(b, ' ');
        sdp_putu(b, m->fmts[i]);
    }
}

/* ---- a=candidate (RFC 8839 §5.1) ---- */

static const char *const CAND_TYPES[] = {NULL, "host", "srflx", "prflx", "relay"};

bool sdp_candidate_valid_type(perc_sdp_cand_type t)
{
    return t >= PERC_SDP_CAND_HOST && t <= PERC_SDP_CAND_RELAY;
}

int sdp_parse_candidate(sdp_str v, perc_sdp_candidate *c, const char **why)
{
    static const char *const few = "a=candidate: too few fields";
    static const char *const empty = "a=candidate: empty field (doubled or trailing space?)";
    memset(c, 0, sizeof *c);
    sdp_str rest = v, f[8];
    for (size_t i = 0; i < 8; i++) {
        if (!sdp_next_field(&rest, &f[i])) {
            *why = few;
            return PERC_ERR_MALFORMED;
        }
        if (f[i].n == 0) {
            *why = empty;
            return PERC_ERR_MALFORMED;
        }
    }
    if (f[0].n > PERC_SDP_MAX_FOUNDATION || !sdp_all_ice_chars(f[0])) {
        *why = "a=candidate: foundation is not 1..32 ice-chars";
        return PERC_ERR_MALFORMED;
    }
    sdp_copy(c->foundation, sizeof c->foundation, f[0]);
    uint64_t n;
    if (!sdp_uint(f[1], 256, &n) || n == 0) {
        *why = "a=candidate: component-id is not 1..256";
        return PERC_ERR_MALFORMED;
    }
    c->component = (uint16_t)n;
    if (!sdp_is_token(f[2])) {
        *why = "a=candidate: transport is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(c->transport, sizeof c->transport, f[2])) {
        *why = "a=candidate: transport longer than 31 characters";
        return PERC_ERR_LIMIT;
    }
    if (f[3].n > 10 || !sdp_uint(f[3], 0x7FFFFFFF, &n) || n == 0) {
        *why = "a=candidate: priority is not 1..2^31-1";
        return PERC_ERR_MALFORMED;
    }
    c->priority = (uint32_t)n;
    perc_sdp_host_kind kind;
    if (sdp_host_kind(f[4], &kind) != 0) {
        *why = "a=candidate: connection-address is not IPv4, IPv6 or a host name";
        return PERC_ERR_MALFORMED;
    }
    sdp_copy(c->address, sizeof c->address, f[4]);   /* <= 253 octets by the check */
    if (!sdp_uint(f[5], 65535, &n)) {
        *why = "a=candidate: port is not 0..65535";
        return PERC_ERR_MALFORMED;
    }
    c->port = (uint16_t)n;
    if (!sdp_eq(f[6], "typ")) {
        *why = "a=candidate: expected \"typ\" after the port";
        return PERC_ERR_MALFORMED;
    }
    c->type = 0;
    for (int t = PERC_SDP_CAND_HOST; t <= PERC_SDP_CAND_RELAY; t++) {
        if (sdp_eq(f[7], CAND_TYPES[t]))
            c->type = (perc_sdp_cand_type)t;
    }
    if (!c->type) {
        *why = sdp_is_token(f[7]) ? "a=candidate: type is not host, srflx, prflx or relay"
                                  : "a=candidate: type is not a token";
        return sdp_is_token(f[7]) ? PERC_ERR_UNSUPPORTED : PERC_ERR_MALFORMED;
    }
    /* [SP rel-addr] [SP rel-port] *(SP extension-att-name SP
     * extension-att-value), in that order. We accept host candidates with
     * a related address and the others without one: RFC 8839 puts those
     * rules on the sender, and the address is only informative. */
    const char *ext_start = NULL;
    sdp_str name, value;
    while (sdp_next_field(&rest, &name)) {
        if (name.n == 0) {
            *why = empty;
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_next_field(&rest, &value)) {
            *why = "a=candidate: extension name without a value";
            return PERC_ERR_MALFORMED;
        }
        if (value.n == 0) {
            *why = empty;
            return PERC_ERR_MALFORMED;
        }
        bool raddr = sdp_eq(name, "raddr"), rport = sdp_eq(name, "rport");
        bool misplaced = sdp_eq(name, "typ") ||
                         (raddr && (ext_start || c->has_raddr || c->has_rport)) ||
                         (rport && (ext_start || c->has_rport));
        if (misplaced) {
            *why = "a=candidate: raddr, rport or typ repeated or out of place";
            return PERC_ERR_MALFORMED;
        }
        if (raddr) {
            if (sdp_host_kind(value, &kind) != 0) {
                *why = "a=candidate: raddr is not IPv4, IPv6 or a host name";
                return PERC_ERR_MALFORMED;
            }
            sdp_copy(c->raddr, sizeof c->raddr, value);
            c->has_raddr = true;
        } else if (rport) {
            if (!sdp_uint(value, 65535, &n)) {
                *why = "a=candidate: rport is not 0..65535";
                return PERC_ERR_MALFORMED;
            }
            c->rport = (uint16_t)n;
            c->has_rport = true;
        } else {
            if (!sdp_is_token(name)) {
                *why = "a=candidate: extension name is not a token";
                return PERC_ERR_MALFORMED;
            }
            for (size_t i = 0; i < value.n; i++) {
                if (!sdp_is_vchar(value.p[i])) {
                    *why = "a=candidate: extension value is not visible ASCII";
                    return PERC_ERR_MALFORMED;
                }
            }
            if (!ext_start)
                ext_start = name.p;
        }
    }
    if (ext_start) {
        sdp_str ext = sdp_str_of(ext_start, (size_t)(v.p + v.n - ext_start));
        if (!sdp_copy(c->extensions, sizeof c->extensions, ext)) {
            *why = "a=candidate: extensions longer than 255 bytes";
            return PERC_ERR_LIMIT;
        }
    }
    return PERC_OK;
}

void sdp_format_candidate(sdp_buf *b, const perc_sdp_candidate *c)
{
    sdp_puts(b, c->foundation);
    sdp_putc(b, ' ');
    sdp_putu(b, c->component);
    sdp_putc(b, ' ');
    sdp_puts(b, c->transport);
    sdp_putc(b, ' ');
    sdp_putu(b, c->priority);
    sdp_putc(b, ' ');
    sdp_puts(b, c->address);
    sdp_putc(b, ' ');
    sdp_putu(b, c->port);
    sdp_puts(b, " typ ");
    sdp_puts(b, sdp_candidate_valid_type(c->type) ? CAND_TYPES[c->type] : "?");
    if (c->has_raddr) {
        sdp_puts(b, " raddr ");
        sdp_puts(b, c->raddr);
    }
    if (c->has_rport) {
        sdp_puts(b, " rport ");
        sdp_putu(b, c->rport);
    }
    if (c->extensions[0]) {
        sdp_putc(b, ' ');
        sdp_puts(b, c->extensions);
    }
}

/* ---- a=fingerprint (RFC 8122 §5) ---- */

static const struct {
    const char *name;
    size_t len;
} HASHES[] = {
    {"sha-1", 20}, {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48},
    {"sha-512", 64}, {"md5", 16}, {"md2", 16},
};

int sdp_parse_fingerprint(sdp_str v, perc_sdp_fingerprint *fp, const char **why)
{
    sdp_str f[2];
    int rc = split(v, f, 2, "a=fingerprint: expected a hash function and a fingerprint",
                   "a=fingerprint: empty field (doubled space?)", why);
    if (rc)
        return rc;
    memset(fp, 0, sizeof *fp);
    if (!sdp_is_token(f[0])) {
        *why = "a=fingerprint: hash function is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(fp->hash, sizeof fp->hash, f[0])) {
        *why = "a=fingerprint: hash function name longer than 31 characters";
        return PERC_ERR_LIMIT;
    }
    /* Hash function names compare without case (RFC 8122 §5, like RFC
     * 4572 before it); we keep them in lower case. */
    for (char *p = fp->hash; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    /* fingerprint = 2UHEX *(":" 2UHEX). The grammar says upper-case hex;
     * we also accept lower case (some stacks send it) and write upper. */
    sdp_str x = f[1];
    size_t i = 0;
    for (;;) {
        if (x.n - i < 2 || perc_hex_digit(x.p[i]) < 0 || perc_hex_digit(x.p[i + 1]) < 0) {
            *why = "a=fingerprint: expected hex pairs separated by colons";
            return PERC_ERR_MALFORMED;
        }
        if (fp->len == PERC_SDP_MAX_FINGERPRINT) {
            *why = "a=fingerprint: longer than 64 octets";
            return PERC_ERR_LIMIT;
        }
        fp->value[fp->len++] = (uint8_t)(perc_hex_digit(x.p[i]) << 4 | perc_hex_digit(x.p[i + 1]));
        i += 2;
        if (i == x.n)
            break;
        if (x.p[i] != ':') {
            *why = "a=fingerprint: expected hex pairs separated by colons";
            return PERC_ERR_MALFORMED;
        }
        i++;
    }
    for (size_t h = 0; h < sizeof HASHES / sizeof HASHES[0]; h++) {
        if (strcmp(fp->hash, HASHES[h].name) == 0 && fp->len != HASHES[h].len) {
            *why = h == 2 ? "a=fingerprint: sha-256 needs 32 octets"
                          : "a=fingerprint: wrong length for the hash function";
            return PERC_ERR_MALFORMED;
        }
    }
    return PERC_OK;
}

void sdp_format_fingerprint(sdp_buf *b, const perc_sdp_fingerprint *fp)
{
    static const char HEX[] = "0123456789ABCDEF";
    sdp_puts(b, fp->hash);
    sdp_putc(b, ' ');
    for (size_t i = 0; i < fp->len && i < PERC_SDP_MAX_FINGERPRINT; i++) {
        if (i)
            sdp_putc(b, ':');
        sdp_putc(b, HEX[fp->value[i] >> 4]);
        sdp_putc(b, HEX[fp->value[i] & 15]);
    }
}

bool sdp_fingerprint_equal(const perc_sdp_fingerprint *a, const perc_sdp_fingerprint *b)
{
    return strncmp(a->hash, b->hash, sizeof a->hash) == 0 && a->len == b->len &&
           a->len <= PERC_SDP_MAX_FINGERPRINT && memcmp(a->value, b->value, a->len) == 0;
}

bool perc_sdp_fingerprint_is_sha256(const perc_sdp_fingerprint *fp)
{
    return fp && strcmp(fp->hash, "sha-256") == 0 && fp->len == PERC_SDP_SHA256_LEN;
}

/* ---- directions and a=setup ---- */

static const char *const DIRECTIONS[] = {NULL, "sendrecv", "sendonly", "recvonly", "inactive"};

const char *sdp_direction_name(perc_sdp_direction d)
{
    return d >= PERC_SDP_SENDRECV && d <= PERC_SDP_INACTIVE ? DIRECTIONS[d] : NULL;
}

perc_sdp_direction sdp_direction_of(sdp_str s)
{
    for (int d = PERC_SDP_SENDRECV; d <= PERC_SDP_INACTIVE; d++) {
        if (sdp_eq(s, DIRECTIONS[d]))
            return (perc_sdp_direction)d;
    }
    return PERC_SDP_DIR_NONE;
}

static const char *const SETUPS[] = {NULL, "active", "passive", "actpass", "holdconn"};

const char *sdp_setup_name(perc_sdp_setup s)
{
    return s >= PERC_SDP_SETUP_ACTIVE && s <= PERC_SDP_SETUP_HOLDCONN ? SETUPS[s] : NULL;
}

int sdp_parse_setup(sdp_str v, perc_sdp_setup *out, const char **why)
{
    for (int s = PERC_SDP_SETUP_ACTIVE; s <= PERC_SDP_SETUP_HOLDCONN; s++) {
        if (sdp_eq(v, SETUPS[s])) {
            *out = (perc_sdp_setup)s;
            return PERC_OK;
        }
    }
    *why = "a=setup: not active, passive, actpass or holdconn";
    return PERC_ERR_MALFORMED;
}

/* ---- a=extmap (RFC 8285 §8) ---- */

/* An absolute URI's scheme and something after the colon, all visible
 * ASCII: enough to keep text out that the writer could not reproduce. */
static bool is_uri(sdp_str s)
{
    if (s.n < 3 || !sdp_is_alpha(s.p[0]))
        return false;
    size_t i = 1;
    while (i < s.n && (sdp_is_alpha(s.p[i]) || sdp_is_digit(s.p[i]) || s.p[i] == '+' ||
                       s.p[i] == '-' || s.p[i] == '.'))
        i++;
    if (i >= s.n - 1 || s.p[i] != ':')
        return false;
    for (; i < s.n; i++) {
        if (!sdp_is_vchar(s.p[i]))
            return false;
    }
    return true;
}

int sdp_parse_extmap(sdp_str v, perc_sdp_extmap *e, const char **why)
{
    memset(e, 0, sizeof *e);
    sdp_str rest = v, f, uri;
    if (!sdp_next_field(&rest, &f) || f.n == 0 || !rest.p) {
        *why = "a=extmap: expected an id and a URI";
        return PERC_ERR_MALFORMED;
    }
    const char *slash = memchr(f.p, '/', f.n);
    sdp_str id = f;
    if (slash) {
        id.n = (size_t)(slash - f.p);
        e->direction = sdp_direction_of(sdp_str_of(slash + 1, f.n - id.n - 1));
        if (!e->direction) {
            *why = "a=extmap: direction is not sendrecv, sendonly, recvonly or inactive";
            return PERC_ERR_MALFORMED;
        }
    }
    uint64_t n;
    if (!sdp_uint(id, 255, &n) || n == 0) {
        *why = "a=extmap: id is not 1..255";
        return PERC_ERR_MALFORMED;
    }
    e->id = (uint16_t)n;
    if (!sdp_next_field(&rest, &uri) || uri.n == 0) {
        *why = "a=extmap: expected an id and a URI";
        return PERC_ERR_MALFORMED;
    }
    if (!is_uri(uri)) {
        *why = "a=extmap: URI is not an absolute URI";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(e->uri, sizeof e->uri, uri)) {
        *why = "a=extmap: URI longer than 255 bytes";
        return PERC_ERR_LIMIT;
    }
    if (rest.p) {
        /* extension attributes: the rest of the line, kept as text */
        if (rest.n == 0 || rest.p[0] == ' ') {
            *why = "a=extmap: doubled or trailing space";
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_copy(e->attributes, sizeof e->attributes, rest)) {
            *why = "a=extmap: extension attributes longer than 127 bytes";
            return PERC_ERR_LIMIT;
        }
    }
    return PERC_OK;
}

void sdp_format_extmap(sdp_buf *b, const perc_sdp_extmap *e)
{
    sdp_putu(b, e->id);
    const char *dir = sdp_direction_name(e->direction);
    if (dir) {
        sdp_putc(b, '/');
        sdp_puts(b, dir);
    }
    sdp_putc(b, ' ');
    sdp_puts(b, e->uri);
    if (e->attributes[0]) {
        sdp_putc(b, ' ');
        sdp_puts(b, e->attributes);
    }
}

bool sdp_extmap_equal(const perc_sdp_extmap *a, const perc_sdp_extmap *b)
{
    return a->id == b->id && a->direction == b->direction &&
           strncmp(a->uri, b->uri, sizeof a->uri) == 0 &&
           strncmp(a->attributes, b->attributes, sizeof a->attributes) == 0;
}

/* ---- a=rtpmap (RFC 8866 §6.6) ---- */

int sdp_parse_rtpmap(sdp_str v, perc_sdp_rtpmap *r, const char **why)
{
    sdp_str f[2];
    int rc = split(v, f, 2, "a=rtpmap: expected <pt> <name>/<clock>[/<channels>]",
                   "a=rtpmap: empty field (doubled space?)", why);
    if (rc)
        return rc;
    memset(r, 0, sizeof *r);
    uint64_t n;
    if (!sdp_uint(f[0], 127, &n)) {
        *why = "a=rtpmap: payload type is not 0..127";
        return PERC_ERR_MALFORMED;
    }
    r->pt = (uint8_t)n;
    sdp_str part[3];
    size_t parts = 0;
    sdp_str rest = f[1];
    while (rest.n || parts == 0) {
        const char *slash = memchr(rest.p, '/', rest.n);
        if (parts == 3) {
            *why = "a=rtpmap: too many '/' parts";
            return PERC_ERR_MALFORMED;
        }
        if (!slash) {
            part[parts++] = rest;
            break;
        }
        part[parts++] = sdp_str_of(rest.p, (size_t)(slash - rest.p));
        rest = sdp_str_of(slash + 1, rest.n - (size_t)(slash - rest.p) - 1);
        if (rest.n == 0) {
            *why = "a=rtpmap: empty part after '/'";
            return PERC_ERR_MALFORMED;
        }
    }
    if (parts < 2) {
        *why = "a=rtpmap: missing /<clock rate>";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_is_token(part[0])) {
        *why = "a=rtpmap: encoding name is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(r->name, sizeof r->name, part[0])) {
        *why = "a=rtpmap: encoding name longer than 31 characters";
        return PERC_ERR_LIMIT;
    }
    if (!sdp_uint(part[1], UINT32_MAX, &n) || n == 0) {
        *why = "a=rtpmap: clock rate is not 1..2^32-1";
        return PERC_ERR_MALFORMED;
    }
    r->clock = (uint32_t)n;
    if (parts == 3) {
        if (!sdp_uint(part[2], 65535, &n) || n == 0) {
            *why = "a=rtpmap: channels is not 1..65535";
            return PERC_ERR_MALFORMED;
        }
        r->channels = (uint16_t)n;
    }
    return PERC_OK;
}

void sdp_format_rtpmap(sdp_buf *b, const perc_sdp_rtpmap *r)
{
    sdp_putu(b, r->pt);
    sdp_putc(b, ' ');
    sdp_puts(b, r->name);
    sdp_putc(b, '/');
    sdp_putu(b, r->clock);
    if (r->channels) {
        sdp_putc(b, '/');
        sdp_putu(b, r->channels);
    }
}

/* ---- a=ssrc (RFC 5576 §4.1) ---- */

int sdp_parse_ssrc(sdp_str v, perc_sdp_ssrc *s, const char **why)
{
    memset(s, 0, sizeof *s);
    sdp_str rest = v, id;
    if (!sdp_next_field(&rest, &id) || !rest.p) {
        *why = "a=ssrc: expected <ssrc> <attribute>[:<value>]";
        return PERC_ERR_MALFORMED;
    }
    uint64_t n;
    if (!sdp_uint(id, UINT32_MAX, &n)) {
        *why = "a=ssrc: SSRC is not 0..2^32-1";
        return PERC_ERR_MALFORMED;
    }
    s->ssrc = (uint32_t)n;
    /* the rest is att-field [":" att-value]; the value may hold spaces */
    const char *colon = memchr(rest.p, ':', rest.n);
    sdp_str name = rest;
    if (colon)
        name.n = (size_t)(colon - rest.p);
    if (!sdp_is_token(name)) {
        *why = "a=ssrc: attribute name is not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(s->attribute, sizeof s->attribute, name)) {
        *why = "a=ssrc: attribute name longer than 31 characters";
        return PERC_ERR_LIMIT;
    }
    if (colon) {
        sdp_str value = sdp_str_of(colon + 1, rest.n - name.n - 1);
        if (value.n == 0) {
            *why = "a=ssrc: empty value after ':'";
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_copy(s->value, sizeof s->value, value)) {
            *why = "a=ssrc: value longer than 255 bytes";
            return PERC_ERR_LIMIT;
        }
        s->has_value = true;
    }
    return PERC_OK;
}

void sdp_format_ssrc(sdp_buf *b, const perc_sdp_ssrc *s)
{
    sdp_putu(b, s->ssrc);
    sdp_putc(b, ' ');
    sdp_puts(b, s->attribute);
    if (s->has_value) {
        sdp_putc(b, ':');
        sdp_puts(b, s->value);
    }
}

bool sdp_ssrc_equal(const perc_sdp_ssrc *a, const perc_sdp_ssrc *b)
{
    return a->ssrc == b->ssrc && strncmp(a->attribute, b->attribute, sizeof a->attribute) == 0 &&
           a->has_value == b->has_value &&
           (!a->has_value || strncmp(a->value, b->value, sizeof a->value) == 0);
}

/* ---- ICE credentials and options (RFC 8839 §5.4, §5.6), tls-id, mid ---- */

int sdp_parse_ice_ufrag(sdp_str v, char *out, const char **why)
{
    if (v.n < PERC_SDP_ICE_UFRAG_MIN || v.n > PERC_SDP_ICE_UFRAG_MAX || !sdp_all_ice_chars(v)) {
        *why = "a=ice-ufrag: not 4..256 ice-chars (letters, digits, + /)";
        return PERC_ERR_MALFORMED;
    }
    sdp_copy(out, PERC_SDP_ICE_UFRAG_MAX + 1, v);
    return PERC_OK;
}

int sdp_parse_ice_pwd(sdp_str v, char *out, const char **why)
{
    if (v.n < PERC_SDP_ICE_PWD_MIN || v.n > PERC_SDP_ICE_PWD_MAX || !sdp_all_ice_chars(v)) {
        *why = "a=ice-pwd: not 22..256 ice-chars (letters, digits, + /)";
        return PERC_ERR_MALFORMED;
    }
    sdp_copy(out, PERC_SDP_ICE_PWD_MAX + 1, v);
    return PERC_OK;
}

int sdp_parse_ice_options(sdp_str v, char *out, const char **why)
{
    sdp_str rest = v, tag;
    while (sdp_next_field(&rest, &tag)) {
        if (tag.n == 0 || !sdp_all_ice_chars(tag)) {
            *why = "a=ice-options: not a list of ice-char tags separated by single spaces";
            return PERC_ERR_MALFORMED;
        }
    }
    if (!sdp_copy(out, PERC_SDP_MAX_ICE_OPTIONS + 1, v)) {
        *why = "a=ice-options: longer than 127 bytes";
        return PERC_ERR_LIMIT;
    }
    return PERC_OK;
}

/* RFC 8842 §4: tls-id-value = 20*255(tls-id-char), tls-id-char = ALPHA /
 * DIGIT / "+" / "/" / "-" / "_" (base64 and base64url alphabets, no "="). */
int sdp_parse_tls_id(sdp_str v, char *out, const char **why)
{
    bool ok = v.n >= PERC_SDP_TLS_ID_MIN && v.n <= PERC_SDP_TLS_ID_MAX;
    for (size_t i = 0; ok && i < v.n; i++) {
        char c = v.p[i];
        ok = sdp_is_alpha(c) || sdp_is_digit(c) || c == '+' || c == '/' || c == '-' || c == '_';
    }
    if (!ok) {
        *why = "a=tls-id: not 20..255 characters of A-Z a-z 0-9 + / - _";
        return PERC_ERR_MALFORMED;
    }
    sdp_copy(out, PERC_SDP_TLS_ID_MAX + 1, v);
    return PERC_OK;
}

/* RFC 5888 §4: identification-tag = token. */
int sdp_parse_mid(sdp_str v, char *out, const char **why)
{
    if (!sdp_is_token(v)) {
        *why = "a=mid: not a token";
        return PERC_ERR_MALFORMED;
    }
    if (!sdp_copy(out, PERC_SDP_MAX_MID + 1, v)) {
        *why = "a=mid: longer than 63 characters";
        return PERC_ERR_LIMIT;
    }
    return PERC_OK;
}

/* ---- a=group (RFC 5888 §5), BUNDLE (RFC 8843) ---- */

int sdp_parse_group(sdp_str v, sdp_bundle *g, bool *is_bundle, const char **why)
{
    memset(g, 0, sizeof *g);
    sdp_str rest = v, f;
    bool first = true;
    *is_bundle = false;
    while (sdp_next_field(&rest, &f)) {
        if (f.n == 0) {
            *why = "a=group: empty field (doubled or trailing space?)";
            return PERC_ERR_MALFORMED;
        }
        if (!sdp_is_token(f)) {
            *why = first ? "a=group: semantics is not a token" : "a=group: mid is not a token";
            return PERC_ERR_MALFORMED;
        }
        if (first) {
            *is_bundle = sdp_eq(f, "BUNDLE");
            first = false;
            continue;
        }
        if (!*is_bundle)
            continue;
        if (f.n > PERC_SDP_MAX_MID) {
            *why = "a=group:BUNDLE: mid longer than 63 characters";
            return PERC_ERR_LIMIT;
        }
        for (size_t i = 0; i < g->count; i++) {
            if (sdp_eq(f, g->mids[i])) {
                *why = "a=group:BUNDLE: mid listed twice";
                return PERC_ERR_MALFORMED;
            }
        }
        if (g->count == PERC_SDP_MAX_MEDIA) {
            *why = "a=group:BUNDLE: more mids than media sections allowed (4)";
            return PERC_ERR_LIMIT;
        }
        sdp_copy(g->mids[g->count++], PERC_SDP_MAX_MID + 1, f);
    }
    return PERC_OK;
}

void sdp_format_group(sdp_buf *b, const sdp_bundle *g)
{
    sdp_puts(b, "BUNDLE");
    for (size_t i = 0; i < g->count && i < PERC_SDP_MAX_MEDIA; i++) {
        sdp_putc(b, ' ');
        sdp_puts(b, g->mids[i]);
    }
}
