/*
 * The report of stats=1 never allocates.  This program links wheap's core
 * (glibc's malloc underneath) and replaces malloc, calloc, realloc and the
 * aligned allocators with a bump allocator that aborts, naming itself,
 * once `forbidden` is set.  It fills a private heap and the process heap,
 * then forbids allocation and
 *   1. calls the report directly: it must print the totals and the heap
 *      rows (into a temporary file standing in for stderr);
 *   2. returns from main with stats=1: exit runs the library destructor,
 *      which prints the report again while allocation is still forbidden.
 * The parent checks that the child exited 0 with two reports and no abort
 * line.  A report that used stdio streams, strdup, asprintf or any other
 * allocating call would abort the child.
 */
#include "ops_test.h"
/* After test.h, which sets _GNU_SOURCE before any system header. */
#include "internal.h"

#include <sys/mman.h>

static volatile int forbidden;
static char pool[16 << 20] __attribute__((aligned(64)));
static size_t pool_used;

static void refuse(const char *fn)
{
    static const char msg[] = "ops_stats_noalloc: allocation while forbidden: ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, fn, strlen(fn)) < 0 || write(2, "\n", 1) < 0) {}
    abort();
}

static void *bump(size_t align, size_t size)
{
    size_t at = (pool_used + align - 1) & ~(align - 1);
    if (at + size + 16 > sizeof pool) return NULL;
    *(size_t *)(pool + at) = size;               /* realloc's copy length */
    pool_used = at + 16 + size;
    return pool + at + 16;
}

void *malloc(size_t n)
{
    if (forbidden) refuse("malloc");
    return bump(16, n);
}
void *calloc(size_t a, size_t b)
{
    if (forbidden) refuse("calloc");
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) return NULL;
    return bump(16, n);        /* the pool is zero and never reused */
}
void *realloc(void *p, size_t n)
{
    if (forbidden) refuse("realloc");
    void *q = bump(16, n);
    if (p && q) {
        size_t old = *(size_t *)((char *)p - 16);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}
void free(void *p) { (void)p; }
void *memalign(size_t a, size_t n)
{
    if (forbidden) refuse("memalign");
    return bump(a < 16 ? 16 : a, n + a);
}
void *aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n)
{
    void *p = memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static int child(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    if (!h) return 2;
    for (int i = 0; i < 1000; i++)
        if (!wheap_heap_alloc(h, 0, 100)) return 2;
    if (!wheap_heap_alloc(wheap_get_process_heap(), 0, 5000)) return 2;
    char path[] = "/tmp/wheap-ops-noalloc-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    unlink(path);
    int saved = dup(2);
    forbidden = 1;
    dup2(fd, 2);
    wh_stats_print();
    dup2(saved, 2);
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    /* The direct call printed the totals and the private heap's row. */
    if (!strstr(buf, "wheap: stats: reserved ") || !strstr(buf, "wheap: stats: heap "))
        return 3;
    if (write(saved, buf, (size_t)(n > 0 ? n : 0)) < 0) return 2;
    return 0;   /* exit: the destructor prints again, still forbidden */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child();
    static char out[65536];
    int st = ops_run_child("--child", "stats=1", out, sizeof out);
    fputs(out, stderr);
    expect_child_exit(st, 0);
    expect_eq_u64(ops_count(out, "allocation while forbidden"), 0);
    expect_eq_u64(ops_count(out, "wheap: stats: pid "), 2);
    expect_eq_u64(ops_count(out, "wheap: stats: VmRSS "), 2);
    return test_done();
}
