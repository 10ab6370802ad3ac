/*
 * glibc-simple: the loops of glibc's benchtests/bench-malloc-simple.
 *
 * Allocate a batch of N blocks of one size, then free them all in the order
 * they came, for N in 25, 100, 400, 1600 and sizes 16 to 1024 bytes.  The
 * whole sweep runs first on the main thread, then on a second thread (glibc
 * serves that one from another arena), the fast paths' bread and butter.
 */
#include "wl_common.h"

typedef struct sweep_arg {
    uint64_t rounds;
    uint64_t hash;
} sweep_arg;

static const size_t sizes[] = { 16, 32, 64, 128, 256, 512, 1024 };
static const size_t counts[] = { 25, 100, 400, 1600 };

static void *sweep(void *arg)
{
    sweep_arg *s = arg;
    void *block[1600];
    uint64_t hash = s->hash, tag = 0;

    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            size_t n = counts[ci], sz = sizes[si];
            /* the same number of blocks for every batch size */
            uint64_t rounds = s->rounds * 1600 / n;
            for (uint64_t r = 0; r < rounds; r++) {
                for (size_t i = 0; i < n; i++) {
                    block[i] = wl_check_alloc(malloc(sz), sz);
                    wl_fill(block[i], sz, ++tag);
                }
                for (size_t i = 0; i < n; i++) {
                    hash += wl_verify(block[i], sz);
                    free(block[i]);
                }
            }
            hash = wl_mix(hash, tag);
        }
    }
    s->hash = hash;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;
    sweep_arg s = { 0, 0 };

    wl_parse(argc, argv, &a, "glibc-simple", 1);
    s.rounds = wl_scaled(&a, 150);
    sweep(&s);
    wl_run_threads(1, sweep, &s, sizeof s);
    return wl_finish(&a, s.hash);
}
