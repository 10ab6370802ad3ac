/*
 * PITFALLS 4: every allocating entry point round-trips with every way of
 * sizing, resizing and releasing a block.  A replacement that misses one name
 * (aligned_alloc, a __libc_* alias, __posix_memalign, ...) lets glibc allocate
 * what the replacement frees, or the reverse; here that shows up as a crash,
 * a wrong malloc_usable_size or lost contents.
 *
 * Blocks come from malloc, calloc, realloc(NULL), reallocarray(NULL),
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc, the glibc
 * __libc_* aliases, __posix_memalign and the wheap_* twins; they are sized
 * with malloc_usable_size (and wheap_malloc_usable_size), grown and shrunk
 * with realloc, reallocarray and their aliases, and released with free, cfree,
 * __libc_free, free_sized, free_aligned_sized, realloc(p, 0) and the twins.
 *
 * Names the process does not have are skipped with a note (glibc 2.36 has
 * no free_sized), except under wheap, which must export them all.  The
 * wheap_* twins mix with the libc names only when wheap is the process
 * allocator; a --disable-malloc-override libwheap keeps them apart, and so
 * does this test.  Under wheap the process heap (API.md layer 2) joins in:
 * wheap_heap_alloc on it pairs with free, malloc with wheap_heap_free.
 */
#include "malloc_test.h"

/* Entry points, resolved at run time (a test must build before libwheap
 * exports the twins, and glibc lacks some names). */
static struct {
    void *(*libc_malloc)(size_t);
    void *(*libc_calloc)(size_t, size_t);
    void *(*libc_realloc)(void *, size_t);
    void *(*libc_reallocarray)(void *, size_t, size_t);
    void *(*libc_memalign)(size_t, size_t);
    void *(*libc_valloc)(size_t);
    void *(*libc_pvalloc)(size_t);
    void (*libc_free)(void *);
    int (*posix_memalign_)(void **, size_t, size_t);
    void (*cfree)(void *);
    void (*free_sized)(void *, size_t);
    void (*free_aligned_sized)(void *, size_t, size_t);

    void *(*w_malloc)(size_t);
    void *(*w_calloc)(size_t, size_t);
    void *(*w_realloc)(void *, size_t);
    void *(*w_reallocarray)(void *, size_t, size_t);
    void (*w_free)(void *);
    void (*w_free_sized)(void *, size_t);
    void (*w_free_aligned_sized)(void *, size_t, size_t);
    void *(*w_aligned_alloc)(size_t, size_t);
    int (*w_posix_memalign)(void **, size_t, size_t);
    void *(*w_memalign)(size_t, size_t);
    void *(*w_valloc)(size_t);
    void *(*w_pvalloc)(size_t);
    size_t (*w_usable)(void *);

    void *(*get_process_heap)(void);
    void *(*heap_alloc)(void *, uint32_t, size_t);
    void *(*heap_realloc)(void *, uint32_t, void *, size_t);
    bool (*heap_free)(void *, uint32_t, void *);
    size_t (*heap_size)(void *, uint32_t, const void *);
} fn;

#define RESOLVE(field, name) (*(void **)&fn.field = mt_sym(name))

static size_t page;

/* ---- allocating entry points ------------------------------------------- */

enum family { LIBC, WHEAP };
enum kind { PLAIN, ALIGNED_ALLOC, OTHER };   /* which sized free applies */

typedef struct entry {
    const char *name;
    enum family family;
    enum kind kind;
    size_t align;                /* promised alignment beyond malloc's */
    bool page_round;             /* usable size covers whole pages */
    void **need;                 /* the function this entry calls */
    void *(*alloc)(size_t n);
} entry;

