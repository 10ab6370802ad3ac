/* wheap_heap_set_information / _query_information: compatibility (2, the
 * low-fragmentation heap, is what every heap is), termination on corruption
 * (no data; NULL heap: every heap), bad classes, lengths and handles. */
#include "heap_test.h"

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    uint32_t v = 0;
    size_t len = 0;
    expect_true(wheap_heap_query_information(h, WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v,
                                             sizeof v, &len));
    expect_eq_u64(v, 2);
    expect_eq_u64(len, sizeof v);
    len = 0;
    expect_false(wheap_heap_query_information(h, WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v, 2,
                                              &len));
    expect_error(WHEAP_ERROR_INSUFFICIENT_BUFFER);
    expect_eq_u64(len, sizeof v);
    expect_false(wheap_heap_query_information(h, 77, &v, sizeof v, &len));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_heap_query_information((wheap_heap *)&v, 0, &v, sizeof v, &len));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);

    v = 2;
    expect_true(wheap_heap_set_information(h, WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v, sizeof v));
    v = 0;
    expect_false(wheap_heap_set_information(h, WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v, sizeof v));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    v = 2;
    expect_false(wheap_heap_set_information(h, WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v, 2));
    expect_error(WHEAP_ERROR_BAD_LENGTH);
    expect_false(wheap_heap_set_information(h, 99, &v, sizeof v));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_heap_set_information(h, WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION, NULL, 0));
    expect_false(wheap_heap_set_information((wheap_heap *)&v,
                                            WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION, NULL, 0));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    /* A healthy heap with termination on works as before. */
    void *p = wheap_heap_alloc(h, 0, 10);
    expect_not_null(p);
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_false(wheap_heap_free(h, 0, (char *)p + 16));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_heap_free(h, 0, p));
    expect_true(wheap_heap_query_information(wheap_get_process_heap(),
                                             WHEAP_HEAP_COMPATIBILITY_INFORMATION, &v, sizeof v,
                                             NULL));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
