#include "ekt_strip.h"

#include <string.h>

#include "perc/ekt_field.h"

int tool_ekt_strip(const cli_cmd *cmd, uint8_t *pkt, size_t *len, uint8_t *field, size_t *field_len)
{
    perc_ekt_field f;
    int prc = perc_ekt_field_find(pkt, *len, &f);
    if (prc != PERC_OK)
        return cli_perc_fail(cmd, prc, "EKT field");
    if (field) {
        memcpy(field, f.field.ptr, f.field.len);
        *field_len = f.field.len;
    }
    *len = f.srtp_len;
    return 0;
}
