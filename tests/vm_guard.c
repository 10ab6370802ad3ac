/* PAGE_GUARD: one-shot.  VirtualQuery shows the guard until the first
 * touch; the touch reports GUARD_PAGE_VIOLATION with the faulting address
 * once, the guard is already gone when handlers run, and the access
 * proceeds whatever they return (also with no handler at all).  Everything
 * that can fault runs in a child. */
#include "test.h"
#include <sys/resource.h>

#define G 65536u

/* Faulting accesses must happen where written: volatile. */
static void poke(char *p, char v) { *(volatile char *)p = v; }
static char peek(const char *p) { return *(const volatile char *)p; }
#define RW WHEAP_PAGE_READWRITE

static size_t page;

/* volatile: written by the signal handler behind the compiler's back. */
static volatile struct { uint32_t status; void *address; uint32_t protect_seen; int calls; } seen;

static int record(uint32_t status, void *address, void *context)
{
    (void)context;
    seen.calls++;
    seen.status = status;
    seen.address = address;
    /* The guard is already gone: the query says so (wheap_virtual_query
     * reads /proc only outside wheap's regions, so it is fine here). */
    wheap_memory_basic_information m;
    if (wheap_virtual_query(address, &m, sizeof m)) seen.protect_seen = m.protect;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static uint32_t query_protect(void *p)
{
    wheap_memory_basic_information m;
    if (!wheap_virtual_query(p, &m, sizeof m)) return ~0u;
    return m.protect;
}

/* No handler anywhere: the first touch still just works. */
static void no_handler(void *arg)
{
    (void)arg;
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  RW | WHEAP_PAGE_GUARD);
    if (!p) _exit(2);
    poke(p + 10, 7);                          /* guard trips, write proceeds */
    if (peek(p + 10) != 7) _exit(3);
    if (query_protect(p) != RW) _exit(4);
    _exit(0);
}

/* The main behaviour: via VirtualProtect, on one page among others. */
static void via_protect(void *arg)
{
    (void)arg;
    test_failures = 0;
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, RW);
    require_true(p != NULL);
    memset(p, 0x5A, 4 * page);
    require_true(wheap_add_exception_handler(0, record, NULL) != NULL);
    uint32_t old = 0;
    expect_true(wheap_virtual_protect(p + page, page, RW | WHEAP_PAGE_GUARD, &old));
    expect_eq_u64(old, RW);
    expect_eq_u64(query_protect(p + page), RW | WHEAP_PAGE_GUARD);
    wheap_memory_basic_information m;
    wheap_virtual_query(p, &m, sizeof m);
    expect_eq_u64(m.region_size, page);            /* the guard splits the run */
    /* Neighbours are untouched by the guard. */
    poke(p + 0, 1);
    poke(p + 2 * page, 2);
    expect_eq_u64(seen.calls, 0);
    /* First touch: reported once, with the exact address; the data is kept. */
    volatile char *g = p + page + 123;
    char v = *g;
    expect_eq_u64((unsigned char)v, 0x5A);
    expect_eq_u64(seen.calls, 1);
    expect_eq_u64(seen.status, WHEAP_STATUS_GUARD_PAGE_VIOLATION);
    expect_eq_ptr(seen.address, p + page + 123);
    expect_eq_u64(seen.protect_seen, RW);
    /* One-shot: no second report, the page is plain read-write again. */
    *g = 3;
    expect_eq_u64(seen.calls, 1);
    expect_eq_u64(query_protect(p + page), RW);
    wheap_virtual_query(p, &m, sizeof m);
    expect_eq_u64(m.region_size, G);               /* one run again */
    /* Re-armed by another protect; the answer names the guard. */
    expect_true(wheap_virtual_protect(p + page, page, RW | WHEAP_PAGE_GUARD, &old));
    expect_true(wheap_virtual_protect(p + page, page, RW, &old));
    expect_eq_u64(old, RW | WHEAP_PAGE_GUARD);
    *g = 4;
    expect_eq_u64(seen.calls, 1);                  /* disarmed: nothing to report */
    _exit(test_done());
}

