/*
 * Layer 2 engine: segments, slices, pages and blocks.  Both the public heaps
 * (heap.c) and the malloc layer's arenas run on it.
 *
 *   wh_heap_arena_alloc (inline) ── wh_heap_alloc_slow
 *       ├─ heap_heartbeat ── collect_remote_pages, purges when due
 *       ├─ alloc_bin ── bin_find_page ── page_refill, page_extend
 *       │                  └─ page_new ── slices_take ── segment_new, segment_commit_to
 *       ├─ alloc_large ── page_new (one-block page)
 *       └─ huge_alloc ── wh_vm_reserve (a reservation per block)
 *   wh_heap_block_free (inline) ── wh_heap_page_event ── page_retire ── page_free
 *       └─ wh_heap_block_free_slow ── wh_heap_block_find
 *              ├─ remote_free (another thread's arena: bitmap CAS, thread_free push)
 *              ├─ locked_free (a public heap: its lock, then the owner's free)
 *              └─ huge_free
 *
 * Who may touch what: a page's free, local_free, used and capacity belong
 * to the heap's owner (the arena's thread, or whoever holds a public heap's
 * lock); thread_free and remote_queued are atomics for everyone; slices,
 * segments, the huge list and the counters are under the heap's seg_lock,
 * because purgers on other threads change them too.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <sys/auxv.h>

/* ------------------------------------------------------------------------
 * Globals
 * ---------------------------------------------------------------------- */

wh_page wh_page_empty;                       /* free == NULL: alloc goes slow */
wh_page wh_page_none;                        /* tid 0, area 0: free goes slow */
uint8_t wh_segmap[WH_SEGMAP_SIZE];
uintptr_t wh_heap_secret;

#define WH_SEG_MAGIC  ((uint64_t)0x5345474d454e5431)   /* "SEGMENT1" */
#define WH_HUGE_MAGIC ((uint64_t)0x48554745424c4b31)   /* "HUGEBLK1" */

/* Public heaps, arenas (never freed, so other threads may walk the list
 * without a lock) and abandoned arenas. */
static pthread_mutex_t heaps_mutex = PTHREAD_MUTEX_INITIALIZER;
static wh_heap *heaps_first;                     /* public heaps, doubly linked */
static wh_heap *_Atomic arenas_first;            /* all arenas, push only */
static wh_heap *abandoned_first;                 /* under heaps_mutex */
static pthread_once_t heap_once = PTHREAD_ONCE_INIT;

void wh_heaps_lock(void) { pthread_mutex_lock(&heaps_mutex); }
void wh_heaps_unlock(void) { pthread_mutex_unlock(&heaps_mutex); }
wh_heap *wh_heaps_first(void) { return heaps_first; }
wh_heap *wh_arenas_first(void) { return atomic_load_explicit(&arenas_first, memory_order_acquire); }
wh_heap *wh_arena_next(const wh_heap *h) { return h->list_next; }

static void heap_global_init(void)
{
    /* The kernel hands every process 16 random bytes (AT_RANDOM): the
     * secret costs no system call and differs between runs. */
    uintptr_t s = 0;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    if (r) memcpy(&s, r + 8, sizeof s);
    s ^= (uintptr_t)&s * 0x9E3779B97F4A7C15u;
    wh_heap_secret = s | 1;
    wh_page_none.kind = WH_PK_META;
    wh_page_empty.kind = WH_PK_META;
    (void)wh_options_get();
}

static uint64_t seg_magic(const wh_segment *seg)
{
    return wh_heap_secret ^ (uintptr_t)seg ^ WH_SEG_MAGIC;
}

static uint64_t huge_magic(const wh_huge *hg)
{
    return wh_heap_secret ^ (uintptr_t)hg ^ WH_HUGE_MAGIC;
}

static uint64_t heap_magic(const wh_heap *h)
{
    return wh_heap_secret ^ (uintptr_t)h ^ WH_HEAP_MAGIC;
}

static _Atomic bool terminate_all;

void wh_heap_terminate_all(void)
{
    atomic_store(&terminate_all, true);
}

void wh_heap_damage(const wh_heap *h, const char *what, const void *where)
{
    if ((h && (h->flags & WH_HF_TERMINATE)) || atomic_load(&terminate_all))
        wh_fatal("heap %p is corrupted: %s at %p", (const void *)h, what, where);
    if (wh_options_get()->verbose)
        wh_message("heap %p is corrupted: %s at %p", (const void *)h, what, where);
}

/* ------------------------------------------------------------------------
 * Size classes
 * ---------------------------------------------------------------------- */

/* 16 .. 128 in steps of 16, then four classes per power of two:
 * (5, 6, 7, 8) << k.  A request wastes at most a quarter of its class. */
static size_t bin_block_size(unsigned bin)
{
    if (bin <= 8) return (size_t)bin * 16;
    unsigned k = bin - 9, e = 7 + k / 4, m = k % 4;
    return (size_t)(5 + m) << (e - 2);
}

size_t wh_heap_bin_size(unsigned bin)
{
    return bin_block_size(bin);
}

/* Slices per page of bin, for slices of 1 << shift bytes: room for eight
 * blocks, at most 512 KiB (but at least one block); *n_min: one block. */
static uint32_t bin_slices(unsigned bin, uint32_t shift, uint32_t *n_min)
{
    size_t bs = bin_block_size(bin), slice = (size_t)1 << shift;
    uint32_t lo = (uint32_t)((bs + slice - 1) >> shift);
    uint32_t n = (uint32_t)((bs * 8 + slice - 1) >> shift);
    uint32_t cap = (uint32_t)(((size_t)512 << 10) >> shift);
    if (cap < lo) cap = lo;
    if (n > cap) n = cap;
    *n_min = lo;
    return n;
}

/* Size-slot bytes per slice: a byte per 16 bytes of data. */
static size_t slot_bytes(uint32_t shift)
{
    return ((size_t)1 << shift) / WH_GRANULE;
}

/* A fixed heap of one small window uses slices fine enough for 512 of
 * them to cover it (4 KiB at least); everything else uses 64 KiB. */
static uint32_t heap_slice_shift(size_t first_window, bool fixed)
{
    uint32_t shift = 12;
    if (!fixed) return WH_SLICE_SHIFT;
    while (shift < WH_SLICE_SHIFT && ((size_t)WH_SEG_SLICES << shift) < first_window) shift++;
    return shift;
}

/* The direct table slots (size + 15) / 16 that map to bin. */
static void bin_direct_range(unsigned bin, unsigned *lo, unsigned *hi)
{
    size_t bs = bin_block_size(bin);
    *lo = bin == 1 ? 0 : (unsigned)(bin_block_size(bin - 1) / 16 + 1);
    *hi = bs <= WH_DIRECT_MAX ? (unsigned)(bs / 16) : 0;
    if (*hi < *lo) *hi = *lo - 1;     /* empty */
}

static void page_unqueue(wh_heap *h, wh_page *pg);
static void page_free(wh_heap *h, wh_page *pg);

/* After any change to bin's queue: its head becomes the current page (the
 * one the direct table names, holding the extra count); a page that stops
 * being current and turns out empty goes back to its segment. */
static void set_direct(wh_heap *h, unsigned bin)
{
    if (bin > WH_BIN_SMALL_MAX) return;
    wh_page *head = h->bins[bin].first;
    wh_page *old = h->current[bin];
    if (old != head) {
        h->current[bin] = head;
        if (head) {
            head->flags |= WH_PF_CURRENT;
            head->used++;
        }
        if (old) {
            old->flags &= ~WH_PF_CURRENT;
            if (--old->used == 0) {          /* not full, so still queued */
                page_unqueue(h, old);
                page_free(h, old);
            }
        }
    }
    unsigned lo, hi;
    bin_direct_range(bin, &lo, &hi);
    wh_page *pg = head ? head : &wh_page_empty;
    for (unsigned i = lo; i <= hi && i < WH_DIRECT_SLOTS; i++) h->direct[i] = pg;
}

/* pg stops being current without a successor chosen yet. */
static void page_drop_current(wh_heap *h, wh_page *pg)
{
    if (!(pg->flags & WH_PF_CURRENT)) return;
    pg->flags &= ~WH_PF_CURRENT;
    pg->used--;
    h->current[pg->bin] = NULL;
}

/* ------------------------------------------------------------------------
 * Page queues
 * ---------------------------------------------------------------------- */

static void queue_remove(wh_page_queue *q, wh_page *pg)
{
    if (pg->prev) pg->prev->next = pg->next;
    else q->first = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    else q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

static void queue_push_front(wh_page_queue *q, wh_page *pg)
{
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first) q->first->prev = pg;
    else q->last = pg;
    q->first = pg;
}

static void queue_push_back(wh_page_queue *q, wh_page *pg)
{
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last) q->last->next = pg;
    else q->first = pg;
    q->last = pg;
}

/* ------------------------------------------------------------------------
 * Segment layout
 * ---------------------------------------------------------------------- */

typedef struct seg_layout {
    size_t heap_off;      /* the heap struct (first segment), else 0 */
    size_t pages_off;
    size_t live_off;
    size_t meta_commit;   /* [0, meta_commit) committed at creation */
    size_t slots_off;     /* exact heaps: slot_bytes() per slice */
    size_t data_start;    /* offsets from the segment base */
    size_t data_end;
    uint32_t nslices, first_slice, last_slice;
} seg_layout;

static bool seg_layout_make(size_t size, bool primary, uint32_t hflags, uint32_t shift,
                            seg_layout *l)
{
    bool exact = (hflags & WH_HF_EXACT) != 0;
    size_t page = wh_os_page_size();
    size_t off = sizeof(wh_segment);
    memset(l, 0, sizeof *l);
    l->nslices = (uint32_t)((size + ((size_t)1 << shift) - 1) >> shift);
    if (primary) {
        off = wh_align_up(off, 64);
        l->heap_off = off;
        off += sizeof(wh_heap);
    }
    off = wh_align_up(off, 64);
    l->pages_off = off;
    off += (size_t)l->nslices * sizeof(wh_page);
    off = wh_align_up(off, 64);
    l->live_off = off;
    off += wh_align_up(size / (WH_GRANULE * 8), 8);
    off = wh_align_up(off, page);
    l->meta_commit = off;
    l->slots_off = off;
    /* The slot area is sized for every slice (a bound: data slices are
     * fewer); what lies past the real need stays reserved, next to the
     * guard page. */
    if (exact) off = wh_align_up(off + (size_t)l->nslices * slot_bytes(shift), page);
    off += page;                                    /* the guard page */
    /* Growable heaps start their data on a slice (aligned blocks need it;
     * the gap is address space only); fixed heaps waste no room. */
    bool align = size >= ((size_t)1 << 20) && !(hflags & WH_HF_FIXED);
    l->data_start = align ? wh_align_up(off, (size_t)1 << shift) : off;
    l->data_end = size - page;                      /* the end guard page */
    if (l->data_start + page > l->data_end) return false;
    l->first_slice = (uint32_t)(l->data_start >> shift);
    l->last_slice = (uint32_t)((l->data_end - 1) >> shift);
    return true;
}

