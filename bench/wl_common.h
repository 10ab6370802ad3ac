/*
 * Shared helpers of the workload programs (bench/wl_*.c).
 *
 * Every workload takes the same options:
 *   -s SCALE    work multiplier (1 = the default suite, --quick uses less)
 *   -t THREADS  worker threads (the runner passes the number of CPUs)
 *   -r FILE     RSS-over-time CSV (wl_memret only; or WL_RSS_CSV)
 *
 * and prints one line "checksum NAME 0x...".  The checksum depends on the
 * arguments alone, never on the allocator or on timing, so the runner compares
 * it across allocators: a difference means some allocator handed out
 * overlapping memory or lost a write.  Lines that begin with "info " carry
 * measurements and are not compared.
 *
 * Include this header first: it defines _GNU_SOURCE.
 */
#ifndef WL_COMMON_H
#define WL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WL_PAGE 4096u

typedef struct wl_args {
    const char *name;
    double      scale;
    int         threads;
    const char *rss_csv;
} wl_args;

/* ------------------------------------------------------------------------
 * Failure and arguments
 * ---------------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 1, 2)))
static inline void wl_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("workload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static inline void *wl_check_alloc(void *p, size_t size)
{
    if (p == NULL)
        wl_die("out of memory allocating %zu bytes", size);
    return p;
}

static inline void wl_parse(int argc, char **argv, wl_args *a, const char *name,
                            int default_threads)
{
    int c;

    a->name = name;
    a->scale = 1.0;
    a->threads = default_threads;
    a->rss_csv = getenv("WL_RSS_CSV");
    while ((c = getopt(argc, argv, "s:t:r:h")) != -1) {
        switch (c) {
        case 's': a->scale = strtod(optarg, NULL); break;
        case 't': a->threads = atoi(optarg); break;
        case 'r': a->rss_csv = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-s scale] [-t threads] [-r rss.csv]\n", argv[0]);
            exit(c == 'h' ? 0 : 2);
        }
    }
    if (!(a->scale > 0.0) || a->scale > 1000.0)
        wl_die("bad scale");
    if (a->threads < 1 || a->threads > 1024)
        wl_die("bad thread count");
}

/* base * scale, at least 1. */
static inline uint64_t wl_scaled(const wl_args *a, uint64_t base)
{
    double v = (double)base * a->scale;
    return v < 1.0 ? 1 : (uint64_t)v;
}

/* ------------------------------------------------------------------------
 * Deterministic randomness (splitmix64): the same seed gives the same
 * sequence on every allocator.
 * ---------------------------------------------------------------------- */

static inline uint64_t wl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t wl_below(uint64_t *state, uint64_t n)
{
    __extension__ typedef unsigned __int128 u128;
    return (uint64_t)(((u128)wl_rand(state) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline size_t wl_between(uint64_t *state, size_t lo, size_t hi)
{
    return lo + (size_t)wl_below(state, (uint64_t)(hi - lo) + 1);
}

/* Log-uniform in [lo, hi]: every power of two equally likely, so small sizes
 * dominate the count and large ones the bytes, as in real programs. */
static inline size_t wl_log_size(uint64_t *state, size_t lo, size_t hi)
{
    int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
    int b = lb + (int)wl_below(state, (uint64_t)(hb - lb + 1));
    size_t base = (size_t)1 << b;
    size_t s = base + (size_t)wl_below(state, base);
    return s < lo ? lo : s > hi ? hi : s;
}

/* Order-dependent hash step for one thread's sequence of values. */
static inline uint64_t wl_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001B3ull + 0x9E37ull;
}

/* ------------------------------------------------------------------------
 * Block contents: a new block is written the way a program initialises an
 * object (a tag at both ends, one byte in every page, so RSS counts every
 * page asked for); wl_verify reads it back before the block is freed.
 * ---------------------------------------------------------------------- */

static atomic_int wl_corrupt_reported;

static inline void wl_fill(void *p, size_t size, uint64_t tag)
{
    unsigned char *b = p;

    if (size < 16) {
        memset(b, (int)(tag & 0xFF), size);
        return;
    }
    uint64_t end = ~tag;
    memcpy(b, &tag, 8);
    memcpy(b + size - 8, &end, 8);
    for (size_t off = WL_PAGE; off + 8 < size; off += WL_PAGE)
        b[off] = (unsigned char)(tag >> 8);
}

static inline void wl_report_corruption(const void *p, size_t size)
{
    if (atomic_exchange(&wl_corrupt_reported, 1) == 0)
        fprintf(stderr, "workload: block %p (%zu bytes) was overwritten\n", p, size);
}

/* Returns the tag the block holds; a damaged block yields a value that
 * changes the checksum. */
static inline uint64_t wl_verify(const void *p, size_t size)
{
    const unsigned char *b = p;
    uint64_t tag, end;

    if (size < 16)
        return size ? b[0] : 0;
    memcpy(&tag, b, 8);
    memcpy(&end, b + size - 8, 8);
    if (end != ~tag) {
        wl_report_corruption(p, size);
        return tag ^ 0xBADBADBADull;
    }
    for (size_t off = WL_PAGE; off + 8 < size; off += WL_PAGE) {
        if (b[off] != (unsigned char)(tag >> 8)) {
            wl_report_corruption(p, size);
            return tag ^ 0xBADBADBADull;
        }
    }
    return tag;
}

/* ------------------------------------------------------------------------
 * Threads, time, output
 * ---------------------------------------------------------------------- */

/* Runs fn on n threads, thread i getting (char *)args + i * arg_size. */
static inline void wl_run_threads(int n, void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t *tid = wl_check_alloc(calloc((size_t)n, sizeof *tid), (size_t)n * sizeof *tid);

    for (int i = 0; i < n; i++) {
        int e = pthread_create(&tid[i], NULL, fn, (char *)args + (size_t)i * arg_size);
        if (e != 0)
            wl_die("pthread_create: %s", strerror(e));
    }
    for (int i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    free(tid);
}

static inline double wl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void wl_sleep_ms(double ms)
{
    long long ns = (long long)(ms * 1e6);
    struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Prints the checksum line, and the object that defines malloc so the runner
 * can tell that LD_PRELOAD took effect. */
static inline int wl_finish(const wl_args *a, uint64_t checksum)
{
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");

    printf("checksum %s 0x%016llx\n", a->name, (unsigned long long)checksum);
    if (m != NULL && dladdr(m, &info) != 0 && info.dli_fname != NULL)
        printf("info allocator=%s\n", info.dli_fname);
    fflush(stdout);
    return atomic_load(&wl_corrupt_reported) ? 3 : 0;
}

#endif /* WL_COMMON_H */
