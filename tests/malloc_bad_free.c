/*
 * Bad pointers given to free and realloc (DESIGN.md "malloc semantics",
 * issue 15 misuse cases): a pointer wheap never handed out (a static buffer,
 * a stack buffer, a page from mmap), an interior pointer of a small and of a
 * large block, a double free of a small and of a large block, and realloc of
 * a static buffer, of an interior pointer and of a freed block.
 *
 * Each case runs in a fresh process (this binary re-executed with --case N)
 * with stderr captured through a pipe.  By default it must die by SIGABRT
 * after printing exactly one line that names wheap, the call ("free" or
 * "realloc") and the address as %p prints it.  With
 * WHEAP_OPTIONS=abort_on_misuse=0 the same line is printed and the program
 * carries on: it then allocates, verifies and frees blocks, and exits 0.
 *
 * The expectations are wheap's: under another allocator (glibc's, before
 * libwheap exports malloc) the test is skipped.
 */
#include "malloc_test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

typedef struct misuse_t {
    const char *name;
    const char *call;          /* what the diagnostic must name */
} misuse_t;

static const misuse_t cases[] = {
    {"free of a static buffer", "free"},
    {"free of a stack buffer", "free"},
    {"free of an mmap'ed page", "free"},
    {"free of an interior pointer (small block)", "free"},
    {"free of an interior pointer (large block, page aligned)", "free"},
    {"double free (small block)", "free"},
    {"double free (large block)", "free"},
    {"realloc of a static buffer", "realloc"},
    {"realloc of an interior pointer", "realloc"},
    {"realloc of a freed block", "realloc"},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static _Alignas(64) char static_buf[4096];

/* Through a volatile, so that the compiler neither warns about nor removes
 * the deliberately wrong calls. */
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static void (*volatile do_free)(void *) = free;

/* Sets case k up (allocates, frees the first time); returns the bad
 * pointer that misuse() passes. */
static void *prepare(int k, char *stack_buf)
{
    char *p;
    switch (k) {
    case 0: return static_buf + 64;
    case 1: return stack_buf + 16;
    case 2:
        p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) _exit(TEST_HARD_ERROR);
        return p;
    case 3: p = malloc(64); return p + 16;
    case 4:
        p = malloc(3u << 20);
        memset(p, 2, 3u << 20);
        return p + 8192 - ((uintptr_t)p & 4095);
    case 5: p = malloc(48); do_free(p); return p;
    case 6: p = malloc(4u << 20); memset(p, 3, 4u << 20); do_free(p); return p;
    case 7: return static_buf + 128;
    case 8: p = malloc(200); return p + 32;
    case 9: p = malloc(80); do_free(p); return p;
    default: _exit(TEST_HARD_ERROR);
    }
}

static void misuse(int k, void *bad)
{
    if (!strcmp(cases[k].call, "realloc")) do_realloc(bad, 100 + (size_t)k);
    else do_free(bad);
}

/* The re-executed child: tell the parent the bad address on stdout, misuse
 * it (by default wheap aborts here), then prove the heap still works. */
static int run_case(int k)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    char stack_buf[256], line[64];
    memset(stack_buf, 1, sizeof stack_buf);
    void *bad = prepare(k, stack_buf);
    int n = snprintf(line, sizeof line, "%p\n", bad);
    if (write(1, line, (size_t)n) != n) return TEST_HARD_ERROR;
    misuse(k, bad);
    if (write(1, "continued\n", 10) != 10) return TEST_HARD_ERROR;
    uint64_t rng = 5;
    char *blk[500];
    size_t len[500];
    for (int i = 0; i < 500; i++) {
        len[i] = (size_t)(mt_rand(&rng) % 5000) + 1;
        blk[i] = malloc(len[i]);
        if (!blk[i]) return 2;
        mt_fill(blk[i], len[i], (uint64_t)i);
    }
    for (int i = 0; i < 500; i++) {
        if (mt_check(blk[i], len[i], (uint64_t)i) != len[i]) return 3;
        free(blk[i]);
    }
    return 0;
}

typedef test_outcome outcome;

static outcome spawn_case(int k, bool warn_only)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", k);
    return test_spawn_case("malloc_bad_free", arg, warn_only ? "abort_on_misuse=0" : NULL);
}

/* Exactly one line naming wheap, the call and the address. */
static void check_line(const misuse_t *m, const char *mode, const char *err, const char *addr)
{
    size_t lines = 0;
    for (const char *c = err; *c; c++) lines += *c == '\n';
    if (lines != 1 || err[strlen(err) - 1] != '\n') {
        test_fail_at(__FILE__, __LINE__, "%s (%s): %zu lines on stderr, expected one:\n%s", m->name,
                     mode, lines, err);
        return;
    }
    if (!strstr(err, "wheap"))
        test_fail_at(__FILE__, __LINE__, "%s (%s): no \"wheap\" in: %s", m->name, mode, err);
    if (!strstr(err, m->call))
        test_fail_at(__FILE__, __LINE__, "%s (%s): no \"%s\" in: %s", m->name, mode, m->call, err);
    if (!*addr)
        test_fail_at(__FILE__, __LINE__, "%s (%s): the child did not report its address", m->name,
                     mode);
    else if (!strstr(err, addr))
        test_fail_at(__FILE__, __LINE__, "%s (%s): no address %s in: %s", m->name, mode, addr, err);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case")) return run_case(atoi(argv[2]));
    if (!mt_malloc_is_wheap())
        test_skip("malloc is not wheap's: the diagnostics checked here are wheap's");

    for (int k = 0; k < NCASES; k++) {
        const misuse_t *m = &cases[k];
        char addr[64] = "";

        /* Default: one line, then SIGABRT. */
        outcome a = spawn_case(k, false);
        sscanf(a.out, "%63s", addr);
        if (!WIFSIGNALED(a.status) || WTERMSIG(a.status) != SIGABRT) {
            test_fail_at(__FILE__, __LINE__, "%s: expected SIGABRT, got %s %d; stderr: %s", m->name,
                         WIFSIGNALED(a.status) ? "signal" : "exit",
                         WIFSIGNALED(a.status) ? WTERMSIG(a.status) : WEXITSTATUS(a.status), a.err);
        } else {
            check_line(m, "default", a.err, addr);
            if (strstr(a.out, "continued"))
                test_fail_at(__FILE__, __LINE__, "%s: went on after the misuse", m->name);
        }
        fprintf(stderr, "%-58s %s%s", m->name, a.err, *a.err ? "" : "(nothing)\n");

        /* abort_on_misuse=0: the same line, and the program carries on. */
        outcome w = spawn_case(k, true);
        sscanf(w.out, "%63s", addr);
        if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0) {
            test_fail_at(__FILE__, __LINE__, "%s with abort_on_misuse=0: %s %d; stderr: %s", m->name,
                         WIFSIGNALED(w.status) ? "signal" : "exit",
                         WIFSIGNALED(w.status) ? WTERMSIG(w.status) : WEXITSTATUS(w.status), w.err);
        } else {
            check_line(m, "abort_on_misuse=0", w.err, addr);
        }
    }
    return test_done();
}
