// Shared helpers for atomkit's stress tests: the seed, count and time bounds, thread start-up.
//
// Every stress loop is bounded in count (scaled down under sanitizers) and in time, and prints
// the seed it used; ATOMKIT_SEED=<n> replays one.
#pragma once

#include <atomkit/detail/config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace stress {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = ATOMKIT_TSAN != 0;
#endif
#else
inline constexpr bool sanitized = ATOMKIT_TSAN != 0;
#endif

// The seed of this run, printed once.
inline std::uint64_t seed() {
  static const std::uint64_t s = [] {
    std::uint64_t v = 0;
    if (const char* env = std::getenv("ATOMKIT_SEED")) {
      v = std::strtoull(env, nullptr, 10);
    } else {
      v = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    }
    std::printf("stress seed: %llu (replay with ATOMKIT_SEED=%llu)\n",
                static_cast<unsigned long long>(v), static_cast<unsigned long long>(v));
    return v;
  }();
  return s;
}

// A per-thread generator derived from the run's seed.
inline std::mt19937_64 rng(std::uint64_t stream) { return std::mt19937_64(seed() + 0x9E37 * stream); }

// Iteration counts shrink under sanitizers, which run 5-20x slower.
inline std::size_t scaled(std::size_t n) { return sanitized ? std::max<std::size_t>(n / 16, 1) : n; }

// The time bound of one stress loop: loops stop at their count or here, whichever comes first.
class time_box {
 public:
  explicit time_box(std::chrono::milliseconds limit = std::chrono::seconds(20))
      : end_(std::chrono::steady_clock::now() + limit) {}
  [[nodiscard]] bool expired() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

// Runs f(index) on n threads that start together; joins them all.
template <class F>
void run_threads(int n, F&& f) {
  std::latch start(n);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      f(i);
    });
  }
  for (auto& t : threads) t.join();
}

// Fails the test if `progress` stops moving for `limit` (a deadlock, livelock or lost wake-up):
// prints what stalled, the value it stalled at, whatever `extra` adds (a lock's state, say) and the
// seed, then ends the process, rather than letting CTest hang. Polls every 50 ms (the detector's
// own interval, not synchronization). The detector runs from construction to destruction.
class stall_detector {
 public:
  template <class Progress, class Extra = const char* (*)()>
  stall_detector(const std::atomic<Progress>& progress, const char* what,
                 Extra extra = [] { return ""; },
                 std::chrono::seconds limit = std::chrono::seconds(10))
      : thread_([this, &progress, what, extra, limit] {
          auto last = progress.load(std::memory_order_relaxed);  // relaxed: a progress count only
          auto last_change = std::chrono::steady_clock::now();
          while (!finished_.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const auto now = progress.load(std::memory_order_relaxed);  // relaxed: as above
            if (now != last) {
              last = now;
              last_change = std::chrono::steady_clock::now();
            } else if (std::chrono::steady_clock::now() - last_change > limit) {
              std::fprintf(stderr, "STALL in %s: no progress for %lld s at %lld%s (seed %llu)\n",
                           what, static_cast<long long>(limit.count()),
                           static_cast<long long>(now), extra(),
                           static_cast<unsigned long long>(seed()));
              std::fflush(stderr);
              std::_Exit(3);
            }
          }
        }) {}
  ~stall_detector() {
    finished_.store(true);
    thread_.join();
  }
  stall_detector(const stall_detector&) = delete;
  stall_detector& operator=(const stall_detector&) = delete;

 private:
  std::atomic<bool> finished_{false};
  std::thread thread_;  // last: started once finished_ exists
};

// CPU time of the whole process, in seconds.
double process_cpu_seconds();

// The calling thread's kernel id.
long current_tid();

// The kernel's view of a thread of this process: 'S' while it sleeps (e.g. in futex_wait),
// 'R' while it runs or spins or yields.
char thread_state(long tid);

// Waits (yielding) until thread `tid` is asleep in the kernel, or the time box expires; returns
// whether it was seen asleep. Lets a test prove that a wake-up path, not a spin, was exercised.
bool wait_until_asleep(long tid, const time_box& box);

}  // namespace stress

#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

inline long stress::current_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

inline char stress::thread_state(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

inline bool stress::wait_until_asleep(long tid, const time_box& box) {
  while (!box.expired()) {
    if (tid != 0 && thread_state(tid) == 'S') return true;
    std::this_thread::yield();
  }
  return false;
}

inline double stress::process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
