// The lock-order family's loop, shared by bench_lock_order.cpp (checker on and off, abseil) and
// lock_order_compiled_out.cpp (the same loop built with -DATOMKIT_LOCK_ORDER=0, in a binary of
// its own since the lock functions are inline and must be built one way per program).
#pragma once

#include "harness.hpp"

#include <time.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace atomkit_bench {

// The calling thread's CPU time: unlike wall time, it does not count the time the thread spent
// preempted, which on a loaded host dominates a loop this short.
inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One thread: take a, take b, release both; "rate" counts pairs per second (wall time),
// "ns_per_pair" their wall-clock cost and "cpu_ns_per_pair" their cost in the thread's CPU time.
template <class A, class B, class Lock, class Unlock>
void nested_pair(benchmark::State& st, A& a, B& b, Lock lock, Unlock unlock) {
  std::uint64_t sink = 0;
  double cpu = 0;
  auto r = run_timed(1, [&](int, const std::atomic<bool>& stop) {
    const double cpu0 = thread_cpu_seconds();
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      for (int i = 0; i < 64; ++i) {
        lock(a);
        lock(b);
        ++sink;
        benchmark::ClobberMemory();
        unlock(b);
        unlock(a);
      }
      n += 64;
    }
    cpu = thread_cpu_seconds() - cpu0;
    return n;
  });
  benchmark::DoNotOptimize(sink);
  report(st, r, false);
  st.counters["ns_per_pair"] = r.seconds * 1e9 / static_cast<double>(r.total());
  st.counters["cpu_ns_per_pair"] = cpu * 1e9 / static_cast<double>(r.total());
}

}  // namespace atomkit_bench
