/*
 * Vectored exception handlers and wheap's SIGSEGV handler.
 *
 * Linux has no structured exceptions.  wheap raises the two events a Win32
 * virtual-memory layer raises (a guard page touched, an access to memory
 * wheap knows but that is reserved or inaccessible) from a SIGSEGV handler
 * that consults the region table, and passes every other fault on to the
 * disposition it found when it installed itself.
 *
 *   SIGSEGV ── segv_handler ─┬─ guard page ── guard_hit: clear the bit, restore the
 *                            │                 protection, handlers(GUARD_PAGE_VIOLATION),
 *                            │                 return (the access is retried)
 *                            ├─ other page of a region ── handlers(ACCESS_VIOLATION):
 *                            │                 CONTINUE_EXECUTION returns, else chain
 *                            └─ not ours ── chain: the previous disposition
 *
 * Handler list: nodes carved from metadata memory that is never unmapped,
 * published with release stores and walked by the signal handler without a
 * lock.  Add and remove hold handlers_lock.  A removed node keeps its next
 * pointer, so a walk standing on it goes on; it is recycled once no walk can
 * be there (walkers counts the walks in progress in every thread).
 *
 * Guard transitions: the signal handler clears a page's guard bit and
 * restores its protection under guard_lock, a spin lock that vm.c also holds
 * around the system call and page-state update of any range that has or
 * gets guard pages.  So the MMU and the table agree whoever comes first, and
 * of two threads touching one guard page exactly one finds the bit and
 * reports it.  Spinning is fine: whoever holds the lock is in a system call,
 * never in caller code.
 *
 * Handlers run in signal context: they must be async-signal-safe, and may
 * call wheap_virtual_* (the sparse-array idiom commits the faulting page).
 * That takes the regions mutex inside a signal handler, which is safe
 * because wheap never touches caller memory while it holds its locks, so a
 * fault in program code never finds a wheap lock held by its own thread.
 * The one case that is not supported: a fault raised by a signal handler
 * that interrupted a wheap call on the same thread (the locks are not
 * re-entrant); such a guard-page fault is chained, not handled.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The handler list
 * ---------------------------------------------------------------------- */

typedef struct handler_node {
    struct handler_node *_Atomic next;     /* list order; left intact on removal */
    _Atomic(wheap_exception_handler) fn;   /* NULL once removed */
    void *context;
    struct handler_node *next_free;        /* recycled nodes, under handlers_lock */
} handler_node;

static handler_node *_Atomic handler_head;
static handler_node *handler_tail;         /* under handlers_lock */
static handler_node *handler_free;
static char  *node_chunk;
static size_t node_chunk_left;
static pthread_mutex_t handlers_lock = PTHREAD_MUTEX_INITIALIZER;

/* Walks in progress in all threads, and this thread's own (nested) ones. */
static _Atomic size_t walkers;
static __thread size_t my_walks;

/* Caller holds handlers_lock. */
static handler_node *node_new(void)
{
    handler_node *n = handler_free;
    if (n) {
        handler_free = n->next_free;
        return n;
    }
    if (node_chunk_left < sizeof *n) {
        void *p;
        size_t size = wh_os_page_size();
        if (wh_os_map_metadata(size, &p) != 0) return NULL;
        node_chunk = p;
        node_chunk_left = size;
    }
    n = (handler_node *)(void *)node_chunk;
    node_chunk += sizeof *n;
    node_chunk_left -= sizeof *n;
    return n;
}

/* Calls the handlers in order until one returns CONTINUE_EXECUTION.
 * Lock-free: safe in the signal handler. */
static int call_handlers(uint32_t status, void *address)
{
    int result = WHEAP_EXCEPTION_CONTINUE_SEARCH;
    atomic_fetch_add_explicit(&walkers, 1, memory_order_seq_cst);
    my_walks++;
    for (handler_node *n = atomic_load_explicit(&handler_head, memory_order_acquire); n;
         n = atomic_load_explicit(&n->next, memory_order_acquire)) {
        wheap_exception_handler fn = atomic_load_explicit(&n->fn, memory_order_acquire);
        if (fn && fn(status, address, n->context) == WHEAP_EXCEPTION_CONTINUE_EXECUTION) {
            result = WHEAP_EXCEPTION_CONTINUE_EXECUTION;
            break;
        }
    }
    my_walks--;
    atomic_fetch_sub_explicit(&walkers, 1, memory_order_release);
    return result;
}

