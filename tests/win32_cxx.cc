// <wheap/win32.h> compiles as C++ and works there too.
#include <cstdio>
#include <cstring>

#include <wheap/win32.h>

int main()
{
    int failures = 0;
    HANDLE m = CreateFileMapping(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_COMMIT, 0,
                                 0x10000, nullptr);
    char *v = m ? static_cast<char *>(MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0)) : nullptr;
    if (!v) return 1;
    std::strcpy(v, "c++");
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(v, &mbi, sizeof mbi) != sizeof mbi || mbi.Type != MEM_MAPPED) failures++;
    if (!UnmapViewOfFile(v) || !CloseHandle(m)) failures++;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    if (si.dwAllocationGranularity != 65536) failures++;
    if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
    return failures;
}
