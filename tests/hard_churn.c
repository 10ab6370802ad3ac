/*
 * Churn (issue 15, found by the fuzz target's growing RSS): a long-running
 * program that creates and destroys private heaps, or reserves and releases
 * address space, over and over must stay the same size.  Each cycle gives
 * everything back, so VmRSS and VmSize may grow by a warm-up's worth, not
 * per cycle (it was 4 KiB a cycle: the reservations walked down the address
 * space and the region table took a new leaf for each fresh 4 GiB window).
 */
#include "heap_test.h"

enum { CYCLES = 20000 };

static void heap_cycle(int i)
{
    wheap_heap *h = wheap_heap_create(i % 3 ? 0 : WHEAP_HEAP_NO_SERIALIZE, 0,
                                      i % 4 == 3 ? (1 << 20) : 0);
    require_true(h != NULL);
    void *p = wheap_heap_alloc(h, 0, (size_t)(i % 50) * 100 + 1);
    require_true(p != NULL);
    expect_true(wheap_heap_destroy(h));
}

static void reserve_cycle(int i)
{
    size_t size = (i % 2 ? 32u : 3u) << 20;
    char *p = wheap_virtual_alloc(NULL, size, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p + size / 2, 4096, WHEAP_MEM_COMMIT,
                                     WHEAP_PAGE_READWRITE) != NULL);
    p[size / 2] = 1;
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
}

/* Two at a time, released in the order they were made (the first is not
 * the last placed when it goes). */
static void fifo_cycle(int i)
{
    static wheap_heap *older;
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    require_true(wheap_heap_alloc(h, 0, (size_t)(i % 50) * 100 + 1) != NULL);
    if (older) expect_true(wheap_heap_destroy(older));
    older = h;
}

static void churn(const char *what, void (*cycle)(int))
{
    for (int i = 0; i < 200; i++) cycle(i);
    uint64_t rss0 = test_proc_status("VmRSS"), vm0 = test_proc_status("VmSize");
    for (int i = 0; i < CYCLES; i++) cycle(i);
    uint64_t rss1 = test_proc_status("VmRSS"), vm1 = test_proc_status("VmSize");
    fprintf(stderr, "%s x %d: VmRSS %+lld kB, VmSize %+lld kB\n", what, CYCLES,
            (long long)(rss1 - rss0) / 1024, (long long)(vm1 - vm0) / 1024);
    expect_lt_u64(rss1, rss0 + (4u << 20));
    expect_lt_u64(vm1, vm0 + (8u << 20));
}

int main(void)
{
    churn("heap create + destroy", heap_cycle);
    churn("reserve + release", reserve_cycle);
    churn("heaps destroyed oldest first", fifo_cycle);
    return test_done();
}
