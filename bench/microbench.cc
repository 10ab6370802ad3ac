// microbench: Google Benchmark cases over every allocator of alloc_api.h,
// in one process and one run.
//
//   microbench [--wheap=PATH] [--only-preload] [--benchmark_* options]
//
// PATH (or WHEAP_LIB) is libwheap.so; --only-preload registers only the
// allocator LD_PRELOAD put in front of glibc (scripts/bench.sh runs one
// process per peer that way).  Case names are CASE/ALLOCATOR[/PARAM]; every
// case reports items_per_second, one item being one allocation (with its
// free) or one realloc, so ns per item compares across allocators.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "alloc_api.h"

namespace {

using A = bench_allocator;

constexpr size_t kBatch = 256;

void *must(void *p)
{
    if (p == nullptr) {
        std::fprintf(stderr, "microbench: allocation failed\n");
        std::abort();
    }
    return p;
}

void touch(void *p) { *static_cast<volatile char *>(p) = 1; }

// Deterministic sizes and free orders, shared by every allocator.
struct Pattern {
    std::vector<size_t> size;        // log-uniform 8..1024
    std::vector<uint32_t> order;     // a permutation of 0..kBatch-1
    Pattern()
    {
        uint64_t s = 0x9E3779B97F4A7C15ull;
        auto next = [&s] {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            return s;
        };
        for (int i = 0; i < 4096; i++) {
            int bits = 3 + static_cast<int>(next() % 8);          // 8 .. 1024
            size.push_back((size_t{1} << bits) + next() % (size_t{1} << bits));
            if (size.back() > 1024)
                size.back() = 1024;
        }
        for (uint32_t i = 0; i < kBatch; i++)
            order.push_back(i);
        for (size_t i = kBatch - 1; i > 0; i--)
            std::swap(order[i], order[next() % (i + 1)]);
    }
};
const Pattern &pattern()
{
    static const Pattern p;
    return p;
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

// malloc + write + free, the fast path a short-lived object takes.
void pair(benchmark::State &st, const A *a, size_t size)
{
    for (auto _ : st) {
        void *p = must(a->alloc(size));
        touch(p);
        benchmark::DoNotOptimize(p);
        a->release(p);
    }
    st.SetItemsProcessed(st.iterations());
}

// kBatch allocations of one size, then their frees in allocation order.
void batch(benchmark::State &st, const A *a, size_t size)
{
    void *p[kBatch];
    for (auto _ : st) {
        for (size_t i = 0; i < kBatch; i++)
            touch(p[i] = must(a->alloc(size)));
        for (size_t i = 0; i < kBatch; i++)
            a->release(p[i]);
    }
    st.SetItemsProcessed(st.iterations() * kBatch);
}

// kBatch allocations of random small sizes, freed in a shuffled order.
void random_small(benchmark::State &st, const A *a)
{
    const Pattern &pt = pattern();
    void *p[kBatch];
    size_t k = 0;
    for (auto _ : st) {
        for (size_t i = 0; i < kBatch; i++, k++)
            touch(p[i] = must(a->alloc(pt.size[k % pt.size.size()])));
        for (size_t i = 0; i < kBatch; i++)
            a->release(p[pt.order[i]]);
    }
    st.SetItemsProcessed(st.iterations() * kBatch);
}

void zeroed(benchmark::State &st, const A *a, size_t size)
{
    for (auto _ : st) {
        void *p = must(a->zalloc(1, size));
        touch(p);
        benchmark::DoNotOptimize(p);
        a->release(p);
    }
    st.SetItemsProcessed(st.iterations());
}

// A buffer grows from `from` to `to` in steps of `step`, writing its new
// end each time, then is freed.  One item = one realloc.
void grow(benchmark::State &st, const A *a, size_t from, size_t to, size_t step)
{
    size_t steps = 0;
    for (auto _ : st) {
        char *p = static_cast<char *>(must(a->alloc(from)));
        p[0] = 1;
        for (size_t n = from + step; n <= to; n += step, steps++) {
            p = static_cast<char *>(must(a->resize(p, n)));
            p[n - 1] = 1;
        }
        a->release(p);
    }
    st.SetItemsProcessed(static_cast<int64_t>(steps));
}

void aligned(benchmark::State &st, const A *a, size_t alignment, size_t size)
{
    for (auto _ : st) {
        void *p = must(a->aligned(alignment, size));
        if (reinterpret_cast<uintptr_t>(p) % alignment != 0) {
            st.SkipWithError("misaligned block");
            break;
        }
        touch(p);
        a->release(p);
    }
    st.SetItemsProcessed(st.iterations());
}

// One producer (the benchmark thread) allocates 64-byte messages, a consumer
// thread frees them: every free is a remote free.
void producer_consumer(benchmark::State &st, const A *a)
{
    constexpr size_t kRing = 4096;
    std::vector<std::atomic<void *>> ring(kRing);
    for (auto &slot : ring)
        slot.store(nullptr, std::memory_order_relaxed);
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
        size_t tail = 0;
        for (;;) {
            void *p = ring[tail % kRing].exchange(nullptr, std::memory_order_acquire);
            if (p == nullptr) {
                if (stop.load(std::memory_order_acquire) &&
                    ring[tail % kRing].load(std::memory_order_acquire) == nullptr)
                    break;
                std::this_thread::yield();
                continue;
            }
            a->release(p);
            tail++;
        }
    });
    size_t head = 0;
    for (auto _ : st) {
        for (size_t i = 0; i < 64; i++, head++) {
            void *p = must(a->alloc(64));
            touch(p);
            std::atomic<void *> &slot = ring[head % kRing];
            while (slot.load(std::memory_order_acquire) != nullptr)
                std::this_thread::yield();
            slot.store(p, std::memory_order_release);
        }
    }
    stop.store(true, std::memory_order_release);
    consumer.join();
    st.SetItemsProcessed(st.iterations() * 64);
}

