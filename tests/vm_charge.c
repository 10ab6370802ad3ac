/* Reservations charge no commit; commit charges it; decommit and release
 * give it back (Committed_AS in /proc/meminfo, PITFALLS row 19).  Other
 * processes move Committed_AS too, so each step is 1 GiB against a margin
 * of 256 MiB, and the whole check is retried a few times. */
#include "test.h"

#define GIB ((uint64_t)1 << 30)
#define MARGIN ((uint64_t)256 << 20)

static bool near(int64_t delta, int64_t want)
{
    return delta > want - (int64_t)MARGIN && delta < want + (int64_t)MARGIN;
}

static bool attempt(char *why, size_t why_len)
{
    uint64_t c0 = test_meminfo("Committed_AS");
    char *p = wheap_virtual_alloc(NULL, 4 * GIB, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    uint64_t c1 = test_meminfo("Committed_AS");
    require_true(wheap_virtual_alloc(p, 2 * GIB, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE) == p);
    uint64_t c2 = test_meminfo("Committed_AS");
    require_true(wheap_virtual_free(p, GIB, WHEAP_MEM_DECOMMIT));
    uint64_t c3 = test_meminfo("Committed_AS");
    require_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    uint64_t c4 = test_meminfo("Committed_AS");
    snprintf(why, why_len, "reserve %+lld MiB, commit %+lld MiB, decommit %+lld MiB, "
             "release %+lld MiB", (long long)(c1 - c0) >> 20, (long long)(c2 - c1) >> 20,
             (long long)(c3 - c2) >> 20, (long long)(c4 - c3) >> 20);
    return near((int64_t)(c1 - c0), 0) && near((int64_t)(c2 - c1), 2 * (int64_t)GIB) &&
           near((int64_t)(c3 - c2), -(int64_t)GIB) && near((int64_t)(c4 - c3), -(int64_t)GIB);
}

int main(void)
{
    if (test_meminfo("Committed_AS") == 0) test_skip("no Committed_AS in /proc/meminfo");
    char why[256];
    bool ok = false;
    for (int i = 0; i < 5 && !ok; i++) {
        ok = attempt(why, sizeof why);
        fprintf(stderr, "try %d: %s\n", i + 1, why);
    }
    expect_true(ok);
    return test_done();
}
