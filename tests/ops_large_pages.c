/*
 * large_pages=1: a 64 MiB malloc block, touched, is backed by transparent
 * huge pages (AnonHugePages > 0 in /proc/self/smaps over its range) where
 * /sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise";
 * without the option, on a "madvise" system, it has none.  Skips when THP
 * is off, and when the kernel could not find a free huge page for any
 * fault (thp_fault_fallback grew and thp_fault_alloc did not: a fragmented
 * machine, not wheap).
 */
#include "ops_test.h"

#define BLOCK ((size_t)64 << 20)

static char thp_mode[32];
void *volatile ops_sink;   /* keeps the compiler from dropping the memset */

static bool read_thp_mode(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128];
    if (!f) return false;
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok) return false;
    char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
    if (!a || !b || (size_t)(b - a) >= sizeof thp_mode) return false;
    memcpy(thp_mode, a + 1, (size_t)(b - a - 1));
    thp_mode[b - a - 1] = '\0';
    return true;
}

static unsigned long long vmstat(const char *key)
{
    FILE *f = fopen("/proc/vmstat", "r");
    char name[64];
    unsigned long long v, r = 0;
    if (!f) return 0;
    while (fscanf(f, "%63s %llu", name, &v) == 2)
        if (strcmp(name, key) == 0) r = v;
    fclose(f);
    return r;
}

/* kB of AnonHugePages in the mappings that overlap [p, p + n). */
static unsigned long long anon_huge_kb(const void *p, size_t n)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    unsigned long long total = 0;
    bool in = false;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = s < (uintptr_t)p + n && e > (uintptr_t)p;
            continue;
        }
        unsigned long long kb;
        if (in && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) total += kb;
    }
    fclose(f);
    return total;
}

static int child(void)
{
    unsigned long long alloc0 = vmstat("thp_fault_alloc"), fb0 = vmstat("thp_fault_fallback");
    char *p = malloc(BLOCK);
    if (!p) return 2;
    memset(p, 1, BLOCK);
    ops_sink = p;
    unsigned long long kb = anon_huge_kb(p, BLOCK);
    unsigned long long alloc1 = vmstat("thp_fault_alloc"), fb1 = vmstat("thp_fault_fallback");
    printf("AnonHugePages %llu kB, thp_fault_alloc +%llu, thp_fault_fallback +%llu\n", kb,
           alloc1 - alloc0, fb1 - fb0);
    if (kb > 0) return 10;
    if (alloc1 == alloc0 && fb1 > fb0) return 11;   /* the kernel had none to give */
    return 12;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child();
    if (!mt_malloc_is_wheap()) {
        fprintf(stderr, "SKIP: malloc is not wheap's\n");
        return TEST_SKIP;
    }
    if (!read_thp_mode() || strcmp(thp_mode, "never") == 0) {
        fprintf(stderr, "SKIP: transparent huge pages are off (%s)\n",
                thp_mode[0] ? thp_mode : "no /sys/kernel/mm/transparent_hugepage");
        return TEST_SKIP;
    }
    static char out[4096];
    int st = ops_run_child("--child", "large_pages=1", out, sizeof out);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 11) {
        fprintf(stderr, "SKIP: the kernel found no free huge page (thp_fault_fallback)\n");
        return TEST_SKIP;
    }
    expect_child_exit(st, 10);
    if (strcmp(thp_mode, "madvise") == 0) {
        st = ops_run_child("--child", NULL, out, sizeof out);
        expect_child_exit(st, 12);
    }
    return test_done();
}
