// thread_pool: constructor rules, submit after shutdown, shutdown(cancel_pending), shutdown from
// inside a task, nested waits with one worker (get, wait_futures, as_completed, a chain, a wait on
// another pool while the waiting worker must run a task submitted from outside), a full queue
// from inside a task, backpressure, and a many-submitter stress.
#include <atomkit/event.hpp>
#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<atomkit::thread_pool>);
static_assert(!std::is_move_constructible_v<atomkit::thread_pool>);

namespace {

struct gate {
  atomkit::event open;
  atomkit::event entered;
  void hold() {
    entered.set();
    open.wait();
  }
};

bool is_not_permitted(const std::system_error& e) {
  return e.code() == std::make_error_code(std::errc::operation_not_permitted);
}

}  // namespace

TEST_CASE("constructor rules and size") {
  CHECK_THROWS_AS(atomkit::thread_pool(0), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::thread_pool(1, 0), std::invalid_argument);
  atomkit::thread_pool dflt;
  const unsigned hw = std::thread::hardware_concurrency();
  CHECK(dflt.size() == (hw == 0 ? 1 : hw));
  atomkit::thread_pool three(3, 4);
  CHECK(three.size() == 3);
}

TEST_CASE("submit after shutdown throws; shutdown is idempotent") {
  atomkit::thread_pool pool(2);
  auto f = pool.submit([] { return 1; });
  pool.shutdown();
  CHECK(f.get() == 1);  // work submitted before shutdown ran
  try {
    (void)pool.submit([] { return 2; });
    FAIL("submit after shutdown returned");
  } catch (const std::system_error& e) {
    CHECK(is_not_permitted(e));
  }
  pool.shutdown();
  pool.shutdown(false, true);
}

TEST_CASE("shutdown(cancel_pending) cancels every task not yet started") {
  atomkit::thread_pool pool(1);
  gate g;
  auto blocker = pool.submit([&g] { g.hold(); });
  g.entered.wait();
  std::atomic<int> ran{0};
  std::vector<atomkit::future<void>> fs;
  fs.reserve(5);
  for (int i = 0; i < 5; ++i) fs.push_back(pool.submit([&ran] { ++ran; }));
  pool.shutdown(false, true);
  for (auto& f : fs) CHECK(f.cancelled());
  CHECK_FALSE(blocker.cancelled());
  g.open.set();
  pool.shutdown(true);
  blocker.get();
  CHECK(ran.load() == 0);
  for (auto& f : fs) CHECK_THROWS_AS(f.get(), atomkit::cancelled_error);
}

TEST_CASE("shutdown from inside a task does not deadlock") {
  SUBCASE("one worker") {
    atomkit::thread_pool pool(1);
    auto f = pool.submit([&pool] {
      pool.shutdown(true);
      return 7;
    });
    CHECK(f.get() == 7);
    CHECK_THROWS_AS((void)pool.submit([] {}), std::system_error);
  }
  SUBCASE("two workers, both tasks shut down, queued work still runs") {
    atomkit::thread_pool pool(2);
    atomkit::event go;
    std::atomic<int> ran{0};
    auto a = pool.submit([&] { go.wait(); pool.shutdown(true); });
    auto b = pool.submit([&] { go.wait(); pool.shutdown(true); });
    std::vector<atomkit::future<void>> rest;
    rest.reserve(4);
    for (int i = 0; i < 4; ++i) rest.push_back(pool.submit([&ran] { ++ran; }));
    go.set();  // both workers shut down from inside a task; neither waits for the other
    a.get();
    b.get();
    for (auto& f : rest) f.get();
    CHECK(ran.load() == 4);
    CHECK_THROWS_AS((void)pool.submit([] {}), std::system_error);
  }
}

