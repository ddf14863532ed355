/* Reassembly of RFC 9185 tunnel messages from a TLS byte stream.
 *
 * TLS hands over bytes, not messages: one read may end inside a message or
 * hold several (RFC 9185 §6.1 frames them only by their length field). The
 * framer collects what the caller read and gives back whole messages, one
 * per call. It does no I/O.
 *
 * Its buffer is allocated once, at creation, and holds PERC_TUNNEL_MAX_MSG
 * octets: exactly one largest possible message. A message handed out by
 * perc_tunnel_framer_next() points into that buffer and stays valid until the
 * next call on the framer; at that call its bytes are wiped (MediaKeys passes
 * through here), as is the whole buffer on free.
 *
 * Use:
 *     while (len > 0) {
 *         size_t took;
 *         rc = perc_tunnel_framer_feed(f, data, len, &took);   // may take less
 *         data += took; len -= took;
 *         for (;;) {
 *             rc = perc_tunnel_framer_next(f, &msg, &have);
 *             if (!have) break;
 *             ... handle msg, or rc (the message's decode error) ...
 *         }
 *     }
 */
#ifndef PERC_TUNNEL_FRAMER_H
#define PERC_TUNNEL_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/tunnel.h"

typedef struct perc_tunnel_framer perc_tunnel_framer;

/* Errors: PERC_ERR_NOMEM. */
PERC_MUST_CHECK int perc_tunnel_framer_new(perc_tunnel_framer **out);

/* Wipes and frees; NULL is fine. */
void perc_tunnel_framer_free(perc_tunnel_framer *f);

/* Copies as much of data[0..len) as there is room for and sets *accepted.
 * There is always room for the rest of an incomplete message, so taking
 * less than len means whole messages are waiting: pull them, then feed the
 * remainder. Errors: PERC_ERR_LIMIT (len > 0 but nothing fits because whole
 * messages are waiting; *accepted is 0), PERC_ERR_INVALID_ARG. */
PERC_MUST_CHECK int perc_tunnel_framer_feed(perc_tunnel_framer *f, const uint8_t *data, size_t len,
                                            size_t *accepted);

/* Takes the next whole message out of the buffer.
 *
 * *have is false (and PERC_OK returned) while no whole message is buffered.
 * Otherwise *have is true, the message is consumed, and the return value is
 * perc_tunnel_decode()'s on its bytes: PERC_OK with *msg filled, or an error
 * with at least msg->type and msg->body set. Because the length field frames
 * the stream, a message that fails to decode (PERC_ERR_UNSUPPORTED for an
 * unknown type, which RFC 9185 §9 lets a reader skip, or a malformed body)
 * does not desynchronise it: the caller may go on pulling or close. */
PERC_MUST_CHECK int perc_tunnel_framer_next(perc_tunnel_framer *f, perc_tunnel_msg *msg,
                                            bool *have);

/* Octets buffered and not yet handed out. Non-zero when the TLS stream
 * ends means it ended inside a message. */
size_t perc_tunnel_framer_buffered(const perc_tunnel_framer *f);

#endif
