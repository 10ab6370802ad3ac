/*
 * Exhaustion of private heaps and of layer 1 when the kernel refuses memory
 * (issue 15), each case in a child with a resource limit:
 *
 *   RLIMIT_AS    a growable heap fills up: NULL with ERROR_NOT_ENOUGH_MEMORY,
 *                every block keeps its contents, a failed realloc leaves the
 *                block alone, frees make room that is reused, the heap
 *                validates, and a destroyed heap gives its address space
 *                back; with HEAP_GENERATE_EXCEPTIONS the vectored handlers
 *                hear STATUS_NO_MEMORY once per failed call, then NULL;
 *                wheap_virtual_alloc reserve refused: NULL with
 *                ERROR_NOT_ENOUGH_MEMORY and nothing mapped.
 *   RLIMIT_DATA  reserve + commit in one call refused with
 *                ERROR_COMMITMENT_LIMIT and nothing left reserved; a heap
 *                reserved before the limit cannot commit: its allocations
 *                fail with ERROR_NOT_ENOUGH_MEMORY (the heap API's code),
 *                and work again once the limit is lifted.
 *
 * Strict overcommit (vm.overcommit_memory=2) would need root and a global
 * change: never done here; vm_commit_limit covers the commit refusal of the
 * kernel's own check and these limits make the kernel refuse the same way.
 */
#include "heap_test.h"

#include <sys/resource.h>

static void limit(int resource, uint64_t value)
{
    struct rlimit rl;
    getrlimit(resource, &rl);
    rl.rlim_cur = value;
    require_true(setrlimit(resource, &rl) == 0);
}

static void lift(int resource)
{
    struct rlimit rl;
    getrlimit(resource, &rl);
    rl.rlim_cur = rl.rlim_max;
    require_true(setrlimit(resource, &rl) == 0);
}

enum { MAXB = 400000 };
static void *blk[MAXB];
static size_t len[MAXB];

static int calls;
static uint32_t last_status;

