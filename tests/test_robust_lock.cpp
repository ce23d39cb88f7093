// ipc::robust_lock: the owner_died flow, mark_consistent misuse, the unrecoverable state, try and
// timed forms, two mappings of one lock at different addresses; across fork(): mutual exclusion
// between processes, and the kill test (the holder is SIGKILLed at a random moment; the next
// acquirer is told owner_died within a bound, nothing hangs, no update is lost once it repairs);
// unlock_unrepaired() keeps owner_died for the next acquirer, which lock_all's back-off and
// condition_variable's wait rely on (both tested with a holder process that died).
//
// The kill test runs ATOMKIT_ROBUST_KILL_RUNS runs (default 30) and asserts that the slowest
// detection took at most ATOMKIT_ROBUST_KILL_BOUND_MS (default 1000: CI machines are loaded);
// scripts/soak_robust.sh runs 1000 runs with the 50 ms bound.
#include <atomkit/condition_variable.hpp>
#include <atomkit/lock_all.hpp>
#include <atomkit/robust_lock.hpp>
#include <atomkit/spinlock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <new>
#include <random>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using atomkit::ipc::lock_result;
using atomkit::ipc::robust_lock;

static_assert(std::is_standard_layout_v<robust_lock>);
static_assert(!std::is_copy_constructible_v<robust_lock> && !std::is_move_constructible_v<robust_lock>);

namespace {

// An anonymous shared mapping (kept across fork()), unmapped at the end of the scope.
class shared_pages {
 public:
  explicit shared_pages(std::size_t bytes)
      : p_(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)),
        bytes_(bytes) {
    REQUIRE(p_ != MAP_FAILED);
  }
  ~shared_pages() { ::munmap(p_, bytes_); }
  shared_pages(const shared_pages&) = delete;
  shared_pages& operator=(const shared_pages&) = delete;
  [[nodiscard]] void* get() const { return p_; }

 private:
  void* p_;
  std::size_t bytes_;
};

// The state a test keeps in shared memory: the lock and a counter updated in two steps under it
// (a death between the steps leaves first != second, which a repair must fix).
struct shared_state {
  robust_lock lock;
  std::uint64_t first = 0;   // written first
  std::uint64_t second = 0;  // then made equal to first
  std::atomic<std::int64_t> detected_ns{0};    // when the next acquirer was told owner_died
  std::atomic<std::int32_t> waiter_ready{0};   // the waiting process is about to lock
  std::atomic<std::int32_t> holder_holds{0};   // the doomed holder holds the lock
  std::atomic<std::uint64_t> holder_steps{0};  // the holder's progress (for the random moment)
  std::atomic<std::int32_t> gap_seen{-1};      // first - second as the recoverer found it
};

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Waits for a child with a bound; kills it (and fails) if it overstays. Returns its exit code,
// or -signal if a signal ended it.
int reap(pid_t pid, std::chrono::milliseconds limit, bool expect_in_time = true) {
  const std::int64_t end = now_ns() + std::chrono::nanoseconds(limit).count();
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    const std::int64_t left_ms = (end - now_ns()) / 1'000'000;
    if (left_ms <= 0) {
      if (expect_in_time) FAIL_CHECK("child " << pid << " did not finish in time: killed");
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
    } else {
      std::this_thread::sleep_for(1ms);  // no pidfd: a bounded poll of waitpid
    }
  }
  if (fd >= 0) ::close(fd);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

// Runs body() in a child process, which exits with its result (an exception: 90).
template <class Body>
pid_t spawn(Body&& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 91;
    try {
      code = body();
    } catch (...) {
      code = 90;
    }
    ::_exit(code);
  }
  return pid;
}

