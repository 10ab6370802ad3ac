/*
 * Layer 1: virtual memory, the VirtualAlloc family.
 *
 *   wheap_virtual_alloc ──┬─ vm_reserve ── wh_os_reserve / _aligned, wh_region_insert
 *                         ├─ vm_commit_pages ── wh_os_commit / wh_os_protect
 *                         └─ vm_reset_pages ── wh_os_reset
 *   wheap_virtual_free ───┬─ vm_decommit_pages ── wh_os_decommit
 *                         └─ vm_release ── wh_region_remove, wh_os_release
 *                         ├─ vm_undo_pages ── wh_os_residency, re-dirty (MEM_RESET_UNDO)
 *                         └─ wh_vm_alloc_large_pages ── wh_os_map_huge
 *   wheap_virtual_protect ── vm_protect_pages
 *   wheap_virtual_lock / _unlock ── wh_os_lock / wh_os_unlock
 *   wheap_virtual_query ──┬─ the region table (wheap's reservations)
 *                         └─ /proc/self/maps (everything else)
 *
 * Internal wh_vm_* functions return 0 or WHEAP_ERROR_*; public functions
 * return bool/pointers and set the last error.  Page state lives in the
 * region table (regions.c), one uint16_t per page.  State changes and the
 * system calls that make them happen together under the regions lock, so
 * that the table always describes the mappings.  The one change made
 * without that lock is a guard page's one-shot transition in the SIGSEGV
 * handler (exceptions.c); ranges that have or get guard pages therefore
 * also change under the guard lock.
 *
 * Nothing here touches caller memory while a lock is held, except
 * MEM_RESET_UNDO's re-dirtying of pages the table calls committed and
 * writable, which cannot fault.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------------
 * Counters
 * ---------------------------------------------------------------------- */

static _Atomic size_t vm_reserved, vm_committed, vm_reset, vm_peak_committed;