/* Bytes of data a segment of this size holds. */
static size_t seg_data_bytes(size_t size, bool primary, uint32_t hflags)
{
    seg_layout l;
    return seg_layout_make(size, primary, hflags, WH_SLICE_SHIFT, &l) ? l.data_end - l.data_start
                                                                    : 0;
}

static uint32_t heap_protect(const wh_heap *h)
{
    return (h->options & WHEAP_HEAP_CREATE_ENABLE_EXECUTE) ? WHEAP_PAGE_EXECUTE_READWRITE
                                                         : WHEAP_PAGE_READWRITE;
}

/* large_pages=1: transparent huge pages for freshly committed data (a
 * commit maps fresh pages, so every commit is advised again); silently
 * nothing where THP is off. */
static void advise_huge(void *addr, size_t size)
{
    if (wh_unlikely(wh_options_get()->large_pages)) (void)wh_os_advise_huge(addr, size);
}

static void count_commit(wh_heap *h, ptrdiff_t bytes)
{
    h->committed += (size_t)bytes;
    if (h->committed > h->peak_committed) h->peak_committed = h->committed;
}

/* Initialises the header of a segment whose metadata is committed.  The
 * heap field may point at a heap not yet initialised. */
static void segment_init(wh_segment *seg, wh_heap *h, size_t size, void *reservation,
                         bool primary, uint32_t hflags, uint32_t shift)
{
    seg_layout l;
    seg_layout_make(size, primary, hflags, shift, &l);
    bool exact = (hflags & WH_HF_EXACT) != 0;
    uintptr_t base = (uintptr_t)seg;
    for (size_t i = 0; i < WH_SEG_SLICES; i++) seg->slice_page[i] = &wh_page_none;
    seg->heap = h;
    seg->size = size;
    seg->reservation = reservation;
    seg->data_start = base + l.data_start;
    seg->data_end = base + l.data_end;
    seg->commit_end = seg->data_start;
    seg->slots = exact ? (uint8_t *)(base + l.slots_off) : NULL;
    seg->slots_committed = 0;
    seg->meta_committed = l.meta_commit;
    seg->live = (uint64_t *)(base + l.live_off);
    seg->pages = (wh_page *)(base + l.pages_off);
    seg->slice_shift = shift;
    seg->nslices = l.nslices;
    seg->first_slice = l.first_slice;
    seg->last_slice = l.last_slice;
    seg->primary = primary;
    seg->empty_since = 0;
    memset(seg->used_map, 0xFF, sizeof seg->used_map);
    for (uint32_t i = 0; i < l.nslices; i++) {
        wh_page *e = &seg->pages[i];
        memset(e, 0, sizeof *e);
        e->slice = (uint16_t)i;
        e->nslices = 1;
        if (i >= l.first_slice && i <= l.last_slice) {
            e->kind = WH_PK_FREE;
            e->state = WH_SS_PURGED;        /* uncommitted reads zero when committed */
            seg->used_map[i >> 6] &= ~((uint64_t)1 << (i & 63));
        } else {
            e->kind = WH_PK_META;
        }
    }
    seg->free_slices = l.last_slice - l.first_slice + 1;
    seg->purgeable = 0;
    seg->magic = seg_magic(seg);
}

/* Commits the data of seg up to end (and the matching size slots), in
 * chunks so that commits stay rare.  seg_lock held. */
static bool segment_commit_to(wh_heap *h, wh_segment *seg, uintptr_t end)
{
    if (end <= seg->commit_end) return true;
    size_t page = wh_os_page_size();
    uintptr_t base = (uintptr_t)seg;
    size_t step = seg->size >= ((size_t)8 << 20) ? ((size_t)1 << 20) : ((size_t)256 << 10);
    uintptr_t target = base + wh_align_up(end - base, step);
    if (target > seg->data_end) target = seg->data_end;
    uint32_t err = wh_vm_commit((void *)seg->commit_end, target - seg->commit_end,
                                heap_protect(h));
    if (err) {
        /* Near the commit limit: take only what is needed. */
        target = wh_align_up(end, page);
        if (target > seg->data_end) target = seg->data_end;
        err = wh_vm_commit((void *)seg->commit_end, target - seg->commit_end, heap_protect(h));
        if (err) return false;
    }
    if (seg->slots) {
        uint32_t last = (uint32_t)((target - 1 - base) >> seg->slice_shift);
        size_t need = (size_t)(last - seg->first_slice + 1) * slot_bytes(seg->slice_shift);
        need = wh_align_up(need, page);
        if (need > seg->slots_committed) {
            if (wh_vm_commit(seg->slots + seg->slots_committed, need - seg->slots_committed,
                             WHEAP_PAGE_READWRITE) != 0) {
                /* Data without its size slots is unusable: give it back, so
                 * that commit_end never covers pages whose slots are not
                 * committed (a later call would take them as ready). */
                wh_vm_decommit((void *)seg->commit_end, target - seg->commit_end);
                return false;
            }
            count_commit(h, (ptrdiff_t)(need - seg->slots_committed));
            seg->slots_committed = need;
        }
    }
    advise_huge((void *)seg->commit_end, target - seg->commit_end);
    count_commit(h, (ptrdiff_t)(target - seg->commit_end));
    seg->commit_end = target;
    return true;
}

static void segment_link(wh_heap *h, wh_segment *seg)
{
    seg->next = NULL;
    seg->prev = h->segments_last;
    if (h->segments_last) h->segments_last->next = seg;
    else h->segments = seg;
    h->segments_last = seg;
    seg->index = h->nsegments++;
}

static void segment_unlink(wh_heap *h, wh_segment *seg)
{
    if (seg->prev) seg->prev->next = seg->next;
    else h->segments = seg->next;
    if (seg->next) seg->next->prev = seg->prev;
    else h->segments_last = seg->prev;
    h->nsegments--;
    uint32_t i = 0;
    for (wh_segment *s = h->segments; s; s = s->next) s->index = i++;
    if (h->seg_hint == seg) h->seg_hint = h->segments;
}

/* Commits the metadata prefix and sets up a segment at base (a window of a
 * reservation already made).  Returns the segment or NULL. */
static wh_segment *segment_setup(wh_heap *h, uintptr_t base, size_t size, void *reservation,
                                 bool primary, uint32_t hflags, uint32_t shift)
{
    seg_layout l;
    if (!seg_layout_make(size, primary, hflags, shift, &l)) return NULL;
    if (wh_vm_commit((void *)base, l.meta_commit, WHEAP_PAGE_READWRITE) != 0) return NULL;
    wh_segment *seg = (wh_segment *)base;
    segment_init(seg, h, size, reservation, primary, hflags, shift);
    return seg;
}

static void segmap_set(uintptr_t base, uint8_t v)
{
    __atomic_store_n(&wh_segmap[base >> WH_SEG_SHIFT], v, __ATOMIC_RELEASE);
}

/* A new growable segment for h, with room for n slices.  seg_lock held. */
static wh_segment *segment_new(wh_heap *h, uint32_t n)
{
    unsigned shift = h->segments_made < 4 ? h->segments_made : 4;
    size_t size = ((size_t)2 << 20) << shift;
    while (size < WH_SEG_SIZE &&
           seg_data_bytes(size, false, h->flags) < (size_t)(n + 1) * WH_SLICE_SIZE)
        size <<= 1;
    void *p;
    if (wh_vm_reserve(size, WH_SEG_SIZE, WH_RG_HEAP, h, &p) != 0) return NULL;
    wh_segment *seg = segment_setup(h, (uintptr_t)p, size, p, false, h->flags, h->slice_shift);
    if (!seg) {
        wh_vm_release(p);
        return NULL;
    }
    seg_layout l;
    seg_layout_make(size, false, h->flags, h->slice_shift, &l);
    h->reserved += size;
    count_commit(h, (ptrdiff_t)l.meta_commit);
    h->segments_made++;
    segment_link(h, seg);
    segmap_set((uintptr_t)seg, WH_SEGMAP_SEGMENT);
    wh_verbose("heap %p: segment %p reserved (%zu KiB)", (void *)h, p, size >> 10);
    return seg;
}

/* Releases an empty growable segment (not the first).  seg_lock held on
 * entry and exit, dropped around the system call. */
void wh_heap_segment_release(wh_heap *h, wh_segment *seg)
{
    segment_unlink(h, seg);
    segmap_set((uintptr_t)seg, 0);
    h->reserved -= seg->size;
    h->committed -= seg->meta_committed + seg->slots_committed +
                    (seg->commit_end - seg->data_start);
    seg->magic = 0;
    void *res = seg->reservation;
    size_t size = seg->size;
    pthread_mutex_unlock(&h->seg_lock);
    wh_vm_release(res);
    wh_verbose("heap %p: segment %p released (%zu KiB)", (void *)h, res, size >> 10);
    pthread_mutex_lock(&h->seg_lock);
}

/* Fixed heaps: sets up the next 32 MiB window of the one reservation. */
static wh_segment *segment_next_window(wh_heap *h)
{
    uintptr_t base = (uintptr_t)h->fixed_base + (uintptr_t)h->fixed_windows * WH_SEG_SIZE;
    uintptr_t end = (uintptr_t)h->fixed_base + h->maximum;
    if (base >= end) return NULL;
    size_t size = end - base < WH_SEG_SIZE ? end - base : WH_SEG_SIZE;
    wh_segment *seg = segment_setup(h, base, size, h->fixed_base, false, h->flags,
                                    h->slice_shift);
    if (!seg) return NULL;
    seg_layout l;
    seg_layout_make(size, false, h->flags, h->slice_shift, &l);
    count_commit(h, (ptrdiff_t)l.meta_commit);
    h->fixed_windows++;
    segment_link(h, seg);
    segmap_set(base, WH_SEGMAP_SEGMENT);
    return seg;
}

