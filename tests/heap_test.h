/*
 * Helpers shared by the layer 2 tests (tests/heap_*.c): content patterns,
 * and what layer 1 says about a heap's reservations.
 */
#ifndef WHEAP_HEAP_TEST_H
#define WHEAP_HEAP_TEST_H

#include "test.h"

/* A byte pattern that differs per block and per offset. */
static inline void pattern_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++) c[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

static inline bool pattern_ok(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)(seed * 131u + i * 7u + (i >> 8))) return false;
    return true;
}

/* Committed and reserved bytes of one reservation, from wheap_virtual_query. */
static inline void query_reservation(const void *base, size_t *committed, size_t *reserved)
{
    wheap_memory_basic_information mbi;
    const char *p = base;
    *committed = *reserved = 0;
    while (wheap_virtual_query(p, &mbi, sizeof mbi) == sizeof mbi &&
           mbi.allocation_base == base && mbi.state != WHEAP_MEM_FREE) {
        if (mbi.state == WHEAP_MEM_COMMIT) *committed += mbi.region_size;
        *reserved += mbi.region_size;
        p = (const char *)mbi.base_address + mbi.region_size;
    }
}

/* Sums what layer 1 reports for every reservation a walk of h shows
 * (regions, and the reservations of the blocks after them).  Regions of a
 * fixed heap share one reservation; each is counted once. */
static inline void query_heap(wheap_heap *h, size_t *committed, size_t *reserved)
{
    wheap_heap_entry e;
    const void *seen[4096];
    size_t nseen = 0;
    memset(&e, 0, sizeof e);
    *committed = *reserved = 0;
    while (wheap_heap_walk(h, &e)) {
        const void *base = NULL;
        if (e.flags & WHEAP_PROCESS_HEAP_REGION) {
            wheap_memory_basic_information mbi;
            if (wheap_virtual_query(e.data, &mbi, sizeof mbi) == sizeof mbi)
                base = mbi.allocation_base;
        } else if (e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY) {
            wheap_memory_basic_information mbi;
            if (wheap_virtual_query(e.data, &mbi, sizeof mbi) == sizeof mbi)
                base = mbi.allocation_base;
        }
        if (!base) continue;
        bool dup = false;
        for (size_t i = 0; i < nseen; i++) dup |= seen[i] == base;
        if (dup || nseen == sizeof seen / sizeof seen[0]) continue;
        seen[nseen++] = base;
        size_t c, r;
        query_reservation(base, &c, &r);
        *committed += c;
        *reserved += r;
    }
}

static inline size_t heap_stat_committed(wheap_heap *h)
{
    wheap_stats st = { .size = sizeof st };
    return wheap_get_stats(h, &st) ? st.committed : 0;
}

#endif /* WHEAP_HEAP_TEST_H */
