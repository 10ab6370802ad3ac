/*
 * wheap internal header: every function shared between source files, grouped
 * by the file that defines it, lowest layer first.  A file calls only its own
 * layer and the layers above it in this header.
 *
 *   os_linux.c   OS primitives: the only memory system calls.  Return 0 or an
 *                errno value.
 *   errors.c     thread-local last error, error names, version.
 *   options.c    WHEAP_OPTIONS, parsed once without malloc.
 *   regions.c    the region table: reservation descriptors and per-page state,
 *                found from any address in O(1), readable from a signal handler.
 *   exceptions.c vectored exception handlers and wheap's SIGSEGV handler
 *                (guard pages, access violations in wheap's memory).
 *   vm.c         layer 1 (wheap_virtual_*).  Internal wh_vm_* functions return
 *                0 or a WHEAP_ERROR_* code and never touch the last error.
 *   mapping.c    layer 1, Win32 file mappings: sections and their views.
 *   write_watch.c layer 1, MEM_WRITE_WATCH and wheap_get_write_watch.
 *   heap.c       layer 2 (wheap_heap_*).
 *   malloc.c     layer 3.
 *
 * Internal symbols carry the wh_ prefix and hidden visibility.
 */
#ifndef WHEAP_INTERNAL_H
#define WHEAP_INTERNAL_H

#include "config.h"
#include "wheap.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WH_HIDDEN   __attribute__((visibility("hidden")))
#define WH_NOINLINE __attribute__((noinline))
#define WH_INLINE   static inline __attribute__((always_inline))
#define WH_COLD     __attribute__((cold, noinline))
#define wh_likely(x)   __builtin_expect(!!(x), 1)
#define wh_unlikely(x) __builtin_expect(!!(x), 0)

#define WH_GRANULARITY ((size_t)65536)           /* allocation granularity, everywhere */
#define WH_GRANULARITY_SHIFT 16
/* User addresses wheap manages lie below 2^47 (x86_64 and aarch64 4-level). */
#define WH_ADDRESS_BITS 47
#define WH_MIN_APP_ADDRESS ((uintptr_t)0x10000)
#define WH_MAX_APP_ADDRESS (((uintptr_t)1 << WH_ADDRESS_BITS) - WH_GRANULARITY - 1)

WH_INLINE uintptr_t wh_align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
WH_INLINE uintptr_t wh_align_down(uintptr_t x, uintptr_t a) { return x & ~(a - 1); }
WH_INLINE bool wh_is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* Spin-wait hint. */
WH_INLINE void wh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ========================================================================
 * os_linux.c: OS primitives.  Every function returns 0 or an errno value
 * and states its preconditions; nothing here allocates.
 * ====================================================================== */

/* The system page size (cached after the first call). */
WH_HIDDEN size_t wh_os_page_size(void);
/* Default huge page size from /proc/meminfo; 0 when the system has none. */
WH_HIDDEN size_t wh_os_huge_page_size(void);
/* Number of online processors and the mask of the ones this thread may use. */
WH_HIDDEN unsigned wh_os_cpu_count(uint64_t *affinity_mask);
/* Starts a detached helper thread running fn(NULL) with every signal
 * blocked (it takes no signal meant for the program); an errno on failure. */
WH_HIDDEN int wh_os_start_daemon(void *(*fn)(void *));

/* Reserve size bytes of inaccessible, uncharged address space.
 * size > 0, page multiple.  hint: NULL for anywhere, else page aligned and
 * the mapping lands exactly there or ENOMEM/EEXIST (never clobbers). */
WH_HIDDEN int wh_os_reserve(void *hint, size_t size, void **out);
/* Reserve size bytes aligned to align (a power of two >= page size). */
WH_HIDDEN int wh_os_reserve_aligned(size_t size, size_t align, void **out);
/* Map size bytes of read-write memory for wheap's own metadata (never in
 * the region table).  size page aligned. */
WH_HIDDEN int wh_os_map_metadata(size_t size, void **out);
/* Reserve hugetlb-backed memory, committed and read-write; addr/size are
 * multiples of the huge page size.  hint as for wh_os_reserve. */
WH_HIDDEN int wh_os_map_huge(void *hint, size_t size, int prot, void **out);
/* Map fresh, accounted, zeroed pages with prot over [addr, addr+size), which
 * lies inside a reservation of ours.  addr, size page aligned. */
WH_HIDDEN int wh_os_commit(void *addr, size_t size, int prot);
/* Drop the pages and their commit charge; the range stays reserved.
 * addr, size page aligned, inside a reservation of ours. */
WH_HIDDEN int wh_os_decommit(void *addr, size_t size);
/* mprotect.  addr, size page aligned. */
WH_HIDDEN int wh_os_protect(void *addr, size_t size, int prot);
/* MADV_FREE (contents become undefined; RSS drops only under pressure).
 * Falls back to MADV_DONTNEED where MADV_FREE is missing. */
WH_HIDDEN int wh_os_reset(void *addr, size_t size);
/* MADV_DONTNEED: pages drop out of RSS now and read back as zero. */
WH_HIDDEN int wh_os_purge(void *addr, size_t size);
/* MADV_HUGEPAGE: transparent huge pages for [addr, addr+size) where THP is
 * "madvise" or "always".  addr page aligned. */
WH_HIDDEN int wh_os_advise_huge(void *addr, size_t size);
/* munmap.  addr, size page aligned. */
WH_HIDDEN int wh_os_release(void *addr, size_t size);
/* mlock / munlock. */
WH_HIDDEN int wh_os_lock(void *addr, size_t size);
WH_HIDDEN int wh_os_unlock(void *addr, size_t size);
/* Name an anonymous range (PR_SET_VMA_ANON_NAME); EINVAL where unsupported.
 * reserve, reserve_aligned, commit and decommit name what they map "wheap",
 * map_metadata "wheap-meta", where the kernel allows it. */
WH_HIDDEN int wh_os_name(void *addr, size_t size, const char *name);
/* Residency of npages pages from addr (page aligned, mapped): out[i] gets
 * WH_OS_PAGE_PRESENT and/or WH_OS_PAGE_SWAPPED.  From /proc/self/pagemap,
 * else mincore, which cannot see swapped-out pages. */
enum { WH_OS_PAGE_PRESENT = 1, WH_OS_PAGE_SWAPPED = 2 };
WH_HIDDEN int wh_os_residency(void *addr, size_t npages, uint8_t *out);
/* Dirties the first byte of each of npages pages from addr (page aligned,
 * private anonymous, committed) whatever their protection, by writing back
 * what it holds through /proc/self/mem.  Nobody may write them meanwhile. */
WH_HIDDEN int wh_os_rewrite_forced(void *addr, size_t npages);
/* Read a whole /proc (or other) file into buf without malloc; *len gets the
 * bytes read (truncated to cap - 1, NUL terminated). */
WH_HIDDEN int wh_os_read_file(const char *path, char *buf, size_t cap, size_t *len);
/* A value in kB from /proc/meminfo ("Committed_AS"); *out in bytes. */
WH_HIDDEN int wh_os_meminfo(const char *key, uint64_t *out);
/* Physical memory and commit limits for GlobalMemoryStatusEx. */
typedef struct wh_os_memory {
    uint64_t total_phys, avail_phys;
    uint64_t commit_limit, committed;
    uint64_t address_space_limit;   /* RLIMIT_AS or the user address space */
} wh_os_memory;
WH_HIDDEN int wh_os_memory_status(wh_os_memory *out);
/* One line of /proc/self/maps. */
typedef struct wh_os_mapping {
    uintptr_t start, end;
    int       prot;            /* PROT_* */
    bool      shared;
    uint64_t  offset, inode;
    uint32_t  dev;             /* major << 20 | minor */
    char      path[256];       /* "" for anonymous, "[heap]", "/usr/lib/..." */
} wh_os_mapping;
/* Calls fn for each mapping in address order until it returns non-zero;
 * streams the file through a stack buffer (no malloc). */
WH_HIDDEN int wh_os_maps_foreach(int (*fn)(const wh_os_mapping *m, void *ctx), void *ctx);
/* Write a string to stderr with one write(2): safe anywhere, no malloc. */
WH_HIDDEN void wh_os_write_stderr(const char *s, size_t len);

/* Converts a PAGE_* protection to PROT_* bits (no modifiers). */
WH_HIDDEN int wh_os_prot_from_win32(uint32_t protect);

/* ---- os_linux.c: file mappings (mapping.c) ---------------------------- */

typedef struct wh_os_file_info {
    uint64_t size, dev, ino;
    uint32_t uid, nlink;
    bool     regular, readable, writable;   /* readable/writable: the open mode */
} wh_os_file_info;

