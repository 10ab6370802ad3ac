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
 * them; values never change afterwards.
 * ====================================================================== */

typedef struct wh_options {
    uint64_t purge_delay_ms;     /* empty pages are reset after this long */
    uint64_t decommit_delay_ms;  /* reset pages are decommitted after this long */
    bool     background_purge;   /* a thread purges even an idle process */
    bool     stats;              /* print statistics at exit */
    bool     verbose;            /* diagnostics for events, not only errors */
    bool     abort_on_misuse;    /* false: misuse is a warning, not an abort */
    bool     large_pages;        /* back big heap segments with huge pages */
    uint64_t arena_max;          /* 0: one arena per processor */
    uint64_t guard_mode;         /* 0 off, 1 page heap, 2 sampled */
    uint64_t guard_sample;       /* sampled mode: one allocation in N */
} wh_options;

/* The options, parsed on first use.  Async-signal-safe after the first call. */
WH_HIDDEN const wh_options *wh_options_get(void);
/* Parses text (the WHEAP_OPTIONS syntax) into *out; exposed for tests. */
WH_HIDDEN void wh_options_parse(const char *text, wh_options *out);
WH_HIDDEN void wh_options_defaults(wh_options *out);

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
    _Atomic uint16_t inline_pages[16];   /* enough for 64 KiB of 4 KiB pages */
} wh_region;

WH_HIDDEN void wh_regions_lock(void);
WH_HIDDEN void wh_regions_unlock(void);
/* pthread_atfork handlers, called by the malloc layer's (lowest layer last
 * in prepare, first in parent/child). */
WH_HIDDEN void wh_regions_fork_prepare(void);
WH_HIDDEN void wh_regions_fork_parent(void);
WH_HIDDEN void wh_regions_fork_child(void);
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
 * already committed keep their contents. */
WH_HIDDEN uint32_t wh_vm_commit(void *addr, size_t size, uint32_t protect);
WH_HIDDEN uint32_t wh_vm_decommit(void *addr, size_t size);
/* Drop pages from RSS now, keeping them committed (MADV_DONTNEED): the
 * heaps' cheap decommit.  Contents read back as zero. */
WH_HIDDEN uint32_t wh_vm_purge(void *addr, size_t size);
/* MEM_RESET on committed pages. */
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

#endif /* WHEAP_INTERNAL_H */
