/*
 * Fuzz target (issue 15): the input bytes are a program of operations on the
 * wheap_* API, checked against a model after every step.
 *
 *   malloc layer   wheap_malloc / calloc / realloc / reallocarray / the
 *                  aligned family / free / free_sized / usable_size; every
 *                  block carries a pattern of (seed, offset), so a block
 *                  handed out twice, overwritten by metadata or copied
 *                  wrongly by realloc is caught.
 *   private heaps  growable, fixed, serialized, unserialized and
 *                  exception-raising heaps: alloc (ZERO_MEMORY), realloc
 *                  (IN_PLACE_ONLY), free, exact size, validate, walk (the
 *                  busy entries are exactly the model's blocks), compact,
 *                  lock, destroy; pointers of another heap, interior and
 *                  misaligned pointers and unknown flags give
 *                  ERROR_INVALID_PARAMETER and change nothing.
 *   virtual memory a few reservations with a per-page model (state,
 *                  protection, a canary word per committed page): commit,
 *                  decommit (recommitted pages read zero), reset, protect
 *                  (old protection of the first page), query (state,
 *                  protection, region size = the run of equal pages,
 *                  allocation base), release, and argument errors.
 *
 * Every input starts from nothing and ends by freeing everything it made.
 * A broken expectation prints one line and aborts, which libFuzzer and the
 * plain driver (fuzz_driver.c) report with the input that caused it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wheap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn, format(printf, 3, 4)))
static void fz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_ops: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
#define FZ_CHECK(cond, ...) \
    do { if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* ---- the input ---------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;

static unsigned get8(reader *r)
{
    return r->at < r->n ? r->p[r->at++] : 0;
}

static unsigned get16(reader *r)
{
    unsigned lo = get8(r);
    return lo | get8(r) << 8;
}

static unsigned get24(reader *r)
{
    unsigned lo = get16(r);
    return lo | get8(r) << 16;
}

/* Mostly small sizes, some page-sized and mid-size ones, rarely up to 4 MiB. */
static size_t get_size(reader *r)
{
    unsigned c = get8(r);
    switch (c >> 5) {
    case 0: case 1: case 2: return get8(r) & 0x3f;
    case 3: return get8(r);
    case 4: case 5: return get16(r) % 4097;
    case 6: return get24(r) % 300001;
    default: return (c & 3) == 0 ? get24(r) % (4u << 20) : get16(r) % 20000;
    }
}

/* ---- content patterns --------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint8_t pat(uint64_t seed, size_t i)
{
    return (uint8_t)(mix(seed + (i >> 3)) >> ((i & 7) * 8));
}

/* Bytes [from, to) of a block of seed get their pattern. */
static void fill(void *p, size_t from, size_t to, uint64_t seed)
{
    uint8_t *b = p;
    size_t i = from;
    for (; i < to && (i & 7); i++) b[i] = pat(seed, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = mix(seed + (i >> 3));
        memcpy(b + i, &w, 8);
    }
    for (; i < to; i++) b[i] = pat(seed, i);
}

/* Offset of the first byte of [0, n) that breaks the pattern, or n. */
static size_t check(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = mix(seed + (i >> 3)), got;
        memcpy(&got, b + i, 8);
        if (got != w) break;
    }
    for (; i < n; i++)
        if (b[i] != pat(seed, i)) return i;
    return n;
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

/* ---- the model ---------------------------------------------------------- */

enum { NBLK = 48, NHEAP = 4, NRES = 3, RES_PAGES_MAX = 48 };
#define PAGE 4096u
#define LIVE_MAX ((size_t)96 << 20)

typedef struct blk {
    uint8_t *p;
    size_t n;
    uint64_t seed;
} blk;

typedef struct heap_model {
    wheap_heap *h;
    uint32_t options;
    size_t maximum;          /* 0: growable */
    blk b[NBLK];
} heap_model;

typedef struct res_model {
    uint8_t *base;
    size_t pages;
    uint32_t state[RES_PAGES_MAX];     /* WHEAP_MEM_COMMIT or WHEAP_MEM_RESERVE */
    uint32_t protect[RES_PAGES_MAX];   /* when committed */
    bool known[RES_PAGES_MAX];         /* committed, canary written and readable */
    uint64_t canary[RES_PAGES_MAX];
} res_model;

typedef struct world {
    reader r;
    uint64_t seq;
    size_t live;                       /* bytes in model blocks */
    blk m[NBLK];                       /* malloc blocks */
    size_t m_align[NBLK];
    heap_model heap[NHEAP];
    res_model res[NRES];
} world;

