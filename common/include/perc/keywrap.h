/* AES Key Wrap with Padding (RFC 5649), the EKT cipher (RFC 8870 §4.4.1).
 *
 * End-to-end material: only endpoints and the Key Distributor wrap or
 * unwrap. KEKs of 16, 24 or 32 octets select AES-128/192/256 (EKT uses 16
 * or 32; the RFC 5649 vectors use 24). The output of wrapping M octets is
 * 8*ceil(M/8) + 8 octets (the formula of RFC 8870 §4.4.1 is wrong, see the
 * spec digest, README item 4). Unwrapping checks the alternative IV, the
 * message length indicator and the zero padding; any failure is reported as
 * one authentication failure, without saying which check failed.
 */
#ifndef PERC_KEYWRAP_H
#define PERC_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* Largest plaintext accepted. EKT needs at most 251 octets; the bound
 * keeps the working buffers on the stack. */
#define PERC_KEYWRAP_MAX_PLAIN 1024
#define PERC_KEYWRAP_MAX_WRAPPED (PERC_KEYWRAP_MAX_PLAIN + 8)

/* 8*ceil(m/8) + 8 for 1 <= m; 0 for m == 0 (nothing to wrap). */
size_t perc_keywrap_wrapped_len(size_t m);

/* Wraps in (1..PERC_KEYWRAP_MAX_PLAIN octets) under kek.
 * Errors: PERC_ERR_KEY_LENGTH (kek not 16/24/32 octets), PERC_ERR_INVALID_ARG
 * (empty or oversized input), PERC_ERR_NOSPACE (cap below
 * perc_keywrap_wrapped_len(in_len)), PERC_ERR_CRYPTO (OpenSSL failed). */
PERC_MUST_CHECK int perc_keywrap_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
                                      size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

/* Unwraps and verifies in. On success out holds the original plaintext and
 * *out_len its length (at most in_len - 8). Errors: PERC_ERR_AUTH (wrong
 * key, corrupted input, bad length indicator, non-zero padding, or an input
 * length that no wrap produces), PERC_ERR_KEY_LENGTH, PERC_ERR_NOSPACE (cap
 * below the unwrapped length), PERC_ERR_CRYPTO. Nothing is written to out
 * unless verification succeeded. */
PERC_MUST_CHECK int perc_keywrap_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
                                        size_t in_len, uint8_t *out, size_t cap,
                                        size_t *out_len);

#endif
