// barrier: bad input, phases and the completion (once per phase, before anyone leaves, seeing
// every arrival's writes), split arrive/wait, arrive(n), arrive_and_drop, time-outs that break it,
// a time-out during a completion that must not break it, abort, reset and its misuse, reset
// racing a running completion, reset right after a completed phase.
#include <atomkit/barrier.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<atomkit::barrier<>>);
static_assert(!std::is_move_constructible_v<atomkit::barrier<>>);
static_assert(std::is_standard_layout_v<atomkit::barrier<>>);
static_assert(std::is_base_of_v<std::runtime_error, atomkit::broken_barrier>);

namespace {

bool is_misuse(const std::system_error& e) {
  return e.code() == std::make_error_code(std::errc::operation_not_permitted);
}

// Checks, in the completion step, that every thread wrote its slot for this phase.
struct phase_check {
  std::vector<long>* slots;
  long* phase;  // plain data: written only by completions, read by all after the barrier
  std::atomic<int>* bad;
  void operator()() noexcept {
    for (long v : *slots) {
      if (v != *phase) bad->fetch_add(1);
    }
    ++*phase;
  }
};

}  // namespace

TEST_CASE("parties outside [1, max()] throw std::invalid_argument") {
  CHECK_THROWS_AS(atomkit::barrier<>(0), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::barrier<>(-3), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::barrier<>(atomkit::barrier<>::max() + 1), std::invalid_argument);
  atomkit::barrier<> one(1);
  one.arrive_and_wait();  // a party of one never blocks
  CHECK(one.arrive_and_wait_for(0ms));
}

TEST_CASE_TEMPLATE("phases: the completion runs once per phase, before anyone leaves", Wait,
                   atomkit::park, atomkit::busy) {
  stress::seed();
  constexpr int n = 10;  // more threads than cores
  std::vector<long> slots(n, -1);
  long phase = 0;
  std::atomic<int> bad{0}, late{0};
  atomkit::barrier<phase_check, Wait> b(n, phase_check{&slots, &phase, &bad});
  atomkit::barrier<atomkit::detail::barrier_noop, Wait> hold(n);
  const long rounds = static_cast<long>(stress::scaled(3000));
  stress::run_threads(n, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id));
    for (long r = 0; r < rounds; ++r) {
      slots[static_cast<std::size_t>(id)] = r;
      switch (rng() % 3) {
        case 0: b.arrive_and_wait(); break;
        case 1: b.wait(b.arrive()); break;
        default: CHECK(b.arrive_and_wait_for(60s)); break;
      }
      if (phase != r + 1) late.fetch_add(1);  // the completion of phase r ran before we left
      hold.arrive_and_wait();  // keep slots stable until everyone has read `phase`
    }
  });
  CHECK(bad.load() == 0);
  CHECK(late.load() == 0);
  CHECK(phase == rounds);
  CHECK_FALSE(b.broken());
}

TEST_CASE("arrive(n), tokens, and misuse of arrive") {
  int completions = 0;
  auto count = [&completions]() noexcept { ++completions; };
  atomkit::barrier<decltype(count)> b(3, count);
  auto t = b.arrive(2);
  CHECK(completions == 0);
  try {
    (void)b.arrive(2);
    FAIL("arrive past the expected count did not throw");
  } catch (const std::system_error& e) {
    CHECK(is_misuse(e));
  }
  CHECK_THROWS_AS((void)b.arrive(0), std::system_error);
  auto last = b.arrive(1);  // completes the phase
  CHECK(completions == 1);
  b.wait(std::move(t));  // returns at once: its phase is complete
  b.wait(std::move(last));
  auto all = b.arrive(3);
  CHECK(completions == 2);
  b.wait(std::move(all));
  CHECK_FALSE(b.broken());

  // Split arrive/wait across threads: work between arrive and wait overlaps the others.
  std::atomic<int> arrived{0};
  atomkit::barrier<> s(4);
  stress::run_threads(4, [&](int) {
    arrived.fetch_add(1);
    auto tok = s.arrive();
    CHECK(arrived.load() >= 1);  // work between arrive and wait
    s.wait(std::move(tok));
    CHECK(arrived.load() == 4);
  });
}

