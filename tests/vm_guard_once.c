/* Two or more threads touching one guard page at the same moment: it is
 * reported exactly once, and every access proceeds. */
#include "test.h"
#include <pthread.h>
#include <sys/resource.h>

#define THREADS 4
#define ROUNDS 2000

static char *area;
static size_t page;
static _Atomic int reports;
static _Atomic int wrong_address;
static pthread_barrier_t start, done;
static volatile char *target;

static int count_guard(uint32_t status, void *address, void *context)
{
    (void)context;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) {
        reports++;
        if ((char *)address < (char *)target || (char *)address >= (char *)target + page)
            wrong_address++;
    }
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void *toucher(void *arg)
{
    size_t off = (size_t)(uintptr_t)arg * 64;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&start);
        volatile char *t = target;
        if (off & 64) t[off] = 1;          /* readers and writers together */
        else (void)t[off];
        pthread_barrier_wait(&done);
    }
    return NULL;
}

static void race(void *arg)
{
    (void)arg;
    test_failures = 0;
    area = wheap_virtual_alloc(NULL, 64 * page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                               WHEAP_PAGE_READWRITE);
    require_true(area != NULL);
    require_true(wheap_add_exception_handler(0, count_guard, NULL) != NULL);
    pthread_barrier_init(&start, NULL, THREADS + 1);
    pthread_barrier_init(&done, NULL, THREADS + 1);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        require_true(pthread_create(&t[i], NULL, toucher, (void *)i) == 0);
    int bad_rounds = 0;
    for (int r = 0; r < ROUNDS; r++) {
        target = area + (size_t)(r % 64) * page;
        uint32_t old;
        if (!wheap_virtual_protect((void *)target, page, WHEAP_PAGE_READWRITE |
                                   WHEAP_PAGE_GUARD, &old)) bad_rounds++;
        int before = reports;
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        if (reports != before + 1) bad_rounds++;
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    expect_eq_u64(bad_rounds, 0);
    expect_eq_u64(reports, ROUNDS);
    expect_eq_u64(wrong_address, 0);
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(race, NULL), 0);
    return test_done();
}
