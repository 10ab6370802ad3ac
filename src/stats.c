/*
 * wheap_get_stats: one heap's counters, or the whole process's.
 *
 * Reserved and committed bytes are counted where the heap layer reserves
 * and commits (exactly the pages layer 1 charges, so they agree with
 * wheap_virtual_query); reset and allocated bytes are counted on demand by
 * reading the page metadata under the heap's seg_lock, which keeps every
 * segment mapped meanwhile (an arena's owner may be allocating: the numbers
 * are then a snapshot).  The whole process takes layer 1's counters.
 *
 * stats=1 prints them at exit from a library destructor (wh_stats_print):
 * snprintf into stack buffers, one write(2) per line, /proc/self/status
 * read with raw reads; nothing allocates, so a process whose heap is
 * damaged or exhausted still gets its report.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

size_t wh_heap_slice_reset(const wh_segment *seg, uint32_t i)
{
    const wh_page *e = &seg->pages[i];
    if (e->kind != WH_PK_FREE || e->state != WH_SS_RESET) return 0;
    uintptr_t start, end;
    wh_heap_slices_range(seg, i, 1, &start, &end);
    if (end > seg->commit_end) end = seg->commit_end;
    return end > start ? end - start : 0;
}

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
            if (e->kind == WH_PK_FREE) {
                out->reset += wh_heap_slice_reset(seg, i);
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

/* ------------------------------------------------------------------------
 * stats=1: the report at exit
 * ---------------------------------------------------------------------- */

const char *wh_heap_kind_name(const wh_heap *h)
{
    uint32_t f = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
    if (!(f & WH_HF_ARENA)) return (f & WH_HF_PROCESS) ? "process" : "heap";
    if (f & WH_HF_SHARED) return "shared";
    return (f & WH_HF_ABANDONED) ? "abandoned" : "arena";
}

static void line_out(const char *buf, int n, size_t cap)
{
    if (n <= 0) return;
    size_t len = (size_t)n < cap ? (size_t)n : cap - 1;
    wh_os_write_stderr(buf, len);
}

/* A "Key:   123 kB" value of /proc/self/status, in kB; 0 when missing. */
static unsigned long long status_kb(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *s = text; s && *s;) {
        if (strncmp(s, key, kl) == 0 && s[kl] == ':') {
            const char *v = s + kl + 1;
            while (*v == ' ' || *v == '\t') v++;
            unsigned long long x = 0;
            while (*v >= '0' && *v <= '9') x = x * 10 + (unsigned long long)(*v++ - '0');
            return x;
        }
        s = strchr(s, '\n');
        if (s) s++;
    }
    return 0;
}

static void heap_row(const char *kind, unsigned nr, wh_heap *h)
{
    wh_heap_counters c;
    wh_heap_counters_get(h, &c);
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "wheap: stats: %-9s %2u %p: reserved %zu, committed %zu, allocated %zu, "
                     "reset %zu, peak committed %zu\n",
                     kind, nr, (void *)h, c.reserved, c.committed, c.allocated, c.reset,
                     c.peak_committed);
    line_out(buf, n, sizeof buf);
}

void wh_stats_print(void)
{
    char buf[320];
    int n;
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    size_t arenas, abandoned, shared;
    wh_arena_counts(&arenas, &abandoned, &shared);
    /* The program's name: a report per process (forked children too). */
    char comm[32];
    size_t cl = 0;
    if (wh_os_read_file("/proc/self/comm", comm, sizeof comm, &cl) != 0) cl = 0;
    while (cl && (comm[cl - 1] == '\n' || comm[cl - 1] == ' ')) cl--;
    comm[cl] = '\0';
    n = snprintf(buf, sizeof buf, "wheap: stats: pid %ld (%s), wheap %s\n", (long)getpid(), comm,
                 PACKAGE_VERSION);
    line_out(buf, n, sizeof buf);
    n = snprintf(buf, sizeof buf,
                 "wheap: stats: reserved %zu, committed %zu, reset %zu, allocated %zu, "
                 "peak committed %zu (bytes)\n",
                 st.reserved, st.committed, st.reset, st.allocated, st.peak_committed);
    line_out(buf, n, sizeof buf);
    n = snprintf(buf, sizeof buf,
                 "wheap: stats: heaps %zu, arenas %zu (abandoned %zu, shared %zu)\n", st.heaps,
                 arenas, abandoned, shared);
    line_out(buf, n, sizeof buf);
    char status[4096];
    if (wh_os_read_file("/proc/self/status", status, sizeof status, NULL) == 0) {
        n = snprintf(buf, sizeof buf, "wheap: stats: VmRSS %llu kB, VmHWM %llu kB\n",
                     status_kb(status, "VmRSS"), status_kb(status, "VmHWM"));
        line_out(buf, n, sizeof buf);
    }
    unsigned nr = 0, more = 0;
    for (wh_heap *h = wh_arenas_first(); h; h = wh_arena_next(h)) {
        if (nr < WH_STATS_ROWS) heap_row(wh_heap_kind_name(h), nr++, h);
        else more++;
    }
    if (more) {
        n = snprintf(buf, sizeof buf, "wheap: stats: %u more arenas not listed\n", more);
        line_out(buf, n, sizeof buf);
    }
    nr = 0;
    more = 0;
    wh_heaps_lock();
    for (wh_heap *h = wh_heaps_first(); h; h = h->list_next) {
        if (nr < WH_STATS_ROWS) heap_row(wh_heap_kind_name(h), nr++, h);
        else more++;
    }
    wh_heaps_unlock();
    if (more) {
        n = snprintf(buf, sizeof buf, "wheap: stats: %u more heaps not listed\n", more);
        line_out(buf, n, sizeof buf);
    }
}

/* A destructor, not atexit: it runs after the program's atexit handlers
 * and its own destructors (glibc's _dl_fini runs libraries' destructors
 * last), and registering it allocates nothing. */
__attribute__((destructor)) static void stats_at_exit(void)
{
    if (wh_options_get()->stats) wh_stats_print();
}
