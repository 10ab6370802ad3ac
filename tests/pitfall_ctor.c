/*
 * PITFALLS 10: calls before the allocator's own initialisation, and pointers
 * it never handed out.
 *
 * Two hooks run before wheap's constructor: a .preinit_array entry (the
 * dynamic linker runs the executable's preinit functions before the
 * initialisers of any shared library, libwheap included) and a constructor
 * of priority 101.  (Within one object the priority orders constructors;
 * across objects a dependency's run first, so the priority alone would not
 * get ahead of libwheap: the preinit entry does.)  Both call free(NULL),
 * malloc, calloc, realloc and free, and keep a block each; main verifies and
 * frees those blocks: memory handed out before initialisation is the
 * allocator's own, not a foreign pointer.
 *
 * Then, wheap only: a child frees a static buffer, which must give wheap's
 * one-line diagnostic and SIGABRT, not corruption or silence.
 */
#include "malloc_test.h"

#include <sys/resource.h>

enum { EARLY_SIZE = 1000 };

typedef struct early {
    char *block;
    int errno_after_free_null;
    int ok;
} early;

static early at_preinit, at_ctor;

static void allocate_early(early *e, uint64_t seed)
{
    errno = 31;
    free(NULL);
    e->errno_after_free_null = errno;
    char *tmp = malloc(10);
    if (!tmp) return;
    free(tmp);
    char *z = calloc(100, 10);
    if (!z || !mt_all_zero(z, 1000)) return;
    z = realloc(z, 5000);
    if (!z) return;
    free(z);
    e->block = malloc(EARLY_SIZE);
    if (!e->block) return;
    mt_fill(e->block, EARLY_SIZE, seed);
    e->ok = 1;
}

static void preinit(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    allocate_early(&at_preinit, 1);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_entry)(int, char **,
                                                                                 char **) = preinit;

__attribute__((constructor(101))) static void early_constructor(void)
{
    allocate_early(&at_ctor, 2);
}

static _Alignas(64) char static_buf[1024];
static void (*volatile do_free)(void *) = free;

static void free_static(void *arg)
{
    (void)arg;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    do_free(static_buf + 64);
}

int main(void)
{
    early *hooks[] = {&at_preinit, &at_ctor};
    const char *names[] = {"preinit", "constructor(101)"};
    for (int i = 0; i < 2; i++) {
        early *e = hooks[i];
        if (!e->ok) {
            test_fail_at(__FILE__, __LINE__, "%s: the allocator failed before initialisation", names[i]);
            continue;
        }
        expect_eq_u64(e->errno_after_free_null, 31);
        if (mt_check(e->block, EARLY_SIZE, (uint64_t)i + 1) != EARLY_SIZE)
            test_fail_at(__FILE__, __LINE__, "%s: early block damaged", names[i]);
        expect_ge_u64(malloc_usable_size(e->block), EARLY_SIZE);
        char *grown = realloc(e->block, EARLY_SIZE * 50);
        require_true(grown != NULL);
        expect_eq_u64(mt_check(grown, EARLY_SIZE, (uint64_t)i + 1), EARLY_SIZE);
        free(grown);
    }

    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "note: malloc is not wheap's; the diagnostic for a static buffer is not "
                        "checked\n");
        return test_done();
    }
    int fds[2];
    require_true(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    require_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        free_static(NULL);
        _exit(0);
    }
    close(fds[1]);
    char err[2048];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], err + n, sizeof err - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    expect_child_signal(status, SIGABRT);
    char addr[32];
    snprintf(addr, sizeof addr, "%p", (void *)(static_buf + 64));
    if (!strstr(err, "wheap") || !strstr(err, "free") || !strstr(err, addr))
        test_fail_at(__FILE__, __LINE__, "diagnostic should name wheap, free and %s: \"%s\"", addr,
                     err);
    fprintf(stderr, "free(static buffer): %s", err);
    return test_done();
}
