/*
 * WHEAP_OPTIONS: a comma-separated key=value list, read once with
 * secure_getenv (ignored in setuid programs, PITFALLS row 13).  One table
 * names every key with its type and default; later work extends the table.
 * Parsing never allocates: it runs before and inside malloc.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef enum { OPT_BOOL, OPT_U64, OPT_ENUM } opt_type;

typedef struct opt_desc {
    const char *key;
    opt_type    type;
    size_t      offset;          /* into wh_options */
    uint64_t    def;
    const char *const *names;    /* OPT_ENUM: value names, index = value */
    const char *doc;
} opt_desc;

static const char *const guard_names[] = { "off", "page", "sample", NULL };

#define OPT(k, t, field, d, n, doc) { k, t, offsetof(wh_options, field), d, n, doc }
static const opt_desc opt_table[] = {
    OPT("purge_delay_ms",    OPT_U64,  purge_delay_ms,    10,   NULL,
        "empty pages are reset (MADV_FREE) after this many ms of heap activity"),
    OPT("decommit_delay_ms", OPT_U64,  decommit_delay_ms, 250,  NULL,
        "reset pages are decommitted (RSS falls) this many ms later"),
    OPT("background_purge",  OPT_BOOL, background_purge,  0,    NULL,
        "start a thread that purges even while the process is idle"),
    OPT("stats",             OPT_BOOL, stats,             0,    NULL,
        "print statistics to stderr at exit"),
    OPT("verbose",           OPT_BOOL, verbose,           0,    NULL,
        "report notable events on stderr (at most 1000 lines)"),
    OPT("abort_on_misuse",   OPT_BOOL, abort_on_misuse,   1,    NULL,
        "abort after diagnosing a bad pointer (0: warn and carry on)"),
    OPT("large_pages",       OPT_BOOL, large_pages,       0,    NULL,
        "transparent huge pages (or a hugetlb pool) for heap segments and huge blocks"),
    OPT("arena_max",         OPT_U64,  arena_max,         0,    NULL,
        "most malloc arenas (0: one per thread; N: threads share N locked arenas)"),
    OPT("guard_mode",        OPT_ENUM, guard_mode,        0,    guard_names,
        "off, page (every block before a guard page) or sample"),
    OPT("guard_sample",      OPT_U64,  guard_sample,      1000, NULL,
        "sample mode: one allocation in N is guarded"),
    OPT("live",              OPT_BOOL, live,              0,    NULL,
        "publish statistics for `wheap top`/`wheap map`"),
};
#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

void wh_options_defaults(wh_options *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const opt_desc *d = &opt_table[i];
        char *field = (char *)out + d->offset;
        if (d->type == OPT_BOOL) *(bool *)field = d->def != 0;
        else *(uint64_t *)field = d->def;
    }
}

static bool token_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncmp(s, word, n) == 0;
}

static bool parse_value(const opt_desc *d, const char *v, size_t n, char *field)
{
    if (d->type == OPT_BOOL) {
        if (token_is(v, n, "1") || token_is(v, n, "true") || token_is(v, n, "yes") ||
            token_is(v, n, "on")) { *(bool *)field = true; return true; }
        if (token_is(v, n, "0") || token_is(v, n, "false") || token_is(v, n, "no") ||
            token_is(v, n, "off")) { *(bool *)field = false; return true; }
        return false;
    }
    if (d->type == OPT_ENUM) {
        for (uint64_t i = 0; d->names[i]; i++)
            if (token_is(v, n, d->names[i])) { *(uint64_t *)field = i; return true; }
        return false;
    }
    if (n == 0 || n > 19) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *(uint64_t *)field = x;
    return true;
}

/* Prints "wheap: WHEAP_OPTIONS: <what> '<token>'" without allocating. */
static void warn_token(const char *what, const char *s, size_t n)
{
    char tok[96];
    if (n > sizeof tok - 1) n = sizeof tok - 1;
    memcpy(tok, s, n);
    tok[n] = '\0';
    wh_message("WHEAP_OPTIONS: %s '%s' ignored", what, tok);
}

