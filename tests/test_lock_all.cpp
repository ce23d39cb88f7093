// lock_all, try_lock_all_for/until, multi_lock: all held on return; deadlock-freedom under random
// lock subsets and orders over a mix of lock types (2 to 16 threads, seeded, bounded, with a stall
// detector); all or none on time-out; the same lock twice throws before anything is locked; an
// exception from a lock mid-way releases what was taken (also a try_lock_until that throws from
// inside the timed rounds); std::unique_lock wrappers count as their mutex (duplicates caught,
// unique_lock<std::mutex> usable in the timed forms). Robust locks: tests/test_robust_lock.cpp.
#include <atomkit/lock_all.hpp>
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Whether a lock is free, by taking it (std::mutex has no query).
template <class L>
bool is_free(L& l) {
  if (!l.try_lock()) return false;
  l.unlock();
  return true;
}

// A Lockable whose try_lock (or lock) throws on demand, for the exception-safety tests.
struct throwing_lock {
  atomkit::spinlock inner;
  std::atomic<bool> throw_on_try{false};
  std::atomic<bool> throw_on_lock{false};
  void lock() {
    if (throw_on_lock) throw std::runtime_error("lock failed");
    inner.lock();
  }
  bool try_lock() {
    if (throw_on_try) throw std::runtime_error("try_lock failed");
    return inner.try_lock();
  }
  void unlock() { inner.unlock(); }
};

// lock and try_lock noexcept, but a try_lock_until that throws on demand: the timed forms call it
// inside the waiting engine, so lock_all must not take the no-exceptions shortcut for it.
struct timed_throwing_lock {
  atomkit::spinlock inner;
  void lock() noexcept { inner.lock(); }
  bool try_lock() noexcept { return inner.try_lock(); }
  bool try_lock_until(std::chrono::steady_clock::time_point /*tp*/) {
    throw std::runtime_error("try_lock_until failed");
  }
  void unlock() { inner.unlock(); }
};
static_assert(!atomkit::detail::lock_set<atomkit::spinlock, timed_throwing_lock>::nothrow);
static_assert(atomkit::detail::lock_set<atomkit::spinlock, atomkit::ticket_lock>::nothrow ==
              (noexcept(std::declval<atomkit::ticket_lock&>().lock()) &&
               noexcept(std::declval<atomkit::ticket_lock&>().try_lock_until(
                   std::chrono::steady_clock::now()))));

// One face over the four lock types, so that a stress loop can pick subsets at run time.
struct any_lock {
  virtual ~any_lock() = default;
  virtual void lock() = 0;
  virtual bool try_lock() = 0;
  virtual void unlock() = 0;
  long guarded = 0;  // changed only under the lock: TSan and the final sum check exclusion
};
template <class L>
struct lock_of final : any_lock {
  L l;
  void lock() override { l.lock(); }
  bool try_lock() override { return l.try_lock(); }
  void unlock() override { l.unlock(); }
};

}  // namespace

TEST_CASE("lock_all and multi_lock hold every lock of a mixed set") {
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  atomkit::reentrant_lock c;
  std::mutex d;
  atomkit::lock_all(a, b, c, d);
  CHECK(a.is_locked());
  CHECK(b.queue_length() == 1);
  CHECK(c.held_by_this_thread());
  CHECK_FALSE(d.try_lock());
  a.unlock();
  b.unlock();
  c.unlock();
  d.unlock();
  {
    const atomkit::multi_lock hold(d, c, b, a);  // CTAD, any order
    CHECK(a.is_locked());
    CHECK(b.queue_length() == 1);
    CHECK(c.held_by_this_thread());
  }
  CHECK_FALSE(a.is_locked());
  CHECK(b.queue_length() == 0);
  CHECK_FALSE(c.held_by_this_thread());
  CHECK(is_free(d));
  {
    const atomkit::multi_lock one(a);  // one lock, and none, are accepted
    CHECK(a.is_locked());
    const atomkit::multi_lock<> none;
  }
  CHECK_FALSE(a.is_locked());
}

