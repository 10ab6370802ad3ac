/*
 * Guard modes: every misuse a guarded block catches, each in a fresh
 * process (this program re-executed with --case NAME and WHEAP_OPTIONS
 * set).  A fault must kill the child by SIGSEGV after exactly one line on
 * stderr, byte for byte:
 *
 *   overflow          1-byte write past a 32-byte block
 *   overflow_large    read 5 bytes past a 3 MiB block (its own reservation)
 *   underflow         read 1 byte before a 4096-byte block
 *   underflow_aligned write 16 bytes before memalign(4096, 100)
 *   uaf_read/uaf_write  read / write a freed block
 *   sample_overflow   guard_mode=sample with guard_sample=1 guards too
 *   own_handler       a SIGSEGV handler the program installed before wheap's
 *                     gets the fault after wheap's line
 * and a misuse found by free must abort after one line:
 *   slack_free        a write into the 12 bytes between a 20-byte block
 *                     and its guard page, found by free
 *   slack_realloc     the same, found by realloc
 *   double_free, interior   the usual free() diagnosis
 *   slack_warn        abort_on_misuse=0: the line, and the program goes on
 */
#include "guard_test.h"

static volatile size_t small_size = 32;
/* Through volatiles, so that the compiler neither warns about nor removes
 * the deliberately wrong calls. */
static void (*volatile do_free)(void *) = free;
static void *(*volatile do_malloc)(size_t) = malloc;
static void *(*volatile do_memalign)(size_t, size_t) = memalign;
static void *(*volatile do_realloc)(void *, size_t) = realloc;

static void announce(const void *p)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%p\n", p);
    if (write(1, line, (size_t)n) != n) _exit(TEST_HARD_ERROR);
}

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char line[64];
    int n = snprintf(line, sizeof line, "handler: SIGSEGV at %p\n", si->si_addr);
    if (write(2, line, (size_t)n) != n) _exit(TEST_HARD_ERROR);
    _exit(42);
}

static int run_case(const char *name)
{
    gt_no_core();
    volatile char *p;
    size_t n = small_size;
    if (!strcmp(name, "own_handler")) {
        struct sigaction sa, now;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        p = do_malloc(n);
        sigaction(SIGSEGV, NULL, &now);
        if (now.sa_sigaction == handler) return 3;   /* wheap did not install on top */
        announce((void *)p);
        p[n] = 1;
        return 4;
    }
    if (!strcmp(name, "overflow") || !strcmp(name, "sample_overflow")) {
        p = do_malloc(n);
        announce((void *)p);
        p[n] = 1;
    } else if (!strcmp(name, "overflow_large")) {
        n = (size_t)3 << 20;
        p = do_malloc(n);
        memset((void *)p, 1, n);
        announce((void *)p);
        if (p[n + 5] == 7) return 5;
    } else if (!strcmp(name, "underflow")) {
        p = do_malloc(4096);
        announce((void *)p);
        if (p[-1] == 7) return 5;
    } else if (!strcmp(name, "underflow_aligned")) {
        p = do_memalign(4096, 100);
        announce((void *)p);
        p[-16] = 1;
    } else if (!strcmp(name, "uaf_read") || !strcmp(name, "uaf_write")) {
        p = do_malloc(64);
        memset((void *)p, 1, 64);
        do_free((void *)p);
        announce((void *)p);
        if (name[4] == 'w') p[40] = 1;
        else if (p[8] == 7) return 5;
    } else if (!strcmp(name, "slack_free") || !strcmp(name, "slack_warn")) {
        p = do_malloc(20);
        announce((void *)p);
        p[20] = 'x';
        do_free((void *)p);
        if (write(1, "continued\n", 10) != 10) return TEST_HARD_ERROR;
        return 0;
    } else if (!strcmp(name, "slack_realloc")) {
        p = do_malloc(21);
        announce((void *)p);
        p[23] = 'x';
        p = do_realloc((void *)p, 100);
    } else if (!strcmp(name, "double_free")) {
        p = do_malloc(40);
        announce((void *)p);
        do_free((void *)p);
        do_free((void *)p);
    } else if (!strcmp(name, "interior")) {
        p = do_malloc(40);
        announce((void *)(p + 16));
        do_free((void *)(p + 16));
    } else {
        return TEST_HARD_ERROR;
    }
    if (write(1, "continued\n", 10) != 10) return TEST_HARD_ERROR;
    return 0;
}

