// Linearizability-style history checks of mpmc_queue and spsc_queue. Each round runs a random mix
// of producers, consumers and threads that do both (blocking, try-with-retry and timed forms with
// short deadlines, early and late close) on one queue, records every operation, drains the queue,
// and checks the history (queue_history.hpp): exactly-once delivery, per-producer and real-time
// FIFO order, no spurious empty/full, and close semantics. The checker itself is shown to fail on
// hand-made bad histories.
//
// Environment: ATOMKIT_SEED (replay), ATOMKIT_HISTORY_ITEMS (items over all rounds),
// ATOMKIT_HISTORY_ROUND (run that round's configuration of the seed's schedule over and over,
// to reproduce a failure: the interleaving itself is not replayable), ATOMKIT_HISTORY_SECONDS
// (time box over all rounds; 0: none), ATOMKIT_HISTORY_STALL (seconds without progress that
// count as a hang).
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/spsc_queue.hpp>

#include <doctest/doctest.h>

#include "queue_history.hpp"
#include "stress.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using history::event;
using history::fault;
using history::form;
using history::op;
using history::result;

namespace {

// ---- configuration ---------------------------------------------------------------------------

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

struct options {
  std::uint64_t items = 0;        // over all rounds
  std::uint64_t round_items = 0;  // per round
  std::uint64_t only_round = 0;   // 0: all; r: round r - 1 only, repeatedly
  std::chrono::seconds time_box{0};
  std::chrono::seconds stall{0};

