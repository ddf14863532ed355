/* Which associations a KMF call has to look at again (kmf_internal.h):
 * the touched set, the deadline heap and the index by association id.
 *
 * Why: a KMF that visits every association on every call spends, with a
 * thousand endpoints connected, more time walking its tables than doing
 * the handshake in front of it. A call only changes the associations it
 * touches, so settle (flush, finish, new deadline) looks at those alone;
 * the next timeout is the heap's top, and a datagram finds its association
 * through the index. Room for an association in the heap and the touched
 * set is reserved when the association is made, so touching and
 * rescheduling never fail. */
#include <stdint.h>
#include <stdlib.h>

#include "kmf_internal.h"

int kmf_sched_reserve(perc_kmf *k, size_t n)
{
    if (k->due.cap < n) {
        size_t cap = k->due.cap ? 2 * k->due.cap : 16;
        while (cap < n)
            cap *= 2;
        kmf_assoc **items = realloc(k->due.items, cap * sizeof *items);
        if (!items)
            return PERC_ERR_NOMEM;
        k->due.items = items;
        k->due.cap = cap;
    }
    if (k->touched.cap < n) {
        size_t cap = k->touched.cap ? 2 * k->touched.cap : 16;
        while (cap < n)
            cap *= 2;
        void **items = realloc(k->touched.items, cap * sizeof *items);
        if (!items)
            return PERC_ERR_NOMEM;
        k->touched.items = items;
        k->touched.cap = cap;
    }
    return PERC_OK;
}

void kmf_sched_free(perc_kmf *k)
{
    free(k->due.items);
    k->due.items = NULL;
    k->due.n = k->due.cap = 0;
    kmf_vec_free(&k->touched);
    tunnel_assoc_free(&k->assoc_ids);
}

void kmf_assoc_touch(kmf_assoc *a)
{
    if (a->touched)
        return;
    perc_kmf *k = a->k;
    /* Never beyond the capacity reserved for every association. */
    k->touched.items[k->touched.n++] = a;
    a->touched = true;
}

/* ---- deadline heap (a binary min-heap on due_at) -------------------------- */

static void heap_set(kmf_heap *h, size_t i, kmf_assoc *a)
{
    h->items[i] = a;
    a->heap_pos = i + 1;
}

static void sift_up(kmf_heap *h, size_t i)
{
    kmf_assoc *a = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->due_at <= a->due_at)
            break;
        heap_set(h, i, h->items[parent]);
        i = parent;
    }
    heap_set(h, i, a);
}

static void sift_down(kmf_heap *h, size_t i)
{
    kmf_assoc *a = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->items[child + 1]->due_at < h->items[child]->due_at)
            child++;
        if (a->due_at <= h->items[child]->due_at)
            break;
        heap_set(h, i, h->items[child]);
        i = child;
    }
    heap_set(h, i, a);
}

void kmf_sched_remove(perc_kmf *k, kmf_assoc *a)
{
    kmf_heap *h = &k->due;
    if (a->heap_pos == 0)
        return;
    size_t i = a->heap_pos - 1;
    a->heap_pos = 0;
    h->n--;
    if (i == h->n)
        return;
    kmf_assoc *last = h->items[h->n];
    heap_set(h, i, last);
    if (i > 0 && h->items[(i - 1) / 2]->due_at > last->due_at)
        sift_up(h, i);
    else
        sift_down(h, i);
}

void kmf_sched_update(perc_kmf *k, kmf_assoc *a)
{
    kmf_sched_set(k, a, kmf_assoc_next_timeout(a));
}

void kmf_sched_set(perc_kmf *k, kmf_assoc *a, uint64_t at)
{
    kmf_heap *h = &k->due;
    if (at == UINT64_MAX) {
        kmf_sched_remove(k, a);
        return;
    }
    if (a->heap_pos == 0) {
        a->due_at = at;
        heap_set(h, h->n++, a); /* room reserved with the association */
        sift_up(h, h->n - 1);
        return;
    }
    uint64_t old = a->due_at;
    a->due_at = at;
    if (at < old)
        sift_up(h, a->heap_pos - 1);
    else if (at > old)
        sift_down(h, a->heap_pos - 1);
}

uint64_t kmf_sched_next(const perc_kmf *k)
{
    return k->due.n ? k->due.items[0]->due_at : UINT64_MAX;
}

kmf_assoc *kmf_sched_pop_due(perc_kmf *k, uint64_t now)
{
    if (k->due.n == 0 || k->due.items[0]->due_at > now)
        return NULL;
    kmf_assoc *a = k->due.items[0];
    kmf_sched_remove(k, a);
    return a;
}

/* ---- index by association id ---------------------------------------------- */

int kmf_assoc_index_add(perc_kmf *k, kmf_assoc *a)
{
    return tunnel_assoc_add(&k->assoc_ids, &a->id, (uint64_t)(uintptr_t)a);
}

void kmf_assoc_index_remove(perc_kmf *k, const kmf_assoc *a)
{
    tunnel_assoc *e = tunnel_assoc_find_id(&k->assoc_ids, &a->id);
    if (e && e->handle == (uint64_t)(uintptr_t)a)
        tunnel_assoc_remove(&k->assoc_ids, e);
}

kmf_assoc *kmf_assoc_find(const perc_kmf *k, const perc_uuid *id)
{
    const tunnel_assoc *e = tunnel_assoc_find_id(&k->assoc_ids, id);
    return e ? (kmf_assoc *)(uintptr_t)e->handle : NULL;
}
