/* Fuzz target for EKT field framing (perc/ekt_field.h).
 *
 * Invariants checked:
 *  - a found field and the SRTP part before it tile the input exactly;
 *  - a Short field is one 0x00 octet and rebuilds to itself;
 *  - a found Full field always parses, and rebuilding it from (ciphertext,
 *    SPI, epoch) gives the same bytes; extension lengths stay in range;
 *  - stripping the field and appending it again gives the input back;
 *  - an input that parses as exactly one Full field is found as one with
 *    an empty SRTP part, and rebuilds to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perc/ekt_field.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_full_rebuild(const uint8_t *field, size_t len, const perc_ekt_full *f)
{
    uint8_t out[PERC_EKT_FULL_MAX_LEN];
    size_t n = 0;
    CHECK(f->ciphertext.ptr == field);
    CHECK(f->ciphertext.len + PERC_EKT_FULL_TRAILER_LEN == len);
    CHECK(perc_ekt_full_build(f->ciphertext.ptr, f->ciphertext.len, f->spi, f->epoch, out,
                              sizeof out, &n) == PERC_OK);
    CHECK(n == len && memcmp(out, field, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    perc_ekt_field fld;
    if (perc_ekt_field_find(data, size, &fld) == PERC_OK) {
        CHECK(fld.srtp_len + fld.field.len == size);
        CHECK(fld.field.ptr == data + fld.srtp_len);
        CHECK(fld.type == data[size - 1]);
        CHECK(fld.type != PERC_EKT_TYPE_LEGACY);
        if (fld.type == PERC_EKT_TYPE_SHORT) {
            uint8_t s = 0xFF;
            size_t n = 0;
            CHECK(fld.field.len == 1);
            CHECK(perc_ekt_short_build(&s, 1, &n) == PERC_OK && n == 1 && s == fld.field.ptr[0]);
        } else if (fld.type == PERC_EKT_TYPE_FULL) {
            perc_ekt_full f;
            CHECK(perc_ekt_full_parse(fld.field.ptr, fld.field.len, &f) == PERC_OK);
            check_full_rebuild(fld.field.ptr, fld.field.len, &f);
        } else {
            CHECK(fld.field.len >= PERC_EKT_EXT_MIN_LEN && fld.field.len <= PERC_EKT_EXT_MAX_LEN);
        }

        /* What a Media Distributor does: strip, keep, re-append. */
        uint8_t *buf = malloc(size);
        uint8_t saved[PERC_EKT_FIELD_MAX_LEN];
        CHECK(buf != NULL);
        CHECK(fld.field.len <= sizeof saved);
        memcpy(saved, fld.field.ptr, fld.field.len);
        memcpy(buf, data, fld.srtp_len);
        memset(buf + fld.srtp_len, 0xA5, size - fld.srtp_len);
        size_t out_len = 0;
        CHECK(perc_ekt_field_append(buf, fld.srtp_len, size, saved, fld.field.len, &out_len) ==
              PERC_OK);
        CHECK(out_len == size && memcmp(buf, data, size) == 0);
        free(buf);
    }

    perc_ekt_full f;
    if (perc_ekt_full_parse(data, size, &f) == PERC_OK) {
        check_full_rebuild(data, size, &f);
        CHECK(perc_ekt_field_find(data, size, &fld) == PERC_OK);
        CHECK(fld.type == PERC_EKT_TYPE_FULL && fld.srtp_len == 0);
    }
    return 0;
}
