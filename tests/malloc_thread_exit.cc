/*
 * PITFALLS 7: thread exit.  100,000 short-lived threads, eight at a time.
 * Each one frees a block that main allocated, allocates and frees, leaves a
 * block for main to free after the join, and exits through the two kinds of
 * late destructor that other libraries run after the allocator's own
 * per-thread teardown:
 *   - a C++ thread_local object whose destructor mallocs, frees, and leaves
 *     a block for main;
 *   - a pthread key destructor (the key created after the allocator was
 *     initialised, so it runs after any key the allocator made) that does
 *     the same.
 * Every block carries a pattern that is verified before it is freed, and
 * committed memory (VmRSS and VmData) must stay bounded: an allocator that
 * leaks each dead thread's cache or arena grows by gigabytes here.
 *
 * On the 2-core machine this was written on, 100,000 threads take about 10 s
 * with glibc (7 s mimalloc, 21 s jemalloc): not scaled down;
 * a 25 s budget cuts the run short (with a note, still checked) on a slower
 * or loaded machine.  MALLOC_THREAD_EXIT_COUNT overrides the count.
 */
#include "malloc_test.h"

#include <pthread.h>

#include <atomic>
#include <string>

namespace {

struct slot {
    char *from_main;          /* allocated by main, freed by the thread */
    size_t from_main_n;
    char *left;               /* allocated by the thread, freed by main */
    size_t left_n;
    char *from_tls_dtor;      /* allocated in the thread_local destructor */
    char *from_key_dtor;      /* allocated in the pthread key destructor */
    uint64_t seed;
};

constexpr size_t kDtorBlock = 200;
constexpr int kBatch = 8;
constexpr uint64_t kGrowthLimit = 200ull << 20;

std::atomic<int> errors{0};
pthread_key_t late_key;

void report(const char *what, const void *p)
{
    if (errors.fetch_add(1) < 20) fprintf(stderr, "FAILED: %s (%p)\n", what, p);
}

/* The thread_local whose destructor allocates after the thread "ended". */
struct tls_object {
    slot *s = nullptr;
    std::string name;
    ~tls_object()
    {
        if (!s) return;
        /* Allocation, growth, free, in a destructor run by __call_tls_dtors. */
        std::string grown = name;
        for (int i = 0; i < 20; i++) grown += "-late";
        void *tmp = malloc(1000);
        if (!tmp) report("malloc in thread_local destructor", nullptr);
        free(tmp);
        char *b = static_cast<char *>(malloc(kDtorBlock));
        if (!b) {
            report("malloc in thread_local destructor", nullptr);
            return;
        }
        mt_fill(b, kDtorBlock, s->seed + 1);
        s->from_tls_dtor = b;
    }
};
thread_local tls_object tls;

void late_key_destructor(void *arg)
{
    slot *s = static_cast<slot *>(arg);
    void *tmp = calloc(3, 333);
    if (!tmp || !mt_all_zero(tmp, 999)) report("calloc in key destructor", tmp);
    tmp = realloc(tmp, 5000);
    free(tmp);
    char *b = static_cast<char *>(malloc(kDtorBlock));
    if (!b) {
        report("malloc in key destructor", nullptr);
        return;
    }
    mt_fill(b, kDtorBlock, s->seed + 2);
    s->from_key_dtor = b;
}

void *thread_main(void *arg)
{
    slot *s = static_cast<slot *>(arg);
    /* Free first: the thread's first allocator call is a free of a block
     * that belongs to main. */
    if (mt_check(s->from_main, s->from_main_n, s->seed) != s->from_main_n)
        report("block from main damaged", s->from_main);
    free(s->from_main);
    s->from_main = nullptr;

    uint64_t rng = s->seed | 1;
    for (int i = 0; i < 8; i++) {
        size_t n = (size_t)(mt_rand(&rng) % (i == 7 ? 200000 : 2000)) + 1;
        char *p = static_cast<char *>(malloc(n));
        if (!p) {
            report("malloc in thread", nullptr);
            continue;
        }
        mt_fill(p, n, s->seed + 10 + (uint64_t)i);
        if (mt_check(p, n, s->seed + 10 + (uint64_t)i) != n) report("thread's own block", p);
        free(p);
    }
    s->left_n = (size_t)(mt_rand(&rng) % 4000) + 1;
    s->left = static_cast<char *>(malloc(s->left_n));
    if (s->left) mt_fill(s->left, s->left_n, s->seed + 3);
    else report("malloc of the block left for main", nullptr);

    tls.s = s;
    tls.name = "thread-" + std::to_string(s->seed);
    pthread_setspecific(late_key, s);
    return nullptr;
}

void check_and_free(char *&p, size_t n, uint64_t seed, const char *what)
{
    if (!p) {
        report(what, nullptr);
        return;
    }
    if (mt_check(p, n, seed) != n) report(what, p);
    free(p);
    p = nullptr;
}

}  // namespace