void *wheap_add_exception_handler(int first, wheap_exception_handler handler, void *context)
{
    if (!handler) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return NULL;
    }
    /* Installed before the handler is listed, so that it sees every fault. */
    wh_exceptions_install();
    pthread_mutex_lock(&handlers_lock);
    handler_node *n = node_new();
    if (n) {
        n->context = context;
        n->next_free = NULL;
        atomic_store_explicit(&n->fn, handler, memory_order_relaxed);
        if (first || !handler_tail) {
            handler_node *head = atomic_load_explicit(&handler_head, memory_order_relaxed);
            atomic_store_explicit(&n->next, head, memory_order_relaxed);
            atomic_store_explicit(&handler_head, n, memory_order_release);
            if (!handler_tail) handler_tail = n;
        } else {
            atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
            atomic_store_explicit(&handler_tail->next, n, memory_order_release);
            handler_tail = n;
        }
    }
    pthread_mutex_unlock(&handlers_lock);
    if (!n) wh_set_error(WHEAP_ERROR_NOT_ENOUGH_MEMORY);
    return n;
}

bool wheap_remove_exception_handler(void *handle)
{
    pthread_mutex_lock(&handlers_lock);
    handler_node *prev = NULL;
    handler_node *n = atomic_load_explicit(&handler_head, memory_order_relaxed);
    while (n && n != handle) {
        prev = n;
        n = atomic_load_explicit(&n->next, memory_order_relaxed);
    }
    if (n) {
        handler_node *next = atomic_load_explicit(&n->next, memory_order_relaxed);
        atomic_store_explicit(&n->fn, NULL, memory_order_relaxed);
        if (prev) atomic_store_explicit(&prev->next, next, memory_order_release);
        else atomic_store_explicit(&handler_head, next, memory_order_release);
        if (handler_tail == n) handler_tail = prev;
    }
    pthread_mutex_unlock(&handlers_lock);
    if (!n) {
        wh_set_error(WHEAP_ERROR_INVALID_PARAMETER);
        return false;
    }
    /* The unlink and the walkers count pair up like Dekker's flags: a walk
     * that starts after this fence cannot reach n.  Once the walks of other
     * threads have ended, the handler will not be called again and the
     * caller may free its context.  A walk of this thread (removal from
     * inside a handler) cannot end while we wait: then n is not recycled,
     * since that walk may still stand on it. */
    atomic_thread_fence(memory_order_seq_cst);
    while (atomic_load_explicit(&walkers, memory_order_seq_cst) > my_walks) sched_yield();
    if (my_walks == 0) {
        pthread_mutex_lock(&handlers_lock);
        n->next_free = handler_free;
        handler_free = n;
        pthread_mutex_unlock(&handlers_lock);
    }
    return true;
}

void wh_exception_raise_no_memory(void *address)
{
    /* Win32 lets handlers of STATUS_NO_MEMORY only observe: the call fails
     * whatever they return. */
    call_handlers(WHEAP_STATUS_NO_MEMORY, address);
}

/* ------------------------------------------------------------------------
 * The guard lock
 * ---------------------------------------------------------------------- */

static _Atomic int guard_word;
static __thread bool guard_mine;   /* this thread holds guard_word */

void wh_guard_lock(void)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(&guard_word, 1, memory_order_acquire)) {
        while (atomic_load_explicit(&guard_word, memory_order_relaxed)) {
            if (++spins < 100) wh_cpu_relax();
            else sched_yield();
        }
    }
    guard_mine = true;
}

void wh_guard_unlock(void)
{
    guard_mine = false;
    atomic_store_explicit(&guard_word, 0, memory_order_release);
}

/* ------------------------------------------------------------------------
 * Fault classification
 * ---------------------------------------------------------------------- */

/* Advanced after every system call that may open pages and before the page
 * states saying so are stored.  The release fence here pairs with the
 * acquire fence in page_snapshot: a handler that reads such a state then
 * reads an epoch at least that new. */
static _Atomic size_t fault_epoch;

