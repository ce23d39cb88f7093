// atomkit/spinlock.hpp: a test-and-test-and-set lock with backoff.
//
// Usage: atomkit::spinlock m; { std::scoped_lock g(m); ++counter; }
// Reference: docs/locks.md
//
// Progress: lock blocks (spins with backoff, then sleeps for `park` or yields for `busy`);
// try_lock and unlock are wait-free; try_lock_for/until block at most until the deadline.
// Not FIFO: a releasing thread or a spinning one may take the lock before a sleeper it woke.
//
// Misuse it detects: unlock of a lock that is not held (std::system_error, operation_not_permitted).
// It records no owner, so an unlock by a thread other than the holder is not detected.
//
// Between processes: ipc::spinlock (basic_spinlock<process_shared>, ipc.hpp) in shared memory.
// A `park` or `busy` spinlock placed in memory shared between processes is the caller's bug (a
// private futex wake never reaches another process; docs/ipc.md). A holder that dies leaves the
// lock held; try_lock_for/until still return by their deadline.
#pragma once

#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/lock_order_hook.hpp>
#include <atomkit/detail/lock_word.hpp>
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
  ~basic_spinlock() {
    detail::on_destroy(this);
    detail::tsan::mutex_destroy(this);
  }
  basic_spinlock(const basic_spinlock&) = delete;
  basic_spinlock& operator=(const basic_spinlock&) = delete;
  basic_spinlock(basic_spinlock&&) = delete;
  basic_spinlock& operator=(basic_spinlock&&) = delete;

  void lock() noexcept {
    detail::on_acquire(this);  // before blocking: an inversion is reported before it can hang
    detail::tsan::pre_lock(this, 0);
    word_.lock();
    detail::tsan::post_lock(this, 0);
  }

  bool try_lock() noexcept {
    const bool ok = detail::tsan::try_lock_bracket(this, [this] { return word_.try_lock(); });
    if (ok) detail::on_acquire(this);
    return ok;
  }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_lock, try_lock_timed, noexcept)

  void unlock() {
    // A check on our own line for the single-thread misuse "unlock while free".
    if (ATOMKIT_UNLIKELY(!word_.is_locked())) {
      detail::misuse("spinlock", "unlock() of a lock that is not held");
    }
    detail::on_release(this);
    detail::tsan::pre_unlock(this, 0);
    word_.unlock();
    detail::tsan::post_unlock(this, 0);
  }

  // A snapshot, for tests and diagnostics.
  [[nodiscard]] bool is_locked() const noexcept { return word_.is_locked(); }

 private:
  bool try_lock_timed(const detail::deadline& dl) noexcept {
    const bool ok = detail::tsan::try_lock_bracket(this, [&] { return word_.try_lock_until(dl); });
    if (ok) detail::on_acquire(this);
    return ok;
  }

  detail::lock_word<Wait> word_;
};

using spinlock = basic_spinlock<park>;
using busy_spinlock = basic_spinlock<busy>;

}  // namespace atomkit
