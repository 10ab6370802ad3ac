/* Two processes share a named mapping: the writer creates it (SEC_RESERVE,
 * commits and fills the first 64 KiB), a separate program (this one,
 * exec'd as "reader") opens it by name, finds the committed pages and the
 * data, and answers through it.  The name lives as long as a handle in
 * either process: the writer closes first, the name survives, then the
 * reader closes and the name is gone, while the writer's view is intact. */
#include "win32_test.h"

#define SIZE ((size_t)1 << 20)
static const char message[] = "written by the writer";

static int reader(const char *name, int to_writer, int from_writer)
{
    wheap_mapping *m = wheap_open_file_mapping(WHEAP_FILE_MAP_READ | WHEAP_FILE_MAP_WRITE, name);
    if (!m) return 10;
    char *v = wheap_map_view_of_file(m, WHEAP_FILE_MAP_WRITE, 0, 0);
    if (!v) return 11;
    wheap_memory_basic_information mi;
    if (!wheap_virtual_query(v, &mi, sizeof mi) || mi.state != WHEAP_MEM_COMMIT ||
        mi.region_size != 65536 || mi.type != WHEAP_MEM_MAPPED)
        return 12;
    if (!wheap_virtual_query(v + 65536, &mi, sizeof mi) || mi.state != WHEAP_MEM_RESERVE)
        return 13;
    if (strcmp(v, message) != 0) return 14;
    strcpy(v + 4096, "answer from the reader");
    /* Commit a page of our own: the writer maps a new view and sees it. */
    if (!wheap_virtual_alloc(v + 2 * 65536, 1, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE)) return 15;
    v[2 * 65536] = 'R';
    char c = 'r';
    if (write(to_writer, &c, 1) != 1) return 16;
    if (read(from_writer, &c, 1) != 1) return 17;   /* the writer closed its handle */
    if (!wheap_close_mapping(m)) return 18;
    if (strcmp(v + 8192, "still here") != 0) return 19;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "reader"))
        return reader(argv[2], atoi(argv[3]), atoi(argv[4]));

    const char *name = test_name("shared");
    wheap_mapping *m = wheap_create_file_mapping(-1, WHEAP_PAGE_READWRITE | WHEAP_SEC_RESERVE,
                                                 SIZE, name);
    require_true(m != NULL);
    char *v = wheap_map_view_of_file(m, WHEAP_FILE_MAP_ALL_ACCESS, 0, 0);
    require_true(v != NULL);
    require_true(wheap_virtual_alloc(v, 65536, WHEAP_MEM_COMMIT, WHEAP_PAGE_READWRITE) == v);
    strcpy(v, message);

    int up[2], down[2];
    require_true(pipe(up) == 0 && pipe(down) == 0);
    fflush(NULL);
    pid_t pid = fork();
    require_true(pid >= 0);
    if (pid == 0) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", up[1]);
        snprintf(b, sizeof b, "%d", down[0]);
        execl("/proc/self/exe", argv[0], "reader", name, a, b, (char *)NULL);
        _exit(99);
    }
    char c;
    require_true(read(up[0], &c, 1) == 1);
    expect_eq_str(v + 4096, "answer from the reader");
    /* The reader's commit is the section's: a new view shows it. */
    char *v2 = wheap_map_view_of_file(m, WHEAP_FILE_MAP_READ, 0, 0);
    require_true(v2 != NULL);
    wheap_memory_basic_information mi = query(v2 + 2 * 65536);
    expect_eq_u64(mi.state, WHEAP_MEM_COMMIT);
    expect_eq_u64(v2[2 * 65536], 'R');

    /* Our handle goes first: the reader still holds the name. */
    expect_true(wheap_close_mapping(m));
    wheap_mapping *probe = wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name);
    expect_true(probe != NULL);
    if (probe) expect_true(wheap_close_mapping(probe));
    strcpy(v + 8192, "still here");
    require_true(write(down[1], "x", 1) == 1);
    int status = 0;
    require_true(waitpid(pid, &status, 0) == pid);
    expect_child_exit(status, 0);
    /* Now nobody holds it. */
    expect_null(wheap_open_file_mapping(WHEAP_FILE_MAP_READ, name));
    expect_error(WHEAP_ERROR_FILE_NOT_FOUND);
    expect_eq_str(v, message);
    expect_eq_str(v + 4096, "answer from the reader");
    expect_true(wheap_unmap_view_of_file(v));
    expect_true(wheap_unmap_view_of_file(v2));
    return test_done();
}
