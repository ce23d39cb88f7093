// Semaphores: bad input, over-release of the counting and bounded forms, timed forms, the count
// caps concurrency under 12 threads, no lost wake-up when timed and untimed acquires mix (the
// shape of GCC bug 104928), release(n) wakes n sleepers, and sleeping waiters burn no CPU.
#include <atomkit/semaphore.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

// Any Max >= 0, as with std: past INT32_MAX the count is 64-bit beside a generation futex word.
using wide_semaphore = atomkit::counting_semaphore<PTRDIFF_MAX>;

// constexpr constructors: static semaphores are constant-initialized, as with std.
constinit atomkit::binary_semaphore constinit_binary(1);
constinit atomkit::counting_semaphore<> constinit_counting(5);
constinit wide_semaphore constinit_wide(PTRDIFF_MAX);

static_assert(!std::is_copy_constructible_v<atomkit::counting_semaphore<>>);
static_assert(!std::is_move_constructible_v<atomkit::counting_semaphore<>>);
static_assert(!std::is_copy_constructible_v<atomkit::bounded_semaphore>);
static_assert(std::is_standard_layout_v<atomkit::counting_semaphore<>>);
static_assert(std::is_standard_layout_v<atomkit::bounded_semaphore>);
static_assert(atomkit::binary_semaphore::max() == 1);
static_assert(atomkit::counting_semaphore<>::max() == atomkit::semaphore_max);
static_assert(noexcept(std::declval<atomkit::counting_semaphore<>&>().acquire()));
static_assert(noexcept(std::declval<atomkit::counting_semaphore<>&>().try_acquire()));

namespace {

bool is_misuse(const std::system_error& e) {
  return e.code() == std::make_error_code(std::errc::operation_not_permitted);
}

}  // namespace

TEST_CASE("bad initial counts and bounds throw std::invalid_argument") {
  CHECK_THROWS_AS(atomkit::counting_semaphore<>(-1), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::counting_semaphore<5>(6), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::binary_semaphore(2), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::bounded_semaphore(3, 2), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::bounded_semaphore(-1, 2), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::bounded_semaphore(0, -1), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::bounded_semaphore(0, atomkit::semaphore_max + 1), std::invalid_argument);
  atomkit::counting_semaphore<5> ok(5);
  CHECK(ok.available() == 5);
  atomkit::counting_semaphore<> big(atomkit::semaphore_max);
  CHECK(big.available() == atomkit::semaphore_max);
}

TEST_CASE("release past max() or with n < 0 throws and leaves the count unchanged") {
  atomkit::counting_semaphore<3> s(2);
  CHECK_THROWS_AS(s.release(-1), std::invalid_argument);
  CHECK(s.available() == 2);
  try {
    s.release(2);
    FAIL("release past max() did not throw");
  } catch (const std::system_error& e) {
    CHECK(is_misuse(e));
  }
  CHECK(s.available() == 2);
  s.release(0);
  s.release(1);
  CHECK(s.available() == 3);
  CHECK_THROWS_AS(s.release(), std::system_error);
  CHECK(s.available() == 3);

  atomkit::binary_semaphore b(0);
  b.release();
  CHECK_THROWS_AS(b.release(), std::system_error);
  CHECK(b.available() == 1);
  CHECK(b.try_acquire());
  CHECK_FALSE(b.try_acquire());

  atomkit::counting_semaphore<> m(atomkit::semaphore_max - 1);
  CHECK_THROWS_AS(m.release(2), std::system_error);
  CHECK(m.available() == atomkit::semaphore_max - 1);
  m.release(1);
  CHECK(m.available() == atomkit::semaphore_max);
}

TEST_CASE("bounded_semaphore: a release past the bound throws, count unchanged") {
  atomkit::bounded_semaphore s(1, 2);
  CHECK(s.bound() == 2);
  s.release();
  CHECK(s.available() == 2);
  try {
    s.release();
    FAIL("over-release did not throw");
  } catch (const std::system_error& e) {
    CHECK(is_misuse(e));
  }
  CHECK(s.available() == 2);
  s.acquire();
  s.acquire();
  CHECK_FALSE(s.try_acquire());
  CHECK_THROWS_AS(s.release(3), std::system_error);
  CHECK(s.available() == 0);
  s.release(2);
  CHECK(s.available() == 2);

  // Racing over-releases: exactly `bound` releases succeed in total, the rest throw.
  atomkit::bounded_semaphore r(0, 5);
  std::atomic<int> ok{0}, refused{0};
  stress::run_threads(8, [&](int) {
    for (int i = 0; i < 4; ++i) {
      try {
        r.release();
        ok.fetch_add(1);
      } catch (const std::system_error&) {
        refused.fetch_add(1);
      }
    }
  });
  CHECK(ok.load() == 5);
  CHECK(refused.load() == 27);
  CHECK(r.available() == 5);
}

