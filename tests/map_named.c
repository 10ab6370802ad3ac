/* Naming rules of named mappings: ERROR_ALREADY_EXISTS for an existing
 * name (and ERROR_SUCCESS for a fresh one), ERROR_FILE_NOT_FOUND for a
 * missing one, Local\ and Global\ as one namespace, case-sensitive names of
 * at most 255 bytes without '/', the name gone with the last handle while
 * views live on, an orphan of a crashed process cleaned up, and another
 * user unable to see the name. */
#include "win32_test.h"

#include <grp.h>

#define SIZE ((size_t)65536)

static char *view(wheap_mapping *m)
{
    char *p = wheap_map_view_of_file(m, WHEAP_FILE_MAP_ALL_ACCESS, 0, 0);
    require_true(p != NULL);
    return p;
}

static const char *other_name;

static void create_and_crash(void *arg)
{
    (void)arg;
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, other_name);
    if (!m) _exit(1);
    view(m)[0] = 'c';
    _exit(0);   /* without closing: the kernel drops the lock, the name stays */
}

static void as_other_user(void *arg)
{
    const char *name = arg;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
    wheap_set_last_error(0);
    if (wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name)) _exit(2);
    if (wheap_get_last_error() != WHEAP_ERROR_FILE_NOT_FOUND) _exit(3);
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/wheap-0/%s", name);
    if (open(path, O_RDONLY) >= 0 || errno != EACCES) _exit(4);
    /* The same name is free in this user's own namespace. */
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, name);
    if (!m || wheap_get_last_error() != WHEAP_ERROR_SUCCESS) _exit(5);
    if (view(m)[0] != 0) _exit(6);
    wheap_close_mapping(m);
    _exit(0);
}

