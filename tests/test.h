/*
 * wheap test harness: one behaviour per program, typed expect_* helpers that
 * report file, line and both values, and a fork helper for anything that can
 * fault.  Exit codes follow Automake: 0 pass, 77 skip, 99 hard error, other
 * non-zero fail.
 */
#ifndef WHEAP_TEST_H
#define WHEAP_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wheap.h"

#define TEST_SKIP 77
#define TEST_HARD_ERROR 99

static int test_failures;

static inline void test_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    test_failures++;
}

#define expect_true(cond) \
    do { if (!(cond)) test_fail_at(__FILE__, __LINE__, "expected true: %s", #cond); } while (0)
#define expect_false(cond) \
    do { if (cond) test_fail_at(__FILE__, __LINE__, "expected false: %s", #cond); } while (0)

#define expect_cmp_u64(a, op, b) \
    do { \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
        if (!(a_ op b_)) \
            test_fail_at(__FILE__, __LINE__, "%s %s %s: %" PRIu64 " (0x%" PRIx64 ") vs %" \
                         PRIu64 " (0x%" PRIx64 ")", #a, #op, #b, a_, a_, b_, b_); \
    } while (0)
#define expect_eq_u64(a, b) expect_cmp_u64(a, ==, b)
#define expect_ne_u64(a, b) expect_cmp_u64(a, !=, b)
#define expect_lt_u64(a, b) expect_cmp_u64(a, <, b)
#define expect_le_u64(a, b) expect_cmp_u64(a, <=, b)
#define expect_gt_u64(a, b) expect_cmp_u64(a, >, b)
#define expect_ge_u64(a, b) expect_cmp_u64(a, >=, b)

#define expect_eq_ptr(a, b) \
    do { \
        const void *a_ = (const void *)(a), *b_ = (const void *)(b); \
        if (a_ != b_) test_fail_at(__FILE__, __LINE__, "%s == %s: %p vs %p", #a, #b, a_, b_); \
    } while (0)
#define expect_null(a) expect_eq_ptr(a, NULL)
#define expect_not_null(a) \
    do { if ((a) == NULL) test_fail_at(__FILE__, __LINE__, "%s is NULL", #a); } while (0)

#define expect_eq_str(a, b) \
    do { \
        const char *a_ = (a), *b_ = (b); \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) \
            test_fail_at(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b, \
                         a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

/* The last error equals code (by name in the report). */
#define expect_error(code) \
    do { \
        uint32_t e_ = wheap_get_last_error(), c_ = (uint32_t)(code); \
        if (e_ != c_) \
            test_fail_at(__FILE__, __LINE__, "last error %s (%u), expected %s (%u)", \
                         wheap_error_string(e_), e_, wheap_error_string(c_), c_); \
    } while (0)

/* Stops the test at once when cond fails (for set-up the rest relies on). */
#define require_true(cond) \
    do { \
        if (!(cond)) { \
            test_fail_at(__FILE__, __LINE__, "required: %s", #cond); \
            exit(TEST_HARD_ERROR); \
        } \
    } while (0)

#define test_skip(...) \
    do { fprintf(stderr, "SKIP: " __VA_ARGS__); fputc('\n', stderr); exit(TEST_SKIP); } while (0)

static inline int test_done(void)
{
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}

/* Runs this test again with WHEAP_OPTIONS set: options are read once, at
 * wheap's first use, which may come before main (wheap's malloc). */
static inline void rerun_with_options(char **argv, const char *options)
{
    const char *now = getenv("WHEAP_OPTIONS");
    if (now && strcmp(now, options) == 0) return;
    setenv("WHEAP_OPTIONS", options, 1);
    execv("/proc/self/exe", argv);
    perror("execv");
    exit(TEST_HARD_ERROR);
}

/* What a child run of this test program said and how it ended. */
typedef struct test_outcome {
    int  status;       /* waitpid's */
    char err[8192];    /* its stderr (truncated) */
    char out[8192];    /* its stdout (truncated) */
} test_outcome;

static inline void test_read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf + n, cap - 1 - n)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) n += (size_t)r;
    buf[n] = 0;
}

/* Runs this program again as `argv0 --case case_arg` (through /proc/self/exe)
 * with WHEAP_OPTIONS=options (NULL: unset), capturing its stderr and stdout.
 * Stderr is read first: the cases write little to stdout. */
static inline test_outcome test_spawn_case(const char *argv0, const char *case_arg,
                                           const char *options)
{
    test_outcome o;
    memset(&o, 0, sizeof o);
    int err_pipe[2], out_pipe[2];
    if (pipe(err_pipe) || pipe(out_pipe)) exit(TEST_HARD_ERROR);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) exit(TEST_HARD_ERROR);
    if (pid == 0) {
        dup2(err_pipe[1], 2);
        dup2(out_pipe[1], 1);
        close(err_pipe[0]);
        close(out_pipe[0]);
        if (options) setenv("WHEAP_OPTIONS", options, 1);
        else unsetenv("WHEAP_OPTIONS");
        execl("/proc/self/exe", argv0, "--case", case_arg, (char *)NULL);
        _exit(TEST_HARD_ERROR);
    }
    close(err_pipe[1]);
    close(out_pipe[1]);
    test_read_all(err_pipe[0], o.err, sizeof o.err);
    test_read_all(out_pipe[0], o.out, sizeof o.out);
    close(err_pipe[0]);
    close(out_pipe[0]);
    while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {}
    return o;
}

/* Runs fn(arg) in a forked child.  Returns the wait status. */
static inline int test_in_child(void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(TEST_HARD_ERROR);
    }
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return status;
}

#define expect_child_signal(status, sig) \
    do { \
        int s_ = (status); \
        if (!WIFSIGNALED(s_) || WTERMSIG(s_) != (sig)) \
            test_fail_at(__FILE__, __LINE__, "child: expected signal %d, got %s %d", (sig), \
                         WIFSIGNALED(s_) ? "signal" : "exit", \
                         WIFSIGNALED(s_) ? WTERMSIG(s_) : WEXITSTATUS(s_)); \
    } while (0)
#define expect_child_exit(status, code) \
    do { \
        int s_ = (status); \
        if (!WIFEXITED(s_) || WEXITSTATUS(s_) != (code)) \
            test_fail_at(__FILE__, __LINE__, "child: expected exit %d, got %s %d", (code), \
                         WIFSIGNALED(s_) ? "signal" : "exit", \
                         WIFSIGNALED(s_) ? WTERMSIG(s_) : WEXITSTATUS(s_)); \
    } while (0)

/* A "Key:  N kB" value of a /proc file, in bytes; 0 if missing. */
static inline uint64_t test_proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(key);
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* A value from /proc/self/status ("VmRSS") in bytes; 0 if missing. */
static inline uint64_t test_proc_status(const char *key)
{
    return test_proc_kb("/proc/self/status", key);
}

/* A value from /proc/meminfo in bytes. */
static inline uint64_t test_meminfo(const char *key)
{
    return test_proc_kb("/proc/meminfo", key);
}

/* Lines in /proc/self/maps. */
static inline size_t test_map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t n = 0;
    int c;
    if (!f) return 0;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Does the kernel list a mapping covering addr, and with which perms? */
static inline bool test_maps_perms(const void *addr, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    bool found = false;
    if (!f) return false;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        char p[5];
        if (sscanf(line, "%lx-%lx %4s", &s, &e, p) == 3 && (uintptr_t)addr >= s &&
            (uintptr_t)addr < e) {
            if (perms) memcpy(perms, p, 5);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

#endif /* WHEAP_TEST_H */
