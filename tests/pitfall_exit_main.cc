/*
 * The program of tests/pitfall_exit.sh (PITFALLS 14): exit ordering.  It
 * dlopens two C++ libraries (argv[1], argv[2]) whose statics allocate; one
 * stays loaded until exit, the other is dlclosed from an atexit handler.
 * Its own statics allocate in their constructors and verify and free in
 * their destructors, an atexit handler allocates, and a detached thread
 * keeps calling malloc and free while the process exits: the allocator must
 * never have been torn down under any of them.  Every step writes a line;
 * the script compares the whole output with a run without the library.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <string>

namespace {

void say(const char *what)
{
    if (write(1, what, strlen(what)) < 0) _exit(5);
}

void *lib_b;

struct main_static {
    std::list<std::string> lines;
    main_static()
    {
        for (int i = 0; i < 2000; i++) lines.push_back("line " + std::to_string(i));
    }
    ~main_static()
    {
        int i = 0;
        for (const std::string &s : lines)
            if (s != "line " + std::to_string(i++)) {
                say("main: static damaged\n");
                _exit(3);
            }
        lines.clear();
        std::string bye(3000, 'm');
        say("main: static destructor\n");
    }
} main_static_object;

void main_at_exit()
{
    for (int i = 0; i < 100; i++) free(malloc((size_t)i * 100 + 1));
    say("main: atexit handler\n");
}

void close_b_at_exit()
{
    if (dlclose(lib_b) != 0) {
        say("main: dlclose failed\n");
        _exit(3);
    }
    say("main: dlclosed b\n");
}

void *churn(void *)
{
    for (unsigned i = 0;; i++) {
        char *p = static_cast<char *>(malloc(i % 3000 + 1));
        if (!p) _exit(4);
        p[0] = 1;
        free(p);
    }
    return nullptr;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s liba.so libb.so\n", argv[0]);
        return 2;
    }
    atexit(main_at_exit);
    void *a = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    lib_b = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!a || !lib_b) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    atexit(close_b_at_exit);     /* runs before main_at_exit (reverse order) */
    auto a_work = reinterpret_cast<long (*)(long)>(dlsym(a, "pitfall_exit_a_work"));
    auto b_work = reinterpret_cast<long (*)(long)>(dlsym(lib_b, "pitfall_exit_b_work"));
    if (!a_work || !b_work) return 2;
    if (a_work(1000) != 3000 + 1000 || b_work(500) != 5500) {
        say("main: library work gave wrong results\n");
        return 3;
    }
    pthread_t t;
    if (pthread_create(&t, nullptr, churn, nullptr) != 0) return 2;
    pthread_detach(t);
    usleep(1000);
    say("main: returning\n");
    return 0;
}
