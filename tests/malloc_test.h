/*
 * Helpers shared by the malloc-layer tests (tests/malloc_*, tests/pitfall_*).
 *
 * These tests run against whatever allocator the process has: wheap's once
 * libwheap exports the libc names (linked or preloaded), glibc's before that
 * or with --disable-malloc-override, or a peer's under LD_PRELOAD when the
 * tests themselves are being validated.  Expectations that hold for every
 * glibc-compatible allocator are always checked; wheap-only ones (the text
 * of a diagnostic, the wheap_* twins mixing with free) only when
 * mt_malloc_is_wheap() says the allocator in charge is wheap.
 */
#ifndef WHEAP_MALLOC_TEST_H
#define WHEAP_MALLOC_TEST_H

#ifdef __cplusplus
#undef _GNU_SOURCE      /* g++ defines it as 1; test.h defines it empty */
#endif
#include "test.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stddef.h>
#include <time.h>

/* Is the process-wide definition of name (as the dynamic linker resolves it
 * for this process) in the same object as wheap_version?  Both a link with
 * -lwheap and a preload of libwheap.so make it so for the libc names; a
 * libwheap without the override, or none at all, does not. */
static inline bool mt_defined_by_wheap(const char *name)
{
    void *version = dlsym(RTLD_DEFAULT, "wheap_version");
    void *sym = dlsym(RTLD_DEFAULT, name);
    Dl_info vi, si;
    if (!version || !sym) return false;
    if (!dladdr(version, &vi) || !dladdr(sym, &si)) return false;
    return vi.dli_fbase == si.dli_fbase;
}

/* Is wheap the process allocator? */
static inline bool mt_malloc_is_wheap(void)
{
    return mt_defined_by_wheap("malloc");
}

/* A function of glibc itself, whatever allocator the process uses: dlsym on
 * libc's own handle does not see a preloaded or linked replacement (plain
 * __libc_malloc would resolve to the replacement's alias). */
static inline void *mt_libc_sym(const char *name)
{
    static void *libc;
    if (!libc) libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    return libc ? dlsym(libc, name) : NULL;
}

/* A process-wide symbol, NULL when nobody exports it (for example a wheap_*
 * twin before the malloc layer exists). */
static inline void *mt_sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

/* ---- content patterns ----------------------------------------------------
 * A block's bytes are a function of a seed (its address and a sequence
 * number), so a block that was handed out twice, overwritten by metadata or
 * copied wrongly by realloc is caught when it is verified. */

static inline uint64_t mt_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t mt_word(uint64_t seed, size_t w)
{
    return seed ^ ((uint64_t)(w + 1) * 0x9e3779b97f4a7c15ull);
}

/* Fills p[0..n) with the pattern of seed. */
static inline void mt_fill(void *p, size_t n, uint64_t seed)
{
    uint8_t *b = (uint8_t *)p;
    size_t i = 0;
    seed = mt_mix(seed);
    for (; i + 8 <= n; i += 8) {
        uint64_t w = mt_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = mt_word(seed, i / 8);
        memcpy(b + i, &w, n - i);
    }
}

/* Index of the first 8-byte word of p[0..n) that breaks seed's pattern (as a
 * byte offset), or n when the whole block holds it. */
static inline size_t mt_check(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *b = (const uint8_t *)p;
    size_t i = 0;
    seed = mt_mix(seed);
    for (; i + 8 <= n; i += 8) {
        uint64_t w = mt_word(seed, i / 8), got;
        memcpy(&got, b + i, 8);
        if (got != w) return i;
    }
    if (i < n) {
        uint64_t w = mt_word(seed, i / 8), got = 0, want = 0;
        memcpy(&got, b + i, n - i);
        memcpy(&want, &w, n - i);
        if (got != want) return i;
    }
    return n;
}

/* Are all of p[0..n) zero? */
static inline bool mt_all_zero(const void *p, size_t n)
{
    static const uint8_t zero[4096] = {0};
    const uint8_t *b = (const uint8_t *)p;
    while (n) {
        size_t k = n < sizeof zero ? n : sizeof zero;
        if (memcmp(b, zero, k)) return false;
        b += k;
        n -= k;
    }
    return true;
}

/* A small deterministic generator (xorshift64*). */
static inline uint64_t mt_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline double mt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sizes worth testing: every size class boundary of common designs, page and
 * 64 KiB multiples and neighbours, and large blocks past 1 MiB (mmap or own
 * reservation). */
static const size_t mt_sizes[] = {
    0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 63, 64, 65, 96,
    100, 127, 128, 129, 200, 255, 256, 257, 384, 500, 511, 512, 513, 768, 1000, 1023,
    1024, 1025, 1500, 2047, 2048, 2049, 3000, 4095, 4096, 4097, 6000, 8191, 8192, 8193,
    12288, 16383, 16384, 16385, 32767, 32768, 32769, 65535, 65536, 65537, 100000,
    131071, 131072, 131073, 200000, 262144, 262145, 500000, 524288, 1048575, 1048576,
    1048577, 1500000, 2097152, 2097153, 3000001, 4194304, 8388609,
};
#define MT_NSIZES (sizeof mt_sizes / sizeof mt_sizes[0])

/* Where a wheap malloc block lives, per wheap_virtual_query: a reservation
 * of its own has its base one page (the header) before the block; a heap
 * segment's base is 32 MiB-aligned and lies further below. */
static inline bool mt_own_reservation(void *p)
{
    wheap_memory_basic_information mbi;
    if (wheap_virtual_query(p, &mbi, sizeof mbi) != sizeof mbi) return false;
    return (char *)mbi.allocation_base == (char *)p - sysconf(_SC_PAGESIZE);
}

static inline bool mt_in_segment(void *p)
{
    wheap_memory_basic_information mbi;
    if (wheap_virtual_query(p, &mbi, sizeof mbi) != sizeof mbi) return false;
    return ((uintptr_t)mbi.allocation_base & ((32u << 20) - 1)) == 0 &&
           (uintptr_t)mbi.allocation_base + (uintptr_t)sysconf(_SC_PAGESIZE) < (uintptr_t)p;
}

#endif /* WHEAP_MALLOC_TEST_H */