static void blk_check(const blk *b, const char *what)
{
    size_t at = check(b->p, b->n, b->seed);
    FZ_CHECK(at == b->n, "%s %p (%zu bytes): byte %zu damaged", what, (void *)b->p, b->n, at);
}

/* ---- malloc layer ------------------------------------------------------- */

static void m_new(world *w, unsigned k, void *p, size_t n, size_t align, bool zero)
{
    FZ_CHECK(p != NULL, "allocation of %zu bytes (alignment %zu) failed", n, align);
    FZ_CHECK(((uintptr_t)p & (align - 1)) == 0, "%p not aligned to %zu", p, align);
    FZ_CHECK(wheap_malloc_usable_size(p) >= n, "usable size %zu < %zu",
             wheap_malloc_usable_size(p), n);
    if (zero) FZ_CHECK(all_zero(p, n), "calloc block %p of %zu bytes not zeroed", p, n);
    blk *b = &w->m[k];
    b->p = p;
    b->n = n;
    b->seed = ++w->seq;
    w->m_align[k] = align;
    w->live += n;
    fill(p, 0, n, b->seed);
}

static void m_free(world *w, unsigned k, int how)
{
    blk *b = &w->m[k];
    blk_check(b, "malloc block");
    if (how == 0) wheap_free(b->p);
    else if (how == 1) wheap_free_sized(b->p, b->n);
    else wheap_free_aligned_sized(b->p, w->m_align[k], b->n);
    w->live -= b->n;
    b->p = NULL;
}

static void op_malloc(world *w)
{
    unsigned k = get8(&w->r) % NBLK, kind = get8(&w->r) % 8;
    size_t n = get_size(&w->r);
    if (w->m[k].p) m_free(w, k, (int)(kind % 3));
    if (w->live + n > LIVE_MAX) return;
    size_t align = (size_t)1 << (get8(&w->r) % 17);   /* up to 64 KiB */
    void *p = NULL;
    switch (kind) {
    case 0: case 1: m_new(w, k, wheap_malloc(n), n, 16, false); break;
    case 2: {
        size_t each = 1 + get8(&w->r) % 16;
        m_new(w, k, wheap_calloc(n / each, each), n / each * each, 16, true);
        break;
    }
    case 3: {
        size_t each = 1 + get8(&w->r) % 16;
        m_new(w, k, wheap_reallocarray(NULL, n / each, each), n / each * each, 16, false);
        break;
    }
    case 4:
        if (align < sizeof(void *)) align = sizeof(void *);
        FZ_CHECK(wheap_posix_memalign(&p, align, n) == 0, "posix_memalign(%zu, %zu) failed",
                 align, n);
        m_new(w, k, p, n, align, false);
        break;
    case 5: m_new(w, k, wheap_aligned_alloc(align, n), n, align < 16 ? 16 : align, false); break;
    case 6: m_new(w, k, wheap_memalign(align, n), n, align < 16 ? 16 : align, false); break;
    default: m_new(w, k, wheap_valloc(n), n, PAGE, false); break;
    }
}

static void op_realloc(world *w)
{
    unsigned k = get8(&w->r) % NBLK;
    size_t n = get_size(&w->r);
    blk *b = &w->m[k];
    if (!b->p || w->live + n > LIVE_MAX) return;
    blk_check(b, "block before realloc");
    if (n == 0) n = 1;               /* realloc(p, 0) frees: covered by op_free */
    uint8_t *q = wheap_realloc(b->p, n);
    FZ_CHECK(q != NULL, "realloc(%p, %zu) failed", (void *)b->p, n);
    FZ_CHECK(((uintptr_t)q & 15) == 0, "realloc gave misaligned %p", (void *)q);
    FZ_CHECK(wheap_malloc_usable_size(q) >= n, "usable size %zu < %zu after realloc",
             wheap_malloc_usable_size(q), n);
    size_t keep = n < b->n ? n : b->n;
    size_t at = check(q, keep, b->seed);
    FZ_CHECK(at == keep, "realloc %zu -> %zu lost byte %zu", b->n, n, at);
    if (n > b->n) fill(q, b->n, n, b->seed);
    w->live = w->live - b->n + n;
    b->p = q;
    b->n = n;
    w->m_align[k] = 16;
}

