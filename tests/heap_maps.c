/* PITFALLS row 9: a heap that grows to a few GiB of address space, purges
 * and shrinks adds few kernel mappings (guard pages and partial purges
 * must not split mappings per page or per block). */
#include "heap_test.h"

#define MiB ((size_t)1 << 20)

int main(void)
{
    wheap_memory_status ms = { .length = sizeof ms };
    if (wheap_global_memory_status(&ms) && ms.avail_page_file < 6ull * 1024 * MiB)
        test_skip("less than 6 GiB of commit left");
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    size_t before = test_map_count();
    static void *blocks[100000];
    size_t n = 0, total = 0, huge = 0;
    /* 3 GiB of blocks from 16 KiB to 512 KiB, and one of 1..4 MiB in 64
     * (those get reservations of their own), untouched: committed but not
     * resident.  Frees and compactions in between. */
    while (total < 3072 * MiB && n < 100000) {
        size_t sz = n % 64 == 63 ? MiB << (n / 64 % 3) : (size_t)16384 << (n % 6);
        blocks[n] = wheap_heap_alloc(h, 0, sz);
        require_true(blocks[n] != NULL);
        total += sz;
        huge += sz >= MiB;
        n++;
        if (n % 4000 == 0) {
            for (size_t i = n - 4000; i < n; i += 3) {
                wheap_heap_free(h, 0, blocks[i]);
                blocks[i] = NULL;
            }
            wheap_heap_compact(h, 0);
        }
    }
    size_t grown = test_map_count();
    wheap_stats st = { .size = sizeof st };
    require_true(wheap_get_stats(h, &st));
    fprintf(stderr, "%zu blocks (%zu of 1 MiB+), %zu MiB reserved: maps %zu -> %zu\n", n, huge,
            st.reserved >> 20, before, grown);
    expect_ge_u64(st.reserved, 2048 * MiB);
    /* Segments: a handful of mappings per 32 MiB; large blocks: two each
     * (the block and the guard page after it). */
    expect_lt_u64(grown, before + st.reserved / (8 * MiB) + 2 * huge + 16);
    for (size_t i = 0; i < n; i++)
        if (blocks[i]) wheap_heap_free(h, 0, blocks[i]);
    wheap_heap_compact(h, 0);
    /* Fewer lines than before is fine (other mappings of the process,
     * ASan's among them, come and go): only growth is bounded. */
    expect_lt_u64(test_map_count(), before + 64);
    expect_true(wheap_heap_destroy(h));
    expect_le_u64(test_map_count(), before + 4);
    return test_done();
}
