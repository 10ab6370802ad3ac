/*
 * The small program tests/pitfall_startup.sh runs with libwheap.so and the
 * pitfall shim preloaded (it links neither): it calls the wrapped functions
 * directly (open, openat, fopen, mmap), allocates on several threads, loads
 * a library with dlopen and looks a symbol up, then prints one line.
 */
#include "test.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

static void *thread_work(void *arg)
{
    size_t n = (size_t)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        char *p = malloc(n + (size_t)i);
        if (!p) return (void *)1;
        memset(p, i, n + (size_t)i);
        free(p);
    }
    return NULL;
}

int main(void)
{
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return 2;
    close(fd);
    fd = openat(AT_FDCWD, "/proc/self/maps", O_RDONLY);
    if (fd < 0) return 3;
    close(fd);
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (!f) return 4;
    fclose(f);
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 5;
    memset(m, 1, 1 << 20);
    munmap(m, 1 << 20);

    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, thread_work, (void *)(intptr_t)(i * 5000 + 10))) return 6;
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        if (rc) return 7;
    }

    void *h = dlopen("libm.so.6", RTLD_NOW);
    if (!h) return 8;
    double (*cos_)(double) = (double (*)(double))dlsym(h, "cos");
    if (!cos_ || cos_(0.0) != 1.0) return 9;
    dlclose(h);

    char *s = strdup("startup ok");
    printf("%s\n", s);
    free(s);
    return 0;
}
