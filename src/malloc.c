/*
 * Layer 3: the malloc family over private heaps.
 *
 * Every thread is bound to an arena, an unserialized private heap of its
 * own (arena.c, heap_page.c).  The call tree:
 *
 *   malloc ── wh_arena_get (TLS load) ── wh_heap_arena_alloc (inline pop)
 *      └─ malloc_slow: first call in a thread (wh_arena_bind), a page
 *         refill (wh_heap_alloc_slow), exhaustion (ENOMEM), a guarded
 *         block due (the arena's guard_countdown fell to 0: guard.c)
 *   free ── wh_heap_block_free (inline: owner push, or remote push)
 *      ├─ free_slow: a block the heaps call foreign may be guarded (guard.c)
 *      └─ bad_pointer: one line naming wheap, then abort
 *
 * In the shared mode (arena_max, M_PERTURB: arena.c) a thread has no arena
 * of its own: its mallocs always take malloc_slow and its frees free_slow,
 * which is where M_PERTURB fills blocks, so that neither costs the default
 * mode's fast paths anything.
 *
 * The wheap_* names are always exported.  The libc names, their __libc_*
 * aliases and the C++ operators (new.cc) are exported unless configured
 * with --disable-malloc-override.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* glibc never hands out blocks larger than PTRDIFF_MAX. */
#define MAX_REQUEST ((size_t)PTRDIFF_MAX)
#define MALLOC_ALIGN ((size_t)16)

/* ------------------------------------------------------------------------
 * Diagnostics
 * ---------------------------------------------------------------------- */

WH_COLD static void bad_pointer(const char *call, const void *p, int why)
{
    const char *what = why == WH_BAD_DOUBLE_FREE ? "double free or already freed pointer"
                     : why == WH_BAD_INTERIOR    ? "pointer into the middle of a block"
                     : why == WH_BAD_CORRUPT     ? "block metadata damaged"
                                                 : "pointer not allocated by wheap";
    if (wh_options_get()->abort_on_misuse)
        wh_fatal("%s(): %s: %p", call, what, p);
    wh_message("%s(): %s: %p (ignored: abort_on_misuse=0)", call, what, p);
}

/* M_PERTURB: the byte | 0x100 while set, else 0 (mallopt sets it).  Read
 * on slow paths only: one load. */
static unsigned perturb_state;

static inline unsigned perturb_byte(void)
{
    return __atomic_load_n(&perturb_state, __ATOMIC_RELAXED);
}

/* A fresh block of size bytes gets the complement of the byte (not calloc's). */
WH_COLD static void perturb_fill(void *p, size_t size, unsigned b)
{
    if (p) memset(p, (int)(~b & 0xFF), size);
}

static inline void perturb_alloc(void *p, size_t size)
{
    unsigned b = perturb_byte();
    if (wh_unlikely(b != 0)) perturb_fill(p, size, b);
}

/* A block about to be freed gets the byte (p: any pointer; nothing happens
 * unless it is a live block). */
WH_COLD static void perturb_free(void *p, unsigned b)
{
    size_t usable = wh_heap_block_usable_size(p);
    if (usable) memset(p, (int)(b & 0xFF), usable);
}

/* ------------------------------------------------------------------------
 * Allocation
 * ---------------------------------------------------------------------- */

/* Guard modes: is a guarded block due?  The inline path counts an own
 * arena's small allocations down (one decrement in memory); the others
 * count here (count).  A thread without an arena of its own (before its
 * first allocation, or in the shared mode) counts in TLS.  Off mode draws
 * 2^64-1, so it never comes back in practice. */
static __thread uint64_t tl_guard_countdown __attribute__((tls_model("initial-exec")));

WH_INLINE bool guard_due(uint64_t *countdown, bool count)
{
    if (count && *countdown) --*countdown;    /* 0: a fresh TLS counter, due */
    return *countdown == 0;
}

/* A guarded block was due (*countdown fell to 0): draw the next countdown
 * and ask the guard pool; the heap when it says no. */
