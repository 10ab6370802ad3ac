/*
 * The process heap: the one handle that stands for every malloc arena
 * (API.md, layer 2).  A block from malloc, calloc, the aligned functions or
 * C++ new can be sized, validated, reallocated and freed through it, and a
 * block it hands out can go to free.  heap.c sends every call on the
 * process heap's handle here:
 *
 *   alloc    (in heap.c) the handle's own serialized heap; its blocks go to
 *            free like any other
 *   free     wh_heap_block_free: any arena, any thread, lock-free
 *   size     usable size (at least what was asked for)
 *   realloc  in place within the block, or by the owner; else move
 *   validate one block, or every arena (see below)
 *   walk     every arena in turn, then the handle's own heap
 *
 * Arenas belong to running threads that never lock them, so validate and
 * walk read them as a snapshot: every step re-checks what it reads
 * (segment map, magic numbers, page bounds) before following it, and a
 * thread's arena is fully checked only by that thread or once abandoned.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

#define MAX_REQUEST ((size_t)PTRDIFF_MAX)

static void *process_alloc(uint32_t flags, size_t bytes)
{
    if (bytes > MAX_REQUEST) return NULL;
    wh_heap *a = wh_arena_current();
    void *p = a ? wh_arena_alloc(a, bytes) : NULL;
    if (p && (flags & WHEAP_HEAP_ZERO_MEMORY) && !wh_heap_block_is_fresh(p, bytes))
        memset(p, 0, bytes);
    return p;
}

/* Guarded malloc blocks (guard.c) live outside every heap: asked after
 * the heaps said no. */
bool wh_process_free(void *p)
{
    int why = wh_heap_block_free(p);
    if (why != WH_BLOCK_OK && wh_guard_active) {
        int g = wh_guard_free(p, "wheap_heap_free");
        if (g >= 0) why = g;
    }
    return why == WH_BLOCK_OK;
}

size_t wh_process_size(const void *p)
{
    size_t usable = wh_heap_block_usable_size(p);
    if (!usable && wh_guard_active && wh_guard_size(p, &usable) == WH_BLOCK_OK) return usable;
    return usable ? usable : (size_t)-1;
}

/* Resizes p to bytes, moving it unless in_place.  *err says why on NULL. */
void *wh_process_realloc(uint32_t flags, void *p, size_t bytes, uint32_t *err)
{
    size_t usable = wh_heap_block_usable_size(p);
    bool guarded = false;
    if (!usable && wh_guard_active) guarded = wh_guard_size(p, &usable) == WH_BLOCK_OK;
    if (!usable && !guarded) {
        *err = WHEAP_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    *err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (bytes > MAX_REQUEST) return NULL;
    bool zero = (flags & WHEAP_HEAP_ZERO_MEMORY) != 0;
    /* The process heap answers usable sizes: what fits stays. */
    if (bytes <= usable) return p;
    /* Growing in place changes the block's page: only its owner may. */
    wh_heap *a = wh_arena_current();
    if (!guarded && a &&
        ((a->flags & WH_HF_SHARED) ? wh_arena_shared_resize(a, p, bytes)
                                   : wh_heap_block_heap(p) == a &&
                                         wh_heap_block_resize_in_place(p, bytes))) {
        if (zero) memset((char *)p + usable, 0, bytes - usable);
        return p;
    }
    if (flags & WHEAP_HEAP_REALLOC_IN_PLACE_ONLY) return NULL;
    void *q = process_alloc(0, bytes);
    if (!q) return NULL;
    memcpy(q, p, usable);
    if (zero) memset((char *)q + usable, 0, bytes - usable);
    wh_process_free(p);
    return q;
}

bool wh_process_validate(wh_heap *self, const void *p)
{
    if (p) {
        int why = wh_heap_block_check(p);
        if (why != WH_BLOCK_OK && wh_guard_active) {
            int g = wh_guard_check(p);
            if (g >= 0) why = g;
        }
        return why == WH_BLOCK_OK;
    }
    bool ok = true;
    wh_heap *mine = wh_arena_get();
    for (wh_heap *a = wh_arenas_first(); a; a = wh_arena_next(a)) {
        /* Another running thread's arena changes under us: its headers
         * are checked, its lists only by itself (or once abandoned). */
        if (a == mine || (a->flags & WH_HF_ABANDONED)) ok &= wh_heap_check_all(a);
        else ok &= wh_heap_handle_ok(a);
    }
    return ok && wh_heap_check_all(self);
}

/* The heap an entry of a walk belongs to, or NULL.  Entries other than
 * regions carry it in block.mem_handle (meaningful in Win32 only for
 * PROCESS_HEAP_ENTRY_MOVEABLE blocks, which wheap never makes), so a block
 * freed since the last step still leads back to its heap. */
static wh_heap *entry_heap(const wheap_heap_entry *e)
{
    if (!(e->flags & WHEAP_PROCESS_HEAP_REGION) && e->block.mem_handle)
        return e->block.mem_handle;
    uintptr_t a = (uintptr_t)e->data;
    uintptr_t w = a >> WH_SEG_SHIFT;
    if (w < WH_SEGMAP_SIZE && wh_segmap[w]) {
        const wh_segment *seg = (const wh_segment *)(a & ~(uintptr_t)WH_SEG_MASK);
        return seg->heap;
    }
    return wh_heap_block_heap(e->data);
}

bool wh_process_walk(wh_heap *self, wheap_heap_entry *e, uint32_t *err)
{
    wh_heap *h;
    if (!e->data) {
        h = wh_arenas_first();
        if (!h) h = self;
    } else {
        h = entry_heap(e);
        if (!h || !wh_heap_handle_ok(h)) {
            *err = WHEAP_ERROR_INVALID_PARAMETER;
            return false;
        }
    }
    for (;;) {
        pthread_mutex_lock(&h->seg_lock);
        bool ok = wh_heap_walk_step(h, e, err);
        /* An arena's entry may have changed since the last step: carry on
         * from its address rather than fail (the walk is a snapshot). */
        if (!ok && *err && h != self) {
            ok = wh_heap_walk_resume(h, e);
            *err = 0;
        }
        pthread_mutex_unlock(&h->seg_lock);
        if (ok) {
            if (!(e->flags & WHEAP_PROCESS_HEAP_REGION)) e->block.mem_handle = h;
            return true;
        }
        if (*err) return false;
        /* This heap is done: on to the next arena, the handle's heap last. */
        if (h == self) return false;
        wh_heap *next = wh_arena_next(h);
        h = next ? next : self;
        memset(e, 0, sizeof *e);
    }
}
