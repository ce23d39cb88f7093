// Task accounting on mpmc_queue and spsc_queue (Python's Queue.task_done()/join()): the count,
// misuse (task_done too often throws and changes nothing), join on an empty queue, join_for's
// time-out, a sleeping joiner woken by the last task_done and never before, close(), and a stress
// where joiners race with producers and consumers and check, at each return, that every item
// pushed before the join began was processed.
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/spsc_queue.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using atomkit::queue_status;

namespace {

template <class Q>
struct traits;
template <class W>
struct traits<atomkit::mpmc_queue<int, W>> {
  static constexpr bool spsc = false;
  static constexpr bool parks = W::sleeps;
};
template <class W>
struct traits<atomkit::spsc_queue<int, W>> {
  static constexpr bool spsc = true;
  static constexpr bool parks = W::sleeps;
};

// task_done() while nothing is unfinished: system_error(operation_not_permitted).
template <class Q>
bool task_done_refused(Q& q) {
  try {
    q.task_done();
  } catch (const std::system_error& e) {
    return e.code() == std::errc::operation_not_permitted;
  }
  return false;
}

}  // namespace

#define ATOMKIT_JOIN_QUEUES                                                                  \
  atomkit::mpmc_queue<int>, atomkit::spsc_queue<int>, atomkit::mpmc_queue<int, atomkit::busy>, \
      atomkit::spsc_queue<int, atomkit::busy>

