/* VirtualProtect with every protection: what the MMU enforces (checked by
 * faulting in children), what VirtualQuery and /proc/self/maps show, the
 * modifiers NOCACHE and WRITECOMBINE (accepted, reported, no effect), and
 * the first page's previous protection as the answer. */
#include "test.h"
#include <sys/mman.h>
#include <sys/resource.h>

#define G 65536u

static size_t page;

static void do_read(void *p) { (void)*(volatile char *)p; }
static void do_write(void *p) { *(volatile char *)p = 1; }

/* A function made of one return instruction, in the page at p. */
static void put_return(unsigned char *p)
{
#if defined(__x86_64__) || defined(__i386__)
    p[0] = 0xC3;
#elif defined(__aarch64__)
    uint32_t ret = 0xD65F03C0;
    memcpy(p, &ret, 4);
#endif
    __builtin___clear_cache((char *)p, (char *)p + 4);
}

static void do_exec(void *p)
{
    void (*fn)(void);
    memcpy(&fn, &p, sizeof fn);
    fn();
}

/* 1 when fn(p) completes in a child, 0 when it dies of SIGSEGV. */
static int allowed(void (*fn)(void *), void *p)
{
    int st = test_in_child(fn, p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 1;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) return 0;
    test_fail_at(__FILE__, __LINE__, "child ended oddly: status %d", st);
    return -1;
}

int main(void)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    page = (size_t)sysconf(_SC_PAGESIZE);

    struct { uint32_t protect; int r, w, x; const char *perms; } t[] = {
        { WHEAP_PAGE_NOACCESS,          0, 0, 0, "---p" },
        { WHEAP_PAGE_READONLY,          1, 0, 0, "r--p" },
        { WHEAP_PAGE_READWRITE,         1, 1, 0, "rw-p" },
        { WHEAP_PAGE_EXECUTE,           -1, 0, 1, "--xp" },   /* x86 reads exec-only pages */
        { WHEAP_PAGE_EXECUTE_READ,      1, 0, 1, "r-xp" },
        { WHEAP_PAGE_EXECUTE_READWRITE, 1, 1, 1, "rwxp" },
    };
    size_t n = sizeof t / sizeof t[0];
    unsigned char *p = wheap_virtual_alloc(NULL, G, WHEAP_MEM_RESERVE | WHEAP_MEM_COMMIT,
                                           WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    for (size_t i = 0; i < n; i++) {
        unsigned char *q = p + i * page;
        put_return(q);
        q[page - 1] = (unsigned char)i;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char *q = p + i * page;
        uint32_t old = 0;
        expect_true(wheap_virtual_protect(q, 1, t[i].protect, &old));
        expect_eq_u64(old, WHEAP_PAGE_READWRITE);
        wheap_memory_basic_information m;
        expect_eq_u64(wheap_virtual_query(q, &m, sizeof m), sizeof m);
        expect_eq_u64(m.protect, t[i].protect);
        expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
        /* Pages after it are still read-write: the same run for RW. */
        expect_eq_u64(m.region_size, t[i].protect == WHEAP_PAGE_READWRITE ? G - i * page : page);
        expect_eq_u64(m.allocation_protect, WHEAP_PAGE_READWRITE);
        char perms[5];
        expect_true(test_maps_perms(q, perms));
        expect_eq_str(perms, t[i].perms);
        if (t[i].r >= 0) expect_eq_u64(allowed(do_read, q), t[i].r);
        expect_eq_u64(allowed(do_write, q), t[i].w);
#if defined(__x86_64__) || defined(__aarch64__)
        expect_eq_u64(allowed(do_exec, q), t[i].x);
#endif
    }
    /* Protection changes keep the contents. */
    uint32_t old;
    expect_true(wheap_virtual_protect(p, n * page, WHEAP_PAGE_READONLY, &old));
    expect_eq_u64(old, WHEAP_PAGE_NOACCESS);     /* the first page's previous protection */
    for (size_t i = 0; i < n; i++) expect_eq_u64(p[i * page + page - 1], i);

    /* Modifiers: accepted, reported back, the base protection applies. */
    uint32_t mods[] = { WHEAP_PAGE_NOCACHE, WHEAP_PAGE_WRITECOMBINE };
    for (size_t j = 0; j < 2; j++) {
        expect_true(wheap_virtual_protect(p, page, WHEAP_PAGE_READWRITE | mods[j], &old));
        wheap_memory_basic_information m;
        wheap_virtual_query(p, &m, sizeof m);
        expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE | mods[j]);
        expect_eq_u64(m.region_size, page);      /* a run of its own */
        char perms[5];
        expect_true(test_maps_perms(p, perms));
        expect_eq_str(perms, "rw-p");
        p[5] = 9;
        expect_eq_u64(p[5], 9);
        expect_true(wheap_virtual_protect(p, page, WHEAP_PAGE_READONLY, &old));
        expect_eq_u64(old, WHEAP_PAGE_READWRITE | mods[j]);
    }
    /* Commit with a modifier sets it too; committing again replaces it. */
    unsigned char *c = wheap_virtual_alloc(p + 10 * page, page, WHEAP_MEM_COMMIT,
                                           WHEAP_PAGE_EXECUTE_READWRITE | WHEAP_PAGE_NOCACHE);
    expect_eq_ptr(c, p + 10 * page);
    wheap_memory_basic_information m;
    wheap_virtual_query(c, &m, sizeof m);
    expect_eq_u64(m.protect, WHEAP_PAGE_EXECUTE_READWRITE | WHEAP_PAGE_NOCACHE);
    /* Invalid combinations of the modifiers. */
    expect_false(wheap_virtual_protect(c, page, WHEAP_PAGE_NOACCESS | WHEAP_PAGE_NOCACHE, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_false(wheap_virtual_protect(c, page, WHEAP_PAGE_READWRITE | WHEAP_PAGE_NOCACHE |
                                       WHEAP_PAGE_WRITECOMBINE, &old));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
