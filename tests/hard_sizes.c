/*
 * Size arithmetic at the edges of size_t (issue 15), through the wheap_*
 * names only (so the test also runs in the sanitizer build, where malloc is
 * ASan's; malloc_contract and malloc_align cover the libc names against
 * glibc):
 *
 *   malloc layer   sizes near PTRDIFF_MAX and SIZE_MAX for every entry
 *                  point, calloc and reallocarray products that wrap, the
 *                  aligned family with alignments near SIZE_MAX, valloc and
 *                  pvalloc whose page rounding would wrap: NULL with ENOMEM
 *                  (EINVAL for alignments glibc rejects; posix_memalign
 *                  returns the code and leaves *out alone), never a small
 *                  block, and a failed realloc leaves the block intact.
 *   private heaps  alloc and realloc near SIZE_MAX on growable, fixed and
 *                  unserialized heaps, with and without ZERO_MEMORY and
 *                  IN_PLACE_ONLY: NULL with ERROR_NOT_ENOUGH_MEMORY, the
 *                  heap and its blocks untouched.
 *   virtual memory reserve sizes near SIZE_MAX, and address + size ranges
 *                  that wrap past the top of the address space, for alloc,
 *                  free, protect, lock and query: refused, with the error
 *                  listed in the table, nothing reserved or changed.
 */
#include "heap_test.h"

#include <sys/mman.h>

/* Volatile: the compiler neither folds the calls nor warns about them. */
static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_ptrdiff_max = PTRDIFF_MAX;

static size_t huge_sizes[8];

static void fill_huge(void)
{
    const size_t m = v_size_max, d = v_ptrdiff_max;
    const size_t s[] = {d, d + 1, m, m - 15, m - 4095, m - 65535, m / 2 + 1, (size_t)1 << 62};
    memcpy(huge_sizes, s, sizeof s);
}
#define NHUGE (sizeof huge_sizes / sizeof huge_sizes[0])

static void expect_fail(void *p, int err, int want, const char *call, size_t a, size_t b)
{
    if (p) test_fail_at(__FILE__, __LINE__, "%s(%zu, %zu) returned %p", call, a, b, p);
    if (err != want)
        test_fail_at(__FILE__, __LINE__, "%s(%zu, %zu): errno %d, expected %d", call, a, b, err,
                     want);
    wheap_free(p);
}

/* ---- the malloc layer --------------------------------------------------- */

