/*
 * The live page (live=1): a thread of ours publishes the process's
 * statistics, one row per heap and arena and one row per reservation, every
 * WH_LIVE_INTERVAL_MS into /dev/shm/wheap-<uid>/live.<pid>, for `wheap top`
 * and `wheap map` (tools/wheap-view.c).  The format is src/live_page.h.
 *
 *   malloc_slow ── wh_live_start: one thread, signals blocked
 *   live_main ── live_create: stale pages of dead processes removed, a
 *      │         fresh O_TMPFILE sized, mapped, its constant header written,
 *      │         then named (readers never see a half-made page)
 *      └─ live_publish, every 250 ms: the snapshot is built in a private
 *         buffer (heap locks taken one heap at a time, the regions lock one
 *         region at a time), then copied into the shared page under the
 *         seqlock, so a reader waits at most one memcpy.
 *
 * Nothing here calls malloc: buffers are metadata mappings of our own, and
 * /proc files are read into stack buffers.  The page goes away in the
 * library's destructor; a process killed outright leaves it behind, and the
 * next publisher or viewer of that user removes it.  A forked child stops:
 * it must not write the parent's page nor remove it at its exit.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "live_page.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define WH_LIVE_INTERVAL_MS 250u

/* live_state */
enum { LIVE_OFF = 0, LIVE_RUNNING = 1, LIVE_STOPPED = 2 };

static _Atomic int live_state;
/* Creation and removal of the page: the thread, exit and fork. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static int live_dirfd = -1;             /* while creating */
static bool live_named;                 /* our page has its name */
static unsigned long live_pid;
static char live_name[32];
static wh_live_header *live_page;      /* the shared page */
static unsigned char *live_snap;       /* the snapshot being built (private) */

/* Segment reservations and their reset bytes, gathered under each heap's
 * lock for the region rows (layer 1 does not record heaps' resets). */
typedef struct seg_reset { uintptr_t base; uint64_t reset; } seg_reset;
#define SEG_TABLE_SIZE ((size_t)65536)
#define SEG_TABLE_MAX  (SEG_TABLE_SIZE / sizeof(seg_reset))
static seg_reset *seg_table;
static size_t seg_count;

/* ------------------------------------------------------------------------
 * Small helpers (no malloc)
 * ---------------------------------------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t put_u64(char *out, uint64_t v)
{
    char d[24];
    size_t n = 0, k = 0;
    do { d[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) out[k++] = d[--n];
    out[k] = '\0';
    return k;
}

/* The number after key (e.g. "\nVmRSS:") in text, or 0. */
static uint64_t field_u64(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p) return 0;
    p += strlen(key);
    while (*p == ' ' || *p == '\t') p++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

/* Field 22 (starttime) of /proc/<pid>/stat ("self" for pid 0), or 0. */
static uint64_t start_ticks_of(unsigned long pid)
{
    char path[40] = "/proc/", buf[1024];
    size_t n = 6;
    if (pid) n += put_u64(path + n, pid);
    else { memcpy(path + n, "self", 4); n += 4; }
    memcpy(path + n, "/stat", 6);
    if (wh_os_read_file(path, buf, sizeof buf, NULL) != 0) return 0;
    const char *p = strrchr(buf, ')');
    if (!p) return 0;
    /* Fields 3.. follow ") "; starttime is the 20th of them. */
    for (int field = 2; field < 21 && *p; p++)
        if (*p == ' ') field++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

/* "live.<pid>" into out (32 bytes). */
static void page_name(char *out, unsigned long pid)
{
    memcpy(out, WH_LIVE_PREFIX, sizeof WH_LIVE_PREFIX - 1);
    put_u64(out + sizeof WH_LIVE_PREFIX - 1, pid);
}

/* ------------------------------------------------------------------------
 * Stale pages
 * ---------------------------------------------------------------------- */

/* Reads the header of the page name; false when it is not a live page
 * (a named mapping called "live.7" is never touched). */
static bool page_header(int dirfd, const char *name, wh_live_header *h)
{
    int fd;
    if (wh_os_ns_open(dirfd, name, &fd) != 0) return false;
    bool ours = wh_os_fd_pread(fd, h, sizeof *h, 0) == 0 && h->magic == WH_LIVE_MAGIC;
    wh_os_fd_close(fd);
    return ours;
}

static bool page_is_ours(int dirfd, const char *name)
{
    wh_live_header h;
    return page_header(dirfd, name, &h);
}

/* Does the entry name hold a live page whose process is gone (or whose pid
 * now belongs to another process)? */
static bool page_is_stale(int dirfd, const char *name, unsigned long pid)
{
    wh_live_header h;
    if (!page_header(dirfd, name, &h) || h.pid != pid) return false;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return true;
    uint64_t ticks = start_ticks_of(pid);
    return ticks != 0 && ticks != h.start_ticks;
}

static int remove_if_stale(const char *name, void *ctx)
{
    int dirfd = *(int *)ctx;
    size_t n = sizeof WH_LIVE_PREFIX - 1;
    if (strncmp(name, WH_LIVE_PREFIX, n) != 0 || !name[n]) return 0;
    unsigned long pid = 0;
    for (const char *p = name + n; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 0xFFFFFFFFul) return 0;
        pid = pid * 10 + (unsigned long)(*p - '0');
    }
    if (pid != live_pid && page_is_stale(dirfd, name, pid)) wh_os_ns_remove(dirfd, name);
    return 0;
}

