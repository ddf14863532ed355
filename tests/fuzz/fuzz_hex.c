/* Fuzz target for hex decoding (perc-tool's input parser).
 * Invariants: decoding never writes past its output; what decodes
 * re-encodes to the input's digits in lowercase without whitespace, and
 * that decodes back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t cap = size / 2; /* exact worst case: every input octet a digit */
    uint8_t *bytes = malloc(cap + 1);
    char *again = malloc(2 * cap + 1);
    uint8_t *back = malloc(cap + 1);
    size_t n = 0, m = 0;
    if (bytes && again && back && perc_hex_decode(text, bytes, cap, &n) == PERC_OK) {
        if (perc_hex_encode(bytes, n, again, 2 * cap + 1) != PERC_OK)
            abort();
        if (perc_hex_decode(again, back, cap, &m) != PERC_OK || m != n || memcmp(back, bytes, n) != 0)
            abort();
        /* the digits, lowercased, are exactly what was encoded */
        size_t j = 0;
        for (size_t i = 0; i < strlen(text); i++) {
            char c = text[i];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                continue;
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            if (again[j++] != c)
                abort();
        }
        if (j != 2 * n)
            abort();
    }
    free(text);
    free(bytes);
    free(again);
    free(back);
    return 0;
}