static void *e_malloc(size_t n) { return malloc(n); }
static void *e_calloc(size_t n) { return calloc(1, n); }
static void *e_calloc_n(size_t n) { return calloc(n, 1); }
static void *e_realloc(size_t n) { return realloc(NULL, n); }
static void *e_reallocarray(size_t n) { return reallocarray(NULL, n, 1); }
static void *e_posix_memalign(size_t n)
{
    void *p = NULL;
    return posix_memalign(&p, 64, n) == 0 ? p : NULL;
}
static void *e_aligned_alloc(size_t n) { return aligned_alloc(256, n); }
static void *e_memalign(size_t n) { return memalign(128, n); }
static void *e_valloc(size_t n) { return valloc(n); }
static void *e_pvalloc(size_t n) { return pvalloc(n); }
static void *e_libc_malloc(size_t n) { return fn.libc_malloc(n); }
static void *e_libc_calloc(size_t n) { return fn.libc_calloc(n, 1); }
static void *e_libc_realloc(size_t n) { return fn.libc_realloc(NULL, n); }
static void *e_libc_reallocarray(size_t n) { return fn.libc_reallocarray(NULL, 1, n); }
static void *e_libc_memalign(size_t n) { return fn.libc_memalign(32, n); }
static void *e_libc_valloc(size_t n) { return fn.libc_valloc(n); }
static void *e_libc_pvalloc(size_t n) { return fn.libc_pvalloc(n); }
static void *e___posix_memalign(size_t n)
{
    void *p = NULL;
    return fn.posix_memalign_(&p, 4096, n) == 0 ? p : NULL;
}
static void *e_w_malloc(size_t n) { return fn.w_malloc(n); }
static void *e_w_calloc(size_t n) { return fn.w_calloc(n, 1); }
static void *e_w_realloc(size_t n) { return fn.w_realloc(NULL, n); }
static void *e_w_reallocarray(size_t n) { return fn.w_reallocarray(NULL, n, 1); }
static void *e_w_aligned_alloc(size_t n) { return fn.w_aligned_alloc(256, n); }
static void *e_w_posix_memalign(size_t n)
{
    void *p = NULL;
    return fn.w_posix_memalign(&p, 512, n) == 0 ? p : NULL;
}
static void *e_w_memalign(size_t n) { return fn.w_memalign(64, n); }
static void *e_w_valloc(size_t n) { return fn.w_valloc(n); }
static void *e_w_pvalloc(size_t n) { return fn.w_pvalloc(n); }
static void *e_heap_alloc(size_t n) { return fn.heap_alloc(fn.get_process_heap(), 0, n); }

static void *always = (void *)1;     /* "needs" for entries that link directly */

