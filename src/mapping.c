/*
 * File mappings: the CreateFileMapping family.
 *
 *   wheap_create_file_mapping ──┬─ unnamed: memfd / dup(fd) ── section_new
 *                               └─ named: ns_attach or ns_create (namespace)
 *   wheap_open_file_mapping ──── ns_attach ── handle_from_entry
 *   wheap_map_view_of_file_ex ── wh_vm_reserve_at, wh_os_map_view, wh_vm_commit
 *   wheap_unmap_view_of_file ─── wh_vm_release_view
 *   vm.c commit on a view ────── wh_view_committed (SEC_RESERVE: the section's
 *                                pages, seen by every view of it)
 *
 * Three kinds of object, all in metadata memory (wheap is the malloc, so
 * never malloc):
 *   handle   (wheap_mapping) what the caller holds: access rights, a
 *            descriptor for mapping views, and for named objects the
 *            namespace entry it holds a shared lock on;
 *   section  what handles and views of one object share in this process:
 *            size, protection, and for SEC_RESERVE which pages are
 *            committed (a bitmap in the shared object itself when named, so
 *            that every process sees it);
 *   view     one mapped view: a region of the region table (WH_RG_VIEW,
 *            type MEM_MAPPED) whose owner is the view record.
 *
 * Named objects live in the per-user namespace directory (os_linux.c,
 * /dev/shm/wheap-<uid>, 0700).  A pagefile-backed object is one file there:
 * a header page, the SEC_RESERVE commit bitmap, then the data.  A
 * file-backed one is a header naming the file (path, device and inode;
 * other processes reopen it).  Lifetime follows Win32: the name goes away
 * when the last handle in any process closes, while views stay valid.
 *   - every handle holds LOCK_SH on the entry through its own open file
 *     description;
 *   - an entry is published fully written, with its creator's LOCK_SH
 *     already held (O_TMPFILE, then linkat, which never replaces a name);
 *   - a closing handle tries LOCK_EX without waiting: it succeeds only for
 *     the last holder, which then unlinks the name (while it still names
 *     this file);
 *   - an opener takes LOCK_SH and then checks that the file is still
 *     linked, else it lost a race with the last closer and starts over;
 *   - an entry nobody holds a lock on (its last holder crashed) is removed
 *     by the next opener, which probes with LOCK_EX without waiting first.
 *
 * Locks: mapping_lock guards handles, sections and the object pool, and is
 * taken before the regions lock, never after.  View lists are changed
 * under the regions lock too, because vm.c's hooks walk them.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define FILE_MAP_RIGHTS (WHEAP_FILE_MAP_ALL_ACCESS | WHEAP_FILE_MAP_EXECUTE)
#define SECTION_MAP_EXECUTE 0x8u    /* part of FILE_MAP_ALL_ACCESS */
#define NAME_MAX_BYTES 255

/* ------------------------------------------------------------------------
 * Objects
 * ---------------------------------------------------------------------- */

enum {
    MAGIC_FREE    = 0,
    MAGIC_HANDLE  = 0x4d485748,   /* "HWHM" */
    MAGIC_SECTION = 0x53485748,
    MAGIC_VIEW    = 0x56485748,
};

typedef struct view view;

typedef struct section {
    uint32_t        magic;
    uint32_t        protect;      /* PAGE_* of the section */
    bool            reserve;      /* SEC_RESERVE: pages committed on demand */
    uint32_t        refs;         /* handles + views in this process */
    uint64_t        size;         /* maximum size, bytes */
    uint64_t        data_offset;  /* section byte 0 in the descriptor */
    uint64_t        dev, ino;     /* named pagefile object: its entry; else 0 */
    _Atomic uint64_t *commit_bits;/* reserve: one bit per section page */
    void           *bits_map;     /* what to unmap for commit_bits */
    size_t          bits_map_size;
    view           *views;        /* views in this process (regions lock) */
    struct section *next;         /* named sections in this process */
} section;

struct view {
    uint32_t  magic;
    uint32_t  protect;            /* the view's PAGE_* protection */
    section  *sec;
    uintptr_t base;
    size_t    npages;             /* pages mapped from the section */
    uint64_t  first_page;         /* section page of the view's first page */
    view     *next;               /* in sec->views */
};

struct wheap_mapping {
    uint32_t      magic;
    uint32_t      access;         /* FILE_MAP_* rights of this handle */
    section      *sec;
    int           fd;             /* views are mapped from it */
    int           lock_fd;        /* named: the entry we hold LOCK_SH on, else -1 */
    bool          fd_writable;
    unsigned long pid;            /* the process that opened it */
    char          name[NAME_MAX_BYTES + 1];   /* named: the entry's name */
};

/* One pool of fixed-size slots for all three, in 64 KiB metadata chunks.
 * Handles are validated against it: a pointer the caller passes must be a
 * live handle slot of one of our chunks. */
