/*
 * mallopt's mappings (README.md, "mallopt"), each by its observable effect:
 *   return values as glibc: 1 for the parameters wheap knows (values in
 *     range), 0 for M_MMAP_THRESHOLD above 32 MiB or negative, a negative
 *     M_TRIM_THRESHOLD, or an unknown parameter;
 *   M_MMAP_THRESHOLD: a 300 KiB block lies in a heap segment (its
 *     allocation base, per wheap_virtual_query, is a 32 MiB-aligned
 *     segment) until the threshold is set to 256 KiB; then it has a
 *     reservation of its own whose base is the page before the block;
 *   M_PERTURB: a fresh block reads the complement of the byte, a freed one
 *     reads the byte past its link word (and a block allocated again reads
 *     the complement again); calloc still returns zeros, small and huge;
 *   M_TRIM_THRESHOLD: with a 256 MiB threshold, 48 MiB of freed large
 *     blocks stay resident across purge delays; set back to 0, the same
 *     activity gives them back (VmRSS falls by at least 32 MiB).
 */
#include "ops_test.h"

void *volatile ops_sink;

static bool all_bytes(const unsigned char *p, size_t from, size_t to, unsigned char v)
{
    for (size_t i = from; i < to; i++)
        if (p[i] != v) return false;
    return true;
}

static void test_returns(void)
{
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, (32 << 20) + 1), 0);
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, -1), 0);
    expect_eq_u64(mallopt(M_TRIM_THRESHOLD, -1), 0);
    expect_eq_u64(mallopt(12345, 1), 0);
    expect_eq_u64(mallopt(M_TOP_PAD, 4096), 1);
    expect_eq_u64(mallopt(M_MMAP_MAX, 65536), 1);
    expect_eq_u64(mallopt(M_ARENA_TEST, 8), 1);
    expect_eq_u64(mallopt(M_MXFAST, 64), 1);
    expect_eq_u64(mallopt(M_ARENA_MAX, 0), 1);   /* glibc: no change */
}

static void test_mmap_threshold(void)
{
    void *a = malloc(300 << 10);
    expect_not_null(a);
    expect_true(mt_in_segment(a));
    expect_false(mt_own_reservation(a));
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, 256 << 10), 1);
    void *b = malloc(300 << 10);
    expect_not_null(b);
    expect_true(mt_own_reservation(b));
    void *c = malloc(200 << 10);   /* below: a segment still */
    expect_true(mt_in_segment(c));
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, 32 << 20), 1);   /* glibc's maximum */
    void *d = malloc(2 << 20);     /* below the clamped 16 MiB */
    expect_true(mt_in_segment(d));
    free(a);
    free(b);
    free(c);
    free(d);
    expect_eq_u64(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
}

/* The address of a block, out of the compiler's sight: reading a freed
 * block is the point here. */
static unsigned char *launder(void *p)
{
    void *volatile v = p;
    return v;
}

static void test_perturb(void)
{
    expect_eq_u64(mallopt(M_PERTURB, 0xA5), 1);
    unsigned char *p = malloc(200);
    expect_not_null(p);
    expect_true(all_bytes(p, 0, 200, 0x5A));
    unsigned char *freed = launder(p);
    free(p);
    /* Past the free-list link (16 bytes), the freed block holds the byte. */
    expect_true(all_bytes(freed, 16, 200, 0xA5));
    unsigned char *q = malloc(200);
    expect_true(all_bytes(q, 0, 200, 0x5A));
    unsigned char *z = calloc(1, 200);
    expect_true(all_bytes(z, 0, 200, 0));
    unsigned char *big = malloc(3 << 20);   /* a fresh huge block */
    expect_true(all_bytes(big, 0, 3 << 20, 0x5A));
    unsigned char *zbig = calloc(1, 3 << 20);
    expect_true(all_bytes(zbig, 0, 3 << 20, 0));
    free(q);
    free(z);
    free(big);
    free(zbig);
    expect_eq_u64(mallopt(M_PERTURB, 0), 1);
    unsigned char *r = malloc(200);
    expect_not_null(r);
    freed = launder(r);
    memset(freed, 7, 200);   /* through freed: a store before free() is not dead */
    free(r);
    expect_true(all_bytes(freed, 16, 200, 7));   /* off again: frees leave blocks alone */
}

/* Slow-path activity spread over time: purges run from slow paths. */
static void churn(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        void *volatile x = malloc(200 << 10);
        free(x);
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void test_trim_threshold(void)
{
    enum { N = 96 };
    static char *blocks[N];
    expect_eq_u64(mallopt(M_TRIM_THRESHOLD, 256 << 20), 1);
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(512 << 10);   /* large pages in segments */
        memset(blocks[i], 1, 512 << 10);
    }
    uint64_t full = test_proc_status("VmRSS");
    for (int i = 0; i < N; i++) free(blocks[i]);
    churn(20);
    uint64_t kept = test_proc_status("VmRSS");
    fprintf(stderr, "trim threshold 256 MiB: VmRSS %llu -> %llu kB\n",
            (unsigned long long)full >> 10, (unsigned long long)kept >> 10);
    expect_ge_u64(kept + (8u << 20), full);
    expect_eq_u64(mallopt(M_TRIM_THRESHOLD, 0), 1);
    /* The next freed slice sets a due time again. */
    void *volatile y = malloc(512 << 10);
    free(y);
    churn(20);
    uint64_t after = test_proc_status("VmRSS");
    fprintf(stderr, "trim threshold 0: VmRSS -> %llu kB\n", (unsigned long long)after >> 10);
    expect_ge_u64(kept, after + (32u << 20));
}

int main(int argc, char **argv)
{
    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "SKIP: malloc is not wheap's\n");
        return TEST_SKIP;
    }
    /* Short delays, so that the trim test waits milliseconds. */
    rerun_with_options(argv, "purge_delay_ms=1,decommit_delay_ms=1");
    (void)argc;
    test_returns();
    test_mmap_threshold();
    test_trim_threshold();
    test_perturb();
    return test_done();
}
