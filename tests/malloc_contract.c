/*
 * The malloc contract a program relies on (DESIGN.md "malloc semantics",
 * PITFALLS rows 6 and 15), checked on the process allocator, whatever it is:
 * glibc's return values and errno, unique malloc(0), overflow checks in
 * calloc and reallocarray, zeroed calloc memory even when dirty blocks are
 * reused, realloc(p, 0) freeing and returning NULL, failed reallocs leaving
 * the block intact, free preserving errno, malloc_usable_size honest and
 * stable, and realloc preserving contents.
 */
#include "malloc_test.h"

#include <pthread.h>

/* Sizes held in volatiles so that the compiler cannot fold the calls or warn
 * about requests it can see are impossible. */
static volatile size_t v_ptrdiff_max = PTRDIFF_MAX;
static volatile size_t v_size_max = SIZE_MAX;

static bool is_aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* The alignment every block of n bytes must have: 16 (max_align_t) from 16
 * bytes up, the largest power of two not above n below that (C11 only
 * promises what an object of that size can need; wheap gives 16 always). */
static size_t min_alignment(size_t n, bool wheap)
{
    size_t a = 16;
    if (wheap) return a;
    while (a > 1 && a > n) a >>= 1;
    return a;
}

/* ---- malloc(0) and impossible sizes ------------------------------------ */