static void count_commit(ptrdiff_t bytes)
{
    size_t now = atomic_fetch_add_explicit(&vm_committed, (size_t)bytes,
                                           memory_order_relaxed) + (size_t)bytes;
    size_t peak = atomic_load_explicit(&vm_peak_committed, memory_order_relaxed);
    while (bytes > 0 && now > peak &&
           !atomic_compare_exchange_weak_explicit(&vm_peak_committed, &peak, now,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void wh_vm_counters_get(wh_vm_counters *out)
{
    out->reserved = atomic_load_explicit(&vm_reserved, memory_order_relaxed);
    out->committed = atomic_load_explicit(&vm_committed, memory_order_relaxed);
    out->reset = atomic_load_explicit(&vm_reset, memory_order_relaxed);
    out->peak_committed = atomic_load_explicit(&vm_peak_committed, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Protections
 * ---------------------------------------------------------------------- */

static const uint32_t prot_by_index[8] = {
    WHEAP_PAGE_NOACCESS, WHEAP_PAGE_READONLY, WHEAP_PAGE_READWRITE, WHEAP_PAGE_WRITECOPY,
    WHEAP_PAGE_EXECUTE, WHEAP_PAGE_EXECUTE_READ, WHEAP_PAGE_EXECUTE_READWRITE,
    WHEAP_PAGE_EXECUTE_WRITECOPY,
};

#define PROT_MODIFIERS (WHEAP_PAGE_GUARD | WHEAP_PAGE_NOCACHE | WHEAP_PAGE_WRITECOMBINE)

/* Checks a PAGE_* value: exactly one base protection, modifiers that go
 * together, no unknown bits.  private: WRITECOPY is refused. */
static bool protect_is_valid(uint32_t protect, bool private_memory)
{
    uint32_t base = protect & 0xFFu;
    if (protect & ~(0xFFu | PROT_MODIFIERS)) return false;
    if (base == 0 || (base & (base - 1))) return false;
    if (private_memory && (base == WHEAP_PAGE_WRITECOPY || base == WHEAP_PAGE_EXECUTE_WRITECOPY))
        return false;
    uint32_t mods = protect & PROT_MODIFIERS;
    if (mods & (mods - 1)) return false;            /* at most one modifier */
    if (mods && base == WHEAP_PAGE_NOACCESS) return false;
    return true;
}

/* The page-state bits for a valid protection (committed bit not included). */
static uint16_t state_from_protect(uint32_t protect)
{
    uint16_t s = (uint16_t)__builtin_ctz(protect & 0xFFu);
    if (protect & WHEAP_PAGE_GUARD) s |= WH_PG_GUARD;
    if (protect & WHEAP_PAGE_NOCACHE) s |= WH_PG_NOCACHE;
    if (protect & WHEAP_PAGE_WRITECOMBINE) s |= WH_PG_WRITECOMBINE;
    return s;
}

static uint32_t protect_from_state(uint16_t s)
{
    uint32_t p = prot_by_index[s & WH_PG_PROT_MASK];
    if (s & WH_PG_GUARD) p |= WHEAP_PAGE_GUARD;
    if (s & WH_PG_NOCACHE) p |= WHEAP_PAGE_NOCACHE;
    if (s & WH_PG_WRITECOMBINE) p |= WHEAP_PAGE_WRITECOMBINE;
    return p;
}

/* What the MMU gets: guard pages are inaccessible until their first touch. */
static int os_prot_for_state(uint16_t s)
{
    if (s & WH_PG_GUARD) return PROT_NONE;
    return wh_os_prot_from_win32(prot_by_index[s & WH_PG_PROT_MASK]);
}

/* The bits that make two pages look alike to VirtualQuery. */
#define STATE_VISIBLE (WH_PG_PROT_MASK | WH_PG_COMMITTED | WH_PG_GUARD | WH_PG_NOCACHE | \
                       WH_PG_WRITECOMBINE)

/* vm.c's own page-state bit beside the WH_PG_* ones: when MEM_RESET was
 * applied the page had never held data (not resident, not swapped), so it
 * reads as zero whatever the kernel does, and MEM_RESET_UNDO need not find
 * it resident.  Meaningful only together with WH_PG_RESET. */
#define PG_RESET_EMPTY 0x0200
_Static_assert((PG_RESET_EMPTY & (WH_PG_PROT_MASK | WH_PG_COMMITTED | WH_PG_GUARD |
                                  WH_PG_NOCACHE | WH_PG_WRITECOMBINE | WH_PG_RESET |
                                  WH_PG_LOCKED)) == 0, "PG_RESET_EMPTY collides");

/* The bits a page keeps when its protection changes: its data and lock. */
#define PG_KEEP (WH_PG_RESET | PG_RESET_EMPTY | WH_PG_LOCKED)

WH_INLINE uint16_t page_get(const wh_region *r, size_t i)
{
    return atomic_load_explicit(&r->pages[i], memory_order_relaxed);
}

WH_INLINE void page_set(wh_region *r, size_t i, uint16_t v)
{
    atomic_store_explicit(&r->pages[i], v, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Reservation
 * ---------------------------------------------------------------------- */

/* Where the next reservation is tried first: just below the last one, so
 * that consecutive reservations are contiguous and the kernel merges them
 * into one mapping (a million reservations stay within vm.max_map_count). */
static _Atomic uintptr_t next_hint;

static int os_reserve_placed(size_t size, size_t align, void **out, uintptr_t *before)
{
    uintptr_t last = atomic_load_explicit(&next_hint, memory_order_relaxed);
    *before = last;
    if (last > size + WH_MIN_APP_ADDRESS + ((uintptr_t)1 << 32)) {
        uintptr_t hint = wh_align_down(last - size, align);
        if (wh_os_reserve((void *)hint, size, out) == 0) {
            atomic_store_explicit(&next_hint, hint, memory_order_relaxed);
            return 0;
        }
    }
    int e = wh_os_reserve_aligned(size, align, out);
    if (e == 0) atomic_store_explicit(&next_hint, (uintptr_t)*out, memory_order_relaxed);
    return e;
}

/* Enters a fresh mapping [base, base+size) into the table; on failure the
 * mapping is released.  Returns the region or NULL with *err set. */
static wh_region *vm_register(uintptr_t base, size_t size, uint32_t protect, uint32_t flags,
                              void *owner, uint32_t *err)
{
    wh_regions_lock();
    wh_region *r = wh_region_new(base, size);
    if (r) {
        r->alloc_protect = protect;
        r->flags = flags;
        r->owner = owner;
        r->type = (flags & WH_RG_VIEW) ? WHEAP_MEM_MAPPED : WHEAP_MEM_PRIVATE;
        if (wh_region_insert(r) != 0) {
            wh_region_remove(r);
            r = NULL;
        }
    }
    wh_regions_unlock();
    if (!r) {
        wh_os_release((void *)base, size);
        *err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    atomic_fetch_add_explicit(&vm_reserved, size, memory_order_relaxed);
    return r;
}

/* Reserves [address, address+size) exactly (address 64 KiB aligned), or
 * anywhere when address is NULL. */
static wh_region *vm_reserve(uintptr_t address, size_t size, size_t align, uint32_t protect,
                             uint32_t flags, void *owner, uint32_t *err)
{
    void *p;
    uintptr_t before = 0;
    int e = address ? wh_os_reserve((void *)address, size, &p)
                    : os_reserve_placed(size, align, &p, &before);
    if (e) {
        *err = (address && e != ENOMEM) ? WHEAP_ERROR_INVALID_ADDRESS
                                        : WHEAP_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    wh_region *r = vm_register((uintptr_t)p, size, protect, flags, owner, err);
    if (r) r->hint_before = before;
    return r;
}

uint32_t wh_vm_reserve(size_t size, size_t align, uint32_t flags, void *owner, void **out)
{
    if (align < WH_GRANULARITY) align = WH_GRANULARITY;
    if (size == 0 || size > WH_MAX_APP_ADDRESS || !wh_is_pow2(align))
        return WHEAP_ERROR_INVALID_PARAMETER;
    size = wh_align_up(size, WH_GRANULARITY);
    uint32_t err = 0;
    wh_region *r = vm_reserve(0, size, align, WHEAP_PAGE_READWRITE, flags, owner, &err);
    if (!r) return err;
    *out = (void *)r->base;
    return 0;
}

/* ------------------------------------------------------------------------
 * Page operations: caller holds the regions lock; pages [i0, i1) of r.
 * ---------------------------------------------------------------------- */

static bool range_has_guard(const wh_region *r, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; i++)
        if (page_get(r, i) & WH_PG_GUARD) return true;
    return false;
}

/* Takes the guard lock when the SIGSEGV handler could be changing these
 * pages (some have WH_PG_GUARD) or could misjudge a fault on them while we
 * change them (they get new_state's guard).  Guard bits appear only under
 * the regions lock, so a range without any cannot gain one behind us. */
static bool guard_enter(const wh_region *r, size_t i0, size_t i1, uint16_t new_state)
{
    bool g = (new_state & WH_PG_GUARD) || range_has_guard(r, i0, i1);
    if (g) wh_guard_lock();
    return g;
}

static void guard_leave(bool g)
{
    if (g) wh_guard_unlock();
}

/* Commits pages with state bits st.  Uncommitted runs get fresh accounted
 * mappings; committed runs keep their data and take the new protection.
 * All or nothing: a refused commit undoes the runs this call committed. */
static uint32_t commit_pages(wh_region *r, size_t i0, size_t i1, uint16_t st)
{
    size_t page = wh_os_page_size();
    int prot = os_prot_for_state(st);
    /* A view's pages are the file's: committing one only opens it. */
    bool view = (r->flags & WH_RG_VIEW) != 0;
    size_t i = i0;
    while (i < i1) {
        bool committed = page_get(r, i) & WH_PG_COMMITTED;
        size_t j = i + 1;
        while (j < i1 && (bool)(page_get(r, j) & WH_PG_COMMITTED) == committed) j++;
        void *addr = (void *)(r->base + i * page);
        size_t len = (j - i) * page;
        int e = committed || view ? wh_os_protect(addr, len, prot) : wh_os_commit(addr, len, prot);
        /* The fresh mapping dropped the kernel's write tracking of the run. */
        if (!e && !committed && (r->flags & WH_RG_WRITE_WATCH)) e = wh_ww_track(r, addr, len);
        if (e) {
            /* A refused MAP_FIXED may have unmapped the run before failing
             * (kernels before 6.12 could): map it reserved again, so that
             * the address stays ours. */
            if (!committed && !view) wh_os_decommit(addr, len);
            /* Undo the fresh commits of this call (the old runs are still
             * marked uncommitted in the table: nothing was set yet). */
            for (size_t k = i0; k < i; k++)
                if (!(page_get(r, k) & WH_PG_COMMITTED)) {
                    void *a = (void *)(r->base + k * page);
                    if (view) wh_os_protect(a, page, PROT_NONE);
                    else wh_os_decommit(a, page);
                }
            /* Committed runs before i may have new protection: restore. */
            for (size_t k = i0; k < i; k++) {
                uint16_t s = page_get(r, k);
                if (s & WH_PG_COMMITTED)
                    wh_os_protect((void *)(r->base + k * page), page, os_prot_for_state(s));
            }
            return e == ENOMEM || e == EAGAIN ? WHEAP_ERROR_COMMITMENT_LIMIT
                                              : wh_error_from_errno(e);
        }
        i = j;
    }
    wh_fault_epoch_advance();
    size_t fresh = 0;
    for (i = i0; i < i1; i++) {
        uint16_t s = page_get(r, i);
        if (!(s & WH_PG_COMMITTED)) fresh++;
        page_set(r, i, (uint16_t)(st | WH_PG_COMMITTED | (s & PG_KEEP)));
    }
    if (fresh) count_commit((ptrdiff_t)(fresh * page));
    return 0;
}

static uint32_t vm_commit_pages(wh_region *r, size_t i0, size_t i1, uint16_t st)
{
    /* The handler must be in place before the first guard page exists. */
    if (st & WH_PG_GUARD) wh_exceptions_install();
    bool g = guard_enter(r, i0, i1, st);
    uint32_t err = commit_pages(r, i0, i1, st);
    guard_leave(g);
    if (!err && (r->flags & WH_RG_VIEW)) wh_view_committed(r, i0, i1);
    return err;
}

static uint32_t vm_decommit_pages(wh_region *r, size_t i0, size_t i1)
{
    size_t page = wh_os_page_size();
    size_t was = 0, was_reset = 0;
    for (size_t i = i0; i < i1; i++) {
        uint16_t s = page_get(r, i);
        if (s & WH_PG_COMMITTED) was++;
        if (s & WH_PG_RESET) was_reset++;
    }
    if (was == 0) return 0;
    if (r->flags & WH_RG_WRITE_WATCH) wh_ww_harvest(r, i0, i1);   /* Win32 keeps them listed */
    bool g = guard_enter(r, i0, i1, 0);
    int e = wh_os_decommit((void *)(r->base + i0 * page), (i1 - i0) * page);
    if (!e)
        for (size_t i = i0; i < i1; i++) page_set(r, i, 0);
    guard_leave(g);
    if (e) return wh_error_from_errno(e);
    count_commit(-(ptrdiff_t)(was * page));
    if (was_reset) atomic_fetch_sub_explicit(&vm_reset, was_reset * page, memory_order_relaxed);
    return 0;
}

static bool pages_all_committed(const wh_region *r, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; i++)
        if (!(page_get(r, i) & WH_PG_COMMITTED)) return false;
    return true;
}

/* Notes, before MEM_RESET, which pages hold no data (PG_RESET_EMPTY).  A
 * page that was already reset and has data that may be gone keeps counting
 * as data: an earlier reset may have lost it. */
static void note_empty_pages(wh_region *r, size_t i0, size_t i1)
{
    size_t page = wh_os_page_size();
    uint8_t resident[512];
    for (size_t c = i0; c < i1; c += sizeof resident) {
        size_t n = i1 - c < sizeof resident ? i1 - c : sizeof resident;
        if (wh_os_residency((void *)(r->base + c * page), n, resident) != 0)
            memset(resident, WH_OS_PAGE_PRESENT, n);   /* unknown: assume data */
        for (size_t k = 0; k < n; k++) {
            uint16_t s = page_get(r, c + k);
            bool empty = resident[k] == 0 && (!(s & WH_PG_RESET) || (s & PG_RESET_EMPTY));
            page_set(r, c + k, empty ? (uint16_t)(s | PG_RESET_EMPTY)
                                     : (uint16_t)(s & ~PG_RESET_EMPTY));
        }
    }
}

/* MEM_RESET.  note_empty: remember which pages held no data, for an honest
 * MEM_RESET_UNDO (public calls; the heaps never undo and skip the cost). */
static uint32_t vm_reset_pages(wh_region *r, size_t i0, size_t i1, bool note_empty)
{
    size_t page = wh_os_page_size();
    /* Accepted on views, and does nothing; hugetlb pages are never
     * reclaimed, and dropping them could leave a later touch without one. */
    if (r->flags & (WH_RG_VIEW | WH_RG_LARGE_PAGES)) return 0;
    if (r->flags & WH_RG_WRITE_WATCH) wh_ww_harvest(r, i0, i1);   /* before pages vanish */
    if (note_empty) note_empty_pages(r, i0, i1);
    int e = wh_os_reset((void *)(r->base + i0 * page), (i1 - i0) * page);
    if (e) return wh_error_from_errno(e);
    size_t newly = 0;
    for (size_t i = i0; i < i1; i++) {
        uint16_t s = page_get(r, i);
        if (!(s & WH_PG_RESET)) newly++;
        if (!note_empty) s &= (uint16_t)~PG_RESET_EMPTY;
        page_set(r, i, (uint16_t)(s | WH_PG_RESET));
    }
    atomic_fetch_add_explicit(&vm_reset, newly * page, memory_order_relaxed);
    return 0;
}

/* Sets protection st on committed pages; returns the first page's old
 * protection through old. */
static uint32_t vm_protect_pages(wh_region *r, size_t i0, size_t i1, uint16_t st, uint32_t *old)
{
    size_t page = wh_os_page_size();
    if (st & WH_PG_GUARD) wh_exceptions_install();
    bool g = guard_enter(r, i0, i1, st);
    /* Read under the guard lock: a guard the handler just cleared is gone. */
    uint16_t first = page_get(r, i0);
    int e = wh_os_protect((void *)(r->base + i0 * page), (i1 - i0) * page, os_prot_for_state(st));
    if (!e) {
        wh_fault_epoch_advance();
        for (size_t i = i0; i < i1; i++) {
            uint16_t s = page_get(r, i);
            page_set(r, i, (uint16_t)(st | (s & (WH_PG_COMMITTED | PG_KEEP))));
        }
    }
    guard_leave(g);
    if (e) return wh_error_from_errno(e);
    if (old) *old = protect_from_state(first);
    return 0;
}

/* A range whose munmap waits until the regions lock is given back. */
typedef struct vm_unmap { uintptr_t base; size_t size; } vm_unmap;

static void vm_unmap_now(const vm_unmap *u)
{
    if (u->size) wh_os_release((void *)u->base, u->size);
}

static void vm_release_region(wh_region *r, vm_unmap *defer)
{
    /* Caller holds the lock.  The table forgets the range before the
     * kernel does, so no other thread can reserve it while we still list
     * it.  With defer, the munmap itself (slow for big ranges: a TLB
     * shootdown on every CPU) is left to the caller, after it unlocks, so
     * that other threads' reservations and commits do not wait on it; the
     * kernel keeps the range mapped, hence unavailable, until then. */
    if (r->flags & WH_RG_VIEW) wh_view_released(r);
    if (r->flags & WH_RG_WRITE_WATCH) wh_ww_released(r);
    uintptr_t base = r->base;
    size_t size = r->size, page = wh_os_page_size();
    size_t committed = 0, reset = 0;
    /* Released ranges pull the hint back up, so that later reservations
     * reuse the hole instead of walking down the address space, where
     * every fresh 4 GiB window costs the region table a leaf that is never
     * freed (RSS grew 4 KiB per heap created and destroyed).  The last
     * placed reservation gives back the hint from before its placement; a
     * heap's range released out of order raises the hint to its end (a
     * hint above live mappings costs one refused placement, then the
     * kernel's choice resets it).  A program's own range released out of
     * order stays free for it: wheap's next segment does not take it. */
    uintptr_t back = r->hint_before > base + size ? r->hint_before : base + size;
    uintptr_t last = atomic_load_explicit(&next_hint, memory_order_relaxed);
    if (last == base || (r->flags & WH_RG_HEAP))
        while (last < back &&
               !atomic_compare_exchange_weak_explicit(&next_hint, &last, back,
                                                      memory_order_relaxed, memory_order_relaxed)) {}
    for (size_t i = 0; i < r->npages; i++) {
        uint16_t s = page_get(r, i);
        if (s & WH_PG_COMMITTED) committed++;
        if (s & WH_PG_RESET) reset++;
    }
    bool g = guard_enter(r, 0, r->npages, 0);
    wh_region_remove(r);
    if (defer && !g) {
        defer->base = base;
        defer->size = size;
    } else {
        wh_os_release((void *)base, size);
    }
    guard_leave(g);
    if (committed) count_commit(-(ptrdiff_t)(committed * page));
    if (reset) atomic_fetch_sub_explicit(&vm_reset, reset * page, memory_order_relaxed);
    atomic_fetch_sub_explicit(&vm_reserved, size, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * Range helpers
 * ---------------------------------------------------------------------- */

/* Finds the region holding every page of [addr, addr+size) and the page
 * indexes.  Caller holds the lock.  Returns 0 or an error code. */
static uint32_t locate(uintptr_t addr, size_t size, wh_region **rp, size_t *i0, size_t *i1)
{
    size_t page = wh_os_page_size();
    if (addr + size < addr) return WHEAP_ERROR_INVALID_PARAMETER;
    wh_region *r = wh_region_find(addr);
    if (!r) return WHEAP_ERROR_INVALID_ADDRESS;
    uintptr_t start = wh_align_down(addr, page);
    uintptr_t end = wh_align_up(addr + size, page);
    /* end < start: rounding a range that ends in the top page wrapped. */
    if (end > r->base + r->size || end < start) return WHEAP_ERROR_INVALID_PARAMETER;
    *rp = r;
    *i0 = (start - r->base) / page;
    *i1 = (end - r->base) / page;
    return 0;
}

/* ------------------------------------------------------------------------
 * Internal API for the heap layer
 * ---------------------------------------------------------------------- */

/* A private heap serializes every commit and decommit of its own ranges
 * (under its seg_lock, or as the arena's owner, with purges marking slices
 * busy) and never guards, maps views into or watches its regions.  So its
 * commits and decommits need no regions lock: the page states of the range
 * are the caller's alone, and the mmap does not make every other thread's
 * reservation, commit and release wait (strace showed the large-block
 * workload spending most of its time in futex waits on that lock). */
static bool heap_region(const void *addr, uint32_t protect)
{
    const wh_region *r = wh_region_find((uintptr_t)addr);
    return r && (r->flags & WH_RG_HEAP) && !(protect & WHEAP_PAGE_GUARD);
}

uint32_t wh_vm_commit(void *addr, size_t size, uint32_t protect)
{
    wh_region *r;
    size_t i0, i1;
    if (heap_region(addr, protect)) {
        uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
        return err ? err : commit_pages(r, i0, i1, state_from_protect(protect));
    }
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
    if (!err) err = vm_commit_pages(r, i0, i1, state_from_protect(protect));
    wh_regions_unlock();
    return err;
}

uint32_t wh_vm_decommit(void *addr, size_t size)
{
    wh_region *r;
    size_t i0, i1;
    if (heap_region(addr, 0)) {
        uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
        return err ? err : vm_decommit_pages(r, i0, i1);
    }
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
    if (!err) err = vm_decommit_pages(r, i0, i1);
    wh_regions_unlock();
    return err;
}

uint32_t wh_vm_purge(void *addr, size_t size)
{
    /* No table change: the pages stay committed, only their frames go.
     * Page aligned by contract; no lock needed for an madvise. */
    int e = wh_os_purge(addr, size);
    return e ? wh_error_from_errno(e) : 0;
}

uint32_t wh_vm_reset(void *addr, size_t size)
{
    /* A heap's pages: the heap tracks their state itself (and never resets
     * a range twice at once), so this is only an madvise, made without the
     * regions lock that every thread's commits and releases wait on. */
    wh_region *hr = wh_region_find((uintptr_t)addr);
    if (hr && (hr->flags & WH_RG_HEAP)) {
        int e = wh_os_reset(addr, size);
        return e ? wh_error_from_errno(e) : 0;
    }
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
    if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err) err = vm_reset_pages(r, i0, i1, false);
    wh_regions_unlock();
    return err;
}

uint32_t wh_vm_protect(void *addr, size_t size, uint32_t protect, uint32_t *old)
{
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)addr, size, &r, &i0, &i1);
    if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err) err = vm_protect_pages(r, i0, i1, state_from_protect(protect), old);
    wh_regions_unlock();
    return err;
}

uint32_t wh_vm_release(void *base)
{
    wh_regions_lock();
    wh_region *r = wh_region_find((uintptr_t)base);
    uint32_t err = 0;
    vm_unmap u = { 0, 0 };
    if (!r || r->base != (uintptr_t)base) err = WHEAP_ERROR_INVALID_ADDRESS;
    else vm_release_region(r, &u);
    wh_regions_unlock();
    vm_unmap_now(&u);
    return err;
}

uint32_t wh_vm_reserve_at(uintptr_t address, size_t size, uint32_t protect, uint32_t flags,
                          void *owner, void **out)
{
    uint32_t err = 0;
    wh_region *r = vm_reserve(address, size, WH_GRANULARITY, protect, flags, owner, &err);
    if (!r) return err;
    *out = (void *)r->base;
    return 0;
}

uint32_t wh_vm_release_view(const void *addr, void **owner)
{
    wh_regions_lock();
    wh_region *r = wh_region_find((uintptr_t)addr);
    uint32_t err = 0;
    if (!r || !(r->flags & WH_RG_VIEW)) {
        err = WHEAP_ERROR_INVALID_ADDRESS;
    } else {
        *owner = r->owner;
        vm_release_region(r, NULL);
    }
    wh_regions_unlock();
    return err;
}

uint32_t wh_vm_commit_locked(wh_region *r, size_t i0, size_t i1, uint32_t protect)
{
    return vm_commit_pages(r, i0, i1, state_from_protect(protect));
}

/* ------------------------------------------------------------------------
 * Public API
 * ---------------------------------------------------------------------- */

#define ALLOC_TYPES (WHEAP_MEM_COMMIT | WHEAP_MEM_RESERVE | WHEAP_MEM_RESET | \
                     WHEAP_MEM_RESET_UNDO | WHEAP_MEM_TOP_DOWN | WHEAP_MEM_WRITE_WATCH | \
                     WHEAP_MEM_LARGE_PAGES)

/* Layer 1 refuses to change memory that a private heap owns: the heap would
 * be corrupted behind its back.  Such memory can still be queried. */
static bool region_is_internal(const wh_region *r)
{
    return (r->flags & WH_RG_HEAP) != 0;
}

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

WH_HIDDEN void *wh_vm_alloc_large_pages(uintptr_t address, size_t size, uint32_t type,
                                        uint32_t protect, uint32_t *err);
WH_HIDDEN void *wh_vm_reset_undo(uintptr_t address, size_t size, uint32_t *err);
WH_HIDDEN void *wh_vm_alloc_write_watch(uintptr_t address, size_t size, uint32_t type,
                                        uint32_t protect, uint32_t *err);

void *wheap_virtual_alloc(void *address, size_t size, uint32_t type, uint32_t protect)
{
    uintptr_t addr = (uintptr_t)address;
    size_t page = wh_os_page_size();

    if (size == 0 || (type & ~ALLOC_TYPES)) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if (addr + size < addr || size > WH_MAX_APP_ADDRESS)
        return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if (address && (addr < WH_MIN_APP_ADDRESS || addr + size > WH_MAX_APP_ADDRESS + 1))
        return fail_ptr(WHEAP_ERROR_INVALID_ADDRESS);

    /* MEM_RESET and MEM_RESET_UNDO stand alone. */
    if (type & (WHEAP_MEM_RESET | WHEAP_MEM_RESET_UNDO)) {
        bool reset = type == WHEAP_MEM_RESET, undo = type == WHEAP_MEM_RESET_UNDO;
        if (!reset && !undo) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
        if (!address) return fail_ptr(WHEAP_ERROR_INVALID_ADDRESS);
        if (undo) {
            uint32_t err = 0;
            void *p = wh_vm_reset_undo(addr, size, &err);
            return p ? p : fail_ptr(err);
        }
        /* The protection is ignored but must still be a valid value. */
        if (!protect_is_valid(protect, false)) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
        wh_region *r;
        size_t i0, i1;
        wh_regions_lock();
        uint32_t err = locate(addr, size, &r, &i0, &i1);
        if (!err && region_is_internal(r)) err = WHEAP_ERROR_INVALID_ADDRESS;
        if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
        if (!err) err = vm_reset_pages(r, i0, i1, true);
        void *result = err ? NULL : (void *)(r->base + i0 * page);
        wh_regions_unlock();
        return err ? fail_ptr(err) : result;
    }

    if (!(type & (WHEAP_MEM_COMMIT | WHEAP_MEM_RESERVE)))
        return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if (!protect_is_valid(protect, true)) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if ((type & WHEAP_MEM_WRITE_WATCH) && !(type & WHEAP_MEM_RESERVE))
        return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);

    if (type & WHEAP_MEM_LARGE_PAGES) {
        uint32_t err = 0;
        void *p = wh_vm_alloc_large_pages(addr, size, type, protect, &err);
        return p ? p : fail_ptr(err);
    }
    if (type & WHEAP_MEM_WRITE_WATCH) {
        uint32_t err = 0;
        void *p = wh_vm_alloc_write_watch(addr, size, type, protect, &err);
        return p ? p : fail_ptr(err);
    }

    /* MEM_COMMIT alone at an address: commit inside an existing reservation. */
    if (!(type & WHEAP_MEM_RESERVE) && address) {
        wh_region *r;
        size_t i0, i1;
        wh_regions_lock();
        uint32_t err = locate(addr, size, &r, &i0, &i1);
        if (!err && region_is_internal(r)) err = WHEAP_ERROR_INVALID_ADDRESS;
        if (!err && (r->flags & WH_RG_VIEW)) err = wh_view_check_protect(r, &protect);
        if (!err) err = vm_commit_pages(r, i0, i1, state_from_protect(protect));
        void *result = err ? NULL : (void *)(r->base + i0 * page);
        wh_regions_unlock();
        return err ? fail_ptr(err) : result;
    }

    /* Reserve (at an address rounded down to 64 KiB, or anywhere), and
     * commit the pages the byte range touches when asked. */
    uintptr_t base = address ? wh_align_down(addr, WH_GRANULARITY) : 0;
    uintptr_t end = address ? addr + size : size;
    size_t rsize = wh_align_up(end, WH_GRANULARITY) - base;
    if (rsize < size) return fail_ptr(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    uint32_t err = 0;
    wh_region *r = vm_reserve(base, rsize, WH_GRANULARITY, protect, 0, NULL, &err);
    if (!r) return fail_ptr(err);
    if (!(type & WHEAP_MEM_COMMIT)) return (void *)r->base;

    wh_regions_lock();
    uintptr_t cstart = address ? wh_align_down(addr, page) : r->base;
    uintptr_t cend = address ? wh_align_up(addr + size, page) : r->base + wh_align_up(size, page);
    err = vm_commit_pages(r, (cstart - r->base) / page, (cend - r->base) / page,
                          state_from_protect(protect));
    if (err) vm_release_region(r, NULL);
    wh_regions_unlock();
    if (err) return fail_ptr(err);
    /* Win32 returns the start of the committed pages for reserve+commit at
     * an address; the rounded reservation base when no address was given. */
    return (void *)(address ? r->base : cstart);
}

bool wheap_virtual_free(void *address, size_t size, uint32_t free_type)
{
    uintptr_t addr = (uintptr_t)address;
    if (free_type != WHEAP_MEM_DECOMMIT && free_type != WHEAP_MEM_RELEASE)
        return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    if (free_type == WHEAP_MEM_RELEASE && size != 0)
        return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);

    wh_regions_lock();
    wh_region *r = wh_region_find(addr);
    uint32_t err = 0;
    vm_unmap u = { 0, 0 };
    if (!r || region_is_internal(r)) {
        err = WHEAP_ERROR_INVALID_ADDRESS;
    } else if (free_type == WHEAP_MEM_RELEASE) {
        if (r->base != addr) err = WHEAP_ERROR_INVALID_ADDRESS;
        else if (r->flags & WH_RG_VIEW) err = WHEAP_ERROR_INVALID_PARAMETER;  /* unmap it */
        else vm_release_region(r, &u);
    } else if (r->flags & WH_RG_VIEW) {
        err = WHEAP_ERROR_INVALID_PARAMETER;   /* a view's pages belong to its section */
    } else if (size == 0) {
        /* Size 0 decommits the whole reservation, given its base. */
        if (r->base != addr) err = WHEAP_ERROR_INVALID_PARAMETER;
        else err = vm_decommit_pages(r, 0, r->npages);
    } else {
        size_t i0, i1;
        err = locate(addr, size, &r, &i0, &i1);
        if (!err) err = vm_decommit_pages(r, i0, i1);
    }
    wh_regions_unlock();
    vm_unmap_now(&u);
    return err ? fail_bool(err) : true;
}

bool wheap_virtual_protect(void *address, size_t size, uint32_t new_protect,
                           uint32_t *old_protect)
{
    if (!old_protect) return fail_bool(WHEAP_ERROR_NOACCESS);
    if (size == 0) return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    wh_regions_lock();
    wh_region *r;
    size_t i0, i1;
    uint32_t err = locate((uintptr_t)address, size, &r, &i0, &i1);
    if (!err && region_is_internal(r)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err && !protect_is_valid(new_protect, !(r->flags & WH_RG_VIEW)))
        err = WHEAP_ERROR_INVALID_PARAMETER;
    if (!err && (r->flags & WH_RG_VIEW)) err = wh_view_check_protect(r, &new_protect);
    if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err) err = vm_protect_pages(r, i0, i1, state_from_protect(new_protect), old_protect);
    wh_regions_unlock();
    return err ? fail_bool(err) : true;
}

/* ------------------------------------------------------------------------
 * VirtualQuery
 * ---------------------------------------------------------------------- */

/* Describes the run of like pages at addr inside r.  Caller holds the lock. */
static void query_region(const wh_region *r, uintptr_t addr, wheap_memory_basic_information *info)
{
    size_t page = wh_os_page_size();
    size_t i = (wh_align_down(addr, page) - r->base) / page;
    uint16_t key = page_get(r, i) & STATE_VISIBLE;
    size_t j = i + 1;
    while (j < r->npages && (page_get(r, j) & STATE_VISIBLE) == key) j++;
    info->base_address = (void *)(r->base + i * page);
    info->allocation_base = (void *)r->base;
    info->allocation_protect = r->alloc_protect;
    info->region_size = (j - i) * page;
    info->type = r->type;
    if (key & WH_PG_COMMITTED) {
        info->state = WHEAP_MEM_COMMIT;
        info->protect = protect_from_state(key);
    } else {
        info->state = WHEAP_MEM_RESERVE;
        info->protect = 0;
    }
}

size_t wheap_virtual_query(const void *address, wheap_memory_basic_information *info,
                           size_t length)
{
    uintptr_t addr = (uintptr_t)address;
    if (!info || length < sizeof *info) {
        wh_set_error(WHEAP_ERROR_BAD_LENGTH);
        return 0;
    }
    if (addr > WH_MAX_APP_ADDRESS) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return 0;
    }
    wh_regions_lock();
    wh_region *r = wh_region_find(addr);
    if (r) {
        query_region(r, addr, info);
        wh_regions_unlock();
        return sizeof *info;
    }
    wh_regions_unlock();
    if (!wh_vm_query_foreign(addr, info)) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return 0;
    }
    return sizeof *info;
}

