/*
 * PITFALLS 11: re-entrancy through libc.  glibc allocates inside many of its
 * functions (stdio buffers, directory streams, resolver state, regex
 * automata, iconv steps, locale data, passwd lookups) and frees through the
 * process allocator; programs also free what libc returned to them
 * (strdup, asprintf, getline).  Loops over each with its result checked,
 * and errno checked unchanged across every free and every libc call that
 * only frees (fclose, closedir, freeaddrinfo, regfree, iconv_close).
 */
#include "malloc_test.h"

#include <dirent.h>
#include <iconv.h>
#include <locale.h>
#include <netdb.h>
#include <pwd.h>
#include <regex.h>
#include <sys/socket.h>

enum { LOOPS = 300 };

/* errno must survive call; ERRNO_SENTINEL is not a value libc sets. */
#define ERRNO_SENTINEL 4321
#define expect_errno_kept(call) \
    do { \
        errno = ERRNO_SENTINEL; \
        call; \
        if (errno != ERRNO_SENTINEL) \
            test_fail_at(__FILE__, __LINE__, "%s changed errno to %d", #call, errno); \
    } while (0)

static void check_stdio(void)
{
    char path[] = "/tmp/wheap-pitfall-libc-XXXXXX";
    int fd = mkstemp(path);
    require_true(fd >= 0);
    close(fd);
    for (int i = 0; i < LOOPS; i++) {
        FILE *f = fopen(path, "w+");
        require_true(f != NULL);
        setvbuf(f, NULL, _IOFBF, (size_t)(i % 7 + 1) * 1000);   /* libc allocates the buffer */
        for (int k = 0; k < 50; k++) fprintf(f, "line %d of round %d\n", k, i);
        rewind(f);
        char *line = NULL;
        size_t cap = 0;
        int lines = 0;
        while (getline(&line, &cap, f) > 0) lines++;
        expect_eq_u64(lines, 50);
        expect_errno_kept(free(line));
        expect_errno_kept(fclose(f));
        f = fopen("/proc/self/status", "r");
        require_true(f != NULL);
        char buf[256];
        bool found = false;
        while (fgets(buf, sizeof buf, f)) found |= !strncmp(buf, "VmRSS:", 6);
        expect_true(found);
        expect_errno_kept(fclose(f));
        char *mem = NULL;
        size_t memlen = 0;
        f = open_memstream(&mem, &memlen);
        require_true(f != NULL);
        for (int k = 0; k < 200; k++) fprintf(f, "%d,", k * i);
        expect_errno_kept(fclose(f));
        expect_true(memlen > 200);
        expect_errno_kept(free(mem));
    }
    unlink(path);
}

static void check_dirs(void)
{
    for (int i = 0; i < LOOPS; i++) {
        DIR *d = opendir(i % 2 ? "/proc/self/fd" : "/usr/lib");
        require_true(d != NULL);
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d))) n++;
        expect_gt_u64(n, 2);
        expect_errno_kept(closedir(d));
    }
}

static void check_getaddrinfo(void)
{
    const char *hosts[] = {"127.0.0.1", "::1", "localhost"};
    for (int h = 0; h < 3; h++) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = h < 2 ? AI_NUMERICHOST : 0;
        int rc = getaddrinfo(hosts[h], "80", &hints, &res);
        if (rc != 0) {
            /* No network configuration, no ::1: not this test's business. */
            fprintf(stderr, "note: getaddrinfo(%s): %s; skipped\n", hosts[h], gai_strerror(rc));
            continue;
        }
        freeaddrinfo(res);
        for (int i = 0; i < LOOPS; i++) {
            res = NULL;
            expect_eq_u64(getaddrinfo(hosts[h], "80", &hints, &res), 0);
            if (!res) break;
            char text[64] = "";
            expect_eq_u64(getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, NULL, 0,
                                      NI_NUMERICHOST), 0);
            expect_true(!strcmp(text, "127.0.0.1") || !strcmp(text, "::1"));
            expect_errno_kept(freeaddrinfo(res));
        }
    }
}

