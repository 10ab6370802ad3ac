/* Vectored exception handlers: wheap's SIGSEGV handler is installed lazily
 * (first handler or guard page), handlers run in list order (first=1 puts
 * one in front), CONTINUE_EXECUTION ends the search and retries the access,
 * removed handlers are never called again, bad handles fail cleanly, and a
 * fault nobody handles kills with SIGSEGV as before. */
#include "test.h"
#include <sys/resource.h>

#define G 65536u

/* Faulting accesses must happen where written: volatile. */
static void poke(char *p, char v) { *(volatile char *)p = v; }
static char peek(const char *p) { return *(const volatile char *)p; }
#define RW WHEAP_PAGE_READWRITE

static size_t page;

/* Call log, written by handlers in the signal handler. */
static volatile char order[16];
static volatile int norder;
static volatile uint32_t last_status;
static void *volatile last_address;

/* context: the letter to log; upper case commits the page and returns
 * CONTINUE_EXECUTION, lower case searches on. */
static int logger(uint32_t status, void *address, void *context)
{
    char c = (char)(uintptr_t)context;
    if (norder < (int)sizeof order - 1) order[norder++] = c;
    last_status = status;
    last_address = address;
    if (c >= 'A' && c <= 'Z') {
        if (!wheap_virtual_alloc(address, 1, WHEAP_MEM_COMMIT, RW)) _exit(7);
        return WHEAP_EXCEPTION_CONTINUE_EXECUTION;
    }
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static void *add(int first, char letter)
{
    void *h = wheap_add_exception_handler(first, logger, (void *)(uintptr_t)letter);
    require_true(h != NULL);
    return h;
}

/* Touches a fresh reserved page and returns the log. */
static const char *touch_reserved(void)
{
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    norder = 0;
    memset((void *)order, 0, sizeof order);
    poke(p + page + 9, 42);                 /* faults; some handler commits it */
    expect_eq_u64(peek(p + page + 9), 42);
    expect_eq_u64(last_status, WHEAP_STATUS_ACCESS_VIOLATION);
    expect_eq_ptr(last_address, p + page + 9);
    return (const char *)order;
}

static void ordering(void *arg)
{
    (void)arg;
    test_failures = 0;
    struct sigaction sa;
    sigaction(SIGSEGV, NULL, &sa);
    expect_true(sa.sa_handler == SIG_DFL);          /* nothing installed yet */
    void *a = add(0, 'a');
    sigaction(SIGSEGV, NULL, &sa);
    expect_true(sa.sa_flags & SA_SIGINFO);          /* installed by the first handler */
    expect_true(sa.sa_flags & SA_ONSTACK);
    void *b = add(1, 'b');
    add(0, 'C');
    void *d = add(0, 'd');                          /* after C: never reached */
    expect_eq_str(touch_reserved(), "baC");
    /* A handler in front that continues ends the search there. */
    void *E = add(1, 'E');
    expect_eq_str(touch_reserved(), "E");
    expect_true(wheap_remove_exception_handler(E));
    expect_eq_str(touch_reserved(), "baC");
    /* Removed handlers are skipped; removing twice fails. */
    expect_true(wheap_remove_exception_handler(b));
    expect_true(wheap_remove_exception_handler(a));
    expect_eq_str(touch_reserved(), "C");
    expect_false(wheap_remove_exception_handler(b));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    /* Re-adding after removals reuses memory and keeps the order right. */
    add(1, 'f');
    add(0, 'g');
    expect_eq_str(touch_reserved(), "fC");
    (void)d;
    _exit(test_done());
}

/* Every handler searches on: the fault reaches the default action. */
static void unhandled(void *arg)
{
    (void)arg;
    add(0, 'x');
    add(0, 'y');
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    poke(p + 0, 1);
    _exit(0);
}

/* A PAGE_NOACCESS page, not only a reserved one, raises ACCESS_VIOLATION. */
static int open_page(uint32_t status, void *address, void *context)
{
    (void)context;
    if (status != WHEAP_STATUS_ACCESS_VIOLATION) return WHEAP_EXCEPTION_CONTINUE_SEARCH;
    uint32_t old;
    if (!wheap_virtual_protect(address, 1, RW, &old) || old != WHEAP_PAGE_NOACCESS) _exit(8);
    return WHEAP_EXCEPTION_CONTINUE_EXECUTION;
}

static void noaccess(void *arg)
{
    (void)arg;
    test_failures = 0;
    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_NOACCESS);
    require_true(p != NULL);
    require_true(wheap_add_exception_handler(0, open_page, NULL) != NULL);
    poke(p + 3 * page, 5);
    expect_eq_u64(peek(p + 3 * page), 5);
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(ordering, NULL), 0);
    expect_child_signal(test_in_child(unhandled, NULL), SIGSEGV);
    expect_child_exit(test_in_child(noaccess, NULL), 0);

    /* Argument checks need no child. */
    expect_null(wheap_add_exception_handler(0, NULL, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    int not_a_handle;
    expect_false(wheap_remove_exception_handler(&not_a_handle));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_remove_exception_handler(NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    return test_done();
}
