// future: results of every kind cross to get() (value, void, reference, move-only, exception),
// get() consumes, misuse on an invalid future, cancel vs start races (exactly one wins, a cancelled
// task never runs), as_completed (completion order, cancelled and already-done futures, each
// index once, early end on its deadline), wait_futures for each return_when; on a worker: a wait
// runs the awaited pending task inline and nothing else, the inline claim races cancel (exactly
// one wins), and the timed forms run no task and keep their deadline.
#include <atomkit/event.hpp>
#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<atomkit::future<int>>);
static_assert(std::is_nothrow_move_constructible_v<atomkit::future<int>>);
static_assert(noexcept(std::declval<atomkit::future<int>&>().cancel()));
static_assert(noexcept(std::declval<const atomkit::future<int>&>().done()));

namespace {

bool is_not_permitted(const std::system_error& e) {
  return e.code() == std::make_error_code(std::errc::operation_not_permitted);
}

// Waits (from outside the pool) for `f`; a deadlock ends the program with a message rather than
// hang (the pool could not be destroyed either).
template <class T>
void must_finish(const atomkit::future<T>& f, const char* what) {
  if (f.wait_for(30s) != std::future_status::ready) {
    std::fprintf(stderr, "deadlock: %s did not finish within 30 s\n", what);
    std::fflush(stderr);
    std::abort();
  }
}

// A task that holds the pool's only worker until released.
struct gate {
  atomkit::event open;
  atomkit::event entered;
  void hold() {
    entered.set();
    open.wait();
  }
};

}  // namespace

TEST_CASE("values of every kind cross to get(), which consumes the future") {
  atomkit::thread_pool pool(2);
  auto a = pool.submit([](int x, int y) { return x * y; }, 6, 7);
  CHECK(a.valid());
  CHECK(a.get() == 42);
  CHECK_FALSE(a.valid());

  int target = 1;
  auto r = pool.submit([&target]() -> int& { return target; });
  r.get() = 5;
  CHECK(target == 5);

  auto v = pool.submit([&target] { target = 9; });
  static_assert(std::is_same_v<decltype(v), atomkit::future<void>>);
  v.get();
  CHECK(target == 9);

  auto m = pool.submit([](std::unique_ptr<int> p) { return p; }, std::make_unique<int>(11));
  auto p = m.get();
  REQUIRE(p != nullptr);
  CHECK(*p == 11);

  auto s = pool.submit([] { return std::string(100, 'x'); });  // a value that owns memory
  s.wait();
  CHECK(s.done());
  CHECK_FALSE(s.running());
  CHECK_FALSE(s.cancelled());
  CHECK_FALSE(s.cancel());  // finished tasks are not cancelled
  CHECK(s.get().size() == 100);
}

TEST_CASE("a task's exception reaches get(), and the worker survives") {
  atomkit::thread_pool pool(1);
  auto bad = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  CHECK_THROWS_WITH_AS(bad.get(), "boom", std::runtime_error);
  CHECK_FALSE(bad.valid());
  auto good = pool.submit([] { return 3; });
  CHECK(good.get() == 3);  // the only worker is still there
  // A future dropped with an exception inside frees it (ASan checks the leak).
  { auto dropped = pool.submit([] { throw std::logic_error("never read"); }); dropped.wait(); }
}

TEST_CASE("misuse: get and wait on an invalid future") {
  atomkit::future<int> none;
  CHECK_FALSE(none.valid());
  CHECK_FALSE(none.done());
  CHECK_FALSE(none.cancel());
  try {
    (void)none.get();
    FAIL("get() on an invalid future returned");
  } catch (const std::system_error& e) {
    CHECK(is_not_permitted(e));
  }
  CHECK_THROWS_AS(none.wait(), std::system_error);
  CHECK_THROWS_AS((void)none.wait_for(1ms), std::system_error);

  atomkit::thread_pool pool(1);
  auto f = pool.submit([] { return 1; });
  auto moved = std::move(f);
  CHECK_THROWS_AS((void)f.get(), std::system_error);  // NOLINT(bugprone-use-after-move): the point
  CHECK(moved.get() == 1);
  CHECK_THROWS_AS((void)moved.get(), std::system_error);  // consumed
}

