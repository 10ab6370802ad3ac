/*
 * Guard modes (WHEAP_OPTIONS guard_mode=page|sample): malloc blocks that
 * sit at the end of their own pages, in front of an inaccessible guard
 * page, so that an overflow faults at the faulting instruction; freed
 * blocks stay inaccessible for a while, so that a use after free faults
 * too.  guard_mode=page guards every malloc-family block (Windows' full
 * page heap); guard_mode=sample one in guard_sample (GWP-ASan's idea).
 *
 * Who calls what:
 *
 *   malloc_slow / memalign / realloc (malloc.c) ── wh_guard_alloc
 *        the arena's guard_countdown said "due" (0): in page mode always,
 *        in sample mode after a random 1 .. 2N-1 allocations (mean N);
 *        off mode never gets there (the countdown starts at 2^64)
 *   free_slow (malloc.c), the process heap (process_heap.c) ── wh_guard_free,
 *        wh_guard_size: only once the heap layer has said "not mine", so
 *        normal blocks pay nothing
 *   SIGSEGV (exceptions.c's hook) ── wh_guard_fault: one line, then the fault goes
 *        on to the disposition wheap found (the program's handler, or death
 *        by SIGSEGV)
 *
 * The pool.  Nine slot classes, one reservation each (made on first use,
 * at most 1 GiB and 65,536 slots): class c holds blocks of up to 2^c pages
 * (4 KiB .. 1 MiB with 4 KiB pages).  A class reservation reads
 *
 *   [guard][slot 0 data: 2^c pages][guard][slot 1 data][guard] ...
 *
 * so every slot has a guard page on both sides.  A live block ends at the
 * end of its slot's data, aligned down only as far as its alignment needs
 * (16 bytes for malloc); the bytes between its end and the guard page
 * (fewer than the alignment) hold a pattern that free and realloc check.
 * Only the pages from the block's first page to the guard are committed
 * (read-write, fresh zero pages); the rest of the slot stays inaccessible,
 * so an underflow that leaves the block's first page faults as well.
 * Bigger blocks (and alignments above a page) get a reservation of their
 * own, laid out as [guard (or alignment padding)][data][guard].
 *
 * Freed blocks are decommitted (PAGE_NOACCESS, no memory) and wait in a
 * quarantine FIFO of at most QUARANTINE_COUNT blocks and QUARANTINE_BYTES
 * bytes of slot data before their slot is handed out again (own
 * reservations are released then).  The slot table keeps a freed block's
 * address and size, so an access to it is reported as a use after free.
 *
 * The mapping budget.  Each live pool block splits its reservation into
 * three kernel mappings (+2), a block with its own reservation costs 3 and
 * 1 in quarantine, a class reservation 1.  vm.max_map_count is read once,
 * when the pool starts, with the number of mappings the process has then;
 * the pool may use half of the difference (default limit 65530: some
 * 32,700 mappings, about 16,000 live guarded blocks).  When a block would
 * exceed that, or the kernel refuses a mapping, the allocation takes the
 * normal unguarded path (verbose=1 says so once): guarding degrades, it
 * never makes an allocation fail.
 *
 * One mutex serializes the pool (page mode is a debugging mode; sample mode
 * reaches it once in N allocations).  The fault handler reads the tables
 * without it: class reservations and slot tables are never unmapped, large
 * records never freed (recycled), and a racing reader can only misname a
 * block, not crash.  fork: the mutex is taken before fork and released in
 * both processes, like the other layers' locks.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define NCLASS           9
#define CLASS_MAX_BYTES  ((size_t)1 << 30)
#define CLASS_MAX_SLOTS  65536u
#define QUARANTINE_COUNT 4096u
#define QUARANTINE_BYTES ((size_t)256 << 20)
#define LARGE_BUCKETS    1024u
#define SLACK_BYTE       0xd5

enum { ST_FREE = 0, ST_LIVE = 1, ST_QUARANTINE = 2 };

typedef struct gslot {
    uintptr_t ptr;           /* the block (kept after free, for reports) */
    size_t    size;          /* the size asked for */
    uint32_t  state;         /* ST_* */
    uint32_t  next_free;     /* class free list (index + 1; 0 ends it) */
} gslot;