// An arena's life: 1000 small objects, then all gone at once (one
// HeapDestroy for private heaps, 1000 frees for malloc families).
void arena(benchmark::State &st, const A *a)
{
    const Pattern &pt = pattern();
    void *p[1000];
    for (auto _ : st) {
        for (size_t i = 0; i < 1000; i++)
            touch(p[i] = must(a->alloc(pt.size[i] / 2 + 8)));
        if (a->release_all != nullptr) {
            a->release_all();
        } else {
            for (size_t i = 0; i < 1000; i++)
                a->release(p[i]);
        }
    }
    st.SetItemsProcessed(st.iterations() * 1000);
}

std::string label(const char *c, const A *a, const std::string &param = "")
{
    std::string s = std::string(c) + "/" + a->name;
    if (!param.empty())
        s += "/" + param;
    return s;
}

std::string bytes(size_t n)
{
    if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0)
        return std::to_string(n >> 20) + "M";
    if (n >= 1024 && n % 1024 == 0)
        return std::to_string(n >> 10) + "K";
    return std::to_string(n);
}

void register_cases(const std::vector<const A *> &all)
{
    // Allocators interleave within every case, so drift hits them alike.
    auto each = [&](auto fn) {
        for (const A *a : all)
            fn(a);
    };
    for (size_t s : {16, 64, 256, 1024})
        each([&](const A *a) { benchmark::RegisterBenchmark(label("pair", a, bytes(s)).c_str(), pair, a, s); });
    for (size_t s : {16, 256})
        each([&](const A *a) { benchmark::RegisterBenchmark(label("batch", a, bytes(s)).c_str(), batch, a, s); });
    each([&](const A *a) { benchmark::RegisterBenchmark(label("random", a).c_str(), random_small, a); });
    for (size_t s : {4096, 32768, 262144, 1 << 20, 8 << 20})
        each([&](const A *a) {
            benchmark::RegisterBenchmark(label(s >= (1 << 20) ? "large" : "medium", a, bytes(s)).c_str(),
                                         pair, a, s);
        });
    for (size_t s : {64, 4096, 1 << 20})
        each([&](const A *a) { benchmark::RegisterBenchmark(label("calloc", a, bytes(s)).c_str(), zeroed, a, s); });
    each([&](const A *a) {
        benchmark::RegisterBenchmark(label("realloc", a, "16-4K").c_str(), grow, a, 16, 4096, 16);
    });
    each([&](const A *a) {
        benchmark::RegisterBenchmark(label("realloc", a, "64K-4M").c_str(), grow, a, 65536,
                                     4 << 20, 65536);
    });
    for (size_t al : {64, 4096})
        each([&](const A *a) {
            if (a->aligned != nullptr)
                benchmark::RegisterBenchmark(label("aligned", a, bytes(al)).c_str(), aligned, a, al, 100);
        });
    each([&](const A *a) { benchmark::RegisterBenchmark(label("arena", a).c_str(), arena, a); });
    each([&](const A *a) {
        if (a->thread_safe)
            benchmark::RegisterBenchmark(label("prodcons", a).c_str(), producer_consumer, a)->UseRealTime();
    });
    unsigned cpus = std::thread::hardware_concurrency();
    std::vector<int> threads{1};
    if (cpus > 1)
        threads.push_back(static_cast<int>(cpus));
    if (cpus < 4)
        threads.push_back(4);
    each([&](const A *a) {
        if (!a->thread_safe)
            return;
        auto *b = benchmark::RegisterBenchmark(label("threads", a).c_str(), random_small, a);
        for (int t : threads)
            b->Threads(t);
        b->UseRealTime();
    });
}

}  // namespace

int main(int argc, char **argv)
{
    const char *wheap = std::getenv("WHEAP_LIB");
    enum bench_select select = BENCH_SELECT_ALL;
    std::vector<char *> rest;
    for (int i = 0; i < argc; i++) {
        if (std::strncmp(argv[i], "--wheap=", 8) == 0)
            wheap = argv[i] + 8;
        else if (std::strcmp(argv[i], "--only-preload") == 0)
            select = BENCH_SELECT_PRELOAD;
        else
            rest.push_back(argv[i]);
    }
    int n = static_cast<int>(rest.size());
    rest.push_back(nullptr);
    benchmark::Initialize(&n, rest.data());

    size_t count = bench_allocators_init(wheap, select);
    if (count == 0) {
        std::fprintf(stderr, "microbench: no allocator to measure\n");
        return select == BENCH_SELECT_PRELOAD ? 0 : 1;
    }
    std::vector<const A *> all;
    for (size_t i = 0; i < count; i++)
        all.push_back(bench_allocator_at(i));
    std::fprintf(stderr, "microbench: allocators:");
    for (const A *a : all)
        std::fprintf(stderr, " %s", a->name);
    std::fprintf(stderr, "\n");

    register_cases(all);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
