#include "perc/error.h"

#include <stddef.h>

typedef struct {
    int code;
    const char *name;
    const char *text;
} err_entry;

static const err_entry ERRORS[] = {
    {PERC_OK, "PERC_OK", "success"},
    {PERC_ERR_TRUNCATED, "PERC_ERR_TRUNCATED", "input is truncated"},
    {PERC_ERR_TRAILING, "PERC_ERR_TRAILING", "unexpected trailing bytes"},
    {PERC_ERR_MALFORMED, "PERC_ERR_MALFORMED", "malformed field"},
    {PERC_ERR_BAD_VERSION, "PERC_ERR_BAD_VERSION", "unsupported version"},
    {PERC_ERR_UNSUPPORTED, "PERC_ERR_UNSUPPORTED", "unsupported feature or value"},
    {PERC_ERR_HEX, "PERC_ERR_HEX", "invalid hex string"},
    {PERC_ERR_AUTH, "PERC_ERR_AUTH", "authentication failed"},
    {PERC_ERR_REPLAY, "PERC_ERR_REPLAY", "replayed packet"},
    {PERC_ERR_REPLAY_OLD, "PERC_ERR_REPLAY_OLD", "packet older than the replay window"},
    {PERC_ERR_KEY_LENGTH, "PERC_ERR_KEY_LENGTH", "wrong key or salt length"},
    {PERC_ERR_CRYPTO, "PERC_ERR_CRYPTO", "crypto backend failure"},
    {PERC_ERR_KEY_EXHAUSTED, "PERC_ERR_KEY_EXHAUSTED", "key use limit reached"},
    {PERC_ERR_STATE, "PERC_ERR_STATE", "operation not valid in this state"},
    {PERC_ERR_UNKNOWN_SPI, "PERC_ERR_UNKNOWN_SPI", "unknown EKT SPI"},
    {PERC_ERR_SSRC_MISMATCH, "PERC_ERR_SSRC_MISMATCH", "EKT SSRC does not match the packet"},
    {PERC_ERR_STALE_EPOCH, "PERC_ERR_STALE_EPOCH", "EKT epoch is not newer"},
    {PERC_ERR_NO_KEY, "PERC_ERR_NO_KEY", "no key for this stream"},
    {PERC_ERR_BAD_OHB, "PERC_ERR_BAD_OHB", "invalid original header block"},
    {PERC_ERR_NOT_FOUND, "PERC_ERR_NOT_FOUND", "not found"},
    {PERC_ERR_EXPIRED, "PERC_ERR_EXPIRED", "key expired"},
    {PERC_ERR_SSRC_IN_USE, "PERC_ERR_SSRC_IN_USE", "SSRC already used by another source"},
    {PERC_ERR_NOSPACE, "PERC_ERR_NOSPACE", "output buffer too small"},
    {PERC_ERR_NOMEM, "PERC_ERR_NOMEM", "out of memory"},
    {PERC_ERR_TOO_LARGE, "PERC_ERR_TOO_LARGE", "value too large for its length field"},
    {PERC_ERR_LIMIT, "PERC_ERR_LIMIT", "table or queue full"},
    {PERC_ERR_INVALID_ARG, "PERC_ERR_INVALID_ARG", "invalid argument"},
    {PERC_ERR_RANDOM, "PERC_ERR_RANDOM", "randomness source failed"},
};

static const err_entry *find(int err)
{
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        if (ERRORS[i].code == err)
            return &ERRORS[i];
    }
    return NULL;
}

const char *perc_strerror(int err)
{
    const err_entry *e = find(err);
    return e ? e->text : "unknown error";
}

const char *perc_err_name(int err)
{
    const err_entry *e = find(err);
    return e ? e->name : "PERC_ERR_UNKNOWN";
}
