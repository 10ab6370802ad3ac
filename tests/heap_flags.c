/* Flags: unknown bits refused with ERROR_INVALID_PARAMETER everywhere;
 * HEAP_ZERO_MEMORY zeroes new blocks and realloc's grown tail;
 * HEAP_REALLOC_IN_PLACE_ONLY returns the same pointer or NULL;
 * HEAP_GROWABLE and HEAP_CREATE_ENABLE_EXECUTE are accepted. */
#include "heap_test.h"

int main(void)
{
    /* Creation flags. */
    expect_null(wheap_heap_create(0x80000000u, 0, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_heap_create(WHEAP_HEAP_ZERO_MEMORY, 0, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    wheap_heap *g = wheap_heap_create(WHEAP_HEAP_GROWABLE | WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    expect_not_null(g);
    if (g) expect_true(wheap_heap_destroy(g));

    /* Executable heaps hand out executable memory. */
    wheap_heap *x = wheap_heap_create(WHEAP_HEAP_CREATE_ENABLE_EXECUTE, 0, 0);
    require_true(x != NULL);
    void *code = wheap_heap_alloc(x, 0, 64);
    require_true(code != NULL);
    wheap_memory_basic_information mbi;
    require_true(wheap_virtual_query(code, &mbi, sizeof mbi) == sizeof mbi);
    expect_eq_u64(mbi.protect, WHEAP_PAGE_EXECUTE_READWRITE);
    expect_true(wheap_heap_destroy(x));

    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    void *p = wheap_heap_alloc(h, 0, 100);
    require_true(p != NULL);

    /* Unknown call flags. */
    expect_null(wheap_heap_alloc(h, 0x100, 10));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_heap_alloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, 10));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_heap_realloc(h, 0x100, p, 10));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_heap_free(h, WHEAP_HEAP_ZERO_MEMORY | 0x100, p));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_eq_u64(wheap_heap_size(h, 0x100, p), (size_t)-1);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_heap_validate(h, 0, p));

    /* HEAP_ZERO_MEMORY on fresh blocks of every kind, over dirty memory. */
    size_t sizes[] = { 1, 24, 1000, 5000, 70000, 300000, 3 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *d = wheap_heap_alloc(h, 0, sizes[i]);
        require_true(d != NULL);
        memset(d, 0xAB, sizes[i]);
        expect_true(wheap_heap_free(h, 0, d));
        unsigned char *zb = wheap_heap_alloc(h, WHEAP_HEAP_ZERO_MEMORY, sizes[i]);
        require_true(zb != NULL);
        size_t bad = 0;
        for (size_t k = 0; k < sizes[i]; k++) bad += zb[k] != 0;
        expect_eq_u64(bad, 0);
        expect_eq_u64(wheap_heap_size(h, 0, zb), sizes[i]);
        expect_true(wheap_heap_free(h, 0, zb));
    }

    /* Realloc with HEAP_ZERO_MEMORY zeroes only the grown tail. */
    unsigned char *r = wheap_heap_alloc(h, 0, 10);
    require_true(r != NULL);
    memset(r, 0xCD, 10);
    /* Dirty the slack first: a shrink then a grow must not leak it. */
    r = wheap_heap_realloc(h, 0, r, 12);
    require_true(r != NULL);
    r[10] = r[11] = 0xEE;
    r = wheap_heap_realloc(h, 0, r, 10);
    require_true(r != NULL);
    r = wheap_heap_realloc(h, WHEAP_HEAP_ZERO_MEMORY, r, 5000);
    require_true(r != NULL);
    size_t kept = 0, zeroed = 0;
    for (size_t k = 0; k < 10; k++) kept += r[k] == 0xCD;
    for (size_t k = 10; k < 5000; k++) zeroed += r[k] == 0;
    expect_eq_u64(kept, 10);
    expect_eq_u64(zeroed, 4990);

    /* In place only: the same pointer, or NULL with the block untouched. */
    void *q = wheap_heap_alloc(h, 0, 40);       /* class 48 */
    require_true(q != NULL);
    memset(q, 0x11, 40);
    expect_eq_ptr(wheap_heap_realloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, q, 48), q);
    expect_eq_u64(wheap_heap_size(h, 0, q), 48);
    expect_eq_ptr(wheap_heap_realloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, q, 8), q);
    expect_eq_u64(wheap_heap_size(h, 0, q), 8);
    expect_null(wheap_heap_realloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, q, 100000));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_eq_u64(wheap_heap_size(h, 0, q), 8);
    expect_eq_u64(*(unsigned char *)q, 0x11);
    /* A huge block grows in place when its reservation allows, else NULL. */
    void *big = wheap_heap_alloc(h, 0, 2 << 20);
    require_true(big != NULL);
    void *same = wheap_heap_realloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, big, 1 << 20);
    expect_eq_ptr(same, big);
    expect_eq_u64(wheap_heap_size(h, 0, big), 1 << 20);

    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
