/* Small helpers shared by the unit tests. */
#ifndef PERC_TEST_UTIL_H
#define PERC_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes hex into out (cap bytes); aborts the test program on bad hex,
 * since a test with a typo in a literal must not pass. Returns the length. */
size_t tu_hex(const char *hex, uint8_t *out, size_t cap);

/* Deterministic pseudo-random bytes for generated test inputs (not for
 * keys outside tests): xorshift64*, seeded per test for reproducibility. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;

void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
uint32_t tu_rng_below(tu_rng *r, uint32_t bound);
void tu_rng_fill(tu_rng *r, uint8_t *buf, size_t len);

#endif
