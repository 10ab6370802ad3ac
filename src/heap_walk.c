/*
 * HeapWalk and HeapValidate: reading a heap's metadata without trusting it.
 *
 * The walk is stateless: the caller's entry (its data pointer, size and
 * flags) says where the previous step ended, and the next entry is found
 * from the segment that holds that address.  Order, as HeapWalk:
 *
 *   per segment: REGION, then busy blocks and free ranges in address order
 *   over the committed data, then its UNCOMMITTED_RANGE; then huge blocks.
 *
 * Validation checks every invariant written next to the fields in
 * internal.h, follows free lists with bounds (a damaged link is reported,
 * never followed blindly), and reports damage through wh_heap_damage.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * Walk
 * ---------------------------------------------------------------------- */

static wh_segment *segment_of(const wh_heap *h, uintptr_t a)
{
    for (wh_segment *seg = h->segments; seg; seg = seg->next)
        if (a >= (uintptr_t)seg && a < (uintptr_t)seg + seg->size) return seg;
    return NULL;
}

static bool live_bit(const wh_segment *seg, uintptr_t a)
{
    uintptr_t g = (a - (uintptr_t)seg) >> 4;
    return (seg->live[g >> 6] >> (g & 63)) & 1;
}

/* The block page covering a, or NULL. */
static const wh_page *block_page(const wh_segment *seg, uintptr_t a)
{
    const wh_page *pg = seg->slice_page[(a - (uintptr_t)seg) >> seg->slice_shift];
    if (pg == &wh_page_none || (pg->kind != WH_PK_SMALL && pg->kind != WH_PK_LARGE)) return NULL;
    return pg;
}

static uintptr_t page_end(const wh_segment *seg, const wh_page *pg)
{
    uintptr_t end = (uintptr_t)seg + ((uintptr_t)(pg->slice + pg->nslices) << seg->slice_shift);
    return end < seg->data_end ? end : seg->data_end;
}

/* Is a the start of a live block?  *span gets its block size. */
static bool busy_at(const wh_segment *seg, uintptr_t a, const wh_page **pgp, size_t *span)
{
    const wh_page *pg = block_page(seg, a);
    if (!pg || !wh_heap_page_block_ok(pg, a) || !live_bit(seg, a)) return false;
    *pgp = pg;
    *span = pg->kind == WH_PK_LARGE ? pg->area : pg->block_size;
    return true;
}

/* The first live block at or after a in committed data, else commit_end.
 * The process heap walks arenas while their threads change them, so every
 * field read here may be mid-update: nothing read is trusted to divide by,
 * to index the bitmap beyond the page, or to move a backwards. */
static uintptr_t next_busy(const wh_segment *seg, uintptr_t a)
{
    uintptr_t base = (uintptr_t)seg;
    while (a < seg->commit_end) {
        const wh_page *pg = block_page(seg, a);
        uintptr_t next_slice = base + ((((a - base) >> seg->slice_shift) + 1) << seg->slice_shift);
        if (!pg) {
            a = next_slice;
            continue;
        }
        uintptr_t start = pg->start, end = page_end(seg, pg);
        size_t bs = pg->block_size;
        if (end > seg->commit_end) end = seg->commit_end;
        if (pg->kind == WH_PK_LARGE) {
            if (a <= start && start < end && live_bit(seg, start)) return start;
        } else if (bs != 0 && start >= base && start < end) {
            uintptr_t off = a > start ? a - start : 0;
            uint64_t idx = (off + bs - 1) / bs;
            for (; idx < pg->capacity; idx++) {
                uintptr_t b = start + idx * bs;
                if (b >= end) break;
                if (live_bit(seg, b)) return b;
            }
        }
        a = end > a ? end : next_slice;
    }
    return seg->commit_end;
}

static size_t segment_committed(const wh_segment *seg)
{
    return seg->meta_committed + seg->slots_committed + (seg->commit_end - seg->data_start);
}

