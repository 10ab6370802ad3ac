/* AddVectoredExceptionHandler over wheap's handlers: the Win32 handler gets
 * an EXCEPTION_POINTERS whose record carries the code and, in
 * ExceptionInformation[1], the faulting address; it can commit the page
 * and continue; handlers run in order (first = front); Remove works once. */
#include "win32_test.h"

#include <wheap/win32.h>

#define TABLE ((SIZE_T)1 << 20)

static char *table;
static volatile LONG calls, order[4], norder;
static volatile DWORD seen_code, seen_params;
static volatile ULONG_PTR seen_address;
static volatile PVOID seen_exception_address;

static LONG CALLBACK committer(PEXCEPTION_POINTERS info)
{
    PEXCEPTION_RECORD rec = info->ExceptionRecord;
    char *a = (char *)rec->ExceptionInformation[1];
    if (norder < 4) order[norder++] = 2;
    if (rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || a < table || a >= table + TABLE)
        return EXCEPTION_CONTINUE_SEARCH;
    calls++;
    seen_code = rec->ExceptionCode;
    seen_params = rec->NumberParameters;
    seen_address = rec->ExceptionInformation[1];
    seen_exception_address = rec->ExceptionAddress;
    if (info->ContextRecord != NULL) return EXCEPTION_CONTINUE_SEARCH;
    return VirtualAlloc(a, 1, MEM_COMMIT, PAGE_READWRITE) ? EXCEPTION_CONTINUE_EXECUTION
                                                          : EXCEPTION_CONTINUE_SEARCH;
}

static LONG CALLBACK observer(PEXCEPTION_POINTERS info)
{
    (void)info;
    if (norder < 4) order[norder++] = 1;
    return EXCEPTION_CONTINUE_SEARCH;
}

static LONG CALLBACK guard_seen(PEXCEPTION_POINTERS info)
{
    if (info->ExceptionRecord->ExceptionCode == EXCEPTION_GUARD_PAGE) calls += 100;
    return EXCEPTION_CONTINUE_SEARCH;
}

int main(void)
{
    table = VirtualAlloc(NULL, TABLE, MEM_RESERVE, PAGE_READWRITE);
    require_true(table != NULL);
    PVOID h = AddVectoredExceptionHandler(0, committer);
    PVOID first = AddVectoredExceptionHandler(1, observer);
    require_true(h && first);

    *(volatile char *)&table[0x12345] = 'v';   /* faults: the handler commits */
    expect_eq_u64(table[0x12345], 'v');
    expect_eq_u64(calls, 1);
    expect_eq_u64(seen_code, EXCEPTION_ACCESS_VIOLATION);
    expect_eq_u64(seen_params, 2);
    expect_eq_u64(seen_address, (ULONG_PTR)(table + 0x12345));
    expect_eq_ptr(seen_exception_address, table + 0x12345);
    expect_eq_u64(norder, 2);
    expect_eq_u64(order[0], 1);   /* First = 1 went to the front */
    expect_eq_u64(order[1], 2);

    expect_eq_u64(RemoveVectoredExceptionHandler(first), 1);
    expect_eq_u64(RemoveVectoredExceptionHandler(first), 0);

    /* Guard pages reach Win32 handlers as EXCEPTION_GUARD_PAGE. */
    PVOID g = AddVectoredExceptionHandler(1, guard_seen);
    require_true(g != NULL);
    DWORD old;
    expect_true(VirtualProtect(table + 0x12000, 0x1000, PAGE_READWRITE | PAGE_GUARD, &old));
    calls = 0;
    expect_eq_u64(*(volatile char *)&table[0x12345], 'v');
    expect_eq_u64(calls, 100);
    expect_eq_u64(RemoveVectoredExceptionHandler(g), 1);
    expect_eq_u64(RemoveVectoredExceptionHandler(h), 1);
    expect_true(VirtualFree(table, 0, MEM_RELEASE));
    return test_done();
}
