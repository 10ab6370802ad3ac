/*
 * glibc-thread: the loop of glibc's benchtests/bench-malloc-thread.
 *
 * Every thread keeps a working set of 1024 blocks and, at each step, frees a
 * random one and allocates a new block in its place.  Sizes follow an
 * inverse-square law between 4 bytes and 32 KiB: most blocks are tiny, a few
 * are large, and the large ones hold most of the bytes.
 */
#include "wl_common.h"

#define WORKING_SET 1024
#define MIN_SIZE    4
#define MAX_SIZE    32768

typedef struct worker_arg {
    int      id;
    uint64_t steps;
    uint64_t hash;
} worker_arg;

/* Inverse transform of the density c / x^2 on [MIN_SIZE, MAX_SIZE]. */
static size_t inverse_square_size(uint64_t *rng)
{
    const double lo = 1.0 / MIN_SIZE, hi = 1.0 / MAX_SIZE;
    double u = (double)(wl_rand(rng) >> 11) * 0x1.0p-53;
    size_t s = (size_t)(1.0 / (lo - u * (lo - hi)));
    return s < MIN_SIZE ? MIN_SIZE : s > MAX_SIZE ? MAX_SIZE : s;
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    void *block[WORKING_SET] = { 0 };
    size_t size[WORKING_SET] = { 0 };
    uint64_t rng = 0x611BC + (uint64_t)w->id * 104729, hash = 0;
    uint64_t tag = (uint64_t)w->id << 40;

    for (uint64_t k = 0; k < w->steps; k++) {
        size_t i = (size_t)wl_below(&rng, WORKING_SET);
        if (block[i] != NULL) {
            hash = wl_mix(hash, wl_verify(block[i], size[i]));
            free(block[i]);
        }
        size[i] = inverse_square_size(&rng);
        block[i] = wl_check_alloc(malloc(size[i]), size[i]);
        wl_fill(block[i], size[i], ++tag);
    }
    for (size_t i = 0; i < WORKING_SET; i++) {
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

    wl_parse(argc, argv, &a, "glibc-thread", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].id = t;
        w[t].steps = wl_scaled(&a, 12000000);
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].hash;
    free(w);
    return wl_finish(&a, sum);
}