/* ------------------------------------------------------------------------
 * System information
 * ---------------------------------------------------------------------- */

void wheap_get_system_info(wheap_system_info *info)
{
    if (!info) return;
    uint64_t mask = 0;
    unsigned n = wh_os_cpu_count(&mask);
    info->page_size = (uint32_t)wh_os_page_size();
    info->allocation_granularity = (uint32_t)WH_GRANULARITY;
    info->minimum_application_address = (void *)WH_MIN_APP_ADDRESS;
    info->maximum_application_address = (void *)WH_MAX_APP_ADDRESS;
    info->active_processor_mask = mask;
    info->number_of_processors = n;
}

bool wheap_global_memory_status(wheap_memory_status *status)
{
    if (!status || status->length != sizeof *status)
        return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    wh_os_memory m;
    int e = wh_os_memory_status(&m);
    if (e) return fail_bool(wh_error_from_errno(e));
    status->total_phys = m.total_phys;
    status->avail_phys = m.avail_phys;
    status->memory_load = m.total_phys
        ? (uint32_t)((m.total_phys - m.avail_phys) * 100 / m.total_phys) : 0;
    status->total_page_file = m.commit_limit;
    status->avail_page_file = m.commit_limit > m.committed ? m.commit_limit - m.committed : 0;
    status->total_virtual = m.address_space_limit;
    uint64_t used = 0;
    char buf[4096];
    if (wh_os_read_file("/proc/self/statm", buf, sizeof buf, NULL) == 0) {
        for (const char *s = buf; *s >= '0' && *s <= '9'; s++)
            used = used * 10 + (uint64_t)(*s - '0');
        used *= wh_os_page_size();
    }
    status->avail_virtual = m.address_space_limit > used ? m.address_space_limit - used : 0;
    return true;
}

