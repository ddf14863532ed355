/* Fuzz target for RFC 7983 demultiplexing: classify() must agree with the
 * first-octet table, only ever be stricter, and never read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "perc/demux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_demux_class c = perc_demux_classify(data, size);
    bool stun = perc_demux_is_stun(data, size);
    if (size == 0) {
        if (c != PERC_DEMUX_UNKNOWN || stun)
            abort();
        return 0;
    }
    perc_demux_class first = perc_demux_first_octet(data[0]);
    switch (c) {
    case PERC_DEMUX_UNKNOWN:
        /* Only the checks beyond the first octet may turn a class down. */
        if (first != PERC_DEMUX_UNKNOWN && first != PERC_DEMUX_STUN &&
            first != PERC_DEMUX_RTP_OR_RTCP)
            abort();
        if (first == PERC_DEMUX_STUN && stun)
            abort();
        break;
    case PERC_DEMUX_STUN:
        if (first != PERC_DEMUX_STUN || !stun || size < PERC_STUN_HEADER_LEN || size % 4 != 0)
            abort();
        break;
    case PERC_DEMUX_RTP:
        if (first != PERC_DEMUX_RTP_OR_RTCP || size < 12 || (data[1] >= 192 && data[1] <= 223))
            abort();
        break;
    case PERC_DEMUX_RTCP:
        if (first != PERC_DEMUX_RTP_OR_RTCP || size < 8 || data[1] < 192 || data[1] > 223)
            abort();
        break;
    case PERC_DEMUX_RTP_OR_RTCP:
        abort(); /* classify always splits */
    default:
        if (c != first)
            abort();
        break;
    }
    if (!perc_demux_class_name(c))
        abort();
    return 0;
}