TEST_CASE("arrive_and_drop lowers the count of later phases") {
  stress::seed();
  std::atomic<int> completions{0};
  auto count = [&completions]() noexcept { completions.fetch_add(1); };
  constexpr int n = 8;
  atomkit::barrier<decltype(count)> b(n, count);
  const int rounds = static_cast<int>(stress::scaled(2000));
  // Thread i takes part in i + 1 phases... capped by rounds, then drops.
  stress::run_threads(n, [&](int id) {
    const int mine = std::min(rounds, (id + 1) * (rounds / n + 1));
    for (int r = 0; r < mine - 1; ++r) b.arrive_and_wait();
    b.arrive_and_drop();
  });
  // The longest-lived thread took part in `rounds` phases, each completed exactly once.
  CHECK(completions.load() == rounds);
  CHECK_FALSE(b.broken());
}

TEST_CASE_TEMPLATE("a time-out breaks the barrier; waiters and later calls throw; reset", Wait,
                   atomkit::park, atomkit::busy) {
  atomkit::barrier<atomkit::detail::barrier_noop, Wait> b(3);
  std::atomic<int> threw{0};
  std::thread waiter([&] {
    try {
      b.arrive_and_wait();
    } catch (const atomkit::broken_barrier&) {
      threw.fetch_add(1);
    }
  });
  CHECK_FALSE(b.arrive_and_wait_for(50ms));  // the third party never comes
  CHECK(b.broken());
  waiter.join();
  CHECK(threw.load() == 1);
  CHECK_THROWS_AS(b.arrive_and_wait(), atomkit::broken_barrier);
  CHECK_THROWS_AS((void)b.arrive(), atomkit::broken_barrier);
  CHECK_THROWS_AS(b.arrive_and_drop(), atomkit::broken_barrier);
  CHECK_THROWS_AS(b.arrive_and_wait_for(1s), atomkit::broken_barrier);

  b.reset();
  CHECK_FALSE(b.broken());
  std::atomic<int> passed{0};
  stress::run_threads(3, [&](int) {
    b.arrive_and_wait();
    CHECK(b.arrive_and_wait_for(60s));
    passed.fetch_add(1);
  });
  CHECK(passed.load() == 3);
}

TEST_CASE("a time-out while the completion runs does not break the barrier") {
  // The completion takes 300 ms; a waiter whose 50 ms deadline passes meanwhile must wait for it
  // and return true. Retry until the completion ran on the other thread (arrival order is racy).
  bool checked = false;
  for (int attempt = 0; attempt < 10 && !checked; ++attempt) {
    std::atomic<std::thread::id> ran_on{};
    auto slow = [&ran_on]() noexcept {
      ran_on.store(std::this_thread::get_id());
      std::this_thread::sleep_for(300ms);  // a long completion step, not synchronization
    };
    atomkit::barrier<decltype(slow)> b(2, slow);
    std::atomic<bool> go{false};
    std::thread other([&] {
      while (!go.load()) std::this_thread::yield();
      b.arrive_and_wait();
    });
    const std::thread::id other_id = other.get_id();
    go.store(true);
    const bool ok = b.arrive_and_wait_for(50ms);
    other.join();
    CHECK(ok);
    CHECK_FALSE(b.broken());
    checked = ran_on.load() == other_id;
  }
  CHECK(checked);
}

TEST_CASE("abort breaks the barrier at once; reset refuses while threads wait") {
  constexpr int n = 9;
  atomkit::barrier<> b(n + 1);
  std::atomic<int> threw{0}, started{0};
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      started.fetch_add(1);
      try {
        b.arrive_and_wait();
      } catch (const atomkit::broken_barrier&) {
        threw.fetch_add(1);
      }
    });
  }
  while (started.load() != n) std::this_thread::yield();
  // Threads have arrived (or are about to): reset on a barrier that is not broken refuses.
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    try {
      b.reset();
      std::this_thread::yield();
    } catch (const std::system_error& e) {
      refused = is_misuse(e);
    }
  }
  CHECK(refused);
  b.abort();
  CHECK(b.broken());
  for (auto& t : threads) t.join();
  CHECK(threw.load() == n);
  b.abort();  // idempotent
  b.reset();
  CHECK_FALSE(b.broken());

  // A fresh barrier: reset is a no-op; a pending arrival makes it refuse.
  atomkit::barrier<> c(2);
  c.reset();
  auto t = c.arrive();
  CHECK_THROWS_AS(c.reset(), std::system_error);
  auto u = c.arrive();
  c.wait(std::move(t));
  c.wait(std::move(u));
  c.reset();
}

