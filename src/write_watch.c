/*
 * MEM_WRITE_WATCH: which pages of a reservation were written since the
 * last reset (GetWriteWatch / ResetWriteWatch).
 *
 * The kernel does the tracking.  Committed ranges of a write-watch region
 * are registered with a userfaultfd in asynchronous write-protect mode and
 * write-protected; the first write to a page (by the program or by the
 * kernel, as in read(2) into the buffer) is resolved inside the kernel,
 * which merely unprotects the page.  PAGEMAP_SCAN then lists the
 * unprotected pages, and re-protects them in the same atomic pass when the
 * caller resets.
 *
 *   wh_vm_alloc_write_watch ── wh_vm_reserve_at, wh_vm_commit ─┐
 *   vm.c commit of fresh pages ── wh_ww_track ── wh_os_uffd_watch
 *   vm.c decommit / MEM_RESET ── wh_ww_harvest ─┐
 *   wheap_get_write_watch ──┬── harvest ────────┴─ wh_os_pagemap_written
 *   wheap_reset_write_watch ┘   (rearm)            (PAGEMAP_SCAN)
 *
 * Pages whose tracking state the kernel is about to forget (decommit and
 * MEM_RESET map fresh memory or discard pages), or that a reset-mode
 * GetWriteWatch consumed but could not return (buffer full), are kept in
 * the record's "harvested" bitmap; a page is written when the kernel says
 * so or its harvested bit is set.  Win32 keeps decommitted written pages in
 * the list too.
 *
 * Everything here runs under the regions lock, which also guards the
 * records.  Where the kernel lacks the features, MEM_WRITE_WATCH fails with
 * ERROR_NOT_SUPPORTED.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Records
 * ---------------------------------------------------------------------- */

#define INLINE_WORDS 8   /* regions of up to 512 pages keep their bits inline */

typedef struct ww_record {
    wh_region        *region;          /* NULL until registered */
    uint64_t         *harvested;       /* npages bits: written, kernel state consumed */
    size_t            map_size;        /* bytes of the bitmap's own mapping; 0 inline */
    struct ww_record *next, *prev;     /* live records (re-armed after fork) */
    uint64_t          inline_bits[INLINE_WORDS];
} ww_record;

static ww_record *live_records;
static ww_record *free_records;

/* Records come from metadata chunks (never malloc) and are recycled. */
static ww_record *record_new(size_t npages)
{
    if (!free_records) {
        void *chunk;
        size_t chunk_size = 64 * 1024;
        if (wh_os_map_metadata(chunk_size, &chunk) != 0) return NULL;
        ww_record *recs = chunk;
        for (size_t i = 0; i < chunk_size / sizeof *recs; i++) {
            recs[i].next = free_records;
            free_records = &recs[i];
        }
    }
    ww_record *w = free_records;
    size_t words = (npages + 63) / 64;
    size_t map_size = 0;
    uint64_t *bits = w->inline_bits;
    if (words > INLINE_WORDS) {
        map_size = wh_align_up(words * sizeof(uint64_t), wh_os_page_size());
        void *p;
        if (wh_os_map_metadata(map_size, &p) != 0) return NULL;
        bits = p;
    }
    free_records = w->next;
    memset(w, 0, sizeof *w);
    w->harvested = map_size ? bits : w->inline_bits;
    w->map_size = map_size;
    return w;
}

static void record_free(ww_record *w)
{
    if (w->map_size) wh_os_release(w->harvested, w->map_size);
    w->harvested = NULL;
    w->region = NULL;
    w->next = free_records;
    free_records = w;
}

static void record_link(ww_record *w)
{
    w->prev = NULL;
    w->next = live_records;
    if (live_records) live_records->prev = w;
    live_records = w;
}

