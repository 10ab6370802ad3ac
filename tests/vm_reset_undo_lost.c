/* MEM_RESET_UNDO after the kernel reclaimed reset pages: it fails (never a
 * blanket success), the lost pages read as zero, the ones that survived
 * keep their data, the reset state is cleared either way, and a second undo
 * succeeds.  MADV_PAGEOUT forces the reclaim; skipped where the kernel
 * refuses it or keeps the pages anyway. */
#include "test.h"
#include "internal.h"
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    wh_vm_counters c0, c1;
    wh_vm_counters_get(&c0);
    unsigned char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, RW);
    require_true(p != NULL);
    memset(p, 0xA5, 8 * page);
    expect_eq_ptr(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET, RW), p);
    /* Reclaim the first half now; the second half stays resident. */
    if (madvise(p, 4 * page, MADV_PAGEOUT) != 0)
        test_skip("MADV_PAGEOUT refused (%s)", strerror(errno));
    unsigned char vec[8];
    require_true(mincore(p, 8 * page, vec) == 0);
    for (int i = 0; i < 4; i++)
        if (vec[i] & 1) test_skip("the kernel kept page %d resident after MADV_PAGEOUT", i);

    wheap_set_last_error(0);
    expect_null(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET_UNDO, RW));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    wh_vm_counters_get(&c1);
    expect_eq_u64(c1.reset, c0.reset);        /* no longer counted as reset */
    size_t zero = 0, kept = 0;
    for (size_t i = 0; i < 4 * page; i++) zero += p[i] == 0;
    for (size_t i = 4 * page; i < 8 * page; i++) kept += p[i] == 0xA5;
    expect_eq_u64(zero, 4 * page);            /* lost: zero, as Win32 says */
    expect_eq_u64(kept, 4 * page);            /* survivors keep their data */
    /* The state is clear: undo again succeeds, pages as they are now. */
    expect_eq_ptr(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET_UNDO, RW), p);

    /* A page lost to an earlier reset stays lost through a later reset of
     * the same range, even though it is now as empty as a fresh page. */
    memset(p, 0x3C, 2 * page);
    expect_eq_ptr(wheap_virtual_alloc(p, 2 * page, WHEAP_MEM_RESET, RW), p);
    require_true(madvise(p, page, MADV_PAGEOUT) == 0);
    expect_eq_ptr(wheap_virtual_alloc(p, 2 * page, WHEAP_MEM_RESET, RW), p);
    expect_null(wheap_virtual_alloc(p, 2 * page, WHEAP_MEM_RESET_UNDO, RW));
    expect_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