TEST_CASE("stress: rounds with time-outs, breaks and resets") {
  // Each round: n threads arrive_and_wait_for with a random deadline, some of which are too
  // short. Afterwards either every thread passed, or the barrier is broken and every thread saw it
  // (false from exactly one timer, broken_barrier for the rest). Then reset and go on.
  stress::seed();
  constexpr int n = 8;
  atomkit::barrier<> b(n);
  atomkit::barrier<> sync(n);  // separates the rounds
  const int rounds = static_cast<int>(stress::scaled(400));
  std::atomic<int> passed{0}, timed_out{0}, threw{0}, inconsistent{0};
  stress::time_box box(std::chrono::seconds(30));
  std::atomic<bool> stop{false};
  stress::run_threads(n, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id));
    for (int r = 0; r < rounds; ++r) {
      if (id == 0) stop.store(box.expired());
      sync.arrive_and_wait();
      if (stop.load()) break;
      const auto d = std::chrono::microseconds(rng() % 8 == 0 ? rng() % 100 : 10'000'000);
      try {
        if (b.arrive_and_wait_for(d)) {
          passed.fetch_add(1);
        } else {
          timed_out.fetch_add(1);
        }
      } catch (const atomkit::broken_barrier&) {
        threw.fetch_add(1);
      }
      sync.arrive_and_wait();
      if (id == 0) {
        const int p = passed.exchange(0), t = timed_out.exchange(0), x = threw.exchange(0);
        // Either the phase completed for all, or exactly one timer broke it and all others threw.
        const bool ok = (p == n && t == 0 && x == 0 && !b.broken()) ||
                        (t == 1 && p == 0 && x == n - 1 && b.broken());
        if (!ok) inconsistent.fetch_add(1);
        if (b.broken()) b.reset();
      }
    }
  });
  CHECK(inconsistent.load() == 0);
}

namespace {

enum class last_arrival { arrive, drop, arrive_and_wait };

// The last arrival of a barrier of `parties` runs a completion that blocks on a gate; meanwhile
// the test aborts the barrier and resets it (in another thread: reset waits for the completion).
// Afterwards the barrier must be in step: a lone party does not pass, every phase needs everyone.
template <class Wait>
void reset_during_completion(int parties, last_arrival how) {
  std::atomic<bool> gate{false}, entered{false};
  std::atomic<int> completions{0};
  auto gated = [&]() noexcept {
    entered.store(true);
    while (!gate.load()) std::this_thread::yield();
    completions.fetch_add(1);
  };
  atomkit::barrier<decltype(gated), Wait> b(parties, gated);
  auto first = b.arrive(parties - 1);  // every party but the last, from this thread
  std::thread last([&] {
    switch (how) {
      case last_arrival::arrive: (void)b.arrive(); break;
      case last_arrival::drop: b.arrive_and_drop(); break;
      case last_arrival::arrive_and_wait: b.arrive_and_wait(); break;  // its phase completes
    }
  });
  while (!entered.load()) std::this_thread::yield();  // the completion runs, held by the gate
  b.abort();
  CHECK(b.broken());
  std::atomic<bool> reset_done{false};
  std::atomic<long> reset_tid{0};
  std::thread resetter([&] {
    reset_tid.store(stress::current_tid());
    b.reset();
    reset_done.store(true);
  });
  // reset() waits for the running completion: under park it goes to sleep; it must not return
  // before the gate opens. (The time box only bounds the look; a busy reset never sleeps.)
  stress::time_box box(Wait::sleeps ? std::chrono::milliseconds(2000)
                                    : std::chrono::milliseconds(200));
  while (!reset_done.load() && !box.expired()) {
    if (Wait::sleeps && stress::thread_state(reset_tid.load()) == 'S') break;
    std::this_thread::yield();
  }
  CHECK_FALSE(reset_done.load());
  gate.store(true);
  last.join();
  resetter.join();
  CHECK(reset_done.load());
  CHECK(completions.load() == 1);
  CHECK_FALSE(b.broken());
  b.wait(std::move(first));  // spent by the reset: returns at once

  const int expected = how == last_arrival::drop ? parties - 1 : parties;
  REQUIRE(expected >= 2);
  // A lone party of a fresh phase must time out (and break the barrier), not pass at once.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(b.arrive_and_wait_for(50ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(b.broken());
  b.reset();
  CHECK_FALSE(b.broken());

  // And the barrier works normally: each phase's completion runs once, before anyone leaves.
  const int before = completions.load();
  constexpr int rounds = 50;
  std::atomic<int> late{0};
  stress::run_threads(expected, [&](int) {
    for (int r = 0; r < rounds; ++r) {
      b.arrive_and_wait();
      if (completions.load() < before + 2 * r + 1) late.fetch_add(1);
      CHECK(b.arrive_and_wait_for(60s));  // keeps the phases apart for the check above
      if (completions.load() < before + 2 * r + 2) late.fetch_add(1);
    }
  });
  CHECK(late.load() == 0);
  CHECK(completions.load() == before + 2 * rounds);
  CHECK_FALSE(b.broken());
}

}  // namespace

