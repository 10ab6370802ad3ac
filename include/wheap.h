/*
 * wheap: the Windows memory model on Linux.
 *
 *   layer 3  malloc family          wheap_malloc ... (and, by default, malloc ...)
 *   layer 2  private heaps          wheap_heap_*     (HeapCreate family)
 *   layer 1  virtual memory         wheap_virtual_*  (VirtualAlloc family)
 *
 * Numeric values of flags, states and error codes are the Win32 ones.  A
 * function that fails sets a thread-local last error (wheap_get_last_error);
 * a successful call leaves it untouched unless its comment says otherwise.
 * bool results: true = success.
 */
#ifndef WHEAP_H
#define WHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WHEAP_API __attribute__((visibility("default")))
#define WHEAP_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define WHEAP_API
#define WHEAP_MALLOC_ATTR
#endif

#define WHEAP_VERSION_MAJOR 0
#define WHEAP_VERSION_MINOR 1
#define WHEAP_VERSION_PATCH 0

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

#define WHEAP_ERROR_SUCCESS               0
#define WHEAP_ERROR_FILE_NOT_FOUND        2
#define WHEAP_ERROR_ACCESS_DENIED         5
#define WHEAP_ERROR_INVALID_HANDLE        6
#define WHEAP_ERROR_NOT_ENOUGH_MEMORY     8
#define WHEAP_ERROR_OUTOFMEMORY           14
#define WHEAP_ERROR_BAD_LENGTH            24
#define WHEAP_ERROR_NOT_SUPPORTED         50
#define WHEAP_ERROR_INVALID_PARAMETER     87
#define WHEAP_ERROR_INSUFFICIENT_BUFFER   122
#define WHEAP_ERROR_NOT_LOCKED            158
#define WHEAP_ERROR_ALREADY_EXISTS        183
#define WHEAP_ERROR_NO_MORE_ITEMS         259
#define WHEAP_ERROR_INVALID_ADDRESS       487
#define WHEAP_ERROR_NOACCESS              998
#define WHEAP_ERROR_INVALID_FLAGS         1004
#define WHEAP_ERROR_MAPPED_ALIGNMENT      1132
#define WHEAP_ERROR_PRIVILEGE_NOT_HELD    1314
#define WHEAP_ERROR_NO_SYSTEM_RESOURCES   1450
#define WHEAP_ERROR_COMMITMENT_LIMIT      1455

WHEAP_API uint32_t    wheap_get_last_error(void);
WHEAP_API void        wheap_set_last_error(uint32_t code);
/* The Win32 name of a code ("ERROR_INVALID_PARAMETER"); "ERROR_UNKNOWN" for
 * codes wheap never sets.  The string is static. */
WHEAP_API const char *wheap_error_string(uint32_t code);
/* "wheap X.Y.Z" */
WHEAP_API const char *wheap_version(void);

/* ------------------------------------------------------------------------
 * Layer 1: virtual memory (VirtualAlloc family)
 * ---------------------------------------------------------------------- */

#define WHEAP_MEM_COMMIT       0x00001000u
#define WHEAP_MEM_RESERVE      0x00002000u
#define WHEAP_MEM_DECOMMIT     0x00004000u
#define WHEAP_MEM_RELEASE      0x00008000u
#define WHEAP_MEM_FREE         0x00010000u
#define WHEAP_MEM_PRIVATE      0x00020000u
#define WHEAP_MEM_MAPPED       0x00040000u
#define WHEAP_MEM_RESET        0x00080000u
#define WHEAP_MEM_TOP_DOWN     0x00100000u
#define WHEAP_MEM_WRITE_WATCH  0x00200000u
#define WHEAP_MEM_IMAGE        0x01000000u
#define WHEAP_MEM_RESET_UNDO   0x01000000u
#define WHEAP_MEM_LARGE_PAGES  0x20000000u

