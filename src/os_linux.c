/*
 * OS primitives for Linux: the only file that makes memory system calls.
 * Each function returns 0 or an errno value, never sets the last error and
 * never allocates.  errno itself is left as the caller had it.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

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

int wh_os_start_daemon(void *(*fn)(void *))
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the new thread inherits it */
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
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

/* mmap of anonymous memory anywhere (hint NULL) or exactly at hint, never
 * over an existing mapping: EEXIST then.  errno kept. */
static int map_at(void *hint, size_t size, int prot, int flags, void **out)
{
    int saved = errno;
    if (hint) flags |= MAP_FIXED_NOREPLACE;
    void *p = mmap(hint, size, prot, flags, -1, 0);
    int err = p == MAP_FAILED ? errno : 0;
    if (!err && hint && p != hint) {
        /* A kernel older than 4.17 took MAP_FIXED_NOREPLACE as a hint. */
        munmap(p, size);
        err = EEXIST;
    }
    errno = saved;
    if (!err) *out = p;
    return err;
}

int wh_os_reserve(void *hint, size_t size, void **out)
{
    void *p;
    int err = map_at(hint, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, &p);
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
    return map_at(hint, size, prot,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT), out);
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

int wh_os_advise_huge(void *addr, size_t size)
{
#ifdef MADV_HUGEPAGE
    WH_OS_CALL(madvise(addr, size, MADV_HUGEPAGE) != 0);
#else
    (void)addr;
    (void)size;
    return ENOTSUP;
#endif
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

/* ------------------------------------------------------------------------
 * File mappings (mapping.c): descriptors, the named-object namespace, and
 * file views.  The namespace is one directory per user on the tmpfs behind
 * shm_open, /dev/shm/wheap-<uid>, mode 0700: another user can neither list
 * nor open what is in it.
 * ---------------------------------------------------------------------- */

int wh_os_memfd(const char *name, int *out)
{
    int saved = errno;
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    *out = fd;
    return 0;
}

int wh_os_fd_dup(int fd, int *out)
{
    int saved = errno;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = d < 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    *out = d;
    return 0;
}

void wh_os_fd_close(int fd)
{
    int saved = errno;
    if (fd >= 0) close(fd);
    errno = saved;
}

int wh_os_fd_info(int fd, wh_os_file_info *out)
{
    int saved = errno;
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    int err = fl < 0 || fstat(fd, &st) != 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    out->size = (uint64_t)st.st_size;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->uid = (uint32_t)st.st_uid;
    out->nlink = (uint32_t)st.st_nlink;
    out->regular = S_ISREG(st.st_mode);
    out->readable = (fl & O_ACCMODE) != O_WRONLY && !(fl & O_PATH);
    out->writable = (fl & O_ACCMODE) != O_RDONLY && !(fl & O_PATH);
    return 0;
}

int wh_os_fd_resize(int fd, uint64_t size)
{
    if (size > (uint64_t)INT64_MAX) return EFBIG;
    int saved = errno, err = 0;
    while (ftruncate(fd, (off_t)size) != 0 && (err = errno) == EINTR) err = 0;
    errno = saved;
    return err;
}

int wh_os_fd_path(int fd, char *buf, size_t cap)
{
    char link[32] = "/proc/self/fd/";
    size_t n = strlen(link);
    char digits[12];
    size_t d = 0;
    unsigned v = (unsigned)fd;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (d) link[n++] = digits[--d];
    link[n] = '\0';
    int saved = errno;
    ssize_t r = readlink(link, buf, cap - 1);
    int err = r < 0 ? errno : (size_t)r >= cap - 1 ? ENAMETOOLONG : 0;
    errno = saved;
    if (err) return err;
    buf[r] = '\0';
    return buf[0] == '/' ? 0 : ENOENT;   /* "anon_inode:..." or a deleted file */
}

int wh_os_fd_pread(int fd, void *buf, size_t len, uint64_t offset)
{
    int saved = errno, err = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err = r < 0 ? errno : EIO;
            break;
        }
        done += (size_t)r;
    }
    errno = saved;
    return err;
}

int wh_os_fd_pwrite(int fd, const void *buf, size_t len, uint64_t offset)
{
    int saved = errno, err = 0;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(offset + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err = r < 0 ? errno : EIO;
            break;
        }
        done += (size_t)r;
    }
    errno = saved;
    return err;
}

int wh_os_open_file(const char *path, bool writable, int *out)
{
    int saved = errno;
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
    int err = fd < 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    *out = fd;
    return 0;
}

int wh_os_fd_lock(int fd, int how)
{
    int op = how == WH_OS_LOCK_SHARED ? LOCK_SH
           : how == WH_OS_LOCK_EXCLUSIVE_NOWAIT ? LOCK_EX | LOCK_NB : LOCK_UN;
    int saved = errno, err = 0;
    while (flock(fd, op) != 0 && (err = errno) == EINTR) err = 0;
    errno = saved;
    return err;
}

