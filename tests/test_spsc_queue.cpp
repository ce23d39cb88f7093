// spsc_queue: FIFO and capacity edges, element lifetime, timed forms, order and exactly-once
// under a mix of blocking/try/timed calls, no spurious full/empty, close from a third thread
// racing with pushes, blocked sides woken by close, and that a blocked consumer sleeps.
#include <atomkit/spsc_queue.hpp>

#include <doctest/doctest.h>

#include "queue_elements.hpp"
#include "stress.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using atomkit::queue_status;

using queue_test::counted;
using queue_test::gate;
using queue_test::gated;
using queue_test::move_only;
using queue_test::timed_call;

TEST_CASE("spsc: capacity 0 throws; exact capacity for 1, odd and large capacities; FIFO") {
  CHECK_THROWS_AS(atomkit::spsc_queue<int>(0), std::invalid_argument);
  for (std::size_t cap : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{65537}}) {
    CAPTURE(cap);
    atomkit::spsc_queue<std::uint64_t> q(cap);
    CHECK(q.capacity() == cap);
    std::uint64_t out = 0;
    CHECK(q.try_pop(out) == queue_status::empty);
    for (int round = 0; round < 3; ++round) {
      for (std::uint64_t i = 0; i < cap; ++i) REQUIRE(q.try_push(i + round) == queue_status::success);
      CHECK(q.size() == cap);
      CHECK(q.try_push(std::uint64_t{5}) == queue_status::full);
      CHECK(q.try_push_for(std::uint64_t{5}, 1ms) == queue_status::timeout);
      for (std::uint64_t i = 0; i < cap; ++i) {
        REQUIRE(q.try_pop(out) == queue_status::success);
        REQUIRE(out == i + round);
      }
      CHECK(q.try_pop_for(out, 1ms) == queue_status::timeout);
      CHECK(q.empty());
    }
  }
}

// Capacities whose ring size overflows size_t must be refused before anything is allocated (the
// constructor used to allocate capacity * sizeof(T) unchecked: 2^31 cells of 8 GiB wrapped to 0).
// Only types are huge here; nothing large is ever allocated.
TEST_CASE("spsc: capacities whose ring size overflows throw instead of corrupting memory") {
  CHECK_THROWS_AS(atomkit::spsc_queue<int>(~std::size_t{0}), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::spsc_queue<int>((std::size_t{1} << 32) + 1), std::invalid_argument);
  using big8g = std::array<char, std::size_t{1} << 33>;
  CHECK_THROWS_AS(atomkit::spsc_queue<big8g>(std::size_t{1} << 31), std::invalid_argument);  // 2^64
  CHECK_THROWS_AS(atomkit::spsc_queue<big8g>((std::size_t{1} << 31) - 1), std::invalid_argument);
  // Past PTRDIFF_MAX without wrapping.
  CHECK_THROWS_AS(atomkit::spsc_queue<big8g>((std::size_t{1} << 30) + 1), std::invalid_argument);
  using big16g = std::array<char, std::size_t{1} << 34>;
  CHECK_THROWS_AS(atomkit::spsc_queue<big16g>(std::size_t{1} << 30), std::invalid_argument);  // 2^64
}

TEST_CASE("spsc: elements are destroyed with the queue; move-only T; values kept on failure") {
  {
    atomkit::spsc_queue<counted> q(3);
    const counted c(7);
    CHECK(q.push(c) == queue_status::success);
    CHECK(q.push(counted(8)) == queue_status::success);
    CHECK(q.try_push(counted(9)) == queue_status::success);
    counted out(0);
    CHECK(q.pop(out) == queue_status::success);
    CHECK(out.v == 7);
    CHECK(q.try_push(c) == queue_status::success);
    CHECK(counted::live.load() == 3 + 2);
  }
  CHECK(counted::live.load() == 0);

  atomkit::spsc_queue<move_only> q(1);
  move_only a(1), b(2);
  CHECK(q.push(std::move(a)) == queue_status::success);
  CHECK(q.try_push(std::move(b)) == queue_status::full);
  REQUIRE(b.p != nullptr);
  CHECK(q.try_push_until(std::move(b), std::chrono::system_clock::now() + 1ms) == queue_status::timeout);
  REQUIRE(b.p != nullptr);
  q.close();
  CHECK(q.is_closed());
  CHECK(q.push(std::move(b)) == queue_status::closed);
  REQUIRE(b.p != nullptr);
  move_only out(0);
  CHECK(q.pop(out) == queue_status::success);
  CHECK(*out.p == 1);
  CHECK(q.try_push(std::move(b)) == queue_status::closed);
  REQUIRE(b.p != nullptr);
  CHECK(q.pop(out) == queue_status::closed);
  CHECK(q.try_pop(out) == queue_status::closed);
  CHECK(q.try_pop_for(out, 1s) == queue_status::closed);
}

