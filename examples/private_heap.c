/*
 * A private heap, in the manner of the classic Win32 samples: the program
 * creates a heap of its own, builds a linked list in it, resizes a block,
 * walks the heap to account for every busy block, and destroys the heap,
 * which frees everything in it at once.
 */
#include <stdio.h>
#include <string.h>

#include <wheap/win32.h>

typedef struct NODE {
    struct NODE *pNext;
    DWORD dwId;
    char szName[24];
} NODE;

int main(void)
{
    HANDLE hHeap = HeapCreate(0, 0x10000, 0);   /* growable */
    if (hHeap == NULL) {
        printf("HeapCreate failed (%u).\n", GetLastError());
        return 1;
    }

    NODE *pHead = NULL;
    for (DWORD i = 0; i < 100; i++) {
        NODE *pNode = HeapAlloc(hHeap, HEAP_ZERO_MEMORY, sizeof(NODE));
        if (pNode == NULL) {
            printf("HeapAlloc failed (%u).\n", GetLastError());
            return 1;
        }
        pNode->dwId = i;
        snprintf(pNode->szName, sizeof pNode->szName, "node %u", i);
        pNode->pNext = pHead;
        pHead = pNode;
    }

    /* A buffer that grows: HeapReAlloc keeps its contents. */
    char *pszLog = HeapAlloc(hHeap, 0, 16);
    strcpy(pszLog, "log:");
    pszLog = HeapReAlloc(hHeap, HEAP_ZERO_MEMORY, pszLog, 4096);
    if (pszLog == NULL || strcmp(pszLog, "log:") != 0 || HeapSize(hHeap, 0, pszLog) != 4096) {
        printf("HeapReAlloc failed (%u).\n", GetLastError());
        return 1;
    }

    /* Free every other node, then walk the heap. */
    DWORD dwFreed = 0;
    for (NODE *pNode = pHead; pNode && pNode->pNext; pNode = pNode->pNext) {
        NODE *pVictim = pNode->pNext;
        pNode->pNext = pVictim->pNext;
        if (!HeapFree(hHeap, 0, pVictim)) {
            printf("HeapFree failed (%u).\n", GetLastError());
            return 1;
        }
        dwFreed++;
    }
    if (!HeapValidate(hHeap, 0, NULL)) {
        printf("The heap is damaged.\n");
        return 1;
    }

    PROCESS_HEAP_ENTRY Entry;
    Entry.lpData = NULL;
    DWORD dwBusy = 0, dwRegions = 0;
    SIZE_T cbBusy = 0;
    if (!HeapLock(hHeap)) return 1;
    while (HeapWalk(hHeap, &Entry)) {
        if (Entry.wFlags & PROCESS_HEAP_ENTRY_BUSY) {
            dwBusy++;
            cbBusy += Entry.cbData;
        } else if (Entry.wFlags & PROCESS_HEAP_REGION) {
            dwRegions++;
        }
    }
    DWORD dwLastError = GetLastError();
    HeapUnlock(hHeap);
    printf("%u busy blocks (%zu bytes) in %u region(s), %u freed\n", dwBusy, cbBusy, dwRegions,
           dwFreed);

    SIZE_T cbExpected = (100 - dwFreed) * sizeof(NODE) + 4096;
    int ok = dwLastError == ERROR_NO_MORE_ITEMS && dwBusy == 100 - dwFreed + 1 &&
             cbBusy == cbExpected && dwRegions >= 1;

    /* Destroying the heap frees every block in it. */
    if (!HeapDestroy(hHeap)) ok = 0;
    printf(ok ? "Heap verified and destroyed.\n" : "FAILED\n");
    return ok ? 0 : 1;
}
