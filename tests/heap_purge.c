/* Purging lowers VmRSS: freed memory goes back after the purge delays while
 * the heap keeps being used lightly (no compaction), and at once with
 * wheap_heap_compact, which answers the largest committed free block. */
#define _GNU_SOURCE
#include "heap_test.h"
#include <time.h>

#define MiB ((size_t)1 << 20)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum { N = 60000 };
static void *blocks[N];

/* 60000 blocks of 1 KiB and mixed mid sizes: about 100 MiB, touched. */
static size_t fill(wheap_heap *h)
{
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = i % 10 == 0 ? 12000 : 1000;
        blocks[i] = wheap_heap_alloc(h, 0, n);
        require_true(blocks[i] != NULL);
        memset(blocks[i], 0x3C, n);
        total += n;
    }
    return total;
}

int main(int argc, char **argv)
{
    (void)argc;
    /* Short delays so the test runs quickly (read once, at first use). */
    rerun_with_options(argv, "purge_delay_ms=20,decommit_delay_ms=100");
    uint64_t base = test_proc_status("VmRSS");
    if (base == 0) test_skip("no VmRSS in /proc/self/status");

    /* Timed purging, driven by light activity on the heap. */
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    size_t total = fill(h);
    uint64_t full = test_proc_status("VmRSS");
    expect_gt_u64(full, base + total * 9 / 10);
    /* Free the oldest 90 %: whole pages empty (a page with one live block
     * stays, which is what a size-class allocator does). */
    for (int i = 0; i < N * 9 / 10; i++) expect_true(wheap_heap_free(h, 0, blocks[i]));
    uint64_t t0 = now_ms(), fell_at = 0;
    uint64_t target = full - total / 2;
    while (now_ms() - t0 < 3000) {
        void *p = wheap_heap_alloc(h, 0, 5000);
        require_true(p != NULL);
        expect_true(wheap_heap_free(h, 0, p));
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
        if (test_proc_status("VmRSS") < target) {
            fell_at = now_ms() - t0;
            break;
        }
    }
    uint64_t after_free = test_proc_status("VmRSS");
    fprintf(stderr, "VmRSS: base %" PRIu64 " KiB, full %" PRIu64 " KiB, after freeing 90%% %" PRIu64
            " KiB (%" PRIu64 " ms)\n", base >> 10, full >> 10, after_free >> 10, fell_at);
    expect_lt_u64(after_free, target);
    expect_true(wheap_heap_validate(h, 0, NULL));
    for (int i = N * 9 / 10; i < N; i++) expect_true(wheap_heap_free(h, 0, blocks[i]));
    expect_true(wheap_heap_destroy(h));

    /* Compaction: at once, no waiting. */
    h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    uint64_t before = test_proc_status("VmRSS");
    total = fill(h);
    full = test_proc_status("VmRSS");
    for (int i = 0; i < N; i++) expect_true(wheap_heap_free(h, 0, blocks[i]));
    uint64_t freed = test_proc_status("VmRSS");
    size_t largest = wheap_heap_compact(h, 0);
    uint64_t compacted = test_proc_status("VmRSS");
    fprintf(stderr, "VmRSS: before %" PRIu64 " KiB, full %" PRIu64 " KiB, freed %" PRIu64
            " KiB, compacted %" PRIu64 " KiB; largest free block %zu\n", before >> 10,
            full >> 10, freed >> 10, compacted >> 10, largest);
    expect_lt_u64(compacted, before + 8 * MiB);
    expect_lt_u64(compacted + total / 2, full);
    /* The heap is as good as new. */
    void *p = wheap_heap_alloc(h, 0, 100000);
    expect_not_null(p);
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
