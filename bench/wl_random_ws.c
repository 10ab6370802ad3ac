/*
 * random-ws: a random-size working set that changes shape over time, the
 * fragmentation test.
 *
 * Each thread keeps about 24 MiB live in blocks whose sizes are log-uniform
 * in a range, replacing random blocks one at a time.  The range moves through
 * four phases (16..128 B, 64 B..1 KiB, 512 B..16 KiB, 16 B..64 KiB), as a
 * program's data does between start-up, steady state and bursts: memory
 * freed in one phase has to be reused for blocks of other sizes in the next.
 * Peak RSS shows how well the allocator reuses it.
 */
#include "wl_common.h"

typedef struct worker_arg {
    int      id;
    uint64_t steps_per_phase;
    size_t   target_bytes;
    uint64_t hash;
} worker_arg;

static const size_t phase_lo[] = { 16, 64, 512, 16 };
static const size_t phase_hi[] = { 128, 1024, 16384, 65536 };

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t rng = 0x5EED5 + (uint64_t)w->id * 6151, hash = 0;
    uint64_t tag = (uint64_t)w->id << 44;
    size_t cap = 1 << 20, n = 0, live = 0;
    void **block = wl_check_alloc(malloc(cap * sizeof *block), cap * sizeof *block);
    size_t *size = wl_check_alloc(malloc(cap * sizeof *size), cap * sizeof *size);

    for (size_t ph = 0; ph < sizeof phase_lo / sizeof phase_lo[0]; ph++) {
        for (uint64_t k = 0; k < w->steps_per_phase; k++) {
            /* Below the target the set grows, above it shrinks, around it
             * blocks are replaced: the live total hovers at the target. */
            if (live > w->target_bytes || (live * 10 > w->target_bytes * 9 && n > 0 &&
                                           wl_below(&rng, 2))) {
                size_t i = (size_t)wl_below(&rng, n);
                hash = wl_mix(hash, wl_verify(block[i], size[i]));
                free(block[i]);
                live -= size[i];
                block[i] = block[--n];
                size[i] = size[n];
            }
            if (live <= w->target_bytes && n < cap) {
                size_t sz = wl_log_size(&rng, phase_lo[ph], phase_hi[ph]);
                block[n] = wl_check_alloc(malloc(sz), sz);
                size[n] = sz;
                wl_fill(block[n], sz, ++tag);
                live += sz;
                n++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        hash = wl_mix(hash, wl_verify(block[i], size[i]));
        free(block[i]);
    }
    free(block);
    free(size);
    w->hash = hash;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "random-ws", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].id = t;
        w[t].steps_per_phase = wl_scaled(&a, 1000000);
        w[t].target_bytes = (size_t)24 << 20;
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].hash;
    free(w);
    return wl_finish(&a, sum);
}
