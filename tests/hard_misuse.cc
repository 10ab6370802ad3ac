/*
 * Misuse of the malloc layer (issue 15), each case in its own process:
 * the EXACT line wheap prints, then death by SIGABRT; with
 * WHEAP_OPTIONS=abort_on_misuse=0 the same text as a warning, and the
 * program carries on with its heap intact (blocks allocated before the
 * misuse keep their contents, the process heap validates, new blocks work).
 *
 * tests/malloc_bad_free covers static, stack, mmap, interior and double
 * frees through free() and realloc() by substring; this test pins the whole
 * line and adds what that one lacks: pointers into a segment's metadata,
 * one past the end of a block, misaligned pointers, realloc of stack memory
 * and of a doubly freed block, and free_sized, free_aligned_sized and the
 * C++ deletes (plain, array, sized, aligned) given bad pointers.
 *
 * Expectations are wheap's: under another allocator the test is skipped.
 */
#include "malloc_test.h"

#include <new>
#include <sys/resource.h>

/* The wrong calls are the point of this file. */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

struct misuse_case {
    const char *name;
    const char *line;    /* the exact stderr line; %p stands for the address */
};

#define NOT_OURS "pointer not allocated by wheap"
#define INTERIOR "pointer into the middle of a block"
#define DOUBLE "double free or already freed pointer"

static const misuse_case cases[] = {
    {"free of a segment header", "wheap: free(): " NOT_OURS ": %p"},
    {"free of segment metadata (header + 4 KiB)", "wheap: free(): " NOT_OURS ": %p"},
    /* Still inside the block's own reservation (its 64 KiB granules). */
    {"free one past a large block", "wheap: free(): " INTERIOR ": %p"},
    {"free one past a small block (next slot free)", "wheap: free(): " DOUBLE ": %p"},
    {"free of a misaligned pointer (p + 1)", "wheap: free(): " INTERIOR ": %p"},
    {"free of a misaligned pointer (p + 8)", "wheap: free(): " INTERIOR ": %p"},
    {"free of stack memory", "wheap: free(): " NOT_OURS ": %p"},
    {"free of static memory", "wheap: free(): " NOT_OURS ": %p"},
    {"realloc of stack memory", "wheap: realloc(): " NOT_OURS ": %p"},
    {"realloc of a segment header", "wheap: realloc(): " NOT_OURS ": %p"},
    {"realloc of a misaligned pointer", "wheap: realloc(): " INTERIOR ": %p"},
    {"realloc of a large interior pointer", "wheap: realloc(): " INTERIOR ": %p"},
    {"realloc(p, 0) of a freed block", "wheap: realloc(): " DOUBLE ": %p"},
    {"free_sized of a freed block", "wheap: free_sized(): " DOUBLE ": %p"},
    {"free_sized of static memory", "wheap: free_sized(): " NOT_OURS ": %p"},
    {"free_aligned_sized of an interior pointer", "wheap: free_aligned_sized(): " INTERIOR ": %p"},
    /* g++ calls the sized delete for a complete type (C++14). */
    {"delete of a freed object", "wheap: free_sized(): " DOUBLE ": %p"},
    {"delete[] of an interior pointer", "wheap: free(): " INTERIOR ": %p"},
    {"sized delete of stack memory", "wheap: free_sized(): " NOT_OURS ": %p"},
    {"aligned sized delete of a freed object", "wheap: free_aligned_sized(): " DOUBLE ": %p"},
    {"aligned delete of static memory", "wheap: free(): " NOT_OURS ": %p"},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

alignas(64) static char static_buf[4096];

/* Through volatiles: the compiler may neither warn about nor drop the
 * deliberately wrong calls. */
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static void (*volatile do_free)(void *) = free;
typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);

static void *segment_base(void *p)
{
    wheap_memory_basic_information m;
    if (wheap_virtual_query(p, &m, sizeof m) != sizeof m || !m.allocation_base)
        _exit(TEST_HARD_ERROR);
    return m.allocation_base;
}

struct kept {
    char *p;
    size_t n;
};
enum { KEEP = 200 };
static kept keep[KEEP];