/* A fresh, empty, close-on-exec memfd. */
WH_HIDDEN int wh_os_memfd(const char *name, int *out);
/* A close-on-exec duplicate of fd (same open file description). */
WH_HIDDEN int wh_os_fd_dup(int fd, int *out);
/* close(fd) for fd >= 0; errno kept. */
WH_HIDDEN void wh_os_fd_close(int fd);
/* fstat and the open mode of fd.  EBADF when fd is not open. */
WH_HIDDEN int wh_os_fd_info(int fd, wh_os_file_info *out);
/* ftruncate. */
WH_HIDDEN int wh_os_fd_resize(int fd, uint64_t size);
/* The absolute path fd was opened with (readlink /proc/self/fd); ENOENT
 * when it has none. */
WH_HIDDEN int wh_os_fd_path(int fd, char *buf, size_t cap);
/* pread / pwrite of exactly len bytes; EIO on a short transfer. */
WH_HIDDEN int wh_os_fd_pread(int fd, void *buf, size_t len, uint64_t offset);
WH_HIDDEN int wh_os_fd_pwrite(int fd, const void *buf, size_t len, uint64_t offset);
/* open(path) read-only or read-write, close-on-exec. */
WH_HIDDEN int wh_os_open_file(const char *path, bool writable, int *out);
/* flock on fd's open file description: shared (blocking), exclusive
 * without waiting (EWOULDBLOCK when anyone else holds a lock), or unlock. */
enum { WH_OS_LOCK_SHARED, WH_OS_LOCK_EXCLUSIVE_NOWAIT, WH_OS_LOCK_NONE };
WH_HIDDEN int wh_os_fd_lock(int fd, int how);
/* Opens (creating it 0700 if needed) this user's namespace directory for
 * named mappings; EACCES when it belongs to someone else, ENOTSUP without
 * /dev/shm. */
WH_HIDDEN int wh_os_ns_dir(int *out);
/* Opens an existing entry read-write, never through a symlink. */
WH_HIDDEN int wh_os_ns_open(int dirfd, const char *name, int *out);
/* A fresh unnamed file (O_TMPFILE, 0600) in the namespace directory. */
WH_HIDDEN int wh_os_ns_new(int dirfd, int *out);
/* Gives the unnamed file fd the name; EEXIST when the name is taken (an
 * existing entry is never replaced). */
WH_HIDDEN int wh_os_ns_publish(int dirfd, int fd, const char *name);
/* Removes name only while it still names fd's file; ENOENT otherwise. */
WH_HIDDEN int wh_os_ns_unlink(int dirfd, const char *name, int fd);
/* Maps size bytes of fd at offset over [addr, addr+size), a reservation of
 * ours, inaccessible (commit opens pages with wh_os_protect).  shared:
 * MAP_SHARED, else a private copy-on-write mapping.  addr, size, offset
 * page aligned. */
WH_HIDDEN int wh_os_map_view(void *addr, size_t size, bool shared, int fd, uint64_t offset);
/* Maps size bytes of fd at offset read-write and shared, anywhere (section
 * headers; never in the region table). */
WH_HIDDEN int wh_os_map_shared(int fd, uint64_t offset, size_t size, void **out);
/* msync(MS_SYNC).  addr page aligned. */
WH_HIDDEN int wh_os_sync(void *addr, size_t size);
/* getpid(): fork detection. */
WH_HIDDEN unsigned long wh_os_process_id(void);
/* unlinkat of an entry of the namespace directory, whatever it names. */
WH_HIDDEN int wh_os_ns_remove(int dirfd, const char *name);
/* Calls fn with each entry name of the directory dirfd (".", ".."
 * included) until it returns non-zero; no malloc (getdents64). */
WH_HIDDEN int wh_os_dir_foreach(int dirfd, int (*fn)(const char *name, void *ctx), void *ctx);

/* ---- os_linux.c: write watch (write_watch.c) -------------------------- */

/* A userfaultfd with asynchronous write-protect (UFFD_FEATURE_WP_ASYNC and
 * WP_UNPOPULATED, Linux 6.7); ENOTSUP where the kernel lacks them or
 * refuses userfaultfd. */
WH_HIDDEN int wh_os_uffd_open(int *out);
/* Registers [addr, addr+size) (anonymous, page aligned) for write
 * tracking and write-protects every page, populated or not: from now on a
 * page is written once a write reaches it.  Transparent huge pages are
 * turned off there. */
WH_HIDDEN int wh_os_uffd_watch(int uffd, void *addr, size_t size);
/* /proc/self/pagemap, checked for PAGEMAP_SCAN; ENOTSUP before Linux 6.7.
 * It describes the process that opened it: reopen after fork. */
WH_HIDDEN int wh_os_pagemap_open(int *out);
/* Written pages of tracked ranges within [start, end), in ascending runs. */
typedef struct wh_os_page_run { uintptr_t start, end; } wh_os_page_run;
/* Lists at most cap (<= 64) runs of written pages into runs (*n of them)
 * and sets *walk_end to where the scan stopped (end when it covered the
 * range).  rearm: write-protect the listed pages again, atomically with the
 * listing.  Untracked ranges are skipped.  start, end page aligned. */
WH_HIDDEN int wh_os_pagemap_written(int fd, uintptr_t start, uintptr_t end, bool rearm,
                                    wh_os_page_run *runs, size_t cap, size_t *n,
                                    uintptr_t *walk_end);

/* ========================================================================
 * errors.c
 * ====================================================================== */

/* Sets the last error and returns false/NULL-friendly 0. */
WH_HIDDEN void wh_set_error(uint32_t code);
/* Maps an errno from the OS layer to a WHEAP_ERROR_* code. */
WH_HIDDEN uint32_t wh_error_from_errno(int err);
/* Formats "wheap: <msg>" into a stack buffer and writes it to stderr.
 * Supports %s, %p, %zu, %u, %x only; never allocates. */
WH_HIDDEN void wh_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* wh_message, then abort(). */
WH_HIDDEN __attribute__((noreturn)) void wh_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ========================================================================
 * options.c: one table of keys.  Read once, before anything else uses
 * them; values never change afterwards, except the ones mallopt tunes
 * (marked "mallopt"; read them with __atomic_load_n, slow paths only).
 * ====================================================================== */

typedef struct wh_options {
    uint64_t purge_delay_ms;     /* empty pages are reset after this long */
    uint64_t decommit_delay_ms;  /* reset pages are decommitted after this long */
    bool     background_purge;   /* a thread purges even an idle process */
    bool     stats;              /* print statistics at exit */
    bool     verbose;            /* diagnostics for events, not only errors */
    bool     abort_on_misuse;    /* false: misuse is a warning, not an abort */
    bool     large_pages;        /* back big heap segments with huge pages */
    uint64_t arena_max;          /* 0: one arena per thread; N: N shared arenas (mallopt) */
    uint64_t guard_mode;         /* 0 off, 1 page heap, 2 sampled */
    uint64_t guard_sample;       /* sampled mode: one allocation in N */
    bool     live;               /* publish statistics for wheap top / wheap map */
    /* Not keys: mallopt (malloc.c) sets them. */
    uint64_t mmap_threshold;     /* malloc blocks from here get a reservation (mallopt) */
    uint64_t trim_threshold;     /* free bytes a heap keeps resident (mallopt) */
} wh_options;

/* The options, parsed on first use.  Async-signal-safe after the first call. */
WH_HIDDEN const wh_options *wh_options_get(void);
/* Parses text (the WHEAP_OPTIONS syntax) into *out; exposed for tests. */
WH_HIDDEN void wh_options_parse(const char *text, wh_options *out);
WH_HIDDEN void wh_options_defaults(wh_options *out);
/* mallopt's writer: the options, writable (store with __atomic_store_n). */
WH_HIDDEN wh_options *wh_options_tunable(void);
/* verbose=1: wh_message for a notable event, at most WH_VERBOSE_MAX lines
 * per process (one more says the rest are dropped).  Never allocates. */
#define WH_VERBOSE_MAX 1000
#define wh_verbose(...) \
    do { \
        if (wh_unlikely(wh_options_get()->verbose) && wh_verbose_slot()) wh_message(__VA_ARGS__); \
    } while (0)
WH_HIDDEN bool wh_verbose_slot(void);

/* ========================================================================
 * regions.c: the region table.
 *
 * Every reservation made through layer 1 has one descriptor.  The table maps
 * each 64 KiB granule of the address space to the descriptor of the
 * reservation that covers it (a two-level radix tree: lookups are two loads,
 * lock-free, and safe in a signal handler).  Descriptors and radix leaves
 * live in memory the table maps itself, and descriptors are never unmapped,
 * so a reader racing a release sees a stale but readable descriptor, which
 * it detects through seq.  Writers hold wh_regions_lock.
 * ====================================================================== */