typedef struct gclass {
    uintptr_t base, end;     /* the reservation; end != 0 once usable */
    size_t    data;          /* data bytes per slot: 2^c pages */
    size_t    span;          /* data + one guard page */
    uint32_t  nslots, bumped, free_head;
    gslot    *slots;
} gclass;

typedef struct glarge {
    uintptr_t base;          /* own reservation */
    size_t    reserved;
    uintptr_t ptr;
    size_t    size;
    uintptr_t commit_start, commit_end;
    uint32_t  state;
    struct glarge *hnext;    /* hash chain (by ptr) while live or quarantined */
    struct glarge *all_next; /* every record ever made (the fault path) */
    struct glarge *free_next;
} glarge;

typedef struct qentry {
    glarge  *large;          /* or NULL: a pool slot */
    uint32_t cls, idx;
    size_t   bytes;
} qentry;

bool wh_guard_active;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int pool_state;                  /* 0 not started, 1 running, -1 failed */
static size_t page_size;
static gclass classes[NCLASS];
static glarge *large_hash[LARGE_BUCKETS];
static glarge *_Atomic large_all;
static glarge *large_free;
static char *record_chunk;
static size_t record_left;
static qentry quarantine[QUARANTINE_COUNT];
static uint32_t q_head, q_count;
static uint32_t q_large;                /* own reservations among them */
static size_t q_bytes;
/* The mapping budget and its use. */
static size_t map_budget, map_used, max_map_count;
static bool degrade_told;
/* Counters (under pool_lock). */
static size_t n_guarded, n_live, n_degraded;

/* ------------------------------------------------------------------------
 * Countdown
 * ---------------------------------------------------------------------- */

static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    if (x == 0) x = (uint64_t)wh_thread_id() * 0x9e3779b97f4a7c15ull ^ wh_heap_secret ^ 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

uint64_t wh_guard_countdown(void)
{
    const wh_options *o = wh_options_get();
    if (o->guard_mode == 1) return 1;
    if (o->guard_mode != 2 || o->guard_sample == 0) return UINT64_MAX;
    uint64_t n = o->guard_sample;
    if (n == 1) return 1;
    if (n > UINT64_MAX / 4) return n;
    return 1 + rng_next() % (2 * n - 1);    /* 1 .. 2N-1: mean N */
}

/* ------------------------------------------------------------------------
 * Start-up
 * ---------------------------------------------------------------------- */

static int count_mapping(const wh_os_mapping *m, void *ctx)
{
    (void)m;
    ++*(size_t *)ctx;
    return 0;
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    while (*s == ' ') s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

/* Pool lock held. */
static bool pool_start(void)
{
    if (pool_state) return pool_state > 0;
    pool_state = -1;
    page_size = wh_os_page_size();
    char buf[64];
    size_t len = 0;
    max_map_count = 65530;
    if (wh_os_read_file("/proc/sys/vm/max_map_count", buf, sizeof buf, &len) == 0 && len) {
        uint64_t v = parse_u64(buf);
        if (v) max_map_count = v;
    }
    size_t now = 0;
    wh_os_maps_foreach(count_mapping, &now);
    map_budget = now < max_map_count ? (max_map_count - now) / 2 : 0;
    for (unsigned c = 0; c < NCLASS; c++) {
        classes[c].data = page_size << c;
        classes[c].span = classes[c].data + page_size;
    }
    pool_state = 1;
    wh_verbose("guard: pool started (%s mode): budget %zu mappings of vm.max_map_count %zu, "
               "%zu in use", wh_options_get()->guard_mode == 1 ? "page" : "sample", map_budget,
               max_map_count, now);
    return true;
}

static __thread bool starting __attribute__((tls_model("initial-exec")));

/* The first guarded allocation: the fault hook goes in before any block
 * exists.  Installing may allocate (pthread_atfork): such a nested call
 * takes the normal path. */
WH_COLD static bool start(void)
{
    if (starting) return false;
    starting = true;
    wh_exceptions_set_fault_hook(wh_guard_fault);
    pthread_mutex_lock(&pool_lock);
    bool ok = pool_start();
    pthread_mutex_unlock(&pool_lock);
    if (ok) __atomic_store_n(&wh_guard_active, true, __ATOMIC_RELEASE);
    starting = false;
    return ok;
}

/* ------------------------------------------------------------------------
 * Records of own reservations
 * ---------------------------------------------------------------------- */

static unsigned large_bucket(uintptr_t p)
{
    return (unsigned)((p >> 4) * 0x9e3779b97f4a7c15ull >> 54) & (LARGE_BUCKETS - 1);
}

static glarge *large_find(uintptr_t p)
{
    for (glarge *g = large_hash[large_bucket(p)]; g; g = g->hnext)
        if (g->ptr == p) return g;
    return NULL;
}

/* Any record (live or quarantined) whose reservation holds a. */
static glarge *large_containing(uintptr_t a)
{
    for (glarge *g = atomic_load_explicit(&large_all, memory_order_acquire); g; g = g->all_next)
        if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != ST_FREE && a - g->base < g->reserved)
            return g;
    return NULL;
}