/* Blocks that live across the misuse: their contents must survive it. */
static void keep_blocks(void)
{
    uint64_t rng = 11;
    for (int i = 0; i < KEEP; i++) {
        keep[i].n = (size_t)(mt_rand(&rng) % (i % 40 == 0 ? 600000 : 3000)) + 1;
        keep[i].p = static_cast<char *>(malloc(keep[i].n));
        if (!keep[i].p) _exit(TEST_HARD_ERROR);
        mt_fill(keep[i].p, keep[i].n, (uint64_t)i + 1000);
    }
}

/* Prints the bad address on stdout for the parent, then misuses it. */
static void announce(const void *p)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%p\n", p);
    if (write(1, line, (size_t)n) != n) _exit(TEST_HARD_ERROR);
}

static void misuse(int k, char *stack_buf)
{
    auto free_sized_p = reinterpret_cast<free_sized_fn>(mt_sym("free_sized"));
    auto free_aligned_sized_p = reinterpret_cast<free_aligned_sized_fn>(mt_sym("free_aligned_sized"));
    if (!free_sized_p || !free_aligned_sized_p) _exit(TEST_HARD_ERROR);
    char *p, *q;
    switch (k) {
    case 0: p = static_cast<char *>(malloc(100)); q = static_cast<char *>(segment_base(p));
        announce(q); do_free(q); break;
    case 1: p = static_cast<char *>(malloc(100)); q = static_cast<char *>(segment_base(p)) + 4096;
        announce(q); do_free(q); break;
    case 2: p = static_cast<char *>(malloc(5u << 20)); memset(p, 1, 5u << 20);
        q = p + malloc_usable_size(p); announce(q); do_free(q); break;
    case 3: {
        /* Two neighbours of one size class: free the second, then pass the
         * address one past the first. */
        char *a = NULL, *b = NULL;
        for (int tries = 0; tries < 64 && !b; tries++) {
            a = static_cast<char *>(malloc(48));
            char *c = static_cast<char *>(malloc(48));
            if (c == a + malloc_usable_size(a)) b = c;
        }
        if (!b) _exit(TEST_HARD_ERROR);
        do_free(b);
        q = a + malloc_usable_size(a);
        announce(q);
        do_free(q);
        break;
    }
    case 4: p = static_cast<char *>(malloc(64)); announce(p + 1); do_free(p + 1); break;
    case 5: p = static_cast<char *>(malloc(64)); announce(p + 8); do_free(p + 8); break;
    case 6: announce(stack_buf + 32); do_free(stack_buf + 32); break;
    case 7: announce(static_buf + 256); do_free(static_buf + 256); break;
    case 8: announce(stack_buf + 64); do_realloc(stack_buf + 64, 10); break;
    case 9: p = static_cast<char *>(malloc(10)); q = static_cast<char *>(segment_base(p));
        announce(q); do_realloc(q, 10); break;
    case 10: p = static_cast<char *>(malloc(300)); announce(p + 3); do_realloc(p + 3, 600); break;
    case 11: p = static_cast<char *>(malloc(3u << 20)); memset(p, 1, 3u << 20);
        announce(p + 65536); do_realloc(p + 65536, 100); break;
    case 12: p = static_cast<char *>(malloc(700)); do_free(p); announce(p); do_realloc(p, 0); break;
    case 13: p = static_cast<char *>(malloc(90)); do_free(p); announce(p); free_sized_p(p, 90); break;
    case 14: announce(static_buf + 512); free_sized_p(static_buf + 512, 16); break;
    case 15: p = static_cast<char *>(aligned_alloc(256, 1024)); announce(p + 256);
        free_aligned_sized_p(p + 256, 256, 768); break;
    case 16: {
        long *volatile o = new long(5);
        delete o;
        announce(o);
        delete o;   /* the bug under test */
        break;
    }
    case 17: {
        auto *v = new int[100];
        int *volatile bad = v + 10;
        announce(bad);
        delete[] bad;
        break;
    }
    case 18: announce(stack_buf + 128);
        ::operator delete(static_cast<void *>(stack_buf + 128), (size_t)32); break;
    case 19: {
        void *o = ::operator new(500, std::align_val_t(128));
        ::operator delete(o, (size_t)500, std::align_val_t(128));
        announce(o);
        ::operator delete(o, (size_t)500, std::align_val_t(128));
        break;
    }
    case 20: announce(static_buf + 1024);
        ::operator delete(static_cast<void *>(static_buf + 1024), std::align_val_t(64)); break;
    default: _exit(TEST_HARD_ERROR);
    }
}

