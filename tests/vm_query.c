/* VirtualQuery over the whole process: wheap's regions exactly, the rest
 * from /proc/self/maps (images, mapped files, private memory, gaps). */
#include "test.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>

#define G 65536u

static int global_data = 42;

int main(void)
{
    wheap_memory_basic_information m;

    /* Code of this program and of libc: MEM_IMAGE, executable. */
    expect_eq_u64(wheap_virtual_query((void *)main, &m, sizeof m), sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.type, WHEAP_MEM_IMAGE);
    expect_eq_u64(m.protect, WHEAP_PAGE_EXECUTE_READ);
    expect_le_u64((uintptr_t)m.base_address, (uintptr_t)main);
    expect_gt_u64((uintptr_t)m.base_address + m.region_size, (uintptr_t)main);
    expect_eq_u64(wheap_virtual_query((void *)printf, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_IMAGE);
    /* Writable data of the image is part of the image too. */
    expect_eq_u64(wheap_virtual_query(&global_data, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_IMAGE);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE);

    /* The stack: private, read-write. */
    int local = 0;
    expect_eq_u64(wheap_virtual_query(&local, &m, sizeof m), sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(m.type, WHEAP_MEM_PRIVATE);
    expect_eq_u64(m.protect, WHEAP_PAGE_READWRITE);

    /* A file mapping: MEM_MAPPED, read-only. */
    int fd = open("/proc/self/exe", O_RDONLY);
    require_true(fd >= 0);
    void *f = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    require_true(f != MAP_FAILED);
    close(fd);
    expect_eq_u64(wheap_virtual_query(f, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_MAPPED);
    expect_eq_u64(m.protect, WHEAP_PAGE_READONLY);
    munmap(f, 4096);

    /* Shared anonymous memory: MEM_MAPPED; a PROT_NONE mapping: reserved. */
    char *s = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    require_true(s != MAP_FAILED);
    expect_eq_u64(wheap_virtual_query(s + 5000, &m, sizeof m), sizeof m);
    expect_eq_u64(m.type, WHEAP_MEM_MAPPED);
    expect_eq_ptr(m.base_address, s + 4096);
    expect_eq_u64(m.region_size, 2 * 4096);
    expect_eq_ptr(m.allocation_base, s);
    mprotect(s, 3 * 4096, PROT_NONE);
    wheap_virtual_query(s, &m, sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_RESERVE);
    expect_eq_u64(m.protect, 0);
    munmap(s, 3 * 4096);

    /* A gap: free, up to the next mapping. */
    char *hole = wheap_virtual_alloc(NULL, 8 * G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    require_true(hole != NULL);
    require_true(wheap_virtual_free(hole, 0, WHEAP_MEM_RELEASE));
    char *fence = mmap(hole + 6 * G, G, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
                       MAP_FIXED_NOREPLACE, -1, 0);
    require_true(fence == hole + 6 * G);
    expect_eq_u64(wheap_virtual_query(hole + 100, &m, sizeof m), sizeof m);
    expect_eq_u64(m.state, WHEAP_MEM_FREE);
    expect_eq_ptr(m.base_address, hole);
    expect_null(m.allocation_base);
    expect_eq_u64(m.allocation_protect, 0);
    expect_eq_u64(m.protect, WHEAP_PAGE_NOACCESS);
    expect_eq_u64(m.type, 0);
    expect_eq_u64(m.region_size, 6 * G);
    /* The gap also ends where a reservation of ours begins. */
    char *ours = wheap_virtual_alloc(hole + 2 * G, G, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
    expect_eq_ptr(ours, hole + 2 * G);
    wheap_virtual_query(hole, &m, sizeof m);
    expect_eq_u64(m.region_size, 2 * G);
    wheap_virtual_free(ours, 0, WHEAP_MEM_RELEASE);
    munmap(fence, G);

    /* Walking the whole address space visits contiguous, ordered runs. */
    uintptr_t a = 0x10000, last_end = 0x10000;
    size_t runs = 0;
    while (wheap_virtual_query((void *)a, &m, sizeof m)) {
        expect_eq_u64((uintptr_t)m.base_address, last_end);
        expect_gt_u64(m.region_size, 0);
        last_end = (uintptr_t)m.base_address + m.region_size;
        a = last_end;
        runs++;
        if (runs > 100000) break;
    }
    wheap_system_info si;
    wheap_get_system_info(&si);
    expect_eq_u64(last_end, (uintptr_t)si.maximum_application_address + 1);
    expect_gt_u64(runs, 10);
    return test_done();
}
