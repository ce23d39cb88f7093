// atomkit/semaphore.hpp: counting_semaphore (a drop-in for std::counting_semaphore),
// binary_semaphore, and bounded_semaphore (Python's threading.BoundedSemaphore).
//
// Usage: atomkit::counting_semaphore<3> slots(3); { atomkit::semaphore_guard g(slots); work(); }
// Reference: docs/coordination.md
//
// The count is one atomic word; for Max <= INT32_MAX (the default) it is 32 bits and also the
// futex word waiters sleep on, for larger Max 64 bits beside a 32-bit generation word.
//   acquire   takes a unit with one compare-and-swap when the count is positive; otherwise it
//             waits (detail::short_spin_then_yield: a short spin, a short run of yields, then the
//             policy's wait), retrying the same compare-and-swap each time it wakes. Waiters
//             sleep while the count reads 0.
//   release   adds n with one compare-and-swap (checked against max() or the bound, so an
//             over-release throws and leaves the count unchanged), then wakes at most n sleepers,
//             with no system call when nobody sleeps.
// Wake-ups are never lost to time-outs (the shape of GCC bug 104928): a futex wake that reaches a
// timed waiter makes it return "woken" (the kernel reports a wake before a time-out), and the
// engine then retries the compare-and-swap, so that waiter takes the unit it was woken for; a
// waiter that really timed out was not counted by the wake, which went to another sleeper.
//
// Progress: try_acquire and release are lock-free (a compare-and-swap loop that only repeats when
// another thread changed the count; release may make one futex_wake call when threads sleep);
// available is wait-free; acquire blocks; try_acquire_for/until block at most until the deadline.
// Not FIFO: a spinning or newly arriving thread may take a unit before a sleeper that was woken.
//
// Bad input: an initial count outside [0, max()] (or [0, bound]) and a bound outside [0, max()]
// throw std::invalid_argument; release(n) with n < 0 throws std::invalid_argument; a release that
// would take the count past max() (or past the bound of a bounded_semaphore: Python's ValueError)
// is a caller bug and throws std::system_error(operation_not_permitted). Either way the count is
// left unchanged. Under -fno-exceptions these end the program with a message instead.
//
// Between processes: ipc::counting_semaphore<Max>, ipc::binary_semaphore, ipc::bounded_semaphore
// (the process_shared policy, ipc.hpp) in shared memory. A `park` or `busy` semaphore placed in
// memory shared between processes is the caller's bug (docs/ipc.md). Units held by a process that
// dies are lost (nothing records who holds them); timed acquires still return by their deadline.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace atomkit {

// The default Max of counting_semaphore, and the largest bound of a bounded_semaphore: counts up
// to it live in the 32-bit futex word itself. A counting_semaphore<Max> with a larger Max (any
// Max >= 0 works, as with std) keeps a 64-bit count.
inline constexpr std::ptrdiff_t semaphore_max = INT32_MAX;

namespace detail {

// The count and its sleepers, shared by counting_semaphore and bounded_semaphore. The limit
// (max() or the bound) is passed in by the owner. Count is std::uint32_t when the limit fits a
// futex word: the count is then also the word waiters sleep on, and the release path makes no
// other write. Counts past INT32_MAX (a counting_semaphore<PTRDIFF_MAX>, as std allows) are 64-bit;
// waiters then sleep on a separate generation word, which a release advances only when someone
// sleeps (detail::notify_generation).
template <class Wait, class Count>
class semaphore_core {
  static constexpr bool narrow = std::is_same_v<Count, std::uint32_t>;
  static_assert(narrow || std::is_same_v<Count, std::uint64_t>);

 public:
  constexpr explicit semaphore_core(Count initial) noexcept : count_(initial) {}
  semaphore_core(const semaphore_core&) = delete;
  semaphore_core& operator=(const semaphore_core&) = delete;

