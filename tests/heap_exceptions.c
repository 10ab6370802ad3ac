/* HEAP_GENERATE_EXCEPTIONS (on the heap or the call): a failed allocation
 * tells the vectored handlers WHEAP_STATUS_NO_MEMORY, then returns NULL
 * with ERROR_NOT_ENOUGH_MEMORY; without the flag the handlers hear nothing. */
#include "heap_test.h"

static int calls;
static uint32_t last_status;

static int handler(uint32_t status, void *address, void *context)
{
    (void)address;
    (void)context;
    calls++;
    last_status = status;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

int main(void)
{
    void *cookie = wheap_add_exception_handler(1, handler, NULL);
    require_true(cookie != NULL);
    wheap_heap *h = wheap_heap_create(0, 0, 1 << 20);
    require_true(h != NULL);

    /* No flag: silence. */
    expect_null(wheap_heap_alloc(h, 0, 0x7FFF8));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_eq_u64(calls, 0);
    /* On the call. */
    expect_null(wheap_heap_alloc(h, WHEAP_HEAP_GENERATE_EXCEPTIONS, 0x7FFF8));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_eq_u64(calls, 1);
    expect_eq_u64(last_status, WHEAP_STATUS_NO_MEMORY);
    /* Realloc too. */
    void *p = wheap_heap_alloc(h, 0, 10);
    require_true(p != NULL);
    expect_null(wheap_heap_realloc(h, WHEAP_HEAP_GENERATE_EXCEPTIONS, p, 0x80000));
    expect_eq_u64(calls, 2);
    expect_eq_u64(wheap_heap_size(h, 0, p), 10);
    expect_true(wheap_heap_destroy(h));

    /* On the heap: every failing call, exhaustion included. */
    h = wheap_heap_create(WHEAP_HEAP_GENERATE_EXCEPTIONS, 0, 256 << 10);
    require_true(h != NULL);
    int got = 0;
    while (wheap_heap_alloc(h, 0, 10000)) got++;
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_gt_u64(got, 5);
    expect_eq_u64(calls, 3);
    expect_true(wheap_heap_destroy(h));

    /* A growable heap asked for the impossible. */
    h = wheap_heap_create(WHEAP_HEAP_GENERATE_EXCEPTIONS, 0, 0);
    require_true(h != NULL);
    expect_null(wheap_heap_alloc(h, 0, (size_t)1 << 60));
    expect_eq_u64(calls, 4);
    expect_true(wheap_heap_destroy(h));
    expect_true(wheap_remove_exception_handler(cookie));
    return test_done();
}