typedef struct fcase {
    const char *name, *options;
    int signal;          /* expected death, or 0 */
    int exit_code;       /* expected exit when signal is 0 */
    const char *fmt;     /* the expected stderr; %p: P + delta */
    long delta;
} fcase;

static const fcase cases[] = {
    {"overflow", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: heap overflow: write at %p, 0 bytes past the 32-byte block at %p\n", 32},
    {"overflow_large", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: heap overflow: read at %p, 5 bytes past the 3145728-byte block at %p\n",
     (3 << 20) + 5},
    {"underflow", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: heap underflow: read at %p, 1 bytes before the 4096-byte block at %p\n", -1},
    {"underflow_aligned", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: heap underflow: write at %p, 16 bytes before the 100-byte block at %p\n",
     -16},
    {"uaf_read", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: use after free: read at %p, 8 bytes into the freed 64-byte block at %p\n",
     8},
    {"uaf_write", "guard_mode=page", SIGSEGV, 0,
     "wheap: guard: use after free: write at %p, 40 bytes into the freed 64-byte block at %p\n",
     40},
    {"sample_overflow", "guard_mode=sample,guard_sample=1", SIGSEGV, 0,
     "wheap: guard: heap overflow: write at %p, 0 bytes past the 32-byte block at %p\n", 32},
    {"own_handler", "guard_mode=page", 0, 42,
     "wheap: guard: heap overflow: write at %p, 0 bytes past the 32-byte block at %p\n"
     "handler: SIGSEGV at %p\n", 32},
    {"slack_free", "guard_mode=page", SIGABRT, 0,
     "wheap: guard: heap overflow: write at %p, 0 bytes past the 20-byte block at %p, "
     "found by free()\n", 20},
    {"slack_realloc", "guard_mode=page", SIGABRT, 0,
     "wheap: guard: heap overflow: write at %p, 2 bytes past the 21-byte block at %p, "
     "found by realloc()\n", 23},
    {"slack_warn", "guard_mode=page,abort_on_misuse=0", 0, 0,
     "wheap: guard: heap overflow: write at %p, 0 bytes past the 20-byte block at %p, "
     "found by free()\n", 20},
    {"double_free", "guard_mode=page", SIGABRT, 0,
     "wheap: free(): double free or already freed pointer: %p\n", 0},
    {"interior", "guard_mode=page", SIGABRT, 0,
     "wheap: free(): pointer into the middle of a block: %p\n", 0},
};

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case")) return run_case(argv[2]);
    if (!mt_malloc_is_wheap()) test_skip("malloc is not wheap's");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const fcase *c = &cases[i];
        gt_outcome o = gt_spawn(c->name, c->options);
        char got[64], expected[512];
        void *p = NULL;
        if (sscanf(o.out, "%p", &p) != 1) {
            test_fail_at(__FILE__, __LINE__, "%s: no address from the child (%s); stderr: %s",
                         c->name, gt_describe(o.status, got, sizeof got), o.err);
            continue;
        }
        char *at = (char *)p + c->delta;
        snprintf(expected, sizeof expected, c->fmt, (void *)at, p, (void *)at);
        bool status_ok = c->signal ? WIFSIGNALED(o.status) && WTERMSIG(o.status) == c->signal
                                   : WIFEXITED(o.status) && WEXITSTATUS(o.status) == c->exit_code;
        if (!status_ok)
            test_fail_at(__FILE__, __LINE__, "%s: expected %s %d, got %s; stderr: %s", c->name,
                         c->signal ? "signal" : "exit", c->signal ? c->signal : c->exit_code,
                         gt_describe(o.status, got, sizeof got), o.err);
        if (strcmp(o.err, expected) != 0)
            test_fail_at(__FILE__, __LINE__, "%s: stderr\n%s  expected\n%s", c->name, o.err,
                         expected);
        bool continued = strstr(o.out, "continued") != NULL;
        if (continued != (!c->signal && c->exit_code == 0))
            test_fail_at(__FILE__, __LINE__, "%s: the child %s after the misuse", c->name,
                         continued ? "went on" : "stopped");
        fprintf(stderr, "%-18s %s", c->name, o.err);
    }
    return test_done();
}