TEST_CASE("a lock held elsewhere makes try_lock_all_for fail and leaves the others unlocked") {
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  std::mutex c;  // no try_lock_until: retried through the engine until the deadline
  atomkit::reentrant_lock r;
  for (int held = 0; held < 3; ++held) {
    std::atomic<int> phase{0};
    std::thread holder([&] {
      if (held == 0) a.lock();
      if (held == 1) c.lock();
      if (held == 2) r.lock();
      phase.store(1);
      while (phase.load() != 2) std::this_thread::yield();  // until the main thread is done
      if (held == 0) a.unlock();
      if (held == 1) c.unlock();
      if (held == 2) r.unlock();
    });
    while (phase.load() != 1) std::this_thread::yield();
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(atomkit::try_lock_all_for(20ms, b, c, a, r));
    CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
    CHECK_FALSE(atomkit::try_lock_all_until(std::chrono::steady_clock::now() - 1s, a, b, c, r));
    CHECK_FALSE(atomkit::try_lock_all_for(0ms, r, c, b, a));
    CHECK(b.queue_length() == 0);
    if (held != 0) CHECK_FALSE(a.is_locked());
    if (held != 1) CHECK(is_free(c));
    if (held != 2) CHECK(is_free(r));
    phase.store(2);
    holder.join();
  }
  // Free locks: a zero or past deadline still makes one attempt, which succeeds.
  REQUIRE(atomkit::try_lock_all_for(0ms, a, b, c, r));
  a.unlock();
  b.unlock();
  c.unlock();
  r.unlock();
  REQUIRE(atomkit::try_lock_all_until(std::chrono::system_clock::now() - 1h, c, a));
  c.unlock();
  a.unlock();
  // A lock freed before the deadline is taken.
  std::atomic<bool> locked{false};
  std::thread releaser([&] {
    a.lock();
    locked.store(true);
    std::this_thread::sleep_for(5ms);  // lets the attempt start waiting; not synchronization
    a.unlock();
  });
  while (!locked.load()) std::this_thread::yield();
  CHECK(atomkit::try_lock_all_for(10s, b, a, c));
  releaser.join();
  b.unlock();
  a.unlock();
  c.unlock();
}

TEST_CASE("the same lock named twice throws before anything is locked") {
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  std::mutex c;
  const auto deadlock_error = [](const std::system_error& e) {
    return e.code() == std::make_error_code(std::errc::resource_deadlock_would_occur);
  };
  try {
    atomkit::lock_all(a, b, c, a);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(deadlock_error(e));
  }
  try {
    (void)atomkit::try_lock_all_for(1s, c, c);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(deadlock_error(e));
  }
  try {
    const atomkit::multi_lock hold(b, a, b);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(deadlock_error(e));
  }
  CHECK_FALSE(a.is_locked());
  CHECK(b.queue_length() == 0);
  CHECK(is_free(c));
}

TEST_CASE("unique_locks count as the mutex they refer to") {
  std::mutex c;
  std::mutex d;
  std::unique_lock u1(c, std::defer_lock);
  std::unique_lock u2(c, std::defer_lock);
  std::unique_lock u3(d, std::defer_lock);
  CHECK_THROWS_AS(atomkit::lock_all(u1, u2), std::system_error);  // one mutex twice
  CHECK_THROWS_AS(atomkit::lock_all(u1, c), std::system_error);   // a wrapper and its mutex
  CHECK_FALSE(u1.owns_lock());
  CHECK(is_free(c));
  REQUIRE(atomkit::try_lock_all_for(1s, u1, u3));  // unique_lock<std::mutex> in a timed form
  CHECK(u1.owns_lock());
  CHECK(u3.owns_lock());
  u1.unlock();
  u3.unlock();
  atomkit::lock_all(u3, u1);
  CHECK(u1.owns_lock());
  CHECK(u3.owns_lock());
}

TEST_CASE("a try_lock_until that throws inside the timed rounds propagates, none held") {
  atomkit::spinlock a;
  timed_throwing_lock x;
  x.inner.lock();  // busy: the first round backs off, the next waits on x with try_lock_until
  CHECK_THROWS_AS((void)atomkit::try_lock_all_for(1s, a, x), std::runtime_error);
  CHECK_FALSE(a.is_locked());
  x.inner.unlock();
}

TEST_CASE("an exception from a lock mid-way releases what was taken") {
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  throwing_lock t;
  t.throw_on_try = true;  // a and b are taken before t's try_lock throws
  CHECK_THROWS_AS(atomkit::lock_all(a, b, t), std::runtime_error);
  CHECK_FALSE(a.is_locked());
  CHECK(b.queue_length() == 0);
  CHECK_FALSE(t.inner.is_locked());
  t.throw_on_try = false;
  t.throw_on_lock = true;  // the first round blocks on t: its lock() throws, nothing is held
  CHECK_THROWS_AS(atomkit::lock_all(t, a, b), std::runtime_error);
  CHECK_FALSE(a.is_locked());
  CHECK(b.queue_length() == 0);
  // A later round: b is busy at first, so the next round blocks on b; then t's try_lock throws.
  t.throw_on_lock = false;
  std::atomic<bool> started{false};
  std::thread other([&] {
    b.lock();
    started.store(true);
    std::this_thread::sleep_for(5ms);  // lets the first round fail; not synchronization
    t.throw_on_try = true;
    b.unlock();
  });
  while (!started.load()) std::this_thread::yield();
  CHECK_THROWS_AS(atomkit::lock_all(a, b, t), std::runtime_error);
  other.join();
  CHECK_FALSE(a.is_locked());
  CHECK(b.queue_length() == 0);
  CHECK_FALSE(t.inner.is_locked());
}

