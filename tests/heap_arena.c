/* The engine's API for the malloc layer (unit test: internal functions):
 * arenas, the inline fast paths, frees from other threads (lock-free, then
 * collected by the owner), bad pointers of every kind, abandon and adopt,
 * aligned blocks, in-place resizing, and the size classes' bounded waste. */
#include "internal.h"
#include "heap_test.h"
#include <pthread.h>

enum { N = 20000 };
static void *blocks[N];
static size_t sizes[N];

typedef struct remote_job {
    void  **blocks;
    size_t  from, to;
    int     bad;
} remote_job;

static void *remote_free_range(void *arg)
{
    remote_job *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        if (wh_heap_block_free(j->blocks[i]) != WH_BLOCK_OK) j->bad++;
    /* Freed twice, from here too (a small block: a huge one may be gone). */
    if (j->to > j->from + 1 && wh_heap_block_free(j->blocks[j->from + 1]) != WH_BAD_DOUBLE_FREE)
        j->bad++;
    return NULL;
}

static wh_heap *exiting_arena;
static void *exiting_blocks[1000];

static void *short_thread(void *arg)
{
    (void)arg;
    wh_heap *h = wh_heap_arena_adopt();
    if (!h) h = wh_heap_new_arena();
    exiting_arena = h;
    for (int i = 0; i < 1000; i++) exiting_blocks[i] = wh_heap_arena_alloc(h, (size_t)i * 3);
    wh_heap_arena_abandon(h);
    return NULL;
}

static void *adopter(void *arg)
{
    wh_heap **out = arg;
    *out = wh_heap_arena_adopt();
    if (*out)
        for (int i = 0; i < 5000; i++) {
            void *p = wh_heap_arena_alloc(*out, 64);
            if (!p || wh_heap_block_free(p) != WH_BLOCK_OK) *out = NULL;
            if (!*out) break;
        }
    return NULL;
}

static void check_size_classes(void)
{
    size_t prev = 0;
    for (unsigned b = 1; b <= WH_BIN_SMALL_MAX; b++) {
        size_t bs = wh_heap_bin_size(b);
        expect_gt_u64(bs, prev);
        expect_eq_u64(bs % 16, 0);
        expect_eq_u64(wh_bin_of(bs), b);
        prev = bs;
    }
    expect_eq_u64(prev, WH_SMALL_MAX);
    for (size_t s = 0; s <= WH_SMALL_MAX; s += s < 4096 ? 1 : 61) {
        size_t bs = wh_heap_bin_size(wh_bin_of(s));
        expect_ge_u64(bs, s);
        /* Waste bounded: a quarter of the request (16 bytes for tiny ones). */
        if (s > 128) expect_le_u64(bs - s, s / 4);
        else expect_lt_u64(bs - s, 16 + (s == 0 ? 1 : 0));
    }
}

