/* Outgoing byte queue of a tunnel endpoint; see tunnel_outq.h. */
#include "tunnel_outq.h"

#include <stdlib.h>
#include <string.h>

#include "perc/bytes.h"
#include "perc/secret.h"

/* A buffer larger than this is released once the queue runs empty, so a
 * burst does not pin memory for the connection's lifetime. */
#define KEEP_CAP (64u * 1024u)
#define MIN_CAP 256u

void tunnel_outq_init(tunnel_outq *q, size_t limit)
{
    memset(q, 0, sizeof *q);
    if (limit == 0)
        limit = TUNNEL_OUTQ_DEFAULT_LIMIT;
    if (limit < PERC_TUNNEL_MAX_MSG)
        limit = PERC_TUNNEL_MAX_MSG;
    q->limit = limit;
}

static void release_buf(tunnel_outq *q)
{
    if (q->buf) {
        perc_wipe(q->buf, q->cap);
        free(q->buf);
    }
    q->buf = NULL;
    q->cap = q->head = q->tail = 0;
}

void tunnel_outq_free(tunnel_outq *q) { release_buf(q); }

void tunnel_outq_clear(tunnel_outq *q)
{
    if (q->cap > KEEP_CAP) {
        release_buf(q);
        return;
    }
    if (q->buf)
        perc_wipe(q->buf, q->cap);
    q->head = q->tail = 0;
}

size_t tunnel_outq_len(const tunnel_outq *q) { return q->tail - q->head; }

/* Makes room for n more octets at the tail. */
static int reserve(tunnel_outq *q, size_t n)
{
    size_t used = q->tail - q->head;
    if (n > q->limit - used)
        return PERC_ERR_LIMIT;
    if (q->cap - q->tail >= n)
        return PERC_OK;
    if (q->head > 0 && q->cap - used >= n) {
        memmove(q->buf, q->buf + q->head, used);
        perc_wipe(q->buf + used, q->cap - used);
        q->head = 0;
        q->tail = used;
        return PERC_OK;
    }
    size_t cap = q->cap ? q->cap : MIN_CAP;
    while (cap < used + n)
        cap *= 2;
    uint8_t *b = malloc(cap);
    if (!b)
        return PERC_ERR_NOMEM;
    /* A fresh buffer and a wiped old one, not realloc(): the old block may
     * hold key bytes that realloc would leave behind. */
    if (used)
        memcpy(b, q->buf + q->head, used);
    memset(b + used, 0, cap - used);
    release_buf(q);
    q->buf = b;
    q->cap = cap;
    q->tail = used;
    return PERC_OK;
}

int tunnel_outq_push(tunnel_outq *q, const perc_tunnel_msg *m)
{
    size_t n;
    int rc = perc_tunnel_encoded_len(m, &n);
    if (rc)
        return rc;
    if ((rc = reserve(q, n)))
        return rc;
    perc_writer w;
    perc_writer_init(&w, q->buf + q->tail, n);
    rc = perc_tunnel_encode(&w, m);
    size_t written = 0;
    if (rc == PERC_OK)
        rc = perc_writer_finish(&w, &written);
    if (rc == PERC_OK && written != n)
        rc = PERC_ERR_INVALID_ARG; /* cannot happen: encoded_len and encode agree */
    if (rc) {
        perc_wipe(q->buf + q->tail, n);
        return rc;
    }
    q->tail += n;
    return PERC_OK;
}

void tunnel_outq_pull(tunnel_outq *q, uint8_t *buf, size_t cap, size_t *len)
{
    size_t used = q->tail - q->head;
    size_t n = cap < used ? cap : used;
    if (n > 0) {
        memcpy(buf, q->buf + q->head, n);
        perc_wipe(q->buf + q->head, n);
        q->head += n;
    }
    if (q->head == q->tail) {
        q->head = q->tail = 0;
        if (q->cap > KEEP_CAP)
            release_buf(q);
    }
    *len = n;
}