TEST_CASE("nested waits with one worker never deadlock") {
  atomkit::thread_pool pool(1);
  SUBCASE("get of a task submitted from the task") {
    auto outer = pool.submit([&pool] { return pool.submit([] { return 20; }).get() + 1; });
    CHECK(outer.get() == 21);
  }
  SUBCASE("a chain of nested submits") {
    std::function<int(int)> depth = [&](int d) -> int {
      if (d == 0) return 0;
      return pool.submit(depth, d - 1).get() + 1;
    };
    CHECK(pool.submit(depth, 12).get() == 12);
  }
  SUBCASE("wait_futures and as_completed inside a task") {
    auto outer = pool.submit([&pool] {
      std::vector<atomkit::future<int>> inner;
      inner.reserve(8);
      for (int i = 0; i < 8; ++i) inner.push_back(pool.submit([i] { return i; }));
      auto r = atomkit::wait_futures(inner, atomkit::return_when::first_completed);
      int n = 0;
      for (std::size_t i : atomkit::as_completed(inner)) n += static_cast<int>(i);
      return n + static_cast<int>(r.done.empty() ? 1000 : 0);
    });
    CHECK(outer.get() == 28);
  }
  SUBCASE("a task that waits for a task queued behind it") {
    atomkit::future<int> second;
    atomkit::event ready;
    auto first = pool.submit([&] {
      ready.wait();
      return second.get() * 2;
    });
    second = pool.submit([] { return 5; });
    ready.set();
    CHECK(first.get() == 10);
  }
  SUBCASE("a waiting worker runs a task submitted from outside meanwhile") {
    atomkit::thread_pool other(1);
    gate g;
    auto far = other.submit([&g] { g.hold(); return 3; });
    auto outer = pool.submit([&far] { return far.get(); });  // the only worker sleeps in get
    // Only the waiting worker can run this one; the gate opens after it ran.
    auto mid = pool.submit([] { return 4; });
    CHECK(mid.get() == 4);
    g.open.set();
    CHECK(outer.get() == 3);
  }
}

TEST_CASE("a full queue: submit from inside a task runs the task inline, outside it waits") {
  SUBCASE("inside") {
    atomkit::thread_pool pool(1, 1);
    auto outer = pool.submit([&pool] {
      std::vector<atomkit::future<int>> v;
      v.reserve(5);
      for (int i = 0; i < 5; ++i) v.push_back(pool.submit([i] { return i; }));
      int s = 0;
      for (auto& f : v) s += f.get();
      return s;
    });
    CHECK(outer.get() == 10);
  }
  SUBCASE("outside: backpressure") {
    atomkit::thread_pool pool(1, 2);
    gate g;
    auto blocker = pool.submit([&g] { g.hold(); });
    g.entered.wait();
    std::atomic<int> submitted{0};
    std::vector<atomkit::future<int>> fs(6);
    std::thread producer([&] {
      for (int i = 0; i < 6; ++i) {
        fs[static_cast<std::size_t>(i)] = pool.submit([i] { return i; });
        submitted.fetch_add(1);
      }
    });
    // While the only worker is held, at most `capacity` tasks can be queued.
    for (int i = 0; i < 50; ++i) {
      CHECK(submitted.load() <= 2);
      std::this_thread::yield();
    }
    g.open.set();
    producer.join();
    int s = 0;
    for (auto& f : fs) s += f.get();
    CHECK(s == 15);
    blocker.get();
  }
}

TEST_CASE("many submitters, many workers: every task runs once (bounded)") {
  atomkit::thread_pool pool(3, 16);
  const int per = static_cast<int>(stress::scaled(3000));
  std::atomic<long> sum{0};
  stress::time_box box(std::chrono::seconds(15));
  stress::run_threads(3, [&](int t) {
    std::vector<atomkit::future<int>> fs;
    for (int i = 0; i < per && !box.expired(); ++i) {
      fs.push_back(pool.submit([&sum, i] {
        sum.fetch_add(i);
        return i;
      }));
      if (fs.size() == 64) {
        for (auto& f : fs) (void)f.get();
        fs.clear();
      }
    }
    for (auto& f : fs) (void)f.get();
    (void)t;
  });
  CHECK(sum.load() > 0);
}

TEST_CASE("an idle worker sleeps in the kernel (no CPU burnt)") {
  atomkit::thread_pool pool(1);
  const long tid = pool.submit([] { return stress::current_tid(); }).get();
  stress::time_box box(std::chrono::seconds(10));
  CHECK(stress::wait_until_asleep(tid, box));
  CHECK(pool.submit([] { return 1; }).get() == 1);  // and a submit wakes it
}

TEST_CASE("the destructor waits for queued work") {
  std::atomic<int> ran{0};
  {
    atomkit::thread_pool pool(2);
    for (int i = 0; i < 100; ++i) (void)pool.submit([&ran] { ++ran; });
  }
  CHECK(ran.load() == 100);
}
