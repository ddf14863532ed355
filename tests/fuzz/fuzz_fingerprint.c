/* Fuzz target for the fingerprint text parsers: perc_dtls_fingerprint_parse
 * (endpoint identities in the KMF's roster, --kmf-fingerprint) and
 * perc_tls_fingerprint_parse (the tunnel's --*-fingerprint pins).
 * Each is checked against a reference written here from its header's
 * contract: it accepts exactly what the reference accepts, the bytes it
 * returns are the reference's, they format back to the input in upper
 * case, and a DTLS refusal leaves the output zeroed. The TLS parser gets
 * the input without a NUL, in a buffer of exactly its length, so ASan sees
 * any read past it. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/dtls.h"
#include "perc/error.h"
#include "perc/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* n octets as hex pairs, colon-separated when `colons`, either case. */
static int reference(const char *t, size_t len, size_t n, int colons, uint8_t *out)
{
    size_t step = colons ? 3 : 2;
    if (len != n * step - (colons ? 1 : 0))
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = t + i * step;
        int hi = digit(p[0]), lo = digit(p[1]);
        if (hi < 0 || lo < 0 || (colons && i + 1 < n && p[2] != ':'))
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

static void upper(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        s[i] = (char)toupper((unsigned char)s[i]);
}

static void check_dtls(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text); /* the parser reads up to the NUL */
    uint8_t got[PERC_DTLS_FINGERPRINT_LEN], want[PERC_DTLS_FINGERPRINT_LEN];
    memset(got, 0xA5, sizeof got);
    int rc = perc_dtls_fingerprint_parse(text, got);
    int ok = reference(text, len, PERC_DTLS_FINGERPRINT_LEN, 1, want);
    if ((rc == PERC_OK) != ok)
        abort();
    if (rc != PERC_OK) {
        static const uint8_t zero[PERC_DTLS_FINGERPRINT_LEN];
        if (rc != PERC_ERR_MALFORMED || memcmp(got, zero, sizeof got) != 0)
            abort();
        free(text);
        return;
    }
    char back[PERC_DTLS_FINGERPRINT_TEXT_LEN];
    if (memcmp(got, want, sizeof got) != 0 ||
        perc_dtls_fingerprint_format(got, back, sizeof back) != PERC_OK)
        abort();
    upper(text, len);
    if (strcmp(back, text) != 0)
        abort();
    free(text);
}

static void check_tls(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return;
    memcpy(text, data, size);
    uint8_t got[PERC_TLS_FINGERPRINT_LEN], want[PERC_TLS_FINGERPRINT_LEN];
    int rc = perc_tls_fingerprint_parse(text, size, got);
    int colons = size == PERC_TLS_FINGERPRINT_TEXT_LEN;
    int ok = reference(text, size, PERC_TLS_FINGERPRINT_LEN, colons, want);
    if ((rc == PERC_OK) != ok || (rc != PERC_OK && rc != PERC_ERR_MALFORMED))
        abort();
    if (rc == PERC_OK) {
        char back[PERC_TLS_FINGERPRINT_TEXT_LEN + 1];
        if (memcmp(got, want, sizeof got) != 0 ||
            perc_tls_fingerprint_format(got, back, sizeof back) != PERC_OK)
            abort();
        /* The colon form formats back to itself; the bare form to its
         * digits with colons between the pairs. */
        upper(text, size);
        for (size_t i = 0; i < PERC_TLS_FINGERPRINT_LEN; i++) {
            const char *p = text + i * (colons ? 3 : 2);
            if (back[3 * i] != p[0] || back[3 * i + 1] != p[1])
                abort();
        }
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_dtls(data, size);
    check_tls(data, size);
    return 0;
}