TEST_CASE_TEMPLATE("timed forms honour their deadlines", Sem, atomkit::counting_semaphore<>,
                   atomkit::counting_semaphore<atomkit::semaphore_max, atomkit::busy>,
                   wide_semaphore) {
  Sem s(0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(s.try_acquire_for(30ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  CHECK_FALSE(s.try_acquire_until(std::chrono::system_clock::now() - 1s));
  CHECK_FALSE(s.try_acquire_for(-5ms));
  s.release(2);
  CHECK(s.try_acquire_for(0ms));
  CHECK(s.try_acquire_until(std::chrono::steady_clock::now() + 1h));
  CHECK(s.available() == 0);

  // A timed acquire that a release satisfies before its deadline returns true.
  std::thread t([&] { CHECK(s.try_acquire_for(30s)); });
  s.release();
  t.join();
  CHECK(s.available() == 0);
}

TEST_CASE_TEMPLATE("the count caps concurrency under many threads", Sem,
                   atomkit::counting_semaphore<>,
                   atomkit::counting_semaphore<atomkit::semaphore_max, atomkit::busy>,
                   wide_semaphore) {
  stress::seed();
  constexpr int cap = 3;
  Sem s(cap);
  std::atomic<int> inside{0}, peak{0}, violations{0};
  const std::size_t iters = stress::scaled(20000);
  stress::time_box box(std::chrono::seconds(20));
  stress::run_threads(12, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id));
    for (std::size_t i = 0; i < iters && !box.expired(); ++i) {
      const auto mode = static_cast<unsigned>(rng() % 3);
      if (mode == 0) {
        s.acquire();
      } else if (mode == 1) {
        if (!s.try_acquire()) continue;
      } else {
        if (!s.try_acquire_for(std::chrono::microseconds(rng() % 200))) continue;
      }
      const int now = inside.fetch_add(1) + 1;
      if (now > cap) violations.fetch_add(1);
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      inside.fetch_sub(1);
      s.release();
    }
  });
  CHECK(violations.load() == 0);
  CHECK(peak.load() <= cap);
  CHECK(peak.load() >= 1);
  CHECK(s.available() == cap);
}

// The shape of GCC bug 104928: untimed acquire() calls mixed with try_acquire_for() calls with
// short time-outs. A wake-up that a timing-out waiter swallows must not leave an untimed waiter
// asleep while units are available. In each round 6 untimed and 6 timed consumers each want one
// unit; a producer releases exactly 12 units in batches of 1..3 (release(n) wakes up to n) and
// then stops, so a lost wake-up cannot be healed by a later release: the untimed consumer stays
// asleep with units in the semaphore. A watchdog sees that (no progress for 5 s while units are
// available), records it, and frees the stuck threads so the test ends.
TEST_CASE_TEMPLATE("no lost wake-ups when timed and untimed acquires mix", Sem,
                   atomkit::counting_semaphore<>,
                   atomkit::counting_semaphore<atomkit::semaphore_max, atomkit::busy>,
                   wide_semaphore) {
  stress::seed();
  Sem s(0);
  constexpr int untimed = 6, timed = 6;
  const int rounds = static_cast<int>(stress::scaled(1500));
  std::barrier sync(untimed + timed + 1);
  std::atomic<long> progress{0};  // units taken by untimed consumers
  std::atomic<int> timed_taken{0}, bad_rounds{0};
  std::atomic<bool> stalled{false}, stop{false}, finished{false};
  stress::time_box box(std::chrono::seconds(30));

  std::thread watchdog([&] {
    long last = -1;
    auto last_change = std::chrono::steady_clock::now();
    while (!finished.load()) {
      const long now = progress.load();
      if (now != last) {
        last = now;
        last_change = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - last_change > 5s && s.available() > 0) {
        stalled.store(true);  // units there, but the untimed consumers sleep on
        s.release(untimed);   // free them so the test can end
        last_change = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(1ms);  // the watchdog's polling interval
    }
  });

  stress::run_threads(untimed + timed + 1, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id));
    for (int r = 0; r < rounds; ++r) {
      if (id == 0) stop.store(box.expired());
      sync.arrive_and_wait();  // round start
      if (stop.load()) break;
      if (id == 0) {  // the producer
        for (int left = untimed + timed; left > 0;) {
          const int n = std::min(left, 1 + static_cast<int>(rng() % 3));
          s.release(n);
          left -= n;
          // Now and then leave the consumers without units long enough that they go to sleep in
          // the kernel and timed ones time out there (load shaping; nothing relies on it).
          if (rng() % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
        }
      } else if (id <= untimed) {
        s.acquire();
        progress.fetch_add(1);
      } else if (s.try_acquire_for(std::chrono::microseconds(rng() % 300))) {
        timed_taken.fetch_add(1);
      }
      sync.arrive_and_wait();  // round end: all consumers done
      if (id == 0) {
        int left = 0;  // the units timed consumers did not take
        while (s.try_acquire()) ++left;
        if (timed_taken.exchange(0) + left != timed) bad_rounds.fetch_add(1);
      }
    }
  });
  finished.store(true);
  watchdog.join();
  CHECK_FALSE(stalled.load());
  CHECK(bad_rounds.load() == 0);
  CHECK(s.available() == 0);
  MESSAGE("rounds with untimed units served: " << progress.load() / untimed);
}

