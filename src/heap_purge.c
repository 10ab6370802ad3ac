/*
 * Giving memory back: free slices of a heap's segments go through
 *
 *   DIRTY ──(purge_delay_ms)──> RESET (MEM_RESET: MADV_FREE, cheap to reuse)
 *         ──(decommit_delay_ms more)──> PURGED (MADV_DONTNEED: RSS falls)
 *
 * and segments whose slices have all been free for long are released.
 * wheap_heap_compact and malloc_trim (force) do all of it at once and also
 * decommit the free slices at the top of each segment's committed data, so
 * that the commit charge falls too.  Purges run from slow paths (a coarse
 * clock read there, never on a fast path) and, for arenas of idle threads,
 * from other threads' slow paths (wh_heap_purge_tick).
 *
 *   wh_heap_purge ─┬─ purge_batch ── wh_vm_reset / wh_vm_purge (lock dropped)
 *                  ├─ lower_frontier ── wh_vm_decommit (force only)
 *                  ├─ wh_heap_segment_release
 *                  └─ wh_heap_huge_purge
 *
 * While a purger's system call runs, its slices are marked WH_SS_BUSY and
 * used, so the owner, which may take slices meanwhile, leaves them alone.
 *
 * With background_purge=1 a thread of ours runs wh_heap_purge_idle every
 * few milliseconds, so that even a process that stopped calling the
 * allocator gives its free memory back.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <time.h>

uint64_t wh_heap_now_ms(void)
{
    /* The coarse clock is a vDSO read of the last tick: no system call. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Segments empty this long (after their slices were freed) are released. */
static uint64_t release_delay_ms(const wh_options *o)
{
    return o->purge_delay_ms + 4 * o->decommit_delay_ms;
}

enum { OP_NONE, OP_RESET, OP_PURGE };

typedef struct purge_work {
    wh_segment *seg;
    uint32_t    s, n;          /* slices */
    uint8_t     op;
} purge_work;

#define PURGE_BATCH 32

/* What a free slice needs now, and when it next needs something. */
static int slice_op(const wh_page *e, uint64_t now, bool force, const wh_options *o,
                    uint64_t *next_due)
{
    if (e->kind != WH_PK_FREE) return OP_NONE;
    if (e->state == WH_SS_PURGED || e->state == WH_SS_BUSY) return OP_NONE;
    uint64_t reset_at = e->stamp + o->purge_delay_ms;
    uint64_t purge_at = reset_at + o->decommit_delay_ms;
    if (force || purge_at <= now) return OP_PURGE;
    if (e->state == WH_SS_DIRTY && reset_at <= now) {
        if (purge_at < *next_due) *next_due = purge_at;
        return OP_RESET;
    }
    uint64_t at = e->state == WH_SS_DIRTY ? reset_at : purge_at;
    if (at < *next_due) *next_due = at;
    return OP_NONE;
}

/* Collects runs of slices that need the same operation, marks them busy.
 * seg_lock held.  Returns the number of runs. */
static unsigned purge_collect(wh_heap *h, uint64_t now, bool force, uint64_t *next_due,
                              purge_work *work)
{
    const wh_options *o = wh_options_get();
    unsigned count = 0;
    for (wh_segment *seg = h->segments; seg && count < PURGE_BATCH; seg = seg->next) {
        if (seg->purgeable == 0) continue;
        uint32_t i = seg->first_slice;
        while (i <= seg->last_slice && count < PURGE_BATCH) {
            int op = slice_op(&seg->pages[i], now, force, o, next_due);
            if (op == OP_NONE) {
                i++;
                continue;
            }
            uint32_t j = i + 1;
            while (j <= seg->last_slice && slice_op(&seg->pages[j], now, force, o, next_due) == op)
                j++;
            /* Only what is committed needs a system call. */
            uintptr_t start, end;
            wh_heap_slices_range(seg, i, j - i, &start, &end);
            if (start < seg->commit_end) {
                for (uint32_t k = i; k < j; k++) {
                    seg->pages[k].state = WH_SS_BUSY;
                    seg->used_map[k >> 6] |= (uint64_t)1 << (k & 63);
                }
                seg->free_slices -= j - i;
                work[count++] = (purge_work){ seg, i, j - i, (uint8_t)op };
            } else {
                for (uint32_t k = i; k < j; k++) {
                    seg->pages[k].state = WH_SS_PURGED;
                    seg->purgeable--;
                }
            }
            i = j;
        }
    }
    return count;
}

