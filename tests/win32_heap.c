/* The heap functions of <wheap/win32.h>: HeapCreate to HeapDestroy with the
 * Win32 names and flags, PROCESS_HEAP_ENTRY read through its Win32 field
 * names, GetProcessHeap(s), Heap{Set,Query}Information. */
#include "win32_test.h"

#include <wheap/win32.h>

int main(void)
{
    HANDLE heap = HeapCreate(HEAP_NO_SERIALIZE, 0, 0);
    require_true(heap != NULL);
    char *a = HeapAlloc(heap, HEAP_ZERO_MEMORY, 100);
    require_true(a != NULL);
    expect_eq_u64(a[99], 0);
    expect_eq_u64(HeapSize(heap, 0, a), 100);
    a = HeapReAlloc(heap, 0, a, 5000);
    require_true(a != NULL);
    expect_eq_u64(HeapSize(heap, 0, a), 5000);
    expect_true(HeapValidate(heap, 0, a));
    expect_true(HeapValidate(heap, 0, NULL));

    PROCESS_HEAP_ENTRY e;
    memset(&e, 0, sizeof e);
    e.lpData = NULL;
    int busy = 0, regions = 0;
    SIZE_T busy_bytes = 0;
    while (HeapWalk(heap, &e)) {
        if (e.wFlags & PROCESS_HEAP_ENTRY_BUSY) {
            busy++;
            busy_bytes += e.cbData;
            expect_eq_ptr(e.lpData, a);
        }
        if (e.wFlags & PROCESS_HEAP_REGION) {
            regions++;
            expect_true(e.Region.dwCommittedSize > 0);
        }
    }
    expect_eq_u64(GetLastError(), ERROR_NO_MORE_ITEMS);
    expect_eq_u64(busy, 1);
    expect_eq_u64(busy_bytes, 5000);
    expect_true(regions >= 1);

    ULONG info = 0;
    SIZE_T got = 0;
    expect_true(HeapQueryInformation(heap, HeapCompatibilityInformation, &info, sizeof info, &got));
    expect_eq_u64(got, sizeof info);
    expect_true(HeapLock(heap));
    expect_true(HeapUnlock(heap));
    expect_true(HeapCompact(heap, 0) > 0 || GetLastError() == ERROR_SUCCESS);
    expect_true(HeapFree(heap, 0, a));
    expect_true(HeapFree(heap, 0, NULL));

    HANDLE heaps[64];
    DWORD n = GetProcessHeaps(64, heaps);
    int found = 0;
    for (DWORD i = 0; i < n && i < 64; i++) found += heaps[i] == heap;
    expect_eq_u64(found, 1);
    HANDLE ph = GetProcessHeap();
    require_true(ph != NULL);
    void *p = HeapAlloc(ph, 0, 10);
    expect_true(p != NULL && HeapSize(ph, 0, p) >= 10);
    expect_true(HeapFree(ph, 0, p));
    expect_false(HeapDestroy(ph));
    expect_eq_u64(GetLastError(), ERROR_INVALID_HANDLE);
    expect_true(HeapDestroy(heap));
    return test_done();
}
