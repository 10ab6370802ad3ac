/*
 * The region table: one descriptor per reservation, and a two-level radix
 * tree from every 64 KiB granule to the descriptor that covers it.
 *
 *   granule g = addr >> 16   (31 bits for 47-bit addresses)
 *   root[g >> 16]            -> leaf (65536 slots, 512 KiB, covers 4 GiB)
 *   leaf[g & 0xFFFF]         -> descriptor or NULL
 *
 * Lookups are two dependent loads with no lock, so the SIGSEGV handler can
 * use them.  Writers hold region_lock.  Descriptors, page-state arrays and
 * leaves come from metadata mappings that are never unmapped: a reader that
 * races a release reads a recycled descriptor, never unmapped memory, and
 * checks base/size (and seq) to notice.  Nothing here calls malloc.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define LEAF_BITS   16
#define LEAF_SLOTS  ((size_t)1 << LEAF_BITS)
#define ROOT_SLOTS  ((size_t)1 << (WH_ADDRESS_BITS - WH_GRANULARITY_SHIFT - LEAF_BITS))

typedef struct leaf {
    wh_region *_Atomic slot[LEAF_SLOTS];
} leaf;

static leaf *_Atomic root[ROOT_SLOTS];
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t live_regions;

void wh_regions_lock(void) { pthread_mutex_lock(&region_lock); }
void wh_regions_unlock(void) { pthread_mutex_unlock(&region_lock); }

/* fork: the parent holds the lock across fork so that the child's copy of
 * the table is consistent; the child starts with a fresh lock (the owner
 * recorded in the copied one is a thread that does not exist there).
 * Layer 1 registers its own handlers, first of all (priority 101), so they
 * run innermost: after every upper layer's prepare, before their parent and
 * child handlers.  No malloc: glibc keeps 48 handlers in static storage. */
static void regions_fork_prepare(void) { pthread_mutex_lock(&region_lock); }
static void regions_fork_parent(void) { pthread_mutex_unlock(&region_lock); }
static void regions_fork_child(void) { pthread_mutex_init(&region_lock, NULL); }

__attribute__((constructor(101))) static void regions_fork_register(void)
{
    pthread_atfork(regions_fork_prepare, regions_fork_parent, regions_fork_child);
}

/* ------------------------------------------------------------------------
 * Metadata pools (caller holds the lock)
 * ---------------------------------------------------------------------- */

#define POOL_CHUNK ((size_t)1 << 20)

/* Bump allocator over 1 MiB metadata chunks.  Consecutive chunks usually
 * land next to each other and merge into one mapping (PITFALLS row 9). */
static char  *bump_cur;
static size_t bump_left;

static void *bump_alloc(size_t size)
{
    size = wh_align_up(size, 64);
    if (size > bump_left) {
        void *chunk;
        if (wh_os_map_metadata(POOL_CHUNK, &chunk) != 0) return NULL;
        bump_cur = chunk;
        bump_left = POOL_CHUNK;
    }
    void *p = bump_cur;
    bump_cur += size;
    bump_left -= size;
    return p;
}

static wh_region *free_regions;

/* Page-state arrays of 64 B .. 2 KiB come from power-of-two free lists;
 * larger ones get a mapping of their own. */
#define PAGES_MIN_SHIFT 6
#define PAGES_MAX_SHIFT 11
typedef struct free_block { struct free_block *next; } free_block;
static free_block *free_pages[PAGES_MAX_SHIFT + 1];

static _Atomic uint16_t *pages_alloc(size_t bytes, size_t *map_size)
{
    *map_size = 0;
    if (bytes > ((size_t)1 << PAGES_MAX_SHIFT)) {
        size_t sz = wh_align_up(bytes, wh_os_page_size());
        void *p;
        if (wh_os_map_metadata(sz, &p) != 0) return NULL;
        *map_size = sz;
        return p;
    }
    unsigned shift = PAGES_MIN_SHIFT;
    while (((size_t)1 << shift) < bytes) shift++;
    free_block *b = free_pages[shift];
    if (b) {
        free_pages[shift] = b->next;
        memset(b, 0, (size_t)1 << shift);
        return (_Atomic uint16_t *)b;
    }
    return bump_alloc((size_t)1 << shift);   /* fresh metadata is zero */
}

static void pages_free(_Atomic uint16_t *pages, size_t bytes, size_t map_size)
{
    if (map_size) {
        wh_os_release((void *)pages, map_size);
        return;
    }
    unsigned shift = PAGES_MIN_SHIFT;
    while (((size_t)1 << shift) < bytes) shift++;
    free_block *b = (free_block *)pages;
    b->next = free_pages[shift];
    free_pages[shift] = b;
}

/* ------------------------------------------------------------------------
 * Descriptors
 * ---------------------------------------------------------------------- */

