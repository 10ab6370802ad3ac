/* wheap_heap_lock is recursive and blocks other threads' serialized calls
 * until the last unlock; HEAP_NO_SERIALIZE (on the call or the heap) does
 * not wait; unlocking a heap this thread has not locked fails with
 * ERROR_NOT_LOCKED. */
#include "heap_test.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct job {
    wheap_heap *h;
    uint32_t flags;
    _Atomic int done;
} job;

static void *alloc_once(void *arg)
{
    job *j = arg;
    void *p = wheap_heap_alloc(j->h, j->flags, 100);
    if (p) wheap_heap_free(j->h, j->flags, p);
    atomic_store(&j->done, p ? 1 : -1);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts a thread doing one alloc/free; says whether it finished within ms. */
static bool finishes_within(wheap_heap *h, uint32_t flags, int ms, pthread_t *t, job *j)
{
    j->h = h;
    j->flags = flags;
    atomic_store(&j->done, 0);
    require_true(pthread_create(t, NULL, alloc_once, j) == 0);
    for (int waited = 0; waited < ms; waited += 5) {
        if (atomic_load(&j->done)) return true;
        sleep_ms(5);
    }
    return atomic_load(&j->done) != 0;
}

int main(void)
{
    wheap_heap *h = wheap_heap_create(0, 0, 0);
    require_true(h != NULL);
    pthread_t t;
    job j;

    /* Unlocked: another thread gets through at once. */
    expect_true(finishes_within(h, 0, 2000, &t, &j));
    pthread_join(t, NULL);

    /* Locked twice: the other thread waits until the second unlock. */
    expect_true(wheap_heap_lock(h));
    expect_true(wheap_heap_lock(h));
    /* This thread's own calls go through (the lock is recursive). */
    void *mine = wheap_heap_alloc(h, 0, 10);
    expect_not_null(mine);
    expect_false(finishes_within(h, 0, 200, &t, &j));
    expect_true(wheap_heap_unlock(h));
    sleep_ms(100);
    expect_eq_u64(atomic_load(&j.done), 0);
    /* HEAP_NO_SERIALIZE on the call does not wait. */
    job j2;
    pthread_t t2;
    expect_true(finishes_within(h, WHEAP_HEAP_NO_SERIALIZE, 2000, &t2, &j2));
    pthread_join(t2, NULL);
    expect_true(wheap_heap_unlock(h));
    pthread_join(t, NULL);
    expect_eq_u64(atomic_load(&j.done), 1);

    /* Not locked (any more): ERROR_NOT_LOCKED. */
    expect_false(wheap_heap_unlock(h));
    expect_error(WHEAP_ERROR_NOT_LOCKED);
    expect_true(wheap_heap_free(h, 0, mine));

    /* A heap created with HEAP_NO_SERIALIZE never waits. */
    wheap_heap *ns = wheap_heap_create(WHEAP_HEAP_NO_SERIALIZE, 0, 0);
    require_true(ns != NULL);
    expect_true(wheap_heap_lock(ns));
    expect_true(finishes_within(ns, 0, 2000, &t, &j));
    pthread_join(t, NULL);
    expect_true(wheap_heap_unlock(ns));

    /* Another thread cannot unlock our lock. */
    expect_true(wheap_heap_lock(h));
    expect_true(wheap_heap_validate(h, 0, NULL));
    expect_true(wheap_heap_unlock(h));

    expect_false(wheap_heap_lock(NULL));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    expect_true(wheap_heap_destroy(ns));
    expect_true(wheap_heap_destroy(h));
    return test_done();
}
