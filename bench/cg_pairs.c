/*
 * cg_pairs: a fixed amount of small malloc+free work, for instruction
 * counting under valgrind --tool=callgrind (bench/callgrind.sh).
 *
 *   cg_pairs MODE N [SIZE]      (SIZE defaults to 32 bytes)
 *
 *   pair    N times: p = malloc(SIZE), write a byte, free(p)
 *   batch   N / 256 times: 256 mallocs, then their 256 frees, one thread
 *   cross   as batch, but a second thread frees each batch (remote frees)
 *
 * MODE with a "0" suffix (pair0, batch0, cross0) runs the same loops, writes
 * and thread handoffs without calling the allocator.  callgrind.sh counts
 * instructions for N and 2N in both and reports
 *   ((Ir(2N) - Ir(N)) - (Ir0(2N) - Ir0(N))) / N
 * so start-up, loop, handoff and exit cost cancel out and what remains is
 * the allocator's work per pair: calls, PLT jumps and returns included.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 256

static int use_allocator;
static size_t size;
static char dummy[BATCH][64];

static inline void *get(size_t i)
{
    void *p = use_allocator ? malloc(size) : (void *)dummy[i % BATCH];
    __asm__ volatile("" : "+r"(p) : : "memory");
    if (p == NULL)
        abort();
    *(volatile char *)p = (char)i;
    return p;
}

static inline void put(void *p)
{
    __asm__ volatile("" : "+r"(p) : : "memory");
    if (use_allocator)
        free(p);
}

static void run_pair(long n)
{
    for (long i = 0; i < n; i++)
        put(get((size_t)i));
}

static void run_batch(long n)
{
    void *a[BATCH];

    for (long b = 0; b < n / BATCH; b++) {
        for (size_t i = 0; i < BATCH; i++)
            a[i] = get(i);
        for (size_t i = 0; i < BATCH; i++)
            put(a[i]);
    }
}

static void *handoff[BATCH];
static sem_t allocated, freed;
static long batches;

static void *remote_freer(void *arg)
{
    (void)arg;
    for (long b = 0; b < batches; b++) {
        sem_wait(&allocated);
        for (size_t i = 0; i < BATCH; i++)
            put(handoff[i]);
        sem_post(&freed);
    }
    return NULL;
}

static void run_cross(long n)
{
    pthread_t t;

    batches = n / BATCH;
    sem_init(&allocated, 0, 0);
    sem_init(&freed, 0, 1);
    if (pthread_create(&t, NULL, remote_freer, NULL) != 0)
        abort();
    for (long b = 0; b < batches; b++) {
        sem_wait(&freed);
        for (size_t i = 0; i < BATCH; i++)
            handoff[i] = get(i);
        sem_post(&allocated);
    }
    pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cg_pairs pair|batch|cross[0] N [size]\n");
        return 2;
    }
    char mode[16];
    snprintf(mode, sizeof mode, "%s", argv[1]);
    size_t len = strlen(mode);
    use_allocator = !(len > 0 && mode[len - 1] == '0');
    if (!use_allocator)
        mode[len - 1] = '\0';
    long n = atol(argv[2]);
    size = argc > 3 ? (size_t)atol(argv[3]) : 32;

    /* Warm up outside the measured difference: the first calls of every
     * allocator initialise it, and both N and 2N runs pay the same. */
    use_allocator ? free(malloc(size)) : (void)0;

    if (strcmp(mode, "pair") == 0)
        run_pair(n);
    else if (strcmp(mode, "batch") == 0)
        run_batch(n);
    else if (strcmp(mode, "cross") == 0)
        run_cross(n);
    else {
        fprintf(stderr, "cg_pairs: unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
