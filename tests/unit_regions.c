/* The region table: lookups from any address of a reservation, neighbours,
 * removal, recycling of descriptors, and page-state arrays of every size. */
#include "test.h"
#include "internal.h"

static wh_region *add(uintptr_t base, size_t size)
{
    wh_regions_lock();
    wh_region *r = wh_region_new(base, size);
    require_true(r != NULL);
    require_true(wh_region_insert(r) == 0);
    wh_regions_unlock();
    return r;
}

static void drop(wh_region *r)
{
    wh_regions_lock();
    wh_region_remove(r);
    wh_regions_unlock();
}

int main(void)
{
    size_t page = wh_os_page_size();
    size_t before = wh_region_count();
    /* Addresses only: the table does not care whether anything is mapped. */
    uintptr_t a = (uintptr_t)0x7e0000000000ull, b = a + (5u << 16);
    wh_region *ra = add(a, 3u << 16);
    wh_region *rb = add(b, 1u << 16);
    expect_eq_u64(wh_region_count(), before + 2);

    expect_eq_ptr(wh_region_find(a), ra);
    expect_eq_ptr(wh_region_find(a + 12345), ra);
    expect_eq_ptr(wh_region_find(a + (3u << 16) - 1), ra);
    expect_null(wh_region_find(a + (3u << 16)));
    expect_null(wh_region_find(a - 1));
    expect_eq_ptr(wh_region_find(b + 65535), rb);
    expect_null(wh_region_find(~(uintptr_t)0));
    expect_null(wh_region_find(0));

    wh_regions_lock();
    expect_eq_ptr(wh_region_next(a), ra);
    expect_eq_ptr(wh_region_next(a + 1), rb);
    expect_null(wh_region_next(b + 1));
    wh_regions_unlock();

    /* Inline page state for 64 KiB, a pooled array or a mapping beyond. */
    expect_eq_u64(rb->npages, 65536 / page);
    expect_true(rb->pages == rb->inline_pages);
    expect_true(ra->pages != ra->inline_pages);
    for (size_t i = 0; i < ra->npages; i++) expect_eq_u64(ra->pages[i], 0);

    uint32_t seq = ra->seq;
    expect_eq_u64(seq & 1, 0);
    drop(ra);
    expect_null(wh_region_find(a));
    expect_eq_ptr(wh_region_find(b), rb);
    expect_ne_u64(ra->seq, seq);

    /* A recycled descriptor comes back with clean page state. */
    wh_region *rc = add(a, 3u << 16);
    for (size_t i = 0; i < rc->npages; i++) expect_eq_u64(rc->pages[i], 0);
    drop(rc);
    drop(rb);
    expect_eq_u64(wh_region_count(), before);

    /* A large region (1 GiB) gets a page-state mapping of its own. */
    wh_region *big = add(a, (size_t)1 << 30);
    expect_gt_u64(big->pages_map_size, 0);
    expect_eq_ptr(wh_region_find(a + ((size_t)1 << 30) - 1), big);
    drop(big);
    expect_null(wh_region_find(a + 4096));
    return test_done();
}
