/* FILE_MAP_COPY: copy-on-write views of a file and of a shared section.
 * Writes stay in the view (never in the file, never in other views), and
 * after fork the child's writes stay in the child and the parent's in the
 * parent. */
#include "win32_test.h"

#define SIZE ((size_t)128 * 1024)

static char *cow;

static void child_writes(void *arg)
{
    (void)arg;
    if (cow[0] != 'B') _exit(1);      /* the parent's copy before fork */
    cow[1] = 'C';
    cow[65536] = 'C';
    _exit(cow[1] == 'C' ? 0 : 2);
}

int main(void)
{
    size_t page = page_size();
    char path[64];
    int fd = temp_file(SIZE, 'A', path);
    wheap_mapping *m = wheap_create_file_mapping(fd, WHEAP_PAGE_WRITECOPY, 0, NULL);
    require_true(m != NULL);
    close(fd);   /* the mapping has its own descriptor */

    cow = wheap_map_view_of_file(m, WHEAP_FILE_MAP_COPY, 0, 0);
    char *ro = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(cow && ro);
    wheap_memory_basic_information mi = query(cow);
    expect_eq_u64(mi.allocation_protect, WHEAP_PAGE_WRITECOPY);
    expect_eq_u64(mi.protect, WHEAP_PAGE_WRITECOPY);
    expect_eq_u64(mi.region_size, SIZE);
    expect_eq_u64(mi.type, WHEAP_MEM_MAPPED);

    cow[0] = 'B';
    expect_eq_u64(ro[0], 'A');
    expect_true(wheap_flush_view_of_file(cow, 0));
    int check = open(path, O_RDONLY);
    require_true(check >= 0);
    char byte = 0;
    expect_true(pread(check, &byte, 1, 0) == 1);
    expect_eq_u64(byte, 'A');

    /* After fork: the child's writes are its own. */
    expect_child_exit(test_in_child(child_writes, NULL), 0);
    expect_eq_u64(cow[1], 'A');
    expect_eq_u64(cow[65536], 'A');
    expect_true(pread(check, &byte, 1, 65536) == 1);
    expect_eq_u64(byte, 'A');

    /* VirtualProtect: read-write on a copy-on-write view stays
     * copy-on-write; a read-only view cannot become writable. */
    uint32_t old;
    expect_true(wheap_virtual_protect(cow + page, page, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(old, WHEAP_PAGE_WRITECOPY);
    expect_true(wheap_virtual_protect(cow + page, page, WHEAP_PAGE_READWRITE, &old));
    mi = query(cow + page);
    expect_eq_u64(mi.protect, WHEAP_PAGE_WRITECOPY);
    cow[page] = 'Q';
    expect_eq_u64(ro[page], 'A');
    expect_false(wheap_virtual_protect(ro, page, WHEAP_PAGE_READWRITE, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(ro, page, WHEAP_PAGE_WRITECOPY, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_unmap_view_of_file(cow));
    expect_true(wheap_unmap_view_of_file(ro));
    expect_true(wheap_close_mapping(m));

    /* A copy-on-write view of a shared section: later writes through a
     * shared view show through pages the copy has not written. */
    m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, test_name("cow"));
    require_true(m != NULL);
    char *shared = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    cow = wheap_map_view_of_file(m, WHEAP_FILE_MAP_COPY, 0, 0);
    require_true(shared && cow);
    shared[0] = 'S';
    expect_eq_u64(cow[0], 'S');
    cow[0] = 'P';
    shared[0] = 'T';
    shared[65536] = 'U';
    expect_eq_u64(cow[0], 'P');
    expect_eq_u64(cow[65536], 'U');
    expect_eq_u64(shared[0], 'T');
    wheap_mapping *other = wheap_open_file_mapping(WHEAP_FILE_MAP_READ, test_name("cow"));
    require_true(other != NULL);
    char *third = wheap_map_view_of_file(other, WHEAP_FILE_MAP_COPY, 0, 0);
    require_true(third != NULL);   /* a read-only handle may map copy-on-write */
    third[0] = 'X';
    expect_eq_u64(shared[0], 'T');
    expect_true(wheap_close_mapping(other));
    expect_true(wheap_close_mapping(m));
    expect_true(wheap_unmap_view_of_file(shared));
    expect_true(wheap_unmap_view_of_file(cow));
    expect_true(wheap_unmap_view_of_file(third));
    close(check);
    unlink(path);
    return test_done();
}