static void entry_region(wheap_heap_entry *e, const wh_segment *seg)
{
    memset(e, 0, sizeof *e);
    size_t committed = segment_committed(seg);
    e->data = (void *)seg;
    e->data_size = seg->size;
    e->region_index = (uint8_t)seg->index;
    e->flags = WHEAP_PROCESS_HEAP_REGION;
    e->region.committed_size = committed;
    e->region.uncommitted_size = seg->size - committed;
    e->region.first_block = (void *)seg->data_start;
    e->region.last_block = (void *)seg->data_end;
}

static bool entry_huge(const wh_heap *h, wheap_heap_entry *e, const wh_huge *hg)
{
    while (hg && !hg->live) hg = hg->next;
    if (!hg) return false;
    (void)h;
    memset(e, 0, sizeof *e);
    e->data = (void *)hg->data;
    e->data_size = wh_heap_found_size(NULL, hg, NULL);
    e->flags = WHEAP_PROCESS_HEAP_ENTRY_BUSY;
    return true;
}

/* After segment seg: the next region, else the first huge block. */
static bool after_segment(const wh_heap *h, wheap_heap_entry *e, const wh_segment *seg)
{
    if (seg->next) {
        entry_region(e, seg->next);
        return true;
    }
    return entry_huge(h, e, h->huge);
}

/* The entry that starts at pos in seg's data. */
static bool entry_at(const wh_heap *h, wheap_heap_entry *e, const wh_segment *seg, uintptr_t pos)
{
    if (pos >= seg->commit_end) {
        if (pos == seg->commit_end && seg->commit_end < seg->data_end) {
            memset(e, 0, sizeof *e);
            e->data = (void *)seg->commit_end;
            e->data_size = seg->data_end - seg->commit_end;
            e->region_index = (uint8_t)seg->index;
            e->flags = WHEAP_PROCESS_HEAP_UNCOMMITTED_RANGE;
            return true;
        }
        return after_segment(h, e, seg);
    }
    const wh_page *pg;
    size_t span;
    memset(e, 0, sizeof *e);
    e->region_index = (uint8_t)seg->index;
    if (busy_at(seg, pos, &pg, &span)) {
        size_t size = wh_heap_found_size(pg, NULL, (void *)pos);
        e->data = (void *)pos;
        e->data_size = size;
        e->overhead = (uint8_t)(span - size > 255 ? 255 : span - size);
        e->flags = WHEAP_PROCESS_HEAP_ENTRY_BUSY;
        return true;
    }
    uintptr_t end = next_busy(seg, pos);
    e->data = (void *)pos;
    e->data_size = end - pos;
    e->flags = 0;
    return true;
}

/* One step; false at the end (*err 0) or for a bad entry (*err set). */
bool wh_heap_walk_step(const wh_heap *h, wheap_heap_entry *e, uint32_t *err)
{
    *err = 0;
    if (!e->data) {
        if (!h->segments) return entry_huge(h, e, h->huge);
        entry_region(e, h->segments);
        return true;
    }
    uintptr_t a = (uintptr_t)e->data;
    if (e->flags & WHEAP_PROCESS_HEAP_REGION) {
        const wh_segment *seg = segment_of(h, a);
        if (!seg || a != (uintptr_t)seg) goto bad;
        return entry_at(h, e, seg, seg->data_start);
    }
    const wh_segment *seg = segment_of(h, a);
    if (!seg) {
        /* A huge block: the one after it. */
        for (const wh_huge *hg = h->huge; hg; hg = hg->next)
            if (hg->data == a) return entry_huge(h, e, hg->next);
        goto bad;
    }
    if (a < seg->data_start || a > seg->data_end) goto bad;
    if (e->flags & WHEAP_PROCESS_HEAP_UNCOMMITTED_RANGE) return after_segment(h, e, seg);
    if (e->flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY) {
        const wh_page *pg = block_page(seg, a);
        if (!pg || !wh_heap_page_block_ok(pg, a)) goto bad;
        size_t span = pg->kind == WH_PK_LARGE ? pg->area : pg->block_size;
        return entry_at(h, e, seg, a + span);
    }
    if (e->data_size == 0 || a + e->data_size > seg->commit_end) goto bad;
    return entry_at(h, e, seg, a + e->data_size);
bad:
    *err = WHEAP_ERROR_INVALID_PARAMETER;
    return false;
}

