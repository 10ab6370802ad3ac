/*
 * malloc_stats, malloc_info and mallinfo2 report wheap_get_stats's numbers,
 * and those agree with the kernel's.
 *
 * About 200 MiB in mixed sizes (16 B .. 1 KiB, 4 .. 64 KiB, 200 .. 900 KiB,
 * 1 .. 8 MiB), every byte written.  Then:
 *   mallinfo2: arena == committed, uordblks == allocated, fordblks ==
 *     committed - allocated, usmblks == peak committed (nothing allocates
 *     between the two calls);
 *   malloc_info (into a fixed buffer): the totals equal wheap_get_stats's,
 *     the <heap> elements' allocated sizes add up to the total, one per
 *     arena;
 *   malloc_stats: its "in use bytes" total equals allocated;
 *   |VmRSS delta - committed delta| <= 5 % of the committed delta + 4 MiB.
 *     Committed pages that were never touched (a segment's commit frontier
 *     runs up to 1 MiB ahead of its last page, a block's slack up to its
 *     page end) count in committed and not in VmRSS; wheap's own metadata
 *     (page structs, bitmaps: ~0.5 % of data) and the harness's pages count
 *     in VmRSS too: 4 MiB covers a frontier per segment (a handful), 5 %
 *     the slack of the small classes.
 * After every block is freed and malloc_trim(0): committed falls by at
 * least 95 % of what the allocations added, and VmRSS by at least 90 %
 * (RSS keeps what the test itself touched meanwhile).
 */
#include "ops_test.h"

#define TOTAL ((size_t)200 << 20)

static size_t pick(unsigned i)
{
    unsigned r = (i * 2654435761u) >> 8;
    switch (i % 4) {
    case 0: return 16 + r % 1009;
    case 1: return (4u << 10) + r % (60u << 10);
    case 2: return (200u << 10) + r % (700u << 10);
    default: return (1u << 20) + r % (7u << 20);
    }
}

static wheap_stats stats(void)
{
    wheap_stats st = { .size = sizeof st };
    expect_true(wheap_get_stats(NULL, &st));
    return st;
}

static uint64_t xml_total(const char *xml, const char *type)
{
    char key[64];
    snprintf(key, sizeof key, "<total type=\"%s\" size=\"", type);
    /* The last one: the process totals follow the <heap> elements. */
    const char *s = NULL;
    for (const char *t = strstr(xml, key); t; t = strstr(t + 1, key)) s = t;
    return s ? strtoull(s + strlen(key), NULL, 10) : UINT64_MAX;
}

static uint64_t xml_heaps_allocated(const char *xml, unsigned *n)
{
    uint64_t sum = 0;
    *n = 0;
    for (const char *h = strstr(xml, "<heap nr="); h; h = strstr(h + 1, "<heap nr=")) {
        const char *end = strstr(h, "</heap>");
        const char *a = strstr(h, "<total type=\"allocated\" size=\"");
        if (!end || !a || a > end) return UINT64_MAX;
        sum += strtoull(a + strlen("<total type=\"allocated\" size=\""), NULL, 10);
        (*n)++;
    }
    return sum;
}

static int child_stats(void)
{
    void *volatile keep = malloc(3 << 20);
    memset(keep, 1, 3 << 20);
    malloc_stats();
    wheap_stats st = { .size = sizeof st };
    wheap_get_stats(NULL, &st);
    fprintf(stderr, "expect %zu\n", st.allocated);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child_stats();
    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "SKIP: malloc is not wheap's\n");
        return TEST_SKIP;
    }
    /* malloc_stats's total agrees with wheap_get_stats (in a child: it
     * writes to stderr). */
    static char out[16384];
    int status = ops_run_child("--child", NULL, out, sizeof out);
    expect_child_exit(status, 0);
    bool f1, f2;
    uint64_t in_use = ops_field(strstr(out, "Total (") ? strstr(out, "Total (") : out,
                                "in use bytes", "= ", &f1);
    uint64_t expect = ops_field(out, "expect ", "expect ", &f2);
    expect_true(f1 && f2);
    expect_eq_u64(in_use, expect);
    expect_ge_u64(in_use, 3u << 20);

    static char *blocks[4096];
    static char xml[1 << 16];
    FILE *f = fmemopen(xml, sizeof xml - 1, "w");   /* before the snapshots */
    expect_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    malloc_trim(0);
    wheap_stats st0 = stats();
    uint64_t rss0 = test_proc_status("VmRSS");
    size_t total = 0;
    unsigned n = 0;
    while (total < TOTAL && n < 4096) {
        size_t sz = pick(n);
        blocks[n] = malloc(sz);
        expect_not_null(blocks[n]);
        memset(blocks[n], (int)n, sz);
        total += sz;
        n++;
    }
    wheap_stats st1 = stats();
    struct mallinfo2 mi = mallinfo2();
    expect_eq_u64(mi.arena, st1.committed);
    expect_eq_u64(mi.uordblks, st1.allocated);
    expect_eq_u64(mi.fordblks, st1.committed - st1.allocated);
    expect_eq_u64(mi.usmblks, st1.peak_committed);
    expect_ge_u64(st1.allocated, total);

    expect_eq_u64(malloc_info(0, f), 0);
    fflush(f);
    wheap_stats st2 = stats();
    expect_eq_u64(xml_total(xml, "committed"), st2.committed);
    expect_eq_u64(xml_total(xml, "allocated"), st2.allocated);
    expect_eq_u64(xml_total(xml, "reserved"), st2.reserved);
    unsigned heaps;
    expect_eq_u64(xml_heaps_allocated(xml, &heaps), st2.allocated);
    expect_ge_u64(heaps, 1);
    fclose(f);

    uint64_t rss1 = test_proc_status("VmRSS");
    int64_t dc = (int64_t)st1.committed - (int64_t)st0.committed;
    int64_t dr = (int64_t)rss1 - (int64_t)rss0;
    int64_t diff = dc > dr ? dc - dr : dr - dc;
    fprintf(stderr, "%u blocks, %zu bytes: committed +%lld, VmRSS +%lld, |diff| %lld (limit %lld)\n",
            n, total, (long long)dc, (long long)dr, (long long)diff,
            (long long)(dc / 20 + (4 << 20)));
    expect_le_u64((uint64_t)diff, (uint64_t)(dc / 20 + (4 << 20)));

    for (unsigned i = 0; i < n; i++) free(blocks[i]);
    malloc_trim(0);
    wheap_stats st3 = stats();
    uint64_t rss3 = test_proc_status("VmRSS");
    fprintf(stderr, "after free + malloc_trim: committed %zu -> %zu, VmRSS %llu -> %llu kB\n",
            st1.committed, st3.committed, (unsigned long long)rss1 >> 10,
            (unsigned long long)rss3 >> 10);
    expect_le_u64(st3.committed, st0.committed + (uint64_t)dc / 20);
    expect_le_u64(rss3, rss0 + (uint64_t)dr / 10);
    return test_done();
}
