#include "perc/hex.h"

int perc_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int perc_hex_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!text || !out_len)
        return PERC_ERR_INVALID_ARG;
    size_t n = 0;
    const char *p = text;
    for (;;) {
        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        int hi = perc_hex_digit(p[0]);
        int lo = hi < 0 || p[1] == '\0' ? -1 : perc_hex_digit(p[1]);
        if (hi < 0 || lo < 0)
            return PERC_ERR_HEX;
        if (n >= cap)
            return PERC_ERR_NOSPACE;
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    *out_len = n;
    return PERC_OK;
}

int perc_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    static const char DIGITS[] = "0123456789abcdef";
    if (!out || cap < 2 * len + 1)
        return PERC_ERR_NOSPACE;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = DIGITS[in[i] >> 4];
        out[2 * i + 1] = DIGITS[in[i] & 0x0F];
    }
    out[2 * len] = '\0';
    return PERC_OK;
}