static void record_unlink(ww_record *w)
{
    if (w->prev) w->prev->next = w->next;
    else if (live_records == w) live_records = w->next;
    if (w->next) w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

WH_INLINE void bit_set(uint64_t *b, size_t i) { b[i / 64] |= (uint64_t)1 << (i % 64); }
WH_INLINE void bit_clear(uint64_t *b, size_t i) { b[i / 64] &= ~((uint64_t)1 << (i % 64)); }

/* The first set bit in [i, end), or end. */
static size_t bit_next(const uint64_t *b, size_t i, size_t end)
{
    while (i < end) {
        uint64_t w = b[i / 64] >> (i % 64);
        if (w) {
            size_t j = i + (size_t)__builtin_ctzll(w);
            return j < end ? j : end;
        }
        i = (i | 63) + 1;
    }
    return end;
}

static void bits_clear_range(uint64_t *b, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; ) {
        if (i % 64 == 0 && i + 64 <= i1) {
            b[i / 64] = 0;
            i += 64;
        } else {
            bit_clear(b, i++);
        }
    }
}

/* ------------------------------------------------------------------------
 * The kernel side: one userfaultfd and one pagemap descriptor per process
 * ---------------------------------------------------------------------- */

static int uffd = -1, pagemap = -1;
static int ww_state;                 /* 0 untried, 1 ready, -1 unsupported */
static unsigned long ww_pid;

static bool page_committed(const wh_region *r, size_t i)
{
    return atomic_load_explicit(&r->pages[i], memory_order_relaxed) & WH_PG_COMMITTED;
}

/* A forked child inherits neither the registrations (its copies of the
 * regions are untracked) nor a usable pagemap descriptor (it describes the
 * parent).  Open our own, track every committed range again, and count
 * every committed page as written: what the parent knew is lost, and
 * saying "written" too often is the safe error. */
static int rearm_after_fork(void)
{
    size_t page = wh_os_page_size();
    wh_os_fd_close(uffd);
    wh_os_fd_close(pagemap);
    uffd = pagemap = -1;
    int e = wh_os_uffd_open(&uffd);
    if (!e) e = wh_os_pagemap_open(&pagemap);
    for (ww_record *w = live_records; !e && w; w = w->next) {
        wh_region *r = w->region;
        for (size_t i = 0; !e && i < r->npages; ) {
            if (!page_committed(r, i)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < r->npages && page_committed(r, j)) bit_set(w->harvested, j++);
            e = wh_os_uffd_watch(uffd, (void *)(r->base + i * page), (j - i) * page);
            i = j;
        }
    }
    return e;
}

/* Opens the kernel interfaces once per process.  Caller holds the lock. */
static bool ww_ready(void)
{
    unsigned long pid = wh_os_process_id();
    if (ww_state == 1 && pid == ww_pid) return true;
    if (ww_state == -1) return false;
    int e;
    if (ww_state == 0) {
        e = wh_os_uffd_open(&uffd);
        if (!e) e = wh_os_pagemap_open(&pagemap);
    } else {
        e = rearm_after_fork();
    }
    if (e) {
        wh_os_fd_close(uffd);
        wh_os_fd_close(pagemap);
        uffd = pagemap = -1;
        ww_state = -1;
        return false;
    }
    ww_state = 1;
    ww_pid = pid;
    return true;
}

/* Moves the kernel's written state of pages [i0, i1) of r into the
 * harvested bits, write-protecting them again.  Caller holds the lock. */
