/*
 * A large sparse table, in the manner of the classic Win32 sample on
 * reserving and committing memory: the program reserves address space for
 * the whole table once, commits nothing, and lets a vectored exception
 * handler commit each page the first time the program touches it.  Only
 * the touched pages ever cost memory.
 */
#include <stdio.h>
#include <stdlib.h>

#include <wheap/win32.h>

#define TABLE_ENTRIES ((SIZE_T)64 * 1024 * 1024)   /* 64 Mi entries of 8 bytes: 512 MiB */
#define TOUCHES 10000

typedef struct ENTRY {
    DWORD dwKey;
    DWORD dwValue;
} ENTRY;

static ENTRY *lpTable;          /* base of the reserved table */
static DWORD dwPageSize;        /* from GetSystemInfo */
static volatile LONG lPagesCommitted;

/* Commits the page of the table that faulted; anything else is not ours. */
static LONG CALLBACK PageFaultHandler(PEXCEPTION_POINTERS pExceptionInfo)
{
    PEXCEPTION_RECORD pRecord = pExceptionInfo->ExceptionRecord;
    BYTE *lpFault = (BYTE *)pRecord->ExceptionInformation[1];
    BYTE *lpBase = (BYTE *)lpTable;

    if (pRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION ||
        lpFault < lpBase || lpFault >= lpBase + TABLE_ENTRIES * sizeof(ENTRY))
        return EXCEPTION_CONTINUE_SEARCH;

    BYTE *lpPage = (BYTE *)((ULONG_PTR)lpFault & ~(ULONG_PTR)(dwPageSize - 1));
    if (VirtualAlloc(lpPage, dwPageSize, MEM_COMMIT, PAGE_READWRITE) == NULL)
        return EXCEPTION_CONTINUE_SEARCH;   /* out of memory: let it crash */
    lPagesCommitted++;
    return EXCEPTION_CONTINUE_EXECUTION;
}

int main(void)
{
    SYSTEM_INFO sSysInfo;
    GetSystemInfo(&sSysInfo);
    dwPageSize = sSysInfo.dwPageSize;

    lpTable = VirtualAlloc(NULL, TABLE_ENTRIES * sizeof(ENTRY), MEM_RESERVE, PAGE_NOACCESS);
    if (lpTable == NULL) {
        printf("VirtualAlloc reserve failed (%u).\n", GetLastError());
        return 1;
    }
    PVOID hHandler = AddVectoredExceptionHandler(1, PageFaultHandler);
    if (hHandler == NULL) {
        printf("AddVectoredExceptionHandler failed (%u).\n", GetLastError());
        return 1;
    }

    /* Scatter entries over the table; every first touch of a page faults
     * and is committed by the handler. */
    srand(1);
    DWORD dwKeys[TOUCHES];
    for (int i = 0; i < TOUCHES; i++) {
        DWORD dwKey = (DWORD)(((SIZE_T)rand() * RAND_MAX + rand()) % TABLE_ENTRIES);
        dwKeys[i] = dwKey;
        volatile ENTRY *pEntry = &lpTable[dwKey];
        pEntry->dwKey = dwKey;
        pEntry->dwValue = dwKey * 7;
    }
    int bad = 0;
    for (int i = 0; i < TOUCHES; i++)
        bad += lpTable[dwKeys[i]].dwValue != dwKeys[i] * 7;

    /* Walk the table with VirtualQuery: the committed pages are exactly
     * those the handler committed. */
    SIZE_T cbCommitted = 0;
    BYTE *p = (BYTE *)lpTable, *pEnd = p + TABLE_ENTRIES * sizeof(ENTRY);
    while (p < pEnd) {
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQuery(p, &mbi, sizeof mbi) == 0) break;
        if (mbi.State == MEM_COMMIT) cbCommitted += mbi.RegionSize;
        p = (BYTE *)mbi.BaseAddress + mbi.RegionSize;
    }
    printf("%d entries written, %ld pages committed on demand (%zu KiB of %zu MiB reserved)\n",
           TOUCHES, (long)lPagesCommitted, cbCommitted / 1024,
           TABLE_ENTRIES * sizeof(ENTRY) >> 20);

    RemoveVectoredExceptionHandler(hHandler);
    BOOL bFreed = VirtualFree(lpTable, 0, MEM_RELEASE);
    int ok = !bad && bFreed && cbCommitted == (SIZE_T)lPagesCommitted * dwPageSize &&
             lPagesCommitted > 0 && lPagesCommitted <= TOUCHES;
    printf(ok ? "Table verified.\n" : "FAILED\n");
    return ok ? 0 : 1;
}
