/* Demultiplexing of one UDP 5-tuple that carries STUN, DTLS and SRTP/SRTCP
 * (RFC 7983 §7, updating RFC 5764 §5.1.2), with RTP and RTCP on one port
 * (RFC 5761 §4).
 *
 * The first octet decides the protocol:
 *     0..3     STUN            16..19   ZRTP
 *     20..63   DTLS            64..79   TURN channel data
 *     128..191 RTP or RTCP     anything else: unknown (drop)
 * and, for RTP/RTCP, the second octet: RTCP packet types 192..223 cannot be
 * told from an RTP octet M|PT with M set and PT 64..95, which is why RFC
 * 5761 §4 keeps those payload types out of use; so 192..223 means RTCP.
 */
#ifndef PERC_DEMUX_H
#define PERC_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum perc_demux_class {
    PERC_DEMUX_UNKNOWN = 0,
    PERC_DEMUX_STUN,
    PERC_DEMUX_ZRTP,
    PERC_DEMUX_DTLS,
    PERC_DEMUX_TURN_CHANNEL,
    PERC_DEMUX_RTP_OR_RTCP,     /* only from perc_demux_first_octet() */
    PERC_DEMUX_RTP,
    PERC_DEMUX_RTCP,
} perc_demux_class;

#define PERC_STUN_HEADER_LEN 20
#define PERC_STUN_MAGIC_COOKIE 0x2112A442u

/* The RFC 7983 range of a first octet alone. 128..191 gives
 * PERC_DEMUX_RTP_OR_RTCP. Never fails. */
perc_demux_class perc_demux_first_octet(uint8_t first);

/* Classifies a whole datagram, more strictly than the first octet does:
 *   STUN only if perc_demux_is_stun() accepts it;
 *   RTP only with at least the 12-octet fixed header (RFC 3550 §5.1), RTCP
 *   only with at least header and SSRC, 8 octets (RFC 3550 §6.4);
 *   an empty datagram is unknown.
 * DTLS, ZRTP and TURN are classified by the first octet; their own parsers
 * judge the rest. */
perc_demux_class perc_demux_classify(const uint8_t *buf, size_t len);

/* A minimal STUN recogniser (RFC 5389 §6, §7.3): at least the 20-octet
 * header, the two top bits zero, the magic cookie at offset 4, and a
 * message length that is a multiple of 4 and accounts for exactly the rest
 * of the datagram (a UDP datagram holds one STUN message). */
bool perc_demux_is_stun(const uint8_t *buf, size_t len);

/* "stun", "dtls", ... for logs. */
const char *perc_demux_class_name(perc_demux_class c);

#endif