/* ------------------------------------------------------------------------
 * The snapshot
 * ---------------------------------------------------------------------- */

static uint64_t segment_reset(const wh_segment *seg)
{
    uint64_t reset = 0;
    for (uint32_t i = seg->first_slice; i <= seg->last_slice; i++)
        reset += wh_heap_slice_reset(seg, i);
    return reset;
}

static void heap_row(wh_heap *h, uint32_t kind, wh_live_heap_row *row)
{
    wh_heap_counters c;
    wh_heap_counters_get(h, &c);
    memset(row, 0, sizeof *row);
    row->id = (uintptr_t)h;
    row->kind = kind;
    uint32_t flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
    row->state = flags & WH_HF_ABANDONED ? WH_LIVE_ABANDONED : WH_LIVE_ACTIVE;
    row->options = h->options;
    row->reserved = c.reserved;
    row->committed = c.committed;
    row->reset = c.reset;
    row->allocated = c.allocated;
    row->peak_committed = c.peak_committed;
    pthread_mutex_lock(&h->seg_lock);
    for (const wh_segment *seg = h->segments; seg; seg = seg->next) {
        row->segments++;
        if (seg_count < SEG_TABLE_MAX) {
            seg_table[seg_count].base = (uintptr_t)seg->reservation;
            seg_table[seg_count].reset = segment_reset(seg);
            seg_count++;
        }
    }
    for (const wh_huge *hg = h->huge; hg; hg = hg->next)
        if (hg->live) row->huge_blocks++;
    pthread_mutex_unlock(&h->seg_lock);
}

/* Shell sort of the segment table by base (qsort may allocate). */
static void seg_table_sort(void)
{
    static const size_t gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < seg_count; i++) {
            seg_reset x = seg_table[i];
            size_t j = i;
            for (; j >= gap && seg_table[j - gap].base > x.base; j -= gap)
                seg_table[j] = seg_table[j - gap];
            seg_table[j] = x;
        }
    }
}

/* Reset bytes of the heap reservation at base (a fixed heap's windows
 * share one reservation: their entries add up). */
static uint64_t seg_table_reset(uintptr_t base)
{
    size_t lo = 0, hi = seg_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seg_table[mid].base < base) lo = mid + 1;
        else hi = mid;
    }
    uint64_t reset = 0;
    for (; lo < seg_count && seg_table[lo].base == base; lo++) reset += seg_table[lo].reset;
    return reset;
}

static uint32_t region_type(uintptr_t base, uint32_t flags)
{
    if (flags & WH_RG_VIEW) return WH_LIVE_VIEW;
    if (flags & WH_RG_HEAP) {
        /* A segment header sits at the base of its window. */
        bool segment = (base & WH_SEG_MASK) == 0 && wh_segmap[base >> WH_SEG_SHIFT] != 0;
        return segment ? WH_LIVE_SEGMENT : WH_LIVE_HUGE;
    }
    return WH_LIVE_VIRTUAL;
}

