/* With no program handler, the disposition wheap found is the default (or
 * SIG_IGN, which the kernel never honours for a fault): every fault wheap
 * does not handle still kills with SIGSEGV, and a SIGSEGV sent with kill()
 * is killed by (SIG_DFL) or ignored (SIG_IGN) exactly as without wheap. */
#include "test.h"
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u

/* Faulting accesses must happen where written: volatile. */
static void poke(char *p, char v) { *(volatile char *)p = v; }

static char *foreign;

static void install_wheap(void)
{
    /* A guard page installs wheap's handler. */
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE | WHEAP_PAGE_GUARD);
    if (!p) _exit(2);
    struct sigaction sa;
    sigaction(SIGSEGV, NULL, &sa);
    if (!(sa.sa_flags & SA_SIGINFO)) _exit(3);
}

static void fault_foreign(void *ignore)
{
    if (ignore) signal(SIGSEGV, SIG_IGN);
    install_wheap();
    poke(foreign + 0, 1);
    _exit(0);
}

static void fault_reserved(void *ignore)
{
    if (ignore) signal(SIGSEGV, SIG_IGN);
    install_wheap();
    char *r = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    if (!r) _exit(2);
    poke(r + 0, 1);
    _exit(0);
}

static void fault_readonly(void *ignore)
{
    if (ignore) signal(SIGSEGV, SIG_IGN);
    install_wheap();
    char *r = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READONLY);
    if (!r) _exit(2);
    poke(r + 0, 1);
    _exit(0);
}

static void sent(void *ignore)
{
    if (ignore) signal(SIGSEGV, SIG_IGN);
    install_wheap();
    kill(getpid(), SIGSEGV);
    _exit(0);
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    foreign = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    require_true(foreign != MAP_FAILED);
    void *dfl = NULL, *ign = (void *)1;
    expect_child_signal(test_in_child(fault_foreign, dfl), SIGSEGV);
    expect_child_signal(test_in_child(fault_reserved, dfl), SIGSEGV);
    expect_child_signal(test_in_child(fault_readonly, dfl), SIGSEGV);
    expect_child_signal(test_in_child(sent, dfl), SIGSEGV);
    expect_child_signal(test_in_child(fault_foreign, ign), SIGSEGV);
    expect_child_signal(test_in_child(fault_reserved, ign), SIGSEGV);
    expect_child_signal(test_in_child(fault_readonly, ign), SIGSEGV);
    expect_child_exit(test_in_child(sent, ign), 0);
    return test_done();
}
