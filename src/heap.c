/*
 * Layer 2: private heaps, the HeapCreate family (wheap_heap_*).
 *
 *   wheap_heap_alloc ── wh_heap_enter (recursive lock, skipped with
 *        │                NO_SERIALIZE) ── inline pop + exact-size store
 *        └─ alloc_general: big, zeroed, fixed-heap limits, exceptions
 *   wheap_heap_free ── inline: segment map, page, heap check, bitmap, push
 *        └─ wh_heap_block_find (every other case, and the error's cause)
 *   wheap_heap_realloc ── in place (size class slack, following slices,
 *        huge headroom) or alloc + copy + free
 *   wheap_heap_walk, wheap_heap_validate ── heap_walk.c
 *   wheap_get_stats ── stats.c
 *
 * Public heaps keep exact sizes (the process heap answers usable sizes, as
 * malloc's arenas will).  Every function checks its handle before reading
 * through it, sets the last error on failure, and leaves it alone on
 * success.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

#define CREATE_FLAGS (WHEAP_HEAP_NO_SERIALIZE | WHEAP_HEAP_GROWABLE | \
                      WHEAP_HEAP_GENERATE_EXCEPTIONS | WHEAP_HEAP_CREATE_ENABLE_EXECUTE)
#define ALLOC_FLAGS (WHEAP_HEAP_NO_SERIALIZE | WHEAP_HEAP_GENERATE_EXCEPTIONS | \
                     WHEAP_HEAP_ZERO_MEMORY)
#define REALLOC_FLAGS (ALLOC_FLAGS | WHEAP_HEAP_REALLOC_IN_PLACE_ONLY)

/* Requests beyond this fail at once (the sums below cannot overflow). */
#define MAX_REQUEST ((size_t)1 << 46)

static void *fail_ptr(uint32_t err)
{
    wh_set_error(err);
    return NULL;
}

static bool fail_bool(uint32_t err)
{
    wh_set_error(err);
    return false;
}

/* Out of memory: ERROR_NOT_ENOUGH_MEMORY, and with HEAP_GENERATE_EXCEPTIONS
 * the handlers hear of it first. */
WH_COLD static void *fail_no_memory(wh_heap *h, uint32_t flags)
{
    if ((flags | h->options) & WHEAP_HEAP_GENERATE_EXCEPTIONS) wh_exception_raise_no_memory(h);
    return fail_ptr(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
}

/* ------------------------------------------------------------------------
 * The lock's slow halves
 * ---------------------------------------------------------------------- */

void wh_lock_init(wh_lock *l)
{
    atomic_init(&l->state, 0);
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->c, NULL);
}

/* Taken by someone: spin a little (the holder is usually about to give it
 * back), then sleep.  A waiter takes the word as 2, so that the giver
 * wakes the next sleeper in turn; the mutex orders sleeping against waking,
 * so no wake-up is lost. */
void wh_lock_wait(wh_lock *l)
{
    for (int i = 0; i < 100; i++) {
        wh_cpu_relax();
        uint32_t expected = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &expected, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    pthread_mutex_lock(&l->m);
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        pthread_cond_wait(&l->c, &l->m);
    pthread_mutex_unlock(&l->m);
}

void wh_lock_wake(wh_lock *l)
{
    pthread_mutex_lock(&l->m);
    pthread_cond_signal(&l->c);
    pthread_mutex_unlock(&l->m);
}

/* ------------------------------------------------------------------------
 * Creation and destruction
 * ---------------------------------------------------------------------- */

wheap_heap *wheap_heap_create(uint32_t options, size_t initial_size, size_t maximum_size)
{
    if (options & ~CREATE_FLAGS) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    uint32_t err;
    wh_heap *h = wh_heap_create(WH_HF_EXACT, options, initial_size, maximum_size, &err);
    if (!h) return fail_ptr(err);
    wh_heap_background_start();
    return (wheap_heap *)h;
}

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static wh_heap *process_heap;

static void process_heap_init(void)
{
    uint32_t err;
    process_heap = wh_heap_create(WH_HF_PROCESS, 0, 0, 0, &err);
}

/* The process heap stands for malloc's arenas later; for now it is a
 * serialized heap of its own that answers usable sizes. */
wh_heap *wh_heap_process(void)
{
    pthread_once(&process_once, process_heap_init);
    return process_heap;
}

wheap_heap *wheap_get_process_heap(void)
{
    wh_heap *h = wh_heap_process();
    if (!h) return fail_ptr(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    return (wheap_heap *)h;
}

size_t wheap_get_process_heaps(size_t count, wheap_heap **heaps)
{
    wh_heap_process();
    if (count && !heaps) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return 0;
    }
    size_t total = 0;
    wh_heaps_lock();
    for (wh_heap *h = wh_heaps_first(); h; h = h->list_next) {
        if (total < count) heaps[total] = (wheap_heap *)h;
        total++;
    }
    wh_heaps_unlock();
    return total;
}

bool wheap_heap_destroy(wheap_heap *heap)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h) || (h->flags & (WH_HF_PROCESS | WH_HF_ARENA)))
        return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    wh_heap_unlist(h);
    wh_heap_release_all(h);
    return true;
}

