// condition_variable: no lost wake-up in a long ping-pong over every lock type (stall detector),
// timed and predicate forms, notify_all wakes every waiter one after the other in arrival order,
// time-outs mixed with notifies never swallow a wake-up, a reentrant lock is released to depth 0
// and restored, and waiting with a lock that is not held is reported; process-shared: a waiter
// process killed in wait() does not stall a later notify_all (fork, SIGKILL).
#include <atomkit/condition_variable.hpp>
#include <atomkit/ipc.hpp>
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <doctest/doctest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<atomkit::condition_variable>);
static_assert(!std::is_move_constructible_v<atomkit::condition_variable>);
static_assert(noexcept(std::declval<atomkit::condition_variable&>().notify_one()));
static_assert(noexcept(std::declval<atomkit::condition_variable&>().notify_all()));
static_assert(std::is_standard_layout_v<atomkit::condition_variable>);

namespace {


// How a test takes the lock it passes to wait(): the lock itself, or a std::unique_lock over it.
template <class Lock, bool Unique>
struct lock_kind {
  using lock_type = Lock;
  static constexpr bool unique = Unique;
};

// Ping-pong `rounds` round trips (or until the time box) between two threads; returns round trips.
template <class Kind, class Cv = atomkit::condition_variable>
long ping_pong(long rounds, std::chrono::seconds budget) {
  typename Kind::lock_type lock;
  Cv cv;
  long turn = 0;  // guarded by lock: even = ping's turn, odd = pong's
  std::atomic<long> progress{0};
  bool stop = false;  // guarded by lock
  const stress::time_box box(budget);
  const stress::stall_detector detector(progress, "ping-pong");
  auto player = [&](long parity) {
    for (;;) {
      const auto ready = [&] { return (turn & 1) == parity || stop; };
      if constexpr (Kind::unique) {
        std::unique_lock guard(lock);
        cv.wait(guard, ready);
        if (stop) return;
        ++turn;
        if (turn >= 2 * rounds || box.expired()) stop = true;
        progress.store(turn, std::memory_order_relaxed);
        cv.notify_one();  // under the lock
      } else {
        lock.lock();
        cv.wait(lock, ready);
        if (stop) {
          lock.unlock();
          return;
        }
        ++turn;
        if (turn >= 2 * rounds || box.expired()) stop = true;
        progress.store(turn, std::memory_order_relaxed);
        lock.unlock();
        cv.notify_one();  // after the unlock
      }
    }
  };
  std::thread pong(player, 1);
  player(0);
  {
    const std::scoped_lock guard(lock);
    stop = true;
  }
  cv.notify_all();
  pong.join();
  return progress.load() / 2;
}

}  // namespace

TEST_CASE_TEMPLATE("no lost wake-up in a long ping-pong", Kind,
                   lock_kind<atomkit::spinlock, false>, lock_kind<atomkit::spinlock, true>,
                   lock_kind<atomkit::ticket_lock, false>,
                   lock_kind<atomkit::reentrant_lock, false>, lock_kind<std::mutex, true>,
                   lock_kind<atomkit::busy_spinlock, false>) {
  stress::seed();
  const long n = ping_pong<Kind>(static_cast<long>(stress::scaled(20000)), 1s);
  MESSAGE("round trips: " << n);
  CHECK(n > 0);
}

TEST_CASE("busy policy: ping-pong") {
  const long n = ping_pong<lock_kind<atomkit::spinlock, false>,
                           atomkit::basic_condition_variable<atomkit::busy>>(
      static_cast<long>(stress::scaled(10000)), 1s);
  CHECK(n > 0);
}

TEST_CASE("the process-shared policy: same protocol, shared futexes") {
  atomkit::basic_condition_variable<atomkit::process_shared> cv;
  atomkit::spinlock m;
  bool ready = false;  // guarded by m
  std::atomic<bool> waiting{false};
  std::thread setter([&] {
    while (!waiting.load()) std::this_thread::yield();
    const std::scoped_lock g(m);
    ready = true;
    cv.notify_all();
  });
  m.lock();
  waiting.store(true);
  CHECK(cv.wait_for(m, 30s, [&] { return ready; }));
  CHECK(cv.wait_for(m, 1ms) == std::cv_status::timeout);
  m.unlock();
  setter.join();
}