static void check_malloc_zero(void)
{
    enum { N = 256 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(0);
        expect_not_null(p[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (p[i] && p[i] == p[j]) test_fail_at(__FILE__, __LINE__, "malloc(0) twice %p", p[i]);
    for (int i = 0; i < N; i++) free(p[i]);
}

static void check_impossible_malloc(void)
{
    const size_t sizes[] = {v_ptrdiff_max, v_ptrdiff_max + 1, v_size_max, v_size_max - 15,
                            v_size_max / 2 + 1, v_size_max - 4095};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        errno = 0;
        void *p = malloc(sizes[i]);
        expect_null(p);
        expect_eq_u64(errno, ENOMEM);
        free(p);
    }
}

/* ---- calloc --------------------------------------------------------------- */

static void check_calloc_overflow(void)
{
    const struct { size_t n, size; } cases[] = {
        {v_size_max / 2 + 1, 2},                /* product wraps to 0 */
        {2, v_size_max / 2 + 1},
        {(size_t)1 << 32, (size_t)1 << 32},     /* wraps to 0 */
        {((size_t)1 << 32) + 1, (size_t)1 << 32},
        {v_size_max, v_size_max},
        {1, v_size_max},
        {v_size_max, 1},
        {v_ptrdiff_max / 16 + 1, 16},           /* no wrap, above PTRDIFF_MAX */
        {1, v_ptrdiff_max + 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        void *p = calloc(cases[i].n, cases[i].size);
        if (p) test_fail_at(__FILE__, __LINE__, "calloc(%zu, %zu) succeeded", cases[i].n,
                            cases[i].size);
        expect_eq_u64(errno, ENOMEM);
        free(p);
    }
    void *a = calloc(0, 16), *b = calloc(16, 0), *c = calloc(0, 0);
    expect_not_null(a);
    expect_not_null(b);
    expect_not_null(c);
    free(a);
    free(b);
    free(c);
}

static void check_calloc_zeroed(bool wheap)
{
    for (size_t i = 0; i < MT_NSIZES; i++) {
        size_t s = mt_sizes[i];
        if (!s) continue;
        /* A dirty block of the same size, freed just before. */
        char *d = malloc(s);
        require_true(d != NULL);
        memset(d, 0xA5, s);
        free(d);
        char *z = calloc(1, s);
        require_true(z != NULL);
        if (!mt_all_zero(z, s)) test_fail_at(__FILE__, __LINE__, "calloc(1, %zu) not zeroed", s);
        expect_true(is_aligned(z, min_alignment(s, wheap)));
        memset(z, 0x5A, s);
        free(z);
        /* The same bytes as n elements. */
        size_t n = s % 3 == 0 ? 3 : 1;
        z = calloc(s / n, n);
        require_true(z != NULL);
        if (!mt_all_zero(z, s / n * n))
            test_fail_at(__FILE__, __LINE__, "calloc(%zu, %zu) not zeroed", s / n, n);
        free(z);

        /* Many dirty blocks freed, then as many calloc'ed: the free lists
         * (and caches of every kind) hand back dirty memory. */
        size_t count = 64;
        if (count * s > ((size_t)32 << 20)) count = ((size_t)32 << 20) / s + 1;
        char *blocks[64];
        for (size_t k = 0; k < count; k++) {
            blocks[k] = malloc(s);
            require_true(blocks[k] != NULL);
            memset(blocks[k], (int)(0x11 + k), s);
        }
        for (size_t k = 0; k < count; k++) free(blocks[k]);
        for (size_t k = 0; k < count; k++) {
            blocks[k] = calloc(s, 1);
            require_true(blocks[k] != NULL);
            if (!mt_all_zero(blocks[k], s))
                test_fail_at(__FILE__, __LINE__, "reused calloc(%zu, 1) #%zu not zeroed", s, k);
            blocks[k][s - 1] = 1;
        }
        for (size_t k = 0; k < count; k++) free(blocks[k]);
    }
}

/* ---- realloc ---------------------------------------------------------- */

static void check_realloc_null_and_zero(void)
{
    for (size_t i = 0; i < MT_NSIZES; i += 7) {
        size_t s = mt_sizes[i];
        char *p = realloc(NULL, s);      /* the same as malloc(s) */
        expect_not_null(p);
        if (!p) continue;
        expect_ge_u64(malloc_usable_size(p), s);
        memset(p, 0x3C, s);
        free(p);
    }
    /* glibc: realloc(p, 0) frees p and returns NULL (PITFALLS 15). */
    for (size_t i = 0; i < MT_NSIZES; i += 5) {
        size_t s = mt_sizes[i];
        char *p = malloc(s);
        require_true(p != NULL);
        memset(p, 1, s);
        void *q = realloc(p, 0);
        if (q) {
            test_fail_at(__FILE__, __LINE__, "realloc(malloc(%zu), 0) returned %p, not NULL", s, q);
            free(q);
        }
    }
}

static void check_realloc_huge(void)
{
    const size_t huge[] = {v_ptrdiff_max, v_ptrdiff_max + 1, v_size_max, v_size_max - 15,
                           v_size_max - 65535};
    const size_t start[] = {1, 100, 5000, 300000, 3 << 20};
    for (size_t i = 0; i < sizeof start / sizeof start[0]; i++) {
        char *p = malloc(start[i]);
        require_true(p != NULL);
        mt_fill(p, start[i], i);
        for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
            errno = 0;
            void *q = realloc(p, huge[k]);
            if (q) {
                test_fail_at(__FILE__, __LINE__, "realloc(%zu -> %zu) succeeded", start[i], huge[k]);
                p = q;
                continue;
            }
            expect_eq_u64(errno, ENOMEM);
            expect_eq_u64(mt_check(p, start[i], i), start[i]);
        }
        /* p still belongs to its owner: it can grow, and be freed. */
        p = realloc(p, start[i] * 2);
        require_true(p != NULL);
        expect_eq_u64(mt_check(p, start[i], i), start[i]);
        free(p);
    }
}

static void check_reallocarray(void)
{
    char *p = malloc(64);
    require_true(p != NULL);
    mt_fill(p, 64, 77);
    const struct { size_t n, size; } over[] = {
        {v_size_max / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32}, {3, v_size_max / 3 + 1},
        {v_size_max, v_size_max}, {v_ptrdiff_max / 8 + 1, 8},
    };
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        errno = 0;
        void *q = reallocarray(p, over[i].n, over[i].size);
        if (q) {
            test_fail_at(__FILE__, __LINE__, "reallocarray(%zu, %zu) succeeded", over[i].n,
                         over[i].size);
            p = q;
            continue;
        }
        expect_eq_u64(errno, ENOMEM);
        expect_eq_u64(mt_check(p, 64, 77), 64);
        errno = 0;
        q = reallocarray(NULL, over[i].n, over[i].size);
        expect_null(q);
        expect_eq_u64(errno, ENOMEM);
    }
    p = reallocarray(p, 1000, 10);
    require_true(p != NULL);
    expect_eq_u64(mt_check(p, 64, 77), 64);
    expect_ge_u64(malloc_usable_size(p), 10000);
    memset(p, 0, 10000);
    free(p);
    p = reallocarray(NULL, 25, 4);
    expect_not_null(p);
    free(p);
}

/* Grows and shrinks blocks through many sizes; the common prefix survives. */
static void check_realloc_contents(void)
{
    char *p = NULL;
    size_t n = 0;
    /* One byte at a time through the small size classes. */
    for (size_t s = 1; s <= 1100; s++) {
        char *q = realloc(p, s);
        require_true(q != NULL);
        if (n && mt_check(q, n, 1) != n)
            test_fail_at(__FILE__, __LINE__, "realloc %zu -> %zu lost contents", n, s);
        mt_fill(q, s, 1);
        p = q;
        n = s;
    }
    /* Geometric growth to 32 MiB, then back down. */
    mt_fill(p, n, 2);
    for (double s = 1100; s < 32e6; s *= 1.37) {
        size_t m = (size_t)s;
        char *q = realloc(p, m);
        require_true(q != NULL);
        if (mt_check(q, n, 2) != n)
            test_fail_at(__FILE__, __LINE__, "realloc %zu -> %zu lost contents", n, m);
        mt_fill(q, m, 2);
        p = q;
        n = m;
    }
    while (n > 1) {
        size_t m = n / 3 + 1;
        char *q = realloc(p, m);
        require_true(q != NULL);
        if (mt_check(q, m, 2) != m)
            test_fail_at(__FILE__, __LINE__, "realloc %zu -> %zu lost contents", n, m);
        mt_fill(q, m, 2);
        p = q;
        n = m;
    }
    free(p);

    /* Many live blocks resized at random, interleaved, so that growing in
     * place next to a neighbour is exercised; every block verified at the
     * end. */
    enum { LIVE = 48, ROUNDS = 3000 };
    char *blk[LIVE] = {0};
    size_t len[LIVE] = {0}, seed[LIVE] = {0};
    uint64_t rng = 0x1234567;
    for (int r = 0; r < ROUNDS; r++) {
        int i = (int)(mt_rand(&rng) % LIVE);
        unsigned shift = (unsigned)(mt_rand(&rng) % 22);
        size_t m = (size_t)(mt_rand(&rng) % (((size_t)1 << shift) + 1)) + 1;
        if (blk[i] && mt_check(blk[i], len[i], seed[i]) != len[i])
            test_fail_at(__FILE__, __LINE__, "block %d (%zu bytes) damaged", i, len[i]);
        char *q = realloc(blk[i], m);
        require_true(q != NULL);
        size_t keep = len[i] < m ? len[i] : m;
        if (mt_check(q, keep, seed[i]) != keep)
            test_fail_at(__FILE__, __LINE__, "realloc %zu -> %zu lost contents", len[i], m);
        blk[i] = q;
        len[i] = m;
        seed[i] = (size_t)r * 7919 + 1;
        mt_fill(q, m, seed[i]);
    }
    for (int i = 0; i < LIVE; i++) {
        if (blk[i] && mt_check(blk[i], len[i], seed[i]) != len[i])
            test_fail_at(__FILE__, __LINE__, "block %d (%zu bytes) damaged", i, len[i]);
        free(blk[i]);
    }
}

/* ---- free and errno ------------------------------------------------------ */

static void *free_in_thread(void *arg)
{
    void **blocks = arg;
    int bad = 0;
    for (int i = 0; blocks[i]; i++) {
        errno = 1234;
        free(blocks[i]);
        bad += errno != 1234;
    }
    return (void *)(intptr_t)bad;
}

static void check_free_errno(void)
{
    errno = 1234;
    free(NULL);
    expect_eq_u64(errno, 1234);

    const size_t extra[] = {(size_t)16 << 20, (size_t)64 << 20, (size_t)100 << 20};
    for (size_t i = 0; i < MT_NSIZES + 3; i++) {
        size_t s = i < MT_NSIZES ? mt_sizes[i] : extra[i - MT_NSIZES];
        char *p = malloc(s);
        require_true(p != NULL);
        memset(p, 0x77, s);      /* committed, so that free has pages to return */
        errno = 1234;
        free(p);
        if (errno != 1234) test_fail_at(__FILE__, __LINE__, "free(%zu bytes) set errno %d", s, errno);
        errno = ENOMEM;
        free(malloc(s));
        if (errno != ENOMEM)
            test_fail_at(__FILE__, __LINE__, "free(%zu bytes) set errno %d", s, errno);
    }

    /* A long run of frees (purging, returning segments) and frees from a
     * thread that did not allocate the blocks. */
    enum { N = 4000 };
    static void *blocks[N + 1];
    uint64_t rng = 99;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            size_t s = (size_t)(mt_rand(&rng) % (i % 100 == 0 ? (2u << 20) : 4096)) + 1;
            blocks[i] = malloc(s);
            require_true(blocks[i] != NULL);
            memset(blocks[i], 1, s);
        }
        blocks[N] = NULL;
        if (round == 0) {
            for (int i = 0; i < N; i++) {
                errno = 1234;
                free(blocks[i]);
                if (errno != 1234) {
                    test_fail_at(__FILE__, __LINE__, "free #%d set errno %d", i, errno);
                    break;
                }
            }
        } else {
            pthread_t t;
            void *bad = NULL;
            require_true(pthread_create(&t, NULL, free_in_thread, blocks) == 0);
            pthread_join(t, &bad);
            expect_eq_u64((uintptr_t)bad, 0);
        }
    }
    errno = 1234;
    malloc_trim(0);
    free(NULL);
    expect_eq_u64(errno, 1234);
}