typedef union slot {
    uint32_t             magic;
    struct wheap_mapping handle;
    section              sec;
    view                 view;
    struct { uint32_t magic; union slot *next; } free;
} slot;

#define CHUNK_SIZE ((size_t)64 * 1024)
#define CHUNK_SLOTS ((CHUNK_SIZE - 64) / sizeof(slot))

typedef struct chunk {
    struct chunk *next;
    char          pad[56];
    slot          slots[CHUNK_SLOTS];
} chunk;
_Static_assert(sizeof(chunk) <= CHUNK_SIZE, "chunk too big");

static pthread_mutex_t mapping_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static chunk *chunks;
static slot *free_slots;
static section *named_sections;

/* A child forked while another thread was in here must not inherit a held
 * lock (no prepare handler: taking it before fork could deadlock against
 * the regions lock). */
static void mapping_atfork_child(void)
{
    pthread_mutex_init(&mapping_lock, NULL);
}

static void mapping_atfork_init(void)
{
    pthread_atfork(NULL, NULL, mapping_atfork_child);
}

static void lock(void)
{
    pthread_once(&atfork_once, mapping_atfork_init);
    pthread_mutex_lock(&mapping_lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&mapping_lock);
}

static void *slot_alloc(uint32_t magic)
{
    if (!free_slots) {
        void *p;
        if (wh_os_map_metadata(CHUNK_SIZE, &p) != 0) return NULL;
        chunk *c = p;
        c->next = chunks;
        chunks = c;
        for (size_t i = CHUNK_SLOTS; i-- > 0; ) {
            c->slots[i].free.next = free_slots;
            free_slots = &c->slots[i];
        }
    }
    slot *s = free_slots;
    free_slots = s->free.next;
    memset(s, 0, sizeof *s);
    s->magic = magic;
    return s;
}

static void slot_free(void *p)
{
    slot *s = p;
    s->magic = MAGIC_FREE;
    s->free.next = free_slots;
    free_slots = s;
}

/* Caller holds mapping_lock. */
static bool handle_is_valid(const wheap_mapping *h)
{
    uintptr_t a = (uintptr_t)h;
    for (chunk *c = chunks; c; c = c->next) {
        uintptr_t first = (uintptr_t)c->slots, end = (uintptr_t)(c->slots + CHUNK_SLOTS);
        if (a < first || a >= end) continue;
        return (a - first) % sizeof(slot) == 0 && h->magic == MAGIC_HANDLE;
    }
    return false;
}

/* ------------------------------------------------------------------------
 * Protections and rights
 * ---------------------------------------------------------------------- */

static bool section_protect_valid(uint32_t p)
{
    switch (p) {
    case WHEAP_PAGE_READONLY: case WHEAP_PAGE_READWRITE: case WHEAP_PAGE_WRITECOPY:
    case WHEAP_PAGE_EXECUTE_READ: case WHEAP_PAGE_EXECUTE_READWRITE:
    case WHEAP_PAGE_EXECUTE_WRITECOPY:
        return true;
    default:
        return false;
    }
}

static bool writes_shared(uint32_t p)
{
    return p == WHEAP_PAGE_READWRITE || p == WHEAP_PAGE_EXECUTE_READWRITE;
}

static bool is_copy(uint32_t p)
{
    return p == WHEAP_PAGE_WRITECOPY || p == WHEAP_PAGE_EXECUTE_WRITECOPY;
}

static bool executes(uint32_t p)
{
    return (p & 0xF0u) != 0;
}

/* The protection of a view mapped with desired access, as Win32 derives it:
 * COPY alone is copy-on-write, WRITE read-write, READ read-only, nothing
 * PAGE_NOACCESS; EXECUTE moves each to its executable twin. */
static uint32_t view_protect_for(uint32_t access)
{
    bool exec = access & WHEAP_FILE_MAP_EXECUTE;
    access &= ~WHEAP_FILE_MAP_EXECUTE;
    uint32_t p = access == WHEAP_FILE_MAP_COPY ? WHEAP_PAGE_WRITECOPY
               : (access & WHEAP_FILE_MAP_WRITE) ? WHEAP_PAGE_READWRITE
               : (access & WHEAP_FILE_MAP_READ) ? WHEAP_PAGE_READONLY : WHEAP_PAGE_NOACCESS;
    return exec ? p << 4 : p;
}

/* May handle h map a view with protection p?  Returns 0 or an error. */
static uint32_t view_allowed(const wheap_mapping *h, uint32_t p)
{
    uint32_t sp = h->sec->protect;
    if (writes_shared(p) ? !(h->access & WHEAP_FILE_MAP_WRITE)
                         : !(h->access & WHEAP_FILE_MAP_READ))
        return WHEAP_ERROR_ACCESS_DENIED;
    if (executes(p) && !(h->access & (WHEAP_FILE_MAP_EXECUTE | SECTION_MAP_EXECUTE)))
        return WHEAP_ERROR_ACCESS_DENIED;
    if (writes_shared(p) && (!writes_shared(sp) || !h->fd_writable))
        return WHEAP_ERROR_ACCESS_DENIED;
    if (executes(p) && !executes(sp)) return WHEAP_ERROR_ACCESS_DENIED;
    return 0;
}

