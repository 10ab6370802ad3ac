/* fork while other threads trip guard pages and add and remove exception
 * handlers (PITFALLS row 3): every child can still add and remove
 * handlers, arm and trip a guard page, and exit; none hangs.  The guard
 * pages are armed before the threads start, so that at fork time the
 * threads hold the exception layer's locks (guard transitions, the handler
 * list) but never the regions lock, whose fork handling is the malloc
 * layer's (malloc.c registers it). */
#include "test.h"
#include <pthread.h>
#include <sys/resource.h>

#define FORKS 200
#define GUARDS 16384
#define G 65536u
#define RW WHEAP_PAGE_READWRITE

static size_t page;
static _Atomic int stop;
static volatile int child_reports;

static int count(uint32_t status, void *address, void *context)
{
    (void)address; (void)context;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) child_reports++;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static int quiet(uint32_t s, void *a, void *c) { (void)s; (void)a; (void)c; return 0; }

static void *tripper(void *arg)
{
    char *p = arg;
    for (size_t i = 0; i < GUARDS && !stop; i++) *(volatile char *)(p + i * page) = 1;
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        void *h = wheap_add_exception_handler(0, quiet, NULL);
        if (h) wheap_remove_exception_handler(h);
    }
    return NULL;
}

static void child(void *arg)
{
    (void)arg;
    alarm(10);                       /* a hang is a failure, not a stuck suite */
    void *h = wheap_add_exception_handler(1, count, NULL);
    if (!h) _exit(2);
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  RW | WHEAP_PAGE_GUARD);
    if (!p) _exit(3);
    *(volatile char *)p = 1;
    if (child_reports != 1) _exit(4);
    if (!wheap_remove_exception_handler(h)) _exit(5);
    _exit(0);
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    require_true(wheap_add_exception_handler(0, quiet, NULL) != NULL);
    pthread_t t[3];
    for (int i = 0; i < 2; i++) {
        char *p = wheap_virtual_alloc(NULL, GUARDS * page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                      RW | WHEAP_PAGE_GUARD);
        require_true(p != NULL);
        require_true(pthread_create(&t[i], NULL, tripper, p) == 0);
    }
    require_true(pthread_create(&t[2], NULL, churn, NULL) == 0);
    int bad = 0;
    for (int i = 0; i < FORKS; i++) {
        int st = test_in_child(child, NULL);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "fork %d: child %s %d\n", i, WIFSIGNALED(st) ? "signal" : "exit",
                        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        }
    }
    stop = 1;
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    expect_eq_u64(bad, 0);
    return test_done();
}
