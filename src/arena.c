/*
 * Arenas: binding threads to heaps.  Every thread that allocates through
 * malloc or the process heap is bound to an arena, an unserialized heap of
 * its own (heap_page.c), on its first allocation:
 *
 *   wh_arena_current ── wh_tl_arena (one TLS load)
 *        └─ wh_arena_bind: adopt an abandoned arena or create one, register
 *           the thread-exit destructor (once)
 *
 * Arenas are never destroyed: a thread that exits abandons its arena, which
 * the next new thread adopts, so the memory of short-lived threads is reused,
 * not leaked, and blocks that other threads still hold stay valid.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>

/* initial-exec: a replacement malloc must not trigger lazy TLS allocation
 * (PITFALLS row 2). */
__thread wh_heap *wh_tl_arena __attribute__((tls_model("initial-exec")));

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

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
__attribute__((constructor(102))) static void arena_fork_register(void)
{
    pthread_atfork(wh_heap_fork_prepare, wh_heap_fork_parent, wh_heap_fork_child);
}

static void arena_once_init(void)
{
    pthread_key_create(&arena_key, arena_thread_exit);
}

wh_heap *wh_arena_bind(void)
{
    wh_heap *h = wh_heap_arena_adopt();
    if (!h) h = wh_heap_new_arena();
    if (!h) return NULL;
    /* Bind before calling into libc: pthread_setspecific allocates for keys
     * past the first 32, and that allocation must find the arena. */
    wh_tl_arena = h;
    pthread_once(&arena_once, arena_once_init);
    pthread_setspecific(arena_key, h);
    return h;
}
