/* Threads reserving, committing, protecting (guard pages included),
 * querying, decommitting and releasing at once, each checking its own
 * contents and what VirtualQuery says after every step, while another
 * thread adds and removes exception handlers. */
#include "test.h"
#include <pthread.h>
#include <sys/resource.h>

#define THREADS 4
#define ROUNDS 1500
#define G 65536u
#define RW WHEAP_PAGE_READWRITE

static size_t page;
static _Atomic int errors, guard_reports, stop;
static __thread volatile int my_guards;
static __thread char *volatile my_guard_page;

static int on_guard(uint32_t status, void *address, void *context)
{
    (void)context;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) {
        guard_reports++;
        if ((char *)address >= my_guard_page && (char *)address < my_guard_page + page)
            my_guards++;
    }
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static int ignore(uint32_t s, void *a, void *c) { (void)s; (void)a; (void)c; return 0; }

#define CHECK(cond) do { if (!(cond)) { errors++; fprintf(stderr, "line %d: %s\n", \
                                                 __LINE__, #cond); } } while (0)

static bool query_is(const char *at, uint32_t state, uint32_t protect, size_t size)
{
    wheap_memory_basic_information m;
    return wheap_virtual_query(at, &m, sizeof m) == sizeof m && m.state == state &&
           m.protect == protect && (size == 0 || m.region_size == size);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        size_t granules = 1 + (seed >> 16) % 4;
        size_t pages = granules * G / page;
        unsigned char *p = wheap_virtual_alloc(NULL, granules * G, WHEAP_MEM_RESERVE, RW);
        if (!p) { errors++; continue; }
        size_t n = 4 + (seed >> 8) % (pages - 4);       /* committed pages, >= 4 */
        unsigned char tag = (unsigned char)(seed >> 24) | 1;
        CHECK(wheap_virtual_alloc(p, n * page, WHEAP_MEM_COMMIT, RW) == p);
        memset(p, tag, n * page);
        /* Page 1 read-only, page 2 a guard page. */
        uint32_t old;
        CHECK(wheap_virtual_protect(p + page, page, WHEAP_PAGE_READONLY, &old) && old == RW);
        CHECK(wheap_virtual_protect(p + 2 * page, page, RW | WHEAP_PAGE_GUARD, &old));
        CHECK(query_is((char *)p, WHEAP_MEM_COMMIT, RW, page));
        CHECK(query_is((char *)p + page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READONLY, page));
        CHECK(query_is((char *)p + 2 * page, WHEAP_MEM_COMMIT, RW | WHEAP_PAGE_GUARD, page));
        CHECK(query_is((char *)p + n * page, WHEAP_MEM_RESERVE, 0, (pages - n) * page));
        my_guard_page = (char *)p + 2 * page;
        int before = my_guards;
        CHECK(((volatile unsigned char *)p)[2 * page + 7] == tag);   /* trips it */
        CHECK(my_guards == before + 1);
        CHECK(query_is((char *)p + 2 * page, WHEAP_MEM_COMMIT, RW, 0));
        for (size_t i = 0; i < n * page; i += 61)
            if (p[i] != tag) { errors++; break; }
        /* Decommit page 3 (if it is not the last), keep the rest. */
        if (n > 4) {
            CHECK(wheap_virtual_free(p + 3 * page, page, WHEAP_MEM_DECOMMIT));
            CHECK(query_is((char *)p + 3 * page, WHEAP_MEM_RESERVE, 0, page));
            CHECK(p[4 * page] == tag);
        }
        CHECK(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
        /* The range may already be another thread's: any answer but a
         * failure will do. */
        wheap_memory_basic_information m;
        CHECK(wheap_virtual_query(p, &m, sizeof m) == sizeof m);
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        void *h = wheap_add_exception_handler((int)(guard_reports & 1), ignore, NULL);
        if (!h || !wheap_remove_exception_handler(h)) errors++;
    }
    return NULL;
}

static void run(void *arg)
{
    (void)arg;
    test_failures = 0;
    require_true(wheap_add_exception_handler(0, on_guard, NULL) != NULL);
    pthread_t t[THREADS], c;
    require_true(pthread_create(&c, NULL, churn, NULL) == 0);
    for (uintptr_t i = 0; i < THREADS; i++)
        require_true(pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    stop = 1;
    pthread_join(c, NULL);
    expect_eq_u64(errors, 0);
    expect_eq_u64(guard_reports, THREADS * ROUNDS);
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(run, NULL), 0);
    return test_done();
}