static int on_exception(uint32_t status, void *address, void *context)
{
    (void)address;
    (void)context;
    calls++;
    last_status = status;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void growable_under_as(void *arg)
{
    uint32_t options = (uint32_t)(uintptr_t)arg;
    test_failures = 0;
    void *cookie = wheap_add_exception_handler(1, on_exception, NULL);
    require_true(cookie != NULL);
    wheap_heap *h = wheap_heap_create(options, 0, 0);
    require_true(h != NULL);
    limit(RLIMIT_AS, test_proc_status("VmSize") + (96u << 20));

    size_t n = 0;
    uint64_t s = 1;
    for (;;) {
        require_true(n < MAXB);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        len[n] = 100 + (size_t)(s >> 33) % 3000 + (n % 500 == 0 ? 200000 : 0);
        wheap_set_last_error(0);
        blk[n] = wheap_heap_alloc(h, 0, len[n]);
        if (!blk[n]) break;
        pattern_fill(blk[n], len[n], (unsigned)n);
        n++;
    }
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_gt_u64(n, 1000);
    bool raising = options & WHEAP_HEAP_GENERATE_EXCEPTIONS;
    expect_eq_u64(calls, raising ? 1 : 0);
    calls = 0;
    if (raising) expect_eq_u64(last_status, WHEAP_STATUS_NO_MEMORY);
    fprintf(stderr, "%s heap: full after %zu blocks\n", raising ? "raising" : "plain", n);

    /* What the first failure left: room for some 1 MiB blocks perhaps. */
    while (n < MAXB) {
        len[n] = 1u << 20;
        blk[n] = wheap_heap_alloc(h, 0, len[n]);
        if (!blk[n]) break;
        pattern_fill(blk[n], len[n], (unsigned)n);
        n++;
    }
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    /* Full now: each further failure is one more NO_MEMORY. */
    int before = calls;
    for (int i = 0; i < 5; i++) {
        wheap_set_last_error(0);
        expect_null(wheap_heap_alloc(h, 0, 1u << 20));
        expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
        wheap_set_last_error(0);
        expect_null(wheap_heap_realloc(h, 0, blk[i], 4u << 20));
        expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
        expect_eq_u64(wheap_heap_size(h, 0, blk[i]), len[i]);
    }
    expect_eq_u64(calls, raising ? before + 10 : 0);
    fprintf(stderr, "  handlers told %d times\n", calls);
    for (size_t i = 0; i < n; i++)
        if (!pattern_ok(blk[i], len[i], (unsigned)i))
            test_fail_at(__FILE__, __LINE__, "block %zu damaged", i);
    expect_true(wheap_heap_validate(h, 0, NULL));

    /* Frees make room: the same sizes fit again. */
    for (size_t i = 0; i < n; i += 2) expect_true(wheap_heap_free(h, 0, blk[i]));
    size_t again = 0;
    for (size_t i = 0; i < n; i += 2) {
        blk[i] = wheap_heap_alloc(h, 0, len[i]);
        if (!blk[i]) break;
        pattern_fill(blk[i], len[i], (unsigned)i);
        again++;
    }
    expect_ge_u64(again * 10, (n + 1) / 2 * 9);
    for (size_t i = 0; i < n; i++)
        if (blk[i] && !pattern_ok(blk[i], len[i], (unsigned)i))
            test_fail_at(__FILE__, __LINE__, "block %zu damaged after the refill", i);
    expect_true(wheap_heap_validate(h, 0, NULL));

    /* Destroyed, the heap's address space is back for others. */
    expect_true(wheap_heap_destroy(h));
    h = wheap_heap_create(options, 0, 0);
    require_true(h != NULL);
    void *big = wheap_heap_alloc(h, 0, 48u << 20);
    expect_not_null(big);
    if (big) memset(big, 0x3C, 48u << 20);
    expect_true(wheap_heap_destroy(h));

    /* Layer 1 refuses a reservation beyond the limit. */
    size_t maps = test_map_count();
    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(NULL, 512u << 20, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(NULL, 512u << 20, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                    WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_eq_u64(test_map_count(), maps);
    expect_true(wheap_remove_exception_handler(cookie));
    _exit(test_done());
}

static void under_data_limit(void *arg)
{
    (void)arg;
    test_failures = 0;
    /* Reserved before the limit, nothing committed beyond its first pages. */
    wheap_heap *fixed = wheap_heap_create(0, 0, 32u << 20);
    wheap_heap *grow = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    require_true(fixed && grow);
    void *f0 = wheap_heap_alloc(fixed, 0, 1000), *g0 = wheap_heap_alloc(grow, 0, 1000);
    require_true(f0 && g0);
    pattern_fill(f0, 1000, 1);
    pattern_fill(g0, 1000, 2);

    limit(RLIMIT_DATA, test_proc_status("VmData"));
    size_t maps = test_map_count();
    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(NULL, 64u << 20, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                    WHEAP_PAGE_READWRITE));
    /* Either code is Win32's for a refused commit; wheap says which call
     * failed: the one mapping that reserves and commits at once. */
    uint32_t e = wheap_get_last_error();
    if (e != WHEAP_ERROR_COMMITMENT_LIMIT && e != WHEAP_ERROR_NOT_ENOUGH_MEMORY)
        test_fail_at(__FILE__, __LINE__, "reserve+commit refused with %s",
                     wheap_error_string(e));
    expect_eq_u64(test_map_count(), maps);      /* nothing left reserved */

    /* The heaps cannot commit more: ERROR_NOT_ENOUGH_MEMORY, blocks intact. */
    wheap_heap *heaps[2] = {fixed, grow};
    for (int k = 0; k < 2; k++) {
        size_t got = 0;
        void *p;
        wheap_set_last_error(0);
        while ((p = wheap_heap_alloc(heaps[k], 0, 60000)) != NULL) {
            memset(p, 0x11, 60000);
            require_true(++got < 10000);
        }
        expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
        fprintf(stderr, "%s heap under RLIMIT_DATA: %zu blocks of 60000 bytes, then refused\n",
                k ? "growable" : "fixed", got);
        expect_true(wheap_heap_validate(heaps[k], 0, NULL));
    }
    expect_true(pattern_ok(f0, 1000, 1));
    expect_true(pattern_ok(g0, 1000, 2));

    lift(RLIMIT_DATA);
    for (int k = 0; k < 2; k++) {
        void *p = wheap_heap_alloc(heaps[k], 0, 60000);
        expect_not_null(p);
        if (p) memset(p, 0x22, 60000);
        expect_true(wheap_heap_destroy(heaps[k]));
    }
    _exit(test_done());
}

int main(int argc, char **argv)
{
    /* One case in this process, for a debugger. */
    if (argc == 2 && !strcmp(argv[1], "--data")) under_data_limit(NULL);
    if (argc == 2 && !strcmp(argv[1], "--as")) growable_under_as(NULL);
    expect_child_exit(test_in_child(growable_under_as, (void *)(uintptr_t)0), 0);
    expect_child_exit(test_in_child(growable_under_as,
                                    (void *)(uintptr_t)WHEAP_HEAP_GENERATE_EXCEPTIONS), 0);
    expect_child_exit(test_in_child(under_data_limit, NULL), 0);
    return test_done();
}
