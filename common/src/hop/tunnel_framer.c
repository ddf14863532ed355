/* Byte-stream reassembly of tunnel messages (RFC 9185 §6.1 framing). */
#include "perc/tunnel_framer.h"

#include <stdlib.h>
#include <string.h>

#include "perc/secret.h"

struct perc_tunnel_framer {
    uint8_t *buf;       /* PERC_TUNNEL_MAX_MSG octets */
    size_t start;       /* first octet not yet handed out */
    size_t end;         /* one past the last octet fed */
    size_t lent;        /* length of the message last handed out, at start */
};

int perc_tunnel_framer_new(perc_tunnel_framer **out)
{
    if (!out)
        return PERC_ERR_INVALID_ARG;
    perc_tunnel_framer *f = calloc(1, sizeof *f);
    if (!f)
        return PERC_ERR_NOMEM;
    f->buf = calloc(1, PERC_TUNNEL_MAX_MSG);
    if (!f->buf) {
        free(f);
        return PERC_ERR_NOMEM;
    }
    *out = f;
    return PERC_OK;
}

void perc_tunnel_framer_free(perc_tunnel_framer *f)
{
    if (!f)
        return;
    perc_wipe(f->buf, PERC_TUNNEL_MAX_MSG);
    free(f->buf);
    free(f);
}

/* Drops the message handed out last: the caller has had its turn, and its
 * bytes may be keys. */
static void release(perc_tunnel_framer *f)
{
    if (f->lent == 0)
        return;
    perc_wipe(f->buf + f->start, f->lent);
    f->start += f->lent;
    f->lent = 0;
    if (f->start == f->end)
        f->start = f->end = 0;
}

/* Moves what is left to the front so the free space is in one piece, and
 * wipes the octets that were left behind. */
static void compact(perc_tunnel_framer *f)
{
    size_t kept = f->end - f->start;
    if (f->start == 0)
        return;
    memmove(f->buf, f->buf + f->start, kept);
    perc_wipe(f->buf + kept, f->start);
    f->start = 0;
    f->end = kept;
}

int perc_tunnel_framer_feed(perc_tunnel_framer *f, const uint8_t *data, size_t len,
                            size_t *accepted)
{
    if (!f || !accepted || (len > 0 && !data))
        return PERC_ERR_INVALID_ARG;
    *accepted = 0;
    release(f);
    if (len == 0)
        return PERC_OK;
    if (PERC_TUNNEL_MAX_MSG - f->end < len)
        compact(f);
    size_t room = PERC_TUNNEL_MAX_MSG - f->end;
    size_t n = len < room ? len : room;
    if (n == 0)
        return PERC_ERR_LIMIT;
    memcpy(f->buf + f->end, data, n);
    f->end += n;
    *accepted = n;
    return PERC_OK;
}

int perc_tunnel_framer_next(perc_tunnel_framer *f, perc_tunnel_msg *msg, bool *have)
{
    if (!f || !msg || !have)
        return PERC_ERR_INVALID_ARG;
    *have = false;
    release(f);
    uint8_t type;
    size_t msg_len;
    if (perc_tunnel_peek(f->buf + f->start, f->end - f->start, &type, &msg_len) != PERC_OK ||
        msg_len > f->end - f->start)
        return PERC_OK; /* not yet whole: wait for more bytes */
    *have = true;
    f->lent = msg_len;
    return perc_tunnel_decode(f->buf + f->start, msg_len, msg);
}

size_t perc_tunnel_framer_buffered(const perc_tunnel_framer *f)
{
    return f ? f->end - f->start - f->lent : 0;
}
