/*
 * wheap_get_stats: one heap's counters, or the whole process's.
 *
 * Reserved and committed bytes are counted where the heap layer reserves
 * and commits (exactly the pages layer 1 charges, so they agree with
 * wheap_virtual_query); reset and allocated bytes are counted on demand by
 * reading the page metadata under the heap's seg_lock, which keeps every
 * segment mapped meanwhile (an arena's owner may be allocating: the numbers
 * are then a snapshot).  The whole process takes layer 1's counters.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>

void wh_heap_counters_get(wh_heap *h, wh_heap_counters *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&h->seg_lock);
    out->reserved = h->reserved;
    out->committed = h->committed;
    out->peak_committed = h->peak_committed;
    for (const wh_segment *seg = h->segments; seg; seg = seg->next) {
        for (uint32_t i = seg->first_slice; i <= seg->last_slice; i++) {
            const wh_page *e = &seg->pages[i];
            if (e->kind == WH_PK_FREE && e->state == WH_SS_RESET) {
                uintptr_t start, end;
                wh_heap_slices_range(seg, i, 1, &start, &end);
                if (end > seg->commit_end) end = seg->commit_end;
                if (end > start) out->reset += end - start;
            } else if (e->kind == WH_PK_SMALL) {
                uint32_t used = __atomic_load_n(&e->used, __ATOMIC_RELAXED) & ~WH_PAGE_FULL;
                if ((e->flags & WH_PF_CURRENT) && used) used--;
                out->allocated += (size_t)used * e->block_size;
            } else if (e->kind == WH_PK_LARGE) {
                if (__atomic_load_n(&e->used, __ATOMIC_RELAXED) & ~WH_PAGE_FULL)
                    out->allocated += e->area;
            }
        }
    }
    for (const wh_huge *hg = h->huge; hg; hg = hg->next)
        if (hg->live) out->allocated += hg->committed;
    pthread_mutex_unlock(&h->seg_lock);
}

bool wheap_get_stats(wheap_heap *heap, wheap_stats *out)
{
    if (!out || out->size < sizeof out->size) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return false;
    }
    wheap_stats st;
    memset(&st, 0, sizeof st);
    st.size = out->size;
    wh_heap *h = (wh_heap *)heap;
    if (h) {
        if (!wh_heap_handle_ok(h)) {
            wh_set_error(WHEAP_ERROR_INVALID_HANDLE);
            return false;
        }
        wh_heap_counters c;
        wh_heap_counters_get(h, &c);
        st.reserved = c.reserved;
        st.committed = c.committed;
        st.reset = c.reset;
        st.allocated = c.allocated;
        st.peak_committed = c.peak_committed;
        st.heaps = 1;
    } else {
        wh_vm_counters vc;
        wh_vm_counters_get(&vc);
        st.reserved = vc.reserved;
        st.committed = vc.committed;
        st.reset = vc.reset;
        st.peak_committed = vc.peak_committed;
        /* Every public heap (the process heap among them, counted once even
         * before its first use) and every arena's live blocks. */
        bool process_listed = false;
        wh_heap *process = wh_heap_process();
        wh_heaps_lock();
        for (wh_heap *x = wh_heaps_first(); x; x = x->list_next) {
            wh_heap_counters c;
            wh_heap_counters_get(x, &c);
            st.allocated += c.allocated;
            st.reset += c.reset;   /* layer 1 does not record heaps' resets */
            st.heaps++;
            process_listed |= x == process;
        }
        wh_heaps_unlock();
        if (!process_listed) st.heaps++;
        st.allocated += wh_heap_arenas_allocated();
        for (wh_heap *a = wh_arenas_first(); a; a = wh_arena_next(a)) {
            wh_heap_counters c;
            wh_heap_counters_get(a, &c);
            st.reset += c.reset;
        }
    }
    size_t n = out->size < sizeof st ? out->size : sizeof st;
    memcpy(out, &st, n);
    return true;
}
