// Benchmarks for thread_pool and futures against their usual peers.
//   pool/throughput_w{2,4}/<impl>/{1,2,4}  empty tasks per second: each submitting thread submits
//                                          a batch of 64, then gets every future; 2 or 4 workers
//                                          (std::async has no workers: a thread per task)
//   pool/latency/<impl>/1                  submit-to-get of one task on an idle (parked) pool:
//                                          counters p50_ns, p99_ns, p999_ns, max_ns; rate =
//                                          1 / median
//   pool/allocs/<impl>/1                   heap allocations per task (every thread counted by the
//                                          replaced operator new below), 16- and 48-byte
//                                          callables (a table, no chart: there is no rate)
//   pool/as_completed/atomkit::as_completed/{1000,10000,100000}
//                                          as_completed over that many finished futures:
//                                          counter ns_per_future; rate = futures per second
// tbb::task_group returns no futures; it runs the same empty tasks, batch by batch, in an arena of
// the same number of workers ("equal work").
#include "harness.hpp"

#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <thread_pool/thread_pool.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <new>
#include <thread>
#include <vector>

// ---- allocation counting: every operator new of the process, counted only while enabled ----
namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocs{0};
inline void count_alloc() {
  // relaxed: a statistic, read after the counted section has been joined.
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

void* operator new(std::size_t n) {
  count_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  count_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  count_alloc();
  const auto al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
// The deletes stay libstdc++'s: they call free(), which matches malloc and aligned_alloc.

namespace {

using atomkit_bench::add;
using atomkit_bench::report;
using atomkit_bench::run_timed;

constexpr int batch = 64;

// ---- the pools behind one interface: run(f) -> a waitable, get(waitable) ----

struct ak_pool {
  atomkit::thread_pool p;
  explicit ak_pool(int w) : p(static_cast<std::size_t>(w)) {}
  template <class F>
  auto run(F&& f) { return p.submit(std::forward<F>(f)); }
  template <class Fut>
  static void get(Fut& f) { f.get(); }
};
struct asio_pool {
  boost::asio::thread_pool p;
  explicit asio_pool(int w) : p(static_cast<std::size_t>(w)) {}
  ~asio_pool() { p.join(); }
  asio_pool(const asio_pool&) = delete;
  asio_pool& operator=(const asio_pool&) = delete;
  template <class F>
  auto run(F&& f) {
    std::packaged_task<void()> t(std::forward<F>(f));
    auto fut = t.get_future();
    boost::asio::post(p, std::move(t));
    return fut;
  }
  template <class Fut>
  static void get(Fut& f) { f.get(); }
};
struct debian_pool {
  thread_pool::ThreadPool p;
  explicit debian_pool(int w) : p(static_cast<std::size_t>(w)) {}
  template <class F>
  auto run(F&& f) { return p.Submit(std::forward<F>(f)); }
  template <class Fut>
  static void get(Fut& f) { f.get(); }
};
struct async_pool {
  explicit async_pool(int /*workers*/) {}
  template <class F>
  auto run(F&& f) { return std::async(std::launch::async, std::forward<F>(f)); }
  template <class Fut>
  static void get(Fut& f) { f.get(); }
};

template <class Pool>
void throughput(benchmark::State& state, int workers, int submitters) {
  Pool pool(workers);
  const auto r = run_timed(submitters, [&](int, const std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    using fut_t = decltype(pool.run([] {}));
    std::vector<fut_t> fs;
    fs.reserve(batch);
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < batch; ++i) fs.push_back(pool.run([] {}));
      for (auto& f : fs) Pool::get(f);
      fs.clear();
      n += batch;
    }
    return n;
  });
  report(state, r, false);
}

void tbb_throughput(benchmark::State& state, int workers, int submitters) {
  // The submitting threads take part in the arena's work (as a waiting atomkit worker does);
  // max concurrency = workers + submitters, so the workers alone number `workers`.
  tbb::task_arena arena(workers + submitters, submitters);
  const auto r = run_timed(submitters, [&](int, const std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    arena.execute([&] {
      tbb::task_group g;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < batch; ++i) g.run([] {});
        g.wait();
        n += batch;
      }
    });
    return n;
  });
  report(state, r, false);
}

