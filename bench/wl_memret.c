/*
 * memret: does freed memory go back to the operating system?
 *
 * Several threads together allocate about 1 GiB (scale 1) in objects of
 * 16 bytes to 64 KiB, grouped in sessions of 64 objects, as a cache or a
 * server's per-connection state would hold it.  Then:
 *   phase 1  each thread frees 9 sessions out of 10 (90 % of the memory),
 *            then keeps allocating lightly for about 1.5 s;
 *   phase 2  each thread frees everything else and again keeps allocating
 *            lightly for about 1.5 s.
 * A sampler thread reads VmRSS every 50 ms into a CSV (time_s,rss_kib,phase)
 * named by -r or WL_RSS_CSV.  The info lines give the peak and the RSS one
 * second after each free: memory an allocator keeps for itself shows there.
 * The light activity runs a fixed number of ticks, so the checksum stays
 * independent of timing.
 */
#include "wl_common.h"

#include <fcntl.h>

#define SESSION      64
#define TICKS        750        /* light-activity ticks per phase */
#define TICK_MS      2.0
#define SAMPLE_MS    50.0
#define MAX_SAMPLES  20000

typedef struct sample {
    double t;
    long   rss_kib;
    int    phase;
} sample;

static sample samples[MAX_SAMPLES];
static atomic_int nsamples, phase, sampler_stop;
static double t0;

