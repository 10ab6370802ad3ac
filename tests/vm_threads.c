/* Threads reserving, committing, writing, decommitting, querying and
 * releasing at once; every byte checked. */
#include "test.h"
#include <pthread.h>

#define THREADS 4
#define ROUNDS 3000
#define G 65536u

static _Atomic int errors;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        size_t granules = 1 + (seed >> 16) % 8;
        unsigned char *p = wheap_virtual_alloc(NULL, granules * G, WHEAP_MEM_RESERVE,
                                               WHEAP_PAGE_READWRITE);
        if (!p) { errors++; continue; }
        size_t pages = granules * G / page;
        size_t first = (seed >> 8) % pages, count = 1 + (seed >> 4) % (pages - first);
        unsigned char tag = (unsigned char)(seed >> 24) | 1;
        if (!wheap_virtual_alloc(p + first * page, count * page, WHEAP_MEM_COMMIT,
                                 WHEAP_PAGE_READWRITE)) { errors++; continue; }
        memset(p + first * page, tag, count * page);
        wheap_memory_basic_information m;
        if (!wheap_virtual_query(p + first * page, &m, sizeof m) ||
            m.allocation_base != p || m.state != WHEAP_MEM_COMMIT ||
            m.region_size != count * page)
            errors++;
        for (size_t i = 0; i < count * page; i += 509)
            if (p[first * page + i] != tag) { errors++; break; }
        if (count > 1) {
            if (!wheap_virtual_free(p + first * page, page, WHEAP_MEM_DECOMMIT)) errors++;
            if (p[(first + 1) * page] != tag) errors++;
        }
        if (!wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE)) errors++;
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        require_true(pthread_create(&t[i], NULL, worker, (void *)(i + 1)) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    expect_eq_u64(errors, 0);
    return test_done();
}
