/* Nothing of <wheap/win32.h> leaks into a program that includes only
 * <wheap.h>: no macro, no type, no exported symbol.  This program defines
 * the Win32 names itself, as an unrelated program might. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

#include "wheap.h"

#if defined(MEM_COMMIT) || defined(PAGE_READWRITE) || defined(FILE_MAP_READ) || \
    defined(INVALID_HANDLE_VALUE) || defined(ERROR_SUCCESS) || defined(WHEAP_WIN32_H) || \
    defined(CreateFileMapping) || defined(EXCEPTION_CONTINUE_SEARCH)
#error "Win32 names leaked into <wheap.h>"
#endif

typedef long DWORD;        /* not Win32's */
typedef char *HANDLE;
static int VirtualAlloc(int x) { return x + 1; }
static int CloseHandle = 3;

int main(void)
{
    static const char *names[] = {
        "VirtualAlloc", "VirtualFree", "HeapAlloc", "CreateFileMappingA", "MapViewOfFile",
        "CloseHandle", "GetLastError", "GetWriteWatch", "AddVectoredExceptionHandler",
    };
    DWORD d = VirtualAlloc(1) + CloseHandle;
    HANDLE h = NULL;
    int bad = d != 5 || h != NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (dlsym(RTLD_DEFAULT, names[i])) {
            fprintf(stderr, "libwheap exports %s\n", names[i]);
            bad = 1;
        }
    return bad;
}
