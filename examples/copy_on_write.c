/*
 * A copy-on-write view of a file, in the manner of the classic Win32
 * samples: the program maps a data file with FILE_MAP_COPY, edits the view
 * freely, and the file on disk (and every other view of it) keeps the
 * original bytes; the edited pages belong to this view alone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wheap/win32.h>

static const char szData[] = "The quick brown fox jumps over the lazy dog.";

int main(void)
{
    char szPath[] = "/tmp/copy_on_write.XXXXXX";
    int fd = mkstemp(szPath);
    if (fd < 0 || write(fd, szData, sizeof szData) != (ssize_t)sizeof szData) {
        printf("Could not create the data file.\n");
        return 1;
    }

    HANDLE hFile = (HANDLE)_get_osfhandle(fd);
    HANDLE hMap = CreateFileMapping(hFile, NULL, PAGE_WRITECOPY, 0, 0, NULL);
    close(fd);   /* the mapping object keeps the file open */
    unlink(szPath);
    if (hMap == NULL) {
        printf("CreateFileMapping failed (%u).\n", GetLastError());
        return 1;
    }

    char *pCopy = MapViewOfFile(hMap, FILE_MAP_COPY, 0, 0, 0);
    const char *pOrig = MapViewOfFile(hMap, FILE_MAP_READ, 0, 0, 0);
    if (pCopy == NULL || pOrig == NULL) {
        printf("MapViewOfFile failed (%u).\n", GetLastError());
        return 1;
    }

    MEMORY_BASIC_INFORMATION mbi;
    VirtualQuery(pCopy, &mbi, sizeof mbi);
    printf("View at %p: %s, protection 0x%x\n", (void *)pCopy,
           mbi.Type == MEM_MAPPED ? "MEM_MAPPED" : "?", mbi.Protect);

    /* Edit the private copy: "fox" becomes "cat". */
    memcpy(strstr(pCopy, "fox"), "cat", 3);
    printf("Copy:     %s\n", pCopy);
    printf("Original: %s\n", pOrig);

    int ok = strstr(pCopy, "brown cat") != NULL && strstr(pOrig, "brown fox") != NULL &&
             mbi.Protect == PAGE_WRITECOPY;

    /* Flushing a copy-on-write view writes nothing back. */
    FlushViewOfFile(pCopy, 0);
    const char *pAgain = MapViewOfFile(hMap, FILE_MAP_READ, 0, 0, 0);
    ok = ok && pAgain && strstr(pAgain, "brown fox") != NULL;

    UnmapViewOfFile(pCopy);
    UnmapViewOfFile(pOrig);
    UnmapViewOfFile(pAgain);
    CloseHandle(hMap);
    printf(ok ? "The file is unchanged.\n" : "FAILED\n");
    return ok ? 0 : 1;
}
