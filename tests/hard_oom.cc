/*
 * Out of memory in the malloc layer (issue 15), under RLIMIT_AS set in a
 * child (nothing else on the machine is touched):
 *
 *   one huge request  every entry point (malloc, calloc, realloc,
 *                     reallocarray, posix_memalign, aligned_alloc, memalign,
 *                     valloc, pvalloc, the wheap_* twins, C++ new in its
 *                     plain, array, aligned and nothrow forms) asked for more
 *                     than the limit leaves: NULL with errno ENOMEM
 *                     (posix_memalign returns ENOMEM), std::bad_alloc, or
 *                     nullptr; a failed realloc leaves the block intact.
 *   exhaustion        many small blocks until malloc fails; then each entry
 *                     point in turn until it fails the same way; the blocks
 *                     handed out keep their contents; after frees the process
 *                     keeps working and reuses the memory; after freeing
 *                     everything, a large block fits again.
 *
 * Strict overcommit (vm.overcommit_memory=2) needs root and is global: it is
 * never changed here; RLIMIT_AS refuses mappings at the same place (mmap
 * returns ENOMEM), which is the path these checks exercise.
 *
 * wheap-only expectations skip under another allocator.
 */
#include "malloc_test.h"

#include <new>
#include <sys/resource.h>

static volatile size_t v_huge;   /* set at run time: the compiler sees nothing */
/* Failed reallocs leave the block in use: GCC cannot know they failed. */
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static void *(*volatile do_reallocarray)(void *, size_t, size_t) = reallocarray;

static void limit_address_space(size_t headroom)
{
    uint64_t now = test_proc_status("VmSize");
    struct rlimit rl = {(rlim_t)(now + headroom), (rlim_t)(now + headroom)};
    require_true(setrlimit(RLIMIT_AS, &rl) == 0);
}