/* Via MEM_COMMIT; a handler that claims to handle it changes nothing. */
static int claim(uint32_t status, void *address, void *context)
{
    (void)address;
    ++*(volatile int *)context;
    return status == WHEAP_STATUS_GUARD_PAGE_VIOLATION ? WHEAP_EXCEPTION_CONTINUE_EXECUTION
                                                       : WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void via_commit(void *arg)
{
    (void)arg;
    test_failures = 0;
    static volatile int calls;
    char *p = wheap_virtual_alloc(NULL, 2 * G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    require_true(wheap_add_exception_handler(1, claim, (void *)&calls) != NULL);
    /* Commit 3 guard pages at once: each trips separately. */
    expect_eq_ptr(wheap_virtual_alloc(p + G, 3 * page, WHEAP_MEM_COMMIT,
                                      WHEAP_PAGE_READONLY | WHEAP_PAGE_GUARD), p + G);
    expect_eq_u64(query_protect(p + G), WHEAP_PAGE_READONLY | WHEAP_PAGE_GUARD);
    for (int i = 0; i < 3; i++) {
        expect_eq_u64(*(volatile char *)(p + G + (size_t)i * page), 0);  /* zero-filled */
        expect_eq_u64(calls, i + 1);
    }
    expect_eq_u64(query_protect(p + G), WHEAP_PAGE_READONLY);
    /* Reserve+commit with GUARD in one call. */
    char *q = wheap_virtual_alloc(NULL, page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_EXECUTE_READWRITE | WHEAP_PAGE_GUARD);
    require_true(q != NULL);
    poke(q + 0, 1);
    expect_eq_u64(calls, 4);
    expect_eq_u64(query_protect(q), WHEAP_PAGE_EXECUTE_READWRITE);
    /* Decommitting a guard page disarms it; recommitting without GUARD too. */
    expect_true(wheap_virtual_protect(q, page, WHEAP_PAGE_READWRITE | WHEAP_PAGE_GUARD,
                                      &(uint32_t){ 0 }));
    expect_eq_ptr(wheap_virtual_alloc(q, page, WHEAP_MEM_COMMIT, RW), q);
    poke(q + 1, 2);
    expect_eq_u64(calls, 4);
    expect_true(wheap_virtual_protect(q, page, RW | WHEAP_PAGE_GUARD, &(uint32_t){ 0 }));
    expect_true(wheap_virtual_free(q, page, WHEAP_MEM_DECOMMIT));
    expect_eq_ptr(wheap_virtual_alloc(q, page, WHEAP_MEM_COMMIT, RW), q);
    poke(q + 1, 2);
    expect_eq_u64(calls, 4);
    _exit(test_done());
}

static int report_fd = -1;

/* A write to a READONLY|GUARD page: the guard trips first; the retried
 * write then breaks READONLY, an access violation nobody handles. */
static int count_status(uint32_t status, void *address, void *context)
{
    (void)address;
    volatile int *counts = context;
    counts[status == WHEAP_STATUS_GUARD_PAGE_VIOLATION ? 0 : 1]++;
    if (status != WHEAP_STATUS_GUARD_PAGE_VIOLATION) {
        /* Tell the parent what we saw before the default action kills us. */
        char msg[2] = { (char)('0' + counts[0]), (char)('0' + counts[1]) };
        if (write(report_fd, msg, 2) != 2) _exit(5);
    }
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void readonly_write(void *arg)
{
    (void)arg;
    static volatile int counts[2];
    char *p = wheap_virtual_alloc(NULL, page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READONLY | WHEAP_PAGE_GUARD);
    require_true(p != NULL);
    require_true(wheap_add_exception_handler(0, count_status, (void *)counts) != NULL);
    *(volatile char *)p = 1;     /* dies here */
    _exit(0);
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);

    expect_child_exit(test_in_child(no_handler, NULL), 0);
    expect_child_exit(test_in_child(via_protect, NULL), 0);
    expect_child_exit(test_in_child(via_commit, NULL), 0);

    int fds[2];
    require_true(pipe(fds) == 0);
    report_fd = fds[1];
    expect_child_signal(test_in_child(readonly_write, NULL), SIGSEGV);
    char msg[3] = "";
    close(fds[1]);
    expect_eq_u64(read(fds[0], msg, 2), 2);
    expect_eq_str(msg, "11");       /* one guard report, then one access violation */

    /* Validation: GUARD with NOACCESS, GUARD with another modifier. */
    char *p = wheap_virtual_alloc(NULL, page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, RW);
    require_true(p != NULL);
    uint32_t old;
    expect_false(wheap_virtual_protect(p, page, WHEAP_PAGE_NOACCESS | WHEAP_PAGE_GUARD, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(p, page, RW | WHEAP_PAGE_GUARD | WHEAP_PAGE_NOCACHE,
                                       &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
