// atomkit: the test-and-test-and-set lock word behind spinlock (which adds the TSan annotations
// and the misuse check) and seqlock's writer lock. One 32-bit word (free or held), and a wake-up
// generation its sleepers wait on, released with at most one wake-up in flight
// (detail::notify_one_pending, where the argument why no sleeper is stranded lives).
//
// Progress: lock blocks; try_lock and unlock are wait-free (unlock may make one futex call when a
// waiter sleeps); try_lock_until blocks at most until the deadline. Not FIFO.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <cstdint>

namespace atomkit::detail {

template <class Wait>
class lock_word {
 public:
  constexpr lock_word() noexcept = default;
  lock_word(const lock_word&) = delete;
  lock_word& operator=(const lock_word&) = delete;

  void lock() noexcept {
    // acquire: pairs with the release store in unlock(), so the last holder's writes are visible.
    if (ATOMKIT_UNLIKELY(word_.exchange(held, std::memory_order_acquire) != free)) {
      lock_slow(deadline::never());
    }
  }

  bool try_lock() noexcept {
    // relaxed test first: a failed try_lock does not take the line exclusive.
    // acquire exchange: pairs with the release store in unlock().
    return word_.load(std::memory_order_relaxed) == free &&
           word_.exchange(held, std::memory_order_acquire) == free;
  }

  bool try_lock_until(const deadline& dl) noexcept { return try_lock() || acquire_until(dl); }

  void unlock() noexcept {
    // release: pairs with the acquire exchange in lock()/try_lock(): publishes the critical
    // section.
    word_.store(free, std::memory_order_release);
    notify_one_pending<Wait>(generation_, sleepers_, sharing_of<Wait>);
  }

  // A snapshot.
  [[nodiscard]] bool is_locked() const noexcept {
    return word_.load(std::memory_order_relaxed) != free;  // relaxed: a snapshot only
  }

 private:
  static constexpr std::uint32_t free = 0;
  static constexpr std::uint32_t held = 1;

  bool acquire_until(const deadline& dl) noexcept {
    return await<Wait>(
        generation_, sleepers_,
        [this] {
          // seq_cst: read before the lock word, ordered against notify_one_pending's claim and
          // bump (see there); it also pairs with the bump as an acquire.
          const std::uint32_t gen = generation_.load(std::memory_order_seq_cst);
          return try_lock() ? attempt::success() : attempt::retry(gen);
        },
        dl, sharing_of<Wait>);
  }

  ATOMKIT_NOINLINE void lock_slow(const deadline& dl) noexcept { acquire_until(dl); }

  atomic<std::uint32_t> word_{free};     // free or held
  atomic<std::uint32_t> sleepers_{0};    // waiters asleep (park only) + wake_pending
  atomic<std::uint32_t> generation_{0};  // the futex word the sleepers wait on
};

}  // namespace atomkit::detail
