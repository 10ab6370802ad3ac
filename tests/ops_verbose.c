/*
 * verbose=1: one "wheap: options:" line with every key's value in effect
 * at start, then notable events, each one line: the main thread's arena
 * created, a huge block reserved and (after free and malloc_trim) released,
 * a purge round, a mallopt call.  Without verbose, none of them.
 */
#include "ops_test.h"

void *volatile ops_sink;

static int child(void)
{
    char *p = malloc(8u << 20);   /* a huge block: a reservation of its own */
    if (!p) return 2;
    memset(p, 1, 8u << 20);
    ops_sink = p;
    free(p);
    malloc_trim(0);               /* releases the cached reservation */
    if (mallopt(M_TOP_PAD, 0) != 1) return 3;
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
    int st = ops_run_child("--child", "verbose=1,purge_delay_ms=7", out, sizeof out);
    fputs(out, stderr);
    expect_child_exit(st, 0);
    /* The options line comes first, once, with defaults and the values set. */
    expect_true(strncmp(out, "wheap: options: purge_delay_ms=7,decommit_delay_ms=250,", 55) == 0);
    expect_eq_u64(ops_count(out, "wheap: options: "), 1);
    expect_eq_u64(ops_count(out, ",verbose=1,"), 1);
    expect_eq_u64(ops_count(out, ",arena_max=0,"), 1);
    expect_eq_u64(ops_count(out, ",guard_mode=off,"), 1);
    expect_ge_u64(ops_count(out, "wheap: arena 0x"), 1);
    expect_eq_u64(ops_count(out, " created\n"), ops_count(out, "wheap: arena 0x"));
    expect_eq_u64(ops_count(out, ": huge block 0x"), 2);
    bool found;
    uint64_t kib = ops_field(out, "wheap: heap 0x", "reserved (", &found);
    expect_true(found);
    expect_ge_u64(kib, 8192);
    expect_eq_u64(ops_count(out, " released ("), 1);
    expect_ge_u64(ops_count(out, ": purge (trim): "), 1);
    expect_eq_u64(ops_count(out, "wheap: mallopt(-2, 0) = 1\n"), 1);
    expect_eq_u64(ops_count(out, "wheap: mallopt("), 1);

    st = ops_run_child("--child", "purge_delay_ms=7", out, sizeof out);
    expect_child_exit(st, 0);
    expect_eq_u64(ops_count(out, "wheap:"), 0);
    return test_done();
}
