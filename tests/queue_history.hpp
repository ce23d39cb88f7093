// Histories of concurrent queue runs, and a checker against the contract of atomkit's queues: a
// bounded, linearizable FIFO with close. Recording is lock-free (per-thread logs, a logical clock);
// checking runs after the threads are joined and takes O(n log n) for n events.
//
// Time. Every operation is bracketed by two ticks of one atomic counter: `call` just before the
// invocation, `ret` just after the response. If a.ret < b.call, a's second tick precedes b's
// first in the counter's modification order; both are RMWs, so b's tick reads from a release
// sequence headed by a's, and a happens-before b. Operations whose brackets overlap are treated
// as concurrent, which only removes constraints: every violation reported is real (the checks are
// sound; they are not a complete linearizability decision procedure).
//
// Under TSan the ticks are relaxed, so that this extra synchronization cannot hide a missing
// release/acquire pair inside the queue from TSan. The order argument then rests on the hardware
// (a locked RMW is a full barrier on x86): confirm a TSan-only report in a plain build.
#pragma once

#include <atomkit/detail/config.hpp>
#include <atomkit/detail/queue_common.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace history {

enum class op : std::uint8_t { push, pop, close };
enum class form : std::uint8_t { blocking, try_once, timed };
enum class result : std::uint8_t { success, empty, full, closed, timeout, busy };

// Maps a queue_status by name; any status beyond these five (queue_status::busy, where it
// exists) is `busy`: a failed attempt that claims nothing about the queue's state.
inline result to_result(atomkit::queue_status s) noexcept {
  switch (s) {
    case atomkit::queue_status::success: return result::success;
    case atomkit::queue_status::empty: return result::empty;
    case atomkit::queue_status::full: return result::full;
    case atomkit::queue_status::closed: return result::closed;
    case atomkit::queue_status::timeout: return result::timeout;
    default: return result::busy;
  }
}

// Items are unique: (producer, sequence number), sequence numbers increasing per producer.
inline constexpr unsigned seq_bits = 40;
constexpr std::uint64_t make_item(std::uint32_t producer, std::uint64_t seq) {
  return (std::uint64_t{producer} << seq_bits) | seq;
}
constexpr std::uint32_t producer_of(std::uint64_t item) {
  return static_cast<std::uint32_t>(item >> seq_bits);
}
constexpr std::uint64_t seq_of(std::uint64_t item) { return item & ((std::uint64_t{1} << seq_bits) - 1); }

struct event {
  std::uint64_t call = 0;  // tick before the invocation
  std::uint64_t ret = 0;   // tick after the response
  std::uint64_t item = 0;  // push: the item offered; pop: the item received (success only)
  op kind = op::push;
  form how = form::blocking;
  result res = result::success;
};

using thread_history = std::vector<event>;  // one thread's events, in program order

// The logical clock.
class clock {
 public:
  std::uint64_t tick() noexcept { return now_.fetch_add(1, order); }

 private:
  static constexpr std::memory_order order =
      ATOMKIT_TSAN ? std::memory_order_relaxed : std::memory_order_acq_rel;  // file comment
  std::atomic<std::uint64_t> now_{1};
};

// One thread's log: allocated up front, never grows, never locks. Recording past its capacity
// sets overflowed() instead.
class log {
 public:
  explicit log(std::size_t capacity) : cap_(capacity) { events_.reserve(capacity); }
  [[nodiscard]] bool has_room() const noexcept { return events_.size() < cap_; }
  [[nodiscard]] bool overflowed() const noexcept { return overflowed_; }
  [[nodiscard]] std::size_t size() const noexcept { return events_.size(); }
  thread_history& events() noexcept { return events_; }

  // Runs f() (which returns a queue_status) between two ticks and records it.
  template <class F>
  result record(clock& clk, op kind, form how, std::uint64_t item, F&& f) {
    event e;
    e.kind = kind;
    e.how = how;
    e.item = item;
    e.call = clk.tick();
    e.res = to_result(std::forward<F>(f)());
    e.ret = clk.tick();
    add(e);
    return e.res;
  }
  // A pop: the item is known only after the call.
  template <class F>
  result record_pop(clock& clk, form how, F&& f) {
    event e;
    e.kind = op::pop;
    e.how = how;
    e.call = clk.tick();
    e.res = to_result(std::forward<F>(f)(e.item));
    e.ret = clk.tick();
    if (e.res != result::success) e.item = 0;
    add(e);
    return e.res;
  }
  template <class F>
  void record_close(clock& clk, F&& f) {
    event e;
    e.kind = op::close;
    e.call = clk.tick();
    std::forward<F>(f)();
    e.ret = clk.tick();
    add(e);
  }

