/* MEM_RELEASE frees the whole reservation, committed pages and all; the
 * address becomes free and reusable. */
#include "test.h"

#define G 65536u

int main(void)
{
    char *p = wheap_virtual_alloc(NULL, 32 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p + 5 * G, 3 * G, WHEAP_MEM_COMMIT,
                                     WHEAP_PAGE_READWRITE) == p + 5 * G);
    memset(p + 5 * G, 0x33, 3 * G);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    wheap_memory_basic_information m;
    for (size_t off = 0; off < 32 * G; off += 7 * G) {
        expect_eq_u64(wheap_virtual_query(p + off, &m, sizeof m), sizeof m);
        expect_eq_u64(m.state, WHEAP_MEM_FREE);
        expect_null(m.allocation_base);
        expect_eq_u64(m.protect, WHEAP_PAGE_NOACCESS);
        expect_eq_u64(m.type, 0);
    }
    expect_false(test_maps_perms(p + 6 * G, NULL));
    /* Released twice: the second is an invalid address. */
    expect_false(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    /* The range can be reserved again, exactly there, and reads as zero. */
    char *q = wheap_virtual_alloc(p, 32 * G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE);
    expect_eq_ptr(q, p);
    if (q) {
        expect_eq_u64(q[6 * G], 0);
        expect_true(wheap_virtual_free(q, 0, WHEAP_MEM_RELEASE));
    }
    return test_done();
}
