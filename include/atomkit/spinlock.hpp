// atomkit/spinlock.hpp: a test-and-test-and-set lock with backoff.
//
// Progress: lock blocks (spins with backoff, then sleeps for `park` or yields for `busy`);
// try_lock and unlock are wait-free; try_lock_for/until block at most until the deadline.
// Not FIFO: a releasing thread or a spinning one may take the lock before a sleeper it woke.
//
// Misuse it detects: unlock of a lock that is not held (std::system_error, operation_not_permitted).
// It records no owner, so an unlock by a thread other than the holder is not detected.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/tsan.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace atomkit {

template <class Wait = park>
class basic_spinlock {
 public:
  constexpr basic_spinlock() noexcept {
    if (!std::is_constant_evaluated()) detail::tsan::mutex_create(this, 0);
  }
  ~basic_spinlock() { detail::tsan::mutex_destroy(this); }
  basic_spinlock(const basic_spinlock&) = delete;
  basic_spinlock& operator=(const basic_spinlock&) = delete;
  basic_spinlock(basic_spinlock&&) = delete;
  basic_spinlock& operator=(basic_spinlock&&) = delete;

  void lock() noexcept {
    detail::tsan::pre_lock(this, 0);
    // acquire: pairs with the release store in unlock(), so the last holder's writes are visible.
    if (ATOMKIT_UNLIKELY(word_.exchange(held, std::memory_order_acquire) != free)) {
      lock_slow(detail::deadline::never());
    }
    detail::tsan::post_lock(this, 0);
  }

  bool try_lock() noexcept {
    detail::tsan::pre_lock(this, detail::tsan::try_lock);
    const bool ok = try_acquire();
    detail::tsan::post_lock(this, ok ? detail::tsan::try_lock
                                     : detail::tsan::try_lock | detail::tsan::try_lock_failed);
    return ok;
  }

  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) noexcept {
    return try_lock_timed(detail::deadline::after(d));
  }
  template <class Clock, class Duration>
  bool try_lock_until(const std::chrono::time_point<Clock, Duration>& tp) noexcept {
    return try_lock_timed(detail::deadline::at(tp));
  }

  void unlock() {
    // relaxed: a check on our own line for the single-thread misuse "unlock while free".
    if (ATOMKIT_UNLIKELY(word_.load(std::memory_order_relaxed) == free)) {
      detail::misuse("spinlock", "unlock() of a lock that is not held");
    }
    detail::tsan::pre_unlock(this, 0);
    // release: pairs with the acquire exchange in lock()/try_lock(): publishes the critical section.
    word_.store(free, std::memory_order_release);
    detail::notify_one_pending<Wait>(generation_, sleepers_);
    detail::tsan::post_unlock(this, 0);
  }

  // A snapshot, for tests and diagnostics.
  [[nodiscard]] bool is_locked() const noexcept {
    return word_.load(std::memory_order_relaxed) != free;  // relaxed: a snapshot only
  }

 private:
  static constexpr std::uint32_t free = 0;
  static constexpr std::uint32_t held = 1;

  bool try_acquire() noexcept {
    // relaxed test first: a failed try_lock does not take the line exclusive.
    // acquire exchange: pairs with the release store in unlock().
    return word_.load(std::memory_order_relaxed) == free &&
           word_.exchange(held, std::memory_order_acquire) == free;
  }

  bool acquire_until(const detail::deadline& dl) noexcept {
    return detail::await<Wait>(
        generation_, sleepers_,
        [this] {
          // seq_cst: read before the lock word, ordered against notify_one_pending's claim and
          // bump (see there); it also pairs with the bump as an acquire.
          const std::uint32_t gen = generation_.load(std::memory_order_seq_cst);
          return try_acquire() ? detail::attempt::success() : detail::attempt::retry(gen);
        },
        dl);
  }

  ATOMKIT_NOINLINE void lock_slow(const detail::deadline& dl) noexcept { acquire_until(dl); }

  bool try_lock_timed(const detail::deadline& dl) noexcept {
    detail::tsan::pre_lock(this, detail::tsan::try_lock);
    const bool ok = try_acquire() || acquire_until(dl);
    detail::tsan::post_lock(this, ok ? detail::tsan::try_lock
                                     : detail::tsan::try_lock | detail::tsan::try_lock_failed);
    return ok;
  }

  detail::atomic<std::uint32_t> word_{free};      // free or held
  detail::atomic<std::uint32_t> sleepers_{0};     // waiters asleep (park only) + wake_pending
  detail::atomic<std::uint32_t> generation_{0};   // the futex word the sleepers wait on
};

using spinlock = basic_spinlock<park>;
using busy_spinlock = basic_spinlock<busy>;

}  // namespace atomkit
