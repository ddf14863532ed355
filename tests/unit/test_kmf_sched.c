/* The KMF's deadline heap and association index (common/src/e2e/
 * kmf_sched.c): the next timeout and the due associations must come out
 * exactly as a scan of every association would give them, through any mix
 * of new, moved, cleared and removed deadlines; and the index finds each
 * association by id until it is removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/src/e2e/kmf_internal.h"

#define N_ASSOC 200

typedef struct sched_fixture {
    perc_kmf k;
    kmf_assoc a[N_ASSOC];
    uint64_t at[N_ASSOC]; /* the reference: UINT64_MAX = no deadline */
} sched_fixture;

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static sched_fixture *fixture_new(void)
{
    sched_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tunnel_assoc_init(&f->k.assoc_ids, false);
    assert_int_equal(kmf_sched_reserve(&f->k, N_ASSOC), PERC_OK);
    for (size_t i = 0; i < N_ASSOC; i++) {
        f->a[i].k = &f->k;
        f->at[i] = UINT64_MAX;
        for (size_t j = 0; j < sizeof f->a[i].id.b; j++)
            f->a[i].id.b[j] = (uint8_t)rng();
    }
    return f;
}

static void fixture_free(sched_fixture *f)
{
    kmf_sched_free(&f->k);
    free(f);
}

static uint64_t reference_next(const sched_fixture *f)
{
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < N_ASSOC; i++)
        if (f->at[i] < t)
            t = f->at[i];
    return t;
}

/* Deadlines come and go at random; after each change the heap's top is
 * the reference minimum. Then everything due at a time is popped, in
 * order, and nothing else. */
static void test_heap_matches_scan(void **state)
{
    (void)state;
    rng_state = 0x9e3779b97f4a7c15u;
    sched_fixture *f = fixture_new();
    for (int step = 0; step < 20000; step++) {
        size_t i = rng() % N_ASSOC;
        uint64_t r = rng() % 10;
        uint64_t at = r < 2 ? UINT64_MAX : 1000 + rng() % 5000; /* a few ties */
        if (r == 2) {
            kmf_sched_remove(&f->k, &f->a[i]);
            f->at[i] = UINT64_MAX;
        } else {
            kmf_sched_set(&f->k, &f->a[i], at);
            f->at[i] = at;
        }
        assert_int_equal(kmf_sched_next(&f->k), reference_next(f));
    }

    uint64_t now = 3000;
    uint64_t last = 0;
    size_t popped = 0;
    for (kmf_assoc *a; (a = kmf_sched_pop_due(&f->k, now)) != NULL; popped++) {
        size_t i = (size_t)(a - f->a);
        assert_true(f->at[i] <= now);
        assert_true(f->at[i] >= last); /* earliest first */
        last = f->at[i];
        assert_int_equal(a->heap_pos, 0);
        f->at[i] = UINT64_MAX;
    }
    size_t due_left = 0;
    for (size_t i = 0; i < N_ASSOC; i++)
        due_left += f->at[i] <= now;
    assert_int_equal(due_left, 0);
    assert_true(popped > 0);
    assert_int_equal(kmf_sched_next(&f->k), reference_next(f));
    assert_true(kmf_sched_next(&f->k) > now);
    fixture_free(f);
}

/* An empty heap: no deadline, nothing due, removing what is not there is
 * harmless. */
static void test_heap_empty(void **state)
{
    (void)state;
    sched_fixture *f = fixture_new();
    assert_int_equal(kmf_sched_next(&f->k), UINT64_MAX);
    assert_null(kmf_sched_pop_due(&f->k, UINT64_MAX));
    kmf_sched_remove(&f->k, &f->a[0]);
    kmf_sched_set(&f->k, &f->a[0], UINT64_MAX);
    assert_int_equal(f->a[0].heap_pos, 0);
    kmf_sched_set(&f->k, &f->a[0], 5);
    assert_null(kmf_sched_pop_due(&f->k, 4));
    assert_ptr_equal(kmf_sched_pop_due(&f->k, 5), &f->a[0]);
    assert_int_equal(kmf_sched_next(&f->k), UINT64_MAX);
    fixture_free(f);
}

/* The touched set holds each association once, within the room reserved. */
static void test_touch_once(void **state)
{
    (void)state;
    sched_fixture *f = fixture_new();
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < N_ASSOC; i++)
            kmf_assoc_touch(&f->a[i]);
    assert_int_equal(f->k.touched.n, N_ASSOC);
    assert_true(f->k.touched.cap >= N_ASSOC);
    fixture_free(f);
}

/* The index finds every association by id, and forgets the removed ones
 * (the others stay findable: backward-shift deletion). */
static void test_index(void **state)
{
    (void)state;
    sched_fixture *f = fixture_new();
    for (size_t i = 0; i < N_ASSOC; i++)
        assert_int_equal(kmf_assoc_index_add(&f->k, &f->a[i]), PERC_OK);
    for (size_t i = 0; i < N_ASSOC; i++)
        assert_ptr_equal(kmf_assoc_find(&f->k, &f->a[i].id), &f->a[i]);
    for (size_t i = 0; i < N_ASSOC; i += 3)
        kmf_assoc_index_remove(&f->k, &f->a[i]);
    for (size_t i = 0; i < N_ASSOC; i++) {
        if (i % 3 == 0)
            assert_null(kmf_assoc_find(&f->k, &f->a[i].id));
        else
            assert_ptr_equal(kmf_assoc_find(&f->k, &f->a[i].id), &f->a[i]);
    }
    perc_uuid unknown;
    memset(&unknown, 0xee, sizeof unknown);
    assert_null(kmf_assoc_find(&f->k, &unknown));
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_matches_scan),
        cmocka_unit_test(test_heap_empty),
        cmocka_unit_test(test_touch_once),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