static glarge *large_new(void)
{
    glarge *g = large_free;
    if (g) {
        large_free = g->free_next;
        return g;
    }
    if (record_left < sizeof *g) {
        void *m;
        if (wh_os_map_metadata(page_size * 4, &m) != 0) return NULL;
        record_chunk = m;
        record_left = page_size * 4;
    }
    g = (glarge *)(void *)record_chunk;
    record_chunk += sizeof *g;
    record_left -= sizeof *g;
    memset(g, 0, sizeof *g);
    g->all_next = atomic_load_explicit(&large_all, memory_order_relaxed);
    atomic_store_explicit(&large_all, g, memory_order_release);
    return g;
}

static void large_unhash(glarge *g)
{
    glarge **pp = &large_hash[large_bucket(g->ptr)];
    while (*pp && *pp != g) pp = &(*pp)->hnext;
    if (*pp) *pp = g->hnext;
    g->hnext = NULL;
}

/* ------------------------------------------------------------------------
 * Quarantine
 * ---------------------------------------------------------------------- */

/* Pool lock held.  The oldest quarantined block goes for good. */
static void quarantine_evict_one(void)
{
    qentry *e = &quarantine[q_head];
    q_head = (q_head + 1) % QUARANTINE_COUNT;
    q_count--;
    q_bytes -= e->bytes;
    if (e->large) {
        glarge *g = e->large;
        q_large--;
        large_unhash(g);
        __atomic_store_n(&g->state, ST_FREE, __ATOMIC_RELEASE);
        wh_os_release((void *)g->base, g->reserved);
        map_used -= 1;
        g->free_next = large_free;
        large_free = g;
    } else {
        gclass *k = &classes[e->cls];
        gslot *s = &k->slots[e->idx];
        __atomic_store_n(&s->state, ST_FREE, __ATOMIC_RELEASE);
        s->next_free = k->free_head;
        k->free_head = e->idx + 1;
    }
}

static void quarantine_push(glarge *g, uint32_t cls, uint32_t idx, size_t bytes)
{
    while (q_count && (q_count == QUARANTINE_COUNT || q_bytes + bytes > QUARANTINE_BYTES))
        quarantine_evict_one();
    qentry *e = &quarantine[(q_head + q_count) % QUARANTINE_COUNT];
    e->large = g;
    e->cls = cls;
    e->idx = idx;
    e->bytes = bytes;
    q_count++;
    q_large += g != NULL;
    q_bytes += bytes;
}

/* ------------------------------------------------------------------------
 * Allocation
 * ---------------------------------------------------------------------- */

static bool budget_allows(size_t cost)
{
    /* Quarantined own reservations cost a mapping each: the quarantine
     * gives way (oldest first) while it holds any. */
    while (map_used + cost > map_budget && q_large) quarantine_evict_one();
    return map_used + cost <= map_budget;
}