static const entry entries[] = {
    {"malloc", LIBC, PLAIN, 0, false, &always, e_malloc},
    {"calloc(1, n)", LIBC, PLAIN, 0, false, &always, e_calloc},
    {"calloc(n, 1)", LIBC, PLAIN, 0, false, &always, e_calloc_n},
    {"realloc(NULL)", LIBC, PLAIN, 0, false, &always, e_realloc},
    {"reallocarray(NULL)", LIBC, PLAIN, 0, false, &always, e_reallocarray},
    {"posix_memalign(64)", LIBC, OTHER, 64, false, &always, e_posix_memalign},
    {"aligned_alloc(256)", LIBC, ALIGNED_ALLOC, 256, false, &always, e_aligned_alloc},
    {"memalign(128)", LIBC, OTHER, 128, false, &always, e_memalign},
    {"valloc", LIBC, OTHER, 1, false, &always, e_valloc},
    {"pvalloc", LIBC, OTHER, 1, true, &always, e_pvalloc},
    {"__libc_malloc", LIBC, PLAIN, 0, false, (void **)&fn.libc_malloc, e_libc_malloc},
    {"__libc_calloc", LIBC, PLAIN, 0, false, (void **)&fn.libc_calloc, e_libc_calloc},
    {"__libc_realloc(NULL)", LIBC, PLAIN, 0, false, (void **)&fn.libc_realloc, e_libc_realloc},
    {"__libc_reallocarray(NULL)", LIBC, PLAIN, 0, false, (void **)&fn.libc_reallocarray,
     e_libc_reallocarray},
    {"__libc_memalign(32)", LIBC, OTHER, 32, false, (void **)&fn.libc_memalign, e_libc_memalign},
    {"__libc_valloc", LIBC, OTHER, 1, false, (void **)&fn.libc_valloc, e_libc_valloc},
    {"__libc_pvalloc", LIBC, OTHER, 1, true, (void **)&fn.libc_pvalloc, e_libc_pvalloc},
    {"__posix_memalign(4096)", LIBC, OTHER, 4096, false, (void **)&fn.posix_memalign_,
     e___posix_memalign},
    {"wheap_malloc", WHEAP, PLAIN, 0, false, (void **)&fn.w_malloc, e_w_malloc},
    {"wheap_calloc", WHEAP, PLAIN, 0, false, (void **)&fn.w_calloc, e_w_calloc},
    {"wheap_realloc(NULL)", WHEAP, PLAIN, 0, false, (void **)&fn.w_realloc, e_w_realloc},
    {"wheap_reallocarray(NULL)", WHEAP, PLAIN, 0, false, (void **)&fn.w_reallocarray,
     e_w_reallocarray},
    {"wheap_aligned_alloc(256)", WHEAP, ALIGNED_ALLOC, 256, false, (void **)&fn.w_aligned_alloc,
     e_w_aligned_alloc},
    {"wheap_posix_memalign(512)", WHEAP, OTHER, 512, false, (void **)&fn.w_posix_memalign,
     e_w_posix_memalign},
    {"wheap_memalign(64)", WHEAP, OTHER, 64, false, (void **)&fn.w_memalign, e_w_memalign},
    {"wheap_valloc", WHEAP, OTHER, 1, false, (void **)&fn.w_valloc, e_w_valloc},
    {"wheap_pvalloc", WHEAP, OTHER, 1, true, (void **)&fn.w_pvalloc, e_w_pvalloc},
    {"wheap_heap_alloc(process heap)", WHEAP, OTHER, 0, false, (void **)&fn.heap_alloc,
     e_heap_alloc},
};
#define NENTRIES (sizeof entries / sizeof entries[0])

/* ---- ways to resize and release ------------------------------------------ */

typedef struct block {
    char *p;
    size_t asked;       /* what the allocating call asked for */
    size_t valid;       /* leading bytes that hold the pattern */
    uint64_t seed;
    const entry *from;
} block;

enum release {
    R_FREE, R_LIBC_FREE, R_CFREE, R_FREE_SIZED, R_FREE_ALIGNED_SIZED, R_REALLOC_GROW,
    R_REALLOC_SHRINK, R_REALLOC_ZERO, R_REALLOCARRAY, R_LIBC_REALLOC,
    R_W_FREE, R_W_FREE_SIZED, R_W_FREE_ALIGNED_SIZED, R_W_REALLOC, R_W_REALLOCARRAY,
    R_HEAP_FREE, R_HEAP_REALLOC, R_COUNT
};
static const char *const release_name[R_COUNT] = {
    "free", "__libc_free", "cfree", "free_sized", "free_aligned_sized", "realloc (grow)",
    "realloc (shrink)", "realloc(p, 0)", "reallocarray", "__libc_realloc", "wheap_free",
    "wheap_free_sized", "wheap_free_aligned_sized", "wheap_realloc", "wheap_reallocarray",
    "wheap_heap_free(process heap)", "wheap_heap_realloc(process heap)",
};
static const enum family release_family[R_COUNT] = {
    LIBC, LIBC, LIBC, LIBC, LIBC, LIBC, LIBC, LIBC, LIBC, LIBC,
    WHEAP, WHEAP, WHEAP, WHEAP, WHEAP, WHEAP, WHEAP,
};

static bool wheap;    /* wheap is the process allocator: one family */

