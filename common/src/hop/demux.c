/* RFC 7983 first-octet demultiplexing and the RFC 5761 RTP/RTCP split. */
#include "perc/demux.h"

#include "perc/bytes.h"

#define RTP_MIN_LEN 12u         /* RFC 3550 §5.1 fixed header */
#define RTCP_MIN_LEN 8u         /* RFC 3550 §6.4: common header + SSRC */
#define RTCP_PT_FIRST 192u      /* RFC 5761 §4: RTCP packet types 192..223 */
#define RTCP_PT_LAST 223u

perc_demux_class perc_demux_first_octet(uint8_t first)
{
    /* RFC 7983 §7 ranges. */
    if (first <= 3)
        return PERC_DEMUX_STUN;
    if (first >= 16 && first <= 19)
        return PERC_DEMUX_ZRTP;
    if (first >= 20 && first <= 63)
        return PERC_DEMUX_DTLS;
    if (first >= 64 && first <= 79)
        return PERC_DEMUX_TURN_CHANNEL;
    if (first >= 128 && first <= 191)
        return PERC_DEMUX_RTP_OR_RTCP;
    return PERC_DEMUX_UNKNOWN;
}

bool perc_demux_is_stun(const uint8_t *buf, size_t len)
{
    perc_reader r;
    perc_reader_init(&r, buf, len);
    uint16_t type, msg_len;
    uint32_t cookie;
    if (perc_read_u16(&r, &type) || perc_read_u16(&r, &msg_len) || perc_read_u32(&r, &cookie) ||
        perc_read_skip(&r, PERC_STUN_HEADER_LEN - 8))
        return false;
    /* RFC 5389 §6: the message type's top two bits are zero, the length
     * counts the attributes after the header and is a multiple of 4. */
    return (type & 0xC000u) == 0 && cookie == PERC_STUN_MAGIC_COOKIE && msg_len % 4 == 0 &&
           perc_reader_remaining(&r) == msg_len;
}

perc_demux_class perc_demux_classify(const uint8_t *buf, size_t len)
{
    if (!buf || len == 0)
        return PERC_DEMUX_UNKNOWN;
    perc_demux_class c = perc_demux_first_octet(buf[0]);
    switch (c) {
    case PERC_DEMUX_STUN:
        return perc_demux_is_stun(buf, len) ? PERC_DEMUX_STUN : PERC_DEMUX_UNKNOWN;
    case PERC_DEMUX_RTP_OR_RTCP:
        if (len >= 2 && buf[1] >= RTCP_PT_FIRST && buf[1] <= RTCP_PT_LAST)
            return len >= RTCP_MIN_LEN ? PERC_DEMUX_RTCP : PERC_DEMUX_UNKNOWN;
        return len >= RTP_MIN_LEN ? PERC_DEMUX_RTP : PERC_DEMUX_UNKNOWN;
    default:
        return c;
    }
}

const char *perc_demux_class_name(perc_demux_class c)
{
    switch (c) {
    case PERC_DEMUX_STUN:
        return "stun";
    case PERC_DEMUX_ZRTP:
        return "zrtp";
    case PERC_DEMUX_DTLS:
        return "dtls";
    case PERC_DEMUX_TURN_CHANNEL:
        return "turn-channel";
    case PERC_DEMUX_RTP_OR_RTCP:
        return "rtp-or-rtcp";
    case PERC_DEMUX_RTP:
        return "rtp";
    case PERC_DEMUX_RTCP:
        return "rtcp";
    case PERC_DEMUX_UNKNOWN:
        break;
    }
    return "unknown";
}
