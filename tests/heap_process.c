/* The process heap: one handle, listed by wheap_get_process_heaps with
 * every private heap, usable from any thread, never destroyed. */
#include "heap_test.h"
#include <pthread.h>

static void *worker(void *arg)
{
    (void)arg;
    wheap_heap *ph = wheap_get_process_heap();
    for (int i = 0; i < 20000; i++) {
        char *p = wheap_heap_alloc(ph, 0, (size_t)(i % 300) + 1);
        if (!p) return (void *)1;
        p[0] = (char)i;
        if (wheap_heap_size(ph, 0, p) < (size_t)(i % 300) + 1) return (void *)1;
        if (!wheap_heap_free(ph, 0, p)) return (void *)1;
    }
    return NULL;
}

int main(void)
{
    wheap_heap *ph = wheap_get_process_heap();
    require_true(ph != NULL);
    expect_eq_ptr(wheap_get_process_heap(), ph);
    size_t base = wheap_get_process_heaps(0, NULL);
    expect_ge_u64(base, 1);

    wheap_heap *mine[3];
    for (int i = 0; i < 3; i++) require_true((mine[i] = wheap_heap_create(0, 0, 0)) != NULL);
    wheap_heap *list[64];
    size_t n = wheap_get_process_heaps(64, list);
    expect_eq_u64(n, base + 3);
    bool found_ph = false, found[3] = { false, false, false };
    for (size_t i = 0; i < n && i < 64; i++) {
        found_ph |= list[i] == ph;
        for (int k = 0; k < 3; k++) found[k] |= list[i] == mine[k];
    }
    expect_true(found_ph && found[0] && found[1] && found[2]);
    /* A short buffer gets what fits; the total is still returned. */
    wheap_heap *two[2] = { NULL, NULL };
    expect_eq_u64(wheap_get_process_heaps(2, two), n);
    expect_true(two[0] != NULL && two[1] != NULL);

    /* Many threads on the (serialized) process heap. */
    pthread_t t[4];
    for (int i = 0; i < 4; i++) require_true(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        expect_null(rc);
    }
    expect_true(wheap_heap_validate(ph, 0, NULL));
    expect_false(wheap_heap_destroy(ph));
    expect_error(WHEAP_ERROR_INVALID_HANDLE);
    for (int i = 0; i < 3; i++) expect_true(wheap_heap_destroy(mine[i]));
    expect_eq_u64(wheap_get_process_heaps(0, NULL), base);
    return test_done();
}