/* ------------------------------------------------------------------------
 * VirtualQuery outside wheap's reservations: /proc/self/maps
 * ---------------------------------------------------------------------- */

typedef struct foreign_query {
    uintptr_t     addr;
    bool          found;          /* addr lies in hit */
    wh_os_mapping hit;
    uintptr_t     gap_start;      /* end of the mapping before addr */
    uintptr_t     gap_end;        /* start of the mapping after addr */
} foreign_query;

static int find_mapping(const wh_os_mapping *m, void *ctx)
{
    foreign_query *q = ctx;
    if (m->end <= q->addr) {
        q->gap_start = m->end;
        return 0;
    }
    if (m->start <= q->addr) {
        q->hit = *m;
        q->found = true;
    } else {
        q->gap_end = m->start;
    }
    return 1;
}

typedef struct image_probe {
    uint32_t  dev;
    uint64_t  inode;
    uintptr_t addr;
    bool      executable;   /* some mapping of the file is executable */
    uintptr_t load_base;    /* first mapping of the object holding addr */
} image_probe;

/* Walks every mapping: notes whether the file is mapped executable
 * anywhere, and where the run of its mappings that reaches addr begins
 * (another file in between starts a new object; anonymous mappings such
 * as .bss or the loader's gaps do not). */
static int probe_image(const wh_os_mapping *m, void *ctx)
{
    image_probe *p = ctx;
    bool same = m->inode == p->inode && m->dev == p->dev;
    if (same && (m->prot & PROT_EXEC)) p->executable = true;
    if (m->start <= p->addr) {
        if (same && !p->load_base) p->load_base = m->start;
        else if (!same && m->inode != 0) p->load_base = 0;
    }
    return 0;
}