int main()
{
    long count = 100000;
    if (const char *env = getenv("MALLOC_THREAD_EXIT_COUNT"))
        if (atol(env) > 0) count = atol(env);
    alarm(120);      /* a hang fails (SIGALRM), it does not stall the suite */

    /* The allocator is initialised before the key is created: the key's
     * destructor runs after any the allocator registered. */
    free(malloc(1));
    require_true(pthread_key_create(&late_key, late_key_destructor) == 0);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);

    double start = mt_now(), budget = 25;
    uint64_t rss0 = 0, data0 = 0, rss_max = 0, data_max = 0;
    slot slots[kBatch];
    long done = 0;
    bool cut = false;
    for (; done < count; done += kBatch) {
        pthread_t t[kBatch];
        for (int i = 0; i < kBatch; i++) {
            slot &s = slots[i];
            s = slot{};
            s.seed = (uint64_t)(done + i) * 1000003;
            s.from_main_n = (size_t)((done + i) % 3000) + 1;
            s.from_main = static_cast<char *>(malloc(s.from_main_n));
            require_true(s.from_main != nullptr);
            mt_fill(s.from_main, s.from_main_n, s.seed);
            int rc = pthread_create(&t[i], &attr, thread_main, &s);
            if (rc) {
                fprintf(stderr, "pthread_create: %s after %ld threads\n", strerror(rc), done + i);
                return TEST_HARD_ERROR;
            }
        }
        for (int i = 0; i < kBatch; i++) pthread_join(t[i], nullptr);
        for (int i = 0; i < kBatch; i++) {
            slot &s = slots[i];
            if (s.from_main) report("thread did not free main's block", s.from_main);
            check_and_free(s.left, s.left_n, s.seed + 3, "block left by the thread");
            check_and_free(s.from_tls_dtor, kDtorBlock, s.seed + 1,
                           "block from the thread_local destructor");
            check_and_free(s.from_key_dtor, kDtorBlock, s.seed + 2,
                           "block from the late key destructor");
        }
        if (done == 2000) {            /* warmed up: stacks and arenas cached */
            rss0 = test_proc_status("VmRSS");
            data0 = test_proc_status("VmData");
        }
        if (done % 4096 == 0 && done > 2000) {
            uint64_t rss = test_proc_status("VmRSS"), data = test_proc_status("VmData");
            if (rss > rss_max) rss_max = rss;
            if (data > data_max) data_max = data;
            if (rss > rss0 + kGrowthLimit || data > data0 + kGrowthLimit) break;
            if (mt_now() - start > budget) {
                cut = true;
                break;
            }
        }
        if (errors.load() > 20) break;
    }
    uint64_t rss = test_proc_status("VmRSS"), data = test_proc_status("VmData");
    if (rss > rss_max) rss_max = rss;
    if (data > data_max) data_max = data;
    fprintf(stderr, "allocator: %s; %ld threads in %.1f s; VmRSS %.1f -> max %.1f MiB, "
            "VmData %.1f -> max %.1f MiB\n",
            mt_malloc_is_wheap() ? "wheap" : "not wheap", done, mt_now() - start,
            (double)rss0 / 1048576, (double)rss_max / 1048576, (double)data0 / 1048576,
            (double)data_max / 1048576);
    if (cut) fprintf(stderr, "note: cut short by the %.0f s budget\n", budget);
    expect_lt_u64(rss_max, rss0 + kGrowthLimit);
    expect_lt_u64(data_max, data0 + kGrowthLimit);
    if (errors.load()) {
        fprintf(stderr, "%d errors\n", errors.load());
        return 1;
    }
    return test_done();
}
