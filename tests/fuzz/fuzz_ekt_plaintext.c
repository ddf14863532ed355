/* Fuzz target for EKTPlaintext decoding (RFC 8870 §4.1), which a receiver
 * runs on whatever a key unwrap yields.
 * Invariants: whatever decodes encodes back to exactly the input; a failed
 * decode leaves no key bytes in the output. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/ekt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_ekt_plaintext pt;
    memset(&pt, 0xA5, sizeof pt);
    if (perc_ekt_plaintext_decode(data, size, &pt) != PERC_OK) {
        for (size_t i = 0; i < sizeof pt.master_key; i++)
            if (pt.master_key[i] != 0)
                abort();
        return 0;
    }
    uint8_t out[1 + PERC_EKT_MAX_MASTER_KEY_LEN + 8];
    size_t n = 0;
    if (perc_ekt_plaintext_encode(pt.master_key, pt.master_key_len, pt.ssrc, pt.roc, out, sizeof out, &n) !=
            PERC_OK ||
        n != size || memcmp(out, data, n) != 0)
        abort();
    perc_ekt_plaintext_wipe(&pt);
    return 0;
}