TEST_CASE("cancel: only while pending; a cancelled task never runs; timed waits") {
  atomkit::thread_pool pool(1);
  gate g;
  auto blocker = pool.submit([&g] { g.hold(); });
  g.entered.wait();
  CHECK(blocker.running());
  CHECK_FALSE(blocker.cancel());  // running: not cancelled
  std::atomic<bool> ran{false};
  auto victim = pool.submit([&ran] { ran = true; return 1; });
  CHECK(victim.wait_for(1ms) == std::future_status::timeout);
  CHECK_FALSE(victim.done());
  CHECK(victim.cancel());
  CHECK_FALSE(victim.cancel());  // once
  CHECK(victim.cancelled());
  CHECK(victim.done());
  CHECK(victim.wait_for(0s) == std::future_status::ready);
  g.open.set();
  blocker.get();
  CHECK_THROWS_AS((void)victim.get(), atomkit::cancelled_error);
  pool.shutdown();
  CHECK_FALSE(ran.load());
}

TEST_CASE("cancel races start: exactly one wins (seeded, bounded)") {
  const std::size_t rounds = stress::scaled(4000);
  stress::time_box box(std::chrono::seconds(10));
  auto rng = stress::rng(1);
  atomkit::thread_pool pool(2);
  std::size_t cancelled = 0;
  std::size_t ran_count = 0;
  for (std::size_t i = 0; i < rounds && !box.expired(); ++i) {
    auto ran = std::make_shared<std::atomic<int>>(0);
    auto f = pool.submit([ran] { return ran->fetch_add(1) + 1; });
    const auto spins = std::uniform_int_distribution<int>(0, 20000)(rng);
    for (int s = 0; s < spins; ++s) std::atomic_signal_fence(std::memory_order_seq_cst);
    const bool won = f.cancel();
    f.wait();
    if (won) {
      ++cancelled;
      CHECK(f.cancelled());
      CHECK_THROWS_AS((void)f.get(), atomkit::cancelled_error);
    } else {
      ++ran_count;
      CHECK_FALSE(f.cancelled());
      CHECK(f.get() == 1);
    }
    // A cancelled task never runs, and a started one runs exactly once (checked after the pool
    // has dropped it: the next round's get orders it only for the same worker, so wait here).
    if (won) {
      pool.submit([] {}).get();
      pool.submit([] {}).get();
      CHECK(ran->load() == 0);
    } else {
      CHECK(ran->load() == 1);
    }
  }
  MESSAGE("cancelled " << cancelled << ", ran " << ran_count);
}

TEST_CASE("as_completed: completion order, already-done and cancelled futures, each index once") {
  atomkit::thread_pool pool(1);
  std::vector<atomkit::future<int>> fs(4);
  fs[1] = pool.submit([] { return 1; });
  fs[1].wait();  // done before the call
  gate g;
  auto blocker = pool.submit([&g] { g.hold(); });
  fs[0] = pool.submit([] { return 0; });
  fs[2] = pool.submit([] { return 2; });
  fs[3] = pool.submit([] { return 3; });
  REQUIRE(fs[2].cancel());  // cancelled before the call
  std::vector<std::size_t> order;
  for (std::size_t i : atomkit::as_completed(fs)) {
    order.push_back(i);
    if (order.size() == 2) g.open.set();  // the rest complete in FIFO order on the one worker
  }
  CHECK(order == std::vector<std::size_t>{1, 2, 0, 3});
  blocker.get();
  CHECK(fs[0].get() == 0);
  CHECK(fs[3].get() == 3);
}

