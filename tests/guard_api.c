/*
 * Guard modes: every entry point that takes or gives a malloc block works
 * on guarded blocks, with contents checked; sampling guards the share it
 * should; threads free each other's guarded blocks; the mapping budget
 * keeps /proc/self/maps bounded.  Each case runs in a fresh process with
 * WHEAP_OPTIONS set (tests/guard_test.h):
 *
 *   page_api      guard_mode=page: malloc of sizes 0 .. 3 MiB, calloc,
 *                 realloc growing and shrinking across slot classes and own
 *                 reservations, reallocarray, every aligned allocator (up to
 *                 64 KiB alignment), malloc_usable_size (the size asked for),
 *                 free_sized, free_aligned_sized, and the process heap API
 *                 (size, validate, realloc with HEAP_ZERO_MEMORY, free);
 *                 each block is checked to sit before an inaccessible page
 *   sample_mixed  guard_mode=sample,guard_sample=2: realloc from guarded to
 *                 normal blocks and back keeps contents
 *   count         how many of a run of live blocks are guarded: all of them
 *                 with guard_sample=1 and in page mode, none when off, about
 *                 1 in 50 with guard_sample=50 (a band: 140 .. 260 of
 *                 10,000: the countdown is uniform in 1 .. 99, so the count's
 *                 standard deviation is about 8) and about 10 with the
 *                 default 1000 (3 .. 25); the same with shared arenas
 *                 (arena_max), which count in TLS
 *   threads       page mode: four threads hand their blocks to the next one,
 *                 which checks and frees them
 *   fork          page mode: fork while two threads allocate and free
 *                 guarded blocks; the child allocates, frees and reads a
 *                 block of the parent's
 *   maps          page mode: 120,000 live blocks; every allocation succeeds,
 *                 guarding stops when the budget is spent (some blocks
 *                 guarded, not all), the mapping count stays below half the
 *                 headroom vm.max_map_count left, and guarding resumes once
 *                 the blocks are freed (with a limit far above the default,
 *                 all 120,000 may be guarded: then only the bound is checked);
 *                 verbose=1 says once that the budget is spent
 */
#include "guard_test.h"

#include <pthread.h>

static int failures_in_child;
#define child_expect(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures_in_child++; \
        } \
    } while (0)

static void check_guarded(const void *p, size_t size, size_t align, const char *what)
{
    gt_maps s = gt_maps_read();
    if (!gt_is_guarded(&s, p, size, align)) {
        fprintf(stderr, "not guarded: %s (%p, %zu bytes)\n", what, p, size);
        failures_in_child++;
    }
    gt_maps_free(&s);
}

static void fill(void *p, size_t n, uint64_t seed) { mt_fill(p, n, seed); }
static bool intact(const void *p, size_t n, uint64_t seed) { return mt_check(p, n, seed) == n; }

