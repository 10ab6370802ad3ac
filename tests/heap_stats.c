/* wheap_get_stats: a heap's reserved and committed bytes are what layer 1
 * reports for its reservations (wheap_virtual_query), allocated follows the
 * live blocks, and the whole process's figures cover every heap; the size
 * field limits what is written. */
#include "heap_test.h"

static void check_agrees(wheap_heap *h)
{
    wheap_stats st = { .size = sizeof st };
    require_true(wheap_get_stats(h, &st));
    size_t qc, qr;
    query_heap(h, &qc, &qr);
    expect_eq_u64(st.committed, qc);
    expect_eq_u64(st.reserved, qr);
    expect_le_u64(st.committed, st.reserved);
    expect_ge_u64(st.peak_committed, st.committed);
    expect_eq_u64(st.heaps, 1);
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    wheap_heap *f = wheap_heap_create(0, 0, 24 << 20);
    require_true(h && f);
    check_agrees(h);
    check_agrees(f);

    wheap_stats st = { .size = sizeof st };
    static void *blocks[4000];
    size_t want = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = (size_t)(i * 131) % 20000 + (i % 997 == 5 ? (2 << 20) : 0);
        blocks[i] = wheap_heap_alloc(h, 0, n);
        require_true(blocks[i] != NULL);
        want += n;
        void *q = wheap_heap_alloc(f, 0, n % 3000);
        require_true(q != NULL);
    }
    check_agrees(h);
    check_agrees(f);
    require_true(wheap_get_stats(h, &st));
    /* Usable sizes: at least what was asked, at most a class's slack more. */
    expect_ge_u64(st.allocated, want);
    expect_le_u64(st.allocated, want + want / 3 + (64 << 10));
    size_t allocated_full = st.allocated;

    for (int i = 0; i < 4000; i += 2) expect_true(wheap_heap_free(h, 0, blocks[i]));
    require_true(wheap_get_stats(h, &st));
    expect_lt_u64(st.allocated, allocated_full);
    check_agrees(h);
    wheap_heap_compact(h, 0);
    check_agrees(h);
    require_true(wheap_get_stats(h, &st));
    expect_le_u64(st.reset, st.committed);

    /* The whole process: layer 1's counters and every heap. */
    wheap_stats all = { .size = sizeof all }, one = { .size = sizeof one };
    require_true(wheap_get_stats(NULL, &all));
    require_true(wheap_get_stats(h, &one));
    expect_ge_u64(all.reserved, one.reserved);
    expect_ge_u64(all.committed, one.committed);
    expect_ge_u64(all.allocated, one.allocated);
    expect_ge_u64(all.heaps, 3);   /* h, f and the process heap */
    size_t n = wheap_get_process_heaps(0, NULL);
    expect_eq_u64(all.heaps, n);

    /* Only the fields the caller's size covers are written. */
    struct { wheap_stats st; size_t canary; } small;
    memset(&small, 0x77, sizeof small);
    small.st.size = offsetof(wheap_stats, committed);
    require_true(wheap_get_stats(h, &small.st));
    expect_eq_u64(small.st.reserved, one.reserved);
    expect_eq_u64(small.st.committed, 0x7777777777777777u);
    expect_eq_u64(small.canary, 0x7777777777777777u);
    expect_false(wheap_get_stats(h, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    int local;
    expect_false(wheap_get_stats((wheap_heap *)&local, &st));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);

    expect_true(wheap_heap_destroy(h));
    expect_true(wheap_heap_destroy(f));
    require_true(wheap_get_stats(NULL, &st));
    expect_eq_u64(st.heaps, n - 2);
    return test_done();
}