  static options from_env() {
    options o;
    o.items = env_u64("ATOMKIT_HISTORY_ITEMS", stress::sanitized ? 250'000 : 1'000'000);
    o.round_items = std::clamp<std::uint64_t>(o.items / 64, 256, 50'000);
    const char* r = std::getenv("ATOMKIT_HISTORY_ROUND");
    o.only_round = r != nullptr && *r != '\0' ? std::strtoull(r, nullptr, 10) + 1 : 0;
    o.time_box = std::chrono::seconds(env_u64("ATOMKIT_HISTORY_SECONDS", 40));
    o.stall = std::chrono::seconds(env_u64("ATOMKIT_HISTORY_STALL", 20));
    return o;
  }
};

enum class queue_kind : std::uint8_t { mpmc_park, mpmc_busy, spsc_park, spsc_busy };
constexpr std::array<const char*, 4> kind_names = {"mpmc_queue<park>", "mpmc_queue<busy>",
                                                   "spsc_queue<park>", "spsc_queue<busy>"};
constexpr std::array<std::size_t, 4> capacities = {1, 2, 7, 64};

enum class role : std::uint8_t { producer, consumer, both };

struct thread_plan {
  role r = role::consumer;
  std::uint64_t items = 0;                // items it pushes (producer, both)
  std::array<unsigned, 3> weights{};      // blocking, try, timed
  std::uint64_t close_after = 0;          // close() after this many successes (0: never)
};

struct round_plan {
  std::uint64_t index = 0;
  std::uint64_t total_items = 0;  // ATOMKIT_HISTORY_ITEMS of the run (the schedule depends on it)
  std::uint64_t seed = 0;
  queue_kind kind = queue_kind::mpmc_park;
  std::size_t capacity = 1;
  std::vector<thread_plan> threads;

  // E.g. "P500(611)": a producer of 500 items whose blocking:try:timed weights are 6:1:1.
  [[nodiscard]] std::string describe() const {
    std::string s = "round " + std::to_string(index) + " (replay: ATOMKIT_SEED=" +
                    std::to_string(stress::seed()) + " ATOMKIT_HISTORY_ITEMS=" + std::to_string(total_items) +
                    " ATOMKIT_HISTORY_ROUND=" + std::to_string(index) +
                    "): " + kind_names.at(static_cast<std::size_t>(kind)) + " capacity " +
                    std::to_string(capacity) + ", threads:";
    for (const thread_plan& t : threads) {
      s += t.r == role::producer ? " P" : t.r == role::consumer ? " C" : " B";
      if (t.r != role::consumer) s += std::to_string(t.items);
      // (appended piecewise: g++ 12 warns falsely on "(" + std::string, -Wrestrict)
      s += '(';
      for (const unsigned w : t.weights) s += std::to_string(w);
      s += ')';
      if (t.close_after != 0) s += "close@" + std::to_string(t.close_after);
    }
    return s;
  }
};

std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Round r of the schedule: queue kind and capacity cycle through all 16 pairs; the thread mix,
// styles and early close are drawn from (seed, r) alone.
round_plan make_plan(std::uint64_t seed, std::uint64_t r, std::uint64_t items) {
  round_plan p;
  p.index = r;
  p.seed = mix(seed ^ mix(r));
  std::mt19937_64 rng(p.seed);
  p.kind = static_cast<queue_kind>(r % 4);
  p.capacity = capacities.at((r / 4) % 4);
  const bool spsc = p.kind == queue_kind::spsc_park || p.kind == queue_kind::spsc_busy;
  const std::size_t n = spsc ? 1 + rng() % 2 : 1 + rng() % 16;
  p.threads.resize(n);
  if (n == 1) {
    p.threads[0].r = role::both;
  } else if (spsc) {
    p.threads[0].r = role::producer;
    p.threads[1].r = role::consumer;
  } else {
    bool can_push = false;
    bool can_pop = false;
    for (thread_plan& t : p.threads) {
      const std::uint64_t x = rng() % 8;
      t.r = x < 3 ? role::producer : x < 6 ? role::consumer : role::both;
      can_push = can_push || t.r != role::consumer;
      can_pop = can_pop || t.r != role::producer;
    }
    if (!can_push) p.threads.front().r = role::producer;
    if (!can_pop) p.threads.back().r = role::consumer;
  }
  constexpr std::array<std::array<unsigned, 3>, 4> styles = {{{6, 1, 1}, {1, 6, 1}, {1, 1, 6}, {1, 1, 1}}};
  std::uint64_t pushers = 0;
  for (const thread_plan& t : p.threads) pushers += t.r != role::consumer ? 1 : 0;
  std::uint64_t left = items;
  for (thread_plan& t : p.threads) {
    t.weights = styles.at(rng() % styles.size());
    if (t.r == role::consumer) continue;
    t.items = left / pushers;
    left -= t.items;
    --pushers;
  }
  if (rng() % 3 == 0) {  // an early close, by a random thread after a random number of successes
    thread_plan& t = p.threads.at(rng() % n);
    t.close_after = 1 + rng() % (2 * items / n + 1);
  }
  return p;
}

// ---- one round -------------------------------------------------------------------------------

struct alignas(atomkit::detail::pad_size) thread_status {
  std::atomic<std::uint64_t> successes{0};  // progress, for the stall detector
  std::atomic<std::uint32_t> doing{0};      // 0: between operations; else 1 + op * 3 + form
};

// How many operations of each (op, form) returned each result: shows what a run exercised.
constexpr std::size_t tally_slots = std::size_t{7} * 6;  // (push, pop) x 3 forms, and close; x 6 results
using tally = std::array<std::uint64_t, tally_slots>;

std::string describe(const tally& t) {
  std::string s;
  for (std::size_t k = 0; k < 6; ++k) {  // push and pop forms (close is counted under its own)
    s += std::string("\n  ") + history::name(static_cast<op>(k / 3), static_cast<form>(k % 3)) + ":";
    for (std::size_t r = 0; r < 6; ++r) {
      if (t.at(k * 6 + r) != 0) s += std::string(" ") + history::name(static_cast<result>(r)) + " " + std::to_string(t.at(k * 6 + r));
    }
  }
  return s + "\n  close: " + std::to_string(t.at(std::size_t{6} * 6));
}

struct round_outcome {
  bool stalled = false;
  bool overflowed = false;
  std::string stall_report;
  history::report rep;
  std::size_t events = 0;
  std::uint64_t pushed = 0;
  tally counts{};
  std::size_t size_after = 0;
  bool closed_after = false;
};

template <class Q>
class round_runner {
 public:
  round_runner(const round_plan& plan, const options& opt, std::chrono::steady_clock::time_point end)
      : q_(plan.capacity),
        producers_left_(static_cast<int>(std::count_if(plan.threads.begin(), plan.threads.end(),
                                                       [](const thread_plan& t) { return t.r != role::consumer; }))),
        plan_(plan), opt_(opt), end_(end), status_(std::make_unique<thread_status[]>(plan.threads.size())) {
    std::uint64_t total = 0;
    for (const thread_plan& t : plan.threads) total += t.items;
    // Each thread may fail (empty/full/timeout/busy) `slack` times before it falls back to
    // blocking forms; its log holds every success it can have, its failures, and two closes.
    slack_ = total + 256;
    logs_.reserve(plan.threads.size());
    for (const thread_plan& t : plan.threads) {
      const std::uint64_t successes = (t.r != role::consumer ? t.items : 0) + (t.r != role::producer ? total : 0);
      logs_.emplace_back(successes + slack_ + 4);
    }
  }

  round_outcome run() {
    const std::size_t n = plan_.threads.size();
    std::latch start(static_cast<std::ptrdiff_t>(n));
    std::vector<std::thread> threads;
    threads.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([this, &start, i] {
        start.arrive_and_wait();
        work(i);
        const std::lock_guard<std::mutex> lock(m_);
        ++finished_;
        cv_.notify_one();
      });
    }
    round_outcome out;
    watch(out);
    for (std::thread& t : threads) t.join();
    for (history::log& l : logs_) out.overflowed = out.overflowed || l.overflowed();
    out.size_after = q_.size();
    out.closed_after = q_.is_closed();
    if (out.stalled || out.overflowed) return out;
    std::vector<history::thread_history> h;
    h.reserve(n);
    for (history::log& l : logs_) {
      out.events += l.size();
      h.push_back(std::move(l.events()));
    }
    for (const auto& th : h) {
      for (const event& e : th) {
        out.pushed += e.kind == op::push && e.res == result::success ? 1 : 0;
        const std::size_t k = e.kind == op::close ? 6 : static_cast<std::size_t>(e.kind) * 3 + static_cast<std::size_t>(e.how);
        ++out.counts.at(k * 6 + static_cast<std::size_t>(e.res));
      }
    }
    out.rep = history::check(h, plan_.capacity);
    return out;
  }

 private:
  // The stall detector: progress is the sum of successes. Without progress for opt_.stall, it
  // reports what every thread is doing and closes the queue to release them; if they still do not
  // finish, it ends the process rather than hang.
  void watch(round_outcome& out) {
    std::unique_lock<std::mutex> lock(m_);
    std::uint64_t last = 0;
    auto last_change = std::chrono::steady_clock::now();
    const auto all_done = [&] { return finished_ == plan_.threads.size(); };
    while (!cv_.wait_for(lock, 100ms, all_done)) {
      std::uint64_t p = 0;
      for (std::size_t i = 0; i < plan_.threads.size(); ++i) p += status_[i].successes.load(std::memory_order_relaxed);
      const auto now = std::chrono::steady_clock::now();
      if (p != last) {
        last = p;
        last_change = now;
      } else if (now - last_change > opt_.stall) {
        out.stalled = true;
        out.stall_report = stall_report(p);
        break;
      }
    }
    if (!out.stalled) return;
    lock.unlock();
    q_.close();
    lock.lock();
    if (!cv_.wait_for(lock, std::chrono::seconds(10), all_done)) {
      std::fflush(stdout);
      std::fprintf(stderr, "%s\nstalled threads did not finish after close(); aborting\n", out.stall_report.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    }
  }

  std::string stall_report(std::uint64_t progress) {
    std::string s = "STALL: no progress for " + std::to_string(opt_.stall.count()) + " s at " +
                    std::to_string(progress) + " successes; " + plan_.describe() +
                    "; size()=" + std::to_string(q_.size()) + " closed=" + std::to_string(q_.is_closed()) + "\n";
    for (std::size_t i = 0; i < plan_.threads.size(); ++i) {
      const std::uint32_t d = status_[i].doing.load(std::memory_order_relaxed);
      s += "  thread " + std::to_string(i) + ": " +
           (d == 0 ? std::string("between operations") : std::string("in ") + history::name(static_cast<op>((d - 1) / 3), static_cast<form>((d - 1) % 3))) +
           ", " + std::to_string(status_[i].successes.load(std::memory_order_relaxed)) + " successes\n";
    }
    return s;
  }

  static form pick(std::mt19937_64& rng, const std::array<unsigned, 3>& w) {
    const std::uint64_t x = rng() % (w[0] + w[1] + w[2]);
    return x < w[0] ? form::blocking : x < w[0] + w[1] ? form::try_once : form::timed;
  }

  // Short deadlines: already passed, a few microseconds, or up to 200 us (both-threads: 20 us).
  static std::chrono::microseconds deadline(std::mt19937_64& rng, bool short_only) {
    const std::uint64_t x = rng() % 8;
    if (x == 0) return 0us;
    if (x < 6 || short_only) return std::chrono::microseconds(1 + rng() % 20);
    return std::chrono::microseconds(20 + rng() % 180);
  }

  result push(std::size_t i, form how, std::uint64_t item, std::mt19937_64& rng, bool short_only) {
    const bool as_rvalue = (rng() & 1) != 0;
    const auto d = deadline(rng, short_only);
    const bool until = (rng() & 1) != 0;
    const auto tp = std::chrono::steady_clock::now() + d;
    status_[i].doing.store(1 + 3 * static_cast<std::uint32_t>(op::push) + static_cast<std::uint32_t>(how),
                           std::memory_order_relaxed);
    const result r = logs_[i].record(clk_, op::push, how, item, [&] {
      switch (how) {  // std::uint64_t{item}: the T&& overloads
        case form::blocking: return as_rvalue ? q_.push(std::uint64_t{item}) : q_.push(item);
        case form::try_once: return as_rvalue ? q_.try_push(std::uint64_t{item}) : q_.try_push(item);
        case form::timed: return until ? q_.try_push_until(item, tp) : q_.try_push_for(std::uint64_t{item}, d);
      }
      return atomkit::queue_status::closed;
    });
    status_[i].doing.store(0, std::memory_order_relaxed);
    return r;
  }

  result pop(std::size_t i, form how, std::mt19937_64& rng, bool short_only) {
    const auto d = deadline(rng, short_only);
    const bool until = (rng() & 1) != 0;
    const auto tp = std::chrono::steady_clock::now() + d;
    status_[i].doing.store(1 + 3 * static_cast<std::uint32_t>(op::pop) + static_cast<std::uint32_t>(how),
                           std::memory_order_relaxed);
    const result r = logs_[i].record_pop(clk_, how, [&](std::uint64_t& out) {
      switch (how) {
        case form::blocking: return q_.pop(out);
        case form::try_once: return q_.try_pop(out);
        case form::timed: return until ? q_.try_pop_until(out, tp) : q_.try_pop_for(out, d);
      }
      return atomkit::queue_status::closed;
    });
    status_[i].doing.store(0, std::memory_order_relaxed);
    return r;
  }

  void close(std::size_t i) {
    status_[i].doing.store(1 + 3 * static_cast<std::uint32_t>(op::close), std::memory_order_relaxed);
    logs_[i].record_close(clk_, [&] { q_.close(); });
    status_[i].doing.store(0, std::memory_order_relaxed);
  }

  // One thread. A producer pushes its items in order; a consumer pops until closed; a
  // both-thread alternates (never with a blocking form, which could wait on itself) until its
  // items are pushed, then consumes. The last thread to finish pushing closes the queue. After
  // `slack_` failures a thread uses blocking forms only (a both-thread stops pushing), so every
  // loop is bounded; a producer also stops at the time box.
  void work(std::size_t i) {
    const thread_plan& me = plan_.threads[i];
    std::mt19937_64 rng(plan_.seed + 0x9E37 * (i + 1));
    history::log& lg = logs_[i];
    bool producing = me.r != role::consumer;
    bool consuming = me.r != role::producer;
    const bool both = me.r == role::both;
    std::uint64_t seq = 0;
    std::uint64_t failures = 0;
    std::uint64_t successes = 0;
    bool turn_push = true;
    const auto stop_producing = [&] {
      producing = false;
      if (producers_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) close(i);
    };
    if (producing && me.items == 0) stop_producing();
    while ((producing || consuming) && !lg.overflowed()) {
      const bool pushing = producing && (!consuming || turn_push);
      turn_push = !turn_push;
      result r = result::busy;
      if (pushing) {
        if ((seq & 63) == 0 && std::chrono::steady_clock::now() >= end_) {
          stop_producing();
          continue;
        }
        form how = pick(rng, me.weights);
        if (failures >= slack_) {
          if (both) {
            stop_producing();
            continue;
          }
          how = form::blocking;
        }
        if (both && how == form::blocking) how = form::timed;
        r = push(i, how, history::make_item(static_cast<std::uint32_t>(i), seq), rng, both);
        if (r == result::success && ++seq == me.items) stop_producing();
        if (r == result::closed) stop_producing();
      } else {
        form how = pick(rng, me.weights);
        if (failures >= slack_) how = form::blocking;
        if (both && producing && how == form::blocking) how = form::timed;
        r = pop(i, how, rng, both);
        if (r == result::closed) {
          consuming = false;
          if (producing) stop_producing();
        }
      }
      if (r == result::success) {
        status_[i].successes.store(++successes, std::memory_order_relaxed);
        if (successes == me.close_after) close(i);
      } else if (r != result::closed) {
        ++failures;
        std::this_thread::yield();  // let the partner that would satisfy us run (2 cores)
      }
    }
  }

  Q q_;
  alignas(atomkit::detail::pad_size) history::clock clk_;  // every operation ticks it twice
  alignas(atomkit::detail::pad_size) std::atomic<int> producers_left_;
  const round_plan& plan_;
  const options& opt_;
  std::chrono::steady_clock::time_point end_;
  std::vector<history::log> logs_;
  std::unique_ptr<thread_status[]> status_;
  std::uint64_t slack_ = 0;
  std::size_t finished_ = 0;
  std::mutex m_;
  std::condition_variable cv_;
};

round_outcome run_round(const round_plan& plan, const options& opt, std::chrono::steady_clock::time_point end) {
  switch (plan.kind) {
    case queue_kind::mpmc_park:
      return round_runner<atomkit::mpmc_queue<std::uint64_t, atomkit::park>>(plan, opt, end).run();
    case queue_kind::mpmc_busy:
      return round_runner<atomkit::mpmc_queue<std::uint64_t, atomkit::busy>>(plan, opt, end).run();
    case queue_kind::spsc_park:
      return round_runner<atomkit::spsc_queue<std::uint64_t, atomkit::park>>(plan, opt, end).run();
    case queue_kind::spsc_busy:
      return round_runner<atomkit::spsc_queue<std::uint64_t, atomkit::busy>>(plan, opt, end).run();
  }
  return {};
}

// ---- hand-made histories ---------------------------------------------------------------------

event ev(op kind, form how, result res, std::uint64_t item, std::uint64_t call, std::uint64_t ret) {
  event e;
  e.kind = kind;
  e.how = how;
  e.res = res;
  e.item = item;
  e.call = call;
  e.ret = ret;
  return e;
}
event push_ok(std::uint64_t item, std::uint64_t call, std::uint64_t ret) {
  return ev(op::push, form::blocking, result::success, item, call, ret);
}
event pop_ok(std::uint64_t item, std::uint64_t call, std::uint64_t ret) {
  return ev(op::pop, form::blocking, result::success, item, call, ret);
}
event close_op(std::uint64_t call, std::uint64_t ret) { return ev(op::close, form::blocking, result::success, 0, call, ret); }

constexpr std::uint64_t a = history::make_item(0, 0);
constexpr std::uint64_t b = history::make_item(1, 0);

// The report of a history, checked to contain `expected` (when given) and no other fault.
history::report expect_only(const std::vector<history::thread_history>& h, std::size_t cap, fault expected,
                            bool any_expected = true) {
  history::report rep = history::check(h, cap);
  INFO(rep.summary());
  if (any_expected) CHECK(rep.count(expected) >= 1);
  CHECK(rep.total() == (any_expected ? rep.count(expected) : 0));
  return rep;
}
void expect_ok(const std::vector<history::thread_history>& h, std::size_t cap) {
  expect_only(h, cap, fault::bad_status, false);
}

}  // namespace

TEST_CASE("history checker: valid histories pass, including overlaps that allow reordering") {
  // Sequential: push a, push b, pop a, pop b, then a legitimate empty and close.
  expect_ok({{push_ok(a, 1, 2), push_ok(b, 3, 4)},
             {pop_ok(a, 5, 6), pop_ok(b, 7, 8), ev(op::pop, form::try_once, result::empty, 0, 9, 10),
              close_op(11, 12), ev(op::pop, form::blocking, result::closed, 0, 13, 14)}},
            2);
  // Overlapping pushes may be popped in either order; a pop may overlap its push.
  expect_ok({{push_ok(a, 1, 10)}, {push_ok(b, 2, 3)}, {pop_ok(b, 4, 5), pop_ok(a, 6, 11)}}, 4);
  // An empty overlapping the push (or the pop) of the only item; a full that may see b inside.
  expect_ok({{push_ok(a, 2, 3)}, {ev(op::pop, form::try_once, result::empty, 0, 1, 4), pop_ok(a, 5, 6)}}, 1);
  expect_ok({{push_ok(a, 1, 2), ev(op::push, form::try_once, result::full, b, 5, 6), push_ok(b, 9, 10)},
             {pop_ok(a, 3, 7), pop_ok(b, 11, 12)}},
            1);
  // A push concurrent with close may succeed; a pop concurrent with close may report closed
  // once nothing is provably inside.
  expect_ok({{push_ok(a, 2, 5), pop_ok(a, 6, 7)}, {close_op(1, 4), ev(op::pop, form::timed, result::closed, 0, 8, 9)}},
            1);
}

TEST_CASE("history checker: each kind of bad history is reported") {
  SUBCASE("duplicate pop") {
    expect_only({{push_ok(a, 1, 2)}, {pop_ok(a, 3, 4)}, {pop_ok(a, 5, 6)}}, 2, fault::duplicate_pop);
  }
  SUBCASE("lost item") { expect_only({{push_ok(a, 1, 2), push_ok(b, 3, 4)}, {pop_ok(b, 5, 6)}}, 2, fault::lost_item); }
  SUBCASE("phantom pop: never pushed, or its push failed") {
    expect_only({{pop_ok(a, 1, 2)}}, 2, fault::phantom_pop);
    expect_only({{close_op(1, 2), ev(op::push, form::try_once, result::closed, a, 3, 4)}, {pop_ok(a, 5, 6)}}, 2,
                fault::phantom_pop);
  }
  SUBCASE("pop before push") { expect_only({{pop_ok(a, 1, 2)}, {push_ok(a, 3, 4)}}, 2, fault::pop_before_push); }
  SUBCASE("FIFO inversion across producers and consumers") {
    expect_only({{push_ok(a, 1, 2)}, {push_ok(b, 3, 4)}, {pop_ok(b, 5, 6)}, {pop_ok(a, 7, 8)}}, 2, fault::fifo_order);
  }
  SUBCASE("per-producer order seen by one consumer") {
    const std::uint64_t a1 = history::make_item(0, 1);
    const history::report rep = history::check({{push_ok(a, 1, 2), push_ok(a1, 3, 4)}, {pop_ok(a1, 5, 6), pop_ok(a, 7, 8)}}, 2);
    CHECK(rep.count(fault::producer_order) == 1);
    CHECK(rep.count(fault::fifo_order) == 1);  // the same inversion, in real time
  }
  SUBCASE("spurious empty: an item inside for the whole try_pop (or timed pop)") {
    expect_only({{push_ok(a, 1, 2)}, {ev(op::pop, form::try_once, result::empty, 0, 3, 4), pop_ok(a, 5, 6)}}, 1,
                fault::spurious_empty);
    expect_only({{push_ok(a, 1, 2), push_ok(b, 3, 4)},
                 {pop_ok(a, 5, 6), ev(op::pop, form::timed, result::timeout, 0, 7, 8), pop_ok(b, 9, 10)}},
                2, fault::spurious_empty);
  }
  SUBCASE("spurious full: fewer than capacity items could be inside") {
    expect_only({{push_ok(a, 1, 2), ev(op::push, form::try_once, result::full, b, 3, 4)}, {pop_ok(a, 5, 6)}}, 2,
                fault::spurious_full);
    // Capacity 1: a was popped before the claim began, b's push began after it ended.
    expect_only({{push_ok(a, 1, 2), ev(op::push, form::timed, result::timeout, b, 5, 6), push_ok(b, 7, 8)},
                 {pop_ok(a, 3, 4), pop_ok(b, 9, 10)}},
                1, fault::spurious_full);
  }
  SUBCASE("close: push after close, spurious closed, closed before drained, empty after close") {
    expect_only({{close_op(1, 2), push_ok(a, 3, 4)}, {pop_ok(a, 5, 6)}}, 2, fault::push_after_close);
    expect_only({{ev(op::pop, form::blocking, result::closed, 0, 1, 2)}, {close_op(3, 4)}}, 2, fault::spurious_closed);
    expect_only({{ev(op::push, form::try_once, result::closed, a, 1, 2)}}, 2, fault::spurious_closed);
    expect_only({{push_ok(a, 1, 2), close_op(3, 4)}, {ev(op::pop, form::blocking, result::closed, 0, 5, 6), pop_ok(a, 7, 8)}},
                2, fault::closed_undrained);
    expect_only({{close_op(1, 2), ev(op::pop, form::try_once, result::empty, 0, 3, 4)}}, 2, fault::status_after_close);
  }
  SUBCASE("a status the form cannot return") {
    expect_only({{ev(op::pop, form::blocking, result::timeout, 0, 1, 2)}}, 2, fault::bad_status);
    expect_only({{ev(op::pop, form::try_once, result::timeout, 0, 1, 2)}}, 2, fault::bad_status);
    expect_only({{ev(op::push, form::blocking, result::empty, a, 1, 2)}}, 2, fault::bad_status);
  }
}

TEST_CASE("queue histories: exactly-once, FIFO, no spurious empty/full, close (mpmc and spsc)") {
  const options opt = options::from_env();
  const std::uint64_t seed = stress::seed();
  const auto t0 = std::chrono::steady_clock::now();
  const auto end = opt.time_box.count() == 0 ? std::chrono::steady_clock::time_point::max() : t0 + opt.time_box;
  std::printf("queue history: %llu items in rounds of %llu%s\n", static_cast<unsigned long long>(opt.items),
              static_cast<unsigned long long>(opt.round_items), ATOMKIT_TSAN ? " (TSan: relaxed clock)" : "");
  std::uint64_t planned = 0;
  std::uint64_t pushed = 0;
  std::uint64_t events = 0;
  std::uint64_t rounds = 0;
  tally counts{};
  auto last_print = t0;
  for (std::uint64_t i = 0; planned < opt.items; ++i) {
    if (std::chrono::steady_clock::now() >= end) {
      MESSAGE("time box reached after " << rounds << " rounds, " << pushed << " items");
      break;
    }
    const std::uint64_t r = opt.only_round == 0 ? i : opt.only_round - 1;
    const std::uint64_t n = opt.only_round == 0 ? std::min(opt.round_items, opt.items - planned) : opt.round_items;
    round_plan plan = make_plan(seed, r, n);
    plan.total_items = opt.items;
    planned += n;
    const round_outcome out = run_round(plan, opt, end);
    ++rounds;
    pushed += out.pushed;
    events += out.events;
    for (std::size_t k = 0; k < counts.size(); ++k) counts.at(k) += out.counts.at(k);
    INFO(plan.describe());
    if (out.stalled) FAIL(out.stall_report);
    if (out.overflowed) FAIL("a thread's log overflowed: more successes than items (duplicates?)");
    if (!out.rep.ok()) FAIL("history violates the queue contract:\n" << out.rep.summary());
    CHECK(out.size_after == 0);
    CHECK(out.closed_after);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_print >= 10s) {
      last_print = now;
      std::printf("queue history: %llu rounds, %llu items pushed, %llu events, %.0f s\n",
                  static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(pushed),
                  static_cast<unsigned long long>(events), std::chrono::duration<double>(now - t0).count());
      std::fflush(stdout);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("queue history: " << rounds << " rounds, " << pushed << " items pushed, " << events << " events checked, "
                            << secs << " s (seed " << seed << ")" << describe(counts));
  CHECK(pushed > 0);
}