uint32_t wh_view_check_protect(const wh_region *r, uint32_t *protect)
{
    const view *v = r->owner;
    if (!v) return WHEAP_ERROR_INVALID_PARAMETER;
    uint32_t base = *protect & 0xFFu, mods = *protect & ~0xFFu;
    uint32_t vp = v->protect;
    if (executes(base) && !executes(vp)) return WHEAP_ERROR_INVALID_PARAMETER;
    if (writes_shared(base) || is_copy(base)) {
        if (is_copy(vp)) {
            /* A private view's writable pages are copy-on-write pages. */
            if (base == WHEAP_PAGE_READWRITE) base = WHEAP_PAGE_WRITECOPY;
            if (base == WHEAP_PAGE_EXECUTE_READWRITE) base = WHEAP_PAGE_EXECUTE_WRITECOPY;
        } else if (!writes_shared(vp) || is_copy(base)) {
            /* Read-only views cannot become writable, and a shared page
             * cannot be turned into a private copy on Linux. */
            return WHEAP_ERROR_INVALID_PARAMETER;
        }
    }
    *protect = base | mods;
    return 0;
}

/* ------------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

/* Checks a Win32 object name and gives its namespace entry name: the
 * "Local\" or "Global\" prefix dropped (one namespace on Linux).  At most
 * 255 bytes; no '/', no '\' after the prefix, not "." or "..". */
static uint32_t entry_name(const char *name, char out[NAME_MAX_BYTES + 1])
{
    size_t len = strnlen(name, NAME_MAX_BYTES + 1);
    if (len > NAME_MAX_BYTES) return WHEAP_ERROR_INVALID_PARAMETER;
    if (!strncmp(name, "Local\\", 6)) name += 6;
    else if (!strncmp(name, "Global\\", 7)) name += 7;
    if (!*name || strchr(name, '/') || strchr(name, '\\') || !strcmp(name, ".") ||
        !strcmp(name, ".."))
        return WHEAP_ERROR_INVALID_PARAMETER;
    strcpy(out, name);
    return 0;
}

/* ------------------------------------------------------------------------
 * Sections
 * ---------------------------------------------------------------------- */

/* The header page of a named object. */
#define HEADER_MAGIC "wheapsec"
#define HEADER_VERSION 1
enum { HDR_RESERVE = 1, HDR_FILE = 2 };

typedef struct shm_header {
    char     magic[8];
    uint32_t version;
    uint32_t protect;          /* PAGE_* of the section */
    uint32_t flags;            /* HDR_* */
    uint32_t reserved0;
    uint64_t size;             /* maximum size */
    uint64_t data_offset;      /* pagefile: where the data starts; file: 0 */
    uint64_t bits_offset;      /* HDR_RESERVE: the commit bitmap, else 0 */
    uint64_t file_dev, file_ino;
    char     path[4096 - 64];  /* HDR_FILE: the file to reopen */
} shm_header;
_Static_assert(sizeof(shm_header) == 4096, "header is one 4 KiB page");

static size_t header_pages_bytes(void)
{
    return wh_align_up(sizeof(shm_header), wh_os_page_size());
}

static size_t bitmap_bytes(uint64_t size)
{
    uint64_t pages = (size + wh_os_page_size() - 1) / wh_os_page_size();
    return wh_align_up((size_t)((pages + 63) / 64 * 8), wh_os_page_size());
}

/* A fresh section with one reference.  Caller holds mapping_lock. */
static section *section_new(uint32_t protect, bool reserve, uint64_t size)
{
    section *s = slot_alloc(MAGIC_SECTION);
    if (!s) return NULL;
    s->protect = protect;
    s->reserve = reserve;
    s->size = size;
    s->refs = 1;
    return s;
}

static void section_unref(section *s)
{
    if (--s->refs) return;
    if (s->dev || s->ino) {
        for (section **p = &named_sections; *p; p = &(*p)->next)
            if (*p == s) {
                *p = s->next;
                break;
            }
    }
    if (s->bits_map) wh_os_release(s->bits_map, s->bits_map_size);
    slot_free(s);
}

/* The in-process section of a named pagefile object, if any. */
static section *section_named(uint64_t dev, uint64_t ino)
{
    for (section *s = named_sections; s; s = s->next)
        if (s->dev == dev && s->ino == ino) return s;
    return NULL;
}