/* Per-page state, one uint16_t per page of a reservation. */
enum {
    WH_PG_PROT_MASK   = 0x0007, /* index: 0 NOACCESS .. 7 EXECUTE_WRITECOPY */
    WH_PG_COMMITTED   = 0x0008,
    WH_PG_GUARD       = 0x0010,
    WH_PG_NOCACHE     = 0x0020,
    WH_PG_WRITECOMBINE= 0x0040,
    WH_PG_RESET       = 0x0080, /* MEM_RESET applied since the last write we know of */
    WH_PG_LOCKED      = 0x0100,
};

/* Region kinds (wh_region.flags). */
enum {
    WH_RG_WRITE_WATCH = 0x01,
    WH_RG_LARGE_PAGES = 0x02,
    WH_RG_HEAP        = 0x04,   /* owned by a private heap: owner is the heap */
    WH_RG_VIEW        = 0x08,   /* a file-mapping view: type MEM_MAPPED */
};

typedef struct wh_region {
    uintptr_t base;            /* 64 KiB aligned */
    size_t    size;            /* multiple of 64 KiB (huge page size for large pages) */
    uint32_t  alloc_protect;   /* the protection given at reservation */
    uint32_t  type;            /* WHEAP_MEM_PRIVATE or WHEAP_MEM_MAPPED */
    uint32_t  flags;           /* WH_RG_* */
    uint32_t  npages;          /* size / page size */
    _Atomic uint32_t seq;      /* odd while being written; bumped at release */
    void     *owner;           /* WH_RG_HEAP: the heap; WH_RG_VIEW: the view */
    _Atomic uint16_t *pages;   /* npages entries: inline_pages or a mapping */
    size_t    pages_map_size;  /* bytes of the separate mapping, 0 when inline */
    struct wh_region *next_free;
    uintptr_t hint_before;     /* vm.c's placement hint before this reservation; 0: none */
    _Atomic uint16_t inline_pages[16];   /* enough for 64 KiB of 4 KiB pages */
} wh_region;

WH_HIDDEN void wh_regions_lock(void);
WH_HIDDEN void wh_regions_unlock(void);
/* A fresh descriptor with zeroed page state (all reserved); NULL on ENOMEM.
 * Caller holds the lock. */
WH_HIDDEN wh_region *wh_region_new(uintptr_t base, size_t size);
/* Enters the descriptor for every granule of its range.  Caller holds the
 * lock; may fail with ENOMEM (radix leaf). */
WH_HIDDEN int wh_region_insert(wh_region *r);
/* Removes and recycles the descriptor.  Caller holds the lock. */
WH_HIDDEN void wh_region_remove(wh_region *r);
/* The descriptor covering addr, or NULL.  Lock-free; safe in a signal
 * handler.  Without the lock held the result may be going away: check seq. */
WH_HIDDEN wh_region *wh_region_find(uintptr_t addr);
/* The first region whose base is >= addr, or NULL (scans the radix tree;
 * used by VirtualQuery to find where a gap ends).  Caller holds the lock. */
WH_HIDDEN wh_region *wh_region_next(uintptr_t addr);
/* Number of live regions (tests and stats). */
WH_HIDDEN size_t wh_region_count(void);

/* ========================================================================
 * exceptions.c: vectored handlers (wheap_add_exception_handler) and the
 * SIGSEGV handler that raises GUARD_PAGE_VIOLATION and ACCESS_VIOLATION for
 * faults in wheap's regions and chains every other fault to the disposition
 * it found.  Async-signal-safe where marked.
 * ====================================================================== */

/* Installs wheap's SIGSEGV handler once (idempotent, thread-safe); called
 * before the first guard page or handler exists.  A program that installs
 * its own handler afterwards takes over guard pages as well. */
WH_HIDDEN void wh_exceptions_install(void);
/* Sets the hook that sees every SIGSEGV fault first (guard.c: guarded
 * malloc blocks), then installs the handler.  The hook runs in signal
 * context; true: it reported the fault, which goes on to the previous
 * disposition. */
WH_HIDDEN void wh_exceptions_set_fault_hook(bool (*hook)(uintptr_t addr, void *uc));
/* Serializes guard-page transitions: the SIGSEGV handler holds it while it
 * clears a guard and reopens the page; vm.c holds it around the system call
 * and page-state update of any range that has or gets WH_PG_GUARD pages.
 * A spin lock; never held while caller memory is touched. */
WH_HIDDEN void wh_guard_lock(void);
WH_HIDDEN void wh_guard_unlock(void);
/* vm.c calls it after a system call that may have opened pages (commit,
 * protect) and before storing the page states that say so: it lets the
 * SIGSEGV handler tell a fault that raced the change from a violation. */
WH_HIDDEN void wh_fault_epoch_advance(void);
/* Tells the handlers WHEAP_STATUS_NO_MEMORY for address (the heap layer,
 * HEAP_GENERATE_EXCEPTIONS); their answers are ignored.  Not for use in a
 * signal handler that interrupted wheap. */
WH_HIDDEN void wh_exception_raise_no_memory(void *address);

/* ========================================================================
 * vm.c: layer 1 internals for the heap layer.  Return 0 or WHEAP_ERROR_*.
 * ====================================================================== */

/* Reserve size bytes (rounded up to 64 KiB) aligned to align (a power of two,
 * at least 64 KiB).  flags: WH_RG_*; owner is recorded in the region. */
WH_HIDDEN uint32_t wh_vm_reserve(size_t size, size_t align, uint32_t flags, void *owner,
                                 void **out);
/* Commit pages covering [addr, addr+size) read-write (or protect); pages
 * already committed keep their contents.  Commit and decommit on a heap's
 * region (WH_RG_HEAP) take no regions lock: the caller must be the only one
 * changing that range (a heap serializes its own). */
WH_HIDDEN uint32_t wh_vm_commit(void *addr, size_t size, uint32_t protect);
WH_HIDDEN uint32_t wh_vm_decommit(void *addr, size_t size);
/* Drop pages from RSS now, keeping them committed (MADV_DONTNEED): the
 * heaps' cheap decommit.  Contents read back as zero. */
WH_HIDDEN uint32_t wh_vm_purge(void *addr, size_t size);
/* MEM_RESET on committed pages.  On a heap's region (WH_RG_HEAP) only the
 * madvise: layer 1 neither locks nor records it (the heap counts it). */
WH_HIDDEN uint32_t wh_vm_reset(void *addr, size_t size);
WH_HIDDEN uint32_t wh_vm_protect(void *addr, size_t size, uint32_t protect, uint32_t *old);
/* Release the whole reservation that starts at base. */
WH_HIDDEN uint32_t wh_vm_release(void *base);

/* Describes an address outside wheap's reservations from /proc/self/maps. */
WH_HIDDEN bool wh_vm_query_foreign(uintptr_t addr, wheap_memory_basic_information *info);

/* Process-wide counters of layer 1, in bytes. */
typedef struct wh_vm_counters {
    size_t reserved, committed, reset, peak_committed;
} wh_vm_counters;
WH_HIDDEN void wh_vm_counters_get(wh_vm_counters *out);

/* ---- vm.c: for file-mapping views and write watch --------------------- */

/* Reserves size bytes (a multiple of 64 KiB) at address (64 KiB aligned;
 * 0: anywhere, else exactly there or WHEAP_ERROR_INVALID_ADDRESS) as one
 * region with allocation protection protect, flags WH_RG_* and owner. */
WH_HIDDEN uint32_t wh_vm_reserve_at(uintptr_t address, size_t size, uint32_t protect,
                                    uint32_t flags, void *owner, void **out);
/* Releases the view region holding addr (any address inside it); *owner
 * gets its owner.  WHEAP_ERROR_INVALID_ADDRESS when addr is in no view. */
WH_HIDDEN uint32_t wh_vm_release_view(const void *addr, void **owner);
/* Commits pages [i0, i1) of r with protect: vm_commit_pages for a caller
 * that holds the regions lock (mapping.c propagating a SEC_RESERVE commit
 * to the other views of a section). */
WH_HIDDEN uint32_t wh_vm_commit_locked(wh_region *r, size_t i0, size_t i1, uint32_t protect);

/* ========================================================================
 * mapping.c: file mappings (wheap_*_file_mapping, views).  Views are
 * regions with WH_RG_VIEW whose owner is mapping.c's view record.  The
 * hooks below run with the regions lock held.
 * ====================================================================== */

/* After pages [i0, i1) of view r were committed: records them in the
 * section (SEC_RESERVE) and commits them in the section's other views. */
