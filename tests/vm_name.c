/* wheap's mappings carry the name "wheap" in /proc/self/maps
 * (PR_SET_VMA_ANON_NAME): reserved, committed and decommitted ranges alike.
 * Skipped where the kernel cannot name anonymous mappings. */
#include "test.h"
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define G 65536u

/* The path column of the maps line covering addr. */
static bool maps_name(const void *addr, char *name, size_t cap)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;
    if (!f) return false;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        int off = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &s, &e, &off) >= 2 &&
            (uintptr_t)addr >= s && (uintptr_t)addr < e) {
            snprintf(name, cap, "%s", line + off);
            name[strcspn(name, "\n")] = '\0';
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *probe = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    require_true(probe != MAP_FAILED);
    if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)probe, page,
              (unsigned long)"probe") != 0 && errno == EINVAL)
        test_skip("the kernel cannot name anonymous mappings (no CONFIG_ANON_VMA_NAME)");
    munmap(probe, page);

    char *p = wheap_virtual_alloc(NULL, 4 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(p != NULL);
    char name[256];
    expect_true(maps_name(p, name, sizeof name));
    expect_eq_str(name, "[anon:wheap]");
    require_true(wheap_virtual_alloc(p + G, G, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE) == p + G);
    expect_true(maps_name(p + G, name, sizeof name));
    expect_eq_str(name, "[anon:wheap]");
    expect_true(wheap_virtual_free(p + G, page, WHEAP_MEM_DECOMMIT));
    expect_true(maps_name(p + G, name, sizeof name));
    expect_eq_str(name, "[anon:wheap]");
    expect_true(wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE));
    return test_done();
}
