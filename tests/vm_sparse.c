/* The classic sparse array: reserve a large range, commit each page the
 * first time it is touched, from inside the exception handler.  Every
 * value written is read back; only touched pages are committed. */
#include "test.h"
#include <sys/resource.h>

#define SPAN ((size_t)1 << 30)
#define WRITES 20000

static char *array;
static size_t page;
static volatile size_t commits;

static int commit_on_demand(uint32_t status, void *address, void *context)
{
    (void)context;
    char *a = address;
    if (status != WHEAP_STATUS_ACCESS_VIOLATION || a < array || a >= array + SPAN)
        return WHEAP_EXCEPTION_CONTINUE_SEARCH;
    if (!wheap_virtual_alloc(a, 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE))
        return WHEAP_EXCEPTION_CONTINUE_SEARCH;
    commits++;
    return WHEAP_EXCEPTION_CONTINUE_EXECUTION;
}

static void sparse(void *arg)
{
    (void)arg;
    test_failures = 0;
    array = wheap_virtual_alloc(NULL, SPAN, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(array != NULL);
    require_true(wheap_add_exception_handler(1, commit_on_demand, NULL) != NULL);
    uint64_t *slots = (uint64_t *)(void *)array;
    size_t nslots = SPAN / sizeof *slots;
    uint64_t seed = 88172645463325252u;
    for (int i = 0; i < WRITES; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        size_t at = (size_t)(seed % nslots);
        slots[at] = at * 2654435761u + 1;
    }
    seed = 88172645463325252u;
    size_t bad = 0;
    for (int i = 0; i < WRITES; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        size_t at = (size_t)(seed % nslots);
        if (slots[at] != at * 2654435761u + 1) bad++;
    }
    expect_eq_u64(bad, 0);
    /* Count the committed pages with VirtualQuery: exactly one per commit. */
    size_t committed = 0;
    for (char *a = array; a < array + SPAN; ) {
        wheap_memory_basic_information m;
        require_true(wheap_virtual_query(a, &m, sizeof m) == sizeof m);
        if (m.state == WHEAP_MEM_COMMIT) committed += m.region_size / page;
        a = (char *)m.base_address + m.region_size;
    }
    expect_eq_u64(committed, commits);
    expect_gt_u64(commits, WRITES / 2);
    expect_le_u64(commits, WRITES);
    expect_true(wheap_virtual_free(array, 0, WHEAP_MEM_RELEASE));
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(sparse, NULL), 0);
    return test_done();
}
