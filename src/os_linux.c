/*
 * OS primitives for Linux: the only file that makes memory system calls.
 * Each function returns 0 or an errno value, never sets the last error and
 * never allocates.  errno itself is left as the caller had it.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

/* What /proc/self/maps shows for wheap's mappings ("[anon:wheap]"). */
#define WH_OS_NAME "wheap"
#define WH_OS_NAME_METADATA "wheap-meta"

/* /proc/self/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PAGEMAP_PRESENT ((uint64_t)1 << 63)
#define PAGEMAP_SWAPPED ((uint64_t)1 << 62)

/* Runs a call that reports failure through errno, and hands back that errno
 * while restoring the caller's. */
#define WH_OS_CALL(expr_fails)                                  \
    do {                                                        \
        int saved_ = errno;                                     \
        int err_ = 0;                                           \
        if (expr_fails) err_ = errno ? errno : EINVAL;          \
        errno = saved_;                                         \
        return err_;                                            \
    } while (0)

static size_t os_page_size;

size_t wh_os_page_size(void)
{
    size_t p = __atomic_load_n(&os_page_size, __ATOMIC_RELAXED);
    if (wh_unlikely(p == 0)) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&os_page_size, p, __ATOMIC_RELAXED);
    }
    return p;
}

/* Parses an unsigned decimal at s; *end gets the first non-digit. */
static uint64_t parse_u64(const char *s, const char **end)
{
    uint64_t v = 0;
    while (*s == ' ' || *s == '\t') s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    if (end) *end = s;
    return v;
}

int wh_os_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int saved = errno;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len) *len = n;
    errno = saved;
    return 0;
}

int wh_os_meminfo(const char *key, uint64_t *out)
{
    char buf[8192];
    size_t klen = strlen(key);
    int e = wh_os_read_file("/proc/meminfo", buf, sizeof buf, NULL);
    if (e) return e;
    for (const char *line = buf; *line; ) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            *out = parse_u64(line + klen + 1, NULL) * 1024;
            return 0;
        }
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return ENOENT;
}

size_t wh_os_huge_page_size(void)
{
    static size_t cached = (size_t)-1;
    size_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v == (size_t)-1) {
        uint64_t kb = 0;
        v = wh_os_meminfo("Hugepagesize", &kb) == 0 ? (size_t)kb : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

unsigned wh_os_cpu_count(uint64_t *affinity_mask)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (affinity_mask) {
        cpu_set_t set;
        uint64_t mask = 0;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            for (int i = 0; i < 64; i++)
                if (CPU_ISSET(i, &set)) mask |= (uint64_t)1 << i;
        } else {
            mask = n >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1);
        }
        *affinity_mask = mask;
    }
    return n > 0 ? (unsigned)n : 1;
}

/* Names fresh anonymous mappings so that /proc/self/maps shows whose they
 * are, and so that the kernel never merges one of ours with a foreign
 * unnamed mapping (VirtualQuery can then tell them apart).  A new mapping
 * loses the name of the one it replaces, so every call that maps names its
 * result.  Kernels without CONFIG_ANON_VMA_NAME answer EINVAL once and are
 * not asked again. */
static _Atomic int os_naming = 1;   /* 1 try, 0 unsupported */

static void os_name_new(void *addr, size_t size, const char *name)
{
    if (!atomic_load_explicit(&os_naming, memory_order_relaxed)) return;
    if (wh_os_name(addr, size, name) == EINVAL)
        atomic_store_explicit(&os_naming, 0, memory_order_relaxed);
}