static wheap_mapping *handle_new(section *s, uint32_t access, int fd, int lock_fd,
                                 bool fd_writable, const char *name)
{
    wheap_mapping *h = slot_alloc(MAGIC_HANDLE);
    if (!h) return NULL;
    h->access = access;
    h->sec = s;
    h->fd = fd;
    h->lock_fd = lock_fd;
    h->fd_writable = fd_writable;
    h->pid = wh_os_process_id();
    if (name) strcpy(h->name, name);
    return h;
}

static uint32_t os_error(int e)
{
    switch (e) {
    case EBADF:   return WHEAP_ERROR_INVALID_HANDLE;
    case EACCES:
    case EPERM:   return WHEAP_ERROR_ACCESS_DENIED;
    case ENOSPC:
    case EFBIG:
    case ENOMEM:  return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    default:      return wh_error_from_errno(e);
    }
}

/* ------------------------------------------------------------------------
 * The namespace
 * ---------------------------------------------------------------------- */

/* Opens the live object called name with LOCK_SH held and reads its header.
 * WHEAP_ERROR_FILE_NOT_FOUND when there is none. */
static uint32_t ns_attach(int dirfd, const char *name, int *out, shm_header *hdr)
{
    for (;;) {
        int fd;
        int e = wh_os_ns_open(dirfd, name, &fd);
        if (e == ENOENT) return WHEAP_ERROR_FILE_NOT_FOUND;
        if (e) return e == ELOOP ? WHEAP_ERROR_ACCESS_DENIED : os_error(e);
        /* Nobody holds it: its last handle died with its process. */
        if (wh_os_fd_lock(fd, WH_OS_LOCK_EXCLUSIVE_NOWAIT) == 0) {
            wh_os_ns_unlink(dirfd, name, fd);
            wh_os_fd_close(fd);
            return WHEAP_ERROR_FILE_NOT_FOUND;
        }
        wh_os_file_info fi;
        e = wh_os_fd_lock(fd, WH_OS_LOCK_SHARED);
        if (!e) e = wh_os_fd_info(fd, &fi);
        if (e) {
            wh_os_fd_close(fd);
            return os_error(e);
        }
        if (fi.nlink == 0) {   /* the last closer removed it meanwhile */
            wh_os_fd_close(fd);
            continue;
        }
        e = wh_os_fd_pread(fd, hdr, sizeof *hdr, 0);
        if (e || memcmp(hdr->magic, HEADER_MAGIC, 8) || hdr->version != HEADER_VERSION ||
            !fi.regular) {
            wh_os_fd_close(fd);
            return WHEAP_ERROR_ACCESS_DENIED;   /* not one of ours */
        }
        hdr->path[sizeof hdr->path - 1] = '\0';
        *out = fd;
        return 0;
    }
}

/* Builds a handle for an attached entry (lfd, with LOCK_SH). */
static uint32_t handle_from_entry(int lfd, const shm_header *hdr, uint32_t access,
                                  const char *name, wheap_mapping **out)
{
    bool reserve = hdr->flags & HDR_RESERVE;
    if (!section_protect_valid(hdr->protect)) return WHEAP_ERROR_ACCESS_DENIED;
    int fd = lfd;
    bool fd_writable = true;
    section *s = NULL;
    if (hdr->flags & HDR_FILE) {
        /* Reopen the file, read-write when views could write it. */
        bool want = writes_shared(hdr->protect) && (access & WHEAP_FILE_MAP_WRITE);
        int e = wh_os_open_file(hdr->path, want, &fd);
        if (e == EACCES && want) e = wh_os_open_file(hdr->path, want = false, &fd);
        if (e) return e == ENOENT ? WHEAP_ERROR_FILE_NOT_FOUND : os_error(e);
        wh_os_file_info fi;
        e = wh_os_fd_info(fd, &fi);
        if (e || fi.dev != hdr->file_dev || fi.ino != hdr->file_ino) {
            wh_os_fd_close(fd);   /* the file was replaced since */
            return WHEAP_ERROR_FILE_NOT_FOUND;
        }
        fd_writable = want;
        s = section_new(hdr->protect, false, hdr->size);
    } else {
        wh_os_file_info fi;
        int e = wh_os_fd_info(lfd, &fi);
        if (e) return os_error(e);
        s = section_named(fi.dev, fi.ino);
        if (s) {
            s->refs++;
        } else if ((s = section_new(hdr->protect, reserve, hdr->size))) {
            s->data_offset = hdr->data_offset;
            s->dev = fi.dev;
            s->ino = fi.ino;
            if (reserve) {
                void *p;
                e = wh_os_map_shared(lfd, 0, (size_t)hdr->data_offset, &p);
                if (e) {
                    slot_free(s);
                    return os_error(e);
                }
                s->bits_map = p;
                s->bits_map_size = (size_t)hdr->data_offset;
                s->commit_bits = (_Atomic uint64_t *)((char *)p + hdr->bits_offset);
            }
            s->next = named_sections;
            named_sections = s;
        }
    }
    wheap_mapping *h = s ? handle_new(s, access, fd, lfd, fd_writable, name) : NULL;
    if (!h) {
        if (s) section_unref(s);
        if (fd != lfd) wh_os_fd_close(fd);
        return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    }
    *out = h;
    return 0;
}