template <class Wait>
void order_and_exactly_once(std::size_t cap, std::size_t n) {
  CAPTURE(cap);
  atomkit::spsc_queue<std::uint64_t, Wait> q(cap);
  std::atomic<long> errors{0};
  std::atomic<std::uint64_t> pops_done{0}, pushes_done{0};
  std::atomic<long> spurious{0};
  stress::run_threads(2, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id) + cap);
    if (id == 0) {
      for (std::uint64_t i = 0; i < n; ++i) {
        switch (rng() % 4) {
          case 0:
            for (;;) {
              // seq_cst: read before try_push; pops that completed earlier must leave room.
              const std::uint64_t p = pops_done.load(std::memory_order_seq_cst);
              const queue_status r = q.try_push(i);
              if (r == queue_status::success) break;
              if (i - p < cap) spurious.fetch_add(1);
              std::this_thread::yield();
            }
            break;
          case 1:
            while (q.try_push_for(i, 50us) != queue_status::success) {
            }
            break;
          default:
            if (q.push(i) != queue_status::success) errors.fetch_add(1);
        }
        pushes_done.store(i + 1, std::memory_order_seq_cst);
      }
      q.close();
    } else {
      std::uint64_t expect = 0, v = 0;
      for (;;) {
        queue_status r = queue_status::empty;
        switch (rng() % 4) {
          case 0: {
            const std::uint64_t c = pushes_done.load(std::memory_order_seq_cst);
            while ((r = q.try_pop(v)) == queue_status::empty) {
              if (c > expect) spurious.fetch_add(1);
              std::this_thread::yield();
            }
            break;
          }
          case 1:
            while ((r = q.try_pop_for(v, 50us)) == queue_status::timeout) {
            }
            break;
          default:
            r = q.pop(v);
        }
        if (r == queue_status::closed) break;
        if (r != queue_status::success || v != expect) errors.fetch_add(1);
        ++expect;
        pops_done.store(expect, std::memory_order_seq_cst);
      }
      if (expect != n) errors.fetch_add(1);
    }
  });
  CHECK(errors.load() == 0);
  CHECK(spurious.load() == 0);
}

TEST_CASE("spsc: order, exactly-once and no spurious full/empty under mixed calls") {
  stress::seed();
  const std::size_t n = stress::scaled(100000);
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{1024}}) {
    order_and_exactly_once<atomkit::park>(cap, n);
  }
  order_and_exactly_once<atomkit::busy>(5, n / 4);
}

TEST_CASE("spsc: close wakes a blocked consumer and a blocked producer") {
  for (int rep = 0; rep < 5; ++rep) {
    atomkit::spsc_queue<move_only> q(1);
    std::atomic<int> started{0};
    // A producer blocked on a full ring.
    REQUIRE(q.push(move_only(1)) == queue_status::success);
    std::thread producer([&] {
      move_only v(2);
      started.fetch_add(1);
      CHECK((rep % 2 ? q.try_push_for(std::move(v), 60s) : q.push(std::move(v))) == queue_status::closed);
      CHECK((v.p && *v.p == 2));
    });
    while (started.load() != 1) std::this_thread::yield();
    q.close();
    producer.join();
    move_only out(0);
    CHECK(q.pop(out) == queue_status::success);
    CHECK(q.pop(out) == queue_status::closed);

    // A consumer blocked on an empty ring.
    atomkit::spsc_queue<int> e(3);
    std::atomic<bool> in{false};
    std::thread c2([&] {
      int v = 0;
      in.store(true);
      CHECK((rep % 2 ? e.try_pop_for(v, 60s) : e.pop(v)) == queue_status::closed);
    });
    while (!in.load()) std::this_thread::yield();
    e.close();
    c2.join();
  }
}

