/* A program's own SIGSEGV handler installed before wheap's keeps getting
 * its faults: wheap chains every fault that is not its business (and every
 * access violation its handlers decline) to it, with siginfo intact, for
 * SA_SIGINFO handlers, plain handlers that siglongjmp, and SA_RESETHAND. */
#include "test.h"
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u

/* Faulting accesses must happen where written: volatile. */
static void poke(char *p, char v) { *(volatile char *)p = v; }
static char peek(const char *p) { return *(const volatile char *)p; }
#define RW WHEAP_PAGE_READWRITE

static size_t page;
static char *own;                      /* the program's PROT_NONE page */
static volatile int program_calls, wheap_guard_calls;
static void *volatile program_addr;

/* The program's handler: opens its own page, or commits wheap memory that
 * wheap's handlers declined (it may call the wheap API too). */
static void program_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    program_calls++;
    program_addr = si->si_addr;
    char *a = si->si_addr;
    if (a >= own && a < own + page) {
        if (mprotect(own, page, PROT_READ | PROT_WRITE) != 0) _exit(6);
    } else if (!wheap_virtual_alloc(a, 1, WHEAP_MEM_COMMIT, RW)) {
        _exit(7);
    }
}

static int wheap_handler(uint32_t status, void *address, void *context)
{
    (void)address; (void)context;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) wheap_guard_calls++;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void siginfo_first(void *arg)
{
    (void)arg;
    test_failures = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = program_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    require_true(sigaction(SIGSEGV, &sa, NULL) == 0);
    /* Now wheap installs its own (a guard page is enough). */
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  RW | WHEAP_PAGE_GUARD);
    require_true(p != NULL);
    struct sigaction now;
    sigaction(SIGSEGV, NULL, &now);
    expect_true(now.sa_sigaction != program_handler);
    require_true(wheap_add_exception_handler(0, wheap_handler, NULL) != NULL);

    /* A fault that is not wheap's: the program's handler, with the address. */
    poke(own + 17, 1);
    expect_eq_u64(program_calls, 1);
    expect_eq_ptr(program_addr, own + 17);
    expect_eq_u64(peek(own + 17), 1);
    /* A guard page is wheap's business: the program never sees it. */
    poke(p + 5, 1);
    expect_eq_u64(wheap_guard_calls, 1);
    expect_eq_u64(program_calls, 1);
    /* An access violation in wheap memory that wheap's handlers decline
     * goes on to the program's handler (which commits the page). */
    char *r = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, RW);
    require_true(r != NULL);
    poke(r + page * 2, 3);
    expect_eq_u64(program_calls, 2);
    expect_eq_ptr(program_addr, r + 2 * page);
    expect_eq_u64(peek(r + page * 2), 3);
    _exit(test_done());
}

/* A plain handler that leaves with siglongjmp. */
static sigjmp_buf jump;
static volatile int plain_calls;

static void plain_handler(int sig)
{
    plain_calls++;
    siglongjmp(jump, sig);
}

static void plain_first(void *arg)
{
    (void)arg;
    test_failures = 0;
    signal(SIGSEGV, plain_handler);
    require_true(wheap_add_exception_handler(0, wheap_handler, NULL) != NULL);
    for (int round = 0; round < 3; round++) {
        if (sigsetjmp(jump, 1) == 0) {
            (void)*(volatile char *)own;
            expect_true(!"the read should have faulted");
        }
    }
    expect_eq_u64(plain_calls, 3);
    /* SIGSEGV is not left blocked after the jumps. */
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    expect_false(sigismember(&cur, SIGSEGV));
    _exit(test_done());
}

/* SA_RESETHAND: the program's handler runs once, then the default. */
static void reset_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    program_calls++;
    if (mprotect(own, page, PROT_READ | PROT_WRITE) != 0) _exit(6);
}

static void resethand_first(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = reset_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    require_true(sigaction(SIGSEGV, &sa, NULL) == 0);
    require_true(wheap_add_exception_handler(0, wheap_handler, NULL) != NULL);
    poke(own + 0, 1);                       /* handled once */
    if (program_calls != 1) _exit(3);
    mprotect(own, page, PROT_NONE);
    poke(own + 0, 2);                       /* default action now: killed */
    _exit(4);
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    own = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    require_true(own != MAP_FAILED);
    expect_child_exit(test_in_child(siginfo_first, NULL), 0);
    expect_child_exit(test_in_child(plain_first, NULL), 0);
    expect_child_signal(test_in_child(resethand_first, NULL), SIGSEGV);
    return test_done();
}