/* ------------------------------------------------------------------------
 * Slices
 * ---------------------------------------------------------------------- */

static bool slice_is_used(const wh_segment *seg, uint32_t i)
{
    return (seg->used_map[i >> 6] >> (i & 63)) & 1;
}

/* First run of n free slices at or after from, or -1. */
static int slices_find(const wh_segment *seg, uint32_t n, uint32_t from)
{
    uint32_t run = 0, start = 0;
    uint32_t end = seg->last_slice + 1;
    for (uint32_t i = from; i < end;) {
        uint64_t word = seg->used_map[i >> 6] >> (i & 63);
        if (word == 0 && (i & 63) == 0 && i + 64 <= end) {
            if (run == 0) start = i;
            run += 64;
            i += 64;
            if (run >= n) return (int)start;
            continue;
        }
        if (word & 1) {
            run = 0;
            i++;
            continue;
        }
        if (run == 0) start = i;
        run++;
        i++;
        if (run >= n) return (int)start;
    }
    return -1;
}

/* The byte range a run of slices covers inside the data area. */
void wh_heap_slices_range(const wh_segment *seg, uint32_t s, uint32_t n, uintptr_t *start,
                          uintptr_t *end)
{
    uintptr_t base = (uintptr_t)seg;
    uintptr_t lo = base + ((uintptr_t)s << seg->slice_shift);
    uintptr_t hi = base + ((uintptr_t)(s + n) << seg->slice_shift);
    *start = lo < seg->data_start ? seg->data_start : lo;
    *end = hi > seg->data_end ? seg->data_end : hi;
}

/* Takes slices [s, s+n) for a page: commits them and makes pages[s] the
 * head.  Returns whether every slice read zero.  seg_lock held. */
static bool slices_take(wh_segment *seg, uint32_t s, uint32_t n)
{
    bool zero = true;
    for (uint32_t i = s; i < s + n; i++) {
        wh_page *e = &seg->pages[i];
        if (e->state != WH_SS_PURGED) {
            zero = false;
            seg->purgeable--;
        }
        seg->used_map[i >> 6] |= (uint64_t)1 << (i & 63);
        e->kind = WH_PK_TAIL;
        e->state = 0;
    }
    seg->free_slices -= n;
    seg->empty_since = 0;
    return zero;
}

/* Gives a page's slices back (not yet purged).  seg_lock held. */
static void slices_give(wh_heap *h, wh_segment *seg, uint32_t s, uint32_t n, bool zero,
                        uint64_t now)
{
    for (uint32_t i = s; i < s + n; i++) {
        wh_page *e = &seg->pages[i];
        seg->slice_page[i] = &wh_page_none;
        e->kind = WH_PK_FREE;
        e->nslices = 1;
        e->state = zero ? WH_SS_PURGED : WH_SS_DIRTY;
        e->stamp = now;
        e->flags = 0;
        seg->used_map[i >> 6] &= ~((uint64_t)1 << (i & 63));
        if (!zero) seg->purgeable++;
    }
    seg->free_slices += n;
    if (seg->free_slices == seg->last_slice - seg->first_slice + 1) seg->empty_since = now;
    uint64_t due = now + wh_options_get()->purge_delay_ms;
    if (!zero && due < h->purge_due) h->purge_due = due;
    if (seg->empty_since && !seg->primary && !(h->flags & WH_HF_FIXED)) {
        due = now + wh_options_get()->decommit_delay_ms;
        if (due < h->purge_due) h->purge_due = due;
    }
}

/* Finds n free slices (whose data area is at least min_area bytes) in h,
 * growing h by a segment if it may.  Returns the segment and *s, committed.
 * seg_lock held. */
static wh_segment *slices_alloc(wh_heap *h, uint32_t n, size_t min_area, uint32_t *s_out,
                                bool *zero)
{
    wh_segment *first = h->seg_hint ? h->seg_hint : h->segments;
    for (int pass = 0; pass < 2; pass++) {
        for (wh_segment *seg = pass == 0 ? first : h->segments; seg; seg = seg->next) {
            if (pass == 1 && seg == first) break;
            if (seg->free_slices < n) continue;
            for (int s = slices_find(seg, n, seg->first_slice); s >= 0;
                 s = slices_find(seg, n, (uint32_t)s + 1)) {
                uintptr_t start, end;
                wh_heap_slices_range(seg, (uint32_t)s, n, &start, &end);
                if (end - start < min_area) continue;
                if (!segment_commit_to(h, seg, end)) return NULL;
                *zero = slices_take(seg, (uint32_t)s, n);
                *s_out = (uint32_t)s;
                h->seg_hint = seg;
                return seg;
            }
        }
    }
    wh_segment *seg = (h->flags & WH_HF_FIXED) ? segment_next_window(h) : segment_new(h, n);
    while (seg) {
        int s = slices_find(seg, n, seg->first_slice);
        while (s >= 0) {
            uintptr_t start, end;
            wh_heap_slices_range(seg, (uint32_t)s, n, &start, &end);
            if (end - start >= min_area) break;
            s = slices_find(seg, n, (uint32_t)s + 1);
        }
        if (s >= 0) {
            uintptr_t start, end;
            wh_heap_slices_range(seg, (uint32_t)s, n, &start, &end);
            if (!segment_commit_to(h, seg, end)) return NULL;
            *zero = slices_take(seg, (uint32_t)s, n);
            *s_out = (uint32_t)s;
            h->seg_hint = seg;
            return seg;
        }
        /* A fixed heap's next window may still be too small. */
        seg = (h->flags & WH_HF_FIXED) ? segment_next_window(h) : NULL;
    }
    return NULL;
}

static wh_segment *page_segment(const wh_page *pg)
{
    return (wh_segment *)((uintptr_t)pg & ~(uintptr_t)WH_SEG_MASK);
}

/* ------------------------------------------------------------------------
 * Pages
 * ---------------------------------------------------------------------- */

static uintptr_t page_key(const wh_page *pg)
{
    if (WH_BENCH_NO_ENCODING) return 0;
    uintptr_t k = wh_heap_secret ^ ((uintptr_t)pg * 0x9E3779B97F4A7C15u);
    return k ? k : 1;
}

/* A new page for bin (or a one-block page of at least size bytes when bin is
 * WH_BIN_LARGE), aligned to align (1: any).  Not queued.  NULL when h is out
 * of memory. */
static wh_page *page_new(wh_heap *h, unsigned bin, size_t size, size_t align)
{
    size_t bs;
    uint32_t n, n_min;
    uint32_t shift = h->slice_shift;
    size_t slice = (size_t)1 << shift;
    if (bin <= WH_BIN_SMALL_MAX) {
        bs = bin_block_size(bin);
        n = bin_slices(bin, shift, &n_min);
        size = bs;
    } else {
        /* Room to align the block's start as well. */
        size_t need = size + (align > 1 ? align - 1 : 0);
        n = n_min = (uint32_t)((need + slice - 1) >> shift);
        if (n == 0) n = n_min = 1;
        bs = 0;
    }
    uint32_t s = 0;
    bool zero = false;
    size_t min_area = bin <= WH_BIN_SMALL_MAX ? bs : size + (align > 1 ? align - 1 : 0);
    (void)slice;
    pthread_mutex_lock(&h->seg_lock);
    wh_segment *seg = slices_alloc(h, n, min_area, &s, &zero);
    if (!seg && (h->flags & WH_HF_FIXED) && n > n_min) {
        /* A fixed heap may lack room for a full page: take a smaller one. */
        n = n_min;
        seg = slices_alloc(h, n, min_area, &s, &zero);
    }
    if (!seg) {
        pthread_mutex_unlock(&h->seg_lock);
        return NULL;
    }
    wh_page *pg = &seg->pages[s];
    uintptr_t start, end;
    wh_heap_slices_range(seg, s, n, &start, &end);
    if (align > 1) start = wh_align_up(start, align);
    uintptr_t base = (uintptr_t)seg;
    memset(pg, 0, offsetof(wh_page, slice));
    pg->heap = h;
    pg->tid = h->tid;
    pg->key = page_key(pg);
    pg->start = start;
    pg->area = end - start;
    pg->live = &seg->live[(start - base) >> 10];
    pg->slice = (uint16_t)s;
    pg->nslices = (uint16_t)n;
    pg->bin = (uint8_t)bin;
    pg->state = 0;
    if (bin <= WH_BIN_SMALL_MAX) {
        pg->kind = WH_PK_SMALL;
        pg->block_size = (uint32_t)bs;
        pg->reserved = (uint32_t)(pg->area / bs);
        pg->div = (((uint64_t)1 << 40) + bs - 1) / bs;
        pg->slots = seg->slots ? seg->slots + (size_t)(s - seg->first_slice) * slot_bytes(shift)
                               : NULL;
        /* A page is freed only when no block is live, but a damaged one may
         * have left bits behind. */
        memset(pg->live, 0, ((pg->area + 1023) >> 10) * sizeof(uint64_t));
    } else {
        pg->kind = WH_PK_LARGE;
        pg->block_size = (uint32_t)pg->area;
        pg->reserved = 1;
        pg->div = 0;
        pg->live[0] = 0;
        if (zero) pg->flags |= WH_PF_ZERO;
    }
    for (uint32_t i = s; i < s + n; i++) seg->slice_page[i] = pg;
    pthread_mutex_unlock(&h->seg_lock);
    return pg;
}

/* Gives an empty page's slices back to its segment. */
static void page_free(wh_heap *h, wh_page *pg)
{
    wh_segment *seg = page_segment(pg);
    uint64_t now = wh_heap_now_ms();
    /* Whatever the block held, the slices are dirty now. */
    pthread_mutex_lock(&h->seg_lock);
    slices_give(h, seg, pg->slice, pg->nslices, false, now);
    bool due = h->purge_due <= now;
    pthread_mutex_unlock(&h->seg_lock);
    if (due) wh_heap_purge(h, now, false);
}

/* Carves more blocks of a small page into its free list: about an OS
 * page's worth, so that a fresh page is touched as it fills. */
