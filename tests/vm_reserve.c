/* MEM_RESERVE: 64 KiB alignment and sizing, address rounding, placement at a
 * free address, refusal (never clobbering) at an address in use. */
#include "test.h"
#include <sys/mman.h>

#define G 65536u

int main(void)
{
    size_t sizes[] = { 1, 4096, G - 1, G, G + 1, 3 * G + 17, (size_t)1 << 30 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *p = wheap_virtual_alloc(NULL, sizes[i], WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
        require_true(p != NULL);
        expect_eq_u64((uintptr_t)p % G, 0);
        wheap_memory_basic_information mbi;
        expect_eq_u64(wheap_virtual_query(p, &mbi, sizeof mbi), sizeof mbi);
        expect_eq_ptr(mbi.allocation_base, p);
        expect_eq_u64(mbi.region_size, (sizes[i] + G - 1) / G * G);
        expect_eq_u64(mbi.state, WHEAP_MEM_RESERVE);
        expect_eq_u64(mbi.protect, 0);
        expect_eq_u64(mbi.allocation_protect, WHEAP_PAGE_READWRITE);
        expect_eq_u64(mbi.type, WHEAP_MEM_PRIVATE);
        /* Reserved memory is inaccessible to the kernel too. */
        char perms[5];
        expect_true(test_maps_perms(p, perms));
        expect_eq_str(perms, "---p");
        expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
        expect_eq_u64(wheap_virtual_query(p, &mbi, sizeof mbi), sizeof mbi);
        expect_eq_u64(mbi.state, WHEAP_MEM_FREE);
        expect_null(mbi.allocation_base);
    }

    /* At an address: rounded down to 64 KiB, spans to the end rounded up. */
    char *hole = wheap_virtual_alloc(NULL, 8 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_NOACCESS);
    require_true(hole != NULL);
    require_true(wheap_virtual_free(hole, 0, WHEAP_MEM_RELEASE));
    char *q = wheap_virtual_alloc(hole + G + 100, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READONLY);
    expect_eq_ptr(q, hole + G);
    wheap_memory_basic_information mbi;
    wheap_virtual_query(q, &mbi, sizeof mbi);
    expect_eq_u64(mbi.region_size, 2 * G);   /* [hole+G, hole+G+100+G) -> 2 granules */
    expect_eq_u64(mbi.allocation_protect, WHEAP_PAGE_READONLY);

    /* The same address again: in use. */
    expect_null(wheap_virtual_alloc(q, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_true(wheap_virtual_free(q, 0, WHEAP_MEM_RELEASE));

    /* A foreign mapping is never clobbered, and its contents survive. */
    char *foreign = mmap(hole, G, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    require_true(foreign == hole);
    memset(foreign, 0x5A, G);
    expect_null(wheap_virtual_alloc(foreign, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(foreign - G, 2 * G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                    WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    for (size_t i = 0; i < G; i++)
        if (foreign[i] != 0x5A) { expect_true(!"foreign mapping damaged"); break; }
    char perms[5];
    expect_true(test_maps_perms(foreign, perms));
    expect_eq_str(perms, "rw-p");
    munmap(foreign, G);

    /* MEM_TOP_DOWN is accepted. */
    void *t = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_TOP_DOWN,
                                  WHEAP_PAGE_READWRITE);
    expect_not_null(t);
    expect_true(wheap_virtual_free(t, 0, WHEAP_MEM_RELEASE));

    /* Addresses outside the application range. */
    expect_null(wheap_virtual_alloc((void *)0x1000, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc((void *)((uintptr_t)1 << 48), G, WHEAP_MEM_RESERVE,
                                    WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);

    /* Absurd sizes fail with an error, not a crash. */
    expect_null(wheap_virtual_alloc(NULL, (size_t)1 << 62, WHEAP_MEM_RESERVE,
                                    WHEAP_PAGE_READWRITE));
    expect_true(wheap_get_last_error() == WHEAP_ERROR_INVALID_PARAMETER ||
                wheap_get_last_error() == WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_null(wheap_virtual_alloc(NULL, SIZE_MAX, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    return test_done();
}
