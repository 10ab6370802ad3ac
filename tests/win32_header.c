/* <wheap/win32.h>: the Win32 names reach the wheap_* API with the Win32
 * types and layouts (MEMORY_BASIC_INFORMATION, SYSTEM_INFO, MEMORYSTATUSEX,
 * DWORD offsets split in two).  Heaps and exception handlers: win32_heap.c
 * and win32_handlers.c. */
#include "win32_test.h"

#include <wheap/win32.h>

int main(void)
{
    _Static_assert(sizeof(DWORD) == 4 && sizeof(WORD) == 2 && sizeof(BYTE) == 1, "sizes");
    _Static_assert(sizeof(LONG) == 4 && sizeof(ULONG_PTR) == sizeof(void *), "sizes");
    _Static_assert(sizeof(MEMORY_BASIC_INFORMATION) == 48, "Win64 layout");
    _Static_assert(offsetof(MEMORY_BASIC_INFORMATION, RegionSize) == 24, "Win64 layout");
    _Static_assert(offsetof(SYSTEM_INFO, dwPageSize) == 4, "Win64 layout");
    _Static_assert(offsetof(SYSTEM_INFO, dwAllocationGranularity) == 40, "Win64 layout");
    _Static_assert(sizeof(MEMORYSTATUSEX) == 64, "Win64 layout");

    SYSTEM_INFO si;
    GetSystemInfo(&si);
    expect_eq_u64(si.dwPageSize, page_size());
    expect_eq_u64(si.dwAllocationGranularity, 65536);
    expect_eq_ptr(si.lpMinimumApplicationAddress, (void *)0x10000);
    expect_true(si.dwNumberOfProcessors >= 1);
    expect_true(si.dwActiveProcessorMask != 0);

    MEMORYSTATUSEX ms;
    memset(&ms, 0, sizeof ms);
    ms.dwLength = sizeof ms - 1;
    expect_false(GlobalMemoryStatusEx(&ms));
    expect_eq_u64(GetLastError(), ERROR_INVALID_PARAMETER);
    ms.dwLength = sizeof ms;
    expect_true(GlobalMemoryStatusEx(&ms));
    expect_true(ms.ullTotalPhys > 0 && ms.ullAvailPhys <= ms.ullTotalPhys);
    expect_true(ms.dwMemoryLoad <= 100);

    SetLastError(ERROR_NOT_LOCKED);
    expect_eq_u64(GetLastError(), 158);

    /* Virtual memory. */
    char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    require_true(p != NULL);
    MEMORY_BASIC_INFORMATION mbi;
    memset(&mbi, 0xFF, sizeof mbi);
    expect_eq_u64(VirtualQuery(p, &mbi, sizeof mbi), sizeof mbi);
    expect_eq_ptr(mbi.BaseAddress, p);
    expect_eq_ptr(mbi.AllocationBase, p);
    expect_eq_u64(mbi.AllocationProtect, PAGE_NOACCESS);
    expect_eq_u64(mbi.PartitionId, 0);
    expect_eq_u64(mbi.RegionSize, 0x10000);
    expect_eq_u64(mbi.State, MEM_RESERVE);
    expect_eq_u64(mbi.Protect, 0);
    expect_eq_u64(mbi.Type, MEM_PRIVATE);
    DWORD old;
    expect_false(VirtualProtect(p, 0x1000, PAGE_READONLY, &old));
    expect_eq_u64(GetLastError(), ERROR_INVALID_ADDRESS);
    expect_eq_ptr(VirtualAlloc(p, 0x1000, MEM_COMMIT, PAGE_READWRITE), p);
    p[0] = 1;
    expect_true(VirtualProtect(p, 0x1000, PAGE_READONLY, &old));
    expect_eq_u64(old, PAGE_READWRITE);
    expect_true(VirtualLock(p, 0x1000) || GetLastError() == ERROR_NO_SYSTEM_RESOURCES);
    VirtualUnlock(p, 0x1000);
    expect_true(VirtualFree(p, 0x1000, MEM_DECOMMIT));
    expect_true(VirtualFree(p, 0, MEM_RELEASE));
    (void)GetLargePageMinimum();

    /* File mappings: INVALID_HANDLE_VALUE, a descriptor, a 64-bit offset. */
    HANDLE m = CreateFileMapping(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 2, 0,
                                 test_name("win32"));
    require_true(m != NULL);
    expect_eq_u64(GetLastError(), ERROR_SUCCESS);
    HANDLE m2 = OpenFileMapping(FILE_MAP_READ, FALSE, test_name("win32"));
    require_true(m2 != NULL);
    char *hi = MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 1, 0x10000, 0x10000);   /* 4 GiB + 64 KiB */
    char *hi2 = MapViewOfFileEx(m2, FILE_MAP_READ, 1, 0, 0x20000, NULL);
    require_true(hi && hi2);
    strcpy(hi, "high");
    expect_eq_str(hi2 + 0x10000, "high");
    expect_true(FlushViewOfFile(hi, 0));
    expect_null(MapViewOfFile(m2, FILE_MAP_WRITE, 0, 0, 0));
    expect_eq_u64(GetLastError(), ERROR_ACCESS_DENIED);
    expect_null(MapViewOfFile(m, FILE_MAP_READ, 0, 0x1000, 0));
    expect_eq_u64(GetLastError(), ERROR_MAPPED_ALIGNMENT);
    expect_true(UnmapViewOfFile(hi));
    expect_true(UnmapViewOfFile(hi2));
    expect_true(CloseHandle(m2));
    expect_true(CloseHandle(m));
    expect_false(CloseHandle(m));
    expect_eq_u64(GetLastError(), ERROR_INVALID_HANDLE);

    char path[64];
    int fd = temp_file(0x10000, 'f', path);
    m = CreateFileMapping((HANDLE)_get_osfhandle(fd), NULL, PAGE_READONLY, 0, 0, NULL);
    require_true(m != NULL);
    close(fd);
    unlink(path);
    char *f = MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0);
    require_true(f != NULL);
    expect_eq_u64(f[0xFFFF], 'f');
    expect_eq_u64(VirtualQuery(f, &mbi, sizeof mbi), sizeof mbi);
    expect_eq_u64(mbi.Type, MEM_MAPPED);
    expect_eq_u64(mbi.Protect, PAGE_READONLY);
    expect_true(UnmapViewOfFile(f));
    expect_true(CloseHandle(m));

    /* Write watch, where the kernel has it. */
    char *w = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH,
                           PAGE_READWRITE);
    if (w) {
        PVOID addrs[16];
        ULONG_PTR count = 16;
        DWORD gran = 0;
        w[0x3000] = 1;
        expect_eq_u64(GetWriteWatch(WRITE_WATCH_FLAG_RESET, w, 0x10000, addrs, &count, &gran), 0);
        expect_eq_u64(count, 1);
        expect_eq_ptr(addrs[0], w + 0x3000);
        expect_eq_u64(gran, page_size());
        expect_eq_u64(ResetWriteWatch(w, 0x10000), 0);
        expect_true(VirtualFree(w, 0, MEM_RELEASE));
    } else {
        expect_eq_u64(GetLastError(), ERROR_NOT_SUPPORTED);
    }

    return test_done();
}
