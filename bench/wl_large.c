/*
 * large: big buffers, as image, column-store and network-buffer code use
 * them.
 *
 * Each thread keeps 6 buffers and replaces a random one at every step with a
 * new buffer of 64 KiB to 32 MiB (log-uniform: every power of two equally
 * likely), writing one byte in every page as a program filling it would
 * fault them in, and reading the pages back before freeing it.
 */
#include "wl_common.h"

#define SLOTS 6

typedef struct worker_arg {
    int      id;
    uint64_t steps;
    uint64_t hash;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t rng = 0x1A26E + (uint64_t)w->id * 3571, hash = 0;
    uint64_t tag = (uint64_t)w->id << 40;
    void *block[SLOTS] = { 0 };
    size_t size[SLOTS] = { 0 };

    for (uint64_t k = 0; k < w->steps; k++) {
        size_t i = (size_t)wl_below(&rng, SLOTS);
        if (block[i] != NULL) {
            hash = wl_mix(hash, wl_verify(block[i], size[i]));
            free(block[i]);
        }
        size[i] = wl_log_size(&rng, (size_t)64 << 10, (size_t)32 << 20);
        block[i] = wl_check_alloc(malloc(size[i]), size[i]);
        wl_fill(block[i], size[i], ++tag);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (block[i] != NULL) {
            hash = wl_mix(hash, wl_verify(block[i], size[i]));
            free(block[i]);
        }
    }
    w->hash = hash;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "large", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].id = t;
        w[t].steps = wl_scaled(&a, 800);
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].hash;
    free(w);
    return wl_finish(&a, sum);
}
