/* VirtualLock / VirtualUnlock: mlock of committed pages (VmLck grows and
 * shrinks), ERROR_INVALID_ADDRESS for uncommitted pages, ERROR_NOACCESS for
 * pages no access can reach, ERROR_NOT_LOCKED for pages not locked (and then
 * nothing is unlocked), the lock survives a protection change and goes with
 * a decommit. */
#include "test.h"
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

/* Sanitizer runtimes turn mlock into a no-op: VmLck is only checked where
 * mlock itself moves it. */
static bool vmlck_moves;

static uint64_t locked(void)
{
    return vmlck_moves ? test_proc_status("VmLck") : 0;
}

static bool probe_mlock(size_t page)
{
    char *q = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) return false;
    q[0] = 1;
    uint64_t before = test_proc_status("VmLck");
    bool moves = mlock(q, page) == 0 && test_proc_status("VmLck") == before + page;
    munmap(q, page);
    return moves;
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    getrlimit(RLIMIT_MEMLOCK, &rl);
    if (geteuid() != 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 8 * page)
        test_skip("RLIMIT_MEMLOCK is %llu bytes", (unsigned long long)rl.rlim_cur);
    vmlck_moves = probe_mlock(page);
    if (!vmlck_moves) fprintf(stderr, "note: mlock does not move VmLck here (sanitizer?)\n");

    char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE, RW);
    require_true(p != NULL);
    require_true(wheap_virtual_alloc(p, 4 * page, WHEAP_MEM_COMMIT, RW) == p);
    memset(p, 1, 4 * page);
    uint64_t lck0 = locked();

    expect_false(wheap_virtual_lock(p, 5 * page));          /* runs into reserved */
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_false(wheap_virtual_lock(p, 0));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    int local;
    expect_false(wheap_virtual_lock(&local, 4));
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);
    expect_eq_u64(locked(), lck0);

    expect_true(wheap_virtual_lock(p + 10, 2 * page));      /* pages 0..2 */
    expect_eq_u64(locked() - lck0, vmlck_moves ? 3 * page : 0);
    /* Unlock must find every page locked: page 3 is not. */
    expect_false(wheap_virtual_unlock(p, 4 * page));
    expect_error(WHEAP_ERROR_NOT_LOCKED);
    expect_eq_u64(locked() - lck0, vmlck_moves ? 3 * page : 0);
    /* Locking again is fine; a protection change keeps the lock. */
    expect_true(wheap_virtual_lock(p, page));
    uint32_t old;
    expect_true(wheap_virtual_protect(p, page, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(locked() - lck0, vmlck_moves ? 3 * page : 0);
    expect_true(wheap_virtual_unlock(p + page, page));
    expect_eq_u64(locked() - lck0, vmlck_moves ? 2 * page : 0);
    expect_false(wheap_virtual_unlock(p + page, page));
    expect_error(WHEAP_ERROR_NOT_LOCKED);
    expect_false(wheap_virtual_unlock(p + 5 * page, page));  /* uncommitted */
    expect_error(WHEAP_ERROR_INVALID_ADDRESS);

    /* Inaccessible pages cannot be locked. */
    expect_true(wheap_virtual_protect(p + 3 * page, page, WHEAP_PAGE_NOACCESS, &old));
    expect_false(wheap_virtual_lock(p + 3 * page, page));
    expect_error(WHEAP_ERROR_NOACCESS);
    expect_true(wheap_virtual_protect(p + 3 * page, page, RW | WHEAP_PAGE_GUARD, &old));
    expect_false(wheap_virtual_lock(p + 3 * page, page));
    expect_error(WHEAP_ERROR_NOACCESS);

    /* Decommit drops the lock with the pages; a recommit is not locked. */
    expect_true(wheap_virtual_free(p, page, WHEAP_MEM_DECOMMIT));
    expect_eq_u64(locked() - lck0, vmlck_moves ? page : 0);
    require_true(wheap_virtual_alloc(p, page, WHEAP_MEM_COMMIT, RW) == p);
    expect_false(wheap_virtual_unlock(p, page));
    expect_error(WHEAP_ERROR_NOT_LOCKED);
    expect_true(wheap_virtual_unlock(p + 2 * page, page));
    expect_eq_u64(locked(), lck0);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
