// reentrant_lock: nesting rules (depth, held_by_this_thread), standard wrappers, try_lock and
// the timed forms, unlock by a non-owner, optimistic reads (stamps, owner reads, read(f)), nested
// write sections never seen half-done, and mutual exclusion with plain data under 2-16 threads
// (under TSan this also checks that the lock gives happens-before to the data it guards).
#include <atomkit/reentrant_lock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

#define ATOMKIT_REENTRANT_TYPES atomkit::reentrant_lock, atomkit::basic_reentrant_lock<atomkit::busy>

namespace {
template <class F>
bool throws_not_permitted(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code() == std::errc::operation_not_permitted;
  }
  return false;
}
}  // namespace

TEST_CASE_TEMPLATE("nesting: depth and held_by_this_thread", Lock, ATOMKIT_REENTRANT_TYPES) {
  Lock lock;
  CHECK_FALSE(lock.held_by_this_thread());
  CHECK(lock.depth() == 0);
  lock.lock();
  CHECK(lock.held_by_this_thread());
  CHECK(lock.depth() == 1);
  lock.lock();
  CHECK(lock.try_lock());
  CHECK(lock.try_lock_for(1ms));
  CHECK(lock.try_lock_until(std::chrono::steady_clock::now()));  // owner: no wait, even if past
  CHECK(lock.depth() == 5);
  bool other_holds = true;
  std::uint32_t other_depth = 99;
  std::thread([&] {
    other_holds = lock.held_by_this_thread();
    other_depth = lock.depth();
  }).join();
  CHECK_FALSE(other_holds);
  CHECK(other_depth == 0);
  for (std::uint32_t d = 5; d > 0; --d) {
    CHECK(lock.depth() == d);
    lock.unlock();
  }
  CHECK_FALSE(lock.held_by_this_thread());
  CHECK(lock.depth() == 0);
}

TEST_CASE("standard wrappers work, nested") {
  atomkit::reentrant_lock a;
  atomkit::reentrant_lock b;
  {
    std::scoped_lock all(a, b);
    std::lock_guard again(a);
    std::unique_lock timed(b, 10ms);
    CHECK(timed.owns_lock());
    CHECK(a.depth() == 2);
    CHECK(b.depth() == 2);
  }
  CHECK(a.depth() == 0);
  CHECK(b.depth() == 0);
  // std::lock over two reentrant locks from two threads in opposite orders.
  int shared = 0;
  const std::size_t rounds = stress::scaled(20000);
  stress::run_threads(2, [&](int id) {
    for (std::size_t i = 0; i < rounds; ++i) {
      if (id == 0) {
        std::scoped_lock l(a, b);
        std::lock_guard nested(a);
        ++shared;
      } else {
        std::scoped_lock l(b, a);
        ++shared;
      }
    }
  });
  CHECK(shared == static_cast<int>(2 * rounds));
}

TEST_CASE_TEMPLATE("try_lock and the timed forms from another thread", Lock, ATOMKIT_REENTRANT_TYPES) {
  Lock lock;
  lock.lock();
  lock.lock();  // nested: still held after one unlock
  lock.unlock();
  bool other = true;
  std::thread([&] { other = lock.try_lock(); }).join();
  CHECK_FALSE(other);
  std::thread([&] {
    const auto t0 = std::chrono::steady_clock::now();
    other = lock.try_lock_for(30ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  }).join();
  CHECK_FALSE(other);
  std::thread([&] { other = lock.try_lock_until(std::chrono::system_clock::now() + 20ms); }).join();
  CHECK_FALSE(other);
  std::thread([&] { other = lock.try_lock_for(-5ms); }).join();
  CHECK_FALSE(other);

  // A waiter with a long deadline gets the lock when the owner's last unlock runs.
  std::atomic<bool> waiting{false};
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    waiting.store(true);
    got.store(lock.try_lock_for(30s));
    if (got.load()) {
      CHECK(lock.depth() == 1);
      lock.unlock();
    }
  });
  while (!waiting.load()) std::this_thread::yield();
  lock.unlock();
  waiter.join();
  CHECK(got.load());
  CHECK(lock.try_lock());
  lock.unlock();
}

