/*
 * A shared object for tests/pitfall_exit.sh (PITFALLS 14) that the program
 * dlcloses from an atexit handler: its static destructors and its own
 * atexit handler then run in the middle of exit(), and allocate.
 */
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

void say(const char *what)
{
    if (write(1, what, strlen(what)) < 0) _exit(5);
}

struct cache {
    std::unordered_map<int, std::string> items;
    cache()
    {
        for (int i = 0; i < 5000; i++) items.emplace(i, std::string((size_t)(i % 300), 'b'));
    }
    ~cache()
    {
        for (int i = 0; i < 5000; i += 11) {
            auto it = items.find(i);
            if (it == items.end() || it->second.size() != (size_t)(i % 300)) {
                say("b: cache damaged\n");
                _exit(3);
            }
        }
        std::vector<std::string> copy;
        for (auto &kv : items) copy.push_back(kv.second);
        items.clear();
        say("b: static destructor\n");
    }
};

cache the_cache;

void b_at_exit()
{
    char *p = static_cast<char *>(calloc(100, 100));
    if (!p || p[9999]) _exit(3);
    p = static_cast<char *>(realloc(p, 100000));
    free(p);
    say("b: atexit handler\n");
}

struct setup {
    setup() { atexit(b_at_exit); }
} setup_;

}  // namespace

extern "C" long pitfall_exit_b_work(long n)
{
    static std::string lazily_built(10000, 'z');    // a function-local static
    for (long i = 0; i < n; i++) the_cache.items[(int)(10000 + i)] = lazily_built.substr(0, (size_t)i);
    return (long)the_cache.items.size();
}
