/*
 * Multithreaded stress with cross-thread frees and content verification.
 *
 * Six threads each allocate blocks (malloc, calloc, memalign, realloc; sizes
 * log-uniform over 1..64 KiB, one in 2000 of 1..8 MiB), fill them with a
 * pattern derived from their address and a sequence number, and pass most of
 * them to another thread through a small locked queue.  The receiver verifies
 * the pattern, sometimes reallocs the block (a resize by a thread that does
 * not own it) and verifies again, then frees it.  Each thread also keeps a
 * set of long-lived blocks that it replaces at random.  Any block handed out
 * twice, damaged by allocator metadata, or copied wrongly shows up as a
 * pattern mismatch.
 *
 * Bounded time: a fixed number of operations, cut short with a note after
 * 30 s of wall time (a slow or loaded machine), and an alarm that fails the
 * test if it hangs.  MALLOC_THREADS_OPS overrides the operation count.
 */
#include "malloc_test.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NTHREADS = 6, RING = 1024, KEEP = 64 };

typedef struct item {
    char *p;
    size_t n;
    uint64_t seed;
} item;

typedef struct queue {
    pthread_mutex_t lock;
    item ring[RING];
    unsigned head, tail;     /* head - tail items are queued */
} queue;

static queue queues[NTHREADS];
static atomic_int errors;
static atomic_int stop_early;
static atomic_long blocks_passed, large_blocks;
static long ops_per_thread = 200000;
static double deadline;
static pthread_barrier_t done_barrier;

#define report(...) \
    do { \
        if (atomic_fetch_add(&errors, 1) < 20) { \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
        } \
    } while (0)

static bool push(int to, item it)
{
    queue *q = &queues[to];
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (q->head - q->tail < RING) {
        q->ring[q->head++ % RING] = it;
        ok = true;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static bool pop(int self, item *it)
{
    queue *q = &queues[self];
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (q->head != q->tail) {
        *it = q->ring[q->tail++ % RING];
        ok = true;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static uint64_t seed_of(const void *p, uint64_t seq)
{
    return (uint64_t)(uintptr_t)p * 31 + seq;
}

static void verify(const item *it, const char *what)
{
    size_t bad = mt_check(it->p, it->n, it->seed);
    if (bad != it->n)
        report("%s: block %p of %zu bytes damaged at offset %zu", what, (void *)it->p, it->n, bad);
}

static size_t random_size(uint64_t *rng)
{
    uint64_t r = mt_rand(rng);
    if (r % 2000 == 0) {
        atomic_fetch_add(&large_blocks, 1);
        return (size_t)(1u << 20) + (size_t)(mt_rand(rng) % (7u << 20));
    }
    unsigned bits = (unsigned)(r >> 32) % 17;        /* 1 .. 64 KiB, log-uniform */
    return (size_t)(mt_rand(rng) & ((1u << bits) - 1)) + 1;
}

static item make_block(uint64_t *rng, uint64_t seq)
{
    item it = {NULL, random_size(rng), 0};
    switch (mt_rand(rng) % 8) {
    case 0:
        it.p = calloc(1, it.n);
        if (it.p && !mt_all_zero(it.p, it.n)) report("calloc(%zu) not zeroed", it.n);
        break;
    case 1:
        it.p = memalign(64, it.n);
        if (it.p && ((uintptr_t)it.p & 63)) report("memalign(64) = %p", (void *)it.p);
        break;
    default:
        it.p = malloc(it.n);
        break;
    }
    if (!it.p) {
        report("allocation of %zu bytes failed", it.n);
        return it;
    }
    it.seed = seed_of(it.p, seq);
    mt_fill(it.p, it.n, it.seed);
    return it;
}

/* Verifies, maybe resizes (by a thread that may not own it), frees. */
static void consume(item *it, uint64_t *rng, uint64_t seq, const char *from)
{
    verify(it, from);
    if (mt_rand(rng) % 4 == 0) {
        size_t m = random_size(rng);
        char *q = realloc(it->p, m);
        if (!q) {
            report("realloc(%zu -> %zu) failed", it->n, m);
        } else {
            size_t keep = it->n < m ? it->n : m;
            item t = {q, keep, it->seed};
            verify(&t, "realloc by another thread");
            it->p = q;
            it->n = m;
            it->seed = seed_of(q, seq);
            mt_fill(q, m, it->seed);
            verify(it, "after realloc");
        }
    }
    free(it->p);
    it->p = NULL;
}

static void *worker(void *arg)
{
    int self = (int)(intptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(self + 1);
    item keep[KEEP] = {{0}};
    uint64_t seq = (uint64_t)self << 40;
    long passed = 0;

    for (long op = 0; op < ops_per_thread; op++) {
        if ((op & 1023) == 0 && mt_now() > deadline) {
            atomic_store(&stop_early, 1);
            break;
        }
        item it = make_block(&rng, ++seq);
        if (!it.p) continue;
        uint64_t r = mt_rand(&rng);
        if (r % 8 == 0) {                 /* replace a long-lived block */
            item *k = &keep[(r >> 8) % KEEP];
            if (k->p) consume(k, &rng, ++seq, "long-lived block");
            *k = it;
        } else {
            int to = (self + 1 + (int)((r >> 16) % (NTHREADS - 1))) % NTHREADS;
            if (push(to, it)) passed++;
            else consume(&it, &rng, ++seq, "own block (queue full)");
        }
        item in;
        for (int k = 0; k < 4 && pop(self, &in); k++) consume(&in, &rng, ++seq, "received block");
    }
    atomic_fetch_add(&blocks_passed, passed);

    /* Everyone has stopped sending: drain what is left for us. */
    pthread_barrier_wait(&done_barrier);
    item in;
    while (pop(self, &in)) consume(&in, &rng, ++seq, "received block (drain)");
    for (int k = 0; k < KEEP; k++)
        if (keep[k].p) consume(&keep[k], &rng, ++seq, "long-lived block (end)");
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "malloc_threads: FAILED: still running after 90 s (hang?)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

int main(void)
{
    const char *env = getenv("MALLOC_THREADS_OPS");
    if (env && atol(env) > 0) ops_per_thread = atol(env);
    signal(SIGALRM, on_alarm);
    alarm(90);
    double start = mt_now();
    deadline = start + 30;
    fprintf(stderr, "allocator: %s, %d threads x %ld operations\n",
            mt_malloc_is_wheap() ? "wheap" : "not wheap", NTHREADS, ops_per_thread);

    for (int i = 0; i < NTHREADS; i++) pthread_mutex_init(&queues[i].lock, NULL);
    pthread_barrier_init(&done_barrier, NULL, NTHREADS);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        require_true(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++) expect_eq_u64(queues[i].head, queues[i].tail);

    if (atomic_load(&stop_early))
        fprintf(stderr, "note: stopped at the 30 s limit before all operations ran\n");
    fprintf(stderr, "%.2f s, %ld blocks passed between threads, %ld large blocks\n",
            mt_now() - start, atomic_load(&blocks_passed), atomic_load(&large_blocks));
    if (atomic_load(&errors)) {
        fprintf(stderr, "%d errors\n", atomic_load(&errors));
        return 1;
    }
    return test_done();
}
