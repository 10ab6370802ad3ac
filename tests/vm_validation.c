/* Every validation rule of VirtualAlloc / VirtualFree / VirtualProtect with
 * its Win32 error code, and nothing reserved by a refused call. */
#include "test.h"
#include "internal.h"

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

/* Refused calls must leave no reservation behind. */
static size_t regions_of_ours(void)
{
    return wh_region_count();
}

int main(void)
{
    size_t before = regions_of_ours();
    struct { uint32_t type, protect; size_t size; uint32_t err; const char *why; } bad[] = {
        { WHEAP_MEM_RESERVE, RW, 0, WHEAP_ERROR_INVALID_PARAMETER, "size 0" },
        { WHEAP_MEM_RESERVE, 0, G, WHEAP_ERROR_INVALID_PARAMETER, "protect 0" },
        { WHEAP_MEM_RESERVE, RW | WHEAP_PAGE_READONLY, G, WHEAP_ERROR_INVALID_PARAMETER,
          "two base protections" },
        { WHEAP_MEM_RESERVE, WHEAP_PAGE_WRITECOPY, G, WHEAP_ERROR_INVALID_PARAMETER,
          "WRITECOPY on private memory" },
        { WHEAP_MEM_COMMIT, WHEAP_PAGE_EXECUTE_WRITECOPY, G, WHEAP_ERROR_INVALID_PARAMETER,
          "EXECUTE_WRITECOPY on private memory" },
        { WHEAP_MEM_RESERVE, WHEAP_PAGE_NOACCESS | WHEAP_PAGE_GUARD, G,
          WHEAP_ERROR_INVALID_PARAMETER, "GUARD with NOACCESS" },
        { WHEAP_MEM_RESERVE, RW | WHEAP_PAGE_GUARD | WHEAP_PAGE_NOCACHE, G,
          WHEAP_ERROR_INVALID_PARAMETER, "GUARD with NOCACHE" },
        { WHEAP_MEM_RESERVE, RW | 0x800, G, WHEAP_ERROR_INVALID_PARAMETER,
          "unknown protect bit" },
        { WHEAP_MEM_COMMIT | WHEAP_MEM_WRITE_WATCH, RW, G, WHEAP_ERROR_INVALID_PARAMETER,
          "WRITE_WATCH without RESERVE" },
        { WHEAP_MEM_RESERVE | 0x40, RW, G, WHEAP_ERROR_INVALID_PARAMETER, "unknown type bit" },
        { 0, RW, G, WHEAP_ERROR_INVALID_PARAMETER, "no type" },
        { WHEAP_MEM_TOP_DOWN, RW, G, WHEAP_ERROR_INVALID_PARAMETER, "TOP_DOWN alone" },
        { WHEAP_MEM_RESET | WHEAP_MEM_COMMIT, RW, G, WHEAP_ERROR_INVALID_PARAMETER,
          "RESET with another type" },
        { WHEAP_MEM_RESERVE | WHEAP_MEM_DECOMMIT, RW, G, WHEAP_ERROR_INVALID_PARAMETER,
          "a free type" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wheap_set_last_error(0);
        void *p = wheap_virtual_alloc(NULL, bad[i].size, bad[i].type, bad[i].protect);
        if (p != NULL || wheap_get_last_error() != bad[i].err)
            fprintf(stderr, "case: %s\n", bad[i].why);
        expect_null(p);
        expect_error(bad[i].err);
    }
    /* Every valid base protection is accepted, with each modifier. */
    uint32_t bases[] = { WHEAP_PAGE_NOACCESS, WHEAP_PAGE_READONLY, RW, WHEAP_PAGE_EXECUTE,
                         WHEAP_PAGE_EXECUTE_READ, WHEAP_PAGE_EXECUTE_READWRITE };
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        void *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, bases[i]);
        expect_not_null(p);
        wheap_memory_basic_information m;
        wheap_virtual_query(p, &m, sizeof m);
        expect_eq_u64(m.protect, bases[i]);
        expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
        if (bases[i] == WHEAP_PAGE_NOACCESS) continue;
        uint32_t mods[] = { WHEAP_PAGE_GUARD, WHEAP_PAGE_NOCACHE, WHEAP_PAGE_WRITECOMBINE };
        for (size_t j = 0; j < 3; j++) {
            p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, bases[i] | mods[j]);
            expect_not_null(p);
            if (p) expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
        }
    }

    /* VirtualFree argument rules. */
    char *p = wheap_virtual_alloc(NULL, 4 * G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    expect_false(wheap_virtual_free(p, 0, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE | WHEAP_MEM_DECOMMIT));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_free(p, G, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_free(p + G, 0, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_false(wheap_virtual_free(NULL, 0, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    int on_stack;
    expect_false(wheap_virtual_free(&on_stack, 0, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_false(wheap_virtual_free(p + 3 * G, 2 * G, WHEAP_MEM_DECOMMIT));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* VirtualProtect: NULL old-protect, uncommitted pages, bad values. */
    uint32_t old = 0;
    expect_false(wheap_virtual_protect(p, 4096, WHEAP_PAGE_READONLY, NULL));
    expect_error(WHEAP_ERROR_NOACCESS);
    expect_false(wheap_virtual_protect(p, 4096, WHEAP_PAGE_READONLY, &old));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    require_true(wheap_virtual_alloc(p, 2 * G, WHEAP_MEM_COMMIT, RW) == p);
    expect_false(wheap_virtual_protect(p, 4096, 0, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(p, 4096, WHEAP_PAGE_WRITECOPY, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(p, 3 * G, WHEAP_PAGE_READONLY, &old));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);   /* runs into uncommitted pages */
    expect_true(wheap_virtual_protect(p, 4096, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(old, RW);
    expect_true(wheap_virtual_protect(p, 8192, RW, &old));
    expect_eq_u64(old, WHEAP_PAGE_READONLY);   /* the first page's previous protection */

    /* VirtualQuery: too small a buffer. */
    wheap_memory_basic_information m;
    expect_eq_u64(wheap_virtual_query(p, &m, sizeof m - 1), 0);
    expect_error(WHEAP_ERROR_BAD_LENGTH);
    expect_eq_u64(wheap_virtual_query(p, NULL, sizeof m), 0);
    expect_error(WHEAP_ERROR_BAD_LENGTH);
    expect_eq_u64(wheap_virtual_query((void *)~(uintptr_t)0, &m, sizeof m), 0);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    expect_eq_u64(regions_of_ours(), before);   /* refused calls left nothing behind */
    return test_done();
}