/* "/dev/shm/wheap-<uid>" into buf (at least 40 bytes). */
static void ns_dir_path(char *buf, unsigned uid)
{
    static const char prefix[] = "/dev/shm/wheap-";
    memcpy(buf, prefix, sizeof prefix - 1);
    size_t n = sizeof prefix - 1;
    char digits[12];
    size_t d = 0;
    do { digits[d++] = (char)('0' + uid % 10); uid /= 10; } while (uid);
    while (d) buf[n++] = digits[--d];
    buf[n] = '\0';
}

int wh_os_ns_dir(int *out)
{
    char path[48];
    unsigned uid = (unsigned)geteuid();
    ns_dir_path(path, uid);
    int saved = errno, err = 0;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) err = errno;
    int fd = -1;
    if (!err && (fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        err = errno;
    if (!err) {
        /* Someone else's directory under our name (the parent is world
         * writable) is refused, never used. */
        struct stat st;
        if (fstat(fd, &st) != 0) err = errno;
        else if (!S_ISDIR(st.st_mode) || st.st_uid != uid) err = EACCES;
        else if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) != 0) err = errno;
    }
    if (err && fd >= 0) close(fd);
    errno = saved;
    if (err) return err == ENOENT ? ENOTSUP : err;   /* no /dev/shm */
    *out = fd;
    return 0;
}

int wh_os_ns_open(int dirfd, const char *name, int *out)
{
    int saved = errno;
    int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    int err = fd < 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    *out = fd;
    return 0;
}

int wh_os_ns_new(int dirfd, int *out)
{
    int saved = errno, err = 0;
    int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) err = errno;
    else if (fchmod(fd, 0600) != 0) err = errno;   /* whatever the umask */
    if (err && fd >= 0) close(fd);
    errno = saved;
    if (err) return err;
    *out = fd;
    return 0;
}

int wh_os_ns_publish(int dirfd, int fd, const char *name)
{
    char link[32] = "/proc/self/fd/";
    size_t n = strlen(link);
    char digits[12];
    size_t d = 0;
    unsigned v = (unsigned)fd;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (d) link[n++] = digits[--d];
    link[n] = '\0';
    int saved = errno, err = 0;
    if (linkat(AT_FDCWD, link, dirfd, name, AT_SYMLINK_FOLLOW) != 0) {
        err = errno;
        /* Without /proc, AT_EMPTY_PATH (which needs CAP_DAC_READ_SEARCH). */
        if (err == ENOENT && linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0) err = 0;
        else if (err == ENOENT) err = errno == EEXIST ? EEXIST : ENOTSUP;
    }
    errno = saved;
    return err;
}

int wh_os_ns_unlink(int dirfd, const char *name, int fd)
{
    int saved = errno, err = 0;
    struct stat mine, named;
    if (fstat(fd, &mine) != 0 || fstatat(dirfd, name, &named, AT_SYMLINK_NOFOLLOW) != 0)
        err = errno;
    else if (mine.st_dev != named.st_dev || mine.st_ino != named.st_ino)
        err = ENOENT;   /* the name now belongs to a newer object */
    else if (unlinkat(dirfd, name, 0) != 0)
        err = errno;
    errno = saved;
    return err;
}

int wh_os_map_view(void *addr, size_t size, bool shared, int fd, uint64_t offset)
{
    if (offset > (uint64_t)INT64_MAX) return EOVERFLOW;
    WH_OS_CALL(mmap(addr, size, PROT_NONE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd,
                    (off_t)offset) == MAP_FAILED);
}

int wh_os_map_shared(int fd, uint64_t offset, size_t size, void **out)
{
    int saved = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
    int err = p == MAP_FAILED ? errno : 0;
    errno = saved;
    if (err) return err;
    *out = p;
    return 0;
}

int wh_os_sync(void *addr, size_t size)
{
    WH_OS_CALL(msync(addr, size, MS_SYNC) != 0);
}

unsigned long wh_os_process_id(void)
{
    return (unsigned long)getpid();
}

int wh_os_ns_remove(int dirfd, const char *name)
{
    WH_OS_CALL(unlinkat(dirfd, name, 0) != 0);
}

int wh_os_dir_foreach(int dirfd, int (*fn)(const char *name, void *ctx), void *ctx)
{
    /* getdents64 through a stack buffer: readdir would allocate. */
    struct dirent64_raw {
        uint64_t ino;
        int64_t  off;
        unsigned short reclen;
        unsigned char type;
        char name[];
    };
    char buf[4096] __attribute__((aligned(8)));
    int saved = errno, err = 0;
    if (lseek(dirfd, 0, SEEK_SET) != 0) err = errno;
    while (!err) {
        long n = syscall(SYS_getdents64, dirfd, buf, sizeof buf);
        if (n < 0) err = errno;
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            const struct dirent64_raw *d = (const struct dirent64_raw *)(buf + off);
            off += d->reclen;
            if (fn(d->name, ctx) != 0) {
                errno = saved;
                return 0;
            }
        }
    }
    errno = saved;
    return err;
}

