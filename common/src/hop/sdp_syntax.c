/* Lexical pieces of SDP: character classes, fields, numbers, addresses,
 * the per-line character check, and the writer's output buffer. */
#include <string.h>

#include "sdp_internal.h"

sdp_str sdp_cstr(const char *s)
{
    return sdp_str_of(s, s ? strlen(s) : 0);
}

bool sdp_is_digit(char c) { return c >= '0' && c <= '9'; }

bool sdp_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39
 * / %x41-5A / %x5E-7E. */
bool sdp_is_token_char(char ch)
{
    unsigned char c = (unsigned char)ch;
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2A || c == 0x2B || c == 0x2D ||
           c == 0x2E || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) ||
           (c >= 0x5E && c <= 0x7E);
}

/* RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/". */
bool sdp_is_ice_char(char c) { return sdp_is_alpha(c) || sdp_is_digit(c) || c == '+' || c == '/'; }

bool sdp_is_vchar(char c) { return (unsigned char)c >= 0x21 && (unsigned char)c <= 0x7E; }

bool sdp_is_token(sdp_str s)
{
    if (s.n == 0)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (!sdp_is_token_char(s.p[i]))
            return false;
    }
    return true;
}

bool sdp_all_ice_chars(sdp_str s)
{
    for (size_t i = 0; i < s.n; i++) {
        if (!sdp_is_ice_char(s.p[i]))
            return false;
    }
    return true;
}

bool sdp_eq(sdp_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

bool sdp_ieq(sdp_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (lower(s.p[i]) != lower(lit[i]))
            return false;
    }
    return true;
}

bool sdp_next_field(sdp_str *rest, sdp_str *field)
{
    if (rest->p == NULL)
        return false;
    const char *sp = memchr(rest->p, ' ', rest->n);
    if (!sp) {
        *field = *rest;
        rest->p = NULL;     /* exhausted: the next call returns false */
        rest->n = 0;
        return true;
    }
    size_t k = (size_t)(sp - rest->p);
    *field = sdp_str_of(rest->p, k);
    rest->p = sp + 1;
    rest->n -= k + 1;
    return true;
}

bool sdp_uint(sdp_str s, uint64_t max, uint64_t *out)
{
    if (s.n == 0 || s.n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!sdp_is_digit(s.p[i]))
            return false;
        unsigned d = (unsigned)(s.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool sdp_copy(char *dst, size_t cap, sdp_str s)
{
    if (s.n >= cap)
        return false;
    if (s.n)
        memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
    return true;
}

/* Dotted quad, each part 0..255 in 1..3 digits without leading zeros (the
 * inet_pton rule: "010" could be read as octal elsewhere). */
bool sdp_is_ipv4(sdp_str s)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= s.n || s.p[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < s.n && sdp_is_digit(s.p[i]) && i - start < 3) {
            v = v * 10 + (unsigned)(s.p[i] - '0');
            i++;
        }
        size_t len = i - start;
        if (len == 0 || v > 255 || (len > 1 && s.p[start] == '0'))
            return false;
    }
    return i == s.n;
}

