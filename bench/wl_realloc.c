/*
 * realloc: growing buffers, as string builders, log collectors and naive
 * vectors grow them.
 *
 * Each thread keeps 32 buffers growing at once, appending chunks of 1..64
 * bytes in turn.  Half the buffers are "strings" that realloc to the exact
 * new length at every append, the other half "vectors" that double their
 * capacity when full.  A buffer that reaches its final length (log-uniform,
 * 256 bytes to 4 MiB) is hashed, freed and replaced by a new one.  The hash
 * covers every byte, so realloc must carry the contents over exactly.
 */
#include "wl_common.h"

#define BUFFERS 32

typedef struct buffer {
    unsigned char *data;
    size_t len, cap, target;
    int exact;
} buffer;

typedef struct worker_arg {
    int      id;
    uint64_t bytes;       /* total bytes to append */
    uint64_t hash;
} worker_arg;

static void buffer_start(buffer *b, uint64_t *rng, int exact)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->target = wl_log_size(rng, 256, (size_t)4 << 20);
    b->exact = exact;
}

/* Hashes every byte, a word at a time, then frees the buffer. */
static uint64_t buffer_finish(buffer *b)
{
    uint64_t h = 0xCBF29CE484222325ull, word;
    size_t i = 0;
    for (; i + 8 <= b->len; i += 8) {
        memcpy(&word, b->data + i, 8);
        h = (h ^ word) * 0x100000001B3ull;
    }
    for (; i < b->len; i++)
        h = (h ^ b->data[i]) * 0x100000001B3ull;
    free(b->data);
    return wl_mix(h, b->len);
}

static void *worker(void *arg)
{
    worker_arg *w = arg;
    uint64_t rng = 0xBEEF + (uint64_t)w->id * 7727, hash = 0, appended = 0;
    buffer buf[BUFFERS];
    unsigned char text[1024 + 64];      /* what gets appended, cut at random */

    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (unsigned char)wl_rand(&rng);
    for (int i = 0; i < BUFFERS; i++)
        buffer_start(&buf[i], &rng, i & 1);
    while (appended < w->bytes) {
        for (int i = 0; i < BUFFERS; i++) {
            buffer *b = &buf[i];
            size_t chunk = wl_between(&rng, 1, 64);
            if (b->len + chunk > b->cap) {
                size_t cap = b->exact ? b->len + chunk
                                      : (b->cap ? b->cap * 2 : 16);
                while (cap < b->len + chunk)
                    cap *= 2;
                b->data = wl_check_alloc(realloc(b->data, cap), cap);
                b->cap = cap;
            }
            memcpy(b->data + b->len, text + wl_below(&rng, 1024), chunk);
            b->len += chunk;
            appended += chunk;
            if (b->len >= b->target) {
                hash = wl_mix(hash, buffer_finish(b));
                buffer_start(b, &rng, i & 1);
            }
        }
    }
    for (int i = 0; i < BUFFERS; i++)
        hash = wl_mix(hash, buffer_finish(&buf[i]));
    w->hash = hash;
    return NULL;
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "realloc", 2);
    worker_arg *w = wl_check_alloc(calloc((size_t)a.threads, sizeof *w), sizeof *w);
    for (int t = 0; t < a.threads; t++) {
        w[t].id = t;
        w[t].bytes = wl_scaled(&a, (uint64_t)256 << 20);
    }
    wl_run_threads(a.threads, worker, w, sizeof *w);

    uint64_t sum = 0;
    for (int t = 0; t < a.threads; t++)
        sum += w[t].hash;
    free(w);
    return wl_finish(&a, sum);
}