/* ------------------------------------------------------------------------
 * Write watch (write_watch.c): userfaultfd asynchronous write-protect
 * (Linux 6.7) and the PAGEMAP_SCAN ioctl of /proc/self/pagemap.  Every page
 * of a registered range starts write-protected (populated or not: the
 * kernel keeps a marker in the empty page-table entry); the first write,
 * by the program or by the kernel (read(2) into the buffer), is resolved by
 * the kernel itself, without a signal, by unprotecting the page.
 * PAGEMAP_SCAN lists the unprotected ("written") pages and can protect
 * them again in the same pass.  Constants are defined here for headers
 * older than the kernel.
 * ---------------------------------------------------------------------- */

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* The PAGEMAP_SCAN interface (linux/fs.h, Linux 6.7), under our own names
 * so that newer headers cannot clash. */
struct wh_page_region {
    uint64_t start, end, categories;
};
struct wh_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define WH_PAGEMAP_SCAN        _IOWR('f', 16, struct wh_pm_scan_arg)
#define WH_PAGE_IS_WPALLOWED   (1 << 0)
#define WH_PAGE_IS_WRITTEN     (1 << 1)
#define WH_PAGE_IS_PFNZERO     (1 << 5)
#define WH_PM_SCAN_WP_MATCHING (1 << 0)

int wh_os_uffd_open(int *out)
{
    int saved = errno;
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL)   /* before 5.11: no user-mode-only flag */
        fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    int err = fd < 0 ? errno : 0;
    if (!err) {
        struct uffdio_api api = {
            .api = UFFD_API,
            .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
        };
        /* Kernels before 6.7 refuse the asynchronous mode with EINVAL. */
        if (ioctl((int)fd, UFFDIO_API, &api) != 0 ||
            !(api.ioctls & ((uint64_t)1 << _UFFDIO_REGISTER))) {
            err = ENOTSUP;
            close((int)fd);
        }
    }
    errno = saved;
    if (err) return err == ENOSYS || err == EPERM || err == EINVAL ? ENOTSUP : err;
    *out = (int)fd;
    return 0;
}

int wh_os_uffd_watch(int uffd, void *addr, size_t size)
{
    /* No transparent huge pages: the first write would allocate (and so
     * mark written) 512 pages at once. */
    int saved = errno, err = 0;
    if (madvise(addr, size, MADV_NOHUGEPAGE) != 0 && errno != EINVAL) err = errno;
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)addr, .len = size },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    if (!err && ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) err = errno;
    /* Unpopulated pages count as written until protected: this installs
     * a protected marker in every page-table entry of the range. */
    while (!err) {
        struct uffdio_writeprotect wp = {
            .range = { .start = (uintptr_t)addr, .len = size },
            .mode = UFFDIO_WRITEPROTECT_MODE_WP,
        };
        if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0) break;
        if (errno != EAGAIN && errno != EINTR) err = errno;   /* EAGAIN: mm changing */
    }
    errno = saved;
    return err;
}

int wh_os_pagemap_open(int *out)
{
    int saved = errno;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    if (!err) {
        /* Probe the ioctl on an empty range: ENOTTY before Linux 6.7. */
        struct wh_pm_scan_arg arg = { .size = sizeof arg, .return_mask = WH_PAGE_IS_WRITTEN };
        arg.start = arg.end = wh_align_down((uintptr_t)&arg, wh_os_page_size());
        if (ioctl(fd, WH_PAGEMAP_SCAN, &arg) < 0) {
            err = errno == ENOTTY || errno == EINVAL ? ENOTSUP : errno;
            close(fd);
        }
    }
    errno = saved;
    if (err) return err;
    *out = fd;
    return 0;
}

int wh_os_pagemap_written(int fd, uintptr_t start, uintptr_t end, bool rearm,
                          wh_os_page_run *runs, size_t cap, size_t *n, uintptr_t *walk_end)
{
    struct wh_page_region vec[64];
    if (cap > 64) cap = 64;
    struct wh_pm_scan_arg arg = {
        .size = sizeof arg,
        .flags = rearm ? WH_PM_SCAN_WP_MATCHING : 0,
        .start = start,
        .end = end,
        .vec = (uintptr_t)vec,
        .vec_len = cap,
        /* Written, tracked, and not the shared zero page that a read of
         * a never-written page maps. */
        .category_inverted = WH_PAGE_IS_PFNZERO,
        .category_mask = WH_PAGE_IS_WRITTEN | WH_PAGE_IS_WPALLOWED | WH_PAGE_IS_PFNZERO,
        .return_mask = WH_PAGE_IS_WRITTEN,
    };
    int saved = errno;
    long got;
    while ((got = ioctl(fd, WH_PAGEMAP_SCAN, &arg)) < 0 && errno == EINTR) {}
    int err = got < 0 ? errno : 0;
    errno = saved;
    if (err) return err;
    for (long i = 0; i < got; i++) {
        runs[i].start = (uintptr_t)vec[i].start;
        runs[i].end = (uintptr_t)vec[i].end;
    }
    *n = (size_t)got;
    *walk_end = (uintptr_t)arg.walk_end;
    return 0;
}
