/* WHEAP_OPTIONS parsing: defaults, every type, blanks, unknown keys and bad
 * values warn once and are ignored. */
#include "test.h"
#include "internal.h"
#include <fcntl.h>

/* Runs the parser with stderr captured; returns the captured text. */
static char captured[4096];
static void parse_captured(const char *text, wh_options *o)
{
    char path[] = "/tmp/wheap-opt-XXXXXX";
    int fd = mkstemp(path);
    require_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    wh_options_parse(text, o);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fd);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(void)
{
    wh_options d, o;
    wh_options_defaults(&d);
    expect_eq_u64(d.purge_delay_ms, 10);
    expect_eq_u64(d.decommit_delay_ms, 250);
    expect_false(d.background_purge);
    expect_true(d.abort_on_misuse);
    expect_eq_u64(d.guard_mode, 0);
    expect_eq_u64(d.guard_sample, 1000);

    parse_captured(NULL, &o);
    expect_true(memcmp(&o, &d, sizeof o) == 0);
    expect_eq_str(captured, "");

    parse_captured("purge_delay_ms=250,stats=1", &o);
    expect_eq_u64(o.purge_delay_ms, 250);
    expect_true(o.stats);
    expect_eq_str(captured, "");

    parse_captured(" verbose = , background_purge , guard_mode=sample ,guard_sample=7,"
                   "abort_on_misuse=off", &o);
    expect_true(o.background_purge);        /* bare boolean key switches it on */
    expect_eq_u64(o.guard_mode, 2);
    expect_eq_u64(o.guard_sample, 7);
    expect_false(o.abort_on_misuse);
    expect_eq_u64(count_lines(captured), 1);  /* "verbose = " has a bad value */
    expect_true(strstr(captured, "wheap: WHEAP_OPTIONS: bad value") != NULL);

    parse_captured("no_such_key=1,purge_delay_ms=abc,arena_max=4,stats=maybe,,", &o);
    expect_eq_u64(o.arena_max, 4);
    expect_eq_u64(o.purge_delay_ms, d.purge_delay_ms);  /* bad value: default kept */
    expect_false(o.stats);
    expect_eq_u64(count_lines(captured), 3);
    expect_true(strstr(captured, "unknown key 'no_such_key'") != NULL);
    expect_true(strstr(captured, "'purge_delay_ms=abc'") != NULL);
    expect_true(strstr(captured, "'stats=maybe'") != NULL);

    /* Overlong numbers are rejected, not wrapped. */
    parse_captured("purge_delay_ms=99999999999999999999999", &o);
    expect_eq_u64(o.purge_delay_ms, d.purge_delay_ms);
    expect_eq_u64(count_lines(captured), 1);

    /* The process options come from the environment, read once. */
    const wh_options *p = wh_options_get();
    expect_true(p == wh_options_get());
    const char *env = getenv("WHEAP_OPTIONS");
    if (!env) expect_eq_u64(p->purge_delay_ms, d.purge_delay_ms);
    return test_done();
}