int main(void)
{
    check_size_classes();
    wh_heap *h = wh_heap_new_arena();
    require_true(h != NULL);

    for (size_t i = 0; i < N; i++) {
        sizes[i] = i % 100 == 0 ? (size_t)(i * 977) % 3000000 : (size_t)(i * 37) % 2000;
        blocks[i] = wh_heap_arena_alloc(h, sizes[i]);
        require_true(blocks[i] != NULL);
        expect_eq_u64((uintptr_t)blocks[i] & 15, 0);
        expect_ge_u64(wh_heap_block_usable_size(blocks[i]), sizes[i]);
        expect_eq_ptr(wh_heap_block_heap(blocks[i]), h);
        pattern_fill(blocks[i], sizes[i], (unsigned)i);
    }

    /* Bad pointers: a code, nothing changes. */
    static _Alignas(16) char local[64];
    expect_eq_u64(wh_heap_block_free(local), WH_BAD_FOREIGN);
    expect_eq_u64(wh_heap_block_free((void *)8), WH_BAD_FOREIGN);
    expect_eq_u64(wh_heap_block_usable_size(local), 0);
    for (size_t i = 1; i < N; i += 97) {
        if (sizes[i] >= 32) expect_eq_u64(wh_heap_block_free((char *)blocks[i] + 16), WH_BAD_INTERIOR);
        expect_eq_u64(wh_heap_block_free((char *)blocks[i] + 1), WH_BAD_INTERIOR);
        expect_eq_u64(wh_heap_block_check(blocks[i]), WH_BLOCK_OK);
    }

    /* The first half is freed by two other threads, the rest by the owner. */
    remote_job j1 = { blocks, 0, N / 4, 0 }, j2 = { blocks, N / 4, N / 2, 0 };
    pthread_t t1, t2;
    require_true(pthread_create(&t1, NULL, remote_free_range, &j1) == 0);
    require_true(pthread_create(&t2, NULL, remote_free_range, &j2) == 0);
    for (size_t i = N / 2; i < N; i++) {
        if (!pattern_ok(blocks[i], sizes[i], (unsigned)i))
            test_fail_at(__FILE__, __LINE__, "block %zu damaged", i);
        expect_eq_u64(wh_heap_block_free(blocks[i]), WH_BLOCK_OK);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    expect_eq_u64(j1.bad + j2.bad, 0);
    for (size_t i = 0; i < N; i += 101) expect_eq_u64(wh_heap_block_free(blocks[i]), WH_BAD_DOUBLE_FREE);

    /* The owner collects the remote frees: the memory is reused. */
    wh_heap_arena_collect(h, false);
    wh_heap_counters c, c2;
    wh_heap_counters_get(h, &c);
    expect_lt_u64(c.allocated, 1 << 20);
    for (size_t i = 0; i < 2000; i++) {
        blocks[i] = wh_heap_arena_alloc(h, sizes[i] % 100000);
        require_true(blocks[i] != NULL);
    }
    wh_heap_counters_get(h, &c2);
    /* Reuse means no growth past the earlier high-water mark.  (Not the
     * committed count itself: on a loaded machine the purge delays can run
     * out between the frees and c, and the slices are then committed
     * again; that is reuse too.) */
    expect_le_u64(c2.peak_committed, c.peak_committed + (1 << 20));
    for (size_t i = 0; i < 2000; i++) expect_eq_u64(wh_heap_block_free(blocks[i]), WH_BLOCK_OK);
    expect_true(wh_heap_check_all(h));

    /* Aligned blocks. */
    for (size_t a = 32; a <= ((size_t)4 << 20); a <<= 1) {
        size_t szs[] = { 1, a - 1, a + 1, 3 * a, 100000 };
        for (size_t k = 0; k < 5; k++) {
            void *p = wh_heap_arena_alloc_aligned(h, a, szs[k]);
            require_true(p != NULL);
            expect_eq_u64((uintptr_t)p & (a - 1), 0);
            expect_ge_u64(wh_heap_block_usable_size(p), szs[k]);
            memset(p, 1, szs[k]);
            expect_eq_u64(wh_heap_block_free(p), WH_BLOCK_OK);
        }
    }

    /* In place: within the class, into following slices, into headroom. */
    void *s = wh_heap_arena_alloc(h, 20);
    expect_true(wh_heap_block_resize_in_place(s, 32));
    expect_false(wh_heap_block_resize_in_place(s, 5000));
    wh_heap_block_free(s);
    void *l = wh_heap_arena_alloc(h, 200000);
    require_true(l != NULL);
    memset(l, 7, 200000);
    if (wh_heap_block_resize_in_place(l, 500000)) {
        expect_ge_u64(wh_heap_block_usable_size(l), 500000);
        memset(l, 8, 500000);
    }
    wh_heap_block_free(l);
    /* (No cached huge block left over: the next one is fresh.) */
    wh_heap_arena_collect(h, true);
    void *hg = wh_heap_arena_alloc(h, 4 << 20);
    require_true(hg != NULL);
    expect_true(wh_heap_block_is_fresh(hg, 4 << 20));
    memset(hg, 1, 4 << 20);
    /* An arena's huge block has headroom to grow into. */
    expect_true(wh_heap_block_resize_in_place(hg, 5 << 20));
    if (wh_heap_block_usable_size(hg) >= (5u << 20)) memset(hg, 2, 5 << 20);
    wh_heap_block_free(hg);
    expect_false(wh_heap_block_is_fresh(local, 1));

    /* A thread that exits abandons its arena; its blocks can still be
     * freed from here; a new thread adopts it. */
    pthread_t t;
    require_true(pthread_create(&t, NULL, short_thread, NULL) == 0);
    pthread_join(t, NULL);
    require_true(exiting_arena != NULL);
    for (int i = 0; i < 1000; i++) expect_eq_u64(wh_heap_block_free(exiting_blocks[i]), WH_BLOCK_OK);
    wh_heap *adopted = NULL;
    require_true(pthread_create(&t, NULL, adopter, &adopted) == 0);
    pthread_join(t, NULL);
    expect_eq_ptr(adopted, exiting_arena);
    expect_true(wh_heap_trim_all());
    return test_done();
}
