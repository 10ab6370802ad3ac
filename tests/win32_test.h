/*
 * Helpers shared by the file-mapping and write-watch tests (issue 16).
 */
#ifndef WHEAP_WIN32_TEST_H
#define WHEAP_WIN32_TEST_H

#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>

static inline size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A name of this test process: "wheap-test-<pid>-<tag>". */
static inline const char *test_name(const char *tag)
{
    static char buf[8][128];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "wheap-test-%d-%s", (int)getpid(), tag);
    return b;
}

static inline wheap_memory_basic_information query(const void *p)
{
    wheap_memory_basic_information mbi;
    memset(&mbi, 0xA5, sizeof mbi);
    if (wheap_virtual_query(p, &mbi, sizeof mbi) != sizeof mbi)
        test_fail_at(__FILE__, __LINE__, "VirtualQuery(%p) failed: %u", p,
                     wheap_get_last_error());
    return mbi;
}

/* A temporary file of size bytes, every byte fill; returns an O_RDWR fd. */
static inline int temp_file(size_t size, int fill, char path[64])
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/wheap-test-XXXXXX", dir && strlen(dir) < 30 ? dir : "/tmp");
    int fd = mkstemp(path);
    require_true(fd >= 0);
    char buf[4096];
    memset(buf, fill, sizeof buf);
    for (size_t done = 0; done < size; ) {
        size_t n = size - done < sizeof buf ? size - done : sizeof buf;
        require_true(write(fd, buf, n) == (ssize_t)n);
        done += n;
    }
    return fd;
}

/* Reserves memory with MEM_WRITE_WATCH, or skips the test where the
 * kernel cannot track writes (before Linux 6.7, or userfaultfd refused). */
static inline char *ww_alloc(size_t size, uint32_t type, uint32_t protect)
{
    char *p = wheap_virtual_alloc(NULL, size, type | WHEAP_MEM_WRITE_WATCH, protect);
    if (!p && wheap_get_last_error() == WHEAP_ERROR_NOT_SUPPORTED)
        test_skip("MEM_WRITE_WATCH not supported by this kernel");
    require_true(p != NULL);
    return p;
}

#endif