static bool is_hex(char c) { return sdp_is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f'); }

/* RFC 4291 §2.2 text forms: eight groups of 1..4 hex digits, at most one
 * "::" standing for one or more zero groups, and optionally a dotted IPv4
 * address as the last 32 bits. No zone index (SDP has none). */
bool sdp_is_ipv6(sdp_str s)
{
    if (s.n < 2 || s.n > 45)
        return false;
    size_t i = 0;
    int groups = 0;
    int gap = -1;
    if (s.p[0] == ':') {
        if (s.p[1] != ':')
            return false;
        gap = 0;
        i = 2;
        if (i == s.n)
            return true;
    }
    while (i < s.n) {
        size_t k = i;
        while (k < s.n && is_hex(s.p[k]))
            k++;
        if (k < s.n && s.p[k] == '.') {
            /* an IPv4 tail ends the address and counts as two groups */
            if (!sdp_is_ipv4(sdp_str_of(s.p + i, s.n - i)))
                return false;
            groups += 2;
            i = s.n;
            break;
        }
        if (k == i || k - i > 4)
            return false;
        groups++;
        i = k;
        if (i == s.n)
            break;
        if (s.p[i] != ':')
            return false;
        i++;
        if (i < s.n && s.p[i] == ':') {
            if (gap >= 0)
                return false;
            gap = groups;
            i++;
            if (i == s.n)
                break;
        } else if (i == s.n) {
            return false;   /* a single trailing colon */
        }
        if (groups > 8)
            return false;
    }
    return gap >= 0 ? groups <= 7 : groups == 8;
}

/* RFC 1123 §2.1 host names: dot-separated labels of letters, digits and
 * hyphens, 1..63 octets, not starting or ending with a hyphen; 253 octets
 * in all; no trailing dot. mDNS names (RFC 6762, "<uuid>.local") fit. */
bool sdp_is_hostname(sdp_str s)
{
    if (s.n == 0 || s.n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= s.n; i++) {
        if (i == s.n || s.p[i] == '.') {
            size_t len = i - start;
            if (len == 0 || len > 63 || s.p[start] == '-' || s.p[i - 1] == '-')
                return false;
            start = i + 1;
            continue;
        }
        char c = s.p[i];
        if (!sdp_is_alpha(c) && !sdp_is_digit(c) && c != '-')
            return false;
    }
    return true;
}

int sdp_host_kind(sdp_str s, perc_sdp_host_kind *kind)
{
    if (memchr(s.p, ':', s.n)) {
        if (!sdp_is_ipv6(s))
            return -1;
        *kind = PERC_SDP_HOST_IP6;
        return 0;
    }
    bool dotted_digits = s.n > 0;
    for (size_t i = 0; i < s.n; i++) {
        if (!sdp_is_digit(s.p[i]) && s.p[i] != '.')
            dotted_digits = false;
    }
    if (dotted_digits) {
        /* "1.2.3" is neither an IPv4 address nor a sensible host name */
        if (!sdp_is_ipv4(s))
            return -1;
        *kind = PERC_SDP_HOST_IP4;
        return 0;
    }
    if (!sdp_is_hostname(s))
        return -1;
    *kind = PERC_SDP_HOST_NAME;
    return 0;
}

int perc_sdp_address_kind(const char *address, perc_sdp_host_kind *kind)
{
    if (!address || !kind)
        return PERC_ERR_INVALID_ARG;
    perc_sdp_host_kind k;
    if (sdp_host_kind(sdp_cstr(address), &k) != 0)
        return PERC_ERR_MALFORMED;
    *kind = k;
    return PERC_OK;
}

/* SDP text is UTF-8 (RFC 8866 §5.1 absent a=charset, which we do not
 * support) and a line holds no CR, LF or NUL (byte-string, §9). We reject
 * every C0 control character, TAB included, and DEL: none has a use in the
 * fields we carry, and they would only reach logs and JSON. */
const char *sdp_check_chars(sdp_str line)
{
    const unsigned char *p = (const unsigned char *)line.p;
    size_t n = line.n;
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c < 0x20 || c == 0x7F) {
            if (c == '\r')
                return "CR not followed by LF";
            if (c == 0)
                return "NUL byte in line";
            return "control character in line";
        }
        if (c < 0x80)
            continue;
        size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;      /* no overlong forms */
            if (c == 0xED)
                hi = 0x9F;      /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;      /* nothing above U+10FFFF */
        } else {
            return "invalid UTF-8";
        }
        if (n - i < len)
            return "invalid UTF-8";
        if (p[i + 1] < lo || p[i + 1] > hi)
            return "invalid UTF-8";
        for (size_t k = 2; k < len; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                return "invalid UTF-8";
        }
        i += len - 1;
    }
    return NULL;
}

void sdp_buf_init(sdp_buf *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->err = PERC_OK;
}

void sdp_put(sdp_buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (n > b->cap - b->len) {
        b->err = PERC_ERR_NOSPACE;
        return;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

void sdp_puts(sdp_buf *b, const char *s) { sdp_put(b, s, strlen(s)); }

void sdp_putc(sdp_buf *b, char c) { sdp_put(b, &c, 1); }

void sdp_putu(sdp_buf *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n] = (char)('0' + v % 10);
        v /= 10;
        n++;
    } while (v);
    sdp_put(b, tmp + sizeof tmp - n, n);
}
