// Lock family: throughput, fairness and hand-off latency at 1-16 threads, empty and short critical
// sections, against std::mutex, absl::Mutex, pthread_spinlock_t, tbb::spin_mutex and Concurrency
// Kit's ticket lock; the uncontended fast path against a bare exchange/store pair; CPU used by parked waiters.
//   rate      acquisitions per second in a steady-state window (after a 30 ms warm-up)
//   fairness  least over most acquisitions per thread over the whole run, from a common start
//             (the threads start queued on the held lock; see contended())
//   p50_ns .. max_ns  time from the lock() call to owning the lock (op_clock, harness.hpp), over
//             all acquisitions: a lock that lets the releasing thread take it again (barging)
//             shows short percentiles, because most of its acquisitions wait for nobody, and
//             its starved threads show in max and fairness; a FIFO lock's every acquisition
//             waits a full round of the queue. Read the percentiles beside fairness.
// "futex ring (reference)" is not a lock: N threads pass a token round a ring, each sleeping on
// its own futex word until the token reaches it. It is the wake-up-rate bound of any strict FIFO
// hand-off once threads outnumber cores (each hand-off then wakes a sleeping thread).
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include "harness.hpp"

#include <spinlock/ticket.h>  // the C++-clean part of ck_spinlock.h
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <absl/synchronization/mutex.h>
#include <mutex>
#include <tbb/spin_mutex.h>

namespace {

using namespace atomkit_bench;

// Peers behind one Lockable face.
struct pthread_spin {
  pthread_spinlock_t s{};
  pthread_spin() { pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE); }
  ~pthread_spin() { pthread_spin_destroy(&s); }
  void lock() { pthread_spin_lock(&s); }
  void unlock() { pthread_spin_unlock(&s); }
};
struct absl_mutex {
  absl::Mutex m;
  void lock() { m.Lock(); }
  void unlock() { m.Unlock(); }
};
struct ck_ticket {
  ck_spinlock_ticket_t t = CK_SPINLOCK_TICKET_INITIALIZER;
  void lock() { ck_spinlock_ticket_lock(&t); }
  void unlock() { ck_spinlock_ticket_unlock(&t); }
};
// The floor for any exchange-based lock: exchange-acquire to take, store-release to give back.
struct bare_exchange {
  std::atomic<std::uint32_t> w{0};
  void lock() { (void)w.exchange(1, std::memory_order_acquire); }  // pairs with unlock's store
  void unlock() { w.store(0, std::memory_order_release); }         // pairs with lock's exchange
};

// Work outside the critical section in the "short" variant: a few hundred cycles of private work.
inline std::uint64_t local_work(std::uint64_t x) {
  for (int i = 0; i < 50; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

struct alignas(128) shared_data {
  std::uint64_t counter = 0;
  std::uint64_t words[4] = {};
};

// The common start: the harness holds the lock while the threads arrive and call lock(), then
// releases it once all have arrived and 10 ms more have passed (time for the last arrival to go
// from its announcement into lock(); best effort, a thread descheduled for longer starts late).
// Fairness counts every acquisition from that release to the end of the run.
template <class Lock>
void contended(benchmark::State& st, int threads, bool short_cs) {
  Lock lock;
  shared_data data;
  latencies lat(threads);
  std::atomic<int> at_gate{0};
  lock.lock();  // the start gate
  auto release = [&] {
    while (at_gate.load() != threads) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lock.unlock();
  };
  auto r = run_windowed(
      threads,
      [&](int id, const std::atomic<bool>& stop, progress& done) {
        std::uint64_t seed = static_cast<std::uint64_t>(id) + 1;
        latency_histogram& h = lat[id];
        at_gate.fetch_add(1);
        bool first = true;  // the first lock() waits at the gate: not a hand-off
        while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
          const op_clock::ticks t0 = op_clock::now();
          lock.lock();
          const op_clock::ticks t1 = op_clock::now();
          ++data.counter;
          if (short_cs) {
            for (auto& w : data.words) w += data.counter;
          }
          lock.unlock();
          if (!first) h.record(op_clock::to_ns(t1 - t0));
          first = false;
          if (short_cs) seed = local_work(seed);
          done.add();
        }
        benchmark::DoNotOptimize(seed);
      },
      run_time(), std::chrono::milliseconds(30), release);
  report(st, r);
  report_latency(st, lat.merged());
}

long futex(std::atomic<std::uint32_t>& w, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), op | FUTEX_PRIVATE_FLAG, val,
                 nullptr, nullptr, 0);
}

