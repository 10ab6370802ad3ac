/*
 * cache-scratch: passive false sharing, after the cache-scratch test of
 * Berger et al., "Hoard: a scalable memory allocator for multithreaded
 * applications" (ASPLOS 2000).
 *
 * The main thread allocates one small object per worker, back to back, so
 * they share cache lines, and hands one to each worker.  Each worker frees
 * it, then over and over allocates an object of the same size, writes it many
 * times and frees it.  An allocator that serves the worker from the memory of
 * the object it just freed (which sits next to other workers' objects) makes
 * the workers' writes fight for one cache line.
 */
#include "wl_common.h"

#define OBJ_SIZE 8

typedef struct worker_arg {
    char    *handed;
    uint64_t iterations, repetitions;
    uint64_t sum;
    char     pad[64];
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t sum = 0;

    free(w->handed);
    for (uint64_t i = 0; i < w->iterations; i++) {
        volatile char *obj = wl_check_alloc(malloc(OBJ_SIZE), OBJ_SIZE);
        for (int k = 0; k < OBJ_SIZE; k++)
            obj[k] = (char)k;
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

    wl_parse(argc, argv, &a, "cache-scratch", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].handed = wl_check_alloc(malloc(OBJ_SIZE), OBJ_SIZE);
        memset(w[t].handed, 1, OBJ_SIZE);
        w[t].iterations = wl_scaled(&a, 5000);
        w[t].repetitions = 20000;
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].sum;
    free(w);
    return wl_finish(&a, sum);
}