WH_HIDDEN void wh_view_committed(wh_region *r, size_t i0, size_t i1);
/* The view region r is being released: unlinks its record from its section. */
WH_HIDDEN void wh_view_released(wh_region *r);
/* Checks a protection for pages of view r against what the view allows;
 * may rewrite it (READWRITE on a copy-on-write view is WRITECOPY).  Returns
 * 0 or WHEAP_ERROR_INVALID_PARAMETER. */
WH_HIDDEN uint32_t wh_view_check_protect(const wh_region *r, uint32_t *protect);

/* ========================================================================
 * write_watch.c: MEM_WRITE_WATCH regions.  Their owner is write_watch.c's
 * record.  The hooks run with the regions lock held and return 0 or an
 * errno value.
 * ====================================================================== */

/* VirtualAlloc with MEM_WRITE_WATCH (MEM_RESERVE set, arguments checked). */
WH_HIDDEN void *wh_vm_alloc_write_watch(uintptr_t address, size_t size, uint32_t type,
                                        uint32_t protect, uint32_t *err);
/* [addr, addr+size) of write-watch region r was freshly mapped by commit
 * (which drops the kernel's tracking of that range): track it again. */
WH_HIDDEN int wh_ww_track(wh_region *r, void *addr, size_t size);
/* Pages [i0, i1) of r are about to lose their contents (decommit,
 * MEM_RESET): keeps the record of which of them were written. */
WH_HIDDEN void wh_ww_harvest(wh_region *r, size_t i0, size_t i1);
/* Write-watch region r is being released. */
WH_HIDDEN void wh_ww_released(wh_region *r);

/* ========================================================================
 * heap.c, heap_page.c, heap_purge.c, heap_walk.c, stats.c: layer 2, the
 * private heaps (wheap_heap_*), and the engine the malloc layer runs on.
 *
 * A heap owns segments: reservations aligned to WH_SEG_SIZE (32 MiB) and at
 * most that big, so that `p & ~WH_SEG_MASK` is the segment header of any
 * small or large block p.  A segment is laid out as
 *
 *   [header | heap (first segment) | page structs | live bitmap | size slots]
 *   [guard page][data: 64 KiB slices ...][end guard page]
 *
 * Metadata is committed as a prefix, data from data_start up to a commit
 * frontier that moves in chunks, so a segment is at most four kernel
 * mappings (metadata, guard + unused slot area, committed data, the rest),
 * whatever its age (PITFALLS row 9).  Guard pages are never committed: they
 * are PAGE_NOACCESS reserved pages, and cost no extra mapping.  A fixed heap
 * of 2 MiB or less uses finer slices (down to 4 KiB) so that a small heap
 * holds many size classes; the inline free path, which indexes 64 KiB
 * slices, then falls to the slow path unless its guess contains the block.
 *
 * Data slices form pages: runs of slices holding blocks of one size class
 * (small: 16 B .. 128 KiB, four classes per power of two) or one large
 * block (up to WH_HUGE_MIN).  Huge blocks get a reservation of their own
 * with a header page in front.  A page has three free lists: `free` (the
 * owner allocates from it), `local_free` (an arena's owner frees into it, so
 * that its alloc slow path runs regularly: the heartbeat that collects
 * remote frees and runs purges; a public heap frees into `free` and counts
 * calls instead) and `thread_free` (other threads push onto it with CAS);
 * the owner's slow path moves the last two into the first.  Links are stored xor a per-page key
 * derived from a per-process secret.  A live bitmap per segment (one bit
 * per 16-byte granule, set at block starts while the block is live) makes
 * double and interior frees detectable with one bit test, and lets walk and
 * validate see every block.  Exact sizes (private heaps only) live in size
 * slots, apart from the data.
 *
 * Return conventions: wh_heap_* functions return pointers (NULL on
 * failure), a WH_BLOCK_* / WH_BAD_* code, or bool, and never touch the last
 * error; the public wheap_* functions set it.
 * ====================================================================== */

#include <pthread.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
/* glibc's own flag: true until the process first creates a thread.  A
 * serialized heap needs no lock while nobody else could call it (glibc's
 * malloc skips its arena locks the same way). */
#define WH_SINGLE_THREADED() (__libc_single_threaded != 0)
#endif
#endif
#ifndef WH_SINGLE_THREADED
#define WH_SINGLE_THREADED() false
#endif

#define WH_SEG_SHIFT     25
#define WH_SEG_SIZE      ((size_t)1 << WH_SEG_SHIFT)          /* the segment window */
#define WH_SEG_MASK      (WH_SEG_SIZE - 1)
#define WH_SLICE_SHIFT   16
#define WH_SLICE_SIZE    ((size_t)1 << WH_SLICE_SHIFT)        /* 64 KiB */
#define WH_SEG_SLICES    (WH_SEG_SIZE >> WH_SLICE_SHIFT)      /* 512 */
#define WH_SEGMAP_SIZE   ((size_t)1 << (WH_ADDRESS_BITS - WH_SEG_SHIFT))
#define WH_GRANULE       ((size_t)16)                        /* alignment and bitmap unit */
#define WH_DIRECT_MAX    ((size_t)1024)                      /* inline alloc path limit */
#define WH_DIRECT_SLOTS  (WH_DIRECT_MAX / WH_GRANULE + 1)
#define WH_SMALL_MAX     ((size_t)128 << 10)                 /* biggest size class */
#define WH_BIN_SMALL_MAX 48                                  /* bins 1..48: the classes */
#define WH_BIN_LARGE     49                                  /* one-block pages */
#define WH_BINS          50
#define WH_HUGE_MIN      ((size_t)1 << 20)   /* growable heaps: own reservation from here */
/* mallopt(M_MMAP_THRESHOLD) moves the arenas' WH_HUGE_MIN within these. */
#define WH_MMAP_THRESHOLD_MIN ((size_t)64 << 10)
#define WH_MMAP_THRESHOLD_MAX ((size_t)16 << 20)
/* Without M_MMAP_THRESHOLD, the arenas' threshold follows the huge blocks
 * they free (heap_page.c) up to this. */
#define WH_DYN_THRESHOLD_MAX  ((size_t)8 << 20)
#define WH_FIXED_MAX_REQUEST ((size_t)0x7FFF8) /* fixed heaps refuse this and more */

/* What wh_heap_block_free / wh_heap_block_check say about a pointer. */
enum {
    WH_BLOCK_OK         = 0,
    WH_BAD_FOREIGN      = 1,   /* not in any heap's memory */
    WH_BAD_INTERIOR     = 2,   /* inside heap memory but not at a block start */
    WH_BAD_DOUBLE_FREE  = 3,   /* a block start, but the block is not live */
    WH_BAD_CORRUPT      = 4,   /* the metadata that would describe it is damaged */
};

/* Page kinds (wh_page.kind), one per slice entry of a segment. */
enum {
    WH_PK_META  = 0,   /* metadata, guard or outside the segment: never a block */
    WH_PK_FREE  = 1,   /* a free data slice (state in wh_page.state) */
    WH_PK_SMALL = 2,   /* head slice of a page of size-class blocks */
    WH_PK_LARGE = 3,   /* head slice of a one-block page */
    WH_PK_TAIL  = 4,   /* a later slice of a page */
};

/* Free slice states (wh_page.state), in the order purging moves them. */
enum {
    WH_SS_DIRTY  = 0,   /* freed, contents garbage, resident */
    WH_SS_RESET  = 1,   /* MEM_RESET (MADV_FREE): the kernel may take it */
    WH_SS_PURGED = 2,   /* dropped (MADV_DONTNEED) or never touched: reads zero */
    WH_SS_BUSY   = 3,   /* a purger is making a system call on it */
};

/* wh_page.flags */
enum {
    WH_PF_ZERO    = 0x01,  /* large page: the block has never been written */
    WH_PF_DAMAGED = 0x02,  /* a free list was found damaged: never allocated from */
    WH_PF_RETIRED = 0x04,  /* empty, kept as the bin's current page */
    WH_PF_CURRENT = 0x08,  /* its bin's current page: used carries one extra */
};

/* While a page sits in the full queue its used count carries this bit, so
 * that the free fast path's single `(int32_t)--used <= 0` test catches both
 * "became empty" and "was full". */
#define WH_PAGE_FULL 0x80000000u

typedef struct wh_block { uintptr_t next; } wh_block;   /* next ^ page key */
typedef struct wh_heap wh_heap;
typedef struct wh_segment wh_segment;
typedef struct wh_huge wh_huge;

/* One entry per slice of a segment; the head slice of a page describes the
 * page.  Invariants (head entries, under the owner or the heap lock):
 *   reserved = area / block_size (1 for a large page), capacity <= reserved;
 *   (used & ~WH_PAGE_FULL) - current + |free| + |local_free| == capacity,
 *     where used counts blocks out (remote frees not yet collected
 *     included) and current is 1 for the bin's current page (WH_PF_CURRENT):
 *     that extra keeps the free fast path's `--used <= 0` test quiet when an
 *     alloc/free pair empties the current page;
 *   a live bit is set exactly at the start of each block that is out and was
 *     not freed since (remote frees clear theirs early, best effort);
 *   WH_PAGE_FULL in used <=> the page is in its heap's full queue. */
