/* Access rights: the file's open mode limits the section, the section's
 * protection and the handle's rights limit each view (ERROR_ACCESS_DENIED),
 * and a read-only view really is read-only. */
#include "win32_test.h"

#define SIZE ((size_t)65536)

static char *target;

static void write_it(void *arg)
{
    (void)arg;
    *(volatile char *)target = 1;
}

static void try_map(wheap_mapping *m, uint32_t access, bool ok, int line)
{
    wheap_set_last_error(0);
    void *p = wheap_map_view_of_file(m, access, 0, 0);
    if (ok && !p)
        test_fail_at(__FILE__, line, "map 0x%x failed: %u", access, wheap_get_last_error());
    if (!ok && p) test_fail_at(__FILE__, line, "map 0x%x succeeded", access);
    if (!ok && !p && wheap_get_last_error() != WHEAP_ERROR_ACCESS_DENIED)
        test_fail_at(__FILE__, line, "map 0x%x: error %u", access, wheap_get_last_error());
    if (p) wheap_unmap_view_of_file(p);
}
#define TRY(m, access, ok) try_map(m, access, ok, __LINE__)

int main(void)
{
    char path[64];
    int rw = temp_file(SIZE, 'a', path);
    int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
    require_true(ro >= 0 && wo >= 0);

    /* The file's open mode. */
    expect_null(wheap_create_file_mapping(ro, WHEAP_PAGE_READWRITE, 0, NULL));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);
    expect_null(wheap_create_file_mapping(wo, WHEAP_PAGE_READONLY, 0, NULL));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);
    wheap_mapping *m = wheap_create_file_mapping(ro, WHEAP_PAGE_WRITECOPY, 0, NULL);
    require_true(m != NULL);
    TRY(m, WHEAP_FILE_MAP_READ, true);
    TRY(m, WHEAP_FILE_MAP_COPY, true);
    TRY(m, WHEAP_FILE_MAP_WRITE, false);
    TRY(m, WHEAP_FILE_MAP_ALL_ACCESS, false);
    expect_true(wheap_close_mapping(m));
    m = wheap_create_file_mapping(ro, WHEAP_PAGE_READONLY, 0, NULL);
    require_true(m != NULL);
    TRY(m, WHEAP_FILE_MAP_READ, true);
    TRY(m, WHEAP_FILE_MAP_COPY, true);
    TRY(m, 0, true);   /* PAGE_NOACCESS view */
    TRY(m, WHEAP_FILE_MAP_WRITE, false);
    TRY(m, WHEAP_FILE_MAP_EXECUTE | WHEAP_FILE_MAP_READ, false);
    expect_true(wheap_close_mapping(m));

    /* Sizes: larger than the file needs a writable section, which grows it;
     * an empty file needs a size. */
    expect_null(wheap_create_file_mapping(ro, WHEAP_PAGE_READONLY, 2 * SIZE, NULL));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    m = wheap_create_file_mapping(rw, WHEAP_PAGE_READWRITE, 2 * SIZE, NULL);
    require_true(m != NULL);
    struct stat st;
    require_true(fstat(rw, &st) == 0);
    expect_eq_u64(st.st_size, 2 * SIZE);
    char *v = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    require_true(v != NULL);
    expect_eq_u64(v[0], 'a');
    expect_eq_u64(v[SIZE], 0);
    v[SIZE] = 'n';
    expect_true(wheap_flush_view_of_file(v + SIZE, 1));
    char byte = 0;
    expect_true(pread(ro, &byte, 1, SIZE) == 1);
    expect_eq_u64(byte, 'n');
    expect_true(wheap_unmap_view_of_file(v));
    expect_true(wheap_close_mapping(m));
    require_true(ftruncate(rw, 0) == 0);
    expect_null(wheap_create_file_mapping(rw, WHEAP_PAGE_READWRITE, 0, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Descriptors that cannot be mapped. */
    expect_null(wheap_create_file_mapping(1000, WHEAP_PAGE_READONLY, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    int pfd[2];
    require_true(pipe(pfd) == 0);
    expect_null(wheap_create_file_mapping(pfd[0], WHEAP_PAGE_READONLY, SIZE, NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);

    /* The section's protection limits views. */
    static const struct { uint32_t prot; bool read, write, copy, exec; } sections[] = {
        { WHEAP_PAGE_READONLY, true, false, true, false },
        { WHEAP_PAGE_WRITECOPY, true, false, true, false },
        { WHEAP_PAGE_READWRITE, true, true, true, false },
        { WHEAP_PAGE_EXECUTE_READ, true, false, true, true },
        { WHEAP_PAGE_EXECUTE_READWRITE, true, true, true, true },
    };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        m = wheap_create_file_mapping(-1, sections[i].prot, SIZE, NULL);
        require_true(m != NULL);
        TRY(m, WHEAP_FILE_MAP_READ, sections[i].read);
        TRY(m, WHEAP_FILE_MAP_WRITE, sections[i].write);
        TRY(m, WHEAP_FILE_MAP_COPY, sections[i].copy);
        void *x = wheap_map_view_of_file(m, WHEAP_FILE_MAP_EXECUTE | WHEAP_FILE_MAP_READ, 0, 0);
        if (sections[i].exec && x) {
            expect_eq_u64(query(x).protect, WHEAP_PAGE_EXECUTE_READ);
            wheap_unmap_view_of_file(x);
        } else if (sections[i].exec) {
            /* A system that forbids executable shared memory says so. */
            fprintf(stderr, "note: executable view refused (%u)\n", wheap_get_last_error());
        } else {
            expect_null(x);
            expect_error(WHEAP_ERROR_ACCESS_DENIED);
        }
        expect_true(wheap_close_mapping(m));
    }

    /* The handle's rights limit views. */
    const char *name = test_name("rights");
    wheap_mapping *owner = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, name);
    require_true(owner != NULL);
    m = wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name);
    require_true(m != NULL);
    TRY(m, WHEAP_FILE_MAP_WRITE, false);
    TRY(m, WHEAP_FILE_MAP_ALL_ACCESS, false);
    TRY(m, WHEAP_FILE_MAP_READ, true);
    TRY(m, WHEAP_FILE_MAP_COPY, true);
    TRY(m, WHEAP_FILE_MAP_EXECUTE | WHEAP_FILE_MAP_READ, false);
    target = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(target != NULL);
    expect_child_signal(test_in_child(write_it, NULL), SIGSEGV);
    expect_true(wheap_unmap_view_of_file(target));
    expect_true(wheap_close_mapping(m));
    m = wheap_open_file_mapping(WHEAP_FILE_MAP_WRITE, name);
    require_true(m != NULL);
    TRY(m, WHEAP_FILE_MAP_WRITE, true);
    TRY(m, WHEAP_FILE_MAP_READ, false);
    expect_true(wheap_close_mapping(m));
    m = wheap_open_file_mapping(0, name);
    require_true(m != NULL);
    TRY(m, 0, false);
    expect_true(wheap_close_mapping(m));
    expect_null(wheap_map_view_of_file(owner, 0x40000000u, 0, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_close_mapping(owner));

    close(rw);
    close(ro);
    close(wo);
    unlink(path);
    return test_done();
}