void wh_options_parse(const char *text, wh_options *out)
{
    wh_options_defaults(out);
    if (!text) return;
    const char *s = text;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        /* Trim blanks around the item. */
        while (len && (*s == ' ' || *s == '\t')) { s++; len--; }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len) {
            const char *eq = memchr(s, '=', len);
            size_t klen = eq ? (size_t)(eq - s) : len;
            while (klen && (s[klen - 1] == ' ' || s[klen - 1] == '\t')) klen--;
            const char *val = eq ? eq + 1 : NULL;
            size_t vlen = eq ? len - (size_t)(eq + 1 - s) : 0;
            while (vlen && (*val == ' ' || *val == '\t')) { val++; vlen--; }
            const opt_desc *d = NULL;
            for (size_t i = 0; i < OPT_COUNT; i++)
                if (token_is(s, klen, opt_table[i].key)) { d = &opt_table[i]; break; }
            if (!d) {
                warn_token("unknown key", s, klen);
            } else if (!eq) {
                /* A bare boolean key switches it on. */
                if (d->type != OPT_BOOL || !parse_value(d, "1", 1, (char *)out + d->offset))
                    warn_token("missing value for", s, klen);
            } else if (!parse_value(d, val, vlen, (char *)out + d->offset)) {
                warn_token("bad value in", s, len);
            }
        }
        if (!end) break;
        s = end + 1;
    }
}

static wh_options the_options;
static _Atomic int options_state;   /* 0 unread, 1 being read, 2 ready */

/* verbose=1: "wheap: options: key=value,..." for every key, once. */
static void options_report(const wh_options *o)
{
    char line[480];
    size_t n = 0;
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const opt_desc *d = &opt_table[i];
        const char *field = (const char *)o + d->offset;
        char val[24];
        const char *v = val;
        if (d->type == OPT_BOOL) {
            v = *(const bool *)field ? "1" : "0";
        } else if (d->type == OPT_ENUM) {
            v = d->names[*(const uint64_t *)field];
        } else {
            uint64_t x = *(const uint64_t *)field;
            char tmp[24];
            size_t k = 0;
            do tmp[k++] = (char)('0' + x % 10); while ((x /= 10) != 0);
            for (size_t j = 0; j < k; j++) val[j] = tmp[k - 1 - j];
            val[k] = '\0';
        }
        size_t kl = strlen(d->key), vl = strlen(v);
        if (n + kl + vl + 2 >= sizeof line) break;
        if (n) line[n++] = ',';
        memcpy(line + n, d->key, kl);
        n += kl;
        line[n++] = '=';
        memcpy(line + n, v, vl);
        n += vl;
    }
    line[n] = '\0';
    wh_message("options: %s", line);
}

WH_COLD static void options_init(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&options_state, &expected, 1)) {
        wh_options_parse(secure_getenv("WHEAP_OPTIONS"), &the_options);
        atomic_store_explicit(&options_state, 2, memory_order_release);
        if (the_options.verbose) options_report(&the_options);
        return;
    }
    while (atomic_load_explicit(&options_state, memory_order_acquire) != 2)
        wh_cpu_relax();
}

const wh_options *wh_options_get(void)
{
    if (wh_unlikely(atomic_load_explicit(&options_state, memory_order_acquire) != 2))
        options_init();
    return &the_options;
}

wh_options *wh_options_tunable(void)
{
    (void)wh_options_get();
    return &the_options;
}

static _Atomic unsigned verbose_lines;

bool wh_verbose_slot(void)
{
    unsigned n = atomic_fetch_add_explicit(&verbose_lines, 1, memory_order_relaxed);
    if (n < WH_VERBOSE_MAX) return true;
    if (n == WH_VERBOSE_MAX) wh_message("verbose: %u lines printed, further events dropped", n);
    return false;
}
