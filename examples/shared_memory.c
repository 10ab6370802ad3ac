/*
 * Named shared memory, in the manner of the classic Win32 sample: a writer
 * process creates a named file mapping backed by the paging file, copies a
 * message into a view of it and starts a reader process, which opens the
 * mapping by name, maps a view and reads the message.
 *
 *   shared_memory               the writer (starts the reader itself)
 *   shared_memory reader NAME   the reader
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wheap/win32.h>

#define BUF_SIZE 256

extern char **environ;

/* "Local\MyFileMappingObject-<writer's pid>", so that runs side by side
 * never meet. */
static char szName[64];
static const char szMsg[] = "Message from first process.";

static int writer(char *self)
{
    HANDLE hMapFile = CreateFileMapping(INVALID_HANDLE_VALUE,   /* use paging file */
                                        NULL,                   /* default security */
                                        PAGE_READWRITE,         /* read/write access */
                                        0,                      /* maximum object size (high) */
                                        BUF_SIZE,               /* maximum object size (low) */
                                        szName);                /* name of mapping object */
    if (hMapFile == NULL) {
        printf("Could not create file mapping object (%u).\n", GetLastError());
        return 1;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        printf("Another writer is running.\n");
        CloseHandle(hMapFile);
        return 1;
    }
    char *pBuf = MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, BUF_SIZE);
    if (pBuf == NULL) {
        printf("Could not map view of file (%u).\n", GetLastError());
        CloseHandle(hMapFile);
        return 1;
    }
    memcpy(pBuf, szMsg, sizeof szMsg);

    /* Start the reader and wait for it, while we hold the mapping open. */
    char *argv[] = { self, "reader", szName, NULL };
    pid_t pid;
    int status = 1;
    fflush(stdout);
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid) {
        printf("Could not start the reader.\n");
        status = 1;
    }

    UnmapViewOfFile(pBuf);
    CloseHandle(hMapFile);

    /* The last handle is gone, and the name with it. */
    HANDLE hGone = OpenFileMapping(FILE_MAP_READ, FALSE, szName);
    if (hGone != NULL || GetLastError() != ERROR_FILE_NOT_FOUND) {
        printf("The mapping outlived its handles.\n");
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int reader(void)
{
    HANDLE hMapFile = OpenFileMapping(FILE_MAP_ALL_ACCESS,   /* read/write access */
                                      FALSE,                 /* do not inherit the name */
                                      szName);               /* name of mapping object */
    if (hMapFile == NULL) {
        printf("Could not open file mapping object (%u).\n", GetLastError());
        return 1;
    }
    const char *pBuf = MapViewOfFile(hMapFile, FILE_MAP_ALL_ACCESS, 0, 0, BUF_SIZE);
    if (pBuf == NULL) {
        printf("Could not map view of file (%u).\n", GetLastError());
        CloseHandle(hMapFile);
        return 1;
    }
    printf("Reader: %s\n", pBuf);
    int ok = strcmp(pBuf, szMsg) == 0;
    UnmapViewOfFile(pBuf);
    CloseHandle(hMapFile);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "reader") == 0) {
        snprintf(szName, sizeof szName, "%s", argv[2]);
        return reader();
    }
    snprintf(szName, sizeof szName, "Local\\MyFileMappingObject-%d", (int)getpid());
    return writer(argv[0]);
}