/* A file mapping is part of a loaded image when the loader mapped some of
 * the same file executable.  For images, *load_base gets the object's first
 * mapping: Win32 reports an image's base as the allocation base. */
static uint32_t classify(const wh_os_mapping *m, uintptr_t addr, uintptr_t *load_base)
{
    if (!strcmp(m->path, "[vdso]") || !strcmp(m->path, "[vsyscall]")) return WHEAP_MEM_IMAGE;
    if (m->inode != 0) {
        image_probe p = { m->dev, m->inode, addr, false, 0 };
        wh_os_maps_foreach(probe_image, &p);
        if (!p.executable || m->shared) return WHEAP_MEM_MAPPED;
        if (p.load_base) *load_base = p.load_base;
        return WHEAP_MEM_IMAGE;
    }
    return m->shared ? WHEAP_MEM_MAPPED : WHEAP_MEM_PRIVATE;
}

static uint32_t protect_from_os(int prot)
{
    switch (prot) {
    case PROT_READ:                          return WHEAP_PAGE_READONLY;
    case PROT_WRITE:
    case PROT_READ | PROT_WRITE:             return WHEAP_PAGE_READWRITE;
    case PROT_EXEC:                          return WHEAP_PAGE_EXECUTE;
    case PROT_READ | PROT_EXEC:              return WHEAP_PAGE_EXECUTE_READ;
    default:                                 return WHEAP_PAGE_EXECUTE_READWRITE;
    }
}