int main(void)
{
    const char *name = test_name("named");
    char local_name[200], global_name[200];
    snprintf(local_name, sizeof local_name, "Local\\%s", name);
    snprintf(global_name, sizeof global_name, "Global\\%s", name);

    wheap_mapping *m1 = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, name);
    require_true(m1 != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);
    wheap_mapping *m2 = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, 2 * SIZE, name);
    require_true(m2 != NULL);
    expect_error(WHEAP_ERROR_ALREADY_EXISTS);
    expect_true(m1 != m2);
    wheap_mapping *m3 = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, local_name);
    require_true(m3 != NULL);
    expect_error(WHEAP_ERROR_ALREADY_EXISTS);
    wheap_mapping *m4 = wheap_open_file_mapping(WHEAP_FILE_MAP_ALL_ACCESS, global_name);
    require_true(m4 != NULL);

    char *p1 = view(m1), *p2 = view(m2), *p3 = view(m3), *p4 = view(m4);
    p1[0] = 'a';
    p4[SIZE - 1] = 'b';
    expect_eq_u64(p2[0], 'a');
    expect_eq_u64(p3[SIZE - 1], 'b');
    /* The existing object keeps its size: the second create's is ignored. */
    expect_null(wheap_map_view_of_file(m2, WHEAP_FILE_MAP_READ, 0, 2 * SIZE));
    expect_error(WHEAP_ERROR_ACCESS_DENIED);

    /* Case matters. */
    char upper[200];
    snprintf(upper, sizeof upper, "%s", name);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, upper));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    wheap_mapping *mu = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, upper);
    require_true(mu != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);
    expect_eq_u64(view(mu)[0], 0);
    expect_true(wheap_close_mapping(mu));

    /* Missing names and bad names. */
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, test_name("missing")));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, NULL));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    char longest[300];
    memset(longest, 'n', 255);
    memcpy(longest, name, strlen(name));   /* unique to this process */
    longest[255] = '\0';
    wheap_mapping *ml = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, longest);
    expect_true(ml != NULL);
    wheap_mapping *ml2 = wheap_open_file_mapping(WHEAP_FILE_MAP_READ, longest);
    expect_true(ml2 != NULL);
    expect_true(wheap_close_mapping(ml2));
    expect_true(wheap_close_mapping(ml));
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, longest));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    longest[255] = 'n';
    longest[256] = '\0';
    expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, longest));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, longest));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    const char *bad[] = { "a/b", "/", "Local\\", "Global\\", "Local\\a\\b", ".", "..",
                          "Local\\.." };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wheap_set_last_error(0);
        expect_null(wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, bad[i]));
        expect_error(WHEAP_ERROR_INVALID_PARAMETER);
        expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, bad[i]));
        expect_error(WHEAP_ERROR_INVALID_PARAMETER);
    }
    expect_null(wheap_open_file_mapping(0x40000000u, name));
    expect_error(WHEAP_ERROR_INVALID_PARAMETER);

    /* The last handle takes the name with it; the views stay valid. */
    expect_true(wheap_close_mapping(m1));
    expect_true(wheap_close_mapping(m2));
    expect_true(wheap_close_mapping(m3));
    wheap_mapping *again = wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name);
    expect_true(again != NULL);   /* m4 still open */
    expect_true(wheap_close_mapping(again));
    expect_true(wheap_close_mapping(m4));
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    expect_eq_u64(p1[0], 'a');
    p2[1] = 'z';
    expect_eq_u64(p4[1], 'z');
    wheap_mapping *fresh = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, name);
    require_true(fresh != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);
    expect_eq_u64(view(fresh)[0], 0);   /* a new object, not the old one */
    expect_eq_u64(p1[0], 'a');
    expect_true(wheap_close_mapping(fresh));
    char *ps[] = { p1, p2, p3, p4 };
    for (int i = 0; i < 4; i++) expect_true(wheap_unmap_view_of_file(ps[i]));

    /* A process that dies holding the only handle leaves an entry nobody
     * holds: the next opener removes it. */
    other_name = test_name("orphan");
    expect_child_exit(test_in_child(create_and_crash, NULL), 0);
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, other_name));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    wheap_mapping *mo = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, other_name);
    require_true(mo != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);
    expect_true(wheap_close_mapping(mo));

    /* A named file-backed mapping: openers reach the same file, by name. */
    char path[64];
    int fd = temp_file(SIZE, 'F', path);
    const char *fname = test_name("file");
    wheap_mapping *mf = wheap_create_file_mapping(fd, WHEAP_PAGE_READWRITE, 0, fname);
    require_true(mf != NULL);
    expect_error(WHEAP_ERROR_SUCCESS);
    close(fd);
    wheap_mapping *mf2 = wheap_open_file_mapping(WHEAP_FILE_MAP_ALL_ACCESS, fname);
    require_true(mf2 != NULL);
    char *f1 = view(mf), *f2 = view(mf2);
    expect_eq_u64(f2[SIZE - 1], 'F');
    f1[0] = 'G';
    expect_eq_u64(f2[0], 'G');
    wheap_mapping *mf3 = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, fname);
    require_true(mf3 != NULL);   /* the existing (file-backed) object */
    expect_error(WHEAP_ERROR_ALREADY_EXISTS);
    expect_eq_u64(view(mf3)[0], 'G');
    expect_true(wheap_close_mapping(mf3));
    expect_true(wheap_close_mapping(mf2));
    /* A file replaced under its path is no longer the mapping's file. */
    unlink(path);
    int fd2 = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    require_true(fd2 >= 0);
    require_true(ftruncate(fd2, SIZE) == 0);
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, fname));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    close(fd2);
    unlink(path);
    expect_true(wheap_close_mapping(mf));
    expect_eq_u64(f1[0], 'G');

    /* Another user can neither open the name nor reach the entry. */
    if (geteuid() == 0) {
        wheap_mapping *mine = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE, SIZE, name);
        require_true(mine != NULL);
        view(mine)[0] = 's';
        int st = test_in_child(as_other_user, (void *)name);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
            fprintf(stderr, "note: cannot switch user here; other-user check skipped\n");
        else
            expect_child_exit(st, 0);
        expect_true(wheap_close_mapping(mine));
        rmdir("/dev/shm/wheap-65534");
    } else {
        fprintf(stderr, "note: not root; other-user check skipped\n");
    }
    return test_done();
}
