// Locks: spinlock, busy_spinlock, ticket_lock. Standard wrappers, mutual exclusion under 2-16
// threads, try_lock and timed forms, FIFO order, misuse, and that parked waiters burn no CPU.
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

#define ATOMKIT_LOCK_TYPES atomkit::spinlock, atomkit::busy_spinlock, atomkit::ticket_lock

// A far-future deadline on a coarse clock must not overflow into "already passed".
TEST_CASE("far-future deadlines on other clocks wait, they do not time out at once") {
  atomkit::spinlock lock;
  lock.lock();
  std::atomic<long> tid{0};
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    tid.store(stress::current_tid());
    got.store(lock.try_lock_until(
        std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>::max()));
    if (got.load()) lock.unlock();
  });
  stress::time_box box(std::chrono::seconds(20));
  while (tid.load() == 0) std::this_thread::yield();
  CHECK(stress::wait_until_asleep(tid.load(), box));  // asleep, not returned false at once
  lock.unlock();
  waiter.join();
  CHECK(got.load());
}

TEST_CASE("std::scoped_lock, lock_guard and unique_lock work over atomkit locks") {
  atomkit::spinlock a;
  atomkit::busy_spinlock b;
  atomkit::ticket_lock c;
  {
    std::scoped_lock all(a, b, c);
    CHECK(a.is_locked());
    CHECK(b.is_locked());
    CHECK(c.queue_length() == 1);
  }
  CHECK_FALSE(a.is_locked());
  CHECK_FALSE(b.is_locked());
  CHECK(c.queue_length() == 0);
  {
    std::lock_guard g(a);
    std::unique_lock u(c, 10ms);  // TimedLockable constructor
    CHECK(u.owns_lock());
  }
  // std::lock with several atomkit locks, contended from two threads in opposite orders: the
  // standard deadlock avoidance must work through try_lock.
  int shared = 0;
  const std::size_t rounds = stress::scaled(20000);
  stress::run_threads(2, [&](int id) {
    for (std::size_t i = 0; i < rounds; ++i) {
      if (id == 0) {
        std::scoped_lock l(a, b, c);
        ++shared;
      } else {
        std::scoped_lock l(c, b, a);
        ++shared;
      }
    }
  });
  CHECK(shared == static_cast<int>(2 * rounds));
}