int wh_os_reserve(void *hint, size_t size, void **out)
{
    int saved = errno;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (hint) flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(hint, size, PROT_NONE, flags, -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    if (!err && hint && p != hint) {
        /* A kernel older than 4.17 took MAP_FIXED_NOREPLACE as a hint. */
        munmap(p, size);
        err = EEXIST;
    }
    errno = saved;
    if (err) return err;
    os_name_new(p, size, WH_OS_NAME);
    *out = p;
    return 0;
}

int wh_os_reserve_aligned(size_t size, size_t align, void **out)
{
    size_t page = wh_os_page_size();
    if (align <= page) return wh_os_reserve(NULL, size, out);
    if (size + align < size) return ENOMEM;
    /* Over-reserve, then trim both ends to the aligned window. */
    void *raw;
    int e = wh_os_reserve(NULL, size + align - page, &raw);
    if (e) return e;
    uintptr_t start = (uintptr_t)raw, aligned = wh_align_up(start, align);
    uintptr_t end = start + size + align - page;
    int saved = errno;
    if (aligned > start) munmap(raw, aligned - start);
    if (end > aligned + size) munmap((void *)(aligned + size), end - (aligned + size));
    errno = saved;
    *out = (void *)aligned;
    return 0;
}

int wh_os_map_metadata(size_t size, void **out)
{
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    errno = saved;
    if (err) return err;
    os_name_new(p, size, WH_OS_NAME_METADATA);
    *out = p;
    return 0;
}

int wh_os_map_huge(void *hint, size_t size, int prot, void **out)
{
    size_t huge = wh_os_huge_page_size();
    if (huge == 0) return ENOTSUP;
    int shift = __builtin_ctzl(huge);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT);
    if (hint) flags |= MAP_FIXED_NOREPLACE;
    int saved = errno;
    void *p = mmap(hint, size, prot, flags, -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    if (!err && hint && p != hint) {
        munmap(p, size);
        err = EEXIST;
    }
    errno = saved;
    if (err) return err;
    *out = p;
    return 0;
}

int wh_os_commit(void *addr, size_t size, int prot)
{
    /* A fresh private writable mapping is charged to the commit limit (the
     * kernel charges nothing for mprotect on a MAP_NORESERVE range), and its
     * pages read as zero. */
    int saved = errno;
    void *p = mmap(addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    int err = p == MAP_FAILED ? (errno ? errno : ENOMEM) : 0;
    errno = saved;
    if (!err) os_name_new(addr, size, WH_OS_NAME);
    return err;
}

int wh_os_decommit(void *addr, size_t size)
{
    int saved = errno;
    void *p = mmap(addr, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    int err = p == MAP_FAILED ? (errno ? errno : ENOMEM) : 0;
    errno = saved;
    if (!err) os_name_new(addr, size, WH_OS_NAME);
    return err;
}

int wh_os_protect(void *addr, size_t size, int prot)
{
    WH_OS_CALL(mprotect(addr, size, prot) != 0);
}

int wh_os_reset(void *addr, size_t size)
{
    int saved = errno;
    int r = madvise(addr, size, MADV_FREE);
    int err = r ? errno : 0;
    if (err == EINVAL) {   /* kernel without MADV_FREE, or a shared mapping */
        r = madvise(addr, size, MADV_DONTNEED);
        err = r ? errno : 0;
    }
    errno = saved;
    return err;
}

int wh_os_purge(void *addr, size_t size)
{
    WH_OS_CALL(madvise(addr, size, MADV_DONTNEED) != 0);
}

int wh_os_release(void *addr, size_t size)
{
    WH_OS_CALL(munmap(addr, size) != 0);
}

int wh_os_lock(void *addr, size_t size)
{
    WH_OS_CALL(mlock(addr, size) != 0);
}

int wh_os_unlock(void *addr, size_t size)
{
    WH_OS_CALL(munlock(addr, size) != 0);
}

int wh_os_name(void *addr, size_t size, const char *name)
{
    WH_OS_CALL(prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr,
                     (unsigned long)size, (unsigned long)name) != 0);
}

int wh_os_residency(void *addr, size_t npages, uint8_t *out)
{
    size_t page = wh_os_page_size();
    int saved = errno;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* No pagemap: mincore sees resident pages only, so a swapped-out
         * page reads as absent (the caller then errs on the side of loss). */
        int err = mincore(addr, npages * page, out) != 0 ? errno : 0;
        for (size_t i = 0; !err && i < npages; i++) out[i] &= WH_OS_PAGE_PRESENT;
        errno = saved;
        return err;
    }
    uint64_t entries[512];
    uintptr_t first = (uintptr_t)addr / page;
    int err = 0;
    for (size_t done = 0; done < npages && !err; ) {
        size_t n = npages - done < 512 ? npages - done : 512;
        ssize_t r = pread(fd, entries, n * sizeof entries[0],
                          (off_t)((first + done) * sizeof entries[0]));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || (size_t)r % sizeof entries[0]) {
            err = r < 0 ? errno : EIO;
            break;
        }
        n = (size_t)r / sizeof entries[0];
        for (size_t i = 0; i < n; i++)
            out[done + i] = (uint8_t)(((entries[i] & PAGEMAP_PRESENT) ? WH_OS_PAGE_PRESENT : 0) |
                                      ((entries[i] & PAGEMAP_SWAPPED) ? WH_OS_PAGE_SWAPPED : 0));
        done += n;
    }
    close(fd);
    errno = saved;
    return err;
}

int wh_os_rewrite_forced(void *addr, size_t npages)
{
    /* /proc/self/mem writes with FOLL_FORCE, as a debugger does: the write
     * reaches pages the protection forbids, dirties them, and never raises
     * a signal.  Reading the byte and writing it back is only safe because
     * nobody can write these pages meanwhile (caller's contract). */
    size_t page = wh_os_page_size();
    int saved = errno;
    errno = 0;
    int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    for (size_t i = 0; !err && i < npages; i++) {
        off_t off = (off_t)((uintptr_t)addr + i * page);
        unsigned char byte;
        if (pread(fd, &byte, 1, off) != 1 || pwrite(fd, &byte, 1, off) != 1)
            err = errno ? errno : EIO;
    }
    if (fd >= 0) close(fd);
    errno = saved;
    return err;
}

