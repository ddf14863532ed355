/* Removing the EKT field that ends an SRTP packet (RFC 8870 §4.1), for the
 * subcommands that take packets as they travel on the wire. */
#ifndef PERC_TOOL_EKT_STRIP_H
#define PERC_TOOL_EKT_STRIP_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Cuts the EKT field off pkt (updating *len). If field is not NULL, the
 * field is copied there (room for PERC_EKT_FIELD_MAX_LEN) and its length
 * stored in *field_len. Returns 0 or an exit code (error printed). */
int tool_ekt_strip(const cli_cmd *cmd, uint8_t *pkt, size_t *len, uint8_t *field, size_t *field_len);

#endif