WH_COLD static void *malloc_guarded(uint64_t *countdown, wh_heap *h, size_t size)
{
    *countdown = wh_guard_countdown();
    void *g = *countdown != UINT64_MAX ? wh_guard_alloc(size, MALLOC_ALIGN) : NULL;
    if (g) return g;
    return h ? wh_arena_alloc(h, size) : NULL;
}

/* A thread without an arena of its own: its first allocation, or every
 * allocation in the shared mode (M_PERTURB applies there). */
WH_NOINLINE static void *malloc_unbound(size_t size)
{
    wh_heap *h = wh_arena_bind();
    void *p = guard_due(&tl_guard_countdown, true) ? malloc_guarded(&tl_guard_countdown, h, size)
            : h                                   ? wh_arena_alloc(h, size)
                                                  : NULL;
    perturb_alloc(p, size);
    return p;
}

WH_NOINLINE static void *malloc_slow(size_t size)
{
    if (size > MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    wh_heap *h = wh_arena_get();
    void *p;
    if (wh_likely(h != NULL)) {
        /* The inline path counted small sizes down; the others count here. */
        bool due = size > WH_DIRECT_MAX ? --h->guard_countdown == 0 : h->guard_countdown == 0;
        p = wh_unlikely(due) ? malloc_guarded(&h->guard_countdown, h, size)
                             : wh_heap_arena_alloc(h, size);
    } else {
        p = malloc_unbound(size);
    }
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    /* With background_purge=1, the purger thread starts here: outside any
     * heap lock, from a thread that is bound (pthread_create allocates). */
    if (wh_unlikely(wh_options_get()->background_purge)) wh_heap_background_start();
    /* With live=1, the publisher of `wheap top`'s page, the same way. */
    if (wh_unlikely(wh_options_get()->live)) wh_live_start();
    return p;
}

/* The fast path: a TLS load, the guard countdown, a table load and a list
 * pop; everything else (first call in a thread, a guarded block due, an
 * empty list, a damaged link, big sizes) is a tail call to malloc_slow. */
WH_INLINE void *malloc_inline(size_t size)
{
    wh_heap *h = wh_arena_get();
    if (wh_likely(h != NULL && size <= WH_DIRECT_MAX && --h->guard_countdown != 0)) {
        wh_page *pg = h->direct[(size + 15) >> 4];
        wh_block *b = pg->free;
        if (wh_likely(b != NULL)) {
            void *p = wh_page_pop(pg, b);
            if (wh_likely(p != NULL)) return p;
        }
    }
    return malloc_slow(size);
}

void *wheap_malloc(size_t size)
{
    return malloc_inline(size);
}

void *wheap_calloc(size_t n, size_t size)
{
    size_t total;
    if (wh_unlikely(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc_inline(total);
    /* Fresh pages from the OS are already zero; the heap tells us when it
     * handed out such a block so large callocs skip the memset (small ones
     * are cheaper to clear than to ask about). */
    if (p && (total <= WH_DIRECT_MAX || perturb_byte() || !wh_heap_block_is_fresh(p, total)))
        memset(p, 0, total);
    return p;
}

/* glibc 2.36 memalign: alignment up to 16 is plain malloc; a non-power of
 * two is rounded up to the next power of two; over SIZE_MAX/2+1, EINVAL. */
static void *memalign_glibc(size_t alignment, size_t size)
{
    if (alignment <= MALLOC_ALIGN) return malloc_inline(size);
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!wh_is_pow2(alignment)) {
        size_t a = MALLOC_ALIGN * 2;
        while (a < alignment) a <<= 1;
        alignment = a;
    }
    if (size > MAX_REQUEST || size > SIZE_MAX - alignment - 64) {
        errno = ENOMEM;
        return NULL;
    }
    wh_heap *h = wh_arena_current();
    uint64_t *cd = h && !(h->flags & WH_HF_SHARED) ? &h->guard_countdown : &tl_guard_countdown;
    if (wh_unlikely(h && guard_due(cd, true))) {
        *cd = wh_guard_countdown();
        void *g = *cd != UINT64_MAX ? wh_guard_alloc(size, alignment) : NULL;
        if (g) return g;
    }
    void *p = !h                          ? NULL
              : (h->flags & WH_HF_SHARED) ? wh_arena_shared_alloc(h, size, alignment)
                                          : wh_heap_arena_alloc_aligned(h, alignment, size);
    if (!p) errno = ENOMEM;
    perturb_alloc(p, size);
    return p;
}

void *wheap_memalign(size_t alignment, size_t size)
{
    return memalign_glibc(alignment, size);
}

void *wheap_aligned_alloc(size_t alignment, size_t size)
{
    return memalign_glibc(alignment, size);
}

int wheap_posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment % sizeof(void *) != 0 || !wh_is_pow2(alignment / sizeof(void *)))
        return EINVAL;
    int saved = errno;
    void *p = memalign_glibc(alignment, size);
    if (!p) {
        int e = errno;
        errno = saved;
        return e ? e : ENOMEM;
    }
    *out = p;
    return 0;
}

