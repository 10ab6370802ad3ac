/*
 * xmalloc: producer/consumer after Lever and Boreham's xmalloc-test
 * ("malloc() performance in a multithreaded Linux environment", USENIX 2000).
 *
 * Half the threads produce: they allocate small messages (16..256 bytes),
 * write them and pass them, a hundred at a time, through a bounded queue.
 * The other half consume: they read each message and free it.  Nearly every
 * free is a remote free of a block another thread allocated, the pattern of
 * pipelines, message queues and request handoff.
 */
#include "wl_common.h"

#define BATCH  100
#define QUEUE  64

typedef struct batch {
    size_t n;
    void  *item[BATCH];
    size_t size[BATCH];
} batch;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t  not_empty, not_full;
    batch          *ring[QUEUE];
    unsigned        head, tail;     /* tail - head == queued batches */
    int             producers_left;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
        { 0 }, 0, 0, 0 };

typedef struct role {
    int      id;
    uint64_t batches;
    uint64_t sum;
} role;

static void queue_put(batch *b)
{
    pthread_mutex_lock(&q.lock);
    while (q.tail - q.head == QUEUE)
        pthread_cond_wait(&q.not_full, &q.lock);
    q.ring[q.tail++ % QUEUE] = b;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
}

/* NULL when every producer has finished and the queue is empty. */
static batch *queue_take(void)
{
    batch *b = NULL;

    pthread_mutex_lock(&q.lock);
    while (q.tail == q.head && q.producers_left > 0)
        pthread_cond_wait(&q.not_empty, &q.lock);
    if (q.tail != q.head) {
        b = q.ring[q.head++ % QUEUE];
        pthread_cond_signal(&q.not_full);
    }
    pthread_mutex_unlock(&q.lock);
    return b;
}

static void *producer(void *arg)
{
    role *r = arg;
    uint64_t rng = 0x3A11 + (uint64_t)r->id * 7919, tag = (uint64_t)r->id << 40;

    for (uint64_t k = 0; k < r->batches; k++) {
        batch *b = wl_check_alloc(malloc(sizeof *b), sizeof *b);
        b->n = BATCH;
        for (size_t i = 0; i < BATCH; i++) {
            size_t sz = wl_log_size(&rng, 16, 256);
            b->item[i] = wl_check_alloc(malloc(sz), sz);
            b->size[i] = sz;
            wl_fill(b->item[i], sz, ++tag);
        }
        queue_put(b);
    }
    pthread_mutex_lock(&q.lock);
    if (--q.producers_left == 0)
        pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    role *r = arg;
    batch *b;

    while ((b = queue_take()) != NULL) {
        for (size_t i = 0; i < b->n; i++) {
            r->sum += wl_verify(b->item[i], b->size[i]);  /* order-free: a sum */
            free(b->item[i]);
        }
        free(b);
    }
    return NULL;
}

static void *run_role(void *arg)
{
    role *r = arg;
    return r->batches ? producer(arg) : consumer(arg);
}

int main(int argc, char **argv)
{
    wl_args a;

    wl_parse(argc, argv, &a, "xmalloc", 2);
    int n = a.threads < 2 ? 2 : a.threads;
    int producers = n / 2;
    uint64_t per_producer = wl_scaled(&a, 60000) / (uint64_t)producers;

    role *r = wl_check_alloc(calloc((size_t)n, sizeof *r), sizeof *r);
    q.producers_left = producers;
    for (int i = 0; i < n; i++) {
        r[i].id = i;
        r[i].batches = i < producers ? per_producer : 0;
    }
    wl_run_threads(n, run_role, r, sizeof *r);

    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += r[i].sum;
    free(r);
    return wl_finish(&a, sum);
}