  bool try_acquire() noexcept {
    // relaxed: only a guess for the CAS, which re-reads the count if it was wrong.
    Count c = count_.load(std::memory_order_relaxed);
    while (c != 0) {
      // acquire: pairs with the release CAS in release(), so the releaser's writes before the
      // release are visible to the thread that takes the unit (RMWs in between extend the
      // release sequence).
      if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void acquire() noexcept {
    if (ATOMKIT_UNLIKELY(!try_acquire())) wait_until(deadline::never());
  }

  bool acquire_until(const deadline& dl) noexcept { return try_acquire() || wait_until(dl); }

  void release(std::ptrdiff_t n, Count limit, const char* who) {
    if (ATOMKIT_UNLIKELY(n < 0)) invalid_argument(who, "release(n) with n < 0");
    if (n == 0) return;
    // relaxed: only a guess for the CAS.
    Count c = count_.load(std::memory_order_relaxed);
    do {
      // c <= limit always holds, so limit - c does not wrap.
      if (ATOMKIT_UNLIKELY(static_cast<std::uint64_t>(n) > limit - c)) over_release(who);
      // release: pairs with the acquire CAS in try_acquire(): publishes what the releaser wrote.
    } while (!count_.compare_exchange_weak(c, c + static_cast<Count>(n), std::memory_order_release,
                                           std::memory_order_relaxed));
    // Wakes at most n sleepers; no system call when none sleeps.
    const int wake = n > INT32_MAX ? INT32_MAX : static_cast<int>(n);
    if constexpr (narrow) {
      notify<Wait>(count_, sleepers_, wake);
    } else {
      notify_generation<Wait>(generation_, sleepers_, wake);
    }
  }

  [[nodiscard]] std::ptrdiff_t available() const noexcept {
    return static_cast<std::ptrdiff_t>(count_.load(std::memory_order_relaxed));  // a snapshot
  }

 private:
  [[noreturn]] ATOMKIT_NOINLINE static void over_release(const char* who) {
    misuse(who, "release(n) would raise the count past its maximum (count left unchanged)");
  }

  ATOMKIT_NOINLINE bool wait_until(const deadline& dl) noexcept {
    if constexpr (narrow) {
      return await<Wait>(
          count_, sleepers_,
          [this] {
            // The CAS loop reads the word first; it returns only with a unit or having seen 0,
            // and the engine sleeps while the word still reads 0.
            return try_acquire() ? attempt::success() : attempt::retry(0);
          },
          dl, sharing_of<Wait>, handshake::asymmetric, short_spin_then_yield);
    } else {
      return await<Wait>(
          generation_, sleepers_,
          [this] {
            // acquire: read before the count; pairs with the release bump in notify_generation,
            // so a sleep on this value ends if a release came after this read.
            const std::uint32_t gen = generation_.load(std::memory_order_acquire);
            return try_acquire() ? attempt::success() : attempt::retry(gen);
          },
          dl, sharing_of<Wait>, handshake::asymmetric, short_spin_then_yield);
    }
  }

  struct no_generation {
    constexpr no_generation() noexcept = default;
  };
  using generation_word = std::conditional_t<narrow, no_generation, atomic<std::uint32_t>>;

  atomic<Count> count_;                // the count; the futex word waiters sleep on if narrow
  atomic<std::uint32_t> sleepers_{0};  // waiters asleep (park only)
  [[no_unique_address]] generation_word generation_{};  // wide only: the word waiters sleep on
};

template <class Count>
constexpr Count checked_count(std::ptrdiff_t initial, std::ptrdiff_t limit, const char* who,
                              const char* rule) {
  if (initial < 0 || initial > limit) invalid_argument(who, rule);
  return static_cast<Count>(initial);
}

// The count type of a semaphore whose count never exceeds Max.
template <std::ptrdiff_t Max>
using semaphore_count = std::conditional_t<(Max <= INT32_MAX), std::uint32_t, std::uint64_t>;

}  // namespace detail

template <std::ptrdiff_t Max = semaphore_max, class Wait = park>
class counting_semaphore {
  static_assert(Max >= 0, "atomkit::counting_semaphore: Max must be >= 0");
  using count_type = detail::semaphore_count<Max>;