/* The re-executed child. */
static int run_case(int k)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    char stack_buf[1024];
    memset(stack_buf, 1, sizeof stack_buf);
    keep_blocks();
    misuse(k, stack_buf);
    if (write(1, "continued\n", 10) != 10) return TEST_HARD_ERROR;
    /* Everything from before is intact, and the heap is sound. */
    for (int i = 0; i < KEEP; i++)
        if (mt_check(keep[i].p, keep[i].n, (uint64_t)i + 1000) != keep[i].n) return 2;
    if (!wheap_heap_validate(wheap_get_process_heap(), 0, NULL)) return 3;
    uint64_t rng = 5;
    for (int round = 0; round < 3; round++) {
        char *blk[300];
        size_t len[300];
        for (int i = 0; i < 300; i++) {
            len[i] = (size_t)(mt_rand(&rng) % 5000) + 1;
            blk[i] = static_cast<char *>(malloc(len[i]));
            if (!blk[i]) return 4;
            mt_fill(blk[i], len[i], (uint64_t)i);
        }
        for (int i = 0; i < 300; i++) {
            if (mt_check(blk[i], len[i], (uint64_t)i) != len[i]) return 5;
            free(blk[i]);
        }
    }
    for (int i = 0; i < KEEP; i++) {
        if (mt_check(keep[i].p, keep[i].n, (uint64_t)i + 1000) != keep[i].n) return 6;
        free(keep[i].p);
    }
    if (!wheap_heap_validate(wheap_get_process_heap(), 0, NULL)) return 7;
    return 0;
}

typedef test_outcome outcome;

static outcome spawn_case(int k, bool warn_only)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", k);
    return test_spawn_case("hard_misuse", arg, warn_only ? "abort_on_misuse=0" : NULL);
}

/* The template with %p replaced by addr, a suffix, and a newline. */
static void expected_line(char *buf, size_t cap, const char *tmpl, const char *addr,
                          const char *suffix)
{
    const char *at = strstr(tmpl, "%p");
    snprintf(buf, cap, "%.*s%s%s%s\n", (int)(at - tmpl), tmpl, addr, at + 2, suffix);
}

static void describe(char *buf, size_t cap, int status)
{
    snprintf(buf, cap, "%s %d", WIFSIGNALED(status) ? "signal" : "exit",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case")) return run_case(atoi(argv[2]));
    if (!mt_malloc_is_wheap())
        test_skip("malloc is not wheap's: the diagnostics checked here are wheap's");
    if (!mt_sym("free_sized") || !mt_sym("free_aligned_sized"))
        test_skip("free_sized / free_aligned_sized are not exported");

    for (int k = 0; k < NCASES; k++) {
        const misuse_case *m = &cases[k];
        char addr[64] = "", want[512], how[64];

        outcome a = spawn_case(k, false);
        sscanf(a.out, "%63s", addr);
        expected_line(want, sizeof want, m->line, addr, "");
        describe(how, sizeof how, a.status);
        if (!WIFSIGNALED(a.status) || WTERMSIG(a.status) != SIGABRT)
            test_fail_at(__FILE__, __LINE__, "%s: expected SIGABRT, got %s; stderr: %s", m->name,
                         how, a.err);
        if (strcmp(a.err, want))
            test_fail_at(__FILE__, __LINE__, "%s: stderr\n  %s  expected\n  %s", m->name, a.err,
                         want);
        if (strstr(a.out, "continued"))
            test_fail_at(__FILE__, __LINE__, "%s: went on after the misuse", m->name);
        fprintf(stderr, "%-46s %s", m->name, a.err);

        outcome w = spawn_case(k, true);
        sscanf(w.out, "%63s", addr);
        expected_line(want, sizeof want, m->line, addr, " (ignored: abort_on_misuse=0)");
        describe(how, sizeof how, w.status);
        if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0)
            test_fail_at(__FILE__, __LINE__, "%s with abort_on_misuse=0: %s; stderr: %s", m->name,
                         how, w.err);
        if (strcmp(w.err, want))
            test_fail_at(__FILE__, __LINE__, "%s with abort_on_misuse=0: stderr\n  %s  expected\n  %s",
                         m->name, w.err, want);
        if (!strstr(w.out, "continued"))
            test_fail_at(__FILE__, __LINE__, "%s: did not carry on", m->name);
    }
    return test_done();
}