static size_t usable_of(const block *b)
{
    size_t u = b->from->family == LIBC || wheap ? malloc_usable_size(b->p) : fn.w_usable(b->p);
    if (wheap && fn.w_usable) {
        size_t w = fn.w_usable(b->p);
        if (w != u)
            test_fail_at(__FILE__, __LINE__, "%s: malloc_usable_size %zu, wheap_ twin %zu",
                         b->from->name, u, w);
    }
    if (wheap && fn.heap_size) {
        size_t h = fn.heap_size(fn.get_process_heap(), 0, b->p);
        if (h != u)
            test_fail_at(__FILE__, __LINE__, "%s: malloc_usable_size %zu, wheap_heap_size %zu",
                         b->from->name, u, h);
    }
    return u;
}

static void verify(const block *b, const char *when)
{
    if (mt_check(b->p, b->valid, b->seed) != b->valid)
        test_fail_at(__FILE__, __LINE__, "%s block of %zu: contents lost %s", b->from->name,
                     b->asked, when);
}

/* Resizes with a realloc-like function; the pattern must survive. */
static void resized(block *b, char *q, size_t n, const char *how)
{
    if (!q) {
        test_fail_at(__FILE__, __LINE__, "%s of a %s block: NULL", how, b->from->name);
        return;
    }
    b->p = q;
    if (b->valid > n) b->valid = n;
    verify(b, how);
    size_t u = usable_of(b);
    if (u < n) test_fail_at(__FILE__, __LINE__, "%s to %zu: usable %zu", how, n, u);
    b->asked = n;
    b->valid = u;
    mt_fill(b->p, u, b->seed);
}

/* Does release r apply to the block?  (Sized frees need the exact size and
 * the right allocating function; the families stay apart without wheap.) */
static bool applies(enum release r, const block *b)
{
    if (!wheap && release_family[r] != b->from->family) return false;
    switch (r) {
    case R_FREE_SIZED:
    case R_W_FREE_SIZED: return b->from->kind == PLAIN;
    case R_FREE_ALIGNED_SIZED:
    case R_W_FREE_ALIGNED_SIZED: return b->from->kind == ALIGNED_ALLOC;
    default: return true;
    }
}

/* Is the function behind release r present?  (NULL: skipped.) */
static bool have(enum release r)
{
    switch (r) {
    case R_LIBC_FREE: return fn.libc_free;
    case R_CFREE: return fn.cfree;
    case R_FREE_SIZED: return fn.free_sized;
    case R_FREE_ALIGNED_SIZED: return fn.free_aligned_sized;
    case R_LIBC_REALLOC: return fn.libc_realloc;
    case R_W_FREE: return fn.w_free;
    case R_W_FREE_SIZED: return fn.w_free_sized;
    case R_W_FREE_ALIGNED_SIZED: return fn.w_free_aligned_sized;
    case R_W_REALLOC: return fn.w_realloc;
    case R_W_REALLOCARRAY: return fn.w_reallocarray;
    case R_HEAP_FREE: return fn.heap_free && wheap;
    case R_HEAP_REALLOC: return fn.heap_realloc && wheap;
    default: return true;
    }
}

