/* Large blocks (1 MiB and up) of growable heaps get a reservation of their
 * own; freeing one releases it; they realloc in place when they can and
 * keep their contents when they move. */
#include "heap_test.h"

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    void *small = wheap_heap_alloc(h, 0, 100);
    require_true(small != NULL);
    wheap_memory_basic_information ms, ml;
    require_true(wheap_virtual_query(small, &ms, sizeof ms) == sizeof ms);

    size_t sizes[] = { 1 << 20, (1 << 20) + 1, 5 << 20, 33 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = wheap_heap_alloc(h, 0, sizes[i]);
        require_true(p != NULL);
        pattern_fill(p, sizes[i], (unsigned)i);
        require_true(wheap_virtual_query(p, &ml, sizeof ml) == sizeof ml);
        expect_true(ml.allocation_base != ms.allocation_base);
        expect_eq_u64(ml.state, WHEAP_MEM_COMMIT);
        expect_eq_u64(ml.type, WHEAP_MEM_PRIVATE);
        expect_eq_u64(wheap_heap_size(h, 0, p), sizes[i]);
        /* The reservation ends in a page nobody can touch. */
        size_t c, r;
        query_reservation(ml.allocation_base, &c, &r);
        expect_gt_u64(r, c);
        expect_ge_u64(c, sizes[i]);
        expect_true(pattern_ok(p, sizes[i], (unsigned)i));
        void *base = ml.allocation_base;
        expect_true(wheap_heap_free(h, 0, p));
        require_true(wheap_virtual_query(base, &ml, sizeof ml) == sizeof ml);
        expect_true(ml.state == WHEAP_MEM_FREE || ml.allocation_base != base);
    }

    /* Mid-size blocks (above the size classes) live in the heap's segments. */
    void *mid = wheap_heap_alloc(h, 0, 500000);
    require_true(mid != NULL);
    require_true(wheap_virtual_query(mid, &ml, sizeof ml) == sizeof ml);
    expect_eq_ptr(ml.allocation_base, ms.allocation_base);

    /* Growing: contents kept whether it moves or not. */
    unsigned char *g = wheap_heap_alloc(h, 0, 200000);
    require_true(g != NULL);
    pattern_fill(g, 200000, 9);
    size_t len = 200000;
    for (size_t next = 300000; next < (48u << 20); next = next * 3 / 2) {
        g = wheap_heap_realloc(h, 0, g, next);
        require_true(g != NULL);
        expect_true(pattern_ok(g, 200000, 9));
        expect_eq_u64(wheap_heap_size(h, 0, g), next);
        len = next;
    }
    g = wheap_heap_realloc(h, 0, g, 1000);
    require_true(g != NULL);
    expect_true(pattern_ok(g, 1000, 9));
    (void)len;
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
