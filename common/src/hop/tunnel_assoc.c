/* Association table of a tunnel endpoint; see tunnel_assoc.h. */
#include "tunnel_assoc.h"

#include <stdlib.h>
#include <string.h>

#define NO_SLOT SIZE_MAX
#define MIN_SLOTS 16u
#define MAX_ITEMS (UINT32_MAX / 4u)

/* splitmix64's finaliser: spreads sequential handles and pointer values. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* The ids a Key Distributor sees are chosen by the Media Distributor, so
 * they may collide on purpose; the per-connection association limit bounds
 * what that costs (a probe over at most the limit's worth of slots). */
static uint64_t hash_id(const perc_uuid *u)
{
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i < 8; i++) {
        a = a << 8 | u->b[i];
        b = b << 8 | u->b[8 + i];
    }
    return mix64(a ^ mix64(b));
}

static uint64_t item_hash(const tunnel_assoc_table *t, uint32_t ref, bool by_handle)
{
    const tunnel_assoc *a = &t->items[ref - 1];
    return by_handle ? mix64(a->handle) : hash_id(&a->id);
}

void tunnel_assoc_init(tunnel_assoc_table *t, bool index_handles)
{
    memset(t, 0, sizeof *t);
    t->index_handles = index_handles;
}

void tunnel_assoc_free(tunnel_assoc_table *t)
{
    free(t->items);
    free(t->by_id);
    free(t->by_handle);
    memset(t, 0, sizeof *t);
}

static size_t slot_of_id(const tunnel_assoc_table *t, const perc_uuid *id)
{
    if (t->slots == 0)
        return NO_SLOT;
    size_t mask = t->slots - 1;
    for (size_t s = (size_t)hash_id(id) & mask;; s = (s + 1) & mask) {
        uint32_t ref = t->by_id[s];
        if (ref == 0)
            return NO_SLOT;
        if (perc_uuid_equal(&t->items[ref - 1].id, id))
            return s;
    }
}

static size_t slot_of_handle(const tunnel_assoc_table *t, uint64_t handle)
{
    if (t->slots == 0 || !t->by_handle)
        return NO_SLOT;
    size_t mask = t->slots - 1;
    for (size_t s = (size_t)mix64(handle) & mask;; s = (s + 1) & mask) {
        uint32_t ref = t->by_handle[s];
        if (ref == 0)
            return NO_SLOT;
        if (t->items[ref - 1].handle == handle)
            return s;
    }
}

tunnel_assoc *tunnel_assoc_find_id(const tunnel_assoc_table *t, const perc_uuid *id)
{
    size_t s = slot_of_id(t, id);
    return s == NO_SLOT ? NULL : &t->items[t->by_id[s] - 1];
}

tunnel_assoc *tunnel_assoc_find_handle(const tunnel_assoc_table *t, uint64_t handle)
{
    size_t s = slot_of_handle(t, handle);
    return s == NO_SLOT ? NULL : &t->items[t->by_handle[s] - 1];
}

static void slot_insert(uint32_t *tab, size_t slots, uint64_t hash, uint32_t ref)
{
    size_t mask = slots - 1;
    size_t s = (size_t)hash & mask;
    while (tab[s] != 0)
        s = (s + 1) & mask;
    tab[s] = ref;
}

/* Backward-shift deletion: empties slot i and moves later members of the
 * probe run back so that no lookup stops early at the hole. */
static void slot_delete(const tunnel_assoc_table *t, uint32_t *tab, bool by_handle, size_t i)
{
    size_t mask = t->slots - 1;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (tab[j] == 0)
            break;
        size_t home = (size_t)item_hash(t, tab[j], by_handle) & mask;
        /* The entry at j may stay if its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            tab[i] = tab[j];
            i = j;
        }
    }
    tab[i] = 0;
}

static int rehash(tunnel_assoc_table *t, size_t slots)
{
    uint32_t *by_id = calloc(slots, sizeof *by_id);
    uint32_t *by_handle = t->index_handles ? calloc(slots, sizeof *by_handle) : NULL;
    if (!by_id || (t->index_handles && !by_handle)) {
        free(by_id);
        free(by_handle);
        return PERC_ERR_NOMEM;
    }
    for (size_t i = 0; i < t->count; i++) {
        uint32_t ref = (uint32_t)(i + 1);
        slot_insert(by_id, slots, item_hash(t, ref, false), ref);
        if (by_handle)
            slot_insert(by_handle, slots, item_hash(t, ref, true), ref);
    }
    free(t->by_id);
    free(t->by_handle);
    t->by_id = by_id;
    t->by_handle = by_handle;
    t->slots = slots;
    return PERC_OK;
}

int tunnel_assoc_add(tunnel_assoc_table *t, const perc_uuid *id, uint64_t handle)
{
    if (t->count >= MAX_ITEMS)
        return PERC_ERR_LIMIT;
    if (t->count == t->item_cap) {
        size_t cap = t->item_cap ? 2 * t->item_cap : 8;
        tunnel_assoc *items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return PERC_ERR_NOMEM;
        t->items = items;
        t->item_cap = cap;
    }
    if (2 * (t->count + 1) > t->slots) {
        size_t slots = t->slots ? 2 * t->slots : MIN_SLOTS;
        int rc = rehash(t, slots);
        if (rc)
            return rc;
    }
    tunnel_assoc *a = &t->items[t->count];
    a->id = *id;
    a->handle = handle;
    t->count++;
    uint32_t ref = (uint32_t)t->count;
    slot_insert(t->by_id, t->slots, hash_id(id), ref);
    if (t->by_handle)
        slot_insert(t->by_handle, t->slots, mix64(handle), ref);
    return PERC_OK;
}

void tunnel_assoc_remove(tunnel_assoc_table *t, tunnel_assoc *a)
{
    size_t idx = (size_t)(a - t->items);
    size_t s = slot_of_id(t, &a->id);
    if (s != NO_SLOT)
        slot_delete(t, t->by_id, false, s);
    if (t->by_handle && (s = slot_of_handle(t, a->handle)) != NO_SLOT)
        slot_delete(t, t->by_handle, true, s);
    size_t last = t->count - 1;
    if (idx != last) {
        /* Move the last entry into the hole and re-point its slots; they
         * still find it at its old index, which is intact until count drops. */
        t->items[idx] = t->items[last];
        s = slot_of_id(t, &t->items[last].id);
        if (s != NO_SLOT)
            t->by_id[s] = (uint32_t)(idx + 1);
        if (t->by_handle && (s = slot_of_handle(t, t->items[last].handle)) != NO_SLOT)
            t->by_handle[s] = (uint32_t)(idx + 1);
    }
    t->count--;
}
