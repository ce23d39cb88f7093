// thread_pool: constructor rules, submit after shutdown, shutdown(cancel_pending), shutdown from
// inside a task (and an outside shutdown(true) after it still waits for every queued task),
// nested waits with one worker (get, wait_futures, as_completed, a chain, a wait on another pool
// during which the waiting worker runs nothing else), a waiting worker never runs an unrelated
// task (no deadlock a plain pool would not have, no nesting of waits), a claimed task's queued
// handle (queue slots, shutdown(cancel_pending)), a full queue from inside a task, backpressure,
// and a many-submitter stress. A deadlock fails by a time-out that ends the program.
#include <atomkit/event.hpp>
#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
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
  SUBCASE("a worker waiting on another pool runs nothing else meanwhile") {
    atomkit::thread_pool other(1);
    gate g;
    auto far = other.submit([&g] { g.hold(); return 3; });
    atomkit::event outer_waits;
    auto outer = pool.submit([&] {
      outer_waits.set();
      return far.get();  // the only worker sleeps here: the task is another pool's
    });
    auto mid = pool.submit([] { return 4; });
    outer_waits.wait();
    g.entered.wait();
    CHECK(mid.wait_for(20ms) == std::future_status::timeout);  // nobody may run it yet
    CHECK_FALSE(mid.running());
    g.open.set();
    must_finish(outer, "a task waiting on another pool");
    CHECK(outer.get() == 3);
    CHECK(mid.get() == 4);
  }
}

TEST_CASE("shutdown(true) from outside waits for every task, also after one from inside a task") {
  SUBCASE("one worker") {
    atomkit::thread_pool pool(1);
    atomkit::event go;
    atomkit::event inner_returned;
    std::atomic<int> done{0};
    auto x = pool.submit([&] {
      go.wait();
      pool.shutdown(true);  // one worker: there is no other worker to wait for
      inner_returned.set();
    });
    auto y = pool.submit([&done] {
      // Widens the window in which a shutdown that forgot this task would return early.
      std::this_thread::sleep_for(20ms);
      done.store(1);
    });
    go.set();
    must_finish(x, "a task that called shutdown(true)");
    CHECK(inner_returned.is_set());
    pool.shutdown(true);
    CHECK(done.load() == 1);
    CHECK(x.done());
    CHECK(y.done());
  }
  SUBCASE("every worker's task shuts down from inside") {
    atomkit::thread_pool pool(2);
    atomkit::event go;
    std::atomic<int> returned{0};
    std::atomic<int> ran{0};
    auto a = pool.submit([&] {
      go.wait();
      pool.shutdown(true);
      returned.fetch_add(1);
    });
    auto b = pool.submit([&] {
      go.wait();
      pool.shutdown(true);
      returned.fetch_add(1);
    });
    for (int i = 0; i < 4; ++i) {
      (void)pool.submit([&ran] {
        std::this_thread::sleep_for(5ms);  // as above: a window for an early return
        ran.fetch_add(1);
      });
    }
    go.set();
    must_finish(a, "a task that called shutdown(true)");
    must_finish(b, "a task that called shutdown(true)");
    CHECK(returned.load() == 2);
    pool.shutdown(true);
    CHECK(ran.load() == 4);
  }
}

