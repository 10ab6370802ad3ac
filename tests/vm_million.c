/* A million live reservations: the table has no fixed capacity, lookups stay
 * fast, and contiguous placement keeps the kernel's mapping count far below
 * vm.max_map_count (PITFALLS row 9). */
#include "test.h"
#include "internal.h"
#include <time.h>

#define N 1000000u
#define G 65536u

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    void **p = wheap_virtual_alloc(NULL, (size_t)N * sizeof(void *),
                                   WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    size_t maps0 = test_map_count(), regions0 = wh_region_count();
    double t0 = now();
    for (size_t i = 0; i < N; i++) {
        p[i] = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
        if (!p[i]) {
            fprintf(stderr, "reservation %zu failed: %s, %zu mappings\n", i,
                    wheap_error_string(wheap_get_last_error()), test_map_count());
            return 1;
        }
    }
    double t1 = now();
    size_t maps1 = test_map_count();
    expect_eq_u64(wh_region_count(), regions0 + N);
    expect_lt_u64(maps1 - maps0, 1000);

    /* Every lookup finds its own region. */
    double t2 = now();
    for (size_t i = 0; i < N; i++) {
        wh_region *r = wh_region_find((uintptr_t)p[i] + (i % G));
        if (!r || r->base != (uintptr_t)p[i]) {
            expect_true(!"lookup found the wrong region");
            break;
        }
    }
    double t3 = now();
    /* Commit a page in every 1000th one and query it. */
    for (size_t i = 0; i < N; i += 1000) {
        char *c = wheap_virtual_alloc(p[i], 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
        expect_eq_ptr(c, p[i]);
        if (c) c[0] = 1;
        wheap_memory_basic_information m;
        wheap_virtual_query((char *)p[i] + 5000, &m, sizeof m);
        expect_eq_ptr(m.allocation_base, p[i]);
    }
    for (size_t i = 0; i < N; i++)
        if (!wheap_virtual_free(p[i], 0, WHEAP_MEM_RELEASE)) {
            expect_true(!"release failed");
            break;
        }
    double t4 = now();
    expect_eq_u64(wh_region_count(), regions0);
    fprintf(stderr, "reserve %.0f ns, lookup %.1f ns, release %.0f ns each; "
            "%zu extra mappings at peak\n", (t1 - t0) / N * 1e9, (t3 - t2) / N * 1e9,
            (t4 - t3) / N * 1e9, maps1 - maps0);
    wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE);
    return test_done();
}
