// mpmc_queue: FIFO and capacity edges, exactly-once delivery and per-producer order under 1-16
// threads, no spurious full/empty, timed forms, close-and-drain with blocked producers and
// consumers, element lifetime (counting, move-only, non-default-constructible), size() bounds,
// and that blocked consumers sleep.
#include <atomkit/mpmc_queue.hpp>

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

namespace {

using queue_test::counted;
using queue_test::gate;
using queue_test::gated;
using queue_test::move_only;
using queue_test::timed_call;

constexpr std::uint64_t encode(int producer, std::uint64_t seq) {
  return (static_cast<std::uint64_t>(producer) << 40) | seq;
}

}  // namespace

TEST_CASE("invariant_divider matches hardware division") {
  auto rng = stress::rng(1);
  std::vector<std::uint64_t> divisors = {1, 2, 3, 5, 7, 10, 63, 64, 65, 1000, 1023, 1024, 1025,
                                         65535, 65536, 65537, 1000003, (1ull << 32) - 1,
                                         (1ull << 32) + 1, (1ull << 40)};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + rng() % (1ull << (rng() % 41)));
  for (std::uint64_t d : divisors) {
    const atomkit::detail::invariant_divider div(d);
    std::vector<std::uint64_t> ns = {0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, ~0ull, ~0ull - 1,
                                     ~0ull / d * d, ~0ull / d * d - 1, 1ull << 63};
    for (int j = 0; j < 2000; ++j) ns.push_back(rng() >> (rng() % 64));
    for (std::uint64_t n : ns) {
      if (div.quotient(n) != n / d) {
        CAPTURE(d);
        CAPTURE(n);
        FAIL("wrong quotient");
      }
    }
  }
}

TEST_CASE("capacity 0 throws; capacity is exact for 1, odd and large capacities") {
  CHECK_THROWS_AS(atomkit::mpmc_queue<int>(0), std::invalid_argument);
  for (std::size_t cap : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{1000},
                          std::size_t{1024}, std::size_t{65537}}) {
    CAPTURE(cap);
    atomkit::mpmc_queue<std::uint64_t> q(cap);
    CHECK(q.capacity() == cap);
    CHECK(q.empty());
    std::uint64_t out = 0;
    CHECK(q.try_pop(out) == queue_status::empty);
    for (int round = 0; round < 3; ++round) {  // several laps
      for (std::uint64_t i = 0; i < cap; ++i) REQUIRE(q.try_push(i + std::uint64_t{7} * round) == queue_status::success);
      CHECK(q.size() == cap);
      CHECK(q.try_push(std::uint64_t{99}) == queue_status::full);
      CHECK(q.try_push_for(std::uint64_t{99}, 1ms) == queue_status::timeout);
      for (std::uint64_t i = 0; i < cap; ++i) {
        REQUIRE(q.try_pop(out) == queue_status::success);
        REQUIRE(out == i + std::uint64_t{7} * round);  // FIFO
      }
      CHECK(q.try_pop(out) == queue_status::empty);
      CHECK(q.size() == 0);
    }
    // Interleaved, crossing the wrap at every offset.
    for (std::uint64_t i = 0; i < 3 * cap + 5; ++i) {
      REQUIRE(q.push(i) == queue_status::success);
      REQUIRE(q.pop(out) == queue_status::success);
      REQUIRE(out == i);
    }
  }
}

// Capacities whose ring size overflows size_t must be refused before anything is allocated (the
// constructor used to compute physical * sizeof(slot) unchecked: a tiny block, then 4 GiB of
// writes past it). Only types are huge here; nothing large is ever allocated.
TEST_CASE("capacities whose ring size overflows throw instead of corrupting memory") {
  using q = atomkit::mpmc_queue<std::uint64_t>;
  CHECK_THROWS_AS(q(~std::size_t{0}), std::invalid_argument);  // near SIZE_MAX, and its round-up
  CHECK_THROWS_AS(q(~std::size_t{0} - 1), std::invalid_argument);
  CHECK_THROWS_AS(q(~std::size_t{0} - 60), std::invalid_argument);  // (once rounded up: wrapped)
  CHECK_THROWS_AS(q((std::size_t{1} << 63) + 1), std::invalid_argument);
  // A slot of exactly 4 GiB (the element plus its 12 bytes of turn, sleepers and abandoned words):
  // 2^32 slots of 2^32 bytes is 2^64, which wrapped to 0.
  using big4g = std::array<char, (std::size_t{1} << 32) - 12>;
  CHECK_THROWS_AS(atomkit::mpmc_queue<big4g>(std::size_t{1} << 32), std::invalid_argument);
  CHECK_THROWS_AS(atomkit::mpmc_queue<big4g>((std::size_t{1} << 32) + 3), std::invalid_argument);
  // Past PTRDIFF_MAX without wrapping: no array can be that large.
  CHECK_THROWS_AS(atomkit::mpmc_queue<big4g>((std::size_t{1} << 31) + 1), std::invalid_argument);
  // 16 MiB slots at the largest capacity the queue accepts (2^40): 2^64 again.
  using big16m = std::array<char, (std::size_t{1} << 24) - 12>;
  CHECK_THROWS_AS(atomkit::mpmc_queue<big16m>(std::size_t{1} << 40), std::invalid_argument);
}

