/*
 * PITFALLS 4, C++ side: every form of operator new (plain, array, nothrow,
 * aligned, aligned nothrow, aligned array) hands out blocks of the process
 * allocator: malloc_usable_size sizes them, realloc resizes them, free
 * releases them, as does every matching delete form (plain, array, nothrow,
 * sized, aligned, sized aligned).  An impossible size throws std::bad_alloc
 * from the throwing forms after calling the installed new_handler, and
 * returns nullptr from the nothrow forms after doing the same.
 *
 * (Freeing a new'd block with free is not valid C++; it is done here because
 * libwheap promises, as glibc + libstdc++ do in practice, that all of them
 * are one allocator: API.md "the process heap is the heap behind malloc".)
 */
#include "malloc_test.h"

#include <cstdint>
#include <new>

/* Mixing new with free, and malloc with delete, is the point here. */
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_ptrdiff_max = PTRDIFF_MAX;

enum class form { plain, array, nothrow_plain, nothrow_array, aligned, aligned_array,
                  aligned_nothrow, aligned_nothrow_array };
static const char *const form_name[] = {"new",          "new[]",           "new(nothrow)",
                                        "new[](nothrow)", "new(align)",    "new[](align)",
                                        "new(align, nothrow)", "new[](align, nothrow)"};
enum class release { matching, sized, nothrow, free_, realloc_then_free, count };
static const char *const release_name[] = {"delete", "sized delete", "nothrow delete", "free",
                                           "realloc + free"};

static const size_t sizes[] = {1, 8, 24, 100, 1000, 4096, 4097, 70000, 1500000};
static const size_t aligns[] = {32, 64, 256, 4096, 65536};

static void *allocate(form f, size_t n, size_t a)
{
    std::align_val_t al{a};
    switch (f) {
    case form::plain: return ::operator new(n);
    case form::array: return ::operator new[](n);
    case form::nothrow_plain: return ::operator new(n, std::nothrow);
    case form::nothrow_array: return ::operator new[](n, std::nothrow);
    case form::aligned: return ::operator new(n, al);
    case form::aligned_array: return ::operator new[](n, al);
    case form::aligned_nothrow: return ::operator new(n, al, std::nothrow);
    case form::aligned_nothrow_array: return ::operator new[](n, al, std::nothrow);
    }
    return nullptr;
}

static bool is_aligned_form(form f) { return f >= form::aligned; }
static bool is_array_form(form f)
{
    return f == form::array || f == form::nothrow_array || f == form::aligned_array ||
           f == form::aligned_nothrow_array;
}

static void deallocate(form f, release r, void *p, size_t n, size_t a)
{
    std::align_val_t al{a};
    bool arr = is_array_form(f), ali = is_aligned_form(f);
    switch (r) {
    case release::matching:
        if (ali) arr ? ::operator delete[](p, al) : ::operator delete(p, al);
        else arr ? ::operator delete[](p) : ::operator delete(p);
        return;
    case release::sized:
        if (ali) arr ? ::operator delete[](p, n, al) : ::operator delete(p, n, al);
        else arr ? ::operator delete[](p, n) : ::operator delete(p, n);
        return;
    case release::nothrow:
        if (ali) arr ? ::operator delete[](p, al, std::nothrow) : ::operator delete(p, al, std::nothrow);
        else arr ? ::operator delete[](p, std::nothrow) : ::operator delete(p, std::nothrow);
        return;
    case release::free_:
        free(p);
        return;
    case release::realloc_then_free: {
        void *q = realloc(p, n * 3 + 10);
        if (!q) test_fail_at(__FILE__, __LINE__, "realloc of a %s block failed", form_name[int(f)]);
        else if (mt_check(q, n, n) != n)
            test_fail_at(__FILE__, __LINE__, "realloc of a %s block lost contents", form_name[int(f)]);
        free(q);
        return;
    }
    default:
        return;
    }
}

/* wheap's own operators are in charge (not libstdc++'s over malloc). */
static bool wheap_new;

static void check_roundtrips()
{
    int done = 0;
    for (int fi = 0; fi <= int(form::aligned_nothrow_array); fi++) {
        form f = form(fi);
        size_t naligns = is_aligned_form(f) ? sizeof aligns / sizeof aligns[0] : 1;
        for (size_t ai = 0; ai < naligns; ai++) {
            size_t a = is_aligned_form(f) ? aligns[ai] : alignof(max_align_t);
            for (size_t n : sizes) {
                for (int ri = 0; ri < int(release::count); ri++) {
                    void *p = allocate(f, n, a);
                    if (!p) {
                        test_fail_at(__FILE__, __LINE__, "%s(%zu) = nullptr", form_name[fi], n);
                        continue;
                    }
                    size_t want = a;
                    while (!is_aligned_form(f) && !wheap_new && want > n) want >>= 1;
                    if (reinterpret_cast<uintptr_t>(p) & (want - 1))
                        test_fail_at(__FILE__, __LINE__, "%s(%zu, align %zu) = %p misaligned",
                                     form_name[fi], n, a, p);
                    size_t u = malloc_usable_size(p);
                    if (u < n)
                        test_fail_at(__FILE__, __LINE__, "%s(%zu): malloc_usable_size %zu",
                                     form_name[fi], n, u);
                    mt_fill(p, n, n);
                    void *other = malloc(n);
                    free(other);
                    if (mt_check(p, n, n) != n)
                        test_fail_at(__FILE__, __LINE__, "%s(%zu) block damaged", form_name[fi], n);
                    errno = 777;
                    deallocate(f, release(ri), p, n, a);
                    if (release(ri) != release::realloc_then_free && errno != 777)
                        test_fail_at(__FILE__, __LINE__, "%s after %s: errno %d", release_name[ri],
                                     form_name[fi], errno);
                    done++;
                }
            }
        }
    }
    fprintf(stderr, "%d round trips\n", done);
}