typedef struct wh_page {
    /* The owner's alloc path: one cache line. */
    wh_block  *free;          /* next blocks to hand out */
    uint32_t   used;          /* blocks out, | WH_PAGE_FULL in the full queue */
    uint32_t   block_size;    /* bytes per block; a large page: its whole area */
    uintptr_t  start;         /* the first block; 16-aligned, 1 KiB aligned */
    uintptr_t  area;          /* bytes from start to the end of the page */
    uintptr_t  key;           /* links are stored as next ^ key */
    uint64_t  *live;          /* live-bitmap word of start: bit (off>>4)&63 of word off>>10 */
    uintptr_t  tid;           /* owner token: an arena's thread pointer (16-aligned), 0
                               * for an abandoned arena or a sentinel, a public
                               * heap's address | 1 (its frees take its lock) */
    wh_block  *local_free;    /* an arena owner's frees (public heaps free into free) */
    /* Everything else. */
    _Atomic(uintptr_t) thread_free;   /* other threads' frees (a stack of blocks) */
    wh_heap   *heap;
    struct wh_page *next, *prev;      /* bin, full or large queue of the heap */
    uint8_t   *slots;         /* exact-size slots of a small page (exact heaps) */
    uint64_t   div;           /* ceil(2^40 / block_size): index = off * div >> 40 */
    uint64_t   stamp;         /* free slice: ms when freed; retired page: when emptied */
    size_t     exact;         /* large page: the size asked for */
    uint32_t   capacity;      /* blocks carved into the lists so far */
    uint32_t   reserved;      /* blocks the page can hold */
    /* Page set-up clears everything above; what follows survives it (a
     * pusher may still hold the entry on heap->remote_pages). */
    uint16_t   slice;         /* this entry's slice index in the segment */
    uint16_t   nslices;       /* head: slices in the page; free: 1 */
    uint8_t    kind;          /* WH_PK_* */
    uint8_t    bin;           /* size class (WH_BIN_LARGE for one-block pages) */
    uint8_t    flags;         /* WH_PF_* */
    uint8_t    state;         /* free slice: WH_SS_* */
    _Atomic uint8_t remote_queued;   /* on heap->remote_pages (set by pushers) */
    struct wh_page *remote_next;      /* on heap->remote_pages */
} wh_page;

/* A segment header, at the base of its 32 MiB window.  Invariants:
 *   base == (uintptr_t)this, base % WH_SEG_SIZE == 0, size <= WH_SEG_SIZE;
 *   data_start <= commit_end <= data_end <= base + size - page;
 *   slice_page[i] is the head entry of the small or large page covering
 *     slice i, else &wh_page_none (i >= nslices included);
 *   bit i of used_map is clear exactly when pages[i] is a WH_PK_FREE slice
 *     not being purged; free_slices counts them. */
struct wh_segment {
    wh_page  *slice_page[WH_SEG_SLICES];   /* first: the free fast path indexes it */
    uint64_t  magic;          /* wh_heap_secret ^ base ^ WH_SEG_MAGIC */
    wh_heap  *heap;
    size_t    size;           /* bytes of this window that the reservation covers */
    void     *reservation;    /* what wh_vm_release takes (fixed heaps share one) */
    uintptr_t data_start;     /* first data byte: after metadata and the guard page */
    uintptr_t data_end;       /* the end guard page */
    uintptr_t commit_end;     /* data below is committed */
    uint8_t  *slots;          /* size slots of slice first_slice (exact heaps), or NULL */
    size_t    slots_committed;/* bytes of the slot area committed */
    size_t    meta_committed; /* bytes of metadata committed from base */
    uint64_t *live;           /* live bitmap of [base, base + size) */
    wh_page  *pages;          /* nslices entries */
    uint32_t  slice_shift;    /* 16; small fixed heaps: 12..15 (finer pages) */
    uint32_t  nslices;        /* slices the reservation covers in this window */
    uint32_t  first_slice;    /* slice of data_start */
    uint32_t  last_slice;     /* slice of the last data byte */
    uint32_t  free_slices;    /* WH_PK_FREE data slices */
    uint32_t  purgeable;      /* free slices not yet WH_SS_PURGED */
    uint32_t  index;          /* position in the heap's list (walk's region_index) */
    uint64_t  empty_since;    /* ms since every data slice became free, or 0 */
    bool      primary;        /* holds the heap: released only with it */
    uint64_t  used_map[WH_SEG_SLICES / 64];
    wh_segment *next, *prev;  /* the heap's segments */
};

/* The header page in front of a huge block.  data + committed is the end of
 * what is committed; data + committed <= base + reserved - page (guard). */
struct wh_huge {
    uint64_t  magic;          /* wh_heap_secret ^ base ^ WH_HUGE_MAGIC */
    wh_heap  *heap;
    wh_huge  *next, *prev;    /* the heap's huge blocks, live and cached */
    uintptr_t base;           /* the reservation */
    size_t    reserved;
    uintptr_t data;           /* the block */
    size_t    size;           /* the size asked for */
    size_t    committed;      /* usable size: committed bytes from data */
    uint64_t  stamp;          /* cached (not live): ms when freed */
    bool      live;
    bool      zero;           /* live block never written by us: reads zero */
};

typedef struct wh_page_queue { wh_page *first, *last; } wh_page_queue;

/* HeapLock's lock: a word taken with one CAS and given back with one
 * exchange; only waiters touch the mutex and condition variable (a sleeping
 * waiter marks the word 2, and the giver then wakes one).  glibc's mutex
 * costs some fifty instructions more per call on the serialized path. */
typedef struct wh_lock {
    _Atomic uint32_t state;   /* 0 free, 1 held, 2 held and somebody may sleep */
    pthread_mutex_t  m;
    pthread_cond_t   c;
} wh_lock;

/* wh_heap.flags */
enum {
    WH_HF_ARENA      = 0x01,  /* one owner thread, lock-free remote frees */
    WH_HF_EXACT      = 0x02,  /* keep exact sizes (private heaps) */
    WH_HF_FIXED      = 0x04,  /* maximum_size != 0: one reservation, no growth */
    WH_HF_TERMINATE  = 0x08,  /* damage found aborts */
    WH_HF_PROCESS    = 0x10,  /* the process heap: cannot be destroyed */
    WH_HF_ABANDONED  = 0x20,  /* an arena without a thread */
    WH_HF_SHARED     = 0x40,  /* an arena shared by threads under its lock (arena_max) */
};

/* A heap lives in the metadata of its first segment.  Invariants:
 *   direct[i] is bins[bin of i*16].first, or &wh_page_empty when that queue
 *     is empty (so the inline alloc path needs no NULL test);
 *   every page in bins[b] has bin b and no WH_PAGE_FULL; every page in full
 *     has it; large pages sit in bins[WH_BIN_LARGE] with WH_PAGE_FULL;
 *   tid != 0 only for an arena bound to a thread, and then every page's tid
 *     equals it. */
struct wh_heap {
    wh_page  *direct[WH_DIRECT_SLOTS];   /* first: the inline alloc path */
    uint64_t  guard_countdown; /* arenas: mallocs until the next guarded one
                                * (guard.c); 0 is due; set when bound */
    uint64_t  magic;          /* wh_heap_secret ^ address ^ WH_HEAP_MAGIC */
    uintptr_t tid;            /* the pages' owner token (see wh_page.tid) */
    uint32_t  countdown;      /* public heaps: calls until the next heartbeat */
    uint32_t  flags;          /* WH_HF_* */
    uint32_t  options;        /* the public create options (HEAP_*) */
    wh_page_queue bins[WH_BINS];
    wh_page      *current[WH_BIN_SMALL_MAX + 1];   /* == bins[b].first, flagged CURRENT */
    wh_page_queue full;
    _Atomic(wh_page *) remote_pages;     /* pages that got remote frees */
    wh_segment *segments, *segments_last;
    wh_segment *seg_hint;     /* where the last page came from */
    uint32_t  nsegments;
    uint32_t  segments_made;  /* growth: the next segment's size doubles */
    wh_huge  *huge;
    size_t    maximum;        /* fixed heaps: the reservation size */
    void     *fixed_base;     /* fixed heaps: the one reservation */
    uint32_t  fixed_windows;  /* fixed heaps: windows set up so far */
    uint32_t  slice_shift;    /* of its segments: WH_SLICE_SHIFT, less for a small fixed heap */
    /* Counters, under seg_lock (bytes). */
    size_t    reserved, committed, reset, peak_committed;
    uint64_t  purge_due;      /* ms when a purge step is due; UINT64_MAX: none */
    uint32_t  heartbeat;      /* slow-path calls, for rate limits */
    /* HeapLock: recursion on top of a plain lock. */
    wh_lock   lock;
    _Atomic(uintptr_t) lock_owner;
    uint32_t  lock_depth;     /* wheap_heap_lock calls not yet undone */
    /* Segment list, slices, huge list and counters: the owner's slow paths,
     * purgers from other threads, stats and walk. */
    pthread_mutex_t seg_lock;
    wh_heap  *list_next, *list_prev;     /* all heaps, under the heaps lock */
    wh_heap  *abandoned_next;
};

