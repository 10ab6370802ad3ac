/*
 * Guard modes and C++: new, new[], aligned new and their deletes (sized
 * and unsized) on guarded blocks in page mode, with contents checked; the
 * child also frees a guarded block with delete and then shows the pool
 * hands the slot out only after the quarantine (a fresh block is a
 * different address).  Runs as a child with WHEAP_OPTIONS=guard_mode=page.
 */
#include "guard_test.h"

#include <new>

struct alignas(64) Wide {
    unsigned char b[200];
};

static int failures_in_child;
#define child_expect(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures_in_child++; \
        } \
    } while (0)

static bool guarded(const void *p, size_t size, size_t align)
{
    gt_maps s = gt_maps_read();
    bool g = gt_is_guarded(&s, p, size, align);
    gt_maps_free(&s);
    return g;
}

static int run_child()
{
    int *one = new int(42);
    child_expect(guarded(one, sizeof(int), 16));
    child_expect(*one == 42);
    delete one;

    char *arr = new char[1000];
    child_expect(guarded(arr, 1000, 16));
    mt_fill(arr, 1000, 7);
    child_expect(mt_check(arr, 1000, 7) == 1000);
    delete[] arr;

    Wide *w = new Wide;
    child_expect(((uintptr_t)w & 63) == 0);
    child_expect(guarded(w, sizeof(Wide), 64));
    memset(w->b, 3, sizeof w->b);
    delete w;

    Wide *wa = new Wide[5];
    child_expect(((uintptr_t)wa & 63) == 0);
    memset(wa, 4, sizeof(Wide) * 5);
    delete[] wa;

    void *nt = ::operator new(300, std::nothrow);
    child_expect(nt && guarded(nt, 300, 16));
    ::operator delete(nt, std::nothrow);

    void *sized = ::operator new(500);
    child_expect(guarded(sized, 500, 16));
    ::operator delete(sized, static_cast<size_t>(500));

    void *al = ::operator new(4096, std::align_val_t(4096));
    child_expect(((uintptr_t)al & 4095) == 0 && guarded(al, 4096, 4096));
    ::operator delete(al, static_cast<size_t>(4096), std::align_val_t(4096));

    int *again = new int(1);
    child_expect(again != one);      /* the freed slot sits in quarantine */
    delete again;
    return failures_in_child ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--case")) return run_child();
    if (!mt_malloc_is_wheap()) test_skip("malloc is not wheap's");
    gt_outcome o = gt_spawn("cxx", "guard_mode=page");
    char got[64];
    if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0 || o.err[0])
        test_fail_at(__FILE__, __LINE__, "child: %s; stderr: %s",
                     gt_describe(o.status, got, sizeof got), o.err);
    return test_done();
}
