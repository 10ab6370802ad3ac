/*
 * The program tests/live_view.sh watches with `wheap top` and `wheap map`
 * (run preloaded, with live=1):
 *
 *   live_prog hold MIB   allocates MIB MiB in 4 KiB blocks, writes to every
 *                        block, prints "ready PID", then waits for SIGTERM
 *                        and returns from main (destructors run)
 *   live_prog fork MIB   the same, then forks a child that allocates three
 *                        times as much, prints "child PID" and waits too
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void **hold(size_t mib)
{
    size_t n = mib * 256;
    void **blocks = malloc((n + 1) * sizeof *blocks);
    if (!blocks) exit(99);
    for (size_t i = 0; i < n; i++) {
        blocks[i] = malloc(4096);
        if (!blocks[i]) exit(99);
        memset(blocks[i], (int)i, 4096);
    }
    blocks[n] = NULL;
    return blocks;
}

static void wait_for_term(void)
{
    sigset_t none;
    sigemptyset(&none);
    while (!stop) sigsuspend(&none);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: live_prog hold|fork MIB\n");
        return 99;
    }
    size_t mib = strtoul(argv[2], NULL, 10);
    /* SIGTERM blocked but while waiting: no window where it is lost. */
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);

    void **mine = hold(mib);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    if (!strcmp(argv[1], "fork")) {
        pid_t child = fork();
        if (child < 0) return 99;
        if (child == 0) {
            void **more = hold(3 * mib);
            printf("child %d\n", (int)getpid());
            fflush(stdout);
            wait_for_term();
            (void)more;
            return 0;
        }
        wait_for_term();
        kill(child, SIGTERM);
        waitpid(child, NULL, 0);
    } else {
        wait_for_term();
    }
    for (size_t i = 0; mine[i]; i++) free(mine[i]);
    free(mine);
    return 0;
}