bool wh_heap_walk_resume(const wh_heap *h, wheap_heap_entry *e)
{
    uintptr_t a = (uintptr_t)e->data;
    const wh_segment *seg = segment_of(h, a);
    if (!seg) return false;
    if (e->flags & WHEAP_PROCESS_HEAP_REGION) return entry_at(h, e, seg, seg->data_start);
    uintptr_t pos = a < seg->data_start ? seg->data_start : wh_align_up(a + 1, WH_GRANULE);
    return entry_at(h, e, seg, pos);
}

bool wheap_heap_walk(wheap_heap *heap, wheap_heap_entry *entry)
{
    wh_heap *h = (wh_heap *)heap;
    if (!wh_heap_handle_ok(h)) {
        wh_set_error(WHEAP_ERROR_INVALID_HANDLE);
        return false;
    }
    if (!entry) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return false;
    }
    uint32_t err;
    bool ok;
    if (h->flags & WH_HF_PROCESS) {
        /* Every arena, then the handle's own heap (process_heap.c). */
        bool locked = wh_heap_enter(h, 0);
        ok = wh_process_walk(h, entry, &err);
        wh_heap_leave(h, locked);
    } else {
        bool locked = wh_heap_enter(h, 0);
        pthread_mutex_lock(&h->seg_lock);
        ok = wh_heap_walk_step(h, entry, &err);
        pthread_mutex_unlock(&h->seg_lock);
        wh_heap_leave(h, locked);
    }
    if (!ok) wh_set_error(err ? err : WHEAP_ERROR_NO_MORE_ITEMS);
    return ok;
}

/* ------------------------------------------------------------------------
 * Validate
 * ---------------------------------------------------------------------- */

typedef struct checker {
    wh_heap    *h;
    const char *what;
    const void *where;
    bool        tolerate_damaged;   /* *_is_valid: a page already reported is fine */
} checker;

static bool fail(checker *c, const char *what, const void *where)
{
    if (!c->what) {
        c->what = what;
        c->where = where;
    }
    return false;
}

/* Follows one free list of pg: every link a carved, non-live block of pg,
 * at most capacity of them.  Returns the length, or -1. */
static long list_length(checker *c, const wh_segment *seg, const wh_page *pg, const wh_block *b)
{
    long n = 0;
    while (b) {
        uintptr_t a = (uintptr_t)b;
        if (!wh_heap_page_block_ok(pg, a)) return fail(c, "free list link", b), -1;
        if (live_bit(seg, a)) return fail(c, "free block marked live", b), -1;
        if (++n > (long)pg->capacity) return fail(c, "free list cycle", b), -1;
        b = (const wh_block *)(b->next ^ pg->key);
    }
    return n;
}

static const wh_segment *page_segment_of(const wh_page *pg)
{
    return (const wh_segment *)((uintptr_t)pg & ~(uintptr_t)WH_SEG_MASK);
}