// A thread that takes the lock and ends without unlocking it.
void die_holding(robust_lock& m) {
  std::thread([&] { CHECK(m.lock() == lock_result::acquired); }).join();
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

// Under ThreadSanitizer, a thread that ends holding the lock stays its owner in TSan's view (TSan
// has no annotation that repairs a lock, as its pthread interceptor does for EOWNERDEAD), so the
// recovering thread of the same process would get a "double lock" report: the cases where a
// thread of this process dies holding the lock are skipped there. Deaths of other processes are
// invisible to this process's TSan: the fork() cases run under TSan too.
constexpr bool thread_death_ok = ATOMKIT_TSAN == 0;
#define ATOMKIT_SKIP_UNDER_TSAN()                                                          \
  if (!thread_death_ok) {                                                                  \
    MESSAGE("skipped under ThreadSanitizer: a thread of this process dies holding the lock"); \
    return;                                                                                \
  }

}  // namespace

TEST_CASE("robust_lock: lock, try_lock, unlock and the standard wrappers") {
  robust_lock m;
  CHECK_FALSE(m.is_locked());
  CHECK(m.lock() == lock_result::acquired);
  CHECK(m.is_locked());
  CHECK_FALSE(m.owner_died());
  CHECK_FALSE(m.try_lock());  // held, even by this thread
  bool other = true;
  std::thread([&] { other = m.try_lock(); }).join();
  CHECK_FALSE(other);
  m.unlock();
  CHECK(m.try_lock());
  m.unlock();
  {
    std::scoped_lock g(m);
    CHECK(m.is_locked());
  }
  {
    std::unique_lock u(m, 10ms);
    CHECK(u.owns_lock());
  }
  CHECK_FALSE(m.is_locked());
}

TEST_CASE("robust_lock: misuse is reported and leaves the lock as it was") {
  robust_lock m;
  CHECK_THROWS_AS(m.unlock(), std::system_error);  // not held
  CHECK_THROWS_AS(m.mark_consistent(), std::system_error);
  m.lock();
  try {
    m.mark_consistent();  // held, but not after owner_died
    FAIL("mark_consistent() did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::operation_not_permitted);
  }
  CHECK_THROWS_AS(m.lock(), std::system_error);  // self-deadlock
  CHECK_THROWS_AS(static_cast<void>(m.try_lock_for(1ms)), std::system_error);
  bool threw = false;
  std::thread([&] {
    try {
      m.unlock();  // by a thread that does not hold it
    } catch (const std::system_error& e) {
      threw = e.code() == std::errc::operation_not_permitted;
    }
  }).join();
  CHECK(threw);
  CHECK(m.is_locked());
  m.unlock();
  CHECK_FALSE(m.is_locked());
}

TEST_CASE("robust_lock: a holder that ends makes the next acquirer repair, then all is normal") {
  ATOMKIT_SKIP_UNDER_TSAN()
  robust_lock m;
  die_holding(m);
  CHECK(m.is_locked());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(m.lock() == lock_result::owner_died);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(m.owner_died());
  m.mark_consistent();
  CHECK_FALSE(m.owner_died());
  CHECK_THROWS_AS(m.mark_consistent(), std::system_error);  // only once
  m.unlock();
  CHECK(m.lock() == lock_result::acquired);
  m.unlock();

  SUBCASE("try_lock sees a dead holder at once") {
    die_holding(m);
    CHECK(m.try_lock());
    CHECK(m.owner_died());
    m.mark_consistent();
    m.unlock();
  }
  SUBCASE("a short try_lock_for sees a dead holder") {
    die_holding(m);
    CHECK(m.try_lock_for(1ms));
    CHECK(m.owner_died());
    m.mark_consistent();
    m.unlock();
  }
  SUBCASE("a recoverer that dies too: the next one is told again") {
    die_holding(m);
    std::thread([&] { CHECK(m.lock() == lock_result::owner_died); }).join();  // dies repairing
    CHECK(m.lock() == lock_result::owner_died);
    m.mark_consistent();
    m.unlock();
  }
  SUBCASE("exactly one of several waiters is told") {
    std::atomic<int> died{0};
    std::atomic<int> done{0};
    die_holding(m);
    std::vector<std::thread> waiters;
    waiters.reserve(3);
    for (int i = 0; i < 3; ++i) {
      waiters.emplace_back([&] {
        if (m.lock() == lock_result::owner_died) {
          died.fetch_add(1);
          m.mark_consistent();
        }
        done.fetch_add(1);
        m.unlock();
      });
    }
    for (auto& t : waiters) t.join();
    CHECK(died.load() == 1);
    CHECK(done.load() == 3);
  }
  CHECK(m.lock() == lock_result::acquired);
  m.unlock();
}

TEST_CASE("robust_lock: an unrepaired unlock makes it unrecoverable for everyone") {
  ATOMKIT_SKIP_UNDER_TSAN()
  robust_lock m;
  die_holding(m);
  // A waiter asleep when the lock becomes unrecoverable is woken and told.
  std::atomic<int> waiter_state{0};  // 1: waiting, 2: got state_not_recoverable
  CHECK(m.lock() == lock_result::owner_died);
  std::thread waiter([&] {
    waiter_state.store(1);
    try {
      m.lock();
      m.unlock();
    } catch (const std::system_error& e) {
      if (e.code() == std::errc::state_not_recoverable) waiter_state.store(2);
    }
  });
  while (waiter_state.load() == 0) std::this_thread::yield();
  m.unlock();  // without mark_consistent()
  waiter.join();
  CHECK(waiter_state.load() == 2);
  CHECK(m.is_unrecoverable());
  CHECK_FALSE(m.is_locked());
  for (int i = 0; i < 4; ++i) {
    try {
      switch (i) {
        case 0: m.lock(); break;
        case 1: static_cast<void>(m.try_lock()); break;
        case 2: static_cast<void>(m.try_lock_for(1ms)); break;
        default: static_cast<void>(m.try_lock_until(std::chrono::steady_clock::now() + 1ms));
      }
      FAIL("an acquisition of an unrecoverable lock returned");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::state_not_recoverable);
    }
  }
  CHECK_THROWS_AS(m.unlock(), std::system_error);
}

