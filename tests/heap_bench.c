/* A quick measurement, not a test: alloc+free pairs on a HEAP_NO_SERIALIZE
 * heap and on a serialized heap against glibc's malloc/free (reached
 * through dlopen, since libwheap may export malloc itself), same sizes and
 * pattern, one run; then VmRSS before and after freeing and after
 * compacting.  Two patterns: a window of 64 live blocks (glibc's tcache
 * serves nearly all of it) and one of 16384 (it does not).
 * Usage: heap_bench [pairs] */
#define _GNU_SOURCE
#include "heap_test.h"
#include <dlfcn.h>
#include <pthread.h>
#include <time.h>

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);

enum { MAX_BATCH = 16384, SIZES = 4096 };
static size_t sizes[SIZES];
static void *slots[MAX_BATCH];
static long batch;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Pattern: a rolling window of batch blocks, each replaced in turn (so a
 * free is never of the block just allocated), sizes 8..512 bytes.  The
 * best of three runs. */
#define RUN(ALLOC, FREE)                                                   \
    do {                                                                   \
        ns = 1e9;                                                          \
        for (int rep = 0; rep < 3; rep++) {                                \
            for (long i = 0; i < batch; i++)                               \
                slots[i] = ALLOC(sizes[i & (SIZES - 1)]);                  \
            double t0 = now_ns();                                          \
            for (long k = 0; k < pairs; k++) {                             \
                long s = k & (batch - 1);                                  \
                FREE(slots[s]);                                            \
                slots[s] = ALLOC(sizes[k & (SIZES - 1)]);                  \
            }                                                              \
            double t = (now_ns() - t0) / (double)pairs;                    \
            if (t < ns) ns = t;                                            \
            for (long i = 0; i < batch; i++) FREE(slots[i]);               \
        }                                                                  \
    } while (0)

static malloc_fn g_malloc;
static free_fn g_free;
static wheap_heap *heap;
static uint32_t heap_flags;

static void *h_alloc(size_t n) { return wheap_heap_alloc(heap, heap_flags, n); }
static void h_free(void *p) { wheap_heap_free(heap, heap_flags, p); }

static void *idle_thread(void *arg)
{
    (void)arg;
    return NULL;
}

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
    /* A single-threaded process first (a serialized heap, like glibc's
     * arenas, needs no lock then), then the same after a thread was made. */
    for (int mt = 0; mt < 2; mt++)
    for (batch = 64; batch <= MAX_BATCH; batch *= 256) {
        if (mt && batch == 64) {
            pthread_t t;
            pthread_create(&t, NULL, idle_thread, NULL);
            pthread_join(t, NULL);
            printf("-- after a second thread was created (serialized heaps lock):\n");
        }
        double ns, glibc, noser, ser;
        RUN(g_malloc, g_free);
        glibc = ns;
        heap = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
        RUN(h_alloc, h_free);
        noser = ns;
        wheap_heap_destroy(heap);
        heap = wheap_heap_create(0, 0, 0);
        RUN(h_alloc, h_free);
        ser = ns;
        wheap_heap_destroy(heap);
        printf("alloc+free pair, sizes 8..512 B, %ld live, %ld pairs (best of 3):\n", batch, pairs);
        printf("  glibc malloc/free          %6.2f ns\n", glibc);
        printf("  heap, HEAP_NO_SERIALIZE    %6.2f ns  (glibc/heap %.2f)\n", noser, glibc / noser);
        printf("  heap, serialized           %6.2f ns  (glibc/heap %.2f)\n", ser, glibc / ser);
    }

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