#define WHEAP_PAGE_NOACCESS          0x01u
#define WHEAP_PAGE_READONLY          0x02u
#define WHEAP_PAGE_READWRITE         0x04u
#define WHEAP_PAGE_WRITECOPY         0x08u
#define WHEAP_PAGE_EXECUTE           0x10u
#define WHEAP_PAGE_EXECUTE_READ      0x20u
#define WHEAP_PAGE_EXECUTE_READWRITE 0x40u
#define WHEAP_PAGE_EXECUTE_WRITECOPY 0x80u
#define WHEAP_PAGE_GUARD             0x100u
#define WHEAP_PAGE_NOCACHE           0x200u  /* accepted, no effect */
#define WHEAP_PAGE_WRITECOMBINE      0x400u  /* accepted, no effect */

typedef struct wheap_memory_basic_information {
    void    *base_address;
    void    *allocation_base;     /* NULL when free */
    uint32_t allocation_protect;  /* 0 when free */
    size_t   region_size;
    uint32_t state;     /* WHEAP_MEM_COMMIT, WHEAP_MEM_RESERVE or WHEAP_MEM_FREE */
    uint32_t protect;   /* current protection; 0 when reserved; WHEAP_PAGE_NOACCESS when free */
    uint32_t type;      /* WHEAP_MEM_PRIVATE, WHEAP_MEM_MAPPED, WHEAP_MEM_IMAGE; 0 when free */
} wheap_memory_basic_information;

WHEAP_API void  *wheap_virtual_alloc(void *address, size_t size, uint32_t type, uint32_t protect);
WHEAP_API bool   wheap_virtual_free(void *address, size_t size, uint32_t free_type);
WHEAP_API bool   wheap_virtual_protect(void *address, size_t size, uint32_t new_protect,
                                       uint32_t *old_protect);
/* Returns sizeof(*info); 0 on failure (length too small: ERROR_BAD_LENGTH). */
WHEAP_API size_t wheap_virtual_query(const void *address, wheap_memory_basic_information *info,
                                     size_t length);
WHEAP_API bool   wheap_virtual_lock(void *address, size_t size);    /* committed pages only */
WHEAP_API bool   wheap_virtual_unlock(void *address, size_t size);  /* ERROR_NOT_LOCKED */
/* Huge page size; 0 when the system has none. */
WHEAP_API size_t wheap_get_large_page_minimum(void);

typedef struct wheap_system_info {
    uint32_t page_size;                    /* 4096 on x86_64 */
    uint32_t allocation_granularity;       /* 65536 */
    void    *minimum_application_address;  /* 0x10000 */
    void    *maximum_application_address;
    uint64_t active_processor_mask;
    uint32_t number_of_processors;
} wheap_system_info;
WHEAP_API void wheap_get_system_info(wheap_system_info *info);

typedef struct wheap_memory_status {
    uint32_t length;            /* caller sets sizeof(wheap_memory_status) */
    uint32_t memory_load;       /* percent of physical memory in use */
    uint64_t total_phys, avail_phys;
    uint64_t total_page_file, avail_page_file;   /* commit limit, commit left (never below 0) */
    uint64_t total_virtual, avail_virtual;
} wheap_memory_status;
WHEAP_API bool wheap_global_memory_status(wheap_memory_status *status);

/* Exceptions: vectored handlers in the manner of AddVectoredExceptionHandler. */
#define WHEAP_STATUS_GUARD_PAGE_VIOLATION 0x80000001u
#define WHEAP_STATUS_ACCESS_VIOLATION     0xC0000005u
#define WHEAP_STATUS_NO_MEMORY            0xC0000017u
#define WHEAP_EXCEPTION_CONTINUE_EXECUTION (-1)
#define WHEAP_EXCEPTION_CONTINUE_SEARCH    0

typedef int (*wheap_exception_handler)(uint32_t status, void *address, void *context);
WHEAP_API void *wheap_add_exception_handler(int first, wheap_exception_handler handler,
                                            void *context);
WHEAP_API bool  wheap_remove_exception_handler(void *handle);