static bool check_page(checker *c, const wh_segment *seg, const wh_page *pg)
{
    if (pg->heap != c->h) return fail(c, "page heap", pg);
    uintptr_t end = page_end(seg, pg);
    uintptr_t first = (uintptr_t)seg + ((uintptr_t)pg->slice << seg->slice_shift);
    if (pg->start < first || pg->start < seg->data_start || (pg->start & 1023))
        return fail(c, "page start", pg);
    if (pg->start + pg->area != end || end > seg->commit_end) return fail(c, "page area", pg);
    uint32_t used = pg->used & ~WH_PAGE_FULL;
    if (pg->flags & WH_PF_CURRENT) {
        if (pg->kind != WH_PK_SMALL || used == 0 || c->h->current[pg->bin] != pg ||
            c->h->bins[pg->bin].first != pg)
            return fail(c, "current page", pg);
        used--;
    }
    if (pg->kind == WH_PK_LARGE) {
        if (pg->reserved != 1 || pg->capacity != 1 || used > 1) return fail(c, "large page", pg);
        if (used != (uint32_t)live_bit(seg, pg->start) &&
            !atomic_load_explicit(&pg->thread_free, memory_order_relaxed))
            return fail(c, "large page live bit", pg);
        return true;
    }
    if (pg->bin < 1 || pg->bin > WH_BIN_SMALL_MAX || pg->block_size != wh_heap_bin_size(pg->bin))
        return fail(c, "page size class", pg);
    if (pg->reserved != pg->area / pg->block_size || pg->capacity > pg->reserved)
        return fail(c, "page capacity", pg);
    if ((pg->flags & WH_PF_DAMAGED) && c->tolerate_damaged) return true;
    long nf = list_length(c, seg, pg, pg->free);
    long nl = list_length(c, seg, pg, pg->local_free);
    if (nf < 0 || nl < 0) return false;
    if (pg->flags & WH_PF_DAMAGED) return c->tolerate_damaged || fail(c, "page marked damaged", pg);
    if ((uint64_t)nf + (uint64_t)nl + used != pg->capacity) return fail(c, "page block count", pg);
    uint32_t live = 0;
    for (uint32_t i = 0; i < pg->capacity; i++)
        live += live_bit(seg, pg->start + (uintptr_t)i * pg->block_size);
    if (live > used) return fail(c, "page live count", pg);
    return true;
}

static bool check_segment(checker *c, const wh_segment *seg)
{
    uintptr_t base = (uintptr_t)seg;
    if (seg->heap != c->h || seg->size == 0 || seg->size > WH_SEG_SIZE ||
        seg->slice_shift < 12 || seg->slice_shift > WH_SLICE_SHIFT ||
        seg->nslices != (seg->size + ((size_t)1 << seg->slice_shift) - 1) >> seg->slice_shift)
        return fail(c, "segment header", seg);
    if (!(base < seg->data_start && seg->data_start <= seg->commit_end &&
          seg->commit_end <= seg->data_end && seg->data_end < base + seg->size))
        return fail(c, "segment bounds", seg);
    uint32_t free_slices = 0;
    for (uint32_t i = 0; i < WH_SEG_SLICES; i++) {
        const wh_page *sp = seg->slice_page[i];
        if (i < seg->first_slice || i > seg->last_slice) {
            if (sp != &wh_page_none) return fail(c, "slice map outside data", seg);
            continue;
        }
        const wh_page *e = &seg->pages[i];
        if (e->slice != i) return fail(c, "slice entry", e);
        if (e->kind == WH_PK_FREE) {
            free_slices += e->state != WH_SS_BUSY;
            if (sp != &wh_page_none) return fail(c, "free slice mapped", e);
            continue;
        }
        if (e->kind == WH_PK_TAIL) {
            if (sp == &wh_page_none || sp->slice >= i || sp->slice + sp->nslices <= i)
                return fail(c, "page tail", e);
            continue;
        }
        if (e->kind != WH_PK_SMALL && e->kind != WH_PK_LARGE) return fail(c, "slice kind", e);
        if (sp != e || e->nslices == 0 || i + e->nslices - 1 > seg->last_slice)
            return fail(c, "page span", e);
        for (uint32_t k = i + 1; k < i + e->nslices; k++)
            if (seg->slice_page[k] != e) return fail(c, "page span map", e);
        if (!check_page(c, seg, e)) return false;
    }
    if (free_slices != seg->free_slices) return fail(c, "free slice count", seg);
    return true;
}

/* bin: the queue's size class; WH_BIN_LARGE: the large pages (always
 * flagged full); 0: the full queue. */
