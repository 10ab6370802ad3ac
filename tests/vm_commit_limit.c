/* Strict overcommit: a commit the kernel refuses fails with
 * ERROR_COMMITMENT_LIMIT, all or nothing: pages committed before keep their
 * data and protection, the refused range stays reserved (never unmapped),
 * and the process keeps working.  Two refusals that need no privileges: the
 * heuristic overcommit check (one commit larger than RAM + swap) and
 * RLIMIT_DATA below the data already mapped (in a child). */
#include "test.h"
#include <sys/resource.h>

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

static size_t page;

/* A committed run with data and a read-only page, then a commit over it
 * and far beyond that the kernel must refuse. */
static void refused(char *p, size_t tail)
{
    memset(p, 0x6B, 4 * page);
    uint32_t old;
    expect_true(wheap_virtual_protect(p + page, page, WHEAP_PAGE_READONLY, &old));
    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(p, 4 * page + tail, WHEAP_MEM_COMMIT, RW));
    expect_error(WHEAP_ERROR_COMMITMENT_LIMIT);
    /* Nothing changed: data, protections, the reserved rest. */
    size_t bad = 0;
    for (size_t i = 0; i < 4 * page; i++) bad += (unsigned char)p[i] != 0x6B;
    expect_eq_u64(bad, 0);
    wheap_memory_basic_information m;
    wheap_virtual_query(p, &m, sizeof m);
    expect_eq_u64(m.protect, RW);
    expect_eq_u64(m.region_size, page);
    wheap_virtual_query(p + page, &m, sizeof m);
    expect_eq_u64(m.protect, WHEAP_PAGE_READONLY);
    wheap_virtual_query(p + 4 * page, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_ge_u64(m.region_size, tail);
    char perms[5];
    expect_true(test_maps_perms(p + 4 * page, perms));   /* still mapped, ours */
    expect_eq_str(perms, "---p");
    expect_true(test_maps_perms(p + 4 * page + tail - 1, perms));
    expect_eq_str(perms, "---p");
    p[0] = 1;                                           /* still writable */
}

static void data_limit(void *arg)
{
    (void)arg;
    test_failures = 0;
    char *p = wheap_virtual_alloc(NULL, 64 * G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 4 * page, WHEAP_MEM_COMMIT, RW) == p);
    /* Below what is mapped already: every new private writable mapping is
     * refused, replacing reserved pages included. */
    uint64_t data = test_proc_status("VmData");
    struct rlimit rl;
    getrlimit(RLIMIT_DATA, &rl);
    struct rlimit low = { data - 16 * page, rl.rlim_max };
    require_true(setrlimit(RLIMIT_DATA, &low) == 0);
    refused(p, 16 * page);
    /* Decommit needs no charge and still works; so does everything after
     * the limit is lifted. */
    expect_true(wheap_virtual_free(p + 2 * page, 2 * page, WHEAP_MEM_DECOMMIT));
    require_true(setrlimit(RLIMIT_DATA, &rl) == 0);
    expect_eq_ptr(wheap_virtual_alloc(p, 20 * page, WHEAP_MEM_COMMIT, RW), p);
    p[19 * page] = 2;
    expect_eq_u64((unsigned char)p[0], 1);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    _exit(test_done());
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(data_limit, NULL), 0);

    /* Heuristic overcommit (mode 0) and strict (mode 2) refuse one commit
     * larger than RAM + swap; mode 1 grants anything. */
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = f && fscanf(f, "%d", &mode) == 1 ? mode : -1;
    if (f) fclose(f);
    if (mode == 1) {
        fprintf(stderr, "note: vm.overcommit_memory=1, the RAM + swap check is skipped\n");
        return test_done();
    }
    uint64_t too_much = test_meminfo("MemTotal") + test_meminfo("SwapTotal") + ((uint64_t)1 << 30);
    size_t tail = (size_t)(too_much + G - 1) / G * G;
    char *p = wheap_virtual_alloc(NULL, tail + 4 * page, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 4 * page, WHEAP_MEM_COMMIT, RW) == p);
    refused(p, tail + G - 4 * page);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
