/* wheap_heap_destroy releases every reservation of the heap at once (layer
 * 1 reports the addresses free); the handle is dead afterwards; the process
 * heap cannot be destroyed. */
#include "heap_test.h"

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    const void *bases[64];
    size_t nbases = 0;
    /* Enough small blocks for several segments, plus large blocks. */
    for (int i = 0; i < 20000; i++) require_true(wheap_heap_alloc(h, 0, 3000) != NULL);
    for (int i = 0; i < 4; i++) require_true(wheap_heap_alloc(h, 0, 2 << 20) != NULL);
    wheap_heap_entry e;
    memset(&e, 0, sizeof e);
    while (wheap_heap_walk(h, &e)) {
        wheap_memory_basic_information mbi;
        if (!(e.flags & (WHEAP_PROCESS_HEAP_REGION | WHEAP_PROCESS_HEAP_ENTRY_BUSY))) continue;
        require_true(wheap_virtual_query(e.data, &mbi, sizeof mbi) == sizeof mbi);
        bool dup = false;
        for (size_t i = 0; i < nbases; i++) dup |= bases[i] == mbi.allocation_base;
        if (!dup && nbases < 64) bases[nbases++] = mbi.allocation_base;
    }
    expect_ge_u64(nbases, 6);   /* several segments and four large blocks */

    wheap_stats before = { .size = sizeof before }, after = { .size = sizeof after };
    wheap_get_stats(NULL, &before);
    expect_true(wheap_heap_destroy(h));
    wheap_get_stats(NULL, &after);
    for (size_t i = 0; i < nbases; i++) {
        wheap_memory_basic_information mbi;
        require_true(wheap_virtual_query(bases[i], &mbi, sizeof mbi) == sizeof mbi);
        expect_true(mbi.state == WHEAP_MEM_FREE || mbi.allocation_base != bases[i]);
    }
    expect_lt_u64(after.reserved + (20000u * 3000u), before.reserved);
    expect_lt_u64(after.committed + (20000u * 3000u), before.committed);

    /* The handle is dead. */
    expect_false(wheap_heap_destroy(h));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_null(wheap_heap_alloc(h, 0, 10));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_false(wheap_heap_destroy(NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    int local;
    expect_false(wheap_heap_destroy((wheap_heap *)&local));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);

    /* The process heap stays. */
    wheap_heap *ph = wheap_get_process_heap();
    require_true(ph != NULL);
    expect_false(wheap_heap_destroy(ph));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    void *p = wheap_heap_alloc(ph, 0, 10);
    expect_not_null(p);
    expect_true(wheap_heap_free(ph, 0, p));

    /* Create/destroy cycles leak nothing. */
    wheap_get_stats(NULL, &before);
    for (int i = 0; i < 200; i++) {
        wheap_heap *t = wheap_heap_create(0, 1 << 16, i % 2 ? 0 : (1 << 20));
        require_true(t != NULL);
        for (int k = 0; k < 50; k++) require_true(wheap_heap_alloc(t, 0, (size_t)k * 97) != NULL);
        require_true(wheap_heap_alloc(t, 0, i % 2 ? (3 << 20) : 1000) != NULL);
        expect_true(wheap_heap_destroy(t));
    }
    wheap_get_stats(NULL, &after);
    expect_eq_u64(after.reserved, before.reserved);
    expect_eq_u64(after.committed, before.committed);
    return test_done();
}
