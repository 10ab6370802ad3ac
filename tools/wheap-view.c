/*
 * wheap-view: `wheap top` and `wheap map`, the live view of a process that
 * runs with WHEAP_OPTIONS=live=1 (src/live.c publishes, src/live_page.h is
 * the format).  No dependency on libwheap: it reads the page
 * /dev/shm/wheap-<uid>/live.<pid> of its own user's processes only.
 *
 *   wheap-view top [-d SECONDS] [-n ITERATIONS] PID
 *   wheap-view map PID
 *
 * Exit status 0, 1 for a process it cannot show (one line saying why), 2
 * for bad usage.
 */
#define _GNU_SOURCE
#include "live_page.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const heap_kinds[] = { "?", "process", "heap", "arena" };
static const char *const region_types[] = { "?",           "heap segment", "huge block",
                                            "virtual alloc", "mapped view", "guard pool" };
#define NTYPES (sizeof region_types / sizeof region_types[0])

static void usage(FILE *f)
{
    fputs("usage: wheap top [-d SECONDS] [-n ITERATIONS] PID\n"
          "       wheap map PID\n"
          "\n"
          "  top  heaps and arenas of PID, refreshed every -d seconds (default 1);\n"
          "       -n 1 prints once without clearing the screen\n"
          "  map  the reservations of PID (address range, size, committed, reset,\n"
          "       type, owner) and totals per type\n"
          "\n"
          "PID must run with wheap and WHEAP_OPTIONS=live=1 (wheap run --live).\n",
          f);
}

/* ------------------------------------------------------------------------
 * Finding and reading the page
 * ---------------------------------------------------------------------- */

typedef struct snapshot {
    unsigned char page[WH_LIVE_SIZE] __attribute__((aligned(64)));
} snapshot;

static const wh_live_header *hdr(const snapshot *s)
{
    return (const wh_live_header *)s->page;
}

static const wh_live_heap_row *heap_rows(const snapshot *s)
{
    return (const wh_live_heap_row *)(s->page + hdr(s)->heap_offset);
}

static const wh_live_region_row *region_rows(const snapshot *s)
{
    return (const wh_live_region_row *)(s->page + hdr(s)->region_offset);
}

static void page_path(char *buf, size_t cap, long pid)
{
    snprintf(buf, cap, "/dev/shm/wheap-%u/" WH_LIVE_PREFIX "%ld", (unsigned)geteuid(), pid);
}

/* Field 22 (starttime) of /proc/<pid>/stat, or 0. */
static uint64_t start_ticks_of(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p) return 0;
    for (int field = 2; field < 21 && *p; p++)
        if (*p == ' ') field++;
    return strtoull(p, NULL, 10);
}

/* Stale pages of this user's dead processes go (a process killed outright
 * cannot remove its own); only files with our magic are touched. */
static void remove_if_stale(const char *path, long pid)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    wh_live_header h;
    struct stat st;
    bool ours = fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
                pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && h.magic == WH_LIVE_MAGIC &&
                h.pid == (uint32_t)pid;
    close(fd);
    if (!ours) return;
    bool dead = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    uint64_t ticks = dead ? 0 : start_ticks_of(pid);
    if (dead || (ticks && ticks != h.start_ticks)) unlink(path);
}

static void sweep_stale(void)
{
    char dir[64], path[400];
    snprintf(dir, sizeof dir, "/dev/shm/wheap-%u", (unsigned)geteuid());
    DIR *d = opendir(dir);
    if (!d) return;
    size_t plen = strlen(WH_LIVE_PREFIX);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, WH_LIVE_PREFIX, plen) != 0) continue;
        long pid = 0;
        const char *p = e->d_name + plen;
        if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 9) continue;
        pid = strtol(p, NULL, 10);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove_if_stale(path, pid);
    }
    closedir(d);
}

/* Why a process cannot be shown, as the one line the user sees. */
static int refuse(const char *fmt, long pid)
{
    fprintf(stderr, fmt, pid);
    fputc('\n', stderr);
    return 1;
}

/* Takes a consistent copy of PID's page into s.  Returns 0, or 1 after
 * printing why not. */
