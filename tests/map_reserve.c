/* SEC_RESERVE sections: views start reserved; VirtualAlloc(MEM_COMMIT)
 * through one view commits the section's pages, which every view of it
 * then shows committed with its own protection, including views mapped
 * later.  Reserved pages fault. */
#include "win32_test.h"

#define SIZE ((size_t)1 << 20)

static char *fault_at;

static void touch(void *arg)
{
    (void)arg;
    *(volatile char *)fault_at = 1;
}

int main(void)
{
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE | WHEAP_SEC_RESERVE,
                                                 SIZE, NULL);
    require_true(m != NULL);
    char *v1 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    char *v2 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    char *r1 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(v1 && v2 && r1);

    wheap_memory_basic_information mi = query(v1);
    expect_eq_ptr(mi.allocation_base, v1);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(mi.region_size, SIZE);
    expect_eq_u64(mi.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(mi.protect, 0);
    expect_eq_u64(mi.type, WHEAP_MEM_MAPPED);

    fault_at = v1;
    expect_child_signal(test_in_child(touch, NULL), SIGSEGV);

    /* Commit 64 KiB read-only through v1. */
    expect_eq_ptr(wheap_virtual_alloc(v1, 65536, WHEAP_MEM_COMMIT, WHEAP_PAGE_READONLY), v1);
    mi = query(v1);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(mi.region_size, 65536);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_READWRITE);
    mi = query(v1 + 65536);
    expect_eq_u64(mi.state, WHEAP_MEM_RESERVE);

    /* The other views see the section's pages committed, with their own
     * protection. */
    mi = query(v2);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(mi.region_size, 65536);
    mi = query(r1);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READONLY);
    v2[100] = 42;
    expect_eq_u64(v1[100], 42);
    expect_eq_u64(r1[100], 42);

    /* A view mapped later, at an offset, picks them up too. */
    char *v3 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 2 * 65536);
    require_true(v3 != NULL);
    mi = query(v3);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.region_size, 65536);
    expect_eq_u64(v3[100], 42);
    char *v4 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 65536, 65536);
    require_true(v4 != NULL);
    mi = query(v4);
    expect_eq_u64(mi.state, WHEAP_MEM_RESERVE);

    /* Committing through the offset view lands on section page 16. */
    expect_eq_ptr(wheap_virtual_alloc(v4 + 10, 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE), v4);
    v4[10] = 7;
    expect_eq_u64(v2[65536 + 10], 7);
    mi = query(v1 + 65536);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.region_size, page_size());

    /* Commit with more than the view allows is refused. */
    expect_null(wheap_virtual_alloc(r1 + 3 * 65536, 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    mi = query(r1 + 3 * 65536);
    expect_eq_u64(mi.state, WHEAP_MEM_RESERVE);
    expect_eq_ptr(wheap_virtual_alloc(r1 + 3 * 65536, 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READONLY),
                  r1 + 3 * 65536);
    v1[3 * 65536] = 1;   /* committed everywhere now */

    /* VirtualProtect on a reserved page of a view fails as on private memory. */
    uint32_t old;
    expect_false(wheap_virtual_protect(v1 + 5 * 65536, 1, WHEAP_PAGE_READONLY, &old));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_false(wheap_virtual_free(v1, 65536, WHEAP_MEM_DECOMMIT));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    expect_true(wheap_close_mapping(m));
    expect_true(wheap_unmap_view_of_file(v1));
    /* Commit after the handle closed still reaches the other views. */
    expect_eq_ptr(wheap_virtual_alloc(v2 + 8 * 65536, 65536, WHEAP_MEM_COMMIT,
                                      WHEAP_PAGE_READWRITE), v2 + 8 * 65536);
    mi = query(r1 + 8 * 65536);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_true(wheap_unmap_view_of_file(v2));
    expect_true(wheap_unmap_view_of_file(v3));
    expect_true(wheap_unmap_view_of_file(v4));
    expect_true(wheap_unmap_view_of_file(r1));

    /* SEC_RESERVE is ignored for file-backed sections: they are committed. */
    char path[64];
    int fd = temp_file(65536, 'f', path);
    unlink(path);
    m = wheap_create_file_mapping(fd, WHEAP_PAGE_READWRITE | WHEAP_SEC_RESERVE, 0, NULL);
    require_true(m != NULL);
    close(fd);
    char *f = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(f != NULL);
    mi = query(f);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(f[65535], 'f');
    expect_true(wheap_unmap_view_of_file(f));
    expect_true(wheap_close_mapping(m));
    return test_done();
}
