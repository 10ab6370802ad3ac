/*
 * PITFALLS 3: fork in a multithreaded process.  Three threads hammer
 * malloc, calloc, realloc and free (small and large blocks) while a fourth
 * forks 300 times.  Each child allocates, resizes, verifies and frees blocks
 * of every size range, starts a thread that does the same, and exits 0 at
 * once.  A child that inherits an allocator lock held by another parent
 * thread hangs on its first malloc: the parent gives each child 10 s, then
 * kills it and fails; a crash or a non-zero exit fails too.  The parent's
 * own threads must keep working across the forks.
 */
#include "malloc_test.h"

#include <pthread.h>
#include <stdatomic.h>

enum { HAMMERS = 3, FORKS = 300, CHILD_TIMEOUT_MS = 10000 };

static atomic_int stop;
static atomic_long hammer_ops;
static atomic_int hammer_errors;

static void *hammer(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    enum { LIVE = 128 };
    char *blk[LIVE] = {0};
    size_t len[LIVE] = {0};
    uint64_t seed[LIVE] = {0}, seq = 0;
    long ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int i = (int)(mt_rand(&rng) % LIVE);
        uint64_t r = mt_rand(&rng);
        size_t n = r % 100 == 0 ? (size_t)(r >> 20) % (2u << 20) + 1 : (size_t)(r >> 20) % 3000 + 1;
        if (blk[i] && mt_check(blk[i], len[i], seed[i]) != len[i])
            atomic_fetch_add(&hammer_errors, 1);
        switch (r % 4) {
        case 0:
            free(blk[i]);
            blk[i] = malloc(n);
            break;
        case 1: {
            char *q = realloc(blk[i], n);
            if (!q) continue;
            blk[i] = q;
            size_t keep = len[i] < n ? len[i] : n;
            if (keep && mt_check(q, keep, seed[i]) != keep) atomic_fetch_add(&hammer_errors, 1);
            break;
        }
        case 2:
            free(blk[i]);
            blk[i] = calloc(1, n);
            break;
        default:
            free(blk[i]);
            blk[i] = NULL;
            len[i] = 0;
            continue;
        }
        if (!blk[i]) {
            atomic_fetch_add(&hammer_errors, 1);
            len[i] = 0;
            continue;
        }
        len[i] = n;
        seed[i] = ++seq;
        mt_fill(blk[i], n, seed[i]);
        ops++;
    }
    for (int i = 0; i < LIVE; i++) free(blk[i]);
    atomic_fetch_add(&hammer_ops, ops);
    return NULL;
}

/* ---- the child ------------------------------------------------------------ */

static int child_work(uint64_t salt)
{
    static const size_t sizes[] = {1, 16, 100, 1000, 5000, 70000, 300000, 1 << 20};
    char *blk[sizeof sizes / sizeof sizes[0]];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        blk[i] = malloc(sizes[i]);
        if (!blk[i]) return 2;
        mt_fill(blk[i], sizes[i], salt + i);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (mt_check(blk[i], sizes[i], salt + i) != sizes[i]) return 3;
        char *q = realloc(blk[i], sizes[i] * 2);
        if (!q || mt_check(q, sizes[i], salt + i) != sizes[i]) return 4;
        free(q);
    }
    void *z = calloc(1000, 10);
    if (!z || !mt_all_zero(z, 10000)) return 5;
    free(z);
    return 0;
}

static void *child_thread(void *arg)
{
    return (void *)(intptr_t)child_work((uint64_t)(intptr_t)arg);
}

static void run_child(int k)
{
    int rc = child_work((uint64_t)k * 100);
    if (rc) _exit(rc);
    pthread_t t;
    void *trc = NULL;
    if (pthread_create(&t, NULL, child_thread, (void *)(intptr_t)(k * 100 + 50)) != 0) _exit(6);
    pthread_join(t, &trc);
    _exit((int)(intptr_t)trc);
}

/* ---- the forking thread ------------------------------------------------- */

static int forks_done, hung, crashed, bad_exit;

static void *forker(void *arg)
{
    (void)arg;
    for (int k = 0; k < FORKS; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            crashed++;
            break;
        }
        if (pid == 0) run_child(k);
        int status = 0, waited = 0;
        pid_t w;
        while ((w = waitpid(pid, &status, WNOHANG)) == 0 && waited < CHILD_TIMEOUT_MS) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            waited++;
        }
        if (w == 0) {
            fprintf(stderr, "FAILED: child %d (pid %d) still running after %d s: hung in the "
                    "allocator after fork?\n", k, (int)pid, CHILD_TIMEOUT_MS / 1000);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung++;
            if (hung >= 3) break;
        } else if (WIFSIGNALED(status)) {
            fprintf(stderr, "FAILED: child %d died by signal %d\n", k, WTERMSIG(status));
            crashed++;
        } else if (WEXITSTATUS(status) != 0) {
            fprintf(stderr, "FAILED: child %d exited %d\n", k, WEXITSTATUS(status));
            bad_exit++;
        }
        forks_done++;
    }
    return NULL;
}

int main(void)
{
    alarm(150);      /* SIGALRM fails a hung parent; the children have 10 s each */
    double start = mt_now();
    pthread_t h[HAMMERS], f;
    for (int i = 0; i < HAMMERS; i++)
        require_true(pthread_create(&h[i], NULL, hammer, (void *)(intptr_t)(i + 1)) == 0);
    require_true(pthread_create(&f, NULL, forker, NULL) == 0);
    pthread_join(f, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < HAMMERS; i++) pthread_join(h[i], NULL);

    fprintf(stderr, "allocator: %s; %d forks in %.2f s while %ld operations ran in %d threads\n",
            mt_malloc_is_wheap() ? "wheap" : "not wheap", forks_done, mt_now() - start,
            atomic_load(&hammer_ops), HAMMERS);
    expect_eq_u64(forks_done, FORKS);
    expect_eq_u64(hung, 0);
    expect_eq_u64(crashed, 0);
    expect_eq_u64(bad_exit, 0);
    expect_eq_u64(atomic_load(&hammer_errors), 0);
    /* The parent allocator still works. */
    void *p = malloc(12345);
    expect_not_null(p);
    free(p);
    return test_done();
}