static void malloc_layer(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < NHUGE; i++) {
        size_t n = huge_sizes[i];
        errno = 0;
        void *p = wheap_malloc(n);
        expect_fail(p, errno, ENOMEM, "wheap_malloc", n, 0);
        errno = 0;
        p = wheap_calloc(1, n);
        expect_fail(p, errno, ENOMEM, "wheap_calloc", 1, n);
        errno = 0;
        p = wheap_calloc(n, 1);
        expect_fail(p, errno, ENOMEM, "wheap_calloc", n, 1);
        errno = 0;
        p = wheap_realloc(NULL, n);
        expect_fail(p, errno, ENOMEM, "wheap_realloc(NULL)", n, 0);
        errno = 0;
        p = wheap_valloc(n);
        expect_fail(p, errno, ENOMEM, "wheap_valloc", n, 0);
        errno = 0;
        p = wheap_pvalloc(n);
        expect_fail(p, errno, ENOMEM, "wheap_pvalloc", n, 0);
        /* Sizes whose rounding to a page or an alignment wraps. */
        for (size_t a = 16; a <= ((size_t)1 << 21); a <<= 5) {
            errno = 0;
            p = wheap_memalign(a, n);
            expect_fail(p, errno, ENOMEM, "wheap_memalign", a, n);
            errno = 0;
            p = wheap_aligned_alloc(a, n);
            expect_fail(p, errno, ENOMEM, "wheap_aligned_alloc", a, n);
            void *out = &out;
            int e = wheap_posix_memalign(&out, a, n);
            expect_fail(NULL, e, ENOMEM, "wheap_posix_memalign", a, n);
            expect_eq_ptr(out, &out);
        }
    }
    /* pvalloc rounds up to a page: every size in the last pages wraps. */
    for (size_t k = 0; k < 3 * page; k += 97) {
        errno = 0;
        void *p = wheap_pvalloc(v_size_max - k);
        expect_fail(p, errno, ENOMEM, "wheap_pvalloc", v_size_max - k, 0);
    }

    /* Products that wrap, and products that fit but are too big. */
    const struct { size_t n, s; } products[] = {
        {v_size_max / 2 + 1, 2}, {2, v_size_max / 2 + 1}, {(size_t)1 << 32, (size_t)1 << 32},
        {((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1}, {v_size_max, v_size_max},
        {3, v_size_max / 3 + 1}, {v_size_max / 16 + 1, 16}, {v_ptrdiff_max / 8 + 1, 8},
        {65537, 281470681808897},   /* 2^64 + 1: wraps to 1 */
    };
    char *blk = wheap_malloc(200);
    require_true(blk != NULL);
    pattern_fill(blk, 200, 7);
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
        size_t n = products[i].n, s = products[i].s;
        errno = 0;
        void *p = wheap_calloc(n, s);
        expect_fail(p, errno, ENOMEM, "wheap_calloc", n, s);
        errno = 0;
        p = wheap_reallocarray(NULL, n, s);
        expect_fail(p, errno, ENOMEM, "wheap_reallocarray(NULL)", n, s);
        errno = 0;
        p = wheap_reallocarray(blk, n, s);
        expect_fail(p, errno, ENOMEM, "wheap_reallocarray", n, s);
        expect_true(pattern_ok(blk, 200, 7));
    }
    /* realloc of a live block of each kind to the impossible. */
    const size_t start[] = {200, 5000, 300000, 3u << 20};
    for (size_t k = 0; k < sizeof start / sizeof start[0]; k++) {
        char *q = wheap_malloc(start[k]);
        require_true(q != NULL);
        pattern_fill(q, start[k], (unsigned)k);
        for (size_t i = 0; i < NHUGE; i++) {
            errno = 0;
            void *r = wheap_realloc(q, huge_sizes[i]);
            expect_fail(r, errno, ENOMEM, "wheap_realloc", start[k], huge_sizes[i]);
        }
        expect_true(pattern_ok(q, start[k], (unsigned)k));
        expect_ge_u64(wheap_malloc_usable_size(q), start[k]);
        wheap_free(q);
    }
    wheap_free(blk);

    /* Alignments glibc rejects (EINVAL) or cannot satisfy (ENOMEM). */
    const size_t top = v_size_max / 2 + 1;   /* 2^63: the largest power of two */
    const struct { size_t align; int memalign_err, posix_err; } aligns[] = {
        {top + 1, EINVAL, EINVAL}, {v_size_max, EINVAL, EINVAL}, {v_size_max - 15, EINVAL, EINVAL},
        {top, ENOMEM, ENOMEM}, {top / 2, ENOMEM, ENOMEM}, {top / 2 + 16, ENOMEM, EINVAL},
    };
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i].align;
        const size_t sizes[] = {1, 100, v_size_max - a + 1, v_size_max};
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            size_t n = sizes[j];
            /* Size-caused ENOMEM wins only where glibc's checks come first:
             * alignment errors are reported before any size check. */
            int want = aligns[i].memalign_err;
            errno = 0;
            void *p = wheap_memalign(a, n);
            expect_fail(p, errno, want, "wheap_memalign", a, n);
            errno = 0;
            p = wheap_aligned_alloc(a, n);
            expect_fail(p, errno, want, "wheap_aligned_alloc", a, n);
            void *out = &out;
            int e = wheap_posix_memalign(&out, a, n);
            expect_fail(NULL, e, aligns[i].posix_err, "wheap_posix_memalign", a, n);
            expect_eq_ptr(out, &out);
        }
    }
}

/* ---- private heaps ------------------------------------------------------- */

