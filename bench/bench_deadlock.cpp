// Deadlock family: lock_all against std::scoped_lock (libstdc++'s std::lock) over the same
// atomkit spinlocks and over std::mutex: dining philosophers (5 and 8 diners in a ring, each takes
// its two forks, eats a short critical section; "fairness" is the slowest thread's share of the
// fastest's) and random two-account transfers among 64 accounts. Condvar family: ping-pong
// between two threads (atomkit::condition_variable over an atomkit spinlock against
// std::condition_variable + std::mutex and std::condition_variable_any over the same spinlock),
// and notify_all to 8 waiters: broadcasts per second, each timed from the notify until all 8 have
// re-acquired the lock (higher is better).
#include <atomkit/condition_variable.hpp>
#include <atomkit/lock_all.hpp>
#include <atomkit/spinlock.hpp>

#include "harness.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace atomkit_bench;

const std::vector<int> thread_counts = {2, 4, 8, 16};

// How an implementation takes two locks.
struct via_lock_all {
  template <class L>
  static void run(L& a, L& b, auto&& body) {
    const atomkit::multi_lock hold(a, b);
    body();
  }
};
struct via_scoped_lock {
  template <class L>
  static void run(L& a, L& b, auto&& body) {
    const std::scoped_lock hold(a, b);
    body();
  }
};

struct alignas(128) padded_spinlock {
  atomkit::spinlock l;
  void lock() noexcept { l.lock(); }
  bool try_lock() noexcept { return l.try_lock(); }
  void unlock() { l.unlock(); }
};
struct alignas(128) padded_mutex {
  std::mutex m;
  void lock() { m.lock(); }
  bool try_lock() { return m.try_lock(); }
  void unlock() { m.unlock(); }
};

// Diners sit in a ring; thread i takes the seat i % diners, and its forks are the seat's and the
// next one's. Each meal is a short critical section on both forks' plates.
template <class How, class Lock, int Diners>
void philosophers(benchmark::State& st, int threads) {
  std::array<Lock, Diners> forks;
  struct alignas(128) plate {
    std::uint64_t eaten = 0;
  };
  std::array<plate, Diners> plates;
  auto r = run_windowed(threads, [&](int id, const std::atomic<bool>& stop, progress& done) {
    const int seat = id % Diners;
    Lock& left = forks[static_cast<std::size_t>(seat)];
    Lock& right = forks[static_cast<std::size_t>((seat + 1) % Diners)];
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      How::run(left, right, [&] {
        for (int i = 0; i < 8; ++i) {
          ++plates[static_cast<std::size_t>(seat)].eaten;
          ++plates[static_cast<std::size_t>((seat + 1) % Diners)].eaten;
        }
      });
      done.add();
    }
  });
  // Fairness per diner (seat): threads that share a seat are one diner.
  const auto seats = static_cast<std::size_t>(std::min(threads, Diners));
  const auto by_seat = [seats](const std::vector<std::uint64_t>& per_thread) {
    std::vector<std::uint64_t> per_seat(per_thread.empty() ? 0 : seats, 0);
    for (std::size_t i = 0; i < per_thread.size(); ++i) per_seat[i % seats] += per_thread[i];
    return per_seat;
  };
  r.per_thread = by_seat(r.per_thread);
  r.whole_run = by_seat(r.whole_run);
  report(st, r);
}

template <class How, class Lock>
void transfers(benchmark::State& st, int threads) {
  constexpr int accounts = 64;
  std::array<Lock, accounts> locks;
  std::array<std::int64_t, accounts> balance{};
  auto r = run_windowed(threads, [&](int id, const std::atomic<bool>& stop, progress& done) {
    std::uint64_t x = static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ULL + 1;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const auto from = static_cast<std::size_t>(x % accounts);
      auto to = static_cast<std::size_t>((x >> 32) % accounts);
      if (to == from) to = (to + 1) % accounts;
      How::run(locks[from], locks[to], [&] {
        balance[from] -= 1;
        balance[to] += 1;
      });
      done.add();
    }
  });
  report(st, r);
}

// Ping-pong: two threads take turns under one lock, each waiting on the condition variable.
template <class Cv, class Lock>
void cv_ping_pong(benchmark::State& st, int) {
  Lock lock;
  Cv cv;
  std::uint64_t turn = 0;  // guarded by lock
  bool stop_now = false;   // guarded by lock
  latencies lat(2);
  auto r = run_timed(2, [&](int id, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    const auto parity = static_cast<std::uint64_t>(id);
    std::unique_lock g(lock);
    for (;;) {
      // The hand-off latency: from the start of this wait to its return with the turn.
      const auto t = op_clock::now();
      cv.wait(g, [&] { return (turn & 1) == parity || stop_now; });
      lat[id].record(op_clock::since_ns(t));
      if (stop_now) break;
      ++turn;
      ++n;
      if (stop.load(std::memory_order_relaxed)) stop_now = true;  // relaxed: a stop flag only
      cv.notify_one();
    }
    cv.notify_one();
    return n;
  });
  report(st, r, false);
  report_latency(st, lat.merged());
}

