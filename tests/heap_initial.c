/* initial_size is committed at creation (rounded to pages), on growable and
 * fixed heaps, and layer 1 sees it committed. */
#include "heap_test.h"

static void check(size_t initial, size_t maximum)
{
    size_t before = 0;
    wheap_heap *empty = wheap_heap_create(0, 0, maximum);
    require_true(empty != NULL);
    before = heap_stat_committed(empty);
    expect_true(wheap_heap_destroy(empty));

    wheap_heap *h = wheap_heap_create(0, initial, maximum);
    require_true(h != NULL);
    size_t committed = heap_stat_committed(h);
    expect_ge_u64(committed, before + initial);
    size_t qc, qr;
    query_heap(h, &qc, &qr);
    expect_eq_u64(qc, committed);
    /* Blocks come from the committed part without further commits. */
    void *p = wheap_heap_alloc(h, 0, 1000);
    expect_not_null(p);
    if (initial >= (1u << 20)) expect_eq_u64(heap_stat_committed(h), committed);
    expect_true(wheap_heap_destroy(h));
}

int main(void)
{
    check(1, 0);
    check(1 << 20, 0);
    check(5 << 20, 0);
    check(100 << 20, 0);          /* more than one segment */
    check(1 << 20, 2 << 20);
    check(40 << 20, 64 << 20);    /* a fixed heap of two windows */
    /* initial above maximum: the maximum grows to it (as Win32 does). */
    wheap_heap *h = wheap_heap_create(0, 2 << 20, 1 << 20);
    expect_not_null(h);
    if (h) expect_true(wheap_heap_destroy(h));
    return test_done();
}