void *wheap_valloc(size_t size)
{
    return memalign_glibc(wh_os_page_size(), size);
}

void *wheap_pvalloc(size_t size)
{
    size_t page = wh_os_page_size();
    if (size > SIZE_MAX - 2 * page - 64) {
        errno = ENOMEM;
        return NULL;
    }
    return memalign_glibc(page, wh_align_up(size, page));
}

/* ------------------------------------------------------------------------
 * Free and realloc
 * ---------------------------------------------------------------------- */

/* Not a live heap block: a guarded one (guard.c) is claimed before any
 * diagnosis, and a bad pointer in guarded memory is judged there. */
WH_COLD static void free_not_heap(const char *call, void *p, int why)
{
    if (wh_guard_active) {
        int g = wh_guard_free(p, call);
        if (g >= 0) why = g;
    }
    if (why != 0) bad_pointer(call, p, why);
}

/* Everything but the owner's free of a live block: NULL, remote frees
 * (pg: the page), public heaps' blocks and bad pointers (WH_FREE_SLOW). */
WH_NOINLINE static void free_slow(void *p, wh_page *pg, const char *call)
{
    if (p == NULL) return;
    int why;
    if (pg != WH_FREE_SLOW) {
        why = wh_heap_free_remote(pg, p);
    } else {
        /* Shared arenas' blocks come here (M_PERTURB's frees). */
        unsigned pb = perturb_byte();
        if (wh_unlikely(pb != 0)) perturb_free(p, pb);
        why = wh_heap_block_free_slow(p);
    }
    if (wh_unlikely(why != 0)) free_not_heap(call, p, why);
}

/* The fast path ends in a return or a tail call: no register to save. */
WH_INLINE void free_inline(void *p, const char *call)
{
    wh_page *pg = wh_heap_block_try_free(p);
    if (wh_likely(pg == NULL)) return;
    free_slow(p, pg, call);
}

void wheap_free(void *p)
{
    free_inline(p, "free");
}

void wheap_free_sized(void *p, size_t size)
{
    (void)size;
    free_inline(p, "free_sized");
}

void wheap_free_aligned_sized(void *p, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    free_inline(p, "free_aligned_sized");
}

/* realloc of a block the heaps do not know (a guarded one, or a bad
 * pointer: usable 0), or of any block in page mode (the copy is guarded):
 * always a move. */