TEST_CASE("release(n) lets exactly n sleeping waiters through") {
  atomkit::counting_semaphore<> s(0);
  constexpr int n = 8;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      s.acquire();
      passed.fetch_add(1);
    });
  }
  s.release(3);
  while (passed.load() < 3) std::this_thread::yield();
  CHECK(passed.load() == 3);
  CHECK(s.available() == 0);
  s.release(n - 3);
  for (auto& t : threads) t.join();
  CHECK(passed.load() == n);
  CHECK(s.available() == 0);
}

TEST_CASE("a release happens before the acquire that takes its unit (binary ping-pong)") {
  atomkit::binary_semaphore ping(0), pong(0);
  long data = 0;  // plain data, handed back and forth: TSan checks the ordering
  const long rounds = static_cast<long>(stress::scaled(100000));
  std::thread t([&] {
    for (long i = 0; i < rounds; ++i) {
      ping.acquire();
      ++data;
      pong.release();
    }
  });
  for (long i = 0; i < rounds; ++i) {
    ping.release();
    pong.acquire();
    ++data;
  }
  t.join();
  CHECK(data == 2 * rounds);
}

TEST_CASE("sleeping waiters use no CPU") {
  if (stress::sanitized) return;  // sanitizer runtimes add their own CPU time
  atomkit::counting_semaphore<> s(0);
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(4));
  const double cpu0 = stress::process_cpu_seconds();
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      started.fetch_add(1);
      s.acquire();
    });
  }
  while (started.load() != 4) std::this_thread::yield();
  std::this_thread::sleep_for(500ms);  // the measured interval, not synchronization
  const double used = stress::process_cpu_seconds() - cpu0;
  s.release(4);
  for (auto& t : threads) t.join();
  MESSAGE("CPU seconds used by 4 waiters over 0.5 s: " << used);
  CHECK(used < 0.25);
}

TEST_CASE("constinit semaphores work from the first call") {
  CHECK(constinit_binary.try_acquire());
  CHECK_FALSE(constinit_binary.try_acquire());
  constinit_binary.release();
  CHECK(constinit_counting.available() == 5);
  CHECK(constinit_wide.available() == PTRDIFF_MAX);
  CHECK(constinit_wide.try_acquire());
  constinit_wide.release();
  CHECK_THROWS_AS(constinit_wide.release(), std::system_error);  // past max(), count unchanged
  CHECK(constinit_wide.available() == PTRDIFF_MAX);
}

TEST_CASE("counting_semaphore<PTRDIFF_MAX>: counts past 32 bits, over-release, wake-ups") {
  static_assert(wide_semaphore::max() == PTRDIFF_MAX);
  constexpr std::ptrdiff_t big = std::ptrdiff_t{1} << 40;
  wide_semaphore s(big);
  CHECK(s.available() == big);
  CHECK(s.try_acquire());
  CHECK(s.available() == big - 1);
  s.release(PTRDIFF_MAX - big + 1);
  CHECK(s.available() == PTRDIFF_MAX);
  CHECK_THROWS_AS(s.release(), std::system_error);
  CHECK(s.available() == PTRDIFF_MAX);
  CHECK_THROWS_AS(wide_semaphore(-1), std::invalid_argument);

  // A sleeping acquirer is woken by a release (the generation word path).
  wide_semaphore empty(0);
  std::atomic<long> tid{0};
  std::atomic<bool> got{false};
  std::thread t([&] {
    tid.store(stress::current_tid());
    empty.acquire();
    got.store(true);
  });
  stress::time_box box(std::chrono::seconds(20));
  while (tid.load() == 0) std::this_thread::yield();
  CHECK(stress::wait_until_asleep(tid.load(), box));
  empty.release();
  t.join();
  CHECK(got.load());
  CHECK(empty.available() == 0);
}

template <class Sem>
void check_guard(Sem& s) {
  REQUIRE(s.available() == 2);
  {
    atomkit::semaphore_guard g(s);
    CHECK(s.available() == 1);
    {
      atomkit::semaphore_guard g2(s);
      CHECK(s.available() == 0);
      CHECK_FALSE(s.try_acquire());
    }
    CHECK(s.available() == 1);
  }
  CHECK(s.available() == 2);
}

TEST_CASE("semaphore_guard acquires for its scope (Python's `with semaphore:`)") {
  atomkit::counting_semaphore<> c(2);
  check_guard(c);
  atomkit::bounded_semaphore b(2, 2);
  check_guard(b);
  wide_semaphore w(2);
  check_guard(w);
  atomkit::counting_semaphore<2, atomkit::busy> busy(2);
  check_guard(busy);
}