/* ---- malloc_usable_size (PITFALLS 6) ------------------------------------- */

static void check_usable_size(bool wheap)
{
    expect_eq_u64(malloc_usable_size(NULL), 0);

    static char *blk[MT_NSIZES];
    static size_t usable[MT_NSIZES];
    for (size_t i = 0; i < MT_NSIZES; i++) {
        size_t s = mt_sizes[i];
        blk[i] = malloc(s);
        require_true(blk[i] != NULL);
        expect_true(is_aligned(blk[i], min_alignment(s, wheap)));
        usable[i] = malloc_usable_size(blk[i]);
        if (usable[i] < s)
            test_fail_at(__FILE__, __LINE__, "usable size %zu < %zu asked", usable[i], s);
        /* Programs write into the slack it reports: all of it must be ours. */
        mt_fill(blk[i], usable[i], i + 1000);
    }
    /* Other blocks come and go; nothing above changes. */
    for (size_t i = 0; i < MT_NSIZES; i++) {
        void *t = malloc(mt_sizes[i]);
        void *c = calloc(1, mt_sizes[i] + 1);
        free(t);
        free(c);
    }
    for (size_t i = 0; i < MT_NSIZES; i++) {
        expect_eq_u64(malloc_usable_size(blk[i]), usable[i]);
        if (mt_check(blk[i], usable[i], i + 1000) != usable[i])
            test_fail_at(__FILE__, __LINE__, "block of %zu (usable %zu) damaged", mt_sizes[i],
                         usable[i]);
    }
    /* Until realloc: a resized block reports at least its new size. */
    for (size_t i = 0; i < MT_NSIZES; i++) {
        size_t s = mt_sizes[i] * 2 + 3;
        char *q = realloc(blk[i], s);
        require_true(q != NULL);
        expect_ge_u64(malloc_usable_size(q), s);
        /* What was written into the slack moves with the block (programs
         * that treat the usable size as their capacity rely on it). */
        size_t keep = usable[i] < s ? usable[i] : s;
        expect_eq_u64(mt_check(q, keep, i + 1000), keep);
        memset(q, 0x42, malloc_usable_size(q));
        free(q);
    }

    /* Every other allocating function tells the truth too. */
    for (size_t i = 1; i < MT_NSIZES; i += 3) {
        size_t s = mt_sizes[i];
        char *c = calloc(s, 1);
        char *a = memalign(64, s);
        char *b = aligned_alloc(4096, s);
        char *v = valloc(s);
        void *pm = NULL;
        int rc = posix_memalign(&pm, 256, s);
        if (rc) test_fail_at(__FILE__, __LINE__, "posix_memalign(256, %zu): %s", s, strerror(rc));
        char *all[] = {c, a, b, v, pm};
        static const char *const names[] = {"calloc(n, 1)", "memalign(64)", "aligned_alloc(4096)",
                                            "valloc", "posix_memalign(256)"};
        for (size_t k = 0; k < 5; k++) {
            if (!all[k]) {
                test_fail_at(__FILE__, __LINE__, "%s of %zu bytes: NULL (errno %d)", names[k], s, errno);
                continue;
            }
            size_t u = malloc_usable_size(all[k]);
            if (u < s) test_fail_at(__FILE__, __LINE__, "%s(%zu): usable %zu", names[k], s, u);
            memset(all[k], 0x99, u);
            expect_eq_u64(malloc_usable_size(all[k]), u);
            free(all[k]);
        }
    }
}

int main(void)
{
    bool wheap = mt_malloc_is_wheap();
    fprintf(stderr, "allocator: %s\n", wheap ? "wheap" : "not wheap (glibc or a preloaded peer)");
    double t0 = mt_now();
    check_malloc_zero();
    check_impossible_malloc();
    check_calloc_overflow();
    check_calloc_zeroed(wheap);
    check_realloc_null_and_zero();
    check_realloc_huge();
    check_reallocarray();
    check_realloc_contents();
    check_free_errno();
    check_usable_size(wheap);
    fprintf(stderr, "%.2f s\n", mt_now() - t0);
    return test_done();
}