TEST_CASE("robust_lock: timed forms time out against a live holder and succeed on release") {
  robust_lock m;
  std::atomic<int> phase{0};
  std::thread holder([&] {
    m.lock();
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    m.unlock();
  });
  while (phase.load() != 1) std::this_thread::yield();
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(m.try_lock_for(30ms));  // several liveness slices: the holder lives
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(m.try_lock_until(std::chrono::system_clock::now() + 15ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 14ms);
  CHECK_FALSE(m.try_lock_for(0ms));
  CHECK_FALSE(m.try_lock());
  CHECK_FALSE(m.owner_died());
  std::thread releaser([&] { phase.store(2); });
  CHECK(m.try_lock_for(20s));
  CHECK_FALSE(m.owner_died());
  m.unlock();
  releaser.join();
  holder.join();
}

TEST_CASE("robust_lock: threads exclude each other") {
  robust_lock m;
  std::uint64_t first = 0;
  std::uint64_t second = 0;
  const std::size_t rounds = stress::scaled(20000);
  stress::time_box box(std::chrono::seconds(10));
  std::atomic<std::uint64_t> done{0};
  stress::run_threads(4, [&](int id) {
    for (std::size_t i = 0; i < rounds && !box.expired(); ++i) {
      if (id == 3 && i % 2 == 0) {
        if (!m.try_lock_for(1s)) continue;
      } else {
        m.lock();
      }
      const std::uint64_t v = first + 1;
      first = v;
      second = v;
      m.unlock();
      done.fetch_add(1, std::memory_order_relaxed);
    }
  });
  CHECK(first == done.load());
  CHECK(second == first);
}

TEST_CASE("robust_lock: one lock through two mappings at different addresses") {
  const int fd = static_cast<int>(::syscall(SYS_memfd_create, "atomkit_robust", 0));
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 4096) == 0);
  void* a = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* b = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(a != MAP_FAILED);
  REQUIRE(b != MAP_FAILED);
  REQUIRE(a != b);
  auto* la = new (a) robust_lock;
  auto* lb = static_cast<robust_lock*>(b);  // the same object, seen at another address
  la->lock();
  CHECK(lb->is_locked());
  std::atomic<bool> got{false};
  std::thread other([&] {
    lb->lock();  // sleeps on the shared futex through the other mapping
    got.store(true);
    lb->unlock();
  });
  std::this_thread::sleep_for(20ms);  // not synchronization: lets `other` reach its sleep
  CHECK_FALSE(got.load());
  la->unlock();  // the wake-up must reach it through the other mapping
  other.join();
  CHECK(got.load());
  la->~robust_lock();
  ::munmap(a, 4096);
  ::munmap(b, 4096);
}

