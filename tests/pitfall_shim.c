/*
 * An LD_PRELOAD shim of the kind users stack with an allocator (tracers,
 * fakeroot-like tools): it wraps open, open64, openat, openat64, fopen, mmap
 * and mmap64, finds the real functions lazily with dlsym(RTLD_NEXT), and
 * allocates inside its wrappers.  Its constructor calls dlsym for a symbol
 * that does not exist and reads dlerror(), which makes glibc malloc the error
 * message: the allocator may be in the middle of its own initialisation then
 * (PITFALLS 1).  Loaded by tests/pitfall_startup.sh, in both orders with
 * libwheap.so.
 *
 * With PITFALL_SHIM_REPORT set, the shim prints how often each wrapper ran
 * at exit, so the test can see it was really in the call path.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off_t);

static unsigned long opens, mmaps, fopens;

/* What a logging shim does per call: copy the argument, format, free. */
static void note_path(const char *what, const char *path)
{
    char *copy = strdup(path ? path : "(null)");
    char *line = NULL;
    if (copy && asprintf(&line, "%s %s", what, copy) < 0) line = NULL;
    free(line);
    free(copy);
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (!real_open) real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    __atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
    note_path("open", path);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (!real_open64) real_open64 = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
    __atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
    note_path("open64", path);
    return real_open64(path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (!real_openat) real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
    __atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
    note_path("openat", path);
    return real_openat(dir, path, flags, mode);
}

int openat64(int dir, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (!real_openat64)
        real_openat64 = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat64");
    __atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
    note_path("openat64", path);
    return real_openat64(dir, path, flags, mode);
}

FILE *fopen(const char *path, const char *mode)
{
    if (!real_fopen) real_fopen = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    __atomic_add_fetch(&fopens, 1, __ATOMIC_RELAXED);
    note_path("fopen", path);
    return real_fopen(path, mode);
}

/* No allocation here (an allocator may call mmap with its locks held), only
 * the lazy lookup that every such shim makes. */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!real_mmap)
        real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    __atomic_add_fetch(&mmaps, 1, __ATOMIC_RELAXED);
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!real_mmap64)
        real_mmap64 = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap64");
    __atomic_add_fetch(&mmaps, 1, __ATOMIC_RELAXED);
    return real_mmap64(addr, len, prot, flags, fd, off);
}

static void report(void)
{
    char line[160];
    int n = snprintf(line, sizeof line, "pitfall_shim: open %lu, fopen %lu, mmap %lu\n", opens,
                     fopens, mmaps);
    if (n > 0 && write(2, line, (size_t)n) < 0) return;
}

__attribute__((constructor)) static void shim_init(void)
{
    /* A failed lookup: glibc mallocs the error text, dlerror frees it. */
    dlerror();
    if (dlsym(RTLD_NEXT, "pitfall_shim_no_such_symbol") == NULL) {
        const char *err = dlerror();
        if (!err) abort();
    }
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    void *p = calloc(16, 64);
    free(p);
    if (getenv("PITFALL_SHIM_REPORT")) atexit(report);
}
