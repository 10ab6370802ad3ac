/*
 * PITFALLS 5: the aligned allocators at their edges.  For every alignment of
 * {0, 1, 3, 8, 16, 24, 4096, 64K, 2M, 2^40, SIZE_MAX/2+1, SIZE_MAX} and every
 * size of {0, 1, a-1, a+1, SIZE_MAX}, posix_memalign, aligned_alloc, memalign,
 * valloc and pvalloc of the process allocator must give the answer glibc's
 * own functions give (reached through libc's handle, which a replacement does
 * not interpose): success or failure, the return code or errno.  glibc 2.36:
 * posix_memalign says EINVAL unless the alignment is a power-of-two multiple
 * of sizeof(void *); aligned_alloc and memalign relay alignments up to 16 to
 * malloc and round other non-powers of two up; alignments above
 * SIZE_MAX/2+1 are EINVAL for them; impossible sizes are ENOMEM.
 *
 * A request that cannot be told apart from an exhausted machine (a terabyte
 * alignment, say) may fail with ENOMEM or succeed, whatever glibc did: a
 * reserving allocator can satisfy what glibc's heap cannot.
 *
 * Every block handed out is checked: aligned as asked (non-powers of two
 * rounded up), usable for its size (written), freed.
 */
#include "malloc_test.h"

enum fn { F_POSIX_MEMALIGN, F_ALIGNED_ALLOC, F_MEMALIGN, F_VALLOC, F_PVALLOC, F_COUNT };
static const char *const fn_name[F_COUNT] = {"posix_memalign", "aligned_alloc", "memalign",
                                             "valloc", "pvalloc"};

typedef struct result {
    void *p;
    int err;     /* 0 when p is a block; else the return code or errno */
} result;

static int (*libc_posix_memalign)(void **, size_t, size_t);
static void *(*libc_aligned_alloc)(size_t, size_t);
static void *(*libc_memalign)(size_t, size_t);
static void *(*libc_valloc)(size_t);
static void *(*libc_pvalloc)(size_t);
static void (*libc_free)(void *);

/* Calls are made through volatile pointers so that the compiler neither
 * folds nor warns about the impossible arguments. */
static int (*volatile my_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile my_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile my_memalign)(size_t, size_t) = memalign;
static void *(*volatile my_valloc)(size_t) = valloc;
static void *(*volatile my_pvalloc)(size_t) = pvalloc;

static result call(enum fn f, bool reference, size_t a, size_t s)
{
    result r = {NULL, 0};
    errno = 0;
    switch (f) {
    case F_POSIX_MEMALIGN: {
        void *out = NULL;
        r.err = reference ? libc_posix_memalign(&out, a, s) : my_posix_memalign(&out, a, s);
        r.p = r.err ? NULL : out;
        if (!r.err && !out) r.err = -1;      /* "success" without a block */
        return r;
    }
    case F_ALIGNED_ALLOC:
        r.p = reference ? libc_aligned_alloc(a, s) : my_aligned_alloc(a, s);
        break;
    case F_MEMALIGN:
        r.p = reference ? libc_memalign(a, s) : my_memalign(a, s);
        break;
    case F_VALLOC:
        r.p = reference ? libc_valloc(s) : my_valloc(s);
        break;
    case F_PVALLOC:
        r.p = reference ? libc_pvalloc(s) : my_pvalloc(s);
        break;
    default:
        break;
    }
    if (!r.p) r.err = errno ? errno : -2;    /* NULL without errno */
    return r;
}

/* The smallest power of two >= a (1 for 0), saturating at 2^63. */
static size_t pow2_ceil(size_t a)
{
    size_t p = 1;
    while (p < a && p < ((size_t)1 << 63)) p <<= 1;
    return p;
}

/* Could this request fail only for want of memory or address space?  Then
 * both answers are right.  Sizes above PTRDIFF_MAX and alignments beyond
 * any user address space are impossible everywhere, not merely here. */
static bool resource_dependent(size_t align, size_t s)
{
    const size_t big = (size_t)1 << 36, limit = (size_t)1 << 56;
    if (s > PTRDIFF_MAX || align > limit) return false;
    return s >= big || align >= big;
}

static const char *err_name(int e)
{
    switch (e) {
    case 0: return "ok";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case -1: return "success with NULL";
    case -2: return "NULL without errno";
    default: return strerror(e);
    }
}

static size_t page_size;
static int cases, flexible;

