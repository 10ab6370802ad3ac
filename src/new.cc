// C++ operator new and delete in every form, over wheap's malloc layer.
//
// Throwing forms loop on the new-handler as the standard asks and throw
// std::bad_alloc when there is none; nothrow forms return nullptr.  Sized
// and aligned deletes go to the same free: wheap finds everything it needs
// from the pointer.  The C++ runtime is referenced weakly (below), so
// libwheap does not depend on it.  Built only with the malloc override.
#include "config.h"

#ifdef WHEAP_MALLOC_OVERRIDE

#include <cstddef>
#include <cstdlib>
#include <new>
#include <bits/functexcept.h>

#include "wheap.h"

#define WH_EXPORT __attribute__((visibility("default")))

/* libwheap does not link the C++ runtime: a C program preloading wheap
 * would otherwise load libstdc++ and libm (about 1 MB of RSS and their load
 * time per exec) for operators it never calls.  Every runtime symbol used
 * here is a weak reference instead: a C++ program has libstdc++ loaded, so
 * they bind; a C program never reaches them. */
/* The personality routine is named by the unwind tables, not by a call:
 * the assembler is told directly. */
__asm__(".weak __gxx_personality_v0");
namespace std {
__attribute__((weak)) new_handler get_new_handler() noexcept;
__attribute__((weak, noreturn)) void __throw_bad_alloc();
}
extern "C" {
__attribute__((weak)) void *__cxa_begin_catch(void *) noexcept;
__attribute__((weak)) void __cxa_end_catch();
__attribute__((weak)) void _Unwind_Resume(void *);
}

namespace {

[[gnu::noinline]] void *new_slow(std::size_t size, std::size_t align, bool nothrow)
{
    for (;;) {
        void *p = align ? wheap_aligned_alloc(align, size ? size : 1) : wheap_malloc(size);
        if (p) return p;
        /* A weak reference is null where no C++ runtime was linked (a
         * static program that never names these): no handler, and
         * abort for want of a way to throw. */
        std::new_handler handler = &std::get_new_handler ? std::get_new_handler() : nullptr;
        if (!handler) {
            if (nothrow) return nullptr;
            if (&std::__throw_bad_alloc) std::__throw_bad_alloc();
            std::abort();
        }
        if (nothrow) {
            try {
                handler();
            } catch (...) {
                return nullptr;
            }
        } else {
            handler();
        }
    }
}

inline void *new_impl(std::size_t size)
{
    void *p = wheap_malloc(size);
    return __builtin_expect(p != nullptr, 1) ? p : new_slow(size, 0, false);
}

inline void *new_nothrow(std::size_t size) noexcept
{
    void *p = wheap_malloc(size);
    return __builtin_expect(p != nullptr, 1) ? p : new_slow(size, 0, true);
}

inline void *new_aligned(std::size_t size, std::align_val_t al)
{
    void *p = wheap_aligned_alloc(static_cast<std::size_t>(al), size ? size : 1);
    return p ? p : new_slow(size, static_cast<std::size_t>(al), false);
}

inline void *new_aligned_nothrow(std::size_t size, std::align_val_t al) noexcept
{
    void *p = wheap_aligned_alloc(static_cast<std::size_t>(al), size ? size : 1);
    return p ? p : new_slow(size, static_cast<std::size_t>(al), true);
}

} // namespace

WH_EXPORT void *operator new(std::size_t n) { return new_impl(n); }
WH_EXPORT void *operator new[](std::size_t n) { return new_impl(n); }
WH_EXPORT void *operator new(std::size_t n, const std::nothrow_t &) noexcept
{
    return new_nothrow(n);
}
WH_EXPORT void *operator new[](std::size_t n, const std::nothrow_t &) noexcept
{
    return new_nothrow(n);
}
WH_EXPORT void *operator new(std::size_t n, std::align_val_t al) { return new_aligned(n, al); }
WH_EXPORT void *operator new[](std::size_t n, std::align_val_t al) { return new_aligned(n, al); }
WH_EXPORT void *operator new(std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
    return new_aligned_nothrow(n, al);
}
WH_EXPORT void *operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t &) noexcept
{
    return new_aligned_nothrow(n, al);
}

WH_EXPORT void operator delete(void *p) noexcept { wheap_free(p); }
WH_EXPORT void operator delete[](void *p) noexcept { wheap_free(p); }
WH_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept { wheap_free(p); }
WH_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept { wheap_free(p); }
WH_EXPORT void operator delete(void *p, std::size_t n) noexcept { wheap_free_sized(p, n); }
WH_EXPORT void operator delete[](void *p, std::size_t n) noexcept { wheap_free_sized(p, n); }
WH_EXPORT void operator delete(void *p, std::align_val_t) noexcept { wheap_free(p); }
WH_EXPORT void operator delete[](void *p, std::align_val_t) noexcept { wheap_free(p); }
WH_EXPORT void operator delete(void *p, std::size_t n, std::align_val_t al) noexcept
{
    wheap_free_aligned_sized(p, static_cast<std::size_t>(al), n);
}
WH_EXPORT void operator delete[](void *p, std::size_t n, std::align_val_t al) noexcept
{
    wheap_free_aligned_sized(p, static_cast<std::size_t>(al), n);
}
WH_EXPORT void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
    wheap_free(p);
}
WH_EXPORT void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept
{
    wheap_free(p);
}

#endif // WHEAP_MALLOC_OVERRIDE
