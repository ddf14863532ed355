/* Fuzz target for the perc-signaling codec (perc/signaling.h).
 * Invariants: a failed decode gives a code the focus can reply with, a
 * reason, and the return value that goes with the code; whatever decodes
 * encodes without error, decodes again to an equal message, and encodes to
 * the same text (the encoder's output is a fixed point); a message that
 * needed its SDP parsed has the model. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/signaling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text_a, *text_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!text_a) {
        text_a = malloc(PERC_SIG_MAX_MESSAGE + 1);
        text_b = malloc(PERC_SIG_MAX_MESSAGE + 1);
        if (!text_a || !text_b)
            abort();
    }
    perc_sig_msg m, back;
    perc_sig_error e;
    char line[512];
    int rc = perc_sig_decode((const char *)data, size, &m, &e);
    if (rc != PERC_OK) {
        if (!e.reason || m.priv_ || m.sdp_model)
            abort();
        switch (e.code) {
        case PERC_SIG_E_TOO_LARGE:
            if (rc != PERC_ERR_TOO_LARGE)
                abort();
            break;
        case PERC_SIG_E_UNKNOWN_TYPE:
            if (rc != PERC_ERR_UNSUPPORTED)
                abort();
            break;
        case PERC_SIG_E_BAD_JSON:
        case PERC_SIG_E_BAD_MESSAGE:
        case PERC_SIG_E_BAD_SDP:
            if (rc != PERC_ERR_MALFORMED)
                abort();
            break;
        default:
            if (rc != PERC_ERR_NOMEM)
                abort();
        }
        if (perc_sig_error_text(&e, line, sizeof line) >= sizeof line)
            abort();
        return 0;
    }
    bool wants_sdp = m.type == PERC_SIG_JOIN || m.type == PERC_SIG_ENDPOINT_OFFER ||
                     m.type == PERC_SIG_ANSWER;
    if (wants_sdp != (m.sdp_model != NULL))
        abort();
    size_t na = 0, nb = 0;
    if (perc_sig_encode(&m, text_a, PERC_SIG_MAX_MESSAGE + 1, &na, &e) != PERC_OK)
        abort();
    if (perc_sig_decode(text_a, na, &back, &e) != PERC_OK || !perc_sig_msg_equal(&m, &back))
        abort();
    if (perc_sig_encode(&back, text_b, PERC_SIG_MAX_MESSAGE + 1, &nb, &e) != PERC_OK ||
        na != nb || memcmp(text_a, text_b, na) != 0)
        abort();
    perc_sig_msg_clear(&back);
    perc_sig_msg_clear(&m);
    return 0;
}
