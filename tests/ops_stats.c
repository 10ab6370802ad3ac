/*
 * stats=1: at exit, wheap prints its statistics on stderr.  A child keeps
 * 48 MiB of touched blocks (small, large and huge) live until it returns
 * from main; its report must hold the process totals, the arenas line,
 * VmRSS/VmHWM and one row per arena, with numbers that agree with what it
 * allocated:
 *   allocated in [48 MiB, 48 MiB + 2 MiB] (a block counts its usable size:
 *     a 240 KiB block's page is 256 KiB, 1 MiB more in all);
 *   reserved >= committed >= allocated, peak committed >= committed;
 *   VmRSS >= 48 MiB (every block was touched) and VmHWM >= VmRSS;
 *   the main arena's row holds at least the 48 MiB.
 * Without stats=1 the same child prints nothing.
 */
#include "ops_test.h"

#define KEEP_MIB 48

void *volatile ops_sink;

static int child(void)
{
    /* 1 MiB of 64-byte blocks, 15 MiB of 240 KiB blocks, 32 MiB in four
     * huge blocks: all touched, all live at exit. */
    size_t small = 64, n_small = (1u << 20) / small;
    for (size_t i = 0; i < n_small; i++) {
        char *p = malloc(small);
        if (!p) return 2;
        memset(p, 1, small);
        ops_sink = p;
    }
    size_t large = 240u << 10, n_large = (15u << 20) / large;
    size_t large_total = 0;
    for (size_t i = 0; i < n_large; i++) {
        char *p = malloc(large);
        if (!p) return 2;
        memset(p, 2, large);
        large_total += large;
        ops_sink = p;
    }
    /* Top up to exactly 16 MiB below the huge blocks. */
    size_t rest = (15u << 20) - large_total;
    if (rest) {
        char *p = malloc(rest);
        if (!p) return 2;
        memset(p, 3, rest);
        ops_sink = p;
    }
    for (int i = 0; i < 4; i++) {
        char *p = malloc(8u << 20);
        if (!p) return 2;
        memset(p, 4, 8u << 20);
        ops_sink = p;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child();
    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "SKIP: malloc is not wheap's\n");
        return TEST_SKIP;
    }
    static char out[65536];
    int st = ops_run_child("--child", "stats=1", out, sizeof out);
    expect_child_exit(st, 0);
    fputs(out, stderr);
    expect_eq_u64(ops_count(out, "wheap: stats: pid "), 1);

    const char *tot = "wheap: stats: reserved ";
    bool f1, f2, f3, f4, f5;
    uint64_t reserved = ops_field(out, tot, "reserved ", &f1);
    uint64_t committed = ops_field(out, tot, "committed ", &f2);
    uint64_t allocated = ops_field(out, tot, "allocated ", &f3);
    uint64_t peak = ops_field(out, tot, "peak committed ", &f4);
    (void)ops_field(out, tot, "reset ", &f5);
    expect_true(f1 && f2 && f3 && f4 && f5);
    const uint64_t keep = (uint64_t)KEEP_MIB << 20;
    expect_ge_u64(allocated, keep);
    expect_le_u64(allocated, keep + (2u << 20));
    expect_ge_u64(committed, allocated);
    expect_ge_u64(reserved, committed);
    expect_ge_u64(peak, committed);

    uint64_t arenas = ops_field(out, "wheap: stats: heaps ", "arenas ", &f1);
    expect_true(f1);
    expect_ge_u64(arenas, 1);

    uint64_t rss = ops_field(out, "wheap: stats: VmRSS", "VmRSS ", &f1);
    uint64_t hwm = ops_field(out, "wheap: stats: VmRSS", "VmHWM ", &f2);
    expect_true(f1 && f2);
    expect_ge_u64(rss * 1024, keep);
    expect_ge_u64(hwm, rss);

    /* The main thread's arena row carries the blocks. */
    uint64_t row = ops_field(out, "wheap: stats: arena ", "allocated ", &f1);
    expect_true(f1);
    expect_ge_u64(row, keep);
    expect_le_u64(row, allocated);
    /* A row per arena, no more than the report's bound. */
    expect_eq_u64(ops_count(out, "wheap: stats: arena ") + ops_count(out, "wheap: stats: abandoned ") +
                      ops_count(out, "wheap: stats: shared "),
                  arenas < 16 ? arenas : 16);

    st = ops_run_child("--child", NULL, out, sizeof out);
    expect_child_exit(st, 0);
    expect_eq_u64(ops_count(out, "wheap: stats:"), 0);
    return test_done();
}
