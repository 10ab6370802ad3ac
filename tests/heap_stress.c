/* Multithreaded stress with content verification: threads allocate,
 * reallocate and free on a shared serialized heap (freeing each other's
 * blocks through a shared table) and on private unserialized heaps; every
 * block's contents are checked before it changes hands or goes. */
#include "heap_test.h"
#include <pthread.h>
#include <stdatomic.h>

enum { THREADS = 4, SLOTS = 4096, ROUNDS = 60000 };

typedef struct slot {
    pthread_mutex_t m;
    unsigned char  *p;
    size_t          n;
    unsigned        seed;
} slot;

static slot shared[SLOTS];
static wheap_heap *shared_heap;
static _Atomic int failures;

/* Counts a failure and says where (the first few). */
#define FAIL() \
    do { \
        if (atomic_fetch_add(&failures, 1) < 10) \
            fprintf(stderr, "%s:%d: check failed (round %d)\n", __FILE__, __LINE__, round); \
    } while (0)

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static size_t pick_size(unsigned *s)
{
    unsigned r = rnd(s) % 1000;
    if (r < 700) return rnd(s) % 256;
    if (r < 950) return rnd(s) % 8192;
    if (r < 998) return rnd(s) % 300000;
    return (size_t)(1 << 20) + rnd(s) % (2 << 20);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
    wheap_heap *mine = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    if (!mine) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    static __thread struct { unsigned char *p; size_t n; unsigned seed; } own[512];
    for (int round = 0; round < ROUNDS; round++) {
        unsigned r = rnd(&seed);
        if (r % 3 == 0) {
            /* The shared heap: replace, grow or drop a slot's block. */
            slot *s = &shared[rnd(&seed) % SLOTS];
            pthread_mutex_lock(&s->m);
            if (s->p && !pattern_ok(s->p, s->n, s->seed)) FAIL();
            if (s->p && wheap_heap_size(shared_heap, 0, s->p) != s->n) FAIL();
            if (s->p && r % 2) {
                size_t n = pick_size(&seed);
                unsigned char *q = wheap_heap_realloc(shared_heap, 0, s->p, n);
                if (!q) {
                    FAIL();
                } else {
                    size_t keep = n < s->n ? n : s->n;
                    if (!pattern_ok(q, keep, s->seed)) FAIL();
                    s->p = q;
                    s->n = n;
                    pattern_fill(q, n, s->seed);
                }
            } else {
                if (s->p && !wheap_heap_free(shared_heap, 0, s->p)) FAIL();
                s->n = pick_size(&seed);
                s->seed = rnd(&seed);
                s->p = wheap_heap_alloc(shared_heap, r % 5 ? 0 : WHEAP_HEAP_ZERO_MEMORY, s->n);
                if (!s->p) FAIL();
                else pattern_fill(s->p, s->n, s->seed);
            }
            pthread_mutex_unlock(&s->m);
        } else {
            /* The private heap. */
            unsigned k = rnd(&seed) % 512;
            if (own[k].p) {
                if (!pattern_ok(own[k].p, own[k].n, own[k].seed) ||
                    wheap_heap_size(mine, 0, own[k].p) != own[k].n)
                    FAIL();
                if (!wheap_heap_free(mine, 0, own[k].p)) FAIL();
                own[k].p = NULL;
            } else {
                own[k].n = pick_size(&seed) / 4;
                own[k].seed = rnd(&seed);
                own[k].p = wheap_heap_alloc(mine, 0, own[k].n);
                if (!own[k].p) FAIL();
                else pattern_fill(own[k].p, own[k].n, own[k].seed);
            }
        }
    }
    int round = ROUNDS;
    if (!wheap_heap_validate(mine, 0, NULL)) FAIL();
    for (int k = 0; k < 512; k++)
        if (own[k].p && !wheap_heap_free(mine, 0, own[k].p)) FAIL();
    if (!wheap_heap_destroy(mine)) FAIL();
    return NULL;
}

int main(void)
{
    shared_heap = wheap_heap_create(0, 0, 0);
    require_true(shared_heap != NULL);
    for (int i = 0; i < SLOTS; i++) pthread_mutex_init(&shared[i].m, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        require_true(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    expect_eq_u64(atomic_load(&failures), 0);
    expect_true(wheap_heap_validate(shared_heap, 0, NULL));
    for (int i = 0; i < SLOTS; i++)
        if (shared[i].p) {
            expect_true(pattern_ok(shared[i].p, shared[i].n, shared[i].seed));
            expect_true(wheap_heap_free(shared_heap, 0, shared[i].p));
        }
    wheap_stats st = { .size = sizeof st };
    expect_true(wheap_get_stats(shared_heap, &st));
    expect_eq_u64(st.allocated, 0);
    expect_true(wheap_heap_destroy(shared_heap));
    return test_done();
}