 private:
  void add(const event& e) {
    if (events_.size() == cap_) {
      overflowed_ = true;
      return;
    }
    events_.push_back(e);
  }
  thread_history events_;
  std::size_t cap_;
  bool overflowed_ = false;
};

// ---- checking --------------------------------------------------------------------------------

enum class fault : std::uint8_t {
  bad_status,          // a status this form may not return, or a malformed event (call >= ret)
  duplicate_push,      // one item pushed successfully twice (a harness error)
  phantom_pop,         // an item popped that no successful push put in
  duplicate_pop,       // an item popped more than once
  lost_item,           // an item pushed successfully and never popped
  pop_before_push,     // pop(a) responded before push(a) was invoked
  producer_order,      // one consumer received a producer's items out of sequence order
  fifo_order,          // push(a) precedes push(b) in real time, pop(b) precedes pop(a)
  spurious_empty,      // empty/timeout from a pop while the queue was provably non-empty
  spurious_full,       // full/timeout from a push while the queue provably had room
  push_after_close,    // a push invoked after a close() returned succeeded
  spurious_closed,     // closed from an operation that responded before any close() began
  closed_undrained,    // a pop returned closed while an item was provably still inside
  status_after_close,  // an operation invoked after a close() returned got empty/full/timeout
  count_
};
inline constexpr std::size_t fault_count = static_cast<std::size_t>(fault::count_);

inline const char* name(fault f) {
  static constexpr std::array<const char*, fault_count> names = {
      "bad_status",     "duplicate_push", "phantom_pop",      "duplicate_pop",      "lost_item",
      "pop_before_push", "producer_order", "fifo_order",      "spurious_empty",     "spurious_full",
      "push_after_close", "spurious_closed", "closed_undrained", "status_after_close"};
  return names.at(static_cast<std::size_t>(f));
}

inline const char* name(op o, form f) {
  static constexpr std::array<const char*, 9> names = {"push",     "try_push", "try_push_for",
                                                       "pop",      "try_pop",  "try_pop_for",
                                                       "close",    "close",    "close"};
  return names.at(static_cast<std::size_t>(o) * 3 + static_cast<std::size_t>(f));
}

inline const char* name(result r) {
  static constexpr std::array<const char*, 6> names = {"success", "empty",   "full",
                                                       "closed",  "timeout", "busy"};
  return names.at(static_cast<std::size_t>(r));
}

class report {
 public:
  static constexpr std::size_t max_messages = 20;

  void add(fault f, std::string message) {
    ++counts_.at(static_cast<std::size_t>(f));
    if (messages_.size() < max_messages) messages_.push_back(std::string(name(f)) + ": " + std::move(message));
  }
  [[nodiscard]] std::size_t count(fault f) const { return counts_.at(static_cast<std::size_t>(f)); }
  [[nodiscard]] std::size_t total() const {
    std::size_t n = 0;
    for (const std::size_t c : counts_) n += c;
    return n;
  }
  [[nodiscard]] bool ok() const { return total() == 0; }
  // Every fault's count, then the first messages.
  [[nodiscard]] std::string summary() const {
    std::string s;
    for (std::size_t i = 0; i < fault_count; ++i) {
      if (counts_.at(i) == 0) continue;
      s += std::string(name(static_cast<fault>(i))) + " x" + std::to_string(counts_.at(i)) + "\n";
    }
    for (const std::string& m : messages_) s += "  " + m + "\n";
    return s;
  }

 private:
  std::array<std::size_t, fault_count> counts_{};
  std::vector<std::string> messages_;
};

namespace detail {

inline constexpr std::uint64_t never = ~std::uint64_t{0};  // the pop time of an item never popped

struct where {
  std::uint32_t thread = 0;
  std::uint32_t index = 0;
};

// A successfully pushed item and its (first) pop.
struct life {
  std::uint64_t item = 0;
  std::uint64_t push_call = 0;
  std::uint64_t push_ret = 0;
  std::uint64_t pop_call = never;
  std::uint64_t pop_ret = never;
  where pushed;
  where popped;
};

class checker {
 public:
  checker(const std::vector<thread_history>& threads, std::size_t capacity)
      : threads_(threads), cap_(capacity) {}