static void page_extend(wh_page *pg)
{
    uint32_t bs = pg->block_size;
    uint32_t n = (uint32_t)(4096 / bs);
    if (n < 4) n = 4;
    if (n > pg->reserved - pg->capacity) n = pg->reserved - pg->capacity;
    if (n == 0) return;
    uintptr_t first = pg->start + (uintptr_t)pg->capacity * bs;
    uintptr_t tail = (uintptr_t)pg->free;
    for (uint32_t i = n; i-- > 0;) {
        wh_block *b = (wh_block *)(first + (uintptr_t)i * bs);
        b->next = tail ^ pg->key;
        tail = (uintptr_t)b;
    }
    pg->free = (wh_block *)tail;
    pg->capacity += n;
}

/* Is b the start of a carved block of pg? */
bool wh_heap_page_block_ok(const wh_page *pg, uintptr_t b)
{
    uintptr_t off = b - pg->start;
    if (off >= pg->area || (b & (WH_GRANULE - 1))) return false;
    if (pg->kind == WH_PK_LARGE) return off == 0;
    uint64_t idx = ((uint64_t)off * pg->div) >> 40;
    return idx * pg->block_size == off && idx < pg->capacity;
}

static void live_clear(const wh_page *pg, uintptr_t b)
{
    uintptr_t off = b - pg->start;
    pg->live[off >> 10] &= ~((uint64_t)1 << ((off >> 4) & 63));
}

/* Marks pg damaged: its lists are dropped (those blocks leak) and it never
 * allocates again; live blocks can still be freed into it. */
static void page_mark_damaged(wh_heap *h, wh_page *pg, const char *what, const void *where)
{
    wh_heap_damage(h, what, where);
    pg->free = NULL;
    pg->local_free = NULL;
    pg->flags |= WH_PF_DAMAGED;
    pg->capacity = pg->reserved;   /* never extended again */
}

/* Moves the thread_free stack of pg onto its local list (the owner). */
static void page_collect_thread_free(wh_heap *h, wh_page *pg)
{
    if (!atomic_load_explicit(&pg->thread_free, memory_order_relaxed)) return;
    uintptr_t b = atomic_exchange_explicit(&pg->thread_free, 0, memory_order_acquire);
    uint32_t count = 0;
    while (b) {
        if (!wh_heap_page_block_ok(pg, b) || ++count > pg->capacity) {
            page_mark_damaged(h, pg, "remote free list", (void *)b);
            return;
        }
        wh_block *blk = (wh_block *)b;
        uintptr_t next = blk->next ^ pg->key;
        live_clear(pg, b);
        blk->next = (uintptr_t)pg->local_free ^ pg->key;
        pg->local_free = blk;
        pg->used--;
        b = next;
    }
}

/* Gives the owner's local frees and remote frees back to the free list. */
static void page_refill(wh_heap *h, wh_page *pg)
{
    page_collect_thread_free(h, pg);
    if (!pg->free && pg->local_free) {
        pg->free = pg->local_free;
        pg->local_free = NULL;
    }
}

/* Blocks out (the current page's extra count left out). */
static uint32_t page_used(const wh_page *pg)
{
    return (pg->used & ~WH_PAGE_FULL) - ((pg->flags & WH_PF_CURRENT) ? 1u : 0u);
}

/* Takes pg off whichever queue holds it. */
static void page_unqueue(wh_heap *h, wh_page *pg)
{
    if (pg->kind == WH_PK_LARGE) {
        queue_remove(&h->bins[WH_BIN_LARGE], pg);
    } else if (pg->used & WH_PAGE_FULL) {
        queue_remove(&h->full, pg);
    } else {
        queue_remove(&h->bins[pg->bin], pg);
        set_direct(h, pg->bin);
    }
}

/* An empty page stays as its bin's current page (so that a steady
 * alloc/free pair does not take and give slices each time) until a purge
 * finds it still empty; any other empty page goes back to its segment. */
static void page_retire(wh_heap *h, wh_page *pg, bool keep_current)
{
    if (keep_current && (pg->flags & WH_PF_CURRENT) && !(pg->flags & WH_PF_DAMAGED))
        return;   /* free_retired_pages deals with empty current pages */
    WH_DEBUG_ASSERT((pg->flags & WH_PF_DAMAGED) || wh_page_is_valid(pg));
    page_drop_current(h, pg);
    page_unqueue(h, pg);
    pg->used = 0;
    pg->free = pg->local_free = NULL;
    page_free(h, pg);
}

/* A page in the full queue got a block back: back to its bin (a damaged
 * page stays parked until it is empty). */
static void page_unfull(wh_heap *h, wh_page *pg)
{
    if (pg->kind != WH_PK_SMALL || (pg->flags & WH_PF_DAMAGED)) return;
    queue_remove(&h->full, pg);
    pg->used &= ~WH_PAGE_FULL;
    queue_push_back(&h->bins[pg->bin], pg);
    set_direct(h, pg->bin);
}

/* After remote frees were collected into pg: fix its queue. */
static void page_after_collect(wh_heap *h, wh_page *pg)
{
    if ((pg->used & WH_PAGE_FULL) && (pg->free || pg->local_free)) page_unfull(h, pg);
    if (page_used(pg) == 0) page_retire(h, pg, true);
}

void wh_heap_page_event(wh_page *pg)
{
    wh_heap *h = pg->heap;
    if (pg->used & WH_PAGE_FULL) page_unfull(h, pg);
    if (page_used(pg) == 0) page_retire(h, pg, true);
}

/* Collects every page that other threads freed into (the owner). */
static void collect_remote_pages(wh_heap *h)
{
    if (!atomic_load_explicit(&h->remote_pages, memory_order_relaxed)) return;
    wh_page *pg = atomic_exchange_explicit(&h->remote_pages, NULL, memory_order_seq_cst);
    while (pg) {
        wh_page *next = pg->remote_next;
        atomic_store_explicit(&pg->remote_queued, 0, memory_order_seq_cst);
        /* The page may have been freed (and even reused) since it was
         * queued: act only on a page of ours that holds blocks. */
        if (pg->heap == h && (pg->kind == WH_PK_SMALL || pg->kind == WH_PK_LARGE)) {
            page_collect_thread_free(h, pg);
            page_after_collect(h, pg);
        }
        pg = next;
    }
}

/* ------------------------------------------------------------------------
 * Allocation slow paths
 * ---------------------------------------------------------------------- */

/* A page of bin with a free block at the front of its queue, or NULL. */
static wh_page *bin_find_page(wh_heap *h, unsigned bin)
{
    wh_page_queue *q = &h->bins[bin];
    wh_page *pg = q->first;
    while (pg) {
        wh_page *next = pg->next;
        page_refill(h, pg);
        if (!pg->free && pg->capacity < pg->reserved) page_extend(pg);
        WH_DEBUG_ASSERT((pg->flags & WH_PF_DAMAGED) || wh_page_is_valid(pg));
        if (pg->free && !(pg->flags & WH_PF_DAMAGED)) {
            pg->flags &= ~WH_PF_RETIRED;
            if (q->first != pg) {
                queue_remove(q, pg);
                queue_push_front(q, pg);
            }
            set_direct(h, bin);
            return pg;
        }
        /* No free block: park it in the full queue until a free arrives. */
        queue_remove(q, pg);
        pg->used |= WH_PAGE_FULL;
        queue_push_back(&h->full, pg);
        pg = next;
    }
    pg = page_new(h, bin, 0, 1);
    if (!pg) {
        set_direct(h, bin);
        return NULL;
    }
    page_extend(pg);
    queue_push_front(q, pg);
    set_direct(h, bin);
    return pg;
}

static void heap_heartbeat(wh_heap *h);

/* A fixed heap may have no slice left for a page of bin while pages of
 * bigger classes have room: a block of one of those will do. */
static void *alloc_borrow(wh_heap *h, unsigned bin, size_t size)
{
    (void)size;
    for (unsigned b = bin + 1; b <= WH_BIN_SMALL_MAX; b++) {
        if (!h->bins[b].first) continue;
        wh_page *pg = bin_find_page(h, b);
        if (!pg) continue;
        void *p = wh_page_pop(pg, pg->free);
        if (p) return p;
    }
    return NULL;
}

static void *alloc_bin(wh_heap *h, unsigned bin, size_t size)
{
    for (;;) {
        wh_page *pg = h->bins[bin].first;
        if (!pg || !pg->free || (pg->flags & WH_PF_DAMAGED)) pg = bin_find_page(h, bin);
        if (!pg) return (h->flags & WH_HF_FIXED) ? alloc_borrow(h, bin, size) : NULL;
        void *p = wh_page_pop(pg, pg->free);
        if (p) {
            pg->flags &= ~WH_PF_RETIRED;
            return p;
        }
        page_mark_damaged(h, pg, "free list", pg->free);
        queue_remove(&h->bins[bin], pg);
        pg->used |= WH_PAGE_FULL;
        queue_push_back(&h->full, pg);
        set_direct(h, bin);
    }
}

static void *alloc_large(wh_heap *h, size_t size, size_t align)
{
    if (size == 0) size = 1;
    wh_page *pg = page_new(h, WH_BIN_LARGE, size, align);
    if (!pg) return NULL;
    pg->capacity = 1;
    pg->used = 1 | WH_PAGE_FULL;
    pg->exact = size;
    pg->live[0] |= 1;
    queue_push_back(&h->bins[WH_BIN_LARGE], pg);
    return (void *)pg->start;
}

static void *huge_alloc(wh_heap *h, size_t size, size_t align);

/* The arenas' dynamic threshold, glibc's idea: it starts at WH_HUGE_MIN
 * and rises to the size of each huge block an arena frees (up to
 * WH_MMAP_THRESHOLD_MAX), so a program that keeps replacing big buffers gets
 * them from segments, whose freed slices are reused while still faulted in,
 * instead of paying a reservation, a page fault per page and a release for
 * each.  Buffers that are allocated once and kept stay huge.  The cap trades
 * time for peak RSS: on bench/wl_large (buffers of 64 KiB to 32 MiB) a cap
 * of 8 MiB took system time from 2.9 s to 1.3 s (glibc 1.8 s) and page
 * faults from 1.40 M to 0.70 M (glibc 0.97 M) at 1.15 x glibc's peak RSS;
 * 16 MiB gave 0.6-1.5 s but 1.1-1.6 x the RSS. */
static _Atomic size_t huge_dyn_min = WH_HUGE_MIN;

/* Where huge blocks start: WH_HUGE_MIN for public heaps; for arenas
 * mallopt's M_MMAP_THRESHOLD (WH_MMAP_THRESHOLD_MIN ..
 * WH_MMAP_THRESHOLD_MAX) when set, else the dynamic threshold. */