// A third thread closes while the producer pushes flat out: every push that reported success is
// popped, exactly once and in order, before the consumer sees closed.
TEST_CASE("spsc: close from a third thread racing with pushes loses nothing") {
  stress::seed();
  const int reps = stress::sanitized ? 20 : 150;
  for (int rep = 0; rep < reps; ++rep) {
    CAPTURE(rep);
    atomkit::spsc_queue<counted> q(1 + static_cast<std::size_t>(rep % 8));
    std::atomic<std::uint64_t> pushed{0};
    std::atomic<long> errors{0};
    std::uint64_t popped = 0;
    auto rng0 = stress::rng(static_cast<std::uint64_t>(rep));
    const std::uint64_t close_at = rng0() % 2000;
    stress::run_threads(3, [&](int id) {
      if (id == 0) {
        for (std::uint64_t i = 0;; ++i) {
          counted v(i);
          const queue_status r = i % 3 == 0 ? q.try_push(std::move(v)) : q.push(std::move(v));
          if (r == queue_status::closed) {
            if (v.v != i) errors.fetch_add(1);
            break;
          }
          if (r == queue_status::success) {
            pushed.fetch_add(1);
          } else {
            --i;  // full: the same value again
          }
        }
      } else if (id == 1) {
        counted v(0);
        for (;;) {
          const queue_status r = popped % 2 ? q.try_pop(v) : q.pop(v);
          if (r == queue_status::closed) break;
          if (r == queue_status::empty || r == queue_status::busy) {  // busy: a push racing close
            std::this_thread::yield();
            continue;
          }
          if (r != queue_status::success || v.v != popped) errors.fetch_add(1);
          ++popped;
        }
      } else {
        while (pushed.load() < close_at) std::this_thread::yield();
        q.close();
      }
    });
    CHECK(errors.load() == 0);
    CHECK(popped == pushed.load());
  }
  CHECK(counted::live.load() == 0);
}

TEST_CASE("spsc: a blocked consumer sleeps") {
  if (stress::sanitized) return;
  atomkit::spsc_queue<int> q(8);
  std::atomic<bool> started{false};
  const double cpu0 = stress::process_cpu_seconds();
  std::thread t([&] {
    started.store(true);
    int v = 0;
    CHECK(q.pop(v) == queue_status::success);
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(300ms);  // the measured interval, not synchronization
  const double used = stress::process_cpu_seconds() - cpu0;
  CHECK(q.push(1) == queue_status::success);
  t.join();
  MESSAGE("CPU seconds used by a blocked consumer over 0.3 s: " << used);
  CHECK(used < 0.1);
}

// A push whose element's move waits at a gate (a preempted producer). Before a close, try_pop
// answers empty at once (the push has not taken effect). After a close it used to wait for that
// push to land (it might still); now try_pop answers busy and timed pops return by their deadline.
TEST_CASE("spsc: try and timed pops do not wait for a push caught in flight by close") {
  constexpr auto prompt = 200ms;
  gate g;
  g.armed.store(true);
  atomkit::spsc_queue<gated> q(2);
  std::thread producer([&] { CHECK(q.push(gated(1, &g)) == queue_status::success); });
  REQUIRE(g.wait_inside(1));
  gated out(0);
  queue_status r = queue_status::success;
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);
  CHECK(r == queue_status::empty);
  CHECK(timed_call([&] { r = q.try_pop_for(out, 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  q.close();
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);
  CHECK(r == queue_status::busy);
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);  // again: still in flight
  CHECK(r == queue_status::busy);
  CHECK(timed_call([&] { r = q.try_pop_for(out, 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  CHECK(timed_call([&] { r = q.try_pop_until(out, std::chrono::steady_clock::now() + 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  CHECK(out.v == 0);
  g.opened.store(true);
  producer.join();
  CHECK(q.try_pop(out) == queue_status::success);  // the push landed: delivered once
  CHECK(out.v == 1);
  CHECK(q.try_pop(out) == queue_status::closed);
  CHECK(q.pop(out) == queue_status::closed);
}

// A pop whose move out waits at a gate: try_push on the full ring answers full at once (the pop
// has not taken effect) and timed pushes return by their deadline, keeping the value.
TEST_CASE("spsc: try and timed pushes do not wait for a pop in flight") {
  constexpr auto prompt = 200ms;
  gate g;
  atomkit::spsc_queue<gated> q(1);
  REQUIRE(q.push(gated(1, &g)) == queue_status::success);
  g.armed.store(true);
  std::thread consumer([&] {
    gated v(0);
    CHECK(q.pop(v) == queue_status::success);
    CHECK(v.v == 1);
  });
  REQUIRE(g.wait_inside(1));
  gated two(2);
  queue_status r = queue_status::success;
  CHECK(timed_call([&] { r = q.try_push(std::move(two)); }) < prompt);
  CHECK(r == queue_status::full);
  CHECK(timed_call([&] { r = q.try_push_for(std::move(two), 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  CHECK(two.v == 2);
  g.opened.store(true);
  consumer.join();
  CHECK(q.try_push(std::move(two)) == queue_status::success);
  gated out(0);
  CHECK(q.try_pop(out) == queue_status::success);
  CHECK(out.v == 2);
  CHECK(q.try_pop(out) == queue_status::empty);
}