  report run() {
    check_status();
    match_items();
    check_producer_order();
    index_lives();
    check_fifo();
    check_empty();
    check_full();
    check_close();
    return std::move(rep_);
  }

 private:
  [[nodiscard]] const event& at(where w) const { return threads_[w.thread][w.index]; }

  [[nodiscard]] std::string describe(where w) const {
    const event& e = at(w);
    std::array<char, 200> buf{};
    std::snprintf(buf.data(), buf.size(), "T%u#%u %s->%s [%llu,%llu] item %u/%llu", w.thread,
                  w.index, name(e.kind, e.how), name(e.res), static_cast<unsigned long long>(e.call),
                  static_cast<unsigned long long>(e.ret), producer_of(e.item),
                  static_cast<unsigned long long>(seq_of(e.item)));
    return buf.data();
  }

  template <class F>
  void each(F&& f) const {
    for (std::size_t t = 0; t < threads_.size(); ++t) {
      for (std::size_t i = 0; i < threads_[t].size(); ++i) {
        f(where{static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(i)}, threads_[t][i]);
      }
    }
  }

  static bool allowed(const event& e) {
    switch (e.how) {
      case form::blocking: return e.res == result::success || e.res == result::closed;
      case form::try_once:
        if (e.res == result::timeout) return false;
        return e.kind == op::push ? e.res != result::empty : e.res != result::full;
      case form::timed:
        return e.res == result::success || e.res == result::closed || e.res == result::timeout;
    }
    return false;
  }

  void check_status() {
    each([&](where w, const event& e) {
      const bool ok = e.call < e.ret && (e.kind == op::close ? e.res == result::success : allowed(e));
      if (!ok) rep_.add(fault::bad_status, describe(w));
    });
  }

  // Check 1, exactly-once: pairs successful pushes with successful pops by item.
  void match_items() {
    std::vector<std::pair<std::uint64_t, where>> pushes;
    std::vector<std::pair<std::uint64_t, where>> pops;
    each([&](where w, const event& e) {
      if (e.res != result::success) return;
      if (e.kind == op::push) pushes.emplace_back(e.item, w);
      if (e.kind == op::pop) pops.emplace_back(e.item, w);
    });
    const auto by_item = [](const auto& a, const auto& b) { return a.first < b.first; };
    std::stable_sort(pushes.begin(), pushes.end(), by_item);
    std::stable_sort(pops.begin(), pops.end(), by_item);
    std::size_t j = 0;
    for (std::size_t i = 0; i < pushes.size(); ++i) {
      const std::uint64_t item = pushes[i].first;
      if (i > 0 && pushes[i - 1].first == item) {
        rep_.add(fault::duplicate_push, describe(pushes[i].second));
        continue;
      }
      for (; j < pops.size() && pops[j].first < item; ++j) rep_.add(fault::phantom_pop, describe(pops[j].second));
      life l;
      l.item = item;
      l.pushed = pushes[i].second;
      l.push_call = at(l.pushed).call;
      l.push_ret = at(l.pushed).ret;
      if (j < pops.size() && pops[j].first == item) {
        l.popped = pops[j].second;
        l.pop_call = at(l.popped).call;
        l.pop_ret = at(l.popped).ret;
        if (l.pop_ret < l.push_call) {
          rep_.add(fault::pop_before_push, describe(l.popped) + " before " + describe(l.pushed));
        }
        for (++j; j < pops.size() && pops[j].first == item; ++j) {
          rep_.add(fault::duplicate_pop, describe(pops[j].second) + " after " + describe(l.popped));
        }
      } else {
        rep_.add(fault::lost_item, describe(l.pushed));
      }
      lives_.push_back(l);
    }
    for (; j < pops.size(); ++j) rep_.add(fault::phantom_pop, describe(pops[j].second));
    for (const auto& p : pushes) push_calls_.push_back(at(p.second).call);
    for (const auto& p : pops) pop_rets_.push_back(at(p.second).ret);
    std::sort(push_calls_.begin(), push_calls_.end());
    std::sort(pop_rets_.begin(), pop_rets_.end());
    each([&](where, const event& e) {
      all_calls_.push_back(e.call);
      all_rets_.push_back(e.ret);
    });
    std::sort(all_calls_.begin(), all_calls_.end());
    std::sort(all_rets_.begin(), all_rets_.end());
  }

