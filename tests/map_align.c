/* View placement and size: offsets and base addresses are 64 KiB
 * multiples (ERROR_MAPPED_ALIGNMENT), a view never reaches past the
 * section (ERROR_ACCESS_DENIED), 0 bytes means to the end, a requested
 * base is honoured exactly and never clobbers memory in use, and offsets
 * beyond 4 GiB work. */
#include "win32_test.h"

#define SIZE ((size_t)1 << 20)

int main(void)
{
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, NULL);
    require_true(m != NULL);

    expect_null(wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 4096, 4096));
    expect_error(WHEAP_ERROR_MAPPED_ALIGNMENT);
    expect_null(wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 65536 + 512, 0));
    expect_error(WHEAP_ERROR_MAPPED_ALIGNMENT);
    expect_null(wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, SIZE, 0));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);
    expect_null(wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, SIZE - 65536, 65537));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);
    expect_null(wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, SIZE + 1));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);

    char *tail = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 3 * 65536, 0);
    require_true(tail != NULL);
    wheap_memory_basic_information mi = query(tail);
    expect_eq_u64(mi.region_size, SIZE - 3 * 65536);
    char *all = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(all != NULL);
    tail[0] = 't';
    expect_eq_u64(all[3 * 65536], 't');

    /* A base address: find a free 64 KiB-aligned range, then map there. */
    char *hole = wheap_virtual_alloc(NULL, 2 * SIZE, WHEAP_MEM_RESERVE, WHEAP_PAGE_NOACCESS);
    require_true(hole != NULL);
    expect_true(wheap_virtual_free(hole, 0, WHEAP_MEM_RELEASE));
    expect_null(wheap_map_view_of_file_ex(m, WHEAP_FILE_MAP_WRITE, 0, 0, hole + 4096));
    expect_error(WHEAP_ERROR_MAPPED_ALIGNMENT);
    char *at = wheap_map_view_of_file_ex(m, WHEAP_FILE_MAP_WRITE, 0, 65536, hole + 65536);
    expect_eq_ptr(at, hole + 65536);
    if (at) expect_eq_u64(at[3 * 65536 - 3 * 65536], all[0]);
    /* Occupied: our own view, or private memory. */
    expect_null(wheap_map_view_of_file_ex(m, WHEAP_FILE_MAP_WRITE, 0, 65536, hole + 65536));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    char *priv = wheap_virtual_alloc(NULL, 65536, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    require_true(priv != NULL);
    priv[0] = 'p';
    expect_null(wheap_map_view_of_file_ex(m, WHEAP_FILE_MAP_WRITE, 0, 65536, priv));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_eq_u64(priv[0], 'p');
    expect_true(wheap_virtual_free(priv, 0, WHEAP_MEM_RELEASE));
    if (at) expect_true(wheap_unmap_view_of_file(at));
    expect_true(wheap_unmap_view_of_file(tail));
    expect_true(wheap_unmap_view_of_file(all));
    expect_true(wheap_close_mapping(m));

    /* A sparse 8 GiB section, a view at 5 GiB. */
    uint64_t big = (uint64_t)8 << 30, off = (uint64_t)5 << 30;
    m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, big, NULL);
    require_true(m != NULL);
    char *hi = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, off, 65536);
    char *hi2 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, off - 65536, 2 * 65536);
    require_true(hi && hi2);
    hi[1] = 'h';
    expect_eq_u64(hi2[65536 + 1], 'h');
    expect_true(wheap_unmap_view_of_file(hi));
    expect_true(wheap_unmap_view_of_file(hi2));
    expect_true(wheap_close_mapping(m));
    return test_done();
}