/* Runs the system calls of a batch (seg_lock not held), then gives the
 * slices back in their new state (seg_lock held again).  Adds the bytes
 * reset and purged to *reset and *purged. */
static void purge_run(wh_heap *h, purge_work *work, unsigned count, size_t *reset,
                      size_t *purged)
{
    uint32_t ok[PURGE_BATCH];
    pthread_mutex_unlock(&h->seg_lock);
    for (unsigned w = 0; w < count; w++) {
        uintptr_t start, end;
        wh_heap_slices_range(work[w].seg, work[w].s, work[w].n, &start, &end);
        if (end > work[w].seg->commit_end) end = work[w].seg->commit_end;
        uint32_t err = work[w].op == OP_RESET ? wh_vm_reset((void *)start, end - start)
                                              : wh_vm_purge((void *)start, end - start);
        ok[w] = err == 0;
        if (ok[w]) *(work[w].op == OP_RESET ? reset : purged) += end - start;
    }
    pthread_mutex_lock(&h->seg_lock);
    for (unsigned w = 0; w < count; w++) {
        wh_segment *seg = work[w].seg;
        for (uint32_t k = work[w].s; k < work[w].s + work[w].n; k++) {
            wh_page *e = &seg->pages[k];
            e->state = !ok[w] ? WH_SS_DIRTY : work[w].op == OP_RESET ? WH_SS_RESET : WH_SS_PURGED;
            if (e->state == WH_SS_PURGED) seg->purgeable--;
            seg->used_map[k >> 6] &= ~((uint64_t)1 << (k & 63));
        }
        seg->free_slices += work[w].n;
    }
}

/* Decommits the free slices at the top of seg's committed data: the commit
 * charge falls and the mapping count stays (the reserved rest grows).
 * seg_lock held (a rare system call under it: compaction only). */
static void lower_frontier(wh_heap *h, wh_segment *seg)
{
    if (seg->commit_end <= seg->data_start) return;
    uint32_t top = (uint32_t)((seg->commit_end - 1 - (uintptr_t)seg) >> seg->slice_shift);
    uint32_t i = top + 1;
    while (i > seg->first_slice && seg->pages[i - 1].kind == WH_PK_FREE &&
           seg->pages[i - 1].state != WH_SS_BUSY)
        i--;
    if (i > top) return;
    uintptr_t start, end;
    wh_heap_slices_range(seg, i, 1, &start, &end);
    size_t page = wh_os_page_size();
    start = wh_align_up(start, page);
    if (start >= seg->commit_end) return;
    if (wh_vm_decommit((void *)start, seg->commit_end - start) != 0) return;
    h->committed -= seg->commit_end - start;
    seg->commit_end = start;
    for (uint32_t k = i; k <= top; k++) {
        if (seg->pages[k].state != WH_SS_PURGED) seg->purgeable--;
        seg->pages[k].state = WH_SS_PURGED;
    }
}

/* An empty segment may go once no page entry of it can still be reached
 * from the heap's remote queue. */
static bool segment_releasable(const wh_segment *seg)
{
    if (seg->primary || seg->free_slices != seg->last_slice - seg->first_slice + 1) return false;
    for (uint32_t i = seg->first_slice; i <= seg->last_slice; i++)
        if (atomic_load_explicit(&seg->pages[i].remote_queued, memory_order_acquire)) return false;
    return true;
}

/* Bytes of free slices not yet purged (resident or MADV_FREE). */
static size_t heap_purgeable_bytes(const wh_heap *h)
{
    size_t n = 0;
    for (const wh_segment *seg = h->segments; seg; seg = seg->next)
        n += (size_t)seg->purgeable << seg->slice_shift;
    return n;
}