TEST_CASE("a waiting worker runs no unrelated task: no deadlock that a plain pool would not have") {
  // X holds one worker; P, on the other, waits for X; R, queued, waits for P. Had P run R while it
  // waited, R would sit on top of P's stack waiting for P: a deadlock.
  for (int form = 0; form < 3; ++form) {  // wait, wait_futures, as_completed
    CAPTURE(form);
    atomkit::thread_pool pool(2);
    gate g;
    atomkit::event p_waits;
    std::vector<atomkit::future<void>> xs;
    xs.push_back(pool.submit([&g] { g.hold(); }));
    g.entered.wait();
    auto fp = pool.submit([&] {
      p_waits.set();
      if (form == 0) {
        xs[0].wait();
      } else if (form == 1) {
        (void)atomkit::wait_futures(xs);
      } else {
        std::size_t sum = 0;
        for (std::size_t i : atomkit::as_completed(xs)) sum += i + 1;
        if (sum != 1) return -1;
      }
      return 42;
    });
    p_waits.wait();
    std::atomic<bool> r_started{false};
    auto fr = pool.submit([&] {
      r_started.store(true);
      fp.wait();
      return 7;
    });
    // A window in which a waiting P that ran queued tasks would start R (no synchronization rests
    // on it: with the fix R cannot start before X ends, whatever the wait).
    stress::time_box window(std::chrono::milliseconds(50));
    while (!r_started.load() && !window.expired()) std::this_thread::yield();
    g.open.set();
    must_finish(fr, "a queued task that waits for a waiting task");
    CHECK(fr.get() == 7);
    CHECK(fp.get() == 42);
  }
}

TEST_CASE("waits on a worker do not nest: with one worker, one task at a time") {
  // Every task waits for a gate on another pool. Had a waiting worker run queued tasks, each would
  // start on top of the one below it (40,000 frames deep: a stack overflow).
  const std::size_t n = stress::scaled(40000);
  atomkit::thread_pool other(1);
  gate g;
  auto gate_task = other.submit([&g] { g.hold(); });
  g.entered.wait();
  atomkit::thread_pool pool(1, n + 1);
  std::atomic<int> active{0};
  std::atomic<int> most{0};
  std::vector<atomkit::future<void>> fs;
  fs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    fs.push_back(pool.submit([&] {
      const int a = active.fetch_add(1) + 1;
      int m = most.load();
      while (a > m && !most.compare_exchange_weak(m, a)) {
      }
      gate_task.wait();
      active.fetch_sub(1);
    }));
  }
  // A window in which a worker that ran queued tasks while waiting would start a second one (no
  // synchronization rests on it: with the fix nothing else can start, whatever the wait).
  stress::time_box window(std::chrono::milliseconds(50));
  while (most.load() < 2 && !window.expired()) std::this_thread::yield();
  g.open.set();
  must_finish(fs.back(), "the last of the gated tasks");
  for (auto& f : fs) f.get();
  CHECK(most.load() == 1);
}

TEST_CASE("a task claimed by a waiting worker: its queued handle is skipped and frees its slot") {
  SUBCASE("queue slots") {
    // Capacity 2, one worker: each round the task queues two tasks and runs them itself by
    // waiting for them; their handles, popped later, must not hold the queue full.
    atomkit::thread_pool pool(1, 2);
    const int rounds = static_cast<int>(stress::scaled(2000));
    long sum = 0;
    for (int r = 0; r < rounds; ++r) {
      auto outer = pool.submit([&pool, r] {
        auto a = pool.submit([r] { return r; });
        auto b = pool.submit([] { return 1; });
        return b.get() + a.get();
      });
      must_finish(outer, "a round of inline claims");
      sum += outer.get();
    }
    CHECK(sum == static_cast<long>(rounds) * (rounds - 1) / 2 + rounds);
  }
  SUBCASE("shutdown(cancel_pending) skips a claimed task and cancels the rest") {
    atomkit::thread_pool pool(1);
    gate g;
    atomkit::future<int> later;
    auto outer = pool.submit([&] {
      auto inner = pool.submit([] { return 5; });  // queued behind this task
      later = pool.submit([] { return 6; });
      const int v = inner.get();  // claimed and run here; its handle stays queued
      g.hold();
      return v;
    });
    g.entered.wait();
    pool.shutdown(false, true);  // pops inner's handle (already run) and later's (cancelled)
    g.open.set();
    CHECK(outer.get() == 5);
    pool.shutdown(true);
    CHECK(later.cancelled());
    CHECK_THROWS_AS((void)later.get(), atomkit::cancelled_error);
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