/* ------------------------------------------------------------------------
 * Allocation
 * ---------------------------------------------------------------------- */

static bool request_ok(const wh_heap *h, size_t bytes)
{
    if (bytes > MAX_REQUEST) return false;
    return !(h->flags & WH_HF_FIXED) || bytes < WH_FIXED_MAX_REQUEST;
}

WH_NOINLINE static void *alloc_general(wh_heap *h, uint32_t flags, size_t bytes)
{
    if (!request_ok(h, bytes)) return NULL;
    return wh_heap_alloc_exact(h, bytes, (flags & WHEAP_HEAP_ZERO_MEMORY) != 0);
}

/* The inline part of an allocation: a block of the size class's current
 * page, its exact size in the page's slots.  NULL: take the general path. */
WH_INLINE void *alloc_inline(wh_heap *h, size_t bytes)
{
    wh_page *pg = h->direct[(bytes + 15) >> 4];
    wh_block *b = pg->free;
    if (wh_unlikely(b == NULL)) return NULL;
    void *p = wh_page_pop(pg, b);
    if (wh_likely(p != NULL) && pg->slots) {
        uint64_t idx = ((uint64_t)((uintptr_t)p - pg->start) * pg->div) >> 40;
        pg->slots[idx] = (uint8_t)(pg->block_size - bytes);
    }
    return p;
}

/* Everything but an unserialized small allocation: the lock, the
 * heartbeat, big and zeroed blocks, failures and bad calls. */
WH_NOINLINE static void *alloc_slow(wh_heap *h, uint32_t flags, size_t bytes)
{
    if (!wh_heap_handle_ok(h)) return fail_ptr(WHEAP_ERROR_INVALID_HANDLE);
    if (flags & ~ALLOC_FLAGS) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    bool locked = wh_heap_enter(h, flags);
    if (wh_unlikely(h->countdown <= 1)) wh_heap_heartbeat(h);
    else h->countdown--;
    void *p = NULL;
    if (bytes <= WH_DIRECT_MAX && !(flags & WHEAP_HEAP_ZERO_MEMORY)) p = alloc_inline(h, bytes);
    if (!p) p = alloc_general(h, flags, bytes);
    wh_heap_leave(h, locked);
    if (wh_unlikely(!p)) return fail_no_memory(h, flags);
    return p;
}

/* A serialized small request: the lock's word taken and given back around
 * the inline pop, no mutex, no call when nobody waits. */
WH_NOINLINE static void *alloc_serialized(wh_heap *h, uint32_t flags, size_t bytes)
{
    uint32_t free_state = 0;
    if (atomic_load_explicit(&h->lock_owner, memory_order_relaxed) != wh_thread_id() &&
        atomic_compare_exchange_strong_explicit(&h->lock.state, &free_state, 1,
                                                memory_order_acquire, memory_order_relaxed)) {
        h->countdown--;
        void *p = alloc_inline(h, bytes);
        if (wh_unlikely(atomic_exchange_explicit(&h->lock.state, 0, memory_order_release) == 2))
            wh_lock_wake(&h->lock);
        if (wh_likely(p != NULL)) return p;
    }
    return alloc_slow(h, flags, bytes);
}