static void degrade(const char *why)
{
    n_degraded++;
    if (degrade_told) return;
    degrade_told = true;
    wh_verbose("guard: %s (%zu of %zu mappings in use, vm.max_map_count %zu): "
               "new blocks are not guarded while it lasts", why, map_used, map_budget,
               max_map_count);
}

/* The first committed page of a block at p whose slot data ends at end: a
 * 0-byte block sits at end itself and keeps the page before. */
static uintptr_t commit_start(uintptr_t p, uintptr_t end)
{
    return wh_align_down(p == end ? p - 1 : p, page_size);
}

static void fill_slack(uintptr_t p, size_t size, uintptr_t end)
{
    if (end > p + size) memset((void *)(p + size), SLACK_BYTE, end - (p + size));
}

/* Pool lock held.  Makes class c usable. */
static bool class_ready(unsigned c)
{
    gclass *k = &classes[c];
    if (k->end) return true;
    size_t n = (CLASS_MAX_BYTES - page_size) / k->span;
    if (n > CLASS_MAX_SLOTS) n = CLASS_MAX_SLOTS;
    size_t bytes = page_size + n * k->span;
    size_t meta = wh_align_up(n * sizeof(gslot), page_size);
    void *base, *slots;
    if (!budget_allows(1)) return false;
    if (wh_os_reserve(NULL, bytes, &base) != 0) return false;
    if (wh_os_map_metadata(meta, &slots) != 0) {
        wh_os_release(base, bytes);
        return false;
    }
    k->slots = slots;
    k->nslots = (uint32_t)n;
    k->base = (uintptr_t)base;
    map_used += 1;
    __atomic_store_n(&k->end, (uintptr_t)base + bytes, __ATOMIC_RELEASE);
    return true;
}

static void *alloc_slot(unsigned c, size_t size, size_t align)
{
    gclass *k = &classes[c];
    if (!class_ready(c)) return NULL;
    if (!budget_allows(2)) {
        degrade("mapping budget spent");
        return NULL;
    }
    uint32_t idx;
    for (;;) {
        if (k->free_head) {
            idx = k->free_head - 1;
            k->free_head = k->slots[idx].next_free;
            break;
        }
        if (k->bumped < k->nslots) {
            idx = k->bumped++;
            break;
        }
        if (!q_count) {               /* every slot live: unguarded */
            degrade("every slot of the size class is live");
            return NULL;
        }
        quarantine_evict_one();
    }
    uintptr_t data = k->base + page_size + (uintptr_t)idx * k->span;
    uintptr_t end = data + k->data;
    uintptr_t p = wh_align_down(end - size, align);
    uintptr_t first = commit_start(p, end);
    if (wh_os_commit((void *)first, end - first, PROT_READ | PROT_WRITE) != 0) {
        k->slots[idx].next_free = k->free_head;
        k->free_head = idx + 1;
        degrade("the kernel refused a mapping");
        return NULL;
    }
    fill_slack(p, size, end);
    gslot *s = &k->slots[idx];
    s->ptr = p;
    s->size = size;
    __atomic_store_n(&s->state, ST_LIVE, __ATOMIC_RELEASE);
    map_used += 2;
    return (void *)p;
}

static void *alloc_large(size_t size, size_t align)
{
    if (size > SIZE_MAX / 4 || align > SIZE_MAX / 4) return NULL;
    if (!budget_allows(3)) {
        degrade("mapping budget spent");
        return NULL;
    }
    size_t lead = align > page_size ? align : page_size;
    size_t data = wh_align_up(size, page_size);
    size_t reserved = lead + data + page_size;
    glarge *g = large_new();
    if (!g) return NULL;
    void *base;
    if (wh_os_reserve_aligned(reserved, lead, &base) != 0) {
        g->free_next = large_free;
        large_free = g;
        return NULL;
    }
    uintptr_t end = (uintptr_t)base + lead + data;
    uintptr_t p = wh_align_down(end - size, align);
    uintptr_t first = commit_start(p, end);
    if (wh_os_commit((void *)first, end - first, PROT_READ | PROT_WRITE) != 0) {
        wh_os_release(base, reserved);
        g->free_next = large_free;
        large_free = g;
        degrade("the kernel refused a mapping");
        return NULL;
    }
    fill_slack(p, size, end);
    g->base = (uintptr_t)base;
    g->reserved = reserved;
    g->ptr = p;
    g->size = size;
    g->commit_start = first;
    g->commit_end = end;
    unsigned b = large_bucket(p);
    g->hnext = large_hash[b];
    large_hash[b] = g;
    __atomic_store_n(&g->state, ST_LIVE, __ATOMIC_RELEASE);
    map_used += 3;
    return (void *)p;
}

