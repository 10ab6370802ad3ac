/* wheap_heap_walk: each region (with committed and uncommitted sizes that
 * add up and agree with layer 1), then its busy blocks (exact sizes) and
 * free ranges in address order, covering the committed data without gaps,
 * its uncommitted range, and large blocks last; the end is false with
 * ERROR_NO_MORE_ITEMS. */
#include "heap_test.h"

enum { N = 3000 };
static void *blocks[N];
static size_t sizes[N];
static bool seen[N];

static int find_block(const void *p)
{
    for (int i = 0; i < N; i++)
        if (blocks[i] == p) return i;
    return -1;
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    size_t live = 0;
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i * 71) % 9000 + (i % 500 == 3 ? 600000 : 0) +
                   (i % 1000 == 11 ? (3 << 20) : 0);
        blocks[i] = wheap_heap_alloc(h, 0, sizes[i]);
        require_true(blocks[i] != NULL);
    }
    for (int i = 0; i < N; i += 3) {
        expect_true(wheap_heap_free(h, 0, blocks[i]));
        blocks[i] = NULL;
    }
    for (int i = 0; i < N; i++) live += blocks[i] != NULL;

    wheap_heap_entry e;
    memset(&e, 0, sizeof e);
    size_t regions = 0, busy = 0, large = 0, uncommitted = 0, frees = 0;
    bool in_region = false, after_regions = false, prev_free = false;
    uintptr_t prev_end = 0, region_end = 0;
    while (wheap_heap_walk(h, &e)) {
        uintptr_t a = (uintptr_t)e.data;
        if (e.flags & WHEAP_PROCESS_HEAP_REGION) {
            expect_false(after_regions);
            regions++;
            expect_eq_u64(e.region.committed_size + e.region.uncommitted_size, e.data_size);
            size_t c, r;
            query_reservation(e.data, &c, &r);
            expect_eq_u64(c, e.region.committed_size);
            expect_eq_u64(r, e.data_size);
            expect_true((uintptr_t)e.region.first_block > a);
            expect_true((uintptr_t)e.region.last_block <= a + e.data_size);
            in_region = true;
            prev_free = false;
            prev_end = (uintptr_t)e.region.first_block;
            region_end = (uintptr_t)e.region.last_block;
            /* The first entry of a region starts at its first block. */
            if (!wheap_heap_walk(h, &e)) break;
            expect_eq_u64((uintptr_t)e.data, prev_end);
            a = (uintptr_t)e.data;
        }
        if (e.flags & WHEAP_PROCESS_HEAP_UNCOMMITTED_RANGE) {
            uncommitted++;
            expect_true(in_region);
            expect_ge_u64(a, prev_end);
            if (prev_free) expect_eq_u64(a, prev_end);
            expect_eq_u64(a + e.data_size, region_end);
            wheap_memory_basic_information mbi;
            require_true(wheap_virtual_query(e.data, &mbi, sizeof mbi) == sizeof mbi);
            expect_eq_u64(mbi.state, WHEAP_MEM_RESERVE);
            in_region = false;
            continue;
        }
        /* Blocks of 1 MiB and more are large blocks, after every region. */
        if (e.flags == WHEAP_PROCESS_HEAP_ENTRY_BUSY && e.data_size >= (1u << 20)) in_region = false;
        if (in_region) {
            /* Entries ascend without overlap; free ranges are maximal. */
            expect_ge_u64(a, prev_end);
            if (prev_free) expect_eq_u64(a, prev_end);
            expect_le_u64(a + e.data_size, region_end);
            prev_end = a + e.data_size;
            prev_free = !(e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY);
            if (prev_free) {
                frees++;
                expect_eq_u64(e.flags, 0);
                expect_gt_u64(e.data_size, 0);
            }
        } else if (e.flags == WHEAP_PROCESS_HEAP_ENTRY_BUSY) {
            wheap_memory_basic_information mbi;
            require_true(wheap_virtual_query(e.data, &mbi, sizeof mbi) == sizeof mbi);
            if (e.data_size >= (1u << 20)) {
                after_regions = true;
                large++;
            }
        }
        if (e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY) {
            busy++;
            int i = find_block(e.data);
            if (i < 0) {
                test_fail_at(__FILE__, __LINE__, "walk reports a block never allocated: %p", e.data);
                continue;
            }
            expect_false(seen[i]);
            seen[i] = true;
            expect_eq_u64(e.data_size, sizes[i]);
        }
    }
    expect_error(WHEAP_ERROR_NO_MORE_ITEMS);
    expect_ge_u64(regions, 1);
    expect_eq_u64(busy, live);
    expect_ge_u64(large, 2);
    expect_ge_u64(frees, 1);
    expect_ge_u64(uncommitted, 1);
    for (int i = 0; i < N; i++)
        if (blocks[i] && !seen[i]) test_fail_at(__FILE__, __LINE__, "block %d not walked", i);

    /* A walk entry that was never handed out is refused. */
    memset(&e, 0, sizeof e);
    int local;
    e.data = &local;
    e.flags = WHEAP_PROCESS_HEAP_ENTRY_BUSY;
    expect_false(wheap_heap_walk(h, &e));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* An empty heap: a region, its free space or uncommitted range, the end. */
    wheap_heap *empty = wheap_heap_create(0, 0, 0);
    require_true(empty != NULL);
    memset(&e, 0, sizeof e);
    size_t n = 0;
    while (wheap_heap_walk(empty, &e)) {
        expect_eq_u64(e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY, 0);
        n++;
    }
    expect_error(WHEAP_ERROR_NO_MORE_ITEMS);
    expect_ge_u64(n, 2);
    expect_true(wheap_heap_destroy(empty));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