/* What a new object of the namespace needs: data_fd is the caller's file
 * (file-backed, duplicated) or -1 (pagefile-backed). */
typedef struct new_object {
    uint32_t protect;
    bool     reserve;
    uint64_t size;
    int      data_fd;
    bool     data_writable;
} new_object;

/* Creates and publishes an entry; EEXIST (as WHEAP_ERROR_ALREADY_EXISTS)
 * when the name was taken meanwhile.  On success *out is a handle. */
static uint32_t ns_create(int dirfd, const char *name, const new_object *o,
                          wheap_mapping **out)
{
    size_t page = wh_os_page_size();
    bool file = o->data_fd >= 0;
    shm_header *hdr;
    void *hp;
    if (wh_os_map_metadata(sizeof *hdr, &hp) != 0) return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    hdr = hp;
    memcpy(hdr->magic, HEADER_MAGIC, 8);
    hdr->version = HEADER_VERSION;
    hdr->protect = o->protect;
    hdr->flags = (o->reserve ? HDR_RESERVE : 0) | (file ? HDR_FILE : 0);
    hdr->size = o->size;
    uint32_t err = 0;
    if (file) {
        wh_os_file_info fi = { 0 };
        int e = wh_os_fd_info(o->data_fd, &fi);
        if (!e) e = wh_os_fd_path(o->data_fd, hdr->path, sizeof hdr->path);
        if (e) err = e == ENOENT ? WHEAP_ERROR_ACCESS_DENIED : os_error(e);
        hdr->file_dev = fi.dev;
        hdr->file_ino = fi.ino;
    } else {
        hdr->bits_offset = o->reserve ? header_pages_bytes() : 0;
        hdr->data_offset = header_pages_bytes() + (o->reserve ? bitmap_bytes(o->size) : 0);
    }

    int fd = -1;
    int e = err ? 0 : wh_os_ns_new(dirfd, &fd);
    if (e) err = os_error(e);
    uint64_t total = file ? sizeof *hdr : hdr->data_offset + o->size;
    if (!err && (e = wh_os_fd_resize(fd, wh_align_up(total, page)))) err = os_error(e);
    if (!err && (e = wh_os_fd_pwrite(fd, hdr, sizeof *hdr, 0))) err = os_error(e);
    if (!err && (e = wh_os_fd_lock(fd, WH_OS_LOCK_SHARED))) err = os_error(e);
    if (!err && (e = wh_os_ns_publish(dirfd, fd, name)))
        err = e == EEXIST ? WHEAP_ERROR_ALREADY_EXISTS : os_error(e);
    if (!err) {
        if (file) {
            section *s = section_new(o->protect, false, o->size);
            wheap_mapping *h = s ? handle_new(s, WHEAP_FILE_MAP_ALL_ACCESS | WHEAP_FILE_MAP_EXECUTE,
                                              o->data_fd, fd, o->data_writable, name)
                                 : NULL;
            if (h) *out = h;
            else {
                if (s) section_unref(s);
                err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
            }
        } else {
            err = handle_from_entry(fd, hdr, WHEAP_FILE_MAP_ALL_ACCESS | WHEAP_FILE_MAP_EXECUTE,
                                    name, out);
        }
        if (err) wh_os_ns_unlink(dirfd, name, fd);
    }
    if (err) wh_os_fd_close(fd);
    wh_os_release(hp, sizeof *hdr);
    return err;
}

/* ------------------------------------------------------------------------
 * CreateFileMapping / OpenFileMapping / CloseHandle
 * ---------------------------------------------------------------------- */

static void *fail_ptr(uint32_t err)
{
    wh_set_error(err);
    return NULL;
}

static bool fail_bool(uint32_t err)
{
    wh_set_error(err);
    return false;
}

/* Checks the caller's file for a section with protection protect and
 * maximum size *size (0: the file's size), growing the file when the
 * section is larger and may be written; duplicates it into *out. */
static uint32_t prepare_file(int fd, uint32_t protect, uint64_t *size, int *out, bool *writable)
{
    wh_os_file_info fi;
    int e = wh_os_fd_info(fd, &fi);
    if (e) return e == EBADF ? WHEAP_ERROR_INVALID_HANDLE : os_error(e);
    if (!fi.regular) return WHEAP_ERROR_INVALID_HANDLE;
    if (!fi.readable || (writes_shared(protect) && !fi.writable)) return WHEAP_ERROR_ACCESS_DENIED;
    if (*size == 0) {
        if (fi.size == 0) return WHEAP_ERROR_INVALID_PARAMETER;   /* Win32: ERROR_FILE_INVALID */
        *size = fi.size;
    } else if (*size > fi.size) {
        /* Win32 extends the file for a section that may write it. */
        if (!writes_shared(protect)) return WHEAP_ERROR_NOT_ENOUGH_MEMORY;
        e = wh_os_fd_resize(fd, *size);
        if (e) return os_error(e);
    }
    e = wh_os_fd_dup(fd, out);
    if (e) return os_error(e);
    *writable = fi.writable;
    return 0;
}

