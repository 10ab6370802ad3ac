/* VirtualQuery, beyond vm_query: runs split by protection inside one
 * reservation (guard pages show PAGE_GUARD until tripped, modifiers show),
 * the allocation base and protection stay the reservation's; loaded
 * libraries are MEM_IMAGE with their load base as allocation base; a
 * foreign mapping right after one of ours is described as its own. */
#define _GNU_SOURCE
#include "test.h"
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u
#define RW WHEAP_PAGE_READWRITE

static size_t page;

static void expect_run(const char *base, const char *at, size_t size, uint32_t state,
                       uint32_t protect, int line)
{
    wheap_memory_basic_information m;
    if (wheap_virtual_query(at, &m, sizeof m) != sizeof m) {
        test_fail_at(__FILE__, line, "query failed");
        return;
    }
    if (m.region_size != size || m.state != state || m.protect != protect ||
        m.allocation_base != base || m.allocation_protect != WHEAP_PAGE_EXECUTE_READ ||
        m.type != WHEAP_MEM_PRIVATE || (const char *)m.base_address != at)
        test_fail_at(__FILE__, line, "run at +%#zx: size %#zx state %#x protect %#x base %p "
                     "alloc %p/%#x; expected size %#zx state %#x protect %#x",
                     (size_t)(at - base), m.region_size, m.state, m.protect,
                     m.base_address, m.allocation_base, m.allocation_protect,
                     size, state, protect);
}
#define RUN(at, size, state, protect) expect_run(p, at, size, state, protect, __LINE__)

static int quiet(uint32_t s, void *a, void *c) { (void)s; (void)a; (void)c; return 0; }

static void runs(void *arg)
{
    (void)arg;
    test_failures = 0;
    char *p = wheap_virtual_alloc(NULL, 2 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_EXECUTE_READ);
    require_true(p != NULL);
    require_true(wheap_add_exception_handler(0, quiet, NULL) != NULL);
    require_true(wheap_virtual_alloc(p + page, 8 * page, WHEAP_MEM_COMMIT, RW) == p + page);
    uint32_t old;
    require_true(wheap_virtual_protect(p + 3 * page, page, WHEAP_PAGE_READONLY, &old));
    require_true(wheap_virtual_protect(p + 4 * page, 2 * page, RW | WHEAP_PAGE_GUARD, &old));
    require_true(wheap_virtual_protect(p + 6 * page, page, RW | WHEAP_PAGE_WRITECOMBINE, &old));
    require_true(wheap_virtual_protect(p + 7 * page, page, WHEAP_PAGE_EXECUTE_READ, &old));
    /* reserved | RW RW | RO | RW+G RW+G | RW+WC | XR | RW | reserved ... */
    RUN(p, page, WHEAP_MEM_RESERVE, 0);
    RUN(p + page, 2 * page, WHEAP_MEM_COMMIT, RW);
    RUN(p + 2 * page, page, WHEAP_MEM_COMMIT, RW);         /* from inside a run */
    RUN(p + 3 * page, page, WHEAP_MEM_COMMIT, WHEAP_PAGE_READONLY);
    RUN(p + 4 * page, 2 * page, WHEAP_MEM_COMMIT, RW | WHEAP_PAGE_GUARD);
    RUN(p + 6 * page, page, WHEAP_MEM_COMMIT, RW | WHEAP_PAGE_WRITECOMBINE);
    RUN(p + 7 * page, page, WHEAP_MEM_COMMIT, WHEAP_PAGE_EXECUTE_READ);
    RUN(p + 8 * page, page, WHEAP_MEM_COMMIT, RW);
    RUN(p + 9 * page, 2 * G - 9 * page, WHEAP_MEM_RESERVE, 0);
    /* Tripping one guard page splits the guard run. */
    *(volatile char *)(p + 5 * page) = 1;
    RUN(p + 4 * page, page, WHEAP_MEM_COMMIT, RW | WHEAP_PAGE_GUARD);
    RUN(p + 5 * page, page, WHEAP_MEM_COMMIT, RW);
    *(volatile char *)(p + 4 * page) = 1;
    RUN(p + 4 * page, 2 * page, WHEAP_MEM_COMMIT, RW);
    /* Decommit in the middle: a reserved run among committed ones. */
    require_true(wheap_virtual_free(p + 2 * page, page, WHEAP_MEM_DECOMMIT));
    RUN(p + page, page, WHEAP_MEM_COMMIT, RW);
    RUN(p + 2 * page, page, WHEAP_MEM_RESERVE, 0);
    require_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    _exit(test_done());
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);
    expect_child_exit(test_in_child(runs, NULL), 0);

    /* A library loaded now: code and data are MEM_IMAGE, based at the
     * object's load address, allocation protection EXECUTE_WRITECOPY. */
    void *lib = dlopen("libm.so.6", RTLD_NOW);
    if (!lib) lib = dlopen("libz.so.1", RTLD_NOW);
    require_true(lib != NULL);
    void *sym = dlsym(lib, "cos");
    if (!sym) sym = dlsym(lib, "zlibVersion");
    require_true(sym != NULL);
    Dl_info di;
    require_true(dladdr(sym, &di) != 0);
    wheap_memory_basic_information m;
    expect_eq_u64(wheap_virtual_query(sym, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_IMAGE);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.protect, WHEAP_PAGE_EXECUTE_READ);
    expect_eq_ptr(m.allocation_base, di.dli_fbase);
    expect_eq_u64(m.allocation_protect, WHEAP_PAGE_EXECUTE_WRITECOPY);
    /* Every mapping of libc answers with libc's base. */
    Dl_info libc;
    require_true(dladdr((void *)printf, &libc) != 0);
    expect_eq_u64(wheap_virtual_query((void *)printf, &m, sizeof m), sizeof m);
    expect_eq_ptr(m.allocation_base, libc.dli_fbase);
    expect_eq_u64(wheap_virtual_query(libc.dli_fbase, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_IMAGE);
    expect_eq_u64(m.protect, WHEAP_PAGE_READONLY);          /* the ELF header page */
    expect_eq_ptr(m.allocation_base, libc.dli_fbase);

    /* A foreign mapping glued to the end of one of ours (the kernel may
     * merge the two into one maps line): each is described as itself. */
    char *ours = wheap_virtual_alloc(NULL, 2 * G, WHEAP_MEM_RESERVE, RW);
    require_true(ours != NULL);
    require_true(wheap_virtual_free(ours, 0, WHEAP_MEM_RELEASE));
    ours = wheap_virtual_alloc(ours, G, WHEAP_MEM_RESERVE, RW);
    require_true(ours != NULL);
    char *glued = mmap(ours + G, G, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    require_true(glued == ours + G);
    expect_eq_u64(wheap_virtual_query(glued + page, &m, sizeof m), sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_ptr(m.allocation_base, glued);
    expect_eq_ptr(m.base_address, glued + page);
    expect_eq_u64(m.region_size, G - page);
    expect_eq_u64(wheap_virtual_query(ours, &m, sizeof m), sizeof m);
    expect_eq_ptr(m.allocation_base, ours);
    expect_eq_u64(m.region_size, G);
    munmap(glued, G);
    expect_true(wheap_virtual_free(ours, 0, WHEAP_MEM_RELEASE));
    dlclose(lib);
    return test_done();
}
