// ipc family, robust locks: atomkit::ipc::robust_lock against a PTHREAD_MUTEX_ROBUST |
// PTHREAD_PROCESS_SHARED pthread mutex, in shared memory. "robust_uncontended": one process,
// lock/unlock pairs. "robust_empty_cs" and "robust_short_cs": 2 to 8 processes (fork()) take the
// lock in turn around an empty or a short critical section; the x axis counts processes.
#include <atomkit/robust_lock.hpp>

#include "harness.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using namespace atomkit_bench;

// The peer: a robust, process-shared pthread mutex, repaired on EOWNERDEAD as the robust_lock is.
struct pthread_robust {
  pthread_mutex_t m{};
  pthread_robust() {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
  }
  ~pthread_robust() { pthread_mutex_destroy(&m); }
  pthread_robust(const pthread_robust&) = delete;
  pthread_robust& operator=(const pthread_robust&) = delete;
  void lock() {
    if (pthread_mutex_lock(&m) == EOWNERDEAD) pthread_mutex_consistent(&m);
  }
  void unlock() { pthread_mutex_unlock(&m); }
};

struct robust {
  atomkit::ipc::robust_lock m;
  void lock() {
    if (m.lock() == atomkit::ipc::lock_result::owner_died) m.mark_consistent();
  }
  void unlock() { m.unlock(); }
};

inline std::uint64_t local_work(std::uint64_t x) {
  for (int i = 0; i < 50; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  return x;
}

constexpr int max_procs = 16;

// Everything the processes share: the lock, the protected data, the control flags and each
// process's progress counter.
template <class Lock>
struct arena {
  alignas(128) Lock lock;
  alignas(128) std::uint64_t counter = 0;
  std::uint64_t words[4] = {};
  alignas(128) std::atomic<int> ready{0};
  std::atomic<int> stop{0};
  progress done[max_procs];
};

// An anonymous shared mapping for one arena, kept across fork().
template <class Lock>
class shared_arena {
 public:
  shared_arena()
      : mem_(::mmap(nullptr, sizeof(arena<Lock>), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0)) {
    if (mem_ == MAP_FAILED) throw std::runtime_error("mmap failed");
    a_ = new (mem_) arena<Lock>;
  }
  ~shared_arena() {
    a_->~arena<Lock>();
    ::munmap(mem_, sizeof(arena<Lock>));
  }
  shared_arena(const shared_arena&) = delete;
  shared_arena& operator=(const shared_arena&) = delete;
  arena<Lock>& operator*() const { return *a_; }

 private:
  void* mem_ = nullptr;
  arena<Lock>* a_ = nullptr;
};

// `procs` processes run the lock loop; progress is snapshotted after a warm-up and at the end of
// the window (as run_windowed does for threads).
template <class Lock>
void contended(benchmark::State& st, int procs, bool short_cs) {
  shared_arena<Lock> region;
  arena<Lock>& a = *region;
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      std::uint64_t seed = static_cast<std::uint64_t>(p) + 1;
      a.ready.fetch_add(1);
      while (a.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
        a.lock.lock();
        ++a.counter;
        if (short_cs) {
          for (auto& w : a.words) w += a.counter;
        }
        a.lock.unlock();
        if (short_cs) seed = local_work(seed);
        a.done[p].add();
      }
      benchmark::DoNotOptimize(seed);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  while (a.ready.load() != procs) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // warm-up
  result r;
  const auto n = static_cast<std::size_t>(procs);
  std::vector<std::uint64_t> start(n);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < n; ++i) start[i] = a.done[i].count.load(std::memory_order_relaxed);
  std::this_thread::sleep_for(run_time());
  r.per_thread.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    r.per_thread[i] = a.done[i].count.load(std::memory_order_relaxed) - start[i];
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  a.stop.store(1);
  for (pid_t k : kids) {
    int status = 0;
    ::waitpid(k, &status, 0);
  }
  report(st, r);
}

template <class Lock>
void uncontended(benchmark::State& st, int) {
  shared_arena<Lock> region;
  arena<Lock>& a = *region;
  auto r = run_timed(1, [&](int, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      for (int i = 0; i < 64; ++i) {
        a.lock.lock();
        ++a.counter;
        benchmark::ClobberMemory();
        a.lock.unlock();
      }
      n += 64;
    }
    return n;
  });
  report(st, r, false);
}

const std::vector<int> process_counts = {2, 4, 8};

template <class Lock>
void add_robust(const std::string& name) {
  add("ipc", "robust_uncontended", name, {1}, uncontended<Lock>);
  add("ipc", "robust_empty_cs", name, process_counts,
      [](benchmark::State& s, int n) { contended<Lock>(s, n, false); });
  add("ipc", "robust_short_cs", name, process_counts,
      [](benchmark::State& s, int n) { contended<Lock>(s, n, true); });
}

const registrar reg([] {
  add_robust<robust>("atomkit::ipc::robust_lock");
  add_robust<pthread_robust>("pthread_mutex(robust,pshared)");
});

}  // namespace
