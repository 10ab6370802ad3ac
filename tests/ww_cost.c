/* What write watch costs per written page, against plain writes (printed;
 * the test passes unless the watch gives wrong answers).
 *
 *   first write   a fresh committed page: both take the page fault that
 *                 allocates the page; the watch adds its bookkeeping
 *   rewrite       a resident page: a plain store costs nothing extra, a
 *                 watched page that was reset takes one minor fault, which
 *                 the kernel resolves itself (no signal, no user code)
 *   get + reset   GetWriteWatch(WRITE_WATCH_FLAG_RESET) over written pages
 *   commit        VirtualAlloc(MEM_RESERVE | MEM_COMMIT): the watch also
 *                 registers the range and write-protects every page entry
 */
#include "win32_test.h"

#include <time.h>

#define PAGES 16384
#define ROUNDS 5

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double touch(char *p, size_t ps)
{
    double t = now_ns();
    for (size_t i = 0; i < PAGES; i++) ((volatile char *)p)[i * ps] = (char)i;
    return (now_ns() - t) / PAGES;
}

static double best(double a, double b) { return a < b ? a : b; }

int main(void)
{
    size_t ps = page_size(), size = PAGES * ps;
    static void *addr[PAGES];
    double plain_first = 1e30, ww_first = 1e30, plain_again = 1e30, ww_again = 1e30;
    double get_reset = 1e30, plain_commit = 1e30, ww_commit = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        char *plain = wheap_virtual_alloc(NULL, size, WHEAP_MEM_COMMIT | WHEAP_MEM_RESERVE,
                                          WHEAP_PAGE_READWRITE);
        double t1 = now_ns();
        char *ww = ww_alloc(size, WHEAP_MEM_COMMIT | WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
        double t2 = now_ns();
        require_true(plain != NULL);
        plain_commit = best(plain_commit, (t1 - t0) / PAGES);
        ww_commit = best(ww_commit, (t2 - t1) / PAGES);
        plain_first = best(plain_first, touch(plain, ps));
        ww_first = best(ww_first, touch(ww, ps));
        plain_again = best(plain_again, touch(plain, ps));

        size_t count = PAGES;
        uint32_t gran;
        double t = now_ns();
        expect_eq_u64(wheap_get_write_watch(WHEAP_WRITE_WATCH_FLAG_RESET, ww, size, addr, &count,
                                            &gran), 0);
        get_reset = best(get_reset, (now_ns() - t) / PAGES);
        expect_eq_u64(count, PAGES);

        ww_again = best(ww_again, touch(ww, ps));
        count = PAGES;
        expect_eq_u64(wheap_get_write_watch(0, ww, size, addr, &count, &gran), 0);
        expect_eq_u64(count, PAGES);
        expect_true(wheap_virtual_free(plain, 0, WHEAP_MEM_RELEASE));
        expect_true(wheap_virtual_free(ww, 0, WHEAP_MEM_RELEASE));
    }
    printf("write watch cost per page (%d pages of %zu bytes, best of %d):\n", PAGES, ps, ROUNDS);
    printf("  first write to a fresh page:  plain %7.0f ns   watched %7.0f ns   (+%.0f ns)\n",
           plain_first, ww_first, ww_first - plain_first);
    printf("  write to a resident page:     plain %7.1f ns   watched %7.0f ns   (after a reset)\n",
           plain_again, ww_again);
    printf("  GetWriteWatch with reset:     %7.0f ns per written page\n", get_reset);
    printf("  reserve + commit:             plain %7.1f ns   watched %7.1f ns\n", plain_commit,
           ww_commit);
    return test_done();
}