// The reference ring: thread i owns the token while word i is 1; it clears it, does the critical
// section, sets word i+1 and wakes its owner, then sleeps until its own word is set again. After
// the stop each thread passes the token on once more and leaves, so every sleeper is woken.
void futex_ring(benchmark::State& st, int threads, bool short_cs) {
  struct alignas(128) word {
    std::atomic<std::uint32_t> w{0};
  };
  std::vector<word> words(static_cast<std::size_t>(threads));
  words[0].w.store(1, std::memory_order_relaxed);  // published by the thread start
  shared_data data;
  latencies lat(threads);
  auto r = run_windowed(threads, [&](int id, const std::atomic<bool>& stop, progress& done) {
    std::uint64_t seed = static_cast<std::uint64_t>(id) + 1;
    latency_histogram& h = lat[id];
    std::atomic<std::uint32_t>& mine = words[static_cast<std::size_t>(id)].w;
    std::atomic<std::uint32_t>& next = words[static_cast<std::size_t>((id + 1) % threads)].w;
    for (;;) {
      const op_clock::ticks t0 = op_clock::now();
      // acquire: pairs with the release store by the previous thread in the ring.
      while (mine.load(std::memory_order_acquire) == 0) futex(mine, FUTEX_WAIT, 0);
      const op_clock::ticks t1 = op_clock::now();
      mine.store(0, std::memory_order_relaxed);  // only we write it until we pass the token on
      const bool leaving = stop.load(std::memory_order_relaxed);  // relaxed: a stop flag only
      if (!leaving) {
        ++data.counter;
        if (short_cs) {
          for (auto& w : data.words) w += data.counter;
        }
      }
      next.store(1, std::memory_order_release);  // pairs with the next thread's acquire load
      futex(next, FUTEX_WAKE, 1);
      if (leaving) break;
      h.record(op_clock::to_ns(t1 - t0));
      if (short_cs) seed = local_work(seed);
      done.add();
    }
    benchmark::DoNotOptimize(seed);
  });
  report(st, r);
  report_latency(st, lat.merged());
}

template <class Lock>
void uncontended(benchmark::State& st, int) {
  Lock lock;
  std::uint64_t sink = 0;
  auto r = run_timed(1, [&](int, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      for (int i = 0; i < 64; ++i) {
        lock.lock();
        ++sink;
        benchmark::ClobberMemory();
        lock.unlock();
      }
      n += 64;
    }
    return n;
  });
  benchmark::DoNotOptimize(sink);
  report(st, r, false);
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Four threads wait 0.5 s on a held lock: CPU seconds they use (the target is under 0.25).
template <class Lock>
void parked_cpu(benchmark::State& st, int threads) {
  Lock lock;
  lock.lock();
  std::atomic<int> started{0};
  std::vector<std::thread> pool;
  const double c0 = cpu_seconds();
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      started.fetch_add(1);
      lock.lock();
      lock.unlock();
    });
  }
  while (started.load() != threads) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double used = cpu_seconds() - c0;
  lock.unlock();
  for (auto& t : pool) t.join();
  st.SetIterationTime(0.5);
  st.counters["cpu_seconds"] = used;
}

const std::vector<int> thread_counts = {1, 2, 4, 8, 16};

template <class Lock>
void add_lock(const std::string& name) {
  add("lock", "empty_cs", name, thread_counts, [](benchmark::State& s, int n) { contended<Lock>(s, n, false); });
  add("lock", "short_cs", name, thread_counts, [](benchmark::State& s, int n) { contended<Lock>(s, n, true); });
}

const registrar reg([] {
  add_lock<atomkit::spinlock>("atomkit::spinlock");
  add_lock<atomkit::busy_spinlock>("atomkit::busy_spinlock");
  add_lock<atomkit::ticket_lock>("atomkit::ticket_lock");
  add_lock<std::mutex>("std::mutex");
  add_lock<absl_mutex>("absl::Mutex");
  add_lock<pthread_spin>("pthread_spinlock_t");
  add_lock<tbb::spin_mutex>("tbb::spin_mutex");
  add_lock<ck_ticket>("ck_spinlock_ticket");
  add("lock", "empty_cs", "futex ring (reference)", thread_counts,
      [](benchmark::State& s, int n) { futex_ring(s, n, false); });
  add("lock", "short_cs", "futex ring (reference)", thread_counts,
      [](benchmark::State& s, int n) { futex_ring(s, n, true); });

  add("lock", "uncontended", "atomkit::spinlock", {1}, uncontended<atomkit::spinlock>);
  add("lock", "uncontended", "atomkit::busy_spinlock", {1}, uncontended<atomkit::busy_spinlock>);
  add("lock", "uncontended", "atomkit::ticket_lock", {1}, uncontended<atomkit::ticket_lock>);
  add("lock", "uncontended", "bare exchange+store", {1}, uncontended<bare_exchange>);
  add("lock", "uncontended", "std::mutex", {1}, uncontended<std::mutex>);

  add("lock", "parked_cpu", "atomkit::spinlock", {4}, parked_cpu<atomkit::spinlock>);
  add("lock", "parked_cpu", "atomkit::ticket_lock", {4}, parked_cpu<atomkit::ticket_lock>);
});

}  // namespace