static void release(enum release r, block *b)
{
    size_t grow = b->asked * 2 + 100, shrink = b->asked / 2 + 1;
    void *heap = fn.get_process_heap ? fn.get_process_heap() : NULL;
    switch (r) {
    case R_FREE: free(b->p); return;
    case R_LIBC_FREE: fn.libc_free(b->p); return;
    case R_CFREE: fn.cfree(b->p); return;
    case R_FREE_SIZED: fn.free_sized(b->p, b->asked); return;
    case R_FREE_ALIGNED_SIZED: fn.free_aligned_sized(b->p, b->from->align, b->asked); return;
    case R_W_FREE: fn.w_free(b->p); return;
    case R_W_FREE_SIZED: fn.w_free_sized(b->p, b->asked); return;
    case R_W_FREE_ALIGNED_SIZED: fn.w_free_aligned_sized(b->p, b->from->align, b->asked); return;
    case R_REALLOC_ZERO:
        if (realloc(b->p, 0) != NULL)      /* glibc: frees, returns NULL */
            test_fail_at(__FILE__, __LINE__, "realloc(%s block, 0) did not return NULL",
                         b->from->name);
        return;
    case R_HEAP_FREE:
        if (!fn.heap_free(heap, 0, b->p))
            test_fail_at(__FILE__, __LINE__, "wheap_heap_free(process heap, %s block) failed",
                         b->from->name);
        return;
    case R_REALLOC_GROW: resized(b, realloc(b->p, grow), grow, "realloc"); break;
    case R_REALLOC_SHRINK: resized(b, realloc(b->p, shrink), shrink, "realloc"); break;
    case R_REALLOCARRAY: resized(b, reallocarray(b->p, grow, 1), grow, "reallocarray"); break;
    case R_LIBC_REALLOC: resized(b, fn.libc_realloc(b->p, grow), grow, "__libc_realloc"); break;
    case R_W_REALLOC: resized(b, fn.w_realloc(b->p, grow), grow, "wheap_realloc"); break;
    case R_W_REALLOCARRAY:
        resized(b, fn.w_reallocarray(b->p, 1, shrink), shrink, "wheap_reallocarray");
        break;
    case R_HEAP_REALLOC:
        resized(b, fn.heap_realloc(heap, 0, b->p, grow), grow, "wheap_heap_realloc");
        break;
    default: return;
    }
    /* Resized: the block is still live; free it with its family's free. */
    if (b->p) {
        if (b->from->family == LIBC || wheap) free(b->p);
        else fn.w_free(b->p);
    }
}

static const size_t sizes[] = {0, 1, 13, 16, 100, 255, 1024, 4095, 4097, 20000, 65536,
                               300000, 1048577, 3000000};