TEST_CASE_TEMPLATE("mutual exclusion under 2 to 16 threads", Lock, ATOMKIT_LOCK_TYPES) {
  stress::seed();
  for (int threads : {2, 4, 8, 16}) {
    CAPTURE(threads);
    Lock lock;
    long long counter = 0;  // plain: a non-atomic read-modify-write shows any overlap
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    const std::size_t per_thread = stress::scaled(40000) / static_cast<std::size_t>(threads) + 1;
    std::atomic<long long> done{0};
    stress::time_box box;
    stress::run_threads(threads, [&](int id) {
      auto rng = stress::rng(static_cast<std::uint64_t>(id));
      for (std::size_t i = 0; i < per_thread && !box.expired(); ++i) {
        std::lock_guard g(lock);
        // relaxed: a detector of overlap, not part of the lock's protocol.
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0) {
          overlaps.fetch_add(1, std::memory_order_relaxed);
        }
        const long long v = counter;
        if ((rng() & 7) == 0) std::this_thread::yield();  // widen the window
        counter = v + 1;
        inside.fetch_sub(1, std::memory_order_relaxed);
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
    CHECK(overlaps.load() == 0);
    CHECK(counter == done.load());
  }
}

TEST_CASE_TEMPLATE("try_lock and the timed forms", Lock, ATOMKIT_LOCK_TYPES) {
  Lock lock;
  REQUIRE(lock.try_lock());
  bool other = true;
  std::thread([&] { other = lock.try_lock(); }).join();
  CHECK_FALSE(other);

  // A time-out is honoured: the call returns false, and not before the deadline.
  std::thread([&] {
    const auto t0 = std::chrono::steady_clock::now();
    other = lock.try_lock_for(30ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  }).join();
  CHECK_FALSE(other);
  std::thread([&] {
    // A deadline on another clock is converted, and honoured.
    const auto t0 = std::chrono::steady_clock::now();
    other = lock.try_lock_until(std::chrono::system_clock::now() + 20ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 19ms);
  }).join();
  CHECK_FALSE(other);
  std::thread([&] { other = lock.try_lock_for(-5ms); }).join();  // already past
  CHECK_FALSE(other);

  // Success once released: a waiter with a long deadline, seen asleep, is woken by unlock()
  // (it must not merely find the lock free at its deadline).
  std::atomic<long> tid{0};
  std::atomic<bool> got{false};
  std::chrono::steady_clock::duration waited{};
  std::thread waiter([&] {
    tid.store(stress::current_tid());
    const auto t0 = std::chrono::steady_clock::now();
    got.store(lock.try_lock_for(60s));
    waited = std::chrono::steady_clock::now() - t0;
    if (got.load()) lock.unlock();
  });
  stress::time_box box(std::chrono::seconds(20));
  while (tid.load() == 0) std::this_thread::yield();
  // busy waiters never sleep in the kernel: nothing to wait for there.
  if constexpr (!std::is_same_v<Lock, atomkit::busy_spinlock>) {
    CHECK(stress::wait_until_asleep(tid.load(), box));
  }
  lock.unlock();
  waiter.join();
  CHECK(got.load());
  CHECK(waited < 30s);

  std::thread([&] {
    other = lock.try_lock();
    if (other) lock.unlock();
  }).join();
  CHECK(other);
  CHECK(lock.try_lock_until(std::chrono::steady_clock::now() + 1s));
  lock.unlock();
}

TEST_CASE_TEMPLATE("unlock of a lock that is not held throws and changes nothing", Lock,
                   ATOMKIT_LOCK_TYPES) {
  Lock lock;
  try {
    lock.unlock();
    FAIL("unlock() of a free lock did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::operation_not_permitted);
  }
  CHECK(lock.try_lock());
  lock.unlock();
  CHECK(lock.try_lock());
  lock.unlock();
}

TEST_CASE("ticket_lock serves waiters strictly in arrival order") {
  atomkit::ticket_lock lock;
  const int waiters = 8;
  std::vector<int> order;
  std::vector<std::thread> threads;
  lock.lock();
  for (int i = 0; i < waiters; ++i) {
    threads.emplace_back([&, i] {
      lock.lock();
      order.push_back(i);  // guarded by the lock
      lock.unlock();
    });
    // Thread i holds its ticket before thread i+1 starts: arrival order is i.
    while (lock.queue_length() != static_cast<std::uint32_t>(i + 2)) std::this_thread::yield();
  }
  CHECK_FALSE(lock.try_lock());  // free? no; and queued threads also refuse try_lock
  lock.unlock();
  for (auto& t : threads) t.join();
  REQUIRE(order.size() == static_cast<std::size_t>(waiters));
  for (int i = 0; i < waiters; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("ticket_lock: try_lock refuses while others are queued") {
  atomkit::ticket_lock lock;
  lock.lock();
  std::thread queued([&] {
    lock.lock();
    lock.unlock();
  });
  while (lock.queue_length() != 2) std::this_thread::yield();
  bool ok = true;
  std::thread([&] { ok = lock.try_lock(); }).join();
  CHECK_FALSE(ok);
  lock.unlock();
  queued.join();
  CHECK(lock.try_lock());
  lock.unlock();
}

TEST_CASE_TEMPLATE("parked waiters use no CPU", Lock, atomkit::spinlock, atomkit::ticket_lock) {
  if (stress::sanitized) return;  // sanitizer runtimes add their own CPU time
  Lock lock;
  lock.lock();
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  const double cpu0 = stress::process_cpu_seconds();
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      started.fetch_add(1);
      lock.lock();
      lock.unlock();
    });
  }
  while (started.load() != 4) std::this_thread::yield();
  std::this_thread::sleep_for(500ms);  // the measured interval, not synchronization
  const double used = stress::process_cpu_seconds() - cpu0;
  lock.unlock();
  for (auto& t : threads) t.join();
  MESSAGE("CPU seconds used by 4 waiters over 0.5 s: " << used);
  CHECK(used < 0.25);
}
