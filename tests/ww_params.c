/* GetWriteWatch / ResetWriteWatch argument rules (~0u and the last error):
 * unknown flags, NULL or foreign base, size 0, a range past the region,
 * count NULL or 0, NULL buffers; MEM_WRITE_WATCH needs MEM_RESERVE. */
#include "win32_test.h"

#define SIZE ((size_t)65536)

int main(void)
{
    size_t ps = page_size();
    char *base = ww_alloc(SIZE, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    void *res[64];
    size_t count = 64;
    uint32_t gran;
#define GET_FAILS(code, ...) \
    do { \
        wheap_set_last_error(0xdead); \
        expect_eq_u64(wheap_get_write_watch(__VA_ARGS__), ~0u); \
        expect_error(code); \
    } while (0)

    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, NULL, SIZE, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0xdeadbeef, base, SIZE, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base, 0, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base, 2 * SIZE, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base + SIZE - ps, ps + 1, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_NOACCESS, 0, base, SIZE, res, NULL, &gran);
    GET_FAILS(WHEAP_ERROR_NOACCESS, 0, base, SIZE, res, &count, NULL);
    GET_FAILS(WHEAP_ERROR_NOACCESS, 0, base, SIZE, NULL, &count, &gran);
    count = 0;
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base, SIZE, res, &count, &gran);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base, SIZE, NULL, &count, &gran);
    count = 64;

    /* Memory without MEM_WRITE_WATCH, ours or not. */
    char *plain = wheap_virtual_alloc(NULL, SIZE, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    require_true(plain != NULL);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, plain, SIZE, res, &count, &gran);
    static char foreign[SIZE];
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, foreign, ps, res, &count, &gran);
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, NULL);
    char *view = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    require_true(view != NULL);
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, view, SIZE, res, &count, &gran);

    wheap_set_last_error(0xdead);
    expect_eq_u64(wheap_reset_write_watch(base, 0), ~0u);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_eq_u64(wheap_reset_write_watch(plain, SIZE), ~0u);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_eq_u64(wheap_reset_write_watch(NULL, SIZE), ~0u);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_eq_u64(wheap_reset_write_watch(base, 2 * SIZE), ~0u);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Success leaves the last error alone. */
    wheap_set_last_error(0xdead);
    expect_eq_u64(wheap_get_write_watch(0, base, SIZE, res, &count, &gran), 0);
    expect_eq_u64(wheap_reset_write_watch(base, SIZE), 0);
    expect_error(0xdead);

    /* MEM_WRITE_WATCH needs MEM_RESERVE; a released region is no longer
     * watched. */
    expect_null(wheap_virtual_alloc(NULL, SIZE, WHEAP_MEM_WRITE_WATCH, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_virtual_alloc(NULL, SIZE, WHEAP_MEM_WRITE_WATCH | WHEAP_MEM_COMMIT,
                                    WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));
    GET_FAILS(WHEAP_ERROR_INVALID_PARAMETER, 0, base, SIZE, res, &count, &gran);

    /* At an address: reserved there, watched. */
    char *at = wheap_virtual_alloc(base + 100, SIZE - 100,
                                   WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT | WHEAP_MEM_WRITE_WATCH,
                                   WHEAP_PAGE_READWRITE);
    if (at) {   /* the range may have been taken meanwhile */
        expect_eq_ptr(at, base);
        at[ps] = 1;
        count = 64;
        expect_eq_u64(wheap_get_write_watch(0, at, SIZE, res, &count, &gran), 0);
        expect_eq_u64(count, 1);
        expect_true(wheap_virtual_free(at, 0, WHEAP_MEM_RELEASE));
    }
    expect_true(wheap_virtual_free(plain, 0, WHEAP_MEM_RELEASE));
    expect_true(wheap_unmap_view_of_file(view));
    expect_true(wheap_close_mapping(m));
    return test_done();
}