void wh_heap_purge(wh_heap *h, uint64_t now, bool force)
{
    const wh_options *o = wh_options_get();
    pthread_mutex_lock(&h->seg_lock);
    if (!force && now < h->purge_due) {
        pthread_mutex_unlock(&h->seg_lock);
        return;
    }
    /* mallopt(M_TRIM_THRESHOLD): a heap keeps up to this many bytes of free
     * pages as they are; past it, the delays apply to all of them.  The
     * next slice freed sets a new due time. */
    size_t keep = __atomic_load_n(&o->trim_threshold, __ATOMIC_RELAXED);
    if (!force && keep && heap_purgeable_bytes(h) <= keep) {
        h->purge_due = UINT64_MAX;
        pthread_mutex_unlock(&h->seg_lock);
        return;
    }
    size_t committed_before = h->committed, reserved_before = h->reserved;
    size_t reset = 0, purged = 0;
    uint64_t next = UINT64_MAX;
    purge_work work[PURGE_BATCH];
    unsigned n;
    while ((n = purge_collect(h, now, force, &next, work)) != 0)
        purge_run(h, work, n, &reset, &purged);

    if (!(h->flags & WH_HF_FIXED)) {
        uint64_t rd = release_delay_ms(o);
        for (wh_segment *seg = h->segments; seg;) {
            wh_segment *nx = seg->next;
            if (segment_releasable(seg)) {
                if (force || seg->empty_since + rd <= now) {
                    wh_heap_segment_release(h, seg);
                    nx = h->segments;   /* the list may have changed meanwhile */
                } else if (seg->empty_since + rd < next) {
                    next = seg->empty_since + rd;
                }
            }
            seg = nx;
        }
    }
    if (force)
        for (wh_segment *seg = h->segments; seg; seg = seg->next) lower_frontier(h, seg);
    wh_heap_huge_purge(h, now, force, &next);
    h->purge_due = next;
    size_t committed_after = h->committed, reserved_after = h->reserved;
    pthread_mutex_unlock(&h->seg_lock);
    /* One line per round that gave memory back: reset (MADV_FREE), purged
     * (MADV_DONTNEED: RSS falls), decommitted and released. */
    if (purged || committed_after < committed_before || reserved_after < reserved_before)
        wh_verbose("heap %p: purge%s: reset %zu KiB, purged %zu KiB, committed %zu -> %zu KiB, "
                   "reserved %zu -> %zu KiB",
                   (void *)h, force ? " (trim)" : "", reset >> 10, purged >> 10,
                   committed_before >> 10, committed_after >> 10, reserved_before >> 10,
                   reserved_after >> 10);
}

size_t wh_heap_largest_free(wh_heap *h)
{
    size_t best = 0;
    for (wh_segment *seg = h->segments; seg; seg = seg->next) {
        uint32_t i = seg->first_slice;
        while (i <= seg->last_slice) {
            const wh_page *e = &seg->pages[i];
            if (e->kind == WH_PK_SMALL) {
                /* A free block, or the page's committed tail not yet carved. */
                size_t tail = (size_t)(e->reserved - e->capacity) * e->block_size;
                if (e->free || e->local_free) tail = tail > e->block_size ? tail : e->block_size;
                if (tail > best) best = tail;
            }
            if (e->kind != WH_PK_FREE) {
                i++;
                continue;
            }
            uint32_t j = i;
            while (j <= seg->last_slice && seg->pages[j].kind == WH_PK_FREE) j++;
            uintptr_t start, end;
            wh_heap_slices_range(seg, i, j - i, &start, &end);
            if (end > seg->commit_end) end = seg->commit_end;
            if (end > start && end - start > best) best = end - start;
            i = j;
        }
    }
    return best;
}

/* ------------------------------------------------------------------------
 * The background purger
 * ---------------------------------------------------------------------- */

static _Atomic int purger_started;

static void *purger_main(void *arg)
{
    (void)arg;
    const wh_options *o = wh_options_get();
    uint64_t ms = o->purge_delay_ms / 2;
    if (ms < 5) ms = 5;
    if (ms > 100) ms = 100;
    for (;;) {
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0) {}
        wh_heap_purge_idle();
    }
    return NULL;
}

void wh_heap_background_start(void)
{
    if (!wh_options_get()->background_purge) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&purger_started, &expected, 1)) return;
    if (wh_os_start_daemon(purger_main) != 0) atomic_store(&purger_started, 0);
}

void wh_heap_background_forked(void)
{
    /* Threads do not survive fork: the next start makes a new purger. */
    atomic_store(&purger_started, 0);
}
