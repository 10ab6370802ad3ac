/* wheap_heap_validate finds damaged metadata: a free block's link word
 * overwritten (a use after free, or an overflow from the block before); with
 * HeapEnableTerminationOnCorruption the damage aborts with one line naming
 * wheap, in a child process here. */
#include "heap_test.h"
#include <fcntl.h>

/* Frees b, then writes over its first word as a buggy program would. */
static void damage(wheap_heap *h)
{
    void *blocks[64];
    for (int i = 0; i < 64; i++) require_true((blocks[i] = wheap_heap_alloc(h, 0, 48)) != NULL);
    for (int i = 0; i < 64; i += 2) require_true(wheap_heap_free(h, 0, blocks[i]));
    memset(blocks[10], 0x41, 16);
}

static void child_terminate(void *arg)
{
    (void)arg;
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    if (!h || !wheap_heap_set_information(h, WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION, NULL, 0))
        _exit(3);
    damage(h);
    wheap_heap_validate(h, 0, NULL);
    _exit(0);   /* not reached: the damage aborts */
}

static void child_terminate_on_use(void *arg)
{
    (void)arg;
    if (!wheap_heap_set_information(NULL, WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION, NULL, 0))
        _exit(3);
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    if (!h) _exit(3);
    damage(h);
    /* Allocating reaches the damaged link. */
    for (int i = 0; i < 64; i++) wheap_heap_alloc(h, 0, 48);
    _exit(0);
}

/* Runs fn in a child with stderr captured; returns the status. */
static int run_captured(void (*fn)(void *), char *out, size_t cap)
{
    int fds[2];
    require_true(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    require_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(NULL);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return status;
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    expect_true(wheap_heap_validate(h, 0, NULL));
    void *keep = wheap_heap_alloc(h, 0, 100);
    require_true(keep != NULL);
    expect_true(wheap_heap_validate(h, 0, NULL));
    damage(h);
    /* Without termination: false, and the heap still answers. */
    expect_false(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_validate(h, 0, keep));
    expect_eq_u64(wheap_heap_size(h, 0, keep), 100);
    /* Allocation does not hand out the damaged link's target. */
    for (int i = 0; i < 200; i++) {
        void *p = wheap_heap_alloc(h, 0, 48);
        require_true(p != NULL);
        expect_true(wheap_heap_validate(h, 0, p));
        memset(p, 0, 48);
    }
    expect_eq_u64(wheap_heap_size(h, 0, keep), 100);
    expect_true(wheap_heap_destroy(h));

    /* With termination on: one line naming wheap, then abort. */
    char out[1024];
    int status = run_captured(child_terminate, out, sizeof out);
    expect_child_signal(status, SIGABRT);
    expect_true(strncmp(out, "wheap: ", 7) == 0);
    expect_true(strchr(out, '\n') == out + strlen(out) - 1);
    expect_true(strstr(out, "corrupt") != NULL);

    status = run_captured(child_terminate_on_use, out, sizeof out);
    expect_child_signal(status, SIGABRT);
    expect_true(strncmp(out, "wheap: ", 7) == 0);
    return test_done();
}