wh_region *wh_region_new(uintptr_t base, size_t size)
{
    size_t page = wh_os_page_size();
    size_t npages = size / page;
    if (npages > UINT32_MAX) return NULL;
    wh_region *r = free_regions;
    if (r) free_regions = r->next_free;
    else if (!(r = bump_alloc(sizeof *r))) return NULL;

    uint32_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);
    atomic_store_explicit(&r->seq, seq | 1, memory_order_relaxed);   /* being written */
    atomic_thread_fence(memory_order_release);
    r->base = base;
    r->size = size;
    r->alloc_protect = 0;
    r->type = WHEAP_MEM_PRIVATE;
    r->flags = 0;
    r->npages = (uint32_t)npages;
    r->owner = NULL;
    r->next_free = NULL;
    r->hint_before = 0;
    r->pages_map_size = 0;
    if (npages <= sizeof r->inline_pages / sizeof r->inline_pages[0]) {
        memset((void *)r->inline_pages, 0, sizeof r->inline_pages);
        r->pages = r->inline_pages;
    } else {
        r->pages = pages_alloc(npages * sizeof(uint16_t), &r->pages_map_size);
        if (!r->pages) {
            r->next_free = free_regions;
            free_regions = r;
            atomic_store_explicit(&r->seq, seq + 2, memory_order_release);
            return NULL;
        }
    }
    return r;
}

static leaf *leaf_for(size_t g, bool create)
{
    size_t ri = g >> LEAF_BITS;
    leaf *l = atomic_load_explicit(&root[ri], memory_order_acquire);
    if (!l && create) {
        void *p;
        if (wh_os_map_metadata(sizeof(leaf), &p) != 0) return NULL;
        l = p;
        atomic_store_explicit(&root[ri], l, memory_order_release);
    }
    return l;
}

int wh_region_insert(wh_region *r)
{
    size_t g0 = r->base >> WH_GRANULARITY_SHIFT;
    size_t g1 = (r->base + r->size - 1) >> WH_GRANULARITY_SHIFT;
    if (g1 >= ROOT_SLOTS * LEAF_SLOTS) return ENOMEM;
    /* Create every leaf first so that a failure leaves nothing behind. */
    for (size_t g = g0; g <= g1; g = (g | (LEAF_SLOTS - 1)) + 1)
        if (!leaf_for(g, true)) return ENOMEM;
    for (size_t g = g0; g <= g1; g++) {
        leaf *l = leaf_for(g, false);
        atomic_store_explicit(&l->slot[g & (LEAF_SLOTS - 1)], r, memory_order_release);
    }
    uint32_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);
    atomic_store_explicit(&r->seq, (seq | 1) + 1, memory_order_release);  /* even: live */
    live_regions++;
    return 0;
}

void wh_region_remove(wh_region *r)
{
    size_t g0 = r->base >> WH_GRANULARITY_SHIFT;
    size_t g1 = (r->base + r->size - 1) >> WH_GRANULARITY_SHIFT;
    atomic_fetch_add_explicit(&r->seq, 1, memory_order_acq_rel);   /* odd: going */
    for (size_t g = g0; g <= g1; g++) {
        leaf *l = leaf_for(g, false);
        if (l) atomic_store_explicit(&l->slot[g & (LEAF_SLOTS - 1)], NULL, memory_order_release);
    }
    if (r->pages != r->inline_pages)
        pages_free(r->pages, (size_t)r->npages * sizeof(uint16_t), r->pages_map_size);
    r->pages = r->inline_pages;
    r->base = 0;
    r->size = 0;
    r->npages = 0;
    r->owner = NULL;
    atomic_fetch_add_explicit(&r->seq, 1, memory_order_release);   /* even: free */
    r->next_free = free_regions;
    free_regions = r;
    live_regions--;
}

wh_region *wh_region_find(uintptr_t addr)
{
    size_t g = addr >> WH_GRANULARITY_SHIFT;
    if (wh_unlikely(g >= ROOT_SLOTS * LEAF_SLOTS)) return NULL;
    leaf *l = atomic_load_explicit(&root[g >> LEAF_BITS], memory_order_acquire);
    if (!l) return NULL;
    wh_region *r = atomic_load_explicit(&l->slot[g & (LEAF_SLOTS - 1)], memory_order_acquire);
    if (!r) return NULL;
    /* A recycled descriptor no longer covers addr. */
    if (addr - r->base >= r->size) return NULL;
    return r;
}

wh_region *wh_region_next(uintptr_t addr)
{
    size_t g = wh_align_up(addr, WH_GRANULARITY) >> WH_GRANULARITY_SHIFT;
    while (g < ROOT_SLOTS * LEAF_SLOTS) {
        leaf *l = atomic_load_explicit(&root[g >> LEAF_BITS], memory_order_acquire);
        if (!l) {
            g = (g | (LEAF_SLOTS - 1)) + 1;
            continue;
        }
        for (size_t i = g & (LEAF_SLOTS - 1); i < LEAF_SLOTS; i++, g++) {
            wh_region *r = atomic_load_explicit(&l->slot[i], memory_order_acquire);
            if (r && r->base >= addr) return r;
        }
    }
    return NULL;
}

size_t wh_region_count(void)
{
    return live_regions;
}