 public:
  // Throws std::invalid_argument unless 0 <= initial <= max(). constexpr: a semaphore with
  // static storage can be constinit.
  constexpr explicit counting_semaphore(std::ptrdiff_t initial)
      : core_(detail::checked_count<count_type>(initial, Max, "counting_semaphore",
                                                "initial count outside [0, max()]")) {}
  counting_semaphore(const counting_semaphore&) = delete;
  counting_semaphore& operator=(const counting_semaphore&) = delete;

  static constexpr std::ptrdiff_t max() noexcept { return Max; }

  // Lock-free; wakes at most n sleepers. n < 0 throws std::invalid_argument; a count past max()
  // throws std::system_error(operation_not_permitted); both leave the count unchanged.
  void release(std::ptrdiff_t n = 1) {
    core_.release(n, static_cast<count_type>(Max), "counting_semaphore");
  }

  void acquire() noexcept { core_.acquire(); }            // blocking
  bool try_acquire() noexcept { return core_.try_acquire(); }  // lock-free; no spurious failure

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_acquire, core_.acquire_until, noexcept)

  [[nodiscard]] std::ptrdiff_t available() const noexcept { return core_.available(); }

 private:
  detail::semaphore_core<Wait, count_type> core_;
};

using binary_semaphore = counting_semaphore<1>;

// Python's threading.BoundedSemaphore: the bound is chosen at run time; a release that would take
// the count past it throws std::system_error(operation_not_permitted) and leaves the count as it
// was. Same progress guarantees as counting_semaphore.
template <class Wait = park>
class basic_bounded_semaphore {
 public:
  // Throws std::invalid_argument unless 0 <= bound <= semaphore_max and 0 <= initial <= bound.
  basic_bounded_semaphore(std::ptrdiff_t initial, std::ptrdiff_t bound)
      : bound_(detail::checked_count<std::uint32_t>(bound, semaphore_max, "bounded_semaphore",
                                                    "bound outside [0, semaphore_max]")),
        core_(detail::checked_count<std::uint32_t>(initial, bound, "bounded_semaphore",
                                                   "initial count outside [0, bound]")) {}
  basic_bounded_semaphore(const basic_bounded_semaphore&) = delete;
  basic_bounded_semaphore& operator=(const basic_bounded_semaphore&) = delete;

  static constexpr std::ptrdiff_t max() noexcept { return semaphore_max; }
  [[nodiscard]] std::ptrdiff_t bound() const noexcept { return bound_; }

  void release(std::ptrdiff_t n = 1) { core_.release(n, bound_, "bounded_semaphore"); }

  void acquire() noexcept { core_.acquire(); }
  bool try_acquire() noexcept { return core_.try_acquire(); }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_acquire, core_.acquire_until, noexcept)

  [[nodiscard]] std::ptrdiff_t available() const noexcept { return core_.available(); }

 private:
  std::uint32_t bound_;  // immutable after construction
  detail::semaphore_core<Wait, std::uint32_t> core_;
};

using bounded_semaphore = basic_bounded_semaphore<park>;

// Python's `with semaphore:`: acquires in the constructor, releases in the destructor. Works with
// every atomkit semaphore (and any type with acquire() and release()).
template <class S>
class [[nodiscard]] semaphore_guard {
 public:
  explicit semaphore_guard(S& s) : s_(s) { s_.acquire(); }
  // Releasing the unit acquired above throws only if the caller over-released meanwhile (a bug
  // the release reports); from a destructor that ends the program (std::terminate).
  ~semaphore_guard() { s_.release(); }  // NOLINT(bugprone-exception-escape): see above
  semaphore_guard(const semaphore_guard&) = delete;
  semaphore_guard& operator=(const semaphore_guard&) = delete;
  semaphore_guard(semaphore_guard&&) = delete;
  semaphore_guard& operator=(semaphore_guard&&) = delete;

 private:
  S& s_;
};

}  // namespace atomkit