TEST_CASE("robust_lock: processes exclude each other (fork)") {
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  constexpr int procs = 4;
  const std::uint64_t rounds = stress::scaled(20000);
  std::vector<pid_t> kids;
  kids.reserve(procs);
  for (int p = 0; p < procs; ++p) {
    kids.push_back(spawn([&, p] {
      for (std::uint64_t i = 0; i < rounds; ++i) {
        if (p == 0 && i % 3 == 0) {
          if (!st->lock.try_lock_for(10s)) return 3;
        } else if (st->lock.lock() != lock_result::acquired) {
          return 4;
        }
        if (st->first != st->second) return 5;  // a torn update: two holders at once
        st->first = st->first + 1;
        st->second = st->first;
        st->lock.unlock();
      }
      return 0;
    }));
  }
  for (pid_t k : kids) CHECK(reap(k, 60s) == 0);
  CHECK(st->first == procs * rounds);
  CHECK(st->second == st->first);
  st->~shared_state();
}

TEST_CASE("robust_lock: across processes, owner_died, then unrecoverable in every process") {
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  // A child takes the lock and exits holding it.
  const pid_t dies = spawn([st] { return st->lock.lock() == lock_result::acquired ? 0 : 1; });
  CHECK(reap(dies, 10s) == 0);
  // Another child is told, repairs and marks it consistent: the lock is normal again.
  const pid_t repairs = spawn([st] {
    if (st->lock.lock() != lock_result::owner_died || !st->lock.owner_died()) return 2;
    st->lock.mark_consistent();
    st->lock.unlock();
    return 0;
  });
  CHECK(reap(repairs, 10s) == 0);
  CHECK(st->lock.lock() == lock_result::acquired);
  st->lock.unlock();
  // A child dies holding it again; this process is told and unlocks without repairing.
  const pid_t dies_again = spawn([st] { return st->lock.lock() == lock_result::acquired ? 0 : 1; });
  CHECK(reap(dies_again, 10s) == 0);
  CHECK(st->lock.try_lock());
  CHECK(st->lock.owner_died());
  st->lock.unlock();
  CHECK(st->lock.is_unrecoverable());
  // Every other process now gets state_not_recoverable.
  const pid_t later = spawn([st] {
    try {
      st->lock.lock();
    } catch (const std::system_error& e) {
      return e.code() == std::errc::state_not_recoverable ? 0 : 3;
    }
    return 4;
  });
  CHECK(reap(later, 10s) == 0);
  st->~shared_state();
}

