/* GetWriteWatch / ResetWriteWatch: written pages in ascending order at page
 * granularity, reset through the flag or the call, partial resets, a
 * buffer smaller than the list (the first pages, and with the reset flag
 * only those are reset), protection changes that do not matter, pages
 * committed later, and decommitted pages that stay listed. */
#include "win32_test.h"

#define SIZE ((size_t)65536)

static void *res[512];

static size_t get(uint32_t flags, char *base, size_t size, size_t cap)
{
    size_t count = cap;
    uint32_t gran = 0;
    memset(res, 0, sizeof res);
    uint32_t r = wheap_get_write_watch(flags, base, size, res, &count, &gran);
    if (r != 0) {
        test_fail_at(__FILE__, __LINE__, "GetWriteWatch failed: %u", wheap_get_last_error());
        return 0;
    }
    expect_eq_u64(gran, page_size());
    return count;
}

int main(void)
{
    size_t ps = page_size();
    char *base = ww_alloc(SIZE, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    wheap_memory_basic_information mi = query(base);
    expect_eq_u64(mi.region_size, SIZE);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(mi.type, WHEAP_MEM_PRIVATE);

    expect_eq_u64(get(0, base, SIZE, 64), 0);
    base[ps + 1] = 0x44;
    expect_eq_u64(get(0, base, SIZE, 64), 1);
    expect_eq_ptr(res[0], base + ps);
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET, base, SIZE, 64), 1);
    expect_eq_ptr(res[0], base + ps);
    expect_eq_u64(get(0, base, SIZE, 64), 0);

    base[2 * ps + 3] = 0x11;
    base[4 * ps + 8] = 0x11;
    expect_eq_u64(get(0, base, SIZE, 64), 2);
    expect_eq_ptr(res[0], base + 2 * ps);
    expect_eq_ptr(res[1], base + 4 * ps);
    /* A sub-range, given by an unaligned address. */
    expect_eq_u64(get(0, base + 3 * ps + 5, 2 * ps - 5, 64), 1);
    expect_eq_ptr(res[0], base + 4 * ps);

    /* Partial reset. */
    expect_eq_u64(wheap_reset_write_watch(base, 3 * ps), 0);
    expect_eq_u64(get(0, base, SIZE, 64), 1);
    expect_eq_ptr(res[0], base + 4 * ps);

    /* A write across a page boundary marks both pages. */
    uint32_t word = 0xdeadbeef;
    memcpy(base + 2 * ps - 2, &word, sizeof word);
    expect_eq_u64(get(0, base, SIZE, 64), 3);
    expect_eq_ptr(res[0], base + ps);
    expect_eq_ptr(res[1], base + 2 * ps);
    expect_eq_ptr(res[2], base + 4 * ps);

    /* A buffer of one: the first page, and only it is reset. */
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET, base, SIZE, 1), 1);
    expect_eq_ptr(res[0], base + ps);
    expect_eq_u64(get(0, base, SIZE, 64), 2);
    expect_eq_ptr(res[0], base + 2 * ps);
    expect_eq_ptr(res[1], base + 4 * ps);
    /* Without the flag, a short buffer gets the first pages and resets none. */
    expect_eq_u64(get(0, base, SIZE, 1), 1);
    expect_eq_ptr(res[0], base + 2 * ps);
    expect_eq_u64(get(0, base, SIZE, 64), 2);

    /* Protection changes do not affect the watch. */
    uint32_t old;
    expect_true(wheap_virtual_protect(base, 3 * ps, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(old, WHEAP_PAGE_READWRITE);
    expect_true(wheap_virtual_protect(base, 3 * ps, WHEAP_PAGE_READWRITE, &old));
    expect_eq_u64(get(0, base, SIZE, 64), 2);
    mi = query(base);
    expect_eq_u64(mi.region_size, SIZE);
    expect_eq_u64(mi.protect, WHEAP_PAGE_READWRITE);

    /* Every page: ascending order, and the reset flag empties the list. */
    memset(base, 1, SIZE);
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET, base, SIZE, 64), SIZE / ps);
    for (size_t i = 0; i < SIZE / ps; i++) expect_eq_ptr(res[i], base + i * ps);
    expect_eq_u64(get(0, base, SIZE, 64), 0);
    /* Reads do not count. */
    volatile char sink = 0;
    for (size_t i = 0; i < SIZE; i += ps) sink = (char)(sink + base[i]);
    expect_eq_u64(get(0, base, SIZE, 64), 0);
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));

    /* Reserve now, commit later (PAGE_NOACCESS: the initial protection does
     * not matter), write through a changed protection, decommit: the
     * decommitted written page stays listed. */
    base = ww_alloc(SIZE, WHEAP_MEM_RESERVE, WHEAP_PAGE_NOACCESS);
    expect_eq_u64(get(0, base, SIZE, 64), 0);
    expect_eq_ptr(wheap_virtual_alloc(base, SIZE, WHEAP_MEM_COMMIT, WHEAP_PAGE_NOACCESS), base);
    expect_eq_u64(get(0, base, SIZE, 64), 0);
    expect_true(wheap_virtual_protect(base, 6 * ps, WHEAP_PAGE_READWRITE, &old));
    base[5 * ps + 200] = 3;
    expect_true(wheap_virtual_protect(base, 6 * ps, WHEAP_PAGE_NOACCESS, &old));
    expect_eq_u64(get(0, base, SIZE, 64), 1);
    expect_eq_ptr(res[0], base + 5 * ps);
    expect_true(wheap_virtual_free(base, SIZE, WHEAP_MEM_DECOMMIT));
    expect_eq_u64(get(0, base, SIZE, 64), 1);
    expect_eq_ptr(res[0], base + 5 * ps);
    /* Recommitted pages are tracked again, and merge with the kept one. */
    expect_eq_ptr(wheap_virtual_alloc(base, SIZE, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE), base);
    expect_eq_u64(base[5 * ps + 200], 0);
    base[ps] = 1;
    base[9 * ps] = 1;
    expect_eq_u64(get(0, base, SIZE, 64), 3);
    expect_eq_ptr(res[0], base + ps);
    expect_eq_ptr(res[1], base + 5 * ps);
    expect_eq_ptr(res[2], base + 9 * ps);
    expect_eq_u64(get(0, base, SIZE, 2), 2);
    expect_eq_ptr(res[1], base + 5 * ps);
    expect_eq_u64(wheap_reset_write_watch(base + 5 * ps, 1), 0);
    expect_eq_u64(get(0, base, SIZE, 64), 2);
    expect_eq_ptr(res[1], base + 9 * ps);
    /* MEM_RESET keeps the record too. */
    expect_eq_ptr(wheap_virtual_alloc(base, SIZE, WHEAP_MEM_RESET, WHEAP_PAGE_READWRITE), base);
    expect_eq_u64(get(WHEAP_WRITE_WATCH_FLAG_RESET, base, SIZE, 64), 2);
    expect_eq_u64(get(0, base, SIZE, 64), 0);
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));

    /* A large region: many runs, more pages than one scan returns. */
    size_t big = (size_t)64 << 20, npages = big / ps;
    base = ww_alloc(big, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    size_t written = 0;
    for (size_t i = 0; i < npages; i += 3) {
        base[i * ps] = 1;
        written++;
    }
    static void *many[1 << 15];
    size_t count = sizeof many / sizeof many[0];
    uint32_t gran;
    expect_eq_u64(wheap_get_write_watch(0, base, big, many, &count, &gran), 0);
    expect_eq_u64(count, written);
    size_t bad = 0;
    for (size_t k = 0; k < count; k++) bad += many[k] != base + 3 * k * ps;
    expect_eq_u64(bad, 0);
    count = 1000;
    expect_eq_u64(wheap_get_write_watch(WHEAP_WRITE_WATCH_FLAG_RESET, base, big, many, &count,
                                        &gran), 0);
    expect_eq_u64(count, 1000);
    expect_eq_ptr(many[999], base + 3 * 999 * ps);
    count = sizeof many / sizeof many[0];
    expect_eq_u64(wheap_get_write_watch(0, base, big, many, &count, &gran), 0);
    expect_eq_u64(count, written - 1000);
    expect_eq_ptr(many[0], base + 3 * 1000 * ps);
    expect_true(wheap_virtual_free(base, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
