/* MEM_RESET_UNDO when the data survived: it succeeds, every byte is as it
 * was, and the pages are dirty again, so that even a forced reclaim
 * (MADV_PAGEOUT) can no longer drop them: read-write, read-only and guard
 * pages alike.  Pages never written before the reset count as intact.  The
 * reset counter goes back down.  Unit test: it reads layer-1 counters. */
#include "test.h"
#include "internal.h"
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

static size_t page;

static size_t reset_bytes(void)
{
    wh_vm_counters c;
    wh_vm_counters_get(&c);
    return c.reset;
}

static void fill(unsigned char *p, size_t pages, unsigned seed)
{
    for (size_t i = 0; i < pages * page; i++) p[i] = (unsigned char)(i * 31 + seed) | 1;
}

static size_t mismatches(const unsigned char *p, size_t pages, unsigned seed)
{
    size_t bad = 0;
    for (size_t i = 0; i < pages * page; i++)
        if (p[i] != ((unsigned char)(i * 31 + seed) | 1)) bad++;
    return bad;
}

static int guard_seen(uint32_t status, void *address, void *context)
{
    (void)address;
    if (status == WHEAP_STATUS_GUARD_PAGE_VIOLATION) ++*(volatile int *)context;
    return WHEAP_EXCEPTION_CONTINUE_SEARCH;
}

/* Runs in a child: it trips a guard page. */
static void run(void *arg)
{
    (void)arg;
    size_t reset0 = reset_bytes();
    unsigned char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_COMMIT, RW) == p);
    fill(p, 6, 1);                          /* pages 6 and 7 never written */

    /* Undo of pages never reset: nothing to do, success. */
    expect_eq_ptr(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET_UNDO, RW), p);

    expect_eq_ptr(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET, RW), p);
    expect_eq_u64(reset_bytes() - reset0, 8 * page);
    /* A byte range: the pages it touches, answered with the first page. */
    void *u = wheap_virtual_alloc(p + 5, 8 * page - 10, WHEAP_MEM_RESET_UNDO, RW);
    expect_eq_ptr(u, p);
    expect_eq_u64(reset_bytes(), reset0);
    expect_eq_u64(mismatches(p, 6, 1), 0);
    for (size_t i = 6 * page; i < 8 * page; i++)
        if (p[i] != 0) { expect_true(!"untouched pages read as zero"); break; }

    /* The re-dirtied pages are no longer lazily freeable. */
    int pageout = madvise(p, 8 * page, MADV_PAGEOUT);
    if (pageout == 0) expect_eq_u64(mismatches(p, 6, 1), 0);

    /* Pages this thread may not write: read-only and a guard page. */
    static volatile int guards;
    require_true(wheap_add_exception_handler(0, guard_seen, (void *)&guards) != NULL);
    uint32_t old;
    expect_true(wheap_virtual_protect(p, 2 * page, WHEAP_PAGE_READONLY, &old));
    expect_true(wheap_virtual_protect(p + 2 * page, page, RW | WHEAP_PAGE_GUARD, &old));
    expect_eq_ptr(wheap_virtual_alloc(p, 6 * page, WHEAP_MEM_RESET, RW), p);
    expect_eq_ptr(wheap_virtual_alloc(p, 6 * page, WHEAP_MEM_RESET_UNDO, RW), p);
    /* Protections are as they were, the guard still armed. */
    wheap_memory_basic_information m;
    wheap_virtual_query(p, &m, sizeof m);
    expect_eq_u64(m.protect, WHEAP_PAGE_READONLY);
    expect_eq_u64(m.region_size, 2 * page);
    wheap_virtual_query(p + 2 * page, &m, sizeof m);
    expect_eq_u64(m.protect, RW | WHEAP_PAGE_GUARD);
    if (pageout == 0) expect_eq_u64(madvise(p, 6 * page, MADV_PAGEOUT), 0);
    expect_eq_u64(guards, 0);
    expect_eq_u64(mismatches(p, 6, 1), 0);     /* trips the guard once */
    expect_eq_u64(guards, 1);
    expect_eq_u64(reset_bytes(), reset0);

    /* Uncommitted pages in the range; no address; memory of a heap-free
     * foreign mapping. */
    expect_null(wheap_virtual_alloc(p, 9 * page, WHEAP_MEM_RESET_UNDO, RW));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(NULL, page, WHEAP_MEM_RESET_UNDO, RW));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    int local;
    expect_null(wheap_virtual_alloc(&local, 4, WHEAP_MEM_RESET_UNDO, RW));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_null(wheap_virtual_alloc(p, page, WHEAP_MEM_RESET_UNDO | WHEAP_MEM_COMMIT, RW));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* Decommit and release after a reset give the counter back too. */
    expect_eq_ptr(wheap_virtual_alloc(p, 8 * page, WHEAP_MEM_RESET, RW), p);
    expect_true(wheap_virtual_free(p, 4 * page, WHEAP_MEM_DECOMMIT));
    expect_eq_u64(reset_bytes() - reset0, 4 * page);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    expect_eq_u64(reset_bytes(), reset0);
    if (pageout != 0) fprintf(stderr, "note: MADV_PAGEOUT refused, re-dirtying not proven\n");
    _exit(test_done());
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(run, NULL), 0);
    return test_done();
}
