/*
 * Arenas: binding threads to heaps.  Every thread that allocates through
 * malloc or the process heap is bound to an arena on its first allocation:
 *
 *   wh_arena_current ── wh_tl_arena (one TLS load)
 *        └─ wh_arena_bind: in the default mode, adopt an abandoned arena or
 *           create one, register the thread-exit destructor (once); in the
 *           shared mode, pick a shared arena (round robin)
 *
 * Default mode (arena_max=0): every thread has an unserialized heap of its
 * own.  Arenas are never destroyed: a thread that exits abandons its arena,
 * which the next new thread adopts, so the memory of short-lived threads is
 * reused, not leaked, and blocks that other threads still hold stay valid.
 *
 * Shared mode (arena_max=N, mallopt(M_ARENA_MAX, N), M_PERTURB): an
 * unserialized arena's owner allocates without a lock, so it cannot be
 * shared.  Instead, threads bound in this mode share N *shared arenas*
 * (WH_HF_SHARED), made on demand and never abandoned.  A shared arena is an
 * arena whose pages belong to nobody (their owner token is odd, as a public
 * heap's): every allocation takes the arena's lock (wh_arena_shared_alloc),
 * and every free, whoever makes it, is a lock-free remote free (the inline
 * free path sees a foreign owner and goes slow), collected by the next lock
 * holder's slow path.  wh_tl_arena stays NULL in this mode, so malloc's
 * inline path always falls to malloc_slow: the default mode's fast paths
 * are untouched, and the shared mode costs a lock per malloc, like glibc's
 * arenas.  Threads already bound when mallopt switches modes keep their own
 * arenas until they exit (the caller of mallopt leaves its own at once).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>

/* initial-exec: a replacement malloc must not trigger lazy TLS allocation
 * (PITFALLS row 2). */
__thread wh_heap *wh_tl_arena __attribute__((tls_model("initial-exec")));

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

/* The shared mode. */
static wh_heap *_Atomic shared[WH_SHARED_MAX];
static _Atomic uint64_t shared_n;               /* 0: default mode */
static _Atomic unsigned shared_next;            /* round robin */
static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;   /* creation */
static __thread wh_heap *tl_shared __attribute__((tls_model("initial-exec")));

static void arena_thread_exit(void *arg)
{
    wh_heap *h = arg;
    /* Later destructors may still allocate: they bind again (pthread runs
     * key destructors again while a value is set), and free needs no
     * binding at all. */
    if (wh_tl_arena == h) wh_tl_arena = NULL;
    wh_heap_arena_abandon(h);
}

/* fork: every lock of layer 2 is taken before fork and released in both
 * processes after it (PITFALLS row 3); layer 1 registers its own handlers
 * first (regions.c), so they run inside these.  In the child, arenas of
 * threads that did not survive are abandoned.  Registered at load, before
 * any thread can exist, whether or not malloc is wheap's. */
static void shared_fork_prepare(void);
static void shared_fork_parent(void);
static void shared_fork_child(void);

__attribute__((constructor(102))) static void arena_fork_register(void)
{
    pthread_atfork(wh_heap_fork_prepare, wh_heap_fork_parent, wh_heap_fork_child);
    /* Registered last, so its prepare runs first: a shared arena's lock is
     * taken before the heap locks an allocation under it takes. */
    pthread_atfork(shared_fork_prepare, shared_fork_parent, shared_fork_child);
}

static void arena_once_init(void)
{
    pthread_key_create(&arena_key, arena_thread_exit);
}

static uint64_t shared_count(uint64_t n)
{
    if (n == 0) n = wh_os_cpu_count(NULL);
    if (n == 0) n = 1;
    return n > WH_SHARED_MAX ? WH_SHARED_MAX : n;
}

static wh_heap *shared_get(unsigned i)
{
    wh_heap *h = atomic_load_explicit(&shared[i], memory_order_acquire);
    if (h) return h;
    pthread_mutex_lock(&shared_mutex);
    h = atomic_load_explicit(&shared[i], memory_order_relaxed);
    if (!h) {
        h = wh_heap_new_shared_arena();
        if (h) {
            atomic_store_explicit(&shared[i], h, memory_order_release);
            wh_verbose("arena %p created (shared %u of %zu)", (void *)h, i + 1,
                       (size_t)atomic_load(&shared_n));
        }
    }
    pthread_mutex_unlock(&shared_mutex);
    return h;
}

