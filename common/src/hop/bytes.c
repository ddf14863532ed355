#include "perc/bytes.h"

#include <string.h>

void perc_reader_init(perc_reader *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->pos = 0;
}

size_t perc_reader_remaining(const perc_reader *r) { return r->len - r->pos; }

int perc_reader_expect_end(const perc_reader *r)
{
    return perc_reader_remaining(r) == 0 ? PERC_OK : PERC_ERR_TRAILING;
}

/* Reads an n-byte big-endian unsigned integer (n <= 8). */
static int read_uint(perc_reader *r, size_t n, uint64_t *out)
{
    if (perc_reader_remaining(r) < n)
        return PERC_ERR_TRUNCATED;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->buf[r->pos + i];
    r->pos += n;
    *out = v;
    return PERC_OK;
}

int perc_read_u8(perc_reader *r, uint8_t *out)
{
    uint64_t v;
    int rc = read_uint(r, 1, &v);
    if (rc == PERC_OK)
        *out = (uint8_t)v;
    return rc;
}

int perc_read_u16(perc_reader *r, uint16_t *out)
{
    uint64_t v;
    int rc = read_uint(r, 2, &v);
    if (rc == PERC_OK)
        *out = (uint16_t)v;
    return rc;
}

int perc_read_u24(perc_reader *r, uint32_t *out)
{
    uint64_t v;
    int rc = read_uint(r, 3, &v);
    if (rc == PERC_OK)
        *out = (uint32_t)v;
    return rc;
}

int perc_read_u32(perc_reader *r, uint32_t *out)
{
    uint64_t v;
    int rc = read_uint(r, 4, &v);
    if (rc == PERC_OK)
        *out = (uint32_t)v;
    return rc;
}

int perc_read_u48(perc_reader *r, uint64_t *out) { return read_uint(r, 6, out); }

int perc_read_u64(perc_reader *r, uint64_t *out) { return read_uint(r, 8, out); }

int perc_read_view(perc_reader *r, size_t n, perc_view *out)
{
    if (perc_reader_remaining(r) < n)
        return PERC_ERR_TRUNCATED;
    out->ptr = r->buf + r->pos;
    out->len = n;
    r->pos += n;
    return PERC_OK;
}

int perc_read_copy(perc_reader *r, uint8_t *dst, size_t n)
{
    perc_view v;
    int rc = perc_read_view(r, n, &v);
    if (rc == PERC_OK && n > 0)
        memcpy(dst, v.ptr, n);
    return rc;
}

int perc_read_skip(perc_reader *r, size_t n)
{
    perc_view v;
    return perc_read_view(r, n, &v);
}

perc_view perc_read_rest(perc_reader *r)
{
    perc_view v = {r->buf + r->pos, perc_reader_remaining(r)};
    r->pos = r->len;
    return v;
}

int perc_read_vector(perc_reader *r, unsigned prefix_bytes, perc_view *out)
{
    if (prefix_bytes < 1 || prefix_bytes > 3)
        return PERC_ERR_INVALID_ARG;
    size_t start = r->pos;
    uint64_t n;
    int rc = read_uint(r, prefix_bytes, &n);
    if (rc != PERC_OK)
        return rc;
    rc = perc_read_view(r, (size_t)n, out);
    if (rc != PERC_OK)
        r->pos = start; /* a failed read leaves the reader where it was */
    return rc;
}

int perc_read_block(perc_reader *r, unsigned prefix_bytes, perc_reader *sub)
{
    perc_view v;
    int rc = perc_read_vector(r, prefix_bytes, &v);
    if (rc == PERC_OK)
        perc_reader_init(sub, v.ptr, v.len);
    return rc;
}

void perc_writer_init(perc_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->pos = 0;
    w->err = PERC_OK;
}

int perc_writer_finish(const perc_writer *w, size_t *len)
{
    if (w->err != PERC_OK)
        return w->err;
    *len = w->pos;
    return PERC_OK;
}

uint8_t *perc_write_reserve(perc_writer *w, size_t n)
{
    if (w->err != PERC_OK)
        return NULL;
    if (w->cap - w->pos < n) {
        w->err = PERC_ERR_NOSPACE;
        return NULL;
    }
    uint8_t *p = w->buf + w->pos;
    w->pos += n;
    return p;
}

static void write_uint(perc_writer *w, uint64_t v, size_t n)
{
    uint8_t *p = perc_write_reserve(w, n);
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void perc_write_u8(perc_writer *w, uint8_t v) { write_uint(w, v, 1); }
void perc_write_u16(perc_writer *w, uint16_t v) { write_uint(w, v, 2); }

void perc_write_u24(perc_writer *w, uint32_t v)
{
    if (v > 0xFFFFFFu && w->err == PERC_OK)
        w->err = PERC_ERR_TOO_LARGE;
    write_uint(w, v, 3);
}

void perc_write_u32(perc_writer *w, uint32_t v) { write_uint(w, v, 4); }

void perc_write_u48(perc_writer *w, uint64_t v)
{
    if (v > 0xFFFFFFFFFFFFull && w->err == PERC_OK)
        w->err = PERC_ERR_TOO_LARGE;
    write_uint(w, v, 6);
}

void perc_write_u64(perc_writer *w, uint64_t v) { write_uint(w, v, 8); }

void perc_write_bytes(perc_writer *w, const uint8_t *p, size_t n)
{
    uint8_t *dst = perc_write_reserve(w, n);
    if (dst && n > 0)
        memmove(dst, p, n); /* memmove: callers may write a buffer onto itself */
}

void perc_write_zeros(perc_writer *w, size_t n)
{
    uint8_t *dst = perc_write_reserve(w, n);
    if (dst && n > 0)
        memset(dst, 0, n);
}

perc_block_mark perc_write_block_open(perc_writer *w, unsigned prefix_bytes)
{
    perc_block_mark m = {w->pos, prefix_bytes};
    if (prefix_bytes < 1 || prefix_bytes > 3) {
        if (w->err == PERC_OK)
            w->err = PERC_ERR_INVALID_ARG;
        return m;
    }
    perc_write_zeros(w, prefix_bytes);
    return m;
}

void perc_write_block_close(perc_writer *w, perc_block_mark m)
{
    if (w->err != PERC_OK)
        return;
    size_t body = w->pos - m.at - m.prefix_bytes;
    uint64_t max = (1ull << (8 * m.prefix_bytes)) - 1;
    if (body > max) {
        w->err = PERC_ERR_TOO_LARGE;
        return;
    }
    for (unsigned i = 0; i < m.prefix_bytes; i++)
        w->buf[m.at + i] = (uint8_t)(body >> (8 * (m.prefix_bytes - 1 - i)));
}

void perc_write_vector(perc_writer *w, unsigned prefix_bytes, const uint8_t *p, size_t n)
{
    perc_block_mark m = perc_write_block_open(w, prefix_bytes);
    perc_write_bytes(w, p, n);
    perc_write_block_close(w, m);
}
