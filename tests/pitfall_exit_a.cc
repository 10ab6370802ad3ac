/*
 * A shared object for tests/pitfall_exit.sh (PITFALLS 14): C++ statics that
 * allocate in their constructors and verify and free their memory in their
 * destructors at exit, an atexit handler registered from the library, and a
 * static that owns heap memory through a smart pointer.  The program keeps
 * this library loaded until exit.
 */
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

void say(const char *what)
{
    if (write(1, what, strlen(what)) < 0) _exit(5);
}

void die(const char *what)
{
    say(what);
    _exit(3);
}

struct registry {
    std::map<std::string, std::vector<int>> entries;
    std::string tag;

    registry()
    {
        for (int i = 0; i < 3000; i++)
            entries["key-" + std::to_string(i)] = std::vector<int>((size_t)(i % 40), i);
        tag.assign(5000, 'a');
    }
    ~registry()
    {
        /* Contents intact at exit, and the destructor allocates too. */
        if (entries.size() != 3000) die("a: registry lost entries\n");
        for (int i = 0; i < 3000; i += 7) {
            auto it = entries.find("key-" + std::to_string(i));
            if (it == entries.end() || it->second.size() != (size_t)(i % 40)) die("a: bad entry\n");
            for (int v : it->second)
                if (v != i) die("a: bad value\n");
        }
        std::string summary = "a: " + std::to_string(entries.size()) + " entries, tag " + tag.substr(0, 3);
        entries.clear();
        say("a: static destructor\n");
    }
};

registry reg;
std::unique_ptr<std::vector<std::string>> owned;

void a_at_exit()
{
    void *p = malloc(4000);
    if (!p) die("a: malloc in atexit failed\n");
    memset(p, 1, 4000);
    free(p);
    if (!owned || owned->size() != 500 || (*owned)[499] != "owned string number 499")
        die("a: owned vector damaged\n");
    say("a: atexit handler\n");
}

struct setup {
    setup()
    {
        owned.reset(new std::vector<std::string>);
        for (int i = 0; i < 500; i++) owned->push_back("owned string number " + std::to_string(i));
        atexit(a_at_exit);
    }
} setup_;

}  // namespace

extern "C" long pitfall_exit_a_work(long n)
{
    static std::vector<std::string> *log = new std::vector<std::string>;   // never freed
    for (long i = 0; i < n; i++) log->push_back(std::string(100, 'l'));
    return (long)reg.entries.size() + (long)log->size();
}