static void op_free(world *w)
{
    unsigned k = get8(&w->r) % NBLK, how = get8(&w->r) % 4;
    blk *b = &w->m[k];
    if (!b->p) {
        wheap_free(NULL);
        return;
    }
    if (how == 3) {                  /* realloc(p, 0) frees and returns NULL */
        blk_check(b, "block before realloc(p, 0)");
        FZ_CHECK(wheap_realloc(b->p, 0) == NULL, "realloc(p, 0) returned a block");
        w->live -= b->n;
        b->p = NULL;
        return;
    }
    m_free(w, k, (int)how);
}

/* Impossible requests fail with NULL and leave every block alone. */
static void op_malloc_impossible(world *w)
{
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 15, (size_t)PTRDIFF_MAX + 1,
                                  SIZE_MAX - 65535, (size_t)1 << 62};
    size_t n = huge[get8(&w->r) % 5];
    FZ_CHECK(wheap_malloc(n) == NULL, "malloc(%zu) succeeded", n);
    FZ_CHECK(wheap_calloc(n, 2) == NULL, "calloc(%zu, 2) succeeded", n);
    FZ_CHECK(wheap_calloc(3, n / 2) == NULL, "calloc(3, %zu) succeeded", n / 2);
    FZ_CHECK(wheap_aligned_alloc(64, n) == NULL, "aligned_alloc(64, %zu) succeeded", n);
    unsigned k = get8(&w->r) % NBLK;
    if (w->m[k].p) {
        FZ_CHECK(wheap_realloc(w->m[k].p, n) == NULL, "realloc to %zu succeeded", n);
        FZ_CHECK(wheap_reallocarray(w->m[k].p, n, 4) == NULL, "reallocarray succeeded");
        blk_check(&w->m[k], "block after failed realloc");
    }
}

/* ---- private heaps ------------------------------------------------------ */

static heap_model *heap_at(world *w, unsigned i)
{
    heap_model *hm = &w->heap[i % NHEAP];
    return hm->h ? hm : NULL;
}

static void heap_destroy(world *w, heap_model *hm)
{
    for (int i = 0; i < NBLK; i++)
        if (hm->b[i].p) {
            blk_check(&hm->b[i], "heap block before destroy");
            w->live -= hm->b[i].n;
            hm->b[i].p = NULL;
        }
    FZ_CHECK(wheap_heap_validate(hm->h, 0, NULL), "heap %p invalid before destroy", (void *)hm->h);
    FZ_CHECK(wheap_heap_destroy(hm->h), "destroy failed: error %u", wheap_get_last_error());
    hm->h = NULL;
}

static void op_heap_create(world *w)
{
    heap_model *hm = &w->heap[get8(&w->r) % NHEAP];
    unsigned kind = get8(&w->r);
    if (hm->h) heap_destroy(w, hm);
    static const size_t maxima[] = {0, 0, 64 << 10, 1 << 20, 3 << 20, 200000};
    size_t maximum = maxima[kind % 6];
    uint32_t options = 0;
    if (kind & 0x10) options |= WHEAP_HEAP_NO_SERIALIZE;
    if (kind & 0x20) options |= WHEAP_HEAP_GROWABLE;
    if (kind & 0x40) options |= WHEAP_HEAP_GENERATE_EXCEPTIONS;
    size_t initial = (kind & 0x80) ? (size_t)get16(&w->r) * 16 : 0;
    if (maximum && initial > maximum) initial = maximum;
    hm->h = wheap_heap_create(options, initial, maximum);
    FZ_CHECK(hm->h != NULL, "heap_create(%#x, %zu, %zu) failed: error %u", options, initial,
             maximum, wheap_get_last_error());
    hm->options = options;
    hm->maximum = maximum;
}

/* A failure is expected only from a fixed heap (full, or 0x7FFF8 and more). */
static void heap_expect_result(heap_model *hm, void *p, size_t n, const char *call)
{
    if (p) return;
    uint32_t e = wheap_get_last_error();
    FZ_CHECK(hm->maximum != 0, "%s(%zu) failed on a growable heap: error %u", call, n, e);
    FZ_CHECK(e == WHEAP_ERROR_NOT_ENOUGH_MEMORY, "%s(%zu): error %u, not NOT_ENOUGH_MEMORY",
             call, n, e);
}