static int case_page_api(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1000, 4095, 4096, 4097, 65536,
                                   (size_t)1 << 20, ((size_t)1 << 20) + 1, (size_t)3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = malloc(n);
        child_expect(p != NULL);
        check_guarded(p, n, 16, "malloc");
        child_expect(malloc_usable_size(p) == n);
        fill(p, n, i);
        child_expect(intact(p, n, i));
        free(p);
    }
    unsigned char *z = calloc(100, 7);
    child_expect(z != NULL);
    check_guarded(z, 700, 16, "calloc");
    for (size_t i = 0; i < 700; i++) child_expect(z[i] == 0);
    free(z);

    /* realloc across classes and own reservations, contents kept. */
    static const size_t steps[] = {10, 5000, 50, (size_t)2 << 20, 30, 70000, 1};
    char *r = malloc(steps[0]);
    fill(r, steps[0], 99);
    size_t have = steps[0];
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        size_t n = steps[i], keep = n < have ? n : have;
        char *q = realloc(r, n);
        child_expect(q != NULL);
        check_guarded(q, n, 16, "realloc");
        child_expect(intact(q, keep, 99));
        fill(q, n, 99);
        r = q;
        have = n;
    }
    r = reallocarray(r, 300, 3);
    check_guarded(r, 900, 16, "reallocarray");
    free(r);

    /* Aligned allocators. */
    static const size_t aligns[] = {32, 64, 256, 4096, 65536};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i];
        char *m = memalign(a, 1000);
        child_expect(m && ((uintptr_t)m & (a - 1)) == 0);
        check_guarded(m, 1000, a, "memalign");
        fill(m, 1000, a);
        child_expect(intact(m, 1000, a));
        free(m);
        void *pm = NULL;
        child_expect(posix_memalign(&pm, a, 333) == 0 && ((uintptr_t)pm & (a - 1)) == 0);
        check_guarded(pm, 333, a, "posix_memalign");
        free(pm);
        char *aa = aligned_alloc(a, a * 2);
        child_expect(aa && ((uintptr_t)aa & (a - 1)) == 0);
        check_guarded(aa, a * 2, a, "aligned_alloc");
        free(aa);
    }
    char *v = valloc(100);
    child_expect(v && ((uintptr_t)v & 4095) == 0);
    check_guarded(v, 100, 4096, "valloc");
    free(v);
    char *pv = pvalloc(100);
    child_expect(pv && ((uintptr_t)pv & 4095) == 0);
    check_guarded(pv, 4096, 4096, "pvalloc");
    free(pv);

    void (*fs)(void *, size_t) = (void (*)(void *, size_t))mt_sym("free_sized");
    void (*fas)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))mt_sym("free_aligned_sized");
    child_expect(fs && fas);
    if (fs && fas) {
        char *a = malloc(48);
        check_guarded(a, 48, 16, "malloc for free_sized");
        fs(a, 48);
        char *b = aligned_alloc(64, 128);
        fas(b, 64, 128);
        /* Freed means quarantined: a second free is diagnosed, so the
         * block really went (checked in guard_faults); here: the pool
         * still works. */
        char *c = malloc(48);
        child_expect(c && c != a);
        free(c);
    }

    /* The process heap on guarded malloc blocks. */
    wheap_heap *h = wheap_get_process_heap();
    char *ph = malloc(100);
    fill(ph, 100, 5);
    child_expect(wheap_heap_size(h, 0, ph) == 100);
    child_expect(wheap_heap_validate(h, 0, ph));
    child_expect(wheap_heap_realloc(h, WHEAP_HEAP_REALLOC_IN_PLACE_ONLY, ph, 5000) == NULL);
    char *ph2 = wheap_heap_realloc(h, WHEAP_HEAP_ZERO_MEMORY, ph, 5000);
    child_expect(ph2 != NULL);
    if (ph2) {
        child_expect(intact(ph2, 100, 5));
        for (size_t i = 100; i < 5000; i++) child_expect(ph2[i] == 0);
        child_expect(!wheap_heap_validate(h, 0, ph));   /* the old block is gone */
        child_expect(wheap_heap_free(h, 0, ph2));
    }
    char *ph3 = malloc(64);
    check_guarded(ph3, 64, 16, "malloc for wheap_heap_free");
    child_expect(wheap_heap_free(h, 0, ph3));
    child_expect(!wheap_heap_validate(h, 0, ph3));
    child_expect(!wheap_heap_free(h, 0, ph3));
    return failures_in_child ? 1 : 0;
}

static int case_sample_mixed(void)
{
    enum { N = 400 };
    char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = malloc(48);
        fill(b[i], 48, (uint64_t)i);
    }
    gt_maps s = gt_maps_read();
    bool guarded[N];
    int ng = 0;
    for (int i = 0; i < N; i++) ng += guarded[i] = gt_is_guarded(&s, b[i], 48, 16);
    gt_maps_free(&s);
    child_expect(ng > 0 && ng < N);
    /* Grow and shrink every block a few times: guarded ones move to normal
     * blocks and normal ones to guarded blocks along the way. */
    size_t sz[N];
    for (int i = 0; i < N; i++) sz[i] = 48;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = round & 1 ? 40 : 48 + (size_t)(i % 7) * 300 + (size_t)round * 1000;
            size_t keep = n < sz[i] ? n : sz[i];
            char *q = realloc(b[i], n);
            child_expect(q != NULL);
            child_expect(intact(q, keep, (uint64_t)i));
            fill(q, n, (uint64_t)i);
            b[i] = q;
            sz[i] = n;
        }
    }
    for (int i = 0; i < N; i++) {
        child_expect(intact(b[i], sz[i], (uint64_t)i));
        free(b[i]);
    }
    printf("guarded %d of %d\n", ng, N);
    return failures_in_child ? 1 : 0;
}