/* A heap sits at this offset in its first segment: a handle is checked by
 * its offset and the segment map before anything is read through it. */
#define WH_HEAP_OFFSET ((sizeof(wh_segment) + 63) & ~(size_t)63)
#define WH_HEAP_MAGIC  ((uint64_t)0x5748454150484450)   /* "WHEAPHDP" */

/* Sentinels: wh_page_empty has no free block (the alloc path falls to the
 * slow path); wh_page_none has tid 0 and area 0 (the free path falls to the
 * slow path, which finds no block). */
extern WH_HIDDEN wh_page wh_page_empty;
extern WH_HIDDEN wh_page wh_page_none;
/* One byte per 32 MiB window of the address space: non-zero when a segment
 * header sits at its base, WH_SEGMAP_HEAP when that segment also holds its
 * heap.  In .bss: untouched parts cost nothing. */
#define WH_SEGMAP_SEGMENT 1
#define WH_SEGMAP_HEAP    2
extern WH_HIDDEN uint8_t wh_segmap[WH_SEGMAP_SIZE];
extern WH_HIDDEN uintptr_t wh_heap_secret;

/* Is h a live heap?  Its offset in a window, then the segment map (which
 * marks a heap's first segment apart) say so without reading through h;
 * the heap's magic is checked by validation, not here. */
WH_INLINE bool wh_heap_handle_ok(const wh_heap *h)
{
    uintptr_t a = (uintptr_t)h;
    const uintptr_t high = ~(((uintptr_t)1 << WH_ADDRESS_BITS) - 1);
    if (wh_unlikely((a & (high | WH_SEG_MASK)) != WH_HEAP_OFFSET)) return false;
    return wh_likely(wh_segmap[a >> WH_SEG_SHIFT] == WH_SEGMAP_HEAP);
}

/* Does a lie below the user address limit and on a 16-byte boundary?
 * One test: the free paths' first filter. */
#define WH_FREE_FILTER (~(((uintptr_t)1 << WH_ADDRESS_BITS) - 1) | (WH_GRANULE - 1))

/* This thread's identity: the thread pointer, one instruction. */
WH_INLINE uintptr_t wh_thread_id(void)
{
    return (uintptr_t)__builtin_thread_pointer();
}

/* The lock's slow halves (heap.c). */
WH_HIDDEN WH_NOINLINE void wh_lock_wait(wh_lock *l);
WH_HIDDEN WH_NOINLINE void wh_lock_wake(wh_lock *l);
WH_HIDDEN void wh_lock_init(wh_lock *l);

WH_INLINE void wh_lock_take(wh_lock *l)
{
    uint32_t free_state = 0;
    if (wh_unlikely(!atomic_compare_exchange_strong_explicit(&l->state, &free_state, 1,
                                                             memory_order_acquire,
                                                             memory_order_relaxed)))
        wh_lock_wait(l);
}

WH_INLINE void wh_lock_give(wh_lock *l)
{
    if (wh_unlikely(atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2))
        wh_lock_wake(l);
}

/* Serialization of public heaps: recursive on top of the lock (the owner
 * check makes nested calls free).  Returns whether the lock was taken, for
 * wh_heap_leave. */
WH_INLINE bool wh_heap_enter(wh_heap *h, uint32_t flags)
{
    if (((flags | h->options) & WHEAP_HEAP_NO_SERIALIZE) || WH_SINGLE_THREADED()) return false;
    uintptr_t me = wh_thread_id();
    if (atomic_load_explicit(&h->lock_owner, memory_order_relaxed) == me) return false;
    wh_lock_take(&h->lock);
    atomic_store_explicit(&h->lock_owner, me, memory_order_relaxed);
    return true;
}

WH_INLINE void wh_heap_leave(wh_heap *h, bool locked)
{
    if (!locked) return;
    atomic_store_explicit(&h->lock_owner, 0, memory_order_relaxed);
    wh_lock_give(&h->lock);
}

/* Size class of a request (bins 1..48), for size <= WH_SMALL_MAX. */
WH_INLINE unsigned wh_bin_of(size_t size)
{
    if (size <= 128) return size <= 16 ? 1 : (unsigned)((size + 15) >> 4);
    size_t s = size - 1;
    unsigned e = 63u - (unsigned)__builtin_clzl(s);        /* >= 7 */
    return 8u + (e - 7u) * 4u + (unsigned)((s >> (e - 2u)) & 3u) + 1u;
}

/* ---- the engine (heap_page.c) ---------------------------------------- */

/* Slow paths behind the inline fast paths.  alloc: any size, NULL on
 * exhaustion; free: any pointer, any thread. */
WH_HIDDEN WH_NOINLINE void *wh_heap_alloc_slow(wh_heap *h, size_t size);
WH_HIDDEN WH_NOINLINE int wh_heap_block_free_slow(void *p);
/* The owner's free found the page empty or full (used <= 0 after the
 * decrement): retire, or move it back from the full queue. */
WH_HIDDEN WH_NOINLINE void wh_heap_page_event(wh_page *pg);
/* The owner's alloc found a damaged free list in pg. */
WH_HIDDEN WH_NOINLINE void *wh_heap_alloc_damaged(wh_heap *h, wh_page *pg, size_t size);

/* Measurement builds only (bench/hardening.sh counts what the default
 * hardening costs per malloc+free pair): WH_BENCH_NO_ENCODING stores links
 * in the clear and drops the pop's bounds check; WH_BENCH_NO_LIVE_BITS also
 * drops the live bitmap from the inline paths, which leaves only
 * single-threaded alloc/free loops working.  Never set in a real build. */
#ifndef WH_BENCH_NO_ENCODING
#define WH_BENCH_NO_ENCODING 0
#endif
#ifndef WH_BENCH_NO_LIVE_BITS
#define WH_BENCH_NO_LIVE_BITS 0
#endif
#define WH_LINK_KEY(pg) (WH_BENCH_NO_ENCODING ? 0 : (pg)->key)

/* Pops a block of pg (pg->free != NULL), or NULL if the link is damaged. */
WH_INLINE void *wh_page_pop(wh_page *pg, wh_block *b)
{
    uintptr_t off = (uintptr_t)b - pg->start;
    if (!WH_BENCH_NO_ENCODING && wh_unlikely(off >= pg->area)) return NULL;
    pg->free = (wh_block *)(b->next ^ WH_LINK_KEY(pg));
    pg->used++;
    if (!WH_BENCH_NO_LIVE_BITS) pg->live[off >> 10] |= (uint64_t)1 << ((off >> 4) & 63);
    return b;
}

/* The arena fast path: a block of at least size bytes, 16-aligned, from h
 * (only its owner thread calls this); NULL on exhaustion.  Small sizes: a
 * table load, a list pop and a bitmap store. */
WH_INLINE void *wh_heap_arena_alloc(wh_heap *h, size_t size)
{
    if (wh_likely(size <= WH_DIRECT_MAX)) {
        wh_page *pg = h->direct[(size + 15) >> 4];
        wh_block *b = pg->free;
        if (wh_likely(b != NULL)) {
            void *p = wh_page_pop(pg, b);
            if (wh_likely(p != NULL)) return p;
            return wh_heap_alloc_damaged(h, pg, size);
        }
    }
    return wh_heap_alloc_slow(h, size);
}

/* Another thread's free into an arena page (pg found by the inline path):
 * lock-free, the live bit cleared with one atomic and the block pushed on
 * the page's thread_free stack.  Anything odd goes to the slow path. */
WH_HIDDEN WH_NOINLINE int wh_heap_free_remote(wh_page *pg, void *p);

/* wh_heap_block_try_free's answer when the block needs the slow path. */
#define WH_FREE_SLOW ((wh_page *)1)

/* The owner's free, inline: NULL when p was a live block of the calling
 * thread's arena and is now free; the page when p lies in another thread's
 * arena (a remote free: wh_heap_free_remote); WH_FREE_SLOW for anything
 * else (a public heap's block, not a live block, not ours, NULL).  Nothing
 * changes unless it returns NULL.  Segment map, page lookup, owner check,
 * bitmap test, push. */