void wh_fault_epoch_advance(void)
{
    atomic_fetch_add_explicit(&fault_epoch, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

typedef struct fault_page {
    wh_region *r;
    size_t     index;       /* page index in r */
    uintptr_t  address;     /* the page */
    uint16_t   state;
} fault_page;

/* Reads the state of the page holding addr without a lock: 1 with *fp
 * filled, 0 when no region of ours covers addr, -1 when the descriptor
 * changed while we read it (a reservation or release in flight). */
static int page_snapshot(uintptr_t addr, fault_page *fp)
{
    wh_region *r = wh_region_find(addr);
    if (!r) return 0;
    uint32_t seq = atomic_load_explicit(&r->seq, memory_order_acquire);
    if (seq & 1) return -1;
    uintptr_t base = r->base;
    size_t size = r->size, page = wh_os_page_size();
    _Atomic uint16_t *pages = r->pages;
    if (addr - base >= size) return -1;
    size_t i = (addr - base) / page;
    uint16_t s = atomic_load_explicit(&pages[i], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&r->seq, memory_order_relaxed) != seq) return -1;
    fp->r = r;
    fp->index = i;
    fp->address = base + i * page;
    fp->state = s;
    return 1;
}

/* What the MMU gives a page in state s once its guard is gone. */
static int base_prot(uint16_t s)
{
    return wh_os_prot_from_win32(1u << (s & WH_PG_PROT_MASK));
}

/* A fault on a page whose state has WH_PG_GUARD.  Returns true when the
 * access should be retried, false to chain. */
static bool guard_hit(uintptr_t addr)
{
    if (guard_mine) return false;   /* we interrupted our own transition */
    bool cleared = false, refused = false;
    fault_page fp;
    wh_guard_lock();
    if (page_snapshot(addr, &fp) > 0 && (fp.state & WH_PG_COMMITTED) &&
        (fp.state & WH_PG_GUARD)) {
        uint16_t s = (uint16_t)(fp.state & ~WH_PG_GUARD);
        if (wh_os_protect((void *)fp.address, wh_os_page_size(), base_prot(s)) == 0) {
            wh_fault_epoch_advance();
            atomic_store_explicit(&fp.r->pages[fp.index], s, memory_order_release);
            cleared = true;
        } else {
            refused = true;
        }
    }
    wh_guard_unlock();
    if (cleared) {
        /* One-shot: the guard is gone before the handlers run, and the
         * access proceeds whatever they return. */
        call_handlers(WHEAP_STATUS_GUARD_PAGE_VIOLATION, (void *)addr);
        return true;
    }
    if (refused) {
        /* The kernel would not reopen the page (ENOMEM: the map count
         * limit).  It stays inaccessible: an access violation. */
        return call_handlers(WHEAP_STATUS_ACCESS_VIOLATION, (void *)addr) ==
               WHEAP_EXCEPTION_CONTINUE_EXECUTION;
    }
    /* Another thread reported it, or a call changed the page, first; the
     * MMU now matches the table, so the retried access is judged afresh. */
    return true;
}

/* Where and in which epoch this thread last retried a fault as possibly
 * stale (see fault_is_handled). */
static __thread uintptr_t retried_address;
static __thread size_t retried_epoch;

/* Returns true when the signal handler should return (retry the access). */
static bool fault_is_handled(uintptr_t addr)
{
    fault_page fp;
    int found = page_snapshot(addr, &fp);
    if (found == 0) return false;    /* not wheap's memory */
    if (found < 0) return true;      /* in flux: the retry looks again */
    uint16_t s = fp.state;
    if ((s & WH_PG_COMMITTED) && (s & WH_PG_GUARD)) return guard_hit(addr);
    if ((s & WH_PG_COMMITTED) && (s & WH_PG_PROT_MASK) != 0) {
        /* The table calls the page accessible: either another thread opened
         * it (a guard cleared, a commit, a protect) after this access
         * faulted, or the access broke the protection (a write to a
         * read-only page).  Whoever opens pages does so before storing the
         * state we just read, and advances the epoch in between; so a fault
         * that raced an opening finds an epoch newer than that of this
         * thread's last retry, and is retried (the MMU is open by now).  A
         * fault at the same address with nothing opened since the last
         * retry is a real violation. */
        size_t epoch = atomic_load_explicit(&fault_epoch, memory_order_acquire);
        if (retried_address != addr || retried_epoch != epoch) {
            retried_address = addr;
            retried_epoch = epoch;
            return true;
        }
    }
    retried_address = 0;
    return call_handlers(WHEAP_STATUS_ACCESS_VIOLATION, (void *)addr) ==
           WHEAP_EXCEPTION_CONTINUE_EXECUTION;
}

/* ------------------------------------------------------------------------
 * The SIGSEGV handler and the previous disposition
 * ---------------------------------------------------------------------- */

static struct sigaction previous;     /* the disposition wheap found */
static _Atomic int installed;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------
 * fork
 *
 * handlers_lock is a leaf (nothing else is taken while it is held), so the
 * parent may hold it across fork in any order with the other layers' locks.
 * install_lock nests inside the regions lock and the guard lock is taken by
 * signal handlers with no other lock held: taking them before fork could
 * deadlock, so the child just starts them afresh.  A guard transition that
 * another thread had half done at fork (page reopened, bit not yet cleared)
 * leaves that page open in the child with its guard still listed: the
 * child misses that one report, nothing worse.
 * ---------------------------------------------------------------------- */

static void fork_prepare(void) { pthread_mutex_lock(&handlers_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&handlers_lock); }

static void fork_child(void)
{
    pthread_mutex_init(&handlers_lock, NULL);
    pthread_mutex_init(&install_lock, NULL);
    atomic_store_explicit(&guard_word, 0, memory_order_relaxed);
    guard_mine = false;
    /* Walks of threads that do not exist here never end. */
    atomic_store_explicit(&walkers, my_walks, memory_order_relaxed);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_register(void)
{
    /* glibc keeps the first fork handlers in static storage: no malloc. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Hands a fault that is not wheap's business to the previous disposition,
 * as the kernel would have delivered it. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction prev = previous;
    bool sent = si->si_code <= 0;     /* kill, raise, sigqueue: nothing repeats */
    bool custom = (prev.sa_flags & SA_SIGINFO) ||
                  (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN);
    if (!custom) {
        /* A program may ignore a sent SIGSEGV, never a fault: the kernel
         * forces the default action on those.  Returning repeats the
         * faulting access, which then kills with the right signal and a
         * core dump at the right place. */
        if (sent && prev.sa_handler == SIG_IGN) return;
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        if (sent) raise(sig);
        return;
    }
    if (prev.sa_flags & SA_RESETHAND) {
        memset(&previous, 0, sizeof previous);
        previous.sa_handler = SIG_DFL;
    }
    /* The mask the kernel would have applied for that handler. */
    sigset_t mask = prev.sa_mask, old;
    if (!(prev.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (prev.sa_flags & SA_SIGINFO) prev.sa_sigaction(sig, si, uc);
    else prev.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static bool (*_Atomic fault_hook)(uintptr_t addr, void *uc);

void wh_exceptions_set_fault_hook(bool (*hook)(uintptr_t addr, void *uc))
{
    atomic_store_explicit(&fault_hook, hook, memory_order_release);
    wh_exceptions_install();
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    bool fault = si->si_code == SEGV_MAPERR || si->si_code == SEGV_ACCERR;
    /* The upper layers' hook (guard.c's guarded malloc blocks): it reports
     * the fault, which then goes on to the previous disposition. */
    bool (*hook)(uintptr_t, void *) = atomic_load_explicit(&fault_hook, memory_order_acquire);
    if (fault && hook && hook((uintptr_t)si->si_addr, uc)) chain(sig, si, uc);
    else if (!fault || !fault_is_handled((uintptr_t)si->si_addr)) chain(sig, si, uc);
    errno = saved;
}

static bool same_disposition(const struct sigaction *a, const struct sigaction *b)
{
    return a->sa_flags == b->sa_flags && a->sa_handler == b->sa_handler;
}

void wh_exceptions_install(void)
{
    if (atomic_load_explicit(&installed, memory_order_acquire)) return;
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&install_lock);
    if (!atomic_load_explicit(&installed, memory_order_relaxed)) {
        struct sigaction ours, old;
        memset(&ours, 0, sizeof ours);
        ours.sa_sigaction = segv_handler;
        /* SA_NODEFER: a handler may itself touch a guard page or a page it
         * is about to commit; chain() applies the previous mask itself. */
        ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTART;
        sigemptyset(&ours.sa_mask);
        /* Read the old disposition first so that the handler can chain
         * from its very first call; re-read it in case it changed. */
        struct sigaction found;
        sigaction(SIGSEGV, NULL, &found);
        if ((found.sa_flags & SA_SIGINFO) && found.sa_sigaction == segv_handler) {
            /* Ours already (a fork in the middle of an install, or a
             * program that put back the handler it had replaced): chaining
             * to ourselves would loop; keep what we had found before. */
            atomic_store_explicit(&installed, 1, memory_order_release);
        } else {
            previous = found;
            if (sigaction(SIGSEGV, &ours, &old) == 0) {
                if (!same_disposition(&old, &previous)) previous = old;
                atomic_store_explicit(&installed, 1, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&install_lock);
}