static bool check_queue(checker *c, const wh_page_queue *q, unsigned bin, size_t limit)
{
    const wh_page *prev = NULL;
    size_t n = 0;
    for (const wh_page *pg = q->first; pg; pg = pg->next) {
        if (++n > limit) return fail(c, "page queue cycle", q);
        if (pg->prev != prev) return fail(c, "page queue link", pg);
        if (block_page(page_segment_of(pg), pg->start) != pg || pg->heap != c->h)
            return fail(c, "queued page", pg);
        bool full = (pg->used & WH_PAGE_FULL) != 0;
        if (bin != 0 && pg->bin != bin) return fail(c, "page in the wrong queue", pg);
        if (full != (bin == 0 || bin == WH_BIN_LARGE)) return fail(c, "full page flag", pg);
        prev = pg;
    }
    if (q->last != prev) return fail(c, "page queue tail", q);
    return true;
}

static bool check_heap(checker *c0, wh_heap *h)
{
    checker c = *c0;
    bool ok = true;
    if (h->magic != (wh_heap_secret ^ (uintptr_t)h ^ WH_HEAP_MAGIC)) {
        *c0 = (checker){ h, "heap header", h, c0->tolerate_damaged };
        return false;
    }
    pthread_mutex_lock(&h->seg_lock);
    size_t pages = 0;
    for (wh_segment *seg = h->segments; seg && ok; seg = seg->next) {
        uintptr_t w = (uintptr_t)seg >> WH_SEG_SHIFT;
        if (((uintptr_t)seg & WH_SEG_MASK) || w >= WH_SEGMAP_SIZE || !wh_segmap[w]) {
            ok = fail(&c, "segment list", seg);
            break;
        }
        ok = check_segment(&c, seg);
        pages += seg->nslices;
    }
    for (unsigned b = 1; ok && b <= WH_BIN_LARGE; b++) ok = check_queue(&c, &h->bins[b], b, pages);
    if (ok) ok = check_queue(&c, &h->full, 0, pages);
    for (unsigned b = 1; ok && b <= WH_BIN_SMALL_MAX; b++)
        if (h->current[b] != h->bins[b].first ||
            (h->current[b] && !(h->current[b]->flags & WH_PF_CURRENT)))
            ok = fail(&c, "current page table", &h->current[b]);
    for (unsigned i = 0; ok && i < WH_DIRECT_SLOTS; i++) {
        unsigned bin = wh_bin_of(i ? i * 16 : 1);
        const wh_page *want = h->bins[bin].first ? h->bins[bin].first : &wh_page_empty;
        if (h->direct[i] != want) ok = fail(&c, "direct table", &h->direct[i]);
    }
    size_t n = 0;
    for (wh_huge *hg = h->huge; ok && hg; hg = hg->next) {
        if (++n > ((size_t)1 << 32) || hg->heap != h || hg->base != (uintptr_t)hg ||
            hg->data < hg->base || hg->data + hg->committed > hg->base + hg->reserved ||
            (hg->next && hg->next->prev != hg))
            ok = fail(&c, "huge block header", hg);
    }
    pthread_mutex_unlock(&h->seg_lock);
    *c0 = c;
    return ok;
}

bool wh_heap_check_all(wh_heap *h)
{
    checker c = { .h = h };
    bool ok = check_heap(&c, h);
    if (!ok) wh_heap_damage(h, c.what, c.where);
    return ok;
}

bool wh_heap_is_valid(wh_heap *h)
{
    checker c = { .h = h, .tolerate_damaged = true };
    return check_heap(&c, h);
}

bool wh_page_is_valid(const wh_page *pg)
{
    checker c = { .h = pg->heap, .tolerate_damaged = true };
    return check_page(&c, page_segment_of(pg), pg);
}

bool wh_segment_is_valid(const wh_segment *seg)
{
    checker c = { .h = seg->heap, .tolerate_damaged = true };
    return check_segment(&c, seg);
}