static int harvest(wh_region *r, ww_record *w, size_t i0, size_t i1)
{
    size_t page = wh_os_page_size();
    uintptr_t pos = r->base + i0 * page, end = r->base + i1 * page;
    wh_os_page_run runs[64];
    while (pos < end) {
        size_t n;
        uintptr_t walk_end;
        int e = wh_os_pagemap_written(pagemap, pos, end, true, runs, 64, &n, &walk_end);
        if (e) return e;
        for (size_t k = 0; k < n; k++)
            for (uintptr_t a = runs[k].start; a < runs[k].end; a += page)
                bit_set(w->harvested, (a - r->base) / page);
        if (walk_end <= pos) break;   /* no progress: nothing left to walk */
        pos = walk_end;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Hooks from vm.c (regions lock held)
 * ---------------------------------------------------------------------- */

int wh_ww_track(wh_region *r, void *addr, size_t size)
{
    (void)r;
    if (!ww_ready()) return ENOTSUP;
    return wh_os_uffd_watch(uffd, addr, size);
}

void wh_ww_harvest(wh_region *r, size_t i0, size_t i1)
{
    ww_record *w = r->owner;
    /* Without the kernel interfaces nothing was tracked: nothing to keep. */
    if (w && ww_ready()) harvest(r, w, i0, i1);
}

void wh_ww_released(wh_region *r)
{
    ww_record *w = r->owner;
    if (!w) return;
    record_unlink(w);
    record_free(w);
}

/* ------------------------------------------------------------------------
 * VirtualAlloc(MEM_WRITE_WATCH)
 * ---------------------------------------------------------------------- */

void *wh_vm_alloc_write_watch(uintptr_t address, size_t size, uint32_t type, uint32_t protect,
                              uint32_t *err)
{
    size_t page = wh_os_page_size();
    uintptr_t base = address ? wh_align_down(address, WH_GRANULARITY) : 0;
    uintptr_t end = address ? address + size : size;
    size_t rsize = wh_align_up(end, WH_GRANULARITY) - base;
    if (rsize < size) {
        *err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }

    wh_regions_lock();
    ww_record *w = ww_ready() ? record_new(rsize / page) : NULL;
    uint32_t e = ww_state == 1 ? (w ? 0 : WHEAP_ERROR_NOT_ENOUGH_MEMORY)
                               : WHEAP_ERROR_NOT_SUPPORTED;
    wh_regions_unlock();
    if (e) {
        *err = e;
        return NULL;
    }

    void *p;
    e = wh_vm_reserve_at(base, rsize, protect, WH_RG_WRITE_WATCH, w, &p);
    wh_regions_lock();
    if (e) {
        record_free(w);
    } else {
        w->region = wh_region_find((uintptr_t)p);
        record_link(w);
    }
    wh_regions_unlock();
    if (e) {
        *err = e;
        return NULL;
    }
    if (type & WHEAP_MEM_COMMIT) {
        /* The commit tracks the fresh pages (wh_ww_track). */
        uintptr_t cstart = address ? wh_align_down(address, page) : (uintptr_t)p;
        uintptr_t cend = address ? wh_align_up(address + size, page)
                                 : (uintptr_t)p + wh_align_up(size, page);
        e = wh_vm_commit((void *)cstart, cend - cstart, protect);
        if (e) {
            wh_vm_release(p);
            *err = e;
            return NULL;
        }
    }
    return p;
}

/* ------------------------------------------------------------------------
 * GetWriteWatch / ResetWriteWatch
 * ---------------------------------------------------------------------- */

/* The write-watch region holding [base, base+size) and its page indexes;
 * caller holds the lock. */
static uint32_t locate_watch(const void *base, size_t size, wh_region **rp, size_t *i0,
                             size_t *i1)
{
    size_t page = wh_os_page_size();
    uintptr_t a = (uintptr_t)base;
    if (!base || size == 0 || a + size < a) return WHEAP_ERROR_INVALID_PARAMETER;
    wh_region *r = wh_region_find(a);
    if (!r || !(r->flags & WH_RG_WRITE_WATCH) || !r->owner) return WHEAP_ERROR_INVALID_PARAMETER;
    uintptr_t start = wh_align_down(a, page), end = wh_align_up(a + size, page);
    if (end > r->base + r->size || end < start) return WHEAP_ERROR_INVALID_PARAMETER;
    if (!ww_ready()) return WHEAP_ERROR_NOT_SUPPORTED;
    *rp = r;
    *i0 = (start - r->base) / page;
    *i1 = (end - r->base) / page;
    return 0;
}

static uint32_t fail_u32(uint32_t err)
{
    wh_set_error(err);
    return ~0u;
}

/* A walk over the kernel's written pages of [scanned, end): runs[k..n)
 * are the written runs found below scanned that were not yet passed. */
typedef struct kernel_cursor {
    wh_os_page_run runs[64];
    size_t         n, k;
    uintptr_t      scanned, end;
} kernel_cursor;

/* The first kernel-written page at or after at (end when none). */
static int kernel_next(kernel_cursor *c, uintptr_t at, uintptr_t *out)
{
    for (;;) {
        while (c->k < c->n && c->runs[c->k].end <= at) c->k++;
        if (c->k < c->n) {
            *out = c->runs[c->k].start > at ? c->runs[c->k].start : at;
            return 0;
        }
        uintptr_t from = at > c->scanned ? at : c->scanned;
        if (from >= c->end) {
            *out = c->end;
            return 0;
        }
        uintptr_t walk_end;
        int e = wh_os_pagemap_written(pagemap, from, c->end, false, c->runs, 64, &c->n,
                                      &walk_end);
        if (e) return e;
        c->k = 0;
        c->scanned = walk_end > from ? walk_end : c->end;
    }
}

/* Reports written pages in ascending order without resetting: the kernel's
 * written pages merged with the harvested bits. */
static uint32_t report(wh_region *r, ww_record *w, size_t i0, size_t i1, void **out,
                       size_t cap, size_t *count)
{
    size_t page = wh_os_page_size();
    kernel_cursor c;
    c.n = c.k = 0;
    c.scanned = r->base + i0 * page;
    c.end = r->base + i1 * page;
    size_t n = 0;
    for (size_t i = i0; n < cap && i < i1; ) {
        uintptr_t at;
        int e = kernel_next(&c, r->base + i * page, &at);
        if (e) return wh_error_from_errno(e);
        size_t kernel = (at - r->base) / page;
        size_t next = bit_next(w->harvested, i, kernel);
        if (next >= i1) break;
        out[n++] = (void *)(r->base + next * page);
        i = next + 1;
    }
    *count = n;
    return 0;
}

/* Writes to every page of the caller's buffer (a store of what is there)
 * before the regions lock is taken: a fault on it (a guard page, memory to
 * commit on demand) must reach the exception handlers while wheap holds no
 * lock, as everywhere else in wheap. */
static void touch_buffer(void **out, size_t n)
{
    size_t page = wh_os_page_size();
    uintptr_t a = (uintptr_t)out, end = (uintptr_t)(out + n);
    for (; a < end; a = wh_align_down(a, page) + page)
        __atomic_fetch_or((volatile unsigned char *)a, 0, __ATOMIC_RELAXED);
}

uint32_t wheap_get_write_watch(uint32_t flags, void *base, size_t size, void **addresses,
                               size_t *count, uint32_t *granularity)
{
    if (flags & ~WHEAP_WRITE_WATCH_FLAG_RESET) return fail_u32(WHEAP_ERROR_INVALID_PARAMETER);
    if (!base || size == 0 || (uintptr_t)base + size < (uintptr_t)base)
        return fail_u32(WHEAP_ERROR_INVALID_PARAMETER);
    if (!count) return fail_u32(WHEAP_ERROR_NOACCESS);
    if (*count == 0) return fail_u32(WHEAP_ERROR_INVALID_PARAMETER);
    if (!addresses || !granularity) return fail_u32(WHEAP_ERROR_NOACCESS);

    size_t page = wh_os_page_size();
    /* No more pages can come back than the range holds. */
    size_t most = (wh_align_up((uintptr_t)base + size, page) -
                   wh_align_down((uintptr_t)base, page)) / page;
    size_t cap = *count < most ? *count : most, n = 0;
    touch_buffer(addresses, cap);
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate_watch(base, size, &r, &i0, &i1);
    ww_record *w = err ? NULL : r->owner;
    if (!err && (flags & WHEAP_WRITE_WATCH_FLAG_RESET)) {
        /* Consume the kernel's state of the whole range, then hand out
         * (and forget) the first cap pages; the rest stay harvested. */
        int e = harvest(r, w, i0, i1);
        if (e) err = wh_error_from_errno(e);
        for (size_t i = bit_next(w->harvested, i0, i1); !err && n < cap && i < i1;
             i = bit_next(w->harvested, i + 1, i1)) {
            addresses[n++] = (void *)(r->base + i * page);
            bit_clear(w->harvested, i);
        }
    } else if (!err) {
        err = report(r, w, i0, i1, addresses, cap, &n);
    }
    wh_regions_unlock();
    if (err) return fail_u32(err);
    *count = n;
    *granularity = (uint32_t)page;
    return 0;
}

uint32_t wheap_reset_write_watch(void *base, size_t size)
{
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate_watch(base, size, &r, &i0, &i1);
    if (!err) {
        ww_record *w = r->owner;
        int e = harvest(r, w, i0, i1);
        if (e) err = wh_error_from_errno(e);
        else bits_clear_range(w->harvested, i0, i1);
    }
    wh_regions_unlock();
    return err ? fail_u32(err) : 0;
}