TEST_CASE_TEMPLATE("unlock by a thread that does not hold it throws and changes nothing", Lock,
                   ATOMKIT_REENTRANT_TYPES) {
  Lock lock;
  CHECK(throws_not_permitted([&] { lock.unlock(); }));  // free
  CHECK(lock.try_lock());
  lock.unlock();

  lock.lock();
  lock.lock();
  const auto s = lock.read_begin();  // owner read: the current sequence
  bool threw = false;
  std::thread([&] { threw = throws_not_permitted([&] { lock.unlock(); }); }).join();
  CHECK(threw);
  CHECK(lock.held_by_this_thread());
  CHECK(lock.depth() == 2);
  CHECK(lock.read_validate(s));  // the sequence did not move
  std::thread([&] { threw = !lock.try_lock(); }).join();
  CHECK(threw);  // still held
  lock.unlock();
  lock.unlock();
  CHECK(throws_not_permitted([&] { lock.unlock(); }));  // one unlock too many
  CHECK(lock.try_lock());
  lock.unlock();
}

TEST_CASE("stamps: a write section invalidates a stamp taken before it; reads alone do not") {
  atomkit::reentrant_lock lock;
  const auto s0 = lock.read_begin();
  CHECK(lock.read_validate(s0));
  CHECK(lock.read_validate(lock.read_begin()));
  CHECK(lock.read_begin() == s0);  // reading moves nothing

  lock.lock();
  lock.unlock();
  CHECK_FALSE(lock.read_validate(s0));
  const auto s1 = lock.read_begin();
  CHECK(lock.read_validate(s1));

  // A section in another thread invalidates too, even a nested one.
  std::thread([&] {
    lock.lock();
    lock.lock();
    lock.unlock();
    lock.unlock();
  }).join();
  CHECK_FALSE(lock.read_validate(s1));

  // A failed try_lock from another thread moves nothing.
  const auto s2 = lock.read_begin();
  lock.lock();
  std::thread([&] { CHECK_FALSE(lock.try_lock()); }).join();
  lock.unlock();
  CHECK_FALSE(lock.read_validate(s2));  // our own section did
}

TEST_CASE("owner reads: a stamp taken while holding validates until the last unlock") {
  atomkit::reentrant_lock lock;
  lock.lock();
  const auto s = lock.read_begin();  // returns at once for the owner
  CHECK(lock.read_validate(s));
  lock.lock();
  lock.unlock();
  CHECK(lock.read_validate(s));  // nested sections do not move the sequence
  std::atomic<int> data{7};
  CHECK(lock.read([&] { return data.load(std::memory_order_relaxed); }) == 7);
  lock.unlock();
  CHECK_FALSE(lock.read_validate(s));
}