// ---- latency: one task, submitted to a pool whose workers are parked ----
template <class Pool>
void latency(benchmark::State& state, int) {
  Pool pool(2);
  constexpr int samples = 1500;
  std::vector<double> ns;
  ns.reserve(samples);
  const auto t_start = std::chrono::steady_clock::now();
  for (int i = 0; i < samples; ++i) {
    // Long enough for every worker to give up spinning and yielding and sleep in the kernel.
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    const auto t0 = std::chrono::steady_clock::now();
    auto f = pool.run([] {});
    Pool::get(f);
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::sort(ns.begin(), ns.end());
  const double p50 = ns[ns.size() / 2];
  state.SetIterationTime(secs);
  state.counters["rate"] = 1e9 / p50;
  state.counters["p50_ns"] = p50;
  state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
  state.counters["p999_ns"] = ns[ns.size() * 999 / 1000];
  state.counters["max_ns"] = ns.back();
}

// ---- allocations per task ----
template <class Pool, std::size_t Bytes>
void allocs(benchmark::State& state, int) {
  Pool pool(2);
  constexpr int tasks = 4096;
  std::array<unsigned char, Bytes - 8> pad{};
  volatile int sink = 0;
  const auto task = [pad, &sink] { sink = pad[0]; };
  static_assert(sizeof(task) == Bytes, "the callable's size is the one named");
  using fut_t = decltype(pool.run(task));
  std::vector<fut_t> fs;
  fs.reserve(batch);
  // warm-up (thread-local caches, lazy structures), then count
  for (int round = 0; round < 2; ++round) {
    g_allocs.store(0, std::memory_order_relaxed);
    g_counting.store(round == 1, std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < tasks; i += batch) {
      for (int j = 0; j < batch; ++j) fs.push_back(pool.run(task));
      for (auto& f : fs) Pool::get(f);
      fs.clear();
    }
    g_counting.store(false, std::memory_order_relaxed);
    if (round == 1) {
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  const double per = static_cast<double>(g_allocs.load(std::memory_order_relaxed)) / tasks;
  state.counters["allocs_per_task"] = per;
}

void tbb_allocs(benchmark::State& state, int) {
  tbb::task_arena arena(3, 1);
  constexpr int tasks = 4096;
  std::array<unsigned char, 40> pad{};
  volatile int sink = 0;
  for (int round = 0; round < 2; ++round) {
    g_allocs.store(0, std::memory_order_relaxed);
    g_counting.store(round == 1, std::memory_order_relaxed);
    arena.execute([&] {
      tbb::task_group g;
      for (int i = 0; i < tasks; i += batch) {
        for (int j = 0; j < batch; ++j) g.run([pad, &sink] { sink = pad[0]; });
        g.wait();
      }
    });
    g_counting.store(false, std::memory_order_relaxed);
  }
  state.SetIterationTime(1e-3);
  const double per = static_cast<double>(g_allocs.load(std::memory_order_relaxed)) / tasks;
  state.counters["allocs_per_task"] = per;
}

// ---- as_completed over n finished futures ----
void as_completed_flat(benchmark::State& state, int n) {
  atomkit::thread_pool pool(2, 4096);
  std::vector<atomkit::future<int>> fs;
  fs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) fs.push_back(pool.submit([i] { return i; }));
  (void)atomkit::wait_futures(fs);
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t sum = 0;
    for (std::size_t i : atomkit::as_completed(fs)) sum += i;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(sum);
    best = std::min(best, s);
  }
  state.SetIterationTime(best);
  state.counters["ns_per_future"] = best * 1e9 / n;
  state.counters["rate"] = n / best;
}

const atomkit_bench::registrar reg([] {
  const std::vector<int> submitters{1, 2, 4};
  for (int w : {2, 4}) {
    const std::string v = "throughput_w" + std::to_string(w);
    add("pool", v, "atomkit::thread_pool", submitters,
        [w](benchmark::State& s, int n) { throughput<ak_pool>(s, w, n); });
    add("pool", v, "asio::thread_pool", submitters,
        [w](benchmark::State& s, int n) { throughput<asio_pool>(s, w, n); });
    add("pool", v, "thread_pool::ThreadPool", submitters,
        [w](benchmark::State& s, int n) { throughput<debian_pool>(s, w, n); });
    add("pool", v, "std::async", submitters,
        [w](benchmark::State& s, int n) { throughput<async_pool>(s, w, n); });
    add("pool", v, "tbb::task_group", submitters,
        [w](benchmark::State& s, int n) { tbb_throughput(s, w, n); });
  }
  add("pool", "latency", "atomkit::thread_pool", {1}, latency<ak_pool>);
  add("pool", "latency", "asio::thread_pool", {1}, latency<asio_pool>);
  add("pool", "latency", "thread_pool::ThreadPool", {1}, latency<debian_pool>);
  add("pool", "latency", "std::async", {1}, latency<async_pool>);
  add("pool", "allocs", "atomkit::thread_pool(16B)", {1}, allocs<ak_pool, 16>);
  add("pool", "allocs", "atomkit::thread_pool(48B)", {1}, allocs<ak_pool, 48>);
  add("pool", "allocs", "asio::thread_pool(48B)", {1}, allocs<asio_pool, 48>);
  add("pool", "allocs", "thread_pool::ThreadPool(48B)", {1}, allocs<debian_pool, 48>);
  add("pool", "allocs", "std::async(48B)", {1}, allocs<async_pool, 48>);
  add("pool", "allocs", "tbb::task_group(48B)", {1}, tbb_allocs);
  add("pool", "as_completed", "atomkit::as_completed", {1000, 10000, 100000}, as_completed_flat);
});

}  // namespace