static void op_heap_alloc(world *w)
{
    heap_model *hm = heap_at(w, get8(&w->r));
    unsigned k = get8(&w->r) % NBLK, fl = get8(&w->r);
    size_t n = get_size(&w->r);
    if (!hm) return;
    blk *b = &hm->b[k];
    if (b->p) {
        blk_check(b, "heap block");
        FZ_CHECK(wheap_heap_free(hm->h, 0, b->p), "heap_free failed: %u", wheap_get_last_error());
        w->live -= b->n;
        b->p = NULL;
    }
    if (w->live + n > LIVE_MAX) return;
    uint32_t flags = (fl & 1) ? WHEAP_HEAP_ZERO_MEMORY : 0;
    wheap_set_last_error(0);
    uint8_t *p = wheap_heap_alloc(hm->h, flags, n);
    if (hm->maximum && n >= 0x7FFF8) {
        FZ_CHECK(p == NULL, "a fixed heap gave a block of %zu bytes", n);
        FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_NOT_ENOUGH_MEMORY, "error %u",
                 wheap_get_last_error());
        return;
    }
    heap_expect_result(hm, p, n, "heap_alloc");
    if (!p) return;
    FZ_CHECK(((uintptr_t)p & 7) == 0, "heap block %p misaligned", (void *)p);
    FZ_CHECK(wheap_heap_size(hm->h, 0, p) == n, "heap_size %zu, asked %zu",
             wheap_heap_size(hm->h, 0, p), n);
    if (flags) FZ_CHECK(all_zero(p, n), "ZERO_MEMORY block of %zu bytes not zeroed", n);
    b->p = p;
    b->n = n;
    b->seed = ++w->seq;
    w->live += n;
    fill(p, 0, n, b->seed);
}

static void op_heap_realloc(world *w)
{
    heap_model *hm = heap_at(w, get8(&w->r));
    unsigned k = get8(&w->r) % NBLK, fl = get8(&w->r);
    size_t n = get_size(&w->r);
    if (!hm || !hm->b[k].p || w->live + n > LIVE_MAX) return;
    blk *b = &hm->b[k];
    uint32_t flags = 0;
    if (fl & 1) flags |= WHEAP_HEAP_ZERO_MEMORY;
    if (fl & 2) flags |= WHEAP_HEAP_REALLOC_IN_PLACE_ONLY;
    wheap_set_last_error(0);
    uint8_t *q = wheap_heap_realloc(hm->h, flags, b->p, n);
    if (!q) {
        uint32_t e = wheap_get_last_error();
        if (!(flags & WHEAP_HEAP_REALLOC_IN_PLACE_ONLY))
            heap_expect_result(hm, q, n, "heap_realloc");
        else
            FZ_CHECK(e == WHEAP_ERROR_NOT_ENOUGH_MEMORY,
                     "in-place realloc %zu -> %zu: error %u", b->n, n, e);
        FZ_CHECK(wheap_heap_size(hm->h, 0, b->p) == b->n, "failed realloc changed the size");
        blk_check(b, "block after failed heap_realloc");
        return;
    }
    if (flags & WHEAP_HEAP_REALLOC_IN_PLACE_ONLY)
        FZ_CHECK(q == b->p, "in-place realloc moved %p to %p", (void *)b->p, (void *)q);
    FZ_CHECK(wheap_heap_size(hm->h, 0, q) == n, "heap_size %zu after realloc to %zu",
             wheap_heap_size(hm->h, 0, q), n);
    size_t keep = n < b->n ? n : b->n;
    size_t at = check(q, keep, b->seed);
    FZ_CHECK(at == keep, "heap_realloc %zu -> %zu lost byte %zu", b->n, n, at);
    if (n > b->n) {
        if (flags & WHEAP_HEAP_ZERO_MEMORY)
            FZ_CHECK(all_zero(q + b->n, n - b->n), "ZERO_MEMORY realloc: tail not zeroed");
        fill(q, b->n, n, b->seed);
    }
    w->live = w->live - b->n + n;
    b->p = q;
    b->n = n;
}

static void op_heap_free(world *w)
{
    heap_model *hm = heap_at(w, get8(&w->r));
    unsigned k = get8(&w->r) % NBLK;
    if (!hm || !hm->b[k].p) return;
    blk *b = &hm->b[k];
    blk_check(b, "heap block");
    FZ_CHECK(wheap_heap_validate(hm->h, 0, b->p), "validate of a live block failed");
    FZ_CHECK(wheap_heap_free(hm->h, 0, b->p), "heap_free failed: %u", wheap_get_last_error());
    w->live -= b->n;
    /* Freed: now foreign to the heap, unless the next op reuses it. */
    wheap_set_last_error(0);
    FZ_CHECK(!wheap_heap_validate(hm->h, 0, b->p), "validate accepted a freed block");
    b->p = NULL;
}

