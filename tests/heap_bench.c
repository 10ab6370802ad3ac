/* A quick measurement, not a test: alloc+free pairs on a HEAP_NO_SERIALIZE
 * heap and on a serialized heap against glibc's malloc/free (reached
 * through dlopen, since libwheap may export malloc itself), same sizes and
 * pattern, one run; then VmRSS before and after freeing and after
 * compacting.  Usage: heap_bench [pairs] */
#define _GNU_SOURCE
#include "heap_test.h"
#include <dlfcn.h>
#include <time.h>

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);

enum { BATCH = 64, SIZES = 4096 };
static size_t sizes[SIZES];
static void *slots[BATCH];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Pattern: a rolling window of BATCH blocks, each replaced in turn (so a
 * free is never of the block just allocated), sizes 8..512 bytes. */
#define RUN(ALLOC, FREE)                                                   \
    do {                                                                   \
        for (int i = 0; i < BATCH; i++) slots[i] = ALLOC(sizes[i]);         \
        double t0 = now_ns();                                              \
        for (long k = 0; k < pairs; k++) {                                 \
            int s = (int)(k & (BATCH - 1));                                \
            FREE(slots[s]);                                                \
            slots[s] = ALLOC(sizes[k & (SIZES - 1)]);                      \
        }                                                                  \
        ns = (now_ns() - t0) / (double)pairs;                              \
        for (int i = 0; i < BATCH; i++) FREE(slots[i]);                    \
    } while (0)

static malloc_fn g_malloc;
static free_fn g_free;
static wheap_heap *heap;
static uint32_t heap_flags;

static void *h_alloc(size_t n) { return wheap_heap_alloc(heap, heap_flags, n); }
static void h_free(void *p) { wheap_heap_free(heap, heap_flags, p); }

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? atol(argv[1]) : 20000000;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!libc || !(g_malloc = (malloc_fn)dlsym(libc, "malloc")) ||
        !(g_free = (free_fn)dlsym(libc, "free"))) {
        fprintf(stderr, "glibc malloc not found\n");
        return 1;
    }
    unsigned seed = 1;
    for (int i = 0; i < SIZES; i++) {
        seed = seed * 1103515245u + 12345u;
        sizes[i] = 8 + (seed >> 8) % 505;
    }
    double ns, glibc, noser, ser;
    RUN(g_malloc, g_free);
    RUN(g_malloc, g_free);
    glibc = ns;
    heap = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    RUN(h_alloc, h_free);
    RUN(h_alloc, h_free);
    noser = ns;
    wheap_heap_destroy(heap);
    heap = wheap_heap_create(0, 0, 0);
    RUN(h_alloc, h_free);
    RUN(h_alloc, h_free);
    ser = ns;
    wheap_heap_destroy(heap);
    printf("alloc+free pair, sizes 8..512 B, %ld pairs:\n", pairs);
    printf("  glibc malloc/free          %6.2f ns\n", glibc);
    printf("  heap, HEAP_NO_SERIALIZE    %6.2f ns  (%.2fx faster than glibc)\n", noser,
           glibc / noser);
    printf("  heap, serialized           %6.2f ns  (%.2fx faster than glibc)\n", ser, glibc / ser);

    /* VmRSS: 200 MiB in blocks of 64..4096 bytes, freed, compacted. */
    heap = wheap_heap_create(0, 0, 0);
    enum { N = 100000 };
    static void *b[N];
    uint64_t before = test_proc_status("VmRSS");
    for (int i = 0; i < N; i++) {
        size_t n = 64 + (size_t)(i * 61) % 4033;
        b[i] = wheap_heap_alloc(heap, 0, n);
        memset(b[i], 1, n);
    }
    uint64_t full = test_proc_status("VmRSS");
    for (int i = 0; i < N; i++) wheap_heap_free(heap, 0, b[i]);
    uint64_t freed = test_proc_status("VmRSS");
    wheap_heap_compact(heap, 0);
    uint64_t compacted = test_proc_status("VmRSS");
    printf("VmRSS: before %" PRIu64 " KiB, allocated %" PRIu64 " KiB, freed %" PRIu64
           " KiB, compacted %" PRIu64 " KiB\n", before >> 10, full >> 10, freed >> 10,
           compacted >> 10);
    wheap_heap_destroy(heap);
    return 0;
}
