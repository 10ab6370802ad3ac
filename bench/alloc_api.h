/*
 * alloc_api: the allocators the microbenchmarks compare inside one process,
 * as a table of function pointers that C++ (bench/microbench.cc) calls.
 *
 *   glibc       malloc family of libc.so.6, found with dlopen(RTLD_NOLOAD)
 *               and dlsym on that handle (a plain malloc or __libc_malloc
 *               could be wheap's when wheap is preloaded or linked)
 *   wheap       wheap_malloc family, when libwheap provides it
 *   heap-noser  wheap_heap_alloc/free on a private HEAP_NO_SERIALIZE heap
 *   heap-ser    the same on a serialized heap (uncontended lock)
 *   <peer>      whatever LD_PRELOAD put in front of glibc (jemalloc, ...),
 *               named by BENCH_PRELOAD_NAME or the library's file name
 *
 * wheap is reached with dlsym(RTLD_DEFAULT) when it is already loaded, else
 * with dlopen of the path given to bench_allocators_init; an allocator whose
 * functions do not resolve, or whose first allocation fails, is left out
 * with one note on stderr.
 */
#ifndef BENCH_ALLOC_API_H
#define BENCH_ALLOC_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_allocator {
    const char *name;
    void *(*alloc)(size_t size);
    void  (*release)(void *p);
    void *(*zalloc)(size_t count, size_t size);      /* calloc */
    void *(*resize)(void *p, size_t size);           /* realloc; p may be NULL */
    void *(*aligned)(size_t alignment, size_t size); /* NULL: not offered */
    /* Private heaps only: frees every block at once (destroy, then create a
     * fresh heap).  NULL for malloc families. */
    void  (*release_all)(void);
    int   thread_safe;   /* 0: one thread at a time (HEAP_NO_SERIALIZE) */
} bench_allocator;

enum bench_select {
    BENCH_SELECT_ALL,      /* glibc, wheap and its heaps, and a preloaded peer */
    BENCH_SELECT_PRELOAD   /* only the preloaded peer (one process per peer) */
};

/* Fills the table; wheap_lib is a path to libwheap.so or NULL.  Returns the
 * number of allocators found. */
size_t bench_allocators_init(const char *wheap_lib, enum bench_select select);
const bench_allocator *bench_allocator_at(size_t i);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_ALLOC_API_H */