TEST_CASE("as_completed: a cancel during the iteration counts as a completion") {
  atomkit::thread_pool pool(1);
  gate g;
  auto blocker = pool.submit([&g] { g.hold(); });
  std::array<atomkit::future<int>, 3> fs{pool.submit([] { return 0; }), pool.submit([] { return 1; }),
                                         pool.submit([] { return 2; })};
  std::vector<std::size_t> order;
  std::thread canceller([&] {
    g.entered.wait();
    CHECK(fs[1].cancel());  // before or during the registration: either way a completion
  });
  for (std::size_t i : atomkit::as_completed(fs)) {
    order.push_back(i);
    if (order.size() == 1) g.open.set();  // 0 and 2 could not complete before this
  }
  canceller.join();
  // fs[1] was cancelled while the worker was held: before 0 and 2 ran.
  CHECK(order == std::vector<std::size_t>{1, 0, 2});
  blocker.get();
}

TEST_CASE("as_completed_for ends early at its deadline; the futures are untouched") {
  atomkit::thread_pool pool(1);
  gate g;
  std::vector<atomkit::future<void>> fs;
  fs.push_back(pool.submit([] {}));
  fs[0].wait();
  fs.push_back(pool.submit([&g] { g.hold(); }));
  auto range = atomkit::as_completed_for(fs, 20ms);
  std::vector<std::size_t> got;
  for (std::size_t i : range) got.push_back(i);
  CHECK(range.timed_out());
  CHECK(got == std::vector<std::size_t>{0});
  g.open.set();
  fs[1].wait();

  auto all = atomkit::as_completed_for(fs, 10s);
  std::vector<std::size_t> both;
  for (std::size_t i : all) both.push_back(i);
  CHECK(both == std::vector<std::size_t>{0, 1});
  CHECK_FALSE(all.timed_out());
}

TEST_CASE("wait_futures for each return_when") {
  atomkit::thread_pool pool(2);
  SUBCASE("all_completed") {
    std::vector<atomkit::future<int>> fs;
    fs.reserve(20);
    for (int i = 0; i < 20; ++i) fs.push_back(pool.submit([i] { return i; }));
    const auto r = atomkit::wait_futures(fs);
    CHECK(r.done.size() == 20);
    CHECK(r.not_done.empty());
    for (auto& f : fs) CHECK(f.done());
  }
  SUBCASE("first_completed") {
    gate g;
    std::array<atomkit::future<int>, 2> fs{pool.submit([&g] { g.hold(); return 0; }),
                                           pool.submit([] { return 1; })};
    const auto r = atomkit::wait_futures(fs, atomkit::return_when::first_completed);
    CHECK(r.done == std::vector<std::size_t>{1});
    CHECK(r.not_done == std::vector<std::size_t>{0});
    g.open.set();
    CHECK(fs[0].get() == 0);
  }
  SUBCASE("first_exception: returns at the first failure") {
    gate g;
    std::array<atomkit::future<int>, 3> fs{pool.submit([&g] { g.hold(); return 0; }),
                                           pool.submit([] { return 1; }),
                                           pool.submit([]() -> int { throw std::runtime_error("x"); })};
    const auto r = atomkit::wait_futures(fs, atomkit::return_when::first_exception);
    CHECK(r.not_done == std::vector<std::size_t>{0});
    g.open.set();
    CHECK_THROWS_AS((void)fs[2].get(), std::runtime_error);
    CHECK(fs[0].get() == 0);  // the task holds `g`: it must end before `g` goes
  }
  SUBCASE("first_exception: a cancellation is no exception, so it waits for all (or time-out)") {
    atomkit::thread_pool one(1);
    gate g;
    auto blocker = one.submit([&g] { g.hold(); });
    std::array<atomkit::future<int>, 2> fs{one.submit([] { return 0; }), one.submit([] { return 1; })};
    REQUIRE(fs[1].cancel());
    auto r = atomkit::wait_futures_for(fs, 20ms, atomkit::return_when::first_exception);
    CHECK(r.done == std::vector<std::size_t>{1});
    CHECK(r.not_done == std::vector<std::size_t>{0});
    g.open.set();
    r = atomkit::wait_futures_until(fs, std::chrono::steady_clock::now() + 10s,
                                    atomkit::return_when::first_exception);
    CHECK(r.done.size() == 2);
    blocker.get();
  }
  SUBCASE("already-done and cancelled futures wake first_completed at once") {
    atomkit::thread_pool one(1);
    gate g;
    auto blocker = one.submit([&g] { g.hold(); });
    std::array<atomkit::future<int>, 2> fs{one.submit([] { return 0; }), one.submit([] { return 1; })};
    REQUIRE(fs[1].cancel());
    auto r = atomkit::wait_futures(fs, atomkit::return_when::first_completed);
    CHECK(r.done == std::vector<std::size_t>{1});
    CHECK(r.not_done == std::vector<std::size_t>{0});
    g.open.set();
    fs[0].wait();
    r = atomkit::wait_futures(fs, atomkit::return_when::first_completed);
    CHECK(r.done.size() == 2);
    blocker.get();
  }
  SUBCASE("empty range and a span") {
    std::vector<atomkit::future<int>> none;
    CHECK(atomkit::wait_futures(none).done.empty());
    std::array<atomkit::future<int>, 2> fs{pool.submit([] { return 1; }), pool.submit([] { return 2; })};
    std::span<atomkit::future<int>> view(fs);
    CHECK(atomkit::wait_futures(view).done.size() == 2);
  }
}

