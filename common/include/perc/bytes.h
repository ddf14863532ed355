/* Bounds-checked reading and writing of network-order bytes.
 *
 * Every parser in libperc reads through a perc_reader and every serializer
 * writes through a perc_writer, so no code indexes packet bytes on trust.
 *
 * Reader: each call checks the remaining length first and returns
 * PERC_ERR_TRUNCATED without moving if the input is too short. Length-
 * prefixed vectors (TLS presentation language `opaque x<0..2^16-1>`) are read
 * as sub-readers confined to the block, so a field cannot run past its own
 * length; perc_reader_expect_end() rejects trailing bytes.
 *
 * Writer: errors are sticky. Serializers write a whole structure and check
 * once with perc_writer_error() (or perc_writer_finish()). Length prefixes
 * are written as placeholders and back-patched when the block closes.
 */
#ifndef PERC_BYTES_H
#define PERC_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"

/* A borrowed run of bytes; it never owns memory. */
typedef struct perc_view {
    const uint8_t *ptr;
    size_t len;
} perc_view;

static inline perc_view perc_view_of(const uint8_t *ptr, size_t len)
{
    perc_view v = {ptr, len};
    return v;
}

typedef struct perc_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
} perc_reader;

void perc_reader_init(perc_reader *r, const uint8_t *buf, size_t len);
size_t perc_reader_remaining(const perc_reader *r);
/* PERC_OK when everything was consumed, else PERC_ERR_TRAILING. */
PERC_MUST_CHECK int perc_reader_expect_end(const perc_reader *r);

PERC_MUST_CHECK int perc_read_u8(perc_reader *r, uint8_t *out);
PERC_MUST_CHECK int perc_read_u16(perc_reader *r, uint16_t *out);
PERC_MUST_CHECK int perc_read_u24(perc_reader *r, uint32_t *out);
PERC_MUST_CHECK int perc_read_u32(perc_reader *r, uint32_t *out);
PERC_MUST_CHECK int perc_read_u48(perc_reader *r, uint64_t *out);
PERC_MUST_CHECK int perc_read_u64(perc_reader *r, uint64_t *out);
/* A view of the next n bytes (no copy). */
PERC_MUST_CHECK int perc_read_view(perc_reader *r, size_t n, perc_view *out);
/* Copies the next n bytes into dst. */
PERC_MUST_CHECK int perc_read_copy(perc_reader *r, uint8_t *dst, size_t n);
PERC_MUST_CHECK int perc_read_skip(perc_reader *r, size_t n);
/* Everything that is left, as a view; the reader ends up empty. */
perc_view perc_read_rest(perc_reader *r);

/* Reads a length prefix of prefix_bytes (1, 2 or 3) and confines `sub` to
 * the block it announces; `r` moves past the block. */
PERC_MUST_CHECK int perc_read_block(perc_reader *r, unsigned prefix_bytes, perc_reader *sub);
/* Same, as a view of the block's bytes. */
PERC_MUST_CHECK int perc_read_vector(perc_reader *r, unsigned prefix_bytes, perc_view *out);

typedef struct perc_writer {
    uint8_t *buf;
    size_t cap;
    size_t pos;
    int err;            /* first error, sticky; PERC_OK while all went well */
} perc_writer;

void perc_writer_init(perc_writer *w, uint8_t *buf, size_t cap);
static inline int perc_writer_error(const perc_writer *w) { return w->err; }
/* On success stores the number of bytes written and returns PERC_OK. */
PERC_MUST_CHECK int perc_writer_finish(const perc_writer *w, size_t *len);

void perc_write_u8(perc_writer *w, uint8_t v);
void perc_write_u16(perc_writer *w, uint16_t v);
void perc_write_u24(perc_writer *w, uint32_t v);
void perc_write_u32(perc_writer *w, uint32_t v);
void perc_write_u48(perc_writer *w, uint64_t v);
void perc_write_u64(perc_writer *w, uint64_t v);
void perc_write_bytes(perc_writer *w, const uint8_t *p, size_t n);
void perc_write_zeros(perc_writer *w, size_t n);
/* Reserves n bytes and returns where they start (NULL after an error), for
 * callers that fill them in place, e.g. with a cipher. */
uint8_t *perc_write_reserve(perc_writer *w, size_t n);

/* Length-prefixed block: open writes a zero prefix of prefix_bytes (1, 2 or
 * 3) and returns a mark; close writes the length of what came after it.
 * A block longer than its prefix can express sets PERC_ERR_TOO_LARGE. */
typedef struct perc_block_mark {
    size_t at;
    unsigned prefix_bytes;
} perc_block_mark;

perc_block_mark perc_write_block_open(perc_writer *w, unsigned prefix_bytes);
void perc_write_block_close(perc_writer *w, perc_block_mark m);
/* A vector: prefix then bytes, in one call. */
void perc_write_vector(perc_writer *w, unsigned prefix_bytes, const uint8_t *p, size_t n);

/* Plain big-endian loads and stores for code that has already checked
 * lengths (e.g. fixed-size headers). */
static inline uint16_t perc_load_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t perc_load_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void perc_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void perc_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