static void check_block(enum fn f, size_t a, size_t s, void *p)
{
    size_t align;
    switch (f) {
    case F_POSIX_MEMALIGN: align = a; break;
    case F_ALIGNED_ALLOC:
    case F_MEMALIGN: align = pow2_ceil(a); break;
    default: align = page_size; break;
    }
    if ((uintptr_t)p & (align - 1))
        test_fail_at(__FILE__, __LINE__, "%s(%#zx, %#zx) = %p: not %#zx-aligned", fn_name[f], a, s,
                     p, align);
    size_t need = s;
    if (f == F_PVALLOC) need = (s + page_size - 1) & ~(page_size - 1);   /* whole pages */
    size_t usable = malloc_usable_size(p);
    if (usable < need)
        test_fail_at(__FILE__, __LINE__, "%s(%#zx, %#zx): usable size %zu < %zu", fn_name[f], a,
                     s, usable, need);
    if (need <= ((size_t)64 << 20)) {
        memset(p, 0xAB, need);
    } else {      /* a lazily committed giant: touch its ends */
        ((volatile char *)p)[0] = 1;
        ((volatile char *)p)[need - 1] = 1;
    }
    errno = 4321;
    free(p);
    expect_eq_u64(errno, 4321);
}

static void check_case(enum fn f, size_t a, size_t s)
{
    result ref = call(f, true, a, s);
    if (ref.p) libc_free(ref.p);
    result got = call(f, false, a, s);
    size_t align = f == F_POSIX_MEMALIGN ? a : f >= F_VALLOC ? page_size : pow2_ceil(a);
    bool flex = resource_dependent(align, s) && (ref.err == 0 || ref.err == ENOMEM);
    cases++;
    flexible += flex;
    if (flex ? !(got.err == 0 || got.err == ENOMEM) : got.err != ref.err) {
        char args[64];
        if (f >= F_VALLOC) snprintf(args, sizeof args, "size %#zx", s);
        else snprintf(args, sizeof args, "alignment %#zx, size %#zx", a, s);
        test_fail_at(__FILE__, __LINE__, "%s(%s): %s, glibc: %s%s", fn_name[f], args,
                     err_name(got.err), err_name(ref.err), flex ? " (ENOMEM would do)" : "");
    }
    if (got.p) check_block(f, a, s, got.p);
}

int main(void)
{
    libc_posix_memalign = (int (*)(void **, size_t, size_t))mt_libc_sym("posix_memalign");
    libc_aligned_alloc = (void *(*)(size_t, size_t))mt_libc_sym("aligned_alloc");
    libc_memalign = (void *(*)(size_t, size_t))mt_libc_sym("memalign");
    libc_valloc = (void *(*)(size_t))mt_libc_sym("valloc");
    libc_pvalloc = (void *(*)(size_t))mt_libc_sym("pvalloc");
    libc_free = (void (*)(void *))mt_libc_sym("free");
    if (!libc_posix_memalign || !libc_aligned_alloc || !libc_memalign || !libc_valloc ||
        !libc_pvalloc || !libc_free)
        test_skip("glibc's own aligned allocators are not reachable through libc.so.6");
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    fprintf(stderr, "allocator: %s\n", mt_malloc_is_wheap() ? "wheap" : "not wheap");

    const size_t aligns[] = {0,    1,          3,         8,         16,
                             24,   4096,       65536,     2u << 20,  (size_t)1 << 40,
                             SIZE_MAX / 2 + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        size_t a = aligns[i];
        const size_t sizes[] = {0, 1, a - 1, a + 1, SIZE_MAX};
        for (enum fn f = F_POSIX_MEMALIGN; f <= F_MEMALIGN; f++)
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) check_case(f, a, sizes[k]);
    }
    /* valloc and pvalloc take no alignment: the same sizes around pages. */
    const size_t vsizes[] = {0,        1,        4095,          4096,      4097,
                             65535,    65537,    (2u << 20) + 1, (size_t)1 << 40,
                             PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, SIZE_MAX - 4095, SIZE_MAX};
    for (enum fn f = F_VALLOC; f <= F_PVALLOC; f++)
        for (size_t k = 0; k < sizeof vsizes / sizeof vsizes[0]; k++) check_case(f, 0, vsizes[k]);

    fprintf(stderr, "%d cases, %d of them resource-dependent\n", cases, flexible);
    return test_done();
}
