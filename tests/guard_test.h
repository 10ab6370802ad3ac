/*
 * Helpers of the guard-mode tests (tests/guard_*): running a case of the
 * test program in a fresh process with WHEAP_OPTIONS set (options are read
 * once, at the first allocation), capturing its stdout and stderr, and
 * telling a guarded block from a normal one by the process's mappings.
 */
#ifndef WHEAP_GUARD_TEST_H
#define WHEAP_GUARD_TEST_H

#include "malloc_test.h"

#include <sys/mman.h>
#include <sys/resource.h>

typedef test_outcome gt_outcome;

/* Runs /proc/self/exe --case name with WHEAP_OPTIONS=options (NULL: unset). */
static inline gt_outcome gt_spawn(const char *name, const char *options)
{
    return test_spawn_case("guard_test", name, options);
}

static inline const char *gt_describe(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status)) snprintf(buf, cap, "signal %d", WTERMSIG(status));
    else snprintf(buf, cap, "exit %d", WEXITSTATUS(status));
    return buf;
}

static inline void gt_no_core(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

/* ---- the mappings -------------------------------------------------------- */

typedef struct gt_map { uintptr_t start, end; bool readable, writable; } gt_map;
typedef struct gt_maps { gt_map *m; size_t n; } gt_maps;

/* A snapshot of /proc/self/maps (glibc's malloc would do, but the array
 * comes from mmap so that the snapshot does not change what it shows
 * more than one mapping's worth). */
static inline gt_maps gt_maps_read(void)
{
    gt_maps s = {NULL, 0};
    size_t cap = 1 << 20;
    void *mem = mmap(NULL, cap * sizeof(gt_map), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) exit(TEST_HARD_ERROR);
    s.m = (gt_map *)mem;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) exit(TEST_HARD_ERROR);
    char line[512];
    while (s.n < cap && fgets(line, sizeof line, f)) {
        unsigned long a, b;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3) continue;
        s.m[s.n++] = (gt_map){a, b, perms[0] == 'r', perms[1] == 'w'};
    }
    fclose(f);
    return s;
}

static inline void gt_maps_free(gt_maps *s)
{
    munmap(s->m, (1 << 20) * sizeof(gt_map));
    s->m = NULL;
    s->n = 0;
}

static inline const gt_map *gt_maps_find(const gt_maps *s, uintptr_t a)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a < s->m[mid].start) hi = mid;
        else if (a >= s->m[mid].end) lo = mid + 1;
        else return &s->m[mid];
    }
    return NULL;
}

/* Does the block [p, p+size) look guarded: it ends less than align bytes
 * before the end of its own small read-write mapping, and the page after
 * it is inaccessible? */
static inline bool gt_is_guarded(const gt_maps *s, const void *p, size_t size, size_t align)
{
    uintptr_t a = (uintptr_t)p;
    /* A 0-byte block may sit right at the guard page. */
    const gt_map *m = gt_maps_find(s, size ? a : a - 1);
    if (!m || !m->writable) return false;
    if (m->end < a + size || m->end - (a + size) >= align) return false;
    if (m->end - m->start > ((size_t)1 << 20) + 4096 && size <= ((size_t)1 << 20)) return false;
    const gt_map *next = gt_maps_find(s, m->end);
    return next && !next->readable && !next->writable;
}

#endif /* WHEAP_GUARD_TEST_H */
