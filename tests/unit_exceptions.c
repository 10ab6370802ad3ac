/* The heap layer's WHEAP_STATUS_NO_MEMORY delivery: handlers are told the
 * status and address in order, and a handler removed (even from inside a
 * handler) is not called again. */
#include "test.h"
#include "internal.h"

static volatile int calls[3];
static volatile uint32_t status_seen;
static void *volatile address_seen;
static void *self_handle;

static int h0(uint32_t s, void *a, void *c)
{
    (void)c;
    calls[0]++;
    status_seen = s;
    address_seen = a;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static int h1(uint32_t s, void *a, void *c)
{
    (void)s; (void)a; (void)c;
    calls[1]++;
    /* Removing itself from inside the walk. */
    if (!wheap_remove_exception_handler(self_handle)) calls[1] += 100;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

static int h2(uint32_t s, void *a, void *c)
{
    (void)s; (void)a; (void)c;
    calls[2]++;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

int main(void)
{
    void *a = wheap_add_exception_handler(0, h0, NULL);
    self_handle = wheap_add_exception_handler(0, h1, NULL);
    void *c = wheap_add_exception_handler(0, h2, NULL);
    require_true(a && self_handle && c);
    int marker;
    wh_exception_raise_no_memory(&marker);
    expect_eq_u64(status_seen, WHEAP_STATUS_NO_MEMORY);
    expect_eq_ptr(address_seen, &marker);
    expect_eq_u64(calls[0], 1);
    expect_eq_u64(calls[1], 1);
    expect_eq_u64(calls[2], 1);                 /* the walk went on past h1 */
    wh_exception_raise_no_memory(NULL);
    expect_eq_u64(calls[0], 2);
    expect_eq_u64(calls[1], 1);                 /* removed */
    expect_eq_u64(calls[2], 2);
    expect_true(wheap_remove_exception_handler(a));
    expect_true(wheap_remove_exception_handler(c));
    wh_exception_raise_no_memory(NULL);         /* no handlers: nothing happens */
    expect_eq_u64(calls[0] + calls[2], 4);
    return test_done();
}
