/* Private heaps: alloc/free/size round trips, 16-byte alignment, exact
 * sizes for every size class and beyond, size-0 blocks, contents kept. */
#include "heap_test.h"

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);

    /* Every size up to 2 KiB, then steps up to a few MiB. */
    enum { N = 2200 };
    static void *blocks[N];
    static size_t sizes[N];
    size_t n = 0;
    for (size_t s = 0; s <= 2048; s++) sizes[n++] = s;
    for (size_t s = 2049; n < N; s = s < ((size_t)5 << 20) ? s * 5 / 4 + 13 : 2049 + n)
        sizes[n++] = s;

    for (size_t i = 0; i < N; i++) {
        blocks[i] = wheap_heap_alloc(h, 0, sizes[i]);
        require_true(blocks[i] != NULL);
        expect_eq_u64((uintptr_t)blocks[i] & 15, 0);
        pattern_fill(blocks[i], sizes[i], (unsigned)i);
    }
    /* Size-0 blocks are distinct, valid and freeable. */
    void *z1 = wheap_heap_alloc(h, 0, 0), *z2 = wheap_heap_alloc(h, 0, 0);
    expect_true(z1 && z2 && z1 != z2);
    expect_eq_u64(wheap_heap_size(h, 0, z1), 0);

    for (size_t i = 0; i < N; i++) {
        expect_eq_u64(wheap_heap_size(h, 0, blocks[i]), sizes[i]);
        expect_true(wheap_heap_validate(h, 0, blocks[i]));
        if (!pattern_ok(blocks[i], sizes[i], (unsigned)i))
            test_fail_at(__FILE__, __LINE__, "block %zu (%zu bytes) lost its contents", i, sizes[i]);
    }
    /* No two blocks overlap. */
    for (size_t i = 0; i + 1 < N; i++)
        for (size_t j = i + 1; j < N && j < i + 64; j++) {
            uintptr_t a = (uintptr_t)blocks[i], b = (uintptr_t)blocks[j];
            if ((a < b && a + sizes[i] > b) || (b < a && b + sizes[j] > a))
                test_fail_at(__FILE__, __LINE__, "blocks %zu and %zu overlap", i, j);
        }

    /* Free half, reallocate: sizes stay exact, survivors keep contents. */
    for (size_t i = 0; i < N; i += 2) expect_true(wheap_heap_free(h, 0, blocks[i]));
    for (size_t i = 0; i < N; i += 2) {
        blocks[i] = wheap_heap_alloc(h, 0, sizes[i]);
        require_true(blocks[i] != NULL);
        pattern_fill(blocks[i], sizes[i], (unsigned)i + 7);
    }
    for (size_t i = 0; i < N; i++) {
        expect_eq_u64(wheap_heap_size(h, 0, blocks[i]), sizes[i]);
        if (!pattern_ok(blocks[i], sizes[i], (unsigned)i + (i % 2 ? 0 : 7)))
            test_fail_at(__FILE__, __LINE__, "block %zu lost its contents after reuse", i);
    }
    expect_true(wheap_heap_validate(h, 0, NULL));
    for (size_t i = 0; i < N; i++) expect_true(wheap_heap_free(h, 0, blocks[i]));
    expect_true(wheap_heap_free(h, 0, z1));
    expect_true(wheap_heap_free(h, 0, z2));
    /* HeapFree(NULL) succeeds. */
    expect_true(wheap_heap_free(h, 0, NULL));
    expect_true(wheap_heap_validate(h, 0, NULL));

    /* Overflow-safe sizes fail cleanly. */
    expect_null(wheap_heap_alloc(h, 0, SIZE_MAX));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_null(wheap_heap_alloc(h, 0, SIZE_MAX - 15));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