WH_INLINE wh_page *wh_heap_block_try_free(void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (wh_unlikely((a & WH_FREE_FILTER) != 0 || !wh_segmap[a >> WH_SEG_SHIFT]))
        return WH_FREE_SLOW;
    const wh_segment *seg = (const wh_segment *)(a & ~(uintptr_t)WH_SEG_MASK);
    wh_page *pg = seg->slice_page[(a >> WH_SLICE_SHIFT) & (WH_SEG_SLICES - 1)];
    uintptr_t off = a - pg->start;
    if (wh_unlikely(pg->tid != wh_thread_id()))
        return !(pg->tid & 1) && off < pg->area ? pg : WH_FREE_SLOW;
    if (wh_unlikely(off >= pg->area)) return WH_FREE_SLOW;
    if (!WH_BENCH_NO_LIVE_BITS) {
        uint64_t *word = &pg->live[off >> 10];
        uint64_t bit = (uint64_t)1 << ((off >> 4) & 63);
        uint64_t v = *word;
        if (wh_unlikely(!(v & bit))) return WH_FREE_SLOW;
        *word = v ^ bit;
    }
    wh_block *b = p;
    b->next = (uintptr_t)pg->local_free ^ WH_LINK_KEY(pg);
    pg->local_free = b;
    if (wh_unlikely((int32_t)--pg->used <= 0)) wh_heap_page_event(pg);
    return NULL;
}

/* Frees a block of any heap from any thread.  Returns WH_BLOCK_OK, or a
 * WH_BAD_* code for a pointer that is not a live block (nothing changes
 * then). */
WH_INLINE int wh_heap_block_free(void *p)
{
    wh_page *pg = wh_heap_block_try_free(p);
    if (wh_likely(pg == NULL)) return WH_BLOCK_OK;
    if (pg != WH_FREE_SLOW) return wh_heap_free_remote(pg, p);
    return wh_heap_block_free_slow(p);
}

/* A new arena: an unserialized heap bound to the calling thread; NULL when
 * memory is exhausted. */
WH_HIDDEN wh_heap *wh_heap_new_arena(void);
/* A new shared arena (WH_HF_SHARED): serialized by its lock, its pages owned
 * by whoever holds it; other threads' frees are remote frees. */
WH_HIDDEN wh_heap *wh_heap_new_shared_arena(void);
/* Any power-of-two alignment; huge alignments come from large or huge
 * blocks.  The owner thread only. */
WH_HIDDEN void *wh_heap_arena_alloc_aligned(wh_heap *h, size_t align, size_t size);
/* Thread exit: the arena keeps its live blocks (other threads may still free
 * them, lock-free) and waits on a list for wh_heap_arena_adopt. */
WH_HIDDEN void wh_heap_arena_abandon(wh_heap *h);
/* An abandoned arena, now bound to the calling thread; NULL if none. */
WH_HIDDEN wh_heap *wh_heap_arena_adopt(void);
/* The owner's housekeeping (an arena's thread, or a public heap's lock
 * holder): collect remote frees, free empty pages, run due purges (force:
 * all of them now, as malloc_trim).  True if memory went back. */
WH_HIDDEN bool wh_heap_arena_collect(wh_heap *h, bool force);

/* Usable size of a live block (>= the size asked for), 0 if p is not one. */
WH_HIDDEN size_t wh_heap_block_usable_size(const void *p);
/* WH_BLOCK_OK for a live block, else why not; changes nothing. */
WH_HIDDEN int wh_heap_block_check(const void *p);
/* The heap of a live block, or NULL. */
WH_HIDDEN wh_heap *wh_heap_block_heap(const void *p);
/* True when the first size bytes of the live block p are known to read zero
 * (fresh large and huge blocks), so calloc can skip its memset. */
WH_HIDDEN bool wh_heap_block_is_fresh(const void *p, size_t size);
/* realloc's helper: makes the live block p hold size bytes without moving
 * it (within its size class, by taking following free slices, or by
 * committing a huge block's headroom).  The calling thread must own p's
 * heap (arena) or hold its lock.  False: p is unchanged. */
WH_HIDDEN bool wh_heap_block_resize_in_place(void *p, size_t size);
/* wheap_heap_compact / malloc_trim for every arena and the process heap;
 * true if memory went back to the system. */
WH_HIDDEN bool wh_heap_trim_all(void);
/* Purge steps of other threads' arenas that are due (slow paths call it;
 * cheap when nothing is due). */
WH_HIDDEN void wh_heap_purge_tick(void);
/* Every heap's due purges, arenas and public heaps: the background
 * purger's round. */
WH_HIDDEN void wh_heap_purge_idle(void);
/* Starts the background purger once, if the background_purge option is on
 * (public heap creation calls it; the malloc layer calls it once a thread's
 * arena is bound, never while allocating: pthread_create allocates).  After
 * fork the next call starts a new one. */
WH_HIDDEN void wh_heap_background_start(void);
WH_HIDDEN void wh_heap_background_forked(void);

/* pthread_atfork handlers for the heap layer (called by the malloc layer's,
 * before the regions' in prepare, after them in parent/child).  In the
 * child, arenas of threads that did not survive the fork are abandoned. */
WH_HIDDEN void wh_heap_fork_prepare(void);
WH_HIDDEN void wh_heap_fork_parent(void);
WH_HIDDEN void wh_heap_fork_child(void);

/* ---- internal to layer 2 (shared between its files) ------------------ */

/* Creates a heap: flags WH_HF_*, options HEAP_*; maximum 0 = growable.
 * Returns NULL with *err set. */
WH_HIDDEN wh_heap *wh_heap_create(uint32_t flags, uint32_t options, size_t initial,
                                  size_t maximum, uint32_t *err);
/* Destroy: drops a public heap from the list, then releases everything. */
WH_HIDDEN void wh_heap_unlist(wh_heap *h);
WH_HIDDEN void wh_heap_release_all(wh_heap *h);
/* Allocation for the public API (any thread holding the heap's lock): exact
 * size recorded on exact heaps.  zero: the block reads zero. */
WH_HIDDEN void *wh_heap_alloc_exact(wh_heap *h, size_t size, bool zero);
/* Looks p up: WH_BLOCK_OK and *pg / *hg filled for a live block. */
WH_HIDDEN int wh_heap_block_find(uintptr_t p, wh_page **pg, wh_huge **hg);
/* Frees a live block found by wh_heap_block_find, as its heap's holder. */
WH_HIDDEN void wh_heap_free_found(wh_page *pg, wh_huge *hg, void *p);
/* The exact (or usable) size of a found block, and setting it. */
WH_HIDDEN size_t wh_heap_found_size(const wh_page *pg, const wh_huge *hg, const void *p);
WH_HIDDEN size_t wh_heap_found_usable(const wh_page *pg, const wh_huge *hg);
WH_HIDDEN void wh_heap_found_set_size(wh_page *pg, wh_huge *hg, const void *p, size_t size);
/* The public heaps' heartbeat, every so many calls (LIFO frees give their
 * slow paths no regular beat): remote pages, retired pages, due purges. */
WH_HIDDEN WH_NOINLINE void wh_heap_heartbeat(wh_heap *h);
/* Reports damage in h: aborts if termination is on, else returns. */
WH_HIDDEN void wh_heap_damage(const wh_heap *h, const char *what, const void *where);
/* HeapEnableTerminationOnCorruption for every heap, present and future. */
WH_HIDDEN void wh_heap_terminate_all(void);
/* The process heap, created on first use. */
WH_HIDDEN wh_heap *wh_heap_process(void);
/* Iterates every live heap (the heaps lock held). */
WH_HIDDEN void wh_heaps_lock(void);
WH_HIDDEN void wh_heaps_unlock(void);
WH_HIDDEN wh_heap *wh_heaps_first(void);
/* Every arena ever made (a push-only list: safe to follow without a lock). */
WH_HIDDEN wh_heap *wh_arenas_first(void);
WH_HIDDEN wh_heap *wh_arena_next(const wh_heap *h);
/* One step of HeapWalk over h (seg_lock held); false at the end (*err 0)
 * or for an entry that is not h's (*err set). */
WH_HIDDEN bool wh_heap_walk_step(const wh_heap *h, wheap_heap_entry *e, uint32_t *err);
/* A walk of a heap that changed under it (the process heap's arenas): the
 * entry after the stale entry e's address in its segment, or false when
 * that segment is gone (seg_lock held). */
WH_HIDDEN bool wh_heap_walk_resume(const wh_heap *h, wheap_heap_entry *e);
/* Purging (heap_purge.c).  now: wh_heap_now_ms(), a coarse clock read on
 * slow paths only.  wh_heap_purge takes seg_lock; the helpers below it
 * (heap_page.c) want it held. */
