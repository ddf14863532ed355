/* Fuzz target for the SDP parser and writer, and the trickle candidate
 * parser and formatter.
 * Invariants: a failed parse names a line (>= 1) and a reason; whatever
 * parses is written without error, parses again to an equal model, and
 * writing that gives the same text (the canonical form is a fixed point).
 * The same for every line of the input given to the candidate parser
 * (with its "a=" stripped, and as it stands). The queries never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static perc_sdp *sdp_a, *sdp_b;
static char *text_a, *text_b;

static void check_candidate(const char *text, size_t len)
{
    perc_sdp_candidate c, back;
    perc_sdp_error e = {0, NULL};
    char out[PERC_SDP_MAX_LINE + 1];
    size_t n;
    if (perc_sdp_candidate_parse(text, len, &c, &e) != PERC_OK) {
        if (e.line != 1 || !e.reason)
            abort();
        return;
    }
    if (perc_sdp_candidate_format(&c, out, sizeof out, &n) != PERC_OK || n > len)
        abort();
    if (perc_sdp_candidate_parse(out, n, &back, NULL) != PERC_OK ||
        !perc_sdp_candidate_equal(&c, &back))
        abort();
}

static void queries(const perc_sdp *s)
{
    perc_sdp_error e;
    const char *u, *p, *t;
    const perc_sdp_fingerprint *fp;
    size_t idx;
    (void)perc_sdp_check_perc(s, &e);
    for (size_t i = 0; i <= s->media_count; i++) {
        (void)perc_sdp_effective_ice(s, i, &u, &p);
        (void)perc_sdp_effective_fingerprint(s, i, &fp);
        (void)perc_sdp_effective_tls_id(s, i, &t);
        (void)perc_sdp_effective_setup(s, i);
        (void)perc_sdp_effective_direction(s, i);
        (void)perc_sdp_has_ice_option(s, i, "trickle");
        if (i < s->media_count && s->media[i].mid[0] &&
            (perc_sdp_find_media(s, s->media[i].mid, &idx) != PERC_OK || idx > i))
            abort();
    }
    for (size_t i = 0; i < s->raw_count; i++) {
        if (strlen(perc_sdp_raw_text(s, &s->raw[i])) != s->raw[i].len)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sdp_a) {
        sdp_a = malloc(sizeof *sdp_a);
        sdp_b = malloc(sizeof *sdp_b);
        text_a = malloc(PERC_SDP_MAX_INPUT + 1);
        text_b = malloc(PERC_SDP_MAX_INPUT + 1);
        if (!sdp_a || !sdp_b || !text_a || !text_b)
            abort();
    }
    const char *in = (const char *)data;
    perc_sdp_error e = {0, NULL};
    if (perc_sdp_parse(in, size, sdp_a, &e) == PERC_OK) {
        size_t na, nb;
        if (perc_sdp_write(sdp_a, text_a, PERC_SDP_MAX_INPUT + 1, &na, &e) != PERC_OK)
            abort();
        if (perc_sdp_parse(text_a, na, sdp_b, &e) != PERC_OK || !perc_sdp_equal(sdp_a, sdp_b))
            abort();
        if (perc_sdp_write(sdp_b, text_b, PERC_SDP_MAX_INPUT + 1, &nb, &e) != PERC_OK ||
            na != nb || memcmp(text_a, text_b, na) != 0)
            abort();
        queries(sdp_a);
    } else if (e.line == 0 || !e.reason) {
        abort();
    }

    check_candidate(in, size);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && in[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && in[end - 1] == '\r')
            end--;
        if (end - start > 2 && in[start] == 'a' && in[start + 1] == '=')
            check_candidate(in + start + 2, end - start - 2);
        start = i + 1;
    }
    return 0;
}
