/* MEM_RESET: accepted on committed pages only, state and protection stay,
 * contents become undefined (old or zero), the pages stay usable. */
#include "test.h"

#define G 65536u

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *p = wheap_virtual_alloc(NULL, 4 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 2 * G, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE) == p);
    memset(p, 0x77, 2 * G);

    /* A byte range: the pages it touches. */
    void *r = wheap_virtual_alloc(p + 10, G, WHEAP_MEM_RESET, WHEAP_PAGE_NOACCESS);
    expect_eq_ptr(r, p);
    wheap_memory_basic_information m;
    wheap_virtual_query(p, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(m.region_size, 2 * G);
    for (size_t i = 0; i < G; i += page) {
        unsigned char v = (unsigned char)p[i];
        expect_true(v == 0x77 || v == 0);
    }
    p[100] = 5;   /* still writable */
    expect_eq_u64(p[100], 5);
    expect_eq_u64((unsigned char)p[G + page + 1], 0x77);   /* outside the range: kept */

    /* Uncommitted pages in the range, no address, invalid protection. */
    expect_null(wheap_virtual_alloc(p + G, 2 * G, WHEAP_MEM_RESET, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESET, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(p, G, WHEAP_MEM_RESET, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
