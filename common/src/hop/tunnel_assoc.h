/* Association table of a tunnel endpoint (tunnel_md.c, tunnel_kd.c):
 * association id (RFC 9185 §5.3 UUID) <-> the caller's endpoint handle.
 *
 * Entries live in a dense array; two open-addressing indexes (linear
 * probing, backward-shift deletion, load at most 1/2) find them by id and,
 * when asked for, by handle. Pointers to entries are valid until the next
 * add or remove. Internal; not part of the public API. */
#ifndef PERC_TUNNEL_ASSOC_H
#define PERC_TUNNEL_ASSOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perc/error.h"
#include "perc/tunnel.h"

typedef struct tunnel_assoc {
    perc_uuid id;
    uint64_t handle;
} tunnel_assoc;

typedef struct tunnel_assoc_table {
    tunnel_assoc *items;        /* dense, count used of item_cap */
    size_t count;
    size_t item_cap;
    uint32_t *by_id;            /* slot -> item index + 1; 0 = empty */
    uint32_t *by_handle;        /* same, by handle; NULL unless indexed */
    size_t slots;               /* power of two, or 0 before the first add */
    bool index_handles;
} tunnel_assoc_table;

void tunnel_assoc_init(tunnel_assoc_table *t, bool index_handles);
void tunnel_assoc_free(tunnel_assoc_table *t);

tunnel_assoc *tunnel_assoc_find_id(const tunnel_assoc_table *t, const perc_uuid *id);
/* Only for a table made with index_handles. */
tunnel_assoc *tunnel_assoc_find_handle(const tunnel_assoc_table *t, uint64_t handle);

/* Adds an entry; the caller has checked that neither key is present.
 * Errors: PERC_ERR_NOMEM, PERC_ERR_LIMIT (2^31 entries). */
PERC_MUST_CHECK int tunnel_assoc_add(tunnel_assoc_table *t, const perc_uuid *id, uint64_t handle);

/* Removes the entry a points to (from a find). */
void tunnel_assoc_remove(tunnel_assoc_table *t, tunnel_assoc *a);

#endif