  // Check 2a: each consumer receives one producer's items in increasing sequence order (a
  // producer pushes its sequence numbers in order, each push completing before the next).
  void check_producer_order() {
    for (std::size_t t = 0; t < threads_.size(); ++t) {
      std::unordered_map<std::uint32_t, std::pair<std::uint64_t, where>> last;
      for (std::size_t i = 0; i < threads_[t].size(); ++i) {
        const event& e = threads_[t][i];
        if (e.kind != op::pop || e.res != result::success) continue;
        const where w{static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(i)};
        const auto [it, fresh] = last.try_emplace(producer_of(e.item), seq_of(e.item), w);
        if (fresh) continue;
        if (seq_of(e.item) <= it->second.first) {
          rep_.add(fault::producer_order, describe(w) + " after " + describe(it->second.second));
        }
        it->second = {seq_of(e.item), w};
      }
    }
  }

  // Sorts the lives by push response and builds prefix maxima of their pop invocations: over
  // popped items (for FIFO) and over all, an item never popped counting as popped at infinity
  // (for empty claims). best_*[k] is the index of the maximum among the first k + 1 lives.
  void index_lives() {
    std::sort(lives_.begin(), lives_.end(),
              [](const life& a, const life& b) { return a.push_ret < b.push_ret; });
    best_popped_.resize(lives_.size());
    best_any_.resize(lives_.size());
    std::size_t bp = no_life;
    std::size_t ba = no_life;
    for (std::size_t k = 0; k < lives_.size(); ++k) {
      if (lives_[k].pop_call != never && (bp == no_life || lives_[k].pop_call > lives_[bp].pop_call)) bp = k;
      if (ba == no_life || lives_[k].pop_call > lives_[ba].pop_call) ba = k;
      best_popped_[k] = bp;
      best_any_[k] = ba;
    }
    if (!lives_.empty()) latest_pop_ = best_any_.back();
  }

  // How many lives have push_ret < t (lives_ sorted by push_ret).
  [[nodiscard]] std::size_t pushed_before(std::uint64_t t) const {
    return static_cast<std::size_t>(
        std::partition_point(lives_.begin(), lives_.end(), [t](const life& l) { return l.push_ret < t; }) -
        lives_.begin());
  }

  // Check 2b, real-time FIFO. If push(a) responded before push(b) was invoked, a precedes b in
  // every linearization, so FIFO makes pop(a) precede pop(b); a violation is pop(b) responding
  // before pop(a) is invoked. For each popped b, the a's with push(a).ret < push(b).call form a
  // prefix of lives_; the one whose pop was invoked last is the only candidate worth testing.
  void check_fifo() {
    for (const life& b : lives_) {
      if (b.pop_call == never) continue;
      const std::size_t k = pushed_before(b.push_call);
      if (k == 0 || best_popped_[k - 1] == no_life) continue;
      const life& a = lives_[best_popped_[k - 1]];
      if (a.pop_call > b.pop_ret) {
        rep_.add(fault::fifo_order, "pushed " + describe(a.pushed) + " before " + describe(b.pushed) +
                                        ", popped " + describe(b.popped) + " before " + describe(a.popped));
      }
    }
  }

  // A timed form may time out while the slot it needs is held by another thread's operation still
  // in flight (the contract: timeout by the deadline, whatever other threads do), so its timeout
  // claims empty/full only when no other operation overlapped it. Overlapping operations: those
  // invoked before e.ret, less those that responded before e.call, less e itself (ticks unique).
  [[nodiscard]] bool overlapped(const event& e) const {
    const auto started = std::lower_bound(all_calls_.begin(), all_calls_.end(), e.ret) - all_calls_.begin();
    const auto ended = std::lower_bound(all_rets_.begin(), all_rets_.end(), e.call) - all_rets_.begin();
    return started - ended > 1;
  }

  // Check 3, empty claims (try_pop -> empty, timed pop -> timeout when alone). A witness that the queue was
  // non-empty during the whole claim e: an item a with push(a).ret < e.call (inside before e
  // began) and pop(a).call > e.ret or never popped (still inside after e ended). Any
  // linearization point of e then finds a inside. (Counting pushes completed before e.call
  // against pops invoked before e.ret proves no more: if no witness exists, every such push's
  // item has its pop among those pops.)
  void check_empty() {
    each([&](where w, const event& e) {
      if (e.kind != op::pop || (e.res != result::empty && e.res != result::timeout)) return;
      if (e.res == result::timeout && overlapped(e)) return;
      const std::size_t k = pushed_before(e.call);
      if (k == 0) return;
      const life& a = lives_[best_any_[k - 1]];
      if (a.pop_call > e.ret) {
        rep_.add(fault::spurious_empty, describe(w) + ": " + describe(a.pushed) + " inside until " +
                                            (a.pop_call == never ? std::string("the end") : describe(a.popped)));
      }
    });
  }