static void heap_layer(void)
{
    wheap_heap *heaps[] = {
        wheap_heap_create(0, 0, 0),
        wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 1 << 16, 0),
        wheap_heap_create(0, 0, 4 << 20),
        wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 1 << 20),
    };
    const uint32_t flags[] = {0, WHEAP_HEAP_ZERO_MEMORY, WHEAP_HEAP_NO_SERIALIZE};
    for (size_t h = 0; h < sizeof heaps / sizeof heaps[0]; h++) {
        require_true(heaps[h] != NULL);
        void *blk[3];
        const size_t len[3] = {24, 9000, 200000};
        for (int k = 0; k < 3; k++) {
            blk[k] = wheap_heap_alloc(heaps[h], 0, len[k]);
            require_true(blk[k] != NULL);
            pattern_fill(blk[k], len[k], (unsigned)k + 3);
        }
        const size_t extra[] = {8, 7, 1, 0};
        for (size_t i = 0; i < NHUGE + 4; i++) {
            size_t n = i < NHUGE ? huge_sizes[i] : v_size_max - extra[i - NHUGE];
            for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
                wheap_set_last_error(0);
                void *p = wheap_heap_alloc(heaps[h], flags[f], n);
                if (p) test_fail_at(__FILE__, __LINE__, "heap %zu: alloc(%zu) = %p", h, n, p);
                expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
                for (int k = 0; k < 3; k++) {
                    wheap_set_last_error(0);
                    p = wheap_heap_realloc(heaps[h], flags[f], blk[k], n);
                    if (p) test_fail_at(__FILE__, __LINE__, "heap %zu: realloc(%zu) = %p", h, n, p);
                    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
                    wheap_set_last_error(0);
                    p = wheap_heap_realloc(heaps[h], flags[f] | WHEAP_HEAP_REALLOC_IN_PLACE_ONLY,
                                           blk[k], n);
                    expect_null(p);
                    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
                }
            }
        }
        for (int k = 0; k < 3; k++) {
            expect_eq_u64(wheap_heap_size(heaps[h], 0, blk[k]), len[k]);
            expect_true(pattern_ok(blk[k], len[k], (unsigned)k + 3));
        }
        expect_true(wheap_heap_validate(heaps[h], 0, NULL));
        void *p = wheap_heap_alloc(heaps[h], 0, 1000);
        expect_not_null(p);
        expect_true(wheap_heap_destroy(heaps[h]));
    }
    /* A huge initial or maximum size at creation is refused, not wrapped. */
    const size_t sizes[] = {v_size_max, v_size_max - 4095, v_size_max - 65535, v_ptrdiff_max + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        wheap_heap *h = wheap_heap_create(0, sizes[i], 0);
        if (h) test_fail_at(__FILE__, __LINE__, "heap_create(initial %zu) succeeded", sizes[i]);
        if (h) wheap_heap_destroy(h);
        h = wheap_heap_create(0, 0, sizes[i]);
        if (h) test_fail_at(__FILE__, __LINE__, "heap_create(maximum %zu) succeeded", sizes[i]);
        if (h) wheap_heap_destroy(h);
    }
}

/* ---- virtual memory ------------------------------------------------------ */

/* The reservation is as it was: committed first page with its data, the
 * rest reserved. */