void *wheap_heap_alloc(wheap_heap *heap, uint32_t flags, size_t bytes)
{
    /* Inline, with no call: a small request, no flags but
     * HEAP_NO_SERIALIZE, on an unserialized heap. */
    wh_heap *h = (wh_heap *)heap;
    if (wh_likely(wh_heap_handle_ok(h) && !(flags & ~WHEAP_HEAP_NO_SERIALIZE) &&
                  bytes <= WH_DIRECT_MAX && h->countdown > 1)) {
        if (!((flags | h->options) & WHEAP_HEAP_NO_SERIALIZE) && !WH_SINGLE_THREADED())
            return alloc_serialized(h, flags, bytes);
        h->countdown--;
        void *p = alloc_inline(h, bytes);
        if (wh_likely(p != NULL)) return p;
    }
    return alloc_slow(h, flags, bytes);
}

/* ------------------------------------------------------------------------
 * Free, size, validate
 * ---------------------------------------------------------------------- */

/* Looks up a block that must belong to h (caller serialized). */
static int heap_find(wh_heap *h, const void *mem, wh_page **pg, wh_huge **hg)
{
    int rc = wh_heap_block_find((uintptr_t)mem, pg, hg);
    if (rc != WH_BLOCK_OK) return rc;
    wh_heap *owner = *pg ? (*pg)->heap : (*hg)->heap;
    return owner == h ? WH_BLOCK_OK : WH_BAD_FOREIGN;
}

WH_NOINLINE static bool free_general(wh_heap *h, void *mem)
{
    wh_page *pg;
    wh_huge *hg;
    int rc = heap_find(h, mem, &pg, &hg);
    if (rc == WH_BLOCK_OK) wh_heap_free_found(pg, hg, mem);
    else if (rc == WH_BAD_CORRUPT) wh_heap_damage(h, "block metadata", mem);
    return rc == WH_BLOCK_OK;
}

/* The owner's free of a block of h, with "this heap" for "this thread":
 * the block goes to the front of the free list, to be reused while it is
 * still cached.  False: not a live block of h at a glance (look closer). */
WH_INLINE bool free_inline(wh_heap *h, void *mem)
{
    uintptr_t a = (uintptr_t)mem;
    if (wh_unlikely((a & WH_FREE_FILTER) != 0 || !wh_segmap[a >> WH_SEG_SHIFT])) return false;
    const wh_segment *seg = (const wh_segment *)(a & ~(uintptr_t)WH_SEG_MASK);
    wh_page *pg = seg->slice_page[(a >> WH_SLICE_SHIFT) & (WH_SEG_SLICES - 1)];
    uintptr_t off = a - pg->start;
    if (wh_unlikely(pg->tid != ((uintptr_t)h | 1) || off >= pg->area)) return false;
    uint64_t *word = &pg->live[off >> 10];
    uint64_t bit = (uint64_t)1 << ((off >> 4) & 63);
    uint64_t v = *word;
    if (wh_unlikely(!(v & bit))) return false;
    *word = v ^ bit;
    wh_block *b = mem;
    b->next = (uintptr_t)pg->free ^ pg->key;
    pg->free = b;
    if (wh_unlikely((int32_t)--pg->used <= 0)) wh_heap_page_event(pg);
    return true;
}

WH_NOINLINE static bool free_slow(wh_heap *h, uint32_t flags, void *mem)
{
    if (!wh_heap_handle_ok(h)) return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    if (flags & ~(WHEAP_HEAP_NO_SERIALIZE | WHEAP_HEAP_GENERATE_EXCEPTIONS))
        return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    if (!mem) return true;
    /* The process heap also frees malloc's blocks, lock-free. */
    if ((h->flags & WH_HF_PROCESS) && wh_heap_block_heap(mem) != h)
        return wh_process_free(mem) ? true : fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    bool locked = wh_heap_enter(h, flags);
    bool ok = free_inline(h, mem) || free_general(h, mem);
    wh_heap_leave(h, locked);
    return ok ? true : fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
}

/* A serialized free: as alloc_serialized.  One that needs a closer look
 * gives the lock back and takes the general path, which locks anew. */
WH_NOINLINE static bool free_serialized(wh_heap *h, uint32_t flags, void *mem)
{
    uint32_t free_state = 0;
    if (atomic_load_explicit(&h->lock_owner, memory_order_relaxed) != wh_thread_id() &&
        atomic_compare_exchange_strong_explicit(&h->lock.state, &free_state, 1,
                                                memory_order_acquire, memory_order_relaxed)) {
        bool ok = free_inline(h, mem);
        if (wh_unlikely(atomic_exchange_explicit(&h->lock.state, 0, memory_order_release) == 2))
            wh_lock_wake(&h->lock);
        if (wh_likely(ok)) return true;
    }
    return free_slow(h, flags, mem);
}

