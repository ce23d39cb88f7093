// atomkit benchmark harness: timed multi-thread runs reported to Google Benchmark.
//
// Naming (the plotter relies on it): "<family>/<variant>/<impl>/<threads>", registered with
// atomkit_bench::add(). One chart is drawn per family and variant, one line per impl, threads on
// the x axis; the counter "rate" (operations or items per second) is the y value, "fairness"
// (least over most per-thread count) is tabulated when present. Each benchmark runs its threads
// for a fixed time and reports manual time, so every impl gets the same wall-clock window.
//
// Tail latency (every hand-off benchmark, for atomkit and each peer alike): give each thread a
// histogram, time each operation with op_clock, merge and report p50/p99/p99.9/max:
//   latencies lat(threads);
//   auto r = run_timed(threads, [&](int id, const std::atomic<bool>& stop) {
//     ...  const auto t = op_clock::now();  do_one_operation();  lat[id].record(op_clock::since_ns(t));
//   });
//   report(state, r);  report_latency(state, lat.merged());
// report_latency() adds the counters p50_ns, p99_ns, p999_ns and max_ns; bench/plot.py draws a
// latency chart for every family and variant that has them and tabulates them in summary.txt.
// Recording costs two TSC reads and a histogram increment (bench/histogram.hpp says how much),
// paid by every impl in the family alike.
#pragma once

#include <benchmark/benchmark.h>

#include "histogram.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace atomkit_bench {

inline std::chrono::milliseconds run_time() {
  return std::chrono::milliseconds(150);
}

struct result {
  std::vector<std::uint64_t> per_thread;  // operations done by each thread (in the window)
  // run_windowed: operations done by each thread over the whole run, counted from the moment all
  // threads were released together; fairness() uses these when present.
  std::vector<std::uint64_t> whole_run;
  double seconds = 0;

  [[nodiscard]] std::uint64_t total() const {
    std::uint64_t t = 0;
    for (auto v : per_thread) t += v;
    return t;
  }
  [[nodiscard]] double fairness() const {
    const std::vector<std::uint64_t>& counts = whole_run.empty() ? per_thread : whole_run;
    if (counts.empty()) return 1;
    const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    return *hi == 0 ? 1.0 : static_cast<double>(*lo) / static_cast<double>(*hi);
  }
};

// Runs body(thread_index, stop) on `threads` threads that start together. body loops until
// stop.load(relaxed) is true and returns its operation count. The window closes after run_time().
template <class Body>
result run_timed(int threads, Body&& body, std::chrono::milliseconds window = run_time()) {
  result r;
  r.per_thread.assign(static_cast<std::size_t>(threads), 0);
  std::atomic<bool> stop{false};
  std::latch ready(threads + 1);
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready.arrive_and_wait();
      r.per_thread[static_cast<std::size_t>(i)] = body(i, stop);
    });
  }
  ready.arrive_and_wait();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : pool) t.join();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// A thread's progress counter for run_windowed, on its own cache lines.
struct alignas(128) progress {
  std::atomic<std::uint64_t> count{0};
  void add(std::uint64_t n = 1) {
    // relaxed: read by the harness's snapshots only; a count a few operations stale is fine.
    count.store(count.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// Like run_timed, but the rate is a steady state's: the threads run for a warm-up first (so that
// start-up skew, when the first threads scheduled run alone, is not in the rate), then each
// thread's progress is snapshotted at the start and the end of the window. Fairness is not
// windowed: it compares each thread's count over the whole run, from the moment all threads were
// released together (a latch) to the end of the window, so a thread starved at the start counts.
// body(i, stop, progress&) calls progress.add() per operation and loops until stop.
// `start`, if given, runs on the harness's thread once every thread has passed the latch, before
// the warm-up: a gate that holds the threads until it returns (the lock family holds the lock
// under test, so that the threads start queued on it: bench_locks.cpp).
template <class Body>
result run_windowed(int threads, Body&& body, std::chrono::milliseconds window = run_time(),
                    std::chrono::milliseconds warmup = std::chrono::milliseconds(30),
                    const std::function<void()>& start = {}) {
  result r;
  const auto n = static_cast<std::size_t>(threads);
  std::vector<progress> prog(n);
  std::atomic<bool> stop{false};
  std::latch ready(threads + 1);
  std::vector<std::thread> pool;
  pool.reserve(n);
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      ready.arrive_and_wait();
      body(i, stop, prog[static_cast<std::size_t>(i)]);
    });
  }
  ready.arrive_and_wait();
  if (start) start();
  std::this_thread::sleep_for(warmup);
  std::vector<std::uint64_t> at_window(n);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) at_window[i] = prog[i].count.load(std::memory_order_relaxed);
  std::this_thread::sleep_for(window);
  r.per_thread.resize(n);
  r.whole_run.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    r.whole_run[i] = prog[i].count.load(std::memory_order_relaxed);
    r.per_thread[i] = r.whole_run[i] - at_window[i];
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop.store(true, std::memory_order_relaxed);
  for (auto& t : pool) t.join();
  return r;
}

// Reports a result: manual time, "rate" in operations per second, "fairness".
inline void report(benchmark::State& state, const result& r, bool with_fairness = true) {
  state.SetIterationTime(r.seconds);
  state.counters["rate"] = benchmark::Counter(static_cast<double>(r.total()) / r.seconds);
  if (with_fairness) state.counters["fairness"] = r.fairness();
}

// One latency histogram per thread, allocated before the run (recording never allocates).
class latencies {
 public:
  explicit latencies(int threads) : per_thread_(static_cast<std::size_t>(threads)) {
    (void)op_clock::ns_per_tick();  // calibrate now, not inside the first timed operation
  }
  latency_histogram& operator[](int thread) { return per_thread_[static_cast<std::size_t>(thread)].h; }
  [[nodiscard]] latency_histogram merged() const {
    latency_histogram all;
    for (const auto& p : per_thread_) all.merge(p.h);
    return all;
  }

 private:
  struct alignas(128) padded {
    latency_histogram h;
  };
  std::vector<padded> per_thread_;
};

// Reports a latency histogram: counters p50_ns, p99_ns, p999_ns, max_ns (nanoseconds).
inline void report_latency(benchmark::State& state, const latency_histogram& h) {
  state.counters["p50_ns"] = static_cast<double>(h.quantile(0.50));
  state.counters["p99_ns"] = static_cast<double>(h.quantile(0.99));
  state.counters["p999_ns"] = static_cast<double>(h.quantile(0.999));
  state.counters["max_ns"] = static_cast<double>(h.max());
}

// Registers "<family>/<variant>/<impl>/<threads>" for each thread count.
inline void add(const std::string& family, const std::string& variant, const std::string& impl,
                const std::vector<int>& thread_counts,
                std::function<void(benchmark::State&, int threads)> fn) {
  for (int n : thread_counts) {
    benchmark::RegisterBenchmark((family + "/" + variant + "/" + impl + "/" + std::to_string(n)).c_str(),
                                 [fn, n](benchmark::State& st) {
                                   for (auto _ : st) fn(st, n);
                                 })
        ->UseManualTime()
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
}

// Registrations run from static initializers in each bench_*.cpp.
struct registrar {
  explicit registrar(void (*f)()) { f(); }
};

}  // namespace atomkit_bench