static void snapshot_heaps(wh_live_header *hd)
{
    wh_live_heap_row *rows = (wh_live_heap_row *)(live_snap + WH_LIVE_HEAP_OFFSET);
    wh_live_heap_row row;
    uint32_t n = 0, total = 0;
    seg_count = 0;
    wh_heaps_lock();
    for (wh_heap *h = wh_heaps_first(); h; h = h->list_next) {
        uint32_t kind = h->flags & WH_HF_PROCESS ? WH_LIVE_PROCESS_HEAP : WH_LIVE_PRIVATE_HEAP;
        heap_row(h, kind, &row);
        total++;
        if (n < WH_LIVE_HEAP_MAX) rows[n++] = row;
    }
    wh_heaps_unlock();
    /* Arenas are never freed and their list only grows: no lock. */
    for (wh_heap *a = wh_arenas_first(); a; a = wh_arena_next(a)) {
        heap_row(a, WH_LIVE_ARENA, &row);
        total++;
        if (n < WH_LIVE_HEAP_MAX) rows[n++] = row;
    }
    hd->heap_rows = n;
    hd->heap_rows_total = total;
    seg_table_sort();
}

/* Page states counted per hold of the regions lock (64 Ki: some 50 us). */
#define COUNT_STEP 65536u

static void snapshot_regions(wh_live_header *hd)
{
    wh_live_region_row *rows = (wh_live_region_row *)(live_snap + WH_LIVE_REGION_OFFSET);
    size_t page = wh_os_page_size();
    uint32_t n = 0, total = 0;
    uintptr_t cursor = 0;
    memset(hd->by_type, 0, sizeof hd->by_type);
    for (;;) {
        /* One region per lock hold: reservations elsewhere wait for one
         * descriptor's page states at most. */
        wh_regions_lock();
        wh_region *r = wh_region_next(cursor);
        if (!r) {
            wh_regions_unlock();
            break;
        }
        cursor = r->base + r->size;
        total++;
        wh_live_region_row row = {
            .base = r->base,
            .size = r->size,
            .type = region_type(r->base, r->flags),
            .flags = (r->flags & WH_RG_WRITE_WATCH ? WH_LIVE_WRITE_WATCH : 0) |
                     (r->flags & WH_RG_LARGE_PAGES ? WH_LIVE_LARGE_PAGES : 0),
            .owner = r->flags & WH_RG_HEAP ? (uintptr_t)r->owner : 0,
        };
        /* A big reservation's page states are counted in steps, the lock
         * given back between them; a region released meanwhile (its seq
         * moved) is left out of this snapshot. */
        uint32_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed), npages = r->npages;
        uint64_t committed = 0, reset = 0;
        bool gone = false;
        for (uint32_t i = 0; i < npages; i++) {
            if ((i & (COUNT_STEP - 1)) == COUNT_STEP - 1) {
                wh_regions_unlock();
                wh_regions_lock();
                if (atomic_load_explicit(&r->seq, memory_order_relaxed) != seq) {
                    gone = true;
                    break;
                }
            }
            uint16_t s = atomic_load_explicit(&r->pages[i], memory_order_relaxed);
            if (s & WH_PG_COMMITTED) committed++;
            if (s & WH_PG_RESET) reset++;
        }
        wh_regions_unlock();
        if (gone) {
            total--;
            continue;
        }
        row.committed = committed * page;
        row.reset = reset * page;
        /* Heaps' resets, from what their locks showed. */
        if (row.type == WH_LIVE_SEGMENT) row.reset += seg_table_reset(row.base);
        if (n < WH_LIVE_REGION_MAX) rows[n++] = row;
        uint32_t t = row.type < 6 ? row.type : 0;
        hd->by_type[t].count++;
        hd->by_type[t].size += row.size;
        hd->by_type[t].committed += row.committed;
        hd->by_type[t].reset += row.reset;
    }
    hd->region_rows = n;
    hd->region_rows_total = total;
}