bool wh_vm_query_foreign(uintptr_t addr, wheap_memory_basic_information *info)
{
    size_t page = wh_os_page_size();
    foreign_query q = { .addr = addr, .gap_start = 0, .gap_end = WH_MAX_APP_ADDRESS + 1 };
    if (wh_os_maps_foreach(find_mapping, &q) != 0) return false;

    /* The kernel may have merged one of our reservations into a foreign
     * mapping's line (anonymous private memory of equal protection, where
     * the kernel cannot name mappings): clip the run at the next region of
     * ours, and the allocation base at the end of the last one before addr. */
    uintptr_t line_start = q.found ? q.hit.start : 0;
    wh_regions_lock();
    wh_region *next = wh_region_next(addr);
    uintptr_t limit = next ? next->base : WH_MAX_APP_ADDRESS + 1;
    if (q.found && q.hit.inode == 0 && !q.hit.shared) {
        for (wh_region *r = wh_region_next(line_start); r && r->base < addr;
             r = wh_region_next(r->base + r->size))
            if (r->base + r->size <= addr) line_start = r->base + r->size;
    }
    wh_regions_unlock();

    uintptr_t base = wh_align_down(addr, page);
    info->base_address = (void *)base;
    if (!q.found) {
        uintptr_t end = q.gap_end < limit ? q.gap_end : limit;
        info->allocation_base = NULL;
        info->allocation_protect = 0;
        info->region_size = end - base;
        info->state = WHEAP_MEM_FREE;
        info->protect = WHEAP_PAGE_NOACCESS;
        info->type = 0;
        return true;
    }
    uintptr_t end = q.hit.end < limit ? q.hit.end : limit;
    uint32_t prot = q.hit.prot ? protect_from_os(q.hit.prot) : WHEAP_PAGE_NOACCESS;
    info->allocation_base = (void *)line_start;
    info->allocation_protect = prot;
    info->region_size = end - base;
    info->type = classify(&q.hit, addr, &line_start);
    if (info->type == WHEAP_MEM_IMAGE) {
        /* What the Win32 loader reports for every page of an image. */
        info->allocation_base = (void *)line_start;
        info->allocation_protect = WHEAP_PAGE_EXECUTE_WRITECOPY;
    }
    if (q.hit.prot == PROT_NONE) {
        info->state = WHEAP_MEM_RESERVE;
        info->protect = 0;
    } else {
        info->state = WHEAP_MEM_COMMIT;
        info->protect = prot;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * MEM_RESET_UNDO
 *
 * Linux cannot take back MADV_FREE.  A page the kernel has not yet
 * reclaimed still holds its data, and writing to it makes it dirty again,
 * which the kernel respects: it then keeps the page (or swaps it) instead
 * of discarding it.  So undo asks where every reset page is
 * (/proc/self/pagemap: present, swapped, or gone), re-dirties the present
 * ones with a write that keeps their contents, and succeeds only when no
 * page that held data is gone.
 *
 * The remaining race: a page reclaimed between the residency read and its
 * re-dirtying write faults in as a fresh zero page, which the write then
 * keeps, and undo reports success for a page that lost its data.  The
 * window is a few microseconds per call, and needs the kernel to reclaim
 * exactly then.  A page written by another thread while MEM_RESET runs may
 * also be misjudged; Win32 leaves such contents undefined too.
 * ---------------------------------------------------------------------- */

/* Whether the MMU lets this thread write a page in state s. */
static bool page_writable(uint16_t s)
{
    if (s & WH_PG_GUARD) return false;
    uint32_t p = prot_by_index[s & WH_PG_PROT_MASK];
    return p == WHEAP_PAGE_READWRITE || p == WHEAP_PAGE_EXECUTE_READWRITE ||
           p == WHEAP_PAGE_WRITECOPY || p == WHEAP_PAGE_EXECUTE_WRITECOPY;
}

/* A write that changes nothing but dirties the page: an atomic OR of 0, so
 * that a byte another thread stores meanwhile is not overwritten.  Only for
 * pages the table calls committed and writable: it cannot fault. */
static void redirty_in_place(uintptr_t addr)
{
    __atomic_fetch_or((volatile unsigned char *)addr, 0, __ATOMIC_RELAXED);
}

enum { REDIRTY_DONE, REDIRTY_FAILED, REDIRTY_FORCED };

/* Re-dirties page i of r, present and reset.  Pages this thread may not
 * write are rewritten through /proc/self/mem, which is race-free because
 * nobody can write them while we hold the regions lock, except a guard
 * page the SIGSEGV handler reopens: those are rewritten here, under the
 * guard lock.  The others are left to the caller (REDIRTY_FORCED), which
 * rewrites whole runs of them with one open of /proc/self/mem. */
static int redirty_page(wh_region *r, size_t i)
{
    uintptr_t addr = r->base + i * wh_os_page_size();
    uint16_t s = page_get(r, i);
    if (s & WH_PG_GUARD) {
        wh_guard_lock();
        s = page_get(r, i);
        bool still = (s & WH_PG_GUARD) != 0;
        bool ok = still && wh_os_rewrite_forced((void *)addr, 1) == 0;
        wh_guard_unlock();
        if (still) return ok ? REDIRTY_DONE : REDIRTY_FAILED;
    }
    if (page_writable(s)) {
        redirty_in_place(addr);
        return REDIRTY_DONE;
    }
    return REDIRTY_FORCED;
}

/* Caller holds the regions lock; every page of [i0, i1) is committed.
 * Clears the reset state of every page and returns 0 when no data was
 * lost, else WHEAP_ERROR_NOT_ENOUGH_MEMORY: the kernel reclaimed memory
 * the caller had reset, which is why the data is gone. */
static uint32_t vm_undo_pages(wh_region *r, size_t i0, size_t i1)
{
    size_t page = wh_os_page_size();
    if (r->flags & (WH_RG_VIEW | WH_RG_LARGE_PAGES)) return 0;   /* reset did nothing */
    bool lost = false;
    size_t undone = 0, forced0 = 0, forced = 0;   /* a run of REDIRTY_FORCED pages */
    uint8_t resident[512];
    for (size_t c = i0; c < i1; c += sizeof resident) {
        size_t n = i1 - c < sizeof resident ? i1 - c : sizeof resident;
        bool any = false;
        for (size_t k = 0; k < n && !any; k++) any = (page_get(r, c + k) & WH_PG_RESET) != 0;
        if (!any) continue;
        if (wh_os_residency((void *)(r->base + c * page), n, resident) != 0) {
            memset(resident, 0, n);   /* cannot tell: say lost, never "intact" */
            lost = true;
        }
        for (size_t k = 0; k < n; k++) {
            size_t i = c + k;
            uint16_t s = page_get(r, i);
            if (!(s & WH_PG_RESET)) continue;
            if (resident[k] & WH_OS_PAGE_PRESENT) {
                int how = redirty_page(r, i);
                if (how == REDIRTY_FAILED) lost = true;
                if (how == REDIRTY_FORCED && forced && forced0 + forced == i) {
                    forced++;
                } else if (how == REDIRTY_FORCED) {
                    if (forced && wh_os_rewrite_forced((void *)(r->base + forced0 * page),
                                                       forced) != 0) lost = true;
                    forced0 = i;
                    forced = 1;
                }
            } else if (!(resident[k] & WH_OS_PAGE_SWAPPED) && !(s & PG_RESET_EMPTY)) {
                lost = true;   /* discarded: it reads as zero from now on */
            }
            /* Swapped pages were dirtied after the reset: the kernel keeps them. */
            s = page_get(r, i);   /* the guard may have gone meanwhile */
            page_set(r, i, (uint16_t)(s & ~(WH_PG_RESET | PG_RESET_EMPTY)));
            undone++;
        }
    }
    if (forced && wh_os_rewrite_forced((void *)(r->base + forced0 * page), forced) != 0)
        lost = true;
    if (undone) atomic_fetch_sub_explicit(&vm_reset, undone * page, memory_order_relaxed);
    return lost ? WHEAP_ERROR_NOT_ENOUGH_MEMORY : 0;
}

void *wh_vm_reset_undo(uintptr_t address, size_t size, uint32_t *err)
{
    size_t page = wh_os_page_size();
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t e = locate(address, size, &r, &i0, &i1);
    if (!e && region_is_internal(r)) e = WHEAP_ERROR_INVALID_ADDRESS;
    if (!e && !pages_all_committed(r, i0, i1)) e = WHEAP_ERROR_INVALID_ADDRESS;
    if (!e) e = vm_undo_pages(r, i0, i1);
    void *result = e ? NULL : (void *)(r->base + i0 * page);
    wh_regions_unlock();
    *err = e;
    return result;
}

/* ------------------------------------------------------------------------
 * MEM_LARGE_PAGES: hugetlb pages, reserved and committed in one step (as on
 * Win32, where large pages are never pageable either).  The kernel reserves
 * the huge pages at mmap time, so a later touch cannot SIGBUS for lack of
 * one; none available is an error code here, never a crash.
 * ---------------------------------------------------------------------- */

void *wh_vm_alloc_large_pages(uintptr_t address, size_t size, uint32_t type, uint32_t protect,
                              uint32_t *err)
{
    size_t huge = wh_os_huge_page_size();
    uint32_t both = WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT;
    /* A guard would be a whole huge page, and mprotect cannot split one. */
    if ((type & both) != both || (type & WHEAP_MEM_WRITE_WATCH) || (protect & WHEAP_PAGE_GUARD)) {
        *err = WHEAP_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    if (huge == 0) {
        *err = WHEAP_ERROR_NO_SYSTEM_RESOURCES;
        return NULL;
    }
    if (size % huge || address % huge) {
        *err = WHEAP_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    void *p;
    int e = wh_os_map_huge((void *)address, size, wh_os_prot_from_win32(protect), &p);
    if (e) {
        /* ENOMEM: the pool has too few free pages (HugePages_Free). */
        *err = e == EPERM || e == EACCES ? WHEAP_ERROR_PRIVILEGE_NOT_HELD
             : address && e == EEXIST    ? WHEAP_ERROR_INVALID_ADDRESS
                                         : WHEAP_ERROR_NO_SYSTEM_RESOURCES;
        return NULL;
    }
    wh_region *r = vm_register((uintptr_t)p, size, protect, WH_RG_LARGE_PAGES, NULL, err);
    if (!r) return NULL;
    uint16_t st = (uint16_t)(state_from_protect(protect) | WH_PG_COMMITTED);
    wh_regions_lock();
    for (size_t i = 0; i < r->npages; i++) page_set(r, i, st);
    wh_regions_unlock();
    count_commit((ptrdiff_t)size);
    return p;
}

size_t wheap_get_large_page_minimum(void)
{
    return wh_os_huge_page_size();
}

/* ------------------------------------------------------------------------
 * VirtualLock / VirtualUnlock: mlock on committed pages, tracked per page
 * (WH_PG_LOCKED), because munlock of unlocked pages succeeds on Linux where
 * Win32 answers ERROR_NOT_LOCKED.
 * ---------------------------------------------------------------------- */

static uint32_t lock_error(int e)
{
    /* Over RLIMIT_MEMLOCK (Win32: the working-set quota). */
    if (e == ENOMEM || e == EAGAIN) return WHEAP_ERROR_NO_SYSTEM_RESOURCES;
    return wh_error_from_errno(e);
}

bool wheap_virtual_lock(void *address, size_t size)
{
    if (size == 0) return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    size_t page = wh_os_page_size();
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)address, size, &r, &i0, &i1);
    if (!err && region_is_internal(r)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
    for (size_t i = i0; !err && i < i1; i++) {
        /* Pages no access could reach cannot be locked (a guard page would
         * have to be touched first). */
        uint16_t s = page_get(r, i);
        if ((s & WH_PG_PROT_MASK) == 0 || (s & WH_PG_GUARD)) err = WHEAP_ERROR_NOACCESS;
    }
    if (!err) {
        int e = wh_os_lock((void *)(r->base + i0 * page), (i1 - i0) * page);
        if (e) err = lock_error(e);
    }
    for (size_t i = i0; !err && i < i1; i++)
        page_set(r, i, (uint16_t)(page_get(r, i) | WH_PG_LOCKED));
    wh_regions_unlock();
    return err ? fail_bool(err) : true;
}

bool wheap_virtual_unlock(void *address, size_t size)
{
    if (size == 0) return fail_bool(WHEAP_ERROR_INVALID_PARAMETER);
    size_t page = wh_os_page_size();
    wh_region *r;
    size_t i0, i1;
    wh_regions_lock();
    uint32_t err = locate((uintptr_t)address, size, &r, &i0, &i1);
    if (!err && region_is_internal(r)) err = WHEAP_ERROR_INVALID_ADDRESS;
    if (!err && !pages_all_committed(r, i0, i1)) err = WHEAP_ERROR_INVALID_ADDRESS;
    for (size_t i = i0; !err && i < i1; i++)
        if (!(page_get(r, i) & WH_PG_LOCKED)) err = WHEAP_ERROR_NOT_LOCKED;
    if (!err) {
        int e = wh_os_unlock((void *)(r->base + i0 * page), (i1 - i0) * page);
        if (e) err = lock_error(e);
    }
    for (size_t i = i0; !err && i < i1; i++)
        page_set(r, i, (uint16_t)(page_get(r, i) & ~WH_PG_LOCKED));
    wh_regions_unlock();
    return err ? fail_bool(err) : true;
}