/* An unnamed section: a memfd, or the caller's file (o->data_fd, which the
 * handle takes over: o->data_fd becomes -1). */
static uint32_t create_unnamed(new_object *o, wheap_mapping **out)
{
    int fd = o->data_fd;
    bool writable = o->data_fd < 0 || o->data_writable;
    int e = fd >= 0 ? 0 : wh_os_memfd("wheap-section", &fd);
    if (!e && o->data_fd < 0 && (e = wh_os_fd_resize(fd, o->size))) wh_os_fd_close(fd);
    if (e) return os_error(e);
    uint32_t err = 0;
    section *s = section_new(o->protect, o->reserve, o->size);
    if (!s) err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (!err && o->reserve) {
        size_t bytes = bitmap_bytes(o->size);
        void *p;
        if (wh_os_map_metadata(bytes, &p) == 0) {
            s->bits_map = p;
            s->bits_map_size = bytes;
            s->commit_bits = p;
        } else {
            err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
        }
    }
    wheap_mapping *h = NULL;
    if (!err && !(h = handle_new(s, WHEAP_FILE_MAP_ALL_ACCESS | WHEAP_FILE_MAP_EXECUTE, fd, -1,
                                 writable, NULL)))
        err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (err) {
        if (s) section_unref(s);
        if (fd != o->data_fd) wh_os_fd_close(fd);
        return err;
    }
    o->data_fd = -1;
    *out = h;
    return 0;
}

/* A named section: the existing object called entry (*existed), or a new
 * one made from o (which takes over o->data_fd). */
static uint32_t create_named(const char *entry, new_object *o, wheap_mapping **out,
                             bool *existed)
{
    int dirfd;
    int e = wh_os_ns_dir(&dirfd);
    if (e) return e == ENOTSUP ? WHEAP_ERROR_NOT_SUPPORTED : os_error(e);
    /* Open the existing object or create it; losing a race with another
     * creator or with the last closer sends us round again. */
    uint32_t err = 0;
    wheap_mapping *h = NULL;
    for (int tries = 0; !err && !h; tries++) {
        int lfd;
        shm_header hdr;
        err = ns_attach(dirfd, entry, &lfd, &hdr);
        if (!err) {
            err = handle_from_entry(lfd, &hdr, WHEAP_FILE_MAP_ALL_ACCESS | WHEAP_FILE_MAP_EXECUTE,
                                    entry, &h);
            if (err) wh_os_fd_close(lfd);
            *existed = true;
        } else if (err == WHEAP_ERROR_FILE_NOT_FOUND) {
            err = ns_create(dirfd, entry, o, &h);
            if (err == WHEAP_ERROR_ALREADY_EXISTS && tries < 100) err = 0;
            if (h) o->data_fd = -1;
        }
    }
    wh_os_fd_close(dirfd);
    if (!err) *out = h;
    return err;
}

wheap_mapping *wheap_create_file_mapping(int fd, uint32_t protect, uint64_t maximum_size,
                                         const char *name)
{
    uint32_t page_prot = protect & ~(WHEAP_SEC_COMMIT | WHEAP_SEC_RESERVE);
    uint32_t sec = protect & (WHEAP_SEC_COMMIT | WHEAP_SEC_RESERVE);
    if (!section_protect_valid(page_prot) || sec == (WHEAP_SEC_COMMIT | WHEAP_SEC_RESERVE))
        return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if (fd < -1) return fail_ptr(WHEAP_ERROR_INVALID_HANDLE);
    if (fd == -1 && (maximum_size == 0 || maximum_size > WH_MAX_APP_ADDRESS))
        return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    char entry[NAME_MAX_BYTES + 1];
    bool named = name && *name;
    if (named) {
        uint32_t err = entry_name(name, entry);
        if (err) return fail_ptr(err);
    }
    /* SEC_RESERVE means something for pagefile-backed sections only. */
    new_object o = { page_prot, fd == -1 && sec == WHEAP_SEC_RESERVE, maximum_size, -1, true };

    lock();
    uint32_t err = fd >= 0 ? prepare_file(fd, page_prot, &o.size, &o.data_fd, &o.data_writable)
                           : 0;
    wheap_mapping *h = NULL;
    bool existed = false;
    if (!err) err = named ? create_named(entry, &o, &h, &existed) : create_unnamed(&o, &h);
    wh_os_fd_close(o.data_fd);   /* still ours when it went unused */
    unlock();
    if (err) return fail_ptr(err);
    /* Win32 sets the last error on success too, so that callers can tell a
     * fresh object from an existing one. */
    wh_set_error(existed ? WHEAP_ERROR_ALREADY_EXISTS : WHEAP_ERROR_SUCCESS);
    return h;
}

