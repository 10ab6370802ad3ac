/* Fixed heaps (maximum_size != 0): one reservation made at creation, never
 * exceeded; requests of 0x7FFF8 bytes and more fail with
 * ERROR_NOT_ENOUGH_MEMORY; exhaustion fails cleanly and frees make room. */
#include "heap_test.h"

static void fill_up(size_t maximum, size_t block)
{
    wheap_heap *h = wheap_heap_create(0, 0, maximum);
    require_true(h != NULL);
    wheap_memory_basic_information mbi;
    void *first = wheap_heap_alloc(h, 0, block);
    require_true(first != NULL);
    require_true(wheap_virtual_query(first, &mbi, sizeof mbi) == sizeof mbi);
    void *base = mbi.allocation_base;
    size_t total = 0, count = 1;
    static void *blocks[1 << 16];
    blocks[0] = first;
    for (;;) {
        void *p = wheap_heap_alloc(h, 0, block);
        if (!p) {
            expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
            break;
        }
        require_true(count < sizeof blocks / sizeof blocks[0]);
        blocks[count++] = p;
        memset(p, 0x5A, block);
        /* Every block lies in the one reservation. */
        require_true(wheap_virtual_query(p, &mbi, sizeof mbi) == sizeof mbi);
        expect_eq_ptr(mbi.allocation_base, base);
    }
    total = count * block;
    expect_le_u64(total, maximum);
    /* The heap used most of its room (metadata and guard pages aside). */
    if (maximum >= (1u << 20)) expect_ge_u64(total, maximum / 2);
    size_t committed, reserved;
    query_reservation(base, &committed, &reserved);
    expect_le_u64(reserved, (maximum + 65535) & ~(size_t)65535);
    expect_le_u64(committed, reserved);
    expect_eq_u64(heap_stat_committed(h), committed);
    /* Freeing one block makes room for one. */
    expect_true(wheap_heap_free(h, 0, blocks[count / 2]));
    blocks[count / 2] = wheap_heap_alloc(h, 0, block);
    expect_not_null(blocks[count / 2]);
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 8 << 20);
    require_true(h != NULL);
    expect_null(wheap_heap_alloc(h, 0, 0x7FFF8));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_null(wheap_heap_alloc(h, 0, 1 << 20));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    void *p = wheap_heap_alloc(h, 0, 0x7FFF7);
    expect_not_null(p);
    if (p) expect_eq_u64(wheap_heap_size(h, 0, p), 0x7FFF7);
    void *q = wheap_heap_alloc(h, 0, 100);
    require_true(q != NULL);
    expect_null(wheap_heap_realloc(h, 0, q, 0x7FFF8));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_eq_u64(wheap_heap_size(h, 0, q), 100);
    expect_true(wheap_heap_destroy(h));

    /* Small, odd and multi-window ceilings, small and mid-size blocks. */
    fill_up(64 << 10, 100);
    fill_up(100000, 1000);
    fill_up(1 << 20, 4000);
    fill_up(3 << 20, 100000);
    fill_up(40 << 20, 300000);
    return test_done();
}
