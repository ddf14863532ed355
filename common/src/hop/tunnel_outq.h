/* Outgoing byte queue of one tunnel endpoint (tunnel_md.c, tunnel_kd.c):
 * whole encoded tunnel messages waiting for the caller to pull them into
 * the TLS connection. MediaKeys pass through the Key Distributor's queue, so
 * every octet is wiped when it leaves the queue or the queue is dropped.
 * Internal; not part of the public API. */
#ifndef PERC_TUNNEL_OUTQ_H
#define PERC_TUNNEL_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/tunnel.h"

/* Default bound on queued octets: a caller that stops draining the queue
 * gets PERC_ERR_LIMIT instead of unbounded memory use. */
#define TUNNEL_OUTQ_DEFAULT_LIMIT (1024u * 1024u)

typedef struct tunnel_outq {
    uint8_t *buf;
    size_t cap;
    size_t head;        /* first octet not yet pulled */
    size_t tail;        /* one past the last octet queued */
    size_t limit;       /* most octets queued at once */
} tunnel_outq;

/* limit 0 means TUNNEL_OUTQ_DEFAULT_LIMIT; a limit below one largest
 * message is raised to PERC_TUNNEL_MAX_MSG so every message can be sent. */
void tunnel_outq_init(tunnel_outq *q, size_t limit);
/* Wipes and frees the buffer. */
void tunnel_outq_free(tunnel_outq *q);
/* Wipes and drops everything queued. */
void tunnel_outq_clear(tunnel_outq *q);
size_t tunnel_outq_len(const tunnel_outq *q);

/* Encodes m at the end of the queue, whole or not at all. Errors: those of
 * perc_tunnel_encode(), PERC_ERR_LIMIT (it would exceed the limit),
 * PERC_ERR_NOMEM. */
PERC_MUST_CHECK int tunnel_outq_push(tunnel_outq *q, const perc_tunnel_msg *m);

/* Moves up to cap queued octets into buf (wiping them in the queue). */
void tunnel_outq_pull(tunnel_outq *q, uint8_t *buf, size_t cap, size_t *len);

#endif