static void check_regex(void)
{
    for (int i = 0; i < LOOPS; i++) {
        regex_t re;
        expect_eq_u64(regcomp(&re, "^([a-z]+)-([0-9]{2,})(x|y)*$", REG_EXTENDED), 0);
        regmatch_t m[3];
        char text[64];
        snprintf(text, sizeof text, "item-%d%s", 10 + i, i % 2 ? "xy" : "");
        expect_eq_u64(regexec(&re, text, 3, m, 0), 0);
        expect_eq_u64(m[1].rm_eo - m[1].rm_so, 4);
        expect_eq_u64(regexec(&re, "ITEM-1", 0, NULL, 0), REG_NOMATCH);
        expect_errno_kept(regfree(&re));
    }
}

static void check_iconv(void)
{
    for (int i = 0; i < LOOPS; i++) {
        iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
        if (cd == (iconv_t)-1) {
            fprintf(stderr, "note: no UTF-8 -> UTF-16LE converter (gconv modules missing?)\n");
            return;
        }
        char in[] = "h\xc3\xa9llo w\xc3\xb6rld", out[64];
        char *ip = in, *op = out;
        size_t il = strlen(in), ol = sizeof out;
        expect_ne_u64(iconv(cd, &ip, &il, &op, &ol), (size_t)-1);
        expect_eq_u64(sizeof out - ol, 22);       /* 11 characters */
        expect_eq_u64((uint8_t)out[2], 0xe9);     /* é */
        expect_errno_kept(iconv_close(cd));
    }
}

static void check_locale(void)
{
    for (int i = 0; i < LOOPS / 10; i++) {
        const char *l = setlocale(LC_ALL, i % 2 ? "C.UTF-8" : "C");
        if (!l) {
            fprintf(stderr, "note: no C.UTF-8 locale\n");
            break;
        }
        locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
        if (loc) {
            locale_t dup = duplocale(loc);
            expect_not_null(dup);
            if (dup) expect_errno_kept(freelocale(dup));
            expect_errno_kept(freelocale(loc));
        }
    }
    setlocale(LC_ALL, "C");
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void check_strings_and_sort(void)
{
    for (int i = 0; i < LOOPS; i++) {
        char *s = strdup("a string that libc copies");
        require_true(s != NULL);
        char *t = NULL;
        expect_gt_u64(asprintf(&t, "%s %d %f %s", s, i, i * 0.5, "and more"), 20);
        char *u = strndup(t, 5);
        expect_eq_u64(strlen(u), 5);
        expect_errno_kept(free(s));
        expect_errno_kept(free(t));
        expect_errno_kept(free(u));
    }
    /* qsort allocates a scratch buffer for large arrays. */
    size_t n = 200000;
    int *v = malloc(n * sizeof *v);
    require_true(v != NULL);
    uint64_t rng = 1;
    for (size_t i = 0; i < n; i++) v[i] = (int)(mt_rand(&rng) % 1000000);
    qsort(v, n, sizeof *v, cmp_int);
    for (size_t i = 1; i < n; i++)
        if (v[i - 1] > v[i]) {
            test_fail_at(__FILE__, __LINE__, "qsort: not sorted at %zu", i);
            break;
        }
    expect_errno_kept(free(v));
}

static void check_passwd(void)
{
    for (int i = 0; i < LOOPS / 3; i++) {
        struct passwd *pw = getpwuid(getuid());
        if (!pw) {
            fprintf(stderr, "note: getpwuid(%d) found nothing\n", (int)getuid());
            return;
        }
        expect_true(pw->pw_name && pw->pw_name[0]);
        struct passwd *root = getpwnam("root");
        if (root) expect_eq_u64(root->pw_uid, 0);
        endpwent();
    }
}

int main(void)
{
    double t0 = mt_now();
    fprintf(stderr, "allocator: %s\n", mt_malloc_is_wheap() ? "wheap" : "not wheap");
    check_stdio();
    check_dirs();
    check_getaddrinfo();
    check_regex();
    check_iconv();
    check_locale();
    check_strings_and_sort();
    check_passwd();
    fprintf(stderr, "%.2f s\n", mt_now() - t0);
    return test_done();
}
