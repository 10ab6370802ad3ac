/* Guard pages: a linear overflow off the end of a heap's data, and an
 * underflow from its first block towards the segment metadata, fault (in
 * a child) instead of corrupting; the metadata is never writable from a
 * block by running past a neighbour's end. */
#include "heap_test.h"

static wheap_heap *heap;

/* The highest block of a filled fixed heap, and the lowest. */
static char *hi_block, *lo_block;
static size_t block_size = 4000;

static void overflow(void *arg)
{
    (void)arg;
    /* Runs off the end of the last block, a page at a time. */
    for (size_t i = 0; i < (64u << 10); i += 512) hi_block[block_size + i] = 1;
    _exit(0);
}

static void underflow(void *arg)
{
    (void)arg;
    for (size_t i = 1; i < (64u << 10); i += 512) lo_block[-(ptrdiff_t)i] = 1;
    _exit(0);
}

static void large_overflow(void *arg)
{
    char *p = arg;
    for (size_t i = 0; i < (8u << 20); i += 512) p[i] = 1;
    _exit(0);
}

int main(void)
{
    heap = wheap_heap_create(0, 0, 1 << 20);
    require_true(heap != NULL);
    for (;;) {
        char *p = wheap_heap_alloc(heap, 0, block_size);
        if (!p) break;
        if (!hi_block || p > hi_block) hi_block = p;
        if (!lo_block || p < lo_block) lo_block = p;
    }
    require_true(hi_block && lo_block);
    wheap_memory_basic_information mbi;
    require_true(wheap_virtual_query(hi_block, &mbi, sizeof mbi) == sizeof mbi);
    expect_child_signal(test_in_child(overflow, NULL), SIGSEGV);
    expect_child_signal(test_in_child(underflow, NULL), SIGSEGV);
    /* The page after the data is reserved, never committed. */
    char *after = (char *)(((uintptr_t)hi_block + block_size + 4095) & ~(uintptr_t)4095);
    require_true(wheap_virtual_query(after + 4096 * 0, &mbi, sizeof mbi) == sizeof mbi);
    expect_true(mbi.state == WHEAP_MEM_RESERVE || mbi.protect == WHEAP_PAGE_NOACCESS ||
                mbi.state == WHEAP_MEM_FREE);
    expect_true(wheap_heap_validate(heap, 0, NULL));
    expect_true(wheap_heap_destroy(heap));

    /* A large block's reservation ends in a guard page too. */
    wheap_heap *g = wheap_heap_create(0, 0, 0);
    require_true(g != NULL);
    char *big = wheap_heap_alloc(g, 0, 2 << 20);
    require_true(big != NULL);
    expect_child_signal(test_in_child(large_overflow, big), SIGSEGV);
    expect_true(wheap_heap_destroy(g));
    return test_done();
}