wheap_mapping *wheap_open_file_mapping(uint32_t desired_access, const char *name)
{
    if (desired_access & ~FILE_MAP_RIGHTS) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    if (!name) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    char entry[NAME_MAX_BYTES + 1];
    uint32_t err = entry_name(name, entry);
    if (err) return fail_ptr(err);
    lock();
    int dirfd;
    int e = wh_os_ns_dir(&dirfd);
    wheap_mapping *h = NULL;
    if (e) {
        err = e == ENOTSUP ? WHEAP_ERROR_NOT_SUPPORTED
            : e == EACCES ? WHEAP_ERROR_ACCESS_DENIED : os_error(e);
    } else {
        int lfd;
        shm_header hdr;
        err = ns_attach(dirfd, entry, &lfd, &hdr);
        if (!err) {
            err = handle_from_entry(lfd, &hdr, desired_access, entry, &h);
            if (err) wh_os_fd_close(lfd);
        }
        wh_os_fd_close(dirfd);
    }
    unlock();
    return h ? h : fail_ptr(err);
}

bool wheap_close_mapping(wheap_mapping *h)
{
    lock();
    if (!h || !handle_is_valid(h)) {
        unlock();
        return fail_bool(WHEAP_ERROR_INVALID_HANDLE);
    }
    /* The last holder of the name removes it.  A handle inherited across
     * fork shares its lock with the parent's: closing it there must not
     * decide for both. */
    if (h->lock_fd >= 0 && h->pid == wh_os_process_id() &&
        wh_os_fd_lock(h->lock_fd, WH_OS_LOCK_EXCLUSIVE_NOWAIT) == 0) {
        int dirfd;
        if (wh_os_ns_dir(&dirfd) == 0) {
            wh_os_ns_unlink(dirfd, h->name, h->lock_fd);
            wh_os_fd_close(dirfd);
        }
    }
    if (h->lock_fd >= 0 && h->lock_fd != h->fd) wh_os_fd_close(h->lock_fd);
    wh_os_fd_close(h->fd);
    section_unref(h->sec);
    slot_free(h);
    unlock();
    return true;
}

/* ------------------------------------------------------------------------
 * Views
 * ---------------------------------------------------------------------- */

/* Set while this thread commits pages that need no propagation (a new
 * view picking up the section's committed pages, or a propagation). */
static __thread bool quiet __attribute__((tls_model("initial-exec")));

