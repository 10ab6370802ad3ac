/*
 * PITFALLS 2 and 18: dlopen of libwheap.so by a process that neither linked
 * nor preloaded it (this program is built without libwheap).
 *
 * glibc wants a replacement malloc to use initial-exec TLS, and initial-exec
 * TLS in a dlopen'ed library has to fit in the static TLS surplus.  So
 * either dlopen works, and the wheap_* API from that library works
 * (wheap_virtual_alloc, wheap_heap_create, the wheap_malloc twins when
 * exported), or dlopen fails with a clear message: dlerror() names the
 * static TLS block.  Never a crash, and glibc's malloc stays in charge
 * before and after.
 *
 * Only LD_PRELOAD or linking with -lwheap replaces malloc (PITFALLS 18): a
 * dlopen'ed libwheap comes after libc in every symbol search, so the
 * program's malloc and free stay glibc's, and blocks from wheap_malloc must
 * go back through wheap_free.  Each attempt runs in a child (RTLD_LOCAL, then
 * RTLD_GLOBAL) so that a crash is reported as such.
 */
#include "test.h"

#include <dlfcn.h>
#include <malloc.h>

enum { CHILD_OK = 0, CHILD_CLEAR_REFUSAL = 10, CHILD_UNCLEAR_REFUSAL = 11 };

static char lib_path[4096];

#define child_check(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
            _exit(1); \
        } \
    } while (0)

/* Is the process-wide `malloc` glibc's? */
static bool malloc_is_libc(void)
{
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    return m && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, "libc.so");
}

static void try_dlopen(void *arg)
{
    int mode = (int)(intptr_t)arg;
    char *before = malloc(1000);
    child_check(before != NULL);
    memset(before, 0x5a, 1000);

    void *h = dlopen(lib_path, RTLD_NOW | mode);
    if (!h) {
        const char *err = dlerror();
        fprintf(stderr, "dlopen(%s) refused: %s\n", lib_path, err ? err : "(no dlerror)");
        _exit(err && strstr(err, "static TLS") ? CHILD_CLEAR_REFUSAL : CHILD_UNCLEAR_REFUSAL);
    }

    const char *(*version)(void) = (const char *(*)(void))dlsym(h, "wheap_version");
    void *(*valloc_)(void *, size_t, uint32_t, uint32_t) =
        (void *(*)(void *, size_t, uint32_t, uint32_t))dlsym(h, "wheap_virtual_alloc");
    bool (*vfree)(void *, size_t, uint32_t) =
        (bool (*)(void *, size_t, uint32_t))dlsym(h, "wheap_virtual_free");
    child_check(version && valloc_ && vfree);
    child_check(!strncmp(version(), "wheap", 5));

    /* Layer 1: reserve and commit, write, release. */
    char *mem = valloc_(NULL, 1 << 20, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE);
    child_check(mem != NULL);
    memset(mem, 7, 1 << 20);
    child_check(vfree(mem, 0, WHEAP_MEM_RELEASE));

    /* Layer 2, where this build has it. */
    void *(*heap_create)(uint32_t, size_t, size_t) =
        (void *(*)(uint32_t, size_t, size_t))dlsym(h, "wheap_heap_create");
    void *(*heap_alloc)(void *, uint32_t, size_t) =
        (void *(*)(void *, uint32_t, size_t))dlsym(h, "wheap_heap_alloc");
    bool (*heap_free)(void *, uint32_t, void *) =
        (bool (*)(void *, uint32_t, void *))dlsym(h, "wheap_heap_free");
    bool (*heap_destroy)(void *) = (bool (*)(void *))dlsym(h, "wheap_heap_destroy");
    if (heap_create && heap_alloc && heap_free && heap_destroy) {
        void *heap = heap_create(0, 0, 0);
        child_check(heap != NULL);
        for (int i = 0; i < 1000; i++) {
            char *b = heap_alloc(heap, 0, (size_t)i * 13 + 1);
            child_check(b != NULL);
            memset(b, 1, (size_t)i * 13 + 1);
            if (i % 2) child_check(heap_free(heap, 0, b));
        }
        child_check(heap_destroy(heap));
    } else {
        fprintf(stderr, "note: no wheap_heap_* in this build: layer 2 not checked\n");
    }

    /* Layer 3 twins, where exported: a family of their own here. */
    void *(*w_malloc)(size_t) = (void *(*)(size_t))dlsym(h, "wheap_malloc");
    void (*w_free)(void *) = (void (*)(void *))dlsym(h, "wheap_free");
    if (w_malloc && w_free) {
        for (size_t n = 1; n < (4u << 20); n = n * 3 + 1) {
            char *b = w_malloc(n);
            child_check(b != NULL);
            memset(b, 2, n);
            w_free(b);
        }
    }

    /* glibc's malloc is still the process allocator, and still works. */
    child_check(malloc_is_libc());
    for (int i = 0; i < 1000; i++) child_check(before[i] == 0x5a);
    free(before);
    for (size_t n = 1; n < (4u << 20); n = n * 2 + 1) {
        char *b = malloc(n);
        child_check(b != NULL);
        memset(b, 3, n);
        free(b);
    }
    dlclose(h);
    _exit(CHILD_OK);
}

int main(void)
{
    const char *top = getenv("top_builddir");
    snprintf(lib_path, sizeof lib_path, "%s/src/.libs/libwheap.so", top ? top : ".");
    if (access(lib_path, R_OK) != 0) test_skip("%s not built (--disable-shared?)", lib_path);
    if (!malloc_is_libc())
        test_skip("this process already has another allocator (LD_PRELOAD?): nothing to check");

    const int modes[] = {RTLD_LOCAL, RTLD_GLOBAL};
    const char *names[] = {"RTLD_LOCAL", "RTLD_GLOBAL"};
    for (int i = 0; i < 2; i++) {
        int status = test_in_child(try_dlopen, (void *)(intptr_t)modes[i]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK) {
            fprintf(stderr, "dlopen(%s): works; the wheap_* API from it works\n", names[i]);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_CLEAR_REFUSAL) {
            fprintf(stderr, "dlopen(%s): refused with a clear message (static TLS)\n", names[i]);
        } else if (WIFSIGNALED(status)) {
            test_fail_at(__FILE__, __LINE__, "dlopen(%s): the process died by signal %d", names[i],
                         WTERMSIG(status));
        } else if (WEXITSTATUS(status) == CHILD_UNCLEAR_REFUSAL) {
            test_fail_at(__FILE__, __LINE__, "dlopen(%s) failed without naming the static TLS block",
                         names[i]);
        } else {
            test_fail_at(__FILE__, __LINE__, "dlopen(%s): check failed in the child (exit %d)",
                         names[i], WEXITSTATUS(status));
        }
    }
    return test_done();
}
