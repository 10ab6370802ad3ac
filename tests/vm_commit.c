/* MEM_COMMIT: lazy page commit inside a reservation, zero fill, committing
 * committed pages keeps their contents, decommit drops contents and keeps
 * the range reserved, run-by-run VirtualQuery. */
#include "test.h"

#define G 65536u

static void touch_reserved(void *p)
{
    *(volatile char *)p = 1;   /* must fault */
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *base = wheap_virtual_alloc(NULL, 16 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_NOACCESS);
    require_true(base != NULL);

    /* Commit pages touched by a byte range that straddles a page boundary. */
    char *c = wheap_virtual_alloc(base + 3 * page - 10, 20, WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE);
    expect_eq_ptr(c, base + 2 * page);
    for (size_t i = 0; i < 2 * page; i++)
        if (c[i] != 0) { expect_true(!"fresh pages read as zero"); break; }
    memset(c, 0x11, 2 * page);

    wheap_memory_basic_information m;
    expect_eq_u64(wheap_virtual_query(base, &m, sizeof m), sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, 2 * page);
    expect_eq_u64(m.protect, 0);
    wheap_virtual_query(base + 2 * page + 5, &m, sizeof m);
    expect_eq_ptr(m.base_address, base + 2 * page);
    expect_eq_ptr(m.allocation_base, base);
    expect_eq_u64(m.allocation_protect, WHEAP_PAGE_NOACCESS);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE);
    expect_eq_u64(m.region_size, 2 * page);
    expect_eq_u64(m.type, WHEAP_MEM_PRIVATE);
    wheap_virtual_query(base + 4 * page, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, 16 * G - 4 * page);

    /* Committing a range that includes committed pages keeps their data. */
    char *c2 = wheap_virtual_alloc(base, 8 * page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    expect_eq_ptr(c2, base);
    expect_eq_u64((unsigned char)base[2 * page], 0x11);
    expect_eq_u64((unsigned char)base[4 * page - 1], 0x11);
    expect_eq_u64(base[0], 0);
    expect_eq_u64(base[7 * page], 0);
    wheap_virtual_query(base, &m, sizeof m);
    expect_eq_u64(m.region_size, 8 * page);   /* one run now */

    /* Recommit with another protection applies it to every page. */
    expect_eq_ptr(wheap_virtual_alloc(base, page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READONLY), base);
    wheap_virtual_query(base, &m, sizeof m);
    expect_eq_u64(m.protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(m.region_size, page);

    /* Decommit: contents gone, pages inaccessible, range still reserved. */
    expect_true(wheap_virtual_free(base + 2 * page, 2 * page, WHEAP_MEM_DECOMMIT));
    wheap_virtual_query(base + 2 * page, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, 2 * page);
    expect_eq_ptr(m.allocation_base, base);
    expect_child_signal(test_in_child(touch_reserved, base + 2 * page), SIGSEGV);
    /* Recommitted pages read as zero again. */
    expect_not_null(wheap_virtual_alloc(base + 2 * page, page, WHEAP_MEM_COMMIT,
                                        WHEAP_PAGE_READWRITE));
    expect_eq_u64(base[2 * page], 0);
    /* Decommitting uncommitted pages succeeds. */
    expect_true(wheap_virtual_free(base + 10 * G, G, WHEAP_MEM_DECOMMIT));
    /* Size 0 decommits the whole reservation when given its base... */
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_DECOMMIT));
    wheap_virtual_query(base, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, 16 * G);
    /* ...and is refused elsewhere. */
    expect_false(wheap_virtual_free(base + G, 0, WHEAP_MEM_DECOMMIT));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Commit outside any reservation, or past its end. */
    char *probe = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(probe != NULL);
    require_true(wheap_virtual_free(probe, 0, WHEAP_MEM_RELEASE));
    expect_null(wheap_virtual_alloc(probe, page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(base + 15 * G, 2 * G, WHEAP_MEM_COMMIT,
                                    WHEAP_PAGE_READWRITE));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* MEM_COMMIT alone with no address reserves and commits. */
    char *rc = wheap_virtual_alloc(NULL, 3 * page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    require_true(rc != NULL);
    memset(rc, 1, 3 * page);
    wheap_virtual_query(rc, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.region_size, 3 * page);
    wheap_virtual_query(rc + 3 * page, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.region_size, G - 3 * page);
    expect_true(wheap_virtual_free(rc, 0, WHEAP_MEM_RELEASE));

    /* Reserve+commit at an address. */
    char *at = wheap_virtual_alloc(probe + 100, page, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                   WHEAP_PAGE_READWRITE);
    expect_eq_ptr(at, probe);
    if (at) {
        at[100] = 7;
        expect_true(wheap_virtual_free(at, 0, WHEAP_MEM_RELEASE));
    }

    /* Guard and no-cache modifiers are remembered. */
    char *g = wheap_virtual_alloc(base + 12 * G, page, WHEAP_MEM_COMMIT,
                                  WHEAP_PAGE_READWRITE | WHEAP_PAGE_NOCACHE);
    expect_eq_ptr(g, base + 12 * G);
    wheap_virtual_query(g, &m, sizeof m);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE | WHEAP_PAGE_NOCACHE);
    g[0] = 1;

    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