// notify_all to 8 waiters: the notifier waits (unlocked, spinning on an atomic) until all 8 are
// waiting, then changes the generation and notifies; the round ends when the last waiter has
// re-acquired the lock. Rate: rounds per second of the notify-to-last-reacquire time.
template <class Cv, class Lock>
void cv_notify_all(benchmark::State& st, int waiters) {
  Lock lock;
  Cv cv;
  std::uint64_t generation = 0;  // guarded by lock
  int waiting = 0;               // guarded by lock
  bool stop_now = false;         // guarded by lock
  std::atomic<int> reacquired{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < waiters; ++i) {
    pool.emplace_back([&] {
      std::unique_lock g(lock);
      for (;;) {
        const std::uint64_t seen = generation;
        ++waiting;
        cv.wait(g, [&] { return generation != seen || stop_now; });
        // release: pairs with the notifier's acquire load that ends the round.
        reacquired.fetch_add(1, std::memory_order_release);
        if (stop_now) return;
      }
    });
  }
  std::uint64_t rounds = 0;
  double busy_seconds = 0;
  const auto end = std::chrono::steady_clock::now() + run_time();
  while (std::chrono::steady_clock::now() < end) {
    for (;;) {
      std::unique_lock g(lock);
      if (waiting == waiters) {
        waiting = 0;
        break;
      }
      g.unlock();
      std::this_thread::yield();
    }
    reacquired.store(0, std::memory_order_relaxed);  // relaxed: nobody adds until the notify
    const auto t0 = std::chrono::steady_clock::now();
    {
      const std::scoped_lock g(lock);
      ++generation;
      cv.notify_all();
    }
    // acquire: pairs with the waiters' release increments.
    while (reacquired.load(std::memory_order_acquire) < waiters) std::this_thread::yield();
    busy_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++rounds;
  }
  {
    const std::scoped_lock g(lock);
    stop_now = true;
    cv.notify_all();
  }
  for (auto& t : pool) t.join();
  st.SetIterationTime(busy_seconds);
  st.counters["rate"] = benchmark::Counter(static_cast<double>(rounds) / busy_seconds);
}

const registrar reg([] {
  using spin = padded_spinlock;
  using mtx = padded_mutex;
  add("deadlock", "philosophers5", "atomkit::lock_all<spinlock>", thread_counts,
      philosophers<via_lock_all, spin, 5>);
  add("deadlock", "philosophers5", "std::scoped_lock<atomkit::spinlock>", thread_counts,
      philosophers<via_scoped_lock, spin, 5>);
  add("deadlock", "philosophers5", "std::scoped_lock<std::mutex>", thread_counts,
      philosophers<via_scoped_lock, mtx, 5>);
  add("deadlock", "philosophers8", "atomkit::lock_all<spinlock>", thread_counts,
      philosophers<via_lock_all, spin, 8>);
  add("deadlock", "philosophers8", "std::scoped_lock<atomkit::spinlock>", thread_counts,
      philosophers<via_scoped_lock, spin, 8>);
  add("deadlock", "philosophers8", "std::scoped_lock<std::mutex>", thread_counts,
      philosophers<via_scoped_lock, mtx, 8>);
  add("deadlock", "transfer64", "atomkit::lock_all<spinlock>", thread_counts,
      transfers<via_lock_all, spin>);
  add("deadlock", "transfer64", "std::scoped_lock<atomkit::spinlock>", thread_counts,
      transfers<via_scoped_lock, spin>);
  add("deadlock", "transfer64", "std::scoped_lock<std::mutex>", thread_counts,
      transfers<via_scoped_lock, mtx>);

  add("condvar", "ping_pong", "atomkit::condition_variable<spinlock>", {2},
      cv_ping_pong<atomkit::condition_variable, atomkit::spinlock>);
  add("condvar", "ping_pong", "std::condition_variable<std::mutex>", {2},
      cv_ping_pong<std::condition_variable, std::mutex>);
  add("condvar", "ping_pong", "std::condition_variable_any<atomkit::spinlock>", {2},
      cv_ping_pong<std::condition_variable_any, atomkit::spinlock>);
  add("condvar", "notify_all", "atomkit::condition_variable<spinlock>", {8},
      cv_notify_all<atomkit::condition_variable, atomkit::spinlock>);
  add("condvar", "notify_all", "std::condition_variable<std::mutex>", {8},
      cv_notify_all<std::condition_variable, std::mutex>);
  add("condvar", "notify_all", "std::condition_variable_any<atomkit::spinlock>", {8},
      cv_notify_all<std::condition_variable_any, atomkit::spinlock>);
});

}  // namespace