/* Blocks from malloc and friends released by delete: the same allocator. */
static void check_malloc_then_delete()
{
    for (size_t n : sizes) {
        void *p = malloc(n);
        require_true(p != nullptr);
        ::operator delete(p);
        p = calloc(n, 1);
        require_true(p != nullptr);
        ::operator delete[](p, n);
        p = aligned_alloc(64, n);
        require_true(p != nullptr);
        ::operator delete(p, std::align_val_t{64});
    }
}

/* ---- failure: bad_alloc, nothrow, new_handler ---------------------------- */

static int handler_calls;
static int handler_limit;

/* Gives up (uninstalls itself) after handler_limit calls. */
static void counting_handler()
{
    if (++handler_calls >= handler_limit) std::set_new_handler(nullptr);
}

static void throwing_handler()
{
    handler_calls++;
    throw std::bad_alloc();
}

template <class F> static bool throws_bad_alloc(F fn)
{
    try {
        void *p = fn();
        test_fail_at(__FILE__, __LINE__, "an impossible new returned %p", p);
        ::operator delete(p);
        return false;
    } catch (const std::bad_alloc &) {
        return true;
    }
}

static void check_failures()
{
    /* libstdc++ 12's aligned new rounds the size up to the alignment without
     * an overflow check, so SIZE_MAX wraps to 0 and "succeeds": those sizes
     * are demanded of the aligned forms only when wheap's operators run. */
    const size_t huge[] = {v_ptrdiff_max, v_ptrdiff_max + 1, v_size_max / 2 + 1, v_size_max,
                           v_size_max - 64};
    for (size_t n : huge) {
        bool wraps = n > v_size_max - 4096;
        if (wraps && !wheap_new) {
            std::set_new_handler(nullptr);
            expect_true(throws_bad_alloc([n] { return ::operator new(n); }));
            expect_true(throws_bad_alloc([n] { return ::operator new[](n); }));
            expect_null(::operator new(n, std::nothrow));
            expect_null(::operator new[](n, std::nothrow));
            continue;
        }
        std::set_new_handler(nullptr);
        expect_true(throws_bad_alloc([n] { return ::operator new(n); }));
        expect_true(throws_bad_alloc([n] { return ::operator new[](n); }));
        expect_true(throws_bad_alloc([n] { return ::operator new(n, std::align_val_t{64}); }));
        expect_true(throws_bad_alloc([n] { return ::operator new[](n, std::align_val_t{4096}); }));
        expect_null(::operator new(n, std::nothrow));
        expect_null(::operator new[](n, std::nothrow));
        expect_null(::operator new(n, std::align_val_t{128}, std::nothrow));
        expect_null(::operator new[](n, std::align_val_t{128}, std::nothrow));

        /* The handler runs until it gives up, then bad_alloc. */
        handler_calls = 0;
        handler_limit = 3;
        std::set_new_handler(counting_handler);
        expect_true(throws_bad_alloc([n] { return ::operator new(n); }));
        expect_eq_u64(handler_calls, 3);
        handler_calls = 0;
        std::set_new_handler(counting_handler);
        expect_true(throws_bad_alloc([n] { return ::operator new(n, std::align_val_t{256}); }));
        expect_eq_u64(handler_calls, 3);

        /* nothrow: the handler is called too; its bad_alloc becomes nullptr. */
        handler_calls = 0;
        std::set_new_handler(throwing_handler);
        expect_null(::operator new(n, std::nothrow));
        expect_eq_u64(handler_calls, 1);
        handler_calls = 0;
        expect_null(::operator new[](n, std::align_val_t{64}, std::nothrow));
        expect_eq_u64(handler_calls, 1);
        handler_calls = 0;
        handler_limit = 2;
        std::set_new_handler(counting_handler);
        expect_null(::operator new(n, std::nothrow));
        expect_eq_u64(handler_calls, 2);
        std::set_new_handler(nullptr);
    }
    /* And the allocator still works. */
    void *p = ::operator new(100);
    mt_fill(p, 100, 5);
    expect_eq_u64(mt_check(p, 100, 5), 100);
    ::operator delete(p, 100);
}

int main()
{
    wheap_new = mt_defined_by_wheap("_Znwm") && mt_defined_by_wheap("_ZnwmSt11align_val_t");
    fprintf(stderr, "allocator: %s; operator new: %s\n", mt_malloc_is_wheap() ? "wheap" : "not wheap",
            wheap_new ? "wheap's" : "not wheap's");
    check_roundtrips();
    check_malloc_then_delete();
    check_failures();
    return test_done();
}