TEST_CASE_TEMPLATE("join: counts, join on an empty queue, join_for times out while unfinished", Q,
                   ATOMKIT_JOIN_QUEUES) {
  Q q(4);
  CHECK(q.unfinished_tasks() == 0);
  q.join();  // nothing pushed: returns at once
  CHECK(q.join_for(0ms));
  CHECK(q.join_until(std::chrono::steady_clock::now()));

  int out = 0;
  for (int i = 0; i < 3; ++i) REQUIRE(q.push(i) == queue_status::success);
  CHECK(q.unfinished_tasks() == 3);
  CHECK(q.try_push(3) == queue_status::success);
  CHECK(q.try_push(4) == queue_status::full);  // a failed push counts nothing
  CHECK(q.unfinished_tasks() == 4);
  REQUIRE(q.pop(out) == queue_status::success);
  CHECK(q.unfinished_tasks() == 4);  // popped is not finished
  q.task_done();
  CHECK(q.unfinished_tasks() == 3);

  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(q.join_for(20ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
  CHECK_FALSE(q.join_until(std::chrono::steady_clock::now() + 5ms));
  CHECK_FALSE(q.join_until(std::chrono::system_clock::now() + 5ms));  // other clocks converted

  // As in Python, task_done() need not follow a pop: it finishes whichever task the caller means.
  q.task_done();
  q.task_done();
  CHECK(q.unfinished_tasks() == 1);
  q.task_done();
  CHECK(q.unfinished_tasks() == 0);
  CHECK(q.join_for(0ms));
  q.join();
  CHECK(q.size() == 3);  // the count is independent of what is still queued
}

TEST_CASE_TEMPLATE("join: task_done more often than pushes throws and leaves the count unchanged",
                   Q, ATOMKIT_JOIN_QUEUES) {
  Q q(2);
  CHECK(task_done_refused(q));
  CHECK(q.unfinished_tasks() == 0);
  REQUIRE(q.push(1) == queue_status::success);
  q.task_done();
  CHECK(task_done_refused(q));
  CHECK(task_done_refused(q));
  CHECK(q.unfinished_tasks() == 0);
  // The refused calls left no debt: the next push counts one again, and one task_done ends it.
  REQUIRE(q.push(2) == queue_status::success);
  CHECK(q.unfinished_tasks() == 1);
  CHECK_FALSE(q.join_for(1ms));
  q.task_done();
  CHECK(q.unfinished_tasks() == 0);
  q.join();
}

TEST_CASE_TEMPLATE("join: a sleeping joiner returns after the last task_done, never before", Q,
                   ATOMKIT_JOIN_QUEUES) {
  constexpr int n = 8;
  Q q(n);
  for (int i = 0; i < n; ++i) REQUIRE(q.push(i) == queue_status::success);
  std::atomic<int> finished{0};
  std::atomic<int> seen_at_return{-1};
  std::atomic<long> joiner_tid{0};
  std::thread joiner([&] {
    joiner_tid = stress::current_tid();
    q.join();
    seen_at_return = finished.load();
  });
  int out = 0;
  for (int i = 0; i < n; ++i) {
    if (i == n - 1 && traits<Q>::parks) {
      // Before the last one: the joiner is still waiting (asleep, for park), whatever the timing.
      while (joiner_tid.load() == 0) std::this_thread::yield();
      (void)stress::wait_until_asleep(joiner_tid.load(), stress::time_box(2s));
    }
    CHECK(seen_at_return.load() == -1);
    REQUIRE(q.pop(out) == queue_status::success);
    finished.fetch_add(1);
    q.task_done();
  }
  joiner.join();
  CHECK(seen_at_return.load() == n);
  CHECK(q.unfinished_tasks() == 0);
}

TEST_CASE_TEMPLATE("join: close() finishes nothing; failed pushes count nothing", Q,
                   ATOMKIT_JOIN_QUEUES) {
  Q q(4);
  for (int i = 0; i < 3; ++i) REQUIRE(q.push(i) == queue_status::success);
  q.close();
  CHECK(q.push(9) == queue_status::closed);
  CHECK(q.try_push(9) == queue_status::closed);
  CHECK(q.try_push_for(9, 1ms) == queue_status::closed);
  CHECK(q.unfinished_tasks() == 3);
  CHECK_FALSE(q.join_for(1ms));
  std::thread joiner([&] { q.join(); });
  int out = 0;
  int drained = 0;
  while (q.pop(out) == queue_status::success) {
    ++drained;
    q.task_done();
  }
  joiner.join();
  CHECK(drained == 3);
  CHECK(q.unfinished_tasks() == 0);
  CHECK(task_done_refused(q));
  CHECK(q.push(9) == queue_status::closed);  // still nothing counted after the drain
  CHECK(q.unfinished_tasks() == 0);
  q.join();
}

TEST_CASE_TEMPLATE("join: a push blocked on a full queue and given up by close() counts nothing", Q,
                   ATOMKIT_JOIN_QUEUES) {
  Q q(1);
  REQUIRE(q.push(1) == queue_status::success);
  std::atomic<long> tid{0};
  queue_status blocked = queue_status::success;
  std::thread producer([&] {
    tid = stress::current_tid();
    blocked = q.push(2);  // waits for room until close()
  });
  const stress::time_box box(5s);
  if constexpr (!traits<Q>::spsc) {
    // mpmc_queue counts a push from its ticket: the blocked push is counted while it waits.
    while (q.unfinished_tasks() != 2 && !box.expired()) std::this_thread::yield();
    CHECK(q.unfinished_tasks() == 2);
  } else {
    // spsc_queue counts a push when it lands.
    while (tid.load() == 0) std::this_thread::yield();
    if constexpr (traits<Q>::parks) (void)stress::wait_until_asleep(tid.load(), box);
    CHECK(q.unfinished_tasks() == 1);
  }
  CHECK_FALSE(q.join_for(1ms));
  std::thread joiner([&] { q.join(); });
  q.close();
  producer.join();
  CHECK(blocked == queue_status::closed);
  CHECK(q.unfinished_tasks() == 1);
  int out = 0;
  REQUIRE(q.pop(out) == queue_status::success);
  CHECK(out == 1);
  q.task_done();
  joiner.join();
  CHECK(q.unfinished_tasks() == 0);
  CHECK(q.pop(out) == queue_status::closed);
  CHECK(task_done_refused(q));
}

// Producers push, consumers pop, mark the item processed (a plain write: a join that returned
// without happening after the task_done would be a data race under TSan) and call task_done.
// Joiners, racing with both, record how many items each producer had pushed, join, and check that
// all of those were processed. At the end the main thread joins and checks every item.
template <class Q>
void join_stress(int producers, int consumers, int joiners, std::size_t capacity) {
  const std::size_t rounds = stress::scaled(60);
  constexpr std::size_t per_producer = 400;
  const stress::time_box box(std::chrono::seconds(10));
  std::uint64_t checked = 0;
  for (std::size_t round = 0; round < rounds && !box.expired(); ++round) {
    Q q(capacity);
    const std::size_t items = per_producer * static_cast<std::size_t>(producers);
    std::vector<int> processed(items, 0);  // written once each, by the consumer that popped it
    std::vector<std::atomic<std::size_t>> pushed(static_cast<std::size_t>(producers));
    std::atomic<int> early{0};        // items a joiner found unprocessed after its join
    std::atomic<int> producing{producers};
    std::atomic<std::uint64_t> joins_checked{0};
    stress::run_threads(producers + consumers + joiners, [&](int id) {
      auto rng = stress::rng(round * 64 + static_cast<std::size_t>(id));
      if (id < producers) {
        const auto p = static_cast<std::size_t>(id);
        for (std::size_t i = 0; i < per_producer; ++i) {
          if (q.push(static_cast<int>(p * per_producer + i)) != queue_status::success) break;
          // release: a joiner that reads i + 1 (acquire) knows the push of item i completed.
          pushed[p].store(i + 1, std::memory_order_release);
          if (rng() % 16 == 0) std::this_thread::yield();
        }
        producing.fetch_sub(1);
      } else if (id < producers + consumers) {
        int x = 0;
        while (q.pop(x) == queue_status::success) {
          processed[static_cast<std::size_t>(x)] = 1;
          if (rng() % 8 == 0) std::this_thread::yield();
          q.task_done();
        }
      } else {
        do {
          std::vector<std::size_t> before(static_cast<std::size_t>(producers));
          for (std::size_t p = 0; p < before.size(); ++p) {
            before[p] = pushed[p].load(std::memory_order_acquire);  // pairs with the producer
          }
          q.join();
          for (std::size_t p = 0; p < before.size(); ++p) {
            for (std::size_t i = 0; i < before[p]; ++i) {
              if (processed[p * per_producer + i] != 1) early.fetch_add(1);
            }
          }
          joins_checked.fetch_add(1);
          if (rng() % 4 == 0) std::this_thread::yield();
        } while (producing.load() != 0);
        // The first joiner also waits for everything, checks every item, and closes the queue,
        // which lets the consumers go.
        if (id == producers + consumers) {
          q.join();
          for (std::size_t i = 0; i < items; ++i) {
            if (processed[i] != 1) early.fetch_add(1);
          }
          if (q.unfinished_tasks() != 0) early.fetch_add(1);
          q.close();
        }
      }
    });
    CHECK(early.load() == 0);
    REQUIRE(q.unfinished_tasks() == 0);
    checked += joins_checked.load();
  }
  CHECK(checked > 0);
  MESSAGE("joins checked: " << checked);
}

TEST_CASE("join stress: mpmc_queue, 3 producers, 3 consumers, 2 joiners") {
  join_stress<atomkit::mpmc_queue<int>>(3, 3, 2, 8);
}

TEST_CASE("join stress: mpmc_queue, 2 producers, 2 consumers, 1 joiner, capacity 1") {
  join_stress<atomkit::mpmc_queue<int>>(2, 2, 1, 1);
}

TEST_CASE("join stress: spsc_queue, 1 producer, 1 consumer, 2 joiners") {
  join_stress<atomkit::spsc_queue<int>>(1, 1, 2, 4);
}
