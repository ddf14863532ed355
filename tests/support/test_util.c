#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "perc/hex.h"

size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n;
    if (perc_hex_decode(hex, out, cap, &n) != PERC_OK) {
        fprintf(stderr, "test_util: bad hex literal: %s\n", hex);
        abort();
    }
    return n;
}

void tu_rng_seed(tu_rng *r, uint64_t seed) { r->s = seed ? seed : 0x9E3779B97F4A7C15ull; }

uint64_t tu_rng_next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

uint32_t tu_rng_below(tu_rng *r, uint32_t bound)
{
    return bound ? (uint32_t)(tu_rng_next(r) % bound) : 0;
}

void tu_rng_fill(tu_rng *r, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tu_rng_next(r) >> 56);
}
