/* Pointers a heap does not own (foreign: stack, static, libc, another
 * reservation, another heap's block; interior; misaligned; freed; freed
 * twice) make free, size, realloc and validate fail with
 * ERROR_INVALID_PARAMETER (validate: false) without crashing, and the heap
 * stays intact: its blocks keep their contents and it keeps working. */
#include "heap_test.h"

static char static_buf[256];

static void expect_rejected(wheap_heap *h, void *p, const char *what)
{
    wheap_set_last_error(0);
    if (wheap_heap_free(h, 0, p) || wheap_get_last_error() != WHEAP_ERROR_INVALID_PARAMETER)
        test_fail_at(__FILE__, __LINE__, "free accepted %s %p", what, p);
    wheap_set_last_error(0);
    if (wheap_heap_size(h, 0, p) != (size_t)-1 ||
        wheap_get_last_error() != WHEAP_ERROR_INVALID_PARAMETER)
        test_fail_at(__FILE__, __LINE__, "size accepted %s %p", what, p);
    wheap_set_last_error(0);
    if (wheap_heap_realloc(h, 0, p, 64) || wheap_get_last_error() != WHEAP_ERROR_INVALID_PARAMETER)
        test_fail_at(__FILE__, __LINE__, "realloc accepted %s %p", what, p);
    if (wheap_heap_validate(h, 0, p))
        test_fail_at(__FILE__, __LINE__, "validate accepted %s %p", what, p);
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    wheap_heap *other = wheap_heap_create(0, 0, 0);
    wheap_heap *fixed = wheap_heap_create(0, 0, 1 << 20);
    require_true(h && other && fixed);

    enum { N = 300 };
    void *keep[N];
    size_t ksize[N];
    for (int i = 0; i < N; i++) {
        ksize[i] = (size_t)(i * 53) % 5000 + (i % 50 == 0 ? 400000 : 0) + (i == 7 ? (2 << 20) : 0);
        keep[i] = wheap_heap_alloc(h, 0, ksize[i]);
        require_true(keep[i] != NULL);
        pattern_fill(keep[i], ksize[i], (unsigned)i);
    }
    int local = 0;
    expect_rejected(h, &local, "a stack address");
    expect_rejected(h, static_buf, "a static buffer");
    void *libc = malloc(100);
    expect_rejected(h, libc, "a libc block");
    free(libc);
    void *va = wheap_virtual_alloc(NULL, 1 << 16, WHEAP_MEM_COMMIT | WHEAP_MEM_RESERVE,
                                   WHEAP_PAGE_READWRITE);
    require_true(va != NULL);
    expect_rejected(h, va, "a virtual_alloc block");
    expect_true(wheap_virtual_free(va, 0, WHEAP_MEM_RELEASE));
    expect_rejected(h, va, "released memory");
    expect_rejected(h, (void *)16, "a tiny address");
    expect_rejected(h, (void *)~(uintptr_t)15, "a kernel address");
    expect_rejected(h, (void *)((uintptr_t)1 << 52), "a non-canonical address");

    /* Another heap's small, mid and large blocks. */
    void *o1 = wheap_heap_alloc(other, 0, 32), *o2 = wheap_heap_alloc(other, 0, 300000),
         *o3 = wheap_heap_alloc(other, 0, 3 << 20), *o4 = wheap_heap_alloc(fixed, 0, 64);
    require_true(o1 && o2 && o3 && o4);
    expect_rejected(h, o1, "another heap's block");
    expect_rejected(h, o2, "another heap's mid block");
    expect_rejected(h, o3, "another heap's large block");
    expect_rejected(h, o4, "a fixed heap's block");
    expect_eq_u64(wheap_heap_size(other, 0, o1), 32);

    /* Interior and misaligned pointers into live blocks of every kind. */
    for (int i = 0; i < N; i += 7) {
        char *p = keep[i];
        if (ksize[i] >= 32) expect_rejected(h, p + 16, "an interior pointer");
        if (ksize[i] >= 8) expect_rejected(h, p + 8, "a misaligned pointer");
        expect_rejected(h, p + 1, "a misaligned pointer");
        if (ksize[i] >= 8192) expect_rejected(h, p + 4096, "a deep interior pointer");
    }
    /* The heap's own metadata and free space. */
    wheap_memory_basic_information mbi;
    require_true(wheap_virtual_query(keep[1], &mbi, sizeof mbi) == sizeof mbi);
    expect_rejected(h, mbi.allocation_base, "a segment header");
    expect_rejected(h, (char *)mbi.allocation_base + 4096, "heap metadata");
    expect_rejected(h, (char *)mbi.allocation_base + (8 << 20) - 65536, "a free slice");

    /* Freed blocks, freed twice, and blocks freed then reused by others. */
    for (int i = 0; i < N; i += 3) {
        expect_true(wheap_heap_free(h, 0, keep[i]));
        expect_rejected(h, keep[i], "a freed block");
    }
    /* Realloc of NULL fails. */
    expect_null(wheap_heap_realloc(h, 0, NULL, 10));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Nothing was damaged. */
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_validate(other, 0, NULL));
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) continue;
        expect_eq_u64(wheap_heap_size(h, 0, keep[i]), ksize[i]);
        if (!pattern_ok(keep[i], ksize[i], (unsigned)i))
            test_fail_at(__FILE__, __LINE__, "block %d damaged", i);
    }
    for (int i = 0; i < 1000; i++) {
        void *p = wheap_heap_alloc(h, 0, (size_t)i * 11);
        require_true(p != NULL);
        expect_true(wheap_heap_free(h, 0, p));
    }
    for (int i = 0; i < N; i++)
        if (i % 3) expect_true(wheap_heap_free(h, 0, keep[i]));
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_destroy(h));
    expect_true(wheap_heap_destroy(other));
    expect_true(wheap_heap_destroy(fixed));
    return test_done();
}