/* File mappings and write watch. */
#define WHEAP_WRITE_WATCH_FLAG_RESET 0x1u
WHEAP_API uint32_t wheap_get_write_watch(uint32_t flags, void *base, size_t size,
                                         void **addresses, size_t *count,
                                         uint32_t *granularity);   /* 0 ok, ~0u fail */
WHEAP_API uint32_t wheap_reset_write_watch(void *base, size_t size);

typedef struct wheap_mapping wheap_mapping;      /* a section object */
#define WHEAP_FILE_MAP_COPY       0x1u
#define WHEAP_FILE_MAP_WRITE      0x2u
#define WHEAP_FILE_MAP_READ       0x4u
#define WHEAP_FILE_MAP_EXECUTE    0x20u
#define WHEAP_FILE_MAP_ALL_ACCESS 0xF001Fu
#define WHEAP_SEC_COMMIT          0x8000000u
#define WHEAP_SEC_RESERVE         0x4000000u

WHEAP_API wheap_mapping *wheap_create_file_mapping(int fd /* -1: pagefile-backed */,
                                                   uint32_t protect, uint64_t maximum_size,
                                                   const char *name);
WHEAP_API wheap_mapping *wheap_open_file_mapping(uint32_t desired_access, const char *name);
WHEAP_API bool  wheap_close_mapping(wheap_mapping *mapping);
WHEAP_API void *wheap_map_view_of_file(wheap_mapping *mapping, uint32_t desired_access,
                                       uint64_t offset, size_t bytes);
WHEAP_API void *wheap_map_view_of_file_ex(wheap_mapping *mapping, uint32_t desired_access,
                                          uint64_t offset, size_t bytes, void *base_address);
WHEAP_API bool  wheap_unmap_view_of_file(const void *address);
WHEAP_API bool  wheap_flush_view_of_file(const void *address, size_t bytes);

/* ------------------------------------------------------------------------
 * Layer 2: private heaps (HeapCreate family)
 * ---------------------------------------------------------------------- */

#define WHEAP_HEAP_NO_SERIALIZE             0x00000001u
#define WHEAP_HEAP_GROWABLE                 0x00000002u
#define WHEAP_HEAP_GENERATE_EXCEPTIONS      0x00000004u
#define WHEAP_HEAP_ZERO_MEMORY              0x00000008u
#define WHEAP_HEAP_REALLOC_IN_PLACE_ONLY    0x00000010u
#define WHEAP_HEAP_CREATE_ENABLE_EXECUTE    0x00040000u

#define WHEAP_PROCESS_HEAP_REGION             0x0001u
#define WHEAP_PROCESS_HEAP_UNCOMMITTED_RANGE  0x0002u
#define WHEAP_PROCESS_HEAP_ENTRY_BUSY         0x0004u

/* Information classes. */
#define WHEAP_HEAP_COMPATIBILITY_INFORMATION          0  /* uint32_t, 2 = low-fragmentation */
#define WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION   1  /* no data */

typedef struct wheap_heap wheap_heap;    /* opaque handle */

typedef struct wheap_heap_entry {
    void    *data;          /* NULL starts a walk */
    size_t   data_size;
    uint8_t  overhead;
    uint8_t  region_index;
    uint16_t flags;         /* WHEAP_PROCESS_HEAP_* */
    union {
        struct { void *mem_handle; uint32_t reserved[3]; } block;
        struct { size_t committed_size; size_t uncommitted_size;
                 void *first_block; void *last_block; } region;
    };
} wheap_heap_entry;

WHEAP_API wheap_heap *wheap_heap_create(uint32_t options, size_t initial_size,
                                        size_t maximum_size);