TEST_CASE("as_completed over many futures from several submitters: each index exactly once") {
  atomkit::thread_pool pool(2);
  const std::size_t n = stress::scaled(2000);
  std::vector<atomkit::future<std::size_t>> fs(n);
  stress::run_threads(2, [&](int t) {
    for (auto i = static_cast<std::size_t>(t); i < n; i += 2) {
      fs[i] = pool.submit([i] { return i; });
    }
  });
  std::vector<int> seen(n, 0);
  for (std::size_t i : atomkit::as_completed(fs)) {
    REQUIRE(i < n);
    ++seen[i];
    CHECK(fs[i].done());
  }
  for (std::size_t i = 0; i < n; ++i) CHECK(seen[i] == 1);
  for (std::size_t i = 0; i < n; ++i) CHECK(fs[i].get() == i);
}

TEST_CASE("on a worker, a wait runs the awaited pending task inline, and no other") {
  atomkit::thread_pool pool(1);
  auto outer = pool.submit([&pool] {
    auto a = pool.submit([] { return 1; });  // both queued behind this task (one worker)
    auto b = pool.submit([] { return 2; });
    const int vb = b.get();  // b runs here; a must not
    const bool a_untouched = !a.done() && !a.running();
    std::vector<atomkit::future<int>> fs;
    fs.push_back(pool.submit([] { return 3; }));
    fs.push_back(pool.submit([] { return 4; }));
    // first_completed runs one of them (the first pending, in index order), then returns.
    auto r = atomkit::wait_futures(fs, atomkit::return_when::first_completed);
    const bool one_ran = r.done.size() == 1 && r.done[0] == 0 && !fs[1].done();
    return vb + (a_untouched ? 10 : 0) + (one_ran ? 100 : 0) + a.get() * 1000;
  });
  must_finish(outer, "a task waiting on tasks of its own pool");
  CHECK(outer.get() == 1112);
}