TEST_CASE("elements: counted construction balances, move-only and non-default-constructible T") {
  {
    atomkit::mpmc_queue<counted> q(5);
    for (int i = 0; i < 4; ++i) CHECK(q.push(counted(static_cast<std::uint64_t>(i))) == queue_status::success);
    const counted c(42);
    CHECK(q.push(c) == queue_status::success);  // const T& form copies
    CHECK(q.try_push(c) == queue_status::full);
    counted out(0);
    CHECK(q.pop(out) == queue_status::success);
    CHECK(out.v == 0);
    CHECK(counted::live.load() == 4 + 1 + 1);  // 4 inside, c, out
  }
  CHECK(counted::live.load() == 0);  // the queue destroyed what was left inside

  atomkit::mpmc_queue<move_only> q(2);
  move_only a(1), b(2), c(3);
  CHECK(q.push(std::move(a)) == queue_status::success);
  CHECK(q.try_push(std::move(b)) == queue_status::success);
  CHECK(q.try_push(std::move(c)) == queue_status::full);
  REQUIRE(c.p != nullptr);  // a failed push leaves the value with the caller
  CHECK(q.try_push_for(std::move(c), 1ms) == queue_status::timeout);
  REQUIRE(c.p != nullptr);
  move_only out(0);
  CHECK(q.pop(out) == queue_status::success);
  CHECK(*out.p == 1);
  q.close();
  CHECK(q.push(std::move(c)) == queue_status::closed);
  REQUIRE(c.p != nullptr);
  CHECK(q.try_push(std::move(c)) == queue_status::closed);
  CHECK(q.try_push_for(std::move(c), 1ms) == queue_status::closed);
  REQUIRE(c.p != nullptr);
  CHECK(q.try_pop(out) == queue_status::success);
  CHECK(*out.p == 2);
  CHECK(q.try_pop(out) == queue_status::closed);
  CHECK(q.pop(out) == queue_status::closed);
  CHECK(q.try_pop_for(out, 1ms) == queue_status::closed);
}