static void expect_unchanged(char *p, size_t size)
{
    wheap_memory_basic_information m;
    require_true(wheap_virtual_query(p, &m, sizeof m) == sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(m.region_size, 4096);
    expect_eq_u64((unsigned char)p[100], 0xA7);
    require_true(wheap_virtual_query(p + 4096, &m, sizeof m) == sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, size - 4096);
}

static void virtual_layer(void)
{
    const size_t G = 65536, size = 4 * G;
    size_t maps = test_map_count();
    for (size_t i = 0; i < NHUGE; i++) {
        size_t n = huge_sizes[i];
        wheap_set_last_error(0);
        void *p = wheap_virtual_alloc(NULL, n, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
        if (p) test_fail_at(__FILE__, __LINE__, "reserve of %zu bytes = %p", n, p);
        expect_error(WHEAP_ERROR_INVALID_PARAMETER);   /* larger than the address space */
        p = wheap_virtual_alloc(NULL, n, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
        if (p) test_fail_at(__FILE__, __LINE__, "reserve+commit of %zu bytes = %p", n, p);
        expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    }
    expect_eq_u64(test_map_count(), maps);   /* nothing mapped by the refusals */

    char *p = wheap_virtual_alloc(NULL, size, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 4096, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE) == p);
    p[100] = (char)0xA7;
    /* Ranges from inside the reservation that run past its end, or wrap. */
    const size_t lens[] = {v_size_max, v_size_max - 4095, v_size_max - (uintptr_t)p + 1,
                           v_size_max - (uintptr_t)p - 4096 + 1, size + 1, (size_t)1 << 47};
    uint32_t old;
    const size_t nlens = sizeof lens / sizeof lens[0];
    for (size_t i = 0; i < nlens + 3; i++) {
        for (size_t off = 0; off < size; off += 4096 * 15) {
            /* The last three end in the top page: the range does not wrap,
             * but rounding its end up to a page does. */
            size_t n = i < nlens ? lens[i]
                                 : v_size_max - (uintptr_t)(p + off) - (i - nlens) * 2000;
            wheap_set_last_error(0);
            void *r = wheap_virtual_alloc(p + off, n, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
            if (r) test_fail_at(__FILE__, __LINE__, "commit(%p, %zu) = %p", (void *)(p + off), n, r);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            wheap_set_last_error(0);
            if (wheap_virtual_free(p + off, n, WHEAP_MEM_DECOMMIT))
                test_fail_at(__FILE__, __LINE__, "decommit(%p, %zu) succeeded", (void *)(p + off), n);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            wheap_set_last_error(0);
            if (wheap_virtual_protect(p + off, n, WHEAP_PAGE_READONLY, &old))
                test_fail_at(__FILE__, __LINE__, "protect(%p, %zu) succeeded", (void *)(p + off), n);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            wheap_set_last_error(0);
            if (wheap_virtual_lock(p + off, n))
                test_fail_at(__FILE__, __LINE__, "lock(%p, %zu) succeeded", (void *)(p + off), n);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            wheap_set_last_error(0);
            r = wheap_virtual_alloc(p + off, n, WHEAP_MEM_RESET, WHEAP_PAGE_READWRITE);
            if (r) test_fail_at(__FILE__, __LINE__, "reset(%p, %zu) = %p", (void *)(p + off), n, r);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            expect_unchanged(p, size);
        }
    }
    /* Fixed addresses at the top of the address space. */
    const struct { uintptr_t at; uint32_t err; } tops[] = {
        {~(uintptr_t)0 - G + 1, WHEAP_ERROR_INVALID_PARAMETER},           /* wraps */
        {~(uintptr_t)0 - 2 * G + 1, WHEAP_ERROR_INVALID_PARAMETER},
        {~(uintptr_t)0 & ~(uintptr_t)(G - 1), WHEAP_ERROR_INVALID_PARAMETER},
        {((uintptr_t)1 << 47) - G, WHEAP_ERROR_INVALID_ADDRESS},          /* past the top */
    };
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        wheap_set_last_error(0);
        void *r = wheap_virtual_alloc((void *)tops[i].at, 2 * G, WHEAP_MEM_RESERVE,
                                      WHEAP_PAGE_READWRITE);
        if (r) test_fail_at(__FILE__, __LINE__, "reserve at %#zx = %p", (size_t)tops[i].at, r);
        expect_error(tops[i].err);
        wheap_memory_basic_information m;
        wheap_set_last_error(0);
        wheap_virtual_query((void *)(tops[i].at + G), &m, sizeof m);   /* no crash, no wrap */
    }
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    expect_eq_u64(test_map_count(), maps);

    /* Write watch takes ranges too (where the kernel supports it). */
    p = wheap_virtual_alloc(NULL, size, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT |
                            WHEAP_MEM_WRITE_WATCH, WHEAP_PAGE_READWRITE);
    if (!p) {
        fprintf(stderr, "note: no write watch here (error %u)\n", wheap_get_last_error());
        return;
    }
    p[100] = 1;
    void *hits[64];
    size_t count = 64;
    uint32_t gran;
    if (wheap_get_write_watch(0, p, size, hits, &count, &gran) == 0) {
        for (size_t k = 0; k < 3; k++) {
            size_t n = v_size_max - (uintptr_t)p - k * 2000;   /* rounding the end wraps */
            count = 64;
            wheap_set_last_error(0);
            expect_eq_u64(wheap_get_write_watch(0, p, n, hits, &count, &gran), ~0u);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
            wheap_set_last_error(0);
            expect_eq_u64(wheap_reset_write_watch(p, n), ~0u);
            expect_error(WHEAP_ERROR_INVALID_PARAMETER);
        }
    } else {
        fprintf(stderr, "note: write watch refused (error %u)\n", wheap_get_last_error());
    }
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
}

int main(void)
{
    fill_huge();
    malloc_layer();
    heap_layer();
    virtual_layer();
    return test_done();
}