bool wheap_heap_free(wheap_heap *heap, uint32_t flags, void *mem)
{
    wh_heap *h = (wh_heap *)heap;
    if (wh_likely(wh_heap_handle_ok(h) && !(flags & ~WHEAP_HEAP_NO_SERIALIZE))) {
        if (!((flags | h->options) & WHEAP_HEAP_NO_SERIALIZE) && !WH_SINGLE_THREADED())
            return free_serialized(h, flags, mem);
        if (wh_likely(free_inline(h, mem))) return true;
    }
    return free_slow(h, flags, mem);
}

size_t wheap_heap_size(wheap_heap *heap, uint32_t flags, const void *mem)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h)) {
        wh_set_error(WHEAP_ERROR_INVALID_HANDLE);
        return (size_t)-1;
    }
    if (flags & ~WHEAP_HEAP_NO_SERIALIZE) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return (size_t)-1;
    }
    size_t size = (size_t)-1;
    if ((h->flags & WH_HF_PROCESS) && wh_heap_block_heap(mem) != h) {
        size = wh_process_size(mem);
    } else {
        bool locked = wh_heap_enter(h, flags);
        wh_page *pg;
        wh_huge *hg;
        if (heap_find(h, mem, &pg, &hg) == WH_BLOCK_OK) size = wh_heap_found_size(pg, hg, mem);
        wh_heap_leave(h, locked);
    }
    if (size == (size_t)-1) wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
    return size;
}

bool wheap_heap_validate(wheap_heap *heap, uint32_t flags, const void *mem)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h)) return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    if (flags & ~WHEAP_HEAP_NO_SERIALIZE) return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    if ((h->flags & WH_HF_PROCESS) && (!mem || wh_heap_block_heap(mem) != h))
        return wh_process_validate(h, mem);
    bool locked = wh_heap_enter(h, flags);
    bool ok;
    if (!mem) {
        ok = wh_heap_check_all(h);
    } else {
        wh_page *pg;
        wh_huge *hg;
        int rc = heap_find(h, mem, &pg, &hg);
        if (rc == WH_BAD_CORRUPT) wh_heap_damage(h, "block metadata", mem);
        ok = rc == WH_BLOCK_OK;
    }
    wh_heap_leave(h, locked);
    return ok;
}

/* ------------------------------------------------------------------------
 * Realloc
 * ---------------------------------------------------------------------- */

static void *realloc_locked(wh_heap *h, uint32_t flags, void *mem, size_t bytes, uint32_t *err)
{
    wh_page *pg;
    wh_huge *hg;
    int rc = heap_find(h, mem, &pg, &hg);
    if (rc != WH_BLOCK_OK) {
        if (rc == WH_BAD_CORRUPT) wh_heap_damage(h, "block metadata", mem);
        *err = WHEAP_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    *err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (!request_ok(h, bytes)) return NULL;
    bool zero = (flags & WHEAP_HEAP_ZERO_MEMORY) != 0;
    bool in_place = (flags & WHEAP_HEAP_REALLOC_IN_PLACE_ONLY) != 0;
    size_t old = wh_heap_found_size(pg, hg, mem);
    size_t usable = wh_heap_found_usable(pg, hg);

    /* Shrinking by less than half, or growing within the slack: stay.  A
     * big shrink moves (unless told not to), to give the rest back. */
    bool stay = bytes <= usable && (in_place || bytes >= usable / 2 || usable <= 64);
    if (!stay && (bytes > usable || in_place) && wh_heap_block_resize_in_place(mem, bytes)) {
        /* The lookup results are stale after a resize: find it again. */
        heap_find(h, mem, &pg, &hg);
        stay = true;
    }
    if (stay) {
        wh_heap_found_set_size(pg, hg, mem, bytes);
        if (zero && bytes > old) memset((char *)mem + old, 0, bytes - old);
        return mem;
    }
    if (in_place) return NULL;
    void *p = wh_heap_alloc_exact(h, bytes, false);
    if (!p) return NULL;
    /* Allocation never frees a page with a live block: pg and hg hold. */
    memcpy(p, mem, old < bytes ? old : bytes);
    if (zero && bytes > old) memset((char *)p + old, 0, bytes - old);
    wh_heap_free_found(pg, hg, mem);
    return p;
}

void *wheap_heap_realloc(wheap_heap *heap, uint32_t flags, void *mem, size_t bytes)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h)) return fail_ptr(WHEAP_ERROR_INVALID_HANDLE);
    if ((flags & ~REALLOC_FLAGS) || !mem) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    uint32_t err = 0;
    void *p;
    if ((h->flags & WH_HF_PROCESS) && wh_heap_block_heap(mem) != h) {
        p = wh_process_realloc(flags, mem, bytes, &err);
    } else {
        bool locked = wh_heap_enter(h, flags);
        p = realloc_locked(h, flags, mem, bytes, &err);
        wh_heap_leave(h, locked);
    }
    if (p) return p;
    if (err == WHEAP_ERROR_NOT_ENOUGH_MEMORY) return fail_no_memory(h, flags);
    return fail_ptr(err);
}

