/*
 * Helpers of the runtime-operations tests (tests/ops_*): run this program
 * again with WHEAP_OPTIONS set and its stderr captured, and read numbers
 * out of wheap's report lines.
 */
#ifndef WHEAP_OPS_TEST_H
#define WHEAP_OPS_TEST_H

#include "malloc_test.h"

#include <fcntl.h>
#include <unistd.h>

/* Runs /proc/self/exe child_arg with WHEAP_OPTIONS=options (NULL: unset),
 * its stderr into out (NUL terminated, truncated to cap - 1).  Returns the
 * wait status. */
static inline int ops_run_child(const char *child_arg, const char *options, char *out,
                                size_t cap)
{
    char path[] = "/tmp/wheap-ops-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(TEST_HARD_ERROR);
    }
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(TEST_HARD_ERROR);
    }
    if (pid == 0) {
        dup2(fd, 2);
        if (options) setenv("WHEAP_OPTIONS", options, 1);
        else unsetenv("WHEAP_OPTIONS");
        execl("/proc/self/exe", "ops_child", child_arg, (char *)NULL);
        _exit(TEST_HARD_ERROR);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    ssize_t n = pread(fd, out, cap - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    return status;
}

/* The number after "key " in the first line that starts with prefix;
 * found tells whether there was one. */
static inline unsigned long long ops_field(const char *text, const char *prefix,
                                           const char *key, bool *found)
{
    size_t pl = strlen(prefix);
    *found = false;
    for (const char *s = text; s && *s;) {
        const char *eol = strchr(s, '\n');
        if (strncmp(s, prefix, pl) == 0) {
            const char *k = strstr(s, key);
            if (k && (!eol || k < eol)) {
                *found = true;
                return strtoull(k + strlen(key), NULL, 10);
            }
        }
        s = eol ? eol + 1 : NULL;
    }
    return 0;
}

/* Occurrences of needle in text. */
static inline unsigned ops_count(const char *text, const char *needle)
{
    unsigned n = 0;
    for (const char *s = strstr(text, needle); s; s = strstr(s + 1, needle)) n++;
    return n;
}

#endif /* WHEAP_OPS_TEST_H */
