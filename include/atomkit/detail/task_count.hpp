// atomkit: the unfinished-task count behind the queues' task_done()/join() (Python's
// Queue.task_done() and Queue.join()), kept so that a push pays nothing for it.
//
// The count is pushed - done. `pushed` is a counter the queue keeps anyway, read through a
// callable the queue passes in (mpmc_queue: its tail ticket; spsc_queue: its tail position);
// done_ counts task_done() calls, plus (mpmc_queue) the tickets that never became items: a push
// that took a ticket and then failed because of close() adds one to done_ before it returns
// (void_ticket). Both counters only grow. Invariants, under correct use (one task_done() per
// item, after that item's pop):
//   (I1) each increment of done_ stands for a distinct ticket whose increment of `pushed` happens
//        before it (the pop, or the failing push itself, is in between);
//   (I2) every RMW of done_ is acq_rel, so it happens after all earlier ones (each is a release
//        RMW, and every later RMW continues its release sequence), and an acquire load of done_
//        that reads D happens after the D increments.
//
// join. A joiner reads done_ (acquire) = D, then `pushed` = P, and returns when D >= P. By (I1)
// and (I2) the D tickets' pushes happen before the read of `pushed`, which therefore sees them
// all: P >= D. So D >= P means D == P, and the D increments are exactly the P tickets below P:
// every item pushed before that read (in particular every push that happened before join()
// began) has had its task_done(), and each of those happens before join() returns. (The other
// order would be wrong: a task_done() for an item pushed after the read of `pushed` could stand
// in for an earlier item still being processed.)
//
// Wake-up. After its increment, a call looks (through the engine's light barrier) for sleeping
// joiners, and only if there is one reads `pushed`, and wakes them (a system call) when `pushed`
// equals its new value. No joiner sleeps through the end: let X be the last increment before the
// count stays zero, writing v. By the engine's store/load handshake either X's load of the
// sleepers count misses the joiner's registration, and then the joiner's attempt after
// registering sees X's increment (D == v, P == v as above) and returns; or X sees it, and reads
// `pushed` after its acquire RMW, so by (I1) and (I2) it sees at least v tickets, and at most v
// (nothing more is pushed, or the count would not stay zero): X wakes the joiner. A transient
// zero that a new push ends before a woken joiner looks again is missed, as in Python.
//
// task_done() increments with a CAS loop that checks done < pushed first: a call while the count
// is zero throws and changes nothing. It skips the read of `pushed` (a line the producers write)
// while done is below known_, a value of `pushed` read earlier: `pushed` only grows, so known_ is
// a lower bound, and the call is legal. So a task_done() reads the producers' line only when it
// catches up with its last reading, or when a joiner sleeps.
//
// Wrap-around. Counts are unsigned and compared by their difference modulo 2^bits: a difference
// below 2^(bits-1) is the true one. mpmc_queue's tickets are 63-bit and never wrap; spsc_queue's
// positions are 32-bit, so it supports fewer than 2^31 unfinished tasks at any time.
//
// What misuse can hide. A push counts from the moment it takes its place (mpmc_queue: its ticket,
// before its element is in; a push that then fails uncounts itself before it returns), so a
// surplus task_done() that races with such a push may pass; done then stays ahead, and
// unfinished_tasks() reads 0 (never a wrapped huge number) until pushes catch up.
//
// Progress: task_done is lock-free (its CAS repeats only when another task_done won), and makes
// one futex_wake call when it brings the count to zero while a joiner sleeps; unfinished_tasks is
// wait-free; join blocks (join_for/join_until: until their deadline).
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace atomkit::detail {

template <class Wait, class Count>
class alignas(pad_size) task_count {
  static_assert(std::is_unsigned_v<Count> && sizeof(Count) >= sizeof(std::uint32_t));
  static_assert(sizeof(Count) <= sizeof(std::size_t), "unfinished() returns the count as size_t");

 public:
  // Differences at or above `half` are negative (wrap-around, file comment).
  static constexpr Count half = Count{1} << (std::numeric_limits<Count>::digits - 1);

  // task_done(): one item is finished. `pushed()` returns the queue's push counter.
  template <class Pushed>
  void done_one(Pushed pushed, const char* primitive) {
    // acquire: (I2): this call happens after every earlier increment, so `pushed` read below
    // sees their tickets (a fresh read never makes a legal call look like misuse).
    Count d = done_.load(std::memory_order_acquire);
    for (;;) {
      // relaxed: any value of known_ is a value `pushed` once had, hence a lower bound of it.
      const Count k = known_.load(std::memory_order_relaxed);
      if (!below(d, k)) {
        const Count p = pushed();
        // relaxed: a hint only (see above); storing on change keeps the line quiet.
        if (p != k) known_.store(p, std::memory_order_relaxed);
        if (!below(d, p)) {
          misuse(primitive, "task_done() called more times than items were pushed");
        }
      }
      // acq_rel: release, so that a joiner's acquire load that reads this value (or a later
      // one) happens after this call and what preceded it; acquire, (I2). On failure, acquire
      // as the first load, and try again with the value found.
      if (done_.compare_exchange_weak(d, static_cast<Count>(d + 1), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        wake_if_zero(pushed, static_cast<Count>(d + 1));
        return;
      }
    }
  }

  // A ticket that counted in `pushed` and will never be an item (its push failed): count it done.
  template <class Pushed>
  void void_ticket(Pushed pushed) noexcept {
    // acq_rel: as in done_one; this is an increment like any other (I1, I2).
    const Count d = done_.fetch_add(1, std::memory_order_acq_rel);
    wake_if_zero(pushed, static_cast<Count>(d + 1));
  }

  // Blocks until the count is zero or the deadline passes (false).
  template <class Pushed>
  bool wait(Pushed pushed, const deadline& dl) const noexcept {
    if (finished(pushed)) return true;
    return await<Wait>(
        generation_, sleepers_,
        [&] {
          // acquire: pairs with the release bump in wake_if_zero (wake_generation).
          const std::uint32_t g = generation_.load(std::memory_order_acquire);
          return finished(pushed) ? attempt::success() : attempt::retry(g);
        },
        dl, sharing_of<Wait>, handshake::asymmetric, short_spin_then_yield);
  }

  template <class Pushed>
  [[nodiscard]] std::size_t unfinished(Pushed pushed) const noexcept {
    // acquire: read done_ first, as join does (file comment), so that the difference is never
    // negative under correct use.
    const Count d = done_.load(std::memory_order_acquire);
    const auto n = static_cast<Count>(pushed() - d);
    return n < half ? static_cast<std::size_t>(n) : 0;  // negative: only after misuse
  }

 private:
  // a < b, for counts less than `half` apart.
  static bool below(Count a, Count b) noexcept { return static_cast<Count>(b - a - 1) < half; }

  template <class Pushed>
  bool finished(Pushed& pushed) const noexcept {
    // acquire: (I2): this joiner happens after the increments it counts, so the read of `pushed`
    // after it sees their tickets, and it returns after the task_done() calls it relies on.
    const Count d = done_.load(std::memory_order_acquire);
    return !below(d, pushed());
  }

  // After an increment of done_ to `now`: if a joiner sleeps and the count is zero, wake the
  // joiners. The engine's release side (store_load.hpp): the increment, the light barrier, then the
  // sleepers load; `pushed` is read only when someone sleeps, after the increment's acquire.
  template <class Pushed>
  void wake_if_zero(Pushed& pushed, Count now) noexcept {
    if constexpr (Wait::sleeps) {
      light_barrier(sharing_of<Wait> == sharing::process_shared);
      // relaxed: ordered after the increment by the light barrier (store_load.hpp).
      if (ATOMKIT_LIKELY(sleepers_.load(std::memory_order_relaxed) == 0)) return;
      if (pushed() != now) return;  // not zero: the increment that makes it zero wakes them
      wake_generation(generation_, sleepers_, wake_all_count, sharing_of<Wait>);
    }
  }

  // One line (the class is aligned to it): written by task_done() (and failing pushes), read by
  // joiners and unfinished_tasks(). No pointers: the queue may live in shared memory.
  atomic<Count> done_{0};   // task_done() calls + void tickets; only grows
  atomic<Count> known_{0};  // a value `pushed` once had (a lower bound of it); a hint
  atomic<std::uint32_t> generation_{0};          // joiners' futex word, bumped by wake_if_zero
  mutable atomic<std::uint32_t> sleepers_{0};    // joiners asleep on generation_
};

}  // namespace atomkit::detail