/* ------------------------------------------------------------------------
 * Compact, lock, information
 * ---------------------------------------------------------------------- */

size_t wheap_heap_compact(wheap_heap *heap, uint32_t flags)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h)) {
        wh_set_error(WHEAP_ERROR_INVALID_HANDLE);
        return 0;
    }
    if (flags & ~WHEAP_HEAP_NO_SERIALIZE) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return 0;
    }
    bool locked = wh_heap_enter(h, flags);
    wh_heap_arena_collect(h, true);
    pthread_mutex_lock(&h->seg_lock);
    size_t largest = wh_heap_largest_free(h);
    pthread_mutex_unlock(&h->seg_lock);
    wh_heap_leave(h, locked);
    return largest;
}

bool wheap_heap_lock(wheap_heap *heap)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h) || (h->flags & WH_HF_ARENA))
        return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    uintptr_t me = wh_thread_id();
    if (atomic_load_explicit(&h->lock_owner, memory_order_relaxed) != me) {
        wh_lock_take(&h->lock);
        atomic_store_explicit(&h->lock_owner, me, memory_order_relaxed);
    }
    h->lock_depth++;
    return true;
}

bool wheap_heap_unlock(wheap_heap *heap)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h) || (h->flags & WH_HF_ARENA))
        return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    if (atomic_load_explicit(&h->lock_owner, memory_order_relaxed) != wh_thread_id() ||
        h->lock_depth == 0)
        return fail_bool(WHEAP_ERROR_NOT_LOCKED);
    if (--h->lock_depth == 0) {
        atomic_store_explicit(&h->lock_owner, 0, memory_order_relaxed);
        wh_lock_give(&h->lock);
    }
    return true;
}

bool wheap_heap_set_information(wheap_heap *heap, uint32_t info_class, const void *info,
                                size_t length)
{
    wh_heap *h = (wh_heap *)heap;
    if (info_class == WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION) {
        /* No data.  A NULL heap means every heap of the process. */
        if (!h) {
            wh_heap_terminate_all();
            return true;
        }
        if (!wh_heap_handle_ok(h)) return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
        bool locked = wh_heap_enter(h, 0);
        h->flags |= WH_HF_TERMINATE;
        wh_heap_leave(h, locked);
        return true;
    }
    if (info_class == WHEAP_HEAP_COMPATIBILITY_INFORMATION) {
        if (!wh_heap_handle_ok(h)) return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
        if (!info || length != sizeof(uint32_t)) return fail_bool(WHEAP_ERROR_BAD_LENGTH);
        uint32_t v;
        memcpy(&v, info, sizeof v);
        /* Every heap is low-fragmentation already; nothing else exists. */
        if (v != 2) return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
        return true;
    }
    return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
}

bool wheap_heap_query_information(wheap_heap *heap, uint32_t info_class, void *info,
                                  size_t length, size_t *return_length)
{
    wh_heap *h = (wh_heap *)heap;
    if (info_class != WHEAP_HEAP_COMPATIBILITY_INFORMATION)
        return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    if (!wh_heap_handle_ok(h)) return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    if (return_length) *return_length = sizeof(uint32_t);
    if (!info || length < sizeof(uint32_t)) return fail_bool(WHEAP_ERROR_INSUFFICIENT_BUFFER);
    uint32_t v = 2;
    memcpy(info, &v, sizeof v);
    return true;
}