static void snapshot_process(wh_live_header *hd)
{
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    hd->reserved = st.reserved;
    hd->committed = st.committed;
    hd->reset = st.reset;
    hd->allocated = st.allocated;
    hd->peak_committed = st.peak_committed;
    hd->heaps = st.heaps;
    char buf[4096];
    if (wh_os_read_file("/proc/self/status", buf, sizeof buf, NULL) == 0) {
        hd->vm_rss = field_u64(buf, "\nVmRSS:") * 1024;
        hd->vm_size = field_u64(buf, "\nVmSize:") * 1024;
        hd->threads = (uint32_t)field_u64(buf, "\nThreads:");
    }
}

/* Builds a snapshot and copies it into the shared page under the seqlock. */
static void live_publish(void)
{
    uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    wh_live_header *hd = (wh_live_header *)live_snap;
    snapshot_process(hd);
    snapshot_heaps(hd);
    snapshot_regions(hd);
    hd->realtime_ns = clock_ns(CLOCK_REALTIME);

    wh_live_header *sh = live_page;
    uint64_t seq = __atomic_load_n(&sh->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    size_t body = offsetof(wh_live_header, seq) + sizeof sh->seq;
    hd->updates = sh->updates + 1;
    hd->publish_max_ns = sh->publish_max_ns;
    hd->publish_ns = sh->publish_ns;
    memcpy((char *)sh + body, (char *)hd + body, sizeof *hd - body);
    memcpy((char *)sh + WH_LIVE_HEAP_OFFSET, live_snap + WH_LIVE_HEAP_OFFSET,
           hd->heap_rows * sizeof(wh_live_heap_row));
    memcpy((char *)sh + WH_LIVE_REGION_OFFSET, live_snap + WH_LIVE_REGION_OFFSET,
           hd->region_rows * sizeof(wh_live_region_row));
    __atomic_store_n(&sh->seq, seq + 2, __ATOMIC_RELEASE);

    /* What this publish cost shows in the next one (outside the seqlock:
     * two words a reader may see one round late). */
    uint64_t spent = clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    __atomic_store_n(&sh->publish_ns, spent, __ATOMIC_RELAXED);
    if (spent > sh->publish_max_ns) __atomic_store_n(&sh->publish_max_ns, spent, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Creation and removal
 * ---------------------------------------------------------------------- */

/* Makes, fills and names the page.  live_lock held.  Returns 0 or errno. */
static int live_create(void)
{
    int e = 0, fd = -1;
    void *p = NULL;
    if (!live_snap && (e = wh_os_map_metadata(WH_LIVE_SIZE, &p)) != 0) return e;
    if (p) live_snap = p;
    if (!seg_table && (e = wh_os_map_metadata(SEG_TABLE_SIZE, &p)) != 0) return e;
    if (!seg_table) seg_table = p;
    if (live_dirfd < 0 && (e = wh_os_ns_dir(&live_dirfd)) != 0) return e;

    live_pid = wh_os_process_id();
    wh_os_dir_foreach(live_dirfd, remove_if_stale, &live_dirfd);
    if ((e = wh_os_ns_new(live_dirfd, &fd)) != 0) return e;
    if ((e = wh_os_fd_resize(fd, WH_LIVE_SIZE)) != 0 ||
        (e = wh_os_map_shared(fd, 0, WH_LIVE_SIZE, &p)) != 0) {
        wh_os_fd_close(fd);
        return e;
    }
    wh_live_header *h = p;
    h->magic = WH_LIVE_MAGIC;
    h->version = WH_LIVE_VERSION;
    h->size = WH_LIVE_SIZE;
    h->pid = (uint32_t)live_pid;
    h->uid = (uint32_t)geteuid();
    h->start_ticks = start_ticks_of(0);
    h->start_realtime_ns = clock_ns(CLOCK_REALTIME);
    h->heap_offset = WH_LIVE_HEAP_OFFSET;
    h->heap_row_size = sizeof(wh_live_heap_row);
    h->region_offset = WH_LIVE_REGION_OFFSET;
    h->region_row_size = sizeof(wh_live_region_row);
    h->interval_ms = WH_LIVE_INTERVAL_MS;
    memcpy(h->library, "wheap " PACKAGE_VERSION,
           sizeof("wheap " PACKAGE_VERSION) < sizeof h->library ? sizeof("wheap " PACKAGE_VERSION)
                                                                : sizeof h->library - 1);
    live_page = h;
    live_publish();
    page_name(live_name, live_pid);
    e = wh_os_ns_publish(live_dirfd, fd, live_name);
    if (e == EEXIST && page_is_ours(live_dirfd, live_name)) {
        /* A live page under our pid that we did not make: left by a process
         * that had this pid and died, or by this one before an exec. */
        wh_os_ns_remove(live_dirfd, live_name);
        e = wh_os_ns_publish(live_dirfd, fd, live_name);
    }
    if (e) {
        wh_os_release(p, WH_LIVE_SIZE);
        live_page = NULL;
        wh_os_fd_close(fd);
        return e;
    }
    /* No descriptor stays open (a daemon may close them all): the mapping
     * is enough to publish, and the name is found again at exit. */
    wh_os_fd_close(fd);
    live_named = true;
    return 0;
}

/* Removes our page, if the name still holds it.  live_lock held. */
static void live_remove(void)
{
    if (!live_named || live_pid != wh_os_process_id()) return;
    live_named = false;
    int dirfd;
    if (wh_os_ns_dir(&dirfd) != 0) return;
    wh_live_header h;
    if (page_header(dirfd, live_name, &h) && h.pid == live_page->pid &&
        h.start_realtime_ns == live_page->start_realtime_ns)
        wh_os_ns_remove(dirfd, live_name);
    wh_os_fd_close(dirfd);
}

/* ------------------------------------------------------------------------
 * The thread, exit and fork
 * ---------------------------------------------------------------------- */

static void *live_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "wheap-live", 0, 0, 0);
    pthread_mutex_lock(&live_lock);
    int e = atomic_load(&live_state) == LIVE_RUNNING ? live_create() : 0;
    if (live_dirfd >= 0) wh_os_fd_close(live_dirfd);
    live_dirfd = -1;
    pthread_mutex_unlock(&live_lock);
    if (e) {
        atomic_store(&live_state, LIVE_STOPPED);
        wh_message("live=1: cannot publish statistics in /dev/shm/wheap-%u (errno %u)",
                   (unsigned)geteuid(), (unsigned)e);
        return NULL;
    }
    for (;;) {
        struct timespec ts = { 0, (long)WH_LIVE_INTERVAL_MS * 1000000L };
        while (nanosleep(&ts, &ts) != 0) {}
        pthread_mutex_lock(&live_lock);
        bool on = atomic_load(&live_state) == LIVE_RUNNING && live_named;
        if (on) live_publish();
        pthread_mutex_unlock(&live_lock);
        if (!on) break;
    }
    return NULL;
}

/* A forked child stops for good: the page is its parent's. */
static void live_fork_child(void)
{
    pthread_mutex_init(&live_lock, NULL);
    if (atomic_load(&live_state) == LIVE_OFF) return;
    atomic_store(&live_state, LIVE_STOPPED);
    live_named = false;
    if (live_page) wh_os_release(live_page, WH_LIVE_SIZE);
    live_page = NULL;
    if (live_dirfd >= 0) wh_os_fd_close(live_dirfd);
    live_dirfd = -1;
}

void wh_live_start(void)
{
    if (atomic_load_explicit(&live_state, memory_order_relaxed) != LIVE_OFF) return;
    if (!wh_options_get()->live) return;
    int expected = LIVE_OFF;
    if (!atomic_compare_exchange_strong(&live_state, &expected, LIVE_RUNNING)) return;
    pthread_atfork(NULL, NULL, live_fork_child);
    if (wh_os_start_daemon(live_main) != 0) {
        atomic_store(&live_state, LIVE_STOPPED);
        wh_message("live=1: cannot start the publisher thread");
    }
}

/* At exit the page goes (after a publish in progress). */
__attribute__((destructor)) static void live_exit(void)
{
    if (atomic_load(&live_state) == LIVE_OFF) return;
    pthread_mutex_lock(&live_lock);
    atomic_store(&live_state, LIVE_STOPPED);
    live_remove();
    pthread_mutex_unlock(&live_lock);
}