TEST_CASE("a worker's inline claim races cancel: exactly one wins (seeded, bounded)") {
  const std::size_t rounds = stress::scaled(3000);
  stress::time_box box(std::chrono::seconds(10));
  auto rng = stress::rng(2);
  atomkit::thread_pool pool(1);
  std::size_t cancelled = 0;
  for (std::size_t i = 0; i < rounds && !box.expired(); ++i) {
    auto ran = std::make_shared<std::atomic<int>>(0);
    atomkit::event ready;
    atomkit::future<int> victim;
    std::atomic<bool> handed{false};
    // The waiter: the pool's only worker, so the victim is pending until it claims it.
    auto waiter = pool.submit([&] {
      victim = pool.submit([ran] { return ran->fetch_add(1) + 1; });
      handed.store(true, std::memory_order_release);
      ready.wait();
      victim.wait();  // claims and runs it here unless the cancel came first
      return victim.cancelled() ? -1 : 1;  // no get() here: the main thread calls cancel()
    });
    while (!handed.load(std::memory_order_acquire)) std::this_thread::yield();
    const auto spins = std::uniform_int_distribution<int>(0, 20000)(rng);
    ready.set();
    for (int s = 0; s < spins; ++s) std::atomic_signal_fence(std::memory_order_seq_cst);
    const bool won = victim.cancel();
    must_finish(waiter, "a worker waiting on a task being cancelled");
    const int got = waiter.get();
    if (won) {
      ++cancelled;
      CHECK(got == -1);
      CHECK_THROWS_AS((void)victim.get(), atomkit::cancelled_error);
    } else {
      CHECK(got == 1);
      CHECK(victim.get() == 1);
    }
    // The victim's handle is still queued (a claimed or cancelled task's handle is dropped when
    // popped): a task queued after it runs once the handle is gone.
    pool.submit([] {}).get();
    CHECK(ran->load() == (won ? 0 : 1));
  }
  pool.shutdown(true);
  MESSAGE("cancelled " << cancelled << " of " << rounds);
}

TEST_CASE("timed waits on a worker run no task and return by their deadline") {
  // The awaited task runs on another pool and is held; this pool's only worker waits with a
  // deadline while tasks are queued behind it that block until the waits are over. A timed wait
  // that ran one of them would not return at all.
  atomkit::thread_pool other(1);
  struct held {
    atomkit::event open, entered;
  } h;
  std::vector<atomkit::future<void>> slow;
  slow.push_back(other.submit([&h] {
    h.entered.set();
    h.open.wait();
  }));
  h.entered.wait();
  atomkit::thread_pool pool(1);
  atomkit::event release;
  atomkit::event queued;
  auto waiter = pool.submit([&] {
    queued.wait();
    int timeouts = 0;
    const auto t0 = std::chrono::steady_clock::now();
    if (slow[0].wait_for(10ms) == std::future_status::timeout) ++timeouts;
    if (slow[0].wait_until(std::chrono::steady_clock::now() + 10ms) == std::future_status::timeout) {
      ++timeouts;
    }
    if (!atomkit::wait_futures_for(slow, 10ms).not_done.empty()) ++timeouts;
    if (!atomkit::wait_futures_until(slow, std::chrono::steady_clock::now() + 10ms).not_done.empty()) {
      ++timeouts;
    }
    auto range = atomkit::as_completed_for(slow, 10ms);
    for (std::size_t i : range) timeouts += 100 + static_cast<int>(i);  // must not yield
    if (range.timed_out()) ++timeouts;
    // A task of this very pool, still queued: a timed wait does not claim it either.
    auto mine = pool.submit([] { return 1; });
    if (mine.wait_for(10ms) == std::future_status::timeout && !mine.running()) ++timeouts;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return std::make_pair(timeouts, ms);
  });
  std::vector<atomkit::future<void>> blockers;
  blockers.reserve(4);
  for (int i = 0; i < 4; ++i) blockers.push_back(pool.submit([&release] { release.wait(); }));
  queued.set();
  must_finish(waiter, "a worker in timed waits");
  const auto [timeouts, ms] = waiter.get();
  CHECK(timeouts == 6);
  CHECK(ms < 5000.0);  // six waits of 10 ms each; an unbounded overrun shows as a hang instead
  release.set();
  h.open.set();
  for (auto& b : blockers) b.get();
  slow[0].get();
}
