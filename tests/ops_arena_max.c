/*
 * arena_max=2: 16 threads allocate, check and free blocks (half of them
 * freed by the next thread: remote frees into shared arenas) while the
 * number of arenas stays at most 2, all of them shared (malloc_info's
 * <heap> elements), with no corruption (every block's pattern checked
 * before it is freed) and bounded memory: committed bytes at the end below
 * 64 MiB, for a peak live set of 16 x 256 blocks of up to 4 KiB.
 * The same through mallopt(M_ARENA_MAX, 2) called by main after its first
 * allocation: main leaves its own arena (abandoned), and no thread gets an
 * arena of its own.  verbose=1 reports each shared arena made, main
 * leaving its arena and the mallopt call.
 */
#include "ops_test.h"

#include <pthread.h>

#define THREADS 16
#define ROUNDS 50
#define BATCH 256

static void *handoff[THREADS][BATCH];
static pthread_barrier_t barrier;
static _Atomic int bad;

static void fill(unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(tag + i);
}

static bool check(const unsigned char *p, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(tag + i)) return false;
    return true;
}

static size_t size_of(unsigned t, unsigned r, unsigned i)
{
    return 16 + ((t * 131 + r * 17 + i * 29) % 4080);
}

static void *worker(void *arg)
{
    unsigned t = (unsigned)(uintptr_t)arg;
    unsigned next = (t + 1) % THREADS;
    for (unsigned r = 0; r < ROUNDS; r++) {
        void *mine[BATCH];
        for (unsigned i = 0; i < BATCH; i++) {
            size_t n = size_of(t, r, i);
            mine[i] = malloc(n);
            if (!mine[i]) {
                bad = 1;
                return NULL;
            }
            fill(mine[i], n, t * 7 + i);
        }
        for (unsigned i = 0; i < BATCH; i++) {
            if (!check(mine[i], size_of(t, r, i), t * 7 + i)) bad = 1;
            if (i & 1) free(mine[i]);
            else handoff[t][i] = mine[i];
        }
        pthread_barrier_wait(&barrier);
        /* Free the previous thread's even blocks: remote frees. */
        unsigned prev = (t + THREADS - 1) % THREADS;
        for (unsigned i = 0; i < BATCH; i += 2) {
            if (!check(handoff[prev][i], size_of(prev, r, i), prev * 7 + i)) bad = 1;
            free(handoff[prev][i]);
        }
        pthread_barrier_wait(&barrier);
        (void)next;
    }
    return NULL;
}

static int child(bool by_mallopt)
{
    void *volatile first = malloc(100);   /* main's arena is bound now */
    free(first);
    if (by_mallopt && mallopt(M_ARENA_MAX, 2) != 1) return 2;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t) != 0) return 2;
    for (unsigned t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    if (bad) return 3;
    /* Count the arenas: every <heap> element names its kind. */
    static char xml[1 << 16];
    FILE *f = fmemopen(xml, sizeof xml - 1, "w");
    if (!f || malloc_info(0, f) != 0) return 2;
    fclose(f);
    unsigned own = ops_count(xml, "kind=\"arena\""), shared = ops_count(xml, "kind=\"shared\"");
    unsigned abandoned = ops_count(xml, "kind=\"abandoned\"");
    printf("arenas: own %u, shared %u, abandoned %u\n", own, shared, abandoned);
    if (own != 0 || shared < 1 || shared > 2) return 4;
    if (abandoned != (by_mallopt ? 1u : 0u)) return 5;
    wheap_stats st = { .size = sizeof st };
    if (!wheap_get_stats(NULL, &st)) return 2;
    printf("committed %zu\n", st.committed);
    if (st.committed > ((size_t)64 << 20)) return 6;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child(false);
    if (argc > 1 && strcmp(argv[1], "--child-mallopt") == 0) return child(true);
    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "SKIP: malloc is not wheap's\n");
        return TEST_SKIP;
    }
    static char out[65536];
    int st = ops_run_child("--child", "arena_max=2,verbose=1", out, sizeof out);
    fputs(out, stderr);
    expect_child_exit(st, 0);
    /* verbose=1 names each shared arena as it is made, and no other. */
    expect_eq_u64(ops_count(out, " created (shared 1 of 2)\n"), 1);
    expect_eq_u64(ops_count(out, " created (shared 2 of 2)\n"), 1);
    expect_eq_u64(ops_count(out, " created"), 2);
    expect_eq_u64(ops_count(out, " adopted\n"), 0);
    st = ops_run_child("--child-mallopt", "verbose=1", out, sizeof out);
    fputs(out, stderr);
    expect_child_exit(st, 0);
    expect_eq_u64(ops_count(out, " left for the shared mode\n"), 1);
    expect_eq_u64(ops_count(out, "wheap: mallopt(-8, 2) = 1\n"), 1);
    return test_done();
}