static int case_count(void)
{
    enum { N = 10000 };
    static char *b[N];
    for (int i = 0; i < N; i++) b[i] = malloc(24);
    gt_maps s = gt_maps_read();
    int ng = 0;
    for (int i = 0; i < N; i++) ng += gt_is_guarded(&s, b[i], 24, 16);
    gt_maps_free(&s);
    for (int i = 0; i < N; i++) free(b[i]);
    printf("%d\n", ng);
    return 0;
}

/* ---- threads ------------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 1500 };
static char *handed[THREADS][PER_THREAD];
static size_t handed_size[THREADS][PER_THREAD];
static pthread_barrier_t barrier;
static _Atomic int thread_failures;

static void *thread_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t rng = (uint64_t)t + 1;
    for (int i = 0; i < PER_THREAD; i++) {
        size_t n = (size_t)(mt_rand(&rng) % 3000) + 1;
        handed[t][i] = malloc(n);
        handed_size[t][i] = n;
        if (!handed[t][i]) { thread_failures++; continue; }
        fill(handed[t][i], n, (uint64_t)t * 100000 + (uint64_t)i);
    }
    pthread_barrier_wait(&barrier);
    int from = (t + 1) % THREADS;     /* free the next thread's blocks */
    for (int i = 0; i < PER_THREAD; i++) {
        char *p = handed[from][i];
        if (!p) continue;
        if (!intact(p, handed_size[from][i], (uint64_t)from * 100000 + (uint64_t)i))
            thread_failures++;
        free(p);
    }
    return NULL;
}

static int case_threads(void)
{
    pthread_t th[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t)) return 2;
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    child_expect(thread_failures == 0);
    /* Every block was guarded: freed now, so the pool serves again. */
    char *p = malloc(100);
    check_guarded(p, 100, 16, "malloc after the threads");
    free(p);
    return failures_in_child ? 1 : 0;
}

/* ---- the mapping budget -------------------------------------------------- */

static size_t maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

static int case_maps(void)
{
    enum { N = 120000 };
    size_t limit = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%zu", &limit) != 1) limit = 65530;
        fclose(f);
    }
    size_t before = maps_count();
    char **b = mmap(NULL, N * sizeof(char *), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return TEST_HARD_ERROR;
    for (int i = 0; i < N; i++) {
        b[i] = malloc(24);
        if (!b[i]) {
            fprintf(stderr, "malloc %d failed\n", i);
            return 1;
        }
        fill(b[i], 24, (uint64_t)i);
    }
    size_t during = maps_count();
    gt_maps s = gt_maps_read();
    int ng = 0;
    for (int i = 0; i < N; i++) ng += gt_is_guarded(&s, b[i], 24, 16);
    gt_maps_free(&s);
    for (int i = 0; i < N; i++) {
        child_expect(intact(b[i], 24, (uint64_t)i));
        free(b[i]);
    }
    char *p = malloc(24);
    check_guarded(p, 24, 16, "malloc once the budget is back");
    free(p);
    printf("limit %zu before %zu during %zu guarded %d of %d\n", limit, before, during, ng, N);
    size_t bound = before + (limit - before) / 2 + 64;
    child_expect(during <= bound);
    child_expect(during < limit);
    child_expect(ng > 1000);
    /* Each guarded block costs two mappings of a budget of half the
     * headroom: N blocks exceed it unless the limit is raised far above
     * the default (then every block may be guarded). */
    if ((limit - before) / 4 < (size_t)N) child_expect(ng < N);
    return failures_in_child ? 1 : 0;
}

/* ---- fork ------------------------------------------------------------------ */

static _Atomic int fork_stop;

static void *churn(void *arg)
{
    uint64_t rng = (uint64_t)(intptr_t)arg;
    char *keep[64] = {0};
    while (!fork_stop) {
        unsigned i = (unsigned)(mt_rand(&rng) % 64);
        free(keep[i]);
        size_t n = (size_t)(mt_rand(&rng) % 2000) + 1;
        keep[i] = malloc(n);
        if (keep[i]) memset(keep[i], 1, n);
    }
    for (int i = 0; i < 64; i++) free(keep[i]);
    return NULL;
}