WH_NOINLINE static void *realloc_guarded(void *p, size_t size, size_t usable)
{
    if (usable == 0) {
        int why = wh_guard_size(p, &usable);
        if (why < 0) why = wh_heap_block_check(p);
        if (why != WH_BLOCK_OK) {
            bad_pointer("realloc", p, why);
            return NULL;
        }
    }
    if (size > MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    void *q = malloc_inline(size);
    if (!q) {
        errno = ENOMEM;
        return NULL;             /* p untouched */
    }
    memcpy(q, p, size < usable ? size : usable);
    free_inline(p, "realloc");
    return q;
}

void *wheap_realloc(void *p, size_t size)
{
    if (!p) return malloc_inline(size);
    if (size == 0) {             /* glibc: frees and returns NULL */
        free_inline(p, "realloc");
        return NULL;
    }
    size_t usable = wh_heap_block_usable_size(p);
    if (wh_unlikely(usable == 0) ||
        (wh_unlikely(wh_guard_active) && wh_options_get()->guard_mode == 1))
        return realloc_guarded(p, size, usable);
    if (size > MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    /* Shrinking by less than half, or growing within the slack: keep it. */
    if (size <= usable && size >= usable / 2) return p;
    wh_heap *h = wh_arena_current();
    /* Only the owner may grow a block in place: its page is the owner's,
     * unlocked, state (another thread's block moves instead). */
    if (h && ((h->flags & WH_HF_SHARED) ? wh_arena_shared_resize(h, p, size)
                                        : wh_heap_block_heap(p) == h &&
                                              wh_heap_block_resize_in_place(p, size)))
        return p;
    void *q = h ? wh_arena_alloc(h, size) : NULL;
    if (!q) {
        errno = ENOMEM;
        return NULL;             /* p untouched */
    }
    perturb_alloc(q, size);
    memcpy(q, p, size < usable ? size : usable);
    free_inline(p, "realloc");
    return q;
}

void *wheap_reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return wheap_realloc(p, total);
}

size_t wheap_malloc_usable_size(void *p)
{
    if (!p) return 0;
    size_t usable = wh_heap_block_usable_size(p);
    /* A guarded block: exactly the size asked for (the slack after it is
     * the pattern that catches small overflows). */
    if (wh_unlikely(usable == 0) && wh_guard_active) wh_guard_size(p, &usable);
    return usable;
}

/* ------------------------------------------------------------------------
 * Statistics and control
 * ---------------------------------------------------------------------- */

int wheap_malloc_trim(size_t pad)
{
    (void)pad;
    return wh_heap_trim_all() ? 1 : 0;
}

struct mallinfo2 wheap_mallinfo2(void)
{
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    mi.arena = st.committed;                  /* non-mmapped space: all of it */
    mi.uordblks = st.allocated;
    mi.fordblks = st.committed > st.allocated ? st.committed - st.allocated : 0;
    mi.keepcost = st.reset;
    mi.usmblks = st.peak_committed;
    return mi;
}

/* glibc's layout: "Arena N:" blocks, then the totals; each arena's
 * committed bytes stand for glibc's system bytes.  Written with snprintf
 * and write(2), like the report at exit. */
void wheap_malloc_stats(void)
{
    char buf[512];
    int n;
    unsigned nr = 0;
    for (wh_heap *h = wh_arenas_first(); h; h = wh_arena_next(h), nr++) {
        wh_heap_counters c;
        wh_heap_counters_get(h, &c);
        n = snprintf(buf, sizeof buf,
                     "Arena %u (%s):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n", nr,
                     wh_heap_kind_name(h), c.committed, c.allocated);
        if (n > 0) wh_os_write_stderr(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    n = snprintf(buf, sizeof buf,
                 "Total (wheap %s):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
                 "reserved bytes   = %10zu\nreset bytes      = %10zu\n"
                 "max system bytes = %10zu\nheaps            = %10zu\narenas           = %10u\n",
                 PACKAGE_VERSION, st.committed, st.allocated, st.reserved, st.reset,
                 st.peak_committed, st.heaps, nr);
    if (n > 0) wh_os_write_stderr(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* glibc's XML in spirit: one <heap> per arena (own, shared or abandoned),
 * then the process totals (wheap_get_stats's numbers). */
int wheap_malloc_info(int options, void *stream)
{
    FILE *f = stream;
    if (options != 0 || !f) {
        errno = EINVAL;
        return -1;
    }
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    fprintf(f, "<malloc version=\"1\" allocator=\"wheap %s\">\n", PACKAGE_VERSION);
    unsigned nr = 0;
    for (wh_heap *h = wh_arenas_first(); h; h = wh_arena_next(h), nr++) {
        wh_heap_counters c;
        wh_heap_counters_get(h, &c);
        fprintf(f, "<heap nr=\"%u\" kind=\"%s\">\n", nr, wh_heap_kind_name(h));
        fprintf(f, "<total type=\"allocated\" size=\"%zu\"/>\n", c.allocated);
        fprintf(f, "<total type=\"reset\" size=\"%zu\"/>\n", c.reset);
        fprintf(f, "<system type=\"current\" size=\"%zu\"/>\n", c.committed);
        fprintf(f, "<system type=\"max\" size=\"%zu\"/>\n", c.peak_committed);
        fprintf(f, "<aspace type=\"total\" size=\"%zu\"/>\n", c.reserved);
        fprintf(f, "</heap>\n");
    }
    fprintf(f, "<total type=\"reserved\" size=\"%zu\"/>\n", st.reserved);
    fprintf(f, "<total type=\"committed\" size=\"%zu\"/>\n", st.committed);
    fprintf(f, "<total type=\"reset\" size=\"%zu\"/>\n", st.reset);
    fprintf(f, "<total type=\"allocated\" size=\"%zu\"/>\n", st.allocated);
    fprintf(f, "<system type=\"current\" size=\"%zu\"/>\n", st.committed);
    fprintf(f, "<system type=\"max\" size=\"%zu\"/>\n", st.peak_committed);
    fprintf(f, "<aspace type=\"total\" size=\"%zu\"/>\n", st.reserved);
    fprintf(f, "<heaps count=\"%zu\"/>\n<arenas count=\"%u\"/>\n</malloc>\n", st.heaps, nr);
    return 0;
}

/* ------------------------------------------------------------------------
 * The libc names
 * ---------------------------------------------------------------------- */

#ifdef WHEAP_MALLOC_OVERRIDE

/* The aliases share their targets' code; attributes such as malloc or
 * nothrow on glibc's prototypes are promises about behaviour that the
 * targets keep, so GCC's attribute comparison has nothing to say. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"

#define WH_ALIAS(name) __attribute__((alias(#name), visibility("default"), used))

void *malloc(size_t size) WH_ALIAS(wheap_malloc);
void *calloc(size_t n, size_t size) WH_ALIAS(wheap_calloc);
void *realloc(void *p, size_t size) WH_ALIAS(wheap_realloc);
void *reallocarray(void *p, size_t n, size_t size) WH_ALIAS(wheap_reallocarray);
void free(void *p) WH_ALIAS(wheap_free);
void cfree(void *p) WH_ALIAS(wheap_free);
void free_sized(void *p, size_t size) WH_ALIAS(wheap_free_sized);
void free_aligned_sized(void *p, size_t alignment, size_t size)
    WH_ALIAS(wheap_free_aligned_sized);
void *aligned_alloc(size_t alignment, size_t size) WH_ALIAS(wheap_aligned_alloc);
void *memalign(size_t alignment, size_t size) WH_ALIAS(wheap_memalign);
int posix_memalign(void **out, size_t alignment, size_t size) WH_ALIAS(wheap_posix_memalign);
void *valloc(size_t size) WH_ALIAS(wheap_valloc);
void *pvalloc(size_t size) WH_ALIAS(wheap_pvalloc);
size_t malloc_usable_size(void *p) WH_ALIAS(wheap_malloc_usable_size);
int malloc_trim(size_t pad) WH_ALIAS(wheap_malloc_trim);
struct mallinfo2 mallinfo2(void) WH_ALIAS(wheap_mallinfo2);
void malloc_stats(void) WH_ALIAS(wheap_malloc_stats);
int malloc_info(int options, FILE *stream) WH_ALIAS(wheap_malloc_info);

void *__libc_malloc(size_t size) WH_ALIAS(wheap_malloc);
void *__libc_calloc(size_t n, size_t size) WH_ALIAS(wheap_calloc);
void *__libc_realloc(void *p, size_t size) WH_ALIAS(wheap_realloc);
void *__libc_reallocarray(void *p, size_t n, size_t size) WH_ALIAS(wheap_reallocarray);
void __libc_free(void *p) WH_ALIAS(wheap_free);
void *__libc_memalign(size_t alignment, size_t size) WH_ALIAS(wheap_memalign);
void *__libc_valloc(size_t size) WH_ALIAS(wheap_valloc);
void *__libc_pvalloc(size_t size) WH_ALIAS(wheap_pvalloc);
int __posix_memalign(void **out, size_t alignment, size_t size)
    WH_ALIAS(wheap_posix_memalign);

/* mallopt, mapped onto wheap's policies (README.md, "mallopt"); 1 on
 * success, 0 for an unknown parameter or a bad value, as glibc.
 *   M_ARENA_MAX       value > 0: the shared mode with that many arenas
 *                     (arena.c); <= 0: no change, as glibc
 *   M_MMAP_THRESHOLD  0 .. 32 MiB (glibc's limit): malloc blocks of at
 *                     least this many bytes get a reservation of their own;
 *                     clamped to 64 KiB .. 16 MiB (a large page must fit a
 *                     segment)
 *   M_TRIM_THRESHOLD  >= 0: bytes of free pages each heap keeps resident
 *                     before its purge delays apply (0: none kept)
 *   M_PERTURB         the low byte; non-zero: the shared mode, fresh
 *                     blocks get its complement (not calloc's), freed
 *                     blocks the byte
 *   M_TOP_PAD, M_MMAP_MAX, M_ARENA_TEST, M_MXFAST: accepted, no effect */
#define MMAP_THRESHOLD_MAX ((size_t)32 << 20)
__attribute__((visibility("default"))) int mallopt(int param, int value)
{
    wh_options *o = wh_options_tunable();
    int ok = 1;
    switch (param) {
    case M_ARENA_MAX:
        if (value > 0) wh_arena_share((uint64_t)value);
        break;
    case M_MMAP_THRESHOLD: {
        if (value < 0 || (size_t)value > MMAP_THRESHOLD_MAX) {
            ok = 0;
            break;
        }
        size_t t = (size_t)value;
        if (t < WH_MMAP_THRESHOLD_MIN) t = WH_MMAP_THRESHOLD_MIN;
        if (t > WH_MMAP_THRESHOLD_MAX) t = WH_MMAP_THRESHOLD_MAX;
        __atomic_store_n(&o->mmap_threshold, t, __ATOMIC_RELAXED);
        break;
    }
    case M_TRIM_THRESHOLD:
        if (value < 0) ok = 0;
        else __atomic_store_n(&o->trim_threshold, (uint64_t)value, __ATOMIC_RELAXED);
        break;
    case M_PERTURB: {
        unsigned b = (unsigned)value & 0xFF;
        if (b) wh_arena_share(0);
        __atomic_store_n(&perturb_state, b ? b | 0x100 : 0, __ATOMIC_RELAXED);
        break;
    }
    case M_TOP_PAD: case M_MMAP_MAX: case M_ARENA_TEST: case M_MXFAST:
        break;
    default:
        ok = 0;
        break;
    }
    /* wh_message has no %d. */
    wh_verbose("mallopt(%s%u, %s%u) = %u", param < 0 ? "-" : "",
               param < 0 ? 0u - (unsigned)param : (unsigned)param, value < 0 ? "-" : "",
               value < 0 ? 0u - (unsigned)value : (unsigned)value, (unsigned)ok);
    return ok;
}
int __libc_mallopt(int param, int value) WH_ALIAS(mallopt);

/* The old mallinfo: int fields, saturated. */
__attribute__((visibility("default"))) struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = wheap_mallinfo2();
    struct mallinfo m;
    memset(&m, 0, sizeof m);
#define SAT(x) ((x) > (size_t)INT32_MAX ? INT32_MAX : (int)(x))
    m.arena = SAT(m2.arena);
    m.uordblks = SAT(m2.uordblks);
    m.fordblks = SAT(m2.fordblks);
    m.keepcost = SAT(m2.keepcost);
    m.usmblks = SAT(m2.usmblks);
#undef SAT
    return m;
}
struct mallinfo __libc_mallinfo(void) WH_ALIAS(mallinfo);

#endif /* WHEAP_MALLOC_OVERRIDE */