WHEAP_API bool   wheap_heap_destroy(wheap_heap *heap);
WHEAP_API void  *wheap_heap_alloc(wheap_heap *heap, uint32_t flags, size_t bytes);
WHEAP_API void  *wheap_heap_realloc(wheap_heap *heap, uint32_t flags, void *mem, size_t bytes);
WHEAP_API bool   wheap_heap_free(wheap_heap *heap, uint32_t flags, void *mem);
/* (size_t)-1 on failure. */
WHEAP_API size_t wheap_heap_size(wheap_heap *heap, uint32_t flags, const void *mem);
/* mem NULL: the whole heap. */
WHEAP_API bool   wheap_heap_validate(wheap_heap *heap, uint32_t flags, const void *mem);
/* Largest committed free block. */
WHEAP_API size_t wheap_heap_compact(wheap_heap *heap, uint32_t flags);
WHEAP_API bool   wheap_heap_lock(wheap_heap *heap);
WHEAP_API bool   wheap_heap_unlock(wheap_heap *heap);
WHEAP_API bool   wheap_heap_walk(wheap_heap *heap, wheap_heap_entry *entry);
WHEAP_API bool   wheap_heap_set_information(wheap_heap *heap, uint32_t info_class,
                                            const void *info, size_t length);
WHEAP_API bool   wheap_heap_query_information(wheap_heap *heap, uint32_t info_class,
                                              void *info, size_t length,
                                              size_t *return_length);

WHEAP_API wheap_heap *wheap_get_process_heap(void);
/* Returns the total number of heaps; fills at most count handles. */
WHEAP_API size_t      wheap_get_process_heaps(size_t count, wheap_heap **heaps);

/* ------------------------------------------------------------------------
 * Layer 3: malloc family (always exported, whatever the build)
 * ---------------------------------------------------------------------- */

struct mallinfo2;

WHEAP_API WHEAP_MALLOC_ATTR void *wheap_malloc(size_t size);
WHEAP_API WHEAP_MALLOC_ATTR void *wheap_calloc(size_t n, size_t size);
WHEAP_API void  *wheap_realloc(void *p, size_t size);
WHEAP_API void  *wheap_reallocarray(void *p, size_t n, size_t size);
WHEAP_API void   wheap_free(void *p);
WHEAP_API void   wheap_free_sized(void *p, size_t size);
WHEAP_API void   wheap_free_aligned_sized(void *p, size_t alignment, size_t size);
WHEAP_API WHEAP_MALLOC_ATTR void *wheap_aligned_alloc(size_t alignment, size_t size);
WHEAP_API int    wheap_posix_memalign(void **out, size_t alignment, size_t size);
WHEAP_API WHEAP_MALLOC_ATTR void *wheap_memalign(size_t alignment, size_t size);
WHEAP_API WHEAP_MALLOC_ATTR void *wheap_valloc(size_t size);
WHEAP_API WHEAP_MALLOC_ATTR void *wheap_pvalloc(size_t size);
WHEAP_API size_t wheap_malloc_usable_size(void *p);
WHEAP_API int    wheap_malloc_trim(size_t pad);
WHEAP_API struct mallinfo2 wheap_mallinfo2(void);
WHEAP_API void   wheap_malloc_stats(void);
WHEAP_API int    wheap_malloc_info(int options, void *stream /* FILE * */);

/* ------------------------------------------------------------------------
 * Statistics and options
 * ---------------------------------------------------------------------- */

typedef struct wheap_stats {
    size_t size;            /* caller sets sizeof(wheap_stats); fields past it are not written */
    size_t reserved;        /* address space reserved through layer 1 */
    size_t committed;       /* committed pages */
    size_t reset;           /* committed but MEM_RESET (purged, reusable) */
    size_t allocated;       /* bytes in live blocks (usable size) */
    size_t peak_committed;
    size_t heaps;           /* live heaps (the process heap counts once) */
    /* new fields are added at the end only */
} wheap_stats;
WHEAP_API bool wheap_get_stats(wheap_heap *heap /* NULL: whole process */, wheap_stats *out);

/* Runtime options come from WHEAP_OPTIONS, a comma-separated key=value list
 * read once with secure_getenv (see wheap(7)). */

#ifdef __cplusplus
}
#endif

#endif /* WHEAP_H */
