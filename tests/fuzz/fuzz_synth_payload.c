/* Fuzz target for the synthetic test payload decoder (perc/synth_payload.h).
 * Invariants: a decoded payload encodes back to exactly the input; a failed
 * decode reports a reason and leaves the output zeroed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/synth_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_synth_payload p;
    memset(&p, 0xA5, sizeof p);
    perc_synth_status why = PERC_SYNTH_OK;
    if (perc_synth_decode(data, size, &p, &why) != PERC_OK) {
        if (why == PERC_SYNTH_OK || p.len != 0 || p.sender_id != 0)
            abort();
        return 0;
    }
    if (why != PERC_SYNTH_OK)
        abort();
    uint8_t out[PERC_SYNTH_MAX_LEN];
    size_t n = 0;
    if (perc_synth_encode(&p, out, sizeof out, &n) != PERC_OK || n != size ||
        memcmp(out, data, n) != 0)
        abort();
    return 0;
}
