/*
 * cache-thrash: active false sharing, after the cache-thrash test of Berger
 * et al., "Hoard: a scalable memory allocator for multithreaded
 * applications" (ASPLOS 2000).
 *
 * Each worker, on its own, allocates a small object, writes it many times and
 * frees it, over and over.  An allocator that carves neighbouring threads'
 * objects from one cache line (a shared free list, a single heap) makes the
 * workers' writes bounce that line between cores.
 */
#include "wl_common.h"

#define OBJ_SIZE 8

typedef struct worker_arg {
    uint64_t iterations, repetitions;
    uint64_t sum;
    char     pad[64];
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t sum = 0;

    for (uint64_t i = 0; i < w->iterations; i++) {
        volatile char *obj = wl_check_alloc(malloc(OBJ_SIZE), OBJ_SIZE);
        for (int k = 0; k < OBJ_SIZE; k++)
            obj[k] = (char)(i + (uint64_t)k);
        for (uint64_t r = 0; r < w->repetitions; r++)
            for (int k = 0; k < OBJ_SIZE; k++)
                obj[k] = (char)(obj[k] + 1);
        for (int k = 0; k < OBJ_SIZE; k++)
            sum = wl_mix(sum, (unsigned char)obj[k]);
        free((void *)obj);
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "cache-thrash", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].iterations = wl_scaled(&a, 100000);
        w[t].repetitions = 1000;
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].sum;
    free(w);
    return wl_finish(&a, sum);
}