TEST_CASE("timed forms: time-out with the lock held again, no time-out when notified") {
  atomkit::condition_variable cv;
  atomkit::spinlock m;
  m.lock();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(cv.wait_for(m, 20ms) == std::cv_status::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
  CHECK(m.is_locked());
  CHECK(cv.wait_until(m, std::chrono::steady_clock::now() - 1s) == std::cv_status::timeout);
  CHECK(cv.wait_until(m, std::chrono::system_clock::now() + 1ms) == std::cv_status::timeout);
  CHECK(cv.wait_for(m, 0ms) == std::cv_status::timeout);
  CHECK(m.is_locked());
  // Predicate forms: the predicate's value, with the lock held.
  bool flag = false;  // guarded by m
  t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(cv.wait_for(m, 10ms, [&] { return flag; }));
  CHECK(std::chrono::steady_clock::now() - t0 >= 10ms);
  flag = true;
  CHECK(cv.wait_for(m, 0ms, [&] { return flag; }));
  CHECK(cv.wait_until(m, std::chrono::steady_clock::now() - 1s, [&] { return flag; }));
  flag = false;
  m.unlock();
  // A notify before the deadline: no time-out, and the predicate form returns true.
  std::atomic<int> waiting{0};
  std::thread setter([&] {
    while (waiting.load() == 0) std::this_thread::yield();
    const std::scoped_lock g(m);  // the waiter released m: it is waiting
    flag = true;
    cv.notify_one();
  });
  m.lock();
  waiting.store(1);
  CHECK(cv.wait_for(m, 30s, [&] { return flag; }));
  CHECK(m.is_locked());
  m.unlock();
  setter.join();
  // The plain form: notified, no time-out.
  flag = false;
  waiting.store(0);
  std::thread notifier([&] {
    while (waiting.load() == 0) std::this_thread::yield();
    const std::scoped_lock g(m);
    flag = true;
    cv.notify_all();
  });
  {
    std::unique_lock g(m);
    waiting.store(1);
    while (!flag) CHECK(cv.wait_for(g, 30s) == std::cv_status::no_timeout);
  }
  notifier.join();
}

TEST_CASE_TEMPLATE("notify_all wakes every waiter, in arrival order, one after the other", Lock,
                   atomkit::spinlock, atomkit::ticket_lock, atomkit::reentrant_lock, std::mutex) {
  constexpr int waiters = 8;
  Lock m;
  atomkit::condition_variable cv;
  bool go = false;       // guarded by m
  int entered = 0;       // guarded by m
  std::vector<int> woke;  // guarded by m
  woke.reserve(waiters);
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < waiters; ++i) {
    threads.emplace_back([&, i] {
      while (arrived.load() != i) std::this_thread::yield();  // arrive in index order
      std::unique_lock g(m);
      ++entered;
      arrived.store(i + 1);  // the next may take m once this one waits (wait releases m)
      cv.wait(g, [&] { return go; });
      woke.push_back(i);
    });
  }
  for (;;) {
    const std::scoped_lock g(m);  // all have taken their tickets once the last has released m
    if (entered == waiters) {
      go = true;
      cv.notify_all();
      break;
    }
  }
  for (auto& t : threads) t.join();
  REQUIRE(woke.size() == static_cast<std::size_t>(waiters));
  for (int i = 0; i < waiters; ++i) CHECK(woke[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("notify_one wakes the longest waiter; with nobody waiting it does nothing") {
  atomkit::condition_variable cv;
  cv.notify_one();  // nobody waits: nothing is remembered
  cv.notify_all();
  std::mutex m;
  {
    std::unique_lock g(m);
    CHECK(cv.wait_for(g, 1ms) == std::cv_status::timeout);
  }
  std::atomic<long> progress{0};
  const stress::stall_detector detector(progress, "notify_one order");
  std::vector<int> order;  // guarded by m
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      while (arrived.load() != i) std::this_thread::yield();  // arrive in index order
      std::unique_lock g(m);
      arrived.store(i + 1);
      cv.wait(g);  // this implementation has no spurious wake-ups: returns on a notify
      order.push_back(i);
      progress.fetch_add(1);
    });
  }
  for (std::size_t i = 0; i < 4; ++i) {
    for (;;) {
      const std::scoped_lock g(m);  // every waiter waits once the last arrival released m
      if (arrived.load() == 4 && order.size() == i) {
        cv.notify_one();
        break;
      }
    }
    while (progress.load() != static_cast<long>(i + 1)) std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("time-outs mixed with notifies never swallow a wake-up") {
  // Consumers wait without a time-out; other threads wait on the same condition variable with
  // short random time-outs (so tickets are withdrawn from every place in the line) and pass on
  // any notify that reached them. A notify lost to a time-out leaves a consumer asleep with items
  // queued: the stall detector fails the test.
  stress::seed();
  atomkit::condition_variable cv;
  atomkit::spinlock m;
  long items = 0;  // guarded by m
  bool closed = false;  // guarded by m
  std::atomic<long> consumed{0};
  const stress::stall_detector detector(consumed, "time-outs mixed with notifies");
  const long total = static_cast<long>(stress::scaled(20000));
  const stress::time_box box(4s);
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int c = 0; c < 3; ++c) {
    threads.emplace_back([&] {
      std::unique_lock g(m);
      for (;;) {
        cv.wait(g, [&] { return items > 0 || closed; });
        if (items == 0) return;
        --items;
        consumed.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (int c = 0; c < 3; ++c) {
    threads.emplace_back([&, c] {
      auto rng = stress::rng(static_cast<std::uint64_t>(c));
      std::unique_lock g(m);
      while (!closed) {
        const auto timeout = std::chrono::microseconds(rng() % 300);
        if (cv.wait_for(g, timeout) == std::cv_status::no_timeout && items > 0) {
          cv.notify_one();  // not ours to take: pass it on
        }
      }
    });
  }
  auto rng = stress::rng(99);
  long produced = 0;
  for (; produced < total && !box.expired(); ++produced) {
    const std::scoped_lock g(m);
    ++items;
    if (rng() % 8 == 0) {
      cv.notify_all();
    } else {
      cv.notify_one();
    }
  }
  while (consumed.load() != produced) std::this_thread::yield();
  {
    const std::scoped_lock g(m);
    closed = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  CHECK(consumed.load() == produced);
  MESSAGE("items: " << produced);
}

TEST_CASE("untimed waiters with notify_one only: every item is taken") {
  stress::seed();
  atomkit::condition_variable cv;
  atomkit::ticket_lock m;
  long items = 0;  // guarded by m
  bool closed = false;
  std::atomic<long> progress{0};
  const stress::stall_detector detector(progress, "notify_one only");
  const long total = static_cast<long>(stress::scaled(20000));
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int c = 0; c < 4; ++c) {
    threads.emplace_back([&] {
      m.lock();
      for (;;) {
        cv.wait(m, [&] { return items > 0 || closed; });
        if (items == 0) break;
        --items;
        progress.fetch_add(1, std::memory_order_relaxed);
      }
      m.unlock();
    });
  }
  for (long i = 0; i < total; ++i) {
    m.lock();
    ++items;
    m.unlock();
    cv.notify_one();
  }
  for (;;) {
    const std::scoped_lock g(m);
    if (progress.load() == total) {
      closed = true;
      cv.notify_all();
      break;
    }
  }
  for (auto& t : threads) t.join();
  CHECK(progress.load() == total);
}

TEST_CASE("a reentrant lock is released completely for the wait and restored") {
  atomkit::condition_variable cv;
  atomkit::reentrant_lock r;
  r.lock();
  r.lock();
  r.lock();
  bool done = false;  // guarded by r
  std::thread other([&] {
    const std::scoped_lock g(r);  // possible only while the waiter has released every level
    done = true;
    cv.notify_one();
  });
  cv.wait(r, [&] { return done; });
  CHECK(r.depth() == 3);
  r.unlock();
  r.unlock();
  r.unlock();
  other.join();
  CHECK_FALSE(r.held_by_this_thread());
}

TEST_CASE("waiting with a lock that is not held is reported, and changes nothing") {
  atomkit::condition_variable cv;
  const auto not_permitted = [](const std::system_error& e) {
    return e.code() == std::make_error_code(std::errc::operation_not_permitted);
  };
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  atomkit::reentrant_lock r;
  std::mutex m;
  std::unique_lock<std::mutex> none(m, std::defer_lock);
  try {
    cv.wait(s);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(not_permitted(e));
  }
  try {
    (void)cv.wait_for(t, 1s);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(not_permitted(e));
  }
  try {
    cv.wait(none, [] { return false; });
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(not_permitted(e));
  }
  // A reentrant lock held by another thread.
  std::atomic<int> phase{0};
  std::thread holder([&] {
    r.lock();
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
    r.unlock();
  });
  while (phase.load() != 1) std::this_thread::yield();
  try {
    (void)cv.wait_until(r, std::chrono::steady_clock::now() + 1s);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(not_permitted(e));
  }
  phase.store(2);
  holder.join();
  CHECK_FALSE(s.is_locked());
  CHECK(t.queue_length() == 0);
  // Nothing was left behind: a waiter now times out normally and a notify finds nobody.
  s.lock();
  CHECK(cv.wait_for(s, 1ms) == std::cv_status::timeout);
  s.unlock();
  cv.notify_all();
}

TEST_CASE("process-shared: a waiter killed in wait() does not stall a later notify_all") {
  struct shared {
    atomkit::ipc::spinlock m;
    atomkit::basic_condition_variable<atomkit::process_shared> cv;
    std::atomic<int> in_wait{0};
    bool go = false;  // guarded by m
  };
  void* mem = ::mmap(nullptr, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
  REQUIRE(mem != MAP_FAILED);
  auto* st = new (mem) shared;
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::unique_lock g(st->m);
    st->in_wait.store(1);
    st->cv.wait(g, [&] { return st->go; });
    ::_exit(0);
  }
  while (st->in_wait.load() == 0) std::this_thread::yield();
  st->m.lock();  // free only once the child's wait took its ticket and released m
  st->m.unlock();
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  std::atomic<bool> waiting{false};
  bool woken = false;
  std::thread live([&] {
    std::unique_lock g(st->m);
    waiting.store(true);
    woken = st->cv.wait_for(g, 10s, [&] { return st->go; });
  });
  while (!waiting.load()) std::this_thread::yield();
  {
    const std::scoped_lock g(st->m);  // the live waiter holds its ticket once m is free
    st->go = true;
  }
  st->cv.notify_all();  // the dead waiter's ticket is the oldest: it must not hold up the live one
  const auto t0 = std::chrono::steady_clock::now();
  live.join();
  CHECK(woken);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  st->~shared();
  ::munmap(mem, sizeof(shared));
}