static wh_heap *shared_bind(uint64_t n)
{
    unsigned i = atomic_fetch_add_explicit(&shared_next, 1, memory_order_relaxed) % (unsigned)n;
    wh_heap *h = shared_get(i);
    if (h) tl_shared = h;
    return h;
}

wh_heap *wh_arena_bind(void)
{
    if (tl_shared) return tl_shared;
    uint64_t n = atomic_load_explicit(&shared_n, memory_order_relaxed);
    if (wh_unlikely(n == 0 && wh_options_get()->arena_max)) {
        uint64_t expected = 0;
        atomic_compare_exchange_strong(&shared_n, &expected,
                                       shared_count(wh_options_get()->arena_max));
        n = atomic_load(&shared_n);
    }
    if (n) return shared_bind(n);
    wh_heap *h = wh_heap_arena_adopt();
    if (h) {
        wh_verbose("arena %p adopted", (void *)h);
    } else {
        h = wh_heap_new_arena();
        if (h) wh_verbose("arena %p created", (void *)h);
    }
    if (!h) return NULL;
    /* malloc's inline path counts guard_countdown down from here: a fresh
     * arena's 0 would wrap (guard.c). */
    if (h->guard_countdown == 0) h->guard_countdown = wh_guard_countdown();
    /* Bind before calling into libc: pthread_setspecific allocates for keys
     * past the first 32, and that allocation must find the arena. */
    wh_tl_arena = h;
    pthread_once(&arena_once, arena_once_init);
    pthread_setspecific(arena_key, h);
    return h;
}

bool wh_arena_shared_mode(void)
{
    return atomic_load_explicit(&shared_n, memory_order_relaxed) != 0;
}

bool wh_arena_share(uint64_t n)
{
    if (n > WH_SHARED_MAX) n = WH_SHARED_MAX;
    uint64_t c = shared_count(n);
    if (n == 0 && atomic_load(&shared_n) != 0) c = atomic_load(&shared_n);
    atomic_store(&shared_n, c);
    /* The caller leaves its own arena now; its blocks stay valid (frees of
     * them are remote frees) and the arena is not adopted again. */
    wh_heap *h = wh_tl_arena;
    if (h) {
        wh_tl_arena = NULL;
        pthread_setspecific(arena_key, NULL);
        wh_heap_arena_abandon(h);
        wh_verbose("arena %p left for the shared mode", (void *)h);
    }
    return true;
}

void *wh_arena_shared_alloc(wh_heap *h, size_t size, size_t align)
{
    wh_lock_take(&h->lock);
    void *p = align <= WH_GRANULE ? wh_heap_arena_alloc(h, size)
                                  : wh_heap_arena_alloc_aligned(h, align, size);
    wh_lock_give(&h->lock);
    return p;
}

bool wh_arena_shared_resize(wh_heap *h, void *p, size_t size)
{
    wh_lock_take(&h->lock);
    bool ok = wh_heap_block_heap(p) == h && wh_heap_block_resize_in_place(p, size);
    wh_lock_give(&h->lock);
    return ok;
}

void wh_arena_counts(size_t *all, size_t *abandoned, size_t *shared_count_out)
{
    size_t a = 0, b = 0, c = 0;
    for (wh_heap *h = wh_arenas_first(); h; h = wh_arena_next(h)) {
        a++;
        b += (__atomic_load_n(&h->flags, __ATOMIC_RELAXED) & WH_HF_ABANDONED) != 0;
        c += (h->flags & WH_HF_SHARED) != 0;
    }
    *all = a;
    *abandoned = b;
    *shared_count_out = c;
}

static void shared_fork_prepare(void)
{
    pthread_mutex_lock(&shared_mutex);
    for (unsigned i = 0; i < WH_SHARED_MAX; i++) {
        wh_heap *h = atomic_load(&shared[i]);
        if (h) wh_lock_take(&h->lock);
    }
}

static void shared_fork_parent(void)
{
    for (unsigned i = 0; i < WH_SHARED_MAX; i++) {
        wh_heap *h = atomic_load(&shared[i]);
        if (h) wh_lock_give(&h->lock);
    }
    pthread_mutex_unlock(&shared_mutex);
}

static void shared_fork_child(void)
{
    for (unsigned i = 0; i < WH_SHARED_MAX; i++) {
        wh_heap *h = atomic_load(&shared[i]);
        if (h) wh_lock_init(&h->lock);
    }
    pthread_mutex_init(&shared_mutex, NULL);
}
