/* With background_purge=1 a process that stops calling the allocator still
 * gives freed memory back: VmRSS falls while this test only sleeps. */
#define _GNU_SOURCE
#include "heap_test.h"
#include <time.h>

enum { N = 40000 };
static void *blocks[N];

int main(int argc, char **argv)
{
    (void)argc;
    rerun_with_options(argv, "background_purge=1,purge_delay_ms=20,decommit_delay_ms=100");
    uint64_t base = test_proc_status("VmRSS");
    if (base == 0) test_skip("no VmRSS in /proc/self/status");
    wheap_heap *h = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    require_true(h != NULL);
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = i % 7 == 0 ? 9000 : 1500;
        blocks[i] = wheap_heap_alloc(h, 0, n);
        require_true(blocks[i] != NULL);
        memset(blocks[i], 0x5A, n);
        total += n;
    }
    uint64_t full = test_proc_status("VmRSS");
    for (int i = 0; i < N; i++) expect_true(wheap_heap_free(h, 0, blocks[i]));
    /* Idle: no heap call at all from here on. */
    uint64_t idle = full;
    for (int waited = 0; waited < 3000 && idle > full - total / 2; waited += 50) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        idle = test_proc_status("VmRSS");
    }
    fprintf(stderr, "VmRSS: base %" PRIu64 " KiB, full %" PRIu64 " KiB, idle after freeing %" PRIu64
            " KiB\n", base >> 10, full >> 10, idle >> 10);
    expect_lt_u64(idle, full - total / 2);
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
