/* A program that installs its own SIGSEGV handler after wheap's replaces
 * it: from then on every fault, guard pages included, is the program's
 * business.  A program that chains to the handler it replaced (as it
 * should) gives wheap its faults back, and guard pages work again. */
#include "test.h"
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u

/* Faulting accesses must happen where written: volatile. */
static void poke(char *p, char v) { *(volatile char *)p = v; }
#define RW WHEAP_PAGE_READWRITE

static size_t page;
static char *own;
static struct sigaction replaced;      /* wheap's, saved by the program */
static volatile int program_calls, wheap_guard_calls, chained;
static void *volatile program_addr;
static volatile int chain_to_wheap;

static void program_handler(int sig, siginfo_t *si, void *uc)
{
    program_calls++;
    program_addr = si->si_addr;
    char *a = si->si_addr;
    if (a >= own && a < own + page) {
        if (mprotect(own, page, PROT_READ | PROT_WRITE) != 0) _exit(6);
        return;
    }
    if (chain_to_wheap && (replaced.sa_flags & SA_SIGINFO)) {
        chained++;
        replaced.sa_sigaction(sig, si, uc);
        return;
    }
    /* Not chaining: the program must deal with wheap's guard page itself. */
    uint32_t old;
    if (!wheap_virtual_protect(a, 1, RW, &old)) _exit(7);
}

static int wheap_handler(uint32_t status, void *address, void *context)
{
    (void)address; (void)context;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) wheap_guard_calls++;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void after(void *arg)
{
    (void)arg;
    test_failures = 0;
    require_true(wheap_add_exception_handler(0, wheap_handler, NULL) != NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = program_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    require_true(sigaction(SIGSEGV, &sa, &replaced) == 0);
    expect_true(replaced.sa_flags & SA_SIGINFO);      /* it was wheap's */

    /* The program's own faults. */
    poke(own + 1, 1);
    expect_eq_u64(program_calls, 1);
    expect_eq_ptr(program_addr, own + 1);
    /* A guard page now reaches the program's handler, not wheap's. */
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  RW | WHEAP_PAGE_GUARD);
    require_true(p != NULL);
    poke(p + 100, 1);
    expect_eq_u64(program_calls, 2);
    expect_eq_ptr(program_addr, p + 100);
    expect_eq_u64(wheap_guard_calls, 0);
    /* Chaining to the saved handler hands guard pages back to wheap. */
    chain_to_wheap = 1;
    uint32_t old;
    expect_true(wheap_virtual_protect(p, page, RW | WHEAP_PAGE_GUARD, &old));
    poke(p + 200, 1);
    expect_eq_u64(program_calls, 3);
    expect_eq_u64(chained, 1);
    expect_eq_u64(wheap_guard_calls, 1);
    expect_true(wheap_virtual_protect(p, page, RW, &old));
    expect_eq_u64(old, RW);                            /* the guard is gone */
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    own = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    require_true(own != MAP_FAILED);
    expect_child_exit(test_in_child(after, NULL), 0);
    return test_done();
}
