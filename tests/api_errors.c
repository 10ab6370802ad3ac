/* Last error is thread-local, set by failures, kept by successes; error
 * names and the version string. */
#include "test.h"
#include <pthread.h>

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread starts with ERROR_SUCCESS whatever main set. */
    uint32_t *seen = malloc(sizeof *seen);
    *seen = wheap_get_last_error();
    wheap_set_last_error(WHEAP_ERROR_ACCESS_DENIED);
    return seen;
}

int main(void)
{
    expect_eq_u64(wheap_get_last_error(), 0);
    wheap_set_last_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);

    pthread_t t;
    void *res;
    require_true(pthread_create(&t, NULL, other_thread, NULL) == 0);
    pthread_join(t, &res);
    expect_eq_u64(*(uint32_t *)res, 0);
    free(res);
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);   /* untouched by the other thread */

    /* A failing call sets it; a succeeding call leaves it alone. */
    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(NULL, 0, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    void *p = wheap_virtual_alloc(NULL, 65536, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    expect_not_null(p);
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));

    static const struct { uint32_t code; const char *name; } names[] = {
        { 0, "ERROR_SUCCESS" }, { 2, "ERROR_FILE_NOT_FOUND" }, { 5, "ERROR_ACCESS_DENIED" },
        { 6, "ERROR_INVALID_HANDLE" }, { 8, "ERROR_NOT_ENOUGH_MEMORY" },
        { 14, "ERROR_OUTOFMEMORY" }, { 24, "ERROR_BAD_LENGTH" }, { 50, "ERROR_NOT_SUPPORTED" },
        { 87, "ERROR_INVALID_PARAMETER" }, { 122, "ERROR_INSUFFICIENT_BUFFER" },
        { 158, "ERROR_NOT_LOCKED" }, { 183, "ERROR_ALREADY_EXISTS" },
        { 259, "ERROR_NO_MORE_ITEMS" }, { 487, "ERROR_INVALID_ADDRESS" },
        { 998, "ERROR_NOACCESS" }, { 1004, "ERROR_INVALID_FLAGS" },
        { 1132, "ERROR_MAPPED_ALIGNMENT" }, { 1314, "ERROR_PRIVILEGE_NOT_HELD" },
        { 1450, "ERROR_NO_SYSTEM_RESOURCES" }, { 1455, "ERROR_COMMITMENT_LIMIT" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        expect_eq_str(wheap_error_string(names[i].code), names[i].name);
    expect_eq_str(wheap_error_string(123456), "ERROR_UNKNOWN");

    const char *v = wheap_version();
    expect_true(strncmp(v, "wheap ", 6) == 0);
    int a, b, c;
    expect_eq_u64(sscanf(v, "wheap %d.%d.%d", &a, &b, &c), 3);
    expect_eq_u64(a, WHEAP_VERSION_MAJOR);
    expect_eq_u64(b, WHEAP_VERSION_MINOR);
    expect_eq_u64(c, WHEAP_VERSION_PATCH);
    return test_done();
}
