/* Writes made by the kernel count: read(2) from a file and from a pipe into
 * a watched buffer, also while another thread is blocked in the read.  And
 * tracking survives fork: the child's watch works (after fork it reports
 * every committed page once, since the parent's record cannot be carried
 * over), the parent's is untouched. */
#include "win32_test.h"

#include <pthread.h>

#define SIZE ((size_t)65536)

static void *res[64];
static char *base;

static size_t get(uint32_t flags)
{
    size_t count = 64;
    uint32_t gran;
    if (wheap_get_write_watch(flags, base, SIZE, res, &count, &gran) != 0) {
        test_fail_at(__FILE__, __LINE__, "GetWriteWatch failed: %u", wheap_get_last_error());
        return 0;
    }
    return count;
}

static int pipe_fd[2];

static void *reader(void *arg)
{
    (void)arg;
    ssize_t n = read(pipe_fd[0], base + 3 * page_size() + 10, 100);
    return (void *)(intptr_t)n;
}

static void in_child(void *arg)
{
    (void)arg;
    size_t n = get(WHEAP_WRITE_WATCH_FLAG_RESET);
    /* At least what the parent wrote; at most every page. */
    if (n < 1 || n > SIZE / page_size()) _exit(1);
    if (get(0) != 0) _exit(2);
    base[7 * page_size()] = 1;
    if (get(0) != 1 || res[0] != base + 7 * page_size()) _exit(3);
    _exit(0);
}

int main(void)
{
    size_t ps = page_size();
    base = ww_alloc(SIZE, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);

    /* read() from a file into pages 0-2 (2 pages and 3 bytes). */
    char path[64];
    int fd = temp_file(2 * ps + 3, 'r', path);
    unlink(path);
    require_true(lseek(fd, 0, SEEK_SET) == 0);
    expect_eq_u64(read(fd, base, SIZE), 2 * ps + 3);
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET), 3);
    expect_eq_ptr(res[0], base);
    expect_eq_ptr(res[2], base + 2 * ps);
    expect_eq_u64(base[2 * ps + 2], 'r');
    /* A read that transfers nothing writes nothing. */
    expect_eq_u64(read(fd, base, SIZE), 0);
    expect_eq_u64(get(0), 0);
    close(fd);

    /* A thread blocked in read() on a pipe, with the buffer in page 3. */
    require_true(pipe(pipe_fd) == 0);
    pthread_t t;
    require_true(pthread_create(&t, NULL, reader, NULL) == 0);
    usleep(50000);
    expect_eq_u64(get(0), 0);
    require_true(write(pipe_fd[1], "hello", 5) == 5);
    void *got;
    pthread_join(t, &got);
    expect_eq_u64((intptr_t)got, 5);
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET), 1);
    expect_eq_ptr(res[0], base + 3 * ps);
    expect_true(memcmp(base + 3 * ps + 10, "hello", 5) == 0);

    /* Fork. */
    base[ps] = 1;
    expect_child_exit(test_in_child(in_child, NULL), 0);
    expect_eq_u64(get(0), 1);
    expect_eq_ptr(res[0], base + ps);
    base[6 * ps] = 1;
    expect_eq_u64(get(0), 2);
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
