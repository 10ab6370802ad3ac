/*
 * alloc_api: see alloc_api.h.  Every allocator is reached the same way, a
 * call through the table into a small wrapper that calls through one
 * function pointer, so the harness costs each allocator the same.
 */
#define _GNU_SOURCE
#include "alloc_api.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wheap.h"

#define MAX_ALLOCATORS 8

static bench_allocator table[MAX_ALLOCATORS];
static size_t count;

typedef void *(*malloc_fn)(size_t);
typedef void  (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*aligned_fn)(size_t, size_t);

typedef struct malloc_family {
    malloc_fn  malloc;
    free_fn    free;
    calloc_fn  calloc;
    realloc_fn realloc;
    aligned_fn aligned_alloc;
} malloc_family;

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("note: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void add(const bench_allocator *a)
{
    if (count < MAX_ALLOCATORS)
        table[count++] = *a;
}

/* Resolves the five functions, under a name prefix, from a dlsym handle. */
static int family_resolve(void *handle, const char *prefix, malloc_family *f)
{
    char name[64];
#define RESOLVE(field, sym)                                          \
    snprintf(name, sizeof name, "%s%s", prefix, sym);                \
    *(void **)&f->field = dlsym(handle, name);

    RESOLVE(malloc, "malloc")
    RESOLVE(free, "free")
    RESOLVE(calloc, "calloc")
    RESOLVE(realloc, "realloc")
    RESOLVE(aligned_alloc, "aligned_alloc")
#undef RESOLVE
    return f->malloc && f->free && f->calloc && f->realloc;
}

static int family_works(const malloc_family *f)
{
    void *p = f->malloc(16);
    if (p == NULL)
        return 0;
    f->free(p);
    return 1;
}

/* ------------------------------------------------------------------------
 * Malloc families: one set of wrappers per table slot
 * ---------------------------------------------------------------------- */

#define FAMILY_WRAPPERS(tag)                                                          \
    static malloc_family tag##_f;                                                     \
    static void *tag##_alloc(size_t n) { return tag##_f.malloc(n); }                  \
    static void  tag##_release(void *p) { tag##_f.free(p); }                          \
    static void *tag##_zalloc(size_t c, size_t n) { return tag##_f.calloc(c, n); }    \
    static void *tag##_resize(void *p, size_t n) { return tag##_f.realloc(p, n); }    \
    static void *tag##_aligned(size_t a, size_t n) { return tag##_f.aligned_alloc(a, n); }

FAMILY_WRAPPERS(glibc)
FAMILY_WRAPPERS(wheap)
FAMILY_WRAPPERS(peer)

#define FAMILY_ENTRY(tag, label)                                                      \
    (bench_allocator){ label, tag##_alloc, tag##_release, tag##_zalloc, tag##_resize, \
                       tag##_f.aligned_alloc ? tag##_aligned : NULL, NULL, 1 }

/* ------------------------------------------------------------------------
 * wheap private heaps
 * ---------------------------------------------------------------------- */

static struct {
    wheap_heap *(*create)(uint32_t, size_t, size_t);
    bool  (*destroy)(wheap_heap *);
    void *(*alloc)(wheap_heap *, uint32_t, size_t);
    void *(*realloc)(wheap_heap *, uint32_t, void *, size_t);
    bool  (*free)(wheap_heap *, uint32_t, void *);
} hp;

static wheap_heap *heap_noser, *heap_ser;

#define HEAP_WRAPPERS(tag, options)                                                   \
    static void *tag##_alloc(size_t n) { return hp.alloc(tag, 0, n); }                \
    static void  tag##_release(void *p) { hp.free(tag, 0, p); }                       \
    static void *tag##_zalloc(size_t c, size_t n)                                     \
    {                                                                                 \
        size_t total;                                                                 \
        if (__builtin_mul_overflow(c, n, &total))                                     \
            return NULL;                                                              \
        return hp.alloc(tag, WHEAP_HEAP_ZERO_MEMORY, total);                          \
    }                                                                                 \
    static void *tag##_resize(void *p, size_t n)                                      \
    {                                                                                 \
        return p ? hp.realloc(tag, 0, p, n) : hp.alloc(tag, 0, n);                    \
    }                                                                                 \
    static void tag##_release_all(void)                                               \
    {                                                                                 \
        hp.destroy(tag);                                                              \
        tag = hp.create(options, 0, 0);                                               \
        if (tag == NULL)                                                              \
            abort();                                                                  \
    }

HEAP_WRAPPERS(heap_noser, WHEAP_HEAP_NO_SERIALIZE)
HEAP_WRAPPERS(heap_ser, 0)

#define HEAP_ENTRY(tag, label, safe) \
    (bench_allocator){ label, tag##_alloc, tag##_release, tag##_zalloc, tag##_resize, \
                       NULL, tag##_release_all, safe }

static int heap_resolve(void *handle)
{
    *(void **)&hp.create = dlsym(handle, "wheap_heap_create");
    *(void **)&hp.destroy = dlsym(handle, "wheap_heap_destroy");
    *(void **)&hp.alloc = dlsym(handle, "wheap_heap_alloc");
    *(void **)&hp.realloc = dlsym(handle, "wheap_heap_realloc");
    *(void **)&hp.free = dlsym(handle, "wheap_heap_free");
    return hp.create && hp.destroy && hp.alloc && hp.realloc && hp.free;
}

/* A heap whose first block cannot be allocated is not ready to measure. */
static wheap_heap *heap_try(uint32_t options)
{
    wheap_heap *h = hp.create(options, 0, 0);
    if (h == NULL)
        return NULL;
    void *p = hp.alloc(h, 0, 16);
    if (p == NULL || !hp.free(h, 0, p)) {
        hp.destroy(h);
        return NULL;
    }
    return h;
}

/* ------------------------------------------------------------------------
 * Discovery
 * ---------------------------------------------------------------------- */

static const void *object_base(const void *fn)
{
    Dl_info info;
    return fn != NULL && dladdr(fn, &info) ? info.dli_fbase : NULL;
}

static void find_wheap(const char *wheap_lib)
{
    void *handle = RTLD_DEFAULT;

    if (dlsym(RTLD_DEFAULT, "wheap_heap_create") == NULL) {
        if (wheap_lib == NULL || wheap_lib[0] == '\0') {
            note("wheap: no library given (--wheap=PATH or WHEAP_LIB): left out");
            return;
        }
        handle = dlopen(wheap_lib, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL) {
            note("wheap: dlopen failed: %s: left out", dlerror());
            return;
        }
    }
    if (family_resolve(handle, "wheap_", &wheap_f) && family_works(&wheap_f))
        add(&FAMILY_ENTRY(wheap, "wheap"));
    else
        note("wheap: the wheap_malloc family is missing or not working yet: left out");

    if (heap_resolve(handle) && (heap_noser = heap_try(WHEAP_HEAP_NO_SERIALIZE)) != NULL &&
        (heap_ser = heap_try(0)) != NULL) {
        add(&HEAP_ENTRY(heap_noser, "heap-noser", 0));
        add(&HEAP_ENTRY(heap_ser, "heap-ser", 1));
    } else {
        note("wheap: private heaps are missing or not working yet: left out");
    }
}

static void find_preloaded(void)
{
    if (!family_resolve(RTLD_DEFAULT, "", &peer_f))
        return;
    const void *base = object_base((void *)peer_f.malloc);
    if (base == object_base((void *)glibc_f.malloc))
        return;                         /* nothing preloaded */
    if (wheap_f.malloc != NULL && base == object_base((void *)wheap_f.malloc))
        return;                         /* that is wheap, already in the table */

    static char label[64];
    const char *env = getenv("BENCH_PRELOAD_NAME");
    Dl_info info;
    if (env != NULL && env[0] != '\0') {
        snprintf(label, sizeof label, "%s", env);
    } else if (dladdr((void *)peer_f.malloc, &info) && info.dli_fname != NULL) {
        const char *slash = strrchr(info.dli_fname, '/');
        snprintf(label, sizeof label, "%s", slash ? slash + 1 : info.dli_fname);
        label[strcspn(label, ".")] = '\0';
        if (strncmp(label, "lib", 3) == 0)
            memmove(label, label + 3, strlen(label + 3) + 1);
    } else {
        snprintf(label, sizeof label, "preload");
    }
    add(&FAMILY_ENTRY(peer, label));
}

size_t bench_allocators_init(const char *wheap_lib, enum bench_select select)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);

    count = 0;
    if (libc == NULL || !family_resolve(libc, "", &glibc_f)) {
        note("glibc: cannot reach the malloc of libc.so.6: %s", libc ? "symbols missing" : dlerror());
        return 0;
    }
    if (select == BENCH_SELECT_ALL) {
        add(&FAMILY_ENTRY(glibc, "glibc"));
        find_wheap(wheap_lib);
    }
    find_preloaded();
    return count;
}

const bench_allocator *bench_allocator_at(size_t i)
{
    return i < count ? &table[i] : NULL;
}