TEST_CASE_TEMPLATE(
    "reset() while the last arrival's completion runs: it waits; phases stay in step", Wait,
    atomkit::park, atomkit::busy) {
  SUBCASE("last arrival by arrive()") { reset_during_completion<Wait>(2, last_arrival::arrive); }
  SUBCASE("last arrival by arrive_and_drop()") {
    reset_during_completion<Wait>(3, last_arrival::drop);
  }
  SUBCASE("last arrival by arrive_and_wait()") {
    reset_during_completion<Wait>(2, last_arrival::arrive_and_wait);
  }
  SUBCASE("four parties, last arrival by arrive()") {
    reset_during_completion<Wait>(4, last_arrival::arrive);
  }
}

TEST_CASE_TEMPLATE(
    "reset() right after a completed phase: parties still leaving wait() don't count", Wait,
    atomkit::park, atomkit::busy) {
  // Each round, n threads arrive_and_wait; the first to return resets the barrier (every other
  // round after abort()) while the others may still be inside wait(), released but not yet gone.
  // reset() must not refuse, and the others must return normally (their phase completed).
  for (const int n : {2, 4}) {
    CAPTURE(n);
    std::atomic<bool> claimed{false}, stop{false};
    stress::time_box box(std::chrono::seconds(5));
    auto next_round = [&]() noexcept {
      claimed.store(false);
      stop.store(box.expired());
    };
    atomkit::barrier<atomkit::detail::barrier_noop, Wait> b(n);
    atomkit::barrier<decltype(next_round)> hold(n, next_round);  // separates the rounds
    const int rounds = static_cast<int>(stress::scaled(4000));
    std::atomic<int> refused{0}, threw{0}, resets{0};
    stress::run_threads(n, [&](int) {
      for (int r = 0; r < rounds; ++r) {
        hold.arrive_and_wait();  // the previous round's reset happened before this round's arrivals
        if (stop.load()) break;
        try {
          b.arrive_and_wait();
        } catch (const atomkit::broken_barrier&) {
          threw.fetch_add(1);
        }
        if (claimed.exchange(true)) continue;
        try {
          if (r % 2 == 1) b.abort();
          b.reset();
          resets.fetch_add(1);
        } catch (const std::system_error&) {
          refused.fetch_add(1);
        }
      }
    });
    CHECK(refused.load() == 0);
    CHECK(threw.load() == 0);
    CHECK(resets.load() > 0);
    CHECK_FALSE(b.broken());
  }
}

// constexpr constructor: a static barrier is constant-initialized, as with std::barrier.
constinit atomkit::barrier<> constinit_barrier(1);

TEST_CASE("constinit barrier; a completion that is not declared noexcept") {
  constinit_barrier.arrive_and_wait();
  constinit_barrier.arrive_and_wait();
  int phases = 0;
  auto completion = [&] { ++phases; };  // not noexcept, as users write it
  static_assert(!std::is_nothrow_invocable_v<decltype(completion)&>);
  atomkit::barrier<decltype(completion)> b(2, completion);
  std::thread t([&] {
    for (int i = 0; i < 3; ++i) b.arrive_and_wait();
  });
  for (int i = 0; i < 3; ++i) b.arrive_and_wait();
  t.join();
  CHECK(phases == 3);
}
