/* The process heap stands for every malloc arena: a walk finds blocks that
 * malloc handed out on several threads, validate covers them, and neither
 * crashes while other threads allocate and free (API.md, layer 2). */
#include "test.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#define THREADS 3
static atomic_int stop;
static void *_Atomic blocks[THREADS];

static void *churn(void *arg)
{
    intptr_t id = (intptr_t)arg;
    void *mine = malloc(1000 + (size_t)id);   /* lives until the end */
    memset(mine, (int)id, 1000 + (size_t)id);
    atomic_store(&blocks[id], mine);
    void *ring[64] = { 0 };
    unsigned seed = (unsigned)id * 7919u + 1;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        size_t i = (seed >> 8) % 64, size = 1 + (seed >> 16) % 3000;
        free(ring[i]);
        ring[i] = malloc(size);
        memset(ring[i], 0x5A, size);
    }
    for (int i = 0; i < 64; i++) free(ring[i]);
    return NULL;
}

static bool walk_finds(wheap_heap *ph, void *const *want, size_t n, size_t *entries)
{
    bool found[THREADS + 1] = { false };
    wheap_heap_entry e;
    memset(&e, 0, sizeof e);
    *entries = 0;
    while (wheap_heap_walk(ph, &e)) {
        if (++*entries > 10000000) {
            expect_true(!"walk does not end");
            return false;
        }
        if (e.flags & WHEAP_PROCESS_HEAP_ENTRY_BUSY)
            for (size_t i = 0; i < n; i++)
                if (e.data == want[i]) found[i] = e.data_size >= 1000;
    }
    expect_error(WHEAP_ERROR_NO_MORE_ITEMS);
    for (size_t i = 0; i < n; i++)
        if (!found[i]) return false;
    return true;
}

int main(void)
{
    /* Only meaningful when malloc is wheap's. */
    void *self = dlsym(RTLD_DEFAULT, "malloc");
    void *ours = dlsym(RTLD_DEFAULT, "wheap_malloc");
    Dl_info a, b;
    if (!self || !ours || !dladdr(self, &a) || !dladdr(ours, &b) || a.dli_fbase != b.dli_fbase)
        test_skip("malloc is not wheap's");

    alarm(60);   /* a walk that never ends fails, it does not hang */
    wheap_heap *ph = wheap_get_process_heap();
    require_true(ph != NULL);
    void *mine = malloc(1500);
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        require_true(pthread_create(&t[i], NULL, churn, (void *)i) == 0);
    while (!atomic_load(&blocks[0]) || !atomic_load(&blocks[1]) || !atomic_load(&blocks[2]))
        sched_yield();

    void *want[THREADS + 1] = { blocks[0], blocks[1], blocks[2], mine };
    size_t entries = 0;
    for (int round = 0; round < 20; round++) {
        expect_true(walk_finds(ph, want, THREADS + 1, &entries));
        expect_true(wheap_heap_validate(ph, 0, NULL));
        for (int i = 0; i < THREADS + 1; i++) {
            expect_true(wheap_heap_validate(ph, 0, want[i]));
            expect_ge_u64(wheap_heap_size(ph, 0, want[i]), 1000);
        }
    }
    expect_gt_u64(entries, THREADS + 1);
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    /* Blocks of exited threads' arenas: still described, still freeable
     * through the handle. */
    expect_true(walk_finds(ph, want, THREADS + 1, &entries));
    for (int i = 0; i < THREADS; i++) expect_true(wheap_heap_free(ph, 0, blocks[i]));
    expect_false(wheap_heap_validate(ph, 0, blocks[0]));
    expect_true(wheap_heap_free(ph, 0, mine));
    /* A block of the handle's own goes to free. */
    void *own = wheap_heap_alloc(ph, WHEAP_HEAP_ZERO_MEMORY, 300);
    require_true(own != NULL);
    expect_eq_u64(((unsigned char *)own)[299], 0);
    free(own);
    return test_done();
}