static size_t huge_min(const wh_heap *h)
{
    if (!(h->flags & WH_HF_ARENA)) return WH_HUGE_MIN;
    size_t t = __atomic_load_n(&wh_options_get()->mmap_threshold, __ATOMIC_RELAXED);
    return t ? t : atomic_load_explicit(&huge_dyn_min, memory_order_relaxed);
}

/* An arena freed a huge block of usable size n: later requests up to n go
 * to segments. */
static void huge_dyn_raise(size_t n)
{
    if (n >= WH_DYN_THRESHOLD_MAX) return;
    size_t cur = atomic_load_explicit(&huge_dyn_min, memory_order_relaxed);
    while (cur <= n &&
           !atomic_compare_exchange_weak_explicit(&huge_dyn_min, &cur, n + 1,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void *wh_heap_alloc_slow(wh_heap *h, size_t size)
{
    heap_heartbeat(h);
    if (size < WH_MMAP_THRESHOLD_MIN) return alloc_bin(h, wh_bin_of(size), size);
    size_t hmin = huge_min(h);
    if (size <= WH_SMALL_MAX && size < hmin) return alloc_bin(h, wh_bin_of(size), size);
    if (size < hmin || (h->flags & WH_HF_FIXED)) return alloc_large(h, size, 1);
    return huge_alloc(h, size, 1);
}

void *wh_heap_alloc_damaged(wh_heap *h, wh_page *pg, size_t size)
{
    page_mark_damaged(h, pg, "free list", pg->free);
    if (pg->kind == WH_PK_SMALL && h->bins[pg->bin].first == pg) {
        queue_remove(&h->bins[pg->bin], pg);
        pg->used |= WH_PAGE_FULL;
        queue_push_back(&h->full, pg);
        set_direct(h, pg->bin);
    }
    return wh_heap_alloc_slow(h, size);
}

void *wh_heap_arena_alloc_aligned(wh_heap *h, size_t align, size_t size)
{
    if (align <= WH_GRANULE) return wh_heap_arena_alloc(h, size);
    if (!wh_is_pow2(align) || size > WH_MAX_APP_ADDRESS || align > WH_MAX_APP_ADDRESS)
        return NULL;
    if (align <= WH_SLICE_SIZE && size <= WH_SMALL_MAX) {
        /* A class whose blocks are multiples of align, in a page whose start
         * is aligned (every page but a small fixed heap's first). */
        unsigned bin = wh_bin_of(size < align ? align : size);
        while (bin <= WH_BIN_SMALL_MAX && bin_block_size(bin) % align) bin++;
        if (bin <= WH_BIN_SMALL_MAX) {
            heap_heartbeat(h);
            void *p = alloc_bin(h, bin, bin_block_size(bin));
            if (!p || ((uintptr_t)p & (align - 1)) == 0) return p;
            wh_heap_block_free(p);
        }
    }
    if (size + align < huge_min(h) || (h->flags & WH_HF_FIXED))
        return alloc_large(h, size, align);
    return huge_alloc(h, size, align);
}

/* ------------------------------------------------------------------------
 * Huge blocks: a reservation each, a header page in front
 * ---------------------------------------------------------------------- */

static void huge_link(wh_heap *h, wh_huge *hg)
{
    hg->prev = NULL;
    hg->next = h->huge;
    if (h->huge) h->huge->prev = hg;
    h->huge = hg;
}

static void huge_unlink(wh_heap *h, wh_huge *hg)
{
    if (hg->prev) hg->prev->next = hg->next;
    else h->huge = hg->next;
    if (hg->next) hg->next->prev = hg->prev;
}

/* Offset of the data from the reservation base. */
static size_t huge_data_off(size_t align)
{
    size_t page = wh_os_page_size();
    return align > page ? align : page;
}

static void *huge_alloc(wh_heap *h, size_t size, size_t align)
{
    size_t page = wh_os_page_size();
    size_t doff = huge_data_off(align);
    size_t usable = wh_align_up(size, page);
    if (usable < size || doff + usable + page < usable) return NULL;
    size_t need = doff + usable + page;

    /* An arena reuses a cached reservation of about the right size. */
    if (h->flags & WH_HF_ARENA) {
        pthread_mutex_lock(&h->seg_lock);
        for (wh_huge *hg = h->huge; hg; hg = hg->next) {
            if (hg->live || hg->reserved < need || hg->reserved > 2 * need ||
                huge_data_off(align) != hg->data - hg->base || (hg->data & (align - 1)))
                continue;
            if (usable > hg->committed) {
                if (wh_vm_commit((void *)(hg->data + hg->committed), usable - hg->committed,
                                 heap_protect(h)) != 0)
                    break;
                advise_huge((void *)(hg->data + hg->committed), usable - hg->committed);
                count_commit(h, (ptrdiff_t)(usable - hg->committed));
                hg->committed = usable;
            }
            hg->live = true;
            hg->zero = false;
            hg->size = size;
            pthread_mutex_unlock(&h->seg_lock);
            return (void *)hg->data;
        }
        pthread_mutex_unlock(&h->seg_lock);
    }

    /* Arenas keep headroom for realloc to grow into: address space only. */
    size_t rsize = need;
    if ((h->flags & WH_HF_ARENA) && rsize + size / 2 > rsize) rsize += size / 2;
    rsize = wh_align_up(rsize, WH_GRANULARITY);
    if (rsize < need) return NULL;
    void *base;
    size_t ralign = align > WH_GRANULARITY ? align : WH_GRANULARITY;
    /* large_pages: huge-page aligned, so that every 2 MiB of the block can be one. */
    if (wh_options_get()->large_pages && size >= ((size_t)2 << 20) && ralign < ((size_t)2 << 20))
        ralign = (size_t)2 << 20;
    if (wh_vm_reserve(rsize, ralign, WH_RG_HEAP, h, &base) != 0)
        return NULL;
    uintptr_t b = (uintptr_t)base;
    uint32_t prot = heap_protect(h);
    uint32_t err;
    if (doff == page) {
        err = wh_vm_commit(base, page + usable, prot);
    } else {
        err = wh_vm_commit(base, page, WHEAP_PAGE_READWRITE);
        if (!err) err = wh_vm_commit((void *)(b + doff), usable, prot);
    }
    if (err) {
        wh_vm_release(base);
        return NULL;
    }
    advise_huge(base, doff + usable);
    wh_verbose("heap %p: huge block %p reserved (%zu KiB)", (void *)h, (void *)(b + doff),
               rsize >> 10);
    wh_huge *hg = base;
    hg->heap = h;
    hg->base = b;
    hg->reserved = rsize;
    hg->data = b + doff;
    hg->size = size;
    hg->committed = usable;
    hg->live = true;
    hg->zero = true;
    hg->magic = huge_magic(hg);
    pthread_mutex_lock(&h->seg_lock);
    huge_link(h, hg);
    h->reserved += rsize;
    count_commit(h, (ptrdiff_t)(page + usable));
    pthread_mutex_unlock(&h->seg_lock);
    return (void *)hg->data;
}

/* Releases a huge reservation (unlinked, seg_lock not held). */
static void huge_release(wh_huge *hg)
{
    wh_heap *h = hg->heap;
    void *data = (void *)hg->data;
    size_t reserved = hg->reserved;
    wh_vm_release((void *)hg->base);
    wh_verbose("heap %p: huge block %p released (%zu KiB)", (void *)h, data, reserved >> 10);
}

static void huge_free(wh_heap *h, wh_huge *hg)
{
    if (h->flags & WH_HF_ARENA) huge_dyn_raise(hg->committed);
    pthread_mutex_lock(&h->seg_lock);
    if (h->flags & WH_HF_ARENA) {
        /* Keep a few for reuse; purges release them after a while. */
        unsigned cached = 0;
        for (wh_huge *x = h->huge; x; x = x->next) cached += !x->live;
        if (cached < 4 && hg->reserved <= ((size_t)64 << 20)) {
            uint64_t now = wh_heap_now_ms();
            hg->live = false;
            hg->stamp = now;
            uint64_t due = now + wh_options_get()->decommit_delay_ms;
            if (due < h->purge_due) h->purge_due = due;
            pthread_mutex_unlock(&h->seg_lock);
            return;
        }
    }
    hg->live = false;
    huge_unlink(h, hg);
    h->reserved -= hg->reserved;
    h->committed -= wh_os_page_size() + hg->committed;
    pthread_mutex_unlock(&h->seg_lock);
    huge_release(hg);
}

/* Releases cached huge blocks freed before cutoff (all when force).
 * seg_lock held on entry and exit; dropped around the system calls. */
void wh_heap_huge_purge(wh_heap *h, uint64_t now, bool force, uint64_t *next_due)
{
    uint64_t delay = wh_options_get()->decommit_delay_ms;
    for (;;) {
        wh_huge *victim = NULL;
        for (wh_huge *hg = h->huge; hg; hg = hg->next) {
            if (hg->live) continue;
            if (force || hg->stamp + delay <= now) {
                victim = hg;
                break;
            }
            if (hg->stamp + delay < *next_due) *next_due = hg->stamp + delay;
        }
        if (!victim) return;
        huge_unlink(h, victim);
        h->reserved -= victim->reserved;
        h->committed -= wh_os_page_size() + victim->committed;
        pthread_mutex_unlock(&h->seg_lock);
        huge_release(victim);
        pthread_mutex_lock(&h->seg_lock);
    }
}

/* ------------------------------------------------------------------------
 * Finding and freeing blocks
 * ---------------------------------------------------------------------- */

int wh_heap_block_find(uintptr_t a, wh_page **pg_out, wh_huge **hg_out)
{
    *pg_out = NULL;
    *hg_out = NULL;
    if (a < WH_MIN_APP_ADDRESS) return WH_BAD_FOREIGN;
    uintptr_t w = a >> WH_SEG_SHIFT;
    if (w < WH_SEGMAP_SIZE && __atomic_load_n(&wh_segmap[w], __ATOMIC_ACQUIRE)) {
        wh_segment *seg = (wh_segment *)(a & ~(uintptr_t)WH_SEG_MASK);
        uint32_t s = (uint32_t)((a & WH_SEG_MASK) >> seg->slice_shift);
        if (s < seg->nslices) {
            if (seg->magic != seg_magic(seg)) return WH_BAD_CORRUPT;
            wh_page *pg = seg->slice_page[s];
            if (pg == &wh_page_none) {
                if (a < seg->data_start || a >= seg->data_end) return WH_BAD_FOREIGN;
                return seg->pages[s].kind == WH_PK_FREE ? WH_BAD_DOUBLE_FREE : WH_BAD_CORRUPT;
            }
            if (page_segment(pg) != seg || (pg->kind != WH_PK_SMALL && pg->kind != WH_PK_LARGE))
                return WH_BAD_CORRUPT;
            uintptr_t off = a - pg->start;
            if (off >= pg->area || (a & (WH_GRANULE - 1))) return WH_BAD_INTERIOR;
            if (pg->kind == WH_PK_SMALL) {
                uint64_t idx = ((uint64_t)off * pg->div) >> 40;
                if (idx * pg->block_size != off) return WH_BAD_INTERIOR;
                if (idx >= pg->capacity) return WH_BAD_DOUBLE_FREE;
            } else if (off != 0) {
                return WH_BAD_INTERIOR;
            }
            uint64_t word = __atomic_load_n(&pg->live[off >> 10], __ATOMIC_RELAXED);
            if (!((word >> ((off >> 4) & 63)) & 1)) return WH_BAD_DOUBLE_FREE;
            *pg_out = pg;
            return WH_BLOCK_OK;
        }
    }
    wh_region *r = wh_region_find(a);
    if (!r || !(r->flags & WH_RG_HEAP)) return WH_BAD_FOREIGN;
    wh_huge *hg = (wh_huge *)r->base;
    if (wh_segmap[r->base >> WH_SEG_SHIFT] && r->base == wh_align_down(r->base, WH_SEG_SIZE))
        return WH_BAD_FOREIGN;   /* a part of a fixed heap's reservation not set up yet */
    if (hg->magic != huge_magic(hg)) return WH_BAD_CORRUPT;
    if (a != hg->data) return a >= hg->base && a < hg->base + hg->reserved ? WH_BAD_INTERIOR
                                                                          : WH_BAD_FOREIGN;
    if (!hg->live) return WH_BAD_DOUBLE_FREE;
    *hg_out = hg;
    return WH_BLOCK_OK;
}

/* The owner's free of a block found live (no checks left to make).  An
 * arena's go to local_free (its alloc slow path is its heartbeat); a
 * public heap's to free (reused first, while still in the cache). */
static void page_free_block(wh_page *pg, uintptr_t a)
{
    live_clear(pg, a);
    wh_block *b = (wh_block *)a;
    if (pg->heap->flags & WH_HF_ARENA) {
        b->next = (uintptr_t)pg->local_free ^ pg->key;
        pg->local_free = b;
    } else {
        b->next = (uintptr_t)pg->free ^ pg->key;
        pg->free = b;
    }
    if ((int32_t)--pg->used <= 0) wh_heap_page_event(pg);
}

/* Another thread's free into an arena's page: lock-free. */
static int remote_free(wh_page *pg, uintptr_t a)
{
    uintptr_t off = a - pg->start;
    uint64_t bit = (uint64_t)1 << ((off >> 4) & 63);
    uint64_t old = __atomic_fetch_and(&pg->live[off >> 10], ~bit, __ATOMIC_RELAXED);
    if (!(old & bit)) return WH_BAD_DOUBLE_FREE;
    wh_block *b = (wh_block *)a;
    uintptr_t head = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
    do {
        b->next = head ^ pg->key;
    } while (!atomic_compare_exchange_weak_explicit(&pg->thread_free, &head, a,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    /* The first remote free since the owner last looked queues the page. */
    if (head == 0 && !atomic_exchange_explicit(&pg->remote_queued, 1, memory_order_seq_cst)) {
        wh_heap *h = pg->heap;
        wh_page *top = atomic_load_explicit(&h->remote_pages, memory_order_relaxed);
        do {
            pg->remote_next = top;
        } while (!atomic_compare_exchange_weak_explicit(&h->remote_pages, &top, pg,
                                                        memory_order_release,
                                                        memory_order_relaxed));
    }
    return WH_BLOCK_OK;
}

int wh_heap_free_remote(wh_page *pg, void *p)
{
    /* The inline path matched an arena page by its 64 KiB slice (exact:
     * arenas never use finer slices); a bit that is not set means the
     * pointer is no live block start: the slow path says why. */
    uintptr_t a = (uintptr_t)p;
    uintptr_t off = a - pg->start;
    uint64_t bit = (uint64_t)1 << ((off >> 4) & 63);
    if (!(__atomic_load_n(&pg->live[off >> 10], __ATOMIC_RELAXED) & bit) ||
        pg->kind == WH_PK_TAIL)
        return wh_heap_block_free_slow(p);
    int rc = remote_free(pg, a);
    return rc == WH_BLOCK_OK ? rc : wh_heap_block_free_slow(p);
}

void wh_heap_free_found(wh_page *pg, wh_huge *hg, void *p)
{
    if (hg) huge_free(hg->heap, hg);
    else page_free_block(pg, (uintptr_t)p);
}

int wh_heap_block_free_slow(void *p)
{
    uintptr_t a = (uintptr_t)p;
    wh_page *pg;
    wh_huge *hg;
    int rc = wh_heap_block_find(a, &pg, &hg);
    if (rc != WH_BLOCK_OK) return rc;
    wh_heap *h = pg ? pg->heap : hg->heap;
    if (h->flags & WH_HF_ARENA) {
        if (hg) {
            huge_free(h, hg);
            return WH_BLOCK_OK;
        }
        if (pg->tid != 0 && pg->tid == wh_thread_id()) {
            page_free_block(pg, a);
            return WH_BLOCK_OK;
        }
        return remote_free(pg, a);
    }
    /* A public heap: its lock, then look again (the block may have gone
     * while we waited). */
    bool locked = wh_heap_enter(h, 0);
    rc = wh_heap_block_find(a, &pg, &hg);
    if (rc == WH_BLOCK_OK) wh_heap_free_found(pg, hg, p);
    wh_heap_leave(h, locked);
    return rc;
}

/* ------------------------------------------------------------------------
 * Block queries
 * ---------------------------------------------------------------------- */

/* Exact sizes of blocks up to 2 KiB are a byte each: the slack.  A block
 * holding much less than its class (a shrink in place, a fixed heap's
 * bigger class) keeps its size in its own last four bytes instead. */
#define SLOT_IN_BLOCK 255

size_t wh_heap_found_usable(const wh_page *pg, const wh_huge *hg)
{
    if (hg) return hg->committed;
    if (pg->kind == WH_PK_LARGE) return pg->area;
    return pg->block_size;
}

size_t wh_heap_found_size(const wh_page *pg, const wh_huge *hg, const void *p)
{
    if (hg) return (hg->heap->flags & WH_HF_EXACT) ? hg->size : hg->committed;
    if (pg->kind == WH_PK_LARGE) return (pg->heap->flags & WH_HF_EXACT) ? pg->exact : pg->area;
    if (!pg->slots) return pg->block_size;
    uint64_t idx = ((uint64_t)((uintptr_t)p - pg->start) * pg->div) >> 40;
    uint32_t v;
    if (pg->block_size <= 2048) {
        if (pg->slots[idx] != SLOT_IN_BLOCK) return pg->block_size - pg->slots[idx];
        memcpy(&v, (const char *)p + pg->block_size - sizeof v, sizeof v);
    } else {
        memcpy(&v, pg->slots + idx * 4, sizeof v);
    }
    /* Sizes are data: a wild write can spoil one, never more. */
    return v <= pg->block_size ? v : pg->block_size;
}

void wh_heap_found_set_size(wh_page *pg, wh_huge *hg, const void *p, size_t size)
{
    if (hg) {
        hg->size = size;
        return;
    }
    if (pg->kind == WH_PK_LARGE) {
        pg->exact = size;
        return;
    }
    if (!pg->slots) return;
    uint64_t idx = ((uint64_t)((uintptr_t)p - pg->start) * pg->div) >> 40;
    if (pg->block_size <= 2048) {
        size_t d = pg->block_size - size;
        if (d < SLOT_IN_BLOCK) {
            pg->slots[idx] = (uint8_t)d;
        } else {
            /* 255 bytes of slack or more: the size goes at the block's end. */
            uint32_t v = (uint32_t)size;
            pg->slots[idx] = SLOT_IN_BLOCK;
            memcpy((char *)p + pg->block_size - sizeof v, &v, sizeof v);
        }
    } else {
        uint32_t v = (uint32_t)size;
        memcpy(pg->slots + idx * 4, &v, sizeof v);
    }
}

size_t wh_heap_block_usable_size(const void *p)
{
    wh_page *pg;
    wh_huge *hg;
    if (wh_heap_block_find((uintptr_t)p, &pg, &hg) != WH_BLOCK_OK) return 0;
    return wh_heap_found_usable(pg, hg);
}

int wh_heap_block_check(const void *p)
{
    wh_page *pg;
    wh_huge *hg;
    return wh_heap_block_find((uintptr_t)p, &pg, &hg);
}

wh_heap *wh_heap_block_heap(const void *p)
{
    wh_page *pg;
    wh_huge *hg;
    if (wh_heap_block_find((uintptr_t)p, &pg, &hg) != WH_BLOCK_OK) return NULL;
    return pg ? pg->heap : hg->heap;
}

bool wh_heap_block_is_fresh(const void *p, size_t size)
{
    wh_page *pg;
    wh_huge *hg;
    if (wh_heap_block_find((uintptr_t)p, &pg, &hg) != WH_BLOCK_OK) return false;
    if (hg) return hg->zero && size <= hg->committed;
    return pg->kind == WH_PK_LARGE && (pg->flags & WH_PF_ZERO) && size <= pg->area;
}

/* A large page grows into the free slices that follow it. */
static bool large_grow(wh_page *pg, size_t size)
{
    wh_heap *h = pg->heap;
    wh_segment *seg = page_segment(pg);
    uintptr_t page_end = pg->start + pg->area;
    uintptr_t base = (uintptr_t)seg;
    uint32_t shift = seg->slice_shift;
    if (page_end != base + ((uintptr_t)(pg->slice + pg->nslices) << shift))
        return false;   /* ends at the data end */
    size_t more = size - pg->area;
    uint32_t k = (uint32_t)((more + ((size_t)1 << shift) - 1) >> shift);
    uint32_t s = pg->slice + pg->nslices;
    bool ok = false;
    pthread_mutex_lock(&h->seg_lock);
    if (s + k - 1 <= seg->last_slice) {
        ok = true;
        for (uint32_t i = s; i < s + k; i++)
            if (slice_is_used(seg, i)) ok = false;
        uintptr_t start, end;
        wh_heap_slices_range(seg, pg->slice, pg->nslices + k, &start, &end);
        if (ok && end - pg->start < size) ok = false;
        if (ok && !segment_commit_to(h, seg, end)) ok = false;
        if (ok) {
            slices_take(seg, s, k);
            for (uint32_t i = s; i < s + k; i++) seg->slice_page[i] = pg;
            pg->nslices = (uint16_t)(pg->nslices + k);
            pg->area = end - pg->start;
            pg->block_size = (uint32_t)pg->area;
            pg->flags &= ~WH_PF_ZERO;
        }
    }
    pthread_mutex_unlock(&h->seg_lock);
    return ok;
}

static bool huge_grow(wh_huge *hg, size_t size)
{
    size_t page = wh_os_page_size();
    size_t usable = wh_align_up(size, page);
    if (usable < size) return false;
    if (usable <= hg->committed) return true;
    if (hg->data - hg->base + usable + page > hg->reserved) return false;
    wh_heap *h = hg->heap;
    if (wh_vm_commit((void *)(hg->data + hg->committed), usable - hg->committed,
                     heap_protect(h)) != 0)
        return false;
    advise_huge((void *)(hg->data + hg->committed), usable - hg->committed);
    pthread_mutex_lock(&h->seg_lock);
    count_commit(h, (ptrdiff_t)(usable - hg->committed));
    pthread_mutex_unlock(&h->seg_lock);
    hg->committed = usable;
    return true;
}

bool wh_heap_block_resize_in_place(void *p, size_t size)
{
    wh_page *pg;
    wh_huge *hg;
    if (wh_heap_block_find((uintptr_t)p, &pg, &hg) != WH_BLOCK_OK) return false;
    if (hg) return huge_grow(hg, size);
    if (size <= wh_heap_found_usable(pg, NULL)) return true;
    if (pg->kind != WH_PK_LARGE) return false;
    if (size >= WH_SEG_SIZE) return false;
    return large_grow(pg, size);
}

/* ------------------------------------------------------------------------
 * Heap objects
 * ---------------------------------------------------------------------- */

static void heap_init_struct(wh_heap *h, uint32_t flags, uint32_t options)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < WH_DIRECT_SLOTS; i++) h->direct[i] = &wh_page_empty;
    h->flags = flags;
    h->options = options;
    h->purge_due = UINT64_MAX;
    h->countdown = 64;
    wh_lock_init(&h->lock);
    pthread_mutex_init(&h->seg_lock, NULL);
    atomic_init(&h->remote_pages, NULL);
    atomic_init(&h->lock_owner, 0);
    h->magic = heap_magic(h);
}

/* Makes the region descriptor of a first segment name its heap (the heap
 * lives inside the reservation, so its address is known only afterwards). */
static void region_set_owner(uintptr_t base, wh_heap *h)
{
    wh_regions_lock();
    wh_region *r = wh_region_find(base);
    if (r) r->owner = h;
    wh_regions_unlock();
}

wh_heap *wh_heap_create(uint32_t flags, uint32_t options, size_t initial, size_t maximum,
                        uint32_t *err)
{
    pthread_once(&heap_once, heap_global_init);
    size_t page = wh_os_page_size();
    *err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (initial > WH_MAX_APP_ADDRESS || maximum > WH_MAX_APP_ADDRESS) return NULL;
    initial = wh_align_up(initial, page);

    /* size: what the heap may use; rsize: the reservation (64 KiB units). */
    size_t size, rsize;
    if (maximum) {
        flags |= WH_HF_FIXED;
        if (maximum < initial) maximum = initial;
        size = wh_align_up(maximum, page);
        rsize = wh_align_up(size, WH_GRANULARITY);
    } else {
        size = (size_t)2 << 20;
        while (size < WH_SEG_SIZE && seg_data_bytes(size, true, flags) < initial) size <<= 1;
        rsize = size;
    }
    size_t first = size < WH_SEG_SIZE ? size : WH_SEG_SIZE;
    uint32_t shift = heap_slice_shift(first, (flags & WH_HF_FIXED) != 0);
    seg_layout l;
    if (!seg_layout_make(first, true, flags, shift, &l)) {
        *err = WHEAP_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    void *base;
    uint32_t e = wh_vm_reserve(rsize, WH_SEG_SIZE, WH_RG_HEAP, NULL, &base);
    if (e) {
        *err = e;
        return NULL;
    }
    wh_heap *h = (wh_heap *)((uintptr_t)base + l.heap_off);
    region_set_owner((uintptr_t)base, h);
    wh_segment *seg = segment_setup(h, (uintptr_t)base, first, base, true, flags, shift);
    if (!seg) {
        wh_vm_release(base);
        return NULL;
    }
    heap_init_struct(h, flags, options);
    h->slice_shift = shift;
    /* Pages carry their owner's token: an arena's thread, else the heap. */
    h->tid = (flags & (WH_HF_ARENA | WH_HF_SHARED)) == WH_HF_ARENA ? wh_thread_id()
                                                                   : (uintptr_t)h | 1;
    h->reserved = rsize;
    count_commit(h, (ptrdiff_t)l.meta_commit);
    segment_link(h, seg);
    if (flags & WH_HF_FIXED) {
        h->maximum = size;
        h->fixed_base = base;
        h->fixed_windows = 1;
    } else {
        h->segments_made = 1;
    }
    segmap_set((uintptr_t)seg, WH_SEGMAP_HEAP);

    /* initial_size is committed up front, over as many segments as needed
     * (a fixed heap commits what its room allows). */
    size_t left = initial;
    pthread_mutex_lock(&h->seg_lock);
    for (wh_segment *s = seg; left && s;) {
        size_t room = s->data_end - s->data_start;
        size_t take = left < room ? left : room;
        if (!segment_commit_to(h, s, s->data_start + take)) break;
        left -= take;
        if (!left) break;
        uint32_t want = (uint32_t)(left >> WH_SLICE_SHIFT) + 1;
        if (want > WH_SEG_SLICES - 40) want = WH_SEG_SLICES - 40;
        s = (flags & WH_HF_FIXED) ? segment_next_window(h) : segment_new(h, want);
        if (!s && (flags & WH_HF_FIXED)) left = 0;
    }
    pthread_mutex_unlock(&h->seg_lock);
    if (left) {
        wh_heap_release_all(h);
        return NULL;
    }

    if (flags & WH_HF_ARENA) {
        wh_heap *top = atomic_load_explicit(&arenas_first, memory_order_relaxed);
        do {
            h->list_next = top;
        } while (!atomic_compare_exchange_weak_explicit(&arenas_first, &top, h,
                                                        memory_order_release,
                                                        memory_order_relaxed));
    } else {
        wh_heaps_lock();
        h->list_prev = NULL;
        h->list_next = heaps_first;
        if (heaps_first) heaps_first->list_prev = h;
        heaps_first = h;
        wh_heaps_unlock();
    }
    return h;
}

/* Releases every reservation of a heap that is no longer listed.  The
 * first segment, which holds the heap itself, goes last. */
void wh_heap_release_all(wh_heap *h)
{
    wh_huge *hg = h->huge;
    while (hg) {
        wh_huge *next = hg->next;
        huge_release(hg);
        hg = next;
    }
    h->huge = NULL;
    wh_segment *primary = NULL;
    for (wh_segment *seg = h->segments; seg; seg = seg->next) {
        segmap_set((uintptr_t)seg, 0);
        if (seg->primary) primary = seg;
    }
    void *fixed = h->fixed_base;
    wh_segment *seg = h->segments;
    while (seg) {
        wh_segment *next = seg->next;
        if (!seg->primary && !fixed) wh_vm_release(seg->reservation);
        seg = next;
    }
    h->magic = 0;
    if (primary) {
        primary->magic = 0;
        wh_vm_release(primary->reservation);
    }
}

void wh_heap_unlist(wh_heap *h)
{
    wh_heaps_lock();
    if (h->list_prev) h->list_prev->list_next = h->list_next;
    else heaps_first = h->list_next;
    if (h->list_next) h->list_next->list_prev = h->list_prev;
    wh_heaps_unlock();
}

/* ------------------------------------------------------------------------
 * Public-heap allocation (exact sizes)
 * ---------------------------------------------------------------------- */

void *wh_heap_alloc_exact(wh_heap *h, size_t size, bool zero)
{
    void *p = NULL;
    wh_page *pg = NULL;
    if (wh_likely(size <= WH_DIRECT_MAX)) {
        pg = h->direct[(size + 15) >> 4];
        wh_block *b = pg->free;
        if (wh_likely(b != NULL)) {
            p = wh_page_pop(pg, b);
            if (wh_unlikely(!p)) p = wh_heap_alloc_damaged(h, pg, size), pg = NULL;
        } else {
            pg = NULL;
        }
    }
    if (!p) {
        p = wh_heap_alloc_slow(h, size);
        if (!p) return NULL;
        pg = NULL;
    }
    if (h->flags & WH_HF_EXACT) {
        if (pg && pg->slots) {
            uint64_t idx = ((uint64_t)((uintptr_t)p - pg->start) * pg->div) >> 40;
            pg->slots[idx] = (uint8_t)(pg->block_size - size);   /* <= 1024: one byte */
        } else {
            wh_page *fp;
            wh_huge *fh;
            if (wh_heap_block_find((uintptr_t)p, &fp, &fh) == WH_BLOCK_OK)
                wh_heap_found_set_size(fp, fh, p, size);
        }
    }
    if (zero && size) {
        wh_page *fp;
        wh_huge *fh;
        bool fresh = false;
        if (size > WH_SMALL_MAX && wh_heap_block_find((uintptr_t)p, &fp, &fh) == WH_BLOCK_OK)
            fresh = fh ? fh->zero : (fp->flags & WH_PF_ZERO) != 0;
        if (!fresh) memset(p, 0, size);
    }
    return p;
}

/* ------------------------------------------------------------------------
 * Heartbeat: remote frees and purges, on slow paths only
 * ---------------------------------------------------------------------- */

/* Frees retired (empty, current) pages that a previous pass saw empty.
 * The owner only. */
static void free_retired_pages(wh_heap *h, uint64_t now, bool force)
{
    uint64_t delay = wh_options_get()->purge_delay_ms;
    for (unsigned bin = 1; bin <= WH_BIN_SMALL_MAX; bin++) {
        wh_page *pg = h->bins[bin].first;
        if (!pg) continue;
        if (page_used(pg) != 0) {
            pg->flags &= ~WH_PF_RETIRED;
            continue;
        }
        /* Empty since at least the previous pass (or it was used and
         * emptied again meanwhile: a pair in flight; it may go all the
         * same, after the delay). */
        if (!(pg->flags & WH_PF_RETIRED)) {
            pg->flags |= WH_PF_RETIRED;
            pg->stamp = 0;
        }
        page_collect_thread_free(h, pg);
        if (!force && (pg->stamp == 0 || pg->stamp + delay > now)) {
            if (pg->stamp == 0) pg->stamp = now ? now : 1;
            uint64_t due = pg->stamp + delay;
            pthread_mutex_lock(&h->seg_lock);
            if (due < h->purge_due) h->purge_due = due;
            pthread_mutex_unlock(&h->seg_lock);
            continue;
        }
        page_retire(h, pg, false);
    }
}

static bool heap_has_retired(const wh_heap *h)
{
    for (unsigned bin = 1; bin <= WH_BIN_SMALL_MAX; bin++) {
        const wh_page *pg = h->bins[bin].first;
        if (pg && page_used(pg) == 0) return true;
    }
    return false;
}

/* The owner's housekeeping on a slow path.  The clock is read when a purge
 * waits for it, or every sixteenth call (retired pages, other arenas). */
static void heap_heartbeat(wh_heap *h)
{
    h->countdown = 64;
    collect_remote_pages(h);
    bool periodic = (++h->heartbeat & 15) == 0;
    uint64_t due = __atomic_load_n(&h->purge_due, __ATOMIC_RELAXED);
    if (due == UINT64_MAX && !periodic) return;
    uint64_t now = wh_heap_now_ms();
    WH_DEBUG_ASSERT(!periodic || wh_heap_is_valid(h));
    if (periodic && heap_has_retired(h)) free_retired_pages(h, now, false);
    if (due <= now) wh_heap_purge(h, now, false);
    if (periodic && (h->flags & WH_HF_ARENA)) wh_heap_purge_tick();
}

void wh_heap_heartbeat(wh_heap *h)
{
    heap_heartbeat(h);
}

bool wh_heap_arena_collect(wh_heap *h, bool force)
{
    size_t before = h->committed;
    collect_remote_pages(h);
    uint64_t now = wh_heap_now_ms();
    free_retired_pages(h, now, force);
    wh_heap_purge(h, now, force);
    return h->committed < before || force;
}

/* Other threads' arenas, and abandoned ones, get their due purges here: an
 * arena whose thread sleeps would otherwise keep its free memory. */
static _Atomic uint64_t tick_last;
static pthread_mutex_t tick_mutex = PTHREAD_MUTEX_INITIALIZER;

/* Due purges of every arena but the caller's own, and the owner's chores
 * of abandoned ones.  tick_mutex held. */
static void purge_arenas(uint64_t now)
{
    wh_heaps_lock();
    for (wh_heap *h = abandoned_first; h; h = h->abandoned_next) {
        collect_remote_pages(h);
        free_retired_pages(h, now, false);
    }
    wh_heaps_unlock();
    uintptr_t me = wh_thread_id();
    for (wh_heap *h = atomic_load_explicit(&arenas_first, memory_order_acquire); h;
         h = h->list_next) {
        if (h->tid == me) continue;
        if (pthread_mutex_trylock(&h->seg_lock) != 0) continue;
        bool due = h->purge_due <= now;
        pthread_mutex_unlock(&h->seg_lock);
        if (due) wh_heap_purge(h, now, false);
    }
}

void wh_heap_purge_tick(void)
{
    uint64_t now = wh_heap_now_ms();
    uint64_t last = atomic_load_explicit(&tick_last, memory_order_relaxed);
    /* At most every 10 ms, and one thread at a time. */
    if (now < last + 10) return;
    if (!atomic_compare_exchange_strong(&tick_last, &last, now)) return;
    if (pthread_mutex_trylock(&tick_mutex) != 0) return;
    purge_arenas(now);
    pthread_mutex_unlock(&tick_mutex);
}

void wh_heap_purge_idle(void)
{
    uint64_t now = wh_heap_now_ms();
    pthread_mutex_lock(&tick_mutex);
    purge_arenas(now);
    pthread_mutex_unlock(&tick_mutex);
    /* Public heaps: slices only (their page queues belong to whoever holds
     * their lock).  The heaps lock keeps them from being destroyed
     * meanwhile; a purge's system calls are few and short. */
    wh_heaps_lock();
    for (wh_heap *h = heaps_first; h; h = h->list_next) {
        if (pthread_mutex_trylock(&h->seg_lock) != 0) continue;
        bool due = h->purge_due <= now;
        pthread_mutex_unlock(&h->seg_lock);
        if (due) wh_heap_purge(h, now, false);
    }
    wh_heaps_unlock();
}

/* ------------------------------------------------------------------------
 * Arenas
 * ---------------------------------------------------------------------- */

wh_heap *wh_heap_new_arena(void)
{
    uint32_t err;
    return wh_heap_create(WH_HF_ARENA, WHEAP_HEAP_NO_SERIALIZE, 0, 0, &err);
}

wh_heap *wh_heap_new_shared_arena(void)
{
    uint32_t err;
    return wh_heap_create(WH_HF_ARENA | WH_HF_SHARED, 0, 0, 0, &err);
}

/* Sets the owner of every page of h.  The caller owns h. */
static void heap_set_tid(wh_heap *h, uintptr_t tid)
{
    h->tid = tid;
    pthread_mutex_lock(&h->seg_lock);
    for (wh_segment *seg = h->segments; seg; seg = seg->next)
        for (uint32_t i = seg->first_slice; i <= seg->last_slice; i++) {
            wh_page *pg = &seg->pages[i];
            if (pg->kind == WH_PK_SMALL || pg->kind == WH_PK_LARGE) pg->tid = tid;
        }
    pthread_mutex_unlock(&h->seg_lock);
}

void wh_heap_arena_abandon(wh_heap *h)
{
    if (!h || !(h->flags & WH_HF_ARENA)) return;
    collect_remote_pages(h);
    free_retired_pages(h, wh_heap_now_ms(), true);
    heap_set_tid(h, 0);
    wh_heaps_lock();
    h->flags |= WH_HF_ABANDONED;
    h->abandoned_next = abandoned_first;
    abandoned_first = h;
    wh_heaps_unlock();
}

wh_heap *wh_heap_arena_adopt(void)
{
    wh_heaps_lock();
    wh_heap *h = abandoned_first;
    if (h) {
        abandoned_first = h->abandoned_next;
        h->abandoned_next = NULL;
        h->flags &= ~WH_HF_ABANDONED;
    }
    wh_heaps_unlock();
    if (!h) return NULL;
    heap_set_tid(h, wh_thread_id());
    collect_remote_pages(h);
    return h;
}

bool wh_heap_trim_all(void)
{
    bool any = false;
    for (wh_heap *h = atomic_load_explicit(&arenas_first, memory_order_acquire); h;
         h = h->list_next) {
        if (h->tid == wh_thread_id()) {
            any |= wh_heap_arena_collect(h, true);
        } else if (h->flags & WH_HF_SHARED) {
            wh_lock_take(&h->lock);
            any |= wh_heap_arena_collect(h, true);
            wh_lock_give(&h->lock);
        } else {
            size_t before = h->committed;
            wh_heap_purge(h, wh_heap_now_ms(), true);
            any |= h->committed < before;
        }
    }
    wh_heaps_lock();
    for (wh_heap *h = abandoned_first; h; h = h->abandoned_next) {
        collect_remote_pages(h);
        free_retired_pages(h, wh_heap_now_ms(), true);
        wh_heap_purge(h, wh_heap_now_ms(), true);
    }
    wh_heaps_unlock();
    return any;
}

size_t wh_heap_arenas_allocated(void)
{
    size_t total = 0;
    for (wh_heap *h = atomic_load_explicit(&arenas_first, memory_order_acquire); h;
         h = h->list_next) {
        wh_heap_counters c;
        wh_heap_counters_get(h, &c);
        total += c.allocated;
    }
    return total;
}

/* ------------------------------------------------------------------------
 * fork
 * ---------------------------------------------------------------------- */

void wh_heap_fork_prepare(void)
{
    pthread_mutex_lock(&tick_mutex);
    wh_heaps_lock();
    for (wh_heap *h = heaps_first; h; h = h->list_next) pthread_mutex_lock(&h->seg_lock);
    for (wh_heap *h = atomic_load(&arenas_first); h; h = h->list_next)
        pthread_mutex_lock(&h->seg_lock);
}

void wh_heap_fork_parent(void)
{
    for (wh_heap *h = atomic_load(&arenas_first); h; h = h->list_next)
        pthread_mutex_unlock(&h->seg_lock);
    for (wh_heap *h = heaps_first; h; h = h->list_next) pthread_mutex_unlock(&h->seg_lock);
    wh_heaps_unlock();
    pthread_mutex_unlock(&tick_mutex);
}

void wh_heap_fork_child(void)
{
    uintptr_t me = wh_thread_id();
    wh_heap_background_forked();
    pthread_mutex_init(&tick_mutex, NULL);
    pthread_mutex_init(&heaps_mutex, NULL);
    for (wh_heap *h = heaps_first; h; h = h->list_next) {
        pthread_mutex_init(&h->seg_lock, NULL);
        if (atomic_load(&h->lock_owner) != me) {
            wh_lock_init(&h->lock);
            atomic_store(&h->lock_owner, 0);
            h->lock_depth = 0;
        }
    }
    /* Arenas of threads that did not come along are abandoned. */
    for (wh_heap *h = atomic_load(&arenas_first); h; h = h->list_next) {
        pthread_mutex_init(&h->seg_lock, NULL);
        if (h->tid != 0 && h->tid != me && !(h->flags & (WH_HF_ABANDONED | WH_HF_SHARED))) {
            heap_set_tid(h, 0);
            h->flags |= WH_HF_ABANDONED;
            h->abandoned_next = abandoned_first;
            abandoned_first = h;
        }
    }
}
