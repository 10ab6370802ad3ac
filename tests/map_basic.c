/* Pagefile-backed sections: views share the data, are 64 KiB aligned, show
 * as MEM_MAPPED with their own protection, refuse VirtualFree, accept
 * MEM_RESET, unmap from any inside address, flush, and outlive the handle. */
#include "win32_test.h"

#define SIZE ((size_t)1 << 20)

int main(void)
{
    size_t page = page_size();
    wheap_set_last_error(1234);
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, NULL);
    require_true(m != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);

    char *a = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    char *b = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(a && b);
    expect_true(a != b);
    expect_eq_u64((uintptr_t)a % 65536, 0);
    expect_eq_u64((uintptr_t)b % 65536, 0);
    expect_eq_u64(a[0] | a[SIZE - 1], 0);   /* fresh sections read as zero */
    a[0] = 'x';
    a[SIZE - 1] = 'y';
    expect_eq_u64(b[0], 'x');
    expect_eq_u64(b[SIZE - 1], 'y');

    wheap_memory_basic_information mi = query(a + 100);
    expect_eq_ptr(mi.base_address, a);
    expect_eq_ptr(mi.allocation_base, a);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(mi.region_size, SIZE);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(mi.type, WHEAP_MEM_MAPPED);
    mi = query(b);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(mi.type, WHEAP_MEM_MAPPED);

    /* A partial view: one page at 64 KiB. */
    char *c = wheap_map_view_of_file(m, WHEAP_FILE_MAP_ALL_ACCESS, 65536, 100);
    require_true(c != NULL);
    c[5] = 'z';
    expect_eq_u64(a[65536 + 5], 'z');
    mi = query(c);
    expect_eq_u64(mi.region_size, page);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_READWRITE);

    /* Views are freed with UnmapViewOfFile only; MEM_RESET does nothing. */
    expect_false(wheap_virtual_free(a, 0, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_free(a, page, WHEAP_MEM_DECOMMIT));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_eq_ptr(wheap_virtual_alloc(a, SIZE, WHEAP_MEM_RESET, WHEAP_PAGE_READONLY), a);
    expect_eq_u64(b[0], 'x');

    /* Protection within what the view allows. */
    uint32_t old = 0;
    expect_true(wheap_virtual_protect(a, page, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(old, WHEAP_PAGE_READWRITE);
    mi = query(a);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(mi.region_size, page);
    expect_true(wheap_virtual_protect(a, page, WHEAP_PAGE_READWRITE, &old));
    expect_false(wheap_virtual_protect(b, page, WHEAP_PAGE_READWRITE, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(a, page, WHEAP_PAGE_WRITECOPY, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(a, page, WHEAP_PAGE_EXECUTE_READ, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Flush: inside a view; bytes 0 means to its end. */
    expect_true(wheap_flush_view_of_file(a + 10, 100));
    expect_true(wheap_flush_view_of_file(a, 0));
    char local = 0;
    expect_false(wheap_flush_view_of_file(&local, 1));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);

    /* Unmap through an inside address; a second unmap fails. */
    expect_true(wheap_unmap_view_of_file(a + 12345));
    mi = query(a);
    expect_eq_u64(mi.state, WHEAP_MEM_FREE);
    expect_false(wheap_unmap_view_of_file(a));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    void *priv = wheap_virtual_alloc(NULL, 65536, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    expect_false(wheap_unmap_view_of_file(priv));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_false(wheap_unmap_view_of_file((char *)priv + 0x3000));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_true(wheap_virtual_free(priv, 0, WHEAP_MEM_RELEASE));

    /* Closing the handle leaves the views valid. */
    expect_true(wheap_close_mapping(m));
    expect_eq_u64(b[SIZE - 1], 'y');
    expect_eq_u64(c[5], 'z');
    c[6] = 'w';
    expect_eq_u64(b[65536 + 6], 'w');
    expect_false(wheap_close_mapping(m));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_false(wheap_close_mapping(NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_false(wheap_close_mapping((wheap_mapping *)&local));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_null(wheap_map_view_of_file((wheap_mapping *)&local, WHEAP_FILE_MAP_READ, 0, 0));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_true(wheap_unmap_view_of_file(b));
    expect_true(wheap_unmap_view_of_file(c));

    /* Creation parameters. */
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, 0, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_NOACCESS, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_EXECUTE, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE | WHEAP_PAGE_GUARD, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE | WHEAP_SEC_COMMIT |
                                          WHEAP_SEC_RESERVE, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_create_file_mapping(-2, WHEAP_PAGE_READWRITE, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE | WHEAP_SEC_COMMIT, SIZE, "");
    require_true(m != NULL);   /* "" is no name */
    expect_true(wheap_close_mapping(m));

    /* Many views and handles: the metadata pool grows and recycles. */
    for (int round = 0; round < 3; round++) {
        static wheap_mapping *ms[400];
        static char *vs[400];
        for (int i = 0; i < 400; i++) {
            ms[i] = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, 65536, NULL);
            require_true(ms[i] != NULL);
            vs[i] = wheap_map_view_of_file(ms[i], WHEAP_FILE_MAP_WRITE, 0, 0);
            require_true(vs[i] != NULL);
            vs[i][0] = (char)i;
        }
        for (int i = 0; i < 400; i++) {
            expect_eq_u64((unsigned char)vs[i][0], (unsigned char)i);
            expect_true(wheap_close_mapping(ms[i]));
            expect_true(wheap_unmap_view_of_file(vs[i]));
        }
    }
    return test_done();
}