TEST_CASE("read_begin waits while another thread holds the lock") {
  atomkit::reentrant_lock lock;
  std::atomic<int> value{0};
  const auto before = lock.read_begin();
  lock.lock();
  value.store(1, std::memory_order_relaxed);
  std::atomic<bool> started{false};
  std::atomic<bool> returned{false};
  int seen = -1;
  atomkit::reentrant_lock::stamp stamp = 0;
  std::thread reader([&] {
    started.store(true);
    seen = lock.read([&] { return value.load(std::memory_order_relaxed); });
    stamp = lock.read_begin();
    returned.store(true);
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // let it reach the wait (the check below holds regardless)
  CHECK_FALSE(returned.load());
  value.store(2, std::memory_order_relaxed);
  lock.unlock();
  reader.join();
  CHECK(seen == 2);
  CHECK(stamp != before);
  CHECK(lock.read_validate(stamp));
}

TEST_CASE_TEMPLATE("mutual exclusion with nesting under 2 to 16 threads (plain data)", Lock,
                   ATOMKIT_REENTRANT_TYPES) {
  stress::seed();
  for (int threads : {2, 4, 8, 16}) {
    CAPTURE(threads);
    Lock lock;
    long long counter = 0;  // plain: guarded by the lock; TSan checks the lock's happens-before
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    std::atomic<long long> done{0};
    std::atomic<int> bad_depth{0};
    const std::size_t per_thread = stress::scaled(40000) / static_cast<std::size_t>(threads) + 1;
    stress::time_box box;
    stress::run_threads(threads, [&](int id) {
      auto rng = stress::rng(static_cast<std::uint64_t>(id));
      for (std::size_t i = 0; i < per_thread && !box.expired(); ++i) {
        const int depth = 1 + static_cast<int>(rng() % 3);
        switch (rng() % 3) {
          case 0: lock.lock(); break;
          case 1:
            while (!lock.try_lock()) std::this_thread::yield();  // test code, not a primitive
            break;
          default:
            while (!lock.try_lock_for(1ms)) {
            }
        }
        for (int d = 1; d < depth; ++d) lock.lock();
        if (lock.depth() != static_cast<std::uint32_t>(depth)) bad_depth.fetch_add(1);
        // relaxed: an overlap detector, not part of the lock's protocol.
        if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
        const long long v = counter;
        if ((rng() & 7) == 0) std::this_thread::yield();  // widen the window
        counter = v + 1;
        inside.fetch_sub(1, std::memory_order_relaxed);
        for (int d = 0; d < depth; ++d) lock.unlock();
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
    CHECK(overlaps.load() == 0);
    CHECK(bad_depth.load() == 0);
    CHECK(counter == done.load());
  }
}

// Writers change every word of a many-word record inside nested sections (half of it at depth 1,
// half at depth 2 and 3); optimistic readers must never validate a mixed record.
TEST_CASE("nested write sections are never seen half-done by optimistic readers") {
  stress::seed();
  constexpr std::size_t words = 12;
  for (const auto& shape : {std::pair{1, 1}, std::pair{1, 8}, std::pair{3, 13}}) {
    const int writers = shape.first;  // not a structured binding: clang 14 cannot capture those
    const int readers = shape.second;
    CAPTURE(writers);
    CAPTURE(readers);
    atomkit::reentrant_lock lock;
    std::array<std::atomic<std::uint64_t>, words> record{};
    const std::size_t writes = stress::scaled(400000) / static_cast<std::size_t>(writers) + 1;
    const std::size_t reads = stress::scaled(800000) / static_cast<std::size_t>(readers) + 1;
    std::atomic<int> writers_left{writers};
    std::atomic<std::size_t> mixed{0};
    std::atomic<std::size_t> owner_mixed{0};
    std::atomic<std::size_t> validated{0};
    std::atomic<std::size_t> backwards{0};
    stress::time_box box(std::chrono::seconds(stress::sanitized ? 40 : 10));
    stress::run_threads(writers + readers, [&](int id) {
      if (id < writers) {
        for (std::size_t i = 0; i < writes && !box.expired(); ++i) {
          std::lock_guard outer(lock);
          // relaxed: only lock holders store; the lock orders holders.
          const std::uint64_t v = record[0].load(std::memory_order_relaxed) + 1;
          for (std::size_t w = 0; w < words / 2; ++w) {
            record[w].store(v, std::memory_order_relaxed);  // relaxed: readers validate
          }
          {
            std::lock_guard inner(lock);
            for (std::size_t w = words / 2; w < words - 2; ++w) {
              record[w].store(v, std::memory_order_relaxed);
            }
            std::lock_guard innermost(lock);
            for (std::size_t w = words - 2; w < words; ++w) {
              record[w].store(v, std::memory_order_relaxed);
            }
          }
          // The owner reads its own record consistently, while holding.
          const bool ok = lock.read([&] {
            for (auto& r : record) {
              if (r.load(std::memory_order_relaxed) != v) return false;
            }
            return true;
          });
          if (!ok) owner_mixed.fetch_add(1);
        }
        writers_left.fetch_sub(1);
        return;
      }
      std::uint64_t last = 0;
      for (std::size_t i = 0; !box.expired() && (i < reads || writers_left.load() != 0); ++i) {
        std::array<std::uint64_t, words> copy{};
        lock.read([&] {
          // relaxed: the read is validated; f keeps no state between runs but its copy.
          for (std::size_t w = 0; w < words; ++w) copy[w] = record[w].load(std::memory_order_relaxed);
        });
        validated.fetch_add(1, std::memory_order_relaxed);
        for (std::size_t w = 1; w < words; ++w) {
          if (copy[w] != copy[0]) {
            mixed.fetch_add(1);
            break;
          }
        }
        if (copy[0] < last) backwards.fetch_add(1);
        last = copy[0];
      }
    });
    CHECK(mixed.load() == 0);
    CHECK(owner_mixed.load() == 0);
    CHECK(backwards.load() == 0);
    CHECK(validated.load() > 0);
  }
}

TEST_CASE("parked lock() and read_begin() waiters use no CPU") {
  if (stress::sanitized) return;  // sanitizer runtimes add their own CPU time
  atomkit::reentrant_lock lock;
  lock.lock();
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(4));
  const double cpu0 = stress::process_cpu_seconds();
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      started.fetch_add(1);
      if (i % 2 == 0) {
        lock.lock();
        lock.unlock();
      } else {
        static_cast<void>(lock.read_begin());
      }
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