/* Whole-heap checks: validate, walk against the model, compact, lock. */
static void op_heap_inspect(world *w)
{
    heap_model *hm = heap_at(w, get8(&w->r));
    unsigned what = get8(&w->r) % 4;
    if (!hm) return;
    FZ_CHECK(wheap_heap_validate(hm->h, 0, NULL), "heap validate failed");
    if (what == 0) {
        wheap_heap_entry e;
        memset(&e, 0, sizeof e);
        size_t busy = 0, model = 0;
        bool found[NBLK] = {false};
        FZ_CHECK(wheap_heap_lock(hm->h), "heap_lock failed");
        while (wheap_heap_walk(hm->h, &e)) {
            if (!(e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY)) continue;
            busy++;
            int i;
            for (i = 0; i < NBLK; i++)
                if (hm->b[i].p == e.data) break;
            FZ_CHECK(i < NBLK, "walk shows busy %p (%zu bytes) the model lacks", e.data,
                     e.data_size);
            FZ_CHECK(e.data_size == hm->b[i].n, "walk: %p has %zu bytes, model %zu", e.data,
                     e.data_size, hm->b[i].n);
            found[i] = true;
        }
        FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_NO_MORE_ITEMS, "walk ended with %u",
                 wheap_get_last_error());
        FZ_CHECK(wheap_heap_unlock(hm->h), "heap_unlock failed");
        for (int i = 0; i < NBLK; i++)
            if (hm->b[i].p) {
                model++;
                FZ_CHECK(found[i], "walk missed %p", (void *)hm->b[i].p);
            }
        FZ_CHECK(busy == model, "walk: %zu busy entries, model %zu", busy, model);
    } else if (what == 1) {
        wheap_heap_compact(hm->h, 0);
    } else {
        for (int i = 0; i < NBLK; i++)
            if (hm->b[i].p) {
                blk_check(&hm->b[i], "heap block");
                FZ_CHECK(wheap_heap_size(hm->h, 0, hm->b[i].p) == hm->b[i].n, "size changed");
            }
    }
}

static void expect_invalid(heap_model *hm, void *p, const char *what)
{
    wheap_set_last_error(0);
    FZ_CHECK(!wheap_heap_free(hm->h, 0, p), "heap_free accepted %s %p", what, p);
    FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER, "free of %s: error %u",
             what, wheap_get_last_error());
    wheap_set_last_error(0);
    FZ_CHECK(wheap_heap_size(hm->h, 0, p) == (size_t)-1, "heap_size accepted %s", what);
    FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER, "size of %s: error %u",
             what, wheap_get_last_error());
    wheap_set_last_error(0);
    FZ_CHECK(wheap_heap_realloc(hm->h, 0, p, 32) == NULL, "heap_realloc accepted %s", what);
    FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER, "realloc of %s: error %u",
             what, wheap_get_last_error());
    FZ_CHECK(!wheap_heap_validate(hm->h, 0, p), "validate accepted %s", what);
}

/* Pointers the heap does not own, and flags it does not know. */
static void op_heap_bad(world *w)
{
    heap_model *hm = heap_at(w, get8(&w->r));
    unsigned kind = get8(&w->r) % 6, k = get8(&w->r) % NBLK, j = get8(&w->r);
    if (!hm) return;
    blk *own = &hm->b[k];
    switch (kind) {
    case 0: {                           /* another heap's block, or a malloc block */
        heap_model *other = heap_at(w, j);
        blk *ob = other && other != hm ? &other->b[k] : &w->m[k];
        if (ob->p) expect_invalid(hm, ob->p, "a foreign block");
        break;
    }
    case 1:
        if (own->p && own->n >= 2) expect_invalid(hm, own->p + 1 + j % (own->n - 1),
                                                  "an interior pointer");
        break;
    case 2: {
        uint8_t local[16];
        expect_invalid(hm, local, "a stack address");
        break;
    }
    case 3:
        if (w->res[j % NRES].base) expect_invalid(hm, w->res[j % NRES].base, "a reservation");
        break;
    case 4:
        if (own->p) {
            wheap_set_last_error(0);
            FZ_CHECK(!wheap_heap_free(hm->h, 0x100u << (j % 8), own->p), "unknown free flag");
            FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER, "error %u",
                     wheap_get_last_error());
            FZ_CHECK(wheap_heap_alloc(hm->h, 0x100, 8) == NULL, "unknown alloc flag");
            FZ_CHECK(wheap_heap_realloc(hm->h, WHEAP_HEAP_NO_SERIALIZE | 0x20, own->p, 8) == NULL,
                     "unknown realloc flag");
        }
        break;
    default:
        wheap_set_last_error(0);
        FZ_CHECK(wheap_heap_realloc(hm->h, 0, NULL, 8) == NULL, "realloc of NULL succeeded");
        FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER, "error %u",
                 wheap_get_last_error());
        FZ_CHECK(wheap_heap_alloc(hm->h, 0, SIZE_MAX - (j & 63)) == NULL, "huge heap alloc");
        if (own->p)
            FZ_CHECK(wheap_heap_realloc(hm->h, 0, own->p, SIZE_MAX - (j & 63)) == NULL,
                     "huge heap realloc");
        break;
    }
    if (own->p) blk_check(own, "heap block after a bad call");
}

