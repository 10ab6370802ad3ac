/*
 * The live page: what a process started with live=1 publishes in
 * /dev/shm/wheap-<uid>/live.<pid> for `wheap top` and `wheap map`
 * (src/live.c writes it, tools/wheap-view.c reads it).  This header is the
 * whole contract between the two: plain C, no dependency on the library.
 *
 * One file of WH_LIVE_SIZE bytes, mode 0600:
 *
 *   [0, 512)                 wh_live_header
 *   [heap_offset, ...)       heap_rows rows of heap_row_size bytes
 *   [region_offset, ...)     region_rows rows of region_row_size bytes
 *
 * magic, version, size, pid, uid, start_ticks and the offsets and row
 * sizes are written before the file gets its name and never change.
 * Everything else is a snapshot under a seqlock: the writer makes seq odd,
 * copies the snapshot in, and makes it even again; a reader copies the
 * whole page and keeps the copy only when seq was even and unchanged
 * around it.  A reader checks magic, version and size first and refuses
 * what it does not know; fields are added at the end of a row or of the
 * header only, with the row size or header fields telling readers so.
 */
#ifndef WHEAP_LIVE_PAGE_H
#define WHEAP_LIVE_PAGE_H

#include <stdint.h>

#define WH_LIVE_MAGIC   UINT64_C(0x4556494c50414548)   /* "HEAPLIVE" little-endian */
#define WH_LIVE_VERSION 1u
#define WH_LIVE_SIZE    65536u
#define WH_LIVE_PREFIX  "live."                 /* file name: live.<pid> */

#define WH_LIVE_HEAP_OFFSET   512u
#define WH_LIVE_HEAP_MAX      200u              /* rows: 200 * 72 = 14400 bytes */
#define WH_LIVE_REGION_OFFSET 16384u
#define WH_LIVE_REGION_MAX    1024u             /* rows: 1024 * 48 = 49152 bytes */

typedef struct wh_live_header {
    /* Constant from creation. */
    uint64_t magic;              /* WH_LIVE_MAGIC */
    uint32_t version;            /* WH_LIVE_VERSION */
    uint32_t size;               /* WH_LIVE_SIZE: the file's size */
    uint32_t pid, uid;           /* the publisher */
    uint64_t start_ticks;        /* field 22 of /proc/<pid>/stat: tells pid reuse apart */
    uint64_t start_realtime_ns;  /* CLOCK_REALTIME when publishing began */
    uint32_t heap_offset, heap_row_size;
    uint32_t region_offset, region_row_size;
    uint32_t interval_ms;        /* the publisher's period */
    char     library[20];        /* "wheap 0.1.0" */
    /* The seqlock: odd while the writer is inside. */
    uint64_t seq;
    /* The snapshot. */
    uint64_t updates;            /* publishes so far */
    uint64_t realtime_ns;        /* CLOCK_REALTIME of this snapshot */
    uint64_t publish_ns;         /* CPU time the last publish took (thread clock) */
    uint64_t publish_max_ns;     /* the most any publish took */
    uint64_t reserved, committed, reset, allocated, peak_committed, heaps;  /* wheap_get_stats */
    uint64_t vm_rss, vm_size;    /* bytes, /proc/self/status */
    uint32_t threads;            /* /proc/self/status */
    uint32_t heap_rows;          /* rows present */
    uint32_t heap_rows_total;    /* rows there were: total - rows were left out */
    uint32_t region_rows;
    uint32_t region_rows_total;
    uint32_t pad0;
    /* Every region, listed or not, by type (index WH_LIVE_SEGMENT..;
     * 0: a type this header does not name). */
    struct {
        uint64_t count, size, committed, reset;
    } by_type[6];
} wh_live_header;

/* Heap kinds. */
enum { WH_LIVE_PROCESS_HEAP = 1, WH_LIVE_PRIVATE_HEAP = 2, WH_LIVE_ARENA = 3 };
/* Heap states. */
enum { WH_LIVE_ACTIVE = 1, WH_LIVE_ABANDONED = 2 };

typedef struct wh_live_heap_row {
    uint64_t id;                 /* the heap's address: region rows name it as owner */
    uint32_t kind;               /* WH_LIVE_*_HEAP, WH_LIVE_ARENA */
    uint32_t state;              /* WH_LIVE_ACTIVE or WH_LIVE_ABANDONED (arenas) */
    uint32_t options;            /* HEAP_* create options (private heaps) */
    uint32_t segments;           /* reservations of 32 MiB windows */
    uint64_t reserved, committed, reset, allocated, peak_committed;
    uint32_t huge_blocks;        /* blocks with a reservation of their own (live) */
    uint32_t pad0;
} wh_live_heap_row;

/* Region types. */
enum {
    WH_LIVE_SEGMENT = 1,         /* a heap segment */
    WH_LIVE_HUGE = 2,            /* a heap's huge block */
    WH_LIVE_VIRTUAL = 3,         /* wheap_virtual_alloc */
    WH_LIVE_VIEW = 4,            /* a file-mapping view */
    WH_LIVE_GUARD_POOL = 5,      /* guard-mode pool */
};
/* Region flags. */
enum { WH_LIVE_WRITE_WATCH = 1, WH_LIVE_LARGE_PAGES = 2 };

typedef struct wh_live_region_row {
    uint64_t base, size;         /* the reservation */
    uint64_t committed, reset;   /* bytes */
    uint64_t owner;              /* heap id for segments and huge blocks, else 0 */
    uint32_t type;               /* WH_LIVE_SEGMENT.. */
    uint32_t flags;              /* WH_LIVE_WRITE_WATCH.. */
} wh_live_region_row;

_Static_assert(sizeof(wh_live_header) <= WH_LIVE_HEAP_OFFSET, "live header too big");
_Static_assert(sizeof(wh_live_heap_row) == 72, "heap row size");
_Static_assert(sizeof(wh_live_region_row) == 48, "region row size");
_Static_assert(WH_LIVE_HEAP_OFFSET + WH_LIVE_HEAP_MAX * 72 <= WH_LIVE_REGION_OFFSET,
               "heap rows overlap region rows");
_Static_assert(WH_LIVE_REGION_OFFSET + WH_LIVE_REGION_MAX * 48 <= WH_LIVE_SIZE,
               "region rows overflow the page");

#endif /* WHEAP_LIVE_PAGE_H */