WH_HIDDEN uint64_t wh_heap_now_ms(void);
WH_HIDDEN void wh_heap_purge(wh_heap *h, uint64_t now, bool force);
WH_HIDDEN void wh_heap_huge_purge(wh_heap *h, uint64_t now, bool force, uint64_t *next_due);
WH_HIDDEN void wh_heap_segment_release(wh_heap *h, wh_segment *seg);
WH_HIDDEN void wh_heap_slices_range(const wh_segment *seg, uint32_t s, uint32_t n,
                                    uintptr_t *start, uintptr_t *end);
/* Largest committed free run of h (bytes), seg_lock held. */
WH_HIDDEN size_t wh_heap_largest_free(wh_heap *h);
/* Statistics of one heap (stats.c fills wheap_stats from them). */
typedef struct wh_heap_counters {
    size_t reserved, committed, reset, allocated, peak_committed;
} wh_heap_counters;
WH_HIDDEN void wh_heap_counters_get(wh_heap *h, wh_heap_counters *out);
/* Committed bytes of slice i of seg that are reset (purged, reusable); 0
 * unless it is a free slice in the reset state.  The heap's seg_lock held. */
WH_HIDDEN size_t wh_heap_slice_reset(const wh_segment *seg, uint32_t i);
/* stats=1: the statistics report on stderr, without allocating (a library
 * destructor calls it at exit; tests call it directly).  At most
 * WH_STATS_ROWS arenas and as many public heaps get a line each. */
#define WH_STATS_ROWS 16
WH_HIDDEN void wh_stats_print(void);
/* malloc_info's and the report's view of one heap: kind "arena", "shared",
 * "abandoned" or "heap". */
WH_HIDDEN const char *wh_heap_kind_name(const wh_heap *h);
/* Bytes in live blocks of every arena (a snapshot). */
WH_HIDDEN size_t wh_heap_arenas_allocated(void);
/* Whole-heap metadata check (heap_walk.c); damage reported through
 * wh_heap_damage. */
WH_HIDDEN bool wh_heap_check_all(wh_heap *h);
/* Block size of a size class; is b a carved block start of pg? */
WH_HIDDEN size_t wh_heap_bin_size(unsigned bin);
WH_HIDDEN bool wh_heap_page_block_ok(const wh_page *pg, uintptr_t b);
/* The invariants written next to the fields, checked without reporting
 * (heap_walk.c).  The owner (or lock holder) calls them. */
WH_HIDDEN bool wh_page_is_valid(const wh_page *pg);
WH_HIDDEN bool wh_segment_is_valid(const wh_segment *seg);
WH_HIDDEN bool wh_heap_is_valid(wh_heap *h);
/* Debug builds (CPPFLAGS=-DWH_DEBUG) check them on the slow paths. */
#ifdef WH_DEBUG
#define WH_DEBUG_ASSERT(x) \
    do { \
        if (!(x)) wh_fatal("assertion failed: %s (%s:%u)", #x, __FILE__, (unsigned)__LINE__); \
    } while (0)
#else
#define WH_DEBUG_ASSERT(x) ((void)0)
#endif

/* ========================================================================
 * arena.c: layer 2, threads bound to arenas (unserialized heaps of their
 * own) for malloc and the process heap.
 * ====================================================================== */

extern WH_HIDDEN __thread wh_heap *wh_tl_arena __attribute__((tls_model("initial-exec")));

/* The calling thread's arena, or NULL before its first allocation. */
WH_INLINE wh_heap *wh_arena_get(void)
{
    return wh_tl_arena;
}
/* Binds the calling thread to an arena (adopted or new); NULL when memory
 * is exhausted. */
WH_HIDDEN WH_NOINLINE wh_heap *wh_arena_bind(void);
/* The calling thread's arena, bound on first use: its own, or a shared
 * one (WH_HF_SHARED: allocate from it only through the wh_arena_* calls
 * below, which take its lock). */
WH_INLINE wh_heap *wh_arena_current(void)
{
    wh_heap *h = wh_tl_arena;
    return wh_likely(h != NULL) ? h : wh_arena_bind();
}
/* Shared arenas: allocation (align <= 16: plain) and in-place resize under
 * the arena's lock. */
WH_HIDDEN void *wh_arena_shared_alloc(wh_heap *h, size_t size, size_t align);
WH_HIDDEN bool wh_arena_shared_resize(wh_heap *h, void *p, size_t size);
/* A block of at least size bytes from the calling thread's arena h (as
 * wh_arena_current returns it). */
WH_INLINE void *wh_arena_alloc(wh_heap *h, size_t size)
{
    if (wh_likely(!(h->flags & WH_HF_SHARED))) return wh_heap_arena_alloc(h, size);
    return wh_arena_shared_alloc(h, size, 0);
}
/* The slow mode: threads bound from now on share at most n arenas (n 0:
 * one per processor, up to WH_SHARED_MAX) and allocate under their locks,
 * so that every malloc and free of theirs takes the slow paths (arena_max,
 * M_PERTURB).  The calling thread leaves its own arena (abandoned: its
 * blocks stay valid).  Returns false for n > WH_SHARED_MAX. */
#define WH_SHARED_MAX 256
WH_HIDDEN bool wh_arena_share(uint64_t n);
/* Is the slow mode on? */
WH_HIDDEN bool wh_arena_shared_mode(void);
/* Counts of arenas: all made, abandoned, shared (a snapshot). */
WH_HIDDEN void wh_arena_counts(size_t *all, size_t *abandoned, size_t *shared);

/* ========================================================================
 * guard.c: guard modes for malloc blocks (WHEAP_OPTIONS guard_mode).  The
 * malloc layer asks when an arena's guard_countdown falls to 0; guarded
 * blocks live outside every heap, so the heap layer calls them foreign and
 * the functions below claim them.
 * ====================================================================== */

/* True once a guarded block may exist (a plain load on the slow paths). */
extern WH_HIDDEN bool wh_guard_active;
/* The next countdown for the calling thread: 1 in page mode, a random
 * 1 .. 2N-1 in sample mode, 2^64-1 when guarding is off. */
WH_HIDDEN uint64_t wh_guard_countdown(void);
/* A guarded block of size bytes aligned to align (a power of two), or NULL:
 * take the normal path (guarding off, degraded, or out of slots). */
WH_HIDDEN void *wh_guard_alloc(size_t size, size_t align);
/* Frees p when it lies in guarded memory: WH_BLOCK_OK, or a WH_BAD_* code
 * for a bad pointer there (nothing changes); -1 when p is not guarded
 * memory.  A damaged slack pattern is reported naming call (and aborts
 * unless abort_on_misuse=0). */
WH_HIDDEN int wh_guard_free(void *p, const char *call);
/* The size asked for of the live guarded block p (WH_BLOCK_OK), WH_BAD_*
 * for a bad pointer in guarded memory, -1 elsewhere. */
WH_HIDDEN int wh_guard_size(const void *p, size_t *size);
/* As wh_guard_size, and WH_BAD_CORRUPT when the slack pattern is damaged. */
WH_HIDDEN int wh_guard_check(const void *p);
/* Blocks guarded so far, live now, and allocations that went unguarded for
 * want of mappings or slots. */
WH_HIDDEN void wh_guard_counters(size_t *guarded, size_t *live, size_t *degraded);
/* The SIGSEGV handler's question (async-signal-safe): an access at addr to
 * guarded memory is reported in one line and true returned (the fault then
 * goes on to the previous disposition); false otherwise.  uc: the
 * handler's ucontext (read or write). */
WH_HIDDEN bool wh_guard_fault(uintptr_t addr, void *uc);

/* ========================================================================
 * process_heap.c: the process heap's handle stands for every arena; heap.c
 * sends its calls here.  Return conventions as heap.c's internals.
 * ====================================================================== */

WH_HIDDEN bool   wh_process_free(void *p);
WH_HIDDEN size_t wh_process_size(const void *p);
WH_HIDDEN void  *wh_process_realloc(uint32_t flags, void *p, size_t bytes, uint32_t *err);
WH_HIDDEN bool   wh_process_validate(wh_heap *self, const void *p);
WH_HIDDEN bool   wh_process_walk(wh_heap *self, wheap_heap_entry *e, uint32_t *err);

/* ========================================================================
 * live.c: the live page (live=1) that `wheap top` and `wheap map` read;
 * its format is src/live_page.h.
 * ====================================================================== */

/* Starts the publisher thread once, if the live option is on.  The malloc
 * layer calls it from its slow path, outside every lock (pthread_create
 * allocates).  A forked child never publishes: the parent's name is not
 * its own. */
WH_HIDDEN void wh_live_start(void);

#endif /* WHEAP_INTERNAL_H */