/* ---- virtual memory ----------------------------------------------------- */

static const uint32_t protections[] = {WHEAP_PAGE_READWRITE, WHEAP_PAGE_READONLY,
                                       WHEAP_PAGE_NOACCESS, WHEAP_PAGE_EXECUTE_READWRITE,
                                       WHEAP_PAGE_EXECUTE_READ};

static bool readable(uint32_t prot)
{
    return prot == WHEAP_PAGE_READWRITE || prot == WHEAP_PAGE_READONLY ||
           prot == WHEAP_PAGE_EXECUTE_READWRITE || prot == WHEAP_PAGE_EXECUTE_READ;
}

static bool writable(uint32_t prot)
{
    return prot == WHEAP_PAGE_READWRITE || prot == WHEAP_PAGE_EXECUTE_READWRITE;
}

static void res_check(res_model *rm)
{
    for (size_t i = 0; i < rm->pages; i++)
        if (rm->known[i] && readable(rm->protect[i])) {
            uint64_t got;
            memcpy(&got, rm->base + i * PAGE, 8);
            FZ_CHECK(got == rm->canary[i], "page %zu of %p lost its data", i, (void *)rm->base);
        }
}

static void res_release(res_model *rm)
{
    res_check(rm);
    FZ_CHECK(wheap_virtual_free(rm->base, 0, WHEAP_MEM_RELEASE), "release failed: %u",
             wheap_get_last_error());
    rm->base = NULL;
}

/* A page range [a, a + n) of a live reservation. */
static res_model *get_range(world *w, size_t *a, size_t *n)
{
    res_model *rm = &w->res[get8(&w->r) % NRES];
    unsigned x = get8(&w->r), y = get8(&w->r);
    if (!rm->base) return NULL;
    *a = x % rm->pages;
    *n = 1 + y % (rm->pages - *a);
    return rm;
}

static void op_reserve(world *w)
{
    res_model *rm = &w->res[get8(&w->r) % NRES];
    unsigned pages = 1 + get8(&w->r) % RES_PAGES_MAX, how = get8(&w->r);
    if (rm->base) res_release(rm);
    uint32_t prot = protections[how % 5];
    bool commit = how & 8;
    uint32_t type = WHEAP_MEM_RESERVE | (commit ? WHEAP_MEM_COMMIT : 0) |
                    ((how & 16) ? WHEAP_MEM_TOP_DOWN : 0);
    rm->base = wheap_virtual_alloc(NULL, (size_t)pages * PAGE, type, prot);
    FZ_CHECK(rm->base != NULL, "reserve of %u pages failed: %u", pages, wheap_get_last_error());
    FZ_CHECK(((uintptr_t)rm->base & 65535) == 0, "reservation %p not 64 KiB aligned",
             (void *)rm->base);
    /* The reservation is whole 64 KiB granules; only the pages asked for
     * are committed. */
    rm->pages = (pages + 15) / 16 * 16;
    for (unsigned i = 0; i < rm->pages; i++) {
        rm->state[i] = commit && i < pages ? WHEAP_MEM_COMMIT : WHEAP_MEM_RESERVE;
        rm->protect[i] = prot;
        rm->known[i] = false;
        if (rm->state[i] == WHEAP_MEM_COMMIT && readable(prot))
            FZ_CHECK(all_zero(rm->base + (size_t)i * PAGE, PAGE), "fresh page not zero");
    }
}

