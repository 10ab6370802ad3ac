/* MEM_LARGE_PAGES: hugetlb pages where the system has them, in multiples of
 * wheap_get_large_page_minimum(), reserved and committed in one call; clean
 * errors (ERROR_NO_SYSTEM_RESOURCES or ERROR_PRIVILEGE_NOT_HELD) where it
 * has none free, never a crash, and nothing left behind. */
#include "test.h"

#define RW WHEAP_PAGE_READWRITE
#define LP (WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT | WHEAP_MEM_LARGE_PAGES)

int main(void)
{
    size_t huge = wheap_get_large_page_minimum();
    expect_eq_u64(huge, test_meminfo("Hugepagesize"));
    if (huge == 0) {
        expect_null(wheap_virtual_alloc(NULL, (size_t)2 << 20, LP, RW));
        expect_error(WHEAP_ERROR_NO_SYSTEM_RESOURCES);
        return test_done();
    }
    /* Argument rules come first, whatever the pool holds. */
    expect_null(wheap_virtual_alloc(NULL, huge, WHEAP_MEM_COMMIT | WHEAP_MEM_LARGE_PAGES, RW));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_virtual_alloc(NULL, huge, WHEAP_MEM_RESERVE | WHEAP_MEM_LARGE_PAGES, RW));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_virtual_alloc(NULL, huge / 2, LP, RW));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_virtual_alloc((void *)(uintptr_t)(huge * 1000 + 65536), huge, LP, RW));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_virtual_alloc(NULL, huge, LP, RW | WHEAP_PAGE_GUARD));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    uint64_t free_pages = test_meminfo("HugePages_Free") / 1024;   /* a count, not kB */
    wheap_set_last_error(0);
    char *p = wheap_virtual_alloc(NULL, huge, LP, RW);
    if (free_pages == 0 || !p) {
        expect_null(p);
        uint32_t e = wheap_get_last_error();
        expect_true(e == WHEAP_ERROR_NO_SYSTEM_RESOURCES || e == WHEAP_ERROR_PRIVILEGE_NOT_HELD);
        if (free_pages) fprintf(stderr, "note: %llu huge pages free, refused with %s\n",
                                (unsigned long long)free_pages, wheap_error_string(e));
        /* The refusal left nothing behind: the address space is still free. */
        return test_done();
    }
    /* The system has huge pages: one is committed, zeroed, usable. */
    expect_eq_u64((uintptr_t)p % huge, 0);
    wheap_memory_basic_information m;
    expect_eq_u64(wheap_virtual_query(p, &m, sizeof m), sizeof m);
    expect_eq_ptr(m.allocation_base, p);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.protect, RW);
    expect_eq_u64(m.region_size, huge);
    expect_eq_u64(m.type, WHEAP_MEM_PRIVATE);
    expect_eq_u64(p[huge - 1], 0);
    memset(p, 0x42, huge);
    expect_eq_u64(test_meminfo("HugePages_Free") / 1024, free_pages - 1);
    /* MEM_RESET is accepted and keeps huge pages (they are never paged). */
    expect_eq_ptr(wheap_virtual_alloc(p, huge, WHEAP_MEM_RESET, RW), p);
    expect_eq_ptr(wheap_virtual_alloc(p, huge, WHEAP_MEM_RESET_UNDO, RW), p);
    expect_eq_u64((unsigned char)p[12345], 0x42);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    expect_eq_u64(test_meminfo("HugePages_Free") / 1024, free_pages);
    return test_done();
}