int wh_os_memory_status(wh_os_memory *out)
{
    char buf[8192];
    int e = wh_os_read_file("/proc/meminfo", buf, sizeof buf, NULL);
    if (e) return e;
    uint64_t total = 0, avail = 0, limit = 0, committed = 0;
    for (const char *line = buf; *line; ) {
        const char *colon = strchr(line, ':');
        if (!colon) break;
        size_t klen = (size_t)(colon - line);
        uint64_t v = parse_u64(colon + 1, NULL) * 1024;
        if (klen == 8 && !strncmp(line, "MemTotal", 8)) total = v;
        else if (klen == 12 && !strncmp(line, "MemAvailable", 12)) avail = v;
        else if (klen == 11 && !strncmp(line, "CommitLimit", 11)) limit = v;
        else if (klen == 12 && !strncmp(line, "Committed_AS", 12)) committed = v;
        const char *nl = strchr(colon, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    /* Under heuristic overcommit (mode 0 or 1) the kernel does not enforce
     * CommitLimit; physical memory plus swap is then the honest limit, and
     * CommitLimit (RAM * ratio + swap) is what mode 2 enforces. */
    char mode[8] = "0";
    wh_os_read_file("/proc/sys/vm/overcommit_memory", mode, sizeof mode, NULL);
    if (mode[0] != '2') {
        uint64_t swap = 0;
        wh_os_meminfo("SwapTotal", &swap);
        if (total + swap > limit) limit = total + swap;
    }
    out->total_phys = total;
    out->avail_phys = avail;
    out->commit_limit = limit;
    out->committed = committed;
    struct rlimit rl;
    uint64_t space = ((uint64_t)1 << WH_ADDRESS_BITS) - WH_MIN_APP_ADDRESS;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < space)
        space = rl.rlim_cur;
    out->address_space_limit = space;
    return 0;
}

void wh_os_write_stderr(const char *s, size_t len)
{
    int saved = errno;
    while (len > 0) {
        ssize_t w = write(2, s, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        s += w;
        len -= (size_t)w;
    }
    errno = saved;
}

int wh_os_prot_from_win32(uint32_t protect)
{
    switch (protect & 0xFFu) {
    case WHEAP_PAGE_NOACCESS:          return PROT_NONE;
    case WHEAP_PAGE_READONLY:          return PROT_READ;
    case WHEAP_PAGE_READWRITE:         return PROT_READ | PROT_WRITE;
    case WHEAP_PAGE_WRITECOPY:         return PROT_READ | PROT_WRITE;
    case WHEAP_PAGE_EXECUTE:           return PROT_EXEC;
    case WHEAP_PAGE_EXECUTE_READ:      return PROT_READ | PROT_EXEC;
    case WHEAP_PAGE_EXECUTE_READWRITE: return PROT_READ | PROT_WRITE | PROT_EXEC;
    case WHEAP_PAGE_EXECUTE_WRITECOPY: return PROT_READ | PROT_WRITE | PROT_EXEC;
    default:                           return PROT_NONE;
    }
}

/* ------------------------------------------------------------------------
 * /proc/self/maps
 * ---------------------------------------------------------------------- */

static uint64_t parse_hex(const char **sp)
{
    const char *s = *sp;
    uint64_t v = 0;
    for (;; s++) {
        char c = *s;
        if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
        else break;
    }
    *sp = s;
    return v;
}

/* "start-end perms offset major:minor inode   path" */
static bool parse_maps_line(const char *s, wh_os_mapping *m)
{
    m->start = (uintptr_t)parse_hex(&s);
    if (*s++ != '-') return false;
    m->end = (uintptr_t)parse_hex(&s);
    if (*s++ != ' ') return false;
    m->prot = (s[0] == 'r' ? PROT_READ : 0) | (s[1] == 'w' ? PROT_WRITE : 0) |
              (s[2] == 'x' ? PROT_EXEC : 0);
    m->shared = s[3] == 's';
    s += 4;
    if (*s++ != ' ') return false;
    m->offset = parse_hex(&s);
    s++;
    uint32_t major = (uint32_t)parse_hex(&s);
    s++;
    uint32_t minor = (uint32_t)parse_hex(&s);
    m->dev = major << 20 | minor;
    m->inode = parse_u64(s, &s);
    while (*s == ' ') s++;
    size_t n = 0;
    while (*s && *s != '\n' && n < sizeof m->path - 1) m->path[n++] = *s++;
    m->path[n] = '\0';
    return true;
}

int wh_os_maps_foreach(int (*fn)(const wh_os_mapping *m, void *ctx), void *ctx)
{
    int saved = errno;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errno = saved;
        return e;
    }
    char buf[8192];
    size_t have = 0;
    int result = 0;
    bool eof = false;
    while (!eof || have) {
        if (!eof && have < sizeof buf - 1) {
            ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) eof = true;
            else have += (size_t)r;
        }
        buf[have] = '\0';
        char *nl = memchr(buf, '\n', have);
        if (!nl && !eof && have < sizeof buf - 1) continue;   /* need more */
        size_t line_len = nl ? (size_t)(nl - buf) + 1 : have;
        if (line_len == 0) break;
        wh_os_mapping m;
        if (parse_maps_line(buf, &m) && (result = fn(&m, ctx)) != 0) break;
        memmove(buf, buf + line_len, have - line_len);
        have -= line_len;
    }
    close(fd);
    errno = saved;
    return 0;
}