  // Check 3, full claims (try_push -> full, timed push -> timeout when alone). At any instant t of f's
  // interval, the items inside are the successful pushes linearized before t minus the
  // successful pops linearized before t. A push linearized before t <= f.ret was invoked before
  // f.ret: at most S = #{successful push: call < f.ret}. A pop that responded before f.call is
  // linearized before every such t: at least P = #{successful pop: ret < f.call}. So the queue
  // held at most S - P items throughout f; if S - P < capacity, it was never full and f is wrong.
  void check_full() {
    each([&](where w, const event& e) {
      if (e.kind != op::push || (e.res != result::full && e.res != result::timeout)) return;
      if (e.res == result::timeout && overlapped(e)) return;
      const auto s = static_cast<std::size_t>(
          std::lower_bound(push_calls_.begin(), push_calls_.end(), e.ret) - push_calls_.begin());
      const auto p = static_cast<std::size_t>(
          std::lower_bound(pop_rets_.begin(), pop_rets_.end(), e.call) - pop_rets_.begin());
      if (s < p + cap_) {  // S - P < capacity, without unsigned underflow
        rep_.add(fault::spurious_full, describe(w) + ": at most " + std::to_string(s) + " - " +
                                           std::to_string(p) + " items inside, capacity " + std::to_string(cap_));
      }
    });
  }

  // Check 4, close. close() is linearized inside its interval, and a push succeeds only if
  // linearized before the close; a pop returns closed only if linearized after a close with
  // nothing inside.
  void check_close() {
    std::uint64_t first_call = never;  // earliest invocation of close()
    std::uint64_t first_ret = never;   // earliest response of close()
    each([&](where, const event& e) {
      if (e.kind != op::close) return;
      first_call = std::min(first_call, e.call);
      first_ret = std::min(first_ret, e.ret);
    });
    each([&](where w, const event& e) {
      if (e.kind == op::close) return;
      // No close can be linearized before e's response: e cannot have seen the queue closed.
      if (e.res == result::closed && e.ret < first_call) rep_.add(fault::spurious_closed, describe(w));
      if (e.call <= first_ret || first_ret == never) return;
      // Invoked after a close() returned: pushes fail with closed; pops take what is left or
      // report closed, never empty or timeout (nor full/timeout for pushes).
      if (e.kind == op::push && e.res == result::success) rep_.add(fault::push_after_close, describe(w));
      const bool timed_out_alone = e.res == result::timeout && !overlapped(e);
      if (e.res == result::empty || e.res == result::full || timed_out_alone) {
        rep_.add(fault::status_after_close, describe(w));
      }
    });
    // A pop x that returned closed is linearized after the close, with nothing inside. Every
    // successful push was linearized before the close, hence before x, so an item a whose pop was
    // invoked after x responded (or never) was inside at x: whatever push(a)'s timing.
    if (lives_.empty()) return;
    const life& a = lives_[latest_pop_];
    each([&](where w, const event& e) {
      if (e.kind != op::pop || e.res != result::closed || a.pop_call <= e.ret) return;
      rep_.add(fault::closed_undrained, describe(w) + ": " + describe(a.pushed) + " popped " +
                                            (a.pop_call == never ? std::string("never") : describe(a.popped)));
    });
  }

  static constexpr std::size_t no_life = ~std::size_t{0};
  const std::vector<thread_history>& threads_;
  std::size_t cap_;
  report rep_;
  std::vector<life> lives_;
  std::vector<std::size_t> best_popped_;
  std::vector<std::size_t> best_any_;
  std::size_t latest_pop_ = 0;
  std::vector<std::uint64_t> all_calls_;   // every operation's invocation, sorted
  std::vector<std::uint64_t> all_rets_;    // every operation's response, sorted
  std::vector<std::uint64_t> push_calls_;  // successful pushes' invocations, sorted
  std::vector<std::uint64_t> pop_rets_;    // successful pops' responses, sorted
};

}  // namespace detail

// Checks one complete history (every operation has responded; the queue was drained at the end)
// of a queue of the given capacity. Stamps must be distinct, with call < ret per event.
inline report check(const std::vector<thread_history>& threads, std::size_t capacity) {
  return detail::checker(threads, capacity).run();
}

}  // namespace history
