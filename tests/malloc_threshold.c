/*
 * The arenas' dynamic huge-block threshold (heap_page.c, glibc's dynamic
 * mmap threshold in spirit): a malloc block of 1 MiB or more starts in a
 * reservation of its own; once the program frees such a block of n bytes
 * (n below WH_DYN_THRESHOLD_MAX, 8 MiB), later requests up to n come from
 * heap segments, so buffers that keep being replaced reuse faulted-in
 * memory; blocks of 8 MiB and more always get their own reservation; and an
 * explicit mallopt(M_MMAP_THRESHOLD) turns the dynamic threshold off.
 * Every block keeps its contents whatever its placement.
 * Where a block lives: mt_own_reservation / mt_in_segment.
 */
#include "malloc_test.h"

#include <malloc.h>

/* A block of n bytes, filled, checked where it lives, checked again. */
static void *take(size_t n, bool want_own, uint64_t seed)
{
    void *p = malloc(n);
    require_true(p != NULL);
    mt_fill(p, n, seed);
    if (want_own) expect_true(mt_own_reservation(p));
    else expect_true(mt_in_segment(p));
    expect_eq_u64(mt_check(p, n, seed), n);
    return p;
}

int main(void)
{
    if (!mt_malloc_is_wheap()) test_skip("malloc is not wheap's");
    const size_t MiB = (size_t)1 << 20;

    /* A fresh process: 1 MiB and up get reservations of their own. */
    void *a = take(4 * MiB, true, 1);
    void *b = take(2 * MiB, true, 2);
    free(a);                                   /* threshold: just over 4 MiB */
    void *c = take(3 * MiB, false, 3);
    void *d = take(4 * MiB, false, 4);
    void *e = take(5 * MiB, true, 5);          /* above what was freed */
    expect_eq_u64(mt_check(b, 2 * MiB, 2), 2 * MiB);

    /* 8 MiB and more: always a reservation, and freeing one raises nothing. */
    void *f = take(12 * MiB, true, 6);
    free(f);
    void *g = take(10 * MiB, true, 7);
    free(e);                                   /* 5 MiB: now up to 5 MiB */
    void *h = take(5 * MiB, false, 8);

    /* realloc across the threshold keeps the contents (in place or not). */
    void *r = realloc(h, 9 * MiB);
    require_true(r != NULL);
    expect_eq_u64(mt_check(r, 5 * MiB, 8), 5 * MiB);

    /* An explicit threshold wins over the dynamic one. */
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
    void *i = take(2 * MiB, true, 9);
    free(r);
    void *j = take(3 * MiB, true, 10);

    expect_eq_u64(mt_check(c, 3 * MiB, 3), 3 * MiB);
    expect_eq_u64(mt_check(d, 4 * MiB, 4), 4 * MiB);
    expect_eq_u64(mt_check(g, 10 * MiB, 7), 10 * MiB);
    free(b);
    free(c);
    free(d);
    free(g);
    free(i);
    free(j);
    return test_done();
}
