/*
 * mstress: a mixed stress test in the manner of mimalloc-bench's mstress and
 * rpmalloc's rptest.
 *
 * Threads run in rounds; every round starts fresh threads (so memory of
 * finished threads must be reused) that keep a private set of live objects,
 * allocate and free at random with sizes mostly small (90 % up to 256 bytes),
 * sometimes medium (up to 16 KiB), rarely large (up to 512 KiB).  Now and
 * then a thread swaps one of its objects into a shared transfer table and
 * takes what was there, so objects migrate between threads and are freed far
 * from where they were allocated.  Objects left in a private set at the end
 * of a round are given to the next round's thread to free.
 */
#include "wl_common.h"

#define TRANSFER 1000

typedef struct obj {
    size_t   size;
    uint64_t tag;       /* also stored in the block by wl_fill */
} obj;

static _Atomic(obj *) transfer[TRANSFER];

typedef struct worker_arg {
    int      id;
    uint64_t step_rng;      /* one draw per step: what to do */
    uint64_t size_rng;      /* one draw per allocation: its size */
    uint64_t pick_rng;      /* which object; its use may vary with timing */
    uint64_t steps;
    size_t   max_live;
    obj    **live;          /* inherited from the previous round */
    size_t   n;
    uint64_t next_tag;
    uint64_t sum;
} worker_arg;

static size_t mixed_size(uint64_t *rng)
{
    uint64_t r = wl_below(rng, 1000);
    if (r < 900)
        return wl_log_size(rng, 16, 256);
    if (r < 995)
        return wl_log_size(rng, 257, 16384);
    return wl_log_size(rng, 16385, 512 * 1024);
}

/* The object header comes first in the block, the tag right after it. */
static obj *obj_new(worker_arg *w)
{
    size_t sz = mixed_size(&w->size_rng);
    obj *o = wl_check_alloc(malloc(sizeof(obj) + sz), sizeof(obj) + sz);
    o->size = sz;
    o->tag = ((uint64_t)w->id << 44) | ++w->next_tag;
    wl_fill(o + 1, sz, o->tag);
    return o;
}

/* Which thread frees an object depends on timing, so sums are order-free;
 * what is allocated does not, so the checksum is fixed. */
static void obj_free(worker_arg *w, obj *o)
{
    uint64_t t = wl_verify(o + 1, o->size);
    w->sum += t == o->tag ? t : t ^ 0xBADull;
    free(o);
}

static void *worker(void *arg)
{
    worker_arg *w = arg;

    for (uint64_t k = 0; k < w->steps; k++) {
        uint64_t r = wl_below(&w->step_rng, 100);
        if (r < 50) {
            if (w->n == w->max_live) {
                size_t i = (size_t)wl_below(&w->pick_rng, w->n);
                obj_free(w, w->live[i]);
                w->live[i] = w->live[--w->n];
            }
            w->live[w->n++] = obj_new(w);
        } else if (r < 95 && w->n > 0) {
            size_t i = (size_t)wl_below(&w->pick_rng, w->n);
            obj_free(w, w->live[i]);
            w->live[i] = w->live[--w->n];
        } else if (w->n > 0) {
            size_t i = (size_t)wl_below(&w->pick_rng, w->n);
            size_t j = (size_t)wl_below(&w->pick_rng, TRANSFER);
            obj *got = atomic_exchange(&transfer[j], w->live[i]);
            if (got != NULL)
                w->live[i] = got;
            else
                w->live[i] = w->live[--w->n];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "mstress", 2);
    const int rounds = 10;
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].id = t;
        w[t].step_rng = 0x3575 + (uint64_t)t * 977;
        w[t].size_rng = 0x51E5 + (uint64_t)t * 1447;
        w[t].pick_rng = 0x91C4 + (uint64_t)t * 331;
        w[t].steps = wl_scaled(&a, 5000000) / rounds;
        w[t].max_live = 20000;
        w[t].live = wl_check_alloc(calloc(w[t].max_live, sizeof(obj *)),
                                   w[t].max_live * sizeof(obj *));
    }
    for (int r = 0; r < rounds; r++)
        wl_run_threads(a.threads, worker, w, sizeof *w);

    for (int t = 0; t < a.threads; t++) {
        while (w[t].n > 0)
            obj_free(&w[t], w[t].live[--w[t].n]);
        free(w[t].live);
    }
    for (size_t j = 0; j < TRANSFER; j++) {
        obj *o = atomic_exchange(&transfer[j], NULL);
        if (o != NULL)
            obj_free(&w[0], o);
    }
    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].sum;
    free(w);
    return wl_finish(&a, sum);
}