static void op_commit(world *w)
{
    size_t a, n;
    res_model *rm = get_range(w, &a, &n);
    unsigned pr = get8(&w->r);
    if (!rm) return;
    uint32_t prot = protections[pr % 5];
    uint8_t *p = rm->base + a * PAGE;
    /* The range's first byte may sit anywhere in its first page. */
    size_t skew = pr & 0x80 ? (pr & 0x7f) * 31 % PAGE : 0;
    void *got = wheap_virtual_alloc(p + skew, n * PAGE - skew, WHEAP_MEM_COMMIT, prot);
    FZ_CHECK(got == p, "commit of pages %zu+%zu gave %p, not %p (error %u)", a, n, got,
             (void *)p, wheap_get_last_error());
    for (size_t i = a; i < a + n; i++) {
        if (rm->state[i] != WHEAP_MEM_COMMIT) {
            rm->state[i] = WHEAP_MEM_COMMIT;
            rm->known[i] = false;
            if (readable(prot)) FZ_CHECK(all_zero(rm->base + i * PAGE, PAGE),
                                         "newly committed page %zu not zero", i);
        }
        rm->protect[i] = prot;
        if (writable(prot)) {
            rm->canary[i] = mix(++w->seq);
            memcpy(rm->base + i * PAGE, &rm->canary[i], 8);
            rm->known[i] = true;
        }
    }
}

static void op_decommit(world *w)
{
    size_t a, n;
    res_model *rm = get_range(w, &a, &n);
    if (!rm) return;
    FZ_CHECK(wheap_virtual_free(rm->base + a * PAGE, n * PAGE, WHEAP_MEM_DECOMMIT),
             "decommit failed: %u", wheap_get_last_error());
    for (size_t i = a; i < a + n; i++) {
        rm->state[i] = WHEAP_MEM_RESERVE;
        rm->known[i] = false;
    }
}

static void op_reset(world *w)
{
    size_t a, n;
    res_model *rm = get_range(w, &a, &n);
    if (!rm) return;
    bool all_committed = true;
    for (size_t i = a; i < a + n; i++) all_committed &= rm->state[i] == WHEAP_MEM_COMMIT;
    if (!all_committed) return;
    void *got = wheap_virtual_alloc(rm->base + a * PAGE, n * PAGE, WHEAP_MEM_RESET,
                                    WHEAP_PAGE_NOACCESS);
    FZ_CHECK(got == rm->base + a * PAGE, "reset failed: %u", wheap_get_last_error());
    for (size_t i = a; i < a + n; i++) rm->known[i] = false;   /* contents undefined */
}

static void op_protect(world *w)
{
    size_t a, n;
    res_model *rm = get_range(w, &a, &n);
    unsigned pr = get8(&w->r);
    if (!rm) return;
    uint32_t prot = protections[pr % 5], old = 0;
    bool all_committed = true;
    for (size_t i = a; i < a + n; i++) all_committed &= rm->state[i] == WHEAP_MEM_COMMIT;
    wheap_set_last_error(0);
    bool ok = wheap_virtual_protect(rm->base + a * PAGE, n * PAGE, prot, &old);
    if (!all_committed) {
        FZ_CHECK(!ok, "protect of uncommitted pages succeeded");
        FZ_CHECK(wheap_get_last_error() == WHEAP_ERROR_INVALID_ADDRESS, "error %u",
                 wheap_get_last_error());
        return;
    }
    FZ_CHECK(ok, "protect failed: %u", wheap_get_last_error());
    FZ_CHECK(old == rm->protect[a], "old protection %#x, model %#x", old, rm->protect[a]);
    for (size_t i = a; i < a + n; i++) rm->protect[i] = prot;
}

static void op_query(world *w)
{
    res_model *rm = &w->res[get8(&w->r) % NRES];
    unsigned x = get8(&w->r);
    if (!rm->base) return;
    size_t a = x % rm->pages;
    wheap_memory_basic_information m;
    const uint8_t *addr = rm->base + a * PAGE + (x * 37u) % PAGE;
    FZ_CHECK(wheap_virtual_query(addr, &m, sizeof m) == sizeof m, "query failed");
    FZ_CHECK(m.base_address == rm->base + a * PAGE, "query base %p", m.base_address);
    FZ_CHECK(m.allocation_base == rm->base, "allocation base %p, not %p", m.allocation_base,
             (void *)rm->base);
    FZ_CHECK(m.state == rm->state[a], "page %zu: state %#x, model %#x", a, m.state,
             rm->state[a]);
    FZ_CHECK(m.type == WHEAP_MEM_PRIVATE, "type %#x", m.type);
    if (rm->state[a] == WHEAP_MEM_COMMIT)
        FZ_CHECK(m.protect == rm->protect[a], "page %zu: protect %#x, model %#x", a, m.protect,
                 rm->protect[a]);
    else
        FZ_CHECK(m.protect == 0, "reserved page %zu: protect %#x", a, m.protect);
    size_t run = 1;
    while (a + run < rm->pages && rm->state[a + run] == rm->state[a] &&
           (rm->state[a] != WHEAP_MEM_COMMIT || rm->protect[a + run] == rm->protect[a]))
        run++;
    FZ_CHECK(m.region_size == run * PAGE, "page %zu: region of %zu bytes, model %zu", a,
             m.region_size, run * PAGE);
    res_check(rm);
}

