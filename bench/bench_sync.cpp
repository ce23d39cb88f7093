// Benchmarks for semaphores, barriers and events against their usual peers.
//   semaphore/ping_pong/<impl>/2      round trips per second between two threads (two semaphores)
//                                     and the round trip's p50_ns .. max_ns (harness.hpp)
//   semaphore/prodcons/<impl>/{2,4,8} items per second through a bounded hand-off built from two
//                                     semaphores (slots, items); half the threads produce
//   barrier/rounds/<impl>/{2,4,8,16}  barrier phases completed per second
//   event/set_to_wake/<impl>/2        round trips per second: set one event, wait for the reply;
//                                     p50_ns .. max_ns: one round trip (two set-to-wake hand-offs)
#include "harness.hpp"

#include <atomkit/barrier.hpp>
#include <atomkit/event.hpp>
#include <atomkit/semaphore.hpp>

#include <concurrentqueue/concurrentqueue.h>  // defines the macros lightweightsemaphore.h uses
#include <concurrentqueue/lightweightsemaphore.h>
#include <pthread.h>
#include <semaphore.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <semaphore>

namespace {

using atomkit_bench::add;
using atomkit_bench::latencies;
using atomkit_bench::latency_histogram;
using atomkit_bench::op_clock;
using atomkit_bench::report;
using atomkit_bench::report_latency;
using atomkit_bench::run_timed;

// ---- semaphores behind one interface: acquire(), release(n) ----

struct ak_sem {
  atomkit::counting_semaphore<> s{0};
  void acquire() { s.acquire(); }
  void release(int n = 1) { s.release(n); }
};
struct std_sem {
  std::counting_semaphore<> s{0};
  void acquire() { s.acquire(); }
  void release(int n = 1) { s.release(n); }
};
struct posix_sem {
  sem_t s;
  posix_sem() { sem_init(&s, 0, 0); }
  ~posix_sem() { sem_destroy(&s); }
  posix_sem(const posix_sem&) = delete;
  posix_sem& operator=(const posix_sem&) = delete;
  void acquire() {
    while (sem_wait(&s) != 0) {
    }
  }
  void release(int n = 1) {
    for (int i = 0; i < n; ++i) sem_post(&s);
  }
};
struct moody_sem {
  moodycamel::LightweightSemaphore s{0};
  void acquire() { s.wait(); }
  void release(int n = 1) { s.signal(n); }
};

template <class Sem>
void sem_ping_pong(benchmark::State& state, int threads) {
  Sem ping, pong;
  std::atomic<bool> done{false};
  latencies lat(1);
  const auto r = run_timed(threads, [&](int id, const std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    if (id == 0) {
      latency_histogram& h = lat[0];
      while (!stop.load(std::memory_order_relaxed)) {
        const op_clock::ticks t0 = op_clock::now();
        ping.release();
        pong.acquire();
        h.record(op_clock::since_ns(t0));
        ++n;
      }
      done.store(true, std::memory_order_relaxed);
      ping.release();  // let the other side see `done`
    } else {
      for (;;) {
        ping.acquire();
        if (done.load(std::memory_order_relaxed)) break;
        pong.release();
      }
    }
    return n;
  });
  report(state, r, false);
  report_latency(state, lat.merged());
}

template <class Sem>
void sem_prodcons(benchmark::State& state, int threads) {
  constexpr int slots_count = 64;
  Sem slots, items;
  slots.release(slots_count);
  const auto r = run_timed(threads, [&](int id, const std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    const bool producer = id % 2 == 0;
    Sem& take = producer ? slots : items;
    Sem& give = producer ? items : slots;
    while (!stop.load(std::memory_order_relaxed)) {
      take.acquire();
      give.release();
      if (!producer) ++n;
    }
    // Unblock everyone still waiting; they see `stop` and leave, releasing in turn.
    slots.release(threads);
    items.release(threads);
    return n;
  });
  report(state, r, false);
}

// ---- barriers: rounds per second. Thread 0 decides the last round (stop_at) before arriving
// at it; everyone reads the decision after that round's barrier, so all leave together. ----

template <class ArriveAndWait>
atomkit_bench::result barrier_rounds(int threads, ArriveAndWait&& arrive_and_wait) {
  std::atomic<std::uint64_t> stop_at{std::numeric_limits<std::uint64_t>::max()};
  return run_timed(threads, [&](int id, const std::atomic<bool>& stop) -> std::uint64_t {
    for (std::uint64_t r = 0;; ++r) {
      if (id == 0 && stop.load(std::memory_order_relaxed)) {
        stop_at.store(r, std::memory_order_relaxed);  // ordered by the barrier of round r
      }
      arrive_and_wait();
      if (stop_at.load(std::memory_order_relaxed) == r) return id == 0 ? r + 1 : 0;
    }
  });
}

void bar_atomkit(benchmark::State& state, int threads) {
  atomkit::barrier<> b(threads);
  report(state, barrier_rounds(threads, [&] { b.arrive_and_wait(); }), false);
}
void bar_std(benchmark::State& state, int threads) {
  std::barrier<> b(threads);
  report(state, barrier_rounds(threads, [&] { b.arrive_and_wait(); }), false);
}
void bar_pthread(benchmark::State& state, int threads) {
  pthread_barrier_t b;
  pthread_barrier_init(&b, nullptr, static_cast<unsigned>(threads));
  report(state, barrier_rounds(threads, [&] { pthread_barrier_wait(&b); }), false);
  pthread_barrier_destroy(&b);
}

// ---- events: set(), wait(), clear() ----

struct cv_event {
  std::mutex m;
  std::condition_variable cv;
  bool flag = false;
  void set() {
    {
      std::lock_guard g(m);
      flag = true;
    }
    cv.notify_all();
  }
  void clear() {
    std::lock_guard g(m);
    flag = false;
  }
  void wait() {
    std::unique_lock l(m);
    cv.wait(l, [this] { return flag; });
  }
};

template <class Event>
void event_set_to_wake(benchmark::State& state, int threads) {
  Event a, b;
  std::atomic<bool> done{false};
  latencies lat(1);
  const auto r = run_timed(threads, [&](int id, const std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    if (id == 0) {
      latency_histogram& h = lat[0];
      while (!stop.load(std::memory_order_relaxed)) {
        const op_clock::ticks t0 = op_clock::now();
        a.set();
        b.wait();
        h.record(op_clock::since_ns(t0));
        b.clear();
        ++n;
      }
      done.store(true, std::memory_order_relaxed);
      a.set();
    } else {
      for (;;) {
        a.wait();
        a.clear();
        if (done.load(std::memory_order_relaxed)) break;
        b.set();
      }
    }
    return n;
  });
  report(state, r, false);
  report_latency(state, lat.merged());
}

const atomkit_bench::registrar reg([] {
  add("semaphore", "ping_pong", "atomkit::counting_semaphore", {2}, sem_ping_pong<ak_sem>);
  add("semaphore", "ping_pong", "std::counting_semaphore", {2}, sem_ping_pong<std_sem>);
  add("semaphore", "ping_pong", "sem_t", {2}, sem_ping_pong<posix_sem>);
  add("semaphore", "ping_pong", "moodycamel::LightweightSemaphore", {2}, sem_ping_pong<moody_sem>);

  add("semaphore", "prodcons", "atomkit::counting_semaphore", {2, 4, 8}, sem_prodcons<ak_sem>);
  add("semaphore", "prodcons", "std::counting_semaphore", {2, 4, 8}, sem_prodcons<std_sem>);
  add("semaphore", "prodcons", "sem_t", {2, 4, 8}, sem_prodcons<posix_sem>);
  add("semaphore", "prodcons", "moodycamel::LightweightSemaphore", {2, 4, 8},
      sem_prodcons<moody_sem>);

  add("barrier", "rounds", "atomkit::barrier", {2, 4, 8, 16}, bar_atomkit);
  add("barrier", "rounds", "std::barrier", {2, 4, 8, 16}, bar_std);
  add("barrier", "rounds", "pthread_barrier_t", {2, 4, 8, 16}, bar_pthread);

  add("event", "set_to_wake", "atomkit::event", {2}, event_set_to_wake<atomkit::event>);
  add("event", "set_to_wake", "std::mutex+std::condition_variable", {2},
      event_set_to_wake<cv_event>);
});

}  // namespace