WH_INLINE bool bit_get(_Atomic uint64_t *b, uint64_t i)
{
    return (atomic_load_explicit(&b[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}

static void unmap_view_record(view *v)
{
    /* Caller holds mapping_lock; the region is gone or never existed. */
    section *s = v->sec;
    slot_free(v);
    section_unref(s);
}

void *wheap_map_view_of_file_ex(wheap_mapping *h, uint32_t desired_access, uint64_t offset,
                                size_t bytes, void *base_address)
{
    size_t page = wh_os_page_size();
    if (desired_access & ~FILE_MAP_RIGHTS) return fail_ptr(WHEAP_ERROR_INVALID_PARAMETER);
    lock();
    uint32_t err = 0;
    if (!h || !handle_is_valid(h)) err = WHEAP_ERROR_INVALID_HANDLE;
    uint32_t vprot = view_protect_for(desired_access);
    if (!err) err = view_allowed(h, vprot);
    if (!err && (offset % WH_GRANULARITY || (uintptr_t)base_address % WH_GRANULARITY))
        err = WHEAP_ERROR_MAPPED_ALIGNMENT;
    section *s = err ? NULL : h->sec;
    if (!err && offset >= s->size) err = WHEAP_ERROR_ACCESS_DENIED;   /* STATUS_INVALID_VIEW_SIZE */
    if (!err && bytes == 0) bytes = (size_t)(s->size - offset);
    if (!err && (bytes > s->size - offset || bytes > WH_MAX_APP_ADDRESS))
        err = WHEAP_ERROR_ACCESS_DENIED;
    if (!err && base_address && ((uintptr_t)base_address < WH_MIN_APP_ADDRESS ||
                                 (uintptr_t)base_address + bytes > WH_MAX_APP_ADDRESS))
        err = WHEAP_ERROR_INVALID_ADDRESS;
    view *v = err ? NULL : slot_alloc(MAGIC_VIEW);
    if (!err && !v) err = WHEAP_ERROR_NOT_ENOUGH_MEMORY;
    if (err) {
        unlock();
        return fail_ptr(err);
    }
    size_t len = wh_align_up(bytes, page);
    v->protect = vprot;
    v->sec = s;
    v->npages = len / page;
    v->first_page = offset / page;
    s->refs++;

    void *p;
    err = wh_vm_reserve_at((uintptr_t)base_address, wh_align_up(bytes, WH_GRANULARITY), vprot,
                           WH_RG_VIEW, v, &p);
    if (err) {
        unmap_view_record(v);
        unlock();
        return fail_ptr(err);
    }
    v->base = (uintptr_t)p;
    int e = wh_os_map_view(p, len, !is_copy(vprot), h->fd, s->data_offset + offset);
    wh_regions_lock();
    v->next = s->views;
    s->views = v;
    wh_regions_unlock();
    if (e) {
        err = e == ENODEV ? WHEAP_ERROR_INVALID_HANDLE : os_error(e);
    } else if (!s->reserve) {
        err = wh_vm_commit(p, len, vprot);
    } else {
        /* SEC_RESERVE: the pages the section has committed, in any view of
         * any process, are committed in this view too. */
        quiet = true;
        for (size_t i = 0; !err && i < v->npages; ) {
            if (!bit_get(s->commit_bits, v->first_page + i)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < v->npages && bit_get(s->commit_bits, v->first_page + j)) j++;
            err = wh_vm_commit((char *)p + i * page, (j - i) * page, vprot);
            i = j;
        }
        quiet = false;
    }
    if (err) {
        void *owner;
        wh_vm_release_view(p, &owner);
        unmap_view_record(v);
        unlock();
        return fail_ptr(err);
    }
    unlock();
    return p;
}

void *wheap_map_view_of_file(wheap_mapping *h, uint32_t desired_access, uint64_t offset,
                             size_t bytes)
{
    return wheap_map_view_of_file_ex(h, desired_access, offset, bytes, NULL);
}

bool wheap_unmap_view_of_file(const void *address)
{
    lock();
    void *owner = NULL;
    uint32_t err = wh_vm_release_view(address, &owner);
    if (!err && owner) unmap_view_record(owner);
    unlock();
    return err ? fail_bool(err) : true;
}

bool wheap_flush_view_of_file(const void *address, size_t bytes)
{
    size_t page = wh_os_page_size();
    uintptr_t a = (uintptr_t)address;
    wh_regions_lock();
    wh_region *r = wh_region_find(a);
    const view *v = r && (r->flags & WH_RG_VIEW) ? r->owner : NULL;
    uintptr_t end = v ? v->base + v->npages * page : 0;
    wh_regions_unlock();
    if (!v || a >= end) return fail_bool(WHEAP_ERROR_INVALID_ADDRESS);
    uintptr_t start = wh_align_down(a, page);
    uintptr_t stop = bytes == 0 || bytes > end - a ? end : wh_align_up(a + bytes, page);
    int e = wh_os_sync((void *)start, stop - start);
    return e ? fail_bool(e == ENOMEM ? WHEAP_ERROR_INVALID_ADDRESS : os_error(e)) : true;
}

/* ------------------------------------------------------------------------
 * Hooks from vm.c (regions lock held)
 * ---------------------------------------------------------------------- */

void wh_view_committed(wh_region *r, size_t i0, size_t i1)
{
    view *v = r->owner;
    if (!v || quiet || !v->sec->reserve) return;
    section *s = v->sec;
    if (i1 > v->npages) i1 = v->npages;
    if (i0 >= i1) return;
    uint64_t s0 = v->first_page + i0, s1 = v->first_page + i1;
    for (uint64_t i = s0; i < s1; i++)
        atomic_fetch_or_explicit(&s->commit_bits[i / 64], (uint64_t)1 << (i % 64),
                                 memory_order_relaxed);
    /* Win32 commits a SEC_RESERVE section's pages, not one view's: every
     * other view of it in this process sees them committed, with its own
     * protection.  (Views in other processes pick them up when mapped.) */
    quiet = true;
    for (view *w = s->views; w; w = w->next) {
        if (w == v) continue;
        uint64_t a = s0 > w->first_page ? s0 : w->first_page;
        uint64_t b = s1 < w->first_page + w->npages ? s1 : w->first_page + w->npages;
        wh_region *wr = a < b ? wh_region_find(w->base) : NULL;
        if (!wr || wr->owner != w) continue;
        for (size_t j = (size_t)(a - w->first_page); j < (size_t)(b - w->first_page); ) {
            if (atomic_load_explicit(&wr->pages[j], memory_order_relaxed) & WH_PG_COMMITTED) {
                j++;
                continue;
            }
            size_t k = j;
            while (k < (size_t)(b - w->first_page) &&
                   !(atomic_load_explicit(&wr->pages[k], memory_order_relaxed) & WH_PG_COMMITTED))
                k++;
            wh_vm_commit_locked(wr, j, k, w->protect);   /* best effort */
            j = k;
        }
    }
    quiet = false;
}

void wh_view_released(wh_region *r)
{
    view *v = r->owner;
    if (!v) return;
    for (view **p = &v->sec->views; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
}
