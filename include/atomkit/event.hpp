// atomkit/event.hpp: Python's threading.Event.
//
// Usage: atomkit::event ready; /* server: */ ready.set(); /* client: */ ready.wait_for(5s);
// Reference: docs/coordination.md
//
// One 32-bit word, which is also the futex word: bit 0 is the flag, the upper 31 bits a
// generation that clear() advances when it clears a set flag. So the word never returns to a
// value it held while the flag was clear, unless the 31-bit generation wraps (2^31 set/clear pairs
// while one waiter is descheduled). A waiter records the word when it begins; it returns as soon
// as the word differs, which means a set() happened since: a waiter that began before a set()
// always returns true, even if clear() follows at once. Waiting: a short spin, a short run of
// yields, then the policy's wait (detail::short_spin_then_yield).
//
// Progress: set and is_set are wait-free (set makes one futex_wake call when threads sleep and the
// flag was clear, none otherwise); clear is lock-free (a compare-and-swap loop that repeats only
// when another thread changed the word); wait blocks; wait_for/wait_until block at most until the
// deadline and return false on time-out.
//
// Memory: a set() happens before the return of every wait that it released, and of is_set() that
// sees it (release/acquire on the word).
//
// Between processes: ipc::event (basic_event<process_shared>, ipc.hpp) in shared memory. A `park`
// or `busy` event placed in memory shared between processes is the caller's bug (docs/ipc.md).
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>

namespace atomkit {

template <class Wait = park>
class basic_event {
 public:
  constexpr basic_event() noexcept = default;
  basic_event(const basic_event&) = delete;
  basic_event& operator=(const basic_event&) = delete;

  void set() noexcept {
    // release: pairs with the acquire loads in wait/is_set: publishes the setter's writes.
    const std::uint32_t prev = word_.fetch_or(flag, std::memory_order_release);
    if ((prev & flag) == 0) detail::notify<Wait>(word_, sleepers_, detail::wake_all_count);
  }

  void clear() noexcept {
    // relaxed: only a guess for the CAS.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    // w + 1 clears bit 0 and carries into the generation. release: a waiter that sees only this
    // value (not the set before it) still synchronizes with the set, as this RMW continues the
    // set's release sequence; release here also publishes the clearer's own writes.
    while ((w & flag) != 0 &&
           !word_.compare_exchange_weak(w, w + 1, std::memory_order_release,
                                        std::memory_order_relaxed)) {
    }
  }

  [[nodiscard]] bool is_set() const noexcept {
    // acquire: pairs with the release fetch_or in set().
    return (word_.load(std::memory_order_acquire) & flag) != 0;
  }

  void wait() const noexcept { wait_impl(detail::deadline::never()); }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, wait, wait_impl, const noexcept)

 private:
  static constexpr std::uint32_t flag = 1;

  bool wait_impl(const detail::deadline& dl) const noexcept {
    // acquire: pairs with the release fetch_or in set().
    const std::uint32_t start = word_.load(std::memory_order_acquire);
    if ((start & flag) != 0) return true;
    return wait_slow(start, dl);
  }

  ATOMKIT_NOINLINE bool wait_slow(std::uint32_t start, const detail::deadline& dl) const noexcept {
    return detail::await<Wait>(
        word_, sleepers_,
        [this, start] {
          // acquire: pairs with the release fetch_or in set() (or the clear() after it, which
          // continues its release sequence). Any change from `start` means a set() happened.
          const std::uint32_t w = word_.load(std::memory_order_acquire);
          return w != start ? detail::attempt::success() : detail::attempt::retry(w);
        },
        dl,
        detail::sharing_of<Wait>, detail::handshake::asymmetric,
        detail::short_spin_then_yield);
  }

  detail::atomic<std::uint32_t> word_{0};              // flag (bit 0) + generation; futex word
  mutable detail::atomic<std::uint32_t> sleepers_{0};  // waiters asleep on word_ (park only)
};

using event = basic_event<park>;

}  // namespace atomkit
