/* Fuzz target for perc-endpoint's WAV reader (endpoint/wav.c, compiled in
 * here), the parser of the untrusted --audio-in file. Invariants: a
 * refusal gives a reason and leaves the output zeroed; an accepted file
 * describes samples that lie inside the input, in one of the accepted
 * formats, and every one of them can be read (ASan checks the reads). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../endpoint/wav.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ep_wav w;
    memset(&w, 0xA5, sizeof w);
    char why[200] = "";
    if (!ep_wav_parse(data, size, &w, why, sizeof why)) {
        if (!why[0] || w.frames != 0 || w.samples != NULL || w.rate != 0)
            abort();
        return 0;
    }
    if (w.channels < 1 || w.channels > 2 || !rate_supported(w.rate) || w.frames == 0)
        abort();
    size_t bytes = w.frames * w.channels * 2u;
    if (w.samples < data + 44 || (size_t)(w.samples - data) > size ||
        bytes > size - (size_t)(w.samples - data))
        abort();
    int64_t sum = 0;
    for (size_t i = 0; i < w.frames; i++)
        sum += ep_wav_mono_sample(&w, i);
    /* Keeps the loop from being optimised away. */
    if (sum == INT64_MIN)
        abort();
    return 0;
}