/* Calls the rules refuse: nothing may change. */
static void op_virtual_bad(world *w)
{
    res_model *rm = &w->res[get8(&w->r) % NRES];
    unsigned kind = get8(&w->r) % 8;
    if (!rm->base) return;
    wheap_set_last_error(0);
    uint32_t want = WHEAP_ERROR_INVALID_PARAMETER;
    bool ok;
    switch (kind) {
    case 0: ok = wheap_virtual_free(rm->base, PAGE, WHEAP_MEM_RELEASE); break;
    case 1:     /* decommit past the end of the reservation */
        ok = wheap_virtual_free(rm->base, rm->pages * PAGE + 65536, WHEAP_MEM_DECOMMIT);
        break;
    case 2:
        ok = wheap_virtual_free(rm->base + PAGE, 0, WHEAP_MEM_RELEASE);
        want = WHEAP_ERROR_INVALID_ADDRESS;
        break;
    case 3:     /* a range that wraps around the address space */
        ok = wheap_virtual_alloc(rm->base, SIZE_MAX - PAGE, WHEAP_MEM_COMMIT,
                                 WHEAP_PAGE_READWRITE) != NULL;
        want = 0;
        break;
    case 4:
        ok = wheap_virtual_free(rm->base, SIZE_MAX - PAGE, WHEAP_MEM_DECOMMIT);
        want = 0;
        break;
    case 6:     /* ends in the top page: rounding the end up wraps */
        ok = wheap_virtual_free(rm->base, SIZE_MAX - (uintptr_t)rm->base - 100,
                                WHEAP_MEM_DECOMMIT);
        want = 0;
        break;
    case 7: {
        uint32_t old;
        ok = wheap_virtual_protect(rm->base, SIZE_MAX - (uintptr_t)rm->base,
                                   WHEAP_PAGE_READONLY, &old);
        want = 0;   /* INVALID_ADDRESS or INVALID_PARAMETER: refused either way */
        break;
    }
    default:
        ok = wheap_virtual_free(rm->base, 0, WHEAP_MEM_RELEASE | WHEAP_MEM_DECOMMIT);
        break;
    }
    FZ_CHECK(!ok, "bad virtual call %u succeeded", kind);
    uint32_t e = wheap_get_last_error();
    FZ_CHECK(want ? e == want : e != 0, "bad virtual call %u: error %u, expected %u", kind, e,
             want);
    res_check(rm);
}

/* ---- the program -------------------------------------------------------- */

typedef void (*op_fn)(world *);
static const op_fn ops[] = {
    op_malloc, op_malloc, op_malloc, op_realloc, op_realloc, op_free, op_free,
    op_malloc_impossible, op_heap_create, op_heap_alloc, op_heap_alloc, op_heap_alloc,
    op_heap_realloc, op_heap_realloc, op_heap_free, op_heap_free, op_heap_inspect,
    op_heap_bad, op_reserve, op_commit, op_decommit, op_reset, op_protect, op_query,
    op_virtual_bad,
};
#define NOPS (sizeof ops / sizeof ops[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static world w;
    memset(&w, 0, sizeof w);
    w.r.p = data;
    w.r.n = size;
    /* Every program has a heap to work on. */
    w.heap[0].h = wheap_heap_create(0, 0, 0);
    FZ_CHECK(w.heap[0].h != NULL, "heap_create failed");
    for (unsigned steps = 0; w.r.at < w.r.n && steps < 4096; steps++)
        ops[get8(&w.r) % NOPS](&w);

    for (unsigned k = 0; k < NBLK; k++)
        if (w.m[k].p) m_free(&w, k, 0);
    for (unsigned i = 0; i < NHEAP; i++)
        if (w.heap[i].h) heap_destroy(&w, &w.heap[i]);
    for (unsigned i = 0; i < NRES; i++)
        if (w.res[i].base) res_release(&w.res[i]);
    FZ_CHECK(w.live == 0, "model accounting: %zu bytes left", w.live);
    return 0;
}