static void roundtrip(const entry *e, enum release r, size_t n, uint64_t seed)
{
    block b = {e->alloc(n), n, 0, seed, e};
    if (!b.p) {
        test_fail_at(__FILE__, __LINE__, "%s(%zu) returned NULL", e->name, n);
        return;
    }
    size_t align = e->align > 1 ? e->align : e->align == 1 ? page : 16;
    if (!wheap && e->align == 0 && n < 16) align = 1;   /* tiny classes of peers */
    if ((uintptr_t)b.p & (align - 1))
        test_fail_at(__FILE__, __LINE__, "%s(%zu) = %p, not %zu-aligned", e->name, n, b.p, align);
    size_t need = e->page_round ? (n + page - 1) / page * page : n;
    size_t u = usable_of(&b);
    if (u < need)
        test_fail_at(__FILE__, __LINE__, "%s(%zu): usable size %zu < %zu", e->name, n, u, need);
    if (e->alloc == e_calloc || e->alloc == e_calloc_n || e->alloc == e_libc_calloc ||
        e->alloc == e_w_calloc) {
        if (!mt_all_zero(b.p, n)) test_fail_at(__FILE__, __LINE__, "%s(%zu) not zeroed", e->name, n);
    }
    b.valid = u;
    mt_fill(b.p, u, seed);
    /* The block lives while others come and go. */
    void *other = malloc(n + 1);
    free(other);
    verify(&b, "while others were allocated");
    /* Every flavour of free preserves errno (realloc need not). */
    bool plain_free = r <= R_FREE_ALIGNED_SIZED || (r >= R_W_FREE && r <= R_W_FREE_ALIGNED_SIZED);
    errno = 4242;
    release(r, &b);
    if (plain_free && errno != 4242)
        test_fail_at(__FILE__, __LINE__, "%s after %s: errno %d", release_name[r], e->name, errno);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    wheap = mt_malloc_is_wheap();
    RESOLVE(libc_malloc, "__libc_malloc");
    RESOLVE(libc_calloc, "__libc_calloc");
    RESOLVE(libc_realloc, "__libc_realloc");
    RESOLVE(libc_reallocarray, "__libc_reallocarray");
    RESOLVE(libc_memalign, "__libc_memalign");
    RESOLVE(libc_valloc, "__libc_valloc");
    RESOLVE(libc_pvalloc, "__libc_pvalloc");
    RESOLVE(libc_free, "__libc_free");
    RESOLVE(posix_memalign_, "__posix_memalign");
    RESOLVE(cfree, "cfree");
    RESOLVE(free_sized, "free_sized");
    RESOLVE(free_aligned_sized, "free_aligned_sized");
    RESOLVE(w_malloc, "wheap_malloc");
    RESOLVE(w_calloc, "wheap_calloc");
    RESOLVE(w_realloc, "wheap_realloc");
    RESOLVE(w_reallocarray, "wheap_reallocarray");
    RESOLVE(w_free, "wheap_free");
    RESOLVE(w_free_sized, "wheap_free_sized");
    RESOLVE(w_free_aligned_sized, "wheap_free_aligned_sized");
    RESOLVE(w_aligned_alloc, "wheap_aligned_alloc");
    RESOLVE(w_posix_memalign, "wheap_posix_memalign");
    RESOLVE(w_memalign, "wheap_memalign");
    RESOLVE(w_valloc, "wheap_valloc");
    RESOLVE(w_pvalloc, "wheap_pvalloc");
    RESOLVE(w_usable, "wheap_malloc_usable_size");
    RESOLVE(get_process_heap, "wheap_get_process_heap");
    RESOLVE(heap_alloc, "wheap_heap_alloc");
    RESOLVE(heap_realloc, "wheap_heap_realloc");
    RESOLVE(heap_free, "wheap_heap_free");
    RESOLVE(heap_size, "wheap_heap_size");
    bool twins = fn.w_malloc && fn.w_free && fn.w_realloc && fn.w_usable;
    if (!twins) {      /* the wheap family needs its basics to be tested */
        fn.w_malloc = NULL, fn.w_calloc = NULL, fn.w_realloc = NULL, fn.w_reallocarray = NULL;
        fn.w_free = NULL, fn.w_free_sized = NULL, fn.w_free_aligned_sized = NULL;
        fn.w_aligned_alloc = NULL, fn.w_posix_memalign = NULL, fn.w_memalign = NULL;
        fn.w_valloc = NULL, fn.w_pvalloc = NULL, fn.w_usable = NULL;
    }
    if (!fn.get_process_heap || !wheap) fn.heap_alloc = NULL;
    fprintf(stderr, "allocator: %s; wheap_* twins: %s\n", wheap ? "wheap" : "not wheap",
            twins ? (wheap ? "yes, mixed with the libc names" : "yes, kept apart") : "no");

    int skipped = 0, done = 0;
    for (size_t i = 0; i < NENTRIES; i++) {
        const entry *e = &entries[i];
        if (!*e->need) {
            /* Under wheap nothing may be missing: a missing name mixes
             * allocators (PITFALLS 4). */
            if (wheap) test_fail_at(__FILE__, __LINE__, "wheap is the allocator, %s missing", e->name);
            else fprintf(stderr, "note: no %s here, skipped\n", e->name);
            skipped++;
            continue;
        }
        for (enum release r = 0; r < R_COUNT; r++) {
            if (!applies(r, &(block){.from = e})) continue;
            if (!have(r)) continue;
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                roundtrip(e, r, sizes[k], i * 1000 + r * 50 + k);
                done++;
            }
        }
    }
    for (enum release r = 0; r < R_COUNT; r++) {
        if (have(r)) continue;
        if (wheap && r != R_CFREE)
            test_fail_at(__FILE__, __LINE__, "wheap is the allocator, %s missing", release_name[r]);
        else fprintf(stderr, "note: no %s here, skipped\n", release_name[r]);
    }
    fprintf(stderr, "%d round trips, %d entry points skipped\n", done, skipped);
    return test_done();
}