static int case_fork(void)
{
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        if (pthread_create(&th[t], NULL, churn, (void *)(intptr_t)(t + 1))) return 2;
    for (int k = 0; k < 20; k++) {
        char *before = malloc(100);
        memset(before, 2, 100);
        pid_t pid = fork();
        if (pid == 0) {
            /* The pool lock came through fork free, and the parent's
             * guarded blocks are still there. */
            char *p = malloc(200);
            bool ok = p && before[99] == 2;
            free(p);
            free(before);
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        child_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(before);
    }
    fork_stop = 1;
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    return failures_in_child ? 1 : 0;
}

static int run_case(const char *name)
{
    if (!strcmp(name, "fork")) return case_fork();
    if (!strcmp(name, "page_api")) return case_page_api();
    if (!strcmp(name, "sample_mixed")) return case_sample_mixed();
    if (!strcmp(name, "count")) return case_count();
    if (!strcmp(name, "threads")) return case_threads();
    if (!strcmp(name, "maps")) return case_maps();
    return TEST_HARD_ERROR;
}

static gt_outcome run_ok(const char *name, const char *options)
{
    gt_outcome o = gt_spawn(name, options);
    char got[64];
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
        test_fail_at(__FILE__, __LINE__, "%s (%s): %s; stdout: %s; stderr: %s", name,
                     options ? options : "no options", gt_describe(o.status, got, sizeof got),
                     o.out, o.err);
    else if (o.err[0])
        test_fail_at(__FILE__, __LINE__, "%s (%s): unexpected stderr: %s", name,
                     options ? options : "no options", o.err);
    return o;
}

static int count_with(const char *options)
{
    gt_outcome o = run_ok("count", options);
    int n = -1;
    if (sscanf(o.out, "%d", &n) != 1) test_fail_at(__FILE__, __LINE__, "count: no number");
    fprintf(stderr, "count (%s): %d of 10000 guarded\n", options ? options : "off", n);
    return n;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case")) return run_case(argv[2]);
    if (!mt_malloc_is_wheap()) test_skip("malloc is not wheap's");
    run_ok("page_api", "guard_mode=page");
    gt_outcome o = run_ok("sample_mixed", "guard_mode=sample,guard_sample=2");
    fprintf(stderr, "sample_mixed: %s", o.out);
    expect_eq_u64(count_with(NULL), 0);
    int n1000 = count_with("guard_mode=sample");      /* guard_sample=1000: about 10 */
    expect_ge_u64(n1000, 3);
    expect_le_u64(n1000, 25);
    expect_eq_u64(count_with("guard_mode=sample,guard_sample=1"), 10000);
    expect_eq_u64(count_with("guard_mode=page,guard_sample=77"), 10000);
    int n50 = count_with("guard_mode=sample,guard_sample=50");
    expect_ge_u64(n50, 140);
    expect_le_u64(n50, 260);
    /* The shared arenas (arena_max) count in TLS instead of the arena. */
    int s50 = count_with("guard_mode=sample,guard_sample=50,arena_max=2");
    expect_ge_u64(s50, 140);
    expect_le_u64(s50, 260);
    expect_eq_u64(count_with("guard_mode=page,arena_max=1"), 10000);
    run_ok("threads", "guard_mode=page");
    run_ok("fork", "guard_mode=page");
    /* verbose=1: the degradation is said once, in one line. */
    o = gt_spawn("maps", "guard_mode=page,verbose=1");
    char got[64];
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
        test_fail_at(__FILE__, __LINE__, "maps: %s; stdout: %s; stderr: %s",
                     gt_describe(o.status, got, sizeof got), o.out, o.err);
    const char *spent = strstr(o.err, "wheap: guard: mapping budget spent (");
    size_t lim, bef, dur;
    int ng = 0, nn = 0;
    if (sscanf(o.out, "limit %zu before %zu during %zu guarded %d of %d", &lim, &bef, &dur, &ng,
               &nn) != 5)
        test_fail_at(__FILE__, __LINE__, "maps: no summary in: %s", o.out);
    if (ng < nn) expect_true(spent != NULL);
    if (spent) expect_true(strstr(spent + 1, "wheap: guard: mapping budget spent (") == NULL);
    fprintf(stderr, "maps: %s", o.out);
    if (spent) fprintf(stderr, "%.*s\n", (int)strcspn(spent, "\n"), spent);
    return test_done();
}