/* C++ new in every form fails as the standard says. */
static void check_new_fails(size_t n)
{
    bool thrown = false;
    try {
        void *p = ::operator new(n);
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    expect_true(thrown);
    thrown = false;
    try {
        char *volatile a = new char[n];
        delete[] a;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    expect_true(thrown);
    thrown = false;
    try {
        void *p = ::operator new(n, std::align_val_t(4096));
        ::operator delete(p, std::align_val_t(4096));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    expect_true(thrown);
    expect_null(::operator new(n, std::nothrow));
    expect_null(::operator new[](n, std::nothrow));
    expect_null(::operator new(n, std::align_val_t(64), std::nothrow));
}

#define EXPECT_ENOMEM(call) \
    do { \
        errno = 0; \
        void *r_ = (call); \
        if (r_) test_fail_at(__FILE__, __LINE__, "%s succeeded", #call); \
        expect_eq_u64(errno, ENOMEM); \
        free(r_); \
    } while (0)

/* ---- one request larger than what is left ------------------------------ */

static void huge_request(void *arg)
{
    (void)arg;
    test_failures = 0;
    char *keep[64];
    for (int i = 0; i < 64; i++) {
        keep[i] = static_cast<char *>(malloc((size_t)i * 97 + (i % 16 == 0 ? 500000 : 1)));
        require_true(keep[i] != NULL);
        mt_fill(keep[i], (size_t)i * 97 + (i % 16 == 0 ? 500000 : 1), (uint64_t)i);
    }
    limit_address_space(64u << 20);
    size_t n = v_huge;
    EXPECT_ENOMEM(malloc(n));
    EXPECT_ENOMEM(calloc(1, n));
    EXPECT_ENOMEM(calloc(n / 8, 8));
    EXPECT_ENOMEM(memalign(4096, n));
    EXPECT_ENOMEM(aligned_alloc(65536, n));
    EXPECT_ENOMEM(valloc(n));
    EXPECT_ENOMEM(pvalloc(n));
    EXPECT_ENOMEM(realloc(NULL, n));
    EXPECT_ENOMEM(reallocarray(NULL, n / 16, 16));
    EXPECT_ENOMEM(wheap_malloc(n));
    EXPECT_ENOMEM(wheap_calloc(n, 1));
    EXPECT_ENOMEM(wheap_memalign(2u << 20, n));
    void *out = &out;
    expect_eq_u64(posix_memalign(&out, 64, n), ENOMEM);
    expect_eq_u64(wheap_posix_memalign(&out, 4096, n), ENOMEM);
    check_new_fails(n);
    /* A failed realloc leaves each block whole and in place. */
    for (int i = 0; i < 64; i += 5) {
        size_t len = (size_t)i * 97 + (i % 16 == 0 ? 500000 : 1);
        errno = 0;
        void *q = do_realloc(keep[i], n);
        expect_null(q);
        expect_eq_u64(errno, ENOMEM);
        errno = 0;
        q = do_reallocarray(keep[i], n / 4, 4);
        expect_null(q);
        expect_eq_u64(errno, ENOMEM);
        expect_eq_u64(mt_check(keep[i], len, (uint64_t)i), len);
        expect_ge_u64(malloc_usable_size(keep[i]), len);
    }
    /* And the process goes on within its limit. */
    for (int i = 0; i < 64; i++) {
        size_t len = (size_t)i * 97 + (i % 16 == 0 ? 500000 : 1);
        expect_eq_u64(mt_check(keep[i], len, (uint64_t)i), len);
        keep[i] = static_cast<char *>(realloc(keep[i], len + 1000));
        require_true(keep[i] != NULL);
        expect_eq_u64(mt_check(keep[i], len, (uint64_t)i), len);
        free(keep[i]);
    }
    void *big = malloc(16u << 20);
    expect_not_null(big);
    if (big) memset(big, 1, 16u << 20);
    free(big);
    _exit(test_done());
}

/* ---- exhaustion by many small blocks ------------------------------------ */

struct block {
    char *p;
    size_t n;
};
enum { MAX_BLOCKS = 1 << 20 };
static block *blocks;
static size_t nblocks;

static void add(void *p, size_t n)
{
    require_true(nblocks < MAX_BLOCKS);
    blocks[nblocks].p = static_cast<char *>(p);
    blocks[nblocks].n = n;
    mt_fill(p, n, (uint64_t)nblocks);
    nblocks++;
}

static size_t damaged(void)
{
    size_t bad = 0;
    for (size_t i = 0; i < nblocks; i++)
        if (blocks[i].p && mt_check(blocks[i].p, blocks[i].n, (uint64_t)i) != blocks[i].n) bad++;
    return bad;
}

typedef void *(*alloc_fn)(size_t);
static void *by_malloc(size_t n) { return malloc(n); }
static void *by_calloc(size_t n) { return calloc(n / 4, 4); }
static void *by_realloc(size_t n) { return realloc(NULL, n); }
static void *by_memalign(size_t n) { return memalign(64, n); }
static void *by_aligned_alloc(size_t n) { return aligned_alloc(256, n); }
static void *by_posix_memalign(size_t n)
{
    void *p = NULL;
    int e = posix_memalign(&p, 32, n);
    if (e) errno = e;   /* the return value is the error; errno made comparable */
    return e ? NULL : p;
}
static void *by_new_nothrow(size_t n)
{
    void *p = ::operator new(n, std::nothrow);
    if (!p) errno = ENOMEM;   /* new says nothing in errno: only nullptr counts */
    return p;
}

static void exhaustion(void *arg)
{
    (void)arg;
    test_failures = 0;
    blocks = static_cast<block *>(calloc(MAX_BLOCKS, sizeof *blocks));
    require_true(blocks != NULL);
    limit_address_space(96u << 20);

    /* Small blocks until the first failure. */
    uint64_t rng = 3;
    for (;;) {
        size_t n = 200 + (size_t)(mt_rand(&rng) % 1800);
        errno = 0;
        void *p = malloc(n);
        if (!p) {
            expect_eq_u64(errno, ENOMEM);
            break;
        }
        add(p, n);
    }
    size_t first_fail = nblocks;
    fprintf(stderr, "exhausted after %zu blocks (VmSize %llu MiB)\n", first_fail,
            (unsigned long long)(test_proc_status("VmSize") >> 20));
    expect_gt_u64(first_fail, 1000);

    /* Every entry point, in turn, until it fails with ENOMEM too. */
    struct { const char *name; alloc_fn fn; } fns[] = {
        {"malloc", by_malloc}, {"calloc", by_calloc}, {"realloc(NULL)", by_realloc},
        {"memalign", by_memalign}, {"aligned_alloc", by_aligned_alloc},
        {"posix_memalign", by_posix_memalign}, {"new(nothrow)", by_new_nothrow},
        {"wheap_malloc", wheap_malloc},
    };
    for (auto &f : fns) {
        bool failed = false;
        for (int i = 0; i < 200000 && !failed; i++) {
            size_t n = 512 + (size_t)(mt_rand(&rng) % 1500);
            errno = 0;
            void *p = f.fn(n);
            if (p) add(p, n);
            else {
                failed = true;
                if (errno != ENOMEM)
                    test_fail_at(__FILE__, __LINE__, "%s: errno %d, not ENOMEM", f.name, errno);
            }
        }
        if (!failed) test_fail_at(__FILE__, __LINE__, "%s never failed", f.name);
    }
    bool thrown = false;
    try {
        for (int i = 0; i < 200000; i++) add(::operator new(1000), 1000);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    expect_true(thrown);
    /* A block cannot grow; it stays as it was. */
    for (size_t i = 0; i < nblocks; i += nblocks / 16 + 1) {
        errno = 0;
        void *q = do_realloc(blocks[i].p, 8u << 20);
        expect_null(q);
        expect_eq_u64(errno, ENOMEM);
        free(q);
    }
    expect_eq_u64(damaged(), 0);

    /* Frees make room again, and the room is used. */
    for (size_t i = 0; i < nblocks; i += 2) {
        free(blocks[i].p);
        blocks[i].p = NULL;
    }
    /* The same sizes again: the freed slots take them. */
    size_t reused = 0, tried = 0;
    for (size_t i = 0; i < nblocks; i += 2) {
        tried++;
        void *p = malloc(blocks[i].n);
        if (!p) continue;
        blocks[i].p = static_cast<char *>(p);
        mt_fill(p, blocks[i].n, (uint64_t)i);
        reused++;
    }
    fprintf(stderr, "after freeing half: %zu of %zu blocks allocated again\n", reused, tried);
    expect_ge_u64(reused * 10, tried * 9);
    expect_eq_u64(damaged(), 0);
    expect_true(wheap_heap_validate(wheap_get_process_heap(), 0, NULL));

    /* Everything back: a block of 16 MiB (its own mapping) fits again. */
    for (size_t i = 0; i < nblocks; i++) free(blocks[i].p);
    nblocks = 0;
    wheap_malloc_trim(0);
    char *big = static_cast<char *>(malloc(16u << 20));
    expect_not_null(big);
    if (big) {
        mt_fill(big, 16u << 20, 9);
        expect_eq_u64(mt_check(big, 16u << 20, 9), 16u << 20);
    }
    free(big);
    for (int i = 0; i < 10000; i++) {
        void *p = malloc(1000);
        require_true(p != NULL);
        free(p);
    }
    _exit(test_done());
}

int main(void)
{
    if (!mt_malloc_is_wheap()) test_skip("malloc is not wheap's");
    v_huge = (size_t)1 << 33;   /* 8 GiB: far above any limit set below */
    expect_child_exit(test_in_child(huge_request, NULL), 0);
    expect_child_exit(test_in_child(exhaustion, NULL), 0);
    return test_done();
}
