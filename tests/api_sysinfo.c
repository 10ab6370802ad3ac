/* GetSystemInfo and GlobalMemoryStatusEx equivalents agree with Linux. */
#include "test.h"
#include <sched.h>

int main(void)
{
    wheap_system_info si;
    memset(&si, 0xAB, sizeof si);
    wheap_get_system_info(&si);
    expect_eq_u64(si.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
    expect_eq_u64(si.allocation_granularity, 65536);
    expect_eq_ptr(si.minimum_application_address, (void *)0x10000);
    expect_gt_u64((uintptr_t)si.maximum_application_address, (uintptr_t)1 << 46);
    expect_eq_u64(((uintptr_t)si.maximum_application_address + 1) % 65536, 0);
    expect_eq_u64(si.number_of_processors, (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    expect_eq_u64(__builtin_popcountll(si.active_processor_mask),
                  CPU_COUNT(&set) > 64 ? 64 : CPU_COUNT(&set));
    wheap_get_system_info(NULL);   /* no crash */

    wheap_memory_status ms;
    memset(&ms, 0, sizeof ms);
    expect_false(wheap_global_memory_status(&ms));         /* length not set */
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_global_memory_status(NULL));
    ms.length = sizeof ms;
    expect_true(wheap_global_memory_status(&ms));
    expect_eq_u64(ms.total_phys, test_meminfo("MemTotal"));
    expect_le_u64(ms.avail_phys, ms.total_phys);
    expect_le_u64(ms.memory_load, 100);
    expect_gt_u64(ms.total_page_file, 0);
    expect_le_u64(ms.avail_page_file, ms.total_page_file);
    expect_gt_u64(ms.total_virtual, (uint64_t)1 << 40);
    expect_lt_u64(ms.avail_virtual, ms.total_virtual);

    /* The commit left shrinks when we commit memory (1 GiB, other
     * processes permitting: only a sanity bound). */
    uint64_t before = ms.avail_page_file;
    void *p = wheap_virtual_alloc(NULL, (size_t)1 << 30, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    expect_true(wheap_global_memory_status(&ms));
    expect_lt_u64(ms.avail_page_file, before);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
