/* Hex text <-> bytes, for perc-tool, test vectors and logs of public data.
 * Never use it on secrets headed for a log. */
#ifndef PERC_HEX_H
#define PERC_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* Decodes hex (either case; ASCII whitespace between digit pairs is
 * skipped) into out. PERC_ERR_HEX on an odd number of digits or a non-hex
 * character, PERC_ERR_NOSPACE if out is too small. */
PERC_MUST_CHECK int perc_hex_decode(const char *text, uint8_t *out, size_t cap, size_t *out_len);

/* The value 0..15 of one hex digit (either case), or -1. */
int perc_hex_digit(char c);

/* Writes 2*len lowercase digits and a NUL; cap must be at least 2*len+1. */
PERC_MUST_CHECK int perc_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