void *wh_guard_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (!__atomic_load_n(&wh_guard_active, __ATOMIC_ACQUIRE) && !start()) return NULL;
    pthread_mutex_lock(&pool_lock);
    void *p = NULL;
    if (pool_start()) {
        size_t need = wh_align_up(size, align);
        unsigned c = 0;
        if (align <= page_size && need >= size)
            while (c < NCLASS && classes[c].data < need) c++;
        else
            c = NCLASS;
        p = c < NCLASS ? alloc_slot(c, size, align) : alloc_large(size, align);
        if (p) {
            n_guarded++;
            n_live++;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    return p;
}

/* ------------------------------------------------------------------------
 * Lookup, free, size
 * ---------------------------------------------------------------------- */

typedef struct gfound {
    gslot  *slot;            /* or NULL */
    glarge *large;           /* or NULL */
    uintptr_t ptr, end;      /* the block and the end of its slot data */
    size_t size;
    uint32_t state;
    unsigned cls;
    uint32_t idx;
} gfound;

/* Which pool block owns a (an address the caller passed in, not a fault):
 * false when a is not in guarded memory at all.  Pool lock held. */
static bool find_block(uintptr_t a, gfound *f)
{
    memset(f, 0, sizeof *f);
    for (unsigned c = 0; c < NCLASS; c++) {
        gclass *k = &classes[c];
        if (!k->end || a < k->base || a >= k->end) continue;
        if (a < k->base + page_size) return true;        /* leading guard: no block */
        uintptr_t rel = a - k->base - page_size;
        uint32_t idx = (uint32_t)(rel / k->span);
        gslot *s = &k->slots[idx];
        f->slot = s;
        f->cls = c;
        f->idx = idx;
        f->ptr = s->ptr;
        f->size = s->size;
        f->state = s->state;
        f->end = k->base + page_size + (uintptr_t)idx * k->span + k->data;
        return true;
    }
    glarge *g = large_find(a);
    if (!g) g = large_containing(a);
    if (!g) return false;
    f->large = g;
    f->ptr = g->ptr;
    f->size = g->size;
    f->state = g->state;
    f->end = g->commit_end;
    return true;
}

/* WH_BLOCK_OK for a live block at exactly p, else the WH_BAD_* code. */
static int judge(const gfound *f, uintptr_t p)
{
    if (f->state == ST_LIVE) return f->ptr == p ? WH_BLOCK_OK : WH_BAD_INTERIOR;
    if ((f->slot || f->large) && f->ptr == p && f->ptr) return WH_BAD_DOUBLE_FREE;
    return f->slot || f->large ? WH_BAD_INTERIOR : WH_BAD_FOREIGN;
}

/* The first byte of the slack after the block that lost its pattern, or 0. */
static uintptr_t slack_damage(const gfound *f)
{
    for (uintptr_t a = f->ptr + f->size; a < f->end; a++)
        if (*(const uint8_t *)a != SLACK_BYTE) return a;
    return 0;
}

static void report_slack(const char *call, const gfound *f, uintptr_t bad)
{
    const char *fmt = "guard: heap overflow: write at %p, %zu bytes past the %zu-byte block "
                      "at %p, found by %s()";
    if (wh_options_get()->abort_on_misuse)
        wh_fatal(fmt, (void *)bad, (size_t)(bad - (f->ptr + f->size)), f->size,
                 (void *)f->ptr, call);
    wh_message(fmt, (void *)bad, (size_t)(bad - (f->ptr + f->size)), f->size, (void *)f->ptr,
               call);
}

int wh_guard_free(void *p, const char *call)
{
    if (!__atomic_load_n(&wh_guard_active, __ATOMIC_ACQUIRE)) return -1;
    uintptr_t a = (uintptr_t)p;
    gfound f;
    pthread_mutex_lock(&pool_lock);
    if (!find_block(a, &f)) {
        pthread_mutex_unlock(&pool_lock);
        return -1;
    }
    int why = judge(&f, a);
    if (why != WH_BLOCK_OK) {
        pthread_mutex_unlock(&pool_lock);
        return why;
    }
    uintptr_t bad = slack_damage(&f);
    if (bad) {
        pthread_mutex_unlock(&pool_lock);
        report_slack(call, &f, bad);   /* aborts unless abort_on_misuse=0 */
        pthread_mutex_lock(&pool_lock);
        if (!find_block(a, &f) || judge(&f, a) != WH_BLOCK_OK) {
            pthread_mutex_unlock(&pool_lock);
            return WH_BAD_DOUBLE_FREE;
        }
    }
    n_live--;
    if (f.slot) {
        uintptr_t first = commit_start(f.ptr, f.end);
        if (wh_os_decommit((void *)first, f.end - first) != 0)
            wh_os_protect((void *)first, f.end - first, PROT_NONE);
        __atomic_store_n(&f.slot->state, ST_QUARANTINE, __ATOMIC_RELEASE);
        map_used -= 2;
        quarantine_push(NULL, f.cls, f.idx, classes[f.cls].data);
    } else {
        glarge *g = f.large;
        if (wh_os_decommit((void *)g->commit_start, g->commit_end - g->commit_start) != 0)
            wh_os_protect((void *)g->commit_start, g->commit_end - g->commit_start, PROT_NONE);
        __atomic_store_n(&g->state, ST_QUARANTINE, __ATOMIC_RELEASE);
        map_used -= 2;   /* 3 while live, 1 in quarantine */
        quarantine_push(g, 0, 0, g->reserved);
    }
    pthread_mutex_unlock(&pool_lock);
    return WH_BLOCK_OK;
}

int wh_guard_size(const void *p, size_t *size)
{
    if (!__atomic_load_n(&wh_guard_active, __ATOMIC_ACQUIRE)) return -1;
    gfound f;
    pthread_mutex_lock(&pool_lock);
    int why = find_block((uintptr_t)p, &f) ? judge(&f, (uintptr_t)p) : -1;
    if (why == WH_BLOCK_OK) *size = f.size;
    pthread_mutex_unlock(&pool_lock);
    return why;
}

int wh_guard_check(const void *p)
{
    if (!__atomic_load_n(&wh_guard_active, __ATOMIC_ACQUIRE)) return -1;
    gfound f;
    pthread_mutex_lock(&pool_lock);
    int why = find_block((uintptr_t)p, &f) ? judge(&f, (uintptr_t)p) : -1;
    if (why == WH_BLOCK_OK && slack_damage(&f)) why = WH_BAD_CORRUPT;
    pthread_mutex_unlock(&pool_lock);
    return why;
}

void wh_guard_counters(size_t *guarded, size_t *live, size_t *degraded)
{
    pthread_mutex_lock(&pool_lock);
    *guarded = n_guarded;
    *live = n_live;
    *degraded = n_degraded;
    pthread_mutex_unlock(&pool_lock);
}

/* ------------------------------------------------------------------------
 * Faults (signal context: no lock, no allocation)
 * ---------------------------------------------------------------------- */

typedef struct gview {
    uintptr_t ptr;
    size_t    size;
    uint32_t  state;
} gview;

static bool slot_view(const gclass *k, size_t idx, gview *v)
{
    if (idx >= k->nslots) return false;
    const gslot *s = &k->slots[idx];
    v->state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
    v->ptr = __atomic_load_n(&s->ptr, __ATOMIC_RELAXED);
    v->size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
    return v->ptr != 0 && (v->state != ST_FREE || v->ptr != 0);
}

static uintptr_t distance(uintptr_t a, const gview *v)
{
    if (a < v->ptr) return v->ptr - a;
    if (a >= v->ptr + v->size) return a - (v->ptr + v->size);
    return 0;
}

/* The block an access at a is about (its guard neighbours, or its own
 * slot); false when a is not in the pool. */
static bool fault_block(uintptr_t a, gview *out, bool *in_pool)
{
    *in_pool = false;
    for (unsigned c = 0; c < NCLASS; c++) {
        const gclass *k = &classes[c];
        uintptr_t end = __atomic_load_n(&k->end, __ATOMIC_ACQUIRE);
        if (!end || a < k->base || a >= end) continue;
        *in_pool = true;
        size_t idx, page = page_size;
        gview before = { 0, 0, ST_FREE }, after = { 0, 0, ST_FREE };
        bool hb = false, ha = false;
        if (a < k->base + page) {
            ha = slot_view(k, 0, &after);
        } else {
            uintptr_t rel = a - k->base - page;
            idx = rel / k->span;
            if (rel % k->span >= k->data) {         /* a guard page */
                hb = slot_view(k, idx, &before);
                ha = slot_view(k, idx + 1, &after);
            } else {                                /* the slot's own pages */
                return slot_view(k, idx, out);
            }
        }
        /* Live blocks first, then the nearer one. */
        if (hb && ha && before.state == ST_LIVE && after.state != ST_LIVE) ha = false;
        if (hb && ha && after.state == ST_LIVE && before.state != ST_LIVE) hb = false;
        if (hb && ha) {
            if (distance(a, &before) <= distance(a, &after)) ha = false;
            else hb = false;
        }
        if (hb) *out = before;
        if (ha) *out = after;
        return hb || ha;
    }
    glarge *g = large_containing(a);
    if (!g) return false;
    *in_pool = true;
    out->state = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
    out->ptr = g->ptr;
    out->size = g->size;
    return out->state != ST_FREE;
}

static _Atomic uintptr_t last_reported;

bool wh_guard_fault(uintptr_t a, void *uc)
{
    if (!__atomic_load_n(&wh_guard_active, __ATOMIC_ACQUIRE)) return false;
    gview v;
    bool in_pool;
    if (!fault_block(a, &v, &in_pool)) {
        if (in_pool && atomic_exchange(&last_reported, a) != a)
            wh_message("guard: invalid access at %p: guard memory next to no block", (void *)a);
        return in_pool;
    }
    const char *access = "access";
#if defined(__x86_64__)
    if (uc) {
        const ucontext_t *u = uc;
        access = (u->uc_mcontext.gregs[REG_ERR] & 2) ? "write" : "read";
    }
#else
    (void)uc;
#endif
    bool freed = v.state != ST_LIVE;
    const char *where = a < v.ptr ? "before" : a >= v.ptr + v.size ? "past" : "into";
    size_t off = a < v.ptr ? v.ptr - a : a >= v.ptr + v.size ? a - (v.ptr + v.size) : a - v.ptr;
    if (!freed && where[0] == 'i') return false;   /* a live block's own bytes: not ours to judge */
    const char *kind = freed ? "use after free" : where[0] == 'b' ? "heap underflow"
                                                                  : "heap overflow";
    if (atomic_exchange(&last_reported, a) != a)
        wh_message("guard: %s: %s at %p, %zu bytes %s the %s%zu-byte block at %p", kind, access,
                   (void *)a, off, where, freed ? "freed " : "", v.size, (void *)v.ptr);
    return true;
}

/* ------------------------------------------------------------------------
 * fork
 * ---------------------------------------------------------------------- */

static void guard_fork_prepare(void) { pthread_mutex_lock(&pool_lock); }
static void guard_fork_parent(void) { pthread_mutex_unlock(&pool_lock); }
static void guard_fork_child(void) { pthread_mutex_init(&pool_lock, NULL); }

/* After the regions' (101) and the arenas' (102): prepare handlers run in
 * reverse order, so the pool lock is taken first and given back last.  It
 * is a leaf: nothing else is taken while it is held. */
__attribute__((constructor(103))) static void guard_fork_register(void)
{
    pthread_atfork(guard_fork_prepare, guard_fork_parent, guard_fork_child);
}
