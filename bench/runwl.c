/*
 * runwl: run one workload under one allocator and measure it.
 *
 *   runwl [-p PRELOAD.so] [-o RESULT] [-k SECONDS] -- PROGRAM [ARGS...]
 *
 * Forks, sets LD_PRELOAD in the child only (or removes it when -p is absent
 * or empty, so glibc's allocator runs), execs PROGRAM and waits.  Then writes
 * one line to RESULT (default stderr):
 *
 *   wall_s=1.2345 maxrss_kib=123456 user_s=2.1 sys_s=0.3 status=0
 *
 * wall_s is measured around fork..wait, maxrss_kib is the child's peak RSS
 * (wait4's ru_maxrss).  status is the exit code, or 128+signal.  -k kills a
 * child that runs longer than SECONDS.  runwl exits with the child's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0)
        kill(child, SIGKILL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
    const char *preload = NULL, *result = NULL;
    unsigned kill_after = 0;
    int c;

    while ((c = getopt(argc, argv, "+p:o:k:h")) != -1) {
        switch (c) {
        case 'p': preload = optarg; break;
        case 'o': result = optarg; break;
        case 'k': kill_after = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: runwl [-p preload.so] [-o result] [-k seconds] -- program [args...]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "runwl: no program given\n");
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    fflush(NULL);
    double start = now();
    child = fork();
    if (child < 0) {
        perror("runwl: fork");
        return 2;
    }
    if (child == 0) {
        if (preload != NULL && preload[0] != '\0')
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[optind], &argv[optind]);
        fprintf(stderr, "runwl: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    if (kill_after > 0)
        alarm(kill_after);

    int wstatus;
    struct rusage ru;
    while (wait4(child, &wstatus, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("runwl: wait4");
            return 2;
        }
    }
    double wall = now() - start;
    alarm(0);

    int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
               : WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : 255;
    if (timed_out)
        fprintf(stderr, "runwl: %s killed after %u s\n", argv[optind], kill_after);

    FILE *out = stderr;
    if (result != NULL && (out = fopen(result, "w")) == NULL) {
        fprintf(stderr, "runwl: cannot write %s: %s\n", result, strerror(errno));
        return 2;
    }
    fprintf(out, "wall_s=%.4f maxrss_kib=%ld user_s=%.3f sys_s=%.3f status=%d%s\n",
            wall, ru.ru_maxrss, tv_seconds(ru.ru_utime), tv_seconds(ru.ru_stime), status,
            timed_out ? " timeout=1" : "");
    if (out != stderr)
        fclose(out);
    return status;
}
