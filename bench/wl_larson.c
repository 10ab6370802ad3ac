/*
 * larson: a server simulation after Larson and Krishnan, "Memory allocation
 * for long-running server applications" (ISMM 1998).
 *
 * Each of T lineages owns a table of live blocks of 8..1000 bytes, filled
 * at start by the main thread.  A worker thread replaces random blocks with
 * new random-sized ones, then starts a fresh thread that inherits the table
 * and exits.  So most frees are of blocks another (often finished) thread
 * allocated, threads are short-lived, and several lineages run at once: the
 * life of a thread-per-connection server.
 */
#include "wl_common.h"

#include <semaphore.h>

#define LARSON_MIN 8
#define LARSON_MAX 1000

typedef struct lineage {
    int       id;
    uint64_t  rng;
    size_t    nslots;
    void    **slot;
    size_t   *size;
    uint64_t  ops_per_generation;
    int       generations_left;
    uint64_t  next_tag;
    uint64_t  hash;
    sem_t    *done;
} lineage;

static void replace_block(lineage *l, size_t i)
{
    if (l->slot[i] != NULL) {
        l->hash = wl_mix(l->hash, wl_verify(l->slot[i], l->size[i]));
        free(l->slot[i]);
    }
    size_t sz = wl_between(&l->rng, LARSON_MIN, LARSON_MAX);
    void *p = wl_check_alloc(malloc(sz), sz);
    wl_fill(p, sz, ((uint64_t)l->id << 48) | l->next_tag++);
    l->slot[i] = p;
    l->size[i] = sz;
}

static void *worker(void *arg)
{
    lineage *l = arg;

    for (uint64_t k = 0; k < l->ops_per_generation; k++)
        replace_block(l, (size_t)wl_below(&l->rng, l->nslots));

    if (--l->generations_left > 0) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int e;
        while ((e = pthread_create(&t, &attr, worker, l)) == EAGAIN)
            wl_sleep_ms(1);
        if (e != 0)
            wl_die("pthread_create: %s", strerror(e));
        pthread_attr_destroy(&attr);
    } else {
        sem_post(l->done);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;
    sem_t done;

    wl_parse(argc, argv, &a, "larson", 2);
    const int generations = 50;
    const size_t nslots = 4000;
    uint64_t ops = wl_scaled(&a, 8000000) / generations;

    lineage *ls = wl_check_alloc(calloc((size_t)a.threads, sizeof *ls), sizeof *ls);
    sem_init(&done, 0, 0);
    for (int t = 0; t < a.threads; t++) {
        lineage *l = &ls[t];
        l->id = t;
        l->rng = 0x1A850Bull * (uint64_t)(t + 1);
        l->nslots = nslots;
        l->slot = wl_check_alloc(calloc(nslots, sizeof *l->slot), nslots * sizeof *l->slot);
        l->size = wl_check_alloc(calloc(nslots, sizeof *l->size), nslots * sizeof *l->size);
        l->ops_per_generation = ops;
        l->generations_left = generations;
        l->done = &done;
        for (size_t i = 0; i < nslots; i++)
            replace_block(l, i);
    }
    for (int t = 0; t < a.threads; t++) {
        pthread_t tid;
        int e = pthread_create(&tid, NULL, worker, &ls[t]);
        if (e != 0)
            wl_die("pthread_create: %s", strerror(e));
        pthread_detach(tid);
    }
    for (int t = 0; t < a.threads; t++)
        sem_wait(&done);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++) {
        lineage *l = &ls[t];
        for (size_t i = 0; i < l->nslots; i++) {
            l->hash = wl_mix(l->hash, wl_verify(l->slot[i], l->size[i]));
            free(l->slot[i]);
        }
        free(l->slot);
        free(l->size);
        sum += l->hash;
    }
    free(ls);
    return wl_finish(&a, sum);
}