// One run of the kill test. A doomed holder process takes the lock and updates the counter in two
// steps in a loop, inside one hold; a waiter process blocks in lock(). At a random moment the
// parent SIGKILLs the holder; the waiter must be told owner_died (and find first - second in
// {0, 1}), repair, add its own update and mark the lock consistent. In half the runs the parent
// reaps the holder at once; in the others only after the waiter is done, so the waiter meets a
// zombie. Returns the detection latency (kill to owner_died) in nanoseconds, or -1 on failure.
std::int64_t kill_run(shared_state* st, std::mt19937_64& rng, bool reap_at_once) {
  st->detected_ns.store(0);
  st->waiter_ready.store(0);
  st->holder_holds.store(0);
  st->holder_steps.store(0);
  st->gap_seen.store(-1);
  const std::uint64_t before = st->first;
  const pid_t holder = spawn([st] {
    if (st->lock.lock() == lock_result::owner_died) return 6;
    st->holder_holds.store(1);
    for (;;) {  // until killed: a two-step update, over and over
      st->first = st->first + 1;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      st->holder_steps.fetch_add(1, std::memory_order_relaxed);
      st->second = st->first;
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  });
  const pid_t waiter = spawn([st] {
    while (st->holder_holds.load() == 0) std::this_thread::yield();
    st->waiter_ready.store(1);
    const lock_result r = st->lock.lock();
    st->detected_ns.store(now_ns());
    if (r != lock_result::owner_died) return 7;
    if (!st->lock.owner_died()) return 8;
    const std::uint64_t gap = st->first - st->second;
    st->gap_seen.store(static_cast<std::int32_t>(gap));
    if (gap > 1) return 9;
    st->second = st->first;  // the repair: complete the interrupted update
    st->first = st->first + 1;
    st->second = st->first;
    st->lock.mark_consistent();
    st->lock.unlock();
    return 0;
  });
  // The random moment: after the holder has made a random number of steps (0 to 20000) and the
  // waiter is about to block (or has blocked).
  const std::uint64_t steps = std::uniform_int_distribution<std::uint64_t>(0, 20000)(rng);
  stress::time_box box(std::chrono::seconds(10));
  while ((st->holder_steps.load(std::memory_order_relaxed) < steps ||
          st->waiter_ready.load() == 0) &&
         !box.expired()) {
    std::this_thread::yield();
  }
  if (std::uniform_int_distribution<int>(0, 1)(rng) == 1) {
    std::this_thread::sleep_for(std::chrono::microseconds(
        std::uniform_int_distribution<int>(0, 3000)(rng)));  // not synchronization: the moment
  }
  const std::int64_t killed_ns = now_ns();
  ::kill(holder, SIGKILL);
  int holder_status = 0;
  if (reap_at_once) holder_status = reap(holder, 10s);
  const int waiter_status = reap(waiter, 10s);
  if (!reap_at_once) holder_status = reap(holder, 10s);
  CHECK(holder_status == -SIGKILL);
  CHECK(waiter_status == 0);
  if (waiter_status != 0) {
    MESSAGE("waiter exit " << waiter_status << ", gap " << st->gap_seen.load());
    return -1;
  }
  // After the repair, nothing is lost: the interrupted update was completed, one more was added.
  CHECK(st->first == st->second);
  CHECK(st->first > before);
  CHECK(st->lock.lock() == lock_result::acquired);
  CHECK(st->first == st->second);
  st->lock.unlock();
  return st->detected_ns.load() - killed_ns;
}

TEST_CASE("robust_lock: kill test, the holder SIGKILLed at a random moment") {
  const std::uint64_t runs = env_or("ATOMKIT_ROBUST_KILL_RUNS", 30);
  const auto bound_ms = static_cast<std::int64_t>(env_or("ATOMKIT_ROBUST_KILL_BOUND_MS", 1000));
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  std::mt19937_64 rng = stress::rng(11);
  stress::time_box box(std::chrono::seconds(runs > 100 ? 3600 : 30));
  std::vector<std::int64_t> latencies;
  std::uint64_t failed = 0;
  for (std::uint64_t run = 0; run < runs && !box.expired(); ++run) {
    const std::int64_t ns = kill_run(st, rng, run % 2 == 0);
    if (ns < 0) {
      ++failed;
      continue;
    }
    latencies.push_back(ns);
  }
  REQUIRE_FALSE(latencies.empty());
  std::sort(latencies.begin(), latencies.end());
  const double max_ms = static_cast<double>(latencies.back()) / 1e6;
  const auto pct = [&](std::size_t permille) {
    return static_cast<double>(latencies[(latencies.size() - 1) * permille / 1000]) / 1e6;
  };
  std::printf("robust kill test: %zu runs, %llu failed, detection median %.2f ms, p90 %.2f ms, "
              "p99 %.2f ms, max %.2f ms (bound %lld ms)\n",
              latencies.size(), static_cast<unsigned long long>(failed), pct(500), pct(900),
              pct(990), max_ms, static_cast<long long>(bound_ms));
  CHECK(failed == 0);
  CHECK(max_ms <= static_cast<double>(bound_ms));
  st->~shared_state();
}

namespace {

// A child process takes the lock and exits holding it: the next acquirer is told owner_died.
void child_dies_holding(robust_lock& m) {
  const pid_t dies = spawn([&m] { return m.lock() == lock_result::acquired ? 0 : 1; });
  REQUIRE(reap(dies, 10s) == 0);
}

}  // namespace

TEST_CASE("robust_lock: unlock_unrepaired keeps owner_died for the next acquirer") {
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  robust_lock& m = st->lock;
  CHECK_THROWS_AS(m.unlock_unrepaired(), std::system_error);  // not held
  child_dies_holding(m);
  CHECK(m.lock() == lock_result::owner_died);
  m.unlock_unrepaired();
  CHECK_FALSE(m.is_locked());
  CHECK_FALSE(m.is_unrecoverable());
  CHECK(m.owner_died());  // free, and its next acquirer is to be told
  // Another process is told in turn, and gives it back unrepaired too.
  const pid_t passes = spawn([st] {
    if (!st->lock.try_lock() || !st->lock.owner_died()) return 2;
    st->lock.unlock_unrepaired();
    return 0;
  });
  CHECK(reap(passes, 10s) == 0);
  CHECK(m.try_lock_for(1s));
  CHECK(m.owner_died());
  m.mark_consistent();
  m.unlock();
  CHECK(m.lock() == lock_result::acquired);  // normal again
  CHECK_FALSE(m.owner_died());
  m.unlock_unrepaired();  // without owner_died: a plain unlock
  CHECK(m.lock() == lock_result::acquired);
  m.unlock();
  CHECK_FALSE(m.is_locked());
  st->~shared_state();
}

TEST_CASE("robust_lock: lock_all backs off from a recovered lock without making it unrecoverable") {
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  robust_lock& m = st->lock;
  atomkit::spinlock s;
  child_dies_holding(m);
  std::atomic<bool> held{false};
  std::atomic<bool> go{false};
  std::thread other([&] {
    s.lock();
    held.store(true);
    while (!go.load()) std::this_thread::yield();
    s.unlock();
  });
  while (!held.load()) std::this_thread::yield();
  // A round recovers m (owner_died), finds s busy, backs off: m must stay recoverable.
  CHECK_FALSE(atomkit::try_lock_all_for(20ms, m, s));
  CHECK_FALSE(m.is_locked());
  CHECK_FALSE(m.is_unrecoverable());
  CHECK(m.owner_died());
  go.store(true);
  atomkit::lock_all(m, s);  // whatever the rounds, the caller is told through owner_died()
  CHECK(m.owner_died());
  CHECK_FALSE(m.is_unrecoverable());
  m.mark_consistent();
  s.unlock();
  m.unlock();
  other.join();
  // multi_lock: the same; the caller repairs before the destructor's unlock.
  child_dies_holding(m);
  {
    atomkit::multi_lock hold(s, m);
    CHECK(m.owner_died());
    m.mark_consistent();
  }
  CHECK(m.lock() == lock_result::acquired);
  m.unlock();
  st->~shared_state();
}

TEST_CASE("robust_lock: a condition_variable wait keeps owner_died for the waiter to repair") {
  shared_pages mem(sizeof(shared_state));
  auto* st = new (mem.get()) shared_state;
  robust_lock& m = st->lock;
  atomkit::condition_variable cv;
  child_dies_holding(m);
  CHECK(m.lock() == lock_result::owner_died);
  bool ready = false;  // under m
  bool other_told = false;
  std::thread other([&] {
    other_told = m.lock() == lock_result::owner_died;  // once the wait below released m
    ready = true;
    m.unlock_unrepaired();
    cv.notify_one();
  });
  cv.wait(m, [&] { return ready; });  // releases m keeping owner_died; retakes it
  other.join();
  CHECK(other_told);
  CHECK(m.owner_died());  // the waiter learns it holds a recovered lock
  CHECK_FALSE(m.is_unrecoverable());
  m.mark_consistent();
  m.unlock();
  // Through std::unique_lock, timing out.
  child_dies_holding(m);
  {
    std::unique_lock<robust_lock> g(m);
    CHECK(m.owner_died());
    CHECK(cv.wait_for(g, 1ms) == std::cv_status::timeout);
    CHECK(g.owns_lock());
    CHECK(m.owner_died());
    m.mark_consistent();
  }
  CHECK(m.lock() == lock_result::acquired);
  m.unlock();
  st->~shared_state();
}
