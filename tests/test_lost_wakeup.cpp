// Regression for the lost wake-up in the spinlock's and the reentrant lock's wake claim
// (detail::notify_one_pending): a waiter that cleared a pending claim slept without re-checking,
// so the release that had skipped its wake for that claim was never seen, and the waiter slept
// forever with the lock free. Two threads ping-pong through std::condition_variable_any over the
// lock, which puts a waiter to sleep on the lock on nearly every round; a watchdog fails the test
// (and prints the lock's state) if no round trip completes for several seconds. This binary is
// also built with the symmetric handshake (ATOMKIT_SYMMETRIC_HANDSHAKE) and with every wait
// forced to its sleep path (tests/CMakeLists.txt), so both handshakes are covered.
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/spinlock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

namespace {

using namespace std::chrono_literals;

// Ping-pong `rounds` round trips (or until the time box), with a stall detector. Returns the
// number of round trips made.
template <class Lock>
long ping_pong(long rounds, std::chrono::seconds budget) {
  Lock lock;
  std::condition_variable_any cv;
  long turn = 0;  // guarded by lock: even = ping's turn, odd = pong's
  std::atomic<long> progress{0};
  std::atomic<bool> stop{false};
  const stress::time_box box(budget);

  auto player = [&](long parity) {
    for (;;) {
      std::unique_lock guard(lock);
      cv.wait(guard, [&] { return (turn & 1) == parity || stop.load(std::memory_order_relaxed); });
      if (stop.load(std::memory_order_relaxed)) return;
      ++turn;
      progress.store(turn, std::memory_order_relaxed);
      if (turn >= 2 * rounds || box.expired()) stop.store(true, std::memory_order_relaxed);
      cv.notify_one();
    }
  };
  // A round trip takes microseconds; 10 s without one is a hang (the old code hung with the lock
  // free and one waiter asleep in futex_wait).
  std::optional<stress::stall_detector> detector;
  detector.emplace(progress, "ping-pong (half-rounds)",
                   [&lock] { return lock.try_lock() ? "; lock free" : "; lock held"; });
  {
    std::thread pong(player, 1);
    player(0);
    {
      std::scoped_lock guard(lock);
      stop.store(true, std::memory_order_relaxed);
    }
    cv.notify_all();
    pong.join();
  }
  detector.reset();
  return progress.load() / 2;
}

}  // namespace

TEST_CASE("spinlock: condition_variable_any ping-pong never strands a waiter") {
  stress::seed();
  const long n = ping_pong<atomkit::spinlock>(static_cast<long>(stress::scaled(300000)), 8s);
  MESSAGE("round trips: " << n);
  CHECK(n > 0);
}

TEST_CASE("reentrant_lock: condition_variable_any ping-pong never strands a waiter") {
  stress::seed();
  const long n =
      ping_pong<atomkit::reentrant_lock>(static_cast<long>(stress::scaled(200000)), 6s);
  MESSAGE("round trips: " << n);
  CHECK(n > 0);
}