TEST_CASE("deadlock-free under random subsets and orders, 2 to 16 threads, mixed lock types") {
  stress::seed();
  constexpr int lock_count = 12;
  std::vector<std::unique_ptr<any_lock>> locks;
  for (int i = 0; i < lock_count; ++i) {
    switch (i % 4) {
      case 0: locks.push_back(std::make_unique<lock_of<atomkit::spinlock>>()); break;
      case 1: locks.push_back(std::make_unique<lock_of<atomkit::ticket_lock>>()); break;
      case 2: locks.push_back(std::make_unique<lock_of<atomkit::reentrant_lock>>()); break;
      default: locks.push_back(std::make_unique<lock_of<std::mutex>>()); break;
    }
  }
  // Typed locks named in both orders at once, beside the dynamic ones.
  atomkit::spinlock typed_a;
  std::mutex typed_b;
  long typed_count = 0;

  std::atomic<long> progress{0};
  std::optional<stress::stall_detector> detector;
  detector.emplace(progress, "lock_all (acquisitions; deadlock or livelock)");

  long expected = 0;
  long expected_typed = 0;
  for (const int threads : {2, 4, 8, 16}) {
    const stress::time_box box(2s);
    const long per_thread = static_cast<long>(stress::scaled(24000)) / threads;
    std::vector<long> done(static_cast<std::size_t>(threads), 0);
    std::vector<long> typed(static_cast<std::size_t>(threads), 0);
    stress::run_threads(threads, [&](int me) {
      auto rng =
          stress::rng(static_cast<std::uint64_t>(threads) * 100 + static_cast<std::uint64_t>(me));
      std::array<int, lock_count> order{};
      for (int i = 0; i < lock_count; ++i) order[static_cast<std::size_t>(i)] = i;
      for (long n = 0; n < per_thread && !box.expired(); ++n) {
        std::shuffle(order.begin(), order.end(), rng);
        const int k = 2 + static_cast<int>(rng() % 3);  // 2 to 4 distinct locks, random order
        any_lock& l0 = *locks[static_cast<std::size_t>(order[0])];
        any_lock& l1 = *locks[static_cast<std::size_t>(order[1])];
        any_lock& l2 = *locks[static_cast<std::size_t>(order[2])];
        any_lock& l3 = *locks[static_cast<std::size_t>(order[3])];
        const bool timed = rng() % 4 == 0;
        bool got = true;
        if (k == 2) {
          if (timed) {
            got = atomkit::try_lock_all_for(1ms, l0, l1);
          } else {
            atomkit::lock_all(l0, l1);
          }
        } else if (k == 3) {
          if (timed) {
            got = atomkit::try_lock_all_for(1ms, l0, l1, l2);
          } else {
            atomkit::lock_all(l0, l1, l2);
          }
        } else {
          if (timed) {
            got = atomkit::try_lock_all_for(1ms, l0, l1, l2, l3);
          } else {
            atomkit::lock_all(l0, l1, l2, l3);
          }
        }
        if (got) {
          any_lock* held[4] = {&l0, &l1, &l2, &l3};
          for (int i = 0; i < k; ++i) ++held[i]->guarded;
          for (int i = k; i-- > 0;) held[i]->unlock();
          done[static_cast<std::size_t>(me)] += k;
        }
        if (n % 8 == 0) {
          // The typed pair, named in opposite orders by odd and even threads.
          if (me % 2 == 0) {
            const atomkit::multi_lock hold(typed_a, typed_b);
            ++typed_count;
          } else {
            const atomkit::multi_lock hold(typed_b, typed_a);
            ++typed_count;
          }
          ++typed[static_cast<std::size_t>(me)];
        }
        progress.fetch_add(1, std::memory_order_relaxed);
      }
    });
    for (const long d : done) expected += d;
    for (const long t : typed) expected_typed += t;
    MESSAGE(threads << " threads: " << progress.load() << " acquisitions so far");
  }
  detector.reset();
  long sum = 0;
  for (const auto& l : locks) {
    CHECK(is_free(*l));
    sum += l->guarded;
  }
  CHECK(sum == expected);
  CHECK(typed_count == expected_typed);
  CHECK(expected > 0);
}