// P producers and C consumers; every value is unique; each consumer checks that values from one
// producer arrive in order; afterwards every value was received exactly once.
template <class Wait>
void exactly_once(int producers, int consumers, std::size_t cap, std::size_t per_producer) {
  CAPTURE(producers);
  CAPTURE(consumers);
  CAPTURE(cap);
  atomkit::mpmc_queue<std::uint64_t, Wait> q(cap);
  const std::size_t total = per_producer * static_cast<std::size_t>(producers);
  std::vector<std::atomic<std::uint8_t>> seen(total);
  std::atomic<std::size_t> received{0};
  std::atomic<int> order_errors{0}, dup_errors{0};
  std::atomic<int> producers_left{producers};
  stress::time_box box(std::chrono::seconds(40));
  stress::run_threads(producers + consumers, [&](int id) {
    auto rng = stress::rng(static_cast<std::uint64_t>(id));
    if (id < producers) {
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        std::uint64_t v = encode(id, i);
        switch (rng() % 4) {
          case 0:
            while (q.try_push(v) != queue_status::success) std::this_thread::yield();
            break;
          case 1:
            while (q.try_push_for(v, 100us) != queue_status::success) {
            }
            break;
          default:
            REQUIRE(q.push(v) == queue_status::success);
        }
      }
      if (producers_left.fetch_sub(1) == 1) q.close();  // the last producer closes: a sentinel
    } else {
      std::vector<std::int64_t> last(static_cast<std::size_t>(producers), -1);
      std::uint64_t v = 0;
      for (;;) {
        queue_status r = queue_status::empty;
        switch (rng() % 4) {
          case 0:
            while ((r = q.try_pop(v)) == queue_status::empty || r == queue_status::busy) {
              std::this_thread::yield();
            }
            break;
          case 1:
            while ((r = q.try_pop_for(v, 100us)) == queue_status::timeout) {
            }
            break;
          default:
            r = q.pop(v);
        }
        if (r == queue_status::closed) break;
        REQUIRE(r == queue_status::success);
        const auto p = static_cast<std::size_t>(v >> 40);
        const auto s = static_cast<std::int64_t>(v & ((1ull << 40) - 1));
        if (s <= last[p]) order_errors.fetch_add(1);
        last[p] = s;
        if (seen[p * per_producer + static_cast<std::size_t>(s)].fetch_add(1) != 0) dup_errors.fetch_add(1);
        received.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  CHECK(order_errors.load() == 0);
  CHECK(dup_errors.load() == 0);
  CHECK(received.load() == total);
  std::size_t missing = 0;
  for (auto& s : seen) missing += s.load() == 0;
  CHECK(missing == 0);
  CHECK(q.size() == 0);
}

TEST_CASE("exactly-once delivery and per-producer order, 1 to 8 producers and consumers") {
  stress::seed();
  const std::size_t n = stress::scaled(24000);
  for (std::size_t cap : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
    exactly_once<atomkit::park>(1, 1, cap, n);
    exactly_once<atomkit::park>(2, 2, cap, n / 2);
    exactly_once<atomkit::park>(4, 4, cap, n / 4);
    exactly_once<atomkit::park>(1, 4, cap, n);
    exactly_once<atomkit::park>(4, 1, cap, n / 4);
    exactly_once<atomkit::park>(8, 8, cap, n / 8);
  }
  exactly_once<atomkit::busy>(4, 4, 7, n / 8);
}

TEST_CASE("no spurious empty: a push completed before try_pop began is seen") {
  stress::seed();
  atomkit::mpmc_queue<std::uint64_t> q(64);
  const int producers = 6;
  const std::size_t per = stress::scaled(30000);
  std::atomic<std::uint64_t> completed{0};
  std::atomic<long> spurious{0};
  std::uint64_t popped = 0;
  long busy_answers = 0;
  stress::time_box box(std::chrono::seconds(30));
  stress::run_threads(producers + 1, [&](int id) {
    if (id < producers) {
      for (std::size_t i = 0; i < per && !box.expired(); ++i) {
        // The box bounds this loop too: once it expires the consumer stops, and the queue may
        // stay full for good.
        while (q.try_push(encode(id, i)) != queue_status::success) {
          if (box.expired()) return;
          std::this_thread::yield();
        }
        completed.fetch_add(1, std::memory_order_seq_cst);
      }
    } else {
      std::uint64_t v = 0;
      for (;;) {
        const std::uint64_t c = completed.load(std::memory_order_seq_cst);  // before try_pop
        const queue_status r = q.try_pop(v);
        if (r == queue_status::success) {
          ++popped;
        } else if (r == queue_status::busy) {
          ++busy_answers;  // a push holds the next ticket and has not finished: not a claim of empty
        } else if (r != queue_status::empty || c > popped) {
          spurious.fetch_add(1);
        }
        if (popped == producers * per || box.expired()) break;
      }
    }
  });
  MESSAGE("try_pop answered busy " << busy_answers << " times");
  CHECK(spurious.load() == 0);
}

TEST_CASE("no spurious full: a pop completed before try_push began is seen") {
  stress::seed();
  const std::size_t cap = 8;
  atomkit::mpmc_queue<std::uint64_t> q(cap);
  const int consumers = 6;
  const std::size_t total = stress::scaled(100000);
  std::atomic<std::uint64_t> pops{0};
  std::atomic<long> spurious{0};
  long busy_answers = 0;
  stress::time_box box(std::chrono::seconds(30));
  stress::run_threads(consumers + 1, [&](int id) {
    if (id == consumers) {
      std::uint64_t pushed = 0;
      while (pushed < total && !box.expired()) {
        const std::uint64_t p = pops.load(std::memory_order_seq_cst);  // before try_push
        const queue_status r = q.try_push(pushed);
        if (r == queue_status::success) {
          ++pushed;
        } else if (r == queue_status::busy) {
          ++busy_answers;  // a pop holds the slot and has not finished: not a claim of full
        } else if (r != queue_status::full || pushed - p < cap) {
          spurious.fetch_add(1);  // at most pushed - p elements were inside: there was room
        }
      }
      q.close();
    } else {
      std::uint64_t v = 0;
      while (q.pop(v) == queue_status::success) pops.fetch_add(1, std::memory_order_seq_cst);
    }
  });
  MESSAGE("try_push answered busy " << busy_answers << " times");
  CHECK(spurious.load() == 0);
}

TEST_CASE("timed forms honour deadlines and return as soon as they can") {
  atomkit::mpmc_queue<int> q(1);
  int out = 0;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(q.try_pop_for(out, 30ms) == queue_status::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  CHECK(q.try_pop_until(out, std::chrono::system_clock::now() + 10ms) == queue_status::timeout);
  CHECK(q.try_pop_until(out, std::chrono::steady_clock::now() - 1s) == queue_status::timeout);
  CHECK(q.try_push(1) == queue_status::success);
  t0 = std::chrono::steady_clock::now();
  CHECK(q.try_push_for(2, 30ms) == queue_status::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
  CHECK(q.try_push_until(2, std::chrono::steady_clock::now() + 5ms) == queue_status::timeout);
  const int two = 2;
  CHECK(q.try_push_for(two, 1ms) == queue_status::timeout);

  // A timed push that waits is served by a pop from another thread, and vice versa.
  std::thread popper([&] {
    int v = 0;
    REQUIRE(q.try_pop_for(v, 30s) == queue_status::success);
    CHECK(v == 1);
    REQUIRE(q.try_pop_until(v, std::chrono::steady_clock::now() + 30s) == queue_status::success);
    CHECK(v == 3);
  });
  CHECK(q.try_push_for(3, 30s) == queue_status::success);
  popper.join();
  CHECK(q.empty());
}

TEST_CASE("close wakes blocked consumers; they report closed") {
  for (int rep = 0; rep < 3; ++rep) {
    atomkit::mpmc_queue<int> q(4);
    std::atomic<int> closed{0}, started{0};
    std::vector<std::thread> ts;
    ts.reserve(12);
    for (int i = 0; i < 12; ++i) {
      ts.emplace_back([&, i] {
        int v = 0;
        started.fetch_add(1);
        const queue_status r = i % 3 == 0 ? q.try_pop_for(v, 60s) : q.pop(v);
        if (r == queue_status::closed) closed.fetch_add(1);
      });
    }
    while (started.load() != 12) std::this_thread::yield();
    q.close();
    for (auto& t : ts) t.join();
    CHECK(closed.load() == 12);
    CHECK(q.is_closed());
  }
}

TEST_CASE("close wakes blocked producers; they report closed and keep their values") {
  for (int rep = 0; rep < 3; ++rep) {
    atomkit::mpmc_queue<move_only> q(2);
    REQUIRE(q.push(move_only(100)) == queue_status::success);
    REQUIRE(q.push(move_only(101)) == queue_status::success);
    std::atomic<int> closed{0}, intact{0}, started{0};
    std::vector<std::thread> ts;
    ts.reserve(12);
    for (int i = 0; i < 12; ++i) {
      ts.emplace_back([&, i] {
        move_only v(static_cast<std::uint64_t>(i));
        started.fetch_add(1);
        const queue_status r = i % 3 == 0 ? q.try_push_for(std::move(v), 60s) : q.push(std::move(v));
        if (r == queue_status::closed) closed.fetch_add(1);
        if (v.p && *v.p == static_cast<std::uint64_t>(i)) intact.fetch_add(1);
      });
    }
    while (started.load() != 12) std::this_thread::yield();
    q.close();
    for (auto& t : ts) t.join();
    CHECK(closed.load() == 12);
    CHECK(intact.load() == 12);
    move_only out(0);
    REQUIRE(q.pop(out) == queue_status::success);  // drain what is there...
    CHECK(*out.p == 100);
    REQUIRE(q.pop(out) == queue_status::success);
    CHECK(*out.p == 101);
    CHECK(q.pop(out) == queue_status::closed);  // ...then closed
    CHECK(q.try_pop(out) == queue_status::closed);
  }
}

// Close at a random moment while 8 producers and 8 consumers are busy on a small ring (so both
// sides are often blocked holding tickets): every successful push is popped exactly once, every
// failed push kept its value, and nobody hangs.
TEST_CASE("close-and-drain under 16 threads with blocked producers and consumers") {
  stress::seed();
  const int reps = stress::sanitized ? 6 : 40;
  for (int rep = 0; rep < reps; ++rep) {
    CAPTURE(rep);
    const std::size_t cap = 1 + static_cast<std::size_t>(rep % 4);
    atomkit::mpmc_queue<counted> q(cap);
    const int producers = 8, consumers = 8;
    const std::uint64_t per = 1u << 20;  // more than any run reaches: close() ends the run
    std::vector<std::atomic<std::uint8_t>> seen(static_cast<std::size_t>(producers) * 4096);
    std::atomic<long> pushed{0}, popped{0}, bad{0};
    auto rng0 = stress::rng(1000 + static_cast<std::uint64_t>(rep));
    const long close_after = static_cast<long>(rng0() % 3000);
    stress::run_threads(producers + consumers + 1, [&](int id) {
      auto rng = stress::rng(static_cast<std::uint64_t>(id) * 7919 + static_cast<std::uint64_t>(rep));
      if (id < producers) {
        for (std::uint64_t i = 0; i < per; ++i) {
          counted v(encode(id, i % 4096));
          const std::uint64_t kind = rng() % 4;
          const queue_status r = kind == 0   ? q.try_push(std::move(v))
                                 : kind == 1 ? q.try_push_for(std::move(v), 200us)
                                             : q.push(std::move(v));
          if (r == queue_status::success) {
            pushed.fetch_add(1);
          } else if (r == queue_status::closed) {
            if (v.v != encode(id, i % 4096)) bad.fetch_add(1);  // the value stayed with us
            break;
          } else if (r != queue_status::full && r != queue_status::timeout && r != queue_status::busy) {
            bad.fetch_add(1);
          }
          if (i == 4095) break;
        }
      } else if (id < producers + consumers) {
        counted v(0);
        for (;;) {
          const std::uint64_t kind = rng() % 4;
          const queue_status r = kind == 0   ? q.try_pop(v)
                                 : kind == 1 ? q.try_pop_for(v, 200us)
                                             : q.pop(v);
          if (r == queue_status::closed) break;
          if (r != queue_status::success) continue;
          popped.fetch_add(1);
          const auto p = static_cast<std::size_t>(v.v >> 40);
          const auto s = static_cast<std::size_t>(v.v & 4095);
          if (seen[p * 4096 + s].fetch_add(1) != 0) bad.fetch_add(1);
        }
      } else {
        // The closer: waits for some progress (not for time), then closes.
        while (popped.load() < close_after && pushed.load() < static_cast<long>(producers) * 4096) {
          std::this_thread::yield();
        }
        q.close();
      }
    });
    CHECK(bad.load() == 0);
    CHECK(pushed.load() == popped.load());
    CHECK(q.size() == 0);
  }
  CHECK(counted::live.load() == 0);
}

TEST_CASE("size() stays within [0, capacity] under load") {
  stress::seed();
  const std::size_t cap = 16;
  atomkit::mpmc_queue<int> q(cap);
  std::atomic<bool> stop{false};
  std::atomic<long> out_of_bounds{0};
  const std::size_t per = stress::scaled(50000);
  std::atomic<int> producers_left{3};
  stress::run_threads(7, [&](int id) {
    if (id < 3) {
      for (std::size_t i = 0; i < per; ++i) (void)q.push(static_cast<int>(i));
      if (producers_left.fetch_sub(1) == 1) q.close();
    } else if (id < 6) {
      int v = 0;
      while (q.pop(v) == queue_status::success) {
      }
      stop.store(true);
    } else {
      while (!stop.load()) {
        const std::size_t s = q.size();
        if (s > cap) out_of_bounds.fetch_add(1);
        std::this_thread::yield();
      }
    }
  });
  CHECK(out_of_bounds.load() == 0);
}

TEST_CASE("blocked consumers sleep") {
  if (stress::sanitized) return;  // sanitizer runtimes add their own CPU time
  atomkit::mpmc_queue<int> q(8);
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  const double cpu0 = stress::process_cpu_seconds();
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      started.fetch_add(1);
      int v = 0;
      CHECK(q.pop(v) == queue_status::success);
    });
  }
  while (started.load() != 4) std::this_thread::yield();
  std::this_thread::sleep_for(500ms);  // the measured interval, not synchronization
  const double used = stress::process_cpu_seconds() - cpu0;
  for (int i = 0; i < 4; ++i) CHECK(q.push(i) == queue_status::success);
  for (auto& t : threads) t.join();
  MESSAGE("CPU seconds used by 4 blocked consumers over 0.5 s: " << used);
  CHECK(used < 0.25);
}

// A push stuck on its slot (its element's move waits at a gate, as a preempted producer would):
// try_pop must not wait for it (busy: the element it needs is neither there nor absent), timed
// pops must return by their deadline, other slots stay usable, and nothing is lost once it ends.
TEST_CASE("try and timed pops do not wait for a push in flight on their slot") {
  constexpr auto prompt = 200ms;
  gate g;
  g.armed.store(true);
  atomkit::mpmc_queue<gated> q(4);
  std::thread producer([&] { CHECK(q.push(gated(1, &g)) == queue_status::success); });
  REQUIRE(g.wait_inside(1));  // the producer holds ticket 0 and is inside the element's move
  gated out(0);
  queue_status r = queue_status::success;
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);
  CHECK(r == queue_status::busy);
  CHECK(timed_call([&] { r = q.try_pop_for(out, 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  CHECK(timed_call([&] { r = q.try_pop_until(out, std::chrono::steady_clock::now() + 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  CHECK(out.v == 0);
  // The next slot is free: a push completes; pops still wait for the first element (FIFO).
  gated two(2);
  CHECK(q.try_push(std::move(two)) == queue_status::success);
  CHECK(two.v == gated::moved_from);
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);
  CHECK(r == queue_status::busy);
  // Closed while the push is in flight: its element will still arrive, so neither closed nor empty.
  q.close();
  CHECK(timed_call([&] { r = q.try_pop(out); }) < prompt);
  CHECK(r == queue_status::busy);
  CHECK(timed_call([&] { r = q.try_pop_for(out, 1ms); }) < prompt);
  CHECK(r == queue_status::timeout);
  g.opened.store(true);
  producer.join();
  CHECK(q.try_pop(out) == queue_status::success);  // exactly once each, in order
  CHECK(out.v == 1);
  CHECK(q.pop(out) == queue_status::success);
  CHECK(out.v == 2);
  CHECK(q.try_pop(out) == queue_status::closed);
  CHECK(q.pop(out) == queue_status::closed);
}

// A pop stuck on the slot a push needs (the consumer's move out waits at a gate): try_push must
// not wait for it (busy: the queue is not full, since that pop has begun, but the slot is not
// free either), timed pushes return by their deadline, and a failed push keeps its value.
TEST_CASE("try and timed pushes do not wait for a pop in flight on their slot") {
  constexpr auto prompt = 200ms;
  for (const std::size_t cap : {std::size_t{1}, std::size_t{2}}) {
    CAPTURE(cap);
    gate g;
    atomkit::mpmc_queue<gated> q(cap);
    for (std::uint64_t i = 0; i < cap; ++i) REQUIRE(q.push(gated(i + 1, &g)) == queue_status::success);
    g.armed.store(true);
    std::thread consumer([&] {
      gated v(0);
      CHECK(q.pop(v) == queue_status::success);
      CHECK(v.v == 1);
    });
    REQUIRE(g.wait_inside(1));  // the consumer holds ticket 0 and is inside the element's move
    gated next(cap + 1);
    queue_status r = queue_status::success;
    CHECK(timed_call([&] { r = q.try_push(std::move(next)); }) < prompt);
    CHECK(r == queue_status::busy);
    CHECK(next.v == cap + 1);  // not moved from
    CHECK(timed_call([&] { r = q.try_push_for(std::move(next), 1ms); }) < prompt);
    CHECK(r == queue_status::timeout);
    CHECK(timed_call([&] {
            r = q.try_push_until(std::move(next), std::chrono::steady_clock::now() + 1ms);
          }) < prompt);
    CHECK(r == queue_status::timeout);
    CHECK(next.v == cap + 1);
    g.opened.store(true);
    consumer.join();
    CHECK(q.try_push(std::move(next)) == queue_status::success);
    CHECK(next.v == gated::moved_from);
    gated out(0);
    for (std::uint64_t i = 2; i <= cap + 1; ++i) {  // the rest, exactly once and in order
      CHECK(q.try_pop(out) == queue_status::success);
      CHECK(out.v == i);
    }
    CHECK(q.try_pop(out) == queue_status::empty);
  }
}