static long read_vmrss_kib(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "VmRSS:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

static void *sampler(void *arg)
{
    (void)arg;
    while (!atomic_load(&sampler_stop)) {
        int i = atomic_load(&nsamples);
        if (i < MAX_SAMPLES) {
            samples[i].t = wl_now() - t0;
            samples[i].rss_kib = read_vmrss_kib();
            samples[i].phase = atomic_load(&phase);
            atomic_store(&nsamples, i + 1);
        }
        wl_sleep_ms(SAMPLE_MS);
    }
    return NULL;
}

typedef struct worker_arg {
    int       id;
    size_t    bytes;
    size_t    n, cap;
    void    **block;
    size_t   *size;
    uint64_t  sum;
} worker_arg;

static pthread_barrier_t barrier;

static void free_block(worker_arg *w, size_t i)
{
    if (w->block[i] != NULL) {
        w->sum += wl_verify(w->block[i], w->size[i]);
        free(w->block[i]);
        w->block[i] = NULL;
    }
}

/* A few small objects come and go every tick; 32 stay live in a ring. */
static void light_activity(worker_arg *w, uint64_t *rng, uint64_t *tag)
{
    void *ring[32] = { 0 };
    size_t ring_size[32] = { 0 };

    for (int k = 0; k < TICKS; k++) {
        for (int j = 0; j < 8; j++) {
            size_t slot = (size_t)wl_below(rng, 32), sz = wl_log_size(rng, 16, 512);
            if (ring[slot] != NULL) {
                w->sum += wl_verify(ring[slot], ring_size[slot]);
                free(ring[slot]);
            }
            ring[slot] = wl_check_alloc(malloc(sz), sz);
            ring_size[slot] = sz;
            wl_fill(ring[slot], sz, ++*tag);
        }
        wl_sleep_ms(TICK_MS);
    }
    for (int j = 0; j < 32; j++) {
        if (ring[j] != NULL) {
            w->sum += wl_verify(ring[j], ring_size[j]);
            free(ring[j]);
        }
    }
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t rng = 0x3E3 + (uint64_t)w->id * 2029, tag = (uint64_t)w->id << 44;
    size_t live = 0;

    w->cap = 4096;
    w->block = wl_check_alloc(malloc(w->cap * sizeof *w->block), w->cap * sizeof *w->block);
    w->size = wl_check_alloc(malloc(w->cap * sizeof *w->size), w->cap * sizeof *w->size);
    while (live < w->bytes) {
        if (w->n == w->cap) {
            w->cap *= 2;
            w->block = wl_check_alloc(realloc(w->block, w->cap * sizeof *w->block),
                                      w->cap * sizeof *w->block);
            w->size = wl_check_alloc(realloc(w->size, w->cap * sizeof *w->size),
                                     w->cap * sizeof *w->size);
        }
        size_t sz = wl_below(&rng, 5) ? wl_log_size(&rng, 16, 1024)
                                      : wl_log_size(&rng, 1025, 65536);
        w->block[w->n] = wl_check_alloc(malloc(sz), sz);
        w->size[w->n] = sz;
        wl_fill(w->block[w->n], sz, ++tag);
        live += sz;
        w->n++;
    }
    pthread_barrier_wait(&barrier);             /* all allocated */

    for (size_t i = 0; i < w->n; i++)
        if ((i / SESSION) % 10 != 0)
            free_block(w, i);
    pthread_barrier_wait(&barrier);             /* 90 % freed */
    light_activity(w, &rng, &tag);
    pthread_barrier_wait(&barrier);

    for (size_t i = 0; i < w->n; i++)
        free_block(w, i);
    free(w->block);
    free(w->size);
    w->block = NULL;
    w->size = NULL;
    pthread_barrier_wait(&barrier);             /* everything freed */
    light_activity(w, &rng, &tag);
    return NULL;
}

/* RSS of the first sample at least one second after time t. */
static long rss_after(double t)
{
    int n = atomic_load(&nsamples);
    for (int i = 0; i < n; i++)
        if (samples[i].t >= t + 1.0)
            return samples[i].rss_kib;
    return n > 0 ? samples[n - 1].rss_kib : -1;
}

int main(int argc, char **argv)
{
    wl_args a;
    pthread_t sampler_thread;

    wl_parse(argc, argv, &a, "memret", 2);
    t0 = wl_now();
    pthread_create(&sampler_thread, NULL, sampler, NULL);

    int n = a.threads;
    size_t total = (size_t)wl_scaled(&a, (uint64_t)1 << 30);
    worker_arg *w = wl_check_alloc(calloc((size_t)n, sizeof *w), sizeof *w);
    pthread_t *tid = wl_check_alloc(calloc((size_t)n, sizeof *tid), sizeof *tid);
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    for (int t = 0; t < n; t++) {
        w[t].id = t;
        w[t].bytes = total / (size_t)n;
        if (pthread_create(&tid[t], NULL, worker, &w[t]) != 0)
            wl_die("pthread_create failed");
    }
    pthread_barrier_wait(&barrier);
    atomic_store(&phase, 1);
    pthread_barrier_wait(&barrier);
    double t_free90 = wl_now() - t0;
    pthread_barrier_wait(&barrier);
    atomic_store(&phase, 2);
    pthread_barrier_wait(&barrier);
    double t_freeall = wl_now() - t0;
    for (int t = 0; t < n; t++)
        pthread_join(tid[t], NULL);
    wl_sleep_ms(SAMPLE_MS);
    atomic_store(&sampler_stop, 1);
    pthread_join(sampler_thread, NULL);

    long peak = 0;
    int ns = atomic_load(&nsamples);
    for (int i = 0; i < ns; i++)
        if (samples[i].rss_kib > peak)
            peak = samples[i].rss_kib;
    printf("info rss_peak_kib=%ld\n", peak);
    printf("info rss_free90_kib=%ld\n", rss_after(t_free90));
    printf("info rss_freeall_kib=%ld\n", rss_after(t_freeall));
    printf("info t_free90_s=%.3f t_freeall_s=%.3f\n", t_free90, t_freeall);

    if (a.rss_csv != NULL && a.rss_csv[0] != '\0') {
        FILE *f = fopen(a.rss_csv, "w");
        if (f == NULL)
            wl_die("cannot write %s: %s", a.rss_csv, strerror(errno));
        fprintf(f, "time_s,rss_kib,phase\n");
        for (int i = 0; i < ns; i++)
            fprintf(f, "%.3f,%ld,%d\n", samples[i].t, samples[i].rss_kib, samples[i].phase);
        fclose(f);
    }

    uint64_t sum = 0;
    for (int t = 0; t < n; t++)
        sum += w[t].sum;
    free(w);
    free(tid);
    return wl_finish(&a, sum);
}
