/* Cost of one reserve-commit-touch-release cycle through layer 1 against raw
 * mmap/munmap with the same pages touched, interleaved, median of rounds.
 *   vm_cycle [rounds]                                                      */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wheap.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void touch(char *p, size_t size, size_t page)
{
    for (size_t i = 0; i < size; i += page) p[i] = 1;
}

static double cycle_wheap(size_t size, size_t page, int iters)
{
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        char *p = wheap_virtual_alloc(NULL, size, WHEAP_MEM_RESERVE, WHEAP_PAGE_READWRITE);
        if (!p || !wheap_virtual_alloc(p, size, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE)) abort();
        touch(p, size, page);
        if (!wheap_virtual_free(p, 0, WHEAP_MEM_RELEASE)) abort();
    }
    return (now_ns() - t0) / iters;
}

static double cycle_mmap(size_t size, size_t page, int iters)
{
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) abort();
        touch(p, size, page);
        munmap(p, size);
    }
    return (now_ns() - t0) / iters;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 11;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sizes[] = { 65536, 4u << 20 };
    printf("| size | wheap reserve+commit+touch+release | mmap+touch+munmap | ratio |\n");
    printf("|---|---|---|---|\n");
    for (int s = 0; s < 2; s++) {
        int iters = sizes[s] == 65536 ? 2000 : 50;
        double w[64], m[64];
        if (rounds > 64) rounds = 64;
        for (int r = 0; r < rounds; r++) {   /* interleaved */
            w[r] = cycle_wheap(sizes[s], page, iters);
            m[r] = cycle_mmap(sizes[s], page, iters);
        }
        qsort(w, (size_t)rounds, sizeof w[0], cmp);
        qsort(m, (size_t)rounds, sizeof m[0], cmp);
        printf("| %zu KiB | %.1f us | %.1f us | %.2f |\n", sizes[s] >> 10, w[rounds / 2] / 1e3,
               m[rounds / 2] / 1e3, w[rounds / 2] / m[rounds / 2]);
    }
    return 0;
}