static int read_page(long pid, snapshot *s)
{
    char proc[64], path[96];
    snprintf(proc, sizeof proc, "/proc/%ld", pid);
    page_path(path, sizeof path, pid);
    struct stat pst;
    if (stat(proc, &pst) != 0) {
        remove_if_stale(path, pid);
        return refuse("wheap: no process %ld", pid);
    }
    if (pst.st_uid != geteuid()) return refuse("wheap: process %ld belongs to another user", pid);

    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return refuse("wheap: process %ld does not publish statistics (start it with "
                          "WHEAP_OPTIONS=live=1 or wheap run --live)",
                          pid);
        fprintf(stderr, "wheap: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
        close(fd);
        return refuse("wheap: process %ld belongs to another user", pid);
    }
    if (!S_ISREG(st.st_mode) || st.st_size != (off_t)WH_LIVE_SIZE) {
        close(fd);
        fprintf(stderr, "wheap: %s is not a wheap live page (size %lld, expected %u)\n", path,
                (long long)st.st_size, WH_LIVE_SIZE);
        return 1;
    }
    const unsigned char *map = mmap(NULL, WH_LIVE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        fprintf(stderr, "wheap: %s: %s\n", path, strerror(errno));
        return 1;
    }
    const wh_live_header *h = (const wh_live_header *)map;
    int rc = 0;
    if (h->magic != WH_LIVE_MAGIC) {
        fprintf(stderr, "wheap: %s is not a wheap live page (bad magic)\n", path);
        rc = 1;
    } else if (h->version != WH_LIVE_VERSION || h->size != WH_LIVE_SIZE ||
               h->heap_row_size != sizeof(wh_live_heap_row) ||
               h->region_row_size != sizeof(wh_live_region_row) ||
               h->heap_offset != WH_LIVE_HEAP_OFFSET || h->region_offset != WH_LIVE_REGION_OFFSET) {
        fprintf(stderr,
                "wheap: %s has live page version %u, this viewer reads version %u "
                "(use the wheap that runs the process)\n",
                path, h->version, WH_LIVE_VERSION);
        rc = 1;
    } else if (h->pid != (uint32_t)pid || h->start_ticks != start_ticks_of(pid)) {
        /* Left by an earlier process that had this pid. */
        remove_if_stale(path, (long)h->pid);
        rc = refuse("wheap: process %ld does not publish statistics (start it with "
                    "WHEAP_OPTIONS=live=1 or wheap run --live)",
                    pid);
    }
    /* The seqlock: keep a copy only when no write overlapped it. */
    for (int tries = 0; rc == 0; tries++) {
        uint64_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
        if (!(seq & 1)) {
            memcpy(s->page, map, WH_LIVE_SIZE);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == seq) break;
        }
        if (tries == 2000) {
            fprintf(stderr, "wheap: process %ld: no consistent snapshot after 2000 tries\n", pid);
            rc = 1;
            break;
        }
        struct timespec ts = { 0, 500000 };
        nanosleep(&ts, NULL);
    }
    munmap((void *)map, WH_LIVE_SIZE);
    if (rc == 0) {
        const wh_live_header *c = hdr(s);
        /* Rows the page cannot hold mean a damaged page, not a big process. */
        if (c->heap_rows > WH_LIVE_HEAP_MAX || c->region_rows > WH_LIVE_REGION_MAX) {
            fprintf(stderr, "wheap: %s: row counts out of range\n", path);
            rc = 1;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Formatting
 * ---------------------------------------------------------------------- */

static unsigned long long kib(uint64_t bytes)
{
    return (unsigned long long)((bytes + 1023) / 1024);
}

/* "12.3M" style for the header lines. */
static const char *human(uint64_t bytes, char *buf, size_t cap)
{
    static const char units[] = "KMGTP";
    double v = (double)bytes / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f%ci", v, units[u]);
    return buf;
}

static void command_line(long pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    /* Arguments joined by spaces, control characters shown as spaces. */
    for (size_t i = 0; i + 1 < n; i++)
        if ((unsigned char)out[i] < 32) out[i] = ' ';
    if (n == cap - 1 && cap > 4) memcpy(out + cap - 4, "...", 4);
}

static void duration(uint64_t seconds, char *buf, size_t cap)
{
    unsigned long long s = seconds;
    if (s >= 86400)
        snprintf(buf, cap, "%llud %02llu:%02llu:%02llu", s / 86400, s / 3600 % 24, s / 60 % 60,
                 s % 60);
    else
        snprintf(buf, cap, "%02llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "arena 2", "heap 0", "process heap": a heap's name.  Private heaps are
 * numbered in list order; arenas in creation order (the page lists the
 * newest first; rows left out are the oldest). */
static void heap_name(const snapshot *s, uint64_t id, char *buf, size_t cap)
{
    const wh_live_header *h = hdr(s);
    const wh_live_heap_row *rows = heap_rows(s);
    unsigned per_kind[4] = { 0, 0, 0, 0 };
    for (uint32_t i = 0; i < h->heap_rows; i++) per_kind[rows[i].kind < 4 ? rows[i].kind : 0]++;
    unsigned arenas = per_kind[WH_LIVE_ARENA] + (h->heap_rows_total - h->heap_rows);
    memset(per_kind, 0, sizeof per_kind);
    for (uint32_t i = 0; i < h->heap_rows; i++) {
        uint32_t k = rows[i].kind < 4 ? rows[i].kind : 0;
        if (rows[i].id == id) {
            if (k == WH_LIVE_PROCESS_HEAP) snprintf(buf, cap, "process heap");
            else if (k == WH_LIVE_ARENA) snprintf(buf, cap, "arena %u", arenas - 1 - per_kind[k]);
            else snprintf(buf, cap, "%s %u", heap_kinds[k], per_kind[k]);
            return;
        }
        per_kind[k]++;
    }
    if (id) snprintf(buf, cap, "heap %#llx", (unsigned long long)id);
    else snprintf(buf, cap, "-");
}

static void print_header(const snapshot *s, long pid, const char *view)
{
    const wh_live_header *h = hdr(s);
    char cmd[120], up[32], a[24], b[24], c[24], d[24];
    command_line(pid, cmd, sizeof cmd);
    uint64_t now = now_ns();
    duration(now > h->start_realtime_ns ? (now - h->start_realtime_ns) / 1000000000u : 0, up,
             sizeof up);
    double age = now > h->realtime_ns ? (double)(now - h->realtime_ns) / 1e9 : 0.0;
    printf("wheap %s - pid %ld: %s\n", view, pid, cmd);
    printf("publishing for %s, snapshot %.1f s old%s, %llu updates every %u ms, "
           "last publish %.0f us (max %.0f us), %.20s\n",
           up, age, age > 5.0 * h->interval_ms / 1000.0 + 1.0 ? " (stale: not updating)" : "",
           (unsigned long long)h->updates, h->interval_ms, (double)h->publish_ns / 1000.0,
           (double)h->publish_max_ns / 1000.0, h->library);
    printf("Threads: %u   VmRSS: %lluK (%s)   VmSize: %lluK (%s)\n", h->threads, kib(h->vm_rss),
           human(h->vm_rss, a, sizeof a), kib(h->vm_size), human(h->vm_size, b, sizeof b));
    printf("Reserved: %lluK   Committed: %lluK (%s)   Reset: %lluK   Allocated: %lluK (%s)   "
           "Peak: %lluK   Heaps: %llu\n",
           kib(h->reserved), kib(h->committed), human(h->committed, c, sizeof c), kib(h->reset),
           kib(h->allocated), human(h->allocated, d, sizeof d), kib(h->peak_committed),
           (unsigned long long)h->heaps);
}

/* ------------------------------------------------------------------------
 * top
 * ---------------------------------------------------------------------- */

static int by_committed(const void *x, const void *y)
{
    const wh_live_heap_row *a = *(const wh_live_heap_row *const *)x;
    const wh_live_heap_row *b = *(const wh_live_heap_row *const *)y;
    if (a->committed != b->committed) return a->committed < b->committed ? 1 : -1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void print_top(const snapshot *s, long pid)
{
    const wh_live_header *h = hdr(s);
    const wh_live_heap_row *rows = heap_rows(s);
    print_header(s, pid, "top");
    printf("\n%-14s %-14s %-9s %5s %5s %12s %12s %12s %12s %12s\n", "HEAP", "ID", "STATE",
           "SEGS", "HUGE", "RESERVED(K)", "COMMITTED(K)", "RESET(K)", "ALLOCATED(K)", "PEAK(K)");
    const wh_live_heap_row *order[WH_LIVE_HEAP_MAX];
    for (uint32_t i = 0; i < h->heap_rows; i++) order[i] = &rows[i];
    qsort(order, h->heap_rows, sizeof order[0], by_committed);
    for (uint32_t i = 0; i < h->heap_rows; i++) {
        const wh_live_heap_row *r = order[i];
        char name[48];
        heap_name(s, r->id, name, sizeof name);
        printf("%-14s %#-14llx %-9s %5u %5u %12llu %12llu %12llu %12llu %12llu\n", name,
               (unsigned long long)r->id,
               r->kind == WH_LIVE_ARENA ? (r->state == WH_LIVE_ABANDONED ? "abandoned" : "active")
                                        : "-",
               r->segments, r->huge_blocks, kib(r->reserved), kib(r->committed), kib(r->reset),
               kib(r->allocated), kib(r->peak_committed));
    }
    if (h->heap_rows_total > h->heap_rows)
        printf("(%u more heaps not shown: the page holds %u)\n",
               h->heap_rows_total - h->heap_rows, WH_LIVE_HEAP_MAX);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int cmd_top(long pid, double delay, long iterations)
{
    static snapshot s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool clear = iterations != 1;
    for (long i = 0; !stop && (iterations <= 0 || i < iterations); i++) {
        if (i > 0) {
            struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
            while (!stop && nanosleep(&ts, &ts) != 0) {}
            if (stop) break;
        }
        if (i > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            printf("wheap: process %ld exited\n", pid);
            return 0;
        }
        if (read_page(pid, &s) != 0) return 1;
        if (clear) fputs("\033[H\033[2J", stdout);
        print_top(&s, pid);
        fflush(stdout);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * map
 * ---------------------------------------------------------------------- */

static int cmd_map(long pid)
{
    static snapshot s;
    if (read_page(pid, &s) != 0) return 1;
    const wh_live_header *h = hdr(&s);
    const wh_live_region_row *rows = region_rows(&s);
    print_header(&s, pid, "map");
    printf("\n%-33s %12s %12s %12s  %-13s %s\n", "ADDRESS RANGE", "SIZE(K)", "COMMITTED(K)",
           "RESET(K)", "TYPE", "OWNER");
    struct { uint64_t count, size, committed, reset; } all;
    memset(&all, 0, sizeof all);
    for (uint32_t i = 0; i < h->region_rows; i++) {
        const wh_live_region_row *r = &rows[i];
        uint32_t t = r->type < NTYPES ? r->type : 0;
        char owner[48], type[32];
        heap_name(&s, r->owner, owner, sizeof owner);
        snprintf(type, sizeof type, "%s%s%s", region_types[t],
                 r->flags & WH_LIVE_WRITE_WATCH ? " ww" : "",
                 r->flags & WH_LIVE_LARGE_PAGES ? " lp" : "");
        printf("%#014llx-%#014llx   %12llu %12llu %12llu  %-13s %s\n",
               (unsigned long long)r->base, (unsigned long long)(r->base + r->size),
               kib(r->size), kib(r->committed), kib(r->reset), type, owner);
    }
    /* The totals cover every region, listed or not. */
    _Static_assert(sizeof h->by_type / sizeof h->by_type[0] == NTYPES, "region types");
    for (size_t t = 0; t < NTYPES; t++) {
        all.count += h->by_type[t].count;
        all.size += h->by_type[t].size;
        all.committed += h->by_type[t].committed;
        all.reset += h->by_type[t].reset;
    }
    printf("\n%-22s %10s %12s %12s %12s\n", "TYPE", "REGIONS", "SIZE(K)", "COMMITTED(K)",
           "RESET(K)");
    for (size_t t = 1; t < NTYPES + 1; t++) {
        size_t k = t % NTYPES;   /* unknown types last */
        if (!h->by_type[k].count) continue;
        printf("%-22s %10llu %12llu %12llu %12llu\n", region_types[k],
               (unsigned long long)h->by_type[k].count, kib(h->by_type[k].size),
               kib(h->by_type[k].committed), kib(h->by_type[k].reset));
    }
    printf("%-22s %10llu %12llu %12llu %12llu\n", "total", (unsigned long long)all.count,
           kib(all.size), kib(all.committed), kib(all.reset));
    if (h->region_rows_total > h->region_rows)
        printf("(%u more regions not listed, counted in the totals: the page holds %u)\n",
               h->region_rows_total - h->region_rows, WH_LIVE_REGION_MAX);
    return 0;
}

/* ------------------------------------------------------------------------
 * Arguments
 * ---------------------------------------------------------------------- */

static bool parse_pid(const char *text, long *pid)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || v > INT_MAX) return false;
    *pid = v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    bool top = !strcmp(cmd, "top");
    if (!top && strcmp(cmd, "map") != 0) {
        fprintf(stderr, "wheap: unknown view '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    double delay = 1.0;
    long iterations = 0;
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "--")) {
            i++;
            break;
        }
        if (!top || (strcmp(opt, "-d") && strcmp(opt, "-n"))) {
            fprintf(stderr, "wheap: unknown option '%s'\n", opt);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "wheap: %s needs a value\n", opt);
            return 2;
        }
        char *end;
        const char *v = argv[++i];
        if (opt[1] == 'd') {
            delay = strtod(v, &end);
            if (end == v || *end || !(delay >= 0.1 && delay <= 86400)) {
                fprintf(stderr, "wheap: -d wants seconds from 0.1 to 86400, not '%s'\n", v);
                return 2;
            }
        } else {
            iterations = strtol(v, &end, 10);
            if (end == v || *end || iterations < 1) {
                fprintf(stderr, "wheap: -n wants a count of at least 1, not '%s'\n", v);
                return 2;
            }
        }
    }
    long pid;
    if (i + 1 != argc || !parse_pid(argv[i], &pid)) {
        fprintf(stderr, "wheap: %s wants one process id\n", cmd);
        usage(stderr);
        return 2;
    }
    sweep_stale();
    return top ? cmd_top(pid, delay, iterations) : cmd_map(pid);
}
